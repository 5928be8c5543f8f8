"""Bit casts between float32 and uint32 (the body of a SHARE message carries a float32)."""

from numba import types
from numba.extending import intrinsic

__all__ = ["f32_from_bits", "bits_from_f32"]


@intrinsic
def _bitcast_u32_f32(typingctx, v):
    if not isinstance(v, types.Integer):
        return None

    def codegen(context, builder, sig, args):
        u = builder.trunc(args[0], context.get_value_type(types.uint32)) if v.bitwidth > 32 else args[0]
        return builder.bitcast(u, context.get_value_type(types.float32))

    return types.float32(v), codegen


@intrinsic
def _bitcast_f32_u32(typingctx, v):
    if v != types.float32:
        return None

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], context.get_value_type(types.uint32))

    return types.uint32(v), codegen


f32_from_bits = _bitcast_u32_f32
bits_from_f32 = _bitcast_f32_u32
