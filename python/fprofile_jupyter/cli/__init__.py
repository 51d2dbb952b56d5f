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

One module per command (``run``, ``convert``, ``stats``, ``diff``, ``view``, ``export``,
``attach``); what they share is in ``common`` (one-line errors, loading and saving with progress).

Errors are one line on stderr (``fprofile: error: ...``) with exit status 2 for a usage error and 1
for bad input; never a traceback. ``run`` keeps the exit status of the profiled program.
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Optional, Sequence

# The output formats of ``convert`` / ``run -o`` (``--format``), the input formats
# (``--input-format``) and the file name endings ``Trace.save`` knows (checked by ``run`` before the
# program starts): all from the core's one format table (``_core.formats()``).
from .._io import LOAD_FORMATS, SAVE_ENDINGS, SAVE_FORMATS  # noqa: F401 - the formats, for callers
from .._progress import Progress, say  # noqa: F401 - Progress: the terminal's progress bar, for callers
from .attach import cmd_attach
from .common import PROG, Parser, UsageError, error_message, exit_code
from .convert import cmd_convert
from .diff import cmd_diff
from .export import cmd_export
from .run import cmd_run
from .stats import cmd_stats
from .view import cmd_view

__all__ = ["main", "COMMANDS", "PROG", "UsageError", "cmd_run", "cmd_convert", "cmd_stats", "cmd_diff", "cmd_view",
           "cmd_export", "cmd_attach"]


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
    from .._core import __version__

    parser = Parser(
        prog=PROG,
        description="fprofile-jupyter: every call of the functions you care about, in every thread, on a zoomable timeline.",
        epilog="Run 'fprofile COMMAND --help' for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"fprofile-jupyter {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_fn, help_text) in COMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


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
        say(f"{PROG}: error: {e}")
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
        return exit_code(e)
    except (ValueError, OSError, RuntimeError, ImportError, LookupError) as e:
        # FormatError is a ValueError, ProfilerError a RuntimeError.
        say(f"{PROG}: error: {error_message(e)}")
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
