"""Recording: ``profile()`` (context manager and decorator) and ``ThreadProfiler`` (PYME drop-in).

Both drive ``fprofile_jupyter._core.Recorder``, the Rust hook: every call of a Python function whose
file name (``co_filename``) contains one of ``subs`` is recorded (entry and exit time, thread), on
every thread, with no Python code running per call. See docs/recording.md for what is covered on
which Python version.
"""
from __future__ import annotations

import atexit
import functools
import json
import os
import sys
import sysconfig
import threading
import warnings
from typing import Any, Callable, Dict, Iterable, List, NamedTuple, Optional, Sequence, Tuple, TypeVar, Union

from . import _core, _processes
from ._core import FormatError, ProfilerError, Recorder, Trace
from ._io import REPLACING, replaces
from ._options import RecordOptions
from ._stopping import held_sigint

__all__ = ["profile", "ThreadProfiler", "Filter", "default_filter", "default_subs", "split_subs", "resolve_subs",
           "CapReachedWarning", "SubsWarning", "OutfileError", "DEFAULT_MAX_EVENTS"]

#: Default cap on recorded events (a call is two events: 10 million calls, 320 MB of buffers).
#: The hook also never takes more than a quarter of the memory available when recording starts.
DEFAULT_MAX_EVENTS: int = Recorder.DEFAULT_MAX_EVENTS

PathLike = Union[str, "os.PathLike[str]"]
F = TypeVar("F", bound=Callable[..., Any])

# This package's own files are never recorded.
_OWN_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "")


class OutfileError(ProfilerError):
    """Writing the outfile failed while recording (disk full, I/O error): raised by
    ``profile_off()`` / at the end of ``profile()``; the exception's ``trace`` (also set on the
    profiler) holds the complete in-memory trace."""

    trace: Optional[Trace] = None


class CapReachedWarning(RuntimeWarning):
    """The event cap (``max_events``) was reached: recording stopped early; the trace keeps
    everything recorded until then."""


class SubsWarning(UserWarning):
    """Entries of ``subs`` that matched no recorded call (a misspelling, a package that was not
    used, a library excluded by the defaults): issued once, after the recording, naming them."""


# -- default subs ------------------------------------------------------------------------------

def _ipython_cell_subs() -> Optional[List[str]]:
    """The cells of the running IPython/Jupyter session, or None outside IPython."""
    ip_mod = sys.modules.get("IPython")
    if ip_mod is None:
        return None
    try:
        shell = ip_mod.get_ipython()
    except Exception:
        return None
    if shell is None:
        return None
    subs: List[str] = []
    compiler = getattr(shell, "compile", None)
    name = ""
    if compiler is not None and hasattr(compiler, "get_code_name"):
        try:
            name = str(compiler.get_code_name("pass\n", "pass\n", 0))
        except Exception:
            name = ""
    if name and os.path.isabs(name):
        subs.append(os.path.join(os.path.dirname(name), ""))  # ipykernel: <tmp>/ipykernel_<pid>/
    elif name.startswith("<"):
        cut = name.find("-", name.find("-") + 1)  # "<ipython-input-" of "<ipython-input-3-abc>"
        subs.append(name[: cut + 1] if cut > 0 else name)
    else:
        subs.append("<ipython-input-")
    return subs


class Filter(NamedTuple):
    """What a recording records: code whose file name contains one of ``include``, or one of
    ``subs`` and none of ``exclude``. ``profile(subs=...)`` takes one in place of a list of strings."""

    subs: List[str]
    exclude: List[str]
    #: Recorded even when they match ``exclude`` (the ``+name`` entries: defaults plus these).
    include: List[str] = []


def default_filter(main_file: Optional[str] = None) -> Filter:
    """What is recorded when no ``subs`` are given: the code being run, not the libraries it uses.

    ``main_file``: the program's main file (``fprofile run`` passes the script, or the module's
    file for ``-m``); None: the running program's ``__main__``.

    - In IPython / Jupyter (``main_file`` None): this kernel's cells (ipykernel compiles each cell to
      ``<tmp>/ipykernel_<pid>/<hash>.py``; terminal IPython names them ``<ipython-input-N-...>``)
      plus the notebook's directory (the kernel's working directory), so that modules next to the
      notebook are recorded too.
    - In a script (``python script.py`` or ``python -m pkg.mod``): the directory of the main file,
      so the script and the modules beside it are recorded.
    - Otherwise (the plain REPL, ``python -c``): ``<stdin>`` / ``<string>`` and the working directory.

    Installed packages (``site-packages``, ``dist-packages``) and the standard library are excluded,
    even when they lie inside such a directory, unless the main file is itself part of one (``python
    -m json.tool``, ``python -m pip``): then its own package is what is recorded. This package's own
    files are never recorded.
    """
    if main_file is None:
        cells = _ipython_cell_subs()
        if cells is not None:
            return Filter(cells + [os.path.join(os.getcwd(), "")], [_OWN_DIR] + _default_excludes())
        main = sys.modules.get("__main__")
        found = getattr(main, "__file__", None)
        main_file = found if isinstance(found, str) and found else None
    if main_file is None:
        return Filter(["<stdin>", "<string>", os.path.join(os.getcwd(), "")], [_OWN_DIR] + _default_excludes())
    folder = os.path.join(os.path.dirname(os.path.abspath(main_file)), "")
    if _is_library(main_file):
        return Filter([folder], [_OWN_DIR])
    return Filter([folder], [_OWN_DIR] + _default_excludes())


def default_subs() -> List[str]:
    """The ``subs`` of :func:`default_filter` for the running program."""
    return default_filter().subs


def resolve_subs(entries: Sequence[str], main_file: Optional[str] = None) -> Union[List[str], Filter]:
    """``subs`` as the user wrote them, resolved: plain entries replace the defaults; when any entry
    starts with ``+`` (``+urllib``: "the defaults plus urllib"), every entry is added to
    :func:`default_filter` (of ``main_file``) and recorded even where the defaults exclude (the
    standard library, installed packages). Spaces around entries are dropped.

    Raises ValueError for an empty ``+`` or one that would also match this package's own files
    (which are never recorded)."""
    items = [e.strip() for e in entries]
    if not any(e.startswith("+") for e in items):
        return items
    extra = []
    for e in items:
        name = e[1:].strip() if e.startswith("+") else e
        if not name:
            raise ValueError("a '+' in subs needs a part of a file name after it, e.g. +urllib "
                             "(the defaults plus urllib)")
        if name in _OWN_DIR:
            raise ValueError(f"subs entry {e!r} would also match fprofile_jupyter's own files, which are never "
                             f"recorded: name the package or folder, e.g. +site-packages/numpy/")
        extra.append(name)
    base = default_filter(main_file)
    return Filter(base.subs, base.exclude, list(base.include) + extra)


def _user_entries(subs: Union[List[str], Filter, "_DefaultsPlus", None]) -> List[str]:
    """The entries the user wrote (checked for matching nothing after the run): none for the defaults."""
    if isinstance(subs, _DefaultsPlus):
        return [e.lstrip("+").strip() for e in subs.entries]
    if isinstance(subs, list):
        return list(subs)
    return []


class _DefaultsPlus(NamedTuple):
    """``subs`` with a ``+`` entry, resolved against the defaults when recording starts (the defaults
    depend on the running program)."""

    entries: List[str]


def split_subs(values: Iterable[str]) -> List[str]:
    """``--subs`` values as the commands take them: each may hold several strings separated by
    commas; spaces around them are dropped, and so are empty ones. Raises ValueError when none is
    left (an empty ``--subs`` is a mistake, not a request for the defaults)."""
    out = [part.strip() for v in values for part in v.split(",")]
    out = [part for part in out if part]
    if not out:
        raise ValueError("--subs needs at least one non-empty string (a part of the file names to record)")
    return out


def _is_library(path: str) -> bool:
    """Whether ``path`` lies in the standard library or an installed package."""
    p = os.path.abspath(path)
    if any(part in p.split(os.sep) for part in ("site-packages", "dist-packages")):
        return True
    for key in ("stdlib", "platstdlib"):
        d = _interpreter_paths().get(key)
        if d and p.startswith(os.path.join(os.path.abspath(d), "")):
            return True
    return False


def _cell_labels() -> List[Tuple[str, str]]:
    """The notebook cells this kernel has run, as ("paths.cells", JSON [[file, "In [N]"], ...]):
    ipykernel compiles each cell to a temporary file; views show its label instead (paths.rs)."""
    ip_mod = sys.modules.get("IPython")
    if ip_mod is None:
        return []
    try:
        shell = ip_mod.get_ipython()
        names = dict(getattr(getattr(shell, "compile", None), "_filename_map", None) or {})
    except Exception:
        return []
    cells = [[str(f), f"In [{n}]"] for f, n in names.items() if isinstance(n, int) and not str(f).endswith(("/", "\\"))]
    return [("paths.cells", json.dumps(cells))] if cells else []


def path_roots() -> List[Tuple[str, str]]:
    """The folders file names are shown relative to (metadata "paths.roots", rust/core/src/paths.rs):
    the working directory, the installed-packages folders (no label: ``numpy/core/x.py``) and the
    standard library (``stdlib/json/decoder.py``)."""
    return [(os.path.join(os.getcwd(), ""), "")] + list(_install_roots())


@functools.lru_cache(maxsize=1)
def _interpreter_paths() -> Dict[str, str]:
    """``sysconfig.get_paths()``, looked up once per process: the interpreter's folders do not
    change, and it expands its install schemes anew on every call (about 0.25 ms each: four calls
    were most of what starting a recording cost)."""
    return dict(sysconfig.get_paths())


@functools.lru_cache(maxsize=1)
def _install_roots() -> Tuple[Tuple[str, str], ...]:
    """:func:`path_roots` but the working directory (the same for the whole process)."""
    import site

    paths = _interpreter_paths()
    roots: List[Tuple[str, str]] = []
    packages = set()
    for key in ("purelib", "platlib"):
        p = paths.get(key)
        if p:
            packages.add(p)
    try:
        packages.update(site.getsitepackages())
    except AttributeError:  # an old virtualenv's site module
        pass
    user = getattr(site, "USER_SITE", None)
    if isinstance(user, str):
        packages.add(user)
    for p in sorted(packages):
        roots.append((os.path.join(os.path.abspath(p), ""), ""))
    for key in ("stdlib", "platstdlib"):
        p = paths.get(key)
        if p and (os.path.join(os.path.abspath(p), ""), "stdlib/") not in roots:
            roots.append((os.path.join(os.path.abspath(p), ""), "stdlib/"))
    return tuple(roots)


def _default_excludes() -> List[str]:
    out = [os.sep + "site-packages" + os.sep, os.sep + "dist-packages" + os.sep]
    for key in ("stdlib", "platstdlib"):
        p = _interpreter_paths().get(key)
        if p:
            out.append(os.path.join(p, ""))
    return out


def _check_subs(subs: Any) -> Optional[Union[List[str], Filter, _DefaultsPlus]]:
    if subs is None:
        return None
    if isinstance(subs, Filter):
        return Filter(_check_list(subs.subs), _check_list(subs.exclude), _check_list(subs.include))
    given = _check_list(subs)
    items = [s.strip() for s in given]
    items = [s for s in items if s]
    if given and not items:  # (an empty list records nothing, as asked)
        raise ValueError("subs must hold at least one non-empty string (a part of the file names to record); "
                         "pass subs=None for the defaults")
    if any(s.startswith("+") for s in items):
        resolve_subs(items)  # the errors now, not when recording starts
        return _DefaultsPlus(items)
    return items


def _check_list(subs: Any) -> List[str]:
    if isinstance(subs, (str, bytes)):
        raise TypeError(
            f"subs must be a list of strings, not a single {type(subs).__name__}: "
            f"write subs=[{subs!r}] (each string is matched as a part of the file names to record)")
    try:
        items = list(subs)
    except TypeError:
        raise TypeError(f"subs must be a list of strings (parts of file names to record), "
                        f"not {type(subs).__name__}") from None
    for s in items:
        if not isinstance(s, str):
            raise TypeError(f"subs must contain only strings; got {s!r} ({type(s).__name__})")
    return items


def _check_max_events(max_events: Any) -> int:
    if isinstance(max_events, bool) or not isinstance(max_events, int):
        raise TypeError(f"max_events must be an int, not {type(max_events).__name__}")
    if max_events < 1:
        raise ValueError(f"max_events must be at least 1 (got {max_events})")
    # beyond 2**64 - 1 there is no difference (the hook caps at what memory allows anyway)
    return min(max_events, 2**64 - 1)


def _check_outfile(outfile: Any) -> Optional[str]:
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


# -- the one active session (for atexit) --------------------------------------------------------

_active_lock = threading.Lock()
_active: List["_Session"] = []


class _Session:
    """One start/stop of the Recorder with the Python-side bookkeeping."""

    def __init__(self, subs: Optional[Union[List[str], Filter, _DefaultsPlus]], builtins: bool, max_events: int,
                 outfile: Optional[str], processes: bool = False, keep_last: Optional[Tuple[str, int]] = None):
        #: What the user named (warned about after the run when it matched nothing).
        self.user_entries = _user_entries(subs)
        if subs is None:
            subs = default_filter()
        if isinstance(subs, _DefaultsPlus):
            subs = resolve_subs(subs.entries)
        if isinstance(subs, Filter):
            self.subs = list(subs.subs)
            self.exclude = list(subs.exclude) + ([] if _OWN_DIR in subs.exclude else [_OWN_DIR])
            self.include = list(subs.include)
            if not self.user_entries and self.include:
                self.user_entries = list(self.include)
        else:
            self.subs = list(subs)
            self.exclude = [_OWN_DIR]
            self.include = []
        self.builtins = builtins
        self.max_events = max_events
        self.outfile = outfile
        #: The outfile is a streamed ``.fpt`` (the trace at stop is loaded back from it).
        self.streamed = outfile is not None and _core._is_stream_path(outfile)
        #: The flight recorder's window (``parse_keep_last``), None: everything is kept.
        self.keep_last = keep_last
        # the flight recorder records this process only (a child's spool would keep everything)
        self.processes = processes and keep_last is None
        self.recorder = Recorder()
        self.pid = os.getpid()
        #: Warn at stop about entries that matched no recorded call (off where the caller merges
        #: more processes first and warns itself).
        self.warn_subs = True
        #: The recording process's name in the trace (None: its command line).
        self.process_name: Optional[str] = None
        #: The session directory children record into (processes=True, while recording).
        self.children: Optional[_processes.SessionDir] = None
        #: Warn at start when the outfile replaces a file (off where the caller says it: the CLI).
        self.say_replacing = True

    def start(self, stacklevel: int = 1) -> None:
        if _processes.child_session_dir() is not None:
            raise ProfilerError(
                "this process is recorded as a child process of another recording (its parent records with "
                "processes=True): its calls go to the parent's trace; to record it on its own, record the parent "
                "with processes=False")
        if self.outfile is not None and self.say_replacing and replaces(self.outfile):
            warnings.warn(f"fprofile: recording to {self.outfile}{REPLACING}", UserWarning, stacklevel=stacklevel + 1)
        metadata = [("paths.roots", json.dumps(path_roots()))]
        if self.process_name:
            metadata.append(("process.name", self.process_name))
        # (announced before the hook is on and withdrawn after it is off: that code is not recorded;
        # the directory itself is made when the first child process starts, if one does)
        children = (_processes.SessionDir(self.subs, self.exclude, self.builtins, self.max_events,
                                          include=self.include, metadata=metadata, lazy=True)
                    if self.processes else None)
        if children is not None:
            children.announce()
        try:
            options = RecordOptions(subs=tuple(self.subs), exclude=tuple(self.exclude), include=tuple(self.include),
                                    builtins=self.builtins, max_events=self.max_events, outfile=self.outfile,
                                    keep_last=self.keep_last, processes=self.processes)
            # (metadata: this process's whole command line, it is named shorter: "kernel", its
            # script and arguments; not the children's metadata)
            self.recorder.start(options, metadata=metadata + [("command", _core._command_line())])
        except BaseException:
            if children is not None:
                children.discard()
            raise
        self.children = children
        with _active_lock:
            _active.append(self)
        if self.streamed:
            _flush_streams_at_os_exit()

    def stop(self, stacklevel: int, want_trace: bool = True) -> Optional[Trace]:
        """Stops recording; returns the trace. ``want_trace=False`` (at interpreter exit, no one
        to read it): a streamed outfile's trace is not loaded back from the file (None), unless
        child processes are to be merged into it. Ctrl-C is held meanwhile (``_stopping``)."""
        with held_sigint(deliver=want_trace):
            return self._stop(stacklevel + 1, want_trace)

    def _stop(self, stacklevel: int, want_trace: bool) -> Union[Trace, "TraceFile", None]:
        with _active_lock:
            if self in _active:
                _active.remove(self)
        if os.getpid() != self.pid:
            return None  # in a forked child: the parent's recording is not continued here
        children, self.children = self.children, None
        # a streamed outfile that is not a regular file (a FIFO, a device) cannot be read back:
        # its reader has the events, the trace has only the child processes (said below)
        piped = self.streamed and self.outfile is not None and not _is_regular_file(self.outfile)
        # a streamed outfile in a regular file is rewritten compactly from the file (_compact);
        # at interpreter exit (no one to read the trace), only to merge child processes into it
        from_file = self.streamed and not piped and (want_trace or children is not None)
        try:
            load = (want_trace or children is not None or not self.streamed) and not piped and not from_file
            trace: Union[Trace, TraceFile, None] = self.recorder.stop(metadata=_cell_labels(), load=load)
            if piped and (want_trace or children is not None):
                trace = _core.load_bytes(b"", format="pyme-text")  # empty: the children go in it
        except BaseException:
            if children is not None:
                children.discard()
            raise
        stats = self.recorder.stats
        if from_file and stats is not None and not stats.outfile_error:
            trace = self._compact(children, stacklevel + 1)
            children = None
        elif from_file:
            trace = self._read_outfile(children)
        if children is not None and isinstance(trace, Trace):
            children.stop_children()
            trace = self._merge_children(children, trace, stacklevel + 1)
        if piped and isinstance(trace, Trace):
            kept = (f"the trace holds the child processes only ({len(trace):,} calls)" if len(trace.processes)
                    else ".trace is None")
            if not len(trace.processes):
                trace = None
            if want_trace:
                warnings.warn(f"fprofile: the outfile {self.outfile} is not a regular file (a pipe or a device): "
                              f"this process's events went there and cannot be read back, so {kept}; to have "
                              "the trace too, record to a regular .fpt file (or a .txt outfile, kept in memory)",
                              RuntimeWarning, stacklevel=stacklevel + 1)
        if stats is None:
            return trace
        for w in stats.warnings:
            category = CapReachedWarning if w.kind == "cap_reached" else RuntimeWarning
            warning = category(f"fprofile: {w.message}")
            warning.kind = w.kind  # type: ignore[attr-defined]  # for callers that word their own (the CLI)
            warning.stats = stats  # type: ignore[attr-defined]
            warnings.warn(warning, stacklevel=stacklevel + 1)
        # (a child that did not answer the stop has its own warning: "no match" may be false then)
        held = trace.outline if isinstance(trace, TraceFile) else trace
        if held is not None and self.user_entries and self.warn_subs and not (children and children.unanswered):
            _warn_unmatched(self.user_entries, held, stats, stacklevel + 1)
        err = stats.outfile_error
        if err and self.streamed:
            e = OutfileError(f"fprofile: {err} (outfile {self.outfile}); .trace is what the file holds")
            e.trace = trace.load() if isinstance(trace, TraceFile) else trace
            raise e
        if err:
            e = OutfileError(f"fprofile: {err} (outfile {self.outfile}); the file is incomplete, "
                             f"the in-memory trace is complete (.trace)")
            e.trace = trace if isinstance(trace, Trace) else None
            raise e
        return trace

    def _read_outfile(self, children: Optional["_processes.SessionDir"]) -> Optional[Trace]:
        """The streamed outfile loaded as it is (what the file holds)."""
        try:
            return _core.load(self.outfile)
        except BaseException:
            if children is not None:
                children.discard()
            raise

    def _compact(self, children: Optional["_processes.SessionDir"], stacklevel: int) -> Union[Trace, "TraceFile"]:
        """A streamed outfile, once the recording stopped cleanly: rewritten as one compact
        ``.fpt`` (about half the size of the chunks, child processes included, readable by every
        reader) chunk by chunk, from the file and the children's spools, in Rust
        (``_core._Compactor``), never holding the trace: memory stays bounded by the threads and
        functions, whatever the length of the run. Returns the :class:`TraceFile` (read when
        first asked for). If the rewrite fails (disk full), the streamed file stays, which loads
        the same, and a warning says so; a recording the rewrite does not handle (never one of
        the hook's) is loaded and rewritten in memory."""
        out = self.outfile
        assert out is not None
        keep = [0]
        waited = False  # the children were told to stop and waited for
        try:
            comp = _core._Compactor(os.path.dirname(os.path.abspath(out)))
            comp.add_stream(out)
            if children is not None:
                children.stop_children()
                waited = True
                keep = children.compact(comp)
            outline = comp.write(out, keep)
        except (NotImplementedError, FormatError):  # the in-memory way (which says what is wrong)
            return self._compact_in_memory(children, waited, stacklevel + 1)
        except OSError as e:  # disk full: the streamed file stays as it is, and loads
            return self._keep_streamed(children, len(keep) > 1, e, stacklevel + 1)
        except BaseException:
            if children is not None:
                children.discard()
            raise
        if children is not None:
            children.discard()
        return TraceFile(out, outline)

    def _keep_streamed(self, children: Optional["_processes.SessionDir"], merge: bool, problem: OSError,
                       stacklevel: int) -> Union[Trace, "TraceFile"]:
        """The rewrite failed: the streamed file stays; child processes to merge are appended to it
        as its last chunk (the trace with them, built in memory), which loading it then gives."""
        out = self.outfile
        assert out is not None
        if children is None or not merge:
            if children is not None:
                children.discard()
            warnings.warn(f"fprofile: the outfile {out} stays in its streamed form (rewriting it compactly failed: "
                          f"{problem})", RuntimeWarning, stacklevel=stacklevel + 1)
            return TraceFile(out, None)
        trace = children.merge_read(_core.load(out))
        try:
            _core._stream_append_trace(out, trace)
        except OSError as e:
            warnings.warn(f"fprofile: the outfile {out} stays in its streamed form (rewriting it compactly failed: "
                          f"{problem}); the child processes could not be added to it: {e}",
                          RuntimeWarning, stacklevel=stacklevel + 1)
        else:
            warnings.warn(f"fprofile: the outfile {out} stays in its streamed form (rewriting it compactly failed: "
                          f"{problem})", RuntimeWarning, stacklevel=stacklevel + 1)
        return trace

    def _compact_in_memory(self, children: Optional["_processes.SessionDir"], waited: bool, stacklevel: int) -> Trace:
        """The stop before the rewrite chunk by chunk: the file loaded, the children merged, saved."""
        trace = self._read_outfile(children)
        assert trace is not None
        if children is not None and waited:
            trace = children.merge_read(trace)
        elif children is not None:
            children.stop_children()
            trace = self._merge_children(children, trace, stacklevel + 1)
        self._save_compact(trace, stacklevel + 1)
        return trace

    def _save_compact(self, trace: Trace, stacklevel: int) -> None:
        """``trace`` (in memory) written over the streamed outfile through a temporary file; if
        that fails, the streamed file stays, with the children as its last chunk."""
        out = self.outfile
        if out is None:
            return
        tmp = f"{out}.{os.getpid()}.tmp"
        try:
            trace.save(tmp, "fpt")
            os.replace(tmp, out)
            return
        except OSError as e:
            problem = e
        try:
            os.unlink(tmp)
        except OSError:
            pass
        try:
            if len(trace.processes) > 1:
                _core._stream_append_trace(out, trace)
        except OSError as e:
            warnings.warn(f"fprofile: the child processes could not be added to the outfile {out}: {e}",
                          RuntimeWarning, stacklevel=stacklevel + 1)
        else:
            warnings.warn(f"fprofile: the outfile {out} stays in its streamed form (rewriting it compactly failed: "
                          f"{problem})", RuntimeWarning, stacklevel=stacklevel + 1)

    @staticmethod
    def _merge_children(children: "_processes.SessionDir", trace: Trace, stacklevel: int) -> Trace:
        try:
            merged = children.finish(trace)
        except Exception as e:  # the parent's own trace is still whole: keep it, say what was lost
            warnings.warn(f"fprofile: the recordings of child processes could not be merged and are left out: {e}",
                          RuntimeWarning, stacklevel=stacklevel + 1)
            return trace
        return merged if merged is not None else trace


class TraceFile:
    """The trace of a streamed recording once its stop rewrote the outfile, not loaded (a run of
    any length stops in bounded memory): ``outline`` holds what the stop learnt while rewriting
    (``len()``, ``threads`` and ``processes`` counts, ``duration_ns``, ``metadata``,
    ``summary()``; None when the rewrite failed), :meth:`load` reads the trace from ``path``."""

    __slots__ = ("path", "outline")

    def __init__(self, path: str, outline: Any) -> None:
        self.path = path
        self.outline = outline

    def load(self) -> Trace:
        from ._io import load

        return load(self.path)

    def __repr__(self) -> str:
        return f"<TraceFile {self.path!r} {self.outline!r}>"


def _is_regular_file(path: str) -> bool:
    """Whether ``path`` is a regular file (or missing): what a streamed outfile is read back from."""
    import stat

    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return True  # gone: loading it says so


def _warn_unmatched(entries: List[str], trace: Any, stats: Any, stacklevel: int) -> None:
    """One SubsWarning naming the entries no recorded call's file name contains."""
    if not entries:
        return
    files = {row.file for row in trace.summary()} if len(trace) else set()
    missing = [e for e in entries if not any(e in f for f in files)]
    if not missing:
        return
    listed = ", ".join(repr(e) for e in missing)
    if len(missing) == 1:
        what = f"the subs entry {listed} matched no recorded call"
    else:
        what = f"the subs entries {listed} matched no recorded call"
    hint = ("check the spelling (each entry is a part of a file name, such as 'mypkg/' or 'urllib'); "
            "a library excluded by the defaults is recorded with +name (the defaults plus name)")
    w = SubsWarning(f"fprofile: {what}: {hint}")
    w.kind = "subs_unmatched"  # type: ignore[attr-defined]
    w.stats = stats  # type: ignore[attr-defined]
    warnings.warn(w, stacklevel=stacklevel + 1)


def _check_keep_last(keep_last: Any, max_events: Any, outfile: Optional[str], dask: Any) -> Optional[Tuple[str, int]]:
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


def _snapshot(session: Optional["_Session"]) -> Trace:
    if session is None:
        raise ProfilerError("snapshot() works while recording (after the recording, .trace is the last window)")
    if session.keep_last is None:
        raise ProfilerError("snapshot() needs the flight recorder: record with keep_last=\"30s\" (or a number of "
                            "events); this recording keeps everything and gives its trace at the end")
    trace = session.recorder.snapshot()
    return trace


_os_exit_wrapped = False


def _flush_streams_at_os_exit() -> None:
    """``os._exit`` skips atexit: while a streamed outfile is recorded, it first has the writer
    write what was recorded so far (the file then loads with everything but its end chunk)."""
    global _os_exit_wrapped
    if _os_exit_wrapped:
        return
    _os_exit_wrapped = True
    previous = os._exit

    def _exit(status: int) -> None:
        try:
            with _active_lock:
                streamed = [s for s in _active if s.streamed and s.pid == os.getpid()]
            for s in streamed:
                s.recorder.flush()
        except BaseException:
            pass
        previous(status)

    _exit.__doc__ = previous.__doc__
    _exit.__wrapped__ = previous  # type: ignore[attr-defined]
    os._exit = _exit


def _after_fork_in_child() -> None:
    global _active_lock
    # A recording that follows processes goes on in the child, in fresh buffers of its own.
    follow = next((s.children.key for s in _active if s.children is not None), None)
    _active_lock = threading.Lock()
    _active.clear()
    Recorder._after_fork_child()
    _processes.after_fork(follow)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


@atexit.register
def _stop_at_exit() -> None:
    """A ThreadProfiler left on at exit: stop it so that its outfile is complete."""
    with _active_lock:
        sessions = list(_active)
    for s in sessions:
        try:
            s.stop(stacklevel=1, want_trace=False)
        except Exception as e:  # no caller to raise to: say it (an incomplete outfile, mostly)
            try:
                print(f"{e}" if str(e).startswith("fprofile") else f"fprofile: {e}", file=sys.stderr)
            except Exception:
                pass


# -- profile() ------------------------------------------------------------------------------------


def _get_last_trace(self: Any) -> Optional[Trace]:
    t = self._trace
    if isinstance(t, TraceFile):
        t = self._trace = t.load()
    return t


def _set_last_trace(self: Any, value: Union[Trace, TraceFile, None]) -> None:
    self._trace = value


# profile.trace and ThreadProfiler.trace
_last_trace = property(_get_last_trace, _set_last_trace, doc="""The trace of the last recording (None
before one ended). A recording streamed to an ``.fpt`` outfile is not loaded at its stop: its trace is
read from the file the first time it is asked for.""")

class profile:
    """Record every call of your code, per thread, while a block (or a function) runs.

    ::

        with fprofile_jupyter.profile() as prof:
            run_my_pipeline()
        prof.trace          # a Trace: threads, calls, summary(), save(), show()

        @fprofile_jupyter.profile(subs=["mypkg/"])
        def main(): ...
        main(); main.trace  # the trace of the last call

    Args:
        subs: parts of file names: a call is recorded when its function's file name
            (``co_filename``) contains any of them. A list of strings (a bare string is an error).
            Default (None): the code being run, not the libraries it uses: in a notebook its
            cells and the notebook's directory; in a script (or ``-m`` module) the directory of
            the ``__main__`` file; else ``<stdin>``/``<string>`` and the working directory;
            ``site-packages`` and the standard library excluded. ``prof.subs`` shows the result.
        builtins: also record calls of C functions (``time.sleep``, ``len``, numpy functions ...)
            made from recorded code. Slower (uses a profile function); off by default.
        max_events: cap on recorded events (a call is two): when it is reached, recording stops,
            a :class:`CapReachedWarning` is issued at the end and the trace keeps what was recorded.
        outfile: also write the events to this file while recording. A name ending in ``.fpt``
            streams the compact format in compressed chunks (docs/recording.md, "Streaming to
            disk"): memory stays bounded whatever the run's length, ``max_events`` does not
            apply (recording stops when the disk is nearly full), the file loads even if the
            process is killed, and the trace at stop is loaded back from the file (child
            processes are added to it at stop). Any other name: PYME's raw text format (this
            process's events; child processes are in the trace only).
        processes: also record every Python process started while recording (``os.fork``,
            ``multiprocessing`` with any start method, ``concurrent.futures.ProcessPoolExecutor``,
            ``subprocess`` of Python), with the same ``subs`` and options, into one trace with a
            process level above the threads (docs/processes.md). ``False``: this process only.
        keep_last: the flight recorder: keep only the last window, ``"30s"``, ``"500ms"``,
            ``"2m"`` (units ns, us, ms, s, m, h) or an int (that many events), as compressed chunks
            in memory (bounded by the window, however long the run); :meth:`snapshot` returns
            the window while recording goes on, and ``.trace`` at the end is the last window.
            Calls begun before the window are flagged as begun before the recording. Records
            this process only (``processes`` is off), with no event cap (``max_events`` cannot
            be given with it) and no ``outfile`` (save a window with ``snapshot().save(path)``).
            docs/recording.md, "The flight recorder".
        dask: a ``distributed.Client``: also record every worker of its cluster (workers that join
            while recording too), with the same subs and options, and merge their traces into
            this one: one process per worker, named ``dask worker <name> (<address>)``, with the
            Dask task each worker thread ran shown as a band, clocks aligned (docs/processes.md, "Dask"). Every
            worker must have this package installed (checked first: nothing starts otherwise).

    The trace is complete when the block raises (the exception propagates) or is interrupted.
    Only one profile()/ThreadProfiler records at a time: starting a second raises ProfilerError.
    """

    def __init__(self, subs: Optional[Union[Sequence[str], Filter]] = None, *, builtins: bool = False,
                 max_events: int = DEFAULT_MAX_EVENTS, outfile: Optional[PathLike] = None, processes: bool = True,
                 dask: Any = None, keep_last: Union[str, int, None] = None):
        self._func: Optional[Callable[..., Any]] = None
        if callable(subs) and not isinstance(subs, (str, bytes, list, tuple)):
            # bare decorator: @profile
            self._func, subs = subs, None
        self._subs = _check_subs(subs)
        self._builtins = bool(builtins)
        self._max_events = _check_max_events(max_events)
        self._outfile = _check_outfile(outfile)
        self._processes = _processes.check_processes(processes)
        self._keep_last = _check_keep_last(keep_last, max_events, self._outfile, dask)
        self._keep_last_text = (None if keep_last is None else
                                f"{keep_last:,} events" if isinstance(keep_last, int) else str(keep_last).strip())
        if dask is not None:
            from ._dask import check_client

            check_client(dask)
        self._dask = dask
        self._dask_recording: Any = None
        self._session: Optional[_Session] = None
        self._depth = 0
        #: The trace of the last recording (None until the first one ends).
        self._trace: Union[Trace, TraceFile, None] = None
        if self._func is not None:
            functools.update_wrapper(self, self._func)

    def __enter__(self) -> "profile":
        if self._session is not None:
            raise ProfilerError("this profile() is already recording (it cannot be entered twice at once)")
        session = _Session(self._subs, self._builtins, self._max_events, self._outfile, self._processes,
                           self._keep_last)
        session.process_name = getattr(self, "_process_name", None)
        session.say_replacing = getattr(self, "_say_replacing", True)
        cluster = None
        if self._dask is not None:
            from ._dask import DaskRecording

            cluster = DaskRecording(self._dask)
            cluster.check()  # every worker can record: before anything starts
        session.start(stacklevel=2)
        if cluster is not None:
            try:
                cluster.start(session.subs, session.exclude, session.builtins, session.max_events,
                              defaults=self._subs is None or isinstance(self._subs, _DefaultsPlus), include=session.include)
            except BaseException:
                session.warn_subs = False
                session.stop(stacklevel=2)
                raise
        self._session = session
        self._dask_recording = cluster
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        # Ctrl-C is held until the stop is over (the trace kept), then raised (_stopping); not
        # again when a KeyboardInterrupt already ends the block
        interrupted = exc_type is not None and issubclass(exc_type, KeyboardInterrupt)
        with held_sigint(deliver=not interrupted):
            self._stop()
        return False

    def _stop(self) -> None:
        session, self._session = self._session, None
        cluster, self._dask_recording = self._dask_recording, None
        if session is not None:
            payloads = None
            try:
                if cluster is not None:
                    payloads = cluster.stop()  # the workers first: their recordings end with the block
            finally:
                try:
                    session.warn_subs = cluster is None  # with Dask: once the workers' calls are in
                    self.trace = session.stop(stacklevel=3)
                except OutfileError as e:
                    self.trace = e.trace
                    raise
                finally:
                    if cluster is not None and payloads is not None and self.trace is not None:
                        self.trace = cluster.merge(self.trace, payloads)
                        _warn_unmatched(session.user_entries, self.trace, None, 3)

    trace = _last_trace

    @property
    def subs(self) -> List[str]:
        """The subs in force (the defaults resolved while recording or after; ``+name`` entries
        resolved to the defaults plus those names)."""
        subs = resolve_subs(self._subs.entries) if isinstance(self._subs, _DefaultsPlus) else self._subs
        if isinstance(subs, Filter):
            return list(subs.subs) + list(subs.include)
        return list(subs) if subs is not None else default_subs()

    def _call(self, func: Callable[..., Any], args: Tuple[Any, ...], kwargs: Any) -> Any:
        if self._session is not None:  # a recursive call of the decorated function: already recorded
            return func(*args, **kwargs)
        with self:
            return func(*args, **kwargs)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._func is not None:  # used as @profile (bare): this object is the wrapper
            return self._call(self._func, args, kwargs)
        if len(args) != 1 or kwargs or not callable(args[0]):
            raise TypeError("profile(...) used as a decorator takes one function")
        func = args[0]
        owner = self

        @functools.wraps(func)
        def wrapper(*a: Any, **k: Any) -> Any:
            try:
                return owner._call(func, a, k)
            finally:
                wrapper.trace = owner.trace  # type: ignore[attr-defined]

        wrapper.trace = None  # type: ignore[attr-defined]
        wrapper.profile = owner  # type: ignore[attr-defined]
        return wrapper

    def start(self) -> "profile":
        """Start recording now (as entering ``with``); returns this object. For a recording that
        spans calls (or notebook cells): ``prof.start()`` ... ``prof.stop()``;
        ``fprofile_jupyter.start()`` / ``stop()`` do the same and remember the object for you."""
        return self.__enter__()

    def stop(self) -> Optional[Trace]:
        """Stop the recording :meth:`start` began (as leaving ``with``); returns the trace (also
        ``.trace``). Ctrl-C during the stop is held until the trace is kept."""
        if self._session is None:
            raise ProfilerError("this profile() is not recording: nothing to stop (call start() first)")
        self.__exit__(None, None, None)
        return self.trace

    def snapshot(self) -> Trace:
        """The flight recorder's last window (``keep_last``) as a ``Trace``, while recording goes
        on: exactly the events from the window's start to now; calls begun before it are flagged
        as begun before the recording. ``ProfilerError`` when not recording or without keep_last
        (at the end of the block, ``.trace`` is the last window)."""
        return _snapshot(self._session)

    def show(self) -> None:
        """Display the trace of the last recording: the timeline in a notebook, text elsewhere."""
        if self._trace is None:
            state = "still recording" if self._session is not None else "nothing recorded yet"
            raise ProfilerError(f"no trace to show: {state} (show() works after the profiled block ends)")
        trace = self.trace
        assert trace is not None
        trace.show()

    def __repr__(self) -> str:
        state = "recording" if self._session is not None else ("done" if self._trace is not None else "idle")
        return f"<fprofile_jupyter.profile subs={self._subs!r} {state}>"


# -- ThreadProfiler (PYME drop-in) ------------------------------------------------------------------

class _DefaultOutfile(str):
    """``ThreadProfiler.profile_on``'s default outfile (PYME's name), told apart from the same
    name given explicitly: with ``keep_last`` the default is no outfile."""


_PYME_OUTFILE = _DefaultOutfile("profile_output.txt")


class ThreadProfiler:
    """Drop-in replacement for ``PYME.util.fProfile.ThreadProfiler``.

    ::

        p = ThreadProfiler()
        p.profile_on(subs=['PYME/'], outfile='profile_output.txt')
        ...                     # code to profile, in any number of threads
        p.profile_off()         # flushes the file; p.trace holds the Trace

    The outfile is PYME's raw text format (one ``time  thread  file  function  call|return  line``
    line per event), written while the program runs by a background thread, so a run that dies
    leaves what was recorded; ``profile_off`` writes everything (nothing is dropped). Tabs and
    newlines in names are written as ``\\t`` / ``\\n``.
    """

    def __init__(self) -> None:
        self._session: Optional[_Session] = None
        self._ever_started = False
        #: The Trace of the last profile_on/profile_off (None before).
        self._trace: Union[Trace, TraceFile, None] = None

    def profile_on(self, subs: Sequence[str] = ("PYME/",), outfile: Optional[PathLike] = _PYME_OUTFILE,
                   *, builtins: bool = False, max_events: int = DEFAULT_MAX_EVENTS, processes: bool = True,
                   keep_last: Union[str, int, None] = None) -> None:
        """Starts recording calls of code whose file name contains any of ``subs`` (a list of
        strings), on every thread, writing PYME raw text lines to ``outfile`` (None: memory only;
        a name ending in ``.fpt``: the compact format, streamed, as ``profile(outfile=...)``).
        ``processes``: also record the Python processes started meanwhile, as ``profile()`` does
        (into ``trace``; the outfile holds this process's events). Raises ProfilerError if
        profiling is already on. ``keep_last``: the flight recorder, as in ``profile()`` (pass
        ``outfile=None`` with it); :meth:`snapshot` returns the last window."""
        checked = _check_subs(subs)
        if checked is None:
            raise TypeError("subs must be a list of strings, e.g. subs=['PYME/']")
        if self._session is not None:
            raise ProfilerError("profile_on called twice: this ThreadProfiler is already on (call profile_off first)")
        if outfile is _PYME_OUTFILE:  # the default: PYME's file, none for the flight recorder
            outfile = None if keep_last is not None else str(outfile)
        checked_outfile = _check_outfile(outfile)
        keep = _check_keep_last(keep_last, max_events, checked_outfile, None)
        session = _Session(checked, bool(builtins), _check_max_events(max_events), checked_outfile,
                           _processes.check_processes(processes), keep)
        session.start(stacklevel=2)
        self._session = session
        self._ever_started = True

    def profile_off(self) -> None:
        """Stops recording and flushes the outfile. Calling it again is harmless; calling it
        before any profile_on raises ProfilerError."""
        session, self._session = self._session, None
        if session is None:
            if not self._ever_started:
                raise ProfilerError("profile_off called but profiling is not on (call profile_on first)")
            return
        try:
            with held_sigint():  # Ctrl-C: raised once the trace is kept (_stopping)
                self.trace = session.stop(stacklevel=2)
        except OutfileError as e:
            self.trace = e.trace
            raise

    trace = _last_trace

    @property
    def active(self) -> bool:
        return self._session is not None

    def snapshot(self) -> Trace:
        """The flight recorder's last window (``profile_on(..., keep_last=...)``) as a ``Trace``,
        while recording goes on (see ``profile.snapshot``)."""
        return _snapshot(self._session)

    def profileOn(self, *args: Any, **kwargs: Any) -> None:
        """Deprecated alias of :meth:`profile_on` (as in PYME)."""
        warnings.warn("profileOn is deprecated, use profile_on", DeprecationWarning, stacklevel=2)
        self.profile_on(*args, **kwargs)

    def profileOff(self) -> None:
        """Deprecated alias of :meth:`profile_off` (as in PYME)."""
        warnings.warn("profileOff is deprecated, use profile_off", DeprecationWarning, stacklevel=2)
        self.profile_off()
