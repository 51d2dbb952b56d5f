"""The ``text/html`` of a displayed trace and comparison (the self-contained fragment:
python/fprofile_jupyter/_display.py ``fragment_html``, js/hosts/fragment.js) in the hosts that run an
output's scripts without the package's extension, driven through Debian's Chromium.

- the fragment of a real ``%%fprofile`` output alone in ``<iframe sandbox="allow-scripts" srcdoc>``
  from file:// with the network cut (what VS Code's webview and Colab's per-output frames do): the
  timeline draws, zooms, shows its flame graph, and no request leaves the page;
- the same with scripts off (GitHub, nbviewer): the caption and the table;
- ``jupyter nbconvert --to html`` of the executed notebook, from file://: every output draws, each
  on its own (zooming one leaves the other), the comparison's flame graph too;
- JupyterLab from a virtual environment without the package (``pip install jupyterlab`` only; the
  kernel is the package's venv): the cell's output draws; after save, kernel restart and reload it
  draws again (trusted: the server signed it); a notebook executed elsewhere opens untrusted with
  its static part, and draws once ``jupyter trust`` is run;
- classic Notebook (nbclassic): draws.

JupyterLab with the extension (one timeline per output, not two): tests/test_browser_lab.py.
One notebook is executed once (nbclient) for the module; each server is started once.
"""
from __future__ import annotations

import base64
import html
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from test_browser_lab import KERNEL_IDLE, RUN_ALL, jupyter_server, server_env
from viewer_support import PIXELS_JS, coloured_pixels, offline_page

WAIT_MS = 90_000
DRAWN = "canvas.fprofile-zoom[data-drawn]:not([data-drawn='0'])"
KERNEL = "fprofile-venv"

CELLS = [
    "%load_ext fprofile_jupyter",
    "import threading\nimport fprofile_jupyter as fprofile\n\n\ndef step(i):\n    return i * i\n\n\n"
    "def work(n):\n    return sum(step(i) for i in range(n))",
    "%%fprofile\nt = threading.Thread(target=work, args=(400,), name='helper')\nt.start()\nwork(1500)\nt.join()",
    "with fprofile.profile(subs=['ipykernel_']) as p1:\n    work(300)\n"
    "with fprofile.profile(subs=['ipykernel_']) as p2:\n    work(900)\np1.trace",
    "fprofile.compare(p1.trace, p2.trace)",
]


def notebook(kernel: str = "python3") -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in CELLS]
    nb.metadata["kernelspec"] = {"name": kernel, "display_name": kernel, "language": "python"}
    return nb


@pytest.fixture(scope="module")
def executed(tmp_path_factory) -> Path:
    """The notebook executed by nbclient in a real kernel, saved unsigned (untrusted anywhere)."""
    work = tmp_path_factory.mktemp("html-hosts-nb")
    nb = notebook()
    NotebookClient(nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(work)}}).execute()
    path = work / "executed.ipynb"
    nbformat.write(nb, path)
    return path


def fragments(path: Path) -> list[tuple[str, dict]]:
    """(kind, data) of every output of ``path`` whose text/html is a fragment."""
    nb = nbformat.read(path, as_version=4)
    out = []
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            h = o.get("data", {}).get("text/html", "")
            if "data-fprofile-fragment=" in h:
                out.append(("compare" if 'data-fprofile-fragment="compare"' in h else "trace", o["data"]))
    return out


def test_the_notebook_has_two_trace_fragments_and_a_comparison(executed):
    kinds = [k for k, _ in fragments(executed)]
    assert kinds == ["trace", "trace", "compare"], kinds
    for _, data in fragments(executed):
        h = data["text/html"]
        assert h.count("<script>") == 1 and "fprofile-static-part" in h
        assert "drawn by fprofile-jupyter in JupyterLab and Notebook 7" not in h
    for kind, data in fragments(executed):
        if kind != "trace":
            continue
        # the picture: its own image/png entry (nbconvert's PDF, GitHub) and the <img> of the
        # static part, the same PNG
        png = base64.b64decode(data["image/png"])
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR"
        assert int.from_bytes(png[16:20], "big") == 960
        assert f'src="data:image/png;base64,{data["image/png"]}"' in data["text/html"]


def frame_page(fragment_html: str, body: str = "") -> str:
    """A page holding the fragment alone in a sandboxed frame (opaque origin, scripts allowed).
    ``body``: attributes of the frame's body (a host's theme)."""
    doc = f'<!DOCTYPE html><html><head><meta charset="utf-8"></head><body {body}>{fragment_html}</body></html>'
    return ('<!DOCTYPE html><html><head><meta charset="utf-8"></head><body style="margin:0">'
            '<iframe id="output" sandbox="allow-scripts" style="width:1100px;height:820px;border:0" '
            f'srcdoc="{html.escape(doc, quote=True)}"></iframe></body></html>')


def test_fragment_alone_in_a_sandboxed_frame_draws_zooms_and_fetches_nothing(browser, executed, tmp_path, artifacts_dir):
    (_, data), *_ = fragments(executed)
    host = tmp_path / "vscode-like.html"
    host.write_text(frame_page(data["text/html"]), encoding="utf-8")
    context, page, blocked, errors = offline_page(browser, viewport=(1200, 900))
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    try:
        page.goto(host.as_uri())
        frame = page.frame_locator("#output")
        frame.locator(DRAWN).wait_for(timeout=WAIT_MS)
        f = next(fr for fr in page.frames if fr != page.main_frame)
        # an opaque origin: storage throws there, and the timeline did not need it
        assert f.evaluate("() => { try { localStorage.length; return 'ok'; } catch (e) { return e.name; } }") == "SecurityError"
        assert f.evaluate(PIXELS_JS, "canvas.fprofile-zoom") > 2000
        assert f.evaluate(PIXELS_JS, "canvas.fprofile-overview") > 300
        assert f.evaluate("() => document.querySelector('.fprofile-static-part').hidden") is True
        assert int(f.get_attribute(".fprofile-root", "data-threads")) == 2
        page.screenshot(path=os.path.join(artifacts_dir, "fragment-sandboxed.png"))
        # zoom with the wheel over the zoomed view
        end = f.get_attribute(".fprofile-root", "data-window-end-ns")
        start = f.get_attribute(".fprofile-root", "data-window-start-ns")
        box = f.locator("canvas.fprofile-zoom").bounding_box()
        page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + 40)
        for _ in range(6):
            page.mouse.wheel(0, -400)
        f.wait_for_function("([s, e]) => { const r = document.querySelector('.fprofile-root'); "
                            "return r.dataset.windowEndNs !== e || r.dataset.windowStartNs !== s; }", arg=[start, end])
        ws = int(f.get_attribute(".fprofile-root", "data-window-start-ns"))
        we = int(f.get_attribute(".fprofile-root", "data-window-end-ns"))
        assert we - ws < int(end) - int(start)
        # the flame graph
        f.click("button.fprofile-flame-toggle")
        f.wait_for_selector("canvas.fprofile-flame[data-drawn]:not([data-drawn='0'])")
        assert f.evaluate(PIXELS_JS, "canvas.fprofile-flame") > 500
        assert "work" in f.inner_text(".fprofile-root") or int(f.get_attribute("canvas.fprofile-flame", "data-nodes")) >= 2
        page.screenshot(path=os.path.join(artifacts_dir, "fragment-sandboxed-flame.png"))
        # no request left the page. Playwright's route and request events miss the requests of a
        # sandboxed frame (Chromium puts it in its own process): the frame's own resource timing
        # lists every fetch it made (an image, a fetch(), a script), failed ones too
        assert f.evaluate("() => performance.getEntriesByType('resource').map((e) => e.name)") == []
        assert blocked == [], blocked
        assert [u for u in requests if not u.startswith(("file:", "about:", "data:"))] == []
        assert errors == [], errors
    finally:
        context.close()


def test_a_trace_too_big_to_embed_says_so_where_scripts_run_and_where_they_do_not(browser, tmp_path, monkeypatch):
    from fprofile_jupyter import _display
    from viewer_support import make_trace

    monkeypatch.setattr(_display, "in_kernel", lambda: True)
    monkeypatch.setattr(_display, "MAX_DISPLAY_CALLS", 10)
    fragment = _display.mimebundle(make_trace())["text/html"]
    page_file = tmp_path / "too-big.html"
    page_file.write_text(frame_page(fragment), encoding="utf-8")
    for scripts in (True, False):
        context = browser.new_context(java_script_enabled=scripts, viewport={"width": 1100, "height": 800})
        try:
            page = context.new_page()
            page.goto(page_file.as_uri())
            f = page.frame_locator("#output")
            if scripts:  # the timeline's place says why, with the command; the table stays
                f.locator(".fprofile-error").wait_for(timeout=WAIT_MS)
                assert "fprofile view run.fpt" in f.locator(".fprofile-error").inner_text()
            assert "fprofile view run.fpt" in f.locator(".fprofile-static-part").inner_text()
            assert f.locator("table.fprofile-summary-static").is_visible()
        finally:
            context.close()


THEME = """() => { const r = document.querySelector('.fprofile-root');
  return [r.classList.contains('fprofile-dark'), getComputedStyle(r).backgroundColor, r.getBoundingClientRect().width]; }"""


@pytest.mark.parametrize("host", ["vscode-dark", "vscode-light", "system-dark"])
def test_fragment_follows_the_host_theme_and_width(browser, executed, tmp_path, host):
    """VS Code's body class and --vscode-* variables, else prefers-color-scheme; the output's width."""
    (_, data), *_ = fragments(executed)
    body = {"vscode-dark": 'class="vscode-dark" style="--vscode-editor-background:#1e1e1e"',
            "vscode-light": 'class="vscode-light" style="--vscode-editor-background:#fffffe"',
            "system-dark": ""}[host]
    page_file = tmp_path / "theme.html"
    page_file.write_text(frame_page(data["text/html"], body), encoding="utf-8")
    context = browser.new_context(viewport={"width": 1200, "height": 900},
                                  color_scheme="dark" if host == "system-dark" else "light")
    try:
        page = context.new_page()
        page.goto(page_file.as_uri())
        page.frame_locator("#output").locator(DRAWN).wait_for(timeout=WAIT_MS)
        f = next(fr for fr in page.frames if fr != page.main_frame)
        dark, bg, width = f.evaluate(THEME)
        expected = {"vscode-dark": (True, "rgb(30, 30, 30)"), "vscode-light": (False, "rgb(255, 255, 254)"),
                    "system-dark": (True, "rgb(22, 24, 27)")}[host]
        assert (dark, bg) == expected, (host, dark, bg)
        frame_width = f.evaluate("() => document.documentElement.clientWidth")
        assert frame_width - 40 < width <= frame_width, (width, frame_width)
    finally:
        context.close()


def test_fragment_without_scripts_shows_caption_and_table(browser, executed, tmp_path, artifacts_dir):
    """GitHub and nbviewer run no scripts: the same output shows its static part."""
    (_, data), *_ = fragments(executed)
    page_file = tmp_path / "noscript.html"
    page_file.write_text(f'<!DOCTYPE html><meta charset="utf-8"><body>{data["text/html"]}</body>', encoding="utf-8")
    context = browser.new_context(java_script_enabled=False, viewport={"width": 1100, "height": 800})
    try:
        page = context.new_page()
        page.goto(page_file.as_uri())
        assert page.is_visible(".fprofile-static-caption")
        assert page.is_visible("table.fprofile-summary-static")
        assert "work" in page.inner_text("table.fprofile-summary-static")
        assert "untrusted" in page.inner_text(".fprofile-static-part")
        # the overview picture, rendered by the core, inside the fragment's static part
        assert page.evaluate("() => document.querySelector('img.fprofile-picture').naturalWidth") == 960
        assert page.locator("canvas").count() == 0
        page.screenshot(path=os.path.join(artifacts_dir, "fragment-noscript.png"))
    finally:
        context.close()


def test_nbconvert_html_draws_every_output_on_its_own(browser, executed, tmp_path, artifacts_dir):
    out = tmp_path / "html"
    subprocess.run([sys.executable, "-m", "nbconvert", "--to", "html", str(executed), "--output-dir", str(out)],
                   check=True, capture_output=True, timeout=180)
    page_file = out / "executed.html"
    context, page, _blocked, errors = offline_page(browser, viewport=(1200, 900))
    try:
        page.goto(page_file.as_uri())
        page.wait_for_function(f"() => document.querySelectorAll(\"{DRAWN}\").length === 2", timeout=WAIT_MS)
        page.wait_for_selector("canvas.fprofile-diff-flame[data-drawn]:not([data-drawn='0'])")
        assert coloured_pixels(page, "canvas.fprofile-zoom") > 2000
        assert page.locator(".fprofile-fragment .fprofile-static-part[hidden]").count() == 2
        # the comparison keeps its table under the flame graph
        assert page.locator(".fprofile-fragment[data-fprofile-fragment=compare] table").count() >= 1
        # each output is on its own: zooming the first leaves the second's window as it was
        windows = "() => [...document.querySelectorAll('.fprofile-root[data-window-end-ns]')].map((r) => r.dataset.windowStartNs + ',' + r.dataset.windowEndNs)"
        before = page.evaluate(windows)
        box = page.locator("canvas.fprofile-zoom").first.bounding_box()
        page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + 40)
        for _ in range(6):
            page.mouse.wheel(0, -400)
        page.wait_for_function(f"(b) => ({windows})()[0] !== b", arg=before[0])
        after = page.evaluate(windows)
        assert after[1] == before[1] and after[0] != before[0], (before, after)
        page.screenshot(path=os.path.join(artifacts_dir, "fragment-nbconvert.png"), full_page=True)
        assert [e for e in errors if "fprofile" in e] == [], errors
    finally:
        context.close()


# ---- JupyterLab without the package, classic Notebook -------------------------------------------

CLASSIC_IDLE = """() => { const n = window.Jupyter && window.Jupyter.notebook;
  return !!(n && n.kernel && n.kernel.is_connected() && !n.kernel_busy); }"""


def kernelspec(data_dir: Path) -> None:
    """The package's venv as kernel ``KERNEL`` of a server whose own environment lacks the package."""
    spec = data_dir / "kernels" / KERNEL
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "fprofile venv", "language": "python"}))


@pytest.fixture(scope="module")
def bare_lab(tmp_path_factory) -> Path:
    """A virtual environment with ``pip install jupyterlab`` only: its python."""
    venv = tmp_path_factory.mktemp("bare-lab") / "venv"
    base = getattr(sys, "_base_executable", None) or shutil.which("python3")
    subprocess.run([base, "-m", "venv", str(venv)], check=True, timeout=120)
    py = venv / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "-q", "jupyterlab"], check=True, timeout=900)
    probe = subprocess.run([str(py), "-c", "import fprofile_jupyter"], capture_output=True)
    assert probe.returncode != 0, "the bare JupyterLab must not see the package"
    return py


def open_lab(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)) if "fprofile" in f"{e}{getattr(e, 'stack', '')}" else None)
    return context, page, errors


def output_timelines(page) -> list[int]:
    return page.evaluate("""() => [...document.querySelectorAll('.jp-OutputArea-output, .output_area')]
      .map((o) => o.querySelectorAll('.fprofile-root').length).filter((n) => n > 0)""")


def test_jupyterlab_without_the_package_draws_and_reopens(browser, bare_lab, executed, tmp_path, artifacts_dir):
    root = tmp_path / "root"
    root.mkdir()
    nbformat.write(notebook(KERNEL), root / "run.ipynb")
    kernelspec(tmp_path / "data")
    with jupyter_server(tmp_path, "lab", python=str(bare_lab)) as url:
        listed = subprocess.run([str(bare_lab), "-m", "jupyter", "labextension", "list"], capture_output=True,
                                text=True, env=server_env(tmp_path), timeout=120)
        assert "fprofile" not in listed.stdout + listed.stderr
        context, page, errors = open_lab(browser)
        try:
            page.goto(f"{url}/lab/tree/run.ipynb")
            page.wait_for_function(KERNEL_IDLE)
            page.evaluate(RUN_ALL)
            page.wait_for_function(f"() => document.querySelectorAll(\"{DRAWN}\").length === 2")
            page.wait_for_selector("canvas.fprofile-diff-flame[data-drawn]:not([data-drawn='0'])")
            page.wait_for_function(KERNEL_IDLE)
            assert output_timelines(page) == [1, 1, 1], output_timelines(page)  # two traces, the comparison
            assert coloured_pixels(page, "canvas.fprofile-zoom") > 2000
            page.screenshot(path=os.path.join(artifacts_dir, "fragment-bare-lab.png"))
            # save, restart the kernel, reload: the server signed what it saved: trusted, it draws
            page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
            page.wait_for_function("() => !window.jupyterapp.shell.currentWidget.context.model.dirty")
            page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.restart()")
            page.reload()
            page.wait_for_function(f"() => document.querySelectorAll(\"{DRAWN}\").length === 2")
            assert errors == [], errors
        finally:
            context.close()
        # a notebook executed elsewhere is untrusted here: its static part, no script ran
        shutil.copy(executed, root / "untrusted.ipynb")
        context, page, errors = open_lab(browser)
        try:
            page.goto(f"{url}/lab/tree/untrusted.ipynb?reset")  # ?reset: only this notebook open
            page.wait_for_function("""() => { const w = window.jupyterapp?.shell?.currentWidget;
              return !!w && w.node.querySelectorAll('.jp-OutputArea-output table.fprofile-summary-static').length === 2; }""")
            shown = page.evaluate("""() => { const n = window.jupyterapp.shell.currentWidget.node;
              return { roots: n.querySelectorAll('.fprofile-root').length,
                       captions: [...n.querySelectorAll('.fprofile-static-caption')].filter((e) => e.offsetParent).length,
                       tables: [...n.querySelectorAll('table.fprofile-summary-static')].filter((e) => e.offsetParent).length,
                       text: n.innerText }; }""")
            assert shown["roots"] == 0 and shown["captions"] == 2 and shown["tables"] == 2, shown
            assert "untrusted" in shown["text"] and "work" in shown["text"]
            page.screenshot(path=os.path.join(artifacts_dir, "fragment-bare-lab-untrusted.png"))
            subprocess.run([str(bare_lab), "-m", "jupyter", "trust", str(root / "untrusted.ipynb")],
                           check=True, capture_output=True, env=server_env(tmp_path), timeout=120)
            page.reload()
            page.wait_for_function(f"""() => {{ const w = window.jupyterapp?.shell?.currentWidget;
              return !!w && w.node.querySelectorAll("{DRAWN}").length === 2; }}""")
            page.screenshot(path=os.path.join(artifacts_dir, "fragment-bare-lab-trusted.png"))
            assert errors == [], errors
        finally:
            context.close()


def test_classic_notebook_draws(browser, executed, tmp_path, artifacts_dir):
    root = tmp_path / "root"
    root.mkdir()
    nbformat.write(notebook("python3"), root / "run.ipynb")
    with jupyter_server(tmp_path, "nbclassic") as url:
        context, page, errors = open_lab(browser)
        try:
            page.goto(f"{url}/nbclassic/notebooks/run.ipynb")
            page.wait_for_function(CLASSIC_IDLE)
            page.evaluate("() => { window.Jupyter.notebook.execute_all_cells(); }")
            page.wait_for_function(f"() => document.querySelectorAll(\"{DRAWN}\").length === 2")
            page.wait_for_selector("canvas.fprofile-diff-flame[data-drawn]:not([data-drawn='0'])")
            assert output_timelines(page) == [1, 1, 1], output_timelines(page)  # two traces, the comparison
            assert coloured_pixels(page, "canvas.fprofile-zoom") > 2000
            page.screenshot(path=os.path.join(artifacts_dir, "fragment-nbclassic.png"), full_page=True)
            assert errors == [], errors
        finally:
            context.close()
