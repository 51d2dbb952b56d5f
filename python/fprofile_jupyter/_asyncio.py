"""asyncio tasks on the timeline: each step of a task, recorded as a band labelled with the task's name.

What is recorded: every ``asyncio.Task`` created while recording runs its coroutine through a
``_core._TaskSteps`` (native, made when the task is created, never per call; ``rust/python/src/
tasks.rs``): it reads this process's CLOCK_MONOTONIC (the clock of the recorded calls) just before
and just after the task's coroutine runs one step, on the thread that runs it, kept in its own
list. Two readings per step; nothing else is done per call, and nothing at all when no task runs.
At the stop each step becomes a band ``(thread os id, start, end, task name)`` attached to the
trace through ``_core.merge`` (the path of the Dask bands, ``_dask._TaskThreads``): so every
recorded call made inside a step lies inside a band of its task, on its thread. A step inside
another on one thread (an eager task's first step) is cut out of it (``_innermost``): one thread's
bands never overlap.

How tasks are reached (installed at the start of the recording, or when the program imports
asyncio if it has not yet: a recording never imports asyncio itself; taken away at its stop):

- ``asyncio.BaseEventLoop.create_task`` (every loop of the standard library: ``asyncio.run``,
  ``loop.run_until_complete``, ``asyncio.gather``/``ensure_future`` of a coroutine, ``TaskGroup``,
  Jupyter's kernel loop) wraps the coroutine before making the task; a task factory set by the
  program (``eager_task_factory`` included) receives the wrapped coroutine.
- Other loops (uvloop's ``Loop`` is a compiled class that cannot be patched): the loop running in
  the thread that starts the recording, and every loop an ``asyncio.Runner`` makes while recording
  (``asyncio.run(..., loop_factory=...)``, ``uvloop.run``), get a task factory that wraps the
  coroutine, in front of the one they had (given back at the stop).

Not reached: tasks created before the recording started (a Jupyter cell runs inside the kernel's
task, made at its start: the tasks the cell creates are recorded, the cell's own code is not a
task step), ``asyncio.Task(coro)`` called directly, and loops of other threads that were already
running and are not asyncio's own class.

The name of a task is read when ``create_task`` returns it, at its last step (``set_name``
meanwhile; a task factory's task is named after the factory returns) and again at the stop if the
task still lives. Its thread is the one that made it: a loop makes its tasks on its own thread. A
step still running at the stop (the recording stopped from inside a task) ends at the stop.

``FPROFILE_ASYNCIO_TASKS=0`` in the environment (read at each start) turns this off: no hook, no
bands (for a program a wrapped coroutine would trouble; the benchmark's baseline).

Side effects a program may see while recording: ``task.get_coro()`` is the ``_TaskSteps`` (its
attributes, ``cr_frame``, ``__name__``, ``__qualname__``..., are the coroutine's, so a task's repr,
``get_stack`` and ``print_stack`` read the same), and ``inspect.iscoroutine`` of it is False.
"""
from __future__ import annotations

import collections.abc
import functools
import os
import sys
import threading
import time
import weakref
from typing import Any, List, Optional, Tuple

from . import _core

__all__ = ["TaskRecording"]

#: Environment variable: "0" turns the task bands off.
ENV = "FPROFILE_ASYNCIO_TASKS"

_now = time.monotonic_ns
_tid = threading.get_native_id


class _Task:
    """What is kept of one task: its ``_TaskSteps`` (the readings of its steps), its thread, its
    name, when it was made and by which task."""

    __slots__ = ("coro", "thread", "name", "task", "created_ns", "creator", "__weakref__")

    def __init__(self, created_ns: int, creator: Optional["_Task"]):
        self.coro: Any = None  # the _core._TaskSteps
        self.thread = _tid()  # the loop's: a task is made and run on its loop's thread
        self.name = ""
        self.task: Any = None  # weakref to the asyncio.Task
        self.created_ns = created_ns
        self.creator = creator

    def last_step(self) -> None:
        task = self.task() if self.task is not None else None
        if task is not None:
            self.name = task.get_name()


def _ended(rec: "weakref.ref[_Task]") -> None:
    """A task's last step ended (``_TaskSteps`` calls it): its name now (``set_name`` meanwhile)."""
    r = rec()
    if r is not None:
        r.last_step()


collections.abc.Coroutine.register(_core._TaskSteps)


class _State:
    """The installed hooks (one set for every recording running at once) and the tasks they saw."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.users = 0
        self.tasks: List[_Task] = []
        self.by_task: "weakref.WeakKeyDictionary[Any, _Task]" = weakref.WeakKeyDictionary()
        self.saved: List[Tuple[Any, str, Any]] = []  # (owner, attribute, original) to put back
        self.factories: List[Tuple[Any, Any]] = []  # (loop, factory it had)
        self.finder: Optional[_WhenImported] = None  # on sys.meta_path until asyncio is imported

    # -- making tasks --

    def wrap(self, coro: Any) -> Tuple[Any, Optional[_Task]]:
        """``coro`` to run as a task's coroutine (a ``_TaskSteps``) and its record; ``coro`` itself
        and None when it is not a coroutine (the loop then says what is wrong, as without us)."""
        import asyncio

        if self.users == 0 or isinstance(coro, _core._TaskSteps) or not asyncio.iscoroutine(coro):
            return coro, None
        # only tasks whose coroutine is recorded code (the user's, as the filter says): the tasks
        # of libraries (Dask's and the kernel's comms, servers' handlers) stay as they are
        code = getattr(coro, "cr_code", None) or getattr(coro, "gi_code", None)
        if code is None or not _core._records_file(code.co_filename):
            return coro, None
        creator = None
        try:
            current = asyncio.current_task()
        except RuntimeError:  # no running loop in this thread
            current = None
        if current is not None:
            creator = self.by_task.get(current)
        rec = _Task(_now(), creator)
        rec.coro = _core._TaskSteps(coro, functools.partial(_ended, weakref.ref(rec)))
        self.tasks.append(rec)
        return rec.coro, rec

    def made(self, task: Any, rec: Optional[_Task]) -> Any:
        """The task made around ``rec``'s coroutine (None: not ours): remembered."""
        if rec is not None:
            rec.name = task.get_name()  # (given to create_task: set by now, but not through a factory)
            try:
                rec.task = weakref.ref(task)
                self.by_task[task] = rec
            except TypeError:  # a task type without weak references: no creator links to it
                pass
        return task

    def factory_for(self, loop: Any) -> None:
        """Put our task factory in front of ``loop``'s (not an asyncio.BaseEventLoop)."""
        import asyncio

        if isinstance(loop, asyncio.BaseEventLoop) or any(known is loop for known, _ in self.factories):
            return
        try:
            before = loop.get_task_factory()
            state = self

            def factory(loop: Any, coro: Any, **kwargs: Any) -> Any:
                wrapped, rec = state.wrap(coro)
                if before is not None:
                    task = before(loop, wrapped, **kwargs)
                else:
                    task = asyncio.Task(wrapped, loop=loop, **kwargs)
                return state.made(task, rec)

            factory._fprofile_before = before  # type: ignore[attr-defined]
            loop.set_task_factory(factory)
        except Exception:  # not a loop we know how to reach
            return
        self.factories.append((loop, before))

    # -- installing --

    def install(self) -> None:
        """The hooks now if asyncio is imported, else as soon as it is (``_WhenImported``): a
        recording does not import asyncio for a program that does not."""
        if "asyncio" in sys.modules:
            self.install_now()
        else:
            self.finder = _WhenImported()
            sys.meta_path.insert(0, self.finder)

    def imported(self) -> None:
        """asyncio has just been imported (``_WhenImported``): the hooks, if still recording."""
        with self.lock:
            if self.users and not self.saved:
                self.install_now()

    def install_now(self) -> None:
        import asyncio

        self.remove_finder()
        state = self
        base = asyncio.BaseEventLoop
        original_create = base.create_task

        def create_task(self: Any, coro: Any, *args: Any, **kwargs: Any) -> Any:
            wrapped, rec = state.wrap(coro)
            return state.made(original_create(self, wrapped, *args, **kwargs), rec)

        create_task.__doc__ = original_create.__doc__
        create_task.__wrapped__ = original_create  # type: ignore[attr-defined]
        self.saved.append((base, "create_task", base.__dict__["create_task"]))
        base.create_task = create_task  # type: ignore[method-assign]
        runner = getattr(asyncio, "Runner", None)  # 3.11+: asyncio.run, uvloop.run
        if runner is not None and "_lazy_init" in runner.__dict__:
            original_init = runner.__dict__["_lazy_init"]

            def _lazy_init(self: Any) -> Any:
                out = original_init(self)
                loop = getattr(self, "_loop", None)
                if loop is not None and state.users:
                    state.factory_for(loop)
                return out

            self.saved.append((runner, "_lazy_init", original_init))
            runner._lazy_init = _lazy_init  # type: ignore[attr-defined]
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is not None:
            self.factory_for(running)

    def remove_finder(self) -> None:
        finder, self.finder = self.finder, None
        if finder is not None:
            try:
                sys.meta_path.remove(finder)
            except ValueError:
                pass

    def uninstall(self) -> None:
        self.remove_finder()
        for owner, attr, original in reversed(self.saved):
            setattr(owner, attr, original)
        self.saved.clear()
        for loop, before in self.factories:
            try:
                if getattr(loop.get_task_factory(), "_fprofile_before", False) is before:
                    loop.set_task_factory(before)
            except Exception:
                pass
        self.factories.clear()
        for rec in self.tasks:
            rec.coro.stop()
        self.tasks = []
        self.by_task = weakref.WeakKeyDictionary()


class _Loader:
    """asyncio's own loader, telling ``_state`` once the package has been executed."""

    def __init__(self, loader: Any):
        self.loader = loader

    def create_module(self, spec: Any) -> Any:
        return self.loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        self.loader.exec_module(module)
        _state.imported()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.loader, name)


class _WhenImported:
    """First on ``sys.meta_path`` while recording and asyncio is not imported yet: finds asyncio as
    the path finder does, with a loader that installs the hooks right after asyncio is executed.
    Any other name: not ours (None)."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name != "asyncio":
            return None
        import importlib.machinery

        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return None
        spec.loader = _Loader(spec.loader)
        return spec


_state = _State()


class TaskRecording:
    """The task bands of one recording: ``start()`` when the recorder starts, ``bands()`` when it
    has stopped (``(thread os id, start ns, end ns, task name)``, this process's clock)."""

    def __init__(self) -> None:
        self.start_ns = 0
        self.running = False

    def start(self) -> "TaskRecording":
        if os.environ.get(ENV, "").strip() == "0":
            return self
        with _state.lock:
            if _state.users == 0:
                _state.install()
            _state.users += 1
        self.start_ns = _now()
        self.running = True
        return self

    def stop(self) -> List[Tuple[int, int, int, str]]:
        """Stops (the hooks go once no recording needs them); the bands of this recording's time."""
        if not self.running:
            return []
        self.running = False
        end = _now()
        bands = _bands(_state.tasks, self.start_ns, end)
        with _state.lock:
            _state.users -= 1
            if _state.users == 0:
                _state.uninstall()
        return bands


def _bands(tasks: List[_Task], since: int, end: int) -> List[Tuple[int, int, int, str]]:
    out: List[Tuple[int, int, int, str]] = []
    for rec in list(tasks):
        task = rec.task() if rec.task is not None else None
        if task is not None:
            rec.name = task.get_name()
        name, thread = rec.name, rec.thread
        pairs = rec.coro.steps()
        if len(pairs) % 2:  # a step running now (the stop is inside it)
            pairs.append(end)
        for i in range(0, len(pairs) - 1, 2):
            t0, t1 = pairs[i], pairs[i + 1]
            if t1 >= since and t0 <= end:
                out.append((thread, t0, min(t1, end), name))
    return _innermost(out)


def _innermost(bands: List[Tuple[int, int, int, str]]) -> List[Tuple[int, int, int, str]]:
    """``bands`` with, on each thread, a band that holds another (an eager task's first step runs
    inside the step of the task that made it; a step that runs another loop to completion holds
    that loop's steps) cut around it: each instant goes to the innermost step, so a thread's bands
    never overlap and a call is its innermost task's. Ordered by thread, then start."""
    out: List[Tuple[int, int, int, str]] = []
    bands = sorted(bands, key=lambda b: (b[0], b[1], -b[2]))
    stack: List[List[Any]] = []  # [end, label, start of its next piece]
    thread = None

    def close(until: Optional[int]) -> None:
        while stack and (until is None or stack[-1][0] <= until):
            end, label, piece = stack.pop()
            if piece < end:
                out.append((thread, piece, end, label))
            if stack:
                stack[-1][2] = max(stack[-1][2], end)

    for th, t0, t1, label in bands:
        if th != thread:
            close(None)
            thread = th
        close(t0)
        if stack:
            top = stack[-1]
            if top[2] < t0:
                out.append((thread, top[2], t0, top[1]))
            top[2] = max(top[2], t1)
            t1 = min(t1, top[0])
        stack.append([t1, label, t0])
    close(None)
    out.sort(key=lambda b: (b[0], b[1]))
    return out


#: A streamed outfile of more calls than this is not loaded to add the task bands (a warning says so):
#: streaming keeps a long run's stop in bounded memory, the bands are not worth losing that.
FILE_BANDS_MAX_CALLS = 20_000_000


def attach_to_file(trace_file: Any, bands: List[Tuple[int, int, int, str]], save: Any, stacklevel: int) -> Any:
    """A streamed recording's outfile, once rewritten compactly (``TraceFile``): loaded, the bands
    attached, written again (``save``); the ``TraceFile`` returned. Beyond
    ``FILE_BANDS_MAX_CALLS`` calls, the file stays as it is and a warning says so."""
    import warnings

    outline = trace_file.outline
    calls = len(outline) if outline is not None else None
    if calls is None or calls > FILE_BANDS_MAX_CALLS:
        warnings.warn(f"fprofile: the outfile {trace_file.path} holds no asyncio task bands: adding them "
                      f"means loading its {'' if calls is None else f'{calls:,} '}calls, more than "
                      f"{FILE_BANDS_MAX_CALLS:,}", RuntimeWarning, stacklevel=stacklevel + 1)
        return trace_file
    save(attach(trace_file.load(backed=False), bands))
    return trace_file


def attach(trace: Any, bands: List[Tuple[int, int, int, str]]) -> Any:
    """``trace`` with ``bands`` attached to its threads (``_core.merge``, as the Dask bands). A
    trace that recorded nothing (no process yet: a caller that merges more, Dask's client, names
    it) is left as it is: its steps ran no recorded call."""
    if not bands or not trace.processes:
        return trace
    from . import _core

    return _core.merge([{"trace": trace, "bands": bands}])

