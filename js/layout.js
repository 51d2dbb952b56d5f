// layout.js: derived per-call data, the per-depth row index, level of detail, window maths and
// the summary (the Rust summary's rules; the lanes are lanes.js's). Layer 2: depends only on the decoded trace
// shape of decode.js and on lanes.js (no DOM, tested in node).
//
// Coordinate spaces:
//   trace time (ns, relative to the trace origin)  <->  view x (CSS px from the left of a canvas)
//   view x = (t_ns - window.start_ns) * px_per_ns
// Vertical positions are CSS px too; rows are numbered by call depth inside a lane.

import { traceProcesses, threadProcess } from "./lanes.js";

/**
 * Build the index of a decoded trace:
 * - rows: per thread, per depth, the global indices of the calls at that depth in start order
 *   (calls at one depth of one thread never overlap, so their ends are sorted too: finding the
 *   calls visible in a window is a binary search);
 * - selfNs and childCount per call.
 */
export function buildIndex(trace) {
  const { calls, threads } = trace;
  const N = calls.count;
  const order = new Int32Array(N);
  const threadRows = [];
  for (const th of threads) {
    const depthCount = th.maxDepth + 1;
    const offsets = new Int32Array(depthCount + 1);
    for (let i = th.callStart; i < th.callEnd; i++) offsets[calls.depth[i] + 1]++;
    offsets[0] = th.callStart;
    for (let d = 0; d < depthCount; d++) offsets[d + 1] += offsets[d];
    const fill = offsets.slice(0, depthCount);
    for (let i = th.callStart; i < th.callEnd; i++) order[fill[calls.depth[i]]++] = i;
    const rows = [];
    for (let d = 0; d < depthCount; d++) rows.push(order.subarray(offsets[d], offsets[d + 1]));
    threadRows.push(rows);
  }
  const selfNs = new Float64Array(N);
  const childCount = new Int32Array(N);
  for (let i = 0; i < N; i++) selfNs[i] = calls.end[i] - calls.start[i];
  for (let i = 0; i < N; i++) {
    const p = calls.parent[i];
    if (p >= 0) {
      selfNs[p] -= calls.end[i] - calls.start[i];
      childCount[p]++;
    }
  }
  return { threadRows, selfNs, childCount };
}

/** First position k in [lo, hi) of `row` with ends[row[k]] >= t (hi when none). */
export function lowerBoundEnd(row, ends, t, lo = 0, hi = row.length) {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ends[row[mid]] < t) lo = mid + 1; else hi = mid;
  }
  return lo;
}

/**
 * Has `row` (call or band indices in start order whose ends are sorted: a row of buildIndex or
 * lanes.js buildBandIndex) an item overlapping [t0, t1]? A binary search.
 */
export function rowHasItemIn(row, starts, ends, t0, t1) {
  if (!row || row.length === 0) return false;
  const k = lowerBoundEnd(row, ends, t0);
  return k < row.length && starts[row[k]] <= t1;
}

/** The call of `row` containing time t (start <= t <= end), or -1. */
export function callAt(row, starts, ends, t) {
  const k = lowerBoundEnd(row, ends, t);
  if (k < row.length && starts[row[k]] <= t) return row[k];
  return -1;
}

/**
 * Level of detail: visit the boxes of one row for the window [t0, t1] at `pxPerNs`.
 * A call at least `minPx` wide is one box. Narrower calls that touch (gaps under a pixel) are
 * merged into one box at least one pixel wide; the calls a merged box covers are skipped by
 * binary search, so the cost is about (boxes drawn) x log(row length), never the whole row.
 * emit(callIndex, x0, x1, count): x in view px relative to t0; count > 1 for a merged box
 * (callIndex is then its first call).
 */
export function forEachBox(row, starts, ends, t0, t1, pxPerNs, minPx, emit) {
  const n = row.length;
  let i = lowerBoundEnd(row, ends, t0);
  let boxes = 0;
  while (i < n) {
    const c = row[i];
    const s = starts[c];
    if (s > t1) break;
    const xa = (s - t0) * pxPerNs;
    const xb = (ends[c] - t0) * pxPerNs;
    if (xb - xa >= minPx) {
      emit(c, xa, xb, 1);
      boxes++;
      i++;
      continue;
    }
    let runEnd = xb;
    let count = 0;
    for (;;) {
      const boundary = t0 + (Math.floor(runEnd) + 1) / pxPerNs;
      const j = lowerBoundEnd(row, ends, boundary, i + 1, n);
      const lastEnd = (ends[row[j - 1]] - t0) * pxPerNs;
      if (lastEnd > runEnd) runEnd = lastEnd;
      count += j - i;
      i = j;
      if (i >= n) break;
      const c2 = row[i];
      if (starts[c2] > t1) break;
      const xa2 = (starts[c2] - t0) * pxPerNs;
      const xb2 = (ends[c2] - t0) * pxPerNs;
      if (xa2 > runEnd + 1 || xb2 - xa2 >= minPx) break;
    }
    emit(c, xa, Math.max(runEnd, xa + 1), count);
    boxes++;
  }
  return boxes;
}

/** The full time range shown by "reset": the whole run (never empty). */
export function fullRange(trace) {
  const a = trace.startNs;
  const b = trace.endNs;
  if (!(b > a)) return [a, a + 1000];
  return [a, b];
}

/**
 * The trace time shown as 0 on the axes and in every text (tooltip, details, window label): the
 * trace origin (the start of the recording, where Python's `Call.start_ns` counts from), or the
 * first event when a trace has events before its origin (a thread's first event a few hundred ns
 * before the recording's start time was taken), so that no time reads negative.
 */
export function displayOrigin(trace) {
  const s = trace.startNs;
  return Number.isFinite(s) && s < 0 ? s : 0;
}

/** The name a thread had at time t (threads can be renamed while they run). */
export function threadNameAt(thread, t) {
  let name = thread.names[0].name;
  for (const n of thread.names) {
    if (n.tNs <= t) name = n.name;
    else break;
  }
  return name;
}

/** Clamp a window [a, b] into [lo, hi] keeping its width when possible, with a minimum width. */
export function clampWindow(a, b, lo, hi, minWidth) {
  let w = Math.max(b - a, minWidth);
  if (w >= hi - lo) return [lo, hi];
  let s = a;
  if (b - a < minWidth) s = (a + b) / 2 - w / 2;
  if (s < lo) s = lo;
  if (s + w > hi) s = hi - w;
  return [s, s + w];
}

/** The window after zooming by `factor` (> 1 zooms in) around time `t`. */
export function zoomWindow(a, b, t, factor) {
  return [t - (t - a) / factor, t + (b - t) / factor];
}

/** 32-bit FNV-1a hash of a string: stable colours per function. */
export function hashString(s) {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * The summary of a decoded trace, by the rules of the Rust summary (rust/core/src/summary.rs,
 * docs/format.md "The summary as JSON"), in its schema: per function `calls`; `total_ns`, the
 * time inside it counted once per outermost call (a recursive call inside another call of the same
 * function is not counted again); `self_ns`, each call's duration minus its children's (never
 * below 0); `mean_ns` and `max_ns` over every call's own duration (mean rounded half up);
 * overall, per process and per thread, rows sorted by total_ns descending, then self_ns
 * descending, then code. One pass over the calls: each thread's figures are added into its
 * process's and the overall ones. Tested equal to `Trace.summary_json()` on real traces
 * (tests/test_timeline_threads.py). Returns { overall, processes: [{ process, pid, name, rows }],
 * threads: [{ thread, process, name, rows }] }.
 * `kept` (filters.js applyFilter: per call 1 when shown, its ancestors kept too) counts only the
 * kept calls: a hidden call's duration stays in its parent's self time.
 */
export function computeSummary(trace, kept = null) {
  const { calls, codes, threads } = trace;
  const K = codes.count;
  const F = 5; // per code: calls, total, self, sum of durations, max
  const acc = new Float64Array(F * K);
  const active = new Int32Array(K);
  const touched = [];
  const processes = traceProcesses(trace);
  const overall = new Float64Array(F * K);
  const perProcess = processes.map(() => null);
  let maxDepth = 0;
  for (const th of threads) maxDepth = Math.max(maxDepth, th.maxDepth + 1);
  const stCode = new Int32Array(maxDepth + 1);
  const stDur = new Float64Array(maxDepth + 1);
  const stChildren = new Float64Array(maxDepth + 1);
  const rowsOf = (a, list) => {
    const rows = [];
    for (const k of list) {
      const n = a[F * k];
      if (n === 0) continue;
      rows.push({
        code: k, function: codes.name[k], file: codes.file[k], line: codes.line[k], calls: n,
        total_ns: a[F * k + 1], self_ns: a[F * k + 2], mean_ns: Math.floor((a[F * k + 3] + Math.floor(n / 2)) / n), max_ns: a[F * k + 4],
      });
    }
    rows.sort((x, y) => y.total_ns - x.total_ns || y.self_ns - x.self_ns || x.code - y.code);
    return rows;
  };
  const addInto = (dst, list) => {
    for (const k of list) {
      const o = F * k;
      dst[o] += acc[o];
      dst[o + 1] += acc[o + 1];
      dst[o + 2] += acc[o + 2];
      dst[o + 3] += acc[o + 3];
      if (acc[o + 4] > dst[o + 4]) dst[o + 4] = acc[o + 4];
    }
  };
  const threadRows = [];
  for (const th of threads) {
    let sp = 0;
    const close = () => {
      sp--;
      const k = stCode[sp];
      const dur = stDur[sp];
      acc[F * k + 2] += Math.max(0, dur - stChildren[sp]);
      active[k]--;
      if (sp > 0) stChildren[sp - 1] += dur;
    };
    for (let i = th.callStart; i < th.callEnd; i++) {
      if (kept && !kept[i]) continue;
      const d = calls.depth[i];
      while (sp > d) close();
      const k = calls.code[i];
      const dur = Math.max(0, calls.end[i] - calls.start[i]);
      const o = F * k;
      if (acc[o] === 0) touched.push(k);
      acc[o]++;
      acc[o + 3] += dur;
      if (dur > acc[o + 4]) acc[o + 4] = dur;
      if (active[k] === 0) acc[o + 1] += dur;
      active[k]++;
      stCode[sp] = k;
      stDur[sp] = dur;
      stChildren[sp] = 0;
      sp++;
    }
    while (sp > 0) close();
    const p = threadProcess(th, processes.length);
    addInto(overall, touched);
    if (!perProcess[p]) perProcess[p] = new Float64Array(F * K);
    addInto(perProcess[p], touched);
    threadRows.push({ thread: th.index, process: p, name: th.name, rows: rowsOf(acc, touched) });
    for (const k of touched) acc.fill(0, F * k, F * k + F);
    touched.length = 0;
  }
  const allCodes = Array.from({ length: K }, (_, k) => k);
  return {
    overall: rowsOf(overall, allCodes),
    processes: processes.map((p, i) => ({ process: i, pid: p.pid, name: p.name, rows: perProcess[i] ? rowsOf(perProcess[i], allCodes) : [] })),
    threads: threadRows,
  };
}

/**
 * The summary the table shows: the host's overall rows when it sent them (the Rust summary's), at
 * once, and the per-process and per-thread rows of computeSummary, computed the first time one is
 * read (about 0.1 s per million calls: spent when a thread or process is first chosen in the
 * table, not before the first drawing). Without overall rows from the host, everything is
 * computed at once. With `kept` (a filter on: filters.js applyFilter) everything is computed
 * over the kept calls and the host's rows (unfiltered) are not used.
 */
export function lazySummary(trace, overall, kept = null) {
  let full = null;
  const get = () => full || (full = computeSummary(trace, kept));
  const processes = traceProcesses(trace);
  return {
    overall: Array.isArray(overall) && !kept ? overall : get().overall,
    processes: processes.map((p, i) => ({ process: i, pid: p.pid, name: p.name, get rows() { return get().processes[i].rows; } })),
    threads: trace.threads.map((th) => ({
      thread: th.index, process: threadProcess(th, processes.length), name: th.name, get rows() { return get().threads[th.index].rows; },
    })),
  };
}
