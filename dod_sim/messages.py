"""Messages between agents for models of :mod:`dod_sim.model`: the engine's bounded
mailboxes and its delivery kernel, as a resource and a system.

* :func:`Mailboxes` -- a resource: one bounded mailbox per agent in a shared pool of
  64-byte records (the layout of ``dod_sim.kernels.mailbox``), and one outgoing slot
  per agent.
* :func:`Deliver` -- a system: moves every held message into its recipient's mailbox
  (the engine's parallel, deterministic delivery: per recipient, messages ordered by
  the tick they were first sent, then by sender), so that the systems after it, and
  the next tick's systems before it, read them.
* In compiled systems: :func:`post` (send from a ``Kernel`` system),
  :func:`inbox` (a row's messages, readable from ``Rows`` and ``Kernel`` systems),
  :func:`body_u32` / :func:`sender_of` / :func:`kind_of` to read a record.

Semantics, per tick, in the order of the systems: a system posts at most one message
per agent (its outgoing slot); ``Deliver`` first empties every mailbox (what was
delivered last time has been read by the systems since), then admits held messages
up to ``bound`` per mailbox and the pool's free records; a message that does not fit
stays held by its sender, who cannot post another until it is delivered
(backpressure; :func:`post` returns False), and is retried first next time. Nothing is
dropped: every message posted is delivered or still held (``totals``: delivered so
far, retries so far, then after the last delivery the messages it left held, those
waiting in mailboxes and the fullest mailbox).

Example::

    @njit
    def give(key, n, p, value, m):            # Kernel system: every agent sends
        for i in range(n):
            if post(m, i, (i + 1) % n, 1, value[i]):
                value[i] = 0

    @njit
    def take(i, key, p, value, m):            # Rows system: sum what arrived
        start, count = inbox(m, i)
        pool = current_pool(m)
        got = 0
        for k in range(start, start + count):
            got += body_u32(pool[k])
        return value[i] + got

    systems=[Deliver("mail"), Rows("take", take, reads=("value", "mail"), writes=("value",)),
             Kernel("give", give, reads=("value", "mail"))]
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .errors import ConfigError, UnknownAgent
from .kernels import mailbox as _mb
from .kernels._jit import inline, kernel
from .kernels.clock import BUSY_STRIDE

__all__ = ["MailState", "mailboxes", "Mailboxes", "Deliver", "post", "inbox", "current_pool",
           "body_u32", "sender_of", "kind_of", "TOTALS"]

# meta : int64[4]
CUR, TICK, BOUND, DCHUNK = 0, 1, 2, 3
# totals : int64[len(TOTALS)], cumulative except "held" (the level now)
TOTALS = ("delivered", "retries", "held", "waiting", "depth_max")
_DELIVERED, _RETRIES, _HELD, _WAITING, _DEPTH = range(len(TOTALS))


class MailState(NamedTuple):
    """The arrays of :func:`mailboxes` (N agents, P pool records, C delivery chunks)."""

    meta: np.ndarray        # int64[4]: current pool buffer, tick, bound, delivery chunk
    totals: np.ndarray      # int64[len(TOTALS)]
    pools: np.ndarray       # uint8[2, P, 64], the current one is pools[meta[CUR]]
    mb_start: np.ndarray    # int64[N]: agent r's mailbox is pool[mb_start[r]:][:mb_count[r]]
    mb_count: np.ndarray    # int32[N]
    out_rec: np.ndarray     # uint8[N, 64]: the held message of each sender
    out_to: np.ndarray      # int32[N]
    out_tick: np.ndarray    # int32[N]: the tick it was first posted (retry order)
    out_pending: np.ndarray  # uint8[N]: 1 while held
    seq: np.ndarray         # int64[N]: next sequence number of each sender
    alive: np.ndarray       # bool[N], all True (every row of a model is an agent)
    counts: np.ndarray      # delivery scratch, see kernels.mailbox.deliver
    cursor: np.ndarray
    bucket_start: np.ndarray
    arrivals: np.ndarray
    arr_count: np.ndarray
    arr_start: np.ndarray
    by_recipient: np.ndarray
    keys: np.ndarray
    want: np.ndarray
    remain: np.ndarray
    allot: np.ndarray
    chunk_base: np.ndarray
    tally: np.ndarray
    busy: np.ndarray        # per-worker cycles of the last delivery (zeroed after it)
    out: np.ndarray
    # int64[3]: posts naming no row (counted without atomics: from a parallel system,
    # at least one of them), then the first one's sender and recipient
    rejected: np.ndarray


def mailboxes(agents: int, bound: int = 1024, pool_per_agent: int = 4) -> MailState:
    """A :class:`MailState` for ``agents`` agents: mailboxes of at most ``bound``
    records in a shared pool of ``pool_per_agent * agents + 2 * bound`` records."""
    from . import runtime
    from .config import _dchunk

    for name, v, lo in (("agents", agents, 1), ("bound", bound, 1),
                        ("pool_per_agent", pool_per_agent, 1)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
            raise ConfigError(f"{name}={v!r} must be an integer >= {lo}", field=name,
                              value=v, bound=lo)
    n = int(agents)
    P = pool_per_agent * n + 2 * bound
    dchunk = _dchunk(n)
    nd = -(-n // dchunk)
    z = np.zeros
    return MailState(
        meta=np.array([0, 0, bound, dchunk], np.int64), totals=z(len(TOTALS), np.int64),
        pools=z((2, P, _mb.RECORD), np.uint8), mb_start=z(n, np.int64),
        mb_count=z(n, np.int32), out_rec=z((n, _mb.RECORD), np.uint8),
        out_to=z(n, np.int32), out_tick=z(n, np.int32), out_pending=z(n, np.uint8),
        seq=z(n, np.int64), alive=np.ones(n, np.bool_),
        counts=z((nd, nd), np.int64), cursor=z((nd, nd), np.int64),
        bucket_start=z(nd + 1, np.int64), arrivals=z(n, np.int32), arr_count=z(n, np.int32),
        arr_start=z(n, np.int64), by_recipient=z(n, np.int32), keys=z(2 * n, np.int64),
        want=z(nd, np.int64), remain=z(nd, np.int64), allot=z(nd, np.int64),
        chunk_base=z(nd, np.int64), tally=z((nd, 5), np.int64),
        busy=z(runtime.max_threads() * BUSY_STRIDE, np.int64), out=z(8, np.int64),
        rejected=z(3, np.int64),
    )


def Mailboxes(name: str = "mail", bound: int = 1024, pool_per_agent: int = 4):
    """A model resource ``name`` holding :func:`mailboxes` for the world's agents."""
    from .model import Resource

    return Resource(name, lambda p, n: mailboxes(n, bound, pool_per_agent), state=True,
                    check=_check_posts)


def _check_posts(m: MailState) -> None:
    """Raise :class:`UnknownAgent` for the posts of the last run that named no row
    (counted by :func:`post`, which posted nothing for them), then forget them."""
    count, sender, recipient = (int(v) for v in m.rejected)
    if count:
        m.rejected[:] = 0
        n = m.out_to.shape[0]
        bad, value = ("sender", sender) if not 0 <= sender < n else ("recipient", recipient)
        raise UnknownAgent(f"post: {bad}={value} is not a row (0..{n - 1}); {count} post(s) "
                           f"naming no row were refused, the first from sender {sender} "
                           f"to recipient {recipient}", field=bad, value=value, bound=n)


@kernel
def _deliver(key, n, p, m):
    meta = m.meta
    # what was delivered last time has been read: empty every mailbox
    for r in range(m.mb_count.shape[0]):
        m.mb_count[r] = 0
    cur = meta[CUR]
    _mb.deliver(m.pools[cur], m.pools[1 - cur], m.mb_start, m.mb_count, m.out_rec, m.out_to,
                m.out_tick, m.out_pending, m.alive, meta[TICK], meta[BOUND], meta[DCHUNK],
                m.counts, m.cursor, m.bucket_start, m.arrivals, m.arr_count, m.arr_start,
                m.by_recipient, m.keys, m.want, m.remain, m.allot, m.chunk_base, m.tally,
                m.busy, m.out)
    meta[CUR] = 1 - cur
    t = m.totals
    t[_DELIVERED] += m.out[0]
    t[_RETRIES] += m.out[2]
    t[_HELD] = m.out[3]
    t[_WAITING] = m.out[4]
    t[_DEPTH] = m.out[5]
    meta[TICK] += 1
    # per-worker cycles are not state: zeroed, so state_digest stays deterministic
    for i in range(m.busy.shape[0]):
        m.busy[i] = 0


def Deliver(mail: str = "mail", name: str | None = None):
    """The system that delivers the held messages of resource ``mail`` (see the
    module docstring); put it where messages should become readable, once a tick."""
    from .model import Kernel

    return Kernel(name or f"deliver_{mail}", _deliver, reads=(mail,))


@inline
def post(m, sender, recipient, kind, body):
    """From a compiled system: put a message from ``sender`` to ``recipient`` in the
    sender's outgoing slot; ``kind`` (0..65535) and ``body`` (a uint32 value) go in the
    record's header and first body word. Returns False, and posts nothing, while the
    sender still holds an undelivered message (backpressure), or when the sender or
    recipient is not a row: a bug in the calling system, counted in ``m.rejected``, for
    which the world raises :class:`~dod_sim.errors.UnknownAgent` once the compiled run
    has returned. Only one system should post for a given sender in a tick."""
    n = m.out_to.shape[0]
    if sender < 0 or sender >= n or recipient < 0 or recipient >= n:
        if m.rejected[0] == 0:
            m.rejected[1] = sender
            m.rejected[2] = recipient
        m.rejected[0] += 1
        return False
    if m.out_pending[sender] != 0:
        return False
    tick = m.meta[TICK]
    _mb.compose(m.out_rec[sender], kind, sender, tick, m.seq[sender], np.int64(body))
    m.out_to[sender] = np.int32(recipient)
    m.out_tick[sender] = np.int32(tick)
    m.out_pending[sender] = 1
    m.seq[sender] += 1
    return True


@inline
def current_pool(m):
    """uint8[P, 64]: the pool buffer the mailboxes point into now."""
    return m.pools[m.meta[CUR]]


@inline
def inbox(m, r):
    """(start, count): row r's messages are current_pool(m)[start:start + count], in
    delivery order."""
    return m.mb_start[r], np.int64(m.mb_count[r])


@inline
def body_u32(rec):
    """The first body word of a record, as int64."""
    return _mb.record_u32(rec, 16)


@inline
def sender_of(rec):
    return _mb.record_u32(rec, 4)


@inline
def kind_of(rec):
    return _mb.record_u32(rec, 0) & 0xFFFF
