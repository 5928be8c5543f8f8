"""Wolf-sheep predation with grass, after Mesa 3.3.1's
``mesa/examples/advanced/wolf_sheep/model.py`` and ``agents.py`` (and the
``ABMSimulator`` of ``mesa/experimental/devs/simulator.py`` that drives it).

Mesa's rules (line numbers in those files):

* Parameters and defaults (``model.py`` 31-45): ``width=20``, ``height=20``,
  ``initial_sheep=100``, ``initial_wolves=50``, ``sheep_reproduce=0.04``,
  ``wolf_reproduce=0.05``, ``wolf_gain_from_food=20``, ``grass=True``,
  ``grass_regrowth_time=30``, ``sheep_gain_from_food=4``.
* The space (``model.py`` 73-78): an ``OrthogonalVonNeumannGrid([height, width],
  torus=True)``: every cell has its 4 edge neighbours, wrapping, in the order of the
  offsets ``(-1, 0), (0, -1), (0, 1), (1, 0)`` over (row, column) (``grid.py`` 242-252),
  any number of agents per cell. On a torus under 3 cells wide or high, offsets that
  wrap onto the same cell give it once, at its first place (``Cell._neighborhood`` is a
  dict keyed by cell, ``cell.py`` 181-196), the cell itself included when one wraps
  onto it.
* Setup (``model.py`` 92-119): each sheep gets energy ``uniform[0, 1) * 2 *
  sheep_gain_from_food`` and a uniformly random cell (``random.choices``, with
  repetition), then each wolf the same with ``wolf_gain_from_food``. If ``grass``, every
  cell gets a ``GrassPatch``: fully grown with probability 1/2, otherwise with a
  countdown ``randrange(0, grass_regrowth_time)``, and a countdown of 0 is fully grown
  too (``agents.py`` 274). A patch not fully grown schedules its regrowth ``countdown``
  ticks ahead (``agents.py`` 278-282).
* A step (``model.py`` 125-132): every sheep steps once in a uniformly random order
  (``agents_by_type[Sheep].shuffle_do("step")``), then every wolf likewise, then the
  DataCollector collects. ``shuffle_do`` (``agent.py`` 345-362) shuffles the agents of
  that kind that exist when it starts: a lamb born during the sheep's turns acts from the
  next step on, and so does a cub.
* An animal's turn (``agents.py`` 171-185): ``move``; ``energy -= 1``; ``feed``; then if
  ``energy < 0`` it dies, else with probability ``p_reproduce`` it splits: its energy is
  halved and a newborn of its kind with that energy appears in its cell (157-166).
* A sheep's move (``agents.py`` 200-219): among its neighbour cells those without a wolf;
  if none, it stays; otherwise a uniformly random one of those with fully grown grass,
  or of all of them when none has. Its feed (191-198): if the grass of its cell is fully
  grown, ``energy += sheep_gain_from_food`` and the grass is eaten.
* A wolf's move (``agents.py`` 233-241): a uniformly random neighbour cell with at least
  one sheep, or of all its neighbour cells when none has one. Its feed (225-231): if
  sheep are in its cell, it eats a uniformly random one of them (removed at once, so a
  later wolf cannot eat it, and lambs born this step can be eaten) and gains
  ``wolf_gain_from_food``.
* Grass (``agents.py`` 244-262): eaten grass schedules its regrowth
  ``grass_regrowth_time`` ticks ahead, as an event of the ``ABMSimulator``. The simulator
  runs ``model.step`` at each integer tick with priority HIGH (``simulator.py``
  285-293, 336-371), before the DEFAULT-priority regrowth events of that tick, so grass
  eaten in step t grows back after the collection of step t + regrowth time: it is
  available again from step t + regrowth time + 1 on; a patch that starts with countdown
  c is available from step c + 1 on.
* Reporters (``model.py`` 80-90, collected at setup and after each step): ``Wolves`` and
  ``Sheep`` (counts) and, if ``grass``, ``Grass`` (fully grown patches).

How ours maps them:

* Two tables, ``sheep`` and ``wolves``, columns ``x`` (column of the grid, [0, width)),
  ``y`` (row, [0, height)) and ``energy`` (float64, as Mesa's); ``dynamic=True``. Mesa's
  cell (row i, column j) is our (x, y) = (j, i) and flat cell ``y * width + x``, which
  is also the place of the cell in Mesa's ``all_cells`` (and ``for cell in
  self.grid``); the neighbours of each cell are the resource ``cells`` (:class:`Cells`),
  built from ``dod_sim.spaces.grid_offsets(1, moore=False)`` read as Mesa's (row,
  column) offsets, so in Mesa's order, duplicates on small tori removed as Mesa does.
* The grass is a cell layer: the resources ``fully_grown`` (uint8 per cell, 1 fully
  grown: Mesa's ``GrassPatch.fully_grown``) and ``countdown`` (int32 per cell), both
  state. Mesa's scheduled event becomes a countdown: the system ``grow`` runs first in
  a step and, for each patch not fully grown, makes it fully grown if its countdown is
  0 and counts it down by 1 otherwise; eating sets the countdown to
  ``grass_regrowth_time``. So a patch eaten in step t (countdown R) is counted down at
  the start of steps t + 1 ... t + R and grows at the start of step t + R + 1: the
  event's timing above (``tests/test_wolf_sheep.py`` runs Mesa's ``GrassPatch`` on
  Mesa's ``ABMSimulator`` against ``grow``). ``grass=False``: no patch is ever grown
  and ``Grass`` is 0.
* The step is three whole-column systems: ``grow``; ``sheep_turns`` (table ``sheep``):
  a count of the wolves per cell (they do not move during the sheep's turns), then the
  sheep in a uniformly random order (``shuffled``), each taking its turn with Mesa's
  rules on the current state (grass eaten by an earlier sheep is gone for a later one);
  ``wolf_turns`` (table ``wolves``): the live sheep sorted by cell (a counting sort, in
  row order within a cell), then the wolves in a uniformly random order, each taking
  its turn; an eaten sheep is killed at once (``kill``) and leaves its cell's list.
  Births (``spawn``) land in free rows and act from the next system on, deaths are
  settled after each system, so the wolves see the lambs of this step, as in Mesa.
* Draws: the key of a turn system gives ``draw(key, 0)`` for the shuffle and ``act =
  draw(key, 1)``; the animal on row i draws from ``a = draw(act, i)``: ``below(draw(a,
  MOVE), m)`` picks its move among its m candidate cells (in neighbour order),
  ``uniform(a, BREED)`` decides reproduction and, for a wolf, ``below(draw(a, EAT), h)``
  picks its prey among the h sheep in its cell (in row order). Setup (``plant``)
  draws the grass from its key: cell c takes ``g = draw(key, c)``, fully grown when
  ``uniform(g, 0) < 0.5``, else countdown ``below(draw(g, 1), grass_regrowth_time)``.
  The counter-based draws make a run another sample than Mesa's for the same seed, with
  the same distribution.
* Statistics (compiled ``Stat``\\ s): ``Wolves``, ``Sheep``, ``Grass``, Mesa's reporters,
  at setup (``stats()``) and after every step.

Deviations: ``grass=False`` makes Mesa 3.3.1's ``Sheep.feed`` raise ``StopIteration``
(no ``GrassPatch`` in the cell) and leaves ``Grass`` out of its DataCollector; here the
sheep then find nothing to eat (they still pay 1 a step, as ``Animal.step`` says) and
``Grass`` is 0. ``initial_sheep`` or ``initial_wolves`` of 0 fails in Mesa (its
``Wolves`` reporter raises ``KeyError`` at the first collection) and is refused here
(a table starts with at least one agent). Mesa's energies follow NumPy's generator and
Python's ``random``; ours the counter-based one (another sample, the same law).

Capacity: a table's rows are fixed when the world is built (a birth with no free row
ends the run with ``CapacityError``); :func:`world` gives each table ``capacity``
rows, by default ``2 * (initial_sheep + initial_wolves) + width * height // 4``
(:func:`capacity_for`): 400 at Mesa's defaults, where over 20 seeds of 200 steps
Mesa's populations peaked at 101 sheep and 110 wolves (ours, 300 steps: 104 wolves,
156 with ``wolf_reproduce=0.1``); the cell term is for sheep on a large grid (10 sheep
and 5 wolves on 100 x 100 peaked at 1,536 sheep). Every system that is given a
population settles it afterwards, which scans all its rows, so rows cost time even when
free: ``sheep_turns`` reads the wolves' ``alive`` column rather than their population,
and the statistics read the populations' live counts rather than scanning ``alive``.

Nothing in a step is parallel (every turn can depend on all earlier ones, as in Mesa),
so :func:`world` runs on one thread unless told otherwise; the digest is the same on
any thread count.

Measured on the AMD EPYC (znver4, 2 cores, shared: load ~2) host, 2026-12-07, in one
process with Mesa's example, 20 steps from setup (agent-steps: the animals alive at the
start of each step), best of 30 runs (Mesa 5) at Mesa's defaults and of 7 (Mesa 3) at
10,000 animals after a warm-up, statistics included, over four runs of the script:
150 animals on 20 x 20, 3.4-4.0 M agent-steps/s against Mesa's 92-102 k (34-43x; a
20-step ``run`` takes ~0.5 ms, of which ~0.2 ms is the fixed cost of the call);
10,000 animals (6,667 sheep, 3,333 wolves) on 163 x 163, 7.9-12.7 M against 44-57 k
(178-230x). The three settles of a step (two populations after ``wolf_turns``, one
after ``sheep_turns``) cost ~1.3 ns per row of capacity each, ~80 us of a ~0.45 ms
step at 10,000 animals. Cold, the model compiles in 7.2 s (znver3, 2026-12-08, idle
cores), kernels already cached; cached, 0.5 s.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..errors import ConfigError
from ..kernels._jit import inline, kernel
from ..kernels.population import ALIVE, LIVE, is_alive, kill, shuffled, spawn
from ..kernels.rng import below, draw, uniform
from ..kernels.spaces import random_cell_x, random_cell_y
from ..model import Column, Kernel, Model, ModelWorld, Resource, Stat
from ..schema import Finite, InRange
from ..spaces import grid_offsets

__all__ = ["MODEL", "world", "Cells", "cells_of", "capacity_for", "side_for",
           "MOVE", "BREED", "EAT", "PROBABILITIES", "GAINS"]

# streams of an animal's turn key (draw(act, row))
MOVE, BREED, EAT = 0, 1, 2
PROBABILITIES = ("sheep_reproduce", "wolf_reproduce")
GAINS = ("sheep_gain_from_food", "wolf_gain_from_food")
MESA_AGENTS = 150   # Mesa's default initial_sheep + initial_wolves on its 20 x 20 grid
MESA_SIDE = 20


class Cells(NamedTuple):
    """The von Neumann neighbours of every cell, in Mesa's order.

    nbr : int64[cells, 4], the flat cells ``y * width + x`` of cell c's neighbours
        ``nbr[c, :count[c]]``
    count : int64[cells], 4 on a grid of at least 3 x 3, fewer where wrapped offsets
        coincide
    """

    nbr: np.ndarray
    count: np.ndarray


def cells_of(width: int, height: int) -> Cells:
    """Mesa's ``cell.neighborhood`` of every cell of the width x height torus (module
    docstring): offsets (di, dj) over (row, column) = (y, x) in Mesa's order, each
    distinct cell once at its first place."""
    off = grid_offsets(1, moore=False)  # (-1, 0), (0, -1), (0, 1), (1, 0): Mesa's (di, dj)
    cells = width * height
    y, x = np.divmod(np.arange(cells, dtype=np.int64), width)
    nbr = np.stack([((y + di) % height) * width + (x + dj) % width for di, dj in off], axis=1)
    count = np.full(cells, off.shape[0], np.int64)
    if width < 3 or height < 3:  # wrapped offsets may coincide: keep each cell once
        for c in range(cells):
            seen = list(dict.fromkeys(nbr[c].tolist()))
            count[c] = len(seen)
            nbr[c, :len(seen)] = seen
            nbr[c, len(seen):] = -1
    return Cells(np.ascontiguousarray(nbr), count)


class SheepIndex(NamedTuple):
    """Scratch of ``wolf_turns``: the live sheep by cell. The sheep in cell c are
    ``rows[start[c]:start[c] + count[c]]``, ascending."""

    start: np.ndarray  # int64[cells]
    count: np.ndarray  # int64[cells]
    rows: np.ndarray   # int64[sheep rows]


# ---- setup ------------------------------------------------------------------------------


@kernel
def init_sheep_energy(i, key, p):
    """Mesa's ``rng.random() * 2 * sheep_gain_from_food``."""
    return uniform(key, 0) * 2.0 * p.sheep_gain_from_food


@kernel
def init_wolf_energy(i, key, p):
    return uniform(key, 0) * 2.0 * p.wolf_gain_from_food


@kernel
def plant(key, n, p, grass, countdown):
    """Setup: Mesa's GrassPatch per cell (model.py 111-119): fully grown with probability
    1/2, else countdown ``randrange(0, grass_regrowth_time)``, fully grown when it is 0.
    Without ``grass``, no patch is grown, ever."""
    for c in range(grass.shape[0]):
        g = draw(key, c)
        cd = 0
        if p.grass and uniform(g, 0) >= 0.5:
            cd = below(draw(g, 1), p.grass_regrowth_time)
        grass[c] = 1 if p.grass and cd == 0 else 0
        countdown[c] = cd


# ---- the step ---------------------------------------------------------------------------


@kernel
def grow(key, n, p, grass, countdown):
    """Start of a step: the regrowth events due (module docstring). A patch not fully
    grown grows if its countdown is 0, else counts down."""
    if not p.grass:
        return
    for c in range(grass.shape[0]):
        if grass[c] == 0:
            if countdown[c] == 0:
                grass[c] = 1
            else:
                countdown[c] -= 1


@inline
def _die_or_breed(i, e, a, chance, x, y, energy, pop):
    """The end of an animal's turn with energy ``e`` (agents.py, Animal.step): below 0 it
    dies; else with probability ``chance`` it gives birth in its cell, the newborn taking
    half its energy."""
    if e < 0:
        energy[i] = e
        kill(pop, i)
    elif uniform(a, BREED) < chance:
        r = spawn(pop)
        if r >= 0:
            e = e / 2
            x[r] = x[i]
            y[r] = y[i]
            energy[r] = e
        energy[i] = e
    else:
        energy[i] = e


@kernel
def sheep_turns(key, n, p, wx, wy, walive, cells, x, y, energy, grass, countdown,
                wolf_count, sheep):
    """Every sheep's turn, sequentially in a uniformly random order (Sheep.step).

    wx, wy, walive : the wolves' cells and ``alive`` (read: the wolves' population is not
    passed, so that it is not settled after this system); cells : :class:`Cells`;
    x, y, energy : the sheep's columns; grass, countdown : the grass layer;
    wolf_count : int32[cells] scratch; sheep : the sheep's population."""
    w = p.width
    nbr, nbr_n = cells.nbr, cells.count
    for c in range(wolf_count.shape[0]):
        wolf_count[c] = 0
    for i in range(wx.shape[0]):
        if walive[i] == ALIVE:
            wolf_count[wy[i] * w + wx[i]] += 1
    m = shuffled(sheep, draw(key, 0), n)
    act = draw(key, 1)
    order = sheep.order
    for t in range(m):
        i = order[t]
        if not is_alive(sheep, i):
            continue
        a = draw(act, i)
        c = np.int64(y[i]) * w + x[i]
        # move: a random wolf-free neighbour, one with grown grass if any; stay if none
        safe = 0
        green = 0
        for j in range(nbr_n[c]):
            d = nbr[c, j]
            if wolf_count[d] == 0:
                safe += 1
                green += grass[d] != 0
        if safe > 0:
            k = below(draw(a, MOVE), green if green > 0 else safe)
            for j in range(nbr_n[c]):
                d = nbr[c, j]
                if wolf_count[d] == 0 and (green == 0 or grass[d] != 0):
                    if k == 0:
                        c = d
                        break
                    k -= 1
            x[i] = c % w
            y[i] = c // w
        e = energy[i] - 1.0
        if grass[c] != 0:  # feed
            e += p.sheep_gain_from_food
            grass[c] = 0
            countdown[c] = p.grass_regrowth_time
        _die_or_breed(i, e, a, p.sheep_reproduce, x, y, energy, sheep)


@kernel
def wolf_turns(key, n, p, sx, sy, cells, x, y, energy, index, wolves, sheep):
    """Every wolf's turn, sequentially in a uniformly random order (Wolf.step).

    sx, sy : the sheep's cells (read); cells : :class:`Cells`; x, y, energy : the
    wolves' columns; index : :class:`SheepIndex` scratch; wolves, sheep : the
    populations (a wolf kills the sheep it eats)."""
    w = p.width
    nbr, nbr_n = cells.nbr, cells.count
    start, count, rows = index.start, index.count, index.rows
    ncells = count.shape[0]
    for c in range(ncells):
        count[c] = 0
    ns = sx.shape[0]
    for s in range(ns):
        if sheep.alive[s] == ALIVE:
            count[np.int64(sy[s]) * w + sx[s]] += 1
    total = 0
    for c in range(ncells):
        start[c] = total
        total += count[c]
        count[c] = 0
    for s in range(ns):  # in row order: each cell's list ascending
        if sheep.alive[s] == ALIVE:
            c = np.int64(sy[s]) * w + sx[s]
            rows[start[c] + count[c]] = s
            count[c] += 1
    m = shuffled(wolves, draw(key, 0), n)
    act = draw(key, 1)
    order = wolves.order
    for t in range(m):
        i = order[t]
        if not is_alive(wolves, i):
            continue
        a = draw(act, i)
        c = np.int64(y[i]) * w + x[i]
        # move: a random neighbour with sheep, any neighbour if none has
        fed = 0
        for j in range(nbr_n[c]):
            fed += count[nbr[c, j]] > 0
        k = below(draw(a, MOVE), fed if fed > 0 else nbr_n[c])
        for j in range(nbr_n[c]):
            d = nbr[c, j]
            if fed == 0 or count[d] > 0:
                if k == 0:
                    c = d
                    break
                k -= 1
        x[i] = c % w
        y[i] = c // w
        e = energy[i] - 1.0
        h = count[c]
        if h > 0:  # feed: a random sheep of the cell, gone at once
            b = start[c]
            j = b + below(draw(a, EAT), h)
            s = rows[j]
            for q in range(j, b + h - 1):
                rows[q] = rows[q + 1]
            count[c] = h - 1
            kill(sheep, s)
            e += p.wolf_gain_from_food
        _die_or_breed(i, e, a, p.wolf_reproduce, x, y, energy, wolves)


@kernel
def live(n, p, pop):
    """Mesa's ``Wolves`` / ``Sheep`` reporters: the live agents of a table (kept by the
    population as agents die and are born)."""
    return float(pop.count[LIVE])


@kernel
def grass_count(n, p, grass):
    """Mesa's ``Grass`` reporter: the fully grown patches."""
    m = 0
    for c in range(grass.shape[0]):
        m += grass[c] != 0
    return float(m)


# ---- the model --------------------------------------------------------------------------


def _check(p, agents):
    for k in ("width", "height"):
        if getattr(p, k) < 1:
            raise ConfigError(f"{k}={getattr(p, k)} must be >= 1", field=k,
                              value=getattr(p, k), bound=1)
    if p.width * p.height >= 2**31:
        raise ConfigError(f"width * height = {p.width * p.height} must be < 2**31",
                          field="width", value=p.width, bound=2**31)
    for k in PROBABILITIES:
        v = getattr(p, k)
        if not 0.0 <= v <= 1.0:
            raise ConfigError(f"{k}={v!r} must be a probability in [0, 1]", field=k,
                              value=v, bound=(0.0, 1.0))
    for k in GAINS:
        v = getattr(p, k)
        if not 0.0 <= v < float("inf"):
            raise ConfigError(f"{k}={v!r} must be finite and >= 0", field=k, value=v,
                              bound=0.0)
    if not 1 <= p.grass_regrowth_time < 2**31:
        # Mesa's randrange(0, 0) raises at setup for 0
        raise ConfigError(f"grass_regrowth_time={p.grass_regrowth_time} must be in "
                          f"[1, 2**31)", field="grass_regrowth_time",
                          value=p.grass_regrowth_time, bound=(1, 2**31 - 1))


def _cells(p, agents):
    return cells_of(p.width, p.height)


def _sheep_index(p, agents):
    # agents: the rows of the first table, the sheep's
    cells = p.width * p.height
    return SheepIndex(np.zeros(cells, np.int64), np.zeros(cells, np.int64),
                      np.zeros(agents, np.int64))


_CELL = (InRange(0, "width"),)
_ROW = (InRange(0, "height"),)

MODEL = Model(
    "wolf_sheep",
    dynamic=True,
    view={"layer": "fully_grown"},
    params={"width": 20, "height": 20, "sheep_reproduce": 0.04, "wolf_reproduce": 0.05,
            "wolf_gain_from_food": 20.0, "grass": True, "grass_regrowth_time": 30,
            "sheep_gain_from_food": 4.0},
    columns=[
        Column("x", np.int32, random_cell_x, "grid column, [0, width)", _CELL, table="sheep"),
        Column("y", np.int32, random_cell_y, "grid row, [0, height)", _ROW, table="sheep"),
        Column("energy", np.float64, init_sheep_energy, "Mesa's Animal.energy",
               (Finite(),), table="sheep"),
        Column("x", np.int32, random_cell_x, "grid column, [0, width)", _CELL, table="wolves"),
        Column("y", np.int32, random_cell_y, "grid row, [0, height)", _ROW, table="wolves"),
        Column("energy", np.float64, init_wolf_energy, "Mesa's Animal.energy",
               (Finite(),), table="wolves"),
    ],
    resources=[
        Resource("fully_grown", lambda p, n: np.zeros(p.width * p.height, np.uint8),
                 state=True),
        Resource("countdown", lambda p, n: np.zeros(p.width * p.height, np.int32),
                 state=True),
        Resource("cells", _cells),
        Resource("wolf_count", lambda p, n: np.zeros(p.width * p.height, np.int32)),
        Resource("sheep_index", _sheep_index),
    ],
    setup=[Kernel("plant", plant, writes=("fully_grown", "countdown"))],
    systems=[
        Kernel("grow", grow, writes=("fully_grown", "countdown")),
        Kernel("sheep_turns", sheep_turns, table="sheep",
               reads=("wolves.x", "wolves.y", "wolves.alive", "cells"),
               writes=("x", "y", "energy", "fully_grown", "countdown", "wolf_count",
                       "sheep_population")),
        Kernel("wolf_turns", wolf_turns, table="wolves",
               reads=("sheep.x", "sheep.y", "cells"),
               writes=("x", "y", "energy", "sheep_index", "wolves_population",
                       "sheep_population")),
    ],
    stats={"Wolves": Stat(live, reads=("wolves_population",), table="wolves"),
           "Sheep": Stat(live, reads=("sheep_population",), table="sheep"),
           "Grass": Stat(grass_count, reads=("fully_grown",))},
    check=_check,
    doc=__doc__,
)


def side_for(agents: int) -> int:
    """Grid side at Mesa's default density (150 animals on 20 x 20)."""
    return max(1, int(round(MESA_SIDE * (agents / MESA_AGENTS) ** 0.5)))


def capacity_for(initial_sheep: int, initial_wolves: int, width: int, height: int) -> int:
    """The default rows of each table (module docstring)."""
    return 2 * (initial_sheep + initial_wolves) + width * height // 4


def _count(name, v):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
        raise ConfigError(f"{name}={v!r} must be an integer >= 1 (Mesa fails with no "
                          f"animal of a kind at the start)", field=name, value=v, bound=1)
    return int(v)


def world(agents: int | None = None, seed: int = 0, threads: int | None = None, *,
          initial_sheep: int | None = None, initial_wolves: int | None = None,
          capacity=None, **params) -> ModelWorld:
    """A wolf-sheep world.

    agents : the animals at the start, split 2:1 into sheep and wolves as Mesa's defaults
        (100 and 50), on a square grid at Mesa's density (:func:`side_for`) unless
        width / height are given; None: Mesa's defaults. ``initial_sheep`` and
        ``initial_wolves`` (Mesa's names) set the two counts instead.
    capacity : rows per table, an int for both or a dict by table (default
        :func:`capacity_for`).
    ``threads=None`` means one thread: every system is one sequential kernel.
    """
    if agents is not None:
        agents = _count("agents", agents)
        if initial_sheep is None and initial_wolves is None:
            initial_wolves = max(1, agents // 3)
            initial_sheep = max(1, agents - initial_wolves)
        params.setdefault("width", side_for(agents))
        params.setdefault("height", side_for(agents))
    sheep = _count("initial_sheep", 100 if initial_sheep is None else initial_sheep)
    wolves = _count("initial_wolves", 50 if initial_wolves is None else initial_wolves)
    if capacity is None:
        w, h = params.get("width", MESA_SIDE), params.get("height", MESA_SIDE)
        if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 1
               for v in (w, h)):
            capacity = capacity_for(sheep, wolves, int(w), int(h))
    if capacity is not None and not isinstance(capacity, dict):
        capacity = {"sheep": capacity, "wolves": capacity}
    return ModelWorld(MODEL, {"sheep": sheep, "wolves": wolves}, seed=seed,
                      threads=1 if threads is None else threads, capacity=capacity,
                      **params)
