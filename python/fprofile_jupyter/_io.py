"""Loading traces from files in every supported format."""
from __future__ import annotations

import os
import sys
import time
import warnings
from typing import Callable, List, Optional, Union

from . import _core, _processes
from ._core import Trace

__all__ = ["load", "load_bytes", "load_warnings", "TraceWarning", "LOAD_FORMATS", "SAVE_FORMATS", "BACKED_BYTES"]

#: Format names accepted by ``load(..., format=)`` (from the core's format table).
LOAD_FORMATS = tuple(name for name, _endings, reads, _writes in _core.formats() if reads)
#: Format names accepted by ``Trace.save(..., format=)``.
SAVE_FORMATS = tuple(name for name, _endings, _reads, writes in _core.formats() if writes)
#: File name endings ``Trace.save`` tells the format from (``.perfetto.json`` before ``.json``
#: wins: the longest ending that matches).
SAVE_ENDINGS = tuple(e for _name, endings, _reads, writes in _core.formats() if writes for e in endings)


def replaces(path: Union[str, "os.PathLike[str]"]) -> bool:
    """Whether writing ``path`` now replaces a file that is there (a regular file: a pipe or a
    device is written into, not replaced). Said as :data:`REPLACING` by ``fprofile run`` and by
    ``profile(outfile=...)``."""
    try:
        return os.path.isfile(path)
    except (OSError, ValueError):
        return False


#: How a file written over an earlier one is named: ``f"{path}{REPLACING}"``.
REPLACING = " (replacing the file that was there)"


#: ``load()`` of a compact ``.fpt`` file at least this large (bytes) gives a file-backed trace
#: (``Trace.file``): a small index in memory, the calls read from the file as asked. 4 MiB of
#: ``.fpt`` is about 5 to 10 million calls of a real recording (0.4 to 0.7 bytes per call on disk)
#: and 150 to 300 MB once loaded (about 29 bytes per call); the notebook and the viewer show a
#: trace of more than a million calls windowed anyway, so a file-backed one shows the same.
BACKED_BYTES = 4 << 20


def fpt_size(path: str) -> Optional[int]:
    """The size of ``path`` when it is a regular file that begins as a compact ``.fpt`` does
    (``FPRF``), else None."""
    import stat

    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            return None
        with open(path, "rb") as f:
            return st.st_size if f.read(4) == b"FPRF" else None
    except OSError:
        return None


def backs(path: Union[str, "os.PathLike[str]"], format: Optional[str] = None) -> bool:
    """Whether ``load(path)`` gives a file-backed trace: a compact ``.fpt`` file of at least
    :data:`BACKED_BYTES` bytes (read as ``.fpt``)."""
    if format not in (None, "fpt"):
        return False
    size = fpt_size(os.fspath(path))
    return size is not None and size >= BACKED_BYTES


class TraceWarning(UserWarning):
    """A trace loaded, but part of the file could not be: a PYME raw text file whose last line
    was cut short (a process killed while writing it). The warning says what was left out."""


#: What loading a file with nothing in it says (an empty PYME raw text file loads as no calls).
EMPTY_WARNING = ("it holds no calls: the file is empty (a recording that recorded nothing, or whose file was not "
                 "written yet)")


def load_warnings(trace: Trace) -> List[str]:
    """What a reader left out of ``trace`` (its metadata's ``warning.*`` entries), one message each;
    and :data:`EMPTY_WARNING` for a trace with nothing at all in it (an empty file)."""
    meta = getattr(trace, "metadata", None) or {}
    out = [str(v) for k, v in sorted(meta.items()) if str(k).startswith("warning.")]
    if not meta and not len(getattr(trace, "threads", ())):
        out.append(EMPTY_WARNING)
    return out


def load(
    path: Union[str, "os.PathLike[str]"],
    format: Optional[str] = None,
    *,
    progress: Optional[Callable[[int, int], object]] = None,
    backed: Optional[bool] = None,
) -> Trace:
    """Load a trace from ``path``.

    Reads fprofile's binary ``.fpt``, PYME raw event text (``ThreadProfiler`` output, ours or the
    original tool's) and PYME JSON (``convertProfile`` output). The format is detected from the
    content; pass ``format="fpt" | "pyme-text" | "pyme-json"`` to insist on one. A session
    directory that a recording killed before its stop left (``fprofile-*`` in the temporary
    directory) loads as the merged recordings of its child processes (docs/processes.md).

    Raises ``FileNotFoundError`` (or another ``OSError``) when the file cannot be read and
    ``FormatError`` (a ``ValueError``) naming the path and the line or byte offset of the problem
    when it is not a valid trace. A PYME raw text file whose last line was cut short (a process
    killed while writing it) loads without that line, with a :class:`TraceWarning` saying so.

    A named pipe (FIFO) or another stream is read to its end (at most 1 GiB, each piece within
    10 s): one with no writer raises ``TimeoutError`` instead of waiting forever.

    ``progress(bytes_done, bytes_total)``, when given, is called every few MB of the file while it
    is loaded (the work itself runs without holding the GIL). Without it, in a Jupyter kernel, a
    load that takes more than half a second shows its progress in the cell's output, marked done
    at the end.

    ``backed``: whether the trace is backed by its file (``trace.file`` is then the path) instead
    of held in memory. A file-backed trace keeps only a small index resident and reads the rest
    from the file as it is asked: its length, threads, processes, metadata, ``summary()``,
    ``flame()``, ``compare()``, ``save(..., "fpt")`` / ``to_bytes()`` (the file's bytes copied)
    and the timeline (shown windowed) need no more; what needs every call (``calls()``,
    ``callers()``/``callees()``, saving to another format, ``picture_png()``, ``==``, pickling)
    loads the whole trace once, on first use. None (the default): file-backed for a compact
    ``.fpt`` file of at least ``_io.BACKED_BYTES`` bytes (4 MiB), in memory otherwise; True: file-backed
    (an ``.fpt`` file, compact or still being streamed); False: in memory. A file-backed trace
    keeps the file it opened: replaced or removed under its name (a cell run again with the same
    outfile), it still answers as the trace it was.
    """
    fspath = os.fspath(path)
    if backed is None:
        backed = backs(fspath, format) and not _processes.is_session_dir(fspath)
    if backed and format not in (None, "fpt"):
        raise ValueError(f"load({fspath!r}, format={format!r}, backed=True): only an .fpt file can back a trace")
    bar = None
    if progress is None and "IPython" in sys.modules:  # a kernel has imported IPython; a script pays nothing here
        from ._progress import notebook_progress

        bar = notebook_progress(f"loading {os.path.basename(os.fspath(path))}")
        progress = bar.update if bar is not None else None
    start_s = time.monotonic()
    try:
        if backed:  # opened, not read: the progress is the whole file at once
            try:
                size = os.path.getsize(fspath)
            except OSError:
                size = 0
            if progress is not None:
                progress(0, size)
            trace = _core.open_file(fspath)
            if progress is not None:
                progress(size, size)
        elif _processes.is_session_dir(os.fspath(path)):  # what a killed recording's children left
            trace = _processes.load_session(os.fspath(path))
        else:
            trace = _core.load(os.fspath(path), format, progress=progress)
    except BaseException:
        if bar is not None:
            bar.close()
        raise
    if bar is not None:
        bar.close(f"{bar.label}: {len(trace):,} calls in {time.monotonic() - start_s:.1f} s")
    for w in load_warnings(trace):
        warnings.warn(f"fprofile: {os.fspath(path)}: {w}", TraceWarning, stacklevel=2)
    return trace


def load_bytes(data: bytes, format: Optional[str] = None) -> Trace:
    """Load a trace from an in-memory buffer (same formats and detection as :func:`load`)."""
    trace = _core.load_bytes(data, format)
    for w in load_warnings(trace):
        warnings.warn(f"fprofile: {w}", TraceWarning, stacklevel=2)
    return trace
