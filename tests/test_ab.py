"""benchmarks/ab.py, the A/B guard against the next regression (issue 26): it runs and prints its
table (the figures themselves are not checked: the machine is shared), and it takes its default
BASE from the last release tag or says in one line that there is none. The build of a revision
takes minutes, so the run here compares the installed build with itself (``INSTALLED``), which
goes through everything but the build."""

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

AB = Path(__file__).resolve().parent.parent / "benchmarks" / "ab.py"


def test_ab_prints_its_table_for_every_figure():
    p = subprocess.run([sys.executable, str(AB), "INSTALLED", "INSTALLED", "--rounds", "3", "--inner", "3",
                        "--fib", "10", "--python", sys.executable], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
    lines = [ln for ln in p.stdout.splitlines() if ln.strip()]
    head = f"Python {sys.version.split()[0]}, process CPU time, fib(10), median of 3 rounds x 3 runs; BASE INSTALLED, HEAD INSTALLED"
    assert lines[0] == head, p.stdout
    assert lines[1].split() == ["figure", "BASE", "HEAD", "HEAD/BASE", "(min..max", "HEAD)"], p.stdout
    rows = {}
    for ln in lines[2:]:
        m = re.fullmatch(r"(\S+(?: \(per call\)| start|, in run)?)\s+(-?[\d.]+) (ns|µs)\s+(-?[\d.]+) (ns|µs)\s+(\S+)\s+\((-?[\d.]+)\.\.(-?[\d.]+)\)", ln)
        assert m, f"not a row of the table: {ln!r}"
        rows[m.group(1)] = m
    assert set(rows) == {"bare (per call)", "recorded", "rejected", "start+stop", "recorded/np", "rejected/np",
                         "start+stop/np", "child start",
                         "recorded, in run", "rejected, in run"}, p.stdout
    for name, m in rows.items():
        assert m.group(3) == m.group(5) == ("µs" if name.startswith(("start+stop", "child")) else "ns"), m.group(0)
        assert m.group(6) == "n/a" or re.fullmatch(r"-?\d+\.\d\d", m.group(6)), m.group(0)
    # (a tiny workload's per-call figures can be below 0 by noise; these two cannot)
    for name in ("start+stop", "bare (per call)", "child start"):
        assert float(rows[name].group(2)) > 0, rows[name].group(0)


def git(cwd, *args):
    subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True, text=True,
                   env=dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t",
                            GIT_COMMITTER_EMAIL="t@t"))


def test_the_default_base_is_the_last_release_tag(tmp_path):
    repo = tmp_path / "repo"
    (repo / "benchmarks").mkdir(parents=True)
    shutil.copy(AB, repo / "benchmarks" / "ab.py")
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "one")
    # no tag: one clear line, exit status 2, nothing built
    p = subprocess.run([sys.executable, str(repo / "benchmarks" / "ab.py"), "--cache", str(tmp_path / "cache")],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 2, p.stdout + p.stderr
    assert p.stderr.splitlines() == ["ab: no release tag to compare with (git describe --tags finds none): name the "
                                     "BASE revision, e.g. benchmarks/ab.py e2799a7"], p.stderr
    assert not (tmp_path / "cache").exists() or not list((tmp_path / "cache").iterdir())
    # a revision that does not exist: one line too
    p = subprocess.run([sys.executable, str(repo / "benchmarks" / "ab.py"), "no-such-rev", "--cache", str(tmp_path / "cache")],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and len(p.stderr.splitlines()) == 1 and "'no-such-rev' is not a revision" in p.stderr, p.stderr
    # tags: the last one reachable from HEAD
    git(repo, "tag", "v0.1.0")
    (repo / "x").write_text("x")
    git(repo, "add", "x")
    git(repo, "commit", "-q", "-m", "two")
    git(repo, "tag", "v0.2.0")
    spec = importlib.util.spec_from_file_location("ab_copy", repo / "benchmarks" / "ab.py")
    ab = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ab)
    assert ab.default_base() == "v0.2.0"
    assert ab.resolve("v0.1.0") == subprocess.run(["git", "-C", str(repo), "rev-parse", "v0.1.0^{commit}"],
                                                   capture_output=True, text=True).stdout.strip()
    # a work tree without changes is HEAD's build
    assert ab.resolve("WORKTREE") == ab.resolve("HEAD")
    (repo / "x").write_text("y")
    assert ab.resolve("WORKTREE") == "WORKTREE"
