"""What every ``fprofile`` subcommand shares: one-line usage errors, messages on stderr that never
fail, a progress bar on terminals, loading and saving a trace with it. Used by ``cli`` (the
subcommands) and ``_run`` (``fprofile run``)."""
from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from typing import NoReturn, Optional

PROG = "fprofile"

#: Work shorter than this shows no progress bar (on a terminal or in a notebook: no flicker for
#: small files).
PROGRESS_DELAY_S = 0.5


class UsageError(Exception):
    """A command line that cannot be run as given (exit status 2)."""


def _say(text: str = "", end: str = "\n") -> None:
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


def _flush_quietly(stream) -> None:
    """Flushes a stream the program may have closed, broken or replaced by None."""
    try:
        if stream is not None:
            stream.flush()
    except (OSError, ValueError, AttributeError):
        pass


def unknown_option(name: str, known) -> str:
    """``unknown option --sbus (did you mean --subs?)``: the message for an option that is none of
    ``known``, with the closest known one when there is a close one."""
    import difflib

    base = name.split("=", 1)[0]
    close = difflib.get_close_matches(base, sorted(known), n=1, cutoff=0.6)
    return f"unknown option {base}" + (f" (did you mean {close[0]}?)" if close else "")


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error: ``fprofile run: error: ... (see 'fprofile run --help')``."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


# --------------------------------------------------------------------------------------------------
# progress bar


class Progress:
    """A progress bar on stderr for long conversions.

    Shown only when stderr is a terminal and only once the work has taken more than
    :data:`PROGRESS_DELAY_S`, so logs and pipes never receive carriage-return garbage.
    ``update(done, total)`` may be called as often as the producer likes; it redraws at most ten
    times a second. ``close()`` erases it. The notebook's progress display
    (``_display.NotebookProgress``) keeps this timing and draws differently.
    """

    def __init__(self, label: str, stream=None, delay_s: Optional[float] = None) -> None:
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
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


def _load(path: str, format: Optional[str] = None, *, empty_is_error: bool = False):
    """Loads a trace, with a progress bar on a terminal when loading takes more than
    :data:`PROGRESS_DELAY_S` (the loader reports the bytes it has read every few MB).
    ``empty_is_error``: the caller refuses a trace with no calls with an error of its own, so an
    empty file is not also a warning."""
    from . import _core, _processes
    from ._io import EMPTY_WARNING, load_warnings

    if _processes.is_session_dir(path):  # what a killed recording's children left
        return _processes.load_session(path)
    bar = Progress(f"loading {os.path.basename(path)}")
    try:
        trace = _core.load(path, format, progress=bar.update if bar.enabled else None)
    finally:
        bar.close()
    for w in load_warnings(trace):
        if not (empty_is_error and w == EMPTY_WARNING):
            _say(f"fprofile: warning: {path}: {w}")
    return trace


def _outline_or_load(path: str):
    """What a summary needs of the trace at ``path``: for an ``.fpt`` file its outline (tables,
    call count, summary; read in one pass, memory bounded by its threads and functions whatever
    its length), else (another format, or a file the outline cannot read: loading says why) the
    loaded trace. Warnings as :func:`_load`."""
    from . import _core, _processes
    from ._io import load_warnings

    if not _processes.is_session_dir(path):
        bar = Progress(f"loading {os.path.basename(path)}")
        try:
            outline = _core._outline(path, progress=bar.update if bar.enabled else None)
        except Exception:  # loading it names the problem
            outline = None
        finally:
            bar.close()
        if outline is not None:
            for w in load_warnings(outline):
                _say(f"fprofile: warning: {path}: {w}")
            return outline
    return _load(path)


def _save(trace, path: str, format: Optional[str] = None, title: Optional[str] = None, width_px: Optional[int] = None) -> None:
    """Saves a trace; on a terminal, says "writing ..." when it takes more than a second (the
    writers report no progress, and the GIL is released while they run). ``width_px``: of a
    picture (the png format) only."""
    bar = Progress(f"writing {os.path.basename(path)}")
    extra = {} if width_px is None else {"width_px": width_px}
    if not bar.enabled:
        trace.save(path, format, title=title, **extra)
        return
    done = threading.Event()

    def notice() -> None:
        if not done.wait(bar.delay_s):
            bar.stream.write(f"\r{bar.label} ...")
            bar.stream.flush()
            bar.drawn = True

    t = threading.Thread(target=notice, daemon=True)
    t.start()
    try:
        trace.save(path, format, title=title, **extra)
    finally:
        done.set()
        t.join()
        bar.close()
