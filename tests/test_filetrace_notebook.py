"""A file-backed trace in the notebook (issue 22): ``prof.trace`` of a recording streamed to an
``.fpt`` outfile, shown with ``trace.show()``, is the windowed timeline (the skeleton, the overview
and windows read from the file by the kernel), its calls never loaded: in a real kernel (nbclient:
what the output holds), and in a real JupyterLab in Debian's Chromium (the timeline drawn windowed,
a zoom answered by the kernel through the comm). The viewer opens a large ``.fpt`` file-backed."""

import json
import os

from kernel_support import errors_of, kernel_cells, text_of

TRACE_MIME = "application/vnd.fprofile-jupyter.trace+json"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"

RECORD = """import fprofile_jupyter as fp
from fprofile_jupyter import _windowed
_windowed.WINDOWED_CALLS = 1000  # (a small run shown as a long one is: windowed)
import threading
def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)
def work():
    for _ in range(20):
        fib(14)
with fp.profile(outfile="run.fpt") as prof:
    ts = [threading.Thread(target=work) for _ in range(2)]
    for t in ts: t.start()
    work()
    for t in ts: t.join()
"""
#: calls of work() and fib(14) in three threads, and the list comprehension: 3 * (1 + 20 * 1219) + 1
CALLS = 3 * (1 + 20 * 1219) + 1

CHECK = "t = prof.trace\nprint(t.file, len(t), t.in_memory)"


def test_kernel_shows_a_file_backed_trace_windowed(tmp_path):
    with kernel_cells(tmp_path, RECORD) as cells:
        shown = cells.run("prof.trace.show()")
        assert not errors_of(shown), shown.outputs
        kinds = [set(o.get("data", {})) for o in shown.outputs if o.output_type == "display_data"]
        assert any(WIDGET_MIME in k for k in kinds), kinds  # the zoomable timeline: a widget
        saved = next(o["data"][TRACE_MIME] for o in shown.outputs if TRACE_MIME in o.get("data", {}))
        assert saved["windowed"]["calls"] == CALLS and saved["windowed"]["overview"]
        out = text_of(cells.run(CHECK)).split()
        assert out == [str(tmp_path / "run.fpt"), str(CALLS), "False"], out
        # the trace as the cell's value: the overview in the output, still not loaded
        value = cells.run("prof.trace")
        data = next(o["data"] for o in value.outputs if o.output_type == "execute_result")
        assert "backed by its file" in data["text/html"] and "image/png" not in data
        assert text_of(cells.run(CHECK)).split()[-1] == "False"
        # what needs every call loads them, once
        assert text_of(cells.run("print(len(prof.trace.calls()), prof.trace.in_memory)")).split() == [str(CALLS), "True"]
        # across cells: %fprofile start -o X.fpt streams; the stop shows the windowed widget, file-backed
        assert not errors_of(cells.run("%load_ext fprofile_jupyter"))
        assert not errors_of(cells.run("%fprofile start -o run2.fpt"))
        cells.run("work()")
        stopped = cells.run("%fprofile stop")
        assert not errors_of(stopped), stopped.outputs
        assert any(WIDGET_MIME in o.get("data", {}) for o in stopped.outputs), stopped.outputs
        out = text_of(cells.run("print(_fprofile_trace.file, _fprofile_trace.in_memory)")).split()
        assert out == [str(tmp_path / "run2.fpt"), "False"], out


NOTEBOOK = {
    "cells": [{"cell_type": "code", "execution_count": None, "id": "fb1", "metadata": {}, "outputs": [],
               "source": RECORD.splitlines(keepends=True)},
              {"cell_type": "code", "execution_count": None, "id": "fb2", "metadata": {}, "outputs": [],
               "source": ["prof.trace.show()"]}],
    "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
    "nbformat": 4, "nbformat_minor": 5,
}


def test_lab_draws_a_file_backed_trace_windowed_and_zooms_from_the_file(browser, tmp_path, artifacts_dir):
    from test_browser_lab import KERNEL_RUN, WAIT_MS, jupyter_server, open_page, run_all_and_wait

    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "backed.ipynb").write_text(json.dumps(NOTEBOOK))
    with jupyter_server(tmp_path, "lab") as url:
        context, page, errors = open_page(browser, url)
        try:
            canvas = run_all_and_wait(page, "/lab/tree/backed.ipynb", url)
            page.wait_for_function("() => document.querySelector('.fprofile-root')?.dataset.windowed === 'live'", timeout=WAIT_MS)
            assert page.get_attribute(".fprofile-root", "data-calls") == str(CALLS)
            assert int(canvas.get_attribute("data-drawn")) > 0
            canvas.scroll_into_view_if_needed()
            box = canvas.bounding_box()
            page.mouse.move(box["x"] + box["width"] * 0.4, box["y"] + box["height"] * 0.5)
            for _ in range(8):
                page.mouse.wheel(0, -300)
            # the kernel answers from the file: the zoomed view is drawn from its reply
            page.wait_for_function("() => Number(document.querySelector('.fprofile-root').dataset.windowReceived) >= 1", timeout=WAIT_MS)
            page.wait_for_function("""() => { const r = document.querySelector('.fprofile-root').dataset;
                return r.windowSent === r.windowReceived; }""", timeout=WAIT_MS)
            # drawn in the frame after the reply: waited for, on the live widget's own canvas
            # (the saved copy of the output is a second timeline on the page)
            page.wait_for_function("""() => Number(document.querySelector(
                '.fprofile-root[data-windowed="live"] canvas.fprofile-zoom')?.dataset.drawn) > 0""", timeout=WAIT_MS)
            page.screenshot(path=os.path.join(artifacts_dir, "lab-file-backed.png"))
            out = page.evaluate(KERNEL_RUN, "print(prof.trace.file.endswith('run.fpt'), prof.trace.in_memory)").split()
            assert out == ["True", "False"], out
            assert not errors, errors
        finally:
            context.close()


def test_the_viewer_opens_a_large_fpt_file_backed(tmp_path, monkeypatch):
    from fprofile_jupyter import _core, _io, _viewer, _windowed

    trace = _core._synthetic_trace(20_000, 3, 2)
    path = str(tmp_path / "big.fpt")
    trace.save(path)
    monkeypatch.setattr(_io, "BACKED_BYTES", 1)
    monkeypatch.setattr(_windowed, "WINDOWED_CALLS", 1000)
    state = _viewer._State()
    answer = state.convert("big.fpt", path=path)
    assert answer["windowed"]["calls"] == len(trace), answer
    conv = state.get(answer["windowed"]["skeleton"].split("/")[-1].split(".")[0])
    assert conv.trace.file == path and not conv.trace.in_memory
    assert conv.skeleton == trace.skeleton_bytes() and conv.overview
