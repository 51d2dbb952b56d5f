"""``fprofile attach PID`` and ``%fprofile attach PID`` (python/fprofile_jupyter/_attach.py): a running
program, started here under this Python, recorded for about a second and left running; and each
refusal's one line. Attaching needs CPython 3.14+ (PEP 768): on older Pythons the refusals run (the
attacher's Python too old among them); on 3.14 and 3.15 (the Debian root: scripts/debian_pythons.sh
test tests/test_attach.py) everything runs."""
import glob
import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap

import pytest

import fprofile_jupyter
from fprofile_jupyter.cli import attach as attach_command

NEW = sys.version_info >= (3, 14)
needs_new = pytest.mark.skipif(not NEW, reason="attaching needs CPython 3.14+ (PEP 768): run in the Debian root")

# The program: calls work() every 2 ms, remembering when (CLOCK_MONOTONIC, the same clock as the
# injected script's markers), until the file argv[1] exists; then writes the times to argv[2] and
# exits with status 7.
PROGRAM = textwrap.dedent("""
    import json, os, sys, time

    stamps = []

    def work():
        stamps.append(time.monotonic_ns())

    print("ready", flush=True)
    while not os.path.exists(sys.argv[1]):
        work()
        time.sleep(0.002)
    with open(sys.argv[2], "w") as f:
        json.dump(stamps, f)
    sys.exit(7)
""")


def attach_cli(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "fprofile_jupyter", "attach", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)


def one_error_line(r):
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert len(lines) == 1 and lines[0].startswith("fprofile: error: "), r.stderr
    return lines[0]


@pytest.fixture
def program(tmp_path):
    """Starts PROGRAM (with extra ``env``/``args``); returns a function giving (proc, stop, stamps)."""
    started = []

    def start(env=None, python_args=()):
        (tmp_path / "prog.py").write_text(PROGRAM)
        stop, stamps = tmp_path / "stop", tmp_path / "stamps.json"
        proc = subprocess.Popen([sys.executable, *python_args, str(tmp_path / "prog.py"), str(stop), str(stamps)],
                                cwd=tmp_path, stdout=subprocess.PIPE, text=True,
                                env={**os.environ, **(env or {})})
        started.append(proc)
        assert proc.stdout.readline().strip() == "ready"
        return proc, stop, stamps

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def test_no_such_pid():
    pid = 2**22 + 12345  # above Linux's largest pid_max
    assert "no process with pid" in one_error_line(attach_cli(pid, "--duration", "1"))


def test_not_python(tmp_path):
    sleep = subprocess.Popen(["sleep", "60"])
    try:
        line = one_error_line(attach_cli(sleep.pid, "--duration", "1"))
        assert f"pid {sleep.pid} is not a Python program" in line and "sleep" in line
    finally:
        sleep.kill()
        sleep.wait()


@pytest.mark.skipif(NEW, reason="this Python can attach: the refusal of an older attacher runs on 3.13 and older")
def test_attacher_python_too_old(program):
    proc, stop, _ = program()
    line = one_error_line(attach_cli(proc.pid, "--duration", "1"))
    assert "needs Python 3.14 or newer on this side" in line and "fprofile run" in line
    stop.write_text("")
    assert proc.wait(timeout=60) == 7


@needs_new
@pytest.mark.parametrize("how", ["env", "-X"])
def test_remote_debug_disabled(program, how):
    proc, stop, _ = program(env={"PYTHON_DISABLE_REMOTE_DEBUG": "1"} if how == "env" else None,
                            python_args=("-X", "disable_remote_debug") if how == "-X" else ())
    line = one_error_line(attach_cli(proc.pid, "--duration", "1"))
    assert "remote debugging disabled" in line and ("PYTHON_DISABLE_REMOTE_DEBUG" if how == "env" else "-X") in line
    stop.write_text("")
    assert proc.wait(timeout=60) == 7


def work_calls(trace):
    return sum(r.calls for r in trace.summary() if r.function == "work")


@needs_new
def test_attach_records_and_leaves_running(program, tmp_path):
    proc, stop, stamps_file = program()
    out = tmp_path / "attached.fpt"
    # the command: about one second, then the program goes on
    r = attach_cli(proc.pid, "--duration", "1", "-o", out)
    assert r.returncode == 0, r.stderr
    assert f"recording pid {proc.pid}" in r.stderr and f"wrote {out}" in r.stderr
    first = fprofile_jupyter.load(str(out))
    n_first = work_calls(first)
    assert n_first > 0
    assert proc.poll() is None  # still running
    # again, from here (the start and stop markers of the injected script): exact-enough counts
    out2 = tmp_path / "again.fpt"
    trace, _, result = attach_command.run([str(proc.pid), "--duration", "1", "-o", str(out2)], "fprofile attach",
                                   lambda s: None)
    n = work_calls(trace)
    stop.write_text("")
    assert proc.wait(timeout=60) == 7  # its own exit status: it ended normally
    stamps = json.loads(stamps_file.read_text())
    (t0a, t0b), (t1a, t1b) = result["start_ns"], result["stop_ns"]
    surely = sum(1 for t in stamps if t0b <= t <= t1a)
    maybe = sum(1 for t in stamps if t0a <= t <= t1b)
    assert surely > 10
    assert surely <= n <= maybe, (surely, n, maybe)
    assert n_first < len(stamps)
    assert fprofile_jupyter.load(str(out2)).summary() is not None  # the streamed file is complete


@needs_new
def test_magic_attach(program, tmp_path):
    IPython = pytest.importorskip("IPython")
    proc, stop, _ = program()
    shell = IPython.core.interactiveshell.InteractiveShell.instance()
    shell.run_line_magic("load_ext", "fprofile_jupyter")
    shell.run_line_magic("fprofile", f"attach {proc.pid} --duration 0.5 -o {tmp_path / 'm.fpt'}")
    assert work_calls(shell.user_ns["_fprofile_trace"]) > 0
    stop.write_text("")
    assert proc.wait(timeout=60) == 7


def test_magic_line_is_a_subcommand():
    from fprofile_jupyter._magic import subcommand

    assert subcommand("attach 1234 --duration 2") == ("attach", "1234 --duration 2")
    assert subcommand("attach(1)") is None  # a statement


@needs_new
def test_program_without_the_package_gets_the_attachers(program, tmp_path):
    proc, stop, _ = program(python_args=("-S",))  # no site-packages: no fprofile_jupyter importable there
    trace, _, result = attach_command.run([str(proc.pid), "--duration", "0.5", "-o", str(tmp_path / "s.fpt")],
                                   "fprofile attach", lambda s: None)
    assert result["injected"] is True
    assert work_calls(trace) > 0
    stop.write_text("")
    assert proc.wait(timeout=60) == 7


@needs_new
def test_other_version_in_the_program(program, tmp_path):
    other = tmp_path / "other" / "fprofile_jupyter"
    other.mkdir(parents=True)
    (other / "__init__.py").write_text("__version__ = '0.0.1'\n")
    proc, stop, _ = program(env={"PYTHONPATH": str(other.parent)})
    line = one_error_line(attach_cli(proc.pid, "--duration", "1", "-o", tmp_path / "v.fpt"))
    assert f"the program's fprofile-jupyter is 0.0.1, the attacher's is {fprofile_jupyter.__version__}" in line
    stop.write_text("")
    assert proc.wait(timeout=60) == 7
    assert not (tmp_path / "v.fpt").exists()


def start_attacher(pid, out):
    return subprocess.Popen([sys.executable, "-m", "fprofile_jupyter", "attach", str(pid), "-o", str(out)],
                            stderr=subprocess.PIPE, text=True)


@needs_new
def test_until_ctrl_c(program, tmp_path):
    proc, stop, _ = program()
    out = tmp_path / "c.fpt"
    attacher = start_attacher(proc.pid, out)
    assert "until Ctrl-C" in attacher.stderr.readline()  # recording
    attacher.send_signal(signal.SIGINT)
    rest = attacher.stderr.read()
    assert attacher.wait(timeout=60) == 0, rest
    assert work_calls(fprofile_jupyter.load(str(out))) > 0
    stop.write_text("")
    assert proc.wait(timeout=60) == 7


@needs_new
def test_attacher_killed_stops_the_recording(program, tmp_path):
    proc, stop, _ = program()
    attacher = start_attacher(proc.pid, tmp_path / "k.fpt")
    assert "until Ctrl-C" in attacher.stderr.readline()
    attacher.kill()
    attacher.wait()
    # the watcher in the program sees the attacher gone and stops: a new attach is then accepted
    # (while the first recording were on, it would be refused: "a recording is already on")
    for _ in range(60):
        r = attach_cli(proc.pid, "--duration", "0.2", "-o", tmp_path / "k2.fpt")
        if r.returncode == 0:
            break
        assert "a recording is already on" in r.stderr
    assert r.returncode == 0, r.stderr
    stop.write_text("")
    assert proc.wait(timeout=60) == 7


@needs_new
def test_program_blocked_in_c(tmp_path):
    """The injected script runs when the program next runs Python code: a program in a 3 s sleep
    does not start within --start-timeout 0.5; the attacher says why and leaves a cancel file, so
    that the late start records nothing."""
    (tmp_path / "blocked.py").write_text("import time, sys\nprint('ready', flush=True)\ntime.sleep(3)\n"
                                         "def work():\n    pass\nfor _ in range(100):\n    work()\nsys.exit(7)\n")
    proc = subprocess.Popen([sys.executable, str(tmp_path / "blocked.py")], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        folders = set(glob.glob(os.path.join(tempfile.gettempdir(), "fprofile-attach-*")))
        out = tmp_path / "b.fpt"
        line = one_error_line(attach_cli(proc.pid, "--duration", "1", "--start-timeout", "0.5", "-o", out))
        assert "did not run the injected script within 0.5 s" in line and "blocked in C" in line
        assert proc.wait(timeout=60) == 7
        assert not out.exists()
        # the late start removed the attacher's private folder
        assert set(glob.glob(os.path.join(tempfile.gettempdir(), "fprofile-attach-*"))) == folders
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
