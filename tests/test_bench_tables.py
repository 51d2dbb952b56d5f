"""benchmarks/recording_tables.py: the table of every Python, from bench_recording.py's --json
files (no timing here: made-up figures, checked for where they land and how targets are judged)."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent / "benchmarks"


def load_tables():
    spec = importlib.util.spec_from_file_location("recording_tables", HERE / "recording_tables.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def run_json(python: str, ours: float, trace0, e2e_ours: float, e2e_t0, reject: float) -> dict:
    t1 = {"bare": 30.0, "ours: record all": 30.0 + ours, "ours: reject all": 30.0 + reject,
          "cProfile": 150.0, "VizTracer": 100.0}
    e2e = {"ours": e2e_ours, "VizTracer": 3000.0}
    if trace0 is not None:
        t1["trace0"] = 30.0 + trace0
        e2e["trace0"] = e2e_t0
    return {"python": python, "mechanism": "sys.monitoring", "rounds": 7, "clock": "process CPU",
            "calls": 1000440, "e2e_calls": 198500, "versions": {"trace0": "0.1.16" if trace0 else None},
            "started": "2026-11-30 12:00 UTC", "load": 2.0, "threads1": t1, "threads4": dict(t1),
            "threads1_wall": dict(t1), "bytes_per_event1": 16.8, "e2e_bare": 30.0,
            "e2e_overhead": e2e, "markdown": f"Python {python}\n\n### 1 thread\n"}


def test_table_into_readme_and_results(tmp_path):
    tables = load_tables()
    files = []
    for d in (run_json("3.13.0", 50.0, 100.0, 70.0, 100.0, 0.3),    # all met
              run_json("3.11.7", 37.0, None, 77.0, None, 15.0),      # no trace0, targets 3.12+ only
              run_json("3.14.10", 80.0, 70.0, 90.0, 100.0, 2.0)):    # none met
        f = tmp_path / f"recording-{d['python']}.json"
        f.write_text(json.dumps(d))
        files.append(str(f))
    readme = tmp_path / "README.md"
    readme.write_text("# Benchmarks\n\nintro\n\n## Recording (old)\n\nold table\n\n## Formats\n\nkept\n")
    results = tmp_path / "recording.md"
    assert tables.main(files + ["--readme", str(readme), "--results", str(results), "--note", "a note"]) == 0
    text = readme.read_text()
    assert "old table" not in text and "## Formats\n\nkept" in text and "intro" in text
    block = text.split(tables.BEGIN)[1].split(tables.END)[0]
    head = next(line for line in block.splitlines() if line.startswith("| |"))
    assert head.index("3.11.7") < head.index("3.13.0") < head.index("3.14.10")  # sorted by version
    rows = {line.split(" | ")[0].strip("| "): line for line in block.splitlines() if line.startswith("| ")}
    rec = rows["target: recorded call vs trace0's (<= 1.00)"]
    assert "(3.12+ only)" in rec and "0.50: met" in rec and "1.14: **not met**" in rec
    e2e = rows["target: end to end vs trace0's (<= 0.80)"]
    assert "0.70: met" in e2e and "0.90: **not met**" in e2e
    rej = rows["target: rejected call (<= 1 ns)"]
    assert "+0.3 ns: met" in rej and "+2.0 ns: **not met**" in rej
    assert "n/a (needs 3.13+)" in rows["trace0"]
    assert "a note" in block
    # a second run replaces the block, not the rest
    assert tables.main(files[:1] + ["--readme", str(readme), "--results", str(results)]) == 0
    text2 = readme.read_text()
    assert text2.count(tables.BEGIN) == 1 and "3.14.10" not in text2 and "## Formats\n\nkept" in text2
    assert "## Python 3.13.0" in results.read_text()
