"""Keys: never computable from what a report or a snapshot header shows (issue 22).

The tile and message keys come from ``World(key=...)`` or ``os.urandom``; they are derived
from the seed only when ``Config(deterministic_keys=True)`` asks for it. Keys change no
simulation state but tag bytes, so the state digest leaves tags out. Snapshots hold the
keys and can carry a keyed MAC (``snapshot(path, key=)``).
"""

import json
import os
import stat

import numpy as np
import pytest

from dod_sim import ConfigError, SnapshotError, World
from dod_sim import snapshot as snap
from dod_sim.tileworld.keys import derive_keys, world_keys
from dod_sim.world import TINY
from snapfile import _join, _split

CHAOS = dict(TINY, kill_rate=0.02, tag_tamper_rate=0.05, tamper_rate=0.2, send_rate=1.0,
             mailbox=3, inbox_budget=1, seed=5, threads=1)
MAC_KEY = b"a snapshot key, 1..64 bytes"


def test_default_keys_are_not_derived_from_the_seed():
    a, b = World(**TINY, seed=5, threads=1), World(**TINY, seed=5, threads=1)
    assert (a.tile_key, a.message_key) != derive_keys(5)
    assert a.tile_key != b.tile_key and a.message_key != b.message_key


def test_deterministic_keys_and_a_given_key():
    w = World(**TINY, seed=5, threads=1, deterministic_keys=True)
    assert (w.tile_key, w.message_key) == derive_keys(5)
    a, b = (World(**TINY, seed=s, threads=1, key=b"k" * 20) for s in (1, 2))
    assert (a.tile_key, a.message_key) == (b.tile_key, b.message_key) != derive_keys(1)
    assert a.tile_key != a.message_key


@pytest.mark.parametrize("key, deterministic, error, match", [
    (b"", False, ConfigError, "key must be 1..64 bytes"),
    (b"k" * 65, False, ConfigError, "key must be 1..64 bytes"),
    (b"k" * 16, True, ConfigError, "not both"),
    ("a string", False, TypeError, "key must be bytes"),
])
def test_bad_keys_are_refused(key, deterministic, error, match):
    with pytest.raises(error, match=match) as e:
        world_keys(0, key, deterministic)
    if error is ConfigError:
        assert e.value.field == "key"
        assert "k" * 16 not in str(e.value)  # a key never appears in an error
    with pytest.raises(error, match=match):
        World(**TINY, threads=1, key=key, deterministic_keys=deterministic)


@pytest.mark.parametrize("algo", ["blake2b", "hmac-sha256"])
def test_same_seed_same_digest_whatever_the_keys(algo):
    """Tampered tiles and messages are caught under any key, so two worlds of one seed
    with different keys differ in tag bytes only."""
    a = World(**CHAOS, tile_algo=algo, key=b"one key")
    b = World(**CHAOS, tile_algo=algo, key=b"another key")
    for _ in range(12):
        a.step()
        b.step()
        assert a.state_digest() == b.state_digest()
    ka, kb = a.counters(), b.counters()
    assert ka == kb and ka["tags_rejected"] > 0 and ka["tiles_rejected"] > 0
    assert not np.array_equal(a._arrays["tags"], b._arrays["tags"])
    held = a._arrays["out_pending"] != 0
    assert held.any()
    ra, rb = a._arrays["out_rec"][held], b._arrays["out_rec"][held]
    assert np.array_equal(ra[:, :48], rb[:, :48]) and not np.array_equal(ra[:, 48:], rb[:, 48:])


def test_reports_and_headers_hold_no_key(tmp_path):
    w = World(**TINY, threads=1)
    report = w.run(3)
    text = json.dumps([report.summary(), report.provenance], default=str)
    w.snapshot(tmp_path / "w.snap")
    header = json.dumps(snap.read_header(tmp_path / "w.snap"))
    for key in (w.tile_key, w.message_key):
        for form in (key.hex(), repr(key), str(list(key))):
            assert form not in text and form not in header


def test_snapshot_keeps_the_keys_and_is_private(tmp_path):
    w = World(**CHAOS)
    w.run(5)
    path = tmp_path / "w.snap"
    w.snapshot(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    r = World.restore(path)
    assert (r.tile_key, r.message_key) == (w.tile_key, w.message_key)
    w.run(8)
    r.run(8)
    for name in ("tags", "out_rec", "pools", "msg_ks", "tile_ks"):
        assert np.array_equal(w._arrays[name], r._arrays[name]), name


@pytest.fixture(scope="module")
def keyed(tmp_path_factory):
    """(world, path of its snapshot with a MAC under MAC_KEY, path of one without)."""
    d = tmp_path_factory.mktemp("keyed")
    w = World(**CHAOS)
    w.run(4)
    w.snapshot(d / "mac.snap", key=MAC_KEY)
    w.snapshot(d / "plain.snap")
    return w, d / "mac.snap", d / "plain.snap"


def test_keyed_snapshot_round_trip(keyed):
    w, mac, _ = keyed
    assert snap.read_header(mac, key=MAC_KEY)["mac"] == snap.MAC
    r = World.restore(mac, key=MAC_KEY)
    assert r.state_digest() == w.state_digest() and r.tile_key == w.tile_key


@pytest.mark.parametrize("which, key, match", [
    ("mac", None, "written with a key: pass key="),
    ("mac", b"the wrong key", "failed its MAC"),
    ("plain", MAC_KEY, "written without a key"),
])
def test_keyed_snapshot_refusals(keyed, which, key, match):
    path = keyed[1] if which == "mac" else keyed[2]
    with pytest.raises(SnapshotError, match=match) as e:
        World.restore(path, key=key)
    assert e.value.field == "key"


def test_a_rewritten_keyed_snapshot_is_refused(keyed, tmp_path):
    """An attacker without the key changes a value and recomputes the checksum (and
    cannot compute the MAC): restore with the key refuses the file."""
    _, mac, _ = keyed
    version, header, arrays = _split(mac.read_bytes())
    energy = np.frombuffer(arrays["energy"], np.float32).copy()
    energy[0] += 1000
    arrays["energy"] = energy.tobytes()
    forged = tmp_path / "forged.snap"
    forged.write_bytes(_join(version, header, arrays))
    World.restore(forged)  # a plain checksum: accepted without a key
    with pytest.raises(SnapshotError, match="without a key") as e:
        World.restore(forged, key=MAC_KEY)
    assert e.value.field == "key"


@pytest.mark.parametrize("key", [b"", "text", b"k" * 65])
def test_bad_snapshot_keys_are_refused_before_writing(tmp_path, key):
    w = World(**TINY, threads=1)
    with pytest.raises((ConfigError, TypeError), match="key must be"):
        w.snapshot(tmp_path / "w.snap", key=key)
    assert not os.listdir(tmp_path)


@pytest.mark.parametrize("name", ["msg_ks", "tile_ks", "tile_hmac_ks", "keys"])
def test_a_schedule_that_is_not_the_keys_is_refused(keyed, tmp_path, name):
    _, _, plain = keyed
    version, header, arrays = _split(plain.read_bytes())
    raw = bytearray(arrays[name])
    raw[len(raw) // 2] ^= 1
    arrays[name] = bytes(raw)
    path = tmp_path / "bad.snap"
    path.write_bytes(_join(version, header, arrays))
    with pytest.raises(SnapshotError, match="schedule of array keys") as e:
        World.restore(path)
    assert e.value.field.startswith("array ")


def test_version_1_files_are_refused_by_version(keyed, tmp_path):
    _, _, plain = keyed
    _, header, arrays = _split(plain.read_bytes())
    header["format_version"] = 1
    path = tmp_path / "v1.snap"
    path.write_bytes(_join(1, header, arrays))
    with pytest.raises(SnapshotError, match="version 1 files") as e:
        World.restore(path)
    assert e.value.field == "version"


def test_a_model_world_snapshot_takes_a_key(tmp_path):
    from dod_sim import ModelWorld
    from dod_sim.models import wealth

    m = ModelWorld(wealth.MODEL, 60, seed=3, threads=1)
    m.run(3, stats=False)
    m.snapshot(tmp_path / "m.snap", key=MAC_KEY)
    r = ModelWorld.restore(tmp_path / "m.snap", wealth.MODEL, key=MAC_KEY)
    assert r.state_digest() == m.state_digest()
    with pytest.raises(SnapshotError, match="pass key=") as e:
        ModelWorld.restore(tmp_path / "m.snap", wealth.MODEL)
    assert e.value.field == "key"
