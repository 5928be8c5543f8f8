"""``dod-sim bench roofline``: each phase of the tileworld's tick beside its floor on this
machine.

For each phase at 30,000, 300,000 and 1,000,000 agents (unpaced, every core), the
measured time (the median over a run's ticks, from the run's :class:`~dod_sim.report.Report`)
beside three floors, each the phase's work per tick at one of this machine's rates,
measured in the same run on as many threads as the phase runs on:

* **hash**: BLAKE2b compressions x the lane kernel's measured time per compression
  (``dod_sim.auth.mac``, impl "auto", parallel over rows; one compression per 48-byte
  message, nine per 1,032-byte tile record, each signed and verified once);
* **stream**: bytes read and written x the measured streaming bandwidth (a parallel copy
  of 256 MiB, counted as read + write);
* **random**: random cache-line accesses x the measured time per access (a parallel
  gather of independent lines from an array of the size the phase reads at random; a
  pointer chase gives the latency of a dependent access, shown but not used).

The floor is the largest of the three (a phase that overlaps them perfectly); the ratio
is measured / floor, 1.0 at the machine's limit. The work per tick is counted from the
tick's own counters (messages read and sent, tiles refreshed and entered, records
delivered and waiting) and from the layout (:data:`dod_sim.tileworld.schema.TILEWORLD`:
the bytes per row of every column a phase reads or writes, from ``dod_sim.world.TICK``),
as :func:`phase_work` states. It is an estimate of the least traffic, not a simulation
of the caches: a phase whose data stays in cache can beat its "stream" floor.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from . import runtime
from .bench import best_time
from .kernels._jit import kernel

__all__ = ["SIZES", "QUICK_SIZES", "machine_rates", "phase_work", "roofline_benchmark",
           "format_roofline"]

SIZES = (30_000, 300_000, 1_000_000)
QUICK_SIZES = (30_000, 300_000)
LINE = 64                 # bytes of a cache line
MESSAGE_SIGNED = 48       # a message's signed bytes: one BLAKE2b block
TILE_RECORD = 1032        # a tile record: ceil(1032 / 128) = 9 BLAKE2b blocks
TILE_BLOCKS = -(-TILE_RECORD // 128)
TILE_ROW = 64             # the arena slices one 64-byte row of a tile per entry
COST_CELLS = 16 * 16      # cells a refreshed tile decodes into the cost grid


# ---- the machine's rates -------------------------------------------------------------


@kernel(parallel=True)
def _copy(src, dst, chunk):
    for c in prange((src.shape[0] + chunk - 1) // chunk):
        for i in range(c * chunk, min(src.shape[0], (c + 1) * chunk)):
            dst[i] = src[i]


@kernel(parallel=True)
def _gather(a, idx, chunk, out):
    """out[c] = sum of a[idx[i]] over chunk c: independent random loads."""
    for c in prange((idx.shape[0] + chunk - 1) // chunk):
        s = np.uint64(0)
        for i in range(c * chunk, min(idx.shape[0], (c + 1) * chunk)):
            s += a[idx[i]]
        out[c] = s


@kernel
def _chase(nxt, steps):
    """Follow ``nxt`` ``steps`` times from 0: each load waits for the one before."""
    i = 0
    for _ in range(steps):
        i = nxt[i]
    return i


def stream_bandwidth(threads: int, nbytes: int = 256 * 2**20, repeat: int = 3) -> float:
    """Bytes/s of a parallel copy on ``threads`` threads (read + write counted)."""
    src = np.ones(nbytes // 8, np.uint64)
    dst = np.empty_like(src)
    with runtime.threads(threads):
        t = best_time(lambda: _copy(src, dst, 1 << 16), repeat)
    return 2 * src.nbytes / t


def random_access_ns(nbytes: int, threads: int, accesses: int = 1 << 21,
                     repeat: int = 3) -> float:
    """Seconds x 1e9 per independent random cache-line load from an array of ``nbytes``
    (at least one line), on ``threads`` threads together."""
    lines = max(1, nbytes // LINE)
    a = np.ones(lines * LINE // 8, np.uint64)
    idx = np.random.default_rng(0).integers(0, lines, accesses) * (LINE // 8)
    out = np.zeros(-(-accesses // 4096), np.uint64)
    with runtime.threads(threads):
        t = best_time(lambda: _gather(a, idx, 4096, out), repeat)
    return t / accesses * 1e9


def chase_latency_ns(nbytes: int = 256 * 2**20, steps: int = 1 << 20) -> float:
    """Nanoseconds per dependent load along a random cycle over ``nbytes`` (one line a
    node)."""
    n = max(2, nbytes // LINE)
    perm = np.random.default_rng(1).permutation(n)
    nxt = np.empty(n * (LINE // 8), np.int64)
    stride = LINE // 8
    nxt[perm * stride] = np.roll(perm, -1) * stride  # one cycle through every line
    t = best_time(lambda: _chase(nxt, steps), 2)
    return t / steps * 1e9


def compression_ns(threads: int, rows: int = 1 << 17) -> dict:
    """Nanoseconds per BLAKE2b compression of the lane kernel (``dod_sim.auth.mac``,
    parallel over rows) on ``threads`` threads, for 48-byte messages (one block) and
    1,032-byte tile records (nine)."""
    from . import auth

    key = bytes(range(32))
    rng = np.random.default_rng(2)
    msgs = rng.integers(0, 256, (rows, MESSAGE_SIGNED), dtype=np.uint8)
    tiles = rng.integers(0, 256, (max(threads, rows // 16), TILE_RECORD), dtype=np.uint8)
    with runtime.threads(threads):
        t_msg = best_time(lambda: auth.mac(msgs, key, digest_size=16), 3)
        t_tile = best_time(lambda: auth.mac(tiles, key, digest_size=32), 3)
    return {"message": t_msg / rows * 1e9,
            "tile": t_tile / (tiles.shape[0] * TILE_BLOCKS) * 1e9}


def machine_rates(threads: int, random_sizes, quick: bool = False) -> dict:
    """The rates the floors use, measured now on ``threads`` threads: ``stream_Bps``,
    ``compression_ns`` {message, tile}, ``random_ns`` {array bytes: ns per access} for
    each size in ``random_sizes``, and ``chase_ns`` (latency, for reference)."""
    repeat = 2 if quick else 3
    return {
        "threads": threads,
        "stream_Bps": stream_bandwidth(threads, repeat=repeat),
        "compression_ns": compression_ns(threads),
        "random_ns": {int(n): random_access_ns(int(n), threads, repeat=repeat)
                      for n in sorted(set(random_sizes))},
        "chase_ns": chase_latency_ns(),
    }


# ---- the work of each phase ----------------------------------------------------------


def _row_bytes(names) -> int:
    """Bytes per row of the per-row arrays among ``names`` (message records excluded:
    they are counted per message)."""
    from .tileworld.schema import TILEWORLD

    total = 0
    for name in names:
        if name in TILEWORLD and name not in ("out_rec", "pool", "pools"):
            a = TILEWORLD[name]
            if a.shape[:1] == ("rows",):
                total += np.dtype(a.dtype).itemsize * int(np.prod(a.shape[1:], dtype=np.int64))
    return total


def phase_work(rows: int, per_tick: dict, side: int) -> dict:
    """{phase: {"compressions": {kind: n}, "bytes": n, "random": {array bytes: n}}} of one
    tick of a world of ``rows`` rows, from ``per_tick`` (counter increments per tick:
    read, sent, tiles_refreshed, tiles_entered, delivered; ``waiting``, the records left
    in mailboxes after delivery).

    * tiles: each refreshed record is written, signed, verified and copied (5 x 1,032
      bytes), its tag written and decoded into 256 cost cells; 9 + 9 compressions.
    * act: every row's columns that act reads (once) and writes (once more), each
      message read (64 bytes) and sent (64); one compression each; one random lookup in
      the cost grid per row.
    * arena: its columns per row, and per tile entered a 64-byte row read at random from
      the tile records and written to the arena.
    * deliver: its columns per row (its scratch arrays included), every waiting and
      delivered record read and written (64 + 64), and per delivered record one random
      line of the senders' held records.
    * end: nothing that scales.
    """
    from .world import TICK

    phase = {p.name: p for p in TICK}
    n_tiles = (side // 16) ** 2

    def columns(name, extra=()):
        p = phase[name]
        return rows * (_row_bytes(p.reads | p.writes) + _row_bytes(p.writes) + _row_bytes(extra))

    t = per_tick
    deliver_scratch = ("d_arrivals", "d_arr_count", "d_arr_start", "d_by_recipient", "d_keys")
    return {
        "tiles": {"compressions": {"tile": 2 * TILE_BLOCKS * t["tiles_refreshed"]},
                  "bytes": t["tiles_refreshed"] * (5 * TILE_RECORD + 3 * 32 + COST_CELLS),
                  "random": {}},
        "act": {"compressions": {"message": t["read"] + t["sent"]},
                "bytes": columns("act") + LINE * (t["read"] + t["sent"]),
                "random": {side * side: rows}},
        "arena": {"compressions": {},
                  "bytes": columns("arena") + 2 * TILE_ROW * t["tiles_entered"],
                  "random": {n_tiles * TILE_RECORD: t["tiles_entered"]}},
        "deliver": {"compressions": {},
                    "bytes": columns("deliver", deliver_scratch)
                    + 2 * LINE * (t["waiting"] + t["delivered"]),
                    "random": {rows * LINE: t["delivered"]}},
        "end": {"compressions": {}, "bytes": 0, "random": {}},
    }


def floors(work: dict, rates: dict) -> dict:
    """{"hash", "stream", "random", "floor"} in ms of one phase's ``work``."""
    hash_ms = sum(n * rates["compression_ns"][kind]
                  for kind, n in work["compressions"].items()) / 1e6
    stream_ms = work["bytes"] / rates["stream_Bps"] * 1e3
    random_ms = sum(n * rates["random_ns"][size] for size, n in work["random"].items()) / 1e6
    return {"hash_ms": hash_ms, "stream_ms": stream_ms, "random_ms": random_ms,
            "floor_ms": max(hash_ms, stream_ms, random_ms)}


# ---- the benchmark -------------------------------------------------------------------


def _measure(agents: int, ticks: int, threads: int) -> dict:
    """Median ms per phase over ``ticks`` ticks of a fresh world, and the work per tick
    from its counters."""
    from .config import Config
    from .kernels.tileworld.indices import G
    from .world import World

    with World(Config(agents=agents, threads=threads)) as w:
        w.run(5)  # warm: kernels loaded, pages touched
        r = w.run(ticks)
        per_tick = {name: r.delta(name) / r.ticks for name in
                    ("read", "sent", "tiles_refreshed", "tiles_entered", "delivered")}
        per_tick["waiting"] = float(np.mean(r.gauges[:, G.MB_WAITING]))
        ms = {name: float(np.median(r.phase_ns[:, j])) / 1e6
              for j, name in enumerate(r.phase_names)}
        return {"agents": agents, "rows": w.config.rows, "side": w.config.side,
                "ticks": r.ticks, "tick_ms": float(np.median(r.tick_ns)) / 1e6,
                "phase_ms": ms, "per_tick": per_tick}


def roofline_benchmark(quick: bool = False, progress=None) -> dict:
    """Everything ``dod-sim bench roofline`` prints, as one dict (``--json``):
    ``{"machine": rates, "sizes": [{"agents", "tick_ms", "phases": {name: {"ms",
    "hash_ms", "stream_ms", "random_ms", "floor_ms", "ratio", "work"}}}], "cpu"}``."""
    say = progress or (lambda text: None)
    threads = runtime.max_threads()
    sizes = QUICK_SIZES if quick else SIZES
    ticks = 20 if quick else 60
    runs = []
    for n in sizes:
        say(f"{n:,} agents, {ticks} ticks")
        runs.append(_measure(n, ticks, threads))
    random_sizes = {size for run in runs for ph in phase_work(
        run["rows"], run["per_tick"], run["side"]).values() for size in ph["random"]}
    say("the machine's rates")
    rates = machine_rates(threads, random_sizes, quick)
    out = []
    for run in runs:
        work = phase_work(run["rows"], run["per_tick"], run["side"])
        phases = {}
        for name, ms in run["phase_ms"].items():
            if name not in work:
                continue
            f = floors(work[name], rates)
            phases[name] = dict(ms=ms, **f, ratio=ms / f["floor_ms"] if f["floor_ms"] else None,
                                work=work[name])
        out.append({"agents": run["agents"], "ticks": run["ticks"], "tick_ms": run["tick_ms"],
                    "per_tick": run["per_tick"], "phases": phases})
    return {"quick": quick, "cpu": runtime.cpu(), "machine": rates, "sizes": out}


def format_roofline(r: dict) -> str:
    """The tables of :func:`roofline_benchmark` as text."""
    m = r["machine"]
    cpu = r["cpu"]
    lines = [f"Roofline of the tick: {cpu.get('model', '?')} ({cpu.get('arch', '?')}), "
             f"{m['threads']} thread(s)",
             f"rates: stream {m['stream_Bps'] / 1e9:.1f} GB/s, BLAKE2b "
             f"{m['compression_ns']['message']:.1f} ns/compression (messages), "
             f"{m['compression_ns']['tile']:.1f} (tiles), random line "
             + ", ".join(f"{v:.1f} ns ({k / 2**20:.1f} MiB)" for k, v in m["random_ns"].items())
             + f"; dependent load {m['chase_ns']:.0f} ns", ""]
    for s in r["sizes"]:
        lines.append(f"{s['agents']:,} agents: tick {s['tick_ms']:.2f} ms (median of "
                     f"{s['ticks']})")
        lines.append(f"  {'phase':8} {'ms':>8} {'hash':>8} {'stream':>8} {'random':>8} "
                     f"{'floor':>8} {'ratio':>6}")
        for name, p in s["phases"].items():
            ratio = f"{p['ratio']:6.1f}" if p["ratio"] is not None else f"{'-':>6}"
            lines.append(f"  {name:8} {p['ms']:8.3f} {p['hash_ms']:8.3f} {p['stream_ms']:8.3f} "
                         f"{p['random_ms']:8.3f} {p['floor_ms']:8.3f} {ratio}")
        lines.append("")
    return "\n".join(lines)
