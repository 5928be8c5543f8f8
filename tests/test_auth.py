"""dod_sim.auth: the public MAC API, its tile and message forms, and its errors."""

import hashlib
import hmac
import inspect

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dod_sim import auth
from dod_sim.errors import ConfigError

IMPLS = ["scalar", "lanes4", "lanes8", "auto"]
KEY = bytes(range(32))


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("rows", [1, 3, 5, 257])
def test_blake2b_rows_match_hashlib(impl, rows):
    rng = np.random.default_rng(rows)
    data = rng.integers(0, 256, (rows, 48), dtype=np.uint8)
    tags = auth.mac(data, KEY, digest_size=16, impl=impl)
    assert tags.shape == (rows, 16) and tags.dtype == np.uint8
    for i in range(rows):
        assert tags[i].tobytes() == hashlib.blake2b(data[i].tobytes(), key=KEY, digest_size=16).digest()
    assert auth.verify(data, tags, KEY, digest_size=16, impl=impl).all()


@given(data=st.binary(max_size=300), key=st.binary(min_size=1, max_size=100), d=st.integers(1, 32))
def test_hmac_matches_hmac_module(data, key, d):
    got = auth.mac(data, key, "hmac-sha256", d)[0].tobytes()
    assert got == hmac.new(key, data, hashlib.sha256).digest()[:d]


@pytest.mark.parametrize("algo", auth.ALGOS)
@pytest.mark.parametrize("impl", ["scalar", "auto"])
def test_every_single_bit_flip_of_a_tile_fails(algo, impl):
    rng = np.random.default_rng(11)
    payload = rng.integers(0, 256, (1, 1024), dtype=np.uint8)
    ids, ver = np.array([77]), np.array([5])
    tags = auth.sign_tiles(ids, ver, payload, KEY, algo, impl=impl)
    rec = auth.tile_records(ids, ver, payload)[0]
    assert tags[0].tobytes() == (hashlib.blake2b(rec.tobytes(), key=KEY, digest_size=32).digest()
                                 if algo == "blake2b" else hmac.new(KEY, rec.tobytes(), hashlib.sha256).digest())
    assert auth.verify_tiles(ids, ver, payload, tags, KEY, algo, impl=impl).all()
    # every bit of id, version and payload: one row per flipped bit, verified in one call
    n_bits = 1032 * 8
    recs = np.repeat(rec[None, :], n_bits, axis=0)
    recs[np.arange(n_bits), np.arange(n_bits) // 8] ^= (1 << (np.arange(n_bits) % 8)).astype(np.uint8)
    ok = auth.verify(recs, np.repeat(tags, n_bits, axis=0), KEY, algo, 32, impl=impl)
    assert not ok.any()
    # every bit of the tag
    bad_tags = np.repeat(tags, 256, axis=0)
    bad_tags[np.arange(256), np.arange(256) // 8] ^= (1 << (np.arange(256) % 8)).astype(np.uint8)
    ok = auth.verify(np.repeat(rec[None, :], 256, axis=0), bad_tags, KEY, algo, 32, impl=impl)
    assert not ok.any()


def test_message_form_signs_header_and_body():
    rng = np.random.default_rng(2)
    recs = rng.integers(0, 256, (10, 64), dtype=np.uint8)
    recs[:, 48:] = auth.sign_messages(recs, KEY)
    assert auth.verify_messages(recs, KEY).all()
    for i in range(10):
        assert recs[i, 48:].tobytes() == hashlib.blake2b(recs[i, :48].tobytes(), key=KEY,
                                                         digest_size=16).digest()
    recs[3, 0] ^= 1
    recs[7, 63] ^= 0x40
    assert np.flatnonzero(~auth.verify_messages(recs, KEY)).tolist() == [3, 7]


def test_cpu_description_names_lanes():
    c = auth.cpu()
    assert c["lanes"] in (0, 4, 8) and isinstance(c["model"], str)


@pytest.mark.parametrize("call, exc, words", [
    (lambda: auth.mac("text", KEY), TypeError, "data"),
    (lambda: auth.mac(np.zeros((2, 3), np.int32), KEY), TypeError, "uint8"),
    (lambda: auth.mac(np.zeros((2, 3, 4), np.uint8), KEY), ValueError, "2-D"),
    (lambda: auth.mac(b"x", b"k" * 65), ValueError, "1..64"),
    (lambda: auth.mac(b"x", "key"), TypeError, "key"),
    (lambda: auth.mac(b"x", KEY, digest_size=0), ValueError, "1..64"),
    (lambda: auth.mac(b"x", KEY, digest_size=65), ValueError, "1..64"),
    (lambda: auth.mac(b"x", KEY, "hmac-sha256", 33), ValueError, "1..32"),
    (lambda: auth.mac(b"x", KEY, "md5"), ValueError, "algo"),
    (lambda: auth.mac(b"x", KEY, impl="gpu"), ValueError, "impl"),
    (lambda: auth.verify(b"x", np.zeros((1, 8), np.uint8), KEY), ValueError, "tags"),
    (lambda: auth.sign_tiles([1], [1], np.zeros((1, 100), np.uint8), KEY), ValueError, "1024"),
    (lambda: auth.sign_tiles([-1], [1], np.zeros((1, 1024), np.uint8), KEY), ValueError, "tile_ids"),
    (lambda: auth.sign_messages(np.zeros((1, 50), np.uint8), KEY), ValueError, "48"),
])
def test_bad_input_names_the_argument(call, exc, words):
    with pytest.raises(exc, match=words):
        call()


TILE = np.zeros((1, 1024), np.uint8)
RECORD = np.zeros((1, 64), np.uint8)
TAG32 = np.zeros((1, 32), np.uint8)
# Every public function of auth that takes a key, with the algorithms it takes.
KEYED = {
    "mac": lambda key, algo: auth.mac(b"x", key, algo),
    "verify": lambda key, algo: auth.verify(b"x", TAG32, key, algo),
    "sign_tiles": lambda key, algo: auth.sign_tiles([1], [1], TILE, key, algo),
    "verify_tiles": lambda key, algo: auth.verify_tiles([1], [1], TILE, TAG32, key, algo),
    "sign_messages": lambda key, algo: auth.sign_messages(RECORD, key),
    "verify_messages": lambda key, algo: auth.verify_messages(RECORD, key),
}
ALGOS_OF = {name: (auth.ALGOS if "messages" not in name else ("blake2b",)) for name in KEYED}


def test_the_key_cases_cover_every_keyed_function():
    keyed = {n for n in auth.__all__ if callable(getattr(auth, n))
             and "key" in inspect.signature(getattr(auth, n)).parameters}
    assert keyed == set(KEYED)


@pytest.mark.parametrize("key", [b"", bytearray(), memoryview(b"")], ids=["bytes", "bytearray",
                                                                          "memoryview"])
@pytest.mark.parametrize("name, algo", [(n, a) for n in KEYED for a in ALGOS_OF[n]])
def test_an_empty_key_is_refused_naming_the_key(name, algo, key):
    with pytest.raises(ConfigError, match="key must be") as e:
        KEYED[name](key, algo)
    assert e.value.field == "key" and e.value.value == 0


@pytest.mark.parametrize("name", list(KEYED))
def test_a_blake2b_key_over_64_bytes_is_refused_by_its_length(name):
    secret = bytes(range(65))
    with pytest.raises(ConfigError, match="key must be 1..64 bytes for blake2b") as e:
        KEYED[name](secret, "blake2b")
    err = e.value
    assert (err.field, err.value, err.bound) == ("key", 65, (1, 64))
    assert secret.hex() not in str(err) and repr(secret) not in str(err)  # never the key itself


@pytest.mark.parametrize("name, algo", [(n, a) for n in KEYED for a in ALGOS_OF[n]])
@pytest.mark.parametrize("length", [1, 64])
def test_keys_at_the_bounds_are_taken(name, algo, length):
    KEYED[name](bytes(range(1, length + 1)), algo)
    if algo == "hmac-sha256":  # HMAC hashes keys over a block: no upper bound
        KEYED[name](bytes(200), algo)
