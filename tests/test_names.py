"""What a notebook's trace calls things, in a real kernel run by nbclient (issue 24, items 1 and 2):

- the kernel's own process is "kernel", with the notebook's name (``JPY_SESSION_NAME``, which a
  Jupyter server sets), its command line kept in the metadata "command"; a Python child process
  is its script and arguments (``child_job.py 3000``), not the interpreter's path;
- a ``%%fprofile`` cell is labelled with the prompt the user sees (``In [3]`` for a cell that ran
  as ``[3]``, in the trace and in its traceback) and its code is one ``<module>`` call per run
  (IPython runs each top-level statement as a code object of its own), its last expression still
  shown as IPython shows it.

One kernel for the module; the notebook is executed once and the tests read its outputs and the
trace files it wrote.
"""
from __future__ import annotations

import json
import os
import re

import nbformat
import pytest
from nbclient import NotebookClient

import fprofile_jupyter

SESSION = "/home/someone/work/analysis.ipynb"

CHILD = "def job(n):\n    return sum(range(n))\n\nimport sys\njob(int(sys.argv[1]))\n"

CELLS = [
    "%load_ext fprofile_jupyter",
    f"import pathlib\npathlib.Path('child_job.py').write_text({CHILD!r})",
    # [3]: four top-level statements, the last an expression (shown as Out[3])
    "%%fprofile -o cell.fpt --no-display\nimport subprocess, sys\ndef work(n):\n    return sum(range(n))\n"
    "subprocess.run([sys.executable, 'child_job.py', '3000'], check=True)\nwork(20)",
    # [4]: a cell that fails in its second statement (line 2 of its code): its traceback names In [4]
    "%%fprofile -o failed.fpt --no-display\nx = 1\n1 / 0",
    # [5]: one statement: already one code object
    "%%fprofile -o single.fpt --no-display\nwork(5)",
    # [6]: a cell that ends in an assignment shows nothing
    "%%fprofile -o quiet.fpt --no-display\ny = work(3)\nz = work(4)",
]


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    work = tmp_path_factory.mktemp("names")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    saved = os.environ.get("JPY_SESSION_NAME")
    os.environ["JPY_SESSION_NAME"] = SESSION  # the kernel inherits it, as from a Jupyter server
    try:
        NotebookClient(nb, timeout=180, kernel_name="python3", allow_errors=True,
                       resources={"metadata": {"path": str(work)}}).execute()
    finally:
        if saved is None:
            os.environ.pop("JPY_SESSION_NAME", None)
        else:
            os.environ["JPY_SESSION_NAME"] = saved
    return nb, work


def cell_files(trace, label):
    """The files "paths.cells" labels ``label``."""
    return {f for f, lab in json.loads(trace.metadata.get("paths.cells", "[]")) if lab == label}


def module_calls(trace, files):
    return sum(r.calls for r in trace.summary() if r.function == "<module>" and r.file in files)


def test_the_kernel_is_named_kernel_with_its_notebook(executed):
    nb, work = executed
    trace = fprofile_jupyter.load(str(work / "cell.fpt"))
    kernel = trace.processes[0]
    assert kernel.name == "kernel · analysis.ipynb"
    assert "ipykernel_launcher" in trace.metadata["command"] and trace.metadata["command"].startswith("/")


def test_a_python_child_is_named_by_its_script_and_arguments(executed):
    nb, work = executed
    trace = fprofile_jupyter.load(str(work / "cell.fpt"))
    names = [p.name for p in trace.processes]
    assert names == ["kernel · analysis.ipynb", "child_job.py 3000"], names
    assert {r.function: r.calls for r in trace.summary().per_process[1]}["job"] == 1


def test_a_profiled_cell_is_labelled_with_its_prompt_and_is_one_module_call(executed):
    nb, work = executed
    cell = nb.cells[2]
    assert cell.execution_count == 3
    trace = fprofile_jupyter.load(str(work / "cell.fpt"))
    files = cell_files(trace, "In [3]")
    assert files, trace.metadata.get("paths.cells")
    assert not cell_files(trace, "In [4]")
    assert {r.function: r.calls for r in trace.summary() if r.file in files} == {"<module>": 1, "work": 1}
    # the last expression shown as without the magic: Out[3]
    results = [o for o in cell.outputs if o.output_type == "execute_result"]
    assert [(o.execution_count, o.data["text/plain"]) for o in results] == [(3, "190")]


def test_a_failing_cell_names_its_prompt_in_the_traceback_and_the_trace(executed):
    nb, work = executed
    cell = nb.cells[3]
    assert cell.execution_count == 4
    assert any(o.get("ename") == "ZeroDivisionError" for o in cell.outputs), cell.outputs
    text = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join("\n".join(o.get("traceback", [])) for o in cell.outputs))
    assert "Cell In[4], line 2" in text and "In[5]" not in text, text
    trace = fprofile_jupyter.load(str(work / "failed.fpt"))
    assert module_calls(trace, cell_files(trace, "In [4]")) == 1


def test_one_statement_and_a_quiet_cell(executed):
    nb, work = executed
    single = fprofile_jupyter.load(str(work / "single.fpt"))
    assert module_calls(single, cell_files(single, "In [5]")) == 1
    assert [o.data["text/plain"] for o in nb.cells[4].outputs if o.output_type == "execute_result"] == ["10"]
    quiet = fprofile_jupyter.load(str(work / "quiet.fpt"))
    assert module_calls(quiet, cell_files(quiet, "In [6]")) == 1
    assert [o for o in nb.cells[5].outputs if o.output_type == "execute_result"] == []
