"""The self-contained HTML export: one file, opened from file:// with the network cut, draws the calls."""
from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys

import pytest

from fprofile_jupyter import _core
from viewer_support import EVIL, coloured_pixels, make_trace, offline_page, wait_drawn


@pytest.fixture(scope="module")
def traces():
    return {"plain": make_trace(), "evil": make_trace(evil=True)}


def test_export_file_content(traces, tmp_path):
    t = traces["plain"]
    out = tmp_path / "run.html"
    t.save(str(out))
    html = out.read_text(encoding="utf-8")
    # Trace.save(".html") is the export, titled with the file's stem unless given a title
    assert html == _core.export_html(t, "run")
    t.save(str(tmp_path / "titled.html"), title="A title")
    assert (tmp_path / "titled.html").read_text(encoding="utf-8") == _core.export_html(t, "A title")
    assert "<title>" in html and "http://" not in html and "https://" not in html
    data = re.search(r'<script type="application/octet-stream" id="fprofile-data">([^<]*)</script>', html).group(1)
    assert base64.b64decode(data) == t.to_bytes()
    summary = re.search(r'<script type="application/json" id="fprofile-summary">([^<]*)</script>', html).group(1)
    # the overall rows only: the page computes the per-process and per-thread ones from the trace
    assert json.loads(summary) == {"overall": json.loads(t.summary_json())["overall"]}
    # the title is escaped
    page = _core.export_html(t, "a <b>bold</b> & \"quoted\" title")
    assert "<title>a &lt;b&gt;bold&lt;/b&gt; &amp; &quot;quoted&quot; title</title>" in page
    assert "<b>" not in page


def test_export_opens_offline_from_file_url_and_draws(browser, traces, tmp_path, artifacts_dir):
    out = tmp_path / "offline.html"
    out.write_text(_core.export_html(traces["plain"], "Offline trace"), encoding="utf-8")
    context, page, blocked, errors = offline_page(browser)
    try:
        page.goto(out.as_uri())
        boxes = wait_drawn(page)
        assert boxes > 10
        assert coloured_pixels(page, "canvas.fprofile-zoom") > 2000
        assert coloured_pixels(page, "canvas.fprofile-overview") > 500
        assert page.get_attribute(".fprofile-root", "data-calls") == str(len(traces["plain"]))
        assert page.locator("table.fprofile-summary tbody tr").count() == 9
        assert page.text_content("h1") == "Offline trace"
        assert "calls" in page.text_content(".fprofile-page-status")
        # the timeline works here too: a brush in the overview moves the window
        start = page.get_attribute(".fprofile-root", "data-window-start-ns")
        ov = page.locator("canvas.fprofile-overview").bounding_box()
        page.mouse.move(ov["x"] + ov["width"] * 0.5, ov["y"] + ov["height"] * 0.6)
        page.mouse.down()
        page.mouse.move(ov["x"] + ov["width"] * 0.7, ov["y"] + ov["height"] * 0.6, steps=5)
        page.mouse.up()
        assert page.get_attribute(".fprofile-root", "data-window-start-ns") != start
        page.screenshot(path=os.path.join(artifacts_dir, "export_offline.png"), full_page=True)
        assert blocked == []
        assert errors == []
    finally:
        context.close()


def test_export_names_with_markup_are_text(browser, traces, tmp_path, artifacts_dir):
    out = tmp_path / "evil.html"
    out.write_text(_core.export_html(traces["evil"], EVIL), encoding="utf-8")
    context, page, blocked, errors = offline_page(browser)
    try:
        page.goto(out.as_uri())
        wait_drawn(page)
        assert page.locator("img").count() == 0
        assert page.evaluate("() => window.__fprofile_pwned") is None
        assert page.title() == EVIL
        assert page.text_content("h1") == EVIL
        assert EVIL in page.text_content("table.fprofile-summary")
        assert EVIL in page.text_content(".fprofile-threads")
        # hover every row of the worker lane until the markup-named call shows in the tooltip
        zb = page.locator("canvas.fprofile-zoom").bounding_box()
        seen = False
        for y in range(45, int(zb["height"]) - 5, 9):
            for x in range(10, int(zb["width"]) - 10, 12):
                page.mouse.move(zb["x"] + x, zb["y"] + y)
                if page.is_visible(".fprofile-tooltip") and EVIL in page.text_content(".fprofile-tooltip"):
                    seen = True
                    break
            if seen:
                break
        assert seen
        page.mouse.click(zb["x"] + x, zb["y"] + y)
        assert EVIL in page.text_content(".fprofile-details")
        assert page.locator("img").count() == 0
        assert page.evaluate("() => window.__fprofile_pwned") is None
        page.screenshot(path=os.path.join(artifacts_dir, "export_markup_names.png"), full_page=True)
        assert blocked == [] and errors == []
    finally:
        context.close()


# The background of a canvas: its pixel near the bottom-left corner, where nothing is drawn.
CANVAS_BG_JS = """(sel) => {
  const c = document.querySelector(sel);
  const d = c.getContext('2d').getImageData(2, c.height - 3, 1, 1).data;
  return [d[0], d[1], d[2]];
}"""
ZOOM = "canvas.fprofile-zoom"


def test_export_follows_jupyterlab_theme_attribute(browser, traces, tmp_path):
    out = tmp_path / "theme.html"
    out.write_text(_core.export_html(traces["plain"], "theme"), encoding="utf-8")
    context, page, blocked, errors = offline_page(browser)
    try:
        page.goto(out.as_uri())
        wait_drawn(page)
        assert "fprofile-light" in page.get_attribute(".fprofile-root", "class")
        assert sum(page.evaluate(CANVAS_BG_JS, ZOOM)) > 600  # a light background
        light_overview = sum(page.evaluate(CANVAS_BG_JS, "canvas.fprofile-overview"))  # under the brush's tint
        # dark: the class, and the canvases repainted dark (as test_viewer checks the viewer's)
        page.evaluate("() => document.body.setAttribute('data-jp-theme-light', 'false')")
        page.wait_for_selector(".fprofile-root.fprofile-dark")
        page.wait_for_function(f"() => ({CANVAS_BG_JS})('{ZOOM}').reduce((a, b) => a + b) < 150")
        assert sum(page.evaluate(CANVAS_BG_JS, "canvas.fprofile-overview")) < light_overview / 2
        assert coloured_pixels(page, "canvas.fprofile-zoom") > 1000  # the calls are drawn again, over the dark
        page.evaluate("() => document.body.setAttribute('data-jp-theme-light', 'true')")
        page.wait_for_selector(".fprofile-root.fprofile-light")
        page.wait_for_function(f"() => ({CANVAS_BG_JS})('{ZOOM}').reduce((a, b) => a + b) > 600")
    finally:
        context.close()


def test_damaged_export_shows_a_message(browser, traces, tmp_path):
    html = _core.export_html(traces["plain"], "damaged")
    html = re.sub(r'(id="fprofile-data">)[^<]{40}', r"\1" + "QUJD" * 10, html)  # corrupt the data
    out = tmp_path / "damaged.html"
    out.write_text(html, encoding="utf-8")
    context, page, blocked, errors = offline_page(browser)
    try:
        page.goto(out.as_uri())
        page.wait_for_selector(".fprofile-error:not([hidden])")
        assert "not a valid fprofile trace" in page.text_content(".fprofile-error")
    finally:
        context.close()


def test_cli_export(traces, tmp_path):
    src = tmp_path / "t.fpt"
    traces["plain"].save(str(src))
    out = tmp_path / "t.html"
    r = subprocess.run([sys.executable, "-m", "fprofile_jupyter", "export", str(src), "-o", str(out)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    html = out.read_text(encoding="utf-8")
    assert 'id="fprofile-data"' in html and "function createTimeline(" in html


def test_large_export_draws_only_what_is_visible(browser, tmp_path, artifacts_dir):
    """300,000 calls: the first drawing merges sub-pixel calls (far fewer boxes than calls), and
    zooming in draws the individual calls of the window."""
    from viewer_support import make_big_trace

    t = make_big_trace(300_000)
    n = len(t)
    out = tmp_path / "big.html"
    t.save(str(out))
    context, page, blocked, errors = offline_page(browser)
    try:
        page.goto(out.as_uri())
        page.wait_for_selector("canvas.fprofile-zoom[data-drawn]:not([data-drawn='0'])", timeout=60_000)
        assert page.get_attribute(".fprofile-root", "data-calls") == str(n)
        first = int(page.get_attribute("canvas.fprofile-zoom", "data-drawn"))
        assert 0 < first < n / 10, (first, n)
        full = page.get_attribute(".fprofile-root", "data-window-end-ns")
        zb = page.locator("canvas.fprofile-zoom").bounding_box()
        page.mouse.move(zb["x"] + zb["width"] * 0.4, zb["y"] + 60)
        for _ in range(12):
            page.mouse.wheel(0, -600)
        page.wait_for_function(
            "(f) => document.querySelector('.fprofile-root').dataset.windowEndNs !== f", arg=full)
        page.screenshot(path=os.path.join(artifacts_dir, "export_large_zoomed.png"))
        assert coloured_pixels(page, "canvas.fprofile-zoom") > 2000
        # the tooltip follows the zoom under the still mouse: it shows a call of the new window
        assert page.is_visible(".fprofile-tooltip")
        facts = _facts(page, ".fprofile-tooltip")
        start, duration = _ns(facts["Start"]), _ns(facts["Duration"])
        ws = int(page.get_attribute(".fprofile-root", "data-window-start-ns"))
        we = int(page.get_attribute(".fprofile-root", "data-window-end-ns"))
        assert start <= we + 1 and start + duration >= ws - 1, (facts, ws, we)
        assert errors == [] and blocked == []
    finally:
        context.close()


def _leb(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def too_many_calls_fpt(calls: int) -> bytes:
    """A valid .fpt of `calls` zero-length calls in one thread: tiny compressed, huge decoded."""
    import struct
    import zlib

    head = (_leb(0) + _leb(2) + _leb(1) + b"f" + _leb(1) + b"n"      # origin, strings "f", "n"
            + _leb(1) + _leb(0) + _leb(1) + _leb(1)                 # one code: file 0, name 1, line 1
            + _leb(1) + _leb(0) + _leb(0) + _leb(0) + _leb(0)       # one thread: os_id, lane, first_ns, span
            + _leb(1) + _leb(0) + _leb(1)                           # one name
            + _leb(calls))
    columns = bytes(calls) + b"\x02" + bytes(calls - 1) + bytes(calls) + bytes(calls)  # code, depth, start, dur
    body = head + columns + _leb(0) + _leb(0)                       # no flagged calls, no metadata
    return b"FPRF" + struct.pack("<HHQ", 1, 1, len(body)) + zlib.compress(body, 9)


def test_trace_too_big_for_the_browser_says_so_with_numbers(browser, traces, tmp_path, artifacts_dir):
    html = _core.export_html(traces["plain"], "too big")
    data = base64.b64encode(too_many_calls_fpt(20_000_001)).decode()
    html = re.sub(r'(id="fprofile-data">)[^<]*', lambda m: m.group(1) + data, html)
    out = tmp_path / "too_big.html"
    out.write_text(html, encoding="utf-8")
    context, page, blocked, errors = offline_page(browser)
    try:
        page.goto(out.as_uri())
        page.wait_for_selector(".fprofile-error:not([hidden])", timeout=60_000)
        msg = page.text_content(".fprofile-error")
        assert msg.startswith("This trace is too large for the browser: more than 20,000,000 calls "
                              "(20,000,001 in its first 1 of 1 threads)"), msg
        assert page.get_attribute("canvas.fprofile-zoom", "data-drawn") == "0"
        # the summary that came with the page is still shown
        assert page.locator("table.fprofile-summary tbody tr").count() == 9
        # the page is still responsive
        assert page.evaluate("() => 1 + 1") == 2
        page.screenshot(path=os.path.join(artifacts_dir, "export_too_big.png"))
    finally:
        context.close()


def test_canvas_follows_device_pixel_ratio(browser, traces, tmp_path):
    out = tmp_path / "hidpi.html"
    out.write_text(_core.export_html(traces["plain"], "hidpi"), encoding="utf-8")
    context = browser.new_context(viewport={"width": 1000, "height": 800}, device_scale_factor=2)
    context.set_offline(True)
    try:
        page = context.new_page()
        page.goto(out.as_uri())
        wait_drawn(page)
        sizes_js = """() => [...document.querySelectorAll('canvas:not([hidden])')].map((c) =>
            [c.width, c.height, c.getBoundingClientRect().width, c.getBoundingClientRect().height])"""
        sizes = page.evaluate(sizes_js)
        assert len(sizes) == 2
        # the flame graph in the zoomed view's place too
        page.click("button.fprofile-flame-toggle")
        page.wait_for_selector("canvas.fprofile-flame[data-drawn]:not([data-drawn='0'])")
        flame = page.evaluate(sizes_js)
        assert len(flame) == 2
        for w, h, cw, ch in sizes + flame:
            assert (w, h) == (round(2 * cw), round(2 * ch)), sizes + flame
    finally:
        context.close()


def _ns(text: str) -> float:
    """A time as the timeline writes it ("7.80921 ms") in ns."""
    value, unit = text.split()
    return float(value) * {"ns": 1, "µs": 1e3, "ms": 1e6, "s": 1e9}[unit]


def _facts(page, selector: str) -> dict:
    """The dt/dd pairs of a tooltip or details panel."""
    return page.evaluate("""(sel) => {
        const out = {};
        for (const dt of document.querySelectorAll(sel + ' dl.fprofile-facts dt')) out[dt.textContent] = dt.nextElementSibling.textContent;
        return out;
    }""", selector)


def _hover_call(page, name: str) -> None:
    """Move the mouse over the zoomed view until the tooltip names `name`."""
    zb = page.locator("canvas.fprofile-zoom").bounding_box()
    for y in range(22 + 20 + 9, int(zb["height"]) - 5, 9):  # below the axis and the first lane header
        for x in range(int(zb["width"]) - 20, 0, -10):
            page.mouse.move(zb["x"] + x, zb["y"] + y)
            if page.is_visible(".fprofile-tooltip") and page.text_content(".fprofile-tooltip-title") == name:
                return
    raise AssertionError(f"no call {name!r} under the mouse")


def test_times_read_from_one_origin(browser, tmp_path):
    """Tooltip, details panel and window label count from the trace origin, as the axes do (a run
    whose first call is 32 ms after the recording started reads 32 ms everywhere, not 0); a trace
    with an event before its origin never shows a negative time."""
    S = 5_000_000_000
    codes = [("/app/a.py", "run", 1), ("/app/a.py", "step", 5), ("/app/a.py", "early", 9)]
    late = _core._build_trace(codes, [(1, "MainThread", [
        (S + 32_000_000, 0, False), (S + 33_000_000, 1, False), (S + 34_000_000, 1, True), (S + 40_000_000, 0, True),
    ])], start_ns=S)
    assert late.calls()[0].start_ns == 32_000_000
    before = _core._build_trace(codes, [
        (1, "MainThread", [(S, 0, False), (S + 81_830, 0, True)]),
        (2, "Early", [(S - 810, 2, False), (S + 1_000, 2, True)]),
    ], start_ns=S)
    assert min(c.start_ns for c in before.calls()) == -810
    for name, trace, window, run_start in [
        ("late", late, "32 ms – 40 ms  (8 ms)", "32 ms"),
        ("before", before, "0 ns – 82.64 µs  (82.64 µs)", "810 ns"),
    ]:
        out = tmp_path / f"{name}.html"
        out.write_text(_core.export_html(trace, name), encoding="utf-8")
        context, page, blocked, errors = offline_page(browser)
        try:
            page.goto(out.as_uri())
            wait_drawn(page)
            assert page.text_content(".fprofile-window-label") == window
            _hover_call(page, "run")
            tip = _facts(page, ".fprofile-tooltip")
            assert tip["Start"] == run_start, tip
            page.mouse.down()
            page.mouse.up()
            assert _facts(page, ".fprofile-details")["Start"] == run_start
            assert errors == []
        finally:
            context.close()


def test_thread_names_are_not_cut_in_the_thread_list(browser, tmp_path):
    """Names as the standard library makes them ("ThreadPoolExecutor-0_0") show in full beside
    their figures; the figures give way first."""
    S = 1_000_000_000
    codes = [("/app/a.py", "task", 1)]

    def events(offset):
        ev = []
        for i in range(1500):
            t = S + offset + i * 8_000
            ev += [(t, 0, False), (t + 5_000, 0, True)]
        return ev

    names = ["MainThread", "ThreadPoolExecutor-0_0", "ThreadPoolExecutor-0_1"]
    trace = _core._build_trace(codes, [(1000 + i, n, events(i * 1_000)) for i, n in enumerate(names)], start_ns=S)
    out = tmp_path / "names.html"
    out.write_text(_core.export_html(trace, "names"), encoding="utf-8")
    context, page, blocked, errors = offline_page(browser)
    try:
        page.goto(out.as_uri())
        wait_drawn(page)
        shown = page.evaluate("""() => [...document.querySelectorAll('.fprofile-thread-name')]
            .map((e) => [e.textContent, e.scrollWidth <= e.clientWidth + 1])""")
        assert shown == [[n, True] for n in names], shown
        assert "1,500 calls" in page.text_content(".fprofile-threads")
        assert errors == []
    finally:
        context.close()


def test_the_summary_shows_file_names_as_users_know_them(browser, tmp_path):
    """Issue 11 item 3: files under the run's roots are shown relative to them (the full name in
    the cell's tooltip); Total and Self say what they mean."""
    import fprofile_jupyter

    (tmp_path / "fprofile_roots_mod.py").write_text("def work(n):\n    return sum(range(n))\n")
    sys.path.insert(0, str(tmp_path))
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        import fprofile_roots_mod

        with fprofile_jupyter.profile(subs=["fprofile_roots_mod", "+json"]) as prof:
            fprofile_roots_mod.work(10)
            json.dumps({"a": 1})
    finally:
        os.chdir(cwd)
        sys.path.remove(str(tmp_path))
    out = tmp_path / "roots.html"
    prof.trace.save(out)
    context, page, blocked, errors = offline_page(browser)
    try:
        page.goto(out.as_uri())
        wait_drawn(page)
        cells = page.locator("table.fprofile-summary td.fprofile-file")
        texts = [cells.nth(i).text_content() for i in range(cells.count())]
        titles = [cells.nth(i).get_attribute("title") for i in range(cells.count())]
        assert "fprofile_roots_mod.py:1" in texts, texts
        assert any(t.startswith("stdlib/json/") for t in texts), texts
        assert f"{tmp_path / 'fprofile_roots_mod.py'}:1" in titles
        total = page.locator("table.fprofile-summary th[data-key=total_ns]").get_attribute("title")
        assert "summed over threads" in total
        assert "not recorded" in page.locator("table.fprofile-summary th[data-key=self_ns]").get_attribute("title")
        assert errors == []
    finally:
        context.close()


def test_notebook_cells_show_as_their_label_in_the_page(browser, tmp_path):
    """Issue 14 item 5: code from a notebook cell shows as In [N] in the timeline's table and
    details, not as the file the kernel compiled the cell to."""
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    from fprofile_jupyter import _magic

    sh = InteractiveShell.instance()
    sh.run_line_magic("load_ext", "fprofile_jupyter")
    with capture_output():
        sh.run_cell("def cell_fn(n):\n    return [i * i for i in range(n)]\n", store_history=True)
        n = sh.execution_count - 1
        sh.run_cell("%%fprofile --no-display\ncell_fn(50)\n", store_history=True)
    trace = sh.user_ns[_magic.TRACE_VARIABLE]
    out = tmp_path / "cells.html"
    trace.save(out)
    context, page, blocked, errors = offline_page(browser)
    try:
        page.goto(out.as_uri())
        wait_drawn(page)
        cells = page.locator("table.fprofile-summary td.fprofile-file")
        texts = [cells.nth(i).text_content() for i in range(cells.count())]
        assert f"In [{n}]:1" in texts, texts
        assert not any("ipython-input" in t or "ipykernel" in t for t in texts), texts
        assert errors == []
    finally:
        context.close()
