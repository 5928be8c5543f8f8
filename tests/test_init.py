"""ModelWorld(init=): starting values from arrays or a DataFrame, without compiling."""

import numpy as np
import pandas as pd
import pytest
from test_model_api import WALK
from test_tables import PREY

from dod_sim.errors import ConfigError
from dod_sim.model import ModelWorld


def test_arrays_and_data_frames_set_the_starting_columns():
    x = np.arange(100) % 50
    a = ModelWorld(WALK, 100, seed=1, init={"x": x})
    module = WALK.module()
    assert (a.columns["x"] == x).all() and a.columns["x"].dtype == np.int64
    b = ModelWorld(WALK, 100, seed=1, init=pd.DataFrame({"x": x, "tag": np.ones(100)}))
    assert (b.columns["tag"] == 1).all() and b.state_digest() != a.state_digest()
    assert WALK.module() is module  # nothing recompiled
    a.run(3)
    c = ModelWorld(WALK, 100, seed=1, init={"x": x})
    c.run(3)
    assert a.state_digest() == c.state_digest()


def test_several_tables_take_short_names_where_they_are_unique():
    w = ModelWorld(PREY, {"sheep": 10, "wolves": 4}, seed=1,
                   init={"sheep.x": np.arange(10), "wolves.energy": np.full(4, 9.0)})
    assert (w.columns["sheep.x"][:10] == np.arange(10)).all()
    assert (w.columns["wolves.energy"][:4] == 9.0).all()
    with pytest.raises(ConfigError, match="not a column"):
        ModelWorld(PREY, {"sheep": 10, "wolves": 4}, init={"x": np.arange(10)})  # ambiguous


@pytest.mark.parametrize("init, field", [
    ({"nope": np.zeros(100)}, "init"),
    ({"x": np.zeros(99)}, "init.x"),
    ({"x": np.full(100, 0.5)}, "init.x"),
    ({"x": np.array(["a"] * 100)}, "init.x"),
    ([1, 2, 3], "init"),
])
def test_bad_starting_values_are_refused(init, field):
    with pytest.raises(ConfigError) as e:
        ModelWorld(WALK, 100, init=init)
    assert e.value.field == field
