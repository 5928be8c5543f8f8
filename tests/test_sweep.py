"""Batch sweeps: grid expansion, parallel and Dask runs equal in-process runs, results
that survive a failed run, thread shares, the ``dod-sim sweep`` command line."""

import json
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

from dod_sim import Config, ConfigError, World, runtime
from dod_sim.sweep import (
    SweepRunError,
    SweepWarning,
    cli_main,
    expand,
    plan_threads,
    read_results,
    sweep,
    thread_share,
    to_table,
)

BASE = Config(agents=200, side=128, tile_updates=8)
GRID = {"send_rate": [0.2, 0.5], "seed": [0, 1, 2, 3]}
TICKS = 20
# Figures that depend only on the config, not on timing, threads or the process.
DETERMINISTIC = ("state_digest", "agents", "ticks", "messages_sent", "messages_delivered",
                 "messages_deferred", "messages_undeliverable", "messages_retried",
                 "messages_discarded", "messages_lost", "tiles_rejected", "tiles_tampered",
                 "tags_rejected", "tags_tampered", "config_digest")


def _figures(row):
    return {k: row[k] for k in DETERMINISTIC}


@pytest.fixture(scope="module")
def reference():
    """The 8 worlds of GRID run one by one in this process, keyed by run index (the
    order is written out here, independently of ``expand``)."""
    out = {}
    i = 0
    for rate in GRID["send_rate"]:
        for seed in GRID["seed"]:
            cfg = BASE.replace(send_rate=rate, seed=seed)
            w = World(cfg)
            s = w.run(TICKS).summary()
            row = {**s, "state_digest": w.state_digest(),
                   "config_digest": cfg.replace(ticks=TICKS).digest()}
            out[i] = _figures(row)
            i += 1
    return out


def _rows(table):
    return {int(r["run"]): r for r in table.to_dict("records")}


# ---- expansion and validation ------------------------------------------------------------


def test_grid_is_the_cartesian_product_in_order():
    configs, names = expand({**GRID, "mailbox": 64}, BASE)
    assert names == ["send_rate", "seed", "mailbox"]
    assert [(c.send_rate, c.seed) for c in configs] == [
        (r, s) for r in (0.2, 0.5) for s in range(4)]
    assert all(c.mailbox == 64 and c.agents == 200 for c in configs)
    # numpy values and ranges work; numpy scalars become Python numbers
    configs, _ = expand({"seed": np.arange(3), "send_rate": np.linspace(0, 1, 2)}, BASE)
    assert [(c.seed, c.send_rate) for c in configs] == [
        (s, r) for s in range(3) for r in (0.0, 1.0)]
    assert type(configs[0].seed) is int


def test_an_iterable_of_configs_and_overrides():
    configs, names = expand([BASE.replace(seed=5), {"send_rate": 0.1}, {"mailbox": 8}], BASE)
    assert [c.seed for c in configs] == [5, 0, 0]
    assert configs[1].send_rate == 0.1 and configs[2].mailbox == 8
    assert names == ["mailbox", "send_rate", "seed"]  # Config field order


@pytest.mark.parametrize("grid, run, field", [
    ({"send_rate": [0.5, 1.5]}, 1, "send_rate"),
    ({"seed": [0, 1], "side": [128, 100]}, 1, "side"),
    ({"bogus": [1, 2]}, None, "bogus"),
    ([{"seed": 1}, {"agents": -1}], 1, "agents"),
    ([{"seed": 1}, {"sead": 2}], 1, "sead"),
])
def test_a_bad_config_names_the_run_and_field_before_anything_runs(tmp_path, grid, run, field):
    out = tmp_path / "r.jsonl"
    with pytest.raises(ConfigError) as info:
        sweep(grid, 5, base=BASE, results=out)
    assert info.value.field == field and info.value.run == run
    assert (f"run {run}" if run is not None else "grid") in str(info.value)
    assert not out.exists()


def test_bad_arguments():
    with pytest.raises(ConfigError, match="ticks"):
        sweep(GRID, -1, base=BASE)
    with pytest.raises(ConfigError, match="n_jobs"):
        sweep(GRID, 5, base=BASE, n_jobs=0)
    with pytest.raises(ConfigError, match="resume"):
        sweep(GRID, 5, base=BASE, resume=True)
    with pytest.raises(ConfigError, match="no values"):
        expand({"seed": []})


# ---- threads ------------------------------------------------------------------------------


def test_thread_share_keeps_workers_times_threads_within_the_cores():
    assert thread_share(1, cores=8) == 8
    assert thread_share(2, cores=8) == 4
    assert thread_share(3, cores=8) == 2
    assert thread_share(16, cores=8) == 1
    for workers in range(1, 9):
        assert workers * thread_share(workers, cores=8) <= 8
    assert plan_threads(None, 4) == (4, False)
    assert plan_threads(2, 4) == (2, False)
    assert plan_threads(64, 4) == (4, True)


def test_an_explicit_thread_count_is_capped_and_noted():
    with pytest.warns(SweepWarning, match=r"runs \[1\]"):
        t = sweep([BASE.replace(threads=1), BASE.replace(threads=1000, seed=1)], 5)
    assert list(t["threads"]) == [1, runtime.default_threads()]
    assert list(t["threads_capped"]) == [False, True]


# ---- parallel runs equal in-process runs --------------------------------------------------


@pytest.mark.slow
def test_parallel_sweep_equals_in_process_runs(tmp_path, reference):
    out = tmp_path / "runs.jsonl"
    seen = []
    table = sweep(GRID, TICKS, base=BASE, n_jobs=2, results=out,
                  progress=lambda done, total, row: seen.append((done, total)))
    assert list(table["run"]) == list(range(8))
    assert list(table["send_rate"]) == [0.2] * 4 + [0.5] * 4
    assert list(table["seed"]) == [0, 1, 2, 3] * 2
    rows = _rows(table)
    for i, want in reference.items():
        assert _figures(rows[i]) == want, f"run {i}"
    assert seen[-1] == (8, 8)
    cores = runtime.default_threads()
    assert set(table["threads"]) == {thread_share(min(2, cores))}
    if cores >= 2:
        assert os.getpid() not in set(table["worker"])  # ran in worker processes
    # every row was saved, and reads back as the same table
    back = read_results(out)
    assert len(out.read_text().splitlines()) == 8
    assert list(back.columns) == list(table.columns)
    for i, r in _rows(back).items():
        assert _figures(r) == reference[i]


@pytest.mark.slow
def test_dask_sweep_equals_in_process_runs(reference):
    distributed = pytest.importorskip("distributed", reason="dask.distributed not installed")
    import joblib

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # distributed's own deprecations and port notices
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                           host="127.0.0.1", dashboard_address=None)
    try:
        with distributed.Client(cluster) as client, joblib.parallel_config(backend="dask"):
            table = sweep(GRID, TICKS, base=BASE, n_jobs=-1)
            dask_pids = set(client.run(os.getpid).values())
    finally:
        cluster.close()
    assert set(table["worker"]) <= dask_pids  # ran in the Dask worker processes
    assert list(table["run"]) == list(range(8))
    for i, r in _rows(table).items():
        assert _figures(r) == reference[i], f"run {i}"
    assert set(table["threads"]) == {thread_share(2)}


# ---- failures, torn lines, resume -------------------------------------------------------------


def _failing_configs():
    """Runs 0-2 and 4 are fine; run 3 exhausts its 256-byte arena in the first tick."""
    configs = [BASE.replace(seed=s) for s in range(5)]
    configs[3] = configs[3].replace(arena_bytes=256)
    return configs


def test_a_failing_run_keeps_the_finished_rows(tmp_path):
    out = tmp_path / "runs.jsonl"
    with pytest.raises(SweepRunError) as info:
        sweep(_failing_configs(), TICKS, results=out)  # in order, in this process
    err = info.value
    assert err.run == 3 and err.error == "ArenaExhausted" and err.field == "arena_bytes"
    assert "sweep run 3 failed" in str(err)
    t = read_results(out)
    assert list(t["run"]) == [0, 1, 2]
    assert (t["messages_lost"] == 0).all() and t["state_digest"].str.len().eq(64).all()

    # a run cut off mid-write leaves a torn last line: ignored
    with open(out, "a") as f:
        f.write('{"run": 4, "seed": 4, "messages_se')
    assert list(read_results(out)["run"]) == [0, 1, 2]

    # resume: the three finished runs are kept as they are, the others run
    before = _rows(t)
    fixed = _failing_configs()
    fixed[3] = fixed[3].replace(arena_bytes=None)
    t2 = sweep(fixed, TICKS, results=out, resume=True)
    assert list(t2["run"]) == [0, 1, 2, 3, 4]
    rows2 = _rows(t2)
    for i in range(3):
        assert rows2[i]["wall_s"] == before[i]["wall_s"]
        assert rows2[i]["state_digest"] == before[i]["state_digest"]
    lines = out.read_text().splitlines()
    assert len(lines) == 5 and all(json.loads(ln)["run"] == i for i, ln in enumerate(lines))

    # a corrupt line before the last one is an error, not silently skipped
    out.write_text(lines[0] + "\nnot json\n" + lines[1] + "\n")
    with pytest.raises(ValueError, match="line 2"):
        read_results(out)


@pytest.mark.slow
def test_a_failure_in_a_worker_process_reaches_the_parent(tmp_path):
    # Runs 0-3 take 20 ticks; run 4, the last one dispatched, exhausts its arena only
    # after ~8,000 ticks (half a second or more). With two workers, run 4 starts once
    # three of the others have finished, and the fourth finishes long before run 4
    # fails, so all four are in the results file when the failure reaches the parent.
    configs = [BASE.replace(seed=s, ticks=TICKS) for s in range(4)]
    configs.append(BASE.replace(seed=4, ticks=10**6, epoch_ticks=10**6, arena_bytes=8 << 20))
    out = tmp_path / "runs.jsonl"
    with pytest.raises(SweepRunError) as info:
        sweep(configs, None, results=out, n_jobs=2)
    assert info.value.run == 4 and info.value.error == "ArenaExhausted"
    assert info.value.field == "arena_bytes"
    # whatever finished was saved whole, and is the run it says it is
    lines = out.read_text().splitlines()
    assert sorted(json.loads(ln)["run"] for ln in lines) == [0, 1, 2, 3]
    rows = _rows(read_results(out))
    for i in range(4):
        w = World(configs[i])
        s = w.run(TICKS).summary()
        assert rows[i]["state_digest"] == w.state_digest(), i
        assert rows[i]["messages_sent"] == s["messages_sent"] and rows[i]["messages_lost"] == 0


# ---- the table without pandas ---------------------------------------------------------------


def test_to_table_without_pandas_is_a_dict_of_numpy_columns():
    rows = [{"run": 2, "seed": 2, "x": 1.5, "d": "ab"}, {"run": 0, "seed": 0, "x": 0.5, "d": "cd"},
            {"run": 1, "seed": 1, "d": "ef"}]
    t = to_table(rows, pandas=False)
    assert list(t) == ["run", "seed", "x", "d"]
    assert t["run"].tolist() == [0, 1, 2] and t["seed"].dtype.kind == "i"
    assert t["d"].tolist() == ["cd", "ef", "ab"]
    assert t["x"].dtype == object and t["x"].tolist() == [0.5, None, 1.5]
    assert to_table([], pandas=False)["run"].shape == (0,)


# ---- command line ------------------------------------------------------------------------------


GRID_TOML = """
[base]
agents = 200
side = 128
tile_updates = 8

[grid]
send_rate = [0.2, 0.5]
seed = [0, 1]
"""


def test_cli_runs_a_toml_grid(tmp_path, capsys, reference):
    grid = tmp_path / "grid.toml"
    grid.write_text(GRID_TOML)
    out = tmp_path / "runs.jsonl"
    assert cli_main([str(grid), "--ticks", str(TICKS), "--out", str(out), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["run"] for r in rows] == [0, 1, 2, 3]
    assert [(r["send_rate"], r["seed"]) for r in rows] == [(0.2, 0), (0.2, 1), (0.5, 0), (0.5, 1)]
    for r, i in zip(rows, (0, 1, 4, 5), strict=True):
        assert _figures(r) == reference[i]
    assert len(read_results(out)) == 4

    assert cli_main([str(grid), "--ticks", "3"]) == 0
    text = capsys.readouterr().out.splitlines()
    assert len(text) == 5
    assert text[0].split()[:3] == ["run", "send_rate", "seed"] and "messages_lost" in text[0]


@pytest.mark.parametrize("content, words", [
    ("[grid\nseed = [1]", "bad TOML"),
    ("[grid]\nseeds = [1, 2]", "unknown Config field 'seeds'"),
    ("[base]\nagents = 10\ncapacity = 5", "agents=10 exceeds capacity=5"),
    ("[grid]\nsend_rate = [0.5, 2.0]", "run 1"),
    ("[sweep]\nx = 1", "unknown key(s) sweep"),
])
def test_cli_bad_grid_is_one_line_and_status_2(tmp_path, capsys, content, words):
    grid = tmp_path / "grid.toml"
    grid.write_text(content)
    assert cli_main([str(grid), "--ticks", "2"]) == 2
    err = capsys.readouterr().err
    assert words in err and err.startswith("dod-sim: error:")
    assert len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_cli_as_a_module_reports_a_missing_file(tmp_path):
    p = subprocess.run([sys.executable, "-m", "dod_sim.sweep", str(tmp_path / "nope.toml")],
                       capture_output=True, text=True, check=False)
    assert p.returncode == 2
    assert "nope.toml" in p.stderr and "Traceback" not in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1
    p = subprocess.run([sys.executable, "-m", "dod_sim.sweep", "g.toml", "--jobs", "0"],
                       capture_output=True, text=True, check=False)
    assert p.returncode == 2 and "--jobs must not be 0" in p.stderr


def test_dod_sim_sweep_subcommand(tmp_path, capsys):
    from dod_sim import cli

    grid = tmp_path / "grid.toml"
    grid.write_text(GRID_TOML)
    assert cli.main(["sweep", str(grid), "--ticks", "3", "--json"]) == 0
    assert [r["run"] for r in json.loads(capsys.readouterr().out)] == [0, 1, 2, 3]
    grid.write_text("[grid]\nseeds = [1]")
    assert cli.main(["sweep", str(grid)]) == 2
    err = capsys.readouterr().err
    assert "unknown Config field 'seeds'" in err and len(err.strip().splitlines()) == 1
