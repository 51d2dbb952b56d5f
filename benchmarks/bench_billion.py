"""The user's path with a long run, step by step (not a test: prints a table).

A program of ``--threads`` threads (default 4) making ``--calls`` Python calls in all (recursive
``fib(22)`` units, 57,313 calls each, split over the threads) is

  bare     run with plain Python (the program's own peak RSS and time)
  run      recorded with ``fprofile run -o big.fpt`` (streamed while it runs; the stop rewrites the
           file compactly, child processes merged in): peak RSS, wall and CPU of the whole command,
           and the stop alone (wall from the program's last statement to the command's end)
  stats    ``fprofile stats big.fpt``
  load     ``fprofile_jupyter.load("big.fpt", backed=False)`` in a fresh Python: every call in
           memory (RSS above that Python's own)
  open     ``fprofile_jupyter.load("big.fpt", backed=True)`` (what ``load()`` of a long run gives,
           and ``prof.trace`` of a streamed recording): the file-backed trace, then what its first
           showing asks (the overview reply, the skeleton, the overall summary); RSS above that
           Python's own, and the trace's own ``_resident_bytes()`` per call
  draw     the first drawing in headless Chromium: ``load(backed=True)``, the notebook widget made
           with it (``TimelineWidget``: windowed), and the widget's page (its own bundle, with a
           stand-in for anywidget's model answered by the real widget in that process:
           benchmarks/bench_window.py's harness) to the first complete drawing (``data-drawn``);
           then 12 zooms and 12 pans answered from the file (median round trip); the Python's RSS
           growth over the whole step (the browser's own memory not counted)
  size     bytes per call of big.fpt

each step in a fresh process, its peak RSS from ``wait4`` (``ru_maxrss``), CPU = user + system.
``--python`` runs the steps with another build's Python (a venv of ``benchmarks/ab.py``'s cache:
the same table for an earlier revision; ``open`` and ``draw`` need this build's ``backed=``).
``--sizes`` takes suffixes: ``12M 100M 200M 1B``. ``--no-draw`` leaves the browser out.

    python benchmarks/bench_billion.py [--sizes 12M 100M 200M 1B] [--threads 4] [--python PY] [--dir DIR]
                                       [--no-draw] [--json FILE]
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

LOAD = "import sys, fprofile_jupyter as f; t = f.load(sys.argv[1], backed=False); print(len(t))"
OPEN = """import sys, fprofile_jupyter as f
from fprofile_jupyter import _windowed
t = f.load(sys.argv[1], backed=True)
_windowed.overview_bytes(t); t.skeleton_bytes(); t.summary_json(overall_only=True)
assert not t.in_memory
print(len(t), t._resident_bytes())"""
BASE = "import sys, fprofile_jupyter as f; print(0)"

# The first drawing: load(backed=True), the widget, the page (bench_window.py's harness); prints
# JSON: open_ms, python_ms (the widget), page_ms (render to the first drawing), the round trips
# of 12 zooms and 12 pans, the RSS growth of this Python (KB) over the step.
DRAW = """import json, os, resource, sys, time
from pathlib import Path
sys.path[:0] = [sys.argv[2], os.path.join(os.path.dirname(sys.argv[2]), "tests")]
import bench_window as bw
from playwright.sync_api import sync_playwright
work = sys.argv[3]
page_path = Path(work) / "page.html"
page_path.write_text(bw.PAGE.format(css=bw._core.asset_css()))
with sync_playwright() as p:
    browser = p.chromium.launch(executable_path=bw.CHROMIUM, headless=True, args=bw.CHROMIUM_ARGS,
                                env=dict(os.environ, XDG_CONFIG_HOME=work + "/xdg", TMPDIR=work))
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    page.set_default_timeout(600_000)
    page.goto(page_path.as_uri())
    page.evaluate(bw.SETUP_JS, [bw._core.asset_bundle("widget")])
    import fprofile_jupyter as f
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    trace = f.load(sys.argv[1], backed=True)
    open_ms = (time.perf_counter() - t0) * 1e3
    r = bw.measure(page, trace, True)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    browser.close()
trips = sorted(t[3] for t in r["trips"])
print(json.dumps({"open_ms": open_ms, "python_ms": r["python_ms"], "page_ms": r["page_ms"],
                  "trip_ms": trips[len(trips) // 2] if trips else None, "rss_kb": after - before,
                  "loaded": trace.in_memory}))"""


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


def path_of(calls, threads, py, d, draw=True):
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
    w, c, rss, text = run([py, "-c", OPEN, out])
    resident = int(text.split()[1])
    rows["open"] = (w, c, rss - base_rss)
    extra = {"resident_b_per_call": resident / max(1, recorded)}
    if draw:
        w, c, rss, text = run([py, "-c", DRAW, out, os.path.dirname(os.path.abspath(__file__)), d])
        got = json.loads(text.strip().splitlines()[-1])
        rows["draw"] = ((got["open_ms"] + got["python_ms"] + got["page_ms"]) / 1e3, None, got["rss_kb"] / 1024)
        extra.update(draw=got)
    size = os.path.getsize(out)
    return rows, recorded, size, extra


def count(text: str) -> int:
    """A number of calls: ``12000000``, ``12M``, ``1B``, ``1.5G``."""
    scale = {"k": 10**3, "m": 10**6, "b": 10**9, "g": 10**9}.get(text[-1:].lower(), 1)
    return int(float(text[:-1] if scale > 1 else text) * scale)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", "--calls", dest="calls", type=count, nargs="+", default=[12_000_000],
                    help="run lengths in calls (12M, 100M, 200M, 1B)")
    ap.add_argument("--no-draw", action="store_true", help="leave out the first drawing in Chromium")
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--dir", default=None)
    ap.add_argument("--json", default=None)
    opts = ap.parse_args()
    results = []
    for calls in opts.calls:
        with tempfile.TemporaryDirectory(dir=opts.dir) as d:
            rows, recorded, size, extra = path_of(calls, opts.threads, opts.python, d, draw=not opts.no_draw)
        results.append({"calls": recorded, "bytes": size, "rows": rows, **extra})
        print(f"\n{recorded:,} calls recorded ({opts.threads} threads), {size / recorded:.2f} B/call on disk "
              f"({opts.python})")
        print("| step | peak RSS MB | wall s | CPU s |")
        print("|---|---|---|---|")
        for k, (w, c, rss) in rows.items():
            rss_s = "" if rss is None else (f"+{rss:.0f}" if k in ("load", "open", "draw") else f"{rss:.0f}")
            print(f"| {k} | {rss_s} | {w:.{2 if k == 'draw' else 1}f} | {'' if c is None else f'{c:.1f}'} |")
        print(f"open: the file-backed trace holds {extra['resident_b_per_call']:.2f} B/call")
        if "draw" in extra:
            d = extra["draw"]
            print(f"draw: open {d['open_ms']:.0f} ms + widget {d['python_ms']:.0f} ms + page {d['page_ms']:.0f} ms; "
                  f"zoom/pan round trip (median) {d['trip_ms']:.0f} ms; calls loaded: {d['loaded']}")
        sys.stdout.flush()
    if opts.json:
        with open(opts.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
