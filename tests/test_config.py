"""Config validation: every bad value names its field and bound."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dod_sim import Config, ConfigError


@pytest.mark.parametrize("field, value", [
    ("agents", -1), ("agents", 1.5), ("agents", True), ("capacity", 1), ("side", 100),
    ("side", 8), ("tile_updates", 5000), ("tamper_rate", 1.5), ("send_rate", -0.1),
    ("kill_rate", float("nan")), ("tile_algo", "md5"), ("mailbox", 0), ("inbox_budget", -1),
    ("epoch_ticks", 0), ("arena_bytes", -1), ("threads", 0), ("seed", -5), ("ticks", -1),
    ("tick_ms", -1.0), ("pool_records", 0), ("speed", 100.0),
])
def test_bad_values_name_the_field(field, value):
    with pytest.raises(ConfigError) as e:
        Config(**{field: value})
    assert e.value.field == field
    assert field in str(e.value)


@pytest.mark.parametrize("agents", [0, 1])
def test_too_few_agents_names_agents_not_the_derived_capacity(agents):
    with pytest.raises(ConfigError) as e:
        Config(agents=agents)
    assert e.value.field == "agents" and "capacity=" not in str(e.value)
    assert str(e.value) == (f"agents={agents} must be in [2, 2147483647]: capacity defaults "
                            f"to agents")
    assert Config(agents=agents, capacity=2).rows == 2  # an empty table is fine


def test_cli_names_the_flag_the_person_set():
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "dod_sim.cli", "run", "--agents", "0"],
                         capture_output=True, text=True)
    assert out.returncode == 2
    assert "agents=0" in out.stderr and "capacity=" not in out.stderr
    assert "Traceback" not in out.stderr


def test_agents_above_capacity():
    with pytest.raises(ConfigError) as e:
        Config(agents=10, capacity=5)
    assert e.value.field == "agents" and e.value.bound == 5


def test_default_tile_updates_above_a_small_maps_tiles_names_side():
    with pytest.raises(ConfigError) as e:
        Config(side=64)
    assert e.value.field == "tile_updates" and e.value.bound == (0, 16)
    assert "side=64 makes 16 tiles of 16^2 cells" in str(e.value)
    assert Config(side=64, tile_updates=16).n_tiles == 16


def test_defaults_are_the_workload():
    c = Config()
    assert (c.agents, c.rows, c.side, c.tile_updates, c.mailbox, c.inbox_budget) == (3000, 3000, 1024, 64, 1024, 16)
    assert (c.send_rate, c.tamper_rate, c.epoch_ticks, c.ticks, c.kill_rate) == (0.5, 0.01, 600, 600, 0.0)
    assert c.n_tiles == 4096


@given(st.dictionaries(st.sampled_from(["agents", "mailbox", "send_rate", "side", "epoch_ticks"]),
                       st.one_of(st.integers(-10, 5000), st.floats(allow_nan=True), st.text(max_size=3))))
def test_random_configs_validate_or_raise_config_error(kw):
    try:
        Config(**kw)
    except ConfigError as e:
        # tile_updates (default 64) is bounded by the tiles that side makes
        assert e.field in kw or (e.field == "tile_updates" and "side" in kw)
        assert e.field in str(e)
