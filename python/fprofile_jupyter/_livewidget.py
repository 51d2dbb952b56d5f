"""Live timelines in a notebook: ``%%fprofile --live``, ``%fprofile start --live`` and
``TimelineWidget(prof, live=True)``.

While a cell runs the kernel answers no request from the page (its shell is busy), so the updates
are pushed: a :class:`Feed` thread loads what the recording has written so far (a streamed ``.fpt``
outfile, read through the ordinary reader, which opens a file with no end chunk with every whole
chunk; or the flight recorder's ``snapshot()``) about every :data:`INTERVAL_S` seconds (stretched
to three times the time an update took, so it never takes more than a quarter of the kernel's time) and
sets the widget's windowed traits at once (``hold_sync``: one comm message): the skeleton, the
overview (a window reply over the whole run at ``_windowed.OVERVIEW_PX`` pixels) and the last
:data:`LAST_S` seconds at the same width (``last``), with ``offline`` set so the page asks for no
window. What one update pushes is bounded by pixels and by the trace's functions and threads, not
by the run's length (benchmarks/README.md, "Live views").

At the end the live view becomes the normal timeline: ``%%fprofile --live`` replaces its output
(``update_display``) with the trace's ordinary output, so the notebook keeps one output whatever
the cell's length (``_livecell``); a ``TimelineWidget(prof, live=True)`` takes the final trace
(:meth:`Feed.stop`).
"""
from __future__ import annotations

import os
import threading
import time
from typing import Any, Callable, Optional, Tuple

from . import _core, _windowed
from ._options import is_stream_path

#: Seconds between two updates pushed to the page.
INTERVAL_S = 1.0
#: The zoomed view of a live timeline: the last this many seconds of the run (all of it when shorter).
LAST_S = 5.0
#: What the page says under a live timeline.
LIVE_NOTE = ("Live: the overview and the last seconds of the run, updated about once a second while it records "
             "(zoom and the flame graph come with the whole trace, at the end).")
#: Shown until the first calls are recorded.
WAITING = "fprofile: recording; the live timeline appears here with the first recorded calls."


def live_payload(trace: Any, last_s: float = LAST_S) -> dict:
    """The traits of one live update: windowed, offline, the overview and the last seconds."""
    a, b = _windowed.span(trace)
    overview = _windowed.overview_bytes(trace)
    t0 = max(a, b - int(last_s * 1_000_000_000))
    last = trace.window_bytes(t0, max(b, t0 + 1), _windowed.OVERVIEW_PX)
    return {"windowed": True, "skeleton": trace.skeleton_bytes(), "overview": overview, "last": last,
            "calls": len(trace), "summary": trace.summary_json(overall_only=True), "data": b"", "error": "",
            "offline": LIVE_NOTE}


def file_source(path: str) -> Callable[[], Optional[Any]]:
    """The trace a streamed outfile holds so far, or None when it has not changed (or is not readable yet)."""
    seen: list = [None]

    def load() -> Optional[Any]:
        try:
            st = os.stat(path)
        except OSError:
            return None
        signature: Tuple[int, int, int] = (st.st_ino, st.st_size, st.st_mtime_ns)
        if signature == seen[0]:
            return None
        try:
            trace = _core.load(path)
        except (_core.FormatError, OSError, ValueError):
            return None
        seen[0] = signature
        return trace

    return load


def profile_source(prof: Any) -> Callable[[], Optional[Any]]:
    """What ``prof`` (a ``profile`` object) has recorded so far: its streamed outfile, or its
    flight recorder's snapshot. ``ValueError`` when it has neither (a recording in memory cannot
    be read while it runs)."""
    outfile = getattr(prof, "_outfile", None)
    if outfile is not None and is_stream_path(outfile):
        return file_source(outfile)
    if getattr(prof, "_keep_last", None) is not None:
        def snap() -> Optional[Any]:
            try:
                return prof.snapshot()
            except _core.ProfilerError:  # not recording (yet, or any more)
                return None
        return snap
    raise ValueError("a live timeline reads the recording while it runs: record to a streamed file "
                     "(profile(outfile='run.fpt')) or with the flight recorder (profile(keep_last='60s'))")


class Feed:
    """Pushes live updates to ``widget`` from a daemon thread until :meth:`stop`.

    ``source()``: the trace so far, or None (nothing new). ``ended()``: the final trace once the
    recording ended (the widget then becomes the normal timeline), else None."""

    def __init__(self, widget: Any, source: Callable[[], Optional[Any]], *, ended: Optional[Callable[[], Any]] = None,
                 interval_s: float = INTERVAL_S, last_s: float = LAST_S) -> None:
        self.widget = widget
        self.source = source
        self.ended = ended
        self.interval_s = interval_s
        self.last_s = last_s
        #: Updates pushed, and the bytes of the last one (its binary traits and summary).
        self.updates = 0
        self.last_bytes = 0
        self.max_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fprofile-live", daemon=True)

    def start(self) -> "Feed":
        self._thread.start()
        return self

    def update(self) -> bool:
        """One update, if the recording has something new; whether one was pushed."""
        trace = self.source()
        if trace is None or len(trace) == 0:
            return False
        payload = live_payload(trace, self.last_s)
        size = sum(len(payload[k]) for k in ("skeleton", "overview", "last", "summary"))
        with self.widget.hold_sync():
            for k, v in payload.items():
                setattr(self.widget, k, v)
        self.updates += 1
        self.last_bytes = size
        self.max_bytes = max(self.max_bytes, size)
        return True

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self.update()
                final = self.ended() if self.ended is not None else None
            except Exception as e:  # (a comm gone with its kernel, ...): the live view stops, the run goes on
                self.widget.error = f"fprofile: the live view stopped: {e}"
                return
            if final is not None:
                self.widget.show_trace(final)
                return
            self._stop.wait(max(self.interval_s, 3 * (time.monotonic() - started)))

    def stop(self, final: Any = None) -> None:
        """Stops the updates (waits for the one under way); with ``final``, the widget shows it."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()
        if final is not None:
            self.widget.show_trace(final)


def profile_ended(prof: Any) -> Callable[[], Any]:
    """``ended`` for a ``profile`` object: the trace of a recording that ended since (a new
    ``prof.trace``), else None."""
    before = prof.trace

    def ended() -> Any:
        trace = prof.trace
        if prof.options is None and trace is not None and trace is not before:
            return trace
        return None

    return ended
