"""A recording across cells: ``%fprofile start`` / ``status`` / ``stop`` in a real kernel (nbclient),
a kernel shut down or restarted while recording (jupyter_client), and ``fprofile_jupyter.start()``
/ ``stop()`` / ``status()`` and the line magic's rule in this process."""
from __future__ import annotations

import warnings
from collections import Counter

import pytest

import fprofile_jupyter
from fprofile_jupyter import _magic
from kernel_support import errors_of, kernel_cells, text_of
from test_notebooks import check_display, widget_traces


def usage_error(cell) -> str:
    """The UsageError a magic raised (IPython prints it on stderr, with no error output)."""
    text = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream" and o.name == "stderr")
    assert text.startswith("UsageError: "), cell.outputs
    return text


@pytest.fixture(scope="module")
def cells(tmp_path_factory):
    with kernel_cells(tmp_path_factory.mktemp("across_cells"), "%load_ext fprofile_jupyter") as c:
        yield c


def test_three_cells_recorded_exactly_status_then_the_timeline_at_stop(cells):
    started = cells.run("%fprofile start")
    assert not errors_of(started) and "recording the cells that follow" in text_of(started)
    assert not started.outputs or all(o.output_type == "stream" for o in started.outputs)  # nothing displayed yet
    cells.run("def work(n):\n    return n + 1\n\nfor i in range(3):\n    work(i)")
    status = cells.run("%fprofile status")
    assert text_of(status).startswith("fprofile: recording since ") and "started by %fprofile start" in text_of(status)
    cells.run("[work(i) for i in range(4)]")
    cells.run("import threading\nt = threading.Thread(target=lambda: [work(i) for i in range(5)])\nt.start(); t.join()")
    stopped = cells.run("%fprofile stop")
    assert not errors_of(stopped), errors_of(stopped)
    shown = [o for o in stopped.outputs if o.output_type == "display_data"]
    assert len(shown) == 1
    check_display(shown[0])
    (trace,) = widget_traces(cells.nb, stopped)
    counts = Counter(c.function for c in trace.calls())
    assert counts["work"] == 3 + 4 + 5
    assert len({c.thread for c in trace.calls() if c.function == "work"}) == 2  # the cell's thread and t
    same = cells.run("print(Counter_ := sorted(c.function for c in _fprofile_trace.calls() if c.function == 'work').__len__())")
    assert text_of(same).strip() == "12"
    after = cells.run("%fprofile status")
    assert text_of(after).startswith("fprofile: nothing is recording")
    assert "nothing is recording" in usage_error(cells.run("%fprofile stop"))


def test_a_statement_named_like_a_subcommand_is_profiled(cells):
    cells.run("def stop():\n    return 5")
    ran = cells.run("%fprofile --no-display stop()")
    assert not errors_of(ran)
    out = cells.run("print([c.function for c in _fprofile_trace.calls()].count('stop'))")
    assert text_of(out).strip() == "1"


def test_a_second_start_and_a_cell_magic_meanwhile_are_refused(cells):
    assert not errors_of(cells.run("%fprofile start --no-display --subs nothing-matches-this"))
    try:
        err = usage_error(cells.run("%fprofile start"))
        assert "already on" in err and "%fprofile stop" in err
        err = usage_error(cells.run("%%fprofile\n1 + 1"))
        assert "cannot profile this cell" in err and "%fprofile stop ends it" in err
        assert "takes options only" in usage_error(cells.run("%fprofile start --subs x foo()"))
    finally:
        stopped = cells.run("%fprofile stop")
    assert not errors_of(stopped) and not [o for o in stopped.outputs if o.output_type == "display_data"]


@pytest.mark.parametrize("name, end", [("run.json", "shutdown"), ("run.fpt", "restart")])
def test_kernel_shutdown_or_restart_while_recording_leaves_the_outfile_written(tmp_path, name, end):
    from jupyter_client.manager import start_new_kernel

    km, kc = start_new_kernel(kernel_name="python3", cwd=str(tmp_path))
    try:
        def run(code: str) -> None:
            reply = kc.execute_interactive(code, timeout=60, output_hook=lambda msg: None)
            assert reply["content"]["status"] == "ok", reply["content"]

        run("%load_ext fprofile_jupyter")
        run(f"%fprofile start -o {name}")
        run("def tick(i):\n    return i\n\nfor i in range(25):\n    tick(i)")
    finally:
        kc.stop_channels()
        if end == "restart":
            km.restart_kernel(now=False)
        km.shutdown_kernel(now=False)
    out = tmp_path / name
    assert out.exists(), f"{name} was not written at the kernel's {end}"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a streamed file without its end chunk would warn
        trace = fprofile_jupyter.load(str(out))
    assert Counter(c.function for c in trace.calls())["tick"] == 25


# -- in this process ------------------------------------------------------------------------------

@pytest.mark.parametrize("line, expected", [
    ("start", ("start", "")), ("  start --subs a,b -o x.fpt", ("start", "--subs a,b -o x.fpt")), ("stop", ("stop", "")),
    ("status ", ("status", "")), ("stop -x", ("stop", "-x")),
    ("stop()", None), ("start = 1", None), ("status.check()", None), ("starter", None), ("--subs x start", None),
    ("stop x", None), ("", None),
])
def test_the_rule_for_subcommands(line, expected):
    assert _magic.subcommand(line) == expected


def leaf(i):
    return i


def test_start_stop_status_from_python():
    assert fprofile_jupyter.status().startswith("fprofile: nothing is recording")
    prof = fprofile_jupyter.start(subs=[__file__], processes=False)
    try:
        assert isinstance(prof, fprofile_jupyter.profile)
        assert "started by fprofile_jupyter.start()" in fprofile_jupyter.status()
        with pytest.raises(fprofile_jupyter.ProfilerError, match="already on"):
            fprofile_jupyter.start()
        for i in range(6):
            leaf(i)
    finally:
        trace = fprofile_jupyter.stop()
    assert trace is prof.trace
    assert Counter(c.function for c in trace.calls())["leaf"] == 6
    with pytest.raises(fprofile_jupyter.ProfilerError, match="nothing is recording"):
        fprofile_jupyter.stop()


def test_profile_objects_start_and_stop():
    prof = fprofile_jupyter.profile(subs=[__file__], processes=False)
    with pytest.raises(fprofile_jupyter.ProfilerError, match="not recording"):
        prof.stop()
    assert prof.start() is prof
    leaf(1)
    trace = prof.stop()
    assert [c.function for c in trace.calls()] == ["leaf"]
