"""``fprofile attach PID`` and ``%fprofile attach PID``: the command's options, the attach
(``_attach``) and the trace written where asked."""
from __future__ import annotations

import os
import shutil
import tempfile
from typing import Callable, List, Sequence

from .._attach import AttachError, attach
from .._progress import say
from .._subs import split_subs
from .common import PROG, Parser, UsageError, load, save


def parser(prog: str) -> Parser:
    """The command's options (``%fprofile attach`` takes the same)."""
    p = Parser(
        prog=prog,
        description=(
            "Record a running CPython 3.14+ program you did not start (PEP 768, sys.remote_exec): a recording "
            "starts inside it, streamed to OUT, and stops after --duration seconds or at Ctrl-C; the program goes "
            "on as before. Your own processes only; the program records its own process (not its children)."),
    )
    p.add_argument("pid", type=int, metavar="PID")
    p.add_argument("--duration", type=float, metavar="S", help="seconds to record (default: until Ctrl-C)")
    p.add_argument("-o", "--output", metavar="OUT",
                   help="the trace (default: fprofile-attach-PID.fpt); .fpt is streamed by the program, any other "
                        "format is converted from it at the end")
    p.add_argument("--subs", action="append", metavar="A,B",
                   help="parts of file names to record (default: the program's __main__ directory, libraries "
                        "excluded; +NAME adds to the default)")
    p.add_argument("--start-timeout", type=float, default=10.0, metavar="S",
                   help="how long to wait for the program to run the injected script (default 10)")
    return p


def run(argv: Sequence[str], prog: str, say: Callable[[str], None]) -> tuple:
    """Parses ``argv``, attaches, writes the output; returns (trace, output path, result)."""
    opts = parser(prog).parse_args(list(argv))
    if opts.duration is not None and not opts.duration > 0:
        raise UsageError(f"--duration must be a positive number of seconds (got {opts.duration:g})")
    subs: List[str] = split_subs(opts.subs) if opts.subs else []
    output = opts.output or f"fprofile-attach-{opts.pid}.fpt"
    streamed = output.endswith(".fpt")
    if streamed and os.path.exists(output):
        say(f"fprofile: replacing {output}")
    tmp = None
    if not streamed:
        tmp = tempfile.mkdtemp(prefix="fprofile-attach-out-")
    try:
        target = output if streamed else os.path.join(tmp, "trace.fpt")  # type: ignore[arg-type]
        result = attach(opts.pid, target, duration=opts.duration, subs=subs, start_timeout=opts.start_timeout,
                        say=say)
        trace = load(target)
        if not streamed:
            save(trace, output)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    say(f"fprofile: wrote {output} ({len(trace):,} calls of pid {opts.pid})")
    return trace, output, result


def cmd_attach(argv: Sequence[str]) -> int:
    try:
        run(argv, f"{PROG} attach", say)
    except AttachError as e:
        say(f"{PROG}: error: {e}")
        return 1
    return 0
