"""Several kinds of agent in one model: sheep and wolves on a ring, each kind its own
table, a per-row system over the sheep and a random-sequential kernel over the wolves
that eats sheep and breeds wolves; against a plain-Python version of the same rules."""

import numpy as np
import pytest
from numba import njit

from dod_sim.errors import CapacityError, ConfigError
from dod_sim.kernels import population as pop_k
from dod_sim.kernels.population import is_alive, kill, shuffled, spawn
from dod_sim.kernels.rng import below, draw, row_key, uniform
from dod_sim.model import (
    KERNEL_STREAM, ROWS_STREAM, Column, Kernel, Model, ModelWorld, Rows, Stat, alive_count,
)


@njit
def graze(i, key, p, x, energy):
    nx = (x[i] + (1 if uniform(key, 0) < 0.5 else p.width - 1)) % p.width
    e = energy[i] - 0.5 + p.grass
    born = e > 4.0 and uniform(key, 1) < p.sheep_birth
    e = e / 2 if born else e
    return nx, e, e > 0, born, nx, e


@njit
def hunt(key, n, p, x, energy, sheep_x, sheep, wolves):
    m = shuffled(wolves, key, n)
    for j in range(m):
        i = wolves.order[j]
        if not is_alive(wolves, i):
            continue
        k = draw(key, 100 + j)
        x[i] = (x[i] + (1 if uniform(k, 0) < 0.5 else p.width - 1)) % p.width
        energy[i] -= 1.0
        for s in range(sheep_x.shape[0]):  # the first live sheep in its cell
            if is_alive(sheep, s) and sheep_x[s] == x[i]:
                kill(sheep, s)
                energy[i] += p.gain
                break
        if energy[i] <= 0:
            kill(wolves, i)
        elif uniform(k, 1) < p.wolf_birth:
            r = spawn(wolves)
            if r >= 0:
                energy[i] /= 2
                x[r] = x[i]
                energy[r] = energy[i]


@njit
def init_sheep_x(i, key, p):
    return below(draw(key, 0), p.width)


@njit
def init_energy(i, key, p):
    return 1.0 + 3.0 * uniform(key, 0)


PREY = Model(
    "test_prey", dynamic=True,
    params={"width": 60, "grass": 0.6, "sheep_birth": 0.4, "wolf_birth": 0.05, "gain": 4.0},
    columns=[Column("x", np.int64, init_sheep_x, table="sheep"),
             Column("energy", np.float64, init_energy, table="sheep"),
             Column("x", np.int64, init_sheep_x, table="wolves"),
             Column("energy", np.float64, 5.0, table="wolves")],
    systems=[
        Rows("graze", graze, table="sheep", reads=("x", "energy"),
             writes=("x", "energy", "alive"), spawn=("x", "energy")),
        Kernel("hunt", hunt, table="wolves",
               reads=("x", "energy", "sheep.x", "sheep_population"),
               writes=("wolves_population",)),
    ],
    stats={"sheep": Stat(alive_count, reads=("sheep.alive",), table="sheep"),
           "wolves": Stat(alive_count, reads=("alive",), table="wolves")},
)


def _key(seed, tick, row, stream):
    return np.uint64(draw(np.uint64(row_key(seed, tick, row)), stream))


class Kind:
    """A table in plain Python: alive, id, columns, the free-row stack, the next id."""

    def __init__(self, world, table, names):
        cols, pop = world.columns, world.resources[f"{table}_population"]
        self.alive = cols[f"{table}.alive"].astype(np.int64).copy()
        self.id = cols[f"{table}.id"].copy()
        self.cols = {n: cols[f"{table}.{n}"].copy() for n in names}
        self.free = list(pop.free[:pop.count[pop_k.N_FREE]])
        self.next_id = int(pop.count[pop_k.NEXT_ID])
        self.killed = []

    def settle(self):
        for i in sorted(self.killed):
            self.id[i] = -1
            self.free.append(i)
        self.killed = []
        self.alive[self.alive == 2] = 1


def reference(world, ticks):
    p, seed = world.params, world.seed
    sheep = Kind(world, "sheep", ("x", "energy"))
    wolves = Kind(world, "wolves", ("x", "energy"))
    ns, nw = world.table_rows["sheep"], world.table_rows["wolves"]
    for t in range(world.tick, world.tick + ticks):
        # graze: every live sheep from the tick's state; deaths, then births in row order
        old = {k: v.copy() for k, v in sheep.cols.items()}
        dies, births = [], []
        for i in range(ns):
            if sheep.alive[i] != 1:
                continue
            x, e, ok, born, cx, ce = graze.py_func(i, _key(seed, t, i, ROWS_STREAM + 0), p,
                                                   old["x"], old["energy"])
            sheep.cols["x"][i], sheep.cols["energy"][i] = x, e
            if not ok:
                dies.append(i)
            if born:
                births.append((cx, ce))
        for i in dies:
            sheep.alive[i], sheep.id[i] = 0, -1
            sheep.free.append(i)
        taken = sheep.free[len(sheep.free) - len(births):]
        sheep.free = sheep.free[:len(sheep.free) - len(births)]
        for r, (cx, ce) in zip(taken, births):
            sheep.alive[r], sheep.id[r] = 1, sheep.next_id
            sheep.cols["x"][r], sheep.cols["energy"][r] = cx, ce
            sheep.next_id += 1
        # hunt: wolves in a shuffled order, sequentially
        key = _key(seed, t, 0, KERNEL_STREAM + 1)
        order = [i for i in range(nw) if wolves.alive[i] == 1]
        for j in range(len(order) - 1, 0, -1):
            k = below(np.uint64(draw(key, j)), j + 1)
            order[j], order[k] = order[k], order[j]
        wx, we = wolves.cols["x"], wolves.cols["energy"]
        for j, i in enumerate(order):
            if wolves.alive[i] != 1:
                continue
            k = np.uint64(draw(key, 100 + j))
            wx[i] = (wx[i] + (1 if uniform(k, 0) < 0.5 else p.width - 1)) % p.width
            we[i] -= 1.0
            for s in range(ns):
                if sheep.alive[s] == 1 and sheep.cols["x"][s] == wx[i]:
                    sheep.alive[s] = 0
                    sheep.killed.append(s)
                    we[i] += p.gain
                    break
            if we[i] <= 0:
                wolves.alive[i] = 0
                wolves.killed.append(i)
            elif uniform(k, 1) < p.wolf_birth and wolves.free:
                r = wolves.free.pop()
                we[i] /= 2
                wolves.alive[r], wolves.id[r] = 2, wolves.next_id
                wx[r], we[r] = wx[i], we[i]
                wolves.next_id += 1
        sheep.settle()
        wolves.settle()
    return sheep, wolves


def world(seed=3, threads=1, **kw):
    return ModelWorld(PREY, {"sheep": 300, "wolves": 40}, seed=seed, threads=threads,
                      capacity={"sheep": 3000, "wolves": 400}, **kw)


def test_two_kinds_equal_a_plain_python_version_row_by_row():
    w = world()
    for _ in range(5):
        sheep, wolves = reference(w, 4)
        w.run(4)
        cols = w.columns
        for name, kind in (("sheep", sheep), ("wolves", wolves)):
            assert (cols[f"{name}.alive"] == kind.alive).all(), name
            live = kind.alive == 1
            assert (cols[f"{name}.id"][live] == kind.id[live]).all(), name
            for c, v in kind.cols.items():
                assert (cols[f"{name}.{c}"][live] == v[live]).all(), (name, c)
            pop = w.resources[f"{name}_population"]
            assert list(pop.free[:pop.count[pop_k.N_FREE]]) == kind.free, name
    assert 0 < w.live_of("sheep") < 3000 and 0 < w.live_of("wolves") < 400
    assert w.live == w.live_of("sheep") + w.live_of("wolves")


def test_each_table_has_its_own_rows_and_statistics():
    w = world()
    assert w.table_rows == {"sheep": 3000, "wolves": 400}
    assert w.columns["sheep.x"].shape == (3000,) and w.columns["wolves.x"].shape == (400,)
    t = w.run(6)
    assert t["sheep"][-1] == w.live_of("sheep") and t["wolves"][-1] == w.live_of("wolves")
    assert {"rows_sheep", "rows_wolves"} <= set(w.sizes)


def test_the_same_digest_on_1_and_2_threads():
    a, b = world(seed=9, threads=1), world(seed=9, threads=2)
    a.run(15)
    b.run(15)
    assert a.state_digest() == b.state_digest()


def test_snapshot_restore_and_collection_by_table(tmp_path):
    a = world(seed=4)
    a.run(5)
    a.snapshot(tmp_path / "prey.snap")
    b = ModelWorld.restore(tmp_path / "prey.snap", PREY)
    assert b.table_rows == a.table_rows and b.state_digest() == a.state_digest()
    m, agents = a.collect(4, adata=("x", "energy"), table="wolves", frame=False)
    b.run(4)
    assert a.state_digest() == b.state_digest()
    last = agents["step"] == a.tick
    live = a.columns["wolves.alive"] == 1
    assert (np.sort(agents["id"][last]) == np.sort(a.columns["wolves.id"][live])).all()
    assert m["wolves"][-1] == live.sum()


def test_a_kind_may_start_empty_and_be_born():
    w = ModelWorld(PREY, {"sheep": 300, "wolves": 0}, seed=2,
                   capacity={"sheep": 3000, "wolves": 50})
    assert w.live_of("wolves") == 0 and w.table_rows["wolves"] == 50
    w.run(5)
    assert w.live_of("wolves") == 0 and w.live_of("sheep") > 0  # none to breed from


def test_capacity_names_the_table():
    w = ModelWorld(PREY, {"sheep": 300, "wolves": 40}, seed=1,
                   capacity={"sheep": 300, "wolves": 400}, sheep_birth=1.0, grass=5.0)
    with pytest.raises(CapacityError, match="table sheep") as e:
        w.run(5)
    assert e.value.field == "capacity.sheep"


@pytest.mark.parametrize("agents, capacity, field", [
    (300, None, "agents"),
    ({"sheep": 300}, None, "agents"),
    ({"sheep": 300, "wolves": -1}, None, "agents.wolves"),
    ({"sheep": 300, "wolves": 40}, {"sheep": 100, "wolves": 40}, "capacity.sheep"),
])
def test_sizes_by_table_are_checked(agents, capacity, field):
    with pytest.raises(ConfigError) as e:
        ModelWorld(PREY, agents, capacity=capacity)
    assert e.value.field == field


def test_ambiguous_and_foreign_names_are_refused():
    cols = PREY.columns[4:]  # the model's own columns, named table.column
    with pytest.raises(ConfigError, match="several tables"):
        Model("bad1", columns=[Column("x", np.int64, table="a"), Column("x", np.int64, table="b"),
                               Column("y", np.int64, table="c")],
              systems=[Kernel("k", hunt, table="c", reads=("x",))])
    with pytest.raises(ConfigError, match="writes its own rows"):
        Model("bad2", columns=[Column("x", np.int64, table="a"), Column("y", np.int64, table="b")],
              systems=[Rows("r", graze, table="a", reads=("x",), writes=("b.y",))])
    with pytest.raises(ConfigError, match="not a table"):
        Model("bad3", columns=[Column("x", np.int64, table="a")],
              systems=[Rows("r", graze, table="c", reads=("x",), writes=("x",))])
    assert [c.name for c in cols] == ["sheep.x", "sheep.energy", "wolves.x", "wolves.energy"]
