"""Sugarscape G1MT (constant growback, migration, trade), after Mesa 3.3.1's
``mesa/examples/advanced/sugarscape_g1mt/model.py``, ``agents.py`` and
``sugar-map.txt`` (Epstein and Axtell, *Growing Artificial Societies*, ch. 2 and 4).

Mesa's rules (line numbers in ``model.py`` and ``agents.py``; the neighbourhoods in
``mesa/discrete_space/grid.py`` and ``cell.py``):

* Parameters and defaults (``model.py`` 44-57): ``width=50``, ``height=50``,
  ``initial_population=200``, ``endowment_min=25``, ``endowment_max=50``,
  ``metabolism_min=1``, ``metabolism_max=5``, ``vision_min=1``, ``vision_max=5``,
  ``enable_trade=True``.
* The space (``model.py`` 68-70): ``OrthogonalVonNeumannGrid((width, height),
  torus=False)``, coordinates (i, j), i in [0, width), j in [0, height); a cell's
  direct neighbours are the offsets (di, dj) ``(-1, 0), (0, -1), (0, 1), (1, 0)`` that
  stay on the grid, in that order (``grid.py`` 171-180, 242-252); any number of agents
  per cell. ``cell.get_neighborhood(r)`` (``cell.py`` 157-205) is built recursively:
  radius 1 is the direct neighbours (the cell itself last with ``include_center``);
  radius r > 1 is, for each direct neighbour in order, its radius r - 1 neighbourhood
  with centre, merged into one dict (a cell keeps its first place), the cell itself
  dropped unless ``include_center``. So it is every cell within Manhattan distance r
  (a diamond, not Epstein's four lattice directions), in an order that depends on
  where the grid's edges cut it.
* The land (``model.py`` 83-92): ``sugar_distribution`` is ``sugar-map.txt`` (50 x 50,
  values 0-4), element [i, j] the sugar capacity of cell (i, j);
  ``spice_distribution`` is it flipped along j. Both layers start full.
* Setup (``model.py`` 94-113): ``initial_population`` traders on uniformly random
  cells (``random.choices``: with repetition), each with sugar and spice endowments,
  sugar and spice metabolisms and vision uniform integers in
  ``[endowment_min, endowment_max]``, ``[metabolism_min, metabolism_max]`` and
  ``[vision_min, vision_max]`` (``endpoint=True``).
* A step (``model.py`` 115-153):
  1. growback (121-126): every cell's sugar and spice +1, capped by its distribution;
  2. every trader once in a uniformly random order (``agents_by_type[Trader]
     .shuffle()``, 131-138): its ``prices`` and ``trade_partners`` emptied, then
     ``move``, ``eat``, ``maybe_die``;
  3. unless ``enable_trade`` is False (140-143, collect and return), every surviving
     trader once in a new uniformly random order (145-148):
     ``trade_with_neighbors``;
  4. the DataCollector collects (153).
* ``move`` (``agents.py`` 211-260): the cells of ``get_neighborhood(vision,
  include_center=True)`` that are empty (the trader's own cell never is: it is in it);
  the Cobb-Douglas welfare of each, ``calculate_welfare(sugar + cell.sugar, spice +
  cell.spice)`` = ``sugar ** (m_s / (m_s + m_p)) * spice ** (m_p / (m_s + m_p))``
  (57-71); those whose welfare ``math.isclose`` the maximum; of them the nearest by
  Euclidean distance (7-18) within ``isclose(..., rel_tol=1e-2)`` of the minimum; it
  moves to ``random.choice`` of those.
* ``eat`` (262-269): it takes all the sugar and spice of its cell (the cell keeps
  none) and pays its metabolisms. ``maybe_die`` (271-277): removed when sugar <= 0 or
  spice <= 0 (``is_starved``, 73-78).
* ``trade_with_neighbors`` (279-291): ``self.trade(a)`` for every agent ``a`` in
  ``get_neighborhood(radius=vision)`` (own cell excluded), cell by cell in that order,
  the agents of a cell in the order they entered it. ``trade`` (158-203): the MRS of
  each, ``(spice / m_p) / (sugar / m_s)`` (80-89); if they are ``math.isclose``, stop;
  price ``sqrt(mrs_self * mrs_other)``; the trader with the higher MRS sells spice
  (``maybe_sell_spice``, 117-156): ``int(price)`` spice for 1 sugar when price >= 1,
  else 1 spice for ``int(1 / price)`` sugar (91-103); the exchange happens only if
  every holding stays > 0, both welfares strictly rise and the seller's MRS stays
  above the buyer's; if it happens, the initiator (``self``) records the price and the
  partner's id and ``trade`` repeats (recursion), else it stops.
* Reporters (``model.py`` 72-81): ``#Traders`` (live traders), ``Trade Volume`` (the
  trades of this step: the initiators' partner lists summed), ``Price`` (the
  geometric mean of this step's prices, ``geometric_mean`` 20-24; NaN when no trade
  happened, numpy's mean of nothing), and the agent reporter ``Trade Network`` (each
  trader's partner list).

How ours maps them:

* One table, ``dynamic=True`` (traders starve; none are born): columns ``x`` (Mesa's
  i, [0, width)), ``y`` (Mesa's j, [0, height)), ``sugar``, ``spice`` (int64: Mesa's
  holdings are whole numbers, held as numpy floats once a trader has eaten; every
  operation on them here is exact, and welfare and MRS are computed in float64 from
  them as Mesa does), ``metabolism_sugar``, ``metabolism_spice``, ``vision`` and
  ``trades`` (this step's ``len(trade_partners)``). A cell is flat ``y * width + x``.
* The land is four cell layers (resources, flat cells): ``sugar_distribution`` and
  ``spice_distribution`` (from the parameters: Mesa's map, kept in this module as
  :data:`SUGAR_MAP`) and the state ``cell_sugar`` and ``cell_spice``. At Mesa's 50 x 50
  they are Mesa's layers exactly. Another width or height (Mesa's model then fails)
  gets the map resampled by nearest neighbour, ``map[i * 50 // width, j * 50 //
  height]``, and spice is that flipped along j: the same landscape at another size.
* Who is where: ``cells``, a :class:`~dod_sim.kernels.cells.CellList` (state) kept by
  ``move`` as each trader moves or dies; a cell's rows are read from its tail, which is
  the order Mesa's ``cell._agents`` list keeps (the oldest first).
* Mesa's neighbourhood order: ``hood`` (:class:`Hood`) holds, for every radius
  1..vision_max, the offsets of ``get_neighborhood(r)`` for every way the grid's edges
  can cut a diamond of radius r (a cell's class per axis: distance to the near edge
  when under r, else interior), computed once by Mesa's own recursion
  (:func:`mesa_order`). ``tests/test_sugarscape.py`` checks it cell by cell against
  Mesa's ``get_neighborhood``.
* The step is three whole-column systems, as Mesa's: ``grow`` (the layers);
  ``turns`` (the shuffled loop of move, eat, maybe die: each trader sees the moves,
  meals and deaths before it, with ``kill`` and ``move(cells, row, -1)`` for a death);
  ``trade`` (a new shuffle, then each trader trades with its neighbours in Mesa's
  order, the repeated trade a loop). The trades of a step are counted in the state
  resource ``trade_log`` (count, sum of log prices), reset by ``turns``.
* Mesa's arithmetic, computed less often with the same results: welfare is the
  product of two powers, read from a table of every power a holding below 1,024 can
  need (:func:`powers_of`: the same C library ``pow``, tested entry by entry); a move
  takes each factor once per level a cell can hold (:func:`factors`); it keeps only the
  cells whose welfare can still be close to the best (>= best so far x (1 - 2e-9): one
  below that is below the final best x (1 - 2e-9), so not ``isclose`` it) and takes
  the nearest as the root of the least squared distance (the root is monotone). The
  trade phase keeps every trader's welfare and MRS, and a trade carries the welfare and
  MRS that ``maybe_sell_spice`` computed for the holdings after an exchange into the
  next round, where Mesa computes them again from those holdings (:func:`exchange`).
  Every comparison is Mesa's
  (``math.isclose`` as CPython computes it, ``<``, ``>``), so given the same order and
  choices the run equals Mesa's rules exactly (``tests/test_sugarscape.py`` replays
  them in plain Python, and checks moves and trades against Mesa's own ``Trader``).
* Draws: ``turns`` shuffles with ``draw(key, 0)`` (``shuffled``) and the trader on row
  i picks its cell with ``below(draw(draw(key, 1), i), m)`` among its m final
  candidates (in neighbourhood order: Mesa's ``random.choice`` is uniform); ``trade``
  shuffles with ``draw(key, 0)``. Setup draws each column from its own key
  (``x``, ``y`` uniform: a uniformly random cell). The counter-based draws make a run
  another sample than Mesa's for the same seed, with the same distribution.
* Statistics (compiled ``Stat``\\ s, after every step and at setup): ``Traders``,
  ``Trade_Volume`` and ``Price`` are Mesa's ``#Traders``, ``Trade Volume`` and
  ``Price`` (:data:`MESA_NAMES`; a statistic's name must be an identifier), and
  ``Gini``, the Gini coefficient of wealth = sugar + spice over the live traders
  (Mesa's ``compute_gini`` formula of the Boltzmann example; not one of this example's
  reporters). Mesa's agent reporter ``Trade Network`` (lists of partner ids) has no
  column: its length is ``trades`` (``world.collect(adata=("trades",))``).

Deviations: a trader with no empty cell in its neighbourhood stays where it is (and
eats what its cell has), where Mesa's ``max(welfares)`` raises ``ValueError`` and the
run ends: rare at Mesa's defaults (of Mesa's seeds 0..39, seed 31 at step 2 within 100
steps; of 100..179, seed 109 at step 2 within 30), common when crowded (400 traders,
seed 4: within 3 steps).
``vision_max`` is at most :data:`MAX_VISION` = 10 (the classes' orders are stored for
every radius: at 10, 175,164 offsets built in 0.3 s; at 20, 4.5 M in 8 s). A width or
height other than 50 resamples the map (above), where Mesa's model fails.
``metabolism_min`` must be >= 1 and ``endowment_min`` >= 0 (Mesa divides by a
metabolism, and raises a negative holding to a fractional power). Mesa's ``trade`` is
a recursion: a chain of more than ~1,000 exchanges between two traders would hit
Python's recursion limit there; here it is a loop. ``initial_population=0`` is allowed
(Mesa runs and reports NaN prices); ``Trade Network``'s lists are the counts
``trades``.

Nothing in a step is parallel (every turn depends on all earlier ones, as in Mesa), so
:func:`world` runs on one thread unless told otherwise; the digest is the same on any
thread count.

Measured by ``dod-sim bench models`` (Mesa's example in the same run, the traders alive
at each step counted, every repeat a new world of the same seed) on the AMD EPYC
(znver3, 2 cores, idle) host, 2026-12-08: at Mesa's 200 traders on 50 x 50, 1.28-1.31
M agent-steps/s against Mesa's 9.4-11.6 k (113-137x over five runs). A step there is
~111 us: turns ~50, trades ~47, growback 7, statistics 6. Keeping welfare and MRS
through the trade phase, the table of powers, borrowed views for the per-turn helpers
(``dod_sim.kernels.borrow``) and inlining the systems took it from ~185 us with the
same digests. Cold, the model compiles in 8.7-9.3 s (same host and day) once
``dod-sim warmup`` has cached the engine's kernels; cached, 0.8 s.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np

from ..errors import ConfigError
from ..kernels._jit import inline, kernel
from ..kernels.borrow import borrow
from ..kernels.cells import cell_list, insert, move
from ..kernels.population import ALIVE, LIVE, is_alive, kill, shuffled
from ..kernels.rng import below, draw
from ..kernels.spaces import random_cell_x, random_cell_y
from ..model import Column, Kernel, Model, ModelWorld, Resource, Stat
from ..schema import InRange

__all__ = ["MODEL", "world", "Hood", "hood_of", "mesa_order", "sugar_map", "layers",
           "side_for", "welfare", "welfare_from", "powers_of", "factors", "mrs", "isclose",
           "exchange", "SUGAR_MAP", "MESA_NAMES", "MAX_VISION", "OFFSETS"]

#: Mesa's reporter names by ours.
MESA_NAMES = {"Traders": "#Traders", "Trade_Volume": "Trade Volume", "Price": "Price"}
#: Mesa's OrthogonalVonNeumannGrid offsets (di, dj), in order (grid.py 244-248).
OFFSETS = ((-1, 0), (0, -1), (0, 1), (1, 0))
MAX_VISION = 10
MESA_AGENTS, MESA_SIDE = 200, 50
WELFARE_TOL, DISTANCE_TOL = 1e-9, 1e-2  # math.isclose's default; move's rel_tol

#: Mesa's ``sugar-map.txt``: row i, column j is the sugar capacity of cell (i, j).
SUGAR_MAP = """\
00000000000000000011111111122222222233333322222222
00000000000000000011111111222222223333333333222222
00000000000000000111111112222222333333333333332222
00000000000000000111111112222223333333333333333222
00000000000000000111111122222233333333333333333322
00000000000000001111111122222233333334444333333322
00000000000000011111111122222333333444444443333332
00000000000000011111111222222333334444444444333332
00000000000000111111111222223333334444444444333333
00000000000001111111111222223333344444444444433333
00000000000011111111112222223333344444444444433333
00000000000111111111112222223333344444444444433333
00000000001111111111112222223333344444444444433333
00000000011111111111112222223333334444444444333333
00000001111111111111122222223333334444444444333332
00000111111111111111222222223333333444444443333332
11111111111111111112222222223333333334444333333322
11111111111111111122222222222333333333333333333322
11111111111111122222222222222333333333333333333222
11111111112222222222222222222233333333333333332222
11111111222222222222222222222223333333333333222222
11111122222222222222222222222222233333333322222222
11112222222222222222222222222222222222222222222221
11122222222222222222222222222222222222222222222211
11222222222233333333322222222222222222222222222111
12222222223333333333333222222222222222222222211111
12222222333333333333333322222222222222222211111111
22222223333333333333333332222222222222111111111111
22222233333333333333333332222222222221111111111111
22222233333334444333333333222222222211111111111111
22222333333444444443333333222222222211111111111000
22222333334444444444333333222222221111111111110000
22223333334444444444333333222222221111111111000000
22223333344444444444433333222222111111111100000000
22223333344444444444433333222222111111111100000000
22223333344444444444433333222222111111111000000000
22223333344444444444433333222221111111110000000000
22223333334444444444333333222221111111100000000000
22222333334444444444333332222221111111100000000000
22222333333444444443333332222211111111000000000000
22222233333334444333333322222211111110000000000000
22222233333333333333333322222211111110000000000000
22222223333333333333333222222111111110000000000000
12222222333333333333332222221111111110000000000000
12222222223333333333222222221111111110000000000000
11222222222233333322222222211111111110000000000000
11122222222222222222222222111111111100000000000000
11112222222222222222222221111111111100000000000000
11111122222222222222222111111111111100000000000000
11111111222222222222211111111111111000000000000000
"""


def sugar_map(width: int = MESA_SIDE, height: int = MESA_SIDE) -> np.ndarray:
    """Mesa's sugar map as int64[width, height] (element [i, j]: cell (i, j)); another
    size resamples it by nearest neighbour (module docstring)."""
    base = np.array([[int(ch) for ch in row] for row in SUGAR_MAP.split()], np.int64)
    i = np.arange(width) * base.shape[0] // width
    j = np.arange(height) * base.shape[1] // height
    return base[np.ix_(i, j)]


def layers(width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """(sugar, spice) capacities as flat cell layers (cell ``y * width + x`` = Mesa's
    (x, y)): the map, and the map flipped along j (``np.flip(sugar, 1)``)."""
    sugar = sugar_map(width, height)
    spice = np.flip(sugar, 1)
    return (np.ascontiguousarray(sugar.T).ravel().astype(np.int32),
            np.ascontiguousarray(spice.T).ravel().astype(np.int32))


# ---- Mesa's neighbourhood order ---------------------------------------------------------


def mesa_order(lx: int, ly: int, radius: int) -> dict:
    """``{(i, j): [(di, dj), ...]}``: for every cell of an lx x ly bounded
    OrthogonalVonNeumannGrid, the offsets of ``cell.get_neighborhood(radius)`` in Mesa's
    order, by Mesa's recursion (``cell.py`` 180-205) memoised as Mesa's ``@cache``."""
    memo = {}

    def hood(i, j, k, center):
        key = (i, j, k, center)
        got = memo.get(key)
        if got is not None:
            return got
        nbrs = [(i + di, j + dj) for di, dj in OFFSETS if 0 <= i + di < lx and 0 <= j + dj < ly]
        if k == 1:
            d = dict.fromkeys(nbrs)
            if center:
                d[(i, j)] = None
        else:
            d = {}
            for a, b in nbrs:
                d.update(hood(a, b, k - 1, True))
            if not center:
                d.pop((i, j), None)
        memo[key] = d
        return d

    return {(i, j): [(a - i, b - j) for a, b in hood(i, j, radius, False)]
            for i in range(lx) for j in range(ly)}


class Hood(NamedTuple):
    """Mesa's neighbourhood of every cell, by class (module docstring).

    Radius r's classes are an ``lx[r]`` x ``ly[r]`` grid (the axis, or 2r + 1 when the
    axis is longer), numbered from ``base[r]``; class k's offsets are
    ``dx[start[k]:start[k + 1]]``, ``dy[...]`` in Mesa's order."""

    base: np.ndarray   # int64[vision_max + 1]
    lx: np.ndarray     # int64[vision_max + 1]
    ly: np.ndarray     # int64[vision_max + 1]
    start: np.ndarray  # int64[classes + 1]
    dx: np.ndarray     # int32[offsets]
    dy: np.ndarray     # int32[offsets]
    flat: np.ndarray   # int64[offsets]: dy * width + dx, the offset of a flat cell


def hood_of(width: int, height: int, vision_max: int) -> Hood:
    """The :class:`Hood` of a width x height grid for radii 1..vision_max."""
    base = np.zeros(vision_max + 1, np.int64)
    lx = np.zeros(vision_max + 1, np.int64)
    ly = np.zeros(vision_max + 1, np.int64)
    start, dx, dy = [0], [], []
    for r in range(1, vision_max + 1):
        lx[r] = min(width, 2 * r + 1)
        ly[r] = min(height, 2 * r + 1)
        base[r] = len(start) - 1
        orders = mesa_order(int(lx[r]), int(ly[r]), r)
        for i in range(lx[r]):
            for j in range(ly[r]):
                off = orders[(i, j)]
                dx += [a for a, _ in off]
                dy += [b for _, b in off]
                start.append(len(dx))
    dx, dy = np.array(dx, np.int32), np.array(dy, np.int32)
    return Hood(base, lx, ly, np.array(start, np.int64), dx, dy,
                dy.astype(np.int64) * width + dx)


@kernel
def _rep(x, w, r):
    """The class of coordinate x on an axis of length w for radius r."""
    if w <= 2 * r + 1 or x < r:
        return x
    if w - 1 - x < r:
        return 2 * r - (w - 1 - x)
    return r


@kernel
def hood_range(hood, x, y, r, w, h):
    """(first, end) of the offsets of cell (x, y)'s radius-r neighbourhood in ``hood``."""
    k = hood.base[r] + _rep(x, w, r) * hood.ly[r] + _rep(y, h, r)
    return hood.start[k], hood.start[k + 1]


# ---- Mesa's Trader arithmetic -----------------------------------------------------------


@kernel
def isclose(a, b, rel):
    """Python's ``math.isclose(a, b, rel_tol=rel)`` (abs_tol 0), as CPython computes it."""
    if a == b:
        return True
    if np.isinf(a) or np.isinf(b):
        return False
    d = abs(b - a)
    return d <= abs(rel * b) or d <= abs(rel * a)


@kernel
def _square(dx, dy):
    """The squared distance of an offset: get_distance (agents.py 7-18) is its root."""
    return np.int64(dx) * dx + np.int64(dy) * dy


@kernel
def welfare(sugar, spice, ms, mp):
    """``Trader.calculate_welfare`` (agents.py 57-71): Cobb-Douglas."""
    mt = ms + mp
    return np.float64(sugar) ** (ms / mt) * np.float64(spice) ** (mp / mt)


#: Holdings below this are read from the table of powers (:func:`powers_of`), which is
#: kept to at most POWERS_SIZE entries (2 MB): narrower when metabolisms vary more.
POWERS_WIDTH, POWERS_SIZE = 1024, 2**18


@functools.lru_cache(maxsize=16)
def powers_of(metabolism_min: int, metabolism_max: int) -> np.ndarray:
    """float64[m, m, width], read-only, m = metabolism_max - metabolism_min + 1:
    ``powers[a, b, x] = float(x) ** (ms / (ms + mp))`` with ms = a + metabolism_min,
    mp = b + metabolism_min, the factors of :func:`welfare` (width 0, no table, when m is
    too large for it). CPython's float power is the C library's ``pow``, which compiled
    code calls too (tests/test_sugarscape.py compares every entry); one table per range
    and process, shared by its worlds."""
    m = metabolism_max - metabolism_min + 1
    width = min(POWERS_WIDTH, POWERS_SIZE // (m * m)) if m * m <= POWERS_SIZE // 64 else 0
    powers = np.zeros((m, m, width) if width else (0, 0, 0), np.float64)
    for a in range(m if width else 0):
        for b in range(m):
            ms, mp = a + metabolism_min, b + metabolism_min
            e = ms / (ms + mp)
            powers[a, b] = [float(x) ** e for x in range(width)]
    powers.setflags(write=False)
    return powers


@kernel
def welfare_from(powers, lo, sugar, spice, ms, mp):
    """:func:`welfare`, read from ``powers`` (:func:`powers_of`, ``lo`` =
    metabolism_min) where the holdings and metabolisms are in it: the same values, as
    the product of the same two powers; a pow costs ~20 ns, a read from the table ~1."""
    a = ms - lo
    b = mp - lo
    m, _, width = powers.shape
    if 0 <= a < m and 0 <= b < m and 0 <= sugar < width and 0 <= spice < width:
        return powers[a, b, sugar] * powers[b, a, spice]
    return welfare(sugar, spice, ms, mp)


@kernel
def factors(powers, lo, base, ms, mp, out):
    """``out[q] = float64(base + q) ** (ms / (ms + mp))`` for every q: a factor of
    :func:`welfare` (the sugar factor; the spice factor with ms and mp swapped), from
    ``powers`` (as :func:`welfare_from`) where it holds it: the same values."""
    a = ms - lo
    b = mp - lo
    m, _, width = powers.shape
    e = ms / (ms + mp)
    for q in range(out.shape[0]):
        x = base + q
        if 0 <= a < m and 0 <= b < m and 0 <= x < width:
            out[q] = powers[a, b, x]
        else:
            out[q] = np.float64(x) ** e


@kernel
def mrs(sugar, spice, ms, mp):
    """``Trader.calculate_MRS`` (agents.py 80-89)."""
    return (spice / mp) / (sugar / ms)


@inline
def exchange(sugar_i, spice_i, ms_i, mp_i, wel_i, mrs_i, sugar_a, spice_a, ms_a, mp_a,
             wel_a, mrs_a, logs, once, powers, lo):
    """``Trader.trade`` of trader i with trader a (agents.py 91-203), its recursion a
    loop, on their holdings, metabolisms, welfare and MRS (:func:`welfare` and
    :func:`mrs` of the holdings; ``powers`` and ``lo`` as :func:`welfare_from`'s).
    ``logs``: a running sum, to which each exchange adds its log price. ``once``: stop
    after one exchange (a wrong variant, for tests).

    Returns (exchanges, logs, sugar_i, spice_i, wel_i, mrs_i, sugar_a, spice_a, wel_a,
    mrs_a) after them. The welfare and MRS that ``maybe_sell_spice`` computes for the
    holdings after an exchange are those that Mesa's next ``trade`` computes again from
    the holdings (the same functions of the same numbers, so the same values): they are
    carried over, and a proposal that fails before a welfare is needed computes none.
    Scalars in and out (``powers`` borrowed): a call with owned arrays in a loop costs an
    atomic reference-count update per array on entry and exit (kernels.borrow)."""
    n = 0
    while not isclose(mrs_i, mrs_a, WELFARE_TOL):
        price = np.sqrt(mrs_i * mrs_a)
        if price >= 1:  # calculate_sell_spice_amount (91-103)
            su = np.int64(1)
            sp = np.int64(price)
        else:
            su = np.int64(1 / price)
            sp = np.int64(1)
        # the trader with the higher MRS sells spice (maybe_sell_spice, 117-156)
        if mrs_i < mrs_a:
            su, sp = -su, -sp
        n_sugar_i = sugar_i + su
        n_sugar_a = sugar_a - su
        n_spice_i = spice_i - sp
        n_spice_a = spice_a + sp
        if n_sugar_i <= 0 or n_sugar_a <= 0 or n_spice_i <= 0 or n_spice_a <= 0:
            break
        nw_i = welfare_from(powers, lo, n_sugar_i, n_spice_i, ms_i, mp_i)
        if not wel_i < nw_i:
            break
        nw_a = welfare_from(powers, lo, n_sugar_a, n_spice_a, ms_a, mp_a)
        if not wel_a < nw_a:
            break
        nm_i = mrs(n_sugar_i, n_spice_i, ms_i, mp_i)
        nm_a = mrs(n_sugar_a, n_spice_a, ms_a, mp_a)
        if not (nm_i > nm_a if mrs_i > mrs_a else nm_a > nm_i):  # the MRSs would cross
            break
        sugar_i, spice_i, wel_i, mrs_i = n_sugar_i, n_spice_i, nw_i, nm_i  # sell_spice
        sugar_a, spice_a, wel_a, mrs_a = n_sugar_a, n_spice_a, nw_a, nm_a
        n += 1
        logs += np.log(price)
        if once:
            break
    return n, logs, sugar_i, spice_i, wel_i, mrs_i, sugar_a, spice_a, wel_a, mrs_a


# ---- setup ------------------------------------------------------------------------------


@kernel
def init_endowment(i, key, p):
    """``rng.integers(endowment_min, endowment_max, endpoint=True)``."""
    return p.endowment_min + below(draw(key, 0), p.endowment_max - p.endowment_min + 1)


@kernel
def init_metabolism(i, key, p):
    return p.metabolism_min + below(draw(key, 0), p.metabolism_max - p.metabolism_min + 1)


@kernel
def init_vision(i, key, p):
    return p.vision_min + below(draw(key, 0), p.vision_max - p.vision_min + 1)


@kernel
def place(key, n, p, x, y, alive, cells):
    """Setup: every trader into its cell's list, in row order (Mesa's creation order)."""
    for i in range(n):
        if alive[i] == ALIVE:
            insert(cells, i, np.int64(y[i]) * p.width + x[i])


# ---- the step ---------------------------------------------------------------------------


@kernel
def grow(key, n, p, sugar_distribution, spice_distribution, cell_sugar, cell_spice):
    """Growback (model.py 121-126): +1, capped by the distribution."""
    for c in range(cell_sugar.shape[0]):
        cell_sugar[c] = min(cell_sugar[c] + 1, sugar_distribution[c])
        cell_spice[c] = min(cell_spice[c] + 1, spice_distribution[c])


# turns, trade and exchange are inlined where they are called: LLVM then optimises each
# once, in its caller, rather than alone and again there (0.6 s of the cold compile), and
# exchange's arguments are not passed through memory (a fifth of the trade phase)
@inline
def turns(key, n, p, metabolism_sugar, metabolism_spice, vision, hood, x, y, sugar, spice,
          trades, cell_sugar, cell_spice, cells, scratch, trade_log, population):
    """Every trader's move, eat, maybe_die, sequentially in a uniformly random order
    (model.py 131-138; agents.py 211-277)."""
    # borrowed: the helpers called per turn count no references (kernels.borrow)
    hood, cells, scratch, population = borrow((hood, cells, scratch, population))
    w, h = p.width, p.height
    dx, dy, flat = hood.dx, hood.dy, hood.flat
    wel, cand, fs, fp = scratch.welfare, scratch.cand, scratch.sugar_factor, scratch.spice_factor
    powers, lo = scratch.powers, p.metabolism_min
    trade_log[0] = 0.0
    trade_log[1] = 0.0
    m = shuffled(population, draw(key, 0), n)
    act = draw(key, 1)
    order = population.order
    for t in range(m):
        i = order[t]
        if not is_alive(population, i):
            continue
        trades[i] = 0
        xi, yi = np.int64(x[i]), np.int64(y[i])
        ms, mp = metabolism_sugar[i], metabolism_spice[i]
        s, sp = sugar[i], spice[i]
        here = yi * w + xi
        k0, k1 = hood_range(hood, xi, yi, vision[i], w, h)
        # 1-2: the empty cells and their welfare, the product of its two factors, each
        # taken once per level a cell can hold
        factors(powers, lo, s, ms, mp, fs)
        factors(powers, lo, sp, mp, ms, fp)
        k = 0
        best = -np.inf
        for j in range(k0, k1):
            c = here + flat[j]
            if cells.count[c] == 0:
                v = fs[cell_sugar[c]] * fp[cell_spice[c]]
                best = v if v > best else best
                # kept unless it cannot be close to the best (welfare >= 0: a value
                # close to the final best b' >= best is >= b' (1 - 1e-9)); written
                # always, counted when kept: no branch on a coin flip
                wel[k] = v
                cand[k] = j
                k += v >= best * (1.0 - 2.0 * WELFARE_TOL)
        if k > 0:
            # 3: those whose welfare isclose the best, then the nearest of them
            # (sqrt is monotone: the nearest distance is the root of the least square)
            f = 0
            d2 = np.int64(1) << 62
            for q in range(k):
                if isclose(wel[q], best, WELFARE_TOL):
                    j = cand[q]
                    cand[f] = j
                    f += 1
                    d2 = min(d2, _square(dx[j], dy[j]))
            near = np.sqrt(np.float64(d2))
            k = f
            f = 0
            for q in range(k):
                j = cand[q]
                if isclose(np.sqrt(np.float64(_square(dx[j], dy[j]))), near, DISTANCE_TOL):
                    cand[f] = j
                    f += 1
            # 4: random.choice
            j = cand[below(draw(act, i), f)]
            xi += dx[j]
            yi += dy[j]
            x[i] = xi
            y[i] = yi
            move(cells, i, yi * w + xi)
        c = yi * w + xi
        s += cell_sugar[c]  # eat
        cell_sugar[c] = 0
        s -= ms
        sp += cell_spice[c]
        cell_spice[c] = 0
        sp -= mp
        sugar[i] = s
        spice[i] = sp
        if s <= 0 or sp <= 0:  # maybe_die
            kill(population, i)
            move(cells, i, -1)


@kernel
def trade_turns(n, p, order, m, x, y, vision, metabolism_sugar, metabolism_spice, hood,
                cells, sugar, spice, trades, wel, rate, powers, trade_log, population, once):
    """Rows ``order[:m]`` (every live row) in turn: ``trade_with_neighbors`` (agents.py
    279-291). ``wel`` and ``rate``: float64[rows] scratch, each row's welfare and MRS of
    its holdings; ``powers``: :func:`powers_of` the metabolisms' range. Each
    exchange is counted in ``trades[i]`` of its initiator i and in ``trade_log`` (count,
    sum of log prices)."""
    hood, cells, powers, population = borrow((hood, cells, powers, population))
    w, h, lo = p.width, p.height, p.metabolism_min
    flat, head, nxt, prv = hood.flat, cells.head, cells.nxt, cells.prv
    ms, mp = metabolism_sugar, metabolism_spice
    for t in range(m):
        i = order[t]
        wel[i] = welfare_from(powers, lo, sugar[i], spice[i], ms[i], mp[i])
        rate[i] = mrs(sugar[i], spice[i], ms[i], mp[i])
    for t in range(m):
        i = order[t]
        if not is_alive(population, i):
            continue
        xi, yi = np.int64(x[i]), np.int64(y[i])
        here = yi * w + xi
        k0, k1 = hood_range(hood, xi, yi, vision[i], w, h)
        # i's holdings held here through its turn: only i trades in it, never with itself
        s_i, p_i, w_i, r_i, n_i = sugar[i], spice[i], wel[i], rate[i], 0
        for j in range(k0, k1):
            r = head[here + flat[j]]
            if r < 0:
                continue
            while nxt[r] >= 0:  # the tail: the oldest in the cell, Mesa's first
                r = nxt[r]
            while r >= 0:  # Trader.trade, scalars in and out (see exchange)
                n, trade_log[1], s_i, p_i, w_i, r_i, sugar[r], spice[r], wel[r], rate[r] = \
                    exchange(s_i, p_i, ms[i], mp[i], w_i, r_i, sugar[r], spice[r], ms[r],
                             mp[r], wel[r], rate[r], trade_log[1], once, powers, lo)
                n_i += n
                r = prv[r]
        sugar[i], spice[i], wel[i], rate[i] = s_i, p_i, w_i, r_i
        trades[i] += n_i
        trade_log[0] += n_i


@inline
def trade(key, n, p, x, y, vision, metabolism_sugar, metabolism_spice, hood, cells,
          population, sugar, spice, trades, scratch, trade_log):
    """Every surviving trader trades with its neighbours, sequentially in a new
    uniformly random order (model.py 140-148)."""
    if not p.enable_trade:
        return
    m = shuffled(population, draw(key, 0), n)
    trade_turns(n, p, population.order, m, x, y, vision, metabolism_sugar,
                metabolism_spice, hood, cells, sugar, spice, trades, scratch.trader_welfare,
                scratch.trader_mrs, scratch.powers, trade_log, population, False)


# ---- statistics -------------------------------------------------------------------------


@kernel
def traders(n, p, population):
    """Mesa's ``#Traders``: ``len(m.agents)``."""
    return float(population.count[LIVE])


@kernel
def trade_volume(n, p, trade_log):
    """Mesa's ``Trade Volume``: this step's trades."""
    return trade_log[0]


@kernel
def price(n, p, trade_log):
    """Mesa's ``Price``: the geometric mean of this step's prices (NaN without one)."""
    if trade_log[0] == 0:
        return np.nan
    return np.exp(trade_log[1] / trade_log[0])


# Ciura's gaps (2001), extended by x2.25: the last is above any table's rows (2**31)
_GAPS = np.array([1, 4, 10, 23, 57, 132, 301, 701, 1750, 3937, 8858, 19930, 44842, 100894,
                  227011, 510774, 1149241, 2585792, 5818032, 13090572, 29453787, 66271020,
                  149109795, 335497038, 754868335, 1698453753, 3821520944], np.int64)


@kernel
def _sort(v, m):
    """Sort ``v[:m]`` ascending in place: Shell's sort, a few lines where ``ndarray.sort``
    compiled Numba's quicksort (~1 s of the model's cold compile, ~0.2 s for this);
    ~1.6x its time (0.7 ms against 0.44 for 10,000 values, ~7% of such a step)."""
    g = 0
    while _GAPS[g + 1] < m:
        g += 1
    while g >= 0:
        gap = _GAPS[g]
        for i in range(gap, m):
            t = v[i]
            j = i
            while j >= gap and v[j - gap] > t:
                v[j] = v[j - gap]
                j -= gap
            v[j] = t
        g -= 1


@kernel
def gini(n, p, alive, sugar, spice, scratch):
    """The Gini coefficient of sugar + spice over the live traders, by Mesa's
    ``compute_gini`` (sorted x: 1 + 1/m - 2 sum x_i (m - i) / (m sum x))."""
    v = scratch.wealth
    m = 0
    for i in range(n):
        if alive[i] == ALIVE:
            v[m] = sugar[i] + spice[i]
            m += 1
    if m == 0:
        return np.nan
    _sort(v, np.int64(m))  # an int64, not Literal[int](0): one compiled signature
    total = 0
    b = 0
    for i in range(m):
        total += v[i]
        b += v[i] * (m - i)
    return 1.0 + 1.0 / m - 2.0 * b / (m * np.float64(total))


# ---- the model --------------------------------------------------------------------------


class Scratch(NamedTuple):
    welfare: np.ndarray  # float64[hood size]: the empty cells' welfare in a move
    cand: np.ndarray     # int64[hood size]: their offsets' places in hood
    sugar_factor: np.ndarray  # float64[levels]: a move's welfare factors (factors) of its
    spice_factor: np.ndarray  # holdings plus 0..levels-1, levels = the map's largest value + 1
    wealth: np.ndarray   # int64[rows]: gini's sort
    trader_welfare: np.ndarray  # float64[rows]: each trader's welfare in the trade phase
    trader_mrs: np.ndarray      # float64[rows]: and its MRS
    powers: np.ndarray   # float64[m, m, width]: welfare's factors (powers_of)


def _scratch(p, rows):
    size = 2 * p.vision_max * (p.vision_max + 1)
    levels = int(max(a.max() for a in layers(p.width, p.height))) + 1
    return Scratch(np.zeros(size, np.float64), np.zeros(size, np.int64),
                   np.zeros(levels, np.float64), np.zeros(levels, np.float64),
                   np.zeros(rows, np.int64), np.zeros(rows, np.float64),
                   np.zeros(rows, np.float64), powers_of(p.metabolism_min, p.metabolism_max))


def _int_at_least(p, k, lo, hi=2**31 - 1):
    v = getattr(p, k)
    if not lo <= v <= hi:
        raise ConfigError(f"{k}={v} must be in [{lo}, {hi}]", field=k, value=v, bound=(lo, hi))


def _check(p, agents):
    for k in ("width", "height"):
        _int_at_least(p, k, 1)
    if p.width * p.height >= 2**31:
        raise ConfigError(f"width * height = {p.width * p.height} must be < 2**31",
                          field="width", value=p.width, bound=2**31)
    # Mesa raises a negative holding to a fractional power and divides by metabolisms
    for k, lo in (("endowment_min", 0), ("metabolism_min", 1), ("vision_min", 1)):
        _int_at_least(p, k, lo, 2**31 - 1)
    for k, lo_k, hi in (("endowment_max", "endowment_min", 2**31 - 1),
                        ("metabolism_max", "metabolism_min", 2**31 - 1),
                        ("vision_max", "vision_min", MAX_VISION)):
        v, lo = getattr(p, k), getattr(p, lo_k)
        if not lo <= v <= hi:  # rng.integers(low > high) raises in Mesa
            raise ConfigError(f"{k}={v} must be in [{lo_k}={lo}, {hi}]", field=k, value=v,
                              bound=(lo, hi))


_CELL_X = (InRange(0, "width"),)
_CELL_Y = (InRange(0, "height"),)
_HOLDING = (InRange(-2**31, 2**62),)

MODEL = Model(
    "sugarscape_g1mt",
    dynamic=True,
    view={"layer": "cell_sugar", "color": "metabolism_sugar"},
    params={"width": 50, "height": 50, "endowment_min": 25, "endowment_max": 50,
            "metabolism_min": 1, "metabolism_max": 5, "vision_min": 1, "vision_max": 5,
            "enable_trade": True},
    columns=[
        Column("x", np.int32, random_cell_x, "Mesa's i, [0, width)", _CELL_X),
        Column("y", np.int32, random_cell_y, "Mesa's j, [0, height)", _CELL_Y),
        Column("sugar", np.int64, init_endowment, "Trader.sugar", _HOLDING),
        Column("spice", np.int64, init_endowment, "Trader.spice", _HOLDING),
        Column("metabolism_sugar", np.int64, init_metabolism, "Trader.metabolism_sugar",
               (InRange("metabolism_min", "metabolism_max", True),)),
        Column("metabolism_spice", np.int64, init_metabolism, "Trader.metabolism_spice",
               (InRange("metabolism_min", "metabolism_max", True),)),
        Column("vision", np.int64, init_vision, "Trader.vision",
               (InRange("vision_min", "vision_max", True),)),
        Column("trades", np.int64, 0, "len(Trader.trade_partners): trades it began this step",
               (InRange(0, 2**62),)),
    ],
    resources=[
        Resource("sugar_distribution", lambda p, n: layers(p.width, p.height)[0]),
        Resource("spice_distribution", lambda p, n: layers(p.width, p.height)[1]),
        Resource("cell_sugar", lambda p, n: layers(p.width, p.height)[0].copy(), state=True),
        Resource("cell_spice", lambda p, n: layers(p.width, p.height)[1].copy(), state=True),
        Resource("cells", lambda p, n: cell_list(n, p.width * p.height), state=True),
        Resource("trade_log", lambda p, n: np.zeros(2, np.float64), state=True),
        Resource("hood", lambda p, n: hood_of(p.width, p.height, p.vision_max)),
        Resource("scratch", _scratch),
    ],
    setup=[Kernel("place", place, reads=("x", "y", "alive"), writes=("cells",))],
    systems=[
        Kernel("grow", grow, reads=("sugar_distribution", "spice_distribution"),
               writes=("cell_sugar", "cell_spice")),
        Kernel("turns", turns,
               reads=("metabolism_sugar", "metabolism_spice", "vision", "hood"),
               writes=("x", "y", "sugar", "spice", "trades", "cell_sugar", "cell_spice",
                       "cells", "scratch", "trade_log", "population")),
        Kernel("trade", trade,
               reads=("x", "y", "vision", "metabolism_sugar", "metabolism_spice", "hood",
                      "cells", "population"),
               writes=("sugar", "spice", "trades", "scratch", "trade_log")),
    ],
    stats={"Traders": Stat(traders, reads=("population",)),
           "Trade_Volume": Stat(trade_volume, reads=("trade_log",)),
           "Price": Stat(price, reads=("trade_log",)),
           "Gini": Stat(gini, reads=("alive", "sugar", "spice", "scratch"))},
    check=_check,
    doc=__doc__,
)


def side_for(agents: int) -> int:
    """Grid side at Mesa's default density (200 traders on 50 x 50)."""
    return max(1, int(round(MESA_SIDE * (agents / MESA_AGENTS) ** 0.5)))


def _count(name, v):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
        raise ConfigError(f"{name}={v!r} must be an integer >= 0", field=name, value=v,
                          bound=0)
    return int(v)


def world(agents: int | None = None, seed: int = 0, threads: int | None = None, *,
          initial_population: int | None = None, capacity: int | None = None,
          **params) -> ModelWorld:
    """A Sugarscape G1MT world.

    agents : the traders at the start, on a square grid at Mesa's density
        (:func:`side_for`) unless width / height are given; None: Mesa's defaults (200
        on 50 x 50). ``initial_population`` (Mesa's name) sets the count without
        resizing the grid. capacity : rows (default: the traders; none are born).
    ``threads=None`` means one thread: every system is one sequential kernel.
    """
    if agents is not None and initial_population is not None:
        raise ConfigError("give agents or initial_population, not both",
                          field="initial_population", value=initial_population)
    if agents is not None:
        count = _count("agents", agents)
        params.setdefault("width", side_for(max(count, 1)))
        params.setdefault("height", side_for(max(count, 1)))
    else:
        count = _count("initial_population",
                       MESA_AGENTS if initial_population is None else initial_population)
    return ModelWorld(MODEL, count, seed=seed, threads=1 if threads is None else threads,
                      capacity=max(count, 1) if capacity is None else capacity, **params)
