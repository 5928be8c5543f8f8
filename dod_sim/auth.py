"""Message authentication: keyed BLAKE2b (RFC 7693) and HMAC-SHA256 (RFC 2104).

The Python face of ``dod_sim.kernels.blake2b``, ``blake2b_lanes`` and ``sha256``. Every
function takes ``bytes`` (one message) or a 2-D uint8 array (one message per row) and
runs over all rows in parallel, releasing the GIL. Results equal Python's ``hashlib``
and ``hmac`` bit for bit. Keys are 1..64 bytes for BLAKE2b and 1 byte or more for
HMAC-SHA256; every function that takes a key refuses an empty one with
:class:`~dod_sim.errors.ConfigError` (``field="key"``), as an empty key gives a tag
anyone can compute.

>>> tags = mac(b"abc", b"key", digest_size=16)
>>> bool(verify(b"abc", tags, b"key", digest_size=16)[0])
True
"""

from __future__ import annotations

import numpy as np

from .errors import ConfigError
from .kernels import blake2b as _b2
from .kernels import blake2b_lanes as _lanes
from .kernels import sha256 as _sha
from .kernels.mailbox import SIGNED as MESSAGE_SIGNED
from .kernels.mailbox import TAG as MESSAGE_TAG
from .kernels.tileworld.tiles import PAYLOAD as TILE_PAYLOAD
from .kernels.tileworld.tiles import RECORD as TILE_RECORD

__all__ = [
    "ALGOS", "IMPLS", "mac", "verify", "tile_records", "sign_tiles", "verify_tiles",
    "sign_messages", "verify_messages", "cpu",
]

ALGOS = ("blake2b", "hmac-sha256")
IMPLS = ("auto", "scalar", "lanes4", "lanes8")
_MAX_DIGEST = {"blake2b": 64, "hmac-sha256": 32}
_MAX_KEY = 64  # BLAKE2b's limit (RFC 7693); HMAC hashes longer keys down (RFC 2104)


def cpu() -> dict:
    """CPU model, vector flags and the lane count ``impl="auto"`` uses for BLAKE2b."""
    return _lanes.describe_cpu()


def _rows(data, name="data") -> np.ndarray:
    if isinstance(data, (bytes, bytearray, memoryview)):
        return np.frombuffer(bytes(data), np.uint8).reshape(1, -1)
    if not isinstance(data, np.ndarray):
        raise TypeError(f"{name} must be bytes or a 2-D uint8 numpy array, got {type(data).__name__}")
    if data.dtype != np.uint8:
        raise TypeError(f"{name} must have dtype uint8, got {data.dtype}")
    if data.ndim == 1:
        data = data.reshape(1, -1)
    if data.ndim != 2:
        raise ValueError(f"{name} must be 1-D (one message) or 2-D (rows), got {data.ndim}-D")
    return np.ascontiguousarray(data)


def key_bytes(key, algo: str = "blake2b") -> bytes:
    """``key`` as bytes, checked for ``algo``: refuses what is not bytes (TypeError) and
    lengths out of range (ConfigError with field "key", value the length: the key itself
    is a secret and appears in no error)."""
    if not isinstance(key, (bytes, bytearray, memoryview)):
        raise TypeError(f"key must be bytes, got {type(key).__name__}")
    key = bytes(key)
    # An empty key makes keyed BLAKE2b the plain hash and HMAC a public function:
    # a tag anyone can compute, so it is refused rather than taken as "no key".
    if algo == "blake2b" and not 1 <= len(key) <= _MAX_KEY:
        raise ConfigError(f"key must be 1..{_MAX_KEY} bytes for blake2b, got {len(key)}",
                          field="key", value=len(key), bound=(1, _MAX_KEY))
    if not key:
        raise ConfigError(f"key must be at least 1 byte for {algo}, got 0",
                          field="key", value=0, bound=1)
    return key


def _key(key, algo) -> np.ndarray:
    """The key as uint8[klen] (:func:`key_bytes`)."""
    return np.frombuffer(key_bytes(key, algo), np.uint8).copy()


def _check(algo, digest_size, impl):
    if algo not in ALGOS:
        raise ValueError(f"algo must be one of {ALGOS}, got {algo!r}")
    hi = _MAX_DIGEST[algo]
    if isinstance(digest_size, bool) or not isinstance(digest_size, (int, np.integer)) \
            or not 1 <= digest_size <= hi:
        raise ValueError(f"digest_size must be an integer in 1..{hi} for {algo}, got {digest_size!r}")
    if impl not in IMPLS:
        raise ValueError(f"impl must be one of {IMPLS}, got {impl!r}")


def _b2_kernels(impl):
    if impl == "scalar" or (impl == "auto" and _lanes.LANES == 0):
        return _b2.mac_rows, _b2.verify_rows
    if impl == "lanes4" or (impl == "auto" and _lanes.LANES == 4):
        return _lanes.mac_rows_lanes4, _lanes.verify_rows_lanes4
    return _lanes.mac_rows_lanes8, _lanes.verify_rows_lanes8


def _schedule(key, algo, digest_size):
    k = _key(key, algo)
    if algo == "blake2b":
        ks = np.zeros(_b2.KS_WORDS, np.uint64)
        _b2.key_schedule(k, digest_size, ks)
    else:
        ks = np.zeros(16, np.uint32)
        _sha.hmac_key_schedule(k, ks)
    return ks


def mac(data, key: bytes, algo: str = "blake2b", digest_size: int = 32, *,
        impl: str = "auto") -> np.ndarray:
    """Tag every row of ``data``: uint8[rows, digest_size].

    data : bytes (one message) or uint8[rows, length] (each row one message)
    key : bytes, 1..64 bytes for blake2b, 1 byte or more for hmac-sha256; an empty or
        over-long key raises ConfigError (field "key")
    algo : "blake2b" or "hmac-sha256" (truncated to digest_size, RFC 2104 section 5)
    digest_size : 1..64 for blake2b, 1..32 for hmac-sha256
    impl : BLAKE2b implementation: "auto" (lanes when the CPU has AVX2), "scalar",
        "lanes4", "lanes8"; ignored for hmac-sha256
    """
    _check(algo, digest_size, impl)
    rows = _rows(data)
    out = np.zeros((rows.shape[0], digest_size), np.uint8)
    ks = _schedule(key, algo, digest_size)
    if algo == "blake2b":
        _b2_kernels(impl)[0](ks, rows, rows.shape[1], out)
    else:
        _sha.hmac_rows(ks, rows, rows.shape[1], out)
    return out


def verify(data, tags, key: bytes, algo: str = "blake2b", digest_size: int = 32, *,
           impl: str = "auto") -> np.ndarray:
    """Check every row's tag in constant time: bool[rows].

    tags : bytes (one tag) or uint8[rows, digest_size]
    """
    _check(algo, digest_size, impl)
    rows = _rows(data)
    t = _rows(tags, "tags")
    if t.shape != (rows.shape[0], digest_size):
        raise ValueError(f"tags must have shape ({rows.shape[0]}, {digest_size}), got {t.shape}")
    ok = np.zeros(rows.shape[0], np.bool_)
    ks = _schedule(key, algo, digest_size)
    if algo == "blake2b":
        _b2_kernels(impl)[1](ks, rows, rows.shape[1], t, ok)
    else:
        _sha.hmac_verify_rows(ks, rows, rows.shape[1], t, ok)
    return ok


def tile_records(tile_ids, versions, payloads) -> np.ndarray:
    """The bytes a tile tag covers: ``tile_id (u32 LE) || version (u32 LE) || payload``.

    tile_ids, versions : integer arrays of shape (n,), values in [0, 2**32)
    payloads : uint8[n, 1024]
    Returns uint8[n, 1032].
    """
    ids = np.atleast_1d(np.asarray(tile_ids))
    ver = np.atleast_1d(np.asarray(versions))
    pay = _rows(payloads, "payloads")
    n = pay.shape[0]
    if pay.shape[1] != TILE_PAYLOAD:
        raise ValueError(f"payloads must have {TILE_PAYLOAD} bytes per row, got {pay.shape[1]}")
    for name, a in (("tile_ids", ids), ("versions", ver)):
        if a.shape != (n,) or not np.issubdtype(a.dtype, np.integer):
            raise ValueError(f"{name} must be {n} integers, got shape {a.shape} dtype {a.dtype}")
        if n and (a.min() < 0 or a.max() >= 2**32):
            raise ValueError(f"{name} must lie in [0, 2**32)")
    rec = np.empty((n, TILE_RECORD), np.uint8)
    rec[:, 0:4] = ids.astype("<u4").view(np.uint8).reshape(n, 4)
    rec[:, 4:8] = ver.astype("<u4").view(np.uint8).reshape(n, 4)
    rec[:, 8:] = pay
    return rec


def sign_tiles(tile_ids, versions, payloads, key: bytes, algo: str = "blake2b", *,
               impl: str = "auto") -> np.ndarray:
    """32-byte tags of tiles, over ``tile_id || version || payload``: uint8[n, 32]."""
    return mac(tile_records(tile_ids, versions, payloads), key, algo, 32, impl=impl)


def verify_tiles(tile_ids, versions, payloads, tags, key: bytes, algo: str = "blake2b", *,
                 impl: str = "auto") -> np.ndarray:
    """Which tiles carry a valid tag: bool[n]."""
    return verify(tile_records(tile_ids, versions, payloads), tags, key, algo, 32, impl=impl)


def _messages(records) -> np.ndarray:
    rec = _rows(records, "records")
    if rec.shape[1] not in (MESSAGE_SIGNED, MESSAGE_SIGNED + MESSAGE_TAG):
        raise ValueError(f"message records must be 48 (header+body) or 64 bytes wide, "
                         f"got {rec.shape[1]}")
    return rec


def sign_messages(records, key: bytes, *, impl: str = "auto") -> np.ndarray:
    """16-byte BLAKE2b tags of message records' first 48 bytes: uint8[n, 16]."""
    rec = _messages(records)
    return mac(np.ascontiguousarray(rec[:, :MESSAGE_SIGNED]), key, "blake2b", MESSAGE_TAG, impl=impl)


def verify_messages(records, key: bytes, *, impl: str = "auto") -> np.ndarray:
    """Check 64-byte message records (tag in bytes 48..63): bool[n]."""
    rec = _messages(records)
    if rec.shape[1] != MESSAGE_SIGNED + MESSAGE_TAG:
        raise ValueError("verify_messages needs 64-byte records (the tag is bytes 48..63)")
    return verify(np.ascontiguousarray(rec[:, :MESSAGE_SIGNED]),
                  np.ascontiguousarray(rec[:, MESSAGE_SIGNED:]), key, "blake2b", MESSAGE_TAG,
                  impl=impl)
