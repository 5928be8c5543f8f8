"""How many threads each phase of a world should run on, measured rather than assumed.

Every parallel region wakes the sleeping workers (``OMP_WAIT_POLICY=PASSIVE``, the
default here), and what a wake costs belongs to the machine: 9-44 us on the Zen 3 VM
this project started on, about 50 us on the Zen 5 VM of 2026-11-27, where a
3,000-agent tick ran 0.42 ms on 1 thread and 0.63 ms on 2, delivery (then four
regions) taking 51 us on one thread and 265 us on two while act, one region, gained. The
phase's share of the work decides the rest. So a world whose ``Config.threads`` is None
and that has at most :data:`PROBE_MAX_AGENTS` agents runs a short probe of its own
configuration (paced like it, so idle workers fall asleep between ticks as they will):
batches of ticks alternating 1 thread and every core, then a plan that runs each phase
on the count that was faster for it by a clear margin (5 % and 2 us; the world's count
where neither was), kept only if its ticks are faster at the 90th percentile than the
better uniform count's in a second alternation. The choice and its figures are reported
(``World.threads_choice``, ``Report.threads_choice``); ``Config.threads`` overrides it
with one count for every phase. Results never depend on the plan: chunks are fixed
sizes, never derived from the thread count.
"""

from __future__ import annotations

import functools
import time

import numpy as np

from . import runtime
from .errors import DodSimError

__all__ = ["choose_threads", "model_threads", "PROBE_TICKS", "PROBE_MAX_AGENTS"]

PROBE_TICKS = 12  # ticks per plan in each of the probe's (at most two) comparisons
PROBE_MAX_AGENTS = 100_000  # beyond this every phase (or model) has work for every core
_PROBE_BATCH = 4  # ticks per batch; plans alternate batch by batch
_PROBE_PERIOD_MS = 20.0  # long enough for idle workers to fall asleep, short to wait
_MIN_GAIN, _MIN_GAIN_MS = 0.05, 0.002  # a clear margin: 5 % of a phase's time and 2 us
_MODEL_BATCH_ROWS = 20_000  # agent-steps a model probe batch: about 0.1-1 ms
_MODEL_ROUNDS = 3


def choose_threads(config, world_class) -> tuple[int, dict]:
    """(threads, how) for a world of ``config``; ``how`` says what decided it and, when
    some phases run on fewer threads than the world, names them in ``phase_threads``.

    world_class : what the probe builds (``world_class(config)``, with ``run``,
    ``schedule``, ``threads`` and ``phase_threads``): the caller's own class, so this
    service imports no world."""
    cores = runtime.default_threads()
    if config.threads is not None:
        n = runtime.resolve_threads(config.threads)
        return n, {"threads": n, "how": "set by config"}
    if cores == 1:
        return 1, {"threads": 1, "how": "one core"}
    if config.agents > PROBE_MAX_AGENTS:
        return cores, {"threads": cores, "how": f"every core (more than {PROBE_MAX_AGENTS} agents)"}
    try:
        return _probe(config, cores, world_class)
    except (DodSimError, RuntimeError) as e:
        return _stopped(cores, e)


def _stopped(cores, e) -> tuple[int, dict]:
    """Every core, when a probe's own run failed: the world's run will raise it."""
    return cores, {"threads": cores, "how": f"every core (the probe stopped: {type(e).__name__})"}


@functools.lru_cache(maxsize=32)
def _probe(config, cores, world_class) -> tuple[int, dict]:
    """Measure 1 thread, ``cores`` threads and the per-phase plan on a world of
    ``config`` (paced at up to 20 ms when ``config`` is paced)."""
    period = min(_PROBE_PERIOD_MS, config.tick_ms) if config.tick_ms > 0 else 0.0
    w = world_class(config.replace(threads=cores, tick_ms=period))
    w.run(2)  # load every kernel and touch the pages before timing
    names = [p.name for p in w.schedule]
    uniform = {"1": dict.fromkeys(names, 1), str(cores): dict.fromkeys(names, cores)}
    ticks, phases = _alternate(w, uniform)
    med = {k: np.median(v, axis=0) for k, v in phases.items()}
    # A count wins a phase only by a clear margin: a serial phase (end) measures the
    # same either way, and each switch of the thread count costs about 1 us. The others
    # run on the world's count: every core if any phase gains from it, else one.
    gain = med["1"] - med[str(cores)]
    margin = np.maximum(_MIN_GAIN * med["1"], _MIN_GAIN_MS)
    top = cores if (gain > margin).any() else 1
    mixed = {n: cores if gain[j] > margin[j] else 1 if gain[j] < -margin[j] else top
             for j, n in enumerate(names)}
    p90 = {k: float(np.percentile(v, 90)) for k, v in ticks.items()}
    best = min(p90, key=lambda k: (p90[k], int(k)))
    how = {"how": "measured: probe, lowest p90 tick",
           "probe_p90_ms": dict(p90),
           "probe_phase_ms": {k: dict(zip(names, np.round(v, 4).tolist())) for k, v in med.items()}}
    if mixed not in uniform.values():
        # against the better uniform plan, alternating again: the machine drifts
        again, _ = _alternate(w, {best: uniform[best], "per phase": mixed})
        p90_best = float(np.percentile(again[best], 90))
        p90_mixed = float(np.percentile(again["per phase"], 90))
        how["probe_p90_ms"]["per phase"] = p90_mixed
        if p90_mixed < p90_best:
            return cores, {"threads": cores, **how,
                           "phase_threads": {n: k for n, k in mixed.items() if k != cores}}
    n = int(best)
    return n, {"threads": n, **how}


def _alternate(world, plans: dict) -> tuple[dict, dict]:
    """Run ``world`` in batches under each plan in turn ({name: {phase: threads}}),
    :data:`PROBE_TICKS` ticks a plan. Returns ({name: tick ms}, {name: phase
    ms per tick, shape (ticks, phases)})."""
    ticks = {k: [] for k in plans}
    phases = {k: [] for k in plans}
    for _ in range(PROBE_TICKS // _PROBE_BATCH):
        for k, plan in plans.items():
            world.threads = max(plan.values())
            world.phase_threads = plan
            r = world.run(_PROBE_BATCH)
            ticks[k].append(r.tick_ns / 1e6)
            phases[k].append(r.phase_ns / 1e6)
    return ({k: np.concatenate(v) for k, v in ticks.items()},
            {k: np.concatenate(v) for k, v in phases.items()})


def model_threads(make, agents, cores) -> tuple[int, dict]:
    """(threads, how) for a model's world of ``agents`` rows: the lower median step time
    of 1 thread and of ``cores`` threads, measured on a world of its own,
    ``make(threads)`` (with ``run(steps, stats=False)`` and ``threads``), in batches
    alternating the two (a model's step is one compiled call, so the count is one for
    the whole step, not per system). Every parallel loop of a step wakes the sleeping
    workers (about 50 us each on the Zen 5 VM): at 10,000 agents Schelling stepped
    faster on 1 thread and boids on 2, and wealth was within 6 % either way. Results
    never depend on the thread count."""
    try:
        w = make(cores)
        steps = max(2, -(-_MODEL_BATCH_ROWS // agents))
        w.run(2, stats=False)
        per_step = {1: [], cores: []}
        for _ in range(_MODEL_ROUNDS):
            for k in per_step:
                w.threads = k
                t = time.perf_counter()
                w.run(steps, stats=False)
                per_step[k].append((time.perf_counter() - t) / steps)
    except (DodSimError, RuntimeError) as e:
        return _stopped(cores, e)
    med = {k: float(np.median(v)) for k, v in per_step.items()}
    best = 1 if med[1] <= med[cores] else cores
    return best, {"threads": best, "how": "measured: probe, lower median step",
                  "probe_step_ms": {str(k): v * 1e3 for k, v in med.items()}}
