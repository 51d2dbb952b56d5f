"""What one recording records, and where: the options every front end builds once.

``profile()``, ``ThreadProfiler``, ``%%fprofile``, ``fprofile run``, ``fprofile_jupyter.start`` and the
Dask worker plugin each turn what their user gave into one :class:`RecordOptions`; every consumer
(the session, the children's ``session.json``, the Dask plugin, ``_core.Recorder.start``) takes it
whole. The Rust core holds the same fields (``fprofile::record::RecordOptions``) and checks them.

Rules: the fields are resolved values (the filter's three lists, not the user's shorthand; the
flight recorder's window parsed), so a consumer never interprets user input again. The JSON form
(:meth:`RecordOptions.to_json` / :meth:`RecordOptions.from_json`) is what a child process reads.
"""

from dataclasses import asdict, dataclass
from typing import Any, Dict, Optional, Tuple

__all__ = ["RecordOptions"]


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

    def to_json(self) -> Dict[str, Any]:
        """The options as JSON values (lists for tuples)."""
        d = asdict(self)
        for k in ("subs", "exclude", "include"):
            d[k] = list(d[k])
        if self.keep_last is not None:
            d["keep_last"] = list(self.keep_last)
        return d

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
