"""Soundness of the hook under re-entrancy, restarts and other tools (see docs/recording.md).

Each test here was written against a real defect: Python code that runs inside the hook's slow
paths (a `threading.Thread` subclass's `__getattribute__` is run when the recorder reads a
thread's name), a PEP 523 tool that chains to the recorder's eval function, repeated starts and
stops racing with short threads.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from fprofile_jupyter import ProfilerError
from fprofile_jupyter._core import Recorder
from fprofile_jupyter._options import RecordOptions

PY312 = sys.version_info >= (3, 12)
PY311 = sys.version_info >= (3, 11)


def load(tmp_path: Path, dirname: str, src: str):
    d = tmp_path / dirname
    d.mkdir(exist_ok=True)
    f = d / "wl.py"
    f.write_text(textwrap.dedent(src))
    name = f"hooksafety_{dirname}"
    spec = importlib.util.spec_from_file_location(name, str(f))
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def assert_well_nested(raw):
    """Every thread's events: each return closes the call opened last (the hook saw both ends of
    every call it recorded here: nothing was running when recording started)."""
    stacks = {}
    for ti, _t, code, kind in raw.events():
        st = stacks.setdefault(ti, [])
        if kind == "call":
            st.append(code)
        else:
            assert st, f"thread {ti}: a return with no call open"
            assert st.pop() == code, f"thread {ti}: a return of another code than the open call"


HELPER = """
    import threading

    calls = []    # native ids of the threads that ran the hook below while armed
    armed = False
    tick = None

    class Base(threading.Thread):
        # Python code run whenever the recorder reads the thread's name (its `_name`): this file
        # is not recorded, the tick() it calls is
        def __getattribute__(self, name):
            if armed:
                calls.append(threading.get_native_id())
                tick()
            return object.__getattribute__(self, name)
"""

REENTRANT = """
    import helper

    def tick():
        return 1

    class Worker(helper.Base):
        def run(self):
            helper.armed = True
            for _ in range(30000):   # several buffer chunks (256 events, then 2048, ...)
                tick()
            helper.armed = False
"""


def test_python_code_run_while_taking_a_chunk_is_not_overwritten(tmp_path):
    """Taking a new chunk reads the thread's name; a `__getattribute__` runs recorded code right
    then. The event that needed the chunk must go after those events, not over them (it was
    written at index 0 of the new chunk, and the next ones after it: they were lost)."""
    helper = load(tmp_path, "helper", HELPER)
    sys.modules["helper"] = helper
    try:
        m = load(tmp_path, "reentrant", REENTRANT)
        helper.tick = m.tick
        rec = Recorder()
        rec.start(RecordOptions(subs=(str(tmp_path / "reentrant"),), max_events=Recorder.DEFAULT_MAX_EVENTS))
        try:
            w = m.Worker(name="worker")
            w.start()
            w.join()
        finally:
            raw = rec.stop_raw()
    finally:
        del sys.modules["helper"]
    assert_well_nested(raw)
    codes = raw.codes()
    tick = {i for i, c in enumerate(codes) if c[1] == "tick"}
    threads = raw.threads()
    wi = [i for i, t in enumerate(threads) if t[2][0][1] == "worker"]
    assert len(wi) == 1
    native = threads[wi[0]][0]
    extra = sum(1 for n in helper.calls if n == native)
    assert extra >= 3, "the name was read at each chunk switch"
    got = sum(1 for ti, _, code, kind in raw.events() if ti == wi[0] and kind == "call" and code in tick)
    # 3.12+: sys.monitoring delivers no events while one of its callbacks runs, so that Python
    # code is not seen at all; 3.9-3.11: the eval-frame function sees it, and it is kept
    assert got == 30000 + (0 if PY312 else extra)


CHAIN_C = r"""
#define PY_SSIZE_T_CLEAN
#include <Python.h>
/* A well-behaved PEP 523 tool (as pydevd or torch.compile): chains to the function installed
   before it and puts that one back when it stops. */
static _PyFrameEvalFunction prev = NULL;
static long count = 0;
#if PY_VERSION_HEX >= 0x030B0000
static PyObject *eval(PyThreadState *ts, struct _PyInterpreterFrame *f, int throwflag)
#else
static PyObject *eval(PyThreadState *ts, PyFrameObject *f, int throwflag)
#endif
{
    count++;
    return prev(ts, f, throwflag);
}
static PyObject *start(PyObject *self, PyObject *noargs) {
    PyInterpreterState *i = PyInterpreterState_Get();
    prev = _PyInterpreterState_GetEvalFrameFunc(i);
    _PyInterpreterState_SetEvalFrameFunc(i, eval);
    Py_RETURN_NONE;
}
static PyObject *stop(PyObject *self, PyObject *noargs) {
    _PyInterpreterState_SetEvalFrameFunc(PyInterpreterState_Get(), prev);
    return PyLong_FromLong(count);
}
static PyMethodDef methods[] = {
    {"start", start, METH_NOARGS, NULL}, {"stop", stop, METH_NOARGS, NULL}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef mod = {PyModuleDef_HEAD_INIT, "chainhook", NULL, -1, methods};
PyMODINIT_FUNC PyInit_chainhook(void) { return PyModule_Create(&mod); }
"""


def build_chainhook(tmp_path: Path) -> Path:
    import shutil
    import sysconfig

    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler")
    out = tmp_path / "chainhook"
    out.mkdir()
    (out / "chainhook.c").write_text(CHAIN_C)
    so = out / ("chainhook" + sysconfig.get_config_var("EXT_SUFFIX"))
    subprocess.run([cc, "-shared", "-fPIC", "-O1", "-I", sysconfig.get_paths()["include"],
                    str(out / "chainhook.c"), "-o", str(so)], check=True, capture_output=True)
    return out


@pytest.mark.skipif(PY312, reason="PEP 523 is the default mechanism on 3.9-3.11 only")
def test_restart_while_a_chaining_tool_sits_over_our_eval_function(tmp_path):
    """A tool installs its eval function over ours while we record (it chains to ours); our stop
    leaves it in place. Starting again must not chain to that tool (it calls ours, which would
    call it: endless recursion, a crash): a clear ProfilerError. Once the tool puts ours back,
    recording works again, and at its stop the original function is back."""
    hookdir = build_chainhook(tmp_path)
    wl = tmp_path / "wl"
    wl.mkdir()
    (wl / "wl.py").write_text("def work():\n    return 1\n")
    script = tmp_path / "main.py"
    script.write_text(textwrap.dedent(f"""
        import sys, warnings, ctypes
        sys.path[:0] = [{str(hookdir)!r}, {str(wl)!r}]
        import chainhook, wl
        from fprofile_jupyter import ProfilerError
        from fprofile_jupyter._core import Recorder
        from fprofile_jupyter._options import RecordOptions

        def current():
            f = ctypes.pythonapi._PyInterpreterState_GetEvalFrameFunc
            f.restype = ctypes.c_void_p
            f.argtypes = [ctypes.c_void_p]
            g = ctypes.pythonapi.PyInterpreterState_Get
            g.restype = ctypes.c_void_p
            return f(g())

        original = current()
        r = Recorder()
        r.start(RecordOptions(subs=({str(wl)!r},), max_events=Recorder.DEFAULT_MAX_EVENTS))
        wl.work()
        chainhook.start()
        wl.work()
        t1 = r.stop()
        assert any(w.kind == "hook_replaced" and "replaced" in w.message for w in r.stats.warnings), r.stats
        try:
            r.start(RecordOptions(subs=({str(wl)!r},), max_events=Recorder.DEFAULT_MAX_EVENTS))
        except ProfilerError as e:
            print("refused:", e)
        else:
            wl.work()
            r.stop()
            print("started over the other tool")
        wl.work()
        n = chainhook.stop()
        r.start(RecordOptions(subs=({str(wl)!r},), max_events=Recorder.DEFAULT_MAX_EVENTS))
        wl.work()
        t3 = r.stop()
        print("calls", len(t1), len(t3), "restored", current() == original, "chain saw", n >= 2)
    """))
    p = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, (p.returncode, p.stdout, p.stderr[-2000:])
    lines = p.stdout.splitlines()
    assert lines[0].startswith("refused: cannot start profiling: another tool"), lines
    assert lines[1] == "calls 2 1 restored True chain saw True", lines


STRESS = """
    import os, sys, threading, time, warnings
    from fprofile_jupyter._core import Recorder
    from fprofile_jupyter._options import RecordOptions

    def leaf(n):
        return n

    def gen(n):
        for i in range(n):
            yield leaf(i)

    def body(k):
        s = 0
        for i in range(k):
            s += leaf(i)
        s += sum(gen(5))
        try:
            raise ValueError
        except ValueError:
            pass
        return s

    def short_thread(k):
        threading.current_thread().name = f"renamed-{{k}}"
        body(50 + k % 50)

    def main(seconds, outdir):
        stop_at = time.monotonic() + seconds
        stopping = threading.Event()
        def spawner():
            k = 0
            while not stopping.is_set():
                ts = [threading.Thread(target=short_thread, args=(k + j,), name="short") for j in range(4)]
                for t in ts:
                    t.start()
                for t in ts:
                    t.join()
                k += 4
        spawners = [threading.Thread(target=spawner, name=f"spawner-{{i}}") for i in range(2)]
        for t in spawners:
            t.start()
        rounds = 0
        while time.monotonic() < stop_at:
            r = Recorder()
            out = os.path.join(outdir, f"r{{rounds % 3}}.txt") if rounds % 2 else None
            # small caps now and then: the cap is reached while threads come and go
            cap = 3000 if rounds % 5 == 4 else 10_000_000
            r.start(RecordOptions(subs=({sub!r},), max_events=cap, outfile=out, builtins=rounds % 7 == 6))
            body(200)
            time.sleep(0.002 * (rounds % 4))
            raw = r.stop_raw()
            stacks = {{}}
            for ti, t, code, kind in raw.events():
                st = stacks.setdefault(ti, [])
                if kind == "call":
                    st.append(code)
                elif st:
                    assert st.pop() == code, "a return of another code than the open call"
            ncodes = len(raw.codes())
            assert all(c < ncodes for _, _, c, _ in raw.events())
            raw.to_trace()
            if out:
                with open(out) as f:
                    lines = f.read().splitlines()
                assert len(lines) == r.stats.events, (len(lines), r.stats)
                assert all(len(l.split("\\t")) == 6 for l in lines)
            rounds += 1
        stopping.set()
        for t in spawners:
            t.join()
        print("rounds", rounds)

    main(float(sys.argv[1]), sys.argv[2])
"""


def test_stress_start_stop_with_short_threads(tmp_path):
    """Recording starts and stops over and over (with and without a live file, sometimes hitting
    a small cap, sometimes with builtins=True) while threads that record and rename themselves start and end all the time:
    no crash, every thread's events well nested, every code id known, the live file complete."""
    d = tmp_path / "stress"
    d.mkdir()
    script = d / "stress.py"
    script.write_text(textwrap.dedent(STRESS.format(sub=str(d))))
    p = subprocess.run([sys.executable, str(script), "3", str(tmp_path)], capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, (p.returncode, p.stdout, p.stderr[-3000:])
    assert int(p.stdout.split()[-1]) >= 5


def test_refused_in_a_sub_interpreter():
    """The recorder's state is process-wide (its background thread reads thread names through the
    main interpreter): starting it from a sub-interpreter is a clear ProfilerError."""
    _testcapi = pytest.importorskip("_testcapi")
    if not hasattr(_testcapi, "run_in_subinterp"):
        pytest.skip("no _testcapi.run_in_subinterp")
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "out.txt")
        code = textwrap.dedent(f"""
            import fprofile_jupyter
            from fprofile_jupyter._core import Recorder
            from fprofile_jupyter._options import RecordOptions
            try:
                with fprofile_jupyter.profile(subs=["x"]):
                    pass
                msg = "started"
            except fprofile_jupyter.ProfilerError as e:
                msg = "refused: " + str(e)
            msg += " | on: " + str(Recorder.is_profiling())
            with open({out!r}, "w") as f:
                f.write(msg)
        """)
        assert _testcapi.run_in_subinterp(code) == 0
        with open(out) as f:
            msg = f.read()
    assert msg == ("refused: profiling from a sub-interpreter is not supported: start it from the main "
                   "interpreter | on: False")


@pytest.mark.skipif(sys.version_info < (3, 13), reason="sys._is_gil_enabled exists on 3.13+")
def test_refused_without_the_gil(monkeypatch):
    """A free-threaded build running without the GIL (sys._is_gil_enabled() false): a clear
    ProfilerError at start, nothing hooked."""
    import fprofile_jupyter

    monkeypatch.setattr(sys, "_is_gil_enabled", lambda: False)
    with pytest.raises(ProfilerError, match="profiling needs the GIL"):
        with fprofile_jupyter.profile(subs=["x"]):
            pass
    assert not Recorder.is_profiling()


FORK_EARLY = """
    import os

    def f(n):
        return n

    def child_hook():
        # runs in the child before fprofile's own after-fork handler: enough recorded calls to
        # need new buffer chunks (the locks the parent's writer thread may have held at the fork)
        for _ in range(20000):
            f(1)

    os.register_at_fork(after_in_child=child_hook)   # registered before fprofile is imported
"""

FORK_MAIN = """
    import os, sys, time, signal, warnings
    sys.path.insert(0, {d!r})
    import early
    import fprofile_jupyter
    warnings.simplefilter("ignore", DeprecationWarning)   # 3.12+: fork with threads running
    hung = 0
    with fprofile_jupyter.profile(subs=[{d!r}], outfile={out!r}) as prof:
        for i in range(12):
            for _ in range(50000):
                early.f(1)
            pid = os.fork()
            if pid == 0:
                os._exit(0)
            t0 = time.monotonic()
            while True:
                p, st = os.waitpid(pid, os.WNOHANG)
                if p:
                    break
                if time.monotonic() - t0 > 20:
                    hung += 1
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
                    break
                time.sleep(0.001)
    print(hung, len(prof.trace))
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_fork_child_running_recorded_code_in_an_early_at_fork_handler(tmp_path):
    """An at-fork handler registered before fprofile's runs recorded code in the child before
    fprofile's handler forgets the parent's recording. The hook must already be inert there: the
    parent's writer thread may have held a buffer lock at the fork, and the child waited for it
    forever (seen in about 1 fork in 40 while the writer drained a large batch; so this test
    catches the defect only sometimes, but never fails when it is absent)."""
    d = tmp_path / "fork"
    d.mkdir()
    (d / "early.py").write_text(textwrap.dedent(FORK_EARLY))
    script = d / "main.py"
    script.write_text(textwrap.dedent(FORK_MAIN.format(d=str(d), out=str(tmp_path / "out.txt"))))
    p = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, (p.stdout, p.stderr[-2000:])
    assert p.stdout.split() == ["0", str(12 * 50000)]


def test_thread_first_seen_in_threadings_own_bootstrap_gets_its_name(tmp_path):
    """With `subs` matching threading.py, a new thread's first recorded call is threading's own
    bootstrap, before `threading` lists the thread: it was named "thread-<id>" for good, and its
    renames were never seen. It is looked up again later (here at its next buffer chunk)."""
    m = load(tmp_path, "bootname", """
        import threading

        def tick():
            return 1

        def work():
            for _ in range(5000):    # a second buffer chunk
                tick()
            threading.current_thread().name = "renamed"
            for _ in range(10000):   # a third one
                tick()
    """)
    rec = Recorder()
    rec.start(RecordOptions(subs=(threading.__file__, str(tmp_path / "bootname")), max_events=Recorder.DEFAULT_MAX_EVENTS))
    try:
        t = threading.Thread(target=m.work, name="worker")
        t.start()
        t.join()
    finally:
        raw = rec.stop_raw()
    names = [[n for _, n in th[2]] for th in raw.threads()]
    assert ["worker", "renamed"] in names, names


STOP_INSIDE = """
    import sys, threading
    from fprofile_jupyter._core import Recorder
    from fprofile_jupyter._options import RecordOptions

    rec = Recorder()
    armed = [False]
    result = []

    def tick():
        return 1

    class Worker(threading.Thread):
        # run by the hook itself when the worker takes its second chunk (the rename check):
        # stops the recording from inside the hook
        def __getattribute__(self, name):
            # (only on the worker itself: fprofile's background thread reads names too)
            if armed[0] and threading.get_ident() == object.__getattribute__(self, "_ident"):
                armed[0] = False
                result.append(rec.stop_raw())
            return object.__getattribute__(self, name)

        def run(self):
            armed[0] = True
            for _ in range(20000):
                tick()

    counts = []
    for i in range(30):
        rec.start(RecordOptions(subs=({d!r},), max_events=Recorder.DEFAULT_MAX_EVENTS, outfile={out!r} if i % 2 else None))
        w = Worker()
        w.start()
        w.join()
        assert not rec.active
        raw = result.pop()
        tick_ids = [i for i, c in enumerate(raw.codes()) if c[1] == "tick"]
        counts.append(sum(1 for e in raw.events() if e[2] in tick_ids))
        raw.to_trace()
    print(min(counts), max(counts))
"""


def test_stop_from_python_code_run_inside_the_hook(tmp_path):
    """The recording is stopped by Python code that the hook itself runs (while a thread takes a
    new chunk): that thread's buffers stay valid until the hook is out, and nothing it does
    after the stop is recorded."""
    d = tmp_path / "stopinside"
    d.mkdir()
    script = d / "main.py"
    script.write_text(textwrap.dedent(STOP_INSIDE.format(d=str(d), out=str(tmp_path / "o.txt"))))
    p = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, (p.returncode, p.stdout, p.stderr[-2000:])
    lo, hi = map(int, p.stdout.split())
    # tick's events up to the first chunk switch (256 events in all, a few of them the worker's
    # start-up and __getattribute__): none after the stop (20000 calls are 40000 events)
    assert 200 <= lo <= hi <= 256, (lo, hi)


STOP_ON_WRITER = """
    import threading, time
    from fprofile_jupyter._core import Recorder
    from fprofile_jupyter._options import RecordOptions

    rec = Recorder()
    armed = [False]
    result = []
    done = threading.Event()

    def tick():
        return 1

    class Worker(threading.Thread):
        def __getattribute__(self, name):
            # run on fprofile's background thread when it reads the name (a thread threading
            # does not know): stops the recording from there
            if armed[0] and threading.get_ident() not in threading._active:
                armed[0] = False
                try:
                    result.append(rec.stop_raw())
                except BaseException as e:
                    result.append(e)
                done.set()
            return object.__getattribute__(self, name)

        def run(self):
            tick()
            armed[0] = True
            done.wait(30)

    rec.start(RecordOptions(subs=({d!r},), max_events=Recorder.DEFAULT_MAX_EVENTS, outfile={out!r}))
    w = Worker(name="worker")
    w.start()
    w.join()
    print(type(result[0]).__name__ if result else "nothing", rec.active)
    print(rec.stats and rec.stats.outfile_error)
"""


def test_stop_from_python_code_run_on_the_background_thread(tmp_path):
    """Python code run on the recorder's own background thread (it reads thread names, which may
    run a `Thread` subclass's `__getattribute__`) stops the recording: the stop completes (the
    background thread does not try to wait for itself, which panicked) and says what the outfile
    may miss."""
    d = tmp_path / "stopwriter"
    d.mkdir()
    script = d / "main.py"
    script.write_text(textwrap.dedent(STOP_ON_WRITER.format(d=str(d), out=str(tmp_path / "o.txt"))))
    p = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, (p.returncode, p.stdout, p.stderr[-2000:])
    lines = p.stdout.splitlines()
    assert lines[0] == "RawRecording False", (lines, p.stderr[-2000:])
    assert "stopped from fprofile's own background thread" in lines[1]


def test_thread_picking_up_the_builtins_hook_after_stop_is_not_left_profiled(tmp_path):
    """A thread that took `threading`'s profile hook (fprofile's trampoline) just before a
    builtins=True recording stopped runs it afterwards. It must not install the profile function
    then: left there, it recorded C calls into a later recording made without builtins."""
    import fprofile_jupyter

    m = load(tmp_path, "tramp", """
        def f():
            return len([1, 2])
    """)
    sub = str(tmp_path / "tramp")
    with fprofile_jupyter.profile(subs=[sub], builtins=True):
        hook = threading._profile_hook     # what a thread starting now would install
    assert hook is not None
    go_on = threading.Event()
    ready = threading.Event()

    def late_thread():
        sys.setprofile(hook)   # as threading's bootstrap does, only after the stop
        m.f()                  # its first event runs the trampoline
        ready.set()
        go_on.wait(30)
        m.f()

    t = threading.Thread(target=late_thread, name="late")
    t.start()
    ready.wait(30)
    try:
        with fprofile_jupyter.profile(subs=[sub]) as prof:
            go_on.set()
            t.join()
    finally:
        go_on.set()
        sys.setprofile(None)
    assert sorted(c.function for c in prof.trace.calls()) == ["f"]


OOM = """
    import resource, sys, warnings
    import fprofile_jupyter

    def tick():
        return 1

    def vm_bytes():
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
        raise SystemExit("no VmSize")

    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with fprofile_jupyter.profile(subs=[{d!r}]) as prof:
            # room for a few MB of event chunks only (they grow to 4 MiB each)
            resource.setrlimit(resource.RLIMIT_AS, (vm_bytes() + (24 << 20), hard))
            try:
                for _ in range(3_000_000):
                    tick()
            finally:
                resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    md = prof.trace.metadata
    print(md["cap_reached"], md["out_of_memory"], 0 < len(prof.trace) < 3_000_000)
    for w in caught:
        print(w.category.__name__, str(w.message).split(":")[1].strip())
"""


def test_chunk_allocation_failure_stops_recording_and_says_so(tmp_path):
    """When memory for a new event chunk cannot be had, recording stops (what was recorded is
    kept) with a warning that says so, not with the cap's warning ("the event cap was reached"
    with a cap that was not reached)."""
    d = tmp_path / "oom"
    d.mkdir()
    script = d / "main.py"
    script.write_text(textwrap.dedent(OOM.format(d=str(d))))
    p = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, (p.returncode, p.stdout, p.stderr[-2000:])
    lines = p.stdout.splitlines()
    assert lines[0] == "false true True", lines
    assert lines[1:] == ["RuntimeWarning memory for the event buffers could not be allocated"], lines
