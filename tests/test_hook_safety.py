"""Soundness of the hook under re-entrancy, restarts and other tools (see docs/recording.md).

Each test here was written against a real defect: Python code that runs inside the hook's slow
paths (a `threading.Thread` subclass's `__getattribute__` is run when the recorder reads a
thread's name), a PEP 523 tool that chains to the recorder's eval function, repeated starts and
stops racing with short threads.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from fprofile_jupyter import ProfilerError
from fprofile_jupyter._core import Recorder

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
            for _ in range(30000):   # several buffer chunks (4096 events, then 8192, ...)
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
        rec.start([str(tmp_path / "reentrant")])
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
    assert got == 30000 + extra
