"""Multi-lane BLAKE2b (dod_sim.kernels.blake2b_lanes) against hashlib and the scalar kernels.

Both lane counts run on every machine: 8 lanes compile to two 4-wide passes on an AVX2
CPU (or <8 x i64> code with AVX-512), 4 lanes to <4 x i64> code; all must agree bit
for bit with RFC 7693 whatever the CPU.
"""

import hashlib
import os
import subprocess
import sys
import textwrap

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dod_sim.kernels import blake2b, blake2b_lanes

LANE_COUNTS = (4, 8)
COMPRESS = {4: blake2b_lanes.compress4, 8: blake2b_lanes.compress8}
HASH_GROUP = {4: blake2b_lanes.hash_group4, 8: blake2b_lanes.hash_group8}
MAC = {4: blake2b_lanes.mac_rows_lanes4, 8: blake2b_lanes.mac_rows_lanes8}
VERIFY = {4: blake2b_lanes.verify_rows_lanes4, 8: blake2b_lanes.verify_rows_lanes8}

KEY_LENGTHS = (0, 1, 32, 64)
DIGEST_SIZES = (1, 16, 32, 64)
SPECIAL_LENGTHS = (0, 1, 48, 127, 128, 129, 255, 256, 257, 1032, 4096)
ROW_COUNTS = (0, 1, 3, 5, 7, 9, 255, 257, 513)

lengths = st.one_of(st.integers(0, 300), st.sampled_from(SPECIAL_LENGTHS))
lane_counts = st.sampled_from(LANE_COUNTS)
SETTINGS = settings(deadline=None, max_examples=40)


def key_schedule(key, digest_size):
    ks = np.zeros(blake2b.KS_WORDS, np.uint64)
    blake2b.key_schedule(np.frombuffer(key, np.uint8), digest_size, ks)
    return ks


def reference(data, length, key, digest_size):
    return np.array(
        [list(hashlib.blake2b(row[:length].tobytes(), key=key, digest_size=digest_size).digest())
         for row in data],
        dtype=np.uint8,
    ).reshape(data.shape[0], digest_size)


def random_case(seed, n_rows, length, key_len, extra_cols=3):
    rng = np.random.default_rng(seed)
    key = rng.integers(0, 256, key_len, dtype=np.uint8).tobytes()
    data = rng.integers(0, 256, (n_rows, length + extra_cols), dtype=np.uint8)
    return key, data


# --- compress_lanes -------------------------------------------------------------------


@pytest.mark.parametrize("lanes", LANE_COUNTS)
@SETTINGS
@given(seed=st.integers(0, 2**32 - 1))
def test_compress_lanes_matches_scalar_compress(lanes, seed):
    rng = np.random.default_rng(seed)
    h = rng.integers(0, 2**64, 8 * lanes, dtype=np.uint64)
    m = rng.integers(0, 2**64, 16 * lanes, dtype=np.uint64)
    t = rng.integers(0, 2**64, lanes, dtype=np.uint64)
    f = np.where(rng.random(lanes) < 0.5, np.uint64(0), np.uint64(2**64 - 1)).astype(np.uint64)
    h_in = h.copy()
    COMPRESS[lanes](h, m, t, f)
    for j in range(lanes):
        hj = np.ascontiguousarray(h_in[j::lanes])
        mj = np.ascontiguousarray(m[j::lanes])
        blake2b.compress(hj, mj, t[j], bool(f[j]))
        np.testing.assert_array_equal(h[j::lanes], hj, err_msg=f"lane {j}")


@pytest.mark.parametrize("lanes", LANE_COUNTS)
def test_compress_lanes_leaves_message_alone(lanes):
    rng = np.random.default_rng(7)
    h = rng.integers(0, 2**64, 8 * lanes, dtype=np.uint64)
    m = rng.integers(0, 2**64, 16 * lanes, dtype=np.uint64)
    t = np.full(lanes, 128, np.uint64)
    f = np.zeros(lanes, np.uint64)
    m_in, t_in = m.copy(), t.copy()
    COMPRESS[lanes](h, m, t, f)
    np.testing.assert_array_equal(m, m_in)
    np.testing.assert_array_equal(t, t_in)


# --- hash_group -----------------------------------------------------------------------


@pytest.mark.parametrize("lanes", LANE_COUNTS)
@SETTINGS
@given(
    seed=st.integers(0, 2**32 - 1),
    length=lengths,
    key_len=st.sampled_from(KEY_LENGTHS),
    n_rows=st.integers(1, 8),
)
def test_hash_group_chain_values(lanes, seed, length, key_len, n_rows):
    n_rows = min(n_rows, lanes)
    key, data = random_case(seed, 20, length, key_len)
    ks = key_schedule(key, 64)
    rng = np.random.default_rng(seed)
    rows = np.full(lanes + 2, -1, np.int64)  # entries past n_rows must not be read
    rows[:n_rows] = rng.integers(0, 20, n_rows)
    hv = np.zeros(8 * lanes, np.uint64)
    HASH_GROUP[lanes](ks, data, rows, n_rows, length, hv)
    digests = hv.reshape(8, lanes).T.copy().view(np.uint8)  # lane j's 64 digest bytes
    for j in range(lanes):
        row = rows[j] if j < n_rows else rows[0]
        expected = hashlib.blake2b(data[row, :length].tobytes(), key=key, digest_size=64).digest()
        assert digests[j].tobytes() == expected, f"lane {j}"


@pytest.mark.parametrize("lanes", LANE_COUNTS)
def test_hash_group_allocates_nothing_inside_a_kernel(lanes):
    # A jitted loop of hash_group calls does not touch the NRT heap: run in a fresh
    # interpreter with allocation statistics on (kernels come from the disk cache).
    code = textwrap.dedent(
        f"""
        import numba, numpy as np
        from numba.core.runtime import rtsys
        from dod_sim.kernels import blake2b, blake2b_lanes as bl

        @numba.njit
        def many(ks, data, rows, hv, n):
            acc = np.uint64(0)
            for i in range(n):
                bl.hash_group{lanes}(ks, data, rows, {lanes}, 300, hv)
                acc ^= hv[0]
            return acc

        ks = np.zeros(blake2b.KS_WORDS, np.uint64)
        blake2b.key_schedule(np.arange(32, dtype=np.uint8), 32, ks)
        data = np.ones((16, 300), np.uint8)
        rows = np.arange(16, dtype=np.int64)
        hv = np.zeros(8 * {lanes}, np.uint64)
        many(ks, data, rows, hv, 1)
        a = rtsys.get_allocation_stats().alloc
        many(ks, data, rows, hv, 1)
        b = rtsys.get_allocation_stats().alloc
        many(ks, data, rows, hv, 1000)
        c = rtsys.get_allocation_stats().alloc
        # The allocations of a call are its argument unboxing, the same for 1 or 1000
        # hash_group calls.
        assert c - b == b - a, (a, b, c)
        print("ok")
        """
    )
    env = dict(os.environ, NUMBA_NRT_STATS="1")
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("ok")


# --- mac_rows_lanes -------------------------------------------------------------------


@pytest.mark.parametrize("lanes", LANE_COUNTS)
@SETTINGS
@given(
    seed=st.integers(0, 2**32 - 1),
    length=lengths,
    key_len=st.sampled_from(KEY_LENGTHS),
    digest_size=st.sampled_from(DIGEST_SIZES),
    n_rows=st.one_of(st.sampled_from(ROW_COUNTS), st.integers(0, 40)),
)
def test_mac_rows_lanes_matches_hashlib_and_scalar(lanes, seed, length, key_len, digest_size,
                                                    n_rows):
    key, data = random_case(seed, n_rows, length, key_len)
    ks = key_schedule(key, digest_size)
    # Output wider than the digest: the extra columns must be left alone.
    out = np.full((n_rows, digest_size + 5), 0xA5, np.uint8)
    MAC[lanes](ks, data, length, out)
    np.testing.assert_array_equal(out[:, :digest_size], reference(data, length, key, digest_size))
    assert (out[:, digest_size:] == 0xA5).all()
    scalar = np.full_like(out, 0xA5)
    blake2b.mac_rows(ks, data, length, scalar)
    np.testing.assert_array_equal(out, scalar)


@pytest.mark.parametrize("lanes", LANE_COUNTS)
@pytest.mark.parametrize("length", SPECIAL_LENGTHS)
@pytest.mark.parametrize("key_len", KEY_LENGTHS)
def test_mac_rows_lanes_special_lengths(lanes, length, key_len):
    n_rows = 257 if length <= 1032 else 37
    key, data = random_case(length * 131 + key_len, n_rows, length, key_len, extra_cols=0)
    for digest_size in DIGEST_SIZES:
        ks = key_schedule(key, digest_size)
        out = np.zeros((n_rows, digest_size), np.uint8)
        MAC[lanes](ks, data, length, out)
        np.testing.assert_array_equal(out, reference(data, length, key, digest_size))


@pytest.mark.parametrize("lanes", LANE_COUNTS)
def test_mac_rows_lanes_identical_rows_and_empty_messages(lanes):
    # Keyed and unkeyed empty messages take different paths (RFC 7693, 3.3).
    data = np.zeros((11, 4), np.uint8)
    for key in (b"", b"k", bytes(64)):
        ks = key_schedule(key, 32)
        out = np.zeros((11, 32), np.uint8)
        MAC[lanes](ks, data, 0, out)
        expected = hashlib.blake2b(b"", key=key, digest_size=32).digest()
        assert all(row.tobytes() == expected for row in out)


@pytest.mark.parametrize("lanes", LANE_COUNTS)
def test_mac_rows_lanes_same_output_for_any_thread_count(lanes):
    key, data = random_case(11, 3 * blake2b.CHUNK_ROWS + 5, 200, 32)
    ks = key_schedule(key, 32)
    saved = numba.get_num_threads()
    outs = []
    try:
        for threads in (1, numba.config.NUMBA_NUM_THREADS):
            numba.set_num_threads(threads)
            out = np.zeros((data.shape[0], 32), np.uint8)
            MAC[lanes](ks, data, 200, out)
            ok = np.zeros(data.shape[0], bool)
            failures = VERIFY[lanes](ks, data, 200, out, ok)
            assert failures == 0 and ok.all()
            outs.append(out)
    finally:
        numba.set_num_threads(saved)
    np.testing.assert_array_equal(outs[0], outs[1])
    np.testing.assert_array_equal(outs[0], reference(data, 200, key, 32))


# --- verify_rows_lanes ----------------------------------------------------------------


@pytest.mark.parametrize("lanes", LANE_COUNTS)
@SETTINGS
@given(
    seed=st.integers(0, 2**32 - 1),
    length=lengths,
    key_len=st.sampled_from(KEY_LENGTHS),
    digest_size=st.sampled_from(DIGEST_SIZES),
    n_rows=st.one_of(st.sampled_from(ROW_COUNTS), st.integers(0, 40)),
)
def test_verify_rows_lanes_flags_exactly_the_tampered_rows(lanes, seed, length, key_len,
                                                           digest_size, n_rows):
    key, data = random_case(seed, n_rows, length, key_len)
    ks = key_schedule(key, digest_size)
    tags = reference(data, length, key, digest_size)
    rng = np.random.default_rng(seed ^ 0x5A5A)
    tampered = rng.random(n_rows) < 0.3
    for i in np.flatnonzero(tampered):
        if length > 0 and rng.random() < 0.5:
            data[i, rng.integers(0, length)] ^= np.uint8(1 << rng.integers(0, 8))
        else:
            tags[i, rng.integers(0, digest_size)] ^= np.uint8(1 << rng.integers(0, 8))
    # Bytes past the message and past the tag are not part of either.
    data[:, length:] ^= 0xFF
    # With a 1-byte tag a flipped message bit keeps the tag right once in 256.
    expected = (reference(data, length, key, digest_size) == tags).all(axis=1)
    if digest_size >= 8:
        np.testing.assert_array_equal(expected, ~tampered)
    ok = np.zeros(n_rows, bool)
    failures = VERIFY[lanes](ks, data, length, tags, ok)
    np.testing.assert_array_equal(ok, expected)
    assert failures == int((~expected).sum())
    ok_scalar = np.zeros(n_rows, bool)
    assert blake2b.verify_rows(ks, data, length, tags, ok_scalar) == failures
    np.testing.assert_array_equal(ok_scalar, ok)


# --- choice of variant ----------------------------------------------------------------


def test_lanes_and_best_variant_are_consistent():
    info = blake2b_lanes.describe_cpu()
    assert set(info) == {"model", "arch", "flags", "lanes"}
    assert isinstance(info["model"], str) and info["arch"]
    assert info["lanes"] == blake2b_lanes.LANES
    flags = set(info["flags"])
    if "avx512f" in flags:
        expected = 8
    elif "avx2" in flags:
        expected = 4
    else:
        expected = 0
    assert blake2b_lanes.LANES == expected
    best = {
        0: (blake2b.mac_rows, blake2b.verify_rows),
        4: (blake2b_lanes.mac_rows_lanes4, blake2b_lanes.verify_rows_lanes4),
        8: (blake2b_lanes.mac_rows_lanes8, blake2b_lanes.verify_rows_lanes8),
    }[expected]
    assert (blake2b_lanes.mac_rows_best, blake2b_lanes.verify_rows_best) == best


def test_best_variant_matches_hashlib():
    key, data = random_case(3, 300, 48, 32)
    ks = key_schedule(key, 16)
    out = np.zeros((300, 16), np.uint8)
    blake2b_lanes.mac_rows_best(ks, data, 48, out)
    np.testing.assert_array_equal(out, reference(data, 48, key, 16))
    ok = np.zeros(300, bool)
    assert blake2b_lanes.verify_rows_best(ks, data, 48, out, ok) == 0 and ok.all()


RANGES = {
    "scalar": (blake2b.mac_range, blake2b.verify_range),
    "lanes4": (blake2b_lanes.mac_range_lanes4, blake2b_lanes.verify_range_lanes4),
    "lanes8": (blake2b_lanes.mac_range_lanes8, blake2b_lanes.verify_range_lanes8),
}


@pytest.mark.parametrize("variant", sorted(RANGES))
@pytest.mark.parametrize("lo, hi", [(0, 0), (5, 6), (5, 22), (0, 40)])
def test_range_kernels_touch_only_their_rows(variant, lo, hi):
    mac_range, verify_range = RANGES[variant]
    key, data = random_case(11, 40, 1032, 32)
    ks = key_schedule(key, 32)
    out = np.zeros((40, 32), np.uint8)
    mac_range(ks, data, 1032, out, lo, hi)
    np.testing.assert_array_equal(out[lo:hi], reference(data[lo:hi], 1032, key, 32))
    assert not out[:lo].any() and not out[hi:].any()
    if hi > lo:
        data[hi - 1, 100] ^= 1
    ok = np.zeros(40, bool)
    assert verify_range(ks, data, 1032, out, ok, lo, hi) == (1 if hi > lo else 0)
    assert ok[lo:max(lo, hi - 1)].all() and not ok[max(lo, hi - 1):].any() and not ok[:lo].any()
