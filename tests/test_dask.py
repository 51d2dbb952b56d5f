"""``profile(dask=client)``: the client and every worker of a real Dask cluster on 127.0.0.1, merged.

Two kinds of cluster: a ``distributed.LocalCluster`` (worker processes, 2 workers x 2 threads), and
a scheduler and workers started as ``dask scheduler`` / ``dask worker`` commands, one of them with
its clock shifted by a known amount (``FPROFILE_TEST_CLOCK_SHIFT_NS``) so that the round-trip
estimation of its clock offset runs for real. The tasks are functions of a module file the test
writes (so the subs filter matches it and the workers import it by name). Every cluster is closed
and every process started here is ended, by its own id.
"""
from __future__ import annotations

import importlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import pytest

distributed = pytest.importorskip("distributed")

import fprofile_jupyter  # noqa: E402
from fprofile_jupyter import ProfilerError, profile  # noqa: E402
from fprofile_jupyter._core import Recorder  # noqa: E402

from conftest import free_port  # noqa: E402

MODULE = "fpdask_tasks"
SOURCE = textwrap.dedent('''
    import os
    import threading
    import time


    def leaf(x):
        return x + 1


    def work(i, n):
        """n calls of leaf; says where and when it ran: (pid, OS thread id, this machine's real
        CLOCK_MONOTONIC read while it ran, not shifted)."""
        for j in range(n):
            leaf(j)
        return os.getpid(), threading.get_native_id(), time.monotonic_ns()


    def held(event, secede=False):
        """Runs until the Dask Event `event` is set (after seceding, if asked); then the worker's
        own idea of the task running on this thread (Worker.get_current_task)."""
        import distributed

        if secede:
            distributed.secede()
        distributed.Event(event).wait(60)
        if secede:
            distributed.rejoin()
        return distributed.get_worker().get_current_task()


    def timed(i, secs):
        """A known sleep, bracketed by this machine's real CLOCK_MONOTONIC (not shifted)."""
        t0 = time.monotonic_ns()
        time.sleep(secs)
        t1 = time.monotonic_ns()
        return os.getpid(), threading.get_native_id(), t0, t1
''')
SHIFT_NS = 7_000_000_000  # 7 s: far beyond any round trip


@pytest.fixture(scope="module")
def tasks_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dasktasks")
    (folder / f"{MODULE}.py").write_text(SOURCE)
    sys.path.insert(0, str(folder))
    try:
        yield folder
    finally:
        sys.path.remove(str(folder))
        sys.modules.pop(MODULE, None)


def tasks_module(folder):
    return importlib.import_module(MODULE)


def own_call(trace, thread, reading):
    """The call of `work` on `thread` that ran when the task read the clock (`reading`, absolute)."""
    origin = trace.origin_ns
    (call,) = [c for c in trace.calls(thread) if c.function == "work" and origin + c.start_ns <= reading <= origin + c.end_ns]
    return call


def preimport(client):
    """Import the tasks' module on every worker now, so that its import (its `<module>` call) is
    not part of what a test records."""
    client.run(importlib.import_module, MODULE)


def process_of(trace, thread):
    return trace.processes[thread.process]


def calls_by_process(trace):
    """{pid: Counter(function -> calls)}."""
    out = {}
    for c in trace.calls():
        pid = process_of(trace, trace.threads[c.thread]).pid
        out.setdefault(pid, Counter())[c.function] += 1
    return out


# -- LocalCluster ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def local_client(tasks_dir):
    # spawned worker processes get this process's sys.path (multiprocessing's preparation data)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=2, processes=True, host="127.0.0.1",
                                  dashboard_address=":0", silence_logs=40) as cluster:
        with distributed.Client(cluster) as client:
            client.wait_for_workers(2)
            preimport(client)
            yield client


def test_local_cluster_exact_counts_per_worker_and_function(local_client, tasks_dir):
    mod = tasks_module(tasks_dir)
    client = local_client
    n_tasks, n_leaf = 12, 40
    with profile(subs=[str(tasks_dir)], dask=client) as prof:
        futures = client.map(mod.work, range(n_tasks), n=n_leaf, pure=False)
        results = client.gather(futures)
        keys = [f.key for f in futures]
    trace = prof.trace
    assert trace is not None
    worker_pids = set(client.run(os.getpid).values())
    assert len(worker_pids) == 2 and os.getpid() not in worker_pids

    # exact counts, per worker process and per function
    ran = Counter(pid for pid, _tid, _s in results)
    by_process = calls_by_process(trace)
    for pid in worker_pids:
        assert by_process.get(pid, Counter()) == (Counter({"work": ran[pid], "leaf": ran[pid] * n_leaf}) if ran[pid] else Counter())
    assert sum(ran.values()) == n_tasks
    assert os.getpid() not in by_process  # the client ran none of the tasks' code

    # the processes: the client and both workers, named by Dask name and address
    names = {w["id"]: addr for addr, w in client.scheduler_info()["workers"].items()}
    procs = {p.pid: p for p in trace.processes}
    assert set(procs) == worker_pids | {os.getpid()}
    addr_of_pid = {pid: addr for addr, pid in client.run(os.getpid).items()}
    for pid in worker_pids:
        p = procs[pid]
        addr = addr_of_pid[pid]
        name = next(n for n, a in names.items() if a == addr)
        assert p.name == f"dask worker {name} ({addr})"
        assert p.clock_offset_ns == 0 and p.clock_uncertainty_ns == 0  # same host, same clock: exact
    # task bands: one per task, with its key, on the thread that ran it, in the right process
    bands = trace.bands
    by_label = {b[3]: b for b in bands}
    assert len(bands) == n_tasks and set(by_label) == set(keys)
    for key, (pid, tid, reading) in zip(keys, results):
        b_thread, b_start, b_end, _label = by_label[key]
        thread = trace.threads[b_thread]
        assert thread.os_id == tid and process_of(trace, thread).pid == pid
        # the task's own call lies inside its band, exactly: the worker read one clock for both
        call = own_call(trace, b_thread, reading)
        assert b_start <= call.start_ns and call.end_ns <= b_end, (b_start, call.start_ns, call.end_ns, b_end)
    # nothing left running anywhere
    assert not Recorder.is_profiling()
    assert not any(client.run(lambda: __import__("fprofile_jupyter")._core.Recorder.is_profiling()).values())
    assert all(not [n for n in plugins if n.startswith("fprofile-")]
               for plugins in client.run(lambda dask_worker: list(dask_worker.plugins)).values())


def test_local_cluster_bands_are_the_threads_runs_of_their_tasks(local_client, tasks_dir):
    """Many short tasks in two layers (the second takes the first's results, some from the other
    worker), 2 workers x 2 threads: a band is the time its thread ran the task, read on that
    thread. So no two bands of one thread overlap, and every call a worker thread made lies inside
    one band of that thread, its task's (exact: one clock). The event loop's view (from the task
    entering ``executing`` to its result handled) overlapped: a pool thread that finished a task
    picks up the next before the loop has handled the first one's result."""
    mod = tasks_module(tasks_dir)
    client = local_client
    n_tasks, n_leaf = 160, 3
    with profile(subs=[str(tasks_dir)], dask=client) as prof:
        first = client.map(mod.work, range(n_tasks), n=n_leaf, pure=False)
        second = client.map(mod.work, first, n=n_leaf, pure=False)
        futures = first + second
        results = client.gather(futures)
    trace = prof.trace
    bands = trace.bands
    by_label = {b[3]: b for b in bands}
    assert len(bands) == 2 * n_tasks and set(by_label) == {f.key for f in futures}
    per_thread = {}
    for b_thread, b_start, b_end, label in bands:
        assert b_start <= b_end
        per_thread.setdefault(b_thread, []).append((b_start, b_end, label))
    assert len(per_thread) >= 2
    overlapping = []
    for b_thread, spans in per_thread.items():
        spans.sort()
        overlapping += [(b_thread, a, b) for a, b in zip(spans, spans[1:]) if b[0] < a[1]]
    assert not overlapping, f"{len(overlapping)} bands overlap the next band of their thread, e.g. {overlapping[:3]}"
    # each task's own call inside its band, on the thread that ran it
    for f, (pid, tid, reading) in zip(futures, results):
        b_thread, b_start, b_end, _label = by_label[f.key]
        thread = trace.threads[b_thread]
        assert thread.os_id == tid and process_of(trace, thread).pid == pid
        call = own_call(trace, b_thread, reading)
        assert b_start <= call.start_ns and call.end_ns <= b_end, (b_start, call.start_ns, call.end_ns, b_end)
    # and every call of a worker thread inside a band of that thread (there is no other code of the
    # tasks' module running there)
    for b_thread, spans in per_thread.items():
        calls = [c for c in trace.calls(b_thread) if c.depth == 0]
        assert len(calls) == len(spans)
        for c in calls:
            assert any(s <= c.start_ns and c.end_ns <= e for s, e, _ in spans), c


def test_tasks_running_when_recording_starts(tasks_dir):
    """Tasks already on their threads when recording starts (one of them seceded) get no band, and
    the worker's own table of running tasks stays true: they still find themselves in it
    (get_current_task), and it is empty once they are done."""
    mod = tasks_module(tasks_dir)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=True, host="127.0.0.1",
                                  dashboard_address=":0", silence_logs=40) as cluster, distributed.Client(cluster) as client:
        client.wait_for_workers(1)
        preimport(client)
        names = [f"fprofile-test-{i}-{os.getpid()}" for i in range(3)]
        before = [client.submit(mod.held, names[0], pure=False), client.submit(mod.held, names[1], True, pure=False)]
        deadline = time.monotonic() + 60
        while sum(len(t) for t in client.run(lambda dask_worker: dict(dask_worker.active_threads)).values()) < 2:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        with profile(subs=[str(tasks_dir)], dask=client) as prof:
            during = client.submit(mod.held, names[2], pure=False)
            for name in names:
                distributed.Event(name, client=client).set()
            assert client.gather(before + [during]) == [f.key for f in before + [during]]
        assert [b[3] for b in prof.trace.bands] == [during.key]
        assert list(client.run(lambda dask_worker: dict(dask_worker.active_threads)).values()) == [{}]


def test_worker_joining_while_recording_is_recorded(tasks_dir):
    mod = tasks_module(tasks_dir)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=":0", silence_logs=40) as cluster, distributed.Client(cluster) as client:
        client.wait_for_workers(1)
        preimport(client)
        before = set(client.scheduler_info()["workers"])
        with profile(subs=[str(tasks_dir)], dask=client) as prof:
            cluster.scale(2)
            client.wait_for_workers(2)
            new = [a for a in client.scheduler_info()["workers"] if a not in before]
            assert len(new) == 1
            fut = client.submit(mod.work, 0, 5, workers=new, pure=False)
            pid, tid, _s = fut.result()
        # the cluster object's own view of its workers caught up (closing it before races in distributed)
        while len(cluster.scheduler_info["workers"]) < 2:
            time.sleep(0.05)
    # recorded from its start: its import of the tasks' module (unpickling the task) included
    assert calls_by_process(prof.trace)[pid] == Counter({"<module>": 1, "work": 1, "leaf": 5})
    [proc] = [p for p in prof.trace.processes if p.pid == pid]
    assert proc.name.startswith("dask worker ") and proc.name.endswith(f" ({new[0]})")


def test_workers_in_the_client_process_give_bands_on_its_threads(tasks_dir):
    """LocalCluster(processes=False): the workers are threads of this process, recorded by its own
    recording (one process); their tasks' bands are on those threads."""
    mod = tasks_module(tasks_dir)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=":0",
                                  silence_logs=40) as cluster, distributed.Client(cluster) as client:
        with profile(subs=[str(tasks_dir)], dask=client) as prof:
            futures = client.map(mod.work, range(5), n=4, pure=False)
            results = client.gather(futures)
    trace = prof.trace
    assert [p.pid for p in trace.processes] == [os.getpid()]
    assert Counter(c.function for c in trace.calls()) == Counter({"work": 5, "leaf": 20})
    by_label = {b[3]: b for b in trace.bands}
    assert set(by_label) == {f.key for f in futures}
    for f, (_pid, tid, reading) in zip(futures, results):
        b_thread, b_start, b_end, _label = by_label[f.key]
        assert trace.threads[b_thread].os_id == tid
        call = own_call(trace, b_thread, reading)
        assert b_start <= call.start_ns and call.end_ns <= b_end, (b_start, call.start_ns, call.end_ns, b_end)


def test_workers_that_leave_while_recording(tasks_dir):
    """A retired worker sends its trace from its plugin's teardown: kept, and named; a worker killed
    outright sends nothing: named in a warning (its nanny's replacement joins and is recorded)."""
    mod = tasks_module(tasks_dir)
    with distributed.LocalCluster(n_workers=3, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=":0", silence_logs=40) as cluster, distributed.Client(cluster) as client:
        client.wait_for_workers(3)
        preimport(client)
        addrs = sorted(client.scheduler_info()["workers"])
        names = {a: w["name"] for a, w in client.scheduler_info()["workers"].items()}
        pids = client.run(os.getpid)
        retired, killed, stays = addrs
        with pytest.warns(RuntimeWarning) as caught:
            with profile(subs=[str(tasks_dir)], dask=client) as prof:
                for i, a in enumerate(addrs):
                    assert client.submit(mod.work, i, 10, workers=[a], pure=False).result()[0] == pids[a]
                client.retire_workers([retired])
                os.kill(pids[killed], signal.SIGKILL)
                while killed in client.scheduler_info()["workers"]:
                    time.sleep(0.05)
        messages = [str(w.message) for w in caught]
        assert f"fprofile: dask worker {names[retired]} ({retired}) left the cluster while recording: its trace up to then is kept" in messages
        assert (f"fprofile: dask worker {names[killed]} ({killed}) left the cluster while recording without sending its trace "
                "(killed or crashed?): its calls are not in the trace") in messages
        by_process = calls_by_process(prof.trace)
        assert by_process[pids[retired]] == Counter({"work": 1, "leaf": 10})
        assert by_process[pids[stays]] == Counter({"work": 1, "leaf": 10})
        assert pids[killed] not in by_process


def test_dask_not_a_client():
    with pytest.raises(TypeError, match=r"dask= must be a distributed.Client .*not str"):
        profile(dask="tcp://127.0.0.1:8786")
    assert not Recorder.is_profiling()


def test_an_asynchronous_client_is_refused():
    async def check():
        async with distributed.Client(asynchronous=True, processes=False, n_workers=0, dashboard_address=":0") as client:
            with pytest.raises(TypeError, match=r"dask= needs a synchronous distributed.Client"):
                profile(dask=client)

    import asyncio
    import threading

    # in a thread of its own: an earlier test (Playwright's sync API, IPython) may have left an event
    # loop set on this one, where asyncio.run() refuses to start
    errors = []

    def run():
        try:
            asyncio.run(check())
        except BaseException as e:  # re-raised below, in the test's thread
            errors.append(e)

    t = threading.Thread(target=run)
    t.start()
    t.join(120)
    assert not t.is_alive()
    if errors:
        raise errors[0]
    assert not Recorder.is_profiling()


def test_a_client_whose_cluster_is_gone(tasks_dir):
    cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1",
                                       dashboard_address=":0", silence_logs=40)
    client = distributed.Client(cluster)
    try:
        cluster.close()
        with pytest.raises(ProfilerError, match=r"dask=: "):
            with profile(subs=[str(tasks_dir)], dask=client):
                pass
        assert not Recorder.is_profiling()
    finally:
        client.close()
        cluster.close()


# -- dask scheduler / dask worker commands -------------------------------------------------------

class Processes:
    """Processes started here, each in its own session; ended (by id) at the end."""

    def __init__(self):
        self.procs = []

    def start(self, argv, env):
        p = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        self.procs.append(p)
        return p

    def close(self):
        # the workers before the scheduler (a worker whose scheduler is gone retries before it exits)
        for p in reversed(self.procs):
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
                try:
                    p.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    pass
        for p in self.procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
            if p.stderr is not None:
                p.stderr.close()


DASK = str(Path(sys.executable).with_name("dask"))


def start_cluster(procs, tasks_dir, workers):
    """A scheduler and the given workers ({name: extra env}) on 127.0.0.1; the scheduler address."""
    port = free_port()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tasks_dir)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    procs.start([DASK, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"], env)
    address = f"tcp://127.0.0.1:{port}"
    for name, extra in workers.items():
        procs.start([DASK, "worker", address, "--name", name, "--host", "127.0.0.1", "--nthreads", "2",
                     "--no-dashboard", "--no-nanny"], dict(env, **extra))
    return address


@pytest.fixture(scope="module")
def cli_client(tasks_dir):
    procs = Processes()
    try:
        address = start_cluster(procs, tasks_dir, {"plain": {}, "shifted": {"FPROFILE_TEST_CLOCK_SHIFT_NS": str(SHIFT_NS)}})
        with distributed.Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=120)
            preimport(client)
            yield client
    finally:
        procs.close()


def test_cli_workers_shifted_clock_placed_within_uncertainty(cli_client, tasks_dir):
    mod = tasks_module(tasks_dir)
    client = cli_client
    addr = {w["name"]: a for a, w in client.scheduler_info()["workers"].items()}
    submitted = {}
    with profile(subs=[str(tasks_dir)], dask=client) as prof:
        futures = []
        for i in range(4):
            for name in ("plain", "shifted"):
                t = time.monotonic_ns()
                f = client.submit(mod.timed, i, 0.05, workers=[addr[name]], pure=False)
                submitted[f.key] = (name, t)
                futures.append(f)
        results = {f.key: f.result() for f in futures}
        done = time.monotonic_ns()
        counts = client.submit(mod.work, 0, 30, workers=[addr["shifted"]], pure=False).result()
    trace = prof.trace
    procs = {p.name: p for p in trace.processes}
    shifted = procs[f"dask worker shifted ({addr['shifted']})"]
    plain = procs[f"dask worker plain ({addr['plain']})"]
    # the plain worker shares this machine's clock: exact; the shifted one was estimated
    assert plain.clock_offset_ns == 0 and plain.clock_uncertainty_ns == 0
    u = shifted.clock_uncertainty_ns
    assert u > 0
    assert abs(shifted.clock_offset_ns + SHIFT_NS) <= u
    # exact counts per process
    by_process = calls_by_process(trace)
    assert by_process[shifted.pid] == Counter({"timed": 4, "work": 1, "leaf": 30})
    assert by_process[plain.pid] == Counter({"timed": 4})
    assert counts[0] == shifted.pid
    # every call of `timed` placed where it happened (the task's own reading of the real clock),
    # within the stated uncertainty; band likewise; and inside the client's submit..done window
    slack = 50_000_000  # between the call's entry and its first statement's clock reading (not a timing check)
    origin = trace.origin_ns
    for key, (pid, tid, t0, t1) in results.items():
        name, t_submit = submitted[key]
        p = procs[f"dask worker {name} ({addr[name]})"]
        assert p.pid == pid
        err = p.clock_uncertainty_ns
        [thread] = [t for t in trace.threads if t.os_id == tid and trace.processes[t.process].pid == pid]
        # the call of this task: the last `timed` on its thread that began before the task read the
        # clock (the tasks of one thread follow each other); then it must have begun at most `slack`
        # before that reading
        call = max((c for c in trace.calls(thread.index) if c.function == "timed" and origin + c.start_ns <= t0 + err),
                   key=lambda c: c.start_ns)
        assert t0 - slack - err <= origin + call.start_ns
        assert t1 - err <= origin + call.end_ns <= t1 + slack + err
        assert t_submit - err <= origin + call.start_ns and origin + call.end_ns <= done + err
        [(b_thread, b_start, b_end, _label)] = [b for b in trace.bands if b[3] == key]
        assert b_thread == thread.index
        # the band and the call were read on one clock (the worker's, shifted or not) and moved by one
        # offset: the band holds the call exactly, whatever the offset's uncertainty
        assert b_start <= call.start_ns and call.end_ns <= b_end, (b_start, call.start_ns, call.end_ns, b_end)
    assert not any(n.startswith("warning.clock_unaligned") for n in trace.metadata)


def test_worker_without_fprofile_is_named_and_nothing_starts(tasks_dir, tmp_path):
    # the worker's environment makes `import fprofile_jupyter` fail, as on a worker without the package
    shadow = tmp_path / "shadow" / "fprofile_jupyter"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError(\"No module named 'fprofile_jupyter'\")\n")
    procs = Processes()
    try:
        port_env = {"PYTHONPATH": os.pathsep.join([str(tmp_path / "shadow"), str(tasks_dir)])}
        address = start_cluster(procs, tasks_dir, {"good": {}, "bare": port_env})
        with distributed.Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=120)
            addr = {w["name"]: a for a, w in client.scheduler_info()["workers"].items()}
            prof = profile(subs=[str(tasks_dir)], dask=client)
            with pytest.raises(ProfilerError) as info:
                with prof:
                    pass
            msg = str(info.value)
            assert f"worker bare ({addr['bare']}) cannot import fprofile_jupyter" in msg
            assert f"install fprofile-jupyter=={fprofile_jupyter.__version__}" in msg
            assert "nothing was started" in msg and "good" not in msg
            # nothing started: not here, not on the good worker, no plugin registered
            assert not Recorder.is_profiling()
            state = client.run(lambda dask_worker: (__import__("fprofile_jupyter")._core.Recorder.is_profiling(),
                                                   [n for n in dask_worker.plugins if n.startswith("fprofile-")]),
                               workers=[addr["good"]])
            assert state == {addr["good"]: (False, [])}
            assert prof.trace is None
    finally:
        procs.close()


def test_magic_dask_records_the_current_clients_workers(local_client, tasks_dir):
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "fprofile_jupyter")
    shell.user_ns["mod"] = tasks_module(tasks_dir)
    with local_client.as_current(), capture_output():
        shell.run_cell_magic("fprofile", f"--dask --no-display --subs {tasks_dir}",
                             "from distributed import get_client\n"
                             "res = get_client().gather(get_client().map(mod.work, range(6), n=3, pure=False))\n")
    trace = shell.user_ns["_fprofile_trace"]
    ran = Counter(pid for pid, _tid, _s in shell.user_ns["res"])
    by_process = calls_by_process(trace)
    assert {pid: by_process[pid] for pid in ran} == {pid: Counter({"work": k, "leaf": 3 * k}) for pid, k in ran.items()}
    assert sum(1 for p in trace.processes if p.name.startswith("dask worker ")) == 2
    assert len(trace.bands) == 6


def test_magic_dask_without_a_client_is_a_clear_error(tmp_path):
    # a fresh interpreter: no Dask client anywhere
    script = textwrap.dedent("""
        from IPython.core.interactiveshell import InteractiveShell
        from IPython.core.error import UsageError
        shell = InteractiveShell.instance()
        shell.run_line_magic("load_ext", "fprofile_jupyter")
        try:
            shell.run_cell_magic("fprofile", "--dask", "ran = True\\n")
        except UsageError as e:
            print("UsageError:", e)
        print("ran" in shell.user_ns)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert lines[0].startswith("UsageError: --dask: there is no Dask client here; create one first")
    assert lines[-1] == "False"  # the cell did not run


def test_functions_of_a_cell_run_on_workers_are_named_by_their_cell(local_client):
    """Issue 24 item 3: a function defined in a notebook cell and run on the workers (sent by value:
    cloudpickle names its file ``<dynamic-code>`` there) shows as its cell, ``In [n]``, as in the
    kernel; the default subs record it on the workers."""
    import json

    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "fprofile_jupyter")
    with local_client.as_current(), capture_output():
        shell.run_cell("x = 0\n\n\ndef cell_square(v):\n    return v * v\n", store_history=True)
        n = shell.execution_count - 1
        shell.run_cell("%%fprofile --dask --no-display\nfrom distributed import get_client\n"
                       "res = get_client().gather(get_client().map(cell_square, range(6), pure=False))\n",
                       store_history=True)
    trace = shell.user_ns["_fprofile_trace"]
    labels = dict(json.loads(trace.metadata["paths.cells"]))
    workers = [i for i, p in enumerate(trace.processes) if p.name.startswith("dask worker ")]
    assert len(workers) == 2
    on_workers = [(r.function, r.file, r.line, r.calls) for i in workers for r in trace.summary().per_process[i]
                  if r.function == "cell_square"]
    assert sum(c for _, _, _, c in on_workers) == 6, on_workers
    assert {(labels.get(f), line) for _, f, line, _ in on_workers} == {(f"In [{n}]", 4)}, (on_workers, labels)
    assert not any(r.file == "<dynamic-code>" for i in workers for r in trace.summary().per_process[i]
                   if r.function == "cell_square")
