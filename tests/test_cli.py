"""The dod-sim command line: a run's output, and one-line errors for bad input."""

import json
import subprocess
import sys

import pytest

from dod_sim.cli import main


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "dod_sim.cli", *args], capture_output=True,
                          text=True)


def test_run_json_has_the_summary(capsys):
    assert main(["run", "--agents", "200", "--ticks", "20", "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["agents"] == 200 and s["ticks"] == 20 and s["messages_lost"] == 0


def test_run_prints_the_figures(capsys):
    assert main(["run", "--agents", "100", "--ticks", "5", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "p99" in out and "lost 0" in out and "M agent-ticks/s" in out


@pytest.mark.parametrize("cold", [True, False])
def test_run_says_whether_it_compiles_and_how_threads_were_chosen(cold, capsys, monkeypatch):
    from dod_sim import precompile, runtime

    compiled = []
    monkeypatch.setattr(precompile, "tick_is_cold", lambda: cold)
    monkeypatch.setattr(precompile, "compile_units", lambda units: compiled.append(units))
    assert main(["run", "--agents", "3000", "--ticks", "5"]) == 0
    captured = capsys.readouterr()
    first = ("compiling kernels (first run only; later runs load them from the cache) ..."
             if cold else "loading kernels ...")
    assert captured.err.startswith(first) and " ready in " in captured.err
    assert compiled == ([precompile.PHASES] if cold else [])
    head = captured.out.splitlines()[0]
    if runtime.default_threads() > 1:  # the probe's choice, and the phases it lowered
        assert "(measured: probe, lowest p90 tick" in head
    assert head.startswith("tileworld: 3000 agents, 5 ticks, ")


@pytest.mark.parametrize("args, words", [
    (["run", "--agents", "-5"], "--agents must be >= 0"),
    (["run", "--agents", "many"], "--agents must be an integer, got 'many'"),
    (["run", "--ticks", "1.5"], "--ticks must be an integer"),
    (["run", "--send-rate", "2"], "--send-rate must be in [0, 1]"),
    (["run", "--frobnicate"], "unrecognized arguments: --frobnicate"),
    (["run", "--agents", "10", "--capacity", "5"], "agents=10 exceeds capacity=5"),
    (["run", "--threads", "4096"], "threads=4096 must be in"),
])
@pytest.mark.slow
def test_bad_input_is_one_line_without_traceback(args, words):
    p = run_cli(*args)
    assert p.returncode == 2
    assert words in p.stderr
    assert "Traceback" not in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1


def test_cache_info(capsys):
    assert main(["cache", "info"]) == 0
    assert "cache files" in capsys.readouterr().out


def _start_run(tmp_path, *extra):
    import os

    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen(
        [sys.executable, "-m", "dod_sim.cli", "run", "--agents", "500", "--ticks", "100000",
         "--tick-ms", "5", "--threads", "1", *extra], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("sig, code", [("SIGINT", 130), ("SIGTERM", 143)])
def test_a_signal_finishes_the_tick_saves_and_reports(tmp_path, sig, code):
    import signal
    import time

    from dod_sim import World

    snap = tmp_path / "final.snap"
    p = _start_run(tmp_path, "--snapshot", str(snap))
    deadline = time.time() + 120
    line = ""
    while "ready" not in line and time.time() < deadline:  # kernels loaded
        line += p.stderr.read(1)
    time.sleep(1.0)  # some ticks
    p.send_signal(getattr(signal, sig))
    out, err = p.communicate(timeout=120)
    assert p.returncode == code, err
    assert f"{sig}: stopped after tick" in err and "Traceback" not in err
    assert "lost 0" in out and "p99" in out
    w = World.restore(snap)
    assert w.tick > 0 and w.census()["lost"] == 0
    assert f"stopped after tick {w.tick}," in err
    assert [f.name for f in tmp_path.iterdir()] == ["final.snap"]  # nothing half-written


def test_snapshot_every_and_resume(tmp_path, capsys, monkeypatch):
    import shutil

    from dod_sim import World

    # every file written to the --snapshot path, copied aside as it is written
    written = []
    save = World.snapshot

    def observed(world, path):
        save(world, path)
        copy = tmp_path / f"written-{len(written)}.snap"
        shutil.copyfile(path, copy)
        written.append((world.tick, copy))

    monkeypatch.setattr(World, "snapshot", observed)
    snap = tmp_path / "s.snap"
    assert main(["run", "--agents", "300", "--ticks", "25", "--threads", "1",
                 "--snapshot", str(snap), "--snapshot-every", "10", "--json"]) == 0
    capsys.readouterr()
    # every 10 ticks, then the final state
    assert [t for t, _ in written] == [10, 20, 25]
    straight = World(agents=300, threads=1)
    for tick, copy in written:
        saved = World.restore(copy)
        assert saved.tick == tick
        straight.run(tick - straight.tick)
        assert saved.state_digest() == straight.state_digest(), tick
    assert World.restore(snap).state_digest() == straight.state_digest()

    # resumed from the file for 15 more ticks, the CLI's final state is the one of an
    # uninterrupted 40-tick run of the CLI
    written.clear()
    resumed = tmp_path / "resumed.snap"
    assert main(["run", "--resume", str(snap), "--ticks", "15", "--snapshot", str(resumed),
                 "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["ticks"] == 15 and s["messages_lost"] == 0
    whole = tmp_path / "whole.snap"
    assert main(["run", "--agents", "300", "--ticks", "40", "--threads", "1",
                 "--snapshot", str(whole), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["messages_sent"] > s["messages_sent"]
    after = World.restore(resumed)
    assert after.tick == 40
    assert after.state_digest() == World.restore(whole).state_digest()
    straight.run(15)
    assert after.state_digest() == straight.state_digest()


@pytest.mark.parametrize("args, words", [
    (["run", "--snapshot-every", "5"], "--snapshot-every needs --snapshot PATH"),
    (["run", "--resume", "/nonexistent/x.snap"], "/nonexistent/x.snap"),
    (["run", "--hotspot-share", "1.5"], "--hotspot-share must be in [0, 1]"),
    (["run", "--agents", "10", "--hotspot-target", "10"], "hotspot_target=10 must be in"),
    (["bench", "nope"], "invalid choice: 'nope'"),
    (["soak", "--ticks", "0"], "--ticks must be >= 1"),
    (["warmup", "--jobs", "0"], "--jobs must be >= 1"),
])
@pytest.mark.slow
def test_more_bad_input_is_one_line(args, words):
    p = run_cli(*args)
    assert p.returncode == 2, p.stderr
    assert words in p.stderr and "Traceback" not in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1


def test_warmup_writes_the_bytecode_of_every_module():
    # read at every start even where PYTHONDONTWRITEBYTECODE stops Python writing it
    import importlib.util
    import os

    import dod_sim
    import dod_sim.kernels
    from dod_sim.cli import _write_bytecode

    sources = [m.__file__ for m in (dod_sim.config, dod_sim.kernels.mailbox)]
    for src in sources:
        pyc = importlib.util.cache_from_source(src)
        if os.path.exists(pyc):
            os.remove(pyc)
    n, ok = _write_bytecode()
    assert n >= 30 and ok
    for src in sources:
        assert os.path.getmtime(importlib.util.cache_from_source(src)) >= os.path.getmtime(src)


def test_warmup_compiles_what_it_is_not_told_to_skip(capsys):
    from dod_sim import precompile

    skip = [u for u in precompile.PHASES + precompile.MODELS if u != "phase:end"]
    args = ["warmup", "--jobs", "1"] + [a for u in skip for a in ("--skip", u)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "phase:end" in out and "phase:act" not in out and "model:" not in out
    assert "Python bytecode of" in out
