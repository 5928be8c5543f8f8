"""The seed table's figures as asv tracks: the WORKLOAD.md seed scenario (3,000 agents
paced at 50 ms, thread count chosen by the runtime), as ``dod-sim bench`` measures it.

One paced run per benchmark process (1,200 ticks = 60 s; 200 in quick mode), shared by
every ``track_`` below through a module cache.
"""

from . import quick_mode

_RESULT = {}


def _seed():
    if "seed" not in _RESULT:
        from dod_sim.bench_tick import seed_run

        _RESULT["seed"] = seed_run(200 if quick_mode() else 1200)
    return _RESULT["seed"]


class SeedScenario:
    timeout = 600
    number = 1
    repeat = 1
    rounds = 1

    def setup(self):
        self.s = _seed()

    def track_tick_p99_ms(self):
        """Tick p99 in ms (goal: <= 3 ms; Tokio here: 8.5 ms)."""
        return self.s["tick_p99_ms"]

    track_tick_p99_ms.unit = "ms"

    def track_cpu_percent(self):
        """Process CPU time / wall time, 100 = one core (goal: <= 5 %; Tokio here: 13 %)."""
        return self.s["cpu_percent"]

    track_cpu_percent.unit = "%"

    def track_allocations_per_s(self):
        """Heap allocations per second in steady state: Numba NRT allocations plus the
        growth of Python's allocated blocks (goal: 0)."""
        return self.s["allocations_per_s"]

    track_allocations_per_s.unit = "allocations/s"

    def track_messages_lost(self):
        """Messages lost by the independent census (must be 0)."""
        return self.s["messages_lost"]

    track_messages_lost.unit = "messages"
