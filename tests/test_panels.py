"""The first hour, round two (issue 24 items 4, 5, 6, 8, 9) in a real Chromium: the side panel at
1280 and 1600 px (names and counts not cut, the Details actions in view, the panel resizable, the
min-duration box's placeholder whole), the summary following a hidden process, the thread filter
matching process names, pids and hosts, lanes that never join two unrelated threads, consecutive
Dask tasks on one band row, thread groups named by their common part, the filter bar's messages,
the hide buttons' counts, the flame views sized to their content (in the HTML export); the
viewer's keys right after a file is chosen and a first page load without a 404."""
from __future__ import annotations

import json
import random
from typing import List, Tuple

import pytest

from conftest import free_port
from test_html_export import offline_page
from viewer_support import CODES, Viewer, _nest, wait_drawn
from fprofile_jupyter import _core

BASE = 5_000_000_000
LONG_PROCESS = "/work/venv/bin/python3 pipeline.py --chunks 20 --out /data/results"


def _calls(rng, t0: int, blocks: int, codes: List[int]) -> Tuple[list, int]:
    ev: List[Tuple[int, int, bool]] = []
    t = t0
    for _ in range(blocks):
        t = _nest(ev, rng, t, 1, 2, codes) + rng.randint(500, 2_000)
    return ev, t


def make_pipeline_trace():
    """Two processes, as in the issue's image pipeline on a Dask-like pool: the parent (a long
    command line) with MainThread, loader_0 then writer (which never run at once: one lane
    number); SpawnProcess-1 on another host with four Dask-Default-Threads-… threads, the first
    running two consecutive tasks whose bands (the scheduler's clock estimate) overlap by 6 us.
    Returns (trace, info)."""
    rng = random.Random(24)
    main, end = _calls(rng, BASE + 1_000, 12, [1, 2, 3])
    loader, lend = _calls(rng, BASE + 5_000, 4, [1, 2])
    # the writer starts once the loader and the pool are done: PYME's rule gives it the loader's lane
    writer, wend = _calls(rng, max(lend, BASE + 200_000), 4, [6, 5])
    stop = max(end, wend) + 10_000
    main = [(BASE + 500, 0, False)] + main + [(stop - 1_000, 0, True)]
    parent = [(7580, "MainThread", main), (7581, "loader_0", loader), (7582, "writer", writer)]
    # and a pool of encoders (enough threads to fill the thread list's height)
    for k in range(10):
        parent.append((7600 + k, f"encoder-{k}", _calls(rng, BASE + 8_000 + k * 3_000, 2, [4, 5])[0]))
    parts = [{"trace": _core._build_trace(CODES, parent, start_ns=BASE, stop_ns=stop),
              "process": {"pid": 7580, "parent_pid": 1, "name": LONG_PROCESS, "host": "build-host", "exit_status": 0}}]
    # the pool: task 1 and task 2 on the first thread, 2 us apart by our clock
    t1 = [(BASE + 30_000, 3, False), (BASE + 80_000, 3, True)]
    t2 = [(BASE + 82_000, 4, False), (BASE + 140_000, 4, True)]
    pool = [(7590, "MainThread", [(BASE + 16_000, 7, False), (BASE + 150_000, 7, True)]),
            (7591, "Dask-Default-Threads-7586-0", t1 + t2)]
    for k in range(1, 4):
        pool.append((7591 + k, f"Dask-Default-Threads-7586-{k}", _calls(rng, BASE + 30_000 + k * 7_000, 2, [3, 4, 5])[0]))
    bands = [(7591, BASE + 30_000, BASE + 84_000, "('process_chunk-4c8a0e2f1b3d5a7c', 0)"),
             (7591, BASE + 78_000, BASE + 140_000, "('process_chunk-4c8a0e2f1b3d5a7c', 1)")]
    parts.append({"trace": _core._build_trace(CODES, pool, start_ns=BASE + 15_000, stop_ns=BASE + 160_000),
                  "process": {"pid": 7586, "parent_pid": 7580, "name": "SpawnProcess-1", "host": "gpu-node-7", "exit_status": 0},
                  "bands": bands})
    merged = _core.merge(parts)
    return merged, {}


@pytest.fixture(scope="module")
def trace():
    return make_pipeline_trace()[0]


@pytest.fixture(scope="module")
def export_file(trace, tmp_path_factory):
    out = tmp_path_factory.mktemp("panels") / "pipeline.html"
    out.write_text(_core.export_html(trace, "pipeline"), encoding="utf-8")
    return out


def open_export(browser, export_file, width, height=900):
    context, page, blocked, errors = offline_page(browser, viewport=(width, height))
    page.emulate_media(color_scheme="light")
    page.goto(export_file.as_uri())
    wait_drawn(page)
    return context, page, errors


def counts_by_code(trace, threads=None):
    """Calls per code (the page's numbering: the summary's) of `threads` (all when None)."""
    code = {(r["file"], r["function"], r["line"]): r["code"] for r in json.loads(trace.summary_json())["overall"]}
    out = {}
    for c in trace.calls():
        if threads is None or c.thread in threads:
            k = code[(c.file, c.function, c.line)]
            out[k] = out.get(k, 0) + 1
    return out


def thread_index(trace, name):
    return next(i for i, th in enumerate(trace.threads) if th.name == name)


# Every name and figure of the side panel: its box, and whether its text is cut (wider than its box).
SIDE_BOXES_JS = """() => {
  const side = document.querySelector('.fprofile-side');
  const s = side.getBoundingClientRect();
  const out = [];
  const sel = '.fprofile-thread-name, .fprofile-thread-stats, .fprofile-process-name, .fprofile-name-group-name';
  for (const e of side.querySelectorAll(sel)) {
    if (e.offsetParent === null) continue;  // in a closed group
    const r = e.getBoundingClientRect();
    out.push({ text: e.textContent, cut: e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).display !== 'inline',
               left: r.left - s.left, right: s.right - r.right, lines: Math.round(r.height / 14) });
  }
  for (const e of [side, ...side.querySelectorAll('.fprofile-thread-list, .fprofile-details')]) {
    if (e.scrollWidth > e.clientWidth + 1) out.push({ text: e.className, cut: true, left: 0, right: 0, lines: 0 });
  }
  return out;
}"""

# The box of `sel` relative to the side panel's visible part and to the window.
IN_VIEW_JS = """(sel) => {
  const side = document.querySelector('.fprofile-side').getBoundingClientRect();
  return [...document.querySelectorAll(sel)].map((e) => {
    const r = e.getBoundingClientRect();
    return { text: e.textContent, inSide: r.top >= side.top && r.bottom <= side.bottom && r.left >= side.left && r.right <= side.right,
             inWindow: r.bottom <= innerHeight && r.top >= 0, w: r.width };
  });
}"""

# The min-duration box: its placeholder's width in its font against the room inside it.
PLACEHOLDER_JS = """() => {
  const e = document.querySelector('input.fprofile-min-duration');
  const cs = getComputedStyle(e);
  const ctx = document.createElement('canvas').getContext('2d');
  ctx.font = `${cs.fontSize} ${cs.fontFamily}`;
  const room = e.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight);
  return { text: e.placeholder, need: ctx.measureText(e.placeholder).width, room };
}"""


@pytest.mark.parametrize("width", [1280, 1600])
def test_side_panel_names_counts_and_actions_in_view(browser, export_file, trace, width):
    context, page, errors = open_export(browser, export_file, width, 800)
    try:
        boxes = page.evaluate(SIDE_BOXES_JS)
        texts = [b["text"] for b in boxes]
        assert any(LONG_PROCESS in t for t in texts) and "loader_0" in texts and any("Dask-Default-Threads (4)" == t for t in texts), texts
        cut = [b for b in boxes if b["cut"] or b["left"] < 0 or b["right"] < -0.5]
        assert cut == [], cut
        # every count is whole: "N calls · duration" on one line
        stats = [b for b in boxes if "call" in b["text"] and "·" in b["text"]]
        assert stats and all(b["lines"] <= 1 for b in stats), stats
        # the min-duration box shows its whole placeholder
        ph = page.evaluate(PLACEHOLDER_JS)
        assert ph["need"] <= ph["room"], ph
        # select the longest call of a function (a click in the summary): its actions are in view
        page.locator("table.fprofile-summary tbody tr").first.click()
        page.wait_for_selector(".fprofile-details button.fprofile-zoom-to")
        actions = page.evaluate(IN_VIEW_JS, ".fprofile-details button.fprofile-zoom-to, .fprofile-details button.fprofile-hide")
        assert len(actions) == 4 and all(a["inSide"] and a["inWindow"] for a in actions), actions
        # the panel is resizable: drag its handle 150 px left, the panel widens and the views narrow
        side0 = page.locator(".fprofile-side").bounding_box()["width"]
        views0 = page.locator(".fprofile-views").bounding_box()["width"]
        h = page.locator(".fprofile-side-resizer").bounding_box()
        page.mouse.move(h["x"] + h["width"] / 2, h["y"] + 40)
        page.mouse.down()
        page.mouse.move(h["x"] + h["width"] / 2 - 150, h["y"] + 40, steps=5)
        page.mouse.up()
        side1 = page.locator(".fprofile-side").bounding_box()["width"]
        assert side1 >= side0 + 140, (side0, side1)
        page.wait_for_function("(w) => Math.round(document.querySelector('canvas.fprofile-zoom').getBoundingClientRect().width) < w - 100",
                               arg=views0)
        assert page.evaluate(SIDE_BOXES_JS) and [b for b in page.evaluate(SIDE_BOXES_JS) if b["cut"]] == []
        assert errors == []
    finally:
        context.close()


SUMMARY_JS = """() => [...document.querySelectorAll('table.fprofile-summary tbody tr')].map((tr) =>
  [Number(tr.dataset.code), Number(tr.querySelector('td.fprofile-num').dataset.value)])"""


def summary_calls(page):
    """The table's calls per code."""
    return {code: n for code, n in page.evaluate(SUMMARY_JS)}


def test_summary_follows_a_hidden_process_and_the_filter_finds_processes(browser, export_file, trace):
    context, page, errors = open_export(browser, export_file, 1400)
    try:
        select = "select.fprofile-summary-thread"
        assert page.eval_on_selector(select, "s => s.options[0].textContent") == "All threads"
        every = counts_by_code(trace)
        assert summary_calls(page) == every
        # hide SpawnProcess-1 (process 1): its five threads are not counted, and the table says so
        pool = {i for i, th in enumerate(trace.threads) if th.process == 1}
        assert len(pool) == 5
        page.uncheck(".fprofile-threads input[data-process='1']")
        page.wait_for_function("(s) => document.querySelector(s).options[0].textContent.startsWith('Shown threads')", arg=select)
        n = len(trace.threads)
        assert page.eval_on_selector(select, "s => s.options[0].textContent") == f"Shown threads ({n - 5} of {n})"
        assert page.inner_text(".fprofile-summary-scope") == "5 hidden threads are not counted"
        shown = counts_by_code(trace, set(range(n)) - pool)
        assert shown != every
        assert summary_calls(page) == shown
        # its threads and the process are not offered on their own
        options = page.eval_on_selector_all(f"{select} option", "os => os.map((o) => o.textContent)")
        assert not any("Dask" in o for o in options), options
        assert page.eval_on_selector_all("select.fprofile-summary-process option", "os => os.map((o) => o.textContent)") == \
            ["All processes", f"Process: {LONG_PROCESS} (pid 7580) on build-host"]
        # shown again: every call
        page.check(".fprofile-threads input[data-process='1']")
        page.wait_for_function("(s) => document.querySelector(s).options[0].textContent === 'All threads'", arg=select)
        assert summary_calls(page) == every
        assert page.inner_text(".fprofile-summary-scope") == ""

        # the thread filter matches the process's name, pid and host
        box = "input.fprofile-thread-filter"
        for text in ("Spawn", "7586", "gpu-node"):
            page.fill(box, text)
            page.wait_for_function("() => document.querySelector('.fprofile-thread-list').dataset.shown === '5'")
            names = page.eval_on_selector_all(".fprofile-thread:not([hidden]) button.fprofile-thread-name", "bs => bs.map((b) => b.textContent)")
            assert sorted(names) == sorted(trace.threads[i].name for i in pool), (text, names)
        page.fill(box, "build-host")
        page.wait_for_function(f"() => document.querySelector('.fprofile-thread-list').dataset.shown === '{n - 5}'")
        assert errors == []
    finally:
        context.close()


def test_lanes_bands_and_group_names(browser, export_file, trace):
    context, page, errors = open_export(browser, export_file, 1400, 1200)
    try:
        loader, writer = thread_index(trace, "loader_0"), thread_index(trace, "writer")
        assert trace.threads[loader].lane == trace.threads[writer].lane, "the trace gives them one lane number"
        lanes = json.loads(page.get_attribute("canvas.fprofile-zoom", "data-lanes"))
        both = [lane for lane in lanes if loader in lane["threads"] or writer in lane["threads"]]
        assert len(both) == 2 and all(len(lane["threads"]) == 1 for lane in both), lanes
        # the two overlapping task bands of the first pool thread: one band row
        first = thread_index(trace, "Dask-Default-Threads-7586-0")
        page.click(f"button.fprofile-thread-name[data-thread='{first}']")
        page.wait_for_function("(t) => JSON.parse(document.querySelector('canvas.fprofile-zoom').dataset.bandRows || '[]')"
                               ".some((r) => r.thread === t)", arg=first)
        rows = json.loads(page.get_attribute("canvas.fprofile-zoom", "data-band-rows"))
        mine = [r for r in rows if r["thread"] == first]
        assert mine and {r["row"] for r in mine} == {0}, rows
        # the pool's group is named by the common part, with its size
        assert page.locator(".fprofile-name-group-name").all_inner_texts() == ["encoder (10)", "Dask-Default-Threads (4)"]
        assert errors == []
    finally:
        context.close()


def test_filter_bar_messages_hide_counts_and_flame_heights(browser, export_file, trace):
    context, page, errors = open_export(browser, export_file, 1400)
    try:
        n = len(trace.calls())
        # a bad duration: one message; a filter on; Clear filters: the message goes too
        page.fill("input.fprofile-min-duration", "5 msec")
        page.press("input.fprofile-min-duration", "Enter")
        assert "is not a duration" in page.inner_text(".fprofile-filter-message")
        page.locator("table.fprofile-summary tbody tr").first.click()
        # Hide module: its folder holds every function here: the button says it hides them all
        module = page.locator(".fprofile-details button.fprofile-hide[data-kind=module]")
        assert module.inner_text() == f"Hide module (all {n:,} calls)"
        assert "hides them all" in module.get_attribute("title")
        fn = page.locator(".fprofile-details button.fprofile-hide[data-kind=function]").inner_text()
        assert fn.startswith("Hide function (") and "(all " not in fn
        page.click(".fprofile-details button.fprofile-hide[data-kind=function]")
        page.wait_for_selector("button.fprofile-filter-clear:not([hidden])")
        page.click("button.fprofile-filter-clear")
        page.wait_for_function("() => !document.querySelector('.fprofile-root').hasAttribute('data-filter-active')")
        assert page.inner_text(".fprofile-filter-message") == ""
        # an invalid regex: said once
        page.check("input.fprofile-search-regex")
        page.fill("input.fprofile-search", "load(")
        msg = page.inner_text(".fprofile-search-count")
        assert msg.lower().count("invalid regular expression") == 1, msg
        page.fill("input.fprofile-search", "")
        # the flame graph: as tall as its rows, not the zoomed view's height
        zoom_h = page.locator("canvas.fprofile-zoom").bounding_box()["height"]
        depth = max(c.depth for c in trace.calls()) + 1
        page.focus(".fprofile-root")
        page.keyboard.press("f")
        page.wait_for_selector("canvas.fprofile-flame[data-drawn]:not([data-drawn='0'])")
        flame_h = page.locator("canvas.fprofile-flame").bounding_box()["height"]
        # js/flamesize.js: its rows + 4 px, at least 96 px
        assert flame_h == max(96, depth * 18 + 4) < zoom_h / 2, (depth, flame_h, zoom_h)
        # callers and callees of a selected function: its rows and their labels
        page.locator("table.fprofile-summary tbody tr").first.click()
        page.focus(".fprofile-root")
        page.keyboard.press("s")
        page.wait_for_selector("canvas.fprofile-flame[data-mode=sandwich]")
        sandwich_h = page.locator("canvas.fprofile-flame").bounding_box()["height"]
        assert sandwich_h <= (depth + 1) * 18 + 40 < zoom_h, (sandwich_h, zoom_h)
        assert errors == []
    finally:
        context.close()


def test_viewer_keys_after_choosing_a_file_and_no_404(browser, trace, tmp_path):
    fpt = tmp_path / "pipeline.fpt"
    trace.save(str(fpt))
    port = free_port()
    v = Viewer(port)
    try:
        v.wait_ready()
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        failed = []
        page.on("response", lambda r: failed.append((r.status, r.url)) if r.status >= 400 else None)
        page.on("console", lambda m: failed.append(m.text) if m.type == "error" else None)
        page.goto(v.url, wait_until="networkidle")
        page.wait_for_selector(".fprofile-page-status:has-text('Choose a trace file')")
        # a browser with a tab strip asks for /favicon.ico (a 404 here) unless the page names its
        # icon (headless Chromium asks for none): it names one that needs no request, and the
        # script names no source map
        icons = page.eval_on_selector_all("link[rel~=icon]", "ls => ls.map((l) => l.href)")
        assert icons and all(i.startswith("data:") for i in icons), icons
        script = page.evaluate("() => fetch('fprofile.js').then((r) => r.text())")
        assert "sourceMappingURL" not in script
        # the file chooser, as a user: focus on it, a file chosen
        page.focus("#fprofile-file")
        page.set_input_files("#fprofile-file", str(fpt))
        wait_drawn(page)
        page.wait_for_function("() => document.activeElement && document.activeElement.classList.contains('fprofile-root')")
        page.keyboard.press("f")
        page.wait_for_selector(".fprofile-root[data-view=flame]")
        assert failed == []
        context.close()
    finally:
        v.stop()
