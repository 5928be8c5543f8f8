"""Benchmarks behind ``dod-sim bench``: our figures beside references measured in the
same run (hashlib on the same bytes, a numpy copy for memory bandwidth).

Every figure is the best of ``repeat`` timed calls after one warm-up call.
"""

from __future__ import annotations

import hashlib
import hmac
import time

import numpy as np

from . import runtime
from .auth import _b2_kernels, _schedule
from .kernels import sha256 as _sha
from .kernels.blake2b_lanes import LANES

__all__ = ["auth_benchmark", "format_auth", "best_time", "memory_bandwidth"]


def best_time(fn, repeat=5) -> float:
    """Seconds of the fastest of ``repeat`` calls of fn() after one warm-up call."""
    fn()
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def memory_bandwidth(nbytes=256 * 2**20) -> float:
    """Bytes/s of a large numpy copy (read + write counted once each)."""
    src = np.ones(nbytes, np.uint8)
    dst = np.empty_like(src)
    t = best_time(lambda: np.copyto(dst, src), repeat=3)
    return 2 * nbytes / t


def auth_benchmark(quick: bool = False) -> dict:
    """MAC throughput: 4,096 tiles of 1,032 bytes and N 48-byte messages.

    Returns a dict with the CPU, hashlib references and one row per
    (workload, implementation, threads).
    """
    rng = np.random.default_rng(0)
    key = bytes(range(32))
    n_msgs = 100_000 if quick else 1_000_000
    tiles = rng.integers(0, 256, (4096, 1032), dtype=np.uint8)
    msgs = rng.integers(0, 256, (n_msgs, 48), dtype=np.uint8)
    repeat = 3 if quick else 5

    big = tiles.tobytes()
    t = best_time(lambda: hashlib.blake2b(big, key=key, digest_size=32).digest(), repeat)
    hashlib_buffer_bps = len(big) / t
    sample = [m.tobytes() for m in msgs[:100_000]]
    t = best_time(lambda: [hashlib.blake2b(m, key=key, digest_size=16).digest() for m in sample],
                  repeat=2)
    hashlib_msgs_ps = len(sample) / t
    t = best_time(lambda: [hmac.new(key, m, hashlib.sha256).digest() for m in sample], repeat=2)
    hmac_msgs_ps = len(sample) / t

    impls = ["scalar", "lanes4", "lanes8"]
    rows = []
    all_threads = runtime.default_threads()
    thread_counts = sorted({1, all_threads})
    tile_out = np.zeros((4096, 32), np.uint8)
    msg_out = np.zeros((n_msgs, 16), np.uint8)
    ks32 = _schedule(key, "blake2b", 32)
    ks16 = _schedule(key, "blake2b", 16)
    hks = _schedule(key, "hmac-sha256", 32)
    for th in thread_counts:
        with runtime.threads(th):
            for impl in impls:
                mac_rows = _b2_kernels(impl)[0]
                t_tiles = best_time(lambda: mac_rows(ks32, tiles, 1032, tile_out), repeat)
                t_msgs = best_time(lambda: mac_rows(ks16, msgs, 48, msg_out), repeat)
                rows.append({"algo": "blake2b", "impl": impl, "threads": th,
                             "tile_MBps": 4096 * 1032 / t_tiles / 1e6,
                             "messages_per_s": n_msgs / t_msgs})
            t_tiles = best_time(lambda: _sha.hmac_rows(hks, tiles, 1032, tile_out), repeat)
            t_msgs = best_time(lambda: _sha.hmac_rows(hks, msgs, 48, msg_out), repeat)
            rows.append({"algo": "hmac-sha256", "impl": "scalar", "threads": th,
                         "tile_MBps": 4096 * 1032 / t_tiles / 1e6,
                         "messages_per_s": n_msgs / t_msgs})
    return {
        "cpu": runtime.cpu(),
        "lanes_auto": LANES,
        "messages": n_msgs,
        "hashlib_blake2b_buffer_MBps": hashlib_buffer_bps / 1e6,
        "hashlib_blake2b_per_call_messages_per_s": hashlib_msgs_ps,
        "hmac_sha256_per_call_messages_per_s": hmac_msgs_ps,
        "memory_bandwidth_GBps": memory_bandwidth(64 * 2**20 if quick else 256 * 2**20) / 1e9,
        "rows": rows,
    }


def format_auth(r: dict) -> str:
    """The auth benchmark as a table, with ratios against hashlib from the same run."""
    cpu = r["cpu"]
    lines = [
        f"CPU: {cpu['model']} ({cpu['arch']})  vector flags: {' '.join(cpu['vector_flags'])}  "
        f"cores: {cpu['cores']}  BLAKE2b lanes (auto): {r['lanes_auto']}",
        f"references (same run): hashlib.blake2b one buffer {r['hashlib_blake2b_buffer_MBps']:.0f} MB/s; "
        f"per call from Python: blake2b {r['hashlib_blake2b_per_call_messages_per_s'] / 1e6:.2f} M msg/s, "
        f"hmac-sha256 {r['hmac_sha256_per_call_messages_per_s'] / 1e6:.2f} M msg/s; "
        f"memory copy {r['memory_bandwidth_GBps']:.1f} GB/s",
        "",
        f"{'algo':12} {'impl':7} {'thr':>3} {'tiles MB/s':>11} {'x hashlib':>9} "
        f"{'48-B msg/s':>12} {'x hashlib/call':>14}",
    ]
    for row in r["rows"]:
        ref_msg = (r["hashlib_blake2b_per_call_messages_per_s"] if row["algo"] == "blake2b"
                   else r["hmac_sha256_per_call_messages_per_s"])
        lines.append(
            f"{row['algo']:12} {row['impl']:7} {row['threads']:>3} {row['tile_MBps']:>11.0f} "
            f"{row['tile_MBps'] / r['hashlib_blake2b_buffer_MBps']:>9.2f} "
            f"{row['messages_per_s'] / 1e6:>10.2f} M {row['messages_per_s'] / ref_msg:>14.1f}")
    return "\n".join(lines)
