"""Watching a recording while it runs: ``fprofile run --live`` and ``fprofile view`` on a streamed
``.fpt`` still being written (the page in Chromium, the loopback API, the refusals)."""
from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request
from collections import Counter

import pytest

import fprofile_jupyter
from conftest import free_port
from viewer_support import Viewer, wait_drawn

# Calls early() until the file `go` exists, then late() too, until `stop` exists: what the page
# shows before and after is decided by the test, not by timing.
GATED = textwrap.dedent("""
    import os, threading, time

    def early(i):
        return i

    def late(i):
        return i

    def side_loop():  # a second thread: the page hides it, and it stays hidden as the view grows
        while not os.path.exists("stop"):
            time.sleep(0.01)

    threading.Thread(target=side_loop, name="side", daemon=True).start()

    n_early = n_late = 0
    while not os.path.exists("stop"):
        for i in range(200):
            early(i)
        n_early += 200
        if os.path.exists("go"):
            for i in range(50):
                late(i)
            n_late += 50
        time.sleep(0.005)
    print("counts", n_early, n_late, flush=True)
""")

ENV = dict(os.environ, BROWSER="false", PYTHONUNBUFFERED="1")


def lines_of(stream) -> "queue.Queue[str]":
    q: "queue.Queue[str]" = queue.Queue()

    def pump() -> None:
        for line in stream:
            q.put(line)
        q.put("")

    threading.Thread(target=pump, daemon=True).start()
    return q


def wait_line(q: "queue.Queue[str]", pattern: str, seen: list, timeout_s: float = 60.0) -> "re.Match[str]":
    while True:
        line = q.get(timeout=timeout_s)
        seen.append(line)
        m = re.search(pattern, line)
        if m:
            return m
        assert line, f"the stream ended before {pattern!r}: {''.join(seen)}"


def summary_text(page) -> str:
    return page.inner_text("table.fprofile-summary")


def test_run_live_shows_a_function_first_called_after_the_page_opened(browser, tmp_path, artifacts_dir):
    (tmp_path / "gated.py").write_text(GATED)
    run = subprocess.Popen([sys.executable, "-m", "fprofile_jupyter", "run", "--live", "--last", "1", "-o", "live.fpt",
                            "gated.py"], cwd=tmp_path, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err, seen_out, seen_err = lines_of(run.stdout), lines_of(run.stderr), [], []
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        url = wait_line(out, r"fprofile viewer: (http://127\.0\.0\.1:\d+/)", seen_out).group(1)
        page = context.new_page()
        page.set_default_timeout(60_000)
        errors: list = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(url)
        page.wait_for_selector(".fprofile-page-live[data-live='live']")
        wait_drawn(page)
        assert page.is_checked("#fprofile-pin") and page.input_value("#fprofile-pin-s") == "1"
        first_gen = int(page.get_attribute(".fprofile-root", "data-live-gen"))
        text = summary_text(page)
        assert "early" in text and "late" not in text
        # the user hides the thread "side": the page reads the growing file again and again, and
        # what the user set stays (js/keepview.js)
        side = page.locator("label", has_text="side").locator("input[type=checkbox]").first
        side.uncheck()
        assert not side.is_checked()
        # readiness: a run longer than the 1 s the view is pinned to
        live_until(url, lambda a: a["span"][1] - a["span"][0] >= 1_500_000_000)
        (tmp_path / "go").touch()
        # a later generation, drawn, whose summary has late(): pushed to the open page
        page.wait_for_function("() => document.querySelector('table.fprofile-summary').innerText.includes('late')")
        assert int(page.get_attribute(".fprofile-root", "data-live-gen")) > first_gen
        side = page.locator("label", has_text="side").locator("input[type=checkbox]").first
        assert not side.is_checked(), "a thread the user hid came back with a new generation"
        assert page.get_attribute(".fprofile-page-live", "data-live") == "live"
        start = int(page.get_attribute(".fprofile-root", "data-window-start-ns"))
        end = int(page.get_attribute(".fprofile-root", "data-window-end-ns"))
        assert abs((end - start) - 1_000_000_000) <= 10_000_000  # pinned to the last second
        page.screenshot(path=os.path.join(artifacts_dir, "live_view.png"))
        (tmp_path / "stop").touch()
        page.wait_for_selector(".fprofile-page-live[data-live='ended']")
        wait_line(err, r"the live view stays open", seen_err)
        final = fprofile_jupyter.load(str(tmp_path / "live.fpt"))
        assert page.get_attribute(".fprofile-root", "data-calls") == str(len(final))
        assert not errors, errors
    finally:
        context.close()
        (tmp_path / "stop").touch()
        rc = stop(run)
    assert rc == 0, "".join(seen_err)
    printed = "".join(seen_out) + "".join(iter(lambda: out.get(timeout=10), ""))
    n_early, n_late = map(int, re.search(r"counts (\d+) (\d+)", printed).groups())
    by_function = Counter(c.function for c in final.calls())
    assert (by_function["early"], by_function["late"]) == (n_early, n_late) and n_late > 0


def stop(run: subprocess.Popen) -> int:
    """Ctrl-C as a terminal sends it: the program (if still running) then the live view."""
    for _ in range(3):
        if run.poll() is not None:
            break
        run.send_signal(signal.SIGINT)
        try:
            run.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pass
    if run.poll() is None:
        run.kill()
    return run.wait()


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=30) as r:
        return json.loads(r.read())


def live_until(url: str, ok, timeout_s: float = 60.0) -> dict:
    """Asks ``api/live`` until ``ok(answer)``; fails after ``timeout_s`` (a generous bound, not a timing)."""
    deadline = time.monotonic() + timeout_s
    while True:
        answer = get_json(url + "api/live")
        if ok(answer):
            return answer
        assert time.monotonic() < deadline, f"api/live never got there: {answer}"
        time.sleep(0.05)


def test_view_follows_a_streamed_file_until_its_end_chunk(tmp_path):
    (tmp_path / "gated.py").write_text(GATED)
    run = subprocess.Popen([sys.executable, "-m", "fprofile_jupyter", "run", "-o", "live.fpt", "gated.py"], cwd=tmp_path,
                           env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        err, seen = lines_of(run.stderr), []
        live = tmp_path / "live.fpt"
        deadline = time.monotonic() + 60
        while not (live.exists() and live.stat().st_size > 0):  # readiness: the stream's first round
            assert run.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        with Viewer(free_port(), str(live), cli=True) as v:
            initial = get_json(v.url + "api/initial")
            assert initial == {"name": "live.fpt", "live": "api/live", "last_s": None}
            a = live_until(v.url, lambda a: a["gen"] > 0)
            assert not a["done"] and "windowed" in a and a["span"][1] > a["span"][0]
            (tmp_path / "go").touch()
            b = live_until(v.url, lambda b: b["gen"] > a["gen"] and b["calls"] > a["calls"])
            assert not b["done"]
            (tmp_path / "stop").touch()
            wait_line(err, r"fprofile: wrote live\.fpt", seen)
            c = live_until(v.url, lambda c: c["done"])
            assert c["calls"] == len(fprofile_jupyter.load(str(live)))
            with urllib.request.urlopen(v.url + c["summary"], timeout=30) as r:
                names = {row["function"] for row in json.loads(r.read())["overall"]}
            assert {"early", "late"} <= names
    finally:
        if run.poll() is None:
            (tmp_path / "stop").touch()
        run.wait(timeout=60)


def one(i):
    return i


def test_a_finished_streamed_file_opens_as_usual(tmp_path):
    trace_path = tmp_path / "done.fpt"
    with fprofile_jupyter.profile(subs=[__file__], outfile=str(trace_path), processes=False):
        for i in range(3):
            one(i)
    with Viewer(free_port(), str(trace_path), cli=True) as v:
        initial = get_json(v.url + "api/initial")
        assert "live" not in initial and "trace" in initial


@pytest.mark.parametrize("args, fragment", [
    (["view", "--live"], "--live needs FILE"),
    (["view", "x.fpt", "--last", "0"], "--last must be a positive number"),
    (["run", "--live", "-o", "x.json", "p.py"], "--live follows the .fpt file"),
    (["run", "--live", "--keep-last", "5s", "-o", "x.json", "p.py"], "--live follows the .fpt file"),
    (["run", "--live", "--max-events", "9", "p.py"], "--max-events records in memory"),
    (["run", "--last", "3", "p.py"], "--last is for the live view"),
])
def test_live_refusals_are_one_line(tmp_path, args, fragment):
    (tmp_path / "p.py").write_text("pass\n")
    proc = subprocess.run([sys.executable, "-m", "fprofile_jupyter", *args], cwd=tmp_path, env=ENV,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and fragment in proc.stderr, proc.stderr
    assert not (tmp_path / "x.json").exists()


def test_run_keep_last_live_shows_the_last_window_and_sigusr1_still_writes(browser, tmp_path):
    (tmp_path / "gated.py").write_text(GATED)
    run = subprocess.Popen([sys.executable, "-m", "fprofile_jupyter", "run", "--keep-last", "1s", "--live", "-o", "w.fpt",
                            "gated.py"], cwd=tmp_path, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err, seen_out, seen_err = lines_of(run.stdout), lines_of(run.stderr), [], []
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        url = wait_line(out, r"fprofile viewer: (http://127\.0\.0\.1:\d+/)", seen_out).group(1)
        page = context.new_page()
        page.set_default_timeout(60_000)
        page.goto(url)
        page.wait_for_selector(".fprofile-page-live[data-live='live']")
        first = live_until(url, lambda a: a["gen"] > 0 and a["calls"] > 0)
        assert "early" in summary_text(page) and "late" not in summary_text(page)
        # generations of the last second only, however long the run (the flight recorder's window)
        later = live_until(url, lambda a: a["gen"] >= first["gen"] + 3)
        assert not later["done"] and later["span"][1] - later["span"][0] <= 1_010_000_000
        (tmp_path / "go").touch()
        page.wait_for_function("() => document.querySelector('table.fprofile-summary').innerText.includes('late')")
        run.send_signal(signal.SIGUSR1)  # the flight recorder's snapshot, as without --live
        wait_line(err, r"fprofile: wrote the last window \([\d,]+ calls\) to w\.fpt", seen_err)
        (tmp_path / "stop").touch()
        page.wait_for_selector(".fprofile-page-live[data-live='ended']")
        final = fprofile_jupyter.load(str(tmp_path / "w.fpt"))
        assert page.get_attribute(".fprofile-root", "data-calls") == str(len(final))
        assert Counter(c.function for c in final.calls())["late"] > 0
    finally:
        context.close()
        (tmp_path / "stop").touch()
        rc = stop(run)
    assert rc == 0, "".join(seen_err)
