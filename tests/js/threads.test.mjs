// Hundreds of threads: the zoomed view's lanes for a window (lanes empty in it collapse), name
// groups and the thread filter (lanes.js), the row search behind "busy in the window"
// (layout.js rowHasItemIn) and bringing a span into view (viewport.js scrollIntoView).
import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeFpt } from "../../js/decode.js";
import { buildIndex, rowHasItemIn } from "../../js/layout.js";
import { layoutGroups, windowLayout, traceProcesses, namePattern, nameGroups, threadMatches, hitLayout, laneOfThread } from "../../js/lanes.js";
import { Viewport, ZOOM_AXIS_PX } from "../../js/viewport.js";
import { encodeFpt } from "./fpt_encoder.mjs";

const DIMS = { rowPx: 10, headerPx: 20, gapPx: 5, procHeaderPx: 22, bandPx: 7, summaryRowPx: 3, summaryDepths: 4 };

/** A server: MainThread over the whole run, then `n` request threads one after the other, each 100 ns with one call of 2 depths, overlapping in pairs. */
function serverTrace(n) {
  const threads = [{ osId: 1, lane: 0, firstNs: 0, lastNs: 100 * n + 100, names: [[0, "MainThread"]],
    calls: [{ code: 0, depth: 0, start: 0, end: 50 }] }];
  for (let i = 0; i < n; i++) {
    const s = 100 + 100 * i;
    threads.push({
      osId: 100 + i, lane: 1 + (i % 2), firstNs: s, lastNs: s + 150, names: [[s, `Thread-${i + 1} (process_request_thread)`]],
      calls: [{ code: 1, depth: 0, start: s, end: s + 150 }, { code: 2, depth: 1, start: s + 10, end: s + 60 }],
    });
  }
  return {
    originNs: 0,
    codes: [{ file: "/srv.py", name: "serve", line: 1 }, { file: "/srv.py", name: "handle", line: 5 }, { file: "/srv.py", name: "send", line: 9 }],
    threads, metadata: {},
  };
}

/** Threads each on its own lane (the lanes of `serverTrace` shared by turns would hide the point). */
async function ownLanes(n) {
  const tr = serverTrace(n);
  tr.threads.forEach((th, i) => { th.lane = i; });
  return decodeFpt(encodeFpt(tr));
}

/** What timeline.js gives windowLayout: per lane, the depths with a call in [t0, t1] (-1: none). */
function rowsIn(t, index, t0, t1) {
  return (lane) => {
    let r = -1;
    for (const th of lane.threads) {
      const rows = index.threadRows[th];
      for (let d = rows.length - 1; d >= 0; d--) {
        if (rowHasItemIn(rows[d], t.calls.start, t.calls.end, t0, t1)) { r = Math.max(r, d + 1); break; }
      }
    }
    return r;
  };
}

test("rowHasItemIn: a call overlapping the window, ends included; none in a gap", async () => {
  const t = await ownLanes(3);
  const idx = buildIndex(t);
  const row = idx.threadRows[1][0]; // one call, 100..250
  assert.equal(rowHasItemIn(row, t.calls.start, t.calls.end, 0, 99), false);
  assert.equal(rowHasItemIn(row, t.calls.start, t.calls.end, 0, 100), true);
  assert.equal(rowHasItemIn(row, t.calls.start, t.calls.end, 250, 400), true);
  assert.equal(rowHasItemIn(row, t.calls.start, t.calls.end, 251, 400), false);
  assert.equal(rowHasItemIn(row, t.calls.start, t.calls.end, 120, 130), true, "a window inside the call");
  assert.equal(rowHasItemIn(new Int32Array(0), t.calls.start, t.calls.end, 0, 1e9), false);
  assert.equal(rowHasItemIn(undefined, t.calls.start, t.calls.end, 0, 1e9), false);
});

test("windowLayout: lanes empty in the window collapse to nothing, the busy ones stack from the top in their order, as deep as their calls there", async () => {
  const t = await ownLanes(300);
  const idx = buildIndex(t);
  const full = layoutGroups(t, traceProcesses(t), new Uint8Array(301).fill(1), [0], t.threads.map(() => 0), DIMS);
  assert.equal(full.lanes.length, 301);
  // the whole run: every lane has a call
  const all = windowLayout(full, rowsIn(t, idx, 0, 1e9), DIMS.gapPx);
  assert.equal(all.idle, 0);
  assert.equal(all.height, full.height);
  // the window 20100..20199: request threads 200 (20000..20150) and 201 (20100..20250) only (202 starts at 20200)
  const w = windowLayout(full, rowsIn(t, idx, 20100, 20199), DIMS.gapPx);
  assert.deepEqual(w.lanes.map((l) => l.threads), [[200], [201]]);
  assert.equal(w.idle, 299);
  const h = 20 + 2 * 10; // header and two depths
  // thread 200's inner call (20010..20060) is before the window: its lane shows one depth
  assert.deepEqual(w.lanes.map((l) => [l.top, l.rows]), [[0, 1], [30 + DIMS.gapPx, 2]]);
  assert.equal(w.height, 30 + DIMS.gapPx + h);
  // hit testing and finding a thread's lane work on it as on any layout
  assert.equal(hitLayout(w, h + DIMS.gapPx + 1).lane.threads[0], 201);
  assert.equal(laneOfThread(w, 5), null);
  // the full layout is not changed (MainThread's lane has one depth)
  assert.equal(full.lanes[200].top, 30 + DIMS.gapPx + 199 * (h + DIMS.gapPx));
  // a lane is as deep as its calls in the window: 20160..20199 holds thread 201's outer call only (its inner one is 20110..20160)
  const shallow = windowLayout(full, rowsIn(t, idx, 20161, 20199), DIMS.gapPx);
  assert.deepEqual(shallow.lanes.map((l) => [l.threads[0], l.rows, l.height]), [[201, 1, 30]]);
  // a window between every call: no lanes, no height
  const none = windowLayout(full, () => -1, DIMS.gapPx);
  assert.deepEqual([none.lanes.length, none.groups.length, none.height, none.idle], [0, 0, 0, 301]);
});

test("windowLayout with processes: header rows and summary lanes stay, idle thread lanes go", async () => {
  const proc = (i) => ({ index: i, pid: 10 + i, name: `p${i}`, host: "", startNs: 0, endNs: 1000 });
  const th = (index, lane, process) => ({ index, lane, maxDepth: 1, process, firstNs: 0, lastNs: 1000 });
  const t = { startNs: 0, endNs: 1000, processes: [proc(0), proc(1), proc(2)], threads: [th(0, 0, 0), th(1, 1, 0), th(2, 0, 1), th(3, 0, 2)], bands: [] };
  const full = layoutGroups(t, t.processes, [1, 1, 1, 1], [0, 0, 1], [0, 0, 0, 0], DIMS);
  const w = windowLayout(full, (lane) => (lane.threads.includes(1) ? 2 : -1), DIMS.gapPx);
  assert.deepEqual(w.groups.map((g) => [g.process, g.top, g.height, g.lanes.map((l) => l.kind)]),
    [[0, 0, 22 + 40, ["threads"]], [1, 22 + 40 + 5, 22, []], [2, 2 * 22 + 40 + 10, 22 + 6, ["summary"]]]);
  assert.equal(w.idle, 2);
  assert.equal(hitLayout(w, 22 + 40 + 5 + 3).kind, "process");
});

test("name patterns and groups: names that differ only by numbers, in first-seen order", () => {
  assert.equal(namePattern("Thread-12 (process_request_thread)"), "Thread-# (process_request_thread)");
  assert.equal(namePattern("ThreadPoolExecutor-0_13"), "ThreadPoolExecutor-#_#");
  assert.equal(namePattern("MainThread"), "MainThread");
  const names = ["MainThread", "Thread-1 (process_request_thread)", "client-0", "Thread-2 (process_request_thread)", "client-1", "server",
    "Thread-10 (process_request_thread)", "<b>x</b>"];
  const threads = names.map((n, i) => ({ index: i, name: n, names: [{ tNs: 0, name: n }] }));
  const groups = nameGroups(threads, threads.map((x) => x.index));
  assert.deepEqual(groups.map((g) => [g.pattern, g.threads]), [
    ["MainThread", [0]], ["Thread-# (process_request_thread)", [1, 3, 6]], ["client-#", [2, 4]], ["server", [5]], ["<b>x</b>", [7]],
  ]);
  // only the threads given (one process's)
  assert.deepEqual(nameGroups(threads, [4, 2]).map((g) => g.threads), [[4, 2]]);
});

test("thread filter: substring of any of its names, any case; empty matches all", () => {
  const th = { name: "writer (flushing)", names: [{ tNs: 0, name: "Thread-3" }, { tNs: 5, name: "writer (flushing)" }] };
  assert.equal(threadMatches(th, ""), true);
  assert.equal(threadMatches(th, "   "), true);
  assert.equal(threadMatches(th, "FLUSH"), true);
  assert.equal(threadMatches(th, "thread-3"), true, "an earlier name counts");
  assert.equal(threadMatches(th, " writer "), true, "spaces around are ignored");
  assert.equal(threadMatches(th, "reader"), false);
});

test("scrollIntoView: no move when in view, else the span a row inside the top or the bottom", () => {
  const vp = new Viewport(300); // 278 px of lanes under the axis
  vp.setContentHeight(5000, 5000);
  const viewH = vp.zoomHeight - ZOOM_AXIS_PX;
  assert.equal(viewH, 278);
  assert.equal(vp.scrollIntoView(10, 50), false);
  assert.equal(vp.scrollY, 0);
  assert.equal(vp.scrollIntoView(1000, 1040), true, "below: its bottom a row above the view's bottom");
  assert.equal(vp.scrollY, 1040 + 18 - viewH);
  assert.equal(vp.scrollIntoView(200, 240), true, "above: its top a row below the view's top");
  assert.equal(vp.scrollY, 200 - 18);
  assert.equal(vp.scrollIntoView(3000, 3600), true, "taller than the view: its top");
  assert.equal(vp.scrollY, 3000);
  assert.equal(vp.scrollIntoView(4990, 5000), true, "clamped at the end");
  assert.equal(vp.scrollY, vp.maxScrollY());
  // the view is sized for all the lanes, the scroll for the lanes shown
  vp.setContentHeight(100, 5000);
  assert.equal(vp.zoomHeight, 300);
  assert.equal(vp.maxScrollY(), 0);
});
