"""`subs` that do not surprise (issue 11 item 5): spaces dropped, `+name` (the defaults plus name)
in profile(), the magic and `fprofile run`, one warning naming entries that matched no recorded
call, and `fprofile run` saying what was matched."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

import fprofile_jupyter
from fprofile_jupyter import _magic
from fprofile_jupyter._recording import SubsWarning, resolve_subs


@pytest.fixture
def helper_mod(tmp_path, monkeypatch):
    (tmp_path / "fprofile_subs_helper.py").write_text("def helper(n):\n    return [i for i in range(n)]\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import importlib

    mod = importlib.import_module("fprofile_subs_helper")
    yield mod
    sys.modules.pop("fprofile_subs_helper", None)


def functions(trace):
    return {c.function for c in trace.calls()}


def test_spaces_around_entries_are_dropped_in_profile(helper_mod):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the entry matched: no warning
        with fprofile_jupyter.profile(subs=["  fprofile_subs_helper "]) as prof:
            helper_mod.helper(3)
    assert "helper" in functions(prof.trace)


def test_empty_subs_are_a_clear_error():
    with pytest.raises(ValueError, match="at least one non-empty string"):
        fprofile_jupyter.profile(subs=[" ", ""])
    assert fprofile_jupyter.profile(subs=[]).subs == []  # records nothing, as asked
    with pytest.raises(ValueError, match=r"needs a part of a file name after it, e\.g\. \+urllib"):
        fprofile_jupyter.profile(subs=["+"])
    with pytest.raises(ValueError, match="fprofile_jupyter's own files"):
        fprofile_jupyter.profile(subs=["+site-packages"])


def test_an_entry_that_matched_nothing_is_named_once_after_the_run(helper_mod):
    with pytest.warns(SubsWarning) as rec:
        with fprofile_jupyter.profile(subs=["fprofile_subs_helper", "fprofile_subs_helpr", "nothing_here/"]) as prof:
            helper_mod.helper(3)
    assert "helper" in functions(prof.trace)
    assert len(rec) == 1
    text = str(rec[0].message)
    assert "'fprofile_subs_helpr', 'nothing_here/' matched no recorded call" in text
    assert "'fprofile_subs_helper'" not in text
    assert "+name" in text


def test_the_defaults_give_no_unmatched_warning():
    def f():
        return 1

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with fprofile_jupyter.profile() as prof:
            f()
    assert prof.trace is not None


def test_plus_adds_a_library_to_the_defaults_in_profile():
    # json is in the standard library, which the defaults exclude: +json records it as well as the
    # defaults (here those of a program whose main file is this test file: its directory).
    f = resolve_subs(["+json"], main_file=__file__)
    assert f.include == ["json"]
    assert os.path.join(os.path.dirname(os.path.abspath(__file__)), "") in f.subs
    with fprofile_jupyter.profile(subs=f) as prof:
        json.dumps({"a": [1, 2]})
        json.loads("[1]")
        local()
    files = {c.file for c in prof.trace.calls()}
    assert any(os.sep + "json" + os.sep in x for x in files), files
    assert "local" in functions(prof.trace)
    # and the same through profile(subs=[...]) with a "+" entry, resolved when recording starts
    p = fprofile_jupyter.profile(subs=["+json"])
    assert "json" in p.subs


def local():
    return 1


def test_plus_in_the_magic_records_the_cell_and_the_library():
    sh = InteractiveShell.instance()
    sh.run_line_magic("load_ext", "fprofile_jupyter")
    with capture_output():
        sh.run_cell("import json\ndef from_cell():\n    return json.dumps([1])\n")
        sh.run_cell("%%fprofile --subs ' +json' --no-display\nfrom_cell()\n")
    trace = sh.user_ns[_magic.TRACE_VARIABLE]
    fns = functions(trace)
    assert "from_cell" in fns
    assert any(os.sep + "json" + os.sep in c.file for c in trace.calls())


SCRIPT = """\
import json
import urllib.parse

def work():
    for i in range(3):
        json.dumps({"i": i})
    return urllib.parse.quote("a b")

work()
"""


def fprofile(*args, cwd):
    return subprocess.run([sys.executable, "-m", "fprofile_jupyter", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120)


def test_run_with_plus_records_the_script_and_the_library_and_says_what_it_matched(tmp_path):
    (tmp_path / "app.py").write_text(SCRIPT)
    r = fprofile("run", "--subs", "+json, urllib", "-o", "out.fpt", "app.py", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    trace = fprofile_jupyter.load(tmp_path / "out.fpt")
    files = {c.file for c in trace.calls()}
    assert str(tmp_path / "app.py") in files
    assert any(os.sep + "json" + os.sep in f for f in files)
    assert any(os.sep + "urllib" + os.sep in f for f in files)
    assert "work" in functions(trace)
    # the message names what was matched: functions, files, the busiest by name
    line = [x for x in r.stderr.splitlines() if "wrote out.fpt" in x][0]
    assert " functions in " in line and "app.py" in line, line
    assert "warning" not in r.stderr


def test_run_warns_once_about_an_entry_that_matched_nothing(tmp_path):
    (tmp_path / "app.py").write_text(SCRIPT)
    r = fprofile("run", "--subs", "app.py, urlib", "-o", "out.fpt", "app.py", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    warnings_ = [x for x in r.stderr.splitlines() if x.startswith("fprofile: warning:")]
    assert len(warnings_) == 1, r.stderr
    assert "'urlib' matched no recorded call" in warnings_[0]
    assert "Traceback" not in r.stderr


# -- file names as users know them (issue 11 item 3) ---------------------------------------------

def test_short_path_follows_the_shared_cases():
    from fprofile_jupyter import _core

    table = json.loads(open(os.path.join(os.path.dirname(__file__), "fixtures", "paths.json"), encoding="utf-8").read())
    roots = json.dumps(table["roots"])
    assert [_core.short_path(f, roots) for f, _ in table["cases"]] == [s for _, s in table["cases"]]


def test_a_recording_stores_its_roots_and_the_static_table_shows_short_paths(helper_mod, tmp_path, monkeypatch):
    from fprofile_jupyter import _core, _display

    monkeypatch.chdir(tmp_path)  # the helper module lies in the working directory
    with fprofile_jupyter.profile(subs=["fprofile_subs_helper", "+json"]) as prof:
        helper_mod.helper(2)
        json.dumps([1])
    roots = json.loads(prof.trace.metadata["paths.roots"])
    assert [os.path.join(str(tmp_path), ""), ""] in roots
    assert any(label == "stdlib/" for _, label in roots)
    page = _display.static_summary_html(prof.trace)
    assert ">fprofile_subs_helper.py:1</td>" in page
    assert "stdlib/json/__init__.py:" in page
    assert f'title="{tmp_path / "fprofile_subs_helper.py"}"' in page
    assert _core.short_path(str(tmp_path / "x.py"), prof.trace.metadata["paths.roots"]) == "x.py"


def test_run_names_the_process_after_the_program(tmp_path):
    (tmp_path / "app.py").write_text("def f():\n    return 1\n\nf()\n")
    r = fprofile("run", "-o", "out.fpt", "app.py", "one two", "--x", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    [proc] = fprofile_jupyter.load(tmp_path / "out.fpt").processes
    assert proc.name == "app.py 'one two' --x"
    assert proc.pid > 0 and proc.host
    # by its file name, as its Python children are, however the path was given
    r = fprofile("run", "-o", "out.fpt", str(tmp_path / "app.py"), "7", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    [proc] = fprofile_jupyter.load(tmp_path / "out.fpt").processes
    assert proc.name == "app.py 7"


def test_notebook_cells_are_shown_by_their_label():
    """Issue 14 item 5: code from a cell shows as its label (In [N], line within the cell), not
    the file the kernel compiled it to, in the summary and every view (the roots' rule)."""
    from fprofile_jupyter import _core

    sh = InteractiveShell.instance()
    sh.run_line_magic("load_ext", "fprofile_jupyter")
    with capture_output():
        sh.run_cell("def from_a_cell(n):\n    return sum(range(n))\n", store_history=True)
        defined_in = sh.execution_count - 1
        sh.run_cell("%%fprofile --no-display\nfrom_a_cell(10)\n", store_history=True)
    trace = sh.user_ns[_magic.TRACE_VARIABLE]
    [call] = [c for c in trace.calls() if c.function == "from_a_cell"]
    roots = json.dumps(json.loads(trace.metadata.get("paths.roots", "[]")) + json.loads(trace.metadata["paths.cells"]))
    assert _core.short_path(call.file, roots) == f"In [{defined_in}]"
    table = str(trace.summary())
    assert f"In [{defined_in}]:1" in table, table
    assert call.file not in table
