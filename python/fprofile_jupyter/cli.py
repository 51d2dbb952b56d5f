"""The ``fprofile`` command (also ``python -m fprofile_jupyter``).

Subcommands::

    fprofile run [--subs X,Y] [--builtins] [-o OUT] script.py [args...]
    fprofile run [options] -m module [args...]
    fprofile convert IN OUT [--format FMT]
    fprofile stats FILE [--thread NAME] [--process PID|NAME] [--top N] [--sort total|self|calls|mean|max] [--json]
    fprofile diff A B [--top N] [--sort abs|rel|calls] [--per-call]
    fprofile view [FILE] [--port N] [--no-browser] [--live] [--last S]
    fprofile export FILE -o OUT.html|OUT.png [--title T] [--width PX]
    fprofile attach PID [--duration S] [-o OUT.fpt] [--subs X,Y]

Errors are one line on stderr (``fprofile: error: ...``) with exit status 2 for a usage error and 1
for bad input; never a traceback. ``run`` keeps the exit status of the profiled program.
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Optional, Sequence

from ._cmdline import PROG, Progress, UsageError, _load, _outline_or_load, _Parser, _save, _say  # noqa: F401 - Progress: tested here
# The output formats of ``convert`` / ``run -o`` (``--format``), the input formats
# (``--input-format``) and the file name endings ``Trace.save`` knows (checked by ``run`` before the
# program starts): all from the core's one format table (``_core.formats()``).
from ._io import LOAD_FORMATS, SAVE_ENDINGS, SAVE_FORMATS  # noqa: F401 - SAVE_ENDINGS: tested here
from ._attach import cmd_attach
from ._diff import cmd_diff
from ._run import _exit_code, cmd_run


# --------------------------------------------------------------------------------------------------
# convert / export / stats / view


def cmd_convert(argv: Sequence[str]) -> int:
    parser = _Parser(
        prog=f"{PROG} convert",
        description=(
            "Convert a trace between formats. IN may be an .fpt file, a PYME raw text file or a PYME JSON "
            "file (detected from the content), or the session directory a recording killed before its stop left "
            "(its child processes' recordings, merged). The output format is chosen by OUT's extension "
            "(.fpt, .json = PYME JSON, .perfetto.json / .trace.json = Perfetto, .speedscope.json, "
            ".txt = PYME raw text, .html = self-contained page, .png = static picture) or by --format."
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
        description=("Write a trace as one self-contained HTML page (the timeline and the summary; opens offline), "
                     "or, for OUT.png, as a static picture of the whole run (every thread as lanes, the time axis, "
                     "the caption)."),
    )
    parser.add_argument("input", metavar="FILE")
    parser.add_argument("-o", "--output", metavar="OUT.html", help="page or picture to write: .html (the default: FILE with .html) or .png")
    parser.add_argument("--title", help="title of the page or the picture's caption (default: the output file's name)")
    parser.add_argument("--width", type=int, metavar="PX", help="width of a .png picture in pixels (default 960; 320 to 4096)")
    opts = parser.parse_args(argv)
    out = opts.output or os.path.splitext(opts.input)[0] + ".html"
    if os.path.abspath(out) == os.path.abspath(opts.input):
        raise UsageError("the output would overwrite the input; pass -o OUT.html")
    picture = out.lower().endswith(".png")
    if opts.width is not None and not picture:
        raise UsageError("--width is the width of a picture: pass -o OUT.png")
    trace = _load(opts.input)
    if picture:
        _save(trace, out, "png", title=opts.title, width_px=opts.width)
    else:
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
    parser.add_argument("--process", metavar="PID", help="only this process (its pid or its name); a trace of several processes otherwise shows all threads, then each process")
    parser.add_argument("--top", type=int, default=30, metavar="N", help="show the first N rows (default 30; 0 = all)")
    parser.add_argument("--sort", choices=("total", "self", "calls", "mean", "max"), default="total", help="order of the rows (default total)")
    parser.add_argument("--json", action="store_true", help="print the whole summary as JSON (overall and per thread) instead of a table")
    opts = parser.parse_args(argv)
    if opts.top < 0:
        raise UsageError("--top must be 0 or more")
    if opts.thread is not None and opts.process is not None:
        raise UsageError("--thread and --process choose one or the other (a thread's index names it in any process)")
    opts.top = min(opts.top, sys.maxsize)  # more rows than any trace has: all of them
    trace = _outline_or_load(opts.input)  # (an .fpt: one pass, never the calls in memory)
    if opts.json:
        print(trace.summary_json())
        return 0
    summary = trace.summary()
    if opts.process is not None:
        parts = [_process_summary(trace, summary, opts.process, opts.input)]
    elif opts.thread is not None:
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
    elif len(trace.processes) > 1:
        parts = [summary, *summary.per_process]
    else:
        parts = [summary]
    for k, s in enumerate(parts):
        if k:
            print()
        s = s.sorted(opts.sort)
        print(s.format_table(limit=opts.top or None))
    return 0


def _process_summary(trace, summary, key: str, path: str):
    """The summary of the process whose pid or name is ``key``."""
    procs = trace.processes
    match = [p for p in procs if p.name == key]
    if not match and key.isdigit():
        match = [p for p in procs if p.pid == int(key)]
    if len(match) != 1:
        shown = [f"{p.pid} {p.name!r}" for p in procs[:8]]
        if len(procs) > 8:
            shown.append(f"... {len(procs) - 8} more; 'fprofile stats --json' lists them all")
        what = "more than one process" if match else "no process"
        raise ValueError(f"{path}: {what} with pid or name {key!r} (processes: {', '.join(shown) or 'none'})")
    return summary.per_process[match[0].index]


def cmd_view(argv: Sequence[str]) -> int:
    parser = _Parser(
        prog=f"{PROG} view",
        description="Open a trace in the standalone timeline viewer (a local page on 127.0.0.1; works offline).",
    )
    parser.add_argument("input", nargs="?", metavar="FILE", help="trace to open (.fpt, PYME text or JSON); without it, pick one in the page")
    parser.add_argument("--port", type=int, metavar="N", help="port to serve on (default: a free one)")
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser (the address is printed either way)")
    from . import _viewer

    _viewer.add_live_options(parser)
    opts = parser.parse_args(argv)
    if opts.port is not None and not 0 <= opts.port <= 65535:
        raise UsageError(f"--port must be between 0 and 65535, not {opts.port}")
    problem = _viewer.check_live_options(opts)
    if problem is not None:
        raise UsageError(problem)
    if opts.input is not None:
        if not os.path.exists(opts.input) and not opts.live:
            raise FileNotFoundError(2, "No such file or directory", opts.input)
        if os.path.isdir(opts.input):
            raise IsADirectoryError(21, "Is a directory, not a trace file", opts.input)
    return int(_viewer.serve(opts.input, opts.port, open_browser=not opts.no_browser, live=opts.live,
                             last_s=opts.last, rewritten=opts.rewritten) or 0)


COMMANDS = {
    "run": (cmd_run, "profile a Python program (script or -m module) and write its trace"),
    "convert": (cmd_convert, "convert a trace between formats (fpt, PYME JSON/text, Perfetto, speedscope, HTML)"),
    "stats": (cmd_stats, "print the per-function summary of a trace"),
    "diff": (cmd_diff, "compare two traces per function: calls, total and self time, and the changes"),
    "view": (cmd_view, "open a trace in the standalone timeline viewer"),
    "export": (cmd_export, "write a trace as a self-contained HTML page or a PNG picture"),
    "attach": (cmd_attach, "record a running CPython 3.14+ program for a while (PEP 768), leaving it running"),
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
