"""Threads, in one place: the threading layer, the thread count, CPU facts.

``numba.set_num_threads`` is per calling thread, so a world applies its thread count
around every call it makes (:func:`threads`), in whatever Python thread runs it.
The threading layer (tbb, omp or workqueue) and its wait policy are fixed per process
before the first parallel kernel runs; :func:`info` reports what was chosen.
"""

from __future__ import annotations

import contextlib
import functools
import os
import platform
import sys
import time

# How idle OpenMP workers wait between parallel regions, fixed when the threading layer
# starts. Measured on this project's 2-core VMs (launch of an empty prange): on Zen 3,
# libgomp's default (spin, then sleep) 45-58 us, PASSIVE 11 us, ACTIVE 3 us; on Zen 5,
# PASSIVE 46-58 us and a spinning worker 1.3 us, but spinning (GOMP_SPINCOUNT=10000)
# made a 3,000-agent tick paced at 20-50 ms take 3.6-3.8 ms instead of 0.7 (each
# region ~0.5 ms: a vCPU that spins right after idling is stalled by the hypervisor),
# and ACTIVE keeps every idle worker at 100 % CPU, in a notebook too. So PASSIVE is
# the default here, and dod_sim.pacing runs a phase on fewer threads where a wake costs
# more than it gives back; any value the user set before importing dod_sim wins
# (OMP_WAIT_POLICY=ACTIVE for the lowest latency when the cores are otherwise idle).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numba  # noqa: E402  (after the wait policy: libgomp reads it once, at start)

# Start the threading layer now, before any kernel is loaded from the cache. A cached
# kernel that calls a parallel kernel links against the layer's symbols
# (allocate_sched), and Numba starts the layer on load only for cache entries that
# carry their own parfors: an entry compiled in a process that loaded its parallel
# callee from the cache does not, and calling it first in a new process crashed it
# (a segfault or "LLVM ERROR: Symbol not found: allocate_sched"; tests/test_kernel_cache.py).
numba.get_num_threads()

__all__ = ["default_threads", "max_threads", "threads", "resolve_threads", "info", "cpu",
           "cycles_per_ns", "nrt_allocations", "heap_blocks", "provenance"]


def max_threads() -> int:
    """The most threads a world may use in this process (``NUMBA_NUM_THREADS``)."""
    return numba.config.NUMBA_NUM_THREADS


def default_threads() -> int:
    """Every core this process may run on, capped by ``NUMBA_NUM_THREADS``."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        n = os.cpu_count() or 1
    return max(1, min(n, max_threads()))


def resolve_threads(requested: int | None) -> int:
    """The thread count a world runs with: ``requested``, or every core when None."""
    from .errors import ConfigError

    if requested is None:
        return default_threads()
    if not 1 <= requested <= max_threads():
        raise ConfigError(
            f"threads={requested} must be in [1, {max_threads()}] "
            f"(NUMBA_NUM_THREADS={max_threads()})",
            field="threads", value=requested, bound=(1, max_threads()),
        )
    return requested


@contextlib.contextmanager
def threads(n: int):
    """Run the block with ``n`` Numba threads in this Python thread; restore after."""
    old = numba.get_num_threads()
    numba.set_num_threads(n)
    try:
        yield n
    finally:
        numba.set_num_threads(old)


class Interrupts:
    """What :func:`deferred_interrupts` saw: ``pending`` once a SIGINT arrived."""

    pending = False


@contextlib.contextmanager
def deferred_interrupts():
    """Within the block a SIGINT (Ctrl-C) sets ``pending`` on the yielded object instead
    of raising KeyboardInterrupt at whatever bytecode runs, so a run can stop at the end
    of the tick or compiled batch in progress, with its state whole; leaving the block
    raises the KeyboardInterrupt. Only in the main thread and only while SIGINT has
    Python's default handler (a program's own handler is left alone)."""
    import signal
    import threading

    seen = Interrupts()
    if threading.current_thread() is not threading.main_thread() \
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield seen
        return

    def note(signum, frame):
        seen.pending = True

    signal.signal(signal.SIGINT, note)
    try:
        yield seen
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if seen.pending:
        raise KeyboardInterrupt


def cpu() -> dict:
    """CPU model, microarchitecture, the vector features and the BLAKE2b lanes they
    choose (``kernels.blake2b_lanes.describe_cpu``), and the cores this process may use."""
    from .kernels.blake2b_lanes import describe_cpu

    d = describe_cpu()
    return {"model": d["model"], "arch": d["arch"], "vector_flags": d["flags"],
            "hash_lanes": d["lanes"], "cores": default_threads()}


def info() -> dict:
    """Threading facts for reports: layer, thread limits, CPU."""
    try:
        layer = numba.threading_layer()
    except ValueError:  # no parallel kernel has run yet
        layer = "not initialised"
    return {"threading_layer": layer, "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
            "max_threads": max_threads(), **cpu()}


@functools.lru_cache(maxsize=None)
def cycles_per_ns() -> float:
    """The cycle counter's rate (kernels.clock.cycles), measured once against
    ``time.perf_counter_ns`` over 20 ms."""
    from .kernels.clock import now

    now()
    c0, t0 = now(), time.perf_counter_ns()
    time.sleep(0.02)
    c1, t1 = now(), time.perf_counter_ns()
    return (c1 - c0) / (t1 - t0)


def nrt_allocations() -> int:
    """Heap allocations made by compiled code (Numba's NRT) so far in this process.

    NRT keeps these statistics only when asked (``NUMBA_NRT_STATS=1`` or this call,
    which switches them on: an atomic increment per allocation, and the tick makes
    none). Returns -1 where this Numba has no statistics.
    """
    try:
        from numba.core.runtime import _nrt_python as nrt

        if not nrt.memsys_stats_enabled():
            nrt.memsys_enable_stats()
        return int(nrt.memsys_get_stats_alloc())
    except (ImportError, AttributeError, RuntimeError):  # pragma: no cover - numba internals
        return -1


def heap_blocks() -> int:
    """Blocks held by Python's own allocator now (``sys.getallocatedblocks``).

    CPython's type-attribute cache keeps up to 4,096 recently looked-up names alive,
    and Numba's dispatcher looks ``_numba_type_`` up by a fresh string on each call
    with a structref argument; the cache is emptied first, so what is counted is held
    by someone's data, not by the interpreter's lookup cache.
    """
    sys._clear_type_cache()
    return sys.getallocatedblocks()


def provenance(config, threads: int, *, seed: int | None = None,
               config_digest: str | None = None) -> dict:
    """Where a figure came from: versions, CPU, threading, seed and a hash of the config
    (a tileworld ``Config``, or for a model ``config=None`` with its seed and digest)."""
    import llvmlite
    import numpy

    from . import __version__

    return {
        "dod_sim": __version__, "numba": numba.__version__, "numpy": numpy.__version__,
        "llvmlite": llvmlite.__version__, "python": platform.python_version(),
        **info(), "threads": threads,
        "seed": config.seed if config is not None else seed,
        "config_digest": config.digest() if config is not None else config_digest,
    }
