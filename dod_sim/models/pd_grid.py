"""The spatial prisoner's dilemma, after Mesa 3.3.1's
``mesa/examples/advanced/pd_grid/model.py`` and ``agents.py``.

Mesa's rules (line numbers in those two files):

* Parameters and defaults (``model.py`` 17-19): ``PdGrid(width=50, height=50,
  activation_order="Random", payoffs=None, seed=None)``; ``activation_order`` is one of
  ``activation_regimes = ["Sequential", "Random", "Simultaneous"]`` (line 9).
* The payoff (``model.py`` 11-14, 34-35), keyed on (my move, other's move):
  ``("C", "C"): 1, ("C", "D"): 0, ("D", "C"): 1.6, ("D", "D"): 0``, or ``payoffs``.
* The grid (``model.py`` 30): ``OrthogonalMooreGrid((width, height), torus=True)``,
  one ``PDAgent`` per cell (37-39), created in ``grid.all_cells`` order: cell
  coordinate ``(x, y)`` with ``x`` in ``[0, width)`` major and ``y`` in ``[0, height)``
  minor (``itertools.product``, ``discrete_space/grid.py`` 116-121). That is also the
  order of ``model.agents``.
* An agent (``agents.py`` 7-22) starts with ``score = 0``, ``next_move = None`` and
  ``move = self.random.choice(["C", "D"])``: C or D with probability 1/2 each.
* Its ``step`` (``agents.py`` 28-38): ``neighbors = [*self.cell.neighborhood.agents,
  self]``, the agents of its Moore neighbourhood in Mesa's offset order (dx major, dy
  minor: ``(-1,-1), (-1,0), (-1,1), (0,-1), (0,1), (1,-1), (1,0), (1,1)``, ``grid.py``
  211-221) and then itself; ``best_neighbor = max(neighbors, key=score)``, so on a tie
  the FIRST in that list wins (the agent itself only when strictly better than all its
  neighbours); ``next_move = best_neighbor.move``. Outside Simultaneous it then calls
  ``advance`` at once.
* ``advance`` (``agents.py`` 40-42): ``move = next_move``, then ``score +=
  increment_score()``: the sum, over its neighbours in the same order, of
  ``payoff[(move, their move)]`` (44-50), their ``next_move`` under Simultaneous, their
  current ``move`` otherwise. Scores accumulate over the whole run (never reset).
* A step (``model.py`` 52-63): "Sequential" is ``agents.do("step")`` (every agent in
  creation order, each seeing the moves and scores the earlier ones already changed in
  this step); "Random" is ``agents.shuffle_do("step")`` (the same, in a uniformly random
  order drawn anew each step); "Simultaneous" is ``agents.do("step")`` then
  ``agents.do("advance")``: every agent picks its next move from the old moves and
  scores, then all adopt them and score against each other's new moves. Then the
  DataCollector collects ``Cooperating_Agents``, the number of agents whose move is "C"
  (42-48, also once at setup).
* Small tori: ``Cell.connections`` is keyed by offset, but the neighbourhood is a dict
  keyed by cell (``discrete_space/cell.py`` 177-191), so on a torus narrower or lower
  than 3 each distinct cell counts once, at its first offset, and for radius 1 the cell
  itself stays in it when an offset wraps onto it (width or height 1).

How ours maps them:

* Row ``i`` is the agent on cell ``(x, y) = (i // height, i % height)``: rows are in
  Mesa's creation order, so "Sequential" is row order. The columns ``x`` and ``y`` hold
  the cell (for drawing); ``move`` is int8, 1 = "C" (cooperate), 0 = "D" (defect), so
  its mean is the share of cooperators; ``score`` is float64, accumulated in Mesa's
  order of additions (each step's increment summed from 0 over the neighbours in
  offset order, then added to the score), so it equals Mesa's Python floats bit for bit
  and ties break as in Mesa; ``next_move`` is Mesa's ``next_move`` (-1 = None, before
  the first step).
* ``activation_order`` is an int parameter, the index in Mesa's ``activation_regimes``:
  ``SEQUENTIAL = 0``, ``RANDOM = 1`` (Mesa's default), ``SIMULTANEOUS = 2``;
  :func:`world` also takes Mesa's strings. ``payoffs`` becomes four float parameters
  ``payoff_CC``, ``payoff_CD``, ``payoff_DC``, ``payoff_DD`` (my move first), with
  Mesa's values as defaults.
* The step is one sequential ``Kernel`` (``activate``) for all three regimes, as every
  turn can depend on all earlier ones (Sequential, Random); Simultaneous is two passes
  in it (every ``next_move`` from the old state, then every ``advance``), which needs no
  order. Random draws a Fisher-Yates order (``below(draw(shuffle, t), n - t)``, into
  the scratch resource ``order``; ``shuffle = draw(key, 0)`` from the step's kernel
  key) and takes each turn as soon as its place is drawn. A turn lists its neighbours'
  rows once (``_hood``, into the scratch resource ``nb``), for the best neighbour and
  for the payoffs: one compiled copy of the torus arithmetic where six were inlined
  (~2 s less to compile); the best and the payoffs are picked without branches (coin
  flips to the branch predictor), and the next turn's rows are prefetched once its
  place is drawn. Sequential and Simultaneous draw nothing: given the initial moves
  they are deterministic, and
  ``tests/test_pd_grid.py`` starts from Mesa's own initial moves and equals Mesa move
  for move and score for score after every step. Random is another sample than Mesa's
  for the same seed, with the same law (Mesa shuffles with its ``random.Random``).
* Initial moves: one draw per row from the counter-based generator, C when
  ``uniform < 0.5`` (Mesa's ``random.choice``: same law, another sample), or given:
  ``world(..., initial=moves)`` (Mesa's "C"/"D" or 1/0, in row order or shaped
  ``(width, height)`` indexed ``[x, y]``), passed as ``ModelWorld(init=)``.
* Statistics (compiled): ``Cooperating_Agents`` (Mesa's reporter, a count, as a float)
  and ``cooperating_fraction`` (that count over the agents).

Deviations: ``payoffs`` is four scalars (parameters are scalars); a payoff that is not
finite, a grid side < 1, or an ``activation_order`` other than the three is refused
with ``ConfigError`` when the world is built (Mesa raises ``ValueError`` for an unknown
order only at the first ``step``); ``agents`` must equal ``width * height`` (one agent
per cell, as Mesa creates). Nothing in a step is parallel, so :func:`world` runs on one
thread unless told otherwise; the digest is the same on any thread count.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from ..kernels._jit import kernel
from ..kernels.prefetch import prefetch
from ..kernels.rng import below, draw, uniform
from ..model import Column, Kernel, Model, ModelWorld, Resource, Stat
from ..schema import Finite, InRange, OneOf
from ..spaces import grid_for

__all__ = ["MODEL", "world", "activate", "cooperating", "grid_for", "ACTIVATION",
           "SEQUENTIAL", "RANDOM", "SIMULTANEOUS", "COOPERATE", "DEFECT", "NONE",
           "OFFSETS", "PAYOFFS"]

# Mesa's PdGrid.activation_regimes, in its order: the parameter is the index
ACTIVATION = ("Sequential", "Random", "Simultaneous")
SEQUENTIAL, RANDOM, SIMULTANEOUS = 0, 1, 2
COOPERATE, DEFECT = 1, 0  # Mesa's "C" and "D"
NONE = -1                 # Mesa's next_move = None, before the first step
# OrthogonalMooreGrid's offsets (dx, dy), in Mesa's order (discrete_space/grid.py 213-218)
OFFSETS = ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1))
_DX = np.array([d[0] for d in OFFSETS], np.int64)
_DY = np.array([d[1] for d in OFFSETS], np.int64)
# the payoff parameters, (my move, other's move), and Mesa's values (model.py 14)
PAYOFFS = {"payoff_CC": 1.0, "payoff_CD": 0.0, "payoff_DC": 1.6, "payoff_DD": 0.0}


@kernel
def init_x(i, key, p):
    return i // p.height


@kernel
def init_y(i, key, p):
    return i % p.height


@kernel
def init_move(i, key, p):
    """Mesa's ``random.choice(["C", "D"])``: C with probability 1/2."""
    return COOPERATE if uniform(key, 0) < 0.5 else DEFECT


@kernel
def _hood(i, x, y, w, h, small, nb):
    """nb[k]: the row of the k-th Moore neighbour (Mesa's offset order) of row i on cell
    (x, y) of the w x h torus; -1 when that cell already came at an earlier offset (a
    torus narrower or lower than 3: Mesa's neighbourhood holds each cell once)."""
    if not small and 0 < x < w - 1 and 0 < y < h - 1:  # no wrap
        for k in range(8):
            nb[k] = i + _DX[k] * h + _DY[k]
        return
    for k in range(8):
        c = ((x + _DX[k]) % w) * h + (y + _DY[k]) % h
        if small:  # only there can an earlier offset give c (then nb[j] is c or -1)
            for j in range(k):
                if nb[j] == c:
                    c = -1
                    break
        nb[k] = c


@kernel
def _best(i, nb, score):
    """Mesa's ``max([*neighbourhood.agents, self], key=score)``: the first of the
    highest score, the neighbours in offset order, then the agent itself."""
    best = nb[0]  # the first offset is never a repeat
    top = score[best]
    for k in range(1, 8):  # branch-free: which one wins is a coin flip
        c = nb[k]
        v = score[max(c, 0)]
        up = (c >= 0) & (v > top)
        best = c if up else best
        top = v if up else top
    return i if score[i] > top else best


@kernel
def _increment(mine, nb, moves, cc, cd, dc, dd):
    """Mesa's ``increment_score``: the payoffs of ``mine`` against each neighbour's
    entry of ``moves``, summed from 0 in offset order (Python's ``sum``); cc ... dd: the
    payoffs (my move first)."""
    if mine == COOPERATE:
        vc, vd = cc, cd
    else:
        vc, vd = dc, dd
    total = 0.0
    for k in range(8):
        c = nb[k]
        if c >= 0:
            total += vc if moves[c] == COOPERATE else vd
    return total


@kernel
def _ahead(i, n, h, x, y, score, move):
    """Prefetch what the turn of row i reads (its cell, its neighbours' scores and
    moves: three cache lines each), one turn ahead: a random order's turns otherwise
    take these misses one after the other."""
    i = np.int64(i)
    prefetch(x, i)
    prefetch(y, i)
    lo = max(i - h, 0)
    hi = min(i + h, n - 1)
    prefetch(score, lo)
    prefetch(score, i)
    prefetch(score, hi)
    prefetch(move, lo)
    prefetch(move, i)
    prefetch(move, hi)


@kernel
def activate(key, n, p, x, y, move, score, next_move, order, nb):
    """One step of Mesa's PdGrid under ``p.activation_order`` (module docstring).

    x, y : int32[n], each row's cell; move : int8[n], 1 C, 0 D; score : float64[n];
    next_move : int8[n]; order : int32[n] scratch, the turns of a Random step; nb :
    int64[8] scratch, the neighbours of the running turn.
    """
    w, h = p.width, p.height
    small = w < 3 or h < 3
    cc, cd, dc, dd = p.payoff_CC, p.payoff_CD, p.payoff_DC, p.payoff_DD
    if p.activation_order == SIMULTANEOUS:
        for i in range(n):  # agents.do("step"): every next move from the old state
            _hood(i, x[i], y[i], w, h, small, nb)
            next_move[i] = move[_best(i, nb, score)]
        for i in range(n):  # agents.do("advance")
            m = next_move[i]
            move[i] = m
            _hood(i, x[i], y[i], w, h, small, nb)
            score[i] += _increment(m, nb, next_move, cc, cd, dc, dd)
        return
    turns_drawn = p.activation_order == RANDOM
    shuffle = draw(key, 0)
    for t in range(n):
        order[t] = t
    j = below(draw(shuffle, 0), n)
    for t in range(n):
        if turns_drawn:  # Fisher-Yates: row order[t] is final once step t is done
            i = order[j]
            order[j] = order[t]
            order[t] = i
            if t + 1 < n:  # the next turn's place, and a hint to load its rows now
                j = t + 1 + below(draw(shuffle, t + 1), n - t - 1)
                _ahead(order[j], n, h, x, y, score, move)
        i = order[t]
        _hood(i, x[i], y[i], w, h, small, nb)
        m = move[_best(i, nb, score)]  # step
        next_move[i] = m
        move[i] = m                    # advance
        score[i] += _increment(m, nb, move, cc, cd, dc, dd)


@kernel
def cooperating(n, p, move):
    """Mesa's ``Cooperating_Agents``: the number of agents whose move is C, float64."""
    m = 0
    for i in range(n):
        m += move[i] == COOPERATE
    return float(m)


@kernel
def cooperating_fraction(n, p, move):
    return cooperating(n, p, move) / n


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
    if p.activation_order not in (SEQUENTIAL, RANDOM, SIMULTANEOUS):
        raise ConfigError(f"activation_order={p.activation_order} must be 0 (Sequential), "
                          f"1 (Random) or 2 (Simultaneous)", field="activation_order",
                          value=p.activation_order, bound=(0, 2))
    for k in PAYOFFS:
        v = getattr(p, k)
        if not np.isfinite(v):
            raise ConfigError(f"{k}={v!r} must be finite", field=k, value=v)


def _order(p, n):
    return np.zeros(n, np.int32)


def _nb(p, n):
    return np.zeros(8, np.int64)


_PARAMS = {"width": 50, "height": 50, "activation_order": RANDOM, **PAYOFFS}

MODEL = Model(
    "pd_grid",
    params=_PARAMS,
    columns=[
        Column("x", np.int32, init_x, "cell column, [0, width): Mesa's coordinate[0]",
               (InRange(0, "width"),)),
        Column("y", np.int32, init_y, "cell row, [0, height): Mesa's coordinate[1]",
               (InRange(0, "height"),)),
        Column("move", np.int8, init_move, "Mesa's move: 1 C (cooperate), 0 D (defect)",
               (OneOf((DEFECT, COOPERATE)),)),
        Column("score", np.float64, 0.0, "Mesa's score, accumulated over the run",
               (Finite(),)),
        Column("next_move", np.int8, NONE, "Mesa's next_move: 1 C, 0 D, -1 None",
               (OneOf((NONE, DEFECT, COOPERATE)),)),
    ],
    resources=[Resource("order", _order), Resource("nb", _nb)],
    systems=[Kernel("activate", activate, reads=("x", "y"),
                    writes=("move", "score", "next_move", "order", "nb"))],
    stats={"Cooperating_Agents": Stat(cooperating, reads=("move",)),
           "cooperating_fraction": Stat(cooperating_fraction, reads=("move",))},
    check=_check,
    view={"color": "move", "cmap": "bwr_r", "vmin": 0, "vmax": 1},
    doc=__doc__,
)


def _activation(v):
    if isinstance(v, str):
        if v not in ACTIVATION:
            raise ConfigError(f"activation_order={v!r} must be one of {ACTIVATION}",
                              field="activation_order", value=v, bound=ACTIVATION)
        return ACTIVATION.index(v)
    return v  # an int is checked by the model


def _initial(initial, width, height) -> np.ndarray:
    """``initial`` as int8[width * height] (1 C, 0 D) in row order, or ConfigError."""
    try:
        a = np.asarray(initial)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"initial must be an array of moves: {e}", field="initial",
                          value=None) from None
    n = width * height
    if a.shape not in ((n,), (width, height)):
        raise ConfigError(f"initial has shape {a.shape}: expected ({n},) in row order or "
                          f"(width, height) = ({width}, {height})", field="initial",
                          value=a.shape, bound=(width, height))
    if a.dtype.kind == "U":
        ok = (a == "C") | (a == "D")
        moves = (a == "C")
    elif a.dtype.kind in "biuf":
        ok = (a == COOPERATE) | (a == DEFECT)
        moves = a == COOPERATE
    else:
        raise ConfigError(f"initial has dtype {a.dtype}: expected 'C'/'D' or 1/0",
                          field="initial", value=str(a.dtype))
    if not ok.all():
        v = a.ravel()[np.flatnonzero(~ok.ravel())[0]]
        raise ConfigError(f"initial holds {v!r}: a move is 'C' (1) or 'D' (0)",
                          field="initial", value=v.item(), bound=("C", "D"))
    return np.ascontiguousarray(moves.reshape(n), dtype=np.int8)


def world(agents: int | None = None, seed: int = 0, threads: int | None = None, *,
          initial=None, **params) -> ModelWorld:
    """A prisoner's dilemma world: one agent per cell, so ``agents = width * height``.

    Sizing: width and height as given; else ``grid_for(agents)`` (Mesa's 50 x 50 when
    ``agents`` is None too); one of them given with ``agents``: the other is
    ``agents // it``. ``activation_order``: 0, 1, 2 or Mesa's "Sequential", "Random",
    "Simultaneous". ``initial``: the starting moves instead of the random draw (module
    docstring). ``threads=None`` means one thread: the step is one sequential kernel.
    """
    if "activation_order" in params:
        params["activation_order"] = _activation(params["activation_order"])
    given = {k for k in ("width", "height") if k in params}
    for k in sorted(given):
        params[k] = _size(params, k)
    count = (int(agents) if isinstance(agents, (int, np.integer))
             and not isinstance(agents, bool) and agents >= 1 else None)
    if not given and count is not None:
        params["width"], params["height"] = grid_for(count)
    elif given == {"width"} and count is not None:
        params["height"] = max(1, count // params["width"])
    elif given == {"height"} and count is not None:
        params["width"] = max(1, count // params["height"])
    w = params.get("width", _PARAMS["width"])
    h = params.get("height", _PARAMS["height"])
    if agents is None:  # ModelWorld refuses any other agents that is not a count
        agents = w * h
    init = None if initial is None else {"move": _initial(initial, w, h)}
    return ModelWorld(MODEL, agents, seed=seed, threads=1 if threads is None else threads,
                      init=init, **params)


def _size(params, k):
    v = params[k]
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        raise ConfigError(f"parameter {k}={v!r} must be int", field=k, value=v)
    if v < 1:
        raise ConfigError(f"{k}={v} must be >= 1", field=k, value=v, bound=1)
    return int(v)
