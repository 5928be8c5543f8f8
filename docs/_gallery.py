"""The gallery's pictures, drawn by the site build rather than committed.

Every model of :data:`dod_sim.models.MODELS` gets a small world (:data:`SETTINGS`, or
its module's ``world`` defaults for a model added since), runs a few steps on one
thread and is drawn with :func:`dod_sim.draw.plot` into ``_generated/gallery/NAME.png``
beside this file (git-ignored). ``docs/conf.py`` calls :func:`connect`, so the pictures
are made when the builder starts, before ``gallery.md`` is read; a model that fails is
a build warning (an error under ``-W``) naming it. With the models in Numba's cache
(``dod-sim warmup --gallery``) all of them take a few seconds; cold, their compilation takes
about a minute on 2 cores.

``gallery.md`` has a section per model, written by hand. A model that has none yet
(one added to ``MODELS`` since) gets one made from its module's docstring, its
statistics and its picture, in ``_generated/gallery/others.md``, which ``gallery.md``
includes at its end: every model of ``MODELS`` is on the page.

On its own: ``python docs/_gallery.py [OUT_DIR]`` draws them and prints the times.
"""

from __future__ import annotations

import inspect
import io
import os
import re
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "_generated" / "gallery"
DPI = 80  # a 5 x 5 inch figure: 400 x 400 pixels
SEED = 1

# name -> (world(...) arguments, steps): small worlds near Mesa's defaults, run long
# enough for the model's pattern to show.
SETTINGS = {
    "wealth": (dict(agents=400), 50),
    "schelling": (dict(agents=400), 20),
    "boids": (dict(agents=100), 200),
    "game_of_life": (dict(), 20),
    "virus": (dict(agents=100, initial_outbreak_size=3), 8),
    "pd_grid": (dict(), 20),
    "civil_violence": (dict(), 10),
    "wolf_sheep": (dict(), 8),
}
DEFAULT = (dict(), 20)  # a model not listed above: its world() defaults (or 400 agents)


def _world(module, kwargs):
    try:
        return module.world(seed=SEED, threads=1, **kwargs)
    except TypeError:  # a world() whose agents has no default
        if "agents" in kwargs:
            raise
        return module.world(400, seed=SEED, threads=1, **kwargs)


def _caption(stats: dict) -> str:
    return ", ".join(f"{k} {v:.3g}" for k, v in stats.items() if k != "done")


def draw(name: str, module, out_dir: Path = OUT) -> Path:
    """Run ``name``'s small world and write its picture; returns the path. The file is
    rewritten only when its bytes change, so an unchanged model leaves the page as it
    was for Sphinx's incremental builds."""
    from matplotlib.figure import Figure

    from dod_sim.draw import plot

    kwargs, steps = SETTINGS.get(name, DEFAULT)
    world = _world(module, dict(kwargs))
    world.run(steps)
    fig = Figure(figsize=(5, 5))
    ax = fig.subplots()
    plot(world, ax=ax, title=f"{name}, tick {world.tick}\n{_caption(world.stats())}")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    path = out_dir / f"{name}.png"
    _write(path, buf.getvalue())
    return path


def draw_all(out_dir: Path = OUT, names=None):
    """Draw every model (or ``names``); returns ``[(name, path or exception, seconds)]``."""
    import matplotlib

    matplotlib.use("Agg")  # no window, whatever the display
    from dod_sim.models import MODELS

    results = []
    for name, module in MODELS.items():
        if names is not None and name not in names:
            continue
        t = time.perf_counter()
        try:
            got = draw(name, module, out_dir)
        except Exception as e:  # reported by the caller, naming the model
            got = e
        results.append((name, got, time.perf_counter() - t))
    return results


def _write(path: Path, data: bytes) -> None:
    """``data`` into ``path``, only when it differs, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and path.read_bytes() == data:
        return
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)  # a concurrent build never reads half a file


def section(name: str, module) -> str:
    """A gallery section (MyST) for a model that ``gallery.md`` does not describe."""
    doc = inspect.getdoc(module) or name
    first = doc.split("\n\n")[0]
    title = re.split(r",\s+after\s", first.replace("\n", " "))[0].strip().rstrip(".")
    stats = ", ".join(f"`{k}`" for k in module.MODEL.stats)
    lines = [f"## {title}", "", f"Module: {{mod}}`dod_sim.models.{name}`.", "",
             "```{eval-rst}", first, "```", ""]
    if stats:
        lines += [f"Statistics: {stats}.", ""]
    steps = SETTINGS.get(name, DEFAULT)[1]
    lines += [f"![{title}](_generated/gallery/{name}.png)", "",
              f"A small world of `{name}.world` with seed {SEED}, after {steps} steps.", ""]
    return "\n".join(lines)


def others(out_dir: Path = OUT, page: Path = HERE / "gallery.md") -> Path:
    """Write ``others.md``: a section for each model of MODELS that ``page`` lacks."""
    from dod_sim.models import MODELS

    text = page.read_text() if page.exists() else ""
    missing = [n for n in MODELS if f"_generated/gallery/{n}.png" not in text]
    body = "\n".join(section(n, MODELS[n]) for n in missing)
    head = ("<!-- Made by docs/_gallery.py: the models of dod_sim.models.MODELS that "
            "gallery.md has no section for"
            + (f": {', '.join(missing)}" if missing else ": none") + ". -->\n\n")
    path = out_dir / "others.md"
    _write(path, (head + body).encode())
    return path


def _on_builder_inited(app) -> None:
    from sphinx.util import logging

    log = logging.getLogger(__name__)
    t = time.perf_counter()
    results = draw_all()
    others()
    for name, got, _ in results:
        if isinstance(got, Exception):
            log.warning("gallery: model %r could not be drawn: %s: %s", name,
                        type(got).__name__, got, type="gallery", subtype=name)
    log.info("gallery: %d pictures in %.1f s (%s)", len(results),
             time.perf_counter() - t,
             ", ".join(f"{name} {s:.1f} s" for name, _, s in results))


def connect(app) -> None:
    """Make the pictures when ``app``'s builder starts (docs/conf.py's setup)."""
    app.connect("builder-inited", _on_builder_inited)


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else OUT
    t0 = time.perf_counter()
    failed = 0
    for name, got, s in draw_all(out):
        failed += isinstance(got, Exception)
        print(f"{name:16s} {s:6.2f} s  {got}")
    print(f"sections made for models gallery.md lacks: {others(out)}")
    print(f"total {time.perf_counter() - t0:.1f} s")
    sys.exit(1 if failed else 0)
