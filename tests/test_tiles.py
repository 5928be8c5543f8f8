"""The tick's tile kernel (generate, sign, tamper, verify, apply), against hashlib/hmac
and a plain decode of the cost cells."""

import hashlib
import hmac

import numba
import numpy as np
import pytest

from dod_sim.kernels import blake2b, sha256
from dod_sim.kernels.tileworld.tiles import (
    ALGO_BLAKE2B, ALGO_HMAC_SHA256, HEADER, RECORD, TILE_CELLS, generate, read_version,
    refresh_tiles,
)

KEY = bytes(range(32))
SEED = 20261127
TILES_PER_SIDE = 4
N_TILES = TILES_PER_SIDE ** 2
SIDE = TILES_PER_SIDE * TILE_CELLS


def schedules():
    ks = np.zeros(blake2b.KS_WORDS, np.uint64)
    blake2b.key_schedule(np.frombuffer(KEY, np.uint8), 32, ks)
    hks = np.zeros(16, np.uint32)
    sha256.hmac_key_schedule(np.frombuffer(KEY, np.uint8).copy(), hks)
    return ks, hks


def tag_of(algo, record):
    if algo == ALGO_BLAKE2B:
        return hashlib.blake2b(record.tobytes(), key=KEY, digest_size=32).digest()
    return hmac.new(KEY, record.tobytes(), hashlib.sha256).digest()


def cost_block(record):
    """The 16 x 16 cost cells a record decodes to: the first byte of each 4-byte cell."""
    payload = record[HEADER:].reshape(TILE_CELLS, TILE_CELLS, 4)
    return payload[:, :, 0]


def block(cost, t):
    ty, tx = divmod(t, TILES_PER_SIDE)
    return cost[ty * TILE_CELLS:(ty + 1) * TILE_CELLS, tx * TILE_CELLS:(tx + 1) * TILE_CELLS]


def initial_map(algo):
    """The initial map as init_world stages it: in place, version 0, nothing tampered."""
    ks, hks = schedules()
    records = np.zeros((N_TILES, RECORD), np.uint8)
    tags = np.zeros((N_TILES, 32), np.uint8)
    cost = np.zeros((SIDE, SIDE), np.uint8)
    ids = np.arange(N_TILES, dtype=np.int32)
    tampered = np.ones(N_TILES, np.uint8)
    ok = np.zeros(N_TILES, np.bool_)
    assert refresh_tiles(ids, records, tags, tampered, ok, records, tags, cost, TILES_PER_SIDE,
                         algo, ks, hks, SEED, -1, False, 0.0) == (0, 0)
    assert not tampered.any() and ok.all()
    return records, tags, cost


@pytest.mark.parametrize("algo", [ALGO_BLAKE2B, ALGO_HMAC_SHA256])
def test_initial_map_is_signed_verified_and_decoded_in_place(algo):
    records, tags, cost = initial_map(algo)
    for t in range(N_TILES):
        fresh = np.zeros(RECORD, np.uint8)
        generate(fresh, SEED, -1, t, 0)
        np.testing.assert_array_equal(records[t], fresh)
        assert read_version(records[t]) == 0
        assert tags[t].tobytes() == tag_of(algo, records[t])
        np.testing.assert_array_equal(block(cost, t), cost_block(records[t]))


@pytest.mark.parametrize("algo", [ALGO_BLAKE2B, ALGO_HMAC_SHA256])
def test_refresh_applies_exactly_the_untampered_tiles(algo):
    ks, hks = schedules()
    records, tags, cost = initial_map(algo)
    before = records.copy(), tags.copy(), cost.copy()
    # 13 distinct tiles: one whole chunk of 8 and a partial one
    ids = np.array([3, 14, 0, 7, 9, 1, 12, 5, 15, 2, 10, 6, 11], np.int32)
    k = ids.shape[0]
    stage = np.zeros((k, RECORD), np.uint8)
    stage_tags = np.zeros((k, 32), np.uint8)
    tampered = np.zeros(k, np.uint8)
    ok = np.zeros(k, np.bool_)
    n, failed = refresh_tiles(ids, stage, stage_tags, tampered, ok, records, tags, cost,
                              TILES_PER_SIDE, algo, ks, hks, SEED, 5, True, 0.5)
    assert n == tampered.sum() and 0 < n < k
    for j, t in enumerate(ids):
        fresh = np.zeros(RECORD, np.uint8)
        generate(fresh, SEED, 5, t, 1)
        flipped = np.flatnonzero(stage[j] != fresh)
        if tampered[j]:
            # one payload byte XOR 0xFF, after signing: the tag is the untampered one's
            assert flipped.shape == (1,) and flipped[0] >= HEADER
            assert stage[j, flipped[0]] == fresh[flipped[0]] ^ 0xFF
        else:
            assert flipped.size == 0
        assert stage_tags[j].tobytes() == tag_of(algo, fresh)

    assert failed == n
    np.testing.assert_array_equal(ok, tampered == 0)
    for t in range(N_TILES):
        hit = np.flatnonzero(ids == t)
        if hit.size and ok[hit[0]]:
            j = hit[0]
            np.testing.assert_array_equal(records[t], stage[j])
            np.testing.assert_array_equal(tags[t], stage_tags[j])
            np.testing.assert_array_equal(block(cost, t), cost_block(stage[j]))
        else:  # never refreshed, or rejected: the previous verified tile stays
            np.testing.assert_array_equal(records[t], before[0][t])
            np.testing.assert_array_equal(tags[t], before[1][t])
            np.testing.assert_array_equal(block(cost, t), block(before[2], t))


def test_refresh_does_not_depend_on_the_thread_count():
    ks, hks = schedules()
    results = []
    for threads in sorted({1, numba.config.NUMBA_NUM_THREADS}):
        numba.set_num_threads(threads)
        try:
            records, tags, cost = initial_map(ALGO_BLAKE2B)
            ids = np.arange(N_TILES, dtype=np.int32)[::-1].copy()
            stage = np.zeros((N_TILES, RECORD), np.uint8)
            stage_tags = np.zeros((N_TILES, 32), np.uint8)
            tampered = np.zeros(N_TILES, np.uint8)
            ok = np.zeros(N_TILES, np.bool_)
            refresh_tiles(ids, stage, stage_tags, tampered, ok, records, tags, cost,
                          TILES_PER_SIDE, ALGO_BLAKE2B, ks, hks, SEED, 9, True, 0.3)
        finally:
            numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        results.append((records, tags, cost, stage, ok))
    for a, b in zip(results[0], results[-1]):
        np.testing.assert_array_equal(a, b)
