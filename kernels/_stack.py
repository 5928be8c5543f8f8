"""Fixed-size scratch arrays on the native stack, so that per-row kernels need no heap.

``np.empty`` inside a kernel is an NRT allocation (counted by ``NUMBA_NRT_STATS``); a
hash of one 48-byte message must not pay one. ``stack_empty(16, np.uint64)`` returns a
1-D C-contiguous array backed by an ``alloca`` in the function's entry block, with no
meminfo: it lives until the enclosing compiled function returns and must never be
returned or stored.
"""

from numba import types
from numba.core import cgutils
from numba.extending import intrinsic
from numba.np.arrayobj import make_array, populate_array

__all__ = ["stack_empty", "stack_empty2"]


def _alloca_array(context, builder, el, count):
    arrty = types.Array(el, 1, "C")
    elty = context.get_data_type(el)
    ptr = cgutils.alloca_once(builder, elty, size=count)
    itemsize = context.get_abi_sizeof(elty)
    ary = make_array(arrty)(context, builder)
    intp = lambda v: context.get_constant(types.intp, v)  # noqa: E731
    populate_array(
        ary,
        data=ptr,
        shape=cgutils.pack_array(builder, [intp(count)]),
        strides=cgutils.pack_array(builder, [intp(itemsize)]),
        itemsize=intp(itemsize),
        meminfo=None,
    )
    return ary._getvalue()


@intrinsic
def stack_empty(typingctx, n, dtype):
    """``stack_empty(n, dtype)``: n must be an integer literal, dtype a numpy scalar type."""
    if not isinstance(n, types.IntegerLiteral) or not isinstance(dtype, types.NumberClass):
        return None
    el = dtype.instance_type

    def codegen(context, builder, sig, args):
        return _alloca_array(context, builder, el, n.literal_value)

    return types.Array(el, 1, "C")(n, dtype), codegen


@intrinsic
def stack_empty2(typingctx, words, lanes, dtype):
    """``stack_empty2(words, lanes, dtype)``: ``stack_empty(words * lanes, dtype)`` for
    integer literals whose product Numba does not see as a literal."""
    if not (isinstance(words, types.IntegerLiteral) and isinstance(lanes, types.IntegerLiteral)
            and isinstance(dtype, types.NumberClass)):
        return None
    el = dtype.instance_type
    count = words.literal_value * lanes.literal_value

    def codegen(context, builder, sig, args):
        return _alloca_array(context, builder, el, count)

    return types.Array(el, 1, "C")(words, lanes, dtype), codegen
