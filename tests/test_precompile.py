"""dod_sim.precompile: kernels and models compiled in worker processes, loaded here."""

import os
import subprocess
import sys
import textwrap

import numba
import pytest

from dod_sim import Config, ConfigError, World, precompile
from dod_sim.kernels.tileworld.state import state_type


def test_state_type_is_the_type_of_every_world():
    # precompile compiles the phases for state_type(): a world must then load them
    for cfg in (Config(agents=64, side=64, tile_updates=4), Config(agents=10, capacity=300)):
        assert numba.typeof(World(cfg)._state) == state_type()


def test_bad_units_and_jobs_are_named():
    for unit in ("phase:nope", "model:nope", "kernel:act", "act"):
        with pytest.raises(ConfigError) as e:
            precompile.compile_unit(unit)
        assert e.value.field == "unit" and e.value.value == unit
        assert "phase:act" in str(e.value) or "model:boids" in str(e.value)
    with pytest.raises(ConfigError) as e:
        precompile.compile_units(["phase:end"], jobs=0)
    assert e.value.field == "jobs" and e.value.bound == 1


def test_units_are_the_tick_and_the_models():
    from dod_sim.models import MODELS
    from dod_sim.world import TICK

    phases = {u.split(":")[1] for u in precompile.PHASES}
    assert phases == {p.name for p in TICK} | {"init", "setup"}
    models = precompile.MODELS + precompile.GALLERY
    assert {u.split(":")[1] for u in models} == set(MODELS) | {"tileworld"}
    assert {u.split(":")[1] for u in precompile.MODELS} == {"tileworld", "wealth", "schelling",
                                                             "boids"}
    assert set(precompile.COLD_SECONDS) == set(precompile.PHASES + precompile.KERNELS + models)


def test_the_agent_kernels_unit_has_every_signature_the_models_call():
    # a signature missing from the unit would be compiled in each model's first compile
    from dod_sim.kernels import cells, population
    from dod_sim.models import MODELS

    precompile.compile_unit("kernels:agents")
    kernels = [f for mod in (cells, population) for f in vars(mod).values()
               if hasattr(f, "overloads") and f.__module__ == mod.__name__]
    before = {(f.__name__, sig) for f in kernels for sig in f.overloads}
    assert {"settle", "kill", "spawn", "move"} <= {name for name, _ in before}
    for name, module in MODELS.items():
        module.world(256, seed=1).run(2)
    after = {(f.__name__, sig) for f in kernels for sig in f.overloads}
    assert after == before


def test_workers_fill_an_empty_cache_that_this_process_then_reads(tmp_path):
    # a fresh cache: cold; two worker processes compile two phases; their cache entries
    # are there for this process (no code is loaded to tell)
    code = textwrap.dedent("""
        from dod_sim import precompile
        from dod_sim.kernels.tileworld import phases
        index = lambda fn: fn._cache._cache_file._load_index()
        assert precompile.tick_is_cold()
        assert not index(phases.end_tick) and not index(phases.arena_slice)
        done = precompile.compile_units(("phase:end", "phase:arena"), jobs=2)
        assert set(done) == {"phase:end", "phase:arena"}
        assert index(phases.end_tick) and index(phases.arena_slice)
        assert precompile.tick_is_cold()  # act was not among them
        print("ok")
    """)
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_workers_save_into_the_cache_one_at_a_time(tmp_path):
    # the index of a function's cache is read, given a free file name and written: two
    # workers saving different signatures at once must not both pick the same name
    import fcntl

    from numba.core import caching

    lock = str(tmp_path / "lock")
    original = caching.IndexDataCacheFile.save
    held = []

    def spy(self, key, data):
        with open(lock, "a") as fh:  # a second lock on the file must fail while saving
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                held.append(False)
            except BlockingIOError:
                held.append(True)

    caching.IndexDataCacheFile.save = spy
    try:
        precompile._locked_compile_unit("phase:end", lock)
        precompile._locked_compile_unit("phase:end", lock)  # patched once, not twice
        f = caching.IndexDataCacheFile.save
        assert f._dod_sim_original is spy and f._dod_sim_lock == lock
        f(None, None, None)
    finally:
        caching.IndexDataCacheFile.save = original
    assert held and all(held)  # one call above, and any save that compiling made


def test_no_units_is_no_work():
    assert precompile.compile_units([], jobs=2) == {}


def test_a_warm_cache_is_not_cold():
    World(Config(agents=64, side=64, tile_updates=4))
    assert not precompile.tick_is_cold()
