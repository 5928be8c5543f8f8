"""Snapshots (dod_sim.snapshot): round trips that keep the future, atomic writes, and a
SnapshotError naming the problem for every damaged, foreign or newer file."""

import hashlib
import json
import os
import struct

import numpy as np
import pytest
from dod_sim.kernels.tileworld.state import PI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dod_sim
from dod_sim import Config, SnapshotError, StaleHandle, World, runtime
from dod_sim import snapshot as snap
from snapfile import _PREFIX, _entry, _join, _reoffset, _split

# epoch_ticks=8: the snapshot at tick 20 is mid-epoch, with stale bytes of older epochs
# beyond the arena's used prefix in the saved world (and zeros in the restored one).
CFG = Config(agents=300, side=128, tile_updates=8, epoch_ticks=8, seed=11)
CHAOS = CFG.replace(kill_rate=0.01, tag_tamper_rate=0.01, seed=12)

# ---- helpers ----------------------------------------------------------------------------


def _cache(world, agent):
    try:
        return world.map_cache(agent)
    except StaleHandle:
        return None


# ---- fixtures ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """(path, bytes, digest at tick 20, digest at tick 50) of CFG, run 20 and saved."""
    w = World(CFG)
    w.run(20)
    path = tmp_path_factory.mktemp("snap") / "w20.snap"
    w.snapshot(path)
    d20 = w.state_digest()
    w.run(30)
    return path, path.read_bytes(), d20, w.state_digest()


@pytest.fixture(scope="module")
def straight50():
    """The digest of CFG run 50 ticks without a break."""
    w = World(CFG)
    w.run(50)
    return w.state_digest()


@pytest.fixture
def bad(tmp_path):
    """Write bytes to a file and return its path."""
    def write(blob: bytes, name="bad.snap"):
        p = tmp_path / name
        p.write_bytes(blob)
        return p
    return write


# ---- round trips ------------------------------------------------------------------------


def test_round_trip_keeps_state_and_future(tmp_path):
    w = World(CFG)
    w.run(20)
    path = tmp_path / "w.snap"
    w.snapshot(path)
    r = World.restore(path)
    assert r.state_digest() == w.state_digest()
    assert r.tick == w.tick == 20
    assert r.config == w.config
    assert r.counters() == w.counters()
    assert r.arena_usage() == w.arena_usage()
    assert r.arena_usage()["used"] > 0  # mid-epoch: the used prefix was saved
    assert r.census() == w.census()
    waiting = np.flatnonzero(w.columns["mb_count"])
    assert waiting.size, "the test wants some non-empty mailboxes"
    for a in list(waiting[:20]) + [0, 1, 299]:
        np.testing.assert_array_equal(r.mailbox(int(a)), w.mailbox(int(a)))
    for a in range(0, 300, 7):
        assert _cache(r, a) == _cache(w, a)
    for name in World.AGENT_COLUMNS:
        np.testing.assert_array_equal(r.columns[name], w.columns[name])
    w.run(30)
    r.run(30)
    assert r.state_digest() == w.state_digest()
    assert r.counters() == w.counters()
    assert r.census()["lost"] == 0


def test_interrupted_run_equals_straight_run(saved, straight50):
    path, _, d20, d50 = saved
    r = World.restore(path)
    assert r.state_digest() == d20
    r.run(30)
    assert r.state_digest() == d50 == straight50


@pytest.mark.skipif(runtime.max_threads() < 2, reason="needs NUMBA_NUM_THREADS >= 2")
def test_restore_with_other_threads(tmp_path, straight50):
    w = World(CFG.replace(threads=1))
    w.run(20)
    path = tmp_path / "t1.snap"
    w.snapshot(path)
    r = World.restore(path, threads=2)
    assert r.threads == 2 and r.config.threads == 2
    assert World.restore(path).threads == 1  # the saved config's count by default
    r.run(30)
    assert r.state_digest() == straight50


def test_round_trip_with_chaos(tmp_path):
    w = World(CHAOS)
    w.run(20)
    assert w.counters()["killed"] > 0 and w.counters()["tags_tampered"] > 0
    path = tmp_path / "chaos.snap"
    w.snapshot(path)
    r = World.restore(path)
    assert r.census()["lost"] == 0
    assert r.census() == w.census()
    assert r.counters() == w.counters()
    assert r.alive_count == w.alive_count
    w.run(30)
    r.run(30)
    assert r.state_digest() == w.state_digest()
    assert r.counters() == w.counters()
    assert r.census()["lost"] == 0


def test_snapshot_bytes_depend_on_state_only(tmp_path, saved):
    path, blob, _, _ = saved
    r = World.restore(path)
    again = tmp_path / "again.snap"
    r.snapshot(again)
    assert again.read_bytes() == blob


def test_table_covers_every_state_array(saved):
    path, _, _, _ = saved
    header = snap.read_header(path)
    w = World(CFG)
    names = [e["name"] for e in header["arrays"]]
    assert names == [n for n in w._arrays if not snap.is_scratch(n)]
    assert not any(n.startswith("d_") or n in snap.SCRATCH for n in names)
    pools = _entry(header, "pools")
    assert pools["part"] == "live" and pools["shape"] == list(w._arrays["pools"].shape[1:])
    arena = _entry(header, "arena")
    _, _, arrays = _split(path.read_bytes())
    used = int(np.frombuffer(arrays["arena_meta"], np.int64)[0])
    assert arena["part"] == "used" and arena["nbytes"] == used < w._arrays["arena"].size


def test_read_header(saved):
    path, _, _, _ = saved
    h = snap.read_header(path)
    assert h["tick"] == 20
    assert h["config"] == CFG.to_dict()
    assert h["config_digest"] == CFG.digest()
    assert h["format_version"] == snap.FORMAT_VERSION == 2
    assert "mac" not in h
    assert h["dod_sim_version"] == dod_sim.__version__


# ---- atomic writes ----------------------------------------------------------------------


def test_snapshot_replaces_existing_file(tmp_path):
    path = tmp_path / "w.snap"
    path.write_bytes(b"old contents")
    World(CFG).snapshot(path)
    assert snap.read_header(path)["tick"] == 0
    World.restore(path).run(20)
    assert os.listdir(tmp_path) == ["w.snap"]


@pytest.mark.parametrize("fail", ["replace", "fsync", "write"])
def test_failed_save_leaves_old_file_and_no_temp(tmp_path, saved, monkeypatch, fail):
    _, blob, _, _ = saved
    path = tmp_path / "w.snap"
    path.write_bytes(blob)

    def boom(*a, **k):
        raise OSError(28, "No space left on device")

    if fail == "write":  # a non-OSError half-way through the arrays
        real = snap._byte_view
        monkeypatch.setattr(snap, "_byte_view", lambda a: object() if a.size == 300 else real(a))
    else:
        monkeypatch.setattr(os, fail, boom)
    w = World(CFG)
    with pytest.raises((SnapshotError, TypeError)) as info:
        w.snapshot(path)
    if fail == "write":
        assert info.type is TypeError
    else:
        assert info.type is SnapshotError and info.value.field == "path"
        assert "No space left" in str(info.value)
    monkeypatch.undo()
    assert path.read_bytes() == blob
    assert os.listdir(tmp_path) == ["w.snap"]


def test_save_into_missing_directory(tmp_path):
    with pytest.raises(SnapshotError, match="cannot write") as info:
        World(CFG).snapshot(tmp_path / "nope" / "w.snap")
    assert info.value.field == "path"
    assert os.listdir(tmp_path) == []


# ---- damaged files: fuzz ----------------------------------------------------------------

_FUZZ = settings(max_examples=200, deadline=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture])


@_FUZZ
@given(data=st.data())
def test_any_byte_flip_is_a_snapshot_error(saved, bad, data):
    _, blob, _, _ = saved
    i = data.draw(st.integers(0, len(blob) - 1), label="offset")
    x = data.draw(st.integers(1, 255), label="xor")
    damaged = bytearray(blob)
    damaged[i] ^= x
    with pytest.raises(SnapshotError) as info:
        World.restore(bad(bytes(damaged)))
    assert info.value.field in ("magic", "version", "checksum")


@settings(_FUZZ, max_examples=100)
@given(data=st.data())
def test_any_truncation_is_a_snapshot_error(saved, bad, data):
    _, blob, _, _ = saved
    n = data.draw(st.one_of(st.integers(0, 64), st.integers(0, len(blob) - 1)), label="len")
    with pytest.raises(SnapshotError) as info:
        World.restore(bad(blob[:n]))
    assert info.value.field in ("length", "checksum")


def test_every_flip_in_the_prefix_and_digest(saved, bad):
    _, blob, _, _ = saved
    for i in list(range(_PREFIX.size + 8)) + list(range(len(blob) - 32, len(blob))):
        damaged = bytearray(blob)
        damaged[i] ^= 0x80
        with pytest.raises(SnapshotError):
            World.restore(bad(bytes(damaged)))


# ---- damaged files: each check ----------------------------------------------------------


def test_missing_file(tmp_path):
    p = tmp_path / "absent.snap"
    with pytest.raises(SnapshotError, match="absent.snap.*does not exist") as info:
        World.restore(p)
    assert info.value.field == "path"
    with pytest.raises(SnapshotError, match="does not exist"):
        snap.read_header(p)


def test_directory_is_not_a_snapshot(tmp_path):
    with pytest.raises(SnapshotError, match="cannot open"):
        World.restore(tmp_path)


def test_empty_file(bad):
    with pytest.raises(SnapshotError, match="empty") as info:
        World.restore(bad(b""))
    assert info.value.field == "length"


def test_short_file(bad):
    with pytest.raises(SnapshotError, match="truncated"):
        World.restore(bad(snap.MAGIC + b"\1\0"))


def test_foreign_file(bad, saved):
    _, blob, _, _ = saved
    with pytest.raises(SnapshotError, match="not a dod_sim snapshot") as info:
        World.restore(bad(b"\x89PNG\r\n\x1a\n" + blob[8:]))
    assert info.value.field == "magic"
    with pytest.raises(SnapshotError, match="not a dod_sim snapshot"):
        World.restore(bad(b"{}"))


def test_newer_version(bad, saved):
    _, blob, _, _ = saved
    version, header, arrays = _split(blob)
    header["format_version"] = version + 1
    with pytest.raises(SnapshotError, match=r"newer dod_sim; this one reads version 2") as info:
        World.restore(bad(_join(version + 1, header, arrays)))
    assert info.value.field == "version" and info.value.value == 3
    with pytest.raises(SnapshotError, match="newer"):
        snap.read_header(bad(_join(version + 1, header, arrays)))


def test_older_unknown_version(bad, saved):
    _, blob, _, _ = saved
    _, header, arrays = _split(blob)
    with pytest.raises(SnapshotError, match="version 0") as info:
        World.restore(bad(_join(0, header, arrays)))
    assert info.value.field == "version"


def test_checksum_mismatch(bad, saved):
    _, blob, _, _ = saved
    damaged = bytearray(blob)
    damaged[len(blob) // 2] ^= 1
    with pytest.raises(SnapshotError, match="checksum") as info:
        World.restore(bad(bytes(damaged)))
    assert info.value.field == "checksum"


@pytest.mark.parametrize("hb", [b"{not json", b"\xff\xfe\x00garbage", b"[1, 2]", b"[" * 5000,
                                b'{"format_version": 1}'])
def test_bad_header_with_valid_checksum(bad, saved, hb):
    _, blob, _, _ = saved
    version, header, arrays = _split(blob)
    with pytest.raises(SnapshotError, match="header") as info:
        World.restore(bad(_join(version, header, arrays, header_bytes=hb)))
    assert info.value.field == "header"


def test_header_length_beyond_file(bad, saved):
    _, blob, _, _ = saved
    body = bytearray(blob[:-32])
    struct.pack_into("<Q", body, 16, len(blob) * 2)
    body += hashlib.blake2b(bytes(body), digest_size=32).digest()
    with pytest.raises(SnapshotError, match="header length") as info:
        World.restore(bad(bytes(body)))
    assert info.value.field == "header"


def _variant(saved, bad, change):
    """Load a well-checksummed file whose header or arrays ``change(header, arrays)``
    edited; return the SnapshotError."""
    _, blob, _, _ = saved
    version, header, arrays = _split(blob)
    change(header, arrays)
    with pytest.raises(SnapshotError) as info:
        World.restore(bad(_join(version, header, arrays)))
    return info.value


def test_dtype_mismatch(saved, bad):
    err = _variant(saved, bad, lambda h, a: _entry(h, "x").update(dtype="<f8"))
    assert "dtype" in str(err) and "'<f4'" in str(err) and err.field == "array x"


def test_shape_mismatch(saved, bad):
    def change(h, a):
        _entry(h, "energy")["shape"] = [150, 2]
    err = _variant(saved, bad, change)
    assert "shape (150, 2), expected (300,)" in str(err) and err.field == "array energy"


def test_pools_shape_mismatch(saved, bad):
    def change(h, a):
        a["pools"] = a["pools"][:64 * 100]
        _entry(h, "pools")["shape"] = [100, 64]
        _reoffset(h, a)
    err = _variant(saved, bad, change)
    assert "shape" in str(err) and err.field == "array pools"


def test_nbytes_inconsistent_with_shape(saved, bad):
    def change(h, a):
        a["y"] = a["y"][:-4]
        _reoffset(h, a)
    err = _variant(saved, bad, change)
    assert "nbytes" in str(err) and err.field == "array y"


def test_offsets_inconsistent(saved, bad):
    err = _variant(saved, bad, lambda h, a: _entry(h, "vx").update(offset=0))
    assert "offset" in str(err) and err.field == "array vx"


def test_data_size_inconsistent(saved, bad):
    def change(h, a):
        a["cost"] = a["cost"] + b"\0" * 16
    err = _variant(saved, bad, change)
    assert "data section" in str(err) and err.field == "header"


def test_missing_array(saved, bad):
    def change(h, a):
        h["arrays"] = [e for e in h["arrays"] if e["name"] != "seq"]
        del a["seq"]
        _reoffset(h, a)
    err = _variant(saved, bad, change)
    assert "lacks" in str(err) and "seq" in str(err) and err.field == "array seq"


def test_extra_array(saved, bad):
    def change(h, a):
        h["arrays"].append({"name": "warp", "part": "whole", "dtype": "<i8", "shape": [2]})
        a["warp"] = b"\0" * 16
        _reoffset(h, a)
    err = _variant(saved, bad, change)
    assert "does not" in str(err) and "warp" in str(err)


def test_duplicate_array(saved, bad):
    def change(h, a):
        h["arrays"].append(dict(_entry(h, "x")))
        _reoffset(h, a)
    err = _variant(saved, bad, change)
    assert "twice" in str(err) and err.field == "array x"


def test_bad_table_entry(saved, bad):
    err = _variant(saved, bad, lambda h, a: _entry(h, "x").update(shape=[-300]))
    assert "shape" in str(err)
    err = _variant(saved, bad, lambda h, a: _entry(h, "x").update(nbytes="1200"))
    assert "nbytes" in str(err)
    err = _variant(saved, bad, lambda h, a: h["arrays"].append(7))
    assert err.field == "header"


def test_unknown_config_field(saved, bad):
    err = _variant(saved, bad, lambda h, a: h["config"].update(warp_drive=9))
    assert "warp_drive" in str(err) and "newer" in str(err) and err.field == "config"


def test_invalid_config(saved, bad):
    def change(h, a):
        h["config"]["side"] = 100
        h["config_digest"] = hashlib.blake2b(json.dumps(h["config"], sort_keys=True).encode(),
                                             digest_size=8).hexdigest()
    err = _variant(saved, bad, change)
    assert "config is invalid" in str(err) and "side=100" in str(err)
    assert err.field == "config" and isinstance(err.__cause__, dod_sim.ConfigError)


def test_config_digest_mismatch(saved, bad):
    err = _variant(saved, bad, lambda h, a: h["config"].update(seed=99))
    assert "digest" in str(err) and err.field == "config"


def test_key_schedules_must_match_the_keys(saved, bad):
    def change(h, a):
        a["msg_ks"] = bytes(len(a["msg_ks"]))
    err = _variant(saved, bad, change)
    assert "schedule of array keys" in str(err) and err.field == "array msg_ks"


def test_parameters_must_match_the_config(saved, bad):
    def change(h, a):
        pi = np.frombuffer(a["pi"], np.int64).copy()
        pi[PI.SIDE] = 256
        a["pi"] = pi.tobytes()
    err = _variant(saved, bad, change)
    assert "parameters" in str(err) and err.field == "array pi"


def test_tick_must_match_the_header(saved, bad):
    err = _variant(saved, bad, lambda h, a: h.update(tick=21))
    assert "tick 20" in str(err) and err.field == "array pi"


def test_arena_length_must_match_its_meta(saved, bad):
    def change(h, a):
        a["arena"] = a["arena"][:-64]
        _entry(h, "arena")["shape"] = [len(a["arena"])]
        _reoffset(h, a)
    err = _variant(saved, bad, change)
    assert "arena" in str(err) and err.field == "array arena_meta"


def test_saving_never_changes_the_process_umask(tmp_path, monkeypatch):
    """A snapshot without secrets (a model's) gets the umask's mode, read without
    setting it; a tileworld's holds its keys and is 0600 (test_keys)."""
    import stat

    from dod_sim import ModelWorld
    from dod_sim.models import wealth

    calls = []
    real = os.umask
    monkeypatch.setattr(os, "umask", lambda m: calls.append(m) or real(m))
    World(CFG).snapshot(tmp_path / "w.snap")
    ModelWorld(wealth.MODEL, 50, seed=1, threads=1).snapshot(tmp_path / "m.snap")
    assert calls == []
    with open("/proc/self/status") as f:
        umask = int(next(ln for ln in f if ln.startswith("Umask:")).split()[1], 8)
    assert stat.S_IMODE((tmp_path / "m.snap").stat().st_mode) == 0o666 & ~umask
    assert stat.S_IMODE((tmp_path / "w.snap").stat().st_mode) == 0o600
