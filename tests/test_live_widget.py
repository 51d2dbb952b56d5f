"""Live timelines in a real kernel: ``%%fprofile --live`` pushes updates while the cell runs (read
off the kernel's iopub channel: the widget's comm updates, then the output replaced by the normal
timeline), ``TimelineWidget(prof, live=True)`` in this process."""
from __future__ import annotations

import base64
import json
import time
from collections import Counter

import pytest

import fprofile_jupyter
from fprofile_jupyter import _display, _livewidget
from kernel_support import GATED_LIVE_CELL

pytest.importorskip("anywidget")



@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    from jupyter_client.manager import start_new_kernel

    work = tmp_path_factory.mktemp("live_widget")
    km, kc = start_new_kernel(kernel_name="python3", cwd=str(work))
    try:
        reply = kc.execute_interactive("%load_ext fprofile_jupyter", timeout=60, output_hook=lambda m: None)
        assert reply["content"]["status"] == "ok"
        yield kc, work
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def comm_updates(msg) -> dict:
    """The state a widget update carries (its binary traits from the message's buffers)."""
    data = msg["content"]["data"]
    state = dict(data.get("state", {}))
    for path, buf in zip(data.get("buffer_paths", []), msg.get("buffers", [])):
        state[path[0]] = bytes(buf)
    return state


def test_live_cell_pushes_updates_then_becomes_the_normal_timeline(kernel):
    kc, work = kernel
    msg_id = kc.execute(GATED_LIVE_CELL)
    updates, outputs, replaced, model = [], [], [], {}
    go = stop = False
    deadline = time.monotonic() + 180
    while True:
        assert time.monotonic() < deadline, "the live cell did not finish"
        msg = kc.get_iopub_msg(timeout=120)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        kind = msg["header"]["msg_type"]
        if kind == "comm_msg" and msg["content"]["data"].get("method") == "update":
            state = comm_updates(msg)
            model.update(state)  # (an update carries the traits that changed)
            if "overview" in state:
                state = dict(model)
                updates.append(state)
                names = {row["function"] for row in json.loads(state["summary"])["overall"]}
                if not go:
                    assert "late" not in names and "early" in names
                    (work / "go").touch()
                    go = True
                elif "late" in names and not stop:
                    (work / "stop").touch()
                    stop = True
        elif kind == "display_data":
            outputs.append(msg)
        elif kind == "update_display_data":
            replaced.append(msg)
        elif kind == "error":
            raise AssertionError(msg["content"])
        elif kind == "status" and msg["content"]["execution_state"] == "idle":
            break
    assert go and stop, f"{len(updates)} updates"
    # updates came while the cell ran: the first before late() was ever called, a later one with it
    assert len(updates) >= 2
    for u in updates:
        assert u["windowed"] and u["offline"] == _livewidget.LIVE_NOTE and not u["error"]
        assert len(u["skeleton"]) + len(u["overview"]) + len(u["last"]) + len(u["summary"]) < 1_000_000
        assert u["calls"] > 0
    assert [u["calls"] for u in updates] == sorted(u["calls"] for u in updates)
    # one output, replaced at the end by the trace's own output (the notebook does not grow)
    assert len(outputs) == 1 and "application/vnd.jupyter.widget-view+json" in outputs[0]["content"]["data"]
    (final,) = replaced
    display_id = outputs[0]["content"]["transient"]["display_id"]
    assert final["content"]["transient"]["display_id"] == display_id
    data = final["content"]["data"]
    payload = _display.output_payload(data)
    trace = fprofile_jupyter.Trace.from_bytes(base64.b64decode(payload["fpt"]))
    counts = Counter(c.function for c in trace.calls())
    assert counts["early"] % 100 == 0 and counts["late"] % 20 == 0 and counts["late"] > 0
    assert counts["early"] >= updates[-1]["calls"] // 2
    # the scratch file is gone
    printed: list = []
    kc.execute_interactive("import glob, tempfile, os; print(len(glob.glob(os.path.join(tempfile.gettempdir(), "
                           "'fprofile-live-*'))))", timeout=60,
                           output_hook=lambda m: printed.append(m["content"].get("text", "")))
    assert "".join(printed).strip() == "0"


def leaf(i):
    return i


def test_timeline_widget_follows_a_profile_and_becomes_its_trace(tmp_path):
    prof = fprofile_jupyter.profile(subs=[__file__], outfile=str(tmp_path / "w.fpt"), processes=False)
    with pytest.raises(ValueError, match="streamed file"):
        fprofile_jupyter.TimelineWidget(fprofile_jupyter.profile(subs=[__file__]), live=True)
    w = fprofile_jupyter.TimelineWidget(prof, live=True)
    assert w.live and w.error == _livewidget.WAITING
    prof.start()
    try:
        for i in range(30):
            leaf(i)
        prof._session.recorder.flush()  # the writer's round now: the file has them
        assert w.feed.update()  # (the feed's own thread does this every second)
        assert w.windowed and w.offline and w.calls == 30 and w.last and not w.error
    finally:
        prof.stop()
    w.feed._thread.join(timeout=60)
    assert not w.feed._thread.is_alive()
    assert not w.live and not w.windowed and not w.offline and w.trace is not None
    assert Counter(c.function for c in w.trace.calls())["leaf"] == 30
