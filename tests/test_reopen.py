"""A saved notebook reopens with its timelines (issue 11, item 1), as a user meets it.

In a real JupyterLab and Notebook 7 driven through Debian's Chromium, with no setting changed:
run the cells, save, restart the kernel, reload the page: the timelines are drawn again (from the
output's own copy of the trace, by the package's JupyterLab extension, not from widget state).
Then the saved file opened with no kernel (a kernel this machine does not have, and so untrusted),
exported by nbconvert, and its size against the traces it holds. Screenshots go to test-artifacts/.
"""
from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fprofile_jupyter import _core, _display, _labextension
# the servers, pages and canvas checks of the other browser tests (and their per-test deadline)
from test_browser_lab import (DRAWN, KERNEL_IDLE, NOTEBOOKS, RUN_ALL, WAIT_MS, deadline, drawn_pixels,  # noqa: F401
                              jupyter_server, open_page)

ROOT = Path(__file__).resolve().parent.parent
DATA_FOLDER = ROOT / "python" / "fprofile_jupyter.data" / "data" / _labextension.INSTALL_PATH
NOTEBOOK = "context_manager.ipynb"  # p.trace and p.show(): two timelines
TIMELINES = 2
RESTART = """() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.restart()"""
SAVE = "() => { window.jupyterapp.commands.execute('docmanager:save'); }"
WIDGET_ERRORS = ("model not found", "Error displaying widget")


def saved_traces(path: Path) -> list[bytes]:
    """The .fpt bytes of every trace output of a saved notebook."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    out = []
    for cell in nb["cells"]:
        for o in cell.get("outputs", []):
            data = o.get("data", {})
            if _display.TRACE_MIME in data:
                out.append(base64.b64decode(_display.output_payload(data)["fpt"]))
    return out


def wait_saved(path: Path, count: int) -> list[bytes]:
    """Poll until the server has written ``count`` trace outputs (saving is asynchronous)."""
    deadline_at = time.monotonic() + 30
    while True:
        try:
            traces = saved_traces(path)
        except (json.JSONDecodeError, KeyError):
            traces = []
        if len(traces) >= count:
            return traces
        assert time.monotonic() < deadline_at, f"{path.name} was not saved with {count} traces"
        time.sleep(0.3)


def check_drawn(page, count: int) -> None:
    page.wait_for_function(f"(n) => document.querySelectorAll('{DRAWN}').length >= n", arg=count, timeout=WAIT_MS)
    for i in range(count):
        px = drawn_pixels(page, "canvas.fprofile-zoom", i)
        assert px["foreground"] > 1000 and px["colours"] > 5, (i, px)
    text = page.inner_text("body")
    assert not any(e in text for e in WIDGET_ERRORS), text[:2000]


def check_size(path: Path, traces: list[bytes]) -> None:
    """The saved notebook holds about one copy of each trace: base64 (4/3) plus, per output, the
    timeline's page code (the text/html fragment) and the static caption and table, and the
    notebook's code and metadata; not a second copy in widget state, HTML or the mime type."""
    total = sum(len(t) for t in traces)
    size = path.stat().st_size
    code = len(_core.asset_source("dist/fragment.min.js").encode())
    bound = total * 4 // 3 + (code + 16_000) * len(traces) + 16_000
    assert size <= bound, (size, total, bound)


def run_save_restart_reload(browser, workdir: Path, app: str, url_path: str, artifacts_dir: str) -> list[bytes]:
    shutil.copy(NOTEBOOKS / NOTEBOOK, workdir / "root" / NOTEBOOK)
    saved = workdir / "root" / NOTEBOOK
    with jupyter_server(workdir, app) as url:
        context, page, errors = open_page(browser, url)
        try:
            page.goto(url + url_path)
            page.wait_for_function(KERNEL_IDLE, timeout=WAIT_MS)
            page.evaluate(RUN_ALL)
            check_drawn(page, TIMELINES)
            page.wait_for_function(KERNEL_IDLE, timeout=WAIT_MS)  # every cell done
            page.evaluate(SAVE)
            traces = wait_saved(saved, TIMELINES)
            # the kernel restarts: every widget model dies with it
            page.evaluate(RESTART)
            page.wait_for_function(KERNEL_IDLE, timeout=WAIT_MS)
            page.reload()
            page.wait_for_function(KERNEL_IDLE, timeout=WAIT_MS)
            check_drawn(page, TIMELINES)
            first = page.query_selector(DRAWN)
            first.scroll_into_view_if_needed()
            page.screenshot(path=os.path.join(artifacts_dir, f"reopen-{app}-after-restart.png"))
            # drawn from the saved output: the same calls as the trace saved
            calls = page.evaluate("() => [...document.querySelectorAll('.fprofile-root')].map(r => Number(r.dataset.calls))")
            from fprofile_jupyter import Trace

            assert calls[:TIMELINES] == [len(Trace.from_bytes(t)) for t in traces], calls
            assert not errors, errors
        finally:
            context.close()
    return traces


def test_lab_reopens_after_restart_and_reload(browser, tmp_path, artifacts_dir):
    (tmp_path / "root").mkdir()
    traces = run_save_restart_reload(browser, tmp_path, "lab", f"/lab/tree/{NOTEBOOK}", artifacts_dir)
    saved = tmp_path / "root" / NOTEBOOK
    check_size(saved, traces)
    # no widget state was needed (JupyterLab's default: none is saved)
    nb = json.loads(saved.read_text(encoding="utf-8"))
    assert "widgets" not in nb["metadata"]


def test_notebook7_reopens_after_restart_and_reload(browser, tmp_path, artifacts_dir):
    (tmp_path / "root").mkdir()
    traces = run_save_restart_reload(browser, tmp_path, "notebook", f"/notebooks/{NOTEBOOK}", artifacts_dir)
    check_size(tmp_path / "root" / NOTEBOOK, traces)


def executed_notebook(tmp_path: Path) -> Path:
    """The example notebook executed by nbclient (a real kernel) and saved, as a user's file."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(NOTEBOOKS / NOTEBOOK, as_version=4)
    work = tmp_path / "exec"
    work.mkdir()
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(work)}}).execute()
    out = tmp_path / "root" / "executed.ipynb"
    out.parent.mkdir(exist_ok=True)
    nbformat.write(nb, out)
    return out


@pytest.mark.parametrize("app, url_path", [("lab", "/lab/tree/"), ("notebook", "/notebooks/")])
def test_saved_notebook_opens_with_no_kernel(browser, tmp_path, artifacts_dir, app, url_path):
    """A notebook from elsewhere, on a server where no kernel can start (no kernel spec allowed)
    and not trusted (never saved by this server): the timelines are drawn all the same."""
    path = executed_notebook(tmp_path)
    nb = json.loads(path.read_text(encoding="utf-8"))
    nb["metadata"]["kernelspec"] = {"name": "fprofile-no-such-kernel", "display_name": "Elsewhere", "language": "python"}
    path.write_text(json.dumps(nb), encoding="utf-8")
    with jupyter_server(tmp_path, app, ('--KernelSpecManager.allowed_kernelspecs=["fprofile-none"]',)) as url:
        context, page, errors = open_page(browser, url)
        try:
            page.goto(f"{url}{url_path}{path.name}")
            check_drawn(page, TIMELINES)
            specs = page.evaluate("""async () => { const m = window.jupyterapp.serviceManager.kernelspecs;
              await m.ready; return Object.keys(m.specs?.kernelspecs || {}); }""")
            assert specs == [], specs
            assert page.evaluate("() => !window.jupyterapp.shell.currentWidget.sessionContext.session?.kernel")
            # JupyterLab (and Notebook 7) asks which kernel to use: none
            page.locator(".jp-Dialog button", has_text="No Kernel").click()
            page.locator(".jp-Dialog").wait_for(state="detached", timeout=WAIT_MS)
            trusted = page.evaluate("""() => { const cells = window.jupyterapp.shell.currentWidget.content.model.cells;
              return Array.from({length: cells.length}, (_, i) => cells.get(i))
                .filter(c => c.type === 'code' && c.outputs.length > 0).map(c => c.trusted); }""")
            assert trusted and not any(trusted), trusted
            page.query_selector(DRAWN).scroll_into_view_if_needed()
            page.screenshot(path=os.path.join(artifacts_dir, f"reopen-no-kernel-{app}.png"))
            assert not errors, errors
        finally:
            context.close()


def test_nbconvert_html_of_the_saved_notebook(browser, tmp_path, artifacts_dir):
    """nbconvert keeps each trace's text/html: with scripts off (nbviewer shows this HTML so) the
    caption and the static summary, with names as text; the page needs no network. With scripts
    on it draws the timelines: tests/test_html_hosts.py."""
    path = executed_notebook(tmp_path)
    subprocess.run([sys.executable, "-m", "nbconvert", "--to", "html", str(path)], check=True,
                   capture_output=True, timeout=120)
    page_html = path.with_suffix(".html").read_text(encoding="utf-8")
    assert page_html.count("fprofile-static-caption") == TIMELINES
    context = browser.new_context(viewport={"width": 1280, "height": 900}, java_script_enabled=False)
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.route("http*://**", lambda route: route.abort())  # offline, as a file someone downloaded
    try:
        page.set_content(page_html, wait_until="domcontentloaded")
        captions = page.locator(".fprofile-static-caption").all_inner_texts()
        assert len(captions) == TIMELINES and all("most time: " in c and "fib" in c for c in captions), captions
        rows = page.locator("table.fprofile-summary-static tbody tr").all_inner_texts()
        assert any(r.startswith("fib\t") for r in rows), rows
        page.locator(".fprofile-static").first.scroll_into_view_if_needed()
        page.screenshot(path=os.path.join(artifacts_dir, "reopen-nbconvert.png"))
    finally:
        context.close()


def test_executed_notebook_holds_each_trace_once(tmp_path):
    """nbclient (papermill, CI, jupyter-book) saves widget state by default: a displayed trace
    makes no widget, so the one copy of each trace is its output's."""
    path = executed_notebook(tmp_path)
    traces = saved_traces(path)
    assert len(traces) == TIMELINES
    assert "widgets" not in json.loads(path.read_text(encoding="utf-8"))["metadata"]
    check_size(path, traces)


def test_the_installed_extension_is_the_one_the_package_builds():
    """The package build writes the extension from the js/ it embeds (rust/python/build.rs,
    fprofile::labext) into the wheel's data folder, which git does not track, and pip installed
    exactly those files where JupyterLab and Notebook 7 look (no older bundle left next to them)."""
    want = _labextension.files()
    installed = Path(sys.prefix) / _labextension.INSTALL_PATH
    have = {p.relative_to(installed).as_posix(): p.read_bytes() for p in installed.rglob("*") if p.is_file()}
    stale = sorted(set(want) ^ set(have)) + sorted(k for k in want if k in have and want[k] != have[k])
    assert not stale, f"the installed JupyterLab extension is not the one this package makes: {stale}"
    bundle = next(k for k in want if k.startswith("static/timeline.") and k.endswith(".js"))
    assert want[bundle].decode() == _core.asset_bundle("widget")
    package = json.loads(want["package.json"])
    assert package["version"] == _core.__version__
    assert package["jupyterlab"]["_build"]["mimeExtension"] == "./mimeExtension"
    assert (installed / package["jupyterlab"]["_build"]["load"]).is_file()
    if (ROOT / ".git").exists() and shutil.which("git"):
        tracked = subprocess.run(["git", "ls-files", str(DATA_FOLDER.relative_to(ROOT))], cwd=ROOT,
                                 capture_output=True, text=True, check=True).stdout.split()
        assert tracked == [], f"generated by the build, not to be committed: {tracked}"


@pytest.mark.parametrize("payload, message", [
    ({"fpt": "bm90IGEgdHJhY2U="}, "not a valid fprofile trace"),
    ({"fpt": "!!"}, "damaged"),
    ({}, "holds no trace"),
    ({"error": "This trace is too big to show in the notebook: 9 calls"}, "too big"),
])
def test_lab_renderer_says_what_is_wrong_with_an_output(browser, payload, message):
    """The extension's renderer, loaded as JupyterLab loads it (the container, a share scope with
    a Widget class), given a bad output: one message, as text, no exception."""
    files = _labextension.files()
    entry = next(k for k in files if k.startswith("static/remoteEntry."))
    served = {f"/ext/{k}": v for k, v in files.items()}
    context = browser.new_context(viewport={"width": 1200, "height": 800})
    page = context.new_page()
    page.set_default_timeout(30_000)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    def serve(route):
        path = route.request.url.split("http://fprofile.test", 1)[1]
        if path == "/":
            route.fulfill(body="<!doctype html><html><head></head><body><div id=host></div></body></html>",
                          content_type="text/html")
        elif path in served:
            kind = "text/css" if path.endswith(".css") else "text/javascript"
            route.fulfill(body=served[path], content_type=kind)
        else:
            route.fulfill(status=404)

    page.route("http://fprofile.test/**", serve)
    try:
        page.goto("http://fprofile.test/")
        page.add_script_tag(url=f"/ext/{entry}")
        page.evaluate("""async ([mime, payload]) => {
          // a stand-in for @lumino/widgets' Widget: what the renderer uses of it
          class Widget { constructor() { this.node = document.createElement('div'); this.isDisposed = false; }
                         addClass(c) { this.node.classList.add(c); } dispose() { this.isDisposed = true; } }
          const c = window._JUPYTERLAB['fprofile-jupyter'];
          c.init({ '@lumino/widgets': { '2.0.0': { get: () => Promise.resolve(() => ({ Widget })) } } });
          const ext = (await c.get('./mimeExtension'))().default[0];
          const r = ext.rendererFactory.createRenderer({ mimeType: mime });
          document.getElementById('host').appendChild(r.node);
          await r.renderModel({ data: { [mime]: payload } });
        }""", [_display.TRACE_MIME, payload])
        page.wait_for_function("() => document.querySelector('.fprofile-error')?.textContent.length > 0")
        assert message in page.inner_text(".fprofile-error")
        assert not errors, errors
    finally:
        context.close()
