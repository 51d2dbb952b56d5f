"""The flame graph and the callers / callees computed in the page (js/flame.js, for pages without a
kernel) equal the Rust core's (rust/core/src/flame.rs) on real recordings: one rule, two
implementations, checked against each other (as tests/fixtures/durations.json does for durations).
The core's side is written here; tests/js/flame_crosscheck.mjs computes the page's and compares."""
from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import fprofile_jupyter as fprofile
from fprofile_jupyter import _core

ROOT = Path(__file__).resolve().parent.parent
NODE = shutil.which("node")


def _fib(n: int) -> int:
    return n if n < 2 else _fib(n - 1) + _fib(n - 2)


def _leaf(k: int) -> int:
    return sum(range(k))


def _branch(k: int) -> int:
    return _leaf(k) + (_leaf(k // 2) if k % 3 else _fib(8))


def _walk_a(depth: int, k: int) -> int:
    return _walk(depth, k * 3 + 1)


def _walk_b(depth: int, k: int) -> int:
    return _walk(depth, k * 5 + 2) + _leaf(k % 11)


def _walk(depth: int, k: int) -> int:
    """Many distinct call paths: which helper runs next depends on k."""
    if depth == 0:
        return _leaf(k % 17)
    step = (_walk_a, _walk_b, _branch_at)[k % 3]
    return step(depth - 1, k // 3 + depth)


def _branch_at(depth: int, k: int) -> int:
    return _branch(k % 40) + (_walk(depth, k + 1) if depth % 2 else 0)


def _worker(rounds: int) -> None:
    for i in range(rounds):
        _branch(50 + i % 7)
        _walk(6, i * 13)
        if i % 5 == 0:
            _fib(10)


def _workload() -> None:
    threads = [threading.Thread(target=_worker, args=(300 + 100 * k,), name=f"w{k}") for k in range(3)]
    for t in threads:
        t.start()
    _worker(400)
    for t in threads:
        t.join()


def _flat(node: dict, depth: int, out: list) -> list:
    """A nested callers / callees dict in pre-order as [depth, code, calls, total, self] rows."""
    out.append([depth, node["code"], node["calls"], node["total_ns"], node["self_ns"]])
    for child in node["children"]:
        _flat(child, depth + 1, out)
    return out


def _case(trace, name: str, directory: Path) -> Path:
    fpt = directory / f"{name}.fpt"
    trace.save(str(fpt))
    trace = fprofile.load(str(fpt))  # what the page reads
    n = len(trace.threads)
    t0, t1 = min(th.first_ns for th in trace.threads), max(th.last_ns for th in trace.threads)
    third = (t1 - t0) // 3
    flames = []
    for threads in (None, [0], list(range(1, n))):
        for window in (None, [t0 + third, t1 - third], [t0 + third + 1234, t0 + third + 1234 + third // 10]):
            data = _core.flame_bytes(trace, threads, tuple(window) if window else None)
            flames.append({"threads": threads, "window": window, "bytes": base64.b64encode(data).decode()})
    assert sum(len(f["bytes"]) > 0 for f in flames) >= 6, "too many empty flames: they check nothing"
    codes: list = []  # the functions of the flame, in pre-order of first appearance
    todo = list(trace.flame())
    while todo and len(codes) < 10:
        node = todo.pop(0)
        if node["code"] not in codes:
            codes.append(node["code"])
        todo.extend(node["children"])
    sandwiches = []
    for code in codes:
        for threads in (None, [0]):
            callers = trace.callers(code, threads=threads)
            if callers["calls"] == 0:
                continue
            callees = trace.callees(code, threads=threads)
            sandwiches.append({"code": code, "threads": threads, "callers": _flat(callers, 0, []),
                               "callees": _flat(callees, 0, [])})
    assert sandwiches, "no function to take callers and callees of"
    out = directory / f"{name}.json"
    out.write_text(json.dumps({"name": name, "fpt": str(fpt), "flames": flames, "sandwiches": sandwiches}))
    return out


@pytest.mark.skipif(NODE is None, reason="node is needed to run the page's code")
def test_js_flame_equals_rust_on_recordings(tmp_path):
    with fprofile.profile(subs=["test_flame_js"]) as prof:
        _workload()
    cases = [_case(prof.trace, "threads", tmp_path)]
    demo = tmp_path / "demo.fpt"
    subprocess.run([sys.executable, "-m", "fprofile_jupyter", "run", "-o", str(demo),
                    str(ROOT / "examples" / "threads_demo.py")], check=True, capture_output=True, timeout=300)
    cases.append(_case(fprofile.load(str(demo)), "threads_demo", tmp_path))
    res = subprocess.run([NODE, str(ROOT / "tests" / "js" / "flame_crosscheck.mjs"), *map(str, cases)],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr + res.stdout
    compared = [line for line in res.stdout.splitlines() if line.endswith("nodes equal")]
    assert len(compared) >= 2 * 9 + 4, res.stdout
