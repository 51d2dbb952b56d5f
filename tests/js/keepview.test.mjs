// keepview.js: a live view reloads its growing trace about once a second; what the user set on it
// (hidden threads, collapsed processes, scroll, the selected call and function) carries to the
// next version, matched by identity even when the new version numbers threads, processes and
// functions differently.
import { test } from "node:test";
import assert from "node:assert/strict";
import { captureView, restoreView } from "../../js/keepview.js";

/** A decoded trace's shape (decode.js) with `procs` [{pid}], `threads` [{proc, os, name}],
 * `codes` [[file, line, name]] and `calls` [[thread, start, code]] (each thread's calls together). */
function trace(procs, threads, codes, calls) {
  const sorted = calls.slice().sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const th = threads.map((t, index) => {
    const mine = sorted.map((c, i) => [c, i]).filter(([c]) => c[0] === index).map(([, i]) => i);
    return { index, process: t.proc, osId: t.os, lane: index, names: [{ tNs: 0, name: t.name }], name: t.name,
      callStart: mine.length ? mine[0] : 0, callEnd: mine.length ? mine[mine.length - 1] + 1 : 0, maxDepth: 0 };
  });
  return {
    processes: procs.map((p, index) => ({ index, pid: p.pid, host: "h", name: `p${p.pid}` })),
    threads: th,
    codes: { count: codes.length, file: codes.map((c) => c[0]), line: Int32Array.from(codes.map((c) => c[1])), name: codes.map((c) => c[2]) },
    calls: { count: sorted.length, thread: Int32Array.from(sorted.map((c) => c[0])), start: Float64Array.from(sorted.map((c) => c[1])),
      code: Int32Array.from(sorted.map((c) => c[2])) },
  };
}
function stateOf(t) {
  return { trace: t, visible: new Uint8Array(t.threads.length).fill(1), collapsed: new Uint8Array(t.processes.length), selectedCall: -1, selectedCode: -1 };
}

const CODES = [["a.py", 1, "f"], ["a.py", 9, "g"], ["b.py", 3, "h"]];

test("hidden threads, collapsed processes, scroll and the selected call follow the trace's next version", () => {
  const v1 = trace([{ pid: 10 }, { pid: 11 }],
    [{ proc: 0, os: 1, name: "MainThread" }, { proc: 0, os: 2, name: "loader_0" }, { proc: 1, os: 1, name: "MainThread" }],
    CODES, [[0, 100, 0], [1, 50, 1], [1, 70, 1], [2, 80, 2]]);
  const s1 = stateOf(v1);
  s1.visible[1] = 0; // loader_0 of pid 10 hidden
  s1.collapsed[1] = 1; // pid 11 collapsed
  const sel = [...v1.calls.start].indexOf(80);
  s1.selectedCall = sel;
  s1.selectedCode = v1.calls.code[sel];
  const saved = captureView(s1, 123);

  // the next version: a new process first, a new thread, functions numbered in another order, more calls
  const codes2 = [["c.py", 5, "new"], CODES[2], CODES[0], CODES[1]];
  const v2 = trace([{ pid: 12 }, { pid: 11 }, { pid: 10 }],
    [{ proc: 0, os: 7, name: "MainThread" }, { proc: 2, os: 2, name: "loader_0" }, { proc: 2, os: 1, name: "MainThread" },
      { proc: 1, os: 1, name: "MainThread" }, { proc: 2, os: 3, name: "writer" }],
    codes2, [[0, 5, 0], [1, 50, 3], [1, 70, 3], [2, 100, 2], [3, 80, 1], [3, 300, 1], [4, 310, 0]]);
  const s2 = stateOf(v2);
  const r = restoreView(s2, saved);
  assert.deepEqual([...s2.visible], [1, 0, 1, 1, 1], "pid 10's loader_0 stays hidden; the new threads show");
  assert.deepEqual([...s2.collapsed], [0, 1, 0], "pid 11 stays collapsed, wherever it now is");
  assert.equal(r.scrollY, 123);
  assert.ok(r.call >= 0, "the selected call is found again");
  assert.equal(v2.calls.thread[r.call], 3);
  assert.equal(v2.calls.start[r.call], 80);
  assert.equal(r.code, 1, "b.py:3 h is function 1 now");
});

test("a selection that is gone leaves the function selected, or nothing", () => {
  const v1 = trace([{ pid: 10 }], [{ proc: 0, os: 1, name: "MainThread" }], CODES, [[0, 100, 0]]);
  const s1 = stateOf(v1);
  s1.selectedCall = 0;
  s1.selectedCode = 0;
  const saved = captureView(s1, 0);
  const v2 = trace([{ pid: 10 }], [{ proc: 0, os: 1, name: "MainThread" }], [CODES[1], CODES[0]], [[0, 200, 1]]);
  const r = restoreView(stateOf(v2), saved);
  assert.equal(r.call, -1, "the call is not in this version");
  assert.equal(r.code, 1, "its function still is");
  assert.deepEqual(restoreView(stateOf(v2), null), { call: -1, code: -1, scrollY: 0 });
  assert.equal(captureView({ trace: null }, 0), null);
});
