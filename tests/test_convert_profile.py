"""``python -m fprofile_jupyter.convertProfile in.txt out.json``: the drop-in for PYME's converter.

The expected JSON comes from a small plain-Python implementation of the converter's documented
algorithm (docs/pyme-formats.md section 2), written here from the description."""
import json
import os
import subprocess
import sys
import threading
import time

import pytest

import fprofile_jupyter as fj

ENV = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")


def convert_profile(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "fprofile_jupyter.convertProfile", *map(str, args)],
                          capture_output=True, text=True, env=ENV, cwd=cwd, timeout=120)


def reference_convert(text):
    """PYME's conversion as documented: per-thread stacks, completed calls only, lanes."""
    rows = [ln.split("\t") for ln in text.splitlines() if ln.strip()]
    t0 = float(rows[0][0])
    base = t0 if t0 > 10 else 0.0
    names, stacks, first, last, done = [], {}, {}, {}, {}
    for t, thread, file, func, event, line in rows:
        t = float(t)
        if thread not in stacks:
            names.append(thread)
            stacks[thread], done[thread], first[thread] = [], [], t
        last[thread] = t
        if event == "call":
            stacks[thread].append((t, file, func, line))
        elif stacks[thread]:
            ts, f, n, ln = stacks[thread].pop()
            done[thread].append((ts, t, f, n, len(stacks[thread]) + 1, ln))
    lanes = []
    for i, name in enumerate(names):
        overlapping = [lanes[j] for j in range(i)
                       if first[names[j]] <= last[name] and first[name] <= last[names[j]]]
        lanes.append(max(overlapping) + 1 if overlapping else 0)
    callstack = []
    for i, name in enumerate(names):
        for ts, tf, f, n, depth, ln in done[name]:
            callstack.append({"ts": ts - base, "tf": tf - base, "f": f, "n": n, "l": depth, "td": i,
                              "tl": float(lanes[i]), "ns": ln})
    return {
        "callstack": callstack,
        "threadNames": names,
        "threadLines": [{"ts": first[n] - base, "tf": last[n] - base, "tl": float(lanes[i])} for i, n in enumerate(names)],
        "maxConcurrentThreads": max(lanes) + 1,
    }


PYME_FILE = "\n".join([
    "1234.500100\tMainThread\t/home/u/PYME/io/x.py\tload\tcall\t42",
    "1234.500200\tMainThread\t/home/u/PYME/io/x.py\tparse\tcall\t50",
    "1234.500250\tWorker-1\t/home/u/PYME/io/y.py\trun\tcall\t7",
    "1234.500300\tMainThread\t/home/u/PYME/io/x.py\tparse\treturn\t50",
    "1234.500310\tWorker-1\t/home/u/PYME/io/y.py\tstep\tcall\t12",
    "1234.500320\tWorker-1\t/home/u/PYME/io/y.py\tstep\treturn\t12",
    "1234.500400\tMainThread\t/home/u/PYME/io/x.py\tparse\tcall\t50",
    "1234.500500\tMainThread\t/home/u/PYME/io/x.py\tparse\treturn\t50",
    "1234.500900\tMainThread\t/home/u/PYME/io/x.py\tload\treturn\t42",
    "1234.501000\tWorker-1\t/home/u/PYME/io/y.py\trun\treturn\t7",
    "1234.600000\tWorker-2\t/home/u/PYME/io/z.py\tlater\tcall\t3",
    "1234.600100\tWorker-2\t/home/u/PYME/io/z.py\tlater\treturn\t3",
]) + "\n"


def test_output_equals_the_converters(tmp_path):
    (tmp_path / "somefile.txt").write_text(PYME_FILE)
    proc = convert_profile("somefile.txt", "calltrees.json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "" and proc.stderr == ""
    ours = json.loads((tmp_path / "calltrees.json").read_text())
    expected = reference_convert(PYME_FILE)
    assert ours == expected
    # the original's key order within an entry
    assert list(ours["callstack"][0]) == ["ts", "tf", "f", "n", "l", "td", "tl", "ns"]
    assert ours["threadNames"] == ["MainThread", "Worker-1", "Worker-2"]
    assert [tl["tl"] for tl in ours["threadLines"]] == [0.0, 1.0, 0.0]  # Worker-2 overlaps nobody
    assert ours["maxConcurrentThreads"] == 2


def test_times_below_ten_seconds_are_not_rebased(tmp_path):
    text = PYME_FILE.replace("1234.", "5.")
    (tmp_path / "in.txt").write_text(text)
    assert convert_profile(tmp_path / "in.txt", tmp_path / "out.json").returncode == 0
    ours = json.loads((tmp_path / "out.json").read_text())
    assert ours == reference_convert(text)
    assert ours["threadLines"][0]["ts"] == 5.5001


def test_unmatched_return_and_unfinished_call_are_left_out(tmp_path):
    text = "\n".join([
        "20.000000\tMainThread\t/p/a.py\tinner\treturn\t5",  # began before profiling
        "20.000100\tMainThread\t/p/a.py\tf\tcall\t1",
        "20.000200\tMainThread\t/p/a.py\tf\treturn\t1",
        "20.000300\tMainThread\t/p/a.py\tstill_running\tcall\t9",  # never returned
    ]) + "\n"
    (tmp_path / "in.txt").write_text(text)
    assert convert_profile(tmp_path / "in.txt", tmp_path / "out.json").returncode == 0
    ours = json.loads((tmp_path / "out.json").read_text())
    assert [e["n"] for e in ours["callstack"]] == ["f"]
    assert ours == reference_convert(text)


def test_our_recording_through_the_converter(tmp_path):
    def leaf():
        time.sleep(0.0005)

    def work():
        for _ in range(3):
            leaf()

    raw = tmp_path / "live.txt"
    p = fj.ThreadProfiler()
    p.profile_on(subs=[os.path.abspath(__file__)], outfile=str(raw))
    try:
        work()
        th = threading.Thread(target=work, name="side")
        th.start()
        th.join()
    finally:
        p.profile_off()
    proc = convert_profile(raw, tmp_path / "live.json")
    assert proc.returncode == 0, proc.stderr
    ours = json.loads((tmp_path / "live.json").read_text())
    assert ours == reference_convert(raw.read_text())
    assert set(ours["threadNames"]) == {"MainThread", "side"}
    assert sum(1 for e in ours["callstack"] if e["n"].split(".")[-1] == "leaf") == 6


def test_usage_on_wrong_arguments(tmp_path):
    usage = "usage: python -m fprofile_jupyter.convertProfile INFILE.txt OUTFILE.json"
    for args in ([], ["only-one.txt"], ["a", "b", "c"]):
        proc = convert_profile(*args, cwd=tmp_path)
        assert proc.returncode == 2
        assert proc.stderr.strip() == usage
    proc = convert_profile("--help")
    assert proc.returncode == 0 and proc.stdout.startswith(usage)


@pytest.mark.parametrize("content,fragment", [
    (b"", "empty file"),
    (b"12.0\tMainThread\t/a.py\tf\tcall\t1\n12.1\tMainThread\t/a.py\tf\tcalled\t1\n", "line 2"),
    (b'{"not": "a trace"}', "JSON that is not a trace"),
])
def test_bad_input_is_one_line(tmp_path, content, fragment):
    # (not named .txt: an empty .txt file is PYME raw text with no events, an empty trace)
    p = tmp_path / "in.trace"
    p.write_bytes(content)
    proc = convert_profile(p, tmp_path / "out.json")
    assert proc.returncode == 1
    err = proc.stderr.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in proc.stderr
    assert err.startswith(f"convertProfile: error: {p}: ") and fragment in err
    assert not (tmp_path / "out.json").exists()


def test_missing_input_and_unwritable_output(tmp_path):
    proc = convert_profile(tmp_path / "nope.txt", tmp_path / "out.json")
    assert proc.returncode == 1
    assert proc.stderr.strip() == f"convertProfile: error: {tmp_path / 'nope.txt'}: No such file or directory"
    (tmp_path / "in.txt").write_text(PYME_FILE)
    proc = convert_profile(tmp_path / "in.txt", tmp_path / "no" / "out.json")
    assert proc.returncode == 1 and len(proc.stderr.strip().splitlines()) == 1
    assert "No such file or directory" in proc.stderr
