"""What births, deaths and data collection cost (``dod_sim.bench_framework``'s model):
a step of the random walk without them, with 5 % of agents dying and as many born each
tick, and a step while collecting three agent columns; the ratios as ``track_``
benchmarks, each measured against its reference in the same process.

Quick mode uses 100,000 agents for births and deaths instead of 1,000,000."""

from . import quick_mode

STEPS = 10


class Framework:
    """One step of each variant; the ratios over the plain walk."""

    timeout = 600
    number = 1
    repeat = (5, 20, 10.0)
    warmup_time = 0

    def setup(self):
        from dod_sim.bench_framework import TURNOVER, WALK
        from dod_sim.model import ModelWorld

        agents = 100_000 if quick_mode() else 1_000_000
        self.static = ModelWorld(WALK, agents, seed=1)
        self.turnover = ModelWorld(TURNOVER, agents, seed=1, capacity=agents * 11 // 10)
        self.collecting = ModelWorld(WALK, 100_000, seed=1)
        self.plain = ModelWorld(WALK, 100_000, seed=1)
        for w in (self.static, self.turnover, self.collecting, self.plain):
            w.run(2, stats=False)

    def time_step_static(self):
        self.static.run(1, stats=False)

    def time_step_turnover(self):
        self.turnover.run(1, stats=False)

    def time_collect_3_columns_100000(self):
        self.collecting.collect(STEPS, adata=("x", "y", "energy"), frame=False)

    def time_run_100000(self):
        self.plain.run(STEPS, stats=False)

    def track_births_ratio(self):
        from dod_sim.bench_framework import births

        return births(self.static.agents, STEPS, 3, self.static.threads)["ratio"]

    track_births_ratio.unit = "x"

    def track_collect_ratio(self):
        from dod_sim.bench_framework import collection

        return collection(100_000, STEPS, 3, self.plain.threads)["ratio"]

    track_collect_ratio.unit = "x"
