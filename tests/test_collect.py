"""Data collection (ModelWorld.collect): the compiled loop's tables against a plain
Python loop over the same steps, for a model of fixed population and a dynamic one."""

import numpy as np
import pandas as pd
import pytest
from test_model_api import COMPILED
from test_population import LIFE

from dod_sim.errors import ConfigError
from dod_sim.model import ModelWorld, _Collector


def python_loop(world, steps, adata, every):
    """Model and agent tables built step by step from the world's public state."""
    model = {k: [] for k in ["step", *world.model.stats]}
    agents = {k: [] for k in ["step", "id", *adata]}

    def sample(force=False):
        for k, v in world.stats().items():
            model[k].append(v)
        model["step"].append(world.tick)
        if force or world.tick % every == 0:
            cols = world.columns
            live = cols["alive"] == 1 if world.model.dynamic else np.ones(world.rows, bool)
            ids = cols["id"][live] if world.model.dynamic else np.flatnonzero(live)
            agents["step"].append(np.full(ids.size, world.tick))
            agents["id"].append(ids)
            for k in adata:
                agents[k].append(cols[k][live])

    sample(force=True)
    for _ in range(steps):
        world.run(1, stats=False)
        sample()
    return ({k: np.array(v) for k, v in model.items()},
            {k: np.concatenate(v) for k, v in agents.items()})


@pytest.mark.parametrize("model, agents, adata, every", [
    (COMPILED, 3000, ("x", "tag"), 1),
    (COMPILED, 3000, ("x",), 3),
    (LIFE, 900, ("energy", "age"), 1),
    (LIFE, 900, ("energy",), 4),
])
def test_collected_tables_equal_a_python_loop(model, agents, adata, every):
    room = {"capacity": 4 * agents} if model.dynamic else {}
    a = ModelWorld(model, agents, seed=7, **room)
    b = ModelWorld(model, agents, seed=7, **room)
    a.run(3)
    b.run(3)  # collection starts from any tick
    got = a.collect(13, adata=adata, every=every, frame=False)
    want_model, want_agents = python_loop(b, 13, adata, every)
    assert list(got.model) == list(want_model)
    for k in want_model:
        np.testing.assert_array_equal(got.model[k], want_model[k], err_msg=k)
    assert list(got.agents) == list(want_agents)
    for k in want_agents:
        assert got.agents[k].dtype == want_agents[k].dtype, k
        np.testing.assert_array_equal(got.agents[k], want_agents[k], err_msg=k)
    assert a.state_digest() == b.state_digest()


def test_blocks_cut_by_the_memory_budget_give_the_same_tables(monkeypatch):
    whole = ModelWorld(LIFE, 700, seed=2, capacity=3000).collect(11, adata=("energy",),
                                                                  frame=False)
    monkeypatch.setattr(_Collector, "BUDGET", 3000 * 24)  # blocks of a few samples
    cut = ModelWorld(LIFE, 700, seed=2, capacity=3000).collect(11, adata=("energy",),
                                                                frame=False)
    for k in whole.agents:
        np.testing.assert_array_equal(whole.agents[k], cut.agents[k])


def test_data_frames_are_tidy():
    m, a = ModelWorld(LIFE, 500, seed=1, capacity=2000).collect(5, adata=("energy",))
    assert isinstance(m, pd.DataFrame) and isinstance(a, pd.DataFrame)
    assert list(m.columns) == ["step", "count", "mean_energy", "extinct"]
    assert m["step"].tolist() == list(range(6))
    assert list(a.columns) == ["step", "id", "energy"]
    assert (a.groupby("step").size().to_numpy() == m["count"].to_numpy()).all()
    assert not a.duplicated(["step", "id"]).any()


def test_until_ends_a_collection():
    w = ModelWorld(LIFE, 400, seed=2, hunt=0.6, arrive=0.0, birth=0.0)
    m, a = w.collect(200, adata=("energy",), until="extinct", frame=False)
    assert m["step"][-1] == w.tick < 200 and m["extinct"][-1] == 1
    assert a["step"].max() == w.tick


@pytest.mark.parametrize("kw, field", [
    (dict(adata=("nope",)), "adata"),
    (dict(adata=("energy",), every=0), "every"),
    (dict(adata=("energy",), every=1.5), "every"),
])
def test_bad_collection_arguments_are_refused(kw, field):
    with pytest.raises(ConfigError) as e:
        ModelWorld(LIFE, 100).collect(3, **kw)
    assert e.value.field == field


def _data(col):
    return col.__array_interface__["data"][0]


def test_a_dropped_table_lends_its_memory_to_the_next_and_a_held_one_never(monkeypatch):
    from dod_sim import model

    spare = model._Spare()
    monkeypatch.setattr(model, "_SPARE", spare)
    w = ModelWorld(COMPILED, 3000, seed=7)
    held = w.collect(13, adata=("x",), frame=False).agents
    before = {k: v.copy() for k, v in held.items()}
    before_x = before["x"]
    again = w.collect(13, adata=("x",), frame=False).agents  # `held` still held
    assert {_data(v) for v in held.values()}.isdisjoint(_data(v) for v in again.values())
    for k in held:
        np.testing.assert_array_equal(held[k], before[k], err_msg=k)
    view = held["x"][5:9]
    addresses = {_data(v) for v in held.values()}
    del held, before
    assert len(spare.free) == 2  # step and id back; x is still seen through `view`
    third = w.collect(13, adata=("x",), frame=False).agents
    assert {_data(third["step"]), _data(third["id"])} <= addresses
    assert _data(third["x"]) not in addresses
    np.testing.assert_array_equal(view, before_x[5:9])
    # the tables on recycled memory equal a fresh world's
    fresh = ModelWorld(COMPILED, 3000, seed=7)
    fresh.collect(13, adata=("x",), frame=False)
    fresh.collect(13, adata=("x",), frame=False)
    want = fresh.collect(13, adata=("x",), frame=False).agents
    for k in want:
        np.testing.assert_array_equal(third[k], want[k], err_msg=k)


def test_spare_memory_is_bounded(monkeypatch):
    from dod_sim import model

    spare = model._Spare()
    monkeypatch.setattr(spare, "KEEP", 3 * 8 * 20_000)
    cols = [spare.column(20_000, np.float64) for _ in range(5)]
    del cols
    assert len(spare.free) == 3 and spare.kept == 3 * 8 * 20_000
    small = spare.column(10, np.int64)  # under MIN: numpy's own
    assert small.base is None
    spare.enabled = False
    a = spare.column(20_000, np.float64)
    assert len(spare.free) == 3  # not taken
    del a
    assert len(spare.free) == 3  # not kept
    spare.enabled = True
    monkeypatch.setattr(spare, "BLOCKS", 2)
    b = spare.column(20_000, np.float64)
    del b
    assert len(spare.free) == 2
    spare.clear()
    assert spare.free == [] and spare.kept == 0
