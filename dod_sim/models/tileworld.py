"""WORKLOAD.md's tileworld on the model API: the same tick as :class:`dod_sim.World`.

The agents' fields are the model's columns (``x`` ... ``out_pending``, as in
``dod_sim.tileworld.schema.TILEWORLD``); everything that is not per agent (tiles, key
schedules, the shared message pool and its double buffer, the arena, counters,
scratch) is one resource, ``world`` (:class:`Engine`), made by
:func:`dod_sim.world.allocate` from the model's parameters and the world's seed around
the model's own column buffers. Each phase of WORKLOAD.md's tick is one
:class:`~dod_sim.model.Kernel` system, in the order of ``dod_sim.world.TICK``, and a
setup system spawns the agents and verifies the initial map.

The phases are whole-column systems, not per-row ones, because each of them needs what a
function of one row cannot do: ``act`` signs and verifies the messages of 4 rows per
BLAKE2b vector call and sends (writes a recipient's future mailbox through delivery),
``deliver`` is a counting sort with prefix sums, ``arena`` hands out ranges by a prefix
sum over chunks, ``chaos`` pops a shared free-slot stack. They are the engine's own
kernels (``dod_sim.kernels.tileworld.phases``), compiled once for World's state and called by
address (:mod:`dod_sim.kernels.calls`): the model compiles a few lines per system, not
the phases a second time.

A tileworld ``ModelWorld`` and a ``World`` of the same seed and parameters have the
same state digest after any number of ticks, and are bit-identical, tags included, with
``deterministic_keys`` (``tests/test_models.py``), so the API carries
the workload the engine is measured on, at the engine's speed
(``dod-sim bench models`` prints both).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..config import Config
from ..kernels.tileworld import phases
from ..kernels._jit import kernel
from ..kernels.calls import address, call
from ..kernels.tileworld.state import FIELDS, PF
from ..model import Column, Kernel, Model, ModelWorld, Resource, Stat, column_mean
from ..tileworld.schema import TILEWORLD

__all__ = ["MODEL", "Engine", "world", "config_of"]

# The agent table's 1-d columns; the held record (out_rec, 64 bytes a row) is in the resource.
COLUMNS = tuple(c.name for c in TILEWORLD.table("agents").columns if len(c.shape) == 1)

# Config fields that are model parameters (scalars; the tile algorithm as a flag,
# "default" sizes as 0, Config.energy as initial_energy: a column is named energy).
# agents, seed and threads come from the ModelWorld.
PARAMS = {
    "side": 1024, "tile_updates": 64, "tamper_rate": 0.01, "hmac_tiles": False,
    "mailbox": 1024, "inbox_budget": 16, "send_rate": 0.5, "pool_records": 0,
    "epoch_ticks": 600, "arena_bytes": 0, "kill_rate": 0.0, "tag_tamper_rate": 0.0,
    "hotspot_share": 0.0, "hotspot_ticks": 0, "hotspot_start": 0, "hotspot_target": 0,
    "hotspot_every": 0, "speed": 1.0, "turn_max": 0.1, "initial_energy": 100.0,
    "deterministic_keys": False,
}


# The arrays of World's state that are not the model's columns.
RESOURCE_FIELDS = tuple(name for name, _, _ in FIELDS if name not in COLUMNS)

# The resource ``world``: ``state``, the phase kernels' view of the whole world (a
# WorldState over the model's columns and the other arrays), ``addrs``, the entry points
# of the phases compiled for it (int64[len(PHASES)]), and the other arrays by name, for
# Python to read.
Engine = NamedTuple("Engine", [("state", object), ("addrs", np.ndarray)]
                    + [(name, np.ndarray) for name in RESOURCE_FIELDS])
Engine.__module__ = __name__

# The phases by their index in Engine.addrs; init_world takes the agent count too.
PHASES = ("tiles", "act", "arena", "deliver", "chaos", "end", "init")
TILES, ACT, ARENA, DELIVER, CHAOS, END, INIT = range(len(PHASES))


def config_of(p, agents: int, seed: int) -> Config:
    """The :class:`~dod_sim.Config` of a tileworld with parameters ``p`` (validated: a
    bad value raises ConfigError naming the field)."""
    values = {k: getattr(p, k) for k in PARAMS if k not in (
        "hmac_tiles", "pool_records", "arena_bytes", "initial_energy", "deterministic_keys")}
    return Config(agents=agents, seed=seed, threads=1, energy=p.initial_energy,
                  deterministic_keys=bool(p.deterministic_keys),
                  tile_algo="hmac-sha256" if p.hmac_tiles else "blake2b",
                  pool_records=p.pool_records or None, arena_bytes=p.arena_bytes or None,
                  **values)


def _make(p, agents, seed, columns):
    """The world resource over the model's own column buffers (``columns``), so the
    phases and the model read and write the same arrays."""
    from numba import int64, typeof

    from ..kernels.tileworld.state import make
    from ..tileworld.keys import world_keys
    from ..world import TICK, allocate

    cfg = config_of(p, agents, seed)
    arrays = allocate(cfg, world_keys(seed, deterministic=cfg.deterministic_keys))
    arrays.update({name: columns[name] for name in COLUMNS})
    state = make(arrays)
    st = typeof(state)
    fns = {ph.name: ph.fn for ph in TICK}
    addrs = np.array([address(fns[name], (st,)) for name in PHASES[:-1]]
                     + [address(phases.init_world, (st, int64))], np.int64)
    return Engine(state, addrs, *(arrays[name] for name in RESOURCE_FIELDS))


# One system per phase, fn(key, n, p, world): each calls World's own phase,
# compiled and cached once for World's state type, by its address (kernels.calls), so
# the model compiles only these few lines. The key is unused: the phases draw from
# rng.row_key(seed, tick, row) with the world's own seed and tick, as World does.

@kernel
def init(key, n, p, w):
    """Setup: spawn n agents into rows 0..n-1, sign and verify the initial map."""
    call(w.addrs[INIT], (w.state, np.int64(n)))


@kernel
def tiles(key, n, p, w):
    call(w.addrs[TILES], (w.state,))


@kernel
def act(key, n, p, w):
    call(w.addrs[ACT], (w.state,))


@kernel
def arena(key, n, p, w):
    # An exhausted arena is a status in state.status and a counter, as in World, which
    # raises ArenaExhausted from them; a model run reports it in counters only.
    call(w.addrs[ARENA], (w.state,))


@kernel
def deliver(key, n, p, w):
    call(w.addrs[DELIVER], (w.state,))


@kernel
def chaos(key, n, p, w):
    if w.state.pf[PF.KILL_RATE] > 0:  # World leaves the phase out of its schedule then
        call(w.addrs[CHAOS], (w.state,))


@kernel
def end(key, n, p, w):
    call(w.addrs[END], (w.state,))


def _system(name, fn):
    # every phase may touch every column, through "world", read and written in place:
    # the systems take it alone (a call with every column typed 19 more arguments)
    return Kernel(name, fn, reads=("world",))


def _check(p, agents):
    config_of(p, agents, 0)


MODEL = Model(
    "tileworld",
    view={"color": "energy"},
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
