"""The windowed timeline (issue 13, item 4) against the whole-trace widget, in headless Chromium.

Traces are synthetic, built in Rust (``_core._synthetic_trace``: 8 busy threads, call trees up to
depth 10, 60 functions, 20-400 ns gaps: the shape of bench_widget.py's random trace, seconds for a
hundred million calls), shown by the widget's own bundle (``_core.asset_bundle("widget")``) with a
stand-in for anywidget's model whose custom messages go to the real ``TimelineWidget`` in this
process (through a Playwright binding, base64 both ways, where Jupyter sends binary WebSocket
frames).

Per trace size and mode (``whole``: the .fpt sent; ``windowed``: skeleton + overview, windows
fetched):

- kernel to first drawing = the widget's construction in Python (whole: ``to_bytes`` and the
  summary; windowed: the call index, the overview reply, the skeleton, the summary) + the page's
  ``render`` to the first complete drawing (``data-drawn`` set). The transfer between the two is
  left out (an artefact of the harness here; a local comm moves ~1 GB/s);
- windowed only: round trip of each zoom or pan request, from the page's ``model.send`` to the end
  of the animation frame that draws the reply (the kernel's query, the transfer, decoding, the
  new index, the drawing), its kernel part alone, and the reply's bytes;
- frame time: the animation-frame callbacks during the same 12 wheel zooms and 12 drag steps.

    .venv/bin/python benchmarks/bench_window.py [--sizes 250000,1000000,...] [--big 100000000] [--write]

``--write`` writes benchmarks/results/window.md (the figures quoted in benchmarks/README.md).
"""
from __future__ import annotations

import argparse
import base64
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

from fprofile_jupyter import _core, _widget, _windowed  # noqa: E402

PAGE = """<!doctype html><html><head><meta charset="utf-8"><style>{css}</style></head>
<body style="margin:0"><div id="host" style="width:1400px"></div>
<script>
// every animation-frame callback timed
const raf = window.requestAnimationFrame.bind(window);
window.__frames = [];
window.requestAnimationFrame = (cb) => raf((ts) => {{ const t = performance.now(); cb(ts); window.__frames.push(performance.now() - t); }});
</script></body></html>"""

SETUP_JS = """async ([bundle]) => {
  const url = URL.createObjectURL(new Blob([bundle], { type: 'text/javascript' }));
  window.widget = (await import(url)).default;
  const view = (b64) => { const s = atob(b64); const b = new Uint8Array(s.length); for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i); return new DataView(b.buffer); };
  window.__show = (state) => {
    for (const k of ['data', 'skeleton', 'overview']) state[k] = view(state[k]);
    const handlers = new Map();
    window.__trips = [];
    const model = {
      get: (k) => state[k], set: (k, v) => { state[k] = v; }, save_changes: () => {},
      on: (ev, fn) => { (handlers.get(ev) || handlers.set(ev, new Set()).get(ev)).add(fn); },
      off: (ev, fn) => { handlers.get(ev)?.delete(fn); },
      // a window request: to the kernel (Python) and back; timed to the end of the frame drawing it
      send: async (content) => {
        const t0 = performance.now();
        const [b64, kernelMs] = await window.__kernel(content);
        const tIn = performance.now();
        const root = document.querySelector('.fprofile-root');
        const drawn = new Promise((resolve) => {
          const obs = new MutationObserver(() => { obs.disconnect(); requestAnimationFrame(() => resolve(performance.now())); });
          obs.observe(root, { attributes: true, attributeFilter: ['data-window-reply'] });
        });
        for (const fn of handlers.get('msg:custom') || []) fn({ type: 'window', id: content.id }, [view(b64)]);
        const tDrawn = await drawn;
        window.__trips.push([performance.now() - t0, kernelMs, b64.length * 3 / 4, tDrawn - t0, tDrawn - tIn]);
      },
    };
    const el = document.getElementById('host');
    el.replaceChildren();
    const t0 = performance.now();
    return new Promise((resolve) => {
      const obs = new MutationObserver(() => {
        const z = el.querySelector('canvas.fprofile-zoom[data-drawn]');
        if (z && Number(z.getAttribute('data-drawn')) > 0) { obs.disconnect(); resolve(performance.now() - t0); }
      });
      obs.observe(el, { subtree: true, attributes: true, childList: true, attributeFilter: ['data-drawn'] });
      window.__cleanup = widget.render({ model, el });
    });
  };
}"""

SETTLED = """() => { const r = document.querySelector('.fprofile-root').dataset;
  return r.windowed !== 'live' || (r.windowSent === String(window.__trips.length) && r.windowSent === r.windowReceived); }"""


def b64(v: bytes) -> str:
    return base64.b64encode(v).decode()


def measure(page, trace, windowed: bool) -> dict:
    """One showing of `trace` in `page`, then 12 wheel zooms in and 12 drag steps."""
    _windowed.WINDOWED_CALLS = 0 if windowed else 10**12
    t = time.perf_counter()
    w = _widget.TimelineWidget(trace)
    python_ms = (time.perf_counter() - t) * 1e3
    assert w.windowed == windowed
    sent = len(w.data) if not windowed else len(w.skeleton) + len(w.overview)

    def kernel(content):
        t = time.perf_counter()
        reply = trace.window_bytes(int(content["t0"]), int(content["t1"]), int(content["px"]))
        return [b64(reply), (time.perf_counter() - t) * 1e3]

    page.expose_function("__kernel", kernel) if not getattr(page, "_kernel_exposed", False) else None
    page._kernel_exposed = True
    state = {"data": b64(w.data), "summary": w.summary, "error": "", "height": 0, "window_start_ns": None,
             "window_end_ns": None, "windowed": w.windowed, "skeleton": b64(w.skeleton), "overview": b64(w.overview),
             "calls": w.calls}
    page_ms = page.evaluate("(s) => window.__show(s)", state)
    zoom = page.query_selector("canvas.fprofile-zoom").bounding_box()
    cx, cy = zoom["x"] + zoom["width"] * 0.47, zoom["y"] + min(120, zoom["height"] * 0.4)
    page.mouse.move(cx, cy)
    frames = []
    for _ in range(12):
        page.evaluate("() => { window.__frames = []; }")
        page.mouse.wheel(0, -240)
        page.wait_for_function("() => window.__frames.length > 0")
        page.wait_for_function(SETTLED, timeout=120_000)
        page.wait_for_timeout(20)
        frames.extend(page.evaluate("() => window.__frames"))
    page.mouse.down()
    for i in range(12):
        page.evaluate("() => { window.__frames = []; }")
        page.mouse.move(cx - (i + 1) * 40, cy)
        page.wait_for_function("() => window.__frames.length > 0")
        page.wait_for_function(SETTLED, timeout=120_000)
        page.wait_for_timeout(20)
        frames.extend(page.evaluate("() => window.__frames"))
    page.mouse.up()
    trips = page.evaluate("() => window.__trips")
    page.evaluate("() => window.__cleanup()")
    return {"python_ms": python_ms, "page_ms": page_ms, "first_ms": python_ms + page_ms, "sent_bytes": sent,
            "frames": frames, "trips": trips}


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def run(sizes: list, big: int, repeat: int) -> list:
    from playwright.sync_api import sync_playwright

    out = []
    work = tempfile.mkdtemp(prefix="fprofile-bench-window-")
    page_path = Path(work) / "page.html"
    page_path.write_text(PAGE.format(css=_core.asset_css()))
    plan = [(n, False) for n in sizes] + [(n, True) for n in sizes] + ([(big, True)] if big else [])
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
                                    env=dict(os.environ, XDG_CONFIG_HOME=f"{work}/xdg", TMPDIR=work))
        try:
            for calls, windowed in plan:
                t = time.perf_counter()
                trace = _core._synthetic_trace(calls, 8, 1)
                build_s = time.perf_counter() - t
                runs = []
                for r in range(repeat):
                    if windowed and r > 0:
                        # each repeat on a trace not yet indexed: the first showing's cost
                        trace = _core._synthetic_trace(calls, 8, 1)
                    page = browser.new_page(viewport={"width": 1440, "height": 1000})
                    page.set_default_timeout(120_000)
                    page.goto(page_path.as_uri())
                    page.evaluate(SETUP_JS, [_core.asset_bundle("widget")])
                    runs.append(measure(page, trace, windowed))
                    page.close()
                    print(f"{calls:>11,} {'windowed' if windowed else 'whole':8} first {runs[-1]['first_ms']:.0f} ms", file=sys.stderr)
                again = None
                if windowed:
                    # the same trace shown again (its index built): what a second view costs
                    page = browser.new_page(viewport={"width": 1440, "height": 1000})
                    page.goto(page_path.as_uri())
                    page.evaluate(SETUP_JS, [_core.asset_bundle("widget")])
                    again = measure(page, trace, True)["first_ms"]
                    page.close()
                trips = [t for r in runs for t in r["trips"]]
                out.append({
                    "calls": len(trace), "windowed": windowed, "build_s": build_s,
                    "first_ms": [r["first_ms"] for r in runs], "python_ms": median([r["python_ms"] for r in runs]),
                    "page_ms": median([r["page_ms"] for r in runs]), "sent_bytes": runs[0]["sent_bytes"],
                    "frame_ms": (median([f for r in runs for f in r["frames"]]),
                                 sorted(f for r in runs for f in r["frames"])[int(0.9 * sum(len(r["frames"]) for r in runs))]),
                    "trip_ms": median([t[3] for t in trips]), "trip_p90_ms": sorted(t[3] for t in trips)[int(0.9 * len(trips))] if trips else float("nan"),
                    "kernel_ms": median([t[1] for t in trips]), "page_trip_ms": median([t[4] for t in trips]), "reply_bytes": (median([t[2] for t in trips]), max((t[2] for t in trips), default=0)),
                    "requests": len(trips) / max(1, len(runs)), "again_ms": again,
                })
                del trace
        finally:
            browser.close()
    return out


LAB_OBSERVER_JS = """() => {
  // round trips through the real comm: from a request's send (data-window-sent grows) to the end
  // of the frame that draws its reply (data-window-reply set)
  const root = document.querySelector('.fprofile-root[data-windowed=live]');
  window.__trips = [];
  let sentAt = null;
  new MutationObserver((records) => {
    for (const r of records) {
      // (the counts are rewritten on every view change: only a new value is a new request)
      if (r.attributeName === 'data-window-sent' && r.oldValue !== root.dataset.windowSent) sentAt = performance.now();
      if (r.attributeName === 'data-window-reply' && sentAt !== null) {
        const t0 = sentAt;
        sentAt = null;
        requestAnimationFrame(() => window.__trips.push(performance.now() - t0));
      }
    }
  }).observe(root, { attributes: true, attributeOldValue: true, attributeFilter: ['data-window-sent', 'data-window-reply'] });
}"""


def run_lab(calls: int) -> dict:
    """The windowed widget in a real JupyterLab (kernel, comm, widget manager): the kernel's time to
    the first drawing and the round trips of 12 zooms and 12 pans through the real comm."""
    import json
    import shutil

    from playwright.sync_api import sync_playwright
    from test_browser_lab import KERNEL_IDLE, jupyter_server

    work = Path(tempfile.mkdtemp(prefix="fprofile-bench-lab-"))
    (work / "root").mkdir()
    cells = [
        ["from fprofile_jupyter import _core, _widget, _windowed\n", f"trace = _core._synthetic_trace({calls}, 8, 1)\n",
         "_windowed.WINDOWED_CALLS = 0"],
        ["import time\n", "t = time.perf_counter()\n", "w = _widget.TimelineWidget(trace)\n",
         "python_ms = (time.perf_counter() - t) * 1e3\n", "w"],
    ]
    nb = {"cells": [{"cell_type": "code", "execution_count": None, "id": f"c{i}", "metadata": {}, "outputs": [], "source": c}
                    for i, c in enumerate(cells)],
          "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
          "nbformat": 4, "nbformat_minor": 5}
    (work / "root" / "bench.ipynb").write_text(json.dumps(nb))
    out = {}
    try:
        with jupyter_server(work, "lab") as url, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1440, "height": 1000})
            page.set_default_timeout(600_000)
            page.goto(url + "/lab/tree/bench.ipynb")
            page.wait_for_function(KERNEL_IDLE)
            page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
            page.wait_for_function("() => document.querySelector('.fprofile-root[data-windowed=live] canvas.fprofile-zoom[data-drawn]')")
            page.wait_for_function(KERNEL_IDLE)
            page.evaluate(LAB_OBSERVER_JS)
            canvas = page.query_selector(".fprofile-root[data-windowed=live] canvas.fprofile-zoom")
            canvas.scroll_into_view_if_needed()
            box = canvas.bounding_box()
            cx, cy = box["x"] + box["width"] * 0.47, box["y"] + box["height"] * 0.4
            page.mouse.move(cx, cy)
            settled = """() => { const r = document.querySelector('.fprofile-root[data-windowed=live]').dataset;
              return r.windowSent === r.windowReceived && window.__trips.length >= Number(r.windowReceived) - 0; }"""
            for _ in range(12):
                page.mouse.wheel(0, -240)
                page.wait_for_timeout(50)
                page.wait_for_function(settled)
            page.mouse.down()
            for i in range(12):
                page.mouse.move(cx - (i + 1) * 40, cy)
                page.wait_for_timeout(50)
                page.wait_for_function(settled)
            page.mouse.up()
            out["trips"] = page.evaluate("() => window.__trips")
            browser.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return out


def report(rows: list, repeat: int) -> str:
    lines = [
        "# Windowed timeline benchmark (headless Chromium)",
        "",
        f"`benchmarks/bench_window.py`: synthetic traces built in Rust (`_core._synthetic_trace`, 8 threads), "
        f"shown by the widget's bundle with a stand-in model whose window requests are answered by the real "
        f"`TimelineWidget` in the benchmark's process; Chromium headless, software rendering, {platform.machine()}, "
        f"{os.cpu_count()} cores shared with other jobs; medians of {repeat} showings (each on a trace not yet indexed).",
        "",
        "| calls | mode | kernel → first drawing (Python + page) | sent first | frame median / p90 | request round trip median / p90 (kernel part; page part) | reply bytes median / max | requests per run |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        first = median(r["first_ms"])
        mode = "windowed" if r["windowed"] else "whole"
        trip = (f"{r['trip_ms']:.0f} / {r['trip_p90_ms']:.0f} ms ({r['kernel_ms']:.1f} ms; {r['page_trip_ms']:.0f} ms)" if r["windowed"] else "—")
        replies = (f"{r['reply_bytes'][0] / 1e3:.0f} kB / {r['reply_bytes'][1] / 1e3:.0f} kB" if r["windowed"] else "—")
        again = f"; shown again: {r['again_ms']:.0f} ms" if r.get("again_ms") else ""
        lines.append(f"| {r['calls']:,} | {mode} | {first:.0f} ms ({r['python_ms']:.0f} + {r['page_ms']:.0f}){again} | "
                     f"{r['sent_bytes'] / 1e6:.2f} MB | {r['frame_ms'][0]:.1f} / {r['frame_ms'][1]:.1f} ms | {trip} | {replies} | "
                     f"{r['requests']:.0f} |" if r["windowed"] else
                     f"| {r['calls']:,} | {mode} | {first:.0f} ms ({r['python_ms']:.0f} + {r['page_ms']:.0f}) | "
                     f"{r['sent_bytes'] / 1e6:.2f} MB | {r['frame_ms'][0]:.1f} / {r['frame_ms'][1]:.1f} ms | — | — | — |")
    lines += [
        "",
        "Kernel → first drawing = constructing the widget in Python (whole: `Trace.to_bytes()` and the summary; "
        "windowed: the call index, built once per trace, the overview reply at 2000 px, the skeleton and the summary) "
        "plus the page's `render` to the zoomed view's first `data-drawn` (decode, layout, drawing); the transfer "
        "between them is left out. Round trip = from the page's `model.send` to the end of the animation frame that "
        "draws the reply (query, transfer through the harness as base64, decoding, index, drawing); kernel part = "
        "`Trace.window_bytes` alone; page part = from the reply's arrival in the page to the end of the frame drawing it (decoding, index, drawing); the rest is the harness's transfer (base64 through Playwright). Frames = the animation-frame callbacks during 12 wheel zooms in and 12 drag steps.",
        "",
        "Command: `.venv/bin/python benchmarks/bench_window.py --write`",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="250000,1000000,2000000,4000000,8000000",
                    help="trace sizes shown both ways (comma-separated)")
    ap.add_argument("--big", type=int, default=100_000_000, help="the large trace shown windowed only (0: none)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--write", action="store_true", help="write benchmarks/results/window.md")
    ap.add_argument("--lab", type=int, default=0, metavar="CALLS",
                    help="instead: round trips of a windowed widget of CALLS calls in a real JupyterLab")
    args = ap.parse_args()
    if args.lab:
        trips = run_lab(args.lab)["trips"]
        text = (f"Real JupyterLab, {args.lab:,} calls: {len(trips)} window requests through the comm, round trip "
                f"(send to the end of the frame drawing the reply) median {statistics.median(trips):.0f} ms, "
                f"p90 {sorted(trips)[int(0.9 * len(trips))]:.0f} ms, max {max(trips):.0f} ms")
        print(text)
        if args.write:
            (HERE / "results" / "window_lab.md").write_text(text + "\n\nCommand: `.venv/bin/python benchmarks/bench_window.py --lab "
                                                            f"{args.lab} --write`\n")
        return
    rows = run([int(s) for s in args.sizes.split(",") if s], args.big, args.repeat)
    text = report(rows, args.repeat)
    print(text)
    if args.write:
        (HERE / "results" / "window.md").write_text(text)


if __name__ == "__main__":
    main()
