"""Window queries from Python (``Trace.window_bytes``) and the windowed timeline widget.

- the binding: bad requests are one ``ValueError`` each, the reply's size follows the pixels;
- the widget glue (js/hosts/widget.js, with a stand-in for anywidget's model whose custom
  messages go to the real ``TimelineWidget`` in this process and back) in headless Chromium: a
  trace above the threshold is drawn from its skeleton and overview, zoom and pan fetch new
  windows, a reply to an id no longer awaited is ignored, and what is drawn for a window is what
  the whole-trace path draws for it (the calls drawn one by one, compared by their index);
  The flame graph (f) of a window is asked of the kernel and drawn with trace.flame()'s nodes; the
  search highlights functions and counts every call (the summary's rows);
- in a real JupyterLab (a kernel, the comm, the widget manager): a windowed TimelineWidget draws,
  and zooming fetches windows from the kernel.
"""
from __future__ import annotations

import base64
import os

import pytest

from fprofile_jupyter import _core

from test_browser_lab import DRAWN, glue_page  # noqa: F401  (a fixture)
from test_flame_view import FLAME, tooltip_facts


def span(trace):
    return min(t.first_ns for t in trace.threads), max(t.last_ns for t in trace.threads)


def test_window_bytes_bad_requests_are_value_errors():
    trace = _core._synthetic_trace(10_000, 2, 3)
    a, b = span(trace)
    cases = [
        ((a, a, 100), "empty window"),
        ((b, a, 100), "empty window"),
        ((a, b, 0), "width of 0 px"),
        ((a, b, 10**9), "width of 1000000000 px"),
        ((b + 10, b + 1000, 100), "is outside the trace"),
        ((a - 1000, a - 10, 100), "is outside the trace"),
    ]
    for args, message in cases:
        with pytest.raises(ValueError, match=message):
            trace.window_bytes(*args)
    with pytest.raises(ValueError, match="thread 5 is not in the trace"):
        trace.window_bytes(a, b, 100, threads=[5])
    with pytest.raises(ValueError, match="no calls"):
        _core._synthetic_trace(0, 1, 1).window_bytes(0, 10, 10)
    with pytest.raises(OverflowError):
        trace.window_bytes(-(2**70), b, 100)


def test_window_reply_size_follows_pixels_not_calls():
    small = _core._synthetic_trace(100_000, 4, 1)
    big = _core._synthetic_trace(1_000_000, 4, 1)
    sizes = [len(t.window_bytes(*span(t), 1000)) for t in (small, big)]
    assert sizes[1] < 2 * sizes[0], sizes
    assert sizes[1] < 1_000_000, sizes
    assert len(big.window_bytes(*span(big), 1000, zlib_level=6)) < sizes[1]
    only = big.window_bytes(*span(big), 1000, threads=[2])
    assert 0 < len(only) < sizes[1]
    sk = big.skeleton_bytes()
    assert len(_core.Trace.from_bytes(sk)) == 0 and len(_core.Trace.from_bytes(sk).threads) == 4


# -- the widget glue, its messages answered by the real TimelineWidget ---------------------------

MESSAGES_JS = """() => {
  // custom messages: the page's sends are queued for Python; Python's go to the msg:custom handlers
  const model = window.model;
  window.outbox = [];
  model.send = (content) => { window.outbox.push(content); };
  window.deliver = (content, b64) => {
    const bin = b64 === null ? null : atob(b64);
    const buffers = [];
    if (bin !== null) {
      const bytes = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
      buffers.push(new DataView(bytes.buffer));
    }
    for (const fn of model.handlers('msg:custom')) fn(content, buffers);
  };
}"""


@pytest.fixture
def windowed_page(glue_page, monkeypatch):  # noqa: F811  (the fixture imported above)
    """The widget glue's page (test_browser_lab.glue_page), windowed above 1000 calls."""
    from fprofile_jupyter import _windowed

    monkeypatch.setattr(_windowed, "WINDOWED_CALLS", 1000)
    return glue_page


def model_state(w) -> dict:
    def b64(v):
        return base64.b64encode(v).decode()
    return {"data": b64(w.data), "summary": w.summary, "error": w.error, "height": 0,
            "window_start_ns": w.window_start_ns, "window_end_ns": w.window_end_ns,
            "windowed": w.windowed, "skeleton": b64(w.skeleton), "overview": b64(w.overview), "calls": w.calls}


def render(page, w):
    page.evaluate("""(s) => {
      for (const k of ['data', 'skeleton', 'overview']) s[k] = toView(s[k]);
      window.model = makeModel(s);
    }""", model_state(w))
    page.evaluate(MESSAGES_JS)
    page.evaluate("() => { window.cleanup = widget.render({ model: window.model, el: document.getElementById('host') }); }")


class Kernel:
    """Answers the page's requests with the widget's own handler, as the comm would."""

    def __init__(self, page, widget):
        self.page, self.widget, self.replies = page, widget, []
        widget.send = lambda content, buffers=None: self.replies.append((content, buffers))

    def requests(self) -> list:
        return self.page.evaluate("() => window.outbox.splice(0)")

    def answer(self, msg) -> tuple:
        self.widget._on_window_request(self.widget, msg, [])
        return self.replies.pop()

    def deliver(self, content, buffers):
        b64 = base64.b64encode(bytes(buffers[0])).decode() if buffers else None
        self.page.evaluate("([c, b]) => window.deliver(c, b)", [content, b64])

    def serve_all(self) -> int:
        """Answer requests until none is left: a reply releases the request of a view wanted while
        it was awaited; how many."""
        n = 0
        for _ in range(20):
            self.page.wait_for_function("""() => { const r = document.querySelector('.fprofile-root').dataset;
                return window.outbox.length > 0 || r.windowSent === r.windowReceived; }""")
            if self.page.evaluate("() => window.outbox.length") == 0:
                return n
            n += self.serve()
        raise AssertionError("the page kept asking for windows")

    def serve(self) -> int:
        """Answer every request sent so far, in order; how many."""
        n = 0
        for msg in self.requests():
            self.deliver(*self.answer(msg))
            n += 1
        return n


def root_data(page, key: str) -> str:
    return page.evaluate(f"() => document.querySelector('.fprofile-root')?.dataset['{key}'] ?? null")


def wheel_zoom(page, factor_steps: int, fx: float = 0.5):
    box = page.query_selector("canvas.fprofile-zoom").bounding_box()
    page.mouse.move(box["x"] + box["width"] * fx, box["y"] + box["height"] * 0.5)
    for _ in range(factor_steps):
        page.mouse.wheel(0, -300)


def test_windowed_widget_draws_fetches_and_drops_stale_replies(windowed_page, artifacts_dir):
    import json

    from fprofile_jupyter import _widget

    page, errors = windowed_page
    trace = _core._synthetic_trace(300_000, 4, 11)
    w = _widget.TimelineWidget(trace)
    assert w.windowed and not w.data and w.calls == len(trace)
    assert len(w.overview) < 1_000_000 and len(w.skeleton) < 10_000
    kernel = Kernel(page, w)
    render(page, w)
    canvas = page.wait_for_selector(DRAWN)
    assert int(canvas.get_attribute("data-drawn")) > 100
    assert root_data(page, "windowed") == "live"
    assert root_data(page, "calls") == str(len(trace))
    assert "fetches what the view shows" in page.inner_text(".fprofile-windowed-note")
    # no dead controls: what needs every call is not offered (the flame graph: merged by the kernel)
    assert page.locator("button.fprofile-flame-toggle").is_visible()
    assert "flame graph (f) is merged by the kernel" in page.inner_text(".fprofile-windowed-note")
    assert page.locator(".fprofile-filterbar").is_hidden()
    # the search: the functions matching (the skeleton has them all), counting every call (the summary's rows)
    page.fill("input.fprofile-search", "function_1")
    page.wait_for_selector(".fprofile-root[data-search-active]")
    rows = [r for r in json.loads(trace.summary_json(overall_only=True))["overall"] if "function_1" in r["function"]]
    fns, calls = page.inner_text(".fprofile-search-count").split(", ")
    # the functions of the trace matching (some never called: no summary row), their calls all counted
    assert rows and int(fns.split()[0]) >= len(rows) and calls == f"{sum(r['calls'] for r in rows):,} calls"
    page.fill("input.fprofile-search", "")
    page.wait_for_function("() => !document.querySelector('.fprofile-root').hasAttribute('data-search-active')")
    assert int(canvas.get_attribute("data-runs")) > 0, "a 300k-call run at 1200 px has merged calls"
    # the whole run is the overview: nothing asked yet
    assert kernel.requests() == []

    # a little zoom: the overview (2000 px over the whole run) is still sharp enough: no request
    wheel_zoom(page, 1)
    page.wait_for_function("() => document.querySelector('.fprofile-root').dataset.windowStartNs !== '1000'")
    assert page.evaluate("() => window.outbox.length") == 0
    # zoom more: one request in flight; zooming on sends nothing more until it is answered
    wheel_zoom(page, 3)
    page.wait_for_function("() => window.outbox.length === 1")
    first = kernel.requests()[0]
    assert first["type"] == "window" and first["t1"] > first["t0"] and first["px"] > 1000
    wheel_zoom(page, 3)
    page.wait_for_timeout(300)  # let any (wrong) extra request arrive before counting
    assert page.evaluate("() => window.outbox.length") == 0
    reply = kernel.answer(first)
    assert reply[0] == {"type": "window", "id": first["id"]}
    # a reply to an id never asked for (or no longer awaited) is dropped
    kernel.deliver({"type": "window", "id": first["id"] + 50}, reply[1])
    page.wait_for_function("() => document.querySelector('.fprofile-root').dataset.windowStale === '1'")
    kernel.deliver(*reply)
    # the answer releases the latest view's request (the three zooms: one request)
    page.wait_for_function("() => window.outbox.length === 1")
    latest = kernel.requests()[0]
    assert latest["id"] == first["id"] + 1
    assert latest["t1"] - latest["t0"] < first["t1"] - first["t0"]
    kernel.deliver(*kernel.answer(latest))
    page.wait_for_function(f"""() => document.querySelector('.fprofile-root').dataset.windowReply === '{latest["t0"]},{latest["t1"]},{latest["px"]}'""")
    assert root_data(page, "windowReceived") == "2" and root_data(page, "windowStale") == "1"
    # the same reply delivered again is stale too
    kernel.deliver({"type": "window", "id": latest["id"]}, kernel.replies[-1][1] if kernel.replies else reply[1])
    page.wait_for_function("() => document.querySelector('.fprofile-root').dataset.windowStale === '2'")

    # pan far: a new window is fetched; until it comes the view is drawn (stretched), never blank
    box = page.query_selector("canvas.fprofile-zoom").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.8, box["y"] + box["height"] * 0.6)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.1, box["y"] + box["height"] * 0.6, steps=8)
    page.mouse.up()
    page.wait_for_function("() => window.outbox.length >= 1")
    assert int(page.get_attribute("canvas.fprofile-zoom", "data-drawn")) > 0
    assert kernel.serve_all() >= 1

    # a bad request (the kernel's answer: an error message) is shown, the view stays
    kernel.deliver({"type": "window-error", "id": 12345, "message": "fprofile: no window: test"}, None)
    page.screenshot(path=os.path.join(artifacts_dir, "widget-windowed.png"))
    assert w.requests >= 3
    page.evaluate("() => window.cleanup()")
    assert page.evaluate("() => window.model.listeners()") == 0
    assert not errors, errors


def flat_flame(nodes, depth=0) -> list:
    """trace.flame()'s nested nodes in pre-order as (depth, code, total_ns, self_ns, calls)."""
    out = []
    for n in nodes:
        out.append((depth, n["code"], n["total_ns"], n["self_ns"], n["calls"]))
        out.extend(flat_flame(n["children"], depth + 1))
    return out


def test_flame_reply_is_the_core_flame_of_the_request():
    import struct

    from fprofile_jupyter import _windowed

    trace = _core._synthetic_trace(20_000, 3, 5)
    a, b = span(trace)
    win = (a + (b - a) // 3, a + (b - a) // 2)
    reply = _windowed.flame_reply(trace, [0, 2], *win)
    values = struct.unpack(f"<{len(reply) // 8}d", reply)
    nodes = [tuple(int(v) for v in values[k:k + 5]) for k in range(0, len(values), 5)]
    assert nodes and nodes == flat_flame(trace.flame(threads=[0, 2], window=win))
    assert _windowed.flame_reply(trace, [1], None, None) == _core.flame_bytes(trace, [1])
    assert _windowed.flame_reply(trace, [], None, None) == b""
    for args, message in [((None, 0, 1), "list of thread indices"), ((["x"], 0, 1), "list of thread indices"),
                          (([0], "a", 1), "integer t0 and t1"), (([0], 1, None), "integer t0 and t1"),
                          (([0], 10, 5), "ends before it starts")]:
        with pytest.raises(ValueError, match=message):
            _windowed.flame_reply(trace, *args)
    with pytest.raises(IndexError, match="out of range"):
        _windowed.flame_reply(trace, [7], None, None)


def flame_attr(page, name: str):
    return page.get_attribute(FLAME, f"data-{name}")


def settle(page, kernel):
    """Answer the page's requests (windows and flame graphs) until it waits for none."""
    for _ in range(20):
        page.wait_for_function(f"""() => {{ const r = document.querySelector('.fprofile-root').dataset;
            const f = document.querySelector('{FLAME}').dataset;
            return window.outbox.length > 0 || (r.windowSent === r.windowReceived && f.pending === '0'); }}""")
        if kernel.serve() == 0:
            return
    raise AssertionError("the page kept asking")


def test_windowed_widget_flame_graph_from_the_kernel(windowed_page, artifacts_dir):
    """f in windowed mode: the page asks the kernel for the flame graph of its window and visible
    threads and draws it as a merged one: the same nodes and figures as trace.flame() in Python;
    one request in flight, the latest wanted sent next, a stale reply dropped."""
    from fprofile_jupyter import _widget

    page, errors = windowed_page
    trace = _core._synthetic_trace(300_000, 4, 11)
    w = _widget.TimelineWidget(trace)
    kernel = Kernel(page, w)
    render(page, w)
    page.wait_for_selector(DRAWN)
    # zoom in: the flame graph is the window's, not the whole run's
    wheel_zoom(page, 4)
    kernel.serve_all()
    page.locator(".fprofile-root").focus()
    page.keyboard.press("f")
    page.wait_for_function("() => window.outbox.some((m) => m.type === 'flame')")
    assert flame_attr(page, "pending") == "1"
    assert "Merging the calls of this window" in page.inner_text(".fprofile-flame-note")
    msgs = kernel.requests()
    (ask,) = [m for m in msgs if m["type"] == "flame"]
    start, end = (round(float(page.get_attribute(".fprofile-root", f"data-window-{k}-ns"))) for k in ("start", "end"))
    assert ask["threads"] == [0, 1, 2, 3] and (ask["t0"], ask["t1"]) == (start, end)
    for m in msgs:
        kernel.deliver(*kernel.answer(m))
    page.wait_for_selector(f"{FLAME}[data-pending='0']")
    assert page.get_attribute(".fprofile-root", "data-view") == "flame"
    want = trace.flame(threads=[0, 1, 2, 3], window=(start, end))
    assert want and int(flame_attr(page, "nodes")) == len(flat_flame(want))
    assert flame_attr(page, "window") == f"{start},{end}"
    assert int(flame_attr(page, "drawn")) > 0
    assert page.locator("button.fprofile-sandwich-toggle").is_hidden(), "no callers and callees from the kernel"
    total = sum(n["total_ns"] for n in want)
    assert page.inner_text(".fprofile-flame-note").endswith(_core.format_duration(total))
    # hover: the heaviest top-level node's figures are Python's
    top = want[0]
    box = page.locator(FLAME).bounding_box()
    page.mouse.move(box["x"] + 4, box["y"] + 9)
    title, facts = tooltip_facts(page)
    assert title == top["function"]
    assert facts["Calls"] == f"{top['calls']:,}"
    assert facts["Total"] == _core.format_duration(top["total_ns"])
    assert facts["Self"] == _core.format_duration(top["self_ns"])
    # click its heaviest child: zoomed into that path (breadcrumb), the child's figures Python's too
    child = top["children"][0]
    page.mouse.click(box["x"] + 4, box["y"] + 18 * 1.5)
    page.wait_for_selector(f"{FLAME}[data-focus='2']")
    assert page.locator(".fprofile-flame-crumb").all_inner_texts() == ["All", top["function"], child["function"]]
    box = page.locator(FLAME).bounding_box()  # the selection may have changed the layout
    page.mouse.move(box["x"] + box["width"] - 5, box["y"] + 18 * 1.5)
    title, facts = tooltip_facts(page)
    assert title == child["function"] and facts["Total"] == _core.format_duration(child["total_ns"])
    page.keyboard.press("Escape")
    page.wait_for_selector(f"{FLAME}[data-focus='1']")
    page.screenshot(path=os.path.join(artifacts_dir, "widget-windowed-flame.png"))

    # selecting a function from the flame graph leaves the window (and so the flame graph) as it was
    settle(page, kernel)
    assert flame_attr(page, "window") == f"{start},{end}"
    assert page.get_attribute(".fprofile-root", "data-window-start-ns") == str(start)
    asked = w.flame_requests

    # two scopes chosen in a row: one request in flight, the latest sent when it is answered
    page.select_option("select.fprofile-flame-scope", "t:1")
    page.wait_for_function("() => window.outbox.length === 1")
    page.select_option("select.fprofile-flame-scope", "t:2")
    page.wait_for_timeout(200)  # let any (wrong) extra request arrive before counting
    (first,) = kernel.requests()
    assert first["type"] == "flame" and first["threads"] == [1] and (first["t0"], first["t1"]) == (start, end)
    assert flame_attr(page, "pending") == "1"
    kernel.deliver(*kernel.answer(first))
    page.wait_for_function("() => window.outbox.length === 1")
    (latest,) = kernel.requests()
    assert latest["threads"] == [2] and latest["id"] == first["id"] + 1
    # a reply to an id no longer awaited is dropped: still waiting
    kernel.deliver({"type": "flame", "id": first["id"]}, [_core.flame_bytes(trace, [1], (start, end))])
    page.wait_for_timeout(200)
    assert flame_attr(page, "pending") == "1"
    kernel.deliver(*kernel.answer(latest))
    page.wait_for_selector(f"{FLAME}[data-pending='0']")
    assert int(flame_attr(page, "nodes")) == len(flat_flame(trace.flame(threads=[2], window=(start, end))))
    assert w.flame_requests == asked + 2
    # f: back to the timeline
    page.locator(".fprofile-root").focus()
    page.keyboard.press("f")
    page.wait_for_selector("canvas.fprofile-zoom:visible")
    page.evaluate("() => window.cleanup()")
    assert not errors, errors


def test_windowed_drawing_matches_the_whole_trace_path(windowed_page, monkeypatch):
    """The same trace and window, drawn whole and windowed: the calls drawn one by one are the
    same calls (a call within 2% of a pixel wide may fall either side: the reply's pixel grid is
    the fetched window's, margins included)."""
    from fprofile_jupyter import _widget, _windowed

    page, errors = windowed_page
    trace = _core._synthetic_trace(200_000, 3, 5)
    a, b = span(trace)
    t0, t1 = a + (b - a) * 40 // 100, a + (b - a) * 41 // 100  # 1% of the run
    drawn = {}
    for windowed in (False, True):
        monkeypatch.setattr(_windowed, "WINDOWED_CALLS", 1000 if windowed else 10**9)
        w = _widget.TimelineWidget(trace)
        assert w.windowed == windowed
        w.window_start_ns, w.window_end_ns = t0, t1
        kernel = Kernel(page, w)
        render(page, w)
        page.wait_for_selector(DRAWN)
        if windowed:
            page.wait_for_function("() => window.outbox.length === 1")
            kernel.serve()
            page.wait_for_function("() => document.querySelector('.fprofile-root').dataset.windowReceived === '1'")
            page.wait_for_timeout(100)
        page.wait_for_function("() => document.querySelector('canvas.fprofile-zoom').dataset.callsDrawn?.length > 2")
        assert root_data(page, "windowStartNs") == str(t0) and root_data(page, "windowEndNs") == str(t1)
        drawn[windowed] = set(page.evaluate("() => JSON.parse(document.querySelector('canvas.fprofile-zoom').dataset.callsDrawn)"))
        width = page.evaluate("() => document.querySelector('canvas.fprofile-zoom').getBoundingClientRect().width")
        page.evaluate("() => window.cleanup()")
    assert len(drawn[False]) > 100, len(drawn[False])
    differ = drawn[False] ^ drawn[True]
    starts, ends = {}, {}
    index = 0
    for th in range(len(trace.threads)):
        for c in trace.calls(th):
            if index in differ:
                starts[index], ends[index] = c.start_ns, c.end_ns
            index += 1
    k = width / (t1 - t0)
    for c in differ:
        assert 0.98 <= (ends[c] - starts[c]) * k <= 1.02, (c, (ends[c] - starts[c]) * k)
    assert len(differ) <= len(drawn[False]) // 100, (len(differ), len(drawn[False]))
    assert not errors, errors


# -- a real JupyterLab: the kernel answers over the comm ----------------------------------------

WINDOWED_NOTEBOOK = {
    "cells": [{"cell_type": "code", "execution_count": None, "id": "w1", "metadata": {}, "outputs": [], "source": [
        "from fprofile_jupyter import _core, _widget, _windowed\n",
        "_windowed.WINDOWED_CALLS = 1000\n",
        "trace = _core._synthetic_trace(400_000, 4, 2)\n",
        "w = _widget.TimelineWidget(trace)\n",
        "w",
    ]}],
    "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
    "nbformat": 4, "nbformat_minor": 5,
}


def test_lab_windowed_widget_fetches_from_the_kernel(browser, tmp_path, artifacts_dir):
    import json

    from test_browser_lab import WAIT_MS, jupyter_server, open_page, run_all_and_wait

    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "windowed.ipynb").write_text(json.dumps(WINDOWED_NOTEBOOK))
    with jupyter_server(tmp_path, "lab") as url:
        context, page, errors = open_page(browser, url)
        try:
            canvas = run_all_and_wait(page, "/lab/tree/windowed.ipynb", url)
            page.wait_for_function("() => document.querySelector('.fprofile-root')?.dataset.windowed === 'live'", timeout=WAIT_MS)
            assert page.get_attribute(".fprofile-root", "data-calls") == "400000"
            assert int(canvas.get_attribute("data-drawn")) > 100
            canvas.scroll_into_view_if_needed()
            box = canvas.bounding_box()
            page.mouse.move(box["x"] + box["width"] * 0.4, box["y"] + box["height"] * 0.5)
            for _ in range(8):
                page.mouse.wheel(0, -300)
            # the kernel answers through the comm: the view is drawn from its reply
            page.wait_for_function("() => Number(document.querySelector('.fprofile-root').dataset.windowReceived) >= 1", timeout=WAIT_MS)
            reply = page.get_attribute(".fprofile-root", "data-window-reply")
            t0, t1, px = (int(v) for v in reply.split(","))
            start, end = (float(page.get_attribute(".fprofile-root", f"data-window-{k}-ns")) for k in ("start", "end"))
            page.wait_for_function("""() => { const r = document.querySelector('.fprofile-root').dataset;
                return r.windowSent === r.windowReceived; }""", timeout=WAIT_MS)
            reply = page.get_attribute(".fprofile-root", "data-window-reply")
            t0, t1, px = (int(v) for v in reply.split(","))
            assert t0 <= start and end <= t1 and px > 0, (reply, start, end)
            # pan: drag the view; a new window comes
            sent = int(page.get_attribute(".fprofile-root", "data-window-sent"))
            page.mouse.move(box["x"] + box["width"] * 0.9, box["y"] + box["height"] * 0.6)
            page.mouse.down()
            page.mouse.move(box["x"] + box["width"] * 0.05, box["y"] + box["height"] * 0.6, steps=6)
            page.mouse.up()
            page.wait_for_function(f"""() => {{ const r = document.querySelector('.fprofile-root').dataset;
                return Number(r.windowReceived) > {sent - 1} && Number(r.windowSent) > {sent} && r.windowSent === r.windowReceived; }}""",
                                   timeout=WAIT_MS)
            assert int(page.get_attribute("canvas.fprofile-zoom", "data-drawn")) > 0
            page.screenshot(path=os.path.join(artifacts_dir, "lab-windowed.png"))
            # the flame graph of the window: merged by the kernel, sent back through the comm
            start, end = (round(float(page.get_attribute(".fprofile-root", f"data-window-{k}-ns"))) for k in ("start", "end"))
            page.click("button.fprofile-flame-toggle")
            page.wait_for_selector(f"{FLAME}[data-pending='0']", timeout=WAIT_MS)
            assert flame_attr(page, "window") == f"{start},{end}"
            want = flat_flame(_core._synthetic_trace(400_000, 4, 2).flame(threads=[0, 1, 2, 3], window=(start, end)))
            assert want and int(flame_attr(page, "nodes")) == len(want) and int(flame_attr(page, "drawn")) > 0
            page.screenshot(path=os.path.join(artifacts_dir, "lab-windowed-flame.png"))
            assert not errors, errors
        finally:
            context.close()


# -- the standalone viewer: its loopback API and its page ---------------------------------------

@pytest.fixture
def viewer_server(monkeypatch):
    """The viewer's real server and handler in this process, windowed above 1000 calls; yields
    (base url, state)."""
    import threading

    from fprofile_jupyter import _viewer, _windowed

    monkeypatch.setattr(_windowed, "WINDOWED_CALLS", 1000)
    port_box = [0]
    state = _viewer._State()
    server = _viewer._Server(("127.0.0.1", 0), _viewer._make_handler(state, port_box))
    port_box[0] = server.server_address[1]
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{port_box[0]}/", state
    finally:
        server.shutdown()
        server.server_close()


def http(url: str, data: bytes = None, headers: dict = None):
    """(status, body bytes) of a GET (or a POST with `data`)."""
    import urllib.error
    import urllib.request

    req = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_viewer_window_api(viewer_server, tmp_path):
    import json

    base, state = viewer_server
    trace = _core._synthetic_trace(50_000, 3, 4)
    status, body = http(base + "api/upload", data=trace.to_bytes(),
                        headers={"Content-Type": "application/octet-stream", "X-Fprofile-Filename": "big.fpt"})
    assert status == 200, body
    answer = json.loads(body)
    w = answer["windowed"]
    assert w["calls"] == len(trace) and "trace" not in answer
    status, sk = http(base + w["skeleton"])
    assert status == 200 and len(_core.Trace.from_bytes(sk).threads) == 3
    status, ov = http(base + w["overview"])
    assert status == 200 and ov[:4] == b"FPWN"
    assert http(base + answer["summary"])[0] == 200
    # the whole .fpt is not served: the page never gets every call
    assert http(base + w["skeleton"].replace(".skeleton", ".fpt"))[0] == 404
    a, b = span(trace)
    status, reply = http(base + w["window"] + f"?t0={a}&t1={a + (b - a) // 10}&px=1500")
    assert status == 200 and reply[:4] == b"FPWN", reply[:80]
    assert reply == trace.window_bytes(a, a + (b - a) // 10, 1500)
    bad = {
        f"?t0={a}&t1={a}&px=100": "empty window",
        f"?t0={b + 100}&t1={b + 200}&px=100": "outside the trace",
        f"?t0={a}&t1={b}&px=0": "width of 0 px",
        f"?t0={a}&t1={b}&px=100000": "up to 8192 pixels",
        f"?t0=x&t1={b}&px=10": "integer t0, t1 and px",
        "": "integer t0, t1 and px",
        f"?t0={a}&t1={2**80}&px=10": "No window",
    }
    for query, message in bad.items():
        status, body = http(base + w["window"] + query)
        assert status == 400, (query, status, body)
        assert message in json.loads(body)["error"], (query, body)
    assert http(base + "api/trace/" + "0" * 32 + "/window?t0=0&t1=10&px=10")[0] == 404
    # the flame graph of thread indices over a window (or the whole run): the core's encoding
    t1 = a + (b - a) // 10
    status, flame = http(base + w["flame"] + f"?threads=0,2&t0={a}&t1={t1}")
    assert status == 200 and flame == _core.flame_bytes(trace, [0, 2], (a, t1)) and flame
    assert http(base + w["flame"] + "?threads=1") == (200, _core.flame_bytes(trace, [1]))
    for query, message in {"?threads=x": "thread indices", "?threads=9": "out of range",
                           f"?threads=0&t0={a}": "integer t0 and t1", f"?threads=0&t0={b}&t1={a}": "ends before"}.items():
        status, body = http(base + w["flame"] + query)
        assert status == 400, (query, status, body)
        assert message in json.loads(body)["error"], (query, body)
    # a small trace is sent whole and has no windows
    small = _core._synthetic_trace(500, 1, 1)
    status, body = http(base + "api/upload", data=small.to_bytes(), headers={"X-Fprofile-Filename": "small.fpt"})
    answer = json.loads(body)
    assert "windowed" not in answer and answer["trace"].endswith(".fpt")
    status, body = http(base + answer["trace"].replace(".fpt", "/window") + "?t0=0&t1=10&px=10")
    assert status == 400 and "sent whole" in json.loads(body)["error"]


def test_viewer_page_shows_a_large_trace_windowed(browser, tmp_path, artifacts_dir):
    import subprocess
    import sys

    from conftest import free_port
    from viewer_support import Viewer  # noqa: F401  (its start-up rules; started here with _windowed set)

    trace = _core._synthetic_trace(200_000, 4, 9)
    path = tmp_path / "big.fpt"
    trace.save(str(path))
    port = free_port()
    code = ("import sys; from fprofile_jupyter import _viewer, _windowed; _windowed.WINDOWED_CALLS = 1000; "
            "sys.exit(_viewer.main())")
    proc = subprocess.Popen([sys.executable, "-c", code, str(path), "--port", str(port), "--no-browser"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{port}/"
        import time

        deadline = time.monotonic() + 60
        while http(url + "api/initial")[0] != 200 if _port_open(port) else True:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the viewer did not start"
            time.sleep(0.1)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(url)
        canvas = page.wait_for_selector(DRAWN)
        page.wait_for_function("() => document.querySelector('.fprofile-root')?.dataset.windowed === 'live'")
        assert page.get_attribute(".fprofile-root", "data-calls") == "200000"
        assert "fprofile stats FILE" in page.inner_text(".fprofile-windowed-note")
        box = canvas.bounding_box()
        page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.5)
        for _ in range(8):
            page.mouse.wheel(0, -300)
        page.wait_for_function("""() => { const r = document.querySelector('.fprofile-root').dataset;
            return Number(r.windowReceived) >= 1 && r.windowSent === r.windowReceived; }""")
        start, end = (float(page.get_attribute(".fprofile-root", f"data-window-{k}-ns")) for k in ("start", "end"))
        t0, t1, _px = (int(v) for v in page.get_attribute(".fprofile-root", "data-window-reply").split(","))
        assert t0 <= start < end <= t1
        assert int(canvas.get_attribute("data-drawn")) > 0
        # hovering a hatched run says how many calls and to zoom in
        text = ""
        for fy in (0.2, 0.3, 0.4, 0.5, 0.6):
            for fx in (0.1, 0.3, 0.5, 0.7, 0.9):
                page.mouse.move(box["x"] + box["width"] * fx, box["y"] + box["height"] * fy)
                kind = page.evaluate("() => { const t = document.querySelector('.fprofile-tooltip'); return t && !t.hidden ? t.dataset.kind : null; }")
                if kind == "run":
                    text = page.inner_text(".fprofile-tooltip")
                    break
            if text:
                break
        page.screenshot(path=os.path.join(artifacts_dir, "viewer-windowed.png"))
        if int(page.get_attribute("canvas.fprofile-zoom", "data-runs")) > 0:
            assert "calls here" in text and "zoom in" in text, text
        # f: the flame graph of the window shown, merged by the server over every call
        start, end = (round(float(page.get_attribute(".fprofile-root", f"data-window-{k}-ns"))) for k in ("start", "end"))
        assert "merged by the viewer" in page.inner_text(".fprofile-windowed-note")
        page.locator(".fprofile-root").focus()
        page.keyboard.press("f")
        page.wait_for_selector(f"{FLAME}[data-pending='0']")
        assert flame_attr(page, "window") == f"{start},{end}"
        want = flat_flame(trace.flame(threads=[0, 1, 2, 3], window=(start, end)))
        assert want and int(flame_attr(page, "nodes")) == len(want) and int(flame_attr(page, "drawn")) > 0
        assert not errors, errors
        page.close()
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def _port_open(port: int) -> bool:
    import socket

    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


# -- a saved notebook: the overview and the last view, drawn with no kernel ----------------------

def saved_windowed(path) -> list:
    import json

    from fprofile_jupyter import _display

    nb = json.loads(path.read_text(encoding="utf-8"))
    return [_display.output_payload(o["data"]) for c in nb["cells"] for o in c.get("outputs", [])
            if _display.TRACE_MIME in o.get("data", {})]


def test_saved_notebook_shows_the_overview_and_last_view_without_kernel(browser, tmp_path, artifacts_dir):
    import json
    import time

    from test_browser_lab import KERNEL_IDLE, WAIT_MS, jupyter_server, open_page, run_all_and_wait

    root = tmp_path / "root"
    root.mkdir()
    path = root / "windowed.ipynb"
    path.write_text(json.dumps(WINDOWED_NOTEBOOK))
    with jupyter_server(tmp_path, "lab") as url:
        context, page, errors = open_page(browser, url)
        try:
            run_all_and_wait(page, "/lab/tree/windowed.ipynb", url)
            page.wait_for_function("() => document.querySelector('.fprofile-root[data-windowed=live]')", timeout=WAIT_MS)
            # live: the saved copy is in the cell but hidden, the live widget alone is seen
            page.wait_for_function("() => document.querySelectorAll('.fprofile-lab-output').length === 1", timeout=WAIT_MS)
            page.wait_for_function("() => document.querySelector('.fprofile-lab-output').hidden === true", timeout=WAIT_MS)
            canvas = page.query_selector(".fprofile-root[data-windowed=live] canvas.fprofile-zoom")
            canvas.scroll_into_view_if_needed()
            box = canvas.bounding_box()
            page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.5)
            for _ in range(10):
                page.mouse.wheel(0, -300)
            page.wait_for_function("""() => { const r = document.querySelector('.fprofile-root[data-windowed=live]').dataset;
                return Number(r.windowReceived) >= 1 && r.windowSent === r.windowReceived; }""", timeout=WAIT_MS)
            live = page.evaluate("""() => { const r = document.querySelector('.fprofile-root[data-windowed=live]').dataset;
                return [Number(r.windowStartNs), Number(r.windowEndNs)]; }""")
            # the window reaches the kernel (debounced), which updates the saved copy; then save
            page.wait_for_function(KERNEL_IDLE, timeout=WAIT_MS)
            deadline_at = time.monotonic() + 60
            while True:
                page.evaluate("() => { window.jupyterapp.commands.execute('docmanager:save'); }")
                time.sleep(0.5)
                try:
                    saved = saved_windowed(path)
                except (json.JSONDecodeError, KeyError):
                    saved = []
                if saved and "last" in saved[0]["windowed"]:
                    break
                assert time.monotonic() < deadline_at, "the saved copy never got the last window"
            w = saved[0]["windowed"]
            assert [round(v) for v in w["window"]] == [round(v) for v in live], (w["window"], live)
            assert "fpt" not in saved[0] and w["calls"] == 400_000
            assert path.stat().st_size < 2_000_000, path.stat().st_size  # not the trace (about 1.4 MB as .fpt)
        finally:
            context.close()

    # reopened where no kernel can start: the overview and the last view, and a word on zooming
    nb = json.loads(path.read_text(encoding="utf-8"))
    nb["metadata"]["kernelspec"] = {"name": "fprofile-no-such-kernel", "display_name": "Elsewhere", "language": "python"}
    again = tmp_path / "again"
    (again / "root").mkdir(parents=True)
    (again / "root" / "windowed.ipynb").write_text(json.dumps(nb), encoding="utf-8")
    with jupyter_server(again, "lab", ('--KernelSpecManager.allowed_kernelspecs=["fprofile-none"]',)) as url:
        context, page, errors = open_page(browser, url)
        try:
            page.goto(f"{url}/lab/tree/windowed.ipynb")
            page.locator(".jp-Dialog button", has_text="No Kernel").click()
            page.wait_for_function("() => document.querySelector('.fprofile-root[data-windowed=offline] canvas.fprofile-zoom[data-drawn]')",
                                   timeout=WAIT_MS)
            r = ".fprofile-root[data-windowed=offline]"
            assert "Zooming needs the kernel" in page.inner_text(f"{r} .fprofile-windowed-note")
            start, end = (float(page.get_attribute(r, f"data-window-{k}-ns")) for k in ("start", "end"))
            assert [round(start), round(end)] == [round(v) for v in w["window"]]
            # drawn from the last window's reply (not the overview), and nothing asked of a kernel
            assert page.get_attribute(r, "data-window-reply").split(",")[:2] == [str(v) for v in w["window"]]
            assert page.get_attribute(r, "data-window-sent") == "0"
            assert int(page.get_attribute(f"{r} canvas.fprofile-zoom", "data-drawn")) > 10
            page.query_selector(f"{r} canvas.fprofile-zoom").scroll_into_view_if_needed()
            page.screenshot(path=os.path.join(artifacts_dir, "reopen-windowed-no-kernel.png"))
            assert not errors, errors
        finally:
            context.close()


# -- the HTML export of a trace too large to embed whole: a pyramid -----------------------------

def test_html_export_of_a_large_trace_embeds_a_pyramid(browser, tmp_path, artifacts_dir):
    trace = _core._synthetic_trace(200_000, 4, 6)
    page_html = _core._html_export(trace, "big <run>", 1000, 1_500_000)
    assert 'id="fprofile-pyramid"' in page_html and len(page_html) < 2_600_000
    whole = _core._html_export(trace, "big", 10**9, 1_500_000)
    assert 'id="fprofile-pyramid"' not in whole and 'id="fprofile-data"' in whole
    path = tmp_path / "big.html"
    path.write_text(page_html, encoding="utf-8")
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(path.as_uri())
        canvas = page.wait_for_selector(DRAWN)
        r = ".fprofile-root[data-windowed=offline]"
        page.wait_for_selector(r)
        note = page.inner_text(".fprofile-windowed-note")
        assert "200,000 calls, too many to embed whole" in note and "levels" in note and "per pixel" in note, note
        assert page.get_attribute(r, "data-calls") == "200000"
        first = page.get_attribute(r, "data-window-reply")
        box = canvas.bounding_box()
        page.mouse.move(box["x"] + box["width"] * 0.37, box["y"] + box["height"] * 0.5)
        for _ in range(6):
            page.mouse.wheel(0, -300)
        # a finer tile of the pyramid is drawn: narrower than the whole run, at its own 2000 px
        page.wait_for_function(f"() => document.querySelector('{r}').dataset.windowReply !== '{first}'")
        t0, t1, px = (int(v) for v in page.get_attribute(r, "data-window-reply").split(","))
        a, b = span(trace)
        assert px == 2000 and t1 - t0 <= (b - a) / 2 + 1, (t0, t1, a, b)
        assert page.get_attribute(r, "data-window-sent") == "0"
        assert int(canvas.get_attribute("data-drawn")) > 10
        page.screenshot(path=os.path.join(artifacts_dir, "export-pyramid.png"))
        assert not errors, errors
    finally:
        page.close()
