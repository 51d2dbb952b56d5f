"""A streamed recording's stop and `fprofile stats` in memory that does not grow with the run
(issue 22): the stop rewrites the chunks and the children's spools into the compact file chunk by
chunk, never loading the trace (``.trace`` is read from the file when asked for); `fprofile stats`
reads an `.fpt` in one pass. Exact counts through that stop with a spawned child; peak RSS of
`fprofile run` and `fprofile stats` at two run lengths (the growth stays small); a disk that fills
up during the rewrite (the chunks stay and load, one warning). Every scenario is a real program
in its own process."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

import fprofile_jupyter as fp

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux: child processes, wait4")

FIB12 = 465  # calls of fib(12), the outer one included
FIB10 = 177


def run(cmd, cwd, env=None):
    """Runs ``cmd``; returns (stdout, stderr, peak RSS in MB)."""
    p = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    out, err = p.communicate(timeout=300)  # (communicate reaps it: rusage from the children's total)
    assert p.returncode == 0, err.decode()
    return out.decode(), err.decode()


# Runs a command and prints its peak RSS: from a small process of its own (a child's ru_maxrss
# counts the pages it shared with its parent before exec, so measured from pytest it would grow
# with whatever this test process holds).
PEAK = """
import os, subprocess, sys
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
err = p.stderr.read()
_, status, ru = os.wait4(p.pid, 0)
if status:
    sys.exit(err.decode(errors="replace"))
print(ru.ru_maxrss)
"""


def peak_rss_mb(cmd, cwd):
    """Peak RSS (MB) of one command."""
    out, _ = run([sys.executable, "-c", PEAK] + cmd, cwd=cwd)
    return int(out.split()[-1]) / 1024


CHILD_PROGRAM = '''
import json, multiprocessing, os, sys, warnings
import fprofile_jupyter as fp

def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)

def child(k):
    for _ in range(k):
        fib(10)

if __name__ == "__main__":
    out = sys.argv[1]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with fp.profile(subs=[os.path.dirname(os.path.abspath(__file__))], outfile=out) as prof:
            for _ in range(30):
                fib(12)
            ctx = multiprocessing.get_context("spawn")
            p = ctx.Process(target=child, args=(20,))
            p.start()
            p.join()
    tf = prof._trace
    outline = tf.outline
    rows = {r.function: r.calls for r in outline.summary()}
    with open(out, "rb") as f:
        magic = f.read(4).decode()
    trace = prof.trace   # read from the file now
    loaded = {r.function: (r.calls, r.total_ns, r.self_ns, r.max_ns) for r in trace.summary()}
    outlined = {r.function: (r.calls, r.total_ns, r.self_ns, r.max_ns) for r in outline.summary()}
    print(json.dumps({"kind": type(tf).__name__, "len": len(outline), "rows": rows, "magic": magic,
                      "processes": len(trace.processes), "pids": sorted(p.pid for p in trace.processes),
                      "child_pid": p.pid, "calls": len(trace), "same": loaded == outlined,
                      "threads_same": [t.name for t in trace.threads] == [t.name for t in outline.threads],
                      "warnings": [str(w.message) for w in caught],
                      "left": sorted(os.listdir(os.path.dirname(out)))}))
'''


def test_the_stop_merges_a_spawned_child_without_loading_and_counts_every_call(tmp_path):
    prog = tmp_path / "prog.py"
    prog.write_text(CHILD_PROGRAM)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out, err = run([sys.executable, str(prog), str(out_dir / "x.fpt")], cwd=tmp_path,
                   env={**os.environ, "TMPDIR": str(tmp_path)})
    r = json.loads(out.splitlines()[-1])
    assert r["kind"] == "TraceFile", "the stop did not load the trace"
    assert r["magic"] == "FPRF", "the streamed file was rewritten compactly"
    # 30 fib(12) in the parent, 20 fib(10) in the child (a spawned child also runs the module)
    assert r["rows"]["fib"] == 30 * FIB12 + 20 * FIB10
    assert r["rows"]["child"] == 1
    assert r["len"] == r["calls"]
    assert r["processes"] == 2 and r["child_pid"] in r["pids"]
    assert r["same"] and r["threads_same"], "the stop's summary differs from the loaded trace's"
    assert r["warnings"] == [], r["warnings"]
    assert r["left"] == ["x.fpt"], "a spill or temporary file was left"


DISK_FULL = '''
import json, os, resource, signal, sys, warnings
import fprofile_jupyter as fp

def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)

out = sys.argv[1]
prof = fp.profile(subs=[os.path.dirname(os.path.abspath(__file__))], outfile=out)
prof.__enter__()
for _ in range(200):
    fib(15)
# the disk is "full" once the recording has stopped and the rewrite begins: no file of this
# process may grow past 2 kB (the spill file, the new file)
real = fp._core._Compactor

def full_disk(directory):
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (2048, resource.RLIM_INFINITY))
    return real(directory)

fp._core._Compactor = full_disk
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    prof.__exit__(None, None, None)
resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
with open(out, "rb") as f:
    magic = f.read(4).decode()
trace = prof.trace
print(json.dumps({"magic": magic, "fib": sum(1 for c in trace.calls() if c.function == "fib"),
                  "warnings": [str(w.message) for w in caught], "left": sorted(os.listdir(os.path.dirname(out)))}))
'''


def test_a_disk_full_during_the_rewrite_keeps_the_chunks_with_one_warning(tmp_path):
    prog = tmp_path / "prog.py"
    prog.write_text(DISK_FULL)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out, err = run([sys.executable, str(prog), str(out_dir / "x.fpt")], cwd=tmp_path)
    r = json.loads(out.splitlines()[-1])
    assert r["magic"] == "FPST", "the streamed file stays"
    assert r["fib"] == 200 * 1973  # fib(15): 1973 calls
    assert len(r["warnings"]) == 1 and "stays in its streamed form" in r["warnings"][0], r["warnings"]
    assert "File too large" in r["warnings"][0] or "Errno 27" in r["warnings"][0], r["warnings"]
    assert r["left"] == ["x.fpt"], "a spill or temporary file was left"


RUN_PROGRAM = '''
import sys, threading

def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)

def work(units):
    for _ in range(units):
        fib(20)   # 21,891 calls

units = int(sys.argv[1]) // 21891
ts = [threading.Thread(target=work, args=(units // 2,)) for _ in range(2)]
for t in ts:
    t.start()
for t in ts:
    t.join()
'''


def test_run_and_stats_memory_does_not_grow_with_the_run(tmp_path):
    prog = tmp_path / "prog.py"
    prog.write_text(RUN_PROGRAM)
    cli = [sys.executable, "-m", "fprofile_jupyter.cli"]
    peaks = {}
    for calls in (1_000_000, 5_000_000):
        out = str(tmp_path / f"r{calls}.fpt")
        run_rss = peak_rss_mb(cli + ["run", "-o", out, str(prog), str(calls)], cwd=tmp_path)
        stats_rss = peak_rss_mb(cli + ["stats", out], cwd=tmp_path)
        n = len(fp.load(out))
        assert n >= 0.95 * calls
        peaks[calls] = (run_rss, stats_rss, n)
    (run1, stats1, n1), (run2, stats2, n2) = peaks[1_000_000], peaks[5_000_000]
    grown = n2 - n1  # about 4M calls: 250 MB for a stop that loads the run (62 B/call), 115 MB for stats
    assert run2 - run1 < 30, f"fprofile run grew {run2 - run1:.0f} MB for {grown:,} more calls"
    assert stats2 - stats1 < 15, f"fprofile stats grew {stats2 - stats1:.0f} MB for {grown:,} more calls"
    # and stats says what the loaded trace says
    out, _ = run(cli + ["stats", str(tmp_path / "r5000000.fpt"), "--json"], cwd=tmp_path)
    got = json.loads(out)
    want = json.loads(fp.load(str(tmp_path / "r5000000.fpt")).summary_json())
    assert got == want


def test_stats_of_a_streamed_file_cut_short_shows_what_is_whole(tmp_path):
    prog = tmp_path / "prog.py"
    prog.write_text(textwrap.dedent('''
        import os, sys
        import fprofile_jupyter as fp
        def fib(n):
            return n if n < 2 else fib(n - 1) + fib(n - 2)
        prof = fp.profile(subs=[os.path.dirname(os.path.abspath(__file__))], outfile=sys.argv[1])
        prof.__enter__()
        for _ in range(50):
            fib(12)
        prof._session.recorder.flush()
        os._exit(0)   # no stop: no end chunk
    '''))
    out = str(tmp_path / "k.fpt")
    run([sys.executable, str(prog), out], cwd=tmp_path)
    with open(out, "rb") as f:
        assert f.read(4) == b"FPST"
    cli = [sys.executable, "-m", "fprofile_jupyter.cli"]
    text, err = run(cli + ["stats", out], cwd=tmp_path)
    assert "end of the recording is missing" in err
    got = json.loads(run(cli + ["stats", out, "--json"], cwd=tmp_path)[0])
    assert [r["calls"] for r in got["overall"] if r["function"] == "fib"] == [50 * FIB12]
    with pytest.warns(fp.TraceWarning, match="end of the recording is missing"):
        want = json.loads(fp.load(out).summary_json())
    assert got == want
