"""SHA-256 / HMAC-SHA256 kernels against hashlib, hmac and RFC 4231."""

import hashlib
import hmac

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import load_vector
from dod_sim.kernels import sha256
from dod_sim.kernels._jit import kernel
from dod_sim.kernels.blake2b import chunk_rows
from dod_sim.kernels.status import BAD_ARGUMENT, OK

SETTINGS = settings(deadline=None, max_examples=100)


def arr(b):
    """Writable uint8 copy of bytes."""
    return np.frombuffer(bytes(b), dtype=np.uint8).copy()


def sha(b):
    out = np.zeros(32, dtype=np.uint8)
    data = arr(b)
    sha256.sha256_into(data, 0, data.shape[0], out, 0)
    return out.tobytes()


def schedule(key):
    ks = np.zeros(16, dtype=np.uint32)
    sha256.hmac_key_schedule(arr(key), ks)
    return ks


def mac(key, msg, digest_size=32):
    out = np.zeros(digest_size, dtype=np.uint8)
    data = arr(msg)
    sha256.hmac_into(schedule(key), data, 0, data.shape[0], out, 0, digest_size)
    return out.tobytes()


def ref_mac(key, msg):
    return hmac.new(bytes(key), bytes(msg), hashlib.sha256).digest()


def rng_bytes(seed, n):
    return np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes()


# --------------------------------------------------------------------------- constants


def test_constants():
    assert sha256.K.dtype == np.uint32 and sha256.K.shape == (64,)
    assert sha256.IV.dtype == np.uint32 and sha256.IV.shape == (8,)
    assert sha256.K[0] == 0x428A2F98 and sha256.K[63] == 0xC67178F2
    assert sha256.IV[0] == 0x6A09E667 and sha256.IV[7] == 0x5BE0CD19


# --------------------------------------------------------------------------- SHA-256


def test_sha256_fips_examples():
    assert sha(b"abc").hex() == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert sha(b"").hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    two_block = b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
    assert sha(two_block).hex() == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"


def test_sha256_every_length_0_to_300():
    buf = rng_bytes(1, 300)
    for n in range(301):
        assert sha(buf[:n]) == hashlib.sha256(buf[:n]).digest(), n


def test_sha256_around_block_boundaries_to_4096():
    buf = rng_bytes(2, 4096 + 16)
    lengths = sorted(
        {n for b in range(64, 4097, 64) for n in range(b - 9, b + 2) if 0 <= n <= 4096 + 16}
    )
    for n in lengths:
        assert sha(buf[:n]) == hashlib.sha256(buf[:n]).digest(), n


@SETTINGS
@given(st.binary(max_size=1000))
def test_sha256_random(msg):
    assert sha(msg) == hashlib.sha256(msg).digest()


def test_sha256_offsets_write_only_the_slice():
    buf = arr(rng_bytes(3, 500))
    out = np.full(100, 0xAA, dtype=np.uint8)
    sha256.sha256_into(buf, 17, 200, out, 40)
    assert out[40:72].tobytes() == hashlib.sha256(buf[17:217].tobytes()).digest()
    assert (out[:40] == 0xAA).all() and (out[72:] == 0xAA).all()


def test_sha256_readonly_and_strided_input():
    msg = rng_bytes(4, 150)
    ro = np.frombuffer(msg, dtype=np.uint8)  # read-only buffer
    out = np.zeros(32, dtype=np.uint8)
    sha256.sha256_into(ro, 0, 150, out, 0)
    assert out.tobytes() == hashlib.sha256(msg).digest()
    strided = arr(msg)[::2]  # non-contiguous 1-D view
    sha256.sha256_into(strided, 0, strided.shape[0], out, 0)
    assert out.tobytes() == hashlib.sha256(msg[::2]).digest()


# --------------------------------------------------------------------------- HMAC


def test_hmac_every_key_length_0_to_130():
    msg = rng_bytes(5, 77)
    keys = rng_bytes(6, 130)
    for kl in range(131):
        key = keys[:kl]
        assert mac(key, msg) == ref_mac(key, msg), kl


@SETTINGS
@given(st.binary(max_size=130), st.binary(max_size=600))
def test_hmac_random(key, msg):
    assert mac(key, msg) == ref_mac(key, msg)


def test_hmac_message_lengths_around_padding_boundary():
    key = b"k" * 32
    buf = rng_bytes(7, 300)
    for n in range(300):
        assert mac(key, buf[:n]) == ref_mac(key, buf[:n]), n


def test_hmac_key_schedule_of_long_key_equals_hashed_key():
    key = rng_bytes(8, 200)
    np.testing.assert_array_equal(schedule(key), schedule(hashlib.sha256(key).digest()))


def load_rfc4231():
    return load_vector("rfc4231_hmac_sha256.json")["cases"]  # tests/vectors/


def test_rfc4231_all_cases():
    cases = load_rfc4231()
    assert sorted(c["case"] for c in cases) == [1, 2, 3, 4, 5, 6, 7]
    for c in cases:
        key, data = bytes.fromhex(c["key"]), bytes.fromhex(c["data"])
        expected = bytes.fromhex(c["hmac_sha256"])
        size = c.get("truncate_bytes", 32)
        if c["case"] == 5:
            assert size == 16
        assert len(expected) == size
        assert mac(key, data, size) == expected, c["case"]
        assert ref_mac(key, data)[:size] == expected  # the vectors agree with hmac


def test_truncated_digest_every_size_writes_only_its_bytes():
    key, msg = rng_bytes(9, 40), rng_bytes(10, 48)
    full = ref_mac(key, msg)
    ks = schedule(key)
    data = arr(msg)
    for size in range(1, 33):
        out = np.full(64, 0xEE, dtype=np.uint8)
        sha256.hmac_into(ks, data, 0, 48, out, 5, size)
        assert out[5 : 5 + size].tobytes() == full[:size], size
        assert (out[:5] == 0xEE).all() and (out[5 + size :] == 0xEE).all(), size


def test_hmac_into_offsets():
    key = b"offset key"
    buf = arr(rng_bytes(11, 400))
    ks = schedule(key)
    out = np.zeros(40, dtype=np.uint8)
    sha256.hmac_into(ks, buf, 33, 250, out, 8, 32)
    assert out[8:].tobytes() == ref_mac(key, buf[33:283].tobytes())


# --------------------------------------------------------------------------- no heap


@kernel
def _many_single_calls(ks, data, out, reps):
    for _ in range(reps):
        for i in range(data.shape[0]):
            sha256.hmac_key_schedule(data[i], ks)
            sha256.sha256_into(data[i], 0, data.shape[1], out[i], 0)
            sha256.hmac_into(ks, data[i], 0, data.shape[1], out[i], 0, 32)


def test_single_message_functions_allocate_nothing():
    from numba.core.runtime import _nrt_python, rtsys

    ks = np.zeros(16, dtype=np.uint32)
    data = np.random.default_rng(12).integers(0, 256, (8, 150), dtype=np.uint8)
    out = np.zeros((8, 32), dtype=np.uint8)
    _many_single_calls(ks, data, out, 1)  # compile
    was_enabled = _nrt_python.memsys_stats_enabled()
    _nrt_python.memsys_enable_stats()
    try:
        a = rtsys.get_allocation_stats()
        _many_single_calls(ks, data, out, 1)
        b = rtsys.get_allocation_stats()
        _many_single_calls(ks, data, out, 50)
        c = rtsys.get_allocation_stats()
    finally:
        if not was_enabled:
            _nrt_python.memsys_disable_stats()
    assert b.alloc > a.alloc  # the counters are live (boxing the array arguments)
    # Boxing the arguments costs the same whatever reps is; the hashing costs nothing.
    assert c.alloc - b.alloc == b.alloc - a.alloc


# --------------------------------------------------------------------------- batch


def batch_inputs(rows, width, seed):
    return np.random.default_rng(seed).integers(0, 256, (rows, width), dtype=np.uint8)


@pytest.mark.parametrize("rows", [0, 1, 255, 256, 257, 1000])
def test_hmac_rows_match_single(rows):
    key = b"batch key"
    ks = schedule(key)
    data = batch_inputs(rows, 60, rows)
    for length, d in [(48, 32), (60, 16), (0, 7), (55, 1)]:
        out = np.zeros((rows, d), dtype=np.uint8)
        assert sha256.hmac_rows(ks, data, np.int64(length), out) == OK
        for i in range(rows):
            one = np.zeros(d, dtype=np.uint8)
            sha256.hmac_into(ks, data[i], 0, length, one, 0, d)
            np.testing.assert_array_equal(out[i], one)
            assert out[i].tobytes() == ref_mac(key, data[i, :length].tobytes())[:d]


@pytest.mark.parametrize("rows", [0, 1, 300, 1000])
def test_sha256_rows_match_single(rows):
    data = batch_inputs(rows, 130, rows + 1)
    for length in (0, 55, 64, 130):
        out = np.zeros((rows, 32), dtype=np.uint8)
        assert sha256.sha256_rows(data, np.int64(length), out) == OK
        for i in range(rows):
            one = np.zeros(32, dtype=np.uint8)
            sha256.sha256_into(data[i], 0, length, one, 0)
            np.testing.assert_array_equal(out[i], one)
            assert out[i].tobytes() == hashlib.sha256(data[i, :length].tobytes()).digest()


@pytest.mark.parametrize("d", [1, 16, 32])
def test_hmac_verify_rows_flags_exactly_the_flipped_rows(d):
    rows = 1000
    ks = schedule(b"verify key")
    data = batch_inputs(rows, 48, 13)
    tags = np.zeros((rows, d), dtype=np.uint8)
    assert sha256.hmac_rows(ks, data, np.int64(48), tags) == OK
    ok = np.zeros(rows, dtype=np.bool_)
    assert sha256.hmac_verify_rows(ks, data, np.int64(48), tags, ok) == 0
    assert ok.all()

    rng = np.random.default_rng(14)
    bad = np.sort(rng.choice(rows, 137, replace=False))
    forged = tags.copy()
    for i in bad:
        byte, bit = rng.integers(0, d), rng.integers(0, 8)
        forged[i, byte] ^= np.uint8(1 << bit)
    ok[:] = True
    assert sha256.hmac_verify_rows(ks, data, np.int64(48), forged, ok) == len(bad)
    np.testing.assert_array_equal(np.flatnonzero(~ok), bad)


def test_hmac_verify_rows_detects_wrong_key_and_wrong_data():
    rows = 300
    data = batch_inputs(rows, 48, 15)
    tags = np.zeros((rows, 32), dtype=np.uint8)
    sha256.hmac_rows(schedule(b"right"), data, np.int64(48), tags)
    ok = np.ones(rows, dtype=np.bool_)
    assert sha256.hmac_verify_rows(schedule(b"wrong"), data, np.int64(48), tags, ok) == rows
    assert not ok.any()
    data2 = data.copy()
    data2[7, 47] ^= 1
    ok[:] = False
    assert sha256.hmac_verify_rows(schedule(b"right"), data2, np.int64(48), tags, ok) == 1
    assert np.flatnonzero(~ok).tolist() == [7]


def test_batch_bad_arguments():
    ks = schedule(b"k")
    data = batch_inputs(10, 48, 16)
    out = np.zeros((10, 32), dtype=np.uint8)
    for length in (-1, 49):
        assert sha256.hmac_rows(ks, data, np.int64(length), out) == BAD_ARGUMENT
        assert sha256.sha256_rows(data, np.int64(length), out) == BAD_ARGUMENT
    assert (out == 0).all()
    assert sha256.hmac_rows(ks, data, np.int64(48), np.zeros((10, 33), np.uint8)) == BAD_ARGUMENT
    assert sha256.hmac_rows(ks, data, np.int64(48), np.zeros((10, 0), np.uint8)) == BAD_ARGUMENT
    assert sha256.hmac_rows(ks, data, np.int64(48), np.zeros((9, 32), np.uint8)) == BAD_ARGUMENT
    assert sha256.sha256_rows(data, np.int64(48), np.zeros((10, 16), np.uint8)) == BAD_ARGUMENT
    # verify: an unusable argument fails every row, a zero-width tag never passes
    ok = np.ones(10, dtype=np.bool_)
    assert sha256.hmac_verify_rows(ks, data, np.int64(48), np.zeros((10, 0), np.uint8), ok) == 10
    assert not ok.any()
    ok[:] = True
    assert sha256.hmac_verify_rows(ks, data, np.int64(49), out, ok) == 10
    assert not ok.any()


@pytest.mark.parametrize("length", [48, 1032])
def test_batch_results_independent_of_thread_count(length):
    # several chunks of chunk_rows(length) rows and a partial one
    rows = 3 * int(chunk_rows(length)) + 5
    ks = schedule(b"threads")
    data = batch_inputs(rows, length, 17)
    results = []
    saved = numba.get_num_threads()
    try:
        for n in (1, numba.config.NUMBA_NUM_THREADS):
            numba.set_num_threads(n)
            mac_out = np.zeros((rows, 20), dtype=np.uint8)
            sha_out = np.zeros((rows, 32), dtype=np.uint8)
            sha256.hmac_rows(ks, data, np.int64(length), mac_out)
            sha256.sha256_rows(data, np.int64(length), sha_out)
            forged = mac_out.copy()
            forged[::5, 3] ^= 0x10
            ok = np.zeros(rows, dtype=np.bool_)
            fails = sha256.hmac_verify_rows(ks, data, np.int64(length), forged, ok)
            results.append((mac_out, sha_out, ok, fails))
    finally:
        numba.set_num_threads(saved)
    (m1, s1, o1, f1), (m2, s2, o2, f2) = results
    np.testing.assert_array_equal(m1, m2)
    np.testing.assert_array_equal(s1, s2)
    np.testing.assert_array_equal(o1, o2)
    assert f1 == f2 == len(range(0, rows, 5))
    for i in (0, rows - 1):  # first and last chunk against the standard library
        msg = data[i, :length].tobytes()
        assert m1[i].tobytes() == hmac.new(b"threads", msg, hashlib.sha256).digest()[:20]
        assert s1[i].tobytes() == hashlib.sha256(msg).digest()


@pytest.mark.parametrize("lo, hi", [(0, 0), (3, 4), (3, 20), (0, 25)])
def test_hmac_range_kernels_touch_only_their_rows(lo, hi):
    key = b"range key"
    ks = schedule(key)
    data = batch_inputs(25, 1032, 5)
    out = np.zeros((25, 32), dtype=np.uint8)
    sha256.hmac_range(ks, data, 1032, out, lo, hi)
    for i in range(25):
        want = ref_mac(key, data[i].tobytes()) if lo <= i < hi else bytes(32)
        assert out[i].tobytes() == want
    if hi > lo:
        data[lo, 0] ^= 0x80
    ok = np.zeros(25, dtype=np.bool_)
    assert sha256.hmac_verify_range(ks, data, 1032, out, ok, lo, hi) == (1 if hi > lo else 0)
    assert ok.tolist() == [lo < i < hi for i in range(25)]
