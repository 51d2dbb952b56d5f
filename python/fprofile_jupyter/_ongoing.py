"""A recording that spans calls: ``fprofile_jupyter.start(...)`` / ``stop()`` / ``status()``, and
``%fprofile start`` / ``stop`` / ``status`` in a notebook (``_magic``), where it spans cells.

One such recording at a time (the hook records one session per process: a ``with profile()`` or a
``%%fprofile`` cell while it runs is refused by ``profile()`` itself). ``start`` takes exactly the
arguments of :class:`fprofile_jupyter.profile` and returns that profile object, whose own
``start()`` / ``stop()`` do the same for one object (this module only remembers which one is on).

At interpreter exit (a kernel shutdown or restart included) a recording still on is stopped here,
before ``_session``'s own exit handler: a streamed ``.fpt`` outfile gets its end chunk, and a file
the magic was asked to write in another format (``%fprofile start -o run.json``) is written.
"""
from __future__ import annotations

import atexit
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, List, Optional

from ._core import ProfilerError

__all__ = ["start", "stop", "status", "current"]


@dataclass
class Ongoing:
    """The recording on, and what to do at its end."""

    prof: Any  # the profile object
    started: float  # time.time() at start
    #: What it records, and where (the profile's options, kept after the stop).
    options: Any
    #: A file to write at the stop in a format other than streamed .fpt (None: none, or streamed).
    save_to: Optional[str] = None
    save_format: Optional[str] = None
    #: What it was started from, for status: "fprofile_jupyter.start()" or "%fprofile start".
    origin: str = "fprofile_jupyter.start()"
    #: Show the timeline at ``%fprofile stop`` (``--no-display`` says no).
    display: bool = True
    #: Called with the trace when it stops (the live widget's last update), errors ignored.
    on_stop: List[Callable[[Any], None]] = field(default_factory=list)


_lock = threading.Lock()
_current: Optional[Ongoing] = None


def current() -> Optional[Ongoing]:
    """The recording started by :func:`start` (or ``%fprofile start``) and not stopped yet."""
    return _current


def start(subs: Any = None, **kwargs: Any) -> Any:
    """Start recording now and return at once; the code that runs next is recorded (in a notebook:
    the cells that follow) until :func:`stop`. Takes the arguments of
    :class:`fprofile_jupyter.profile` (``subs``, ``builtins``, ``max_events``, ``outfile``,
    ``processes``, ``dask``, ``keep_last``) and returns that ``profile`` object (``.trace`` after
    the stop; ``prof.snapshot()`` with ``keep_last``). ``ProfilerError`` when a recording is on."""
    return begin(subs, kwargs).prof


def begin(subs: Any, kwargs: dict, *, origin: str = "fprofile_jupyter.start()", save_to: Optional[str] = None,
          save_format: Optional[str] = None, display: bool = True) -> Ongoing:
    """:func:`start` with what the magic adds (see :class:`Ongoing`); returns it."""
    global _current
    from ._recording import profile

    with _lock:
        if _current is not None:
            raise ProfilerError(f"a recording is already on (started {_ago(_current.started)} by {_current.origin}): "
                                "stop it first (fprofile_jupyter.stop() or %fprofile stop)")
        prof = profile(subs, **kwargs)
        prof.start()
        _current = Ongoing(prof, time.time(), prof.options, save_to, save_format, origin, display)
        return _current


def stop() -> Any:
    """Stop the recording :func:`start` began; returns its ``Trace`` (also on the profile object's
    ``.trace``). ``ProfilerError`` when none is on. Warnings of the recording (a cap reached,
    subs that matched nothing) are issued as at the end of ``with profile()``."""
    return end()[1]


def end() -> "tuple[Ongoing, Any]":
    """:func:`stop`, returning what was on with the trace."""
    global _current
    with _lock:
        ongoing, _current = _current, None
    if ongoing is None:
        raise ProfilerError("nothing is recording: start a recording with fprofile_jupyter.start() "
                            "(in a notebook: %fprofile start)")
    try:
        trace = ongoing.prof.stop()
    finally:
        for hook in ongoing.on_stop:
            try:
                hook(ongoing.prof.trace)
            except Exception:
                pass
    return ongoing, trace


def status() -> str:
    """One line: what is recording (this module's recording, or another one), or that nothing is."""
    from ._session import active_sessions

    ongoing = _current
    if ongoing is not None:
        prof = ongoing.prof
        parts = [f"fprofile: recording since {time.strftime('%H:%M:%S', time.localtime(ongoing.started))} "
                 f"({_ago(ongoing.started)}, started by {ongoing.origin})",
                 f"subs {', '.join(prof.subs) or '(none)'}"]
        options = prof.options
        if options is not None:
            parts.append("child processes followed" if options.processes else "this process only")
            if options.keep_last is not None:
                parts.append(f"keeping the last {prof.keep_last_text}")
            if options.outfile is not None:
                size = _size(options.outfile)
                parts.append(f"streaming to {options.outfile}" + (f" ({size:,} bytes so far)" if size is not None else "")
                             if options.streamed else f"writing {options.outfile}")
            if options.dask:
                parts.append("with the Dask workers")
        if ongoing.save_to is not None:
            parts.append(f"writes {ongoing.save_to} at the stop")
        return "; ".join(parts)
    if active_sessions():
        return ("fprofile: a recording is on in this process (a profile() block or a ThreadProfiler), not one of "
                "fprofile_jupyter.start(): it stops where it was started")
    return "fprofile: nothing is recording (start one with %fprofile start or fprofile_jupyter.start())"


def _ago(t: float) -> str:
    s = max(0.0, time.time() - t)
    if s < 60:
        return f"{s:.0f} s ago"
    if s < 3600:
        return f"{s / 60:.0f} min ago"
    return f"{s / 3600:.1f} h ago"


def _size(path: str) -> Optional[int]:
    try:
        return os.path.getsize(path)
    except OSError:
        return None


def save(trace: Any, path: str, fmt: Optional[str]) -> None:
    """``trace`` to ``path`` (``fmt``, or from the extension)."""
    if fmt is not None:
        trace.save(path, format=fmt)
    else:
        trace.save(path)


@atexit.register
def _stop_at_exit() -> None:
    """A recording still on at exit (a kernel shut down or restarted): stopped, and the file asked
    for written. Registered after ``_session``'s handler, so it runs before it."""
    global _current
    with _lock:
        ongoing, _current = _current, None
    if ongoing is None or getattr(ongoing.prof, "_session", None) is None:
        return
    try:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                trace = ongoing.prof.stop()
            finally:
                for hook in ongoing.on_stop:  # (a live view's scratch file removed)
                    try:
                        hook(None)
                    except Exception:
                        pass
        if ongoing.save_to is not None and trace is not None:
            save(trace, ongoing.save_to, ongoing.save_format)
    except Exception as e:  # no one to raise to: one line
        try:
            print(f"fprofile: the recording stopped at exit could not be written: {e}", file=sys.stderr)
        except Exception:
            pass
