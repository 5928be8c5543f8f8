"""The whole tick: conservation, determinism, tiles, arena handles, zero allocation."""

import hashlib
import os
import subprocess
import sys
import textwrap

import numba
import numpy as np
import pytest

from dod_sim import ArenaExhausted, Config, ConfigError, StaleHandle, UnknownAgent, World, runtime
from dod_sim.arena import zeroed_pages
from dod_sim.config import memory_estimate
from dod_sim.kernels.tileworld.agents import _toward
from dod_sim.world import ARENA_PREFAULT_BYTES, _make_resident
from dod_sim.tiles import decode_payload, split_record

SUMMARY_KEYS = {
    "agents", "ticks", "threads", "tick_p50_ms", "tick_p99_ms", "tick_max_ms",
    "agent_ticks_per_s", "messages_sent", "messages_delivered", "messages_deferred",
    "messages_undeliverable", "messages_lost", "tiles_rejected", "tags_rejected", "rss_mb",
}


def small(**kw):
    base = dict(agents=300, side=256, tile_updates=16, seed=3)
    base.update(kw)
    return Config(**base)


def test_summary_has_the_documented_keys_and_conserves():
    w = World(small())
    r = w.run(30)
    s = r.summary()
    assert SUMMARY_KEYS <= s.keys()
    assert s["ticks"] == 30 and s["agents"] == 300 and s["messages_lost"] == 0
    assert s["messages_sent"] > 0 and s["messages_delivered"] > 0


def test_conservation_holds_every_tick_with_chaos():
    w = World(small(kill_rate=0.02, tag_tamper_rate=0.05, mailbox=4, inbox_budget=1))
    r = w.run(80)
    names = ("sent", "delivered", "deferred", "undeliverable")
    sent, delivered, deferred, undeliverable = (r.counters[:, r_idx(n)] for n in names)
    assert np.array_equal(sent, delivered + deferred + undeliverable)
    census = w.census()
    assert census["lost"] == 0 and census["in_dead_mailboxes"] == 0
    c = w.counters()
    assert c["killed"] > 0 and c["discarded"] > 0 and c["undeliverable"] > 0
    assert c["tags_rejected"] > 0 and c["tags_tampered"] >= c["tags_rejected"]
    assert c["deferred"] > 0 and c["retries"] > 0
    assert (w.columns["mb_count"] <= 4).all()
    assert w.alive_count == 300


def r_idx(name):
    from dod_sim.kernels.tileworld.state import COUNTER_NAMES
    return COUNTER_NAMES.index(name)


def test_same_digest_for_one_and_all_threads():
    digests = set()
    for th in (1, numba.config.NUMBA_NUM_THREADS):
        w = World(Config(agents=3000, seed=11, threads=th, kill_rate=0.001))
        w.run(200)
        digests.add(w.state_digest())
    assert len(digests) == 1
    # the thread count may change between runs of one world (the paired speed-up
    # benchmark alternates it) without changing the result
    w = World(Config(agents=3000, seed=11, threads=1, kill_rate=0.001))
    for k in range(4):
        w.threads = 1 + k % numba.config.NUMBA_NUM_THREADS
        w.run(50)
    assert w.state_digest() in digests


def test_same_digest_whatever_each_phase_runs_on():
    # the probe of dod_sim.pacing may run some phases on fewer threads than others
    cores = numba.config.NUMBA_NUM_THREADS
    ref = World(Config(agents=3000, seed=11, threads=1, kill_rate=0.001))
    ref.run(200)
    w = World(Config(agents=3000, seed=11, threads=cores, kill_rate=0.001))
    names = list(w.phase_threads)
    for k in range(4):
        w.phase_threads = {n: 1 + (i + k) % cores for i, n in enumerate(names)}
        r = w.run(50)
        assert r.phase_threads == w.phase_threads
    assert w.state_digest() == ref.state_digest()


@pytest.mark.parametrize("agents", [3000, pytest.param(20_000, marks=pytest.mark.slow)])
def test_same_digest_whatever_the_chunk_sizes(agents, monkeypatch):
    # chunks are fixed sizes (never derived from the thread count); the result must not
    # depend on them either, so the sizes can be tuned without changing any run
    import dod_sim.world as world_module

    cfg = Config(agents=agents, seed=3, kill_rate=0.01, tag_tamper_rate=0.01, mailbox=8,
                 hotspot_share=0.3, hotspot_ticks=20, hotspot_start=30)
    digests = set()
    for agent_chunk, dchunk in ((256, None), (100, 128), (1000, 4096)):
        monkeypatch.setattr(world_module, "AGENT_CHUNK", agent_chunk)
        if dchunk is not None:
            monkeypatch.setattr(world_module, "_dchunk", lambda rows, d=dchunk: d)
        w = World(cfg)
        w.run(120)
        digests.add(w.state_digest())
    assert len(digests) == 1


@pytest.mark.slow
def test_same_digest_with_three_threads_in_a_subprocess():
    code = textwrap.dedent("""
        from dod_sim import World, Config
        w = World(Config(agents=3000, seed=11, threads=3, kill_rate=0.001))
        w.run(200)
        print(w.state_digest())
    """)
    env = dict(os.environ, NUMBA_NUM_THREADS="3")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout.strip()
    w = World(Config(agents=3000, seed=11, threads=1, kill_rate=0.001))
    w.run(200)
    assert out == w.state_digest()


def test_run_60_equals_run_25_then_35():
    a = World(small(seed=5))
    a.run(60)
    b = World(small(seed=5))
    b.run(25)
    b.run(35)
    assert a.state_digest() == b.state_digest()
    c = World(small(seed=6))
    c.run(60)
    assert c.state_digest() != a.state_digest()


def test_tiles_rejected_are_the_tampered_ones_and_never_applied():
    w = World(small(tamper_rate=0.2))
    r = w.run(40)
    s = r.summary()
    assert s["tiles_rejected"] == s["tiles_tampered"] > 0
    records, tags = w.tile_records()
    # every current tile carries a valid tag under the world's key, checked by hashlib
    for t in range(0, records.shape[0], 7):
        assert hashlib.blake2b(records[t].tobytes(), key=w.tile_key, digest_size=32).digest() == tags[t].tobytes()
    ids, _, payload = split_record(records)
    assert np.array_equal(ids, np.arange(records.shape[0]))
    # the cost grid is the decoded payloads
    cells = decode_payload(payload)["cost"]  # (tiles, 16, 16)
    side_tiles = 256 // 16
    grid = cells.reshape(side_tiles, side_tiles, 16, 16).transpose(0, 2, 1, 3).reshape(256, 256)
    assert np.array_equal(grid, w.cost_grid)


def test_hmac_tiles_work_the_same_way():
    w = World(small(tile_algo="hmac-sha256", tamper_rate=0.2))
    s = w.run(20).summary()
    assert s["tiles_rejected"] == s["tiles_tampered"] > 0


def test_map_cache_holds_the_tile_row_and_goes_stale_with_the_epoch():
    w = World(small(tile_updates=0, epoch_ticks=10))
    records, _ = w.tile_records()  # the map is static: tile_updates=0
    cols = w.columns
    # Follow every agent tick by tick: each time it enters a new tile, the row of that
    # tile that holds its cell is the one its map cache must hold from then on.
    want = {}
    prev = cols["tile"].copy()
    for _ in range(9):
        w.step()
        tile, y = cols["tile"].copy(), cols["y"].copy()
        for a in np.flatnonzero(tile != prev):
            r = int(y[a]) % 16
            want[int(a)] = records[tile[a], 8 + 64 * r: 8 + 64 * r + 64].tobytes()
        prev = tile
    have = np.flatnonzero((cols["cache_off"] >= 0) & cols["alive"])
    assert have.size > 50 and set(have.tolist()) == set(want)  # a handle iff it entered
    assert all(any(row) for row in want.values())  # tile rows are never all zeros
    for a in have:
        assert w.map_cache(int(a)) == want[int(a)], int(a)
    w.run(1)  # tick 10 ends the epoch
    with pytest.raises(StaleHandle) as e:
        w.map_cache(int(have[0]))
    assert e.value.field == "cache_epoch" and e.value.bound == 1
    assert "stale" in str(e.value) and "epoch 1" in str(e.value)


def test_map_cache_row_matches_current_tile_when_map_is_static():
    w = World(small(tile_updates=0))
    w.step()
    records, _ = w.tile_records()
    cols = w.columns
    entered = np.flatnonzero(cols["cache_off"] >= 0)
    assert entered.size > 0
    for a in entered[:50]:
        t, r = int(cols["tile"][a]), int(cols["y"][a]) % 16
        assert w.map_cache(int(a)) == records[t, 8 + 64 * r: 8 + 64 * r + 64].tobytes()


def test_arena_exhaustion_raises_after_a_consistent_tick():
    w = World(small(arena_bytes=64 * 5))
    with pytest.raises(ArenaExhausted) as e:
        w.run(50)
    err = e.value
    assert err.total == 320 and err.requested > 0 and err.used <= 320
    assert err.field == "arena_bytes" and err.phase == "arena"
    assert f"of {err.total} bytes" in str(err) and "arena_bytes" in str(err)
    assert w.census()["lost"] == 0
    assert w.tick == err.tick + 1
    if runtime.default_threads() > 1:  # the thread probe met the same error and said so
        assert w.threads_choice["how"] == "every core (the probe stopped: ArenaExhausted)"


def test_messages_in_mailboxes_are_signed_with_the_message_key():
    w = World(small(inbox_budget=0, send_rate=1.0))
    w.run(2)
    found = 0
    for a in range(50):
        for rec in w.mailbox(a):
            found += 1
            assert hashlib.blake2b(rec[:48].tobytes(), key=w.message_key, digest_size=16).digest() == rec[48:].tobytes()
    assert found > 0


@pytest.mark.slow
def test_zero_allocations_in_100_warm_ticks():
    code = textwrap.dedent("""
        import numpy as np
        from numba.core.runtime import rtsys
        from dod_sim import World, Config
        from dod_sim.runtime import heap_blocks
        w = World(Config(agents=3000, seed=1))
        if w.threads > 1:  # switching the thread count between phases allocates nothing
            w.phase_threads = {"tiles": 1, "deliver": 1}
        w.run(20)
        # Python's heap, read between ticks into an array made beforehand (an int kept
        # from a reading would itself be a block): ticks 20 to 100 of the run are warm.
        # heap_blocks empties CPython's attribute-lookup cache first (its docstring).
        blocks = np.zeros(101, np.int64)

        def between_ticks(done, n, tick_ns):
            blocks[done] = heap_blocks()

        before = rtsys.get_allocation_stats()
        w.run(100, progress=between_ticks, progress_every=1)
        after = rtsys.get_allocation_stats()
        print(after.alloc - before.alloc, after.mi_alloc - before.mi_alloc,
              blocks[100] - blocks[20])
    """)
    env = dict(os.environ, NUMBA_NRT_STATS="1")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout.split()
    nrt, meminfos, python_blocks = map(int, out)
    assert (nrt, meminfos) == (0, 0)  # compiled code allocates nothing
    assert python_blocks <= 0  # and 80 warm ticks leave nothing on Python's heap


def test_initial_conditions_and_their_errors():
    w = World(small())
    n = w.config.rows
    w.set_state(x=np.full(n, 8.5), y=np.full(n, 40.0), target=np.full(n, -1))
    assert (w.columns["tile"] == (40 // 16) * 16).all()
    with pytest.raises(ConfigError) as e:
        w.set_state(x=np.full(n, 300.0))
    assert e.value.field == "x"
    with pytest.raises(ConfigError):
        w.set_state(speed=np.zeros(n))
    with pytest.raises(ConfigError):
        w.set_state(x=np.zeros(3))
    w.step()
    with pytest.raises(ConfigError):
        w.set_state(x=np.zeros(n))


def test_columns_are_read_only_views():
    w = World(small())
    x = w.columns["x"]
    with pytest.raises(ValueError):
        x[0] = 1.0
    w.step()
    assert np.shares_memory(x, w.columns["x"])


def test_kill_spawn_and_their_errors():
    w = World(small(agents=10, capacity=20))
    assert w.alive_count == 10
    w.run(5)  # the agents about to die have spent energy
    assert (w.columns["energy"][[1, 2]] != w.config.energy).all()
    w.kill([1, 2])
    assert not w.columns["alive"][[1, 2]].any() and w.alive_count == 8
    with pytest.raises(UnknownAgent) as e:
        w.kill([3, 2])  # 2 is dead: nothing killed
    assert e.value.value == 2 and w.columns["alive"][3]
    assert "agent id 2 is not a live agent" in str(e.value)
    with pytest.raises(UnknownAgent):
        w.kill([25])
    free_before = ~w.columns["alive"]
    rows = w.spawn(3)
    # the free stack hands out the slots freed last first, then the lowest unused row
    assert rows.dtype == np.int64 and rows.tolist() == [2, 1, 10]
    assert free_before[rows].all() and w.columns["alive"][rows].all()
    assert w.alive_count == 11 and w.columns["alive"].sum() == 11
    # a spawned agent starts afresh: full energy, empty mailbox, no map cache, no target
    assert (w.columns["energy"][rows] == w.config.energy).all()
    assert (w.columns["mb_count"][rows] == 0).all() and (w.columns["cache_off"][rows] == -1).all()
    assert (w.columns["target"][rows] == -1).all()
    with pytest.raises(UnknownAgent, match="exceeds the 9 free slots"):
        w.spawn(100)


def test_send_errors_name_the_field():
    w = World(small(agents=10, capacity=10, send_rate=0.0))
    with pytest.raises(UnknownAgent) as e:
        w.send(0, 10, "share", 1.0)
    assert e.value.field == "agent" and e.value.bound == 10
    assert "agent id 10 is out of range [0, 10)" in str(e.value)
    with pytest.raises(ConfigError) as e:
        w.send(0, 1, "poke", 1.0)
    assert e.value.field == "kind"
    with pytest.raises(ConfigError) as e:
        w.send(0, 1, "hint", 10**6)
    assert e.value.field == "body"
    w.send(0, 1, "share", 2.5)
    with pytest.raises(ConfigError) as e:
        w.send(0, 2, "share", 1.0)
    assert e.value.field == "sender"


def test_memory_refused_with_numbers():
    with pytest.raises(ConfigError) as e:
        World(Config(agents=2, capacity=2, pool_records=2**38))
    assert e.value.field == "capacity" and "GiB" in str(e.value)


def _resident_pages(a: np.ndarray) -> np.ndarray:
    """bool per page of ``a``'s memory: resident now (mincore(2))."""
    import ctypes
    import mmap

    page = mmap.PAGESIZE
    start = a.ctypes.data // page * page
    pages = -(-(a.ctypes.data + a.nbytes - start) // page)
    vec = (ctypes.c_ubyte * pages)()
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mincore.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p)
    assert libc.mincore(ctypes.c_void_p(start), ctypes.c_size_t(pages * page), vec) == 0
    return np.frombuffer(vec, np.uint8) & 1 == 1


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mincore(2) via libc is Linux's")
def test_tick_arrays_are_resident_before_the_first_tick():
    # a page written first inside a tick costs its fault in that tick (the first two
    # ticks at 1,000,000 agents took 50-90 ms longer); of the arena, one epoch of slices
    # the control: fresh anonymous pages are not resident (np.zeros may reuse heap
    # memory that earlier tests touched, so it is no control)
    assert not _resident_pages(zeroed_pages(8 << 20)).any()
    w = World(Config(agents=200_000, threads=1))
    a = w._arrays
    for name in ("d_keys", "d_arr_start", "d_by_recipient", "pool_ok"):
        assert a[name].nbytes >= 200_000 and _resident_pages(a[name]).all(), name
    for pool in a["pools"]:
        assert _resident_pages(pool[:w.config.rows]).all()
    epoch = min(memory_estimate(w.config)["arena_resident"], ARENA_PREFAULT_BYTES)
    assert 0 < epoch < a["arena"].nbytes - 8192
    assert _resident_pages(a["arena"][:epoch]).all()
    assert not _resident_pages(a["arena"][epoch + 4096:]).any()
    assert all(not a[k].any() for k in ("d_keys", "pool_ok", "pools"))
    # making pages resident leaves every byte as it was (pi, pf and the key schedules
    # are filled before it runs)
    rng = np.random.default_rng(3)
    for n in (0, 1, 4095, 4097, 3 * 4096 + 5):
        b = rng.integers(0, 256, n, dtype=np.uint8)
        c = b.copy()
        _make_resident(b)
        assert (b == c).all()
    with pytest.raises(ValueError, match="C-contiguous"):
        _make_resident(np.zeros((4, 4))[:, 1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mincore(2) via libc is Linux's")
@pytest.mark.parametrize("advice", ["kernel's", "none"])
def test_zeroed_pages_makes_exactly_the_resident_part_resident(advice, monkeypatch):
    import dod_sim.arena as arena_mod

    if advice == "none":  # the fallback: a kernel without MADV_POPULATE_WRITE
        monkeypatch.setattr(arena_mod, "MADV_POPULATE_WRITE", None)
    for resident in (1, 4096 * 3 + 1, 1 << 20):
        a = zeroed_pages(4 << 20, resident)
        pages = _resident_pages(a)
        first = -(-resident // 4096)
        assert pages[:first].all() and not pages[first + 1:].any(), resident
        assert not a.any()
    assert zeroed_pages(0, 10).shape == (0,)


# ---- steering -------------------------------------------------------------------------------


@numba.njit
def _turns(c, d, tm, tan_tm, out):
    for k in range(c.shape[0]):
        out[k] = _toward(c[k], d[k], tm, tan_tm)


@pytest.mark.parametrize("tm", [0.0, 0.1, 0.3, 1.0, 1.6, 3.14])
def test_turn_towards_the_target_is_atan2_clamped(tm):
    # the act pass avoids atan2f (module kernels.tileworld.agents, _toward); it must give the
    # clamped angle of atan2 to float32 rounding, including on the axes and at zero
    rng = np.random.default_rng(7)
    c = np.concatenate([rng.normal(size=20_000), rng.normal(size=20_000) * 1e-3,
                        [0.0, -0.0, 0.0, -0.0, 1.0, -1.0, 0.0]]).astype(np.float32)
    d = np.concatenate([rng.normal(size=20_000), np.abs(rng.normal(size=20_000)),
                        [1.0, 1.0, -1.0, -1.0, 0.0, 0.0, 0.0]]).astype(np.float32)
    tm32 = np.float32(tm)
    tan_tm = np.float32(np.tan(tm)) if tm < 1.5 else np.float32(-1.0)
    got = np.empty_like(c)
    _turns(c, d, tm32, tan_tm, got)
    want = np.clip(np.arctan2(c, d), -tm32, tm32)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=4e-7, atol=1e-9)
