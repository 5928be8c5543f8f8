"""Explore a model in Jupyter: a slider per declared parameter, play / pause / step /
reset, a speed control, the agents in their space and the model's statistics, redrawn
as the world runs (Mesa's SolaraViz, Agents.jl's ``abmexploration``).

>>> from dod_sim.explore import Explorer
>>> ex = Explorer("schelling", 2000)      # doctest: +SKIP
>>> ex                                     # doctest: +SKIP  (in Jupyter: the widget)

Sliders come from the model's declared ranges (``Model(ranges={"density": Range(0.1,
1.0, 0.1)})``); a parameter without one gets no slider, and the explorer lists those
under its controls. A slider of a live parameter (``Range(live=True)``: the systems
read it every tick) changes the running world from its next tick
(:meth:`~dod_sim.model.ModelWorld.set_params`); any other builds a new world with the
value, at tick 0. Each slider's description says which.

The world runs in a background thread, in compiled batches of ``speed`` ticks, and each
frame is drawn between two batches: the kernels release the GIL while they run, and no
kernel waits for the drawing. Built on ipywidgets (the widgets of Jupyter, which Solara
and Voila also render) and matplotlib: ``pip install 'dod_sim[notebook]'``.
"""

from __future__ import annotations

import io
import threading
import time

import numpy as np

from .errors import ConfigError

__all__ = ["Session", "Explorer"]


def _widgets():
    try:
        import ipywidgets
        from matplotlib.figure import Figure
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("the explorer needs ipywidgets and matplotlib: "
                          "pip install 'dod_sim[notebook]'") from e
    return ipywidgets, Figure


class Session:
    """A model's world and what the controls do to it, without widgets: the notebook's
    :class:`Explorer` and the web explorer (:mod:`dod_sim.webview`) each drive one.

    model : a reference model's name, a :class:`~dod_sim.model.Model` or
        ``"module:attribute"`` (:func:`dod_sim.models.resolve`); agents : as the model's
        world takes them; seed, threads and ``params`` : the first world's
    speed : ticks per batch (one frame); fps : the most batches a second while playing
    tick_ms : pace the run at one tick per ``tick_ms`` (0: as fast as ``fps`` allows),
        as ``ModelWorld.run(tick_ms=)`` does; a batch then starts every ``speed *
        tick_ms`` at most

    ``world`` is the current world and ``history`` its statistics so far ({"tick": [...],
    stat: [...]}, float64 values). Each change (a batch, a step, a new world, a live
    parameter) calls every ``listener(session)`` afterwards, in the thread that made it;
    ``error`` holds what stopped a background run, if anything did.
    """

    def __init__(self, model, agents=None, *, seed: int = 0, threads: int | None = None,
                 speed: int = 1, fps: float = 10.0, tick_ms: float = 0.0, **params):
        from .models import resolve

        self.model, self._make = resolve(model)
        self.speed = speed
        if not fps > 0:
            raise ConfigError(f"fps={fps!r} must be > 0", field="fps", value=fps, bound=0)
        if isinstance(tick_ms, bool) or not isinstance(tick_ms, (int, float)) \
                or not 0 <= tick_ms <= 3.6e6:
            raise ConfigError(f"tick_ms={tick_ms!r} must be a number in [0, 3600000]",
                              field="tick_ms", value=tick_ms, bound=(0, 3.6e6))
        self.tick_ms = float(tick_ms)
        self.agents, self.seed, self.threads, self.fps = agents, seed, threads, float(fps)
        self.params = dict(params)
        self.listeners = []
        self.error = None
        self.lock = threading.RLock()  # the world, between the runner and the controls
        self._playing = threading.Event()
        self._runner = None
        self.world = self._build()

    @property
    def speed(self) -> int:
        return self._speed

    @speed.setter
    def speed(self, value) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ConfigError(f"speed={value!r} must be an integer >= 1", field="speed",
                              value=value, bound=1)
        self._speed = int(value)

    @property
    def playing(self) -> bool:
        return self._playing.is_set()

    def _build(self):
        world = self._make(self.agents, seed=self.seed, threads=self.threads, **self.params)
        self.history = {"tick": [world.tick], **{k: [np.nan] for k in self.model.stats}}
        return world

    def _changed(self) -> None:
        for listener in self.listeners:
            listener(self)

    def step(self, ticks: int | None = None) -> None:
        """Run ``ticks`` ticks (default: ``speed``) in one compiled batch."""
        with self.lock:
            table = self.world.run(self.speed if ticks is None else ticks,
                                   tick_ms=self.tick_ms)
            n = len(table["step"])
            self.history["tick"].extend(self.world.tick - n + 1 + np.arange(n))
            for k in self.model.stats:
                self.history[k].extend(np.asarray(table[k], np.float64))
        self._changed()

    def play(self) -> None:
        """Run in the background, a batch of ``speed`` ticks at a time, until :meth:`pause`."""
        if self._playing.is_set():
            return
        self.error = None
        self._playing.set()
        self._runner = threading.Thread(target=self._run, daemon=True,
                                        name=f"dod_sim-explore-{self.model.name}")
        self._runner.start()

    def pause(self) -> None:
        """Stop playing after the batch in progress (returns when it has stopped)."""
        self._playing.clear()
        runner, self._runner = self._runner, None
        if runner is not None and runner is not threading.current_thread():
            runner.join()
        self._changed()

    def _run(self) -> None:
        try:
            while self._playing.is_set():
                t = time.perf_counter()
                self.step()
                every = max(1.0 / self.fps, self.speed * self.tick_ms / 1e3)
                time.sleep(max(0.0, every - (time.perf_counter() - t)))
        except Exception as e:  # noqa: BLE001 - reported to the listeners, then playing stops
            self._playing.clear()
            self.error = e
            self._changed()

    def reset(self, **params) -> None:
        """A new world with the parameters so far and ``params``, at tick 0. Raises
        ConfigError for a value the model refuses, and keeps the old world then."""
        playing = self._playing.is_set()
        self.pause()
        with self.lock:
            old = self.params
            self.params = {**old, **params}
            try:
                self.world = self._build()
            except Exception:
                self.params = old  # the world and its parameters stay as they were
                raise
        self._changed()
        if playing:
            self.play()

    def set(self, **params) -> None:
        """A live parameter (``Range(live=True)``) changes the running world from its
        next tick; any other builds a new world (:meth:`reset`). Raises ConfigError for
        a value the model refuses or one outside the parameter's declared range."""
        for k, v in params.items():
            self.model.check_range(k, v)
        live = {k: v for k, v in params.items()
                if k in self.model.ranges and self.model.ranges[k].live}
        if len(live) < len(params):
            self.reset(**params)
            return
        with self.lock:
            self.world.set_params(**live)
            self.params.update(live)
        self._changed()

    def sliders(self) -> tuple[list, list]:
        """([(name, value, Range)] of the parameters with a declared range, [names of
        those without]): what an explorer offers."""
        ranged, unranged = [], []
        for name, default in self.model.params.items():
            r = self.model.ranges.get(name)
            if r is None:
                unranged.append(name)
            else:
                ranged.append((name, self.params.get(name, default), r))
        return ranged, unranged


class Explorer:
    """A model's world with controls, for Jupyter (module docstring).

    The arguments are :class:`Session`'s, and ``view``: keyword arguments of
    :func:`dod_sim.draw.plot` (``color=``, ``layer=``, ...); the speed slider goes from
    1 to 100 times ``speed``.

    ``widget`` is the ipywidgets box (an Explorer displays as it); ``session`` its
    :class:`Session` and ``world`` the current world; :meth:`play`, :meth:`pause`,
    :meth:`step`, :meth:`reset` and :meth:`set` do what the controls do, from code too.
    """

    def __init__(self, model, agents=None, *, seed: int = 0, threads: int | None = None,
                 speed: int = 1, fps: float = 10.0, view: dict | None = None, **params):
        widgets, Figure = _widgets()
        self.session = Session(model, agents, seed=seed, threads=threads, speed=speed,
                               fps=fps, **params)
        self.model = self.session.model
        self._view = dict(view or {})
        self._fig = Figure(figsize=(9, 4.2), layout="constrained")
        self._ax_space, self._ax_stats = self._fig.subplots(1, 2, width_ratios=(1, 1.2))

        self._sliders = {}
        ranged, unranged = self.session.sliders()
        for name, value, r in ranged:
            integer = isinstance(self.model.params[name], (int, np.integer))
            kind, cast = (widgets.IntSlider, int) if integer else (widgets.FloatSlider, float)
            s = kind(value=value, min=cast(r.lo), max=cast(r.hi), step=cast(r.step),
                     description=name, continuous_update=False,
                     tooltip="applies from the next tick" if r.live else "builds a new world",
                     style={"description_width": "initial"})
            s.observe(lambda change, name=name: self.set(**{name: change["new"]}), "value")
            self._sliders[name] = s
        self._speed = widgets.IntSlider(value=speed, min=1, max=100 * speed,
                                        description="ticks a frame",
                                        style={"description_width": "initial"})
        self._speed.observe(lambda c: setattr(self.session, "speed", c["new"]), "value")
        self._play = widgets.ToggleButton(description="play", icon="play")
        self._play.observe(lambda c: self.play() if c["new"] else self.pause(), "value")
        step = widgets.Button(description="step", icon="step-forward")
        step.on_click(lambda _: self.step())
        reset = widgets.Button(description="reset", icon="undo")
        reset.on_click(lambda _: self.reset())
        self._image = widgets.Image(format="png")
        self._status = widgets.HTML()
        notes = ([f"no slider (no declared range): {', '.join(unranged)}"] if unranged else [])
        notes += [f"{n}: {'live' if r.live else 'new world'}" for n, _, r in ranged]
        self.widget = widgets.VBox([
            widgets.HBox([self._play, step, reset, self._speed]),
            widgets.HBox(list(self._sliders.values()), layout={"flex_flow": "row wrap"}),
            widgets.HTML("<small>" + "; ".join(notes) + "</small>"),
            self._image, self._status])
        self.session.listeners.append(lambda session: self._draw())
        self._draw()

    @property
    def world(self):
        return self.session.world

    @property
    def _history(self):
        return self.session.history

    def _draw(self) -> None:
        """Draw the current world and its statistics into the image (the world does not
        change meanwhile)."""
        from . import draw

        session = self.session
        with session.lock:
            ax, st = self._ax_space, self._ax_stats
            ax.clear()
            st.clear()
            draw.plot(session.world, ax=ax, **self._view)
            ticks = np.asarray(session.history["tick"])
            for k in self.model.stats:
                st.plot(ticks, session.history[k], lw=1, label=k)
            if self.model.stats:
                st.legend(loc="upper left", fontsize=8)
            st.set_xlabel("tick")
            st.grid(alpha=0.3)
            tick, live = session.world.tick, session.world.live
        buf = io.BytesIO()
        self._fig.savefig(buf, format="png", dpi=80)
        self._image.value = buf.getvalue()
        if session.error is not None:
            e = session.error
            self._status.value = f"<b>stopped: {type(e).__name__}: {e}</b>"
        else:
            self._status.value = (f"<small>tick {tick:,} &middot; {live:,} agents"
                                  f"{' &middot; playing' if session.playing else ''}</small>")

    def step(self, ticks: int | None = None) -> None:
        """Run ``ticks`` ticks (default: the speed control's) and redraw."""
        self.session.step(ticks)

    def play(self) -> None:
        """Run in the background, a batch of ``speed`` ticks a frame, until :meth:`pause`."""
        self.session.play()

    def pause(self) -> None:
        """Stop playing after the batch in progress (returns when it has stopped)."""
        self.session.pause()
        if self._play.value:
            self._play.value = False

    def reset(self, **params) -> None:
        """A new world with the sliders' values (and ``params``), at tick 0."""
        self.session.reset(**{**{k: s.value for k, s in self._sliders.items()}, **params})

    def set(self, **params) -> None:
        """Set parameters as their sliders do (:meth:`Session.set`)."""
        self.session.set(**params)

    def _ipython_display_(self):  # pragma: no cover - Jupyter only
        from IPython.display import display

        display(self.widget)
