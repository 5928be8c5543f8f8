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
