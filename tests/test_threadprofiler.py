"""ThreadProfiler, the PYME drop-in: the raw text file, line by line.

PYME's raw format (docs/pyme-formats.md section 1): one line per event,
`time<TAB>thread<TAB>file<TAB>function<TAB>call|return<TAB>first_line<LF>`, time = perf_counter with
%f. Names that hold tabs or newlines are escaped (`\\t`, `\\n`) so each line keeps six fields.
"""
from __future__ import annotations

import re
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

import fprofile_jupyter
from fprofile_jupyter import ThreadProfiler

from test_recording import load

TIME = re.compile(r"^\d+\.\d{6}$")

WL = """
    import threading
    class Stage:
        def run(self, n):
            return sum(self.step(i) for i in range(n))
        def step(self, i):
            return leaf(i)
    def leaf(i):
        return i
    def worker(n):
        return Stage().run(n)
"""


def parse(path: Path) -> List[Tuple[float, str, str, str, str, int]]:
    data = path.read_bytes()
    assert data.endswith(b"\n") or data == b""
    out = []
    for i, raw in enumerate(data.decode("utf-8").split("\n")[:-1], 1):
        fields = raw.split("\t")
        assert len(fields) == 6, f"line {i}: {raw!r}"
        t, thread, file, func, event, line = fields
        assert TIME.match(t), f"line {i}: time {t!r} is not %f"
        assert event in ("call", "return"), f"line {i}: {event!r}"
        assert line.isdigit(), f"line {i}: first line {line!r}"
        out.append((float(t), thread, file, func, event, int(line)))
    return out


def check_pairs(rows) -> Dict[str, int]:
    """Per thread: times never go back, every return closes the innermost open call of the same
    function, and nothing stays open. Returns calls per thread."""
    stacks: Dict[str, List[Tuple[str, str]]] = {}
    last: Dict[str, float] = {}
    calls: Dict[str, int] = {}
    for t, thread, file, func, event, _ in rows:
        assert t >= last.get(thread, 0.0), (thread, t)
        last[thread] = t
        st = stacks.setdefault(thread, [])
        if event == "call":
            st.append((file, func))
            calls[thread] = calls.get(thread, 0) + 1
        else:
            assert st and st[-1] == (file, func), (thread, file, func, st[-3:])
            st.pop()
    assert all(not s for s in stacks.values()), {k: v for k, v in stacks.items() if v}
    return calls


def test_raw_file_line_by_line(tmp_path):
    m = load(tmp_path, "pyme\tsrc", WL)  # a tab in the directory name
    out = tmp_path / "profile.txt"
    p = ThreadProfiler()
    t0 = time.perf_counter()
    p.profile_on(subs=["pyme\tsrc"], outfile=str(out))
    ths = [threading.Thread(target=m.worker, args=(3,), name=n) for n in ("w\t1", "w\n2", "wörker-3")]
    for th in ths:
        th.start()
    for th in ths:
        th.join()
    m.worker(1)
    p.profile_off()
    t1 = time.perf_counter()
    rows = parse(out)
    calls = check_pairs(rows)
    # run + 4 genexpr resumes + 3 steps + 3 leaves per 3-item worker; 1 + 2 + 1 + 1 for worker(1)
    assert calls == {"w\\t1": 12, "w\\n2": 12, "wörker-3": 12, "MainThread": 6}
    assert all(t0 - 1e-6 <= r[0] <= t1 + 1e-6 for r in rows), "times are time.perf_counter()"
    wl = str(tmp_path / "pyme\tsrc" / "wl.py").replace("\t", "\\t")
    assert {r[2] for r in rows} == {wl}
    # PYME writes co_name (not the qualified name)
    assert {r[3] for r in rows} == {"worker", "run", "<genexpr>", "step", "leaf"}
    first = [r for r in rows if r[1] == "MainThread"][0]
    assert first[3:] == ("worker", "call", 10)
    assert len(rows) == 2 * len(p.trace), "every recorded event is in the file"


def test_file_written_while_running_and_complete_at_off(tmp_path):
    m = load(tmp_path, "live", WL)
    out = tmp_path / "live.txt"
    p = ThreadProfiler()
    p.profile_on(subs=[str(tmp_path / "live")], outfile=out)
    m.worker(50)
    deadline = time.monotonic() + 10
    while out.stat().st_size == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert out.stat().st_size > 0, "the background writer writes while profiling is on"
    for _ in range(20):
        m.worker(500)
    p.profile_off()
    rows = parse(out)
    check_pairs(rows)
    assert len(rows) == 2 * len(p.trace) == 2 * (153 + 20 * 1503)  # worker(n) makes 3n + 3 calls


def test_many_events_from_threads_nothing_lost(tmp_path):
    m = load(tmp_path, "bulk", WL)
    out = tmp_path / "bulk.txt"
    p = ThreadProfiler()
    p.profile_on(subs=[str(tmp_path / "bulk")], outfile=str(out))
    ths = [threading.Thread(target=m.worker, args=(8000,)) for _ in range(4)]
    for th in ths:
        th.start()
    for th in ths:
        th.join()
    p.profile_off()
    rows = parse(out)
    calls = check_pairs(rows)
    assert sorted(calls.values()) == [3 * 8000 + 3] * 4
    assert len(rows) == 2 * len(p.trace)


def test_crash_leaves_what_was_written(tmp_path):
    wl = tmp_path / "crashwl"
    wl.mkdir()
    (wl / "work.py").write_text("def f(i):\n    return g(i)\ndef g(i):\n    return i\n")
    out = tmp_path / "crash.txt"
    script = tmp_path / "crash.py"
    script.write_text(textwrap.dedent(f"""
        import os, sys, time
        sys.path.insert(0, {str(wl)!r})
        from fprofile_jupyter import ThreadProfiler
        import work
        p = ThreadProfiler()
        p.profile_on(subs=[{str(wl)!r}], outfile={str(out)!r})
        for i in range(1000):
            work.f(i)
        time.sleep(0.3)
        os._exit(3)   # dies without profile_off
    """))
    r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
    assert r.returncode == 3, r.stderr
    rows = parse(out)
    assert check_pairs(rows) == {"MainThread": 2000}


def test_left_on_at_exit_is_flushed(tmp_path):
    wl = tmp_path / "exitwl"
    wl.mkdir()
    (wl / "work.py").write_text("def f(i):\n    return i\n")
    out = tmp_path / "exit.txt"
    script = tmp_path / "exit.py"
    script.write_text(textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(wl)!r})
        from fprofile_jupyter import ThreadProfiler
        import work
        p = ThreadProfiler()
        p.profile_on(subs=[{str(wl)!r}], outfile={str(out)!r})
        for i in range(5000):
            work.f(i)
    """))
    r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert check_pairs(parse(out)) == {"MainThread": 5000}


def test_raw_file_reads_back(tmp_path):
    m = load(tmp_path, "back", WL)
    out = tmp_path / "back.txt"
    p = ThreadProfiler()
    p.profile_on(subs=[str(tmp_path / "back")], outfile=str(out))
    m.worker(4)
    p.profile_off()
    loaded = fprofile_jupyter.load(str(out))
    assert len(loaded) == len(p.trace) == 3 * 4 + 3
    assert [c.depth for c in loaded.calls()] == [c.depth for c in p.trace.calls()]


def test_default_outfile_and_memory_only(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    m = load(tmp_path, "dflt", WL)
    p = ThreadProfiler()
    p.profile_on(subs=[str(tmp_path / "dflt")])
    m.worker(1)
    p.profile_off()
    assert (tmp_path / "profile_output.txt").exists()
    check_pairs(parse(tmp_path / "profile_output.txt"))
    q = ThreadProfiler()
    q.profile_on(subs=[str(tmp_path / "dflt")], outfile=None)
    m.worker(1)
    q.profile_off()
    assert len(q.trace) == len(p.trace) == 6


def test_profile_outfile_option(tmp_path):
    m = load(tmp_path, "pout", WL)
    out = tmp_path / "p.txt"
    with fprofile_jupyter.profile(subs=[str(tmp_path / "pout")], outfile=out) as prof:
        m.worker(2)
    assert len(parse(out)) == 2 * len(prof.trace) == 2 * 9


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
def test_outfile_write_error_raises_at_off(tmp_path):
    """A write error on the outfile (here: disk full) is an exception at profile_off, not a
    warning that is easy to miss; the in-memory trace is complete and profiling restarts."""
    from fprofile_jupyter._recording import OutfileError

    m = load(tmp_path, "full", WL)
    p = ThreadProfiler()
    p.profile_on(subs=[str(tmp_path / "full")], outfile="/dev/full")
    m.worker(2000)
    with pytest.raises(OutfileError, match=r"writing the profile outfile failed: .*No space left.*/dev/full"):
        p.profile_off()
    assert isinstance(OutfileError("x"), fprofile_jupyter.ProfilerError)
    assert p.trace is not None and len(p.trace) == 3 * 2000 + 3
    p.profile_off()  # harmless, as after a normal stop
    with pytest.raises(OutfileError):
        with fprofile_jupyter.profile(subs=[str(tmp_path / "full")], outfile="/dev/full") as prof:
            m.worker(2000)
    assert prof.trace is not None and len(prof.trace) == 3 * 2000 + 3
    with fprofile_jupyter.profile(subs=[str(tmp_path / "full")]) as again:
        m.worker(1)
    assert len(again.trace) == 6


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
def test_outfile_write_error_when_left_on_at_exit_is_reported(tmp_path):
    script = tmp_path / "exitfull.py"
    script.write_text(textwrap.dedent(f"""
        from fprofile_jupyter import ThreadProfiler
        def f(i):
            return i
        p = ThreadProfiler()
        p.profile_on(subs=[{str(tmp_path)!r}], outfile="/dev/full")
        for i in range(5000):
            f(i)
    """))
    r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "writing the profile outfile failed" in lines[0] and "/dev/full" in lines[0], r.stderr
