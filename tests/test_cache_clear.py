"""'dod-sim cache clear' removes only what dod_sim wrote, and says what it removed."""

import os
import subprocess
import sys

import pytest


def _env(tmp_path):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "numba"),
               DOD_SIM_MODEL_CACHE=str(tmp_path / "models"))
    return env


def _ours(env) -> list:
    """Where dod_sim's own compiled kernels and generated models go under ``env``."""
    code = ("import os; from dod_sim import kernels; from dod_sim.model import cache_dir; "
            "print(kernels.cache_dir_of(kernels.KERNELS_DIR)); print(kernels.cache_dir_of("
            "os.path.join(kernels.KERNELS_DIR, 'tileworld'))); print(cache_dir())")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True, timeout=120).stdout.split("\n")
    return out[:3]


@pytest.mark.slow
def test_cache_clear_leaves_other_projects_files(tmp_path):
    env = _env(tmp_path)
    kernel_cache, tileworld_cache, model_cache = _ours(env)
    ours = [os.path.join(kernel_cache, "blake2b.mac_rows-40.py311.nbi"),
            os.path.join(tileworld_cache, "phases.tiles-40.py311.nbi"),
            os.path.join(model_cache, "dod_sim_model_walk_0123456789abcdef.py")]
    foreign = [tmp_path / "numba" / "other_project" / "fast.f-3.py311.nbi",
               tmp_path / "numba" / "other_project" / "fast.f-3.py311.0.nbc",
               tmp_path / "models" / "my_notes.py"]
    for f in ours + [str(f) for f in foreign]:
        os.makedirs(os.path.dirname(f), exist_ok=True)
        open(f, "w").close()
    out = subprocess.run([sys.executable, "-m", "dod_sim.cli", "cache", "clear"], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert all(f.exists() for f in foreign), [str(f) for f in foreign if not f.exists()]
    assert not any(os.path.exists(f) for f in ours)
    assert "cache files dod_sim wrote" in out.stdout and os.path.dirname(ours[0]) in out.stdout
