"""Epstein civil violence (dod_sim.models.civil_violence): a plain-Python version of
Mesa's rules with the same draws, statistical agreement with Mesa 3.3.1's own example
(and two wrong variants that the same test rejects), thread counts, snapshots, bad
values."""

import math
import warnings

import numba
import numpy as np
import pytest

from conftest import mesa_seeds
from dod_sim.bench_models import _mesa_examples, mesa_available
from dod_sim.errors import ConfigError
from dod_sim.kernels.rng import below, draw, row_key, uniform
from dod_sim.model import KERNEL_STREAM, ModelWorld
from dod_sim.models import civil_violence as cv

ACTIVE, QUIET, ARRESTED = cv.ACTIVE, cv.QUIET, cv.ARRESTED
needs_mesa = pytest.mark.skipif(not mesa_available(),
                                reason="mesa is not installed (pip install dod_sim[bench])")


def _kernel_key(seed, tick, system):
    """The key the engine gives Kernel system number ``system`` (the tick's systems
    first, then the setup's) at ``tick`` (-1: setup)."""
    return np.uint64(draw(np.uint64(row_key(seed, tick, 0)), KERNEL_STREAM + system))


def _below(key, stream, m):
    return int(below(np.uint64(draw(np.uint64(key), stream)), m))


def mesa_neighbourhood(r, w, h):
    """Mesa's ``get_neighborhood(r)`` of a von Neumann torus as offsets mod (w, h),
    derived here on its own: every (dx, dy) with |dx| + |dy| <= r, dx then dy ascending,
    each wrapped cell once (first occurrence), the own cell left out."""
    seen, out = set(), []
    for dx in range(-r, r + 1):
        for dy in range(-r, r + 1):
            if abs(dx) + abs(dy) > r:
                continue
            c = (dx % w, dy % h)
            if c != (0, 0) and c not in seen:
                seen.add(c)
                out.append(c)
    return out


def reference(w, steps):
    """Mesa's rules (agents.py, model.py) in plain Python from world ``w``'s current
    state, with the model's draws (module docstring of dod_sim.models.civil_violence):
    an iterator of the citizens' and cops' columns and the grid after each step, with
    counts of the events that show the rules at work."""
    p, seed = w.params, w.seed
    c = {k: np.array(v) for k, v in w.columns.items()}
    x, y = [int(v) for v in c["citizens.x"]], [int(v) for v in c["citizens.y"]]
    kx, ky = [int(v) for v in c["cops.x"]], [int(v) for v in c["cops.y"]]
    hardship, risk = c["citizens.hardship"].tolist(), c["citizens.risk_aversion"].tolist()
    state, jail = c["citizens.state"].tolist(), c["citizens.jail_sentence"].tolist()
    prob = c["citizens.arrest_probability"].tolist()
    n, nk, W, H = len(x), len(kx), p.width, p.height
    grid = {}
    for i in range(n):
        grid[(x[i], y[i])] = ("citizen", i)
    for k in range(nk):
        if kx[k] >= 0:
            grid[(kx[k], ky[k])] = ("cop", k)
    nbc = mesa_neighbourhood(p.citizen_vision, W, H)
    nbk = mesa_neighbourhood(p.cop_vision, W, H)
    events = dict(arrests=0, zero_terms=0, released=0, served=0, moves=0, ties=0,
                  deterred=0, active_turns=0, late_arrest_turns=0)

    def look(px, py, offsets):
        cells = [((px + dx) % W, (py + dy) % H) for dx, dy in offsets]
        return cells, [grid.get(cell) for cell in cells]

    def move(agent, px, py, cells, who, a):
        empty = [cell for cell, o in zip(cells, who) if o is None]
        if p.movement and empty:  # EpsteinAgent.move
            cell = empty[_below(a, cv.MOVE, len(empty))]
            del grid[(px, py)]
            grid[cell] = agent
            events["moves"] += 1
            return cell
        return px, py

    def step(tick):
        key = _kernel_key(seed, tick, 0)
        shuffle, act = np.uint64(draw(key, 0)), np.uint64(draw(key, 1))
        order = list(range(n + nk))  # shuffle_do: one order over every agent, drawn first
        for t in range(n + nk):
            j = t + _below(shuffle, t, n + nk - t)
            order[t], order[j] = order[j], order[t]
        arrested_now = set()
        for e in order:
            a = np.uint64(draw(act, e))
            if e < n:  # Citizen.step
                i = e
                if jail[i]:
                    jail[i] -= 1
                    events["served"] += 1
                    continue
                events["released"] += state[i] == ARRESTED
                events["late_arrest_turns"] += i in arrested_now
                cells, who = look(x[i], y[i], nbc)
                cops = sum(o is not None and o[0] == "cop" for o in who)
                actives = 1 + sum(o is not None and o[0] == "citizen"
                                  and state[o[1]] == ACTIVE for o in who)
                events["ties"] += (cops / actives) % 1 == 0.5
                prob[i] = 1 - math.exp(-1 * p.arrest_prob_constant * round(cops / actives))
                grievance = hardship[i] * (1 - p.legitimacy)
                if (grievance - risk[i] * prob[i]) > p.active_threshold:
                    state[i] = ACTIVE
                    events["active_turns"] += 1
                else:
                    events["deterred"] += grievance > p.active_threshold
                    state[i] = QUIET
                x[i], y[i] = move(("citizen", i), x[i], y[i], cells, who, a)
            else:  # Cop.step
                k = e - n
                if kx[k] < 0:
                    continue
                cells, who = look(kx[k], ky[k], nbk)
                active = [o[1] for o in who if o is not None and o[0] == "citizen"
                          and state[o[1]] == ACTIVE]
                if active:
                    i = active[_below(a, cv.ARREST, len(active))]
                    jail[i] = _below(a, cv.TERM, p.max_jail_term + 1)  # randint(0, J)
                    state[i] = ARRESTED
                    arrested_now.add(i)
                    events["arrests"] += 1
                    events["zero_terms"] += jail[i] == 0
                kx[k], ky[k] = move(("cop", k), kx[k], ky[k], cells, who, a)
        g = np.full(W * H, cv.EMPTY, np.int32)
        for (gx, gy), (kind, r) in grid.items():
            g[gy * W + gx] = r if kind == "citizen" else n + r
        return dict(x=x, y=y, state=state, jail_sentence=jail, arrest_probability=prob,
                    cop_x=kx, cop_y=ky, grid=g), events

    # the state above was read now; a generator's body would read it at its first next()
    return (step(tick) for tick in range(w.tick, w.tick + steps))


CITIZEN_COLS = ("x", "y", "state", "jail_sentence", "arrest_probability")


@pytest.mark.parametrize("params, steps", [
    # visions that differ, a non-square grid, short sentences: arrests and releases
    (dict(width=13, height=11, citizen_vision=3, cop_vision=2, legitimacy=0.5,
          cop_density=0.1, max_jail_term=4), 15),
    # a torus smaller than the diamond: each wrapped cell once, the own cell never
    (dict(width=6, height=5, citizen_density=0.6, cop_density=0.15, legitimacy=0.4,
          max_jail_term=2), 12),
    (dict(width=12, height=12, citizen_vision=2, cop_vision=3, legitimacy=0.4,
          max_jail_term=3, movement=False), 12),
])
def test_steps_are_mesas_sequential_rules_with_the_same_draws(params, steps):
    seed = 5
    w = cv.world(seed=seed, **params)
    p = w.params
    # the population: Mesa's per-cell choice with the model's draws
    u = np.array([uniform(np.uint64(draw(np.uint64(row_key(seed, -1, c)),
                                         cv.LAYOUT_STREAM)), 0)
                  for c in range(p.width * p.height)])
    cells_c = np.flatnonzero(u < p.citizen_density)
    cells_k = np.flatnonzero((u >= p.citizen_density) & (u < p.citizen_density + p.cop_density))
    cols = w.columns
    assert np.array_equal(cols["citizens.y"] * p.width + cols["citizens.x"], cells_c)
    assert np.array_equal(cols["cops.y"] * p.width + cols["cops.x"], cells_k)
    assert (cols["citizens.state"] == QUIET).all() and (cols["citizens.jail_sentence"] == 0).all()
    assert np.isnan(cols["citizens.arrest_probability"]).all()
    assert [tuple(v) for v in zip(*cv.neighbourhood(p.citizen_vision, p.width, p.height))] \
        == mesa_neighbourhood(p.citizen_vision, p.width, p.height)
    ref = reference(w, steps)
    for step in range(1, steps + 1):
        table = w.run(1)
        got, events = next(ref)
        cols = w.columns
        for k in CITIZEN_COLS:
            assert np.array_equal(cols[f"citizens.{k}"], np.array(got[k]), equal_nan=True), \
                (step, k)
        assert np.array_equal(cols["cops.x"], got["cop_x"]), step
        assert np.array_equal(cols["cops.y"], got["cop_y"]), step
        assert np.array_equal(w.resources["grid"], got["grid"]), step
        s = np.array(got["state"])
        assert {k: table[k][0] for k in ("active", "quiet", "arrested")} == {
            "active": (s == ACTIVE).sum(), "quiet": (s == QUIET).sum(),
            "arrested": (s == ARRESTED).sum()}
        assert sorted(w.resources["scratch"].order) == list(range(w.rows))
    # the rules were exercised: arrests (some with a sentence of 0), sentences served and
    # then a free turn again, rebels deterred by cops, round()'s ties, moves
    need = ["arrests", "zero_terms", "served", "released", "deterred", "ties", "active_turns"]
    need += ["moves"] if p.movement else []
    if w.table_agents["citizens"] > 50:  # arrested with a sentence of 0, free at its turn
        need.append("late_arrest_turns")  # later in the same step
    assert all(events[k] > 0 for k in need), events
    if not p.movement:
        assert events["moves"] == 0


# ---- against Mesa ----------------------------------------------------------------------------

# Per seed, the time-averaged fractions of citizens active, quiet and arrested over steps
# 1..STEPS (Mesa's three reporters, divided by the citizens) on a 30 x 30 torus with
# vision 3, legitimacy 0.5, cop density 0.1 and sentences of at most 5 steps, so that
# rebellions, arrests and releases go on all the time (Mesa's defaults settle at once:
# a few arrests in the first steps and nothing after), and Mesa takes ~12 ms a step (its
# defaults: ~45 ms at 30 x 30); Mesa's other defaults.
# Test: Welch's two-sample t-test (scipy.stats.ttest_ind, equal_var=False) of our SEEDS
# per-seed values against Mesa's, per fraction; agreement means p >= ALPHA for all three,
# and a wrong variant is rejected when any of its three p is < ALPHA. Under "same model"
# each p is uniform, so a correct model fails with probability <= 3 * ALPHA for a given
# set of seeds (the seeds are fixed, so the outcome is too).
# Measured over 100 seeds (ours, 40 steps): active / quiet / arrested 0.254 / 0.402 /
# 0.344 (sd 0.053 / 0.053 / 0.011); Mesa over 10 seeds 0.265 / 0.394 / 0.341. Cops
# acting after all citizens (each kind in its own shuffled order) arrest more: 0.218 /
# 0.386 / 0.396 (sd of arrested 0.012, ~4.5 sd away per seed); with sentences ignored
# (every arrested citizen free at its next turn) 0.654 / 0.268 / 0.079.
# Mesa over 100 more seeds (30..129): 0.266 / 0.394 / 0.340 (standard errors 0.007 /
# 0.007 / 0.0014); ours over 400 seeds: 0.261 / 0.398 / 0.341 (0.003 / 0.003 / 0.0007).
# With seeds 0..9: ours p = 0.19 / 0.24 / 0.44; cops last p(arrested) = 6e-9; sentences
# ignored p(arrested) = 2e-22 (seeds 10..19 and 20..29: ours min p 0.03 and 0.23, cops
# last 1e-7 and 7e-11).
PARAMS = dict(width=30, height=30, citizen_vision=3, cop_vision=3, legitimacy=0.5,
              cop_density=0.1, max_jail_term=5)
STEPS, SEEDS, ALPHA = 40, mesa_seeds(10), 1e-3
FRACTIONS = ("active", "quiet", "arrested")


def _ours(seed):
    w = cv.world(seed=seed, **PARAMS)
    t = w.run(STEPS)
    return np.array([t[k].mean() for k in FRACTIONS]) / w.table_agents["citizens"]


def _mesa(seed):
    _mesa_examples()
    from mesa.examples.advanced.epstein_civil_violence.agents import Citizen
    from mesa.examples.advanced.epstein_civil_violence.model import EpsteinCivilViolence

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = EpsteinCivilViolence(seed=seed, **PARAMS)
        for _ in range(STEPS):
            m.step()
    df = m.datacollector.get_model_vars_dataframe()
    citizens = len(m.agents_by_type[Citizen])
    return np.array([df[k].to_numpy()[1:].mean() for k in FRACTIONS]) / citizens  # 0: setup


COPS_LAST, NO_JAIL = 1, 2


@numba.njit
def _variant_step(key, n, p, x, y, hardship, risk, state, jail, prob, cop_x, cop_y, grid,
                  vision, scratch, variant):
    """Our step with one rule changed. COPS_LAST: the citizens take their turns in a
    shuffled order, then the cops in theirs (not one order over both kinds). NO_JAIL:
    every citizen's sentence is ignored (it is free again at its next turn)."""
    order = scratch.order
    cv.classify(n, state, grid, scratch.kind)
    m = n + cop_x.shape[0]
    shuffle, act = draw(key, 0), draw(key, 1)
    for t in range(m):
        order[t] = t
    spans = ((0, n), (n, m)) if variant == COPS_LAST else ((0, m), (m, m))
    for lo, hi in spans:
        for t in range(lo, hi):
            j = t + below(draw(shuffle, t), hi - t)
            e = order[j]
            order[j] = order[t]
            order[t] = e
            if variant == NO_JAIL and e < n:
                jail[e] = 0
            cv.turn(e, act, n, p, vision, x, y, hardship, risk, state, jail, prob, cop_x,
                    cop_y, grid, scratch)


def _variant(seed, variant):
    w = cv.world(seed=seed, **PARAMS)
    c = {k: np.array(v) for k, v in w.columns.items()}
    grid, n = w.resources["grid"].copy(), w.table_agents["citizens"]
    total = np.zeros(3)
    for tick in range(STEPS):
        _variant_step(_kernel_key(seed, tick, 0), n, w.params, c["citizens.x"],
                      c["citizens.y"], c["citizens.hardship"], c["citizens.risk_aversion"],
                      c["citizens.state"], c["citizens.jail_sentence"],
                      c["citizens.arrest_probability"], c["cops.x"], c["cops.y"], grid,
                      w.resources["vision"], w.resources["scratch"], variant)
        s = c["citizens.state"]
        total += [(s == v).sum() for v in (ACTIVE, QUIET, ARRESTED)]
    return total / STEPS / n


def _pvalues(a, b):
    from scipy.stats import ttest_ind

    return {k: float(ttest_ind(a[:, j], b[:, j], equal_var=False).pvalue)
            for j, k in enumerate(FRACTIONS)}


def test_the_variants_change_only_their_rule():
    # with variant 0 the variant step is our step: the same fractions, exactly
    assert np.array_equal(_variant(3, 0), _ours(3))


@needs_mesa
@pytest.mark.mesa_statistics
def test_fractions_agree_with_mesa_and_wrong_variants_do_not():
    mesa = np.array([_mesa(s) for s in range(SEEDS)])
    ours = np.array([_ours(s) for s in range(SEEDS)])
    p_ours = _pvalues(ours, mesa)
    means = {"mesa": mesa.mean(0).round(4), "ours": ours.mean(0).round(4)}
    assert min(p_ours.values()) >= ALPHA, (p_ours, means)
    for variant in (COPS_LAST, NO_JAIL):
        wrong = np.array([_variant(s, variant) for s in range(SEEDS)])
        p_wrong = _pvalues(wrong, mesa)
        assert min(p_wrong.values()) < ALPHA, (variant, p_wrong, means, wrong.mean(0))


@needs_mesa
def test_running_ends_as_mesas():
    # Mesa: running becomes False once steps > max_iters; ours: the statistic done
    _mesa_examples()
    from mesa.examples.advanced.epstein_civil_violence.model import EpsteinCivilViolence

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = EpsteinCivilViolence(width=8, height=8, max_iters=3, seed=1)
        while m.running:
            m.step()
    w = cv.world(seed=1, width=8, height=8, max_iters=3)
    t = w.run(20, until="done")
    assert w.tick == m.steps == 4
    assert t["done"].tolist() == [0.0, 0.0, 0.0, 1.0]


# ---- the model's other ways in and out ------------------------------------------------------


def test_statistics_and_agent_data():
    w = cv.world(seed=2, **PARAMS)
    m, agents = w.collect(5, adata=("jail_sentence", "arrest_probability"), table="citizens",
                          frame=False)
    s = w.columns["citizens.state"]
    assert w.stats() == {"active": (s == ACTIVE).sum(), "quiet": (s == QUIET).sum(),
                         "arrested": (s == ARRESTED).sum(), "done": 0.0}
    n = w.table_agents["citizens"]
    assert (m["active"] + m["quiet"] + m["arrested"] == n).all()
    assert m["quiet"][0] == n and m["arrested"][-1] > 0  # Mesa collects the setup too
    last = agents["step"] == 5
    assert np.array_equal(agents["jail_sentence"][last], w.columns["citizens.jail_sentence"])
    assert np.isnan(agents["arrest_probability"][agents["step"] == 0]).all()
    assert w.table_agents["cops"] > 0 and w.agents == n + w.table_agents["cops"]


def test_no_cops_and_direct_counts():
    # cop_density = 0 (Mesa's model without police): one absent cop row, on no cell
    w = cv.world(seed=4, width=15, height=15, cop_density=0.0)
    assert w.table_agents["cops"] == 1 and w.columns["cops.x"][0] == cv.ABSENT
    assert (w.resources["grid"] < w.table_agents["citizens"]).all()
    t = w.run(5)
    assert (t["arrested"] == 0).all() and t["active"][-1] > 0
    assert (w.columns["citizens.arrest_probability"] == 0).all()
    # counts given directly: every row on its own random cell
    d = ModelWorld(cv.MODEL, {"citizens": 60, "cops": 8}, seed=3, width=10, height=9)
    cells = np.concatenate([d.columns["citizens.y"] * 10 + d.columns["citizens.x"],
                            d.columns["cops.y"] * 10 + d.columns["cops.x"]])
    assert np.unique(cells).size == 68 and cells.min() >= 0 and cells.max() < 90
    g = d.resources["grid"]
    assert np.array_equal(np.sort(g[g >= 0]), np.arange(68))
    d.run(3)


def test_same_digest_on_one_and_two_threads():
    assert numba.config.NUMBA_NUM_THREADS >= 2
    digests, tables = set(), []
    for threads in (1, 2):
        w = cv.world(5000, seed=11, threads=threads, legitimacy=0.6, max_jail_term=8)
        tables.append(w.run(10))
        digests.add(w.state_digest())
    assert len(digests) == 1
    assert all(np.array_equal(tables[0][k], tables[1][k]) for k in tables[0])
    assert tables[0]["arrested"][-1] > 0


@pytest.mark.parametrize("params", [dict(legitimacy=0.6, max_jail_term=8),
                                    dict(cop_density=0.0, legitimacy=0.6)])
def test_snapshot_restore_continues_bit_identically(tmp_path, params):
    w = cv.world(2000, seed=4, **params)
    w.run(6)
    path = tmp_path / "cv.snap"
    w.snapshot(path)
    back = ModelWorld.restore(path, cv.MODEL, threads=2)
    assert back.tick == w.tick and back.state_digest() == w.state_digest()
    assert back.stats() == w.stats()
    assert np.array_equal(back.resources["grid"], w.resources["grid"])
    a, b = w.run(9), back.run(9)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    for k in w.columns:
        assert np.array_equal(w.columns[k], back.columns[k], equal_nan=True), k
    assert back.state_digest() == w.state_digest()


@pytest.mark.parametrize("params, field", [
    ({"width": 0}, "width"),
    ({"height": -3}, "height"),
    ({"width": 2.5}, "width"),
    ({"citizen_density": 1.2}, "citizen_density"),
    ({"cop_density": -0.1}, "cop_density"),
    ({"citizen_density": 0.8, "cop_density": 0.3}, "cop_density"),
    ({"citizen_density": float("nan")}, "citizen_density"),
    ({"citizen_vision": 0}, "citizen_vision"),
    ({"cop_vision": 1001}, "cop_vision"),
    ({"legitimacy": 1.5}, "legitimacy"),
    ({"max_jail_term": -1}, "max_jail_term"),
    ({"max_jail_term": 2**31}, "max_jail_term"),
    ({"arrest_prob_constant": -2.3}, "arrest_prob_constant"),
    ({"active_threshold": float("inf")}, "active_threshold"),
    ({"max_iters": -1}, "max_iters"),
    ({"citizen_density": 0.0, "cop_density": 0.5}, "citizen_density"),  # no citizen
    ({"num_cops": 3}, "num_cops"),
])
def test_bad_parameters_name_the_field(params, field):
    with pytest.raises(ConfigError) as e:
        cv.world(seed=1, **params)
    assert e.value.field == field
    assert field in str(e.value)


def test_bad_counts_and_positions_name_the_field():
    with pytest.raises(ConfigError) as e:
        ModelWorld(cv.MODEL, {"citizens": 80, "cops": 21}, width=10, height=10)
    assert e.value.field == "agents"
    with pytest.raises(ConfigError) as e:  # two agents on one cell
        ModelWorld(cv.MODEL, {"citizens": 2, "cops": 1}, width=5, height=5,
                   init={"citizens.x": [1, 1], "citizens.y": [2, 2]})
    assert e.value.field == "init"
    with pytest.raises(ConfigError) as e:  # off the grid
        ModelWorld(cv.MODEL, {"citizens": 2, "cops": 1}, width=5, height=5,
                   init={"cops.x": [5], "cops.y": [0]})
    assert e.value.field == "init"
    with pytest.raises(ConfigError) as e:  # only a cop row may be absent
        ModelWorld(cv.MODEL, {"citizens": 2, "cops": 1}, width=5, height=5,
                   init={"citizens.x": [1, -2], "citizens.y": [2, -2]})
    assert e.value.field == "init"
    with pytest.raises(ConfigError) as e:
        cv.world(0)
    assert e.value.field == "agents"
