"""Where users get a file-backed trace (issue 22): ``prof.trace`` of a recording streamed to an
``.fpt`` outfile (``profile(outfile=)``, ``ThreadProfiler``) is backed by the file, opened on first
use, its calls never loaded for what it is asked (exact counts with threads and a child process);
and the memory of the user's path with a long run: peak RSS of ``fprofile run -o``,
``fprofile stats`` and ``load()`` of the file (file-backed) at two run lengths, whose growth stays
within the index (at most 4 bytes per call). Every scenario is a real program in its own process."""

import json
import os
import sys

import pytest
from test_stop_bounded import FIB10, FIB12, RUN_PROGRAM, peak_rss_mb as peak_mb, run

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux: child processes, wait4")

RECORDING = '''
import json, multiprocessing, os, sys, threading, warnings
import fprofile_jupyter as fp

def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)

def in_thread(k):
    for _ in range(k):
        fib(12)

def child(k):
    for _ in range(k):
        fib(10)

def look(trace):
    """What the test checks, asked in the order a user would (the calls last)."""
    out = {"file": trace.file, "len": len(trace), "threads": [[t.process, t.name, t.call_count] for t in trace.threads],
           "processes": len(trace.processes), "fib": next(r.calls for r in trace.summary() if r.function == "fib")}
    start = min(t.first_ns for t in trace.threads)
    trace.window_bytes(start, start + trace.duration_ns, 2000)
    trace.flame()
    trace.summary_json(overall_only=True)
    out["loaded_after_cheap"] = trace.in_memory
    out["fib_calls"] = sum(1 for c in trace.calls() if c.function == "fib")
    out["loaded_after_calls"] = trace.in_memory
    return out

if __name__ == "__main__":
    out, kind = sys.argv[1], sys.argv[2]
    here = [os.path.dirname(os.path.abspath(__file__))]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if kind == "profile":
            prof = fp.profile(subs=here, outfile=out)
            prof.__enter__()
        else:
            prof = fp.ThreadProfiler()
            prof.profile_on(subs=here, outfile=out)
        ts = [threading.Thread(target=in_thread, args=(20,), name=f"T{k}") for k in range(2)]
        for t in ts:
            t.start()
        for _ in range(30):
            fib(12)
        ctx = multiprocessing.get_context("spawn")
        p = ctx.Process(target=child, args=(20,))
        p.start()
        p.join()
        for t in ts:
            t.join()
        prof.__exit__(None, None, None) if kind == "profile" else prof.profile_off()
    kept = type(prof._trace).__name__
    r = look(prof.trace)
    r.update(kept=kept, same_object=prof.trace is prof.trace, child_pid=p.pid,
             warnings=[str(w.message) for w in caught])
    print(json.dumps(r))
'''


@pytest.mark.parametrize("kind", ["profile", "ThreadProfiler"])
def test_prof_trace_of_a_streamed_recording_is_file_backed_with_exact_counts(tmp_path, kind):
    prog = tmp_path / "prog.py"
    prog.write_text(RECORDING)
    out = str(tmp_path / "x.fpt")
    text, err = run([sys.executable, str(prog), out, kind], cwd=tmp_path, env={**os.environ, "TMPDIR": str(tmp_path)})
    r = json.loads(text.splitlines()[-1])
    assert r["kept"] == "TraceFile", "the stop loaded the trace"
    assert r["file"] == out, "prof.trace is not backed by the outfile"
    assert r["same_object"], "prof.trace opened the file again"
    want_fib = 30 * FIB12 + 2 * 20 * FIB12 + 20 * FIB10
    assert r["fib"] == r["fib_calls"] == want_fib
    counts = {(p, name): n for p, name, n in r["threads"]}
    assert counts[(0, "T0")] == counts[(0, "T1")] == 20 * FIB12 + 1  # in_thread and its fib calls
    assert r["processes"] == 2 and len(counts) == len(r["threads"])
    assert r["len"] == sum(counts.values())
    assert not r["loaded_after_cheap"], "summary, threads, windows or the flame graph loaded the calls"
    assert r["loaded_after_calls"], "calls() did not load them"
    assert r["warnings"] == [], r["warnings"]


OPEN = '''
import json, resource, sys
import fprofile_jupyter as fp
from fprofile_jupyter import _windowed
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = fp.load(sys.argv[1])
assert t.file == sys.argv[1], "load() of a long run is not file-backed"
_windowed.overview_bytes(t)
t.skeleton_bytes()
t.summary_json(overall_only=True)
t.summary()
t.threads
print(json.dumps({"calls": len(t), "in_memory": t.in_memory, "before": before,
                  "peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
'''

#: The two run lengths (calls): the issue's 4M and 16M (a 16M-call run records in about 6 s here).
LENGTHS = (4_000_000, 16_000_000)


def test_run_stats_and_load_memory_stays_within_the_index(tmp_path):
    prog = tmp_path / "prog.py"
    prog.write_text(RUN_PROGRAM)
    (tmp_path / "open.py").write_text(OPEN)
    cli = [sys.executable, "-m", "fprofile_jupyter.cli"]
    got = {}
    for calls in LENGTHS:
        out = str(tmp_path / f"r{calls}.fpt")
        run_mb = peak_mb(cli + ["run", "-o", out, str(prog), str(calls)], cwd=tmp_path)
        stats_mb = peak_mb(cli + ["stats", out], cwd=tmp_path)
        text, _ = run([sys.executable, str(tmp_path / "open.py"), out], cwd=tmp_path)
        o = json.loads(text.splitlines()[-1])
        assert o["calls"] >= 0.95 * calls and not o["in_memory"]
        got[calls] = (run_mb, stats_mb, o["peak"] / 1024, o["calls"])
    (run1, stats1, load1, n1), (run2, stats2, load2, n2) = (got[k] for k in LENGTHS)
    grown = n2 - n1  # about 12M calls: 740 MB for a stop that loads the run (62 B/call), 350 MB for a load (29 B/call)
    index_mb = 4 * grown / 2**20  # the resident index a file-backed trace may keep: 4 B per call
    assert run2 - run1 < 40, f"fprofile run grew {run2 - run1:.0f} MB for {grown:,} more calls"
    assert stats2 - stats1 < 20, f"fprofile stats grew {stats2 - stats1:.0f} MB for {grown:,} more calls"
    assert load2 - load1 < index_mb + 20, (
        f"load() of the file (file-backed) grew {load2 - load1:.0f} MB for {grown:,} more calls "
        f"(the index may take {index_mb:.0f} MB)")
