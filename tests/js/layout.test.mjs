import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeFpt } from "../../js/decode.js";
import {
  buildIndex, forEachBox, lowerBoundEnd, callAt, fullRange, clampWindow, zoomWindow, computeSummary, lazySummary, hashString, threadNameAt,
} from "../../js/layout.js";
import { encodeFpt, sampleTrace, bigTrace } from "./fpt_encoder.mjs";

test("index: per-depth rows in start order, self time, children", async () => {
  const t = await decodeFpt(encodeFpt(sampleTrace()));
  const ix = buildIndex(t);
  assert.deepEqual(ix.threadRows[0].map((r) => Array.from(r)), [[0], [1, 4], [2, 3]]);
  assert.deepEqual(ix.threadRows[1].map((r) => Array.from(r)), [[5], [6]]);
  assert.deepEqual(Array.from(ix.childCount), [2, 2, 0, 0, 0, 1, 0]);
  // main 1000 - (490 + 390) = 120; work 490 - (80 + 300) = 110
  assert.deepEqual(Array.from(ix.selfNs), [120, 110, 80, 300, 390, 590, 10]);
});

test("binary searches", async () => {
  const t = await decodeFpt(encodeFpt(sampleTrace()));
  const row = buildIndex(t).threadRows[0][2]; // calls 2 [20,100] and 3 [100,400]
  assert.equal(lowerBoundEnd(row, t.calls.end, 0), 0);
  assert.equal(lowerBoundEnd(row, t.calls.end, 101), 1);
  assert.equal(lowerBoundEnd(row, t.calls.end, 401), 2);
  assert.equal(callAt(row, t.calls.start, t.calls.end, 50), 2);
  assert.equal(callAt(row, t.calls.start, t.calls.end, 300), 3);
  assert.equal(callAt(row, t.calls.start, t.calls.end, 10), -1);
  assert.equal(callAt(row, t.calls.start, t.calls.end, 500), -1);
});

function brute(row, starts, ends, t0, t1) {
  return Array.from(row).filter((c) => ends[c] >= t0 && starts[c] <= t1);
}

test("level of detail: wide calls are one box each, narrow calls merge, nothing visible is lost", async () => {
  const t = await decodeFpt(encodeFpt(bigTrace(20000, 1)));
  const ix = buildIndex(t);
  const { start, end } = t.calls;
  for (const d of [0, 1, 2]) {
    const row = ix.threadRows[0][d];
    for (const [t0, t1, width] of [[t.startNs, t.endNs, 1000], [5000, 9000, 1000], [100000, 100400, 800]]) {
      const k = width / (t1 - t0);
      const boxes = [];
      let covered = 0;
      forEachBox(row, start, end, t0, t1, k, 1, (c, x0, x1, count) => { boxes.push([c, x0, x1, count]); covered += count; });
      const visible = brute(row, start, end, t0, t1);
      // every visible call is covered exactly once, in order
      assert.equal(covered, visible.length, `depth ${d} window ${t0}-${t1}`);
      let pos = 0;
      for (const [c, x0, x1, count] of boxes) {
        assert.equal(c, visible[pos], "boxes start at the next uncovered call");
        if (count === 1) assert.ok(x1 - x0 >= 1 || true);
        assert.ok(x1 - x0 >= 1 - 1e-9, "a box is at least one pixel wide");
        pos += count;
      }
      // at most about one box per pixel column, plus the wide ones
      assert.ok(boxes.length <= width + 2 + boxes.filter((b) => b[3] === 1).length, `${boxes.length} boxes`);
      // boxes do not overlap by more than a pixel
      for (let i = 1; i < boxes.length; i++) assert.ok(boxes[i][1] >= boxes[i - 1][2] - 1 - 1e-9);
    }
  }
});

test("level of detail: the whole of a 1M-call row at 1000 px costs about 1000 boxes", async () => {
  // one row of 1,000,000 back-to-back 10 ns calls
  const n = 1_000_000;
  const starts = new Float64Array(n);
  const ends = new Float64Array(n);
  const row = new Int32Array(n);
  for (let i = 0; i < n; i++) { starts[i] = i * 10; ends[i] = i * 10 + 9; row[i] = i; }
  let boxes = 0;
  let covered = 0;
  let emits = 0;
  forEachBox(row, starts, ends, 0, n * 10, 1000 / (n * 10), 1, (c, x0, x1, count) => { emits++; covered += count; });
  boxes = emits;
  assert.equal(covered, n);
  assert.ok(boxes <= 1001, `${boxes} boxes`);
  // zoomed in: the calls are wide, one box each
  let wide = 0;
  forEachBox(row, starts, ends, 5000, 5500, 1000 / 500, 1, (c, x0, x1, count) => { assert.equal(count, 1); wide++; });
  assert.equal(wide, 51);
});

test("window helpers", () => {
  assert.deepEqual(clampWindow(-50, 50, 0, 1000, 10), [0, 100]);
  assert.deepEqual(clampWindow(950, 1050, 0, 1000, 10), [900, 1000]);
  assert.deepEqual(clampWindow(-10, 2000, 0, 1000, 10), [0, 1000]);
  assert.deepEqual(clampWindow(500, 501, 0, 1000, 10), [495.5, 505.5]);
  assert.deepEqual(zoomWindow(0, 100, 25, 2), [12.5, 62.5]);
  assert.deepEqual(fullRange({ startNs: 0, endNs: 1000 }), [0, 1000]);
  assert.deepEqual(fullRange({ startNs: 5, endNs: 5 }), [5, 1005]);
  const th = { names: [{ tNs: 200, name: "Thread-1" }, { tNs: 300, name: "worker" }] };
  assert.equal(threadNameAt(th, 200), "Thread-1");
  assert.equal(threadNameAt(th, 299), "Thread-1");
  assert.equal(threadNameAt(th, 300), "worker");
  assert.equal(threadNameAt(th, 100), "Thread-1");
});

test("page summary: calls, recursion counted once in total, self, mean over every call", async () => {
  const t = await decodeFpt(encodeFpt(sampleTrace()));
  const s = computeSummary(t);
  const byName = Object.fromEntries(s.overall.map((r) => [r.function, r]));
  assert.deepEqual([byName.main.calls, byName.main.total_ns, byName.main.self_ns], [1, 1000, 120]);
  // work: calls 1 (490) and 4 (390) in thread 0, 5 (600) in thread 1
  assert.deepEqual([byName.work.calls, byName.work.total_ns, byName.work.max_ns], [3, 1480, 600]);
  assert.equal(s.overall[0].function, "work");
  assert.equal(s.threads.length, 2);
  assert.equal(s.threads[1].name, "worker");
});

test("page summary: the Rust rules for recursion (total once per outermost call, mean and max per call) and ties", async () => {
  const t = await decodeFpt(encodeFpt({
    originNs: 0,
    codes: [{ file: "/a.py", name: "f", line: 1 }, { file: "/a.py", name: "g", line: 5 }, { file: "/a.py", name: "h", line: 9 }],
    threads: [{
      osId: 1, lane: 0, firstNs: 0, lastNs: 200, names: [[0, "MainThread"]],
      calls: [
        { code: 0, depth: 0, start: 0, end: 100 },
        { code: 0, depth: 1, start: 10, end: 61 },
        { code: 1, depth: 0, start: 120, end: 150 },
        { code: 2, depth: 0, start: 150, end: 180 },
      ],
    }],
    metadata: {},
  }));
  const s = computeSummary(t);
  const f = s.overall.find((r) => r.function === "f");
  // total: the outer call only; self: 49 + 51; mean over both calls, (100 + 51) / 2 rounded half up
  assert.deepEqual([f.calls, f.total_ns, f.self_ns, f.mean_ns, f.max_ns], [2, 100, 100, 76, 100]);
  // g and h tie on total and self: code order, as the Rust summary sorts
  assert.deepEqual(s.overall.map((r) => r.function), ["f", "g", "h"]);
  assert.deepEqual(s.threads[0].rows, s.overall);
});

test("lazySummary: the host's overall rows at once, the per-thread and per-process rows of computeSummary when read", async () => {
  const t = await decodeFpt(encodeFpt(sampleTrace()));
  const hostRows = [{ code: 0, function: "main", calls: 1 }];
  const s = lazySummary(t, hostRows);
  assert.equal(s.overall, hostRows);
  assert.deepEqual(s.threads.map((x) => [x.thread, x.process, x.name]), [[0, 0, "MainThread"], [1, 0, "worker"]]);
  const full = computeSummary(t);
  assert.deepEqual(s.threads.map((x) => x.rows), full.threads.map((x) => x.rows));
  assert.deepEqual(s.processes.map((x) => x.rows), full.processes.map((x) => x.rows));
  // without the host's rows: the page's
  assert.deepEqual(lazySummary(t, undefined).overall, full.overall);
});

test("stable colour hash", () => {
  assert.equal(hashString(""), 0x811c9dc5);
  assert.equal(hashString("a"), 0xe40c292c);
  assert.notEqual(hashString("work"), hashString("step"));
});
