"""The ``fprofile`` command (also ``python -m fprofile_jupyter``).

Subcommands::

    fprofile run [--subs X,Y] [--builtins] [-o OUT] script.py [args...]
    fprofile run [options] -m module [args...]
    fprofile convert IN OUT [--format FMT]
    fprofile stats FILE [--thread NAME] [--top N] [--sort total|self|calls|mean|max] [--json]
    fprofile view [FILE] [--port N] [--no-browser]
    fprofile export FILE -o OUT.html

Errors are one line on stderr (``fprofile: error: ...``) with exit status 2 for a usage error and 1
for bad input; never a traceback. ``run`` keeps the exit status of the profiled program.
"""
from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from typing import List, NoReturn, Optional, Sequence, Tuple

# The output formats of ``convert`` / ``run -o`` (``--format``), the input formats
# (``--input-format``) and the file name endings ``Trace.save`` knows (checked by ``run`` before the
# program starts): all from the core's one format table (``_core.formats()``).
from ._io import LOAD_FORMATS, SAVE_ENDINGS, SAVE_FORMATS

PROG = "fprofile"

#: Work shorter than this shows no progress bar.
PROGRESS_DELAY_S = 1.0


class UsageError(Exception):
    """A command line that cannot be run as given (exit status 2)."""


def _say(text: str = "", end: str = "\n") -> None:
    """One message on stderr (or the interpreter's own stderr when the program set ``sys.stderr``
    to None). A stderr that is closed or broken (the program closed descriptor 2) loses the
    message, never the trace or the exit status."""
    stream = sys.stderr if sys.stderr is not None else sys.__stderr__
    try:
        if stream is not None:
            stream.write(text + end)
            stream.flush()
    except (OSError, ValueError, AttributeError):
        pass


def _flush_quietly(stream) -> None:
    """Flushes a stream the program may have closed, broken or replaced by None."""
    try:
        if stream is not None:
            stream.flush()
    except (OSError, ValueError, AttributeError):
        pass


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error: ``fprofile run: error: ... (see 'fprofile run --help')``."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


# --------------------------------------------------------------------------------------------------
# progress bar


class Progress:
    """A progress bar on stderr for long conversions.

    Shown only when stderr is a terminal and only once the work has taken more than a second, so
    logs and pipes never receive carriage-return garbage. ``update(done, total)`` may be called as
    often as the producer likes; it redraws at most ten times a second. ``close()`` erases it.
    """

    def __init__(self, label: str, stream=None, delay_s: Optional[float] = None) -> None:
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.delay_s = PROGRESS_DELAY_S if delay_s is None else delay_s
        self.start_s = time.monotonic()
        self.last_draw_s = 0.0
        self.drawn = False
        try:
            self.enabled = bool(self.stream.isatty())
        except (AttributeError, ValueError):
            self.enabled = False

    def update(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.start_s < self.delay_s or now - self.last_draw_s < 0.1:
            return
        self.last_draw_s = now
        frac = min(1.0, done / total) if total > 0 else 0.0
        width = 30
        filled = int(frac * width)
        bar = "#" * filled + "-" * (width - filled)
        self.stream.write(f"\r{self.label} [{bar}] {frac * 100:5.1f}%")
        self.stream.flush()
        self.drawn = True

    def close(self) -> None:
        if self.drawn:
            self.stream.write("\r" + " " * (len(self.label) + 42) + "\r")
            self.stream.flush()
            self.drawn = False


def _load(path: str, format: Optional[str] = None):
    """Loads a trace, with a progress bar on a terminal when parsing takes more than a second."""
    from . import _core

    from ._io import load_warnings

    bar = Progress(f"loading {os.path.basename(path)}")
    try:
        if bar.enabled:
            trace = _core.load(path, format, progress=bar.update)
        else:
            trace = _core.load(path, format)
    finally:
        bar.close()
    for w in load_warnings(trace):
        _say(f"fprofile: warning: {path}: {w}")
    return trace


def _save(trace, path: str, format: Optional[str] = None, title: Optional[str] = None) -> None:
    """Saves a trace; on a terminal, says "writing ..." when it takes more than a second (the
    writers report no progress, and the GIL is released while they run)."""
    bar = Progress(f"writing {os.path.basename(path)}")
    if not bar.enabled:
        trace.save(path, format, title=title)
        return
    done = threading.Event()

    def notice() -> None:
        if not done.wait(bar.delay_s):
            bar.stream.write(f"\r{bar.label} ...")
            bar.stream.flush()
            bar.drawn = True

    t = threading.Thread(target=notice, daemon=True)
    t.start()
    try:
        trace.save(path, format, title=title)
    finally:
        done.set()
        t.join()
        bar.close()


# --------------------------------------------------------------------------------------------------
# run


_RUN_VALUE_OPTS = {"--subs", "-o", "--output", "--max-events"}


def _split_run_argv(argv: Sequence[str]) -> Tuple[List[str], Optional[str], Optional[str], List[str]]:
    """Splits ``run``'s arguments into (fprofile options, module, script, program args).

    Everything after the script path (or after ``-m MODULE``) belongs to the program, options
    included, as with ``python``.
    """
    ours: List[str] = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--":
            i += 1
            if i < len(argv):
                return ours, None, argv[i], list(argv[i + 1 :])
            return ours, None, None, []
        if a == "-m":
            if i + 1 >= len(argv):
                raise UsageError("-m needs a module name (see 'fprofile run --help')")
            return ours, argv[i + 1], None, list(argv[i + 2 :])
        if a.startswith("-m") and not a.startswith("--") and len(a) > 2:
            return ours, a[2:], None, list(argv[i + 1 :])
        if a.startswith("-") and a != "-":
            ours.append(a)
            if a in _RUN_VALUE_OPTS:
                if i + 1 >= len(argv):
                    raise UsageError(f"argument {a}: expected one argument (see 'fprofile run --help')")
                ours.append(argv[i + 1])
                i += 1
            i += 1
            continue
        return ours, None, a, list(argv[i + 1 :])
    return ours, None, None, []


def _module_file(module: str) -> str:
    """The file ``python -m module`` runs (a package's ``__main__.py``), found without importing
    anything (so the package's ``__init__`` runs under the profiler, as part of the program)."""
    from importlib.machinery import PathFinder

    path: Optional[List[str]] = [os.getcwd()] + sys.path[1:]  # `python -m` puts the working directory first
    spec = None
    parts = module.split(".")
    for k in range(len(parts)):
        name = ".".join(parts[: k + 1])
        spec = PathFinder.find_spec(name, path)
        if spec is None:
            raise ModuleNotFoundError(f"No module named {module!r}")
        path = list(spec.submodule_search_locations or [])
        if k + 1 < len(parts) and not path:
            raise ModuleNotFoundError(f"No module named {module!r} ({name!r} is not a package)")
    assert spec is not None
    if spec.submodule_search_locations:  # a package: its __main__
        main = PathFinder.find_spec(module + ".__main__", list(spec.submodule_search_locations))
        if main is None or not main.origin:
            raise ModuleNotFoundError(f"No module named {module + '.__main__'!r}; {module!r} is a package and cannot be directly executed")
        spec = main
    if not spec.origin or not os.path.isabs(spec.origin):
        raise ModuleNotFoundError(f"module {module!r} has no source file (built in or frozen); pass --subs")
    return spec.origin


def _join_threads() -> None:
    """Waits for non-daemon threads, as the interpreter does at exit."""
    main = threading.main_thread()
    for t in threading.enumerate():
        if t is not main and t is not threading.current_thread() and not t.daemon:
            t.join()


def _strip_frames(exc: BaseException) -> None:
    """Drops the leading traceback frames of fprofile and runpy, so the program's traceback reads
    as ``python script.py`` prints it."""
    import runpy

    skip = {os.path.normcase(os.path.abspath(f)) for f in (__file__, runpy.__file__)}
    pkg_dir = os.path.normcase(os.path.dirname(os.path.abspath(__file__))) + os.sep
    tb = exc.__traceback__
    while tb is not None:
        fn = os.path.normcase(os.path.abspath(tb.tb_frame.f_code.co_filename))
        if fn in skip or fn.startswith(pkg_dir) or tb.tb_frame.f_code.co_filename.startswith("<frozen runpy"):
            tb = tb.tb_next
            continue
        break
    exc.__traceback__ = tb


def _exit_code(e: SystemExit) -> int:
    code = e.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    _say(str(code))
    return 1


def _run_script(path: str) -> None:
    """Runs a script file as ``python path`` does: compiled with its absolute path (``__file__``,
    ``co_filename``), executed as a fresh ``__main__`` module, ``sys.argv`` left as given."""
    import builtins
    import io
    import types

    with io.open_code(path) as f:
        source = f.read()
    main = types.ModuleType("__main__")
    main.__dict__.update(__file__=path, __builtins__=builtins, __loader__=None, __spec__=None,
                         __cached__=None, __package__=None)
    saved = sys.modules.get("__main__")
    sys.modules["__main__"] = main
    try:
        code = compile(source, path, "exec", dont_inherit=True)
        exec(code, main.__dict__)
    finally:
        if saved is not None:
            sys.modules["__main__"] = saved


def _stop(prof) -> None:
    """Stops ``prof``; the profiler's warnings (the event cap was reached, ...) become one
    ``fprofile: warning: ...`` line each instead of a warning pointing into fprofile's code."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        prof.__exit__(None, None, None)
    for w in caught:
        _say(f"fprofile: warning: {_warning_text(w.message)}")


def _warning_text(warning) -> str:
    """A profiler warning in this command's words: the options are ``--max-events`` and ``--subs``
    here (the warning's ``kind`` and ``stats`` are set by ``fprofile_jupyter._recording``)."""
    kind = getattr(warning, "kind", None)
    stats = getattr(warning, "stats", None)
    if kind == "cap_reached" and stats is not None and stats.cap_reached is not None:
        return (f"the event cap was reached ({stats.cap_reached:,} events, a call is two): recording stopped early; "
                "the trace keeps everything recorded until then. Pass a larger --max-events to record more, "
                "or narrow --subs.")
    if kind == "out_of_memory" and stats is not None:
        return (f"memory for the event buffers could not be allocated: recording stopped early, after "
                f"{stats.events} events (the trace keeps them); pass a smaller --max-events or narrow --subs")
    text = " ".join(str(warning).split())
    return text[len("fprofile: "):] if text.startswith("fprofile: ") else text


def cmd_run(argv: Sequence[str]) -> int:
    parser = _Parser(
        prog=f"{PROG} run",
        description=(
            "Profile a Python program as `python script.py [args...]` (or `python -m module`) runs it: "
            "every call of its own functions (files under the script's directory, or the module's "
            "package, unless --subs says otherwise), in every thread. The trace is written even if "
            "the program raises, is interrupted (Ctrl-C) or is terminated (SIGTERM); the program's exit status is kept."
        ),
        epilog="Everything after the script path (or after -m MODULE) is passed to the program.",
    )
    parser.add_argument(
        "--subs",
        action="append",
        metavar="X,Y",
        help="record calls whose file path contains any of these strings (comma separated; repeatable). "
        "Default: the script's directory (the module's, for -m), installed packages and the standard "
        "library excluded.",
    )
    parser.add_argument("--builtins", action="store_true", help="also record calls of C functions (time.sleep, numpy, ...) made from recorded code")
    parser.add_argument("--max-events", type=int, metavar="N", help="stop recording after N events (default: the profiler's cap)")
    parser.add_argument("-o", "--output", metavar="OUT", help="trace file to write, format from the extension: .fpt, .json (PYME), "
                        ".perfetto.json, .speedscope.json, .txt (PYME raw), .html (default: <script stem>.fpt)")
    parser.add_argument("-m", dest="module", metavar="MODULE", help="run a library module as a script (python -m MODULE)")
    parser.add_argument("script", nargs="?", help="the script to run")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="arguments of the program")

    ours, module, script, prog_args = _split_run_argv(argv)
    opts = parser.parse_args(ours)  # handles --help and checks our own options
    if module is None and script is None:
        raise UsageError("a script or -m MODULE is required (see 'fprofile run --help')")
    if opts.max_events is not None and opts.max_events <= 0:
        raise UsageError("--max-events must be a positive number")

    import runpy

    from ._recording import default_filter, profile, split_subs

    if module is not None:
        stem = module.rsplit(".", 1)[-1]
        main_file = _module_file(module)
    else:
        assert script is not None
        if not os.path.exists(script):
            raise FileNotFoundError(2, "can't open file: No such file or directory", script)
        if os.path.isdir(script):  # a directory with a __main__.py, as python runs it
            if not any(os.path.isfile(os.path.join(script, m)) for m in ("__main__.py", "__main__.pyc")):
                raise FileNotFoundError(2, "can't find '__main__' module in this directory (a directory runs "
                                        "as a program only if it holds a __main__.py)", script)
            stem = os.path.basename(os.path.abspath(script)) or "trace"
            main_file = os.path.join(os.path.abspath(script), "__main__.py")
        else:
            stem = os.path.splitext(os.path.basename(script))[0] or "trace"
            main_file = os.path.abspath(script)
    out = opts.output or f"{stem}.fpt"
    out_abs = os.path.abspath(out)  # the program may change directory
    out_dir = os.path.dirname(out_abs)
    # checked before the program runs, so that its trace is never lost to a bad -o
    if not out.lower().endswith(SAVE_ENDINGS):
        raise UsageError(f"-o {out}: cannot tell the format from the file name (use one of {', '.join(SAVE_ENDINGS)})")
    if not os.path.isdir(out_dir):
        raise FileNotFoundError(2, "output directory does not exist", out_dir)
    if not os.access(out_dir, os.W_OK):
        raise PermissionError(13, "output directory is not writable", out_dir)
    try:
        # no --subs: the default of `python main_file` (its directory, libraries excluded; a module
        # that is itself a library, `-m json.tool`, records its own package)
        subs = split_subs(opts.subs) if opts.subs else default_filter(main_file)
    except ValueError as e:
        raise UsageError(str(e)) from None

    kwargs = {"subs": subs, "builtins": opts.builtins}
    if opts.max_events is not None:
        kwargs["max_events"] = opts.max_events

    exc: Optional[BaseException] = None
    saved_argv, saved_path0 = sys.argv[:], sys.path[0] if sys.path else None
    prof = profile(**kwargs)
    prof.__enter__()
    saved_sigterm = _catch_sigterm()
    held: Optional[_HeldSigint] = None
    try:
        try:
            try:
                if module is not None:
                    sys.argv = [module] + prog_args
                    if sys.path:
                        sys.path[0] = os.getcwd()
                    runpy.run_module(module, run_name="__main__", alter_sys=True)
                else:
                    assert script is not None
                    sys.argv = [script] + prog_args
                    script_dir = os.path.abspath(script) if os.path.isdir(script) else os.path.dirname(os.path.abspath(script))
                    if sys.path:
                        sys.path[0] = script_dir
                    else:
                        sys.path.insert(0, script_dir)
                    if os.path.isdir(script):
                        runpy.run_path(os.path.abspath(script), run_name="__main__")
                    else:
                        _run_script(main_file)
            except BaseException as e:  # the program's own exception: reported below, as Python would
                exc = e
            if not isinstance(exc, (KeyboardInterrupt, _Terminated)):
                _join_threads()
        except (KeyboardInterrupt, _Terminated) as e:  # while waiting for the program's threads
            exc = e
        finally:
            # From here on the trace is being written: a second Ctrl-C must not lose it.
            held = _HeldSigint(out)
            _stop(prof)
        return _finish_run(prof, exc, out, out_abs)
    finally:
        _restore_sigterm(saved_sigterm)
        sys.argv = saved_argv
        if saved_path0 is not None and sys.path:
            sys.path[0] = saved_path0
        if held is not None:
            held.release()


class _HeldSigint:
    """While the trace is stopped and written, Ctrl-C (SIGINT) does not interrupt: the first one
    says the trace is being written, later ones are ignored; the earlier handler comes back after."""

    def __init__(self, out: str) -> None:
        import signal

        self.saved = None
        self.told = False
        self.out = out
        if threading.current_thread() is not threading.main_thread():
            return
        try:
            self.saved = signal.getsignal(signal.SIGINT)
            signal.signal(signal.SIGINT, self._handler)
        except (ValueError, OSError, AttributeError):
            self.saved = None

    def _handler(self, signum, frame) -> None:
        if not self.told:
            self.told = True
            _say(f"\nfprofile: writing the trace recorded so far to {self.out}; it will be complete in a moment "
                 "(Ctrl-C is held until then)")

    def release(self) -> None:
        import signal

        if self.saved is not None:
            try:
                signal.signal(signal.SIGINT, self.saved)
            except (ValueError, OSError, TypeError):
                pass
            self.saved = None


def _finish_run(prof, exc: Optional[BaseException], out: str, out_abs: str) -> int:
    """After the program and the recording stopped: reports how the program ended (as Python
    would), writes the trace, says where; returns the program's exit status."""
    trace = prof.trace
    status = 0
    if isinstance(exc, SystemExit):
        status = _exit_code(exc)
    elif isinstance(exc, KeyboardInterrupt):
        status = 130
        _say("\nKeyboardInterrupt")
    elif isinstance(exc, _Terminated):
        status = 128 + exc.signum
        _say("fprofile: the program was terminated (SIGTERM); writing the trace recorded so far")
    elif exc is not None:
        _strip_frames(exc)
        try:
            sys.excepthook(type(exc), exc, exc.__traceback__)
        except (OSError, ValueError, AttributeError):  # the program closed or replaced stderr
            pass
        status = 1
    _flush_quietly(sys.stdout)  # the program may have closed, broken or replaced it

    if trace is None:
        raise RuntimeError("the profiler returned no trace")
    _save(trace, out_abs)
    _print_written(trace, out)
    if isinstance(exc, _Terminated):  # end as the signal would have ended the program
        _die_of(exc.signum)
    return status


class _Terminated(BaseException):
    """Raised in the main thread by SIGTERM during ``fprofile run`` (as SIGINT raises
    KeyboardInterrupt), so that the trace is still written."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _catch_sigterm():
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
            raise _Terminated(signum)

        signal.signal(signal.SIGTERM, handler)
    except (ValueError, OSError, AttributeError):
        return None
    return signal.SIG_DFL


def _restore_sigterm(saved) -> None:
    import signal

    if saved is not None:
        try:
            signal.signal(signal.SIGTERM, saved)
        except (ValueError, OSError):
            pass


def _die_of(signum: int) -> None:
    import signal

    _flush_quietly(sys.stdout)
    _flush_quietly(sys.stderr)
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _print_written(trace, out: str) -> None:
    """One line on stderr: what was written and how to view it."""
    from . import _core

    n_threads = len(trace.threads)
    if len(trace) == 0:
        subs = _subs_text(trace.metadata.get("subs"))
        _say(f"fprofile: wrote {out}: no calls were recorded (subs: {subs}); choose the files to record with --subs")
        return
    html = _quote(os.path.splitext(out)[0] + ".html")
    _say(
        f"fprofile: wrote {out}: {len(trace):,} call{'' if len(trace) == 1 else 's'} in {n_threads} thread{'s' if n_threads != 1 else ''} "
        f"over {_core.format_duration(trace.duration_ns)}. View it: fprofile view {_quote(out)}  "
        f"(or as a page: fprofile export {_quote(out)} -o {html})"
    )


def _subs_text(subs: Optional[str]) -> str:
    """The metadata's ``subs`` (a JSON list) as comma-separated text; "?" when absent."""
    import json

    if subs is None:
        return "?"
    try:
        items = json.loads(subs)
    except ValueError:
        return subs  # a trace written before subs was JSON
    if isinstance(items, list):
        return ", ".join(str(x) for x in items) or "(none)"
    return subs


def _quote(s: str) -> str:
    import shlex

    return shlex.quote(s)


# --------------------------------------------------------------------------------------------------
# convert / export / stats / view


def cmd_convert(argv: Sequence[str]) -> int:
    parser = _Parser(
        prog=f"{PROG} convert",
        description=(
            "Convert a trace between formats. IN may be an .fpt file, a PYME raw text file or a PYME JSON "
            "file (detected from the content). The output format is chosen by OUT's extension "
            "(.fpt, .json = PYME JSON, .perfetto.json / .trace.json = Perfetto, .speedscope.json, "
            ".txt = PYME raw text, .html = self-contained page) or by --format."
        ),
    )
    parser.add_argument("input", metavar="IN")
    parser.add_argument("output", metavar="OUT")
    parser.add_argument("--format", choices=SAVE_FORMATS, help="output format (default: from OUT's extension)")
    parser.add_argument("--input-format", choices=LOAD_FORMATS, help="input format (default: detected)")
    opts = parser.parse_args(argv)
    trace = _load(opts.input, opts.input_format)
    _save(trace, opts.output, opts.format)
    _say(f"fprofile: wrote {opts.output} ({len(trace):,} calls)")
    return 0


def cmd_export(argv: Sequence[str]) -> int:
    parser = _Parser(
        prog=f"{PROG} export",
        description="Write a trace as one self-contained HTML page (the timeline and the summary; opens offline).",
    )
    parser.add_argument("input", metavar="FILE")
    parser.add_argument("-o", "--output", metavar="OUT.html", help="page to write (default: FILE with .html)")
    parser.add_argument("--title", help="title of the page (default: the output file's name)")
    opts = parser.parse_args(argv)
    out = opts.output or os.path.splitext(opts.input)[0] + ".html"
    if os.path.abspath(out) == os.path.abspath(opts.input):
        raise UsageError("the output would overwrite the input; pass -o OUT.html")
    trace = _load(opts.input)
    _save(trace, out, "html", title=opts.title)
    _say(f"fprofile: wrote {out}")
    return 0


def cmd_stats(argv: Sequence[str]) -> int:
    parser = _Parser(
        prog=f"{PROG} stats",
        description="Print the per-function summary of a trace: calls, total, self, mean and max time.",
    )
    parser.add_argument("input", metavar="FILE")
    parser.add_argument("--thread", metavar="NAME", help="only this thread (its name, or its index in the trace)")
    parser.add_argument("--top", type=int, default=30, metavar="N", help="show the first N rows (default 30; 0 = all)")
    parser.add_argument("--sort", choices=("total", "self", "calls", "mean", "max"), default="total", help="order of the rows (default total)")
    parser.add_argument("--json", action="store_true", help="print the whole summary as JSON (overall and per thread) instead of a table")
    opts = parser.parse_args(argv)
    if opts.top < 0:
        raise UsageError("--top must be 0 or more")
    opts.top = min(opts.top, sys.maxsize)  # more rows than any trace has: all of them
    trace = _load(opts.input)
    if opts.json:
        print(trace.summary_json())
        return 0
    summary = trace.summary()
    if opts.thread is not None:
        per = summary.per_thread
        match = [s for s in per if s.thread_name == opts.thread]
        if not match and opts.thread.isdigit():
            match = [s for s in per if s.thread == int(opts.thread)]
        if not match:
            shown = [repr(s.thread_name) for s in per[:8]]
            if len(per) > 8:  # a run with many workers: a readable line, not every name
                shown.append(f"... {len(per) - 8} more; 'fprofile stats --json' lists them all")
            names = ", ".join(shown) or "none"
            raise ValueError(f"{opts.input}: no thread named {opts.thread!r} (threads: {names})")
        parts = match
    else:
        parts = [summary]
    for k, s in enumerate(parts):
        if k:
            print()
        s = s.sorted(opts.sort)
        print(s.format_table(limit=opts.top or None))
    return 0


def cmd_view(argv: Sequence[str]) -> int:
    parser = _Parser(
        prog=f"{PROG} view",
        description="Open a trace in the standalone timeline viewer (a local page on 127.0.0.1; works offline).",
    )
    parser.add_argument("input", nargs="?", metavar="FILE", help="trace to open (.fpt, PYME text or JSON); without it, pick one in the page")
    parser.add_argument("--port", type=int, metavar="N", help="port to serve on (default: a free one)")
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser (the address is printed either way)")
    opts = parser.parse_args(argv)
    if opts.port is not None and not 0 <= opts.port <= 65535:
        raise UsageError(f"--port must be between 0 and 65535, not {opts.port}")
    if opts.input is not None:
        if not os.path.exists(opts.input):
            raise FileNotFoundError(2, "No such file or directory", opts.input)
        if os.path.isdir(opts.input):
            raise IsADirectoryError(21, "Is a directory, not a trace file", opts.input)
    from . import _viewer

    return int(_viewer.serve(opts.input, opts.port, open_browser=not opts.no_browser) or 0)


COMMANDS = {
    "run": (cmd_run, "profile a Python program (script or -m module) and write its trace"),
    "convert": (cmd_convert, "convert a trace between formats (fpt, PYME JSON/text, Perfetto, speedscope, HTML)"),
    "stats": (cmd_stats, "print the per-function summary of a trace"),
    "view": (cmd_view, "open a trace in the standalone timeline viewer"),
    "export": (cmd_export, "write a trace as a self-contained HTML page"),
}


def _top_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = _Parser(
        prog=PROG,
        description="fprofile-jupyter: every call of the functions you care about, in every thread, on a zoomable timeline.",
        epilog="Run 'fprofile COMMAND --help' for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"fprofile-jupyter {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_fn, help_text) in COMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def _error_message(e: BaseException) -> str:
    if isinstance(e, OSError) and e.filename is not None:
        what = e.strerror or str(e)
        return f"{e.filename}: {what}"
    msg = str(e).strip() or type(e).__name__
    return msg.splitlines()[0] if msg else msg


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the ``fprofile`` console script; returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        if not args or args[0] in ("-h", "--help", "--version"):
            parser = _top_parser()
            if not args:
                parser.print_help(sys.stderr)
                return 2
            parser.parse_args(args)
            return 0
        name, rest = args[0], args[1:]
        if name not in COMMANDS:
            raise UsageError(f"unknown command {name!r} (choose from {', '.join(COMMANDS)}; see 'fprofile --help')")
        return COMMANDS[name][0](rest)
    except UsageError as e:
        _say(f"{PROG}: error: {e}")
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `fprofile stats x.fpt | head`: the reader left; stop quietly
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())  # so the interpreter's final flush does not complain
        except (OSError, ValueError):
            pass
        return 141
    except SystemExit as e:  # argparse --help / --version
        return _exit_code(e)
    except (ValueError, OSError, RuntimeError, ImportError, LookupError) as e:
        # FormatError is a ValueError, ProfilerError a RuntimeError.
        _say(f"{PROG}: error: {_error_message(e)}")
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
