"""The flight recorder: ``profile(keep_last=...)`` keeps the last window of a recording (compressed
chunks in memory); ``snapshot()`` returns it while recording goes on; ``fprofile run --keep-last``
writes it on SIGUSR1 and at exit. Deterministic workloads: marker calls whose count in the window
is known, trees cut at the window's edge. (The exactness of the window against a full recording of
the same events, for many windows, is rust/core/tests/stream.rs.)"""
import os
import signal
import subprocess
import sys
import textwrap

import pytest

import fprofile_jupyter as fprofile
from fprofile_jupyter import ProfilerError, ThreadProfiler
from fprofile_jupyter._recording import parse_keep_last

FPROFILE = [sys.executable, "-m", "fprofile_jupyter"]


def mark(i):
    return i


def phase(n):
    for i in range(n):
        mark(i)


def outer(n):
    phase(n)


def test_the_last_n_events_exactly_with_the_calls_cut_at_the_edge():
    with fprofile.profile(subs=[__file__], keep_last=101) as prof:
        outer(1000)
        # events of the block: outer, phase, 1000 marks (two each), phase's and outer's returns:
        # the last 101 are 49 whole marks + the return of mark 950, and both returns
        snap = prof.snapshot()
        outer(10)
    calls = snap.calls()
    by_name = {}
    for c in calls:
        by_name.setdefault(c.function, []).append(c)
    assert [c.started_before for c in by_name["outer"]] == [True]
    assert [c.started_before for c in by_name["phase"]] == [True]
    marks = by_name["mark"]
    assert len(marks) == 50
    assert [c.started_before for c in marks] == [True] + [False] * 49
    # the tree: outer > phase > marks, the cut calls opened at the window's start
    o, p = by_name["outer"][0], by_name["phase"][0]
    assert (o.depth, p.depth, p.parent, o.start_ns) == (0, 1, calls.index(o), p.start_ns)
    assert all(m.depth == 2 and m.parent == calls.index(p) for m in marks)
    assert marks[0].start_ns == p.start_ns == snap.threads[0].first_ns
    assert snap.metadata["keep_last"] == "101 events"
    # at the end, .trace is the last window: the second outer(10) and the end of the first
    t = prof.trace
    names = [c.function for c in t.calls()]
    assert names.count("outer") == 2 and t.calls()[0].started_before
    assert sum(1 for c in t.calls() if c.function == "mark" and not c.started_before) >= 10


def test_a_duration_window_while_a_call_runs_through_it():
    import threading
    import time

    started, release = threading.Event(), threading.Event()

    def blocked():
        started.set()
        release.wait()  # runs until the snapshot is taken

    with fprofile.profile(subs=[__file__], keep_last="100ms") as prof:
        phase(5)
        th = threading.Thread(target=blocked)
        before_ns = time.perf_counter_ns()
        th.start()
        started.wait()
        after_ns = time.perf_counter_ns()
        time.sleep(0.25)  # the window (100 ms) now starts after blocked() began
        phase(3)
        snap = prof.snapshot()
        release.set()
        th.join()
    start_ns = int(snap.metadata["window.start_ns"])
    calls = [c for c in snap.calls() if c.function.endswith("blocked")]  # a qualified name on 3.11+
    # one call, still running at the snapshot, opened at the window's start and flagged as begun
    # before it when it began before the window (it did: the sleep), never a wrong tree
    assert len(calls) == 1 and calls[0].unfinished and calls[0].depth == 0
    if after_ns < start_ns:
        assert calls[0].started_before and calls[0].start_ns + snap.origin_ns == start_ns
    elif before_ns >= start_ns:
        assert not calls[0].started_before
    # the phase(5) before the window is not in it; phase(3) is, whole
    assert [c.started_before for c in snap.calls() if c.function == "phase"] == [False]
    assert sum(1 for c in snap.calls() if c.function == "mark") == 3
    assert snap.metadata["keep_last"] == "100000000 ns"


def test_bad_input():
    for bad, exc, msg in [
        ("30 parsecs", ValueError, "expected a duration"),
        ("", ValueError, "expected a duration"),
        ("-5s", ValueError, "positive"),
        ("0ms", ValueError, "positive"),
        (0, ValueError, "positive number of events"),
        (-3, ValueError, "positive number of events"),
        (1.5, TypeError, "keep_last must be"),
        (True, TypeError, "keep_last must be"),
    ]:
        with pytest.raises(exc, match=msg):
            fprofile.profile(keep_last=bad)
    assert parse_keep_last("2m") == ("ns", 120_000_000_000)
    assert parse_keep_last("500ms") == ("ns", 500_000_000)
    assert parse_keep_last(" 1.5 s ") == ("ns", 1_500_000_000)
    assert parse_keep_last(7) == ("events", 7)
    with pytest.raises(ValueError, match="max_events cannot be given together"):
        fprofile.profile(keep_last="1s", max_events=1000)
    with pytest.raises(ValueError, match="takes no outfile"):
        fprofile.profile(keep_last="1s", outfile="x.fpt")
    # snapshot() with no window kept, or when not recording
    with fprofile.profile(subs=[__file__]) as prof:
        mark(0)
        with pytest.raises(ProfilerError, match="needs the flight recorder"):
            prof.snapshot()
    with pytest.raises(ProfilerError, match="works while recording"):
        prof.snapshot()
    with pytest.raises(ProfilerError, match="works while recording"):
        fprofile.profile(keep_last="1s").snapshot()


def test_thread_profiler_flight_recorder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    p = ThreadProfiler()
    p.profile_on(subs=[__file__], keep_last=21, processes=False)  # no PYME text file with keep_last
    try:
        phase(100)
        snap = p.snapshot()
    finally:
        p.profile_off()
    marks = [c for c in snap.calls() if c.function == "mark"]
    assert len(marks) == 10 and not marks[0].started_before
    assert [c.started_before for c in snap.calls() if c.function == "phase"] == [True]
    assert os.listdir(tmp_path) == [], "no PYME text file written with keep_last"


def test_fprofile_run_keep_last_writes_the_window_on_sigusr1_and_at_exit(tmp_path):
    script = tmp_path / "prog.py"
    script.write_text(textwrap.dedent("""
        import os, sys, time
        def tick(i):
            return i
        go = os.path.join(os.path.dirname(os.path.abspath(__file__)), "go")
        i = 0
        while not os.path.exists(go):  # until the test says stop (after its SIGUSR1 is handled)
            tick(i)
            i += 1
            if i == 20:
                print("ticking", flush=True)
            time.sleep(0.001)
        for j in range(5):
            tick(j)
    """))
    out = tmp_path / "window.fpt"
    proc = subprocess.Popen([*FPROFILE, "run", "--keep-last", "200ms", "-o", str(out), str(script)], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline()  # readiness: the recorder says how to get the window
        assert "flight recorder on" in line and "kill -USR1" in line, line
        assert proc.stdout.readline() == "ticking\n"  # readiness: the program ticks
        proc.send_signal(signal.SIGUSR1)
        line = proc.stderr.readline()
        assert "wrote the last window" in line, line
        t = fprofile.load(out)
        ticks = [c for c in t.calls() if c.function == "tick"]
        assert 1 <= len(ticks) and t.metadata["keep_last"] == "200000000 ns"
        (tmp_path / "go").write_text("")
        rest, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "wrote" in err, err
    end = fprofile.load(out)
    ticks = [c.start_ns for c in end.calls() if c.function == "tick"]
    assert len(ticks) >= 5
    assert max(ticks) - min(ticks) <= 200_000_000


def test_fprofile_run_keep_last_bad_value(tmp_path):
    script = tmp_path / "p.py"
    script.write_text("pass\n")
    p = subprocess.run([*FPROFILE, "run", "--keep-last", "soon", str(script)], capture_output=True, text=True,
                       cwd=tmp_path, timeout=120)
    assert p.returncode != 0
    assert len(p.stderr.strip().splitlines()) == 1 and "--keep-last soon" in p.stderr, p.stderr


def test_fprofile_run_keep_last_writes_the_window_at_os_exit(tmp_path):
    script = tmp_path / "quits.py"
    script.write_text("import os\ndef tick(i):\n    return i\nfor i in range(1000):\n    tick(i)\nos._exit(4)\n")
    out = tmp_path / "w.fpt"
    p = subprocess.run([*FPROFILE, "run", "--keep-last", "500", "-o", str(out), str(script)], capture_output=True,
                       text=True, cwd=tmp_path, timeout=120)
    assert p.returncode == 4, p.stderr
    assert "wrote the last window" in p.stderr, p.stderr
    t = fprofile.load(out)
    # the last 500 events: 250 whole tick calls
    assert sum(1 for c in t.calls() if c.function == "tick") == 250
