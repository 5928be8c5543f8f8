"""Batch sweeps: many worlds over a grid of parameters, in parallel, one row per run.

:func:`sweep` runs the tileworld over ``Config`` fields; :func:`sweep_model` runs any
model of :mod:`dod_sim.model` over its parameters, with seeds as repetitions, through
the same workers, results file and resume.

Like Mesa's ``batch_run`` or Agents.jl's ``paramscan``::

    from dod_sim.sweep import sweep, read_results

    table = sweep({"send_rate": [0.2, 0.5], "seed": range(4)},      # 2 x 4 = 8 runs
                  ticks=200, n_jobs=-1, base=Config(agents=2000),
                  results="runs.jsonl")                             # rows saved as they finish
    table.groupby("send_rate")["messages_delivered"].mean()

The grid
    A dict of Config field -> list of values is expanded as the cartesian product in the
    dict's order, the last field varying fastest (``itertools.product``); a scalar value
    is fixed for every run; a ``"seed"`` list gives repetitions. Any non-string iterable
    (list, tuple, range, numpy array) is a list of values; numpy scalars are converted
    to Python numbers. An iterable of ``Config`` objects and/or dicts of overrides is
    taken as given, one run each. ``base`` (default ``Config()``) is what the grid and
    the override dicts change; ``Config`` objects are used as they are. Every config is
    validated in the parent before anything runs: a bad one raises ``ConfigError``
    whose message starts ``run I:`` and whose ``field`` names the field (``run`` is set
    to the index; ``None`` for an unknown grid field, which no run can have).

A row (a dict; the table has one column per key)
    run : int, the index of the run in the expansion
    the swept parameters : every key of the grid dict (fixed scalars included); for an
        iterable, the keys of its override dicts and every field that differs between
        its configs. Config field order for an iterable, the grid's order for a grid.
    every ``Report.summary()`` figure (whatever keys it has; a swept field with the
        same name as a figure -- agents, capacity, ticks, threads -- shows the figure,
        i.e. the value the world actually ran with)
    state_digest : str, ``World.state_digest()`` after the run
    config_digest : str, ``Config.digest()`` of the run's config with ``ticks`` set to the
        ticks run and ``threads`` as requested (not as capped below), so it does not
        depend on ``n_jobs``; the world's state does not depend on its thread count.
    wall_s : float, seconds to build the world and run it, in the worker
    worker : int, the process id that ran it
    threads_capped : bool, True where the config asked for more threads than its share

Threads
    Each run gets ``max(1, cores // workers)`` Numba threads, where ``cores`` is
    :func:`dod_sim.runtime.default_threads` in the parent and ``workers`` is the number of
    runs that execute at once: ``min(joblib.effective_n_jobs(n_jobs), runs to do)`` under
    the active joblib backend (for Dask, the total threads of the cluster's workers). So
    workers x threads never exceeds the cores when ``n_jobs <= cores``. A config that
    sets ``threads`` explicitly keeps it when it fits its share and is capped to the
    share otherwise (``threads_capped`` is True and a :class:`SweepWarning` names the
    runs). A worker further caps at its own ``NUMBA_NUM_THREADS`` (joblib's loky workers
    set it to ``cpu_count // n_jobs``). The ``threads`` figure of a row is what ran. For
    a Dask cluster spanning several machines the share is computed from the parent's
    cores, which is conservative.

Processes
    The runs go through ``joblib.Parallel(n_jobs, return_as="generator_unordered",
    batch_size=1)``: rows arrive as runs finish. ``backend=None`` uses joblib's current
    configuration, so ``with joblib.parallel_config(backend="dask"):`` with a
    ``distributed.Client`` runs the same call on Dask; "loky" (the default) and
    "threading" (the kernels release the GIL) work too. "multiprocessing" is refused
    (ConfigError): it forks the parent, which GNU OpenMP aborts once Numba's threads have
    run. A custom backend that cannot return a generator falls back to
    ``return_as="list"``: the rows arrive, and are saved, when every run has finished.
    Worker processes import dod_sim and load the compiled kernels from the on-disk Numba
    cache, which the parent fills first with a tiny warm-up world (one per ``tile_algo``
    used, plus the chaos phase when a config has ``kill_rate > 0``); each worker runs the
    same tiny world once before its first run, so loading stays out of the timings.
    Remote Dask workers need their own warm cache (``dod-sim warmup`` there).

Results file
    With ``results=PATH`` every finished row is appended to PATH as one JSON line,
    flushed and fsynced before the next is waited for, so a crash or Ctrl-C loses no
    finished run. Without ``resume`` the file is truncated first. With ``resume=True``
    the rows already in the file whose run index and ``config_digest`` match this sweep
    are kept (and returned) and those runs are skipped; other rows and a torn last line
    are dropped (the file is rewritten atomically before anything runs).
    :func:`read_results` reads a file back as a table, ignoring a torn last line.
    While a sweep writes a results file it holds a lock on ``.<name>.lock`` beside it: a
    second sweep on the same file is refused (ConfigError, ``field="results"``) rather
    than interleaving its rows.

Failures
    A run that raises stops the sweep with :class:`SweepRunError` (``run``: its index,
    ``error``: the original exception's type name, ``field``/``tick``/``phase`` copied
    from a ``DodSimError``); the rows already finished are in the results file.

The table
    :func:`to_table` turns rows into a pandas ``DataFrame`` sorted by ``run`` (index
    0..n-1) when pandas is importable, else into a dict of column name -> 1-D numpy
    array (length n, sorted by ``run``; strings as ``<U`` arrays, a column mixing
    ``None`` with values as ``object``). ``to_table(rows, pandas=False)`` forces the dict.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import itertools
import json
import numbers
import os
import sys
import tempfile
import time
import warnings
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from . import jsonio, runtime
from .config import Config, available_memory, memory_estimate
from .errors import ConfigError, DodSimError

__all__ = [
    "SweepRunError",
    "SweepTables",
    "SweepWarning",
    "add_arguments",
    "cli_main",
    "engine_id",
    "expand",
    "format_rows",
    "load_grid",
    "plan_threads",
    "read_results",
    "read_tables",
    "run_args",
    "sweep",
    "sweep_model",
    "thread_share",
    "to_table",
]

FIELDS = tuple(f.name for f in dataclasses.fields(Config))


class SweepWarning(UserWarning):
    """Something about a sweep was adjusted (threads capped)."""


class SweepRunError(DodSimError):
    """A run of a sweep raised. ``run`` is its index, ``error`` the type name of the
    original exception, ``detail`` its message; ``field``, ``tick`` and ``phase`` are
    copied from a :class:`DodSimError`. Pickles by value, so it crosses processes."""

    def __init__(self, run, error, detail, field=None, tick=None, phase=None):
        super().__init__(f"sweep run {run} failed: {error}: {detail}",
                         field=field, tick=tick, phase=phase)
        self.run = run
        self.error = error
        self.detail = detail

    def __reduce__(self):
        return (type(self), (self.run, self.error, self.detail, self.field, self.tick,
                             self.phase))


# ---- expansion and validation --------------------------------------------------------


def _plain(v):
    """Numpy scalars as Python numbers (Config checks ``isinstance(v, int)``)."""
    if isinstance(v, np.generic):
        return v.item()
    return v


def _is_values(v) -> bool:
    if isinstance(v, (str, bytes, dict, np.generic)):
        return False
    if isinstance(v, np.ndarray):
        return v.ndim > 0
    return isinstance(v, Iterable)


def _run_error(i, e: ConfigError, what="") -> ConfigError:
    err = ConfigError(f"run {i}{what}: {e}", field=e.field, value=e.value, bound=e.bound)
    err.run = i
    return err


def _check_fields(names, i=None):
    for name in names:
        if name not in FIELDS:
            where = "grid" if i is None else f"run {i}"
            err = ConfigError(f"{where}: unknown Config field {name!r} (fields: "
                              f"{', '.join(FIELDS)})", field=name)
            err.run = i
            raise err


def _apply(base: Config, overrides: dict, i: int) -> Config:
    _check_fields(overrides, i)
    try:
        return base.replace(**{k: _plain(v) for k, v in overrides.items()})
    except ConfigError as e:
        raise _run_error(i, e, f" ({', '.join(f'{k}={v!r}' for k, v in overrides.items())})") from None


def expand(grid_or_configs, base: Config | None = None) -> tuple[list[Config], list[str]]:
    """Expand a grid (dict of field -> values) or an iterable of Configs / override
    dicts into ``(configs, names)``: one validated Config per run, in run order, and the
    names of the swept parameters (see the module docstring). Raises ConfigError naming
    the run index and the field."""
    if base is None:
        base = Config()
    elif not isinstance(base, Config):
        raise ConfigError(f"base must be a Config, got {type(base).__name__}", field="base")
    if isinstance(grid_or_configs, Config):
        grid_or_configs = [grid_or_configs]
    if isinstance(grid_or_configs, dict):
        grid = grid_or_configs
        _check_fields(grid)
        axes = []
        for name, v in grid.items():
            if _is_values(v):
                values = [_plain(x) for x in v]
                if not values:
                    err = ConfigError(f"grid: {name} has no values", field=name, value=[])
                    err.run = None
                    raise err
            else:
                values = [_plain(v)]
            axes.append(values)
        names = list(grid)
        configs = [_apply(base, dict(zip(names, combo)), i)
                   for i, combo in enumerate(itertools.product(*axes))]
        return configs, names
    if not isinstance(grid_or_configs, Iterable) or isinstance(grid_or_configs, (str, bytes)):
        raise ConfigError("sweep takes a dict of field -> values or an iterable of Config "
                          f"/ dicts of overrides, got {type(grid_or_configs).__name__}")
    configs, keys = [], set()
    for i, item in enumerate(grid_or_configs):
        if isinstance(item, Config):
            configs.append(item)
        elif isinstance(item, dict):
            keys.update(item)
            configs.append(_apply(base, item, i))
        else:
            err = ConfigError(f"run {i}: expected a Config or a dict of overrides, got "
                              f"{type(item).__name__}")
            err.run = i
            raise err
    varying = {f for f in FIELDS if len({getattr(c, f) for c in configs}) > 1}
    names = [f for f in FIELDS if f in keys or f in varying]
    return configs, names


# ---- threads ---------------------------------------------------------------------------


def thread_share(workers: int, cores: int | None = None) -> int:
    """Numba threads per run when ``workers`` runs execute at once:
    ``max(1, cores // workers)``, cores defaulting to :func:`runtime.default_threads`."""
    if cores is None:
        cores = runtime.default_threads()
    return max(1, cores // max(1, workers))


def plan_threads(requested: int | None, share: int) -> tuple[int, bool]:
    """``(threads, capped)`` for a config asking for ``requested`` threads (None = its
    share): the share when None, else ``min(requested, share)``; capped when reduced."""
    if requested is None:
        return share, False
    return (share, True) if requested > share else (requested, False)


# ---- one run (in the worker) ------------------------------------------------------------


def _run_one(index: int, cfg: Config, params: dict, config_digest: str, capped: bool):
    """Build ``World(cfg)``, run ``cfg.ticks`` ticks and return the row."""
    from .world import World

    try:
        _warm([cfg])
        t0 = time.perf_counter()
        if cfg.threads is not None and cfg.threads > runtime.max_threads():
            cfg = cfg.replace(threads=runtime.max_threads())
        world = World(cfg)
        report = world.run(cfg.ticks)
        wall = time.perf_counter() - t0
        row = {"run": index, **params, **report.summary()}
        row.update(state_digest=world.state_digest(), config_digest=config_digest,
                   wall_s=wall, worker=os.getpid(), threads_capped=capped, engine=engine_id())
        return row
    except Exception as e:
        raise SweepRunError(index, type(e).__name__, str(e), field=getattr(e, "field", None),
                            tick=getattr(e, "tick", None),
                            phase=getattr(e, "phase", None)) from e


_WARM: set = set()  # (tile_algo, chaos) already warmed in this process


def _warm(configs: list[Config]) -> None:
    """Compile, or load from the on-disk cache, every kernel ``configs`` need by ticking
    tiny worlds; once per kind per process. In the parent it fills the cache so that
    workers load instead of compiling; in a worker it keeps the loading out of the
    first run's timings."""
    from .world import World

    tiny = {"agents": 64, "side": 64, "tile_updates": 4, "ticks": 2, "seed": 1, "threads": 1}
    for key in sorted({(c.tile_algo, c.kill_rate > 0) for c in configs}):
        if key in _WARM:
            continue
        algo, chaos = key
        if chaos:
            World(Config(tile_algo=algo, kill_rate=0.05, **tiny)).run(2)
        else:
            World(Config(tile_algo=algo, **tiny)).warmup()
        _WARM.add(key)


# ---- results file ----------------------------------------------------------------------


def _read_rows(path) -> list[dict]:
    """Rows of a results file in file order; a torn (unparsable) last line is ignored,
    an unparsable line before it raises ValueError naming the line."""
    with open(path, "rb") as f:
        lines = f.read().split(b"\n")
    rows = []
    last = max((i for i, ln in enumerate(lines) if ln.strip()), default=-1)
    for i, ln in enumerate(lines):
        if not ln.strip():
            continue
        try:
            row = json.loads(ln)
            if not isinstance(row, dict) or "run" not in row:
                raise ValueError("not a row")
        except ValueError:
            if i == last:
                break
            raise ValueError(f"{path}: line {i + 1} is not a sweep row") from None
        rows.append(row)
    return rows


def _write_line(f, row: dict) -> None:
    f.write(jsonio.dumps(row, separators=(",", ":")) + "\n")
    f.flush()
    os.fsync(f.fileno())


def _rewrite(path, rows: list[dict]) -> None:
    """Replace ``path`` with ``rows`` atomically (temp file in the same folder)."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".sweep-", suffix=".jsonl", dir=folder)
    try:
        with os.fdopen(fd, "w") as f:
            for row in rows:
                f.write(jsonio.dumps(row, separators=(",", ":")) + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise


def read_results(path, *, pandas: bool | None = None):
    """The table (see :func:`to_table`) of the rows in a results file, sorted by run,
    ignoring a torn last line (a run cut off mid-write)."""
    return to_table(_read_rows(path), pandas=pandas)


# ---- the table ---------------------------------------------------------------------------


def _columns(rows: list[dict]) -> list[str]:
    cols = {"run": None}
    for row in rows:
        for k in row:
            cols.setdefault(k, None)
    return list(cols)


def to_table(rows: Iterable[dict], *, pandas: bool | None = None):
    """Rows (dicts) as a table sorted by ``run``: a pandas DataFrame (index 0..n-1)
    when pandas is importable and ``pandas`` is not False, else a dict of column name
    -> numpy array of length n. Columns: ``run`` first, then every key in order of
    first appearance; a row without a key has None (NaN in pandas) there."""
    rows = sorted(rows, key=lambda r: r["run"])
    cols = _columns(rows) if rows else ["run"]
    if pandas is not False:
        try:
            import pandas as pd
        except ImportError:
            if pandas:
                raise
        else:
            return pd.DataFrame.from_records(rows, columns=cols)
    out = {}
    for c in cols:
        values = [r.get(c) for r in rows]
        if any(v is None for v in values) and not all(v is None for v in values):
            out[c] = np.array(values, dtype=object)
        else:
            out[c] = np.array(values) if values else np.array([], dtype=np.int64)
    return out


# ---- the sweep ------------------------------------------------------------------------------


def _check_ticks(ticks):
    if ticks is None:
        return
    if isinstance(ticks, bool) or not isinstance(ticks, numbers.Integral) or ticks < 0:
        raise ConfigError(f"ticks={ticks!r} must be a non-negative integer", field="ticks",
                          value=ticks)


def _check_run_args(ticks, n_jobs, resume, results) -> None:
    _check_ticks(ticks)
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, numbers.Integral) or n_jobs == 0:
        raise ConfigError(f"n_jobs={n_jobs!r} must be a non-zero integer (-1: every core)",
                          field="n_jobs", value=n_jobs)
    if resume and results is None:
        raise ConfigError("resume=True needs a results file", field="resume", value=resume)


def _effective_workers(joblib, n_jobs: int) -> int:
    """Runs that execute at once under the active joblib backend (Dask: the threads of
    all its workers, whatever n_jobs says)."""
    try:
        backend, _ = joblib.parallel.get_active_backend()
        return max(1, int(backend.effective_n_jobs(n_jobs)))
    except AttributeError:  # pragma: no cover - older joblib
        return max(1, int(joblib.effective_n_jobs(n_jobs)))


def _sweep(grid_or_configs, ticks=None, *, n_jobs=1, results=None, base=None,
           progress: bool | Callable = False, backend=None, resume=False):
    """The sweep; returns ``(rows in arrival order, swept parameter names)``."""
    import joblib

    _check_run_args(ticks, n_jobs, resume, results)
    configs, names = expand(grid_or_configs, base)

    # Every run's config, digest and memory, checked before anything runs.
    have = available_memory()
    runs = []
    for i, cfg in enumerate(configs):
        if ticks is not None:
            try:
                cfg = cfg.replace(ticks=int(ticks))
            except ConfigError as e:
                raise _run_error(i, e) from None
        need = memory_estimate(cfg)["total"]
        if need > have:
            err = ConfigError(f"run {i}: a world of capacity={cfg.rows} needs about "
                              f"{need / 2**30:.2f} GiB resident but only "
                              f"{have / 2**30:.2f} GiB is available",
                              field="capacity", value=cfg.rows, bound=have)
            err.run = i
            raise err
        params = {n: getattr(cfg, n) for n in names}
        runs.append((i, cfg, params, cfg.digest()))

    done_rows = _resumed(results, {i: d for i, _, _, d in runs}) if resume else []
    done = {r["run"] for r in done_rows}
    todo = [r for r in runs if r[0] not in done]

    with _backend(joblib, backend):
        workers = min(_effective_workers(joblib, n_jobs), len(todo)) if todo else 1
        share = thread_share(workers)
        capped_runs = []
        tasks = []
        for i, cfg, params, digest in todo:
            t, capped = plan_threads(cfg.threads, share)
            if capped:
                capped_runs.append(i)
            tasks.append((i, cfg.replace(threads=t), params, digest, capped))
        if capped_runs:
            warnings.warn(f"threads capped to {share} per run ({workers} runs at once on "
                          f"{runtime.default_threads()} cores) in runs {capped_runs}",
                          SweepWarning, stacklevel=3)

        rows = _execute(joblib, _run_one, tasks, workers, len(runs), done_rows, results,
                        resume, progress, warm=lambda: _warm([t[1] for t in tasks]))
    return rows, names


_ENGINE = []


def engine_id() -> str:
    """This engine's identity in a results row: the version and a hash of every source
    file of the package and its kernels (an edited tree is another engine: its runs may
    give other results, so ``resume`` runs them again)."""
    if not _ENGINE:
        from . import __version__

        h = hashlib.sha256()
        for d in (Path(__file__).parent, Path(runtime.__file__).parent.parent / "kernels",
                  Path(__file__).parent / "models", Path(__file__).parent / "tileworld"):
            if d.is_dir():
                for f in sorted(d.glob("*.py")):
                    h.update(f.name.encode() + f.read_bytes())
        _ENGINE.append(f"{__version__}+{h.hexdigest()[:12]}")
    return _ENGINE[0]


def _resumed(results, want: dict, key: str = "config_digest") -> list[dict]:
    """The rows of ``results`` whose run index maps to their ``key`` in ``want``, by
    run, and that this engine wrote (:func:`engine_id`)."""
    if not os.path.exists(results):
        return []
    kept = {}
    try:
        rows = _read_rows(results)
    except (OSError, ValueError) as e:  # a line that is not a row, an unreadable file
        raise ConfigError(f"cannot resume from {results}: {e}", field="results",
                          value=str(results)) from None
    engine = engine_id()
    for row in rows:
        if want.get(row.get("run")) == row.get(key) and row.get("engine") == engine:
            kept[row["run"]] = row
    return [kept[i] for i in sorted(kept)]


@contextlib.contextmanager
def _backend(joblib, backend):
    """joblib's config with ``backend`` (None: as it is); refuses multiprocessing."""
    ctx = (joblib.parallel_config(backend=backend) if backend is not None
           else contextlib.nullcontext())
    with ctx:
        active = type(joblib.parallel.get_active_backend()[0]).__name__
        if active == "MultiprocessingBackend":
            raise ConfigError("backend 'multiprocessing' forks this process, which is unsafe "
                              "once Numba's OpenMP threads have started; use 'loky' (the "
                              "default) or Dask", field="backend", value="multiprocessing")
        yield


@contextlib.contextmanager
def _exclusive(results):
    """Hold ``.<name>.lock`` beside the results file for the sweep, so that a second
    sweep on the same file is refused instead of interleaving its rows (the lock file
    stays: it is empty and marks nothing when no sweep holds it)."""
    import fcntl

    path = os.path.join(os.path.dirname(os.path.abspath(results)),
                        f".{os.path.basename(results)}.lock")
    try:
        fh = open(path, "a")  # noqa: SIM115 (closed below)
    except OSError as e:
        raise ConfigError(f"cannot write the results file {results}: {e.strerror or e}",
                          field="results", value=str(results)) from None
    try:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConfigError(f"the results file {results} is being written by another "
                              f"sweep", field="results", value=str(results)) from None
        yield
    finally:
        fh.close()  # releases the lock


def _execute(joblib, fn, tasks, workers, total, done_rows, results, resume, progress,
             warm=None) -> list[dict]:
    """Run ``fn(*task)`` for every task on ``workers`` joblib workers, appending each
    row to ``results`` as it arrives (after ``done_rows`` when resuming), with a bar or
    a ``progress(done, total, row)`` callback; returns every row, resumed ones first.
    Nothing is written before this is called: the caller has validated every run."""
    with contextlib.ExitStack() as stack:
        out = None
        if results is not None:
            stack.enter_context(_exclusive(results))
            try:
                if resume:
                    _rewrite(results, done_rows)
                out = stack.enter_context(open(results, "a" if resume else "w"))
            except OSError as e:
                raise ConfigError(f"cannot write the results file {results}: "
                                  f"{e.strerror or e}", field="results",
                                  value=str(results)) from None
        bar = None
        if progress is True:
            from tqdm import tqdm

            bar = stack.enter_context(tqdm(total=total, initial=len(done_rows), unit="run",
                                           file=sys.stderr, dynamic_ncols=True))
        rows = list(done_rows)
        if tasks:
            if warm is not None:
                warm()
            jobs = (joblib.delayed(fn)(*t) for t in tasks)
            try:
                par = joblib.Parallel(n_jobs=workers, return_as="generator_unordered",
                                      batch_size=1)
            except ValueError:  # a custom backend without generators
                par = joblib.Parallel(n_jobs=workers, return_as="list", batch_size=1)
            for row in par(jobs):
                if out is not None:
                    _write_line(out, row)
                rows.append(row)
                if bar is not None:
                    bar.update(1)
                elif callable(progress):
                    progress(len(rows), total, row)
    return rows


def sweep(grid_or_configs, ticks: int | None = None, *, n_jobs: int = 1, results=None,
          base: Config | None = None, progress: bool | Callable = False, backend=None,
          resume: bool = False):
    """Run one world per config of ``grid_or_configs`` and return the table of rows.

    grid_or_configs : dict of Config field -> list of values (cartesian product; a
        scalar is fixed), or an iterable of Config / dicts of overrides of ``base``
    ticks : ticks per run; None = each config's ``ticks``
    n_jobs : runs at once (joblib semantics: -1 = every core); 1 runs in this process
        (under a Dask config the cluster's threads decide, whatever n_jobs says)
    results : path of a JSON-lines file that receives each row as it finishes
    base : the Config the grid overrides (default ``Config()``)
    progress : True = a tqdm bar on stderr; a callable gets ``(done, total, row)``
    backend : a joblib backend name; None = joblib's current config (``parallel_config``)
    resume : keep the rows of ``results`` whose run index and config_digest match and
        run only the others

    Returns the table of :func:`to_table`: one row per run, sorted by ``run``; the
    columns are described in the module docstring. Raises ConfigError (before anything
    runs) for a bad config, SweepRunError when a run raises.
    """
    rows, _ = _sweep(grid_or_configs, ticks, n_jobs=n_jobs, results=results, base=base,
                     progress=progress, backend=backend, resume=resume)
    return to_table(rows)


# ---- sweeps of a model --------------------------------------------------------------------


def _model_spec(model):
    """(spec that imports in a worker or None, Model) of ``model``."""
    from .models import MODELS, resolve

    found, _ = resolve(model)
    if isinstance(model, str):
        return model, found
    names = [k for k, m in MODELS.items() if m.MODEL is found]
    return (names[0] if names else None), found


def _run_model(index, spec, model, agents, seed, steps, threads, params, run_digest,
               collect=None, tables=None):
    """Build one model world in a worker, run ``steps`` steps, return its row: the
    statistics of the last step, the state digest, the time. With ``collect`` (the
    arguments of ``ModelWorld.collect``), the run collects its model and agent tables
    and writes them to ``tables/run_<index>.npz`` (the row's ``tables``)."""
    from .models import resolve

    try:
        _, make = resolve(spec if spec is not None else model)
        t0 = time.perf_counter()
        world = make(agents, seed=seed, threads=min(threads, runtime.max_threads()), **params)
        if collect is None:
            table = world.run(steps)
        else:
            table, agent_table = world.collect(steps, frame=False, **collect)
        wall = time.perf_counter() - t0
        row = {"run": index, "agents": agents, "seed": seed, **params, "steps": steps,
               "threads": world.threads}
        row.update({k: float(v[-1]) if len(v) else None for k, v in table.items()
                    if k != "step"})
        row.update(state_digest=world.state_digest(), run_digest=run_digest, wall_s=wall,
                   worker=os.getpid(), engine=engine_id())
        if collect is not None:
            row["tables"] = _write_tables(Path(tables) / f"run_{index:06d}.npz", table,
                                          agent_table)
        return row
    except Exception as e:
        raise SweepRunError(index, type(e).__name__, str(e), field=getattr(e, "field", None),
                            tick=getattr(e, "tick", None),
                            phase=getattr(e, "phase", None)) from e


def _write_tables(path: Path, model_table: dict, agent_table: dict) -> str:
    """Write one run's tables to ``path`` (an .npz of ``model.<column>`` and
    ``agents.<column>`` arrays), atomically; returns the path as a string."""
    arrays = {f"model.{k}": v for k, v in model_table.items()}
    arrays.update({f"agents.{k}": v for k, v in agent_table.items()})
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".npz", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return str(path)


def read_tables(path) -> tuple[dict, dict]:
    """(model table, agent table) of one run, as dicts of numpy arrays, from a file
    :func:`sweep_model` wrote (``collect=``). Raises ConfigError for a file that is not
    one (no pickles are read)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            model = {k[6:]: z[k] for k in z.files if k.startswith("model.")}
            agents = {k[7:]: z[k] for k in z.files if k.startswith("agents.")}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise ConfigError(f"{path} is not a run's tables: {e}", field="tables",
                          value=str(path)) from None
    if "step" not in model or not {"step", "id"} <= set(agents):
        raise ConfigError(f"{path} is not a run's tables: it lacks step or id",
                          field="tables", value=str(path))
    return model, agents


class SweepTables(NamedTuple):
    """What :func:`sweep_model` returns with ``collect``: the rows, and every run's
    model and agent tables concatenated with a leading ``run`` column (None when they
    were left on disk in ``tables``: each row's ``tables`` names its file)."""

    rows: Any
    model: Any
    agents: Any


def _gather(rows, pandas_out: bool):
    """The runs' tables, each with its ``run``, concatenated in run order."""
    model_parts, agent_parts = [], []
    for row in sorted(rows, key=lambda r: r["run"]):
        m, a = read_tables(row["tables"])
        model_parts.append({"run": np.full(len(m["step"]), row["run"]), **m})
        agent_parts.append({"run": np.full(len(a["step"]), row["run"]), **a})

    def cat(parts):
        if not parts:
            return {}
        out = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        if pandas_out:
            import pandas as pd

            return pd.DataFrame(out, copy=False)
        return out
    return cat(model_parts), cat(agent_parts)


def sweep_model(model, grid: dict, steps: int, *, agents: int = 1000, n_jobs: int = 1,
                results=None, progress: bool | Callable = False, backend=None,
                resume: bool = False, collect: dict | None = None, tables=None):
    """Run one world of ``model`` per point of ``grid`` for ``steps`` steps and return
    the table of rows, as :func:`sweep` does for the tileworld (Agents.jl's
    ``paramscan``, Mesa's ``batch_run``)::

        sweep_model("wealth", {"width": [10, 20], "seed": range(8)}, steps=100,
                    agents=1000, n_jobs=-1)      # 2 x 8 runs, seeds as repetitions

    model : a reference model's name, ``"package.module:attribute"``, or a Model (a
        Model object that is not a reference model runs in this process or on the
        threading backend only: worker processes import it by name)
    grid : model parameter -> values (cartesian product, last varying fastest; a scalar
        is fixed); ``seed`` and ``agents`` may be swept too
    steps : steps per run; agents : rows per world unless swept

    A row: run, agents, seed, every model parameter given in the grid, steps, threads,
    each model statistic after the last step, state_digest, run_digest (a hash of the
    model, agents, seed, parameters and steps: what ``resume`` matches), wall_s, worker,
    engine (:func:`engine_id`: ``resume`` keeps only this engine's rows).

    collect : the arguments of :meth:`ModelWorld.collect` (``{"adata": ("wealth",),
        "every": 10}``): every run also collects its model and agent tables, as
        Agents.jl's ``ensemblerun!`` does; each worker writes its run's tables to a file
        (``tables``, a folder; default a temporary one), so large tables stream to disk
        instead of through the workers' pipes. Returns :class:`SweepTables`: the rows
        and, unless ``tables`` was given, the tables of every run concatenated with a
        leading ``run`` column (read one run's file with :func:`read_tables`).
    Each world gets ``max(1, cores // workers)`` threads; the state does not depend on
    it. Raises ConfigError (before anything runs) naming the run and the parameter,
    SweepRunError when a run raises.
    """
    import joblib

    from .models import resolve

    if steps is None:
        raise ConfigError("steps must be given", field="steps")
    _check_run_args(steps, n_jobs, resume, results)
    if not isinstance(grid, dict):
        raise ConfigError(f"grid must be a dict of parameter -> values, got "
                          f"{type(grid).__name__}", field="grid")
    if collect is not None and not isinstance(collect, dict):
        raise ConfigError(f"collect must be a dict of ModelWorld.collect arguments, got "
                          f"{type(collect).__name__}", field="collect")
    if collect is not None and not set(collect) <= {"adata", "every", "table"}:
        raise ConfigError(f"collect takes adata, every and table, not "
                          f"{sorted(set(collect) - {'adata', 'every', 'table'})}",
                          field="collect")
    if tables is not None and collect is None:
        raise ConfigError("tables is where collected tables go: give collect too",
                          field="tables")
    spec, found = _model_spec(model)
    known = set(found.params) | {"seed", "agents"}
    for name in grid:
        if name not in known:
            raise ConfigError(f"grid: unknown parameter {name!r} of model {found.name!r} "
                              f"(known: {sorted(known)})", field=name)
    axes = [[_plain(x) for x in v] if _is_values(v) else [_plain(v)] for v in grid.values()]
    runs = []
    for i, combo in enumerate(itertools.product(*axes)):
        point = dict(zip(grid, combo))
        a = point.pop("agents", agents)
        seed = point.pop("seed", 0)
        if isinstance(a, bool) or not isinstance(a, numbers.Integral) or a < 1:
            err = ConfigError(f"run {i}: agents={a!r} must be an integer >= 1",
                              field="agents", value=a)
            err.run = i
            raise err
        digest = hashlib.blake2b(json.dumps([found.name, a, seed, point, int(steps)],
                                            sort_keys=True).encode(),
                                 digest_size=8).hexdigest()
        runs.append((i, int(a), seed, point, digest))
    done_rows = _resumed(results, {r[0]: r[4] for r in runs}, "run_digest") if resume else []
    done = {r["run"] for r in done_rows}
    todo = [r for r in runs if r[0] not in done]
    with _backend(joblib, backend):
        workers = min(_effective_workers(joblib, n_jobs), len(todo)) if todo else 1
        active = type(joblib.parallel.get_active_backend()[0]).__name__
        if spec is None and workers > 1 and active != "ThreadingBackend":
            raise ConfigError(f"model {found.name!r} is a Model object that worker processes "
                              f"cannot import: give it as 'package.module:attribute', or use "
                              f"n_jobs=1 or the threading backend", field="model")
        share = thread_share(workers)
        with contextlib.ExitStack() as stack:
            folder = None
            if collect is not None:
                folder = (Path(tables) if tables is not None else
                          Path(stack.enter_context(tempfile.TemporaryDirectory(
                              prefix="dod_sim_tables_"))))
                if not folder.is_dir():
                    raise ConfigError(f"tables={str(tables)!r} is not a folder",
                                      field="tables", value=str(tables))
            tasks = [(i, spec, None if spec is not None else found, a, seed, int(steps),
                      share, point, digest, collect, None if folder is None else str(folder))
                     for i, a, seed, point, digest in todo]

            def warm():  # compile (or load) the model once here, before workers load it
                _, a, seed, point, _ = todo[0]
                resolve(spec if spec is not None else found)[1](a, seed=seed, threads=1,
                                                                **point).run(1)
            rows = _execute(joblib, _run_model, tasks, workers, len(runs), done_rows,
                            results, resume, progress, warm=warm if workers > 1 else None)
            if collect is None:
                return to_table(rows)
            pandas_out = not isinstance(table := to_table(rows), dict)
            if tables is not None:
                return SweepTables(table, None, None)
            return SweepTables(table, *_gather(rows, pandas_out))


# ---- command line -------------------------------------------------------------------------

DISPLAY = ("messages_sent", "messages_delivered", "messages_deferred",
           "messages_undeliverable", "messages_lost", "tiles_rejected", "tick_p50_ms",
           "tick_p99_ms", "threads", "wall_s")


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, f"dod-sim: error: {message}\n")


def _jobs(text):
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--jobs must be an integer, got {text!r}") from None
    if v == 0:
        raise argparse.ArgumentTypeError("--jobs must not be 0 (-1: every core)")
    return v


def _ticks(text):
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--ticks must be an integer, got {text!r}") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"--ticks must be >= 0, got {v}")
    return v


def add_arguments(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the ``sweep`` subcommand's arguments to ``p`` (for ``dod-sim sweep``)."""
    p.add_argument("grid", metavar="GRID.toml",
                   help="[base]: Config fields; [grid]: field = [values, ...]")
    p.add_argument("--ticks", type=_ticks, default=None,
                   help="ticks per run (default: the config's ticks)")
    p.add_argument("--jobs", type=_jobs, default=1,
                   help="runs at once (default 1; -1: every core)")
    p.add_argument("--out", metavar="results.jsonl", default=None,
                   help="append each finished row to this JSON-lines file")
    p.add_argument("--resume", action="store_true",
                   help="skip the runs already in --out with the same config")
    p.add_argument("--json", action="store_true", help="print the rows as JSON only")
    return p


def load_grid(path) -> tuple[Config, dict]:
    """``(base, grid)`` from a TOML file with a ``[base]`` table of Config fields and a
    ``[grid]`` table of field -> list of values (both optional). Raises ConfigError for
    anything else, naming the file."""
    import tomllib

    try:
        with open(path, "rb") as f:
            doc = tomllib.load(f)
    except OSError as e:
        raise ConfigError(f"{path}: {e.strerror or e}", field="grid") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: bad TOML: {' '.join(str(e).split())}", field="grid") from None
    extra = sorted(set(doc) - {"base", "grid"})
    if extra:
        raise ConfigError(f"{path}: unknown key(s) {', '.join(extra)}; expected the tables "
                          f"[base] and [grid]", field=extra[0])
    tables = {}
    for name in ("base", "grid"):
        t = doc.get(name, {})
        if not isinstance(t, dict):
            raise ConfigError(f"{path}: {name} must be a table", field=name)
        for k, v in t.items():
            if k not in FIELDS:
                raise ConfigError(f"{path}: [{name}] unknown Config field {k!r}", field=k)
            if isinstance(v, dict) or (name == "base" and isinstance(v, list)):
                raise ConfigError(f"{path}: [{name}] {k} must be a "
                                  f"{'value' if name == 'base' else 'list of values'}",
                                  field=k, value=v)
        tables[name] = t
    try:
        base = Config(**tables["base"])
    except ConfigError as e:
        raise ConfigError(f"{path}: [base] {e}", field=e.field, value=e.value,
                          bound=e.bound) from None
    return base, tables["grid"]


def _fmt(v) -> str:
    if isinstance(v, bool) or v is None:
        return str(v)
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, str) and len(v) > 16:
        return v[:12]
    return str(v)


def format_rows(rows: list[dict], names: list[str]) -> str:
    """A compact text table: run, the swept parameters, the main figures, the first 12
    hex digits of the state digest."""
    cols = ["run", *[n for n in names if n != "run"]]
    cols += [k for k in DISPLAY if k not in cols and any(k in r for r in rows)]
    cols.append("state_digest")
    rows = sorted(rows, key=lambda r: r["run"])
    cells = [[_fmt(r.get(c)) for c in cols] for r in rows]
    heads = ["state" if c == "state_digest" else c for c in cols]
    widths = [max(len(h), *(len(row[j]) for row in cells)) if cells else len(h)
              for j, h in enumerate(heads)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(heads, widths))]
    lines += ["  ".join(c.rjust(w) for c, w in zip(row, widths)) for row in cells]
    return "\n".join(lines)


def run_args(args: argparse.Namespace) -> int:
    """Run ``dod-sim sweep`` with parsed arguments; returns the exit status."""
    def fail(msg, code=2):
        print(f"dod-sim: error: {msg}", file=sys.stderr)
        return code

    try:
        base, grid = load_grid(args.grid)
        tty = sys.stderr.isatty() and not args.json
        if tty:
            print("preparing (kernels load from the cache; the first run compiles them) ...",
                  file=sys.stderr)
        rows, names = _sweep(grid, args.ticks, n_jobs=args.jobs, results=args.out, base=base,
                             progress=tty, resume=args.resume)
    except SweepRunError as e:
        saved = f"; finished rows are in {args.out}" if args.out else ""
        return fail(f"{e}{saved}", 1)
    except DodSimError as e:
        return fail(e)
    except KeyboardInterrupt:
        saved = f"; finished rows are in {args.out}" if args.out else ""
        print(f"dod-sim: interrupted{saved}", file=sys.stderr)
        return 130
    if args.json:
        print(jsonio.dumps(sorted(rows, key=lambda r: r["run"]), indent=2))
    else:
        print(format_rows(rows, names))
    return 0


def cli_main(argv=None) -> int:
    """``dod-sim sweep GRID.toml [--ticks N] [--jobs N] [--out results.jsonl] [--resume]
    [--json]``: run the grid, print a compact table (or JSON rows); a tqdm bar on stderr
    when it is a terminal. Bad input: one line on stderr, exit status 2; a failed run:
    one line, status 1; Ctrl-C: status 130."""
    p = _Parser(prog="dod-sim sweep",
                description="Run a grid of tileworlds in parallel, one row per run.")
    add_arguments(p)
    return run_args(p.parse_args(argv))


if __name__ == "__main__":
    # Import under the package name, so the worker function pickles as
    # dod_sim.sweep._run_one rather than __main__._run_one.
    from dod_sim.sweep import cli_main as _cli_main

    sys.exit(_cli_main())
