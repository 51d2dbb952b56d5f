"""Benchmark of the recording hook (not a test: prints medians and ratios).

A call-heavy workload (about a million Python calls: recursive fib units plus method calls, in a
module of its own) runs single-threaded and split over 4 threads, under:

  bare                  no tool
  ours: record all      fprofile_jupyter.profile(subs=[<workload file>])
  ours: reject all      fprofile_jupyter.profile(subs=["<matches nothing>"])
  cProfile              cProfile.Profile().enable()
  VizTracer             viztracer.VizTracer(...).start() (in-run cost only; if installed)
  trace0                trace0.Tracer(FILE, "protobuf") entered (in-run cost only; if installed: PyPI
                        `trace0`, a Rust tracer on sys.monitoring, 3.13+; it records every call)
  ref ...               the reference hooks of ../shared/bench (the "limit" columns): PEP 523
                        (evalhook) recorded / rejected, sys.monitoring (monhook, 3.12+) recorded /
                        rejected, PyEval_SetProfile with a cached filter (chook mode 3)

Configurations alternate within each round (shuffled), median of --rounds rounds (>= 5). Printed:
ns of overhead per call and slowdown vs bare, bytes per recorded event held while recording, and
end to end (entering profile() until prof.trace is ready) per call vs VizTracer from start to its
saved JSON file and trace0 from start to its written protobuf file, on a smaller workload. Times
are the process's CPU time (all its threads) unless --wall: on a shared machine wall time mostly
measures the other processes.

    python benchmarks/bench_recording.py [--rounds 7] [--units 504] [--ref-dir DIR] [--out FILE.md]
                                         [--json FILE.json]

benchmarks/bench_all_versions.sh runs it on every Python (3.11, 3.13, 3.14, 3.15) and writes the
tables into benchmarks/README.md and benchmarks/results/recording.md.
"""
from __future__ import annotations

import argparse
import cProfile
import gc
import importlib.util
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import fprofile_jupyter
from fprofile_jupyter._core import Recorder
from fprofile_jupyter._options import RecordOptions

WORKLOAD = '''
def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)

class Acc:
    def __init__(self):
        self.v = 0
    def add(self, x):
        self.v += x
        return self.v

def unit():
    a = Acc()
    for i in range(10):
        a.add(i)
    return fib(15)

def units(n):
    for _ in range(n):
        unit()
'''
CALLS_PER_UNIT = 1973 + 10 + 1 + 1  # fib(15) + add x10 + Acc.__init__ + unit


def load_workload(tmp: Path):
    d = tmp / "fpbench_workload"
    d.mkdir(exist_ok=True)
    f = d / "bench_wl.py"
    f.write_text(WORKLOAD)
    spec = importlib.util.spec_from_file_location("bench_wl", str(f))
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod, str(f)


def find_ref_dir(explicit: Optional[str], tmp: Path) -> Optional[Path]:
    """Builds the reference hooks of shared/bench for this Python (or uses --ref-dir)."""
    if explicit:
        return Path(explicit)
    here = Path(__file__).resolve().parent
    for cand in (here.parent.parent / "shared" / "bench", here.parent / "shared" / "bench"):
        if (cand / "build.sh").exists():
            out = tmp / "refhooks"
            r = subprocess.run(["sh", str(cand / "build.sh"), sys.executable, str(out)],
                               capture_output=True, text=True)
            if r.returncode == 0:
                return out
            print(f"(reference hooks did not build: {r.stderr.strip()[:200]})", file=sys.stderr)
            return None
    print("(../shared/bench not found: no reference columns; pass --ref-dir)", file=sys.stderr)
    return None


def have_trace0() -> bool:
    try:
        import trace0  # noqa: F401
        return True
    except ImportError:
        return False


def version_of(dist: str) -> Optional[str]:
    try:
        from importlib.metadata import version
        return version(dist)
    except Exception:
        return None


class Config:
    def __init__(self, name: str, start: Callable[[], object], stop: Callable[[object], None]):
        self.name, self.start, self.stop = name, start, stop


def make_configs(wl_file: str, ref_dir: Optional[Path], threads: bool) -> List[Config]:
    cap = 8_000_000
    configs = [Config("bare", lambda: None, lambda s: None)]

    def ours(subs):
        def start():
            r = Recorder()
            r.start(RecordOptions(subs=tuple(subs), max_events=cap))
            return r
        return start

    configs.append(Config("ours: record all", ours([wl_file]), lambda r: r.stop_raw()))
    configs.append(Config("ours: reject all", ours(["<matches-nothing>"]), lambda r: r.stop_raw()))

    def cp_start():
        p = cProfile.Profile()
        p.enable()
        return p
    configs.append(Config("cProfile", cp_start, lambda p: p.disable()))
    try:
        import viztracer  # noqa: F401

        def vz_start():
            from viztracer import VizTracer
            t = VizTracer(tracer_entries=6_000_000, verbose=0, include_files=[os.path.dirname(wl_file)])
            t.start()
            return t

        def vz_stop(t):
            t.stop()
            t.clear()
        configs.append(Config("VizTracer", vz_start, vz_stop))
    except ImportError:
        pass
    if have_trace0():
        def t0_start():
            from trace0 import Tracer
            fd, path = tempfile.mkstemp(suffix=".pb", prefix="fpbench-trace0-")
            os.close(fd)
            t = Tracer(path, "protobuf", trace_subprocesses=False)
            t.__enter__()
            return t, path

        def t0_stop(state):
            t, path = state
            t.__exit__(None, None, None)  # writes the file (outside the timed run)
            os.unlink(path)
        configs.append(Config("trace0", t0_start, t0_stop))
    if ref_dir is not None:
        sys.path.insert(0, str(ref_dir))
        try:
            import evalhook  # type: ignore
            configs.append(Config("ref PEP 523: recorded", lambda: evalhook.start(1, cap, wl_file),
                                  lambda s: evalhook.stop()))
            configs.append(Config("ref PEP 523: rejected", lambda: evalhook.start(1, cap, "<nothing>"),
                                  lambda s: evalhook.stop()))
        except ImportError:
            pass
        if sys.version_info >= (3, 12):
            try:
                import monhook  # type: ignore
                configs.append(Config("ref sys.monitoring: recorded", lambda: monhook.start(cap, wl_file),
                                      lambda s: monhook.stop()))
                configs.append(Config("ref sys.monitoring: rejected", lambda: monhook.start(cap, "<nothing>"),
                                      lambda s: monhook.stop()))
            except ImportError:
                pass
        if not threads:  # chook is per thread (PyEval_SetProfile): single-threaded column only
            try:
                import chook  # type: ignore
                configs.append(Config("ref SetProfile cached filter", lambda: chook.start(3, cap, [wl_file]),
                                      lambda s: chook.stop()))
            except ImportError:
                pass
    return configs


# CPU time of the whole process (every thread, the recorder's background thread included): on a
# shared, loaded machine, wall time mostly measures the other processes. --wall switches back. The
# other clock is read too and reported beside it (a tool that moves work to a background thread
# costs CPU time that wall time on idle cores would not show).
CLOCK = time.process_time_ns
OTHER = time.perf_counter_ns
Times = Tuple[int, int]  # (CLOCK, OTHER) nanoseconds


def now() -> Times:
    return CLOCK(), OTHER()


def since(t0: Times) -> Times:
    return CLOCK() - t0[0], OTHER() - t0[1]


def med(ts: List[Times], i: int = 0) -> float:
    return statistics.median(t[i] for t in ts)


def run_once(mod, units: int, nthreads: int) -> Times:
    if nthreads == 1:
        t0 = now()
        mod.units(units)
        return since(t0)
    per = units // nthreads
    ths = [threading.Thread(target=mod.units, args=(per,)) for _ in range(nthreads)]
    t0 = now()
    for t in ths:
        t.start()
    for t in ths:
        t.join()
    return since(t0)


def measure(mod, wl_file, ref_dir, units, nthreads, rounds) -> Tuple[Dict[str, List[Times]], Dict[str, float]]:
    configs = make_configs(wl_file, ref_dir, nthreads > 1)
    times: Dict[str, List[Times]] = {c.name: [] for c in configs}
    extra: Dict[str, float] = {}
    rng = random.Random(7)
    for _ in range(rounds):
        order = configs[:]
        rng.shuffle(order)
        for c in order:
            gc.collect()
            state = c.start()
            dt = run_once(mod, units, nthreads)
            out = c.stop(state)
            times[c.name].append(dt)
            if c.name == "ours: record all" and state is not None:
                st = state.stats
                extra["events"] = st.events
                extra["bytes_per_event"] = st.bytes_held / max(st.events, 1)
            del out
    return times, extra


def end_to_end(mod, wl_file: str, units: int, rounds: int, tmp: Path) -> Dict[str, List[Times]]:
    """CPU time from starting each tool to a complete trace (ours: `prof.trace` built; VizTracer:
    JSON file saved; trace0: protobuf file written), the tools in a shuffled order each round."""
    n = units * CALLS_PER_UNIT

    def bare(i: int) -> Times:
        return run_once(mod, units, 1)

    def ours(i: int) -> Times:
        t0 = now()
        with fprofile_jupyter.profile(subs=[wl_file], max_events=8_000_000) as prof:
            mod.units(units)
        trace = prof.trace
        dt = since(t0)
        assert len(trace) == n + 1, (len(trace), n)  # + units()
        return dt

    def vz(i: int) -> Times:
        from viztracer import VizTracer
        out = tmp / f"vz{i}.json"
        t0 = now()
        t = VizTracer(tracer_entries=6_000_000, verbose=0, output_file=str(out),
                      include_files=[os.path.dirname(wl_file)])
        t.start()
        mod.units(units)
        t.stop()
        t.save()
        dt = since(t0)
        out.unlink()
        return dt

    def t0_(i: int) -> Times:
        from trace0 import Tracer
        out = tmp / f"t0_{i}.pb"
        t0 = now()
        with Tracer(str(out), "protobuf", trace_subprocesses=False):
            mod.units(units)
        dt = since(t0)
        size = out.stat().st_size
        assert size > n, (size, "trace0 wrote less than a byte per call")
        out.unlink()
        return dt

    tools: Dict[str, Callable[[int], Times]] = {"bare": bare, "ours": ours}
    try:
        import viztracer  # noqa: F401
        tools["VizTracer"] = vz
    except ImportError:
        pass
    if have_trace0():
        tools["trace0"] = t0_
    res: Dict[str, List[Times]] = {k: [] for k in tools}
    rng = random.Random(11)
    for i in range(rounds):
        order = list(tools)
        rng.shuffle(order)
        for name in order:
            gc.collect()
            res[name].append(tools[name](i))
    return res


E2E_LABELS = {
    "ours": "ours (enter profile() .. prof.trace ready)",
    "VizTracer": "VizTracer (start .. saved JSON file)",
    "trace0": "trace0 (start .. protobuf file written)",
}


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7, help="rounds (>= 5), median taken")
    ap.add_argument("--units", type=int, default=504, help="workload units (1985 calls each)")
    ap.add_argument("--e2e-units", type=int, default=100, help="units for the end-to-end comparison")
    ap.add_argument("--ref-dir", help="folder with the built reference hooks (default: build ../shared/bench)")
    ap.add_argument("--out", help="also write the tables (markdown) to this file")
    ap.add_argument("--json", help="also write the medians (ns per call) to this file, for bench_all_versions.sh")
    ap.add_argument("--wall", action="store_true", help="measure wall time instead of process CPU time")
    a = ap.parse_args(argv)
    global CLOCK, OTHER
    if a.wall:
        CLOCK, OTHER = time.perf_counter_ns, time.process_time_ns
    other = "CPU" if a.wall else "wall"
    if a.rounds < 5:
        ap.error("--rounds must be at least 5")
    lines: List[str] = []

    def emit(s: str = "") -> None:
        print(s, flush=True)
        lines.append(s)

    summary: Dict[str, object] = {
        "python": sys.version.split()[0], "mechanism": Recorder.mechanism(), "rounds": a.rounds,
        "clock": "wall" if a.wall else "process CPU", "calls": a.units * CALLS_PER_UNIT,
        "e2e_calls": a.e2e_units * CALLS_PER_UNIT,
        "versions": {k: version_of(k) for k in ("fprofile-jupyter", "viztracer", "trace0")},
        "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "load": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
    }
    with tempfile.TemporaryDirectory() as td:
        tmp = Path(td)
        mod, wl_file = load_workload(tmp)
        ref_dir = find_ref_dir(a.ref_dir, tmp)
        calls = a.units * CALLS_PER_UNIT
        peers = ", ".join(f"{k} {v}" for k, v in summary["versions"].items() if v and k != "fprofile-jupyter")  # type: ignore[union-attr]
        emit(f"Python {sys.version.split()[0]}, mechanism: {Recorder.mechanism()}; "
             f"{calls:,} calls per run; median of {a.rounds} rounds, configurations shuffled per round; "
             f"{'wall' if a.wall else 'process CPU'} time; {peers or 'no peers installed'}; "
             f"load average {summary['load']:.1f} at start")
        best: Dict[str, float] = {}
        for nthreads in (1, 4):
            times, extra = measure(mod, wl_file, ref_dir, a.units, nthreads, a.rounds)
            bare = med(times["bare"])
            bare_o = med(times["bare"], 1)
            emit()
            emit(f"### {nthreads} thread{'s' if nthreads > 1 else ''} "
                 f"(bare: {bare / calls:.1f} ns per call)")
            emit()
            emit(f"| configuration | ns per call | overhead ns per call | slowdown | {other} time: overhead, slowdown |")
            emit("|---|---:|---:|---:|---:|")
            per: Dict[str, float] = {}
            per_o: Dict[str, float] = {}
            for name, ts in times.items():
                m, mo = med(ts), med(ts, 1)
                per[name] = m / calls
                per_o[name] = mo / calls
                emit(f"| {name} | {m / calls:.1f} | {(m - bare) / calls:+.1f} | {m / bare:.2f}x "
                     f"| {(mo - bare_o) / calls:+.1f}, {mo / bare_o:.2f}x |")
            summary[f"threads{nthreads}"] = per
            summary[f"threads{nthreads}_{other}"] = per_o
            if nthreads == 1:
                best = {k: (med(v) - bare) / calls for k, v in times.items()}
            if "events" in extra:
                emit()
                emit(f"ours: {int(extra['events']):,} events recorded ({extra['events'] / calls:.2f} per call), "
                     f"{extra['bytes_per_event']:.1f} bytes per event held while recording")
                summary[f"bytes_per_event{nthreads}"] = extra["bytes_per_event"]
        e2e = end_to_end(mod, wl_file, a.e2e_units, a.rounds, tmp)
        n = a.e2e_units * CALLS_PER_UNIT
        bare, bare_o = med(e2e["bare"]), med(e2e["bare"], 1)
        emit()
        emit(f"### End to end ({n:,} calls): from start to a complete trace")
        emit()
        emit(f"| tool | ns per call beyond bare | {other} time |")
        emit("|---|---:|---:|")
        e2e_over: Dict[str, float] = {}
        e2e_over_o: Dict[str, float] = {}
        for name, ts in e2e.items():
            if name == "bare":
                continue
            e2e_over[name] = (med(ts) - bare) / n
            e2e_over_o[name] = (med(ts, 1) - bare_o) / n
            emit(f"| {E2E_LABELS[name]} | {e2e_over[name]:+.1f} | {e2e_over_o[name]:+.1f} |")
        summary["e2e_bare"] = bare / n
        summary["e2e_overhead"] = e2e_over
        summary[f"e2e_overhead_{other}"] = e2e_over_o
        if best:
            emit()
            emit("### Targets")
            emit()
            rec = best.get("ours: record all")
            rej = best.get("ours: reject all")
            vz = best.get("VizTracer")
            t0 = best.get("trace0")
            ref_rec = [v for k, v in best.items() if k.startswith("ref") and k.endswith("recorded")]
            ref_rej = [v for k, v in best.items() if k.startswith("ref PEP 523: rejected")]

            def met(ok: bool) -> str:
                return "met" if ok else "**NOT met**"
            if sys.version_info >= (3, 12):
                if rec is not None and t0 is not None:
                    emit(f"- recorded call: {rec:+.1f} ns vs trace0's {t0:+.1f} ns = {rec / t0:.2f} "
                         f"(target <= 1.00): {met(rec <= t0)}")
                if "trace0" in e2e_over:
                    r = e2e_over["ours"] / e2e_over["trace0"]
                    emit(f"- end to end: {e2e_over['ours']:+.1f} ns per call vs trace0's {e2e_over['trace0']:+.1f} "
                         f"= {r:.2f} (target <= 0.80): {met(r <= 0.8)}")
                if rej is not None:
                    emit(f"- rejected call: {rej:+.1f} ns (target <= 1 ns on 3.12+): {met(rej <= 1.0)}")
                if t0 is None:
                    emit("- trace0 not installed: no trace0 comparison")
            if rec is not None and vz:
                emit(f"- recorded call: {rec:+.1f} ns = {rec / vz:.2f} of VizTracer's {vz:+.1f} (earlier target <= 0.33)")
            if rec is not None and ref_rec:
                emit(f"- recorded call: {rec / min(ref_rec):.2f}x the best reference hook ({min(ref_rec):+.1f} ns; "
                     f"earlier target <= 1.5x)")
            if rej is not None and sys.version_info < (3, 12) and ref_rej:
                emit(f"- rejected call: {rej:+.1f} ns = {rej / ref_rej[0]:.2f}x the PEP 523 reference "
                     f"({ref_rej[0]:+.1f} ns; target <= 1.5x)")
            if "VizTracer" in e2e_over:
                emit(f"- end to end: {e2e_over['ours']:+.1f} ns per call = "
                     f"{e2e_over['ours'] / e2e_over['VizTracer']:.3f} of VizTracer's (earlier target <= 0.1)")
    if a.out:
        Path(a.out).write_text("\n".join(lines) + "\n")
    if a.json:
        summary["markdown"] = "\n".join(lines) + "\n"
        Path(a.json).write_text(json.dumps(summary, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
