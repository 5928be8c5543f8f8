"""How many threads each phase of a world should run on, measured rather than assumed.

Every parallel region wakes the sleeping workers (``OMP_WAIT_POLICY=PASSIVE``, the
default here), and what a wake costs belongs to the machine: 9-44 us on the Zen 3 VM
this project started on, about 50 us on the Zen 5 VM of 2026-11-27, where a
3,000-agent tick ran 0.42 ms on 1 thread and 0.63 ms on 2, delivery (then four
regions) taking 51 us on one thread and 265 us on two while act, one region, gained. The
phase's share of the work decides the rest. So a world whose ``Config.threads`` is None
and that has at most :data:`PROBE_MAX_AGENTS` agents runs a short probe of its own
configuration (paced like it, so idle workers fall asleep between ticks as they will):
batches of ticks alternating 1 thread and every core, then a plan that runs each phase
on the count that was faster for it by a clear margin (5 % and 2 us; the world's count
where neither was), kept only if its ticks are faster at the 90th percentile than the
better uniform count's in a second alternation. The choice and its figures are reported
(``World.threads_choice``, ``Report.threads_choice``); ``Config.threads`` overrides it
with one count for every phase. Results never depend on the plan: chunks are fixed
sizes, never derived from the thread count.

A probe costs 5-80 ms at 10,000 agents (over a second for a ``World`` of 100,000),
building such a world without it about 1 ms (a model's) to 15 ms (a ``World`` of
3,000), and a sweep builds thousands of them. So a probe's verdict is kept on disk
(:func:`probe_cache_path`), keyed by what decides it: the world's kind (a ``World``
class and the fields of its config that shape a tick; a model's generated module,
which names the model and hashes its code), the agent count's power-of-two bucket, the
cores, the CPU (model and microarchitecture), the threading layer and its wait policy
and the versions of dod_sim and Numba. The first world of a kind and bucket pays the
probe; later ones, in any process, read the verdict, and their
``threads_choice["how"]`` ends with "(cached verdict)" (``probe_cache`` names the file
and when the verdict was written). Verdicts older than 30 days are measured again, and
the file keeps the newest :data:`PROBE_CACHE_ENTRIES`. A probe that stopped on an error
is never kept. ``DOD_SIM_PROBE_CACHE=0`` turns the cache off (every world probes, as
before); any other value but ``1`` is the path of the file to use.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import stat
import tempfile
import time
from pathlib import Path

import numpy as np

from . import runtime
from .errors import DodSimError

__all__ = ["choose_threads", "model_threads", "PROBE_TICKS", "PROBE_MAX_AGENTS",
           "PROBE_CACHE_ENV", "PROBE_CACHE_ENTRIES", "probe_cache_path", "probe_key"]

PROBE_TICKS = 12  # ticks per plan in each of the probe's (at most two) comparisons
PROBE_MAX_AGENTS = 100_000  # beyond this every phase (or model) has work for every core
_PROBE_BATCH = 4  # ticks per batch; plans alternate batch by batch
_PROBE_PERIOD_MS = 20.0  # long enough for idle workers to fall asleep, short to wait
_MIN_GAIN, _MIN_GAIN_MS = 0.05, 0.002  # a clear margin: 5 % of a phase's time and 2 us
_MODEL_BATCH_ROWS = 20_000  # agent-steps a model probe batch: about 0.1-1 ms
_MODEL_ROUNDS = 3

PROBE_CACHE_ENV = "DOD_SIM_PROBE_CACHE"  # "0"/"off": no cache; a path: that file
PROBE_CACHE_ENTRIES = 256  # verdicts the file keeps (the newest): under 200 KiB
_CACHE_FILE = ("dod_sim_probe", "verdicts.json")  # a directory of ours (0700), the file
_CACHE_FORMAT = "dod_sim probe verdicts 1"
_CACHE_MAX_BYTES = 1 << 20  # a larger file is not ours: ignored, then rewritten
_CACHE_MAX_AGE_S = 30 * 86400  # the machine (a VM's host) may change under the same name
_CACHED = " (cached verdict)"
_memo = {}  # {(file, key): entry}: verdicts this process read or wrote
_parsed = {}  # {file: ((device, inode, size, mtime), entries)}: the file as last read


def choose_threads(config, world_class) -> tuple[int, dict]:
    """(threads, how) for a world of ``config``; ``how`` says what decided it and, when
    some phases run on fewer threads than the world, names them in ``phase_threads``.

    world_class : what the probe builds (``world_class(config)``, with ``run``,
    ``schedule``, ``threads`` and ``phase_threads``): the caller's own class, so this
    service imports no world."""
    cores = runtime.default_threads()
    if config.threads is not None:
        n = runtime.resolve_threads(config.threads)
        return n, {"threads": n, "how": "set by config"}
    if cores == 1:
        return 1, {"threads": 1, "how": "one core"}
    if config.agents > PROBE_MAX_AGENTS:
        return cores, {"threads": cores, "how": f"every core (more than {PROBE_MAX_AGENTS} agents)"}
    key, label = _world_key(config, world_class, cores)
    hit = _recall(key, cores)
    if hit is not None:
        return hit
    try:
        threads, how = _probe(config, cores, world_class)
    except (DodSimError, RuntimeError) as e:
        return _stopped(cores, e)
    _remember(key, label, how, cores)
    return threads, how


def _stopped(cores, e) -> tuple[int, dict]:
    """Every core, when a probe's own run failed: the world's run will raise it."""
    return cores, {"threads": cores, "how": f"every core (the probe stopped: {type(e).__name__})"}


@functools.lru_cache(maxsize=32)
def _probe(config, cores, world_class) -> tuple[int, dict]:
    """Measure 1 thread, ``cores`` threads and the per-phase plan on a world of
    ``config`` (paced at up to 20 ms when ``config`` is paced)."""
    period = min(_PROBE_PERIOD_MS, config.tick_ms) if config.tick_ms > 0 else 0.0
    w = world_class(config.replace(threads=cores, tick_ms=period))
    w.run(2)  # load every kernel and touch the pages before timing
    names = [p.name for p in w.schedule]
    uniform = {"1": dict.fromkeys(names, 1), str(cores): dict.fromkeys(names, cores)}
    ticks, phases = _alternate(w, uniform)
    med = {k: np.median(v, axis=0) for k, v in phases.items()}
    # A count wins a phase only by a clear margin: a serial phase (end) measures the
    # same either way, and each switch of the thread count costs about 1 us. The others
    # run on the world's count: every core if any phase gains from it, else one.
    gain = med["1"] - med[str(cores)]
    margin = np.maximum(_MIN_GAIN * med["1"], _MIN_GAIN_MS)
    top = cores if (gain > margin).any() else 1
    mixed = {n: cores if gain[j] > margin[j] else 1 if gain[j] < -margin[j] else top
             for j, n in enumerate(names)}
    p90 = {k: float(np.percentile(v, 90)) for k, v in ticks.items()}
    best = min(p90, key=lambda k: (p90[k], int(k)))
    how = {"how": "measured: probe, lowest p90 tick",
           "probe_p90_ms": dict(p90),
           "probe_phase_ms": {k: dict(zip(names, np.round(v, 4).tolist())) for k, v in med.items()}}
    if mixed not in uniform.values():
        # against the better uniform plan, alternating again: the machine drifts
        again, _ = _alternate(w, {best: uniform[best], "per phase": mixed})
        p90_best = float(np.percentile(again[best], 90))
        p90_mixed = float(np.percentile(again["per phase"], 90))
        how["probe_p90_ms"]["per phase"] = p90_mixed
        if p90_mixed < p90_best:
            return cores, {"threads": cores, **how,
                           "phase_threads": {n: k for n, k in mixed.items() if k != cores}}
    n = int(best)
    return n, {"threads": n, **how}


def _alternate(world, plans: dict) -> tuple[dict, dict]:
    """Run ``world`` in batches under each plan in turn ({name: {phase: threads}}),
    :data:`PROBE_TICKS` ticks a plan. Returns ({name: tick ms}, {name: phase
    ms per tick, shape (ticks, phases)})."""
    ticks = {k: [] for k in plans}
    phases = {k: [] for k in plans}
    for _ in range(PROBE_TICKS // _PROBE_BATCH):
        for k, plan in plans.items():
            world.threads = max(plan.values())
            world.phase_threads = plan
            r = world.run(_PROBE_BATCH)
            ticks[k].append(r.tick_ns / 1e6)
            phases[k].append(r.phase_ns / 1e6)
    return ({k: np.concatenate(v) for k, v in ticks.items()},
            {k: np.concatenate(v) for k, v in phases.items()})


def model_threads(make, agents, cores, *, key: str | None = None) -> tuple[int, dict]:
    """(threads, how) for a model's world of ``agents`` rows: the lower median step time
    of 1 thread and of ``cores`` threads, measured on a world of its own,
    ``make(threads)`` (with ``run(steps, stats=False)`` and ``threads``), in batches
    alternating the two (a model's step is one compiled call, so the count is one for
    the whole step, not per system). Every parallel loop of a step wakes the sleeping
    workers (about 50 us each on the Zen 5 VM): at 10,000 agents Schelling stepped
    faster on 1 thread and boids on 2, and wealth was within 6 % either way. Results
    never depend on the thread count.

    key : what identifies the model's step (its generated module's name, which hashes
    the model's code, and anything else the caller knows to change the verdict): with
    it, the verdict is kept on disk (:func:`probe_cache_path`) for every world of the
    same key, agent-count bucket and machine; None probes every time."""
    label = None
    if key is not None:
        key, label = probe_key("model", str(key), agents, cores)
        hit = _recall(key, cores)
        if hit is not None:
            return hit
    try:
        w = make(cores)
        steps = max(2, -(-_MODEL_BATCH_ROWS // agents))
        w.run(2, stats=False)
        per_step = {1: [], cores: []}
        for _ in range(_MODEL_ROUNDS):
            for k in per_step:
                w.threads = k
                t = time.perf_counter()
                w.run(steps, stats=False)
                per_step[k].append((time.perf_counter() - t) / steps)
    except (DodSimError, RuntimeError) as e:
        return _stopped(cores, e)
    med = {k: float(np.median(v)) for k, v in per_step.items()}
    best = 1 if med[1] <= med[cores] else cores
    how = {"threads": best, "how": "measured: probe, lower median step",
           "probe_step_ms": {str(k): v * 1e3 for k, v in med.items()}}
    if key is not None:
        _remember(key, label, how, cores)
    return best, how


# ---- the verdict cache ------------------------------------------------------------------


def probe_cache_path() -> Path | None:
    """The file of kept verdicts, or None when ``DOD_SIM_PROBE_CACHE`` is 0/off/false/no.
    ``$DOD_SIM_PROBE_CACHE`` when it is a path; else ``dod_sim_probe/verdicts.json``
    under ``$NUMBA_CACHE_DIR``, else under ``$XDG_CACHE_HOME/dod_sim``
    (``~/.cache/dod_sim``)."""
    v = os.environ.get(PROBE_CACHE_ENV, "").strip()
    if v.lower() in ("0", "off", "false", "no"):
        return None
    if v and v.lower() not in ("1", "on", "true", "yes"):
        return Path(v).expanduser()
    if os.environ.get("NUMBA_CACHE_DIR"):
        base = Path(os.environ["NUMBA_CACHE_DIR"])
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "dod_sim"
    return base.joinpath(*_CACHE_FILE)


@functools.lru_cache(maxsize=1)
def _machine() -> tuple:
    """What of the machine and the process decides a verdict, besides the cores."""
    import numba

    from . import __version__

    info = runtime.info()
    return (info["model"], info["arch"], info["threading_layer"], info["omp_wait_policy"],
            __version__, numba.__version__)


def probe_key(kind: str, identity, agents: int, cores: int) -> tuple[str, str]:
    """(key, label) of a verdict: a hash of ``kind``, ``identity`` (JSON-able), the
    power-of-two bucket of ``agents`` (``2**(b-1) <= agents < 2**b``), ``cores`` and
    the machine (CPU model and microarchitecture, threading layer, wait policy, dod_sim
    and Numba versions); the label says the same in words, for whoever reads the file."""
    bucket = int(agents).bit_length()
    what = [kind, identity, bucket, int(cores), *_machine()]
    blob = json.dumps(what, sort_keys=True, default=str, separators=(",", ":"))
    key = hashlib.blake2b(blob.encode(), digest_size=16).hexdigest()
    name = identity if isinstance(identity, str) else identity.get("class", kind) \
        if isinstance(identity, dict) else kind
    label = (f"{kind} {name}, {2 ** (bucket - 1)}-{2 ** bucket - 1} agents, {cores} cores, "
             f"{_machine()[0]} ({_machine()[1]})")
    return key, label


# Config fields that never change a tick's cost: the seed, the run's length, the
# thread count (None here) and the blocking pool of World.submit. agents and capacity
# count by bucket; tick_ms as the probe paces (at most _PROBE_PERIOD_MS).
_NOT_IN_KEY = ("seed", "ticks", "threads", "blocking_threads", "blocking_queue",
               "agents", "capacity", "tick_ms")


def _world_key(config, world_class, cores) -> tuple[str, str]:
    values = config.to_dict()
    fields = {k: v for k, v in values.items() if k not in _NOT_IN_KEY}
    fields["rows_bucket"] = int(config.rows).bit_length()
    fields["period_ms"] = min(_PROBE_PERIOD_MS, config.tick_ms) if config.tick_ms > 0 else 0.0
    cls = f"{world_class.__module__}.{world_class.__qualname__}"
    key, label = probe_key("world", {"class": cls, "config": fields}, config.agents, cores)
    defaults = {f.name: f.default for f in dataclasses.fields(config)}
    changed = [f"{k}={v}" for k, v in fields.items() if k in defaults and v != defaults[k]]
    if fields["period_ms"]:
        changed.append(f"paced {fields['period_ms']:g} ms")
    return key, label + (f"; {', '.join(changed)}" if changed else "")


def _read(path: Path) -> dict:
    """{key: entry} of the file at ``path``; {} when it is absent, unreadable, not a
    regular file of this user, too large or not ours (a later write replaces it)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return {}
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > _CACHE_MAX_BYTES or \
                (hasattr(os, "getuid") and st.st_uid != os.getuid()):
            return {}
        version = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        parsed = _parsed.get(str(path))
        if parsed is not None and parsed[0] == version:
            return parsed[1]  # as parsed last time (each write renames a new file in)
        with os.fdopen(fd, "rb") as f:
            fd = None
            data = json.loads(f.read(_CACHE_MAX_BYTES + 1))
    except (OSError, ValueError, RecursionError):
        return {}
    finally:
        if fd is not None:
            os.close(fd)
    if not isinstance(data, dict) or data.get("format") != _CACHE_FORMAT or \
            not isinstance(data.get("entries"), dict):
        return {}
    _parsed.clear()
    _parsed[str(path)] = (version, data["entries"])
    return data["entries"]


def _valid(entry, cores) -> bool:
    """An entry this code wrote, for a machine of ``cores`` cores."""
    def count(v, hi):
        return isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= hi

    if not isinstance(entry, dict) or not isinstance(entry.get("written"), (int, float)):
        return False
    if not 0 <= time.time() - entry["written"] <= _CACHE_MAX_AGE_S:
        return False
    choice = entry.get("choice")
    if not isinstance(choice, dict) or not isinstance(choice.get("how"), str) \
            or not choice["how"].startswith("measured") or not count(choice.get("threads"), cores):
        return False
    plan = choice.get("phase_threads", {})
    return isinstance(plan, dict) and all(isinstance(k, str) and count(v, cores)
                                          for k, v in plan.items())


def _recall(key: str, cores: int) -> tuple[int, dict] | None:
    """(threads, how) kept for ``key``, or None (no cache, no verdict, or a bad one)."""
    path = probe_cache_path()
    if path is None:
        return None
    entry = _memo.get((str(path), key))
    if entry is None or not _valid(entry, cores):
        entry = _read(path).get(key)
        if not _valid(entry, cores):
            return None
        _memo[(str(path), key)] = entry
    choice = json.loads(json.dumps(entry["choice"]))  # a copy the caller may change
    choice["how"] += _CACHED
    choice["probe_cache"] = {"file": str(path), "written": time.strftime(
        "%Y-%m-%dT%H:%M:%S%z", time.localtime(entry["written"]))}
    return choice["threads"], choice


def _remember(key: str, label: str, choice: dict, cores: int) -> None:
    """Keep ``choice`` for ``key``: in this process, and in the file (merged with what
    other processes wrote meanwhile, the newest :data:`PROBE_CACHE_ENTRIES` kept,
    written to a temporary file and renamed over it). A file that cannot be written
    costs only the next process its probe."""
    path = probe_cache_path()
    if path is None:
        return
    try:
        entry = {"written": time.time(), "label": label,
                 "choice": json.loads(json.dumps(choice))}
    except (TypeError, ValueError):  # not JSON: keep nothing
        return
    if not _valid(entry, cores):
        return
    _memo[(str(path), key)] = entry
    entries = {k: e for k, e in _read(path).items()
               if isinstance(e, dict) and isinstance(e.get("written"), (int, float))}
    entries[key] = entry
    if len(entries) > PROBE_CACHE_ENTRIES:
        keep = sorted(entries, key=lambda k: entries[k]["written"])[-PROBE_CACHE_ENTRIES:]
        entries = {k: entries[k] for k in keep}
    tmp = None
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "w") as f:  # mkstemp: mode 0600
            json.dump({"format": _CACHE_FORMAT, "entries": entries}, f, separators=(",", ":"))
            f.flush()
            st = os.fstat(f.fileno())  # the file's identity, which the rename keeps
        os.replace(tmp, path)
        tmp = None
        _parsed.clear()  # what this process wrote need not be parsed again
        _parsed[str(path)] = ((st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns), entries)
    except (OSError, TypeError, ValueError):
        pass
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
