"""Software prefetch: ask for a cache line before a loop needs it.

A loop over agents reads some arrays at random rows: the cost grid at the agent's cell,
the outgoing record of a sender. Each such load misses the caches, and the work between
two of them (a sincos, a hash) is too long for the CPU to run ahead to the next one, so
the misses are taken one at a time. ``prefetch(a, i)`` (``llvm.prefetch``, a hint that
never faults and never changes a value) issued a few rows ahead lets those misses
overlap with the work instead.
"""

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic
from numba.np.arrayobj import make_array

__all__ = ["prefetch"]


@intrinsic
def prefetch(typingctx, arr, index):
    """``prefetch(a, i)``: hint that element ``i`` of the C-contiguous array ``a``
    (flat, in elements: ``row * a.shape[1] + col`` for a 2-D array) is read soon.

    Nothing is checked: an address outside the array is harmless (a prefetch never
    faults), but it wastes a memory access, so callers pass indices they would read.
    """
    if not (isinstance(arr, types.Array) and arr.layout == "C"
            and isinstance(index, types.Integer)):
        return None

    def codegen(context, builder, sig, args):
        ary = make_array(sig.args[0])(context, builder, args[0])
        idx = context.cast(builder, args[1], sig.args[1], types.intp)
        ptr = builder.gep(ary.data, [idx])
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0")
        # read (0), keep in all cache levels (locality 3), data cache (1)
        builder.call(fn, [builder.bitcast(ptr, i8p), i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return types.none(arr, index), codegen
