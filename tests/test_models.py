"""The reference models (dod_sim.models): invariants, exactness against brute force or a
sequential replay, determinism across threads, and agreement with Mesa's own examples."""

import numba
import numpy as np
import pytest

from conftest import mesa_seeds
from dod_sim.bench_models import mesa_available, mesa_model, mesa_stats
from dod_sim.errors import ConfigError
from dod_sim.models import MODELS, boids, schelling, wealth

# ---- wealth ---------------------------------------------------------------------------------


def test_wealth_is_conserved_exactly_and_never_negative():
    w = wealth.world(3000, seed=2)
    for _ in range(30):
        w.run(1, stats=False)
        c = w.columns
        assert c["wealth"].sum() == 3000 and c["wealth"].min() >= 0
    assert w.run(1)["gini"][0] > 0.3


def test_wealth_step_is_mesas_sequential_loop_in_the_drawn_order():
    # Replay Mesa's agents.shuffle_do("step") in the order the step drew (turn): each
    # agent moves to its drawn cell, then, if its wealth *now* is > 0, gives to a
    # cellmate present *now*. The step must give the same wealth.
    n, side = 150, 9  # crowded: ~2 agents a cell, chains of gifts within a step
    w = wealth.world(n, seed=4, width=side, height=side)
    passed_on = 0
    for _ in range(6):
        old = np.stack([w.columns["x"], w.columns["y"]], axis=1).copy()
        cur = w.columns["wealth"].copy()
        w.run(1, stats=False)
        c = w.columns
        new = np.stack([c["x"], c["y"]], axis=1)
        step = np.abs(new - old)
        assert (step.max(axis=1) == 1).all() and (new >= 0).all() and (new < side).all()
        assert sorted(c["turn"]) == list(range(n))
        pos = old.copy()
        start = cur.copy()
        gave = np.zeros(n, np.int8)
        for i in np.argsort(c["turn"]):
            pos[i] = new[i]
            mates = {j for j in np.flatnonzero((pos == new[i]).all(axis=1)) if j != i}
            t = int(c["target"][i])
            assert (t in mates) if mates else t == -1
            if mates and cur[i] > 0:
                passed_on += start[i] == 0  # gives what it got earlier in the step
                cur[t] += 1
                cur[i] -= 1
                gave[i] = 1
        assert np.array_equal(gave, c["gives"])
        assert np.array_equal(cur, c["wealth"])
        cells = w.resources["cells"]
        assert np.array_equal(np.bincount(new[:, 1] * side + new[:, 0], minlength=side * side),
                              cells.count)
    assert passed_on > 0  # a unit was passed on within a step


def test_wealth_refuses_a_grid_its_int32_rings_cannot_number():
    with pytest.raises(ConfigError, match="agents \\+ width \\* height = 2147483658"):
        wealth.world(10, width=2**16, height=2**15)


def test_gini_is_mesas_formula():
    w = wealth.world(500, seed=1)
    w.run(20, stats=False)
    x = sorted(w.columns["wealth"].tolist())
    n = len(x)
    b = sum(xi * (n - i) for i, xi in enumerate(x)) / (n * sum(x))
    assert w.stats()["gini"] == pytest.approx(1 + 1 / n - 2 * b, abs=1e-12)


def test_compiled_statistics_are_numpys_on_the_columns():
    s = schelling.world(2000, seed=5)
    s.run(2, stats=False)
    assert s.stats() == pytest.approx({"happy": s.columns["happy"].mean(),
                                       "segregation": s.columns["similar"].mean(dtype=float)})
    b = boids.world(2000, seed=5)
    b.run(3, stats=False)
    hx, hy = b.columns["hx"], b.columns["hy"]
    norm = np.hypot(hx, hy)
    want = np.hypot((hx / norm).mean(), (hy / norm).mean())
    assert (norm > 0).all() and b.stats()["alignment"] == pytest.approx(want, rel=1e-12)


# ---- schelling ------------------------------------------------------------------------------


def test_schelling_one_agent_per_cell_and_the_happy_share_rises():
    w = schelling.world(5000, seed=3)
    p = w.params
    happy0 = w.stats()["happy"]
    table = w.run(12)
    for _ in range(3):
        c = w.columns
        cells = c["y"].astype(np.int64) * p.width + c["x"]
        assert np.unique(cells).size == w.agents  # at most one agent a cell
        occ = w.resources["occ"]
        assert (occ[cells] == np.arange(w.agents)).all()
        assert (occ >= 0).sum() == w.agents
        w.run(1, stats=False)
    assert table["happy"][-1] > happy0 + 0.1
    assert table["segregation"][-1] > table["segregation"][0]
    assert table["happy"][-1] >= table["happy"][0]


@pytest.mark.parametrize("radius, torus", [(1, False), (2, False), (2, True), (3, True)])
def test_schelling_happiness_is_mesas_rule(radius, torus):
    w = schelling.world(300, seed=5, width=20, height=20, radius=radius, torus=torus)
    w.run(2, stats=False)
    c, p = w.columns, w.params
    grid = -np.ones((p.width, p.height), np.int64)
    grid[c["x"], c["y"]] = np.arange(w.agents)
    r = radius
    for i in range(w.agents):
        x, y = c["x"][i], c["y"][i]
        cells = [(a, b) for a in range(x - r, x + r + 1) for b in range(y - r, y + r + 1)
                 if (a, b) != (x, y)]
        if torus:
            cells = [(a % p.width, b % p.height) for a, b in cells]
        nbrs = [grid[a, b] for a, b in cells
                if 0 <= a < p.width and 0 <= b < p.height and grid[a, b] >= 0]
        share = sum(c["kind"][j] == c["kind"][i] for j in nbrs) / len(nbrs) if nbrs else 0.0
        assert c["similar"][i] == pytest.approx(share, abs=1e-6)
        assert c["happy"][i] == (share >= p.homophily)


# ---- boids ----------------------------------------------------------------------------------


def brute_delta(d, size):
    return np.where(d > 0.5 * size, d - size, np.where(d < -0.5 * size, d + size, d))


def boids_reference_step(x, y, hx, hy, p):
    """One synchronous step over all pairs, in numpy (no index)."""
    dx = brute_delta(x[None, :] - x[:, None], p.width)  # [i, j]: from i to j
    dy = brute_delta(y[None, :] - y[:, None], p.height)
    d2 = dx * dx + dy * dy
    near = d2 <= p.vision * p.vision
    np.fill_diagonal(near, False)
    close = near & (d2 < p.separation * p.separation)
    m = near.sum(axis=1)
    nhx = hx + np.where(m > 0, (p.cohere * (dx * near).sum(1) - p.separate * (dx * close).sum(1)
                                + p.match * (hx[None, :] * near).sum(1)) / np.maximum(m, 1), 0)
    nhy = hy + np.where(m > 0, (p.cohere * (dy * near).sum(1) - p.separate * (dy * close).sum(1)
                                + p.match * (hy[None, :] * near).sum(1)) / np.maximum(m, 1), 0)
    norm = np.where(m > 0, np.hypot(nhx, nhy), 1.0)
    nhx, nhy = nhx / norm, nhy / norm
    return (x + nhx * p.speed) % p.width, (y + nhy * p.speed) % p.height, nhx, nhy, m


def test_boids_step_equals_an_all_pairs_computation():
    # Dense enough that most boids have neighbours, some across the torus seam; the
    # index must use exactly the boids within vision (one more or one less changes the
    # sums far beyond 1e-9).
    w = boids.world(400, seed=6, width=60.0, height=45.0, vision=3.0, separation=2.5)
    p = w.params
    for _ in range(4):
        c = {k: w.columns[k].copy() for k in ("x", "y", "hx", "hy")}
        w.run(1, stats=False)
        rx, ry, rhx, rhy, m = boids_reference_step(c["x"], c["y"], c["hx"], c["hy"], p)
        assert (m > 0).mean() > 0.8 and (m == 0).any()
        for k, ref in (("hx", rhx), ("hy", rhy)):
            assert np.abs(w.columns[k] - ref).max() < 1e-9
        for k, ref, size in (("x", rx, p.width), ("y", ry, p.height)):
            assert np.abs(brute_delta(w.columns[k] - ref, size)).max() < 1e-9


def test_boids_keep_their_speed_bounds_on_the_torus():
    w = boids.world(2000, seed=7)
    p = w.params
    for _ in range(10):
        x0, y0 = w.columns["x"].copy(), w.columns["y"].copy()
        hx0, hy0 = w.columns["hx"].copy(), w.columns["hy"].copy()
        w.run(1, stats=False)
        c = w.columns
        assert (c["x"] >= 0).all() and (c["x"] < p.width).all()
        assert (c["y"] >= 0).all() and (c["y"] < p.height).all()
        h = np.hypot(c["hx"], c["hy"])
        moved = np.hypot(brute_delta(c["x"] - x0, p.width), brute_delta(c["y"] - y0, p.height))
        assert np.allclose(moved, p.speed * h, atol=1e-9)
        steered = (c["hx"] != hx0) | (c["hy"] != hy0)  # had neighbours: |d| = 1
        assert np.allclose(h[steered], 1.0, atol=1e-12)
        assert (h <= np.sqrt(2) + 1e-12).all()  # lonely boids keep Mesa's initial |d|
    assert steered.mean() > 0.5


# ---- every model -----------------------------------------------------------------------------


@pytest.mark.parametrize("name, agents", [("wealth", 30_000), ("schelling", 30_000),
                                          ("boids", 30_000)])
def test_same_digest_with_one_and_every_thread(name, agents):
    digests = set()
    for th in sorted({1, numba.config.NUMBA_NUM_THREADS}):
        w = MODELS[name].world(agents, seed=11, threads=th)
        w.run(4, stats=False)
        digests.add(w.state_digest())
    assert len(digests) == 1 and numba.config.NUMBA_NUM_THREADS > 1


# ---- against Mesa ----------------------------------------------------------------------------

# (agents, steps, params, seeds): Mesa's default sizes. The statistics of one run are
# random; we compare the means over S seeds of ours and Mesa's with the standard error
# of their difference, se = sqrt(var_ours / S + var_mesa / S). Under "same model" the
# z = (mean_ours - mean_mesa) / se is about N(0, 1); |z| < 4 fails a correct model with
# probability ~6e-5 while a real difference shows: the synchronous wealth rule we first
# wrote gave Gini 0.40 against Mesa's 0.66, z = -17. Where both sides are (nearly)
# constant across seeds (everyone happy), se is replaced by a floor of 0.01.
MESA_CASES = {
    "wealth": (100, 100, {"width": 10, "height": 10}, 10),
    "schelling": (320, 3, {"width": 20, "height": 20}, 12),
    "boids": (100, 50, {"width": 100.0, "height": 100.0}, 8),
}


@pytest.mark.mesa_statistics
@pytest.mark.skipif(not mesa_available(),
                    reason="mesa is not installed (pip install dod_sim[bench])")
@pytest.mark.parametrize("name", list(MESA_CASES))
def test_statistics_agree_with_mesa(name):
    import warnings

    agents, steps, params, seeds = MESA_CASES[name]
    seeds = mesa_seeds(seeds)
    ours, theirs = [], []
    for seed in range(seeds):
        w = MODELS[name].world(agents, seed=seed, **params)
        w.run(steps, stats=False)
        ours.append(w.stats())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m = mesa_model(name, agents, seed=seed, **params)
            for _ in range(steps):
                m.step()
        theirs.append(mesa_stats(name, m))
    for key in ours[0]:
        a = np.array([o[key] for o in ours])
        b = np.array([t[key] for t in theirs])
        se = max(np.sqrt(a.var(ddof=1) / seeds + b.var(ddof=1) / seeds), 0.01)
        z = (a.mean() - b.mean()) / se
        assert abs(z) < 4, f"{name} {key}: ours {a.mean():.4f} Mesa {b.mean():.4f} z={z:.2f}"
