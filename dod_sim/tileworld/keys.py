"""The tileworld's two secret keys and their schedules.

A world signs its tiles with the *tile key* (keyed BLAKE2b-256 or HMAC-SHA-256) and its
messages with the *message key* (keyed BLAKE2b-128). Both are 32 bytes, derived by keyed
BLAKE2b from one *master key*: the ``key=`` a person gives ``World``, or else 32 bytes
of ``os.urandom``. Only ``Config(deterministic_keys=True)`` derives the master key from
the seed, for tests and for tags that must repeat from run to run: the seed is in every
report's provenance and every snapshot header, so keys derived from it are keys anyone
can compute.

Keys change no simulation state but the bytes of tags (a tampered record fails
verification under any key), so the state digest leaves tags and keys out: the same seed
gives the same digest whatever the keys. A snapshot holds the keys (array ``keys``), so a
snapshot file is a secret.

>>> keys = world_keys(seed=0, deterministic=True)
>>> keys.shape, keys.dtype.name
((2, 32), 'uint8')
>>> bytes(keys[TILE]) == derive_keys(0)[0]
True
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

import numpy as np

from ..auth import key_bytes
from ..errors import ConfigError
from ..kernels import blake2b as k_blake2b
from ..kernels import sha256 as k_sha256

__all__ = ["TILE", "MESSAGE", "KEY_BYTES", "world_keys", "derive_keys", "schedule",
           "ScheduleOf"]

TILE, MESSAGE = 0, 1  # rows of the ``keys`` array
KEY_BYTES = 32
_PURPOSES = (b"dod_sim tile key", b"dod_sim message key")


def _derive(master: bytes) -> np.ndarray:
    return np.frombuffer(b"".join(hashlib.blake2b(p, key=master, digest_size=KEY_BYTES).digest()
                                  for p in _PURPOSES), np.uint8).reshape(2, KEY_BYTES).copy()


def world_keys(seed: int, key=None, deterministic: bool = False) -> np.ndarray:
    """The tile and message keys, uint8[2, 32] (rows :data:`TILE`, :data:`MESSAGE`).

    key : the master key, bytes of length 1..64, or None for ``os.urandom(32)``
    deterministic : derive the master key from ``seed`` (:func:`derive_keys`); refused
        together with ``key``

    Raises TypeError for a key that is not bytes, ConfigError (field ``key``) for one of
    the wrong length or one given with ``deterministic``.
    """
    if key is not None:
        if deterministic:
            raise ConfigError("give key= or deterministic_keys=True, not both: a key is "
                              "secret, keys derived from the seed are not", field="key")
        return _derive(key_bytes(key))
    if deterministic:
        return _derive(int(seed).to_bytes(8, "little"))
    return _derive(os.urandom(KEY_BYTES))


def derive_keys(seed: int) -> tuple[bytes, bytes]:
    """(tile key, message key) of a world of ``seed`` with ``deterministic_keys=True``."""
    keys = world_keys(seed, deterministic=True)
    return bytes(keys[TILE]), bytes(keys[MESSAGE])


# (row of keys, schedule kernel's digest size or None for HMAC-SHA-256) per schedule array
_SCHEDULES = {"msg_ks": (MESSAGE, 16), "tile_ks": (TILE, 32), "tile_hmac_ks": (TILE, None)}


def schedule(name: str, keys: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Write the key schedule ``name`` (``msg_ks``, ``tile_ks``, ``tile_hmac_ks``) of
    ``keys`` (uint8[2, 32]) into ``out`` and return it."""
    row, digest_size = _SCHEDULES[name]
    key = np.ascontiguousarray(keys[row])
    if digest_size is None:
        k_sha256.hmac_key_schedule(key, out)
    else:
        k_blake2b.key_schedule(key, digest_size, out)
    return out


@dataclass(frozen=True)
class ScheduleOf:
    """Constraint (:mod:`dod_sim.schema`): the array is its key schedule ``name`` of
    array ``keys``, so a snapshot cannot pair one key with another key's schedule."""

    name: str
    keys: str = "keys"
    cross = True  # reads another array (not a field)

    def check(self, v, ctx):
        want = schedule(self.name, ctx.parts[self.keys], np.empty_like(v))
        if not np.array_equal(v, want):
            return f"is not the {self.name} schedule of array {self.keys}"
        return None

    def describe(self, sizes=None):
        return f"the {self.name} schedule of {self.keys}"
