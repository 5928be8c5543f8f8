"""Borrowed arrays: views that a sequential kernel hands to small helpers with no
reference counting.

Every call of a compiled function that takes an array increments and decrements the
array's reference count, an atomic operation each way, and Numba's pass that removes
such pairs gives up on helpers with branches. A :class:`~dod_sim.kernels.cells.CellList`
is five arrays: in a loop of moves, one ``move`` cost 67 ns against 7.5 ns for the same
lines written into the loop (znver3, 2026-12-08; asv ``bench_cells``: 9.6x owned over
borrowed).
:func:`borrow` returns the same array (or tuple of arrays, recursively) with no owner
(a null meminfo), so those counts become no-ops; with helpers inlined at Numba's IR
level (:func:`~dod_sim.kernels._jit.inline`) a move costs what its lines cost.

A borrowed view must not outlive the call that borrowed it: take it at the top of a
kernel from the arguments the kernel was given (which keep the memory alive until the
kernel returns), pass it down, never return or store it. In a model's debug mode
(:mod:`dod_sim.debug`) it is the identity.
"""

from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

__all__ = ["borrow"]


def _borrowed(context, builder, typ, value):
    if isinstance(typ, types.Array):
        arr = context.make_array(typ)(context, builder, value)
        arr.meminfo = cgutils.get_null_value(arr.meminfo.type)
        arr.parent = cgutils.get_null_value(arr.parent.type)
        return arr._getvalue()
    if isinstance(typ, types.BaseTuple):
        for k, t in enumerate(typ.types):
            item = builder.extract_value(value, k)
            value = builder.insert_value(value, _borrowed(context, builder, t, item), k)
    return value


# An intrinsic, not an overload: compiling an overload's wrapper for a model's tuple of
# tables added ~1 s to Sugarscape's cold compile; and inlined at Numba's IR level
# (inline="always"), writes through a rebound argument were lost (Numba 0.68;
# tests/test_borrow.py).
@intrinsic
def borrow(typingctx, x):
    """``x`` (an array, or a tuple or named tuple of arrays and scalars) as views that
    own nothing (module docstring)."""

    def codegen(context, builder, sig, args):
        return _borrowed(context, builder, sig.args[0], args[0])

    return x(x), codegen
