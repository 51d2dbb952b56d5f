"""The session directory of a recording that follows processes, as an attacker and an unlucky user
meet it (issue 19, items 1-3; docs/processes.md "Threat model"):

- a leaked FPROFILE_JUPYTER_SESSION whose directory another user (``runuser -u nobody``) recreated
  with planted symlinks: root's later Python programs record nothing there, a root-owned file
  survives, nothing of theirs is readable; joins of a directory that is a link, has the wrong mode
  or owner, the wrong token, a free lock (a killed recording) are refused;
- the recording process killed with SIGKILL: its children stop writing within a round or two and
  keep what they wrote, no new child starts in the dead session, the next start keeps the directory
  and says where it is once, ``fprofile_jupyter.load`` of it gives the children's calls;
- a child holding the GIL in C code while the parent stops: what it recorded reaches the parent;
  a child that does not answer at all (SIGSTOP) is named in a warning with what was kept, and no
  SubsWarning claims "no match".

Every scenario runs real interpreters and real processes with a TMPDIR of its own."""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

import fprofile_jupyter as fp
from fprofile_jupyter import ProfilerError, _core, _processes
from fprofile_jupyter._options import RecordOptions

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="child processes are followed on Linux")

SYSTEM_PYTHON = "/usr/bin/python3"  # what the other user runs (no access to this project's venv needed)


def wait_for(cond, what, timeout=60.0):
    deadline = time.monotonic() + timeout
    while True:
        got = cond()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def env_with(tmp, **extra):
    env = dict(os.environ, TMPDIR=str(tmp), **extra)
    env.pop("FPROFILE_JUPYTER_SESSION", None)
    env.pop("FPROFILE_JUPYTER_DEBUG", None)
    return env


# -- item 1: another user and a leaked session ---------------------------------------------------

@pytest.fixture
def shared_tmp():
    """A sticky, world-writable directory like /tmp, of this test alone."""
    d = Path(tempfile.mkdtemp(prefix="fpj-shared-", dir="/tmp"))
    d.chmod(0o1777)
    yield d
    shutil.rmtree(d, ignore_errors=True)


RECORDER = '''
import os, subprocess, sys, time
import fprofile_jupyter as fp
shared, service = sys.argv[1], sys.argv[2]
def work():
    return sum(range(100))
with fp.profile(subs=["nothing-matches-this"]) as prof:
    # a detached service started while recording: it keeps the variable after the stop
    p = subprocess.Popen([sys.executable, service, shared], start_new_session=True,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(os.path.join(shared, "key"), "w") as f:
        f.write(os.environ["FPROFILE_JUPYTER_SESSION"] + "\\n" + str(p.pid))
    work()
print("STOPPED")
'''

SERVICE = '''
import os, subprocess, sys, time
shared = sys.argv[1]
go = os.path.join(shared, "go")
while not os.path.exists(go):
    time.sleep(0.01)
victim_prog = os.path.join(shared, "victim_prog.py")
results = []
for debug in ("0", "1"):
    env = dict(os.environ, FPROFILE_JUPYTER_DEBUG=debug)
    p = subprocess.run([sys.executable, victim_prog, "--password=hunter2-secret"], env=env,
                       capture_output=True, text=True, timeout=120)
    results.append({"rc": p.returncode, "out": p.stdout, "err": p.stderr})
import json
with open(os.path.join(shared, "service.json.tmp"), "w") as f:
    json.dump(results, f)
os.rename(os.path.join(shared, "service.json.tmp"), os.path.join(shared, "service.json"))
'''

VICTIM = '''
import os, sys, time
def secret_work(n):
    return n if n < 2 else secret_work(n - 1) + secret_work(n - 2)
print("VICTIM", secret_work(12), os.environ.get("FPROFILE_JUPYTER_SESSION", "").split(":")[0])
time.sleep(0.5)  # a few writer rounds, were it recording
'''

ATTACKER = '''
import json, os, sys, time
path, token, victim, out = sys.argv[1:5]
os.mkdir(path, 0o700)   # the leaked name, recreated: owned by this user, mode 0700 like a real one
os.chmod(path, 0o777)   # ... and writable by the victim's programs, so that they could write into it
with open(os.path.join(path, "session.json"), "w") as f:
    json.dump({"subs": [""], "exclude": [], "include": [], "metadata": [], "builtins": True,
               "max_events": 10**12, "parent_pid": 1, "start_ns": 0}, f)
with open(os.path.join(path, "token"), "w") as f:
    f.write(token)      # even knowing the token (it is not readable by others: assume the worst)
open(os.path.join(path, "lock"), "w").close()
# links to a file of root's, under every name a child writes or reads
last = int(open("/proc/sys/kernel/ns_last_pid").read())
for pid in range(last, last + 3000):
    for name in (f"{pid}.done", f"{pid}.2.spool"):
        try:
            os.symlink(victim, os.path.join(path, name))
        except OSError:
            pass
os.symlink(victim, os.path.join(path, "stop.link"))
with open(out, "w") as f:
    f.write("PLANTED")
# then watch for spools to read and for a new pid to link its .done to root's file
seen = {}
deadline = time.monotonic() + float(sys.argv[5])
while time.monotonic() < deadline:
    for n in os.listdir(path):
        p = os.path.join(path, n)
        if n.endswith(".spool") and not os.path.islink(p):
            pid = n.split(".")[0]
            try:
                os.symlink(victim, os.path.join(path, pid + ".done"))
            except OSError:
                pass
            try:
                seen[n] = open(p, "rb").read().decode("latin-1")
            except OSError as e:
                seen[n] = "unreadable: " + str(e)
    if os.path.exists(out + ".stop"):
        break
    time.sleep(0.005)
with open(out + ".json", "w") as f:
    json.dump(seen, f)
'''


def test_a_leaked_session_recreated_by_another_user_is_never_joined(tmp_path, shared_tmp):
    for name, text in [("recorder.py", RECORDER), ("service.py", SERVICE), ("victim_prog.py", VICTIM),
                       ("attacker.py", ATTACKER)]:
        (shared_tmp / name).write_text(textwrap.dedent(text))
        (shared_tmp / name).chmod(0o644)
    victim = shared_tmp / "root-owned.txt"
    victim.write_text("root's data\n")
    victim.chmod(0o644)
    tmpdir = shared_tmp / "tmp"  # the recordings' TMPDIR: sticky and world-writable, as /tmp
    tmpdir.mkdir()
    tmpdir.chmod(0o1777)
    env = env_with(tmpdir)
    p = subprocess.run([sys.executable, str(shared_tmp / "recorder.py"), str(shared_tmp), str(shared_tmp / "service.py")],
                       env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and "STOPPED" in p.stdout, p.stdout + p.stderr
    key, service_pid = (shared_tmp / "key").read_text().split("\n")
    path, _, token = key.partition(":")  # (the directory's name has no ":" here)
    assert Path(path).parent == tmpdir
    assert not os.path.exists(path), "the recording's directory is removed at its stop"
    # another user recreates it and plants links to root's file
    out = shared_tmp / "attacker-out"
    attacker = subprocess.Popen(["runuser", "-u", "nobody", "--", SYSTEM_PYTHON, str(shared_tmp / "attacker.py"), path,
                                 token, str(victim), str(out), "120"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: out.exists() and out.read_text() == "PLANTED", "the attacker's directory")
        assert os.stat(path).st_uid != 0
        # the service, still holding the variable, now runs Python programs of root's
        (shared_tmp / "go").write_text("")
        wait_for(lambda: (shared_tmp / "service.json").exists(), "the service's programs", timeout=180)
    finally:
        out.with_name(out.name + ".stop").write_text("")
        attacker.wait(timeout=60)
    runs = json.loads((shared_tmp / "service.json").read_text())
    seen = json.loads(out.with_name(out.name + ".json").read_text())
    assert attacker.returncode == 0, attacker.stderr.read()
    for r in runs:
        assert r["rc"] == 0 and r["out"].startswith("VICTIM 144 " + path), r
    # root's file survived, nothing was written into the attacker's directory, nothing to read
    assert victim.read_text() == "root's data\n" and victim.stat().st_uid == 0
    assert seen == {}, "a spool of root's program was written into the other user's directory"
    assert not any("hunter2" in v for v in seen.values())
    own = [n for n in os.listdir(path) if os.lstat(os.path.join(path, n)).st_uid == 0]
    assert own == [], f"root's programs created {own} in the other user's directory"
    assert len(token) == 32
    # silent for the program; one line on stderr in the debug setting, saying why
    assert runs[0]["err"] == "", runs[0]["err"]
    lines = runs[1]["err"].splitlines()
    assert len(lines) == 1 and "is not recorded as a child process" in lines[0] and "owned by uid 65534" in lines[0], lines
    try:
        os.kill(int(service_pid), signal.SIGKILL)
    except ProcessLookupError:
        pass


def make_session(tmp_path, monkeypatch, **kw):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", None)
    s = _processes.SessionDir(RecordOptions(subs=("x",), max_events=1000), **kw)
    return s


def test_session_json_is_the_childrens_record_options(tmp_path, monkeypatch):
    # the parent's RecordOptions taken whole: a child records the same filter, builtins and cap,
    # into its spool (no outfile, no window), following its own children; plus what the binding's
    # reader needs besides (metadata, parent_pid, start_ns)
    import dataclasses

    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", None)
    opts = RecordOptions(subs=("a/", "b/"), exclude=("site-packages",), include=("+urllib",), builtins=True,
                         max_events=77, outfile=str(tmp_path / "o.fpt"), processes=True)
    s = _processes.SessionDir(opts, metadata=[("k", "v")])
    try:
        path, _, token = s.key.rpartition(":")
        _joined, text = _core._join_session(path, token)
        config = json.loads(text)
        assert RecordOptions.from_json(config) == dataclasses.replace(opts, outfile=None)
        assert config["metadata"] == [["k", "v"]] and config["parent_pid"] == os.getpid()
        assert isinstance(config["start_ns"], int)
    finally:
        s.discard()


def test_joining_checks_the_directory_the_token_and_the_lock(tmp_path, monkeypatch):
    s = make_session(tmp_path, monkeypatch)
    path, _, token = s.key.rpartition(":")
    try:
        assert oct(os.stat(path).st_mode & 0o777) == "0o700"
        for name in ("session.json", "token", "lock"):
            assert os.stat(os.path.join(path, name)).st_mode & 0o777 == 0o600, name
        joined, config = _core._join_session(path, token)
        assert json.loads(config)["subs"] == ["x"]
        with pytest.raises(ProfilerError, match="token does not match"):
            _core._join_session(path, "0" * len(token))
        with pytest.raises(ProfilerError, match="token does not match"):
            _core._join_session(path, "")
        link = tmp_path / "link"
        link.symlink_to(path)
        with pytest.raises(ProfilerError, match="not usable"):
            _core._join_session(str(link), token)
        os.chmod(path, 0o755)
        with pytest.raises(ProfilerError, match="mode 755"):
            _core._join_session(path, token)
        os.chmod(path, 0o700)
        # a token file others can read, or one that is a link: refused
        os.chmod(os.path.join(path, "token"), 0o644)
        with pytest.raises(ProfilerError, match="mode"):
            _core._join_session(path, token)
        os.chmod(os.path.join(path, "token"), 0o600)
        s.stop_children()
        with pytest.raises(ProfilerError, match="has stopped"):
            _core._join_session(path, token)
    finally:
        s.discard()
    assert not os.path.exists(path)
    # a killed recording: its directory is there, its lock free
    s = make_session(tmp_path, monkeypatch)
    path, _, token = s.key.rpartition(":")
    s._release()
    try:
        with pytest.raises(ProfilerError, match="parent is gone"):
            _core._join_session(path, token)
    finally:
        shutil.rmtree(path)


def test_a_session_json_that_is_a_link_or_too_large_is_not_read(tmp_path, monkeypatch):
    s = make_session(tmp_path, monkeypatch)
    path, _, token = s.key.rpartition(":")
    try:
        cfg = os.path.join(path, "session.json")
        os.rename(cfg, cfg + ".real")
        os.symlink(cfg + ".real", cfg)
        with pytest.raises(ProfilerError, match="session.json"):
            _core._join_session(path, token)
        os.unlink(cfg)
        fd = os.open(cfg, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.ftruncate(fd, (16 << 20) + 1)
        os.close(fd)
        with pytest.raises(ProfilerError, match="larger than"):
            _core._join_session(path, token)
    finally:
        s.discard()


# -- item 2: the recording process killed -------------------------------------------------------

ORPHAN_PARENT = '''
import os, subprocess, sys, time
import fprofile_jupyter as fp
here = os.path.dirname(os.path.abspath(__file__))
def spin():
    return sum(range(50))
with fp.profile(subs=["orphan_"]):
    key = os.environ["FPROFILE_JUPYTER_SESSION"]
    child = subprocess.Popen([sys.executable, os.path.join(here, "orphan_child.py")])
    forked = os.fork()  # a fork child too: it must not keep the parent's lock alive
    if forked == 0:
        while True:
            spin()
    print("SESSION", key.partition(":")[0], child.pid, forked, flush=True)
    time.sleep(3600)  # killed with SIGKILL by the test
'''

ORPHAN_CHILD = '''
import os, subprocess, sys, time
here = os.path.dirname(os.path.abspath(__file__))
def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)
def loop():
    fib(12)
while not os.path.exists(os.path.join(here, "parent-killed")):
    loop()
# the parent is gone: a Python started now must not join the dead session
p = subprocess.run([sys.executable, "-c", "def g():\\n    return 1\\nfor _ in range(10**5): g()"],
                   env=dict(os.environ, FPROFILE_JUPYTER_DEBUG="1"), capture_output=True, text=True)
with open(os.path.join(here, "late-child.txt"), "w") as f:
    f.write(p.stderr)
while True:
    loop()
'''


def dir_size(path):
    return sum(os.lstat(os.path.join(path, n)).st_size for n in os.listdir(path))


def test_children_of_a_killed_recording_stop_writing_and_their_recordings_load(tmp_path, monkeypatch):
    (tmp_path / "orphan_parent.py").write_text(textwrap.dedent(ORPHAN_PARENT))
    (tmp_path / "orphan_child.py").write_text(textwrap.dedent(ORPHAN_CHILD))
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = env_with(tmp)
    parent = subprocess.Popen([sys.executable, str(tmp_path / "orphan_parent.py")], env=env, cwd=tmp_path,
                              stdout=subprocess.PIPE, text=True)
    child_pid = forked = None
    try:
        line = parent.stdout.readline()
        assert line.startswith("SESSION "), line
        _, path, child, forked = line.split()
        child_pid, forked = int(child), int(forked)
        for pid in (child_pid, forked):
            spool = os.path.join(path, f"{pid}.spool")
            wait_for(lambda: os.path.exists(spool) and os.path.getsize(spool) > 4096,  # noqa: B023 (called at once)
                     "the children's first rounds")
        os.kill(parent.pid, signal.SIGKILL)  # an OOM kill, a kill -9 of `fprofile run`
        parent.wait(timeout=60)
        (tmp_path / "parent-killed").write_text("")
        # the child notices within a round or two: it stops recording and acknowledges
        for pid in (child_pid, forked):
            done = os.path.join(path, f"{pid}.done")
            wait_for(lambda: os.path.exists(done), f"the orphan {pid} to stop recording", timeout=30)  # noqa: B023
        wait_for(lambda: (tmp_path / "late-child.txt").exists(), "the child's late Python")
        late = (tmp_path / "late-child.txt").read_text()
        assert "parent is gone" in late, late
        # the session directory's size over the next seconds: it does not grow (the child goes on
        # calling fib in a loop)
        sizes = [dir_size(path)]
        for _ in range(4):
            time.sleep(0.5)
            sizes.append(dir_size(path))
        assert len(set(sizes)) == 1, f"the session directory still grows: {sizes}"
        spools = sorted(n for n in os.listdir(path) if n.endswith(".spool"))
        assert spools == sorted([f"{child_pid}.spool", f"{forked}.spool"]), os.listdir(path)
    finally:
        for pid in (child_pid, forked):
            try:
                if pid is not None:
                    os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        parent.kill()
    # what the child wrote loads (the killed parent's own calls were in its memory)
    trace = fp.load(path)
    assert sorted(p.pid for p in trace.processes) == sorted([child_pid, forked])
    names = {c.function for c in trace.calls()}
    assert len(trace) > 100 and {"fib", "loop", "spin"} <= names, (len(trace), names)
    # the next start keeps the directory, says where it is once, and loads of it still work
    with pytest.warns(RuntimeWarning, match=f"left what its child processes recorded in {path}"):
        _processes._sweep(str(tmp))
    assert os.path.isdir(path)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _processes._sweep(str(tmp))  # said once
    assert os.path.isdir(path)
    # later starts of this process do not visit it again while it is unchanged (starting a
    # recording stays cheap with many kept directories); a change makes them look again
    visited = []
    real_sweep_one = _processes._sweep_one
    monkeypatch.setattr(_processes, "_sweep_one", lambda p: visited.append(p) or real_sweep_one(p))
    _processes._sweep(str(tmp))
    assert visited == []
    os.utime(path)
    _processes._sweep(str(tmp))
    assert visited == [path]
    monkeypatch.undo()
    assert len(fp.load(path)) == len(trace)
    # the command line reads it too
    p = subprocess.run([sys.executable, "-m", "fprofile_jupyter", "convert", path, str(tmp_path / "out.fpt")],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    assert len(fp.load(str(tmp_path / "out.fpt"))) == len(trace)
    # once older than KEEP_DAYS, the sweep removes it
    old = time.time() - (_processes.KEEP_DAYS + 1) * 86400
    for n in os.listdir(path):
        os.utime(os.path.join(path, n), (old, old), follow_symlinks=False)
    os.utime(path, (old, old))
    _processes._sweep(str(tmp))
    assert not os.path.exists(path)


def test_a_running_session_and_a_dead_one_with_nothing_recorded(tmp_path, monkeypatch):
    s = make_session(tmp_path, monkeypatch)
    path = s.path
    try:
        _processes._sweep(str(tmp_path))
        assert os.path.isdir(path), "a running recording's directory is never swept"
        with pytest.raises(ProfilerError, match="still running"):
            fp.load(path)
        s._release()  # killed: lock free, no spool written
        _processes._sweep(str(tmp_path))
        assert not os.path.exists(path), "a dead session with nothing recorded goes silently"
    finally:
        shutil.rmtree(path, ignore_errors=True)


# -- item 3: a child that holds the GIL, a child that does not answer ----------------------------

GIL_PARENT = '''
import json, os, signal, subprocess, sys, time, warnings
import fprofile_jupyter as fp
here = os.path.dirname(os.path.abspath(__file__))
mode = sys.argv[1]
children = []
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    with fp.profile(subs=["gil_mod.py"]) as prof:
        for i, what in enumerate(mode.split(",")):
            ready = os.path.join(here, f"ready-{os.getpid()}-{i}")
            c = subprocess.Popen([sys.executable, os.path.join(here, "gil_child.py"), what, ready])
            children.append(c)
            while not os.path.exists(ready):
                time.sleep(0.005)
            if what == "stop-after-calls":
                # stopped once its calls are in its spool
                path = os.environ["FPROFILE_JUPYTER_SESSION"].partition(":")[0]
                spool = os.path.join(path, f"{c.pid}.spool")
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline:
                    try:
                        if fp._core._read_spool(spool)[3] >= 3:
                            break
                    except Exception:
                        pass
                    time.sleep(0.005)
            if what.startswith("stop"):
                os.kill(c.pid, signal.SIGSTOP)
for c in children:
    os.kill(c.pid, signal.SIGCONT)
    c.kill()
    c.wait()
t = prof.trace
calls = {}
for c in t.calls():
    per = calls.setdefault(str(t.threads[c.thread].pid), {})
    per[c.function] = per.get(c.function, 0) + 1
print("REPORT " + json.dumps({
    "pids": [c.pid for c in children],
    "calls": calls,
    "incomplete": {str(p.pid): p.incomplete for p in t.processes},
    "warnings": [(type(w.message).__name__, str(w.message)) for w in caught],
}))
'''

GIL_CHILD = '''
import ctypes, os, sys
what, ready = sys.argv[1], sys.argv[2]
if what != "stop-at-once":  # (subs: gil_mod.py, which this one never imports: no call)
    from gil_mod import recorded
    recorded(1)
    recorded(2)
open(ready, "w").close()
if what == "hold-gil":
    # C code that holds the GIL: libc's sleep called through PyDLL (which does not release it)
    ctypes.PyDLL(None).sleep(600)
else:
    import time
    time.sleep(600)
'''


def run_gil_parent(tmp_path, mode):
    (tmp_path / "gil_parent.py").write_text(textwrap.dedent(GIL_PARENT))
    (tmp_path / "gil_child.py").write_text(textwrap.dedent(GIL_CHILD))
    (tmp_path / "gil_mod.py").write_text("def recorded(n):\n    return n * 2\n")
    tmp = tmp_path / f"tmp-{mode}"
    tmp.mkdir()
    p = subprocess.run([sys.executable, str(tmp_path / "gil_parent.py"), mode], env=env_with(tmp), cwd=tmp_path,
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    (line,) = [ln for ln in p.stdout.splitlines() if ln.startswith("REPORT ")]
    assert os.listdir(tmp) == []
    return json.loads(line[len("REPORT "):])


def test_a_child_holding_the_gil_at_the_stop_keeps_its_calls(tmp_path):
    r = run_gil_parent(tmp_path, "hold-gil")
    (pid,) = r["pids"]
    assert r["calls"] == {str(pid): {"<module>": 1, "recorded": 2}}, r
    assert r["incomplete"][str(pid)] is True, r  # flushed, still running
    assert r["warnings"] == [], r["warnings"]  # no SubsWarning: the subs matched its calls


def test_a_child_that_does_not_answer_the_stop_is_named_with_what_was_kept(tmp_path):
    r = run_gil_parent(tmp_path, "stop-after-calls")
    (kept,) = r["pids"]
    assert r["calls"] == {str(kept): {"<module>": 1, "recorded": 2}}, r
    assert r["incomplete"][str(kept)] is True, r
    msgs = [m for k, m in r["warnings"] if k == "RuntimeWarning"]
    assert len(msgs) == 1 and f"child process {kept} (" in msgs[0] and "gil_child.py" in msgs[0], msgs
    assert "did not answer the stop" in msgs[0] and "keeps the 3 calls" in msgs[0], msgs
    # one that had nothing in its spool: named, and no SubsWarning claims its subs matched nothing
    r = run_gil_parent(tmp_path, "stop-at-once")
    (empty,) = r["pids"]
    assert r["calls"] == {}, r
    assert [k for k, _ in r["warnings"]] == ["RuntimeWarning"], r["warnings"]
    (msg,) = [m for _, m in r["warnings"]]
    assert f"child process {empty} (" in msg and "none of its calls had reached its spool" in msg, msg
