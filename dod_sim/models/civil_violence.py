"""Epstein civil violence, after Mesa 3.3.1's
``mesa/examples/advanced/epstein_civil_violence/model.py`` and ``agents.py``.

Mesa's rules (line numbers in those two files):

* Parameters and defaults (``model.py`` 36-51): ``width=40``, ``height=40``,
  ``citizen_density=0.7``, ``cop_density=0.074``, ``citizen_vision=7``,
  ``cop_vision=7``, ``legitimacy=0.8``, ``max_jail_term=1000``,
  ``active_threshold=0.1``, ``arrest_prob_constant=2.3``, ``movement=True``,
  ``max_iters=1000``; ``cop_density + citizen_density > 1`` raises (72-73).
* The space (56-58): an ``OrthogonalVonNeumannGrid`` of width x height, ``torus=True``,
  one agent per cell (``capacity=1``).
* The population (75-92): one draw per cell, ``random.choices([Citizen, Cop, None],
  cum_weights=[citizen_density, citizen_density + cop_density, 1])``: a citizen when
  ``u < citizen_density``, a cop when ``u < citizen_density + cop_density``, else the
  cell stays empty. So the number of each kind is random (binomial), as in Mesa. A
  citizen (``agents.py`` 51-83) draws ``hardship`` and ``risk_aversion`` from
  U(0, 1), starts QUIET with ``jail_sentence = 0`` and ``arrest_probability = None``;
  its ``grievance`` is ``hardship * (1 - legitimacy)``.
* A step (``model.py`` 98-107) is ``self.agents.shuffle_do("step")``: every agent,
  citizens and cops together, once, in one uniformly random order, each turn on the
  state the earlier turns left; then the counts are taken (109-114) and the
  DataCollector collects ``active``, ``quiet`` and ``arrested`` (60-64, the number of
  citizens in each state).
* A citizen's turn (``agents.py`` 85-101): when ``jail_sentence`` is non-zero it
  decreases by 1 and the turn ends (the citizen stays ARRESTED and in its cell).
  Otherwise it looks at its neighbourhood (14-20): the cells within Manhattan
  distance ``citizen_vision`` on the torus, itself excluded (``Cell.get_neighborhood``,
  ``mesa/discrete_space/cell.py`` 180-205: a dict of distinct cells, so on a torus
  smaller than the diamond each cell counts once and the own cell never). It counts
  cops and ACTIVE citizens there (103-121), itself included among the actives, and
  estimates ``arrest_probability = 1 - exp(-arrest_prob_constant * round(cops /
  actives))`` (Python's ``round``: half to even). It becomes ACTIVE when ``grievance -
  risk_aversion * arrest_probability > active_threshold``, else QUIET; then, with
  ``movement``, it moves to a uniformly random empty cell of that neighbourhood
  (22-25; empty as the neighbourhood was seen at the start of its turn).
* A cop's turn (149-164): it looks at its neighbourhood (radius ``cop_vision``), and
  when any citizen there is ACTIVE it arrests one uniformly at random: that citizen's
  ``jail_sentence`` becomes ``randint(0, max_jail_term)`` (both ends included) and its
  state ARRESTED. Then, with ``movement``, it moves as a citizen does. An arrested
  citizen stays in its cell (it still occupies it) and counts neither as a cop nor as
  active for others; it acts again at its first turn after its sentence has run out
  (a sentence of 0: at its next turn, possibly later in the same step).
* ``running`` becomes False once ``steps > max_iters`` (``model.py`` 106-107).

How ours maps them:

* Two tables, ``citizens`` (``x``, ``y``, ``hardship``, ``risk_aversion``, ``state``
  with Mesa's ``CitizenState`` values 1 ACTIVE, 2 QUIET, 3 ARRESTED, ``jail_sentence``,
  ``arrest_probability``: NaN for Mesa's None) and ``cops`` (``x``, ``y``). The
  resource ``grid`` (state) holds each cell's occupant: -1 empty, ``i`` the citizen of
  row i, ``citizens + k`` the cop of row k (an agent's *entry*).
* :func:`world` draws the population as Mesa does, one uniform per cell (``u``, from
  ``row_key(seed, -1, cell)``, stream :data:`LAYOUT_STREAM`), citizens and cops in cell
  order, and builds the world with those positions (``ModelWorld(init=)``). A
  ``ModelWorld`` built directly with counts ``{"citizens": n, "cops": m}`` places every
  row whose ``x`` is -1 (the column's default) on a uniformly random empty cell.
* The step is one sequential ``Kernel`` (``activate``): a Fisher-Yates shuffle over all
  entries ``0 .. citizens + cops - 1`` (one order across both kinds, the scratch
  ``order``), and each agent takes its turn, by the rules above, as soon as its place is
  drawn (entry ``order[t]`` is final once step t of the shuffle is done). The
  neighbourhoods are the von Neumann diamonds of ``dod_sim.spaces.grid_offsets(r,
  moore=False)``, wrapped onto the torus once and made distinct (resource ``vision``),
  so small tori count each cell once, as Mesa's dict does. Empty cells and active
  citizens are gathered in the order of those offsets (Mesa's dict has its own
  order); a uniform choice among them has the same law whatever the order.
* How a turn looks (``_scan``): the scratch ``kind`` holds what each cell holds
  (empty, a cop, a citizen, an active citizen), one byte a cell, rebuilt from ``grid``
  and ``state`` at the start of each step and kept current by every change of state,
  arrest and move; a turn reads only it (no agent row) and counts branch-free, storing
  every cell into both candidate lists and advancing each list's length by 0 or 1. A
  square whose diamond crosses no edge adds flat offsets to its cell; the others wrap
  each offset with two compare-and-subtracts. Reading the occupants' rows and states
  and branching per cell took 2.2x as long a step (1.5 against 3.3 M agent-steps/s at
  10,000 agents, default parameters).
* Draws: the step's key gives ``shuffle = draw(key, 0)`` (place t: ``draw(shuffle, t)``)
  and ``act = draw(key, 1)``; the agent of entry e draws from ``a = draw(act, e)``:
  ``draw(a, MOVE)`` its destination, ``draw(a, ARREST)`` a cop's arrestee and
  ``draw(a, TERM)`` the sentence, each mapped with ``rng.below``. Mesa draws from one
  ``random.Random``; the run is a different sample for the same seed, with the same law.
* Statistics (compiled ``Stat``\\ s): ``active``, ``quiet``, ``arrested`` (Mesa's
  reporters, counts as floats) and ``done``: 1.0 once the world has taken more than
  ``max_iters`` steps (Mesa's ``running`` turned around: ``run(steps, until="done")``).
  Mesa's agent reporters ``jail_sentence`` and ``arrest_probability`` are columns:
  ``world.collect(steps, adata=("jail_sentence", "arrest_probability"),
  table="citizens")``.

Deviations: the engine needs at least one row per table, so a world whose draw gives no
cop (``cop_density=0``, legal in Mesa) gets one *absent* cop row at ``x = y = -2``, on
no cell, that never acts (no citizen at all is refused, ``citizen_density``: Mesa's
``_update_counts`` fails then). ``legitimacy`` must lie in [0, 1], visions in [1,
1000], ``arrest_prob_constant`` >= 0 and ``max_jail_term`` in [0, 2**31 - 1]; Mesa
checks none of these (and fails later on a vision < 1).

Nothing in a step is parallel: every turn can depend on all earlier ones, as in Mesa,
so :func:`world` runs on one thread unless told otherwise; the digest is the same on
any thread count.

Measured on the AMD EPYC (znver4, 2 cores, shared and busy) host, in one process with
Mesa's example, Mesa's default parameters, best of 5 (Mesa: of 3) after a warm-up,
statistics included, fresh worlds of seeds 0-4, two runs: at Mesa's 40 x 40 (about
1,250 agents, 10 steps) 1.4-2.7 M agent-steps/s against Mesa's 13.5-23.3 k (106-117x);
at 114 x 114 (about 10,100 agents; ours 10 steps, Mesa 3) 3.26-3.35 M against 7.2-7.8 k
(430-450x). With a fresh model cache (the engine's kernels cached) the model compiles
in 6.0 s (znver3, 2026-12-08, idle cores); from the cache, 0.3 s.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from ..errors import ConfigError
from ..kernels._jit import inline, kernel
from ..kernels.rng import below, draw, row_key, uniform
from ..model import Column, Kernel, Model, ModelWorld, Resource, Stat, count_of
from ..schema import InRange, OneOf
from ..spaces import MAX_RADIUS, grid_offsets

__all__ = ["MODEL", "world", "layout", "neighbourhood", "side_for", "activate", "turn",
           "classify", "citizen_turn", "cop_turn", "ACTIVE", "QUIET", "ARRESTED", "EMPTY",
           "ABSENT", "UNPLACED", "LAYOUT_STREAM"]

ACTIVE, QUIET, ARRESTED = 1, 2, 3  # Mesa's CitizenState values
EMPTY = -1      # grid: no agent in the cell
UNPLACED = -1   # x of a row that setup places on a random empty cell
ABSENT = -2     # x = y of a row that is no agent (a kind with none: tables need a row)
MOVE, ARREST, TERM = 0, 1, 2  # streams of an agent's turn key
LAYOUT_STREAM = 1 << 23  # stream of the population's per-cell draws (world)
MAX_JAIL = 2**31 - 1


class Vision(NamedTuple):
    """The neighbourhoods as offsets already wrapped into [0, width) x [0, height),
    distinct, the own cell left out: neighbour k of (x, y) is ((x + dx[k]) mod width,
    (y + dy[k]) mod height), one subtraction each. ``*_flat``: the same diamond as
    offsets of the flat cell, unwrapped (dy * width + dx), for a square whose diamond
    does not cross an edge; where the torus is smaller than the diamond no square is
    such, and elsewhere both lists have the same offsets in the same order."""

    cit_dx: np.ndarray  # int64[m], citizen_vision
    cit_dy: np.ndarray
    cit_flat: np.ndarray
    cop_dx: np.ndarray  # int64[m'], cop_vision
    cop_dy: np.ndarray
    cop_flat: np.ndarray


class Scratch(NamedTuple):
    order: np.ndarray   # int64[citizens + cops], this step's order of entries
    empty: np.ndarray   # int64[m], the empty cells of the running turn's neighbourhood
    active: np.ndarray  # int64[m], the cells of the active citizens it sees
    kind: np.ndarray    # int8[width * height], what is in each cell (K_*), from grid
    placed: np.ndarray  # int64[2], setup: positions refused (off the grid, taken), no room


K_EMPTY, K_COP, K_CITIZEN, K_ACTIVE = 0, 1, 2, 3  # kind of a cell; K_CITIZEN: not active


def neighbourhood(radius: int, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """(dx, dy) of Mesa's ``get_neighborhood(radius)`` on a width x height von Neumann
    torus, as offsets in [0, width) x [0, height): the diamond of Manhattan radius
    ``radius`` (``grid_offsets`` order), each wrapped cell once, the own cell left out."""
    off = grid_offsets(radius, moore=False)
    dx, dy = off[:, 0] % width, off[:, 1] % height
    code = dy * width + dx
    _, first = np.unique(code, return_index=True)
    keep = np.zeros(code.size, bool)
    keep[first] = True
    keep &= code != 0
    return np.ascontiguousarray(dx[keep]), np.ascontiguousarray(dy[keep])


def _vision(p, agents):
    out = []
    for r in (p.citizen_vision, p.cop_vision):
        off = grid_offsets(r, moore=False)
        out += [*neighbourhood(r, p.width, p.height),
                np.ascontiguousarray(off[:, 1] * p.width + off[:, 0])]
    return Vision(*out)


def _scratch(p, agents, seed, columns):
    m = max(neighbourhood(p.citizen_vision, p.width, p.height)[0].size,
            neighbourhood(p.cop_vision, p.width, p.height)[0].size)
    return Scratch(np.zeros(agents + columns["cops.x"].shape[0], np.int64),
                   np.zeros(m, np.int64), np.zeros(m, np.int64),
                   np.zeros(p.width * p.height, np.int8), np.zeros(2, np.int64))


def _check_placement(s):
    if s.placed[0]:
        raise ConfigError(f"{s.placed[0]} agent(s) start off the grid or on a cell "
                          f"already taken (one agent a cell)", field="init",
                          value=int(s.placed[0]))
    if s.placed[1]:
        raise ConfigError(f"no empty cell left for {s.placed[1]} agent(s)", field="agents",
                          value=int(s.placed[1]))


# ---- setup --------------------------------------------------------------------------------


@kernel
def init_hardship(i, key, p):
    """Mesa's ``hardship = random()``."""
    return uniform(key, 0)


@kernel
def init_risk(i, key, p):
    """Mesa's ``risk_aversion = random()``."""
    return uniform(key, 0)


@kernel
def layout(seed, width, height, citizen_density, cop_density):
    """Mesa's population (``model.py`` 75-92): per cell ``c = y * width + x`` one
    uniform ``u``: 1 (a citizen) when ``u < citizen_density``, 2 (a cop) when
    ``u < citizen_density + cop_density``, else 0. int8[width * height]."""
    kinds = np.zeros(width * height, np.int8)
    both = citizen_density + cop_density
    for c in range(width * height):
        u = uniform(draw(row_key(seed, -1, c), LAYOUT_STREAM), 0)
        kinds[c] = 1 if u < citizen_density else (2 if u < both else 0)
    return kinds


@inline
def _put(e, x, y, w, h, grid, placed, cop):
    """Entry e at (x, y) into ``grid``; an unplaced row waits, an absent cop is on no
    cell; off the grid, on a taken cell or an absent citizen: counted in placed[0]."""
    if x == UNPLACED or cop and x == ABSENT and y == ABSENT:
        return
    if 0 <= x < w and 0 <= y < h and grid[y * w + x] == EMPTY:
        grid[y * w + x] = e
    else:
        placed[0] += 1


@inline
def _place_random(e, key, w, h, grid, free, placed):
    """A uniformly random empty cell for entry e (rejection: ``free`` cells are empty)."""
    if free == 0:
        placed[1] += 1
        return -1
    t = 0
    while True:
        c = below(draw(key, t), w * h)
        t += 1
        if grid[c] == EMPTY:
            grid[c] = e
            return c


@kernel
def place(key, n, p, x, y, cop_x, cop_y, grid, scratch):
    """Setup: every agent into ``grid``; rows at ``x = -1`` onto uniformly random empty
    cells (citizens first, then cops, row order); positions off the grid or on a taken
    cell are counted (``scratch.placed``) and raised as ConfigError after setup."""
    w, h = p.width, p.height
    placed = scratch.placed
    placed[0] = 0
    placed[1] = 0
    grid[:] = EMPTY
    nk = cop_x.shape[0]
    for e in range(n + nk):  # citizens, then cops
        cop = e >= n
        xs, ys = (cop_x, cop_y) if cop else (x, y)
        r = e - n if cop else e
        _put(e, xs[r], ys[r], w, h, grid, placed, cop)
    free = 0
    for c in range(w * h):
        free += grid[c] == EMPTY
    for e in range(n + nk):
        xs, ys = (x, y) if e < n else (cop_x, cop_y)
        r = e if e < n else e - n
        if xs[r] == UNPLACED:
            c = _place_random(e, draw(key, e), w, h, grid, free, placed)
            if c >= 0:
                free -= 1
                xs[r] = c % w
                ys[r] = c // w


# ---- the step -----------------------------------------------------------------------------


@inline
def _cell(x, y, dx, dy, k, w, h):
    nx = x + dx[k]
    if nx >= w:
        nx -= w
    ny = y + dy[k]
    if ny >= h:
        ny -= h
    return ny * w + nx


@inline
def _scan(x, y, r, dx, dy, flat, w, h, kind, empty, active):
    """Look at the neighbourhood of radius r around (x, y): its empty cells into
    ``empty``, the cells of its active citizens into ``active``, both in the order of
    the offsets; returns (empty cells, active citizens, cops). Branch-free: what a cell
    holds is a coin flip."""
    ne = 0
    na = 0
    cops = 0
    if r <= x < w - r and r <= y < h - r:  # the diamond crosses no edge
        base = y * w + x
        for k in range(flat.shape[0]):
            c = base + flat[k]
            t = kind[c]
            empty[ne] = c
            active[na] = c
            ne += t == K_EMPTY
            na += t == K_ACTIVE
            cops += t == K_COP
    else:
        for k in range(dx.shape[0]):
            c = _cell(x, y, dx, dy, k, w, h)
            t = kind[c]
            empty[ne] = c
            active[na] = c
            ne += t == K_EMPTY
            na += t == K_ACTIVE
            cops += t == K_COP
    return ne, na, cops


@inline
def _move(e, a, t, xs, ys, r, w, grid, kind, empty, ne):
    """Mesa's ``move``: to a uniformly random cell of the ``ne`` empty ones seen; t:
    the mover's kind of cell."""
    c = empty[below(draw(a, MOVE), ne)]
    old = ys[r] * w + xs[r]
    grid[old] = EMPTY
    kind[old] = K_EMPTY
    grid[c] = e
    kind[c] = t
    xs[r] = c % w
    ys[r] = c // w


@inline
def citizen_turn(i, p, hardship, risk, state, prob, kind, c, na, cops):
    """Citizen i's turn (``Citizen.step``) on cell c, after the look around (``na``
    active citizens, ``cops`` cops seen): its arrest probability and state; returns its
    kind of cell."""
    actives = na + 1  # the citizen counts herself
    q = 1.0 - math.exp(-1.0 * p.arrest_prob_constant * np.rint(cops / actives))
    prob[i] = q
    grievance = hardship[i] * (1.0 - p.legitimacy)
    rebel = grievance - risk[i] * q > p.active_threshold
    state[i] = ACTIVE if rebel else QUIET
    t = K_ACTIVE if rebel else K_CITIZEN
    kind[c] = t
    return t


@inline
def cop_turn(a, p, state, jail, grid, kind, active, na):
    """A cop's arrest (``Cop.step``), after the look around (``na`` active citizens
    seen, their cells in ``active``); a: its key."""
    if na:
        c = active[below(draw(a, ARREST), na)]
        t = grid[c]
        jail[t] = below(draw(a, TERM), p.max_jail_term + 1)
        state[t] = ARRESTED
        kind[c] = K_CITIZEN


@inline
def classify(n, state, grid, kind):
    """``kind`` of every cell from ``grid`` and the citizens' states."""
    for c in range(grid.shape[0]):
        o = grid[c]
        kind[c] = (K_EMPTY if o < 0 else K_COP if o >= n else
                   K_ACTIVE if state[o] == ACTIVE else K_CITIZEN)


@inline
def turn(e, act, n, p, vis, x, y, hardship, risk, state, jail, prob, cop_x, cop_y, grid,
         scratch):
    """The turn of entry e: citizen e, or cop e - n (``classify`` first, each step).
    One look around and one move for both kinds (compiled once: they are most of the
    step's code)."""
    citizen = e < n
    if citizen and jail[e]:  # a jailed citizen waits
        jail[e] -= 1
        return
    r = e if citizen else e - n
    xs = x if citizen else cop_x
    ys = y if citizen else cop_y
    xr, yr = np.int64(xs[r]), np.int64(ys[r])
    if not citizen and xr < 0:  # an absent cop row
        return
    w, h = p.width, p.height
    kind, empty, active = scratch.kind, scratch.empty, scratch.active
    if citizen:
        radius, dx, dy, flat = p.citizen_vision, vis.cit_dx, vis.cit_dy, vis.cit_flat
    else:
        radius, dx, dy, flat = p.cop_vision, vis.cop_dx, vis.cop_dy, vis.cop_flat
    ne, na, cops = _scan(xr, yr, radius, dx, dy, flat, w, h, kind, empty, active)
    a = draw(act, e)
    if citizen:
        t = citizen_turn(e, p, hardship, risk, state, prob, kind, yr * w + xr, na, cops)
    else:
        cop_turn(a, p, state, jail, grid, kind, active, na)
        t = K_COP
    if p.movement and ne:
        _move(e, a, t, xs, ys, r, w, grid, kind, empty, ne)


@kernel
def activate(key, n, p, x, y, hardship, risk, state, jail, prob, cop_x, cop_y, grid, vision,
             scratch, clock):
    """One step: every agent's turn, citizens and cops in one uniformly random order
    (module docstring). n: citizens; ``clock[0]`` counts the steps."""
    order = scratch.order
    classify(n, state, grid, scratch.kind)
    m = n + cop_x.shape[0]
    shuffle, act = draw(key, 0), draw(key, 1)
    for t in range(m):
        order[t] = t
    for t in range(m):  # Fisher-Yates; entry order[t] is final once step t is done
        j = t + below(draw(shuffle, t), m - t)
        e = order[j]
        order[j] = order[t]
        order[t] = e
        turn(e, act, n, p, vision, x, y, hardship, risk, state, jail, prob, cop_x, cop_y,
             grid, scratch)
    clock[0] += 1


# ---- statistics ---------------------------------------------------------------------------


@kernel
def active(n, p, state):
    """Mesa's ``active`` reporter: citizens ACTIVE."""
    return np.float64(count_of(n, state, ACTIVE))


@kernel
def quiet(n, p, state):
    """Mesa's ``quiet`` reporter: citizens QUIET."""
    return np.float64(count_of(n, state, QUIET))


@kernel
def arrested(n, p, state):
    """Mesa's ``arrested`` reporter: citizens ARRESTED."""
    return np.float64(count_of(n, state, ARRESTED))


@kernel
def done(n, p, clock):
    """1.0 once more than ``max_iters`` steps were taken (Mesa's ``running`` False)."""
    return 1.0 if clock[0] > p.max_iters else 0.0


# ---- parameters ---------------------------------------------------------------------------

_PARAMS = {"width": 40, "height": 40, "citizen_density": 0.7, "cop_density": 0.074,
           "citizen_vision": 7, "cop_vision": 7, "legitimacy": 0.8, "max_jail_term": 1000,
           "active_threshold": 0.1, "arrest_prob_constant": 2.3, "movement": True,
           "max_iters": 1000}


def _bad(field, value, why, bound=None):
    return ConfigError(f"{field}={value!r} {why}", field=field, value=value, bound=bound)


def _int(get, k, lo, hi):
    v = get(k)
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        raise _bad(k, v, "must be an integer", (lo, hi))
    if not lo <= v <= hi:
        raise _bad(k, v, f"must be in [{lo}, {hi}]", (lo, hi))


def _real(get, k, lo, hi):
    v = get(k)
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) \
            or not math.isfinite(v):
        raise _bad(k, v, "must be a finite number", (lo, hi))
    if not lo <= v <= hi:
        raise _bad(k, v, f"must be in [{lo}, {hi}]", (lo, hi))


def _check_params(get):
    """ConfigError naming the first bad parameter; get(name) -> its value."""
    _int(get, "width", 1, 2**31 - 1)
    _int(get, "height", 1, 2**31 - 1)
    if get("width") * get("height") >= 2**31:
        raise _bad("width", get("width"), f"* height={get('height')} must be < 2**31 "
                   f"(cells and entries are int32 in the grid)", 2**31)
    _real(get, "citizen_density", 0.0, 1.0)
    _real(get, "cop_density", 0.0, 1.0)
    if get("citizen_density") + get("cop_density") > 1:
        raise _bad("cop_density", get("cop_density"), f"+ citizen_density="
                   f"{get('citizen_density')!r} must be at most 1 (Mesa: 'Cop density + "
                   f"citizen density must be less than 1')", 1 - get("citizen_density"))
    _int(get, "citizen_vision", 1, MAX_RADIUS)
    _int(get, "cop_vision", 1, MAX_RADIUS)
    _real(get, "legitimacy", 0.0, 1.0)
    _int(get, "max_jail_term", 0, MAX_JAIL)
    _real(get, "active_threshold", -math.inf, math.inf)
    _real(get, "arrest_prob_constant", 0.0, math.inf)
    _int(get, "max_iters", 0, 2**62)


def _check(p, agents):
    _check_params(lambda k: getattr(p, k))
    cells = p.width * p.height
    total = sum(agents.values())
    if total > cells:
        raise ConfigError(f"agents={agents} are {total}, more than the {cells} cells of a "
                          f"{p.width} x {p.height} grid (one agent a cell)", field="agents",
                          value=total, bound=cells)


MODEL = Model(
    "epstein_civil_violence",
    params=_PARAMS,
    columns=[
        Column("x", np.int32, UNPLACED, "grid column, [0, width); -1 before setup places "
               "it", (InRange(0, "width"),), table="citizens"),
        Column("y", np.int32, UNPLACED, "grid row, [0, height)", (InRange(0, "height"),),
               table="citizens"),
        Column("hardship", np.float64, init_hardship, "perceived hardship, U(0, 1)",
               (InRange(0.0, 1.0),), table="citizens"),
        Column("risk_aversion", np.float64, init_risk, "risk aversion, U(0, 1)",
               (InRange(0.0, 1.0),), table="citizens"),
        Column("state", np.int8, QUIET, "Mesa's CitizenState: 1 active, 2 quiet, "
               "3 arrested", (OneOf((ACTIVE, QUIET, ARRESTED)),), table="citizens"),
        Column("jail_sentence", np.int64, 0, "turns left in jail",
               (InRange(0, "max_jail_term", hi_inclusive=True),), table="citizens"),
        Column("arrest_probability", np.float64, np.nan, "estimated P(arrest | active) at "
               "its last free turn; NaN (Mesa's None) before", table="citizens"),
        Column("x", np.int32, UNPLACED, "grid column, [0, width); -2: an absent row",
               (InRange(-2, "width"),), table="cops"),
        Column("y", np.int32, UNPLACED, "grid row, [0, height); -2: an absent row",
               (InRange(-2, "height"),), table="cops"),
    ],
    resources=[
        Resource("grid", lambda p, n: np.full(p.width * p.height, EMPTY, np.int32),
                 state=True),
        Resource("clock", lambda p, n: np.zeros(1, np.int64), state=True),
        Resource("vision", _vision),
        Resource("scratch", _scratch, check=_check_placement),
    ],
    setup=[Kernel("place", place, table="citizens", reads=("x", "y", "cops.x", "cops.y"),
                  writes=("x", "y", "cops.x", "cops.y", "grid", "scratch"))],
    systems=[Kernel("activate", activate, table="citizens",
                    reads=("x", "y", "hardship", "risk_aversion", "state", "jail_sentence",
                           "arrest_probability", "cops.x", "cops.y", "grid", "vision",
                           "scratch", "clock"),
                    writes=("x", "y", "state", "jail_sentence", "arrest_probability",
                            "cops.x", "cops.y", "grid", "scratch", "clock"))],
    stats={"active": Stat(active, reads=("state",), table="citizens"),
           "quiet": Stat(quiet, reads=("state",), table="citizens"),
           "arrested": Stat(arrested, reads=("state",), table="citizens"),
           "done": Stat(done, reads=("clock",), table="citizens")},
    check=_check,
    view={"color": "state", "cmap": "Set1", "vmin": ACTIVE, "vmax": ARRESTED},
    doc=__doc__,
)


def side_for(agents: int, citizen_density: float = 0.7, cop_density: float = 0.074) -> int:
    """The side of a square grid expected to hold ``agents`` agents at these densities
    (Mesa's 40 x 40 at its defaults holds about 1,238)."""
    d = citizen_density + cop_density
    if d <= 0:
        raise ConfigError("citizen_density + cop_density is 0: no side holds agents",
                          field="citizen_density", value=citizen_density)
    return max(1, int(round((agents / d) ** 0.5)))


def world(agents: int | None = None, seed: int = 0, threads: int | None = None,
          **params) -> ModelWorld:
    """A civil violence world with Mesa's population drawn from ``seed`` (module
    docstring). ``agents``: the expected number of agents, which sets width = height =
    :func:`side_for` unless they are given; None: Mesa's 40 x 40. The actual counts are
    random, as in Mesa: ``world.table_agents``. ``threads=None`` means one thread (the
    step is one sequential kernel)."""
    merged = {**_PARAMS, **params}
    _check_params(lambda k: merged[k])
    if agents is not None:
        if isinstance(agents, bool) or not isinstance(agents, (int, np.integer)) or agents < 1:
            raise ConfigError(f"agents={agents!r} must be an integer >= 1", field="agents",
                              value=agents, bound=1)
        side = side_for(agents, merged["citizen_density"], merged["cop_density"])
        for k in ("width", "height"):
            params.setdefault(k, side)
            merged[k] = params[k]
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) \
            or not 0 <= seed <= 2**63 - 1:
        raise ConfigError(f"seed={seed!r} must be an integer in [0, 2**63 - 1]",
                          field="seed", value=seed, bound=(0, 2**63 - 1))
    w, h = merged["width"], merged["height"]
    kinds = layout(seed, w, h, float(merged["citizen_density"]), float(merged["cop_density"]))
    init = {}
    for name, kind in (("citizens", 1), ("cops", 2)):
        cells = np.flatnonzero(kinds == kind)
        if cells.size == 0:
            if name == "citizens":
                raise ConfigError(f"citizen_density={merged['citizen_density']!r} gave no "
                                  f"citizen on a {w} x {h} grid (Mesa fails counting them)",
                                  field="citizen_density", value=merged["citizen_density"])
            init["cops.x"] = init["cops.y"] = np.full(1, ABSENT, np.int32)
            continue
        init[f"{name}.x"] = (cells % w).astype(np.int32)
        init[f"{name}.y"] = (cells // w).astype(np.int32)
    counts = {"citizens": init["citizens.x"].size, "cops": init["cops.x"].size}
    return ModelWorld(MODEL, counts, seed=seed, threads=1 if threads is None else threads,
                      init=init, **params)
