"""``dod-sim bench`` (tick tables) and ``dod-sim soak`` on tiny sizes: every figure is
produced and the tables print. Wall-clock values are never asserted."""

import json
import math

from dod_sim import bench_tick, runtime
from dod_sim.cli import main
from dod_sim.soak import format_soak, soak, soak_config

SUMMARY_KEYS = {"tick_p50_ms", "tick_p99_ms", "tick_p999_ms", "tick_max_ms", "cpu_percent",
                "allocations_per_s", "load_imbalance", "overruns", "messages_lost"}


def test_tick_benchmark_parts_and_table(monkeypatch):
    seed = bench_tick.seed_run(8)
    assert SUMMARY_KEYS <= seed.keys() and seed["ticks"] == 8 and seed["tick_ms"] == 50
    assert seed["messages_lost"] == 0 and "how" in seed["threads_choice"]
    burst = bench_tick.burst_run(6)
    assert burst["jobs_done"] >= 1 and burst["tiles_failed"] == 0
    assert burst["with"]["messages_lost"] == 0
    rows = bench_tick.scaling_run([2000], lambda n: 5, repeats=2)
    assert [r["agents"] for r in rows] == [2000] * len(rows) and rows[0]["speedup"] == 1.0
    cores = runtime.default_threads()
    assert [r["plan"] for r in rows] == sorted({1, cores}) + (["auto"] if cores > 1 else [])
    # the best of two alternating runs per thread count
    assert all(len(r["runs"]) == 2 and r["agent_ticks_per_s"] == max(r["runs"]) for r in rows)
    assert all(r["messages_lost"] == 0 and r["rss_mb"] > 0 for r in rows)
    paired = bench_tick.paired_speedup(2000, 3, 2)
    assert len(paired["ratios"]) == 2 and paired["speedup"] > 0
    machine = bench_tick.machine_limits(cold=False)
    assert machine["memory_bandwidth_GBps"] > 0 and machine["warm_start_s"] > 0
    assert machine["compute_speedup"] > 0
    assert machine["cold_start_s"] is None
    monkeypatch.setattr(bench_tick, "seed_run", lambda ticks, progress=None: seed)
    monkeypatch.setattr(bench_tick, "burst_run", lambda ticks, progress=None: burst)
    monkeypatch.setattr(bench_tick, "scaling_run", lambda *a, **k: rows)
    monkeypatch.setattr(bench_tick, "machine_limits", lambda cold: machine)
    monkeypatch.setattr(bench_tick, "_paired_subprocess", lambda n, t, p: paired)
    result = bench_tick.tick_benchmark(quick=True)
    text = bench_tick.format_tick(result)
    for words in ("Rust + Tokio", "dod_sim (this run)", "Scaling", "Burst", "memory copy",
                  "batches alternating", "register-only kernel",
                  "not measured (--quick)", "The Moment the Default Runtime Became the Payload"):
        assert words in text
    assert json.loads(json.dumps(result))["seed"]["ticks"] == 8


def test_bench_json_has_the_seed_row(monkeypatch, capsys):
    fake = {"seed": {"ticks": 1}, "scaling": [], "burst": {}, "machine": {}}
    monkeypatch.setattr(bench_tick, "tick_benchmark", lambda quick, progress: fake)
    assert main(["bench", "--quick", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["seed"] == {"ticks": 1}


def test_soak_conserves_and_samples_memory_each_epoch():
    cfg = soak_config(agents=1500, side=256, tile_updates=16, epoch_ticks=40,
                      hotspot_start=10, hotspot_every=40, hotspot_ticks=10)
    s = soak(120, cfg)
    assert s["ticks"] == 120 and s["epochs"] == 3 and len(s["rss_mb"]) == 3
    assert s["messages_lost"] == 0 and s["conservation_violations"] == 0
    assert s["agents_killed"] > 0 and s["messages_delivered"] > 0
    assert math.isfinite(s["rss_growth_mb"])
    assert "PASS" in format_soak(s)
