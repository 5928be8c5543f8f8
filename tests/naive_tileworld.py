"""A plain-Python reference of one tileworld tick (WORKLOAD.md, the workload
description; ``docs/workload.md`` in this repository).

This is to the tick what stumpy's ``tests/naive.py`` is to its kernels: the rules
written out once more, slowly and readably, row by row, with none of the engine's
chunking, lanes, prefix sums, prefetching or double buffering, so that
``tests/test_reference.py`` can hold the compiled phases to them.

State is a dict of numpy arrays with the names, dtypes and shapes of ``World._arrays``
(take a copy: ``{k: v.copy() for k, v in world._arrays.items()}``); :func:`tick`
advances it by one tick in place. Parameters are read from the :class:`Config`, not
from ``pi``/``pf``; only state is read from ``pi`` (TICK, ALIVE, POOL_CUR).

What is restated and what is reused
-----------------------------------
* The counter-based generator (SplitMix64 finaliser keyed by (seed, tick, row,
  stream), ``kernels/rng.py``) is reimplemented below on Python integers. The stream
  ids are imported: they are labels of the specification, not logic.
* MACs are ``hashlib``/``hmac`` with the world's keys (``World.tile_key``,
  ``World.message_key``): keyed BLAKE2b-256 or HMAC-SHA256 over tile records, keyed
  BLAKE2b-128 over the first 48 bytes of a message.
* Steering is written as "heading + turn" with float64 trigonometry, where the kernel
  rotates the float32 velocity and approximates small arctangents: velocities and
  positions agree to a few float32 ulps, not bit for bit (the test compares them with
  a tolerance and then carries the engine's values forward). Energy arithmetic is
  float32 in the order of the rules (shares read, cell paid, share sent) and agrees
  exactly.
* Delivery is written as: per recipient, arrivals sorted by (tick first sent,
  sender), admitted while the mailbox bound and the pool's free records allow,
  recipients served in row order; each mailbox is then written back packed in row
  order into the other pool buffer (the layout ``kernels/mailbox.py`` documents),
  so ``mb_start`` is compared as well.
* The arena is restated as bump allocation of one 64-byte slice per entering agent,
  in row order, from the epoch's used offset; an agent that does not fit gets no
  handle (-1, -1) and is counted in ``arena_failed``.

Left out: telemetry (``busy``), per-tick scratch that only the phases themselves
read (``tally``, ``chunk_entries``, ``chunk_base``, ``tmp``, ``status``, the
``d_*`` delivery arrays, ``stage``/``stage_tags``), ``pool_ok`` (the per-record
verdict, which the reference recomputes as it drains), and bytes of the pools and
the arena outside the live mailboxes and the epoch's used range.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import struct

import numpy as np

from dod_sim.kernels.rng import (
    AMOUNT, HOTSPOT, KILL, KIND, RECIPIENT, SEND, SPAWN_HEADING, SPAWN_X, SPAWN_Y, TAG_BIT,
    TAG_TAMPER, TILE_BYTES, TILE_PICK, TILE_TAMPER, TILE_TAMPER_BYTE, TURN,
)
from dod_sim.kernels.tileworld.state import PI, C, G

__all__ = ["mix64", "row_key", "draw", "uniform", "tick", "mailboxes", "TILE", "RECORD"]

F32 = np.float32
MASK = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15
M1 = 0xBF58476D1CE4E5B9
M2 = 0x94D049BB133111EB

TILE = 16            # cells per tile side
HEADER = 8           # tile record: tile_id u32 || version u32 || payload
PAYLOAD = 1024       # 16 rows x 64 bytes; a cell is {cost u8, food u8, height u16}
RECORD = 64          # message record: header 16 || body 32 || tag 16
SIGNED = 48
SHARE, HINT = 1, 2
# arena_meta indices: bytes used this epoch, epoch, high-water mark, bytes ever handed out
USED, EPOCH, HIGH, ALLOCATED = 0, 1, 2, 3


# ---- the counter-based generator ------------------------------------------------------


def mix64(z: int) -> int:
    """SplitMix64's finaliser on a Python int in [0, 2**64)."""
    z = ((z ^ (z >> 30)) * M1) & MASK
    z = ((z ^ (z >> 27)) * M2) & MASK
    return z ^ (z >> 31)


def row_key(seed: int, tick: int, row: int) -> int:
    """The key of one row in one tick (tick -1 is the initial map and spawn)."""
    z = mix64((seed + GOLDEN) & MASK)
    z = mix64(z ^ (((tick + 1) * GOLDEN) & MASK))
    return mix64(z ^ ((row + M1) & MASK))


def draw(key: int, stream: int) -> int:
    """A uniform 64-bit integer of ``stream`` under ``key``."""
    return mix64(key ^ ((stream * GOLDEN) & MASK))


def uniform(key: int, stream: int) -> float:
    """A uniform float on [0, 1) from the top 53 bits of a draw."""
    return (draw(key, stream) >> 11) * 2.0**-53


# ---- small helpers ------------------------------------------------------------------------


def _tile_mac(cfg, key: bytes, record: bytes) -> bytes:
    if cfg.tile_algo == "blake2b":
        return hashlib.blake2b(record, key=key, digest_size=32).digest()
    return hmac.new(key, record, hashlib.sha256).digest()


def _message_mac(key: bytes, signed: bytes) -> bytes:
    return hashlib.blake2b(signed, key=key, digest_size=16).digest()


def _f32_bits(v) -> int:
    return int(np.array([v], np.float32).view(np.uint32)[0])


def _bits_f32(w: int):
    return np.array([w], np.uint32).view(np.float32)[0]


def _torus_delta(d: float, side: float) -> float:
    """The shortest signed displacement on a ring of length ``side`` (+half stays +)."""
    if d > side / 2:
        return d - side
    if d < -side / 2:
        return d + side
    return d


def _wrap(p, side: int):
    """float32 position ``p`` back into [0, side)."""
    p = F32(float(p) % side)
    return F32(0.0) if p >= side else p


def _tile_of(x, y, side: int) -> int:
    return (int(y) // TILE) * (side // TILE) + int(x) // TILE


def mailboxes(s: dict) -> list[list[bytes]]:
    """Every row's waiting records (64 bytes each), oldest first: row r's are
    ``pools[pi[POOL_CUR]][mb_start[r]:mb_start[r] + mb_count[r]]`` (uint8[k, 64])."""
    pool = s["pools"][s["pi"][PI.POOL_CUR]]
    return [[pool[i].tobytes() for i in range(start, start + count)]
            for start, count in zip(s["mb_start"].tolist(), s["mb_count"].tolist())]


# ---- the phases -------------------------------------------------------------------------


def refresh_tiles(s: dict, cfg, tile_key: bytes) -> None:
    """``tile_updates`` distinct tiles get version + 1 and a fresh payload, are signed,
    maybe tampered with (one payload byte XOR 0xFF), verified; those that verify are
    applied and decoded into the cost grid, the others keep their verified content.

    Writes records uint8[n_tiles, 1032], tags uint8[n_tiles, 32] and cost uint8[side,
    side] for the tiles that verify; stage_ids int32[U], stage_ok bool[U] and
    stage_tampered uint8[U] for all U refreshed (in the order they were picked).
    """
    t = int(s["pi"][PI.TICK])
    n_tiles = cfg.n_tiles
    tiles_per_side = cfg.side // TILE
    # distinct ids: rejection sampling over draws of row 0's key
    key0 = row_key(cfg.seed, t, 0)
    ids, attempt = [], 0
    while len(ids) < cfg.tile_updates:
        cand = draw(key0, TILE_PICK + 64 * attempt) % n_tiles
        attempt += 1
        if cand not in ids:
            ids.append(cand)
    tampered = rejected = 0
    for j, tid in enumerate(ids):
        key = row_key(cfg.seed, t, tid)
        version = (int.from_bytes(s["records"][tid, 4:8].tobytes(), "little") + 1) & 0xFFFFFFFF
        payload = bytearray(b"".join(draw(key, TILE_BYTES + 16 * w).to_bytes(8, "little")
                                     for w in range(PAYLOAD // 8)))
        record = struct.pack("<II", tid, version) + bytes(payload)
        tag = _tile_mac(cfg, tile_key, record)
        flipped = uniform(key, TILE_TAMPER) < cfg.tamper_rate
        if flipped:
            payload[draw(key, TILE_TAMPER_BYTE) % PAYLOAD] ^= 0xFF
            record = struct.pack("<II", tid, version) + bytes(payload)
            tampered += 1
        ok = hmac.compare_digest(_tile_mac(cfg, tile_key, record), tag)
        s["stage_ids"][j] = tid
        s["stage_ok"][j] = ok
        s["stage_tampered"][j] = flipped
        if not ok:
            rejected += 1
            continue
        s["records"][tid] = np.frombuffer(record, np.uint8)
        s["tags"][tid] = np.frombuffer(tag, np.uint8)
        ty, tx = divmod(tid, tiles_per_side)
        cells = np.frombuffer(bytes(payload), np.uint8).reshape(TILE, TILE, 4)
        s["cost"][ty * TILE:(ty + 1) * TILE, tx * TILE:(tx + 1) * TILE] = cells[:, :, 0]
    c = s["counters"]
    c[C.TILES_REFRESHED] += len(ids)
    c[C.TILES_TAMPERED] += tampered
    c[C.TILES_REJECTED] += rejected
    c[C.TILE_BYTES_VERIFIED] += len(ids) * (HEADER + PAYLOAD)


def _hot_target(cfg, t: int) -> int:
    """The burst's recipient when tick ``t`` lies in a hot-spot burst, else -1."""
    if cfg.hotspot_share <= 0 or t < cfg.hotspot_start:
        return -1
    since = t - cfg.hotspot_start
    if cfg.hotspot_every > 0:
        since %= cfg.hotspot_every
    return cfg.hotspot_target if since < cfg.hotspot_ticks else -1


def act(s: dict, cfg, message_key: bytes, mail: list[list[bytes]]) -> None:
    """Every live agent, in its own row: drain, steer, move, pay, enter, send.

    ``mail`` (from :func:`mailboxes`) is drained in place; the pool itself is left
    for :func:`deliver` to rewrite. Reads and writes the columns (length N =
    capacity) x, y, vx, vy, energy (float32), tile, target (int32), seq (int64),
    entered, fresh, out_pending (uint8), out_rec (uint8[N, 64]), out_to, out_tick
    (int32); reads alive (bool) and cost (uint8[side, side]).
    """
    t = int(s["pi"][PI.TICK])
    n = s["alive"].shape[0]
    side = cfg.side
    n_tiles = cfg.n_tiles
    tiles_per_side = side // TILE
    tm = cfg.turn_max
    hot = _hot_target(cfg, t)
    rows = np.arange(n)
    x, y, vx, vy = s["x"], s["y"], s["vx"], s["vy"]
    energy, tile, target = s["energy"], s["tile"], s["target"]
    read = rejected = sent = entered = tag_tampered = 0
    s["entered"][:] = 0
    s["fresh"][:] = 0
    for r in range(n):
        if not s["alive"][r]:
            continue
        key = row_key(cfg.seed, t, r)
        e = F32(energy[r])
        # a. drain the oldest inbox_budget records; apply the valid ones
        k = min(len(mail[r]), cfg.inbox_budget)
        for rec in mail[r][:k]:
            if not hmac.compare_digest(_message_mac(message_key, rec[:SIGNED]), rec[SIGNED:]):
                rejected += 1
                continue
            kind, = struct.unpack_from("<H", rec, 0)
            word, = struct.unpack_from("<I", rec, 16)
            if kind == SHARE:
                e = e + _bits_f32(word)
            elif kind == HINT and word < n_tiles:
                target[r] = word
        del mail[r][:k]
        read += k
        # b. turn by uniform[-tm, tm], plus the bearing of the target's centre clamped
        # to +-tm; keep the speed; move on the torus
        turn = (uniform(key, TURN) * 2.0 - 1.0) * tm
        ovx, ovy = float(vx[r]), float(vy[r])
        goal = int(target[r])
        if goal >= 0:
            cx = (goal % tiles_per_side) * TILE + TILE / 2
            cy = (goal // tiles_per_side) * TILE + TILE / 2
            dx = _torus_delta(cx - float(x[r]), side)
            dy = _torus_delta(cy - float(y[r]), side)
            bearing = math.atan2(ovx * dy - ovy * dx, ovx * dx + ovy * dy)
            turn += min(max(bearing, -tm), tm)
        if ovx or ovy:
            heading = math.atan2(ovy, ovx) + turn
            vx[r] = cfg.speed * math.cos(heading)
            vy[r] = cfg.speed * math.sin(heading)
        x[r] = _wrap(F32(x[r]) + F32(vx[r]), side)
        y[r] = _wrap(F32(y[r]) + F32(vy[r]), side)
        # c. pay the new cell's verified cost
        e = e - F32(s["cost"][int(y[r]), int(x[r])]) / F32(255.0)
        # arrival clears the target; a new tile is entered (and sliced by the arena)
        nt = _tile_of(x[r], y[r], side)
        if nt == goal:
            target[r] = -1
        if nt != tile[r]:
            tile[r] = nt
            s["entered"][r] = 1
            entered += 1
        # e. send unless a message is still held (backpressure)
        burst = hot >= 0 and hot != r and uniform(key, HOTSPOT) < cfg.hotspot_share
        if not s["out_pending"][r] and (burst or uniform(key, SEND) < cfg.send_rate):
            if burst:
                to = hot
            else:  # uniform over the other n - 1 slots, dead or alive
                to = int(np.delete(rows, r)[int(uniform(key, RECIPIENT) * (n - 1))])
            if uniform(key, KIND) < 0.5:
                amount = F32(0.5 * uniform(key, AMOUNT))
                e = e - amount
                kind, word = SHARE, _f32_bits(amount)
            else:
                kind, word = HINT, nt
            head = struct.pack("<HHIIII", kind, 0, r, t, int(s["seq"][r]) & 0xFFFFFFFF, word)
            signed = head + bytes(SIGNED - len(head))
            tag = bytearray(_message_mac(message_key, signed))
            if uniform(key, TAG_TAMPER) < cfg.tag_tamper_rate:
                bit = draw(key, TAG_BIT) % 128
                tag[bit // 8] ^= 1 << (bit % 8)
                tag_tampered += 1
            s["out_rec"][r] = np.frombuffer(signed + bytes(tag), np.uint8)
            s["out_to"][r] = to
            s["out_tick"][r] = t
            s["out_pending"][r] = 1
            s["fresh"][r] = 1
            s["seq"][r] += 1
            sent += 1
        energy[r] = e
    c = s["counters"]
    c[C.READ] += read
    c[C.TAGS_VERIFIED] += read
    c[C.TAGS_REJECTED] += rejected
    c[C.SENT] += sent
    c[C.DEFERRED] += sent
    c[C.TILES_ENTERED] += entered
    c[C.TAGS_TAMPERED] += tag_tampered


def slice_arena(s: dict) -> bool:
    """Each agent that entered a tile, in row order, gets the next 64 bytes of the
    epoch holding the 64-byte row of its tile that contains its cell, and keeps the
    handle: cache_off (int64) = offset, cache_epoch (int32) = epoch; (-1, -1) when
    the arena (uint8[arena_bytes]) has no room. Returns True when some agent found
    no room."""
    meta = s["arena_meta"]
    arena = s["arena"]
    failed = 0
    for r in np.flatnonzero(s["entered"]):
        off = int(meta[USED])
        if off + 64 > arena.shape[0]:
            s["cache_off"][r] = -1
            s["cache_epoch"][r] = -1
            failed += 1
            continue
        row = HEADER + (int(s["y"][r]) % TILE) * 64
        arena[off:off + 64] = s["records"][s["tile"][r], row:row + 64]
        s["cache_off"][r] = off
        s["cache_epoch"][r] = meta[EPOCH]
        meta[USED] += 64
        meta[ALLOCATED] += 64
    meta[HIGH] = max(meta[HIGH], meta[USED])
    s["counters"][C.ARENA_FAILED] += failed
    return failed > 0


def deliver(s: dict, cfg, mail: list[list[bytes]]) -> None:
    """Every held message goes to its recipient's mailbox if the mailbox bound and the
    pool's free records allow, else stays held (deferred); one to a dead slot is
    returned as undeliverable. Per recipient, older messages (tick first sent) go
    first, then lower senders; recipients share the pool's free records in row order.

    ``mail`` (drained by :func:`act`) gets the admitted records appended; every
    mailbox is then written into the other pool buffer, packed in row order
    (mb_start int64[N], mb_count int32[N]), and pi[POOL_CUR] flips.
    """
    t = int(s["pi"][PI.TICK])
    n = s["alive"].shape[0]
    pending, to, first = s["out_pending"], s["out_to"], s["out_tick"]
    arrivals = [[] for _ in range(n)]
    undeliverable = retries = 0
    for q in map(int, np.flatnonzero(pending)):
        retries += int(first[q] < t)
        if not s["alive"][to[q]]:
            pending[q] = 0
            undeliverable += 1
        else:
            arrivals[to[q]].append(q)
    pool_free = cfg.pool - sum(map(len, mail))
    delivered = 0
    for r in range(n):
        room = min(cfg.mailbox - len(mail[r]), pool_free)
        for q in sorted(arrivals[r], key=lambda q: (int(first[q]), q))[:room]:
            mail[r].append(s["out_rec"][q].tobytes())
            pending[q] = 0
            delivered += 1
            pool_free -= 1
    cur = int(s["pi"][PI.POOL_CUR])
    nxt = s["pools"][1 - cur]
    off = 0
    for r in range(n):
        s["mb_start"][r] = off
        s["mb_count"][r] = len(mail[r])
        for rec in mail[r]:
            nxt[off] = np.frombuffer(rec, np.uint8)
            off += 1
    s["pi"][PI.POOL_CUR] = 1 - cur
    c = s["counters"]
    c[C.DELIVERED] += delivered
    c[C.UNDELIVERABLE] += undeliverable
    c[C.RETRIES] += retries
    c[C.DEFERRED] = int(pending.sum())
    s["gauges"][G.MB_WAITING] = off
    s["gauges"][G.MB_MAX] = max(map(len, mail), default=0)


def _spawn(s: dict, cfg, t: int) -> None:
    """Pop the top of the free-slot stack and give it a fresh agent keyed by (t, row)."""
    top = int(s["free_meta"][0]) - 1
    if top < 0:
        return
    r = int(s["free_slots"][top])
    s["free_meta"][0] = top
    key = row_key(cfg.seed, t, r)
    side = cfg.side
    px = F32(uniform(key, SPAWN_X) * side)
    py = F32(uniform(key, SPAWN_Y) * side)
    px = F32(0.0) if px >= side else px
    py = F32(0.0) if py >= side else py
    heading = float(F32(uniform(key, SPAWN_HEADING) * 2.0 * math.pi))
    s["x"][r], s["y"][r] = px, py
    s["vx"][r] = cfg.speed * math.cos(heading)
    s["vy"][r] = cfg.speed * math.sin(heading)
    s["energy"][r] = cfg.energy
    s["tile"][r] = _tile_of(px, py, side)
    s["target"][r] = -1
    s["cache_off"][r] = -1
    s["cache_epoch"][r] = -1
    s["seq"][r] = 0
    s["mb_count"][r] = 0
    s["out_pending"][r] = 0
    s["alive"][r] = True
    s["counters"][C.SPAWNED] += 1
    s["pi"][PI.ALIVE] += 1


def chaos(s: dict, cfg) -> None:
    """Each live agent dies with probability kill_rate (its unread mailbox discarded and
    counted, a message it holds undeliverable); its slot goes on the free stack; as
    many agents are then spawned from the top of the stack."""
    t = int(s["pi"][PI.TICK])
    c = s["counters"]
    killed = 0
    for r in range(s["alive"].shape[0]):
        if not (s["alive"][r] and uniform(row_key(cfg.seed, t, r), KILL) < cfg.kill_rate):
            continue
        discarded = int(s["mb_count"][r])
        held = int(s["out_pending"][r])
        s["alive"][r] = False
        s["mb_count"][r] = 0
        s["out_pending"][r] = 0
        s["cache_off"][r] = -1
        s["cache_epoch"][r] = -1
        s["free_slots"][s["free_meta"][0]] = r
        s["free_meta"][0] += 1
        c[C.DISCARDED] += discarded
        c[C.UNDELIVERABLE] += held
        c[C.DEFERRED] -= held
        c[C.KILLED] += 1
        s["gauges"][G.MB_WAITING] -= discarded
        s["pi"][PI.ALIVE] -= 1
        killed += 1
    for _ in range(killed):
        _spawn(s, cfg, t)


def end_tick(s: dict, cfg) -> None:
    """Count the tick; the arena's epoch rotates every ``epoch_ticks`` ticks."""
    c = s["counters"]
    c[C.AGENT_TICKS] += s["pi"][PI.ALIVE]
    c[C.TICKS] += 1
    s["pi"][PI.TICK] += 1
    meta = s["arena_meta"]
    if s["pi"][PI.TICK] % cfg.epoch_ticks == 0:
        meta[USED] = 0
        meta[EPOCH] += 1
    s["gauges"][G.ARENA_USED] = meta[USED]


def tick(s: dict, cfg, tile_key: bytes, message_key: bytes) -> bool:
    """Advance ``s`` by one tick in place. Returns True when the arena ran out of room
    (the engine then raises ArenaExhausted after the tick)."""
    refresh_tiles(s, cfg, tile_key)
    mail = mailboxes(s)
    act(s, cfg, message_key, mail)
    exhausted = slice_arena(s)
    deliver(s, cfg, mail)
    chaos(s, cfg)
    end_tick(s, cfg)
    return exhausted
