"""Following child processes while recording (``processes=True``, the default; docs/processes.md).

The parent makes a session directory (``fprofile-<random>`` under ``tempfile.gettempdir()``) with
``session.json`` (what to record) and sets ``FPROFILE_JUPYTER_SESSION`` to it in ``os.environ`` while
it records, so that every process it starts inherits it. A child process records into
``<pid>.spool`` in that directory (the hook's writer thread streams it, whole records every 50 ms):

- after ``os.fork()`` (``multiprocessing``'s fork context too): ``after_fork`` starts a fresh child
  recording, from this module's at-fork handler in ``_recording``;
- a new interpreter (``spawn``, ``forkserver``, ``subprocess`` or ``os.exec*`` of Python): the
  ``fprofile_jupyter_processes.pth`` line installed with the package calls :func:`_pth_start` when the
  variable is set (one environment lookup otherwise).

A child ends its spool at interpreter exit (atexit), at ``os._exit`` (wrapped while it records:
``multiprocessing``'s fork children leave through it), at ``os.exec*`` (``os.execv`` and
``os.execve`` wrapped likewise) and on SIGTERM (caught by the hook while the default action is in
place). At the parent's stop (:meth:`SessionDir.finish`): a ``stop`` marker;
children still running flush, write "flushed, still running" and ``<pid>.done``; the parent waits
for them (at most ``ACK_WAIT`` seconds), reads every spool, drops processes with no recorded call
and no recorded descendant, merges the rest with its own trace (``_core.merge``) and removes the
directory.
"""
from __future__ import annotations

import atexit
import json
import os
import sys
import time
import warnings
from typing import Any, Dict, List, Optional, Sequence, Tuple

from . import _core
from ._core import FormatError, ProfilerError, Recorder, Trace

#: The environment variable that names the session directory while a recording follows processes.
ENV = "FPROFILE_JUPYTER_SESSION"
#: How long the parent waits, at stop, for children still running to flush (seconds).
ACK_WAIT = 1.5
_STOP = "stop"
_CONFIG = "session.json"


def check_processes(processes: Any) -> bool:
    """The ``processes=`` argument: a bool, else one clear TypeError."""
    if not isinstance(processes, bool):
        raise TypeError(f"processes must be True or False (follow child processes or not), not {type(processes).__name__}")
    return processes


# -- the parent ------------------------------------------------------------------------------------

class SessionDir:
    """The parent's session directory: made by the constructor (nothing else happens when that
    fails), announced to children by :meth:`announce`, merged and removed by :meth:`finish`."""

    def __init__(self, subs: List[str], exclude: List[str], builtins: bool, max_events: int, *,
                 include: Sequence[str] = (), metadata: Sequence[Tuple[str, str]] = ()) -> None:
        import tempfile  # (here: a child, which only reads the session, does not need it)

        root = tempfile.gettempdir()
        _sweep(root)
        try:
            self.path = tempfile.mkdtemp(prefix="fprofile-", dir=root)
        except OSError as e:
            raise ProfilerError(
                f"cannot make the session directory for child processes in {root}: {e.strerror or e}; "
                f"point TMPDIR at a writable directory, or pass processes=False to record this process only") from None
        config = {"subs": subs, "exclude": exclude, "include": list(include), "metadata": [list(m) for m in metadata],
                  "builtins": builtins, "max_events": max_events,
                  "parent_pid": os.getpid(), "start_ns": time.monotonic_ns()}
        try:
            with open(os.path.join(self.path, _CONFIG), "w", encoding="utf-8") as f:
                json.dump(config, f)
        except OSError as e:
            _remove(self.path)
            raise ProfilerError(f"cannot write the session directory {self.path} for child processes: {e.strerror or e}; "
                                f"pass processes=False to record this process only") from None
        self.config = config
        self._previous: Optional[str] = None

    def announce(self) -> None:
        """Children started from now on follow this session."""
        self._previous = os.environ.get(ENV)
        os.environ[ENV] = self.path

    def _withdraw(self) -> None:
        if os.environ.get(ENV) == self.path:
            if self._previous is None:
                del os.environ[ENV]
            else:
                os.environ[ENV] = self._previous

    def stop_children(self) -> None:
        """No new child follows; children still recording flush and stop (see :meth:`finish`)."""
        self._withdraw()
        try:
            with open(os.path.join(self.path, _STOP), "w"):
                pass
        except OSError:
            pass

    def discard(self) -> None:
        """Recording could not start, or ends without a trace: the directory goes."""
        self._withdraw()
        _remove(self.path)

    def finish(self, trace: Optional[Trace]) -> Optional[Trace]:
        """After :meth:`stop_children` and the parent's own stop: waits for the children still
        running, reads every spool and merges them into ``trace``; removes the directory."""
        try:
            if trace is None:
                return None
            parts = self._children()
            if not parts:
                return trace
            return _core.merge([{"trace": trace}] + [{"trace": t} for t in parts])
        finally:
            self.discard()

    def _spools(self) -> List[Tuple[int, str]]:
        out = []
        try:
            names = os.listdir(self.path)
        except OSError:
            return out
        for n in names:
            # <pid>.spool, or <pid>.<n>.spool for a process that replaced itself (os.exec*)
            parts = n.split(".")
            if parts[-1] == "spool" and len(parts) in (2, 3) and all(p.isdigit() for p in parts[:-1]):
                out.append((int(parts[0]), os.path.join(self.path, n)))
        return sorted(out)

    def _wait_for_flushes(self, pids: List[int]) -> None:
        deadline = time.monotonic() + ACK_WAIT
        waiting = [p for p in pids if not os.path.exists(os.path.join(self.path, f"{p}.done")) and _alive(p)]
        while waiting and time.monotonic() < deadline:
            time.sleep(0.005)
            waiting = [p for p in waiting if not os.path.exists(os.path.join(self.path, f"{p}.done")) and _alive(p)]

    def _children(self) -> List[Trace]:
        spools = self._spools()
        self._wait_for_flushes([pid for pid, _ in spools])
        read: Dict[Tuple[int, str], Tuple[Trace, int, int]] = {}
        # (each spool is read and built with the GIL released: several at once on several cores)
        paths = [path for _, path in spools]
        results = _read_parallel(paths) if min(len(paths), os.cpu_count() or 1) > 1 else None
        if results is None:
            results = [_read(path) for path in paths]
        for (pid, path), got in zip(spools, results):
            if got is None:
                continue  # an empty spool: the process ended (killed) before its writer's first round
            if isinstance(got, Exception):
                warnings.warn(f"fprofile: the recording of child process {pid} could not be read and is left out: {got}",
                              RuntimeWarning, stacklevel=4)
                continue
            trace, pid_read, parent, calls, _end = got
            read[(pid_read, path)] = (trace, parent, calls)
        # Processes with no recorded call are left out unless one of their descendants recorded
        # one (a forkserver, multiprocessing's resource tracker: no code of the program runs there).
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
        return [read[k][0] for k in sorted(keep)]


def _sweep(root: str) -> None:
    """Removes the session directories in ``root`` left by recordings whose process died without
    stopping (killed, ``os._exit``): those whose ``session.json`` names a parent that is gone."""
    try:
        with os.scandir(root) as entries:
            for e in entries:
                if not e.name.startswith("fprofile-") or not e.is_dir(follow_symlinks=False):
                    continue
                try:
                    with open(os.path.join(e.path, _CONFIG), encoding="utf-8") as f:
                        parent = int(json.load(f)["parent_pid"])
                except (OSError, ValueError, KeyError, TypeError):
                    continue  # not ours, or being made right now
                if parent != os.getpid() and not _alive(parent):
                    _remove(e.path)
    except OSError:
        pass


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

class _Child:
    def __init__(self, recorder: Recorder, path: str) -> None:
        self.recorder = recorder
        self.path = path
        self.pid = os.getpid()


_child: Optional[_Child] = None
_real_exit = os._exit
_real_execv = os.execv
_real_execve = os.execve
_hooks_installed = False


def child_session_dir() -> Optional[str]:
    """The session directory this process records into as a child, if it does."""
    c = _child
    return c.path if c is not None and c.pid == os.getpid() else None


def start_child(path: str) -> None:
    """Starts recording this process as a child of the session in ``path``, unless that session
    has stopped or is gone."""
    global _child
    if _child is not None and _child.pid == os.getpid():
        return
    if os.path.exists(os.path.join(path, _STOP)):
        return
    try:
        with open(os.path.join(path, _CONFIG), encoding="utf-8") as f:
            config = json.load(f)
    except FileNotFoundError:
        return  # the session ended meanwhile
    recorder = Recorder()
    recorder.start(list(config["subs"]), exclude=list(config["exclude"]), include=list(config.get("include", [])),
                   builtins=bool(config["builtins"]), max_events=int(config["max_events"]),
                   metadata=[(str(k), str(v)) for k, v in config.get("metadata", [])], child=path)
    _child = _Child(recorder, path)
    _install_exit_hooks()


def finish_child(exit_status: Optional[int]) -> None:
    """Ends this process's child recording (its spool's end record), if it records."""
    global _child
    c, _child = _child, None
    if c is None or c.pid != os.getpid():
        return
    try:
        c.recorder.finish_child(exit_status, _multiprocessing_name())
    except ProfilerError:
        pass


def _multiprocessing_name() -> Optional[str]:
    """This process's ``multiprocessing`` name, unless it is the main process of its program."""
    mp = sys.modules.get("multiprocessing.process")
    try:
        name = mp.current_process().name if mp is not None else None  # type: ignore[attr-defined]
    except Exception:
        return None
    return name if isinstance(name, str) and name != "MainProcess" else None


def after_fork(path: Optional[str]) -> None:
    """In the child of a fork: when the parent recorded with processes followed (``path``: its
    session directory) or recorded as a child itself, this process starts its own child recording
    (the parent's is forgotten: its buffers belong to the parent)."""
    global _child
    inherited, _child = _child, None
    if path is None and inherited is not None:
        path = inherited.path
    if path is None:
        return
    try:
        start_child(path)
    except Exception as e:  # no caller to raise to: say it once, the program goes on
        _say(e)


def _install_exit_hooks() -> None:
    global _hooks_installed
    if _hooks_installed:
        return
    _hooks_installed = True
    atexit.register(_at_exit)
    os._exit = _exit
    # every os.exec* goes through one of these two
    os.execv = _execv
    os.execve = _execve


def _at_exit() -> None:
    finish_child(None)  # the exit status of an interpreter exit is not known to Python


def _exit(status: int) -> None:  # os._exit while a child records: end the spool first
    try:
        finish_child(int(status))
    except BaseException:
        pass
    _real_exit(status)


_exit.__doc__ = os._exit.__doc__
_exit.__wrapped__ = _real_exit  # type: ignore[attr-defined]


def _exec(real: Any, *args: Any) -> None:
    # os.exec* while a child records: its spool ends (the new program, a Python one, starts a
    # spool of its own); if the exec fails, this process records on into a new spool
    path = child_session_dir()
    finish_child(None)
    try:
        real(*args)
    except BaseException:
        if path is not None:
            try:
                start_child(path)
            except Exception as e:
                _say(e)
        raise


def _execv(path: Any, argv: Any) -> None:
    _exec(_real_execv, path, argv)


def _execve(path: Any, argv: Any, env: Any) -> None:
    _exec(_real_execve, path, argv, env)


_execv.__doc__ = os.execv.__doc__
_execve.__doc__ = os.execve.__doc__


def _say(e: BaseException) -> None:
    try:
        print(f"fprofile: this child process is not recorded: {e}", file=sys.stderr)
    except Exception:
        pass


def _pth_start() -> None:
    """Called by the ``.pth`` line at interpreter start when ``FPROFILE_JUPYTER_SESSION`` is set."""
    path = os.environ.get(ENV)
    if not path:
        return
    try:
        start_child(path)
    except Exception as e:
        _say(e)
