"""What one recording records, and where: the options every front end builds once.

``profile()``, ``ThreadProfiler``, ``%%fprofile``, ``fprofile run``, ``fprofile_jupyter.start`` and the
Dask worker plugin each turn what their user gave into one :class:`RecordOptions`; every consumer
(the session, the children's ``session.json``, the Dask plugin, ``_core.Recorder.start``) takes it
whole. The Rust core holds the same fields (``fprofile::record::RecordOptions``) and checks them.

The values a user gives are checked here, once, by the functions below (:func:`check_max_events`,
:func:`check_outfile`, :func:`check_processes`, :func:`parse_keep_last`, :func:`check_keep_last`; the ``subs`` by
``_subs.check_subs``): every front end calls them, with the same messages.

Rules: the fields are resolved values (the filter's three lists, not the user's shorthand; the
flight recorder's window parsed), so a consumer never interprets user input again. The JSON form
(:meth:`RecordOptions.to_json` / :meth:`RecordOptions.from_json`) is what a child process reads.
"""

import os
from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple

from . import _core
from ._core import ProfilerError

__all__ = ["RecordOptions", "DEFAULT_MAX_EVENTS", "check_max_events", "check_outfile", "parse_keep_last",
           "check_keep_last", "check_processes", "is_stream_path"]

#: Default cap on recorded events (a call is two events: 10 million calls, 320 MB of buffers).
#: The hook also never takes more than a quarter of the memory available when recording starts.
DEFAULT_MAX_EVENTS: int = _core.Recorder.DEFAULT_MAX_EVENTS


@dataclass(frozen=True)
class RecordOptions:
    #: Record code whose file name contains one of these ...
    subs: Tuple[str, ...]
    #: ... and none of these ...
    exclude: Tuple[str, ...] = ()
    #: ... or one of these (recorded even when excluded: the ``+name`` entries).
    include: Tuple[str, ...] = ()
    #: Record calls of built-in functions too.
    builtins: bool = False
    #: The cap on recorded events (recording stops there, with a warning). Set by the front end
    #: (``DEFAULT_MAX_EVENTS`` unless the user gave one).
    max_events: int = 0
    #: A file the events stream to while recording (None: kept in memory).
    outfile: Optional[str] = None
    #: The flight recorder's window: ``("ns", n)`` or ``("events", n)``; None: everything is kept.
    keep_last: Optional[Tuple[str, int]] = None
    #: Child processes are recorded into the same trace.
    processes: bool = False
    #: A Dask cluster's workers are recorded into the same trace.
    dask: bool = False

    @property
    def streamed(self) -> bool:
        """The outfile is a streamed ``.fpt`` (the trace at stop is read back from it)."""
        return self.outfile is not None and is_stream_path(self.outfile)

    def to_json(self) -> Dict[str, Any]:
        """The options as JSON values (lists for tuples)."""
        # (not dataclasses.asdict: it deep-copies every value, a sixth of a recording's start)
        return {name: list(v) if isinstance(v, tuple) else v for name in self.__dataclass_fields__
                for v in (getattr(self, name),)}

    @classmethod
    def from_json(cls, d: Dict[str, Any]) -> "RecordOptions":
        """The options from :meth:`to_json`'s form; ``ValueError`` naming the first bad field."""
        try:
            keep = d.get("keep_last")
            return cls(subs=tuple(str(s) for s in d["subs"]), exclude=tuple(str(s) for s in d.get("exclude", ())),
                       include=tuple(str(s) for s in d.get("include", ())), builtins=bool(d.get("builtins", False)),
                       max_events=int(d["max_events"]), outfile=d.get("outfile"),
                       keep_last=None if keep is None else (str(keep[0]), int(keep[1])),
                       processes=bool(d.get("processes", False)), dask=bool(d.get("dask", False)))
        except (KeyError, TypeError, ValueError, IndexError) as e:
            raise ValueError(f"recording options are not valid: {e!r}") from None


# -- the checks of what a user gives (one home: every front end calls these) ------------------

def check_max_events(max_events: Any) -> int:
    """The ``max_events=`` argument: a positive int (capped at what 64 bits hold)."""
    if isinstance(max_events, bool) or not isinstance(max_events, int):
        raise TypeError(f"max_events must be an int, not {type(max_events).__name__}")
    if max_events < 1:
        raise ValueError(f"max_events must be at least 1 (got {max_events})")
    # beyond 2**64 - 1 there is no difference (the hook caps at what memory allows anyway)
    return min(max_events, 2**64 - 1)


def check_outfile(outfile: Any) -> Optional[str]:
    """The ``outfile=`` argument as a str path (None stays None); not a directory."""
    if outfile is None:
        return None
    try:
        path = os.fspath(outfile)
    except TypeError:
        raise TypeError(f"outfile must be a path (str or os.PathLike), not {type(outfile).__name__}") from None
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if os.path.isdir(path):
        raise ProfilerError(f"cannot write the outfile {path}: it is a directory; pass a file path")
    return path


#: The longest keep_last window, as text (2**63 ns: what a signed 64-bit count of ns holds).
_MAX_WINDOW_TEXT = "2562047 h (about 292 years)"

_UNITS_NS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 1_000_000_000, "m": 60_000_000_000,
             "min": 60_000_000_000, "h": 3_600_000_000_000}


def parse_keep_last(keep_last: Any) -> Optional[Tuple[str, int]]:
    """``keep_last`` as ``("ns", n)`` (a duration: ``"30s"``, ``"500ms"``, ``"2m"``, ``"1.5h"``; units
    ns, us, ms, s, m or min, h) or ``("events", n)`` (an int: that many events); None for None.
    ``TypeError`` / ``ValueError`` with the accepted forms otherwise."""
    if keep_last is None:
        return None
    forms = 'a duration such as "30s", "500ms", "2m" (units ns, us, ms, s, m, h) or a number of events (an int)'
    if isinstance(keep_last, bool) or not isinstance(keep_last, (int, str)):
        raise TypeError(f"keep_last must be {forms}, not {type(keep_last).__name__}")
    if isinstance(keep_last, int):
        if keep_last < 1:
            raise ValueError(f"keep_last must be a positive number of events (got {keep_last})")
        return ("events", min(keep_last, 2**64 - 1))
    text = keep_last.strip().lower()
    unit = text.lstrip("0123456789.+-eE ")
    number = text[:len(text) - len(unit)].strip()
    try:
        value = float(number)
    except ValueError:
        raise ValueError(f"keep_last={keep_last!r}: expected {forms}") from None
    if unit.strip() not in _UNITS_NS:
        raise ValueError(f"keep_last={keep_last!r}: expected {forms}")
    ns = value * _UNITS_NS[unit.strip()]
    if ns >= 2**63:  # (inf included)
        raise ValueError(f"keep_last={keep_last!r}: the window is too large: at most {_MAX_WINDOW_TEXT} "
                         "(to keep everything, record without keep_last)")
    if not ns >= 1:  # (NaN included)
        raise ValueError(f"keep_last={keep_last!r}: the window must be a positive duration of at least 1 ns")
    return ("ns", int(ns))


def check_processes(processes: Any) -> bool:
    """The ``processes=`` argument: a bool, else one clear TypeError."""
    if not isinstance(processes, bool):
        raise TypeError(f"processes must be True or False (follow child processes or not), not {type(processes).__name__}")
    return processes


def check_keep_last(keep_last: Any, max_events: Any, outfile: Optional[str], dask: Any) -> Optional[Tuple[str, int]]:
    """The ``keep_last=`` argument parsed (:func:`parse_keep_last`), and what it cannot be given with:
    a ``max_events`` other than the default, an outfile, a Dask client."""
    keep = parse_keep_last(keep_last)
    if keep is None:
        return None
    if max_events != DEFAULT_MAX_EVENTS:
        raise ValueError("keep_last and max_events cannot be given together: the flight recorder keeps the last "
                         "window, with no cap (memory is bounded by the window); give one of them")
    if outfile is not None:
        raise ValueError("keep_last keeps the last window in memory and takes no outfile: save a window with "
                         "snapshot().save(path), or stream everything to an .fpt outfile without keep_last")
    if dask is not None:
        raise ValueError("keep_last records this process only: it cannot be combined with dask=")
    return keep


def is_stream_path(path: str) -> bool:
    """Whether an outfile at ``path`` is streamed in the compact format (an ``.fpt`` name): the
    core's one rule (``_core._is_stream_path``), for every front end and the session."""
    return bool(_core._is_stream_path(path))
