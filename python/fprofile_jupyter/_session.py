"""One recording's start and stop (:class:`Session`), and what every recording in the process
shares: the list of the ones recording, the process-wide hooks that stop them at exit
(``atexit``), flush a streamed outfile before ``os._exit`` and reset them in a forked child.

A session takes the recording's :class:`~fprofile_jupyter._options.RecordOptions` whole; the
front ends (``_recording``: ``profile``, ``ThreadProfiler``) and the Dask worker plugin
(``_dask``) build one and start a session with it. At the stop it loads (or rewrites, for a
streamed ``.fpt``) the trace, merges the child processes (``_processes.SessionDir``) and issues the
recording's warnings; an outfile removed while recording is kept elsewhere first (``_rescue``).
Ctrl-C while it stops is held (``_stopping``).
"""
from __future__ import annotations

import atexit
import dataclasses
import json
import os
import sys
import threading
import warnings
from typing import Any, List, Optional, Sequence, Union

from . import _core, _processes, _rescue
from ._core import FormatError, ProfilerError, Recorder, Trace
from ._io import REPLACING, replaces
from ._options import RecordOptions
from ._stopping import held_sigint
from ._subs import SubsWarning, cell_labels, path_roots, warn_unmatched

__all__ = ["Session", "TraceFile", "OutfileError", "CapReachedWarning", "SubsWarning", "active_sessions", "snapshot",
           "warn_unmatched"]


class OutfileError(ProfilerError):
    """Writing the outfile failed while recording (disk full, I/O error): raised by
    ``profile_off()`` / at the end of ``profile()``; the exception's ``trace`` (also set on the
    profiler) holds the complete in-memory trace."""

    trace: Optional[Trace] = None


class CapReachedWarning(RuntimeWarning):
    """The event cap (``max_events``) was reached: recording stopped early; the trace keeps
    everything recorded until then."""


# -- the sessions recording in this process (for atexit, os._exit, fork and status()) --------------

_active_lock = threading.Lock()
_active: List["Session"] = []


def active_sessions() -> List["Session"]:
    """The sessions recording in this process now (a forked child's copies of its parent's are
    not)."""
    with _active_lock:
        return [s for s in _active if s.pid == os.getpid()]


def _option(name: str) -> Any:
    return property(lambda self: getattr(self.options, name), doc=f"``options.{name}``")


class Session:
    """One start/stop of the Recorder with the Python-side bookkeeping, for one :class:`RecordOptions`.

    ``user_entries``: the ``subs`` entries the user named (warned about after the run when they
    matched nothing); ``process_name``: the recording process's name in the trace (None: its
    command line); ``say_replacing``: warn at start when the outfile replaces a file (off where
    the caller says it: the CLI)."""

    def __init__(self, options: RecordOptions, *, user_entries: Sequence[str] = (),
                 process_name: Optional[str] = None, say_replacing: bool = True) -> None:
        #: What is recorded, and where (taken whole: the recorder, the children's session.json).
        self.options = options
        #: What the user named (warned about after the run when it matched nothing).
        self.user_entries = list(user_entries)
        self.recorder = Recorder()
        self.pid = os.getpid()
        #: Warn at stop about entries that matched no recorded call (off where the caller merges
        #: more processes first and warns itself).
        self.warn_subs = True
        #: The recording process's name in the trace (None: its command line).
        self.process_name = process_name
        #: The session directory children record into (options.processes, while recording).
        self.children: Optional[_processes.SessionDir] = None
        #: Warn at start when the outfile replaces a file (off where the caller says it: the CLI).
        self.say_replacing = say_replacing
        #: The outfile is a streamed ``.fpt`` (the trace at stop is loaded back from it).
        self.streamed = options.streamed
        #: The outfile the recorder opened (its absolute path then, device, inode): removed while
        #: recording, it is kept at the stop (``_rescue``).
        self._outfile_id: Optional[_rescue.FileId] = None

    # (read by the recorder's start below and by the stop)
    subs = _option("subs")
    exclude = _option("exclude")
    include = _option("include")
    builtins = _option("builtins")
    max_events = _option("max_events")
    outfile = _option("outfile")
    keep_last = _option("keep_last")

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
        children = (_processes.SessionDir(self.options, metadata=metadata, lazy=True)
                    if self.options.processes else None)
        if children is not None:
            children.announce()
        from . import _asyncio  # (before the hook is on: not recorded)

        try:
            # (metadata: this process's whole command line, it is named shorter: "kernel", its
            # script and arguments; not the children's metadata)
            self.recorder.start(self.options, metadata=metadata + [("command", _core._command_line())])
        except BaseException:
            if children is not None:
                children.discard()
            raise
        self.children = children
        self._outfile_id = _rescue.identify(self.outfile)
        self.tasks = _asyncio.TaskRecording().start()  # asyncio task bands (_asyncio)
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
        tasks, self.tasks = getattr(self, "tasks", None), None
        task_bands = tasks.stop() if tasks is not None else []
        if os.getpid() != self.pid:
            return None  # in a forked child: the parent's recording is not continued here
        children, self.children = self.children, None
        # a streamed outfile that is not a regular file (a FIFO, a device) cannot be read back:
        # its reader has the events, the trace has only the child processes (said below)
        piped = self.streamed and self.outfile is not None and not _is_regular_file(self.outfile)
        # a streamed outfile in a regular file is rewritten compactly from the file (_compact);
        # at interpreter exit (no one to read the trace), only to merge child processes into it
        from_file = self.streamed and not piped and (want_trace or children is not None)
        # a relative outfile of a program that changed directory: the file the recorder opened
        if self._outfile_id is not None and self.outfile is not None and not os.path.isabs(self.outfile) \
                and os.path.abspath(self.outfile) != self._outfile_id[0]:
            self.options = dataclasses.replace(self.options, outfile=self._outfile_id[0])
        # an outfile removed while recording: held open before the recorder closes it (_rescue)
        gone = None if piped else _rescue.grab(self.outfile, self._outfile_id)
        try:
            load = (want_trace or children is not None or not self.streamed) and not piped and not from_file
            trace: Union[Trace, TraceFile, None] = self.recorder.stop(metadata=cell_labels(), load=load)
            if piped and (want_trace or children is not None):
                trace = _core.load_bytes(b"", format="pyme-text")  # empty: the children go in it
            if task_bands and isinstance(trace, Trace) and not piped:
                from ._asyncio import attach

                trace = attach(trace, task_bands)
        except BaseException:
            if gone is not None:
                gone.close()
            if children is not None:
                children.discard()
            raise
        if gone is not None:
            self._keep_removed(gone, children, stacklevel + 1)
        stats = self.recorder.stats
        if from_file and stats is not None and not stats.outfile_error:
            trace = self._compact(children, stacklevel + 1)
            children = None
            if task_bands and isinstance(trace, TraceFile):  # asyncio task bands into the file
                from ._asyncio import attach_to_file

                trace = attach_to_file(trace, task_bands, lambda t: self._save_compact(t, stacklevel + 2),
                                       stacklevel + 1)
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
            warn_unmatched(self.user_entries, held, stats, stacklevel + 1)
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

    def _keep_removed(self, gone: _rescue.Gone, children: Optional[_processes.SessionDir], stacklevel: int) -> None:
        """The outfile was removed while recording: what the recorder wrote is copied where it can
        be kept (``_rescue.keep``) and the stop goes on there, with one warning naming it. When it
        cannot be kept: a streamed recording's events are lost (``OutfileError``; the children's
        spools are kept and named), a text outfile's trace is still whole in memory (a warning)."""
        try:
            kept = _rescue.keep(gone)
        except OSError as e:
            if not self.streamed:
                warnings.warn(f"fprofile: the outfile {gone.path} was removed during the recording ({gone.why}) and "
                              f"could not be written again ({e}); the trace is complete in memory (.trace)",
                              RuntimeWarning, stacklevel=stacklevel + 1)
                return
            where = ""
            if children is not None:
                children.stop_children()
                d = children.keep()
                where = f"; the child processes' recordings are kept in {d} (fprofile_jupyter.load({d!r}))" if d else ""
            raise OutfileError(f"fprofile: the outfile {gone.path} was removed during the recording ({gone.why}) and "
                               f"could not be kept ({e}): this process's events are lost{where}") from None
        self.options = dataclasses.replace(self.options, outfile=kept)
        where = ("it is written again there from the file the recording held open" if kept == gone.path
                 else f"the recording is kept in {kept} instead")
        warnings.warn(f"fprofile: the outfile {gone.path} was removed during the recording ({gone.why}): {where}",
                      RuntimeWarning, stacklevel=stacklevel + 1)

    def _read_outfile(self, children: Optional[_processes.SessionDir]) -> Optional[Trace]:
        """The streamed outfile loaded as it is (what the file holds)."""
        try:
            return _core.load(self.outfile)
        except BaseException:
            if children is not None:
                children.discard()
            raise

    def _compact(self, children: Optional[_processes.SessionDir], stacklevel: int) -> Union[Trace, "TraceFile"]:
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

    def _keep_streamed(self, children: Optional[_processes.SessionDir], merge: bool, problem: OSError,
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
        trace: Optional[Trace] = None
        try:
            trace = children.merge_read(_core.load(out), discard=False)
            _core._stream_append_trace(out, trace)
        except OSError as e:
            # (their spools are the only copy on disk: kept, and named)
            kept = children.keep()
            where = (f"their recordings are kept in {kept} (fprofile_jupyter.load({kept!r}) merges them)" if kept
                     else "they are lost")
            if trace is not None:
                where += "; the trace in memory holds everything"
            warnings.warn(f"fprofile: the outfile {out} stays in its streamed form (rewriting it compactly failed: "
                          f"{problem}); the child processes could not be added to it ({e}): {where}",
                          RuntimeWarning, stacklevel=stacklevel + 1)
            if trace is None:
                return TraceFile(out, None)
        except BaseException:
            children.discard()
            raise
        else:
            children.discard()
            warnings.warn(f"fprofile: the outfile {out} stays in its streamed form (rewriting it compactly failed: "
                          f"{problem})", RuntimeWarning, stacklevel=stacklevel + 1)
        return trace

    def _compact_in_memory(self, children: Optional[_processes.SessionDir], waited: bool, stacklevel: int) -> Trace:
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
    def _merge_children(children: _processes.SessionDir, trace: Trace, stacklevel: int) -> Trace:
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
    ``summary()``; None when the rewrite failed), :meth:`load` opens the trace in ``path``."""

    __slots__ = ("path", "outline")

    def __init__(self, path: str, outline: Any) -> None:
        self.path = path
        self.outline = outline

    def load(self, backed: bool = True) -> Trace:
        """The trace in ``path``: file-backed (``Trace.file``; its calls read from the file as
        asked, a run of any length opened in bounded memory), or in memory (``backed=False``)."""
        from ._io import load

        return load(self.path, backed=backed)

    def __repr__(self) -> str:
        return f"<TraceFile {self.path!r} {self.outline!r}>"


def _is_regular_file(path: str) -> bool:
    """Whether ``path`` is a regular file (or missing): what a streamed outfile is read back from."""
    import stat

    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return True  # gone: loading it says so


def snapshot(session: Optional[Session]) -> Trace:
    """The flight recorder's last window of ``session`` while it records (``profile.snapshot``,
    ``ThreadProfiler.snapshot``); ``ProfilerError`` when not recording or without keep_last."""
    if session is None:
        raise ProfilerError("snapshot() works while recording (after the recording, .trace is the last window)")
    if session.keep_last is None:
        raise ProfilerError("snapshot() needs the flight recorder: record with keep_last=\"30s\" (or a number of "
                            "events); this recording keeps everything and gives its trace at the end")
    return session.recorder.snapshot()


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
