"""Turns: the model API's sequential activation (random or row order), against a
plain-Python version with the same draws; a dynamic table's dead rows lose their turn."""

import numpy as np
import pytest
from numba import njit

from dod_sim.debug import python_function
from dod_sim.errors import ConfigError
from dod_sim.kernels.population import kill, shuffle
from dod_sim.kernels.rng import below, draw, row_key
from dod_sim.model import ROWS_STREAM, Column, Model, ModelWorld, Stat, Turns, alive_count


@njit
def give(i, key, p, wealth):
    """Mesa's Boltzmann exchange: one unit to a uniformly random row, if any to give."""
    if wealth[i] > 0:
        j = below(draw(key, 0), wealth.shape[0])
        wealth[i] -= 1
        wealth[j] += 1


def exchange(order):
    return Model(f"test_turns_{order}", columns=[Column("wealth", np.int64, 1)],
                 systems=[Turns("give", give, writes=("wealth",), order=order)])


def _key(seed, tick, row, stream):
    return np.uint64(draw(np.uint64(row_key(seed, tick, row)), stream))


def reference(world, ticks, order):
    """The same turns in plain Python (give and the draws it calls as their Python
    originals)."""
    w = world.columns["wealth"].copy()
    n = w.shape[0]
    step = python_function(give)
    for t in range(world.tick, world.tick + ticks):
        if order == "random":
            turns = np.arange(n)
            shuffle(_key(world.seed, t, 0, ROWS_STREAM), turns, n)
        else:
            turns = range(n)
        with np.errstate(over="ignore"):
            for i in turns:
                step(i, _key(world.seed, t, i, ROWS_STREAM), None, w)
    return w


@pytest.mark.parametrize("order", ["random", "rows"])
def test_turns_equal_a_plain_python_loop_in_the_same_order(order):
    model = exchange(order)
    w = ModelWorld(model, 300, seed=4)
    for _ in range(3):
        ref = reference(w, 4, order)
        w.run(4)
        assert (w.columns["wealth"] == ref).all()
    assert w.columns["wealth"].sum() == 300  # conserved
    assert w.columns["wealth"].max() > 3  # units passed on several times


def test_the_order_matters_and_debug_mode_agrees():
    a = ModelWorld(exchange("random"), 300, seed=4)
    b = ModelWorld(exchange("rows"), 300, seed=4)
    c = ModelWorld(exchange("random"), 300, seed=4, debug=True)
    for w in (a, b, c):
        w.run(5)
    assert (a.columns["wealth"] != b.columns["wealth"]).any()
    assert a.state_digest() == c.state_digest()


@njit
def eat(i, key, p, population):
    """Each agent eats the next row, if it is alive: the eaten lose their turn."""
    kill(population, (i + 1) % population.alive.shape[0])


PREDATORS = Model("test_turns_dynamic", dynamic=True, columns=[Column("x", np.int64, 0)],
                  systems=[Turns("eat", eat, writes=("population",), order="rows")],
                  stats={"live": Stat(alive_count, reads=("alive",))})


def test_dead_rows_lose_their_turn():
    w = ModelWorld(PREDATORS, 10, seed=1, capacity=10)
    t = w.run(1)
    # in row order: 0 eats 1, 2 eats 3, ... 8 eats 9: the eaten never act
    assert w.columns["alive"].tolist() == [1, 0] * 5 and t["live"][-1] == 5


def test_a_bad_order_is_refused():
    with pytest.raises(ConfigError) as e:
        Turns("t", give, writes=("wealth",), order="sideways")
    assert e.value.field == "systems.t.order"
