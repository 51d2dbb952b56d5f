"""Reliability benchmarks: how far the live PYME text file lags behind the program, and how the
trace building scales with the number of threads.

1. Live file lag. A program records into ``ThreadProfiler().profile_on(outfile="x.txt")`` with 1 and
   4 busy threads; every 100 ms the benchmark reads the newest event time on disk and compares it
   with ``time.perf_counter()`` (the same clock): that is what a SIGKILL at that moment would lose.
   Two workloads: "tight" (an empty function called in a loop: the most events a program can make,
   several million a second) and "busy" (each call does about 2 us of work: a heavy but realistic
   rate). Median and max of the samples, the event rate, and the file's rate.
2. Building many threads. A PYME text file with N one-call threads (N = 10k, 100k, 200k) is loaded
   (parse + build + lanes); median of R loads, time per thread. The lane assignment used to compare
   every pair of threads (200,000 threads took 15 s).

Usage: ``python benchmarks/bench_reliability.py [--seconds S] [--repeats R] [--out FILE]``
Writes ``benchmarks/results/reliability.md`` and prints the same tables.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

LAG_PROGRAM = textwrap.dedent(
    """
    import os, sys, threading, time
    from fprofile_jupyter import ThreadProfiler

    def leaf(i):
        return i

    def busy_leaf(i):
        s = 0
        for k in range(40):
            s += k
        return s

    def work(stop, fn):
        i = 0
        while not stop.is_set():
            for _ in range(1000):
                fn(i)
            i += 1

    n, out, seconds, kind = int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), sys.argv[4]
    fn = leaf if kind == "tight" else busy_leaf
    stop = threading.Event()
    p = ThreadProfiler()
    p.profile_on(subs=[os.path.basename(__file__)], outfile=out, max_events=10**9)
    ts = [threading.Thread(target=work, args=(stop, fn)) for _ in range(n)]
    for t in ts:
        t.start()
    print("ready", flush=True)
    time.sleep(seconds)
    stop.set()
    for t in ts:
        t.join()
    p.profile_off()
    """)


def newest_time(path: Path):
    """The time of the newest complete line of a live PYME text file, or None."""
    with open(path, "rb") as f:
        f.seek(0, 2)
        f.seek(max(0, f.tell() - 65536))
        lines = f.read().split(b"\n")
    for line in reversed(lines[:-1]):
        fields = line.split(b"\t")
        if len(fields) == 6:
            return float(fields[0])
    return None


def lag_rows(seconds: float) -> list[str]:
    """Each workload in a child process; this process (no GIL shared with it) samples the file
    every 100 ms against CLOCK_MONOTONIC, the clock of the file's times."""
    rows = []
    with tempfile.TemporaryDirectory() as d:
        prog = Path(d) / "lagprog.py"
        prog.write_text(LAG_PROGRAM)
        for kind in ("tight", "busy"):
            for n in (1, 4):
                out = Path(d) / f"{kind}{n}.txt"
                proc = subprocess.Popen([sys.executable, str(prog), str(n), str(out), str(seconds), kind],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                assert proc.stdout.readline().strip() == "ready"
                t0 = time.perf_counter()
                lags = []
                while time.perf_counter() - t0 < seconds - 0.2:
                    time.sleep(0.1)
                    t = newest_time(out)
                    now = time.perf_counter()
                    if t is not None:
                        lags.append(now - t)
                _, err = proc.communicate(timeout=600)
                if proc.returncode != 0:
                    raise SystemExit(err)
                size = out.stat().st_size
                with open(out, "rb") as f:
                    events = sum(block.count(b"\n") for block in iter(lambda: f.read(1 << 24), b""))
                rows.append(f"| {kind} | {n} | {statistics.median(lags) * 1e3:.0f} ms | {max(lags) * 1e3:.0f} ms | "
                            f"{len(lags)} | {events / seconds / 1e6:.2f} M/s | {size / seconds / 1e6:.0f} MB/s |")
                out.unlink()
    return rows


def build_rows(repeats: int) -> list[str]:
    from fprofile_jupyter import _core

    rows = []
    with tempfile.TemporaryDirectory() as d:
        for n in (10_000, 100_000, 200_000):
            p = Path(d) / f"threads{n}.txt"
            with open(p, "w") as f:
                for i in range(n):
                    t = 1 + i * 1e-5
                    f.write(f"{t:.6f}\tThread-{i}\t/srv/app.py\thandle\tcall\t10\n")
                    f.write(f"{t + 5e-6:.6f}\tThread-{i}\t/srv/app.py\thandle\treturn\t10\n")
            times = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                tr = _core.load(str(p))
                times.append(time.perf_counter() - t0)
                assert len(tr.threads) == n
            med = statistics.median(times)
            rows.append(f"| {n:,} | {med * 1e3:.0f} ms | {med / n * 1e6:.2f} us |")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=4.0, help="seconds each lag workload runs (default 4)")
    ap.add_argument("--repeats", type=int, default=5, help="loads per thread count (default 5)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "reliability.md"))
    opts = ap.parse_args()
    lines = [
        "# Reliability benchmarks",
        "",
        f"Python {sys.version.split()[0]}, {os.cpu_count()} cores; `python benchmarks/bench_reliability.py "
        f"--seconds {opts.seconds:g} --repeats {opts.repeats}`.",
        "",
        "## Live PYME text file: age of the newest event on disk (what a SIGKILL would lose)",
        "",
        "| workload | busy threads | median lag | max lag | samples | events recorded | file written |",
        "|---|---|---|---|---|---|---|",
        *lag_rows(opts.seconds),
        "",
        "## Building a trace of N one-call threads (PYME text load: parse, build, lanes; median)",
        "",
        "| threads | load | per thread |",
        "|---|---|---|",
        *build_rows(opts.repeats),
        "",
    ]
    text = "\n".join(lines)
    print(text)
    Path(opts.out).write_text(text)


if __name__ == "__main__":
    main()
