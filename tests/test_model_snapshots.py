"""Snapshots of the model API's worlds: the same format, restore-time checks and
bit-identical continuation as the tileworld's, from each model's declared columns."""

import numpy as np
import pytest
from snapfile import _entry, _join, _split

from dod_sim import SnapshotError, World
from dod_sim.model import ModelWorld
from dod_sim.models import boids, schelling, wealth

MODELS = {"wealth": (wealth, 400), "schelling": (schelling, 300), "boids": (boids, 300)}


def _world(name, threads=1):
    module, agents = MODELS[name]
    return module.world(agents, seed=3, threads=threads)


@pytest.mark.parametrize("name", list(MODELS))
def test_restore_continues_bit_identically(tmp_path, name):
    module = MODELS[name][0]
    w = _world(name)
    w.run(5, stats=False)
    path = tmp_path / f"{name}.snap"
    w.snapshot(path)
    at5 = w.state_digest()
    w.run(7, stats=False)
    for threads in (1, 2):
        back = ModelWorld.restore(path, module.MODEL, threads=threads)
        assert back.tick == 5 and back.state_digest() == at5
        for c, v in back.columns.items():
            assert v.dtype == w.columns[c].dtype, c
        back.run(7, stats=False)
        assert back.state_digest() == w.state_digest()


def test_double_buffered_columns_keep_their_current_half(tmp_path):
    w = _world("boids")
    assert w.model.double  # boids reads and writes its positions in one system
    w.run(3, stats=False)  # an odd number of swaps
    path = tmp_path / "b.snap"
    w.snapshot(path)
    back = ModelWorld.restore(path, boids.MODEL)
    for c in w.model.double:
        assert np.array_equal(back.columns[c], w.columns[c])


@pytest.mark.parametrize("name, column, value, words", [
    ("wealth", "x", 10**6, "array x: element 0 = 1000000 is outside [0, "),
    ("wealth", "wealth", -1, "array wealth"),
    ("wealth", "target", 400, "a row index below 400 or -1"),
    ("schelling", "kind", 5, "not one of (0, 1)"),
    ("boids", "x", np.nan, "not finite"),
])
def test_declared_checks_refuse_crafted_values(tmp_path, name, column, value, words):
    w = _world(name)
    w.run(2, stats=False)
    path = tmp_path / "w.snap"
    w.snapshot(path)
    version, header, arrays = _split(path.read_bytes())
    e = _entry(header, column)
    a = np.frombuffer(arrays[column], np.dtype(e["dtype"])).reshape(e["shape"]).copy()
    a.reshape(-1)[0] = value
    path.write_bytes(_join(version, header, dict(arrays, **{column: a.tobytes()})))
    with pytest.raises(SnapshotError) as info:
        ModelWorld.restore(path, MODELS[name][0].MODEL)
    assert info.value.field == f"array {column}" and words in str(info.value)


def test_a_file_of_another_model_or_kind_is_refused(tmp_path):
    w = _world("wealth")
    path = tmp_path / "w.snap"
    w.snapshot(path)
    with pytest.raises(SnapshotError, match="holds model 'boltzmann_wealth', not 'schelling'"):
        ModelWorld.restore(path, schelling.MODEL)
    with pytest.raises(SnapshotError, match="holds a 'model' world, not a 'tileworld'") as info:
        World.restore(path)
    assert info.value.field == "kind"
    tile = tmp_path / "t.snap"
    World(agents=64, side=64, tile_updates=4).snapshot(tile)
    with pytest.raises(SnapshotError, match="holds a 'tileworld' world, not a 'model'"):
        ModelWorld.restore(tile, wealth.MODEL)


def test_scratch_resources_are_not_saved_state_ones_are(tmp_path):
    w = _world("schelling")
    path = tmp_path / "s.snap"
    w.snapshot(path)
    names = {e["name"] for e in _split(path.read_bytes())[1]["arrays"]}
    assert "occ" in names  # the occupancy grid decides the future
    assert not names & {"movers", "pool", "dest", "counts"}  # rebuilt every step
