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


@pytest.mark.parametrize("args, words", [
    (["run", "--agents", "-5"], "--agents must be >= 0"),
    (["run", "--agents", "many"], "--agents must be an integer, got 'many'"),
    (["run", "--ticks", "1.5"], "--ticks must be an integer"),
    (["run", "--send-rate", "2"], "--send-rate must be in [0, 1]"),
    (["run", "--frobnicate"], "unrecognized arguments: --frobnicate"),
    (["run", "--agents", "10", "--capacity", "5"], "agents=10 exceeds capacity=5"),
    (["run", "--threads", "4096"], "threads=4096 must be in"),
])
def test_bad_input_is_one_line_without_traceback(args, words):
    p = run_cli(*args)
    assert p.returncode == 2
    assert words in p.stderr
    assert "Traceback" not in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1


def test_cache_info(capsys):
    assert main(["cache", "info"]) == 0
    assert "cache files" in capsys.readouterr().out
