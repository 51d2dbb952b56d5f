"""The view filters (js/filters.js, js/filterbar.js) in real Chromium, in the HTML export: hiding a
function removes its calls from the zoomed view and the table and moves their time into their
callers' Self; the flame graph merges fewer paths; a minimum duration hides the short calls;
the filters survive zoom and the flame view toggle; clear restores every number; an invalid regex
in the search is a message; names stay text."""
from __future__ import annotations

import pytest

from test_html_export import offline_page
from viewer_support import make_trace, wait_drawn
from fprofile_jupyter import _core

ZOOM = "canvas.fprofile-zoom"
FLAME = "canvas.fprofile-flame"

TABLE_JS = """() => Object.fromEntries([...document.querySelectorAll('table.fprofile-summary tbody tr')].map((tr) => {
  const v = [...tr.querySelectorAll('td.fprofile-num')].map((td) => Number(td.dataset.value));
  return [tr.querySelector('td span:last-child').textContent, { code: Number(tr.dataset.code), calls: v[0], total: v[1], self: v[2], mean: v[3] }];
}))"""


@pytest.fixture(scope="module")
def trace():
    return make_trace(evil=True)


def open_export(browser, trace, tmp_path):
    out = tmp_path / "filters.html"
    out.write_text(_core.export_html(trace, "filters"), encoding="utf-8")
    context, page, _blocked, errors = offline_page(browser, viewport=(1300, 1000))
    page.goto(out.as_uri())
    wait_drawn(page)
    return context, page, errors


def drawn(page) -> int:
    return int(page.get_attribute(ZOOM, "data-drawn"))


def wait_attr_change(page, sel, name, old):
    page.wait_for_function("([s, n, o]) => document.querySelector(s).getAttribute(n) !== o", arg=[sel, name, str(old)])


def table(page):
    return page.evaluate(TABLE_JS)


def hide_from_row(page, name, kind):
    """The table row's context menu: hide its function / file / module."""
    page.locator("table.fprofile-summary tbody tr", has_text=name).first.click(button="right")
    page.click(f".fprofile-row-menu button.fprofile-hide[data-kind={kind}]")


def test_hide_function_min_duration_and_clear(browser, trace, tmp_path):
    context, page, errors = open_export(browser, trace, tmp_path)
    try:
        before_drawn = drawn(page)
        before = table(page)
        assert "parse_record" in before and before["main"]["self"] > 0
        assert page.locator("button.fprofile-filter-clear").is_hidden()

        hide_from_row(page, "parse_record", "function")
        wait_attr_change(page, ZOOM, "data-drawn", before_drawn)
        page.wait_for_selector(".fprofile-root[data-filter-active]")
        after = table(page)
        assert "parse_record" not in after
        # its calls' time went to their callers' self (every parse_record call has a caller): the
        # self times still add up to the same, and main (which calls it) got more
        assert sum(r["self"] for r in after.values()) == sum(r["self"] for r in before.values())
        assert after["main"]["self"] > before["main"]["self"]
        assert after["main"]["total"] == before["main"]["total"]
        assert drawn(page) < before_drawn
        chips = page.locator(".fprofile-filter-chip").all_inner_texts()
        assert len(chips) == 1 and "parse_record" in chips[0]
        # no call of it is drawn or counted: the search finds the function and none of its calls
        page.fill("input.fprofile-search", "parse_record")
        page.wait_for_function("() => document.querySelector('.fprofile-search-count').textContent.includes('0 calls')")
        page.fill("input.fprofile-search", "")

        # the flame graph merges fewer paths, and the filter survives the toggle and zoom
        page.click("button.fprofile-flame-toggle")
        page.wait_for_selector(f"{FLAME}[data-drawn]:not([data-drawn='0'])")
        nodes_filtered = int(page.get_attribute(FLAME, "data-nodes"))
        assert nodes_filtered < len(_core.flame_bytes(trace)) // 40
        page.click("button.fprofile-flame-toggle")
        page.locator(".fprofile-root").focus()
        full_start = page.get_attribute(".fprofile-root", "data-window-start-ns")
        page.keyboard.press("+")
        wait_attr_change(page, ".fprofile-root", "data-window-start-ns", full_start)
        assert page.locator(".fprofile-filter-chip").count() == 1
        assert "parse_record" not in table(page)
        page.keyboard.press("r")
        page.wait_for_function("(s) => document.querySelector('.fprofile-root').dataset.windowStartNs === s", arg=full_start)

        # a minimum duration: every call left is at least that long
        shown_before_min = drawn(page)
        page.fill("input.fprofile-min-duration", "5us")
        page.press("input.fprofile-min-duration", "Enter")
        wait_attr_change(page, ZOOM, "data-drawn", shown_before_min)
        rows = table(page)
        assert rows and all(r["mean"] >= 5_000 for r in rows.values())
        assert sum(r["calls"] for r in rows.values()) < sum(r["calls"] for r in after.values())
        assert page.locator(".fprofile-filter-chip").count() == 2
        page.fill("input.fprofile-min-duration", "soon")
        page.press("input.fprofile-min-duration", "Enter")
        assert "not a duration" in page.inner_text(".fprofile-filter-message")

        # clear: everything as before
        page.click("button.fprofile-filter-clear")
        page.wait_for_function("(n) => document.querySelector('canvas.fprofile-zoom').getAttribute('data-drawn') === String(n)",
                               arg=before_drawn)
        assert table(page) == before
        assert page.locator(".fprofile-filter-chip").count() == 0
        assert page.get_attribute(".fprofile-root", "data-filter-active") is None
        page.click("button.fprofile-flame-toggle")
        # the redrawn flame graph (the canvas kept the filtered one's attributes until then)
        page.wait_for_function("(n) => document.querySelector('canvas.fprofile-flame').getAttribute('data-nodes') === String(n)",
                               arg=len(_core.flame_bytes(trace)) // 40)
        assert errors == []
    finally:
        context.close()


def test_hide_from_details_file_module_names_as_text_regex(browser, trace, tmp_path):
    context, page, errors = open_export(browser, trace, tmp_path)
    try:
        before = table(page)
        # the function named with markup: hidden from the details panel, its chip is text
        evil = next(name for name in before if "<img" in name)
        page.locator("table.fprofile-summary tbody tr", has_text="<img").first.click()
        page.click(".fprofile-details button.fprofile-hide[data-kind=function]")
        page.wait_for_selector(".fprofile-filter-chip")
        assert evil in page.inner_text(".fprofile-filter-chip")
        assert evil not in table(page)
        assert page.evaluate("() => window.__fprofile_pwned") is None
        # a file: io.py's functions all go
        hide_from_row(page, "load_data", "file")
        page.wait_for_function("() => document.querySelectorAll('.fprofile-filter-chip').length === 2")
        names = set(table(page))
        assert not names & {"load_data", "parse_record", "save_results"}
        assert "compute" in names
        # a module: every file under /app/pipeline, main included: nothing left
        page.locator(".fprofile-filter-remove").first.click()
        page.wait_for_function("() => document.querySelectorAll('.fprofile-filter-chip').length === 1")
        hide_from_row(page, "compute", "module")
        page.wait_for_function("() => document.querySelectorAll('table.fprofile-summary tbody tr').length === 0")
        assert "module" in page.locator(".fprofile-filter-chip").last.inner_text()

        # a regex search; an invalid one is a message, not an exception
        page.click("button.fprofile-filter-clear")
        page.check("input.fprofile-search-regex")
        page.fill("input.fprofile-search", "^(load_data|compute)$")
        page.wait_for_selector(".fprofile-root[data-search-active]")
        assert page.inner_text(".fprofile-search-count").startswith("2 functions")
        page.fill("input.fprofile-search", "(unclosed")
        page.wait_for_selector(".fprofile-search-count.fprofile-search-error")
        assert "Invalid regular expression" in page.inner_text(".fprofile-search-count")
        assert page.get_attribute(".fprofile-root", "data-search-active") is None
        assert errors == []
    finally:
        context.close()
