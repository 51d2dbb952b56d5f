"""Ctrl-C while a recording stops: the one rule every stop follows (``profile``'s end, the
``%%fprofile`` magic, ``ThreadProfiler.profile_off``, the Dask stop and gather, the merge of child
processes, ``fprofile run`` writing its file).

:class:`held_sigint` holds SIGINT while a stop runs: the stop finishes and the trace is kept; the
first Ctrl-C it holds prints one line saying the stop is finishing (later ones are quiet); when the
stop is over the handler that was there before comes back and, when a Ctrl-C was held, it is
delivered to that handler (``signal.raise_signal``): Python's default raises the
``KeyboardInterrupt`` then, a program's own handler runs, an ignored SIGINT stays ignored.

Only the main thread can install signal handlers: a stop on another thread just runs (the
``KeyboardInterrupt`` is raised in the main thread anyway, not in it). Holds nest: a stop inside
another's hold (the Dask stop inside ``profile``'s end) leaves the holding to the outer one.
"""
from __future__ import annotations

import _signal  # (signal's C functions: signal.signal wraps each handler in an enum, 5 µs a stop)
import signal
import threading
from typing import Any, Optional

from ._progress import say

__all__ = ["held_sigint"]

_depth = 0  # holds active on the main thread (only the main thread changes it)


class held_sigint:
    """``with held_sigint("writing the trace to out.fpt"):`` - see the module docstring.

    ``what``: what is finishing, for the one line a Ctrl-C prints. ``deliver``: deliver a held
    Ctrl-C at the end (False: the caller reads :attr:`interrupted` and decides, as ``fprofile run``
    does after the program ended, or when a ``KeyboardInterrupt`` already ends the block being
    stopped). A held Ctrl-C is delivered even when the stop raised (the ``KeyboardInterrupt`` then
    carries that exception as its context)."""

    def __init__(self, what: str = "stopping the recording and keeping its trace", deliver: bool = True) -> None:
        self.what = what
        self.deliver = deliver
        #: Ctrl-C presses held.
        self.interrupted = 0
        self._saved: Any = None
        self._active = False  # this hold installed the handler (the outermost on the main thread)
        self._counted = False  # this hold counts in _depth

    def __enter__(self) -> "held_sigint":
        global _depth
        if threading.current_thread() is not threading.main_thread():
            return self
        if _depth == 0:
            try:
                self._saved = _signal.signal(signal.SIGINT, self._handler)
            except (ValueError, OSError, AttributeError, TypeError):  # no signals here (an embedded interpreter)
                return self
            self._active = True
        _depth += 1
        self._counted = True
        return self

    def _handler(self, signum: int, frame: Optional[Any]) -> None:
        self.interrupted += 1
        if self.interrupted == 1:
            say(f"\nfprofile: {self.what}; it will be complete in a moment (Ctrl-C is held until then)")

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        global _depth
        if self._counted:
            _depth -= 1
            self._counted = False
        if not self._active:
            return False
        self._active = False
        # (None: a handler installed from C, which cannot be put back: Python's default instead)
        saved = self._saved if self._saved is not None else signal.default_int_handler
        try:
            _signal.signal(signal.SIGINT, saved)
        except (ValueError, OSError, TypeError):
            return False
        if self.interrupted and self.deliver:
            signal.raise_signal(signal.SIGINT)  # to the handler that was there: a KeyboardInterrupt, mostly
        return False
