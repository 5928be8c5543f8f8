"""dod_sim.live: a world ticking in a background thread, watched from another."""

import time

import numpy as np
import pytest

from dod_sim import ArenaExhausted, Config, ConfigError, World
from dod_sim.live import LiveRun, live_figure, run_in_background

TIMING = ("tick_ms", "busy_ms_")


def small(**kw):
    base = {"agents": 300, "side": 128, "tile_updates": 8, "seed": 4}
    base.update(kw)
    return Config(**base)


def assert_consistent(cols, n):
    assert {len(v) for v in cols.values()} == {n}
    assert np.array_equal(cols["tick"], np.arange(n))


def test_background_run_equals_a_foreground_run():
    w = World(small())
    live = run_in_background(w, 100, chunk=15)  # 100 is not a multiple of the chunk
    assert isinstance(live, LiveRun)
    r = live.join(timeout=120)
    assert not live.running and live.error is None and live.done == 100
    assert r.ticks == 100 and w.tick == 100

    ref_world = World(small())
    ref = ref_world.run(100)
    assert w.state_digest() == ref_world.state_digest()
    # every non-timing column is the same tick for tick, counters and gauges included
    got, want = r.columns(), ref.columns()
    assert got.keys() == want.keys()
    for name in want:
        if not name.startswith(TIMING) and not name.endswith("_ms"):
            assert np.array_equal(got[name], want[name]), name
    assert np.array_equal(r.counters, ref.counters)
    assert np.array_equal(r.start_counters, ref.start_counters)
    s = r.summary()
    assert s["ticks"] == 100 and s["messages_lost"] == 0
    assert s["messages_sent"] == ref.summary()["messages_sent"]
    assert r.census == ref_world.census()
    assert r.wall_ns > 0 and r.phase_names == ref.phase_names
    assert live.columns().keys() == got.keys()


def test_stop_ends_the_run_early_with_consistent_columns():
    w = World(small(tick_ms=5, threads=1))  # paced: 1,000 ticks would take 5 s
    live = run_in_background(w, 1000, chunk=10)
    deadline = time.monotonic() + 60
    while live.done < 20 and time.monotonic() < deadline:
        time.sleep(0.01)
    live.stop()
    r = live.join(timeout=60)
    assert live.error is None and not live.running
    assert 20 <= live.done < 1000
    assert r.ticks == live.done == w.tick
    assert_consistent(live.columns(), live.done)
    assert_consistent(r.columns(), live.done)
    assert w.census()["lost"] == 0
    assert "stopped" in repr(live)


def test_columns_can_be_polled_while_it_runs():
    live = run_in_background(World(small(tick_ms=2, threads=1)), 150, chunk=10)
    seen = []
    while live.running:
        cols = live.columns()
        n = len(cols["tick"])
        assert_consistent(cols, n)
        assert n % 10 == 0 and n <= 150
        seen.append(n)
        rep = live.report()
        assert rep.ticks >= n  # a chunk may have finished in between, never un-finished
        time.sleep(0.02)
    assert seen == sorted(seen)
    assert len(set(seen)) > 2  # it really was watched while running
    assert live.join().ticks == 150
    assert_consistent(live.columns(), 150)


def test_an_error_in_the_run_is_kept_and_reraised_by_join():
    w = World(small(arena_bytes=64 * 5))
    live = run_in_background(w, 50, chunk=4)
    with pytest.raises(ArenaExhausted) as e:
        live.join(timeout=60)
    assert live.error is e.value and not live.running
    # the failing tick ran to completion and its telemetry is kept
    assert live.done == w.tick == e.value.tick + 1
    assert_consistent(live.columns(), live.done)
    assert live.report().census["lost"] == 0
    with pytest.raises(ArenaExhausted):  # and again, for every join
        live.join()
    assert "failed: ArenaExhausted" in repr(live)


def test_an_exception_from_world_run_is_reraised(monkeypatch):
    w = World(small())
    real_run = w.run
    calls = []

    def failing_run(n, **kw):
        calls.append(n)
        if len(calls) == 3:
            raise RuntimeError("boom")
        return real_run(n, **kw)

    monkeypatch.setattr(w, "run", failing_run)
    live = run_in_background(w, 100, chunk=10)
    with pytest.raises(RuntimeError, match="boom"):
        live.join(timeout=60)
    assert live.done == 20 == w.tick
    assert_consistent(live.columns(), 20)


def test_one_background_run_per_world_at_a_time():
    w = World(small(tick_ms=5, threads=1))
    live = run_in_background(w, 400, chunk=10)
    with pytest.raises(RuntimeError, match="already has a background run"):
        run_in_background(w, 10)
    live.stop()
    live.join(timeout=60)
    second = run_in_background(w, 10, chunk=10)  # the world is free again, and goes on
    second.join(timeout=60)
    assert w.tick == live.done + 10


def test_join_times_out_while_running_and_empty_runs_report_zero_ticks():
    live = run_in_background(World(small(tick_ms=20, threads=1)), 200, chunk=5)
    with pytest.raises(TimeoutError, match="still going"):
        live.join(timeout=0.01)
    live.stop()
    live.join(timeout=60)

    empty = run_in_background(World(small()), 0)
    r = empty.join(timeout=60)
    assert r.ticks == 0 and empty.done == 0
    assert_consistent(empty.columns(), 0)
    assert r.summary()["messages_lost"] == 0


@pytest.mark.parametrize("kw", [{"ticks": -1}, {"ticks": 1.5}, {"ticks": True},
                                {"ticks": 10, "chunk": 0}])
def test_bad_arguments_raise_config_error(kw):
    w = World(small())
    ticks = kw.pop("ticks")
    with pytest.raises(ConfigError):
        run_in_background(w, ticks, **kw)
    run_in_background(w, 1).join(timeout=60)  # a refused run does not claim the world


def test_live_figure_headless_returns_the_final_figure():
    pytest.importorskip("matplotlib")
    live = run_in_background(World(small(tick_ms=2, threads=1)), 60, chunk=10)
    fig = live_figure(live, columns=("tick_ms", "mb_waiting", "deferred"), every=0.05)
    assert not live.running and live.done == 60
    axes = fig.get_axes()
    assert len(axes) == 3
    for ax, name in zip(axes, ("tick_ms", "mb_waiting", "deferred"), strict=True):
        assert ax.get_ylabel() == name
        x, y = ax.get_lines()[0].get_data()
        assert len(x) == len(y) == 60
    assert "(done)" in fig._suptitle.get_text()
    live.join()

    with pytest.raises(KeyError, match="no column 'nope'"):
        live_figure(live, columns=("nope",))


def test_a_snapshot_during_a_background_run_is_taken_between_ticks(tmp_path):
    cfg = Config(agents=500, side=64, tile_updates=8, seed=6, threads=1)
    w = World(cfg)
    live = run_in_background(w, 3000, chunk=400)
    ticks = []
    for k in range(3):
        time.sleep(0.05)
        path = tmp_path / f"s{k}.snap"
        w.snapshot(path)  # from this thread: served by the run at its next tick boundary
        back = World.restore(path)
        ticks.append(back.tick)
        ref = World(cfg)
        ref.run(back.tick)
        assert back.state_digest() == ref.state_digest()
    assert ticks == sorted(ticks)
    live.join()
    end = tmp_path / "end.snap"
    assert live.snapshot(end) == 3000 == World.restore(end).tick  # after the run: final


# ---- a model's world runs alike --------------------------------------------------------


def _wealth(seed=3):
    from dod_sim import ModelWorld
    from dod_sim.models import wealth

    return ModelWorld(wealth.MODEL, 400, seed=seed, threads=1)


def test_a_model_background_run_equals_a_foreground_run():
    m, ref = _wealth(), _wealth()
    live = run_in_background(m, 250, chunk=40)
    rep = live.join(timeout=120)
    table = ref.run(250)
    assert rep.ticks == 250 == live.done and m.state_digest() == ref.state_digest()
    cols = live.columns()
    assert set(cols) == {"tick", "tick_ms", "gini"}
    assert np.array_equal(cols["gini"], table["gini"]) and (cols["tick_ms"] > 0).all()
    assert rep.model == "boltzmann_wealth" and rep.summary()["ticks"] == 250


def test_a_model_run_stops_and_snapshots_between_batches(tmp_path):
    from dod_sim import ModelWorld
    from dod_sim.models import wealth

    m = _wealth()
    live = run_in_background(m, 10**6, chunk=500)
    time.sleep(0.2)
    m.snapshot(tmp_path / "m.snap")  # served by the run between its batches
    back = ModelWorld.restore(tmp_path / "m.snap", wealth.MODEL)
    ref = _wealth()
    ref.run(back.tick, stats=False)
    assert back.tick > 0 and back.state_digest() == ref.state_digest()
    live.stop()
    live.join(timeout=60)
    assert live.done < 10**6 and len(live.columns()["gini"]) == live.done
    assert live.report().ticks == live.done


def test_live_figure_of_a_model_statistic():
    pytest.importorskip("matplotlib")
    live = run_in_background(_wealth(), 80, chunk=20)
    fig = live_figure(live, columns=("gini", "tick_ms"), every=0.05)
    x, y = fig.get_axes()[0].get_lines()[0].get_data()
    assert len(x) == len(y) == 80 and live.report().ticks == 80
