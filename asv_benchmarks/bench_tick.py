"""One tick of the tileworld (WORKLOAD.md's defaults, ``Config(agents=N, seed=0)``) by
world size and thread count: tick time, throughput of a short run, resident memory.
Threads "auto" leaves the count to the runtime, whose probe may run some phases on one
thread (``dod_sim.pacing``; up to its PROBE_MAX_AGENTS agents, every core above)."""

import gc

from . import THREADS, quick_mode, resolve_threads

AGENTS = [3_000, 30_000, 300_000, 1_000_000]
QUICK_MAX_AGENTS = 30_000  # quick mode skips the larger worlds
WARM_TICKS = 3             # ticks run in setup before anything is measured
RUN_AGENT_TICKS = 1_000_000  # budget of track_agent_ticks_per_s's run: 5..50 ticks

# asv runs each parameter combination of each benchmark in its own process and calls
# setup again before every timed sample; the world is built once per process and
# reused, so later samples time later ticks of the same world.
_WORLDS = {}


def _world(agents, threads):
    """(world, rss before building it, rss after building and warming it), cached."""
    key = (agents, threads)
    if key not in _WORLDS:
        _WORLDS.clear()
        from dod_sim import Config, World
        from dod_sim.report import rss_bytes

        n = None if threads == "auto" else resolve_threads(threads)
        # Compile or load every kernel first, so the memory measured below is the
        # world's own and no tick below pays a compile.
        probe = World(Config(agents=64, side=64, tile_updates=4, seed=1,
                             threads=n or resolve_threads("all")))
        probe.warmup()
        del probe
        gc.collect()
        before = rss_bytes()
        world = World(Config(agents=agents, threads=n, seed=0))
        for _ in range(WARM_TICKS):
            world.step()
        _WORLDS[key] = (world, before, rss_bytes())
    return _WORLDS[key]


class Tick:
    """A seeded world of ``agents`` agents on ``threads`` threads, warmed by a few ticks."""

    params = (AGENTS, THREADS + ["auto"])
    param_names = ["agents", "threads"]
    # Generous: a cold kernel cache compiles for about a minute on 2 cores, and a
    # 1,000,000-agent world takes ~6 s to build and warm and ~1 s a tick there.
    timeout = 900
    number = 1               # one tick per sample
    repeat = (10, 50, 10.0)  # 10 to 50 samples, stopping after ~10 s
    warmup_time = 0          # setup has already ticked the world WARM_TICKS times
    rounds = 2

    def setup(self, agents, threads):
        if quick_mode() and agents > QUICK_MAX_AGENTS:
            raise NotImplementedError(f"{agents} agents: skipped in quick mode")
        from dod_sim.pacing import PROBE_MAX_AGENTS

        if threads == "auto" and agents > PROBE_MAX_AGENTS:
            raise NotImplementedError(f"{agents} agents: auto is every core (the 'all' rows)")
        self.world, self.rss_before, self.rss_after = _world(agents, threads)

    def time_tick(self, agents, threads):
        """Wall time of one ``World.step()``: every phase of one tick."""
        self.world.step()

    def track_agent_ticks_per_s(self, agents, threads):
        """Agent-ticks per second of tick time over a short ``World.run`` (5 to 50 ticks),
        as ``Report.summary()["agent_ticks_per_s"]``."""
        ticks = min(50, max(5, RUN_AGENT_TICKS // agents))
        return self.world.run(ticks).summary()["agent_ticks_per_s"]

    track_agent_ticks_per_s.unit = "agent-ticks/s"

    def track_rss_mb(self, agents, threads):
        """Resident memory of the whole benchmark process after setup, in MiB (as
        ``Report.summary()["rss_mb"]``): interpreter, Numba, kernels and the world."""
        return self.rss_after / 2**20

    track_rss_mb.unit = "MB"

    def track_bytes_per_agent(self, agents, threads):
        """Resident bytes the world added (built and warmed, kernels already loaded) per
        agent. Includes its fixed part (~5.4 MB of tile map: ~1.8 KB/agent at 3,000
        agents, ~5 B/agent at 1,000,000); the arena's pages are touched lazily, so
        this is the footprint after WARM_TICKS ticks, not at the end of an epoch."""
        return (self.rss_after - self.rss_before) / agents

    track_bytes_per_agent.unit = "B/agent"
