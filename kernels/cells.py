"""A neighbour index that follows moves one at a time: a linked list of rows per cell.

``dod_sim.kernels.neighbours``' CellIndex is rebuilt once a tick by a counting sort:
right for synchronous updates, stale inside a random-sequential system, where each
agent must see the moves of the agents before it (flocking, Schelling and Wolf-Sheep in
Mesa and Agents.jl move agents one at a time). A :class:`CellList` is kept current by
:func:`move` in O(1), as Agents.jl's ``move_agent!`` keeps its space, inside compiled
systems:

    for j in range(random_order(key, n, order)):      # Mesa's shuffle_do
        i = order[j]
        ...                                            # look around: first/after
        move(cells, i, cell_of(nx, ny, p.width, p.height, True))

Iterate a cell with ``r = first(cells, c)`` and ``r = after(cells, r)`` until -1: the
most recently inserted row first. The helpers are inlined into their callers; in a loop,
borrow the list first (``cells = borrow(cells)``, :mod:`dod_sim.kernels.borrow`) and a
move costs what its lines cost. Every operation is deterministic; the list is state
(it decides iteration order), so a model declares it ``Resource(..., state=True)``.
"""

from typing import NamedTuple

import numpy as np

from ._jit import inline, kernel
from .population import shuffle

__all__ = ["CellList", "cell_list", "insert", "remove", "move", "first", "after",
           "rebuild", "random_order", "point_cell"]


class CellList(NamedTuple):
    """Rows in cells: ``capacity`` rows, ``cells`` cells.

    head : int64[cells], the first row of each cell, -1 when it is empty
    nxt, prv : int64[capacity], the next and previous row in the row's cell, -1 at the
        ends
    cell : int64[capacity], the cell holding each row, -1 when the row is in none
    count : int64[cells], rows in each cell
    """

    head: np.ndarray
    nxt: np.ndarray
    prv: np.ndarray
    cell: np.ndarray
    count: np.ndarray


def cell_list(capacity: int, cells: int) -> CellList:
    """An empty CellList (every row in no cell). 40 bytes a row and 16 a cell."""
    return CellList(np.full(cells, -1, np.int64), np.full(capacity, -1, np.int64),
                    np.full(capacity, -1, np.int64), np.full(capacity, -1, np.int64),
                    np.zeros(cells, np.int64))


@inline
def insert(cl, row, c):
    """Put ``row`` (in no cell) at the head of cell ``c``."""
    h = cl.head[c]
    cl.nxt[row] = h
    cl.prv[row] = -1
    if h >= 0:
        cl.prv[h] = row
    cl.head[c] = row
    cl.cell[row] = c
    cl.count[c] += 1


@inline
def remove(cl, row):
    """Take ``row`` out of its cell (nothing when it is in none)."""
    c = cl.cell[row]
    if c < 0:
        return
    p, q = cl.prv[row], cl.nxt[row]
    if p >= 0:
        cl.nxt[p] = q
    else:
        cl.head[c] = q
    if q >= 0:
        cl.prv[q] = p
    cl.nxt[row] = -1
    cl.prv[row] = -1
    cl.cell[row] = -1
    cl.count[c] -= 1


@inline
def move(cl, row, c):
    """``row`` into cell ``c`` (from wherever it is), at the head; nothing when it is
    there already. ``c = -1`` takes it out (a dead agent)."""
    if cl.cell[row] == c:
        return
    remove(cl, row)
    if c >= 0:
        insert(cl, row, c)


@inline
def first(cl, c):
    """The first row in cell ``c``, or -1."""
    return cl.head[c]


@inline
def after(cl, row):
    """The row after ``row`` in its cell, or -1."""
    return cl.nxt[row]


@kernel
def rebuild(cl, cells, n):
    """Empty the list, then insert rows ``0..n-1`` into ``cells[row]`` in row order (a
    cell of -1: in none). Serial and deterministic: each cell lists its rows from the
    highest down."""
    cl.head[:] = -1
    cl.count[:] = 0
    cl.nxt[:] = -1
    cl.prv[:] = -1
    cl.cell[:] = -1
    for i in range(n):
        if cells[i] >= 0:
            insert(cl, i, cells[i])


@kernel
def random_order(key, n, order):
    """Fill ``order[:n]`` with rows ``0..n-1`` in a uniformly random order drawn from
    ``key`` (Fisher-Yates; the draws of :func:`dod_sim.kernels.population.shuffled`),
    and return ``n``: the activation order of a random-sequential system over a table
    of fixed population."""
    for i in range(n):
        order[i] = i
    shuffle(key, order, n)
    return n


@kernel
def point_cell(x, y, size, ncx, ncy):
    """The cell of point (x, y) in a grid of square cells of side ``size``, ``ncx`` x
    ``ncy`` of them, clipped to the grid: ``iy * ncx + ix``."""
    ix = min(max(np.int64(x / size), 0), ncx - 1)
    iy = min(max(np.int64(y / size), 0), ncy - 1)
    return iy * ncx + ix
