"""Aggregate benchmarks: the flame graph of a 1M-call trace and the comparison of two 1M-call traces.

Records a real workload with ``fprofile_jupyter.profile`` (fib recursion and method calls, about
``--calls`` calls; the second trace with other parameters so that the two differ), then times, as
medians of ``--repeats`` runs (wall clock, ``time.perf_counter``, and process CPU time, ``time.process_time``:
the machine may be shared):

- ``flame_bytes``: the flame graph of all threads computed in Rust and encoded for the timeline
  (``_core.flame_bytes``; target at most 200 ms);
- ``Trace.flame()``: the same, plus the nested Python dicts;
- ``flame`` of a window (the middle half of the trace);
- ``compare``: two traces compared per function (``fprofile_jupyter.compare``; target at most 300 ms);
- ``compare + differential flame``: the same plus the differential tree's encoding;

and the same on a random worst case (two synthetic traces of ``--calls`` calls where nearly every
call has a call path of its own).

Usage: ``python benchmarks/bench_aggregate.py [--calls N] [--repeats R]``; prints a Markdown table
(the one in benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import statistics
import sys
import tempfile
import time

WORKLOAD = '''
class Acc:
    def __init__(self):
        self.n = 0

    def add(self, k):
        self.n += k

def fib(n, acc):
    acc.add(1)
    return n if n < 2 else fib(n - 1, acc) + fib(n - 2, acc)

def run(rounds, depth):
    acc = Acc()
    for _ in range(rounds):
        fib(depth, acc)
    return acc.n
'''


def calls_of(rounds: int, depth: int) -> int:
    """Calls one run makes: per fib call, itself and Acc.add; plus run and Acc.__init__."""
    f = [1, 1]
    for _ in range(depth):
        f.append(f[-1] + f[-2] + 1)
    return 2 + rounds * 2 * f[depth]


def record(mod, rounds: int, depth: int):
    import fprofile_jupyter as fj

    with fj.profile(subs=["fp_bench_aggregate_wl"]) as prof:
        mod.run(rounds, depth)
    return prof.trace


def random_trace(calls: int, seed: int):
    """The worst case for merging by path: one thread of ``calls`` calls of 300 functions (30 files)
    in a random walk up to 40 deep, so that nearly every call has a path of its own."""
    import random

    from fprofile_jupyter import _core

    rng = random.Random(seed)
    codes = [(f"/src/mod{k % 30}.py", f"f{k}", k + 1) for k in range(300)]
    events = []
    stack = []
    t = 0
    made = 0
    while made < calls or stack:
        t += rng.randrange(1, 50)
        if made < calls and len(stack) < 40 and (not stack or rng.random() < 0.55):
            k = rng.randrange(300)
            stack.append(k)
            events.append((t, k, False))
            made += 1
        else:
            events.append((t, stack.pop(), True))
    return _core._build_trace(codes, [(1, "MainThread", events)], start_ns=0, stop_ns=t + 1)


def median_ms(fn, repeats: int) -> tuple[float, float]:
    """Medians of the wall-clock and the process CPU time of ``fn()``, ms."""
    wall, cpu = [], []
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        cpu.append((time.process_time() - c0) * 1000)
        wall.append((time.perf_counter() - w0) * 1000)
    return statistics.median(wall), statistics.median(cpu)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=1_000_000, help="calls per trace (about; default 1,000,000)")
    ap.add_argument("--repeats", type=int, default=7, help="runs per measure (default 7)")
    opts = ap.parse_args(argv)

    import fprofile_jupyter as fj
    from fprofile_jupyter import _core

    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "fp_bench_aggregate_wl.py")
        with open(path, "w") as f:
            f.write(WORKLOAD)
        spec = importlib.util.spec_from_file_location("fp_bench_aggregate_wl", path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        depth = 15
        rounds_a = max(1, opts.calls // calls_of(1, depth))
        a = record(mod, rounds_a, depth)
        b = record(mod, max(1, rounds_a * 6 // 10), depth + 1)  # other parameters: fewer rounds, deeper (about as many calls)
    lo = min(th.first_ns for th in a.threads)
    hi = max(th.last_ns for th in a.threads)
    window = (lo + (hi - lo) // 4, hi - (hi - lo) // 4)
    rows = [
        ("flame graph, computed and encoded (`_core.flame_bytes`)", lambda: _core.flame_bytes(a), 200),
        ("flame graph as nested dicts (`Trace.flame()`)", lambda: a.flame(), None),
        ("flame graph of a window (middle half)", lambda: _core.flame_bytes(a, window=window), 200),
        ("callers and callees of `fib`", lambda: (a.callers("fib"), a.callees("fib")), None),
        ("compare two traces (`fprofile_jupyter.compare`)", lambda: fj.compare(a, b), 300),
        ("compare + differential flame encoded", lambda: fj.compare(a, b).flame_bytes(), None),
    ]
    ra, rb = random_trace(opts.calls, 1), random_trace(opts.calls, 2)
    paths = len(_core.flame_bytes(ra)) // 40
    rows += [
        (f"random worst case: flame graph ({paths:,} paths), computed and encoded", lambda: _core.flame_bytes(ra), 200),
        ("random worst case: flame graph as nested dicts", lambda: ra.flame(), None),
        ("random worst case: compare two traces", lambda: fj.compare(ra, rb), 300),
        ("random worst case: compare + differential flame encoded", lambda: fj.compare(ra, rb).flame_bytes(), None),
    ]
    print(f"## Aggregates ({len(a):,} and {len(b):,} calls; median of {opts.repeats} runs)")
    print()
    print(f"Python {platform.python_version()}, {os.cpu_count()} cores; `python benchmarks/bench_aggregate.py`")
    print()
    print("| measure | wall clock | process CPU time | target |")
    print("|---|---:|---:|---:|")
    for label, fn, target in rows:
        fn()  # warm up
        wall, cpu = median_ms(fn, opts.repeats)
        print(f"| {label} | {wall:.1f} ms | {cpu:.1f} ms | {'-' if target is None else f'<= {target} ms'} |")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
