"""Recording while other tools that hook the interpreter are active: coverage.py and cProfile.

On 3.12+ both run on sys.monitoring (coverage.py's "sysmon" core takes tool id 1, COVERAGE_ID, and
is its default from 3.14 on; cProfile takes 2, PROFILER_ID; 3.15's `profiling.tracing` is cProfile
under its new name); the recorder takes 4 (else 3, else 5). On 3.9-3.11 coverage.py traces with
`sys.settrace` and cProfile with a profile function, while the recorder uses a PEP 523 eval-frame
function. In every case all of them must keep working, in either order of starting, and the
recorder's trace must be exact. See docs/recording.md, "Cooperating with other tools".
"""
from __future__ import annotations

import cProfile
import importlib
import importlib.util
import sys
import sysconfig
import textwrap
from pathlib import Path

import coverage
import pytest

from fprofile_jupyter import ProfilerError, profile
from fprofile_jupyter._core import Recorder

PY312 = sys.version_info >= (3, 12)

WORKLOAD = """
    def f(n):
        return n if n < 1 else f(n - 1)

    def before():
        return 1

    def during():
        return 2

    def after():
        return 3
"""

_counter = [0]


def load(tmp_path: Path, dirname: str):
    d = tmp_path / dirname
    d.mkdir(parents=True, exist_ok=True)
    f = d / "wl.py"
    f.write_text(textwrap.dedent(WORKLOAD), encoding="utf-8")
    _counter[0] += 1
    spec = importlib.util.spec_from_file_location(f"coexist_{_counter[0]}", str(f))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod, str(d), str(f)


def calls(trace):
    return [(c.depth, c.function) for c in trace.calls()]


EXPECTED = [(0, "f"), (1, "f"), (2, "f"), (3, "f"), (0, "during")]


def start_coverage(monkeypatch, d):
    if PY312:
        monkeypatch.setenv("COVERAGE_CORE", "sysmon")
    cov = coverage.Coverage(data_file=None, include=[d + "/*"], config_file=False)
    cov.start()
    if PY312:
        assert sys.monitoring.get_tool(sys.monitoring.COVERAGE_ID) == "coverage.py", "coverage's sysmon core is on"
    return cov


def covered_lines(cov, f):
    return set(cov.get_data().lines(f) or ())


@pytest.mark.parametrize("order", ["coverage-first", "recording-first"])
def test_recording_while_coverage_runs(tmp_path, monkeypatch, order):
    m, d, f = load(tmp_path, "cov-" + order)
    if order == "coverage-first":
        cov = start_coverage(monkeypatch, d)
        try:
            m.before()
            with profile(subs=[d]) as prof:
                m.f(3)
                m.during()
            m.after()
        finally:
            cov.stop()
    else:
        with profile(subs=[d]) as prof:
            cov = start_coverage(monkeypatch, d)
            try:
                m.f(3)
                m.during()
            finally:
                cov.stop()
        m.after()
    assert calls(prof.trace) == EXPECTED
    if PY312:
        assert "tool id 4" in prof.trace.metadata["mechanism"]
    lines = covered_lines(cov, f)
    # the body lines of f and during (3, 9); before (6) when coverage ran before the recording;
    # after (12) only while coverage was still on
    assert {3, 9} <= lines, lines
    if order == "coverage-first":
        assert {6, 12} <= lines, lines
    assert not Recorder.is_profiling()


def _cprofile_modules():
    mods = ["cProfile"]
    if importlib.util.find_spec("profiling") is not None and importlib.util.find_spec("profiling.tracing") is not None:
        mods.append("profiling.tracing")  # 3.15: cProfile's new home
    return mods


@pytest.mark.parametrize("module", _cprofile_modules())
@pytest.mark.parametrize("order", ["cprofile-first", "recording-first"])
def test_recording_while_cprofile_runs(tmp_path, module, order):
    m, d, _ = load(tmp_path, "cp-" + order)
    cp = importlib.import_module(module).Profile()
    if order == "cprofile-first":
        cp.enable()
        try:
            with profile(subs=[d]) as prof:
                m.f(3)
                m.during()
        finally:
            cp.disable()
    else:
        with profile(subs=[d]) as prof:
            cp.enable()
            try:
                m.f(3)
                m.during()
            finally:
                cp.disable()
    assert calls(prof.trace) == EXPECTED
    counts = {e.code.co_name: e.callcount for e in cp.getstats() if hasattr(e.code, "co_name") and e.code.co_filename.startswith(d)}
    assert counts == {"f": 4, "during": 1}, "cProfile saw every call"
    if PY312:
        assert "tool id 4" in prof.trace.metadata["mechanism"]


@pytest.mark.skipif(not PY312, reason="sys.monitoring exists on 3.12+ only")
def test_recording_with_coverage_cprofile_and_a_debugger(tmp_path, monkeypatch):
    """Tool ids 0 (a debugger), 1 (coverage.py) and 2 (cProfile) all taken: the recorder takes 4."""
    m, d, f = load(tmp_path, "all")
    mon = sys.monitoring
    if mon.get_tool(mon.DEBUGGER_ID) is not None:
        pytest.skip("the debugger tool id is in use")
    starts = []
    mon.use_tool_id(mon.DEBUGGER_ID, "test-debugger")
    mon.register_callback(mon.DEBUGGER_ID, mon.events.PY_START,
                          lambda code, off: starts.append(code.co_name) if code.co_filename == f else None)
    mon.set_events(mon.DEBUGGER_ID, mon.events.PY_START)
    cp = cProfile.Profile()
    try:
        cov = start_coverage(monkeypatch, d)
        cp.enable()
        try:
            with profile(subs=[d]) as prof:
                m.f(3)
                m.during()
        finally:
            cp.disable()
            cov.stop()
    finally:
        mon.set_events(mon.DEBUGGER_ID, 0)
        mon.register_callback(mon.DEBUGGER_ID, mon.events.PY_START, None)
        mon.free_tool_id(mon.DEBUGGER_ID)
    assert calls(prof.trace) == EXPECTED
    assert "tool id 4" in prof.trace.metadata["mechanism"]
    assert starts == ["f", "f", "f", "f", "during"]
    assert {3, 9} <= covered_lines(cov, f)
    assert {e.code.co_name: e.callcount for e in cp.getstats()
            if hasattr(e.code, "co_name") and e.code.co_filename == f} == {"f": 4, "during": 1}


@pytest.mark.skipif(not PY312, reason="sys.monitoring exists on 3.12+ only")
def test_all_tool_ids_taken_is_one_clear_error(tmp_path):
    m, d, _ = load(tmp_path, "taken")
    mon = sys.monitoring
    mine = []
    try:
        for i in (4, 3, 5):
            if mon.get_tool(i) is None:
                mon.use_tool_id(i, f"other-tool-{i}")
                mine.append(i)
        with pytest.raises(ProfilerError, match=r"tool ids fprofile can use are all taken \(4: .*3: .*5: .*\); stop one"):
            with profile(subs=[d]):
                pass
        assert not Recorder.is_profiling()
    finally:
        for i in mine:
            mon.free_tool_id(i)
    with profile(subs=[d]) as prof:  # once one is free again, recording works
        m.during()
    assert calls(prof.trace) == [(0, "during")]


def test_free_threaded_build_is_refused(monkeypatch):
    """A free-threaded build (Py_GIL_DISABLED), even with the GIL re-enabled: one clear error at
    start, nothing installed (no such interpreter can be installed here: the build is simulated)."""
    real = sysconfig.get_config_var
    monkeypatch.setattr(sysconfig, "get_config_var", lambda name: 1 if name == "Py_GIL_DISABLED" else real(name))
    with pytest.raises(ProfilerError, match=r"^profiling needs the GIL: free-threaded builds of CPython .* are not supported"):
        with profile(subs=["nothing-matches-this"]):
            pass
    assert not Recorder.is_profiling()
