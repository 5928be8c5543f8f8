"""Bounded mailboxes in one shared pool of 64-byte message records.

Layout of a record (WORKLOAD.md, "Messages"): header 16 bytes {kind u16, flags u16,
sender u32, tick u32, seq u32}, body 32 bytes, tag 16 bytes (keyed BLAKE2b-128 of the
first 48 bytes).

Storage follows the traffic, not the bound: all mailboxes live in one pool
``pools : uint8[2, pool_records, 64]`` (double-buffered). Agent ``r``'s mailbox is the
contiguous range ``pool[mb_start[r] : mb_start[r] + mb_count[r]]``, oldest first, and
``mb_count[r] <= mailbox`` always. Each tick :func:`deliver` rebuilds the other buffer:
per recipient, its undrained records first, then the new arrivals ordered by (tick first
sent, sender). It works in fixed chunks of ``chunk`` rows, with no atomics and no locks:

1. count pass (parallel over sender chunks): a histogram ``counts[sender_chunk,
   recipient_chunk]`` and the list of senders that hold a message; messages to dead
   slots are returned as undeliverable here;
2. an exclusive prefix sum in (recipient chunk, sender chunk) order;
3. scatter (parallel over sender chunks, over the listed senders only): a key per
   message (recipient, sender, a retried flag) into its recipient chunk's bucket, each
   sender chunk into its own range, so buckets are in sender order;
4. per recipient chunk (parallel): a stable counting sort by recipient, then, in a
   chunk that received a retried message, a stable sort of each recipient's arrivals by
   tick (a retried message is never starved); admission up to the free slots of the
   mailbox;
5. a prefix over recipient chunks places every mailbox in the next buffer; the pool's
   own free space is shared out in recipient-chunk order, so a full pool defers the
   same messages whatever the thread count;
6. copy pass (parallel over recipient chunks): undrained records, then admitted ones.

A message that is not admitted stays with its sender (``out_pending``), which retries it
first next tick and sends nothing new meanwhile: backpressure, nothing dropped.
"""

import numpy as np
from numba import prange

from ._jit import kernel
from .blake2b import mac_into
from .clock import busy_add, cycles
from .prefetch import prefetch
from .status import BAD_ARGUMENT, OK

__all__ = [
    "RECORD", "SIGNED", "TAG", "SHARE", "HINT",
    "compose", "sign", "record_u32",
    "deliver", "DELIVER_COUNTERS", "sum_column",
]

RECORD = 64
WORDS = RECORD // 8
SIGNED = 48
TAG = 16
SHARE = 1
HINT = 2

# Arrivals ahead whose outgoing record the copy pass prefetches: each is a random row
# of out_rec (64 MB at 1,000,000 agents), a cache miss that would otherwise stall.
RECORD_AHEAD = 8

# deliver() writes its tallies into out[0:6] in this order: four counters of the call,
# then two gauges of the mailboxes after it (records waiting in all, the fullest one).
DELIVER_COUNTERS = ("delivered", "undeliverable", "retries", "deferred", "waiting", "depth_max")


@kernel
def record_u32(rec, off):
    """The u32 LE at rec[off:off+4] as int64."""
    return (np.int64(rec[off]) | (np.int64(rec[off + 1]) << 8)
            | (np.int64(rec[off + 2]) << 16) | (np.int64(rec[off + 3]) << 24))


@kernel
def _put_u32(rec, off, v):
    for i in range(4):
        rec[off + i] = np.uint8((v >> (8 * i)) & 0xFF)


@kernel
def compose(rec, kind, sender, tick, seq, body_word):
    """Write header and body of a message into rec : uint8[64] (tag left for :func:`sign`).

    body_word : int64, the u32 bit pattern of the body's first field (a float32 amount
    for SHARE, a tile id for HINT); the rest of the body is zero.
    """
    _put_u32(rec, 0, kind & 0xFFFF)
    _put_u32(rec, 4, sender)
    _put_u32(rec, 8, tick)
    _put_u32(rec, 12, seq)
    _put_u32(rec, 16, body_word)
    for i in range(20, SIGNED):
        rec[i] = np.uint8(0)


@kernel
def sign(ks, rec):
    """Write the 16-byte tag of rec[0:48] into rec[48:64]. ks : uint64[34], digest 16."""
    mac_into(ks, rec, 0, SIGNED, rec, SIGNED)


@kernel
def sum_column(tally, rows, col):
    """Sum of tally[:rows, col]. Per-chunk partials summed serially: a prange reduction
    would allocate its per-thread partials on every call (numba NRT)."""
    s = 0
    for c in range(rows):
        s += tally[c, col]
    return s


# keys of _count_scatter: recipient << 32 | sender, with this bit set for a retried
# message (sender ids are int32, so bit 31 is free)
RETRIED = np.int64(1) << 31
_SENDER = np.int64(0x7FFFFFFF)


@kernel(parallel=True)
def _count_scatter(out_to, out_pending, out_tick, alive, mb_count, tick, chunk, shift, counts,
                   cursor, keys, senders, tally, busy):
    """Per sender chunk: the histogram of its held messages by recipient chunk, and their
    keys in the chunk's own segment of ``keys``, grouped by recipient chunk, in sender
    order. Every held message is taken off its sender (out_pending = 0; _place sets it
    again for those it cannot admit); one to a dead slot is returned as undeliverable.

    Sender chunk sc writes keys[lo:lo + held] only, so both passes run in one parallel
    region: no prefix over all chunks stands between them, and a region less is a
    worker's wake less (about 50 us a tick on 2 threads of the Zen 5 VM). Group rc of
    chunk sc ends at cursor[sc, rc] and holds counts[sc, rc] keys; _admit reads bucket
    rc as those groups in chunk order, the order a global scatter gave.

    The first pass lists the senders that hold a message in senders[lo:], branch-free
    (about half the rows hold one, at random, and a test of every row mispredicted on
    every other row); a row without a message reads alive[0] rather than
    alive[out_to], so it costs no random read. The second pass reads out_to and
    out_tick in sender order, sparing _admit a random read of each per message.
    ``chunk == 1 << shift``: a row's chunk is a shift, not a 64-bit division.
    """
    n = out_to.shape[0]
    n_chunks = counts.shape[0]
    for sc in prange(n_chunks):
        t0 = cycles()
        lo = sc * chunk
        u = 0
        rt = 0
        rem = 0
        k = lo
        for rc in range(n_chunks):
            counts[sc, rc] = 0
        for s in range(lo, min(n, lo + chunk)):
            rem += mb_count[s]
            p = np.int64(out_pending[s])
            r = out_to[s] * p
            held = p & np.int64(alive[r])
            counts[sc, r >> shift] += held
            out_pending[s] = 0
            u += p - held
            rt += p & np.int64(out_tick[s] < tick)
            senders[k] = s
            k += held
        pos = lo
        for rc in range(n_chunks):
            cursor[sc, rc] = pos
            pos += counts[sc, rc]
        for i in range(lo, k):
            s = senders[i]
            r = out_to[s]
            key = (np.int64(r) << 32) | s
            if out_tick[s] < tick:
                key |= RETRIED
            rc = r >> shift
            keys[cursor[sc, rc]] = key
            cursor[sc, rc] += 1
        tally[sc, 0] = u
        tally[sc, 1] = rt
        tally[sc, 2] = rem
        busy_add(busy, t0)
    return sum_column(tally, n_chunks, 0), sum_column(tally, n_chunks, 1), sum_column(tally, n_chunks, 2)


@kernel
def _sort_by_tick(ids, a0, m, out_tick, keys, buf):
    """Stable sort of senders ids[a0:a0+m] by the tick their message was first sent.

    Already sorted (no retried message waits, as in steady state): one linear check.
    Short runs: insertion sort. Long ones (a hot spot: thousands of senders, retries
    of many ages) would be quadratic that way, so they are heap-sorted as packed
    ``tick << 32 | position`` keys (unique, so stability is kept) in keys[a0:a0+m],
    then permuted through buf[a0:a0+m]. In place, O(m log m), no allocation.
    """
    prev = out_tick[ids[a0]]
    ordered = True
    for i in range(a0 + 1, a0 + m):
        t = out_tick[ids[i]]
        if t < prev:
            ordered = False
            break
        prev = t
    if ordered:
        return
    if m <= 16:
        for i in range(a0 + 1, a0 + m):
            s = ids[i]
            t = out_tick[s]
            j = i - 1
            while j >= a0 and out_tick[ids[j]] > t:
                ids[j + 1] = ids[j]
                j -= 1
            ids[j + 1] = s
        return
    for i in range(m):
        keys[a0 + i] = (np.int64(out_tick[ids[a0 + i]]) << 32) | i
    _heapsort(keys, a0, m)
    for i in range(m):
        buf[a0 + i] = ids[a0 + (keys[a0 + i] & 0xFFFFFFFF)]
    for i in range(m):
        ids[a0 + i] = buf[a0 + i]


@kernel
def _sift_down(a, base, root, end):
    while True:
        child = 2 * root + 1
        if child >= end:
            return
        if child + 1 < end and a[base + child] < a[base + child + 1]:
            child += 1
        if a[base + root] >= a[base + child]:
            return
        a[base + root], a[base + child] = a[base + child], a[base + root]
        root = child


@kernel
def _heapsort(a, base, m):
    """Sort a[base:base+m] ascending in place (numba's own sort allocates its stack)."""
    for start in range(m // 2 - 1, -1, -1):
        _sift_down(a, base, start, m)
    for end in range(m - 1, 0, -1):
        a[base], a[base + end] = a[base + end], a[base]
        _sift_down(a, base, 0, end)


@kernel(parallel=True)
def _admit(out_tick, mb_count, bucket_start, counts, cursor, keys, sort_keys, chunk, mailbox,
           arr_count, arr_start, by_recipient, buf, want, remain_total, busy):
    """Per recipient chunk rc: its arrivals (bucket rc, the groups _count_scatter left in
    every sender chunk's segment of ``keys``, in chunk order) sorted by recipient into
    by_recipient[bucket_start[rc]:bucket_start[rc + 1]], stably, then each mailbox's
    arrivals by the tick first sent when a retried message is among them; and how many
    the chunk's mailboxes can take (want) and already hold (remain_total)."""
    n = mb_count.shape[0]
    n_chunks = bucket_start.shape[0] - 1
    for rc in prange(n_chunks):
        t0 = cycles()
        lo = rc * chunk
        hi = min(n, lo + chunk)
        for r in range(lo, hi):
            arr_count[r] = 0
        for sc in range(n_chunks):
            e = cursor[sc, rc]
            for i in range(e - counts[sc, rc], e):
                arr_count[keys[i] >> 32] += 1
        # stable counting sort of the bucket by recipient
        pos = bucket_start[rc]
        for r in range(lo, hi):
            arr_start[r] = pos
            pos += arr_count[r]
        for r in range(lo, hi):
            arr_count[r] = 0
        retried = np.int64(0)
        for sc in range(n_chunks):
            e = cursor[sc, rc]
            for i in range(e - counts[sc, rc], e):
                k = keys[i]
                r = k >> 32
                retried |= k
                by_recipient[arr_start[r] + arr_count[r]] = np.int32(k & _SENDER)
                arr_count[r] += 1
        # without a retried message every arrival was first sent this tick, and the
        # bucket's sender order is already the delivery order
        sort = (retried & RETRIED) != 0
        w = 0
        rem = 0
        for r in range(lo, hi):
            m = arr_count[r]
            if sort and m > 1:
                _sort_by_tick(by_recipient, arr_start[r], m, out_tick, sort_keys, buf)
            free = mailbox - mb_count[r]
            w += min(m, free)
            rem += mb_count[r]
        want[rc] = w
        remain_total[rc] = rem
        busy_add(busy, t0)


@kernel(parallel=True)
def _place(pool, pool_next, mb_start, mb_count, out_rec, out_pending, mailbox,
           chunk, arr_count, arr_start, by_recipient, allot, chunk_base, tally, busy):
    n = mb_start.shape[0]
    n_chunks = allot.shape[0]
    # records copied as 8 words: a byte slice copy measured 20 % slower at 1,000,000
    src_words = pool.reshape(-1).view(np.uint64)
    out_words = out_rec.reshape(-1).view(np.uint64)
    dst_words = pool_next.reshape(-1).view(np.uint64)
    for rc in prange(n_chunks):
        t0 = cycles()
        off = chunk_base[rc]
        budget = allot[rc]
        d = 0
        deepest = 0
        lo = rc * chunk
        hi = min(n, lo + chunk)
        # this chunk's arrivals, by recipient, are by_recipient[arr_start[lo]:last]
        last = arr_start[hi - 1] + arr_count[hi - 1]
        for j in range(arr_start[lo], min(last, arr_start[lo] + RECORD_AHEAD)):
            prefetch(out_rec, np.int64(by_recipient[j]) * RECORD)
        for r in range(lo, hi):
            start = off
            keep = mb_count[r]
            s0 = mb_start[r]
            for i in range(keep * WORDS):
                dst_words[off * WORDS + i] = src_words[s0 * WORDS + i]
            off += keep
            m = arr_count[r]
            admit = min(m, mailbox - keep, budget)
            budget -= admit
            a0 = arr_start[r]
            for i in range(admit):
                if a0 + i + RECORD_AHEAD < last:
                    prefetch(out_rec, np.int64(by_recipient[a0 + i + RECORD_AHEAD]) * RECORD)
                s = np.int64(by_recipient[a0 + i])
                for k in range(WORDS):
                    dst_words[(off + i) * WORDS + k] = out_words[s * WORDS + k]
            for i in range(admit, m):  # not admitted: still held by its sender
                out_pending[by_recipient[a0 + i]] = 1
            off += admit
            d += admit
            mb_start[r] = start
            mb_count[r] = keep + admit
            deepest = max(deepest, keep + admit)
        tally[rc, 3] = d
        tally[rc, 4] = deepest
        busy_add(busy, t0)
    return sum_column(tally, n_chunks, 3)


@kernel
def deliver(pool, pool_next, mb_start, mb_count, out_rec, out_to, out_tick, out_pending,
            alive, tick, mailbox, chunk, counts, cursor, bucket_start, arrivals, arr_count,
            arr_start, by_recipient, keys, want, remain_total, allot, chunk_base, tally, busy,
            out):
    """Move every pending outgoing message into its recipient's mailbox, if it fits.

    pool : uint8[P, 64], read; pool_next : uint8[P, 64], written (the next buffer)
    mb_start : int64[N], mb_count : int32[N], read and rewritten for the next buffer
    out_rec : uint8[N, 64], out_to : int32[N], out_tick : int32[N] (the tick each held
    message was first sent: the order of retries, read here instead of the records'
    headers, which sit 64 bytes apart), read; out_pending : uint8[N], cleared
    for messages delivered or returned undeliverable (for all of them while the call
    runs, then set again for those left held)
    alive : bool[N], read; tick : current tick; mailbox : the bound; chunk : rows a chunk,
    a power of two
    scratch (preallocated, overwritten): counts, cursor : int64[n_chunks, n_chunks];
    bucket_start : int64[n_chunks + 1]; arrivals (the senders listed by the count pass,
    then the tick sort's buffer), by_recipient : int32[N]; arr_count : int32[N];
    arr_start : int64[N]; keys : int64[2N] (the buckets in keys[:N], the tick sort's
    scratch in keys[N:]); want, remain_total, allot, chunk_base : int64[n_chunks];
    tally : int64[n_chunks, 5]
    busy : int64[threads * BUSY_STRIDE], per-worker cycles, added to
    out : int64[6], written with DELIVER_COUNTERS for this call.
    Returns a status code: OK, or BAD_ARGUMENT (nothing done) when chunk is not a power
    of two or keys is shorter than 2N.
    """
    n_chunks = counts.shape[0]
    n = out_to.shape[0]
    shift = 0
    while (np.int64(1) << shift) < chunk:
        shift += 1
    if (np.int64(1) << shift) != chunk or keys.shape[0] < 2 * n:
        return BAD_ARGUMENT
    undeliverable, retries, remaining = _count_scatter(
        out_to, out_pending, out_tick, alive, mb_count, tick, chunk, shift, counts, cursor,
        keys, arrivals, tally, busy)
    pos = 0
    for rc in range(n_chunks):
        bucket_start[rc] = pos
        for sc in range(n_chunks):
            pos += counts[sc, rc]
    bucket_start[n_chunks] = pos
    # keys[n:] is the tick sort's scratch: keys[:n] is read by every recipient chunk
    _admit(out_tick, mb_count, bucket_start, counts, cursor, keys, keys[n:], chunk, mailbox,
           arr_count, arr_start, by_recipient, arrivals, want, remain_total, busy)
    free = pool.shape[0] - remaining
    base = 0
    for rc in range(n_chunks):
        a = min(want[rc], free)
        free -= a
        allot[rc] = a
        chunk_base[rc] = base
        base += remain_total[rc] + a
    delivered = _place(pool, pool_next, mb_start, mb_count, out_rec, out_pending, mailbox,
                       chunk, arr_count, arr_start, by_recipient, allot, chunk_base, tally, busy)
    deferred = 0
    for s in range(out_pending.shape[0]):
        deferred += out_pending[s]
    out[0] = delivered
    out[1] = undeliverable
    out[2] = retries
    out[3] = deferred
    deepest = 0
    for rc in range(n_chunks):
        deepest = max(deepest, tally[rc, 4])
    out[4] = remaining + delivered
    out[5] = deepest
    return OK
