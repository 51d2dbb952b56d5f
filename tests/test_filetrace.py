"""A trace backed by its file (issue 22; ``Trace.file``, rust/python/src/backed.rs over the core's
``FileTrace``): it answers as the loaded trace does (summary, flame graph, window replies,
skeleton, comparison) on random traces, without loading its calls; every other method works on it
(loading the calls once, on first use); ``load()`` chooses it for a large compact ``.fpt``; a cut or
damaged file behaves as the loader does; a missing path or a directory is one clear error; the CLI's
``diff`` and ``convert`` work from the file."""

import base64
import os
import pickle
import subprocess
import sys

import pytest

import fprofile_jupyter as fp
from fprofile_jupyter import _core, _display, _io, _windowed
from viewer_support import make_process_trace, make_trace

pytestmark = pytest.mark.filterwarnings("ignore:.*could not be aligned:fprofile_jupyter.TraceWarning")


def saved(trace, tmp_path, name):
    path = str(tmp_path / name)
    trace.save(path)
    return path


def random_traces():
    """Random traces of several shapes: synthetic ones of a few threads, one with markup in its
    names and bands-free nesting, one of four processes with task bands."""
    yield "synthetic-3", _core._synthetic_trace(30_000, 3, 5)
    yield "synthetic-8", _core._synthetic_trace(60_000, 8, 11)
    yield "evil", make_trace(blocks=60, seed=3, evil=True)
    yield "processes", make_process_trace()[0]


def answer(method, *args):
    """What ``method(*args)`` gives: its value, or its error's type and message."""
    try:
        return method(*args)
    except Exception as e:  # noqa: BLE001 - compared, not hidden
        return type(e).__name__, str(e)


def windows(trace):
    """Windows to ask for: the whole run, slices, an empty one, one past the end."""
    start = min(t.first_ns for t in trace.threads)
    end = max(t.last_ns for t in trace.threads)
    span = end - start
    return [(start, end, 2000), (start + span // 3, start + span // 2, 800), (start + span // 2, start + span // 2 + span // 50, 300),
            (start + span // 4, start + span // 4, 100), (end + 10, end + 1000, 50)]


@pytest.mark.parametrize("which", ["synthetic-3", "synthetic-8", "evil", "processes"])
def test_a_file_backed_trace_answers_as_the_loaded_one(tmp_path, which):
    mem = dict(random_traces())[which]
    path = saved(mem, tmp_path, "t.fpt")
    f = fp.load(path, backed=True)
    assert f.file == path and not f.in_memory
    assert fp.load(path, backed=False).file is None
    # the tables
    assert len(f) == len(mem) and f.duration_ns == mem.duration_ns and f.origin_ns == mem.origin_ns
    assert f.metadata == mem.metadata and f.bands == mem.bands
    assert [repr(t) for t in f.threads] == [repr(t) for t in mem.threads]  # call counts included
    assert [repr(p) for p in f.processes] == [repr(p) for p in mem.processes]
    assert repr(f) == repr(mem)[:-1] + f', backed by "{path}">'
    # what the hosts ask for
    assert f.skeleton_bytes() == mem.skeleton_bytes()
    assert f.summary_json() == mem.summary_json()
    assert f.summary_json(overall_only=True) == mem.summary_json(overall_only=True)
    assert str(f.summary()) == str(mem.summary())
    assert [str(s) for s in f.summary().per_thread] == [str(s) for s in mem.summary().per_thread]
    n = len(mem.threads)
    for threads in (None, [0], list(range(n))[::2], list(range(n))):
        for t0, t1, px in windows(mem):
            assert answer(f.window_bytes, t0, t1, px, threads) == answer(mem.window_bytes, t0, t1, px, threads)
            if t1 > t0:
                assert _core.flame_bytes(f, threads, (t0, t1)) == _core.flame_bytes(mem, threads, (t0, t1))
        assert _core.flame_bytes(f, threads) == _core.flame_bytes(mem, threads)
        assert f.flame(threads) == mem.flame(threads)
    assert _windowed.overview_bytes(f) == _windowed.overview_bytes(mem)
    # a comparison: from the summaries and flame graphs, the same whichever side is file-backed
    other = _core._synthetic_trace(20_000, 2, 99)
    other_f = fp.load(saved(other, tmp_path, "o.fpt"), backed=True)
    for a, b in ((mem, other), (f, other_f), (f, other), (other_f, mem)):
        want = fp.compare(a if a is not f else mem, b if b is not other_f else other)
        got = fp.compare(a, b)
        assert got.rows() == want.rows()
        assert got.flame_bytes() == want.flame_bytes()
        assert got.flame() == want.flame()
    # and the differential tree holds each side's own flame graph: the calls of a on the a side
    total = {"a": 0, "b": 0}
    stack = list(fp.compare(f, other_f).flame())
    while stack:
        node = stack.pop()
        total["a"] += node["calls_a"]
        total["b"] += node["calls_b"]
        stack.extend(node["children"])
    assert (total["a"], total["b"]) == (len(mem), len(other))
    assert not f.in_memory and not other_f.in_memory, "answering these loaded the calls"


def test_every_trace_method_works_on_a_file_backed_trace(tmp_path):
    mem = make_process_trace()[0]
    path = saved(mem, tmp_path, "t.fpt")
    f = fp.load(path, backed=True)
    # copies of the file, no decoding
    assert f.to_bytes() == f.to_bytes(level=1) == open(path, "rb").read()
    f.save(str(tmp_path / "copy.fpt"))
    assert open(tmp_path / "copy.fpt", "rb").read() == open(path, "rb").read()
    f.save(path)  # onto itself: the file stays
    assert fp.load(path, backed=False) == mem
    assert not f.in_memory
    # what needs every call: loaded once, then kept
    assert [repr(c) for c in f.calls()] == [repr(c) for c in mem.calls()]
    assert f.in_memory and f.file == path
    assert [repr(c) for c in f.calls(thread=1)] == [repr(c) for c in mem.calls(thread=1)]
    assert f.folded() == mem.folded()
    fn = mem.summary()[0].function
    assert f.callers(fn) == mem.callers(fn) and f.callees(fn) == mem.callees(fn)
    assert f == mem and mem == f and not (f == _core._synthetic_trace(100, 1, 1))
    assert pickle.loads(pickle.dumps(f)) == mem
    assert f.picture_png() == mem.picture_png()
    for ext in ("json", "txt", "perfetto.json", "speedscope.json", "html"):
        f.save(str(tmp_path / f"f.{ext}"))
        mem.save(str(tmp_path / f"m.{ext}"))
        if ext != "html":  # (the page names itself after the file)
            assert open(tmp_path / f"f.{ext}", "rb").read() == open(tmp_path / f"m.{ext}", "rb").read(), ext
    labels = sorted({b[3] for b in mem.bands})
    assert str(f.summary(task=labels[0])) == str(mem.summary(task=labels[0]))
    with pytest.raises(ValueError, match="no task of that name"):
        f.summary(task="no such task")
    merged = _core.merge([{"trace": f}])
    assert len(merged) == len(mem)
    assert f._resident_bytes() > 0


def test_the_notebook_output_of_a_file_backed_trace_is_windowed_without_loading(tmp_path, monkeypatch):
    mem = _core._synthetic_trace(5_000, 2, 4)
    f = fp.load(saved(mem, tmp_path, "t.fpt"), backed=True)
    monkeypatch.setattr(_display, "in_kernel", lambda: True)
    # a small one is sent whole: its file's bytes, copied (the picture loads its calls)
    assert _display.output_payload(f._repr_mimebundle_(include=[_display.TRACE_MIME]))["fpt"] == base64.b64encode(f.to_bytes()).decode()
    assert not f.in_memory
    monkeypatch.setattr(_windowed, "WINDOWED_CALLS", 1000)
    assert _windowed.windowed(f)
    bundle = f._repr_mimebundle_()
    payload = _display.output_payload(bundle)
    assert set(payload) == {"windowed"} and payload["windowed"]["calls"] == len(mem)
    assert "backed by its file" in payload["windowed"]["note"]
    assert "image/png" not in bundle  # the picture would need every call
    assert not f.in_memory
    # in memory, the same trace is sent whole with its picture (it fits the display limits)
    assert "fpt" in _display.output_payload(mem._repr_mimebundle_()) and "image/png" in mem._repr_mimebundle_()


def test_load_chooses_file_backed_for_a_large_compact_fpt(tmp_path, monkeypatch):
    mem = _core._synthetic_trace(20_000, 2, 4)
    path = saved(mem, tmp_path, "t.fpt")
    size = os.path.getsize(path)
    monkeypatch.setattr(_io, "BACKED_BYTES", size)
    assert fp.load(path).file == path
    monkeypatch.setattr(_io, "BACKED_BYTES", size + 1)
    assert fp.load(path).file is None
    # other formats: in memory whatever their size
    monkeypatch.setattr(_io, "BACKED_BYTES", 1)
    mem.save(str(tmp_path / "t.json"))
    assert fp.load(str(tmp_path / "t.json")).file is None
    with pytest.raises(ValueError, match="only an .fpt file can back a trace"):
        fp.load(str(tmp_path / "t.json"), format="pyme-json", backed=True)


def test_a_cut_or_damaged_file_and_bad_paths(tmp_path):
    # a streamed file cut short (no end chunk): what is whole, with a warning, as load() says it
    prog = tmp_path / "prog.py"
    prog.write_text(
        "import os, sys\nimport fprofile_jupyter as fp\n"
        "def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n"
        "prof = fp.profile(subs=[os.path.dirname(os.path.abspath(__file__))], outfile=sys.argv[1])\n"
        "prof.__enter__()\nfor _ in range(50):\n    fib(12)\n"
        "prof._session.recorder.flush()\nos._exit(0)\n")
    cut = str(tmp_path / "cut.fpt")
    subprocess.run([sys.executable, str(prog), cut], check=True, cwd=tmp_path, timeout=120)
    with pytest.warns(fp.TraceWarning, match="end of the recording is missing"):
        whole = fp.load(cut, backed=False)
    with pytest.warns(fp.TraceWarning, match="end of the recording is missing"):
        f = fp.load(cut, backed=True)
    assert f.file == cut and len(f) == len(whole) == 50 * 465
    assert f.summary_json() == whole.summary_json()
    assert f.to_bytes() == whole.to_bytes()  # not a compact file: encoded
    # a compact file cut in its body: the same error as loading it
    good = saved(_core._synthetic_trace(5_000, 2, 4), tmp_path, "good.fpt")
    data = open(good, "rb").read()
    (tmp_path / "bad.fpt").write_bytes(data[: len(data) // 2])
    with pytest.raises(fp.FormatError) as loaded:
        fp.load(str(tmp_path / "bad.fpt"), backed=False)
    with pytest.raises(fp.FormatError) as opened:
        fp.load(str(tmp_path / "bad.fpt"), backed=True)
    assert str(opened.value) == str(loaded.value)
    # a missing path, a directory: one clear error each
    for backed in (None, True):
        with pytest.raises(FileNotFoundError, match="nothere.fpt"):
            fp.load(str(tmp_path / "nothere.fpt"), backed=backed)
        (tmp_path / "adir").mkdir(exist_ok=True)
        with pytest.raises(IsADirectoryError, match="adir"):
            fp.load(str(tmp_path / "adir"), backed=backed)


def test_cli_diff_and_convert_work_from_the_file(tmp_path):
    a, b = _core._synthetic_trace(20_000, 2, 1), _core._synthetic_trace(25_000, 3, 2)
    pa, pb = str(tmp_path / "a.fpt"), saved(b, tmp_path, "b.fpt")
    with open(pa, "wb") as f:
        f.write(a.to_bytes(level=1))  # not the level a writer uses: a copy keeps it, decoding would not
    cli = [sys.executable, "-m", "fprofile_jupyter.cli"]
    out = subprocess.run(cli + ["diff", pa, pb, "--top", "0"], capture_output=True, text=True, timeout=120, check=True).stdout
    assert out.strip() == fp.compare(a, b, names=("a.fpt", "b.fpt")).format_table().strip()
    assert f"a.fpt ({len(a):,} calls) and b.fpt ({len(b):,} calls)" in out.splitlines()[0], out.splitlines()[0]
    subprocess.run(cli + ["convert", pa, str(tmp_path / "c.fpt")], capture_output=True, timeout=120, check=True)
    assert open(tmp_path / "c.fpt", "rb").read() == open(pa, "rb").read()  # copied
    subprocess.run(cli + ["convert", pa, str(tmp_path / "c.json")], capture_output=True, timeout=120, check=True)
    a.save(str(tmp_path / "m.json"))
    assert open(tmp_path / "c.json", "rb").read() == open(tmp_path / "m.json", "rb").read()  # loaded, written
    bad = subprocess.run(cli + ["diff", pa, str(tmp_path / "nothere.fpt")], capture_output=True, text=True, timeout=120)
    assert bad.returncode != 0 and "nothere.fpt" in bad.stderr and "Traceback" not in bad.stderr


def test_the_overview_comes_stored_in_the_index_without_decoding_a_chunk(tmp_path):
    # the core's width, read by _windowed; the stored reply is the in-memory trace's
    assert _windowed.OVERVIEW_PX == _core.OVERVIEW_PX == 2000
    mem = _core._synthetic_trace(150_000, 3, 9)
    path = saved(mem, tmp_path, "o.fpt")
    f = fp.load(path, backed=True)
    assert f.file == path and not f.in_memory
    assert _windowed.overview_bytes(f) == _windowed.overview_bytes(mem)
    assert f._chunks_decoded() == 0, "the overview came from the index's directory"
    t0, t1 = _windowed.span(f)
    assert f.window_bytes(t0, t1, _windowed.OVERVIEW_PX - 1) == mem.window_bytes(t0, t1, _windowed.OVERVIEW_PX - 1)
    assert f._chunks_decoded() > 0, "another window is asked of the chunks"
    assert not f.in_memory


def test_a_file_replaced_or_removed_under_its_name_still_gives_its_trace(tmp_path):
    """A cell run again with the same outfile replaces the file: a file-backed trace made before
    keeps answering (and saving) as the trace it was, not the new file's."""
    a, b = _core._synthetic_trace(20_000, 2, 3), _core._synthetic_trace(9_000, 3, 4)
    path = saved(a, tmp_path, "run.fpt")
    f = fp.load(path, backed=True)
    saved(b, tmp_path, "new.fpt")
    os.replace(tmp_path / "new.fpt", path)
    assert str(f.summary()) == str(a.summary())
    assert fp.Trace.from_bytes(f.to_bytes()) == a
    os.remove(path)
    f.save(str(tmp_path / "copy.fpt"))
    assert fp.load(str(tmp_path / "copy.fpt"), backed=False) == a
    assert len(f.calls()) == len(a) and not f.file.endswith("new.fpt")
