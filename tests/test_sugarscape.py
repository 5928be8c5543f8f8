"""Sugarscape G1MT (dod_sim.models.sugarscape): a plain-Python version of Mesa's rules
with the same draws, the neighbourhoods, moves and trades checked against Mesa's own
classes, statistical agreement with Mesa 3.3.1's example (and wrong variants that the
same test rejects), thread counts, snapshots, bad values."""

import math
import random
import warnings

import numpy as np
import pytest
from numba import njit

from conftest import mesa_seeds
from dod_sim.bench_models import mesa_available
from dod_sim.errors import ConfigError
from dod_sim.kernels.population import shuffled
from dod_sim.kernels.rng import below, draw, row_key
from dod_sim.model import KERNEL_STREAM, Kernel, Model, ModelWorld
from dod_sim.models import sugarscape as sg

GROW, TURNS, TRADE, PLACE = 0, 1, 2, 3  # system numbers (the setup's after the tick's)
needs_mesa = pytest.mark.skipif(not mesa_available(), reason="mesa is not installed")


def _key(seed, tick, system):
    """The key the engine gives Kernel system number ``system`` at ``tick``."""
    return np.uint64(draw(np.uint64(row_key(seed, tick, 0)), KERNEL_STREAM + system))


def _d(key, stream):
    return np.uint64(draw(np.uint64(key), stream))


def shuffled_rows(alive, key):
    """Mesa's shuffle with the engine's draws (``population.shuffled``): the live rows
    ascending, then Fisher-Yates from the top."""
    order = [i for i in range(len(alive)) if alive[i] == 1]
    for j in range(len(order) - 1, 0, -1):
        k = below(_d(key, j), j + 1)
        order[j], order[k] = order[k], order[j]
    return order


def cell_rows(cl, c):
    """The rows in cell c of a CellList, from its tail (the first to arrive) on."""
    rows, r = [], cl.head[c]
    while r >= 0:
        rows.append(int(r))
        r = cl.nxt[r]
    return rows[::-1]


# ---- Mesa's Trader, in plain Python ---------------------------------------------------------


class Trader:
    """agents.py's Trader on plain Python numbers (row ``row`` of a world)."""

    def __init__(self, row, sugar, spice, ms, mp, vision, x, y):
        self.row, self.sugar, self.spice = row, int(sugar), int(spice)
        self.ms, self.mp, self.vision, self.x, self.y = int(ms), int(mp), int(vision), x, y
        self.trades, self.prices = 0, []

    def welfare(self, sugar, spice):  # calculate_welfare
        mt = self.ms + self.mp
        return float(sugar) ** (self.ms / mt) * float(spice) ** (self.mp / mt)

    def mrs(self, sugar, spice):  # calculate_MRS
        return (spice / self.mp) / (sugar / self.ms)

    def maybe_sell_spice(self, other, price, welfare_self, welfare_other, ev):
        sugar, spice = (1, int(price)) if price >= 1 else (int(1 / price), 1)
        ss, os_ = self.sugar + sugar, other.sugar - sugar
        sp, op = self.spice - spice, other.spice + spice
        if ss <= 0 or os_ <= 0 or sp <= 0 or op <= 0:
            ev["trade_short"] += 1
            return False
        better = (welfare_self < self.welfare(ss, sp)) and (
            welfare_other < other.welfare(os_, op))
        if not (better and self.mrs(ss, sp) > other.mrs(os_, op)):
            return False
        self.sugar, other.sugar, self.spice, other.spice = ss, os_, sp, op
        return True

    def trade(self, other, ev, once=False, depth=0):
        mrs_self, mrs_other = self.mrs(self.sugar, self.spice), other.mrs(other.sugar,
                                                                          other.spice)
        w_self, w_other = self.welfare(self.sugar, self.spice), other.welfare(other.sugar,
                                                                               other.spice)
        if math.isclose(mrs_self, mrs_other):
            ev["trade_same_mrs"] += 1
            return
        price = math.sqrt(mrs_self * mrs_other)
        if mrs_self > mrs_other:
            sold = self.maybe_sell_spice(other, price, w_self, w_other, ev)
        else:
            sold = other.maybe_sell_spice(self, price, w_other, w_self, ev)
        if not sold:
            return
        ev["price_below_1" if price < 1 else "price_1_or_more"] += 1
        ev["repeated_trades"] += depth > 0
        self.trades += 1
        self.prices.append(price)
        if not once:
            self.trade(other, ev, once, depth + 1)


class Reference:
    """Mesa's step (model.py 115-153, agents.py) in plain Python with the model's draws,
    from a world's current state. ``enable_trade``, ``growback`` and ``once`` (one
    exchange per meeting) may be changed: wrong variants."""

    def __init__(self, world, *, growback=True, once=False, systems=(TURNS, TRADE)):
        p, cols, res = world.params, world.columns, world.resources
        self.systems = systems  # the numbers of the turns and trade systems (their keys)
        self.p, self.seed, self.tick = p, world.seed, world.tick
        self.growback, self.once = growback, once
        self.w, self.h = p.width, p.height
        self.alive = [int(a) for a in cols["alive"]]
        self.t = [Trader(i, *(cols[k][i] for k in ("sugar", "spice", "metabolism_sugar",
                                                   "metabolism_spice", "vision")),
                         int(cols["x"][i]), int(cols["y"][i])) for i in range(len(self.alive))]
        self.sugar = [int(v) for v in res["cell_sugar"]]
        self.spice = [int(v) for v in res["cell_spice"]]
        self.sugar_max = [int(v) for v in res["sugar_distribution"]]
        self.spice_max = [int(v) for v in res["spice_distribution"]]
        # cell._agents of every cell, in order of arrival: the world's lists read from
        # the tail; at setup, the rows ascending (Mesa's order of creation)
        self.occupants = {c: rows for c in range(self.w * self.h)
                          if (rows := cell_rows(res["cells"], c))}
        if world.tick == 0:
            want = {}
            for i, a in enumerate(self.alive):
                if a == 1:
                    want.setdefault(self.t[i].y * self.w + self.t[i].x, []).append(i)
            assert self.occupants == want
        # Mesa's get_neighborhood of every cell, on the whole grid (the model uses classes)
        self.hoods = {v: sg.mesa_order(self.w, self.h, v)
                      for v in range(p.vision_min, p.vision_max + 1)}
        self.ev = dict.fromkeys(("moved", "blocked", "died", "trade_short", "trade_same_mrs",
                                 "price_below_1", "price_1_or_more", "repeated_trades",
                                 "shared_cells_met", "ties_in_welfare"), 0)
        self.log = [0, 0.0]

    def cell(self, a):
        return a.y * self.w + a.x

    def move(self, a, act):
        hood = [(a.x + dx, a.y + dy) for dx, dy in self.hoods[a.vision][(a.x, a.y)]]
        empty = [(x, y) for x, y in hood if not self.occupants.get(y * self.w + x)]
        if not empty:  # Mesa: max() of nothing raises; here the trader stays
            self.ev["blocked"] += 1
            return
        welfares = [a.welfare(a.sugar + self.sugar[y * self.w + x],
                              a.spice + self.spice[y * self.w + x]) for x, y in empty]
        best = max(welfares)
        cands = [c for c, v in zip(empty, welfares) if math.isclose(v, best)]
        self.ev["ties_in_welfare"] += len(cands) > 1
        dist = [math.sqrt((x - a.x) ** 2 + (y - a.y) ** 2) for x, y in cands]
        near = min(dist)
        final = [c for c, d in zip(cands, dist) if math.isclose(d, near, rel_tol=1e-2)]
        x, y = final[below(_d(act, a.row), len(final))]
        self.occupants[self.cell(a)].remove(a.row)
        a.x, a.y = x, y
        self.occupants.setdefault(self.cell(a), []).append(a.row)
        self.ev["moved"] += 1

    def step(self):
        tick = self.tick
        if self.growback:
            self.sugar = [min(s + 1, m) for s, m in zip(self.sugar, self.sugar_max)]
            self.spice = [min(s + 1, m) for s, m in zip(self.spice, self.spice_max)]
        key = _key(self.seed, tick, self.systems[0])
        act = _d(key, 1)
        self.log = [0, 0.0]
        for i in shuffled_rows(self.alive, _d(key, 0)):
            a = self.t[i]
            a.trades, a.prices = 0, []
            self.move(a, act)
            c = self.cell(a)  # eat
            a.sugar += self.sugar[c]
            self.sugar[c] = 0
            a.sugar -= a.ms
            a.spice += self.spice[c]
            self.spice[c] = 0
            a.spice -= a.mp
            if a.sugar <= 0 or a.spice <= 0:  # maybe_die
                self.alive[i] = 0
                self.occupants[c].remove(i)
                self.ev["died"] += 1
        if self.p.enable_trade:
            for i in shuffled_rows(self.alive, _d(_key(self.seed, tick, self.systems[1]), 0)):
                a = self.t[i]
                for dx, dy in self.hoods[a.vision][(a.x, a.y)]:
                    mates = list(self.occupants.get((a.y + dy) * self.w + a.x + dx, []))
                    self.ev["shared_cells_met"] += len(mates) > 1
                    for r in mates:
                        a.trade(self.t[r], self.ev, self.once)
        live = [a for a, on in zip(self.t, self.alive) if on]
        prices = [q for a in live for q in a.prices]
        self.log = [len(prices), math.fsum(math.log(q) for q in prices)]
        self.tick += 1
        wealth = sorted(a.sugar + a.spice for a in live)
        n = len(wealth)
        gini = (1 + 1 / n - 2 * sum(x * (n - i) for i, x in enumerate(wealth))
                / (n * sum(wealth))) if n else math.nan
        return {"Traders": float(n), "Trade_Volume": float(len(prices)),
                "Price": math.exp(self.log[1] / len(prices)) if prices else math.nan,
                "Gini": gini}


def small(seed=5, threads=1, **kw):
    """A small crowded world: 13 x 9 (not square), 100 traders, short vision, small
    endowments (traders starve, some are hemmed in and share a cell, trades go both
    ways)."""
    args = dict(initial_population=100, width=13, height=9, endowment_min=4,
                endowment_max=30, vision_max=3, metabolism_max=4)
    args.update(kw)
    return sg.world(seed=seed, threads=threads, **args)


def _assert_same(w, ref, where):
    cols = w.columns
    alive = np.array(ref.alive, np.uint8)
    assert np.array_equal(cols["alive"], alive), where
    live = alive == 1
    for k, attr in (("x", "x"), ("y", "y"), ("sugar", "sugar"), ("spice", "spice"),
                    ("trades", "trades")):
        got = cols[k][live]
        want = np.array([getattr(a, attr) for a in ref.t], np.int64)[live]
        assert np.array_equal(got, want), (where, k)
    assert w.resources["cell_sugar"].tolist() == ref.sugar, where
    assert w.resources["cell_spice"].tolist() == ref.spice, where
    for c in range(w.params.width * w.params.height):  # Mesa's cell._agents
        assert cell_rows(w.resources["cells"], c) == ref.occupants.get(c, []), (where, c)


def test_steps_are_mesas_rules_with_the_same_draws():
    w = small()
    ref = Reference(w)
    for step in range(1, 16):
        want = ref.step()
        got = w.run(1)
        _assert_same(w, ref, f"step {step}")
        assert int(w.resources["trade_log"][0]) == ref.log[0], step
        for k, v in want.items():
            g = float(got[k][0])
            assert (math.isnan(v) and math.isnan(g)) or g == pytest.approx(v, rel=1e-12), \
                (step, k, g, v)
    # every rule was exercised: moves and hemmed-in traders, deaths, trades both ways
    # and repeated, trades cut short by a holding or by equal MRS, ties in welfare,
    # neighbours sharing a cell (their order in it matters)
    assert all(v > 0 for v in ref.ev.values()), ref.ev


# ---- against Mesa's own classes ------------------------------------------------------------


@needs_mesa
def test_neighbourhoods_are_mesas():
    from mesa.discrete_space import OrthogonalVonNeumannGrid

    for width, height in ((7, 5), (3, 8), (12, 11), (1, 4), (2, 2), (13, 9)):
        grid = OrthogonalVonNeumannGrid((width, height), torus=False, random=random.Random(0))
        for r in range(1, 7):
            hood = sg.hood_of(width, height, r)
            whole = sg.mesa_order(width, height, r)  # the reference's: the whole grid
            for (i, j), cell in grid._cells.items():
                mesa = [(c.coordinate[0] - i, c.coordinate[1] - j)
                        for c in cell.get_neighborhood(r)]
                k0, k1 = sg.hood_range(hood, i, j, r, width, height)
                ours = list(zip(hood.dx[k0:k1].tolist(), hood.dy[k0:k1].tolist()))
                assert ours == mesa == whole[(i, j)], (width, height, r, i, j)


@needs_mesa
def test_land_is_mesas_map():
    from mesa.examples.advanced.sugarscape_g1mt.model import SugarscapeG1mt

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = SugarscapeG1mt(seed=0, initial_population=1)
    w = sg.world(initial_population=1)
    sugar, spice = m.grid.sugar.data, m.grid.spice.data  # [i, j]
    assert np.array_equal(sg.sugar_map(), m.sugar_distribution)
    for name, mesa in (("sugar", sugar), ("spice", spice)):
        for layer in (f"cell_{name}", f"{name}_distribution"):
            assert np.array_equal(w.resources[layer].reshape(50, 50).T, mesa), layer
    # another size: the same landscape resampled, spice still sugar flipped along j
    big = sg.sugar_map(100, 75)
    assert np.array_equal(big[::2, ::3], sg.sugar_map()[:, ::2])
    s, p = sg.layers(9, 7)
    assert np.array_equal(p.reshape(7, 9), s.reshape(7, 9)[::-1])


POWERS = sg.powers_of(1, 5)


@njit
def _compiled_powers(m, width, lo):
    out = np.zeros((m, m, width))
    for a in range(m):
        for b in range(m):
            ms, mp = np.int64(a + lo), np.int64(b + lo)
            for x in range(width):
                out[a, b, x] = np.float64(x) ** (ms / (ms + mp))  # welfare's expression
    return out


def test_welfare_from_the_table_is_welfare():
    """The table holds the factors of welfare exactly as compiled code computes them,
    entry by entry; read from it or past its edge, welfare is the same."""
    m, _, width = POWERS.shape
    assert (m, width) == (5, sg.POWERS_WIDTH) and not POWERS.flags.writeable
    assert np.array_equal(POWERS, _compiled_powers(5, width, 1))
    assert np.array_equal(sg.powers_of(3, 4), _compiled_powers(2, width, 3))
    rng = np.random.default_rng(3)
    for sugar, spice, ms, mp in zip(rng.integers(0, 3 * width, 2000),
                                    rng.integers(0, 3 * width, 2000),
                                    rng.integers(1, 6, 2000), rng.integers(1, 6, 2000)):
        assert sg.welfare_from(POWERS, 1, sugar, spice, ms, mp) == sg.welfare(sugar, spice,
                                                                             ms, mp)
    assert sg.welfare_from(POWERS, 1, 5, 5, 7, 1) == sg.welfare(5, 5, 7, 1)  # off the table
    assert sg.powers_of(1, 2**20).shape == (0, 0, 0)  # too wide a range: no table


@needs_mesa
def test_trade_is_mesas_trader_trade():
    """Mesa's Trader.trade on pairs of traders (random holdings and metabolisms) against
    the model's exchange on the same numbers: the same holdings and welfare after, the
    same number of exchanges and prices."""
    import mesa
    from mesa.discrete_space import OrthogonalVonNeumannGrid
    from mesa.examples.advanced.sugarscape_g1mt.agents import Trader as MesaTrader

    model = mesa.Model(seed=0)
    grid = OrthogonalVonNeumannGrid((2, 1), torus=False, random=model.random)
    rng = np.random.default_rng(7)
    kinds = {"none": 0, "one": 0, "many": 0, "below_1": 0}
    for _ in range(1500):
        hold = rng.integers(1, rng.choice([4, 30, 200]), 4)
        meta = rng.integers(1, 6, 4)
        a = MesaTrader(model, grid._cells[(0, 0)], *hold[:2], *meta[:2], 1)
        b = MesaTrader(model, grid._cells[(1, 0)], *hold[2:], *meta[2:], 1)
        wel = np.array([a.calculate_welfare(a.sugar, a.spice),
                        b.calculate_welfare(b.sugar, b.spice)], np.float64)
        a.trade(b)
        sugar, spice = hold[[0, 2]].astype(np.int64), hold[[1, 3]].astype(np.int64)
        ms, mp = meta[[0, 2]], meta[[1, 3]]
        rate = [sg.mrs(sugar[k], spice[k], ms[k], mp[k]) for k in (0, 1)]
        n, logs, *after = sg.exchange(sugar[0], spice[0], ms[0], mp[0], wel[0], rate[0],
                                      sugar[1], spice[1], ms[1], mp[1], wel[1], rate[1],
                                      0.0, False, POWERS, 1)
        # the holdings after, and the welfare and MRS it keeps: Mesa's of them
        assert after == [a.sugar, a.spice, a.calculate_welfare(a.sugar, a.spice),
                         a.calculate_MRS(a.sugar, a.spice),
                         b.sugar, b.spice, b.calculate_welfare(b.sugar, b.spice),
                         b.calculate_MRS(b.sugar, b.spice)]
        assert n == len(a.prices)
        assert logs == pytest.approx(math.fsum(map(math.log, a.prices)), abs=1e-12)
        kinds["none" if not a.prices else "one" if len(a.prices) == 1 else "many"] += 1
        kinds["below_1"] += any(q < 1 for q in a.prices)
        a.remove()
        b.remove()
    assert min(kinds.values()) > 50, kinds


@needs_mesa
def test_moves_are_mesas_trader_move(monkeypatch):
    """Mesa's own run at its defaults: before every Trader.move, the final candidates
    by the rules above (Mesa's neighbourhood order, welfare, ties, distance) equal the
    list Mesa passes to random.choice."""
    from mesa.examples.advanced.sugarscape_g1mt import agents as mesa_agents
    from mesa.examples.advanced.sugarscape_g1mt.model import SugarscapeG1mt

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = SugarscapeG1mt(seed=4)
    orders = {v: sg.mesa_order(50, 50, v) for v in range(1, 6)}
    original, choice = mesa_agents.Trader.move, m.random.choice
    seen = {"moves": 0, "ties": 0}

    def move(agent):
        x, y = agent.cell.coordinate
        t = Trader(0, agent.sugar, agent.spice, agent.metabolism_sugar,
                   agent.metabolism_spice, agent.vision, x, y)
        empty = [(x + dx, y + dy) for dx, dy in orders[agent.vision][(x, y)]
                 if m.grid._cells[(x + dx, y + dy)].is_empty]
        wel = [t.welfare(t.sugar + int(m.grid.sugar.data[c]), t.spice + int(m.grid.spice.data[c]))
               for c in empty]
        cands = [c for c, v in zip(empty, wel) if math.isclose(v, max(wel))]
        dist = [math.dist(c, (x, y)) for c in cands]
        want = [c for c, d in zip(cands, dist) if math.isclose(d, min(dist), rel_tol=1e-2)]
        got = []

        def pick(seq):
            got.append([c.coordinate for c in seq])
            return choice(seq)

        m.random.choice = pick
        try:
            original(agent)
        finally:
            m.random.choice = choice
        assert got == [want], (x, y, agent.vision)
        seen["moves"] += 1
        seen["ties"] += len(want) > 1

    monkeypatch.setattr(mesa_agents.Trader, "move", move)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(3):
            m.step()
    assert seen["moves"] > 550 and seen["ties"] > 50, seen


# ---- against Mesa's example ------------------------------------------------------------------

# Wrong variants, each a model of its own built from this one's parts: sugar and spice
# that never grow back (the system grow left out), and traders that exchange once per
# meeting instead of until the exchange stops paying (Mesa's trade recursion cut).


@njit
def trade_once(key, n, p, x, y, vision, metabolism_sugar, metabolism_spice, hood, cells,
               population, sugar, spice, trades, scratch, trade_log):
    if not p.enable_trade:
        return
    m = shuffled(population, draw(key, 0), n)
    sg.trade_turns(n, p, population.order, m, x, y, vision, metabolism_sugar,
                   metabolism_spice, hood, cells, sugar, spice, trades,
                   scratch.trader_welfare, scratch.trader_mrs, scratch.powers, trade_log,
                   population, True)


def _variant(name, systems):
    m = sg.MODEL
    return Model(name, dynamic=True, params=m.params,
                 columns=[c for c in m.columns if c.name not in m.engine],
                 resources=[r for r in m.resources if r.name not in m.engine],
                 setup=m.setup, systems=systems, stats=m.stats, check=m.check)


_GROW, _TURNS, _TRADE = sg.MODEL.systems
NO_GROWBACK = _variant("sugarscape_no_growback", [_TURNS, _TRADE])
TRADE_ONCE = _variant("sugarscape_trade_once", [
    _GROW, _TURNS, Kernel("trade", trade_once, reads=_TRADE.reads, writes=_TRADE.writes)])

# Mesa's example at its defaults (50 x 50, 200 traders): per seed, the mean over steps
# 1..STEPS of each DataCollector series (#Traders, Trade Volume, log of Price: the
# geometric mean of the step's prices) and of the Gini coefficient of sugar + spice
# (computed from Mesa's traders after each step, as the model's Gini).
# Test: Welch's two-sample t-test (scipy.stats.ttest_ind, equal_var=False) of our SEEDS
# per-seed means against Mesa's, per series; agreement means p >= ALPHA for all four
# (under "same model" each p is uniform: a correct model fails with probability
# <= 4 * ALPHA for a given set of seeds; the seeds are fixed, so the outcome is too). A
# series that is NaN on one side only (no trade: no price) disagrees (p = 0).
# The same test must reject three wrong variants: enable_trade=False (Mesa's own
# switch), no growback, and one exchange per meeting (above).
# Measured with these seeds (Mesa 0..15, ours 1000..1015): p = 0.81 (Traders), 0.23
# (Trade_Volume), 0.31 (Price), 0.48 (Gini); no trade: Traders p = 2e-13 (141.7 traders
# on average against Mesa's 162.0); no growback: Traders p = 5e-22 (119.6); one exchange
# per meeting: Trade_Volume p = 3e-5 (91.7 trades a step against Mesa's 105.3). Over 79
# other Mesa seeds (100..179; seed 109 fails at step 2, see the model's docstring) and
# 80 of ours, the means of #Traders, Trade Volume and log Price at steps 1, 2, 3, 5, 10,
# 20 and 30 differed by at most 1.6 standard errors of the difference, and their time
# averages gave p = 0.64, 0.60 and 0.57.
STEPS, SEEDS, ALPHA = 30, mesa_seeds(16), 1e-3
SERIES = ("Traders", "Trade_Volume", "Price", "Gini")


def _gini(wealth):
    x = sorted(wealth)
    n = len(x)
    return 1 + 1 / n - 2 * sum(v * (n - i) for i, v in enumerate(x)) / (n * sum(x))


def _summary(traders, volume, price, gini):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the log and mean of no price: NaN
        return np.array([np.mean(traders), np.mean(volume),
                         np.mean(np.log(np.asarray(price, np.float64))), np.mean(gini)])


def _mesa(seed):
    from mesa.examples.advanced.sugarscape_g1mt.model import SugarscapeG1mt

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = SugarscapeG1mt(seed=seed)
        gini = []
        for _ in range(STEPS):
            m.step()
            gini.append(_gini([a.sugar + a.spice for a in m.agents]))
    df = m.datacollector.get_model_vars_dataframe()
    assert len(df) == STEPS  # collected after each step, not at setup
    return _summary(df["#Traders"], df["Trade Volume"], df["Price"], gini)


def _mesa_runs(n):
    """``n`` runs of Mesa's example, seeds 0, 1, ...; a seed on which Mesa's own model
    raises (``max()`` of no welfare: a trader with no empty cell in sight, seed 31 at
    step 2; the model's docstring) is passed over, as Mesa's run would end there."""
    out, seed = [], 0
    while len(out) < n:
        try:
            out.append(_mesa(seed))
        except ValueError:
            pass
        seed += 1
    return np.array(out)


def _ours(seed, model=sg.MODEL, **params):
    t = ModelWorld(model, 200, seed=seed, threads=1, capacity=200, **params).run(STEPS)
    return _summary(*(t[k] for k in SERIES))


def _pvalues(a, b):
    from scipy.stats import ttest_ind

    out = {}
    for j, k in enumerate(SERIES):
        if np.isnan(a[:, j]).any() != np.isnan(b[:, j]).any():
            out[k] = 0.0
        else:
            out[k] = float(ttest_ind(a[:, j], b[:, j], equal_var=False).pvalue)
    return out


@needs_mesa
@pytest.mark.mesa_statistics
def test_series_agree_with_mesa_and_wrong_variants_do_not():
    mesa = _mesa_runs(SEEDS)
    ours = np.array([_ours(1000 + s) for s in range(SEEDS)])
    p_ours = _pvalues(ours, mesa)
    means = {k: (round(ours[:, j].mean(), 3), round(mesa[:, j].mean(), 3))
             for j, k in enumerate(SERIES)}
    assert min(p_ours.values()) >= ALPHA, (p_ours, means)
    for name, model, params in (("no trade", sg.MODEL, {"enable_trade": False}),
                                ("no growback", NO_GROWBACK, {}),
                                ("one exchange per meeting", TRADE_ONCE, {})):
        bad = np.array([_ours(1000 + s, model, **params) for s in range(SEEDS)])
        p_bad = _pvalues(bad, mesa)
        assert min(p_bad.values()) < ALPHA, (name, p_bad, bad.mean(axis=0), means)


def test_the_variants_are_the_reference_with_that_rule_changed():
    # the wrong variants are what they say: the plain-Python reference with the rule
    # changed, step for step
    for model, kw in ((NO_GROWBACK, {"growback": False, "systems": (0, 1)}),
                      (TRADE_ONCE, {"once": True})):
        w = ModelWorld(model, 100, seed=3, threads=1, capacity=100, width=13, height=9,
                       endowment_min=4, endowment_max=30, vision_max=3, metabolism_max=4)
        ref = Reference(w, **kw)
        for step in range(8):
            ref.step()
            w.run(1)
            _assert_same(w, ref, (model.name, step))


# ---- threads, snapshots, statistics, bad values -----------------------------------------------


def test_same_digest_on_one_and_two_threads():
    digests, tables = set(), []
    for threads in (1, 2):
        w = sg.world(2000, seed=11, threads=threads)
        tables.append(w.run(15))
        digests.add(w.state_digest())
    assert len(digests) == 1
    for k in tables[0]:
        np.testing.assert_array_equal(tables[0][k], tables[1][k])
    assert 0 < tables[0]["Traders"][-1] < 2000 and tables[0]["Trade_Volume"][-1] > 0


def test_snapshot_restore_continues_bit_identically(tmp_path):
    w = small(seed=8)
    w.run(6)
    path = tmp_path / "sugarscape.snap"
    w.snapshot(path)
    back = ModelWorld.restore(path, sg.MODEL, threads=2)
    assert back.tick == w.tick and back.state_digest() == w.state_digest()
    np.testing.assert_equal(back.stats(), w.stats())
    for k in ("cell_sugar", "cell_spice", "trade_log"):  # the land and the step's trades
        assert np.array_equal(back.resources[k], w.resources[k])
    a, b = w.run(9), back.run(9)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert back.state_digest() == w.state_digest()


def test_the_digest_covers_the_land_and_the_cells():
    a, b = small(seed=4), small(seed=4)
    assert a.state_digest() == b.state_digest()
    b.resources["cell_spice"][7] -= 1
    assert a.state_digest() != b.state_digest()
    c = small(seed=4)
    sg.move(c.resources["cells"], 0, 5)  # row 0 listed in another cell
    assert a.state_digest() != c.state_digest()


def test_statistics_at_setup_and_without_trade():
    w = sg.world(seed=2)
    s = w.stats()
    assert s["Traders"] == 200 and s["Trade_Volume"] == 0 and math.isnan(s["Price"])
    live = w.columns["alive"] == 1
    assert s["Gini"] == pytest.approx(_gini(list(w.columns["sugar"][live]
                                                 + w.columns["spice"][live])), rel=1e-12)
    t = w.run(3)
    assert t["Traders"][-1] == w.live and (t["Trade_Volume"] > 0).all()
    assert t["Trade_Volume"][-1] == w.columns["trades"][w.columns["alive"] == 1].sum()
    off = sg.world(seed=2, enable_trade=False).run(5)
    assert (off["Trade_Volume"] == 0).all() and np.isnan(off["Price"]).all()
    empty = sg.world(initial_population=0, seed=1)  # Mesa runs with none and reports NaN
    t = empty.run(3)
    assert (t["Traders"] == 0).all() and np.isnan(t["Price"]).all() and np.isnan(t["Gini"]).all()


def test_collect_gives_the_trades_of_each_trader():
    model, agents = small(seed=2).collect(3, adata=("trades", "sugar"), frame=False)
    assert model["Trade_Volume"][1:].tolist() == [
        agents["trades"][agents["step"] == s].sum() for s in (1, 2, 3)]


@pytest.mark.parametrize("params, field", [
    ({"width": 0}, "width"),
    ({"height": -3}, "height"),
    ({"width": 2.5}, "width"),
    ({"endowment_min": -1}, "endowment_min"),
    ({"endowment_min": 30, "endowment_max": 20}, "endowment_max"),
    ({"metabolism_min": 0}, "metabolism_min"),
    ({"metabolism_max": 0}, "metabolism_max"),
    ({"vision_min": 0}, "vision_min"),
    ({"vision_max": 11}, "vision_max"),
    ({"vision_min": 3, "vision_max": 2}, "vision_max"),
    ({"enable_trade": 1}, "enable_trade"),
    ({"initial_population": -1}, "initial_population"),
    ({"initial_population": 2.0}, "initial_population"),
    ({"agents": -5}, "agents"),
    ({"agents": 10, "initial_population": 10}, "initial_population"),
    ({"initial_population": 10, "capacity": 5}, "capacity"),
    ({"seed": -1}, "seed"),
    ({"num_traders": 3}, "num_traders"),
])
def test_bad_parameters_name_the_field(params, field):
    with pytest.raises(ConfigError) as e:
        sg.world(**params)
    assert e.value.field == field
    assert field in str(e.value)


def test_world_sizes_at_mesas_density():
    w = sg.world()
    assert (w.params.width, w.params.height, w.live) == (50, 50, 200)
    assert w.params._asdict() == {"width": 50, "height": 50, "endowment_min": 25,
                                  "endowment_max": 50, "metabolism_min": 1,
                                  "metabolism_max": 5, "vision_min": 1, "vision_max": 5,
                                  "enable_trade": True}
    big = sg.world(10_000, seed=1)
    assert big.live == 10_000 and big.params.width == big.params.height == 354
    cols = big.columns
    for k, lo, hi in (("sugar", 25, 50), ("metabolism_spice", 1, 5), ("vision", 1, 5)):
        assert cols[k].min() == lo and cols[k].max() == hi, k


def test_bench_models_compares_with_mesa_at_its_one_size():
    """Mesa's example runs at 200 traders on its 50 x 50 map only: `dod-sim bench
    models` adds that row to the model's and measures Mesa there alone; the world it
    builds for 200 agents is Mesa's."""
    from dod_sim.bench_models import rows_for

    assert rows_for("sugarscape", (1_000, 10_000)) == [(200, True), (1_000, False),
                                                       (10_000, False)]
    assert rows_for("wealth", (1_000, 10_000)) == [(1_000, True), (10_000, True)]
    assert rows_for("wealth", (100_000,)) == [(100_000, False)]
    w = sg.world(sg.MESA_AGENTS)
    assert (w.params.width, w.params.height, w.live) == (50, 50, 200)


def test_view_draws_the_traders_on_the_sugar():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from dod_sim.draw import plot

    w = small(seed=3)
    w.run(2)
    ax = plot(w)
    try:
        layer = np.ma.filled(ax.images[0].get_array(), np.nan)  # [y, x]
        assert np.array_equal(layer, w.resources["cell_sugar"].reshape(9, 13))
        assert len(ax.collections[0].get_offsets()) == w.live
    finally:
        plt.close(ax.figure)
