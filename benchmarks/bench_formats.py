"""Format benchmarks: PYME text loading speed, sizes per call, memory per call.

Runs the Rust benchmark binary (``rust/core/examples/bench_formats.rs``), which generates the
synthetic benchmark trace (fib recursion + method calls on two threads, ~1M calls, ~2M events),
writes it as a PYME raw text file and times, on that file: reading it and splitting it into lines,
our Rust reader (read + parse + build call trees), tree building alone, `.fpt` encode/decode; and
measures bytes per call of every format and the trace's memory per call.

Then runs, in this process, a plain-Python implementation of the same algorithm as the Rust reader
on the same file (split lines, split fields, parse times to integer ns, intern threads and codes
with dicts, group per thread, build the trees with a stack into column lists), and, when the
extension is installed, records a real fib + methods workload with ``fprofile_jupyter.profile`` to
report ``.fpt`` bytes per call on a real recording too.

Usage: ``python benchmarks/bench_formats.py [--calls N] [--repeats R] [--out FILE]``
Writes ``benchmarks/results/formats.md`` and prints the same table.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def python_reader(path: str) -> int:
    """The Rust reader's algorithm in plain Python. Returns the number of calls built."""
    with open(path, "rb") as f:
        data = f.read()
    threads: dict[bytes, int] = {}
    codes: dict[tuple[bytes, bytes, int], int] = {}
    events: list[list[tuple[int, int, bool]]] = []
    for lineno, line in enumerate(data.split(b"\n"), 1):
        if not line.strip():
            continue
        fields = line.rstrip(b"\r").split(b"\t")
        if len(fields) != 6:
            raise ValueError(f"line {lineno}: expected 6 tab-separated fields, found {len(fields)}")
        t, thread, file, func, ev, first = fields
        whole, _, frac = t.partition(b".")
        t_ns = int(whole or b"0") * 1_000_000_000 + int((frac + b"000000000")[:9])
        ti = threads.get(thread)
        if ti is None:
            ti = threads[thread] = len(events)
            events.append([])
        key = (file, func, int(first))
        ci = codes.get(key)
        if ci is None:
            ci = codes[key] = len(codes)
        if ev == b"call":
            is_call = True
        elif ev == b"return":
            is_call = False
        else:
            raise ValueError(f"line {lineno}: bad event")
        events[ti].append((t_ns, ci, is_call))
    # Trees, as build_trace does (without the started-before pre-pass: a valid file has none).
    start: list[int] = []
    end: list[int] = []
    code: list[int] = []
    depth: list[int] = []
    parent: list[int] = []
    stop = max(evs[-1][0] for evs in events if evs)
    for evs in events:
        if any(evs[i][0] > evs[i + 1][0] for i in range(len(evs) - 1)):
            evs.sort(key=lambda e: e[0])
        stack: list[tuple[int, int]] = []
        for t_ns, ci, is_call in evs:
            if is_call:
                start.append(t_ns)
                end.append(t_ns)
                code.append(ci)
                depth.append(len(stack))
                parent.append(stack[-1][1] if stack else -1)
                stack.append((ci, len(start) - 1))
            else:
                pos = len(stack) - 1
                while pos >= 0 and stack[pos][0] != ci:
                    pos -= 1
                if pos >= 0:
                    for _, idx in stack[pos:]:
                        end[idx] = t_ns
                    del stack[pos:]
        for _, idx in stack:
            end[idx] = stop
    return len(start)


def python_split(path: str) -> int:
    with open(path, "rb") as f:
        return len(f.read().split(b"\n"))


def real_recording_sizes() -> dict | None:
    """fpt bytes per call on a real recording made with the hook (None when not installed)."""
    try:
        import fprofile_jupyter  # noqa: F401
        from fprofile_jupyter import profile
    except Exception:
        return None
    src = (
        "class P:\n"
        "    def __init__(self, x, y):\n        self.x = x; self.y = y\n"
        "    def norm(self):\n        return (self.x * self.x + self.y * self.y) ** 0.5\n"
        "def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n"
        "def work():\n"
        "    s = 0.0\n"
        "    for i in range(1200):\n"
        "        fib(12)\n"
        "        for j in range(20):\n            s += P(i, j).norm()\n"
        "    return s\n"
    )
    with tempfile.TemporaryDirectory() as d:
        mod = Path(d) / "benchwork_fp.py"
        mod.write_text(src)
        sys.path.insert(0, d)
        try:
            import benchwork_fp  # type: ignore[import-not-found]

            try:
                with profile(subs=["benchwork_fp"]) as p:
                    benchwork_fp.work()
            except TypeError:
                return None
            trace = getattr(p, "trace", None)
            if trace is None or not callable(getattr(trace, "to_bytes", None)):
                return None
            n = len(trace)
            fpt = len(trace.to_bytes())
            out = {"calls": n, "fpt": fpt / max(n, 1)}
            with tempfile.TemporaryDirectory() as d2:
                for name, fn in (("pyme_json", "t.json"), ("perfetto_json", "t.perfetto.json")):
                    path = Path(d2) / fn
                    try:
                        trace.save(str(path))
                        out[name] = path.stat().st_size / max(n, 1)
                    except Exception:
                        pass
            return out
        except Exception as e:  # the hook is another engineer's work in progress
            return {"error": f"{type(e).__name__}: {e}"}
        finally:
            sys.path.remove(d)


def fpt_cases(calls: int, repeats: int) -> dict:
    """.fpt bytes per call and encode/decode times (median of ``repeats``, through the Python API)
    on the widget benchmark's synthetic worst case (random trees, random 20-400 ns gaps) and on a
    real recording of about ``calls`` calls (``bench_widget.recorded_trace``: fib + methods on 4
    threads)."""
    try:
        from fprofile_jupyter import _core

        sys.path.insert(0, str(ROOT / "benchmarks"))
        import bench_widget
    except Exception as e:  # not installed
        return {"error": f"{type(e).__name__}: {e}"}
    out: dict = {}
    for name, make in (("worst", lambda: bench_widget.synthetic_trace(calls)),
                       ("recorded", lambda: bench_widget.recorded_trace(calls))):
        t = make()
        enc, dec = [], []
        for _ in range(repeats):
            t0 = time.perf_counter()
            b = t.to_bytes()
            enc.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            d = _core.load_bytes(b)
            dec.append(time.perf_counter() - t0)
        out[name] = {"calls": len(t), "fpt": len(b) / len(t), "encode_s": statistics.median(enc),
                     "decode_s": statistics.median(dec), "same_calls": len(d) == len(t) and d.to_bytes() == b}
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--python-repeats", type=int, default=1)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "formats.md"))
    ap.add_argument("--fpt-only", action="store_true",
                    help="only the .fpt cases (worst case, recording) as JSON, e.g. to compare with an older build")
    ap.add_argument("--before", help="JSON printed by --fpt-only with an older build: its figures and the ratios are shown")
    args = ap.parse_args()
    if args.fpt_only:
        print(json.dumps(fpt_cases(args.calls, args.repeats)))
        return 0

    with tempfile.TemporaryDirectory() as d:
        cmd = ["cargo", "run", "-q", "--release", "-p", "fprofile", "--example", "bench_formats", "--",
               d, str(args.calls), str(args.repeats)]
        r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        if r.returncode != 0:
            print(r.stderr, file=sys.stderr)
            return 1
        rust = json.loads(r.stdout.strip().splitlines()[-1])
        path = rust["text_path"]
        py_times = []
        for _ in range(args.python_repeats):
            t0 = time.perf_counter()
            n_py = python_reader(path)
            py_times.append(time.perf_counter() - t0)
        t_py = statistics.median(py_times)
        t0 = time.perf_counter()
        python_split(path)
        t_py_split = time.perf_counter() - t0
    assert n_py == rust["text_calls_read"], (n_py, rust["text_calls_read"])
    real = real_recording_sizes()
    cases = fpt_cases(args.calls, args.repeats)

    ev = rust["events"]
    b = rust["bytes_per_call"]
    us = lambda s: f"{s / ev * 1e9:.1f} ns/event"  # noqa: E731
    lines = [
        "# Format benchmarks",
        "",
        f"Command: `python benchmarks/bench_formats.py --calls {args.calls} --repeats {args.repeats} "
        f"--python-repeats {args.python_repeats}` "
        f"(Rust figures: median of {args.repeats}; plain Python: median of {args.python_repeats}). "
        f"Machine: {os.cpu_count()} shared cores, noisy; ratios matter more than absolute times.",
        "",
        f"Benchmark trace: synthetic fib(12) recursion + method calls on {rust['threads']} threads, "
        f"{rust['calls']:,} calls, {ev:,} events; PYME text file {rust['text_bytes'] / 1e6:.1f} MB.",
        "",
        "## Loading a PYME raw text file",
        "",
        "| step | time | per event | vs read+split |",
        "|---|---|---|---|",
        f"| read file only (Rust `fs::read`) | {rust['t_read_only_s'] * 1e3:.0f} ms | {us(rust['t_read_only_s'])} | "
        f"{rust['t_read_only_s'] / rust['t_read_split_s']:.2f}x |",
        f"| read + split into lines (Rust `split`) | {rust['t_read_split_s'] * 1e3:.0f} ms | {us(rust['t_read_split_s'])} | 1.00x |",
        f"| read + split into lines (Rust `memchr`) | {rust['t_read_memchr_s'] * 1e3:.0f} ms | {us(rust['t_read_memchr_s'])} | "
        f"{rust['t_read_memchr_s'] / rust['t_read_split_s']:.2f}x |",
        f"| **our reader, `pyme_text::read_file`** (read in pieces + parse on {rust['cores']} cores + call trees) | "
        f"{rust['t_read_file_s'] * 1e3:.0f} ms | {us(rust['t_read_file_s'])} | "
        f"**{rust['t_read_file_s'] / rust['t_read_split_s']:.2f}x** (target <= 3x) |",
        f"| our reader, `read_file` on 1 core | {rust['t_read_file_1thread_s'] * 1e3:.0f} ms | "
        f"{us(rust['t_read_file_1thread_s'])} | {rust['t_read_file_1thread_s'] / rust['t_read_split_s']:.2f}x |",
        f"| our reader, `fs::read` + `pyme_text::read` (bytes in memory) | {rust['t_reader_s'] * 1e3:.0f} ms | "
        f"{us(rust['t_reader_s'])} | {rust['t_reader_s'] / rust['t_read_split_s']:.2f}x |",
        f"| tree building alone (`build_trace`, in memory) | {rust['t_build_s'] * 1e3:.0f} ms | {us(rust['t_build_s'])} | |",
        f"| read + split into lines (Python `bytes.split`) | {t_py_split * 1e3:.0f} ms | {us(t_py_split)} | |",
        f"| plain-Python reader, same algorithm | {t_py * 1e3:.0f} ms | {us(t_py)} | |",
        "",
        f"Our reader (`read_file`) is **{t_py / rust['t_read_file_s']:.0f}x** faster than the plain-Python "
        f"implementation of the same algorithm ({t_py / rust['t_read_file_1thread_s']:.0f}x on one core, "
        f"{t_py / rust['t_reader_s']:.0f}x from bytes in memory; target >= 50x). "
        "PYME's own pandas converter: 143 us per call measured earlier. Both results are the same trace "
        f"(`read_file` == `read`: {rust['read_file_equal']}).",
        "",
        "## Size, bytes per call",
        "",
        "| format | bytes/call |",
        "|---|---|",
        f"| **.fpt** (zlib level 6, the default) | **{b['fpt']:.2f}** (target <= 4) |",
        f"| .fpt zlib level 1 / level 9 | {b['fpt_level1']:.2f} / {b['fpt_level9']:.2f} |",
        f"| .fpt body before compression | {b['fpt_uncompressed_body']:.2f} |",
        f"| .fpt of the trace read back from the text file (times rounded to us) | {b['fpt_from_text_us_times']:.2f} |",
        f"| PYME JSON | {b['pyme_json']:.1f} |",
        f"| Perfetto / Chrome Trace Event JSON | {b['perfetto_json']:.1f} |",
        f"| speedscope JSON | {b['speedscope_json']:.1f} |",
        f"| PYME raw text | {b['pyme_text']:.1f} |",
        "",
    ]
    if real and "error" not in real:
        lines += [
            f"Real recording (`fprofile_jupyter.profile`, fib(12) x 1200 + 24,000 method calls, "
            f"{real['calls']:,} calls, ns timestamps): **.fpt {real['fpt']:.2f} B/call**"
            + "".join(f", {k.replace('_', ' ')} {v:.1f}" for k, v in real.items() if k not in ("calls", "fpt"))
            + ".",
            "",
        ]
    elif real:
        lines += [f"Real recording: not measured ({real['error']}).", ""]
    else:
        lines += ["Real recording: not measured (extension not installed).", ""]
    if "error" in cases:
        lines += [f"Worst case and 1M-call recording: not measured ({cases['error']}).", ""]
    else:
        lines += [
            "## .fpt on the worst case and on a recording (through the Python API)",
            "",
            "| trace | calls | .fpt bytes/call | encode | decode |",
            "|---|---|---|---|---|",
        ]
        for key, label in (("worst", "synthetic worst case (bench_widget: random trees, 60 functions, random 20-400 ns gaps)"),
                           ("recorded", "real recording (bench_widget: fib(17..19) + methods on 4 threads)")):
            c = cases[key]
            lines.append(f"| {label} | {c['calls']:,} | **{c['fpt']:.2f}** | {c['encode_s'] * 1e3:.0f} ms | "
                         f"{c['decode_s'] * 1e3:.0f} ms |")
        if args.before:
            before = json.loads(Path(args.before).read_text())
            lines += ["", f"Before (`--before {Path(args.before).name}`: the same command with an older build):", "",
                      "| trace | .fpt bytes/call before -> now | encode before -> now (ratio) | decode before -> now (ratio) |",
                      "|---|---|---|---|"]
            for key in ("worst", "recorded"):
                b, c = before[key], cases[key]
                lines.append(f"| {key} ({b['calls']:,} calls before) | {b['fpt']:.2f} -> **{c['fpt']:.2f}** | "
                             f"{b['encode_s'] * 1e3:.0f} -> {c['encode_s'] * 1e3:.0f} ms ({c['encode_s'] / b['encode_s']:.2f}x) | "
                             f"{b['decode_s'] * 1e3:.0f} -> {c['decode_s'] * 1e3:.0f} ms ({c['decode_s'] / b['decode_s']:.2f}x) |")
        lines += ["", "Targets (issue 13 item 2): worst case <= 3, real recordings <= 1 B/call. "
                  f"Decoded and re-encoded to the same bytes: {all(cases[k]['same_calls'] for k in ('worst', 'recorded'))}. "
                  "The worst case's symbols carry 3.1 B/call of information (order-0 entropy), so no lossless "
                  "layout meets 3 there; the layouts compared and why this one: results/fpt_layouts.md.", ""]
    lines += [
        "## Memory and codec speed",
        "",
        f"- Trace held in memory after conversion: **{rust['memory_bytes_per_call']:.1f} bytes per call** "
        "(call columns allocated once at the exact size; target <= 32).",
        f"- `.fpt` encode {rust['t_fpt_encode_s'] * 1e3:.0f} ms, decode {rust['t_fpt_decode_s'] * 1e3:.0f} ms "
        f"for {rust['calls']:,} calls; decode(encode(t)) == t: {rust['fpt_round_trip_equal']}.",
        "",
    ]
    text = "\n".join(lines)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
