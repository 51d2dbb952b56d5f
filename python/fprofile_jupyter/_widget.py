"""The inline timeline widget (anywidget).

Up to ``_windowed.WINDOWED_CALLS`` calls, the trace crosses the comm channel as ONE binary buffer in the
compact ``.fpt`` format (the ``data`` bytes trait, sent with the comm open), plus the overall
per-function summary as JSON (the timeline computes the per-process and per-thread figures from the
trace itself); the browser decodes and draws it (``js/`` timeline, glue in ``js/hosts/widget.js``,
whose model interface mirrors the traits below).

Above it (windowed mode, ``windowed`` true) the page never gets every call: it gets the skeleton
(``skeleton``: the trace without its calls, ``Trace.skeleton_bytes()``), the overview (``overview``:
a window reply over the whole run, computed once) and the summary, and asks the kernel for the
window it shows with custom messages ``{"type": "window", "id", "t0", "t1", "px"}``; the widget
answers each with ``{"type": "window", "id"}`` and the reply's bytes as a binary buffer
(``Trace.window_bytes``: the calls of the window, those narrower than a pixel merged into counted
runs; docs/format.md "Window replies"), or ``{"type": "window-error", "id", "message"}``. Likewise
the flame graph of the view: ``{"type": "flame", "id", "threads", "t0", "t1"}`` (thread indices; t0
and t1 null for the whole run) answered with ``{"type": "flame", "id"}`` and the core's flame
encoding (``_windowed.flame_reply``), or ``{"type": "flame-error", "id", "message"}``. The widget
keeps the trace (in Rust) to answer.

The ES module and CSS come from the Rust extension (embedded with rust-embed): no CDN, no network,
works offline.
"""
from __future__ import annotations

import secrets
from typing import Any, Optional

import anywidget
import traitlets

from . import _core, _display, _windowed


class TimelineWidget(anywidget.AnyWidget):
    """The zoomable timeline of a ``Trace``: ``TimelineWidget(trace)``.

    ``window_start_ns`` / ``window_end_ns`` follow the zoomed view (debounced from the browser;
    set them from Python to move it). Saved with the notebook's widget state, so a saved notebook
    reopens with the timeline (and its window) when JupyterLab saves widget state.

    A displayed ``Trace`` is not a widget (``_display.py``): it is drawn from the notebook output
    alone, kernel or not (by the package's JupyterLab / Notebook 7 extension, or by the output's
    own ``text/html`` in the other hosts: docs/hosts.md). Use this class for a timeline tied to the
    kernel (its window read or set from Python), where widgets work.
    """

    # Set once on the class (an inline ESM string re-sent for every cell leaks: anywidget#613).
    _esm = _core.asset_bundle("widget")
    _css = _core.asset_css()

    #: The trace in the compact binary format (``Trace.to_bytes()``), arrives as a DataView.
    data = traitlets.Bytes(b"").tag(sync=True)
    #: The overall per-function summary (``Trace.summary_json(overall_only=True)``), shown when the
    #: browser cannot decode the trace; the timeline computes the per-thread rows from ``data``.
    summary = traitlets.Unicode("").tag(sync=True)
    #: When non-empty, the widget shows this message instead of a timeline (trace too big).
    error = traitlets.Unicode("").tag(sync=True)
    #: Height of the timeline in CSS pixels (0: the timeline's default).
    height = traitlets.Int(0).tag(sync=True)
    #: Windowed mode (a trace above _windowed.WINDOWED_CALLS): the page fetches windows over custom messages.
    windowed = traitlets.Bool(False).tag(sync=True)
    #: Windowed mode: the trace without its calls (``Trace.skeleton_bytes()``).
    skeleton = traitlets.Bytes(b"").tag(sync=True)
    #: Windowed mode: the whole run at _windowed.OVERVIEW_PX pixels (a window reply), computed once.
    overview = traitlets.Bytes(b"").tag(sync=True)
    #: Windowed mode: how many calls the trace holds.
    calls = traitlets.Int(0).tag(sync=True)
    #: Windowed mode: ties the live view to the notebook's saved copy of it (``_ipython_display_``).
    trace_id = traitlets.Unicode("").tag(sync=True)
    #: Live (``live=True``, ``_livewidget``): the last seconds of the run as a window reply, pushed with each update.
    last = traitlets.Bytes(b"").tag(sync=True)
    #: When non-empty (live updates): the page asks the kernel for nothing and shows this note.
    offline = traitlets.Unicode("").tag(sync=True)
    #: The timeline follows a recording while it runs (``_livewidget.Feed``).
    live = traitlets.Bool(False).tag(sync=True)
    #: The zoomed window, in ns from the trace's origin (None: the whole run).
    window_start_ns = traitlets.Int(None, allow_none=True).tag(sync=True)
    window_end_ns = traitlets.Int(None, allow_none=True).tag(sync=True)

    def __init__(self, trace: Any = None, *, height: int = 0, encoded: Optional[bytes] = None,
                 summary: Optional[str] = None, live: bool = False, **kwargs: Any) -> None:
        """``encoded`` / ``summary``: ``trace.to_bytes()`` / ``trace.summary_json(overall_only=True)``
        if the caller has them already (with ``encoded`` the trace is sent whole, whatever its size;
        without it, a trace above ``_windowed.WINDOWED_CALLS`` is shown windowed).

        ``live=True`` with a ``profile`` object (recording, or to be started) in place of the trace:
        the timeline follows the recording while it runs, updated about once a second from a
        background thread (the overview and the last seconds: ``_livewidget``), and becomes the
        normal timeline of its trace when it stops. The profile must record to a streamed file
        (``outfile="run.fpt"``) or with ``keep_last``: ``ValueError`` otherwise."""
        self.feed: Any = None
        if live and trace is not None:
            from . import _livewidget

            prof = trace
            source = _livewidget.profile_source(prof)  # (the ValueError first)
            super().__init__(height=height, live=True, error=_livewidget.WAITING, **kwargs)
            self._setup(None, False)
            self.feed = _livewidget.Feed(self, source, ended=_livewidget.profile_ended(prof)).start()
            return
        windowed = trace is not None and _windowed.windowed(trace) and encoded is None
        if windowed:
            kwargs.update(self.windowed_payload(trace, summary))
        elif trace is not None:
            kwargs.update(self.payload(trace, encoded, summary))
        super().__init__(height=height, live=live, **kwargs)
        self._setup(trace, windowed)

    def _setup(self, trace: Any, windowed: bool) -> None:
        # windowed: the trace is kept (in Rust) to answer the page's requests; otherwise it is not:
        # ipywidgets keeps every widget alive, and the bytes are enough
        self._trace = trace if windowed else None
        self.requests = 0  # window requests answered (or refused)
        self.flame_requests = 0  # flame requests answered (or refused)
        self._saved_window: Optional[tuple] = None
        self._displayed = False
        self._listening = False
        if windowed:
            self._listen()

    def _listen(self) -> None:
        if self._listening:
            return
        self._listening = True
        self.trace_id = secrets.token_hex(8)
        self.on_msg(self._on_window_request)
        self.observe(self._on_window_change, names=["window_start_ns", "window_end_ns"])

    def show_trace(self, trace: Any) -> None:
        """Show ``trace`` as a widget made with it shows it (the end of a live timeline)."""
        windowed = _windowed.windowed(trace)
        traits = self.windowed_payload(trace) if windowed else self.payload(trace)
        traits.update(windowed=windowed, offline="", last=b"", live=False)
        if not windowed:
            traits.update(skeleton=b"", overview=b"", calls=0)
        self._trace = trace if windowed else None
        if windowed:
            self._listen()
        with self.hold_sync():
            for k, v in traits.items():
                setattr(self, k, v)

    def _saved_bundle(self) -> dict:
        window = None
        if self.window_start_ns is not None and self.window_end_ns is not None:
            window = (self.window_start_ns, self.window_end_ns)
        return {_display.TRACE_MIME: _windowed.saved_output(self._trace, trace_id=self.trace_id, window=window),
                "text/plain": repr(self._trace)}

    def _ipython_display_(self) -> None:
        """The widget, and in windowed mode a second output: what the saved notebook keeps of it
        (the overview and the last window, ``_windowed.saved_output``), updated as the view moves;
        hidden while the live widget is shown (js/hosts/lab.js)."""
        from IPython.display import display

        bundle = self._repr_mimebundle_()
        data, metadata = bundle if isinstance(bundle, tuple) else (bundle, None)
        display(data, metadata=metadata, raw=True)
        if self._trace is not None:
            display(self._saved_bundle(), raw=True, display_id=self.trace_id)
            self._displayed = True

    def _on_window_change(self, _change: Any) -> None:
        """The page's window (debounced there) changed: the saved copy follows it."""
        window = (self.window_start_ns, self.window_end_ns)
        if not self._displayed or window == self._saved_window or None in window:
            return
        self._saved_window = window
        from IPython.display import update_display

        update_display(self._saved_bundle(), raw=True, display_id=self.trace_id)

    @staticmethod
    def windowed_payload(trace: Any, summary: Optional[str] = None) -> dict:
        """The traits of windowed mode: skeleton, overview, call count, summary."""
        return {"windowed": True, "skeleton": trace.skeleton_bytes(), "overview": _windowed.overview_bytes(trace),
                "calls": len(trace), "data": b"", "error": "",
                "summary": summary if summary is not None else trace.summary_json(overall_only=True)}

    def _on_window_request(self, _widget: Any, content: Any, _buffers: Any) -> None:
        """A custom message from the page: answer a window request with its reply (a binary buffer),
        a flame request with the flame graph (``_windowed.flame_reply``)."""
        if not isinstance(content, dict) or self._trace is None:
            return
        rid = content.get("id")
        if content.get("type") == "flame":
            self.flame_requests += 1
            try:
                flame = _windowed.flame_reply(self._trace, content.get("threads"), content.get("t0"), content.get("t1"))
            except (ValueError, IndexError) as e:
                self.send({"type": "flame-error", "id": rid, "message": f"fprofile: no flame graph: {e}"})
                return
            self.send({"type": "flame", "id": rid}, buffers=[flame])
            return
        if content.get("type") != "window":
            return
        self.requests += 1
        try:
            reply = self._trace.window_bytes(*_windowed.parse_request(content.get("t0"), content.get("t1"), content.get("px")))
        except ValueError as e:
            self.send({"type": "window-error", "id": rid, "message": f"fprofile: no window: {e}"})
            return
        self.send({"type": "window", "id": rid}, buffers=[reply])

    @staticmethod
    def payload(trace: Any, encoded: Optional[bytes] = None, summary: Optional[str] = None) -> dict:
        """The traits carrying ``trace``: its bytes and summary, or a message if it is too big."""
        calls = len(trace)
        message = _display.too_big(calls, None)
        if message is None:
            data = encoded if encoded is not None else trace.to_bytes()
            message = _display.too_big(calls, len(data))
        if message is not None:
            return {"data": b"", "summary": "", "error": message}
        # the overall rows only: the timeline computes the per-thread ones from the trace
        return {"data": data, "summary": summary if summary is not None else trace.summary_json(overall_only=True),
                "error": ""}

    @property
    def trace(self) -> Optional[Any]:
        """The trace shown (kept in windowed mode; else decoded from the widget's bytes; None when it
        was too big to send)."""
        if self._trace is not None:
            return self._trace
        if not self.data:
            return None
        return _core.Trace.from_bytes(self.data)
