"""dod_sim.kernels.cells: a per-cell linked list kept current by move, against a Python
dict of sets; a sequential flocking-style kernel whose queries equal brute force after
every move; random_order as the population's shuffle."""

import numpy as np
import pytest
from numba import njit

from dod_sim.kernels import cells as C
from dod_sim.kernels.population import population, shuffled
from dod_sim.kernels.rng import draw, row_key, uniform


def listed(cl, c):
    out, r = [], C.first(cl, c)
    while r >= 0:
        out.append(int(r))
        r = C.after(cl, r)
    return out


def check(cl, truth):
    for c in range(cl.head.shape[0]):
        rows = listed(cl, c)
        assert set(rows) == truth.get(c, set()) and len(rows) == cl.count[c]
        for a, b in zip(rows, rows[1:]):
            assert cl.prv[b] == a
    for r in range(cl.cell.shape[0]):
        want = next((c for c, s in truth.items() if r in s), -1)
        assert cl.cell[r] == want


@pytest.mark.parametrize("seed", range(4))
def test_moves_inserts_and_removals_match_a_dict_of_sets(seed):
    rng = np.random.default_rng(seed)
    cl, truth = C.cell_list(40, 9), {}
    for _ in range(400):
        row, c = int(rng.integers(40)), int(rng.integers(-1, 9))
        C.move(cl, row, c)
        for s in truth.values():
            s.discard(row)
        if c >= 0:
            truth.setdefault(c, set()).add(row)
    check(cl, truth)
    cells = rng.integers(-1, 9, 40)
    C.rebuild(cl, cells, 40)
    check(cl, {c: set(np.flatnonzero(cells == c).tolist()) for c in range(9)})
    assert listed(cl, int(cells[cells >= 0][0])) == sorted(
        np.flatnonzero(cells == cells[cells >= 0][0]).tolist(), reverse=True)


@njit
def sequential_flock(key, x, y, cl, order, size, ncx, ncy, width, radius):
    """Each agent in a random order counts its neighbours through the list (3 x 3
    cells), checks the count by brute force, then moves; returns mismatches."""
    n = x.shape[0]
    bad = 0
    for j in range(C.random_order(key, n, order)):
        i = order[j]
        ci = C.point_cell(x[i], y[i], size, ncx, ncy)
        cx, cy = ci % ncx, ci // ncx
        near = 0
        for dy in range(-1, 2):
            for dx in range(-1, 2):
                c = ((cy + dy) % ncy) * ncx + (cx + dx) % ncx
                r = C.first(cl, c)
                while r >= 0:
                    ddx = abs(x[r] - x[i])
                    ddy = abs(y[r] - y[i])
                    ddx = min(ddx, width - ddx)
                    ddy = min(ddy, width - ddy)
                    if r != i and ddx * ddx + ddy * ddy <= radius * radius:
                        near += 1
                    r = C.after(cl, r)
        brute = 0
        for r in range(n):
            ddx = abs(x[r] - x[i])
            ddy = abs(y[r] - y[i])
            ddx = min(ddx, width - ddx)
            ddy = min(ddy, width - ddy)
            if r != i and ddx * ddx + ddy * ddy <= radius * radius:
                brute += 1
        bad += near != brute
        k = draw(key, 10_000 + j)
        x[i] = (x[i] + 3.0 * (uniform(k, 0) - 0.5)) % width
        y[i] = (y[i] + 3.0 * (uniform(k, 1) - 0.5)) % width
        C.move(cl, i, C.point_cell(x[i], y[i], size, ncx, ncy))
    return bad


def test_a_sequential_system_sees_every_earlier_move():
    n, width, radius = 300, 40.0, 4.0
    rng = np.random.default_rng(1)
    x, y = rng.uniform(0, width, n), rng.uniform(0, width, n)
    ncx = ncy = 10
    size = width / ncx  # >= radius: a query scans 3 x 3 cells
    cl = C.cell_list(n, ncx * ncy)
    cells = np.array([C.point_cell(a, b, size, ncx, ncy) for a, b in zip(x, y)])
    C.rebuild(cl, cells, n)
    order = np.zeros(n, np.int64)
    for tick in range(5):
        assert sequential_flock(np.uint64(row_key(1, tick, 0)), x, y, cl, order, size, ncx,
                                ncy, width, radius) == 0
    # a list that is not kept current is caught by the same check
    C.move(cl, 0, (cl.cell[0] + 37) % (ncx * ncy))
    assert sequential_flock(np.uint64(row_key(1, 9, 0)), x, y, cl, order, size, ncx, ncy,
                            width, radius) > 0


def test_random_order_is_the_population_shuffle():
    key = np.uint64(row_key(7, 3, 0))
    order = np.zeros(50, np.int64)
    assert C.random_order(key, 50, order) == 50
    assert sorted(order) == list(range(50))
    alive, ids = np.zeros(50, np.uint8), np.zeros(50, np.int64)
    pop = population(alive, ids, 50)
    assert shuffled(pop, key, 50) == 50
    assert (pop.order == order).all()
