"""asyncio task bands in the timeline (headless Chromium, the HTML export of a real recording): the
loop thread's band row is drawn, the tooltip over a band names its task, and the summary table's
task selector shows one task's rows (the counts ``Trace.summary(task=...)`` gives); task lanes (the
toggle, js/tasklaneview.js): a lane per task of the loop thread, with its steps and the calls
``Trace.summary(task=...)`` counts, its tooltip naming it (as text), and gone again with the key t."""
from __future__ import annotations

import asyncio
import json
import os
import threading
from collections import Counter

import pytest

from fprofile_jupyter import profile

from test_asyncio import PLAN, prog  # noqa: F401  (the module fixture)
from viewer_support import offline_page, wait_drawn


@pytest.fixture(scope="module")
def recorded(prog, tmp_path_factory):  # noqa: F811
    async def slow():
        for _ in range(4000):  # one long step: its band takes a good part of the run
            prog.beta_call()
        await asyncio.sleep(0)

    async def main():
        await prog.main(PLAN)
        await asyncio.create_task(slow(), name="slow-<b>one</b>")  # a name is text, never HTML

    # (on a thread of its own: Playwright's loop runs in this one)
    runner = threading.Thread(target=lambda: asyncio.run(main()), name="loop-thread")
    with profile(subs=[prog.PATH, __file__]) as p:  # (slow is this file's)
        runner.start()
        runner.join(60)
    out = tmp_path_factory.mktemp("asyncio_view") / "tasks.html"
    p.trace.save(str(out))
    return p.trace, out


def test_bands_tooltip_and_task_selector(browser, recorded):
    trace, out = recorded
    context, page, blocked, errors = offline_page(browser, viewport=(1400, 900))
    try:
        page.goto(out.as_uri())
        wait_drawn(page)
        thread = next(b[0] for b in trace.bands if b[3] in PLAN)
        page.wait_for_function("(t) => JSON.parse(document.querySelector('canvas.fprofile-zoom').dataset.bandRows || '[]')"
                               ".some((r) => r.thread === t)", arg=thread)
        assert int(page.get_attribute("canvas.fprofile-zoom", "data-bands")) > 0
        row = next(r for r in json.loads(page.get_attribute("canvas.fprofile-zoom", "data-band-rows"))
                   if r["thread"] == thread)
        # the middle of the slow task's band
        _, t0, t1, label = max(trace.bands, key=lambda b: b[2] - b[1])
        assert label == "slow-<b>one</b>"
        ws = float(page.get_attribute(".fprofile-root", "data-window-start-ns"))
        we = float(page.get_attribute(".fprofile-root", "data-window-end-ns"))
        box = page.locator("canvas.fprofile-zoom").bounding_box()
        x = box["width"] * ((t0 + t1) / 2 - ws) / (we - ws)
        page.mouse.move(box["x"] + x, box["y"] + row["y"] + 3)
        page.wait_for_selector(".fprofile-tooltip[data-kind=band]:not([hidden])")
        assert page.inner_text(".fprofile-tooltip .fprofile-tooltip-title") == "slow-<b>one</b>"
        assert page.evaluate("() => document.querySelector('.fprofile-tooltip b') === null")
        # the table's task selector: one task's rows
        select = page.locator("select.fprofile-summary-task")
        assert select.is_visible()
        options = select.locator("option").all_inner_texts()
        assert options[0] == "All tasks" and {f"Task: {n}" for n in PLAN} <= set(options), options
        index = options.index("Task: alpha") - 1  # (option values: the task's index)
        select.select_option(str(index))
        page.wait_for_function("() => [...document.querySelectorAll('table.fprofile-summary tbody tr')]"
                               ".some((tr) => tr.textContent.includes('alpha_call'))")
        rows = page.evaluate("""() => [...document.querySelectorAll('table.fprofile-summary tbody tr')].map((tr) =>
            [...tr.querySelectorAll('td')].map((td) => td.dataset.value || td.textContent))""")
        expected = {r.function: r.calls for r in trace.summary(task="alpha")}
        assert expected == {"alpha_call": 12, "worker": 4}
        names = {r[0]: r for r in rows}
        assert set(names) == set(expected), rows
        for fn, calls in expected.items():
            assert names[fn][2] == str(calls), (fn, names[fn])  # the Calls column
        assert page.locator("select.fprofile-summary-thread").is_disabled()
        select.select_option("all")
        page.wait_for_function("() => [...document.querySelectorAll('table.fprofile-summary tbody tr')]"
                               ".some((tr) => tr.textContent.includes('beta_call'))")
        assert errors == [] and blocked == []
    finally:
        context.close()


def _frame(page) -> None:
    """Until the next drawing has run (the timeline draws in one requestAnimationFrame)."""
    page.evaluate("() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))")


def test_task_lanes(browser, recorded):
    trace, out = recorded
    thread = next(b[0] for b in trace.bands if b[3] in PLAN)
    steps = Counter(b[3] for b in trace.bands if b[0] == thread)  # task -> its steps on the loop thread
    assert set(PLAN) | {"slow-<b>one</b>"} <= set(steps)
    context, page, blocked, errors = offline_page(browser, viewport=(1400, 900))
    try:
        page.goto(out.as_uri())
        wait_drawn(page)
        zoom = page.locator("canvas.fprofile-zoom")
        lanes_before = len(json.loads(zoom.get_attribute("data-lanes")))
        toggle = page.locator("button.fprofile-task-lanes-toggle")
        assert toggle.is_visible() and toggle.get_attribute("aria-pressed") == "false"
        assert "t: task lanes" in page.text_content(".fprofile-help")
        assert page.get_attribute(".fprofile-root", "data-task-lanes") == "off"
        assert json.loads(zoom.get_attribute("data-task-lanes")) == []
        toggle.click()
        page.wait_for_function("() => JSON.parse(document.querySelector('canvas.fprofile-zoom').dataset.taskLanes || '[]').length > 0")
        assert toggle.get_attribute("aria-pressed") == "true"
        assert page.get_attribute(".fprofile-root", "data-task-lanes") == "on"
        if os.environ.get("FPROFILE_SCREENSHOT"):
            page.screenshot(path=os.environ["FPROFILE_SCREENSHOT"], full_page=True)
        box = zoom.bounding_box()
        seen = {}
        # the view scrolls (its height is bounded): every lane is met on the way down (ArrowDown)
        page.locator(".fprofile-root").focus()
        for _ in range(80):
            for lane in json.loads(zoom.get_attribute("data-task-lanes")):
                if lane["thread"] != thread or lane["task"] in seen or lane["y"] < 24 or lane["y"] + 8 > box["height"]:
                    continue
                seen[lane["task"]] = lane
                # the tooltip of its header names the task (text, never HTML) with its steps
                page.mouse.move(box["x"] + 300, box["y"] + lane["y"] + 5)
                page.wait_for_selector(".fprofile-tooltip[data-kind=task]:not([hidden])")
                assert page.inner_text(".fprofile-tooltip .fprofile-tooltip-title") == lane["task"]
                facts = page.evaluate("""() => Object.fromEntries([...document.querySelectorAll('.fprofile-tooltip dt')]
                    .map((dt) => [dt.textContent, dt.nextElementSibling.textContent]))""")
                assert facts["Steps"] == str(steps[lane["task"]]), (lane, facts)
                assert {"First step", "Last step", "Awaiting"} <= set(facts), facts
                assert page.evaluate("() => document.querySelector('.fprofile-tooltip b') === null")
                page.mouse.move(box["x"] + 300, box["y"] - 40)
            if len(seen) == len(steps):
                break
            page.keyboard.press("ArrowDown")
            _frame(page)
        assert set(seen) == set(steps), (sorted(seen), sorted(steps))
        for name, lane in seen.items():
            assert lane["steps"] == steps[name], lane
        # the calls in a task's lane: those Trace.summary(task=...) counts
        for name in PLAN:
            assert seen[name]["calls"] == sum(r.calls for r in trace.summary(task=name)), seen[name]
        assert seen["alpha"]["calls"] == 16  # 4 steps of 3 alpha_call, and worker's 4 resumptions
        assert len(json.loads(zoom.get_attribute("data-lanes"))) > lanes_before
        # the key t: back to the thread lanes alone
        page.keyboard.press("t")
        page.wait_for_function("() => document.querySelector('.fprofile-root').dataset.taskLanes === 'off'")
        _frame(page)
        assert json.loads(zoom.get_attribute("data-task-lanes")) == []
        assert toggle.get_attribute("aria-pressed") == "false"
        assert errors == [] and blocked == []
    finally:
        context.close()
