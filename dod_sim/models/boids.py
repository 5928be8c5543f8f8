"""Boid flocking on a torus, after Mesa 3.3.1's
``mesa/examples/basic/boid_flockers/model.py`` and ``agents.py``.

Mesa's rules: boids start at uniformly random positions in a width x height torus with
a direction drawn uniformly from [-1, 1]^2 (not normalised). Each step a boid finds its
neighbours, every other boid at torus distance <= ``vision``. Without neighbours it
moves by ``direction * speed``. Otherwise, with ``delta`` the minimum-image offsets to
its neighbours, it adds ``(cohere * sum(delta) - separate * sum(delta closer than
separation) + match * sum(neighbour directions)) / neighbours`` to its direction,
normalises it and moves by ``direction * speed``. Statistic: the alignment, the length
of the mean unit direction (1 when all boids fly the same way); Mesa tracks the angle of
the mean direction, ``average_heading``.

Neighbours come from a cell index (``dod_sim.kernels.neighbours``: cells at least
``vision`` wide, 3 x 3 cells scanned, an exact distance test), not from all pairs as
in Mesa's ``ContinuousSpace``, and the flock system visits rows in cell order for
locality (the result does not depend on the order).

Where the synchronous update differs: Mesa moves boids one at a time in random order,
so a boid sees the new position and direction of every boid that moved before it in
the same step. Here every boid reads the positions and directions of the previous step
(x, y, hx, hy are double-buffered) and all move at once, Reynolds' original
synchronous rule. Sums over neighbours run in cell order, then row order, so they are
the same for any thread count.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import ConfigError
from ..kernels._jit import kernel
from ..kernels.neighbours import offset, query_span, span_cell
from ..kernels.rng import uniform
from ..model import (
    Column, IndexPoints, Model, ModelWorld, Range, Resource, Rows, Stat, points_index,
)
from ..schema import Finite, InRange

__all__ = ["MODEL", "world", "alignment", "side_for"]


@kernel
def init_x(i, key, p):
    return uniform(key, 0) * p.width


@kernel
def init_y(i, key, p):
    return uniform(key, 0) * p.height


@kernel
def init_heading(i, key, p):
    return 2.0 * uniform(key, 0) - 1.0


@kernel
def _wrap(v, size):
    v = v % size
    return 0.0 if v >= size else v  # v % size rounds up to size for v = -tiny


@kernel
def flock(i, key, p, x, y, hx, hy, ix):
    """(x, y, hx, hy) of boid i after one step; x, y, hx, hy : float64 columns, ix : the
    CellIndex of x, y."""
    px, py = x[i], y[i]
    r2 = p.vision * p.vision
    s2 = p.separation * p.separation
    m = 0
    cx = cy = sx = sy = mx = my = 0.0
    start, rows = ix.start, ix.rows  # read once: see wealth.choose
    x0, nx, y0, ny = query_span(ix, px, py, p.vision)
    for a in range(ny):
        for b in range(nx):
            c = span_cell(ix, x0, y0, a, b)
            for k in range(start[c], start[c + 1]):
                dx, dy, d2 = offset(ix, k, px, py)
                if d2 <= r2:
                    j = rows[k]
                    if j != i:
                        m += 1
                        cx += dx
                        cy += dy
                        if d2 < s2:
                            sx += dx
                            sy += dy
                        mx += hx[j]
                        my += hy[j]
    dxi, dyi = hx[i], hy[i]
    if m > 0:
        dxi += (p.cohere * cx - p.separate * sx + p.match * mx) / m
        dyi += (p.cohere * cy - p.separate * sy + p.match * my) / m
        norm = math.sqrt(dxi * dxi + dyi * dyi)
        if norm > 0.0:
            dxi /= norm
            dyi /= norm
    return (_wrap(px + dxi * p.speed, p.width), _wrap(py + dyi * p.speed, p.height),
            dxi, dyi)


@kernel
def alignment(n, p, hx, hy):
    """Length of the mean unit direction, in [0, 1] (a zero heading counts as zero)."""
    sx = 0.0
    sy = 0.0
    for i in range(n):
        norm = math.hypot(hx[i], hy[i])
        if norm > 0.0:
            sx += hx[i] / norm
            sy += hy[i] / norm
    return math.hypot(sx / n, sy / n)


def _check(p, agents):
    for k in ("width", "height", "vision"):
        if not getattr(p, k) > 0:
            raise ConfigError(f"{k}={getattr(p, k)} must be > 0", field=k, value=getattr(p, k))
    for k in ("speed", "separation"):
        if not getattr(p, k) >= 0:
            raise ConfigError(f"{k}={getattr(p, k)} must be >= 0", field=k, value=getattr(p, k))


MODEL = Model(
    "boid_flockers",
    view={"color": "hx", "cmap": "twilight"},
    params={"width": 100.0, "height": 100.0, "speed": 1.0, "vision": 10.0,
            "separation": 2.0, "cohere": 0.03, "separate": 0.015, "match": 0.05},
    # Mesa's sliders (app.py); vision sizes the neighbour index's cells: a new world
    ranges={"speed": Range(1, 20, 1, live=True), "vision": Range(1, 50, 1),
            "separation": Range(1, 20, 1, live=True)},
    columns=[
        Column("x", np.float64, init_x, "position, [0, width)", (Finite(), InRange(0, "width"))),
        Column("y", np.float64, init_y, "position, [0, height)", (Finite(), InRange(0, "height"))),
        Column("hx", np.float64, init_heading, "direction, x component", (Finite(),)),
        Column("hy", np.float64, init_heading, "direction, y component", (Finite(),)),
    ],
    resources=[Resource("index", lambda p, n: points_index(n, p.width, p.height, p.vision))],
    systems=[
        IndexPoints("index"),
        Rows("flock", flock, reads=("x", "y", "hx", "hy", "index"),
             writes=("x", "y", "hx", "hy"), order="index"),
    ],
    stats={"alignment": Stat(alignment, reads=("hx", "hy"))},
    check=_check,
    doc=__doc__,
)


def side_for(agents: int) -> float:
    """Torus side at Mesa's default density (100 boids on 100 x 100)."""
    return 10.0 * agents ** 0.5


def world(agents: int, seed: int = 0, threads: int | None = None, **params) -> ModelWorld:
    """A boids world; width = height = side_for(agents) unless given."""
    side = side_for(agents)
    params.setdefault("width", side)
    params.setdefault("height", side)
    return ModelWorld(MODEL, agents, seed=seed, threads=threads, **params)
