"""The documentation site builds with warnings as errors, and its pages show.

The build (``python -m sphinx -W --keep-going -b html docs OUT``) runs once per test
run in a subprocess; it needs the ``docs`` extra (skipped without it) and draws the
gallery's pictures from the models in Numba's cache (``dod-sim warmup``; cold, it
compiles them first). Then the pages are checked as files, and, where a Chromium or
Chrome binary is installed (Debian's ``chromium`` package), as a browser shows them:
each page is loaded from a local HTTP server into a frame of a check page, which
reports whether every image decoded and every stylesheet loaded.
"""

import html.parser
import importlib.util
import json
import os
import re
import struct
import subprocess
import sys
import tempfile
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from conftest import browser_or_skip

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PNG = b"\x89PNG\r\n\x1a\n"
# the API reference: a page per module, and a name each page must document
API = {
    "model": "dod_sim.model.ModelWorld", "spaces": "dod_sim.spaces.Network",
    "draw": "dod_sim.draw.plot", "debug": "dod_sim.debug.SystemError_",
    "explore": "dod_sim.explore.Session", "webview": "dod_sim.webview.WebExplorer",
    "sweep": "dod_sim.sweep.sweep_model", "schema": "dod_sim.schema.Schema",
    "world": "dod_sim.world.World", "config": "dod_sim.config.Config",
    "errors": "dod_sim.errors.ConfigError",
    "kernels-population": "dod_sim.kernels.population.spawn",
    "kernels-cells": "dod_sim.kernels.cells.random_order",
    "kernels-spaces": "dod_sim.kernels.spaces.neighbour_cell",
    "kernels-rng": "dod_sim.kernels.rng.below",
}


class _Images(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.src = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.src.append(dict(attrs).get("src"))


def _images(page: Path) -> list:
    parser = _Images()
    parser.feed(page.read_text())
    return parser.src


def _png_size(path: Path) -> tuple:
    data = path.read_bytes()
    assert data[:8] == PNG and data[12:16] == b"IHDR", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The built site's folder (built once for this module)."""
    for name in ("sphinx", "pydata_sphinx_theme", "myst_parser"):
        pytest.importorskip(name, reason="the docs extra: pip install -e '.[docs]'")
    out = tmp_path_factory.mktemp("site")
    env = dict(os.environ, MPLBACKEND="Agg")
    run = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html",
         "-d", str(out / ".doctrees"), str(DOCS), str(out / "html")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, f"sphinx failed:\n{run.stdout[-4000:]}\n{run.stderr[-8000:]}"
    return out / "html"


@pytest.mark.slow
@pytest.mark.notebooks  # the build executes the tutorial and gallery notebooks
def test_pages_are_built(site):
    for page in ("index", "getting-started", "guide", "tutorial", "gallery", "workload",
                 "schema", "performance", "api/index"):
        assert (site / f"{page}.html").is_file(), page
    index = (site / "index.html").read_text()
    for page in ("getting-started", "guide", "tutorial", "gallery", "workload", "schema",
                 "performance", "api/index"):
        assert f'href="{page}.html' in index, f"the index does not link {page}"
    # the README's example, included
    text = re.sub(r"<[^>]+>", "", index)
    assert "def wander(" in text and "world.collect(" in text


@pytest.mark.slow
@pytest.mark.notebooks  # the build executes the tutorial and gallery notebooks
def test_api_reference_documents_every_module(site):
    for page, name in API.items():
        text = (site / "api" / f"{page}.html").read_text()
        assert f'id="{name}"' in text, f"api/{page}.html does not document {name}"
    assert (site / "_modules" / "dod_sim" / "model.html").is_file()  # viewcode


@pytest.mark.slow
@pytest.mark.notebooks  # the build executes the tutorial and gallery notebooks
def test_gallery_has_a_picture_per_model(site):
    from dod_sim.models import MODELS

    srcs = _images(site / "gallery.html")
    for name in MODELS:
        src = f"_images/{name}.png"
        assert src in srcs, f"gallery.html has no picture of {name}"
        width, height = _png_size(site / src)
        assert width >= 100 and height >= 100, (name, width, height)
    # not blank: the picture has more than one colour
    import matplotlib.image

    for name in MODELS:
        pixels = matplotlib.image.imread(site / f"_images/{name}.png")
        assert pixels[..., :3].std() > 0.01, f"{name}.png is blank"


# Loads ?page= into a frame (same origin), waits for its images, and writes what the
# browser made of them and of the stylesheets into #result, which --dump-dom prints.
CHECK_PAGE = """<!doctype html><html><body><pre id="result">pending</pre><script>
const page = new URLSearchParams(location.search).get("page");
const f = document.createElement("iframe");
f.style.width = "1200px"; f.style.height = "4000px";
f.onload = () => {
  const d = f.contentDocument;
  const done = () => {
    const imgs = [...d.images];
    if (imgs.some(i => !i.complete)) return setTimeout(done, 50);
    document.getElementById("result").textContent = JSON.stringify({
      title: d.title,
      h1: (d.querySelector("h1") || {}).textContent || null,
      images: imgs.map(i => ({src: i.getAttribute("src"), width: i.naturalWidth})),
      sheets: [...d.querySelectorAll('link[rel="stylesheet"]')].map(
        l => ({href: l.getAttribute("href"), loaded: !!l.sheet})),
    });
  };
  done();
};
f.src = page;
document.body.appendChild(f);
</script></body></html>
"""


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def served(site):
    """The site on a local HTTP server (a free port on 127.0.0.1), with the check page."""
    (site / "_check.html").write_text(CHECK_PAGE)
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.mark.slow
@pytest.mark.notebooks  # the build executes the tutorial and gallery notebooks
@pytest.mark.parametrize("page, h1", [
    ("index.html", "dod_sim"),
    ("gallery.html", "Gallery"),
    ("tutorial.html", "Tutorial: the Boltzmann wealth model from scratch"),
])
def test_pages_show_in_a_browser(served, page, h1):
    browser = browser_or_skip()
    from dod_sim.models import MODELS

    with tempfile.TemporaryDirectory() as profile:
        run = subprocess.run(
            [browser, "--headless=new", "--no-sandbox", "--disable-gpu",
             "--disable-dev-shm-usage", "--no-first-run", f"--user-data-dir={profile}",
             "--virtual-time-budget=15000", "--dump-dom",
             f"{served}/_check.html?page={page}"],
            capture_output=True, text=True, timeout=120)
    dom = run.stdout
    start = dom.find('<pre id="result">')
    assert start >= 0, f"no result from {browser}: {run.stderr[-3000:]}"
    result = html.unescape(dom[start + len('<pre id="result">'):dom.index("</pre>", start)])
    assert result != "pending", f"{page} did not finish loading in the browser"
    got = json.loads(result)
    assert got["h1"].rstrip("#") == h1
    assert got["sheets"] and all(s["loaded"] for s in got["sheets"]), got["sheets"]
    if page == "gallery.html":
        shown = {img["src"] for img in got["images"]}
        assert shown >= {f"_images/{name}.png" for name in MODELS}, got["images"]
    for img in got["images"]:
        assert img["width"] > 0, f"{page}: {img['src']} did not load"


def test_docstrings_become_bullet_lists():
    """docs/_docstrings.py, which the build registers with autodoc."""
    spec = importlib.util.spec_from_file_location("_docstrings", DOCS / "_docstrings.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    doc = ["A model.", "", "params : {name: default}, scalars",
           "stats : {name: Stat}, the statistics: compiled",
           "    or Python functions", "check : optional fn(params, agents)",
           "Raises ConfigError.", "", "Example::", "", "    x : int = 1",
           "        y : 2", "", "|v| < bound, ``|v|`` as is"]
    assert mod.rest_items(doc) == [
        "A model.", "", "- ``params`` : {name: default}, scalars",
        "- ``stats`` : {name: Stat}, the statistics: compiled",
        "  or Python functions", "- ``check`` : optional fn(params, agents)", "",
        "Raises ConfigError.", "", "Example::", "", "    x : int = 1", "        y : 2", "",
        r"\|v\| < bound, ``|v|`` as is"]
    plain = ["One line.", "", "Another : with a colon, alone."]
    assert mod.rest_items(plain) == plain


@pytest.mark.slow
@pytest.mark.notebooks  # the build executes the tutorial and gallery notebooks
@pytest.mark.parametrize("page, pictures", [("04-tutorial", 1), ("05-gallery", 2)])
def test_the_notebooks_are_pages_with_their_outputs(site, page, pictures):
    # executed by the build (myst-nb): their figures are in the page
    text = (site / "notebooks" / f"{page}.html").read_text()
    shown = re.findall(r'<img[^>]+src="([^"]+)"', text)
    assert len(shown) >= pictures
    for src in shown:
        if not src.startswith("data:"):
            assert (site / "notebooks" / src).resolve().is_file(), src
    if page == "05-gallery":  # the animation's frames, inline in its player
        assert text.count("data:image/png;base64") >= 12
