"""Which thread count a paced world should tick with, measured rather than assumed.

The threading layer's wait policy is fixed per process. With workers that sleep
between ticks (``OMP_WAIT_POLICY=PASSIVE``, the default here) a paced tick pays for
waking them: measured on this 2-core VM, a 3,000-agent world paced at 50 ms ticks in
~11 ms on 2 threads and ~2 ms on 1. Unpaced, the workers stay warm and every core pays.
So an unpaced world takes every core, and a paced one (``tick_ms > 0``, ``threads``
left None) runs a short paced probe of its own configuration on 1 thread and on every
core and keeps the faster at the 90th percentile. The choice and its measurements are
reported (``World.threads_choice``, ``Report.threads_choice``); ``Config.threads``
overrides it.
"""

from __future__ import annotations

import functools

import numpy as np

from . import runtime

__all__ = ["choose_threads", "PROBE_TICKS", "PROBE_MAX_AGENTS"]

PROBE_TICKS = 12
PROBE_MAX_AGENTS = 100_000  # beyond this one thread cannot keep a useful pace anyway
_PROBE_PERIOD_MS = 20.0  # long enough for idle workers to fall asleep, short to wait


def choose_threads(config) -> tuple[int, dict]:
    """(threads, how) for a world of ``config``; ``how`` says what decided it."""
    cores = runtime.default_threads()
    if config.threads is not None:
        n = runtime.resolve_threads(config.threads)
        return n, {"threads": n, "how": "set by config"}
    if config.tick_ms <= 0 or cores == 1:
        return cores, {"threads": cores, "how": "every core (unpaced)" if cores > 1 else "one core"}
    if config.agents > PROBE_MAX_AGENTS:
        return cores, {"threads": cores, "how": f"every core (more than {PROBE_MAX_AGENTS} agents)"}
    p90 = _probe(config.replace(threads=None, tick_ms=0.0), cores)
    best = min(p90, key=lambda k: (p90[k], k))
    return best, {"threads": best, "how": "measured: paced probe, lowest p90 tick",
                  "probe_p90_ms": {str(k): v for k, v in p90.items()}}


@functools.lru_cache(maxsize=32)
def _probe(config, cores) -> dict:
    """p90 tick ms of ``config`` paced at 20 ms on 1 thread and on ``cores`` threads."""
    from .world import World

    period = min(_PROBE_PERIOD_MS, config.tick_ms or _PROBE_PERIOD_MS)
    out = {}
    for k in sorted({1, cores}):
        w = World(config.replace(threads=k, tick_ms=period))
        w.run(2)  # load every kernel and touch the pages before timing
        out[k] = float(np.percentile(w.run(PROBE_TICKS).tick_ns, 90) / 1e6)
    return out
