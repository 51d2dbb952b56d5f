// tasklaneview.js: task lanes (the toggle `button.fprofile-task-lanes-toggle` or the key t): under
// each thread lane of the zoomed view, one lane per task that thread ran (a band label of the
// thread: an asyncio task, a Dask key), holding the task's steps (its bands, in one band row, over
// a thin line from its first step to its last: the gaps, where it awaited, stay empty but for that
// line) and the recorded calls made inside them (the calls that begin inside one of its bands on
// that thread: the rule of tasklanes.js taskMask and rust/core/src/tasks.rs), at their depth
// within the task (0 for a call whose parent is not the task's). The thread lane above keeps every
// call; the overview and the thread list are unchanged. Hooks elsewhere: actions.js (the toggle,
// the lanes added in the zoomed view's layout), lanes.js (task lanes in windowLayout and
// hitLayout), zoomview.js (drawing, hit testing, the tooltip), bandrows.js (a lane's own band
// row). Not offered in windowed mode (the page holds one window's calls, merged into runs).
// Layer 4: the index and the layout are pure (tests/js/tasklaneview.test.mjs), the rest canvas.

import { rowHasItemIn } from "./layout.js";
import { fitLabel } from "./render.js";
import { timeText, threadLabel, processFact } from "./panel.js";
import { formatCount, formatDuration } from "./units.js";

/** More task lanes than this (a Dask graph's keys, one lane each) and the toggle is not offered. */
export const TASK_LANES_MAX = 1000;
/** The height of a task lane's header strip (its name), CSS px. */
export const TASK_HEADER_PX = 16;

/** How many task lanes the band index `bands` (lanes.js buildBandIndex) gives: its distinct (thread, label) pairs. */
export function countTaskLanes(bands) {
  const seen = new Set();
  for (let i = 0; i < bands.count; i++) seen.add(`${bands.thread[i]}\u0000${bands.label[i]}`);
  return seen.size;
}

/**
 * The task lanes of a trace: `bands` is its band index (lanes.js buildBandIndex: the times the
 * view draws), `kept` the filters' mask or null. Returns { trace, kept, lanes, byThread, owner,
 * depth }: lanes[k] = { id: k, thread, label, bands (Int32Array: band indices in start order),
 * rows (per depth within the task, an Int32Array of call indices in start order, no two
 * overlapping), calls, firstNs, lastNs (its first step's start, its last step's end), busyNs (the
 * steps' total) }; byThread[t]: thread t's lanes in the order of their first step; owner[c]: the
 * lane of call c or -1 (a call in no band: the loop's own, or filtered out); depth[c]: its row in
 * that lane. One pass over the calls of the threads with bands, a binary search each.
 */
export function taskLaneIndex(trace, bands, kept = null) {
  const { calls, threads } = trace;
  const owner = new Int32Array(calls.count).fill(-1);
  const depth = new Int32Array(calls.count);
  const lanes = [];
  const byThread = threads.map(() => []);
  const perThread = threads.map(() => []);
  for (let i = 0; i < bands.count; i++) perThread[bands.thread[i]].push(i);
  for (let t = 0; t < threads.length; t++) {
    const list = perThread[t];
    if (list.length === 0) continue;
    list.sort((a, b) => bands.start[a] - bands.start[b] || a - b);
    const laneOfBand = new Int32Array(list.length);
    const byLabel = new Map();
    list.forEach((b, j) => {
      let lane = byLabel.get(bands.label[b]);
      if (!lane) {
        lane = { id: lanes.length, thread: t, label: bands.label[b], bandList: [], rows: [], rowEnds: [], calls: 0, firstNs: bands.start[b], lastNs: bands.end[b], busyNs: 0 };
        byLabel.set(bands.label[b], lane);
        lanes.push(lane);
        byThread[t].push(lane);
      }
      lane.bandList.push(b);
      lane.lastNs = Math.max(lane.lastNs, bands.end[b]);
      lane.busyNs += bands.end[b] - bands.start[b];
      laneOfBand[j] = lane.id;
    });
    const th = threads[t];
    for (let c = th.callStart; c < th.callEnd; c++) {
      if (kept && !kept[c]) continue;
      const s = calls.start[c];
      // the last band starting at or before the call: the call is its task's when it starts inside it
      let lo = 0;
      let hi = list.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (bands.start[list[mid]] <= s) lo = mid + 1;
        else hi = mid;
      }
      if (lo === 0 || s > bands.end[list[lo - 1]]) continue;
      const lane = lanes[laneOfBand[lo - 1]];
      const p = calls.parent[c];
      let d = p >= 0 && owner[p] === lane.id ? depth[p] + 1 : 0;
      // rows never hold two overlapping calls (a row is searched by its ends): a call that would
      // overlap the last of its row (only where band times are an estimate) goes one further down
      while (d < lane.rowEnds.length && lane.rowEnds[d] > s) d++;
      if (d === lane.rows.length) { lane.rows.push([]); lane.rowEnds.push(-Infinity); }
      lane.rows[d].push(c);
      lane.rowEnds[d] = calls.end[c];
      owner[c] = lane.id;
      depth[c] = d;
      lane.calls++;
    }
  }
  for (const lane of lanes) {
    lane.bands = Int32Array.from(lane.bandList);
    lane.rows = lane.rows.map((r) => Int32Array.from(r));
    delete lane.bandList;
    delete lane.rowEnds;
  }
  return { trace, kept, lanes, byThread, owner, depth };
}

/**
 * `layout` (lanes.js layoutGroups) with, after each thread lane, the task lanes of its threads
 * (`index`: taskLaneIndex), the lanes below moved down. A task lane is { kind: "task", task (its
 * index entry), process, lane, threads: [its thread], top, headerPx, bandRows: 1, bandPx,
 * callsTop, rows, rowPx, height }. Summary lanes (collapsed processes) get none.
 */
export function withTaskLanes(layout, index, dims) {
  const groups = [];
  const lanes = [];
  let y = 0;
  for (const g of layout.groups) {
    const ng = { ...g, top: y, lanes: [], height: 0 };
    y += g.headerPx;
    const add = (l) => {
      l.top = y;
      y += l.height + dims.gapPx;
      ng.lanes.push(l);
      lanes.push(l);
    };
    for (const l of g.lanes) {
      add({ ...l });
      if (l.kind !== "threads") continue;
      for (const t of l.threads) {
        for (const task of index.byThread[t] || []) {
          const callsTop = TASK_HEADER_PX + dims.bandPx;
          add({
            kind: "task", task, process: l.process, lane: l.lane, threads: [t], top: 0, headerPx: TASK_HEADER_PX, bandRows: 1,
            bandPx: dims.bandPx, callsTop, rows: task.rows.length, rowPx: dims.rowPx, height: callsTop + task.rows.length * dims.rowPx,
          });
        }
      }
    }
    ng.height = (ng.lanes.length ? y - dims.gapPx : y) - ng.top;
    groups.push(ng);
  }
  return { multi: layout.multi, groups, lanes, height: Math.max(0, y - dims.gapPx) };
}

/**
 * How many of task lane `lane`'s rows have a call in [t0, t1] (lanes.js windowLayout's rowsIn); 0
 * when none does but the window meets the task's span (a step, or a gap where it awaited); -1
 * when the window is outside its span.
 */
export function taskRowsIn(lane, calls, t0, t1) {
  const { task } = lane;
  const rows = task.rows;
  for (let d = rows.length - 1; d >= 0; d--) if (rowHasItemIn(rows[d], calls.start, calls.end, t0, t1)) return d + 1;
  return task.lastNs >= t0 && task.firstNs <= t1 ? 0 : -1;
}

/**
 * Draw task lane `lane`'s header (at zoom y `ly`: its name, its steps' count) and the line of its
 * span in its band row (under its bands: what shows between them is where it awaited). `colours`:
 * bandrows.js bandColours of the band index. Appends { thread, task, steps, calls, y, h } to `out`.
 */
export function drawTaskLaneHeader(ctx, state, vp, lane, ly, charPx, out) {
  const { pal, bands } = state;
  const { task } = lane;
  const W = vp.width;
  const key = bands.key[task.bands[0]];
  const strong = state.bandColours[key + bands.keys.length];
  ctx.fillStyle = strong;
  ctx.fillRect(0, ly, 3, lane.height);
  const xa = Math.max(-2, vp.nsToZoomX(task.firstNs));
  const xb = Math.min(W + 2, vp.nsToZoomX(task.lastNs));
  if (xb >= 0 && xa <= W) {
    ctx.fillStyle = pal.muted;
    ctx.fillRect(xa, ly + lane.headerPx + Math.floor(lane.bandPx / 2) - 1, Math.max(1, xb - xa), 1);
  }
  ctx.fillStyle = pal.fg;
  ctx.font = pal.smallFont;
  const steps = task.bands.length;
  const text = `${task.label}  · ${formatCount(steps)} step${steps === 1 ? "" : "s"}`;
  const room = W - 14;
  const fit = text.length * charPx <= room ? text : fitLabel(task.label, room, charPx);
  if (fit) ctx.fillText(fit, 8, ly + lane.headerPx / 2 + 1);
  ctx.font = pal.font;
  out.push({ thread: lane.threads[0], task: task.label, steps, calls: task.calls, y: Math.round(ly), h: lane.height });
}

/** The tooltip's facts of task lane `lane`: steps, first and last step, span, time running and awaiting, calls, thread. */
export function taskLaneFacts(state, vp, lane) {
  const { task } = lane;
  const { bands } = state;
  const first = task.bands[0];
  const last = task.bands[task.bands.length - 1];
  const span = task.lastNs - task.firstNs;
  const stepText = (b) => `${timeText(state, vp, bands.start[b], bands.end[b] - bands.start[b])} (${formatDuration(bands.end[b] - bands.start[b])})`;
  return [
    ["Steps", formatCount(task.bands.length)],
    ["First step", stepText(first)],
    ["Last step", stepText(last)],
    ["Span", formatDuration(span)],
    ["Running", formatDuration(task.busyNs)],
    ["Awaiting", formatDuration(Math.max(0, span - task.busyNs))],
    ["Calls", formatCount(task.calls)],
    ["Thread", threadLabel(state.trace, task.thread, task.firstNs)],
    ...processFact(state, task.thread),
  ];
}
