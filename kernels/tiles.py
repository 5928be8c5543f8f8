"""Tile kernels: pick, generate, tamper, and apply verified tiles to the cost grid.

A tile *record* is the exact byte string its tag covers (WORKLOAD.md, "Tiles"):
``tile_id (u32 LE) || version (u32 LE) || payload (1024 bytes)``, 1,032 bytes. The
payload is 16 rows of 64 bytes; a row is 16 cells of 4 bytes {cost u8, food u8,
height u16 LE}. Tags are computed over whole records by ``blake2b``/``sha256`` kernels.
"""

import numpy as np
from numba import prange

from ._jit import kernel
from .rng import TILE_BYTES, TILE_PICK, TILE_TAMPER, TILE_TAMPER_BYTE, draw, row_key, uniform

__all__ = [
    "HEADER", "PAYLOAD", "RECORD", "ROW_BYTES", "TILE_CELLS", "CELL_BYTES",
    "write_header", "read_version", "generate", "pick_distinct", "tamper", "apply_verified",
    "decode_tile",
]

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


@kernel(parallel=True)
def generate_stage(stage, ids, records, seed, tick):
    """Stage tile ids[j] at its current version + 1 with a fresh payload, in parallel.

    stage : uint8[k, RECORD], written; ids : int32[k]; records : uint8[n_tiles, RECORD], read
    """
    for j in prange(ids.shape[0]):
        t = ids[j]
        generate(stage[j], seed, tick, t, read_version(records[t]) + 1)


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
def tamper(stage, ids, seed, tick, rate, tampered):
    """Flip one payload byte (XOR 0xFF) of each staged record with probability ``rate``.

    stage : uint8[k, RECORD], written; ids : int32[k], read
    tampered : uint8[k], written (1 where a byte was flipped). Returns the count.
    """
    n = 0
    for j in range(stage.shape[0]):
        key = row_key(seed, tick, ids[j])
        hit = uniform(key, TILE_TAMPER) < rate
        tampered[j] = 1 if hit else 0
        if hit:
            pos = HEADER + np.int64(draw(key, TILE_TAMPER_BYTE) % np.uint64(PAYLOAD))
            stage[j, pos] ^= np.uint8(0xFF)
            n += 1
    return n


@kernel
def apply_verified(stage, stage_tags, ok, ids, records, tags, cost, tiles_per_side):
    """Make every verified staged tile current and decode its cost cells.

    stage : uint8[k, RECORD], stage_tags : uint8[k, 32], ok : bool[k], ids : int32[k], read
    records : uint8[n_tiles, RECORD], tags : uint8[n_tiles, 32], written for ok rows only
    cost : uint8[side, side], written for the cells of ok tiles only
    A tile that failed is never applied: it keeps its previous verified content.
    Returns the number applied.
    """
    applied = 0
    for j in range(stage.shape[0]):
        if not ok[j]:
            continue
        t = ids[j]
        # element loops: a slice assignment compiles numpy's broadcast-error message
        # (measured 3-4 s of every cold start). The widths are the docstring's, as
        # World allocates them: stage and records rows are RECORD bytes, tags 32.
        for b in range(stage.shape[1]):
            records[t, b] = stage[j, b]
        for b in range(stage_tags.shape[1]):
            tags[t, b] = stage_tags[j, b]
        decode_tile(stage[j], t, tiles_per_side, cost)
        applied += 1
    return applied


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
