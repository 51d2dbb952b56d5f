"""Child processes (processes=True): per-call overhead in a child vs in-process, and a 4-process pool end to end.

1. Per-call overhead: the same workload (fib(25), 242,785 calls) run in this process and in a
   spawned child, bare and recorded (in-process: `profile(processes=False)`; child: the child of a
   `profile()` that follows processes, recorded through its spool). Process CPU time (every thread:
   the writer thread's spooling included), median of the rounds; overhead per call beyond the bare
   call, and the child/in-process ratio of the overheads.
2. A 4-process spawn `ProcessPoolExecutor` doing 48 tasks of fib(20) (1,050,768 recorded calls):
   the wall time of the whole command, median of the rounds, bare / under fprofile (the program
   records with `profile()`; the trace is ready in the parent, merged) / under trace0 (`python -m
   trace0 run`, which follows subprocesses; 3.13+) / under VizTracer (`viztracer`, which follows
   multiprocessing). Inside the fprofile run: the pool's time, the stop (spools read, traces built,
   merged) and the merge alone (`_core.merge`), per recorded call, and the spools' bytes on disk
   per recorded call. The configurations run in a shuffled order in each round.
3. A spawned child's exit: the wall time from its last statement (after fib(25)) to the parent's
   `join()` returning, bare and recorded (the end of its spool included), and the parent's stop.

`--base-python PY` adds another build's fprofile (e.g. an `ab.py` build of main, under
/var/tmp/fprofile-ab) to the rounds of 2 and 3, as "fprofile (base)".

Not a test: figures for benchmarks/README.md. Run from the repository root with a Python that
has the package (and, for the peers, viztracer and trace0) installed:

    .venv/bin/python benchmarks/bench_processes.py --rounds 5
    .venv-3.13/bin/python benchmarks/bench_processes.py --rounds 9 --no-per-call \
        --base-python /var/tmp/fprofile-ab/<main>-py3.13/bin/python
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Dict, List, Optional

WORKLOAD = '''
def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)
'''

CHILD_N = 25
CHILD_CALLS = 242785  # calls of fib(25)

POOL_PROGRAM = '''
import json, os, sys, time
from concurrent.futures import ProcessPoolExecutor
import multiprocessing

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wl import fib

def task(n):
    return fib(n)

def run():
    with ProcessPoolExecutor(4, mp_context=multiprocessing.get_context("spawn")) as ex:
        return list(ex.map(task, [20] * 48))

if __name__ == "__main__":
    mode = sys.argv[1]
    t0 = time.perf_counter()
    if mode == "fprofile":
        import fprofile_jupyter as fp
        from fprofile_jupyter import _processes
        merge_s = []
        real_core = _processes._core

        class Timed:  # the merge alone, timed from inside the stop
            def __getattr__(self, name):
                return getattr(real_core, name)

            @staticmethod
            def merge(parts):
                m0 = time.perf_counter()
                out = real_core.merge(parts)
                merge_s.append(time.perf_counter() - m0)
                return out

        _processes._core = Timed()
        spool_bytes = []
        real_read_spools = _processes._read_spools

        def read_spools(spools, *a, **k):  # the spools' bytes on disk, as the stop finds them
            spool_bytes.append(sum(os.path.getsize(p) for _, p in spools))
            return real_read_spools(spools, *a, **k)

        _processes._read_spools = read_spools
        prof = fp.profile(subs=[os.path.dirname(os.path.abspath(__file__))])
        prof.__enter__()
        out = run()
        t_pool = time.perf_counter() - t0
        s0 = time.perf_counter()
        prof.__exit__(None, None, None)
        t_stop = time.perf_counter() - s0
        trace = prof.trace
        assert len(merge_s) == 1, "the children were merged"
        info = {"pool_s": t_pool, "stop_s": t_stop, "merge_s": sum(merge_s), "calls": len(trace),
                "processes": len(trace.processes), "spool_bytes": sum(spool_bytes)}
    else:
        out = run()
        info = {"pool_s": time.perf_counter() - t0}
    assert out == [6765] * 48
    info["total_s"] = time.perf_counter() - t0
    print("INFO " + json.dumps(info))
'''

EXIT_PROGRAM = '''
import json, multiprocessing, os, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def child(conn):
    from wl import fib

    fib(%d)
    conn.send(time.monotonic())  # the child's last statement


if __name__ == "__main__":
    ctx = multiprocessing.get_context("spawn")
    prof = None
    if sys.argv[1] == "fprofile":
        import fprofile_jupyter as fp

        prof = fp.profile(subs=[os.path.dirname(os.path.abspath(__file__))])
        prof.__enter__()
    a, b = ctx.Pipe(duplex=False)
    p = ctx.Process(target=child, args=(b,))
    p.start()
    last = a.recv()
    p.join()
    info = {"exit_s": time.monotonic() - last}
    if prof is not None:
        s0 = time.perf_counter()
        prof.__exit__(None, None, None)
        info["stop_s"] = time.perf_counter() - s0
        info["calls"] = len(prof.trace)
    print("INFO " + json.dumps(info))
''' % CHILD_N


def child_task(conn, wl_dir: str) -> None:
    sys.path.insert(0, wl_dir)
    from wl import fib

    t0 = time.process_time()
    fib(CHILD_N)
    conn.send(time.process_time() - t0)
    conn.close()


def in_child(wl_dir: str) -> float:
    ctx = multiprocessing.get_context("spawn")
    a, b = ctx.Pipe(duplex=False)
    p = ctx.Process(target=child_task, args=(b, wl_dir))
    p.start()
    t = a.recv()
    p.join()
    return t


def per_call(wl_dir: str, rounds: int) -> Dict[str, float]:
    import fprofile_jupyter as fp

    sys.path.insert(0, wl_dir)
    from wl import fib

    bare, rec, cbare, crec = [], [], [], []
    for _ in range(rounds):
        t0 = time.process_time()
        fib(CHILD_N)
        bare.append(time.process_time() - t0)
        with fp.profile(subs=[wl_dir], processes=False) as prof:
            t0 = time.process_time()
            fib(CHILD_N)
            rec.append(time.process_time() - t0)
        assert len(prof.trace) == CHILD_CALLS
        cbare.append(in_child(wl_dir))
        with fp.profile(subs=[wl_dir]) as prof:
            crec.append(in_child(wl_dir))
        assert len(prof.trace) == CHILD_CALLS + 1, len(prof.trace)  # + the child's import of wl.py

    def ns(xs: List[float]) -> float:
        return statistics.median(xs) / CHILD_CALLS * 1e9

    out = {"bare_ns": ns(bare), "recorded_ns": ns(rec), "child_bare_ns": ns(cbare), "child_recorded_ns": ns(crec)}
    out["overhead_ns"] = out["recorded_ns"] - out["bare_ns"]
    out["child_overhead_ns"] = out["child_recorded_ns"] - out["child_bare_ns"]
    out["ratio"] = out["child_overhead_ns"] / out["overhead_ns"]
    return out


def timed(cmd: List[str], cwd: str) -> tuple:
    t0 = time.perf_counter()
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError(f"{cmd}: {p.stderr[-2000:]}")
    info = [json.loads(ln[5:]) for ln in p.stdout.splitlines() if ln.startswith("INFO ")]
    return wall, (info[0] if info else {})


def size_of(path: Path) -> int:
    if path.is_dir():
        return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return path.stat().st_size if path.exists() else 0


def pool(work: Path, rounds: int, base_python: Optional[str] = None) -> Dict[str, object]:
    prog = work / "pool_prog.py"
    prog.write_text(textwrap.dedent(POOL_PROGRAM))
    exit_prog = work / "exit_prog.py"
    exit_prog.write_text(textwrap.dedent(EXIT_PROGRAM))
    py = sys.executable
    configs = {"bare": [py, str(prog), "bare"], "fprofile": [py, str(prog), "fprofile"]}
    if base_python:
        configs["fprofile (base)"] = [base_python, str(prog), "fprofile"]
    have_trace0 = sys.version_info >= (3, 13) and subprocess.run([py, "-c", "import trace0"], capture_output=True).returncode == 0
    if have_trace0:
        configs["trace0"] = [py, "-m", "trace0", "run", "-o", str(work / "t0.pb"), str(prog), "bare"]
    viz = shutil.which("viztracer", path=os.path.dirname(py))
    if viz:
        configs["viztracer"] = [viz, "-o", str(work / "viz.json"), str(prog), "bare"]
    # a spawned child's exit (its last statement to the parent's join) and the parent's stop
    configs["exit: bare"] = [py, str(exit_prog), "bare"]
    configs["exit: fprofile"] = [py, str(exit_prog), "fprofile"]
    if base_python:
        configs["exit: fprofile (base)"] = [base_python, str(exit_prog), "fprofile"]
    walls: Dict[str, List[float]] = {k: [] for k in configs}
    infos: Dict[str, List[dict]] = {k: [] for k in configs}
    sizes: Dict[str, int] = {}
    for _ in range(rounds):
        order = list(configs)
        random.shuffle(order)
        for name in order:
            wall, info = timed(configs[name], str(work))
            walls[name].append(wall)
            infos[name].append(info)
        sizes["trace0"] = size_of(work / "t0.pb")
        sizes["viztracer"] = size_of(work / "viz.json")
    med = {k: statistics.median(v) for k, v in walls.items() if not k.startswith("exit")}

    def inside(name: str) -> Dict[str, float]:
        i = infos[name]
        calls = i[0]["calls"]
        out = {"calls": calls, "processes": i[0]["processes"],
               "pool_s": statistics.median(x["pool_s"] for x in i),
               "stop_s": statistics.median(x["stop_s"] for x in i),
               "merge_ns_per_call": statistics.median(x["merge_s"] for x in i) / calls * 1e9,
               "stop_ns_per_call": statistics.median(x["stop_s"] for x in i) / calls * 1e9}
        if "spool_bytes" in i[0]:
            out["spool_bytes_per_call"] = statistics.median(x["spool_bytes"] for x in i) / calls
        return out

    exits = {k[len("exit: "):]: {"exit_ms": statistics.median(x["exit_s"] for x in v) * 1e3,
                                 **({"stop_ms": statistics.median(x["stop_s"] for x in v) * 1e3} if "stop_s" in v[0] else {})}
             for k, v in infos.items() if k.startswith("exit")}
    return {
        "wall_s": med,
        "all_walls_s": {k: v for k, v in walls.items() if not k.startswith("exit")},
        "inside": {k: inside(k) for k in configs if k.startswith("fprofile")},
        "exit": exits,
        "sizes": {k: v for k, v in sizes.items() if v},
    }


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    ap.add_argument("--base-python", help="another build's Python (e.g. an ab.py build of main): its fprofile "
                    "runs the pool and the exit in the same rounds, as 'fprofile (base)'")
    ap.add_argument("--no-per-call", action="store_true", help="the pool and the exit only")
    args = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench-processes-"))
    try:
        (work / "wl.py").write_text(WORKLOAD)
        a = None if args.no_per_call else per_call(str(work), args.rounds)
        b = pool(work, args.rounds, args.base_python)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    res = {"python": sys.version.split()[0], "rounds": args.rounds, "load": os.getloadavg()[0],
           "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "per_call": a, "pool": b}
    if args.json:
        print(json.dumps(res, indent=1))
        return 0
    print(f"Python {res['python']}, {args.rounds} rounds, {res['when']}, load {res['load']:.1f}")
    if a:
        print(f"per call (fib({CHILD_N}), {CHILD_CALLS:,} calls, CPU time): bare {a['bare_ns']:.1f} ns, "
              f"in-process overhead +{a['overhead_ns']:.1f} ns, in a child +{a['child_overhead_ns']:.1f} ns "
              f"(bare in a child {a['child_bare_ns']:.1f} ns): ratio {a['ratio']:.2f}")
    w = b["wall_s"]
    first = b["inside"]["fprofile"]
    print(f"4-process spawn pool, 48 x fib(20), {first['calls']:,} calls recorded in {first['processes']} processes "
          f"(wall, whole command, {args.rounds} rounds in shuffled order):")
    for k, v in w.items():
        peer = f", {v / w['trace0']:.2f}x trace0" if "trace0" in w else ""
        print(f"  {k:16s} {v:.3f} s  ({v / w['bare']:.2f}x bare{peer})")
    for k, i in b["inside"].items():
        spool = f"; spools {i['spool_bytes_per_call']:.2f} B per call" if "spool_bytes_per_call" in i else ""
        print(f"  {k} inside: pool {i['pool_s']:.3f} s, stop (spools read, built, merged) {i['stop_s']:.3f} s "
              f"= {i['stop_ns_per_call']:.1f} ns per call; merge alone {i['merge_ns_per_call']:.1f} ns per call{spool}")
    print(f"a spawned child's exit after fib({CHILD_N}) (its last statement to the parent's join, wall), the parent's stop:")
    for k, e in b["exit"].items():
        stop = f", stop {e['stop_ms']:.1f} ms" if "stop_ms" in e else ""
        print(f"  {k:16s} exit {e['exit_ms']:.1f} ms{stop}")
    if b["sizes"]:
        print("  output sizes: " + ", ".join(f"{k} {v / 1e6:.1f} MB" for k, v in b["sizes"].items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
