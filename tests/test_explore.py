"""The explorer (dod_sim.explore): sliders from declared ranges, a live parameter changes
the running world, any other builds a new one, step / play / pause / reset, and a frame
that changes with the world. Headless: ipywidgets needs no front end to be driven."""

import time

import numpy as np
import pytest

from dod_sim import ConfigError, ModelWorld
from dod_sim.model import Column, Model, Range, Rows

pytest.importorskip("ipywidgets")
pytest.importorskip("matplotlib")

from dod_sim.explore import Explorer  # noqa: E402


@pytest.fixture
def boids():
    ex = Explorer("boids", 300, threads=1, seed=2)
    yield ex
    ex.pause()


def test_sliders_follow_the_declared_ranges(boids):
    assert set(boids._sliders) == {"speed", "vision", "separation"}
    s = boids._sliders["vision"]
    assert (s.min, s.max, s.step, s.value) == (1, 50, 1, 10)
    notes = boids.widget.children[2].value
    assert "no slider (no declared range): width, height, cohere, separate, match" in notes
    assert "speed: live" in notes and "vision: new world" in notes


def test_step_redraws_a_changed_world(boids):
    first = boids._image.value
    boids.step(4)
    assert boids.world.tick == 4 and len(boids._history["tick"]) == 5
    assert boids._image.value != first and boids._image.value[:4] == b"\x89PNG"


def test_a_live_slider_changes_the_running_world_another_builds_a_new_one(boids):
    boids.step(3)
    boids._sliders["speed"].value = 4  # as a person moves it
    assert boids.world.params.speed == 4.0 and boids.world.tick == 3
    digest = boids.world.state_digest()
    boids._sliders["vision"].value = 20
    assert boids.world.params.vision == 20.0 and boids.world.tick == 0
    assert boids.world.params.speed == 4.0 and boids.world.state_digest() != digest
    from dod_sim.models import boids as module

    ref = module.world(300, seed=2, threads=1, speed=4.0, vision=20.0)
    assert boids.world.state_digest() == ref.state_digest()


def test_play_and_pause(boids):
    boids.play()
    deadline = time.monotonic() + 60
    while boids.world.tick < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    boids.pause()
    tick = boids.world.tick
    assert tick >= 3 and not boids._play.value
    time.sleep(0.3)
    assert boids.world.tick == tick
    boids.reset()
    assert boids.world.tick == 0


def test_set_params_checks_liveness_and_range():
    from dod_sim.models import boids

    w = ModelWorld(boids.MODEL, 50, seed=1, threads=1)
    with pytest.raises(ConfigError, match="not declared live") as e:
        w.set_params(vision=5.0)
    assert e.value.field == "vision"
    with pytest.raises(ConfigError, match="outside its range") as e:
        w.set_params(speed=50.0)
    assert e.value.field == "speed" and e.value.bound == (1, 20)
    with pytest.raises(ConfigError, match="unknown parameter"):
        w.set_params(nope=1)
    w.set_params(speed=2.0)
    assert w.params.speed == 2.0


def _walk(i, key, p, x):
    return x


@pytest.mark.parametrize("ranges, match", [
    ({"n": (0, 10, 1)}, "must be numbers for a numeric parameter"),
    ({"rate": (0.5, 1.0, 0.1)}, "must hold the default"),
    ({"rate": (0.0, 1.0, 0.0)}, "step > 0"),
    ({"count": (0, 10, 0.5)}, "whole numbers"),
    ({"rate": 0.5}, "must be a Range"),
])
def test_bad_ranges_are_refused(ranges, match):
    from numba import njit

    with pytest.raises(ConfigError, match=match) as e:
        Model("test_bad_ranges", params={"rate": 0.2, "count": 3, "flag": True},
              columns=[Column("x", np.float64, 0.0)],
              systems=[Rows("walk", njit(_walk), reads=("x",), writes=("x",))],
              ranges=ranges)
    assert e.value.field == f"ranges.{next(iter(ranges))}"
