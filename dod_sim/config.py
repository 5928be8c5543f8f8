"""``Config``: every parameter of the tileworld workload, validated, frozen.

Field names are those of WORKLOAD.md (``agents``, ``capacity``, ``mailbox``,
``send_rate``, ...). Defaults are WORKLOAD.md's. ``None`` means "derived": see
:meth:`Config.resolved`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass, fields

from .errors import ConfigError

__all__ = ["Config", "TILE_CELLS", "memory_estimate", "available_memory"]

TILE_CELLS = 16  # a tile is 16 x 16 cells: fixed by the 1,024-byte payload format
ALGOS = ("blake2b", "hmac-sha256")
MAX_ROWS = 2**31 - 1  # agent ids travel as u32 in message headers and int32 columns

ARENA_BYTES_PER_AGENT = 4096  # one epoch needs ~3 KB (47 tiles x 64 B); touched lazily


@dataclass(frozen=True)
class Config:
    """Parameters of one world. All validated on construction.

    agents : live agents at the start (WORKLOAD.md: 3,000)
    capacity : most agents the table holds; None = agents
    side : cells per side of the torus, a multiple of 16
    tile_updates : tiles refreshed per tick (distinct)
    tamper_rate : probability that a refreshed tile is tampered after signing
    tile_algo : "blake2b" (keyed, 32-byte tag) or "hmac-sha256"
    mailbox : bound of every agent's mailbox, in messages
    inbox_budget : messages an agent drains per tick
    send_rate : probability that an agent sends a message in a tick
    pool_records : message records the shared mailbox pool holds; None = derived
    epoch_ticks : ticks per arena epoch
    arena_bytes : size of the arena; None = 4,096 bytes per row of capacity
    kill_rate, tag_tamper_rate : chaos, off by default
    hotspot_share, hotspot_ticks, hotspot_start, hotspot_target : chaos, a hot-spot
        burst: for ``hotspot_ticks`` ticks from tick ``hotspot_start`` each agent is, with
        probability ``hotspot_share`` per tick, a burst sender that messages agent
        ``hotspot_target`` (instead of a random one, whatever ``send_rate`` says);
        the burst repeats every ``hotspot_every`` ticks when that is > 0
    speed, turn_max, energy : movement and the initial energy
    tick_ms : pacing period; 0 = unpaced
    ticks : ticks of a run
    threads : worker threads, every phase; None = chosen by the runtime (up to 100,000
        agents measured by a short probe, per phase, see :mod:`dod_sim.pacing`; every
        core above that)
    blocking_threads, blocking_queue : the blocking pool of ``World.submit``: threads
        and the most jobs waiting
    seed : the seed of every counter-based random draw
    deterministic_keys : derive the tile and message keys from the seed (tests, tags that
        repeat from run to run) instead of ``os.urandom`` or ``World(key=...)``: keys
        anyone who knows the seed can compute (:mod:`dod_sim.tileworld.keys`)
    """

    agents: int = 3000
    capacity: int | None = None
    side: int = 1024
    tile_updates: int = 64
    tamper_rate: float = 0.01
    tile_algo: str = "blake2b"
    mailbox: int = 1024
    inbox_budget: int = 16
    send_rate: float = 0.5
    pool_records: int | None = None
    epoch_ticks: int = 600
    arena_bytes: int | None = None
    kill_rate: float = 0.0
    tag_tamper_rate: float = 0.0
    hotspot_share: float = 0.0
    hotspot_ticks: int = 0
    hotspot_start: int = 0
    hotspot_target: int = 0
    hotspot_every: int = 0
    speed: float = 1.0
    turn_max: float = 0.1
    energy: float = 100.0
    tick_ms: float = 0.0
    ticks: int = 600
    threads: int | None = None
    blocking_threads: int = 1
    blocking_queue: int = 8
    seed: int = 0
    deterministic_keys: bool = False

    def __post_init__(self):
        for f in fields(self):
            v = getattr(self, f.name)
            _check_type(f.name, v, f.type)
        if self.capacity is None:  # the table holds agents rows: name the field set
            _between("agents", self.agents, 2, MAX_ROWS, why="capacity defaults to agents")
        else:
            _at_least("agents", self.agents, 0)
            _between("capacity", self.capacity, 2, MAX_ROWS)
        cap = self.rows
        if self.agents > cap:
            raise ConfigError(f"agents={self.agents} exceeds capacity={cap}",
                              field="agents", value=self.agents, bound=cap)
        _between("side", self.side, TILE_CELLS, 1 << 15)
        if self.side % TILE_CELLS:
            raise ConfigError(f"side={self.side} must be a multiple of {TILE_CELLS}",
                              field="side", value=self.side, bound=TILE_CELLS)
        n_tiles = (self.side // TILE_CELLS) ** 2
        _between("tile_updates", self.tile_updates, 0, n_tiles,
                 why=f"side={self.side} makes {n_tiles} tiles of {TILE_CELLS}^2 cells")
        for name in ("tamper_rate", "send_rate", "kill_rate", "tag_tamper_rate", "hotspot_share"):
            _between(name, getattr(self, name), 0.0, 1.0)
        if self.tile_algo not in ALGOS:
            raise ConfigError(f"tile_algo={self.tile_algo!r} must be one of {ALGOS}",
                              field="tile_algo", value=self.tile_algo, bound=ALGOS)
        _between("mailbox", self.mailbox, 1, 1 << 20)
        _between("inbox_budget", self.inbox_budget, 0, 1 << 20)
        if self.pool_records is not None:
            _between("pool_records", self.pool_records, 1, 1 << 40)
        _between("epoch_ticks", self.epoch_ticks, 1, 1 << 31)
        if self.arena_bytes is not None:
            _between("arena_bytes", self.arena_bytes, 0, 1 << 46)
        _between("speed", self.speed, 0.0, float(TILE_CELLS))
        _between("turn_max", self.turn_max, 0.0, 3.141592653589793)
        _between("energy", self.energy, -1e30, 1e30)
        _between("tick_ms", self.tick_ms, 0.0, 3.6e6)
        _between("hotspot_ticks", self.hotspot_ticks, 0, 1 << 31)
        _between("hotspot_start", self.hotspot_start, 0, 1 << 31)
        _between("hotspot_target", self.hotspot_target, 0, cap - 1)
        _between("hotspot_every", self.hotspot_every, 0, 1 << 31)
        _between("blocking_threads", self.blocking_threads, 1, 256)
        _between("blocking_queue", self.blocking_queue, 1, 1 << 20)
        _at_least("ticks", self.ticks, 0)
        if self.threads is not None:
            _between("threads", self.threads, 1, 1024)
        _between("seed", self.seed, 0, 2**63 - 1)

    # ---- derived values -------------------------------------------------------------

    @property
    def rows(self) -> int:
        """The table's capacity in rows."""
        return self.capacity if self.capacity is not None else self.agents

    @property
    def pool(self) -> int:
        """Records in the shared mailbox pool: 4 per row plus two full mailboxes.

        Measured: at send_rate 0.5 and inbox_budget 16 mailboxes hold under one record
        per agent on average, so 4 leaves room for hot spots; a full pool defers
        messages with their senders (counted), it never drops them.
        """
        if self.pool_records is not None:
            return self.pool_records
        return 4 * self.rows + 2 * self.mailbox

    @property
    def arena(self) -> int:
        return self.arena_bytes if self.arena_bytes is not None else ARENA_BYTES_PER_AGENT * self.rows

    @property
    def n_tiles(self) -> int:
        return (self.side // TILE_CELLS) ** 2

    def replace(self, **changes) -> "Config":
        """A copy with ``changes`` applied (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def digest(self) -> str:
        """A short hash of every field, for provenance in reports and snapshots."""
        blob = json.dumps(self.to_dict(), sort_keys=True).encode()
        return hashlib.blake2b(blob, digest_size=8).hexdigest()


def memory_estimate(cfg: Config, schema=None) -> dict:
    """Bytes a world of ``cfg`` allocates, by part, and the resident ``total``; from the
    declared layout (``schema``: the tileworld's by default), grouped by each array's
    ``group``: ``columns`` (per-row arrays and small ones), ``pool``, ``tiles``,
    ``arena_reserved`` and ``arena_resident``.

    The arena is allocated zeroed, so the OS maps its pages only when they are first
    written; an epoch touches about 64 bytes per tile entered, so the resident estimate
    counts the smaller of the arena and one epoch of slices (speed 1: ~1.3/16 tile
    entries per agent-tick).
    """
    from .tileworld.schema import AGENT_CHUNK, TILEWORLD, sizes

    schema = TILEWORLD if schema is None else schema
    nbytes = schema.nbytes(sizes(cfg, AGENT_CHUNK, _dchunk(cfg.rows), 0))
    parts = {"columns": 0, "pool": 0, "tiles": 0, "arena_reserved": 0}
    for a in schema.fields():
        group = a.group if a.group in ("pool", "tiles") else \
            "arena_reserved" if a.group == "arena" else "columns"
        parts[group] += nbytes[a.name]
    per_epoch = int(cfg.rows * min(cfg.epoch_ticks, 10**9) * cfg.speed * 1.28 / TILE_CELLS * 64)
    parts["arena_resident"] = min(parts["arena_reserved"], per_epoch)
    parts["total"] = parts["columns"] + parts["pool"] + parts["tiles"] + parts["arena_resident"]
    return parts


def available_memory() -> int:
    """Bytes the OS says are available (MemAvailable), or physical memory."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def _dchunk(rows: int) -> int:
    """Rows per delivery chunk, a power of two (delivery finds a row's chunk by a shift):
    the (chunk x chunk) histogram stays small at 1 M rows."""
    return 1024 if rows <= 1 << 17 else 4096


def _check_type(name, v, annotation):
    ann = str(annotation)
    if v is None:
        if "None" in ann:
            return
        raise ConfigError(f"{name} must not be None", field=name, value=v)
    if ann.startswith("int"):
        if isinstance(v, bool) or not isinstance(v, int):
            raise ConfigError(f"{name}={v!r} must be an integer", field=name, value=v)
    elif ann.startswith("float"):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v:
            raise ConfigError(f"{name}={v!r} must be a number", field=name, value=v)
    elif ann.startswith("str") and not isinstance(v, str):
        raise ConfigError(f"{name}={v!r} must be a string", field=name, value=v)
    elif ann.startswith("bool") and not isinstance(v, bool):
        raise ConfigError(f"{name}={v!r} must be True or False", field=name, value=v)


def _at_least(name, v, lo):
    if v < lo:
        raise ConfigError(f"{name}={v} must be >= {lo}", field=name, value=v, bound=lo)


def _between(name, v, lo, hi, why=None):
    """ConfigError unless lo <= v <= hi; ``why`` says where a derived bound comes from."""
    if not (lo <= v <= hi):
        raise ConfigError(f"{name}={v} must be in [{lo}, {hi}]" + (f": {why}" if why else ""),
                          field=name, value=v, bound=(lo, hi))
