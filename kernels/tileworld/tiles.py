"""Tile kernels: pick, generate, sign, tamper, verify, and apply verified tiles to the
cost grid.

A tile *record* is the exact byte string its tag covers (WORKLOAD.md, "Tiles"):
``tile_id (u32 LE) || version (u32 LE) || payload (1024 bytes)``, 1,032 bytes. The
payload is 16 rows of 64 bytes; a row is 16 cells of 4 bytes {cost u8, food u8,
height u16 LE}. Tags are computed over whole records by the ``blake2b_lanes`` (keyed
BLAKE2b) or ``sha256`` (HMAC-SHA256) kernels, as ``algo`` says.

A tick's tile work (:func:`refresh_tiles`) is one parallel region over fixed chunks of
staged tiles (``chunk_rows(RECORD)``, 8 tiles), each generated, signed, tampered with,
verified and applied in turn: one region rather than one per operation, because waking
the other workers for a region costs about as much as hashing a chunk.
"""

import numpy as np
from numba import prange

from .._jit import kernel
from ..blake2b import chunk_rows, count_false
from ..blake2b_lanes import mac_range_best, verify_range_best
from ..rng import TILE_BYTES, TILE_PICK, TILE_TAMPER, TILE_TAMPER_BYTE, draw, row_key, uniform
from ..sha256 import hmac_range, hmac_verify_range

__all__ = [
    "HEADER", "PAYLOAD", "RECORD", "ROW_BYTES", "TILE_CELLS", "CELL_BYTES",
    "ALGO_BLAKE2B", "ALGO_HMAC_SHA256",
    "write_header", "read_version", "generate", "pick_distinct", "sign_range",
    "verify_range", "refresh_tiles", "decode_tile",
]

ALGO_BLAKE2B = 0
ALGO_HMAC_SHA256 = 1

HEADER = 8
PAYLOAD = 1024
RECORD = HEADER + PAYLOAD
ROW_BYTES = 64
TILE_CELLS = 16
CELL_BYTES = 4


@kernel
def write_header(rec, tile_id, version):
    """rec : uint8[RECORD], written at [0:8] with tile_id and version as u32 LE."""
    for i in range(4):
        rec[i] = np.uint8((tile_id >> (8 * i)) & 0xFF)
        rec[4 + i] = np.uint8((version >> (8 * i)) & 0xFF)


@kernel
def read_version(rec):
    """The u32 LE version in rec[4:8]."""
    return np.int64(rec[4]) | (np.int64(rec[5]) << 8) | (np.int64(rec[6]) << 16) | (np.int64(rec[7]) << 24)


@kernel
def generate(rec, seed, tick, tile_id, version):
    """Write a fresh pseudo-random record of ``tile_id`` at ``version`` into rec.

    rec : uint8[RECORD], written. The payload is 128 words drawn from the key of
    (seed, tick, tile_id), so it depends on nothing else.
    """
    write_header(rec, tile_id, version)
    key = row_key(seed, tick, tile_id)
    for w in range(PAYLOAD // 8):
        z = draw(key, TILE_BYTES + 16 * w)
        p = HEADER + 8 * w
        for b in range(8):
            rec[p + b] = np.uint8((z >> np.uint64(8 * b)) & np.uint64(0xFF))


@kernel
def pick_distinct(seed, tick, n_tiles, out):
    """Fill out : int32[k] with k distinct tile ids in [0, n_tiles), pseudo-randomly.

    Rejection sampling against the ids already chosen; k is small (64) and k <= n_tiles
    is checked by the config, so this terminates quickly.
    """
    k = out.shape[0]
    key = row_key(seed, tick, 0)
    attempt = 0
    j = 0
    while j < k:
        cand = np.int32(draw(key, TILE_PICK + 64 * attempt) % np.uint64(n_tiles))
        attempt += 1
        dup = False
        for i in range(j):
            if out[i] == cand:
                dup = True
                break
        if not dup:
            out[j] = cand
            j += 1


@kernel
def sign_range(algo, ks, hmac_ks, rows, tags, lo, hi):
    """Tag records rows[lo:hi] into tags[lo:hi] with ``algo`` (serially).

    ks : uint64[34] (BLAKE2b key schedule), hmac_ks : uint32[16] (HMAC), read
    rows : uint8[k, RECORD], read; tags : uint8[k, 32], written
    """
    if algo == ALGO_BLAKE2B:
        mac_range_best(ks, rows, RECORD, tags, lo, hi)
    else:
        hmac_range(hmac_ks, rows, RECORD, tags, lo, hi)


@kernel
def verify_range(algo, ks, hmac_ks, rows, tags, ok, lo, hi):
    """Check tags[lo:hi] against records rows[lo:hi] in constant time each (serially);
    ok : bool[k], written. Returns the failures."""
    if algo == ALGO_BLAKE2B:
        return verify_range_best(ks, rows, RECORD, tags, ok, lo, hi)
    return hmac_verify_range(hmac_ks, rows, RECORD, tags, ok, lo, hi)


@kernel
def _tamper_one(rec, tile_id, seed, tick, rate):
    """Flip one payload byte of rec (XOR 0xFF) with probability ``rate``; 1 if flipped."""
    key = row_key(seed, tick, tile_id)
    if uniform(key, TILE_TAMPER) >= rate:
        return 0
    rec[HEADER + np.int64(draw(key, TILE_TAMPER_BYTE) % np.uint64(PAYLOAD))] ^= np.uint8(0xFF)
    return 1


@kernel
def _apply_one(stage, stage_tags, j, t, records, tags, cost, tiles_per_side):
    # element loops: a slice assignment compiles numpy's broadcast-error message
    # (measured 3-4 s of every cold start). The widths are the docstring's, as
    # World allocates them: stage and records rows are RECORD bytes, tags 32.
    for b in range(stage.shape[1]):
        records[t, b] = stage[j, b]
    for b in range(stage_tags.shape[1]):
        tags[t, b] = stage_tags[j, b]
    decode_tile(stage[j], t, tiles_per_side, cost)


@kernel(parallel=True)
def refresh_tiles(ids, stage, stage_tags, tampered, ok, records, tags, cost, tiles_per_side,
                  algo, ks, hmac_ks, seed, tick, bump, rate):
    """Refresh tiles ids[j] and make current those that verify (WORKLOAD.md, tick step 1).

    Per staged tile: a fresh payload at records' version + 1 (at version 0 unless
    ``bump``: the initial map), its tag, then with probability ``rate`` one payload byte
    flipped (after signing: bad input that verification must catch); then the tag is
    verified in constant time, and a tile that passes is copied into records/tags and
    decoded into the cost grid. A tile that fails keeps its previous verified content.

    ids : int32[k], distinct tile ids, read
    stage : uint8[k, RECORD], stage_tags : uint8[k, 32], tampered : uint8[k] (1 where a
    byte was flipped), ok : bool[k], written
    records : uint8[n_tiles, RECORD], tags : uint8[n_tiles, 32], cost : uint8[side, side],
    written for the ids that pass only
    ``stage`` and ``stage_tags`` may be ``records`` and ``tags`` themselves with
    ``ids[j] == j`` (the initial map, staged in place).
    Returns (tampered with, failed). Parallel over fixed chunks of ``chunk_rows(RECORD)``
    tiles, each taken through the whole step in one region.
    """
    k = ids.shape[0]
    step = chunk_rows(RECORD)
    for c in prange((k + step - 1) // step):
        lo = c * step
        hi = min(k, lo + step)
        for j in range(lo, hi):
            t = ids[j]
            generate(stage[j], seed, tick, t, read_version(records[t]) + 1 if bump else 0)
        sign_range(algo, ks, hmac_ks, stage, stage_tags, lo, hi)
        for j in range(lo, hi):
            tampered[j] = _tamper_one(stage[j], ids[j], seed, tick, rate)
        verify_range(algo, ks, hmac_ks, stage, stage_tags, ok, lo, hi)
        for j in range(lo, hi):
            if ok[j]:
                _apply_one(stage, stage_tags, j, ids[j], records, tags, cost, tiles_per_side)
    # counted serially: a prange reduction allocates its partials on every call
    n = 0
    for j in range(k):
        n += tampered[j]
    return n, count_false(ok, k)


@kernel
def decode_tile(rec, t, tiles_per_side, cost):
    """Write the 16 x 16 cost cells of tile ``t`` (record ``rec`` : uint8[RECORD]) into
    cost : uint8[side, side]; a cell's cost is the first byte of its 4."""
    ty = t // tiles_per_side
    tx = t % tiles_per_side
    for r in range(TILE_CELLS):
        base = HEADER + r * ROW_BYTES
        y = ty * TILE_CELLS + r
        for c in range(TILE_CELLS):
            cost[y, tx * TILE_CELLS + c] = rec[base + c * CELL_BYTES]
