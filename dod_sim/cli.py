"""``dod-sim``: run the tileworld, warm the kernel cache, benchmark, soak, sweep.

    dod-sim run [--agents N] [--ticks N] [--threads N] [--seed N] [--json] ...
                [--snapshot PATH [--snapshot-every N]] [--resume PATH]
    dod-sim run --model NAME|module:attribute [--param k=v ...] [--agents N]
                [--ticks N] [--threads N] [--seed N] [--snapshot PATH] [--json]
    dod-sim warmup [--jobs N] [--gallery] [--skip UNIT ...]
    dod-sim cache clear|info
    dod-sim bench [tick|auth|models|framework|roofline] [--quick] [--json]
    dod-sim soak [--agents N] [--ticks N] [--json]
    dod-sim sweep GRID.toml [--ticks N] [--jobs N] [--out PATH] [--resume] [--json]

Bad input prints one line naming the flag and the value and exits with status 2.
SIGINT or SIGTERM during ``run`` finishes the tick in progress, writes the final
snapshot when one was asked for, prints the report so far and exits with 130 or 143.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import signal
import sys
import threading
import time

from . import jsonio

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
    from . import precompile

    p = _Parser(prog="dod-sim", description="Data-oriented agent simulation (tileworld).")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="run the tileworld workload, or a model, and print "
                                     "its figures")
    run.add_argument("--model", default=None, metavar="NAME",
                     help="run a model instead of the tileworld: wealth, schelling, boids, "
                          "or package.module:attribute naming a dod_sim Model (the "
                          "tileworld's own flags below do not apply)")
    run.add_argument("--param", action="append", default=[], metavar="K=V",
                     help="a model parameter (repeatable), e.g. --param width=100")
    run.add_argument("--agents", type=_count("--agents"), default=3000)
    run.add_argument("--capacity", type=_count("--capacity", 2), default=None)
    run.add_argument("--ticks", type=_count("--ticks"), default=600)
    run.add_argument("--threads", type=_count("--threads", 1), default=None,
                     help="worker threads for every phase (default: measured per phase up "
                          "to 100,000 agents, every core above)")
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
    chaos = run.add_argument_group("hot-spot burst (chaos)")
    chaos.add_argument("--hotspot-share", type=_number("--hotspot-share", 0, 1), default=0.0,
                       help="share of all agents that message one agent during a burst")
    chaos.add_argument("--hotspot-ticks", type=_count("--hotspot-ticks"), default=0)
    chaos.add_argument("--hotspot-start", type=_count("--hotspot-start"), default=0)
    chaos.add_argument("--hotspot-every", type=_count("--hotspot-every"), default=0,
                       help="repeat the burst every N ticks (0 = once)")
    chaos.add_argument("--hotspot-target", type=_count("--hotspot-target"), default=0)
    snap = run.add_argument_group("snapshots")
    snap.add_argument("--snapshot", metavar="PATH", default=None,
                      help="write the world's state here at the end (and on SIGINT/SIGTERM)")
    snap.add_argument("--snapshot-every", type=_count("--snapshot-every", 1), default=None,
                      metavar="N", help="also every N ticks (needs --snapshot)")
    snap.add_argument("--resume", metavar="PATH", default=None,
                      help="continue the world saved in PATH for --ticks more ticks "
                           "(its own config; only --threads applies)")
    run.add_argument("--json", action="store_true", help="print the summary as JSON only")

    explore = sub.add_parser("explore", help="serve a model's explorer (sliders, play, "
                                             "the agents and statistics) as a web page")
    explore.add_argument("model", metavar="MODEL",
                         help="a gallery model (boids, schelling, ...) or "
                              "package.module:attribute naming a dod_sim Model")
    explore.add_argument("--agents", type=_count("--agents", 1), default=None,
                         help="agents of the first world (default: the model's)")
    explore.add_argument("--param", action="append", default=[], metavar="K=V",
                         help="a model parameter of the first world (repeatable)")
    explore.add_argument("--seed", type=_count("--seed"), default=0)
    explore.add_argument("--threads", type=_count("--threads", 1), default=None)
    explore.add_argument("--speed", type=_count("--speed", 1), default=1,
                         help="ticks per frame at the start")
    explore.add_argument("--tick-ms", type=_number("--tick-ms", 0), default=0.0,
                         help="pace one tick per period (0 = as fast as frames allow)")
    explore.add_argument("--color", default=None, metavar="COLUMN",
                         help="the column that colours the agents (default: the model's)")
    explore.add_argument("--host", default="127.0.0.1",
                         help="address to listen on (default: this machine only)")
    explore.add_argument("--port", type=_count("--port"), default=8765,
                         help="0: any free port")
    explore.add_argument("--play", action="store_true", help="start playing at once")
    warmup = sub.add_parser("warmup", help="compile the tick's kernels and the reference "
                                           "models (--gallery: every model) into the cache")
    warmup.add_argument("--jobs", type=_count("--jobs", 1), default=None,
                        help="worker processes compiling side by side (default: the "
                             "runtime's thread count, every core)")
    warmup.add_argument("--gallery", action="store_true",
                        help="the rest of Mesa's gallery too (game_of_life, virus, pd_grid, "
                             "civil_violence, wolf_sheep, sugarscape); else each compiles "
                             "on first use")
    warmup.add_argument("--skip", action="append", default=[], metavar="UNIT",
                        choices=(precompile.PHASES + precompile.KERNELS + precompile.MODELS
                                 + precompile.GALLERY),
                        help="leave out a unit (repeatable), e.g. model:tileworld")
    cache = sub.add_parser("cache", help="manage the compiled-kernel cache")
    cache.add_argument("action", choices=("clear", "info"))

    bench = sub.add_parser("bench", help="benchmarks")
    bench.add_argument("suite", nargs="?",
                       choices=("tick", "auth", "models", "framework", "roofline", "explore"),
                       default="tick",
                       help="tick (default): the seed table, scaling, burst and machine "
                            "limits; auth: MAC throughput vs hashlib; models: the gallery's "
                            "models vs Mesa's own examples; framework: what births, deaths, "
                            "data collection and drawing cost; roofline: each phase of the "
                            "tick beside its floor on this machine; explore: frames a second "
                            "of the web explorer in headless Chromium")
    bench.add_argument("--quick", action="store_true", help="smaller and shorter (CI, < 1 min)")
    bench.add_argument("--json", action="store_true")

    soak = sub.add_parser("soak", help="a long run with every kind of chaos: nothing lost, "
                                       "no memory growth")
    soak.add_argument("--agents", type=_count("--agents", 2), default=30_000)
    soak.add_argument("--ticks", type=_count("--ticks", 1), default=6000)
    soak.add_argument("--seed", type=_count("--seed"), default=0)
    soak.add_argument("--threads", type=_count("--threads", 1), default=None)
    soak.add_argument("--json", action="store_true")

    from .sweep import add_arguments

    add_arguments(sub.add_parser("sweep", help="run a grid of worlds (joblib or Dask) "
                                               "into one table"))
    return p


class _Bar:
    """A tqdm bar on stderr with the tick rate and the running p99 when stderr is a
    terminal and the output is not --json; otherwise nothing. Usable as a World.run
    progress callback (``bar(done, total, tick_ns)``; a new run restarts ``done``)
    or ticked by one (``bar()``)."""

    def __init__(self, enabled: bool, total: int, desc: str | None = None, unit="tick"):
        self.bar = None
        self.base = self.last = 0
        if enabled and sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=desc, unit=unit, file=sys.stderr,
                            dynamic_ncols=True, leave=False)

    def __call__(self, done=None, total=None, tick_ns=None):
        if self.bar is None:
            return
        if done is None:
            self.bar.update(1)
            return
        if done < self.last:  # a new run
            self.base += self.last
        self.last = done
        self.bar.update(self.base + done - self.bar.n)
        if tick_ns is not None and len(tick_ns):
            import numpy as np

            self.bar.set_postfix_str(f"p99 {np.percentile(tick_ns, 99) / 1e6:.2f} ms",
                                     refresh=False)

    def close(self):
        if self.bar is not None:
            self.bar.close()


def _config(args):
    from . import Config

    return Config(agents=args.agents, capacity=args.capacity, ticks=args.ticks,
                  threads=args.threads, seed=args.seed, mailbox=args.mailbox,
                  arena_bytes=args.arena_bytes, tick_ms=args.tick_ms,
                  send_rate=args.send_rate, kill_rate=args.kill_rate,
                  tamper_rate=args.tamper_rate, tag_tamper_rate=args.tag_tamper_rate,
                  tile_algo=args.tile_algo, hotspot_share=args.hotspot_share,
                  hotspot_ticks=args.hotspot_ticks, hotspot_start=args.hotspot_start,
                  hotspot_every=args.hotspot_every, hotspot_target=args.hotspot_target)


class _Signals:
    """SIGINT and SIGTERM set ``stop`` instead of raising, so the tick in progress
    finishes and the caller can save and report; restored on exit."""

    def __init__(self):
        self.stop = threading.Event()
        self.received = None

    def _handle(self, signum, frame):
        self.received = signum
        self.stop.set()

    def __enter__(self):
        self.old = {s: signal.signal(s, self._handle) for s in (signal.SIGINT, signal.SIGTERM)}
        return self

    def __exit__(self, *exc):
        for s, h in self.old.items():
            signal.signal(s, h)

    @property
    def exit_code(self) -> int:
        return 128 + self.received if self.received else 0


def _params(model, pairs) -> dict:
    """``--param k=v`` values, each parsed as the type of the model's default."""
    from .errors import ConfigError

    out = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or key not in model.params:
            raise ConfigError(f"--param {pair!r}: expected K=V with K one of "
                              f"{sorted(model.params)}", field="--param", value=pair)
        default = model.params[key]
        try:
            if isinstance(default, bool):
                if text.lower() not in ("true", "false", "1", "0"):
                    raise ValueError
                out[key] = text.lower() in ("true", "1")
            elif isinstance(default, int):
                out[key] = int(text)
            else:
                out[key] = float(text)
        except ValueError:
            kind = ("true or false" if isinstance(default, bool) else "an integer"
                    if isinstance(default, int) else "a number")
            raise ConfigError(f"--param {key}={text!r} must be {kind}", field="--param",
                              value=pair) from None
    return out


def _cmd_run_model(args) -> int:
    """``dod-sim run --model``: a model's world, its steps with a bar, the last
    statistics and the speed."""
    from .errors import DodSimError
    from .models import resolve

    quiet = args.json
    say = (lambda *a, **k: None) if quiet else (lambda *a, **k: print(*a, file=sys.stderr, **k))
    try:
        model, make = resolve(args.model)
        params = _params(model, args.param)
        t0 = time.perf_counter()
        say(f"building {model.name} ({args.agents} agents; compiling on first use) ...",
            end="", flush=True)
        world = make(args.agents, seed=args.seed, threads=args.threads, **params)
        say(f" ready in {time.perf_counter() - t0:.1f} s")
        bar = _Bar(not quiet, args.ticks, desc=model.name, unit="step")
        with _Signals() as sig:
            t = time.perf_counter()
            try:
                table = world.run(args.ticks, progress=bar, stop=sig.stop,
                                  tick_ms=args.tick_ms)
            finally:
                bar.close()
            seconds = time.perf_counter() - t
            if args.snapshot:
                world.snapshot(args.snapshot)
    except DodSimError as e:
        print(f"dod-sim: error: {e}", file=sys.stderr)
        return 2
    steps = len(table["step"])
    last = {k: float(v[-1]) for k, v in table.items() if k != "step" and len(v)}
    s = {**world.last_report.summary(), "steps": steps, "seed": world.seed,
         "threads_how": world.threads_choice.get("how", ""),
         "params": world.params._asdict(), "seconds": seconds, "stats": last,
         "state_digest": world.state_digest()}
    if sig.received:
        s["stopped_by"] = signal.Signals(sig.received).name
    if args.json:
        print(jsonio.dumps(s, indent=2))
    else:
        print(f"{model.name}: {s['agents']} agents, {steps} steps, {s['threads']} threads "
              f"({s['threads_how']})\n"
              f"  step        p50 {s['tick_p50_ms']:.3f} ms   p99 {s['tick_p99_ms']:.3f} ms   "
              f"{s['agent_ticks_per_s'] / 1e6:.2f} M agent-steps/s   cpu "
              f"{s['cpu_percent']:.1f} %\n"
              f"  last step   " + "   ".join(f"{k} {v:.4g}" for k, v in last.items()))
    return sig.exit_code


def _cmd_run(args) -> int:
    from . import World, precompile
    from .errors import ConfigError, DodSimError

    if args.model is not None:
        return _cmd_run_model(args)

    quiet = args.json
    say = (lambda *a, **k: None) if quiet else (lambda *a, **k: print(*a, file=sys.stderr, **k))
    try:
        if args.snapshot_every is not None and args.snapshot is None:
            raise ConfigError("--snapshot-every needs --snapshot PATH",
                              field="--snapshot-every", value=args.snapshot_every)
        t0 = time.perf_counter()
        if precompile.tick_is_cold():
            say("compiling kernels (first run only; later runs load them from the cache) ...",
                end="", flush=True)
            precompile.compile_units(precompile.PHASES)
        else:
            say("loading kernels ...", end="", flush=True)
        if args.resume:
            world = World.restore(args.resume, threads=args.threads)
            ticks = args.ticks
        else:
            world = World(_config(args))
            ticks = world.config.ticks
        world.warmup()
        say(f" ready in {time.perf_counter() - t0:.1f} s")
        if args.resume:
            say(f"resumed {args.resume} at tick {world.tick}")
        bar = _Bar(not quiet, ticks)

        def between_ticks(done, n, tick_ns):
            if args.snapshot_every and world.tick % args.snapshot_every == 0:
                world.snapshot(args.snapshot)
            if done % 10 == 0 or done == n:
                bar(done, n, tick_ns)

        with _Signals() as sig:
            try:
                report = world.run(ticks, progress=between_ticks, progress_every=1,
                                   stop=sig.stop)
            finally:
                bar.close()
            if args.snapshot:
                world.snapshot(args.snapshot)
    except DodSimError as e:
        print(f"dod-sim: error: {e}", file=sys.stderr)
        return 2
    s = report.summary()
    if sig.received:
        name = signal.Signals(sig.received).name
        s["stopped_by"] = name
        say(f"dod-sim: {name}: stopped after tick {world.tick}"
            + (f", state saved to {args.snapshot}" if args.snapshot else ""))
    if args.json:
        print(jsonio.dumps(s, indent=2))
    else:
        print(_format_run(s, report.threads_choice, report.phase_threads))
    return sig.exit_code


def _format_run(s: dict, choice: dict, phase_threads: dict) -> str:
    alloc = s["allocations_per_s"]
    alloc = "n/a" if math.isnan(alloc) else f"{alloc:.1f}/s"
    fewer = {k: v for k, v in phase_threads.items() if v != s["threads"]}
    plan = "".join(f"; {k} on {v}" for k, v in fewer.items())
    return "\n".join([
        f"tileworld: {s['agents']} agents, {s['ticks']} ticks, {s['threads']} threads "
        f"({choice.get('how', '')}{plan})",
        f"  tick        p50 {s['tick_p50_ms']:.3f} ms   p99 {s['tick_p99_ms']:.3f} ms   "
        f"p99.9 {s['tick_p999_ms']:.3f} ms   max {s['tick_max_ms']:.3f} ms"
        + (f"   overruns {s['overruns']} (period {s['tick_ms']:g} ms)" if s["tick_ms"] else ""),
        f"  throughput  {s['agent_ticks_per_s'] / 1e6:.2f} M agent-ticks/s   "
        f"{s['messages_per_s'] / 1e6:.2f} M messages/s   "
        f"{s['tile_bytes_verified_per_s'] / 1e6:.1f} MB/s tiles verified",
        f"  messages    sent {s['messages_sent']}   delivered {s['messages_delivered']}   "
        f"deferred {s['messages_deferred']}   undeliverable {s['messages_undeliverable']}   "
        f"lost {s['messages_lost']}",
        f"  mailboxes   deepest {s['mailbox_depth_max']}   mean depth {s['mailbox_depth_mean']:.2f}",
        f"  rejected    tiles {s['tiles_rejected']}   tags {s['tags_rejected']}",
        f"  machine     cpu {s['cpu_percent']:.1f} %   load imbalance {s['load_imbalance']:.3f}   "
        f"allocations {alloc}   {s['rss_mb']:.0f} MB resident",
    ])


def _cmd_warmup(args) -> int:
    from . import World, precompile, runtime
    from .world import TINY

    jobs = args.jobs or runtime.default_threads()
    print(f"compiling the tick's kernels and the models into the cache, {jobs} processes ...")
    t = time.perf_counter()
    units = [u for u in precompile.PHASES + precompile.KERNELS + precompile.MODELS
             + (precompile.GALLERY if args.gallery else ()) if u not in args.skip]
    precompile.compile_units(units, jobs=jobs,
                             progress=lambda unit, secs: print(f"  {unit:18s} {secs:6.1f} s"))
    compiled = time.perf_counter() - t
    t = time.perf_counter()
    World(**TINY).warmup()
    print(f"compiled and cached in {compiled:.1f} s; a new world then loaded them and ticked "
          f"in {time.perf_counter() - t:.1f} s")
    count, ok = _write_bytecode()
    print(f"Python bytecode of {count} modules cached" if ok else
          "Python bytecode not written (the package directory is read-only?)")
    return 0


def _write_bytecode() -> tuple[int, bool]:
    """Byte-compile dod_sim's modules; returns (how many there are, all written).

    pip does this when it installs a package, but not for an editable install, and
    Python then writes them on first import only where PYTHONDONTWRITEBYTECODE is
    unset (container images often set it): otherwise every start compiles ~35 modules
    again (0.16 s of a 1.2 s warm start here). Existing bytecode is read either way.
    """
    import compileall
    import py_compile

    from . import kernels

    package = os.path.dirname(os.path.abspath(__file__))
    dirs = [package]
    kernels_dir = os.path.dirname(os.path.abspath(kernels.__file__))
    if not kernels_dir.startswith(package + os.sep):  # an editable install
        dirs.append(kernels_dir)
    count, ok = 0, True
    for d in dirs:
        ok &= bool(compileall.compile_dir(
            d, quiet=1, invalidation_mode=py_compile.PycInvalidationMode.TIMESTAMP))
        count += sum(f.endswith(".py") for _, _, fs in os.walk(d) for f in fs)
    return count, ok


def _cache_files():
    """The cache files dod_sim wrote: Numba's index and code files of the functions in
    dod_sim's own source folders (named after their modules), the generated model
    modules (``dod_sim_model_*``) and their compiled code, and the fingerprint stamps.
    Nothing else under NUMBA_CACHE_DIR or the model cache is touched."""
    from . import kernels
    from .model import cache_dir

    package = os.path.dirname(os.path.abspath(__file__))
    found = []
    for src in (kernels.KERNELS_DIR, os.path.join(kernels.KERNELS_DIR, "tileworld"), package,
                os.path.join(package, "models")):
        where = kernels.cache_dir_of(src)
        stems = tuple(f[:-3] + "." for f in os.listdir(src) if f.endswith(".py"))
        if os.path.isdir(where):
            found += [os.path.join(where, f) for f in os.listdir(where)
                      if f.endswith((".nbi", ".nbc")) and f.startswith(stems)
                      or f == kernels._FINGERPRINT]
    from .pacing import probe_cache_path

    verdicts = probe_cache_path()  # the thread probe's verdicts: clearing forces a probe
    if verdicts is not None and os.path.isfile(verdicts):
        found.append(str(verdicts))
    models = str(cache_dir())
    for where in (models, os.path.join(models, "__pycache__"), kernels.cache_dir_of(models)):
        if os.path.isdir(where):
            found += [os.path.join(where, f) for f in os.listdir(where)
                      if f.startswith("dod_sim_model_")
                      and f.endswith((".py", ".pyc", ".nbi", ".nbc"))]
    return sorted(set(found))


def _cmd_cache(args) -> int:
    files = _cache_files()
    if args.action == "info":
        size = sum(os.path.getsize(f) for f in files)
        print(f"{len(files)} cache files, {size / 2**20:.1f} MiB")
        return 0
    removed = 0
    for f in files:
        with contextlib.suppress(FileNotFoundError):
            os.remove(f)
            removed += 1
    folders = sorted({os.path.dirname(f) for f in files})
    print(f"removed {removed} cache files dod_sim wrote" + "".join(f"\n  {d}" for d in folders))
    return 0


# bench suites that take quick= and progress= (a callable of one line of text):
# (module of dod_sim, benchmark function, formatter)
_SUITES = {"models": ("bench_models", "models_benchmark", "format_models"),
           "roofline": ("bench_roofline", "roofline_benchmark", "format_roofline"),
           "framework": ("bench_framework", "framework_benchmark", "format_framework"),
           "explore": ("bench_explore", "explore_benchmark", "format_explore")}


def _cmd_bench(args) -> int:
    if args.suite == "auth":
        from .bench import auth_benchmark, format_auth

        result = auth_benchmark(quick=args.quick)
        print(jsonio.dumps(result, indent=2) if args.json else format_auth(result))
        return 0
    if args.suite in _SUITES:
        import importlib

        module, run, fmt = _SUITES[args.suite]
        mod = importlib.import_module(f".{module}", __package__)
        progress = None if args.json else (lambda text: print(f"  {text} ...", file=sys.stderr))
        result = getattr(mod, run)(quick=args.quick, progress=progress)
        print(jsonio.dumps(result, indent=2) if args.json else getattr(mod, fmt)(result))
        return 0
    from .bench_tick import format_tick, tick_benchmark

    bars = []

    def bar(desc, total):
        b = _Bar(not args.json, total, desc=desc)
        bars.append(b)
        return b

    try:
        result = tick_benchmark(quick=args.quick, progress=bar)
    finally:
        for b in bars:
            b.close()
    print(jsonio.dumps(result, indent=2) if args.json else format_tick(result))
    return 0


def _cmd_soak(args) -> int:
    from .errors import DodSimError
    from .soak import format_soak, soak, soak_config

    bar = _Bar(not args.json, args.ticks)
    try:
        cfg = soak_config(args.agents, args.seed, threads=args.threads)
        result = soak(args.ticks, cfg, progress=lambda done, n: bar(done, n))
    except DodSimError as e:
        print(f"dod-sim: error: {e}", file=sys.stderr)
        return 2
    finally:
        bar.close()
    print(jsonio.dumps(result, indent=2) if args.json else format_soak(result))
    return 0 if result["messages_lost"] == 0 and result["conservation_violations"] == 0 else 1


def _cmd_sweep(args) -> int:
    from .sweep import run_args

    return run_args(args)


def _cmd_explore(args) -> int:
    """``dod-sim explore MODEL``: the web explorer (dod_sim.webview) until Ctrl-C."""
    from .errors import DodSimError
    from .models import resolve
    from .webview import WebExplorer

    try:
        model, _ = resolve(args.model)
        print(f"building {model.name} (compiling on first use) ...", file=sys.stderr)
        web = WebExplorer(args.model, args.agents, host=args.host, port=args.port,
                          color=args.color, seed=args.seed, threads=args.threads,
                          speed=args.speed, tick_ms=args.tick_ms,
                          **_params(model, args.param))
    except DodSimError as e:
        print(f"dod-sim: error: {e}", file=sys.stderr)
        return 2
    print(f"exploring {model.name} at {web.url} (Ctrl-C to stop)", file=sys.stderr, flush=True)
    if args.play:
        web.session.play()
    try:
        web.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        web.server.server_close()
    return 0


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    handler = {"run": _cmd_run, "explore": _cmd_explore, "warmup": _cmd_warmup,
               "cache": _cmd_cache,
               "bench": _cmd_bench, "soak": _cmd_soak, "sweep": _cmd_sweep}[args.command]
    try:
        return handler(args)
    except KeyboardInterrupt:
        print("dod-sim: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
