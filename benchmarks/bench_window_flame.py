"""The flame graph of a windowed trace, merged by the kernel (or the viewer) on the page's request
(issue 13, item 4; ``_windowed.flame_reply``): how long the host takes to answer and how many
bytes it sends, for the whole run and for windows of 10 % and 1 % of it, all threads.

Traces are synthetic, built in Rust (``_core._synthetic_trace``, as bench_window.py: 8 busy threads,
call trees up to depth 10, 60 functions). The page's part (``flameFromBytes``: one pass over 5
numbers per node, then the drawing of a merged flame graph) is the same as for the comparison view
and is left out.

    .venv/bin/python benchmarks/bench_window_flame.py [--sizes 1000000,5000000] [--repeat 5]
"""
from __future__ import annotations

import argparse
import statistics
import time

from fprofile_jupyter import _core, _windowed


def run(sizes: list, repeat: int) -> list:
    rows = []
    for calls in sizes:
        trace = _core._synthetic_trace(calls, 8, 1)
        a, b = _windowed.span(trace)
        threads = list(range(len(trace.threads)))
        for label, win in (("whole run", None), ("10 % window", (a + (b - a) * 45 // 100, a + (b - a) * 55 // 100)),
                           ("1 % window", (a + (b - a) * 495 // 1000, a + (b - a) * 505 // 1000))):
            times = []
            for _ in range(repeat):
                t = time.perf_counter()
                reply = _windowed.flame_reply(trace, threads, *(win or (None, None)))
                times.append(time.perf_counter() - t)
            rows.append((len(trace), label, statistics.median(times) * 1e3, len(reply), len(reply) // 40))
        del trace
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1000000,5000000", help="trace sizes in calls, comma separated")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    rows = run([int(s) for s in args.sizes.split(",")], args.repeat)
    print(f"| calls | flame of | host, median of {args.repeat} (ms) | reply (bytes) | nodes |")
    print("| ---: | --- | ---: | ---: | ---: |")
    for calls, label, ms, size, nodes in rows:
        print(f"| {calls:,} | {label} | {ms:.1f} | {size:,} | {nodes:,} |")


if __name__ == "__main__":
    main()
