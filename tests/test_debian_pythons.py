"""scripts/debian_pythons.sh for a contributor without root (issue 24 item 10): ``suites`` runs the
3.14/3.15 suites as root, through sudo, or in a user namespace with the Debian root read-only;
where none of these is possible it says so in one line (which suites, why, how to run them) and
exits 3, which scripts/test.sh reports as NOT RUN (a failure only with CI=1), never as passed.

Run as root here, the ordinary user's path is taken with ``FPROFILE_AS_USER=1`` (the script reads
it); an empty ``FPROFILE_CACHE`` stands for a machine where no Debian root was made. (The rootless
run itself, a build and pytest inside the root, is too slow for the suite: see the report of the
branch "names" for a run as a real unprivileged user.)
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "debian_pythons.sh"
FILES = ["tests/test_trace_api.py", "tests/test_stream.py"]


def run(*args, cache, **env):
    e = dict(os.environ, FPROFILE_AS_USER="1", FPROFILE_CACHE=str(cache), **env)
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, env=e, timeout=120)


def test_suites_that_cannot_run_are_named_in_one_line_with_how_to_run_them(tmp_path):
    r = run("suites", *FILES, cache=tmp_path)
    assert r.returncode == 3, (r.returncode, r.stdout, r.stderr)
    assert r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    line = lines[0]
    assert line.startswith("NOT RUN: the Python 3.14 and 3.15 suites (2 files): no root, no passwordless sudo, and ")
    assert f"there is no Debian root at {tmp_path}/debian-sid yet" in line
    assert line.endswith("to run them: sudo bash scripts/debian_pythons.sh test " + " ".join(FILES))
    assert not any(tmp_path.iterdir()), "nothing is made when nothing can run"


def test_rootless_check_and_what_needs_root(tmp_path):
    r = run("rootless-check", cache=tmp_path)
    assert r.returncode == 1 and r.stdout.strip().startswith("there is no Debian root at "), r
    assert len(r.stdout.strip().splitlines()) == 1
    r = run("root", cache=tmp_path)
    assert r.returncode == 1 and r.stderr.strip() == (
        "error: scripts/debian_pythons.sh root needs root (debootstrap, chroot, mount); "
        "without root only test and wheel-test run (CI runs as root)"), r.stderr
    r = run("test", *FILES, cache=tmp_path)
    assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1
    assert r.stderr.startswith("error: without root, test needs a user namespace and the Debian root: there is no Debian root"), r.stderr
