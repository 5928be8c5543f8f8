"""SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104) as Numba kernels.

Single-message functions (``sha256_into``, ``hmac_key_schedule``, ``hmac_into``) take
uint8 arrays with start/length offsets, write into caller-owned output arrays and
allocate nothing on the heap: their scratch (message schedule, padded block, chaining
state) lives on the native stack via ``stack_empty``. They can be called from other
kernels on one row of a 2-D array.

HMAC is split in two: ``hmac_key_schedule`` runs once per key and stores the chaining
states after the ``key ^ ipad`` and ``key ^ opad`` blocks in a uint32[16] array ``ks``;
``hmac_into`` starts from ``ks`` and never sees the key, so a 48-byte message costs two
compressions.

Batch kernels (``sha256_rows``, ``hmac_rows``, ``hmac_verify_rows``) run ``prange`` over
chunks of ``blake2b.chunk_rows(length)`` rows (about 16 KiB of input each, a function of
the row length alone), so the split of work (and so the result) does not depend on the
number of threads, and the 64 tiles of a tick make 8 chunks rather than one.

Arithmetic note: Numba promotes uint32 operands to 64-bit integers, so every value that
is stored back into a word is cast with ``np.uint32(...)``, which keeps the low 32 bits
(addition modulo 2**32, rotations by truncating the left-shifted part).

Preconditions of the single-message functions are not checked (hot path; the
``dod_sim`` wrappers validate). The batch kernels check their scalar arguments and
report ``status.BAD_ARGUMENT`` instead of reading or writing out of bounds.
"""

import numpy as np
from numba import prange

from ._jit import inline, kernel
from ._stack import stack_empty
from .blake2b import chunk_rows, count_false
from .ct import ct_equal
from .status import BAD_ARGUMENT, OK

__all__ = [
    "K",
    "IV",
    "DIGEST_SIZE",
    "BLOCK_SIZE",
    "sha256_into",
    "hmac_key_schedule",
    "hmac_into",
    "hmac_range",
    "hmac_verify_range",
    "sha256_rows",
    "hmac_rows",
    "hmac_verify_rows",
]

DIGEST_SIZE = 32
BLOCK_SIZE = 64
# Rows per prange task of the batch kernels. A constant, never derived from the thread
# count, so the partition of the work is the same whatever numba.get_num_threads() is.

# FIPS 180-4 section 4.2.2: first 32 bits of the fractional parts of the cube roots of
# the first 64 primes.
K = np.array(
    [
        0x428A2F98, 0x71374491, 0xB5C0FBCF, 0xE9B5DBA5, 0x3956C25B, 0x59F111F1, 0x923F82A4, 0xAB1C5ED5,
        0xD807AA98, 0x12835B01, 0x243185BE, 0x550C7DC3, 0x72BE5D74, 0x80DEB1FE, 0x9BDC06A7, 0xC19BF174,
        0xE49B69C1, 0xEFBE4786, 0x0FC19DC6, 0x240CA1CC, 0x2DE92C6F, 0x4A7484AA, 0x5CB0A9DC, 0x76F988DA,
        0x983E5152, 0xA831C66D, 0xB00327C8, 0xBF597FC7, 0xC6E00BF3, 0xD5A79147, 0x06CA6351, 0x14292967,
        0x27B70A85, 0x2E1B2138, 0x4D2C6DFC, 0x53380D13, 0x650A7354, 0x766A0ABB, 0x81C2C92E, 0x92722C85,
        0xA2BFE8A1, 0xA81A664B, 0xC24B8B70, 0xC76C51A3, 0xD192E819, 0xD6990624, 0xF40E3585, 0x106AA070,
        0x19A4C116, 0x1E376C08, 0x2748774C, 0x34B0BCB5, 0x391C0CB3, 0x4ED8AA4A, 0x5B9CCA4F, 0x682E6FF3,
        0x748F82EE, 0x78A5636F, 0x84C87814, 0x8CC70208, 0x90BEFFFA, 0xA4506CEB, 0xBEF9A3F7, 0xC67178F2,
    ],
    dtype=np.uint32,
)
K.setflags(write=False)

# FIPS 180-4 section 5.3.3: initial hash value H(0).
IV = np.array(
    [0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A, 0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19],
    dtype=np.uint32,
)
IV.setflags(write=False)

_IPAD = 0x36
_OPAD = 0x5C


@inline
def _rotr(x, n):
    """Rotate the uint32 ``x`` right by ``n`` (1..31) bits; returns uint32."""
    return np.uint32((x >> n) | (x << (32 - n)))


@inline
def _big_sigma0(x):
    """FIPS 180-4 (4.4): ROTR2 ^ ROTR13 ^ ROTR22 of uint32 ``x``; returns uint32."""
    return np.uint32(_rotr(x, 2) ^ _rotr(x, 13) ^ _rotr(x, 22))


@inline
def _big_sigma1(x):
    """FIPS 180-4 (4.5): ROTR6 ^ ROTR11 ^ ROTR25 of uint32 ``x``; returns uint32."""
    return np.uint32(_rotr(x, 6) ^ _rotr(x, 11) ^ _rotr(x, 25))


@inline
def _small_sigma0(x):
    """FIPS 180-4 (4.6): ROTR7 ^ ROTR18 ^ SHR3 of uint32 ``x``; returns uint32."""
    return np.uint32(_rotr(x, 7) ^ _rotr(x, 18) ^ (x >> 3))


@inline
def _small_sigma1(x):
    """FIPS 180-4 (4.7): ROTR17 ^ ROTR19 ^ SHR10 of uint32 ``x``; returns uint32."""
    return np.uint32(_rotr(x, 17) ^ _rotr(x, 19) ^ (x >> 10))


@kernel
def _compress(state, data, offset):
    """Process one 64-byte block (FIPS 180-4 section 6.2.2), updating ``state`` in place.

    state  : uint32[8], read and written (the chaining value H)
    data   : uint8[n] (1-D), read; the block is data[offset:offset+64], big-endian words
    offset : int, 0 <= offset <= n - 64 (not checked)
    """
    w = stack_empty(64, np.uint32)
    for t in range(16):
        p = offset + 4 * t
        w[t] = np.uint32(
            (np.uint32(data[p]) << 24)
            | (np.uint32(data[p + 1]) << 16)
            | (np.uint32(data[p + 2]) << 8)
            | np.uint32(data[p + 3])
        )
    for t in range(16, 64):
        w[t] = np.uint32(_small_sigma1(w[t - 2]) + w[t - 7] + _small_sigma0(w[t - 15]) + w[t - 16])

    a = state[0]
    b = state[1]
    c = state[2]
    d = state[3]
    e = state[4]
    f = state[5]
    g = state[6]
    h = state[7]
    for t in range(64):
        ch = np.uint32((e & f) ^ (np.uint32(~e) & g))
        maj = np.uint32((a & b) ^ (a & c) ^ (b & c))
        t1 = np.uint32(h + _big_sigma1(e) + ch + K[t] + w[t])
        t2 = np.uint32(_big_sigma0(a) + maj)
        h = g
        g = f
        f = e
        e = np.uint32(d + t1)
        d = c
        c = b
        b = a
        a = np.uint32(t1 + t2)
    state[0] = np.uint32(state[0] + a)
    state[1] = np.uint32(state[1] + b)
    state[2] = np.uint32(state[2] + c)
    state[3] = np.uint32(state[3] + d)
    state[4] = np.uint32(state[4] + e)
    state[5] = np.uint32(state[5] + f)
    state[6] = np.uint32(state[6] + g)
    state[7] = np.uint32(state[7] + h)


@kernel
def _absorb_final(state, data, start, length, prefix_bytes):
    """Hash data[start:start+length] into ``state`` and apply the final padding.

    ``state`` must already hold the chaining value after ``prefix_bytes`` bytes (a
    multiple of 64) of earlier input; the padding encodes prefix_bytes + length.

    state        : uint32[8], read and written; holds the digest words on return
    data         : uint8[n] (1-D), read
    start        : int, 0 <= start, start + length <= n (not checked)
    length       : int >= 0
    prefix_bytes : int >= 0, multiple of 64
    """
    block = stack_empty(64, np.uint8)
    n_full = length // 64
    for i in range(n_full):
        _compress(state, data, start + 64 * i)
    tail = start + 64 * n_full
    rem = length - 64 * n_full
    for j in range(rem):
        block[j] = data[tail + j]
    block[rem] = 0x80
    if rem >= 56:
        # No room for the 8-byte length: pad out this block, then a block of zeros.
        for j in range(rem + 1, 64):
            block[j] = 0
        _compress(state, block, 0)
        for j in range(56):
            block[j] = 0
    else:
        for j in range(rem + 1, 56):
            block[j] = 0
    bits = (np.int64(prefix_bytes) + np.int64(length)) * 8
    for j in range(8):
        block[56 + j] = np.uint8((bits >> (8 * (7 - j))) & 0xFF)
    _compress(state, block, 0)


@inline
def _state_to_bytes(state, out, out_start, n):
    """Write the first ``n`` (0..32) big-endian bytes of uint32[8] ``state`` to
    out[out_start:out_start+n] (uint8, written)."""
    for j in range(n):
        out[out_start + j] = np.uint8((state[j >> 2] >> (24 - 8 * (j & 3))) & 0xFF)


@kernel
def sha256_into(data, start, length, out, out_start):
    """SHA-256 digest of data[start:start+length] into out[out_start:out_start+32].

    data      : uint8[n] (1-D, any stride), read
    start     : int, 0 <= start and start + length <= n (not checked)
    length    : int >= 0
    out       : uint8[m] (1-D), written at out[out_start:out_start+32]
    out_start : int, out_start + 32 <= m (not checked)

    No heap allocation; callable from other kernels on one row.
    """
    state = stack_empty(8, np.uint32)
    for i in range(8):
        state[i] = IV[i]
    _absorb_final(state, data, start, length, 0)
    _state_to_bytes(state, out, out_start, 32)


@kernel
def hmac_key_schedule(key, ks):
    """Precompute the HMAC-SHA256 key schedule of ``key`` (RFC 2104).

    key : uint8[klen] (1-D, any length, 0 allowed), read; keys longer than 64 bytes are
          replaced by their SHA-256 digest, shorter ones are zero-padded to 64 bytes
    ks  : uint32[16], written; ks[0:8] = state after compressing (key ^ ipad),
          ks[8:16] = state after compressing (key ^ opad)

    Run once per key; ``hmac_into`` then works from ``ks`` alone. No heap allocation.
    """
    k0 = stack_empty(64, np.uint8)
    for j in range(64):
        k0[j] = 0
    klen = key.shape[0]
    if klen > 64:
        sha256_into(key, 0, klen, k0, 0)
    else:
        for j in range(klen):
            k0[j] = key[j]
    block = stack_empty(64, np.uint8)
    state = stack_empty(8, np.uint32)

    for j in range(64):
        block[j] = np.uint8(k0[j] ^ _IPAD)
    for i in range(8):
        state[i] = IV[i]
    _compress(state, block, 0)
    for i in range(8):
        ks[i] = state[i]

    for j in range(64):
        block[j] = np.uint8(k0[j] ^ _OPAD)
    for i in range(8):
        state[i] = IV[i]
    _compress(state, block, 0)
    for i in range(8):
        ks[8 + i] = state[i]


@kernel
def hmac_into(ks, data, start, length, out, out_start, digest_size):
    """HMAC-SHA256 of data[start:start+length], truncated to ``digest_size`` bytes.

    ks          : uint32[16], read (from ``hmac_key_schedule``; the key is never needed)
    data        : uint8[n] (1-D, any stride), read
    start       : int, 0 <= start and start + length <= n (not checked)
    length      : int >= 0
    out         : uint8[m] (1-D), written at out[out_start:out_start+digest_size]
    out_start   : int, out_start + digest_size <= m (not checked)
    digest_size : int, 1..32; the first digest_size bytes of the 32-byte MAC are
                  written (values above 32 write 32 bytes, never beyond the digest)

    No heap allocation; callable from other kernels on one row.
    """
    state = stack_empty(8, np.uint32)
    for i in range(8):
        state[i] = ks[i]
    _absorb_final(state, data, start, length, 64)

    # Outer hash: opad block is in ks[8:16]; what remains is the 32-byte inner digest,
    # padded in a single block (64 + 32 bytes = 768 bits).
    block = stack_empty(64, np.uint8)
    _state_to_bytes(state, block, 0, 32)
    block[32] = 0x80
    for j in range(33, 62):
        block[j] = 0
    block[62] = 0x03  # 768 = 0x0300
    block[63] = 0x00
    for i in range(8):
        state[i] = ks[8 + i]
    _compress(state, block, 0)
    n = digest_size if digest_size < 32 else 32
    _state_to_bytes(state, out, out_start, n)


@kernel(parallel=True)
def sha256_rows(data, length, out):
    """SHA-256 of each row: out[i, :] = SHA256(data[i, :length]).

    data   : uint8[rows, width] (C-contiguous), read
    length : int64, 0 <= length <= width
    out    : uint8[rows, 32] (C-contiguous), written

    Returns int64 status: ``status.OK``, or ``status.BAD_ARGUMENT`` (nothing written)
    when length is out of range, out has fewer rows than data or out.shape[1] != 32.
    Parallel over chunks of ``chunk_rows(length)`` rows; no heap allocation per row.
    """
    rows = data.shape[0]
    if length < 0 or length > data.shape[1] or out.shape[0] < rows or out.shape[1] != 32:
        return BAD_ARGUMENT
    step = chunk_rows(length)
    n_chunks = (rows + step - 1) // step
    for c in prange(n_chunks):
        lo = c * step
        hi = min(lo + step, rows)
        for i in range(lo, hi):
            sha256_into(data[i], 0, length, out[i], 0)
    return OK


@kernel
def hmac_range(ks, data, length, out, lo, hi):
    """Rows lo..hi-1 of :func:`hmac_rows` (arguments already checked), serially: the
    body of one parallel chunk, for kernels that do more than hash in a chunk."""
    d = out.shape[1]
    for i in range(lo, hi):
        hmac_into(ks, data[i], 0, length, out[i], 0, d)


@kernel
def hmac_verify_range(ks, data, length, tags, ok, lo, hi):
    """Rows lo..hi-1 of :func:`hmac_verify_rows` (arguments already checked), serially;
    returns their failures."""
    d = tags.shape[1]
    tag = stack_empty(32, np.uint8)
    bad = 0
    for i in range(lo, hi):
        hmac_into(ks, data[i], 0, length, tag, 0, d)
        ok[i] = ct_equal(tag, 0, tags[i], 0, d)
        bad += 0 if ok[i] else 1
    return bad


@kernel(parallel=True)
def hmac_rows(ks, data, length, out):
    """HMAC-SHA256 of each row, truncated to out.shape[1] bytes.

    ks     : uint32[16], read (from ``hmac_key_schedule``)
    data   : uint8[rows, width] (C-contiguous), read
    length : int64, 0 <= length <= width
    out    : uint8[rows, d] (C-contiguous), 1 <= d <= 32, written:
             out[i, :] = HMAC(key, data[i, :length])[:d]

    Returns int64 status: ``status.OK``, or ``status.BAD_ARGUMENT`` (nothing written)
    when length or d is out of range or out has fewer rows than data.
    Parallel over chunks of ``chunk_rows(length)`` rows; no heap allocation per row.
    """
    rows = data.shape[0]
    d = out.shape[1]
    if length < 0 or length > data.shape[1] or out.shape[0] < rows or d < 1 or d > 32:
        return BAD_ARGUMENT
    step = chunk_rows(length)
    n_chunks = (rows + step - 1) // step
    for c in prange(n_chunks):
        hmac_range(ks, data, length, out, c * step, min((c + 1) * step, rows))
    return OK


@kernel(parallel=True)
def hmac_verify_rows(ks, data, length, tags, ok):
    """Verify a truncated HMAC-SHA256 tag per row, in constant time per row.

    ks     : uint32[16], read (from ``hmac_key_schedule``)
    data   : uint8[rows, width] (C-contiguous), read
    length : int64, 0 <= length <= width
    tags   : uint8[rows, d] (C-contiguous), 1 <= d <= 32, read
    ok     : bool_[rows], written; ok[i] is True iff
             HMAC(key, data[i, :length])[:d] == tags[i, :] (compared with ``ct_equal``)

    Returns int64, the number of rows that failed. If an argument is out of range
    (length, d outside 1..32, tags or ok shorter than data) no tag can be checked:
    every ok[i] is set False and ``rows`` is returned (a zero-width tag never passes).
    Parallel over chunks of ``chunk_rows(length)`` rows; no heap allocation per row.
    """
    rows = data.shape[0]
    d = tags.shape[1]
    if ok.shape[0] < rows:
        for i in range(ok.shape[0]):
            ok[i] = False
        return rows
    if length < 0 or length > data.shape[1] or tags.shape[0] < rows or d < 1 or d > 32:
        for i in range(rows):
            ok[i] = False
        return rows
    step = chunk_rows(length)
    n_chunks = (rows + step - 1) // step
    for c in prange(n_chunks):
        hmac_verify_range(ks, data, length, tags, ok, c * step, min((c + 1) * step, rows))
    return count_false(ok, rows)
