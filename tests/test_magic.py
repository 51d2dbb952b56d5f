"""The %%fprofile / %fprofile magics, in an in-process IPython shell.

(The same magics in a real kernel, with the widget output, are checked by test_notebooks.py.)
"""
from __future__ import annotations

import os
import re

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

import fprofile_jupyter
from fprofile_jupyter import _magic


@pytest.fixture(scope="module")
def shell():
    sh = InteractiveShell.instance()
    sh.run_line_magic("load_ext", "fprofile_jupyter")
    return sh


@pytest.fixture
def ns(shell, tmp_path, monkeypatch):
    """A clean namespace and an empty working directory (to see that nothing is written)."""
    monkeypatch.chdir(tmp_path)
    for name in [n for n in shell.user_ns if not n.startswith("_") and n not in shell.user_ns_hidden]:
        del shell.user_ns[name]
    shell.user_ns.pop(_magic.TRACE_VARIABLE, None)
    return shell.user_ns


def run(shell, code):
    with capture_output() as cap:
        result = shell.run_cell(code)
    return result, cap


def functions(trace):
    return [c.function for c in trace.calls()]


def parse(shell, line, cell_mode=True):
    return _magic.FprofileMagics(shell).parse(line, cell_mode=cell_mode)


# -- options --------------------------------------------------------------------------------------

def test_subs_comma_separated_and_repeated(shell):
    assert parse(shell, "--subs A,B --subs C").subs == ["A", "B", "C"]
    assert parse(shell, "-s 'my pkg',other").subs == ["my pkg", "other"]
    assert parse(shell, "").subs is None


def test_output_quotes_stripped_and_flags(shell, tmp_path):
    out = tmp_path / "my out.fpt"
    o = parse(shell, f'-o "{out}" --format fpt --builtins --max-events 100 --no-display')
    assert (o.output, o.format, o.builtins, o.max_events, o.display) == (str(out), "fpt", True, 100, False)


def test_line_magic_splits_options_from_statement(shell):
    o = parse(shell, "--subs x,y  print('a  -o  b')", cell_mode=False)
    assert o.subs == ["x", "y"] and o.statement == "print('a  -o  b')"
    o = parse(shell, "--max-events=7 f(-1)", cell_mode=False)
    assert o.max_events == 7 and o.statement == "f(-1)"
    o = parse(shell, "-- -x", cell_mode=False)
    assert o.statement == "-x"


@pytest.mark.parametrize("line, message", [
    ("--bogus", "unknown option --bogus"),
    ("--subs", "expected one argument"),
    ("--subs ,", "--subs needs at least one"),
    ("--max-events 0", "positive"),
    ("--max-events many", "invalid int value"),
    ("--format perfetto", "--format needs -o"),
    ("-o /no/such/folder/t.fpt", "does not exist"),
    ("stray", "unexpected argument 'stray'"),
    ("--sbus http", "unknown option --sbus (did you mean --subs?)"),
    ("--no-dispaly", "unknown option --no-dispaly (did you mean --no-display?)"),
    ("-o run.zzz", "-o run.zzz: run.zzz: cannot tell the format from the file name"),
    ("--subs 'unclosed", "cannot parse"),
])
def test_invalid_options_give_usage(shell, line, message):
    with pytest.raises(UsageError) as err:
        parse(shell, line)
    assert message in str(err.value)
    assert "usage: %%fprofile" in str(err.value)


def test_invalid_options_do_not_run_the_cell(shell, ns):
    result, cap = run(shell, "%%fprofile --bogus\nran = True")
    assert "ran" not in ns
    assert isinstance(result.error_in_exec, UsageError)
    assert "usage: %%fprofile" in cap.stdout + cap.stderr
    assert _magic.TRACE_VARIABLE not in ns


def test_empty_cell_and_empty_statement_are_usage_errors(shell, ns):
    result, cap = run(shell, "%%fprofile\n\n")
    assert isinstance(result.error_in_exec, UsageError)
    result, cap = run(shell, "%fprofile --builtins")
    assert isinstance(result.error_in_exec, UsageError)
    assert "nothing to profile" in cap.stdout + cap.stderr


def test_help_describes_every_option(shell):
    with capture_output() as cap:
        shell.run_line_magic("pinfo", "%%fprofile")
    text = cap.stdout
    for word in ("--subs", "-o OUT", "--format", "--builtins", "--max-events", "--no-processes", "--no-display",
                 "Profile a cell"):
        assert word in text, word


def test_default_subs_are_the_cells_and_the_modules_beside_the_notebook(shell, ns, tmp_path):
    # %%fprofile with no --subs records what `with profile():` records: the cells and the modules
    # next to the notebook (the working directory), as docs/recording.md states.
    import sys

    (tmp_path / "helpers_beside.py").write_text("def step(i):\n    return i * 2\n\n"
                                                 "def pipeline():\n    return [step(i) for i in range(3)]\n")
    sys.path.insert(0, str(tmp_path))
    try:
        result, cap = run(shell, "import helpers_beside")
        assert result.success, cap.stderr
        result, cap = run(shell, "%%fprofile --no-display\ndef in_cell():\n    return helpers_beside.pipeline()\nin_cell()")
        assert result.success, cap.stderr
        fns = functions(ns[_magic.TRACE_VARIABLE])
        assert fns.count("step") == 3 and "pipeline" in fns and "in_cell" in fns, fns
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("helpers_beside", None)


# -- running --------------------------------------------------------------------------------------

DEFS = """
import threading

def leaf(x):
    return x * 2

def inner(n):
    return sum(leaf(i) for i in range(n))

def in_thread():
    t = threading.Thread(target=inner, args=(5,), name="helper-thread")
    t.start()
    t.join()
"""


def test_cell_runs_as_usual_and_trace_has_every_thread(shell, ns):
    run(shell, DEFS)
    result, cap = run(shell, "%%fprofile\nprint('hello from the cell')\nin_thread()\nvalue = inner(3)\nvalue + 1")
    assert result.success
    assert "hello from the cell" in cap.stdout
    assert "Out[" in cap.stdout and ": 7" in cap.stdout  # the cell's last expression is displayed as without the magic
    assert ns["value"] == 6
    trace = ns[_magic.TRACE_VARIABLE]
    assert isinstance(trace, fprofile_jupyter.Trace)
    names = {t.name for t in trace.threads}
    assert "helper-thread" in names and "MainThread" in names
    fns = functions(trace)
    assert fns.count("leaf") == 5 + 3 and fns.count("inner") == 2 and fns.count("in_thread") == 1
    # outside a kernel, the trace is shown as text
    assert repr(trace) in cap.stdout
    assert os.listdir(".") == []  # nothing written unless asked


def test_exception_shows_traceback_and_partial_trace(shell, ns):
    run(shell, DEFS)
    result, cap = run(shell, "%%fprofile\ninner(2)\n1 / 0\ninner(100)")
    out = re.sub(r"\x1b\[[0-9;]*m", "", cap.stdout + cap.stderr)
    assert "ZeroDivisionError" in out
    assert "1 / 0" in out or "1/0" in out  # the user's traceback, pointing at their line
    assert not result.success  # the cell still counts as failed (Run All stops there)
    assert isinstance(result.error_in_exec, _magic.ProfiledCellError)
    trace = ns[_magic.TRACE_VARIABLE]
    assert functions(trace).count("leaf") == 2  # recorded up to the exception, not after
    assert repr(trace) in cap.stdout


def test_a_failing_cell_does_not_record_the_shell_formatting_its_traceback(shell, ns):
    # subs that match IPython's own traceback code: the recording stops when the cell's code ends
    import IPython.core.ultratb as ultratb

    run(shell, DEFS)
    sub = os.path.dirname(ultratb.__file__)
    result, cap = run(shell, f"%%fprofile --subs {sub},<ipython-input- --no-display\ninner(1)\n1 / 0")
    assert "ZeroDivisionError" in re.sub(r"\x1b\[[0-9;]*m", "", cap.stdout + cap.stderr)
    trace = ns[_magic.TRACE_VARIABLE]
    files = {c.file for c in trace.calls()}
    assert functions(trace).count("leaf") == 1  # the cell's own calls were recorded
    assert not any(f.endswith(("ultratb.py", "tbtools.py")) for f in files), sorted(files)
    assert isinstance(result.error_in_exec, _magic.ProfiledCellError)


def test_output_file_written_and_readable(shell, ns, tmp_path):
    run(shell, DEFS)
    result, cap = run(shell, "%%fprofile -o run.fpt --no-display\ninner(4)")
    assert result.success
    assert os.listdir(".") == ["run.fpt"]
    assert "wrote" in cap.stdout and "run.fpt" in cap.stdout
    loaded = fprofile_jupyter.load("run.fpt")
    assert functions(loaded).count("leaf") == 4
    assert loaded == ns[_magic.TRACE_VARIABLE]
    assert repr(loaded) not in cap.stdout  # --no-display


def test_format_option(shell, ns):
    run(shell, DEFS)
    result, cap = run(shell, "%%fprofile -o out.data --format pyme-text --no-display\ninner(2)")
    assert result.success, cap.stdout + cap.stderr
    with open("out.data") as f:
        text = f.read()
    assert text.count("leaf") == 4  # PYME raw text: a call line and a return line per call


def test_unknown_output_format_is_refused_before_running(shell, ns):
    for line in ("-o out.data --format nonsense", "-o out.unknown-extension"):
        result, cap = run(shell, f"%%fprofile {line}\nran = True")
        assert isinstance(result.error_in_exec, UsageError), line
        assert "ran" not in ns and os.listdir(".") == []
        assert "usage: %%fprofile" in cap.stdout + cap.stderr


def test_subs_restricts_what_is_recorded(shell, ns, tmp_path_factory, monkeypatch):
    elsewhere = tmp_path_factory.mktemp("elsewhere")  # not the notebook's directory
    mod = elsewhere / "fprofile_magic_helper_mod.py"
    mod.write_text("def helper(n):\n    return [i for i in range(n)]\n")
    monkeypatch.syspath_prepend(str(elsewhere))
    run(shell, DEFS + "\nimport fprofile_magic_helper_mod\n")
    run(shell, "%%fprofile --subs fprofile_magic_helper_mod --no-display\nfprofile_magic_helper_mod.helper(3)\ninner(2)")
    fns = functions(ns[_magic.TRACE_VARIABLE])
    assert "helper" in fns and "leaf" not in fns and "inner" not in fns
    # the default records the notebook's own code, not modules imported from elsewhere
    run(shell, "%%fprofile --no-display\nfprofile_magic_helper_mod.helper(3)\ninner(2)")
    fns = functions(ns[_magic.TRACE_VARIABLE])
    assert "helper" not in fns and "inner" in fns


def test_builtins_option_records_c_calls(shell, ns):
    run(shell, DEFS + "\ndef sorts():\n    return sorted([3, 1, 2]), len('abc')\n")
    run(shell, "%%fprofile --no-display\nsorts()")
    assert not any("sorted" in f for f in functions(ns[_magic.TRACE_VARIABLE]))
    run(shell, "%%fprofile --builtins --no-display\nsorts()")
    fns = functions(ns[_magic.TRACE_VARIABLE])
    assert any("sorted" in f for f in fns) and any(f.endswith("len") or f == "len" for f in fns), fns


def test_max_events_caps_the_recording(shell, ns):
    run(shell, DEFS)
    with pytest.warns(Warning):
        run(shell, "%%fprofile --max-events 20 --no-display\ninner(1000)")
    trace = ns[_magic.TRACE_VARIABLE]
    assert 0 < len(trace) <= 20


def test_line_magic(shell, ns):
    run(shell, DEFS)
    result, cap = run(shell, "%fprofile y = inner(6)")
    assert result.success and ns["y"] == 30
    assert functions(ns[_magic.TRACE_VARIABLE]).count("leaf") == 6
    result, cap = run(shell, "%fprofile --no-display inner(2) + 1000")
    assert "1002" in cap.stdout  # the statement's value is displayed as usual


def test_magic_twice_in_a_row_and_nested_profile_error(shell, ns):
    run(shell, DEFS)
    for _ in range(2):
        result, _cap = run(shell, "%%fprofile --no-display\ninner(1)")
        assert result.success
    # profiling cannot be started twice at once: one clear line, the inner statement not run
    result, cap = run(shell, "%%fprofile --no-display\n%fprofile ran = inner(1)")
    out = cap.stdout + cap.stderr
    assert "UsageError: cannot profile this cell:" in out and "Traceback" not in out, out
    assert "ran" not in ns
    assert not result.success  # the outer cell failed (its inner statement did)


def test_top_level_await_is_refused_with_the_context_manager_hint(shell, ns):
    result, cap = run(shell, "%%fprofile\nimport asyncio\nran = True\nawait asyncio.sleep(0)")
    out = cap.stdout + cap.stderr
    assert isinstance(result.error_in_exec, UsageError)
    assert "top-level `await`" in out and "fprofile_jupyter.profile()" in out
    assert "ran" not in ns


@pytest.mark.parametrize("name, marker", [
    ("t.fpt", None), ("t.json", "leaf"), ("t.perfetto.json", "leaf"), ("t.speedscope.json", "leaf"),
    ("t.txt", "leaf"), ("t.html", "<html"),
])
def test_output_format_from_the_extension(shell, ns, name, marker):
    run(shell, DEFS)
    result, cap = run(shell, f"%%fprofile -o {name} --no-display\ninner(2)")
    assert result.success, cap.stdout + cap.stderr
    assert os.listdir(".") == [name] and f"to {name}" in cap.stdout
    if marker is None:
        assert functions(fprofile_jupyter.load(name)).count("leaf") == 2
    else:
        with open(name, encoding="utf-8") as f:
            assert marker in f.read()
