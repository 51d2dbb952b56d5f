"""Bad input around a recording's stop (issue 22, "Bad input"), each scenario a real program in a
process of its own:

- a streamed ``.fpt`` opened while its recording still writes it (no end chunk yet):
  ``fprofile_jupyter.load``, ``fprofile stats``, ``convert`` and ``view`` open what is whole, with
  one warning, never an error;
- a disk that fills up during the stop's rewrite, with a child process: the streamed chunks stay
  and load, the child's spool is kept and named, one warning (``profile(outfile=)`` and ``fprofile
  run -o``); the "full disk" is ``RLIMIT_FSIZE`` set in the program once its recording stopped
  (``SIGXFSZ`` ignored: writes past it fail with EFBIG as they would with ENOSPC);
- a child process killed during the stop: one warning naming what was kept;
- the outfile's directory removed during the recording: the recording is kept elsewhere and named
  (streamed and text outfiles, ``fprofile run -o``);
- a relative outfile of a program that changes directory while recording: stopped where it was
  recorded.

``TMPDIR`` is the test's directory in every program: what they keep in the temporary directory
lands there.
"""
import json
import os
import subprocess
import sys
import textwrap
import time
import urllib.request

import pytest

import fprofile_jupyter as fp
from conftest import free_port
from viewer_support import Viewer

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux: /proc, RLIMIT_FSIZE")

FIB15 = 1973  # calls of fib(15)
FIB10 = 177
END_MISSING = "end of the recording is missing"


def env_for(tmp_path):
    return dict(os.environ, PYTHONUNBUFFERED="1", TMPDIR=str(tmp_path), BROWSER="false")


def run(tmp_path, *cmd, status=0):
    p = subprocess.run([sys.executable, *cmd], capture_output=True, text=True, cwd=tmp_path, env=env_for(tmp_path),
                       timeout=300)
    assert p.returncode == status, p.stdout + p.stderr
    assert "Traceback" not in p.stderr, p.stderr
    return p


def program(tmp_path, name, text):
    (tmp_path / name).write_text(textwrap.dedent(text))
    return name


def leaf_calls(trace):
    return sum(r.calls for r in trace.summary() if r.function == "leaf")


def fib_calls(trace):
    return sum(r.calls for r in trace.summary() if r.function == "fib")


# -- a file opened while it is written ------------------------------------------------------------

LIVE = """
    import os, sys, time
    import fprofile_jupyter as fp

    def leaf(i):
        return i

    def step():
        for i in range(1000):
            leaf(i)

    out = sys.argv[1]
    with fp.profile(subs=[os.path.dirname(os.path.abspath(__file__))], outfile=out, processes=False):
        n, said = 0, False
        while not os.path.exists("stop"):
            step()
            n += 1
            if not said and n >= 50 and os.path.getsize(out) > 200:  # some rounds are in the file
                print("ready", flush=True)
                said = True
            time.sleep(0.002)
    print("steps", n, flush=True)
"""


def test_a_streamed_file_opened_while_it_is_written(tmp_path):
    program(tmp_path, "live.py", LIVE)
    out = tmp_path / "live.fpt"
    proc = subprocess.Popen([sys.executable, "live.py", str(out)], cwd=tmp_path, env=env_for(tmp_path),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
        seen = []
        for _ in range(3):  # while chunks keep arriving: each opening takes what is whole then
            with pytest.warns(fp.TraceWarning, match=END_MISSING):
                t = fp.load(str(out))
            assert t.processes[0].incomplete
            seen.append(leaf_calls(t))
        assert seen[0] > 0 and seen == sorted(seen), seen
        # the CLI: one warning line and the table; a conversion of what is whole
        p = run(tmp_path, "-m", "fprofile_jupyter", "stats", str(out))
        lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1 and END_MISSING in lines[0], p.stderr
        assert "leaf" in p.stdout
        p = run(tmp_path, "-m", "fprofile_jupyter", "convert", str(out), str(tmp_path / "now.json"))
        assert END_MISSING in p.stderr
        assert leaf_calls(fp.load(str(tmp_path / "now.json"))) >= seen[-1]
        # the viewer follows it (api/live: calls so far, not done)
        with Viewer(free_port(), str(out), cli=True) as v:
            deadline = time.monotonic() + 60
            while True:
                with urllib.request.urlopen(v.url + "api/live", timeout=30) as r:
                    live = json.loads(r.read())
                if live.get("calls", 0) > 0:
                    break
                assert time.monotonic() < deadline, live
                time.sleep(0.05)
            assert not live["done"]
    finally:
        (tmp_path / "stop").touch()
        rest, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    steps = int(rest.split()[-1])
    t = fp.load(str(out))  # whole now: no warning (pytest's filter makes one an error)
    assert leaf_calls(t) == steps * 1000 and not t.processes[0].incomplete


# -- a disk full during the stop's rewrite --------------------------------------------------------

# The disk is "full" once the recording has stopped and the rewrite begins: no file of the program
# may grow past 2 kB (the spill file, the new file, an appended chunk).
FULL_DISK = """
    import resource, signal
    from fprofile_jupyter import _core

    _real = _core._Compactor

    def _full_disk(directory):
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (2048, resource.RLIM_INFINITY))
        return _real(directory)

    _core._Compactor = _full_disk
"""

WITH_CHILD = """
    import json, multiprocessing, os, resource, sys, warnings
    import fprofile_jupyter as fp
    import full_disk

    def fib(n):
        return n if n < 2 else fib(n - 1) + fib(n - 2)

    def child():
        for _ in range(20):
            fib(10)

    if __name__ == "__main__":
        out = sys.argv[1]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with fp.profile(subs=[os.path.dirname(os.path.abspath(__file__))], outfile=out) as prof:
                for _ in range(100):
                    fib(15)
                p = multiprocessing.get_context("spawn").Process(target=child)
                p.start()
                p.join()
        resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        with open(out, "rb") as f:
            magic = f.read(4).decode()
        print(json.dumps({"warnings": [str(w.message) for w in caught], "magic": magic, "fib": sum(
            r.calls for r in prof.trace.summary() if r.function == "fib"), "processes": len(prof.trace.processes)}))
"""


def kept_dir(message):
    """The session directory a warning names ("... kept in DIR (fprofile_jupyter.load(...")."""
    return message.split("kept in ")[1].split(" (")[0]


def test_a_disk_full_during_the_stop_keeps_the_chunks_and_the_children(tmp_path):
    program(tmp_path, "full_disk.py", FULL_DISK)
    program(tmp_path, "prog.py", WITH_CHILD)
    (tmp_path / "out").mkdir()
    out = tmp_path / "out" / "x.fpt"
    r = json.loads(run(tmp_path, "prog.py", str(out)).stdout.splitlines()[-1])
    assert r["magic"] == "FPST", "the streamed file stays"
    assert len(r["warnings"]) == 1, r["warnings"]
    w = r["warnings"][0]
    assert "stays in its streamed form" in w and ("File too large" in w or "Errno 27" in w), w
    # nothing recorded is lost: the trace in memory, the chunks on disk, the child's spool kept
    assert r["fib"] == 100 * FIB15 + 20 * FIB10 and r["processes"] == 2
    assert fib_calls(fp.load(str(out))) == 100 * FIB15
    kept = kept_dir(w)
    assert fib_calls(fp.load(kept)) == 20 * FIB10
    assert os.listdir(tmp_path / "out") == ["x.fpt"], "a spill or temporary file was left"


def test_fprofile_run_with_a_disk_full_during_the_stop(tmp_path):
    program(tmp_path, "full_disk.py", FULL_DISK)
    program(tmp_path, "prog.py", """
        import multiprocessing

        def fib(n):
            return n if n < 2 else fib(n - 1) + fib(n - 2)

        def child():
            for _ in range(20):
                fib(10)

        if __name__ == "__main__":
            for _ in range(100):
                fib(15)
            p = multiprocessing.get_context("spawn").Process(target=child)
            p.start()
            p.join()
    """)
    # `fprofile run` itself, with the disk filling up at its stop
    program(tmp_path, "fprofile_full.py", """
        import sys
        import full_disk
        from fprofile_jupyter.cli import main

        sys.exit(main(sys.argv[1:]))
    """)
    p = run(tmp_path, "fprofile_full.py", "run", "-o", "x.fpt", "prog.py")
    warns = [ln for ln in p.stderr.splitlines() if "warning" in ln]
    assert len(warns) == 1 and "stays in its streamed form" in warns[0] and "kept in" in warns[0], p.stderr
    assert fib_calls(fp.load(str(tmp_path / "x.fpt"))) == 100 * FIB15
    assert fib_calls(fp.load(kept_dir(warns[0]))) == 20 * FIB10


# -- a child killed during the stop ---------------------------------------------------------------

KILLED = """
    import json, multiprocessing, os, signal, sys, threading, time, warnings
    import fprofile_jupyter as fp

    def leaf(i):
        return i

    def child(conn):
        for i in range(5000):
            leaf(i)
        time.sleep(0.3)  # its writer's rounds put those calls in its spool
        conn.send("ready")
        while True:
            time.sleep(1)

    if __name__ == "__main__":
        out = sys.argv[1] if len(sys.argv) > 1 else None
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with fp.profile(subs=[os.path.dirname(os.path.abspath(__file__))], outfile=out) as prof:
                session = os.environ["FPROFILE_JUPYTER_SESSION"].rsplit(":", 1)[0]
                a, b = multiprocessing.Pipe(duplex=False)
                p = multiprocessing.get_context("spawn").Process(target=child, args=(b,))
                p.start()
                assert a.recv() == "ready"
                os.kill(p.pid, signal.SIGSTOP)  # it cannot answer the stop ...

                def killer():  # ... and is killed once the stop has begun (its marker is made)
                    until = time.monotonic() + 60
                    while not os.path.exists(os.path.join(session, "stop")) and time.monotonic() < until:
                        time.sleep(0.002)
                    os.kill(p.pid, signal.SIGKILL)

                threading.Thread(target=killer, daemon=True).start()
        p.join()
        t = prof.trace
        print(json.dumps({"warnings": [str(w.message) for w in caught], "pid": p.pid,
                          "incomplete": [q.incomplete for q in t.processes if q.pid == p.pid],
                          "leaf": sum(r.calls for r in t.summary() if r.function == "leaf")}))
"""


@pytest.mark.parametrize("outfile", [None, "x.fpt"])
def test_a_child_killed_during_the_stop(tmp_path, outfile):
    program(tmp_path, "prog.py", KILLED)
    r = json.loads(run(tmp_path, "prog.py", *([outfile] if outfile else [])).stdout.splitlines()[-1])
    assert len(r["warnings"]) == 1, r["warnings"]
    w = r["warnings"][0]
    assert f"child process {r['pid']} was killed during the stop" in w and "the trace keeps the" in w, w
    assert r["leaf"] == 5000 and r["incomplete"] == [True]


# -- the outfile's directory removed while recording ----------------------------------------------

REMOVED = """
    import json, multiprocessing, os, shutil, sys, warnings
    import fprofile_jupyter as fp

    def leaf(i):
        return i

    def child():
        for i in range(500):
            leaf(i)

    if __name__ == "__main__":
        out, procs = sys.argv[1], sys.argv[2] == "1"
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with fp.profile(subs=[os.path.dirname(os.path.abspath(__file__))], outfile=out, processes=procs) as prof:
                for i in range(10000):
                    leaf(i)
                if procs:
                    p = multiprocessing.get_context("spawn").Process(target=child)
                    p.start()
                    p.join()
                shutil.rmtree(os.path.dirname(out))
                for i in range(10000):
                    leaf(i)
        print(json.dumps({"warnings": [str(w.message) for w in caught],
                          "leaf": sum(r.calls for r in prof.trace.summary() if r.function == "leaf")}))
"""


@pytest.mark.parametrize("name,procs", [("x.fpt", True), ("x.fpt", False), ("x.txt", False)])
def test_the_outfile_directory_removed_during_the_recording(tmp_path, name, procs):
    program(tmp_path, "prog.py", REMOVED)
    (tmp_path / "gone").mkdir()
    out = tmp_path / "gone" / name
    r = json.loads(run(tmp_path, "prog.py", str(out), "1" if procs else "0").stdout.splitlines()[-1])
    want = 20_000 + (500 if procs else 0)
    assert r["leaf"] == want
    assert len(r["warnings"]) == 1, r["warnings"]
    w = r["warnings"][0]
    assert f"the outfile {out} was removed during the recording" in w and "is gone" in w, w
    kept = w.split("kept in ")[1].split(" instead")[0]
    assert os.path.dirname(kept) == str(tmp_path) and kept.endswith(name[1:])
    assert leaf_calls(fp.load(kept)) == want


def test_fprofile_run_output_directory_removed_during_the_run(tmp_path):
    program(tmp_path, "prog.py", """
        import shutil, sys

        def leaf(i):
            return i

        for i in range(10000):
            leaf(i)
        shutil.rmtree(sys.argv[1])
        for i in range(10000):
            leaf(i)
    """)
    # streamed: kept in the temporary directory, and the last line says where
    (tmp_path / "g").mkdir()
    p = run(tmp_path, "-m", "fprofile_jupyter", "run", "-o", "g/x.fpt", "prog.py", "g")
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert len(lines) == 2 and "was removed during the recording" in lines[0], p.stderr
    kept = lines[0].split("kept in ")[1].split(" instead")[0]
    assert lines[1].startswith(f"fprofile: wrote {kept}: 20,001 calls"), lines[1]
    assert leaf_calls(fp.load(kept)) == 20_000
    # written at the end (not streamed): one error line naming where the trace is, status 1
    (tmp_path / "g").mkdir()
    p = run(tmp_path, "-m", "fprofile_jupyter", "run", "-o", "g/x.json", "prog.py", "g", status=1)
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "cannot write" in lines[0] and "the trace is kept in" in lines[0], p.stderr
    assert leaf_calls(fp.load(lines[0].split("the trace is kept in ")[1])) == 20_000


def test_a_relative_outfile_of_a_program_that_changes_directory(tmp_path):
    program(tmp_path, "prog.py", """
        import json, os, warnings
        import fprofile_jupyter as fp

        def leaf(i):
            return i

        os.mkdir("sub")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with fp.profile(subs=[os.path.dirname(os.path.abspath(__file__))], outfile="rel.fpt",
                            processes=False) as prof:
                for i in range(1000):
                    leaf(i)
                os.chdir("sub")
        print(json.dumps({"warnings": [str(w.message) for w in caught],
                          "leaf": sum(r.calls for r in prof.trace.summary() if r.function == "leaf")}))
    """)
    r = json.loads(run(tmp_path, "prog.py").stdout.splitlines()[-1])
    assert r == {"warnings": [], "leaf": 1000}
    with open(tmp_path / "rel.fpt", "rb") as f:
        assert f.read(4) == b"FPRF", "rewritten compactly where it was recorded"
    assert os.listdir(tmp_path / "sub") == []
