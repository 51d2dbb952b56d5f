"""Following a trace file while a recording writes it: ``fprofile view FILE`` on a streamed
``.fpt`` with no end chunk yet (magic ``FPST``; docs/format.md "Streamed files"), and
``fprofile run --live``.

A :class:`Follower` looks at the file every :data:`POLL_S` seconds (stretched to three times the
time a load took, so a long run's reloads never take more than a quarter of a core) and, when it changed
(size, modification time or inode: the compact rewrite at the stop renames a new file over it),
loads it through the ordinary reader (a file without its end chunk opens with every whole chunk)
and hands the trace to ``publish``. Each published trace is one *generation*; the page asks for
the latest with ``GET /api/live`` (``_viewer``) about once a second. The file is done when it
loads without ``warning.stream_end_missing`` (the end chunk arrived, or the compact rewrite
replaced it): the last generation is published and the follower stops.

A flight recorder's live file (``fprofile run --keep-last 60s --live``) is rewritten whole with
the last window about once a second (``rewritten``): it is complete each time, so it is done
only when :meth:`Follower.end` is called (the viewer's SIGUSR1, sent by ``fprofile run`` once it
wrote the last window).
"""
from __future__ import annotations

import os
import threading
import time
from typing import Any, Callable, Dict, Optional, Tuple

from . import _core

#: Seconds between two looks at the file.
POLL_S = 0.5
#: The magic of a streamed file (a compact ``.fpt`` begins with ``FPRF``: it is complete).
STREAM_MAGIC = b"FPST"
#: The metadata key a streamed file without its end chunk loads with.
END_MISSING = "warning.stream_end_missing"


def is_open_stream(path: str) -> bool:
    """Whether ``path`` is a streamed ``.fpt`` (which may still be being written)."""
    try:
        with open(path, "rb") as f:
            return f.read(4) == STREAM_MAGIC
    except OSError:
        return False


class Follower:
    """Follows ``path``; ``publish(trace, done) -> dict`` turns each new trace into what the page
    is told (URLs of the converted trace); :meth:`answer` is the latest, with its generation."""

    def __init__(self, path: str, name: str, publish: Callable[[Any, bool], Dict[str, Any]],
                 rewritten: bool = False) -> None:
        self.path = path
        self.rewritten = rewritten
        self._ended = threading.Event()
        self.name = name
        self._publish = publish
        self._lock = threading.Lock()
        self._signature: Optional[Tuple[int, int, int]] = None
        self._changed = time.monotonic()
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self.gen = 0
        self.done = False
        self.calls = 0
        self.span: Tuple[int, int] = (0, 1)
        self.published: Dict[str, Any] = {}
        #: Why there is nothing (yet) to show: the file is not there, or not readable so far.
        self.waiting = f"waiting for {name} to be written"

    def poll(self) -> float:
        """One look at the file (loaded when it changed); returns the seconds the load took."""
        try:
            st = os.stat(self.path)
        except OSError:
            return 0.0
        signature = (st.st_ino, st.st_size, st.st_mtime_ns)
        if signature == self._signature:
            return 0.0
        started = time.monotonic()
        try:
            trace = _core.load(self.path)
        except (_core.FormatError, OSError, ValueError) as e:
            # (a file just created, its header not written yet; a rename under way): next time
            with self._lock:
                self._signature = signature
                self.waiting = f"waiting for {self.name} to be readable ({e})"
            return time.monotonic() - started
        done = self._ended.is_set() if self.rewritten else END_MISSING not in dict(trace.metadata)
        if len(trace) == 0 and not done:
            with self._lock:
                self._signature = signature
                if not self.gen:
                    self.waiting = f"no calls recorded in {self.name} yet"
            return time.monotonic() - started
        try:
            published = self._publish(trace, done)
        except ValueError as e:  # (a trace the converter refuses): the next change may do
            with self._lock:
                self._signature = signature
                self.waiting = f"{self.name} cannot be shown yet ({e})"
            return time.monotonic() - started
        from . import _windowed

        with self._lock:
            self._signature = signature
            self._changed = time.monotonic()
            self.gen += 1
            self.done = done
            self.calls = len(trace)
            self.span = _windowed.span(trace)
            self.published = published
            self.waiting = ""
        return time.monotonic() - started

    def answer(self) -> Dict[str, Any]:
        """What ``GET /api/live`` answers: ``gen`` (0: nothing yet, see ``waiting``), ``done``,
        ``calls``, ``span`` (the run's first and last ns), ``quiet_s`` (seconds since the file
        last changed) and the converted trace's URLs (``trace`` or ``windowed``, ``summary``)."""
        with self._lock:
            out: Dict[str, Any] = {"name": self.name, "gen": self.gen, "done": self.done, "calls": self.calls,
                                   "span": list(self.span), "quiet_s": round(time.monotonic() - self._changed, 1)}
            if self.waiting:
                out["waiting"] = self.waiting
            out.update(self.published)
        return out

    def end(self) -> None:
        """The recording of a ``rewritten`` file ended: the next look loads it once more, as done."""
        with self._lock:
            self._signature = None
        self._ended.set()
        self._stop.set()  # (wakes the follower's wait; its loop goes on until done)

    def start(self) -> None:
        """Follows the file in a daemon thread until it is done or :meth:`stop`."""
        self._thread = threading.Thread(target=self._run, name="fprofile-follow", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self.done:
            if self._stop.is_set() and not self._ended.is_set():
                return
            took = self.poll()
            if self._ended.is_set():
                time.sleep(POLL_S / 5)  # the last look, tried again while the file is not readable
            elif not self.done:
                self._stop.wait(max(POLL_S, 3 * took))

    def stop(self) -> None:
        self._stop.set()
