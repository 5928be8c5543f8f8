"""Generated model modules are checked against their source before they are imported:
a truncated file is repaired, a planted one is never run; the folder is the user's own."""

import os
import stat
import subprocess
import sys

import pytest
from numba import njit

from dod_sim import Column, Model, ModelWorld, Rows
from dod_sim.model import cache_dir


@njit
def _inc(i, key, p, x):
    return x[i] + 3


def _fresh_model(name):
    return Model(name, columns=[Column("x", "int64", 0)],
                 systems=[Rows("inc", _inc, reads=("x",), writes=("x",))])



@pytest.fixture
def isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("DOD_SIM_MODEL_CACHE", str(tmp_path / "models"))
    yield tmp_path
    for k in [k for k in sys.modules if k.startswith("dod_sim_model_cachetest")]:
        del sys.modules[k]


def test_a_planted_module_is_never_run(isolated):
    marker = isolated / "ran"
    first = _fresh_model("cachetest_a")
    ModelWorld(first, 8, threads=1)  # writes the module; find its name
    (path,) = cache_dir().glob("dod_sim_model_cachetest_a_*.py")
    for k in [k for k in sys.modules if k.startswith("dod_sim_model_cachetest_a")]:
        del sys.modules[k]
    path.write_text(f'open({str(marker)!r}, "w").close()\n')
    w = ModelWorld(_fresh_model("cachetest_a"), 8, threads=1)
    w.run(1)
    assert not marker.exists() and int(w.columns["x"][0]) == 3


def test_a_truncated_module_is_repaired(isolated):
    ModelWorld(_fresh_model("cachetest_b"), 8, threads=1)
    (path,) = cache_dir().glob("dod_sim_model_cachetest_b_*.py")
    for k in [k for k in sys.modules if k.startswith("dod_sim_model_cachetest_b")]:
        del sys.modules[k]
    path.write_text(path.read_text()[:100])
    w = ModelWorld(_fresh_model("cachetest_b"), 8, threads=1)
    w.run(2)
    assert int(w.columns["x"][0]) == 6


def test_the_cache_folder_is_private(isolated):
    ModelWorld(_fresh_model("cachetest_c"), 8, threads=1)
    mode = stat.S_IMODE(os.stat(cache_dir()).st_mode)
    assert mode & 0o077 == 0, oct(mode)


CHILD = '''
env = {"__name__": "<dynamic>"}
exec("""
from numba import njit
from dod_sim.model import Column, Kernel, Model, ModelWorld
@njit
def bump(key, n, p, x):
    for i in range(n):
        x[i] += 1
m = Model("made_up_module", columns=[Column("x", "int64", 0)],
          systems=[Kernel("k", bump, writes=("x",))])
w = ModelWorld(m, 10, threads=1)
w.run(3)
print(int(w.columns["x"].sum()))
""", env)
'''


@pytest.mark.slow
def test_a_model_of_code_with_no_importable_module_runs_in_every_process(tmp_path):
    # exec'd under a made-up __name__: a cached module would name a module the next
    # process cannot import
    env = dict(os.environ, DOD_SIM_MODEL_CACHE=str(tmp_path))
    for _ in range(2):
        p = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True,
                           env=env, timeout=300)
        assert p.returncode == 0 and p.stdout.split()[-1] == "30", p.stderr[-2000:]
