"""Multi-lane BLAKE2b: L messages hashed at once, one message per lane of a SIMD vector.

The scalar kernels of :mod:`.blake2b` hash one message per call; a 48-byte keyed tag
is one compression (~190 ns here), a long chain of dependent 64-bit adds, xors and
rotates. Numba/LLVM does not vectorise a loop over messages, so this module writes the
compression function directly as LLVM vector code on ``<L x i64>``: lane j of every
vector belongs to message j, and each instruction advances L messages at once.

Layout is *lane-minor*: word w of lane j lives at ``a[w * L + j]``, so word w of all
lanes is one contiguous ``<L x i64>`` load.

* :func:`compress_lanes` -- the compression function F on L lanes (an intrinsic).
* :func:`hash_group4` / :func:`hash_group8` -- BLAKE2b of L rows of a 2-D array
  (same length and key schedule), final chain values lane-minor; no heap.
* ``mac_rows_lanes{4,8}`` / ``verify_rows_lanes{4,8}`` -- the contract of
  :func:`.blake2b.mac_rows` / :func:`.blake2b.verify_rows`, L rows per group.
* :data:`LANES`, ``mac_rows_best`` / ``verify_rows_best`` / ``hash_group`` -- the
  variant for this CPU: 8 lanes with AVX-512F, 4 with AVX2, the scalar kernels
  otherwise. Every variant is correct on every CPU; the choice is only about speed.

Vector width: the compression works on vectors of ``_NATIVE_LANES`` words (8 with
AVX-512F, 4 with AVX2, else 2) and does wider lane counts as a loop of passes, so 8
lanes on an AVX2 CPU run as two 4-wide passes instead of ``<8 x i64>`` code whose 32
state registers spill (measured on AVX2: 15.6 vs 12.5 M 48-byte tags/s).

The lane count is a compile-time integer literal that the ``*4``/``*8`` entry points
pass down (``_mac_chunk(..., 4)``), so each variant has its own specialised machine
code and cache entry.

Compile time: every compiled Numba library that contains the compression after
linking optimises and compiles it again (a parallel kernel is four libraries), so
the compression is one ``noinline`` LLVM function per module with a single call
site, and a loop over the rounds rather than twelve unrolled rounds (the same speed,
0.1 s of instruction selection a copy instead of 0.5 s); the helpers between it and
the entry points are inlined at the Numba IR level (``@inline``), and each entry
point is its own parallel kernel.
"""

import platform

import llvmlite.binding as llb
import numpy as np
from llvmlite import ir
from numba import prange, types
from numba.core import cgutils
from numba.extending import intrinsic
from numba.np.arrayobj import make_array

from . import blake2b as _scalar
from ._jit import inline, kernel
from ._stack import stack_empty2
from .blake2b import BLOCK, IV, SIGMA, chunk_rows, count_false
from .ct import ct_equal

__all__ = [
    "LANES",
    "compress_lanes",
    "compress4",
    "compress8",
    "hash_group4",
    "hash_group8",
    "hash_group",
    "mac_rows_lanes4",
    "mac_rows_lanes8",
    "verify_rows_lanes4",
    "verify_rows_lanes8",
    "mac_rows_best",
    "verify_rows_best",
    "mac_range_best",
    "verify_range_best",
    "describe_cpu",
]

_ALL = np.uint64(0xFFFFFFFFFFFFFFFF)
_SUPPORTED_LANES = (4, 8)
# Rounds of F per iteration of its round loop (one of 1, 2, 3, 4, 6, 12; 0 = the
# twelve rounds unrolled with SIGMA applied at code generation). Measured on AVX2
# (Zen 3, LLVM 20), L = 4: 185-195 ns a compression for every choice, and a cold
# compile of mac_rows_lanes4 of 4.2 s with 1 against 6.9 s unrolled (each compiled
# copy of the unrolled body costs ~0.5 s of instruction selection).
_ROUNDS_PER_ITER = 1
assert _ROUNDS_PER_ITER == 0 or 12 % _ROUNDS_PER_ITER == 0


def _host_features():
    """The features LLVM sees on the host, as a set of /proc/cpuinfo-style names."""
    try:
        feats = llb.get_host_cpu_features()
    except Exception:  # no feature detection on this platform
        return set()
    return {k.replace(".", "_") for k, on in feats.items() if on}


_FEATURES = _host_features()
# Lanes of one vector register of 64-bit words on this CPU (the compression splits
# wider lane counts into passes of this width).
_NATIVE_LANES = 8 if "avx512f" in _FEATURES else 4 if "avx2" in _FEATURES else 2

# G's four mixing steps: (a, b, c, d) <- G(a, b, c, d, x, y) for the column and
# diagonal steps of a round (RFC 7693, 3.2).
_G_STEPS = (
    (0, 4, 8, 12), (1, 5, 9, 13), (2, 6, 10, 14), (3, 7, 11, 15),
    (0, 5, 10, 15), (1, 6, 11, 12), (2, 7, 8, 13), (3, 4, 9, 14),
)


def _signed64(x):
    x = int(x)
    return x - (1 << 64) if x >= (1 << 63) else x


@intrinsic
def compress_lanes(typingctx, h, m, t, f, lanes):
    """``compress_lanes(h, m, t, f, L)``: BLAKE2b's F on L lanes at once, in place.

    h : uint64[8*L], lane-minor chain values, read and written
    m : uint64[16*L], lane-minor message words, read
    t : uint64[L], byte counter of each lane (messages < 2**64 bytes)
    f : uint64[L], finalisation flag of each lane: 0, or all ones for a last block
    L : integer literal, 4 or 8

    All arrays are C-contiguous uint64, at least as long as stated (not checked), and
    h does not overlap m, t or f. Lane j computes exactly
    ``blake2b.compress(h_j, m_j, t[j], f[j] != 0)`` with ``h_j = h[j::L]``,
    ``m_j = m[j::L]``. Allocates nothing.
    """
    if not isinstance(lanes, types.IntegerLiteral):
        return None
    n_lanes = lanes.literal_value
    if n_lanes not in _SUPPORTED_LANES:
        return None
    for a in (h, m, t, f):
        if not (isinstance(a, types.Array) and a.ndim == 1 and a.layout == "C"
                and a.dtype == types.uint64):
            return None
    sig = types.void(h, m, t, f, lanes)

    def codegen(context, builder, sig, args):
        _emit_compress(context, builder, sig, args, n_lanes)
        return context.get_dummy_value()

    return sig, codegen


def _emit_compress(context, builder, sig, args, n_lanes):
    """Emit a call to the L-lane compression, defined once per LLVM module.

    The body is a separate ``linkonce_odr`` ``noinline`` function rather than code
    expanded at every call site: every Numba library that links it optimises and
    compiles it again (a parallel kernel is four libraries), so one copy per module
    keeps the cold compile time down; a call per ~190 ns compression costs nothing.
    """
    ptrs = [make_array(sig.args[k])(context, builder, args[k]).data for k in range(4)]
    width = min(n_lanes, _NATIVE_LANES)
    mod = builder.module
    fnty = ir.FunctionType(ir.VoidType(), [p.type for p in ptrs])
    fn = cgutils.get_or_insert_function(
        mod, fnty, f"_dod_sim_blake2b_F_x{n_lanes}_w{width}_{_ROUNDS_PER_ITER}")
    if fn.is_declaration:
        fn.linkage = "linkonce_odr"
        fn.attributes.add("noinline")
        fn.attributes.add("nounwind")
        _emit_compress_body(fn, n_lanes, width)
    builder.call(fn, ptrs)


def _emit_compress_body(fn, n_lanes, width):
    """The body of F on ``n_lanes`` lanes, ``width`` lanes per vector.

    With ``width < n_lanes`` (8 lanes on a CPU without AVX-512) the lanes are done as
    ``n_lanes // width`` passes of a loop, each on ``<width x i64>`` vectors: sixteen
    ``<8 x i64>`` state vectors would need 32 AVX2 registers of the 16 there are, and
    their spills cost a fifth of the speed. The loop is not unrolled (its body is far
    over LLVM's unrolling threshold), so the code is compiled once, not twice.

    The rounds are a loop of 12 / ``_ROUNDS_PER_ITER`` iterations over the sixteen
    state vectors (phis); round r reads message word k of all lanes as one vector at
    ``m + SIGMA[r][k] * L + lane0``, the word offsets coming from a constant table.
    """
    i64 = ir.IntType(64)
    vty = ir.VectorType(i64, width)
    vptr_ty = vty.as_pointer()
    h_ptr, m_ptr, t_ptr, f_ptr = fn.args
    entry = fn.append_basic_block("entry")
    builder = ir.IRBuilder(entry)
    passes = n_lanes // width
    if passes > 1:
        loop = fn.append_basic_block("pass")
        done = fn.append_basic_block("done")
        builder.branch(loop)
        builder.position_at_end(loop)
        k = builder.phi(i64, name="k")
        k.add_incoming(ir.Constant(i64, 0), entry)
        lane0 = builder.mul(k, ir.Constant(i64, width))
    else:
        lane0 = ir.Constant(i64, 0)

    def vaddr(base, word):
        idx = builder.add(ir.Constant(i64, word * n_lanes), lane0) if passes > 1 \
            else ir.Constant(i64, word * n_lanes)
        return builder.bitcast(builder.gep(base, [idx]), vptr_ty)

    def vload(base, word):
        return builder.load(vaddr(base, word), align=8)

    def splat(x):
        return ir.Constant(vty, [ir.Constant(i64, _signed64(x))] * width)

    def byte_rot(x, nbytes):
        # Rotate each 64-bit lane right by nbytes bytes (little endian: output byte b
        # is input byte b + nbytes of the same word): vpshufb on AVX2.
        bty = ir.VectorType(ir.IntType(8), 8 * width)
        xb = builder.bitcast(x, bty)
        mask = [8 * (q // 8) + (q % 8 + nbytes) % 8 for q in range(8 * width)]
        mask = ir.Constant(ir.VectorType(ir.IntType(32), 8 * width), mask)
        return builder.bitcast(builder.shuffle_vector(xb, ir.Constant(bty, ir.Undefined), mask), vty)

    def rot32(x):
        # Swap the 32-bit halves of each lane: vpshufd.
        wty = ir.VectorType(ir.IntType(32), 2 * width)
        xw = builder.bitcast(x, wty)
        mask = ir.Constant(wty, [q ^ 1 for q in range(2 * width)])
        return builder.bitcast(builder.shuffle_vector(xw, ir.Constant(wty, ir.Undefined), mask), vty)

    def rotr(x, r):
        # Rotations by 32, 24 and 16 as byte shuffles, by 63 as two shifts and an or.
        # (llvm.fshr and shift/shift/or forms compile to the same AVX2 code with
        # LLVM 20 and ran at the same speed; the shuffles are spelled out so as not
        # to depend on that lowering. With AVX-512 LLVM turns the 63 into vprolq.)
        if r == 32:
            return rot32(x)
        if r % 8 == 0:
            return byte_rot(x, r // 8)
        return builder.or_(builder.lshr(x, splat(r)), builder.shl(x, splat(64 - r)))

    h = [vload(h_ptr, w) for w in range(8)]
    v = list(h) + [splat(IV[w]) for w in range(8)]
    v[12] = builder.xor(v[12], vload(t_ptr, 0))
    v[14] = builder.xor(v[14], vload(f_ptr, 0))

    def g_steps(v, msg):
        for step, (ia, ib, ic, id_) in enumerate(_G_STEPS):
            a, b, c, d = v[ia], v[ib], v[ic], v[id_]
            x, y = msg(2 * step), msg(2 * step + 1)
            a = builder.add(builder.add(a, b), x)
            d = rotr(builder.xor(d, a), 32)
            c = builder.add(c, d)
            b = rotr(builder.xor(b, c), 24)
            a = builder.add(builder.add(a, b), y)
            d = rotr(builder.xor(d, a), 16)
            c = builder.add(c, d)
            b = rotr(builder.xor(b, c), 63)
            v[ia], v[ib], v[ic], v[id_] = a, b, c, d

    if _ROUNDS_PER_ITER:
        tab_ty = ir.ArrayType(i64, 12 * 16)
        tab_name = f"_dod_sim_blake2b_sigma_x{n_lanes}_{_ROUNDS_PER_ITER}"
        tab = ir.GlobalVariable(builder.module, tab_ty, name=tab_name)
        tab.linkage = "linkonce_odr"
        tab.global_constant = True
        tab.initializer = ir.Constant(
            tab_ty, [int(SIGMA[r][q]) * n_lanes for r in range(12) for q in range(16)])
        pre = builder.block
        rblock = fn.append_basic_block("round")
        rdone = fn.append_basic_block("rounds_done")
        builder.branch(rblock)
        builder.position_at_end(rblock)
        r = builder.phi(i64, name="r")
        r.add_incoming(ir.Constant(i64, 0), pre)
        phis = []
        for w in range(16):
            ph = builder.phi(vty, name=f"v{w}")
            ph.add_incoming(v[w], pre)
            phis.append(ph)
        v = list(phis)
        row = builder.mul(r, ir.Constant(i64, 16))

        for sub in range(_ROUNDS_PER_ITER):
            def msg(q, sub=sub):
                idx = builder.add(row, ir.Constant(i64, 16 * sub + q))
                off = builder.load(builder.gep(tab, [ir.Constant(i64, 0), idx]))
                if passes > 1:
                    off = builder.add(off, lane0)
                return builder.load(builder.bitcast(builder.gep(m_ptr, [off]), vptr_ty), align=8)

            g_steps(v, msg)
        r_next = builder.add(r, ir.Constant(i64, _ROUNDS_PER_ITER))
        r.add_incoming(r_next, builder.block)
        for w in range(16):
            phis[w].add_incoming(v[w], builder.block)
        builder.cbranch(builder.icmp_unsigned("<", r_next, ir.Constant(i64, 12)), rblock, rdone)
        builder.position_at_end(rdone)
    else:
        m = [vload(m_ptr, w) for w in range(16)]
        for rnd in range(12):
            s = [int(x) for x in SIGMA[rnd]]
            g_steps(v, lambda q: m[s[q]])

    for w in range(8):
        out = builder.xor(h[w], builder.xor(v[w], v[w + 8]))
        builder.store(out, vaddr(h_ptr, w), align=8)
    if passes > 1:
        k_next = builder.add(k, ir.Constant(i64, 1))
        k.add_incoming(k_next, builder.block)
        more = builder.icmp_unsigned("<", k_next, ir.Constant(i64, passes))
        builder.cbranch(more, loop, done)
        builder.position_at_end(done)
    builder.ret_void()


@kernel
def compress4(h, m, t, f):
    """``compress_lanes`` with L = 4, callable from Python (h : uint64[32], m : uint64[64])."""
    compress_lanes(h, m, t, f, 4)


@kernel
def compress8(h, m, t, f):
    """``compress_lanes`` with L = 8, callable from Python (h : uint64[64], m : uint64[128])."""
    compress_lanes(h, m, t, f, 8)


@kernel
def _word(data, r, p):
    """Little-endian uint64 from the 8 bytes ``data[r, p:p+8]`` (data : uint8 2-D).

    Unsigned indices: no negative-index fix-up, so with a C-contiguous ``data`` LLVM
    fuses the eight byte loads into one unaligned 64-bit load.
    """
    q = np.uint64(p)
    row = np.uint64(r)
    return (
        np.uint64(data[row, q])
        | (np.uint64(data[row, q + np.uint64(1)]) << np.uint64(8))
        | (np.uint64(data[row, q + np.uint64(2)]) << np.uint64(16))
        | (np.uint64(data[row, q + np.uint64(3)]) << np.uint64(24))
        | (np.uint64(data[row, q + np.uint64(4)]) << np.uint64(32))
        | (np.uint64(data[row, q + np.uint64(5)]) << np.uint64(40))
        | (np.uint64(data[row, q + np.uint64(6)]) << np.uint64(48))
        | (np.uint64(data[row, q + np.uint64(7)]) << np.uint64(56))
    )


@kernel
def _gather(m, data, rows, n_rows, pos, n, lanes):
    """Fill the lane-minor block ``m`` with ``data[rows[j], pos:pos+n]`` (0 <= n <= 128),
    zero-padded; lanes j >= n_rows read ``rows[0]``."""
    if n == BLOCK:
        # Whole blocks: constant trip counts, fully unrolled straight-line loads.
        for j in range(lanes):
            r = rows[j] if j < n_rows else rows[0]
            for w in range(16):
                m[w * lanes + j] = _word(data, r, pos + 8 * w)
        return
    full = n >> 3
    rem = n & 7
    for j in range(lanes):
        r = rows[j] if j < n_rows else rows[0]
        for w in range(full):
            m[w * lanes + j] = _word(data, r, pos + 8 * w)
        for w in range(full, 16):
            m[w * lanes + j] = np.uint64(0)
        if rem > 0:
            acc = np.uint64(0)
            base = pos + 8 * full
            for k in range(rem):
                acc |= np.uint64(data[r, base + k]) << np.uint64(8 * k)
            m[full * lanes + j] = acc


@inline
def _hash_group(ks, data, rows, n_rows, length, hv, lanes):
    """:func:`hash_group4` for a literal lane count ``lanes`` (4 or 8).

    One call site of ``compress_lanes`` and of ``_gather`` (each call site is compiled
    code), so the block loop folds the key-only case and the last block into it.
    """
    m = stack_empty2(16, lanes, np.uint64)
    t = stack_empty2(1, lanes, np.uint64)
    f = stack_empty2(1, lanes, np.uint64)
    keyed = ks[32] > 0
    # Keyed, empty message: the key block is the last block (RFC 7693, 3.3).
    key_only = keyed and length == 0
    off = 8 if keyed and not key_only else 0
    for w in range(8):
        for j in range(lanes):
            hv[w * lanes + j] = ks[off + w]
    count = np.uint64(BLOCK) if keyed and not key_only else np.uint64(0)
    pos = 0
    while True:
        last = length - pos <= BLOCK
        if key_only:
            n = BLOCK
            for w in range(16):
                for j in range(lanes):
                    m[w * lanes + j] = ks[16 + w]
        else:
            n = length - pos if last else BLOCK
            _gather(m, data, rows, n_rows, pos, n, lanes)
        count += np.uint64(n)
        flag = _ALL if last else np.uint64(0)
        for j in range(lanes):
            t[j] = count
            f[j] = flag
        compress_lanes(hv, m, t, f, lanes)
        if last:
            return
        pos += BLOCK


@kernel
def hash_group4(ks, data, rows, n_rows, length, hv):
    """BLAKE2b of 4 rows at once, final chain values lane-minor; allocates nothing.

    ks : uint64[KS_WORDS], read (key schedule, see :mod:`.blake2b`)
    data : uint8[:, ::1], read; lane j hashes ``data[rows[j], :length]``
    rows : int64[>= 4], read; lanes j >= n_rows (1 <= n_rows <= 4) hash ``rows[0]``
    hv : uint64[32], written: word w of lane j's final chain value at ``hv[w*4 + j]``
    (the digest is the first ``ks[33]`` bytes of lane j's 8 words, little endian).
    """
    _hash_group(ks, data, rows, n_rows, length, hv, 4)


@kernel
def hash_group8(ks, data, rows, n_rows, length, hv):
    """:func:`hash_group4` with 8 lanes (rows : int64[>= 8], hv : uint64[64])."""
    _hash_group(ks, data, rows, n_rows, length, hv, 8)


@inline
def _digest_byte(hv, lanes, j, i):
    return np.uint8((hv[(i >> 3) * lanes + j] >> np.uint64(8 * (i & 7))) & np.uint64(0xFF))


@inline
def _mac_chunk(ks, data, length, out, lo, hi, lanes):
    hv = stack_empty2(8, lanes, np.uint64)
    rows = stack_empty2(1, lanes, np.int64)
    ds = int(ks[33])
    i = lo
    while i < hi:
        n = min(lanes, hi - i)
        for j in range(lanes):
            rows[j] = i + j if j < n else i
        _hash_group(ks, data, rows, n, length, hv, lanes)
        for j in range(n):
            for k in range(ds):
                out[i + j, k] = _digest_byte(hv, lanes, j, k)
        i += n


@inline
def _verify_chunk(ks, data, length, tags, ok, lo, hi, lanes):
    hv = stack_empty2(8, lanes, np.uint64)
    rows = stack_empty2(1, lanes, np.int64)
    d = stack_empty2(64, 1, np.uint8)
    ds = int(ks[33])
    bad = 0
    i = lo
    while i < hi:
        n = min(lanes, hi - i)
        for j in range(lanes):
            rows[j] = i + j if j < n else i
        _hash_group(ks, data, rows, n, length, hv, lanes)
        for j in range(n):
            for k in range(ds):
                d[k] = _digest_byte(hv, lanes, j, k)
            good = ct_equal(d, 0, tags[i + j], 0, ds)
            ok[i + j] = good
            bad += 0 if good else 1
        i += n
    return bad


# The four entry points repeat their few lines rather than calling one generic
# parallel kernel with a literal lane count: each extra level of compiled function
# compiles the compression and everything around it once more.


@kernel(parallel=True)
def mac_rows_lanes4(ks, data, length, out):
    """:func:`.blake2b.mac_rows` hashing 4 rows at a time: ``out[i, :ks[33]] =
    BLAKE2b(data[i, :length])``.

    ks : uint64[KS_WORDS], read
    data : uint8[rows, width >= length], read (C-contiguous is fastest)
    out : uint8[rows, >= ks[33]], written

    Runs in parallel over fixed chunks of ``chunk_rows(length)`` rows (the output does not
    depend on the thread count); within a chunk, rows go 4 to a group and the last
    group may fill fewer lanes (the spare lanes hash the group's first row again).
    """
    rows = data.shape[0]
    step = chunk_rows(length)
    n_chunks = (rows + step - 1) // step
    for c in prange(n_chunks):
        _mac_chunk(ks, data, length, out, c * step, min(rows, (c + 1) * step), 4)


@kernel(parallel=True)
def mac_rows_lanes8(ks, data, length, out):
    """:func:`mac_rows_lanes4` with 8 lanes."""
    rows = data.shape[0]
    step = chunk_rows(length)
    n_chunks = (rows + step - 1) // step
    for c in prange(n_chunks):
        _mac_chunk(ks, data, length, out, c * step, min(rows, (c + 1) * step), 8)


@kernel(parallel=True)
def verify_rows_lanes4(ks, data, length, tags, ok):
    """:func:`.blake2b.verify_rows` hashing 4 rows at a time; returns the failure count.

    ks : uint64[KS_WORDS], read
    data : uint8[rows, width >= length], read (C-contiguous is fastest)
    tags : uint8[rows, >= ks[33]], read
    ok : bool[rows], written (True where the tag matches, compared in constant time)
    """
    rows = data.shape[0]
    step = chunk_rows(length)
    n_chunks = (rows + step - 1) // step
    for c in prange(n_chunks):
        _verify_chunk(ks, data, length, tags, ok, c * step, min(rows, (c + 1) * step), 4)
    # counted serially: a prange reduction allocates its partials on every call
    return count_false(ok, rows)


@kernel(parallel=True)
def verify_rows_lanes8(ks, data, length, tags, ok):
    """:func:`verify_rows_lanes4` with 8 lanes."""
    rows = data.shape[0]
    step = chunk_rows(length)
    n_chunks = (rows + step - 1) // step
    for c in prange(n_chunks):
        _verify_chunk(ks, data, length, tags, ok, c * step, min(rows, (c + 1) * step), 8)
    # counted serially: a prange reduction allocates its partials on every call
    return count_false(ok, rows)


@kernel
def mac_range_lanes4(ks, data, length, out, lo, hi):
    """Rows lo..hi-1 of :func:`mac_rows_lanes4`, serially: the body of one parallel
    chunk, for kernels that do more than hash in a chunk (the tick's tile pipeline)."""
    _mac_chunk(ks, data, length, out, lo, hi, 4)


@kernel
def mac_range_lanes8(ks, data, length, out, lo, hi):
    """:func:`mac_range_lanes4` with 8 lanes."""
    _mac_chunk(ks, data, length, out, lo, hi, 8)


@kernel
def verify_range_lanes4(ks, data, length, tags, ok, lo, hi):
    """Rows lo..hi-1 of :func:`verify_rows_lanes4`, serially; returns their failures."""
    return _verify_chunk(ks, data, length, tags, ok, lo, hi, 4)


@kernel
def verify_range_lanes8(ks, data, length, tags, ok, lo, hi):
    """:func:`verify_range_lanes4` with 8 lanes."""
    return _verify_chunk(ks, data, length, tags, ok, lo, hi, 8)


# --- choice of variant for this CPU ---------------------------------------------------

# Vector features worth reporting, in the spelling of /proc/cpuinfo (LLVM spells
# sse4_1/sse4_2 as sse4.1/sse4.2).
_VECTOR_FLAGS = (
    "sse2", "ssse3", "sse4_1", "sse4_2", "avx", "avx2", "fma",
    "avx512f", "avx512vl", "avx512bw", "avx512dq", "neon", "asimd", "sve",
)


def _choose_lanes(features):
    if "avx512f" in features:
        return 8
    if "avx2" in features:
        return 4
    return 0


LANES = _choose_lanes(_FEATURES)
"""Lanes of the variant used by ``mac_rows_best``: 8 with AVX-512F, 4 with AVX2, 0 (the
scalar kernels of :mod:`.blake2b`) otherwise."""


def describe_cpu():
    """{"model": CPU model name, "arch": LLVM's name for the microarchitecture (e.g.
    ``znver3``, ``znver5``: the model name alone may not tell them apart), "flags": vector
    flags present, "lanes": LANES}."""
    model = ""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                if key.strip() in ("model name", "Model", "cpu model"):
                    model = value.strip()
                    break
    except OSError:
        pass
    if not model:
        model = platform.processor() or platform.machine()
    return {"model": model, "arch": llb.get_host_cpu_name(),
            "flags": [f for f in _VECTOR_FLAGS if f in _FEATURES], "lanes": LANES}


if LANES == 8:
    mac_rows_best, verify_rows_best, hash_group = mac_rows_lanes8, verify_rows_lanes8, hash_group8
    mac_range_best, verify_range_best = mac_range_lanes8, verify_range_lanes8
elif LANES == 4:
    mac_rows_best, verify_rows_best, hash_group = mac_rows_lanes4, verify_rows_lanes4, hash_group4
    mac_range_best, verify_range_best = mac_range_lanes4, verify_range_lanes4
else:
    mac_rows_best, verify_rows_best, hash_group = _scalar.mac_rows, _scalar.verify_rows, hash_group4
    mac_range_best, verify_range_best = _scalar.mac_range, _scalar.verify_range
