"""A/B: the tileworld's tick in two environments (two commits), alternated in one run.

    python asv_benchmarks/ab.py OLD_PYTHON NEW_PYTHON [--pairs 7] [--quick] [--json]

Each interpreter must import its own ``dod_sim`` (a virtual environment per commit,
each with its own ``NUMBA_CACHE_DIR``). For every row (agents x threads) the two are
run in turn, ``pairs`` times, each run a fresh process that builds the world, warms it
and times ``ticks`` ticks; the figure is the median of the pairs' ratios of median tick
time (old / new: above 1 the new commit is faster). Alternating in one run keeps a
machine's drift out of the ratio; the host is printed with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

ROWS = [(3000, 1, 400), (3000, 2, 400), (30_000, 1, 120), (30_000, 2, 120),
        (300_000, 1, 30), (300_000, 2, 30)]

_CHILD = """
import json, sys
import numpy as np
from dod_sim import Config, World
agents, threads, ticks = map(int, sys.argv[1:4])
w = World(Config(agents=agents, threads=threads, seed=1))
w.run(max(5, ticks // 10))
r = w.run(ticks)
print(json.dumps({"p50_ms": float(np.median(r.tick_ns)) / 1e6}))
"""


def _one(python: str, agents: int, threads: int, ticks: int, cache: str) -> float:
    env = dict(os.environ, NUMBA_CACHE_DIR=cache)
    out = subprocess.run([python, "-c", _CHILD, str(agents), str(threads), str(ticks)],
                         env=env, capture_output=True, text=True, check=True, cwd="/")
    return json.loads(out.stdout.strip().splitlines()[-1])["p50_ms"]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("old")
    p.add_argument("new")
    p.add_argument("--old-cache", default=os.path.expanduser("~/.cache/dod_sim_ab/old"))
    p.add_argument("--new-cache", default=os.path.expanduser("~/.cache/dod_sim_ab/new"))
    p.add_argument("--pairs", type=int, default=7)
    p.add_argument("--quick", action="store_true", help="the first two rows, 3 pairs")
    p.add_argument("--json", action="store_true")
    a = p.parse_args(argv)
    rows = ROWS[:2] if a.quick else ROWS
    pairs = 3 if a.quick else a.pairs
    for python, cache in ((a.old, a.old_cache), (a.new, a.new_cache)):  # compile once
        _one(python, 64, 1, 2, cache)
    host = subprocess.run([a.new, "-c", "from dod_sim import runtime; import json; "
                           "print(json.dumps(runtime.cpu()))"], capture_output=True,
                          text=True, check=True, cwd="/").stdout.strip()
    if not a.json:
        print(f"host: {host}", flush=True)
    result = []
    for agents, threads, ticks in rows:
        old, new = [], []
        for _ in range(pairs):
            old.append(_one(a.old, agents, threads, ticks, a.old_cache))
            new.append(_one(a.new, agents, threads, ticks, a.new_cache))
        ratios = [o / n for o, n in zip(old, new)]
        result.append({"agents": agents, "threads": threads, "old_p50_ms": statistics.median(old),
                       "new_p50_ms": statistics.median(new),
                       "speed_new_over_old": statistics.median(ratios)})
        if not a.json:
            r = result[-1]
            print(f"{agents:>9,} agents {threads} thr  old {r['old_p50_ms']:8.3f} ms  "
                  f"new {r['new_p50_ms']:8.3f} ms  new/old speed {r['speed_new_over_old']:.3f}",
                  flush=True)
    if a.json:
        print(json.dumps({"host": json.loads(host), "rows": result}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
