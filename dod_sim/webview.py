"""The explorer as a web page: ``dod-sim explore MODEL`` serves it on localhost.

The page has a slider per declared parameter (:class:`~dod_sim.model.Range`), play /
pause / step / reset, a speed control, the agents in their space and the model's
statistics; :class:`~dod_sim.explore.Session` runs the world, in compiled batches on
its own thread. After each batch the space is binned into one image
(:func:`dod_sim.draw.image`) and kept as the latest frame; the page asks for the first
frame newer than the one it has and draws it on a canvas, so a slow page skips frames
and never slows the run. A frame is the image as one byte a pixel (0: no agent, 1-255:
the colour scale), not a picture: no encoder runs, and the browser colours it.

Served by the standard library's ``ThreadingHTTPServer``: the page is one file of
HTML and JavaScript with no framework, so the explorer needs no dependency beyond
dod_sim's own (Solara, Mesa's choice, would bring a web framework and a widget stack
for three controls and two canvases). Bound to 127.0.0.1 unless ``host`` says
otherwise: anyone who reaches the port can drive the model.

Routes: ``GET /`` the page; ``GET /model`` the model, its sliders and statistics (JSON);
``GET /frame?after=SEQ`` the first frame after ``SEQ`` (waits up to a second; the
layout is :data:`FRAME_HEADER`); ``POST /control`` one action as JSON, ``{"action":
"play" | "pause" | "step" | "reset" | "set" | "speed", "params": {...}, "speed": N}``,
answered with the state, or with ``{"error", "field"}`` and status 400.
"""

from __future__ import annotations

import json
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import numpy as np

from .errors import ConfigError
from .explore import Session

__all__ = ["WebExplorer", "FRAME_HEADER", "MAX_BODY"]

# A frame: int64[6] seq, tick, live agents, nx, ny, statistics; float64[statistics] their
# latest values; uint8[ny * nx] pixels, row 0 at the bottom (all little-endian).
FRAME_HEADER = 6
MAX_BODY = 65_536  # bytes of a control request


class WebExplorer:
    """A :class:`~dod_sim.explore.Session` served over HTTP (module docstring).

    The arguments are the session's (``model``, ``agents``, ``seed``, ``threads``,
    ``speed``, ``fps``, ``tick_ms``, ``**params``), and ``host``/``port`` (port 0: a free one);
    ``color`` names the column that colours the agents (default: the model's view).
    :meth:`start` serves in a background thread and returns the address;
    :meth:`serve_forever` serves in this one; :meth:`close` stops both the run and the
    server. ``pages`` maps further paths to (content type, bytes) to serve beside it.
    """

    def __init__(self, model, agents=None, *, host: str = "127.0.0.1", port: int = 8765,
                 color=None, seed: int = 0, threads: int | None = None, speed: int = 1,
                 fps: float = 30.0, tick_ms: float = 0.0, **params):
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise ConfigError(f"port={port!r} must be an integer in [0, 65535]", field="port",
                              value=port, bound=(0, 65535))
        self.session = Session(model, agents, seed=seed, threads=threads, speed=speed,
                               fps=fps, tick_ms=tick_ms, **params)
        self.color = color
        self.pages = {"/": ("text/html; charset=utf-8", PAGE.encode())}
        self._frame_lock = threading.Condition()
        self._frame, self._seq = b"", 0
        self.session.listeners.append(lambda session: self._render())
        self._render()
        try:
            self.server = ThreadingHTTPServer((host, port), _handler(self))
        except OSError as e:
            raise ConfigError(f"cannot listen on {host}:{port}: {e.strerror or e}",
                              field="port", value=port) from None
        self.server.daemon_threads = True
        self._thread = None

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/"

    def start(self) -> str:
        """Serve in a background thread; returns the page's address."""
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True,
                                        name="dod_sim-webview")
        self._thread.start()
        return self.url

    def serve_forever(self) -> None:
        """Serve in this thread until :meth:`close` (or a KeyboardInterrupt)."""
        try:
            self.server.serve_forever()
        finally:
            self.session.pause()

    def close(self) -> None:
        self.session.pause()
        self.server.shutdown()
        self.server.server_close()
        if self._thread is not None:
            self._thread.join(5)

    # ---- frames ---------------------------------------------------------------------

    def _render(self) -> None:
        """Bin the current world into the latest frame (between batches)."""
        from .draw import image

        s = self.session
        with s.lock:
            values, (lo, hi) = image(s.world, color=self.color)
            stats = np.array([s.history[k][-1] for k in s.model.stats], np.float64)
            tick, live = s.world.tick, s.world.live
        scale = 254.0 / (hi - lo) if hi > lo else 0.0
        pixels = np.zeros(values.shape, np.uint8)
        seen = ~np.isnan(values)
        pixels[seen] = 1 + np.clip((values[seen] - lo) * scale, 0, 254).astype(np.uint8)
        ny, nx = values.shape
        with self._frame_lock:
            self._seq += 1
            head = np.array([self._seq, tick, live, nx, ny, stats.size], "<i8")
            self._frame = head.tobytes() + stats.astype("<f8").tobytes() + pixels.tobytes()
            self._frame_lock.notify_all()

    def frame(self, after: int = -1, timeout: float = 1.0) -> bytes:
        """The latest frame once it is newer than ``after`` (or after ``timeout`` s)."""
        with self._frame_lock:
            self._frame_lock.wait_for(lambda: self._seq > after, timeout)
            return self._frame

    # ---- the model and the controls -------------------------------------------------

    def describe(self) -> dict:
        s = self.session
        ranged, unranged = s.sliders()
        return {"name": s.model.name, "stats": list(s.model.stats), "unranged": unranged,
                "sliders": [{"name": n, "value": _json_number(v), "lo": r.lo, "hi": r.hi,
                             "step": r.step, "live": r.live} for n, v, r in ranged]}

    def state(self) -> dict:
        s = self.session
        return {"playing": s.playing, "tick": s.world.tick, "speed": s.speed,
                "error": None if s.error is None else f"{type(s.error).__name__}: {s.error}"}

    def control(self, request) -> dict:
        """Apply one control request (module docstring); ConfigError names what is wrong."""
        if not isinstance(request, dict):
            raise ConfigError("a control request must be a JSON object", field="request")
        action = request.get("action")
        s = self.session
        params = request.get("params", {})
        if not isinstance(params, dict):
            raise ConfigError("params must be a JSON object", field="params", value=params)
        known = {n for n, _, _ in s.sliders()[0]}
        for name, value in params.items():
            if name not in known:
                raise ConfigError(f"{name!r} is not a parameter with a slider (sliders: "
                                  f"{sorted(known)})", field="params", value=name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(f"{name}={value!r} must be a number", field=name, value=value)
        if action == "play":
            s.play()
        elif action == "pause":
            s.pause()
        elif action == "step":
            s.step()
        elif action == "reset":
            s.reset(**params)
        elif action == "set":
            s.set(**params)
        elif action == "speed":
            s.speed = request.get("speed")
        else:
            raise ConfigError(f"action={action!r} is not one of play, pause, step, reset, "
                              f"set, speed", field="action", value=action)
        return self.state()


def _json_number(v):
    return v.item() if isinstance(v, np.generic) else v


def _handler(explorer: WebExplorer):
    class Handler(BaseHTTPRequestHandler):
        server_version = "dod_sim"

        def log_message(self, *args):  # the terminal shows the run, not every request
            pass

        def _send(self, status, body: bytes, kind: str):
            try:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):  # the page went away
                self.close_connection = True

        def _json(self, status, obj):
            self._send(status, json.dumps(obj).encode(), "application/json")

        def do_GET(self):
            url = urlparse(self.path)
            if url.path == "/frame":
                try:
                    after = int(parse_qs(url.query).get("after", ["-1"])[0])
                except ValueError:
                    return self._json(HTTPStatus.BAD_REQUEST,
                                      {"error": "after must be an integer", "field": "after"})
                return self._send(HTTPStatus.OK, explorer.frame(after),
                                  "application/octet-stream")
            if url.path == "/model":
                return self._json(HTTPStatus.OK, {**explorer.describe(), **explorer.state()})
            page = explorer.pages.get(url.path)
            if page is None:
                return self._json(HTTPStatus.NOT_FOUND, {"error": f"no page {url.path}"})
            self._send(HTTPStatus.OK, page[1], page[0])

        def do_POST(self):
            if urlparse(self.path).path != "/control":
                return self._json(HTTPStatus.NOT_FOUND, {"error": f"no route {self.path}"})
            try:
                size = int(self.headers.get("Content-Length", "0"))
            except ValueError:
                size = -1
            if not 0 <= size <= MAX_BODY:
                return self._json(HTTPStatus.BAD_REQUEST, {
                    "error": f"a control request is 0 to {MAX_BODY} bytes", "field": "body"})
            try:
                request = json.loads(self.rfile.read(size) or b"null")
                return self._json(HTTPStatus.OK, explorer.control(request))
            except ValueError as e:  # ConfigError is one; so is bad JSON
                return self._json(HTTPStatus.BAD_REQUEST,
                                  {"error": str(e), "field": getattr(e, "field", "body")})

    return Handler


# The page: fetches /model, builds the controls, then asks for frames in a loop. The
# colour scale is viridis (matplotlib's default), interpolated from 9 of its colours.
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>dod_sim explorer</title>
<style>
 body { font: 14px system-ui, sans-serif; margin: 1em; color: #222; }
 #controls button { margin-right: .3em; }
 #sliders label { display: inline-block; margin: .4em 1.2em .2em 0; }
 #views { display: flex; gap: 1em; flex-wrap: wrap; margin-top: .6em; }
 #space { width: 512px; height: 512px; image-rendering: pixelated; background: #fff;
          border: 1px solid #ccc; }
 #stats { border: 1px solid #ccc; }
 small { color: #666; }
</style></head>
<body>
<h1 id="title">dod_sim explorer</h1>
<div id="controls">
 <button id="play">play</button><button id="step">step</button><button id="reset">reset</button>
 <label>ticks a frame <input id="speed" type="number" min="1" value="1" style="width:5em"></label>
 <span id="status"></span>
</div>
<div id="sliders"></div><small id="notes"></small>
<div id="views"><canvas id="space"></canvas><canvas id="stats" width="520" height="300"></canvas></div>
<script>
"use strict";
const $ = id => document.getElementById(id);
const VIRIDIS = [[68,1,84],[71,44,122],[59,81,139],[44,113,142],[33,144,141],
                 [39,173,129],[92,200,99],[170,220,50],[253,231,37]];
const LUT = new Uint8ClampedArray(256 * 4);
for (let v = 1; v < 256; v++) {
  const t = (v - 1) / 254 * 8, i = Math.min(7, Math.floor(t)), f = t - i;
  for (let k = 0; k < 3; k++)
    LUT[4 * v + k] = VIRIDIS[i][k] + f * (VIRIDIS[i + 1][k] - VIRIDIS[i][k]);
  LUT[4 * v + 3] = 255;
}
const dodsim = window.dodsim = {frames: 0, seq: 0, tick: -1, ticks: [], history: {}, model: null};
async function control(body) {
  const r = await fetch("/control", {method: "POST", body: JSON.stringify(body)});
  const answer = await r.json();
  if (!r.ok) { $("status").textContent = "refused: " + answer.error; return null; }
  show(answer);
  return answer;
}
function show(state) {
  $("play").textContent = state.playing ? "pause" : "play";
  if (state.error) $("status").textContent = "stopped: " + state.error;
}
function drawFrame(buf) {
  const head = new BigInt64Array(buf, 0, 6);
  const [seq, tick, live, nx, ny, ns] = Array.from(head, Number);
  const stats = new Float64Array(buf, 48, ns);
  const pixels = new Uint8Array(buf, 48 + 8 * ns, nx * ny);
  const c = $("space");
  if (c.width !== nx || c.height !== ny) { c.width = nx; c.height = ny; }
  const ctx = c.getContext("2d"), img = ctx.createImageData(nx, ny);
  for (let y = 0; y < ny; y++) {          // row 0 is the bottom of the space
    const src = (ny - 1 - y) * nx, dst = y * nx * 4;
    for (let x = 0; x < nx; x++) {
      const v = pixels[src + x], o = dst + 4 * x;
      if (v) { img.data[o] = LUT[4*v]; img.data[o+1] = LUT[4*v+1]; img.data[o+2] = LUT[4*v+2];
               img.data[o+3] = 255; }
    }
  }
  ctx.putImageData(img, 0, 0);
  if (tick < dodsim.tick) { dodsim.ticks = []; dodsim.history = {}; }  // a new world
  dodsim.seq = seq; dodsim.tick = tick; dodsim.frames += 1; dodsim.ticks.push(tick);
  dodsim.model.stats.forEach((k, j) => (dodsim.history[k] = dodsim.history[k] || []).push(stats[j]));
  drawStats();
  $("status").textContent = `tick ${tick.toLocaleString()} · ${live.toLocaleString()} agents` +
    dodsim.model.stats.map((k, j) => ` · ${k} ${stats[j].toPrecision(4)}`).join("");
}
function drawStats() {
  const c = $("stats"), ctx = c.getContext("2d"), t = dodsim.ticks;
  ctx.clearRect(0, 0, c.width, c.height);
  if (t.length < 2) return;
  const t0 = t[0], t1 = t[t.length - 1] || 1;
  dodsim.model.stats.forEach((k, j) => {
    const v = dodsim.history[k].filter(Number.isFinite);
    if (!v.length) return;
    const lo = Math.min(...v), hi = Math.max(...v), span = hi - lo || 1;
    ctx.strokeStyle = `rgb(${VIRIDIS[(j * 3) % 9].join(",")})`;
    ctx.beginPath();
    dodsim.history[k].forEach((y, i) => {
      if (!Number.isFinite(y)) return;
      const px = 40 + (c.width - 50) * (t[i] - t0) / ((t1 - t0) || 1);
      const py = c.height - 20 - (c.height - 40) * (y - lo) / span;
      i ? ctx.lineTo(px, py) : ctx.moveTo(px, py);
    });
    ctx.stroke();
    ctx.fillStyle = ctx.strokeStyle;
    ctx.fillText(`${k} ${lo.toPrecision(3)}–${hi.toPrecision(3)}`, 45, 14 + 14 * j);
  });
}
async function frames() {
  for (;;) {
    try {
      const r = await fetch(`/frame?after=${dodsim.seq}`);
      drawFrame(await r.arrayBuffer());
    } catch (e) { await new Promise(ok => setTimeout(ok, 500)); }
  }
}
async function main() {
  const m = dodsim.model = await (await fetch("/model")).json();
  $("title").textContent = m.name;
  document.title = m.name + " · dod_sim explorer";
  $("speed").value = m.speed;
  for (const s of m.sliders) {
    const label = document.createElement("label");
    const out = document.createElement("output");
    const input = Object.assign(document.createElement("input"), {
      type: "range", min: s.lo, max: s.hi, step: s.step, value: s.value, id: "p-" + s.name,
      title: s.live ? "applies from the next tick" : "builds a new world"});
    out.textContent = s.value;
    input.addEventListener("input", () => (out.textContent = input.value));
    input.addEventListener("change", () =>
      control({action: "set", params: {[s.name]: Number(input.value)}}));
    label.append(s.name + (s.live ? "" : " (new world)") + " ", input, " ", out);
    $("sliders").append(label);
  }
  if (m.unranged.length) $("notes").textContent = "no slider (no declared range): " + m.unranged.join(", ");
  $("play").onclick = () => control({action: $("play").textContent === "play" ? "play" : "pause"});
  $("step").onclick = () => control({action: "step"});
  $("reset").onclick = () => control({action: "reset"});
  $("speed").onchange = () => control({action: "speed", speed: Number($("speed").value)});
  show(m);
  frames();
}
main();
</script></body></html>
"""
