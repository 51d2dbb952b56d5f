"""Outfiles and inputs at the edges (issue 19, items 5 and 6's small ones): a FIFO as a streamed
outfile is never read back (a real FIFO with a reader thread, and a ``cat`` process); an outfile
that replaces a file says so, as ``fprofile run`` does; an empty PYME text file loads as no calls
with a warning; a ``keep_last`` window too large says so."""
from __future__ import annotations

import multiprocessing
import os
import stat
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from collections import Counter

import pytest

import fprofile_jupyter
from fprofile_jupyter import TraceWarning, profile
from fprofile_jupyter._core import load_bytes

SOURCE = textwrap.dedent('''
    def leaf(i):
        return i


    def work(n):
        for i in range(n):
            leaf(i)
''')


@pytest.fixture
def mod(tmp_path, monkeypatch):
    folder = tmp_path / "code"
    folder.mkdir()
    (folder / "fpedge_mod.py").write_text(SOURCE)
    monkeypatch.syspath_prepend(str(folder))
    import fpedge_mod

    yield fpedge_mod, str(folder)
    sys.modules.pop("fpedge_mod", None)


def _reader(path, out):
    with open(path, "rb") as f:  # blocks until the recording opens the FIFO for writing
        out.append(f.read())


needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs os.mkfifo")


def enter_when_read(prof):
    """Starts ``prof`` once the FIFO's reader has opened it (a FIFO with no reader is refused at
    once: readiness, polled, with a generous bound)."""
    end = time.monotonic() + 60
    while True:
        try:
            return prof.__enter__()
        except Exception as e:
            if "no process is reading" not in str(e) or time.monotonic() > end:
                raise
        time.sleep(0.01)


@needs_fifo
def test_a_fifo_outfile_is_not_read_back(mod, tmp_path):
    m, folder = mod
    fifo = str(tmp_path / "live.fpt")
    os.mkfifo(fifo)
    got: list = []
    reader = threading.Thread(target=_reader, args=(fifo, got), daemon=True)
    reader.start()
    prof = enter_when_read(profile(subs=[folder], outfile=fifo, processes=False))
    m.work(100)
    start = time.monotonic()
    with pytest.warns(RuntimeWarning, match="is not a regular file") as caught:
        prof.__exit__(None, None, None)
    reader.join(60)
    # it did not wait for the pipe (10 s, then TimeoutError, before the fix): a bound, not a timing
    assert time.monotonic() - start < 9
    assert prof.trace is None
    assert ".trace is None" in str(caught[0].message) and "record to a regular .fpt file" in str(caught[0].message)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)  # still the FIFO: not rewritten into a regular file
    trace = load_bytes(got[0])  # the reader had every call
    assert Counter(c.function for c in trace.calls()) == Counter({"work": 1, "leaf": 100})


@needs_fifo
def test_a_fifo_outfile_with_a_child_keeps_the_child(mod, tmp_path):
    """The recording's own events went to the pipe (a ``cat`` process reading it); the child
    processes' recordings are kept in the trace, and the warning says so."""
    m, folder = mod
    fifo = str(tmp_path / "live.fpt")
    os.mkfifo(fifo)
    copy = tmp_path / "copy.fpt"
    with open(copy, "wb") as out:
        cat = subprocess.Popen(["cat", fifo], stdout=out)
        try:
            ctx = multiprocessing.get_context("spawn")
            prof = enter_when_read(profile(subs=[folder], outfile=fifo))
            p = ctx.Process(target=m.work, args=(50,))
            p.start()
            p.join(60)
            m.work(3)
            with pytest.warns(RuntimeWarning, match=r"the trace holds the child processes only \(52 calls\)"):
                prof.__exit__(None, None, None)
        finally:
            assert cat.wait(60) == 0
    assert [proc.pid for proc in prof.trace.processes] == [p.pid]
    # (the spawn child imports the module: its <module> is recorded there)
    assert Counter(c.function for c in prof.trace.calls()) == Counter({"<module>": 1, "work": 1, "leaf": 50})
    mine = fprofile_jupyter.load(copy)
    assert Counter(c.function for c in mine.calls()) == Counter({"work": 1, "leaf": 3})


@needs_fifo
def test_a_text_outfile_on_a_fifo_keeps_the_trace_from_memory(mod, tmp_path):
    m, folder = mod
    fifo = str(tmp_path / "live.txt")
    os.mkfifo(fifo)
    got: list = []
    reader = threading.Thread(target=_reader, args=(fifo, got), daemon=True)
    reader.start()
    prof = enter_when_read(profile(subs=[folder], outfile=fifo, processes=False))
    m.work(5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing to say: the trace is the one in memory
        prof.__exit__(None, None, None)
    reader.join(60)
    assert Counter(c.function for c in prof.trace.calls()) == Counter({"work": 1, "leaf": 5})
    assert got[0].count(b"\tcall\t") == 6


# -- an outfile that replaces a file ------------------------------------------------------------------

def test_an_outfile_replacing_a_file_says_so(mod, tmp_path):
    m, folder = mod
    out = tmp_path / "run.fpt"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a new file: no word
        with profile(subs=[folder], outfile=out, processes=False):
            m.work(1)
    with pytest.warns(UserWarning, match=r"^fprofile: recording to .*run\.fpt \(replacing the file that was there\)$") as caught:
        with profile(subs=[folder], outfile=out, processes=False):
            m.work(1)
    assert caught[0].filename == __file__  # points at the `with`, not into fprofile
    tp = fprofile_jupyter.ThreadProfiler()
    with pytest.warns(UserWarning, match=r"run\.txt \(replacing the file that was there\)"):
        (tmp_path / "run.txt").write_text("")
        tp.profile_on(subs=[folder], outfile=str(tmp_path / "run.txt"), processes=False)
        m.work(1)
        tp.profile_off()


def test_fprofile_run_says_it_once(mod, tmp_path):
    m, folder = mod
    script = tmp_path / "prog.py"
    script.write_text("print('hi')\n")
    out = tmp_path / "a.fpt"
    out.write_bytes(b"old")
    proc = subprocess.run([sys.executable, "-m", "fprofile_jupyter", "run", "-o", str(out), str(script)],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("replacing the file that was there") == 1, proc.stderr
    assert "Warning" not in proc.stderr


# -- an empty file ------------------------------------------------------------------------------------------

def test_an_empty_text_file_loads_as_no_calls_with_a_warning(tmp_path):
    empty = tmp_path / "profile_output.txt"
    empty.write_bytes(b"")
    with pytest.warns(TraceWarning, match=r"profile_output\.txt: it holds no calls: the file is empty"):
        trace = fprofile_jupyter.load(empty)
    assert len(trace) == 0
    proc = subprocess.run([sys.executable, "-m", "fprofile_jupyter", "stats", str(empty)], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0
    assert "fprofile: warning: " in proc.stderr and "it holds no calls: the file is empty" in proc.stderr, proc.stderr


def test_a_recording_with_no_calls_is_not_called_empty(mod, tmp_path):
    """A recording that recorded nothing still has its metadata: no "empty file" warning."""
    m, folder = mod
    out = tmp_path / "none.fpt"
    with pytest.warns(fprofile_jupyter.SubsWarning):
        with profile(subs=[folder + "-nothing"], outfile=out, processes=False):
            pass
    with warnings.catch_warnings():
        warnings.simplefilter("error", TraceWarning)
        assert len(fprofile_jupyter.load(out)) == 0


# -- keep_last too large ------------------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["1e9h", "1e30s", "3000000h"])
def test_keep_last_too_large_says_so(value):
    with pytest.raises(ValueError, match=r"the window is too large: at most 2562047 h \(about 292 years\)"):
        profile(keep_last=value)
    with pytest.raises(ValueError, match="at least 1 ns"):
        profile(keep_last="0.1ns")
