// keepview.js: what the user set on a trace, carried to the next version of the same growing trace
// (a live view reads the file again about once a second: hosts/viewer.js, hosts/widget.js). The
// threads hidden, the processes collapsed, the vertical scroll and the selected call and function
// survive the reload. Threads, processes and calls are matched by what they are (the process's
// pid and host, the thread's OS id and first name; the call's thread, start and function's
// file:line:name), never by index: a reload may number them differently. Pure functions over the
// timeline's state; layer 2 (needs lanes.js only).

import { traceProcesses, threadProcess } from "./lanes.js";

/** A process's identity across reloads. */
const procKey = (p) => `${p.host || ""}\u0000${p.pid || 0}`;
/** A thread's identity across reloads. */
function threadKey(trace, procs, th) {
  const p = procs[threadProcess(th, procs.length)];
  const first = th.names && th.names.length ? th.names[0].name : th.name;
  return `${procKey(p)}\u0000${th.osId}\u0000${first}`;
}
/** A function's identity across reloads. */
function codeKey(codes, c) {
  return codes && c >= 0 && c < codes.count ? `${codes.file[c]}\u0000${codes.line[c]}\u0000${codes.name[c]}` : null;
}

/**
 * What the user set on the trace shown: { hidden: thread keys, collapsed: process keys, scrollY,
 * call: { thread, start, code } | null, code } (null when no trace is shown).
 */
export function captureView(state, scrollY) {
  const { trace } = state;
  if (!trace) return null;
  const procs = traceProcesses(trace);
  const hidden = [];
  for (const th of trace.threads) if (!state.visible[th.index]) hidden.push(threadKey(trace, procs, th));
  const collapsed = [];
  for (let p = 0; p < procs.length; p++) if (state.collapsed[p]) collapsed.push(procKey(procs[p]));
  const c = state.selectedCall;
  const call = c >= 0 && c < trace.calls.count
    ? { thread: threadKey(trace, procs, trace.threads[trace.calls.thread[c]]), start: trace.calls.start[c], code: codeKey(trace.codes, trace.calls.code[c]) }
    : null;
  return { hidden, collapsed, scrollY, call, code: codeKey(trace.codes, state.selectedCode) };
}

/**
 * Apply `saved` (captureView of the previous version) to the state of the trace now installed:
 * sets state.visible and state.collapsed; returns { call, code } (the call and function to
 * select, -1 where gone) and the scroll to restore.
 */
export function restoreView(state, saved) {
  const { trace } = state;
  const none = { call: -1, code: -1, scrollY: 0 };
  if (!trace || !saved) return none;
  const procs = traceProcesses(trace);
  const hidden = new Set(saved.hidden);
  const keys = trace.threads.map((th) => threadKey(trace, procs, th));
  for (const th of trace.threads) if (hidden.has(keys[th.index])) state.visible[th.index] = 0;
  const collapsed = new Set(saved.collapsed);
  for (let p = 0; p < procs.length && p < state.collapsed.length; p++) if (collapsed.has(procKey(procs[p]))) state.collapsed[p] = 1;
  let code = -1;
  if (saved.code !== null) {
    for (let c = 0; c < trace.codes.count; c++) if (codeKey(trace.codes, c) === saved.code) { code = c; break; }
  }
  let call = -1;
  if (saved.call) {
    const { calls } = trace;
    const t = keys.indexOf(saved.call.thread);
    const th = t >= 0 ? trace.threads[t] : null;
    // a thread's calls are the range [callStart, callEnd) of the columns (decode.js)
    const lo = th && Number.isInteger(th.callStart) ? th.callStart : 0;
    const hi = th && Number.isInteger(th.callEnd) ? th.callEnd : calls.count;
    for (let i = lo; th && i < hi; i++) {
      if (calls.thread[i] === t && calls.start[i] === saved.call.start && codeKey(trace.codes, calls.code[i]) === saved.call.code) { call = i; break; }
    }
  }
  return { call, code, scrollY: saved.scrollY || 0 };
}
