"""The tileworld on the model API (dod_sim.models.tileworld) is the engine's tick: the
same state as dod_sim.World after every tick, chaos included, on any thread count: tags
too with deterministic keys, the same state digest with keys of their own."""

import numpy as np
import pytest

from dod_sim import Config, World
from dod_sim.errors import ConfigError
from dod_sim.kernels.tileworld.state import PI
from dod_sim.models import tileworld

pytestmark = pytest.mark.tileworld_model

# small, crowded and chaotic: kills and spawns, tampered tiles and tags, a repeating
# hot spot against a small mailbox (deferrals and retries), an epoch rotation
PARAMS = dict(side=128, tile_updates=8, mailbox=8, kill_rate=0.02, tamper_rate=0.2,
              tag_tamper_rate=0.05, hotspot_share=0.3, hotspot_ticks=3, hotspot_start=2,
              hotspot_every=7, hotspot_target=5, epoch_ticks=16)


def _same_state(m, w):
    res = m.resources["world"]
    a = w._arrays
    for name in tileworld.COLUMNS:
        assert np.array_equal(m.columns[name], a[name]), name
    for name in ("counters", "gauges", "records", "tags", "cost", "out_rec", "free_slots",
                 "free_meta", "arena_meta"):
        assert np.array_equal(getattr(res, name), a[name]), name
    assert res.pi[PI.TICK] == a["pi"][PI.TICK]
    cur = a["pi"][PI.POOL_CUR]
    assert res.pi[PI.POOL_CUR] == cur
    for r in np.flatnonzero(a["mb_count"]):  # every waiting record, byte for byte
        s0, k = a["mb_start"][r], a["mb_count"][r]
        assert np.array_equal(res.pools[cur, s0:s0 + k], a["pools"][cur, s0:s0 + k])


@pytest.mark.parametrize("threads", [1, 2])
def test_model_api_tileworld_is_worlds_tick(threads):
    m = tileworld.world(400, seed=9, threads=threads, deterministic_keys=True, **PARAMS)
    w = World(Config(agents=400, seed=9, threads=threads, deterministic_keys=True, **PARAMS))
    _same_state(m, w)  # the setup system is init_world: same agents and map
    for ticks in (1, 5, 30):
        m.run(ticks, stats=False)
        w.run(ticks)
        _same_state(m, w)
    c = w.counters()
    assert c["killed"] > 0 and c["tiles_rejected"] > 0 and c["tags_rejected"] > 0
    assert c["retries"] > 0
    assert w.census()["lost"] == 0


def test_model_api_tileworld_has_keys_of_its_own():
    m = tileworld.world(200, seed=9, threads=1, **PARAMS)
    w = World(Config(agents=200, seed=9, threads=1, **PARAMS))
    m.run(10, stats=False)
    w.run(10)
    assert not np.array_equal(m.resources["world"].keys, w._arrays["keys"])
    assert not np.array_equal(m.resources["world"].tags, w._arrays["tags"])
    assert np.array_equal(m.resources["world"].records, w._arrays["records"])
    assert np.array_equal(m.columns["energy"], w.columns["energy"])


def test_model_api_tileworld_statistic_and_errors():
    m = tileworld.world(200, seed=1, side=64, tile_updates=4)
    table = m.run(3)
    assert table["step"].tolist() == [1, 2, 3] and np.isfinite(table["energy_mean"]).all()
    with pytest.raises(ConfigError) as err:
        tileworld.world(200, side=100)  # not a multiple of the 16-cell tile
    assert err.value.field == "side"
    with pytest.raises(ConfigError) as err:
        tileworld.world(200, send_rate=1.5)
    assert err.value.field == "send_rate"
