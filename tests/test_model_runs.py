"""Every service for every model: runs in batches with progress and stop, the CLI's
``run --model``, and model references (names, Model objects, module:attribute)."""

import json
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from dod_sim import ConfigError
from dod_sim.model import ModelWorld
from dod_sim.models import resolve, schelling, wealth


def test_batches_with_progress_equal_one_call():
    a = wealth.world(3000, seed=4, threads=1)
    b = wealth.world(3000, seed=4, threads=1)
    seen = []
    ta = a.run(25)
    tb = b.run(25, progress=lambda done, total: seen.append((done, total)), progress_every=7)
    assert seen == [(7, 25), (14, 25), (21, 25), (25, 25)]
    assert a.state_digest() == b.state_digest()
    for k in ta:
        assert np.array_equal(ta[k], tb[k]), k


def test_stop_ends_the_run_after_the_batch_in_progress():
    w = schelling.world(2000, seed=1, threads=1)
    stop = threading.Event()

    def progress(done, total):
        if done == 6:
            stop.set()
    table = w.run(50, progress=progress, progress_every=3, stop=stop)
    assert w.tick == 6 and table["step"].tolist() == [1, 2, 3, 4, 5, 6]
    ref = schelling.world(2000, seed=1, threads=1)
    ref.run(6)
    assert ref.state_digest() == w.state_digest()


@pytest.mark.parametrize("name", ["wealth", "schelling", "boids"])
def test_a_paced_run_reports_its_ticks_p99_and_cpu(name):
    from dod_sim.models import MODELS

    w = MODELS[name].world(500, seed=2, threads=1)
    t0 = time.perf_counter()
    table = w.run(12, tick_ms=5.0)
    elapsed = time.perf_counter() - t0
    r = w.last_report
    s = r.summary()
    assert len(table["step"]) == 12 and r.ticks == 12 and (r.tick_ns > 0).all()
    assert s["tick_ms"] == 5.0 and s["tick_p99_ms"] >= s["tick_p50_ms"] > 0
    assert 0 < s["cpu_percent"] and s["overruns"] >= 0
    assert elapsed >= 11 * 0.005  # paced: tick k starts no earlier than k periods in
    assert r.provenance["seed"] == 2 and r.provenance["config_digest"]
    ref = MODELS[name].world(500, seed=2, threads=1)
    ref.run(12)
    assert ref.state_digest() == w.state_digest()  # pacing changes no result


@pytest.mark.parametrize("kw, field", [
    (dict(progress_every=0), "progress_every"), (dict(progress_every=2.5), "progress_every"),
    (dict(progress=5), "progress"), (dict(stop=True), "stop"), (dict(tick_ms=-1), "tick_ms"),
])
def test_bad_run_arguments_name_the_argument(kw, field):
    w = wealth.world(100, seed=1, threads=1)
    with pytest.raises(ConfigError) as info:
        w.run(3, **kw)
    assert info.value.field == field and w.tick == 0


def test_resolve_names_objects_and_module_attributes(tmp_path, monkeypatch):
    assert resolve("wealth")[0] is wealth.MODEL
    assert resolve(wealth.MODEL)[0] is wealth.MODEL
    assert resolve("dod_sim.models.wealth:MODEL")[0] is wealth.MODEL
    model, make = resolve("dod_sim.models:schelling")  # a module with MODEL and world
    assert model is schelling.MODEL and make is schelling.world
    (tmp_path / "my_models.py").write_text(
        "from dod_sim.models.wealth import MODEL as M\nNOT_A_MODEL = 3\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    model, make = resolve("my_models:M")
    assert model is wealth.MODEL and isinstance(make(64, seed=1, threads=1), ModelWorld)
    for bad in ("nope", "my_models:NOT_A_MODEL", "no_such_module:X", "my_models:missing", 3):
        with pytest.raises(ConfigError) as info:
            resolve(bad)
        assert info.value.field == "model"


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "dod_sim.cli", "run", *args],
                          capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_cli_runs_a_model_with_parameters(tmp_path):
    snap = tmp_path / "w.snap"
    out = _cli("--model", "wealth", "--agents", "500", "--ticks", "12", "--seed", "3",
               "--param", "width=30", "--param", "height=20", "--threads", "1",
               "--snapshot", str(snap), "--json")
    assert out.returncode == 0, out.stderr
    s = json.loads(out.stdout)
    assert (s["model"], s["agents"], s["steps"], s["threads"]) == ("boltzmann_wealth", 500,
                                                                   12, 1)
    assert s["params"] == {"width": 30, "height": 20}
    ref = wealth.world(500, seed=3, threads=1, width=30, height=20)
    table = ref.run(12)
    assert s["state_digest"] == ref.state_digest()
    assert s["stats"]["gini"] == pytest.approx(table["gini"][-1])
    assert ModelWorld.restore(snap, wealth.MODEL).state_digest() == ref.state_digest()


@pytest.mark.slow
@pytest.mark.parametrize("args, words", [
    (("--model", "nope"), "is not a reference model"),
    (("--model", "wealth", "--param", "width=abc"), "must be an integer"),
    (("--model", "wealth", "--param", "colour=3"), "expected K=V with K one of"),
    (("--model", "wealth", "--agents", "0"), "agents=0"),
])
def test_cli_bad_model_input_is_one_line(args, words):
    out = _cli(*args)
    assert out.returncode == 2 and words in out.stderr
    assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) <= 2
