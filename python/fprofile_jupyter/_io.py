"""Loading traces from files in every supported format."""
from __future__ import annotations

import os
from typing import Callable, Optional, Union

from . import _core
from ._core import Trace

__all__ = ["load", "load_bytes", "LOAD_FORMATS", "SAVE_FORMATS"]

#: Format names accepted by ``load(..., format=)``.
LOAD_FORMATS = ("fpt", "pyme-text", "pyme-json")
#: Format names accepted by ``Trace.save(..., format=)``.
SAVE_FORMATS = ("fpt", "pyme-json", "pyme-text", "perfetto", "speedscope", "html")


def load(
    path: Union[str, "os.PathLike[str]"],
    format: Optional[str] = None,
    *,
    progress: Optional[Callable[[int, int], object]] = None,
) -> Trace:
    """Load a trace from ``path``.

    Reads fprofile's binary ``.fpt``, PYME raw event text (``ThreadProfiler`` output, ours or the
    original tool's) and PYME JSON (``convertProfile`` output). The format is detected from the
    content; pass ``format="fpt" | "pyme-text" | "pyme-json"`` to insist on one.

    Raises ``FileNotFoundError`` (or another ``OSError``) when the file cannot be read and
    ``FormatError`` (a ``ValueError``) naming the path and the line or byte offset of the problem
    when it is not a valid trace.

    ``progress(bytes_done, bytes_total)``, when given, is called now and then while a large text
    file is parsed (the work itself runs without holding the GIL).
    """
    return _core.load(os.fspath(path), format, progress=progress)


def load_bytes(data: bytes, format: Optional[str] = None) -> Trace:
    """Load a trace from an in-memory buffer (same formats and detection as :func:`load`)."""
    return _core.load_bytes(data, format)
