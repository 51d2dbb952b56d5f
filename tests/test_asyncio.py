"""asyncio task bands (``_asyncio``): every step of a task created while recording is a band named
after the task, on the thread that ran it, and every recorded call made in a step lies in a band of
its task. Exact counts: the program below runs named tasks that each make a known number of calls
per step over a known number of steps (one ``await asyncio.sleep(0)`` between steps), under every
way of running a loop the module reaches (``asyncio.run``, ``run_until_complete``, a recording
started inside the running loop, ``eager_task_factory`` on 3.12+, uvloop when installed). Runs on
every Python of the suites (scripts/test.sh runs it again on 3.13, 3.14 and 3.15).
"""
from __future__ import annotations

import asyncio
import functools
import importlib.util
import inspect
import subprocess
import sys
import textwrap
import threading
from collections import Counter
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

from fprofile_jupyter import profile

#: task name -> (its function, calls per step, steps)
PLAN = {"alpha": ("alpha_call", 3, 4), "beta": ("beta_call", 5, 2), "worker-3": ("gamma_call", 2, 6)}

SOURCE = textwrap.dedent('''
    import asyncio


    def alpha_call():
        return 1


    def beta_call():
        return 2


    def gamma_call():
        return 3


    async def worker(fn, per_step, steps):
        for i in range(steps):
            for _ in range(per_step):
                fn()
            if i < steps - 1:
                await asyncio.sleep(0)  # the task's step ends here


    async def main(plan):
        tasks = [asyncio.create_task(worker(globals()[fn], per, steps), name=name)
                 for name, (fn, per, steps) in plan.items()]
        await asyncio.gather(*tasks)
        return [t.get_name() for t in tasks]
''')


def own_thread(test):
    """Runs the test on a thread of its own: its loops must not meet one running in the main thread
    (Playwright's, once a browser test of the session has started it)."""
    @functools.wraps(test)
    def run(*args, **kwargs):
        failure = []

        def body():
            try:
                test(*args, **kwargs)
            except BaseException as e:  # pytest's skip and fail too: raised again below
                failure.append(e)

        thread = threading.Thread(target=body, name=f"{test.__name__}-thread")
        thread.start()
        thread.join(300)
        assert not thread.is_alive(), f"{test.__name__} did not end within 300 s"
        if failure:
            raise failure[0]

    return run


@pytest.fixture(scope="module")
def prog(tmp_path_factory):
    path = tmp_path_factory.mktemp("asyncprog") / "asyncprog.py"
    path.write_text(SOURCE)
    spec = importlib.util.spec_from_file_location("asyncprog", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.PATH = str(path)
    return mod


def attribute(trace) -> Tuple[Dict[str, Counter], Counter, List[Tuple[int, int, int, str]]]:
    """(task name -> Counter of the functions called in its bands, functions called in no band,
    the bands): each call goes to the band of its thread that holds its start."""
    bands = trace.bands
    by_thread: Dict[int, List[Tuple[int, int, str]]] = {}
    for th, t0, t1, label in bands:
        by_thread.setdefault(th, []).append((t0, t1, label))
    per_task: Dict[str, Counter] = {}
    outside: Counter = Counter()
    for call in trace.calls():
        hits = [label for t0, t1, label in by_thread.get(call.thread, ()) if t0 <= call.start_ns <= t1]
        assert len(hits) <= 1, f"{call.function} at {call.start_ns} lies in {len(hits)} bands (bands overlap)"
        if hits:
            per_task.setdefault(hits[0], Counter())[call.function] += 1
        else:
            outside[call.function] += 1
    return per_task, outside, bands


def check_exact(trace) -> None:
    per_task, outside, bands = attribute(trace)
    labels = Counter(label for *_, label in bands)
    for name, (fn, per_step, steps) in PLAN.items():
        assert labels[name] == steps, f"{name}: {labels[name]} bands, expected {steps} steps"
        assert per_task[name][fn] == per_step * steps, (name, per_task[name])
        # only its own function and its coroutine's resumptions run in its steps
        assert set(per_task[name]) <= {fn, "worker"}, (name, per_task[name])
        assert per_task[name]["worker"] == steps  # today each resumption is its own call
    for fn, _, _ in PLAN.values():
        assert outside[fn] == 0, f"{fn} called outside every band: {outside}"
    # the plan's bands on the one thread of the loop; no two bands of a thread overlap (other
    # threads may run loops of their own: a kernel's)
    assert len({th for th, *_, label in bands if label in PLAN}) == 1
    for thread in {b[0] for b in bands}:
        ordered = sorted(b for b in bands if b[0] == thread)
        assert all(a[2] <= b[1] for a, b in zip(ordered, ordered[1:])), ordered


def record(prog, run) -> object:
    with profile(subs=[prog.PATH]) as p:
        names = run()
    assert names == list(PLAN)
    return p.trace


@own_thread
def test_asyncio_run(prog):
    check_exact(record(prog, lambda: asyncio.run(prog.main(PLAN))))


@own_thread
def test_run_until_complete(prog):
    loop = asyncio.new_event_loop()
    try:
        check_exact(record(prog, lambda: loop.run_until_complete(prog.main(PLAN))))
    finally:
        loop.close()


@own_thread
def test_started_inside_the_running_loop(prog):
    """As a Jupyter cell does: the recording starts and stops inside a task made before it (no
    band for that one), the tasks it creates have theirs."""
    async def cell():
        with profile(subs=[prog.PATH]) as p:
            names = await prog.main(PLAN)
        return p.trace, names

    trace, names = asyncio.run(cell())
    assert names == list(PLAN)
    check_exact(trace)


@pytest.mark.skipif(sys.version_info < (3, 12), reason="asyncio.eager_task_factory is new in 3.12")
@own_thread
def test_eager_task_factory(prog):
    """The first step runs inside create_task (eagerly): it is a band too."""
    def run():
        loop = asyncio.new_event_loop()
        loop.set_task_factory(asyncio.eager_task_factory)
        try:
            return loop.run_until_complete(prog.main(PLAN))
        finally:
            loop.close()

    check_exact(record(prog, run))


@own_thread
def test_uvloop(prog):
    uvloop = pytest.importorskip("uvloop")  # in the test extra; not on the Debian Pythons' suites
    if sys.version_info >= (3, 11):
        check_exact(record(prog, lambda: uvloop.run(prog.main(PLAN))))
    # a uvloop loop running when the recording starts: its task factory
    async def cell():
        with profile(subs=[prog.PATH]) as p:
            names = await prog.main(PLAN)
        return p.trace, names

    loop = uvloop.new_event_loop()
    try:
        trace, names = loop.run_until_complete(cell())
    finally:
        loop.close()
    assert names == list(PLAN)
    check_exact(trace)
    assert loop.get_task_factory() is None  # given back


@own_thread
def test_tasks_look_the_same_and_nothing_stays(prog):
    seen = {}

    async def probe():
        task = asyncio.current_task()
        coro = task.get_coro()
        prog.alpha_call()
        seen["name"] = coro.__name__
        seen["qualname"] = coro.__qualname__
        seen["frame"] = coro.cr_frame is not None
        seen["stack"] = task.get_stack()[-1] is coro.cr_frame
        seen["repr"] = "probe" in repr(task)
        await asyncio.sleep(0)
        return 7

    async def main():
        return await asyncio.create_task(probe(), name="probe")

    before = asyncio.BaseEventLoop.create_task
    with profile(subs=[prog.PATH]) as not_ours:  # probe's code (this file) is not recorded: no task bands
        assert asyncio.run(main()) == 7
    assert not_ours.trace.bands == [] and len(not_ours.trace) == 1  # its alpha_call is recorded
    with profile(subs=[prog.PATH, __file__]) as p:
        assert asyncio.run(main()) == 7
    assert seen == {"name": "probe", "qualname": "test_tasks_look_the_same_and_nothing_stays.<locals>.probe",
                    "frame": True, "stack": True, "repr": True}
    assert asyncio.BaseEventLoop.create_task is before
    assert [b[3] for b in p.trace.bands].count("probe") == 2

    async def after():
        return inspect.iscoroutine(asyncio.current_task().get_coro())

    assert asyncio.run(after()) is True  # a task made after the stop runs its own coroutine


@own_thread
def test_exceptions_and_cancellation_keep_their_bands(prog):
    async def fails():
        prog.alpha_call()
        await asyncio.sleep(0)
        prog.alpha_call()
        raise ValueError("boom")

    async def cancelled():
        prog.beta_call()
        await asyncio.sleep(3600)

    async def main():
        a = asyncio.create_task(fails(), name="fails")
        b = asyncio.create_task(cancelled(), name="cancelled")
        await asyncio.sleep(0)
        b.cancel()
        res = await asyncio.gather(a, b, return_exceptions=True)
        return [type(r).__name__ for r in res]

    with profile(subs=[prog.PATH, __file__]) as p:  # (the tasks' coroutines are this file's)
        assert asyncio.run(main()) == ["ValueError", "CancelledError"]
    per_task, outside, bands = attribute(p.trace)
    labels = Counter(b[3] for b in bands)
    assert labels["fails"] == 2 and labels["cancelled"] == 2  # the cancelled one: its throw() is a step
    assert per_task["fails"]["alpha_call"] == 2 and per_task["cancelled"]["beta_call"] == 1
    assert outside["alpha_call"] == outside["beta_call"] == 0


@own_thread
def test_export_round_trip(prog, tmp_path):
    trace = record(prog, lambda: asyncio.run(prog.main(PLAN)))
    out = tmp_path / "t.fpt"
    trace.save(str(out))
    from fprofile_jupyter import load

    again = load(str(out))
    assert sorted(again.bands) == sorted(trace.bands)
    check_exact(again)


@own_thread
def test_no_loop_no_bands(prog):
    with profile(subs=[prog.PATH]) as p:
        prog.alpha_call()
    assert p.trace.bands == []
    assert Path(prog.PATH).exists()


@own_thread
def test_stopped_inside_a_task_step(prog):
    """The step running at the stop ends at the stop: the calls made in it before are its task's."""
    prof = profile(subs=[prog.PATH, __file__])  # (the task's coroutine is this file's)
    prof.start()

    async def job():
        prog.alpha_call()
        await asyncio.sleep(0)
        prog.alpha_call()
        prof.stop()

    asyncio.run(job())  # its main task is made while recording
    per_task, outside, bands = attribute(prof.trace)
    assert outside["alpha_call"] == 0
    assert [c["alpha_call"] for c in per_task.values()] == [2]
    assert len(bands) == 2


@own_thread
def test_summary_per_task(prog):
    """``trace.summary(task=name)``: the functions called in that task's steps, exactly; a name no
    band has is refused with the names there are."""
    trace = record(prog, lambda: asyncio.run(prog.main(PLAN)))
    for name, (fn, per_step, steps) in PLAN.items():
        rows = {r.function: r for r in trace.summary(task=name)}
        assert set(rows) == {fn, "worker"}, (name, rows)
        assert rows[fn].calls == per_step * steps
        assert rows["worker"].calls == steps
        # the worker's calls of fn are its children: not its self time
        assert rows["worker"].self_ns <= rows["worker"].total_ns - rows[fn].total_ns
    whole = {r.function: r.calls for r in trace.summary()}
    assert whole["alpha_call"] == 12 and whole["main"] >= 1
    with pytest.raises(ValueError, match=r'no task of that name; the tasks are "Task-\d+", "alpha", "beta", "worker-3"$'):
        trace.summary(task="nope")
    with profile(subs=[prog.PATH]) as p:
        prog.alpha_call()
    with pytest.raises(ValueError, match="this trace has no tasks"):
        p.trace.summary(task="alpha")


@own_thread
def test_renamed_while_running_and_nothing_kept_after_the_stop(prog):
    """A task renamed after its first step has its last name on every band; a task that outlives
    the recording keeps no step once it stopped (its coroutine still runs as before)."""
    from fprofile_jupyter import _asyncio

    async def renamed():
        prog.alpha_call()
        await asyncio.sleep(0)
        asyncio.current_task().set_name("renamed")
        prog.alpha_call()

    async def outlives(go_on):
        prog.beta_call()
        await go_on.wait()
        prog.beta_call()
        return "done"

    async def main():
        go_on = asyncio.Event()
        prof = profile(subs=[prog.PATH, __file__])  # (the tasks' coroutines are this file's)
        with prof:
            await asyncio.create_task(renamed(), name="first-name")
            long = asyncio.create_task(outlives(go_on), name="outlives")
            await asyncio.sleep(0)
        go_on.set()
        assert await long == "done"
        return prof.trace, long

    trace, long = asyncio.run(main())
    labels = Counter(b[3] for b in trace.bands)
    assert labels["renamed"] == 2 and "first-name" not in labels
    assert labels["outlives"] == 1
    assert long.get_coro().timing is False  # its second step (after the stop) was not timed
    assert _asyncio._state.tasks == [] and _asyncio._state.users == 0


@own_thread
def test_a_step_inside_another_is_cut_out_of_it():
    """An eager task's first step runs inside the step of the task that made it: each instant
    goes to the innermost step (what the eager test above records, on every Python here)."""
    from fprofile_jupyter._asyncio import _innermost

    bands = [(0, 0, 100, "main"), (0, 10, 20, "kid"), (0, 30, 40, "kid2"), (0, 35, 38, "grandkid"),
             (0, 120, 130, "later"), (1, 0, 5, "other thread"), (1, 5, 9, "touching")]
    assert _innermost(bands) == [
        (0, 0, 10, "main"), (0, 10, 20, "kid"), (0, 20, 30, "main"), (0, 30, 35, "kid2"), (0, 35, 38, "grandkid"),
        (0, 38, 40, "kid2"), (0, 40, 100, "main"), (0, 120, 130, "later"), (1, 0, 5, "other thread"),
        (1, 5, 9, "touching")]


@own_thread
def test_asyncio_imported_while_recording_and_not_by_it(tmp_path):
    """A recording does not import asyncio; a program that imports it while recording has its
    tasks' bands from then on; nothing is left on sys.meta_path (a fresh process)."""
    script = tmp_path / "late_import.py"
    script.write_text(textwrap.dedent('''
        import sys
        from fprofile_jupyter import profile


        def leaf():
            return 1


        meta = list(sys.meta_path)
        with profile(subs=[__file__], processes=False):
            leaf()
        assert "asyncio" not in sys.modules, "the recording imported asyncio"
        assert sys.meta_path == meta
        with profile(subs=[__file__], processes=False) as p:
            import asyncio

            async def late():
                leaf()
                await asyncio.sleep(0)
                leaf()

            async def main():
                await asyncio.create_task(late(), name="late")

            asyncio.run(main())
        assert sys.meta_path == meta
        print(sorted(b[3] for b in p.trace.bands if b[3] == "late"))
    '''))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "['late', 'late']"


@own_thread
def test_streamed_outfile_and_the_command_line(prog, tmp_path):
    """A streamed ``.fpt`` outfile (``profile(outfile=...)``, ``fprofile run -o x.fpt``) holds the
    task bands once the recording stopped."""
    from fprofile_jupyter import load

    out = tmp_path / "streamed.fpt"
    with profile(subs=[prog.PATH], outfile=str(out)):
        asyncio.run(prog.main(PLAN))
    check_exact(load(str(out)))
    script = tmp_path / "cli_prog.py"
    script.write_text(f"import asyncio, sys\nsys.path.insert(0, {str(Path(prog.PATH).parent)!r})\n"
                      f"import asyncprog\nasyncio.run(asyncprog.main({PLAN!r}))\n")
    cli_out = tmp_path / "cli.fpt"
    run = subprocess.run([sys.executable, "-m", "fprofile_jupyter", "run", "--subs", "asyncprog.py", "-o", str(cli_out),
                          str(script)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    check_exact(load(str(cli_out)))
