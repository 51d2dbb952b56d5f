"""``%%fprofile --live`` in a real JupyterLab driven through Chromium: the output under the cell is
drawn and updated while the cell runs (a function the cell only starts calling later appears in
it), and is one ordinary timeline once the cell ended."""
from __future__ import annotations

import json
from pathlib import Path

from kernel_support import GATED_LIVE_CELL
from test_browser_lab import KERNEL_IDLE, RUN_ALL, WAIT_MS, deadline, jupyter_server, open_page  # noqa: F401 - deadline: autouse


NOTEBOOK = {
    "cells": [
        {"cell_type": "code", "execution_count": None, "id": "c1", "metadata": {}, "outputs": [],
         "source": ["%load_ext fprofile_jupyter"]},
        {"cell_type": "code", "execution_count": None, "id": "c2", "metadata": {}, "outputs": [],
         "source": GATED_LIVE_CELL.splitlines(keepends=True)},
    ],
    "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
    "nbformat": 4, "nbformat_minor": 5,
}

# the live cell still running: its prompt is [*] (the kernel's status is no signal: the widget's
# comm traffic while the cell runs is answered as idle)
CELL_RUNNING = """() => (document.querySelectorAll('.jp-Cell')[1]?.querySelector('.jp-InputPrompt')?.innerText || '').includes('*')"""
LIVE_SUMMARY = """() => [...document.querySelectorAll('.fprofile-root[data-live="live"] table.fprofile-summary')]
  .map((t) => t.innerText).join('\\n')"""


def test_lab_live_cell_updates_while_it_runs_then_is_the_timeline(browser, tmp_path: Path, artifacts_dir):
    root = tmp_path / "root"
    root.mkdir()
    (root / "live.ipynb").write_text(json.dumps(NOTEBOOK))
    with jupyter_server(tmp_path, "lab") as url:
        context, page, errors = open_page(browser, url)
        try:
            page.goto(url + "/lab/tree/live.ipynb")
            page.wait_for_function(KERNEL_IDLE, timeout=WAIT_MS)
            page.evaluate(RUN_ALL)
            page.wait_for_selector('.fprofile-root[data-live="live"] canvas.fprofile-zoom[data-drawn]', timeout=WAIT_MS)
            first = page.evaluate(LIVE_SUMMARY)
            assert "early" in first and "late" not in first
            assert page.evaluate(CELL_RUNNING)  # drawn while the cell runs
            (root / "go").touch()
            page.wait_for_function(f"() => ({LIVE_SUMMARY})().includes('late')", timeout=WAIT_MS)
            assert page.evaluate(CELL_RUNNING)  # updated while the cell still runs
            page.screenshot(path=str(Path(artifacts_dir) / "lab-live-cell.png"))
            (root / "stop").touch()
            page.wait_for_function(f"() => !({CELL_RUNNING})()", timeout=WAIT_MS)
            page.wait_for_function("() => !document.querySelector('.fprofile-root[data-live=\"live\"]')", timeout=WAIT_MS)
            # one output under the cell: the ordinary timeline of the whole trace
            cell = page.locator(".jp-Cell").nth(1)
            cell.locator("canvas.fprofile-zoom[data-drawn]").first.wait_for(timeout=WAIT_MS)
            assert cell.locator(".jp-OutputArea-child").count() == 1
            assert cell.locator(".fprofile-root").count() == 1
            text = cell.locator("table.fprofile-summary").first.inner_text()
            assert "early" in text and "late" in text
            assert not errors, errors
        finally:
            context.close()
