"""What ``fprofile run`` sets up around the program it runs, and puts back after: SIGTERM ends the
program through the path that writes its trace (:class:`Terminated`), SIGUSR1 and ``os._exit``
write the flight recorder's window (``--keep-last``), the live view runs in a process of its own
(``--live``), and the window is rewritten for it while the program runs (:class:`LiveWindow`)."""
from __future__ import annotations

import os
import sys
import threading
from typing import Optional

from .._progress import flush_quietly, say
from .common import save


class LiveWindow:
    """``fprofile run --keep-last 60s --live``: the flight recorder's window written to the output
    (a temporary file renamed over it: the viewer never reads half a file) now, then about every
    :attr:`INTERVAL_S` seconds (stretched to three times a write's time) from a daemon thread,
    until :meth:`stop`. The viewer follows the file (``--rewritten``)."""

    INTERVAL_S = 1.0

    def __init__(self, prof, out_abs: str) -> None:
        self.prof = prof
        self.out_abs = out_abs
        self._stop = threading.Event()
        self.write()  # before the viewer starts: it never shows an earlier run's file
        self._thread = threading.Thread(target=self._run, name="fprofile-live-window", daemon=True)
        self._thread.start()

    def write(self) -> None:
        tmp = f"{self.out_abs}.{os.getpid()}.live.tmp"
        try:
            self.prof.snapshot().save(tmp, "fpt")
            os.replace(tmp, self.out_abs)
        except Exception:  # (the recording stopping meanwhile, a full disk): the next one, or the end's
            try:
                os.unlink(tmp)
            except OSError:
                pass

    def _run(self) -> None:
        import time

        while not self._stop.is_set():
            started = time.monotonic()
            self.write()
            self._stop.wait(max(self.INTERVAL_S, 3 * (time.monotonic() - started)))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def start_live_view(out_abs: str, last_s: Optional[float], rewritten: bool = False):
    """``fprofile view --live OUT`` in a process of its own (not a recorded child: started without
    the recording's session variable), printing its address; None (said) when it cannot start."""
    import subprocess

    from .._processes import ENV

    env = {k: v for k, v in os.environ.items() if k != ENV}
    args = [sys.executable, "-m", "fprofile_jupyter", "view", out_abs, "--live"] + (["--rewritten"] if rewritten else [])
    if last_s is not None:
        args += ["--last", repr(last_s)]
    try:
        return subprocess.Popen(args, env=env, stdin=subprocess.DEVNULL)
    except OSError as e:
        say(f"fprofile: the live view could not start ({e}); the trace is still written")
        return None


def wait_live_view(viewer) -> None:
    """After the run: the live view stays open until Ctrl-C (or until it ends)."""
    import signal
    import subprocess

    if viewer.poll() is None:
        say("fprofile: the live view stays open (Ctrl-C to close it)")
    try:
        viewer.wait()
    except KeyboardInterrupt:
        pass
    finally:
        if viewer.poll() is None:
            viewer.send_signal(signal.SIGINT)
            try:
                viewer.wait(10)
            except subprocess.TimeoutExpired:
                viewer.kill()
                viewer.wait()


class Terminated(BaseException):
    """Raised in the main thread by SIGTERM during ``fprofile run`` (as SIGINT raises
    KeyboardInterrupt), so that the trace is still written."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def catch_sigterm():
    """SIGTERM (``kill``, ``timeout``, a batch scheduler) ends the program through the same path
    as an exception, so its trace is written. Only where the program has not set its own
    handler (it may set one later: it then wins). Returns what to restore."""
    import signal

    if threading.current_thread() is not threading.main_thread():
        return None
    try:
        if signal.getsignal(signal.SIGTERM) != signal.SIG_DFL:
            return None

        def handler(signum, frame):
            raise Terminated(signum)

        signal.signal(signal.SIGTERM, handler)
    except (ValueError, OSError, AttributeError):
        return None
    return signal.SIG_DFL


def window_on_sigusr1(prof, out: str, out_abs: str):
    """The flight recorder of ``fprofile run --keep-last``: SIGUSR1 writes the last window to the
    output file (one line says so), and so does ``os._exit`` (which skips the end of ``run``). Says
    how, once, at the start. Returns what to restore: the SIGUSR1 handler and ``os._exit``."""
    import signal

    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGUSR1"):
        return None, None

    def handler(signum, frame):
        try:
            trace = prof.snapshot()
            save(trace, out_abs)
            say(f"fprofile: wrote the last window ({len(trace):,} calls) to {out}")
        except Exception as e:  # the program goes on: say why there is no file
            say(f"fprofile: could not write the window to {out}: {e}")

    try:
        saved = signal.signal(signal.SIGUSR1, handler)
    except (ValueError, OSError):
        return None, None
    say(f"fprofile: flight recorder on (the last {prof.keep_last_text}); `kill -USR1 {os.getpid()}` writes it to {out}, "
         "as the program's end does")
    real_exit = os._exit

    def _exit(status: int) -> None:  # the program ends with os._exit: the window first
        handler(None, None)
        real_exit(status)

    _exit.__wrapped__ = real_exit  # type: ignore[attr-defined]
    os._exit = _exit
    return saved, real_exit


def restore_signal(name: str, saved) -> None:
    import signal

    if saved is not None:
        try:
            signal.signal(getattr(signal, name), saved)
        except (ValueError, OSError, TypeError):
            pass


def restore_sigterm(saved) -> None:
    import signal

    if saved is not None:
        try:
            signal.signal(signal.SIGTERM, saved)
        except (ValueError, OSError):
            pass


def die_of(signum: int) -> None:
    import signal

    flush_quietly(sys.stdout)
    flush_quietly(sys.stderr)
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)
