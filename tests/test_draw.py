"""dod_sim.draw: every model can be drawn; the picture is not blank and changes after a
step; large worlds are one image; animations play without ffmpeg and save as GIFs."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from numba import njit  # noqa: E402
import pytest  # noqa: E402
from test_population import LIFE  # noqa: E402
from test_tables import PREY  # noqa: E402

from dod_sim import Config, World  # noqa: E402
from dod_sim.draw import MAX_MARKERS, animate, image, plot  # noqa: E402
from dod_sim.errors import ConfigError  # noqa: E402
from dod_sim.kernels.rng import uniform  # noqa: E402
from dod_sim.model import Column, Model, ModelWorld  # noqa: E402
from dod_sim.models import MODELS, boids, schelling, tileworld, wealth  # noqa: E402


def image_of(ax) -> np.ndarray:
    """The axes' one image as floats, NaN where empty (matplotlib masks NaN)."""
    return np.ma.filled(ax.images[0].get_array().astype(np.float64), np.nan)


def pixels(ax) -> np.ndarray:
    fig = ax.figure
    fig.canvas.draw()
    image = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
    plt.close(fig)
    return image


def worlds():
    busy = {"virus": {"initial_outbreak_size": 30}}  # one case can stay put for a while
    for name, module in MODELS.items():  # every reference model
        yield name, module.world(300, seed=1, threads=1, **busy.get(name, {}))
    yield "tileworld model", tileworld.world(300, seed=1, side=64, tile_updates=4)
    yield "World", World(Config(agents=300, side=64, tile_updates=4, seed=1))
    yield "dynamic", ModelWorld(LIFE, 300, seed=1, capacity=1200)
    yield "two tables", ModelWorld(PREY, {"sheep": 200, "wolves": 30}, seed=1,
                                   capacity={"sheep": 2000, "wolves": 300})


@pytest.mark.parametrize("name, world", list(worlds()), ids=[n for n, _ in worlds()])
def test_every_model_draws_a_picture_that_changes_after_a_step(name, world):
    before = pixels(plot(world, title=""))
    assert before.std() > 5  # not blank
    world.run(3) if isinstance(world, World) else world.run(3, stats=False)
    after = pixels(plot(world, title=""))
    assert (before != after).any(), name


@pytest.mark.parametrize("name, world", list(worlds()), ids=[n for n, _ in worlds()])
def test_every_model_has_an_image_without_matplotlib_that_changes_after_a_step(name, world):
    # draw.image: what the web explorer sends, one value a pixel, NaN where no agent is
    before, (lo, hi) = image(world)
    shown = before[~np.isnan(before)]
    assert shown.size and lo <= shown.min() and shown.max() <= hi and lo <= hi
    if name in ("wolf_sheep", "two tables"):  # several tables: coloured by table
        assert set(np.unique(shown)) <= {0.0, 1.0}
    world.run(3) if isinstance(world, World) else world.run(3, stats=False)
    after, _ = image(world)
    assert not np.array_equal(before, after, equal_nan=True), name


def test_only_live_rows_are_drawn():
    w = ModelWorld(LIFE, 200, seed=1, capacity=1000)
    w.run(5)
    ax = plot(w, color="energy")  # no space: one square a row, free rows empty
    image = image_of(ax)
    assert np.isfinite(image).sum() == w.live
    live = np.flatnonzero(w.columns["alive"] == 1)
    side = image.shape[1]
    assert (image[live // side, live % side] == w.columns["energy"][live]).all()
    plt.close(ax.figure)


def test_a_large_world_is_one_image_whose_pixels_hold_column_means():
    w = boids.world(MAX_MARKERS + 1, seed=2)
    ax = plot(w, color="hx")
    assert not ax.collections and len(ax.images) == 1
    image = image_of(ax)
    cols = w.columns
    assert np.nanmin(image) >= cols["hx"].min() - 1e-9
    assert np.nanmax(image) <= cols["hx"].max() + 1e-9
    assert np.isfinite(image).sum() > 10_000  # 20,001 agents over 512 x 512 pixels
    plt.close(ax.figure)


def test_a_grid_raster_puts_each_agent_in_its_square():
    w = schelling.world(300, seed=3)
    ax = plot(w, color="kind", raster=True)
    image = image_of(ax)
    cols = w.columns
    assert image.shape == (w.params.height, w.params.width)
    assert (image[cols["y"], cols["x"]] == cols["kind"]).all()
    assert np.isnan(image).sum() == w.params.width * w.params.height - 300
    plt.close(ax.figure)


def test_animation_plays_as_html_and_saves_a_gif(tmp_path):
    w = boids.world(200, seed=1)
    anim = animate(w, 4, every=2)
    html = anim.to_jshtml()
    assert html.count("data:image/png;base64") == 4
    assert w.tick == 6  # three advances of two ticks after the first frame
    anim = animate(boids.world(200, seed=1), 3)
    anim.save(tmp_path / "run.gif", writer="pillow")
    assert (tmp_path / "run.gif").read_bytes()[:6] in (b"GIF89a", b"GIF87a")


@pytest.mark.parametrize("kw, field", [
    (dict(color="nope"), "color"),
    (dict(size="nope"), "size"),
    (dict(layer="nope"), "layer"),
])
def test_what_the_world_lacks_is_refused_naming_the_argument(kw, field):
    with pytest.raises(ConfigError) as e:
        plot(wealth.world(100, seed=1), **kw)
    assert e.value.field == field
    plt.close("all")


def test_bad_animation_arguments_are_refused():
    with pytest.raises(ConfigError) as e:
        animate(boids.world(50), 0)
    assert e.value.field == "frames"


@njit
def _anywhere(i, key, p):
    return 10.0 * uniform(key, 0)


HERD = Model("test_herd", dynamic=True, params={"width": 10.0, "height": 10.0},
             columns=[Column(c, np.float64, _anywhere, table=t)
                      for t in ("sheep", "wolves") for c in ("x", "y", "energy")])


def test_each_table_gets_its_own_markers_and_only_its_live_rows():
    w = ModelWorld(HERD, {"sheep": 200, "wolves": 30}, seed=1,
                   capacity={"sheep": 400, "wolves": 60})
    ax = plot(w, color="energy")
    sheep, wolves = ax.collections
    assert len(sheep.get_offsets()) == w.live_of("sheep") == 200
    assert len(wolves.get_offsets()) == w.live_of("wolves") == 30
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["sheep", "wolves"]
    assert not np.array_equal(sheep.get_paths()[0].vertices,  # different markers
                              wolves.get_paths()[0].vertices)
    ax = plot(w, table="wolves")
    assert len(ax.collections) == 1
    with pytest.raises(ConfigError) as e:
        plot(w, table="goats")
    assert e.value.field == "table"
    plt.close("all")
