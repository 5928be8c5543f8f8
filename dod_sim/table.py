"""The agent table: one numpy column per agent field (WORKLOAD.md, "World"), each of
length ``capacity``, plus the free-slot stack. Rows are agents; nothing is an object.

Spawning and killing go through :meth:`dod_sim.World.spawn` / :meth:`~dod_sim.World.kill`,
which validate ids and run ``dod_sim.kernels.agents`` on the table.
"""

from __future__ import annotations

import numpy as np

__all__ = ["AGENT_SCHEMA", "agent_columns"]

# name: (dtype, fill, meaning)
AGENT_SCHEMA = {
    "x": ("float32", 0, "position, cells, in [0, side)"),
    "y": ("float32", 0, "position, cells, in [0, side)"),
    "vx": ("float32", 0, "velocity, cells per tick"),
    "vy": ("float32", 0, "velocity, cells per tick"),
    "energy": ("float32", 0, "energy; may go negative"),
    "tile": ("int32", 0, "the tile the agent is in"),
    "target": ("int32", -1, "target tile from a HINT, -1 = none"),
    "alive": ("bool", False, "live row"),
    "cache_off": ("int64", -1, "map-cache handle: arena offset, -1 = none"),
    "cache_epoch": ("int32", -1, "map-cache handle: arena epoch"),
    "seq": ("int64", 0, "next message sequence number of this sender"),
    "entered": ("uint8", 0, "1 when the agent entered a new tile this tick"),
    "fresh": ("uint8", 0, "1 when the agent composed a message this tick (signed in lanes)"),
    "free_slots": ("int32", 0, "the free-slot stack (first free_meta[0] entries)"),
    "mb_start": ("int64", 0, "mailbox: first record in the current pool"),
    "mb_count": ("int32", 0, "mailbox: records waiting, <= mailbox"),
    "out_to": ("int32", 0, "held message: recipient"),
    "out_tick": ("int32", 0, "held message: the tick it was first sent (delivery's sort key)"),
    "out_pending": ("uint8", 0, "1 while a message is held by its sender"),
}


def agent_columns(capacity: int) -> dict:
    """Allocate every column of AGENT_SCHEMA for ``capacity`` rows, plus
    ``out_rec : uint8[capacity, 64]`` (the held message) and ``free_meta : int64[1]``."""
    cols = {name: np.full(capacity, fill, dtype) for name, (dtype, fill, _) in AGENT_SCHEMA.items()}
    cols["out_rec"] = np.zeros((capacity, 64), np.uint8)
    cols["free_meta"] = np.zeros(1, np.int64)
    return cols
