"""What a saved notebook weighs with the timeline in each output's text/html (issue 20, item 3).

Executes (nbclient, a real kernel) a notebook of ten ``%%fprofile`` cells, each recording the same
small workload (``--calls`` calls per cell, two threads), saves it, and reports per output: the page
code (js/dist/fragment.min.js), the trace payload (base64, once: the mime type points to the
fragment), the static part (caption, picture, table), the other parts; and the whole notebook.
Also what a second copy of the trace (the mime type holding its own) would add.

    .venv/bin/python benchmarks/bench_notebook_size.py [--calls 2000] [--cells 10]
"""
from __future__ import annotations

import argparse
import json
import re
import tempfile
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from fprofile_jupyter import _display


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=2000, help="recorded calls per cell (about)")
    ap.add_argument("--cells", type=int, default=10)
    args = ap.parse_args()
    nb = nbformat.v4.new_notebook()
    n = max(1, args.calls // 2)
    nb.cells = [nbformat.v4.new_code_cell("%load_ext fprofile_jupyter"),
                nbformat.v4.new_code_cell("import threading\n\ndef step(i):\n    return i * i\n\n"
                                          "def work(n):\n    return sum(step(i) for i in range(n))")]
    for _ in range(args.cells):
        nb.cells.append(nbformat.v4.new_code_cell(
            f"%%fprofile\nt = threading.Thread(target=work, args=({n // 2},))\nt.start()\nwork({n // 2})\nt.join()"))
    with tempfile.TemporaryDirectory() as work:
        NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": work}}).execute()
        path = Path(work) / "ten.ipynb"
        nbformat.write(nb, path)
        total = path.stat().st_size
        saved = json.loads(path.read_text(encoding="utf-8"))
    code = payload = static = html_total = outputs = calls = 0
    for cell in saved["cells"]:
        for o in cell.get("outputs", []):
            data = o.get("data", {})
            if _display.TRACE_MIME not in data:
                continue
            outputs += 1
            h = "".join(data["text/html"]) if isinstance(data["text/html"], list) else data["text/html"]
            html_total += len(h.encode())
            code += len(re.search(r"<script>(.*?)</script></div>$", h, re.S).group(1).encode())
            p = re.search(r'class="fprofile-payload">(.*?)</script>', h, re.S).group(1)
            payload += len(p.encode())
            static += len(re.search(r'<div class="fprofile-static-part">(.*?)</div><script', h, re.S).group(1).encode())
            calls += int(re.search(r"fprofile · ([\d,]+) call", h).group(1).replace(",", ""))
    kb = lambda b: f"{b / 1024:,.1f} KiB"  # noqa: E731
    print(f"| {outputs} profiled cells, {calls // max(outputs, 1):,} calls each | per output | the notebook |")
    print("|---|---|---|")
    print(f"| page code (js/dist/fragment.min.js) | {kb(code / outputs)} | {kb(code)} |")
    print(f"| trace payload (base64 .fpt, once) | {kb(payload / outputs)} | {kb(payload)} |")
    print(f"| static part (caption, picture, table) | {kb(static / outputs)} | {kb(static)} |")
    print(f"| whole text/html | {kb(html_total / outputs)} | {kb(html_total)} |")
    print(f"| **saved notebook** | | **{kb(total)}** |")
    print(f"| a second copy of each trace (the mime type's own) would add | {kb(payload / outputs)} | {kb(payload)} |")


if __name__ == "__main__":
    main()
