"""Two runs compared: ``compare(a, b)`` and its ``Comparison``.

Functions are matched by file and name (first-line changes tolerated; several functions of one file
with one name pair by line), each side's figures are its summary's, and the differences are
``b - a``: the rules, the orders and the tables are the core's (``fprofile::compare``); this module
loads the inputs and gives the rows Python names.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple, Union

from . import _core
from ._core import Trace

__all__ = ["compare", "Comparison", "ComparisonRow", "SORTS"]

#: The orders of ``Comparison.sort(by=...)``: absolute change, relative change, change in calls.
SORTS = ("abs", "rel", "calls")

_Input = Union[Trace, str, "os.PathLike[str]"]


@dataclass(frozen=True)
class ComparisonRow:
    """One function of a comparison: each side's calls, total, self and mean time (integer ns; 0
    on a side that never called it) and the differences ``b - a``."""

    function: str
    file: str
    #: First line on each side, None where the side does not have the function.
    line_a: Optional[int]
    line_b: Optional[int]
    #: "both", "only_a" or "only_b".
    status: str
    calls_a: int
    calls_b: int
    total_ns_a: int
    total_ns_b: int
    self_ns_a: int
    self_ns_b: int
    mean_ns_a: int
    mean_ns_b: int
    #: ``(total_ns_b - total_ns_a) / total_ns_a`` (``inf`` for a function only in b, 0 when both are 0).
    total_relative: float
    #: The same for the mean time of one call.
    mean_relative: float

    @property
    def calls_diff(self) -> int:
        return self.calls_b - self.calls_a

    @property
    def total_diff_ns(self) -> int:
        return self.total_ns_b - self.total_ns_a

    @property
    def self_diff_ns(self) -> int:
        return self.self_ns_b - self.self_ns_a

    @property
    def mean_diff_ns(self) -> int:
        return self.mean_ns_b - self.mean_ns_a


def _row(t: Tuple[Any, ...]) -> ComparisonRow:
    _id, function, file, line_a, line_b, status, n, rel_total, rel_mean = t
    return ComparisonRow(function, file, line_a, line_b, status, *n, rel_total, rel_mean)


class Comparison:
    """Two traces compared per function (``fprofile_jupyter.compare(a, b)``).

    ``rows()`` gives a :class:`ComparisonRow` per function, in the current order; ``sort(by=...,
    per_call=...)`` a comparison in another order or view ("abs": largest absolute change first,
    "rel": largest relative change first, "calls": largest change in calls first; ``per_call``:
    mean time of one call instead of total time, for runs of different lengths). Shown as a text
    table (``str``, ``repr``: the first 25 rows) and in a notebook as an HTML table whose headers
    sort it when clicked, under the differential flame graph (b's call paths coloured by how much
    slower or faster each got; drawn from the output alone, by the package's JupyterLab /
    Notebook 7 extension or by the output's own ``text/html`` elsewhere, so it reopens without a
    kernel). ``flame()`` is the differential flame tree (both runs' call paths, each
    with both sides' figures; a path one side lacks has ``status`` "only_a" or "only_b").
    """

    def __init__(self, core: Any, name_a: str, name_b: str, by: str = "abs", per_call: bool = False) -> None:
        self._core = core
        self.name_a = name_a
        self.name_b = name_b
        self.by = by
        self.per_call = per_call

    def rows(self) -> List[ComparisonRow]:
        """The functions, in this comparison's order."""
        return [_row(t) for t in self._core.rows(self.by, self.per_call)]

    def sort(self, by: str = "abs", per_call: Optional[bool] = None) -> "Comparison":
        """The same comparison ordered by ``by`` ("abs", "rel" or "calls"), in the per-call view when
        ``per_call`` (default: this comparison's view). ValueError for another order."""
        if by not in SORTS:
            raise ValueError(f"unknown comparison order {by!r} (choose from {', '.join(SORTS)})")
        return Comparison(self._core, self.name_a, self.name_b, by, self.per_call if per_call is None else per_call)

    def format_table(self, limit: Optional[int] = None) -> str:
        """The rows as a fixed-width text table (the first ``limit`` rows when given)."""
        return self._core.table(self.name_a, self.name_b, self.by, self.per_call, limit)

    def flame(self) -> List[Dict[str, Any]]:
        """The differential flame tree: the top-level nodes, nested dicts with ``function``,
        ``file``, ``status``, ``calls_a``, ``total_ns_a``, ``self_ns_a``, the same for b, and
        ``children`` (b's heaviest first)."""
        return self._core.flame()

    def flame_bytes(self) -> bytes:
        """The differential flame tree in its compact encoding (``docs/format.md``)."""
        return self._core.flame_bytes()

    def functions(self) -> List[ComparisonRow]:
        """The rows in their original order: the ``func`` of ``flame_bytes()`` indexes this list."""
        return [_row(t) for t in self._core.rows(None, False)]

    def __len__(self) -> int:
        return len(self._core.rows(None, False))

    def __repr__(self) -> str:
        return self.format_table(25)

    def __str__(self) -> str:
        return self.format_table()

    def _repr_html_(self) -> str:
        return self._core.html(self.name_a, self.name_b, self.by, self.per_call)

    def _repr_mimebundle_(self, include: Optional[Any] = None, exclude: Optional[Any] = None) -> Dict[str, Any]:
        """In a notebook: the HTML table and the differential flame graph (``_display.COMPARE_MIME``,
        drawn from the output alone: ``_display.comparison_mimebundle``)."""
        from ._display import comparison_mimebundle

        return comparison_mimebundle(self, include, exclude)


def _open(x: _Input, side: str) -> Tuple[Trace, str]:
    """The trace and its default name: the file's name, the trace's title (its metadata "title"),
    else ``side`` ("a" or "b")."""
    if isinstance(x, Trace):
        title = x.metadata.get("title", "").strip()
        return x, title or side
    if not isinstance(x, (str, os.PathLike)):
        raise TypeError(f"compare: {side} must be a Trace or the path of a trace file, not {type(x).__name__}")
    import re
    import warnings

    from ._io import EMPTY_WARNING, load

    path = os.fspath(x)
    with warnings.catch_warnings():
        # an empty file: compare() says so itself, as its error ("the trace holds no calls")
        warnings.filterwarnings("ignore", message=".*" + re.escape(EMPTY_WARNING))
        return load(path), os.path.basename(path) or path


def compare(a: _Input, b: _Input, *, names: Optional[Tuple[str, str]] = None) -> Comparison:
    """Compares two runs per function: ``a`` and ``b`` are traces or paths of trace files (any
    format ``load`` reads). The differences are ``b - a``. ``names``: what the title, the column
    headers (``calls chunk 1``), the marks of functions one run alone has, the flame graph's legend
    and the messages call the two, e.g. ``names=("chunk 1", "chunk 20")`` (default: the file names,
    or the traces' titles, their metadata "title", else "a" and "b"; two equal defaults become
    ``a (x)`` and ``b (x)``).

    ``FileNotFoundError`` / ``OSError`` when a file cannot be read, ``FormatError`` (naming the
    file) when it is not a trace, ``ValueError`` when a trace holds no calls or ``names`` is not two
    different non-empty strings."""
    if names is not None:
        if (isinstance(names, str) or not isinstance(names, (tuple, list)) or len(names) != 2
                or not all(isinstance(n, str) and n.strip() for n in names)):
            raise ValueError(f"compare: names must be two non-empty strings, e.g. names=(\"before\", \"after\"), not {names!r}")
        if names[0].strip() == names[1].strip():
            raise ValueError(f"compare: the two names must differ (both are {names[0]!r})")
    ta, name_a = _open(a, "a")
    tb, name_b = _open(b, "b")
    if names is not None:
        name_a, name_b = names[0].strip(), names[1].strip()
    elif name_a == name_b and (name_a, name_b) != ("a", "b"):
        name_a, name_b = f"a ({name_a})", f"b ({name_b})"
    for t, name in ((ta, name_a), (tb, name_b)):
        if len(t) == 0:  # the core says "trace a holds no calls"; here the file is named
            raise ValueError(f"{name}: the trace holds no calls: nothing to compare")
    return Comparison(_core.compare_traces(ta, tb), name_a, name_b)
