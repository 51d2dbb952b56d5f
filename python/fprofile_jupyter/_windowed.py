"""Windowed mode: the rules shared by every host that shows a trace too large to send whole
(the notebook widget, ``_widget.py``; the standalone viewer, ``_viewer.py``; a saved notebook's
output, ``_display.py``).

Such a host sends the page the trace's skeleton (``Trace.skeleton_bytes()``: threads, processes,
functions, no calls) and its overview (a window reply over the whole run, computed once), then
answers the page's requests for the window it shows (``Trace.window_bytes``: the calls of the
window, those narrower than a pixel merged into counted runs; docs/format.md "Window replies").
It also answers the page's requests for the flame graph of a window (``flame_reply``: the core
merges every call; the page holds only the window's). A trace backed by its file (``Trace.file``,
``load()`` of a long run, ``prof.trace`` of a streamed recording) above WINDOWED_CALLS is shown
this way without loading its calls: the skeleton, the window replies, the flame graphs and the
overall summary come from the file (a smaller one is sent whole: its compact file's bytes, copied). The page side is js/windowsource.js and
js/timeline.js ``setWindowedData``.
"""
from __future__ import annotations

from typing import Any, List, Optional, Tuple

from . import _core

#: Above this many calls a host fetches windows instead of sending the whole trace. Measured
#: (benchmarks/README.md, "Windowed timeline"; benchmarks/bench_window.py): the windowed first
#: drawing is faster from 250k calls on, but the whole trace gives the flame graph, search, filters
#: and per-thread summaries in the page, and draws within the 1 s target up to 1M calls (2M: 1.7 s).
#: Read when a widget or a viewer trace is made: change it before.
WINDOWED_CALLS = 1_000_000
#: Width in pixels of the overview reply: the widest overview drawn at full resolution (a narrower
#: one merges further in the page). Its one home is the core (``fprofile::window::OVERVIEW_PX``):
#: a file-backed trace's stored index keeps the overview made at this width.
OVERVIEW_PX: int = _core.OVERVIEW_PX


def windowed(trace: Any) -> bool:
    """Is ``trace`` shown windowed (more than WINDOWED_CALLS calls)?"""
    return len(trace) > WINDOWED_CALLS


def span(trace: Any) -> Tuple[int, int]:
    """The whole run: ``(first, last)`` ns over the trace's threads (``(0, 1)`` without threads)."""
    threads = trace.threads
    if not threads:
        return 0, 1
    start = min(t.first_ns for t in threads)
    return start, max(start + 1, max(t.last_ns for t in threads))


def overview_bytes(trace: Any, *, zlib_level: Any = None) -> bytes:
    """The overview: the whole run at OVERVIEW_PX pixels, as a window reply (the call index and the
    summary are built first, side by side: ``Trace._prepare_windowed``)."""
    trace._prepare_windowed()
    return trace.window_bytes(*span(trace), OVERVIEW_PX, zlib_level=zlib_level)


def parse_request(t0: Any, t1: Any, px: Any) -> Tuple[int, int, int]:
    """A page's request as integers; ``ValueError`` (one line) when a field is not an integer."""
    try:
        return int(t0), int(t1), int(px)
    except (TypeError, ValueError):
        raise ValueError(f"a window request needs integer t0, t1 and px, not {t0!r}, {t1!r}, {px!r}") from None


def parse_flame_request(threads: Any, t0: Any, t1: Any) -> Tuple[List[int], Optional[Tuple[int, int]]]:
    """A page's flame request (the flame graph of ``threads``, thread indices, over ``[t0, t1)``, or
    the whole run when both are None) as the arguments of ``_core.flame_bytes``; ``ValueError``
    (one line) when a field is not what it should be."""
    if not isinstance(threads, list) or not all(isinstance(k, int) and not isinstance(k, bool) for k in threads):
        raise ValueError(f"a flame request needs a list of thread indices, not {threads!r}")
    if t0 is None and t1 is None:
        return threads, None
    try:
        return threads, (int(t0), int(t1))
    except (TypeError, ValueError):
        raise ValueError(f"a flame request needs integer t0 and t1 (or neither), not {t0!r}, {t1!r}") from None


def flame_reply(trace: Any, threads: Any, t0: Any, t1: Any) -> bytes:
    """The answer to a page's flame request: the flame graph in the core's encoding
    (``_core.flame_bytes``; docs/format.md "The flame graph encoding"), which the page reads with
    js/flame.js ``flameFromBytes``; ``ValueError`` / ``IndexError`` (one line) for a bad request."""
    indices, window = parse_flame_request(threads, t0, t1)
    n = len(trace.threads)
    for k in indices:  # (checked here too: an index past 64 bits is no thread either)
        if not 0 <= k < n:
            raise IndexError(f"thread index {k} out of range (the trace has {n} threads)")
    return _core.flame_bytes(trace, indices, window)


#: The zlib level of the replies a notebook output keeps (live replies go uncompressed).
SAVED_ZLIB_LEVEL = 6
#: What a saved windowed output says in place of zooming.
OFFLINE_NOTE = ("Zooming needs the kernel: this saved view shows the overview and the last window it had "
                "(narrow calls merged and hatched). Run the cell again to browse the trace.")


def saved_output(trace: Any, *, trace_id: str, window: Any = None) -> dict:
    """The ``TRACE_MIME`` data a notebook keeps of a windowed trace: the skeleton, the overview and,
    when the view had moved, the reply of its last window at OVERVIEW_PX pixels (compressed; base64),
    the summary and the call count; never the whole trace. ``trace_id`` ties it to the live widget
    (js/hosts/lab.js hides this copy while that widget is shown)."""
    import base64

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode("ascii")

    out = {"skeleton": b64(trace.skeleton_bytes()), "overview": b64(overview_bytes(trace, zlib_level=SAVED_ZLIB_LEVEL)),
           "calls": len(trace), "summary": trace.summary_json(overall_only=True), "id": trace_id, "note": OFFLINE_NOTE}
    if window is not None:
        t0, t1 = int(window[0]), int(window[1])
        try:
            out["last"] = b64(trace.window_bytes(t0, t1, OVERVIEW_PX, zlib_level=SAVED_ZLIB_LEVEL))
            out["window"] = [t0, t1]
        except ValueError:
            pass  # a window the trace cannot answer: the overview alone
    return {"windowed": out}
