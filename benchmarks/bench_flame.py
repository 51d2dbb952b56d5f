"""The flame graph view on one-million-call traces, in headless Chromium: computed in the page
(js/flame.js, as where there is no kernel: the HTML export, a saved notebook) and drawn
(js/flameview.js on canvas).

The page is the widget's own bundle with the stand-in model of ``bench_widget.py`` (same traces:
a real recording and the random worst case, where nearly every call has a path of its own). After
the timeline's first drawing, the flame graph is shown (its button) and the animation frames are
timed (the page's ``requestAnimationFrame`` callbacks, as bench_widget does):

- show: the frame that merges the calls of every thread over the whole run and draws them;
- redraw: a frame that draws the same flame again (a wheel over it: no merge), i.e. the drawing;
- compute = show - redraw;
- window: the frame after a new window is chosen in the overview (merge of the window + drawing).

Targets (issue 14): computed in at most 200 ms, drawn in at most 100 ms.

    .venv/bin/python benchmarks/bench_flame.py [--calls 1000000] [--repeat 3]
"""
from __future__ import annotations

import argparse
import base64
import os
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_widget import CHROMIUM, CHROMIUM_ARGS, PAGE, recorded_trace, synthetic_trace  # noqa: E402

from fprofile_jupyter import _core  # noqa: E402


def frame(page, action, *args) -> float:
    """The time of the animation frames that follow `action(*args)` (ms, their sum)."""
    page.evaluate("() => { window.__frames = []; }")
    action(*args)
    page.wait_for_function("() => window.__frames.length > 0")
    page.wait_for_timeout(50)
    return sum(page.evaluate("() => window.__frames"))


def run(calls: int, repeat: int, kind: str) -> dict:
    from playwright.sync_api import sync_playwright

    trace = recorded_trace(calls) if kind == "recorded" else synthetic_trace(calls)
    payload = trace.to_bytes()
    b64 = base64.b64encode(payload).decode()
    work = tempfile.mkdtemp(prefix="fprofile-bench-")
    path = Path(work) / "bench.html"
    path.write_text(PAGE.format(css=_core.asset_css()))
    out = {"calls": len(trace), "nodes": len(_core.flame_bytes(trace)) // 40, "show": [], "redraw": [], "window": [],
           "window_nodes": 0}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
                                    env=dict(os.environ, XDG_CONFIG_HOME=f"{work}/xdg", TMPDIR=work))
        try:
            for _ in range(repeat):
                page = browser.new_page(viewport={"width": 1440, "height": 1000})
                page.set_default_timeout(120_000)
                page.goto(path.as_uri())
                page.wait_for_function("() => window.__ready === true")
                page.evaluate("(src) => window.__load(src)", _core.asset_bundle("widget"))
                page.evaluate("([b, s]) => window.__show(b, s)", [b64, trace.summary_json()])
                page.wait_for_timeout(300)
                out["show"].append(frame(page, page.click, "button.fprofile-flame-toggle"))
                nodes = int(page.get_attribute("canvas.fprofile-flame", "data-nodes"))
                if nodes != out["nodes"]:
                    raise RuntimeError(f"the page merged {nodes} paths, the core {out['nodes']}")
                box = page.locator("canvas.fprofile-flame").bounding_box()
                page.mouse.move(box["x"] + box["width"] / 2, box["y"] + 100)
                out["redraw"].append(frame(page, page.mouse.wheel, 0, -50))
                ov = page.locator("canvas.fprofile-overview").bounding_box()
                page.mouse.move(ov["x"] + ov["width"] * 0.25, ov["y"] + 40)
                page.mouse.down()
                out["window"].append(frame(page, page.mouse.move, ov["x"] + ov["width"] * 0.75, ov["y"] + 40))
                page.mouse.up()
                out["window_nodes"] = int(page.get_attribute("canvas.fprofile-flame", "data-nodes"))
                page.close()
        finally:
            browser.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    print("| trace | calls | paths | show (merge + draw) | redraw (draw) | merge | window (merge + draw) |")
    print("|---|---|---|---|---|---|---|")
    for kind in ("recorded", "random"):
        r = run(args.calls, args.repeat, kind)
        show, redraw, win = (statistics.median(r[k]) for k in ("show", "redraw", "window"))
        print(f"| {kind} | {r['calls']:,} | {r['nodes']:,} | {show:.0f} ms | {redraw:.0f} ms | {show - redraw:.0f} ms "
              f"| {win:.0f} ms ({r['window_nodes']:,} paths) |")


if __name__ == "__main__":
    main()
