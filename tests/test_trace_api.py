"""The Python surface of Trace (rust/python/src/trace.rs): every method, every save/load format
round trip, and every bad-input path of the API."""
import base64
import json
import os
import pathlib
import threading
import zlib

import pytest

import fprofile_jupyter as fj
from fprofile_jupyter import FormatError, Trace, _core

S = 1_000_000_000  # ns per second
T0 = 20 * S  # absolute times above 10 s, as perf_counter gives them

CODES = [
    ("/proj/app.py", "main", 1),
    ("/proj/app.py", "work", 10),
    ("/proj/lib.py", "leaf", 3),
]


def ev(t_us, code, ret=False):
    return (T0 + t_us * 1000, code, ret)


def sample(unfinished=True):
    """MainThread: main > (work > (leaf, leaf), work); Thread-1 (overlapping): work > leaf [, work unfinished]."""
    main = [ev(0, 0), ev(10, 1), ev(20, 2), ev(30, 2, True), ev(40, 2), ev(45, 2, True), ev(50, 1, True),
            ev(60, 1), ev(70, 1, True), ev(100, 0, True)]
    t1 = [ev(15, 1), ev(25, 2), ev(35, 2, True), ev(55, 1, True)]
    if unfinished:
        t1.append(ev(80, 1))
    return _core._build_trace(CODES, [(101, "MainThread", main), (102, "Thread-1", t1)],
                              start_ns=T0, stop_ns=T0 + 120_000, metadata=[("subs", '["/proj/"]'), ("note", "x")])


@pytest.fixture
def trace():
    return sample()


# --------------------------------------------------------------------------------------------------
# the object


def test_len_repr_and_basic_properties(trace):
    assert len(trace) == 8
    r = repr(trace)
    assert r.startswith("<Trace: 8 calls of 3 functions in 2 threads")
    assert '"MainThread"' in r and '"Thread-1"' in r
    assert trace.origin_ns == T0
    assert trace.duration_ns == 120_000  # the unfinished call closes at the stop time
    assert trace.metadata == {"subs": '["/proj/"]', "note": "x"}
    trace.metadata["note"] = "changed"  # a copy
    assert trace.metadata["note"] == "x"


def test_frozen(trace):
    with pytest.raises(AttributeError):
        trace.origin_ns = 5
    t = trace.threads[0]
    with pytest.raises(AttributeError):
        t.name = "other"
    c = trace.calls()[0]
    with pytest.raises(AttributeError):
        c.depth = 3


def test_threads(trace):
    th = trace.threads
    assert [t.index for t in th] == [0, 1]
    assert [t.name for t in th] == ["MainThread", "Thread-1"]
    assert [t.os_id for t in th] == [101, 102]
    assert th[0].names == [(0, "MainThread")]
    assert (th[0].first_ns, th[0].last_ns) == (0, 100_000)
    assert (th[1].first_ns, th[1].last_ns) == (15_000, 120_000)
    assert [t.lane for t in th] == [0, 1]  # overlapping spans: different lanes (PYME's rule)
    assert [t.call_count for t in th] == [5, 3]
    assert "ThreadInfo(index=1" in repr(th[1]) and '"Thread-1"' in repr(th[1])


def test_calls(trace):
    calls = trace.calls()
    assert [c.index for c in calls] == list(range(8))
    main = calls[:5]
    # pre-order: main, work, leaf, leaf, work
    assert [(c.function, c.depth, c.parent) for c in main[:5]] == [
        ("main", 0, None), ("work", 1, 0), ("leaf", 2, 1), ("leaf", 2, 1), ("work", 1, 0)]
    m, w, l1 = main[0], main[1], main[2]
    assert (m.start_ns, m.end_ns, m.duration_ns) == (0, 100_000, 100_000)
    assert (w.start_ns, w.end_ns) == (10_000, 50_000)
    assert w.self_ns == 40_000 - 10_000 - 5_000
    assert m.self_ns == 100_000 - 40_000 - 10_000
    assert (l1.file, l1.line, l1.thread) == ("/proj/lib.py", 3, 0)
    assert not any(c.unfinished or c.started_before for c in main)
    last = calls[-1]
    assert (last.function, last.thread, last.unfinished, last.end_ns) == ("work", 1, True, 120_000)
    assert "unfinished" in repr(last) and repr(last).startswith("Call(work /proj/app.py:10 thread=1")


def test_calls_of_one_thread(trace):
    t1 = trace.calls(thread=1)
    assert [c.index for c in t1] == [5, 6, 7]
    assert all(c.thread == 1 for c in t1)
    assert [c.parent for c in t1] == [None, 5, None]
    with pytest.raises(IndexError, match="out of range"):
        trace.calls(thread=2)


def test_started_before():
    # a return with no call: the thread was inside `work` when recording began
    t = _core._build_trace(CODES, [(1, "T", [ev(5, 2), ev(6, 2, True), ev(9, 1, True)])], start_ns=T0)
    c = t.calls()
    assert [(x.function, x.depth, x.started_before) for x in c] == [("work", 0, True), ("leaf", 1, False)]


def test_folded(trace):
    assert trace.folded() == [
        "MainThread;main 1",
        "MainThread;main;work 2",
        "MainThread;main;work;leaf 2",
        "Thread-1;work 2",
        "Thread-1;work;leaf 1",
    ]


def test_pickle_and_copy(trace):
    import copy
    import pickle

    assert pickle.loads(pickle.dumps(trace)) == trace
    assert copy.deepcopy(trace) == trace
    assert copy.copy(trace) == trace


def test_calls_share_name_strings(trace):
    calls = [c for c in trace.calls() if c.function == "leaf"]
    assert len(calls) == 3 and calls[0].function is calls[1].function  # one str per function


def test_equality(trace):
    assert trace == sample()
    assert trace != sample(unfinished=False)
    assert trace != "not a trace"


# --------------------------------------------------------------------------------------------------
# summary


def test_summary_rows(trace):
    s = trace.summary()
    assert len(s) == 3 and s.thread is None and s.thread_name is None
    rows = {r.function: r for r in s}
    assert rows["work"].calls == 4
    assert rows["leaf"].calls == 3
    assert rows["main"].total_ns == 100_000
    assert rows["leaf"].max_ns == 10_000
    assert rows["leaf"].self_ns == 10_000 + 5_000 + 10_000
    assert [r.total_ns for r in s] == sorted((r.total_ns for r in s), reverse=True)
    assert s[0].function == s.rows[0].function and s[-1].function == s.rows[-1].function
    with pytest.raises(IndexError):
        s[3]
    d = s[0].to_dict()
    assert set(d) == {"code", "function", "file", "line", "calls", "total_ns", "self_ns", "mean_ns", "max_ns"}
    assert s.to_dicts()[0] == d
    assert "SummaryRow(function=" in repr(s[0])


def test_summary_slices(trace):
    s = trace.summary()
    top = s[:2]
    assert type(top).__name__ == "Summary" and len(top) == 2
    assert [r.function for r in top] == [r.function for r in s][:2]
    assert repr(top).splitlines()[0] == "Summary of all threads (2): 2 functions, by total time"
    assert [r.function for r in s[::-1]] == [r.function for r in s][::-1]
    assert len(s[5:]) == 0
    with pytest.raises(TypeError):
        s["main"]


def test_summary_per_thread_and_sorting(trace):
    s = trace.summary()
    per = s.per_thread
    assert [(p.thread, p.thread_name) for p in per] == [(0, "MainThread"), (1, "Thread-1")]
    assert {r.function: r.calls for r in per[1]} == {"work": 2, "leaf": 1}
    assert per[0].per_thread == []
    by_calls = s.sorted("calls")
    assert [r.calls for r in by_calls] == sorted((r.calls for r in s), reverse=True)
    assert [r.function for r in s.sorted("function")] == ["leaf", "main", "work"]
    for key in ("total", "self", "calls", "mean", "max", "function", "file"):
        assert len(s.sorted(key)) == 3
    with pytest.raises(ValueError, match="unknown sort key"):
        s.sorted("speed")


def test_summary_text_table(trace):
    s = trace.summary()
    text = repr(s)
    lines = text.splitlines()
    assert lines[0] == "Summary of all threads (2): 3 functions, by total time"
    assert lines[1].split() == ["calls", "total", "self", "mean", "max", "function", "file:line"]
    assert len(lines) == 5
    # fixed width: the function column starts at the same place on every row
    assert len({len(ln.split("  /")[0]) for ln in lines[2:]}) == 1, text
    assert "     100 µs  main" in text and "/proj/app.py:1" in text
    assert "8.333 µs" in text  # durations as _core.format_duration (tests/fixtures/durations.json)
    assert str(s) == s.format_table()
    limited = s.format_table(limit=1)
    assert limited.splitlines()[-1] == "... 2 more rows"


def test_summary_table_columns_line_up_with_wide_and_combining_characters():
    # CJK names take two terminal columns a character, a combining accent none: the file column
    # still starts at one terminal column on every row, and a long wide name is cut to fit.
    import unicodedata

    names = ["测量", "e\u0301tat", "acquire_frames", "探测器" * 20]
    t = _core._build_trace([("/p/a.py", n, i + 1) for i, n in enumerate(names)],
                           [(1, "T", [e for i in range(4) for e in (ev(10 * i, i), ev(10 * i + 5, i, True))])],
                           start_ns=T0)

    def width(text):
        return sum(0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1
                   for c in text)

    lines = t.summary().format_table().splitlines()[1:]
    starts = {width(ln[:ln.index("/p/a.py") if "/p/" in ln else ln.index("file:line")]) for ln in lines}
    assert len(starts) == 1, "\n".join(lines)
    (cut,) = [ln for ln in lines if "探测器" in ln]
    assert "~" in cut and width(cut.split("  /p/")[0].split()[-1]) <= 40


def test_summary_html_escapes_names():
    t = _core._build_trace([("/p/<b>x&y.py", "<script>alert(1)</script>", 1)],
                           [(1, "T<i>", [ev(0, 0), ev(1, 0, True)])], start_ns=T0)
    html = t.summary()._repr_html_()
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;x&amp;y.py" in html
    assert html.startswith('<table class="fprofile-summary">')
    assert html.count("<tr>") == 2  # header + one row
    text = repr(t.summary())
    assert "<script>alert(1)</script>" in text  # plain text is shown as text


def test_the_static_table_is_the_summary_table_of_the_core():
    """The notebook's static copy (_display.static_summary_html) renders its rows with the core's
    one table renderer: the same header and rows as Summary's HTML table, names escaped, at most
    STATIC_SUMMARY_ROWS rows and a line saying how many more."""
    import re

    from fprofile_jupyter import _display

    codes = [("/p/<b>x&y.py", "<script>alert(1)</script>", 1)] + [("/p/m.py", f"f{i}", i) for i in range(30)]
    t = _core._build_trace(codes, [(1, "T", [e for k in range(31) for e in (ev(10 * k, k), ev(10 * k + 5, k, True))])],
                           start_ns=T0)
    page = _display.static_summary_html(t)
    core = t.summary()._repr_html_()
    head = re.search(r"<thead>.*?</thead>", core, re.S).group(0)
    assert head in page and "<th>function</th><th>calls</th>" in head
    assert '<table class="fprofile-summary-static" style="border-collapse:collapse">' in page
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert page.count("<tr>") == 1 + _display.STATIC_SUMMARY_ROWS
    assert f"... {31 - _display.STATIC_SUMMARY_ROWS} more rows" in page
    rows = re.findall(r"<tr><td>.*?</tr>", page)
    assert rows == re.findall(r"<tr><td>.*?</tr>", core)[:_display.STATIC_SUMMARY_ROWS]
    with pytest.raises(ValueError, match="not a summary's JSON"):
        _core.summary_static_table("[1", "[]", 3)


def test_per_thread_summary_html_escapes_the_thread_name():
    t = _core._build_trace([("/p/x.py", "f", 1)],
                           [(1, "<img src=x onerror=alert(1)>\"'&", [ev(0, 0), ev(1, 0, True)])], start_ns=T0)
    (per,) = t.summary().per_thread
    html = per._repr_html_()
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert html.count("<caption>") == 1 and "&amp;" in html


def test_durations_at_the_ends_of_the_clock_do_not_wrap():
    """Threads at both ends of the i64 range: the trace's duration saturates instead of wrapping
    to a negative number (or panicking in a debug build)."""
    t = _core._build_trace([("/a.py", "f", 1)],
                           [(1, "A", [(0, 0, False), (1, 0, True)]),
                            (2, "B", [(2**64 - 2, 0, False), (2**64 - 1, 0, True)])],
                           start_ns=2**63, stop_ns=2**64 - 1)
    assert t.duration_ns == 2**63 - 1
    assert [c.duration_ns for c in t.calls()] == [1, 1] and [c.self_ns for c in t.calls()] == [1, 1]
    assert "over" in repr(t) and "-" not in repr(t).split("over")[1]


def test_summary_text_escapes_control_characters():
    t = _core._build_trace([("/p/x.py", "bad\tname\nhere", 1)], [(1, "T", [ev(0, 0), ev(1, 0, True)])], start_ns=T0)
    lines = repr(t.summary()).splitlines()
    assert len(lines) == 3 and "bad\\tname\\nhere" in lines[2]


def test_summary_json_matches_summary(trace):
    data = json.loads(trace.summary_json())
    assert set(data) == {"overall", "processes", "threads"}
    assert [r["function"] for r in data["overall"]] == [r.function for r in trace.summary()]
    assert [t["name"] for t in data["threads"]] == ["MainThread", "Thread-1"]
    # one process: its rows are the overall rows
    assert [(p["process"], p["rows"]) for p in data["processes"]] == [(0, data["overall"])]
    assert [t["process"] for t in data["threads"]] == [0, 0]


def test_empty_summary():
    t = _core._build_trace([], [], start_ns=T0)
    assert len(t) == 0 and t.threads == [] and t.calls() == []
    assert len(t.summary()) == 0
    assert "(no calls)" in repr(t.summary())
    assert t.duration_ns == 0


# --------------------------------------------------------------------------------------------------
# bytes, save, load


def test_bytes_round_trip(trace):
    b = trace.to_bytes()
    assert isinstance(b, bytes) and b[:4] == b"FPRF"
    t2 = Trace.from_bytes(b)
    assert t2 == trace
    assert t2.to_bytes() == b
    assert _core.load_bytes(b) == trace


def test_bytes_zlib_level(trace):
    # level 1 (what Dask workers send) and 0 decode to the same trace; only the body's
    # compression differs
    for level in (0, 1, 9):
        assert Trace.from_bytes(trace.to_bytes(level=level)) == trace
    assert len(trace.to_bytes(level=0)) > len(trace.to_bytes(level=9))
    for bad in (10, 99):
        with pytest.raises(ValueError, match="level must be 0 to 9"):
            trace.to_bytes(level=bad)
    with pytest.raises(OverflowError):
        trace.to_bytes(level=-1)


def test_from_bytes_rejects_garbage(trace):
    b = trace.to_bytes()
    with pytest.raises(FormatError, match="byte"):
        Trace.from_bytes(b[:-3])
    with pytest.raises(FormatError, match="empty"):
        Trace.from_bytes(b"")
    with pytest.raises(FormatError, match="magic"):
        Trace.from_bytes(b"NOPE" + b[4:])


@pytest.mark.parametrize("name,fmt", [
    ("t.fpt", None), ("t.bin", "fpt"), ("t.txt", None), ("t.log", "pyme-text"), ("t.json", None), ("t.js", "pyme-json"),
])
def test_save_load_round_trip(tmp_path, name, fmt):
    t = sample(unfinished=False)  # PYME JSON has no unfinished calls (its converter drops them)
    p = tmp_path / name
    t.save(p, fmt) if fmt else t.save(str(p))
    t2 = fj.load(p)
    assert t2.folded() == t.folded()
    assert len(t2) == len(t)
    assert [c.start_ns for c in t2.calls()] == [c.start_ns for c in t.calls()]
    assert [c.end_ns for c in t2.calls()] == [c.end_ns for c in t.calls()]
    assert [th.name for th in t2.threads] == ["MainThread", "Thread-1"]
    if name.endswith((".fpt", ".bin")):
        assert t2 == t  # exact
    assert not list(tmp_path.glob(".*.part"))  # the temporary file is gone


def test_fpt_and_text_keep_unfinished_calls(tmp_path, trace):
    for name in ("a.fpt", "a.txt"):
        trace.save(tmp_path / name)
        t2 = fj.load(tmp_path / name)
        assert [c.unfinished for c in t2.calls()] == [c.unfinished for c in trace.calls()]


def test_save_pyme_json_schema(tmp_path, trace):
    trace.save(tmp_path / "t.json")
    data = json.loads((tmp_path / "t.json").read_text())
    assert set(data) >= {"callstack", "threadNames", "threadLines", "maxConcurrentThreads"}
    assert data["threadNames"] == ["MainThread", "Thread-1"]
    assert data["maxConcurrentThreads"] == 2
    e = data["callstack"][0]
    assert set(e) == {"ts", "tf", "f", "n", "l", "td", "tl", "ns"}
    assert isinstance(e["ns"], str) and e["l"] >= 1


@pytest.mark.parametrize("name,fmt", [("t.perfetto.json", None), ("t.trace.json", None), ("t.pf", "perfetto")])
def test_save_perfetto(tmp_path, trace, name, fmt):
    trace.save(tmp_path / name, fmt)
    data = json.loads((tmp_path / name).read_text())
    events = data["traceEvents"] if isinstance(data, dict) else data
    complete = [e for e in events if e.get("ph") == "X"]
    assert len(complete) == len(trace)
    names = {e["args"]["name"] for e in events if e.get("ph") == "M" and e.get("name") == "thread_name"}
    assert names == {"MainThread", "Thread-1"}
    with pytest.raises(FormatError, match="perfetto file: fprofile writes this format but does not read it"):
        fj.load(tmp_path / name)


@pytest.mark.parametrize("name,fmt", [("t.speedscope.json", None), ("t.ss", "speedscope")])
def test_save_speedscope(tmp_path, trace, name, fmt):
    trace.save(tmp_path / name, fmt)
    data = json.loads((tmp_path / name).read_text())
    assert "speedscope" in data["$schema"]
    assert len(data["profiles"]) == 2
    assert sorted(f["name"] for f in data["shared"]["frames"]) == ["leaf", "main", "work"]


@pytest.mark.parametrize("name,fmt", [("t.html", None), ("t.htm", None), ("page", "html")])
def test_save_html(tmp_path, trace, name, fmt):
    trace.save(tmp_path / name, fmt, title="My <run>")
    page = (tmp_path / name).read_text()
    assert page.lstrip().lower().startswith("<!doctype html")
    assert "My &lt;run&gt;" in page and "My <run>" not in page


def test_save_html_default_title_is_the_file_name(tmp_path, trace):
    trace.save(tmp_path / "nightly-run.html")
    assert "nightly-run" in (tmp_path / "nightly-run.html").read_text()


def test_save_bad_format_and_extension(tmp_path, trace):
    with pytest.raises(ValueError, match=r"cannot tell the format from the file name .*pass format="):
        trace.save(tmp_path / "t.xyz")
    with pytest.raises(ValueError, match='unknown output format "csv"'):
        trace.save(tmp_path / "t.fpt", "csv")
    assert not list(tmp_path.iterdir())


def test_save_to_missing_directory(tmp_path, trace):
    target = tmp_path / "nope" / "t.fpt"
    with pytest.raises(FileNotFoundError) as ei:
        trace.save(target)
    assert ei.value.filename == str(target)


def test_save_replaces_atomically(tmp_path, trace):
    p = tmp_path / "t.fpt"
    p.write_bytes(b"old")
    trace.save(p)
    assert fj.load(p) == trace


def test_load_accepts_pathlike_and_str(tmp_path, trace):
    trace.save(tmp_path / "t.fpt")
    assert fj.load(str(tmp_path / "t.fpt")) == trace
    assert fj.load(pathlib.Path(tmp_path / "t.fpt")) == trace
    assert _core.load(tmp_path / "t.fpt") == trace


def test_load_detects_by_content_not_extension(tmp_path, trace):
    trace.save(tmp_path / "a.txt")  # PYME text under a misleading name
    os.rename(tmp_path / "a.txt", tmp_path / "a.json")
    assert fj.load(tmp_path / "a.json").folded() == trace.folded()
    trace.save(tmp_path / "b.fpt")
    os.rename(tmp_path / "b.fpt", tmp_path / "b.txt")
    assert fj.load(tmp_path / "b.txt") == trace


def test_load_explicit_format(tmp_path, trace):
    trace.save(tmp_path / "a.fpt")
    assert fj.load(tmp_path / "a.fpt", "fpt") == trace
    with pytest.raises(FormatError, match=r"a\.fpt: "):
        fj.load(tmp_path / "a.fpt", "pyme-json")
    with pytest.raises(ValueError, match='unknown input format "html"'):
        fj.load(tmp_path / "a.fpt", "html")


def test_load_bytes_every_format(tmp_path, trace):
    for name in ("a.fpt", "a.txt", "a.json"):
        trace.save(tmp_path / name)
        data = (tmp_path / name).read_bytes()
        t = _core.load_bytes(data)
        assert t.folded() == fj.load(tmp_path / name).folded()
    with pytest.raises(FormatError, match="empty"):
        _core.load_bytes(b"")


def test_io_load_bytes_wrapper(trace):
    from fprofile_jupyter import _io

    assert _io.load_bytes(trace.to_bytes()) == trace


def test_pyme_text_as_pyme_writes_it(tmp_path):
    # the original tool's file: absolute perf_counter seconds, six fields, its own file order
    lines = [
        "12.000100\tMainThread\t/home/u/PYME/io/x.py\tload\tcall\t42",
        "12.000200\tMainThread\t/home/u/PYME/io/x.py\tparse\tcall\t50",
        "12.000300\tWorker-1\t/home/u/PYME/io/y.py\trun\tcall\t7",
        "12.000400\tMainThread\t/home/u/PYME/io/x.py\tparse\treturn\t50",
        "12.000900\tMainThread\t/home/u/PYME/io/x.py\tload\treturn\t42",
        "12.001000\tWorker-1\t/home/u/PYME/io/y.py\trun\treturn\t7",
    ]
    p = tmp_path / "somefile.txt"
    p.write_text("\n".join(lines) + "\n")
    t = fj.load(p)
    assert t.folded() == ["MainThread;load 1", "MainThread;load;parse 1", "Worker-1;run 1"]
    c = t.calls()
    assert (c[0].function, c[0].line, c[0].start_ns, c[0].end_ns) == ("load", 42, 0, 800_000)
    assert t.origin_ns == 12_000_100_000


# --------------------------------------------------------------------------------------------------
# bad input: one clear message with the path and where


def test_load_missing_file(tmp_path):
    p = tmp_path / "missing.fpt"
    with pytest.raises(FileNotFoundError) as ei:
        fj.load(p)
    assert ei.value.filename == str(p)
    assert str(p) in str(ei.value)


def test_load_directory(tmp_path):
    with pytest.raises(IsADirectoryError) as ei:
        fj.load(tmp_path)
    assert ei.value.filename == str(tmp_path)


def _one_line(e):
    msg = str(e)
    assert "\n" not in msg, msg
    return msg


def test_load_empty_file(tmp_path):
    p = tmp_path / "empty.fpt"
    p.write_bytes(b"")
    with pytest.raises(FormatError) as ei:
        fj.load(p)
    assert _one_line(ei.value) == f"{p}: empty file: not a trace"


def test_load_truncated_fpt(tmp_path, trace):
    data = trace.to_bytes()
    for cut in (3, 10, len(data) - 1):
        p = tmp_path / f"cut{cut}.fpt"
        p.write_bytes(data[:cut])
        with pytest.raises(FormatError) as ei:
            fj.load(p)
        msg = _one_line(ei.value)
        assert msg.startswith(f"{p}: ")
        assert "byte" in msg or "header" in msg, msg


def test_load_corrupted_fpt_body(tmp_path, trace):
    # a valid zlib stream holding a body that ends too early
    data = trace.to_bytes()
    body = zlib.decompress(data[16:])
    bad = body[: len(body) // 2]
    header = data[:8] + len(bad).to_bytes(8, "little")
    p = tmp_path / "half.fpt"
    p.write_bytes(header + zlib.compress(bad))
    with pytest.raises(FormatError, match=r"half\.fpt: .*byte \d+"):
        fj.load(p)


def test_load_future_fpt_version(tmp_path, trace):
    data = bytearray(trace.to_bytes())
    data[4:6] = (7).to_bytes(2, "little")
    p = tmp_path / "future.fpt"
    p.write_bytes(bytes(data))
    with pytest.raises(FormatError) as ei:
        fj.load(p)
    msg = _one_line(ei.value)
    assert msg.startswith(f"{p}: ") and "version 7" in msg and "newer" in msg


def test_load_garbled_text_line(tmp_path):
    p = tmp_path / "garbled.txt"
    p.write_text(
        "1.000000\tMainThread\t/a.py\tf\tcall\t1\n"
        "1.000001\tMainThread\t/a.py\tf\treturn\t1\n"
        "1.000002\tMainThread\t/a.py\tf\tcall\n"
    )
    with pytest.raises(FormatError) as ei:
        fj.load(p)
    msg = _one_line(ei.value)
    assert msg.startswith(f"{p}: line 3: "), msg


def test_load_bad_time_in_text(tmp_path):
    p = tmp_path / "badtime.txt"
    p.write_text("1.000000\tMainThread\t/a.py\tf\tcall\t1\nabc\tMainThread\t/a.py\tf\treturn\t1\n")
    with pytest.raises(FormatError, match=r"badtime\.txt: line 2: "):
        fj.load(p)


def test_load_json_that_is_not_a_trace(tmp_path):
    p = tmp_path / "config.json"
    p.write_text('{"name": "x", "values": [1, 2, 3]}')
    with pytest.raises(FormatError) as ei:
        fj.load(p)
    assert _one_line(ei.value).startswith(f"{p}: JSON that is not a trace")


def test_load_pyme_json_with_a_broken_entry(tmp_path):
    p = tmp_path / "broken.json"
    p.write_text('{"callstack": [{"ts": 0.1}], "threadNames": ["MainThread"], "threadLines": [], "maxConcurrentThreads": 1}')
    with pytest.raises(FormatError) as ei:
        fj.load(p)
    msg = _one_line(ei.value)
    assert msg.startswith(f"{p}: ") and "line 1" in msg


def test_load_binary_garbage(tmp_path):
    p = tmp_path / "noise.bin"
    p.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(FormatError, match=r"noise\.bin: not a trace"):
        fj.load(p)


def test_format_error_is_a_value_error():
    assert issubclass(FormatError, ValueError)


# --------------------------------------------------------------------------------------------------
# progress, display, a real recording


def test_load_progress_callback(tmp_path, trace):
    trace.save(tmp_path / "a.txt")
    seen = []
    t = fj.load(tmp_path / "a.txt", progress=lambda done, total: seen.append((done, total)))
    size = (tmp_path / "a.txt").stat().st_size
    assert t.folded() == trace.folded()
    assert seen and seen[-1] == (size, size)
    assert all(0 <= d <= tot == size for d, tot in seen)


def test_load_progress_callback_exception_propagates(tmp_path, trace):
    trace.save(tmp_path / "a.fpt")

    def boom(done, total):
        raise KeyError("from the callback")

    with pytest.raises(KeyError, match="from the callback"):
        fj.load(tmp_path / "a.fpt", progress=boom)


def test_repr_mimebundle_outside_a_kernel(trace):
    bundle = trace._repr_mimebundle_()
    assert bundle["text/plain"] == repr(trace)


def test_show_outside_a_kernel_prints_repr(trace, capsys):
    trace.show()
    assert capsys.readouterr().out.strip() == repr(trace)


def test_gil_is_released_while_loading(tmp_path):
    # A large text file parsed in the main thread while another thread wants the GIL. With a huge
    # switch interval the interpreter never takes the GIL from the main thread by force, so the
    # other thread can only run while load() has released it.
    import sys
    import time

    n = 200_000
    lines = []
    for i in range(n):
        t = 1.0 + i * 1e-6
        lines.append(f"{t:.6f}\tMainThread\t/a.py\tf\t{'call' if i % 2 == 0 else 'return'}\t1")
    p = tmp_path / "big.txt"
    p.write_text("\n".join(lines) + "\n")
    ticks = []
    stop = threading.Event()
    started = threading.Event()

    def spin():
        started.set()
        while not stop.is_set():
            time.sleep(0.0002)  # releases the GIL, then needs it back to count
            ticks.append(1)

    old = sys.getswitchinterval()
    th = threading.Thread(target=spin)
    th.start()
    assert started.wait(30)
    sys.setswitchinterval(1000.0)
    try:
        before = len(ticks)
        t = fj.load(p)
        during = len(ticks) - before
    finally:
        sys.setswitchinterval(old)
        stop.set()
        th.join()
    assert len(t) == n // 2
    assert during > 0


def test_real_recording_round_trips(tmp_path):
    def leaf(i):
        return i + 1

    def work():
        return sum(leaf(i) for i in range(5))

    with fj.profile(subs=[os.path.abspath(__file__)]) as prof:
        work()
        th = threading.Thread(target=work, name="helper")
        th.start()
        th.join()
    t = prof.trace
    assert isinstance(t, Trace)
    names = {th.name for th in t.threads}
    assert {"helper"} <= names
    # the recorder names functions by their qualified name on 3.11+ (co_qualname)
    assert sum(1 for c in t.calls() if c.function.split(".")[-1] == "leaf") == 10
    for name in ("r.fpt", "r.txt", "r.json"):
        t.save(tmp_path / name)
        assert fj.load(tmp_path / name).folded() == t.folded()
    assert Trace.from_bytes(t.to_bytes()) == t


def test_one_call_one_function_is_said_in_the_singular(tmp_path, capsys):
    from fprofile_jupyter import _display
    from fprofile_jupyter.cli import run as _run

    t = _core._build_trace([("/p/a.py", "only", 1)], [(1, "T", [ev(10, 0), ev(20, 0, True)])], start_ns=T0)
    assert repr(t).startswith("<Trace: 1 call of 1 function in 1 thread ")
    assert ">fprofile · 1 call · 1 thread · " in _display.caption(t)
    assert "1 call in 1 thread" in _display.static_summary_html(t)
    _run._print_written(t, str(tmp_path / "one.fpt"))
    assert ": 1 call in 1 thread over " in capsys.readouterr().err
    # and the plural stays for two
    t2 = _core._build_trace([("/p/a.py", "a", 1), ("/p/a.py", "b", 2)],
                            [(1, "T", [ev(10, 0), ev(20, 0, True), ev(30, 1), ev(40, 1, True)])], start_ns=T0)
    assert repr(t2).startswith("<Trace: 2 calls of 2 functions in 1 thread ")


def test_text_durations_never_read_1000_of_a_unit():
    # 999.96 µs and 999.9996 ms round up: they read in the next unit
    t = _core._build_trace([("/p/a.py", "f", 1), ("/p/a.py", "g", 2)],
                           [(1, "T", [(T0, 0, False), (T0 + 999_960, 0, True),
                                      (T0 + 2_000_000, 1, False), (T0 + 2_000_000 + 999_999_600, 1, True)])],
                           start_ns=T0)
    text = t.summary().format_table()
    assert "1000 µs" not in text and "1000 ms" not in text, text
    assert "       1 ms  f" in text and "        1 s  g" in text, text


def test_durations_as_text_follow_the_shared_table():
    # one rule for every front end: the table js/units.js produced, checked here against the core
    table = json.loads((pathlib.Path(__file__).parent / "fixtures" / "durations.json").read_text(encoding="utf-8"))
    wrong = [(ns, _core.format_duration(ns), text) for ns, text in table["cases"] if _core.format_duration(ns) != text]
    assert not wrong, wrong


def test_format_table_is_what_load_save_and_the_cli_use():
    from fprofile_jupyter import _io, cli

    table = _core.formats()
    assert [name for name, *_ in table] == ["fpt", "pyme-json", "pyme-text", "perfetto", "speedscope", "html", "png"]
    assert _io.LOAD_FORMATS == ("fpt", "pyme-json", "pyme-text")
    assert _io.SAVE_FORMATS == cli.SAVE_FORMATS == tuple(name for name, _e, _r, writes in table if writes)
    assert set(cli.SAVE_ENDINGS) == {".fpt", ".json", ".txt", ".perfetto.json", ".trace.json", ".speedscope.json",
                                     ".html", ".htm", ".png"}


def test_one_display_encodes_once_and_summarises_once(monkeypatch):
    """A displayed trace's views (the output's trace, the static caption and table) come from one
    encoding and one summary of the trace."""
    from fprofile_jupyter import _display

    t = _core._build_trace([("/p/a.py", "f", 1)], [(1, "T", [ev(10, 0), ev(20, 0, True)])], start_ns=T0)
    counts = {"to_bytes": 0, "summary_json": 0}

    class Counting:
        def __init__(self, trace):
            self._t = trace

        def __getattr__(self, name):
            if name.startswith("_"):
                raise AttributeError(name)
            if name in counts:
                counts[name] += 1
            return getattr(self._t, name)

        def __len__(self):
            return len(self._t)

        def __repr__(self):
            return repr(self._t)

    monkeypatch.setattr(_display, "in_kernel", lambda: True)
    bundle = _display.mimebundle(Counting(t))
    assert counts == {"to_bytes": 1, "summary_json": 1}, counts
    assert base64.b64decode(_display.output_payload(bundle)["fpt"]) == t.to_bytes()
    assert "fprofile-static-caption" in bundle["text/html"] and "fprofile-summary-static" in bundle["text/html"]


def test_the_notebook_captions_durations_follow_the_shared_table():
    # _display.fmt_ns (captions, the static table) is the core's rule: 999,960 ns read "1 ms"
    from fprofile_jupyter import _display

    table = json.loads((pathlib.Path(__file__).parent / "fixtures" / "durations.json").read_text(encoding="utf-8"))
    wrong = [(ns, _display.fmt_ns(ns), text) for ns, text in table["cases"] if _display.fmt_ns(ns) != text]
    assert not wrong, wrong
    assert _display.fmt_ns(999_960) == "1 ms"
