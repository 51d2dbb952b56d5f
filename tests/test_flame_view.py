"""The flame graph view of the timeline (js/flameview.js over js/flame.js) in real Chromium: it draws
the same merged paths as the Rust core, hover shows a node's figures, click zooms into a path and
Escape / the breadcrumb go back, the overview's brush sets its window, the search fades the rest,
and a selected function shows its callers and callees. In the HTML export, the viewer and the
notebook widget."""
from __future__ import annotations


import pytest

from conftest import free_port
from test_browser_lab import glue_page, render_widget  # noqa: F401  (glue_page: a fixture)
from viewer_support import Viewer, coloured_pixels, make_process_trace, make_trace, offline_page, wait_drawn
from fprofile_jupyter import _core

FLAME = "canvas.fprofile-flame"
ROW = 18  # js/flameview.js FLAME_ROW_PX

PIXEL_JS = """([sel, x, y]) => {
  const c = document.querySelector(sel);
  const k = c.width / c.getBoundingClientRect().width;
  const d = c.getContext('2d').getImageData(Math.round(x * k), Math.round(y * k), 1, 1).data;
  return [d[0], d[1], d[2]];
}"""


@pytest.fixture(scope="module")
def trace():
    return make_trace()


def nodes_of(data: bytes) -> int:
    return len(data) // 40  # docs/format.md: 5 f64 per node


def open_export(browser, trace, tmp_path):
    out = tmp_path / "flame.html"
    out.write_text(_core.export_html(trace, "flame"), encoding="utf-8")
    context, page, _blocked, errors = offline_page(browser, viewport=(1300, 1000))
    page.emulate_media(color_scheme="light")
    page.goto(out.as_uri())
    wait_drawn(page)
    return context, page, errors


def show_flame(page, key=False):
    if key:
        page.locator(".fprofile-root").focus()
        page.keyboard.press("f")
    else:
        page.click("button.fprofile-flame-toggle")
    page.wait_for_selector(f"{FLAME}[data-drawn]:not([data-drawn='0'])")
    assert page.get_attribute(".fprofile-root", "data-view") == "flame"
    assert page.locator("canvas.fprofile-zoom").is_hidden()


def attr(page, name):
    return page.get_attribute(FLAME, f"data-{name}")


def flame_box(page):
    return page.locator(FLAME).bounding_box()


def tooltip_facts(page):
    page.wait_for_selector(".fprofile-tooltip[data-kind]:not([hidden])")
    title = page.inner_text(".fprofile-tooltip .fprofile-tooltip-title")
    dts = page.locator(".fprofile-tooltip dt").all_inner_texts()
    dds = page.locator(".fprofile-tooltip dd").all_inner_texts()
    return title, dict(zip(dts, dds))


def test_flame_draws_hover_zoom_and_back(browser, trace, tmp_path, artifacts_dir):
    context, page, errors = open_export(browser, trace, tmp_path)
    try:
        show_flame(page)
        # the same paths as the core merges
        assert int(attr(page, "nodes")) == nodes_of(_core.flame_bytes(trace))
        assert attr(page, "window") == "all"
        assert coloured_pixels(page, FLAME) > 20_000
        page.screenshot(path=f"{artifacts_dir}/flame_view.png")
        # hover: the heaviest top-level path is leftmost on the first row
        top = trace.flame()[0]
        box = flame_box(page)
        page.mouse.move(box["x"] + 4, box["y"] + ROW / 2)
        title, facts = tooltip_facts(page)
        assert title == top["function"]
        assert facts["Calls"] == f"{top['calls']:,}"
        assert facts["Total"] == _core.format_duration(top["total_ns"])
        assert facts["Self"] == _core.format_duration(top["self_ns"])
        assert facts["File"].endswith(f":{top['line']}")
        total = sum(n["total_ns"] for n in trace.flame())
        assert facts["Share"].startswith(f"{100 * top['total_ns'] / total:.1f} %")
        # click the heaviest child of it: zoomed into that path, its name in the breadcrumb
        child = top["children"][0]
        page.mouse.click(box["x"] + 4, box["y"] + ROW * 1.5)
        page.wait_for_selector(f"{FLAME}[data-focus='2']")
        crumbs = page.locator(".fprofile-flame-crumb").all_inner_texts()
        assert crumbs == ["All", top["function"], child["function"]]
        # the zoomed node fills the width: its row is coloured at the right edge too
        assert page.evaluate(PIXEL_JS, [FLAME, box["width"] - 3, ROW * 1.5]) != page.evaluate(PIXEL_JS, [FLAME, box["width"] - 3, box["height"] - 3])
        page.mouse.move(box["x"] + box["width"] - 5, box["y"] + ROW * 1.5)
        assert tooltip_facts(page)[0] == child["function"]
        # Escape goes back one level, the breadcrumb's "All" to the top
        page.keyboard.press("Escape")
        page.wait_for_selector(f"{FLAME}[data-focus='1']")
        page.click(".fprofile-flame-crumb >> text=All")
        page.wait_for_selector(f"{FLAME}[data-focus='0']")
        # f: back to the timeline
        page.locator(".fprofile-root").focus()
        page.keyboard.press("f")
        page.wait_for_selector("canvas.fprofile-zoom:visible")
        assert page.get_attribute(".fprofile-root", "data-view") == "timeline"
        assert not errors
    finally:
        context.close()


def test_brush_sets_the_window_and_search_fades(browser, trace, tmp_path):
    context, page, errors = open_export(browser, trace, tmp_path)
    try:
        show_flame(page, key=True)
        # the search fades what does not match: the first row's top-level box changes colour (whole run: it is main)
        top = trace.flame()[0]
        before = page.evaluate(PIXEL_JS, [FLAME, 2, 2])  # above the label
        other = next(n["function"] for n in top["children"] if n["function"] != top["function"])
        page.fill("input.fprofile-search", other)
        page.wait_for_selector(".fprofile-root[data-search-active]")
        page.wait_for_function("([sel, x, y, before]) => {"
                               "  const c = document.querySelector(sel); const k = c.width / c.getBoundingClientRect().width;"
                               "  const d = c.getContext('2d').getImageData(Math.round(x * k), Math.round(y * k), 1, 1).data;"
                               "  return d[0] !== before[0] || d[1] !== before[1] || d[2] !== before[2]; }",
                               arg=[FLAME, 2, 2, before])
        page.fill("input.fprofile-search", "")
        page.wait_for_function("([sel, x, y, before]) => {"
                               "  const c = document.querySelector(sel); const k = c.width / c.getBoundingClientRect().width;"
                               "  const d = c.getContext('2d').getImageData(Math.round(x * k), Math.round(y * k), 1, 1).data;"
                               "  return d[0] === before[0] && d[1] === before[1] && d[2] === before[2]; }",
                               arg=[FLAME, 2, 2, before])
        whole = int(attr(page, "nodes"))
        ov = page.locator("canvas.fprofile-overview").bounding_box()
        page.mouse.move(ov["x"] + ov["width"] * 0.3, ov["y"] + 40)
        page.mouse.down()
        page.mouse.move(ov["x"] + ov["width"] * 0.45, ov["y"] + 40, steps=4)
        page.mouse.up()
        page.wait_for_function("(sel) => document.querySelector(sel).dataset.window !== 'all'", arg=FLAME)
        t0, t1 = (int(v) for v in attr(page, "window").split(","))
        assert (t0, t1) == (int(page.get_attribute(".fprofile-root", "data-window-start-ns")),
                            int(page.get_attribute(".fprofile-root", "data-window-end-ns")))
        assert int(attr(page, "nodes")) == nodes_of(_core.flame_bytes(trace, None, (t0, t1))) < whole
        assert not errors
    finally:
        context.close()


def flat(node, depth=0, out=None):
    out = [] if out is None else out
    out.append((depth, node["function"], node["calls"], node["total_ns"]))
    for c in node["children"]:
        flat(c, depth + 1, out)
    return out


def test_callers_and_callees_of_a_selected_function(browser, trace, tmp_path, artifacts_dir):
    context, page, errors = open_export(browser, trace, tmp_path)
    try:
        show_flame(page)
        name = "save_results"
        # select it in the summary table, then s
        page.click(f"table.fprofile-summary td >> text={name}")
        page.locator(".fprofile-root").focus()
        page.keyboard.press("s")
        page.wait_for_selector(f"{FLAME}[data-mode='sandwich']")
        callers, callees = trace.callers(name), trace.callees(name)
        assert int(attr(page, "nodes")) == len(flat(callers)) + len(flat(callees))
        page.screenshot(path=f"{artifacts_dir}/flame_sandwich.png")
        # the callee root is the row under the middle line (data-mid: the views are as tall as their
        # rows, js/flamesize.js), full width: the function's figures (recursion once)
        box = flame_box(page)
        mid = int(attr(page, "mid"))
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + mid + ROW / 2)
        title, facts = tooltip_facts(page)
        assert title == name
        assert facts["Total"] == _core.format_duration(callees["total_ns"])
        assert facts["Calls"] == f"{callees['calls']:,}"
        # the heaviest caller chain is the leftmost box of the row above the function's callers root
        first = callers["children"][0]
        page.mouse.move(box["x"] + 3, box["y"] + mid - 2 - ROW - ROW / 2)
        title, facts = tooltip_facts(page)
        assert title == first["function"] and facts["Calls"] == f"{first['calls']:,}"
        # Escape: back to the flame graph
        page.keyboard.press("Escape")
        page.wait_for_selector(f"{FLAME}[data-mode='flame']")
        assert not errors
    finally:
        context.close()


def test_flame_in_the_viewer(browser, trace, tmp_path):
    path = tmp_path / "t.fpt"
    trace.save(str(path))
    with Viewer(free_port(), str(path)) as v:
        page = browser.new_page(viewport={"width": 1300, "height": 1000})
        try:
            errors = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(v.url)
            wait_drawn(page)
            show_flame(page)
            assert int(attr(page, "nodes")) == nodes_of(_core.flame_bytes(trace))
            assert not errors
        finally:
            page.close()


def test_flame_in_the_widget(glue_page, trace):  # noqa: F811  (the imported fixture)
    page, errors = glue_page
    render_widget(page, trace, height=600)
    wait_drawn(page)
    show_flame(page)
    assert int(attr(page, "nodes")) == nodes_of(_core.flame_bytes(trace))
    # one process: the scope offers the visible threads and each thread; one thread merges alone
    page.select_option("select.fprofile-flame-scope", "t:1")
    wait_nodes(page, nodes_of(_core.flame_bytes(trace, [1])))
    assert not errors


def wait_nodes(page, n: int) -> None:
    page.wait_for_function("([sel, n]) => document.querySelector(sel).dataset.nodes === String(n)", arg=[FLAME, n])


def test_scope_follows_processes_and_the_thread_list(browser, tmp_path):
    """A trace of four processes: the flame graph of one process, and of the threads the thread list shows."""
    trace, _info = make_process_trace()
    context, page, errors = open_export(browser, trace, tmp_path)
    try:
        show_flame(page)
        assert page.locator("select.fprofile-flame-scope option").count() == 1 + len(trace.processes) + len(trace.threads)
        of_process = [i for i, th in enumerate(trace.threads) if th.process == 1]
        page.select_option("select.fprofile-flame-scope", "p:1")
        wait_nodes(page, nodes_of(_core.flame_bytes(trace, of_process)))
        # hide the process's first thread in the thread list: the flame graph merges the others
        page.uncheck(f"input[data-thread='{of_process[0]}']")
        wait_nodes(page, nodes_of(_core.flame_bytes(trace, of_process[1:])))
        page.select_option("select.fprofile-flame-scope", "all")
        shown = [i for i in range(len(trace.threads)) if i != of_process[0]]
        wait_nodes(page, nodes_of(_core.flame_bytes(trace, shown)))
        assert not errors
    finally:
        context.close()
