// lanes.js: the vertical layout shared by the zoomed view and the overview. Threads are grouped
// by process: with more than one process each group starts with a header row, and a collapsed
// process is one compact summary lane (the calls of its first depths, all its threads drawn over
// each other); inside an expanded process, threads share lanes by PYME's rule (the lane numbers of
// the trace). A thread with task bands (Dask tasks) gets band rows between its lane header and its
// calls; a lane without bands takes no extra space. Also: the band index (bands that overlap on
// one thread go to separate rows), hit testing of content y, and the overview's rows.
// Layer 2: pure (no DOM), tested in node (tests/js/lanes.test.mjs).

import { clampBands, outerCalls } from "./bandclamp.js";

/** The processes of a decoded trace: its table, or one unnamed process when it has none. */
export function traceProcesses(trace) {
  const p = trace.processes;
  if (Array.isArray(p) && p.length > 0) return p;
  return [{
    index: 0, pid: 0, parentPid: 0, name: "", host: "", startNs: trace.startNs, endNs: trace.endNs, exitStatus: null,
    clockOffsetNs: 0, clockUncertaintyNs: 0, aligned: true, incomplete: false,
  }];
}

/** The process index of thread `th` among `count` processes (0 when it names none or one out of range). */
export function threadProcess(th, count) {
  const p = th.process;
  return Number.isInteger(p) && p >= 0 && p < count ? p : 0;
}

/**
 * The task name of a band label, for its colour: Dask keys "name-<hash>" and "('name-<hash>', 3)"
 * give "name" (every task of one kind gets one colour); any other label is itself.
 */
export function taskPrefix(label) {
  let s = String(label);
  const m = /^\(\s*['"]([^'"]*)['"]/.exec(s);
  if (m) s = m[1];
  const h = /^(.+?)-[0-9a-f]{8,}$/i.exec(s);
  return h ? h[1] : s;
}

/**
 * The bands of a decoded trace (`trace.bands`: [{ thread, startNs, endNs, label }]) as columns
 * and rows: threadRows[t] is a list of rows, each an Int32Array of band indices in start order
 * whose spans do not overlap (a band that overlaps an earlier one of its thread goes to the next
 * row: usually one row per thread), so a row is searched and drawn like a row of calls
 * (layout.js forEachBox). Consecutive bands of a thread that overlap a little (the scheduler's
 * clock estimate) are first cut end to end (bandclamp.js clampBands: the index's times, not the
 * trace's). `key[i]` numbers the band's task name (taskPrefix), `keys` lists them.
 * Bands naming no thread of the trace, or ending before they start, are left out.
 */
export function buildBandIndex(trace) {
  const given = Array.isArray(trace.bands) ? trace.bands : [];
  const nThreads = trace.threads.length;
  const byStart = (a, b) => a.thread - b.thread || a.startNs - b.startNs || a.endNs - b.endNs;
  const src = [];
  for (const b of given) {
    if (Number.isInteger(b.thread) && b.thread >= 0 && b.thread < nThreads && b.endNs >= b.startNs) {
      src.push({ thread: b.thread, startNs: b.startNs, endNs: b.endNs, label: b.label });
    }
  }
  src.sort(byStart);
  for (let i = 0; i < src.length;) {
    let j = i;
    while (j < src.length && src[j].thread === src[i].thread) j++;
    const t = src[i].thread;
    if (j - i > 1 && clampBands(src.slice(i, j), () => outerCalls(trace, t)) > 0) {
      const sorted = src.slice(i, j).sort(byStart);
      for (let k = i; k < j; k++) src[k] = sorted[k - i];
    }
    i = j;
  }
  const order = src.map((_, i) => i);
  const n = order.length;
  const start = new Float64Array(n);
  const end = new Float64Array(n);
  const thread = new Int32Array(n);
  const key = new Int32Array(n);
  const label = new Array(n);
  const keys = [];
  const keyOf = new Map();
  const rows = trace.threads.map(() => []);
  const rowEnds = trace.threads.map(() => []);
  for (let i = 0; i < n; i++) {
    const b = src[order[i]];
    start[i] = b.startNs;
    end[i] = b.endNs;
    thread[i] = b.thread;
    label[i] = String(b.label);
    const prefix = taskPrefix(label[i]);
    let k = keyOf.get(prefix);
    if (k === undefined) { k = keys.length; keys.push(prefix); keyOf.set(prefix, k); }
    key[i] = k;
    const ends = rowEnds[b.thread];
    let r = 0;
    while (r < ends.length && ends[r] > b.startNs) r++;
    if (r === ends.length) { ends.push(0); rows[b.thread].push([]); }
    rows[b.thread][r].push(i);
    ends[r] = b.endNs;
  }
  const threadRows = rows.map((rs) => rs.map((r) => Int32Array.from(r)));
  return { count: n, start, end, thread, key, label, keys, threadRows };
}

/**
 * The lanes of the zoomed view (content y from 0).
 * processes: traceProcesses(trace); visible: per thread 1 when shown; collapsed: per process 1
 * when collapsed; bandRows: per thread its number of band rows; dims: { rowPx, headerPx, gapPx,
 * procHeaderPx, bandPx, summaryRowPx, summaryDepths }.
 * Returns { multi, groups: [{ process, top, headerPx, collapsed, lanes, height (its header row
 * included) }], lanes, height }
 * where each lane is { kind: "threads" | "summary", process, lane, threads, top, headerPx,
 * bandRows, bandPx, callsTop, rows, rowPx, height }: its thread header strip is [top, top +
 * headerPx), its band rows follow (bandRows of bandPx), its call rows start at top + callsTop
 * (rows of rowPx). A one-process trace has no header rows and no summary lanes.
 */
export function layoutGroups(trace, processes, visible, collapsed, bandRows, dims) {
  const multi = processes.length > 1;
  const byProcess = processes.map(() => []);
  for (const th of trace.threads) {
    if (visible[th.index]) byProcess[threadProcess(th, processes.length)].push(th.index);
  }
  const groups = [];
  const lanes = [];
  let y = 0;
  for (let p = 0; p < processes.length; p++) {
    const threads = byProcess[p];
    if (threads.length === 0) continue;
    const g = { process: p, top: y, headerPx: multi ? dims.procHeaderPx : 0, collapsed: multi && !!collapsed[p], lanes: [], height: 0 };
    y += g.headerPx;
    const members = [];
    if (g.collapsed) {
      let depths = 1;
      for (const t of threads) depths = Math.max(depths, trace.threads[t].maxDepth + 1);
      const rows = Math.min(dims.summaryDepths, depths);
      members.push({
        kind: "summary", process: p, lane: -1, threads, top: 0, headerPx: 0, bandRows: 0, bandPx: dims.bandPx,
        callsTop: 0, rows, rowPx: dims.summaryRowPx, height: rows * dims.summaryRowPx,
      });
    } else {
      // threads share a lane when the trace's lane numbers say so (PYME's rule: they do not run at
      // once) and their names differ only by numbers (`Thread-12`, `Thread-13`): a lane never
      // joins the labels of unrelated threads (`loader_0`, then `writer`)
      const byLane = new Map();
      for (const t of threads) {
        const th = trace.threads[t];
        const key = `${th.lane}\u0000${namePattern(th.name)}`;
        let l = byLane.get(key);
        if (!l) {
          l = { kind: "threads", process: p, lane: th.lane, threads: [], top: 0, headerPx: dims.headerPx, bandRows: 0, bandPx: dims.bandPx,
            callsTop: 0, rows: 0, rowPx: dims.rowPx, height: 0 };
          byLane.set(key, l);
        }
        l.threads.push(t);
        l.rows = Math.max(l.rows, th.maxDepth + 1);
        l.bandRows = Math.max(l.bandRows, bandRows[t] || 0);
      }
      for (const l of [...byLane.values()].sort((a, b) => a.lane - b.lane || a.threads[0] - b.threads[0])) {
        l.callsTop = l.headerPx + l.bandRows * l.bandPx;
        l.height = l.callsTop + l.rows * l.rowPx;
        members.push(l);
      }
    }
    for (const l of members) {
      l.top = y;
      y += l.height + dims.gapPx;
      g.lanes.push(l);
      lanes.push(l);
    }
    g.height = y - dims.gapPx - g.top;
    groups.push(g);
  }
  return { multi, groups, lanes, height: Math.max(0, y - dims.gapPx) };
}

/**
 * What is at content y `cy`: { kind: "process", group } (a process header row), { kind: "thread",
 * lane } (a lane's thread header), { kind: "band", lane, row }, { kind: "calls", lane, depth }
 * (a row of calls; in a summary lane too), { kind: "task", lane } (a task lane's header:
 * tasklaneview.js), or null (a gap, or below the lanes).
 */
export function hitLayout(layout, cy) {
  for (const g of layout.groups) {
    if (cy < g.top) break;
    if (cy >= g.top + g.height) continue;
    if (cy < g.top + g.headerPx) return { kind: "process", group: g };
    for (const lane of g.lanes) {
      if (cy < lane.top || cy >= lane.top + lane.height) continue;
      const y = cy - lane.top;
      if (y < lane.headerPx) return { kind: lane.kind === "task" ? "task" : "thread", lane };
      if (y < lane.callsTop) return { kind: "band", lane, row: Math.floor((y - lane.headerPx) / lane.bandPx) };
      return { kind: "calls", lane, depth: Math.floor((y - lane.callsTop) / lane.rowPx) };
    }
  }
  return null;
}

/** The lane showing thread `t` (its process's summary lane when collapsed), or null when hidden. */
export function laneOfThread(layout, t) {
  for (const lane of layout.lanes) if (lane.threads.includes(t)) return lane;
  return null;
}

/**
 * The overview's rows: one band of lanePx per lane (8 to 24 px, as many as fit `maxPx` under the
 * axis) and, with more than one process, a header strip of procPx above each process's lanes.
 * Returns { lanePx, procPx, height, laneY: [y per lane of layout.lanes], groupY: [y per group] }.
 */
export function overviewRows(layout, axisPx, maxPx, procPx) {
  const nLanes = Math.max(1, layout.lanes.length);
  const heads = layout.multi ? layout.groups.length * procPx : 0;
  const lanePx = Math.max(8, Math.min(24, Math.floor((maxPx - axisPx - 4 - heads) / nLanes)));
  const laneY = [];
  const groupY = [];
  let y = axisPx;
  for (const g of layout.groups) {
    groupY.push(y);
    if (layout.multi) y += procPx;
    for (let i = 0; i < g.lanes.length; i++) {
      laneY.push(y);
      y += lanePx;
    }
  }
  if (layout.lanes.length === 0) y += lanePx;
  return { lanePx, procPx: layout.multi ? procPx : 0, height: y + 4, laneY, groupY };
}

/** A process as one line of text: "name (pid 12) on host" (the parts it has). */
export function processLabel(proc) {
  const name = proc.name || "process";
  const pid = proc.pid ? ` (pid ${proc.pid})` : "";
  const host = proc.host ? ` on ${proc.host}` : "";
  return `${name}${pid}${host}`;
}

/**
 * The zoomed view's lanes for one window: `layout` (layoutGroups) with each thread lane cut to the
 * rows that have something in the window and the lanes that have nothing there left out, the
 * others moved up, so zooming into a moment shows the threads busy then, one under the other.
 * `rowsIn(lane)`: how many of the lane's call rows (depths from 0) have a call in the window, or
 * -1 when neither a call nor a band of it is there. Empty lanes collapse to nothing, not to a thin
 * line: with hundreds of threads even 2 px each would push the busy ones apart again; every lane
 * stays in the overview and in the thread list, in the same order. Summary lanes (collapsed
 * processes) and process header rows stay as they are. Returns the shape of layoutGroups plus
 * `idle`: the number of thread lanes left out.
 */
export function windowLayout(layout, rowsIn, gapPx) {
  const groups = [];
  const lanes = [];
  let idle = 0;
  let y = 0;
  for (const g of layout.groups) {
    const kept = [];
    for (const l of g.lanes) {
      if (l.kind === "summary") {
        kept.push({ ...l });
        continue;
      }
      const r = rowsIn(l);
      if (r < 0) {
        idle++;
        continue;
      }
      const rows = Math.min(l.rows, r);
      kept.push({ ...l, rows, height: l.callsTop + rows * l.rowPx });
    }
    if (kept.length === 0 && g.headerPx === 0) continue;
    const ng = { ...g, top: y, lanes: [], height: 0 };
    y += g.headerPx;
    for (const l of kept) {
      l.top = y;
      y += l.height + gapPx;
      ng.lanes.push(l);
      lanes.push(l);
    }
    if (kept.length === 0) y += gapPx;
    ng.height = y - gapPx - ng.top;
    groups.push(ng);
  }
  return { multi: layout.multi, groups, lanes, height: Math.max(0, y - gapPx), idle };
}

/** The pattern of a thread name: its runs of digits as "#" (`Thread-12 (process_request_thread)` -> `Thread-# (process_request_thread)`). */
export function namePattern(name) {
  return String(name).replace(/[0-9]+/g, "#");
}

/**
 * The name of a group of threads of name pattern `pattern` (namePattern): the part their names
 * share, the numbers and the separators around them dropped (`#-Dask-Default-Threads-#-#` ->
 * `Dask-Default-Threads`, `Thread-# (process_request_thread)` -> `Thread (process_request_thread)`);
 * the pattern itself when nothing else is left.
 */
export function groupName(pattern) {
  const s = String(pattern).replace(/[-_.:,\s]*#(?:[-_.:,\s]*#)*[-_.:,]*/g, " ").replace(/\s+/g, " ").trim();
  return s || String(pattern);
}

/**
 * Threads `indices` (of `threads`, decoded) grouped by name pattern (namePattern of their last
 * name): names that differ only by numbers form one group. Returns [{ pattern, threads }] in the
 * order of each group's first thread; a thread alone in its pattern is a group of one.
 */
export function nameGroups(threads, indices) {
  const byPattern = new Map();
  const out = [];
  for (const t of indices) {
    const pattern = namePattern(threads[t].name);
    let g = byPattern.get(pattern);
    if (!g) {
      g = { pattern, threads: [] };
      byPattern.set(pattern, g);
      out.push(g);
    }
    g.threads.push(t);
  }
  return out;
}

/**
 * Does thread `th` (decoded) match the thread list's filter `q`, ignoring case ("" matches all):
 * one of its names contains it, or its tid is it, or (given `proc`, its process) the process's
 * name or host contains it or its pid is it (`Spawn` finds the threads of SpawnProcess-1)?
 */
export function threadMatches(th, q, proc) {
  const needle = String(q).trim().toLowerCase();
  if (!needle) return true;
  if (th.names.some((n) => n.name.toLowerCase().includes(needle))) return true;
  if (th.osId && String(th.osId) === needle) return true;
  if (!proc) return false;
  return String(proc.name || "").toLowerCase().includes(needle) || String(proc.host || "").toLowerCase().includes(needle) ||
    (!!proc.pid && (String(proc.pid) === needle || `pid ${proc.pid}` === needle));
}
