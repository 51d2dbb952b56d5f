"""The user's path with a long run, step by step (not a test: prints a table).

A program of ``--threads`` threads (default 4) making ``--calls`` Python calls in all (recursive
``fib(22)`` units, 57,313 calls each, split over the threads) is

  bare     run with plain Python (the program's own peak RSS and time)
  run      recorded with ``fprofile run -o big.fpt`` (streamed while it runs; the stop rewrites the
           file compactly, child processes merged in): peak RSS, wall and CPU of the whole command,
           and the stop alone (wall from the program's last statement to the command's end)
  stats    ``fprofile stats big.fpt``
  load     ``fprofile_jupyter.load("big.fpt")`` in a fresh Python (RSS above that Python's own)
  size     bytes per call of big.fpt

each step in a fresh process, its peak RSS from ``wait4`` (``ru_maxrss``), CPU = user + system.
``--python`` runs the steps with another build's Python (a venv of ``benchmarks/ab.py``'s cache:
the same table for an earlier revision).

    python benchmarks/bench_billion.py [--calls 12000000 ...] [--threads 4] [--python PY] [--dir DIR]
                                       [--json FILE]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time

PROGRAM = textwrap.dedent('''
    import sys, threading, time

    def fib(n):
        return n if n < 2 else fib(n - 1) + fib(n - 2)

    UNIT_CALLS = 57313

    def work(units):
        for _ in range(units):
            fib(22)

    calls, n_threads, mark = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    units = max(1, calls // UNIT_CALLS)
    threads = [threading.Thread(target=work, args=(units // n_threads + (k < units % n_threads),))
               for k in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with open(mark, "w") as f:
        f.write(repr(time.time()))
''')

LOAD = "import sys, fprofile_jupyter as f; t = f.load(sys.argv[1]); print(len(t))"
BASE = "import sys, fprofile_jupyter as f; print(0)"


def run(cmd, env=None):
    """Runs ``cmd``; returns (wall s, cpu s, peak RSS MB, stdout)."""
    t0 = time.time()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    out = p.stdout.read() if p.stdout else b""
    err = p.stderr.read() if p.stderr else b""
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.time() - t0
    if status != 0:
        raise SystemExit(f"{cmd} failed ({status}): {err.decode(errors='replace')[-2000:]}")
    return wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024, out.decode(errors="replace") + err.decode(errors="replace")


def path_of(calls, threads, py, d):
    prog = os.path.join(d, "big.py")
    with open(prog, "w") as f:
        f.write(PROGRAM)
    mark = os.path.join(d, "done.txt")
    out = os.path.join(d, "big.fpt")
    rows = {}
    w, c, rss, _ = run([py, prog, str(calls), str(threads), mark])
    rows["bare"] = (w, c, rss)
    fprofile = [py, "-m", "fprofile_jupyter.cli"]
    t0 = time.time()
    w, c, rss, _ = run(fprofile + ["run", "-o", out, prog, str(calls), str(threads), mark])
    end = t0 + w
    with open(mark) as f:
        stop = end - float(f.read())
    rows["run"] = (w, c, rss)
    rows["stop"] = (stop, None, None)
    w, c, rss, _ = run(fprofile + ["stats", out, "--top", "5"])
    rows["stats"] = (w, c, rss)
    _, _, base_rss, _ = run([py, "-c", BASE])
    w, c, rss, text = run([py, "-c", LOAD, out])
    recorded = int(text.split()[0])
    rows["load"] = (w, c, rss - base_rss)
    size = os.path.getsize(out)
    return rows, recorded, size


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, nargs="+", default=[12_000_000])
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--dir", default=None)
    ap.add_argument("--json", default=None)
    opts = ap.parse_args()
    results = []
    for calls in opts.calls:
        with tempfile.TemporaryDirectory(dir=opts.dir) as d:
            rows, recorded, size = path_of(calls, opts.threads, opts.python, d)
        results.append({"calls": recorded, "bytes": size, "rows": rows})
        print(f"\n{recorded:,} calls recorded ({opts.threads} threads), {size / recorded:.2f} B/call on disk "
              f"({opts.python})")
        print("| step | peak RSS MB | wall s | CPU s |")
        print("|---|---|---|---|")
        for k, (w, c, rss) in rows.items():
            rss_s = "" if rss is None else (f"+{rss:.0f}" if k == "load" else f"{rss:.0f}")
            print(f"| {k} | {rss_s} | {w:.1f} | {'' if c is None else f'{c:.1f}'} |")
        sys.stdout.flush()
    if opts.json:
        with open(opts.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
