"""The inline timeline widget (anywidget).

The trace crosses the comm channel as ONE binary buffer in the compact ``.fpt`` format (the
``data`` bytes trait, sent with the comm open), plus the overall per-function summary as JSON
(the timeline computes the per-process and per-thread figures from the trace itself); the
browser decodes and draws it (``js/`` timeline, glue in ``js/hosts/widget.js``, whose model interface
mirrors the traits below). The ES module and CSS come from the Rust extension (embedded with
rust-embed): no CDN, no network, works offline.
"""
from __future__ import annotations

from typing import Any, Optional

import anywidget
import traitlets

from . import _core, _display


class TimelineWidget(anywidget.AnyWidget):
    """The zoomable timeline of a ``Trace``: ``TimelineWidget(trace)``.

    ``window_start_ns`` / ``window_end_ns`` follow the zoomed view (debounced from the browser;
    set them from Python to move it). Saved with the notebook's widget state, so a saved notebook
    reopens with the timeline (and its window) when JupyterLab saves widget state.

    A displayed ``Trace`` is not a widget (``_display.py``): it is drawn from the notebook output
    by the package's JupyterLab / Notebook 7 extension, kernel or not. Use this class for a
    timeline tied to the kernel (its window read or set from Python).
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
    #: The zoomed window, in ns from the trace's origin (None: the whole run).
    window_start_ns = traitlets.Int(None, allow_none=True).tag(sync=True)
    window_end_ns = traitlets.Int(None, allow_none=True).tag(sync=True)

    def __init__(self, trace: Any = None, *, height: int = 0, encoded: Optional[bytes] = None,
                 summary: Optional[str] = None, **kwargs: Any) -> None:
        """``encoded`` / ``summary``: ``trace.to_bytes()`` / ``trace.summary_json(overall_only=True)``
        if the caller has them already."""
        if trace is not None:
            kwargs.update(self.payload(trace, encoded, summary))
        # the trace itself is not kept: ipywidgets keeps every widget alive, and the bytes are enough
        super().__init__(height=height, **kwargs)

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
        """The trace shown, decoded from the widget's bytes (None when it was too big to send)."""
        if not self.data:
            return None
        return _core.Trace.from_bytes(self.data)
