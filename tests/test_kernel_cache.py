"""The kernel cache: an edit of any kernel source drops all of it (Numba checks one
file), and a cached caller of a parallel kernel loads safely in a new process."""

import os
import subprocess
import sys
import textwrap

import pytest

from dod_sim.kernels import drop_stale_cache


def test_an_edit_anywhere_drops_every_cache_file(tmp_path):
    src = tmp_path / "kernels"
    cache = src / "__pycache__"
    src.mkdir()
    (src / "agents.py").write_text("A = 1\n")
    (src / "phases.py").write_text("from .agents import A\n")

    def cached():
        cache.mkdir(exist_ok=True)
        for name in ("phases.act-1.py311.nbi", "phases.act-1.py311.1.nbc", "keep.pyc"):
            (cache / name).write_bytes(b"x")

    cached()
    assert drop_stale_cache(str(src), str(cache)) == 2  # no fingerprint yet: untrusted
    cached()
    assert drop_stale_cache(str(src), str(cache)) == 0  # nothing changed: kept
    (src / "agents.py").write_text("A = 2\n")  # phases.py itself is untouched
    assert drop_stale_cache(str(src), str(cache)) == 2
    assert sorted(p.name for p in cache.iterdir()) == [".dod_sim_kernel_sources", "keep.pyc"]
    (src / "new.py").write_text("")  # a new kernel module counts too
    cached()
    assert drop_stale_cache(str(src), str(cache)) == 2


def test_an_unwritable_cache_is_left_alone(tmp_path):
    src = tmp_path / "kernels"
    src.mkdir()
    (src / "a.py").write_text("")
    blocker = tmp_path / "file"
    blocker.write_text("")  # a cache "directory" that is a file: cannot be created
    assert drop_stale_cache(str(src), str(blocker / "__pycache__")) == 0


_PARALLEL_CALLEE = textwrap.dedent("""
    import numpy as np
    from numba import njit, prange

    @njit(parallel=True, cache=True)
    def inner(a):
        for i in prange(a.shape[0]):
            a[i] += 1.0

    @njit(cache=True)
    def outer(a):
        inner(a)
        return a.sum()
""")


def test_a_caller_cached_against_a_cached_parallel_callee_loads_after_import(tmp_path):
    # Process 1 caches the parallel inner; process 2 compiles outer, loading inner from
    # the cache, and caches outer without Numba's hook that starts the threading layer.
    # A third process that calls outer first crashes unless the layer is already up,
    # which importing dod_sim sees to (dod-sim warmup's workers made such entries).
    (tmp_path / "parmod.py").write_text(_PARALLEL_CALLEE)
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"), PYTHONPATH=str(tmp_path))

    def run(code):
        return subprocess.run([sys.executable, "-c", "import numpy as np, parmod\n" + code],
                              env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path)

    assert run("parmod.inner(np.zeros(10))").returncode == 0
    assert run("print(parmod.outer(np.zeros(10)))").stdout.strip() == "10.0"
    out = run("import dod_sim\nprint(parmod.outer(np.zeros(10)))")
    assert out.returncode == 0 and out.stdout.strip() == "10.0", out.stderr


def test_the_stamp_is_written_atomically_never_through_a_link(tmp_path):
    src = tmp_path / "kernels"
    cache = src / "__pycache__"
    src.mkdir()
    cache.mkdir()
    (src / "a.py").write_text("A = 1\n")
    victim = tmp_path / "victim.txt"
    victim.write_text("someone else's file\n")
    (cache / ".dod_sim_kernel_sources").symlink_to(victim)
    drop_stale_cache(str(src), str(cache))
    assert victim.read_text() == "someone else's file\n"
    stamp = cache / ".dod_sim_kernel_sources"
    assert not stamp.is_symlink() and len(stamp.read_text()) == 64
    assert [p.name for p in cache.iterdir() if p.name.endswith(".tmp")] == []
