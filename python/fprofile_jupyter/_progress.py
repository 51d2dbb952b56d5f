"""What long work tells the user while it runs, on a terminal and in a notebook: one message on
stderr that never fails (:func:`say`), the terminal's progress bar (:class:`Progress`) and the
notebook's progress display (:func:`notebook_progress`), with one timing for both.

The one home of progress: the commands (``cli``), the loader (``_io``), the viewer and the stop
(``_stopping``) use it; it imports nothing of the package but the display's helpers, when a
notebook display is asked for.
"""
from __future__ import annotations

import html
import sys
import time
from typing import Any, Optional

__all__ = ["PROGRESS_DELAY_S", "Progress", "notebook_progress", "say", "flush_quietly"]

#: Work shorter than this shows no progress bar (on a terminal or in a notebook: no flicker for
#: small files).
PROGRESS_DELAY_S = 0.5


def say(text: str = "", end: str = "\n") -> None:
    """One message on stderr (or the interpreter's own stderr when the program set ``sys.stderr``
    to None). A stderr that is closed or broken (the program closed descriptor 2) loses the
    message, never the trace or the exit status."""
    stream = sys.stderr if sys.stderr is not None else sys.__stderr__
    try:
        if stream is not None:
            stream.write(text + end)
            stream.flush()
    except (OSError, ValueError, AttributeError):
        pass


def flush_quietly(stream: Any) -> None:
    """Flushes a stream the program may have closed, broken or replaced by None."""
    try:
        if stream is not None:
            stream.flush()
    except (OSError, ValueError, AttributeError):
        pass


class Progress:
    """A progress bar on stderr for long conversions.

    Shown only when stderr is a terminal and only once the work has taken more than
    :data:`PROGRESS_DELAY_S`, so logs and pipes never receive carriage-return garbage.
    ``update(done, total)`` may be called as often as the producer likes; it redraws at most ten
    times a second. ``close()`` erases it. The notebook's progress display
    (:class:`NotebookProgress`) keeps this timing and draws differently.
    """

    def __init__(self, label: str, stream: Any = None, delay_s: Optional[float] = None) -> None:
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        # (read when the bar is made: a test or a caller may change the module's delay)
        self.delay_s = PROGRESS_DELAY_S if delay_s is None else delay_s
        self.start_s = time.monotonic()
        self.last_draw_s = 0.0
        self.drawn = False
        try:
            self.enabled = bool(self.stream.isatty())
        except (AttributeError, ValueError):
            self.enabled = False

    def update(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.start_s < self.delay_s or now - self.last_draw_s < 0.1:
            return
        self.last_draw_s = now
        self.draw(min(1.0, done / total) if total > 0 else 0.0, done, total)
        self.drawn = True

    def draw(self, frac: float, done: int, total: int) -> None:
        width = 30
        filled = int(frac * width)
        bar = "#" * filled + "-" * (width - filled)
        self.stream.write(f"\r{self.label} [{bar}] {frac * 100:5.1f}%")
        self.stream.flush()

    def close(self) -> None:
        if self.drawn:
            self.stream.write("\r" + " " * (len(self.label) + 42) + "\r")
            self.stream.flush()
            self.drawn = False


class NotebookProgress(Progress):
    """The progress of a long load in a notebook output: one display (``display_id``) updated
    in place, then marked done; the terminal bar's timing (nothing for loads shorter than
    :data:`PROGRESS_DELAY_S`). The label is shown as text (escaped in the HTML)."""

    def __init__(self, label: str) -> None:
        super().__init__(label)
        self.enabled = True
        self.handle: Any = None

    def _bundle(self, text: str, frac: Optional[float]) -> dict:
        bar = "" if frac is None else f'<progress value="{frac * 1000:.0f}" max="1000" style="width:16em"></progress> '
        return {"text/plain": text, "text/html": f"<div class=\"fprofile-progress\">{bar}{html.escape(text)}</div>"}

    def draw(self, frac: float, done: int, total: int) -> None:
        from IPython.display import display

        from ._display import fmt_bytes

        text = f"{self.label}: {frac * 100:.0f}% ({fmt_bytes(done)} of {fmt_bytes(total)})"
        if self.handle is None:
            self.handle = display(self._bundle(text, frac), raw=True, display_id=True)
        else:
            self.handle.update(self._bundle(text, frac), raw=True)

    def close(self, done_text: Optional[str] = None) -> None:
        """Marks the display done with ``done_text`` (or "<label>: stopped")."""
        if self.handle is not None:
            self.handle.update(self._bundle(done_text or f"{self.label}: stopped", None), raw=True)
            self.handle = None
        self.drawn = False


def notebook_progress(label: str) -> Optional[NotebookProgress]:
    """A progress display for a long load when running in a Jupyter kernel, else None."""
    from ._display import in_kernel

    if not in_kernel():
        return None
    return NotebookProgress(label)
