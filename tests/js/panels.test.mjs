// Issue 24 (items 4-6, 8): thread group names, lanes never joining unrelated threads, task bands
// clamped end to end from the thread's calls, the thread filter matching processes, the regex
// message said once, the hide buttons' counts, what the summary counts with threads hidden, the
// flame views' heights, the side panel's width.
import { test } from "node:test";
import assert from "node:assert/strict";
import { groupName, namePattern, layoutGroups, buildBandIndex, threadMatches } from "../../js/lanes.js";
import { bandCut, clampBands, outerCalls, BAND_OVERLAP_MAX_SHARE } from "../../js/bandclamp.js";
import { compileSearch } from "../../js/filters.js";
import { hideCount, hideText } from "../../js/filterbar.js";
import { summaryMask, hiddenThreads, scopeWords } from "../../js/summaryscope.js";
import { flameHeight, sandwichGeometry, FLAME_MIN_HEIGHT_PX } from "../../js/flamesize.js";
import { clampSideWidth, SIDE_MIN_PX } from "../../js/sidepanel.js";

const DIMS = { rowPx: 10, headerPx: 20, gapPx: 5, procHeaderPx: 22, bandPx: 7, summaryRowPx: 3, summaryDepths: 4 };

test("a thread group is named by the part its names share", () => {
  assert.equal(groupName(namePattern("140234-Dask-Default-Threads-3452-0")), "Dask-Default-Threads");
  assert.equal(groupName("#-Dask-Default-Threads-#-#"), "Dask-Default-Threads");
  assert.equal(groupName("Thread-# (process_request_thread)"), "Thread (process_request_thread)");
  assert.equal(groupName("ThreadPoolExecutor-#_#"), "ThreadPoolExecutor");
  assert.equal(groupName("loader_#"), "loader");
  assert.equal(groupName("#"), "#", "nothing but a number: the pattern");
  assert.equal(groupName("MainThread"), "MainThread");
});

/** One process, threads named `names`, all given lane number 0 by the trace (they never run at once). */
function oneLaneTrace(names) {
  return {
    startNs: 0, endNs: 1000, processes: [],
    threads: names.map((name, index) => ({ index, lane: 0, maxDepth: 0, process: 0, name, names: [{ name }], firstNs: index * 100, lastNs: index * 100 + 50 })),
  };
}

test("threads share a lane only when their names differ by numbers alone", () => {
  const t = oneLaneTrace(["loader_0", "writer", "loader_1", "Thread-12", "Thread-13"]);
  const L = layoutGroups(t, [{}], [1, 1, 1, 1, 1], [0], [0, 0, 0, 0, 0], DIMS);
  assert.deepEqual(L.lanes.map((l) => l.threads), [[0, 2], [1], [3, 4]]);
  assert.deepEqual(L.lanes.map((l) => l.top), [0, 35, 70]);
});

/** A decoded-trace shape: thread 0 with outermost calls `outer` ([start, end]) and a child in each. */
function bandTrace(outer, bands) {
  const n = outer.length * 2;
  const calls = { count: n, start: new Float64Array(n), end: new Float64Array(n), depth: new Uint32Array(n), thread: new Int32Array(n) };
  outer.forEach(([s, e], i) => {
    calls.start[2 * i] = s; calls.end[2 * i] = e; calls.depth[2 * i] = 0;
    calls.start[2 * i + 1] = s + 1; calls.end[2 * i + 1] = e - 1; calls.depth[2 * i + 1] = 1;
  });
  return { calls, threads: [{ index: 0, callStart: 0, callEnd: n }], bands };
}

test("consecutive task bands that overlap a little are cut end to end at the thread's calls", () => {
  // Dask's estimate puts task b's start 30 before task a's end; our calls say a's work ended at
  // 95 and b's began at 110: the cut goes to the edge of the call holding the overlap's middle
  const tr = bandTrace([[0, 95], [110, 200]], [
    { thread: 0, startNs: 0, endNs: 120, label: "a-0123456789abcdef" },
    { thread: 0, startNs: 90, endNs: 210, label: "b-0123456789abcdef" },
  ]);
  assert.deepEqual(outerCalls(tr, 0).map((a) => Array.from(a)), [[0, 110], [95, 200]]);
  // the middle (105) lies between the calls: cut there
  assert.equal(bandCut(90, 120, outerCalls(tr, 0)), 105);
  // a middle inside a call moves to its nearer edge in the overlap
  assert.equal(bandCut(80, 120, [[0, 110], [105, 200]]), 105);
  assert.equal(bandCut(100, 130, [[0, 110], [95, 200]]), 110);
  const b = buildBandIndex(tr);
  assert.equal(b.threadRows[0].length, 1, "one band row");
  assert.deepEqual([b.start[0], b.end[0], b.start[1], b.end[1]], [0, 105, 105, 210]);
  // the trace's own bands are left as they were (the index is the layout's)
  assert.equal(tr.bands[0].endNs, 120);
});

test("bands overlapping by more than the estimate's error keep rows of their own", () => {
  const list = [{ startNs: 0, endNs: 100 }, { startNs: 40, endNs: 140 }];
  assert.ok(60 > BAND_OVERLAP_MAX_SHARE * 100);
  assert.equal(clampBands(list, () => [[], []]), 0);
  assert.deepEqual(list, [{ startNs: 0, endNs: 100 }, { startNs: 40, endNs: 140 }]);
  const inside = [{ startNs: 0, endNs: 100 }, { startNs: 90, endNs: 95 }];
  assert.equal(clampBands(inside, () => [[], []]), 0, "a band inside another is not cut");
  const tr = bandTrace([[0, 100]], [{ thread: 0, startNs: 0, endNs: 100, label: "x" }, { thread: 0, startNs: 40, endNs: 140, label: "y" }]);
  assert.equal(buildBandIndex(tr).threadRows[0].length, 2);
});

test("the thread filter matches the process's name, pid and host, and the tid", () => {
  const th = { osId: 7586, names: [{ name: "MainThread" }] };
  const proc = { name: "SpawnProcess-1", pid: 7590, host: "gpu-node-7" };
  assert.equal(threadMatches(th, "Spawn", proc), true);
  assert.equal(threadMatches(th, "spawnprocess-1", proc), true);
  assert.equal(threadMatches(th, "7590", proc), true);
  assert.equal(threadMatches(th, "pid 7590", proc), true);
  assert.equal(threadMatches(th, "gpu-node", proc), true);
  assert.equal(threadMatches(th, "7586", proc), true, "the tid");
  assert.equal(threadMatches(th, "759", proc), false, "a pid is matched whole");
  assert.equal(threadMatches(th, "Spawn"), false, "without its process");
  assert.equal(threadMatches(th, "main", proc), true);
});

test("an invalid regular expression is said once", () => {
  const bad = compileSearch("load(", true);
  assert.match(bad.error, /^Invalid regular expression/);
  assert.equal(bad.error.match(/invalid regular expression/gi).length, 1, bad.error);
  assert.match(bad.error, /load\(/, "the pattern is named");
});

test("the hide buttons count the calls they hide, the callees too; all of them said", () => {
  // calls: 0 main (code 0) > 1 load (1) > 2 parse (2); 3 main (0) > 4 parse (2)
  const calls = { count: 5, code: Int32Array.from([0, 1, 2, 0, 2]), parent: Int32Array.from([-1, 0, 1, -1, 3]) };
  assert.deepEqual(hideCount(calls, null, Uint8Array.from([0, 1, 0])), { hides: 2, shown: 5 });
  assert.deepEqual(hideCount(calls, null, Uint8Array.from([0, 0, 1])), { hides: 2, shown: 5 });
  assert.deepEqual(hideCount(calls, Uint8Array.from([1, 0, 0, 1, 1]), Uint8Array.from([0, 0, 1])), { hides: 1, shown: 3 });
  assert.deepEqual(hideCount(calls, null, Uint8Array.from([1, 0, 0])), { hides: 5, shown: 5 });
  assert.equal(hideText("module", 206, 206), "Hide module (all 206 calls)");
  assert.equal(hideText("file", 40, 206), "Hide file (40 calls)");
  assert.equal(hideText("function", 1, 206), "Hide function (1 call)");
  assert.equal(hideText("function", 1, 1), "Hide function (1 call)");
});

test("the summary counts the shown threads, and says so", () => {
  const trace = {
    calls: { count: 6 },
    threads: [{ index: 0, callStart: 0, callEnd: 2 }, { index: 1, callStart: 2, callEnd: 5 }, { index: 2, callStart: 5, callEnd: 6 }],
  };
  assert.equal(summaryMask(trace, Uint8Array.from([1, 1, 1]), null), null, "all shown, no filter: the host's rows");
  const kept = Uint8Array.from([1, 0, 1, 1, 0, 1]);
  assert.equal(summaryMask(trace, Uint8Array.from([1, 1, 1]), kept), kept);
  assert.deepEqual(Array.from(summaryMask(trace, Uint8Array.from([1, 0, 1]), null)), [1, 1, 0, 0, 0, 1]);
  assert.deepEqual(Array.from(summaryMask(trace, Uint8Array.from([0, 1, 1]), kept)), [0, 0, 1, 1, 0, 1]);
  assert.equal(hiddenThreads(Uint8Array.from([0, 1, 0])), 2);
  assert.deepEqual(scopeWords({ hidden: 0, total: 3, windowed: false }), { all: "All threads", note: "" });
  assert.deepEqual(scopeWords({ hidden: 5, total: 310, windowed: false }), { all: "Shown threads (305 of 310)", note: "5 hidden threads are not counted" });
  const w = scopeWords({ hidden: 1, total: 4, windowed: true });
  assert.equal(w.all, "All threads (hidden ones too)");
  assert.match(w.note, /Counts every thread, the 1 hidden too/);
});

test("the flame views are as tall as what they draw", () => {
  assert.equal(flameHeight(2, 18, 420), FLAME_MIN_HEIGHT_PX, "2 rows: the least height, not 420");
  assert.equal(flameHeight(10, 18, 420), 184);
  assert.equal(flameHeight(40, 18, 420), 420, "deeper: the most, and it scrolls");
  assert.equal(flameHeight(2, 18, 60), 60);
  // one caller row, three callee rows: the middle line right under the callers
  const g = sandwichGeometry(1, 3, 18, 420);
  assert.deepEqual(g, { height: 16 + 18 + 2 + 54 + 16, mid: 36 });
  // little of both: the least height, the two halves centred
  const s = sandwichGeometry(1, 1, 18, 420);
  assert.equal(s.height, FLAME_MIN_HEIGHT_PX);
  assert.ok(s.mid - 18 - 2 >= 16 && s.mid + 18 + 16 <= s.height, JSON.stringify(s));
  // too many for the height: each side gets at least half or what it needs
  const big = sandwichGeometry(30, 2, 18, 420);
  assert.equal(big.height, 420);
  assert.equal(big.mid, 420 - 2 * 18 - 16);
  const both = sandwichGeometry(30, 30, 18, 420);
  assert.equal(both.mid, 210);
});

test("the side panel's width stays between its least and what leaves the views room", () => {
  assert.equal(clampSideWidth(100, 1200), SIDE_MIN_PX);
  assert.equal(clampSideWidth(450.4, 1200), 450);
  assert.equal(clampSideWidth(2000, 1200), 880);
  assert.equal(clampSideWidth(500, 400), SIDE_MIN_PX, "a narrow page: the least");
});
