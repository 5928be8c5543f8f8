"""The declared layout (dod_sim.schema, dod_sim.tileworld.schema): allocation, memory,
snapshots, restore-time value checks, the digest and the views all follow it."""

import numpy as np
import pytest
from golden.record import PATH as GOLDEN_PATH
from golden.record import GOLDEN
from snapfile import _entry, _join, _split

from dod_sim import Config, SnapshotError, World
from dod_sim.config import memory_estimate
from dod_sim.kernels.tileworld.indices import PI
from dod_sim.schema import Array, Finite, InRange, Schema, Table
from dod_sim.tileworld.schema import TILEWORLD

CFG = Config(agents=300, capacity=340, side=128, tile_updates=8, epoch_ticks=8, seed=5,
             kill_rate=0.01, mailbox=4, inbox_budget=1, send_rate=0.9)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """(version, header, {name: bytes}) of CFG after 20 ticks, and the world."""
    w = World(CFG)
    w.run(20)
    path = tmp_path_factory.mktemp("schema") / "w.snap"
    w.snapshot(path)
    return _split(path.read_bytes()), w


def _restore_with(tmp_path, saved, name, change):
    """Restore the saved file with array ``name`` changed by ``change(values)`` (a numpy
    copy, edited in place) and its checksum recomputed, as an attacker would."""
    (version, header, arrays), _ = saved
    e = _entry(header, name)
    values = np.frombuffer(arrays[name], np.dtype(e["dtype"])).reshape(e["shape"]).copy()
    change(values)
    path = tmp_path / "crafted.snap"
    path.write_bytes(_join(version, header, dict(arrays, **{name: values.tobytes()})))
    return World.restore(path)


# ---- the declaration --------------------------------------------------------------------


def test_a_name_is_declared_once():
    with pytest.raises(ValueError, match="declares 'x' twice"):
        Schema("s", (Table("t", "rows", (Array("x", "int32"),)),), (Array("x", "int32"),))


def test_bad_declarations_are_refused():
    with pytest.raises(ValueError, match="identifier"):
        Array("not a name", "int32")
    with pytest.raises(TypeError):
        Array("x", "nope")
    with pytest.raises(ValueError, match="role"):
        Array("x", "int32", role="sometimes")


def test_kernels_see_the_schema_in_its_order():
    from dod_sim.kernels.tileworld.state import FIELDS

    assert [f[0] for f in FIELDS] == list(TILEWORLD.names())
    assert all(len(TILEWORLD[n].shape) == ndim for n, _, ndim in FIELDS)


def test_allocation_follows_the_schema():
    w = World(CFG)
    for a in TILEWORLD.fields():
        arr = w._arrays[a.name]
        assert arr.dtype == np.dtype(a.dtype), a.name
        assert arr.shape == TILEWORLD.shape(a.name, w.sizes), a.name
    assert w._arrays["x"].shape == (340,)
    assert w._arrays["pools"].shape == (2, CFG.pool, 64)
    # fills: dead rows keep theirs
    assert (w._arrays["target"][300:] == -1).all() and (w._arrays["cache_off"][300:] == -1).all()


def test_describe_names_every_array_and_constraint():
    text = TILEWORLD.describe()
    assert all(name in text for name in TILEWORLD.names())
    assert "disjoint ranges with counts mb_count inside pools" in text


# ---- restore checks the values a kernel indexes with -----------------------------------

MUTANTS = {
    # array: (change, words the error names)
    "mb_start": (lambda v: v.__setitem__(0, 2**40), "outside pools"),
    "mb_count": (lambda v: v.__setitem__(3, CFG.mailbox + 1), "outside [0, 4]"),
    "out_to": (lambda v: v.__setitem__(1, 340), "row index below 340"),
    "tile": (lambda v: v.__setitem__(2, 64), "outside [0, 64)"),
    "target": (lambda v: v.__setitem__(2, -2), "outside [-1, 64)"),
    "x": (lambda v: v.__setitem__(0, np.nan), "not finite"),
    "vx": (lambda v: v.__setitem__(0, np.inf), "not finite"),
    "cache_off": (lambda v: v.__setitem__(0, 2**50), "outside [-1,"),
    "free_slots": (lambda v: v.__setitem__(slice(0, 2), v[0]), "a row twice"),
    "free_meta": (lambda v: v.__setitem__(0, 10**6), "outside [0, 340]"),
    "entered": (lambda v: v.__setitem__(0, 7), "not one of (0, 1)"),
    "counters": (lambda v: v.__setitem__(0, -1), "outside"),
    "out_tick": (lambda v: v.__setitem__(0, 10**6), "outside [0, 20]"),
    "alive": (lambda v: v.__setitem__(slice(None), True), "the number of true elements of alive"),
}


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_crafted_values_are_refused_before_a_tick(tmp_path, saved, name):
    change, words = MUTANTS[name]
    with pytest.raises(SnapshotError) as info:
        _restore_with(tmp_path, saved, name, change)
    err = info.value
    assert err.field.startswith("array "), err
    assert words in str(err), str(err)


def test_overlapping_mailboxes_are_refused(tmp_path, saved):
    (_, _, arrays), w = saved
    counts = w._arrays["mb_count"]
    a, b = np.flatnonzero(counts > 0)[:2]

    def overlap(starts):
        starts[b] = starts[a]
    with pytest.raises(SnapshotError, match=f"rows {min(a, b)} and {max(a, b)} have "
                                            f"overlapping ranges in pools"):
        _restore_with(tmp_path, saved, "mb_start", overlap)


def test_pool_buffer_index_is_checked(tmp_path, saved):
    with pytest.raises(SnapshotError, match="array pi"):
        _restore_with(tmp_path, saved, "pi", lambda v: v.__setitem__(PI.POOL_CUR, 2))


@pytest.mark.parametrize("name, change", [
    ("energy", lambda v: v.__setitem__(0, -123.5)),
    ("x", lambda v: v.__setitem__(0, 3.25)),
    ("seq", lambda v: v.__setitem__(0, v[0] + 1000)),
])
def test_benign_changes_restore_and_tick(tmp_path, saved, name, change):
    w = _restore_with(tmp_path, saved, name, change)
    w.run(5)
    assert w.census()["lost"] == 0


@pytest.mark.parametrize("name", list(GOLDEN))
def test_every_recorded_state_passes_the_checks(name):
    """The states the tick reaches (chaos, hot spots, tiny mailboxes) are all valid:
    the constraints refuse only what a tick cannot make."""
    w = World(Config(**GOLDEN[name], threads=1, deterministic_keys=True))
    with np.load(GOLDEN_PATH) as data:
        for a in TILEWORLD.fields():
            key = f"{name}/{a.name}"
            if key in data.files:
                dst = w._arrays[a.name] if a.saved is None else a.saved.of(w._arrays[a.name],
                                                                           w._arrays)
                if a.name == "arena":
                    continue
                dst[...] = data[key]
    used = int(np.load(GOLDEN_PATH)[f"{name}/arena_meta"][0])
    w._arrays["arena"][:used] = np.load(GOLDEN_PATH)[f"{name}/arena"]
    dims = dict(w.sizes, tick=w.tick)
    assert list(TILEWORLD.violations(w._arrays, dims)) == []


# ---- a column added to a copy of the schema is everywhere -------------------------------


class MoodWorld(World):
    schema = TILEWORLD.with_column(
        "agents", Array("mood", "float32", fill=0.5, doc="how the agent feels",
                        checks=(Finite(), InRange(0.0, 1.0, hi_inclusive=True))))


def test_a_new_column_reaches_every_service(tmp_path):
    cfg = Config(agents=200, side=64, tile_updates=4, seed=3)
    plain, w = World(cfg), MoodWorld(cfg)
    # allocation and the view
    assert w.columns["mood"].shape == (200,) and (w.columns["mood"] == 0.5).all()
    assert not w.columns["mood"].flags.writeable
    # the memory estimate
    grow = memory_estimate(cfg, MoodWorld.schema)["total"] - memory_estimate(cfg)["total"]
    assert grow == 4 * 200
    # the kernels tick it along unchanged (they do not know the column)
    w.run(10)
    plain.run(10)
    # the digest covers it
    d = w.state_digest()
    w._arrays["mood"][7] = 0.25
    assert w.state_digest() != d
    # snapshots carry it, restore brings it back
    path = tmp_path / "mood.snap"
    w.snapshot(path)
    header_names = [e["name"] for e in _split(path.read_bytes())[1]["arrays"]]
    assert "mood" in header_names
    back = MoodWorld.restore(path)
    assert back.columns["mood"][7] == 0.25 and back.state_digest() == w.state_digest()
    # and restore checks it
    w._arrays["mood"][3] = 2.0
    w.snapshot(path)
    with pytest.raises(SnapshotError, match="array mood: element 3 = .* is outside"):
        MoodWorld.restore(path)
    # a plain World refuses the extended file, naming the extra array
    with pytest.raises(SnapshotError, match="mood"):
        World.restore(path)
