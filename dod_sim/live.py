"""Run a world in a background thread and watch it: :func:`run_in_background`,
:func:`live_figure`.

The kernels release the GIL, so a world can tick in a background thread while the
calling thread (a Jupyter kernel, a GUI, a server) stays responsive. The thread calls
``world.run(chunk)`` repeatedly, so the telemetry of every finished chunk is available
between chunks; ``LiveRun.stop()`` ends the run after the tick in progress. A
``World`` (the tileworld) and any model's ``ModelWorld`` run alike: a model's report is
its :class:`~dod_sim.report.ModelReport` and its columns are ``tick_ms`` and the
model's statistics.

>>> from dod_sim import Config, World
>>> live = run_in_background(World(Config(agents=100, side=64, tile_updates=4)), 40)
>>> report = live.join()
>>> report.ticks, live.done
(40, 40)

While a run is live, the background thread owns the world: do not tick or change it
(``step``, ``run``, ``spawn``, ``kill``, ``send``, ``set_state``) from another thread.
Reading ``world.columns`` is allowed but may see a tick in progress; ``LiveRun.columns()``
and ``LiveRun.report()`` are always consistent.
"""

from __future__ import annotations

import atexit
import dataclasses
import threading
import weakref
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout

import numpy as np

from . import runtime, snapshot
from .errors import ConfigError
from .kernels.tileworld.state import COUNTER_NAMES, G
from .report import ModelReport, Report, rss_bytes

__all__ = ["LiveRun", "live_figure", "run_in_background"]

# Worlds with a live background run: at most one per world.
_RUNNING: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_RUNNING_LOCK = threading.Lock()
# Every run not yet finished, stopped and joined at interpreter exit (the thread is a
# daemon so a forgotten run never blocks exit, but it must not be inside a kernel while
# the interpreter tears down).
_LIVE: weakref.WeakSet = weakref.WeakSet()


def _check_count(name, v, lo):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
        raise ConfigError(f"{name}={v!r} must be an integer >= {lo}", field=name, value=v,
                          bound=lo)
    return int(v)


class _Either:
    """``is_set`` when either event is."""

    def __init__(self, a, b):
        self.a, self.b = a, b

    def is_set(self) -> bool:
        return self.a.is_set() or self.b.is_set()


def live_run_of(world):
    """The background run that holds ``world``, unless the caller is that run's own
    thread (or there is none): None."""
    with _RUNNING_LOCK:
        run = _RUNNING.get(world)
    if run is None or threading.current_thread() is run._thread:
        return None
    return run


class LiveRun:
    """A run of ``ticks`` ticks of ``world`` in a background thread, ``chunk`` ticks per
    ``world.run`` call. Made (and started) by :func:`run_in_background`.

    done : ticks finished so far whose telemetry is available (a multiple of ``chunk``
        while running; the final count after the run ends). ``columns()`` and
        ``report()`` always cover exactly ``done`` ticks.
    running : True until the thread has finished (all ticks, a stop or an error).
    error : the exception that ended the run, or None; ``join`` raises it.
    ticks, chunk, world : as given.
    """

    def __init__(self, world, ticks: int, chunk: int = 20):
        self.world = world
        self.ticks = _check_count("ticks", ticks, 0)
        self.chunk = _check_count("chunk", chunk, 1)
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._pause = threading.Event()  # set while a snapshot waits for a tick boundary
        self._requests: list = []  # (path, key, Future) of snapshots to take between ticks
        self._lock = threading.Lock()  # guards _reports and _done: held for an append
        self._reports: list = []  # Report, or (ModelReport, statistics) of a model
        self._done = 0
        self._empty: dict = {}
        self._thread = threading.Thread(target=self._main, daemon=True,
                                         name=f"dod_sim-live-{id(self):x}")

    def _init_empty(self, world):
        # What an empty report needs, read now, before the thread can tick the world.
        if _is_model(world):
            self._empty = {"model": world.model.name, "agents": world.live,
                           "threads": world.threads,
                           "stats": {name: np.zeros(0) for name in world.model.stats}}
            return
        self._empty = {
            "config": world.config, "threads": world.threads,
            "phase_names": tuple(p.name for p in world.schedule),
            "start_counters": np.array([world.counters()[n] for n in COUNTER_NAMES], np.int64),
            "census": world.census(), "arena": world.arena_usage(),
            "period_ns": int(world.config.tick_ms * 1e6),
            "provenance": runtime.provenance(world.config, world.threads),
            "threads_choice": dict(world.threads_choice),
            "phase_threads": world.phase_threads,
        }

    def _release(self):
        with _RUNNING_LOCK:
            if _RUNNING.get(self.world) is self:
                del _RUNNING[self.world]

    # ---- the background thread ---------------------------------------------------------

    def _start(self):
        world = self.world
        with _RUNNING_LOCK:  # the world is claimed until the thread ends
            other = _RUNNING.get(world)
            if other is not None:
                raise RuntimeError(f"this world already has a background run ({other!r}); "
                                   f"stop() or join() it first")
            _RUNNING[world] = self
        try:
            self._init_empty(world)
            _LIVE.add(self)
            self._thread.start()
        except BaseException:
            self._release()
            raise
        return self

    def _main(self):
        world = self.world
        try:
            while self._done < self.ticks and not self._stop.is_set():
                n = min(self.chunk, self.ticks - self._done)
                before = getattr(world, "last_report", None)
                try:
                    out = world.run(n, stop=_Either(self._stop, self._pause))
                except BaseException:
                    # World.run records the report of the ticks it finished before it
                    # raises a phase's error: keep them, the failing tick included.
                    after = getattr(world, "last_report", None)
                    if after is not None and after is not before and not _is_model(world):
                        self._append(after)
                    raise
                rep = (world.last_report, out) if _is_model(world) else out
                self._append(rep)
                self._serve()
                if _ticks(rep) < n and self._stop.is_set():  # stopped inside the chunk
                    break
        except BaseException as e:  # noqa: BLE001 - kept for join(), which raises it
            self.error = e
        finally:
            self._release()
            self._serve()  # a snapshot asked for as the run ended: of the final state

    def _serve(self):
        """Take the snapshots asked for, between ticks (the run is paused meanwhile)."""
        with self._lock:
            requests, self._requests = self._requests, []
            self._pause.clear()
        for path, key, future in requests:
            try:
                snapshot.save(self.world, path, key)
            except BaseException as e:  # noqa: BLE001 - handed to the caller
                future.set_exception(e)
            else:
                future.set_result(self.world.tick)

    def _append(self, rep):
        if _ticks(rep) == 0:  # a stop that came before the chunk's first tick
            return
        with self._lock:
            self._reports.append(rep)
            self._done += _ticks(rep)

    # ---- control -----------------------------------------------------------------------

    @property
    def done(self) -> int:
        return self._done

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def snapshot(self, path, timeout: float | None = None, key: bytes | None = None) -> int:
        """Write a snapshot of the world at the next tick boundary (the run pauses for
        the copy, then goes on), with a MAC under ``key`` when one is given, and return
        the tick it holds; after the run, of its final state. Raises what saving raised,
        and TimeoutError after ``timeout`` seconds. ``World.snapshot`` from another
        thread comes here while the run lives."""
        future = Future()
        with self._lock:
            self._requests.append((path, key, future))
            self._pause.set()
        if not self._thread.is_alive():
            self._serve()
        try:
            return future.result(timeout)
        except FutureTimeout:
            raise TimeoutError(f"no tick boundary in {timeout} s to take the snapshot at") \
                from None

    def stop(self) -> None:
        """Ask the run to end after the tick in progress (returns at once; ``join``
        waits for it)."""
        self._stop.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait up to ``timeout`` seconds (None: until the end) for the run to end;
        returns True when it has ended. Never raises the run's error."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def join(self, timeout: float | None = None) -> Report:
        """Wait for the run to end and return the :meth:`report` of all its ticks.

        Raises the exception that ended the run, if any (``error``), and TimeoutError
        when ``timeout`` seconds pass first (the run goes on).
        """
        if not self.wait(timeout):
            raise TimeoutError(f"the background run is still going after {timeout} s "
                               f"({self.done} of {self.ticks} ticks done)")
        if self.error is not None:
            raise self.error
        return self.report()

    # ---- telemetry ---------------------------------------------------------------------

    def _snapshot(self) -> list:
        with self._lock:
            return list(self._reports)

    def report(self) -> Report | ModelReport:
        """A :class:`~dod_sim.Report` of the ``done`` ticks so far, safe to call while
        the run goes on.

        The chunks' per-tick arrays (tick_ns, phase_ns, counters, gauges, busy_cycles)
        are concatenated; start_counters and start_busy are the first chunk's; wall_ns
        and cpu_ns are the sums over chunks (the bookkeeping between chunks is not
        counted; cpu_ns is the whole process's CPU time, the watching thread included).
        census, rss, arena, provenance, threads_choice and phase_threads are the last
        chunk's, and so is ``steady``: ``allocations_per_s()`` covers the steady state of
        the last chunk only. Before the first chunk ends the report has 0 ticks and the
        state at start. A model's world gives a :class:`~dod_sim.report.ModelReport`,
        its tick_ns concatenated and wall_ns and cpu_ns summed the same way.
        """
        reps = self._snapshot()
        e = self._empty
        if _is_model(self.world):
            if not reps:
                return ModelReport(model=e["model"], agents=e["agents"], threads=e["threads"],
                                   tick_ns=np.zeros(0, np.int64), wall_ns=0, cpu_ns=0)
            reps = [r for r, _ in reps]
            return dataclasses.replace(
                reps[-1], tick_ns=np.concatenate([r.tick_ns for r in reps]),
                wall_ns=sum(r.wall_ns for r in reps), cpu_ns=sum(r.cpu_ns for r in reps),
                nrt_allocations=sum(r.nrt_allocations for r in reps),
                calls=sum(r.calls for r in reps))
        if not reps:
            n_ph, th = len(e["phase_names"]), e["threads"]
            z = np.zeros
            return Report(
                config=e["config"], threads=th, tick_ns=z(0, np.int64),
                phase_ns=z((0, n_ph), np.int64), phase_names=e["phase_names"],
                counters=z((0, len(COUNTER_NAMES)), np.int64),
                start_counters=e["start_counters"].copy(), census=dict(e["census"]),
                wall_ns=0, cpu_ns=0, rss=rss_bytes(), period_ns=e["period_ns"],
                arena=dict(e["arena"]), gauges=z((0, len(G)), np.int64),
                busy_cycles=z((0, th), np.int64), start_busy=z(th, np.int64),
                cycles_per_ns=runtime.cycles_per_ns(), provenance=dict(e["provenance"]),
                threads_choice=dict(e["threads_choice"]),
                phase_threads=dict(e["phase_threads"]),
            )
        first, last = reps[0], reps[-1]

        def cat(name):
            return np.concatenate([getattr(r, name) for r in reps])

        # every other field (config, threads, phase names, ...) is the last chunk's
        return dataclasses.replace(
            last, tick_ns=cat("tick_ns"), phase_ns=cat("phase_ns"), counters=cat("counters"),
            gauges=cat("gauges"), busy_cycles=cat("busy_cycles"),
            start_counters=first.start_counters.copy(), start_busy=first.start_busy.copy(),
            wall_ns=sum(r.wall_ns for r in reps), cpu_ns=sum(r.cpu_ns for r in reps),
            census=dict(last.census), arena=dict(last.arena), steady=dict(last.steady),
            provenance=dict(last.provenance), threads_choice=dict(last.threads_choice),
        )

    def columns(self) -> dict:
        """The per-tick columns (``Report.columns()``; for a model's world ``tick``,
        ``tick_ms`` and each of the model's statistics) of the ``done`` ticks so far: a
        dict of fresh numpy arrays, all of length ``done``; safe to call while the run
        goes on (it never waits for a tick)."""
        if not _is_model(self.world):
            return self.report().columns()
        reps = self._snapshot()
        tick_ns = np.concatenate([r.tick_ns for r, _ in reps]) if reps else np.zeros(0)
        out = {"tick": np.arange(tick_ns.shape[0]), "tick_ms": tick_ns / 1e6}
        for name, empty in self._empty["stats"].items():
            out[name] = np.concatenate([np.asarray(t[name], np.float64) for _, t in reps]) \
                if reps else empty
        return out

    def __repr__(self) -> str:
        state = ("running" if self.running else
                 f"failed: {type(self.error).__name__}" if self.error is not None else
                 "stopped" if self._stop.is_set() and self.done < self.ticks else "finished")
        return f"LiveRun({self.done} of {self.ticks} ticks, chunk {self.chunk}, {state})"


def _is_model(world) -> bool:
    """A model's world (``ModelWorld``) rather than the tileworld's ``World``."""
    return hasattr(world, "model")


def _ticks(rep) -> int:
    return (rep[0] if isinstance(rep, tuple) else rep).ticks


def run_in_background(world, ticks: int, *, chunk: int = 20) -> LiveRun:
    """Start ticking ``world`` (a ``World`` or any model's ``ModelWorld``) for ``ticks``
    ticks in a background thread and return the :class:`LiveRun` that watches and
    controls it.

    The thread calls ``world.run(chunk, stop=...)`` until ``ticks`` ticks are done,
    ``stop()`` is called (the run ends after the tick in progress) or a tick raises
    (kept in ``error``, re-raised by ``join``). The ticks are the same as a foreground
    ``world.run(ticks)``: same ``state_digest()`` at the end. Pacing (``tick_ms``)
    restarts at each chunk. A world has at most one background run at a time.
    """
    return LiveRun(world, ticks, chunk)._start()


@atexit.register
def _stop_all_at_exit():
    runs = list(_LIVE)
    for r in runs:
        r.stop()
    for r in runs:
        r.wait(10.0)


def _png_displayable(fig, shell):
    """``fig`` itself where the shell renders figures as PNG, else an Image of it."""
    try:
        shell.display_formatter.formatters["image/png"].lookup(fig)
        return fig
    except (KeyError, AttributeError):
        import io

        from IPython.display import Image

        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        return Image(data=buf.getvalue(), format="png")


def live_figure(live_run: LiveRun, columns=("tick_ms", "mb_waiting"), every: float = 0.5):
    """Plot ``columns`` of ``live_run`` against the tick and redraw the figure in place
    every ``every`` seconds until the run ends; returns the final matplotlib Figure.

    In Jupyter (any IPython kernel, headless under nbclient too) the figure is shown
    with ``IPython.display.display(fig, display_id=True)`` and updated in place with
    ``handle.update(fig)``; elsewhere (plain Python, a terminal) nothing is displayed
    and the call just waits for the run, updating the figure it returns. Interrupting it
    (KeyboardInterrupt) stops the run too. The run's error, if any, is shown in the
    title and left for ``live_run.join()`` to raise.

    Needs matplotlib (and IPython to display): ``pip install 'dod_sim[notebook]'``.
    """
    try:
        from matplotlib.figure import Figure
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("live_figure needs matplotlib: pip install 'dod_sim[notebook]'") from e
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:  # pragma: no cover - depends on the environment
        shell = None
    if getattr(shell, "kernel", None) is None:  # not a Jupyter kernel: nothing to update
        shell = None
    if isinstance(columns, str):
        columns = (columns,)
    columns = tuple(columns)
    if not columns:
        raise ValueError("live_figure: give at least one column")
    if not every > 0:
        raise ValueError(f"live_figure: every={every!r} must be > 0 seconds")

    # A Figure outside pyplot: no backend window, and Jupyter's inline backend does
    # not show it a second time at the end of the cell.
    fig = Figure(figsize=(8, 1.2 + 1.8 * len(columns)), layout="constrained")
    axes = fig.subplots(len(columns), 1, sharex=True, squeeze=False)[:, 0]
    lines = []
    for ax, name in zip(axes, columns, strict=True):
        (line,) = ax.plot([], [], lw=0.8)
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
        lines.append(line)
    axes[-1].set_xlabel("tick")
    handle = None

    def redraw(final):
        cols = live_run.columns()
        missing = [c for c in columns if c not in cols]
        if missing:
            raise KeyError(f"live_figure: no column {missing[0]!r}; columns: {sorted(cols)}")
        for ax, line, name in zip(axes, lines, columns, strict=True):
            line.set_data(cols["tick"], cols[name])
            ax.relim()
            ax.autoscale_view()
        state = ("" if not final else
                 f" (failed: {type(live_run.error).__name__})" if live_run.error is not None
                 else " (stopped)" if live_run.done < live_run.ticks else " (done)")
        fig.suptitle(f"{live_run.done:,} of {live_run.ticks:,} ticks{state}", fontsize=10)

    try:
        while True:
            final = not live_run.running
            redraw(final)
            if shell is not None:
                shown = _png_displayable(fig, shell)
                if handle is None:
                    from IPython.display import display

                    handle = display(shown, display_id=True)
                else:
                    handle.update(shown)
            if final:
                return fig
            live_run.wait(every)  # a run that ends meanwhile is drawn once more, final
    except KeyboardInterrupt:
        live_run.stop()
        live_run.wait()
        raise
