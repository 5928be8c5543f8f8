"""``dod-sim``: run the tileworld, warm the kernel cache, benchmark.

    dod-sim run [--agents N] [--ticks N] [--threads N] [--seed N] [--json] ...
    dod-sim warmup
    dod-sim cache clear
    dod-sim bench auth [--quick] [--json]

Bad input prints one line naming the flag and the value and exits with status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, f"dod-sim: error: {message}\n")


def _count(flag, lo=0):
    def parse(text):
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{flag} must be an integer, got {text!r}") from None
        if v < lo:
            raise argparse.ArgumentTypeError(f"{flag} must be >= {lo}, got {v}")
        return v
    return parse


def _number(flag, lo, hi=None):
    """A float flag in [lo, hi] (hi None: no upper bound)."""
    def parse(text):
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{flag} must be a number, got {text!r}") from None
        if not (v >= lo and (hi is None or v <= hi)):
            bound = f"in [{lo}, {hi}]" if hi is not None else f">= {lo}"
            raise argparse.ArgumentTypeError(f"{flag} must be {bound}, got {text}")
        return v
    return parse


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="dod-sim", description="Data-oriented agent simulation (tileworld).")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="run the tileworld workload and print its figures")
    run.add_argument("--agents", type=_count("--agents"), default=3000)
    run.add_argument("--capacity", type=_count("--capacity", 2), default=None)
    run.add_argument("--ticks", type=_count("--ticks"), default=600)
    run.add_argument("--threads", type=_count("--threads", 1), default=None,
                     help="worker threads (default: every core)")
    run.add_argument("--seed", type=_count("--seed"), default=0)
    run.add_argument("--mailbox", type=_count("--mailbox", 1), default=1024)
    run.add_argument("--arena-bytes", type=_count("--arena-bytes"), default=None)
    run.add_argument("--tick-ms", type=_number("--tick-ms", 0), default=0.0,
                     help="pace one tick per period (0 = as fast as possible)")
    run.add_argument("--send-rate", type=_number("--send-rate", 0, 1), default=0.5)
    run.add_argument("--kill-rate", type=_number("--kill-rate", 0, 1), default=0.0)
    run.add_argument("--tamper-rate", type=_number("--tamper-rate", 0, 1), default=0.01)
    run.add_argument("--tag-tamper-rate", type=_number("--tag-tamper-rate", 0, 1), default=0.0)
    run.add_argument("--tile-algo", choices=("blake2b", "hmac-sha256"), default="blake2b")
    run.add_argument("--json", action="store_true", help="print the summary as JSON only")

    sub.add_parser("warmup", help="compile every kernel into the on-disk cache")
    cache = sub.add_parser("cache", help="manage the compiled-kernel cache")
    cache.add_argument("action", choices=("clear", "info"))

    bench = sub.add_parser("bench", help="benchmarks")
    bench.add_argument("suite", choices=("auth",), help="auth: MAC throughput vs hashlib")
    bench.add_argument("--quick", action="store_true", help="smaller inputs (CI)")
    bench.add_argument("--json", action="store_true")
    return p


def _progress(enabled: bool, total: int):
    """A tqdm bar on stderr with tick rate and running p99, or None."""
    if not enabled or not sys.stderr.isatty():
        return None, None
    import numpy as np
    from tqdm import tqdm

    bar = tqdm(total=total, unit="tick", file=sys.stderr, dynamic_ncols=True)

    def update(done, n, tick_ns):
        bar.update(done - bar.n)
        bar.set_postfix_str(f"p99 {np.percentile(tick_ns, 99) / 1e6:.2f} ms", refresh=False)

    return update, bar


def _cmd_run(args) -> int:
    from . import Config, World
    from .errors import DodSimError

    try:
        cfg = Config(agents=args.agents, capacity=args.capacity, ticks=args.ticks,
                     threads=args.threads, seed=args.seed, mailbox=args.mailbox,
                     arena_bytes=args.arena_bytes, tick_ms=args.tick_ms,
                     send_rate=args.send_rate, kill_rate=args.kill_rate,
                     tamper_rate=args.tamper_rate, tag_tamper_rate=args.tag_tamper_rate,
                     tile_algo=args.tile_algo)
        quiet = args.json
        if not quiet:
            print("compiling kernels (first run only; later runs load them from the cache) ...",
                  end="", flush=True, file=sys.stderr)
        t0 = time.perf_counter()
        world = World(cfg)
        world.warmup()
        if not quiet:
            print(f" ready in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        update, bar = _progress(not quiet, cfg.ticks)
        try:
            report = world.run(progress=update)
        finally:
            if bar is not None:
                bar.close()
    except DodSimError as e:
        print(f"dod-sim: error: {e}", file=sys.stderr)
        return 2
    s = report.summary()
    if args.json:
        print(json.dumps(s, indent=2))
        return 0
    print(f"tileworld: {s['agents']} agents, {s['ticks']} ticks, {s['threads']} threads")
    print(f"  tick        p50 {s['tick_p50_ms']:.3f} ms   p99 {s['tick_p99_ms']:.3f} ms   "
          f"max {s['tick_max_ms']:.3f} ms")
    print(f"  throughput  {s['agent_ticks_per_s'] / 1e6:.2f} M agent-ticks/s   "
          f"{s['messages_per_s'] / 1e6:.2f} M messages/s   "
          f"{s['tile_bytes_verified_per_s'] / 1e6:.1f} MB/s tiles verified")
    print(f"  messages    sent {s['messages_sent']}   delivered {s['messages_delivered']}   "
          f"deferred {s['messages_deferred']}   undeliverable {s['messages_undeliverable']}   "
          f"lost {s['messages_lost']}")
    print(f"  rejected    tiles {s['tiles_rejected']}   tags {s['tags_rejected']}")
    print(f"  memory      {s['rss_mb']:.0f} MB resident   cpu {s['cpu_percent']:.0f} %")
    return 0


def _cmd_warmup(args) -> int:
    from . import World

    t = time.perf_counter()
    World(agents=64, side=64, tile_updates=4).warmup()
    print(f"kernels compiled and cached in {time.perf_counter() - t:.1f} s")
    return 0


def _cache_files():
    from . import kernels

    root = os.path.dirname(kernels.__file__)
    cache_dir = os.environ.get("NUMBA_CACHE_DIR")
    roots = [root] if not cache_dir else [cache_dir]
    found = []
    for base in roots:
        for dirpath, _, files in os.walk(base):
            found += [os.path.join(dirpath, f) for f in files if f.endswith((".nbi", ".nbc"))]
    return found


def _cmd_cache(args) -> int:
    files = _cache_files()
    if args.action == "info":
        size = sum(os.path.getsize(f) for f in files)
        print(f"{len(files)} cache files, {size / 2**20:.1f} MiB")
        return 0
    for f in files:
        os.remove(f)
    print(f"removed {len(files)} cache files")
    return 0


def _cmd_bench(args) -> int:
    from .bench import auth_benchmark, format_auth

    result = auth_benchmark(quick=args.quick)
    print(json.dumps(result, indent=2) if args.json else format_auth(result))
    return 0


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    handler = {"run": _cmd_run, "warmup": _cmd_warmup, "cache": _cmd_cache,
               "bench": _cmd_bench}[args.command]
    try:
        return handler(args)
    except KeyboardInterrupt:
        print("dod-sim: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
