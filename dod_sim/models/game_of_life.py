"""Conway's Game of Life, after Mesa 3.3.1's
``mesa/examples/basic/conways_game_of_life/model.py`` and ``agents.py``.

Mesa's rules: ``ConwaysGameOfLife(width=50, height=50, initial_fraction_alive=0.2,
seed=None)`` (model.py line 9) puts one ``Cell`` agent on every cell of a width x height
``OrthogonalMooreGrid`` with ``torus=True`` (line 13: the edges wrap). Each cell starts
ALIVE (1) when ``self.random.random() < initial_fraction_alive`` and DEAD (0) otherwise,
one draw per cell in ``grid.all_cells`` order (lines 17-24). A step is two passes over
all agents (lines 33-34): ``determine_state`` counts the live agents in the cell's Moore
neighbourhood (agents.py line 42) and sets ``_next_state``: a live cell with fewer than
2 or more than 3 live neighbours dies, a dead cell with exactly 3 comes alive, every
other cell keeps its state (lines 45-51); then ``assume_state`` makes ``_next_state``
current (line 55). Every cell therefore sees the old states of its neighbours: the
update is synchronous. ``running`` stays True (line 26) and the example has no
DataCollector.

How ours maps them: one row per cell, row ``i`` being square ``(x, y) = (i % width,
i // width)`` (Mesa's ``Cell.x``, ``Cell.y``, agents.py lines 10-16); the column
``state`` (int8, 0 dead, 1 alive) is read and written by the one per-row system
``life``, so the engine double-buffers it: every row reads the tick's old states and
writes the next buffer, which is Mesa's ``determine_state`` then ``assume_state``. The
neighbourhood is ``dod_sim.spaces.grid_offsets(1)`` (Mesa's 8 offsets of
``OrthogonalMooreGrid``, grid.py lines 213-217) through
``dod_sim.kernels.spaces.neighbour_cell`` on the torus; a cell not on the border
needs no wrap and reads row ``i + dy * width + dx`` directly (1.6x faster per row than
wrapping every neighbour).

On a torus narrower or lower than 3 cells the wrapped offsets coincide (width 2: x - 1
and x + 1 are the same column; width 1: the cell itself). Mesa connects each offset
(``Cell.connections`` is keyed by offset) but its neighbourhood is a dict keyed by cell
(``Cell._neighborhood``, cell.py lines 188-191), so each distinct cell counts once,
the cell itself included when an offset wraps onto it. ``life`` counts the distinct
cells the same way on such grids; on grids of at least 3 x 3 the 8 cells are always
distinct and it counts them directly.

Initial state: drawn per row with the counter-based generator, alive with probability
``initial_fraction_alive`` (the same distribution as Mesa's, another sample for the
same seed), or given exactly: ``world(..., initial=array)`` (flat, row order, or shape
``(height, width)`` indexed ``[y, x]``), which is how ``tests/test_game_of_life.py``
starts from Mesa's own initial states and then equals Mesa cell for cell after every
step. Statistics (compiled): ``alive_cells`` (the number of live cells) and
``fraction_alive`` (their share); Mesa's example collects nothing (no DataCollector).

Measured on the AMD EPYC (znver4, 2 cores) host, 2026-12-07, in one process with
Mesa's example, best of 5 after a warm-up, statistics included, the probe's thread
count (1): 44-71 M agent-steps/s at Mesa's 50 x 50 and 50-77 M at 100 x 100 over four
runs on a busy machine, against Mesa's 0.36-0.50 M (90-180x). The model compiles cold
in 4.0 s (znver3, idle, kernels already cached); ``initial`` is passed as ``ModelWorld(init=)``, so it
compiles nothing more.

Parameters as Mesa's (width, height, initial_fraction_alive, the torus fixed); unlike
Mesa, an ``initial_fraction_alive`` outside [0, 1] is refused (Mesa treats it as 0 or
1), and ``agents`` must equal width * height (one agent per cell, as in Mesa).
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from ..kernels._jit import kernel
from ..kernels.rng import uniform
from ..kernels.spaces import neighbour_cell
from ..model import Column, Model, ModelWorld, Resource, Rows, Stat, column_mean
from ..schema import OneOf
from ..spaces import grid_for, grid_offsets

__all__ = ["MODEL", "world", "life", "alive_cells", "grid_for", "DEAD", "ALIVE", "TORUS"]

DEAD = 0   # Mesa's Cell.DEAD
ALIVE = 1  # Mesa's Cell.ALIVE
TORUS = True  # Mesa's OrthogonalMooreGrid((width, height), capacity=1, torus=True)


@kernel
def init_state(i, key, p):
    """Mesa's ``random() < initial_fraction_alive``, one draw per cell."""
    return ALIVE if uniform(key, 0) < p.initial_fraction_alive else DEAD


@kernel
def life(i, key, p, state, offsets):
    """Row i's next state from the current ``state`` of its Moore neighbours
    (offsets : int64[8, 2], ``grid_offsets(1)``): Mesa's ``determine_state``."""
    w, h = p.width, p.height
    x = i % w
    y = i // w
    live = 0
    m = offsets.shape[0]
    if 0 < x < w - 1 and 0 < y < h - 1:  # inside: no wrap, cell (x + dx, y + dy)
        for k in range(m):
            live += state[i + offsets[k, 1] * w + offsets[k, 0]]
    elif w >= 3 and h >= 3:  # the 8 neighbours are 8 distinct cells, none the cell itself
        for k in range(m):
            live += state[neighbour_cell(x, y, k, offsets, w, h, TORUS)]
    else:  # wrapped offsets coincide: each distinct cell once, as Mesa's dict of cells
        for k in range(m):
            c = neighbour_cell(x, y, k, offsets, w, h, TORUS)
            first = True
            for j in range(k):
                if neighbour_cell(x, y, j, offsets, w, h, TORUS) == c:
                    first = False
                    break
            if first:
                live += state[c]
    s = state[i]
    if s == ALIVE:
        return DEAD if live < 2 or live > 3 else ALIVE
    return ALIVE if live == 3 else DEAD


@kernel
def alive_cells(n, p, state):
    """The number of live cells, float64."""
    m = 0
    for i in range(n):
        m += state[i] == ALIVE
    return float(m)


def _check(p, agents):
    for k in ("width", "height"):
        if getattr(p, k) < 1:
            raise ConfigError(f"{k}={getattr(p, k)} must be >= 1", field=k,
                              value=getattr(p, k), bound=1)
    if agents != p.width * p.height:
        raise ConfigError(f"agents={agents} must equal width * height = "
                          f"{p.width} * {p.height} = {p.width * p.height} (one agent per "
                          f"cell, as in Mesa)", field="agents", value=agents,
                          bound=p.width * p.height)
    f = p.initial_fraction_alive
    if not 0.0 <= f <= 1.0:
        raise ConfigError(f"initial_fraction_alive={f} must be in [0, 1]",
                          field="initial_fraction_alive", value=f, bound=(0.0, 1.0))


def _offsets(p, n):
    return grid_offsets(1, moore=True)


_PARAMS = {"width": 50, "height": 50, "initial_fraction_alive": 0.2}

MODEL = Model(
    "game_of_life",
    params=_PARAMS,
    columns=[Column("state", np.int8, init_state, "Mesa's Cell.state: 1 alive, 0 dead",
                    (OneOf((DEAD, ALIVE)),))],
    resources=[Resource("offsets", _offsets)],
    systems=[Rows("life", life, reads=("state", "offsets"), writes=("state",))],
    stats={"alive_cells": Stat(alive_cells, reads=("state",)),
           "fraction_alive": Stat(column_mean, reads=("state",))},
    check=_check,
    view={"color": "state", "cmap": "binary", "vmin": 0, "vmax": 1},
    doc=__doc__,
)


def _size(params, k):
    v = params[k]
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        raise ConfigError(f"parameter {k}={v!r} must be int", field=k, value=v)
    if v < 1:
        raise ConfigError(f"{k}={v} must be >= 1", field=k, value=v, bound=1)
    return int(v)


def _initial(initial, width, height) -> np.ndarray:
    """``initial`` as int8[width * height] in row order, or ConfigError."""
    try:
        a = np.asarray(initial)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"initial must be an array of 0 and 1: {e}", field="initial",
                          value=None) from None
    n = width * height
    if a.shape not in ((n,), (height, width)):
        raise ConfigError(f"initial has shape {a.shape}: expected ({n},) in row order or "
                          f"(height, width) = ({height}, {width})", field="initial",
                          value=a.shape, bound=(height, width))
    if a.dtype.kind not in "biuf":
        raise ConfigError(f"initial has dtype {a.dtype}: expected 0 and 1 (bool or numbers)",
                          field="initial", value=str(a.dtype))
    bad = ~((a == 0) | (a == 1))
    if bad.any():
        v = a.ravel()[np.flatnonzero(bad.ravel())[0]]
        raise ConfigError(f"initial holds {v!r}: a cell is 0 (dead) or 1 (alive)",
                          field="initial", value=v.item(), bound=(DEAD, ALIVE))
    return np.ascontiguousarray(a.reshape(n), dtype=np.int8)


def world(agents: int | None = None, seed: int = 0, threads: int | None = None, *,
          initial=None, **params) -> ModelWorld:
    """A Game of Life world: one agent per cell, so ``agents = width * height``.

    Sizing: width and height as given; else the shape of a 2-D ``initial``; else
    ``grid_for(agents)`` (Mesa's 50 x 50 when ``agents`` is None too); one of them given
    with ``agents``: the other is ``agents // it``. ``agents`` None: width * height.

    initial : the starting states (module docstring) instead of the random draw, flat
        in row order (row ``y * width + x``) or of shape ``(height, width)``.
    """
    given = {k for k in ("width", "height") if k in params}
    for k in given:
        params[k] = _size(params, k)
    count = (int(agents) if isinstance(agents, (int, np.integer))
             and not isinstance(agents, bool) and agents >= 1 else None)
    if not given and initial is not None and np.ndim(initial) == 2:
        params["height"], params["width"] = (int(s) for s in np.shape(initial))
        for k in ("width", "height"):
            params[k] = _size(params, k)
    elif not given and count is not None:
        params["width"], params["height"] = grid_for(count)
    elif given == {"width"} and count is not None:
        params["height"] = max(1, count // params["width"])
    elif given == {"height"} and count is not None:
        params["width"] = max(1, count // params["height"])
    if agents is None:  # ModelWorld refuses any other agents that is not a count
        agents = (params.get("width", _PARAMS["width"])
                  * params.get("height", _PARAMS["height"]))
    init = None
    if initial is not None:
        w = params.get("width", _PARAMS["width"])
        h = params.get("height", _PARAMS["height"])
        init = {"state": _initial(initial, w, h)}
    return ModelWorld(MODEL, agents, seed=seed, threads=threads, init=init, **params)
