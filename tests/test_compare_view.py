"""The comparison of two runs in a notebook (``fprofile_jupyter.compare(a, b)``): its mimebundle
(the HTML table and the differential flame tree, ``_display.COMPARE_MIME``), and the extension
drawing the differential flame graph with its colours and the table under it in JupyterLab, from
the saved output alone (no kernel, untrusted)."""
from __future__ import annotations

import base64
import json
import os

import pytest

import fprofile_jupyter as fj
from fprofile_jupyter import _core, _display
from test_browser_lab import WAIT_MS, deadline, jupyter_server, open_page  # noqa: F401  (deadline: a fixture)

DIFF = "canvas.fprofile-diff-flame"


def common(n: int) -> int:
    return sum(range(n))


def shrinks(n: int) -> int:
    return sum(common(50) for _ in range(n))


def fib(n: int) -> int:
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def grows(n: int) -> int:
    return fib(n)


def only_in_a() -> int:
    return common(10)


def only_in_b() -> int:
    return common(20)


def workload(second: bool) -> None:
    for _ in range(3):
        common(500)
        shrinks(40 if second else 400)  # (faster, and still wide enough in b's view to be seen)
        grows(15 if second else 9)
        if second:
            only_in_b()
        else:
            only_in_a()


@pytest.fixture(scope="module")
def comparison():
    runs = []
    for second in (False, True):
        with fj.profile(subs=["test_compare_view"]) as prof:
            workload(second)
        runs.append(prof.trace)
    return fj.compare(*runs, names=("before", "after"))


def test_mimebundle(comparison, monkeypatch):
    # outside a kernel: text only, and the table for nbconvert-like consumers
    bundle = comparison._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/html"}
    assert bundle["text/html"] == comparison._repr_html_()
    # in a kernel: the differential tree too, from which the extension draws
    monkeypatch.setattr(_display, "in_kernel", lambda: True)
    bundle = comparison._repr_mimebundle_()
    # one copy: the text/html fragment holds the payload, the mime type points to it
    assert bundle[_display.COMPARE_MIME] == _display.IN_HTML
    assert 'data-fprofile-fragment="compare"' in bundle["text/html"]
    assert comparison._repr_html_().split("<table", 1)[1][:200] in bundle["text/html"]
    data = _display.output_payload(bundle, _display.COMPARE_MIME)
    assert base64.b64decode(data["flame"]) == comparison.flame_bytes()
    assert data["functions"] == [[r.function, r.file, r.line_a, r.line_b] for r in comparison.functions()]
    assert (data["name_a"], data["name_b"]) == ("before", "after")
    assert set(comparison._repr_mimebundle_(exclude=[_display.COMPARE_MIME])) == {"text/plain", "text/html"}
    monkeypatch.setattr(_display, "MAX_DISPLAY_BYTES", 10)
    assert "too big" in _display.comparison_output(comparison)["error"]


def notebook_with(comparison, monkeypatch) -> dict:
    monkeypatch.setattr(_display, "in_kernel", lambda: True)
    bundle = comparison._repr_mimebundle_()
    return {
        "cells": [{"cell_type": "code", "execution_count": 1, "id": "c1", "metadata": {},
                   "source": "fj.compare(before, after)",
                   "outputs": [{"output_type": "execute_result", "execution_count": 1, "metadata": {}, "data": bundle}]}],
        "metadata": {"kernelspec": {"name": "fprofile-no-such-kernel", "display_name": "Elsewhere", "language": "python"}},
        "nbformat": 4, "nbformat_minor": 5,
    }


PIXELS_JS = """(sel) => {
  const c = document.querySelector(sel);
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let red = 0, blue = 0;
  for (let i = 0; i < d.length; i += 4) {
    if (d[i] > d[i + 2] + 60 && d[i] > d[i + 1] + 40) red++;
    if (d[i + 2] > d[i] + 60) blue++;
  }
  return { red, blue };
}"""


def flat(nodes, depth=0, out=None):
    out = [] if out is None else out
    for n in nodes:
        out.append((depth, n))
        flat(n["children"], depth + 1, out)
    return out


def test_lab_draws_the_differential_flame_graph_without_a_kernel(browser, comparison, monkeypatch, tmp_path, artifacts_dir):
    root = tmp_path / "root"
    root.mkdir()
    (root / "compare.ipynb").write_text(json.dumps(notebook_with(comparison, monkeypatch)), encoding="utf-8")
    with jupyter_server(tmp_path, "lab", ('--KernelSpecManager.allowed_kernelspecs=["fprofile-none"]',)) as url:
        context, page, errors = open_page(browser, url)
        try:
            page.goto(f"{url}/lab/tree/compare.ipynb")
            page.wait_for_selector(f"{DIFF}[data-drawn]", timeout=WAIT_MS)
            page.locator(".jp-Dialog button", has_text="No Kernel").click()
            page.locator(".jp-Dialog").wait_for(state="detached", timeout=WAIT_MS)
            nodes = flat(comparison.flame())
            assert int(page.get_attribute(DIFF, "data-nodes")) == len(nodes)
            # b's paths: slower ones (fib deeper), faster ones (shrinks), new ones (only_in_b)
            drawn = {k: int(page.get_attribute(DIFF, f"data-{k}")) for k in ("slower", "faster", "only-b", "only-a")}
            assert drawn["slower"] > 0 and drawn["faster"] > 0 and drawn["only-b"] > 0, drawn
            assert drawn["only-a"] == 0, "a's paths have no width in b's view"
            px = page.evaluate(PIXELS_JS, DIFF)
            assert px["red"] > 200 and px["blue"] > 200, px
            page.locator(DIFF).scroll_into_view_if_needed()
            page.screenshot(path=os.path.join(artifacts_dir, "compare-lab.png"))
            # hover the top-level path (leftmost, first row): both sides' figures
            top = comparison.flame()[0]
            box = page.locator(DIFF).bounding_box()
            page.mouse.move(box["x"] + 3, box["y"] + 9)
            page.wait_for_selector(".fprofile-tooltip[data-kind=diff]:not([hidden])")
            facts = dict(zip(page.locator(".fprofile-tooltip dt").all_inner_texts(),
                             page.locator(".fprofile-tooltip dd").all_inner_texts()))
            assert page.inner_text(".fprofile-tooltip .fprofile-tooltip-title") == top["function"]
            assert facts["after"].startswith(f"{top['calls_b']:,} call")
            assert _core.format_duration(top["total_ns_a"]) in facts["before"]
            # a's widths show the paths gone in b
            page.select_option("select.fprofile-diff-widths", "a")
            page.wait_for_function(f"Number(document.querySelector('{DIFF}').dataset.onlyA) > 0")
            assert int(page.get_attribute(DIFF, "data-only-b")) == 0
            # the table under it: every function, untrusted so sanitized (no script handlers)
            rows = page.locator(".fprofile-compare-table table.fprofile-compare tbody tr")
            assert rows.count() == len(comparison)
            assert "onclick" not in page.inner_html(".fprofile-compare-table")
            assert not errors, errors
        finally:
            context.close()
