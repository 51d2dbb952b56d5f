"""Benchmark of the live views (not a test: prints figures; benchmarks/README.md "Live views").

1. Overhead: the same call-heavy program (``--units`` units of recursive ``fib(18)``, 8,361 calls
   each) under ``fprofile run -o x.fpt`` (the streamed recording alone) and under ``fprofile run
   --live`` with the page open in headless Chromium (the viewer reloading the file, the page
   fetching each generation); the program's own wall time of its work, configurations alternating,
   median of ``--rounds``.
2. Update latency: a program calls a function it has never called, at a moment the benchmark
   chooses (a file it creates), and writes the time of that call; the time the open page's summary
   first lists that function, minus it (``--markers`` of them, one run).
3. Bytes per update: what the page fetched per generation in (1) (skeleton, overview, summary and
   the window it shows: every response under ``api/trace/``), the mean and the largest; and the
   notebook's update (``_livewidget.live_payload``: skeleton, overview, last window, summary) on a
   streamed file of ``--widget-calls`` calls, with the kernel-side time of one update (load +
   payload).

    python benchmarks/bench_live.py [--units 400] [--rounds 3] [--markers 5] [--widget-calls 2000000]
"""
from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time

WORK = textwrap.dedent('''
    import sys, time

    def fib(n):
        return n if n < 2 else fib(n - 1) + fib(n - 2)

    t0 = time.perf_counter()
    for _ in range(int(sys.argv[1])):
        fib(18)
    print("work_s", time.perf_counter() - t0, flush=True)
''')

MARKERS = textwrap.dedent('''
    import os, sys, time

    def early(i):
        return i

    n = int(sys.argv[1])
    k = 0
    while k < n and not os.path.exists("stop"):
        for i in range(50):
            early(i)
        if os.path.exists(f"go{k}"):
            globals()[f"marker_{k}"]()
            with open(f"t{k}", "w") as f:
                f.write(repr(time.time()))
            k += 1
        time.sleep(0.002)
''')


def markers_program(n: int) -> str:
    """MARKERS with marker_0 ... marker_{n-1} defined in the file (so that they are recorded)."""
    defs = "".join(f"def marker_{k}():\n    return {k}\n\n" for k in range(n))
    return defs + MARKERS


CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-dev-shm-usage"]
ENV = dict(os.environ, BROWSER="false", PYTHONUNBUFFERED="1")


def fprofile(*args: str, cwd: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "fprofile_jupyter", *args], cwd=cwd, env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def end(proc: subprocess.Popen) -> str:
    """Ctrl-C until the run (and its live view) ended; its stdout."""
    out = []
    for _ in range(5):
        if proc.poll() is not None:
            break
        proc.send_signal(signal.SIGINT)
        try:
            o, _e = proc.communicate(timeout=20)
            out.append(o)
        except subprocess.TimeoutExpired:
            pass
    if proc.poll() is None:
        proc.kill()
    o, _e = proc.communicate()
    out.append(o or "")
    return "".join(out)


def url_of(proc: subprocess.Popen, seen: list) -> str:
    while True:
        line = proc.stdout.readline()
        assert line, "".join(seen)
        seen.append(line)
        m = re.search(r"fprofile viewer: (http://127\.0\.0\.1:\d+/)", line)
        if m:
            return m.group(1)


def overhead(browser, units: int, rounds: int, work: str) -> None:
    with open(os.path.join(work, "work.py"), "w") as f:
        f.write(WORK)
    alone, live, fetched, gens = [], [], [], []
    for r in range(rounds):
        p = fprofile("run", "-o", "alone.fpt", "work.py", str(units), cwd=work)
        o, _e = p.communicate(timeout=600)
        alone.append(float(re.search(r"work_s (\S+)", o).group(1)))
        p = fprofile("run", "--live", "-o", "live.fpt", "work.py", str(units), cwd=work)
        seen: list = []
        url = url_of(p, seen)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        sizes: list = []
        page.on("response", lambda resp, sizes=sizes: sizes.append(len(resp.body())) if "/api/trace/" in resp.url else None)
        page.goto(url)
        page.wait_for_selector(".fprofile-page-live[data-live='ended']", timeout=600_000)
        gen = int(page.get_attribute(".fprofile-root", "data-live-gen") or 0)
        context.close()
        out = "".join(seen) + end(p)
        live.append(float(re.search(r"work_s (\S+)", out).group(1)))
        fetched.append(sizes)
        gens.append(gen)
        print(f"round {r + 1}: alone {alone[-1]:.3f} s, live {live[-1]:.3f} s, {gen} generations", flush=True)
    a, b = statistics.median(alone), statistics.median(live)
    print(f"overhead: {units} units of fib(18) ({units * 8361:,} calls): streamed alone {a:.3f} s, with the live view "
          f"open {b:.3f} s: x{b / a:.3f} (median of {rounds})")
    per_gen = [sum(s) / max(1, g) for s, g in zip(fetched, gens)]
    print(f"viewer bytes fetched per generation: mean {statistics.median(per_gen) / 1024:.1f} kB, largest response "
          f"{max(max(s) for s in fetched if s) / 1024:.1f} kB (the final whole trace included)")


def latency(browser, markers: int, work: str) -> None:
    with open(os.path.join(work, "markers.py"), "w") as f:
        f.write(markers_program(markers))
    for name in os.listdir(work):
        if re.fullmatch(r"(go|t)\d+|stop", name):
            os.unlink(os.path.join(work, name))
    p = fprofile("run", "--live", "-o", "markers.fpt", "markers.py", str(markers), cwd=work)
    seen: list = []
    url = url_of(p, seen)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(url)
    page.wait_for_selector(".fprofile-page-live[data-live='live']", timeout=60_000)
    lat = []
    for k in range(markers):
        open(os.path.join(work, f"go{k}"), "w").close()
        page.wait_for_function(f"() => document.querySelector('table.fprofile-summary')?.innerText.includes('marker_{k}')",
                               polling=20, timeout=60_000)
        seen_at = time.time()
        while not os.path.exists(os.path.join(work, f"t{k}")):
            time.sleep(0.01)
        with open(os.path.join(work, f"t{k}")) as f:
            lat.append(seen_at - float(f.read() or seen_at))
    open(os.path.join(work, "stop"), "w").close()
    context.close()
    end(p)
    print(f"update latency (a call to its drawing in the page): median {statistics.median(lat) * 1000:.0f} ms, "
          f"max {max(lat) * 1000:.0f} ms over {markers} calls ({', '.join(f'{x * 1000:.0f}' for x in lat)} ms)")


def widget(calls: int, work: str) -> None:
    import fprofile_jupyter
    from fprofile_jupyter import _core, _livewidget

    path = os.path.join(work, "widget.fpt")
    src = "def leaf(i):\n    return i\n\ndef branch(i):\n    return leaf(i)\n"
    mod = os.path.join(work, "bench_live_mod.py")
    with open(mod, "w") as f:
        f.write(src)
    sys.path.insert(0, work)
    import bench_live_mod

    prof = fprofile_jupyter.profile(subs=[mod], outfile=path, processes=False)
    prof.start()
    for i in range(calls // 2):
        bench_live_mod.branch(i)
    prof._session.recorder.flush()
    times, sizes = [], None
    for _ in range(5):
        t0 = time.perf_counter()
        trace = _core.load(path)
        payload = _livewidget.live_payload(trace)
        times.append(time.perf_counter() - t0)
        sizes = {k: len(payload[k]) for k in ("skeleton", "overview", "last", "summary")}
    prof.stop()
    total = sum(sizes.values())
    print(f"notebook update of {len(trace):,} calls (streamed, still recording): {total / 1024:.1f} kB "
          f"({', '.join(f'{k} {v / 1024:.1f} kB' for k, v in sizes.items())}); kernel time per update "
          f"{statistics.median(times) * 1000:.0f} ms (load + payload, median of 5)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--units", type=int, default=400)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--markers", type=int, default=5)
    ap.add_argument("--widget-calls", type=int, default=2_000_000)
    opts = ap.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="bench-live-") as work, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=os.environ.get("FPROFILE_CHROMIUM", "/usr/bin/chromium"),
                                     headless=True, args=CHROMIUM_ARGS)
        try:
            print(f"Python {sys.version.split()[0]}, {os.cpu_count()} cores", flush=True)
            overhead(browser, opts.units, opts.rounds, work)
            latency(browser, opts.markers, work)
            widget(opts.widget_calls, work)
        finally:
            browser.close()


if __name__ == "__main__":
    main()
