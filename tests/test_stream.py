"""Streaming capture: ``profile(outfile="x.fpt")``, ``ThreadProfiler.profile_on(outfile="x.fpt")``
and ``fprofile run -o x.fpt`` write compressed chunks while the program runs (docs/format.md,
"Streamed files"). Real subprocesses: exact counts over millions of calls, memory that does not
grow with the run, SIGKILL and os._exit halfway, a file cut at every byte, a full disk."""
import os
import signal
import subprocess
import sys
import textwrap
import warnings

import pytest

import fprofile_jupyter as fprofile
from fprofile_jupyter import _core
from fprofile_jupyter._io import load_bytes

FPROFILE = [sys.executable, "-m", "fprofile_jupyter"]


def write_program(tmp_path, body: str, name: str = "prog.py"):
    script = tmp_path / name
    script.write_text(textwrap.dedent(body))
    return script


def run(tmp_path, script, *args, env=None, timeout=600):
    e = dict(os.environ, PYTHONUNBUFFERED="1")
    e.update(env or {})
    return subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, cwd=tmp_path,
                          env=e, timeout=timeout)


def counts(trace):
    return {row.function: row.calls for row in trace.summary()}


def test_millions_of_calls_across_threads_exact_counts(tmp_path):
    out = tmp_path / "run.fpt"
    script = write_program(tmp_path, """
        import sys, threading
        import fprofile_jupyter as fprofile

        def leaf():
            pass

        def work(n):
            for _ in range(n):
                leaf()

        def main(n):
            ts = []
            for i in range(4):
                ts.append(threading.Thread(target=work, args=(n,), name=f"w{i}"))
                ts[-1].start()
            work(n)
            for t in ts:
                t.join()

        with fprofile.profile(subs=[__file__], outfile=sys.argv[1], processes=False) as prof:
            main(int(sys.argv[2]))
        rows = {r.function: r.calls for r in prof.trace.summary()}
        print(len(prof.trace), rows["leaf"], rows["work"], len(prof.trace.threads))
    """)
    n = 700_000
    p = run(tmp_path, script, str(out), str(n))
    assert p.returncode == 0, p.stderr
    calls, leaf, work, threads = map(int, p.stdout.split())
    assert (leaf, work, threads) == (5 * n, 5, 5)
    assert calls == 5 * n + 5 + 1
    # the file alone gives the same trace, with no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        t = fprofile.load(out)
    assert counts(t) == {"leaf": 5 * n, "work": 5, "main": 1}
    assert t.metadata["streamed"] == "true"
    assert int(t.metadata["events"]) == 2 * (5 * n + 5 + 1)
    assert os.path.getsize(out) < 3 * 5 * n, "at most 3 bytes per call"


RSS_PROGRAM = """
    import sys
    from fprofile_jupyter import _core
    from fprofile_jupyter._options import RecordOptions

    def leaf():
        pass

    def rss_kb():
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])

    n, outfile = int(sys.argv[1]), sys.argv[2]
    leaf()
    before = rss_kb()
    r = _core.Recorder()
    r.start(RecordOptions(subs=(__file__,), max_events=_core.Recorder.DEFAULT_MAX_EVENTS, outfile=outfile if outfile != "-" else None))
    peak = before
    step = n // 20
    for _ in range(20):
        for _ in range(step):
            leaf()
        peak = max(peak, rss_kb())
    during = rss_kb()
    r.stop(load=False) if outfile != "-" else r.stop_raw()
    after = rss_kb()
    print(before, peak, during, after, r.stats.events)
"""


def rss_run(tmp_path, n, streamed=True):
    script = write_program(tmp_path, RSS_PROGRAM, "rss.py")
    out = str(tmp_path / f"rss{n}.fpt") if streamed else "-"
    p = run(tmp_path, script, str(n), out)
    assert p.returncode == 0, p.stderr
    before, peak, during, after, events = map(int, p.stdout.split())
    assert events == 2 * (20 * (n // 20) + 21)  # the leaf calls and 21 rss_kb() calls, exactly
    return before, peak, during, after


def test_memory_of_a_streamed_recording_does_not_grow_with_the_run(tmp_path):
    small = rss_run(tmp_path, 2_000_000)
    large = rss_run(tmp_path, 8_000_000)
    growth_small = (small[1] - small[0]) / 1024
    growth_large = (large[1] - large[0]) / 1024
    # 6M more calls (12M events: 192 MB in memory) make little difference: the recorder holds at
    # most the writer's backlog (16 MiB), each thread's current chunk and the writer's buffers
    assert growth_large - growth_small < 40, (small, large)
    assert growth_large < 100, (small, large)
    # in memory, the same run grows by its events (16 bytes each): the bound above means something
    mem = rss_run(tmp_path, 8_000_000, streamed=False)
    assert (mem[1] - mem[0]) / 1024 > 200, mem
    # after stop (load=False) nothing of the recording is held
    assert (large[3] - large[0]) / 1024 < 100, large


KILL_PROGRAM = """
    import os, sys, time
    import fprofile_jupyter as fprofile

    def leaf():
        pass

    def step(k):
        for _ in range(k):
            leaf()

    with fprofile.profile(subs=[__file__], outfile=sys.argv[1], processes=False):
        how = sys.argv[2]
        if how == "exit":
            step(300_000)
            os._exit(3)
        while True:  # killed from outside once the file has chunks
            step(1000)
"""


def wait_for_chunks(path, proc, min_bytes=20_000):
    """Readiness: the writer thread has written several rounds (the file grows)."""
    import time
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the program ended early: {proc.stderr.read()}")
        if path.exists() and path.stat().st_size >= min_bytes:
            return
        time.sleep(0.02)  # polling a file's size, not a timed assertion
    raise AssertionError("the file never grew")


def test_sigkill_halfway_leaves_a_file_that_loads_with_a_warning(tmp_path):
    out = tmp_path / "killed.fpt"
    script = write_program(tmp_path, KILL_PROGRAM)
    proc = subprocess.Popen([sys.executable, str(script), str(out), "loop"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_chunks(out, proc)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    with pytest.warns(fprofile.TraceWarning, match="end of the recording is missing"):
        t = fprofile.load(out)
    c = counts(t)
    assert c["leaf"] >= 1000 and c["step"] >= 1
    assert t.processes[0].incomplete
    # the CLI: one warning line, the table, exit status 0
    p = subprocess.run([*FPROFILE, "stats", str(out)], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "end of the recording is missing" in lines[0], p.stderr
    assert "leaf" in p.stdout


def test_os_exit_halfway_writes_everything_recorded(tmp_path):
    out = tmp_path / "exited.fpt"
    script = write_program(tmp_path, KILL_PROGRAM)
    p = run(tmp_path, script, str(out), "exit")
    assert p.returncode == 3, p.stderr
    with pytest.warns(fprofile.TraceWarning, match="end of the recording is missing"):
        t = fprofile.load(out)
    c = counts(t)
    # os._exit has the writer write its last round first: every call made is in the file
    assert c["leaf"] == 300_000 and c["step"] == 1


def small_file(tmp_path):
    out = tmp_path / "small.fpt"
    script = write_program(tmp_path, """
        import sys, threading
        from fprofile_jupyter import _core
        from fprofile_jupyter._options import RecordOptions

        def leaf(i):
            return i

        def work():
            for i in range(50):
                leaf(i)

        # the recorder itself: profile() would rewrite the chunks compactly at this clean stop
        rec = _core.Recorder()
        rec.start(RecordOptions(subs=(__file__,), max_events=_core.Recorder.DEFAULT_MAX_EVENTS, outfile=sys.argv[1]))
        t = threading.Thread(target=work)
        t.start()
        work()
        t.join()
        rec.stop(load=False)
    """, "small.py")
    p = run(tmp_path, script, str(out))
    assert p.returncode == 0, p.stderr
    return out.read_bytes()


def test_a_file_cut_anywhere_loads_or_fails_clearly(tmp_path):
    data = small_file(tmp_path)
    full = load_bytes(data)
    assert counts(full)["leaf"] == 100
    cut = tmp_path / "cut.fpt"
    for n in range(len(data)):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                t = load_bytes(data[:n])
            except fprofile.FormatError as e:
                assert n < 8, f"cut at {n}: {e}"  # only inside the 8-byte header
                assert "\n" not in str(e)
                continue
        assert len(t) <= len(full)
        assert any("end of the recording is missing" in str(w.message) for w in caught), n
    # the CLI on cut points: chunk boundaries and inside chunks, never a traceback
    for n in sorted({3, 8, 20, len(data) // 3, len(data) // 2, len(data) - 5, len(data) - 1}):
        cut.write_bytes(data[:n])
        p = subprocess.run([*FPROFILE, "stats", str(cut)], capture_output=True, text=True, timeout=120)
        assert "Traceback" not in p.stderr, p.stderr
        if p.returncode == 0:
            assert "warning" in p.stderr
        else:
            assert p.returncode != 0 and len(p.stderr.strip().splitlines()) == 1, p.stderr


GUARD_PROGRAM = """
    import sys
    import fprofile_jupyter as fprofile

    def leaf():
        pass

    MADE = int(sys.argv[2])
    try:
        with fprofile.profile(subs=[__file__], outfile=sys.argv[1], processes=False) as prof:
            for _ in range(MADE):
                leaf()
        print("never stopped")
    except fprofile.OutfileError as e:
        print("ERROR", e)
        print("CALLS", len(e.trace))
"""


def test_disk_guard_stops_cleanly_and_the_file_loads(tmp_path):
    out = tmp_path / "guarded.fpt"
    script = write_program(tmp_path, GUARD_PROGRAM)
    # more than any disk has free: the guard stops the recording at the writer's first round
    made = 2_000_000
    p = run(tmp_path, script, str(out), str(made), env={"FPROFILE_MIN_FREE_BYTES": str(2**62)})
    assert p.returncode == 0, p.stderr
    assert "Traceback" not in p.stderr
    err = [ln for ln in p.stdout.splitlines() if ln.startswith("ERROR")]
    assert len(err) == 1 and "recording stopped early" in err[0] and "free" in err[0], p.stdout
    calls = int(p.stdout.split("CALLS")[1])
    assert calls < made, "stopped at the writer's first round"
    with pytest.warns(fprofile.TraceWarning, match="recording stopped early"):
        t = fprofile.load(out)
    assert len(t) == calls


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")
def test_a_really_full_disk(tmp_path):
    mnt = tmp_path / "small"
    mnt.mkdir()
    try:
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mnt)], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as e:  # a chroot or container without mount
        pytest.skip(f"cannot mount a small tmpfs here: {e}")
    try:
        out = mnt / "full.fpt"
        script = write_program(tmp_path, GUARD_PROGRAM)
        # about 1.3 bytes a call: 3 MB with 1 MiB kept free fill up after some 1.5 million calls
        made = 10_000_000
        p = run(tmp_path, script, str(out), str(made), env={"FPROFILE_MIN_FREE_BYTES": str(1 << 20)})
        assert p.returncode == 0, p.stderr
        assert "ERROR" in p.stdout and "recording stopped early" in p.stdout, p.stdout + p.stderr
        with pytest.warns(fprofile.TraceWarning, match="recording stopped early"):
            t = fprofile.load(out)
        assert 10_000 < counts(t)["leaf"] < made
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


def test_child_processes_are_in_the_streamed_file(tmp_path):
    out = tmp_path / "procs.fpt"
    script = write_program(tmp_path, """
        import multiprocessing, sys
        import fprofile_jupyter as fprofile

        def leaf():
            pass

        def child():
            for _ in range(123):
                leaf()

        if __name__ == "__main__":
            import os, warnings
            warnings.simplefilter("always")
            with fprofile.profile(subs=[__file__], outfile=sys.argv[1]) as prof:
                p = multiprocessing.get_context("fork").Process(target=child)
                p.start()
                p.join()
                for _ in range(7):
                    leaf()
                if sys.argv[2:] == ["block-rewrite"]:  # the compact rewrite's temporary name is taken
                    out = os.path.abspath(sys.argv[1])
                    os.mkdir(os.path.join(os.path.dirname(out), f".{os.path.basename(out)}.{os.getpid()}.part"))
            print(len(prof.trace.processes), sum(r.calls for r in prof.trace.summary() if r.function == "leaf"))
    """)
    # a clean stop: the file is rewritten as one compact .fpt, the children included
    p = run(tmp_path, script, str(out))
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["2", "130"]
    assert "fprofile:" not in p.stderr, p.stderr  # (3.12+ warns about fork in a threaded process: not ours)
    assert out.read_bytes()[:4] == b"FPRF"
    assert sorted(x.name for x in tmp_path.iterdir() if x.name.startswith("procs")) == ["procs.fpt"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        t = fprofile.load(out)
    assert len(t.processes) == 2
    assert counts(t)["leaf"] == 130
    # the rewrite fails: the streamed file stays, with the merged trace as its last chunk, and says so
    out.unlink()
    p = run(tmp_path, script, str(out), "block-rewrite")
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["2", "130"]
    assert "stays in its streamed form" in p.stderr, p.stderr
    assert out.read_bytes()[:4] == b"FPST"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        t = fprofile.load(out)
    assert len(t.processes) == 2
    assert counts(t)["leaf"] == 130


def test_thread_profiler_streams_and_text_stays_text(tmp_path):
    script = write_program(tmp_path, """
        import sys
        from fprofile_jupyter import ThreadProfiler

        def leaf():
            pass

        for out in sys.argv[1:]:
            p = ThreadProfiler()
            p.profile_on(subs=[__file__], outfile=out, processes=False)
            for _ in range(1000):
                leaf()
            p.profile_off()
            print(len(p.trace))
    """)
    fpt, txt = tmp_path / "tp.fpt", tmp_path / "tp.txt"
    p = run(tmp_path, script, str(fpt), str(txt))
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["1000", "1000"]
    assert fpt.read_bytes()[:4] == b"FPRF"  # rewritten compactly at the clean stop
    assert txt.read_text().split("\t")[4] in ("call", "return")
    assert counts(fprofile.load(fpt))["leaf"] == 1000


def test_fprofile_run_streams_its_output(tmp_path):
    script = write_program(tmp_path, """
        import os, sys
        def leaf():
            pass
        for _ in range(5000):
            leaf()
        if sys.argv[1:] == ["die"]:
            os._exit(0)
    """)
    out = tmp_path / "r.fpt"
    p = subprocess.run([*FPROFILE, "run", "-o", str(out), str(script)], capture_output=True, text=True, cwd=tmp_path,
                       timeout=300)
    assert p.returncode == 0, p.stderr
    assert "wrote" in p.stderr and "5,001 calls" in p.stderr, p.stderr
    assert out.read_bytes()[:4] == b"FPRF"  # rewritten compactly at the clean stop
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert counts(fprofile.load(out))["leaf"] == 5000
    # os._exit in the program: the file is there, loads with the warning
    p = subprocess.run([*FPROFILE, "run", "-o", str(out), str(script), "die"], capture_output=True, text=True,
                       cwd=tmp_path, timeout=300)
    assert p.returncode == 0, p.stderr
    with pytest.warns(fprofile.TraceWarning, match="end of the recording is missing"):
        assert counts(fprofile.load(out))["leaf"] == 5000


def test_stream_path_rule():
    assert _core._is_stream_path("a/b.fpt") and _core._is_stream_path("X.FPT")
    assert not _core._is_stream_path("a.txt") and not _core._is_stream_path("fpt")


def test_a_thread_profiler_left_on_at_exit_ends_its_file(tmp_path):
    script = write_program(tmp_path, """
        import sys
        from fprofile_jupyter import ThreadProfiler

        def leaf():
            pass

        p = ThreadProfiler()
        p.profile_on(subs=[__file__], outfile=sys.argv[1], processes=False)
        for _ in range(2000):
            leaf()
        # no profile_off: the interpreter's exit ends the file (without loading it back)
    """)
    out = tmp_path / "left.fpt"
    p = run(tmp_path, script, str(out))
    assert p.returncode == 0 and p.stderr == "", p.stderr
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the end chunk is there: no warning
        # (3.12+ also sees the module's own return, a call begun before the recording)
        assert counts(fprofile.load(out))["leaf"] == 2000
