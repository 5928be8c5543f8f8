"""The reference models of ``dod_sim.models`` (Mesa's gallery) by size and thread
count: one step with its statistic, agent-steps/s of a short run, and the ratio to
Mesa's own implementation measured in the same process (1,000 agents);
building a small world with the default thread count (the thread probe's cached
verdict) against ``threads=1``.

Quick mode skips 100,000 agents and more, and the Mesa ratio."""

from . import THREADS, ThreadsInSetup, quick_mode

MODELS = ["wealth", "schelling", "boids", "game_of_life", "virus", "pd_grid",
          "civil_violence", "wolf_sheep", "sugarscape"]  # dod_sim.models.MODELS (not imported)
AGENTS = [1_000, 10_000, 100_000, 1_000_000]
QUICK_MAX_AGENTS = 10_000
RUN_AGENT_STEPS = 1_000_000  # a track_ run steps 3..200 times
MESA_AGENTS = 1_000
MESA_BUDGET_S = 5.0

_WORLDS = {}


def _world(name, agents):
    """A seeded world, warmed by two steps; one per process (asv runs each parameter
    combination in its own process), reused by later samples."""
    key = (name, agents)
    if key not in _WORLDS:
        _WORLDS.clear()
        from dod_sim.models import MODELS as M

        M[name].world(256, seed=1).run(2)  # compile or load before building the big one
        world = M[name].world(agents, seed=0)
        world.run(2)
        _WORLDS[key] = world
    return _WORLDS[key]


class ModelStep(ThreadsInSetup):
    """One step of a reference model with its statistic."""

    params = (MODELS, AGENTS, THREADS)
    param_names = ["model", "agents", "threads"]
    timeout = 900  # a cold cache compiles the three models in about a minute on 2 cores
    number = 1
    repeat = (5, 30, 10.0)
    warmup_time = 0

    def setup(self, name, agents, threads):
        if quick_mode() and agents > QUICK_MAX_AGENTS:
            raise NotImplementedError(f"{agents} agents: skipped in quick mode")
        self.world = _world(name, agents)
        self._enter_threads(threads)

    def time_step(self, name, agents, threads):
        """Wall time of ``ModelWorld.run(1)``: every system and the statistic."""
        self.world.run(1)

    def track_agent_steps_per_s(self, name, agents, threads):
        """Agent-steps/s over a run of 3 to 200 steps with statistics."""
        import time

        steps = min(200, max(3, RUN_AGENT_STEPS // agents))
        t = time.perf_counter()
        self.world.run(steps)
        return agents * steps / (time.perf_counter() - t)

    track_agent_steps_per_s.unit = "agent-steps/s"


class VersusMesa(ThreadsInSetup):
    """Our agent-steps/s over Mesa's, both measured here at 1,000 agents."""

    params = (MODELS, THREADS)
    param_names = ["model", "threads"]
    timeout = 900
    number = 1
    repeat = 1

    def setup(self, name, threads):
        if quick_mode():
            raise NotImplementedError("the Mesa ratio is skipped in quick mode")
        from dod_sim.bench_models import mesa_available

        if not mesa_available():
            raise NotImplementedError("mesa is not installed")
        self.world = _world(name, MESA_AGENTS)
        self._enter_threads(threads)

    def track_ratio_to_mesa(self, name, threads):
        """agent-steps/s of dod_sim / agent-steps/s of Mesa's example model, each
        counting the agents alive at each step (``dod_sim.bench_models``)."""
        from dod_sim.bench_models import _mesa

        return self.track_ours(name, threads) / _mesa(name, MESA_AGENTS, MESA_BUDGET_S)

    track_ratio_to_mesa.unit = "ratio"

    def track_ours(self, name, threads):
        from dod_sim.bench_models import _ours

        return _ours(name, MESA_AGENTS, False, 3)[0]

    track_ours.unit = "agent-steps/s"


class TileworldOnModelAPI:
    """WORKLOAD.md's tick through the model API (dod_sim.models.tileworld) against
    dod_sim.World, both measured here on every core."""

    params = [3_000, 30_000]
    param_names = ["agents"]
    timeout = 900  # a cold cache compiles every phase for the model's layout (~1 min)
    number = 1
    repeat = 1

    def setup(self, agents):
        if quick_mode() and agents > 3_000:
            raise NotImplementedError(f"{agents} agents: skipped in quick mode")
        from dod_sim.bench_models import tileworld_vs_world

        self.result = tileworld_vs_world(agents, quick=quick_mode(), repeat=2)

    def track_model_api_agent_ticks_per_s(self, agents):
        return self.result["model_api_agent_ticks_per_s"]

    track_model_api_agent_ticks_per_s.unit = "agent-ticks/s"

    def track_ratio_to_world(self, agents):
        """Model API over World: 1.0 means the API costs nothing."""
        r = self.result
        return r["model_api_agent_ticks_per_s"] / r["world_agent_ticks_per_s"]

    track_ratio_to_world.unit = "ratio"


BUILD_CASES = ["schelling 8000", "wealth 10000", "boids 10000", "World 3000"]


def _build_case(case):
    from dod_sim.bench_models import BUILD_CASES as CASES

    return next(c for c in CASES if f"{c[0]} {c[1]}" == case)


class WorldBuild:
    """Building a small world (Schelling 8,000 agents on 100 x 100, wealth and boids
    10,000, dod_sim.World of 3,000): ``threads`` "default" is threads=None, the thread
    probe of dod_sim.pacing or, once a world of the same kind and size bucket has run
    it, its cached verdict; the issue's target is at most 2 ms over threads=1."""

    params = (BUILD_CASES, [1, "default"])
    param_names = ["world", "threads"]
    timeout = 900  # a cold cache compiles the models and the tileworld
    number = 1
    repeat = (10, 50, 10.0)
    warmup_time = 0

    def setup(self, case, threads):
        import itertools

        from dod_sim.bench_models import _builder

        self.build = _builder(*_build_case(case))
        self.threads = None if threads == "default" else threads
        self.seeds = itertools.count(1_000)
        self.build(1, next(self.seeds))  # load every kernel
        self.build(None, next(self.seeds))  # the probe, unless its verdict is cached

    def time_build(self, case, threads):
        """Wall time of building the world (a new seed each sample)."""
        self.build(self.threads, next(self.seeds))


class WorldBuildOverhead:
    """Median build time with the default thread count minus with threads=1, ms,
    measured in one process, alternating (``dod_sim.bench_models.world_build``)."""

    params = BUILD_CASES
    param_names = ["world"]
    timeout = 900
    number = 1
    repeat = 1

    def setup(self, case):
        from dod_sim.bench_models import world_build

        self.row = next(iter(world_build(quick=quick_mode(),
                                         cases=[_build_case(case)]).values()))

    def track_default_over_threads1_ms(self, case):
        """default_ms - threads1_ms: what choosing the thread count adds to a build."""
        return self.row["diff_ms"]

    track_default_over_threads1_ms.unit = "ms"

    def track_default_ms(self, case):
        return self.row["default_ms"]

    track_default_ms.unit = "ms"
