"""Sweeps over a model's parameters (dod_sim.sweep.sweep_model): rows equal serial runs,
seeds are repetitions, resume keeps finished runs, bad grids name the parameter."""

import numpy as np
import pytest

from dod_sim import ConfigError
from dod_sim.models import schelling, wealth
from dod_sim.sweep import read_results, sweep_model


def _serial(module, agents, seed, steps, **params):
    w = module.world(agents, seed=seed, threads=1, **params)
    table = w.run(steps)
    return w, table


def test_rows_equal_serial_runs_and_seeds_repeat():
    table = sweep_model("wealth", {"width": [8, 12], "seed": [1, 2, 3]}, steps=15,
                        agents=300)
    assert len(table) == 6 and table["run"].tolist() == list(range(6))
    assert table["seed"].tolist() == [1, 2, 3, 1, 2, 3]
    assert table["width"].tolist() == [8, 8, 8, 12, 12, 12]
    for row in table.to_dict("records"):
        w, t = _serial(wealth, 300, row["seed"], 15, width=row["width"])
        assert row["state_digest"] == w.state_digest()
        assert row["gini"] == pytest.approx(t["gini"][-1], abs=0)
    assert table["state_digest"].nunique() == 6


@pytest.mark.slow
def test_worker_processes_give_the_same_rows(tmp_path):
    grid = {"homophily": [0.3, 0.6], "seed": [5, 6]}
    serial = sweep_model("schelling", grid, steps=10, agents=400)
    par = sweep_model("dod_sim.models:schelling", grid, steps=10, agents=400, n_jobs=2,
                      results=tmp_path / "r.jsonl")
    assert par["state_digest"].tolist() == serial["state_digest"].tolist()
    assert np.array_equal(par["segregation"], serial["segregation"])
    back = read_results(tmp_path / "r.jsonl")
    assert back["state_digest"].tolist() == serial["state_digest"].tolist()


def test_resume_keeps_the_finished_runs(tmp_path):
    out = tmp_path / "r.jsonl"
    grid = {"seed": [1, 2, 3]}
    first = sweep_model("wealth", grid, steps=5, agents=200, results=out)
    lines = out.read_text().splitlines()
    out.write_text("\n".join(lines[:2]) + "\n")  # the third run never finished
    again = sweep_model("wealth", grid, steps=5, agents=200, results=out, resume=True)
    assert again["state_digest"].tolist() == first["state_digest"].tolist()
    assert again["worker"].tolist()[:2] == first["worker"].tolist()[:2]
    # another step count is another sweep: nothing kept
    other = sweep_model("wealth", grid, steps=6, agents=200, results=out, resume=True)
    assert not set(other["state_digest"]) & set(first["state_digest"])


@pytest.mark.parametrize("call, field", [
    (lambda: sweep_model("wealth", {"colour": [1]}, steps=3), "colour"),
    (lambda: sweep_model("wealth", {"agents": [0]}, steps=3), "agents"),
    (lambda: sweep_model("wealth", [1, 2], steps=3), "grid"),
    (lambda: sweep_model("wealth", {}, steps=None), "steps"),
    (lambda: sweep_model("nope", {}, steps=3), "model"),
    (lambda: sweep_model(schelling.MODEL.__class__("m", columns=()), {"seed": [1, 2]}, steps=1,
                         n_jobs=2),
     "model"),
])
def test_bad_sweeps_name_the_parameter_before_anything_runs(call, field):
    with pytest.raises(ConfigError) as info:
        call()
    assert info.value.field == field


def test_a_results_file_in_use_by_another_sweep_is_refused(tmp_path):
    import fcntl

    out = tmp_path / "r.jsonl"
    lock = tmp_path / ".r.jsonl.lock"  # where a sweep marks its results file in use
    with open(lock, "a") as held:  # another sweep writing to this file
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(ConfigError) as info:
            sweep_model("wealth", {"seed": [1]}, steps=2, agents=100, results=out)
        assert info.value.field == "results" and "another sweep" in str(info.value)
    table = sweep_model("wealth", {"seed": [1]}, steps=2, agents=100, results=out)
    assert len(table) == 1 and len(out.read_text().splitlines()) == 1


def test_resume_reruns_the_rows_another_engine_version_wrote(tmp_path):
    import json

    out = tmp_path / "r.jsonl"
    grid = {"seed": [1, 2]}
    sweep_model("wealth", grid, steps=5, agents=200, results=out)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    rows[0]["engine"] = "0.0.1+an-older-tree"  # as a file from an older engine reads
    rows[0]["state_digest"] = "stale"
    out.write_text("".join(json.dumps(r) + "\n" for r in rows))
    seen = []
    again = sweep_model("wealth", grid, steps=5, agents=200, results=out, resume=True,
                        progress=lambda done, total, row: seen.append(row["run"]))
    assert seen == [0]  # only the older row ran again
    assert "stale" not in set(again["state_digest"])
    assert len(set(again["engine"])) == 1
