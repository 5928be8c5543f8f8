"""Time inside compiled code: the CPU's cycle counter and per-worker busy time.

``cycles()`` is ``llvm.readcyclecounter`` (RDTSC on x86: constant rate, ~20 ns, no
system call), so a parallel pass can time each of its chunks without leaving native
code. ``busy_add`` charges the cycles since ``t0`` to the worker thread running the
chunk, in ``busy : int64[threads * BUSY_STRIDE]``; the stride keeps each worker's
counter on its own 64-byte cache line. :func:`dod_sim.report.cycles_per_ns` converts.
"""

import numba
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from ._jit import inline, kernel

__all__ = ["cycles", "now", "busy_add", "BUSY_STRIDE"]

BUSY_STRIDE = 8  # int64 words per worker: one cache line each


@intrinsic
def cycles(typingctx):
    """int64: the CPU's cycle counter now."""

    def codegen(context, builder, signature, args):
        fnty = ir.FunctionType(ir.IntType(64), [])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.readcyclecounter")
        return builder.call(fn, [])

    return types.int64(), codegen


@kernel
def now():
    """The cycle counter, callable from Python (to calibrate its rate)."""
    return cycles()


@inline
def busy_add(busy, t0):
    """Add the cycles since ``t0`` to this worker's slot of ``busy``."""
    busy[numba.get_thread_id() * BUSY_STRIDE] += cycles() - t0
