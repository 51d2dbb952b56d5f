"""Child processes recorded with their parent (processes=True, the default): fork, spawn,
forkserver, ProcessPoolExecutor, subprocess of Python, grandchildren, threads in children, a child
killed with SIGKILL, a child still running at stop; processes=False; nothing left in the temp
directory; bad arguments. Every scenario runs as its own program (a real interpreter, real
processes) with its own TMPDIR, and prints what its trace holds as JSON."""

import importlib.util
import json
import multiprocessing
import os
import subprocess
import sys
import textwrap

import pytest

import fprofile_jupyter as fp
from fprofile_jupyter import ProfilerError, ThreadProfiler
from fprofile_jupyter._core import Recorder

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="child processes are followed on Linux")

FIB10 = 177  # calls of fib(10), the outer one included
FIB12 = 465

HEADER = '''
import collections, json, os, sys, threading, time
import fprofile_jupyter as fp

HERE = os.path.dirname(os.path.abspath(__file__))

def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)

def report(trace, **extra):
    procs = trace.processes
    threads = trace.threads
    counts = collections.defaultdict(collections.Counter)
    for c in trace.calls():
        counts[threads[c.thread].pid][c.function] += 1
    nthreads = collections.Counter(t.pid for t in threads)
    out = {
        "me": os.getpid(),
        "processes": [{"pid": p.pid, "parent_pid": p.parent_pid, "name": p.name, "incomplete": p.incomplete,
                       "threads": nthreads[p.pid]} for p in procs],
        "counts": {str(pid): dict(c) for pid, c in counts.items()},
        "metadata": dict(trace.metadata),
    }
    out.update(extra)
    print("REPORT " + json.dumps(out))
'''


def run_program(tmp_path, body, *args):
    """Runs HEADER + body as a script in tmp_path with its own TMPDIR; returns its report and
    checks that it left nothing in that TMPDIR."""
    script = tmp_path / "prog.py"
    script.write_text(HEADER + textwrap.dedent(body))
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = dict(os.environ, TMPDIR=str(tmp))
    env.pop("FPROFILE_JUPYTER_SESSION", None)
    p = subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "Traceback" not in p.stderr, p.stderr
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("REPORT ")]
    assert len(lines) == 1, p.stdout + p.stderr
    assert sorted(os.listdir(tmp)) == [], "the session directory is removed at stop"
    report = json.loads(lines[0][len("REPORT "):])
    report["stderr"] = p.stderr
    return report


def proc(report, pid):
    (p,) = [p for p in report["processes"] if p["pid"] == pid]
    return p


def counts(report, pid):
    return report["counts"].get(str(pid), {})


def children_of(report, pid):
    return [p for p in report["processes"] if p["parent_pid"] == pid]


POOL = '''
import multiprocessing

def work(i):
    return fib(10) + i

if __name__ == "__main__":
    ctx = multiprocessing.get_context(sys.argv[1])
    with fp.profile(subs=[HERE]) as prof:
        with ctx.Pool(2) as pool:
            results = pool.map(work, range(6))
    report(prof.trace, results=results)
'''


@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_multiprocessing_pool_every_start_method(tmp_path, method):
    if method not in multiprocessing.get_all_start_methods():
        pytest.skip(f"{method} is not available here")
    r = run_program(tmp_path, POOL, method)
    assert r["results"] == [55 + i for i in range(6)]
    me = r["me"]
    assert counts(r, me) == {}, "the parent ran no work"
    # (a spawned worker also ran the program's module, as __mp_main__: its "<module>" is a call)
    workers = [p for p in r["processes"] if counts(r, p["pid"]).get("work")]
    assert 1 <= len(workers) <= 2
    # each worker's own figures are exact: fib(10) once per task it ran
    for w in workers:
        c = counts(r, w["pid"])
        assert c.get("fib", 0) == FIB10 * c.get("work", 0)
        assert not w["incomplete"]
        assert w["name"].startswith(("ForkPoolWorker-", "SpawnPoolWorker-", "ForkServerPoolWorker-")), w["name"]
    assert sum(counts(r, w["pid"])["work"] for w in workers) == 6
    if method == "forkserver":
        # workers are children of the fork server, a child of the program (kept: it has recorded descendants)
        (server,) = {w["parent_pid"] for w in workers}
        assert proc(r, server)["parent_pid"] == me
    else:
        assert {w["parent_pid"] for w in workers} == {me}


def test_process_pool_executor(tmp_path):
    r = run_program(tmp_path, '''
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        def work(n):
            return fib(n)

        if __name__ == "__main__":
            with fp.profile(subs=[HERE]) as prof:
                with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as ex:
                    out = list(ex.map(work, [10] * 8))
            report(prof.trace, out=out)
    ''')
    assert r["out"] == [55] * 8
    workers = [p for p in r["processes"] if p["pid"] != r["me"]]
    assert all(w["parent_pid"] == r["me"] and not w["incomplete"] for w in workers)
    assert sum(counts(r, w["pid"]).get("work", 0) for w in workers) == 8
    assert sum(counts(r, w["pid"]).get("fib", 0) for w in workers) == 8 * FIB10
    for w in workers:
        c = counts(r, w["pid"])
        assert c.get("fib", 0) == FIB10 * c.get("work", 0)


def test_os_fork_with_threads_in_the_child(tmp_path):
    r = run_program(tmp_path, '''
        def in_thread():
            fib(10)

        def leaf():
            return 1

        def child():
            fib(12)
            for _ in range(20000):  # enough to need new buffer chunks in the child
                leaf()
            ts = []
            for i in range(3):
                ts.append(threading.Thread(target=in_thread, name=f"worker-{i}"))
            for t in ts: t.start()
            for t in ts: t.join()

        with fp.profile(subs=[HERE]) as prof:
            fib(10)
            pid = os.fork()
            if pid == 0:
                child()
                os._exit(7)
            _, status = os.waitpid(pid, 0)
        report(prof.trace, child=pid, status=os.waitstatus_to_exitcode(status))
    ''')
    me, child = r["me"], r["child"]
    assert r["status"] == 7
    assert counts(r, me) == {"fib": FIB10}
    assert counts(r, child) == {"child": 1, "fib": FIB12 + 3 * FIB10, "in_thread": 3, "leaf": 20000}
    c = proc(r, child)
    assert c["parent_pid"] == me and not c["incomplete"]
    assert c["threads"] == 4


def test_subprocess_of_python_and_grandchildren(tmp_path):
    (tmp_path / "leaf.py").write_text("def leaf():\n    return 1\n\nfor _ in range(5):\n    leaf()\n")
    (tmp_path / "middle.py").write_text(textwrap.dedent('''
        import subprocess, sys, os
        def middle():
            subprocess.run([sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "leaf.py")], check=True)
        middle()
        print("MIDDLE", os.getpid())
    '''))
    r = run_program(tmp_path, '''
        import subprocess
        with fp.profile(subs=[HERE]) as prof:
            out = subprocess.run([sys.executable, os.path.join(HERE, "middle.py")], check=True, capture_output=True, text=True).stdout
            subprocess.run([sys.executable, "-c", "pass"], check=True)  # records nothing: left out
        report(prof.trace, middle=int(out.split()[-1]))
    ''')
    me, middle = r["me"], r["middle"]
    assert proc(r, middle)["parent_pid"] == me
    assert counts(r, middle) == {"<module>": 1, "middle": 1}
    (leaf,) = children_of(r, middle)
    assert counts(r, leaf["pid"]) == {"<module>": 1, "leaf": 5}
    assert "leaf.py" in leaf["name"]
    # the process that recorded nothing is left out (and so is the program's, which recorded nothing itself)
    assert {p["pid"] for p in r["processes"]} <= {me, middle, leaf["pid"]}


def test_multiprocessing_grandchild_spawn(tmp_path):
    r = run_program(tmp_path, '''
        import multiprocessing

        def grandchild(q):
            fib(10)
            q.put(os.getpid())

        def child(q):
            ctx = multiprocessing.get_context("spawn")
            p = ctx.Process(target=grandchild, args=(q,), name="grand")
            p.start(); p.join()
            q.put(os.getpid())

        if __name__ == "__main__":
            ctx = multiprocessing.get_context("spawn")
            q = ctx.Queue()
            with fp.profile(subs=[HERE]) as prof:
                p = ctx.Process(target=child, args=(q,), name="kid")
                p.start(); p.join()
            report(prof.trace, grand=q.get(), kid=q.get())
    ''')
    me, kid, grand = r["me"], r["kid"], r["grand"]
    assert proc(r, kid)["parent_pid"] == me and proc(r, kid)["name"] == "kid"
    assert proc(r, grand)["parent_pid"] == kid and proc(r, grand)["name"] == "grand"
    # each spawned process also ran the program's module (as __mp_main__)
    assert counts(r, kid) == {"<module>": 1, "child": 1}
    assert counts(r, grand) == {"<module>": 1, "grandchild": 1, "fib": FIB10}


def test_a_child_killed_with_sigkill_keeps_what_it_flushed(tmp_path):
    r = run_program(tmp_path, '''
        import multiprocessing, signal

        def step():
            fib(10)

        def child(ready):
            for _ in range(5):
                step()
            ready.set()
            while True:  # more calls, until killed
                step()
                time.sleep(0.001)

        def spool_size(session, pid):
            try:
                return os.path.getsize(os.path.join(session, f"{pid}.spool"))
            except OSError:
                return 0

        if __name__ == "__main__":
            ctx = multiprocessing.get_context("fork")
            ready = ctx.Event()
            with fp.profile(subs=[HERE]) as prof:
                session = os.environ["FPROFILE_JUPYTER_SESSION"].rpartition(":")[0]
                p = ctx.Process(target=child, args=(ready,), name="doomed")
                p.start()
                ready.wait()
                # two more rounds of the child's writer: the five steps are in its spool
                for _ in range(2):
                    size = spool_size(session, p.pid)
                    while spool_size(session, p.pid) == size:
                        time.sleep(0.005)
                os.kill(p.pid, signal.SIGKILL)
                p.join()
            report(prof.trace, child=p.pid, exitcode=p.exitcode)
    ''')
    assert r["exitcode"] == -9
    c = proc(r, r["child"])
    assert c["incomplete"] and c["parent_pid"] == r["me"] and c["name"] == "doomed"
    n = counts(r, r["child"])
    assert n["step"] >= 5
    assert n["fib"] >= FIB10 * (n["step"] - 1)  # a step may be cut by the kill


def test_a_child_still_running_at_stop_is_flushed_and_marked_incomplete(tmp_path):
    (tmp_path / "busy.py").write_text(textwrap.dedent('''
        import sys, time
        def tick():
            return 1
        for _ in range(3):
            tick()
        print("ready", flush=True)
        sys.stdin.readline()  # until the parent says so
        tick()
    '''))
    r = run_program(tmp_path, '''
        import subprocess
        with fp.profile(subs=[HERE]) as prof:
            p = subprocess.Popen([sys.executable, os.path.join(HERE, "busy.py")], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            assert p.stdout.readline() == "ready\\n"
        p.communicate("go\\n")
        report(prof.trace, child=p.pid, rc=p.returncode)
    ''')
    assert r["rc"] == 0
    c = proc(r, r["child"])
    assert c["incomplete"]
    assert counts(r, r["child"]) == {"<module>": 1, "tick": 3}


def test_processes_false_records_only_this_process(tmp_path):
    r = run_program(tmp_path, '''
        import subprocess
        if sys.argv[1:] == ["inner"]:
            fib(12)
            sys.exit(0)
        with fp.profile(subs=[HERE], processes=False) as prof:
            assert "FPROFILE_JUPYTER_SESSION" not in os.environ
            assert os.listdir(os.environ["TMPDIR"]) == []
            fib(10)
            pid = os.fork()
            if pid == 0:
                fib(12)
                os._exit(0)
            os.waitpid(pid, 0)
            subprocess.run([sys.executable, os.path.join(HERE, "prog.py"), "inner"], check=True)
        report(prof.trace)
    ''')
    assert [p["pid"] for p in r["processes"]] == [r["me"]]
    assert r["counts"] == {str(r["me"]): {"fib": FIB10}}


def test_threadprofiler_follows_processes(tmp_path):
    r = run_program(tmp_path, '''
        p = fp.ThreadProfiler()
        p.profile_on(subs=[HERE], outfile=None)
        pid = os.fork()
        if pid == 0:
            fib(10)
            os._exit(0)
        os.waitpid(pid, 0)
        p.profile_off()
        report(p.trace, child=pid)
    ''')
    assert counts(r, r["child"]) == {"fib": FIB10}
    assert proc(r, r["child"])["parent_pid"] == r["me"]


def test_without_a_recording_the_startup_hook_imports_nothing():
    env = dict(os.environ)
    env.pop("FPROFILE_JUPYTER_SESSION", None)
    out = subprocess.run([sys.executable, "-c", "import sys; print('fprofile_jupyter' in sys.modules)"],
                         capture_output=True, text=True, env=env, check=True).stdout
    assert out.strip() == "False"
    # a session directory that is gone (a recording that ended): nothing starts, nothing is said
    env["FPROFILE_JUPYTER_SESSION"] = "/nonexistent/fprofile-gone"
    p = subprocess.run([sys.executable, "-c", "from fprofile_jupyter._core import Recorder; print(Recorder.is_profiling())"],
                       capture_output=True, text=True, env=env, check=True)
    assert (p.stdout.strip(), p.stderr) == ("False", "")


@pytest.mark.parametrize("bad", ["yes", 1, None])
def test_processes_must_be_a_bool(bad):
    with pytest.raises(TypeError, match="processes must be True or False"):
        fp.profile(processes=bad)
    with pytest.raises(TypeError, match="processes must be True or False"):
        ThreadProfiler().profile_on(subs=["x"], outfile=None, processes=bad)
    assert not Recorder.is_profiling()


def test_an_unwritable_session_directory_is_a_clear_error_and_nothing_starts(tmp_path, monkeypatch):
    import tempfile

    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setattr(tempfile, "tempdir", str(blocker / "sub"))
    prof = fp.profile(subs=["x"])
    with pytest.raises(ProfilerError, match=r"cannot make the session directory for child processes in .*a-file/sub: .*processes=False"):
        prof.__enter__()
    assert not Recorder.is_profiling()
    assert "FPROFILE_JUPYTER_SESSION" not in os.environ
    with fp.profile(subs=["x"], processes=False) as prof:  # this process alone still records
        pass
    assert prof.trace is not None


WAYS = '''
import multiprocessing
CHILD = os.path.join(HERE, "child_prog.py")

def start(way):
    if way == "posix_spawn":
        os.waitpid(os.posix_spawn(sys.executable, [sys.executable, CHILD], os.environ), 0)
    elif way == "system":
        assert os.system(f"{sys.executable} {CHILD}") == 0
    elif way == "popen":
        os.popen(f"{sys.executable} {CHILD}").read()
    elif way == "fork":
        pid = os.fork()
        if pid == 0:
            fib(10)
            os._exit(0)
        os.waitpid(pid, 0)
    elif way == "spawn":
        p = multiprocessing.get_context("spawn").Process(target=fib, args=(10,))
        p.start()
        p.join()

if __name__ == "__main__":
    out = {}
    for way in sys.argv[1].split(","):
        with fp.profile(subs=[HERE]) as prof:
            key = os.environ["FPROFILE_JUPYTER_SESSION"]
            made_before = os.path.exists(key.rpartition(":")[0])
            start(way)
            made_after = os.path.isdir(key.rpartition(":")[0])
        t = prof.trace
        children = [p.pid for p in t.processes if p.pid != os.getpid()]
        fibs = collections.Counter(t.threads[c.thread].pid for c in t.calls() if c.function == "fib")
        out[way] = {"made_before": made_before, "made_after": made_after,
                    "children": [fibs[pid] for pid in children], "left": os.listdir(os.environ["TMPDIR"])}
    with fp.profile(subs=[HERE]) as prof:
        nothing = os.listdir(os.environ["TMPDIR"])
        fib(5)
    report(prof.trace, ways=out, nothing=nothing)
'''


def test_the_session_directory_is_made_when_the_first_child_starts_however_it_starts(tmp_path):
    """No directory for a recording that starts no process; one made just before the first child
    starts, through each way a Python program starts one (audit hook: posix_spawn, system, popen;
    at-fork handler: fork; _posixsubprocess.fork_exec: multiprocessing's spawn), which records."""
    (tmp_path / "child_prog.py").write_text(
        "def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\nfib(10)\n")
    ways = ["posix_spawn", "system", "popen", "fork", "spawn"]
    r = run_program(tmp_path, WAYS, ",".join(ways))
    assert r["nothing"] == [], "a recording that starts no process makes no directory"
    for way in ways:
        w = r["ways"][way]
        assert (w["made_before"], w["made_after"]) == (False, True), (way, w)
        assert w["children"] == [FIB10], (way, w)
        assert w["left"] == [], (way, w)


def test_a_spawned_child_records_without_importing_the_package(tmp_path):
    """The .pth line starts a child's recording from the extension module alone (the package's
    imports would cost every child about 20 ms); a later import of the package in that child finds
    the same module (one recording, `fprofile_jupyter._core` bound)."""
    (tmp_path / "child_prog.py").write_text(textwrap.dedent('''
        import sys
        before = sorted(m for m in sys.modules if m.startswith("fprofile_jupyter"))
        def fib(n):
            return n if n < 2 else fib(n - 1) + fib(n - 2)
        fib(10)
        import fprofile_jupyter
        assert fprofile_jupyter._core is sys.modules["fprofile_jupyter._core"]
        from fprofile_jupyter import _processes
        print(before, _processes.child_session_dir() is not None, fprofile_jupyter._core.Recorder.is_profiling())
    '''))
    r = run_program(tmp_path, '''
        import subprocess
        with fp.profile(subs=[HERE]) as prof:
            out = subprocess.run([sys.executable, os.path.join(HERE, "child_prog.py")], capture_output=True, text=True)
        report(prof.trace, out=out.stdout, err=out.stderr, code=out.returncode)
    ''')
    assert (r["code"], r["err"]) == (0, ""), r
    assert r["out"].strip() == "['fprofile_jupyter._core'] True True", r["out"]
    (child,) = children_of(r, r["me"])
    assert counts(r, child["pid"])["fib"] == FIB10


def test_a_session_directory_that_cannot_be_made_at_the_first_child_is_a_warning(tmp_path):
    (tmp_path / "child_prog.py").write_text("print('child ran')\n")
    r = run_program(tmp_path, '''
        import subprocess, warnings
        child = os.path.join(HERE, "child_prog.py")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with fp.profile(subs=[HERE]) as prof:
                os.rmdir(os.environ["TMPDIR"])  # the temporary directory is gone
                code = subprocess.run([sys.executable, child]).returncode
                withdrawn = "FPROFILE_JUPYTER_SESSION" not in os.environ
                fib(3)
            os.mkdir(os.environ["TMPDIR"])
        report(prof.trace, code=code, withdrawn=withdrawn,
               said=[str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)])
    ''')
    assert r["code"] == 0 and r["withdrawn"], r
    assert len(r["said"]) == 1 and r["said"][0].startswith("fprofile: child processes are not recorded: cannot make the "
                                                           "session directory for child processes in "), r["said"]
    assert [p["pid"] for p in r["processes"]] == [r["me"]]
    assert counts(r, r["me"]) == {"fib": 5}


def test_a_recorded_child_cannot_start_a_recording_of_its_own(tmp_path):
    r = run_program(tmp_path, '''
        with fp.profile(subs=[HERE]) as prof:
            pid = os.fork()
            if pid == 0:
                try:
                    fp.profile(subs=[HERE]).__enter__()
                    code = 1
                except fp.ProfilerError as e:
                    code = 5 if "recorded as a child process" in str(e) else 2
                fib(10)
                os._exit(code)
            _, status = os.waitpid(pid, 0)
        report(prof.trace, child=pid, code=os.waitstatus_to_exitcode(status))
    ''')
    assert r["code"] == 5
    assert counts(r, r["child"]) == {"fib": FIB10}


def test_magic_follows_processes_unless_no_processes(tmp_path):
    # IPython is in every venv scripts/test.sh runs this suite in (3.11, 3.13, 3.14, 3.15): never a skip
    assert importlib.util.find_spec("IPython") is not None, "IPython is not installed (pip install ipython)"
    r = run_program(tmp_path, '''
        from IPython.core.interactiveshell import InteractiveShell
        from IPython.utils.capture import capture_output

        shell = InteractiveShell.instance()
        shell.run_line_magic("load_ext", "fprofile_jupyter")
        shell.user_ns["fib"] = fib
        cell = "import os\\npid = os.fork()\\nif pid == 0:\\n    fib(10)\\n    os._exit(0)\\nos.waitpid(pid, 0)\\n"
        seen = {}
        for flags in ("", "--no-processes"):
            with capture_output():
                shell.run_cell(f"%%fprofile --subs {HERE} --no-display {flags}\\n" + cell)
            t = shell.user_ns["_fprofile_trace"]
            seen[flags or "default"] = [len(t.processes), sorted({c.function for c in t.calls()}), len(t)]
        report(t, seen=seen)
    ''')
    assert r["seen"] == {"default": [1, ["fib"], FIB10], "--no-processes": [0, [], 0]}


def test_fprofile_run_follows_processes_unless_no_processes(tmp_path):
    (tmp_path / "app.py").write_text(textwrap.dedent('''
        import os
        def work():
            return 1
        pid = os.fork()
        if pid == 0:
            for _ in range(4):
                work()
            os._exit(0)
        os.waitpid(pid, 0)
    '''))
    env = dict(os.environ, TMPDIR=str(tmp_path))
    env.pop("FPROFILE_JUPYTER_SESSION", None)
    for flags, expected in (([], 4), (["--no-processes"], 0)):
        out = tmp_path / "app.json"
        p = subprocess.run([sys.executable, "-m", "fprofile_jupyter", "run", *flags, "-o", str(out), "app.py"], cwd=tmp_path,
                           env=env, capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, p.stderr
        functions = [c.function for c in fp.load(str(out)).calls()]
        assert functions.count("work") == expected, (flags, functions)
        assert not [n for n in os.listdir(tmp_path) if n.startswith("fprofile-")]


def test_a_terminated_child_ends_its_spool_and_dies_of_sigterm(tmp_path):
    r = run_program(tmp_path, '''
        import multiprocessing

        def child(ready):
            fib(10)
            ready.set()
            while True:
                time.sleep(1)  # (not recorded: a C function)

        if __name__ == "__main__":
            ctx = multiprocessing.get_context("spawn")
            ready = ctx.Event()
            with fp.profile(subs=[HERE]) as prof:
                p = ctx.Process(target=child, args=(ready,))
                p.start()
                ready.wait()
                p.terminate()
                p.join()
            report(prof.trace, child=p.pid, exitcode=p.exitcode)
    ''')
    assert r["exitcode"] == -15, "the process still dies of SIGTERM"
    c = proc(r, r["child"])
    assert not c["incomplete"], "its spool was ended before it died"
    assert counts(r, r["child"]) == {"<module>": 1, "child": 1, "fib": FIB10}


def test_sigterm_is_caught_only_while_a_child_records(tmp_path):
    r = run_program(tmp_path, '''
        def sigterm_caught():
            with open("/proc/self/status") as f:
                mask = int(next(ln for ln in f if ln.startswith("SigCgt:")).split()[1], 16)
            return bool(mask & (1 << 14))  # SIGTERM is signal 15

        with fp.profile(subs=[HERE]) as prof:
            r, w = os.pipe()
            r2, w2 = os.pipe()
            pid = os.fork()
            if pid == 0:  # a recorded child: SIGTERM caught (to end its spool first)
                code = 0 if sigterm_caught() else 10
                fib(5)
                os.write(w2, b"x")
                os.read(r, 1)  # until the parent has stopped recording
                pid2 = os.fork()  # a child made after the stop: not recorded, SIGTERM as by default
                if pid2 == 0:
                    os._exit(0 if not sigterm_caught() else 20)
                _, st = os.waitpid(pid2, 0)
                os._exit(code or os.waitstatus_to_exitcode(st))
            os.read(r2, 1)  # the child has looked, while recording
        os.write(w, b"x")
        _, status = os.waitpid(pid, 0)
        report(prof.trace, child=pid, code=os.waitstatus_to_exitcode(status))
    ''')
    assert r["code"] == 0
    assert counts(r, r["child"])["fib"] == 15
    assert proc(r, r["child"])["incomplete"], "still running at the stop"


def test_a_child_that_execs_python_keeps_both_programs(tmp_path):
    (tmp_path / "leaf.py").write_text("def leaf():\n    return 1\n\nfor _ in range(5):\n    leaf()\n")
    r = run_program(tmp_path, '''
        with fp.profile(subs=[HERE]) as prof:
            pid = os.fork()
            if pid == 0:
                fib(5)
                os.execv(sys.executable, [sys.executable, os.path.join(HERE, "leaf.py")])
            os.waitpid(pid, 0)
        report(prof.trace, child=pid)
    ''')
    # the same pid, two programs one after the other: two processes in the trace, both complete
    assert counts(r, r["child"]) == {"fib": 15, "<module>": 1, "leaf": 5}
    mine = [p for p in r["processes"] if p["pid"] == r["child"]]
    assert len(mine) == 2 and not any(p["incomplete"] for p in mine)


def test_a_threadprofiler_left_on_at_exit_ends_its_session(tmp_path):
    r = run_program(tmp_path, '''
        p = fp.ThreadProfiler()
        p.profile_on(subs=[HERE], outfile=os.path.join(HERE, "out.txt"))
        for _ in range(2):  # (two spools: read on threads, or one after the other this late)
            pid = os.fork()
            if pid == 0:
                fib(10)
                os._exit(0)
            os.waitpid(pid, 0)
        fib(5)
        print("REPORT " + json.dumps({"session": os.environ["FPROFILE_JUPYTER_SESSION"].rpartition(":")[0]}))
        # exit with the profiler on: fprofile's exit handler stops it (the outfile is complete)
    ''')
    assert "fprofile" not in r["stderr"], r["stderr"]  # no warning: the children were merged (then dropped)
    assert not os.path.exists(r["session"])  # (run_program checked the temp dir is empty too)
    lines = (tmp_path / "out.txt").read_text().splitlines()
    assert sum("\tfib\t" in ln for ln in lines) == 2 * 15  # fib(5), this process's calls (not the children's)


def test_the_session_directory_of_a_parent_that_died_is_removed_by_the_next_start(tmp_path, monkeypatch):
    import tempfile

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    dead_pid = int(gone.stdout)
    root = tmp_path / "tmp"
    root.mkdir()
    # (directories of an earlier version: no lock, their session.json names the parent)
    left = root / "fprofile-left"  # its parent is gone and its children wrote nothing: removed
    left.mkdir(mode=0o700)
    (left / "session.json").write_text(json.dumps({"parent_pid": dead_pid}))
    (left / "123.spool").write_bytes(b"")
    mine = root / "fprofile-alive"  # a recording still running (this process): kept
    mine.mkdir(mode=0o700)
    (mine / "session.json").write_text(json.dumps({"parent_pid": os.getppid()}))
    other = root / "fprofile-not-a-session"  # not ours: kept
    other.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    with fp.profile(subs=["nothing-matches-this"]):
        assert sorted(p.name for p in root.iterdir() if p.name != os.path.basename(os.environ["FPROFILE_JUPYTER_SESSION"].rpartition(":")[0])) == [
            "fprofile-alive", "fprofile-not-a-session"]
    assert sorted(p.name for p in root.iterdir()) == ["fprofile-alive", "fprofile-not-a-session"]
