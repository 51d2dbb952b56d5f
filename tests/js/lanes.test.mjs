// lanes.js: process groups, collapsed summary lanes, task bands, hit testing, the overview's rows.
// Fixtures are decoded-trace shapes built here (threads[t].process, processes, bands as the
// decoder gives them for a version-2 file).
import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeFpt } from "../../js/decode.js";
import { buildIndex, computeSummary, forEachBox } from "../../js/layout.js";
import {
  traceProcesses, threadProcess, taskPrefix, buildBandIndex, layoutGroups, hitLayout, laneOfThread, overviewRows, processLabel,
} from "../../js/lanes.js";
import { bandText, bandColours } from "../../js/bandrows.js";
import { encodeFpt, sampleTrace, twoProcessTrace } from "./fpt_encoder.mjs";

const DIMS = { rowPx: 10, headerPx: 20, gapPx: 5, procHeaderPx: 22, bandPx: 7, summaryRowPx: 3, summaryDepths: 4 };

function proc(index, pid, name, extra = {}) {
  return {
    index, pid, parentPid: index ? 100 : 1, name, host: "node1", startNs: 0, endNs: 1000, exitStatus: 0,
    clockOffsetNs: 0, clockUncertaintyNs: 0, aligned: true, incomplete: false, ...extra,
  };
}

/** Five threads in three processes; thread 2 reuses lane number 0 (of thread 0, another process). */
function multiTrace() {
  const th = (index, lane, maxDepth, process) => ({ index, lane, maxDepth, process, firstNs: 0, lastNs: 1000 });
  return {
    startNs: 0, endNs: 1000,
    processes: [proc(0, 100, "parent"), proc(1, 101, "child-a"), proc(2, 102, "child-b", { incomplete: true })],
    threads: [th(0, 0, 2, 0), th(1, 1, 1, 0), th(2, 0, 5, 1), th(3, 2, 0, 1), th(4, 3, 1, 2)],
    bands: [],
  };
}

const lanesOf = (layout) => layout.lanes.map((l) => [l.kind, l.process, l.threads, l.top, l.callsTop, l.rows, l.height]);

test("one process: the lanes as PYME assigns them, no header rows; hidden threads drop out", async () => {
  const tr = sampleTrace();
  tr.threads.push({ osId: 3, lane: 0, firstNs: 1100, lastNs: 1200, names: [[1100, "later"]], calls: [{ code: 0, depth: 0, start: 1100, end: 1200 }] });
  const t = await decodeFpt(encodeFpt(tr));
  for (const withTable of [false, true]) {
    if (withTable) {
      t.processes = [proc(0, 7, "only")];
      for (const th of t.threads) th.process = 0;
    }
    const ps = traceProcesses(t);
    assert.equal(ps.length, 1);
    const all = layoutGroups(t, ps, [1, 1, 1], [1], [0, 0, 0], DIMS);
    assert.equal(all.multi, false);
    assert.deepEqual(all.groups.map((g) => [g.headerPx, g.collapsed]), [[0, false]], "no header row, never collapsed");
    // exactly the layout of a trace without processes: header 20 + 3 rows of 10; gap 5; lane
    // number 0 is shared by MainThread and "later", whose names are unrelated: two lanes
    assert.deepEqual(all.lanes.map((l) => [l.lane, l.threads, l.rows, l.top, l.height, l.callsTop]),
      [[0, [0], 3, 0, 50, 20], [0, [2], 1, 55, 30, 20], [1, [1], 2, 90, 40, 20]]);
    assert.equal(all.height, 130);
    const some = layoutGroups(t, ps, [0, 1, 1], [0], [0, 0, 0], DIMS);
    assert.deepEqual(some.lanes.map((l) => [l.lane, l.threads, l.rows]), [[0, [2], 1], [1, [1], 2]]);
  }
});

test("processes: a header row each, lanes per process (a lane number shared across processes is split)", () => {
  const t = multiTrace();
  const L = layoutGroups(t, t.processes, [1, 1, 1, 1, 1], [0, 0, 0], [0, 0, 0, 0, 0], DIMS);
  assert.equal(L.multi, true);
  assert.deepEqual(L.groups.map((g) => [g.process, g.top, g.headerPx, g.height]), [[0, 0, 22, 22 + 50 + 5 + 40], [1, 122, 22, 22 + 80 + 5 + 30], [2, 264, 22, 62]]);
  assert.deepEqual(lanesOf(L), [
    ["threads", 0, [0], 22, 20, 3, 50],
    ["threads", 0, [1], 77, 20, 2, 40],
    ["threads", 1, [2], 144, 20, 6, 80],
    ["threads", 1, [3], 229, 20, 1, 30],
    ["threads", 2, [4], 286, 20, 2, 40],
  ]);
  assert.equal(L.height, 326);
  // a process whose threads are all hidden has no group; the others close up
  const H = layoutGroups(t, t.processes, [1, 1, 0, 0, 1], [0, 0, 0], [0, 0, 0, 0, 0], DIMS);
  assert.deepEqual(H.groups.map((g) => [g.process, g.top]), [[0, 0], [2, 122]]);
  assert.equal(H.height, 122 + 62);
  // threads naming no process (or one out of range) go to the first
  assert.equal(threadProcess({ process: 9 }, 3), 0);
  assert.equal(threadProcess({}, 3), 0);
  assert.equal(threadProcess({ process: 2 }, 3), 2);
});

test("a collapsed process is one compact summary lane of its visible threads' first depths", () => {
  const t = multiTrace();
  const L = layoutGroups(t, t.processes, [1, 1, 1, 1, 1], [0, 1, 0], [0, 0, 0, 0, 0], DIMS);
  assert.deepEqual(L.groups.map((g) => [g.process, g.collapsed, g.lanes.length]), [[0, false, 2], [1, true, 1], [2, false, 1]]);
  const s = L.groups[1].lanes[0];
  // thread 2 has 6 depths: the summary shows 4 (summaryDepths) of 3 px, no thread header, no bands
  assert.deepEqual([s.kind, s.threads, s.top, s.headerPx, s.callsTop, s.rows, s.rowPx, s.height], ["summary", [2, 3], 144, 0, 0, 4, 3, 12]);
  assert.equal(L.groups[2].top, 144 + 12 + 5);
  assert.equal(L.height, 161 + 62);
  // collapsed with only thread 3 (one depth) visible: one row
  const C = layoutGroups(t, t.processes, [1, 1, 0, 1, 1], [0, 1, 0], [0, 0, 0, 0, 0], DIMS);
  assert.deepEqual([C.groups[1].lanes[0].threads, C.groups[1].lanes[0].rows], [[3], 1]);
  // the lane of a thread is its process's summary lane while collapsed
  assert.equal(laneOfThread(L, 3), s);
  assert.equal(laneOfThread(L, 4).threads[0], 4);
  assert.equal(laneOfThread(C, 2), null);
  // expanding gives the expanded layout back
  assert.deepEqual(lanesOf(layoutGroups(t, t.processes, [1, 1, 1, 1, 1], [0, 0, 0], [0, 0, 0, 0, 0], DIMS))[2], ["threads", 1, [2], 144, 20, 6, 80]);
});

test("band index: per thread, in start order, overlapping bands in further rows; bad bands left out", () => {
  const t = multiTrace();
  t.bands = [
    { thread: 2, startNs: 500, endNs: 600, label: "('inc-0123456789abcdef', 2)" },
    { thread: 2, startNs: 100, endNs: 300, label: "('inc-0123456789abcdef', 1)" },
    { thread: 2, startNs: 250, endNs: 400, label: "sum-fedcba9876543210" }, // overlaps the one before
    { thread: 2, startNs: 300, endNs: 350, label: "touching" }, // starts where row 0's band ends: row 0
    { thread: 4, startNs: 0, endNs: 10, label: "x" },
    { thread: 9, startNs: 0, endNs: 10, label: "no such thread" },
    { thread: 4, startNs: 20, endNs: 10, label: "ends before it starts" },
  ];
  const b = buildBandIndex(t);
  assert.equal(b.count, 5);
  const rows = b.threadRows.map((rs) => rs.map((r) => Array.from(r).map((i) => b.label[i])));
  // "sum" overlaps "inc 1" by less than half of either: the clock estimate's error, cut end to
  // end at the overlap's middle (no calls here); "touching" lies inside "sum": a row of its own
  assert.deepEqual(rows, [[], [], [["('inc-0123456789abcdef', 1)", "sum-fedcba9876543210", "('inc-0123456789abcdef', 2)"], ["touching"]], [], [["x"]]]);
  assert.deepEqual([b.start[0], b.end[0], b.start[1], b.end[1]], [100, 275, 275, 400]);
  // tasks of one kind share a colour key
  assert.deepEqual(b.keys, ["inc", "sum", "touching", "x"]);
  const byLabel = Object.fromEntries(b.label.map((l, i) => [l, b.key[i]]));
  assert.equal(byLabel["('inc-0123456789abcdef', 1)"], byLabel["('inc-0123456789abcdef', 2)"]);
  // rows can be walked like rows of calls (ends sorted): every band in a window, once
  const seen = [];
  for (const r of b.threadRows[2]) forEachBox(r, b.start, b.end, 0, 1000, 1, 1, (i, x0, x1, count) => seen.push([b.label[i], count]));
  assert.deepEqual(seen.map(([l]) => l).sort(), ["('inc-0123456789abcdef', 1)", "('inc-0123456789abcdef', 2)", "sum-fedcba9876543210", "touching"].sort());
  // a trace without bands
  assert.equal(buildBandIndex({ threads: [{}, {}] }).count, 0);
});

test("task prefixes of Dask keys", () => {
  assert.equal(taskPrefix("('inc-4c8a0e2f1b3d', 3)"), "inc");
  assert.equal(taskPrefix('("load-file-0a1b2c3d4e5f6a7b", 0, 1)'), "load-file");
  assert.equal(taskPrefix("finalize-9f86d081884c7d65"), "finalize");
  assert.equal(taskPrefix("my-task"), "my-task");
  assert.equal(taskPrefix("<b>x</b>"), "<b>x</b>");
});

test("bands take room only in the lanes of threads that have them", () => {
  const t = multiTrace();
  const L = layoutGroups(t, t.processes, [1, 1, 1, 1, 1], [0, 0, 0], [0, 0, 2, 0, 1], DIMS);
  assert.deepEqual(L.lanes.map((l) => [l.threads[0], l.bandRows, l.callsTop, l.height]), [
    [0, 0, 20, 50], [1, 0, 20, 40], [2, 2, 34, 94], [3, 0, 20, 30], [4, 1, 27, 47],
  ]);
  // collapsed: the summary lane has no bands
  const C = layoutGroups(t, t.processes, [1, 1, 1, 1, 1], [0, 1, 0], [0, 0, 2, 0, 1], DIMS);
  assert.equal(C.groups[1].lanes[0].bandRows, 0);
});

test("hit testing: process header, thread header, band rows, call rows, gaps", () => {
  const t = multiTrace();
  const L = layoutGroups(t, t.processes, [1, 1, 1, 1, 1], [0, 1, 0], [1, 0, 0, 0, 2], DIMS);
  const what = (cy) => {
    const h = hitLayout(L, cy);
    if (!h) return null;
    if (h.kind === "process") return ["process", h.group.process];
    if (h.kind === "thread") return ["thread", h.lane.threads];
    if (h.kind === "band") return ["band", h.lane.threads, h.row];
    return ["calls", h.lane.kind, h.lane.threads, h.depth];
  };
  // process 0: header [0, 22); lane of thread 0 at 22: header [22, 42), band [42, 49), calls from 49
  assert.deepEqual(what(0), ["process", 0]);
  assert.deepEqual(what(21.9), ["process", 0]);
  assert.deepEqual(what(22), ["thread", [0]]);
  assert.deepEqual(what(45), ["band", [0], 0]);
  assert.deepEqual(what(49), ["calls", "threads", [0], 0]);
  assert.deepEqual(what(78.9), ["calls", "threads", [0], 2]);
  assert.equal(what(80), null, "the gap after a lane");
  // process 1 (collapsed) after process 0's two lanes: 22 + 57 + 5 + 40 + 5 = 129
  assert.equal(L.groups[1].top, 129);
  assert.deepEqual(what(130), ["process", 1]);
  assert.deepEqual(what(151), ["calls", "summary", [2, 3], 0]);
  assert.deepEqual(what(160), ["calls", "summary", [2, 3], 3]);
  // process 2: its thread's two band rows
  const g2 = L.groups[2];
  const lane = g2.lanes[0];
  assert.deepEqual(what(lane.top + 20), ["band", [4], 0]);
  assert.deepEqual(what(lane.top + 27), ["band", [4], 1]);
  assert.deepEqual(what(lane.top + 34), ["calls", "threads", [4], 0]);
  assert.equal(what(L.height + 1), null);
  assert.equal(what(-1), null);
});

test("overview rows: a strip per process above its lanes; none for one process", () => {
  const t = multiTrace();
  const L = layoutGroups(t, t.processes, [1, 1, 1, 1, 1], [0, 1, 0], [0, 0, 0, 0, 0], DIMS);
  const o = overviewRows(L, 16, 170, 12);
  // 4 lanes, 3 strips: (170 - 16 - 4 - 36) / 4 = 28.5 -> at most 24
  assert.equal(o.lanePx, 24);
  assert.deepEqual(o.groupY, [16, 16 + 12 + 48, 16 + 12 + 48 + 12 + 24]);
  assert.deepEqual(o.laneY, [28, 52, 88, 124]);
  assert.equal(o.height, 124 + 24 + 4);
  const one = layoutGroups(t, [proc(0, 1, "")], [1, 1, 1, 1, 1], [0], [0, 0, 0, 0, 0], DIMS);
  const o1 = overviewRows(one, 16, 170, 12);
  assert.equal(o1.procPx, 0);
  assert.deepEqual(o1.laneY, [16, 40, 64, 88]); // lanes 0, 1, 2, 3 of one process
  // many lanes shrink to 8 px each
  const many = { multi: true, groups: [{ lanes: new Array(40).fill({}) }], lanes: new Array(40).fill({}) };
  assert.equal(overviewRows(many, 16, 170, 12).lanePx, 8);
});

test("fallback summary per process (threads keep their process)", async () => {
  const t = await decodeFpt(encodeFpt(sampleTrace()));
  t.processes = [proc(0, 10, "main"), proc(1, 11, "child")];
  t.threads[0].process = 0;
  t.threads[1].process = 1;
  const s = computeSummary(t);
  assert.deepEqual(s.threads.map((x) => x.process), [0, 1]);
  assert.deepEqual(s.processes.map((p) => [p.process, p.pid, p.name]), [[0, 10, "main"], [1, 11, "child"]]);
  const rows = (i) => Object.fromEntries(s.processes[i].rows.map((r) => [r.function, [r.calls, r.total_ns]]));
  assert.deepEqual(rows(0), { main: [1, 1000], work: [2, 880], step: [2, 380] });
  assert.deepEqual(rows(1), { work: [1, 600], step: [1, 10] });
  // a trace without processes: one entry holding everything
  const u = await decodeFpt(encodeFpt(sampleTrace()));
  const su = computeSummary(u);
  assert.equal(su.processes.length, 1);
  assert.deepEqual(su.processes[0].rows, su.overall);
});

test("process labels", () => {
  assert.equal(processLabel(proc(0, 42, "worker-1")), "worker-1 (pid 42) on node1");
  assert.equal(processLabel({ name: "", pid: 0, host: "" }), "process");
});

test("a decoded version-2 file: two processes, bands on the second's thread, laid out and hit", async () => {
  const t = await decodeFpt(encodeFpt(twoProcessTrace()));
  const ps = traceProcesses(t);
  assert.deepEqual(ps.map((p) => [p.pid, p.aligned, p.incomplete]), [[3100, true, false], [3101, false, true]]);
  const b = buildBandIndex(t);
  assert.deepEqual(b.threadRows.map((rs) => rs.length), [0, 1]);
  assert.deepEqual(b.keys, ["inc-1f2e", "<i>sum</i>-9"], "short hex tails are not hashes: the key is its own name");
  const L = layoutGroups(t, ps, [1, 1], [0, 0], b.threadRows.map((r) => r.length), DIMS);
  // process 0: header 22, lane (thread 0: 3 rows) 50; gap 5; process 1: header 22, lane with one band row
  assert.deepEqual(lanesOf(L), [["threads", 0, [0], 22, 20, 3, 50], ["threads", 1, [1], 99, 27, 2, 47]]);
  assert.equal(hitLayout(L, 77).group.process, 1);
  assert.deepEqual([hitLayout(L, 99 + 22).kind, hitLayout(L, 99 + 22).lane.threads], ["band", [1]]);
  // the fallback summary splits the calls by process
  const s = computeSummary(t);
  assert.deepEqual(s.processes.map((p) => p.rows.reduce((n, r) => n + r.calls, 0)), [5, 2]);
  // a version-1 file: one process, nothing grouped
  const v1 = await decodeFpt(encodeFpt(sampleTrace(), { version: 1 }));
  assert.equal(layoutGroups(v1, traceProcesses(v1), [1, 1], [0], [0, 0], DIMS).multi, false);
});

test("band text: the key where it fits, else the task name, cut short; colours per task name", () => {
  const b = buildBandIndex({ threads: [{}], bands: [{ thread: 0, startNs: 0, endNs: 10, label: "('process_chunk-4c8a0e2f1b3d5a7c', 12)" }] });
  const key = "('process_chunk-4c8a0e2f1b3d5a7c', 12)";
  assert.equal(bandText(b, 0, key.length * 5, 5), key);
  assert.equal(bandText(b, 0, key.length * 5 - 1, 5), "process_chunk");
  assert.equal(bandText(b, 0, 50, 5), "process_c…");
  assert.equal(bandText(b, 0, 5, 5), "");
  const c = bandColours(["inc", "sum"], false);
  assert.equal(c.length, 4, "a fill and a line colour per task name");
  assert.notEqual(c[0], c[1]);
  assert.deepEqual(bandColours(["inc", "sum"], false), c, "stable");
});
