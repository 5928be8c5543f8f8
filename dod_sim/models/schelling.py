"""Schelling segregation, after Mesa 3.3.1's ``mesa/examples/basic/schelling/model.py``
and ``agents.py``.

Mesa's rules: a width x height ``OrthogonalMooreGrid`` (bounded) with capacity 1;
agents of type 1 (probability ``minority_pc``) or 0. An agent is happy when the share
of agents of its type among the agents in its Moore neighbourhood of ``radius`` is
>= ``homophily`` (0 when it has no neighbour). Happiness is assessed for all agents at
once (``assign_state``) at the start and after every step; in a step every agent that
was unhappy moves to a uniformly random empty cell. Statistics: the share of happy
agents and a segregation index, the mean share of same-type neighbours (0 for an agent
without neighbours, as in Mesa's ``similarity_fraction``).

Population: Mesa fills each cell with probability ``density``; a world here has
exactly ``agents`` agents, ``round(density * width * height)`` from :func:`world`.

Moves replay Mesa's sequential activation exactly. Mesa moves the unhappy agents one at
a time in a uniformly random order, each to a uniformly random cell that is empty at
that moment, which includes cells vacated by earlier movers but never its own. Moving
them all at once would send two agents to one cell, so ``relocate`` (a whole-column
system) does what Mesa does, in two compactions and a few serial passes over the
movers: the movers (rows with happy == 0, in row order) and the empty cells (in cell
order) are compacted; a Fisher-Yates shuffle with counter-based draws puts the movers in
a uniform random order; then each mover in turn takes a uniformly random entry of the
list of empty cells and puts its own cell in its place (the cell it left is empty from
then on); vacating and occupying are then two passes over the movers, O(movers) each.
All of it is one sequential kernel: a compaction is one pass over a byte or an int a
row or cell (~10 us at 10,000 agents), where six parallel loops cost ~4 s to compile
and a thread wake-up each per step. The result has Mesa's distribution exactly; the
draws come from the counter-based generator, so a seed gives another sample than
Mesa's. Happiness is assessed for all agents at once, as in Mesa: the per-row system
``assess`` (in parallel chunks), and at setup one sequential loop of the same function
(``assess_all``: a second per-row system would compile its own parallel loop).
"""

from __future__ import annotations

import numpy as np
from ..errors import ConfigError
from ..kernels._jit import kernel
from ..kernels.rng import draw, uniform
from ..model import (Column, Kernel, Model, ModelWorld, Range, Resource, Rows, Stat,
                     column_mean)
from ..schema import CellOwners, Finite, InRange, OneOf

__all__ = ["MODEL", "world", "agents_for"]

@kernel
def init_type(i, key, p):
    return 1 if uniform(key, 0) < p.minority_pc else 0


@kernel
def compact_equal(a, n, value, out, base):
    """Write every k < n with a[k] == value into out[base:], in increasing order;
    returns how many."""
    m = 0
    for k in range(n):
        if a[k] == value:
            out[base + m] = k
            m += 1
    return m


@kernel
def place(key, n, p, x, y, occ, pool):
    """Setup: rows 0..n-1 onto n distinct uniformly random cells."""
    cells = p.width * p.height
    for c in range(cells):
        pool[c] = c
        occ[c] = -1
    for k in range(n):
        j = k + np.int64(draw(key, k) % np.uint64(cells - k))
        pool[k], pool[j] = pool[j], pool[k]
        x[k] = pool[k] % p.width
        y[k] = pool[k] // p.width
        occ[pool[k]] = k


@kernel
def relocate(key, n, p, happy, x, y, occ, movers, pool, dest):
    """Every unhappy row moves to a random empty cell, in a random order, as in Mesa
    (module docstring). occ : int32[cells], the row in each cell or -1; movers, dest :
    int32[n], pool : int32[cells] scratch."""
    m = compact_equal(happy, n, 0, movers, 0)
    e = compact_equal(occ, p.width * p.height, -1, pool, 0)
    if m == 0 or e == 0:  # Mesa would search forever for an empty cell
        return
    order_key, pick_key = draw(key, 1), draw(key, 2)
    for k in range(m - 1, 0, -1):
        j = np.int64(draw(order_key, k) % np.uint64(k + 1))
        movers[k], movers[j] = movers[j], movers[k]
    for k in range(m):
        r = movers[k]
        j = np.int64(draw(pick_key, k) % np.uint64(e))
        dest[k] = pool[j]
        pool[j] = y[r] * p.width + x[r]
    # Two passes: a cell vacated by one mover may be taken by a later one.
    for k in range(m):
        r = movers[k]
        occ[y[r] * p.width + x[r]] = -1
    for k in range(m):
        r = movers[k]
        cell = dest[k]
        x[r] = cell % p.width
        y[r] = cell // p.width
        occ[cell] = r


@kernel
def assess(i, key, p, x, y, kind, occ):
    """(happy, similar): whether row i is happy, and its share of same-type neighbours.

    Walks the Moore neighbourhood row by row of the grid (the count does not depend on
    the order): moore_cell's q -> (dx, dy) divisions took half of this system's time.
    Away from the edges, every cell of the square is counted without a branch (whether
    a cell holds an agent is a coin flip) and the own cell taken off after."""
    r, w, h = p.radius, p.width, p.height
    xi, yi, ki = np.int64(x[i]), np.int64(y[i]), kind[i]
    m = 0
    same = 0
    if r <= xi < w - r and r <= yi < h - r:  # the square crosses no edge
        for dy in range(-r, r + 1):
            base = (yi + dy) * w + xi
            for dx in range(-r, r + 1):
                j = occ[base + dx]
                on = j >= 0
                m += on
                same += on & (kind[max(j, 0)] == ki)
        j = occ[yi * w + xi]
        on = j >= 0
        m -= on
        same -= on & (kind[max(j, 0)] == ki)
    else:
        for dy in range(-r, r + 1):
            ny = yi + dy
            if p.torus:  # width, height >= 2r + 1: one wrap at most
                ny = ny + h if ny < 0 else ny - h if ny >= h else ny
            elif ny < 0 or ny >= h:
                continue
            base = ny * w
            for dx in range(-r, r + 1):
                nx = xi + dx
                if p.torus:
                    nx = nx + w if nx < 0 else nx - w if nx >= w else nx
                elif nx < 0 or nx >= w:
                    continue
                j = occ[base + nx]
                if j >= 0 and (dx != 0 or dy != 0):
                    m += 1
                    same += kind[j] == ki
    share = same / m if m > 0 else 0.0
    return (1 if share >= p.homophily else 0), share


@kernel
def assess_all(key, n, p, x, y, kind, occ, happy, similar):
    """Setup: :func:`assess` of every row (Mesa's first ``assign_state``), in one
    sequential loop."""
    for i in range(n):
        h, s = assess(i, key, p, x, y, kind, occ)
        happy[i] = h
        similar[i] = s


def _check(p, agents):
    for k in ("width", "height", "radius"):
        if getattr(p, k) < 1:
            raise ConfigError(f"{k}={getattr(p, k)} must be >= 1", field=k,
                              value=getattr(p, k), bound=1)
    if agents > p.width * p.height:
        raise ConfigError(f"agents={agents} exceed the {p.width * p.height} cells",
                          field="agents", value=agents, bound=p.width * p.height)
    for k in ("density", "minority_pc", "homophily"):
        if not 0.0 <= getattr(p, k) <= 1.0:
            raise ConfigError(f"{k}={getattr(p, k)} must be in [0, 1]", field=k,
                              value=getattr(p, k), bound=(0.0, 1.0))
    if p.torus and min(p.width, p.height) < 2 * p.radius + 1:
        raise ConfigError("a torus needs width and height >= 2 * radius + 1", field="radius",
                          value=p.radius)


def _cells(p, n):
    return p.width * p.height


MODEL = Model(
    "schelling",
    view={"color": "kind", "cmap": "coolwarm", "vmin": 0, "vmax": 1},
    params={"width": 20, "height": 20, "density": 0.8, "minority_pc": 0.5,
            "homophily": 0.4, "radius": 1, "torus": False},
    # Mesa's sliders (app.py); homophily is read by every assessment: live
    ranges={"density": Range(0.1, 1.0, 0.1), "minority_pc": Range(0.0, 1.0, 0.05),
            "homophily": Range(0.0, 1.0, 0.125, live=True)},
    columns=[
        Column("x", np.int32, 0, "grid column", (InRange(0, "width"),)),
        Column("y", np.int32, 0, "grid row", (InRange(0, "height"),)),
        Column("kind", np.int8, init_type, "Mesa's type: 1 minority, 0 majority", (OneOf((0, 1)),)),
        Column("happy", np.int8, 0, "1 when happy after the last assessment", (OneOf((0, 1)),)),
        Column("similar", np.float32, 0.0, "share of same-type neighbours, 0 without any",
               (Finite(),)),
    ],
    resources=[
        Resource("occ", lambda p, n: np.full(_cells(p, n), -1, np.int32), state=True,
                 checks={None: (CellOwners("x", "y", "width"),)}),
        Resource("movers", lambda p, n: np.zeros(n, np.int32)),
        Resource("pool", lambda p, n: np.zeros(_cells(p, n), np.int32)),
        Resource("dest", lambda p, n: np.zeros(n, np.int32)),
    ],
    setup=[
        Kernel("place", place, writes=("x", "y", "occ", "pool")),
        Kernel("assess_initial", assess_all, reads=("x", "y", "kind", "occ"),
               writes=("happy", "similar")),
    ],
    systems=[
        Kernel("relocate", relocate, reads=("happy",),
               writes=("x", "y", "occ", "movers", "pool", "dest")),
        Rows("assess", assess, reads=("x", "y", "kind", "occ"), writes=("happy", "similar")),
    ],
    stats={"happy": Stat(column_mean, reads=("happy",)),  # share of happy agents
           "segregation": Stat(column_mean, reads=("similar",))},
    check=_check,
    doc=__doc__,
)


def agents_for(width: int, height: int, density: float) -> int:
    """Mesa's expected population: round(density * width * height)."""
    return int(round(density * width * height))


def world(agents: int, seed: int = 0, threads: int | None = None, **params) -> ModelWorld:
    """A Schelling world of ``agents`` agents; when width/height are not given, a square
    grid with ``agents ~= density * width * height`` (Mesa's density 0.8 by default)."""
    density = params.get("density", MODEL.params["density"])
    if "width" not in params and "height" not in params:
        side = max(1, int(round((agents / max(density, 1e-9)) ** 0.5)))
        while side * side < agents:
            side += 1
        params["width"] = params["height"] = side
    return ModelWorld(MODEL, agents, seed=seed, threads=threads, **params)
