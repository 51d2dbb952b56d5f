"""Run by tests/test_wheels.py with the Python of a fresh virtual environment that holds only an
installed wheel: no Rust toolchain anywhere on its PATH, no source tree on its path. Records a small
function with `profile()`, saves the trace as .fpt, loads it back, and reads it with the `fprofile`
command. Usage: python wheel_smoke.py FOLDER (where the trace is written). Prints one line on success.
"""
import os
import shutil
import subprocess
import sys
import threading

out = sys.argv[1]
for tool in ("cargo", "rustc"):
    assert shutil.which(tool) is None, f"{tool} is on PATH ({shutil.which(tool)}): not a machine without Rust"

import fprofile_jupyter as fprofile  # noqa: E402

where = os.path.dirname(os.path.abspath(fprofile.__file__))
assert where.startswith(os.path.realpath(sys.prefix)), f"imported from {where}, not the venv {sys.prefix}"


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def worker():
    fib(10)


with fprofile.profile(subs=[os.path.basename(__file__)]) as prof:
    t = threading.Thread(target=worker, name="worker")
    t.start()
    fib(12)
    t.join()

path = os.path.join(out, "smoke.fpt")
prof.trace.save(path)
trace = fprofile.load(path)
assert trace == prof.trace, "the .fpt read back differs from the recorded trace"
calls = {row.function: row.calls for row in trace.summary()}
assert calls == {"fib": 465 + 177, "worker": 1}, calls   # fib(12): 465 calls, fib(10): 177
assert sorted(th.name for th in trace.threads) == ["MainThread", "worker"], [th.name for th in trace.threads]

stats = subprocess.run([os.path.join(os.path.dirname(sys.executable), "fprofile"), "stats", path],
                       capture_output=True, text=True, timeout=120)
assert stats.returncode == 0 and "fib" in stats.stdout, (stats.returncode, stats.stdout, stats.stderr)
print(f"ok: CPython {sys.version.split()[0]}, fprofile_jupyter {fprofile.__version__} from {where}: "
      f"{len(trace)} calls recorded, saved to {path} and loaded back")
