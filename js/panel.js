// panel.js: what the text views share: the element helpers (an element, a text box, a flame
// graph's breadcrumb), a call's facts (file, thread, start, duration, self, children, notes) and
// their definition list, as shown by the tooltip and the details panel. Layer 4 (DOM, text only:
// every string from a trace goes through textContent).

import { threadNameAt } from "./layout.js";
import { processLabel, threadProcess } from "./lanes.js";
import { formatDuration, formatCount, formatTimeAt, shortPath } from "./units.js";

/** A new element of `doc`: `<tag class=cls>text</tag>` (class and text optional). */
export function makeEl(doc, tag, cls, text) {
  const e = doc.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

/**
 * A text box of `doc`: `<input class=cls type=type>` with its placeholder, its tooltip (`title`)
 * and its accessible name (`label`), spell checking off (names and durations are not prose).
 */
export function makeTextBox(doc, cls, type, placeholder, title, label) {
  const e = makeEl(doc, "input", cls);
  e.type = type;
  e.placeholder = placeholder;
  e.title = title;
  e.setAttribute("aria-label", label);
  e.spellcheck = false;
  return e;
}

/**
 * A flame graph's breadcrumb (flameview.js, diffview.js): "All" and each step of `path` (its text:
 * `nameOf(step)`), each a button that calls `setFocus` with the path up to it; the last one, where
 * the view is, disabled. Returns the elements, in order.
 */
export function crumbItems(doc, path, nameOf, setFocus) {
  const crumb = (text, to) => {
    const b = makeEl(doc, "button", "fprofile-flame-crumb", text);
    b.type = "button";
    b.disabled = to.length === path.length;
    b.addEventListener("click", () => setFocus(to));
    return b;
  };
  const items = [crumb("All", [])];
  path.forEach((step, d) => items.push(makeEl(doc, "span", "fprofile-muted", " › "), crumb(nameOf(step), path.slice(0, d + 1))));
  return items;
}

/** `dl.fprofile-facts` of [label, value] pairs. */
export function factList(doc, facts) {
  const dl = makeEl(doc, "dl", "fprofile-facts");
  for (const [k, v] of facts) dl.append(makeEl(doc, "dt", null, k), makeEl(doc, "dd", null, v));
  return dl;
}

/** Thread `t` as text: its name (at `atNs` when given: threads can be renamed) and its tid. */
export function threadLabel(trace, t, atNs) {
  const th = trace.threads[t];
  const name = atNs === undefined ? th.name : threadNameAt(th, atNs);
  return th.osId ? `${name} (tid ${th.osId})` : name;
}

/**
 * Trace time `t` as shown on the axes: from the display origin, precise to a thousandth of the
 * zoomed window (like the window label) or to a tenth of `span_ns` when that is finer.
 */
export function timeText(state, vp, t, span_ns) {
  const res = Math.max(1, Math.min((vp.win[1] - vp.win[0]) / 1000, span_ns / 10));
  return formatTimeAt(t - state.origin, res);
}

/** The facts of call `c`, as [label, value] pairs. */
export function callFacts(state, vp, c) {
  const { calls, codes } = state.trace;
  const code = calls.code[c];
  const facts = [
    ["File", `${shortPath(codes.file[code], state.roots || [])}:${codes.line[code]}`],
    ["Thread", threadLabel(state.trace, calls.thread[c], calls.start[c])],
    ...processFact(state, calls.thread[c]),
    ["Start", timeText(state, vp, calls.start[c], calls.end[c] - calls.start[c])],
    ["Duration", formatDuration(calls.end[c] - calls.start[c])],
  ];
  // a windowed trace (windowreply.js) holds the window's calls only: no self time or child count
  if (!calls.runs) facts.push(["Self", formatDuration(state.index.selfNs[c])], ["Children", formatCount(state.index.childCount[c])]);
  const f = calls.flags[c];
  if (f & 1) facts.push(["Note", "unfinished: still running when recording stopped"]);
  if (f & 2) facts.push(["Note", "started before the recording"]);
  return facts;
}

/** Is item `c` of a windowed trace a run of calls narrower than a pixel (windowreply.js)? */
export function isRun(trace, c) {
  return !!trace.calls.runs && trace.calls.runs[c] !== 1;
}

/** The facts of run `c` of a windowed trace: how many calls, of which function(s), where; zoom in to see them. */
export function runFacts(state, vp, c) {
  const { calls, codes } = state.trace;
  const mixed = (calls.flags[c] & 8) !== 0;
  const span = calls.end[c] - calls.start[c];
  return [
    ["Calls", `${formatCount(calls.runs[c])}, each narrower than a pixel: zoom in to see them`],
    [mixed ? "Functions" : "Function", mixed ? `several (the longest sampled: ${codes.name[calls.code[c]]})` : codes.name[calls.code[c]]],
    ["Thread", threadLabel(state.trace, calls.thread[c], calls.start[c])],
    ...processFact(state, calls.thread[c]),
    ["From", timeText(state, vp, calls.start[c], span)],
    ["Span", formatDuration(span)],
    ["Depth", String(calls.depth[c])],
  ];
}

/** [["Process", its label]] for thread `t` of a trace of more than one process, else []. */
export function processFact(state, t) {
  const { processes } = state;
  if (processes.length < 2) return [];
  return [["Process", processLabel(processes[threadProcess(state.trace.threads[t], processes.length)])]];
}

/** A signed duration: "+1.5 s", "-20 µs", "0 ns". */
export function signedDuration(ns) {
  return ns > 0 ? `+${formatDuration(ns)}` : formatDuration(ns);
}

/** The facts of process `p`: pid and parent, host, span, exit status, clock, threads, calls, notes. */
export function processFacts(state, vp, p) {
  const proc = state.processes[p];
  const threads = state.processThreads[p];
  let calls = 0;
  for (const t of threads) calls += state.trace.threads[t].callEnd - state.trace.threads[t].callStart;
  const span = proc.endNs - proc.startNs;
  const exit = proc.exitStatus === null || proc.exitStatus === undefined ? "unknown"
    : proc.exitStatus < 0 ? `killed by signal ${-proc.exitStatus}` : String(proc.exitStatus);
  const facts = [
    ["Process", `pid ${proc.pid || "unknown"}${proc.parentPid ? `, parent pid ${proc.parentPid}` : ""}`],
    ["Host", proc.host || "unknown"],
    ["Start", timeText(state, vp, proc.startNs, span)],
    ["End", timeText(state, vp, proc.endNs, span)],
    ["Duration", formatDuration(span)],
    ["Exit status", exit],
    ["Clock offset", `${signedDuration(proc.clockOffsetNs || 0)} ± ${formatDuration(proc.clockUncertaintyNs || 0)}`],
  ];
  if (proc.aligned === false) facts.push(["Clock", "on its own clock, not aligned: its times are not comparable with the other processes'"]);
  facts.push(["Threads", formatCount(threads.length)], ["Calls", formatCount(calls)]);
  if (proc.incomplete) facts.push(["Note", "incomplete: killed or still running when the recording stopped; only what it had written out is here"]);
  return facts;
}

/** The facts of band `b` (a task a thread ran): thread, process, start, duration. */
export function bandFacts(state, vp, b) {
  const { bands } = state;
  const dur = bands.end[b] - bands.start[b];
  return [
    ["Task", bands.label[b]],
    ["Thread", threadLabel(state.trace, bands.thread[b], bands.start[b])],
    ...processFact(state, bands.thread[b]),
    ["Start", timeText(state, vp, bands.start[b], dur)],
    ["Duration", formatDuration(dur)],
  ];
}
