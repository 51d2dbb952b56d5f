"""A/B benchmark of two revisions of the recorder, alternating in one run (not a test).

Builds each revision (any git revision: a commit, a branch, ``HEAD``, or ``WORKTREE`` for the
uncommitted tree) into a virtual environment of its own, cached by commit under ``--cache``
(default ``/var/tmp/fprofile-ab``, made 0700), then runs the same micro-benchmarks in fresh
processes of each build, alternating in a shuffled order within each round, and prints each
figure's median over the rounds and the ratio HEAD / BASE:

  recorded      ``with profile(subs=[<workload file>])`` around fib(22) (57,313 recursive calls):
                overhead per call over the bare run measured in the same process
  rejected      the same with subs that match nothing (what a library call costs under the
                default subs)
  recorded/np   recorded with ``processes=False`` (when the revision has it)
  rejected/np   rejected with ``processes=False``
  recorded, in run / rejected, in run
                the same, timed inside the ``with`` (the hook's cost while the program runs; the
                figures above add what the stop does per recorded call: clock conversion, trees)
  start+stop    entering and leaving ``profile()`` around nothing, per recording (µs)
  child start   a child process (``python -c pass``) started while recording: its CPU time (µs),
                the start of its recording and the end of its spool included

Figures are ns per call (µs for start+stop), in process CPU time (``time.process_time_ns``: on a
shared machine wall time mostly measures the other processes; ``--wall`` for wall time). Each child
process runs every configuration ``--inner`` times, shuffled, and reports each one's median.

    python benchmarks/ab.py [BASE [HEAD]] [--rounds 9] [--python /path/to/python3.11 ...] [--wall]

BASE defaults to the last release tag (``git describe --tags --abbrev=0``); without a tag, BASE
must be given. HEAD defaults to ``WORKTREE`` (a work tree without changes is HEAD's build).
``INSTALLED`` names no revision but the fprofile-jupyter already installed in each ``--python``
(nothing is built: ``INSTALLED INSTALLED`` checks the script itself in seconds). ``--fib N`` sets
the workload (fib(N), default 22). ``--python`` may be given several times (default: this
Python); each (revision, Python) pair gets its own build. Example: the hook before the processes
work against today, on 3.11 and 3.13::

    .venv/bin/python benchmarks/ab.py e2799a7 HEAD --python .venv/bin/python --python .venv-3.13/bin/python
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, List

ROOT = Path(__file__).resolve().parent.parent

WORKLOAD = """
def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)
"""
FIB_N = 22


def calls_of_fib(n: int) -> int:
    """Calls of fib(n), the top one included (57,313 for fib(22))."""
    a, b = 1, 1  # calls of fib(0), fib(1)
    for _ in range(n - 1):
        a, b = b, a + b + 1
    return b if n >= 1 else a

# Runs in a child process of one build: prints one JSON object of medians (ns per call, or ns per
# start+stop) for every configuration the build supports.
CHILD = r"""
import importlib.util, inspect, json, os, random, resource, statistics, subprocess, sys, time, warnings
wl_file, inner, wall, N, CALLS = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1", int(sys.argv[4]), int(sys.argv[5])
spec = importlib.util.spec_from_file_location("ab_wl", wl_file)
mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
import fprofile_jupyter
from fprofile_jupyter import profile
warnings.simplefilter("ignore")
clock = time.perf_counter_ns if wall else time.process_time_ns
has_np = "processes" in inspect.signature(profile).parameters
def bare():
    t = clock(); mod.fib(N); return clock() - t
def rec(subs, **kw):
    def run():
        t = clock()
        with profile(subs=subs, **kw):
            mod.fib(N)
        return clock() - t
    return run
def inrun(subs, **kw):
    def run():
        with profile(subs=subs, **kw):
            t = clock()
            mod.fib(N)
            return clock() - t
    return run
def startstop(**kw):
    def run():
        t = clock()
        with profile(subs=[wl_file], **kw):
            pass
        return clock() - t
    return run
def child():
    with profile(subs=[wl_file]):
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return int((r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime) * 1e9)
configs = {"bare": bare, "recorded": rec([wl_file]), "rejected": rec(["ab-no-such-file-xyz"]),
           "start+stop": startstop(), "child start": child,
           "recorded, in run": inrun([wl_file]), "rejected, in run": inrun(["ab-no-such-file-xyz"])}
if has_np:
    configs["recorded/np"] = rec([wl_file], processes=False)
    configs["rejected/np"] = rec(["ab-no-such-file-xyz"], processes=False)
    configs["start+stop/np"] = startstop(processes=False)
for f in configs.values():
    f()  # warm up: imports, first-call caches
times = {k: [] for k in configs}
for _ in range(inner):
    order = list(configs); random.shuffle(order)
    for k in order:
        times[k].append(configs[k]())
med = {k: statistics.median(v) for k, v in times.items()}
out = {}
for k, v in med.items():
    if k in ("bare", "child start") or k.startswith("start+stop"):
        out[k] = v
    elif k.endswith(", in run"):
        out[k] = (v - med["bare"]) / CALLS
    else:
        # the recording includes one start+stop: take it out, then the bare run
        ss = med["start+stop/np" if k.endswith("/np") else "start+stop"]
        out[k] = (v - ss - med["bare"]) / CALLS
out["bare"] = med["bare"] / CALLS
print(json.dumps(out))
"""


def run(cmd: List[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, text=True, **kw)


class Usage(Exception):
    """Bad input: one line for the user, exit status 2."""


def git(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(ROOT), *args], text=True, capture_output=True)


def resolve(rev: str) -> str:
    if rev in ("WORKTREE", "INSTALLED"):
        if rev == "WORKTREE" and not git("status", "--porcelain", "--untracked-files=normal").stdout.strip():
            return resolve("HEAD")  # nothing changed: HEAD's build
        return rev
    r = git("rev-parse", "--verify", "--quiet", rev + "^{commit}")
    if r.returncode != 0:
        raise Usage(f"ab: {rev!r} is not a revision of {ROOT} (a commit, branch or tag, WORKTREE or INSTALLED)")
    return r.stdout.strip()


def default_base() -> str:
    """The last release tag reachable from HEAD, else one clear line."""
    r = git("describe", "--tags", "--abbrev=0")
    if r.returncode != 0 or not r.stdout.strip():
        raise Usage("ab: no release tag to compare with (git describe --tags finds none): name the BASE revision, "
                    "e.g. benchmarks/ab.py e2799a7")
    return r.stdout.strip()


def worktree_key() -> str:
    """A key for the uncommitted tree: HEAD plus a hash of the diff and of untracked files' names."""
    head = resolve("HEAD")
    diff = run(["git", "-C", str(ROOT), "diff", "HEAD", "--binary"], capture_output=True).stdout
    return head[:12] + "-wt-" + hashlib.sha256(diff.encode()).hexdigest()[:10]


def build(rev: str, python: str, cache: Path) -> Path:
    """The venv Python of ``rev`` built for ``python`` (cached); ``python`` itself for INSTALLED."""
    if rev == "INSTALLED":
        r = subprocess.run([python, "-c", "import fprofile_jupyter"], capture_output=True, text=True)
        if r.returncode != 0:
            raise Usage(f"ab: INSTALLED: {python} cannot import fprofile_jupyter")
        return Path(python)
    pyver = run([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"], capture_output=True).stdout.strip()
    key = (worktree_key() if rev == "WORKTREE" else rev[:12]) + "-py" + pyver
    venv = cache / key
    py = venv / "bin" / "python"
    if (venv / ".built").exists():
        return py
    shutil.rmtree(venv, ignore_errors=True)
    print(f"ab: building {rev[:12] if rev != 'WORKTREE' else 'the work tree'} for Python {pyver} into {venv}",
          file=sys.stderr)
    run([python, "-m", "venv", str(venv)])
    src = Path(tempfile.mkdtemp(prefix="src-", dir=cache))
    try:
        if rev == "WORKTREE":
            files = run(["git", "-C", str(ROOT), "ls-files", "-co", "--exclude-standard"], capture_output=True).stdout
            for name in files.splitlines():
                s = ROOT / name
                if s.is_file():
                    (src / name).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(s, src / name)
        else:
            archive = subprocess.Popen(["git", "-C", str(ROOT), "archive", rev], stdout=subprocess.PIPE)
            run(["tar", "-x", "-C", str(src)], stdin=archive.stdout)
            if archive.wait() != 0:
                raise SystemExit(f"ab: git archive {rev} failed")
        env = dict(os.environ, CARGO_TARGET_DIR=str(cache / ("target-py" + pyver)))
        run([str(py), "-m", "pip", "install", "-q", "--upgrade", "pip"])
        run([str(py), "-m", "pip", "install", "-q", str(src)], env=env)
    finally:
        shutil.rmtree(src, ignore_errors=True)
    (venv / ".built").touch()
    return py


def main(argv: List[str] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("base", nargs="?", default=None, help="default: the last release tag")
    ap.add_argument("head", nargs="?", default="WORKTREE")
    ap.add_argument("--fib", type=int, default=FIB_N, help="the workload: fib(N) (default %(default)s)")
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--inner", type=int, default=7)
    ap.add_argument("--python", action="append", default=None)
    ap.add_argument("--cache", default="/var/tmp/fprofile-ab")
    ap.add_argument("--wall", action="store_true")
    args = ap.parse_args(argv)
    if args.rounds < 3 or args.inner < 3:
        ap.error("--rounds and --inner must be at least 3")
    if not 2 <= args.fib <= 40:
        ap.error("--fib must be between 2 and 40")
    try:
        return compare(args)
    except Usage as e:
        print(e, file=sys.stderr)
        return 2


def compare(args: argparse.Namespace) -> int:
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    os.chmod(cache, 0o700)
    pythons = args.python or [sys.executable]
    revs = {"BASE": resolve(args.base if args.base is not None else default_base()), "HEAD": resolve(args.head)}
    work = Path(tempfile.mkdtemp(prefix="fprofile-ab-"))
    wl = work / "ab_workload.py"
    wl.write_text(WORKLOAD)
    try:
        for python in pythons:
            builds = {name: build(rev, python, cache) for name, rev in revs.items()}
            results: Dict[str, List[Dict[str, float]]] = {name: [] for name in builds}
            for r in range(args.rounds):
                order = list(builds)
                random.shuffle(order)
                for name in order:
                    out = run([str(builds[name]), "-c", CHILD, str(wl), str(args.inner), "1" if args.wall else "0",
                               str(args.fib), str(calls_of_fib(args.fib))], capture_output=True, cwd=str(work)).stdout
                    results[name].append(json.loads(out.strip().splitlines()[-1]))
                print(f"ab: round {r + 1}/{args.rounds}", file=sys.stderr)
            report(python, revs, results, args)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def short(rev: str) -> str:
    return rev if rev in ("WORKTREE", "INSTALLED") else rev[:12]


def report(python: str, revs: Dict[str, str], results: Dict[str, List[Dict[str, float]]], args) -> None:
    pyver = run([python, "--version"], capture_output=True).stdout.strip()
    clock = "wall time" if args.wall else "process CPU time"
    print(f"\n{pyver}, {clock}, fib({args.fib}), median of {args.rounds} rounds x {args.inner} runs; "
          f"BASE {short(revs['BASE'])}, HEAD {short(revs['HEAD'])}")
    print(f"{'figure':<16} {'BASE':>12} {'HEAD':>12} {'HEAD/BASE':>10}  (min..max HEAD)")
    keys = [k for k in results["HEAD"][0] if all(k in r for r in results["BASE"])]
    for k in keys:
        unit, scale = ("µs", 1e-3) if k.startswith(("start+stop", "child")) else ("ns/call", 1.0)
        b = statistics.median(r[k] for r in results["BASE"]) * scale
        h = [r[k] * scale for r in results["HEAD"]]
        hm = statistics.median(h)
        ratio = f"{hm / b:.2f}" if b > 0 else "n/a"
        label = k if k != "bare" else "bare (per call)"
        print(f"{label:<16} {b:>9.1f} {unit[:2]:<2} {hm:>9.1f} {unit[:2]:<2} {ratio:>10}  ({min(h):.1f}..{max(h):.1f})")


if __name__ == "__main__":
    sys.exit(main())
