"""kernels.borrow: borrowed views write through to the arrays they borrow, in the
pattern the models use (rebinding the argument, inlined helpers, a kill between moves),
and are the object itself in a model's debug mode."""

import numpy as np
from numba import njit

from dod_sim.kernels.borrow import borrow
from dod_sim.kernels.cells import cell_list, insert, move
from dod_sim.kernels.population import kill, population


@njit
def _moves(cells, pop, rows, to):
    cells, pop = borrow((cells, pop))  # rebinding the arguments, as a model's system does
    for k in range(rows.shape[0]):
        if to[k] < 0:
            kill(pop, rows[k])
            move(cells, rows[k], -1)
        else:
            move(cells, rows[k], to[k])


def test_moves_through_borrowed_views_land_in_the_arrays():
    rng = np.random.default_rng(5)
    n, ncells = 50, 40
    cells = cell_list(n, ncells)
    pop = population(np.zeros(n, np.uint8), np.zeros(n, np.int64), n)
    for i in range(n):
        insert(cells, i, i % ncells)
    rows = rng.permutation(n)[:30]
    to = np.where(rng.random(30) < 0.3, -1, rng.integers(0, ncells, 30))
    _moves(cells, pop, rows, to)
    where = np.arange(n) % ncells
    where[rows] = to
    assert cells.cell.tolist() == where.tolist()
    assert cells.count.tolist() == np.bincount(where[where >= 0], minlength=ncells).tolist()
    assert pop.count[3] == n - (to < 0).sum()
    for c in range(ncells):  # each list holds exactly its cell's rows
        r, seen = cells.head[c], []
        while r >= 0:
            seen.append(r)
            r = cells.nxt[r]
        assert sorted(seen) == np.flatnonzero(where == c).tolist()


@njit
def _nested(t):
    (a, (b, k)) = borrow(t)
    a[0] = k
    b[0, 1] = 2.5 * k
    return a.sum() + b.sum()


def test_nested_tuples_and_scalars_pass_through():
    a, b = np.zeros(3, np.int64), np.zeros((2, 2))
    assert _nested((a, (b, 4))) == 4 + 10.0
    assert a.tolist() == [4, 0, 0] and b.ravel().tolist() == [0, 10.0, 0, 0]


def test_in_debug_mode_it_is_the_argument():
    from dod_sim.debug import _stand_in

    t = (np.zeros(2), 3)
    assert _stand_in(borrow)(t) is t
