"""Births and deaths (dynamic models): a small model against a plain-Python version of
the same rules, row by row; thread counts; snapshots; capacity; the schema's checks."""

import numpy as np
import pytest
from numba import njit
from snapfile import _join, _split

from dod_sim.errors import CapacityError, ConfigError, SnapshotError
from dod_sim.kernels import population as pop_k
from dod_sim.kernels.population import is_alive, kill, shuffled, spawn
from dod_sim.kernels.rng import below, draw, row_key, uniform
from dod_sim.model import (
    KERNEL_STREAM, ROWS_STREAM, Column, Kernel, Model, ModelWorld, Rows, Stat, alive_count,
    alive_mean, column_mean,
)

# ---- the model: agents pay a cost each tick, die at zero energy, split when rich; then
# a random-sequential predation in which a hunter eats a random row and a newcomer
# arrives -------------------------------------------------------------------------------


@njit
def metabolise(i, key, p, energy):
    e = energy[i] - p.cost
    rich = e > p.split and uniform(key, 0) < p.birth
    half = e / 2 if rich else e
    return half, e > 0, rich, half  # energy, alive, gives birth, the child's energy


@njit
def predate(key, n, p, energy, population):
    m = shuffled(population, key, n)
    for j in range(m):
        i = population.order[j]
        if not is_alive(population, i):  # eaten earlier in this order
            continue
        k = draw(key, 1000 + j)
        if uniform(k, 0) < p.hunt:
            prey = below(draw(k, 1), n)
            if prey != i and kill(population, prey):
                energy[i] += 1.0
        if uniform(k, 2) < p.arrive:
            r = spawn(population)
            if r >= 0:
                energy[r] = p.newcomer


@njit
def init_energy(i, key, p):
    return 1.0 + 4.0 * uniform(key, 0)


@njit
def extinct(n, p, alive):
    return 1.0 if alive_count(n, p, alive) < 50 else 0.0


PARAMS = {"cost": 0.1, "split": 2.0, "birth": 0.5, "hunt": 0.1, "arrive": 0.05,
          "newcomer": 1.5}
LIFE = Model(
    "test_life", params=PARAMS, dynamic=True,
    columns=[Column("energy", np.float64, init_energy), Column("age", np.int64, 7)],
    systems=[
        Rows("metabolise", metabolise, reads=("energy",), writes=("energy", "alive"),
             spawn=("energy",)),
        Kernel("predate", predate, reads=("energy",), writes=("population",)),
    ],
    stats={"count": Stat(alive_count, reads=("alive",)),
           "mean_energy": Stat(alive_mean, reads=("alive", "energy")),
           "extinct": Stat(extinct, reads=("alive",))},
)


def _key(seed, tick, row, stream):
    return np.uint64(draw(np.uint64(row_key(seed, tick, row)), stream))


def reference(world, ticks):
    """The same rules in plain Python over copies of the world's arrays."""
    p, seed, n = world.params, world.seed, world.rows
    cols = world.columns
    alive = cols["alive"].astype(np.int64).copy()
    ids = cols["id"].copy()
    energy = cols["energy"].copy()
    age = cols["age"].copy()
    pop = world.resources["population"]
    free = list(pop.free[:pop.count[pop_k.N_FREE]])
    next_id = int(pop.count[pop_k.NEXT_ID])
    for t in range(world.tick, world.tick + ticks):
        # metabolise: every live row from the tick's state, then the sync point
        new = energy.copy()
        dies, births = [], []
        for i in range(n):
            if alive[i] != 1:
                continue
            e, ok, rich, child = metabolise.py_func(
                i, _key(seed, t, i, ROWS_STREAM + 0), p, energy)
            new[i] = e
            if not ok:
                dies.append(i)
            if rich:
                births.append((i, child))
        energy = new
        for i in dies:
            alive[i], ids[i] = 0, -1
            free.append(i)
        taken, free = free[len(free) - len(births):], free[:len(free) - len(births)]
        for r, (_, child) in zip(taken, births):
            alive[r], ids[r], energy[r], age[r] = 1, next_id, child, 7
            next_id += 1
        # predate: sequential in a shuffled order of the live rows
        key = _key(seed, t, 0, KERNEL_STREAM + 1)
        order = [i for i in range(n) if alive[i] == 1]
        for j in range(len(order) - 1, 0, -1):
            k = below(np.uint64(draw(key, j)), j + 1)
            order[j], order[k] = order[k], order[j]
        killed = []
        for j, i in enumerate(order):
            if alive[i] != 1:
                continue
            k = np.uint64(draw(key, 1000 + j))
            if uniform(k, 0) < p.hunt:
                prey = below(np.uint64(draw(k, 1)), n)
                if prey != i and alive[prey] == 1:
                    alive[prey] = 0
                    killed.append(prey)
                    energy[i] += 1.0
            if uniform(k, 2) < p.arrive:
                r = free.pop()
                alive[r], ids[r], energy[r] = 2, next_id, p.newcomer
                next_id += 1
        for i in sorted(killed):
            ids[i] = -1
            free.append(i)
        alive[alive == 2] = 1
    return {"alive": alive, "id": ids, "energy": energy, "age": age, "free": free}


def test_births_and_deaths_equal_a_plain_python_version_row_by_row():
    w = ModelWorld(LIFE, 600, seed=3, threads=1, capacity=2000)
    for _ in range(6):
        ref = reference(w, 5)
        w.run(5)
        cols = w.columns
        assert (cols["alive"] == ref["alive"]).all()
        live = ref["alive"] == 1
        assert (cols["id"][live] == ref["id"][live]).all()
        assert (cols["id"][~live] == -1).all()
        assert (cols["energy"][live] == ref["energy"][live]).all()
        assert (cols["age"][live] == ref["age"][live]).all()
        count = w.resources["population"].count
        assert list(w.resources["population"].free[:count[pop_k.N_FREE]]) == ref["free"]
    assert w.live == int(live.sum()) == count[pop_k.LIVE]
    assert 0 < w.live < 2000 and count[pop_k.NEXT_ID] > 600  # both births and deaths ran


def test_ids_are_distinct_and_never_reused():
    w = ModelWorld(LIFE, 500, seed=5, capacity=1500)
    seen = set(w.columns["id"][w.columns["alive"] == 1].tolist())
    for _ in range(10):
        w.run(3)
        live = w.columns["id"][w.columns["alive"] == 1]
        assert len(set(live.tolist())) == live.size
        new = set(live.tolist()) - seen
        assert all(i >= 500 for i in new)
        seen |= new
    assert len(seen) > 600


@pytest.mark.parametrize("agents", [300, 9000])  # one chunk, several chunks
def test_the_same_digest_on_1_and_2_threads(agents):
    a = ModelWorld(LIFE, agents, seed=11, threads=1)
    b = ModelWorld(LIFE, agents, seed=11, threads=2)
    ta, tb = a.run(20), b.run(20)
    assert a.state_digest() == b.state_digest()
    assert all((ta[k] == tb[k]).all() for k in ta)


def test_statistics_skip_free_rows():
    w = ModelWorld(LIFE, 400, seed=2, capacity=1000)
    t = w.run(4)
    live = w.columns["alive"] == 1
    assert t["count"][-1] == live.sum() == w.live
    assert t["mean_energy"][-1] == pytest.approx(w.columns["energy"][live].mean())
    with pytest.raises(ConfigError, match="alive_mean"):
        Model("bad_mean", dynamic=True, columns=[Column("e", np.float64)],
              stats={"m": Stat(column_mean, reads=("e",))})


def test_the_digest_ignores_free_rows_values_but_not_live_ones():
    w = ModelWorld(LIFE, 300, seed=2, capacity=900)
    w.run(3)
    d = w.state_digest()
    free = np.flatnonzero(w.columns["alive"] == 0)
    live = np.flatnonzero(w.columns["alive"] == 1)
    w._store["energy"][:, free[0]] = 123.0  # test-only: a free row's stale value
    assert w.state_digest() == d
    w._store["energy"][:, live[0]] += 1.0
    assert w.state_digest() != d


def test_a_snapshot_restores_and_continues_bit_identically(tmp_path):
    a = ModelWorld(LIFE, 700, seed=4, capacity=1600)
    a.run(7)
    a.snapshot(tmp_path / "life.snap")
    b = ModelWorld.restore(tmp_path / "life.snap", LIFE)
    assert b.rows == 1600 and b.live == a.live and b.state_digest() == a.state_digest()
    a.run(9)
    b.run(9)
    assert a.state_digest() == b.state_digest()


def test_a_snapshot_whose_free_stack_holds_a_live_row_is_refused(tmp_path):
    a = ModelWorld(LIFE, 200, seed=4, capacity=400)
    a.run(2)
    path = tmp_path / "s.snap"
    a.snapshot(path)
    live_row = int(np.flatnonzero(a.columns["alive"] == 1)[0])
    free = a.resources["population"].free.copy()
    free[0] = live_row
    version, header, arrays = _split(path.read_bytes())
    path.write_bytes(_join(version, header, dict(arrays, **{"population.free": free.tobytes()})))
    with pytest.raises(SnapshotError, match="population.free"):
        ModelWorld.restore(tmp_path / "s.snap", LIFE)


def test_births_beyond_capacity_raise_after_the_tick():
    w = ModelWorld(LIFE, 100, seed=1, capacity=100, split=0.0, birth=1.0, cost=0.0, hunt=0.0)
    with pytest.raises(CapacityError, match="capacity=100") as e:
        w.run(10)
    assert e.value.field == "capacity" and w.tick == 1  # ended after the first tick
    assert w.live == 100 and (w.columns["alive"] == 1).all()


def test_until_ends_the_run_at_a_compiled_condition():
    w = ModelWorld(LIFE, 400, seed=2, hunt=0.6, arrive=0.0, birth=0.0)
    t = w.run(200, until="extinct")
    assert w.tick == len(t["step"]) < 200
    assert t["extinct"][-1] == 1.0 and (t["extinct"][:-1] == 0).all()
    assert w.live < 50
    calls = []
    w2 = ModelWorld(LIFE, 400, seed=2, hunt=0.6, arrive=0.0, birth=0.0)
    t2 = w2.run(200, until=lambda world: calls.append(world.tick) or world.live < 50)
    assert t2["step"].tolist() == t["step"].tolist() and calls == t["step"].tolist()
    with pytest.raises(ConfigError, match="until"):
        w.run(3, until="count_of_nothing")


@pytest.mark.parametrize("bad, match", [
    (dict(capacity=50), r"capacity=50 must be an integer in \[100, "),
    (dict(capacity=2.5), "capacity=2.5"),
])
def test_bad_capacity_is_refused(bad, match):
    with pytest.raises(ConfigError, match=match) as e:
        ModelWorld(LIFE, 100, **bad)
    assert e.value.field == "capacity"


def test_declarations_that_break_the_population_are_refused():
    with pytest.raises(ConfigError, match="engine's"):
        Model("m1", dynamic=True, columns=[Column("alive", np.uint8)])
    with pytest.raises(ConfigError, match="not dynamic"):
        Model("m2", columns=[Column("e", np.float64)],
              systems=[Rows("r", metabolise, reads=("e",), writes=("e",), spawn=("e",))])
    with pytest.raises(ConfigError, match="population"):
        Model("m3", dynamic=True, columns=[Column("e", np.float64)],
              systems=[Kernel("k", predate, reads=("e",), writes=("alive",))])
    from tests.test_model_api import WALK
    with pytest.raises(ConfigError, match="capacity"):
        ModelWorld(WALK, 10, capacity=20)
