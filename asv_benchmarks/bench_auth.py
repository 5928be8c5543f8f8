"""MAC throughput of ``dod_sim.auth.mac``, and ratios to Python's hashlib/hmac measured
in the same setup (same process, same bytes), so the ratios compare across machines.

Workloads (as ``dod-sim bench auth``): 4,096 tile records of 1,032 bytes with 32-byte
tags, and 48-byte messages with 16-byte tags (100,000 in quick mode, else 1,000,000).
"""

import functools
import hashlib
import hmac

import numpy as np

from . import THREADS, ThreadsInSetup, quick_mode

KEY = bytes(range(32))
IMPLS = ["scalar", "lanes4", "lanes8"]
TILE_ROWS, TILE_BYTES, TILE_DIGEST = 4096, 1032, 32
MSG_BYTES, MSG_DIGEST = 48, 16
HMAC_DIGEST = 32           # untruncated, like hmac.new(...).digest()
PER_CALL_SAMPLE = 100_000  # messages of the per-call references


def _repeat():
    return 3 if quick_mode() else 5


def _n_messages():
    return 100_000 if quick_mode() else 1_000_000


def _best_time(fn, repeat):
    from dod_sim.bench import best_time

    return best_time(fn, repeat)


# Inputs and references are computed once per benchmark process: asv calls setup again
# before every timed sample.

@functools.lru_cache(maxsize=None)
def _tiles():
    return np.random.default_rng(0).integers(0, 256, (TILE_ROWS, TILE_BYTES), dtype=np.uint8)


@functools.lru_cache(maxsize=None)
def _messages(n):
    return np.random.default_rng(1).integers(0, 256, (n, MSG_BYTES), dtype=np.uint8)


@functools.lru_cache(maxsize=None)
def _sample(n):
    return [m.tobytes() for m in _messages(n)[:PER_CALL_SAMPLE]]


@functools.lru_cache(maxsize=None)
def _hashlib_buffer_bytes_per_s():
    """hashlib.blake2b (keyed, 32-byte digest) over the tiles' bytes as one buffer."""
    buf = _tiles().tobytes()
    t = _best_time(lambda: hashlib.blake2b(buf, key=KEY, digest_size=TILE_DIGEST).digest(),
                   _repeat())
    return len(buf) / t


@functools.lru_cache(maxsize=None)
def _hashlib_per_call_messages_per_s(n):
    """hashlib.blake2b (keyed, 16-byte digest), one Python call per 48-byte message."""
    sample = _sample(n)
    t = _best_time(lambda: [hashlib.blake2b(m, key=KEY, digest_size=MSG_DIGEST).digest()
                            for m in sample], 3)
    return len(sample) / t


@functools.lru_cache(maxsize=None)
def _hmac_per_call_messages_per_s(n):
    """hmac.new(key, message, sha256).digest(), one Python call per 48-byte message."""
    sample = _sample(n)
    t = _best_time(lambda: [hmac.new(KEY, m, hashlib.sha256).digest() for m in sample], 3)
    return len(sample) / t


class _MacBenchmark(ThreadsInSetup):
    """Shared settings; ``_prepare`` binds ``self.mac`` to one ``auth.mac`` call."""

    number = 1
    repeat = (5, 20, 5.0)
    warmup_time = 0   # setup calls the MAC once (compiling or loading its kernel)
    timeout = 600     # a cold kernel cache compiles the lanes kernels (~10 s each here)

    def _prepare(self, data, algo, digest_size, impl, threads):
        from dod_sim import auth

        self._enter_threads(threads)
        self.rows = data.shape[0]
        self.mac = functools.partial(auth.mac, data, KEY, algo, digest_size, impl=impl)
        self.mac()


class Blake2bTiles(_MacBenchmark):
    """Keyed BLAKE2b, 32-byte tags, of 4,096 tile records of 1,032 bytes (4.2 MB)."""

    params = (IMPLS, THREADS)
    param_names = ["impl", "threads"]

    def setup(self, impl, threads):
        self.reference = _hashlib_buffer_bytes_per_s()
        self._prepare(_tiles(), "blake2b", TILE_DIGEST, impl, threads)

    def time_mac_tiles(self, impl, threads):
        """Wall time of ``auth.mac`` over the 4,096 tile records."""
        self.mac()

    def track_tiles_vs_hashlib(self, impl, threads):
        """Our MB/s over the tiles divided by hashlib.blake2b's MB/s over the same bytes
        as one buffer (measured in the same setup); above 1 is faster."""
        mbps = TILE_ROWS * TILE_BYTES / _best_time(self.mac, _repeat())
        return mbps / self.reference

    track_tiles_vs_hashlib.unit = "x hashlib"


class Blake2bMessages(_MacBenchmark):
    """Keyed BLAKE2b, 16-byte tags, of 48-byte messages (100,000 in quick mode, else
    1,000,000), the size of dod_sim's mailbox records."""

    params = (IMPLS, THREADS)
    param_names = ["impl", "threads"]

    def setup(self, impl, threads):
        n = _n_messages()
        self.reference = _hashlib_per_call_messages_per_s(n)
        self._prepare(_messages(n), "blake2b", MSG_DIGEST, impl, threads)

    def time_mac_messages(self, impl, threads):
        """Wall time of ``auth.mac`` over all the messages."""
        self.mac()

    def track_messages_vs_hashlib(self, impl, threads):
        """Our messages/s divided by hashlib.blake2b's messages/s at one Python call per
        message (measured in the same setup); above 1 is faster."""
        per_s = self.rows / _best_time(self.mac, _repeat())
        return per_s / self.reference

    track_messages_vs_hashlib.unit = "x hashlib"


class HmacSha256(_MacBenchmark):
    """HMAC-SHA256 (``algo="hmac-sha256"``, 32-byte tags) of the tiles and messages."""

    params = THREADS
    param_names = ["threads"]

    def setup(self, threads):
        n = _n_messages()
        self.reference = _hmac_per_call_messages_per_s(n)
        self._prepare(_messages(n), "hmac-sha256", HMAC_DIGEST, "auto", threads)
        from dod_sim import auth

        self.mac_tiles = functools.partial(auth.mac, _tiles(), KEY, "hmac-sha256", HMAC_DIGEST)
        self.mac_tiles()

    def time_hmac_tiles(self, threads):
        """Wall time of ``auth.mac(..., algo="hmac-sha256")`` over the 4,096 tiles."""
        self.mac_tiles()

    def time_hmac_messages(self, threads):
        """Wall time of ``auth.mac(..., algo="hmac-sha256")`` over all the messages."""
        self.mac()

    def track_messages_vs_hmac_new(self, threads):
        """Our messages/s divided by ``hmac.new(key, m, hashlib.sha256).digest()``'s at one
        call per message (measured in the same setup); above 1 is faster."""
        per_s = self.rows / _best_time(self.mac, _repeat())
        return per_s / self.reference

    track_messages_vs_hmac_new.unit = "x hmac.new"
