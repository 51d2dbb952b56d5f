"""The timeline widget on a one-million-call trace, in headless Chromium.

Measures what the notebook user waits for:

- payload: the bytes that cross the comm channel (``Trace.to_bytes()``, the ``data`` trait);
- first drawing: from the data's arrival in the browser (the widget's ``render`` called with a
  model holding the bytes, as anywidget does when the comm opens) to the first complete drawing
  (the zoomed view's ``data-drawn`` attribute set with boxes drawn);
- zoom and pan frames: the time spent in each animation frame that redraws after a mouse-wheel
  zoom or a drag (the page's ``requestAnimationFrame`` callbacks are timed), median and p90.

The page is the widget's own bundle (``_core.asset_bundle("widget")``: the timeline + js/hosts/widget.js)
with a minimal stand-in for anywidget's model (get/set/on/off/save_changes); no Jupyter server, so
the figures are the widget's, not the network's. Targets (issue 4): payload <= 4 MB, first drawing
<= 1 s, median frame <= 16 ms.

    .venv/bin/python benchmarks/bench_widget.py [--calls 1000000] [--repeat 3] [--write]

``--write`` writes benchmarks/results/widget.md.
"""
from __future__ import annotations

import argparse
import base64
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests"))

from conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

from fprofile_jupyter import _core  # noqa: E402

FUNCTIONS = 60
THREADS = 8


def synthetic_trace(calls: int, seed: int = 1):
    """A trace shaped like a busy multi-threaded run: THREADS threads, call trees up to depth 10,
    FUNCTIONS functions in 6 files, durations from 200 ns to milliseconds."""
    rng = random.Random(seed)
    codes = [(f"/home/user/project/module_{i % 6}.py", f"function_{i:02d}", 10 + 7 * i) for i in range(FUNCTIONS)]
    per_thread = calls // THREADS
    threads = []
    for t in range(THREADS):
        events = []
        now = 1_000 + t * 37
        made = 0
        while made < per_thread:
            # one top-level call with a random tree under it, written as call/return events
            stack = []
            budget = min(per_thread - made, rng.randint(1, 400))
            for _ in range(budget):
                while stack and (len(stack) >= 10 or rng.random() < 0.45):
                    now += rng.randint(20, 300)
                    events.append((now, stack.pop(), True))
                code = rng.randrange(FUNCTIONS)
                now += rng.randint(20, 400)
                events.append((now, code, False))
                stack.append(code)
                made += 1
            while stack:
                now += rng.randint(20, 3000)
                events.append((now, stack.pop(), True))
            now += rng.randint(100, 20_000)
        threads.append((100 + t, f"worker-{t}" if t else "MainThread", events))
    end = max(ev[-1][0] for _, _, ev in threads) + 1_000
    return _core._build_trace(codes, threads, start_ns=0, stop_ns=end,
                              metadata=[("title", f"synthetic {calls:,} calls")])


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


class Item:
    def __init__(self, v):
        self.v = v

    def value(self):
        return self.v

    def scaled(self, k):
        return self.value() * k


def _thread_work(rounds):
    total = 0
    for i in range(rounds):
        total += fib(17 + i % 3)
        for j in range(200):
            total += Item(j).scaled(2)
    return total


def recorded_trace(calls: int):
    """A real recording with the profiler: fib recursion and method calls on 4 threads."""
    import threading

    import fprofile_jupyter

    per_round = (2 * 2584 - 1 + 2 * 4181 - 1 + 2 * 6765 - 1) / 3 + 200 * 3  # fib(17..19) + 600 methods
    rounds = max(1, round(calls / 4 / per_round * 1.03 + 0.5))  # at least `calls`
    with fprofile_jupyter.profile(subs=[os.path.basename(__file__)]) as prof:
        threads = [threading.Thread(target=_thread_work, args=(rounds,), name=f"worker-{i}") for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    return prof.trace


PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><style>{css}</style></head>
<body style="margin:0;font-family:sans-serif"><div id="host" style="width:1400px"></div>
<script>
  // time every animation frame callback (the timeline draws in requestAnimationFrame)
  window.__frames = [];
  const raf = window.requestAnimationFrame.bind(window);
  window.requestAnimationFrame = (cb) => raf((ts) => {{
    const t0 = performance.now();
    cb(ts);
    window.__frames.push(performance.now() - t0);
  }});
</script>
<script type="module">
// load the widget's ES module as anywidget does (a blob URL)
window.__load = async (source) => {{
  const url = URL.createObjectURL(new Blob([source], {{ type: "text/javascript" }}));
  window.__widget = (await import(url)).default;
}};
// a minimal stand-in for anywidget's model
function makeModel(bytes, summary) {{
  const state = {{ data: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), summary,
                  error: "", height: 0, window_start_ns: null, window_end_ns: null }};
  const handlers = new Map();
  return {{
    get: (k) => state[k],
    set: (k, v) => {{ state[k] = v; }},
    save_changes: () => {{}},
    on: (ev, fn) => {{ (handlers.get(ev) || handlers.set(ev, new Set()).get(ev)).add(fn); }},
    off: (ev, fn) => {{ handlers.get(ev)?.delete(fn); }},
    send: () => {{}},
  }};
}}
window.__show = async (b64, summary) => {{
  const bin = atob(b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  const el = document.getElementById("host");
  el.replaceChildren();
  const model = makeModel(bytes, summary);
  const drawn = new Promise((resolve) => {{
    const obs = new MutationObserver(() => {{
      const z = el.querySelector("canvas.fprofile-zoom[data-drawn]");
      if (z && Number(z.getAttribute("data-drawn")) > 0) {{ obs.disconnect(); resolve(performance.now()); }}
    }});
    obs.observe(el, {{ subtree: true, attributes: true, childList: true, attributeFilter: ["data-drawn"] }});
  }});
  const t0 = performance.now();   // the data has arrived: anywidget calls render now
  window.__cleanup = __widget.render({{ model, el }});
  const t1 = await drawn;
  return t1 - t0;
}};
window.__ready = true;
</script></body></html>"""


def run(calls: int, repeat: int, kind: str, min_duration: str = "") -> dict:
    from playwright.sync_api import sync_playwright

    t = time.perf_counter()
    trace = recorded_trace(calls) if kind == "recorded" else synthetic_trace(calls)
    build_s = time.perf_counter() - t
    payload = trace.to_bytes()
    summary = trace.summary_json(overall_only=True)  # what the widget sends (the page computes the rest)
    bundle = _core.asset_bundle("widget")
    page_html = PAGE.format(css=_core.asset_css())
    b64 = base64.b64encode(payload).decode()

    work = tempfile.mkdtemp(prefix="fprofile-bench-")
    path = Path(work) / "bench.html"
    path.write_text(page_html)
    firsts, zoom_frames, pan_frames, zoom_factors, filter_ms = [], [], [], [], []
    kept = ""
    # with --min-duration: the filter is applied (js/filters.js; the time from the input's change to
    # the end of the handler: kept calls, their index, the table's summary) before the frames are timed
    apply_filter = """(text) => {
      const input = document.querySelector('input.fprofile-min-duration');
      input.value = text;
      const t = performance.now();
      input.dispatchEvent(new Event('change'));
      return [performance.now() - t, document.querySelector('.fprofile-filter-kept').textContent];
    }"""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
                                    env=dict(os.environ, XDG_CONFIG_HOME=f"{work}/xdg", TMPDIR=work))
        try:
            for _ in range(repeat):
                page = browser.new_page(viewport={"width": 1440, "height": 1000})
                page.set_default_timeout(120_000)
                page.goto(path.as_uri())
                page.wait_for_function("() => window.__ready === true")
                page.evaluate("(src) => window.__load(src)", bundle)
                firsts.append(page.evaluate("([b, s]) => window.__show(b, s)", [b64, summary]))
                if min_duration:
                    ms, kept = page.evaluate(apply_filter, min_duration)
                    filter_ms.append(ms)
                zoom = page.query_selector("canvas.fprofile-zoom")
                box = zoom.bounding_box()
                cx, cy = box["x"] + box["width"] * 0.5, box["y"] + min(120, box["height"] * 0.4)
                page.mouse.move(cx, cy)
                page.wait_for_timeout(200)
                # zoom in step by step around the cursor, then back out
                window = "() => { const r = document.querySelector('.fprofile-root'); " \
                         "return Number(r.dataset.windowEndNs) - Number(r.dataset.windowStartNs); }"
                full_ns = page.evaluate(window)
                for step, direction in enumerate([-1] * 12 + [1] * 12):
                    if step == 12:
                        zoomed_ns = page.evaluate(window)
                        if not zoomed_ns < full_ns / 4:  # the wheel must really have zoomed
                            raise RuntimeError(f"the wheel did not zoom: window {full_ns} -> {zoomed_ns} ns")
                        zoom_factors.append(full_ns / zoomed_ns)
                    page.evaluate("() => { window.__frames = []; }")
                    page.mouse.wheel(0, 120 * direction)
                    page.wait_for_function("() => window.__frames.length > 0")
                    page.wait_for_timeout(30)
                    zoom_frames.extend(page.evaluate("() => window.__frames"))
                # zoom in a bit, then pan by dragging
                for _ in range(4):
                    page.mouse.wheel(0, -120)
                page.wait_for_timeout(200)
                page.mouse.move(cx, cy)
                page.mouse.down()
                for i in range(24):
                    page.evaluate("() => { window.__frames = []; }")
                    page.mouse.move(cx + (i % 12 - 6) * 25, cy)
                    page.wait_for_function("() => window.__frames.length > 0")
                    page.wait_for_timeout(30)
                    pan_frames.extend(page.evaluate("() => window.__frames"))
                page.mouse.up()
                page.close()
        finally:
            browser.close()
    try:
        chromium = subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        chromium = "chromium"
    q = lambda xs, f: sorted(xs)[min(len(xs) - 1, int(len(xs) * f))]  # noqa: E731
    return {
        "calls": len(trace), "threads": len(trace.threads), "build_s": build_s,
        "payload_bytes": len(payload), "summary_bytes": len(summary.encode()),
        "first_draw_ms": firsts, "zoom_ms": (statistics.median(zoom_frames), q(zoom_frames, 0.9), len(zoom_frames)),
        "pan_ms": (statistics.median(pan_frames), q(pan_frames, 0.9), len(pan_frames)),
        "chromium": chromium, "kind": kind, "zoom_factor": statistics.median(zoom_factors),
        "min_duration": min_duration, "filter_ms": filter_ms, "kept": kept,
    }


KINDS = {
    "recorded": "a real recording (`fprofile_jupyter.profile`: fib(17..19) recursion and method "
                "calls on 4 threads, nanosecond timestamps)",
    "random": "a synthetic worst case (8 threads, 60 functions drawn at random, random call trees "
              "up to depth 10, uniformly random gaps of 20-400 ns between events: close to "
              "incompressible)",
}


def report(results: list) -> str:
    ok = lambda b: "yes" if b else "NO"  # noqa: E731
    r0 = results[0]
    lines = [
        "# Widget benchmark (headless Chromium)",
        "",
        f"`benchmarks/bench_widget.py`: one-million-call traces shown by the widget's own bundle "
        f"(`_core.asset_bundle(\"widget\")`: the timeline + js/hosts/widget.js, loaded from a blob URL as "
        f"anywidget does, with a stand-in model) in {r0['chromium']} (headless, software rendering, "
        f"{platform.machine()}, {os.cpu_count()} cores shared with other jobs).",
        "",
    ]
    for r in results:
        first = statistics.median(r["first_draw_ms"])
        lines += [
            f"## {r['calls']:,} calls, {r['threads']} threads: {KINDS[r['kind']]}",
            "",
            "| measure | value | target | met |",
            "|---|---|---|---|",
            f"| payload (`data` trait, .fpt) | {r['payload_bytes'] / 1e6:.2f} MB ({r['payload_bytes'] / r['calls']:.2f} bytes/call) "
            f"| <= 4 MB | {ok(r['payload_bytes'] <= 4_000_000)} |",
            f"| summary JSON (`summary` trait) | {r['summary_bytes'] / 1e3:.1f} kB | | |",
            f"| data arrival -> first full drawing (median of {len(r['first_draw_ms'])}) | {first:.0f} ms "
            f"(runs: {', '.join(f'{x:.0f}' for x in r['first_draw_ms'])}) | <= 1000 ms | {ok(first <= 1000)} |",
            f"| zoom frame (wheel, down to 1/{r['zoom_factor']:,.0f} of the run), median / p90 of {r['zoom_ms'][2]} | {r['zoom_ms'][0]:.1f} / {r['zoom_ms'][1]:.1f} ms "
            f"| <= 16 ms median | {ok(r['zoom_ms'][0] <= 16)} |",
            f"| pan frame (drag), median / p90 of {r['pan_ms'][2]} | {r['pan_ms'][0]:.1f} / {r['pan_ms'][1]:.1f} ms "
            f"| <= 16 ms median | {ok(r['pan_ms'][0] <= 16)} |",
        ]
        if r["min_duration"]:
            lines.insert(len(lines) - 2, f"| applying the filter \"shorter than {r['min_duration']}\" ({r['kept']}; frames above with it on) "
                         f"| {statistics.median(r['filter_ms']):.0f} ms | | |")
        lines.append("")
    lines += [
        "Frame time = the time spent in the animation-frame callback that redraws after the event "
        "(the page's `requestAnimationFrame` is wrapped with a timer; 12 wheel steps in, 12 out; 24 "
        "drag steps). First drawing = from the widget's `render({model, el})` with the bytes in the "
        "model (the moment anywidget has received the comm's buffer) to the zoomed view's "
        "`data-drawn` attribute set with boxes drawn: decode, layout, first overview and zoomed "
        "drawing. The comm transfer itself is not included (the bytes travel as one binary "
        "WebSocket frame, no base64).",
        "",
        "Command: `.venv/bin/python benchmarks/bench_widget.py --write`",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--write", action="store_true", help="write benchmarks/results/widget.md")
    ap.add_argument("--kind", choices=["both", *KINDS], default="both")
    ap.add_argument("--min-duration", default="", help="time the frames with this minimum-duration filter on (e.g. 1us)")
    args = ap.parse_args()
    kinds = list(KINDS) if args.kind == "both" else [args.kind]
    text = report([run(args.calls, args.repeat, kind, args.min_duration) for kind in kinds])
    print(text)
    if args.write:
        out = HERE / "results" / "widget.md"
        out.parent.mkdir(exist_ok=True)
        out.write_text(text)
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
