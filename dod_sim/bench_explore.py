"""``dod-sim bench explore``: the web explorer (:mod:`dod_sim.webview`) in headless
Chromium, on this machine's cores, browser included.

* **Frame rate.** The explorer of boids plays, one tick a frame, at most 30 frames a
  second. Counted on the server: the frames sent in answer to the page's requests
  within the window (it starts once the page has drawn), each a distinct frame (its
  sequence number) carrying a tick; the page asks for the next frame only once it has
  drawn the last.
* **Watching a paced run.** The tileworld on the model API (:data:`PACED`: 3,000
  agents, one tick per 50 ms) plays for a while without an explorer, then in the web
  explorer with a page watching it, in alternating pairs; the tick times are the run's
  own, and the figure is watched p99 / unwatched p99.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time

import numpy as np

from . import runtime

__all__ = ["explore_benchmark", "format_explore", "browser", "frame_rate", "paced_p99", "PACED"]


def browser() -> str | None:
    """A Chromium or Chrome binary on PATH, or None."""
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        if path := shutil.which(name):
            return path
    return None


def _page(path: str, url: str, profile: str) -> subprocess.Popen:
    """Headless Chromium showing ``url`` (kill it when done)."""
    return subprocess.Popen(
        [path, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--no-first-run", "--disable-background-networking", f"--user-data-dir={profile}",
         "--remote-debugging-port=0", url],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _counting(web) -> list:
    """Wrap ``web.frame`` to log (time, seq, tick) of every frame sent; returns the log."""
    sent = []
    frame = web.frame

    def counted(after=-1, timeout=1.0):
        blob = frame(after, timeout)
        seq, tick = np.frombuffer(blob[:16], "<i8")
        sent.append((time.perf_counter(), int(seq), int(tick)))
        return blob

    web.frame = counted
    return sent


def _loaded(sent: list, frames: int = 3, limit_s: float = 60.0) -> None:
    """Wait until the page has been sent ``frames`` frames (it loaded and drew)."""
    deadline = time.perf_counter() + limit_s
    while len(sent) < frames and time.perf_counter() < deadline:
        time.sleep(0.1)


def frame_rate(path: str, agents: int, seconds: float) -> dict:
    """Frames a second that a page in ``path`` receives from the explorer of ``agents``
    boids, one tick a frame, over ``seconds`` (module docstring)."""
    from .webview import WebExplorer

    web = WebExplorer("boids", agents, port=0, seed=1)
    sent = _counting(web)
    url = web.start()
    try:
        web.session.play()
        with tempfile.TemporaryDirectory() as profile:
            page = _page(path, url, profile)
            try:
                _loaded(sent)
                t0 = time.perf_counter()
                time.sleep(seconds)
                t1 = time.perf_counter()
            finally:
                page.kill()
                page.wait()
    finally:
        web.close()
    window = [(seq, tick) for t, seq, tick in sent if t0 <= t <= t1]
    ticks = [tick for _, tick in window]
    frames = len({seq for seq, _ in window})
    return {"agents": agents, "seconds": t1 - t0, "frames": frames, "fps": frames / (t1 - t0),
            "repeats": len(window) - frames,
            "ticks_increasing": all(b > a for a, b in zip(ticks, ticks[1:]))}


# The paced run that watching must not disturb (agents, tick_ms): WORKLOAD.md's tick on
# the model API (dod_sim.models.tileworld).
PACED = (3_000, 50.0)


def paced_p99(path: str | None, seconds: float) -> dict:
    """{"p99_ms", "ticks"} of the paced run (:data:`PACED`) played for ``seconds``:
    shown by the web explorer to a page in ``path``, or without any explorer when
    ``path`` is None. The tick times are the run's own (``last_report.tick_ns``)."""
    from .explore import Session
    from .models import tileworld
    from .webview import WebExplorer

    agents, tick_ms = PACED
    kw = dict(seed=1, tick_ms=tick_ms, fps=1e3 / tick_ms)
    web = WebExplorer(tileworld.MODEL, agents, port=0, **kw) if path else None
    session = web.session if web else Session(tileworld.MODEL, agents, **kw)
    session.step(5)  # compiled or loaded, pages touched
    runs = {}
    session.listeners.append(
        lambda s: runs.setdefault(s.world.tick, s.world.last_report.tick_ns.copy()))
    page = None
    with tempfile.TemporaryDirectory() as profile:
        try:
            if web:
                sent = _counting(web)
                page = _page(path, web.start(), profile)
                _loaded(sent)
            runs.clear()
            session.play()
            time.sleep(seconds)
            session.pause()
        finally:
            if page is not None:
                page.kill()
                page.wait()
            if web:
                web.close()
    ns = np.concatenate(list(runs.values())) if runs else np.zeros(1)
    return {"p99_ms": float(np.percentile(ns, 99)) / 1e6, "ticks": int(ns.size)}


def explore_benchmark(quick: bool = False, progress=None) -> dict:
    """``{"frame_rate": frame_rate(...), "paced": {"unwatched": [...], "watched": [...],
    "ratio": median watched / unwatched p99}, "browser", "machine"}``; ``{"skipped":
    why}`` without a browser. 100,000 boids for 30 s and two alternating pairs of 20 s
    paced runs (quick: 10,000 boids for 3 s, one pair of 3 s)."""
    path = browser()
    if path is None:
        return {"skipped": "no Chromium or Chrome on PATH (Debian: apt-get install chromium)"}
    agents, seconds = (10_000, 3.0) if quick else (100_000, 30.0)
    pairs, paced_s = (1, 3.0) if quick else (2, 20.0)
    if progress:
        progress(f"frame rate: boids {agents:,}, {seconds:.0f} s in {path}")
    result = {"frame_rate": frame_rate(path, agents, seconds), "browser": path,
              "machine": runtime.info()}
    paced = {"unwatched": [], "watched": []}
    for k in range(pairs):
        for watched in (False, True):
            if progress:
                progress(f"paced tileworld, {'watched' if watched else 'unwatched'} "
                         f"({k + 1}/{pairs})")
            paced["watched" if watched else "unwatched"].append(
                paced_p99(path if watched else None, paced_s))
    paced["ratio"] = float(np.median([w["p99_ms"] / u["p99_ms"] for u, w in
                                      zip(paced["unwatched"], paced["watched"])]))
    result["paced"] = paced
    return result


def format_explore(result: dict) -> str:
    if "skipped" in result:
        return f"explore: skipped ({result['skipped']})"
    m, f, p = result["machine"], result["frame_rate"], result["paced"]
    agents, tick_ms = PACED
    unwatched = ", ".join(f"{u['p99_ms']:.2f}" for u in p["unwatched"])
    watched = ", ".join(f"{w['p99_ms']:.2f}" for w in p["watched"])
    return "\n".join([
        f"explore: the web explorer in headless Chromium, {m['model']} ({m['arch']}), "
        f"{m['cores']} cores",
        f"  {f['agents']:,} boids: {f['frames']} distinct frames in {f['seconds']:.1f} s = "
        f"{f['fps']:.1f} frames/s; ticks strictly increasing: {f['ticks_increasing']}; "
        f"frames sent twice: {f['repeats']}",
        f"  paced tileworld ({agents:,} agents, {tick_ms:g} ms a tick), tick p99 ms: "
        f"unwatched {unwatched}; watched {watched}; watched / unwatched {p['ratio']:.2f}x "
        f"(median of pairs)"])
