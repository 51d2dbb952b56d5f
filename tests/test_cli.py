"""The ``fprofile`` command (python/fprofile_jupyter/cli/), run as a user runs it: in a subprocess.

Every subcommand, its --help, the program-facing behaviour of ``run`` (argv, __main__, threads,
exceptions, exit codes, -m) and every bad-input path: one ``fprofile: error: ...`` line, exit
status 1 for bad input and 2 for usage errors, never a traceback of ours."""
import io
import json
import os
import shutil
import subprocess
import sys
import textwrap
import threading
from collections import Counter

import pytest

import fprofile_jupyter as fj
from fprofile_jupyter import _core, _progress, cli
from fprofile_jupyter.cli import common

ENV = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", PYTHONUNBUFFERED="1")
ENV.pop("PYTHONWARNINGS", None)


def fprofile(*args, cwd=None, timeout=120):
    return subprocess.run([sys.executable, "-m", "fprofile_jupyter", *map(str, args)], cwd=cwd, env=ENV,
                          capture_output=True, text=True, timeout=timeout)


def assert_one_line_error(proc, rc, *fragments):
    assert proc.returncode == rc, (proc.returncode, proc.stdout, proc.stderr)
    err = proc.stderr.strip()
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    assert len(err.splitlines()) == 1, err
    assert err.startswith("fprofile: error: "), err
    for f in fragments:
        assert f in err, (f, err)
    return err


THREADS_SCRIPT = textwrap.dedent(
    """
    import sys
    import threading

    def leaf(i):
        return i * 2

    def work(n):
        return sum(leaf(i) for i in range(n))

    def worker(k):
        work(10)

    if __name__ == "__main__":
        print("argv=" + repr(sys.argv))
        print("file=" + __file__)
        threads = [threading.Thread(target=worker, args=(k,), name=f"worker-{k}") for k in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        work(20)
        mode = sys.argv[1] if len(sys.argv) > 1 else ""
        if mode == "raise":
            def fail():
                raise ValueError("boom from the program")
            fail()
        if mode == "exit":
            sys.exit(3)
        if mode == "exitmsg":
            sys.exit("bad things")
        if mode == "interrupt":
            raise KeyboardInterrupt
        if mode == "late-thread":
            def late():
                import time
                time.sleep(0.2)
                work(5)
            threading.Thread(target=late, name="late").start()
    """
)


@pytest.fixture
def project(tmp_path):
    d = tmp_path / "proj"
    d.mkdir()
    (d / "prog.py").write_text(THREADS_SCRIPT)
    return d


def leaf_calls(trace):
    return sum(1 for c in trace.calls() if c.function.split(".")[-1] == "leaf")


# --------------------------------------------------------------------------------------------------
# run


def test_run_script_with_threads(project, tmp_path):
    proc = fprofile("run", "prog.py", "--flag", "value", cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert "argv=['prog.py', '--flag', 'value']" in proc.stdout
    assert f"file={project / 'prog.py'}" in proc.stdout
    out = project / "prog.fpt"
    assert out.is_file()
    t = fj.load(out)
    names = sorted(th.name for th in t.threads)
    assert names == ["MainThread", "worker-0", "worker-1", "worker-2"]
    assert leaf_calls(t) == 3 * 10 + 20
    assert sum(1 for c in t.calls() if c.function.split(".")[-1] == "worker") == 3
    err = proc.stderr.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("fprofile: wrote prog.fpt: ")
    assert "fprofile view prog.fpt" in err[0] and "fprofile export prog.fpt -o prog.html" in err[0]
    assert "Traceback" not in proc.stderr


def test_run_waits_for_the_programs_threads(project):
    proc = fprofile("run", "-o", "late.fpt", "prog.py", "late-thread", cwd=project)
    assert proc.returncode == 0, proc.stderr
    t = fj.load(project / "late.fpt")
    assert "late" in [th.name for th in t.threads]
    assert leaf_calls(t) == 3 * 10 + 20 + 5


def test_run_output_format_from_extension(project):
    proc = fprofile("run", "-o", "out.json", "prog.py", cwd=project)
    assert proc.returncode == 0, proc.stderr
    data = json.loads((project / "out.json").read_text())
    assert "callstack" in data and "MainThread" in data["threadNames"]


def test_run_script_that_raises(project):
    proc = fprofile("run", "-o", "r.fpt", "prog.py", "raise", cwd=project)
    assert proc.returncode == 1
    err = proc.stderr
    # the program's traceback, as `python prog.py` shows it, with none of fprofile's frames
    assert err.startswith("Traceback (most recent call last):\n"), err
    assert f'File "{project / "prog.py"}", line' in err
    assert "in fail" in err and "ValueError: boom from the program" in err
    assert "cli.py" not in err and "runpy" not in err and "fprofile_jupyter" not in err.split("fprofile: wrote")[0]
    assert err.strip().splitlines()[-1].startswith("fprofile: wrote r.fpt: ")
    t = fj.load(project / "r.fpt")
    assert any(c.function.split(".")[-1] == "fail" for c in t.calls())
    assert leaf_calls(t) == 50


def test_run_traceback_matches_python(project):
    ours = fprofile("run", "-o", "r.fpt", "prog.py", "raise", cwd=project)
    plain = subprocess.run([sys.executable, str(project / "prog.py"), "raise"], cwd=project, env=ENV,
                           capture_output=True, text=True)
    assert plain.returncode == ours.returncode == 1
    theirs = plain.stderr
    assert ours.stderr.startswith(theirs), (ours.stderr, theirs)


def test_run_keeps_exit_status(project):
    proc = fprofile("run", "-o", "e.fpt", "prog.py", "exit", cwd=project)
    assert proc.returncode == 3
    assert (project / "e.fpt").is_file()
    assert "Traceback" not in proc.stderr
    proc = fprofile("run", "-o", "m.fpt", "prog.py", "exitmsg", cwd=project)
    assert proc.returncode == 1
    assert proc.stderr.splitlines()[0] == "bad things"
    assert (project / "m.fpt").is_file()


def test_run_interrupted_program_still_writes(project):
    proc = fprofile("run", "-o", "i.fpt", "prog.py", "interrupt", cwd=project)
    assert proc.returncode == 130
    assert "Traceback" not in proc.stderr
    t = fj.load(project / "i.fpt")
    assert leaf_calls(t) == 50


def test_run_ctrl_c_still_writes(project):
    import signal

    (project / "sleeper.py").write_text(textwrap.dedent(
        """
        import time

        def tick(i):
            return i

        for i in range(3):
            tick(i)
        print("ready", flush=True)
        while True:
            time.sleep(0.05)
        """))
    proc = subprocess.Popen([sys.executable, "-m", "fprofile_jupyter", "run", "-o", "c.fpt", "sleeper.py"],
                            cwd=project, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" in err
    assert err.strip().splitlines()[-1].startswith("fprofile: wrote c.fpt: ")
    assert [c.function for c in fj.load(project / "c.fpt").calls()].count("tick") == 3


def test_run_module(tmp_path):
    pkg = tmp_path / "mypkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(textwrap.dedent(
        """
        import threading

        def f():
            return 1

        def main():
            import sys
            print("argv0=" + sys.argv[0].rsplit("/", 1)[-1], "args=" + repr(sys.argv[1:]))
            t = threading.Thread(target=f, name="helper")
            t.start()
            t.join()
            f()
        """))
    (pkg / "__main__.py").write_text("from . import main\nif __name__ == '__main__':\n    main()\n")
    (tmp_path / "single.py").write_text("import sys\ndef g():\n    return 2\nprint(__name__, sys.argv[1:])\ng()\n")
    proc = fprofile("run", "-m", "mypkg", "a", "-b", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "argv0=__main__.py args=['a', '-b']" in proc.stdout
    t = fj.load(tmp_path / "mypkg.fpt")
    funcs = [c.function for c in t.calls()]
    assert funcs.count("f") == 2 and "main" in funcs
    assert sorted(th.name for th in t.threads) == ["MainThread", "helper"]

    proc = fprofile("run", "-o", "s.fpt", "-m", "single", "--x", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "__main__ ['--x']" in proc.stdout
    assert [c.function for c in fj.load(tmp_path / "s.fpt").calls()] == ["<module>", "g"]


def test_run_module_of_the_standard_library(tmp_path):
    (tmp_path / "d.json").write_text('{"b": 1, "a": [1, 2]}')
    proc = fprofile("run", "-o", "tool.fpt", "-m", "json.tool", "--sort-keys", "d.json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert '"a"' in proc.stdout
    t = fj.load(tmp_path / "tool.fpt")
    assert len(t) > 0 and all("json" in c.file for c in t.calls())


def test_run_subs_option(tmp_path, project):
    lib = tmp_path / "elsewhere"
    lib.mkdir()
    (lib / "helper_mod.py").write_text("def helped():\n    return 5\n")
    (project / "uses.py").write_text(
        f"import sys\nsys.path.insert(0, {str(lib)!r})\nimport helper_mod\ndef mine():\n    return helper_mod.helped()\nmine()\n")
    proc = fprofile("run", "-o", "default.fpt", "uses.py", cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert "helped" not in [c.function for c in fj.load(project / "default.fpt").calls()]
    proc = fprofile("run", "--subs", "helper_mod", "-o", "subs.fpt", "uses.py", cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert [c.function for c in fj.load(project / "subs.fpt").calls()] == ["<module>", "helped"]  # its import, its call
    proc = fprofile("run", "--subs", "helper_mod,uses.py", "-o", "both.fpt", "uses.py", cwd=project)
    assert {c.function for c in fj.load(project / "both.fpt").calls()} >= {"helped", "mine"}


def test_run_with_builtins(project):
    (project / "sl.py").write_text("import time\ndef napper():\n    time.sleep(0.001)\nnapper()\n")
    proc = fprofile("run", "--builtins", "-o", "b.fpt", "sl.py", cwd=project)
    assert proc.returncode == 0, proc.stderr
    funcs = [c.function for c in fj.load(project / "b.fpt").calls()]
    assert "napper" in funcs and "sleep" in funcs


def test_run_event_cap(project):
    proc = fprofile("run", "--max-events", "10", "-o", "cap.fpt", "prog.py", cwd=project)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 2, lines
    assert lines[0] == ("fprofile: warning: the event cap was reached (10 events, a call is two): recording stopped "
                        "early; the trace keeps everything recorded until then. Pass a larger --max-events to record "
                        "more, or narrow --subs."), lines[0]
    assert lines[1].startswith("fprofile: wrote cap.fpt: ")
    t = fj.load(project / "cap.fpt")
    assert 0 < len(t) <= 10


def test_run_nothing_recorded_says_so(project):
    (project / "empty.py").write_text("x = 1\n")
    proc = fprofile("run", "--subs", "no-such-path-part", "empty.py", cwd=project)
    assert proc.returncode == 0
    assert "no calls were recorded" in proc.stderr and "--subs" in proc.stderr
    assert "(subs: no-such-path-part)" in proc.stderr, proc.stderr  # the metadata's JSON list, as text


def test_run_syntax_error_like_python(project):
    (project / "bad.py").write_text("x = (\n")
    proc = fprofile("run", "bad.py", cwd=project)
    assert proc.returncode == 1
    assert "SyntaxError" in proc.stderr and "cli.py" not in proc.stderr


def test_run_errors(project):
    assert_one_line_error(fprofile("run", cwd=project), 2, "a script or -m MODULE is required")
    assert_one_line_error(fprofile("run", "missing.py", cwd=project), 1, "missing.py", "No such file")
    assert_one_line_error(fprofile("run", "-m", "no_such_module_xyz", cwd=project), 1, "no_such_module_xyz")
    assert_one_line_error(fprofile("run", "-m", cwd=project), 2, "-m needs a module name")
    assert_one_line_error(fprofile("run", "--bogus", "prog.py", cwd=project), 2, "--bogus")
    assert_one_line_error(fprofile("run", "-o", "nodir/x.fpt", "prog.py", cwd=project), 1, "nodir")
    assert_one_line_error(fprofile("run", "--max-events", "0", "prog.py", cwd=project), 2, "--max-events")
    assert_one_line_error(fprofile("run", "-o", cwd=project), 2, "-o")
    proc = fprofile("run", "-o", "x.xyz", "prog.py", cwd=project)
    assert_one_line_error(proc, 2, "x.xyz", "cannot tell the format")
    assert "argv=" not in proc.stdout  # refused before the program ran


def test_run_options_after_the_script_belong_to_the_program(project):
    proc = fprofile("run", "prog.py", "-o", "x", "--help", cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert "argv=['prog.py', '-o', 'x', '--help']" in proc.stdout
    assert (project / "prog.fpt").is_file()


# --------------------------------------------------------------------------------------------------
# convert, stats, export, view


@pytest.fixture
def trace_file(tmp_path):
    t = _core._build_trace(
        [("/p/app.py", "main", 1), ("/p/app.py", "work", 5), ("/p/<lib>.py", "leaf", 9)],
        [(1, "MainThread", [(10_000, 0, False), (11_000, 1, False), (12_000, 2, False), (13_000, 2, True),
                            (14_000, 1, True), (15_000, 1, False), (19_000, 1, True), (20_000, 0, True)]),
         (2, "worker", [(12_000, 2, False), (18_000, 2, True), (18_500, 2, False), (18_900, 2, True)])],
        start_ns=10_000, stop_ns=21_000)
    p = tmp_path / "t.fpt"
    t.save(p)
    return p


@pytest.mark.parametrize("out,check", [
    ("o.json", lambda s: "callstack" in json.loads(s)),
    ("o.perfetto.json", lambda s: "traceEvents" in json.loads(s)),
    ("o.trace.json", lambda s: "traceEvents" in json.loads(s)),
    ("o.speedscope.json", lambda s: "speedscope" in json.loads(s)["$schema"]),
    ("o.txt", lambda s: s.splitlines()[0].count("\t") == 5),
    ("o.html", lambda s: s.lstrip().lower().startswith("<!doctype html")),
    ("o.fpt", None),
])
def test_convert_by_extension(trace_file, tmp_path, out, check):
    proc = fprofile("convert", trace_file, tmp_path / out)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    if check is None:
        assert fj.load(tmp_path / out) == fj.load(trace_file)
    else:
        assert check((tmp_path / out).read_text())


@pytest.mark.parametrize("fmt", ["pyme-json", "perfetto", "speedscope", "fpt", "pyme-text", "html"])
def test_convert_explicit_format(trace_file, tmp_path, fmt):
    out = tmp_path / f"out.{fmt}.data"
    proc = fprofile("convert", trace_file, out, "--format", fmt)
    assert proc.returncode == 0, proc.stderr
    assert out.stat().st_size > 0
    if fmt in ("pyme-json", "fpt", "pyme-text"):
        assert fj.load(out).folded() == fj.load(trace_file).folded()


# What each exported format must hold to load in its tool (the fields those tools read), and the
# trace's calls, counted per thread and function, found back in it.
PERFETTO_PHASES = {"X", "B", "E", "M", "i", "I", "C"}


@pytest.fixture
def rich_file(tmp_path):
    """Three threads of nested calls (tests/viewer_support.py), one function named with markup."""
    from viewer_support import make_trace

    p = tmp_path / "rich.fpt"
    make_trace(evil=True).save(p)
    return p


def calls_by_thread(trace) -> Counter:
    """{(thread index, function): calls} of a trace."""
    return Counter((c.thread, c.function) for c in trace.calls())


def perfetto_calls(doc: dict) -> tuple[Counter, list]:
    """Chrome Trace Event JSON checked against its format; ({(tid, name): calls}, [(tid, name, ts_ns,
    dur_ns)]). Complete events (X) must nest per thread; B/E events must pair in order."""
    assert isinstance(doc, dict) and isinstance(doc["traceEvents"], list)
    assert doc.get("displayTimeUnit", "ms") in ("ms", "ns")
    counts, spans, open_be = Counter(), [], {}
    for e in doc["traceEvents"]:
        assert isinstance(e, dict) and e.get("ph") in PERFETTO_PHASES, e
        assert isinstance(e["name"], str) and isinstance(e["pid"], int) and not isinstance(e["pid"], bool), e
        if e["ph"] == "M":
            assert isinstance(e.get("args"), dict), e
            continue
        assert isinstance(e["tid"], int) and isinstance(e["ts"], (int, float)) and not isinstance(e["ts"], bool), e
        key = (e["pid"], e["tid"])
        if e["ph"] == "X":
            assert isinstance(e["dur"], (int, float)) and e["dur"] >= 0, e
            counts[(e["tid"], e["name"])] += 1
            spans.append((e["pid"], e["tid"], e["name"], round(e["ts"] * 1000), round(e["dur"] * 1000)))
        elif e["ph"] == "B":
            open_be.setdefault(key, []).append((e["name"], e["ts"]))
        elif e["ph"] == "E":
            name, ts = open_be[key].pop()
            assert e.get("name", name) == name and e["ts"] >= ts, (e, name, ts)
            counts[(e["tid"], name)] += 1
    assert not any(open_be.values()), open_be
    # complete events of one thread nest (what Perfetto and chrome://tracing need to draw them)
    by_track: dict = {}
    for pid, tid, name, ts, dur in spans:
        by_track.setdefault((pid, tid), []).append((ts, -dur, name))
    for track in by_track.values():
        stack: list = []
        for ts, neg, name in sorted(track):
            while stack and stack[-1] <= ts:
                stack.pop()
            assert not stack or ts - neg <= stack[-1], ("overlapping events", name, ts, -neg)
            stack.append(ts - neg)
    return counts, [(tid, name, ts, dur) for _pid, tid, name, ts, dur in spans]


def speedscope_calls(doc: dict) -> dict:
    """A speedscope file checked against its format's required fields; {profile name: {function: calls}}.
    Evented profiles' open/close events must balance, close what they opened, and go forward in time."""
    assert doc["$schema"] == "https://www.speedscope.app/file-format-schema.json"
    frames = doc["shared"]["frames"]
    assert isinstance(frames, list) and all(isinstance(f["name"], str) for f in frames)
    assert isinstance(doc["profiles"], list) and doc["profiles"]
    out = {}
    for prof in doc["profiles"]:
        assert prof["type"] in ("evented", "sampled") and isinstance(prof["name"], str), prof.get("name")
        assert prof["unit"] in ("none", "nanoseconds", "microseconds", "milliseconds", "seconds", "bytes")
        start, end = prof["startValue"], prof["endValue"]
        assert isinstance(start, (int, float)) and isinstance(end, (int, float)) and start <= end
        assert prof["type"] == "evented", "fprofile writes evented profiles"
        counts, stack, last = Counter(), [], start
        for ev in prof["events"]:
            assert ev["type"] in ("O", "C") and 0 <= ev["frame"] < len(frames), ev
            assert last <= ev["at"] <= end, (prof["name"], last, ev, end)
            last = ev["at"]
            if ev["type"] == "O":
                stack.append(ev["frame"])
                counts[frames[ev["frame"]]["name"]] += 1
            else:
                assert stack and stack.pop() == ev["frame"], (prof["name"], ev)
        assert not stack, (prof["name"], "unclosed", stack)
        assert prof["name"] not in out
        out[prof["name"]] = counts
    return out


@pytest.mark.parametrize("fixture", ["trace_file", "rich_file"])
def test_convert_to_perfetto_loads_back_with_every_call(request, tmp_path, fixture):
    src = request.getfixturevalue(fixture)
    trace = fj.load(src)
    proc = fprofile("convert", src, tmp_path / "o.perfetto.json")
    assert proc.returncode == 0, proc.stderr
    counts, spans = perfetto_calls(json.loads((tmp_path / "o.perfetto.json").read_text(encoding="utf-8")))
    # tid: the thread's index + 1; ts / dur: microseconds from the trace's origin
    assert counts == Counter({(t + 1, f): n for (t, f), n in calls_by_thread(trace).items()})
    assert sorted(spans) == sorted((c.thread + 1, c.function, c.start_ns, c.end_ns - c.start_ns) for c in trace.calls())


@pytest.mark.parametrize("fixture", ["trace_file", "rich_file"])
def test_convert_to_speedscope_loads_back_with_every_call(request, tmp_path, fixture):
    src = request.getfixturevalue(fixture)
    trace = fj.load(src)
    proc = fprofile("convert", src, tmp_path / "o.speedscope.json")
    assert proc.returncode == 0, proc.stderr
    profiles = speedscope_calls(json.loads((tmp_path / "o.speedscope.json").read_text(encoding="utf-8")))
    want: dict = {}
    for (t, f), n in calls_by_thread(trace).items():
        want.setdefault(trace.threads[t].name, Counter())[f] = n
    assert profiles == want


@pytest.mark.parametrize("fixture", ["trace_file", "rich_file"])
def test_convert_to_html_draws_every_call_in_chromium(request, browser, tmp_path, fixture):
    from test_html_export import offline_page
    from viewer_support import coloured_pixels, wait_drawn

    src = request.getfixturevalue(fixture)
    trace = fj.load(src)
    proc = fprofile("convert", src, tmp_path / "o.html")
    assert proc.returncode == 0, proc.stderr
    context, page, blocked, errors = offline_page(browser)
    try:
        page.goto((tmp_path / "o.html").as_uri())
        assert wait_drawn(page) > 0
        assert coloured_pixels(page, "canvas.fprofile-zoom") > 100
        assert page.get_attribute(".fprofile-root", "data-calls") == str(len(trace))
        # the page's status line says how many calls and threads
        status = page.text_content(".fprofile-page-status")
        assert status.startswith(f"{len(trace):,} calls · {len(trace.threads)} threads · "), status
        # the summary table's calls per function: the trace's
        rows = page.locator("table.fprofile-summary tbody tr")
        shown = {rows.nth(i).locator("td").nth(0).text_content(): int(rows.nth(i).locator("td").nth(2).text_content().replace(",", ""))
                 for i in range(rows.count())}
        assert shown == dict(Counter(c.function for c in trace.calls()))
        assert not errors and not blocked, (errors, blocked)
    finally:
        context.close()


def test_convert_chain_text_to_json_to_fpt(trace_file, tmp_path):
    assert fprofile("convert", trace_file, tmp_path / "a.txt").returncode == 0
    assert fprofile("convert", tmp_path / "a.txt", tmp_path / "b.json").returncode == 0
    assert fprofile("convert", tmp_path / "b.json", tmp_path / "c.fpt").returncode == 0
    # PYME JSON keeps finished calls only; this trace has none unfinished
    assert fj.load(tmp_path / "c.fpt").folded() == fj.load(trace_file).folded()


def test_convert_errors(trace_file, tmp_path):
    assert_one_line_error(fprofile("convert", trace_file, tmp_path / "x.json", "--format", "csv"), 2, "--format", "csv")
    assert_one_line_error(fprofile("convert", trace_file, tmp_path / "x.unknown"), 1, "cannot tell the format")
    assert_one_line_error(fprofile("convert", trace_file), 2, "OUT")
    assert_one_line_error(fprofile("convert", tmp_path / "none.fpt", tmp_path / "x.json"), 1, "none.fpt", "No such file")
    assert_one_line_error(fprofile("convert", trace_file, tmp_path / "no" / "x.json"), 1, "No such file")
    assert not (tmp_path / "x.unknown").exists()


BAD_INPUTS = {
    "empty.fpt": (b"", "empty file"),
    "garbled.txt": (b"1.000000\tMainThread\t/a.py\tf\tcall\t1\n1.5\tMainThread\t/a.py\tf\tcall\n", "line 2"),
    "notrace.json": (b'{"hello": "world"}', "JSON that is not a trace"),
    "broken.json": (b'{"callstack": [{"ts": 1}], "threadNames": []}', "line 1"),
    "noise.bin": (bytes(range(256)), "not a trace"),
}


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
@pytest.mark.parametrize("command", ["convert", "stats", "export"])
def test_bad_input_one_line(tmp_path, name, command):
    data, fragment = BAD_INPUTS[name]
    p = tmp_path / name
    p.write_bytes(data)
    args = {"convert": [p, tmp_path / "out.json"], "stats": [p], "export": [p, "-o", tmp_path / "out.html"]}[command]
    err = assert_one_line_error(fprofile(command, *args), 1, str(p), fragment)
    assert not (tmp_path / "out.json").exists() and not (tmp_path / "out.html").exists(), err


def test_truncated_and_future_fpt(trace_file, tmp_path):
    data = trace_file.read_bytes()
    cut = tmp_path / "cut.fpt"
    cut.write_bytes(data[: len(data) - 4])
    assert_one_line_error(fprofile("stats", cut), 1, str(cut), "byte")
    future = tmp_path / "future.fpt"
    future.write_bytes(data[:4] + (3).to_bytes(2, "little") + data[6:])
    assert_one_line_error(fprofile("convert", future, tmp_path / "f.json"), 1, str(future), "version 3", "newer")


def test_directory_as_input(tmp_path):
    assert_one_line_error(fprofile("stats", tmp_path), 1, str(tmp_path), "directory")


def test_stats(trace_file):
    proc = fprofile("stats", trace_file)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "Summary of all threads (2): 3 functions, by total time"
    assert lines[1].split() == ["calls", "total", "self", "mean", "max", "function", "file:line"]
    # main 10 us; leaf 1 + 6 + 0.4 us; work 3 + 4 us
    assert [ln.split()[-2] for ln in lines[2:]] == ["main", "leaf", "work"]
    assert lines[3].split()[:2] == ["3", "7.4"]  # leaf: 1 call in MainThread + 2 in worker
    assert "/p/<lib>.py:9" in proc.stdout


def test_stats_unknown_thread_among_many_names_a_few(tmp_path):
    t = _core._build_trace([("/p/app.py", "work", 5)],
                           [(i + 1, f"pool-worker-{i:02d}", [(10_000 + i, 0, False), (10_500 + i, 0, True)])
                            for i in range(50)],
                           start_ns=10_000, stop_ns=21_000)
    t.save(tmp_path / "many.fpt")
    err = assert_one_line_error(fprofile("stats", tmp_path / "many.fpt", "--thread", "pool-worker-99"), 1,
                                "no thread named 'pool-worker-99'", "'pool-worker-00'", "'pool-worker-07'",
                                "42 more", "--json")
    assert "pool-worker-08" not in err and len(err) < 400, err


def test_stats_options(trace_file):
    proc = fprofile("stats", trace_file, "--sort", "calls", "--top", "1")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert "by calls" in lines[0]
    assert lines[2].split()[-2] == "leaf" and lines[3] == "... 2 more rows"
    proc = fprofile("stats", trace_file, "--thread", "worker")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0].startswith('Summary of thread 1 "worker": 1 function')
    proc = fprofile("stats", trace_file, "--thread", "0", "--sort", "self")
    assert proc.stdout.splitlines()[0].startswith('Summary of thread 0 "MainThread"')
    assert_one_line_error(fprofile("stats", trace_file, "--thread", "nobody"), 1, "no thread named 'nobody'", "'worker'")
    assert_one_line_error(fprofile("stats", trace_file, "--sort", "speed"), 2, "--sort")
    assert_one_line_error(fprofile("stats", trace_file, "--top", "-1"), 2, "--top")
    assert_one_line_error(fprofile("stats", trace_file, "--top", "many"), 2, "--top")


def test_stats_json(trace_file):
    proc = fprofile("stats", trace_file, "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert [r["function"] for r in data["overall"]] == ["main", "leaf", "work"]
    assert [t["name"] for t in data["threads"]] == ["MainThread", "worker"]


TWO_PROCESSES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "two_processes.fpt")


def test_stats_of_several_processes_all_threads_then_each_process():
    # tests/fixtures/two_processes.fpt (rust/core/tests/common: two_process_trace): pid 100
    # "python main.py" with MainThread and Pool, pid 101 "SpawnProcess-1" with MainThread and Worker
    proc = fprofile("stats", TWO_PROCESSES)
    assert proc.returncode == 0, proc.stderr
    sections = proc.stdout.split("\n\n")
    assert [s.splitlines()[0] for s in sections] == [
        "Summary of all threads (4): 6 functions, by total time",
        'Summary of process 0 "python main.py (100)", 2 threads: 4 functions, by total time',
        'Summary of process 1 "SpawnProcess-1 (101)", 2 threads: 2 functions, by total time',
    ]
    child = [ln.split() for ln in sections[2].splitlines()[2:]]
    assert [(r[0], r[-2]) for r in child] == [("3", "step"), ("1", "work")]
    parent = [ln.split()[-2] for ln in sections[1].splitlines()[2:]]
    assert parent == ["main", "wait", "load", "feed"]
    # --top applies to each section
    proc = fprofile("stats", TWO_PROCESSES, "--top", "1")
    assert [s.splitlines()[-1] for s in proc.stdout.split("\n\n")] == ["... 5 more rows", "... 3 more rows", "... 1 more rows"]


def test_stats_of_one_process(tmp_path):
    for key in ("101", "SpawnProcess-1"):
        proc = fprofile("stats", TWO_PROCESSES, "--process", key, "--sort", "calls")
        assert proc.returncode == 0, proc.stderr
        lines = proc.stdout.splitlines()
        assert lines[0] == 'Summary of process 1 "SpawnProcess-1 (101)", 2 threads: 2 functions, by calls'
        assert "\n\n" not in proc.stdout
    assert_one_line_error(fprofile("stats", TWO_PROCESSES, "--process", "7"), 1, "no process with pid or name '7'",
                          "100 'python main.py'", "101 'SpawnProcess-1'")
    assert_one_line_error(fprofile("stats", TWO_PROCESSES, "--process", "101", "--thread", "0"), 2, "--thread and --process")
    # --thread names a thread in any process: both MainThreads
    proc = fprofile("stats", TWO_PROCESSES, "--thread", "MainThread")
    assert [s.splitlines()[0].split(":")[0] for s in proc.stdout.split("\n\n")] == [
        'Summary of thread 0 "MainThread"', 'Summary of thread 2 "MainThread"']
    data = json.loads(fprofile("stats", TWO_PROCESSES, "--json").stdout)
    assert [(p["process"], p["pid"], p["name"]) for p in data["processes"]] == [(0, 100, "python main.py"), (1, 101, "SpawnProcess-1")]
    assert [t["process"] for t in data["threads"]] == [0, 0, 1, 1]


def test_export(trace_file, tmp_path):
    proc = fprofile("export", trace_file, "-o", tmp_path / "page.html")
    assert proc.returncode == 0, proc.stderr
    page = (tmp_path / "page.html").read_text()
    assert page.lstrip().lower().startswith("<!doctype html")
    proc = fprofile("export", trace_file)  # default: next to the input
    assert proc.returncode == 0, proc.stderr
    assert trace_file.with_suffix(".html").is_file()
    assert_one_line_error(fprofile("export", trace_file, "-o", trace_file), 2, "overwrite")
    proc = fprofile("export", trace_file, "-o", tmp_path / "titled.html", "--title", "Run <7>")
    assert proc.returncode == 0, proc.stderr
    assert "Run &lt;7&gt;" in (tmp_path / "titled.html").read_text()


def test_view_wiring(trace_file):
    assert_one_line_error(fprofile("view", trace_file.parent / "nope.fpt"), 1, "nope.fpt", "No such file")
    assert_one_line_error(fprofile("view", "--port", "70000"), 2, "--port")
    assert_one_line_error(fprofile("view", trace_file.parent), 1, "directory")
    # a real start: the viewer prints its address (the readiness signal), then serves the trace
    import urllib.request

    proc = subprocess.Popen([sys.executable, "-m", "fprofile_jupyter", "view", str(trace_file), "--no-browser", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    try:
        seen = []
        for line in proc.stdout:  # the viewer may say what it reads first
            seen.append(line)
            if "http://127.0.0.1:" in line:
                break
        assert seen and "http://127.0.0.1:" in seen[-1], seen
        url = [w for w in seen[-1].split() if w.startswith("http://")][0]
        with urllib.request.urlopen(url, timeout=30) as r:
            assert r.status == 200 and b"<html" in r.read().lower()
    finally:
        proc.terminate()
        proc.wait(timeout=30)


# --------------------------------------------------------------------------------------------------
# help, usage, the console script


@pytest.mark.parametrize("command", ["run", "convert", "stats", "view", "export"])
def test_help_of_each_command(command):
    proc = fprofile(command, "--help")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"usage: fprofile {command}")
    assert proc.stderr == ""


def test_top_level_help_and_usage():
    proc = fprofile("--help")
    assert proc.returncode == 0 and "run" in proc.stdout and "convert" in proc.stdout and "stats" in proc.stdout
    proc = fprofile()
    assert proc.returncode == 2 and "usage: fprofile" in proc.stderr
    assert_one_line_error(fprofile("frobnicate"), 2, "unknown command 'frobnicate'")
    proc = fprofile("--version")
    assert proc.returncode == 0 and fj.__version__ in proc.stdout


def test_console_script_installed():
    exe = shutil.which("fprofile", path=os.path.dirname(sys.executable))
    assert exe is not None, "the fprofile console script is not installed next to this Python"
    proc = subprocess.run([exe, "--help"], capture_output=True, text=True, env=ENV, timeout=60)
    assert proc.returncode == 0 and proc.stdout.startswith("usage: fprofile")


# --------------------------------------------------------------------------------------------------
# the progress bar (in process)


class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_draws_on_a_terminal_only_after_the_delay():
    tty = _Tty()
    bar = cli.Progress("loading x", stream=tty, delay_s=0.0)
    bar.update(50, 100)
    assert "\rloading x [" in tty.getvalue() and " 50.0%" in tty.getvalue()
    bar.close()
    assert tty.getvalue().endswith("\r")  # the line is erased
    slow = _Tty()
    bar = cli.Progress("loading x", stream=slow, delay_s=3600)
    bar.update(50, 100)
    bar.close()
    assert slow.getvalue() == ""


def test_progress_bar_silent_when_not_a_terminal():
    log = io.StringIO()
    bar = cli.Progress("loading x", stream=log, delay_s=0.0)
    bar.update(1, 2)
    bar.close()
    assert log.getvalue() == ""


def test_no_carriage_returns_in_piped_stderr(tmp_path):
    lines = []
    for i in range(20_000):
        lines.append(f"{1 + i * 1e-6:.6f}\tMainThread\t/a.py\tf\t{'call' if i % 2 == 0 else 'return'}\t1")
    p = tmp_path / "big.txt"
    p.write_text("\n".join(lines) + "\n")
    # the bar's delay set to 0 (the file loads in milliseconds, under the 0.5 s default): only the
    # terminal check keeps the bar out of the pipe (tests/test_load_progress.py sees it on a terminal)
    code = ("import sys, fprofile_jupyter._progress as c; c.PROGRESS_DELAY_S = 0; from fprofile_jupyter.cli import main; "
            f"sys.exit(main(['convert', {str(p)!r}, {str(tmp_path / 'big.fpt')!r}]))")
    proc = subprocess.run([sys.executable, "-c", code], env=ENV, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "\r" not in proc.stderr and "loading" not in proc.stderr, repr(proc.stderr[:200])


def test_load_with_progress_on_a_terminal(monkeypatch, tmp_path):
    # cli.common.load passes the bar's update as the progress callback when stderr is a terminal
    t = _core._build_trace([("/a.py", "f", 1)], [(1, "T", [(1_000_000_000, 0, False), (1_000_001_000, 0, True)])])
    t.save(tmp_path / "a.txt")
    tty = _Tty()
    monkeypatch.setattr(sys, "stderr", tty)
    calls = []
    real = cli.Progress.update

    def spy(self, done, total):
        calls.append((done, total))
        real(self, done, total)

    monkeypatch.setattr(cli.Progress, "update", spy)
    loaded = common.load(str(tmp_path / "a.txt"))
    assert loaded.folded() == t.folded()
    size = (tmp_path / "a.txt").stat().st_size
    assert calls and calls[-1] == (size, size)


def test_save_notice_on_a_terminal(monkeypatch, tmp_path):
    class SignallingTty(_Tty):
        def __init__(self):
            super().__init__()
            self.wrote = threading.Event()

        def write(self, text):
            n = super().write(text)
            self.wrote.set()
            return n

    class SlowTrace:  # a save that lasts until the notice is on the terminal
        def save(self, path, format=None, title=None):
            assert tty.wrote.wait(30)
            open(path, "w").close()

    tty = SignallingTty()
    monkeypatch.setattr(sys, "stderr", tty)
    monkeypatch.setattr(_progress, "PROGRESS_DELAY_S", 0.0)
    common.save(SlowTrace(), str(tmp_path / "a.json"))
    out = tty.getvalue()
    assert out.startswith("\rwriting a.json ...") and out.endswith("\r"), repr(out)
    assert (tmp_path / "a.json").exists()
    log = io.StringIO()
    monkeypatch.setattr(sys, "stderr", log)
    t = _core._build_trace([("/a.py", "f", 1)], [(1, "T", [(1_000_000_000, 0, False), (1_000_001_000, 0, True)])])
    common.save(t, str(tmp_path / "b.json"))  # not a terminal: nothing written
    assert log.getvalue() == "" and fj.load(tmp_path / "b.json").folded() == t.folded()


def test_run_output_endings_match_trace_save(tmp_path):
    # `run` checks -o before the program starts, with its own list: it must be what save() knows
    t = _core._build_trace([("/a.py", "f", 1)], [(1, "T", [(1_000_000_000, 0, False), (1_000_001_000, 0, True)])])
    for ending in cli.SAVE_ENDINGS:
        t.save(tmp_path / f"x{ending}")
        assert (tmp_path / f"x{ending}").stat().st_size > 0
    with pytest.raises(ValueError):
        t.save(tmp_path / "x.other")


def test_stats_into_a_closed_pipe_is_quiet(tmp_path):
    # `fprofile stats x.fpt | head -1`: the reader leaves early; no traceback, no error line
    codes = [(f"/p/m{i}.py", f"function_number_{i}", i) for i in range(5000)]
    events = []
    for i in range(5000):
        events += [(1_000_000_000 + 10 * i, i, False), (1_000_000_000 + 10 * i + 5, i, True)]
    t = _core._build_trace(codes, [(1, "MainThread", events)])
    t.save(tmp_path / "many.fpt")
    proc = subprocess.run(
        f"{sys.executable} -m fprofile_jupyter stats --top 0 {tmp_path / 'many.fpt'} | head -n 1",
        shell=True, capture_output=True, text=True, env=ENV, timeout=120)
    assert proc.stdout.startswith("Summary of all threads (1): 5000 functions")
    assert proc.stderr == ""


def test_run_a_directory_without_main_is_one_line(project, tmp_path):
    (tmp_path / "nomain").mkdir()
    assert_one_line_error(fprofile("run", tmp_path / "nomain", cwd=project), 1, "nomain", "__main__")
    assert not (project / "nomain.fpt").exists()


def test_fpt_cut_at_any_offset(trace_file, tmp_path):
    """Every prefix of a .fpt is refused with a FormatError naming a byte offset (in process), and
    a sample of them from the command line with one line and exit 1."""
    data = trace_file.read_bytes()
    for n in range(len(data)):
        with pytest.raises(fj.FormatError) as e:
            _core.load_bytes(data[:n], None)
        assert str(e.value).strip() and "\n" not in str(e.value)
    cut = tmp_path / "cut.fpt"
    for n in sorted({0, 1, 3, 4, 8, 15, 16, 17, len(data) // 2, len(data) - 1}):
        cut.write_bytes(data[:n])
        assert_one_line_error(fprofile("convert", cut, tmp_path / "o.json"), 1, str(cut))
        assert not (tmp_path / "o.json").exists()


def test_output_errors_are_one_line(trace_file, tmp_path):
    (tmp_path / "adir.json").mkdir()
    assert_one_line_error(fprofile("convert", trace_file, tmp_path / "adir.json"), 1, "adir.json", "directory")
    assert_one_line_error(fprofile("export", trace_file, "-o", tmp_path / "nodir" / "x.html"), 1, "No such file")
    assert_one_line_error(fprofile("export", trace_file, "-o", tmp_path / "adir.json", "--bogus"), 2, "--bogus")
    if os.path.isdir("/sys/kernel"):  # sysfs refuses new files, even to root
        assert_one_line_error(fprofile("export", trace_file, "-o", "/sys/kernel/x.html"), 1, "/sys/kernel/x.html")
        assert_one_line_error(fprofile("convert", trace_file, "/sys/kernel/x.json"), 1, "/sys/kernel/x.json")
    for module, args in (("convertProfile", [trace_file, tmp_path / "nodir" / "o.json"]),
                         ("convertProfile", [trace_file, tmp_path / "adir.json"]),
                         ("viewProfile", [tmp_path / "adir.json", "--no-browser"]),
                         ("viewProfile", [tmp_path / "missing.fpt", "--no-browser"])):
        proc = subprocess.run([sys.executable, "-m", f"fprofile_jupyter.{module}", *map(str, args)], env=ENV,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode != 0 and "Traceback" not in proc.stderr, (module, args, proc.stderr)
        assert len(proc.stderr.strip().splitlines()) == 1, (module, args, proc.stderr)


def test_output_to_a_pipe_a_symlink_and_a_full_device(trace_file, tmp_path):
    """A special file is written in place, never replaced by a regular file (the atomic
    write-then-rename of regular files must not rename over a FIFO or a device); a symlink keeps
    pointing at its target; a write error on the device is one line and exit 1."""
    import stat

    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # so the writer's open does not block
    try:
        proc = fprofile("convert", trace_file, fifo)
        assert proc.returncode == 0, proc.stderr
        assert stat.S_ISFIFO(os.lstat(fifo).st_mode), "the FIFO was replaced by a regular file"
        got = os.read(reader, 1 << 16)
    finally:
        os.close(reader)
    assert got.decode().splitlines()[0].count("\t") == 5
    target = tmp_path / "real.json"
    target.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    assert fprofile("convert", trace_file, link).returncode == 0
    assert link.is_symlink() and "callstack" in json.loads(target.read_text())
    if os.path.exists("/dev/full") and stat.S_ISCHR(os.stat("/dev/full").st_mode):
        for args in (["convert", trace_file, "/dev/full", "--format", "pyme-json"],
                     ["export", trace_file, "-o", "/dev/full"]):
            assert_one_line_error(fprofile(*args), 1, "/dev/full", "No space left")
        assert stat.S_ISCHR(os.stat("/dev/full").st_mode)


def test_run_terminated_by_sigterm_still_writes_the_trace(tmp_path):
    # `kill PID`, `timeout`, a batch scheduler: SIGTERM ends the program, the trace is written and
    # the process still dies of SIGTERM (its parent sees the signal)
    import signal

    prog = tmp_path / "forever.py"
    prog.write_text(textwrap.dedent("""
        import sys, time
        def tick():
            time.sleep(0.005)
        tick()
        print("ready", flush=True)
        while True:
            tick()
    """))
    out = tmp_path / "forever.fpt"
    proc = subprocess.Popen([sys.executable, "-m", "fprofile_jupyter", "run", "-o", str(out), str(prog)],
                            env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGTERM, (proc.returncode, err)
    assert "Traceback" not in err and "terminated (SIGTERM)" in err and "wrote" in err, err
    trace = fj.load(out)
    assert sum(1 for c in trace.calls() if c.function == "tick") >= 1


def test_run_empty_subs_is_a_usage_error_as_in_the_magic(project):
    # one comma-splitting rule for the CLI and %%fprofile: an empty --subs is a mistake
    proc = fprofile("run", "--subs", " , ", "prog.py", cwd=project)
    assert_one_line_error(proc, 2, "--subs needs at least one non-empty string")


def test_run_messages_that_point_at_the_mistake(project):
    # a misspelt option: the closest one is named (it read "expected one argument" for --subs)
    proc = fprofile("run", "--sub", "http", "prog.py", cwd=project)
    assert_one_line_error(proc, 2, "unknown option --sub (did you mean --subs?)")
    # the option's value forgotten: it took the script
    proc = fprofile("run", "--subs", "prog.py", cwd=project)
    assert_one_line_error(proc, 2, "--subs took 'prog.py' as its value and no script is left to run")
    # one of our options after the script goes to the program, as python does, with a note
    proc = fprofile("run", "-o", "a.fpt", "prog.py", "--subs", "x", cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert "argv=['prog.py', '--subs', 'x']" in proc.stdout
    assert "fprofile: note: --subs after the script is passed to the program" in proc.stderr
    # writing over an earlier trace is said
    proc = fprofile("run", "-o", "a.fpt", "prog.py", cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert "fprofile: wrote a.fpt (replacing the file that was there): " in proc.stderr
    assert "note:" not in proc.stderr
