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

__all__ = ["Explorer"]


def _widgets():
    try:
        import ipywidgets
        from matplotlib.figure import Figure
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("the explorer needs ipywidgets and matplotlib: "
                          "pip install 'dod_sim[notebook]'") from e
    return ipywidgets, Figure


class Explorer:
    """A model's world with controls, for Jupyter (module docstring).

    model : a reference model's name, a :class:`~dod_sim.model.Model` or
        ``"module:attribute"`` (:func:`dod_sim.models.resolve`); agents : as the model's
        world takes them; seed, threads and ``params`` : the first world's
    speed : ticks per frame at the start (the speed slider goes from 1 to 100 times it)
    fps : the most frames a second while playing
    view : keyword arguments of :func:`dod_sim.draw.plot` (``color=``, ``layer=``, ...)

    ``widget`` is the ipywidgets box (an Explorer displays as it); ``world`` the current
    world; :meth:`play`, :meth:`pause`, :meth:`step`, :meth:`reset` and :meth:`set` do
    what the controls do, from code too.
    """

    def __init__(self, model, agents=None, *, seed: int = 0, threads: int | None = None,
                 speed: int = 1, fps: float = 10.0, view: dict | None = None, **params):
        from .models import resolve

        widgets, Figure = _widgets()
        self.model, self._make = resolve(model)
        if isinstance(speed, bool) or not isinstance(speed, int) or speed < 1:
            raise ConfigError(f"speed={speed!r} must be an integer >= 1", field="speed",
                              value=speed, bound=1)
        if not fps > 0:
            raise ConfigError(f"fps={fps!r} must be > 0", field="fps", value=fps, bound=0)
        self.agents, self.seed, self.threads, self.fps = agents, seed, threads, float(fps)
        self._view = dict(view or {})
        self._params = dict(params)
        self._lock = threading.RLock()  # the world, between the runner and the controls
        self._playing = threading.Event()
        self._runner = None
        self.world = self._build()
        self._fig = Figure(figsize=(9, 4.2), layout="constrained")
        self._ax_space, self._ax_stats = self._fig.subplots(1, 2, width_ratios=(1, 1.2))

        self._sliders = {}
        unranged = []
        for name, default in self.model.params.items():
            r = self.model.ranges.get(name)
            if r is None:
                unranged.append(name)
                continue
            kind = widgets.IntSlider if isinstance(default, (int, np.integer)) else \
                widgets.FloatSlider
            value = self._params.get(name, default)
            cast = int if kind is widgets.IntSlider else float
            s = kind(value=value, min=cast(r.lo), max=cast(r.hi), step=cast(r.step),
                     description=name, continuous_update=False,
                     tooltip="applies from the next tick" if r.live else "builds a new world",
                     style={"description_width": "initial"})
            s.observe(lambda change, name=name: self.set(**{name: change["new"]}), "value")
            self._sliders[name] = s
        self._speed = widgets.IntSlider(value=speed, min=1, max=100 * speed,
                                        description="ticks a frame",
                                        style={"description_width": "initial"})
        self._play = widgets.ToggleButton(description="play", icon="play")
        self._play.observe(lambda c: self.play() if c["new"] else self.pause(), "value")
        step = widgets.Button(description="step", icon="step-forward")
        step.on_click(lambda _: self.step())
        reset = widgets.Button(description="reset", icon="undo")
        reset.on_click(lambda _: self.reset())
        self._image = widgets.Image(format="png")
        self._status = widgets.HTML()
        notes = ([f"no slider (no declared range): {', '.join(unranged)}"] if unranged else [])
        notes += [f"{n}: {'live' if self.model.ranges[n].live else 'new world'}"
                  for n in self._sliders]
        self.widget = widgets.VBox([
            widgets.HBox([self._play, step, reset, self._speed]),
            widgets.HBox(list(self._sliders.values()), layout={"flex_flow": "row wrap"}),
            widgets.HTML("<small>" + "; ".join(notes) + "</small>"),
            self._image, self._status])
        self._draw()

    # ---- the world ------------------------------------------------------------------

    def _build(self):
        world = self._make(self.agents, seed=self.seed, threads=self.threads, **self._params)
        self._history = {"tick": [world.tick], **{k: [np.nan] for k in self.model.stats}}
        return world

    def _record(self, table: dict) -> None:
        self._history["tick"].extend(self.world.tick - len(table["step"]) + 1
                                     + np.arange(len(table["step"])))
        for k in self.model.stats:
            self._history[k].extend(np.asarray(table[k], np.float64))

    def _advance(self, ticks: int) -> None:
        with self._lock:
            self._record(self.world.run(ticks))

    # ---- drawing --------------------------------------------------------------------

    def _draw(self) -> None:
        """Draw the current world and its statistics into the image (between batches:
        the world does not change meanwhile)."""
        from . import draw

        with self._lock:
            ax, st = self._ax_space, self._ax_stats
            ax.clear()
            st.clear()
            draw.plot(self.world, ax=ax, **self._view)
            ticks = np.asarray(self._history["tick"])
            for k in self.model.stats:
                st.plot(ticks, self._history[k], lw=1, label=k)
            if self.model.stats:
                st.legend(loc="upper left", fontsize=8)
            st.set_xlabel("tick")
            st.grid(alpha=0.3)
            tick = self.world.tick
        buf = io.BytesIO()
        self._fig.savefig(buf, format="png", dpi=80)
        self._image.value = buf.getvalue()
        self._status.value = (f"<small>tick {tick:,} &middot; {self.world.live:,} agents"
                              f"{' &middot; playing' if self._playing.is_set() else ''}</small>")

    # ---- the controls ---------------------------------------------------------------

    def step(self, ticks: int | None = None) -> None:
        """Run ``ticks`` ticks (default: the speed control's) and redraw."""
        self._advance(self._speed.value if ticks is None else ticks)
        self._draw()

    def play(self) -> None:
        """Run in the background, a batch of ``speed`` ticks a frame, until :meth:`pause`."""
        if self._playing.is_set():
            return
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
        if self._play.value:
            self._play.value = False
        self._draw()

    def _run(self) -> None:
        try:
            while self._playing.is_set():
                t = time.perf_counter()
                self.step()
                time.sleep(max(0.0, 1.0 / self.fps - (time.perf_counter() - t)))
        except Exception as e:  # noqa: BLE001 - shown in the widget, then playing stops
            self._playing.clear()
            self._status.value = f"<b>stopped: {type(e).__name__}: {e}</b>"

    def reset(self, **params) -> None:
        """A new world with the sliders' values (and ``params``), at tick 0."""
        playing = self._playing.is_set()
        self.pause()
        with self._lock:
            old = self._params
            self._params = {**old, **{k: s.value for k, s in self._sliders.items()}, **params}
            try:
                self.world = self._build()
            except Exception:
                self._params = old  # the world and its parameters stay as they were
                raise
        self._draw()
        if playing:
            self._play.value = True

    def set(self, **params) -> None:
        """Set parameters as their sliders do: a live one from the next tick, any other
        by a new world (:meth:`reset`). Raises ConfigError for a value the model refuses."""
        live = {k: v for k, v in params.items()
                if k in self.model.ranges and self.model.ranges[k].live}
        if len(live) < len(params):
            self.reset(**params)
            return
        with self._lock:
            self.world.set_params(**live)
            self._params.update(live)
        if not self._playing.is_set():
            self._draw()

    def _ipython_display_(self):  # pragma: no cover - Jupyter only
        from IPython.display import display

        display(self.widget)
