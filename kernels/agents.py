"""Per-agent kernels: initialise rows, the act pass of a tick, kill and spawn.

Every kernel walks whole columns; each row is written only by the iteration that owns
it, and parallel kernels split rows into fixed chunks of ``chunk`` rows, so results are
bit-identical for any thread count. All randomness comes from ``rng.row_key(seed, tick,
row)``.
"""

import math

import numpy as np
from numba import prange

from ._bits import bits_from_f32, f32_from_bits
from ._jit import inline, kernel
from .blake2b import mac_into
from .mailbox import HINT, SHARE, SIGNED, compose, record_u32, sum_column
from .rng import (
    AMOUNT, KIND, KILL, RECIPIENT, SEND, SPAWN_HEADING, SPAWN_X, SPAWN_Y, TAG_BIT,
    TAG_TAMPER, TURN, draw, row_key, uniform,
)
from .tiles import TILE_CELLS

__all__ = ["init_row", "act", "kill_row", "pop_slot", "ACT_COUNTERS"]

# act() writes its tallies into out[0:5] in this order.
ACT_COUNTERS = ("read", "tags_rejected", "sent", "entered", "tag_tampered")

_TWO_PI = np.float32(2.0 * math.pi)
_PI = np.float32(math.pi)


@kernel
def init_row(r, seed, tick, side, speed, energy0, x, y, vx, vy, energy, tile, target,
             cache_off, cache_epoch, seq, mb_count, out_pending):
    """Give row r a fresh agent: uniform position and heading, ``energy0``, no target.

    The draws come from the key of (seed, tick, r), so a spawn is reproducible.
    """
    key = row_key(seed, tick, r)
    px = np.float32(uniform(key, SPAWN_X) * side)
    py = np.float32(uniform(key, SPAWN_Y) * side)
    if px >= side:
        px = np.float32(0.0)
    if py >= side:
        py = np.float32(0.0)
    h = np.float32(uniform(key, SPAWN_HEADING) * 2.0 * math.pi)
    x[r] = px
    y[r] = py
    vx[r] = np.float32(speed) * np.float32(math.cos(h))
    vy[r] = np.float32(speed) * np.float32(math.sin(h))
    energy[r] = np.float32(energy0)
    tiles_per_side = side // TILE_CELLS
    tile[r] = np.int32((np.int64(py) // TILE_CELLS) * tiles_per_side + np.int64(px) // TILE_CELLS)
    target[r] = -1
    cache_off[r] = -1
    cache_epoch[r] = -1
    seq[r] = 0
    mb_count[r] = 0
    out_pending[r] = 0


@kernel
def _wrap(v, side):
    if v >= side:
        v -= side
    elif v < 0:
        v += side
    # float32 rounding can land exactly on side after the subtraction
    if v >= side:
        v = np.float32(0.0)
    return v


@kernel
def _torus_delta(d, side):
    """The shortest signed displacement on a ring of length side."""
    half = side / np.float32(2.0)
    if d > half:
        d -= side
    elif d < -half:
        d += side
    return d


@kernel
def _angle_diff(a):
    while a > _PI:
        a -= _TWO_PI
    while a < -_PI:
        a += _TWO_PI
    return a


@inline
def _act_row(r, key, side, tiles_per_side, speed, turn_max, send_rate, tag_tamper_rate,
             budget, n, tick, ks, pool, pool_ok, mb_start, mb_count,
             x, y, vx, vy, energy, tile, target, seq, entered, cost,
             out_rec, out_to, out_pending):
    """One live agent's tick; returns (read, rejected, sent, entered, tampered)."""
    fside = np.float32(side)
    half = np.float32(TILE_CELLS / 2)
    read = 0
    rejected = 0
    # a. drain
    k = min(np.int64(mb_count[r]), budget)
    s0 = mb_start[r]
    for i in range(s0, s0 + k):
        if not pool_ok[i]:
            rejected += 1
            continue
        kind = record_u32(pool[i], 0) & 0xFFFF
        word = np.uint32(record_u32(pool[i], 16))
        if kind == SHARE:
            energy[r] += f32_from_bits(word)
        elif kind == HINT:
            if word < tiles_per_side * tiles_per_side:
                target[r] = np.int32(word)
    mb_start[r] = s0 + k
    mb_count[r] -= np.int32(k)
    read += k
    # b. steer and move
    px = x[r]
    py = y[r]
    heading = np.float32(math.atan2(vy[r], vx[r]))
    turn = np.float32((uniform(key, TURN) * 2.0 - 1.0) * turn_max)
    t = target[r]
    if t >= 0:
        cx = np.float32((t % tiles_per_side) * TILE_CELLS) + half
        cy = np.float32((t // tiles_per_side) * TILE_CELLS) + half
        dx = _torus_delta(cx - px, fside)
        dy = _torus_delta(cy - py, fside)
        want = _angle_diff(np.float32(math.atan2(dy, dx)) - heading)
        tm = np.float32(turn_max)
        turn += min(max(want, -tm), tm)
    heading += turn
    nvx = np.float32(speed) * np.float32(math.cos(heading))
    nvy = np.float32(speed) * np.float32(math.sin(heading))
    vx[r] = nvx
    vy[r] = nvy
    px = _wrap(px + nvx, fside)
    py = _wrap(py + nvy, fside)
    x[r] = px
    y[r] = py
    # c. pay the cell's cost
    ix = np.int64(px)
    iy = np.int64(py)
    energy[r] -= np.float32(cost[iy, ix]) / np.float32(255.0)
    nt = np.int32((iy // TILE_CELLS) * tiles_per_side + ix // TILE_CELLS)
    if nt == t:
        target[r] = -1
    # d. a new tile: the arena pass slices its row into the agent's map cache
    ent = 0
    if nt != tile[r]:
        tile[r] = nt
        entered[r] = 1
        ent = 1
    # e. send, unless a message is still held (backpressure)
    sent = 0
    tampered = 0
    if out_pending[r] == 0 and uniform(key, SEND) < send_rate:
        rcpt = np.int64(uniform(key, RECIPIENT) * (n - 1))
        if rcpt >= r:
            rcpt += 1
        rec = out_rec[r]
        if uniform(key, KIND) < 0.5:
            amount = np.float32(0.5 * uniform(key, AMOUNT))
            energy[r] -= amount
            compose(rec, SHARE, r, tick, seq[r], np.int64(bits_from_f32(amount)))
        else:
            compose(rec, HINT, r, tick, seq[r], np.int64(nt))
        mac_into(ks, rec, 0, SIGNED, rec, SIGNED)
        if tag_tamper_rate > 0.0 and uniform(key, TAG_TAMPER) < tag_tamper_rate:
            bit = np.int64(draw(key, TAG_BIT) % np.uint64(128))
            rec[SIGNED + (bit >> 3)] ^= np.uint8(1 << (bit & 7))
            tampered = 1
        out_to[r] = np.int32(rcpt)
        out_pending[r] = 1
        seq[r] += 1
        sent = 1
    return read, rejected, sent, ent, tampered


@kernel(parallel=True)
def act(seed, tick, side, speed, turn_max, send_rate, tag_tamper_rate, budget, chunk,
        ks, pool, pool_ok, mb_start, mb_count, alive,
        x, y, vx, vy, energy, tile, target, seq, entered, cost,
        out_rec, out_to, out_pending, chunk_entries, tally, out):
    """One tick of every live agent, in its own row (WORKLOAD.md, "One tick", step 2).

    a. drain up to ``budget`` records from the head of its mailbox; apply those whose
       ``pool_ok`` is set (SHARE adds energy, HINT sets the target), count the rest;
    b. turn by uniform[-turn_max, turn_max] plus the angle to the target tile's centre
       clamped to +-turn_max; move and wrap on the torus; clear the target on arrival;
    c. pay the cost of the new cell: energy -= cost / 255;
    d. flag ``entered[r]`` when the agent moved into a new tile (the arena pass slices);
    e. unless a message is still held, send one with probability ``send_rate`` to a
       uniform other slot, signed; flip one tag bit with probability ``tag_tamper_rate``.

    Columns (length N = capacity) are read and written in row r only; ``cost`` is
    uint8[side, side], read. chunk_entries : int64[n_chunks], written (tiles entered per
    chunk). tally : int64[n_chunks, >= 5], scratch. out : int64[5], written with
    ACT_COUNTERS.
    """
    n = x.shape[0]
    n_chunks = chunk_entries.shape[0]
    tiles_per_side = side // TILE_CELLS
    for c in prange(n_chunks):
        c_read = 0
        c_rej = 0
        c_sent = 0
        c_ent = 0
        c_tamp = 0
        for r in range(c * chunk, min(n, (c + 1) * chunk)):
            entered[r] = 0
            if alive[r]:
                a, b, d, e, f = _act_row(
                    r, row_key(seed, tick, r), side, tiles_per_side, speed, turn_max,
                    send_rate, tag_tamper_rate, budget, n, tick, ks, pool, pool_ok,
                    mb_start, mb_count, x, y, vx, vy, energy, tile, target, seq, entered,
                    cost, out_rec, out_to, out_pending)
                c_read += a
                c_rej += b
                c_sent += d
                c_ent += e
                c_tamp += f
        chunk_entries[c] = c_ent
        tally[c, 0] = c_read
        tally[c, 1] = c_rej
        tally[c, 2] = c_sent
        tally[c, 3] = c_ent
        tally[c, 4] = c_tamp
    for j in range(5):
        out[j] = sum_column(tally, n_chunks, j)
    return 0


@kernel
def kill_row(r, alive, mb_count, out_pending, cache_off, cache_epoch, free_slots, meta):
    """Kill the agent in row r and push the slot on the free stack.

    Its unread mailbox is discarded, a message it still holds becomes undeliverable.
    meta : int64[>= 1], meta[0] is the free stack's size. Returns (discarded,
    undeliverable) for the counters.
    """
    alive[r] = False
    discarded = np.int64(mb_count[r])
    mb_count[r] = 0
    undeliverable = np.int64(out_pending[r])
    out_pending[r] = 0
    cache_off[r] = -1
    cache_epoch[r] = -1
    free_slots[meta[0]] = r
    meta[0] += 1
    return discarded, undeliverable


@kernel
def pop_slot(free_slots, meta):
    """Pop the next free slot (the lowest row freed last-in-first-out), or -1."""
    if meta[0] == 0:
        return -1
    meta[0] -= 1
    return np.int64(free_slots[meta[0]])
