"""Shared helpers of the viewer and HTML export tests (no tests here): synthetic traces, the viewer
process, and page checks."""
from __future__ import annotations

import os
import random
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import List, Optional, Tuple

from fprofile_jupyter import _core

EVIL = "<img src=x onerror=\"window.__fprofile_pwned=1\">"

CODES = [
    ("/app/pipeline/main.py", "main", 1),
    ("/app/pipeline/io.py", "load_data", 12),
    ("/app/pipeline/io.py", "parse_record", 40),
    ("/app/pipeline/compute.py", "compute", 7),
    ("/app/pipeline/compute.py", "fft_block", 30),
    ("/app/pipeline/compute.py", "normalise", 55),
    ("/app/pipeline/io.py", "save_results", 80),
    ("/app/pipeline/worker.py", "worker_loop", 3),
    ("/app/pipeline/worker.py", "handle_item", 20),
    ("/app/pipeline/evil.py", EVIL, 66),
]


def _nest(events: List[Tuple[int, int, bool]], rng: random.Random, t: int, depth: int, budget: int, codes: List[int]) -> int:
    """Append nested calls starting at t; returns the end time."""
    code = rng.choice(codes)
    events.append((t, code, False))
    t += rng.randint(200, 2_000)
    if depth < 5:
        for _ in range(rng.randint(0, 3) if budget > 0 else 0):
            t = _nest(events, rng, t, depth + 1, budget - 1, codes) + rng.randint(100, 1_500)
    else:
        t += rng.randint(1_000, 20_000)
    events.append((t, code, True))
    return t


def make_trace(blocks: int = 40, seed: int = 7, evil: bool = False):
    """Three threads (two overlapping, one later), nested calls; optionally a function and a thread
    named with markup."""
    rng = random.Random(seed)
    base = 1_000_000_000
    threads = []
    main_codes = [1, 2, 3, 4, 5, 6] + ([9] if evil else [])
    ev: List[Tuple[int, int, bool]] = [(base, 0, False)]
    t = base + 1_000
    for _ in range(blocks):
        t = _nest(ev, rng, t, 1, 3, main_codes) + rng.randint(500, 5_000)
    ev.append((t + 1_000, 0, True))
    main_end = t + 1_000
    threads.append((4242, "MainThread", ev))
    wev: List[Tuple[int, int, bool]] = [(base + 50_000, 7, False)]
    t = base + 60_000
    for _ in range(blocks // 2):
        wev.append((t, 8, False))
        t = _nest(wev, rng, t + 500, 2, 2, [2, 4, 5]) + 700
        wev.append((t, 8, True))
        t += rng.randint(1_000, 8_000)
    wev.append((t, 7, True))
    threads.append((4243, ("Worker " + EVIL) if evil else "Worker-1", wev))
    lev: List[Tuple[int, int, bool]] = []
    t = main_end + 10_000
    for _ in range(5):
        t = _nest(lev, rng, t, 1, 2, [6, 5]) + 2_000
    threads.append((4244, "Saver", lev))
    return _core._build_trace(CODES, threads, start_ns=base, stop_ns=t + 10_000, metadata=[("subs", "app/")])


def write_formats(trace, directory: str, stem: str = "trace") -> dict:
    """The trace saved as .fpt, PYME JSON and PYME raw text: {"fpt": path, "json": path, "txt": path}."""
    paths = {}
    for ext in ("fpt", "json", "txt"):
        p = os.path.join(directory, f"{stem}.{ext}")
        trace.save(p)
        paths[ext] = p
    return paths


class Viewer:
    """The viewer in a subprocess on a given port: started, polled until it answers, stopped."""

    def __init__(self, port: int, file: Optional[str] = None, cwd: Optional[str] = None, cli: bool = False,
                 constants: Optional[dict] = None):
        """cli: run `python -m fprofile_jupyter view` (the fprofile CLI) instead of the viewProfile drop-in.
        constants: module constants of `fprofile_jupyter._viewer` set before it starts (limits, timeouts)."""
        entry = ["-m", "fprofile_jupyter", "view"] if cli else ["-m", "fprofile_jupyter.viewProfile"]
        if constants:
            sets = "; ".join(f"v.{k} = {v!r}" for k, v in constants.items())
            entry = ["-c", f"import sys; from fprofile_jupyter import _viewer as v; {sets}; sys.exit(v.main())"]
        args = [sys.executable] + entry + ([file] if file else []) + ["--port", str(port), "--no-browser"]
        self.url = f"http://127.0.0.1:{port}/"
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd,
                                     env=dict(os.environ, BROWSER="false"))

    def wait_ready(self, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                out, err = self.proc.communicate()
                raise AssertionError(f"viewer exited with {self.proc.returncode}: {out}\n{err}")
            try:
                with urllib.request.urlopen(self.url + "api/initial", timeout=2) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.1)  # polling for readiness, not a timed assertion
        raise AssertionError("viewer did not answer")

    def stop(self) -> Tuple[int, str, str]:
        import signal

        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                out, err = self.proc.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                out, err = self.proc.communicate()
        else:
            out, err = self.proc.communicate()
        return self.proc.returncode, out, err

    def __enter__(self) -> "Viewer":
        self.wait_ready()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


PIXELS_JS = """(sel) => {
  const c = document.querySelector(sel);
  const ctx = c.getContext('2d');
  const d = ctx.getImageData(0, 0, c.width, c.height).data;
  const bg = [d[0], d[1], d[2]];
  let n = 0;
  for (let i = 0; i < d.length; i += 4) {
    if (Math.abs(d[i] - bg[0]) + Math.abs(d[i + 1] - bg[1]) + Math.abs(d[i + 2] - bg[2]) > 30) n++;
  }
  return n;
}"""


def wait_drawn(page, timeout_ms: int = 30_000) -> int:
    """Wait for the zoomed view to report drawn boxes; returns how many."""
    page.wait_for_selector("canvas.fprofile-zoom[data-drawn]:not([data-drawn='0'])", timeout=timeout_ms)
    return int(page.get_attribute("canvas.fprofile-zoom", "data-drawn"))


def coloured_pixels(page, selector: str) -> int:
    return page.evaluate(PIXELS_JS, selector)


def make_big_trace(calls: int, threads: int = 4, seed: int = 3):
    """A synthetic trace of about `calls` calls: many short calls in trees up to depth 8."""
    rng = random.Random(seed)
    codes = [(f"/app/mod_{i % 5}.py", f"fn_{i:02d}", i + 1) for i in range(40)]
    per = calls // threads
    out = []
    for t in range(threads):
        ev: List[Tuple[int, int, bool]] = []
        now = 1_000 + 10 * t
        stack: List[int] = []
        for _ in range(per):
            while stack and (len(stack) >= 8 or rng.random() < 0.5):
                now += rng.randint(10, 200)
                ev.append((now, stack.pop(), True))
            code = rng.randrange(len(codes))
            now += rng.randint(10, 300)
            ev.append((now, code, False))
            stack.append(code)
        while stack:
            now += 50
            ev.append((now, stack.pop(), True))
        out.append((100 + t, f"T{t}", ev))
    return _core._build_trace(codes, out, start_ns=0, stop_ns=max(e[-1][0] for _, _, e in out) + 100)


def make_process_trace(evil: bool = False):
    """Four processes merged into one trace (_core.merge, as the recorder's merge does): a parent
    with two threads; a child with two threads and Dask-like task bands on its main thread; a
    child killed halfway (incomplete, exit status -9, on another host, on its own clock); a worker
    on another host whose clock offset is known to +-35 us. `evil`: the killed child's name has markup.
    Returns (trace, info) where info names the bands (label, start and end in the merged trace's ns)."""
    rng = random.Random(11)
    parts = []
    base = 5_000_000_000

    def threads_of(tids, first, blocks, codes):
        out = []
        for k, (tid, name) in enumerate(tids):
            ev: List[Tuple[int, int, bool]] = []
            t = first + k * 3_000
            for _ in range(blocks):
                t = _nest(ev, rng, t, 1, 2, codes) + rng.randint(500, 3_000)
            out.append((tid, name, ev))
        return out

    # the parent: main waits for the pool
    ev = [(base, 0, False), (base + 2_000, 7, False), (base + 400_000, 7, True), (base + 410_000, 0, True)]
    parent = [(4242, "MainThread", ev)] + threads_of([(4243, "QueueFeederThread")], base + 5_000, 6, [1, 2])
    parts.append({"trace": _core._build_trace(CODES, parent, start_ns=base, stop_ns=base + 420_000),
                  "process": {"pid": 5000, "parent_pid": 1, "name": "python pipeline.py", "host": "build-host", "exit_status": 0}})
    # a child with task bands: one band around each top-level call of its main thread
    child = threads_of([(5101, "MainThread"), (5102, "Dask-Default-Thread")], base + 20_000, 12, [3, 4, 5])
    bands = []
    depth = 0
    for t, _code, is_exit in child[0][2]:
        if not is_exit:
            if depth == 0:
                start = t
            depth += 1
        else:
            depth -= 1
            if depth == 0:
                bands.append((5101, start, t, f"('process_chunk-{len(bands):02d}4c8a0e2f1b3d5a7c', {len(bands)})"))
    parts.append({"trace": _core._build_trace(CODES, child, start_ns=base + 15_000, stop_ns=base + 400_000),
                  "process": {"pid": 5001, "parent_pid": 5000, "name": "SpawnProcess-1", "host": "build-host", "exit_status": 0},
                  "bands": bands})
    # a child killed halfway, on another host whose clock could not be measured
    killed = threads_of([(5201, "MainThread")], base + 30_000, 6, [1, 6])
    parts.append({"trace": _core._build_trace(CODES, killed, start_ns=base + 25_000, stop_ns=base + 200_000),
                  "process": {"pid": 5002, "parent_pid": 5000, "name": ("worker " + EVIL) if evil else "SpawnProcess-2",
                              "host": "gpu-node-7", "exit_status": -9, "incomplete": True, "aligned": False}})
    # a worker on another host, its clock 2 us behind, measured to +-35 us
    remote = threads_of([(5301, "MainThread"), (5302, "Worker-Thread")], base + 40_000, 8, [2, 4])
    parts.append({"trace": _core._build_trace(CODES, remote, start_ns=base + 35_000, stop_ns=base + 390_000),
                  "process": {"pid": 5003, "parent_pid": 0, "name": "tcp://10.0.0.9:40123", "host": "node-9",
                              "clock_offset_ns": 2_000, "clock_uncertainty_ns": 35_000}})
    merged = _core.merge(parts)
    return merged, {"bands": [(label, s - merged.origin_ns, e - merged.origin_ns) for _, s, e, label in bands]}


def offline_page(browser, viewport=(1280, 900)):
    """A page that can load file: URLs only: every other request is aborted and recorded."""
    context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
    context.set_offline(True)
    blocked = []

    def guard(route):
        if route.request.url.startswith("file:"):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    context.route("**/*", guard)
    page = context.new_page()
    page.set_default_timeout(30_000)
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    return context, page, blocked, errors
