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


# ---- one order across several tables (Mesa's shuffle_do over citizens and cops) ----------


@njit
def give_any(kind, i, key, p, a, b):
    """One unit from this agent (of table a or b) to a uniformly random agent of either."""
    own = a if kind == 0 else b
    if own[i] > 0:
        j = below(draw(key, 0), a.shape[0] + b.shape[0])
        own[i] -= 1
        if j < a.shape[0]:
            a[j] += 1
        else:
            b[j - a.shape[0]] += 1


def mixed(order):
    return Model(f"test_turns_mixed_{order}",
                 columns=[Column("wealth", np.int64, 1, table="a"),
                          Column("wealth", np.int64, 3, table="b")],
                 systems=[Turns("give", give_any, writes=("a.wealth", "b.wealth"),
                                order=order, table=("a", "b"))])


def mixed_reference(world, ticks, order):
    a, b = world.columns["a.wealth"].copy(), world.columns["b.wealth"].copy()
    m = a.shape[0] + b.shape[0]
    step = python_function(give_any)
    for t in range(world.tick, world.tick + ticks):
        turns = np.arange(m)
        if order == "random":
            shuffle(_key(world.seed, t, 0, ROWS_STREAM), turns, m)
        with np.errstate(over="ignore"):
            for e in turns:
                kind, i = (0, e) if e < a.shape[0] else (1, e - a.shape[0])
                step(kind, i, _key(world.seed, t, e, ROWS_STREAM), None, a, b)
    return a, b


@pytest.mark.parametrize("order", ["random", "rows"])
def test_turns_across_tables_equal_a_plain_python_loop(order):
    w = ModelWorld(mixed(order), {"a": 150, "b": 100}, seed=6)
    for _ in range(3):
        ref_a, ref_b = mixed_reference(w, 3, order)
        w.run(3)
        assert (w.columns["a.wealth"] == ref_a).all() and (w.columns["b.wealth"] == ref_b).all()
    assert w.columns["a.wealth"].sum() + w.columns["b.wealth"].sum() == 150 + 300


def test_turns_across_tables_in_debug_mode_and_on_two_threads():
    worlds = [ModelWorld(mixed("random"), {"a": 150, "b": 100}, seed=6, threads=t, debug=d)
              for t, d in ((1, False), (2, False), (1, True))]
    for w in worlds:
        w.run(4)
    assert len({w.state_digest() for w in worlds}) == 1


@njit
def hunt_or_graze(kind, i, key, p, x, wolves, sheep):
    """A wolf eats the sheep of its own row; a sheep that still has its turn grazes."""
    if kind == 0:
        kill(sheep, i)
    else:
        x[i] = 1


def hunting(order):
    return Model(f"test_turns_hunt_{order}", dynamic=True,
                 columns=[Column("x", np.int64, 0, table="wolves"),
                          Column("x", np.int64, 0, table="sheep")],
                 systems=[Turns("turn", hunt_or_graze, order=order, table=("wolves", "sheep"),
                                reads=("sheep.x",),
                                writes=("wolves_population", "sheep_population"))])


def test_an_agent_eaten_before_its_turn_loses_it():
    w = ModelWorld(hunting("rows"), {"wolves": 4, "sheep": 10}, seed=2)
    w.run(1)  # wolves first: sheep 0-3 are eaten before the sheep's turns come
    assert w.columns["sheep.alive"][:10].tolist() == [0] * 4 + [1] * 6
    assert w.columns["sheep.x"][:10].tolist() == [0] * 4 + [1] * 6
    assert w.live_of("sheep") == 6
    r = ModelWorld(hunting("random"), {"wolves": 4, "sheep": 10}, seed=2)
    r.run(1)  # in a random order some sheep graze before they are eaten
    x, alive = r.columns["sheep.x"][:10], r.columns["sheep.alive"][:10]
    assert alive[:4].sum() == 0 and (x[4:] == 1).all() and 0 < x[:4].sum() < 4


def test_bad_tables_are_refused():
    for table in (("a",), ("a", "a"), ("a", 3)):
        with pytest.raises(ConfigError) as e:
            Turns("t", give_any, order="random", table=table)
        assert e.value.field == "systems.t.table"
    with pytest.raises(ConfigError, match="not a table"):
        Model("test_turns_bad_kind", columns=[Column("w", np.int64, 1, table="a"),
                                              Column("w", np.int64, 1, table="b")],
              systems=[Turns("t", give_any, writes=("a.w",), table=("a", "c"))])
