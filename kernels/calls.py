"""Calling a compiled function by its address, so that it stays its own compile unit.

A Numba function that calls another compiled function links the callee's module into
its own and optimises the whole again: the tileworld's phases, called from a model's
generated tick, compiled a second time (72 s cold, against 35 s for the phases alone).
:func:`call` instead jumps to the entry point of an overload that is already compiled
(and cached) on its own, passed in at run time as an integer (:func:`address`): the
caller's machine code holds an indirect call and nothing of the callee.
"""

from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

__all__ = ["call", "address"]


@intrinsic
def call(typingctx, addr, args):
    """``call(addr, (a, b, ...)) -> int64``: the compiled function at ``addr`` (Numba's
    calling convention, taking ``args``' types, returning int64) applied to ``args``.
    An exception it raises propagates to the caller."""
    if not isinstance(args, types.BaseTuple):
        return None
    argtys = tuple(args.types)
    sig = types.int64(types.intp, args)

    def codegen(context, builder, signature, llargs):
        addr_v, tup = llargs
        values = cgutils.unpack_tuple(builder, tup, len(argtys))
        fnty = context.call_conv.get_function_type(types.int64, argtys)
        fn = builder.inttoptr(addr_v, fnty.as_pointer())
        status, res = context.call_conv.call_function(builder, fn, types.int64, argtys,
                                                      values)
        with cgutils.if_unlikely(builder, status.is_error):
            context.call_conv.return_status_propagate(builder, status)
        return res

    return sig, codegen


def address(dispatcher, argtypes: tuple) -> int:
    """The entry point of ``dispatcher`` compiled for ``argtypes`` (Numba types),
    compiled now or loaded from the cache if it was not yet. The dispatcher keeps the
    code alive for the life of the process."""
    if argtypes not in dispatcher.overloads:
        dispatcher.compile(argtypes)
    cres = dispatcher.overloads[argtypes]
    # a constant return (`return OK`) is typed Literal[int]: an int64 in machine code
    if types.unliteral(cres.signature.return_type) != types.int64:
        raise TypeError(f"{dispatcher.__name__} returns {cres.signature.return_type}, "
                        f"not int64: it cannot be called by address here")
    return cres.library.get_pointer_to_function(cres.fndesc.llvm_func_name)
