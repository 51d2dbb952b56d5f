"""The timeline in a real JupyterLab / Jupyter Notebook 7, driven through Debian's Chromium (drawn
by the package's extension from the output: js/hosts/lab.js, which renders with the widget's own
code), and the widget glue (js/hosts/widget.js) on its own.

Each test starts its own server on 127.0.0.1 (a free port, every file in a temp dir, no token, no
setting changed but the news popup), opens an example notebook, waits until its kernel is idle (a
readiness signal, not a sleep), runs all cells and then checks what was drawn and how it reacts. Every wait has a timeout and the
server is stopped in ``finally``: a broken widget fails the test, it never hangs the run.
Screenshots go to test-artifacts/.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

from conftest import free_port

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"

SERVER_START_TIMEOUT_S = 60
WAIT_MS = 60_000  # any single wait in the page

KERNEL_IDLE = """() => {
  const k = window.jupyterapp?.shell?.currentWidget?.sessionContext?.session?.kernel;
  return !!k && k.connectionStatus === 'connected' && k.status === 'idle';
}"""
RUN_ALL = "() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }"  # not awaited
DRAWN = "canvas.fprofile-zoom[data-drawn]"


TEST_DEADLINE_S = 240  # a whole test; every wait inside has its own, shorter timeout


@pytest.fixture(autouse=True)
def deadline():
    """A last-resort bound on a whole test: Playwright's page.evaluate has no timeout of its own,
    so a page stuck in a loop could block forever. SIGALRM raises in the test (main thread), its
    ``finally`` blocks stop the server and close the page."""
    import signal

    def expired(signum, frame):
        raise TimeoutError(f"browser test still running after {TEST_DEADLINE_S} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(TEST_DEADLINE_S)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def server_env(tmp: Path) -> dict:
    """The environment of a server (and of `jupyter trust` for its notebooks): every Jupyter
    folder inside ``tmp``."""
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(tmp / "config"), JUPYTER_DATA_DIR=str(tmp / "data"),
               JUPYTER_RUNTIME_DIR=str(tmp / "runtime"), IPYTHONDIR=str(tmp / "ipython"),
               JUPYTER_PLATFORM_DIRS="1")
    # the kernels must find the venv's kernelspec (ipykernel's native one uses sys.executable)
    env.pop("JUPYTER_PATH", None)
    return env


@contextmanager
def jupyter_server(tmp: Path, app: str = "lab", extra: tuple[str, ...] = (), python: str = sys.executable) -> Iterator[str]:
    """Run ``jupyter lab`` (or ``notebook``, or ``nbclassic``) with ``python`` on a free port;
    yield its base URL; stop it. ``extra``: more command-line options for the server."""
    settings = tmp / "config" / "lab" / "user-settings"
    (settings / "@jupyterlab" / "apputils-extension").mkdir(parents=True, exist_ok=True)
    (settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    port = free_port()
    env = server_env(tmp)
    module, cls = {"lab": ("jupyterlab", "LabApp"), "notebook": ("notebook", "JupyterNotebookApp"),
                   "nbclassic": ("nbclassic", "")}[app]
    cmd = [python, "-m", module, "--no-browser", "--allow-root", "--ip=127.0.0.1",
           f"--port={port}", "--ServerApp.port_retries=0", "--IdentityProvider.token=",
           "--PasswordIdentityProvider.hashed_password=", f"--ServerApp.root_dir={tmp / 'root'}"]
    if cls:
        cmd.append(f"--{cls}.expose_app_in_browser=True")
    if app == "lab":
        cmd += ["--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    cmd += list(extra)
    log = open(tmp / f"{app}-server.log", "wb")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=str(tmp))
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"jupyter {app} exited with {proc.returncode}: "
                                   + (tmp / f"{app}-server.log").read_text(errors="replace")[-2000:])
            try:
                with urllib.request.urlopen(f"{url}/api/status", timeout=2) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"jupyter {app} did not answer within {SERVER_START_TIMEOUT_S} s")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)
        log.close()


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "root").mkdir()
    for nb in ("pipeline.ipynb", "context_manager.ipynb"):
        shutil.copy(NOTEBOOKS / nb, tmp_path / "root" / nb)
    return tmp_path


def open_page(browser, url: str):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    errors: list[str] = []

    def on_error(e) -> None:
        # ours: the widget's module is loaded by anywidget from a blob: URL. (Notebook 7 itself
        # throws a settings-schema TypeError on start-up here: not ours, not counted.)
        text = f"{e}\n{getattr(e, 'stack', '') or ''}"
        if "blob:" in text or "fprofile" in text:
            errors.append(text)

    def on_console(msg) -> None:
        where = (msg.location or {}).get("url", "")
        if msg.type == "error" and ("blob:" in where or "fprofile" in msg.text):
            errors.append(f"console: {msg.text} ({where})")

    page.on("pageerror", on_error)
    page.on("console", on_console)
    return context, page, errors


def run_all_and_wait(page, url_path: str, url: str):
    page.goto(url + url_path)
    page.wait_for_function(KERNEL_IDLE, timeout=WAIT_MS)
    page.evaluate(RUN_ALL)
    canvas = page.wait_for_selector(DRAWN, timeout=WAIT_MS)
    page.wait_for_function(KERNEL_IDLE, timeout=WAIT_MS)  # every cell done
    return canvas


def drawn_pixels(page, selector: str, index: int = 0) -> dict:
    """Count the pixels of a canvas that differ from its most common colour (the background)."""
    return page.evaluate("""([sel, index]) => {
      const c = document.querySelectorAll(sel)[index];
      const ctx = c.getContext('2d');
      const { data } = ctx.getImageData(0, 0, c.width, c.height);
      const counts = new Map();
      for (let i = 0; i < data.length; i += 4) {
        const key = (data[i] << 16) | (data[i + 1] << 8) | data[i + 2];
        counts.set(key, (counts.get(key) || 0) + 1);
      }
      let bg = 0, bgCount = -1;
      for (const [k, v] of counts) if (v > bgCount) { bg = k; bgCount = v; }
      return { width: c.width, height: c.height, colours: counts.size,
               foreground: data.length / 4 - bgCount,
               background: [bg >> 16 & 255, bg >> 8 & 255, bg & 255] };
    }""", [selector, index])


CANVAS_DIGEST_JS = """() => {
  const c = document.querySelector('canvas.fprofile-zoom');
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let h = 0;
  for (let i = 0; i < d.length; i += 4) h = (h * 31 + d[i] + 7 * d[i + 1] + 13 * d[i + 2]) | 0;
  return String(h);
}"""


def canvas_digest(page) -> str:
    return page.evaluate(CANVAS_DIGEST_JS)


def find_box(page, index: int = 0):
    """A point over a drawn call in the zoomed view: the tooltip must appear there."""
    canvas = page.query_selector_all("canvas.fprofile-zoom")[index]
    box = canvas.bounding_box()
    assert box and box["width"] > 100, box
    return canvas, box


VISIBLE_TOOLTIP = """() => {
  for (const t of document.querySelectorAll('.fprofile-tooltip')) {
    if (!t.hidden && t.offsetParent !== null && t.textContent.trim()) return t.innerText;
  }
  return null;
}"""


def hover_until_tooltip(page, canvas, box) -> str:
    """Move over the zoomed view on a grid until a call's tooltip shows (it needs a call under it;
    a thread's header row shows the thread's tooltip, with its lane: passed over, as where the
    headers fall depends on how the run's threads happened to overlap)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for fy in (0.1, 0.15, 0.2, 0.25, 0.32, 0.4, 0.5, 0.6):
        for fx in (0.1, 0.3, 0.5, 0.7, 0.9):
            page.mouse.move(box["x"] + box["width"] * fx, box["y"] + box["height"] * fy)
            try:
                handle = page.wait_for_function(VISIBLE_TOOLTIP, timeout=400)
            except PlaywrightTimeout:
                continue
            text = handle.json_value()
            if "\nLane\n" in f"\n{text}\n":
                continue
            return text
    return ""


def window_of(page, index: int = 0) -> tuple[float, float]:
    return tuple(page.evaluate("""(i) => {
      const r = document.querySelectorAll('.fprofile-root')[i];
      return [Number(r.dataset.windowStartNs), Number(r.dataset.windowEndNs)];
    }""", index))


def test_lab_pipeline_timeline_interactions(browser, workdir, artifacts_dir):
    with jupyter_server(workdir, "lab") as url:
        context, page, errors = open_page(browser, url)
        try:
            run_all_and_wait(page, "/lab/tree/pipeline.ipynb", url)
            # three profiled cells: the pipeline, the line magic, the failing cell (partial trace)
            page.wait_for_function(f"() => document.querySelectorAll('{DRAWN}').length >= 3", timeout=WAIT_MS)
            assert page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr'], "
                                ".jp-RenderedText[data-mime-type='application/vnd.jupyter.error']"
                                ).count() >= 1
            assert "ValueError" in page.inner_text(".jp-Notebook")
            # the extension's renderer is ranked first: the output's text/html (the fragment that
            # draws the same timeline where there is no extension) is not rendered, so every
            # output holds one timeline, not two
            per_output = page.evaluate("""() => [...document.querySelectorAll('.jp-OutputArea-output')]
              .map((o) => o.querySelectorAll('.fprofile-root').length).filter((n) => n > 0)""")
            assert per_output == [1] * len(per_output) and len(per_output) >= 3, per_output
            assert page.locator(".fprofile-fragment").count() == 0

            canvas = page.query_selector(DRAWN)
            canvas.scroll_into_view_if_needed()
            assert int(canvas.get_attribute("data-drawn")) > 50
            px = drawn_pixels(page, "canvas.fprofile-zoom")
            assert px["foreground"] > 2000 and px["colours"] > 5, px
            ov = drawn_pixels(page, "canvas.fprofile-overview")
            assert ov["foreground"] > 500, ov
            page.screenshot(path=os.path.join(artifacts_dir, "lab-pipeline.png"))
            canvas.screenshot(path=os.path.join(artifacts_dir, "lab-pipeline-zoom.png"))

            # hover a call: the tooltip names a function of the notebook, as text
            zcanvas, zbox = find_box(page)
            tip = hover_until_tooltip(page, zcanvas, zbox)
            assert any(f in tip for f in ("run_pipeline", "process", "producer", "consumer", "score",
                                          "parse", "read_record", "<module>")), tip
            # the cell's code is named by its cell (In [N]:line), not the kernel's temporary file
            assert re.search(r"In \[\d+\]:\d+", tip) and "ipykernel_" not in tip, tip
            assert "Duration" in tip and "Thread" in tip, tip
            page.screenshot(path=os.path.join(artifacts_dir, "lab-pipeline-tooltip.png"))
            # click it: the details panel shows the same call
            function = tip.strip().splitlines()[0].strip()
            page.mouse.down()
            page.mouse.up()
            page.wait_for_function("""(fn) => [...document.querySelectorAll('.fprofile-details')]
              .some(d => d.innerText.includes(fn) && d.innerText.includes('Duration'))""", arg=function,
                                   timeout=30_000)
            # its labels (File, Thread, Start, Duration, ...) sit on one line each, left of their
            # values, under JupyterLab's own dt/dd styles too
            misplaced = page.evaluate("""() => [...document.querySelectorAll('.fprofile-details dl.fprofile-facts dt')]
              .filter((dt) => { const a = dt.getBoundingClientRect(); const b = dt.nextElementSibling.getBoundingClientRect();
                                const text = document.createRange(); text.selectNodeContents(dt);
                                return a.right > b.left + 0.5 || Math.abs(a.top - b.top) > 2 || text.getClientRects().length !== 1; })
              .map((dt) => dt.textContent)""")
            assert misplaced == [], misplaced

            # drag in the overview: the zoomed window changes
            start0, end0 = window_of(page)
            ov_el = page.query_selector("canvas.fprofile-overview")
            ob = ov_el.bounding_box()
            y = ob["y"] + ob["height"] / 2
            page.mouse.move(ob["x"] + ob["width"] * 0.30, y)
            page.mouse.down()
            page.mouse.move(ob["x"] + ob["width"] * 0.45, y, steps=8)
            page.mouse.up()
            page.wait_for_function("""([s, e]) => {
              const r = document.querySelector('.fprofile-root');
              return Number(r.dataset.windowStartNs) !== s || Number(r.dataset.windowEndNs) !== e;
            }""", arg=[start0, end0], timeout=30_000)
            start1, end1 = window_of(page)
            assert start1 > start0 and end1 - start1 < (end0 - start0) * 0.5, (start0, end0, start1, end1)
            page.screenshot(path=os.path.join(artifacts_dir, "lab-pipeline-zoomed.png"))
            # the reset button shows the whole run again
            page.click("button.fprofile-reset")
            page.wait_for_function("""([s, e]) => {
              const r = document.querySelector('.fprofile-root');
              return Number(r.dataset.windowStartNs) === s && Number(r.dataset.windowEndNs) === e;
            }""", arg=[start0, end0], timeout=30_000)
            page.mouse.move(ob["x"] + ob["width"] * 0.30, y)
            page.mouse.down()
            page.mouse.move(ob["x"] + ob["width"] * 0.45, y, steps=8)
            page.mouse.up()

            # search: typing a function name highlights its calls (the zoomed view is redrawn)
            before = canvas_digest(page)
            search = page.query_selector("input.fprofile-search")
            search.fill("score")
            page.wait_for_function(f"""() => ({CANVAS_DIGEST_JS})() !== {json.dumps(before)}""", timeout=30_000)
            page.screenshot(path=os.path.join(artifacts_dir, "lab-pipeline-search.png"))

            # the dark theme applies to the timeline
            light_bg = drawn_pixels(page, "canvas.fprofile-zoom")["background"]
            page.evaluate("() => { window.jupyterapp.commands.execute('apputils:change-theme', "
                          "{theme: 'JupyterLab Dark'}); }")
            page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'", timeout=WAIT_MS)
            page.wait_for_function("""(light) => {
              const c = document.querySelector('canvas.fprofile-zoom');
              const d = c.getContext('2d').getImageData(2, c.height - 3, 1, 1).data;
              return d[0] + d[1] + d[2] < 3 * 100;
            }""", arg=light_bg, timeout=30_000)
            dark_bg = drawn_pixels(page, "canvas.fprofile-zoom")["background"]
            assert sum(dark_bg) < sum(light_bg), (light_bg, dark_bg)
            page.wait_for_selector("#jupyterlab-splash", state="detached", timeout=WAIT_MS)  # theme change splash
            page.screenshot(path=os.path.join(artifacts_dir, "lab-pipeline-dark.png"))

            assert not errors, errors
        finally:
            context.close()
        # saving, restarting, reloading and opening with no kernel: tests/test_reopen.py


def test_notebook7_context_manager(browser, workdir, artifacts_dir):
    with jupyter_server(workdir, "notebook") as url:
        context, page, errors = open_page(browser, url)
        try:
            run_all_and_wait(page, "/notebooks/context_manager.ipynb", url)
            # p.trace as the last expression, then show(trace): two timelines
            page.wait_for_function(f"() => document.querySelectorAll('{DRAWN}').length >= 2", timeout=WAIT_MS)
            canvas = page.query_selector(DRAWN)
            canvas.scroll_into_view_if_needed()
            px = drawn_pixels(page, "canvas.fprofile-zoom")
            assert px["foreground"] > 1000, px
            zcanvas, zbox = find_box(page)
            tip = hover_until_tooltip(page, zcanvas, zbox)
            assert "fib" in tip or "work" in tip or "in_threads" in tip, tip
            assert "Duration" in tip, tip
            page.screenshot(path=os.path.join(artifacts_dir, "notebook7-context-manager.png"))
            assert not errors, errors
        finally:
            context.close()


# -- a non-windowed TimelineWidget in real JupyterLab: its window through the real comm ----------

WIDGET_NOTEBOOK = {
    "cells": [{"cell_type": "code", "execution_count": None, "id": "tw1", "metadata": {}, "outputs": [], "source": [
        "from fprofile_jupyter import _core, _widget, _windowed\n",
        "trace = _core._synthetic_trace(4_000, 3, 3)\n",
        "assert not _windowed.windowed(trace)\n",
        "w = _widget.TimelineWidget(trace)\n",
        "w",
    ]}],
    "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
    "nbformat": 4, "nbformat_minor": 5,
}

# Runs code in the notebook's kernel (the page's own kernel connection, as a cell would) and
# resolves to what it printed; an exception in the kernel comes back as "ERROR name: value".
KERNEL_RUN = """async (code) => {
  const k = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
  const f = k.requestExecute({ code, store_history: false });
  let out = '';
  f.onIOPub = (msg) => {
    const t = msg.header.msg_type;
    if (t === 'stream') out += msg.content.text;
    else if (t === 'error') out += `ERROR ${msg.content.ename}: ${msg.content.evalue}`;
  };
  await f.done;
  return out;
}"""


def kernel_window(page) -> tuple[int, int] | None:
    """The widget's window as the kernel's Python object has it (None while it is unset)."""
    out = page.evaluate(KERNEL_RUN, "print(w.window_start_ns, w.window_end_ns)").strip()
    assert not out.startswith("ERROR"), out
    a, b = out.split()
    return None if "None" in (a, b) else (int(a), int(b))


def test_lab_widget_window_syncs_with_python_through_the_comm(browser, tmp_path, artifacts_dir):
    """A TimelineWidget (not windowed: the whole trace in the page) in JupyterLab, with anywidget's
    real model and comm: the window set from Python moves the page's view, and a drag in the page
    comes back to the kernel's Python object (debounced)."""
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "widget.ipynb").write_text(json.dumps(WIDGET_NOTEBOOK))
    with jupyter_server(tmp_path, "lab") as url:
        context, page, errors = open_page(browser, url)
        try:
            canvas = run_all_and_wait(page, "/lab/tree/widget.ipynb", url)
            root = page.locator(".fprofile-root")
            assert root.get_attribute("data-windowed") is None  # the whole trace is in the page
            assert root.get_attribute("data-calls") == page.evaluate(KERNEL_RUN, "print(len(trace))").strip()
            assert kernel_window(page) is None  # nothing moved yet
            s0, e0 = window_of(page)
            assert e0 > s0, (s0, e0)
            # Python sets the window: the page's view moves there and is drawn again
            a, b = round(s0 + 0.3 * (e0 - s0)), round(s0 + 0.55 * (e0 - s0))
            before = canvas_digest(page)
            out = page.evaluate(KERNEL_RUN, f"with w.hold_sync():\n    w.window_start_ns = {a}\n    w.window_end_ns = {b}\nprint('set')")
            assert out.strip() == "set", out
            page.wait_for_function(f"""() => {{ const r = document.querySelector('.fprofile-root').dataset;
                return Number(r.windowStartNs) === {a} && Number(r.windowEndNs) === {b}; }}""", timeout=WAIT_MS)
            page.wait_for_function(f"() => (({CANVAS_DIGEST_JS})()) !== {json.dumps(before)}", timeout=WAIT_MS)
            assert kernel_window(page) == (a, b)  # not echoed back changed
            # a drag in the zoomed view pans it: the new window reaches the kernel's object
            canvas.scroll_into_view_if_needed()
            box = canvas.bounding_box()
            page.mouse.move(box["x"] + box["width"] * 0.7, box["y"] + box["height"] * 0.5)
            page.mouse.down()
            page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.5, steps=8)
            page.mouse.up()
            page.wait_for_function(f"() => Number(document.querySelector('.fprofile-root').dataset.windowStartNs) > {a}",
                                   timeout=WAIT_MS)
            want = tuple(round(v) for v in window_of(page))
            assert want[0] > a and abs((want[1] - want[0]) - (b - a)) <= 1, (want, a, b)  # a pan keeps the width
            deadline = time.monotonic() + WAIT_MS / 1000
            got = kernel_window(page)
            while got != want and time.monotonic() < deadline:
                page.wait_for_timeout(200)  # polling the kernel for the debounced sync, not a timed check
                got = kernel_window(page)
            assert got == want, (got, want)
            page.screenshot(path=os.path.join(artifacts_dir, "lab-widget-window-sync.png"))
            assert not errors, errors
        finally:
            context.close()


# -- the widget glue (js/hosts/widget.js), without a server -------------------------------------

HOST_PAGE = """<!doctype html><html><head><meta charset="utf-8"><style id="css"></style></head>
<body style="margin:0"><div id="host" style="width:1200px"></div></body></html>"""

FAKE_MODEL_JS = """async ([bundle, css]) => {
  document.getElementById('css').textContent = css;
  const url = URL.createObjectURL(new Blob([bundle], { type: 'text/javascript' }));
  window.widget = (await import(url)).default;
  // a stand-in for anywidget's model: get/set/on/off/save_changes, with a record of the calls
  window.makeModel = (state) => {
    const handlers = new Map();
    const model = {
      saves: [], sets: [],
      get: (k) => state[k],
      set: (k, v) => { state[k] = v; model.sets.push([k, v]); },
      save_changes: () => { model.saves.push({ ...state, data: undefined }); },
      on: (ev, fn) => { if (!handlers.has(ev)) handlers.set(ev, new Set()); handlers.get(ev).add(fn); },
      off: (ev, fn) => { handlers.get(ev)?.delete(fn); },
      send: () => {},
      // what anywidget does when Python changes a trait
      change: (k, v) => { state[k] = v; for (const fn of handlers.get('change:' + k) || []) fn(); },
      handlers: (ev) => [...(handlers.get(ev) || [])],
      listeners: () => [...handlers.values()].reduce((n, s) => n + s.size, 0),
    };
    return model;
  };
  window.toView = (b64) => {
    const bin = atob(b64);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return new DataView(bytes.buffer);
  };
}"""


def demo_trace(threads: int = 3, per_thread: int = 40, name: str = "step"):
    from fprofile_jupyter import _core

    codes = [("/work/demo.py", "main", 1), ("/work/demo.py", name, 10), ("/work/demo.py", "<b>leaf</b>", 20)]
    out = []
    for t in range(threads):
        now, events = 1_000 + t * 500, []
        for _ in range(per_thread):
            events += [(now, 1, False), (now + 200, 2, False), (now + 900, 2, True), (now + 1_500, 1, True)]
            now += 2_000
        out.append((100 + t, f"thread-{t}", [(events[0][0] - 10, 0, False)] + events + [(now + 10, 0, True)]))
    return _core._build_trace(codes, out, start_ns=0, stop_ns=now + 1_000)


@pytest.fixture
def glue_page(browser):
    import base64 as b64mod  # noqa: F401  (used by the tests through the helper below)

    from fprofile_jupyter import _core

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.set_content(HOST_PAGE)
    page.evaluate(FAKE_MODEL_JS, [_core.asset_bundle("widget"), _core.asset_css()])
    yield page, errors
    context.close()


def render_widget(page, trace=None, **state):
    import base64

    full = {"data": "", "summary": "", "error": "", "height": 0, "window_start_ns": None, "window_end_ns": None}
    if trace is not None:
        full["data"] = base64.b64encode(trace.to_bytes()).decode()
        full["summary"] = trace.summary_json()
    full.update(state)
    page.evaluate("""(s) => {
      s.data = toView(s.data);
      window.model = makeModel(s);
      window.cleanup = widget.render({ model: window.model, el: document.getElementById('host') });
    }""", full)


def test_widget_glue_draws_syncs_window_and_rerenders(glue_page, artifacts_dir):
    import base64

    page, errors = glue_page
    trace = demo_trace()
    render_widget(page, trace)
    canvas = page.wait_for_selector(DRAWN)
    assert int(canvas.get_attribute("data-drawn")) > 10
    assert page.get_attribute(".fprofile-root", "data-calls") == str(len(trace))
    # text only: a function named like markup appears as text in the summary
    assert "<b>leaf</b>" in page.inner_text("table.fprofile-summary")
    assert page.locator("table.fprofile-summary b").count() == 0

    # a drag in the overview sends the window back to Python once, debounced
    ov = page.query_selector("canvas.fprofile-overview").bounding_box()
    y = ov["y"] + ov["height"] / 2
    page.mouse.move(ov["x"] + ov["width"] * 0.2, y)
    page.mouse.down()
    page.mouse.move(ov["x"] + ov["width"] * 0.5, y, steps=10)
    page.mouse.up()
    page.wait_for_function("() => window.model.saves.length > 0", timeout=5_000)
    page.wait_for_timeout(600)  # let any further (wrongly undebounced) saves arrive before counting
    saves = page.evaluate("() => window.model.saves")
    assert len(saves) == 1, saves
    start, end = window_of(page)
    assert saves[0]["window_start_ns"] == round(start) and saves[0]["window_end_ns"] == round(end)

    # Python moves the window: the view follows
    page.evaluate("""() => { model.change('window_start_ns', 3000); model.change('window_end_ns', 9000); }""")
    page.wait_for_function("() => document.querySelector('.fprofile-root').dataset.windowStartNs === '3000'")
    assert window_of(page) == (3000, 9000)

    # new data: the widget redraws with the new trace
    other = demo_trace(threads=2, per_thread=7)
    page.evaluate("""([b64, summary]) => { model.change('summary', summary); model.change('data', toView(b64)); }""",
                  [base64.b64encode(other.to_bytes()).decode(), other.summary_json()])
    page.wait_for_function(f"() => document.querySelector('.fprofile-root')?.dataset.calls === '{len(other)}'")
    assert page.locator(".fprofile-root").count() == 1
    assert window_of(page)[0] != 3000  # new data starts from the whole run
    assert page.inner_text(".fprofile-widget-status").startswith(f"fprofile · {len(other)} calls · 2 threads")
    page.screenshot(path=os.path.join(artifacts_dir, "widget-glue.png"))

    # cleanup removes the view and every listener
    page.evaluate("() => window.cleanup()")
    assert page.evaluate("() => document.getElementById('host').children.length") == 0
    assert page.evaluate("() => window.model.listeners()") == 0
    assert not errors, errors


def test_widget_glue_shows_the_too_big_message_and_bad_data(glue_page, artifacts_dir, monkeypatch):
    from fprofile_jupyter import _display, _widget

    page, errors = glue_page
    monkeypatch.setattr(_display, "MAX_DISPLAY_CALLS", 100)
    w = _widget.TimelineWidget(demo_trace())
    assert w.error
    render_widget(page, None, error=w.error)
    text = page.inner_text(".fprofile-error")
    assert "too big" in text and f"{len(demo_trace()):,} calls" in text and "100 calls" in text
    assert page.locator("canvas").count() == 0
    page.screenshot(path=os.path.join(artifacts_dir, "widget-too-big.png"))
    page.evaluate("() => window.cleanup()")

    # bytes that are not a trace: a message from the timeline, no exception
    render_widget(page, None, data="bm90IGEgdHJhY2U=")
    page.wait_for_function("() => document.querySelector('.fprofile-error')?.textContent.length > 0")
    assert "not a valid fprofile trace" in page.inner_text(".fprofile-error")
    page.evaluate("() => window.cleanup()")

    # no data at all (e.g. a notebook saved without widget state)
    render_widget(page, None)
    assert "no trace data" in page.inner_text(".fprofile-error")
    assert not errors, errors
