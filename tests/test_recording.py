"""The recording core: exact calls, depths and order recorded by profile() on deterministic workloads.

Workload modules are written into temporary directories (some with quotes, tabs or non-ASCII in
their names) and matched by `subs`; the tests' own frames are never in those directories.
Runs on every supported Python (3.9-3.15); where CPython reports something differently per version
(3.12+ inlines list comprehensions; sys.monitoring reports returns of frames that were already
running) the expectation says so.
"""
from __future__ import annotations

import cProfile
import importlib.util
import json
import os
import subprocess
import sys
import textwrap
import threading
import warnings
from pathlib import Path
from typing import List, Tuple

import pytest

import fprofile_jupyter
from fprofile_jupyter import ProfilerError, profile
from fprofile_jupyter._core import Recorder, RecorderStats
from fprofile_jupyter._options import RecordOptions
from fprofile_jupyter._recording import CapReachedWarning, default_subs

PY312 = sys.version_info >= (3, 12)
PY311 = sys.version_info >= (3, 11)

_counter = [0]


def load(tmp_path: Path, dirname: str, src: str, filename: str = "wl.py"):
    """Writes `src` to tmp_path/dirname/filename and imports it under a unique module name."""
    d = tmp_path / dirname
    d.mkdir(parents=True, exist_ok=True)
    f = d / filename
    f.write_text(textwrap.dedent(src), encoding="utf-8")
    _counter[0] += 1
    name = f"fpwl_{_counter[0]}"
    spec = importlib.util.spec_from_file_location(name, str(f))
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def tree(trace, thread=None) -> List[Tuple[int, str]]:
    """(depth, function) of the calls of one thread (default: the only thread), in pre-order."""
    if thread is None:
        assert len(trace.threads) == 1, trace.threads
        thread = 0
    return [(c.depth, c.function) for c in trace.calls() if c.thread == thread]


def thread_index(trace, name: str) -> int:
    found = [t.index for t in trace.threads if t.name == name]
    assert len(found) == 1, (name, trace.threads)
    return found[0]


def check_nesting(trace) -> None:
    """Every call lies inside its parent, depth = parent depth + 1, starts are in pre-order."""
    calls = trace.calls()
    for c in calls:
        assert c.start_ns <= c.end_ns
        if c.parent is None:
            assert c.depth == 0
        else:
            p = calls[c.parent]
            assert p.thread == c.thread
            assert c.depth == p.depth + 1
            assert p.start_ns <= c.start_ns and c.end_ns <= p.end_ns


# -- single-thread shapes -------------------------------------------------------------------------

def test_recursion_exact_tree(tmp_path):
    m = load(tmp_path, "rec", """
        def fib(n):
            return n if n < 2 else fib(n - 1) + fib(n - 2)
    """)
    with profile(subs=[str(tmp_path / "rec")]) as prof:
        assert m.fib(4) == 3
    t = prof.trace
    assert len(t) == 9
    assert tree(t) == [(0, "fib"), (1, "fib"), (2, "fib"), (3, "fib"), (3, "fib"), (2, "fib"),
                       (1, "fib"), (2, "fib"), (2, "fib")]
    assert all(not c.unfinished and not c.started_before for c in t.calls())
    c0 = t.calls()[0]
    assert c0.file == str(tmp_path / "rec" / "wl.py") and c0.line == 2
    check_nesting(t)
    assert t.threads[0].name == "MainThread"
    assert t.threads[0].os_id == threading.get_native_id()


def test_exceptions_caught_and_uncaught(tmp_path):
    m = load(tmp_path, "exc", """
        def inner():
            raise ValueError("x")
        def middle():
            inner()
        def after():
            return 1
        def caught():
            try:
                middle()
            except ValueError:
                pass
            return after()
        def uncaught():
            middle()
    """)
    with profile(subs=[str(tmp_path / "exc")]) as prof:
        m.caught()
    assert tree(prof.trace) == [(0, "caught"), (1, "middle"), (2, "inner"), (1, "after")]
    check_nesting(prof.trace)

    with pytest.raises(ValueError):
        with profile(subs=[str(tmp_path / "exc")]) as prof2:
            m.uncaught()
    t = prof2.trace
    assert t is not None, "the trace is kept when the block raises"
    assert tree(t) == [(0, "uncaught"), (1, "middle"), (2, "inner")]
    assert not any(c.unfinished for c in t.calls()), "an exception unwinding a frame ends its call"
    check_nesting(t)


def test_generators_each_resume_is_a_call(tmp_path):
    m = load(tmp_path, "gen", """
        def gen(n):
            for i in range(n):
                yield i
        def consume():
            return sum(gen(3))
        def thrown():
            g = gen(5)
            next(g)
            try:
                g.throw(KeyError)
            except KeyError:
                pass
        class Once:
            def __await__(self):
                yield
        async def co():
            await Once()
            return 7
        def drive():
            c = co()
            c.send(None)
            try:
                c.send(None)
            except StopIteration as e:
                return e.value
    """)
    with profile(subs=[str(tmp_path / "gen")]) as prof:
        assert m.consume() == 3
        m.thrown()
        assert m.drive() == 7
    got = tree(prof.trace)
    # 3 yields + the final resume that returns; creating a generator is not a call.
    assert got[:5] == [(0, "consume")] + [(1, "gen")] * 4
    # thrown(): one resume that yields, one throw that unwinds it
    assert got[5:8] == [(0, "thrown"), (1, "gen"), (1, "gen")]
    # drive(): co runs twice (suspended once inside Once.__await__), __await__ twice too
    assert got[8:] == [(0, "drive"), (1, "co"), (2, "Once.__await__" if PY311 else "__await__"),
                       (1, "co"), (2, "Once.__await__" if PY311 else "__await__")]
    check_nesting(prof.trace)


def test_methods_lambdas_comprehensions_decorators(tmp_path):
    m = load(tmp_path, "shapes", """
        import functools
        def deco(f):
            @functools.wraps(f)
            def wrapper(*a):
                return f(*a)
            return wrapper
        class C:
            def m(self):
                return [x * 2 for x in range(3)]
            @staticmethod
            def s():
                return sum(x for x in range(2))
            @classmethod
            def c(cls):
                return (lambda y: y + 1)(1)
        @deco
        def decorated(v):
            return v
        def run():
            C().m(); C.s(); C.c(); decorated(1)
    """)
    with profile(subs=[str(tmp_path / "shapes")]) as prof:
        m.run()
    got = tree(prof.trace)
    q = (lambda qual, name: qual if PY311 else name)
    expected = [(0, "run"), (1, q("C.m", "m"))]
    if not PY312:  # 3.12+ inlines list comprehensions (PEP 709): no call of their own
        expected.append((2, q("C.m.<locals>.<listcomp>", "<listcomp>")))
    expected += [(1, q("C.s", "s"))] + [(2, q("C.s.<locals>.<genexpr>", "<genexpr>"))] * 3
    expected += [(1, q("C.c", "c")), (2, q("C.c.<locals>.<lambda>", "<lambda>"))]
    expected += [(1, q("deco.<locals>.wrapper", "wrapper")), (2, "decorated")]
    assert got == expected
    check_nesting(prof.trace)


def test_profile_off_from_inside_a_recorded_function(tmp_path):
    m = load(tmp_path, "stop", """
        def down(p, n, log):
            log.append(n)
            if n == 0:
                p.profile_off()
                leaf()
                return
            down(p, n - 1, log)
            leaf()
        def leaf():
            return 0
    """)
    p = fprofile_jupyter.ThreadProfiler()
    p.profile_on(subs=[str(tmp_path / "stop")], outfile=None)
    log: List[int] = []
    m.down(p, 3, log)
    assert log == [3, 2, 1, 0]
    t = p.trace
    # the four open calls are kept, closed at the stop time; nothing after the stop is recorded
    assert tree(t) == [(0, "down"), (1, "down"), (2, "down"), (3, "down")]
    assert all(c.unfinished for c in t.calls())
    assert len({c.end_ns for c in t.calls()}) == 1
    check_nesting(t)


def test_new_session_inside_frames_of_an_old_one(tmp_path):
    """Frames entered under one session and left under the next never leak into it on 3.9-3.11
    (PEP 523 sees both ends); on 3.12+ sys.monitoring reports their returns, which become calls
    that started before the recording."""
    m = load(tmp_path, "twice", """
        def outer(state):
            state["p1"].profile_off()
            state["p2"].profile_on(subs=state["subs"], outfile=None)
            return leaf()
        def leaf():
            return 1
    """)
    subs = [str(tmp_path / "twice")]
    state = {"p1": fprofile_jupyter.ThreadProfiler(), "p2": fprofile_jupyter.ThreadProfiler(), "subs": subs}
    state["p1"].profile_on(subs=subs, outfile=None)
    m.outer(state)
    state["p2"].profile_off()
    assert tree(state["p1"].trace) == [(0, "outer")]
    t2 = state["p2"].trace
    if PY312:
        assert tree(t2) == [(0, "outer"), (1, "leaf")]
        assert t2.calls()[0].started_before
    else:
        assert tree(t2) == [(0, "leaf")]


# -- threads ----------------------------------------------------------------------------------------

THREAD_WL = """
    import threading
    def work(n):
        return sum(step(i) for i in range(n))
    def step(i):
        return i
    def waiter(go, worked, done):
        go.wait()
        work(2)
        worked.set()
        done.wait()
"""


def test_threads_started_before_and_during(tmp_path):
    m = load(tmp_path, "thr", THREAD_WL)
    go, worked, done = threading.Event(), threading.Event(), threading.Event()
    early = threading.Thread(target=m.waiter, args=(go, worked, done), name="early")
    early.start()
    try:
        with profile(subs=[str(tmp_path / "thr")]) as prof:
            go.set()
            late = [threading.Thread(target=m.work, args=(3,), name=f"late-{i}") for i in range(3)]
            for th in late:
                th.start()
            for th in late:
                th.join()
            m.work(1)
            assert worked.wait(10)
    finally:
        done.set()
        early.join()
    t = prof.trace
    names = sorted(th.name for th in t.threads)
    assert names == ["MainThread", "early", "late-0", "late-1", "late-2"]
    genexpr = "work.<locals>.<genexpr>" if PY311 else "<genexpr>"
    for i in range(3):
        ti = thread_index(t, f"late-{i}")
        assert [f for d, f in tree(t, ti) if d <= 1] == ["work"] + [genexpr] * 4
        assert [f for d, f in tree(t, ti) if f == "step"] == ["step"] * 3
    # the thread that was already running: its calls from the start on (its `waiter` frame was
    # entered before recording started, so it is not a call of the trace)
    ti = thread_index(t, "early")
    assert [f for d, f in tree(t, ti) if f in ("work", "step", "waiter")] == ["work", "step", "step"]
    assert t.threads[ti].os_id == early.native_id
    main = thread_index(t, "MainThread")
    assert [f for d, f in tree(t, main) if f == "step"] == ["step"]
    check_nesting(t)


def test_same_name_threads_stay_distinct(tmp_path):
    m = load(tmp_path, "twin", THREAD_WL)
    with profile(subs=[str(tmp_path / "twin")]) as prof:
        a = threading.Thread(target=m.work, args=(1,), name="twin")
        a.start(); a.join()
        b = threading.Thread(target=m.work, args=(2,), name="twin")
        b.start(); b.join()
    t = prof.trace
    twins = [th for th in t.threads if th.name == "twin"]
    assert len(twins) == 2
    steps = sorted(len([1 for d, f in tree(t, th.index) if f == "step"]) for th in twins)
    assert steps == [1, 2]


def test_renamed_thread_keeps_both_names(tmp_path):
    m = load(tmp_path, "ren", THREAD_WL)

    def body():
        m.work(1)
        threading.current_thread().name = "renamed"
        m.work(1)

    with profile(subs=[str(tmp_path / "ren")]) as prof:
        th = threading.Thread(target=body, name="original")
        th.start()
        th.join()
    t = prof.trace
    info = [x for x in t.threads if x.os_id == th.native_id]
    assert len(info) == 1
    assert [n for _, n in info[0].names] == ["original", "renamed"]
    assert info[0].name == "renamed"
    times = [ts for ts, _ in info[0].names]
    assert times == sorted(times)


# -- subs -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dirname", ["plain", "we'ird \"quoted\"", "tab\there", "ünïcødé-数据-😀"])
def test_subs_with_quotes_tabs_non_ascii(tmp_path, dirname):
    m = load(tmp_path, dirname, """
        def f():
            return g()
        def g():
            return 1
    """)
    with profile(subs=[dirname]) as prof:
        m.f()
    assert tree(prof.trace) == [(0, "f"), (1, "g")]
    assert prof.trace.calls()[0].file == str(tmp_path / dirname / "wl.py")


def test_subs_matching_nothing_one_several(tmp_path):
    src = """
        def f():
            return 1
    """
    a = load(tmp_path, "alpha", src)
    b = load(tmp_path, "beta", src)
    c = load(tmp_path, "gamma", src)

    def run():
        a.f(); b.f(); c.f()

    def files(trace):
        return [Path(x.file).parent.name for x in trace.calls()]

    for subs, expected in [([], []), (["no-such-dir-xyz"], []), ([str(tmp_path / "beta")], ["beta"]),
                           ([str(tmp_path / "alpha"), str(tmp_path / "gamma")], ["alpha", "gamma"]),
                           ([str(tmp_path)], ["alpha", "beta", "gamma"])]:
        with profile(subs=subs) as prof:
            run()
        assert files(prof.trace) == expected, subs
        assert len(prof.trace) == len(expected)


def test_own_package_never_recorded(tmp_path):
    own = os.path.dirname(fprofile_jupyter.__file__)
    m = load(tmp_path, "own", "def f():\n    return 1\n")
    with profile(subs=[own, str(tmp_path / "own"), "fprofile_jupyter"]) as prof:
        m.f()
        fprofile_jupyter._recording.default_subs()  # a Python function of the package
    assert [c.function for c in prof.trace.calls()] == ["f"]


def test_bad_subs_and_arguments():
    with pytest.raises(TypeError, match=r"subs=\['mypkg/'\]"):
        profile(subs="mypkg/")
    with pytest.raises(TypeError, match="only strings"):
        profile(subs=["a", 3])
    with pytest.raises(TypeError, match="list of strings"):
        profile(subs=5)
    with pytest.raises(ValueError, match="max_events"):
        profile(subs=["a"], max_events=0)
    with pytest.raises(TypeError):
        fprofile_jupyter.ThreadProfiler().profile_on(subs="PYME/")
    assert not Recorder.is_profiling()


def test_huge_max_events_is_no_overflow_error(tmp_path):
    """max_events above 2**64 - 1 means "as many as memory allows", not an OverflowError at start."""
    with profile(subs=["nothing-matches"], max_events=2**70) as prof:
        pass
    assert len(prof.trace) == 0 and not Recorder.is_profiling()
    p = fprofile_jupyter.ThreadProfiler()
    p.profile_on(subs=["nothing-matches"], outfile=None, max_events=10**30)
    p.profile_off()


def test_unwritable_outfile_fails_before_hooking(tmp_path):
    bad = tmp_path / "no-such-dir" / "out.txt"
    p = fprofile_jupyter.ThreadProfiler()
    with pytest.raises(ProfilerError, match="cannot write the outfile"):
        p.profile_on(subs=["x"], outfile=str(bad))
    assert not Recorder.is_profiling()
    with pytest.raises(ProfilerError, match="directory"):
        p.profile_on(subs=["x"], outfile=str(tmp_path))
    assert not Recorder.is_profiling()
    # and profiling still works afterwards
    with profile(subs=["x"]) as prof:
        pass
    assert len(prof.trace) == 0


# -- start/stop discipline -----------------------------------------------------------------------------

def test_double_on_off():
    p = fprofile_jupyter.ThreadProfiler()
    with pytest.raises(ProfilerError, match="not on"):
        p.profile_off()
    p.profile_on(subs=["nothing-matches"], outfile=None)
    with pytest.raises(ProfilerError, match="twice"):
        p.profile_on(subs=["nothing-matches"], outfile=None)
    other = fprofile_jupyter.ThreadProfiler()
    with pytest.raises(ProfilerError, match="already on"):
        other.profile_on(subs=["x"], outfile=None)
    with pytest.raises(ProfilerError, match="already on"):
        with profile(subs=["x"]):
            pass
    assert p.active
    p.profile_off()
    p.profile_off()  # harmless
    assert not p.active and not Recorder.is_profiling()
    # a profile() cannot be entered twice at once either
    prof = profile(subs=["x"])
    with prof:
        with pytest.raises(ProfilerError):
            prof.__enter__()
    assert not Recorder.is_profiling()


def test_deprecated_aliases():
    p = fprofile_jupyter.ThreadProfiler()
    with pytest.warns(DeprecationWarning, match="profile_on"):
        p.profileOn(subs=["x"], outfile=None)
    with pytest.warns(DeprecationWarning, match="profile_off"):
        p.profileOff()
    assert not Recorder.is_profiling()


@pytest.mark.parametrize("exc", [RuntimeError, KeyboardInterrupt])
def test_exception_inside_with_keeps_trace(tmp_path, exc):
    m = load(tmp_path, "boom", """
        def work():
            return 1
    """)
    prof = profile(subs=[str(tmp_path / "boom")])
    with pytest.raises(exc):
        with prof:
            m.work()
            m.work()
            raise exc("stop here")
    assert tree(prof.trace) == [(0, "work"), (0, "work")]
    assert not Recorder.is_profiling()


def test_decorator_forms(tmp_path):
    m = load(tmp_path, "deco", """
        def fact(n):
            return 1 if n <= 1 else n * fact(n - 1)
    """)
    subs = [str(tmp_path / "deco")]

    @profile(subs=subs)
    def run(n):
        return m.fact(n)

    assert run(4) == 24
    assert tree(run.trace) == [(0, "fact"), (1, "fact"), (2, "fact"), (3, "fact")]
    assert run(2) == 2
    assert len(run.trace) == 2


# -- the cap ------------------------------------------------------------------------------------------------

def test_cap_stops_recording_with_one_warning(tmp_path):
    m = load(tmp_path, "cap", """
        def f():
            return 1
        def many(n):
            for _ in range(n):
                f()
    """)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rec = Recorder()
        with profile(subs=[str(tmp_path / "cap")], max_events=100) as prof:
            m.many(5000)
            assert not Recorder.is_profiling() or True
    caps = [w for w in caught if issubclass(w.category, CapReachedWarning)]
    assert len(caps) == 1, [str(w.message) for w in caught]
    assert "100 events" in str(caps[0].message) and "max_events=" in str(caps[0].message)
    assert caps[0].message.kind == "cap_reached" and caps[0].message.stats.cap_reached == 100
    t = prof.trace
    # exactly the events that fit: many's call + 49 calls of f + f's call (its return did not fit)
    assert len(t) == 51
    assert tree(t)[:3] == [(0, "many"), (1, "f"), (1, "f")]
    assert t.metadata["cap_reached"] == "true"
    assert json.loads(t.metadata["subs"]) == [str(tmp_path / "cap")]  # a JSON list of the subs
    ends = [c for c in t.calls() if c.unfinished]
    assert [c.function for c in ends] == ["many", "f"]
    del rec


def test_cap_across_threads(tmp_path):
    m = load(tmp_path, "capt", THREAD_WL)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with profile(subs=[str(tmp_path / "capt")], max_events=5000) as prof:
            ths = [threading.Thread(target=m.work, args=(3000,)) for _ in range(3)]
            for th in ths:
                th.start()
            for th in ths:
                th.join()
    assert len([w for w in caught if issubclass(w.category, CapReachedWarning)]) == 1
    events = int(prof.trace.metadata["events"])
    assert events <= 5000
    # reservations not yet used when the cap hit: a chunk taken near the cap is at most an eighth
    # of what was left, so each of the 3 threads holds less than 5000 / 8 unused
    assert events >= 5000 - 3 * (5000 // 8)
    check_nesting(prof.trace)


# -- builtins and other tools --------------------------------------------------------------------------------

def test_builtins_records_c_calls(tmp_path):
    m = load(tmp_path, "bi", """
        import time
        def work():
            time.sleep(0)
            n = len([1, 2])
            return helper(n)
        def helper(n):
            return abs(-n)
    """)
    with profile(subs=[str(tmp_path / "bi")], builtins=True) as prof:
        m.work()
    got = [(c.depth, c.function, c.file) for c in prof.trace.calls()]
    f = str(tmp_path / "bi" / "wl.py")
    assert got == [(0, "work", f), (1, "sleep", "time"), (1, "len", "<built-in>"), (1, "helper", f),
                   (2, "abs", "<built-in>")]
    assert prof.trace.metadata["builtins"] == "true"
    check_nesting(prof.trace)


def test_builtins_off_by_default(tmp_path):
    m = load(tmp_path, "nobi", """
        import time
        def work():
            time.sleep(0)
            return len([1])
    """)
    with profile(subs=[str(tmp_path / "nobi")]) as prof:
        m.work()
    assert [c.function for c in prof.trace.calls()] == ["work"]


def test_builtins_with_cprofile_running(tmp_path):
    m = load(tmp_path, "cp", "def work():\n    return sum([1, 2])\n")
    cp = cProfile.Profile()
    cp.enable()
    try:
        if PY312:
            # cProfile runs on sys.monitoring here: both record
            with profile(subs=[str(tmp_path / "cp")], builtins=True) as prof:
                m.work()
        else:
            with pytest.raises(ProfilerError, match="another profiler is active"):
                with profile(subs=[str(tmp_path / "cp")], builtins=True):
                    pass
            with profile(subs=[str(tmp_path / "cp")]) as prof:  # the eval-frame hook coexists
                m.work()
    finally:
        cp.disable()
    assert [c.function for c in prof.trace.calls() if c.function == "work"] == ["work"]
    assert not Recorder.is_profiling()
    stats = cp.getstats()
    assert any(getattr(e.code, "co_name", None) == "work" for e in stats), "cProfile kept working"


def test_settrace_debugger_coexists(tmp_path):
    m = load(tmp_path, "dbg", "def work():\n    return 1\n")
    seen: List[str] = []

    def tracer(frame, event, arg):
        if event == "call" and frame.f_code.co_name == "work":
            seen.append("work")
        return None

    sys.settrace(tracer)
    try:
        with profile(subs=[str(tmp_path / "dbg")]) as prof:
            m.work()
    finally:
        sys.settrace(None)
    assert seen == ["work"]
    assert [c.function for c in prof.trace.calls()] == ["work"]


@pytest.mark.skipif(not PY312, reason="sys.monitoring exists on 3.12+ only")
def test_sys_monitoring_tool_coexists(tmp_path):
    m = load(tmp_path, "mon", "def work():\n    return 1\n")
    mon = sys.monitoring
    mon.use_tool_id(4, "another-tool")
    starts: List[str] = []
    try:
        mon.register_callback(4, mon.events.PY_START,
                              lambda code, off: starts.append(code.co_name) if code.co_name == "work" else None)
        mon.set_events(4, mon.events.PY_START)
        with profile(subs=[str(tmp_path / "mon")]) as prof:
            m.work()
        m.work()
        assert "tool id 3" in prof.trace.metadata["mechanism"]
    finally:
        mon.set_events(4, 0)
        mon.register_callback(4, mon.events.PY_START, None)
        mon.free_tool_id(4)
    assert [c.function for c in prof.trace.calls()] == ["work"]
    assert starts == ["work", "work"], "the other tool kept getting its events"


@pytest.mark.skipif(PY312 or not PY311,
                    reason="PEP 523 is used on 3.9-3.11; the other tool's eval function builds on 3.11 only")
def test_eval_frame_chaining(tmp_path):
    """Another PEP 523 function (tests/support/other_evalframe.c, as pydevd or torch.compile
    would install one) keeps working while we record, and is restored at stop."""
    evalhook = _other_evalframe(tmp_path)
    m = load(tmp_path, "chain", "def work():\n    return 1\n")
    evalhook.start(str(tmp_path / "chain"))
    try:
        with profile(subs=[str(tmp_path / "chain")]) as prof:
            m.work()
        m.work()  # after our stop: their hook is back in place
    finally:
        n = evalhook.stop()
    assert [c.function for c in prof.trace.calls()] == ["work"]
    assert n == 4, "both calls recorded by the other eval function"


@pytest.mark.skipif(PY312 or not PY311,
                    reason="PEP 523 is used on 3.9-3.11; the other tool's eval function builds on 3.11 only")
def test_eval_frame_replaced_while_recording_is_not_clobbered(tmp_path):
    evalhook = _other_evalframe(tmp_path)
    m = load(tmp_path, "replaced", "def work():\n    return 1\n")
    prof = profile(subs=[str(tmp_path / "replaced")])
    with pytest.warns(RuntimeWarning, match="replaced fprofile's eval-frame function"):
        with prof:
            m.work()
            evalhook.start(str(tmp_path / "replaced"))  # replaces ours, does not chain
            m.work()
    try:
        m.work()  # still theirs after our stop
    finally:
        n = evalhook.stop()
    assert n == 4, "the other tool's function stayed installed"
    assert [c.function for c in prof.trace.calls()] == ["work"]
    # and a new recording works normally afterwards
    with profile(subs=[str(tmp_path / "replaced")]) as again:
        m.work()
    assert len(again.trace) == 1


def _other_evalframe(tmp_path):
    """Builds tests/support/other_evalframe.c (another tool's PEP 523 function) for this Python."""
    import sysconfig

    src = Path(__file__).resolve().parent / "support" / "other_evalframe.c"
    out = tmp_path / "other"
    out.mkdir()
    target = out / ("other_evalframe" + sysconfig.get_config_var("EXT_SUFFIX"))
    cc = os.environ.get("CC", "cc")
    subprocess.run([cc, "-O1", "-fPIC", "-shared", "-I" + sysconfig.get_paths()["include"], str(src), "-o", str(target)],
                   check=True, capture_output=True)
    sys.path.insert(0, str(out))
    try:
        import other_evalframe  # type: ignore
    finally:
        sys.path.remove(str(out))
    return other_evalframe


# -- default subs ----------------------------------------------------------------------------------------------

def test_default_subs_records_the_script_and_its_neighbours(tmp_path):
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "helper.py").write_text("def helper():\n    return 2\n")
    (proj / "main.py").write_text(textwrap.dedent("""
        import json, fprofile_jupyter
        from helper import helper
        def main():
            json.dumps({"a": 1})
            return helper()
        with fprofile_jupyter.profile() as prof:
            main()
        print(sorted({c.function for c in prof.trace.calls()}))
        print(fprofile_jupyter._recording.default_subs())
    """))
    r = subprocess.run([sys.executable, str(proj / "main.py")], capture_output=True, text=True, cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "['helper', 'main']"
    assert lines[1] == repr([str(proj) + os.sep])


def test_default_subs_outside_a_script(monkeypatch):
    main = sys.modules["__main__"]
    monkeypatch.delattr(main, "__file__", raising=False)
    # other tests of the session (the magic's) may have started an in-process IPython shell
    monkeypatch.delitem(sys.modules, "IPython", raising=False)
    subs = default_subs()
    assert "<stdin>" in subs and os.path.join(os.getcwd(), "") in subs


def test_default_filter_is_one_rule_for_profile_the_magic_and_the_cli(tmp_path):
    """default_filter(main_file): the script's folder with the libraries excluded; a main file that
    is itself a library (`python -m json.tool`) records its own package, libraries not excluded.
    profile(subs=Filter) records exactly that (here: a helper beside a fake script, not the
    standard library's json it calls)."""
    import json.tool
    import sysconfig

    from fprofile_jupyter._recording import Filter, default_filter, split_subs

    script = tmp_path / "prog" / "main.py"
    f = default_filter(str(script))
    assert f.subs == [str(tmp_path / "prog") + os.sep]
    assert os.sep + "site-packages" + os.sep in f.exclude
    assert os.path.join(sysconfig.get_paths()["stdlib"], "") in f.exclude
    lib = default_filter(json.tool.__file__)
    assert lib.subs == [os.path.join(os.path.dirname(json.tool.__file__), "")]
    assert os.path.join(sysconfig.get_paths()["stdlib"], "") not in lib.exclude
    m = load(tmp_path, "prog", "import json\ndef h():\n    return json.dumps([1])\n")
    with profile(subs=f) as prof:
        m.h()
    assert [c.function for c in prof.trace.calls()] == ["h"]
    assert prof.subs == f.subs
    assert isinstance(f, Filter)
    # the one comma-splitting rule of --subs (the CLI and the magic)
    assert split_subs(["a, b", "c,,", " d "]) == ["a", "b", "c", "d"]
    with pytest.raises(ValueError, match="at least one non-empty"):
        split_subs([" , "])


def test_trace_api_basics(tmp_path):
    m = load(tmp_path, "api", "def f():\n    return 1\n")
    with profile(subs=[str(tmp_path / "api")]) as prof:
        assert prof.trace is None
        m.f()
    t = prof.trace
    assert len(t) == 1 and "1 call" in repr(t)
    assert t.metadata["mechanism"].startswith(Recorder.mechanism())
    assert t.duration_ns >= t.calls()[0].end_ns - t.calls()[0].start_ns


@pytest.mark.parametrize("clock", ["default", "monotonic"])
def test_times_are_perf_counter_times(tmp_path, clock):
    """Event times are CLOCK_MONOTONIC ns (time.perf_counter_ns()), whether the hook reads that
    clock directly (FPROFILE_CLOCK=monotonic) or stores TSC ticks converted at the end."""
    wl = tmp_path / "clockwl"
    wl.mkdir()
    (wl / "work.py").write_text("def f(n):\n    s = 0\n    for i in range(n):\n        s += i\n    return s\n")
    script = tmp_path / "clock.py"
    script.write_text(textwrap.dedent(f"""
        import json, sys, time
        sys.path.insert(0, {str(wl)!r})
        import fprofile_jupyter, work
        brackets = []
        with fprofile_jupyter.profile(subs=[{str(wl)!r}]) as prof:
            for k in range(200):
                a = time.perf_counter_ns()
                work.f(200 + 50 * (k % 7))
                b = time.perf_counter_ns()
                brackets.append((a, b))
                if k % 50 == 0:
                    time.sleep(0.06)   # spans several calibration rounds
        t = prof.trace
        calls = [(t.origin_ns + c.start_ns, t.origin_ns + c.end_ns) for c in t.calls()]
        print(json.dumps({{"b": brackets, "c": calls, "clock": t.metadata["clock"]}}))
    """))
    env = dict(os.environ)
    env.pop("FPROFILE_CLOCK", None)
    if clock == "monotonic":
        env["FPROFILE_CLOCK"] = "monotonic"
    r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    import json
    d = json.loads(r.stdout)
    if clock == "monotonic":
        assert d["clock"] == "CLOCK_MONOTONIC"
    assert len(d["c"]) == 200
    slack = 2_000  # ns: the conversion of TSC ticks is exact to well under this
    for (a, b), (s, e) in zip(d["b"], d["c"]):
        assert a - slack <= s <= e <= b + slack, (a, s, e, b)


def test_generator_close(tmp_path):
    """One rule on every version (docs/recording.md): closing a generator is a call when code of the
    generator runs (a `finally`, a `with` exit, a delegating `yield from`), and not a call when the
    GeneratorExit leaves it at once (no handler around its `yield`, or not started). CPython 3.13
    does not even resume such a frame; 3.9-3.12, 3.14 and 3.15 do, and the recorder drops that."""
    m = load(tmp_path, "close", """
        import contextlib
        def with_finally():
            try:
                yield 1
                yield 2
            finally:
                pass
        def plain():
            yield 1
            yield 2
        def deleg():
            yield from plain()
        def in_with():
            with contextlib.nullcontext():
                yield 1
        def run():
            g = with_finally(); next(g); g.close()
            h = plain(); next(h); h.close()
            plain().close()                      # never started
            d = deleg(); next(d); d.close()
            w = in_with(); next(w); w.close()
            k = plain(); next(k); del k          # collected while suspended: closed
            t = plain(); next(t)
            try:
                t.throw(ValueError)              # any other exception is thrown in: a call
            except ValueError:
                pass
    """)
    with profile(subs=[str(tmp_path / "close")]) as prof:
        m.run()
    got = tree(prof.trace)
    assert got == [(0, "run"),
                   (1, "with_finally"), (1, "with_finally"),
                   (1, "plain"),
                   (1, "deleg"), (2, "plain"), (1, "deleg"),
                   (1, "in_with"), (1, "in_with"),
                   (1, "plain"),
                   (1, "plain"), (1, "plain")]
    assert not any(c.unfinished or c.started_before for c in prof.trace.calls())
    check_nesting(prof.trace)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_fork_while_recording(tmp_path):
    """A child forked while recording this process only (processes=False) neither records nor
    blocks; the parent's trace is intact. (With processes=True, the default, the child records into
    fresh buffers of its own: tests/test_recording_processes.py.)"""
    m = load(tmp_path, "fork", "def f(n):\n    return n if n < 1 else f(n - 1)\n")
    with profile(subs=[str(tmp_path / "fork")], processes=False) as prof:
        m.f(2)
        with warnings.catch_warnings():
            # 3.12+ warns that forking a process with threads (our writer) is risky: this is the
            # case under test
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
        if pid == 0:
            code = 0
            try:
                for _ in range(20000):  # enough to need new buffer chunks
                    m.f(3)
                if Recorder.is_profiling():
                    code = 2
                with profile(subs=[str(tmp_path / "fork")]) as child:
                    m.f(1)
                if len(child.trace) != 2:
                    code = 3
            except BaseException as e:
                sys.stderr.write(f"child failed: {e!r}\n")
                code = 4
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        m.f(1)
    assert os.WEXITSTATUS(status) == 0
    assert [c.depth for c in prof.trace.calls()] == [0, 1, 2, 0, 1]


def test_default_subs_in_ipykernel(monkeypatch, tmp_path):
    """In a kernel: the kernel's cell files (ipykernel's <tmp>/ipykernel_<pid>/ prefix) plus the
    notebook's directory."""
    import types

    class Compiler:
        def get_code_name(self, raw_code, transformed_code, number):
            return f"/tmp/ipykernel_{os.getpid()}/123abc.py"

    shell = types.SimpleNamespace(compile=Compiler())
    fake = types.ModuleType("IPython")
    fake.get_ipython = lambda: shell  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "IPython", fake)
    monkeypatch.chdir(tmp_path)
    assert default_subs() == [f"/tmp/ipykernel_{os.getpid()}/", str(tmp_path) + os.sep]

    class TerminalCompiler:
        def get_code_name(self, raw_code, transformed_code, number):
            return "<ipython-input-3-0123456789ab>"

    shell.compile = TerminalCompiler()
    assert default_subs()[0] == "<ipython-input-"


def test_started_and_stopped_in_another_thread(tmp_path):
    m = load(tmp_path, "other", THREAD_WL)
    box = {}

    def body():
        with profile(subs=[str(tmp_path / "other")]) as prof:
            m.work(2)
            m.work(1)
            box["started"] = True
        box["trace"] = prof.trace

    th = threading.Thread(target=body, name="starter")
    th.start()
    th.join()
    t = box["trace"]
    assert [x.name for x in t.threads] == ["starter"]
    assert [f for d, f in tree(t) if d == 0] == ["work", "work"]


def test_memory_per_event_while_recording(tmp_path):
    m = load(tmp_path, "mem", """
        def f():
            return 1
        def many(n):
            for _ in range(n):
                f()
    """)
    rec = Recorder()
    rec.start(RecordOptions(subs=(str(tmp_path / "mem"),), max_events=Recorder.DEFAULT_MAX_EVENTS))
    m.many(500_000)
    raw = rec.stop_raw()
    st = rec.stats
    assert isinstance(st, RecorderStats) and st.warnings == [] and st.outfile_error is None
    assert st.threads >= 1 and st.codes == 2 and st.cap_reached is None
    assert st.events == 2 * 500_001
    assert st.bytes_held / st.events <= 24, st
    assert sum(sum(c) for c in raw.chunk_lengths()) == st.events


def test_profile_show(tmp_path, capsys):
    """``prof.show()`` displays the last trace (text outside a notebook); before any recording it
    says why there is nothing to show."""
    m = load(tmp_path, "shown", "def f():\n    return 1\n")
    prof = profile(subs=[str(tmp_path / "shown")])
    with pytest.raises(ProfilerError, match="nothing recorded yet"):
        prof.show()
    with prof:
        with pytest.raises(ProfilerError, match="still recording"):
            prof.show()
        m.f()
    prof.show()
    out = capsys.readouterr().out
    assert out.strip() == repr(prof.trace) and "1 call" in out
