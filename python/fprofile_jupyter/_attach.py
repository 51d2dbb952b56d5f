"""``fprofile attach PID``: record a running CPython 3.14+ program this command did not start,
through PEP 768 (``sys.remote_exec``), and ``%fprofile attach PID`` in a notebook.

How: the attacher checks the target (it exists, it is the attacher's user's, it is Python 3.14+,
remote debugging is not disabled, ptrace is allowed), makes a private folder (``tempfile.mkdtemp``:
0700, the attacher's own) and writes in it (new files, 0600, never through a link) a small script
that the target runs at its next safe point ("eval breaker"). The script imports the target's
fprofile_jupyter (or, when the target has none, the attacher's, by adding the attacher's
site-packages to ``sys.path``, only when the two Pythons have the same version and ABI), refuses a
version different from the attacher's, starts a recording (``_ongoing.begin``: the target's
``fprofile_jupyter.status()`` shows it) streamed to the ``.fpt`` path the attacher chose (a crash
of the target keeps what was recorded), writes ``status`` (started, with its clock's start
markers), and starts a watcher thread. The watcher stops the recording when the attacher writes
``stop`` into the folder, or when the attacher or its folder is gone (a killed attacher, a
notebook's attach that failed: the program is never left recording), then writes ``done`` (the
stop markers). The stop is signalled by a file and watched by a thread, not by a second
``remote_exec``: the watcher wakes even while the program's main
thread is blocked in C (a ``sleep``, a read), where a second injection would wait.

The script itself runs only when the target next runs Python bytecode: a program blocked in C
(waiting on a socket, in a long numpy call) starts the recording when that call returns. The
attacher waits ``start_timeout`` seconds for it, then says so and leaves a ``cancel`` file, so
that a late run of the script records nothing.

Errors are :class:`AttachError` (one line; the command, ``cli.attach``, prints it and exits 1).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tempfile
import time
from typing import Any, Callable, Dict, Optional, Sequence

from ._processes import create_file

__all__ = ["AttachError", "attach"]

INSTEAD = "start the program under `fprofile run` instead"


class AttachError(RuntimeError):
    """Attaching is not possible (the message says why, in one line)."""


# --------------------------------------------------------------------------------------------------
# The script run in the target (formatted with repr() values; it defines nothing in the target's
# namespace that it does not delete)

_SCRIPT = r'''
def _fprofile_attach():
    import json, os, sys, threading, time, warnings
    folder, out, subs, version, site, tag, attacher = {args}

    def write(name, obj):
        fd = os.open(os.path.join(folder, name + ".part"),
                     os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(obj, f)
        os.rename(os.path.join(folder, name + ".part"), os.path.join(folder, name))

    def error(message):
        write("status", {{"state": "error", "message": message}})

    if os.path.exists(os.path.join(folder, "cancel")):  # the attacher gave up and left: tidy its folder
        import shutil
        shutil.rmtree(folder, ignore_errors=True)
        return
    try:
        injected = False
        try:
            import fprofile_jupyter
        except ImportError:
            mine = "%s %d.%d" % (sys.implementation.cache_tag, sys.version_info[0], sys.version_info[1])
            if mine + sys.abiflags != tag:
                return error("the program has no fprofile_jupyter importable and its Python (%s) differs from "
                             "the attacher's (%s): install fprofile-jupyter==%s in the program's environment"
                             % (mine + sys.abiflags, tag, version))
            sys.path.append(site)
            injected = True
            import fprofile_jupyter
        if fprofile_jupyter.__version__ != version:
            return error("the program's fprofile-jupyter is %s, the attacher's is %s: attach with the same version "
                         "(python -m fprofile_jupyter attach from the program's environment)"
                         % (fprofile_jupyter.__version__, version))
        from fprofile_jupyter import _ongoing, _subs
        from fprofile_jupyter._attach import _alive as alive  # the same version as the attacher's
        main_file = getattr(sys.modules.get("__main__"), "__file__", None)
        chosen = (_subs.resolve_subs(_subs.split_subs(subs), main_file) if subs
                  else _subs.default_filter(main_file))
        t0a = time.monotonic_ns()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the output replaced: the attacher said so
            _ongoing.begin(chosen, {{"outfile": out, "processes": False}},
                           origin="fprofile attach (pid %d)" % attacher)
        t0b = time.monotonic_ns()
    except BaseException as e:
        return error("starting the recording in the program failed: %s: %s" % (type(e).__name__, e))
    write("status", {{"state": "started", "start_ns": [t0a, t0b], "injected": injected,
                      "python": sys.version.split()[0]}})

    def watch():
        stop = os.path.join(folder, "stop")
        while os.path.isdir(folder) and not os.path.exists(stop) and alive(attacher):
            time.sleep(0.05)
        t1a = time.monotonic_ns()
        try:
            trace = _ongoing.stop()
            n = len(trace) if trace is not None else None
        except BaseException as e:
            t1b = time.monotonic_ns()
            try:
                write("done", {{"state": "error", "message": "stopping the recording failed: %s: %s"
                                % (type(e).__name__, e), "stop_ns": [t1a, t1b]}})
            except OSError:
                pass
            return
        t1b = time.monotonic_ns()
        del trace
        try:
            write("done", {{"state": "stopped", "stop_ns": [t1a, t1b], "calls": n}})
        except OSError:
            pass  # the attacher is gone and took its folder

    threading.Thread(target=watch, name="fprofile-attach", daemon=True).start()


try:
    _fprofile_attach()
finally:
    del _fprofile_attach
'''


# --------------------------------------------------------------------------------------------------
# Checks of the target (Linux /proc)


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def _python_version(pid: int) -> Optional[tuple]:
    """(major, minor) of the Python the process runs (its executable's name, or the libpython
    it maps); None when it is not Python."""
    try:
        exe = os.readlink(f"/proc/{pid}/exe")
    except OSError:
        exe = ""
    m = re.search(r"python(\d)\.(\d+)", os.path.basename(exe))
    if m is None:
        try:
            maps = _read(f"/proc/{pid}/maps").decode("utf-8", "replace")
        except OSError:
            maps = ""
        m = re.search(r"libpython(\d)\.(\d+)", maps)
    if m is None and re.fullmatch(r"python\d?", os.path.basename(exe)):
        return None  # a bare `python` with its libpython linked in statically: asked below
    return (int(m.group(1)), int(m.group(2))) if m else None


def _user(uid: int) -> str:
    try:
        import pwd

        return pwd.getpwuid(uid).pw_name
    except (KeyError, ImportError):
        return str(uid)


def check_target(pid: int) -> tuple:
    """Raises AttachError when ``pid`` cannot be attached to; returns its Python (major, minor)."""
    if pid <= 0:
        raise AttachError(f"no process with pid {pid}")
    try:
        st = os.stat(f"/proc/{pid}")
    except FileNotFoundError:
        raise AttachError(f"no process with pid {pid}") from None
    except OSError as e:
        raise AttachError(f"cannot read /proc/{pid}: {e.strerror or e}") from None
    if st.st_uid != os.geteuid():
        raise AttachError(f"pid {pid} belongs to user {_user(st.st_uid)}, not to you ({_user(os.geteuid())}): "
                          f"fprofile attach records only your own processes")
    try:
        exe = os.readlink(f"/proc/{pid}/exe")
    except OSError:
        exe = "?"
    version = _python_version(pid)
    if version is None:
        if re.fullmatch(r"python\d?", os.path.basename(exe)):
            version = (0, 0)  # a statically linked `python`: its version is told by remote_exec
        else:
            raise AttachError(f"pid {pid} is not a Python program (it runs {exe})")
    if not hasattr(sys, "remote_exec"):
        raise AttachError(f"fprofile attach needs Python 3.14 or newer on this side (this is Python "
                          f"{sys.version.split()[0]}, without sys.remote_exec): run it with Python 3.14+, or {INSTEAD}")
    if version != (0, 0) and version < (3, 14):
        raise AttachError(f"pid {pid} runs Python {version[0]}.{version[1]}: attaching needs Python 3.14 or newer in the "
                          f"program (PEP 768); {INSTEAD}")
    try:
        environ = _read(f"/proc/{pid}/environ").split(b"\0")
        cmdline = _read(f"/proc/{pid}/cmdline").split(b"\0")
    except OSError:
        environ, cmdline = [], []
    if any(e.startswith(b"PYTHON_DISABLE_REMOTE_DEBUG=") and len(e) > len(b"PYTHON_DISABLE_REMOTE_DEBUG=")
           for e in environ):
        raise AttachError(f"pid {pid} has remote debugging disabled (PYTHON_DISABLE_REMOTE_DEBUG is set in its "
                          f"environment): restart it without it, or {INSTEAD}")
    if any(a == b"-Xdisable_remote_debug" or (a == b"disable_remote_debug" and i > 0 and cmdline[i - 1] == b"-X")
           for i, a in enumerate(cmdline)):
        raise AttachError(f"pid {pid} has remote debugging disabled (-X disable_remote_debug on its command line): "
                          f"restart it without it, or {INSTEAD}")
    _check_ptrace(pid)
    return version


def _check_ptrace(pid: int) -> None:
    try:
        scope = int(_read("/proc/sys/kernel/yama/ptrace_scope").strip() or b"0")
    except (OSError, ValueError):
        return  # no Yama
    how = "sudo sysctl kernel.yama.ptrace_scope=0 (or run fprofile attach as root)"
    if scope >= 3:
        raise AttachError(f"ptrace is forbidden on this machine (kernel.yama.ptrace_scope = {scope}, until reboot): "
                          f"attaching is not possible; {INSTEAD}")
    if scope >= 1 and os.geteuid() != 0 and not _is_descendant(pid):
        raise AttachError(f"ptrace is restricted (kernel.yama.ptrace_scope = {scope}: only a parent may attach to its "
                          f"children): {how}, or {INSTEAD}")


def _is_descendant(pid: int) -> bool:
    me = os.getpid()
    for _ in range(64):
        try:
            stat = _read(f"/proc/{pid}/stat").decode("utf-8", "replace")
            pid = int(stat.rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            return False
        if pid == me:
            return True
        if pid <= 1:
            return False
    return False


# --------------------------------------------------------------------------------------------------
# Attaching


def _site_dir() -> str:
    """The folder this package is imported from (added to the target's sys.path when it has none)."""
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _tag() -> str:
    return "%s %d.%d%s" % (sys.implementation.cache_tag, sys.version_info[0], sys.version_info[1],
                           getattr(sys, "abiflags", ""))


def _alive(pid: int) -> bool:
    """The process exists (one of another user counts: signalling it is not allowed, it exists).
    The target's watcher (_SCRIPT) asks this of the attacher, the attacher of the target."""
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except OSError:
        return True


class _CtrlC:
    """Ctrl-C (SIGINT) as a flag while attached, in the main thread (elsewhere: none), so that it
    is never lost between two steps: before the start it cancels, while recording it stops."""

    def __init__(self) -> None:
        self.pressed = False
        self._saved: Any = None

    def __enter__(self) -> "_CtrlC":
        import signal
        import threading

        if threading.current_thread() is threading.main_thread():
            try:
                self._saved = signal.signal(signal.SIGINT, self._handler)
            except (ValueError, OSError):
                self._saved = None
        return self

    def _handler(self, signum: int, frame: Any) -> None:
        self.pressed = True

    def __exit__(self, *exc: Any) -> None:
        import signal

        if self._saved is not None:
            signal.signal(signal.SIGINT, self._saved)


def _wait_file(path: str, pid: int, timeout: float, ctrl_c: Optional[_CtrlC] = None) -> Optional[Dict[str, Any]]:
    """The JSON in ``path`` once it appears; None after ``timeout`` s, when ``pid`` ended or at
    Ctrl-C (``ctrl_c.pressed``)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        except FileNotFoundError:
            fd = None
        if fd is not None:
            with os.fdopen(fd, encoding="utf-8") as f:
                return json.load(f)
        if not _alive(pid) or time.monotonic() > deadline or (ctrl_c is not None and ctrl_c.pressed):
            return None
        time.sleep(0.02)


def attach(pid: int, output: str, *, duration: Optional[float] = None, subs: Sequence[str] = (),
           start_timeout: float = 10.0, say: Callable[[str], None] = lambda s: None) -> Dict[str, Any]:
    """Records pid ``pid`` into the streamed ``.fpt`` file ``output`` for ``duration`` seconds (None:
    until Ctrl-C); returns what the target reported: ``start_ns`` / ``stop_ns`` (the target's
    ``time.monotonic_ns()`` just before and just after the start and the stop), ``calls``,
    ``injected``. Raises AttachError."""
    check_target(pid)
    from ._core import __version__

    output = os.path.abspath(output)
    folder = tempfile.mkdtemp(prefix="fprofile-attach-")  # 0700, ours, new
    keep_folder = False
    ctrl_c = _CtrlC()
    try:
        ctrl_c.__enter__()
        args = (folder, output, ",".join(subs), __version__, _site_dir(), _tag(), os.getpid())
        script = _SCRIPT.format(args=repr(args))
        dfd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        try:
            os.close(create_file(dfd, "attach.py", script.encode("utf-8")))
        finally:
            os.close(dfd)
        try:
            sys.remote_exec(pid, os.path.join(folder, "attach.py"))  # type: ignore[attr-defined]
        except PermissionError as e:
            raise AttachError(f"cannot attach to pid {pid}: {e.strerror or e} (ptrace was refused: "
                              f"kernel.yama.ptrace_scope, a container without CAP_SYS_PTRACE); {INSTEAD}") from None
        except (OSError, RuntimeError, ValueError) as e:
            msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            if "not enabled" in msg.lower() or "disable" in msg.lower():
                raise AttachError(f"pid {pid} has remote debugging disabled ({msg}): restart it without "
                                  f"PYTHON_DISABLE_REMOTE_DEBUG / -X disable_remote_debug, or {INSTEAD}") from None
            raise AttachError(f"cannot attach to pid {pid}: {msg}") from None
        status = _wait_file(os.path.join(folder, "status"), pid, start_timeout, ctrl_c)
        if status is None and ctrl_c.pressed:
            # a start still to come finds `cancel`; one under way sees this process gone and stops
            _touch(folder, "cancel")
            _touch(folder, "stop")  # (a start that raced with the cancel stops at once)
            keep_folder = _alive(pid)
            raise AttachError(f"interrupted before pid {pid} started recording: nothing was recorded")
        if status is None:
            _touch(folder, "cancel")
            _touch(folder, "stop")  # (a start that raced with the cancel stops at once)
            keep_folder = _alive(pid)  # the script may still run late: it finds `cancel`, removes the folder
            if not keep_folder:
                raise AttachError(f"pid {pid} ended before it ran the recording's start")
            raise AttachError(
                f"pid {pid} did not run the injected script within {start_timeout:g} s: it runs when the program next "
                f"runs Python code, and a program blocked in C (a sleep, a read, a long native call) runs it only "
                f"when that call returns; nothing was recorded")
        if status.get("state") != "started":
            raise AttachError(f"pid {pid}: {status.get('message', 'the recording did not start')}")
        say(f"fprofile: recording pid {pid} (Python {status.get('python')}) into {output}"
            + (f" for {duration:g} s" if duration is not None else " until Ctrl-C")
            + (" (fprofile-jupyter from this installation)" if status.get("injected") else ""))
        deadline = None if duration is None else time.monotonic() + duration
        while _alive(pid) and not ctrl_c.pressed and (deadline is None or time.monotonic() < deadline):
            time.sleep(0.05 if deadline is None else max(0.0, min(0.05, deadline - time.monotonic())))
        interrupted = ctrl_c.pressed
        if not _alive(pid):
            raise AttachError(f"pid {pid} ended while recording: {output} keeps what was recorded")
        _touch(folder, "stop")
        done = _wait_file(os.path.join(folder, "done"), pid, 60.0)
        if done is None:
            raise AttachError(f"pid {pid} did not confirm the stop ({'ended' if not _alive(pid) else 'no answer in 60 s'}): "
                              f"{output} keeps what was recorded")
        if done.get("state") != "stopped":
            raise AttachError(f"pid {pid}: {done.get('message', 'the recording did not stop cleanly')}")
        result = dict(status)
        result.update(done)
        result["interrupted"] = interrupted
        return result
    finally:
        ctrl_c.__exit__()
        if not keep_folder:
            shutil.rmtree(folder, ignore_errors=True)


def _touch(folder: str, name: str) -> None:
    dfd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        os.close(create_file(dfd, name, b""))
    except FileExistsError:
        pass
    finally:
        os.close(dfd)
