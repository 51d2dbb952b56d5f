"""``fprofile run``: profile a Python program as ``python script.py`` (or ``python -m module``) runs
it, and write its trace whatever happens to it: an exception, Ctrl-C (twice), SIGTERM, a program
that drops its stdout. The program's own exit status is kept."""
from __future__ import annotations

import argparse
import os
import sys
import threading
from typing import List, Optional, Sequence, Tuple

from .. import _core
from .._io import REPLACING, SAVE_ENDINGS, replaces
from .._options import is_stream_path, parse_keep_last
from .._progress import flush_quietly, say
from .._session import OutfileError, TraceFile
from .._stopping import held_sigint
from .common import PROG, Parser, UsageError, error_message, exit_code, save, unknown_option
from .run_signals import (LiveWindow, Terminated, catch_sigterm, die_of, restore_signal, restore_sigterm, start_live_view,
                          wait_live_view, window_on_sigusr1)

_RUN_VALUE_OPTS = {"--subs", "-o", "--output", "--max-events", "--keep-last", "--last"}
#: Every option of ``run`` (an option after the script belongs to the program).
_RUN_OPTIONS = _RUN_VALUE_OPTS | {"--builtins", "--no-processes", "--live", "-h", "--help", "-m"}


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
            if a.split("=", 1)[0] not in _RUN_OPTIONS:
                raise UsageError(f"{unknown_option(a, _RUN_OPTIONS)} (see 'fprofile run --help')")
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
    # (the package's folder, this command's parent)
    pkg_dir = os.path.normcase(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))) + os.sep
    tb = exc.__traceback__
    while tb is not None:
        fn = os.path.normcase(os.path.abspath(tb.tb_frame.f_code.co_filename))
        if fn in skip or fn.startswith(pkg_dir) or tb.tb_frame.f_code.co_filename.startswith("<frozen runpy"):
            tb = tb.tb_next
            continue
        break
    exc.__traceback__ = tb


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
        say(f"fprofile: warning: {_warning_text(w.message)}")


def _warning_text(warning) -> str:
    """A profiler warning in this command's words: the options are ``--max-events`` and ``--subs``
    here (the warning's ``kind`` and ``stats`` are set by ``fprofile_jupyter._session``)."""
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
    parser = Parser(
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
        "library excluded. +NAME adds to the default: --subs +urllib records the script and urllib.",
    )
    parser.add_argument("--builtins", action="store_true", help="also record calls of C functions (time.sleep, numpy, ...) made from recorded code")
    parser.add_argument("--max-events", type=int, metavar="N", help="stop recording after N events (default: the profiler's cap; "
                        "an .fpt output is streamed to disk while the program runs and has no cap, unless this is given)")
    parser.add_argument("--keep-last", metavar="WINDOW", help="flight recorder: keep only the last WINDOW (30s, 500ms, 2m, or a "
                        "number of events) in memory; `kill -USR1 <pid>` writes that window to the output file while the program "
                        "runs, and the last window is written at exit (this process only; no --max-events)")
    parser.add_argument("--no-processes", action="store_true", help="record this program's process only, not the Python processes it "
                        "starts (fork, multiprocessing, ProcessPoolExecutor, subprocess of Python), which are followed by default")
    parser.add_argument("-o", "--output", metavar="OUT", help="trace file to write, format from the extension: .fpt, .json (PYME), "
                        ".perfetto.json, .speedscope.json, .txt (PYME raw), .html (default: <script stem>.fpt)")
    parser.add_argument("--live", action="store_true", help="open the viewer at once on the trace as it is written (an .fpt "
                        "output, streamed): the timeline grows while the program runs; after the program ends the "
                        "view stays open until Ctrl-C")
    parser.add_argument("--last", type=float, metavar="S", help="with --live: keep the view on the last S seconds of the run")
    parser.add_argument("-m", dest="module", metavar="MODULE", help="run a library module as a script (python -m MODULE)")
    parser.add_argument("script", nargs="?", help="the script to run")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="arguments of the program")

    ours, module, script, prog_args = _split_run_argv(argv)
    opts = parser.parse_args(ours)  # handles --help and checks our own options
    if module is None and script is None:
        # `fprofile run --subs app.py`: the option took the script as its value
        for opt, value in zip(ours, ours[1:]):
            if opt in _RUN_VALUE_OPTS and (value.endswith(".py") or os.path.isfile(value)):
                raise UsageError(f"{opt} took {value!r} as its value and no script is left to run: give {opt} "
                                 f"its value first (fprofile run {opt} VALUE {value} ...)")
        raise UsageError("a script or -m MODULE is required (see 'fprofile run --help')")
    for a in prog_args:  # `fprofile run app.py --subs x`: passed to the program, as python would
        if a == "--":
            break
        if a.split("=", 1)[0] in _RUN_OPTIONS - {"-h", "-m"}:
            say(f"fprofile: note: {a.split('=', 1)[0]} after the script is passed to the program; put fprofile's "
                 "options before the script to use them")
            break
    if opts.max_events is not None and opts.max_events <= 0:
        raise UsageError("--max-events must be a positive number")

    import runpy

    from .._recording import profile
    from .._subs import default_filter, resolve_subs, split_subs

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
        subs = resolve_subs(split_subs(opts.subs), main_file) if opts.subs else default_filter(main_file)
    except ValueError as e:
        raise UsageError(str(e)) from None

    keep_last = None
    if opts.keep_last is not None:
        if opts.max_events is not None:
            raise UsageError("--keep-last and --max-events cannot be given together (the flight recorder has no cap)")
        value = opts.keep_last.strip()
        try:
            parse_keep_last(int(value) if value.isdigit() else value)
        except (TypeError, ValueError) as e:
            raise UsageError(f"--keep-last {opts.keep_last}: {e}") from None
        keep_last = int(value) if value.isdigit() else value
    kwargs = {"subs": subs, "builtins": opts.builtins, "processes": not opts.no_processes and keep_last is None}
    if keep_last is not None:
        kwargs["keep_last"] = keep_last
    if opts.max_events is not None:
        kwargs["max_events"] = opts.max_events
    # an .fpt output is streamed while the program runs (a killed run leaves a loadable file;
    # no event cap applies): unless --max-events asks for a cap, which a recording in memory has
    streamed = is_stream_path(out_abs) and opts.max_events is None and keep_last is None
    if streamed:
        kwargs["outfile"] = out_abs
    if opts.last is not None and not opts.live:
        raise UsageError("--last is for the live view: pass --live too")
    if opts.last is not None and not opts.last > 0:
        raise UsageError(f"--last must be a positive number of seconds, not {opts.last:g}")
    if opts.live and not streamed and not (keep_last is not None and is_stream_path(out_abs)):
        why = ("--max-events records in memory" if opts.max_events is not None else f"-o {out} is not an .fpt file")
        raise UsageError(f"--live follows the .fpt file written while the program runs, and {why}: "
                         "record to an .fpt output without --max-events")

    replacing = replaces(out_abs)
    exc: Optional[BaseException] = None
    saved_argv, saved_path0 = sys.argv[:], sys.path[0] if sys.path else None
    prof = profile(**kwargs)
    # named in the trace as the program it runs, not as `python .../fprofile run ...`: its file
    # name and arguments, as its Python children are named (rust/core/src/process.rs)
    prof.process_name = _quote_args([f"-m {module}" if module is not None else os.path.basename(script) or script]
                                    + list(prog_args))
    prof.say_replacing = False  # said on the last line instead
    prof.__enter__()
    window_writer = LiveWindow(prof, out_abs) if opts.live and keep_last is not None else None
    viewer = start_live_view(out_abs, opts.last, rewritten=window_writer is not None) if opts.live else None
    saved_sigterm = catch_sigterm()
    saved_usr1, saved_exit = window_on_sigusr1(prof, out, out_abs) if keep_last is not None else (None, None)
    held: Optional[held_sigint] = None
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
            if not isinstance(exc, (KeyboardInterrupt, Terminated)):
                _join_threads()
        except (KeyboardInterrupt, Terminated) as e:  # while waiting for the program's threads
            exc = e
        finally:
            # From here on the trace is being written: a second Ctrl-C must not lose it (and the
            # program has ended: it is not raised after)
            held = held_sigint(f"writing the trace recorded so far to {out}", deliver=False)
            held.__enter__()
            if window_writer is not None:
                window_writer.stop()
            _stop(prof)
        status = _finish_run(prof, exc, out, out_abs, replacing, written=streamed)
        if viewer is not None and window_writer is not None and viewer.poll() is None:
            import signal

            viewer.send_signal(signal.SIGUSR1)  # the last window is written: the view shows it as ended
        if viewer is not None:
            if held is not None:
                held.__exit__(None, None, None)
                held = None
            wait_live_view(viewer)
        return status
    finally:
        restore_sigterm(saved_sigterm)
        restore_signal("SIGUSR1", saved_usr1)
        if saved_exit is not None:
            os._exit = saved_exit
        sys.argv = saved_argv
        if saved_path0 is not None and sys.path:
            sys.path[0] = saved_path0
        if held is not None:
            held.__exit__(None, None, None)


def _finish_run(prof, exc: Optional[BaseException], out: str, out_abs: str, replacing: bool = False,
                written: bool = False) -> int:
    """After the program and the recording stopped: reports how the program ended (as Python
    would), writes the trace (unless it was streamed there while recording: ``written``), says
    where; returns the program's exit status."""
    # a streamed recording's stop rewrote the file without loading it: what it says is its outline
    trace = prof.kept_trace
    if isinstance(trace, TraceFile):
        trace = trace.outline if trace.outline is not None else trace.load()
    status = 0
    if isinstance(exc, SystemExit):
        status = exit_code(exc)
    elif isinstance(exc, KeyboardInterrupt):
        status = 130
        say("\nKeyboardInterrupt")
    elif isinstance(exc, Terminated):
        status = 128 + exc.signum
        say("fprofile: the program was terminated (SIGTERM); writing the trace recorded so far")
    elif exc is not None:
        _strip_frames(exc)
        try:
            sys.excepthook(type(exc), exc, exc.__traceback__)
        except (OSError, ValueError, AttributeError):  # the program closed or replaced stderr
            pass
        status = 1
    flush_quietly(sys.stdout)  # the program may have closed, broken or replaced it

    if trace is None:
        raise RuntimeError("the profiler returned no trace")
    kept = prof.kept_trace
    if isinstance(kept, TraceFile) and kept.path != out_abs:  # the output was removed while recording
        out, replacing = kept.path, False
    if not written:
        try:
            save(trace, out_abs)
        except OSError as e:  # (its directory was removed while the program ran, a full disk): kept elsewhere
            _save_elsewhere(trace, out_abs, e)
    _print_written(trace, out, replacing)
    if isinstance(exc, Terminated):  # end as the signal would have ended the program
        die_of(exc.signum)
    return status


def _save_elsewhere(trace, out_abs: str, problem: OSError) -> None:
    """The output could not be written: the trace goes to a new file in the temporary directory,
    and the error (exit status 1) names both."""
    import tempfile

    stem, ext = os.path.splitext(os.path.basename(out_abs))
    fd, kept = tempfile.mkstemp(prefix=f"fprofile-kept-{stem}-", suffix=ext)
    os.close(fd)
    try:
        save(trace, kept)
    except OSError as e:
        os.unlink(kept)
        raise OutfileError(f"cannot write {out_abs} ({problem.strerror or error_message(problem)}), nor a copy in the temporary directory "
                           f"({error_message(e)}): the trace is lost") from None
    raise OutfileError(f"cannot write {out_abs} ({problem.strerror or error_message(problem)}): the trace is kept in {kept}") from None


def _print_written(trace, out: str, replacing: bool = False) -> None:
    """One line on stderr: what was written (and that it replaced an earlier file) and how to view it."""
    n_threads = len(trace.threads)
    shown = f"{out}{REPLACING}" if replacing else out
    if len(trace) == 0:
        subs = _subs_text(trace.metadata.get("subs"))
        say(f"fprofile: wrote {shown}: no calls were recorded (subs: {subs}); choose the files to record with --subs")
        return
    html = _quote(os.path.splitext(out)[0] + ".html")
    say(
        f"fprofile: wrote {shown}: {len(trace):,} call{'' if len(trace) == 1 else 's'} in {n_threads} thread{'s' if n_threads != 1 else ''} "
        f"over {_core.format_duration(trace.duration_ns)}, {_matched_text(trace)}. View it: fprofile view {_quote(out)}  "
        f"(or as a page: fprofile export {_quote(out)} -o {html})"
    )


def _matched_text(trace, shown: int = 4) -> str:
    """What the subs matched: the functions and files recorded, the busiest files named."""
    rows = list(trace.summary())
    by_file: dict = {}
    for r in rows:
        by_file[r.file] = by_file.get(r.file, 0) + r.total_ns
    files = sorted(by_file, key=lambda f: -by_file[f])
    names = ", ".join(os.path.basename(f) or f for f in files[:shown])
    more = f" and {len(files) - shown} more" if len(files) > shown else ""
    return (f"{len(rows)} function{'s' if len(rows) != 1 else ''} in {len(files)} file{'s' if len(files) != 1 else ''} "
            f"({names}{more})")


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


def _quote_args(args: Sequence[str]) -> str:
    """A program and its arguments as one line (the first as it is: it may be ``-m module``)."""
    return " ".join([args[0]] + [_quote(a) for a in args[1:]]) if args else ""


def _quote(s: str) -> str:
    import shlex

    return shlex.quote(s)
