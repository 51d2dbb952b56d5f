"""asyncio task bands in a real IPython kernel (nbclient): cells with top-level ``await`` run in the
kernel's own loop, inside the kernel's task (made before the recording: no band); the tasks they
create are recorded with their names, exactly as ``tests/test_asyncio.py`` counts them, whether the
recording is one ``with profile()`` in the cell or ``fprofile_jupyter.start()`` / ``stop()`` across
cells."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from kernel_support import errors_of, kernel_cells, text_of
from test_asyncio import SOURCE

TESTS = str(Path(__file__).resolve().parent)

CHECK = """
import json as _json
import test_asyncio as _ta
_ta.check_exact(_trace)
_per, _out, _bands = _ta.attribute(_trace)
print("RESULT", _json.dumps({k: dict(v) for k, v in _per.items()}), len(_bands))
"""


@pytest.fixture(scope="module")
def cells(tmp_path_factory):
    setup = (f"import sys\nsys.path.insert(0, {TESTS!r})\nimport asyncio, fprofile_jupyter\n"
             "from test_asyncio import PLAN\n" + SOURCE)
    with kernel_cells(tmp_path_factory.mktemp("asyncio_kernel"), setup) as c:
        yield c


def result(cell) -> dict:
    assert not errors_of(cell), errors_of(cell)
    line = [x for x in text_of(cell).splitlines() if x.startswith("RESULT ")]
    assert line, cell.outputs
    per_task = json.loads(line[0][len("RESULT "):].rsplit(" ", 1)[0])
    return per_task


def test_top_level_await_in_one_cell(cells):
    cell = cells.run("with fprofile_jupyter.profile() as _p:\n"
                     "    _names = await main(PLAN)\n"
                     "assert _names == list(PLAN)\n"
                     "_trace = _p.trace\n" + CHECK)
    per_task = result(cell)
    assert per_task["alpha"] == {"alpha_call": 12, "worker": 4}
    assert per_task["worker-3"] == {"gamma_call": 12, "worker": 6}


def test_across_cells(cells):
    assert not errors_of(cells.run("fprofile_jupyter.start(processes=False)"))
    assert not errors_of(cells.run("_names = await main(PLAN)\nassert _names == list(PLAN)"))
    per_task = result(cells.run("_trace = fprofile_jupyter.stop()\n" + CHECK))
    assert per_task["beta"] == {"beta_call": 10, "worker": 2}
