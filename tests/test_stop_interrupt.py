"""Ctrl-C while a recording stops (issue 19, item 4): every stop holds SIGINT, finishes, keeps the
trace, then raises the ``KeyboardInterrupt``; a second Ctrl-C says it is finishing, once.

Real SIGINTs (``os.kill`` of this process) at several moments of a stop: of a real Dask
``LocalCluster`` on 127.0.0.1 (the cluster of ``test_dask.py``), with exact counts per worker and
for the client; of ``profile()`` with a child process being merged; of ``ThreadProfiler``; of the
``%%fprofile`` magic in an in-process IPython shell. The moments are set by wrapping a step of the
stop to send the signal as it starts (deterministic), and by timers started as the block ends.
"""
from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import textwrap
import threading
import time
from collections import Counter

import pytest

from fprofile_jupyter import ThreadProfiler, _session, profile

HELD = "it will be complete in a moment (Ctrl-C is held until then)"


def sigint_first(func, times: int = 1):
    """``func`` that sends this process SIGINT ``times`` times as it starts (the Python handler
    runs in the main thread at once, inside ``func``'s caller's stop)."""
    def wrapper(*args, **kwargs):
        for _ in range(times):
            os.kill(os.getpid(), signal.SIGINT)
        return func(*args, **kwargs)
    return wrapper


# -- Dask ------------------------------------------------------------------------------------------

distributed = pytest.importorskip("distributed")

from test_dask import calls_by_process, local_client, tasks_dir, tasks_module  # noqa: E402,F401 - fixtures

from fprofile_jupyter import _dask  # noqa: E402

N_TASKS, N_LEAF, N_CLIENT = 8, 300, 5


def _dask_recording(client, mod, folder, before_end=None):
    """A Dask recording whose stop is interrupted; returns (prof, results) after checking that the
    KeyboardInterrupt came out of the block."""
    results = []
    with pytest.raises(KeyboardInterrupt):
        with profile(subs=[str(folder)], dask=client) as prof:
            for i in range(N_CLIENT):  # recorded in the client too
                mod.work(i, 1)
            futures = client.map(mod.work, range(N_TASKS), n=N_LEAF, pure=False)
            results.extend(client.gather(futures))
            if before_end is not None:
                before_end()
        time.sleep(0.5)  # a SIGINT sent later than the stop would land here (still a KeyboardInterrupt)
    return prof, results


def _check_dask_counts(client, prof, results):
    trace = prof.trace
    assert trace is not None, "the trace was lost"
    by_process = calls_by_process(trace)
    ran = Counter(pid for pid, _tid, _s in results)
    assert sum(ran.values()) == N_TASKS
    worker_pids = set(client.run(os.getpid).values())
    for pid in worker_pids:
        want = Counter({"work": ran[pid], "leaf": ran[pid] * N_LEAF}) if ran[pid] else Counter()
        assert by_process.get(pid, Counter()) == want, (pid, by_process)
    assert by_process[os.getpid()] == Counter({"work": N_CLIENT, "leaf": N_CLIENT})


# the steps of the Dask stop, in order: the workers stopped and their traces gathered, the clocks
# sampled, the plugin removed, the client's own recorder stopped (child processes merged), the merge
DASK_MOMENTS = [
    ("gather", _dask.DaskRecording, "_run"),
    ("clocks", _dask.DaskRecording, "_sample_clocks"),
    ("events", None, "get_events"),
    ("client stop", _session.Session, "_stop"),
    ("merge", _dask.DaskRecording, "merge"),
]


@pytest.mark.parametrize("moment,owner,name", DASK_MOMENTS, ids=[m[0] for m in DASK_MOMENTS])
def test_dask_stop_interrupted_keeps_every_call(local_client, tasks_dir, monkeypatch, capfd, moment, owner, name):  # noqa: F811
    mod = tasks_module(tasks_dir)
    client = local_client
    target = client if owner is None else owner

    def at_the_end():  # the moment: the step's first line sends SIGINT twice (a second Ctrl-C too)
        monkeypatch.setattr(target, name, sigint_first(getattr(target, name), times=2))

    prof, results = _dask_recording(client, mod, tasks_dir, before_end=at_the_end)
    _check_dask_counts(client, prof, results)
    err = capfd.readouterr().err
    assert err.count(HELD) == 1, err  # said once, not for the second Ctrl-C
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back


@pytest.mark.parametrize("delay_s", [0.0, 0.01, 0.03, 0.08])
def test_dask_stop_interrupted_by_a_timer(local_client, tasks_dir, delay_s):  # noqa: F811
    """SIGINT from another thread some milliseconds after the block ends, whatever step the stop is
    at then (a signal later than the stop is a KeyboardInterrupt after it: counts exact either way)."""
    mod = tasks_module(tasks_dir)
    timers = []

    def start_timer():
        t = threading.Timer(delay_s, os.kill, (os.getpid(), signal.SIGINT))
        timers.append(t)
        t.start()

    prof, results = _dask_recording(local_client, mod, tasks_dir, before_end=start_timer)
    timers[0].join()
    _check_dask_counts(local_client, prof, results)


# -- profile() with a child process, ThreadProfiler ----------------------------------------------------

CHILD_SOURCE = textwrap.dedent('''
    def leaf(i):
        return i


    def child(n):
        for i in range(n):
            leaf(i)
''')


@pytest.fixture
def child_module(tmp_path, monkeypatch):
    (tmp_path / "fpstop_child.py").write_text(CHILD_SOURCE)
    monkeypatch.syspath_prepend(str(tmp_path))
    import fpstop_child

    yield fpstop_child, str(tmp_path)
    sys.modules.pop("fpstop_child", None)


@pytest.mark.parametrize("moment", ["own stop", "child merge"])
def test_profile_with_a_child_interrupted_while_merging(child_module, monkeypatch, moment):
    from fprofile_jupyter import _processes

    mod, folder = child_module
    if moment == "own stop":
        monkeypatch.setattr(_session.Session, "_stop", sigint_first(_session.Session._stop))
    else:
        monkeypatch.setattr(_processes.SessionDir, "finish", sigint_first(_processes.SessionDir.finish))
    ctx = multiprocessing.get_context("spawn")
    with pytest.raises(KeyboardInterrupt):
        with profile(subs=[folder]) as prof:
            p = ctx.Process(target=mod.child, args=(50,))
            p.start()
            p.join(60)
            mod.child(7)
    trace = prof.trace
    assert trace is not None
    assert p.exitcode == 0
    counts = {}
    for c in trace.calls():
        pid = trace.processes[trace.threads[c.thread].process].pid
        counts.setdefault(pid, Counter())[c.function] += 1
    assert counts == {os.getpid(): Counter({"child": 1, "leaf": 7}), p.pid: Counter({"<module>": 1, "child": 1, "leaf": 50})}  # (the spawn child imports the module)


def test_threadprofiler_off_interrupted_keeps_the_trace(child_module, monkeypatch):
    mod, folder = child_module
    monkeypatch.setattr(_session.Session, "_stop", sigint_first(_session.Session._stop))
    tp = ThreadProfiler()
    tp.profile_on(subs=[folder], outfile=None, processes=False)
    mod.child(9)
    with pytest.raises(KeyboardInterrupt):
        tp.profile_off()
    assert tp.trace is not None and Counter(c.function for c in tp.trace.calls()) == Counter({"child": 1, "leaf": 9})
    assert not tp.active


def test_a_ctrl_c_that_ended_the_block_is_not_raised_twice(child_module, monkeypatch):
    """The block ends with a KeyboardInterrupt, and another Ctrl-C comes during the stop: one
    KeyboardInterrupt leaves the block (the block's own), with the trace kept."""
    mod, folder = child_module
    monkeypatch.setattr(_session.Session, "_stop", sigint_first(_session.Session._stop))
    with pytest.raises(KeyboardInterrupt) as info:
        with profile(subs=[folder], processes=False) as prof:
            mod.child(3)
            raise KeyboardInterrupt("the block's")
    assert str(info.value) == "the block's" and info.value.__context__ is None
    assert len(prof.trace) == 4


def test_a_stop_on_another_thread_does_not_touch_the_handler(child_module, monkeypatch):
    """Only the main thread can install signal handlers: a stop on another thread just runs."""
    mod, folder = child_module
    seen = []
    real_stop = _session.Session._stop

    def stop(self, *args, **kwargs):
        seen.append(signal.getsignal(signal.SIGINT))
        return real_stop(self, *args, **kwargs)

    monkeypatch.setattr(_session.Session, "_stop", stop)
    out = {}

    def body():
        with profile(subs=[folder], processes=False) as prof:
            mod.child(2)
        out["trace"] = prof.trace

    t = threading.Thread(target=body)
    t.start()
    t.join(60)
    assert seen == [signal.default_int_handler]
    assert len(out["trace"]) == 3


def test_an_ignored_sigint_stays_ignored(child_module, monkeypatch):
    """The handler that was there gets the held Ctrl-C: SIG_IGN ignores it, as without the profiler."""
    mod, folder = child_module
    monkeypatch.setattr(_session.Session, "_stop", sigint_first(_session.Session._stop))
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with profile(subs=[folder], processes=False) as prof:
            mod.child(1)
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)
    assert len(prof.trace) == 2


# -- the %%fprofile magic ---------------------------------------------------------------------------

def test_magic_interrupted_while_stopping_keeps_the_trace(child_module, monkeypatch):
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    from fprofile_jupyter import _magic

    mod, folder = child_module
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "fprofile_jupyter")
    shell.user_ns.pop(_magic.TRACE_VARIABLE, None)
    shell.user_ns["fpstop_child"] = mod
    monkeypatch.setattr(_session.Session, "_stop", sigint_first(_session.Session._stop, times=2))
    with capture_output() as cap:
        result = shell.run_cell(f"%%fprofile --subs {folder} --no-display --no-processes\nfpstop_child.child(4)\n")
    assert isinstance(result.error_in_exec, KeyboardInterrupt), (result.error_in_exec, cap.stdout, cap.stderr)
    trace = shell.user_ns[_magic.TRACE_VARIABLE]
    assert Counter(c.function for c in trace.calls()) == Counter({"child": 1, "leaf": 4})


def test_magic_cell_ended_by_ctrl_c_is_not_interrupted_twice(child_module, monkeypatch):
    """The cell ends with a KeyboardInterrupt (its traceback shown), another Ctrl-C comes while the
    magic stops: the cell fails as it would (no second KeyboardInterrupt), the trace is kept."""
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    from fprofile_jupyter import _magic

    mod, folder = child_module
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "fprofile_jupyter")
    shell.user_ns["fpstop_child"] = mod
    monkeypatch.setattr(_session.Session, "_stop", sigint_first(_session.Session._stop))
    with capture_output():
        result = shell.run_cell(f"%%fprofile --subs {folder} --no-display --no-processes\n"
                                "fpstop_child.child(2)\nraise KeyboardInterrupt\n")
    assert isinstance(result.error_in_exec, _magic.ProfiledCellError), result.error_in_exec
    assert len(shell.user_ns[_magic.TRACE_VARIABLE]) == 3
