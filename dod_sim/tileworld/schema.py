"""The tileworld's arrays, declared once (:class:`dod_sim.schema.Schema`).

One table, ``agents``, of ``rows`` (the capacity) rows, and the arrays that are not per
agent: parameters and counters, the double-buffered message pool, delivery and act
scratch, the tile map, the arena. Allocation, the memory estimate, snapshots and their
restore-time checks, the state digest, the columns view and the kernels' structref
(:mod:`dod_sim.kernels.tileworld.state`) all come from :data:`TILEWORLD` and :func:`sizes`.
"""

from __future__ import annotations

from ..kernels.arena import EPOCH, HIGH, META, USED
from ..kernels.tileworld.indices import PF, PI, C, G
from ..kernels.mailbox import SIGNED  # bytes of a message record its tag covers
from ..schema import (AbsBelow, Array, CountOf, Entry, Finite, FreeStack, Gather, Head, InRange,
                      Live, Masked, OneOf, Prefix, Ranges, RowIndex, Schema, Table, Where)
from .keys import KEY_BYTES, ScheduleOf

__all__ = ["TILEWORLD", "COLUMNS", "AGENT_CHUNK", "sizes"]

AGENT_CHUNK = 256  # rows per chunk of the agent kernels: 12 chunks at 3,000 agents

RECORD = 64        # bytes of a message record (dod_sim.kernels.mailbox.RECORD)
TILE_RECORD = 1032  # tile id, version, 1,024-byte payload (dod_sim.kernels.tileworld.tiles.RECORD)
TAG = 32
I64 = 2**63 - 1
FLAG = OneOf((0, 1))


def _c(name, dtype, fill=0, doc="", *checks, **kw):
    return Array(name, dtype, kw.pop("shape", ()), fill, doc, checks=checks, **kw)


def _a(name, dtype, shape, doc="", *checks, **kw):
    return Array(name, dtype, shape, kw.pop("fill", 0), doc, checks=checks, **kw)


AGENTS = Table("agents", "rows", (
    _c("x", "float32", 0, "position, cells, in [0, side)", Finite(), InRange(0, "side")),
    _c("y", "float32", 0, "position, cells, in [0, side)", Finite(), InRange(0, "side")),
    _c("vx", "float32", 0, "velocity, cells per tick", Finite(), AbsBelow("side")),
    _c("vy", "float32", 0, "velocity, cells per tick", Finite(), AbsBelow("side")),
    _c("energy", "float32", 0, "energy; may go negative", Finite()),
    _c("tile", "int32", 0, "the tile the agent is in", InRange(0, "n_tiles")),
    _c("target", "int32", -1, "target tile from a HINT, -1 = none", InRange(-1, "n_tiles")),
    _c("alive", "bool", False, "live row"),
    _c("cache_off", "int64", -1, "map-cache handle: arena offset, -1 = none",
       InRange(-1, "arena")),
    _c("cache_epoch", "int32", -1, "map-cache handle: arena epoch, -1 = none",
       InRange(-1, 2**31 - 1)),
    _c("seq", "int64", 0, "next message sequence number of this sender",
       InRange(0, I64, hi_inclusive=True)),
    # written by act and read in the same tick; saved (format 1 holds them), not digested
    _c("entered", "uint8", 0, "1 when the agent entered a new tile this tick", FLAG,
       digest=False),
    _c("fresh", "uint8", 0, "1 when the agent composed a message this tick", FLAG,
       digest=False),
    _c("mb_start", "int64", 0, "mailbox: first record in the current pool",
       Ranges(count="mb_count", within="pools")),
    _c("mb_count", "int32", 0, "mailbox: records waiting, at most mailbox",
       InRange(0, "mailbox", hi_inclusive=True)),
    _c("out_rec", "uint8", 0, "held message: the signed 64-byte record", shape=(RECORD,),
       digest=(Where("out_pending"), Head(SIGNED))),
    _c("out_to", "int32", 0, "held message: recipient", RowIndex("rows", none=False)),
    _c("out_tick", "int32", 0, "held message: the tick it was first sent (delivery's sort "
       "key)", InRange(0, "tick", hi_inclusive=True)),
    _c("out_pending", "uint8", 0, "1 while a message is held by its sender", FLAG),
))

# The agent columns a reader sees (World.columns); the rest of the table is the
# mailbox's and the held message's bookkeeping.
COLUMNS = ("x", "y", "vx", "vy", "energy", "tile", "target", "alive", "cache_off",
           "cache_epoch", "seq", "mb_count", "out_pending")

_scratch = dict(role="scratch")
_secret = dict(secret=True)

TILEWORLD = Schema("tileworld", (AGENTS,), (
    _a("pi", "int64", (len(PI),), "integer parameters and scalar state (PI)",
       Entry(PI.POOL_CUR, OneOf((0, 1))), Entry(PI.ALIVE, CountOf("alive")),
       Entry(PI.TICK, InRange(0, 2**31 - 1)),
       role="derived", state_entries=(PI.TICK, PI.POOL_CUR, PI.ALIVE),
       digest=Masked((PI.POOL_CUR, PI.CHUNK, PI.DCHUNK))),
    _a("pf", "float64", (len(PF),), "float parameters (PF)", role="derived"),
    _a("counters", "int64", (len(C),), "cumulative counters (C)",
       InRange(0, I64, hi_inclusive=True)),
    _a("status", "int64", (4,), "a kernel's status code and its arguments", **_scratch),
    _a("tmp", "int64", (8,), "small results of census and kernels", **_scratch),
    _a("gauges", "int64", (len(G),), "levels after the last tick (G)", digest=False),
    _a("busy", "int64", ("busy",), "per-worker busy cycles (telemetry, per process)",
       **_scratch),
    _a("keys", "uint8", (2, KEY_BYTES), "the tile key and the message key "
       "(dod_sim.tileworld.keys)", **_secret),
    _a("msg_ks", "uint64", ("ks",), "message key's BLAKE2b schedule", ScheduleOf("msg_ks"),
       **_secret),
    _a("tile_ks", "uint64", ("ks",), "tile key's BLAKE2b schedule", ScheduleOf("tile_ks"),
       **_secret),
    _a("tile_hmac_ks", "uint32", (16,), "tile key's HMAC-SHA-256 schedule",
       ScheduleOf("tile_hmac_ks"), **_secret),
    _a("free_slots", "int32", ("rows",), "the free-slot stack (first free_meta[0] entries)",
       FreeStack(count="free_meta", live="alive", size="rows"), group="columns"),
    _a("free_meta", "int64", (1,), "free slots on the stack",
       Entry(0, InRange(0, "rows", hi_inclusive=True))),
    _a("pools", "uint8", (2, "pool", RECORD), "message records, double-buffered",
       saved=Live("pi", PI.POOL_CUR), digest=(Gather("mb_start", "mb_count"), Head(SIGNED)),
       group="pool"),
    _a("pool_ok", "bool", ("pool",), "act: the record's tag verified", digest=False,
       group="pool"),
    _a("d_counts", "int64", ("nd", "nd"), "delivery: senders per (chunk, chunk)", **_scratch),
    _a("d_cursor", "int64", ("nd", "nd"), "delivery: scatter cursors", **_scratch),
    _a("d_bucket_start", "int64", ("nd1",), "delivery: bucket offsets", **_scratch),
    _a("d_arrivals", "int32", ("rows",), "delivery: senders by recipient", **_scratch,
       group="columns"),
    _a("d_arr_count", "int32", ("rows",), "delivery: arrivals per row", **_scratch,
       group="columns"),
    _a("d_arr_start", "int64", ("rows",), "delivery: first arrival per row", **_scratch,
       group="columns"),
    _a("d_by_recipient", "int32", ("rows",), "delivery: senders in recipient order",
       **_scratch, group="columns"),
    _a("d_keys", "int64", ("rows2",), "delivery: sort keys", **_scratch, group="columns"),
    _a("d_want", "int64", ("nd",), "delivery: records wanted per chunk", **_scratch),
    _a("d_remain", "int64", ("nd",), "delivery: pool space left per chunk", **_scratch),
    _a("d_allot", "int64", ("nd",), "delivery: pool space per chunk", **_scratch),
    _a("d_chunk_base", "int64", ("nd",), "delivery: a chunk's first record", **_scratch),
    _a("chunk_entries", "int64", ("n_chunks",), "act: tiles entered per chunk", **_scratch),
    _a("chunk_base", "int64", ("n_chunks",), "arena: a chunk's first byte", **_scratch),
    _a("tally", "int64", ("n_chunks", 8), "act: per-chunk counts", **_scratch),
    _a("d_tally", "int64", ("nd", 5), "delivery: per-chunk counts", **_scratch),
    _a("records", "uint8", ("n_tiles", TILE_RECORD), "the verified map: id, version, "
       "payload", group="tiles"),
    _a("tags", "uint8", ("n_tiles", TAG), "each tile record's tag (it depends on the "
       "key: not digested)", digest=False, group="tiles"),
    _a("cost", "uint8", ("side", "side"), "the verified cost of every cell", group="tiles"),
    _a("stage", "uint8", ("updates", TILE_RECORD), "tiles: refreshed records", **_scratch),
    _a("stage_tags", "uint8", ("updates", TAG), "tiles: their tags", **_scratch),
    _a("stage_ok", "bool", ("updates",), "tiles: verified", **_scratch),
    _a("stage_ids", "int32", ("updates",), "tiles: which tiles", **_scratch),
    _a("stage_tampered", "uint8", ("updates",), "tiles: tampered after signing", **_scratch),
    _a("arena", "uint8", ("arena",), "the epoch arena's bytes",
       saved=Prefix("arena_meta", USED), group="arena"),
    _a("arena_meta", "int64", (META,), "arena: used, epoch, high water, allocated",
       Entry(USED, InRange(0, "arena", hi_inclusive=True)),
       Entry(EPOCH, InRange(0, I64, hi_inclusive=True)),
       Entry(HIGH, InRange(0, "arena", hi_inclusive=True))),
))


def sizes(cfg, agent_chunk: int, dchunk: int, threads_busy: int, tick: int = 0) -> dict:
    """The size names of :data:`TILEWORLD` for a world of ``cfg`` (a Config)."""
    from ..kernels.blake2b import KS_WORDS

    n = cfg.rows
    nd = -(-n // dchunk)
    return {"rows": n, "rows2": 2 * n, "pool": cfg.pool, "n_chunks": -(-n // agent_chunk),
            "nd": nd, "nd1": nd + 1, "n_tiles": cfg.n_tiles, "updates": cfg.tile_updates,
            "side": cfg.side, "arena": cfg.arena, "busy": threads_busy, "ks": KS_WORDS,
            "mailbox": cfg.mailbox, "tick": tick}
