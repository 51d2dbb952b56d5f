"""asyncio task bands in the timeline (headless Chromium, the HTML export of a real recording): the
loop thread's band row is drawn, the tooltip over a band names its task, and the summary table's
task selector shows one task's rows (the counts ``Trace.summary(task=...)`` gives)."""
from __future__ import annotations

import asyncio
import json
import threading

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
