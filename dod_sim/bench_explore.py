"""``dod-sim bench explore``: frames a second of the web explorer (:mod:`dod_sim.webview`)
in headless Chromium.

The explorer of boids plays (one tick a frame, at most 30 frames a second) while a
headless Chromium shows its page, all on this machine's cores. Counted on the server:
the frames sent in answer to the page's requests within the window, each a distinct
frame (its sequence number) carrying a tick; the page asks for the next frame only
once it has drawn the last. The window starts after the page has loaded.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time

import numpy as np

from . import runtime

__all__ = ["explore_benchmark", "format_explore", "browser"]


def browser() -> str | None:
    """A Chromium or Chrome binary on PATH, or None."""
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        if path := shutil.which(name):
            return path
    return None


def explore_benchmark(quick: bool = False, progress=None) -> dict:
    """{"agents", "seconds", "frames", "fps", "ticks_increasing", "browser", "machine"};
    {"skipped": why} without a browser. 100,000 boids for 30 s (quick: 10,000 for 5 s)."""
    from .webview import WebExplorer

    path = browser()
    if path is None:
        return {"skipped": "no Chromium or Chrome on PATH (Debian: apt-get install chromium)"}
    agents, seconds = (10_000, 5.0) if quick else (100_000, 30.0)
    if progress:
        progress(f"boids {agents:,}, {seconds:.0f} s in {path}")
    web = WebExplorer("boids", agents, port=0, seed=1)
    sent = []  # (time, seq, tick) of every frame sent
    frame = web.frame

    def counted(after=-1, timeout=1.0):
        blob = frame(after, timeout)
        seq, tick = np.frombuffer(blob[:16], "<i8")
        sent.append((time.perf_counter(), int(seq), int(tick)))
        return blob

    web.frame = counted
    url = web.start()
    try:
        web.session.play()
        with tempfile.TemporaryDirectory() as profile:
            page = subprocess.Popen(
                [path, "--headless=new", "--no-sandbox", "--disable-gpu",
                 "--disable-dev-shm-usage", "--no-first-run", "--disable-background-networking",
                 f"--user-data-dir={profile}", "--remote-debugging-port=0", url],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                deadline = time.perf_counter() + 60
                while len(sent) < 3 and time.perf_counter() < deadline:  # the page loaded
                    time.sleep(0.1)
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
            "ticks_increasing": all(b > a for a, b in zip(ticks, ticks[1:])),
            "browser": path, "machine": runtime.info()}


def format_explore(result: dict) -> str:
    if "skipped" in result:
        return f"explore: skipped ({result['skipped']})"
    m = result["machine"]
    return (f"explore: web explorer of {result['agents']:,} boids in headless Chromium, "
            f"{m['model']} ({m['arch']}), {m['cores']} cores\n"
            f"  {result['frames']} distinct frames in {result['seconds']:.1f} s = "
            f"{result['fps']:.1f} frames/s; ticks strictly increasing: "
            f"{result['ticks_increasing']}; frames sent twice: {result['repeats']}")
