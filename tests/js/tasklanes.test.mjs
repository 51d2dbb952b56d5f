// js/tasklanes.js: a task's calls are those that begin inside its bands on their thread (the rule
// of rust/core/src/tasks.rs: the same trace and figures as its unit test); the summary table's task
// rows; the selector's cap.
import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeFpt } from "../../js/decode.js";
import { taskLabels, taskMask, taskSummary, withTasks, TASK_SELECTOR_MAX } from "../../js/tasklanes.js";
import { lazySummary } from "../../js/layout.js";
import { encodeFpt } from "./fpt_encoder.mjs";

const CODES = ["loop", "coro_a", "coro_b", "leaf"];
/** loop [0,100) running steps of task a (10..20, 50..60) and b (30..40): coroutine + leaves. */
const CALLS = [[0, 0, 0, 100], [1, 1, 11, 19], [3, 2, 12, 13], [2, 1, 31, 39], [3, 2, 32, 33], [3, 2, 34, 35], [1, 1, 51, 59], [3, 2, 52, 53]];

async function sample(bands = [[10, 20, "a"], [30, 40, "b"], [50, 60, "a"]]) {
  return decodeFpt(encodeFpt({
    originNs: 0,
    codes: CODES.map((name, i) => ({ file: "f.py", name, line: i + 1 })),
    threads: [{ osId: 7, lane: 0, firstNs: 0, lastNs: 100, names: [[0, "MainThread"]],
      calls: CALLS.map(([code, depth, start, end]) => ({ code, depth, start, end })) }],
    processes: [{ pid: 1, parentPid: 0, name: "p", host: "", startNs: 0, endNs: 100 }],
    bands: bands.map(([startNs, endNs, label]) => ({ thread: 0, startNs, endNs, label })),
    metadata: {},
  }));
}

const row = (rows, name) => rows.find((r) => r.function === name);

test("a task's calls: those that begin in its bands, re-based to its own depth", async () => {
  const t = await sample();
  assert.deepEqual(taskLabels(t), ["a", "b"]);
  const { mask, depth, count } = taskMask(t, "a");
  assert.deepEqual(Array.from(mask), [0, 1, 1, 0, 0, 0, 1, 1]);
  assert.equal(count, 4);
  assert.deepEqual(Array.from(depth).filter((_, i) => mask[i]), [0, 1, 0, 1]);
  const a = taskSummary(t, "a").overall;
  assert.equal(row(a, "leaf").calls, 2);
  assert.equal(row(a, "coro_a").calls, 2);
  assert.equal(row(a, "coro_a").self_ns, 8 + 8 - 2); // its leaves' time is not its self time
  assert.equal(row(a, "loop"), undefined);
  const b = taskSummary(t, "b").overall;
  assert.deepEqual(b.map((r) => [r.function, r.calls]), [["coro_b", 1], ["leaf", 2]]);
  assert.equal(taskMask(t, "nope").count, 0);
});

test("the table's tasks: rows computed when read, hidden threads and filtered calls left out", async () => {
  const t = await sample();
  const s = withTasks(lazySummary(t, null), t);
  assert.deepEqual(s.tasks.map((x) => x.label), ["a", "b"]);
  assert.equal(row(s.tasks[1].rows, "leaf").calls, 2);
  const kept = new Uint8Array([1, 1, 1, 1, 1, 0, 1, 1]);
  assert.equal(row(withTasks(lazySummary(t, null, kept), t, kept).tasks[1].rows, "leaf").calls, 1);
  assert.deepEqual(withTasks(lazySummary(t, null), t, null, [0]).tasks[0].rows, []);
});

test("no bands, no tasks; too many tasks (a Dask graph's keys), no selector", async () => {
  const none = await sample([]);
  assert.deepEqual(withTasks(lazySummary(none, null), none).tasks, []);
  const many = await sample(Array.from({ length: TASK_SELECTOR_MAX + 1 }, (_, i) => [i, i, `k${i}`]));
  assert.equal(taskLabels(many).length, TASK_SELECTOR_MAX + 1);
  assert.deepEqual(withTasks(lazySummary(many, null), many).tasks, []);
});
