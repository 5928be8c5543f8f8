"""The tick against its rules: the compiled phases versus ``naive_tileworld``, a plain
Python restatement of WORKLOAD.md, row by row, tick by tick; single rules on their own;
what ``World.state_digest`` covers; ``World.census`` catching a miscount.

Every other test of the tick is relative (thread counts, restores, golden digests), so
a deterministic mistake in a rule would pass them; these do not.
"""

from __future__ import annotations

import hashlib
import struct

import numpy as np
import pytest

import naive_tileworld as naive
from dod_sim import ArenaExhausted, Config, World, runtime
from dod_sim.kernels import rng as k_rng
from dod_sim.kernels.tileworld.state import COUNTER_NAMES, GAUGE_NAMES, PI
from dod_sim.mailbox import decode
from dod_sim.tiles import decode_payload, split_record

# ---- the engine against the reference ---------------------------------------------------

# Float columns agree to a few float32 ulps (the reference steers with float64
# trigonometry, see naive_tileworld): the bounds are ~10 ulps at the sizes used, far
# below what a wrong rule moves (a turn off by 0.01 rad, one cell's cost / 255).
FLOAT_ATOL = {"x": 1e-4, "y": 1e-4, "vx": 1e-5, "vy": 1e-5, "energy": 1e-4}
# In the order the tick writes them (act, arena, deliver, chaos), so the first
# difference reported is nearest its cause.
EXACT_COLUMNS = ("tile", "target", "entered", "seq", "fresh", "out_to", "out_tick",
                 "out_rec", "cache_off", "cache_epoch", "mb_start", "mb_count",
                 "out_pending", "alive")
TILE_ARRAYS = ("stage_ids", "stage_ok", "stage_tampered", "records", "tags", "cost")

# (id, config, ticks). Rows above 256 give the act and arena passes two chunks, 16 tile
# updates give the tile pass two, and 1,100 rows give delivery two (its chunks are
# 1,024 rows), so threads=2 runs them in parallel.
CASES = [
    ("base", Config(agents=300, side=128, tile_updates=16, seed=1), 40),
    ("dead-slots", Config(agents=200, capacity=300, side=64, tile_updates=4, seed=2), 30),
    ("tiny-mailbox", Config(agents=300, side=64, tile_updates=4, mailbox=2, inbox_budget=1,
                            send_rate=1.0, seed=3), 40),
    ("tamper", Config(agents=100, side=64, tile_updates=8, tamper_rate=0.5,
                      tag_tamper_rate=0.3, seed=4), 30),
    ("chaos-hmac", Config(agents=260, capacity=280, side=64, tile_updates=4, kill_rate=0.03,
                          epoch_ticks=7, tile_algo="hmac-sha256", mailbox=4, inbox_budget=2,
                          seed=5), 30),
    ("hotspot-full-pool", Config(agents=300, side=64, tile_updates=4, hotspot_share=0.4,
                                 hotspot_ticks=3, hotspot_every=8, hotspot_target=5,
                                 pool_records=60, mailbox=8, seed=6), 30),
    ("tiny-arena-sharp-turns", Config(agents=80, side=64, tile_updates=4, arena_bytes=64 * 12,
                                      epoch_ticks=5, turn_max=2.0, speed=3.0, seed=7), 30),
    ("two-delivery-chunks", Config(agents=1000, capacity=1100, side=128, tile_updates=8,
                                   mailbox=3, inbox_budget=1, send_rate=0.8, seed=8), 15),
]


def _threads(n: int) -> int:
    if n > runtime.max_threads():
        pytest.skip(f"NUMBA_NUM_THREADS={runtime.max_threads()} < {n}")
    return n


def _step(world: World) -> bool:
    """One tick; True when it ended in ArenaExhausted (raised after the tick completed)."""
    try:
        world.step()
    except ArenaExhausted:
        return True
    return False


def _first_row(bad: np.ndarray) -> tuple:
    return tuple(int(i) for i in np.argwhere(bad)[0])


def _message(rec: bytes | None) -> str:
    if rec is None:
        return "nothing"
    kind, _, sender, tick, seq, word = struct.unpack_from("<HHIIII", rec)
    return f"(kind {kind}, sender {sender}, tick {tick}, seq {seq}, body {word:#x})"


def _differences(ref: dict, eng: dict, side: int) -> list[str]:
    """Each differing array of the engine's state ``eng`` from ``ref``, with its first
    differing row, in the order the tick writes them."""
    out = []

    def mismatch(name, bad, a, b, agent=False):
        if bad.any():
            i = _first_row(bad)
            where = f"{'row ' if agent else ''}{name}[{', '.join(map(str, i))}]"
            extra = f" (alive={bool(ref['alive'][i[0]])})" if agent else ""
            out.append(f"{where}: reference {a[i]!r} != engine {b[i]!r}{extra}")

    for name in TILE_ARRAYS:
        mismatch(name, ref[name] != eng[name], ref[name], eng[name])
    for name, atol in FLOAT_ATOL.items():
        a, b = ref[name].astype(np.float64), eng[name].astype(np.float64)
        d = np.abs(a - b)
        if name in ("x", "y"):
            d = np.minimum(d, side - d)  # 0 and side - ulp are neighbours on the torus
        mismatch(name, ~(d <= atol), ref[name], eng[name], agent=True)
    for name in EXACT_COLUMNS:
        mismatch(name, ref[name] != eng[name], ref[name], eng[name], agent=True)
    n_free = int(ref["free_meta"][0])
    mismatch("free_meta", ref["free_meta"] != eng["free_meta"], ref["free_meta"], eng["free_meta"])
    if n_free == eng["free_meta"][0]:
        mismatch("free_slots", ref["free_slots"][:n_free] != eng["free_slots"][:n_free],
                 ref["free_slots"], eng["free_slots"])
    ref_mail, eng_mail = naive.mailboxes(ref), naive.mailboxes(eng)
    for r, (a, b) in enumerate(zip(ref_mail, eng_mail)):
        if a != b:
            k = next((i for i, (p, q) in enumerate(zip(a, b)) if p != q), min(len(a), len(b)))
            pa, pb = (m[k] if k < len(m) else None for m in (a, b))
            out.append(f"mailbox of row {r}, record {k} of {len(a)}/{len(b)}: reference "
                       f"{_message(pa)} != engine {_message(pb)}")
            break
    mismatch("arena_meta", ref["arena_meta"] != eng["arena_meta"], ref["arena_meta"], eng["arena_meta"])
    used = int(min(ref["arena_meta"][0], eng["arena_meta"][0]))
    mismatch("arena", ref["arena"][:used] != eng["arena"][:used], ref["arena"], eng["arena"])
    for i, name in enumerate(COUNTER_NAMES):
        if ref["counters"][i] != eng["counters"][i]:
            out.append(f"counter {name}: reference {ref['counters'][i]} != engine {eng['counters'][i]}")
    for i, name in enumerate(GAUGE_NAMES):
        if ref["gauges"][i] != eng["gauges"][i]:
            out.append(f"gauge {name}: reference {ref['gauges'][i]} != engine {eng['gauges'][i]}")
    for p in (PI.TICK, PI.ALIVE, PI.POOL_CUR):
        if ref["pi"][p] != eng["pi"][p]:
            out.append(f"pi[{p.name}]: reference {ref['pi'][p]} != engine {eng['pi'][p]}")
    return out


def _check_against_reference(cfg: Config, ticks: int) -> World:
    """Step ``World(cfg)`` and the reference side by side from the same state and
    compare everything after every tick. Float columns within FLOAT_ATOL are then
    taken from the engine, so float32 rounding never accumulates into a different
    cell; everything else the reference carries on its own."""
    world = World(cfg)
    ref = {k: v.copy() for k, v in world._arrays.items()}
    for t in range(ticks):
        ref_exhausted = naive.tick(ref, cfg, world.tile_key, world.message_key)
        exhausted = _step(world)
        diffs = _differences(ref, world._arrays, cfg.side)
        if exhausted != ref_exhausted:
            diffs.insert(0, f"ArenaExhausted: reference {ref_exhausted} != engine {exhausted}")
        if diffs:
            pytest.fail(f"tick {t} (threads={world.threads}): " + "\n  ".join(diffs),
                        pytrace=False)
        for name in FLOAT_ATOL:
            ref[name][:] = world._arrays[name]
    return world


@pytest.mark.parametrize("threads", [1, 2], ids=["threads1", "threads2"])
@pytest.mark.parametrize("cfg, ticks", [pytest.param(c, t, id=i) for i, c, t in CASES])
def test_tick_matches_the_reference(cfg, ticks, threads):
    world = _check_against_reference(cfg.replace(threads=_threads(threads)), ticks)
    c = world.counters()
    assert c["sent"] == c["delivered"] + c["deferred"] + c["undeliverable"]
    assert world.census()["lost"] == 0


def test_the_cases_exercise_every_rule():
    """Each outcome the comparison is meant to check happens in some case (run with
    the engine alone, one thread: cheap)."""
    seen = {}
    for _, cfg, ticks in CASES:
        w = World(cfg.replace(threads=1))
        for _ in range(ticks):
            _step(w)
        for k, v in w.counters().items():
            seen[k] = seen.get(k, 0) + v
    for name in ("read", "delivered", "undeliverable", "retries", "discarded",
                 "tags_rejected", "tiles_rejected", "tiles_entered", "arena_failed",
                 "killed", "spawned"):
        assert seen[name] > 0, name


# ---- the reference's own primitives -------------------------------------------------------


def test_reference_rng_is_the_kernels_rng():
    # the kernels' py_func wraps uint64 scalars, which numpy warns about
    with np.errstate(over="ignore"):
        _check_rng()


def _check_rng():
    for seed, tick, row in [(0, -1, 0), (3, 0, 7), (2**63 - 1, 599, 2**31 - 2), (12345, 17, 1)]:
        key = naive.row_key(seed, tick, row)
        assert key == int(k_rng.row_key.py_func(seed, tick, row))
        for stream in (k_rng.TURN, k_rng.SEND, k_rng.TILE_PICK + 64 * 5, k_rng.KILL):
            assert naive.draw(key, stream) == int(k_rng.draw.py_func(np.uint64(key), stream))
            assert naive.uniform(key, stream) == float(k_rng.uniform.py_func(np.uint64(key), stream))


# ---- single rules ---------------------------------------------------------------------------


def _quiet(**kw) -> Config:
    """A world where agents send nothing on their own and no tile changes."""
    base = dict(agents=10, side=64, tile_updates=0, send_rate=0.0, threads=1, seed=21)
    base.update(kw)
    return Config(**base)


def _paid(world: World, r: int) -> np.float32:
    """The cost row r paid this tick: its cell's verified cost / 255, float32."""
    c = world.columns
    return np.float32(world.cost_grid[int(c["y"][r]), int(c["x"][r])]) / np.float32(255)


def test_injected_share_reaches_the_recipient_the_tick_after_it_is_sent():
    w = World(_quiet())
    e = w.columns["energy"]
    w.send(2, 5, "share", 2.5)
    before = e.copy()
    w.step()  # delivered into 5's mailbox, not read yet
    assert w.counters()["delivered"] == 1 and w.columns["mb_count"][5] == 1
    assert e[5] == before[5] - _paid(w, 5)
    before = e.copy()
    w.step()  # read
    assert e[5] == np.float32(before[5] + np.float32(2.5)) - _paid(w, 5)
    assert w.counters()["read"] == 1 and w.columns["mb_count"][5] == 0


def test_injected_share_is_taken_from_the_sender():
    """WORKLOAD.md: a SHARE's energy is taken from the sender, as an agent's own is."""
    w = World(_quiet())
    e = w.columns["energy"]
    before = e[2]
    w.send(2, 5, "share", 2.5)
    assert e[2] == before - np.float32(2.5)


@pytest.mark.parametrize("kind, body", [("share", None), ("share", float("nan")),
                                        ("share", 1e39), ("share", True), ("hint", 2.5),
                                        ("hint", -1), (1.0, 5), ("gift", 1)])
def test_send_refuses_a_bad_body_or_kind_without_changing_anything(kind, body):
    from dod_sim import ConfigError

    w = World(_quiet())
    d = w.state_digest()
    with pytest.raises(ConfigError) as info:
        w.send(2, 5, kind, body)
    assert info.value.field in ("kind", "body")
    assert w.state_digest() == d


def test_agents_own_shares_conserve_energy():
    """With every cost zero, the energy of all agents plus the shares in flight is
    constant: a SHARE moves energy from its sender to its recipient."""
    cfg = _quiet(agents=40, send_rate=1.0, inbox_budget=64)
    w = World(cfg)
    w._arrays["cost"][:] = 0  # the map never changes (tile_updates=0)
    total0 = float(w.columns["energy"].sum(dtype=np.float64))
    for _ in range(12):
        w.step()
        a = w._arrays
        recs = [w.mailbox(r) for r in range(cfg.rows)]
        recs.append(a["out_rec"][a["out_pending"] != 0])
        flight = np.concatenate(recs)
        shares = flight[flight[:, 0] == naive.SHARE]
        in_flight = float(shares[:, 16:20].copy().view(np.float32).sum(dtype=np.float64))
        total = float(w.columns["energy"].sum(dtype=np.float64)) + in_flight
        # float32 rounding of ~1,000 additions near 100 (ulp 8e-6); a share is ~0.25
        assert total == pytest.approx(total0, abs=0.02)
    assert w.counters()["read"] > 100


def test_hint_sets_the_target_and_arrival_clears_it():
    cfg = _quiet()
    w = World(cfg)
    n = cfg.rows
    tps = cfg.side // 16
    # row 0 one cell short of tile 1, heading straight for its centre, already targeting it
    x = np.full(n, 40.5)
    y = np.full(n, 40.5)
    x[0], y[0] = 15.5, 8.0
    vx = np.ones(n)
    vy = np.zeros(n)
    target = np.full(n, -1)
    target[0] = 1
    w.set_state(x=x, y=y, vx=vx, vy=vy, target=target)
    # row 3 is in tile 2 * tps + 2 and is hinted tile 0, two tiles away on both axes
    far = 0
    w.send(4, 3, "hint", far)
    w.step()
    c = w.columns
    assert c["tile"][0] == 1 and c["target"][0] == -1  # arrived
    assert c["target"][3] == -1  # delivered, not read
    w.step()
    assert c["target"][3] == far and c["tile"][3] == 2 * tps + 2


def test_turn_limit_speed_and_steering_towards_the_target():
    cfg = _quiet(agents=400, side=128, speed=1.5, turn_max=0.1)
    w = World(cfg)
    n = cfg.rows
    c = w.columns
    targets = np.where(np.arange(n) % 2 == 0, np.arange(n) % cfg.n_tiles, -1)
    w.set_state(target=targets)
    tps = cfg.side // 16
    for _ in range(10):
        x0, y0, vx0, vy0 = (c[k].astype(np.float64) for k in ("x", "y", "vx", "vy"))
        goal = c["target"].copy()
        w.step()
        vx, vy = c["vx"].astype(np.float64), c["vy"].astype(np.float64)
        assert np.allclose(np.hypot(vx, vy), cfg.speed, rtol=1e-6)
        turn = np.angle((vx + 1j * vy) / (vx0 + 1j * vy0))
        free = goal < 0
        assert np.all(np.abs(turn[free]) <= cfg.turn_max + 1e-6)
        assert np.all(np.abs(turn) <= 2 * cfg.turn_max + 1e-6)
        # the bearing of the target's centre, from the old position and heading
        half = cfg.side / 2
        dx = (goal % tps) * 16 + 8 - x0
        dy = (goal // tps) * 16 + 8 - y0
        dx, dy = (d - cfg.side * np.round(d / cfg.side) for d in (dx, dy))
        bearing = np.angle((dx + 1j * dy) / (vx0 + 1j * vy0))
        steer = ~free & (np.abs(bearing) > cfg.turn_max)  # turned its way, whatever the draw
        assert np.all(turn[steer] * np.sign(bearing[steer]) >= -1e-6)
        # moved by the new velocity, on the torus
        step_x = (c["x"] - x0 + half) % cfg.side - half
        step_y = (c["y"] - y0 + half) % cfg.side - half
        assert np.allclose(step_x, vx, atol=1e-4) and np.allclose(step_y, vy, atol=1e-4)


def test_refreshed_tiles_are_distinct_and_only_verified_ones_are_applied():
    cfg = _quiet(side=64, tile_updates=16, tamper_rate=0.5)  # every tile, every tick
    w = World(cfg)
    a = w._arrays
    rejected = 0
    for _ in range(6):
        records, tags = (v.copy() for v in w.tile_records())
        w.step()
        ids = a["stage_ids"]
        assert sorted(ids.tolist()) == list(range(cfg.n_tiles))
        now, now_tags = w.tile_records()
        _, v0, _ = split_record(records)
        _, v1, payload = split_record(now)
        for j, t in enumerate(ids):
            if a["stage_tampered"][j]:
                rejected += 1
                assert not a["stage_ok"][j]
                assert np.array_equal(now[t], records[t]) and np.array_equal(now_tags[t], tags[t])
            else:
                assert a["stage_ok"][j] and v1[t] == v0[t] + 1
            mac = hashlib.blake2b(now[t].tobytes(), key=w.tile_key, digest_size=32).digest()
            assert mac == now_tags[t].tobytes()
        cells = decode_payload(payload)["cost"]  # (tile, row, column)
        tps = cfg.side // 16
        grid = cells.reshape(tps, tps, 16, 16).transpose(0, 2, 1, 3).reshape(cfg.side, cfg.side)
        assert np.array_equal(grid, w.cost_grid)
    assert rejected == w.counters()["tiles_rejected"] > 0


def test_recipients_are_uniform_over_the_other_slots():
    """12 slots (2 of them dead), every agent sends every tick: recipients never the
    sender, every other slot equally likely (chi-square, 10 degrees of freedom)."""
    cfg = _quiet(agents=10, capacity=12, send_rate=1.0, mailbox=1024, inbox_budget=1024)
    w = World(cfg)
    hits = np.zeros(cfg.rows, np.int64)  # by (recipient - sender) mod rows
    for _ in range(300):
        w.step()
        # nothing is ever held (mailboxes are large, a message to a dead slot is
        # returned at once), so every agent sends every tick
        sent = np.flatnonzero(w._arrays["fresh"])
        assert sent.size == cfg.agents
        to = w._arrays["out_to"][sent]
        assert np.all(to != sent)
        np.add.at(hits, (to - sent) % cfg.rows, 1)
    assert hits[0] == 0
    expected = hits.sum() / (cfg.rows - 1)
    chi2 = float(((hits[1:] - expected) ** 2 / expected).sum())
    assert chi2 < 29.6  # P(chi2_10 > 29.6) = 0.001
    assert w.counters()["undeliverable"] > 0


def test_delivery_order_oldest_first_then_by_sender():
    """Mailbox of 2, budget 1: arrivals go oldest first (tick first sent), then by
    sender; a retried message is never overtaken by a newer one."""
    w = World(_quiet(agents=8, mailbox=2, inbox_budget=1))
    senders = lambda: [int(r["sender"]) for r in decode(w.mailbox(0))]  # noqa: E731
    for s in (5, 3, 7, 1):
        w.send(s, 0, "hint", int(s))
    w.step()
    assert senders() == [1, 3]
    c = w.counters()
    assert (c["delivered"], c["deferred"], c["retries"]) == (2, 2, 0)
    assert w.columns["out_pending"][[5, 7]].all()
    w.send(2, 0, "hint", 2)  # newer than 5's and 7's, from a lower sender
    w.step()  # 0 reads 1's; one slot: 5 (tick 0) before 7 (tick 0) before 2 (tick 1)
    assert senders() == [3, 5] and w.counters()["retries"] == 2 and w.counters()["read"] == 1
    w.step()
    assert senders() == [5, 7]
    w.step()
    assert senders() == [7, 2]
    c = w.counters()
    assert (c["sent"], c["delivered"], c["deferred"], c["read"]) == (5, 5, 0, 3)
    assert c["retries"] == 2 + 2 + 1
    assert (w.columns["mb_count"] <= 2).all()


def test_bound_budget_and_backpressure_every_tick():
    """Every tick: an agent reads exactly its oldest min(waiting, inbox_budget)
    records and keeps the rest at the head of its mailbox, in order; mailboxes never
    exceed their bound; a sender that holds a message at the start of the tick
    composes nothing new."""
    cfg = Config(agents=200, side=64, tile_updates=4, mailbox=3, inbox_budget=2,
                 send_rate=1.0, seed=14, threads=1)
    w = World(cfg)
    c = w.columns
    held_ticks = 0
    for _ in range(30):
        held = c["out_pending"].astype(bool)
        seq, read = c["seq"].copy(), w.counters()["read"]
        before = [w.mailbox(r) for r in range(cfg.rows)]
        w.step()
        drained = 0
        for r, old in enumerate(before):
            k = min(len(old), cfg.inbox_budget)
            drained += k
            assert np.array_equal(w.mailbox(r)[:len(old) - k], old[k:]), r
        assert w.counters()["read"] - read == drained
        held_ticks += int(held.sum())
        assert np.array_equal(c["seq"][held], seq[held])
        assert not w._arrays["fresh"][held].any()
        assert (c["mb_count"] <= cfg.mailbox).all()
        k = w.counters()
        assert k["deferred"] == int(c["out_pending"].sum())
        assert k["sent"] == k["delivered"] + k["deferred"] + k["undeliverable"]
    assert held_ticks > 0


# ---- what state_digest covers -------------------------------------------------------------

# Arrays a snapshot holds that state_digest leaves out (World.schema declares them
# digest=False or secret), and why the gap is harmless or not.
NOT_IN_DIGEST = {
    "gauges": "declared digest=False: telemetry levels, rewritten every tick by deliver "
              "and end",
    "entered": "declared digest=False: act-to-arena scratch, cleared and set by act "
               "before the arena pass reads it",
    "fresh": "declared digest=False: act scratch, cleared and set before act's signing "
             "pass reads it",
    "pool_ok": "declared digest=False: act scratch, each drained record's verdict, "
               "written before it is read",
    "keys": "declared secret (key material): keys change tag bytes only "
            "(tests/test_keys.py)",
    "msg_ks": "declared secret (key material): restore checks it is the schedule of keys",
    "tile_ks": "declared secret (key material): as msg_ks, for blake2b tile tags",
    "tile_hmac_ks": "declared secret (key material): as msg_ks, for hmac-sha256 tile tags",
    "tags": "declared digest=False: each tile's tag, a function of its record and the key",
}
SAVED = [a.name for a in World.schema.fields() if a.role != "scratch"]


def _saved_part(world: World, name: str) -> np.ndarray:
    """The view of ``name`` that a snapshot of ``world`` writes."""
    return next(p for n, _, p in world.schema.saved(world._arrays) if n == name)


@pytest.fixture(scope="module")
def busy_world():
    """A world with waiting and held messages, retries, killed and spawned slots and
    a used arena: every saved array has meaningful content."""
    w = World(Config(agents=120, capacity=140, side=64, tile_updates=4, mailbox=3,
                     inbox_budget=1, send_rate=1.0, kill_rate=0.02, seed=11, threads=1))
    for _ in range(6):
        w.step()
    a = w._arrays
    assert a["mb_count"].sum() > 0 and a["out_pending"].sum() > 0 and a["free_meta"][0] > 1
    return w


def _elements(world: World, name: str, part: np.ndarray) -> list[int]:
    """Flat indices of ``part`` (the part of ``name`` a snapshot saves) whose values
    decide the future: the first, a middle and the last of them."""
    a = world._arrays
    if name == "pools":  # bytes of waiting records only
        rows = np.flatnonzero(a["mb_count"])
        first = int(a["mb_start"][rows[0]])
        last = int(a["mb_start"][rows[-1]] + a["mb_count"][rows[-1]] - 1)
        idx = [first * 64, first * 64 + 17, last * 64 + 47]  # tags (bytes 48-63) left out
    elif name == "out_rec":  # held messages only
        rows = np.flatnonzero(a["out_pending"])
        idx = [rows[0] * 64, rows[len(rows) // 2] * 64 + 20, rows[-1] * 64 + 47]
    elif name == "mb_start":  # only a non-empty mailbox's start is ever read
        rows = np.flatnonzero(a["mb_count"])
        idx = [rows[0], rows[-1]]
    elif name == "pi":  # CHUNK, DCHUNK: test_digest_leaves_out_how_rows_are_chunked
        idx = [int(p) for p in PI if p not in (PI.CHUNK, PI.DCHUNK)]
    elif name == "free_slots":  # the stack's entries
        idx = [0, int(a["free_meta"][0]) - 1]
    else:
        idx = [0, part.size // 2, part.size - 1]
    return sorted({int(i) for i in idx})


def _flip(part: np.ndarray, i: int) -> None:
    """Flip the lowest bit of element i (a bool flips, an integer moves by one, a float
    by one ulp)."""
    part.reshape(-1).view(np.uint8)[i * part.itemsize] ^= 1


def _flipped_digests(w, name) -> list:
    """The elements of ``name`` whose one-bit flip left the digest unchanged."""
    part = _saved_part(w, name)
    before = w.state_digest()
    unchanged = []
    for i in _elements(w, name, part):
        _flip(part, i)
        try:
            if w.state_digest() == before:
                unchanged.append(i)
        finally:
            _flip(part, i)
    assert w.state_digest() == before
    return unchanged


@pytest.mark.parametrize("name", [n for n in SAVED if n not in NOT_IN_DIGEST])
def test_changing_a_saved_element_changes_the_digest(busy_world, name):
    unchanged = _flipped_digests(busy_world, name)
    assert not unchanged, f"{name}: flipping element(s) {unchanged} left the digest unchanged"


@pytest.mark.parametrize("name", sorted(NOT_IN_DIGEST))
def test_what_the_digest_leaves_out_is_declared_and_left_out(busy_world, name):
    """Scratch a snapshot keeps and key material: declared so in the schema, and a
    change to them leaves the digest as it is."""
    a = busy_world.schema[name]
    assert a.digest is False or a.secret, NOT_IN_DIGEST[name]
    part = _saved_part(busy_world, name)
    assert len(_flipped_digests(busy_world, name)) == len(_elements(busy_world, name, part))


def test_digest_leaves_out_how_rows_are_chunked(busy_world):
    """pi[CHUNK] and pi[DCHUNK] are layout derived from the config (restore compares
    them with a fresh world's), not state: results do not depend on them."""
    w = busy_world
    before = w.state_digest()
    for p in (PI.CHUNK, PI.DCHUNK):
        w._arrays["pi"][p] += 1
        try:
            assert w.state_digest() == before, p.name
        finally:
            w._arrays["pi"][p] -= 1


# word 8 of a BLAKE2b schedule is the chain value after the key block, where every
# keyed hash starts (words 0-7 are only read to compress the key block itself)
@pytest.mark.parametrize("name, word, algo", [("msg_ks", 8, "blake2b"), ("tile_ks", 8, "blake2b"),
                                              ("tile_hmac_ks", 0, "hmac-sha256")])
def test_a_schedule_that_is_not_its_key_changes_tags_only(name, word, algo):
    """What leaving key material out of the digest means: a schedule corrupted in memory
    changes only the tags the next tick writes (restore refuses a schedule that is not
    its key's: tests/test_keys.py)."""
    cfg = Config(agents=20, side=64, tile_updates=4, tile_algo=algo, send_rate=1.0, seed=12,
                 threads=1, deterministic_keys=True)
    a, b = World(cfg), World(cfg)
    b._arrays[name][word] ^= 1
    a.step()
    b.step()
    assert a.state_digest() == b.state_digest()
    tagged = "out_rec" if name == "msg_ks" else "tags"
    assert not np.array_equal(a._arrays[tagged], b._arrays[tagged])


# ---- census ---------------------------------------------------------------------------------


def _census_world():
    w = World(Config(agents=50, capacity=60, side=64, tile_updates=4, mailbox=2,
                     inbox_budget=1, send_rate=1.0, seed=13, threads=1))
    for _ in range(5):
        w.step()
    census = w.census()
    assert census["lost"] == 0 and census["in_dead_mailboxes"] == 0
    return w


@pytest.mark.parametrize("corrupt, key, value", [
    ("mailbox count one short", "lost", 1),
    ("mailbox count one over", "lost", -1),
    ("held message forgotten", "lost", 1),
    ("held message invented", "lost", -1),
    ("records in a dead slot's mailbox", "in_dead_mailboxes", 1),
])
def test_census_reports_a_miscount(corrupt, key, value):
    w = _census_world()
    a = w._arrays
    full = np.flatnonzero(a["alive"] & (a["mb_count"] > 0))[0]
    holder = np.flatnonzero(a["out_pending"])[0]
    idle = np.flatnonzero(a["alive"] & (a["out_pending"] == 0))[0]
    dead = np.flatnonzero(~a["alive"])[0]
    if corrupt == "mailbox count one short":
        a["mb_count"][full] -= 1
    elif corrupt == "mailbox count one over":
        a["mb_count"][full] += 1
    elif corrupt == "held message forgotten":
        a["out_pending"][holder] = 0
    elif corrupt == "held message invented":
        a["out_pending"][idle] = 1
    else:
        a["mb_count"][dead] = 1
    assert w.census()[key] == value
