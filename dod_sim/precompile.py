"""Fill the on-disk kernel cache in several processes (``dod-sim warmup``).

Numba compiles one function at a time in a process, so a cold cache used one core
for the whole of it: ~85 s for the tick's kernels and ~125 s for the models on this
2-core machine. The tick's phases and the models are separate cache entries, so
worker processes compile them side by side into the same cache; the caller then
loads every one. Functions that two units call are compiled in both workers (each
process compiles its callees itself), which is why units are whole phases, not their
helpers.

Numba writes each cache file atomically, but adding an entry to a function's index is
read, pick a free data file name, write: two workers saving different signatures of
one function at once could both pick the same name, and the index would then point one
signature at the other's machine code. Workers therefore hold an exclusive lock on one
file around every save. The tileworld model calls World's phases by address, so it is
compiled after them, when it only loads them.
"""

from __future__ import annotations

import os
import tempfile
import time
from typing import Callable

from . import runtime
from .errors import ConfigError

__all__ = ["PHASES", "KERNELS", "MODELS", "GALLERY", "AFTER_PHASES", "COLD_SECONDS",
           "compile_unit", "compile_units", "tick_is_cold"]

PHASES = ("phase:act", "phase:tiles", "phase:deliver", "phase:init", "phase:setup",
          "phase:chaos", "phase:arena", "phase:end")
# The engine's kernels that models call (births and deaths, cell lists), compiled for
# the one Population and CellList type every model passes them: a model's first
# compile then links them from the cache (settle alone is ~1.5 s cold).
KERNELS = ("kernels:agents",)
MODELS = ("model:tileworld", "model:boids", "model:schelling", "model:wealth")
# The rest of Mesa's gallery (dod_sim.models): compiled on first use, or by
# ``dod-sim warmup --gallery``, so that a first warmup stays short.
GALLERY = ("model:game_of_life", "model:virus", "model:pd_grid", "model:civil_violence",
           "model:wolf_sheep", "model:sugarscape")
# Units that load the phases' compiled code (kernels.calls): compiled once they are.
AFTER_PHASES = frozenset({"model:tileworld"})
# Cold compile seconds of each unit alone, measured on this machine (phases
# 2026-11-27, phase:init with phase:tiles, which it calls, already cached, as in a
# warmup; the tileworld model with the phases cached; the other models 2026-12-08 on
# znver3, the engine's kernels and kernels:agents cached, a fresh model cache): units
# start longest first, so the last to start is a short one.
COLD_SECONDS = {"model:tileworld": 3, "phase:tiles": 25, "phase:act": 23, "phase:deliver": 15,
                "phase:init": 11, "model:sugarscape": 9, "model:boids": 8, "model:schelling": 8,
                "model:wolf_sheep": 7, "model:civil_violence": 6, "kernels:agents": 5,
                "model:wealth": 4, "model:pd_grid": 4, "model:game_of_life": 4, "model:virus": 3,
                "phase:setup": 4, "phase:arena": 3, "phase:chaos": 2, "phase:end": 0.3}


def compile_unit(unit: str) -> tuple[str, float]:
    """Compile (or load) one unit into the cache and return (unit, seconds).

    ``phase:<name>``: a phase of ``World``'s tick, or what World() runs before it
    (``phase:init``, ``phase:setup``); ``kernels:agents``: :data:`KERNELS`;
    ``model:<name>``: a model of ``dod_sim.models``, by building its first small world
    and running two steps."""
    t = time.perf_counter()
    kind, _, name = unit.partition(":")
    if kind == "phase":
        import numba

        from .kernels.tileworld import phases
        from .kernels.tileworld.state import state_type
        from .world import TICK

        s = state_type()
        if name == "init":
            phases.init_world.compile((s, numba.int64))
        elif name == "setup":  # what World() calls before init_world: key schedules, make
            from .config import Config
            from .kernels.tileworld.state import make
            from .tileworld.keys import world_keys
            from .world import TINY, allocate

            make(allocate(Config(**TINY), world_keys(0)))
        else:
            fns = {p.name: p.fn for p in TICK}
            if name not in fns:
                _unknown(unit, [f"phase:{n}" for n in (*fns, "init", "setup")])
            fns[name].compile((s,))
    elif unit == "kernels:agents":
        _compile_agent_kernels()
    elif kind == "model":
        from .models import MODELS as _MODELS
        from .models import tileworld

        models = {**_MODELS, "tileworld": tileworld}
        if name not in models:
            _unknown(unit, [f"model:{n}" for n in models])
        models[name].world(256, seed=1).run(2)
    else:
        _unknown(unit, PHASES + KERNELS + MODELS + GALLERY)
    return unit, time.perf_counter() - t


def _compile_agent_kernels():
    """The signatures that the generated modules and the gallery's systems call."""
    import numpy as np
    from numba import typeof, types

    from .kernels import cells
    from .kernels import population as P

    pop = typeof(P.population(np.zeros(1, np.uint8), np.zeros(1, np.int64), 0))
    cl = typeof(cells.cell_list(1, 1))
    i8 = types.int64
    for fn, sig in [(P.is_alive, (pop, i8)), (P.kill, (pop, i8)), (P.spawn, (pop,)),
                    (P.settle, (pop, i8, types.literal(True))),
                    (P.settle, (pop, i8, types.literal(False))),
                    (P.open_births, (pop, i8)), (P.close_births, (pop, i8)),
                    (P.shuffled, (pop, types.uint64, i8)),
                    (cells.insert, (cl, i8, i8)), (cells.remove, (cl, i8)),
                    (cells.move, (cl, i8, i8)), (cells.move, (cl, i8, types.literal(-1))),
                    (cells.first, (cl, i8)), (cells.after, (cl, i8))]:
        fn.compile(sig)


def _unknown(unit, known):
    raise ConfigError(f"unit={unit!r} is not one of {', '.join(sorted(known))}",
                      field="unit", value=unit, bound=tuple(sorted(known)))


def compile_units(units=PHASES + KERNELS + MODELS, jobs: int | None = None,
                  progress: Callable[[str, float], None] | None = None) -> dict:
    """Compile ``units`` in ``jobs`` worker processes (default: every core; 1 = in
    this process, one after the other), :data:`KERNELS` first, then the longest
    (``COLD_SECONDS``) first. Returns
    {unit: seconds} in completion order; ``progress(unit, seconds)`` is called as each
    finishes."""
    jobs = runtime.default_threads() if jobs is None else jobs
    if jobs < 1:
        raise ConfigError(f"jobs={jobs} must be at least 1", field="jobs", value=jobs, bound=1)
    # the agents' kernels first, so that the models after them load rather than compile them
    units = sorted(units, key=lambda u: (u not in KERNELS, -COLD_SECONDS.get(u, 0)))
    out = {}
    # the tileworld model calls the phases by address: it loads them, so it comes after
    late = [u for u in units if u in AFTER_PHASES]
    units = [u for u in units if u not in AFTER_PHASES]
    if jobs == 1 or len(units) <= 1:
        for unit in units + late:
            _done(out, progress, *compile_unit(unit))
        return out
    from joblib import Parallel, delayed
    from joblib.externals.loky import get_reusable_executor

    fd, lock = tempfile.mkstemp(prefix="dod_sim_cache_", suffix=".lock")
    os.close(fd)
    try:
        for unit, secs in Parallel(n_jobs=min(jobs, len(units)), backend="loky", batch_size=1,
                                   pre_dispatch="n_jobs", return_as="generator_unordered")(
                delayed(_locked_compile_unit)(u, lock) for u in units):
            _done(out, progress, unit, secs)
    finally:
        # the workers hold their compilers' memory: let them go now, not minutes later
        get_reusable_executor().shutdown(wait=True)
        os.remove(lock)
    for unit in late:  # a few seconds each, once the phases are in the cache
        _done(out, progress, *compile_unit(unit))
    return out


def _done(out, progress, unit, secs):
    out[unit] = secs
    if progress:
        progress(unit, secs)


def _locked_compile_unit(unit: str, lock: str) -> tuple[str, float]:
    """compile_unit in a worker, with every save into Numba's cache under ``lock``."""
    import fcntl

    from numba.core import caching

    save = caching.IndexDataCacheFile.save
    if getattr(save, "_dod_sim_lock", None) != lock:
        original = getattr(save, "_dod_sim_original", save)

        def locked_save(self, key, data):
            with open(lock, "a") as fh:
                fcntl.flock(fh, fcntl.LOCK_EX)  # released when fh closes
                return original(self, key, data)

        locked_save._dod_sim_lock = lock
        locked_save._dod_sim_original = original
        caching.IndexDataCacheFile.save = locked_save
    return compile_unit(unit)


def tick_is_cold() -> bool:
    """True when the on-disk cache holds no compiled act phase (the tick's largest
    kernel) for the current sources: the next World() would compile for a minute.
    Reads the cache's index file only; False when that cannot be told."""
    from .kernels.tileworld import phases

    try:
        return not phases.agents_act._cache._cache_file._load_index()
    except Exception:  # another Numba's cache layout; an unreadable or truncated index
        return False
