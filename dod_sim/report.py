"""``Report``: the telemetry of a run as numpy columns and the summary figures.

Per tick (one row each): wall time of the tick and of every phase, the world's
cumulative counters and its gauges (mailbox depth, arena bytes) after the tick, and each
worker thread's busy time. Figures follow WORKLOAD.md's list; ``summary()`` holds them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from .kernels.tileworld.state import COUNTER_NAMES, GAUGE_NAMES, G

__all__ = ["Report", "ModelReport", "tick_figures", "rss_bytes", "OVERRUN_SHARE"]

# A paced tick that uses more than this share of its period is an overrun (the
# article's "cap per-core load at 0.8").
OVERRUN_SHARE = 0.8


def rss_bytes() -> int:
    """Resident memory of this process now, in bytes (0 where unknown)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def tick_figures(tick_ns: np.ndarray, period_ns: int) -> dict:
    """The timing figures of a run's ticks (``tick_ns``: int64[ticks]), paced at
    ``period_ns`` (0: unpaced): the period, percentiles and maximum in ms, overruns."""
    ms = tick_ns / 1e6
    n = ms.shape[0]
    pct = (lambda q: float(np.percentile(ms, q))) if n else (lambda q: 0.0)
    period_ms = period_ns / 1e6
    return {"tick_ms": float(period_ms), "tick_p50_ms": pct(50), "tick_p99_ms": pct(99),
            "tick_p999_ms": pct(99.9), "tick_max_ms": float(ms.max()) if n else 0.0,
            "overruns": int((ms > OVERRUN_SHARE * period_ms).sum()) if period_ms else 0}


@dataclass
class Report:
    """What a run of ticks did.

    tick_ns : int64[ticks], wall time of each whole tick
    phase_ns : int64[ticks, phases], wall time of each phase (names in phase_names)
    counters : int64[ticks, len(C)], the world's cumulative counters after each tick
    start_counters : int64[len(C)], the counters before the first tick of this run
    gauges : int64[ticks, len(G)], mailbox depth and arena bytes after each tick
    busy_cycles : int64[ticks, threads], each worker's cumulative busy cycles in the
        parallel passes (act, arena, delivery) after each tick; start_busy before
    census : dict, the independent message census at the end (``lost`` must be 0)
    steady : dict, NRT allocations and Python heap blocks at the start and the end of
        steady state (from tick min(100, ticks // 5), at least 1), with clock times
    provenance : dict, versions, CPU, threading, seed, config digest
    threads_choice : dict, how the thread count was chosen (``dod_sim.pacing``)
    phase_threads : dict, {phase name: threads it ran on} (``World.phase_threads``)
    """

    config: object
    threads: int
    tick_ns: np.ndarray
    phase_ns: np.ndarray
    phase_names: tuple
    counters: np.ndarray
    start_counters: np.ndarray
    census: dict
    wall_ns: int
    cpu_ns: int
    rss: int
    period_ns: int = 0
    arena: dict = field(default_factory=dict)
    gauges: np.ndarray | None = None
    busy_cycles: np.ndarray | None = None
    start_busy: np.ndarray | None = None
    cycles_per_ns: float = 1.0
    steady: dict = field(default_factory=dict)
    provenance: dict = field(default_factory=dict)
    threads_choice: dict = field(default_factory=dict)
    phase_threads: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.gauges is None:
            self.gauges = np.zeros((self.ticks, len(G)), np.int64)
        if self.busy_cycles is None:
            self.busy_cycles = np.zeros((self.ticks, self.threads), np.int64)
        if self.start_busy is None:
            self.start_busy = np.zeros(self.busy_cycles.shape[1], np.int64)

    @property
    def ticks(self) -> int:
        return int(self.tick_ns.shape[0])

    def delta(self, name: str) -> int:
        """Change of counter ``name`` over this run (its current value for deferred)."""
        i = COUNTER_NAMES.index(name)
        end = self.counters[-1, i] if self.ticks else self.start_counters[i]
        if name == "deferred":
            return int(end)
        return int(end - self.start_counters[i])

    def per_tick(self, name: str) -> np.ndarray:
        """int64[ticks]: counter ``name`` accrued in each tick of the run."""
        i = COUNTER_NAMES.index(name)
        col = self.counters[:, i]
        return np.diff(col, prepend=self.start_counters[i])

    def busy_ms(self) -> np.ndarray:
        """float64[ticks, threads]: each worker's busy time in each tick, in ms."""
        cum = np.vstack([self.start_busy[None, :], self.busy_cycles])
        return np.diff(cum, axis=0) / self.cycles_per_ns / 1e6

    def load_imbalance(self) -> float:
        """max / mean - 1 of the workers' busy time over the run (0 = perfectly even)."""
        per_worker = self.busy_ms().sum(axis=0)
        mean = per_worker.mean() if per_worker.size else 0.0
        return float(per_worker.max() / mean - 1.0) if mean > 0 else 0.0

    def allocations_per_s(self) -> float:
        """Heap allocations per second in steady state (see ``steady``): Numba NRT
        allocations plus the growth of Python's allocated blocks. NaN if the run was
        too short to have a steady state or NRT statistics are unavailable."""
        st = self.steady
        if "t1" not in st or st["nrt0"] < 0 or st["t1"] <= st["t0"]:
            return float("nan")
        allocs = (st["nrt1"] - st["nrt0"]) + max(0, st["blocks1"] - st["blocks0"])
        return allocs / ((st["t1"] - st["t0"]) / 1e9)

    def mailbox_depth_mean(self) -> np.ndarray:
        """float64[ticks]: records waiting per live agent after each tick's delivery."""
        alive = self.per_tick("agent_ticks")
        return self.gauges[:, G.MB_WAITING] / np.maximum(alive, 1)

    def columns(self) -> dict:
        """Per-tick numpy columns for plotting, each of length ``ticks``: tick_ms, each
        phase's ms, each counter's per-tick increment (deferred: the level after the
        tick), the gauges (mb_waiting, mb_max, arena_used), mb_mean (records waiting per
        live agent) and busy_ms_<worker>."""
        out = {"tick": np.arange(self.ticks), "tick_ms": self.tick_ns / 1e6}
        for j, name in enumerate(self.phase_names):
            out[f"{name}_ms"] = self.phase_ns[:, j] / 1e6
        for name in COUNTER_NAMES:
            out[name] = self.counters[:, COUNTER_NAMES.index(name)] if name == "deferred" else self.per_tick(name)
        for j, name in enumerate(GAUGE_NAMES):
            out[name] = self.gauges[:, j]
        out["mb_mean"] = self.mailbox_depth_mean()
        for w, col in enumerate(self.busy_ms().T):
            out[f"busy_ms_{w}"] = col
        return out

    def to_pandas(self):
        """The per-tick columns as a pandas DataFrame (needs the ``pandas`` extra)."""
        try:
            import pandas as pd
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ImportError("Report.to_pandas needs pandas: pip install 'dod_sim[pandas]'") from e
        return pd.DataFrame(self.columns())

    def summary(self) -> dict:
        """The run's figures as a flat dict of numbers (keys are stable for scripts)."""
        busy_s = self.tick_ns.sum() / 1e9
        agent_ticks = self.delta("agent_ticks")
        t = tick_figures(self.tick_ns, self.period_ns)
        return {
            "agents": int(self.config.agents),
            "capacity": int(self.config.rows),
            "ticks": self.ticks,
            "threads": int(self.threads),
            **{k: t[k] for k in ("tick_ms", "tick_p50_ms", "tick_p99_ms", "tick_p999_ms",
                                 "tick_max_ms")},
            "agent_ticks_per_s": agent_ticks / busy_s if busy_s else 0.0,
            "messages_per_s": self.delta("delivered") / busy_s if busy_s else 0.0,
            "tile_bytes_verified_per_s": self.delta("tile_bytes_verified") / busy_s if busy_s else 0.0,
            "cpu_percent": 100.0 * self.cpu_ns / self.wall_ns if self.wall_ns else 0.0,
            "allocations_per_s": self.allocations_per_s(),
            "load_imbalance": self.load_imbalance(),
            "overruns": t["overruns"],
            "messages_sent": self.delta("sent"),
            "messages_delivered": self.delta("delivered"),
            "messages_deferred": self.delta("deferred"),
            "messages_undeliverable": self.delta("undeliverable"),
            "messages_retried": self.delta("retries"),
            "messages_discarded": self.delta("discarded"),
            "messages_lost": int(self.census["lost"]),
            "tiles_rejected": self.delta("tiles_rejected"),
            "tiles_tampered": self.delta("tiles_tampered"),
            "tags_rejected": self.delta("tags_rejected"),
            "tags_tampered": self.delta("tags_tampered"),
            "mailbox_depth_max": int(self.gauges[:, G.MB_MAX].max()) if self.ticks else 0,
            "mailbox_depth_mean": float(self.mailbox_depth_mean().mean()) if self.ticks else 0.0,
            "arena_high_water_bytes": int(self.arena.get("high_water", 0)),
            "rss_mb": self.rss / 2**20,
        }

    def __repr__(self) -> str:
        s = self.summary()
        return (f"Report({s['ticks']} ticks, {s['agents']} agents, {s['threads']} threads: "
                f"p50 {s['tick_p50_ms']:.3f} ms, p99 {s['tick_p99_ms']:.3f} ms, "
                f"{s['agent_ticks_per_s'] / 1e6:.2f} M agent-ticks/s, lost {s['messages_lost']})")


@dataclass
class ModelReport:
    """What a run of a model's world did (``ModelWorld.last_report``).

    tick_ns : int64[ticks], each tick's time with its statistics, taken in compiled code
    wall_ns, cpu_ns : the run's wall and process CPU time; period_ns : the pacing
    period (0: unpaced); nrt_allocations : Numba NRT allocations during the run (the
    boxing of each compiled call's arguments; the tick itself allocates nothing);
    calls : the compiled calls it made (batches of about 100 ms of ticks, so that a
    Ctrl-C takes effect soon);
    provenance : versions, CPU, threading, seed, a digest of the model's config;
    threads_choice : how the thread count was chosen.
    """

    model: str
    agents: int
    threads: int
    tick_ns: np.ndarray
    wall_ns: int
    cpu_ns: int
    period_ns: int = 0
    nrt_allocations: int = 0
    calls: int = 0
    provenance: dict = field(default_factory=dict)
    threads_choice: dict = field(default_factory=dict)

    @property
    def ticks(self) -> int:
        return int(self.tick_ns.shape[0])

    def summary(self) -> dict:
        """The run's figures as a flat dict of numbers (keys as ``Report.summary``'s
        where they mean the same)."""
        busy_s = self.tick_ns.sum() / 1e9
        return {
            "model": self.model,
            "agents": int(self.agents),
            "ticks": self.ticks,
            "threads": int(self.threads),
            **tick_figures(self.tick_ns, self.period_ns),
            "agent_ticks_per_s": self.agents * self.ticks / busy_s if busy_s else 0.0,
            "cpu_percent": 100.0 * self.cpu_ns / self.wall_ns if self.wall_ns else 0.0,
            "nrt_allocations": int(self.nrt_allocations), "calls": int(self.calls),
            "rss_mb": rss_bytes() / 2**20,
        }

    def __repr__(self) -> str:
        s = self.summary()
        return (f"ModelReport({s['model']}: {s['ticks']} ticks, {s['agents']} agents, "
                f"{s['threads']} threads: p50 {s['tick_p50_ms']:.3f} ms, p99 "
                f"{s['tick_p99_ms']:.3f} ms, {s['agent_ticks_per_s'] / 1e6:.2f} M "
                f"agent-ticks/s)")
