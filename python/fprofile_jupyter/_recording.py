"""Recording's two front ends: ``profile()`` (context manager and decorator) and
``ThreadProfiler`` (PYME drop-in).

Each checks what its user gave (``_options``, ``_subs``), builds the recording's one
:class:`~fprofile_jupyter._options.RecordOptions` when it starts, and runs a
:class:`~fprofile_jupyter._session.Session` with it (and, for ``profile(dask=client)``, the Dask
workers' recordings: ``_dask``). The hook is ``fprofile_jupyter._core.Recorder`` (Rust): every
call of a Python function whose file name (``co_filename``) contains one of ``subs`` is recorded
(entry and exit time, thread), on every thread, with no Python code running per call. See
docs/recording.md for what is covered on which Python version.
"""
from __future__ import annotations

import functools
import os
import warnings
from typing import Any, Callable, List, Optional, Sequence, Tuple, TypeVar, Union

from ._core import ProfilerError, Trace
from ._options import (DEFAULT_MAX_EVENTS, RecordOptions, check_keep_last, check_max_events, check_outfile,
                       check_processes, parse_keep_last)
from ._session import CapReachedWarning, OutfileError, Session, SubsWarning, TraceFile, snapshot, warn_unmatched
from ._stopping import held_sigint
from ._subs import DefaultsPlus, Filter, check_subs, default_filter, default_subs, resolve_filter, resolve_subs, split_subs

__all__ = ["profile", "ThreadProfiler", "Filter", "default_filter", "default_subs", "split_subs", "resolve_subs",
           "parse_keep_last", "CapReachedWarning", "SubsWarning", "OutfileError", "DEFAULT_MAX_EVENTS", "TraceFile"]

PathLike = Union[str, "os.PathLike[str]"]
F = TypeVar("F", bound=Callable[..., Any])


def _record_options(subs: Any, *, builtins: bool, max_events: int, outfile: Optional[str], processes: bool,
                    keep_last: Optional[Tuple[str, int]], dask: bool) -> Tuple[RecordOptions, List[str]]:
    """The recording's one :class:`RecordOptions`, built when it starts (values checked by the
    front end; the subs resolved now: the defaults depend on the running program), and the
    entries the user named (warned about when they match nothing)."""
    flt, named = resolve_filter(subs)
    options = RecordOptions(subs=tuple(flt.subs), exclude=tuple(flt.exclude), include=tuple(flt.include),
                            builtins=builtins, max_events=max_events, outfile=outfile, keep_last=keep_last,
                            # the flight recorder records this process only (a child's spool would keep everything)
                            processes=processes and keep_last is None, dask=dask)
    return options, named


def _get_last_trace(self: Any) -> Optional[Trace]:
    t = self._trace
    if isinstance(t, TraceFile):
        # file-backed; but a live cell's scratch outfile is removed after the cell: loaded then
        t = self._trace = t.load(backed=not getattr(self, "_scratch_outfile", False))
    return t


def _set_last_trace(self: Any, value: Union[Trace, TraceFile, None]) -> None:
    self._trace = value


# profile.trace and ThreadProfiler.trace
_last_trace = property(_get_last_trace, _set_last_trace, doc="""The trace of the last recording (None
before one ended). A recording streamed to an ``.fpt`` outfile is not loaded at its stop: its trace is
backed by the file (``trace.file``), opened the first time it is asked for; its calls are read from the
file as they are needed (docs/recording.md, "A long run").""")

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
        self._subs = check_subs(subs)
        self._builtins = bool(builtins)
        self._max_events = check_max_events(max_events)
        self._outfile = check_outfile(outfile)
        self._processes = check_processes(processes)
        self._keep_last = check_keep_last(keep_last, max_events, self._outfile, dask)
        #: The flight recorder's window as the user gave it ("30s", "1,000 events"; None without one).
        self.keep_last_text = (None if keep_last is None else
                               f"{keep_last:,} events" if isinstance(keep_last, int) else str(keep_last).strip())
        #: The recording process's name in the trace (None: its command line; ``fprofile run`` names
        #: it as the program it runs).
        self.process_name: Optional[str] = None
        #: Warn at start when the outfile replaces a file (``fprofile run`` says it on its last line).
        self.say_replacing = True
        if dask is not None:
            from ._dask import check_client

            check_client(dask)
        self._dask = dask
        self._dask_recording: Any = None
        self._session: Optional[Session] = None
        self._depth = 0
        #: The trace of the last recording (None until the first one ends).
        self._trace: Union[Trace, TraceFile, None] = None
        if self._func is not None:
            functools.update_wrapper(self, self._func)

    def __enter__(self) -> "profile":
        if self._session is not None:
            raise ProfilerError("this profile() is already recording (it cannot be entered twice at once)")
        options, named = _record_options(self._subs, builtins=self._builtins, max_events=self._max_events,
                                         outfile=self._outfile, processes=self._processes, keep_last=self._keep_last,
                                         dask=self._dask is not None)
        session = Session(options, user_entries=named, process_name=self.process_name, say_replacing=self.say_replacing)
        cluster = None
        if self._dask is not None:
            from ._dask import DaskRecording

            cluster = DaskRecording(self._dask)
            cluster.check()  # every worker can record: before anything starts
        session.start(stacklevel=2)
        if cluster is not None:
            try:
                cluster.start(options, defaults=self._subs is None or isinstance(self._subs, DefaultsPlus))
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
                        warn_unmatched(session.user_entries, self.trace, None, 3)

    trace = _last_trace

    @property
    def options(self) -> Optional[RecordOptions]:
        """What the recording under way records, and where (None when not recording)."""
        return self._session.options if self._session is not None else None

    @property
    def kept_trace(self) -> Union[Trace, TraceFile, None]:
        """The last recording's trace as kept: a streamed one is a ``TraceFile``, not loaded
        (its ``outline`` says what it holds), where :attr:`trace` loads it."""
        return self._trace

    @property
    def subs(self) -> List[str]:
        """The subs in force (the defaults resolved while recording or after; ``+name`` entries
        resolved to the defaults plus those names)."""
        subs = resolve_subs(self._subs.entries) if isinstance(self._subs, DefaultsPlus) else self._subs
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
        return snapshot(self._session)

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
        self._session: Optional[Session] = None
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
        checked = check_subs(subs)
        if checked is None:
            raise TypeError("subs must be a list of strings, e.g. subs=['PYME/']")
        if self._session is not None:
            raise ProfilerError("profile_on called twice: this ThreadProfiler is already on (call profile_off first)")
        if outfile is _PYME_OUTFILE:  # the default: PYME's file, none for the flight recorder
            outfile = None if keep_last is not None else str(outfile)
        checked_outfile = check_outfile(outfile)
        keep = check_keep_last(keep_last, max_events, checked_outfile, None)
        options, named = _record_options(checked, builtins=bool(builtins), max_events=check_max_events(max_events),
                                         outfile=checked_outfile, processes=check_processes(processes), keep_last=keep,
                                         dask=False)
        session = Session(options, user_entries=named)
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
        return snapshot(self._session)

    def profileOn(self, *args: Any, **kwargs: Any) -> None:
        """Deprecated alias of :meth:`profile_on` (as in PYME)."""
        warnings.warn("profileOn is deprecated, use profile_on", DeprecationWarning, stacklevel=2)
        self.profile_on(*args, **kwargs)

    def profileOff(self) -> None:
        """Deprecated alias of :meth:`profile_off` (as in PYME)."""
        warnings.warn("profileOff is deprecated, use profile_off", DeprecationWarning, stacklevel=2)
        self.profile_off()
