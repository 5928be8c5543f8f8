"""``dod-sim soak``: a long chaotic run that checks nothing leaks and nothing is lost.

30,000 agents by default, with every kind of chaos at once: agents killed and
respawned, tampered tiles and message tags, and a hot-spot burst each epoch (a share
of all agents messages one agent). The run goes epoch by epoch (``epoch_ticks``);
after each, the resident memory is sampled and the independent message census taken.
The first epoch touches the arena's pages and fills the pool; steady state is the rest,
and resident memory must not grow over it. The conservation identity is checked on
every tick's counters.
"""

from __future__ import annotations

import numpy as np

from .config import Config
from .kernels.tileworld.state import COUNTER_NAMES
from .report import rss_bytes

__all__ = ["soak", "soak_config", "format_soak"]


def soak_config(agents: int = 30_000, seed: int = 0, **overrides) -> Config:
    """The soak's chaos: 0.1 % of agents killed and respawned a tick, 5 % of refreshed
    tiles and 0.1 % of message tags tampered, and a 60-tick hot-spot burst of 20 % of
    all agents at agent 0 in every epoch of 600 ticks, from tick 300."""
    base = dict(agents=agents, seed=seed, kill_rate=0.001, tamper_rate=0.05,
                tag_tamper_rate=0.001, hotspot_share=0.2, hotspot_ticks=60,
                hotspot_start=300, hotspot_every=600, hotspot_target=0, mailbox=256)
    base.update(overrides)
    return Config(**base)


def soak(ticks: int = 6000, config: Config | None = None, progress=None) -> dict:
    """Run ``ticks`` ticks of ``config`` (:func:`soak_config` by default) epoch by epoch.

    Returns a dict of figures and per-epoch series (numpy-friendly lists):
    ``rss_mb`` after each epoch, ``lost`` per census, ``conservation_violations``.
    ``progress(ticks_done, ticks)`` is called after each epoch.
    """
    from .world import World

    cfg = config or soak_config()
    epoch = cfg.epoch_ticks
    idx = [COUNTER_NAMES.index(n) for n in ("sent", "delivered", "deferred", "undeliverable")]
    rss, lost, violations, tick_p99 = [], [], 0, []
    done = 0
    with World(cfg) as w:
        rss_start = rss_bytes()
        while done < ticks:
            k = min(epoch, ticks - done)
            r = w.run(k)
            done += k
            sent, delivered, deferred, undeliverable = (r.counters[:, i] for i in idx)
            violations += int(np.count_nonzero(sent != delivered + deferred + undeliverable))
            lost.append(w.census()["lost"])
            rss.append(rss_bytes() / 2**20)
            tick_p99.append(r.summary()["tick_p99_ms"])
            if progress:
                progress(done, ticks)
        c = w.counters()
    steady = rss[1:] if len(rss) > 1 else rss
    return {
        "agents": cfg.agents, "ticks": done, "epochs": len(rss),
        "messages_sent": c["sent"], "messages_delivered": c["delivered"],
        "messages_undeliverable": c["undeliverable"], "messages_discarded": c["discarded"],
        "messages_deferred": c["deferred"], "messages_lost": int(max(lost, default=0)),
        "agents_killed": c["killed"], "tiles_rejected": c["tiles_rejected"],
        "tags_rejected": c["tags_rejected"], "conservation_violations": violations,
        "rss_start_mb": rss_start / 2**20,
        "rss_steady_start_mb": steady[0] if steady else 0.0,
        "rss_end_mb": rss[-1] if rss else 0.0,
        "rss_growth_mb": (steady[-1] - steady[0]) if steady else 0.0,
        "rss_mb": rss, "lost": lost, "tick_p99_ms": tick_p99,
    }


def format_soak(s: dict) -> str:
    ok = s["messages_lost"] == 0 and s["conservation_violations"] == 0
    return "\n".join([
        f"soak: {s['agents']:,} agents, {s['ticks']:,} ticks ({s['epochs']} epochs) of chaos: "
        f"{s['agents_killed']:,} killed and respawned, {s['tiles_rejected']:,} tiles and "
        f"{s['tags_rejected']:,} tags rejected",
        f"  messages   sent {s['messages_sent']:,}   delivered {s['messages_delivered']:,}   "
        f"undeliverable {s['messages_undeliverable']:,}   discarded with killed agents "
        f"{s['messages_discarded']:,}   held {s['messages_deferred']:,}   lost {s['messages_lost']}",
        f"  conservation checked every tick: {s['conservation_violations']} violations",
        f"  resident   {s['rss_start_mb']:.0f} MB at start, {s['rss_steady_start_mb']:.0f} MB after "
        f"the first epoch, {s['rss_end_mb']:.0f} MB at the end: growth over steady state "
        f"{s['rss_growth_mb']:+.1f} MB",
        f"  {'PASS' if ok else 'FAIL'}",
    ])
