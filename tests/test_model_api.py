"""dod_sim.model: declarations, synchronous semantics, determinism, errors, caching;
and the neighbour index of dod_sim.kernels.neighbours against brute force."""

import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import numba
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from numba import njit

from dod_sim import runtime
from dod_sim.errors import ConfigError
from dod_sim.kernels import neighbours as nb
from dod_sim.kernels.rng import draw, uniform
from dod_sim.model import (
    CHUNK, Column, Kernel, Model, ModelWorld, Resource, Rows, Stat, cache_dir, grid_index,
    params_class, points_index,
)

# ---- a tiny model: a random walk on a ring, a shift, and a whole-column total ----------


@njit
def walk(i, key, p, x):
    return (x[i] + (1 if uniform(key, 0) < 0.5 else p.width - 1)) % p.width


@njit
def shift(i, key, p, s):
    return s[(i + s.shape[0] - 1) % s.shape[0]]  # reads another row: needs the old buffer


@njit
def init_x(i, key, p):
    return draw(key, 0) % np.uint64(p.width)


@njit
def mean(n, p, x):
    return x.mean()


@njit
def total(key, n, p, x, out):
    acc = 0
    for i in range(n):
        acc += x[i]
    out[0] = acc


WALK = Model(
    "test_walk",
    params={"width": 50, "rate": 0.5, "flag": False},
    columns=[Column("x", np.int64, init_x), Column("s", np.int64, 0),
             Column("tag", np.float32, 2.5)],
    resources=[Resource("sum", lambda p, n: np.zeros(1, np.int64), state=True)],
    systems=[
        Rows("walk", walk, reads=("x",), writes=("x",)),
        Rows("shift", shift, reads=("s",), writes=("s",)),
        Kernel("total", total, reads=("x",), writes=("sum",)),
    ],
    stats={"mean_x": Stat(mean, reads=("x",)),  # compiled
           "sum": lambda w: float(w.resources["sum"][0])},  # Python, between steps
)
COMPILED = Model("test_walk_compiled", params=WALK.params, columns=WALK.columns,
                 resources=WALK.resources, systems=WALK.systems,
                 stats={"mean_x": WALK.stats["mean_x"]})


def walk_world(n=3000, seed=1, threads=None, **kw):
    return ModelWorld(WALK, n, seed=seed, threads=threads, **kw)


def test_run_returns_a_table_of_model_statistics_per_step():
    w = walk_world()
    t = w.run(4)
    assert list(t) == ["step", "mean_x", "sum"]
    assert t["step"].tolist() == [1, 2, 3, 4]
    assert t["mean_x"].dtype == np.float64 and t["mean_x"].shape == (4,)
    assert t["sum"][-1] == w.columns["x"].sum()  # the kernel system ran after walk
    t2 = w.run(2)
    assert t2["step"].tolist() == [5, 6] and w.tick == 6
    assert list(w.run(3, stats=False)) == ["step"]
    assert w.stats() == {"mean_x": pytest.approx(w.columns["x"].mean()),
                         "sum": w.columns["x"].sum()}


def test_compiled_statistics_in_one_call_equal_those_taken_step_by_step():
    a = ModelWorld(COMPILED, 3000, seed=4)
    b = walk_world(seed=4)
    whole = a.run(5)["mean_x"]  # one compiled call
    stepped = [b.run(1)["mean_x"][0] for _ in range(5)]  # one call each, with Python "sum"
    assert whole.tolist() == stepped and whole[-1] == a.stats()["mean_x"]
    assert whole[-1] == pytest.approx(a.columns["x"].mean())


def test_columns_are_read_only_views_of_the_current_buffer():
    w = walk_world(n=100)
    x = w.columns["x"]
    with pytest.raises(ValueError):
        x[0] = 1
    assert x.shape == (100,) and x.dtype == np.int64
    assert ((x >= 0) & (x < 50)).all()
    assert (w.columns["tag"] == np.float32(2.5)).all()
    w.run(1)
    assert w.columns["x"] is not x  # views are rebuilt: the current buffer flipped
    assert (np.abs(w.columns["x"] - x) % 48 == 1).all()  # one step left or right on a ring


def test_a_row_that_reads_other_rows_sees_the_previous_tick():
    # shift reads row i - 1 and writes row i: synchronous semantics give an exact
    # rotation; an in-place sequential loop would copy s[0] everywhere.
    n = 5000
    w = ModelWorld(WALK, n, seed=2)
    w._store["s"][0] = np.arange(n)  # test-only: set the initial buffer
    w._store["s"][1] = np.arange(n)
    w.run(3, stats=False)
    assert (w.columns["s"] == np.roll(np.arange(n), 3)).all()
    assert set(WALK.double) == {"x", "s"}


def test_init_from_an_array_and_a_scalar():
    m = Model("test_init", params={"width": 9},
              columns=[Column("a", np.int32, np.arange(7)), Column("b", np.float64, 1.5)],
              systems=[Rows("walk", walk, reads=("a",), writes=("a",))])
    w = ModelWorld(m, 7)
    assert w.columns["a"].tolist() == list(range(7))
    assert (w.columns["b"] == 1.5).all()
    with pytest.raises(ConfigError) as e:
        ModelWorld(m, 8)
    assert e.value.field == "a" and e.value.bound == 8


def test_same_digest_with_one_and_every_thread_and_n_plus_m_ticks():
    digests = set()
    for th in (1, numba.config.NUMBA_NUM_THREADS):
        w = walk_world(n=20_000, seed=3, threads=th)
        w.run(5)
        digests.add(w.state_digest())
    assert len(digests) == 1
    a = walk_world(seed=4)
    a.run(7, stats=False)
    b = walk_world(seed=4)
    b.run(3, stats=False)
    b.run(4)
    assert a.state_digest() == b.state_digest()
    c = walk_world(seed=5)
    c.run(7, stats=False)
    assert c.state_digest() != a.state_digest()


def test_params_are_a_namedtuple_that_any_process_can_unpickle():
    w = walk_world(n=10, width=7, rate=0.25, flag=True)
    assert (w.params.width, w.params.rate, w.params.flag) == (7, 0.25, True)
    cls = type(w.params)
    assert pickle.loads(pickle.dumps(cls)) is cls
    assert cls is params_class({"width": "int", "rate": "float", "flag": "bool"})


@pytest.mark.parametrize("stats", [False, True])
def test_no_allocation_grows_with_the_number_of_ticks(stats):
    w = ModelWorld(COMPILED, 5000, seed=1)
    w.run(2, stats=stats)
    counts = []
    for steps in (1, 40):
        before = runtime.nrt_allocations()
        w.run(steps, stats=stats)
        counts.append(runtime.nrt_allocations() - before)
    if counts[0] < 0:
        pytest.skip("this Numba keeps no allocation statistics")
    assert counts[0] == counts[1]  # the boxing of one call's arguments, not per tick
    # however many compiled calls a run takes, it allocates their boxing and nothing more
    w.run(1, stats=stats)
    boxing = w.last_report.nrt_allocations
    w.run(300, stats=stats, progress=lambda done, n: None, progress_every=7)
    rep = w.last_report
    assert rep.calls >= 300 // 7 and rep.nrt_allocations == rep.calls * boxing


@pytest.mark.slow
def test_the_generated_module_loads_from_the_disk_cache_in_a_new_process():
    w = walk_world(n=10)
    w.run(1)
    assert Path(w._mod.__file__).parent == cache_dir()
    code = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        import test_model_api as t
        w = t.walk_world(n=10)
        w.run(1)
        f = w._mod.run_ticks  # what run(1) calls, with its compiled statistic
        print(sum(f.stats.cache_hits.values()), sum(f.stats.cache_misses.values()))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env=dict(os.environ)).stdout.split()
    assert out == ["1", "0"]


@pytest.mark.parametrize("build, field", [
    (lambda: Model("m", columns=[Column("x", np.int64)],
                   systems=[Rows("r", lambda i, k, p, x: x[i], reads=("x",), writes=("x",))]),
     "systems.r.fn"),
    (lambda: Model("m", columns=[Column("x", np.int64)],
                   systems=[Rows("r", walk, reads=("y",), writes=("x",))]), "systems.r"),
    (lambda: Model("m", columns=[Column("x", np.int64)],
                   resources=[Resource("g", lambda p, n: np.zeros(1))],
                   systems=[Rows("r", walk, reads=("x",), writes=("g",))]), "systems.r.writes"),
    (lambda: Model("m", columns=[Column("x", np.int64)],
                   systems=[Rows("r", walk, reads=("x",), writes=())]), "systems.r.writes"),
    (lambda: Model("m", columns=[Column("x", np.int64)],
                   systems=[Rows("r", walk, reads=("x", "x"), writes=("x",))]), "systems.r.reads"),
    (lambda: Model("m", columns=[Column("x", np.int64)],
                   systems=[Rows("r", walk, reads=("x",), writes=("x",), order="ix")]),
     "systems.r.order"),
    (lambda: Model("m", columns=[Column("x", np.int64)],
                   systems=[Rows("r", walk, reads=("x",), writes=("x",)),
                            Rows("r", walk, reads=("x",), writes=("x",))]), "systems.r"),
    (lambda: Model("m", params={"x": 1}, columns=[Column("x", np.int64)]), "columns"),
    (lambda: Model("m", columns=[Column("not ok", np.int64)]), "columns"),
    (lambda: Model("m", params={"w": "wide"}), "w"),
    (lambda: Model("m", columns=[Column("x", np.int64)],
                   stats={"s": Stat(lambda n, p, x: 0.0, reads=("x",))}), "stats.s.fn"),
    (lambda: Model("m", columns=[Column("x", np.int64)],
                   stats={"s": Stat(mean, reads=("y",))}), "stats.s"),
    (lambda: Model("m", columns=[Column("x", np.int64)], stats={"s": 0.5}), "stats.s"),
])
def test_bad_declarations_name_their_field(build, field):
    with pytest.raises(ConfigError) as e:
        build()
    assert e.value.field == field


def test_the_thread_count_is_chosen_and_reported():
    cores = runtime.default_threads()
    small = walk_world(n=CHUNK).threads_choice
    assert small["threads"] == 1
    assert small["how"] in (f"one thread (at most {CHUNK} rows: one chunk)", "one core")
    assert walk_world(n=3000, threads=1).threads_choice["how"] == "set by the caller"
    w = walk_world(n=3000)
    choice = w.threads_choice
    assert choice["threads"] == w.threads
    if cores > 1:  # the faster of 1 thread and every core, measured on a world of its own
        assert choice["how"] in ("measured: probe, lower median step",
                                 "measured: probe, lower median step (cached verdict)")
        assert set(choice["probe_step_ms"]) == {"1", str(cores)} and w.threads in (1, cores)
        assert w.tick == 0  # the probe ran another world
    ref = walk_world(n=3000, threads=1)
    w.run(20)
    ref.run(20)
    assert w.state_digest() == ref.state_digest()


def test_bad_world_arguments_name_their_field():
    for kwargs, field in (({"agents": 0}, "agents"), ({"agents": 5, "seed": -1}, "seed"),
                          ({"agents": 5, "depth": 3}, "depth"),
                          ({"agents": 5, "width": 2.5}, "width"),
                          ({"agents": 5, "flag": 1}, "flag"),
                          ({"agents": 5, "threads": 10_000}, "threads")):
        with pytest.raises(ConfigError) as e:
            ModelWorld(WALK, **kwargs)
        assert e.value.field == field
    with pytest.raises(ConfigError) as e:
        walk_world(n=5).run(-1)
    assert e.value.field == "steps"
    m = Model("test_order", params={"width": 5}, columns=[Column("x", np.int64)],
              resources=[Resource("ix", lambda p, n: np.zeros(n))],
              systems=[Rows("walk", walk, reads=("x",), writes=("x",), order="ix")])
    with pytest.raises(ConfigError) as e:
        ModelWorld(m, 5)
    assert e.value.field == "systems.walk.order"


# ---- the neighbour index -------------------------------------------------------------------


@njit
def _within_all(ix, qx, qy, r, out_rows, out_off):
    """For every query point, the rows within r (flattened), and where each query's
    rows start: out_start[q]..out_start[q + 1]."""
    m = 0
    for q in range(qx.shape[0]):
        for j, dx, dy, d2 in nb.within(ix, qx[q], qy[q], r):
            out_rows[m] = j
            out_off[m, 0] = dx
            out_off[m, 1] = dy
            out_off[m, 2] = d2
            m += 1
    return m


@njit
def _span_count(ix, px, py, r):
    """The written-out form of within(): number of rows within r."""
    x0, nx, y0, ny = nb.query_span(ix, px, py, r)
    r2 = r * r
    m = 0
    for a in range(ny):
        for b in range(nx):
            c = nb.span_cell(ix, x0, y0, a, b)
            for k in range(ix.start[c], ix.start[c + 1]):
                if nb.offset(ix, k, px, py)[2] <= r2:
                    m += 1
    return m


def brute_delta(d, size):
    """numpy twin of kernels.neighbours.torus_delta (same operations, same rounding)."""
    return np.where(d > 0.5 * size, d - size, np.where(d < -0.5 * size, d + size, d))


coords = st.lists(st.floats(0.0, 1.0, exclude_max=True), min_size=1, max_size=200)


@given(us=coords, vs=coords, width=st.floats(1.0, 300.0), height=st.floats(1.0, 300.0),
       cell=st.floats(0.5, 80.0), r=st.floats(0.0, 120.0), edge=st.booleans())
def test_within_returns_exactly_the_rows_in_the_radius(us, vs, width, height, cell, r, edge):
    n = min(len(us), len(vs))
    x = np.minimum(np.array(us[:n]) * width, np.nextafter(width, 0))
    y = np.minimum(np.array(vs[:n]) * height, np.nextafter(height, 0))
    if edge:  # points on the borders and at the same place
        x[: n // 3] = 0.0
        y[: n // 4] = np.nextafter(height, 0)
    ix = points_index(n, width, height, cell)
    nb.index_points(ix, x, y, n)
    # the lists: every row once, grouped by cell, increasing within a cell
    assert sorted(ix.rows[:n].tolist()) == list(range(n))
    cells = ix.cell[:n]
    for c in np.unique(cells):
        lst = ix.rows[ix.start[c]:ix.start[c + 1]]
        assert (cells[lst] == c).all() and (np.diff(lst) > 0).all()
    qx, qy = x[: min(n, 40)], y[: min(n, 40)]
    out_rows = np.zeros(len(qx) * n, np.int64)
    out_off = np.zeros((len(qx) * n, 3))
    m = _within_all(ix, qx, qy, r, out_rows, out_off)
    got, k = [], 0
    for q in range(len(qx)):
        dx = brute_delta(x - qx[q], width)
        dy = brute_delta(y - qy[q], height)
        d2 = dx * dx + dy * dy
        want = np.flatnonzero(d2 <= r * r)
        hits = out_rows[k:k + len(want)]
        assert sorted(hits.tolist()) == want.tolist()
        assert (out_off[k:k + len(want), 2] <= r * r).all()
        assert np.array_equal(out_off[k:k + len(want), 0], dx[hits])
        assert np.array_equal(out_off[k:k + len(want), 1], dy[hits])
        assert _span_count(ix, qx[q], qy[q], r) == len(want)
        got.append(hits)
        k += len(want)
    assert k == m


@given(n=st.integers(1, 400), w=st.integers(1, 30), h=st.integers(1, 30),
       seed=st.integers(0, 2**32))
def test_grid_index_lists_every_row_of_every_cell_in_row_order(n, w, h, seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, w, n).astype(np.int32)
    y = rng.integers(0, h, n).astype(np.int32)
    ix = grid_index(n, w, h)
    nb.index_grid(ix, x, y, n)
    for c in range(w * h):
        want = np.flatnonzero(y * w + x == c)
        assert ix.rows[ix.start[c]:ix.start[c + 1]].tolist() == want.tolist()


def test_index_is_the_same_with_one_and_every_thread():
    rng = np.random.default_rng(0)
    n = 50_000
    x, y = rng.random(n) * 700, rng.random(n) * 500
    out = []
    for th in (1, numba.config.NUMBA_NUM_THREADS):
        ix = points_index(n, 700.0, 500.0, 3.0)
        with runtime.threads(th):
            nb.index_points(ix, x, y, n)
        out.append((ix.start.copy(), ix.rows.copy(), ix.px.copy()))
    for a, b in zip(*out):
        assert np.array_equal(a, b)


@njit
def _moore_all(x, y, w, h, r, torus, out):
    for q in range(nb.moore_size(r)):
        out[q, 0], out[q, 1] = nb.moore_cell(x, y, w, h, r, torus, q)


@njit
def _pick_many(x, y, w, h, r, torus, out):
    for k in range(out.shape[0]):
        out[k, 0], out[k, 1] = nb.moore_pick(x, y, w, h, r, torus, draw(np.uint64(9), k))


@given(w=st.integers(1, 12), h=st.integers(1, 12), r=st.integers(1, 3), torus=st.booleans(),
       data=st.data())
def test_moore_neighbourhood_matches_mesa_order_and_picks_uniformly(w, h, r, torus, data):
    assume(not torus or min(w, h) >= 2 * r + 1)  # documented precondition (no cell twice)
    x = data.draw(st.integers(0, w - 1))
    y = data.draw(st.integers(0, h - 1))
    want = []
    for dx in range(-r, r + 1):
        for dy in range(-r, r + 1):
            if (dx, dy) == (0, 0):
                continue
            nx, ny = x + dx, y + dy
            if torus:
                want.append((nx % w, ny % h))
            else:
                want.append((nx, ny) if 0 <= nx < w and 0 <= ny < h else (-1, -1))
    out = np.zeros((len(want), 2), np.int64)
    _moore_all(x, y, w, h, r, torus, out)
    assert [tuple(v) for v in out.tolist()] == want
    valid = [c for c in want if c[0] >= 0]
    picks = np.zeros((2000, 2), np.int64)
    _pick_many(x, y, w, h, r, torus, picks)
    got = [tuple(v) for v in picks.tolist()]
    if not valid:  # a 1 x 1 bounded grid: no neighbour, the pick stays put
        assert set(got) == {(x, y)}
    else:  # only neighbours, every one drawn, none far from 2000 / m times
        assert set(got) <= set(valid)
        counts = np.array([got.count(c) for c in valid])
        assert (counts > 0).all()
        assert np.abs(counts - 2000 / len(valid)).max() < 6 * (2000 / len(valid)) ** 0.5
