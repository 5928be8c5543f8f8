"""dod_sim.pacing's verdict cache: a probe's verdict is kept on disk, keyed by what
decides it, and read back instead of probing again; a bad file is ignored and rewritten;
DOD_SIM_PROBE_CACHE=0 turns it off. No timings: the probes are counted, not timed."""

import json
import os
import stat
import time

import pytest

from dod_sim import Config, World, pacing, runtime
from dod_sim.errors import ArenaExhausted

CACHED = " (cached verdict)"


CORES = runtime.default_threads()
REAL_PROBE = pacing._probe  # its lru_cache, cleared around each test
several_cores = pytest.mark.skipif(CORES < 2, reason="one core: no probe")


@pytest.fixture(autouse=True)
def cache_file(tmp_path, monkeypatch):
    """Every test gets its own cache file and an empty memory."""
    path = tmp_path / "cache" / "verdicts.json"
    monkeypatch.setenv(pacing.PROBE_CACHE_ENV, str(path))
    monkeypatch.setattr(pacing, "_memo", {})
    monkeypatch.setattr(pacing, "_parsed", {})
    REAL_PROBE.cache_clear()
    yield path
    REAL_PROBE.cache_clear()


@pytest.fixture
def probes(monkeypatch):
    """Replace the tileworld probe by one that counts its calls, [(config, cores)], on
    a machine of 2 cores (the probe runs only where there is more than one)."""
    calls = []
    monkeypatch.setattr(runtime, "default_threads", lambda: 2)

    def fake(config, cores, world_class):
        calls.append((config, cores))
        return 1, {"threads": 1, "how": "measured: probe, lowest p90 tick",
                   "probe_p90_ms": {"1": 0.5, "2": 0.9}}

    monkeypatch.setattr(pacing, "_probe", fake)
    return calls


class FakeModelWorld:
    """What model_threads needs of a world: ``run(steps, stats=False)`` and ``threads``."""

    def __init__(self, threads):
        self.threads = threads

    def run(self, steps, stats=True):
        pass


def counting_make(calls):
    def make(threads):
        calls.append(threads)
        return FakeModelWorld(threads)
    return make


def new_process():
    """Forget what this process read or wrote: the next look-up reads the file."""
    pacing._memo.clear()
    pacing._parsed.clear()


def config(**kw):
    return Config(**{"agents": 3000, "seed": 1, **kw})


# ---- reuse ---------------------------------------------------------------------------


def test_a_world_verdict_is_written_then_reused_without_probing(probes, cache_file):
    n, first = pacing.choose_threads(config(), World)
    assert len(probes) == 1 and n == 1 and first["how"] == "measured: probe, lowest p90 tick"
    assert cache_file.exists()
    # another seed, another run length, the same bucket: the same verdict, no probe
    new_process()  # read from the file
    n2, again = pacing.choose_threads(config(seed=9, ticks=10, agents=2500), World)
    assert len(probes) == 1 and n2 == n
    assert again["how"] == first["how"] + CACHED
    assert again["probe_p90_ms"] == first["probe_p90_ms"]
    assert again["probe_cache"]["file"] == str(cache_file)
    # and from memory, in the same process
    assert pacing.choose_threads(config(seed=10), World)[1]["how"].endswith(CACHED)
    assert len(probes) == 1


def test_a_model_verdict_is_written_then_reused_without_probing():
    made = []
    n, first = pacing.model_threads(counting_make(made), 10_000, 2, key="dod_sim_model_m_1")
    assert made == [2] and first["how"] == "measured: probe, lower median step"
    new_process()
    n2, again = pacing.model_threads(counting_make(made), 12_000, 2, key="dod_sim_model_m_1")
    assert made == [2], "the second world of the same model and bucket probed again"
    assert (n2, again["threads"]) == (n, first["threads"])
    assert again["how"] == first["how"] + CACHED
    assert again["probe_step_ms"] == first["probe_step_ms"]


def test_a_model_without_a_key_probes_every_time_as_before(cache_file):
    made = []
    for _ in range(2):
        assert not pacing.model_threads(counting_make(made), 10_000, 2)[1]["how"].endswith(CACHED)
    assert made == [2, 2] and not cache_file.exists()


def test_a_cached_choice_is_a_copy(probes):
    pacing.choose_threads(config(), World)
    _, a = pacing.choose_threads(config(), World)
    a["probe_p90_ms"]["1"] = -1.0
    a.setdefault("phase_threads", {})["act"] = 1
    _, b = pacing.choose_threads(config(), World)
    assert b["probe_p90_ms"]["1"] == 0.5 and "phase_threads" not in b


@several_cores
def test_a_real_world_reuses_its_plan():
    small = dict(agents=300, side=256, tile_updates=16)
    first = World(Config(seed=3, **small))
    second = World(Config(seed=4, **small))
    assert not first.threads_choice["how"].endswith(CACHED)
    assert second.threads_choice["how"] == first.threads_choice["how"] + CACHED
    assert (second.threads, second.phase_threads) == (first.threads, first.phase_threads)
    second.run(2)


@several_cores
def test_a_model_world_reuses_its_verdict():
    from dod_sim.models import wealth

    first = wealth.world(3000, seed=1)
    second = wealth.world(3500, seed=2)
    assert not first.threads_choice["how"].endswith(CACHED)
    assert second.threads_choice["how"] == first.threads_choice["how"] + CACHED
    assert second.threads == first.threads
    assert second.threads_choice["probe_step_ms"] == first.threads_choice["probe_step_ms"]
    assert second.tick == 0


@several_cores
def test_a_stopped_probe_is_not_kept(cache_file):
    cfg = Config(agents=300, side=256, tile_updates=16, seed=3, arena_bytes=64 * 5)
    for _ in range(2):
        w = World(cfg)
        assert w.threads_choice["how"] == "every core (the probe stopped: ArenaExhausted)"
        with pytest.raises(ArenaExhausted):
            w.run(50)
    assert not cache_file.exists()


# ---- the keys ------------------------------------------------------------------------


def test_keys_differ_by_bucket_cores_kind_and_machine_but_not_within_a_bucket():
    key = lambda agents, cores=2, ident="m": pacing.probe_key("model", ident, agents, cores)[0]
    assert key(4096) == key(8191) != key(8192) == key(16_383) != key(16_384)
    assert key(3000) != key(3000, cores=4)
    assert key(3000, ident="m") != key(3000, ident="n")
    assert pacing.probe_key("model", "m", 3000, 2)[0] != pacing.probe_key("world", "m", 3000, 2)[0]
    label = pacing.probe_key("model", "m", 3000, 2)[1]
    assert label.startswith("model m, 2048-4095 agents, 2 cores")


def test_world_keys_follow_the_fields_that_shape_a_tick():
    k = lambda **kw: pacing._world_key(config(**kw), World, 2)[0]
    base = k()
    # not in the key: the seed, the run's length, the blocking pool, agents in the bucket
    assert base == k(seed=5) == k(ticks=7) == k(blocking_threads=2) == k(agents=2049)
    # in the key: the bucket, the workload, pacing (up to the probe's 20 ms period)
    assert len({base, k(agents=5000), k(side=512), k(send_rate=0.1), k(tick_ms=10),
                k(capacity=10_000), k(kill_rate=0.01)}) == 7
    assert k(tick_ms=20) == k(tick_ms=50) != k(tick_ms=10)
    assert pacing._world_key(config(), type("Sub", (World,), {}), 2)[0] != base
    assert pacing._world_key(config(), World, 4)[0] != base


def test_keys_differ_by_cores_in_the_file(probes, monkeypatch):
    pacing.choose_threads(config(), World)
    monkeypatch.setattr(runtime, "default_threads", lambda: 4)
    _, how = pacing.choose_threads(config(), World)
    assert len(probes) == 2 and probes[1][1] == 4 and not how["how"].endswith(CACHED)


# ---- the file ------------------------------------------------------------------------


@pytest.mark.parametrize("content", [
    b"", b"not json {", b"\xff\xfe\x00", b"[1, 2, 3]", b'{"format": "other", "entries": {}}',
    b'{"format": "dod_sim probe verdicts 1", "entries": []}', b"[" * 100_000,
    b"{" + b" " * (1 << 21) + b"}",  # too large
])
def test_a_corrupt_or_foreign_file_is_ignored_and_rewritten(probes, cache_file, content):
    cache_file.parent.mkdir(parents=True)
    cache_file.write_bytes(content)
    assert pacing.choose_threads(config(), World)[0] == 1 and len(probes) == 1
    data = json.loads(cache_file.read_text())
    assert data["format"] == "dod_sim probe verdicts 1" and len(data["entries"]) == 1
    new_process()
    assert pacing.choose_threads(config(), World)[1]["how"].endswith(CACHED)
    assert len(probes) == 1


def test_a_verdict_another_process_wrote_is_seen(probes, cache_file, tmp_path):
    pacing.choose_threads(config(), World)  # this process has read and written the file
    key, label = pacing._world_key(config(side=512), World, 2)
    data = json.loads(cache_file.read_text())
    data["entries"][key] = {"written": time.time(), "label": label,
                            "choice": {"threads": 2, "how": "measured: elsewhere"}}
    (tmp_path / "other.json").write_text(json.dumps(data))
    os.replace(tmp_path / "other.json", cache_file)  # as _remember writes
    n, how = pacing.choose_threads(config(side=512), World)
    assert (n, how["how"], len(probes)) == (2, "measured: elsewhere" + CACHED, 1)


@pytest.mark.parametrize("choice", [
    None, "1", {"threads": 0, "how": "measured"}, {"threads": 3, "how": "measured"},
    {"threads": True, "how": "measured"}, {"threads": "1", "how": "measured"},
    {"threads": 1}, {"threads": 1, "how": "every core (the probe stopped: X)"},
    {"threads": 2, "how": "measured", "phase_threads": {"act": 0}},
    {"threads": 2, "how": "measured", "phase_threads": [1]},
])
def test_a_bad_entry_is_measured_again(probes, cache_file, choice):
    key, label = pacing._world_key(config(), World, 2)
    cache_file.parent.mkdir(parents=True)
    cache_file.write_text(json.dumps({"format": "dod_sim probe verdicts 1", "entries": {
        key: {"written": time.time(), "label": label, "choice": choice}}}))
    assert pacing.choose_threads(config(), World)[1]["how"] == "measured: probe, lowest p90 tick"
    assert len(probes) == 1


def test_an_old_verdict_is_measured_again(probes, cache_file):
    pacing.choose_threads(config(), World)
    data = json.loads(cache_file.read_text())
    for e in data["entries"].values():
        e["written"] -= 31 * 86400
    cache_file.write_text(json.dumps(data))
    new_process()
    assert not pacing.choose_threads(config(), World)[1]["how"].endswith(CACHED)
    assert len(probes) == 2


def test_the_file_is_private_and_bounded(probes, cache_file, monkeypatch):
    monkeypatch.setattr(pacing, "PROBE_CACHE_ENTRIES", 3)
    for side in (256, 512, 1024, 2048, 4096):
        pacing.choose_threads(config(side=side), World)
    data = json.loads(cache_file.read_text())
    assert len(data["entries"]) == 3
    kept = {e["label"] for e in data["entries"].values()}
    assert all(label.startswith("world dod_sim.world.World, 2048-4095 agents") for label in kept)
    newest = {pacing._world_key(config(side=s), World, 2)[0] for s in (1024, 2048, 4096)}
    assert set(data["entries"]) == newest
    assert stat.S_IMODE(cache_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(cache_file.parent.stat().st_mode) & 0o077 == 0
    assert [p.name for p in cache_file.parent.iterdir()] == [cache_file.name]  # no temp left


def test_a_file_that_cannot_be_written_costs_only_a_probe(probes, cache_file):
    cache_file.mkdir(parents=True)  # a directory where the file should be
    for _ in range(2):
        assert pacing.choose_threads(config(), World)[0] == 1
    assert len(probes) == 1  # remembered in this process all the same
    assert list(cache_file.parent.iterdir()) == [cache_file]


def test_a_link_is_not_followed(probes, cache_file, tmp_path):
    elsewhere = tmp_path / "elsewhere.json"
    pacing.choose_threads(config(), World)
    os.replace(cache_file, elsewhere)
    cache_file.symlink_to(elsewhere)
    new_process()
    assert not pacing.choose_threads(config(), World)[1]["how"].endswith(CACHED)
    assert len(probes) == 2 and not cache_file.is_symlink()  # replaced by a file of ours


# ---- off, and where ------------------------------------------------------------------


@pytest.mark.parametrize("off", ["0", "off", "false", "no", "OFF"])
def test_the_cache_is_off_by_env_var(probes, cache_file, monkeypatch, off):
    monkeypatch.setenv(pacing.PROBE_CACHE_ENV, off)
    assert pacing.probe_cache_path() is None
    for seed in (1, 2):
        assert not pacing.choose_threads(config(seed=seed), World)[1]["how"].endswith(CACHED)
    assert len(probes) == 2 and not cache_file.parent.exists()
    made = []
    for _ in range(2):
        pacing.model_threads(counting_make(made), 10_000, 2, key="m")
    assert made == [2, 2]


def test_the_default_place(monkeypatch, tmp_path):
    monkeypatch.delenv(pacing.PROBE_CACHE_ENV)
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "nb"))
    assert pacing.probe_cache_path() == tmp_path / "nb" / "dod_sim_probe" / "verdicts.json"
    monkeypatch.setenv(pacing.PROBE_CACHE_ENV, "1")
    assert pacing.probe_cache_path() == tmp_path / "nb" / "dod_sim_probe" / "verdicts.json"
    monkeypatch.delenv("NUMBA_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert pacing.probe_cache_path() == tmp_path / "xdg" / "dod_sim" / "dod_sim_probe" / \
        "verdicts.json"
