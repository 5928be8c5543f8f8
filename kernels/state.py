"""The world's arrays in one Numba structref, made once per world.

Every call from Python into a compiled function boxes each array argument, and Numba
counts each as an allocation; a tick of forty separate arrays would allocate forty
times. A structref holding them is passed as one object, with no allocation, and the
phase kernels in :mod:`.phases` read their columns from it. Python keeps its own
references to the same numpy buffers (``dod_sim.World.columns``), so nothing is copied.

Scalars live in small arrays, indexed by the constants below, so that kernels can
update them in place.
"""

from enum import IntEnum

import numpy as np
from numba import types
from numba.experimental import structref
from numba.np.numpy_support import from_dtype

from ._jit import kernel

__all__ = ["WorldStateType", "WorldState", "state_type", "FIELDS", "PI", "PF", "C", "G",
           "COUNTER_NAMES", "GAUGE_NAMES", "make"]


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


# (name, dtype, ndim); every array is C-contiguous.
FIELDS = (
    ("pi", "int64", 1), ("pf", "float64", 1), ("counters", "int64", 1),
    ("status", "int64", 1), ("tmp", "int64", 1), ("gauges", "int64", 1), ("busy", "int64", 1),
    ("msg_ks", "uint64", 1), ("tile_ks", "uint64", 1), ("tile_hmac_ks", "uint32", 1),
    # agents
    ("x", "float32", 1), ("y", "float32", 1), ("vx", "float32", 1), ("vy", "float32", 1),
    ("energy", "float32", 1), ("tile", "int32", 1), ("target", "int32", 1),
    ("alive", "bool", 1), ("cache_off", "int64", 1), ("cache_epoch", "int32", 1),
    ("seq", "int64", 1), ("entered", "uint8", 1), ("fresh", "uint8", 1), ("free_slots", "int32", 1),
    ("free_meta", "int64", 1),
    # mailboxes
    ("pools", "uint8", 3), ("pool_ok", "bool", 1), ("mb_start", "int64", 1),
    ("mb_count", "int32", 1), ("out_rec", "uint8", 2), ("out_to", "int32", 1),
    ("out_tick", "int32", 1), ("out_pending", "uint8", 1),
    # delivery scratch
    ("d_counts", "int64", 2), ("d_cursor", "int64", 2), ("d_bucket_start", "int64", 1),
    ("d_arrivals", "int32", 1), ("d_arr_count", "int32", 1), ("d_arr_start", "int64", 1),
    ("d_by_recipient", "int32", 1), ("d_keys", "int64", 1), ("d_want", "int64", 1),
    ("d_remain", "int64", 1),
    ("d_allot", "int64", 1), ("d_chunk_base", "int64", 1),
    # act / arena scratch
    ("chunk_entries", "int64", 1), ("chunk_base", "int64", 1), ("tally", "int64", 2),
    ("d_tally", "int64", 2),
    # tiles
    ("records", "uint8", 2), ("tags", "uint8", 2), ("cost", "uint8", 2),
    ("stage", "uint8", 2), ("stage_tags", "uint8", 2), ("stage_ok", "bool", 1),
    ("stage_ids", "int32", 1), ("stage_tampered", "uint8", 1),
    # arena
    ("arena", "uint8", 1), ("arena_meta", "int64", 1),
)


@structref.register
class WorldStateType(types.StructRef):
    def preprocess_fields(self, fields):
        return tuple((name, types.unliteral(t)) for name, t in fields)


class WorldState(structref.StructRefProxy):
    """Opaque handle to a world's arrays for the phase kernels. Build with :func:`make`."""


structref.define_proxy(WorldState, WorldStateType, [name for name, _, _ in FIELDS])


def state_type():
    """The Numba type of every WorldState (what ``numba.typeof(make(arrays))`` gives),
    built from FIELDS without arrays: kernels can be compiled for it ahead of a world."""
    return WorldStateType([(name, types.Array(from_dtype(np.dtype(dtype)), ndim, "C"))
                           for name, dtype, ndim in FIELDS])


def make(arrays):
    """A WorldState over ``arrays`` (a dict holding every name of FIELDS, right dtypes)."""
    for name, dtype, ndim in FIELDS:
        a = arrays[name]
        if a.dtype.name != dtype or a.ndim != ndim or not a.flags.c_contiguous:
            raise TypeError(f"world array {name!r} must be C-contiguous {dtype}[{ndim}d], "
                            f"got {a.dtype}[{a.ndim}d]")
    return _new(tuple(arrays[name] for name, _, _ in FIELDS))


@kernel
def _new(arrays):
    # Built inside a cached kernel: the proxy's own Python constructor compiles a
    # constructor for these 60 fields in every process (1.6 s measured), this loads.
    return WorldState(*arrays)
