"""Spaces for compiled systems (dod_sim.spaces, dod_sim.kernels.spaces): grid offsets in
Mesa's order, cells and neighbour cells, CSR networks and their errors."""

import math
from collections import Counter

import numpy as np
import pytest
from numba import njit

from dod_sim.errors import ConfigError
from dod_sim.kernels.spaces import cell_of, degree, neighbour, neighbour_cell, wrap
from dod_sim.model import Column, Model, ModelWorld, Resource, Rows
from dod_sim.spaces import (MAX_RADIUS, Network, _pairs, grid_offsets, network_from_edges,
                            network_from_networkx, random_network)

RADII = (1, 2, 3)
SHAPES = [(r, m, c) for r in RADII for m in (True, False) for c in (False, True)]


# ---- compiled callers (the kernels are exercised from compiled code) ---------------------


@njit
def _cells(xs, ys, width, height, torus, out):
    for i in range(xs.shape[0]):
        out[i] = cell_of(xs[i], ys[i], width, height, torus)


@njit
def _wraps(vs, size, out):
    for i in range(vs.shape[0]):
        out[i] = wrap(vs[i], size)


@njit
def _neighbourhoods(offsets, width, height, torus, out):
    """out[c, k]: the k-th neighbour cell of every cell c = y * width + x."""
    for y in range(height):
        for x in range(width):
            for k in range(offsets.shape[0]):
                out[y * width + x, k] = neighbour_cell(x, y, k, offsets, width, height, torus)


@njit
def _neighbour_sums(net, values, out):
    for i in range(net.indptr.shape[0] - 1):
        s = 0.0
        for k in range(degree(net.indptr, i)):
            s += values[neighbour(net.indptr, net.indices, i, k)]
        out[i] = s


def neighbourhoods(offsets, width, height, torus):
    out = np.empty((width * height, len(offsets)), np.int64)
    _neighbourhoods(offsets, width, height, torus, out)
    return out


def mesa_list(width, height, torus, x, y, radius, moore, center):
    mesa_space = pytest.importorskip("mesa.space")  # the bench extra
    grid = mesa_space.SingleGrid(width, height, torus)
    return list(grid.get_neighborhood((x, y), moore, include_center=center, radius=radius))


def ours(row, width):
    """Our cells as Mesa's (x, y), off-grid ones skipped."""
    return [(int(c) % width, int(c) // width) for c in row if c >= 0]


# ---- grid offsets: Mesa's order ---------------------------------------------------------


@pytest.mark.parametrize("radius,moore,center", SHAPES)
def test_offsets_are_mesas_neighbourhood_in_mesas_order(radius, moore, center):
    off = grid_offsets(radius, moore, center)
    assert off.dtype == np.int64 and off.shape[1] == 2 and off.flags.c_contiguous
    x = y = 7
    got = [(x + int(dx), y + int(dy)) for dx, dy in off]
    assert got == mesa_list(15, 15, False, x, y, radius, moore, center)
    m = (2 * radius + 1) ** 2 - 1 if moore else 2 * radius * (radius + 1)
    assert len(off) == m + center


def test_radius_one_offsets_are_the_discrete_space_grids_order():
    assert grid_offsets(1).tolist() == [[-1, -1], [-1, 0], [-1, 1], [0, -1], [0, 1],
                                        [1, -1], [1, 0], [1, 1]]
    assert grid_offsets(1, moore=False).tolist() == [[-1, 0], [0, -1], [0, 1], [1, 0]]


@pytest.mark.parametrize("radius,moore,center", SHAPES)
@pytest.mark.parametrize("width,height", [(5, 4), (7, 7), (1, 3), (2, 9)])
def test_bounded_grid_agrees_with_mesa_at_every_cell(width, height, radius, moore, center):
    rows = neighbourhoods(grid_offsets(radius, moore, center), width, height, False)
    for y in range(height):
        for x in range(width):
            assert ours(rows[y * width + x], width) == \
                mesa_list(width, height, False, x, y, radius, moore, center), (x, y)


@pytest.mark.parametrize("radius,moore,center", SHAPES)
def test_torus_of_at_least_2r_plus_1_agrees_with_mesa_at_every_cell(radius, moore, center):
    side = 2 * radius + 1
    for width, height in ((side, side), (side + 2, side + 1)):
        rows = neighbourhoods(grid_offsets(radius, moore, center), width, height, True)
        assert (rows >= 0).all()
        for y in range(height):
            for x in range(width):
                assert ours(rows[y * width + x], width) == \
                    mesa_list(width, height, True, x, y, radius, moore, center), (x, y)


@pytest.mark.parametrize("radius,moore,center", SHAPES)
@pytest.mark.parametrize("width,height", [(1, 1), (2, 2), (3, 2), (1, 5), (4, 2)])
def test_small_torus_mesa_drops_repeats_and_the_square_itself(width, height, radius, moore,
                                                              center):
    assert width < 2 * radius + 1 or height < 2 * radius + 1  # wraps onto itself
    rows = neighbourhoods(grid_offsets(radius, moore, center), width, height, True)
    differs = False
    for y in range(height):
        for x in range(width):
            raw = ours(rows[y * width + x], width)
            seen, dedup = set(), []
            for cell in raw:
                if cell not in seen and (center or cell != (x, y)):
                    seen.add(cell)
                    dedup.append(cell)
            mesa = mesa_list(width, height, True, x, y, radius, moore, center)
            assert dedup == mesa, (x, y)
            differs |= raw != mesa
    assert differs  # wrapped neighbours do coincide: the raw offsets are not Mesa's list


# ---- cells ------------------------------------------------------------------------------


def py_cell(x, y, width, height, torus):
    if torus:
        return (y % height) * width + x % width
    return y * width + x if 0 <= x < width and 0 <= y < height else -1


@pytest.mark.parametrize("torus", [False, True])
@pytest.mark.parametrize("width,height", [(1, 1), (3, 2), (5, 7)])
def test_cell_of_every_square_on_and_off_the_grid(width, height, torus):
    xs, ys = np.meshgrid(np.arange(-2 * width - 1, 2 * width + 2),
                         np.arange(-2 * height - 1, 2 * height + 2), indexing="ij")
    xs, ys = xs.ravel().astype(np.int64), ys.ravel().astype(np.int64)
    out = np.empty(xs.size, np.int64)
    _cells(xs, ys, width, height, torus, out)
    assert out.tolist() == [py_cell(int(x), int(y), width, height, torus)
                            for x, y in zip(xs, ys)]


def test_wrap_is_pythons_modulo_for_negative_values():
    vs = np.arange(-40, 41, dtype=np.int64)
    for size in (1, 3, 7):
        out = np.empty_like(vs)
        _wraps(vs, size, out)
        assert out.tolist() == [int(v) % size for v in vs]


@pytest.mark.parametrize("torus", [False, True])
@pytest.mark.parametrize("moore", [True, False])
@pytest.mark.parametrize("radius", RADII)
@pytest.mark.parametrize("width,height", [(1, 1), (2, 3), (6, 5), (9, 9)])
def test_neighbour_cell_equals_plain_python_at_every_cell(width, height, radius, moore, torus):
    off = grid_offsets(radius, moore)
    rows = neighbourhoods(off, width, height, torus)
    for y in range(height):
        for x in range(width):
            want = [py_cell(x + int(dx), y + int(dy), width, height, torus) for dx, dy in off]
            assert rows[y * width + x].tolist() == want


# ---- networks ---------------------------------------------------------------------------


def edge_set(net):
    return {(i, int(j)) for i in range(len(net.indptr) - 1)
            for j in net.indices[net.indptr[i]:net.indptr[i + 1]]}


def check_csr(net, n):
    assert isinstance(net, Network)
    assert net.indptr.dtype == np.int64 and net.indices.dtype == np.int64
    assert net.indptr.shape == (n + 1,) and net.indptr[0] == 0
    assert net.indptr[-1] == len(net.indices) and (np.diff(net.indptr) >= 0).all()
    for i in range(n):
        row = net.indices[net.indptr[i]:net.indptr[i + 1]]
        assert (np.diff(row) > 0).all()  # ascending, each once


@pytest.mark.parametrize("directed", [False, True])
@pytest.mark.parametrize("n,m,seed", [(1, 3, 0), (5, 0, 1), (6, 20, 2), (40, 150, 3)])
def test_edges_round_trip_through_csr(n, m, seed, directed):
    rng = np.random.default_rng(seed)
    edges = rng.integers(0, n, size=(m, 2)).astype(np.int32)  # repeats and self-loops
    net = network_from_edges(edges, n, directed=directed)
    check_csr(net, n)
    want = {(int(u), int(v)) for u, v in edges}
    if not directed:
        want |= {(v, u) for u, v in want}
    assert edge_set(net) == want
    count = Counter(u for u, _ in want)  # repeats kept once: count distinct neighbours
    assert np.diff(net.indptr).tolist() == [count[i] for i in range(n)]


def test_repeats_and_self_loops_are_kept_once():
    net = network_from_edges([[0, 1], [1, 0], [0, 1], [2, 2], [2, 2]], 4)
    assert net.indptr.tolist() == [0, 1, 2, 3, 3]
    assert net.indices.tolist() == [1, 0, 2]
    d = network_from_edges([[0, 1], [1, 0], [0, 1], [2, 2]], 3, directed=True)
    assert d.indptr.tolist() == [0, 1, 2, 3] and d.indices.tolist() == [1, 0, 2]


def test_compiled_neighbour_sums_equal_a_python_loop():
    net = random_network(300, 5.0, seed=11)
    values = np.random.default_rng(0).random(300)
    out = np.empty(300)
    _neighbour_sums(net, values, out)
    want = [sum(values[j] for j in net.indices[net.indptr[i]:net.indptr[i + 1]])
            for i in range(300)]
    assert out == pytest.approx(want, rel=1e-12)
    assert np.diff(net.indptr).sum() > 1000  # it did sum something


def test_networkx_graphs_are_relabelled_in_node_order():
    nx = pytest.importorskip("networkx")
    g = nx.Graph()
    g.add_nodes_from(["c", "a", "lonely", "b"])
    g.add_edges_from([("a", "b"), ("c", "a"), ("b", "b")])
    net = network_from_networkx(g)
    check_csr(net, 4)  # c=0, a=1, lonely=2, b=3
    assert edge_set(net) == {(0, 1), (1, 0), (1, 3), (3, 1), (3, 3)}
    d = network_from_networkx(nx.DiGraph([(2, 1), (1, 0), (0, 2), (0, 1)]))  # nodes 2, 1, 0
    assert edge_set(d) == {(0, 1), (1, 2), (2, 0), (2, 1)}
    multi = network_from_networkx(nx.MultiGraph([(0, 1), (0, 1), (1, 2)]))
    assert edge_set(multi) == {(0, 1), (1, 0), (1, 2), (2, 1)}


def test_networkx_random_graph_has_the_same_neighbours():
    nx = pytest.importorskip("networkx")
    g = nx.erdos_renyi_graph(200, 0.05, seed=3)
    net = network_from_networkx(g)
    check_csr(net, 200)
    for i in range(200):
        assert net.indices[net.indptr[i]:net.indptr[i + 1]].tolist() == sorted(g.neighbors(i))


def test_random_network_is_gnp_with_mesas_probability():
    n, avg = 2000, 6.0
    a = random_network(n, avg, seed=5)
    check_csr(a, n)
    b = random_network(n, avg, seed=5)
    assert a.indptr.tolist() == b.indptr.tolist() and a.indices.tolist() == b.indices.tolist()
    assert edge_set(random_network(n, avg, seed=6)) != edge_set(a)
    e = edge_set(a)
    assert all((v, u) in e for u, v in e) and all(u != v for u, v in e)
    pairs, p = n * (n - 1) // 2, avg / n  # Mesa: prob = avg_node_degree / num_nodes
    sd = math.sqrt(pairs * p * (1 - p))
    assert abs(len(e) // 2 - pairs * p) < 5 * sd
    assert random_network(7, 0, seed=1).indices.size == 0
    assert edge_set(random_network(7, 7, seed=1)) == {(u, v) for u in range(7)
                                                      for v in range(7) if u != v}


def test_random_network_draws_every_pair_with_probability_p():
    n, avg, seeds = 5, 2.0, 2000
    hits = Counter()
    for s in range(seeds):
        hits.update((u, v) for u, v in edge_set(random_network(n, avg, s)) if u < v)
    p = avg / n
    sd = math.sqrt(seeds * p * (1 - p))
    assert len(hits) == n * (n - 1) // 2
    assert all(abs(c - seeds * p) < 5 * sd for c in hits.values()), hits


def test_pair_numbers_cover_every_pair_once():
    n = 300
    i, j = _pairs(np.arange(n * (n - 1) // 2, dtype=np.int64))
    assert ((0 <= i) & (i < j) & (j < n)).all()
    assert len(set(zip(i.tolist(), j.tolist()))) == n * (n - 1) // 2
    top = (2**31 - 1) * (2**31 - 2) // 2  # pair number of (0, 2**31 - 1)
    big = np.array([top - 1, top, 2**60 + 12345], np.int64)  # float root of top - 1: one too high
    bi, bj = _pairs(big)
    assert ((0 <= bi) & (bi < bj)).all() and (bj * (bj - 1) // 2 + bi == big).all()
    assert bi[:2].tolist() == [2**31 - 3, 0] and bj[:2].tolist() == [2**31 - 2, 2**31 - 1]


# ---- a Network as a model resource ------------------------------------------------------


@njit
def spread(i, key, p, net, v):
    s = np.int64(0)
    for k in range(degree(net.indptr, i)):
        s += v[neighbour(net.indptr, net.indices, i, k)]
    return s


@njit
def init_v(i, key, p):
    return np.int64(i % 7)


NET_MODEL = Model(
    "test_spaces_net", params={"avg_degree": 4.0},
    columns=[Column("v", np.int64, init_v), Column("s", np.int64, 0)],
    resources=[Resource("net", lambda p, n, seed: random_network(n, p.avg_degree, seed))],
    systems=[Rows("spread", spread, reads=("net", "v"), writes=("s",))],
)


def test_a_network_is_a_model_resource():
    w = ModelWorld(NET_MODEL, 500, seed=3, threads=1)
    w.run(1, stats=False)
    net = w.resources["net"]
    v = w.columns["v"]
    want = [int(v[net.indices[net.indptr[i]:net.indptr[i + 1]]].sum()) for i in range(500)]
    assert w.columns["s"].tolist() == want and sum(want) > 0
    again = random_network(500, 4.0, 3)
    assert net.indices.tolist() == again.indices.tolist()


# ---- errors -----------------------------------------------------------------------------


@pytest.mark.parametrize("radius", [0, -1, 1.5, True, "2", None, MAX_RADIUS + 1, 10**9])
def test_bad_radius(radius):
    with pytest.raises(ConfigError) as e:
        grid_offsets(radius)
    assert e.value.field == "radius" and e.value.bound == (1, MAX_RADIUS)
    assert "[1, 1000]" in str(e.value)


def test_largest_radius_is_accepted():
    assert grid_offsets(np.int64(MAX_RADIUS), moore=False).shape == \
        (2 * MAX_RADIUS * (MAX_RADIUS + 1), 2)


@pytest.mark.parametrize("nodes", [0, -3, 2.0, True, None, 2**31])
def test_bad_nodes(nodes):
    for make in (lambda: network_from_edges(np.zeros((0, 2), np.int64), nodes),
                 lambda: random_network(nodes, 1.0, 0)):
        with pytest.raises(ConfigError) as e:
            make()
        assert e.value.field == "nodes" and e.value.bound == (1, 2**31 - 1)
        assert "[1, 2147483647]" in str(e.value)


@pytest.mark.parametrize("edges", [np.zeros(3, np.int64), np.zeros((2, 3), np.int64),
                                   np.zeros((2, 2, 2), np.int64), [[0, 1], [2]],
                                   np.array([[0.0, 1.0]]), np.array([[True, False]]),
                                   [["a", "b"]]])
def test_edges_of_the_wrong_shape_or_type(edges):
    with pytest.raises(ConfigError) as e:
        network_from_edges(edges, 4)
    assert e.value.field == "edges" and "(m, 2)" in str(e.value)


@pytest.mark.parametrize("bad", [-1, 4, 2**40])
def test_edges_naming_missing_nodes(bad):
    for dtype in (np.int64, np.int32, np.uint64):
        if bad < 0 and dtype is np.uint64 or bad > 2**31 and dtype is np.int32:
            continue
        edges = np.array([[0, 1], [2, bad]]).astype(dtype)
        with pytest.raises(ConfigError) as e:
            network_from_edges(edges, 4)
        assert e.value.field == "edges" and e.value.value == bad and e.value.bound == (0, 3)
        assert "0..3" in str(e.value) and str(bad) in str(e.value)


def test_empty_edge_lists_are_fine():
    for edges in ([], np.zeros((0, 2), np.uint8), np.zeros(0)):
        net = network_from_edges(edges, 3)
        assert net.indptr.tolist() == [0, 0, 0, 0] and net.indices.size == 0


@pytest.mark.parametrize("avg", [-0.5, 11, float("nan"), float("inf"), "3", None, True])
def test_bad_avg_degree(avg):
    with pytest.raises(ConfigError) as e:
        random_network(10, avg, 0)
    assert e.value.field == "avg_degree" and e.value.bound == (0, 10)
    assert "[0, 10]" in str(e.value)


@pytest.mark.parametrize("seed", [-1, 2**63, 1.0, None])
def test_bad_seed(seed):
    with pytest.raises(ConfigError) as e:
        random_network(10, 2, seed)
    assert e.value.field == "seed" and e.value.bound == (0, 2**63 - 1)


def test_bad_graphs():
    with pytest.raises(ConfigError) as e:
        network_from_networkx([(0, 1)])
    assert e.value.field == "graph"
    nx = pytest.importorskip("networkx")
    with pytest.raises(ConfigError) as e:
        network_from_networkx(nx.Graph())
    assert e.value.field == "graph" and e.value.bound == 1 and "at least 1" in str(e.value)
