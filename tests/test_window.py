"""Window queries from Python (``Trace.window_bytes``) and the windowed timeline widget.

- the binding: bad requests are one ``ValueError`` each, the reply's size follows the pixels;
- the widget glue (js/hosts/widget.js, with a stand-in for anywidget's model whose custom
  messages go to the real ``TimelineWidget`` in this process and back) in headless Chromium: a
  trace above the threshold is drawn from its skeleton and overview, zoom and pan fetch new
  windows, a reply to an id no longer awaited is ignored, and what is drawn for a window is what
  the whole-trace path draws for it (the calls drawn one by one, compared by their index);
- in a real JupyterLab (a kernel, the comm, the widget manager): a windowed TimelineWidget draws,
  and zooming fetches windows from the kernel.
"""
from __future__ import annotations

import base64
import os

import pytest

from fprofile_jupyter import _core

from test_browser_lab import DRAWN, FAKE_MODEL_JS, HOST_PAGE


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
def windowed_page(browser, monkeypatch):
    from fprofile_jupyter import _widget

    monkeypatch.setattr(_widget, "WINDOWED_CALLS", 1000)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.set_content(HOST_PAGE)
    page.evaluate(FAKE_MODEL_JS.replace(
        "listeners: () =>", "handlers: (ev) => [...(handlers.get(ev) || [])],\n      listeners: () =>"),
        [_core.asset_bundle("widget"), _core.asset_css()])
    yield page, errors
    context.close()


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
    # no dead controls: what needs every call is not offered
    assert page.locator("button.fprofile-flame-toggle").is_hidden()
    assert page.locator("input.fprofile-search").is_hidden()
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
    assert kernel.serve() >= 1
    page.wait_for_function("() => window.outbox.length === 0 && document.querySelector('.fprofile-root').dataset.windowSent === document.querySelector('.fprofile-root').dataset.windowReceived")

    # a bad request (the kernel's answer: an error message) is shown, the view stays
    kernel.deliver({"type": "window-error", "id": 12345, "message": "fprofile: no window: test"}, None)
    page.screenshot(path=os.path.join(artifacts_dir, "widget-windowed.png"))
    assert w.requests >= 3
    page.evaluate("() => window.cleanup()")
    assert page.evaluate("() => window.model.listeners()") == 0
    assert not errors, errors


def test_windowed_drawing_matches_the_whole_trace_path(windowed_page, monkeypatch):
    """The same trace and window, drawn whole and windowed: the calls drawn one by one are the
    same calls (a call within 2% of a pixel wide may fall either side: the reply's pixel grid is
    the fetched window's, margins included)."""
    from fprofile_jupyter import _widget

    page, errors = windowed_page
    trace = _core._synthetic_trace(200_000, 3, 5)
    a, b = span(trace)
    t0, t1 = a + (b - a) * 40 // 100, a + (b - a) * 41 // 100  # 1% of the run
    drawn = {}
    for windowed in (False, True):
        monkeypatch.setattr(_widget, "WINDOWED_CALLS", 1000 if windowed else 10**9)
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
