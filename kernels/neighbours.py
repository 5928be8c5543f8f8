"""Neighbour search on a torus or a bounded grid: cell lists and Moore neighbourhoods.

A :class:`CellIndex` divides a ``width x height`` torus into ``ncx x ncy`` equal cells
and lists the rows of each cell contiguously: ``rows[start[c]:start[c + 1]]`` are the
rows in cell ``c = cy * ncx + cx``, in increasing row order. It is rebuilt each tick by
a counting sort in fixed chunks of ``CHUNK`` rows, with no atomics, no locks and no
allocation, so the lists are the same whatever the thread count:

1. count (parallel over row chunks): ``counts[chunk, block]``, a histogram of rows per
   block of ``cells_per_block`` consecutive cells (at most ``BLOCKS`` blocks, so the
   histogram stays small at a million cells);
2. an exclusive prefix sum in (block, chunk) order, serial: O(chunks x blocks);
3. scatter (parallel over row chunks): each row into its block's bucket, each chunk into
   its own range, so a bucket holds its rows in row order;
4. per block (parallel): a stable counting sort of the bucket by cell, which writes
   ``start`` and ``rows`` for the block's own cells only.

The index of points (:func:`index_points`) also keeps the positions in list order
(``px``, ``py``), so a query scans contiguous memory instead of gathering ``x[j]``.

Queries are exact: :func:`within` yields only rows whose torus distance to the point is
``<= r`` (the test is ``dx * dx + dy * dy <= r * r`` on the minimum-image offsets of
:func:`torus_delta`), and every such row exactly once, in cell then row order.

Grid models use :func:`index_grid` (integer cell coordinates, one cell per grid square)
and the Moore neighbourhood helpers :func:`moore_cell` and :func:`moore_pick`, which
follow Mesa's ``OrthogonalMooreGrid`` (bounded by default, torus optional).
"""

from typing import NamedTuple

import numpy as np
from numba import prange

from ._jit import inline, kernel
from .rng import below

__all__ = [
    "CHUNK", "BLOCKS", "CellIndex", "torus_delta", "cell_of", "index_points", "index_grid",
    "query_span", "span_cell", "offset", "within", "moore_size", "moore_cell", "moore_pick",
]

CHUNK = 4096  # rows per chunk of the counting sort
BLOCKS = 256  # most cell blocks: counts is (chunks x 256) int64, 0.5 MB at a million rows
# A query widens its cell span when r / cell is within this of an integer from below:
# x / cell_w is rounded (relative error 2**-53 of up to ncx), so a point at distance
# exactly k cells may land one cell further. dod_sim.model.cell_index makes cells at
# least r * (1 + 1e-6) wide, so a query of the index's own radius still scans 3 x 3.
_SLACK = 1e-7


class CellIndex(NamedTuple):
    """A cell-list index over ``capacity`` rows (made by ``dod_sim.model.cell_index``).

    width, height : float64, the torus (or grid) size
    ncx, ncy : int64, cells per side; cell_w = width / ncx, cell_h = height / ncy;
        inv_w = 1 / cell_w, inv_h = 1 / cell_h (a query multiplies: no division)
    start : int64[ncx * ncy + 1], the list of cell c is rows[start[c]:start[c + 1]]
    rows : int32[capacity], rows grouped by cell, increasing within a cell
    px, py : float64[capacity], the positions of rows[k] (points index; empty for grids)
    cell : int64[capacity], the cell of each row
    counts : int64[chunks, blocks], block_start : int64[blocks + 1],
    bucket : int32[capacity], cursor : int64[ncx * ncy] : scratch of the sort
    """

    width: float
    height: float
    ncx: int
    ncy: int
    cell_w: float
    cell_h: float
    inv_w: float
    inv_h: float
    start: np.ndarray
    rows: np.ndarray
    px: np.ndarray
    py: np.ndarray
    cell: np.ndarray
    counts: np.ndarray
    block_start: np.ndarray
    bucket: np.ndarray
    cursor: np.ndarray


@inline
def torus_delta(d, size):
    """The minimum-image offset of a difference ``d`` of two coordinates in [0, size)."""
    if d > 0.5 * size:
        return d - size
    if d < -0.5 * size:
        return d + size
    return d


@inline
def _axis_cell(p, inv, n):
    c = np.int64(p * inv)
    if c >= n:
        return n - 1
    if c < 0:
        return np.int64(0)
    return c


@kernel
def cell_of(ix, px, py):
    """The cell of a point with 0 <= px < width, 0 <= py < height."""
    return _axis_cell(py, ix.inv_h, ix.ncy) * ix.ncx + _axis_cell(px, ix.inv_w, ix.ncx)


@kernel(parallel=True)
def _count(cell, n, per_block, counts):
    n_chunks = (n + CHUNK - 1) // CHUNK
    n_blocks = counts.shape[1]
    for c in prange(n_chunks):
        for b in range(n_blocks):
            counts[c, b] = 0
        for i in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            counts[c, cell[i] // per_block] += 1


@kernel
def _prefix(n, counts, block_start):
    n_chunks = (n + CHUNK - 1) // CHUNK
    pos = np.int64(0)
    for b in range(counts.shape[1]):
        block_start[b] = pos
        for c in range(n_chunks):
            k = counts[c, b]
            counts[c, b] = pos
            pos += k
    block_start[counts.shape[1]] = pos


@kernel(parallel=True)
def _scatter(cell, n, per_block, counts, bucket):
    n_chunks = (n + CHUNK - 1) // CHUNK
    for c in prange(n_chunks):
        for i in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            b = cell[i] // per_block
            bucket[counts[c, b]] = i
            counts[c, b] += 1


@kernel(parallel=True)
def _sort_blocks(cell, bucket, block_start, per_block, n_cells, start, rows, cursor):
    n_blocks = block_start.shape[0] - 1
    for b in prange(n_blocks):
        c0 = b * per_block
        c1 = min(n_cells, c0 + per_block)
        for c in range(c0, c1):
            cursor[c] = 0
        for k in range(block_start[b], block_start[b + 1]):
            cursor[cell[bucket[k]]] += 1
        pos = block_start[b]
        for c in range(c0, c1):
            start[c] = pos
            m = cursor[c]
            cursor[c] = pos
            pos += m
        for k in range(block_start[b], block_start[b + 1]):
            r = bucket[k]
            c = cell[r]
            rows[cursor[c]] = r
            cursor[c] += 1


@kernel
def _sort_by_cell(ix, n):
    """Rebuild start and rows from ix.cell[:n] (steps 1-4 of the module docstring)."""
    n_cells = ix.ncx * ix.ncy
    n_blocks = ix.counts.shape[1]
    per_block = (n_cells + n_blocks - 1) // n_blocks
    _count(ix.cell, n, per_block, ix.counts)
    _prefix(n, ix.counts, ix.block_start)
    _scatter(ix.cell, n, per_block, ix.counts, ix.bucket)
    _sort_blocks(ix.cell, ix.bucket, ix.block_start, per_block, n_cells, ix.start, ix.rows,
                 ix.cursor)
    ix.start[n_cells] = n


# The parallel kernels take the index's arrays one by one: a write through a NamedTuple's
# array field inside prange is lost (https://github.com/numba/numba/issues/7135).
@kernel(parallel=True)
def _cells_of_points(x, y, n, inv_w, inv_h, ncx, ncy, cell):
    for c in prange((n + CHUNK - 1) // CHUNK):
        for i in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            cell[i] = _axis_cell(y[i], inv_h, ncy) * ncx + _axis_cell(x[i], inv_w, ncx)


@kernel(parallel=True)
def _gather_points(x, y, n, rows, px, py):
    for c in prange((n + CHUNK - 1) // CHUNK):
        for k in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            r = rows[k]
            px[k] = x[r]
            py[k] = y[r]


@kernel
def index_points(ix, x, y, n):
    """Index rows 0..n-1 at positions x, y : float64[>= n], each in [0, width) x [0, height).

    Writes ix.cell, start, rows, px, py (and the scratch). Same result for any thread count.
    """
    _cells_of_points(x, y, n, ix.inv_w, ix.inv_h, ix.ncx, ix.ncy, ix.cell)
    _sort_by_cell(ix, n)
    _gather_points(x, y, n, ix.rows, ix.px, ix.py)


@kernel(parallel=True)
def _cells_of_grid(x, y, n, ncx, cell):
    for c in prange((n + CHUNK - 1) // CHUNK):
        for i in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            cell[i] = np.int64(y[i]) * ncx + np.int64(x[i])


@kernel
def index_grid(ix, x, y, n):
    """Index rows 0..n-1 by integer cell coordinates x in [0, ncx), y in [0, ncy) (any
    integer dtype): cell lists of a grid with one index cell per grid square."""
    _cells_of_grid(x, y, n, ix.ncx, ix.cell)
    _sort_by_cell(ix, n)


@inline
def _axis_span(p, r, inv, n):
    """(first cell, count) along one axis of the cells that may hold points within r
    of p; first is in [0, n) and the cells are first, first + 1, ... modulo n."""
    k = np.int64(np.ceil(r * inv + _SLACK))
    if 2 * k + 1 >= n:
        return np.int64(0), n
    first = _axis_cell(p, inv, n) - k
    if first < 0:
        first += n
    return first, 2 * k + 1


@inline
def query_span(ix, px, py, r):
    """The block of cells a query of radius r around (px, py) must scan:
    (x0, nx, y0, ny); visit it with span_cell(ix, x0, y0, a, b) for a in range(ny),
    b in range(nx), each cell once."""
    x0, nx = _axis_span(px, r, ix.inv_w, ix.ncx)
    y0, ny = _axis_span(py, r, ix.inv_h, ix.ncy)
    return x0, nx, y0, ny


@inline
def span_cell(ix, x0, y0, a, b):
    """Cell (b, a) of a span from :func:`query_span` (wrapped by a compare, not a
    modulo: an integer division per cell cost a third of a boids step)."""
    cx = x0 + b
    if cx >= ix.ncx:
        cx -= ix.ncx
    cy = y0 + a
    if cy >= ix.ncy:
        cy -= ix.ncy
    return cy * ix.ncx + cx


@inline
def offset(ix, k, px, py):
    """(dx, dy, d2): minimum-image offset from (px, py) to the point at list position k
    (a points index), and its squared length."""
    dx = torus_delta(ix.px[k] - px, ix.width)
    dy = torus_delta(ix.py[k] - py, ix.height)
    return dx, dy, dx * dx + dy * dy


# Not cached: a generator loaded from Numba's cache cannot be lowered into a caller
# compiled later (KeyError in BaseContext._generators, Numba 0.68); its callers cache it.
@kernel(cache=False)
def within(ix, px, py, r):
    """Yield (row, dx, dy, d2) for every indexed row within distance r of (px, py): the
    minimum-image offset to it and its squared length, d2 <= r * r. The point itself
    (when it is a row) is included at d2 = 0.

    A generator is the convenient form; the same loop written out in the caller,

        x0, nx, y0, ny = query_span(ix, px, py, r)
        for a in range(ny):
            for b in range(nx):
                c = span_cell(ix, x0, y0, a, b)
                for k in range(ix.start[c], ix.start[c + 1]):
                    dx, dy, d2 = offset(ix, k, px, py)
                    if d2 <= r2: ...    # row ix.rows[k]

    runs about 2.5x faster (measured: 200,000 points, 3x3 cells of ~9 candidates,
    Numba 0.68: 45 ms against 120 ms a pass), because Numba does not inline a
    generator's resumption into the caller's loop.
    """
    r2 = r * r
    x0, nx, y0, ny = query_span(ix, px, py, r)
    for a in range(ny):
        for b in range(nx):
            c = span_cell(ix, x0, y0, a, b)
            for k in range(ix.start[c], ix.start[c + 1]):
                dx, dy, d2 = offset(ix, k, px, py)
                if d2 <= r2:
                    yield np.int64(ix.rows[k]), dx, dy, d2


@inline
def moore_size(radius):
    """Cells of a Moore neighbourhood without its centre: (2r + 1)^2 - 1."""
    side = 2 * radius + 1
    return side * side - 1


@kernel
def moore_cell(x, y, width, height, radius, torus, q):
    """The q-th cell (0 <= q < moore_size(radius)) around (x, y), centre excluded, in
    Mesa's order (x offset major, then y offset): (nx, ny), or (-1, -1) when it lies off
    a bounded grid. On a torus, width and height must be >= 2 * radius + 1 (otherwise
    a cell would appear twice, which Mesa's dict of cells does not allow)."""
    side = 2 * radius + 1
    if q >= (side * side) // 2:
        q += 1
    nx = x + q // side - radius
    ny = y + q % side - radius
    if torus:
        return nx % width, ny % height
    if nx < 0 or nx >= width or ny < 0 or ny >= height:
        return -1, -1
    return nx, ny


@kernel
def moore_pick(x, y, width, height, radius, torus, u):
    """A uniformly chosen cell of the Moore neighbourhood of (x, y) (centre excluded),
    given a uniform uint64 ``u``: the ``below(u, m)``-th of its m cells that lie on the
    grid. Returns (x, y) itself when the neighbourhood is empty (a 1 x 1 grid)."""
    size = moore_size(radius)
    if torus or (radius <= x < width - radius and radius <= y < height - radius):
        return moore_cell(x, y, width, height, radius, torus, below(u, size))
    m = 0  # at the border: count the cells on the grid, then walk to the pick
    for q in range(size):
        nx, ny = moore_cell(x, y, width, height, radius, torus, q)
        if nx >= 0:
            m += 1
    if m == 0:
        return x, y
    pick = below(u, m)
    for q in range(size):
        nx, ny = moore_cell(x, y, width, height, radius, torus, q)
        if nx >= 0:
            if pick == 0:
                return nx, ny
            pick -= 1
    return x, y
