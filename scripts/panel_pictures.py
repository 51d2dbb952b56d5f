"""The pictures of docs/panels.md: the HTML export of two real traces in Debian's Chromium, as a
user sees them at 1600 px: the 310-thread server of benchmarks/bench_many_threads.py, and a Dask
bag groupby-apply on a LocalCluster (2 worker processes x 2 threads, recorded with
``profile(dask=client)``), with a call selected.

    .venv/bin/python scripts/panel_pictures.py [--out docs] [--js-rev REV]

``--js-rev REV`` draws them with the timeline's code of git revision REV (the js/ files at REV
bundled as rust/core/src/assets.rs bundles them) instead of this build's: the "before" pictures
of a change (written as NAME-REV.png).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from fprofile_jupyter import _core  # noqa: E402

TASKS = textwrap.dedent('''
    def key(row):
        return row[0]


    def clean(row):
        return (row[0], abs(row[1]))


    def summarise(item):
        k, rows = item
        xs = [x for _, x in rows]
        return k, len(xs), sum(xs) / len(xs), max(xs)
''')


def git_text(rev: str, path: str) -> str:
    return subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:{path}"], check=True, capture_output=True, text=True).stdout


def bundle_at(rev: str) -> tuple:
    """The export host's bundle and the stylesheet as they were at `rev`."""
    manifest = json.loads(git_text(rev, "js/bundle.json"))
    files = manifest["modules"] + [manifest["hosts"]["export"]]
    parts = []
    for f in files:
        lines = git_text(rev, f"js/{f}").split("\n")
        parts.append("\n".join(line for line in lines if not (line.startswith("import ") and (' from "./' in line or ' from "../' in line))))
    css = "".join(git_text(rev, f"js/{c}") + "\n" for c in manifest["css"])
    return "\n".join(parts), css


def export(trace, title: str, rev: str | None) -> str:
    html = _core.export_html(trace, title)
    if rev:
        js, css = bundle_at(rev)
        now_js, now_css = _core.asset_bundle("export"), _core.asset_css()
        assert now_js in html and now_css in html
        html = html.replace(now_js, js).replace(now_css, css)
    return html


def dask_trace():
    """A Dask bag groupby-apply on a LocalCluster of 2 processes x 2 threads."""
    import dask.bag as db
    from distributed import Client, LocalCluster

    import fprofile_jupyter

    d = Path(tempfile.mkdtemp(prefix="fprofile-pictures-"))
    (d / "panel_tasks.py").write_text(TASKS)
    sys.path.insert(0, str(d))
    import panel_tasks

    # spawned worker processes get this process's sys.path (multiprocessing's preparation data)
    with LocalCluster(n_workers=2, threads_per_worker=2, processes=True, host="127.0.0.1", dashboard_address=":0",
                      silence_logs=40) as cluster, Client(cluster) as client:
        client.wait_for_workers(2)
        client.run(lambda: __import__("panel_tasks") and None)
        rows = db.from_sequence([(i % 7, ((i * 37) % 101) - 50) for i in range(40_000)], npartitions=16).map(panel_tasks.clean)
        with fprofile_jupyter.profile(subs=[str(d)], dask=client) as prof:
            rows.groupby(panel_tasks.key, shuffle="tasks").map(panel_tasks.summarise).compute()
    return prof.trace


def shoot(browser, html: str, out: Path, select: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        page_file = Path(tmp) / "page.html"
        page_file.write_text(html, encoding="utf-8")
        context = browser.new_context(viewport={"width": 1600, "height": 1000})
        page = context.new_page()
        page.emulate_media(color_scheme="light")
        page.goto(page_file.as_uri())
        page.wait_for_selector("canvas.fprofile-zoom[data-drawn]:not([data-drawn='0'])")
        if select:
            page.locator("table.fprofile-summary tbody tr").first.click()
        page.wait_for_timeout(300)  # a picture, not a test: let the last frame land
        main = page.locator(".fprofile-main").bounding_box()
        page.screenshot(path=str(out), clip={"x": 0, "y": 0, "width": 1600, "height": min(1000, main["y"] + main["height"] + 8)})
        context.close()
    print(f"wrote {out} ({out.stat().st_size:,} bytes)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=str(ROOT / "docs"))
    ap.add_argument("--js-rev", default=None)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    from bench_many_threads import make_trace

    out = Path(args.out)
    suffix = f"-{args.js_rev}" if args.js_rev else ""
    many = make_trace(requests=300, clients=8)
    dask_t = dask_trace()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        shoot(browser, export(many, "310 threads", args.js_rev), out / f"panels-many-threads{suffix}.png", False)
        shoot(browser, export(dask_t, "dask groupby-apply", args.js_rev), out / f"panels-dask{suffix}.png", True)
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
