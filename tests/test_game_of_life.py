"""Conway's Game of Life (dod_sim.models.game_of_life) against Mesa 3.3.1's own example,
cell for cell after every step, and the checks that show such a comparison can fail."""

import numpy as np
import pytest

from dod_sim.bench_models import _mesa_examples, mesa_available
from dod_sim.errors import ConfigError
from dod_sim.models import game_of_life as gol

needs_mesa = pytest.mark.skipif(not mesa_available(),
                                reason="mesa is not installed (pip install dod_sim[bench])")
# Mesa's grid warns that no random generator was passed to it (it uses none for Life)
pytestmark = pytest.mark.filterwarnings("ignore:Random number generator not specified")

STEPS = 25


def mesa_life(width, height, seed, fraction=0.2):
    _mesa_examples()
    from mesa.examples.basic.conways_game_of_life.model import ConwaysGameOfLife

    return ConwaysGameOfLife(width=width, height=height, initial_fraction_alive=fraction,
                             seed=seed)


def mesa_states(m):
    """Mesa's cell states as int8[width * height], row y * width + x."""
    width, height = m.grid.width, m.grid.height
    s = np.full(width * height, -1, np.int8)
    for a in m.agents:
        s[a.y * width + a.x] = a.state
    assert (s >= 0).all()  # one agent per cell
    return s


def first_mismatch(m, step, steps=STEPS):
    """The first step (1-based) after which ``step()`` (our next states, row order)
    differs from Mesa's model ``m`` stepped alongside; None when every step agrees."""
    for t in range(1, steps + 1):
        m.step()
        if not np.array_equal(step(), mesa_states(m)):
            return t
    return None


def world_stepper(w):
    def step():
        w.run(1, stats=False)
        return w.columns["state"].copy()
    return step


def reference_step(a):
    """A numpy synchronous step on the (height, width) torus, width and height >= 3."""
    n = sum(np.roll(a, (dy, dx), axis=(0, 1)) for dy in (-1, 0, 1) for dx in (-1, 0, 1)
            if dx or dy)
    return ((n == 3) | ((a == 1) & (n == 2))).astype(np.int8)


# ---- 1. exact equality with Mesa ------------------------------------------------------------


@needs_mesa
@pytest.mark.parametrize("width,height,seed,fraction", [
    (50, 50, 1, 0.2), (50, 50, 2, 0.2), (50, 50, 3, 0.2),  # Mesa's defaults
    (37, 23, 4, 0.2), (20, 64, 5, 0.5), (3, 9, 6, 0.4),
])
def test_every_cell_equals_mesa_after_every_step(width, height, seed, fraction):
    m = mesa_life(width, height, seed, fraction)
    start = mesa_states(m)
    assert 0 < start.sum() < start.size
    w = gol.world(width * height, seed=seed, width=width, height=height,
                  initial_fraction_alive=fraction, initial=start)
    assert np.array_equal(w.columns["state"], start)
    changed = 0
    for t in range(1, STEPS + 1):
        before = w.columns["state"].copy()
        m.step()
        row = w.run(1)
        ours, theirs = w.columns["state"], mesa_states(m)
        assert np.array_equal(ours, theirs), f"step {t}: {np.flatnonzero(ours != theirs)}"
        assert row["alive_cells"][0] == theirs.sum()
        assert row["fraction_alive"][0] == pytest.approx(theirs.mean(), abs=1e-12)
        changed += int((ours != before).sum())
    assert changed > 0  # something happened to compare


@needs_mesa
def test_a_2d_initial_is_indexed_y_then_x():
    m = mesa_life(31, 17, seed=8)
    start = mesa_states(m).reshape(17, 31)  # [y, x]
    w = gol.world(initial=start, seed=8)  # width and height from the shape
    assert (w.params.width, w.params.height) == (31, 17)
    assert first_mismatch(m, world_stepper(w)) is None


@needs_mesa
@pytest.mark.parametrize("width,height", [(1, 1), (1, 4), (4, 1), (2, 2), (2, 5), (5, 2),
                                          (3, 1), (2, 3)])
def test_small_tori_count_each_distinct_neighbour_once_as_mesa(width, height):
    # On a torus narrower or lower than 3 the 8 offsets wrap onto fewer cells (the cell
    # itself when a side is 1); Mesa's neighbourhood is a dict of cells: each once.
    for seed in range(6):
        m = mesa_life(width, height, seed, fraction=0.6)
        w = gol.world(seed=seed, width=width, height=height, initial=mesa_states(m))
        assert first_mismatch(m, world_stepper(w), steps=8) is None, seed


# ---- 2. the comparison rejects wrong updates -----------------------------------------------


def sequential_in_place(state, width, height):
    """Wrong on purpose: each cell in turn (row order) writes its new state at once, so
    later cells see their earlier neighbours' new states (no determine/assume split)."""
    s = state.copy()

    def step():
        for i in range(width * height):
            x, y = i % width, i // width
            live = sum(s[((y + dy) % height) * width + (x + dx) % width]
                       for dx in (-1, 0, 1) for dy in (-1, 0, 1) if dx or dy)
            s[i] = 1 if live == 3 or (s[i] == 1 and live == 2) else 0
        return s.copy()
    return step


def synchronous(state, width, height, torus=True, distinct=True):
    """Plain Python: right with the defaults; ``torus=False`` drops the wrapped
    neighbours, ``distinct=False`` counts a cell reached by two offsets twice."""
    s = state.copy()

    def step():
        nonlocal s
        new = np.empty_like(s)
        for i in range(width * height):
            x, y = i % width, i // width
            cells = []
            for dx in (-1, 0, 1):
                for dy in (-1, 0, 1):
                    nx, ny = x + dx, y + dy
                    if not (dx or dy):
                        continue
                    if not torus and not (0 <= nx < width and 0 <= ny < height):
                        continue
                    cells.append((ny % height) * width + nx % width)
            if distinct:
                cells = list(dict.fromkeys(cells))
            live = sum(int(s[c]) for c in cells)
            new[i] = 1 if live == 3 or (s[i] == 1 and live == 2) else 0
        s = new
        return s.copy()
    return step


@needs_mesa
def test_the_comparison_rejects_an_in_place_sequential_update():
    for seed in (1, 2):
        m = mesa_life(50, 50, seed)
        assert first_mismatch(m, sequential_in_place(mesa_states(m), 50, 50)) == 1
        m = mesa_life(50, 50, seed)  # the same comparison accepts the synchronous rule
        assert first_mismatch(m, synchronous(mesa_states(m), 50, 50), steps=5) is None


@needs_mesa
def test_the_comparison_rejects_a_bounded_grid_and_double_counting():
    m = mesa_life(12, 12, seed=3, fraction=0.4)
    assert first_mismatch(m, synchronous(mesa_states(m), 12, 12, torus=False)) is not None
    found = 0
    for seed in range(6):  # on a small torus, counting each offset is wrong too
        m = mesa_life(2, 5, seed, fraction=0.6)
        found += first_mismatch(m, synchronous(mesa_states(m), 2, 5, distinct=False),
                                steps=8) is not None
        m = mesa_life(2, 5, seed, fraction=0.6)
        assert first_mismatch(m, synchronous(mesa_states(m), 2, 5), steps=8) is None
    assert found > 0


# ---- 3. threads ------------------------------------------------------------------------------


def test_same_digest_on_1_and_2_threads_and_the_numpy_rule():
    side = 200  # 40,000 rows: 40 chunks of 1,024
    worlds = [gol.world(side * side, seed=9, threads=k) for k in (1, 2)]
    start = worlds[0].columns["state"].reshape(side, side).copy()
    assert np.array_equal(start.ravel(), worlds[1].columns["state"])
    assert worlds[0].state_digest() == worlds[1].state_digest()
    tables = [w.run(30) for w in worlds]
    assert worlds[0].state_digest() == worlds[1].state_digest()
    assert np.array_equal(tables[0]["alive_cells"], tables[1]["alive_cells"])
    a = start
    for _ in range(30):
        a = reference_step(a)
    assert np.array_equal(worlds[0].columns["state"], a.ravel())
    assert tables[0]["alive_cells"][-1] == a.sum()


# ---- the random initial state ----------------------------------------------------------------


def test_random_initial_state_has_mesas_distribution_and_follows_the_seed():
    n = 200 * 200
    s = gol.world(n, seed=1).columns["state"]
    assert set(np.unique(s)) <= {0, 1}
    assert abs(s.mean() - 0.2) < 4 * (0.2 * 0.8 / n) ** 0.5
    assert np.array_equal(s, gol.world(n, seed=1).columns["state"])
    assert not np.array_equal(s, gol.world(n, seed=2).columns["state"])
    assert gol.world(n, seed=1, initial_fraction_alive=0.0).columns["state"].sum() == 0
    assert gol.world(n, seed=1, initial_fraction_alive=1.0).columns["state"].sum() == n
    half = gol.world(n, seed=3, initial_fraction_alive=0.5).columns["state"].mean()
    assert abs(half - 0.5) < 4 * (0.25 / n) ** 0.5


def test_world_sizes_the_grid():
    w = gol.world()
    assert (w.params.width, w.params.height, w.agents) == (50, 50, 2500)  # Mesa's defaults
    assert (w.params.initial_fraction_alive, w.model.params["initial_fraction_alive"]) == (0.2, 0.2)
    assert (gol.world(10_000).params.width, gol.world(10_000).params.height) == (100, 100)
    w = gol.world(1000)
    assert (w.params.width, w.params.height) == (40, 25)
    w = gol.world(600, width=30)
    assert w.params.height == 20
    assert gol.grid_for(7) == (7, 1)


# ---- 4. known patterns -----------------------------------------------------------------------


def place(width, height, cells):
    a = np.zeros((height, width), np.int8)
    for x, y in cells:
        a[y % height, x % width] = 1
    return a


@pytest.mark.parametrize("at", [(5, 5), (0, 0), (49, 20)])  # across the edges too
def test_blinker_has_period_2(at):
    x0, y0 = at
    across = place(50, 50, [(x0 - 1, y0), (x0, y0), (x0 + 1, y0)])
    down = place(50, 50, [(x0, y0 - 1), (x0, y0), (x0, y0 + 1)])
    w = gol.world(initial=across)
    for t in range(1, 9):
        w.run(1)
        assert np.array_equal(w.columns["state"], (down if t % 2 else across).ravel()), t


def test_glider_moves_by_1_1_every_4_steps_on_the_torus():
    width, height = 10, 12
    glider = [(1, 0), (2, 1), (0, 2), (1, 2), (2, 2)]  # heads to +x, +y
    w = gol.world(initial=place(width, height, glider))
    for k in range(1, 25):  # 24 moves of (1, 1): across both edges twice
        table = w.run(4)
        assert np.array_equal(w.columns["state"],
                              place(width, height, [(x + k, y + k) for x, y in glider]).ravel()), k
        assert (table["alive_cells"] == 5).all()
    assert w.tick == 96


def test_still_life_and_empty_grid_stay():
    block = place(8, 8, [(3, 3), (4, 3), (3, 4), (4, 4)])
    w = gol.world(initial=block)
    w.run(5)
    assert np.array_equal(w.columns["state"], block.ravel())
    w = gol.world(initial=np.zeros(64, np.int8), width=8, height=8)
    assert w.run(3)["alive_cells"].tolist() == [0.0, 0.0, 0.0]


# ---- 5. bad parameters -----------------------------------------------------------------------


@pytest.mark.parametrize("kwargs,field", [
    ({"width": 0}, "width"),
    ({"height": -3}, "height"),
    ({"width": 2.5}, "width"),
    ({"width": True}, "width"),
    ({"width": 10, "height": 10, "agents": 99}, "agents"),
    ({"agents": 0}, "agents"),
    ({"initial_fraction_alive": 1.5}, "initial_fraction_alive"),
    ({"initial_fraction_alive": -0.1}, "initial_fraction_alive"),
    ({"radius": 2}, "radius"),
    ({"width": 5, "height": 4, "initial": np.zeros(21, np.int8)}, "initial"),
    ({"width": 5, "height": 4, "initial": np.zeros((5, 4), np.int8)}, "initial"),
    ({"width": 5, "height": 4, "initial": np.zeros((2, 2, 5), np.int8)}, "initial"),
    ({"width": 5, "height": 4, "initial": np.full(20, 2)}, "initial"),
    ({"width": 5, "height": 4, "initial": np.full(20, -1)}, "initial"),
    ({"width": 5, "height": 4, "initial": np.full(20, 0.5)}, "initial"),
    ({"width": 5, "height": 4, "initial": np.full(20, np.nan)}, "initial"),
    ({"width": 5, "height": 4, "initial": np.array(["1"] * 20)}, "initial"),
    ({"initial": np.zeros((0, 5), np.int8)}, "height"),
])
def test_bad_parameters_raise_config_error_naming_the_field(kwargs, field):
    kwargs = dict(kwargs)
    agents = kwargs.pop("agents", None)
    with pytest.raises(ConfigError) as e:
        gol.world(agents, **kwargs)
    assert e.value.field == field, e.value


def test_model_checks_agents_against_the_grid_directly():
    from dod_sim.model import ModelWorld

    with pytest.raises(ConfigError) as e:
        ModelWorld(gol.MODEL, 100)  # Mesa's default grid has 2,500 cells
    assert e.value.field == "agents"
    assert ModelWorld(gol.MODEL, 2500, seed=1).columns["state"].shape == (2500,)
