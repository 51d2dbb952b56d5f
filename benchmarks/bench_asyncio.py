"""asyncio task bands (issue 25): what they cost.

1. Per recorded call, with and without tasks in flight: the same N calls of a recorded function,
   (a) in plain code outside any loop, (b) in one step of a task while 200 other tasks are in
   flight (created while recording, awaiting), recording on, with the task bands on and off; the
   bare calls (no recording) too. Target: (b) within 5 % of (a) (the bands add nothing per call).
2. Per task step: 100 tasks x 200 ``await asyncio.sleep(0)`` (no recorded call), under a recording
   with the task bands on and with them off (``FPROFILE_ASYNCIO_TASKS=0``), and bare: the bands'
   cost per step = (on - off) / steps. Target: under 100 ns.
3. Start + stop of an empty recording with the bands on and off (installing and taking away the
   hooks), per recording.

Times are the measuring thread's CPU time. Configurations alternate within each round, rounds
shuffled; medians. Not a test (shared, noisy
machine): compare within one run. Usage: ``.venv/bin/python benchmarks/bench_asyncio.py --rounds 9``
"""
from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from fprofile_jupyter import profile

#: This thread's CPU time: on a shared machine wall time mostly measures the other processes (every
#: measurement here runs on one thread).
_clock = time.thread_time_ns

SOURCE = '''
def leaf(i):
    return i


def calls(n):
    for i in range(n):
        leaf(i)
'''


def load(directory: str):
    path = Path(directory) / "bench_asyncio_prog.py"
    path.write_text(SOURCE)
    spec = importlib.util.spec_from_file_location("bench_asyncio_prog", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod, str(path)


def calls_outside(mod, path, n, record):
    if not record:
        t0 = _clock()
        mod.calls(n)
        return _clock() - t0
    with profile(subs=[path], processes=False):
        t0 = _clock()
        mod.calls(n)
        dt = _clock() - t0
    return dt


def calls_in_task(mod, path, n, in_flight, bands=True):
    async def idle(ev):
        await ev.wait()

    async def busy():
        t0 = _clock()
        mod.calls(n)
        return _clock() - t0

    async def main():
        ev = asyncio.Event()
        others = [asyncio.create_task(idle(ev), name=f"idle-{i}") for i in range(in_flight)]
        await asyncio.sleep(0)  # every one has run its first step and awaits
        dt = await asyncio.create_task(busy(), name="busy")
        ev.set()
        await asyncio.gather(*others)
        return dt

    os.environ["FPROFILE_ASYNCIO_TASKS"] = "1" if bands else "0"
    try:
        with profile(subs=[path], processes=False) as p:
            dt = asyncio.run(main())
    finally:
        os.environ.pop("FPROFILE_ASYNCIO_TASKS", None)
    assert any(b[3] == "busy" for b in p.trace.bands) == bands, "the busy task's band"
    return dt


def steps(path, tasks, each, mode):
    async def stepper():
        for _ in range(each):
            await asyncio.sleep(0)

    async def main():
        await asyncio.gather(*(stepper() for _ in range(tasks)))

    if mode == "bare":
        t0 = _clock()
        asyncio.run(main())
        return _clock() - t0
    os.environ["FPROFILE_ASYNCIO_TASKS"] = "1" if mode == "on" else "0"
    try:
        with profile(subs=[path], processes=False) as p:
            t0 = _clock()
            asyncio.run(main())
            dt = _clock() - t0
    finally:
        os.environ.pop("FPROFILE_ASYNCIO_TASKS", None)
    bands = len(p.trace.bands)
    expected = tasks * (each + 1) if mode == "on" else 0
    assert bands >= expected, (mode, bands, expected)
    return dt


def start_stop(path, n, bands):
    os.environ["FPROFILE_ASYNCIO_TASKS"] = "1" if bands else "0"
    try:
        t0 = _clock()
        for _ in range(n):
            with profile(subs=[path], processes=False):
                pass
        return (_clock() - t0) / n
    finally:
        os.environ.pop("FPROFILE_ASYNCIO_TASKS", None)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--calls", type=int, default=300_000)
    ap.add_argument("--in-flight", type=int, default=200)
    ap.add_argument("--tasks", type=int, default=100)
    ap.add_argument("--steps", type=int, default=200)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        mod, path = load(d)
        n = args.calls
        results = {k: [] for k in ("bare calls", "calls outside a loop", "calls in a task",
                                   "calls in a task, bands off", "start+stop, bands on", "start+stop, bands off",
                                   "steps bare",
                                   "steps, bands off", "steps, bands on")}
        runs = [
            ("bare calls", lambda: calls_outside(mod, path, n, False)),
            ("calls outside a loop", lambda: calls_outside(mod, path, n, True)),
            ("calls in a task", lambda: calls_in_task(mod, path, n, args.in_flight)),
            ("calls in a task, bands off", lambda: calls_in_task(mod, path, n, args.in_flight, bands=False)),
            ("start+stop, bands on", lambda: start_stop(path, 50, True)),
            ("start+stop, bands off", lambda: start_stop(path, 50, False)),
            ("steps bare", lambda: steps(path, args.tasks, args.steps, "bare")),
            ("steps, bands off", lambda: steps(path, args.tasks, args.steps, "off")),
            ("steps, bands on", lambda: steps(path, args.tasks, args.steps, "on")),
        ]
        for _name, run in runs:  # warm up
            run()
        for _ in range(args.rounds):
            random.shuffle(runs)
            for name, run in runs:
                results[name].append(run())
    med = {k: statistics.median(v) for k, v in results.items()}
    total_steps = args.tasks * (args.steps + 1)
    bare = med["bare calls"] / n
    out = med["calls outside a loop"] / n
    inside = med["calls in a task"] / n
    inside_off = med["calls in a task, bands off"] / n
    print(f"Python {sys.version.split()[0]}, median of {args.rounds} rounds")
    print(f"per call: bare {bare:.1f} ns; recorded outside a loop {out:.1f} ns (+{out - bare:.1f}); "
          f"recorded in a task with {args.in_flight} tasks in flight {inside:.1f} ns (+{inside - bare:.1f}); "
          f"in a task / outside = {inside / out:.3f}; the same task with the bands off {inside_off:.1f} ns "
          f"(bands on / off = {inside / inside_off:.3f})")
    on, off, sbare = med["steps, bands on"], med["steps, bands off"], med["steps bare"]
    print(f"per task step ({args.tasks} tasks x {args.steps + 1} steps): bare {sbare / total_steps:.0f} ns, "
          f"recording with bands off {off / total_steps:.0f} ns, with bands on {on / total_steps:.0f} ns: "
          f"the bands cost {(on - off) / total_steps:.0f} ns per step")
    print(f"start+stop of an empty recording: bands on {med['start+stop, bands on'] / 1000:.1f} us, "
          f"off {med['start+stop, bands off'] / 1000:.1f} us")


if __name__ == "__main__":
    main()
