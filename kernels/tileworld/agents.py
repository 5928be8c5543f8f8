"""Per-agent kernels: initialise rows, the act pass of a tick, kill and spawn.

Every kernel walks whole columns; each row is written only by the iteration that owns
it, and parallel kernels split rows into fixed chunks of ``chunk`` rows, so results are
bit-identical for any thread count. All randomness comes from ``rng.row_key(seed, tick,
row)``.
"""

import math

import numpy as np
from numba import prange

from .._bits import bits_from_f32, f32_from_bits
from .._jit import inline, kernel
from .._stack import stack_empty
from ..blake2b_lanes import LANES, hash_group4, hash_group8
from ..clock import busy_add, cycles
from ..mailbox import HINT, SHARE, SIGNED, TAG, compose, record_u32, sum_column
from ..prefetch import prefetch
from ..rng import (
    AMOUNT, HOTSPOT, KIND, RECIPIENT, SEND, SPAWN_HEADING, SPAWN_X, SPAWN_Y, TAG_BIT,
    TAG_TAMPER, TURN, draw, row_key, uniform,
)
from .tiles import TILE_CELLS

__all__ = ["init_row", "act", "kill_row", "pop_slot", "ACT_COUNTERS"]

# act() writes its tallies into out[0:5] in this order.
ACT_COUNTERS = ("read", "tags_rejected", "sent", "entered", "tag_tampered")

# Messages hashed per BLAKE2b call in the tick: 8 lanes where AVX-512 makes them one
# vector, else 4 (on AVX2 two 4-wide passes measured slower than one).
GROUP_LANES = 8 if LANES == 8 else 4
hash_group = hash_group8 if GROUP_LANES == 8 else hash_group4

# Rows ahead whose cell's cost is prefetched: the cost grid is read at random cells,
# and with a whole row's steering between two reads the misses would not overlap.
COST_AHEAD = 8


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


@inline
def _prefetch_cost(cost, fside, x, y, vx, vy, q):
    """Prefetch the cost of the cell row q reaches moving straight on (its turn is at
    most a fraction of a cell away, nearly always in the same cache line)."""
    px = _wrap(x[q] + vx[q], fside)
    py = _wrap(y[q] + vy[q], fside)
    prefetch(cost, np.int64(py) * cost.shape[1] + np.int64(px))


# atan(x) = x (1 + x^2 (-1/3 + x^2 (1/5 - ...))): for |x| <= 0.2 the terms left out
# after x^11 are below 0.2^13 / 13 ~ 6e-11, far under float32's rounding.
_ATAN = tuple(np.float32(c) for c in (1.0, -1 / 3, 1 / 5, -1 / 7, 1 / 9, -1 / 11))
_ATAN_SERIES_MAX = np.float32(0.2)


@inline
def _atan_small(x):
    x2 = x * x
    a1, a3, a5, a7, a9, a11 = _ATAN
    return x * (a1 + x2 * (a3 + x2 * (a5 + x2 * (a7 + x2 * (a9 + x2 * a11)))))


@inline
def _toward(c, d, tm, tan_tm):
    """atan2(c, d) clamped to [-tm, tm], float32: the turn towards the target, with c, d
    the cross and dot products of velocity and target direction.

    For tm < 1.5 rad (``tan_tm = tan(tm)``, else -1) the angle lies inside the bound exactly
    when d > 0 and |c| <= d tan(tm); only then is it computed (by the series above for
    |c/d| <= 0.2, else atanf), and outside it is the bound itself. libm's atan2f was
    15 % of a tick at 30,000 agents (perf), for angles mostly clamped anyway."""
    if tan_tm >= 0 and c != 0:
        if d > 0 and abs(c) <= d * tan_tm:
            x = c / d
            a = _atan_small(x) if abs(x) <= _ATAN_SERIES_MAX else np.float32(math.atan(x))
            return min(max(a, -tm), tm)  # the test above may round either way at the bound
        return tm if c > 0 else -tm
    return min(max(np.float32(math.atan2(c, d)), -tm), tm)


@kernel
def _torus_delta(d, side):
    """The shortest signed displacement on a ring of length side."""
    half = side / np.float32(2.0)
    if d > half:
        d -= side
    elif d < -half:
        d += side
    return d


@inline
def _act_row(r, key, side, tiles_per_side, speed, steer, send_rate, hot_target,
             hot_share, budget, tick, pool, pool_ok, mb_start, mb_count,
             x, y, vx, vy, energy, tile, target, seq, entered, fresh, cost,
             out_rec, out_to, out_tick, out_pending):
    """One live agent's tick; returns (read, rejected, sent, entered).
    steer : (turn_max, float32 tan(turn_max), or -1 from 1.5 rad up).

    At most 30 arguments: CPython 3.11 compiles a call with more as ``f(*args)``,
    which Numba cannot inline."""
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
    # The velocity is rotated by the turn, not rebuilt from a heading: one sincos and,
    # only with a target, one atan2 (of the angle between velocity and target) instead
    # of an atan2 per agent, which perf showed as the tick's largest libm cost.
    px = x[r]
    py = y[r]
    ovx = vx[r]
    ovy = vy[r]
    turn_max, tan_tm = steer
    turn = np.float32((uniform(key, TURN) * 2.0 - 1.0) * turn_max)
    t = target[r]
    if t >= 0:
        cx = np.float32((t % tiles_per_side) * TILE_CELLS) + half
        cy = np.float32((t // tiles_per_side) * TILE_CELLS) + half
        dx = _torus_delta(cx - px, fside)
        dy = _torus_delta(cy - py, fside)
        turn += _toward(ovx * dy - ovy * dx, ovx * dx + ovy * dy, np.float32(turn_max), tan_tm)
    cs = np.float32(math.cos(turn))
    sn = np.float32(math.sin(turn))
    nvx = ovx * cs - ovy * sn
    nvy = ovx * sn + ovy * cs
    mag = np.float32(math.sqrt(nvx * nvx + nvy * nvy))
    if mag > 0:  # renormalise so rounding never drifts the speed
        scale = np.float32(speed) / mag
        nvx *= scale
        nvy *= scale
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
    # e. send, unless a message is still held (backpressure); during a hot-spot burst
    # a share of all agents sends to one agent instead
    sent = 0
    burst = hot_target >= 0 and hot_target != r and uniform(key, HOTSPOT) < hot_share
    if out_pending[r] == 0 and (burst or uniform(key, SEND) < send_rate):
        if burst:
            rcpt = hot_target
        else:
            rcpt = np.int64(uniform(key, RECIPIENT) * (x.shape[0] - 1))
            if rcpt >= r:
                rcpt += 1
        rec = out_rec[r]
        if uniform(key, KIND) < 0.5:
            amount = np.float32(0.5 * uniform(key, AMOUNT))
            energy[r] -= amount
            compose(rec, SHARE, r, tick, seq[r], np.int64(bits_from_f32(amount)))
        else:
            compose(rec, HINT, r, tick, seq[r], np.int64(nt))
        fresh[r] = 1  # signed, in a group of lanes, at the end of the chunk
        out_to[r] = np.int32(rcpt)
        out_tick[r] = np.int32(tick)
        out_pending[r] = 1
        seq[r] += 1
        sent = 1
    return read, rejected, sent, ent


@inline
def _digest_byte(hv, j, i):
    return np.uint8((hv[(i >> 3) * GROUP_LANES + j] >> np.uint64(8 * (i & 7))) & np.uint64(0xFF))


@inline
def _verify_group(ks, pool, group, g, hv, pool_ok):
    """Verify the 16-byte tags of pool records group[:g] (one lane each), constant time."""
    hash_group(ks, pool, group, g, SIGNED, hv)
    for j in range(g):
        p = group[j]
        diff = 0
        for i in range(TAG):
            diff |= _digest_byte(hv, j, i) ^ pool[p, SIGNED + i]
        pool_ok[p] = diff == 0


@inline
def _sign_group(ks, out_rec, group, g, hv, seed, tick, tag_tamper_rate):
    """Sign held records out_rec[group[:g]]; then, with probability tag_tamper_rate per
    record, flip one tag bit in flight (chaos). Returns the number tampered."""
    hash_group(ks, out_rec, group, g, SIGNED, hv)
    tampered = 0
    for j in range(g):
        r = group[j]
        for i in range(TAG):
            out_rec[r, SIGNED + i] = _digest_byte(hv, j, i)
        if tag_tamper_rate > 0.0:
            key = row_key(seed, tick, r)
            if uniform(key, TAG_TAMPER) < tag_tamper_rate:
                bit = np.int64(draw(key, TAG_BIT) % np.uint64(128))
                out_rec[r, SIGNED + (bit >> 3)] ^= np.uint8(1 << (bit & 7))
                tampered += 1
    return tampered


@kernel(parallel=True)
def act(seed, tick, side, speed, turn_max, send_rate, tag_tamper_rate, hot_target,
        hot_share, budget, chunk, ks, pool, pool_ok, mb_start, mb_count, alive,
        x, y, vx, vy, energy, tile, target, seq, entered, fresh, cost,
        out_rec, out_to, out_tick, out_pending, chunk_entries, tally, busy, out):
    """One tick of every live agent, in its own row (WORKLOAD.md, "One tick", step 2).

    Per chunk of rows, in one parallel region (each launch costs microseconds):
    first the tags of every record the chunk's agents drain this tick are verified,
    ``GROUP_LANES`` records per BLAKE2b call (``pool_ok``); then each agent's row:

    a. drain up to ``budget`` records from the head of its mailbox; apply those whose
       ``pool_ok`` is set (SHARE adds energy, HINT sets the target), count the rest;
    b. turn by uniform[-turn_max, turn_max] plus the angle to the target tile's centre
       clamped to +-turn_max; move and wrap on the torus; clear the target on arrival;
    c. pay the cost of the new cell: energy -= cost / 255;
    d. flag ``entered[r]`` when the agent moved into a new tile (the arena pass slices);
    e. unless a message is still held, send one with probability ``send_rate`` to a
       uniform other slot; the chunk's new messages are then signed ``GROUP_LANES`` at
       a time, and one tag bit is flipped with probability ``tag_tamper_rate``. When
       ``hot_target >= 0`` (a hot-spot burst), each agent is with probability
       ``hot_share`` a burst sender this tick and sends to ``hot_target`` instead.

    Columns (length N = capacity) are read and written in row r only; ``cost`` is
    uint8[side, side], read. chunk_entries : int64[n_chunks], written (tiles entered per
    chunk). tally : int64[n_chunks, >= 5], scratch. busy : int64[threads *
    BUSY_STRIDE], per-worker cycles, added to. out : int64[5], written with ACT_COUNTERS.
    """
    n = x.shape[0]
    n_chunks = chunk_entries.shape[0]
    tiles_per_side = side // TILE_CELLS
    for c in prange(n_chunks):
        t0 = cycles()
        lo = c * chunk
        hi = min(n, lo + chunk)
        group = stack_empty(8, np.int64)
        hv = stack_empty(64, np.uint64)
        g = 0
        for r in range(lo, hi):
            if alive[r]:
                s0 = mb_start[r]
                for i in range(s0, s0 + min(np.int64(mb_count[r]), budget)):
                    group[g] = i
                    g += 1
                    if g == GROUP_LANES:
                        _verify_group(ks, pool, group, g, hv, pool_ok)
                        g = 0
        if g > 0:
            _verify_group(ks, pool, group, g, hv, pool_ok)
        c_read = 0
        c_rej = 0
        c_sent = 0
        c_ent = 0
        fside = np.float32(side)
        steer = (turn_max, np.float32(math.tan(turn_max)) if turn_max < 1.5 else np.float32(-1.0))
        for q in range(lo, min(hi, lo + COST_AHEAD)):
            _prefetch_cost(cost, fside, x, y, vx, vy, q)
        for r in range(lo, hi):
            if r + COST_AHEAD < hi:
                _prefetch_cost(cost, fside, x, y, vx, vy, r + COST_AHEAD)
            entered[r] = 0
            fresh[r] = 0
            if alive[r]:
                a, b, d, e = _act_row(
                    r, row_key(seed, tick, r), side, tiles_per_side, speed, steer,
                    send_rate, hot_target, hot_share, budget, tick, pool, pool_ok,
                    mb_start, mb_count, x, y, vx, vy, energy, tile, target, seq, entered,
                    fresh, cost, out_rec, out_to, out_tick, out_pending)
                c_read += a
                c_rej += b
                c_sent += d
                c_ent += e
        c_tamp = 0
        g = 0
        for r in range(lo, hi):
            if fresh[r]:
                group[g] = r
                g += 1
                if g == GROUP_LANES:
                    c_tamp += _sign_group(ks, out_rec, group, g, hv, seed, tick, tag_tamper_rate)
                    g = 0
        if g > 0:
            c_tamp += _sign_group(ks, out_rec, group, g, hv, seed, tick, tag_tamper_rate)
        chunk_entries[c] = c_ent
        tally[c, 0] = c_read
        tally[c, 1] = c_rej
        tally[c, 2] = c_sent
        tally[c, 3] = c_ent
        tally[c, 4] = c_tamp
        busy_add(busy, t0)
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
