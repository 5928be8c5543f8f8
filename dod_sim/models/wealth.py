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
over 12 seeds). So this model keeps Mesa's sequential activation and splits the step
by what depends on the order:

* ``move`` (per row, parallel): every agent's destination. It depends only on the
  agent's own cell, which nobody else changes, so it can be drawn before the order.
* ``activate`` (one kernel, sequential): a Fisher-Yates shuffle draws the order
  (``turn``), then the agents take their turns in it: each leaves its old cell's list
  and joins the head of its new cell's list, so its cellmates at that moment are the
  rest of that list, picks one uniformly (``target``) and gives 1 when its wealth is
  > 0 (``gives``). The occupancy lists (``cells``, a doubly linked list per cell with
  its count) are state, kept from step to step.

The turns are sequential because each can depend on all earlier ones (a unit passed on
several times in one step). An earlier version replayed them in parallel (cell lists
of old and new positions, then a fixed point over "who gives" by synchronous rounds,
exact too) and took 2.5 ms a step at 10,000 agents on 2 threads; this one takes
0.45-0.6 ms, of which 0.25-0.3 ms are the turns, whose rows fit in the L2 cache. Its
lists are rings with a sentinel per cell, and a turn's draw and gift are selects, not
branches: with branches on "has mates" and "has wealth" (coin flips) the turns took
0.6 ms. At a million agents each turn touches its rows and two cells at random places
in memory; prefetching them ``AHEAD`` turns early cut a step's turns from 155 to
110-150 ms, and the step runs at 3-4.5 M agent-steps/s (0.7 M for the parallel replay).

Given the same order, moves and choices, the result equals Mesa's sequential loop
exactly (``tests/test_models.py`` replays it in Python); the draws themselves come from
the counter-based generator, so the run is a different sample than Mesa's for the same
seed, with the same distribution. Wealth is conserved exactly and never negative, and
the result does not depend on the thread count.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..errors import ConfigError
from ..kernels._jit import inline, kernel
from ..kernels.neighbours import moore_pick
from ..kernels.prefetch import prefetch
from ..kernels.rng import below, draw
from ..model import Column, Kernel, Model, ModelWorld, Resource, Rows, Stat
from ..schema import InRange, OneOf, RowIndex, Rings

__all__ = ["MODEL", "Occupancy", "world", "gini", "side_for"]

AHEAD = 32  # turns between a row's first prefetch and its turn
# Prefetching pays once the rows outgrow the L2 cache: at 1,000,000 agents a step's
# turns took 110 ms with it, 155 without; at 10,000 it costs ~10 %.
PREFETCH_FROM = 50_000


class Occupancy(NamedTuple):
    """Who is in each cell: a circular doubly linked list per cell. Nodes 0..agents-1
    are the rows; node agents + c is cell c's sentinel, so joining and leaving a list
    never branch on its ends."""

    nxt: np.ndarray    # int32[agents + cells], next node in the same cell's ring
    prv: np.ndarray    # int32[agents + cells], previous node
    count: np.ndarray  # int32[cells], rows in each cell


def occupancy(p, agents: int) -> Occupancy:
    nodes = agents + p.width * p.height
    return Occupancy(np.zeros(nodes, np.int32), np.zeros(nodes, np.int32),
                     np.zeros(p.width * p.height, np.int32))


@kernel
def init_x(i, key, p):
    return draw(key, 0) % np.uint64(p.width)


@kernel
def init_y(i, key, p):
    return draw(key, 0) % np.uint64(p.height)


@kernel
def move(i, key, p, x, y):
    """(x, y) of row i after its move: a uniformly random cell of its Moore neighbourhood."""
    return moore_pick(x[i], y[i], p.width, p.height, 1, False, draw(key, 0))


@kernel
def place(key, n, p, x, y, cell, cells):
    """Setup: every row into the list of its cell, in row order."""
    nxt, prv, count = cells.nxt, cells.prv, cells.count
    for c in range(p.width * p.height):
        nxt[n + c] = prv[n + c] = n + c
        count[c] = 0
    for i in range(n - 1, -1, -1):  # each joins at the front: lists end up in row order
        c = y[i] * p.width + x[i]
        _join(i, n + c, nxt, prv)
        count[c] += 1
        cell[i] = c


@inline
def _join(i, s, nxt, prv):
    """Node i goes right after sentinel s."""
    b = nxt[s]
    nxt[i] = b
    prv[i] = s
    prv[b] = i
    nxt[s] = i


@inline
def _leave(i, nxt, prv):
    a, b = prv[i], nxt[i]
    nxt[a] = b
    prv[b] = a


@kernel
def activate(key, n, p, x, y, wealth, cell, turn, target, gives, cells, order):
    """Every row's turn, in a uniformly random order (module docstring).

    x, y : int32[n], positions after this step's move; wealth : int64[n];
    cell : int64[n], the cell whose list holds the row; turn : int64[n], place in this
    step's order; target : int32[n], the cellmate drawn at the turn (-1: none);
    gives : int8[n], 1 when the row gave to target; order : int32[n] scratch.
    """
    nxt, prv, count = cells.nxt, cells.prv, cells.count
    shuffle, pick = draw(key, 0), draw(key, 1)
    for t in range(n):
        order[t] = t
    for t in range(n):  # Fisher-Yates, first: the turns below prefetch their rows ahead
        j = t + below(draw(shuffle, t), n - t)
        i = order[j]
        order[j] = order[t]
        order[t] = i
        turn[i] = t
    far = n >= PREFETCH_FROM
    for t in range(n):
        # Prefetch in three stages, each using what the one before brought in: a
        # turn's rows, then its neighbours in the old ring and its new cell, then the
        # node it will follow there.
        if far and t + AHEAD < n:
            r = order[t + AHEAD]
            prefetch(x, r)
            prefetch(y, r)
            prefetch(cell, r)
            prefetch(prv, r)
            prefetch(nxt, r)
            prefetch(wealth, r)
        if far and t + AHEAD // 2 < n:
            r = order[t + AHEAD // 2]
            c = y[r] * p.width + x[r]
            prefetch(nxt, prv[r])
            prefetch(prv, nxt[r])
            prefetch(count, cell[r])
            prefetch(count, c)
            prefetch(nxt, n + c)
        if far and t + AHEAD // 4 < n:
            r = order[t + AHEAD // 4]
            b = nxt[n + y[r] * p.width + x[r]]
            prefetch(prv, b)
            prefetch(wealth, b)
        i = order[t]
        _leave(i, nxt, prv)
        count[cell[i]] -= 1
        c = y[i] * p.width + x[i]
        cell[i] = c
        m = count[c]
        count[c] = m + 1
        _join(i, n + c, nxt, prv)  # i first in the ring: the next m nodes are its mates
        # Branch-free where the outcome is a coin flip: j = i and g = 0 without mates.
        j = nxt[i]
        for _ in range(below(draw(pick, i), max(m, 1))):
            j = nxt[j]
        has = m > 0
        j = j if has else i
        g = np.int64(has and wealth[i] > 0)
        wealth[j] += g
        wealth[i] -= g
        target[i] = j if has else -1
        gives[i] = g


@kernel
def gini(n, p, wealth, hist):
    """Mesa's compute_gini (sorted wealth x, b = sum x_i (n - i) / (n sum x),
    1 + 1/n - 2b) from a histogram of wealth, O(n) instead of a sort.
    hist : int64[n + 1] scratch (wealth is conserved: no row holds more than n)."""
    top = 0
    total = 0
    for i in range(n):
        top = max(top, wealth[i])
        total += wealth[i]
    for v in range(top + 1):
        hist[v] = 0
    for i in range(n):
        hist[wealth[i]] += 1
    b = 0.0
    first = 0.0  # sorted position of each value's first copy
    for v in range(top + 1):
        c = np.float64(hist[v])
        # sum over i in [first, first + c) of (n - i) = c n - c first - c (c - 1) / 2
        b += v * (c * n - c * first - c * (c - 1) / 2)
        first += c
    return 1.0 + 1.0 / n - 2.0 * b / (n * np.float64(total))


def _check(p, agents):
    for k in ("width", "height"):
        if getattr(p, k) < 1:
            raise ConfigError(f"{k}={getattr(p, k)} must be >= 1", field=k,
                              value=getattr(p, k), bound=1)
    nodes = agents + p.width * p.height  # the rings' int32 node numbers
    if nodes >= 2**31:
        raise ConfigError(f"agents + width * height = {nodes} must be < 2**31 (rows and "
                          f"cells are numbered in int32)", field="width", value=p.width,
                          bound=2**31)


MODEL = Model(
    "boltzmann_wealth",
    view={"color": "wealth"},
    params={"width": 10, "height": 10},
    columns=[
        Column("x", np.int32, init_x, "grid column, [0, width)", (InRange(0, "width"),)),
        Column("y", np.int32, init_y, "grid row, [0, height)", (InRange(0, "height"),)),
        Column("wealth", np.int64, 1, "units of wealth, >= 0", (InRange(0, 2**62),)),
        Column("cell", np.int64, 0, "y * width + x: the cell list holding the row"),
        Column("turn", np.int64, 0, "place in this step's random order", (InRange(0, "rows"),)),
        Column("target", np.int32, -1, "the cellmate drawn at its turn, -1 = none",
               (RowIndex("rows"),)),
        Column("gives", np.int8, 0, "1 when it gave to target this step", (OneOf((0, 1)),)),
    ],
    resources=[
        Resource("cells", occupancy, state=True, checks={
            "nxt": (Rings("cells.prv", "cells.count", "rows", home="cell"),)}),
        Resource("order", lambda p, n: np.zeros(n, np.int32)),
        Resource("hist", lambda p, n: np.zeros(n + 1, np.int64)),
    ],
    setup=[Kernel("place", place, reads=("x", "y"), writes=("cell", "cells"))],
    systems=[
        Rows("move", move, reads=("x", "y"), writes=("x", "y")),
        Kernel("activate", activate, reads=("x", "y"),
               writes=("wealth", "cell", "turn", "target", "gives", "cells", "order")),
    ],
    stats={"gini": Stat(gini, reads=("wealth", "hist"))},
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
