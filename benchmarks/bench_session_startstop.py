"""Benchmark of a recording's start, stop and writer with processes followed (not a test: prints
medians), for two installs of the package compared, alternating.

Each measurement runs in a fresh interpreter with ``PYTHONPATH`` set to a site directory (or unset:
this environment's install), so an older build can be compared with the current one:

    pip install --no-deps --target /tmp/old_site old.whl
    python benchmarks/bench_session_startstop.py --site /tmp/old_site --site "" [--rounds 9]

Measured, CPU time of the process (``time.process_time``) unless said:
  empty       ``with profile(subs=[...]): pass`` (start and stop with the session directory), ms
  fib         ``with profile(subs=[this file])`` around fib(22) (57,313 calls), ns per call
  child       wall time of ``with profile(...)`` around a spawned Python child that runs fib(20) and
              exits, trace merged, ms
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

PROG = r'''
import json, os, subprocess, sys, time
import fprofile_jupyter as fp
def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)
here = os.path.abspath(__file__)
out = {}
for _ in range(3):
    fp.profile(subs=["nothing"]).__enter__().__exit__(None, None, None)  # warm up
t = time.process_time()
for _ in range(20):
    with fp.profile(subs=["nothing-matches"]):
        pass
out["empty"] = (time.process_time() - t) / 20 * 1e3
fib(18)
t = time.process_time()
with fp.profile(subs=[here]) as prof:
    fib(22)
out["fib"] = (time.process_time() - t) / 57313 * 1e9
assert len(prof.trace) == 57313, len(prof.trace)
child = "def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\nfib(20)\n"
t = time.perf_counter()
with fp.profile(subs=["<string>"]) as prof:
    subprocess.run([sys.executable, "-c", child], check=True)
out["child"] = (time.perf_counter() - t) * 1e3
assert len(prof.trace) >= 21891, len(prof.trace)
print("RESULT " + json.dumps(out))
'''


def run(site: str, script: str) -> dict:
    env = dict(os.environ)
    env.pop("FPROFILE_JUPYTER_SESSION", None)
    if site:
        env["PYTHONPATH"] = site
    else:
        env.pop("PYTHONPATH", None)
    p = subprocess.run([sys.executable, script], env=env, capture_output=True, text=True, check=True)
    (line,) = [ln for ln in p.stdout.splitlines() if ln.startswith("RESULT ")]
    return json.loads(line[len("RESULT "):])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--site", action="append", required=True, help="a site directory for PYTHONPATH ('' = this install)")
    ap.add_argument("--rounds", type=int, default=9)
    opts = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        script = os.path.join(d, "prog.py")
        with open(script, "w") as f:
            f.write(PROG)
        got: dict = {s: [] for s in opts.site}
        for _ in range(opts.rounds):
            for s in opts.site:  # alternating
                got[s].append(run(s, script))
    for s in opts.site:
        med = {k: statistics.median(r[k] for r in got[s]) for k in got[s][0]}
        print(f"{s or 'this install':40s} empty {med['empty']:.2f} ms  fib {med['fib']:.0f} ns/call  "
              f"child {med['child']:.0f} ms (medians of {opts.rounds})")


if __name__ == "__main__":
    main()
