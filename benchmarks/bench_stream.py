"""Benchmark of streaming capture (not a test: prints medians and ratios).

A call-heavy workload (recursive ``fib(22)`` units: 57,313 Python calls each, real call trees)
runs in a fresh process per measurement, under:

  bare      no recording
  memory    the in-memory recording (``_core.Recorder().start(RecordOptions(...))``, stopped with ``stop_raw()``:
            the events, no tree building), with a cap above the run
  stream    an ``.fpt`` outfile streamed while recording (stopped with ``stop(load=False)``: the
            file complete, not loaded back)
  ring      the flight recorder, ``keep_last`` of ``--window-ms`` (default 100 ms; stopped with
            ``stop()``, which builds the last window's trace, after the figures are taken)
  profile   ``fprofile_jupyter.profile(outfile=...)`` streaming as ``stream`` does, whose clean stop
            rewrites the file as one compact body chunk by chunk (not loading it): the stop's wall time
            and the final file's bytes per call (against ``stream``'s chunks)

Two workloads: ``--calls`` (default 200M) streamed only (memory would need 16 bytes an event: 6.4
GB for 200M calls), for the RSS growth and the bytes per call on disk; and ``--compare-calls``
(default 8M) under the three, for the overhead per call of streaming against the in-memory path.
Configurations alternate within each round; medians of ``--rounds`` rounds. Times: the recording
thread's own CPU time (``time.thread_time``: what the program's thread pays; the writer thread's
encoding and compression run beside it) and the process's CPU time (all threads: the writer's
work included). RSS: VmRSS from /proc/self/status before starting and its peak while recording
(sampled after each unit).

    python benchmarks/bench_stream.py [--calls 200000000] [--compare-calls 8000000] [--rounds 3]
                                      [--window-ms 100] [--dir DIR] [--json FILE]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap

CHILD = textwrap.dedent('''
    import json, os, sys, time
    from fprofile_jupyter import _core
    from fprofile_jupyter._options import RecordOptions

    def fib(n):
        return n if n < 2 else fib(n - 1) + fib(n - 2)

    UNIT = 22
    UNIT_CALLS = 57313

    def rss_kb():
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])

    mode, calls, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    units = max(1, calls // UNIT_CALLS)
    fib(UNIT)
    before = rss_kb()
    r = _core.Recorder()
    if mode == "profile":
        import fprofile_jupyter
        prof = fprofile_jupyter.profile(subs=[__file__], outfile=out, processes=False)
        prof.__enter__()
    elif mode == "memory":
        r.start(RecordOptions(subs=(__file__,), max_events=2 ** 62))
    elif mode == "stream":
        r.start(RecordOptions(subs=(__file__,), max_events=_core.Recorder.DEFAULT_MAX_EVENTS, outfile=out))
    elif mode == "ring":
        r.start(RecordOptions(subs=(__file__,), max_events=_core.Recorder.DEFAULT_MAX_EVENTS, keep_last=("ns", int(sys.argv[4]) * 1_000_000)))
    peak = before
    w0, t0, p0 = time.perf_counter_ns(), time.thread_time_ns(), time.process_time_ns()
    for _ in range(units):
        fib(UNIT)
        rss = rss_kb()
        if rss > peak:
            peak = rss
    thread_ns, wall_ns = time.thread_time_ns() - t0, time.perf_counter_ns() - w0
    proc_ns = None
    stop_ns = 0
    if mode == "profile":
        s0 = time.perf_counter_ns()
        prof.__exit__(None, None, None)
        stop_ns = time.perf_counter_ns() - s0
    elif mode == "memory":
        r.stop_raw()
    elif mode == "stream":
        r.stop(load=False)
    elif mode == "ring":
        proc_ns = time.process_time_ns() - p0  # the recording, not building the window's trace
        r.stop()
    if proc_ns is None:
        proc_ns = time.process_time_ns() - p0
    events = r.stats.events if mode not in ("bare", "profile") else 0
    size = os.path.getsize(out) if mode in ("stream", "profile") else 0
    print(json.dumps({"calls": units * UNIT_CALLS, "thread_ns": thread_ns, "wall_ns": wall_ns, "proc_ns": proc_ns,
                      "rss_before_kb": before, "rss_peak_kb": peak, "file_bytes": size, "events": events,
                      "stop_ns": stop_ns}))
''')


def run_one(script: str, mode: str, calls: int, out: str, window_ms: int = 100) -> dict:
    p = subprocess.run([sys.executable, script, mode, str(calls), out, str(window_ms)], capture_output=True, text=True,
                       check=True)
    if os.path.exists(out):
        os.unlink(out)
    return json.loads(p.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=200_000_000, help="calls of the streamed long run")
    ap.add_argument("--compare-calls", type=int, default=8_000_000, help="calls of the bare/memory/stream comparison")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--window-ms", type=int, default=100, help="the flight recorder's window (ring mode)")
    ap.add_argument("--dir", default=None, help="where the .fpt files go (default: a temporary directory)")
    ap.add_argument("--json", default=None, help="also write the raw figures here")
    a = ap.parse_args()
    work = a.dir or tempfile.mkdtemp(prefix="bench-stream-")
    script = os.path.join(work, "stream_child.py")
    with open(script, "w") as f:
        f.write(CHILD)
    out = os.path.join(work, "bench.fpt")
    runs: dict = {"bare": [], "memory": [], "stream": [], "ring": [], "profile": [], "long": []}
    for i in range(a.rounds):
        order = ["bare", "memory", "stream", "ring", "profile"] if i % 2 == 0 else ["profile", "ring", "stream", "memory", "bare"]
        for mode in order:
            runs[mode].append(run_one(script, mode, a.compare_calls, out, a.window_ms))
        runs["long"].append(run_one(script, "stream", a.calls, out))
        print(f"round {i + 1}/{a.rounds} done", file=sys.stderr)

    def med(mode: str, key: str) -> float:
        return statistics.median(r[key] for r in runs[mode])

    n = runs["bare"][0]["calls"]
    lines = [f"Python {sys.version.split()[0]}, {os.cpu_count()} cores; median of {a.rounds} rounds "
             f"(`bench_stream.py --calls {a.calls} --compare-calls {a.compare_calls} --rounds {a.rounds}`)", ""]
    lines.append(f"Overhead per call, {n:,} calls (fib units), against bare:")
    lines.append("")
    lines.append("| | recording thread CPU ns/call | overhead ns/call | process CPU ns/call | RSS growth MB |")
    lines.append("|---|---|---|---|---|")
    over = {}
    for mode in ("bare", "memory", "stream", "ring"):
        t = med(mode, "thread_ns") / n
        over[mode] = t - med("bare", "thread_ns") / n
        growth = (med(mode, "rss_peak_kb") - med(mode, "rss_before_kb")) / 1024
        lines.append(f"| {mode} | {t:.1f} | {over[mode]:.1f} | {med(mode, 'proc_ns') / n:.1f} | {growth:.1f} |")
    ratio = over["stream"] / over["memory"] if over["memory"] > 0 else float("nan")
    lines.append("")
    lines.append(f"Streamed overhead / in-memory overhead (recording thread): {ratio:.2f}; process CPU: "
                 f"{med('stream', 'proc_ns') / med('memory', 'proc_ns'):.2f}. ring: keep_last of {a.window_ms} ms.")
    pn = runs["profile"][0]["calls"]
    lines.append("")
    lines.append(f"profile(outfile=...), {pn:,} calls: bytes per call on disk {med('stream', 'file_bytes') / n:.3f} as "
                 f"chunks, {med('profile', 'file_bytes') / pn:.3f} after the clean stop's compact rewrite; that stop "
                 f"(rewrite, chunk by chunk) {med('profile', 'stop_ns') / 1e6:.0f} ms, "
                 f"{med('profile', 'stop_ns') / pn:.0f} ns per call")
    long_n = runs["long"][0]["calls"]
    growth = statistics.median((r["rss_peak_kb"] - r["rss_before_kb"]) / 1024 for r in runs["long"])
    bpc = statistics.median(r["file_bytes"] / r["calls"] for r in runs["long"])
    lt = statistics.median(r["thread_ns"] / r["calls"] for r in runs["long"])
    lines.append("")
    lines.append(f"Long run streamed, {long_n:,} calls: RSS growth {growth:.1f} MB, {bpc:.3f} bytes per call on disk, "
                 f"{lt:.1f} ns per call (recording thread CPU), "
                 f"events {runs['long'][0]['events']:,}")
    print("\n".join(lines))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(runs, f, indent=1)


if __name__ == "__main__":
    main()
