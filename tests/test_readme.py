"""README.md's examples, run as written.

- The Python blocks run (with a stand-in `run_my_pipeline` calling a real package named
  `mypackage`, and a stand-in workload under a `PYME/` folder for the ThreadProfiler block's `...`),
  and record what they say they record.
- The notebook blocks (`%load_ext`, `%%fprofile`) run in an IPython shell.
- Every `fprofile <sub>` option shown in the bash blocks is listed by `fprofile <sub> --help`; the
  command lines without placeholders are run on files with the README's names; the
  `python -m fprofile_jupyter....` lines run too (the viewer: its --help).
- Files the README points to exist.
"""
from __future__ import annotations

import importlib
import json
import re
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import fprofile_jupyter as fprofile

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
FPROFILE = [sys.executable, "-m", "fprofile_jupyter"]

PACKAGE = textwrap.dedent("""\
    import threading

    def load(n):
        return list(range(n))

    def score(xs):
        total = 0
        for x in xs:
            total += x * x
        return total

    def worker(out, n):
        out.append(score(load(n)))

    def run():
        out = []
        threads = []
        for i in range(2):
            threads.append(threading.Thread(target=worker, args=(out, 50), name=f"worker-{i}"))
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return score(load(10)) + sum(out)
    """)
RECORDED = {"run", "worker", "load", "score"}


def blocks(lang: str) -> list[str]:
    """The fenced code blocks of README.md in `lang` ("" = no language given)."""
    text = README.read_text(encoding="utf-8")
    return [m.group(2) for m in re.finditer(r"^```(\w*)\n(.*?)^```", text, re.S | re.M) if m.group(1) == lang]


def python_block(marker: str) -> str:
    found = [b for b in blocks("python") if marker in b]
    assert len(found) == 1, f"README: one python block with {marker!r} expected, found {len(found)}"
    return found[0]


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """An empty working directory with a package `mypackage` and a module under `PYME/` importable."""
    pkgs = tmp_path / "site"
    (pkgs / "mypackage").mkdir(parents=True)
    (pkgs / "mypackage" / "__init__.py").write_text(PACKAGE, encoding="utf-8")
    (pkgs / "PYME").mkdir()
    (pkgs / "PYME" / "__init__.py").write_text("", encoding="utf-8")
    (pkgs / "PYME" / "pipeline.py").write_text(PACKAGE, encoding="utf-8")
    monkeypatch.syspath_prepend(str(pkgs))
    importlib.import_module("mypackage")  # imported before profiling: its module body is not a call we look for
    importlib.import_module("PYME.pipeline")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    yield work
    for name in [m for m in sys.modules if m in ("mypackage", "PYME") or m.startswith(("mypackage.", "PYME."))]:
        del sys.modules[name]


def run_my_pipeline():
    import mypackage
    return mypackage.run()


def functions(trace) -> set:
    return {c.function for c in trace.calls()}


def test_readme_blocks_are_found():
    assert len(blocks("python")) == 2
    assert len(blocks("bash")) == 4
    assert any("%%fprofile" in b for b in blocks(""))


def test_use_it_block(workdir):
    code = python_block("fprofile.profile(")
    ns = {"run_my_pipeline": run_my_pipeline, "__name__": "__readme__"}
    exec(compile(code, "README.md", "exec"), ns)
    trace = ns["prof"].trace
    # subs=["mypackage"]: the package's calls, in every thread, and nothing else
    assert functions(trace) == RECORDED
    assert {"worker-0", "worker-1"} <= {t.name for t in trace.threads}
    assert "mypackage" in trace.calls()[0].file
    # "a readable summary" outside notebooks; the summary; the file
    assert len(trace) == 9  # run, load, score; in each of the two threads: worker, load, score
    assert "9 calls of 4 functions in 3 threads" in repr(trace)
    assert {r.function for r in trace.summary()} == RECORDED
    assert fprofile.load(workdir / "run.fpt") == trace
    # the other formats the comment names, by extension
    comment = next(ln for ln in code.splitlines() if ".save(" in ln).split("#", 1)[1]
    extensions = re.findall(r"(?<![\w.])\.(?:[a-z]+\.)?[a-z]+", comment)
    assert {".json", ".perfetto.json", ".speedscope.json", ".html"} <= set(extensions), extensions
    for ext in extensions:
        trace.save("run" + ext)
        assert (workdir / ("run" + ext)).stat().st_size > 0
        if ext in (".fpt", ".json", ".txt"):
            assert fprofile.load("run" + ext).folded() == trace.folded(), ext
    assert fprofile.load("run.json").folded() == trace.folded()
    assert "traceEvents" in json.loads((workdir / "run.perfetto.json").read_text())
    assert "speedscope" in (workdir / "run.speedscope.json").read_text()


def test_pyme_drop_in_blocks(workdir):
    code = python_block("ThreadProfiler")
    lines = code.splitlines()
    assert lines.count("...") == 1, "the block's placeholder line"
    code = "\n".join("import PYME.pipeline; PYME.pipeline.run()" if ln == "..." else ln for ln in lines)
    exec(compile(code, "README.md", "exec"), {"__name__": "__readme__"})
    raw = (workdir / "somefile.txt").read_text()
    assert raw.count("\tcall\t") == 9 and "PYME/pipeline.py" in raw
    # the bash block after it: the converter and the viewer, as written (`python` = this Python)
    commands = [ln.split("#")[0].split() for b in blocks("bash") for ln in b.splitlines()
                if ln.startswith("python -m fprofile_jupyter.")]
    assert [c[2] for c in commands] == ["fprofile_jupyter.convertProfile", "fprofile_jupyter.viewProfile"]
    convert, view = commands
    r = subprocess.run([sys.executable] + convert[1:], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    data = json.loads((workdir / "calltrees.json").read_text())
    assert "callstack" in data
    assert functions(fprofile.load("calltrees.json")) == RECORDED
    r = subprocess.run([sys.executable] + view[1:3] + ["--help"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "FILE" in r.stdout and "--no-browser" in r.stdout, r.stderr


def test_notebook_blocks(workdir):
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    from fprofile_jupyter import _magic

    shell = InteractiveShell.instance()
    shell.user_ns["run_my_pipeline"] = run_my_pipeline
    shell.user_ns.pop(_magic.TRACE_VARIABLE, None)
    cells = [b for b in blocks("") if b.lstrip().startswith("%")]
    assert [c.split()[0] for c in cells] == ["%load_ext", "%%fprofile"]
    for cell in cells:
        with capture_output():
            result = shell.run_cell(cell)
        assert result.success, result.error_in_exec or result.error_before_exec
    # --subs mypackage,otherpackage: the package's calls
    assert functions(shell.user_ns[_magic.TRACE_VARIABLE]) == RECORDED


def fprofile_lines() -> list[str]:
    return [ln for b in blocks("bash") for ln in b.splitlines() if ln.startswith("fprofile ")]


def options_of(line: str) -> tuple[str, set]:
    """The subcommand of a README `fprofile ...` line and every option it shows (in its comment too)."""
    sub = line.split()[1]
    return sub, set(re.findall(r"(?:(?<=\s)|(?<=\[))(--?[A-Za-z][\w-]*)", line))


def test_every_fprofile_option_shown_exists():
    lines = fprofile_lines()
    subs = [options_of(ln)[0] for ln in lines]
    assert subs == ["run", "stats", "convert", "view", "run", "export", "export", "attach"]
    helps = {}
    for line in lines:
        sub, options = options_of(line)
        if sub not in helps:
            r = subprocess.run(FPROFILE + [sub, "--help"], capture_output=True, text=True, timeout=120)
            assert r.returncode == 0, f"fprofile {sub} --help: {r.stderr}"
            helps[sub] = r.stdout
        for opt in options:
            assert re.search(rf"(?<![\w-]){re.escape(opt)}(?![\w-])", helps[sub]), f"README: `fprofile {sub} {opt}`: not an option of {sub}"


def test_fprofile_command_lines_run(workdir):
    """The lines without placeholders ([...], script.py), on files named as in the README."""
    import mypackage
    with fprofile.profile(subs=["mypackage"]) as prof:
        mypackage.run()
    prof.trace.save("trace.fpt")
    prof.trace.save("in.txt")
    ran = []
    for line in fprofile_lines():
        args = shlex.split(line.split("#")[0])
        if any("[" in a for a in args) or args[1] == "view":
            continue  # `run` shows optional parts; `view` starts a server (tests/test_viewer.py)
        r = subprocess.run(FPROFILE + args[1:], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, f"{line}: {r.stderr}"
        ran.append((args[1], r.stdout))
    assert [s for s, _ in ran] == ["stats", "convert", "export", "export"]
    assert "score" in ran[0][1]
    assert functions(fprofile.load("out.json")) == RECORDED
    assert "<html" in (workdir / "trace.html").read_text(encoding="utf-8").lower()
    assert (workdir / "trace.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_fprofile_run_line(workdir):
    """`fprofile run [--subs X,Y] [--builtins] [--no-processes] [-o trace.fpt] script.py`, every option given."""
    (workdir / "script.py").write_text("import mypackage\nmypackage.run()\n", encoding="utf-8")
    line = next(ln for ln in fprofile_lines() if ln.startswith("fprofile run "))
    args = [a.strip("[]") for a in shlex.split(line.split("#")[0])[1:] if a != "[args...]"]
    assert args == ["run", "--subs", "X,Y", "--builtins", "--no-processes", "-o", "trace.fpt", "script.py"]
    args[args.index("X,Y")] = "mypackage,nothing_else"
    env = {"PYTHONPATH": str(workdir.parent / "site"), "PATH": "/usr/bin:/bin"}
    r = subprocess.run(FPROFILE + args, capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0, r.stderr
    assert RECORDED <= functions(fprofile.load("trace.fpt"))  # --builtins: the C calls too


def test_files_the_readme_names_exist():
    text = README.read_text(encoding="utf-8")
    for b in blocks("bash"):
        for path in re.findall(r"bash (\S+\.sh)", b) + re.findall(r"\b(examples/[\w./-]+\.py)", b):
            assert (ROOT / path).is_file(), path
    for path in re.findall(r"\]\(([^)#:]+)\)", text):
        assert (ROOT / path).exists(), path
    for path in re.findall(r"`((?:rust|python|js|notebooks|tests|benchmarks|docs|examples|scripts|\.ci)/[^`*]*)`", text):
        assert (ROOT / path).exists(), path
