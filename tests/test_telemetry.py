"""Telemetry, pacing, the thread choice, the blocking pool and the hot-spot burst."""

import threading
import time

import numba
import numpy as np
import pytest
from dod_sim.kernels.tileworld.state import COUNTER_NAMES

from dod_sim import Config, ConfigError, World, runtime
from dod_sim.blocking import BlockingPool
from dod_sim.errors import PoolFull
from dod_sim.world import Phase


def small(**kw):
    base = dict(agents=400, side=256, tile_updates=16, seed=5)
    base.update(kw)
    return Config(**base)


def col(report, name):
    return report.counters[:, COUNTER_NAMES.index(name)]


def test_per_tick_telemetry_reconciles_with_the_engine_counters():
    w = World(small(kill_rate=0.01, mailbox=8))
    before = w.counters()
    r = w.run(40)
    after = w.counters()
    cols = r.columns()
    assert all(len(v) == 40 for v in cols.values())
    for name in ("sent", "delivered", "undeliverable", "tags_rejected", "tiles_rejected"):
        assert cols[name].sum() == after[name] - before[name], name
    assert cols["deferred"][-1] == after["deferred"]
    assert np.array_equal(col(r, "sent"), col(r, "delivered") + col(r, "deferred")
                          + col(r, "undeliverable"))
    census = w.census()
    assert cols["mb_waiting"][-1] == census["in_mailboxes"]
    assert cols["arena_used"][-1] == w.arena_usage()["used"]
    assert (cols["mb_max"] <= 8).all() and cols["mb_max"].max() > 0
    assert r.summary()["mailbox_depth_max"] == cols["mb_max"].max()
    alive = np.diff(col(r, "agent_ticks"), prepend=r.start_counters[COUNTER_NAMES.index("agent_ticks")])
    assert np.allclose(cols["mb_mean"], cols["mb_waiting"] / alive)
    assert r.summary()["mailbox_depth_mean"] == pytest.approx(cols["mb_mean"].mean())


def test_percentiles_are_numpys_on_the_recorded_ticks():
    r = World(small()).run(50)
    ms = r.tick_ns / 1e6
    s = r.summary()
    for key, q in (("tick_p50_ms", 50), ("tick_p99_ms", 99), ("tick_p999_ms", 99.9)):
        assert s[key] == pytest.approx(np.percentile(ms, q), rel=0, abs=1e-12)
    assert s["tick_max_ms"] == ms.max()
    assert np.array_equal(r.columns()["tick_ms"], ms)


def test_busy_time_per_worker_and_load_imbalance():
    w = World(small(agents=3000, side=512, threads=2))
    r = w.run(30)
    busy = r.busy_ms()
    assert busy.shape == (30, 2) and (busy >= 0).all()
    per_worker = busy.sum(axis=0)
    assert (per_worker > 0).all()  # both workers took their share of the rows
    # the workers are busy inside the tick, never longer than the tick itself
    assert (busy.max(axis=1) <= r.tick_ns / 1e6 * 1.05 + 0.05).all()
    # max / mean - 1 of the workers' totals; with two workers 1 would mean one sat idle
    imbalance = r.summary()["load_imbalance"]
    assert imbalance == pytest.approx(per_worker.max() / per_worker.mean() - 1.0)
    assert imbalance < 1.0
    one = World(small(threads=1)).run(10)
    assert one.busy_ms().shape == (10, 1) and (one.busy_ms() > 0).all()  # busy every tick


@pytest.mark.skipif(runtime.max_threads() < 2, reason="needs NUMBA_NUM_THREADS >= 2")
def test_load_imbalance_shows_work_on_one_worker_only():
    # the same 3,000 live agents in a table of twice the rows: the live ones fill the
    # first half, so with rows split evenly between two workers (OpenMP's static
    # schedule of the chunks) the first does nearly all the work
    even = World(small(agents=3000, side=512, threads=2)).run(30)
    w = World(small(agents=3000, capacity=6000, side=512, threads=2))
    lopsided = w.run(30)
    if numba.threading_layer() == "tbb":
        pytest.skip("TBB balances the chunks by work stealing")
    a, b = lopsided.busy_ms().sum(axis=0)
    assert a > 2 * b
    assert lopsided.summary()["load_imbalance"] > 0.3
    assert lopsided.summary()["load_imbalance"] > even.summary()["load_imbalance"] + 0.2


def test_steady_state_allocations_are_measured():
    w = World(small())
    w.run(2)
    r = w.run(60)
    st = r.steady
    assert st["nrt0"] >= 0 and st["t1"] > st["t0"]  # NRT statistics are on; a steady window
    assert st["nrt1"] - st["nrt0"] == 0  # compiled code allocates nothing per tick
    assert st["blocks1"] - st["blocks0"] <= 0  # nor does the tick loop keep Python objects
    assert r.summary()["allocations_per_s"] == 0
    assert np.isnan(w.run(1).summary()["allocations_per_s"])  # no steady state


def test_allocations_in_steady_state_are_counted():
    # a compiled phase that allocates one array per tick, and a progress callback that
    # keeps Python objects every tick: both show, over the ticks of steady state (from
    # tick 60 // 5 = 12)
    @numba.njit
    def allocate_one(s):
        a = np.empty(4)
        a[0] = 1.0
        return 0 if a[0] == 1.0 else 1

    w = World(small())
    w.schedule = w.schedule + (Phase("nrt", allocate_one, frozenset(), frozenset()),)
    w.run(2)
    r = w.run(60)
    st = r.steady
    assert st["nrt1"] - st["nrt0"] == 60 - 12
    seconds = (st["t1"] - st["t0"]) / 1e9
    assert r.summary()["allocations_per_s"] >= (60 - 12) / seconds

    kept = []  # eleven blocks a tick; the rest of the process frees a few now and then
    r = World(small()).run(
        60, progress=lambda done, n, tick_ns: kept.append([object() for _ in range(10)]),
        progress_every=1)
    st = r.steady
    assert st["nrt1"] - st["nrt0"] == 0 and st["blocks1"] - st["blocks0"] >= 10 * (60 - 12)
    seconds = (st["t1"] - st["t0"]) / 1e9
    assert r.summary()["allocations_per_s"] == pytest.approx(
        (st["blocks1"] - st["blocks0"]) / seconds)


def test_report_provenance_names_versions_cpu_and_config():
    cfg = small()
    r = World(cfg).run(3)
    p = r.provenance
    import numba
    import numpy

    assert p["numba"] == numba.__version__ and p["numpy"] == numpy.__version__
    assert p["config_digest"] == cfg.digest() and p["seed"] == cfg.seed
    assert p["threads"] == r.threads and p["model"] and p["arch"]
    assert isinstance(p["vector_flags"], list) and p["hash_lanes"] in (0, 4, 8)


def test_pacing_keeps_the_period_and_counts_no_overruns():
    period_ms = 20
    w = World(small(tick_ms=period_ms, threads=1))
    w.run(2)
    t = time.perf_counter()
    r = w.run(15)
    wall = time.perf_counter() - t
    assert wall >= 14 * period_ms / 1e3  # tick i starts at t0 + i * period
    assert wall < 15 * period_ms / 1e3 * 4  # generous: a loaded CI machine
    assert r.summary()["overruns"] == 0
    assert r.summary()["tick_ms"] == period_ms


def test_a_slow_tick_is_counted_as_an_overrun():
    w = World(small(tick_ms=10, threads=1))
    slow = Phase("slow", lambda s: time.sleep(0.009) or 0, frozenset(), frozenset())
    w.schedule = w.schedule + (slow,)
    r = w.run(5)
    s = r.summary()
    assert s["overruns"] == 5  # every tick used more than 80 % of its 10 ms
    assert r.phase_names[-1] == "slow" and (r.columns()["slow_ms"] >= 9).all()


def test_the_thread_count_choice_is_reported():
    assert World(small(threads=1)).threads_choice["how"] == "set by config"
    cores = runtime.default_threads()
    for w in (World(small()), World(small(tick_ms=50))):
        choice = w.threads_choice
        assert choice["threads"] == w.threads
        if cores > 1:  # a probe of 1 thread, every core and (maybe) a plan per phase
            assert choice["how"].startswith("measured")
            assert {"1", str(cores)} <= set(choice["probe_p90_ms"])
            assert set(choice["probe_phase_ms"]["1"]) == set(w.phase_threads)
        plan = choice.get("phase_threads", {})
        assert w.phase_threads == {p.name: plan.get(p.name, w.threads) for p in w.schedule}
        assert all(1 <= k < w.threads for k in plan.values())
        r = w.run(2)
        assert r.threads_choice == choice and r.phase_threads == w.phase_threads


def test_phase_threads_are_validated_and_setting_threads_clears_them():
    cores = numba.config.NUMBA_NUM_THREADS
    w = World(small(threads=cores))
    with pytest.raises(ConfigError, match="phase_threads names 'nope', which is not a phase"):
        w.phase_threads = {"nope": 1}
    for bad in (0, cores + 1, 1.5, True):
        with pytest.raises(ConfigError, match=rf"phase_threads\['act'\]={bad!r} must be an "
                                              rf"integer in \[1, {cores}\]"):
            w.phase_threads = {"act": bad}
    with pytest.raises(TypeError, match="phase_threads must be a mapping"):
        w.phase_threads = [1, 1]
    assert set(w.phase_threads.values()) == {cores}  # a refused plan changes nothing
    w.phase_threads = {"deliver": 1}
    assert w.phase_threads["deliver"] == 1 and w.phase_threads["act"] == cores
    w.threads = 1
    assert set(w.phase_threads.values()) == {1}
    w.threads = cores
    assert set(w.phase_threads.values()) == {cores}


def test_blocking_pool_bounds_hold():
    running = []
    lock = threading.Lock()
    gate = threading.Event()
    state = {"now": 0}

    def job(i):
        with lock:
            state["now"] += 1
            running.append(state["now"])
        gate.wait(5)
        time.sleep(0.005)
        with lock:
            state["now"] -= 1
        return i

    with BlockingPool(threads=2, queue=3) as pool:
        futs = [pool.submit(job, i) for i in range(5)]  # 2 running + 3 queued
        with pytest.raises(PoolFull, match="queue is full") as e:
            pool.submit(job, 99, wait=False)
        assert e.value.field == "blocking_queue" and e.value.bound == 3
        t = time.perf_counter()
        with pytest.raises(PoolFull):
            pool.submit(job, 98, timeout=0.05)
        assert time.perf_counter() - t >= 0.04
        gate.set()
        assert [f.result(5) for f in futs] == list(range(5))
        st = pool.stats()
    assert max(running) <= 2 and st["running_max"] <= 2 and st["queued_max"] <= 3
    assert st["completed"] == 5 and st["rejected"] == 2


def test_blocking_pool_rejects_bad_bounds_and_passes_errors_back():
    with pytest.raises(ConfigError, match="blocking_threads=0"):
        BlockingPool(threads=0)
    with BlockingPool(1, 1) as pool:
        f = pool.submit(lambda: 1 / 0)
        with pytest.raises(ZeroDivisionError):
            f.result(5)


def test_world_jobs_run_beside_the_ticks():
    with World(small(threads=1, blocking_threads=2, blocking_queue=4)) as w:
        w.run(3)
        reverify = w.submit("reverify_tiles")
        rebuild = w.submit("rebuild_cost")
        failed, ok = reverify.result(30)
        assert failed == 0 and ok.all() and ok.shape == (w.config.n_tiles,)
        assert np.array_equal(rebuild.result(30), w.cost_grid)
        futs = [w.submit("reverify_tiles") for _ in range(4)]
        r = w.run(20)  # the tick loop keeps going while jobs run
        assert r.summary()["messages_lost"] == 0
        assert all(f.result(30)[0] == 0 for f in futs)
        assert w.blocking_pool.stats()["running_max"] <= 2
        with pytest.raises(ConfigError, match="unknown job 'nope'"):
            w.submit("nope")


def test_hot_spot_burst_is_backpressured_and_loses_nothing():
    cfg = small(agents=600, mailbox=16, inbox_budget=4, hotspot_share=0.5,
                hotspot_ticks=10, hotspot_start=3, hotspot_target=7)
    w = World(cfg)
    r = w.run(40)
    c = r.columns()
    assert (c["mb_max"] <= 16).all() and c["mb_max"][3:13].max() == 16
    assert c["deferred"][3:13].max() > 100  # senders hold what the mailbox refused
    assert c["deferred"][-1] < c["deferred"][3:13].max()  # and drain after the burst
    assert np.array_equal(col(r, "sent"), col(r, "delivered") + col(r, "deferred")
                          + col(r, "undeliverable"))
    assert w.census()["lost"] == 0
    with pytest.raises(ConfigError, match="hotspot_target=600 must be in"):
        small(agents=600, hotspot_target=600)


def test_jobs_submitted_from_another_thread_copy_a_whole_map():
    with World(small(threads=1, tile_updates=64, blocking_queue=2)) as w:
        w.run(2)
        results, stop = [], threading.Event()

        def drive():
            while not stop.is_set():
                results.append(w.submit("reverify_tiles").result(30)[0])

        t = threading.Thread(target=drive)
        t.start()
        try:
            w.run(150)
        finally:
            stop.set()
            t.join()
        assert len(results) > 0 and sum(results) == 0  # never a torn copy
