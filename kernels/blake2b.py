"""BLAKE2b (RFC 7693) as Numba kernels: keyed, any digest size 1..64, any message length.

A key is turned once into a *key schedule* ``ks : uint64[KS_WORDS]`` by
:func:`key_schedule`; every later call reads the schedule, never the key:

==========  ==============================================================
``ks[0:8]``    initial chain value (IV xor the parameter block)
``ks[8:16]``   chain value after compressing the padded key block
``ks[16:32]``  the padded key block as 16 little-endian words
``ks[32]``     key length in bytes (0..64)
``ks[33]``     digest size in bytes (1..64)
==========  ==============================================================

With a key, a message of 1..128 bytes (a 48-byte message record, say) then costs a
single compression. The single-message functions allocate nothing (their scratch is
on the native stack), so tick kernels call them per row; the ``*_rows`` kernels run
over the rows of a 2-D array in parallel, in chunks of ``chunk_rows(length)`` rows
(about 16 KiB of input each) so that the work split never depends on the thread count.
"""

import numpy as np
from numba import prange

from ._jit import kernel
from ._stack import stack_empty
from .ct import ct_equal

__all__ = [
    "KS_WORDS",
    "CHUNK_ROWS",
    "chunk_rows",
    "key_schedule",
    "compress",
    "load_block",
    "mac_into",
    "mac_range",
    "verify_range",
    "mac_rows",
    "verify_rows",
]

KS_WORDS = 34
CHUNK_ROWS = 256
CHUNK_BYTES = 16384  # input bytes a parallel chunk aims at (see chunk_rows)
BLOCK = 128

IV = np.array(
    [
        0x6A09E667F3BCC908, 0xBB67AE8584CAA73B, 0x3C6EF372FE94F82B, 0xA54FF53A5F1D36F1,
        0x510E527FADE682D1, 0x9B05688C2B3E6C1F, 0x1F83D9ABFB41BD6B, 0x5BE0CD19137E2179,
    ],
    dtype=np.uint64,
)

# Rounds 10 and 11 reuse the permutations of rounds 0 and 1 (RFC 7693, 2.7).
SIGMA = np.array(
    [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
        [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
        [11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4],
        [7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8],
        [9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13],
        [2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9],
        [12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11],
        [13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10],
        [6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5],
        [10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0],
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
        [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
    ],
    dtype=np.intp,
)

_R1, _R2, _R3, _R4 = np.uint64(32), np.uint64(24), np.uint64(16), np.uint64(63)
_L1, _L2, _L3, _L4 = np.uint64(32), np.uint64(40), np.uint64(48), np.uint64(1)
_ALL = np.uint64(0xFFFFFFFFFFFFFFFF)


@kernel
def _g(a, b, c, d, x, y):
    a = a + b + x
    d = d ^ a
    d = (d >> _R1) | (d << _L1)
    c = c + d
    b = b ^ c
    b = (b >> _R2) | (b << _L2)
    a = a + b + y
    d = d ^ a
    d = (d >> _R3) | (d << _L3)
    c = c + d
    b = b ^ c
    b = (b >> _R4) | (b << _L4)
    return a, b, c, d


@kernel
def compress(h, m, t, last):
    """The compression function F, in place.

    h : uint64[8], read and written (chain value)
    m : uint64[16], read (message block as little-endian words)
    t : uint64, bytes hashed so far including this block (messages < 2**64 bytes)
    last : bool, True for the final block
    """
    v0, v1, v2, v3, v4, v5, v6, v7 = h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]
    v8, v9, v10, v11 = IV[0], IV[1], IV[2], IV[3]
    v12 = IV[4] ^ t
    v13 = IV[5]
    v14 = IV[6] ^ _ALL if last else IV[6]
    v15 = IV[7]
    # The twelve rounds unrolled with the message words in locals (SIGMA applied
    # here, in the source): 167 ns a compression against 244 ns for a loop over
    # SIGMA rows, for 2 s more compile time.
    m0, m1, m2, m3, m4, m5, m6, m7, m8, m9, m10, m11, m12, m13, m14, m15 = (
        m[0], m[1], m[2], m[3], m[4], m[5], m[6], m[7],
        m[8], m[9], m[10], m[11], m[12], m[13], m[14], m[15],
    )
    # round 0
    v0, v4, v8, v12 = _g(v0, v4, v8, v12, m0, m1)
    v1, v5, v9, v13 = _g(v1, v5, v9, v13, m2, m3)
    v2, v6, v10, v14 = _g(v2, v6, v10, v14, m4, m5)
    v3, v7, v11, v15 = _g(v3, v7, v11, v15, m6, m7)
    v0, v5, v10, v15 = _g(v0, v5, v10, v15, m8, m9)
    v1, v6, v11, v12 = _g(v1, v6, v11, v12, m10, m11)
    v2, v7, v8, v13 = _g(v2, v7, v8, v13, m12, m13)
    v3, v4, v9, v14 = _g(v3, v4, v9, v14, m14, m15)
    # round 1
    v0, v4, v8, v12 = _g(v0, v4, v8, v12, m14, m10)
    v1, v5, v9, v13 = _g(v1, v5, v9, v13, m4, m8)
    v2, v6, v10, v14 = _g(v2, v6, v10, v14, m9, m15)
    v3, v7, v11, v15 = _g(v3, v7, v11, v15, m13, m6)
    v0, v5, v10, v15 = _g(v0, v5, v10, v15, m1, m12)
    v1, v6, v11, v12 = _g(v1, v6, v11, v12, m0, m2)
    v2, v7, v8, v13 = _g(v2, v7, v8, v13, m11, m7)
    v3, v4, v9, v14 = _g(v3, v4, v9, v14, m5, m3)
    # round 2
    v0, v4, v8, v12 = _g(v0, v4, v8, v12, m11, m8)
    v1, v5, v9, v13 = _g(v1, v5, v9, v13, m12, m0)
    v2, v6, v10, v14 = _g(v2, v6, v10, v14, m5, m2)
    v3, v7, v11, v15 = _g(v3, v7, v11, v15, m15, m13)
    v0, v5, v10, v15 = _g(v0, v5, v10, v15, m10, m14)
    v1, v6, v11, v12 = _g(v1, v6, v11, v12, m3, m6)
    v2, v7, v8, v13 = _g(v2, v7, v8, v13, m7, m1)
    v3, v4, v9, v14 = _g(v3, v4, v9, v14, m9, m4)
    # round 3
    v0, v4, v8, v12 = _g(v0, v4, v8, v12, m7, m9)
    v1, v5, v9, v13 = _g(v1, v5, v9, v13, m3, m1)
    v2, v6, v10, v14 = _g(v2, v6, v10, v14, m13, m12)
    v3, v7, v11, v15 = _g(v3, v7, v11, v15, m11, m14)
    v0, v5, v10, v15 = _g(v0, v5, v10, v15, m2, m6)
    v1, v6, v11, v12 = _g(v1, v6, v11, v12, m5, m10)
    v2, v7, v8, v13 = _g(v2, v7, v8, v13, m4, m0)
    v3, v4, v9, v14 = _g(v3, v4, v9, v14, m15, m8)
    # round 4
    v0, v4, v8, v12 = _g(v0, v4, v8, v12, m9, m0)
    v1, v5, v9, v13 = _g(v1, v5, v9, v13, m5, m7)
    v2, v6, v10, v14 = _g(v2, v6, v10, v14, m2, m4)
    v3, v7, v11, v15 = _g(v3, v7, v11, v15, m10, m15)
    v0, v5, v10, v15 = _g(v0, v5, v10, v15, m14, m1)
    v1, v6, v11, v12 = _g(v1, v6, v11, v12, m11, m12)
    v2, v7, v8, v13 = _g(v2, v7, v8, v13, m6, m8)
    v3, v4, v9, v14 = _g(v3, v4, v9, v14, m3, m13)
    # round 5
    v0, v4, v8, v12 = _g(v0, v4, v8, v12, m2, m12)
    v1, v5, v9, v13 = _g(v1, v5, v9, v13, m6, m10)
    v2, v6, v10, v14 = _g(v2, v6, v10, v14, m0, m11)
    v3, v7, v11, v15 = _g(v3, v7, v11, v15, m8, m3)
    v0, v5, v10, v15 = _g(v0, v5, v10, v15, m4, m13)
    v1, v6, v11, v12 = _g(v1, v6, v11, v12, m7, m5)
    v2, v7, v8, v13 = _g(v2, v7, v8, v13, m15, m14)
    v3, v4, v9, v14 = _g(v3, v4, v9, v14, m1, m9)
    # round 6
    v0, v4, v8, v12 = _g(v0, v4, v8, v12, m12, m5)
    v1, v5, v9, v13 = _g(v1, v5, v9, v13, m1, m15)
    v2, v6, v10, v14 = _g(v2, v6, v10, v14, m14, m13)
    v3, v7, v11, v15 = _g(v3, v7, v11, v15, m4, m10)
    v0, v5, v10, v15 = _g(v0, v5, v10, v15, m0, m7)
    v1, v6, v11, v12 = _g(v1, v6, v11, v12, m6, m3)
    v2, v7, v8, v13 = _g(v2, v7, v8, v13, m9, m2)
    v3, v4, v9, v14 = _g(v3, v4, v9, v14, m8, m11)
    # round 7
    v0, v4, v8, v12 = _g(v0, v4, v8, v12, m13, m11)
    v1, v5, v9, v13 = _g(v1, v5, v9, v13, m7, m14)
    v2, v6, v10, v14 = _g(v2, v6, v10, v14, m12, m1)
    v3, v7, v11, v15 = _g(v3, v7, v11, v15, m3, m9)
    v0, v5, v10, v15 = _g(v0, v5, v10, v15, m5, m0)
    v1, v6, v11, v12 = _g(v1, v6, v11, v12, m15, m4)
    v2, v7, v8, v13 = _g(v2, v7, v8, v13, m8, m6)
    v3, v4, v9, v14 = _g(v3, v4, v9, v14, m2, m10)
    # round 8
    v0, v4, v8, v12 = _g(v0, v4, v8, v12, m6, m15)
    v1, v5, v9, v13 = _g(v1, v5, v9, v13, m14, m9)
    v2, v6, v10, v14 = _g(v2, v6, v10, v14, m11, m3)
    v3, v7, v11, v15 = _g(v3, v7, v11, v15, m0, m8)
    v0, v5, v10, v15 = _g(v0, v5, v10, v15, m12, m2)
    v1, v6, v11, v12 = _g(v1, v6, v11, v12, m13, m7)
    v2, v7, v8, v13 = _g(v2, v7, v8, v13, m1, m4)
    v3, v4, v9, v14 = _g(v3, v4, v9, v14, m10, m5)
    # round 9
    v0, v4, v8, v12 = _g(v0, v4, v8, v12, m10, m2)
    v1, v5, v9, v13 = _g(v1, v5, v9, v13, m8, m4)
    v2, v6, v10, v14 = _g(v2, v6, v10, v14, m7, m6)
    v3, v7, v11, v15 = _g(v3, v7, v11, v15, m1, m5)
    v0, v5, v10, v15 = _g(v0, v5, v10, v15, m15, m11)
    v1, v6, v11, v12 = _g(v1, v6, v11, v12, m9, m14)
    v2, v7, v8, v13 = _g(v2, v7, v8, v13, m3, m12)
    v3, v4, v9, v14 = _g(v3, v4, v9, v14, m13, m0)
    # round 10
    v0, v4, v8, v12 = _g(v0, v4, v8, v12, m0, m1)
    v1, v5, v9, v13 = _g(v1, v5, v9, v13, m2, m3)
    v2, v6, v10, v14 = _g(v2, v6, v10, v14, m4, m5)
    v3, v7, v11, v15 = _g(v3, v7, v11, v15, m6, m7)
    v0, v5, v10, v15 = _g(v0, v5, v10, v15, m8, m9)
    v1, v6, v11, v12 = _g(v1, v6, v11, v12, m10, m11)
    v2, v7, v8, v13 = _g(v2, v7, v8, v13, m12, m13)
    v3, v4, v9, v14 = _g(v3, v4, v9, v14, m14, m15)
    # round 11
    v0, v4, v8, v12 = _g(v0, v4, v8, v12, m14, m10)
    v1, v5, v9, v13 = _g(v1, v5, v9, v13, m4, m8)
    v2, v6, v10, v14 = _g(v2, v6, v10, v14, m9, m15)
    v3, v7, v11, v15 = _g(v3, v7, v11, v15, m13, m6)
    v0, v5, v10, v15 = _g(v0, v5, v10, v15, m1, m12)
    v1, v6, v11, v12 = _g(v1, v6, v11, v12, m0, m2)
    v2, v7, v8, v13 = _g(v2, v7, v8, v13, m11, m7)
    v3, v4, v9, v14 = _g(v3, v4, v9, v14, m5, m3)
    h[0] ^= v0 ^ v8
    h[1] ^= v1 ^ v9
    h[2] ^= v2 ^ v10
    h[3] ^= v3 ^ v11
    h[4] ^= v4 ^ v12
    h[5] ^= v5 ^ v13
    h[6] ^= v6 ^ v14
    h[7] ^= v7 ^ v15


@kernel
def _load_word(data, p):
    return (
        np.uint64(data[p])
        | (np.uint64(data[p + 1]) << np.uint64(8))
        | (np.uint64(data[p + 2]) << np.uint64(16))
        | (np.uint64(data[p + 3]) << np.uint64(24))
        | (np.uint64(data[p + 4]) << np.uint64(32))
        | (np.uint64(data[p + 5]) << np.uint64(40))
        | (np.uint64(data[p + 6]) << np.uint64(48))
        | (np.uint64(data[p + 7]) << np.uint64(56))
    )


@kernel
def load_block(m, data, start, n):
    """Fill ``m`` with the block ``data[start:start+n]`` (0 <= n <= 128), zero-padded.

    m : uint64[16], written
    data : uint8[:], read
    """
    full = n >> 3
    for i in range(full):
        m[i] = _load_word(data, start + 8 * i)
    for i in range(full, 16):
        m[i] = np.uint64(0)
    for i in range(full * 8, n):
        m[i >> 3] |= np.uint64(data[start + i]) << np.uint64(8 * (i & 7))


@kernel
def key_schedule(key, digest_size, ks):
    """Precompute the key schedule (see the module docstring).

    key : uint8[0..64], read
    digest_size : int, 1..64 (checked by the caller)
    ks : uint64[KS_WORDS], written
    """
    key_len = key.shape[0]
    for i in range(8):
        ks[i] = IV[i]
    ks[0] ^= np.uint64(0x01010000) ^ (np.uint64(key_len) << np.uint64(8)) ^ np.uint64(digest_size)
    m = stack_empty(16, np.uint64)
    load_block(m, key, 0, key_len)
    h = stack_empty(8, np.uint64)
    for i in range(8):
        h[i] = ks[i]
    for i in range(16):
        ks[16 + i] = m[i]
    if key_len > 0:
        compress(h, m, np.uint64(BLOCK), False)
    for i in range(8):
        ks[8 + i] = h[i]
    ks[32] = np.uint64(key_len)
    ks[33] = np.uint64(digest_size)


@kernel
def _hash_state(ks, data, start, length, h):
    """Run BLAKE2b over ``data[start:start+length]`` into the final chain value ``h``."""
    m = stack_empty(16, np.uint64)
    keyed = ks[32] > 0
    if keyed and length == 0:
        # The key block is then the last block (RFC 7693, 3.3).
        for i in range(8):
            h[i] = ks[i]
        for i in range(16):
            m[i] = ks[16 + i]
        compress(h, m, np.uint64(BLOCK), True)
        return
    off = 8 if keyed else 0
    for i in range(8):
        h[i] = ks[off + i]
    t = np.uint64(BLOCK) if keyed else np.uint64(0)
    pos = 0
    while length - pos > BLOCK:
        load_block(m, data, start + pos, BLOCK)
        t += np.uint64(BLOCK)
        compress(h, m, t, False)
        pos += BLOCK
    rest = length - pos
    load_block(m, data, start + pos, rest)
    t += np.uint64(rest)
    compress(h, m, t, True)


@kernel
def mac_into(ks, data, start, length, out, out_start):
    """Write the ``ks[33]``-byte digest of ``data[start:start+length]`` to ``out[out_start:]``.

    ks : uint64[KS_WORDS], read
    data : uint8[:], read
    out : uint8[:], written (``ks[33]`` bytes)
    Allocates nothing: callable from tick kernels on one row.
    """
    h = stack_empty(8, np.uint64)
    _hash_state(ks, data, start, length, h)
    for i in range(int(ks[33])):
        out[out_start + i] = np.uint8((h[i >> 3] >> np.uint64(8 * (i & 7))) & np.uint64(0xFF))


@kernel
def verify_into(ks, data, start, length, tag, tag_start):
    """True when ``tag[tag_start:tag_start+ks[33]]`` is the digest of the bytes given.

    The comparison is constant-time. Allocates nothing.
    """
    d = stack_empty(64, np.uint8)
    mac_into(ks, data, start, length, d, 0)
    return ct_equal(d, 0, tag, tag_start, int(ks[33]))


@kernel
def count_false(ok, rows):
    """Failures among ok[:rows]. Counted serially after the parallel pass: a prange
    reduction allocates its per-thread partials on every call (numba NRT)."""
    n = 0
    for i in range(rows):
        n += 0 if ok[i] else 1
    return n


@kernel
def chunk_rows(length):
    """Rows per parallel chunk for rows of ``length`` bytes: about ``CHUNK_BYTES`` of
    input, a multiple of 8 (whole lane groups), 8 to ``CHUNK_ROWS``. 48-byte messages go
    256 to a chunk; 64 tiles of 1,032 bytes make 8 chunks instead of one, so the tick's
    tile signing and verification use every core. A pure function of the length: the
    split never depends on the thread count (nor does the result on the split)."""
    r = CHUNK_BYTES // max(length, 1)
    return max(8, min(CHUNK_ROWS, r - r % 8))


@kernel
def mac_range(ks, data, length, out, lo, hi):
    """Rows lo..hi-1 of :func:`mac_rows`, serially: the body of one parallel chunk, for
    kernels that do more than hash in a chunk (the tick's tile pipeline)."""
    for i in range(lo, hi):
        mac_into(ks, data[i], 0, length, out[i], 0)


@kernel
def verify_range(ks, data, length, tags, ok, lo, hi):
    """Rows lo..hi-1 of :func:`verify_rows`, serially; returns their failures."""
    bad = 0
    for i in range(lo, hi):
        ok[i] = verify_into(ks, data[i], 0, length, tags[i], 0)
        bad += 0 if ok[i] else 1
    return bad


@kernel(parallel=True)
def mac_rows(ks, data, length, out):
    """Tag every row: ``out[i, :ks[33]] = BLAKE2b(data[i, :length])``.

    ks : uint64[KS_WORDS], read
    data : uint8[rows, width >= length], read
    out : uint8[rows, >= ks[33]], written
    """
    rows = data.shape[0]
    step = chunk_rows(length)
    n_chunks = (rows + step - 1) // step
    for c in prange(n_chunks):
        mac_range(ks, data, length, out, c * step, min(rows, (c + 1) * step))


@kernel(parallel=True)
def verify_rows(ks, data, length, tags, ok):
    """Check every row's tag in constant time; return the number of failures.

    ks : uint64[KS_WORDS], read
    data : uint8[rows, width >= length], read
    tags : uint8[rows, >= ks[33]], read
    ok : bool[rows], written (True where the tag matches)
    """
    rows = data.shape[0]
    step = chunk_rows(length)
    n_chunks = (rows + step - 1) // step
    for c in prange(n_chunks):
        verify_range(ks, data, length, tags, ok, c * step, min(rows, (c + 1) * step))
    return count_false(ok, rows)
