"""Bad input gets one typed error naming the argument, or one stderr line and exit 2:
never a traceback from inside the library, a hang, or a state that breaks the tick."""

import subprocess
import sys

import numpy as np
import pytest

from dod_sim import Config, ConfigError, World


def _small(**kw):
    return Config(agents=100, side=64, tile_updates=4, seed=2, threads=1, **kw)


def test_set_state_refuses_values_that_overflow_float32():
    w = World(_small())
    vx = np.zeros(100)
    vx[3] = 1e300  # finite as float64, inf as float32
    with pytest.raises(ConfigError) as info:
        w.set_state(vx=vx)
    assert info.value.field == "vx"
    assert np.isfinite(w.columns["vx"]).all()


@pytest.mark.parametrize("every", [0, -1, 2.5, True])
def test_run_refuses_a_bad_progress_every(every):
    w = World(_small())
    with pytest.raises(ConfigError) as info:
        w.run(5, progress=lambda *a: None, progress_every=every)
    assert info.value.field == "progress_every" and w.tick == 0


def _cli(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "dod_sim.cli", *args], capture_output=True,
                          text=True, timeout=timeout)


@pytest.mark.slow
@pytest.mark.parametrize("args, words", [
    (("run", "--ticks", "100000000000"), "ticks=100000000000"),
    (("run", "--arena-bytes", "17592186044416"), "arena"),
    (("soak", "--threads", "999"), "threads"),
])
def test_cli_out_of_range_numbers_are_one_line(args, words):
    out = _cli(*args)
    assert out.returncode == 2, out.stderr[-2000:]
    assert "Traceback" not in out.stderr and words in out.stderr


def _strict_json(text):
    import json

    def refuse(name):
        raise ValueError(f"bare {name} in JSON")
    return json.loads(text, parse_constant=refuse)


@pytest.mark.slow
def test_cli_json_is_strict_json():
    out = _cli("run", "--agents", "200", "--ticks", "1", "--threads", "1", "--json")
    assert out.returncode == 0, out.stderr
    s = _strict_json(out.stdout)
    assert s["allocations_per_s"] is None  # not computable: null, not NaN


@pytest.mark.slow
@pytest.mark.parametrize("case", ["out_missing_dir", "junk_line_resume", "bad_utf8"])
def test_cli_sweep_bad_files_are_one_line(tmp_path, case):
    grid = tmp_path / "g.toml"
    grid.write_text('[base]\nagents = 100\nside = 64\ntile_updates = 4\nthreads = 1\n'
                    '[grid]\nseed = [1, 2]\n')
    args = ["sweep", str(grid), "--ticks", "3"]
    if case == "out_missing_dir":
        args += ["--out", str(tmp_path / "nope" / "r.jsonl")]
    elif case == "junk_line_resume":
        out = tmp_path / "r.jsonl"
        out.write_text('{"run": 0}\nthis is not json\n{"run": 1}\n')
        args += ["--out", str(out), "--resume"]
    else:
        grid.write_bytes(b"[base]\nagents = 100\n# \xff\xfe not utf-8\n")
    res = _cli(*args)
    assert res.returncode == 2, res.stderr[-1500:]
    assert "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) == 1
