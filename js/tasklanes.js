// tasklanes.js: tasks (trace.bands labels: asyncio tasks, Dask tasks) as a scope of the calls. A
// task's calls are those that begin inside one of its bands, on that band's thread: the rule of
// the Rust core (rust/core/src/tasks.rs, `Trace.summary(task=...)`), so the summary table's task
// choice shows the rows Python gives. A call whose parent is not the task's is one of its
// top-level calls (depth 0 in the task's summary).
// Layer 2: pure (no DOM; layout), tested in node (tests/js/tasklanes.test.mjs).

import { computeSummary } from "./layout.js";

/** The band labels of the trace, each once, in the order of their first band. */
export function taskLabels(trace) {
  const seen = new Set();
  const out = [];
  for (const b of trace.bands || []) {
    if (!seen.has(b.label)) {
      seen.add(b.label);
      out.push(b.label);
    }
  }
  return out;
}

/**
 * Per call 1 when it begins inside a band labelled `label` on its thread (and, given `kept`, is
 * kept; given `visible`, its thread is shown); plus the depths within the task (`depth`: 0 for a
 * call whose parent is not the task's). Returns { mask, depth, count }.
 */
export function taskMask(trace, label, kept = null, visible = null) {
  const { calls, threads } = trace;
  const mask = new Uint8Array(calls.count);
  const depth = new Uint32Array(calls.count);
  const spans = new Map(); // thread -> [start, end, start, end, ...] sorted by start
  for (const b of trace.bands || []) {
    if (b.label !== label) continue;
    if (!spans.has(b.thread)) spans.set(b.thread, []);
    spans.get(b.thread).push([b.startNs, b.endNs]);
  }
  let count = 0;
  for (const [t, list] of spans) {
    const th = threads[t];
    if (!th || (visible && !visible[t])) continue;
    list.sort((a, b) => a[0] - b[0]);
    for (let i = th.callStart; i < th.callEnd; i++) {
      if (kept && !kept[i]) continue;
      const s = calls.start[i];
      // the last band starting at or before the call
      let lo = 0;
      let hi = list.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (list[mid][0] <= s) lo = mid + 1;
        else hi = mid;
      }
      if (lo === 0 || s > list[lo - 1][1]) continue;
      mask[i] = 1;
      count++;
      const p = calls.parent[i];
      depth[i] = p >= 0 && mask[p] ? depth[p] + 1 : 0;
    }
  }
  return { mask, depth, count };
}

/**
 * The summary of task `label` ({ overall, processes, threads }, as layout.js computeSummary),
 * over the kept calls of the shown threads.
 */
export function taskSummary(trace, label, kept = null, visible = null) {
  const { mask, depth } = taskMask(trace, label, kept, visible);
  let maxDepth = 0;
  for (let i = 0; i < depth.length; i++) if (mask[i] && depth[i] > maxDepth) maxDepth = depth[i];
  const view = {
    ...trace,
    calls: { ...trace.calls, depth },
    threads: trace.threads.map((th) => ({ ...th, maxDepth })),
  };
  return computeSummary(view, mask);
}

/** More distinct tasks than this (a Dask graph's keys) and the table offers no task selector. */
export const TASK_SELECTOR_MAX = 500;

/**
 * `summary` (summaryscope.js shownSummary's) with its `tasks`: [{ label, rows }] for the table's
 * task selector, each task's rows computed when first read; none beyond TASK_SELECTOR_MAX tasks.
 */
export function withTasks(summary, trace, kept = null, visible = null) {
  let labels = taskLabels(trace);
  if (labels.length > TASK_SELECTOR_MAX) labels = [];
  summary.tasks = labels.map((label) => {
    let rows = null;
    return { label, get rows() { return rows || (rows = taskSummary(trace, label, kept, visible).overall); } };
  });
  return summary;
}
