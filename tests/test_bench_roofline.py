"""dod-sim bench roofline: the microbenchmarks compute what they claim, the work counted
per phase follows the counters and the declared layout, and the benchmark runs end to
end (no time is asserted)."""

import json

import numpy as np
import pytest

from dod_sim import bench_roofline as rl
from dod_sim.tileworld.schema import TILEWORLD

PER_TICK = {"read": 700.0, "sent": 500.0, "tiles_refreshed": 64.0, "tiles_entered": 30.0,
            "delivered": 480.0, "waiting": 900.0}


def test_copy_gather_and_chase_kernels():
    src = np.arange(100_000, dtype=np.uint64)
    dst = np.zeros_like(src)
    rl._copy(src, dst, 4096)
    assert np.array_equal(src, dst)
    idx = np.random.default_rng(0).integers(0, src.size, 10_000)
    out = np.zeros(-(-idx.size // 512), np.uint64)
    rl._gather(src, idx, 512, out)
    assert out.sum() == src[idx].sum()
    n, stride = 50, 8  # a random cycle over 50 lines visits every line, then returns to 0
    perm = np.random.default_rng(1).permutation(n)
    nxt = np.zeros(n * stride, np.int64)
    nxt[perm * stride] = np.roll(perm, -1) * stride
    seen = {0}
    i = 0
    for steps in range(1, n + 1):
        i = rl._chase(nxt, steps)
        seen.add(int(i))
    assert i == 0 and len(seen) == n


def test_work_follows_counters_and_layout():
    w = rl.phase_work(1000, PER_TICK, side=1024)
    assert w["act"]["compressions"] == {"message": 1200.0}
    assert w["tiles"]["compressions"] == {"tile": 2 * 9 * 64.0}
    assert w["act"]["random"] == {1024 * 1024: 1000}
    assert w["arena"]["random"] == {64 * 64 * 1032: 30.0}
    assert w["deliver"]["random"] == {1000 * 64: 480.0}
    # per-row traffic is linear in rows, message traffic is not
    w2 = rl.phase_work(2000, PER_TICK, side=1024)
    for name in ("act", "arena", "deliver"):
        per_row = w2[name]["bytes"] - w[name]["bytes"]
        assert per_row > 0 and w[name]["bytes"] - per_row == w2[name]["bytes"] - 2 * per_row
    assert w2["tiles"]["bytes"] == w["tiles"]["bytes"]


def test_a_column_a_phase_writes_counts_twice_and_records_per_message():
    """A column read and written counts its bytes twice per row; the held record
    (out_rec, 64 bytes a row) counts per message sent, not per row."""
    itemsize = {a.name: np.dtype(a.dtype).itemsize for a in TILEWORLD.fields()}
    assert rl._row_bytes({"x"}) == itemsize["x"]
    assert rl._row_bytes({"out_rec", "x"}) == itemsize["x"]
    sent = dict(PER_TICK, sent=PER_TICK["sent"] + 10)
    assert (rl.phase_work(1000, sent, 1024)["act"]["bytes"]
            - rl.phase_work(1000, PER_TICK, 1024)["act"]["bytes"]) == 10 * 64


def test_floors_are_the_largest_bound():
    rates = {"stream_Bps": 1e10, "compression_ns": {"message": 10.0, "tile": 20.0},
             "random_ns": {4096: 5.0}}
    work = {"compressions": {"message": 1e5}, "bytes": 2e6, "random": {4096: 1e5}}
    f = rl.floors(work, rates)
    assert f["hash_ms"] == pytest.approx(1.0) and f["stream_ms"] == pytest.approx(0.2)
    assert f["random_ms"] == pytest.approx(0.5) and f["floor_ms"] == f["hash_ms"]


def test_benchmark_runs_end_to_end(monkeypatch):
    monkeypatch.setattr(rl, "QUICK_SIZES", (2000,))
    monkeypatch.setattr(rl, "stream_bandwidth", lambda threads, repeat=3: 1e10)
    monkeypatch.setattr(rl, "chase_latency_ns", lambda: 100.0)
    r = rl.roofline_benchmark(quick=True)
    json.dumps(r)
    (size,) = r["sizes"]
    assert size["agents"] == 2000 and set(size["phases"]) >= {"tiles", "act", "arena", "deliver"}
    act = size["phases"]["act"]
    assert act["work"]["compressions"]["message"] == size["per_tick"]["read"] + size["per_tick"]["sent"]
    assert act["ms"] > 0 and act["floor_ms"] > 0 and act["ratio"] == act["ms"] / act["floor_ms"]
    text = rl.format_roofline(r)
    assert "2,000 agents" in text and "act" in text
