"""Indices into the tileworld's small scalar arrays: parameters (``pi``, ``pf``),
cumulative counters and gauges. Kernels update them in place."""

from enum import IntEnum

__all__ = ["PI", "PF", "C", "G", "COUNTER_NAMES", "GAUGE_NAMES"]


class PI(IntEnum):
    """Indices of ``pi : int64[len(PI)]``, integer parameters and scalar state."""

    SEED = 0
    TICK = 1
    SIDE = 2
    TILES_PER_SIDE = 3
    TILE_UPDATES = 4
    MAILBOX = 5
    BUDGET = 6
    CHUNK = 7
    DCHUNK = 8
    EPOCH_TICKS = 9
    ALGO = 10
    POOL_CUR = 11
    ALIVE = 12
    HOT_START = 13
    HOT_TICKS = 14
    HOT_TARGET = 15
    HOT_EVERY = 16


class PF(IntEnum):
    """Indices of ``pf : float64[len(PF)]``, float parameters."""

    SPEED = 0
    TURN_MAX = 1
    SEND_RATE = 2
    TAMPER_RATE = 3
    TAG_TAMPER_RATE = 4
    KILL_RATE = 5
    ENERGY = 6
    HOT_SHARE = 7


class C(IntEnum):
    """Indices of ``counters : int64[len(C)]``, cumulative over every tick the world ran.

    ``DEFERRED`` is the exception: the number of messages held by senders right now.
    Names (lower case) are the keys of ``World.counters()``.
    """

    SENT = 0
    DELIVERED = 1
    UNDELIVERABLE = 2
    RETRIES = 3
    DEFERRED = 4
    READ = 5
    DISCARDED = 6
    TAGS_REJECTED = 7
    TAGS_TAMPERED = 8
    TAGS_VERIFIED = 9
    TILES_REFRESHED = 10
    TILES_REJECTED = 11
    TILES_TAMPERED = 12
    TILE_BYTES_VERIFIED = 13
    TILES_ENTERED = 14
    ARENA_FAILED = 15
    KILLED = 16
    SPAWNED = 17
    AGENT_TICKS = 18
    TICKS = 19


COUNTER_NAMES = tuple(c.name.lower() for c in C)


class G(IntEnum):
    """Indices of ``gauges : int64[len(G)]``, levels after the last tick (not cumulative).

    MB_WAITING and MB_MAX are the records waiting in all mailboxes and in the fullest
    one after delivery (kills then discard mailboxes: MB_WAITING follows, MB_MAX is the
    delivery's); ARENA_USED is the bytes in use this epoch at the end of the tick.
    """

    MB_WAITING = 0
    MB_MAX = 1
    ARENA_USED = 2


GAUGE_NAMES = tuple(g.name.lower() for g in G)
