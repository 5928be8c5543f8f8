"""asv (airspeed velocity) benchmarks of dod_sim.

* ``bench_tick``    -- one tick of the tileworld by world size and thread count (1,
  every core, or "auto": the runtime's plan per phase), the throughput of a short run,
  resident memory.
* ``bench_auth``    -- MAC throughput of ``dod_sim.auth`` and its ratio to ``hashlib`` /
  ``hmac`` measured in the same process.
* ``bench_compile`` -- start-up of a new process with a warm kernel cache, and the cold
  compile.
* ``bench_seed``    -- the seed table's figures (paced tick p99, CPU, allocations/s,
  messages lost) as ``track_`` benchmarks.
* ``bench_parts``   -- the tile, delivery and arena phases on their own.
* ``bench_models``  -- the reference models (wealth, Schelling, boids) by size and thread
  count, and the ratio to Mesa's own examples at 1,000 agents (skipped in quick mode).
* ``bench_framework`` -- births and deaths at 5 % a tick, and data collection, against
  the same model without them.

Quick mode: with ``DOD_SIM_ASV_QUICK`` set (to anything but ``""``/``0``), worlds of
300,000 agents and more and the cold compile are skipped, the message workloads use
100,000 rows instead of 1,000,000 and the paced seed run is 200 ticks, not 1,200.
CI runs::

    DOD_SIM_ASV_QUICK=1 asv run --python=same --quick --show-stderr

The benchmark modules import dod_sim inside ``setup``, never at import time, so that
discovery is cheap, a skipped combination costs only an interpreter start, and a broken
module fails its own benchmarks instead of the whole suite.

Names here must not match asv's benchmark patterns (``time_``, ``track_``, ``mem_``,
``peakmem_``) or its attribute names (``setup``, ``params``, ``timeout``...): asv looks
them up on modules too.
"""

import os

QUICK_ENV = "DOD_SIM_ASV_QUICK"
THREADS = [1, "all"]  # "all": dod_sim.runtime.default_threads()


def quick_mode() -> bool:
    """True when ``DOD_SIM_ASV_QUICK`` is set to something other than ""/0/false/no."""
    return os.environ.get(QUICK_ENV, "").strip().lower() not in ("", "0", "false", "no")


def skip_in_quick_mode() -> None:
    """Raise NotImplementedError, which asv reports as "skipped" when setup raises it,
    in quick mode."""
    if quick_mode():
        raise NotImplementedError(f"skipped: {QUICK_ENV} is set")


def resolve_threads(threads) -> int:
    """A thread parameter as a count: "all" is every core (``runtime.default_threads``)."""
    if threads == "all":
        from dod_sim import runtime

        return runtime.default_threads()
    return int(threads)


class ThreadsInSetup:
    """Mixin: ``_enter_threads(n)`` in setup runs the benchmark under
    ``dod_sim.runtime.threads(n)``; teardown restores the previous count.

    asv runs teardown and setup again before every timed sample, so the context is
    entered and left once per sample, never nested.
    """

    _threads_ctx = None

    def _enter_threads(self, threads):
        from dod_sim import runtime

        self._threads_ctx = runtime.threads(resolve_threads(threads))
        self._threads_ctx.__enter__()

    def teardown(self, *_params):
        ctx, self._threads_ctx = self._threads_ctx, None
        if ctx is not None:
            ctx.__exit__(None, None, None)
