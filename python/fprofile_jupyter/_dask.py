"""Recording the workers of a Dask cluster: ``profile(dask=client)`` and ``%%fprofile --dask``.

Over 500 lines: one protocol (check, start, task bands, stop, clocks, merge) sharing the plugin's state.

How it travels (all over Dask's own comms, no shared filesystem):

- **Check first** (``Client.run`` of a probe pickled by value, so that it runs on a worker without
  this package): every worker must import ``fprofile_jupyter`` of the client's version; one that
  cannot is named in a ``ProfilerError`` saying what to install, and nothing is started anywhere.
- **Start**: a ``WorkerPlugin`` registered with the client. Its ``setup`` starts the package's
  recorder in the worker process with the client's resolved subs and options. A plugin rather than
  ``Client.run``: the scheduler also installs it on workers that join while recording, so they are
  recorded from then on, and its ``teardown`` runs when a worker retires or closes while recording,
  which sends what that worker recorded (see below).
- **Task bands**: read on the thread that ran the task, by that thread. The plugin replaces the
  worker's ``active_threads`` table (thread -> running task) with a dict that reads this process's
  CLOCK_MONOTONIC (the clock of the recorded calls) when Dask's pool thread sets its entry, just
  before it runs the task, and again when it deletes it, just after (``_TaskThreads``): two
  readings per task, no clock conversion, the thread's own id. So one thread's bands never overlap
  and a band holds every call of its task (a seceded task keeps its thread and its band to its end;
  a task cancelled while running still ran: it has its band). Not the event loop's view: a task
  enters ``executing`` before a pool thread picks it up and leaves it only when the loop has
  handled its result, by which time the thread may be running the next task (timed that way, most
  of the bands of a bag groupby-apply overlapped another of their thread:
  ``scripts/dask_band_overlaps.py``); nor Dask's ``startstops``, which pass through the worker's
  ``scheduler_delay`` estimate. A task that began
  before this worker recorded, or that runs on the event loop (a coroutine), gets no band.
- **Stop**: ``Client.run`` of a function that stops each worker's recorder and returns its trace as
  ``.fpt`` bytes, its bands, its name and warnings; the plugin is then unregistered. A worker that
  closed while recording sent the same through ``Worker.log_event`` from its plugin's ``teardown``;
  the client reads those events from the scheduler. A worker killed outright (SIGKILL, a crash)
  sends nothing: it is named in a warning.
- **Clocks**: a worker on the client's host with the client's boot id shares its CLOCK_MONOTONIC:
  offset 0, exact. Any other worker's offset is estimated from round trips (``Client.run`` of a
  clock reading between two client readings, several samples at start and at stop, the smallest
  round trip wins): offset = client mid-point - worker reading, uncertainty = half that round trip.
  A worker whose offset could not be measured is kept on its own clock (``aligned=False``) and
  named in a warning.
- **Merge**: ``_core.merge`` puts the client's trace and every worker's on one timeline. The
  functions of the notebook's cells (or of the client's script) that Dask sent by value are named
  ``<dynamic-code>`` on the workers (cloudpickle drops their file name): the client's table of
  them (``client_functions``: name and first line -> cell file) gives them their cell back, so they
  show as ``In [n]`` as in the kernel.

Test-only: ``FPROFILE_TEST_CLOCK_SHIFT_NS`` in a worker's environment shifts every clock reading
that worker reports (its trace, its bands and its probe replies) by that many nanoseconds and makes
it count as a different clock, so that the estimation above runs for real on one machine.
"""
from __future__ import annotations

import ast
import dataclasses
import linecache
import os
import socket
import sys
import threading
import time
import types
import uuid
import warnings
from typing import Any, Dict, List, Optional, Tuple

from ._core import ProfilerError, Trace
from ._options import RecordOptions

#: Environment variable (of a worker process) shifting its clock, for tests.
SHIFT_ENV = "FPROFILE_TEST_CLOCK_SHIFT_NS"
#: The file name cloudpickle (3.1 and later) gives to functions it sends by value (those defined in
#: a notebook or in the client's ``__main__``): the workers record it when the subs are the defaults.
DYNAMIC_CODE = "<dynamic-code>"
#: Round-trip samples per worker taken at start and again at stop.
CLOCK_SAMPLES = 8
_EVENT_TOPIC_PREFIX = "fprofile-"
_INSTALL = "pip install 'fprofile-jupyter[dask]'"


# -- what both sides use --------------------------------------------------------------------------

def _shift_ns() -> int:
    raw = os.environ.get(SHIFT_ENV, "").strip()
    if not raw:
        return 0
    try:
        return int(raw)
    except ValueError:
        return 0


def _boot_id() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as f:
            return f.read().strip()
    except OSError:
        return ""


def clock_identity() -> Tuple[str, str]:
    """(host, clock id) of this process: two processes with the same pair share CLOCK_MONOTONIC.
    The clock id is the kernel's boot id (plus a mark when a test shift is set, which makes it
    another clock)."""
    shift = _shift_ns()
    boot = _boot_id()
    clock = f"{boot}+shift:{shift}:{os.getpid()}" if shift else boot
    return socket.gethostname(), clock


def now_ns() -> int:
    """This process's CLOCK_MONOTONIC in ns (the clock of the recorder), test shift included."""
    return time.monotonic_ns() + _shift_ns()


def _key_text(key: Any) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, bytes):
        return key.decode("utf-8", "replace")
    if isinstance(key, tuple):
        return "(" + ", ".join(_key_text(k) if isinstance(k, (str, bytes, tuple)) else repr(k) for k in key) + ")"
    return repr(key)


# -- the probe (pickled by value: runs on a worker that does not have this package) --------------

def _make_probe() -> Any:
    def fprofile_probe(dask_worker: Any = None) -> Dict[str, Any]:
        import importlib
        import os as _os
        import sys as _sys

        out: Dict[str, Any] = {"pid": _os.getpid(), "python": _sys.executable}
        if dask_worker is not None:
            out["name"] = str(dask_worker.name)
        try:
            mod = importlib.import_module("fprofile_jupyter")
            out["version"] = str(mod.__version__)
            dask_mod = importlib.import_module("fprofile_jupyter._dask")
            out["host"], out["clock"] = dask_mod.clock_identity()
        except BaseException as e:  # ImportError, or whatever a broken install raises
            out["error"] = f"{type(e).__name__}: {e}"
        return out

    return fprofile_probe


# -- the worker side ------------------------------------------------------------------------------

def _worker_label(worker: Any) -> str:
    return f"dask worker {worker.name} ({worker.address})"


class _TaskThreads(dict):
    """``Worker.active_threads`` (thread ident -> key of the task it runs), replaced by one that also
    times the tasks: Dask's pool thread sets its entry just before it runs a task and deletes it just
    after (``_run_task`` / ``apply_function``, under ``Worker.active_threads_lock``), so this reads
    this process's clock there, on that thread: a task's band, on the thread that ran it. Installed
    once per worker and left in place (inert between recordings): ``bands`` is the recording's list,
    or None.

    Tasks handed to their threads before it was installed still set and delete their entries in the
    dict it replaced (``prev``): ``sync`` mirrors those here (``inherited``) so that the worker's own
    readers (its profiler, ``get_current_task``) keep seeing them; they get no band."""

    def __init__(self, prev: Dict[int, Any]):
        self.prev = prev
        self.inherited = set(prev)
        self.started: Dict[int, Tuple[List[Any], int]] = {}
        self.bands: Optional[List[Any]] = None
        self.shift = 0
        super().__init__(prev)

    @classmethod
    def install(cls, worker: Any, bands: List[Any]) -> Optional["_TaskThreads"]:
        """This worker's table, made ours if it is not yet, now filling ``bands``; None when this
        version of distributed has no such table (then no bands)."""
        lock = getattr(worker, "active_threads_lock", None)
        table = getattr(worker, "active_threads", None)
        if lock is None or not isinstance(table, dict):
            return None
        with lock:
            table = worker.active_threads
            if not isinstance(table, cls):
                table = cls(table)
                worker.active_threads = table
            table.shift = _shift_ns()
            table.bands = bands  # a task running already has no start reading: no band
            return table

    def stop(self, bands: List[Any]) -> None:
        """No more bands into ``bands`` (under the worker's lock)."""
        if self.bands is bands:
            self.bands = None
        self.sync()

    def sync(self) -> None:
        """Mirror the entries of the replaced dict (under the worker's lock)."""
        prev, inherited = self.prev, self.inherited
        for ident in [i for i in inherited if i not in prev]:
            inherited.discard(ident)
            dict.pop(self, ident, None)
        for ident, key in prev.items():
            if not dict.__contains__(self, ident):
                dict.__setitem__(self, ident, key)
                inherited.add(ident)

    def __setitem__(self, ident: int, key: Any) -> None:  # on the pool thread, as its task starts
        if self.prev or self.inherited:
            self.sync()
            self.inherited.discard(ident)
        dict.__setitem__(self, ident, key)
        bands = self.bands
        if bands is not None:
            self.started[ident] = (bands, time.monotonic_ns())

    def __delitem__(self, ident: int) -> None:  # on the pool thread, as its task ends
        t1 = time.monotonic_ns()
        key = dict.pop(self, ident)
        began = self.started.pop(ident, None)
        if began is not None and began[0] is self.bands:
            shift = self.shift
            began[0].append((threading.get_native_id(), began[1] + shift, t1 + shift, key))
        if self.prev or self.inherited:
            self.sync()


try:  # the plugin base class, when distributed is there (the worker always has it)
    from distributed.diagnostics.plugin import WorkerPlugin as _PluginBase
except ImportError:  # pragma: no cover - without distributed, profile(dask=...) is refused earlier
    _PluginBase = object  # type: ignore[misc,assignment]


class FprofileWorkerPlugin(_PluginBase):  # type: ignore[misc,valid-type]
    """Records the worker process it is installed on (see the module docs). Made by the client."""

    idempotent = False

    def __init__(self, name: str, options: RecordOptions, client_pid: int, client_clock: Tuple[str, str]):
        self.name = name
        #: What each worker records: the client's options, for this process alone (no outfile).
        self.options = options
        self.client_pid = int(client_pid)
        self.client_clock = tuple(client_clock)
        self._state: Dict[str, Any] = {}

    # the pickled plugin carries its settings only
    def __getstate__(self) -> Dict[str, Any]:
        d = dict(self.__dict__)
        d["_state"] = {}
        return d

    def setup(self, worker: Any) -> None:
        from ._session import Session

        st: Dict[str, Any] = {"worker": worker, "bands": [], "threads": None, "lock": threading.Lock(),
                              "session": None, "done": False, "error": None}
        self._state = st
        # A worker in the client's own process is recorded by the client's recording; so is one that
        # the client's recording follows already (a child process started while recording, on this
        # host): the client's trace will hold its calls, this plugin adds its task bands.
        from ._core import Recorder

        same_clock = clock_identity() == self.client_clock
        in_client = same_clock and (os.getpid() == self.client_pid or Recorder.is_profiling())
        st["in_client"] = in_client
        if not in_client:
            try:
                session = Session(self.options)
                session.warn_subs = False  # the client says which entries matched nothing, over all processes
                session.start()
                st["session"] = session
            except Exception as e:
                st["error"] = f"{type(e).__name__}: {e}"
        st["threads"] = _TaskThreads.install(worker, st["bands"])
        try:
            worker.log_event(self.name, {"kind": "started", "address": worker.address, "name": str(worker.name),
                                         "error": st["error"]})
        except Exception:
            pass

    def transition(self, key: Any, start: str, finish: str, *args: Any, **kwargs: Any) -> None:
        """Keeps the worker's table of running tasks true while tasks handed to their threads before
        this worker recorded finish (see ``_TaskThreads.sync``); nothing to do once they have."""
        st = self._state
        threads = st.get("threads") if st else None
        if threads is not None and (threads.prev or threads.inherited):
            with st["worker"].active_threads_lock:
                threads.sync()

    def collect(self) -> Dict[str, Any]:
        """Stop recording here and return what is sent to the client (once; later calls say so)."""
        st = self._state
        if not st:
            return {"kind": "none"}
        worker = st["worker"]
        with st["lock"]:
            if st["done"]:
                return {"kind": "collected", "address": worker.address, "name": str(worker.name)}
            st["done"] = True
            threads = st["threads"]
            if threads is not None:
                with worker.active_threads_lock:  # the pool threads append under it
                    threads.stop(st["bands"])
                    raw = list(st["bands"])
            else:
                raw = []
        bands = [(native, t0, t1, _key_text(key)) for native, t0, t1, key in raw]
        out: Dict[str, Any] = {"kind": "trace", "address": worker.address, "name": str(worker.name),
                               "label": _worker_label(worker), "in_client": st["in_client"], "bands": bands,
                               "warnings": [], "error": st["error"], "host": socket.gethostname(),
                               "pid": os.getpid(), "parent_pid": os.getppid(),
                               "clock": list(clock_identity()), "trace": None}
        session = st["session"]
        if session is not None:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    trace = session.stop(stacklevel=1)
                except Exception as e:  # an outfile is never set here; anything else is said
                    trace = getattr(e, "trace", None)
                    out["warnings"].append(f"{type(e).__name__}: {e}")
            out["warnings"].extend(str(w.message) for w in caught)
            if trace is not None:
                shift = _shift_ns()
                if shift:
                    trace = _shifted(trace, shift)
                out["trace"] = trace.to_bytes(level=1)  # a local link: 6x faster to write than the default
        return out

    def teardown(self, worker: Any) -> None:
        st = self._state
        if not st or st["done"]:
            return
        try:
            payload = self.collect()
            payload["kind"] = "final"
            worker.log_event(self.name, payload)
        except Exception:
            pass


def _shifted(trace: Trace, shift: int) -> Trace:
    """The same trace with every time moved by ``shift`` ns on the absolute clock (test shift)."""
    from . import _core

    return _core.merge([{"trace": trace, "process": {"clock_offset_ns": shift, "aligned": True}}])


def _collect_on_worker(name: str, dask_worker: Any = None) -> Dict[str, Any]:
    plugin = dask_worker.plugins.get(name) if dask_worker is not None else None
    if plugin is None:
        return {"kind": "none"}
    return plugin.collect()


def _status_on_worker(name: str, dask_worker: Any = None) -> Optional[str]:
    plugin = dask_worker.plugins.get(name) if dask_worker is not None else None
    if plugin is None:
        return "the recording plugin is not installed on this worker"
    return plugin._state.get("error") if plugin._state else "the recording plugin was not set up"


def _clock_reading() -> int:
    return now_ns()


# -- the client side ------------------------------------------------------------------------------

def client_functions() -> List[Tuple[str, str, int, str]]:
    """The functions of the notebook's cells (and of the client's ``__main__`` script), as a worker
    records them when Dask sent them by value (cloudpickle names their file ``<dynamic-code>``):
    ``(DYNAMIC_CODE, name, first_line, file)``, for ``merge``'s "code_files", so that they show as
    their cell (``In [n]``, through "paths.cells") or script, as in the kernel. The kernel's cells
    are compiled again from their cached source; of two cells that define a function of the same
    name at the same line, the later one's counts."""
    files: List[str] = []
    main = getattr(sys.modules.get("__main__"), "__file__", None)
    if isinstance(main, str):
        files.append(main)
    ip = sys.modules.get("IPython")
    if ip is not None:
        try:
            fmap = dict(getattr(getattr(ip.get_ipython(), "compile", None), "_filename_map", None) or {})
        except Exception:
            fmap = {}
        files += [f for f, _ in sorted(((f, n) for f, n in fmap.items() if isinstance(n, int)), key=lambda fn: fn[1])]
    table: Dict[Tuple[str, int], str] = {}
    for f in files:
        source = "".join(linecache.getlines(f))
        if not source:
            continue
        try:
            code = compile(source, f, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True)
        except (SyntaxError, ValueError):
            continue
        todo = [code]
        while todo:
            for k in todo.pop().co_consts:
                if isinstance(k, types.CodeType):
                    table[(getattr(k, "co_qualname", k.co_name), k.co_firstlineno)] = f
                    todo.append(k)
    return [(DYNAMIC_CODE, name, line, f) for (name, line), f in table.items()]


def check_client(client: Any) -> Any:
    """``client`` if it is a ``distributed.Client``; TypeError otherwise (naming what to install
    when distributed is missing)."""
    try:
        from distributed import Client
    except ImportError:
        raise TypeError(f"dask= must be a distributed.Client, not {type(client).__name__} "
                        f"(and the distributed package is not installed: {_INSTALL})") from None
    if not isinstance(client, Client):
        raise TypeError(f"dask= must be a distributed.Client (the client of the cluster whose workers to record), "
                        f"not {type(client).__name__}")
    if getattr(client, "asynchronous", False):
        raise TypeError("dask= needs a synchronous distributed.Client (this one was made with asynchronous=True; "
                        "profile() starts and stops the workers' recordings from the calling thread)")
    return client


def current_client() -> Any:
    """The current distributed client (``Client.current()``); ProfilerError when there is none."""
    try:
        from distributed import Client
    except ImportError:
        raise ProfilerError(f"--dask needs the distributed package: {_INSTALL}") from None
    try:
        return Client.current()
    except ValueError:
        raise ProfilerError("--dask: there is no Dask client here; create one first "
                            "(e.g. client = distributed.Client(cluster) or distributed.Client('tcp://scheduler:8786'))") from None


def _describe(address: str, info: Dict[str, Any]) -> str:
    name = info.get("name")
    return f"worker {name} ({address})" if name not in (None, "", address) else f"worker {address}"


class _Clock:
    """Best round-trip sample of one worker: offset and uncertainty."""

    def __init__(self) -> None:
        self.rtt: Optional[int] = None
        self.offset = 0

    def add(self, t0: int, reading: int, t1: int) -> None:
        rtt = t1 - t0
        if rtt < 0:
            return
        if self.rtt is None or rtt < self.rtt:
            self.rtt = rtt
            self.offset = (t0 + t1) // 2 - reading


class DaskRecording:
    """The cluster side of one ``profile(dask=client)``: check, start, stop and gather, merge."""

    def __init__(self, client: Any):
        self.client = check_client(client)
        self.name = f"{_EVENT_TOPIC_PREFIX}{uuid.uuid4().hex[:12]}"
        self.workers: Dict[str, Dict[str, Any]] = {}  # address -> probe reply (known at start)
        self.clocks: Dict[str, _Clock] = {}
        self.my_clock = clock_identity()
        self.registered = False

    # -- before anything starts --

    def _run(self, func: Any, *args: Any, **kwargs: Any) -> Dict[str, Any]:
        return self.client.run(func, *args, on_error="return", **kwargs)

    def check(self) -> None:
        """Every worker imports fprofile_jupyter of this version; raises ProfilerError otherwise."""
        from ._core import __version__

        status = getattr(self.client, "status", "running")
        if status != "running":
            raise ProfilerError(f"dask=: the client is not connected to a cluster (its status is {status!r}); "
                                "connect it again or make a new one")
        try:
            replies = self.client.sync(self.client._run, _make_probe(), on_error="return", callback_timeout=30)
        except Exception as e:
            raise ProfilerError(f"dask=: cannot reach the cluster's workers ({type(e).__name__}: {e}); "
                                "is the scheduler still running?") from None
        problems = []
        for address, info in sorted(replies.items()):
            if isinstance(info, BaseException):
                problems.append(f"{address}: the check failed ({type(info).__name__}: {info})")
                continue
            if "error" in info:
                problems.append(f"{_describe(address, info)} cannot import fprofile_jupyter ({info['error']}): "
                                f"install fprofile-jupyter=={__version__} in its environment ({info.get('python')})")
            elif info.get("version") != __version__:
                problems.append(f"{_describe(address, info)} has fprofile-jupyter {info.get('version')}, this client "
                                f"{__version__}: install fprofile-jupyter=={__version__} in its environment "
                                f"({info.get('python')})")
            else:
                self.workers[address] = info
        if problems:
            raise ProfilerError("cannot record the Dask workers, nothing was started: " + "; ".join(problems))

    # -- start / stop --

    def _needs_estimate(self, info: Dict[str, Any]) -> bool:
        return tuple(info.get("clock") or ()) != tuple(self.my_clock)

    def _sample_clocks(self, addresses: List[str]) -> None:
        for address in addresses:
            clock = self.clocks.setdefault(address, _Clock())
            for _ in range(CLOCK_SAMPLES):
                t0 = time.monotonic_ns()
                try:
                    reply = self.client.run(_clock_reading, workers=[address], on_error="return")
                except Exception:
                    break
                t1 = time.monotonic_ns()
                reading = reply.get(address)
                if not isinstance(reading, int):
                    break
                clock.add(t0, reading, t1)

    def start(self, options: RecordOptions, *, defaults: bool = False) -> None:
        """Install the plugin (every worker starts recording what ``options`` say, in its own
        process: no outfile, no child processes, no window); ProfilerError (and nothing left
        running on the workers) when a worker could not start. ``defaults``: the subs are the
        default ones (the client's own code), so the functions it sends by value are recorded too."""
        subs = options.subs + ((DYNAMIC_CODE,) if defaults and DYNAMIC_CODE not in options.subs else ())
        worker_options = dataclasses.replace(options, subs=subs, outfile=None, keep_last=None, processes=False,
                                             dask=False)
        self._sample_clocks([a for a, i in self.workers.items() if self._needs_estimate(i)])
        plugin = FprofileWorkerPlugin(self.name, worker_options, os.getpid(), self.my_clock)
        register = getattr(self.client, "register_plugin", None) or self.client.register_worker_plugin
        register(plugin, name=self.name)
        self.registered = True
        status = self._run(_status_on_worker, self.name)
        problems = [f"worker {a}: {s}" for a, s in sorted(status.items()) if s]
        if problems:
            self.abort()
            raise ProfilerError("cannot record the Dask workers: " + "; ".join(problems))

    def abort(self) -> None:
        """Stop everything on the workers and forget it."""
        if self.registered:
            self.registered = False
            try:
                self._run(_collect_on_worker, self.name)
            finally:
                self.client.unregister_worker_plugin(self.name)

    def stop(self) -> List[Dict[str, Any]]:
        """Stop every worker's recording; their payloads (trace bytes, bands, names)."""
        payloads: List[Dict[str, Any]] = []
        problems: List[str] = []
        if not self.registered:
            return payloads
        self.registered = False
        try:
            replies = self._run(_collect_on_worker, self.name)
            live = [a for a, r in replies.items() if isinstance(r, dict) and r.get("kind") == "trace"]
            for address, reply in sorted(replies.items()):
                if isinstance(reply, BaseException):
                    problems.append(f"worker {address}: could not be stopped ({type(reply).__name__}: {reply})")
                elif reply.get("kind") == "trace":
                    payloads.append(reply)
            needing = [a for a in live if tuple(replies[a].get("clock") or ()) != tuple(self.my_clock)]
            self._sample_clocks(needing)
        finally:
            try:
                self.client.unregister_worker_plugin(self.name)
            except Exception as e:
                problems.append(f"the recording plugin could not be removed from the workers ({e})")
        # workers that left while recording: their teardown sent their trace as an event
        started: Dict[str, str] = {}
        try:
            events = self.client.get_events(self.name)
        except Exception:
            events = ()
        have = {p["address"] for p in payloads}
        for _stamp, msg in events:
            if not isinstance(msg, dict):
                continue
            if msg.get("kind") == "started":
                started[msg.get("address", "?")] = msg.get("name", "")
            elif msg.get("kind") == "final" and msg.get("address") not in have:
                payloads.append(msg)
                have.add(msg.get("address"))
                problems.append(f"dask worker {msg.get('name')} ({msg.get('address')}) left the cluster while "
                                "recording: its trace up to then is kept")
        for address, name in sorted(started.items()):
            if address not in have:
                problems.append(f"dask worker {name} ({address}) left the cluster while recording without sending "
                                "its trace (killed or crashed?): its calls are not in the trace")
        for p in payloads:
            for w in p.get("warnings", ()):
                problems.append(f"{p.get('label')}: {w}")
        self.problems = problems
        return payloads

    # -- merge --

    def merge(self, client_trace: Trace, payloads: List[Dict[str, Any]]) -> Trace:
        from . import _core

        client_bands = []
        parts: List[Dict[str, Any]] = []
        code_files = client_functions()
        problems = list(getattr(self, "problems", []))
        by_pid: Dict[int, Dict[str, Any]] = {}
        for p in payloads:
            if p.get("in_client"):
                client_bands.extend(p.get("bands", ()))
                # a worker the client's recording followed as a child process (started while
                # recording): named as the other workers are
                if p.get("pid") and p.get("pid") != os.getpid():
                    by_pid[int(p["pid"])] = {"name": p.get("label"), "host": p.get("host", "")}
        client_process: Dict[str, Any] = {"clock_offset_ns": 0, "clock_uncertainty_ns": 0, "aligned": True}
        if not getattr(client_trace, "processes", None):  # nothing recorded here: still the run's client
            client_process.update(pid=os.getpid(), parent_pid=os.getppid(), host=socket.gethostname(), name=_core._process_name())
        parts.append({"trace": client_trace, "bands": client_bands, "process": client_process, "processes": by_pid,
                      "code_files": code_files})
        for p in sorted(payloads, key=lambda p: (str(p.get("name")), str(p.get("address")))):
            if p.get("in_client") or p.get("trace") is None:
                continue
            try:
                trace = Trace.from_bytes(p["trace"])
            except Exception as e:
                problems.append(f"{p.get('label')}: its trace could not be read ({e}): left out")
                continue
            # who it is, whatever the .fpt version carried
            override: Dict[str, Any] = {"name": p.get("label"), "pid": p.get("pid", 0), "parent_pid": p.get("parent_pid", 0),
                                        "host": p.get("host", "")}
            if tuple(p.get("clock") or ()) == tuple(self.my_clock):
                override.update(clock_offset_ns=0, clock_uncertainty_ns=0, aligned=True)
            else:
                clock = self.clocks.get(p.get("address", ""))
                if clock is not None and clock.rtt is not None:
                    override.update(clock_offset_ns=clock.offset, clock_uncertainty_ns=(clock.rtt + 1) // 2, aligned=True)
                else:
                    override.update(clock_offset_ns=0, clock_uncertainty_ns=0, aligned=False)
                    problems.append(f"{p.get('label')}: its clock offset could not be measured; it is shown on its "
                                    "own clock, starting at the trace's start")
            parts.append({"trace": trace, "process": override, "bands": [tuple(b) for b in p.get("bands", ())],
                          "code_files": code_files})
        merged = _core.merge(parts)
        for msg in problems:  # (merge <- profile._stop <- profile.__exit__ <- the user's block)
            warnings.warn(RuntimeWarning(f"fprofile: {msg}"), stacklevel=4)
        return merged
