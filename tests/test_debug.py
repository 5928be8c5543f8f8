"""Debug mode: a model's systems as plain Python (ModelWorld(debug=True)) give the
compiled world's results, and an error in a system names the system and the row."""

import linecache
import traceback

import numpy as np
import pytest
from numba import njit
from test_model_api import WALK
from test_population import LIFE
from test_tables import PREY

from dod_sim.debug import SystemError_
from dod_sim.model import Column, Kernel, Model, ModelWorld, Rows
from dod_sim.models import virus, wealth


@pytest.mark.parametrize("model, agents, kw", [
    (WALK, 300, {}),
    (LIFE, 300, {"capacity": 900}),
    (PREY, {"sheep": 100, "wolves": 20}, {"capacity": {"sheep": 1000, "wolves": 200}}),
    (wealth.MODEL, 100, {"width": 10, "height": 10}),
    (virus.MODEL, 200, {"initial_outbreak_size": 20}),
], ids=["walk", "births", "two tables", "wealth", "virus"])
def test_plain_python_gives_the_compiled_results(model, agents, kw):
    compiled = ModelWorld(model, agents, seed=5, threads=1, **kw)
    plain = ModelWorld(model, agents, seed=5, debug=True, **kw)
    assert plain.threads == 1 and plain.debug
    a, b = compiled.run(4), plain.run(4)
    assert compiled.state_digest() == plain.state_digest()
    assert all(np.array_equal(a[k], b[k]) for k in a)


@njit
def fragile(i, key, p, x):
    if x[i] == 7:
        raise ValueError("seven")
    return x[i] + 1


@njit
def overreach(key, n, p, x):
    for i in range(n + 1):  # one row too far: an IndexError in Python
        x[i] += 1


BROKEN = Model("test_broken", columns=[Column("x", np.int64, np.arange(10) % 8)],
               systems=[Rows("grow", fragile, reads=("x",), writes=("x",))])
OVER = Model("test_over", columns=[Column("x", np.int64, 0)],
             systems=[Kernel("overreach", overreach, writes=("x",))])


def test_an_error_names_the_system_and_the_row():
    w = ModelWorld(BROKEN, 10, debug=True)
    with pytest.raises(SystemError_) as e:
        w.run(1)
    assert e.value.system == "grow" and e.value.row == 7
    assert "system grow, row 7: ValueError: seven" in str(e.value)
    assert isinstance(e.value.__cause__, ValueError)
    # the traceback goes through the generated loop, whose source is there to read
    frames = traceback.extract_tb(e.value.__cause__.__traceback__)
    generated = [f for f in frames if f.filename.startswith("<dod_sim debug")]
    assert generated and linecache.getline(generated[0].filename, generated[0].lineno).strip()
    assert any(f.name == "fragile" for f in frames)


def test_an_error_in_a_whole_column_system_names_it():
    with pytest.raises(SystemError_) as e:
        ModelWorld(OVER, 10, debug=True).run(1)
    assert e.value.system == "overreach" and e.value.row is None
    assert isinstance(e.value.__cause__, IndexError)
