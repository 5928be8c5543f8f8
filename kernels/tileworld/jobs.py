"""CPU-heavy jobs for the blocking pool (``World.submit``): serial, nogil kernels.

Each job runs on one pool thread and never starts parallel regions of its own, so
``blocking_threads`` bounds the cores the pool takes from the tick, as Tokio's
``spawn_blocking`` pool does. The tick keeps running meanwhile: jobs read copies of
the map taken between ticks, never the live arrays.
"""

from .._jit import kernel
from .tiles import TILE_CELLS, decode_tile, verify_range

__all__ = ["reverify_tiles", "rebuild_cost"]


@kernel
def reverify_tiles(algo, ks_blake2b, ks_hmac, records, tags, ok):
    """Verify every tile record again, one after the other, in constant time each.

    algo : tiles.ALGO_BLAKE2B or tiles.ALGO_HMAC_SHA256
    ks_blake2b : uint64[34]; ks_hmac : uint32[16]
    records : uint8[n, RECORD], tags : uint8[n, 32], read; ok : bool[n], written.
    Returns the number that failed.
    """
    return verify_range(algo, ks_blake2b, ks_hmac, records, tags, ok, 0, records.shape[0])


@kernel
def rebuild_cost(records, tiles_per_side, cost):
    """Decode the cost grid from tile records: cost : uint8[side, side], written.

    records : uint8[tiles_per_side ** 2, RECORD]. Returns the number of cells written.
    """
    for t in range(records.shape[0]):
        decode_tile(records[t], t, tiles_per_side, cost)
    return records.shape[0] * TILE_CELLS * TILE_CELLS
