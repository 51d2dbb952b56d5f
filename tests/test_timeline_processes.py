"""The timeline with processes and task bands (issue 10 item 5), in a real Chromium: process header
rows, collapsing and expanding a process, the thread list grouped by process, the summary of one
process, task bands with their tooltip; in the HTML export (offline, file://), the viewer and the
widget (its bundle under test_browser_lab's stand-in anywidget model). The trace is four processes
merged by _core.merge (tests/viewer_support.py make_process_trace)."""
from __future__ import annotations

import json

import pytest

from conftest import free_port
from test_browser_lab import glue_page, render_widget  # noqa: F401  (glue_page: a fixture)
from test_html_export import offline_page
from viewer_support import Viewer, make_process_trace, make_trace, wait_drawn
from fprofile_jupyter import _core

# The light theme's process header background (js/timeline.css --fp-proc-bg).
PROC_BG = (0xE8, 0xED, 0xF3)

PIXEL_JS = """([sel, x, y]) => {
  const c = document.querySelector(sel);
  const k = c.width / c.getBoundingClientRect().width;
  const d = c.getContext('2d').getImageData(Math.round(x * k), Math.round(y * k), 1, 1).data;
  return [d[0], d[1], d[2]];
}"""

# Pixels of a horizontal strip [y0, y1) of a canvas (CSS px) that differ from the background.
STRIP_JS = """([sel, y0, y1]) => {
  const c = document.querySelector(sel);
  const k = c.width / c.getBoundingClientRect().width;
  const ctx = c.getContext('2d');
  const bg = ctx.getImageData(0, 0, 1, 1).data;
  const d = ctx.getImageData(0, Math.round(y0 * k), c.width, Math.max(1, Math.round((y1 - y0) * k))).data;
  let n = 0;
  for (let i = 0; i < d.length; i += 4) if (Math.abs(d[i] - bg[0]) + Math.abs(d[i + 1] - bg[1]) + Math.abs(d[i + 2] - bg[2]) > 30) n++;
  return n;
}"""


# The colours down one column of a canvas (CSS px x), one per CSS px row.
COLUMN_JS = """([sel, x]) => {
  const c = document.querySelector(sel);
  const k = c.width / c.getBoundingClientRect().width;
  const ctx = c.getContext('2d');
  const out = [];
  for (let y = 0; y < c.getBoundingClientRect().height; y++) {
    const d = ctx.getImageData(Math.round(x * k), Math.floor(y * k), 1, 1).data;
    out.push([d[0], d[1], d[2]]);
  }
  return out;
}"""


def overview_strips(page) -> list:
    """The process header strips of the overview, as (top, height) in CSS px: runs of rows at its
    right end (past any text) painted in the colour of the first strip, which starts right under
    the 16 px time axis."""
    box = page.locator("canvas.fprofile-overview").bounding_box()
    col = page.evaluate(COLUMN_JS, ["canvas.fprofile-overview", box["width"] - 8])
    strip = col[18]
    runs, y = [], 16
    while y < len(col):
        if col[y] == strip:
            y0 = y
            while y < len(col) and col[y] == strip:
                y += 1
            runs.append((y0, y - y0))
        y += 1
    return runs


def assert_overview_strips(page, n):
    """n strips, the first right under the axis (the brush's 1.5 px edge over its top rows), each
    at most the strip's 12 px and at least 8 (less the process's span line and the brush's edge),
    apart from one another: the lanes between them are not that colour."""
    strips = overview_strips(page)
    assert len(strips) == n and strips[0][0] <= 18, strips
    assert all(8 <= h <= 12 for _y, h in strips), strips
    assert all(b[0] - (a[0] + a[1]) >= 8 for a, b in zip(strips, strips[1:])), strips


def band_cover(page, bands) -> float:
    """How much of the area the bands should cover in the zoomed view's one band row (the pale fill,
    the 8 CSS px under the row's top) is painted: painted pixels / the bands' on-screen area.
    `bands`: (label, start, end) in the trace's ns. Labels alone cover a fraction of it."""
    [row] = json.loads(page.get_attribute("canvas.fprofile-zoom", "data-band-rows"))
    ws, we = (float(page.get_attribute(".fprofile-root", f"data-window-{k}-ns")) for k in ("start", "end"))
    width = zoom_box(page)["width"]
    k = page.evaluate("() => { const c = document.querySelector('canvas.fprofile-zoom'); return c.width / c.getBoundingClientRect().width; }")
    area = sum(max(1.0, (min(e, we) - max(s, ws)) * width / (we - ws)) for _l, s, e in bands if e > ws and s < we) * 8 * k * k
    painted = page.evaluate(STRIP_JS, ["canvas.fprofile-zoom", row["y"], row["y"] + 8])
    return painted / area


@pytest.fixture(scope="module")
def traces():
    trace, info = make_process_trace(evil=True)
    return {"procs": trace, "info": info, "plain": make_trace()}


def open_export(browser, trace, tmp_path, name="procs"):
    out = tmp_path / f"{name}.html"
    out.write_text(_core.export_html(trace, name), encoding="utf-8")
    context, page, blocked, errors = offline_page(browser, viewport=(1300, 1100))
    page.emulate_media(color_scheme="light")
    page.goto(out.as_uri())
    wait_drawn(page)
    return context, page, blocked, errors


def headers(page):
    return json.loads(page.get_attribute("canvas.fprofile-zoom", "data-process-headers"))


def zoom_box(page):
    return page.locator("canvas.fprofile-zoom").bounding_box()


def hover(page, x, y):
    box = zoom_box(page)
    page.mouse.move(box["x"] + x, box["y"] + y)


def wait_collapsed(page, collapsed):
    """Wait until the zoomed view has drawn its header rows with these processes collapsed."""
    page.wait_for_function("""(want) => {
      const hs = JSON.parse(document.querySelector('canvas.fprofile-zoom').dataset.processHeaders || '[]');
      return JSON.stringify(hs.filter((h) => h.collapsed).map((h) => h.process)) === JSON.stringify(want);
    }""", arg=collapsed)
    assert page.get_attribute(".fprofile-root", "data-collapsed") == ",".join(map(str, collapsed))


def header_of(page, p):
    return next(h for h in headers(page) if h["process"] == p)


def test_process_header_rows_and_their_tooltip(browser, traces, tmp_path, artifacts_dir):
    context, page, blocked, errors = open_export(browser, traces["procs"], tmp_path)
    try:
        root = page.locator(".fprofile-root")
        assert root.get_attribute("data-processes") == "4"
        hs = headers(page)
        assert [h["process"] for h in hs] == [0, 1, 2, 3] and not any(h["collapsed"] for h in hs)
        assert [h["y"] for h in hs] == sorted(h["y"] for h in hs)
        # each header row is drawn: its background at the right end (no text there)
        width = zoom_box(page)["width"]
        for h in hs:
            assert page.evaluate(PIXEL_JS, ["canvas.fprofile-zoom", width - 12, h["y"] + 4]) == list(PROC_BG)
        # the overview draws a header strip over each process's lanes: four of them, top to bottom
        assert_overview_strips(page, 4)
        page.screenshot(path=f"{artifacts_dir}/processes_export.png", full_page=True)
        page.screenshot(path="/tmp/fprofile_processes_export.png", full_page=True)

        tip = page.locator(".fprofile-tooltip")
        hover(page, 400, header_of(page, 3)["y"] + 8)
        tip.wait_for(state="visible")
        assert tip.get_attribute("data-kind") == "process"
        text = tip.text_content()
        assert "tcp://10.0.0.9:40123 (pid 5003) on node-9" in text
        assert "Clock offset" in text and "+2 µs ± 35 µs" in text
        assert "not aligned" not in text and "Exit status" in text

        hover(page, 400, header_of(page, 2)["y"] + 8)
        page.wait_for_function("() => document.querySelector('.fprofile-tooltip').textContent.includes('5002')")
        text = tip.text_content()
        assert "on its own clock, not aligned" in text
        assert "killed by signal 9" in text and "incomplete" in text
        assert "parent pid 5000" in text and "gpu-node-7" in text
        # a name with markup is text, never HTML
        assert "worker <img src=x" in text
        assert page.evaluate("() => window.__fprofile_pwned") is None
        assert tip.locator("img").count() == 0
        page.screenshot(path="/tmp/fprofile_processes_tooltip.png")
        assert not errors and not blocked
    finally:
        context.close()


def test_collapse_and_expand_a_process(browser, traces, tmp_path, artifacts_dir):
    context, page, blocked, errors = open_export(browser, traces["procs"], tmp_path)
    try:
        root = page.locator(".fprofile-root")
        zoom = page.locator("canvas.fprofile-zoom")
        before = headers(page)
        drawn = int(zoom.get_attribute("data-drawn"))
        h1 = before[1]
        # click on process 1's header: collapsed to one compact summary lane
        box = zoom_box(page)
        page.mouse.click(box["x"] + 300, box["y"] + h1["y"] + 8)
        wait_collapsed(page, [1])
        after = headers(page)
        assert [h["collapsed"] for h in after] == [False, True, False, False]
        assert after[0]["y"] == before[0]["y"] and after[1]["y"] == h1["y"]
        assert after[2]["y"] < before[2]["y"], "the processes below move up"
        # the summary lane (right under the header) has calls drawn in it
        lane_top = h1["y"] + h1["h"]
        assert page.evaluate(STRIP_JS, ["canvas.fprofile-zoom", lane_top, lane_top + 12]) > 200
        toggle = page.locator("button.fprofile-process-toggle[data-process='1']")
        assert toggle.get_attribute("aria-expanded") == "false"
        page.screenshot(path=f"{artifacts_dir}/processes_collapsed.png", full_page=True)
        page.screenshot(path="/tmp/fprofile_processes_collapsed.png", full_page=True)
        # the key c over that process expands it again
        root.focus()
        hover(page, 300, lane_top + 3)
        page.keyboard.press("c")
        wait_collapsed(page, [])
        assert headers(page) == before
        assert int(zoom.get_attribute("data-drawn")) == drawn
        assert toggle.get_attribute("aria-expanded") == "true"
        # the thread list's button collapses it too
        toggle.click()
        wait_collapsed(page, [1])
        toggle.click()
        wait_collapsed(page, [])
        # c away from the processes (focus on the page, pointer off the view) collapses them all, then expands them all
        page.mouse.move(5, 5)
        root.focus()
        page.keyboard.press("c")
        wait_collapsed(page, [0, 1, 2, 3])
        page.keyboard.press("c")
        wait_collapsed(page, [])
        assert not errors and not blocked
    finally:
        context.close()


def test_thread_list_grouped_with_a_checkbox_per_process(browser, traces, tmp_path):
    context, page, blocked, errors = open_export(browser, traces["procs"], tmp_path)
    try:
        groups = page.locator(".fprofile-process-group")
        assert groups.count() == 4
        # threads under their process: 2, 2, 1, 2
        assert [groups.nth(i).locator("input[data-thread]").count() for i in range(4)] == [2, 2, 1, 2]
        assert "SpawnProcess-1 (pid 5001) on build-host" in groups.nth(1).text_content()
        zoom = page.locator("canvas.fprofile-zoom")
        drawn = int(zoom.get_attribute("data-drawn"))
        page.uncheck("input[data-process='3']")
        page.wait_for_function(f"() => +document.querySelector('canvas.fprofile-zoom').dataset.drawn < {drawn}")
        assert [h["process"] for h in headers(page)] == [0, 1, 2]
        assert groups.nth(3).locator("input[data-thread]:checked").count() == 0
        # one of its threads back: the process box is indeterminate
        groups.nth(3).locator("input[data-thread]").first.check()
        state = page.eval_on_selector("input[data-process='3']", "e => [e.checked, e.indeterminate]")
        assert state == [False, True]
        assert [h["process"] for h in headers(page)] == [0, 1, 2, 3]
        page.check("input[data-process='3']")
        assert groups.nth(3).locator("input[data-thread]:checked").count() == 2
        assert int(zoom.get_attribute("data-drawn")) == drawn
        assert not errors and not blocked
    finally:
        context.close()


def test_summary_of_one_process(browser, traces, tmp_path):
    trace = traces["procs"]
    expected = json.loads(trace.summary_json())
    context, page, blocked, errors = open_export(browser, trace, tmp_path)
    try:
        sel = page.locator("select.fprofile-summary-process")
        assert sel.is_visible()
        options = sel.locator("option").all_text_contents()
        assert options[0] == "All processes" and len(options) == 5
        assert "Process: SpawnProcess-1 (pid 5001) on build-host" in options
        sel.select_option("1")
        want = {r["function"]: r["calls"] for r in next(p for p in expected["processes"] if p["process"] == 1)["rows"]}
        rows = page.locator("table.fprofile-summary tbody tr")
        got = {rows.nth(i).locator("td").nth(0).text_content(): int(rows.nth(i).locator("td").nth(2).text_content().replace(",", ""))
               for i in range(rows.count())}
        assert got == want
        # the thread selector then lists that process's threads only
        threads = page.locator("select.fprofile-summary-thread option").all_text_contents()
        assert threads == ["All its threads", "Thread: MainThread", "Thread: Dask-Default-Thread"]
        assert not errors and not blocked
    finally:
        context.close()


def test_task_bands_drawn_with_a_tooltip(browser, traces, tmp_path, artifacts_dir):
    context, page, blocked, errors = open_export(browser, traces["procs"], tmp_path)
    try:
        zoom = page.locator("canvas.fprofile-zoom")
        assert int(zoom.get_attribute("data-bands")) == len(traces["info"]["bands"])
        rows = json.loads(zoom.get_attribute("data-band-rows"))
        assert len(rows) == 1, "one band row, for the one thread that has bands"
        cover = band_cover(page, traces["info"]["bands"])
        assert cover > 0.8, cover  # the bands are painted, not only counted
        root = page.locator(".fprofile-root")

        def x_of(t):
            ws = float(root.get_attribute("data-window-start-ns"))
            we = float(root.get_attribute("data-window-end-ns"))
            return (t - ws) * zoom_box(page)["width"] / (we - ws)

        # the third band's tooltip, over the whole run
        label, s, e = traces["info"]["bands"][2]
        hover(page, x_of((s + e) / 2), rows[0]["y"] + 5)
        tip = page.locator(".fprofile-tooltip")
        tip.wait_for(state="visible")
        assert tip.get_attribute("data-kind") == "band"
        text = tip.text_content()
        assert text.startswith(label) and "Duration" in text and "SpawnProcess-1 (pid 5001)" in text
        # zoom in with the wheel around that band: still drawn, same tooltip under the pointer
        for _ in range(6):
            page.mouse.wheel(0, -300)
        page.wait_for_function("() => +document.querySelector('.fprofile-root').dataset.windowEndNs - "
                               "+document.querySelector('.fprofile-root').dataset.windowStartNs < 100000")
        assert int(zoom.get_attribute("data-bands")) >= 1
        hover(page, x_of((s + e) / 2), rows[0]["y"] + 5)
        page.wait_for_function("(l) => document.querySelector('.fprofile-tooltip').textContent.startsWith(l)", arg=label)
        page.screenshot(path=f"{artifacts_dir}/processes_bands.png", full_page=True)
        page.screenshot(path="/tmp/fprofile_processes_bands.png")
        # search keeps working with bands on screen
        page.fill("input.fprofile-search", "compute")
        page.wait_for_selector(".fprofile-root[data-search-active]")
        assert int(zoom.get_attribute("data-drawn")) > 0
        assert not errors and not blocked
    finally:
        context.close()


def test_one_process_trace_has_no_process_rows(browser, traces, tmp_path):
    context, page, blocked, errors = open_export(browser, traces["plain"], tmp_path, name="plain")
    try:
        assert page.get_attribute(".fprofile-root", "data-processes") == "1"
        assert headers(page) == []
        assert json.loads(page.get_attribute("canvas.fprofile-zoom", "data-band-rows")) == []
        assert page.locator("input[data-process]").count() == 0
        assert page.locator(".fprofile-process-group").count() == 0
        assert not page.locator("select.fprofile-summary-process").is_visible()
        # c does nothing here
        page.focus(".fprofile-root")
        page.keyboard.press("c")
        assert page.get_attribute(".fprofile-root", "data-collapsed") == ""
        assert not errors and not blocked
    finally:
        context.close()


def test_viewer_shows_the_processes(browser, traces, tmp_path):
    path = tmp_path / "procs.fpt"
    traces["procs"].save(str(path))
    port = free_port()
    with Viewer(port, str(path)) as v:
        page = browser.new_page(viewport={"width": 1300, "height": 1000})
        try:
            errors = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(v.url)
            wait_drawn(page)
            assert [h["process"] for h in headers(page)] == [0, 1, 2, 3]
            assert page.locator(".fprofile-process-group").count() == 4
            assert int(page.get_attribute("canvas.fprofile-zoom", "data-bands")) > 0
            cover = band_cover(page, traces["info"]["bands"])
            assert cover > 0.8, cover  # the bands are painted, not only counted
            assert_overview_strips(page, 4)
            assert not errors
        finally:
            page.close()


def test_widget_shows_the_processes(glue_page, traces):  # noqa: F811  (the imported fixture)
    page, errors = glue_page
    render_widget(page, traces["procs"], height=900)
    wait_drawn(page)
    assert [h["process"] for h in headers(page)] == [0, 1, 2, 3]
    assert page.locator(".fprofile-process-group").count() == 4
    assert page.locator("select.fprofile-summary-process option").count() == 5
    assert int(page.get_attribute("canvas.fprofile-zoom", "data-bands")) > 0
    cover = band_cover(page, traces["info"]["bands"])
    assert cover > 0.8, cover  # the bands are painted, not only counted
    assert_overview_strips(page, 4)
    h = header_of(page, 2)
    box = zoom_box(page)
    page.mouse.click(box["x"] + 300, box["y"] + h["y"] + 8)
    wait_collapsed(page, [2])
    assert not errors
