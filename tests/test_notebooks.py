"""Every example notebook executed by nbclient in a real kernel, and the display of a trace.

nbclient runs no JavaScript, so the checks read what the kernel sent: the trace output
(``application/vnd.fprofile-jupyter.trace+json``: the trace in the compact format, base64, decoded
here with ``Trace.from_bytes``), the static HTML copy, tracebacks.
"""
from __future__ import annotations

import base64
import html
import json
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

import fprofile_jupyter
from fprofile_jupyter import _core, _display

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
SKIP = {"rust_trace.ipynb"}  # an evcxr (Rust) kernel notebook, tested with the viewer
TRACE_MIME = _display.TRACE_MIME

ALL_NOTEBOOKS = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb") if p.name not in SKIP)


def test_the_three_examples_exist():
    assert {"pipeline.ipynb", "numpy_builtins.ipynb", "context_manager.ipynb"} <= set(ALL_NOTEBOOKS)


@pytest.mark.parametrize("name", ALL_NOTEBOOKS)
def test_notebooks_are_stored_without_outputs(name):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, (name, cell.source[:40])
    assert "widgets" not in nb.metadata


_executed: dict[str, nbformat.NotebookNode] = {}


def execute(name: str, tmp_path_factory) -> nbformat.NotebookNode:
    """Execute a notebook once per test session (in a scratch folder) and cache the result."""
    if name not in _executed:
        nb = nbformat.read(NOTEBOOKS / name, as_version=4)
        work = tmp_path_factory.mktemp(name.replace(".", "_"))
        NotebookClient(nb, timeout=120, kernel_name="python3",
                       resources={"metadata": {"path": str(work)}}).execute()
        assert list(work.iterdir()) == [], "the notebook wrote files without being asked"
        _executed[name] = nb
    return _executed[name]


def widget_traces(nb, cell) -> list:
    """The traces shown by the outputs of one cell, decoded from the outputs themselves."""
    assert "widgets" not in nb.metadata, "a displayed trace makes no widget (no widget state)"
    traces = []
    for out in cell.outputs:
        if out.get("output_type") in ("display_data", "execute_result") and TRACE_MIME in out.get("data", {}):
            assert out["data"][TRACE_MIME] == _display.IN_HTML  # one copy: in the text/html fragment
            payload = _display.output_payload(out["data"])
            assert set(payload) == {"fpt"}, set(payload)
            traces.append(fprofile_jupyter.Trace.from_bytes(base64.b64decode(payload["fpt"])))
    return traces


def check_display(out):
    """A displayed trace: the trace output + the static HTML copy + the picture + text."""
    data = out["data"]
    assert set(data) == {TRACE_MIME, "text/plain", "text/html", "image/png"}, set(data)
    assert base64.b64decode(data["image/png"])[:8] == b"\x89PNG\r\n\x1a\n"
    assert "fprofile-static-caption" in data["text/html"] and "fprofile-summary-static" in data["text/html"]
    assert "<iframe" not in data["text/html"] and 'data-fprofile-fragment="trace"' in data["text/html"]
    assert "object at 0x" not in data["text/plain"]


def cells_with(nb, text):
    return [c for c in nb.cells if c.cell_type == "code" and text in c.source]


def fn_names(trace) -> list:
    return [c.function for c in trace.calls()]


def test_pipeline_notebook(tmp_path_factory):
    nb = execute("pipeline.ipynb", tmp_path_factory)
    (main,) = [c for c in nb.cells if c.source.startswith("%%fprofile\ntotals")]
    kinds = [o.output_type for o in main.outputs]
    # the cell's own result first, as without the magic, then the timeline; nothing printed
    assert kinds == ["execute_result", "display_data"], [o.get("text", o.output_type) for o in main.outputs]
    check_display([o for o in main.outputs if o.output_type == "display_data"][0])
    (trace,) = widget_traces(nb, main)
    names = {t.name for t in trace.threads}
    assert {"MainThread", "producer", "consumer"} <= names
    workers = {n for n in names if n.startswith("worker")}
    assert 1 <= len(workers) <= 4, names
    fns = fn_names(trace)
    assert fns.count("run_pipeline") == 1 and fns.count("producer") == 1 and fns.count("consumer") == 1
    assert fns.count("read_record") == 300 and fns.count("process") == 300 and fns.count("score") == 300
    # workers' calls are in the worker threads
    by_thread = {t.index: t.name for t in trace.threads}
    assert {by_thread[c.thread] for c in trace.calls() if c.function == "score"} == workers
    # the same trace as the in-memory one the magic kept
    assert len(trace) == len(fns) > 1000

    (line,) = cells_with(nb, "%fprofile totals = run_pipeline(n=100")
    (t2,) = widget_traces(nb, line)
    assert fn_names(t2).count("process") == 100


def test_pipeline_exception_shows_traceback_and_partial_trace(tmp_path_factory):
    nb = execute("pipeline.ipynb", tmp_path_factory)
    (cell,) = cells_with(nb, "flaky_stage(read_record(i))")
    errors = [o for o in cell.outputs if o.output_type == "error"]
    assert errors[0].ename == "ValueError" and "bad record record-0007" in errors[0].evalue
    tb = "\n".join(errors[0].traceback)
    assert "flaky_stage" in tb and "raise ValueError" in re.sub(r"\x1b\[[0-9;]*m", "", tb)
    # the partial trace: up to the failing record
    (trace,) = widget_traces(nb, cell)
    fns = fn_names(trace)
    assert fns.count("flaky_stage") == 8 and fns.count("read_record") == 8
    # the widget comes after the traceback; the cell still counts as failed
    kinds = [o.output_type for o in cell.outputs]
    assert kinds.index("display_data") > kinds.index("error")
    assert errors[-1].ename == "ProfiledCellError" and "ValueError" in "".join(errors[-1].traceback)


def test_numpy_builtins_notebook(tmp_path_factory):
    nb = execute("numpy_builtins.ipynb", tmp_path_factory)
    with_builtins, without = cells_with(nb, "%%fprofile")
    assert "--builtins" in with_builtins.source and "--builtins" not in without.source
    (t1,) = widget_traces(nb, with_builtins)
    (t2,) = widget_traces(nb, without)
    f1, f2 = fn_names(t1), fn_names(t2)
    assert f1.count("analyse") == f2.count("analyse") == 8
    assert f1.count("spectrum") == 8 and f2.count("smooth") == 8
    c_calls = [f for f in f1 if f not in set(f2)]
    assert any("sorted" in f for f in c_calls), sorted(set(c_calls))
    for name in ("arange", "dot", "argmax", "tolist"):
        assert any(name in f for f in c_calls), (name, sorted(set(c_calls)))
    assert not any("sorted" in f for f in f2)
    res = [o for o in with_builtins.outputs if o.output_type == "execute_result"]
    assert res and "text/plain" in res[0].data


def test_context_manager_notebook(tmp_path_factory):
    nb = execute("context_manager.ipynb", tmp_path_factory)
    (last_expr,) = cells_with(nb, "p.trace")[:1]
    outs = [o for o in last_expr.outputs if o.output_type == "execute_result"]
    assert outs, "p.trace as the last expression must display"
    assert len(last_expr.outputs) == 1, [o.get("text", o.output_type) for o in last_expr.outputs]
    check_display(outs[0])
    (trace,) = widget_traces(nb, last_expr)
    names = {t.name for t in trace.threads}
    assert {"MainThread", "fib-0", "fib-1", "fib-2"} <= names
    fns = fn_names(trace)
    assert fns.count("work") == 4 and fns.count("in_threads") == 1
    # fib(16) + fib(14) + fib(15) + fib(16): calls of a naive fib(n) = 2*F(n+1) - 1
    fib_calls = {14: 1219, 15: 1973, 16: 3193}
    assert fns.count("fib") == 2 * fib_calls[16] + fib_calls[14] + fib_calls[15]
    (printed,) = cells_with(nb, "print(len(trace)")
    assert f"{len(trace)} calls in 4 threads" in printed.outputs[0].text
    (shown,) = cells_with(nb, "p.show()")
    (again,) = widget_traces(nb, shown)
    assert again == trace


# -- the display of a trace (mimebundle, static fallback, widget payload) ------------------------

def small_trace(name="work", file="/tmp/ipykernel_1/cell.py", title=None):
    codes = [(file, name, 3), (file, "inner", 7)]
    events = [(1_000, 0, False), (2_000, 1, False), (5_000, 1, True), (9_000, 0, True)]
    meta = [("title", title)] if title else None
    return _core._build_trace(codes, [(11, "MainThread", events)], start_ns=0, stop_ns=10_000, metadata=meta)


@pytest.fixture
def in_kernel(monkeypatch):
    monkeypatch.setattr(_display, "in_kernel", lambda: True)


def test_mimebundle_outside_a_kernel_is_text_only():
    trace = small_trace()
    assert _display.mimebundle(trace) == {"text/plain": repr(trace)}


def test_mimebundle_has_the_trace_html_and_text(in_kernel):
    trace = small_trace()
    bundle = _display.mimebundle(trace)
    assert set(bundle) == {"text/plain", "text/html", TRACE_MIME, "image/png"}
    assert bundle["text/plain"] == repr(trace)
    assert base64.b64decode(bundle["image/png"]) == trace.picture_png()
    assert bundle[TRACE_MIME] == _display.IN_HTML
    assert _display.output_payload(bundle) == {"fpt": base64.b64encode(trace.to_bytes()).decode()}
    page = bundle["text/html"]
    assert page.startswith('<div class="fprofile-fragment"') and "<iframe" not in page
    assert '<div class="fprofile-static-part"><div class="fprofile-static-caption"' in page
    assert "fprofile · 2 calls · 1 thread · " in page and "most time: work 8 µs, inner 3 µs" in page
    assert "fprofile-summary-static" in page and "trace.save(&#x27;run.html&#x27;)" in page
    # Trace's own hook goes through the same function (each output's fragment has its own id)
    same_ids = lambda b: {k: re.sub(r'id="fprofile-[0-9a-f]{32}"', "", v) if k == "text/html" else v  # noqa: E731
                          for k, v in b.items()}
    assert same_ids(trace._repr_mimebundle_()) == same_ids(bundle)
    assert trace._repr_mimebundle_()["text/html"] != bundle["text/html"]


def test_mimebundle_include_exclude(in_kernel):
    trace = small_trace()
    assert set(_display.mimebundle(trace, include=["text/plain"])) == {"text/plain"}
    assert set(_display.mimebundle(trace, exclude=[TRACE_MIME])) == {"text/plain", "text/html", "image/png"}
    assert set(_display.mimebundle(trace, exclude=["image/png"])) == {"text/plain", "text/html", TRACE_MIME}
    # without the text/html, the mime type holds the trace itself
    alone = _display.mimebundle(trace, include=[TRACE_MIME, "text/plain"])
    assert alone[TRACE_MIME] == {"fpt": base64.b64encode(trace.to_bytes()).decode()}


def _png(width: int, height: int) -> bytes:
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + b"\x80\x20\x20" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def test_the_picture_goes_in_the_bundle_and_the_static_part_when_the_trace_has_one(in_kernel, monkeypatch):
    """``_display._picture_png`` wires ``Trace.picture_png()`` (the Rust core's overview picture)
    into the output: an ``image/png`` entry (GitHub, nbviewer) and an ``<img>`` in the static part."""
    trace = small_trace()
    png = _png(40, 10)

    class WithPicture:
        def __init__(self, t, picture):
            self._t, self._picture = t, picture

        def __getattr__(self, name):
            return getattr(self._t, name)

        def __len__(self):
            return len(self._t)

        def __repr__(self):
            return repr(self._t)

        def picture_png(self):
            return self._picture()

    bundle = _display.mimebundle(WithPicture(trace, lambda: png))
    assert base64.b64decode(bundle["image/png"]) == png
    static = bundle["text/html"].split("<script")[0]
    assert f'src="data:image/png;base64,{base64.b64encode(png).decode()}"' in static
    # the real trace: the core's picture
    assert base64.b64decode(_display.mimebundle(trace)["image/png"]) == trace.picture_png()
    # when it fails, or a trace without the method: no picture, the rest as before
    def broken():
        raise RuntimeError("no picture")

    class WithoutPicture:
        def __init__(self, t):
            self._t = t

        def __getattr__(self, name):
            if name == "picture_png":
                raise AttributeError(name)
            return getattr(self._t, name)

        def __len__(self):
            return len(self._t)

        def __repr__(self):
            return repr(self._t)

    for t in (WithoutPicture(trace), WithPicture(trace, broken)):
        b = _display.mimebundle(t)
        assert "image/png" not in b and "<img" not in b["text/html"].split("<script")[0]
        assert "fprofile-summary-static" in b["text/html"]


def test_a_trace_too_big_for_the_notebook_says_so_with_the_numbers(in_kernel, monkeypatch):
    trace = small_trace()
    monkeypatch.setattr(_display, "MAX_DISPLAY_CALLS", 1)
    out = _display.output_payload(_display.mimebundle(trace))
    assert set(out) == {"error"} and "2 calls" in out["error"] and "limits are 1 calls" in out["error"]
    monkeypatch.setattr(_display, "MAX_DISPLAY_CALLS", 10)
    monkeypatch.setattr(_display, "MAX_DISPLAY_BYTES", 16)
    bundle = _display.mimebundle(trace)
    out = _display.output_payload(bundle)
    assert f"{len(trace.to_bytes())} bytes" in out["error"] and "fprofile view" in out["error"]
    # where scripts do not run, the static part says the same, with the command
    static = bundle["text/html"].split("<script")[0]
    assert "too big to show in the notebook" in static and "fprofile view run.fpt" in static


def test_static_copy_is_escaped(in_kernel):
    trace = small_trace(name="<img src=x onerror=alert(1)>", file="/tmp/<b>evil</b>.py", title='run "A" <1>')
    page = _display.mimebundle(trace, include=["text/html"])["text/html"]
    assert "<img src=x" not in page and "<b>evil" not in page and "<1>" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page and "&lt;b&gt;evil&lt;/b&gt;" in page
    assert "run &quot;A&quot; &lt;1&gt;" in page and "2 calls in 1 thread" in page


def test_widget_payload_and_esm_once():
    from fprofile_jupyter._widget import TimelineWidget

    trace = small_trace()
    w = TimelineWidget(trace)
    assert w.data == trace.to_bytes() and json.loads(w.summary) == {"overall": json.loads(trace.summary_json())["overall"]}
    assert w.error == "" and w.trace == trace
    assert fprofile_jupyter.Trace.from_bytes(w.data) == trace
    esm = TimelineWidget._esm
    assert isinstance(esm, str) and "export default" in esm and "createTimeline" in esm
    assert not re.search(r"^\s*import\s", esm, re.M), "the widget bundle must be self-contained"
    assert TimelineWidget(trace)._esm is esm  # set once on the class (anywidget#613)
    assert fprofile_jupyter.TimelineWidget is TimelineWidget  # public, imported when asked for
    assert "fprofile" in TimelineWidget._css


def test_widget_refuses_a_trace_too_big_with_the_numbers(monkeypatch):
    from fprofile_jupyter import _widget

    trace = small_trace()
    monkeypatch.setattr(_display, "MAX_DISPLAY_CALLS", 1)
    w = _widget.TimelineWidget(trace)
    assert w.data == b"" and "2 calls" in w.error and "limits are 1 calls" in w.error
    assert w.trace is None
    monkeypatch.setattr(_display, "MAX_DISPLAY_CALLS", 10)
    monkeypatch.setattr(_display, "MAX_DISPLAY_BYTES", 16)
    w = _widget.TimelineWidget(trace)
    assert w.data == b"" and f"{len(trace.to_bytes())} bytes" in w.error and "fprofile view" in w.error


def test_show_outside_a_kernel_prints_text(capsys):
    trace = small_trace()
    fprofile_jupyter.show(trace)
    assert capsys.readouterr().out.strip() == repr(trace)


def test_static_copy_with_markup_in_every_name(in_kernel):
    """Function, file, thread names and title holding markup, quotes and U+2028: the static copy
    (caption and table) stays text."""
    evil_fn = "</script><script>alert(1)</script><!--\u2028"
    evil_file = "/tmp/\"'&<u>x</u>.py"
    evil_thread = "<img src=x onerror=alert(1)>"
    codes = [(evil_file, evil_fn, 3)]
    trace = _core._build_trace(codes, [(11, evil_thread, [(1_000, 0, False), (9_000, 0, True)])],
                               start_ns=0, stop_ns=10_000, metadata=[("title", '"><script>alert(3)</script>')])
    page = _display.mimebundle(trace, include=["text/html"])["text/html"]
    # the fragment: the static part, then our two scripts (the payload, the page code), nothing else
    static, rest = page.split('<script type="application/json" class="fprofile-payload">', 1)
    for bad in ("<script", "<img src=x", "<u>", "<!--"):
        assert bad not in static, bad
    assert page.count("<script") == 2 and page.count("</script") == 2
    payload = rest.split("</script>", 1)[0]
    assert "<" not in payload and "\u2028" not in payload  # names only as JSON escapes / base64

    def core_escape(s):  # the table is the core's (fprofile::escape::html_escape writes ' as &#39;)
        return html.escape(s).replace("&#x27;", "&#39;")

    assert core_escape(evil_fn) in static and core_escape(evil_file) in static


def test_static_caption_is_escaped():
    trace = small_trace(name="<script>alert(1)</script>")
    text = _display.caption(trace)
    assert "<script>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
