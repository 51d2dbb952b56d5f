"""Following child processes while recording (``processes=True``, the default; docs/processes.md).

Over 500 lines: the session directory's whole life, one protocol with the child side (child.rs) and its locks.

The parent names a session directory (``fprofile-<random>`` under ``tempfile.gettempdir()``) and
sets ``FPROFILE_JUPYTER_SESSION`` to ``<directory>:<token>`` in ``os.environ`` while it records,
so that every process it starts inherits it. It makes the directory (mode 0700) with ``lock``
(which it holds an exclusive ``flock`` on until the end), ``token`` (a random token) and
``session.json`` (what to record), all 0600, just before the first process starts
(:func:`_arm`: an audit hook, the at-fork handler, ``_posixsubprocess.fork_exec``), so that a
recording that starts none pays nothing for it. A child joins only its parent's live session (``_core._join_session``: the directory
opened without following links, owned by its uid, mode 0700, the token matching, the lock held, no
stop marker; docs/processes.md "Threat model"); otherwise it records nothing, silently (one line on
stderr when ``FPROFILE_JUPYTER_DEBUG=1``). A child records into ``<pid>.spool`` in that directory
(the hook's writer thread streams it, whole records every 50 ms, and stops recording when the
parent's lock is free: a killed recording):

- after ``os.fork()`` (``multiprocessing``'s fork context too): ``after_fork`` starts a fresh child
  recording, from this module's at-fork handler in ``_session``;
- a new interpreter (``spawn``, ``forkserver``, ``subprocess`` or ``os.exec*`` of Python): the
  ``fprofile_jupyter_processes.pth`` line installed with the package loads the extension module
  alone (not this package: its imports would cost every child about 20 ms) and calls
  ``_core._pth_child`` when the variable is set (one environment lookup otherwise).

A child ends its spool at interpreter exit (atexit), at ``os._exit`` (wrapped while it records:
``multiprocessing``'s fork children leave through it), at ``os.exec*`` (``os.execv`` and
``os.execve`` wrapped likewise) and on SIGTERM (caught by the hook while the default action is in
place). At the parent's stop (:meth:`SessionDir.finish`): a ``stop`` marker;
children still running flush, write "flushed, still running" and ``<pid>.done``; the parent waits
for them (at most ``ACK_WAIT`` seconds; one that does not answer is named in a warning with what
was kept), reads every spool, drops processes with no recorded call and no recorded descendant,
merges the rest with its own trace (``_core.merge``) and removes the directory. With a streamed
``.fpt`` outfile (:meth:`SessionDir.compact`), each spool is added, a record at a time, to the
compact file the parent's stop writes (``_core._Compactor``) instead of being built into a trace.

A recording killed before its stop leaves its directory and the spools of its children: the next
start's sweep keeps it (and says where it is, once) for ``KEEP_DAYS`` days after its last write;
:func:`load_session` merges what is in it (``fprofile_jupyter.load(<directory>)``).
"""
from __future__ import annotations

import json
import os
import threading
import time
import warnings
from typing import Any, Dict, List, Optional, Sequence, Tuple

from . import _core
from ._core import FormatError, ProfilerError, Trace
from ._options import RecordOptions

#: The environment variable that names the session (``<directory>:<token>``) while a recording
#: follows processes.
ENV = "FPROFILE_JUPYTER_SESSION"
#: Set to 1: a process that does not join a session says why, in one line on stderr.
DEBUG_ENV = "FPROFILE_JUPYTER_DEBUG"
#: How long the parent waits, at stop, for children still running to flush (seconds).
ACK_WAIT = 1.5
#: A killed recording's directory (its children's spools) is kept this long after its last write.
KEEP_DAYS = 7
# (the file names are the hook's too: rust/python/src/hook/join.rs)
_STOP = "stop"
_CONFIG = "session.json"
_TOKEN = "token"
_LOCK = "lock"
_ANNOUNCED = "announced"
_PREFIX = "fprofile-"
# Lock files this process holds for its sessions: a fork child closes its copies (else the parent's
# lock would outlive the parent in it, and its children would never see the session die).
_held_locks: Dict[int, int] = {}


# -- the parent ------------------------------------------------------------------------------------

class SessionDir:
    """The parent's session directory: named (and children told, by :meth:`announce`) at start,
    made by :meth:`make` (at once, or with ``lazy=True`` just before the first child process
    starts: :func:`_make_pending`), merged and removed by :meth:`finish`."""

    def __init__(self, options: RecordOptions, *, metadata: Sequence[Tuple[str, str]] = (), lazy: bool = False) -> None:
        import dataclasses
        import tempfile  # (here: a child, which only reads the session, does not need it)

        self.root = tempfile.gettempdir()
        # what a child records: the parent's options, into its spool (no outfile, no window), its
        # own children followed too
        child = dataclasses.replace(options, outfile=None, keep_last=None, processes=True, dask=False)
        #: session.json: the children's options (``RecordOptions.to_json``), the metadata every
        #: child's trace gets, the parent's pid and the session's start.
        self.config = {**child.to_json(), "metadata": [list(m) for m in metadata], "parent_pid": os.getpid(),
                       "start_ns": time.monotonic_ns()}
        self._token = os.urandom(16).hex()
        self._name()
        self._lock: Optional[int] = None
        self._pid = os.getpid()
        #: The directory exists (:meth:`make` succeeded).
        self.made = False
        #: After :meth:`finish`: the children that did not answer the stop (pid, what was kept).
        self.unanswered: List[Tuple[int, str]] = []
        self._previous: Optional[str] = None
        _sweep_now(self.root)
        if not lazy:
            self.make()
        elif not os.access(self.root, os.W_OK | os.X_OK):
            why = "not writable" if os.path.isdir(self.root) else "no such directory"
            raise ProfilerError(
                f"cannot make the session directory for child processes in {self.root}: {why}; point TMPDIR "
                f"at a writable directory, or pass processes=False to record this process only")
        elif not _arm(self):
            self.make()

    def _name(self) -> None:
        #: The directory (``fprofile-<random>`` in the temporary directory, 0700, ours once made).
        self.path = os.path.join(self.root, _PREFIX + os.urandom(8).hex())
        #: What children find in ``FPROFILE_JUPYTER_SESSION``: the directory and the token.
        self.key = f"{self.path}:{self._token}"

    def make(self) -> None:
        """Makes the directory (once): its lock (held from now to the end), token and session.json."""
        import fcntl

        with _make_lock:
            if self.made or self._pid != os.getpid():
                return
            _pending_remove(self)
            for attempt in range(8):
                try:
                    os.mkdir(self.path, 0o700)
                    break
                except FileExistsError:
                    if attempt == 7:
                        raise ProfilerError(f"cannot make a session directory for child processes in {self.root}: "
                                            f"every name tried exists") from None
                    # no child started yet: a new name, told to the children to come
                    told = os.environ.get(ENV) == self.key
                    self._name()
                    if told:
                        os.environ[ENV] = self.key
                except OSError as e:
                    raise ProfilerError(
                        f"cannot make the session directory for child processes in {self.root}: {e.strerror or e}; "
                        f"point TMPDIR at a writable directory, or pass processes=False to record this process only"
                    ) from None
            try:
                dfd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
                try:
                    # the lock first (held from now to the end), session.json last: a session with
                    # its session.json and a free lock is a killed one (see _sweep)
                    self._lock = create_file(dfd, _LOCK, b"")
                    _held_locks[self._lock] = os.getpid()
                    fcntl.flock(self._lock, fcntl.LOCK_EX)
                    os.close(create_file(dfd, _TOKEN, self._token.encode()))
                    os.close(create_file(dfd, _CONFIG, json.dumps(self.config).encode()))
                finally:
                    os.close(dfd)
            except OSError as e:
                self._release()
                _remove(self.path)
                raise ProfilerError(f"cannot write the session directory {self.path} for child processes: "
                                    f"{e.strerror or e}; pass processes=False to record this process only") from None
            self.made = True

    def announce(self) -> None:
        """Children started from now on follow this session."""
        self._previous = os.environ.get(ENV)
        os.environ[ENV] = self.key

    def _withdraw(self) -> None:
        if os.environ.get(ENV) == self.key:
            if self._previous is None:
                del os.environ[ENV]
            else:
                os.environ[ENV] = self._previous

    def stop_children(self) -> None:
        """No new child follows; children still recording flush and stop (see :meth:`finish`)."""
        self._withdraw()
        with _make_lock:
            _pending_remove(self)
        if not self.made:
            return
        try:
            dfd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
            try:
                os.close(create_file(dfd, _STOP, b""))
            finally:
                os.close(dfd)
        except OSError:
            pass

    def discard(self) -> None:
        """Recording could not start, or ends without a trace: the directory goes."""
        self._withdraw()
        with _make_lock:
            _pending_remove(self)
        if self.made:
            _remove(self.path)
            self._release()

    def _release(self) -> None:
        # (after the directory is gone: a child still running then sees the lock free and stops)
        fd, self._lock = self._lock, None
        if fd is not None:
            _held_locks.pop(fd, None)
            os.close(fd)

    def finish(self, trace: Optional[Trace]) -> Optional[Trace]:
        """After :meth:`stop_children` and the parent's own stop: waits for the children still
        running, reads every spool and merges them into ``trace``; removes the directory."""
        try:
            if trace is None:
                return None
            if not self.made:
                return trace  # no child process started
            parts = self._children()
            if not parts:
                return trace
            return _core.merge([{"trace": trace}] + [{"trace": t} for t in parts])
        finally:
            self.discard()

    def compact(self, compactor: Any) -> List[int]:
        """:meth:`finish` for the stop of a streamed recording: after :meth:`stop_children`, waits
        for the children still running and adds every spool to ``compactor`` (a
        ``_core._Compactor`` holding the parent's streamed file as its part 0), one record at a
        time; returns the parts to write: 0 and the children kept by the rules of :meth:`finish`.
        The directory stays (the spools are what a failed write falls back on): :meth:`discard`
        or :meth:`merge_read` it after."""
        return [0] + self._children(compactor)

    def merge_read(self, trace: Trace, discard: bool = True) -> Trace:
        """After :meth:`compact` (whose write could not be done chunk by chunk): the spools read
        again, into traces, merged into ``trace``; removes the directory (``discard=False``: the
        caller calls :meth:`discard` or :meth:`keep` after)."""
        try:
            traces, _ = _read_spools(_spools(self.path), stacklevel=5)
            return _core.merge([{"trace": trace}] + [{"trace": t} for t in traces]) if traces else trace
        finally:
            if discard:
                self.discard()

    def keep(self) -> Optional[str]:
        """The recording ends but the children's spools could not be written anywhere else (a
        full disk): the directory stays, as a killed recording's does (``fprofile_jupyter.load``
        of it merges them; the sweep removes it ``KEEP_DAYS`` days after its last write, without
        announcing it again). Returns its path, None if it was never made."""
        self._withdraw()
        with _make_lock:
            _pending_remove(self)
        if not self.made:
            return None
        try:
            dfd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
            try:
                os.close(create_file(dfd, _ANNOUNCED, b""))
            finally:
                os.close(dfd)
        except OSError:
            pass
        self._release()
        return self.path

    def _wait_for_flushes(self, pids: List[int]) -> Tuple[List[int], List[int]]:
        """Waits for the children still running to answer the stop; returns those that did not
        (still alive) and those that died meanwhile without answering (killed during the stop)."""
        deadline = time.monotonic() + ACK_WAIT

        def answered(p: int) -> bool:
            return os.path.exists(os.path.join(self.path, f"{p}.done"))

        waiting = [p for p in pids if not answered(p) and _alive(p)]
        died: List[int] = []
        while waiting and time.monotonic() < deadline:
            time.sleep(0.005)
            still = []
            for p in waiting:
                if answered(p):
                    continue
                if _alive(p):
                    still.append(p)
                elif not answered(p):  # (its answer may have come just before it exited)
                    died.append(p)
            waiting = still
        return waiting, died

    def _children(self, compactor: Any = None) -> List[Any]:
        spools = _spools(self.path)
        silent_list, died = self._wait_for_flushes(sorted({pid for pid, _ in spools}))
        silent = set(silent_list)
        traces, kept = _read_spools(spools, stacklevel=5, compactor=compactor)
        for pid, why in [(p, f"{_describe(p)} did not answer the stop within {ACK_WAIT} s (stopped, or stuck in the "
                              "kernel)") for p in sorted(silent)] + \
                        [(p, " was killed during the stop, before it could end its recording") for p in sorted(died)]:
            calls = kept.get(pid, 0)
            what = (f"the trace keeps the {calls} calls it wrote until then (the process is marked incomplete)" if calls
                    else "none of its calls had reached its spool: they are missing from the trace")
            self.unanswered.append((pid, what))
            warnings.warn(f"fprofile: child process {pid}{why}: {what}", RuntimeWarning, stacklevel=4)
        return traces


# -- making the directory when the first child starts -------------------------------------------

#: Session directories of this process named but not made yet (``lazy``).
_pending: List[SessionDir] = []
_make_lock = threading.Lock()
_triggers_installed = False


def _pending_remove(s: SessionDir) -> None:
    if s in _pending:
        _pending.remove(s)
    if not _pending:
        _core._disarm_child_notice()


def _arm(s: SessionDir) -> bool:
    """``s`` is made just before the program starts its first process (False: that cannot be
    noticed here, the caller makes it now). Three ways a process starts from Python: the audit
    hook of ``_core._arm_child_notice`` (subprocess, os.posix_spawn, os.system, os.exec*, os.fork),
    the at-fork handler (os.fork and what uses it) and ``_posixsubprocess.fork_exec``, which
    ``multiprocessing`` calls without an audit event (wrapped here)."""
    global _triggers_installed
    if not _triggers_installed:
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(before=_make_pending, after_in_child=_forget_pending)
        try:
            import _posixsubprocess
        except ImportError:
            pass
        else:
            real = _posixsubprocess.fork_exec

            def fork_exec(*args: Any, **kwargs: Any) -> Any:
                if _pending:
                    _make_pending()
                return real(*args, **kwargs)

            fork_exec.__doc__ = real.__doc__
            fork_exec.__wrapped__ = real  # type: ignore[attr-defined]
            _posixsubprocess.fork_exec = fork_exec
        _triggers_installed = True
    with _make_lock:
        _pending.append(s)
    if _core._arm_child_notice(_make_pending):
        return True
    with _make_lock:
        _pending_remove(s)
    return False


def _forget_pending() -> None:
    """In a fork child: the parent's named directories are not this process's to make, and the
    lock may have been held by a thread that does not exist here."""
    global _make_lock
    _make_lock = threading.Lock()
    _pending.clear()


def _make_pending() -> None:
    """A process is about to start: the directories named for it are made (a failure is said in a
    warning and the variable withdrawn, so that the process is not told of a missing session)."""
    pid = os.getpid()
    for s in list(_pending):
        if s._pid != pid:
            continue
        try:
            s.make()
        except Exception as e:
            _pending_remove(s)
            s._withdraw()
            try:
                warnings.warn(f"fprofile: child processes are not recorded: {e}", RuntimeWarning, stacklevel=2)
            except Exception:
                pass


def _sweep_now(root: str) -> None:
    """:func:`_sweep` of ``root``, at most once every ``SWEEP_EVERY`` seconds per process (a
    visit of the temporary directory costs about 0.5 ms with a thousand entries)."""
    now = time.monotonic()
    last = _swept.get(root)
    if last is not None and now - last < SWEEP_EVERY:
        return
    _swept[root] = now
    _sweep(root)


#: Seconds between two sweeps of one temporary directory by this process.
SWEEP_EVERY = 600.0
_swept: Dict[str, float] = {}


def _spools(path: str) -> List[Tuple[int, str]]:
    """The spools in the session directory ``path``: (pid, path)."""
    out = []
    try:
        names = os.listdir(path)
    except OSError:
        return out
    for n in names:
        # <pid>.spool, or <pid>.<n>.spool for a process that replaced itself (os.exec*)
        parts = n.split(".")
        if parts[-1] == "spool" and len(parts) in (2, 3) and all(p.isdigit() for p in parts[:-1]):
            out.append((int(parts[0]), os.path.join(path, n)))
    return sorted(out)


def _read_spools(spools: List[Tuple[int, str]], stacklevel: int,
                 compactor: Any = None) -> Tuple[List[Any], Dict[int, int]]:
    """Reads the spools; returns the traces to merge and the calls read per pid. Processes with
    no recorded call are left out unless one of their descendants recorded one (a forkserver,
    multiprocessing's resource tracker: no code of the program runs there). With ``compactor``
    (a ``_core._Compactor``), each spool is added to it, one at a time, and what is returned in
    place of each trace is its part number there."""
    read: Dict[Tuple[int, str], Tuple[Any, int, int]] = {}
    paths = [path for _, path in spools]
    if compactor is not None:
        results = _add_all(compactor, paths)
    else:
        # (each spool is read and built with the GIL released: several at once on several cores)
        results = _read_parallel(paths) if min(len(paths), os.cpu_count() or 1) > 1 else None
    if results is None:
        results = [_read(path) for path in paths]
    calls_of: Dict[int, int] = {}
    for (pid, path), got in zip(spools, results):
        if got is None:
            continue  # an empty spool: the process ended (killed) before its writer's first round
        if isinstance(got, Exception):
            warnings.warn(f"fprofile: the recording of child process {pid} could not be read and is left out: {got}",
                          RuntimeWarning, stacklevel=stacklevel)
            continue
        trace, pid_read, parent, calls, _end = got
        read[(pid_read, path)] = (trace, parent, calls)
        calls_of[pid] = calls_of.get(pid, 0) + calls
    by_pid: Dict[int, List[Tuple[int, str]]] = {}
    for key in read:
        by_pid.setdefault(key[0], []).append(key)
    keep = set()
    for key, (_, _, calls) in read.items():
        if calls:
            todo = [key]
            while todo:
                k = todo.pop()
                if k not in keep:
                    keep.add(k)
                    todo.extend(by_pid.get(read[k][1], []))
    return [read[k][0] for k in sorted(keep)], calls_of


def _describe(pid: int) -> str:
    """`` (its command line)`` of a running process, for messages; empty when unknown."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmd = f.read(400).replace(b"\0", b" ").decode("utf-8", "replace").strip()
    except OSError:
        return ""
    return f" ({cmd[:200]})" if cmd else ""


def create_file(dfd: int, name: str, data: bytes) -> int:
    """Creates the new file ``name`` in the directory open as ``dfd`` (0600, never an existing
    file, never through a link) with ``data``; returns it, open for reading and writing."""
    fd = os.open(name, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=dfd)
    try:
        if data:
            os.write(fd, data)
    except BaseException:
        os.close(fd)
        raise
    return fd


def is_session_dir(path: str) -> bool:
    """``path`` is a directory with a ``session.json``: a session directory of a recording."""
    return os.path.isdir(path) and os.path.isfile(os.path.join(path, _CONFIG))


def load_session(path: str) -> Trace:
    """The recordings of the child processes in the session directory ``path``, merged: what a
    recording killed before its stop left (``fprofile_jupyter.load`` of a session directory). Its
    own process's calls were in its memory and are not there. ``FileNotFoundError`` when it is no
    session directory; ``ProfilerError`` while its recording is still running, or when it holds
    no recorded call."""
    import fcntl

    if not os.path.isfile(os.path.join(path, _CONFIG)):
        raise FileNotFoundError(2, "not a session directory of a recording (it has no session.json)", path)
    try:
        fd = os.open(os.path.join(path, _LOCK), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        fd = None
    if fd is not None:
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                raise ProfilerError(f"the recording of {path} is still running: its trace comes at its stop") from None
        finally:
            os.close(fd)
    traces, _ = _read_spools(_spools(path), stacklevel=3)
    if not traces:
        raise ProfilerError(f"{path} holds no recorded call: the child processes of that recording recorded nothing "
                            f"before it was killed")
    return _core.merge([{"trace": t} for t in traces])


def _sweep(root: str) -> None:
    """The session directories in ``root`` (ours: our uid, mode 0700) left by recordings whose
    process died without stopping (killed, ``os._exit``: its lock is free). One whose children
    wrote nothing is removed. One that holds their spools is kept, said once (a warning naming it
    and how to load it), and removed ``KEEP_DAYS`` days after its last write."""
    import stat

    me = os.geteuid()
    try:
        with os.scandir(root) as entries:
            for e in entries:
                if not e.name.startswith(_PREFIX):
                    continue
                try:
                    st = e.stat(follow_symlinks=False)
                except OSError:
                    continue
                if not stat.S_ISDIR(st.st_mode) or st.st_uid != me or stat.S_IMODE(st.st_mode) != 0o700:
                    continue  # not ours
                if _kept.get(e.path) == (st.st_ino, st.st_mtime_ns):
                    continue  # judged dead and kept by an earlier start of this process, unchanged since
                if _sweep_one(e.path):
                    try:
                        st = os.stat(e.path, follow_symlinks=False)
                        _kept[e.path] = (st.st_ino, st.st_mtime_ns)
                    except OSError:
                        pass
    except OSError:
        pass


#: Session directories of dead recordings that the sweep kept (their spools), with their inode and
#: modification time then: later starts of this process skip them while they are unchanged (a
#: dead session does not come back; their expiry is checked again by the next process), so that
#: starting a recording does not cost a visit of each (about 25 µs each).
_kept: Dict[str, Tuple[int, int]] = {}


def _sweep_one(path: str) -> bool:
    """Sweeps one directory; True when it is a dead session kept for its spools."""
    import fcntl

    try:
        dfd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        return False
    try:
        names = set(os.listdir(dfd))
        if _CONFIG not in names:
            return False  # being made right now
        if _LOCK in names:
            fd = os.open(_LOCK, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dfd)
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return False  # a recording running now
            finally:
                os.close(fd)
        else:  # (made by an earlier version: its session.json names its parent)
            try:
                with open(os.open(_CONFIG, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=dfd), encoding="utf-8") as f:
                    parent = int(json.load(f)["parent_pid"])
            except (OSError, ValueError, KeyError, TypeError):
                return False
            if parent == os.getpid() or _alive(parent):
                return False
        spools = [n for n in names if n.endswith(".spool")]
        sizes = [os.stat(n, dir_fd=dfd, follow_symlinks=False) for n in spools]
        if not any(s.st_size for s in sizes):
            _remove(path)
            return False
        newest = max([s.st_mtime for s in sizes] + [os.stat(dfd).st_mtime])
        if time.time() - newest > KEEP_DAYS * 86400:
            _remove(path)
            return False
        if _ANNOUNCED not in names:
            os.close(create_file(dfd, _ANNOUNCED, b""))
            warnings.warn(f"fprofile: a recording killed before it stopped left what its child processes recorded in "
                          f"{path}: load it with fprofile_jupyter.load({path!r}) (or `fprofile convert {path} run.fpt`); "
                          f"it is removed {KEEP_DAYS} days after its last write", RuntimeWarning, stacklevel=5)
        return True
    except OSError:
        return False
    finally:
        os.close(dfd)


def _remove(path: str) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


def _read_parallel(paths: List[str]) -> Optional[List[Any]]:
    """:func:`_read` of every path on several threads; None when threads cannot be started (a
    stop at interpreter exit, after ``threading`` shut down)."""
    try:
        from concurrent.futures import ThreadPoolExecutor  # (its import registers an exit handler)

        with ThreadPoolExecutor(min(len(paths), os.cpu_count() or 1)) as ex:
            return list(ex.map(_read, paths))
    except RuntimeError:
        return None


def _add_all(compactor: Any, paths: List[str]) -> List[Any]:
    """Each spool added to ``compactor`` (parts 1, 2, ...): as :func:`_read` gives them, with the
    part number in place of the trace."""
    out: List[Any] = []
    part = 1
    for path in paths:
        try:
            if os.path.getsize(path) == 0:
                out.append(None)
                continue
            pid, parent, calls, end = compactor.add_spool(path)
        except (OSError, FormatError) as e:
            out.append(e)
            continue
        out.append((part, pid, parent, calls, end))
        part += 1
    return out


def _read(path: str) -> Any:
    try:
        if os.path.getsize(path) == 0:
            return None
        return _core._read_spool(path)
    except (OSError, FormatError) as e:
        return e


def _alive(pid: int) -> bool:
    """The process exists and is not a zombie (it may still write its spool)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
        return stat[stat.rfind(b")") + 2:][:1] not in (b"Z", b"X", b"")
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
            return True
        except OSError:
            return False


# -- a child ---------------------------------------------------------------------------------------
# (the child's recording lives in the extension, rust/python/src/child.rs: the .pth line starts it
# without importing this package)

def child_session_dir() -> Optional[str]:
    """The session directory this process records into as a child, if it does."""
    key = _core._child_key()
    return key.rpartition(":")[0] if key is not None else None


def start_child(key: str) -> None:
    """Starts recording this process as a child of the session ``key`` names
    (``<directory>:<token>``), when it is its parent's live session; otherwise nothing happens (a
    line on stderr with ``FPROFILE_JUPYTER_DEBUG=1``)."""
    _core._child_start(key)


def finish_child(exit_status: Optional[int]) -> None:
    """Ends this process's child recording (its spool's end record), if it records."""
    _core._child_finish(exit_status)


def after_fork(key: Optional[str]) -> None:
    """In the child of a fork: when the parent recorded with processes followed (``key``: its
    session's :attr:`SessionDir.key`) or recorded as a child itself, this process starts its own
    child recording (the parent's is forgotten: its buffers belong to the parent). The parent's
    session locks are closed here: they must die with the parent."""
    for fd, owner in list(_held_locks.items()):
        if owner != os.getpid():
            _held_locks.pop(fd, None)
            try:
                os.close(fd)
            except OSError:
                pass
    _core._child_after_fork(key)
