"""Agents in their space, drawn with matplotlib: :func:`plot` and :func:`animate`.

Any world that has ``columns`` can be drawn: a :class:`~dod_sim.model.ModelWorld` of
any model, and the tileworld's ``World``. What is drawn follows from the columns and
the model's declared ``view`` (``Model(..., view={...})``: default arguments of
:func:`plot`, such as ``color="kind"``, and ``vmin``/``vmax`` for a fixed colour range):

* **positions** ``x`` and ``y``: integer columns are grid squares, float columns points
  in continuous space; the space is ``[0, width) x [0, height)`` from the parameters
  ``width`` and ``height`` (or ``side``, or the tileworld's ``config.side``);
* **a network** (a resource that is a :class:`~dod_sim.spaces.Network`) when there are
  no positions: nodes on a circle, edges as lines (up to ``MAX_EDGES``);
* **cell layers** (``layer=``: the name of a resource or column of ``width * height``
  values, such as grass or sugar) as an image under the agents;
* **no space**: the rows on a square lattice, one square each, coloured by ``color``.

Only live rows are drawn (a dynamic model's ``alive``, the tileworld's ``alive``).
``color`` and ``size`` name a column. Up to ``MAX_MARKERS`` agents are markers; more are
drawn as one image of the space (``raster=True`` forces it): each pixel the mean of
``color`` over the agents in it (or their count), so a million agents cost one
``np.bincount`` and one image, not a million artists.

matplotlib is an optional dependency (``pip install dod_sim[notebook]``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import ConfigError

__all__ = ["plot", "image", "animate", "MAX_MARKERS", "MAX_EDGES", "RASTER_PIXELS"]

MAX_MARKERS = 20_000   # more agents than this are drawn as an image
MAX_EDGES = 20_000     # a network with more edges is drawn without them
RASTER_PIXELS = 512    # the longer side of a raster image of continuous space


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as e:  # pragma: no cover - the extra is missing
        raise ImportError("drawing needs matplotlib: pip install dod_sim[notebook]") from e
    return plt


def _view_defaults(world) -> dict:
    model = getattr(world, "model", None)
    return dict(getattr(model, "view", None) or {})


def _extent(world, xs, ys) -> tuple[float, float]:
    params = getattr(world, "params", None)
    get = (lambda k: getattr(params, k, None)) if params is not None else (lambda k: None)
    w, h = get("width"), get("height")
    w, h = (w if w is not None else h), (h if h is not None else w)  # one side: a square
    if w is None or h is None:
        side = get("side")
        if side is None and hasattr(world, "config"):
            side = getattr(world.config, "side", None)
        if side is not None:
            w = h = side
    if w is None or h is None:  # no declared space: the agents' own extent
        w = float(xs.max()) + 1 if xs.size else 1.0
        h = float(ys.max()) + 1 if ys.size else 1.0
    return float(w), float(h)


def _network(world):
    from .spaces import Network

    for value in getattr(world, "resources", {}).values():
        if isinstance(value, Network):
            return value
    return None


def _live(values, live):
    """``values`` at the live rows (``live`` None: every row, no copy)."""
    return np.asarray(values) if live is None else np.asarray(values)[live]


def _column(world, cols, name, field, live):
    if name is None:
        return None
    if isinstance(name, np.ndarray):
        values = name
    elif name in cols:
        values = cols[name]
    else:
        raise ConfigError(f"{field}={name!r} is not a column of the world (columns: "
                          f"{sorted(cols)})", field=field, value=name)
    rows = next(iter(cols.values())).shape[0]
    if values.shape[:1] != (rows,):
        raise ConfigError(f"{field} has {values.shape[0]} values, the world {rows} rows",
                          field=field, value=values.shape, bound=rows)
    return _live(values, live).astype(np.float64, copy=False)


def _layer(world, name, w, h):
    res = getattr(world, "resources", {})
    cols = world.columns
    value = res.get(name) if name in res else cols.get(name) if name in cols else None
    if value is None or not isinstance(value, np.ndarray):
        raise ConfigError(f"layer={name!r} is not an array resource or column of the world",
                          field="layer", value=name)
    cells = int(w) * int(h)
    if value.size != cells:
        raise ConfigError(f"layer {name!r} has {value.size} values, the grid {cells} "
                          f"({int(w)} x {int(h)})", field="layer", value=value.size, bound=cells)
    return np.asarray(value, np.float64).reshape(int(h), int(w))


def _raster(px, py, values, w, h, grid):
    """Per pixel the mean of ``values`` (or the count of agents), NaN where empty: a
    grid's own squares up to ``RASTER_PIXELS`` a side, else squares of several cells;
    continuous space at ``RASTER_PIXELS`` on its longer side."""
    from .kernels.raster import bin_mean

    scale = min(1.0, RASTER_PIXELS / max(w, h)) if grid else RASTER_PIXELS / max(w, h)
    nx, ny = max(1, int(round(w * scale))), max(1, int(round(h * scale)))
    image = np.empty((ny, nx), np.float64)
    bin_mean(np.ascontiguousarray(px), np.ascontiguousarray(py),
             _EMPTY if values is None else np.ascontiguousarray(values, np.float64),
             nx / w, ny / h, nx, ny, image)
    return image


_EMPTY = np.zeros(0, np.float64)


def _lattice(rows, live, values):
    """The ``_raster`` of a world without space: its live rows on a square lattice, one
    square each, in row order."""
    side = max(1, int(np.ceil(np.sqrt(rows))))
    r = np.arange(rows) if live is None else np.flatnonzero(live)
    return _raster(r % side, r // side, values, side, side, grid=True)


def _kinds(world, table) -> list:
    """[(table name or None, {column: array})] of the tables to draw, their columns
    under their own names (a model of several tables names them ``table.column``)."""
    cols = world.columns
    model = getattr(world, "model", None)
    tables = getattr(model, "tables", (None,))
    if table is not None and table not in tables:
        raise ConfigError(f"table={table!r} is not a table of the model (tables: {tables})",
                          field="table", value=table)
    if len(tables) == 1:
        return [(None, dict(cols))]
    return [(t, {k.partition(".")[2]: v for k, v in cols.items() if k.startswith(t + ".")})
            for t in tables if table is None or t == table]


MARKERS = "o^sDvP*X"


def plot(world, *, color: Any = None, size: Any = None, layer: str | None = None,
         table: str | None = None, ax=None, raster: bool | None = None,
         cmap: str | None = None, title: str | None = None, **scatter):
    """Draw ``world``'s live agents in their space on ``ax`` (a new figure if None) and
    return the axes (module docstring).

    color : a column name (or a float array, one value a row) mapped through ``cmap``;
        size : a column name scaled to marker areas of 2-40 points; layer : a cell layer
        drawn under the agents; table : of a model of several kinds, the one to draw
        (default: every table with positions, each with its own marker); raster : draw
        an image of the space (default: above ``MAX_MARKERS`` agents); ``scatter``:
        passed to ``ax.scatter``.
    Raises ConfigError naming the argument for a column, layer or table the world lacks.
    """
    plt = _pyplot()
    defaults = _view_defaults(world)
    color = defaults.get("color") if color is None else color
    size = defaults.get("size") if size is None else size
    layer = defaults.get("layer") if layer is None else layer
    cmap = cmap or defaults.get("cmap", "viridis")
    for k in ("vmin", "vmax"):  # a model's fixed colour range (states, kinds)
        if k in defaults:
            scatter.setdefault(k, defaults[k])
    kinds = _kinds(world, table)
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 5))
    placed = [(t, cols) for t, cols in kinds if "x" in cols and "y" in cols]
    if placed:
        drawn = 0
        for j, (t, cols) in enumerate(placed):
            live = _live_mask(cols)
            c = _column(world, cols, color if color in cols or not isinstance(color, str)
                        or len(placed) == 1 else None, "color", live)
            s = _column(world, cols, size if size in cols or len(placed) == 1 else None,
                        "size", live)
            px, py = _live(cols["x"], live), _live(cols["y"], live)
            grid = np.issubdtype(cols["x"].dtype, np.integer)
            w, h = _extent(world, px, py)
            if layer is not None and j == 0:
                ax.imshow(_layer(world, layer, w, h), origin="lower", extent=(0, w, 0, h),
                          cmap="Greens", alpha=0.6, interpolation="nearest")
            many = px.size > MAX_MARKERS if raster is None else raster
            if many:
                ax.imshow(_raster(px, py, c, w, h, grid), origin="lower", extent=(0, w, 0, h),
                          cmap=cmap, interpolation="nearest",
                          alpha=1.0 if len(placed) == 1 else 0.7,
                          vmin=scatter.get("vmin"), vmax=scatter.get("vmax"))
            else:
                off = 0.5 if grid else 0.0
                px, py = px.astype(np.float64), py.astype(np.float64)
                area = None if s is None else 2 + 38 * (s - s.min()) / (np.ptp(s) or 1.0)
                ax.scatter(px + off, py + off, c=c, s=area if area is not None else
                           max(1.0, min(30.0, 4e4 / max(px.size, 1))),
                           cmap=cmap if c is not None else None, linewidths=0,
                           marker=MARKERS[j % len(MARKERS)], label=t, **_colour(scatter, c))
                drawn += t is not None
            ax.set_xlim(0, w)
            ax.set_ylim(0, h)
        if drawn > 1:
            ax.legend(loc="upper right", fontsize="small")
        ax.set_aspect("equal")
    else:
        t, cols = kinds[0]
        live = _live_mask(cols)
        c = _column(world, cols, color, "color", live)
        rows = next(iter(cols.values())).shape[0] if cols else 0
        if (net := _network(world)) is not None:
            n = net.indptr.shape[0] - 1
            angle = 2 * np.pi * np.arange(n) / max(n, 1)
            nx_, ny_ = np.cos(angle), np.sin(angle)
            if net.indices.shape[0] <= MAX_EDGES:
                from matplotlib.collections import LineCollection

                src = np.repeat(np.arange(n), np.diff(net.indptr))
                keep = src < net.indices  # each undirected edge once
                seg = np.stack([np.c_[nx_[src[keep]], ny_[src[keep]]],
                                np.c_[nx_[net.indices[keep]], ny_[net.indices[keep]]]], axis=1)
                ax.add_collection(LineCollection(seg, colors="0.8", linewidths=0.3, zorder=0))
            node = np.arange(n) if live is None else np.flatnonzero(live[:n])
            ax.scatter(nx_[node], ny_[node], c=c if c is None or c.size == node.size else
                       c[:node.size], cmap=cmap if c is not None else None,
                       s=max(2.0, min(40.0, 4e3 / max(n, 1))), linewidths=0, zorder=1,
                       **_colour(scatter, c))
            ax.set_aspect("equal")
            ax.axis("off")
        else:  # no space: the rows themselves, on a square lattice, as one image
            ax.imshow(_lattice(rows, live, c), origin="lower", cmap=cmap, interpolation="nearest",
                      vmin=scatter.get("vmin"), vmax=scatter.get("vmax"))
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_xlabel("rows, no space: one square each")
    name = getattr(getattr(world, "model", None), "name", type(world).__name__)
    ax.set_title(title if title is not None else f"{name}, tick {world.tick}")
    return ax


def image(world, *, color: Any = None, table: str | None = None) -> tuple[np.ndarray, tuple]:
    """The live agents of ``world`` as one image of their space, without matplotlib:
    ``(values, (vmin, vmax))``, values float64[ny, nx] (row 0 at the bottom) holding per
    pixel the mean of ``color`` over its agents (their count without a colour), NaN
    where none is. The pixels are those of :func:`plot`'s raster; several tables are
    coloured by table (0, 1, ...) unless ``color`` names a column of theirs; a world
    without positions (a network, no space) shows its rows on a square lattice.
    ``(vmin, vmax)``: the model's declared colour range, else the image's own."""
    defaults = _view_defaults(world)
    color = defaults.get("color") if color is None else color
    kinds = _kinds(world, table)
    placed = [(t, cols) for t, cols in kinds if "x" in cols and "y" in cols]
    out = None
    by_table = len(placed) > 1 and not (isinstance(color, str)
                                        and all(color in cols for _, cols in placed))
    for j, (_, cols) in enumerate(placed):
        live = _live_mask(cols)
        px, py = _live(cols["x"], live), _live(cols["y"], live)
        c = (np.full(px.size, float(j)) if by_table else
             _column(world, cols, color, "color", live))
        w, h = _extent(world, px, py)
        kind = _raster(px, py, c, w, h, np.issubdtype(cols["x"].dtype, np.integer))
        out = kind if out is None else np.where(np.isnan(kind), out, kind)  # later on top
    if out is None:  # no positions: the rows on a square lattice
        _, cols = kinds[0]
        live = _live_mask(cols)
        rows = next(iter(cols.values())).shape[0] if cols else 0
        out = _lattice(rows, live, _column(world, cols, color, "color", live))
    if "vmin" in defaults and "vmax" in defaults and not by_table:
        return out, (float(defaults["vmin"]), float(defaults["vmax"]))
    seen = out[~np.isnan(out)]
    return out, ((float(seen.min()), float(seen.max())) if seen.size else (0.0, 1.0))


def _colour(scatter: dict, c) -> dict:
    """``scatter``'s arguments for a table coloured by ``c``: without colours, no range
    (matplotlib warns about a vmin it cannot use)."""
    return scatter if c is not None else {k: v for k, v in scatter.items()
                                          if k not in ("vmin", "vmax")}


def _live_mask(cols):
    """The live rows of a table's columns, or None when every row is live."""
    live = (np.asarray(cols["alive"]) != 0) if "alive" in cols else None
    return None if live is None or live.all() else live


def animate(world, frames: int, *, every: int = 1, interval: int = 100, **plot_kw):
    """A matplotlib animation of ``frames`` frames, running ``every`` ticks between
    them (``world.step`` for a tileworld ``World``, ``run(every, stats=False)`` for a
    model); the first frame is the current state. In Jupyter show it with
    ``HTML(anim.to_jshtml())`` (no ffmpeg needed); save a GIF with
    ``anim.save("run.gif", writer="pillow")``. The world advances as frames are drawn."""
    plt = _pyplot()
    from matplotlib.animation import FuncAnimation

    for name, v in (("frames", frames), ("every", every), ("interval", interval)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ConfigError(f"{name}={v!r} must be an integer >= 1", field=name, value=v,
                              bound=1)
    fig, ax = plt.subplots(figsize=plot_kw.pop("figsize", (5, 5)))
    plot(world, ax=ax, **plot_kw)

    def advance():
        if hasattr(world, "model"):
            world.run(every, stats=False)
        else:
            world.run(every)

    def frame(k):
        if k:
            advance()
        ax.clear()
        plot(world, ax=ax, **plot_kw)
        return ()

    anim = FuncAnimation(fig, frame, frames=frames, interval=interval, blit=False,
                         repeat=False, init_func=lambda: ())
    plt.close(fig)  # shown by to_jshtml or saved; not left open in pyplot
    return anim
