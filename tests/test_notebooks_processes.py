"""notebooks/processes.ipynb executed by nbclient in a real kernel: a process pool and a Dask
LocalCluster recorded by %%fprofile (the checks read the widget's trace, as test_notebooks.py does)."""
from __future__ import annotations

from collections import Counter

import pytest

pytest.importorskip("distributed")

from test_notebooks import check_display, execute, widget_traces  # noqa: E402

FIB12_CALLS = 465  # calls of fib(12), recursion included: 2 * F(13) - 1


def cell(nb, start):
    (c,) = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith(start)]
    return c


def counts_by_process(trace):
    out = {}
    for c in trace.calls():
        out.setdefault(trace.threads[c.thread].pid, Counter())[c.function] += 1
    return out


def test_processes_notebook(tmp_path_factory):
    nb = execute("processes.ipynb", tmp_path_factory)
    for c in nb.cells:
        if c.cell_type == "code":
            assert not [o for o in c.outputs if o.output_type == "error"], c.source[:60]

    pool = cell(nb, "%%fprofile\nwith ProcessPoolExecutor")
    check_display([o for o in pool.outputs if o.output_type == "display_data"][0])
    (trace,) = widget_traces(nb, pool)
    by_process = counts_by_process(trace)
    parent = trace.processes[0].pid
    assert "chunk" not in by_process.get(parent, Counter())  # the notebook itself only waits
    # the pool's workers are followed: every chunk and fib call is in a child process
    children = [pid for pid in by_process if pid != parent]
    assert 1 <= len(children) <= 2 and len(trace.processes) == 1 + len(children)
    total = sum((by_process[pid] for pid in children), Counter())
    assert total["chunk"] == 8 and total["fib"] == 8 * FIB12_CALLS

    dask = cell(nb, "%%fprofile --dask")
    check_display([o for o in dask.outputs if o.output_type == "display_data"][0])
    (trace,) = widget_traces(nb, dask)
    workers = [p for p in trace.processes if p.name.startswith("dask worker ")]
    assert len(workers) == 2 and len(trace.processes) == 3
    total = sum((counts_by_process(trace).get(p.pid, Counter()) for p in workers), Counter())
    assert total == Counter({"chunk": 8, "fib": 8 * FIB12_CALLS})
    assert len(trace.bands) == 8 and all(label.startswith("chunk-") for _t, _s, _e, label in trace.bands)
    assert all(p.clock_offset_ns == 0 and p.clock_uncertainty_ns == 0 for p in workers)  # one machine: exact
    printed = "".join(o.get("text", "") for o in cell(nb, "trace = _fprofile_trace").outputs)
    assert printed.count("dask worker ") == 2 and "8 task bands, e.g. chunk-" in printed
