"""What every ``fprofile`` command shares: the program's name, one-line usage errors (exit status
2), the error line of any other failure, and loading and saving a trace with a progress bar on a
terminal (``_progress``)."""
from __future__ import annotations

import argparse
import os
import threading
from typing import NoReturn, Optional

from .. import _core, _processes
from .._io import EMPTY_WARNING, fpt_size, load_warnings
from .._progress import Progress, say

__all__ = ["PROG", "UsageError", "Parser", "unknown_option", "error_message", "exit_code", "load", "outline_or_load",
           "save"]

PROG = "fprofile"


class UsageError(Exception):
    """A command line that cannot be run as given (exit status 2)."""


def unknown_option(name: str, known) -> str:
    """``unknown option --sbus (did you mean --subs?)``: the message for an option that is none of
    ``known``, with the closest known one when there is a close one."""
    import difflib

    base = name.split("=", 1)[0]
    close = difflib.get_close_matches(base, sorted(known), n=1, cutoff=0.6)
    return f"unknown option {base}" + (f" (did you mean {close[0]}?)" if close else "")


class Parser(argparse.ArgumentParser):
    """argparse with a one-line error: ``fprofile run: error: ... (see 'fprofile run --help')``."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


def error_message(e: BaseException) -> str:
    """A failure as the one line after ``fprofile: error:`` (a file's name and what is wrong with it)."""
    if isinstance(e, OSError) and e.filename is not None:
        what = e.strerror or str(e)
        return f"{e.filename}: {what}"
    msg = str(e).strip() or type(e).__name__
    return msg.splitlines()[0] if msg else msg


def exit_code(e: SystemExit) -> int:
    """The exit status a ``SystemExit`` stands for (its message, if any, said on stderr)."""
    code = e.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    say(str(code))
    return 1


def load(path: str, format: Optional[str] = None, *, empty_is_error: bool = False, backed: bool = False):
    """Loads a trace, with a progress bar on a terminal when loading takes more than
    ``_progress.PROGRESS_DELAY_S`` (the loader reports the bytes it has read every few MB).
    ``empty_is_error``: the caller refuses a trace with no calls with an error of its own, so an
    empty file is not also a warning. ``backed``: a compact ``.fpt`` file is opened file-backed
    (``Trace.file``: what ``diff`` and ``convert`` to ``.fpt`` need is answered from the file,
    its calls never loaded); another format is loaded."""
    if _processes.is_session_dir(path):  # what a killed recording's children left
        return _processes.load_session(path)
    trace = None
    if backed and format in (None, "fpt") and fpt_size(path) is not None:
        try:
            trace = _core.open_file(path)
        except Exception:  # loading it names the problem
            trace = None
    if trace is None:
        bar = Progress(f"loading {os.path.basename(path)}")
        try:
            trace = _core.load(path, format, progress=bar.update if bar.enabled else None)
        finally:
            bar.close()
    for w in load_warnings(trace):
        if not (empty_is_error and w == EMPTY_WARNING):
            say(f"fprofile: warning: {path}: {w}")
    return trace


def outline_or_load(path: str):
    """What a summary needs of the trace at ``path``: for an ``.fpt`` file its outline (tables,
    call count, summary; read in one pass, memory bounded by its threads and functions whatever
    its length), else (another format, or a file the outline cannot read: loading says why) the
    loaded trace. Warnings as :func:`load`."""
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
                say(f"fprofile: warning: {path}: {w}")
            return outline
    return load(path)


def save(trace, path: str, format: Optional[str] = None, title: Optional[str] = None, width_px: Optional[int] = None) -> None:
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
