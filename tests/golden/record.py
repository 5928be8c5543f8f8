"""Record the tileworld's state after 600 ticks for the configurations of GOLDEN.

Run at commit 53c2bd2 (the last commit before the tileworld moved onto the one engine)
as ``python tests/golden/record.py``; it wrote ``tileworld_53c2bd2.npz``, which
``tests/test_golden.py`` compares array by array with today's tick on 1 and 2 threads.
Every array a snapshot holds is stored (the live half of the mailbox pool, the used part
of the arena), keyed ``<config>/<array>``.
"""

from pathlib import Path

import numpy as np

# The four configurations: plain, chaos (kills, tampered tiles and tags), hot spots,
# tiny mailboxes (deferrals and retries every tick). Small enough to tick 600 times in
# a second or two; epoch_ticks=160: the arena rotates three times and holds 120 ticks of
# slices at the end.
BASE = dict(agents=600, side=128, tile_updates=12, epoch_ticks=160, ticks=600)
GOLDEN = {
    "plain": dict(BASE, seed=11),
    "chaos": dict(BASE, seed=12, kill_rate=0.005, tamper_rate=0.05, tag_tamper_rate=0.05,
                  capacity=700),
    "hotspot": dict(BASE, seed=13, hotspot_share=0.5, hotspot_ticks=40, hotspot_start=50,
                    hotspot_target=7, hotspot_every=200),
    "tiny_mailboxes": dict(BASE, seed=14, mailbox=2, inbox_budget=1, pool_records=300,
                           send_rate=0.9),
}
TICKS = 600
PATH = Path(__file__).with_name("tileworld_53c2bd2.npz")


def main():
    from dod_sim import Config, World
    from dod_sim.snapshot import _saved_parts

    out = {}
    for name, kw in GOLDEN.items():
        w = World(Config(**kw, threads=1))
        w.run(TICKS)
        for arr_name, _part, arr in _saved_parts(w._arrays):
            out[f"{name}/{arr_name}"] = np.ascontiguousarray(arr).copy()
    np.savez_compressed(PATH, **out)
    print(f"wrote {PATH} ({PATH.stat().st_size} bytes, {len(out)} arrays)")


if __name__ == "__main__":
    main()
