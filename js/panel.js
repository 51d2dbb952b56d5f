// panel.js: what the text views share: the element helper, a call's facts (file, thread, start,
// duration, self, children, notes) and their definition list, as shown by the tooltip and the
// details panel. Layer 4 (DOM, text only: every string from a trace goes through textContent).

import { threadNameAt } from "./layout.js";
import { formatDuration, formatCount, formatTimeAt } from "./units.js";

/** A new element of `doc`: `<tag class=cls>text</tag>` (class and text optional). */
export function makeEl(doc, tag, cls, text) {
  const e = doc.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
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
    ["File", `${codes.file[code]}:${codes.line[code]}`],
    ["Thread", threadLabel(state.trace, calls.thread[c], calls.start[c])],
    ["Start", timeText(state, vp, calls.start[c], calls.end[c] - calls.start[c])],
    ["Duration", formatDuration(calls.end[c] - calls.start[c])],
    ["Self", formatDuration(state.index.selfNs[c])],
    ["Children", formatCount(state.index.childCount[c])],
  ];
  const f = calls.flags[c];
  if (f & 1) facts.push(["Note", "unfinished: still running when recording stopped"]);
  if (f & 2) facts.push(["Note", "started before the recording"]);
  return facts;
}
