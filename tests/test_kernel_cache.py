"""An edit of any kernel source drops the whole kernel cache (Numba checks one file)."""

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
