"""The static picture of a trace (issue 20, item 2; rust/core/src/formats/png): its size in bytes and
the time to draw it (``Trace.picture_png()``, median of ``--repeat`` runs, the GIL released), on

- a recording of ``examples/threads_demo.py`` (``fprofile run``; 6 threads),
- a recording of a 2-worker spawn pool with an extra thread (3 processes),
- synthetic traces built in Rust (``_core._synthetic_trace``: busy threads, call trees up to depth
  10, 60 functions, 20-400 ns gaps between events: noise, the worst case for the PNG's deflate) of
  1M and 10M calls in 8 threads, and 100k calls in 300 threads (the many-lanes layout),

each at the default width (960 px) and at 1920 px. The 10M-call trace is also loaded from an
``.fpt`` file first, as a large saved run would be (the picture draws the whole run).

    .venv/bin/python benchmarks/bench_picture.py [--repeat 5] [--keep DIR]

``--keep DIR`` writes the pictures there to look at. Use a release build (``pip install .``).
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

import fprofile_jupyter as fj  # noqa: E402
from fprofile_jupyter import _core  # noqa: E402

POOL_SCRIPT = textwrap.dedent(
    """
    import multiprocessing as mp, threading, time

    def fib(n):
        return n if n < 2 else fib(n - 1) + fib(n - 2)

    def work(k):
        for _ in range(3):
            fib(15 + k)
            time.sleep(0.01)
        return k

    def io():
        for _ in range(5):
            time.sleep(0.005)
            fib(10)

    if __name__ == "__main__":
        t = threading.Thread(target=io, name="io")
        t.start()
        with mp.get_context("spawn").Pool(2) as pool:
            pool.map(work, range(4))
        t.join()
    """
)


def record(script: Path, out: Path) -> None:
    subprocess.run([sys.executable, "-m", "fprofile_jupyter", "run", "-o", str(out), str(script)],
                   check=True, capture_output=True, cwd=script.parent, timeout=600)


def measure(name: str, trace, repeat: int, keep) -> list:
    rows = []
    for width in (960, 1920):
        times = []
        data = b""
        for _ in range(repeat):
            t0 = time.perf_counter()
            data = trace.picture_png(width_px=width)
            times.append(time.perf_counter() - t0)
        if keep:
            (Path(keep) / f"{name.split(' ')[0]}-{width}.png").write_bytes(data)
        rows.append((name, len(trace), len(trace.threads), len(trace.processes), width, len(data), statistics.median(times) * 1e3))
        print(f"  {name} @ {width} px: {len(data) / 1024:.1f} kB, {statistics.median(times) * 1e3:.1f} ms", file=sys.stderr)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--keep", metavar="DIR", help="write the pictures into DIR")
    opts = ap.parse_args()
    if opts.keep:
        os.makedirs(opts.keep, exist_ok=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        demo = tmp / "demo.fpt"
        record(ROOT / "examples" / "threads_demo.py", demo)
        rows += measure("threads_demo.py (recorded)", fj.load(demo), opts.repeat, opts.keep)
        pool = tmp / "pool.py"
        pool.write_text(POOL_SCRIPT)
        record(pool, tmp / "pool.fpt")
        rows += measure("spawn pool (recorded)", fj.load(tmp / "pool.fpt"), opts.repeat, opts.keep)
        rows += measure("synthetic-1M", _core._synthetic_trace(1_000_000, 8, 1), opts.repeat, opts.keep)
        big = tmp / "big.fpt"
        _core._synthetic_trace(10_000_000, 8, 2).save(big)
        t0 = time.perf_counter()
        loaded = fj.load(big)
        load_s = time.perf_counter() - t0
        rows += measure("synthetic-10M (loaded from .fpt)", loaded, opts.repeat, opts.keep)
        del loaded
        rows += measure("synthetic-300-threads", _core._synthetic_trace(100_000, 300, 3), opts.repeat, opts.keep)
    print(f"## Static picture (`bench_picture.py --repeat {opts.repeat}`; Python {platform.python_version()}, "
          f"{os.cpu_count()} cores shared; median ms of `picture_png()`)\n")
    print("| trace | calls | threads | processes | width | PNG | time |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, calls, threads, procs, width, size, ms in rows:
        print(f"| {name} | {calls:,} | {threads} | {procs} | {width} px | {size / 1024:.1f} kB | {ms:.0f} ms |")
    print(f"\n(loading the 10M-call .fpt: {load_s:.1f} s, not counted above)")


if __name__ == "__main__":
    main()
