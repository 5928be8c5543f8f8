"""The phases of a tick, each one compiled function over a :class:`.state.WorldState`.

``dod_sim.world`` holds the schedule (which phases run, in which order, with the
columns each reads and writes) as data and calls these one by one. Each phase returns
a status code from :mod:`.status`; it always finishes its pass, so the world is
consistent when Python turns a code into an exception.
"""

import numpy as np

from .._jit import kernel
from ..arena import USED, rotate_epoch
from ..mailbox import deliver
from ..rng import KILL, row_key, uniform
from ..status import OK, UNKNOWN_AGENT
from .agents import act, init_row, kill_row, pop_slot
from .cache import slice_rows
from .state import C, G, PF, PI
from .tiles import RECORD, pick_distinct, refresh_tiles


@kernel
def tiles(s):
    """Refresh ``tile_updates`` distinct tiles (version + 1, new payload, signed, some
    tampered with after signing), verify each in constant time, and apply and decode
    the ones that pass (kernels.tiles.refresh_tiles)."""
    seed = s.pi[PI.SEED]
    tick = s.pi[PI.TICK]
    pick_distinct(seed, tick, s.records.shape[0], s.stage_ids)
    tampered, failed = refresh_tiles(
        s.stage_ids, s.stage, s.stage_tags, s.stage_tampered, s.stage_ok, s.records, s.tags,
        s.cost, s.pi[PI.TILES_PER_SIDE], s.pi[PI.ALGO], s.tile_ks, s.tile_hmac_ks, seed, tick,
        True, s.pf[PF.TAMPER_RATE])
    s.counters[C.TILES_REFRESHED] += s.stage_ids.shape[0]
    s.counters[C.TILES_TAMPERED] += tampered
    s.counters[C.TILES_REJECTED] += failed
    s.counters[C.TILE_BYTES_VERIFIED] += s.stage.shape[0] * RECORD
    return OK


@kernel
def agents_act(s):
    """Verify and drain inboxes, steer, move, pay, flag tile entries, send and sign
    (kernels.agents.act)."""
    pool = s.pools[s.pi[PI.POOL_CUR]]
    pf = s.pf
    tick = s.pi[PI.TICK]
    hot_target = -1
    since = tick - s.pi[PI.HOT_START]
    if since >= 0:
        if s.pi[PI.HOT_EVERY] > 0:
            since %= s.pi[PI.HOT_EVERY]
        if since < s.pi[PI.HOT_TICKS]:
            hot_target = s.pi[PI.HOT_TARGET]
    act(s.pi[PI.SEED], tick, s.pi[PI.SIDE], pf[PF.SPEED], pf[PF.TURN_MAX],
        pf[PF.SEND_RATE], pf[PF.TAG_TAMPER_RATE], hot_target, pf[PF.HOT_SHARE],
        s.pi[PI.BUDGET], s.pi[PI.CHUNK],
        s.msg_ks, pool, s.pool_ok, s.mb_start, s.mb_count, s.alive,
        s.x, s.y, s.vx, s.vy, s.energy, s.tile, s.target, s.seq, s.entered, s.fresh, s.cost,
        s.out_rec, s.out_to, s.out_tick, s.out_pending, s.chunk_entries, s.tally, s.busy,
        s.tmp)
    s.counters[C.READ] += s.tmp[0]
    s.counters[C.TAGS_VERIFIED] += s.tmp[0]
    s.counters[C.TAGS_REJECTED] += s.tmp[1]
    s.counters[C.SENT] += s.tmp[2]
    s.counters[C.TILES_ENTERED] += s.tmp[3]
    s.counters[C.TAGS_TAMPERED] += s.tmp[4]
    s.counters[C.DEFERRED] += s.tmp[2]
    return OK


@kernel
def arena_slice(s):
    """Slice each entering agent's tile row into the arena; keep the handles."""
    failed = slice_rows(s.entered, s.chunk_entries, s.pi[PI.CHUNK], s.tile, s.y,
                        s.records, s.arena, s.arena_meta, s.chunk_base, s.cache_off,
                        s.cache_epoch, s.tally, s.status, s.busy)
    s.counters[C.ARENA_FAILED] += failed
    return s.status[0]


@kernel
def deliver_messages(s):
    """Move held messages into mailboxes (kernels.mailbox.deliver); swap pool buffers."""
    cur = s.pi[PI.POOL_CUR]
    code = deliver(s.pools[cur], s.pools[1 - cur], s.mb_start, s.mb_count, s.out_rec,
                   s.out_to, s.out_tick, s.out_pending, s.alive, s.pi[PI.TICK],
                   s.pi[PI.MAILBOX], s.pi[PI.DCHUNK],
                   s.d_counts, s.d_cursor, s.d_bucket_start, s.d_arrivals, s.d_arr_count,
                   s.d_arr_start, s.d_by_recipient, s.d_keys, s.d_want, s.d_remain,
                   s.d_allot, s.d_chunk_base, s.d_tally, s.busy, s.tmp)
    if code != OK:
        return code
    s.pi[PI.POOL_CUR] = 1 - cur
    s.gauges[G.MB_WAITING] = s.tmp[4]
    s.gauges[G.MB_MAX] = s.tmp[5]
    s.counters[C.DELIVERED] += s.tmp[0]
    s.counters[C.UNDELIVERABLE] += s.tmp[1]
    s.counters[C.RETRIES] += s.tmp[2]
    s.counters[C.DEFERRED] = s.tmp[3]
    return OK


@kernel
def _kill(s, r):
    discarded, undeliverable = kill_row(r, s.alive, s.mb_count, s.out_pending, s.cache_off,
                                        s.cache_epoch, s.free_slots, s.free_meta)
    s.counters[C.DISCARDED] += discarded
    s.gauges[G.MB_WAITING] -= discarded
    s.counters[C.UNDELIVERABLE] += undeliverable
    s.counters[C.DEFERRED] -= undeliverable
    s.counters[C.KILLED] += 1
    s.pi[PI.ALIVE] -= 1


@kernel
def _spawn(s, tick):
    r = pop_slot(s.free_slots, s.free_meta)
    if r < 0:
        return -1
    pf = s.pf
    init_row(r, s.pi[PI.SEED], tick, s.pi[PI.SIDE], pf[PF.SPEED], pf[PF.ENERGY],
             s.x, s.y, s.vx, s.vy, s.energy, s.tile, s.target, s.cache_off,
             s.cache_epoch, s.seq, s.mb_count, s.out_pending)
    s.alive[r] = True
    s.counters[C.SPAWNED] += 1
    s.pi[PI.ALIVE] += 1
    return r


@kernel
def chaos_kill_spawn(s):
    """Kill each live agent with probability ``kill_rate``; spawn as many into free slots.

    Serial over rows (the rate is small and the free stack is shared), so the slots
    reused are the same whatever the thread count.
    """
    seed = s.pi[PI.SEED]
    tick = s.pi[PI.TICK]
    rate = s.pf[PF.KILL_RATE]
    killed = 0
    for r in range(s.alive.shape[0]):
        if s.alive[r] and uniform(row_key(seed, tick, r), KILL) < rate:
            _kill(s, r)
            killed += 1
    for _ in range(killed):
        _spawn(s, tick)
    return OK


@kernel
def end_tick(s):
    """Count the tick, advance the clock and rotate the arena epoch when it is due."""
    s.counters[C.AGENT_TICKS] += s.pi[PI.ALIVE]
    s.counters[C.TICKS] += 1
    s.pi[PI.TICK] += 1
    if s.pi[PI.TICK] % s.pi[PI.EPOCH_TICKS] == 0:
        rotate_epoch(s.arena_meta)
    s.gauges[G.ARENA_USED] = s.arena_meta[USED]
    return OK


# ---- operations the Python API calls between ticks ------------------------------------


@kernel
def init_world(s, agents):
    """Spawn ``agents`` agents into rows 0..agents-1 and sign and verify every tile of
    the initial map (tick -1), so the first tick starts from a verified map."""
    n = s.alive.shape[0]
    # the free stack pops the lowest row first
    s.free_meta[0] = 0
    for r in range(n - 1, -1, -1):
        s.free_slots[s.free_meta[0]] = r
        s.free_meta[0] += 1
        s.alive[r] = False
        s.mb_count[r] = 0
        s.mb_start[r] = 0
        s.out_pending[r] = 0
        s.cache_off[r] = -1
        s.cache_epoch[r] = -1
        s.target[r] = -1
    for _ in range(agents):
        _spawn(s, -1)
    s.counters[C.SPAWNED] = 0
    # the whole map is staged in place (stage = records, ids[j] = j) at version 0
    n_tiles = s.records.shape[0]
    ids = np.arange(n_tiles).astype(np.int32)
    _, failed = refresh_tiles(
        ids, s.records, s.tags, np.empty(n_tiles, np.uint8), np.empty(n_tiles, np.bool_),
        s.records, s.tags, s.cost, s.pi[PI.TILES_PER_SIDE], s.pi[PI.ALGO], s.tile_ks,
        s.tile_hmac_ks, s.pi[PI.SEED], -1, False, 0.0)
    return failed


@kernel
def kill_ids(s, ids):
    """Kill the agents ``ids`` (int64[k]); UNKNOWN_AGENT and nothing done if any id is
    out of range or dead (checked before the first kill)."""
    n = s.alive.shape[0]
    for i in range(ids.shape[0]):
        r = ids[i]
        if r < 0 or r >= n or not s.alive[r]:
            s.status[0] = UNKNOWN_AGENT
            s.status[1] = r
            s.status[2] = n
            return UNKNOWN_AGENT
    for i in range(ids.shape[0]):
        if s.alive[ids[i]]:
            _kill(s, ids[i])
    return OK


@kernel
def spawn_n(s, count, out):
    """Spawn ``count`` agents into free slots; their rows go to out : int64[count]."""
    tick = s.pi[PI.TICK]
    for i in range(count):
        out[i] = _spawn(s, tick)
    return OK


@kernel
def census(s):
    """Count message records where they are, independently of the delivery counters.

    Writes s.tmp[0:3]: (records in live agents' mailboxes, records held by
    senders, records left in dead agents' mailboxes, which must be 0).
    """
    in_mail = 0
    held = 0
    dead_mail = 0
    for r in range(s.alive.shape[0]):
        if s.alive[r]:
            in_mail += s.mb_count[r]
        else:
            dead_mail += s.mb_count[r]
        held += s.out_pending[r]
    s.tmp[0] = in_mail
    s.tmp[1] = held
    s.tmp[2] = dead_mail
    return OK
