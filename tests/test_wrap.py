"""Counters stored in int32 (a held message's first tick, an arena epoch) would wrap
after 2**31 ticks: a run that would pass that tick is refused before it starts."""

import pytest

from dod_sim import Config, ConfigError, World
from dod_sim.kernels.tileworld.indices import PI

LAST = 2**31 - 1


def test_a_run_past_the_last_tick_is_refused_naming_the_bound():
    w = World(Config(agents=50, side=32, tile_updates=2, seed=1, threads=1))
    w._arrays["pi"][PI.TICK] = LAST - 3  # test-only: a world that has run for years
    with pytest.raises(ConfigError) as e:
        w.run(10)
    assert e.value.field == "ticks" and e.value.bound == 3
    assert w.tick == LAST - 3  # nothing ran
