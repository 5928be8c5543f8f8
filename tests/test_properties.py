"""Hypothesis over whole configurations: any valid one runs and keeps every invariant,
any invalid one raises ConfigError naming its field, and nothing crashes."""

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dod_sim import Config, ConfigError, World
from dod_sim.kernels.tileworld.state import COUNTER_NAMES

rates = st.floats(0.0, 1.0, allow_nan=False)
valid = st.fixed_dictionaries({
    "agents": st.integers(2, 400),
    "side": st.sampled_from([16, 32, 64, 128]),
    "mailbox": st.integers(1, 64),
    "inbox_budget": st.integers(0, 8),
    "send_rate": rates,
    "kill_rate": st.floats(0.0, 0.2),
    "tamper_rate": rates,
    "tag_tamper_rate": st.floats(0.0, 0.3),
    "hotspot_share": rates,
    "hotspot_ticks": st.integers(0, 10),
    "hotspot_start": st.integers(0, 10),
    "hotspot_every": st.integers(0, 12),
    "epoch_ticks": st.integers(1, 30),
    "seed": st.integers(0, 2**63 - 1),
    "tile_algo": st.sampled_from(["blake2b", "hmac-sha256"]),
    "threads": st.sampled_from([None, 1, 2]),
})


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(params=valid, extra=st.integers(0, 50), ticks=st.integers(1, 25))
def test_any_valid_config_runs_and_keeps_every_invariant(params, extra, ticks):
    side = params["side"]
    cfg = Config(capacity=params["agents"] + extra, tile_updates=min(4, (side // 16) ** 2),
                 **params)
    w = World(cfg)
    r = w.run(ticks)
    c = [r.counters[:, COUNTER_NAMES.index(n)]
         for n in ("sent", "delivered", "deferred", "undeliverable")]
    assert np.array_equal(c[0], c[1] + c[2] + c[3])  # conservation, every tick
    census = w.census()
    assert census["lost"] == 0 and census["in_dead_mailboxes"] == 0
    cols = w.columns
    assert (cols["mb_count"] <= cfg.mailbox).all() and (cols["mb_count"] >= 0).all()
    alive = cols["alive"]
    assert w.alive_count == int(alive.sum()) == cfg.agents  # kills are respawned
    assert (cols["x"][alive] >= 0).all() and (cols["x"][alive] < side).all()
    assert (cols["y"][alive] >= 0).all() and (cols["y"][alive] < side).all()
    assert (cols["out_pending"][~alive] == 0).all()
    arena = w.arena_usage()
    assert 0 <= arena["used"] <= arena["total"]
    assert r.summary()["messages_lost"] == 0
    assert math.isfinite(r.summary()["tick_p99_ms"])


invalid = st.one_of(
    st.tuples(st.just("agents"), st.one_of(st.integers(max_value=-1), st.floats(), st.text())),
    st.tuples(st.just("side"), st.one_of(st.integers(-64, 15), st.integers(17, 31),
                                         st.integers(1 << 16, 1 << 20))),
    st.tuples(st.sampled_from(["send_rate", "kill_rate", "tamper_rate", "tag_tamper_rate",
                               "hotspot_share"]),
              st.one_of(st.floats(1.0001, 1e9), st.floats(-1e9, -1e-9),
                        st.just(float("nan")), st.just(True), st.just("0.5"))),
    st.tuples(st.just("mailbox"), st.one_of(st.integers(max_value=0), st.integers(min_value=(1 << 20) + 1))),
    st.tuples(st.just("threads"), st.one_of(st.integers(max_value=0), st.integers(min_value=1025))),
    st.tuples(st.just("tile_algo"), st.text().filter(lambda t: t not in ("blake2b", "hmac-sha256"))),
    st.tuples(st.just("epoch_ticks"), st.integers(max_value=0)),
    st.tuples(st.just("tick_ms"), st.one_of(st.floats(max_value=-1e-9), st.floats(3.7e6, 1e12))),
    st.tuples(st.just("hotspot_target"), st.integers(min_value=3000)),
    st.tuples(st.just("seed"), st.one_of(st.integers(max_value=-1), st.integers(min_value=2**63))),
    st.tuples(st.just("blocking_threads"), st.integers(max_value=0)),
    st.tuples(st.just("blocking_queue"), st.integers(max_value=0)),
)


@settings(max_examples=300, deadline=None)
@given(bad=invalid)
def test_any_invalid_config_raises_config_error_naming_the_field(bad):
    field, value = bad
    with pytest.raises(ConfigError) as e:
        Config(**{field: value})
    assert e.value.field == field
    assert field in str(e.value)
