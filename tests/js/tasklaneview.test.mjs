// js/tasklaneview.js: the task lanes' layout: which calls go to which task lane (exact), at which
// depth within the task, the lanes placed under their thread, cut to a window, hit tested.
import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeFpt } from "../../js/decode.js";
import { buildBandIndex, layoutGroups, traceProcesses, windowLayout, hitLayout } from "../../js/lanes.js";
import { taskMask } from "../../js/tasklanes.js";
import { taskLaneIndex, withTaskLanes, taskRowsIn, countTaskLanes, TASK_HEADER_PX } from "../../js/tasklaneview.js";
import { encodeFpt } from "./fpt_encoder.mjs";

const CODES = ["loop", "coro_a", "coro_b", "leaf"];
/** Thread 0: a loop [0,100) running steps of task a (10..20, 50..60) and b (30..40); thread 1: task a again (a label on two threads). */
const T0 = [[0, 0, 0, 100], [1, 1, 11, 19], [3, 2, 12, 13], [2, 1, 31, 39], [3, 2, 32, 33], [3, 2, 34, 35], [1, 1, 51, 59], [3, 2, 52, 53], [3, 1, 70, 71]];
const T1 = [[1, 0, 5, 9], [3, 1, 6, 7]];
const DIMS = { rowPx: 18, headerPx: 20, gapPx: 6, procHeaderPx: 22, bandPx: 14, summaryRowPx: 6, summaryDepths: 4 };

async function sample() {
  const thread = (osId, lane, calls, last) => ({ osId, lane, firstNs: 0, lastNs: last, names: [[0, `T${osId}`]],
    calls: calls.map(([code, depth, start, end]) => ({ code, depth, start, end })) });
  return decodeFpt(encodeFpt({
    originNs: 0,
    codes: CODES.map((name, i) => ({ file: "f.py", name, line: i + 1 })),
    threads: [thread(7, 0, T0, 100), thread(8, 1, T1, 10)],
    processes: [{ pid: 1, parentPid: 0, name: "p", host: "", startNs: 0, endNs: 100 }],
    bands: [[0, 10, 20, "a"], [0, 30, 40, "b"], [0, 50, 60, "a"], [1, 4, 10, "a"]].map(([thread, startNs, endNs, label]) => ({ thread, startNs, endNs, label })),
    metadata: {},
  }));
}

const rowsOf = (lane) => lane.rows.map((r) => Array.from(r));

test("each call goes to the task lane of the band it begins in, at its depth within the task", async () => {
  const t = await sample();
  const bands = buildBandIndex(t);
  assert.equal(countTaskLanes(bands), 3);
  const ix = taskLaneIndex(t, bands);
  assert.deepEqual(ix.byThread.map((ls) => ls.map((l) => l.label)), [["a", "b"], ["a"]]);
  const [a0, b0] = ix.byThread[0];
  const [a1] = ix.byThread[1];
  // call indices: thread 0's are 0..8, thread 1's 9..10
  assert.deepEqual(rowsOf(a0), [[1, 6], [2, 7]]);
  assert.deepEqual(rowsOf(b0), [[3], [4, 5]]);
  assert.deepEqual(rowsOf(a1), [[9], [10]]);
  assert.deepEqual(Array.from(ix.owner), [-1, a0.id, a0.id, b0.id, b0.id, b0.id, a0.id, a0.id, -1, a1.id, a1.id]);
  assert.deepEqual([a0.calls, b0.calls, a1.calls], [4, 3, 2]);
  assert.deepEqual([a0.firstNs, a0.lastNs, a0.busyNs, a0.bands.length], [10, 60, 20, 2]);
  // the same calls as the summary's task scope (tasklanes.js taskMask: the core's rule)
  for (const label of ["a", "b"]) {
    const { mask, depth } = taskMask(t, label);
    for (let c = 0; c < t.calls.count; c++) {
      const lane = ix.owner[c] >= 0 ? ix.lanes[ix.owner[c]] : null;
      assert.equal(mask[c] === 1, !!lane && lane.label === label, `call ${c}, task ${label}`);
      if (mask[c]) assert.equal(ix.depth[c], depth[c]);
    }
  }
  // filtered calls are in no lane
  const kept = new Uint8Array(t.calls.count).fill(1);
  kept[5] = 0;
  const f = taskLaneIndex(t, bands, kept);
  assert.deepEqual(rowsOf(f.byThread[0][1]), [[3], [4]]);
  assert.equal(f.owner[5], -1);
});

test("task lanes go under their thread's lane; a window cuts them to its rows, the gaps where a task awaited included", async () => {
  const t = await sample();
  const bands = buildBandIndex(t);
  const ix = taskLaneIndex(t, bands);
  const base = layoutGroups(t, traceProcesses(t), [1, 1], [0], bands.threadRows.map((r) => r.length), DIMS);
  const lay = withTaskLanes(base, ix, DIMS);
  assert.deepEqual(lay.lanes.map((l) => [l.kind, l.threads[0], l.task ? l.task.label : ""]),
    [["threads", 0, ""], ["task", 0, "a"], ["task", 0, "b"], ["threads", 1, ""], ["task", 1, "a"]]);
  const taskH = TASK_HEADER_PX + DIMS.bandPx + 2 * DIMS.rowPx;
  const [th0, a0, b0, th1, a1] = lay.lanes;
  assert.equal(a0.top, th0.height + DIMS.gapPx);
  assert.equal(a0.height, taskH);
  assert.equal(b0.top, a0.top + taskH + DIMS.gapPx);
  assert.equal(th1.top, b0.top + taskH + DIMS.gapPx);
  assert.equal(lay.height, a1.top + a1.height);
  // hit testing: the header is the task's, then its band row, then its calls
  assert.equal(hitLayout(lay, a0.top + 1).kind, "task");
  assert.deepEqual([hitLayout(lay, a0.top + TASK_HEADER_PX + 1).kind, hitLayout(lay, a0.top + TASK_HEADER_PX + 1).row], ["band", 0]);
  const hit = hitLayout(lay, a0.top + a0.callsTop + DIMS.rowPx + 1);
  assert.deepEqual([hit.kind, hit.depth, hit.lane.task.label], ["calls", 1, "a"]);
  // a window inside task a's gap (it awaited from 20 to 50): its lane stays, without call rows;
  // task b (30..40) has its calls there; outside a task's span, no lane
  const { calls } = t;
  assert.equal(taskRowsIn(a0, calls, 41, 49), 0);
  assert.equal(taskRowsIn(b0, calls, 41, 49), -1);
  assert.equal(taskRowsIn(b0, calls, 36, 38), 1);
  assert.equal(taskRowsIn(b0, calls, 32, 33), 2);
  assert.equal(taskRowsIn(a1, calls, 41, 49), -1);
  const w = windowLayout(lay, (l) => (l.kind === "task" ? taskRowsIn(l, calls, 41, 49) : 1), DIMS.gapPx);
  assert.deepEqual(w.lanes.map((l) => [l.kind, l.task ? l.task.label : "", l.rows]), [["threads", "", 1], ["task", "a", 0], ["threads", "", 1]]);
  assert.equal(w.lanes[1].height, TASK_HEADER_PX + DIMS.bandPx);
});
