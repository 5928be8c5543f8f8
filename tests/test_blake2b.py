"""BLAKE2b kernels against the standards' vectors and hashlib, bit for bit."""

import hashlib

import numba
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import load_vector
from dod_sim.kernels import blake2b as b2


def _ks(key: bytes, digest_size: int) -> np.ndarray:
    ks = np.zeros(b2.KS_WORDS, np.uint64)
    b2.key_schedule(np.frombuffer(key, np.uint8).copy(), digest_size, ks)
    return ks


def _one(data: bytes, key: bytes, d: int) -> bytes:
    out = np.zeros(64, np.uint8)
    arr = np.frombuffer(data, np.uint8).copy() if data else np.zeros(0, np.uint8)
    b2.mac_into(_ks(key, d), arr, 0, len(data), out, 0)
    return out[:d].tobytes()


def test_rfc7693_appendix_a():
    v = load_vector("rfc7693_appendix_a.json")
    got = _one(bytes.fromhex(v["data"]), bytes.fromhex(v["key"]), v["digest_size"])
    assert got.hex() == v["digest"]


def test_keyed_known_answers_all_256():
    v = load_vector("blake2b_kat.json")
    key = bytes.fromhex(v["key_hex"])
    assert len(v["hashes"]) == 256
    for n, expect in enumerate(v["hashes"]):
        assert _one(bytes(range(n)), key, 64).hex() == expect, f"vector {n}"


@pytest.mark.parametrize("length", list(range(0, 301)))
def test_every_length_to_300(length):
    data = bytes((i * 7 + length) & 0xFF for i in range(length))
    for key, d in ((b"", 64), (b"k" * 32, 32), (bytes(range(64)), 16)):
        assert _one(data, key, d) == hashlib.blake2b(data, key=key, digest_size=d).digest()


def test_block_boundaries_to_4k():
    rng = np.random.default_rng(3)
    for boundary in range(128, 4097, 128):
        for n in (boundary - 1, boundary, boundary + 1):
            data = rng.bytes(n)
            assert _one(data, b"key", 32) == hashlib.blake2b(data, key=b"key", digest_size=32).digest()


@pytest.mark.parametrize("key_len", list(range(0, 65)))
def test_every_key_length(key_len):
    key = bytes(range(100, 100 + key_len))
    for data in (b"", b"x", bytes(128), bytes(range(200))):
        assert _one(data, key, 32) == hashlib.blake2b(data, key=key, digest_size=32).digest()


@pytest.mark.parametrize("d", list(range(1, 65)))
def test_every_digest_size(d):
    for key in (b"", b"secret"):
        for data in (b"", b"abc", bytes(300)):
            assert _one(data, key, d) == hashlib.blake2b(data, key=key, digest_size=d).digest()


@given(data=st.binary(max_size=600), key=st.binary(max_size=64), d=st.integers(1, 64))
def test_random_inputs_match_hashlib(data, key, d):
    assert _one(data, key, d) == hashlib.blake2b(data, key=key, digest_size=d).digest()


def test_batch_rows_match_single_and_threads_agree():
    rng = np.random.default_rng(5)
    rows = rng.integers(0, 256, (b2.CHUNK_ROWS * 2 + 3, 100), dtype=np.uint8)
    ks = _ks(b"batch key", 24)
    outs = []
    for th in (1, numba.config.NUMBA_NUM_THREADS):
        numba.set_num_threads(th)
        out = np.zeros((rows.shape[0], 24), np.uint8)
        b2.mac_rows(ks, rows, 77, out)
        outs.append(out)
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    assert np.array_equal(outs[0], outs[1])
    for i in (0, 1, 256, rows.shape[0] - 1):
        assert outs[0][i].tobytes() == hashlib.blake2b(rows[i, :77].tobytes(), key=b"batch key",
                                                         digest_size=24).digest()
    ok = np.zeros(rows.shape[0], np.bool_)
    assert b2.verify_rows(ks, rows, 77, outs[0], ok) == 0 and ok.all()
    outs[0][5, 3] ^= 1
    rows[9, 76] ^= 0x80
    assert b2.verify_rows(ks, rows, 77, outs[0], ok) == 2
    assert sorted(np.flatnonzero(~ok)) == [5, 9]
