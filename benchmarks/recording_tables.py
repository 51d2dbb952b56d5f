"""Writes the recording tables from bench_recording.py's --json files (one per Python).

    python benchmarks/recording_tables.py OUT/recording-3.11.json OUT/recording-3.13.json ... \
        [--readme benchmarks/README.md] [--results benchmarks/results/recording.md] [--note TEXT]

The README gets the summary table (one column per Python) between the markers
`<!-- recording-table -->` and `<!-- /recording-table -->`; results/recording.md gets the summary,
then every configuration of every Python. Run by benchmarks/bench_all_versions.sh; plain Python
(any 3.8+), nothing imported from the package.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import List, Optional

BEGIN, END = "<!-- recording-table -->", "<!-- /recording-table -->"


def vkey(d: dict) -> tuple:
    return tuple(int(x) for x in d["python"].split(".")[:2])


def over(d: dict, name: str, threads: int = 1) -> Optional[float]:
    t = d.get(f"threads{threads}", {})
    if name not in t:
        return None
    return t[name] - t["bare"]


def cell(d: dict, name: str) -> str:
    o = over(d, name)
    if o is None:
        return "n/a"
    return f"{o:+.1f} ns ({d['threads1'][name] / d['threads1']['bare']:.2f}x)"


def met(ok: bool) -> str:
    return "met" if ok else "**not met**"


def summary_table(runs: List[dict]) -> List[str]:
    head = "| | " + " | ".join(f"{d['python']} ({d['mechanism']})" for d in runs) + " |"
    rows = [head, "|---|" + "---|" * len(runs)]

    def row(label: str, f) -> None:
        rows.append(f"| {label} | " + " | ".join(f(d) for d in runs) + " |")

    row("bare call", lambda d: f"{d['threads1']['bare']:.1f} ns")
    row("**ours, recorded call**", lambda d: f"**{cell(d, 'ours: record all')}**")
    row("ours, rejected call", lambda d: cell(d, "ours: reject all"))
    row("trace0", lambda d: cell(d, "trace0") if over(d, "trace0") is not None else
        ("n/a (needs 3.13+)" if vkey(d) < (3, 13) else "n/a (not installed)"))
    row("VizTracer", lambda d: cell(d, "VizTracer"))
    row("cProfile", lambda d: cell(d, "cProfile"))

    def best_ref(d: dict) -> str:
        refs = {k: v for k, v in d["threads1"].items() if k.startswith("ref") and k.endswith("recorded")}
        if not refs:
            return "n/a (did not build)"
        k = min(refs, key=refs.get)
        return f"{refs[k] - d['threads1']['bare']:+.1f} ns ({k[4:].split(':')[0]})"
    row("best reference hook, recorded (`../shared/bench`)", best_ref)
    row("4 threads: ours recorded / trace0", lambda d: " / ".join(
        "n/a" if over(d, k, 4) is None else f"{over(d, k, 4):+.1f}" for k in ("ours: record all", "trace0")) + " ns")

    def wall(d: dict) -> str:
        t = d.get("threads1_wall")
        if not t:
            return "n/a"
        return " / ".join("n/a" if k not in t else f"{t[k] - t['bare']:+.1f}"
                          for k in ("ours: record all", "trace0", "VizTracer")) + " ns"
    row("same run in wall time: ours recorded / trace0 / VizTracer", wall)

    def e2e(name: str):
        def f(d: dict) -> str:
            v = d["e2e_overhead"].get(name)
            return "n/a" if v is None else f"{v:+,.1f} ns"
        return f
    row("end to end per call: ours (enter `profile()` .. `prof.trace`)", e2e("ours"))
    row("end to end per call: trace0 (start .. protobuf file written)", e2e("trace0"))
    row("end to end per call: VizTracer (start .. JSON file saved)", e2e("VizTracer"))

    def t_rec(d: dict) -> str:
        if vkey(d) < (3, 12):
            return "(3.12+ only)"
        o, t = over(d, "ours: record all"), over(d, "trace0")
        if o is None or t is None:
            return "n/a (no trace0)"
        return f"{o / t:.2f}: {met(o <= t)}"

    def t_e2e(d: dict) -> str:
        if vkey(d) < (3, 12):
            return "(3.12+ only)"
        o, t = d["e2e_overhead"].get("ours"), d["e2e_overhead"].get("trace0")
        if o is None or t is None:
            return "n/a (no trace0)"
        return f"{o / t:.2f}: {met(o <= 0.8 * t)}"

    def t_rej(d: dict) -> str:
        if vkey(d) < (3, 12):
            return "(3.12+ only)"
        o = over(d, "ours: reject all")
        return f"{o:+.1f} ns: {met(o <= 1.0)}"
    def t_wall(d: dict) -> str:
        if vkey(d) < (3, 12):
            return "(3.12+ only)"
        other = "CPU" if d.get("clock") == "wall" else "wall"
        t, e = d.get(f"threads1_{other}", {}), d.get(f"e2e_overhead_{other}", {})
        if "trace0" not in t or "trace0" not in e:
            return "n/a (no trace0)"
        r1 = (t["ours: record all"] - t["bare"]) / (t["trace0"] - t["bare"])
        r2 = e["ours"] / e["trace0"]
        return f"{r1:.2f}: {met(r1 <= 1.0)} / {r2:.2f}: {met(r2 <= 0.8)}"
    row("target: recorded call vs trace0's (<= 1.00)", t_rec)
    row("target: end to end vs trace0's (<= 0.80)", t_e2e)
    row("target: rejected call (<= 1 ns)", t_rej)
    other_clock = "CPU" if runs[0].get("clock") == "wall" else "wall"
    row(f"the same two targets in {other_clock} time (recorded / end to end)", t_wall)
    row("memory while recording (<= 24 B per event)", lambda d: f"{d.get('bytes_per_event1', float('nan')):.1f} B")
    row("conditions", lambda d: f"{d['started']}, load {d['load']:.1f}, {d['rounds']} rounds")
    return rows


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("json", nargs="+")
    ap.add_argument("--readme", default=str(Path(__file__).parent / "README.md"))
    ap.add_argument("--results", default=str(Path(__file__).parent / "results" / "recording.md"))
    ap.add_argument("--command", default="bash benchmarks/bench_all_versions.sh --rounds 7")
    ap.add_argument("--note", default="", help="a paragraph on the conditions, for both files")
    a = ap.parse_args(argv)
    runs = sorted((json.loads(Path(p).read_text()) for p in a.json), key=vkey)
    if not runs:
        return 1
    calls = runs[0]["calls"]
    title = (f"## Recording ({calls:,} calls; median of {runs[0]['rounds']} rounds, configurations shuffled "
             f"per round; {runs[0]['clock']} time; overhead per call beyond the bare call, slowdown in brackets)")
    table = summary_table(runs)
    peers = "; ".join(f"{d['python']}: " + ", ".join(f"{k} {v}" for k, v in d["versions"].items() if v)
                      for d in runs)
    block = [BEGIN, title, "", *table, "", f"Versions: {peers}.", ""]
    if a.note:
        block += [a.note, ""]
    block += [f"Rerun: `{a.command}` (full tables: [results/recording.md](results/recording.md)).", END]

    readme = Path(a.readme)
    text = readme.read_text()
    if BEGIN in text and END in text:
        pre, rest = text.split(BEGIN, 1)
        post = rest.split(END, 1)[1]
    else:  # first time: replace the old "## Recording" section (up to the next "## ")
        i = text.index("## Recording")
        j = text.index("\n## ", i + 1)
        pre, post = text[:i], text[j:]
    readme.write_text(pre + "\n".join(block) + "\n\n" + post.lstrip("\n"))

    out = ["# Recording hook: measured figures", "",
           f"Command: `{a.command}` (benchmarks/bench_all_versions.sh: 3.11 and 3.13 from the venvs",
           "`.venv` and `.venv-3.13` that scripts/test.sh makes; 3.14 and 3.15 in the Debian sid root of",
           "scripts/debian_pythons.sh, each in a venv of its own with the peers). Each Python has its own",
           "build of the extension; the reference hooks of `../shared/bench` are built by the script for the",
           "running Python (where they compile).", "",
           f"Workload: {calls:,} Python calls per run (recursive `fib(15)` units plus method calls, in a module",
           "of its own), single-threaded and split over 4 threads; all configurations shuffled in each",
           "round, median of the rounds; end to end on a smaller run, also shuffled. Times are the process's",
           "**CPU time** (all its threads, the tools' background threads included). Each Python ran at a",
           "different time on a shared machine: compare within a column (one run), as ratios.", ""]
    if a.note:
        out += [a.note, ""]
    out += ["## Summary", "", *table, ""]
    out += ["trace0 records every call of the process (no file filter; in this workload every call is the",
            "workload's); ours records the workload's file; VizTracer is given the workload's folder",
            "(`include_files`). In-run figures exclude writing the file; end to end includes it (ours:",
            "the call trees and lanes built in memory, `prof.trace`).", "",
            "Notes:",
            "- Why ours can beat the reference hooks while doing more (per-thread buffers, thread",
            "  registration, the cap): the references read `clock_gettime(CLOCK_MONOTONIC)` twice per call",
            "  (~20-28 ns each here); ours reads the TSC (`rdtsc`) and converts ticks to CLOCK_MONOTONIC",
            "  nanoseconds off the hot path (docs/recording.md, \"Time\").",
            "- cProfile in the 4-thread runs on 3.11 profiles only the thread that enabled it (the main",
            "  thread, which just waits), hence ~0 overhead; on 3.12+ it runs on sys.monitoring, which is",
            "  interpreter-wide.",
            "- \"ours: record all\" holds every event in memory (bytes per event include the unused end of",
            "  each thread's last chunk); VizTracer is run with a ring buffer large enough for the run.",
            "- The wall-time column of each table is read in the same runs as the CPU time: a tool that",
            "  moves work to a background thread (trace0) costs less wall time than CPU time when a core",
            "  is free; ours and VizTracer work on the calling thread.", ""]
    for d in runs:
        out += [f"## Python {d['python']}", ""]
        md = d["markdown"].replace("\n### ", "\n#### ")
        out += [md.rstrip(), ""]
    Path(a.results).write_text("\n".join(out))
    print("\n".join(table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
