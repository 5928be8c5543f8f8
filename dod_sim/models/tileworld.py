"""WORKLOAD.md's tileworld on the model API: the same tick as :class:`dod_sim.World`.

The agents' fields are the model's columns (``x`` ... ``out_pending``, as in
``dod_sim.tileworld.schema.TILEWORLD``); everything that is not per agent (tiles, key
schedules, the shared message pool and its double buffer, the arena, counters,
scratch) is one resource, ``world``, made by :func:`dod_sim.world.allocate` from the
model's parameters and the world's seed. Each phase of WORKLOAD.md's tick is one
:class:`~dod_sim.model.Kernel` system, in the order of ``dod_sim.world.TICK``, and a
setup system spawns the agents and verifies the initial map.

The phases are whole-column systems, not per-row ones, because each of them needs what a
function of one row cannot do: ``act`` signs and verifies the messages of 4 rows per
BLAKE2b vector call and sends (writes a recipient's future mailbox through delivery),
``deliver`` is a counting sort with prefix sums, ``arena`` hands out ranges by a prefix
sum over chunks, ``chaos`` pops a shared free-slot stack. They are the engine's own
kernels (``dod_sim.kernels.phases``), compiled here for the model's layout: a
:class:`TileState` named tuple of the columns and the resource's arrays, with the field
names of ``dod_sim.kernels.state.FIELDS``, built per call without allocating.

A tileworld ``ModelWorld`` and a ``World`` of the same seed and parameters are
bit-identical after any number of ticks (``tests/test_models.py``), so the API carries
the workload the engine is measured on, at the engine's speed
(``dod-sim bench models`` prints both).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..config import Config
from ..kernels import phases
from ..kernels._jit import kernel
from ..kernels.state import FIELDS, PF
from ..model import Column, Kernel, Model, ModelWorld, Resource, Stat, column_mean
from ..tileworld.schema import TILEWORLD

__all__ = ["MODEL", "TileState", "world", "config_of"]

# The agent table's 1-d columns; the held record (out_rec, 64 bytes a row) is in the resource.
COLUMNS = tuple(c.name for c in TILEWORLD.table("agents").columns if len(c.shape) == 1)
RESOURCE_FIELDS = tuple(name for name, _, _ in FIELDS if name not in COLUMNS)

# Config fields that are model parameters (scalars; the tile algorithm as a flag,
# "default" sizes as 0, Config.energy as initial_energy: a column is named energy).
# agents, seed and threads come from the ModelWorld.
PARAMS = {
    "side": 1024, "tile_updates": 64, "tamper_rate": 0.01, "hmac_tiles": False,
    "mailbox": 1024, "inbox_budget": 16, "send_rate": 0.5, "pool_records": 0,
    "epoch_ticks": 600, "arena_bytes": 0, "kill_rate": 0.0, "tag_tamper_rate": 0.0,
    "hotspot_share": 0.0, "hotspot_ticks": 0, "hotspot_start": 0, "hotspot_target": 0,
    "hotspot_every": 0, "speed": 1.0, "turn_max": 0.1, "initial_energy": 100.0,
}


# The phase kernels' view of a tileworld: the fields of ``state.FIELDS``, in order.
TileState = NamedTuple("TileState", [(name, np.ndarray) for name, _, _ in FIELDS])
TileState.__module__ = __name__


# The resource: the arrays of TileState that are not columns, in FIELDS order.
Resources = NamedTuple("Resources", [(name, np.ndarray) for name in RESOURCE_FIELDS])
Resources.__module__ = __name__


def config_of(p, agents: int, seed: int) -> Config:
    """The :class:`~dod_sim.Config` of a tileworld with parameters ``p`` (validated: a
    bad value raises ConfigError naming the field)."""
    values = {k: getattr(p, k) for k in PARAMS if k not in (
        "hmac_tiles", "pool_records", "arena_bytes", "initial_energy")}
    return Config(agents=agents, seed=seed, threads=1, energy=p.initial_energy,
                  tile_algo="hmac-sha256" if p.hmac_tiles else "blake2b",
                  pool_records=p.pool_records or None, arena_bytes=p.arena_bytes or None,
                  **values)


def _make(p, agents, seed):
    from ..world import allocate, derive_keys

    arrays = allocate(config_of(p, agents, seed), *derive_keys(seed))
    return Resources(*(arrays[name] for name in RESOURCE_FIELDS))


@kernel
def _state(x, y, vx, vy, energy, tile, target, alive, cache_off, cache_epoch, seq, entered,
           fresh, mb_start, mb_count, out_to, out_tick, out_pending, w):
    return TileState(
        x, y, vx, vy, energy, tile, target, alive, cache_off, cache_epoch, seq, entered,
        fresh, mb_start, mb_count, w.out_rec, out_to, out_tick, out_pending,
        w.pi, w.pf, w.counters, w.status, w.tmp, w.gauges, w.busy, w.msg_ks, w.tile_ks,
        w.tile_hmac_ks, w.free_slots, w.free_meta, w.pools, w.pool_ok, w.d_counts,
        w.d_cursor, w.d_bucket_start, w.d_arrivals, w.d_arr_count, w.d_arr_start,
        w.d_by_recipient, w.d_keys, w.d_want, w.d_remain, w.d_allot, w.d_chunk_base,
        w.chunk_entries, w.chunk_base, w.tally, w.d_tally, w.records, w.tags, w.cost,
        w.stage, w.stage_tags, w.stage_ok, w.stage_ids, w.stage_tampered, w.arena,
        w.arena_meta)


# One system per phase: fn(key, n, p, *COLUMNS, world), the arrays passed on as
# ``_state(*a)``. The key is unused: the phases draw from rng.row_key(seed, tick, row)
# with the world's own seed and tick, as World does.

@kernel
def init(key, n, p, *a):
    """Setup: spawn n agents into rows 0..n-1, sign and verify the initial map."""
    phases.init_world(_state(*a), n)


@kernel
def tiles(key, n, p, *a):
    phases.tiles(_state(*a))


@kernel
def act(key, n, p, *a):
    phases.agents_act(_state(*a))


@kernel
def arena(key, n, p, *a):
    # An exhausted arena is a status in w.status and a counter, as in World, which
    # raises ArenaExhausted from them; a model run reports it in counters only.
    phases.arena_slice(_state(*a))


@kernel
def deliver(key, n, p, *a):
    phases.deliver_messages(_state(*a))


@kernel
def chaos(key, n, p, *a):
    s = _state(*a)
    if s.pf[PF.KILL_RATE] > 0:  # World leaves the phase out of its schedule then
        phases.chaos_kill_spawn(s)


@kernel
def end(key, n, p, *a):
    phases.end_tick(_state(*a))


def _system(name, fn):
    # every phase may touch every column; "world" is read and written in place
    return Kernel(name, fn, reads=COLUMNS + ("world",))


def _check(p, agents):
    config_of(p, agents, 0)


MODEL = Model(
    "tileworld",
    params=PARAMS,
    columns=[Column(name, TILEWORLD[name].dtype, TILEWORLD[name].fill, TILEWORLD[name].doc)
             for name in COLUMNS],
    # not hashed by state_digest: it holds scratch and per-worker cycle counts; the
    # columns and World's own digest of the same state are compared in the tests
    resources=[Resource("world", _make)],
    setup=[_system("init", init)],
    systems=[_system(name, fn) for name, fn in (
        ("tiles", tiles), ("act", act),
        ("arena", arena), ("deliver", deliver), ("chaos", chaos), ("end", end))],
    stats={"energy_mean": Stat(column_mean, reads=("energy",))},  # over all rows, alive or not
    check=_check,
    doc=__doc__,
)


def world(agents: int = 3000, seed: int = 0, threads: int | None = None,
          **params) -> ModelWorld:
    """A tileworld of ``agents`` agents (WORKLOAD.md's defaults unless given)."""
    return ModelWorld(MODEL, agents, seed=seed, threads=threads, **params)
