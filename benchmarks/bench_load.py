"""Loading large ``.fpt`` files: time, peak memory and memory per call after the load.

Files: a real recording (``bench_widget.recorded_trace``: fib recursion and method calls on 4
threads, with the profiler) of about 1M calls, and the format's worst case
(``bench_widget.synthetic_trace``: random trees and random gaps on 8 threads, poorly
compressible), each also merged 10 times as 10 processes (``_core.merge``) for about 10M calls. Each is loaded ``--repeat`` times, each time in a
fresh process (``fprofile_jupyter.load(path)``), which reports from ``/proc/self/status``:

- load time: CPU time of the process around the call (the load runs on one thread; CPU time is
  less disturbed than the wall clock by other work on a shared machine), and the wall clock;
- peak RSS (VmHWM) minus the RSS before the load: what loading costs at its worst;
- RSS after the load minus the RSS before: what the loaded trace holds, per call.

Medians are reported; the loads of one file with and without a progress callback and with the
earlier build take turns. ``--before PYTHON`` runs the same loads with another interpreter, one that
has an earlier fprofile-jupyter installed (e.g. main before the streamed loader), for the ratios.

    .venv/bin/python benchmarks/bench_load.py [--calls 1000000] [--copies 10] [--repeat 3]
        [--before /path/to/other/venv/bin/python] [--write]

``--write`` writes benchmarks/results/load.md.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

CHILD = r"""
import json, sys, time
def status():
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                out[k] = int(v.split()[0]) * 1024
    return out
import fprofile_jupyter
before = status()["VmRSS"]
calls = []
c0 = time.process_time()
t0 = time.perf_counter()
t = fprofile_jupyter.load(sys.argv[1], progress=(lambda d, n: calls.append(d)) if len(sys.argv) > 2 else None)
t1 = time.perf_counter()
c1 = time.process_time()
s = status()
print(json.dumps({"load_s": t1 - t0, "cpu_s": c1 - c0, "rss_before": before, "hwm": s["VmHWM"], "rss_after": s["VmRSS"], "calls": len(t), "reports": len(calls)}))
"""


def make_files(calls: int, copies: int, work: Path) -> list[tuple[str, Path]]:
    from bench_widget import recorded_trace, synthetic_trace

    from fprofile_jupyter import _core

    files = []
    for kind, make in (("recorded", recorded_trace), ("synthetic worst case", synthetic_trace)):
        one = make(calls)
        path = work / f"{kind.split()[0]}_1x.fpt"
        one.save(path)
        files.append((f"{kind}, {len(one):,} calls", path))
        if copies > 1:
            merged = _core.merge([{"trace": one, "process": {"pid": 1000 + k}} for k in range(copies)])
            path = work / f"{kind.split()[0]}_{copies}x.fpt"
            merged.save(path)
            files.append((f"{kind} x{copies} (processes), {len(merged):,} calls", path))
            del merged
    return files


def run_once(python: str, path: Path, progress: bool = False) -> dict:
    args = [python, "-c", CHILD, str(path)] + (["progress"] if progress else [])
    proc = subprocess.run(args, capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        raise SystemExit(f"{python}: load failed: {proc.stderr.strip()}")
    return json.loads(proc.stdout)


def summarize(runs: list) -> dict:
    calls = runs[0]["calls"]
    med = lambda key: statistics.median(key(r) for r in runs)  # noqa: E731
    return {
        "calls": calls,
        "load_s": med(lambda r: r["load_s"]),
        "cpu_s": med(lambda r: r["cpu_s"]),
        "peak_mb": med(lambda r: r["hwm"] - r["rss_before"]) / 2**20,
        "peak_b_per_call": med(lambda r: r["hwm"] - r["rss_before"]) / calls,
        "after_b_per_call": med(lambda r: r["rss_after"] - r["rss_before"]) / calls,
        "reports": runs[0]["reports"],
    }


def measure(path: Path, repeat: int, before: str | None) -> tuple[dict, dict, dict | None]:
    """Without and with a progress callback (and with the earlier build), the runs interleaved so
    that the load of the shared machine falls on all alike."""
    runs: dict = {"after": [], "progress": [], "before": []}
    for _ in range(repeat):
        runs["after"].append(run_once(sys.executable, path))
        runs["progress"].append(run_once(sys.executable, path, progress=True))
        if before:
            runs["before"].append(run_once(before, path))
    return summarize(runs["after"]), summarize(runs["progress"]), summarize(runs["before"]) if before else None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=1_000_000)
    ap.add_argument("--copies", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--before", metavar="PYTHON", help="an interpreter with an earlier fprofile-jupyter, for ratios")
    ap.add_argument("--write", action="store_true")
    opts = ap.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory(prefix="fprofile-bench-load-") as tmp:
        files = make_files(opts.calls, opts.copies, Path(tmp))
        for label, path in files:
            size = path.stat().st_size
            after, with_progress, before = measure(path, opts.repeat, opts.before)
            rows.append({"file": label, "size_mb": size / 2**20, "b_per_call_on_disk": size / after["calls"],
                         "after": after, "before": before, "with_progress": with_progress})
            print(json.dumps(rows[-1]), flush=True)
    lines = [
        "# Loading large .fpt files (benchmarks/bench_load.py)",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}. "
        f"Medians of {opts.repeat} loads, each in a fresh process (`fprofile_jupyter.load(path)`). "
        "Peak = VmHWM minus the RSS before the load; after = RSS after the load minus the RSS before, "
        "per call." + (" *Before*: the loader of main before the streamed decode (same files)." if opts.before else ""),
        "",
        "| file | size | on disk | | load CPU time (wall) | peak RSS | peak per call | RSS per call after load |",
        "|---|---:|---:|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        for name in ("before", "after"):
            m = r[name]
            if m is None:
                continue
            lines.append(f"| {r['file']} | {r['size_mb']:.1f} MB | {r['b_per_call_on_disk']:.2f} B/call | {name} | "
                         f"{m['cpu_s']:.3f} s ({m['load_s']:.2f} s) | {m['peak_mb']:.0f} MB | {m['peak_b_per_call']:.1f} B | {m['after_b_per_call']:.1f} B |")
        p = r["with_progress"]
        lines.append(f"| | | | after, with a progress callback (called {p['reports']}x) | {p['cpu_s']:.3f} s "
                     f"({p['cpu_s'] / r['after']['cpu_s']:.2f}x) | | | |")
        if r["before"]:
            b, a = r["before"], r["after"]
            lines.append(f"| | | | after / before | {a['cpu_s'] / b['cpu_s']:.2f} | {a['peak_mb'] / b['peak_mb']:.2f} | | "
                         f"{a['after_b_per_call'] / b['after_b_per_call']:.2f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if opts.write:
        (HERE / "results" / "load.md").write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
