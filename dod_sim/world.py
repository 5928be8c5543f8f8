"""``World``: the tables of one simulation and the schedule of phases that ticks them.

The world owns every array (allocated once, here), hands them to the compiled phases as
one :class:`~dod_sim.kernels.tileworld.state.WorldState`, and only sequences calls: all per-agent
work happens in the kernels. A phase returns a status code; the world raises the
matching :mod:`dod_sim.errors` exception after the tick has finished, so the state is
always consistent when an error reaches the caller.
"""

from __future__ import annotations

import contextlib
import gc
from contextlib import suppress
import threading
import time
from collections.abc import Mapping
from concurrent.futures import Future
from types import MappingProxyType
from typing import Callable, NamedTuple

import numba
import numpy as np

from . import pacing, runtime, snapshot
from .arena import zeroed_pages
from .blocking import BlockingPool
from .config import Config, _dchunk, available_memory, memory_estimate
from .errors import ConfigError, PoolClosed, StaleHandle, UnknownAgent, from_status
from .kernels import arena as k_arena
from .kernels.tileworld import jobs as k_jobs
from .kernels import mailbox as k_mailbox
from .kernels.tileworld import phases, state
from .kernels import status as k_status
from .kernels.clock import BUSY_STRIDE
from .kernels.tileworld.state import COUNTER_NAMES, PF, PI, C, G
from .kernels.tileworld.tiles import ALGO_BLAKE2B, ALGO_HMAC_SHA256
from .report import Report, rss_bytes
from .tileworld.keys import MESSAGE, TILE, schedule, world_keys
from .tileworld.schema import AGENT_CHUNK, COLUMNS, TILEWORLD, sizes

__all__ = ["World", "Phase", "schedule_for", "AGENT_CHUNK"]

# The arena bytes a new world faults in (of the one epoch of slices it will write): all
# of them up to about 20,000 agents. Faulting takes 1.1-2.6 s a GiB on this VM, so a
# 1,000,000-agent world faulting its whole epoch (2.9 GB) took 4-7 s to build instead
# of 1.2; its ticks fault the rest in as they go (a few ms of a 190 ms tick).
ARENA_PREFAULT_BYTES = 64 << 20
# The smallest world that runs every phase: warm-ups compile and load the kernels with it.
TINY = dict(agents=64, side=64, tile_updates=4)


class Phase(NamedTuple):
    """One step of a tick: a compiled function of the world state and what it touches."""

    name: str
    fn: Callable
    reads: frozenset
    writes: frozenset


LAST_TICK = 2**31 - 1  # a world's last tick: held messages' ticks and epochs are int32


def _p(name, fn, reads, writes):
    return Phase(name, fn, frozenset(reads.split()), frozenset(writes.split()))


# The tick of WORKLOAD.md as data. Phases run in this order; each reads columns that
# the phases before it wrote, so the order is the whole synchronisation.
TICK = (
    _p("tiles", phases.tiles, "records",
       "stage stage_tags stage_ok stage_tampered records tags cost"),
    _p("act", phases.agents_act,
       "pool mb_start mb_count alive cost out_pending",
       "pool_ok x y vx vy energy tile target seq entered fresh mb_start mb_count out_rec "
       "out_to out_tick out_pending"),
    _p("arena", phases.arena_slice, "entered tile y records", "arena cache_off cache_epoch"),
    _p("deliver", phases.deliver_messages, "out_rec out_to out_tick alive",
       "pool mb_start mb_count out_pending"),
    _p("chaos", phases.chaos_kill_spawn, "alive",
       "alive x y vx vy energy tile target mb_count out_pending cache_off"),
    _p("end", phases.end_tick, "alive", "arena"),
)


def schedule_for(cfg: Config) -> tuple[Phase, ...]:
    """The phases a world of ``cfg`` runs each tick (chaos only when kill_rate > 0)."""
    return tuple(p for p in TICK if p.name != "chaos" or cfg.kill_rate > 0)


def sizes_of(cfg: Config, tick: int = 0) -> dict:
    """The sizes of :data:`~dod_sim.tileworld.schema.TILEWORLD` for a world of ``cfg``
    (``AGENT_CHUNK`` and ``_dchunk`` read here, so a test may change them)."""
    return sizes(cfg, AGENT_CHUNK, _dchunk(cfg.rows), runtime.max_threads() * BUSY_STRIDE,
                 tick)


def allocate(cfg: Config, keys: np.ndarray, schema=TILEWORLD) -> dict:
    """Every array of ``schema`` (the tileworld's, or a copy extended with columns) for a
    world of ``cfg``, filled, with the parameters in ``pi``/``pf``, and ``keys`` (uint8[2,
    32], :func:`~dod_sim.tileworld.keys.world_keys`) and their schedules. ``init_world``
    then spawns the agents and verifies the initial map."""
    arrays = schema.allocate(sizes_of(cfg), skip=("arena",))
    pi = arrays["pi"]
    pi[PI.SEED] = cfg.seed
    pi[PI.SIDE] = cfg.side
    pi[PI.TILES_PER_SIDE] = cfg.side // 16
    pi[PI.TILE_UPDATES] = cfg.tile_updates
    pi[PI.MAILBOX] = cfg.mailbox
    pi[PI.BUDGET] = cfg.inbox_budget
    pi[PI.CHUNK] = AGENT_CHUNK
    pi[PI.DCHUNK] = _dchunk(cfg.rows)
    pi[PI.EPOCH_TICKS] = cfg.epoch_ticks
    pi[PI.ALGO] = ALGO_BLAKE2B if cfg.tile_algo == "blake2b" else ALGO_HMAC_SHA256
    pi[PI.HOT_START] = cfg.hotspot_start
    pi[PI.HOT_TICKS] = cfg.hotspot_ticks if cfg.hotspot_share > 0 else 0
    pi[PI.HOT_TARGET] = cfg.hotspot_target
    pi[PI.HOT_EVERY] = cfg.hotspot_every
    pf = arrays["pf"]
    pf[PF.SPEED] = cfg.speed
    pf[PF.TURN_MAX] = cfg.turn_max
    pf[PF.SEND_RATE] = cfg.send_rate
    pf[PF.TAMPER_RATE] = cfg.tamper_rate
    pf[PF.TAG_TAMPER_RATE] = cfg.tag_tamper_rate
    pf[PF.KILL_RATE] = cfg.kill_rate
    pf[PF.ENERGY] = cfg.energy
    pf[PF.HOT_SHARE] = cfg.hotspot_share
    arrays["keys"][:] = keys
    for name in ("msg_ks", "tile_ks", "tile_hmac_ks"):
        schedule(name, keys, arrays[name])
    # one epoch's slices (memory_estimate's arena_resident) are written anyway and the
    # pages are reused after that: faulting them in now takes the faults out of the
    # first epoch's ticks (20-25 us of a 3,000-agent tick)
    try:
        arrays["arena"] = zeroed_pages(cfg.arena, min(
            memory_estimate(cfg, schema)["arena_resident"], ARENA_PREFAULT_BYTES))
    except (OSError, OverflowError) as e:  # the OS refused to map that much
        raise ConfigError(f"arena_bytes={cfg.arena} cannot be reserved on this machine: {e}",
                          field="arena_bytes", value=cfg.arena) from None
    # Mailboxes hold under one record per row on average (Config.pool), so the first
    # ``rows`` records of each pool are written every tick.
    for pool in arrays["pools"]:
        _make_resident(pool[:min(cfg.pool, cfg.rows)])
    for name, a in arrays.items():
        if name not in ("pools", "arena"):
            _make_resident(a)
    return {a.name: arrays[a.name] for a in schema.fields()}


def _make_resident(a: np.ndarray) -> None:
    """Write every page of the C-contiguous ``a`` (one byte of it, back to itself).

    np.zeros of a large array maps fresh pages lazily, so a tick that writes it first
    pays for its page faults: measured at 1,000,000 agents, delivery took 88 and 72 ms
    in the first two ticks against 36 later. The arena is left to fill as it is used.
    """
    if not a.flags.c_contiguous:  # reshape(-1) would write into a copy
        raise ValueError(f"_make_resident needs a C-contiguous array, got strides {a.strides}")
    flat = a.reshape(-1).view(np.uint8)
    flat[::4096] = flat[::4096].copy()
    flat[-1:] = flat[-1:].copy()


class _Telemetry:
    """The per-tick arrays of one run, allocated before its first tick.

    tick_ns : int64[n]; phase_ns : int64[n, phases]; counters : int64[n, len(C)];
    gauges : int64[n, len(G)]; busy : int64[n, threads] (each worker's cumulative busy
    cycles after the tick); steady : allocation counts at the start and end of steady
    state, which begins at tick ``steady_from`` = min(100, n // 5), at least 1: the
    first calls of a process warm Numba's dispatchers and Python's caches (measured:
    ~16 Python blocks a tick for the first ~20 ticks, then none).
    """

    def __init__(self, n, n_phases, threads):
        self.steady_from = max(1, min(100, n // 5))
        z = np.zeros
        self.tick_ns = z(n, np.int64)
        self.phase_ns = z((n, n_phases), np.int64)
        self.counters = z((n, len(C)), np.int64)
        self.gauges = z((n, len(G)), np.int64)
        self.busy = z((n, threads), np.int64)
        self.start_busy = z(threads, np.int64)
        self.steady = {}
        # The counts are stored into this array, not kept as Python ints: an int (or a
        # dict entry) made after the first count and alive at the second would itself
        # be counted as a heap block allocated in steady state.
        self._raw = z(6, np.int64)

    def begin_steady(self):
        raw = self._raw
        raw[0] = runtime.nrt_allocations()
        raw[1] = time.perf_counter_ns()
        raw[2] = runtime.heap_blocks()

    def end_steady(self):
        raw = self._raw
        raw[5] = runtime.heap_blocks()
        raw[4] = time.perf_counter_ns()
        raw[3] = runtime.nrt_allocations()
        self.steady.update(zip(("nrt0", "t0", "blocks0", "nrt1", "t1", "blocks1"),
                               raw.tolist()))


class World:
    """A tileworld simulation (WORKLOAD.md) of ``config.rows`` agent rows.

    >>> w = World(Config(agents=100))
    >>> report = w.run(10)
    >>> report.summary()["messages_lost"]
    0
    """

    #: The declared layout of the world's arrays (a subclass may extend it with columns:
    #: allocation, snapshots, restore checks, the digest and ``columns`` follow).
    schema = TILEWORLD

    def __init__(self, config: Config | None = None, *, key: bytes | None = None,
                 **overrides):
        """config : the world's parameters (``Config()`` by default), with ``overrides``
        (Config fields) applied; key : the master key of the world's tile and message
        keys, 1..64 bytes, or None for ``os.urandom`` (``Config.deterministic_keys``
        derives them from the seed instead; :mod:`dod_sim.tileworld.keys`)."""
        cfg = config if config is not None else Config()
        if overrides:
            cfg = cfg.replace(**overrides)
        keys = world_keys(cfg.seed, key, cfg.deterministic_keys)
        self.config = cfg
        need = memory_estimate(cfg, self.schema)
        have = available_memory()
        if need["total"] > have:
            raise ConfigError(
                f"a world of capacity={cfg.rows} needs about {need['total'] / 2**30:.2f} GiB "
                f"resident ({', '.join(f'{k} {v / 2**20:.0f} MiB' for k, v in need.items() if k != 'total')}) "
                f"but only {have / 2**30:.2f} GiB is available",
                field="capacity", value=cfg.rows, bound=have,
            )
        self._threads, self.threads_choice = pacing.choose_threads(cfg, type(self))
        self._phase_threads = dict(self.threads_choice.get("phase_threads", {}))
        #: The sizes the schema's shapes name ({"rows": capacity, "pool": records, ...}).
        self.sizes = sizes_of(cfg)
        self._arrays = allocate(cfg, keys, self.schema)
        self._state = state.make(self._arrays)
        self.schedule = schedule_for(cfg)
        # Load every phase's machine code now (from the cache, or compiled): a phase's
        # first call would otherwise pay 4-19 ms inside the first tick it runs.
        state_type = numba.typeof(self._state)
        for ph in self.schedule:
            ph.fn.compile((state_type,))
        with runtime.threads(self.threads):
            failed = phases.init_world(self._state, cfg.agents)
        assert failed == 0, "the initial map failed its own verification"
        self._columns = None
        self._pool = None
        self._pool_closed = False
        # A sequence count, odd while a tick runs: another thread copies state between
        # ticks without a lock by retrying when it changed under it (a seqlock).
        self._seq = 0

    @property
    def tile_key(self) -> bytes:
        """The 32-byte key of the tile tags (a secret: it signs the map)."""
        return bytes(self._arrays["keys"][TILE])

    @property
    def message_key(self) -> bytes:
        """The 32-byte key of the message tags (a secret)."""
        return bytes(self._arrays["keys"][MESSAGE])

    # ---- threads ---------------------------------------------------------------------

    @property
    def threads(self) -> int:
        """The most threads a phase of this world runs on. Setting it runs every phase on
        that many (``phase_threads`` is cleared)."""
        return self._threads

    @threads.setter
    def threads(self, n: int) -> None:
        self._threads = runtime.resolve_threads(n)
        self._phase_threads = {}

    @property
    def phase_threads(self) -> dict:
        """{phase name: threads} for the phases of ``schedule``. The runtime's probe
        (:mod:`dod_sim.pacing`) may run some phases on fewer threads than ``threads``;
        a phase left out of an assigned mapping runs on ``threads``."""
        return {p.name: self._phase_threads.get(p.name, self._threads) for p in self.schedule}

    @phase_threads.setter
    def phase_threads(self, plan: dict) -> None:
        if not isinstance(plan, Mapping):
            raise TypeError(f"phase_threads must be a mapping of phase name to threads, "
                            f"not {type(plan).__name__}")
        names = {p.name for p in self.schedule}
        for name, n in plan.items():
            if name not in names:
                raise ConfigError(f"phase_threads names {name!r}, which is not a phase of "
                                  f"this world ({', '.join(sorted(names))})",
                                  field="phase_threads", value=name)
            if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= n <= self._threads:
                raise ConfigError(f"phase_threads[{name!r}]={n!r} must be an integer in "
                                  f"[1, {self._threads}] (the world's threads)",
                                  field="phase_threads", value=n, bound=(1, self._threads))
        self._phase_threads = {k: int(v) for k, v in plan.items() if v != self._threads}

    def _plan(self) -> list:
        """Threads per phase of ``schedule``, in order."""
        return [self._phase_threads.get(p.name, self._threads) for p in self.schedule]

    # ---- reading the state -------------------------------------------------------------

    AGENT_COLUMNS = COLUMNS

    @property
    def columns(self) -> MappingProxyType:
        """Read-only numpy views (no copy) of the agent columns, each of length capacity:
        ``AGENT_COLUMNS`` and any column a subclass's ``schema`` adds.

        x, y, vx, vy, energy : float32; tile, target (-1 = none), cache_epoch : int32;
        alive : bool; cache_off (-1 = none), seq : int64; mb_count : int32 (messages
        waiting); out_pending : uint8 (1 while a message is held by its sender).
        ``World.schema.describe()`` lists every array with its meaning and constraints.
        """
        if self._columns is None:
            table = self.schema.table("agents")
            extra = tuple(c.name for c in table.columns if c.name not in TILEWORLD)
            self._columns = self.schema.views(self._arrays, "agents", COLUMNS + extra)
        return self._columns

    @property
    def tick(self) -> int:
        """Ticks run so far."""
        return int(self._arrays["pi"][PI.TICK])

    @property
    def alive_count(self) -> int:
        return int(self._arrays["pi"][PI.ALIVE])

    @property
    def cost_grid(self) -> np.ndarray:
        """uint8[side, side], read-only: the verified cost of every cell."""
        v = self._arrays["cost"].view()
        v.flags.writeable = False
        return v

    def tile_records(self) -> tuple[np.ndarray, np.ndarray]:
        """Read-only (records uint8[n_tiles, 1032], tags uint8[n_tiles, 32]) of the
        current verified map: ``tile_id || version || payload`` and its tag."""
        out = []
        for name in ("records", "tags"):
            v = self._arrays[name].view()
            v.flags.writeable = False
            out.append(v)
        return tuple(out)

    def counters(self) -> dict:
        """Cumulative counters (``deferred`` is the number held by senders now)."""
        c = self._arrays["counters"]
        return {name: int(c[i]) for i, name in enumerate(COUNTER_NAMES)}

    def census(self) -> dict:
        """Count every message record where it is, independently of the delivery
        counters, and compare with the number sent: ``lost`` must be 0.

        sent = read by recipients + in mailboxes + discarded with killed agents +
        held by senders + undeliverable.
        """
        phases.census(self._state)
        out = self._arrays["tmp"][:3].copy()
        c = self.counters()
        accounted = c["read"] + int(out[0]) + c["discarded"] + int(out[1]) + c["undeliverable"]
        return {
            "sent": c["sent"], "read": c["read"], "in_mailboxes": int(out[0]),
            "discarded": c["discarded"], "held": int(out[1]),
            "undeliverable": c["undeliverable"], "in_dead_mailboxes": int(out[2]),
            "lost": c["sent"] - accounted,
        }

    def mailbox(self, agent: int) -> np.ndarray:
        """A copy of ``agent``'s waiting message records, oldest first: uint8[k, 64]."""
        self._check_agent(agent, alive=False)
        a = self._arrays
        s0 = int(a["mb_start"][agent])
        k = int(a["mb_count"][agent])
        return a["pools"][a["pi"][PI.POOL_CUR], s0:s0 + k].copy()

    def map_cache(self, agent: int) -> bytes:
        """The 64-byte tile row ``agent`` sliced into the arena when it last entered a
        tile. Raises StaleHandle when that slice's epoch has been reclaimed."""
        self._check_agent(agent, alive=False)
        a = self._arrays
        off = int(a["cache_off"][agent])
        epoch = int(a["cache_epoch"][agent])
        cur = int(a["arena_meta"][k_arena.EPOCH])
        out = np.zeros(64, np.uint8)
        code = k_arena.read(a["arena"], a["arena_meta"], off, 64, epoch, out)
        if code != k_status.OK:
            raise StaleHandle(
                f"agent {agent}'s map cache handle (offset {off}, epoch {epoch}) is stale: "
                f"the arena is at epoch {cur}",
                field="cache_epoch", value=epoch, bound=cur)
        return out.tobytes()

    def arena_usage(self) -> dict:
        m = self._arrays["arena_meta"]
        return {"used": int(m[k_arena.USED]), "epoch": int(m[k_arena.EPOCH]),
                "high_water": int(m[k_arena.HIGH]), "allocated": int(m[k_arena.ALLOCATED]),
                "total": int(self._arrays["arena"].shape[0])}

    def state_digest(self) -> str:
        """A hex BLAKE2b of everything that decides the future of the world, from its
        schema: parameters, counters, every agent column, every waiting and held message,
        the arena's bytes of the current epoch and its epoch, and the tile map. Scratch,
        the keys and the tags (which only the keys decide) are left out: the same seed
        gives the same digest whatever the keys."""
        return self.schema.digest(self._arrays, self.schema.name.encode())

    # ---- snapshots -----------------------------------------------------------------------

    def snapshot(self, path, *, key: bytes | None = None) -> None:
        """Write the whole state (config, columns, mailboxes, arena and its epoch,
        counters, tick, the keys) to ``path`` atomically, mode 0600 (it holds the
        keys), ended by a MAC under ``key`` (1..64 bytes) when one is given; see
        :mod:`dod_sim.snapshot`. While a background run (:mod:`dod_sim.live`) ticks the
        world, the snapshot is taken at its next tick boundary, never of a tick in
        progress."""
        from .live import live_run_of

        run = live_run_of(self)
        if run is not None:
            run.snapshot(path, key=key)
        else:
            snapshot.save(self, path, key)

    @classmethod
    def restore(cls, path, *, threads: int | None = None, key: bytes | None = None) -> "World":
        """The world written by :meth:`snapshot`, with its keys; raises SnapshotError
        naming what is wrong with a truncated, corrupt, foreign or newer-version file,
        or one whose MAC does not verify under ``key`` (the key it was written with;
        None for a file written without one). ``threads`` overrides the saved config's
        thread count (results do not depend on it)."""
        def build(config: dict):
            cfg = snapshot.config_of(config)
            return cls(cfg if threads is None else cfg.replace(threads=threads))

        return snapshot.load(path, cls.SNAPSHOT_KIND, build, key)

    SNAPSHOT_KIND = "tileworld"

    def _snapshot_config(self) -> dict:
        return self.config.to_dict()

    # ---- the blocking pool ------------------------------------------------------------

    JOBS = ("reverify_tiles", "rebuild_cost")

    @property
    def blocking_pool(self) -> BlockingPool:
        """The world's :class:`~dod_sim.blocking.BlockingPool` (``config.blocking_threads``
        threads, ``config.blocking_queue`` jobs), started on first use."""
        if self._pool is None:
            if self._pool_closed:
                raise PoolClosed("the world's blocking pool is closed (World.close): it "
                                 "takes no more jobs", field="blocking_pool", value="closed")
            self._pool = BlockingPool(self.config.blocking_threads, self.config.blocking_queue)
        return self._pool

    def submit(self, job, *args, wait: bool = True, timeout: float | None = None) -> Future:
        """Run a CPU-heavy job on the blocking pool while ticks go on; returns a Future.

        job : a callable (``job(*args)``; release the GIL, e.g. nogil kernels, or it
            competes with the tick loop), or the name of a built-in job over a copy of
            the current map taken now, between ticks:
            ``"reverify_tiles"`` -> (failed, ok : bool[n_tiles]), every tile verified
            again; ``"rebuild_cost"`` -> uint8[side, side], the cost grid decoded anew.
        A full queue waits (``timeout`` seconds at most) or, with ``wait=False``, raises
        PoolFull at once.
        """
        if isinstance(job, str):
            if job not in self.JOBS:
                raise ConfigError(f"submit: unknown job {job!r}; built-in jobs: {self.JOBS}",
                                  field="job", value=job, bound=self.JOBS)
            fn, args = getattr(self, f"_job_{job}")(), ()
        elif callable(job):
            fn = job
        else:
            raise ConfigError(f"submit: job must be callable or one of {self.JOBS}, got "
                              f"{type(job).__name__}", field="job", value=job)
        return self.blocking_pool.submit(fn, *args, wait=wait, timeout=timeout)

    def _between_ticks_copy(self, *names) -> list:
        """Copies of the arrays ``names`` taken between two ticks, from any thread."""
        while True:
            seq = self._seq
            if seq % 2 == 0:
                out = [self._arrays[n].copy() for n in names]
                if self._seq == seq:
                    return out
            time.sleep(0.0002)

    def _job_reverify_tiles(self):
        a = self._arrays
        records, tags = self._between_ticks_copy("records", "tags")
        algo = int(a["pi"][PI.ALGO])
        ks_b, ks_h = a["tile_ks"], a["tile_hmac_ks"]

        def reverify():
            ok = np.zeros(records.shape[0], np.bool_)
            failed = k_jobs.reverify_tiles(algo, ks_b, ks_h, records, tags, ok)
            return failed, ok
        return reverify

    def _job_rebuild_cost(self):
        (records,) = self._between_ticks_copy("records")
        side = self.config.side

        def rebuild():
            cost = np.zeros((side, side), np.uint8)
            k_jobs.rebuild_cost(records, side // 16, cost)
            return cost
        return rebuild

    def close(self) -> None:
        """Finish queued blocking jobs and stop the pool's threads (ticking still works;
        a later ``submit`` raises PoolClosed instead of starting a pool nothing closes)."""
        self._pool_closed = True
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ---- changing the state between ticks ---------------------------------------------

    def set_state(self, **columns) -> None:
        """Set initial conditions before the first tick: any of x, y, vx, vy, energy,
        target, each an array of length capacity (values of dead rows are ignored).

        Positions must lie in [0, side), targets in [-1, n_tiles).
        """
        if self.tick != 0:
            raise ConfigError(f"set_state is for initial conditions; the world is at tick "
                              f"{self.tick}", field="tick", value=self.tick, bound=0)
        n = self.config.rows
        side = self.config.side
        bounds = {"x": (0, side), "y": (0, side), "vx": None, "vy": None, "energy": None,
                  "target": (-1, self.config.n_tiles)}
        new = {}
        for name, values in columns.items():
            if name not in bounds:
                raise ConfigError(f"set_state: unknown column {name!r}; settable: "
                                  f"{sorted(bounds)}", field=name)
            arr = np.asarray(values)
            if arr.shape != (n,):
                raise ConfigError(f"set_state: {name} must have shape ({n},), got {arr.shape}",
                                  field=name, value=arr.shape, bound=(n,))
            dtype = self._arrays[name].dtype
            if dtype.kind == "f":  # checked as stored: 1e300 is finite, float32(1e300) not
                with np.errstate(over="ignore", invalid="ignore"):
                    stored = arr.astype(dtype)
                if not np.all(np.isfinite(stored)):
                    raise ConfigError(f"set_state: {name} holds values that are not finite "
                                      f"as {dtype}", field=name)
            elif not np.all(np.isfinite(arr)):
                raise ConfigError(f"set_state: {name} holds non-finite values", field=name)
            b = bounds[name]
            if b is not None and arr.size and (arr.min() < b[0] or arr.max() >= b[1]):
                raise ConfigError(f"set_state: {name} must lie in [{b[0]}, {b[1]})",
                                  field=name, value=(arr.min(), arr.max()), bound=b)
            new[name] = arr
        a = self._arrays
        for name, arr in new.items():
            a[name][:] = arr.astype(a[name].dtype)
        if "x" in new or "y" in new:
            t = (a["y"].astype(np.int64) // 16) * (side // 16) + a["x"].astype(np.int64) // 16
            a["tile"][:] = t.astype(np.int32)

    def spawn(self, n: int) -> np.ndarray:
        """Spawn ``n`` agents into free slots; returns their rows (int64[n])."""
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise ConfigError(f"spawn: n={n!r} must be a non-negative integer", field="n", value=n)
        free = int(self._arrays["free_meta"][0])
        if n > free:
            raise UnknownAgent(f"spawn: n={n} exceeds the {free} free slots of capacity "
                               f"{self.config.rows}", field="n", value=n, bound=free)
        out = np.empty(n, np.int64)
        phases.spawn_n(self._state, n, out)
        return out

    def kill(self, ids) -> None:
        """Kill the agents ``ids``; an unknown or dead id raises UnknownAgent, killing none."""
        arr = np.atleast_1d(np.asarray(ids))
        if arr.size and not np.issubdtype(arr.dtype, np.integer):
            raise UnknownAgent(f"kill: ids must be integers, got {arr.dtype}", field="ids")
        arr = arr.astype(np.int64)
        if len(np.unique(arr)) != len(arr):
            raise UnknownAgent("kill: ids must be distinct", field="ids", value=arr.tolist())
        st = self._arrays["status"]
        code = phases.kill_ids(self._state, arr)
        if code != k_status.OK:
            bad, n = int(st[1]), int(st[2])
            st[:] = 0
            raise UnknownAgent(f"kill: agent id {bad} is not a live agent (rows 0..{n - 1})",
                               field="ids", value=bad, bound=n)

    def send(self, sender: int, recipient: int, kind: int | str, body) -> None:
        """Inject a message from ``sender`` to ``recipient`` through the same path as the
        agents' own: it is signed, held by the sender and delivered at the next tick's
        delivery phase (or deferred, if the mailbox is full).

        kind : 1 or "share" (body: a finite amount of energy, taken from the sender now,
            as an agent's own SHARE is) or 2 or "hint" (body: tile id)
        """
        kinds = {"share": k_mailbox.SHARE, "hint": k_mailbox.HINT}
        k = kinds.get(kind) if isinstance(kind, str) else kind
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or \
                k not in (k_mailbox.SHARE, k_mailbox.HINT):
            raise ConfigError(f"send: kind={kind!r} must be 1/'share' or 2/'hint'",
                              field="kind", value=kind, bound=(1, 2))
        self._check_agent(sender)
        self._check_agent(recipient, alive=False)
        if sender == recipient:
            raise UnknownAgent(f"send: agent {sender} cannot message itself",
                               field="recipient", value=recipient)
        a = self._arrays
        if a["out_pending"][sender]:
            raise ConfigError(f"send: agent {sender} still holds an undelivered message "
                              f"(backpressure); step the world first",
                              field="sender", value=sender)
        if k == k_mailbox.SHARE:
            amount = np.float32(np.nan)
            if isinstance(body, (int, float, np.integer, np.floating)) and \
                    not isinstance(body, bool):
                with np.errstate(over="ignore"), suppress(OverflowError):
                    amount = np.float32(body)
            if not np.isfinite(amount):
                raise ConfigError(f"send: a share's body={body!r} must be a finite number "
                                  f"(float32)", field="body", value=body)
            word = int(np.array([amount], np.float32).view(np.uint32)[0])
            a["energy"][sender] -= amount
        else:
            if isinstance(body, bool) or not isinstance(body, (int, np.integer)) or \
                    not 0 <= body < self.config.n_tiles:
                raise ConfigError(f"send: hint tile {body!r} must be an integer in "
                                  f"[0, {self.config.n_tiles})", field="body", value=body,
                                  bound=self.config.n_tiles)
            word = int(body)
        rec = a["out_rec"][sender]
        k_mailbox.compose(rec, k, sender, self.tick, int(a["seq"][sender]), word)
        k_mailbox.sign(a["msg_ks"], rec)
        a["out_to"][sender] = recipient
        a["out_tick"][sender] = self.tick
        a["out_pending"][sender] = 1
        a["seq"][sender] += 1
        a["counters"][C.SENT] += 1
        a["counters"][C.DEFERRED] += 1

    def _check_agent(self, agent, alive=True):
        n = self.config.rows
        if isinstance(agent, bool) or not isinstance(agent, (int, np.integer)) or not 0 <= agent < n:
            raise UnknownAgent(f"agent id {agent!r} is out of range [0, {n})",
                               field="agent", value=agent, bound=n)
        if alive and not self._arrays["alive"][agent]:
            raise UnknownAgent(f"agent {agent} is dead", field="agent", value=int(agent))

    # ---- ticking -----------------------------------------------------------------------

    def _raise_status(self, phase_name: str, code: int) -> None:
        st = self._arrays["status"]
        args = st[1:].tolist()
        st[:] = 0
        raise from_status(code, args, phase=phase_name, tick=self.tick - 1)

    def step(self) -> None:
        """Run one tick. Raises after the tick completes if a phase reported an error;
        a Ctrl-C during the tick is raised once it completes."""
        if self.tick >= LAST_TICK:
            raise ConfigError(f"tick {self.tick} is the last one: the world's int32 "
                              f"counters would wrap", field="ticks", value=1, bound=0)
        with runtime.deferred_interrupts(), runtime.threads(self.threads):
            failure = None
            cur = self.threads
            self._seq += 1
            for ph, k in zip(self.schedule, self._plan()):
                if k != cur:
                    numba.set_num_threads(k)
                    cur = k
                code = ph.fn(self._state)
                if code and failure is None:
                    failure = (ph.name, code)
            self._seq += 1
        if failure:
            self._raise_status(*failure)

    def run(self, ticks: int | None = None, *, progress: Callable | None = None,
            progress_every: int = 10, stop: threading.Event | None = None) -> Report:
        """Run ``ticks`` ticks (``config.ticks`` by default), paced at ``config.tick_ms``
        when it is > 0, and return their :class:`Report`.

        Telemetry is written into arrays allocated before the first tick, so the loop
        allocates nothing that lives. ``progress(done, total, tick_ns_so_far)`` is called
        between ticks every ``progress_every`` ticks (it may snapshot the world). When
        ``stop`` is set (a signal handler, another thread) the run ends after the tick in
        progress and the report covers the ticks done. A Ctrl-C ends it the same way,
        then raises KeyboardInterrupt (``last_report`` covers the ticks done).
        """
        n = self.config.ticks if ticks is None else ticks
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise ConfigError(f"ticks={n!r} must be a non-negative integer", field="ticks", value=n)
        if progress is not None and not callable(progress):
            raise ConfigError(f"progress={progress!r} must be callable", field="progress",
                              value=progress)
        if isinstance(progress_every, bool) or not isinstance(progress_every, (int, np.integer)) \
                or progress_every < 1:
            raise ConfigError(f"progress_every={progress_every!r} must be an integer >= 1",
                              field="progress_every", value=progress_every, bound=1)
        left = LAST_TICK - self.tick  # out_tick and cache_epoch are int32 in the layout
        if n > left:
            raise ConfigError(f"ticks={n} would pass tick {LAST_TICK}, where the world's "
                              f"int32 counters (a held message's tick, an arena epoch) wrap: "
                              f"{left} ticks are left", field="ticks", value=n, bound=left)
        sched = self.schedule
        # the per-tick telemetry is allocated before the first tick: refuse a run whose
        # arrays cannot fit rather than fail inside numpy
        row_bytes = 8 * (1 + len(sched) + len(C) + len(G) + self.threads)
        have = available_memory()
        if n * row_bytes > have:
            raise ConfigError(f"ticks={n} needs {n * row_bytes / 2**30:.1f} GiB of per-tick "
                              f"telemetry, more than the {have / 2**30:.1f} GiB available: "
                              f"run fewer ticks a call", field="ticks", value=n,
                              bound=have // row_bytes)
        tel = _Telemetry(n, len(sched), self.threads)
        start_counters = self._arrays["counters"].copy()
        period = int(self.config.tick_ms * 1e6)
        cpu0 = time.process_time_ns()
        wall0 = time.perf_counter_ns()
        # Python's cyclic GC would scan the heap every ~700 dispatcher calls; nothing in
        # the loop creates cycles, so it is paused for the run (the article's point).
        gc_was_enabled = gc.isenabled()
        gc.disable()
        with runtime.deferred_interrupts() as seen:  # a Ctrl-C: raised after the report
            try:
                done, failure = self._loop(n, period, wall0, tel, progress, progress_every,
                                           stop, seen)
            finally:
                if gc_was_enabled:
                    gc.enable()
            wall = time.perf_counter_ns() - wall0
            cpu = time.process_time_ns() - cpu0
            self.last_report = Report(
                config=self.config, threads=self.threads, tick_ns=tel.tick_ns[:done],
                phase_ns=tel.phase_ns[:done], phase_names=tuple(p.name for p in sched),
                counters=tel.counters[:done], start_counters=start_counters,
                gauges=tel.gauges[:done], busy_cycles=tel.busy[:done],
                start_busy=tel.start_busy, cycles_per_ns=runtime.cycles_per_ns(),
                census=self.census(), wall_ns=wall, cpu_ns=cpu, rss=rss_bytes(),
                period_ns=period, arena=self.arena_usage(), steady=tel.steady,
                provenance=runtime.provenance(self.config, self.threads),
                threads_choice=self.threads_choice, phase_threads=self.phase_threads,
            )
        if failure is not None:
            self._raise_status(*failure)
        return self.last_report

    def _loop(self, n, period, wall0, tel, progress, progress_every, stop, seen):
        """The tick loop of :meth:`run`; returns (ticks done, (phase, code) or None).

        The allocation figures are taken over steady state, from tick
        ``tel.steady_from`` to the end.
        """
        st = self._state
        fns = [p.fn for p in self.schedule]
        names = [p.name for p in self.schedule]
        plan = self._plan()
        set_threads = numba.set_num_threads
        cur = self.threads
        counters = self._arrays["counters"]
        gauges = self._arrays["gauges"]
        busy = self._arrays["busy"][::BUSY_STRIDE][:self.threads]
        tel.start_busy[:] = busy
        clock = time.perf_counter_ns
        n_ph = len(fns)
        failure = None
        done = 0
        with runtime.threads(self.threads):
            for i in range(n):
                if i == tel.steady_from:
                    tel.begin_steady()
                if period:
                    due = wall0 + i * period
                    now = clock()
                    if due > now:
                        time.sleep((due - now) / 1e9)
                if stop is not None and stop.is_set() or seen.pending:
                    break
                self._seq += 1
                t0 = clock()
                prev = t0
                for j in range(n_ph):
                    if plan[j] != cur:
                        cur = plan[j]
                        set_threads(cur)
                    code = fns[j](st)
                    t = clock()
                    tel.phase_ns[i, j] = t - prev
                    prev = t
                    if code and failure is None:
                        failure = (names[j], code)
                self._seq += 1
                tel.tick_ns[i] = prev - t0
                tel.counters[i] = counters
                tel.gauges[i] = gauges
                tel.busy[i] = busy
                done = i + 1
                if failure is not None:
                    break
                if progress is not None and (done % progress_every == 0 or done == n):
                    progress(done, n, tel.tick_ns[:done])
        if done > tel.steady_from:
            tel.end_steady()
        return done, failure

    def warmup(self) -> float:
        """Compile (or load from the cache) every kernel by ticking a tiny world once;
        returns the seconds it took."""
        t = time.perf_counter()
        World(Config(**TINY, ticks=2, seed=1, tile_algo=self.config.tile_algo,
                     threads=self.threads)).run(2)
        return time.perf_counter() - t
