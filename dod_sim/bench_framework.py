"""``dod-sim bench framework``: what births, deaths and data collection cost, each as a
ratio against the same model without them, measured in the same run.

The model is a random walk of agents with a position and an energy on a torus. Its
static form (:data:`WALK`) moves every agent and pays energy. Its dynamic form
(:data:`TURNOVER`) does the same in the same per-row system, and that system also ends
a fraction ``turnover`` of the agents, chosen at random each tick, each giving birth to
a newcomer at a random place: the population stays near its start, and every tick
``turnover`` of the rows die and as many are born (through the sync point of
:mod:`dod_sim.kernels.population`).

* ``births``: a step of TURNOVER at 5 % over a step of WALK (goal <= 1.5 at
  1,000,000 agents); also TURNOVER at 0 %, what the live-row checks cost alone; NRT
  allocations per tick (a long run's less a short run's, over the extra ticks: 0 when
  the tick allocates nothing); and whether 1 and 2 threads end in the same digest.
* ``collect``: ``collect(steps, adata=("x", "y", "energy"), every=1)`` over
  ``run(steps)`` of WALK (goal: at most 1.2 at 100,000 agents, quick mode too), the
  cheapest step there is, each repeat's table dropped before the next, as a sweep's
  runs or a collection done in pieces do: the next collection reuses its memory; and
  ``ratio_new``, each table kept, as one long collection or a user who keeps every
  table, so that every sample lands on pages new to the process, which the OS faults
  in and zeroes (on a VM that costs as much as the copy again, or more); and (not in
  quick mode) the dropped form for wealth, Schelling and boids at 100,000.
* ``draw``: :func:`dod_sim.draw.plot` and rendering the figure (matplotlib's Agg) of
  1,000,000 boids and of 1,000 (goal: at most 1.5x); the same for wealth's grid.
  Skipped without matplotlib.

Figures are medians over alternating repeats after a warm-up (compilation not counted).
"""

from __future__ import annotations

import time

import numpy as np

from . import runtime
from .kernels._jit import kernel
from .kernels.rng import uniform
from .model import _SPARE, Column, Model, ModelWorld, Rows

__all__ = ["WALK", "TURNOVER", "framework_benchmark", "format_framework", "births", "collection",
           "drawing"]


@kernel
def _step(i, key, p, x, y, energy):
    nx = (x[i] + p.speed * (2.0 * uniform(key, 0) - 1.0)) % p.side
    ny = (y[i] + p.speed * (2.0 * uniform(key, 1) - 1.0)) % p.side
    return nx, ny, energy[i] - p.cost


@kernel
def _step_turnover(i, key, p, x, y, energy):
    nx, ny, e = _step(i, key, p, x, y, energy)
    dies = uniform(key, 2) < p.turnover
    # a death gives birth to its replacement: as many born as died, at a random place
    bx = p.side * uniform(key, 3) if dies else 0.0
    by = p.side * uniform(key, 4) if dies else 0.0
    return nx, ny, e, not dies, dies, bx, by, p.start


@kernel
def _place(i, key, p):
    return p.side * uniform(key, 0)


_PARAMS = {"side": 1000.0, "speed": 1.0, "cost": 0.01, "start": 10.0}
_COLUMNS = [Column("x", np.float64, _place), Column("y", np.float64, _place),
            Column("energy", np.float64, 10.0)]
WALK = Model("bench_walk", params=_PARAMS, columns=_COLUMNS, systems=[
    Rows("step", _step, reads=("x", "y", "energy"), writes=("x", "y", "energy"))])
TURNOVER = Model("bench_turnover", params=dict(_PARAMS, turnover=0.05), dynamic=True,
                 columns=_COLUMNS, systems=[
                     Rows("step", _step_turnover, reads=("x", "y", "energy"),
                          writes=("x", "y", "energy", "alive"),
                          spawn=("x", "y", "energy"))])


def _median_step(calls: dict, steps: int, repeat: int) -> dict:
    """{name: median seconds a step} of ``calls`` ({name: fn(steps)}), alternated."""
    times = {k: [] for k in calls}
    for fn in calls.values():
        fn(2)  # warm: compiled or loaded, pages touched
    for _ in range(repeat):
        for k, fn in calls.items():
            t = time.perf_counter()
            fn(steps)
            times[k].append((time.perf_counter() - t) / steps)
    return {k: float(np.median(v)) for k, v in times.items()}


def births(agents: int, steps: int, repeat: int, threads: int) -> dict:
    """The births-and-deaths figures at ``agents`` (module docstring)."""
    static = ModelWorld(WALK, agents, seed=1, threads=threads)
    dynamic = ModelWorld(TURNOVER, agents, seed=1, threads=threads, capacity=agents * 11 // 10)
    idle = ModelWorld(TURNOVER, agents, seed=1, threads=threads, capacity=agents * 11 // 10,
                      turnover=0.0)
    live0 = dynamic.live
    born0 = int(dynamic.resources["population"].count[1])
    med = _median_step({"static": lambda n: static.run(n, stats=False),
                        "turnover": lambda n: dynamic.run(n, stats=False),
                        "turnover_0": lambda n: idle.run(n, stats=False)}, steps, repeat)
    ticks = dynamic.tick
    born = int(dynamic.resources["population"].count[1]) - born0
    # A compiled call boxes its arguments (NRT allocations), and a run is cut into calls
    # of ~100 ms, several at a million agents: the ticks' own allocations are what the
    # run allocates beyond its calls' boxing (that of a one-tick call).
    dynamic.run(1, stats=False)
    boxing = dynamic.last_report.nrt_allocations
    dynamic.run(steps, stats=False)
    rep = dynamic.last_report
    per_tick = (rep.nrt_allocations - boxing * rep.calls) / steps
    one = ModelWorld(TURNOVER, agents, seed=3, threads=1, capacity=agents * 11 // 10)
    two = ModelWorld(TURNOVER, agents, seed=3, threads=2, capacity=agents * 11 // 10)
    one.run(5, stats=False)
    two.run(5, stats=False)
    return {
        "agents": agents, "threads": threads, "steps": steps, "repeat": repeat,
        "static_ms": med["static"] * 1e3, "turnover_ms": med["turnover"] * 1e3,
        "turnover_0_ms": med["turnover_0"] * 1e3,
        "ratio": med["turnover"] / med["static"], "ratio_0": med["turnover_0"] / med["static"],
        "born_per_tick": born / ticks, "live_start": live0, "live_end": dynamic.live,
        "nrt_allocations_per_tick": per_tick,
        "same_digest_1_and_2_threads": one.state_digest() == two.state_digest(),
    }


def collection(agents: int, steps: int, repeat: int, threads: int) -> dict:
    """The data-collection figures at ``agents`` (module docstring)."""
    plain = ModelWorld(WALK, agents, seed=1, threads=threads)
    collecting = ModelWorld(WALK, agents, seed=1, threads=threads)
    cols = ("x", "y", "energy")
    kept = []

    def on_new_memory(n):
        _SPARE.enabled = False  # no memory of a dropped table: what a first collection gets
        try:
            kept.append(collecting.collect(n, adata=cols, frame=False))
        finally:
            _SPARE.enabled = True

    def run(n):
        plain.run(n, stats=False)

    collecting.collect(steps, adata=cols, frame=False)  # warm: a dropped table's memory
    med = _median_step({"run": run, "collect": lambda n: collecting.collect(
        n, adata=cols, frame=False)}, steps, repeat)
    try:  # apart: faulting in new pages must not slow the figures above
        new = _median_step({"run": run, "collect_new": on_new_memory}, steps, repeat)
    finally:
        kept.clear()
    return {"agents": agents, "threads": threads, "steps": steps, "repeat": repeat,
            "run_ms": med["run"] * 1e3, "collect_ms": med["collect"] * 1e3,
            "ratio": med["collect"] / med["run"], "collect_new_ms": new["collect_new"] * 1e3,
            "ratio_new": new["collect_new"] / new["run"]}


def collection_in_models(agents: int, steps: int, repeat: int) -> dict:
    """{model: ratio} of collecting 3 columns every step to running, for the reference
    models with positions (their statistics computed in both)."""
    from .models import boids, schelling, wealth

    out = {}
    for name, module, cols in (("wealth", wealth, ("x", "y", "wealth")),
                               ("schelling", schelling, ("x", "y", "kind")),
                               ("boids", boids, ("x", "y", "hx"))):
        a, b = module.world(agents, seed=1), module.world(agents, seed=1)
        med = _median_step({"run": lambda n: a.run(n),
                            "collect": lambda n: b.collect(n, adata=cols, frame=False)},
                           steps, repeat)
        out[name] = {"run_ms": med["run"] * 1e3, "collect_ms": med["collect"] * 1e3,
                     "ratio": med["collect"] / med["run"]}
    return out


def drawing(big: int, repeat: int) -> dict:
    """{model: ms to draw 1,000 agents, ms to draw ``big``, ratio} (module docstring)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from .draw import plot
    from .models import boids, wealth

    def once(world):
        t = time.perf_counter()
        ax = plot(world)
        ax.figure.canvas.draw()
        plt.close(ax.figure)
        return time.perf_counter() - t

    out = {}
    for name, module in (("boids", boids), ("wealth", wealth)):
        small, large = module.world(1_000, seed=1), module.world(big, seed=1)
        once(small), once(large)  # warm: kernels loaded, fonts cached
        ts = {"small": [], "large": []}
        for _ in range(repeat):
            ts["small"].append(once(small))
            ts["large"].append(once(large))
        a, b = float(np.median(ts["small"])), float(np.median(ts["large"]))
        out[name] = {"agents": big, "small_ms": a * 1e3, "large_ms": b * 1e3, "ratio": b / a}
    return out


def framework_benchmark(quick: bool = False, progress=None) -> dict:
    """Both figures on every core (smaller and shorter when ``quick``)."""
    threads = runtime.default_threads()
    say = progress or (lambda text: None)
    say("births and deaths")
    b = births(100_000 if quick else 1_000_000, 10 if quick else 20, 3 if quick else 7,
               threads)
    say("data collection")
    c = collection(100_000, 10 if quick else 20, 5 if quick else 7, threads)  # the goal's size
    models = None
    if not quick:
        say("data collection in the reference models")
        models = collection_in_models(100_000, 10, 5)
    c["models"] = models
    d = None
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        pass
    else:
        say("drawing")
        d = drawing(100_000 if quick else 1_000_000, 3 if quick else 7)
    return {"births": b, "collect": c, "draw": d,
            "provenance": runtime.provenance(None, threads, seed=1)}


def format_framework(r: dict) -> str:
    b, c, prov = r["births"], r["collect"], r["provenance"]
    return "\n".join([
        f"framework: {prov['model']} ({prov['arch']}), {b['threads']} threads, numba "
        f"{prov['numba']}",
        f"births and deaths, {b['agents']:,} agents, {b['born_per_tick']:,.0f} born and "
        f"as many dead a tick:",
        f"  static {b['static_ms']:.2f} ms a step, with turnover {b['turnover_ms']:.2f} ms "
        f"({b['ratio']:.2f}x; goal <= 1.5), dynamic at 0 % {b['turnover_0_ms']:.2f} ms "
        f"({b['ratio_0']:.2f}x)",
        f"  NRT allocations a tick {b['nrt_allocations_per_tick']:g}; same digest on 1 and "
        f"2 threads: {b['same_digest_1_and_2_threads']}",
        f"data collection, {c['agents']:,} agents, 3 columns every step:",
        f"  run {c['run_ms']:.3f} ms a step, collect {c['collect_ms']:.3f} ms "
        f"({c['ratio']:.2f}x; goal <= 1.2), on new memory (every table kept) "
        f"{c['collect_new_ms']:.3f} ms ({c['ratio_new']:.2f}x)",
    ] + [f"  {m}: run {v['run_ms']:.2f} ms a step (statistics included), collect "
         f"{v['collect_ms']:.2f} ms ({v['ratio']:.2f}x)"
         for m, v in (c.get("models") or {}).items()] + ([f"drawing (plot and render), 1,000 agents against {d[m]['agents']:,}: {m} "
          f"{d[m]['small_ms']:.1f} / {d[m]['large_ms']:.1f} ms ({d[m]['ratio']:.2f}x; goal "
          f"<= 1.5)" for m in d] if r.get("draw") and (d := r["draw"]) else
         ["drawing: skipped (no matplotlib)"]))
