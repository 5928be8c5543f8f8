"""The tileworld's map cache: each agent that enters a tile gets that tile's 64-byte row
holding its cell, copied into the epoch arena (:mod:`dod_sim.kernels.arena`), and keeps
the handle (WORKLOAD.md step 2d)."""

import numpy as np
from numba import prange

from .._jit import inline, kernel
from ..arena import ALLOCATED, EPOCH, HIGH, USED
from ..clock import busy_add, cycles
from ..mailbox import sum_column
from ..status import ARENA_EXHAUSTED, OK
from .tiles import HEADER, ROW_BYTES, TILE_CELLS

__all__ = ["slice_rows"]


@inline
def _slice_one(r, off, tile, y, records, arena, total, epoch, cache_off, cache_epoch):
    """Copy row r's tile row to arena[off:off+64]; 1 when there is no room (handle -1).

    Unsigned indices (no negative-index fix-up) let LLVM merge the byte loads and
    stores into 64-bit ones: the byte loop was 5 % of a tick at 30,000 agents."""
    if off + ROW_BYTES > total:
        cache_off[r] = -1
        cache_epoch[r] = -1
        return 1
    src = np.uint64(HEADER + (int(y[r]) % TILE_CELLS) * ROW_BYTES)
    t = np.uint64(tile[r])
    dst = np.uint64(off)
    for i in range(ROW_BYTES):
        k = np.uint64(i)
        arena[dst + k] = records[t, src + k]
    cache_off[r] = off
    cache_epoch[r] = epoch
    return 0


@kernel(parallel=True)
def _copy_slices(entered, chunk, tile, y, records, arena, total, epoch, chunk_base,
                 cache_off, cache_epoch, tally, busy):
    n = entered.shape[0]
    n_chunks = chunk_base.shape[0]
    for c in prange(n_chunks):
        t0 = cycles()
        off = chunk_base[c]
        f = 0
        for r in range(c * chunk, min(n, (c + 1) * chunk)):
            if entered[r]:
                f += _slice_one(r, off, tile, y, records, arena, total, epoch,
                                cache_off, cache_epoch)
                off += ROW_BYTES
        tally[c, 0] = f
        busy_add(busy, t0)
    return sum_column(tally, n_chunks, 0)


@kernel
def slice_rows(entered, chunk_entries, chunk, tile, y, records, arena, meta, chunk_base,
               cache_off, cache_epoch, tally, status, busy):
    """Slice, for every agent that entered a tile, the 64-byte row of that tile holding
    its cell into a fresh arena allocation and keep the handle (WORKLOAD.md step 2d).

    entered : uint8[N], chunk_entries : int64[n_chunks] (from the act pass), tile : int32[N],
    y : float32[N], records : uint8[n_tiles, 1032], read
    arena : uint8[arena_bytes], meta : int64[META], written
    chunk_base : int64[n_chunks], tally : int64[n_chunks, >= 1], scratch
    cache_off : int64[N], cache_epoch : int32[N], written for entering rows
    busy : int64[threads * BUSY_STRIDE], per-worker cycles, added to
    status : int64[4], written (code, requested, used, total) when the arena runs out;
    the pass still completes: rows that got no room have cache_off = -1.
    Offsets come from a prefix sum over chunks, so they do not depend on threads.
    """
    total = arena.shape[0]
    used = meta[USED]
    base = used
    for c in range(chunk_base.shape[0]):
        chunk_base[c] = base
        base += chunk_entries[c] * ROW_BYTES
    requested = base - used
    failed = _copy_slices(entered, chunk, tile, y, records, arena, total, meta[EPOCH],
                          chunk_base, cache_off, cache_epoch, tally, busy)
    got = requested - failed * ROW_BYTES
    meta[USED] = used + got
    meta[ALLOCATED] += got
    if meta[USED] > meta[HIGH]:
        meta[HIGH] = meta[USED]
    if failed > 0 and status[0] == OK:
        status[0] = ARENA_EXHAUSTED
        status[1] = requested
        status[2] = used
        status[3] = total
    return failed
