"""Boltzmann wealth on a grid, after Mesa 3.3.1's
``mesa/examples/basic/boltzmann_wealth_model/model.py`` and ``agents.py``.

Mesa's rules: ``agents`` agents start with wealth 1 on uniformly random cells (with
repetition) of a width x height ``OrthogonalMooreGrid``, bounded (Mesa's default
``torus=False``). A step activates every agent once in a uniformly random order
(``shuffle_do``): the agent moves to a uniformly random cell of its Moore neighbourhood
(8 cells, fewer at the border), then, when its wealth is > 0 and another agent is in
its cell at that moment, gives 1 to a uniformly random one of them. The statistic is
Mesa's ``compute_gini``.

A plain synchronous update (everybody moves, then everybody gives) is a different
model: two agents that meet give to each other and the exchange cancels, and the Gini
coefficient settles near 0.40 where Mesa's reaches 0.66 (100 agents, 10 x 10, measured
over 12 seeds). So this model replays Mesa's sequential activation exactly, in parallel:

* ``index_old``, ``move``, ``index_new``: every agent draws a priority ``prio`` (its
  place in the random order; ties go to the lower row) and its move; cell lists of the
  old and the new positions.
* ``choose``: at its turn, agent i's cellmates are the agents of its new cell that
  came before it (already moved there) and those whose old cell it is that come after
  it (not moved yet). It picks one uniformly: ``target``, in its own row.
* ``decide``: i gives when its wealth plus what it received before its turn is > 0.
  That depends on whether earlier agents gave, so it is the least fixed point of a
  monotone map, found by synchronous rounds from "wealth > 0" (each round a parallel
  pass; the rounds needed are the longest chain of gifts passed on within a step plus
  one that changes nothing: 4 to 6 measured from 10,000 to 1,000,000 agents, counted
  in the ``rounds`` resource). Gifts only go to later turns of the receiver through its
  old cell, and the order has no cycles, so the point is unique: Mesa's outcome.
* ``settle``: every agent gathers the gifts addressed to it from the two cell lists
  it can be found in (old cell before its turn, new cell after).

``choose``, ``decide`` and ``settle`` visit rows in cell order, for locality; the result
does not depend on it. At a million agents a step is still bound by memory latency
(row numbers are in random spatial order, so cellmates' columns miss the cache):
about 0.7 M agent-steps/s on this 2-core VM against 2.3 M at 10,000 agents.

Given the same order, moves and choices, the result equals Mesa's sequential loop
exactly (``tests/test_models.py`` replays it in Python); the draws themselves come from
the counter-based generator, so the run is a different sample than Mesa's for the same
seed, with the same distribution. Wealth is conserved exactly and never negative.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from ..errors import ConfigError
from ..kernels._jit import inline, kernel
from ..kernels.neighbours import moore_pick
from ..kernels.rng import draw
from ..model import Column, IndexGrid, Kernel, Model, ModelWorld, Resource, Rows, grid_index

__all__ = ["MODEL", "world", "gini", "side_for"]

CHUNK = 4096  # rows per chunk of the decide rounds


@kernel
def init_x(i, key, p):
    return draw(key, 0) % np.uint64(p.width)


@kernel
def init_y(i, key, p):
    return draw(key, 0) % np.uint64(p.height)


@kernel
def move(i, key, p, x, y):
    """(x, y, prio) of row i: its new cell and its place in this step's random order."""
    nx, ny = moore_pick(x[i], y[i], p.width, p.height, 1, False, draw(key, 0))
    return nx, ny, draw(key, 1)


@inline
def _before(prio, j, i):
    """True when j's turn comes before i's: lower priority, ties to the lower row."""
    return prio[j] < prio[i] or (prio[j] == prio[i] and j < i)


@kernel
def choose(i, key, p, prio, old, new):
    """The cellmate i would give to at its turn (module docstring), or -1 if none.

    Candidates, in this order: rows of i's new cell in the new lists that come before i,
    then rows of that cell in the old lists that come after i.
    """
    # Fields read once: a field of a NamedTuple read inside the loops cost ~40 % more.
    nstart, nrows, ostart, orows = new.start, new.rows, old.start, old.rows
    c = new.cell[i]
    m = 0
    for t in range(nstart[c], nstart[c + 1]):
        j = nrows[t]
        if j != i and _before(prio, j, i):
            m += 1
    for t in range(ostart[c], ostart[c + 1]):
        j = orows[t]
        if j != i and _before(prio, i, j):
            m += 1
    if m == 0:
        return -1
    k = np.int64(draw(key, 0) % np.uint64(m))
    for t in range(nstart[c], nstart[c + 1]):
        j = nrows[t]
        if j != i and _before(prio, j, i):
            if k == 0:
                return j
            k -= 1
    for t in range(ostart[c], ostart[c + 1]):
        j = orows[t]
        if j != i and _before(prio, i, j):
            if k == 0:
                return j
            k -= 1
    return -1


@inline
def _received(i, cell, before_i, prio, target, gives, start, rows):
    """Gifts to i from the givers whose new cell is ``cell`` (lists start, rows of the
    new index) and whose turn comes before i's (before_i) or after it (not before_i)."""
    got = 0
    for t in range(start[cell], start[cell + 1]):
        j = rows[t]
        if target[j] == i and gives[j] != 0 and _before(prio, j, i) == before_i:
            got += 1
    return got


@kernel(parallel=True)
def _decide_round(n, wealth, prio, target, old_cell, start, rows, gives, spare, changes):
    for c in prange((n + CHUNK - 1) // CHUNK):
        changed = 0
        for q in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            i = np.int64(rows[q])  # in cell order, for locality (the result is the same)
            # Before its turn i is still in its old cell: gifts made there reach it.
            early = _received(i, old_cell[i], True, prio, target, gives, start, rows)
            g = 1 if target[i] >= 0 and wealth[i] + early > 0 else 0
            spare[i] = g
            changed += g != gives[i]
        changes[c] = changed


@kernel(parallel=True)
def _copy(n, src, dst):
    for c in prange((n + CHUNK - 1) // CHUNK):
        for i in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            dst[i] = src[i]


@kernel
def decide(key, n, p, wealth, prio, target, old, new, gives, spare, changes, rounds):
    """gives[i] = 1 when i gives at its turn: the least fixed point of
    g_i = target_i >= 0 and wealth_i + (gifts to i before its turn, from g) > 0,
    by synchronous rounds from g_i = target_i >= 0 and wealth_i > 0. rounds[0] += rounds.
    gives, spare : int8[n]; changes : int64[chunks]; rounds : int64[1]."""
    for c in range((n + CHUNK - 1) // CHUNK):
        for i in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            gives[i] = 1 if target[i] >= 0 and wealth[i] > 0 else 0
    for _ in range(n + 1):  # each round fixes at least one more turn of the order
        _decide_round(n, wealth, prio, target, old.cell, new.start, new.rows, gives, spare,
                      changes)
        rounds[0] += 1
        _copy(n, spare, gives)
        if changes[:(n + CHUNK - 1) // CHUNK].sum() == 0:
            break


@kernel
def settle(i, key, p, wealth, gives, target, prio, old, new):
    """wealth[i] + gifts received (before its turn in its old cell, after it in its new
    cell) - its own gift."""
    start, rows = new.start, new.rows
    got = _received(i, old.cell[i], True, prio, target, gives, start, rows)
    got += _received(i, new.cell[i], False, prio, target, gives, start, rows)
    return wealth[i] + got - gives[i]


def gini(world) -> float:
    """Mesa's compute_gini (sorted wealth x, b = sum x_i (n - i) / (n sum x),
    1 + 1/n - 2b) from a histogram of wealth, so O(n) instead of a sort."""
    w = world.columns["wealth"]
    n = w.size
    counts = np.bincount(w).astype(np.float64)
    values = np.arange(counts.size, dtype=np.float64)
    first = np.cumsum(counts) - counts  # sorted position of each value's first copy
    # sum over i in [first, first + c) of (n - i) = c n - c first - c (c - 1) / 2
    b = float(np.sum(values * (counts * n - counts * first - counts * (counts - 1) / 2)))
    return 1.0 + 1.0 / n - 2.0 * b / (n * float(w.sum()))


def _check(p, agents):
    for k in ("width", "height"):
        if getattr(p, k) < 1:
            raise ConfigError(f"{k}={getattr(p, k)} must be >= 1", field=k,
                              value=getattr(p, k), bound=1)


MODEL = Model(
    "boltzmann_wealth",
    params={"width": 10, "height": 10},
    columns=[
        Column("x", np.int32, init_x, "grid column, [0, width)"),
        Column("y", np.int32, init_y, "grid row, [0, height)"),
        Column("wealth", np.int64, 1, "units of wealth, >= 0"),
        Column("prio", np.uint64, 0, "place in this step's random order (ties: lower row)"),
        Column("target", np.int32, -1, "the cellmate chosen at its turn, -1 = none"),
        Column("gives", np.int8, 0, "1 when it gave to target this step"),
    ],
    resources=[
        Resource("old", lambda p, n: grid_index(n, p.width, p.height)),
        Resource("new", lambda p, n: grid_index(n, p.width, p.height)),
        Resource("spare", lambda p, n: np.zeros(n, np.int8)),
        Resource("changes", lambda p, n: np.zeros(-(-n // CHUNK), np.int64)),
        Resource("rounds", lambda p, n: np.zeros(1, np.int64)),
    ],
    systems=[
        IndexGrid("old", name="index_old"),
        Rows("move", move, reads=("x", "y"), writes=("x", "y", "prio")),
        IndexGrid("new", name="index_new"),
        Rows("choose", choose, reads=("prio", "old", "new"), writes=("target",), order="new"),
        Kernel("decide", decide, reads=("wealth", "prio", "target", "old", "new"),
               writes=("gives", "spare", "changes", "rounds")),
        Rows("settle", settle, reads=("wealth", "gives", "target", "prio", "old", "new"),
             writes=("wealth",), order="new"),
    ],
    stats={"gini": gini},
    check=_check,
    doc=__doc__,
)


def side_for(agents: int) -> int:
    """Grid side at Mesa's default density (100 agents on 10 x 10)."""
    return max(1, int(round(agents ** 0.5)))


def world(agents: int, seed: int = 0, threads: int | None = None, **params) -> ModelWorld:
    """A wealth world; width = height = side_for(agents) unless given."""
    side = side_for(agents)
    params.setdefault("width", side)
    params.setdefault("height", side)
    return ModelWorld(MODEL, agents, seed=seed, threads=threads, **params)
