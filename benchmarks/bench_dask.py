"""Dask benchmark: a 4-worker Dask map doing about 1M recorded calls, bare and under fprofile.

A ``distributed.LocalCluster`` (4 worker processes, 1 thread each) maps ``fib(20)`` (21,891 calls
each) over 48 tasks: 1,050,768 calls, all in the workers. Per round, in a shuffled order:

- **bare**: ``client.gather(client.map(...))``;
- **fprofile**: the same inside ``profile(subs=[...], dask=client)``, end to end: the check of the
  workers, the plugin's start, the map, then stopping every worker, bringing its ``.fpt`` bytes to
  the client, decoding and merging, until ``prof.trace`` is ready.

The stop is also split into **gather** (``DaskRecording.stop``: every worker stops its recorder,
builds and encodes its trace, the bytes come back over Dask's comms) and **merge** (decoding the
bytes and ``_core.merge``), reported per million calls. Wall-clock times, medians of the rounds.

Usage: ``python benchmarks/bench_dask.py [--rounds N] [--out FILE]``
Writes ``benchmarks/results/dask.md`` (or FILE) and prints the same table.
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TASKS = 48
N = 20
FIB_CALLS = 21_891  # calls of fib(20), recursion included: 2 * F(21) - 1
SOURCE = '''
def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def task(i, n):
    return fib(n)
'''


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "dask.md"))
    args = ap.parse_args()

    import distributed

    from fprofile_jupyter import _dask, profile

    folder = tempfile.mkdtemp(prefix="fprofile-bench-dask-")
    Path(folder, "bench_dask_tasks.py").write_text(SOURCE)
    sys.path.insert(0, folder)
    mod = importlib.import_module("bench_dask_tasks")
    calls = TASKS * (FIB_CALLS + 1)

    split: dict[str, list[float]] = {"gather": [], "merge": []}
    stop_orig, merge_orig = _dask.DaskRecording.stop, _dask.DaskRecording.merge

    def timed(name, func):
        def wrapper(self, *a, **k):
            t0 = time.perf_counter()
            try:
                return func(self, *a, **k)
            finally:
                split[name].append(time.perf_counter() - t0)
        return wrapper

    _dask.DaskRecording.stop = timed("gather", stop_orig)  # type: ignore[method-assign]
    _dask.DaskRecording.merge = timed("merge", merge_orig)  # type: ignore[method-assign]

    times: dict[str, list[float]] = {"bare": [], "fprofile": []}
    with distributed.LocalCluster(n_workers=4, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=":0", silence_logs=40) as cluster, distributed.Client(cluster) as client:
        client.wait_for_workers(4)
        client.run(importlib.import_module, "bench_dask_tasks")
        client.gather(client.map(mod.task, range(TASKS), n=N, pure=False))  # warm up

        def bare() -> None:
            client.gather(client.map(mod.task, range(TASKS), n=N, pure=False))

        def recorded() -> None:
            with profile(subs=[folder], dask=client) as prof:
                client.gather(client.map(mod.task, range(TASKS), n=N, pure=False))
            got = len(prof.trace)
            if got != calls:
                raise SystemExit(f"expected {calls} calls, the trace has {got}")

        for _ in range(args.rounds):
            order = [("bare", bare), ("fprofile", recorded)]
            random.shuffle(order)
            for name, run in order:
                t0 = time.perf_counter()
                run()
                times[name].append(time.perf_counter() - t0)

    med = {k: statistics.median(v) for k, v in times.items()}
    gather = statistics.median(split["gather"])
    merge = statistics.median(split["merge"])
    per_m = 1_000_000 / calls
    lines = [
        "# Dask benchmark",
        "",
        f"Python {platform.python_version()}, {os.cpu_count()} cores; `python benchmarks/bench_dask.py --rounds {args.rounds}`; "
        f"LocalCluster of 4 worker processes x 1 thread, {TASKS} tasks of fib({N}): {calls:,} recorded calls; "
        "wall time, median of the rounds (bare and fprofile shuffled per round).",
        "",
        "| run | wall time | ratio |",
        "|---|---|---|",
        f"| bare | {med['bare'] * 1e3:,.0f} ms | 1.00 |",
        f"| fprofile, end to end (trace ready in the client) | {med['fprofile'] * 1e3:,.0f} ms | {med['fprofile'] / med['bare']:.2f} |",
        "",
        "| stop, split | time | per million calls |",
        "|---|---|---|",
        f"| gather (workers stop, build and encode, bytes over Dask's comms) | {gather * 1e3:,.0f} ms | {gather * per_m * 1e3:,.0f} ms |",
        f"| merge (decode + `_core.merge`) | {merge * 1e3:,.0f} ms | {merge * per_m * 1e3:,.0f} ms ({merge * 1e9 / calls:.0f} ns a call) |",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
