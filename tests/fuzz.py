"""A value-level snapshot fuzzer: mutate one saved array of a snapshot at a time,
recompute the checksum (what an attacker who rewrites a file can do), then restore and
tick every mutant in a subprocess.

Mutation kinds, for every saved array and several positions in it: -1, the dtype's
maximum, the first value past a declared bound (``InRange``/``RowIndex``: its ``hi``;
otherwise the array's length), NaN and +inf for floats, an element copied from its
neighbour (a duplicate free slot, overlapping mailbox ranges, a broken ring or
permutation) and a benign change that keeps every declared constraint (a value already
present elsewhere in a float array of finite, in-range values). Each mutant's outcome:

* ``refused``: restore raised SnapshotError;
* ``ran``: restored and ticked;
* ``error:<type>``: restore or the ticks raised anything else (a defect: a refusal must
  be a SnapshotError, and a restored world must tick);
* ``crash``: the process died (a signal, a segfault); ``hang``: a batch exceeded its time.

``python tests/fuzz.py WORKER kind files...`` is the subprocess side: one JSON line per
mutant, written before the next starts, so a crash names its mutant.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from snapfile import _join, _split  # noqa: E402

KINDS = ("minus_one", "max", "past_bound", "nan", "inf", "duplicate", "benign")
TICKS = 3


# ---- the worlds ------------------------------------------------------------------------


def build(kind: str):
    """A small world of ``kind`` after a few ticks (its snapshot is the seed)."""
    from dod_sim import Config, World
    from dod_sim.model import ModelWorld

    if kind == "tileworld":
        w = World(Config(agents=64, side=32, tile_updates=4, seed=3, threads=1,
                         kill_rate=0.05, tamper_rate=0.2, tag_tamper_rate=0.1,
                         hotspot_share=0.5, hotspot_ticks=4))
        w.run(6)
        return w
    if kind == "wealth":
        from dod_sim.models import wealth

        w = wealth.world(40, seed=3, threads=1, width=6, height=6)
    elif kind == "schelling":
        from dod_sim.models import schelling

        w = schelling.world(40, seed=3, threads=1)
    elif kind == "life":
        from test_population import LIFE

        w = ModelWorld(LIFE, 40, seed=3, threads=1, capacity=120)
    else:
        raise KeyError(kind)
    w.run(4, stats=False)
    return w


def restore(kind: str, path):
    from dod_sim import World
    from dod_sim.model import ModelWorld

    if kind == "tileworld":
        return World.restore(path)
    if kind == "life":
        from test_population import LIFE

        return ModelWorld.restore(path, LIFE)
    from dod_sim.models import MODELS

    return ModelWorld.restore(path, MODELS[kind].MODEL)


def tick(world):
    if hasattr(world, "model"):
        world.run(TICKS, stats=False)
    else:
        world.run(TICKS)


# ---- mutants ---------------------------------------------------------------------------


def _bound(world, name, a):
    """The first value past ``name``'s declared upper bound, else its length."""
    from dod_sim.schema import Entry, InRange

    spec = world.schema[name]
    for c in spec.checks:
        c = c.check_ if isinstance(c, Entry) else c
        if isinstance(c, InRange):
            lo, hi = c.bounds(world.sizes)
            if isinstance(hi, (int, float, np.integer, np.floating)) and np.isfinite(hi):
                return hi + (1 if c.hi_inclusive else 0)
    return a.shape[0] if a.ndim else 1


def mutants(world, path: Path, out: Path, positions=3):
    """Write every mutant of the snapshot at ``path`` into folder ``out``; returns
    [(file, array, kind, index)]."""
    version, header, arrays = _split(path.read_bytes())
    made = []
    for entry in header["arrays"]:
        name = entry["name"]
        dtype = np.dtype(entry["dtype"])
        if dtype.kind == "b":  # flags: mutate the bytes (2 and 255 are not booleans)
            dtype = np.dtype(np.uint8)
        base = np.frombuffer(arrays[name], dtype).copy()
        if base.size == 0 or dtype.kind not in "iuf":
            continue
        spots = sorted({0, base.size - 1} | set(np.linspace(0, base.size - 1, positions)
                                                  .astype(np.int64).tolist()))[:positions]
        for kind in KINDS:
            if kind in ("nan", "inf") and dtype.kind != "f":
                continue
            if kind == "benign" and (dtype.kind != "f" or not np.isfinite(base).all()
                                     or world.schema[name].role != "state"):
                continue  # a derived array must equal a fresh world's: any change is refused
            for k in spots:
                a = base.copy()
                if kind == "minus_one":
                    a[k] = -1 if dtype.kind in "if" else np.iinfo(dtype).max
                elif kind == "max":
                    a[k] = np.iinfo(dtype).max if dtype.kind in "iu" else np.finfo(dtype).max
                elif kind == "past_bound":
                    try:
                        a[k] = _bound(world, name, a)
                    except (KeyError, OverflowError, ValueError):
                        continue
                elif kind == "nan":
                    a[k] = np.nan
                elif kind == "inf":
                    a[k] = np.inf
                elif kind == "duplicate":
                    if base.size < 2:
                        continue
                    a[k] = a[k - 1] if k else a[1]
                elif kind == "benign":
                    if base.size < 2:
                        continue
                    a[k] = a[(k + 1) % base.size]  # a value the array already holds
                if np.array_equal(a, base, equal_nan=dtype.kind == "f"):
                    continue
                f = out / f"{len(made):05d}.snap"
                f.write_bytes(_join(version, header, dict(arrays, **{name: a.tobytes()})))
                made.append((str(f), name, kind, int(k)))
    return made


# ---- running them ----------------------------------------------------------------------


def worker(kind: str, files) -> None:
    """The subprocess: restore and tick each file, one JSON line each."""
    import warnings

    from dod_sim.errors import SnapshotError

    warnings.simplefilter("ignore")
    for f in files:
        print(json.dumps({"file": f, "started": True}), flush=True)
        try:
            w = restore(kind, f)
        except SnapshotError:
            outcome = "refused"
        except Exception as e:  # noqa: BLE001 - the defect being looked for
            outcome = f"error:{type(e).__name__}:restore:{str(e)[:120]}"
        else:
            try:
                tick(w)
                outcome = "ran"
            except Exception as e:  # noqa: BLE001
                outcome = f"error:{type(e).__name__}:tick:{str(e)[:120]}"
        print(json.dumps({"file": f, "outcome": outcome}), flush=True)


def run(kind: str, files, batch=200, timeout=60.0, env=None) -> dict:
    """{file: outcome} of every file, in subprocesses of ``batch`` files; a batch
    that dies marks its current file ``crash`` and goes on from the next."""
    results = {}
    todo = list(files)
    env = dict(os.environ if env is None else env)
    env.pop("NUMBA_BOUNDSCHECK", None)  # a bad index must be able to crash here
    while todo:
        chunk = todo[:batch]
        try:
            p = subprocess.run([sys.executable, str(Path(__file__)), "WORKER", kind, *chunk],
                               capture_output=True, text=True, timeout=timeout, env=env)
            lines, died = p.stdout.splitlines(), p.returncode != 0
        except subprocess.TimeoutExpired as e:
            out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
            lines, died = out.splitlines(), "hang"
        current = None
        for line in lines:
            rec = json.loads(line)
            if "outcome" in rec:
                results[rec["file"]] = rec["outcome"]
                current = None
            else:
                current = rec["file"]
        if died:
            culprit = current or next((f for f in chunk if f not in results), None)
            if culprit is None:
                break
            results[culprit] = "hang" if died == "hang" else "crash"
        todo = [f for f in todo if f not in results]
    return results


def summary(made, results) -> dict:
    """Counts by outcome, and the mutants of each outcome that is a defect."""
    counts, defects = {}, []
    for f, name, kind, k in made:
        o = results.get(f, "missing")
        key = o.split(":")[0]
        counts[key] = counts.get(key, 0) + 1
        if key not in ("refused", "ran") or (kind == "benign" and key != "ran"):
            defects.append((name, kind, k, o))
    return {"counts": counts, "defects": defects, "mutants": len(made)}


if __name__ == "__main__" and len(sys.argv) > 2 and sys.argv[1] == "WORKER":
    worker(sys.argv[2], sys.argv[3:])
