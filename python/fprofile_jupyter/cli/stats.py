"""``fprofile stats FILE``: the per-function summary of a trace as a table (or JSON), overall, per
thread or per process; an ``.fpt`` is read in one pass, never with its calls in memory."""
from __future__ import annotations

import sys
from typing import Sequence

from .common import PROG, Parser, UsageError, outline_or_load


def cmd_stats(argv: Sequence[str]) -> int:
    parser = Parser(
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
    trace = outline_or_load(opts.input)  # (an .fpt: one pass, never the calls in memory)
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
