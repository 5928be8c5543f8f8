"""The web explorer (dod_sim.webview, ``dod-sim explore``): its routes, frames that
are the world's image with strictly increasing ticks, controls that refuse bad input
with one error naming the field, the command line, and the page in headless Chromium:
it moves a slider, steps the model, and sees the view and the statistic change."""

import html
import json
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import numpy as np
import pytest

from conftest import browser_or_skip
from dod_sim import ConfigError, draw
from dod_sim.explore import Session
from dod_sim.webview import FRAME_HEADER, MAX_BODY, WebExplorer


@pytest.fixture
def web():
    w = WebExplorer("boids", 300, port=0, threads=1, seed=2)
    w.start()
    yield w
    w.close()


def _get(web, path):
    return urllib.request.urlopen(web.url + path.lstrip("/"), timeout=30).read()


def _post(web, body, raw=None):
    data = raw if raw is not None else json.dumps(body).encode()
    req = urllib.request.Request(web.url + "control", data=data, method="POST")
    try:
        return 200, json.load(urllib.request.urlopen(req, timeout=30))
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


def _frame(blob):
    head = np.frombuffer(blob[:8 * FRAME_HEADER], "<i8")
    seq, tick, live, nx, ny, ns = map(int, head)
    stats = np.frombuffer(blob, "<f8", ns, 8 * FRAME_HEADER)
    pixels = np.frombuffer(blob, np.uint8, nx * ny, 8 * (FRAME_HEADER + ns)).reshape(ny, nx)
    assert len(blob) == 8 * (FRAME_HEADER + ns) + nx * ny
    return seq, tick, live, stats, pixels


def test_the_model_route_lists_sliders_and_what_has_none(web):
    m = json.loads(_get(web, "/model"))
    assert m["name"] == "boid_flockers" and m["stats"] == ["alignment"]
    assert [s["name"] for s in m["sliders"]] == ["speed", "vision", "separation"]
    vision = m["sliders"][1]
    assert (vision["lo"], vision["hi"], vision["step"], vision["live"]) == (1, 50, 1, False)
    assert "cohere" in m["unranged"] and m["tick"] == 0 and not m["playing"]


def test_a_frame_is_the_worlds_image(web):
    seq, tick, live, stats, pixels = _frame(_get(web, "/frame"))
    values, _ = draw.image(web.session.world)
    assert (tick, live) == (0, 300) and pixels.shape == values.shape
    assert np.array_equal(pixels > 0, ~np.isnan(values))  # 0 exactly where no agent is
    assert np.isnan(stats[0])  # no statistic before the first tick
    _post(web, {"action": "step"})
    seq2, tick2, _, stats2, pixels2 = _frame(_get(web, f"/frame?after={seq}"))
    assert seq2 > seq and tick2 == 1 and np.isfinite(stats2[0])
    assert stats2[0] == web.session.history["alignment"][-1]
    assert not np.array_equal(pixels, pixels2)


def test_playing_frames_carry_strictly_increasing_ticks(web):
    assert _post(web, {"action": "speed", "speed": 2})[1]["speed"] == 2
    assert _post(web, {"action": "play"})[1]["playing"]
    ticks, seq = [], -1
    deadline = time.monotonic() + 60
    while len(ticks) < 8 and time.monotonic() < deadline:
        seq, tick, *_ = _frame(_get(web, f"/frame?after={seq}"))
        ticks.append(tick)
    state = _post(web, {"action": "pause"})[1]
    assert not state["playing"] and len(ticks) == 8
    assert all(b > a for a, b in zip(ticks[1:], ticks[2:]))  # the first may be before play
    assert all(t % 2 == 0 for t in ticks)  # two ticks a batch


def test_controls_apply_and_refuse_with_the_field(web):
    assert _post(web, {"action": "set", "params": {"speed": 4}})[1]["tick"] == 0
    assert web.session.world.params.speed == 4.0
    digest = web.session.world.state_digest()
    for body, field in [
        ({"action": "set", "params": {"vision": 200}}, "vision"),     # outside its range
        ({"action": "set", "params": {"cohere": 0.5}}, "params"),     # no slider
        ({"action": "set", "params": {"speed": "fast"}}, "speed"),
        ({"action": "set", "params": [1]}, "params"),
        ({"action": "boom"}, "action"),
        ({"action": "speed", "speed": 0}, "speed"),
        ([1, 2], "request"),
    ]:
        status, answer = _post(web, body)
        assert status == 400 and answer["field"] == field, (body, answer)
    assert _post(web, None, raw=b"{not json")[0] == 400
    assert _post(web, None, raw=b" " * (MAX_BODY + 1))[1]["field"] == "body"
    assert web.session.world.state_digest() == digest  # nothing refused changed the world
    assert _post(web, {"action": "set", "params": {"vision": 20}})[1]["tick"] == 0
    assert web.session.world.params.vision == 20.0
    with pytest.raises(urllib.error.HTTPError) as e:
        _get(web, "/nope")
    assert e.value.code == 404
    with pytest.raises(urllib.error.HTTPError) as e:
        _get(web, "/frame?after=x")
    assert e.value.code == 400


def test_a_paced_session_never_runs_ahead_of_its_period():
    s = Session("boids", 100, threads=1, tick_ms=20, fps=1000)
    s.step(1)  # compiled or loaded
    t = time.perf_counter()
    s.play()
    time.sleep(0.5)
    s.pause()
    elapsed = time.perf_counter() - t
    assert 1 <= s.world.tick - 1 <= elapsed / 0.020 + 1
    assert s.world.last_report.period_ns == 20_000_000


def test_bad_arguments_are_named():
    with pytest.raises(ConfigError) as e:
        WebExplorer("boids", 10, port=70000)
    assert e.value.field == "port"
    with pytest.raises(ConfigError) as e:
        WebExplorer("boids", 10, port=0, speed=0)
    assert e.value.field == "speed"
    for bad in (-1, "5", True, 4e6):
        with pytest.raises(ConfigError) as e:
            Session("boids", 10, tick_ms=bad)
        assert e.value.field == "tick_ms"


@pytest.mark.slow
def test_the_command_serves_until_interrupted():
    proc = subprocess.Popen(
        [sys.executable, "-m", "dod_sim.cli", "explore", "boids", "--agents", "200",
         "--port", "0", "--threads", "1", "--param", "vision=5"],
        stderr=subprocess.PIPE, text=True)
    try:
        url = None
        deadline = time.monotonic() + 120
        while url is None and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if " at http://" in line:
                url = line.split(" at ")[1].split()[0]
        assert url, "no address printed"
        m = json.load(urllib.request.urlopen(url + "model", timeout=30))
        assert m["sliders"][1]["value"] == 5.0
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
    bad = subprocess.run([sys.executable, "-m", "dod_sim.cli", "explore", "boids",
                          "--port", "70000"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "port" in bad.stderr and "Traceback" not in bad.stderr


# Loads the explorer into a frame (same origin), waits for a frame, moves the speed
# slider as a person would (input, then change), waits for the frame that follows,
# clicks step, waits for the next tick, and writes what changed into #result, which
# --dump-dom prints. It is driven by the frames drawn (a MutationObserver on the
# status line), not by timers: the page always has a frame request open, and virtual
# time stands still while one is. The frame is removed at the end, so that it can run out.
CHECK = """<!doctype html><html><body><pre id="result">pending</pre><script>
const f = document.createElement("iframe");
f.style.width = "1200px"; f.style.height = "900px";
const sum = c => c.getContext("2d").getImageData(0, 0, c.width, c.height).data
  .reduce((a, v, i) => (a + v * (i % 251 + 1)) % 1000000007, 0);
f.onload = () => {
  const w = f.contentWindow, d = f.contentDocument;
  let stage = 0, before = null, seq = 0;
  const look = () => ({tick: w.dodsim.tick, view: sum(d.getElementById("space")),
                       status: d.getElementById("status").textContent});
  const next = () => {
    if (!w.dodsim || w.dodsim.frames < 1) return;
    if (stage === 0) {
      before = look(); seq = w.dodsim.seq; stage = 1;
      const slider = d.getElementById("p-speed");
      slider.value = 6;
      slider.dispatchEvent(new Event("input"));
      slider.dispatchEvent(new Event("change"));
    } else if (stage === 1 && w.dodsim.seq > seq) {  // the frame after the change
      stage = 2;
      d.getElementById("step").click();
    } else if (stage === 2 && w.dodsim.tick > before.tick) {
      stage = 3;
      document.getElementById("result").textContent = JSON.stringify({before, after: {
        ...look(), sliders: [...d.querySelectorAll("#sliders input")].map(i => i.id),
        alignment: w.dodsim.history.alignment}});
      f.remove();
    }
  };
  new w.MutationObserver(next).observe(d.getElementById("status"),
                                       {childList: true, characterData: true, subtree: true});
  next();
};
f.src = "/";
document.body.appendChild(f);
</script></body></html>
"""


@pytest.mark.slow
def test_the_page_moves_a_slider_steps_and_shows_the_change(web):
    browser = browser_or_skip()
    web.pages["/_check.html"] = ("text/html", CHECK.encode())
    with tempfile.TemporaryDirectory() as profile:
        run = subprocess.run(
            [browser, "--headless=new", "--no-sandbox", "--disable-gpu",
             "--disable-dev-shm-usage", "--no-first-run", "--disable-background-networking",
             f"--user-data-dir={profile}", "--virtual-time-budget=30000", "--dump-dom",
             web.url + "_check.html"],
            capture_output=True, text=True, timeout=180)
    dom = run.stdout
    start = dom.find('<pre id="result">')
    assert start >= 0, f"no result from {browser}: {run.stderr[-3000:]}"
    result = html.unescape(dom[start + len('<pre id="result">'):dom.index("</pre>", start)])
    assert result != "pending", "the page did not step in the browser"
    got = json.loads(result)
    assert got["after"]["sliders"] == ["p-speed", "p-vision", "p-separation"]
    assert web.session.world.params.speed == 6.0  # the slider reached the model
    assert got["before"]["tick"] == 0 and got["after"]["tick"] == web.session.world.tick == 1
    assert got["after"]["view"] != got["before"]["view"]  # the agents moved on the canvas
    assert got["after"]["status"] != got["before"]["status"]
    assert "alignment" in got["after"]["status"] and got["after"]["alignment"][-1] is not None


def test_the_benchmark_says_when_there_is_no_browser(monkeypatch):
    from dod_sim import bench_explore

    monkeypatch.setattr(bench_explore, "browser", lambda: None)
    r = bench_explore.explore_benchmark(quick=True)
    assert "Chromium" in r["skipped"]
    assert bench_explore.format_explore(r).startswith("explore: skipped (no Chromium")


@pytest.mark.slow
def test_the_benchmark_counts_frames_and_paced_ticks():
    from dod_sim.bench_explore import explore_benchmark, format_explore

    browser_or_skip()
    r = explore_benchmark(quick=True)
    f = r["frame_rate"]
    assert f["agents"] == 10_000 and f["seconds"] >= 3.0
    assert f["frames"] > 0 and f["ticks_increasing"] and f["repeats"] == 0
    p = r["paced"]
    assert len(p["unwatched"]) == len(p["watched"]) == 1 and p["ratio"] > 0
    assert all(run["ticks"] > 10 for run in p["unwatched"] + p["watched"])  # 3 s at 50 ms
    assert "frames/s" in format_explore(r) and "watched / unwatched" in format_explore(r)
