"""One real IPython kernel (nbclient) whose cells a test module runs one at a time: ``kernel_cells``
starts it in a folder, runs a setup cell (which must not fail) and yields :class:`Cells`; and what
a test reads from a cell's outputs (``text_of``, ``errors_of``). Used by the modules that keep one
kernel for all their tests (test_across_cells.py, test_asyncio_kernel.py); the gated live cell
of test_live_widget.py and test_live_lab.py."""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import nbformat
from nbclient import NotebookClient


class Cells:
    """One kernel for the module: cells run one at a time, their outputs returned."""

    def __init__(self, client: NotebookClient, nb: nbformat.NotebookNode) -> None:
        self.client = client
        self.nb = nb

    def run(self, source: str) -> nbformat.NotebookNode:
        cell = nbformat.v4.new_code_cell(source)
        self.nb.cells.append(cell)
        return self.client.execute_cell(cell, len(self.nb.cells) - 1)


def text_of(cell) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


def errors_of(cell) -> list:
    return [o for o in cell.outputs if o.output_type == "error"]


@contextmanager
def kernel_cells(work: Path, setup: str) -> Iterator[Cells]:
    """A python3 kernel started in ``work`` (errors in cells are outputs, not exceptions), ``setup``
    run in it first; shut down on exit."""
    nb = nbformat.v4.new_notebook()
    client = NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(work)}})
    with client.setup_kernel():
        cells = Cells(client, nb)
        ran = cells.run(setup)
        assert not errors_of(ran), ran.outputs
        yield cells


# A live cell gated by files in the kernel's working directory: calls early() until the file `go`
# exists, then late() too, until `stop` exists (at most 120 s). test_live_widget reads it off the
# kernel's messages, test_live_lab in JupyterLab.
GATED_LIVE_CELL = """%%fprofile --live
import os, time

def early(i):
    return i

def late(i):
    return i

deadline = time.monotonic() + 120
while not os.path.exists("stop") and time.monotonic() < deadline:
    for i in range(100):
        early(i)
    if os.path.exists("go"):
        for i in range(20):
            late(i)
    time.sleep(0.01)
"""
