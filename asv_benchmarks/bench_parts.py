"""Three phases on their own, at 30,000 and 300,000 agents on every core: the tiles
(the same 64 a tick at any size), delivery of the held messages into mailboxes, and the
arena pass (slices into the epoch arena)."""

from . import quick_mode

AGENTS = [30_000, 300_000]
_WORLDS = {}


def _world(agents):
    if agents not in _WORLDS:
        _WORLDS.clear()
        from dod_sim import Config, World

        world = World(Config(agents=agents, seed=0))
        world.run(3)
        _WORLDS[agents] = world
    return _WORLDS[agents]


class Phases:
    params = [AGENTS]
    param_names = ["agents"]
    timeout = 300
    number = 1
    repeat = (10, 40, 5.0)
    warmup_time = 0

    def setup(self, agents):
        if quick_mode() and agents > 30_000:
            raise NotImplementedError(f"{agents} agents: skipped in quick mode")
        self.world = _world(agents)
        self.world.step()
        self.phases = {p.name: p.fn for p in self.world.schedule}
        self.state = self.world._state
        # a fresh act pass fills the outboxes and tile entries the measured phase takes
        self.phases["act"](self.state)

    def time_deliver(self, agents):
        """Delivery: count, scatter, admit and place every held message (kernels.mailbox)."""
        self.phases["deliver"](self.state)

    def time_arena(self, agents):
        """The arena pass: a prefix sum over chunks and a copy per tile entry."""
        self.phases["arena"](self.state)

    def time_tiles(self, agents):
        """The tile phase: refresh, sign, tamper, verify and decode ``tile_updates`` tiles
        in one parallel region (kernels.tileworld.tiles.refresh_tiles)."""
        self.phases["tiles"](self.state)
