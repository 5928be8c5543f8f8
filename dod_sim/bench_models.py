"""``dod-sim bench models``: agent-steps/s of the reference models (``dod_sim.models``)
beside Mesa's own implementation of each, measured in the same run.

A step is a whole model step with its statistic collected, on both sides: Mesa's
``model.step()`` runs its DataCollector (Boltzmann, Schelling) or heading update
(boids) every step, so ours runs ``ModelWorld.run(steps)`` with its statistics.
Spaces grow with the agents at the density of Mesa's defaults (wealth: 1 agent a cell;
Schelling: 80 % of cells filled; boids: 100 boids per 100 x 100).

Every figure is the best of ``repeat`` timed runs after a warm-up (compilation is not
counted; :func:`compile_seconds` measures it). :func:`world_build` times building a
small world with the default thread count against ``threads=1``: what the thread probe
of :mod:`dod_sim.pacing` adds once its verdict is cached. Mesa runs only where it finishes in
reasonable time: at most ``MESA_SIZES`` agents, each size capped at ``mesa_budget_s``
seconds of stepping (at least one step), or only at the one size its example supports
(``MESA_NATIVE``).
"""

from __future__ import annotations

import math
import time

import numpy as np

from . import runtime

__all__ = ["models_benchmark", "format_models", "mesa_model", "mesa_stats", "mesa_available",
           "SIZES", "QUICK_SIZES", "MESA_SIZES", "MESA_NATIVE", "rows_for", "compile_seconds",
           "world_build", "BUILD_CASES", "format_world_build"]

SIZES = (1_000, 10_000, 100_000, 1_000_000)
QUICK_SIZES = (1_000, 10_000)
MESA_SIZES = (1_000, 10_000)
#: Models whose Mesa example runs at one size only: it is added to their rows, and Mesa
#: is measured there alone (Sugarscape: 200 traders on its 50 x 50 map; more fail with
#: ``max([])`` once a trader is hemmed in, see ``dod_sim.models.sugarscape``).
MESA_NATIVE = {"sugarscape": 200}
MESA_SOURCES = {
    "wealth": "mesa.examples.basic.boltzmann_wealth_model.model.BoltzmannWealth",
    "schelling": "mesa.examples.basic.schelling.model.Schelling",
    "boids": "mesa.examples.basic.boid_flockers.model.BoidFlockers",
    "game_of_life": "mesa.examples.basic.conways_game_of_life.model.ConwaysGameOfLife",
    "virus": "mesa.examples.basic.virus_on_network.model.VirusOnNetwork",
    "pd_grid": "mesa.examples.advanced.pd_grid.model.PdGrid",
    "civil_violence":
        "mesa.examples.advanced.epstein_civil_violence.model.EpsteinCivilViolence",
    "wolf_sheep": "mesa.examples.advanced.wolf_sheep.model.WolfSheep",
    "sugarscape": "mesa.examples.advanced.sugarscape_g1mt.model.SugarscapeG1mt",
}


def mesa_available() -> bool:
    try:
        import mesa  # noqa: F401
    except ImportError:
        return False
    return True


def _mesa_examples() -> None:
    """Make ``mesa.examples.basic.*`` importable. ``mesa/examples/__init__.py`` imports
    every example, and the network ones need networkx, which ``mesa`` does not require;
    without it the package is registered bare (its __init__ not run), which is all the
    three basic examples need."""
    import importlib
    import os
    import sys
    import types

    try:
        importlib.import_module("mesa.examples")
    except ImportError:
        import mesa

        pkg = types.ModuleType("mesa.examples")
        pkg.__path__ = [os.path.join(os.path.dirname(mesa.__file__), "examples")]
        sys.modules["mesa.examples"] = pkg


def mesa_model(name: str, agents: int, seed: int, **params):
    """Mesa's own example model ``name`` with ``agents`` agents (Schelling: its density
    on a grid of the same size as ``dod_sim.models.schelling.world`` would use) and the
    same parameters."""
    from .models import MODELS

    _mesa_examples()
    world_params = _space(name, agents, params)
    if name == "wealth":
        from mesa.examples.basic.boltzmann_wealth_model.model import BoltzmannWealth

        return BoltzmannWealth(n=agents, width=world_params["width"],
                               height=world_params["height"], seed=seed)
    if name == "schelling":
        from mesa.examples.basic.schelling.model import Schelling

        p = {**MODELS["schelling"].MODEL.params, **world_params}
        return Schelling(height=p["height"], width=p["width"], density=p["density"],
                         minority_pc=p["minority_pc"], homophily=p["homophily"],
                         radius=p["radius"], seed=seed)
    if name == "boids":
        from mesa.examples.basic.boid_flockers.model import BoidFlockers

        p = {**MODELS["boids"].MODEL.params, **world_params}
        return BoidFlockers(population_size=agents, width=p["width"], height=p["height"],
                            speed=p["speed"], vision=p["vision"], separation=p["separation"],
                            cohere=p["cohere"], separate=p["separate"], match=p["match"],
                            seed=seed)
    if name == "game_of_life":
        from mesa.examples.basic.conways_game_of_life.model import ConwaysGameOfLife

        return ConwaysGameOfLife(width=world_params["width"], height=world_params["height"],
                                 seed=seed)
    if name == "virus":
        from mesa.examples.basic.virus_on_network.model import VirusOnNetwork

        return VirusOnNetwork(num_nodes=agents, seed=seed)  # needs networkx
    if name == "pd_grid":
        from mesa.examples.advanced.pd_grid.model import PdGrid

        return PdGrid(width=world_params["width"], height=world_params["height"], seed=seed)
    if name == "civil_violence":
        from mesa.examples.advanced.epstein_civil_violence.model import EpsteinCivilViolence

        return EpsteinCivilViolence(width=world_params["width"],
                                    height=world_params["height"], seed=seed)
    if name == "wolf_sheep":
        from mesa.examples.advanced.wolf_sheep.model import WolfSheep
        from mesa.experimental.devs import ABMSimulator

        wolves = max(1, agents // 3)  # Mesa's 2:1, as dod_sim.models.wolf_sheep.world
        sim = ABMSimulator()  # a step runs the model's step and the grass's regrowth events
        model = WolfSheep(width=world_params["width"], height=world_params["height"],
                          initial_sheep=max(1, agents - wolves), initial_wolves=wolves,
                          seed=seed, simulator=sim)
        return _Stepped(model, lambda: sim.run_for(1))
    if name == "sugarscape":  # Mesa's map is 50 x 50: its model runs no other size
        from mesa.examples.advanced.sugarscape_g1mt.model import SugarscapeG1mt

        return SugarscapeG1mt(initial_population=agents, seed=seed)
    raise KeyError(name)


class _Stepped:
    """A Mesa model whose step is its simulator's (the timing loop calls ``step``)."""

    def __init__(self, model, step):
        self.model, self.step = model, step

    @property
    def agents(self):
        return self.model.agents


def mesa_stats(name: str, model) -> dict:
    """The same statistics as ``dod_sim.models.<name>.MODEL.stats``, read off a Mesa
    model."""
    agents = list(model.agents)
    if name == "wealth":
        return {"gini": float(model.compute_gini())}
    if name == "schelling":
        shares = []
        for a in agents:
            neighbours = list(a.cell.get_neighborhood(radius=a.radius).agents)
            same = sum(1 for b in neighbours if b.type == a.type)
            shares.append(same / len(neighbours) if neighbours else 0.0)
        return {"happy": sum(1 for a in agents if a.happy) / len(agents),
                "segregation": float(np.mean(shares))}
    if name == "boids":
        d = np.array([a.direction for a in agents], dtype=np.float64)
        d /= np.maximum(np.hypot(d[:, 0], d[:, 1]), 1e-300)[:, None]
        return {"alignment": float(np.hypot(*d.mean(axis=0)))}
    raise KeyError(name)


def _space(name, agents, params) -> dict:
    """width/height the dod_sim world of ``agents`` uses (explicit params win)."""
    from .models import (boids, civil_violence, game_of_life, pd_grid, schelling, wealth,
                         wolf_sheep)

    if "width" in params or "height" in params:
        return dict(params)
    if name == "pd_grid":
        w, h = pd_grid.grid_for(agents)
        return {**params, "width": w, "height": h}
    if name == "civil_violence":
        side = civil_violence.side_for(agents)
        return {**params, "width": side, "height": side}
    if name == "wolf_sheep":
        side = wolf_sheep.side_for(agents)
        return {**params, "width": side, "height": side}
    if name == "sugarscape":
        return dict(params)
    if name == "game_of_life":
        w, h = game_of_life.grid_for(agents)
        return {**params, "width": w, "height": h}
    if name == "virus":
        return dict(params)
    if name == "wealth":
        side = wealth.side_for(agents)
    elif name == "boids":
        side = boids.side_for(agents)
    else:
        density = params.get("density", schelling.MODEL.params["density"])
        side = max(1, int(round((agents / density) ** 0.5)))
        while side * side < agents:
            side += 1
    return {**params, "width": side, "height": side}


def _steps_for(agents: int, quick: bool) -> int:
    """Steps per timed run: about 2 M agent-steps, at least 3."""
    return max(3, min(200, (500_000 if quick else 2_000_000) // agents))


MESA_STEPS = 50  # Mesa's runs stop here; so do ours of a model whose population changes


def _ours(name: str, agents: int, quick: bool, repeat: int) -> tuple[float, int]:
    """(agent-steps/s, threads) of the model on the default thread count. A model whose
    population changes (births and deaths) counts the agents alive at each step (taken
    from an identical world stepped one step at a time, untimed), runs as many steps as
    Mesa's runs at most, so a population that dies out is not counted as working, and
    times every repeat on a new world of the same seed: the same steps, with the same
    agents, as the count."""
    from .models import MODELS

    world = MODELS[name].world(agents, seed=1)
    steps = _steps_for(agents, quick)
    dynamic = world.model.dynamic
    if dynamic:
        steps = min(steps, MESA_STEPS)
    world.run(2)  # warm: compiled or loaded, pages touched
    start = world.tick
    best = math.inf
    for k in range(repeat):
        if dynamic and k:
            world = MODELS[name].world(agents, seed=1)
            world.run(start)
        t = time.perf_counter()
        world.run(steps)
        best = min(best, time.perf_counter() - t)
    if not dynamic:
        return agents * steps / best, world.threads
    twin = MODELS[name].world(agents, seed=1)
    twin.run(start, stats=False)
    lived = 0
    for _ in range(steps):  # the timed steps (every repeat runs the same ones)
        twin.run(1, stats=False)
        lived += twin.live
    return lived / best, world.threads


def _mesa_live(name: str, model) -> int:
    """Mesa's agents that the model's row count counts (wolf_sheep's grass patches are
    agents in Mesa, a layer here)."""
    m = getattr(model, "model", model)
    if name == "wolf_sheep":
        from mesa.examples.advanced.wolf_sheep.agents import Sheep, Wolf

        return len(m.agents_by_type.get(Sheep, ())) + len(m.agents_by_type.get(Wolf, ()))
    return len(m.agents)


def _mesa(name: str, agents: int, budget_s: float) -> float | None:
    """Mesa's agent-steps/s: the agents alive at each step, over the run's time; None
    when Mesa's model cannot be built or fails before a whole timed step."""
    try:
        model = mesa_model(name, agents, seed=1)
    except ImportError:  # the network examples need networkx, which Mesa does not require
        return None
    steps, lived, elapsed = 0, 0, 0.0
    try:
        model.step()  # warm
        while True:
            t = time.perf_counter()
            model.step()
            elapsed += time.perf_counter() - t
            steps += 1
            lived += _mesa_live(name, model)  # untimed
            if elapsed >= budget_s or steps >= MESA_STEPS:
                break
    except Exception:  # noqa: BLE001 - Mesa's own model failing (Sugarscape: max([]))
        pass  # timed up to its last whole step
    return lived / elapsed if steps else None


def compile_seconds() -> dict:
    """Seconds to build each model's first small world and run 2 steps in this process
    (the reference models and the tileworld): a cold compile on an empty cache, a cache
    load otherwise."""
    from .models import MODELS
    from .precompile import compile_unit

    return {name: compile_unit(f"model:{name}")[1] for name in (*MODELS, "tileworld")}


TILEWORLD_SIZES = (3_000, 30_000)


def tileworld_vs_world(agents: int, quick: bool, repeat: int) -> dict:
    """agent-ticks/s of WORKLOAD.md's tick through the model API
    (``dod_sim.models.tileworld``) and through ``dod_sim.World``, same seed, every core,
    best of ``repeat`` timed runs each, alternating."""
    from .config import Config
    from .models import tileworld
    from .world import World

    ticks = _steps_for(agents, quick)
    threads = runtime.default_threads()
    model = tileworld.world(agents, seed=1, threads=threads)
    world = World(Config(agents=agents, seed=1, threads=threads))
    model.run(2, stats=False)  # warm: compiled or loaded, pages touched
    world.run(2)
    best = {"model": math.inf, "world": math.inf}
    for _ in range(repeat):
        t = time.perf_counter()
        model.run(ticks, stats=False)
        best["model"] = min(best["model"], time.perf_counter() - t)
        t = time.perf_counter()
        world.run(ticks)
        best["world"] = min(best["world"], time.perf_counter() - t)
    return {"threads": threads, "ticks": ticks,
            "model_api_agent_ticks_per_s": agents * ticks / best["model"],
            "world_agent_ticks_per_s": agents * ticks / best["world"]}


# (name, agents, params): the small worlds a sweep builds by the thousand; "World" is
# the tileworld's dod_sim.World(Config(agents=...)), the others dod_sim.models.<name>.world
BUILD_CASES = (("schelling", 8_000, {"width": 100, "height": 100}),
               ("wealth", 10_000, {}),
               ("boids", 10_000, {}),
               ("World", 3_000, None))


def _builder(name, agents, params):
    """build(threads, seed) -> a new world of the case."""
    if name == "World":
        from .config import Config
        from .world import World

        return lambda threads, seed: World(Config(agents=agents, seed=seed, threads=threads))
    from .models import MODELS

    make = MODELS[name].world
    return lambda threads, seed: make(agents, seed=seed, threads=threads, **params)


def world_build(quick: bool = False, repeat: int | None = None, cases=BUILD_CASES) -> dict:
    """Milliseconds to build each world of ``cases`` with the default thread count
    (``threads=None``: the probe of :mod:`dod_sim.pacing`, or its cached verdict)
    and with ``threads=1``: the median of ``repeat`` builds of each (quick 9, else 25),
    alternating, a new seed each build (a World memoises its probe per config in a
    process; the verdict cache does not look at the seed), after one build of each
    that loads the kernels and, where the cache holds no verdict yet, runs the probe
    (``first_default_ms``).

    Returns ``{"<name> <agents>": {"name", "agents", "default_ms", "threads1_ms",
    "diff_ms", "first_default_ms", "threads", "how", "builds"}}``; ``how`` is the
    default world's ``threads_choice["how"]`` (it ends with "(cached verdict)" when
    the probe's verdict was read back)."""
    import gc
    import itertools

    repeat = repeat if repeat is not None else (9 if quick else 25)
    seeds = itertools.count(1_000)
    out = {}
    for name, agents, params in cases:
        build = _builder(name, agents, params)
        build(1, next(seeds))  # load (or compile) every kernel, outside the timing
        t = time.perf_counter()
        first = build(None, next(seeds))
        first_ms = (time.perf_counter() - t) * 1e3
        del first
        times = {None: [], 1: []}
        for _ in range(repeat):
            for threads in times:
                seed = next(seeds)
                gc.collect()
                t = time.perf_counter()
                w = build(threads, seed)
                times[threads].append((time.perf_counter() - t) * 1e3)
                if threads is None:
                    last = (w.threads, w.threads_choice.get("how", ""))
                del w
        default_ms, one_ms = (float(np.median(times[k])) for k in (None, 1))
        out[f"{name} {agents}"] = {
            "name": name, "agents": agents, "default_ms": default_ms, "threads1_ms": one_ms,
            "diff_ms": default_ms - one_ms, "first_default_ms": first_ms,
            "threads": last[0], "how": last[1], "builds": repeat}
    return out


def rows_for(name: str, sizes) -> list[tuple[int, bool]]:
    """(agents, whether Mesa runs there) of model ``name``'s rows, ascending: ``sizes``,
    and its ``MESA_NATIVE`` size, where Mesa then runs alone."""
    native = MESA_NATIVE.get(name)
    return [(a, a == native if native else a in MESA_SIZES)
            for a in sorted({*sizes, native} - {None})]


def models_benchmark(quick: bool = False, sizes=None, *, mesa: bool = True,
                     mesa_budget_s: float | None = None, repeat: int | None = None,
                     progress=None) -> dict:
    """agent-steps/s of every reference model at ``sizes`` agents (default SIZES, quick:
    QUICK_SIZES) on every core, and Mesa's at the sizes in MESA_SIZES.

    Returns ``{"models": {name: {str(agents): {"agent_steps_per_s": float,
    "mesa_agent_steps_per_s": float (only where Mesa ran), "threads": int}}},
    "tileworld": {str(agents): tileworld_vs_world(...)}, "machine": {...},
    "compile_s": {name: s}, "world_build": world_build(quick), "settings": {...}}``;
    ``threads`` is the
    world's default (one thread for a world of one chunk, see ``ModelWorld``).
    ``progress(text)`` is called before each measurement.
    """
    from .models import MODELS

    sizes = tuple(sizes) if sizes is not None else (QUICK_SIZES if quick else SIZES)
    repeat = repeat if repeat is not None else (2 if quick else 3)
    budget = mesa_budget_s if mesa_budget_s is not None else (3.0 if quick else 10.0)
    run_mesa = mesa and mesa_available()
    compile_s = compile_seconds()
    result = {"models": {}, "compile_s": compile_s}
    for name in MODELS:
        rows = result["models"][name] = {}
        for agents, with_mesa in rows_for(name, sizes):
            if progress is not None:
                progress(f"{name} {agents:,}")
            rate, threads = _ours(name, agents, quick, repeat)
            row = {"agent_steps_per_s": rate, "threads": threads}
            if run_mesa and with_mesa:
                if progress is not None:
                    progress(f"{name} {agents:,} (Mesa)")
                if (rate := _mesa(name, agents, budget)) is not None:
                    row["mesa_agent_steps_per_s"] = rate
            rows[str(agents)] = row
    result["tileworld"] = {}
    for agents in TILEWORLD_SIZES[:1] if quick else TILEWORLD_SIZES:
        if progress is not None:
            progress(f"tileworld {agents:,} (model API and World)")
        result["tileworld"][str(agents)] = tileworld_vs_world(agents, quick, repeat)
    if progress is not None:
        progress("world build (default threads against threads=1)")
    result["world_build"] = world_build(quick)
    import numba

    info = runtime.info()
    mesa_version = None
    if run_mesa:
        import mesa as _mesa_pkg

        mesa_version = _mesa_pkg.__version__
    result["machine"] = {**info, "threads": numba.get_num_threads(), "mesa": mesa_version,
                         "numba": numba.__version__}
    result["settings"] = {"quick": quick, "sizes": list(sizes), "repeat": repeat,
                          "mesa_sizes": list(MESA_SIZES) if run_mesa else [],
                          "mesa_budget_s": budget, "mesa_sources": MESA_SOURCES,
                          "mesa_native": MESA_NATIVE if run_mesa else {},
                          "steps": {str(a): _steps_for(a, quick)
                                    for a in sorted({*sizes, *MESA_NATIVE.values()})}}
    return result


def _rate(v) -> str:
    if v is None:
        return "-"
    if v >= 1e6:
        return f"{v / 1e6:.2f} M"
    return f"{v / 1e3:.1f} k"


def format_models(result: dict) -> str:
    """A table: model, agents, ours, Mesa and the ratio (agent-steps/s)."""
    m = result["machine"]
    lines = [
        f"models: agent-steps/s (a step includes its statistic), up to {m['threads']} threads, "
        f"{m['model']} ({m['arch']}) [{' '.join(m['vector_flags'])}], numba {m['numba']}, "
        f"mesa {m['mesa'] or 'not installed'}",
        f"{'model':<12} {'agents':>10} {'threads':>7} {'dod_sim':>12} {'Mesa':>12} {'ratio':>9}",
    ]
    for name, rows in result["models"].items():
        for agents, row in rows.items():
            ours, theirs = row["agent_steps_per_s"], row.get("mesa_agent_steps_per_s")
            ratio = f"{ours / theirs:,.0f}x" if theirs else "-"
            lines.append(f"{name:<12} {int(agents):>10,} {row.get('threads', ''):>7} "
                         f"{_rate(ours):>12} {_rate(theirs):>12} {ratio:>9}")
    for agents, row in result.get("tileworld", {}).items():
        a, b = row["model_api_agent_ticks_per_s"], row["world_agent_ticks_per_s"]
        lines.append(f"tileworld    {int(agents):>10,} {row['threads']:>7} "
                     f"{_rate(a):>12} {'World ' + _rate(b):>12} {a / b:>8.2f}x"
                     "   (WORKLOAD.md's tick on the model API against dod_sim.World)")
    if result.get("compile_s"):
        lines.append("first world (compile or cache load): " + ", ".join(
            f"{k} {v:.1f} s" for k, v in result["compile_s"].items()))
    if result.get("world_build"):
        lines.append(format_world_build(result["world_build"], m))
    return "\n".join(lines)


def format_world_build(rows: dict, machine: dict) -> str:
    """A table of :func:`world_build`: default threads against threads=1, ms."""
    builds = next(iter(rows.values()))["builds"]
    lines = [
        f"world build: median of {builds} builds (ms), default threads against threads=1, "
        f"{machine['model']} ({machine['arch']}), {machine['cores']} cores",
        f"{'world':<10} {'agents':>10} {'threads':>7} {'default':>9} {'threads=1':>9} "
        f"{'diff':>8} {'first':>8}  how (default)",
    ]
    for row in rows.values():
        lines.append(f"{row['name']:<10} {row['agents']:>10,} {row['threads']:>7} "
                     f"{row['default_ms']:>9.2f} {row['threads1_ms']:>9.2f} "
                     f"{row['diff_ms']:>+8.2f} {row['first_default_ms']:>8.2f}  {row['how']}")
    return "\n".join(lines)
