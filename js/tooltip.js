// tooltip.js: the tooltip over the zoomed view (`.fprofile-tooltip`): the facts of the call, the
// task band, the thread header or the process header under the pointer, placed next to it and
// kept inside the view. Layer 4 (DOM, text only).

import { makeEl, factList, callFacts, timeText, processFacts, bandFacts, processFact, isRun, runFacts } from "./panel.js";
import { processLabel } from "./lanes.js";
import { formatDuration, formatCount } from "./units.js";

/**
 * tl: { doc, state, vp }. Returns { el, showCall(c, x, y), showThread(t, x, y), showProcess(p, x, y),
 * showBand(b, x, y), showFacts(title, facts, kind, x, y), hide() }; x and y are zoom x and zoom y
 * of the pointer (or the same over the flame graph, which takes the zoomed view's place).
 */
export function createTooltip(tl) {
  const { doc, state, vp } = tl;
  const tooltip = makeEl(doc, "div", "fprofile-tooltip");
  tooltip.hidden = true;

  function place(x, y) {
    tooltip.hidden = false;
    const tw = tooltip.offsetWidth;
    const th = tooltip.offsetHeight;
    let left = x + 14;
    let top = y + 14;
    if (left + tw > vp.width) left = Math.max(0, x - tw - 10);
    if (top + th > vp.zoomHeight) top = Math.max(0, y - th - 10);
    tooltip.style.left = `${left}px`;
    tooltip.style.top = `${top}px`;
  }

  /** The facts of call `c` (hidden when c < 0). */
  function showCall(c, x, y) {
    if (c < 0) {
      tooltip.hidden = true;
      return;
    }
    const { trace } = state;
    if (isRun(trace, c)) {
      tooltip.replaceChildren(makeEl(doc, "div", "fprofile-tooltip-title", `${formatCount(trace.calls.runs[c])} calls here`), factList(doc, runFacts(state, vp, c)));
      tooltip.dataset.kind = "run";
      place(x, y);
      return;
    }
    const name = trace.codes.name[trace.calls.code[c]];
    tooltip.replaceChildren(makeEl(doc, "div", "fprofile-tooltip-title", name), factList(doc, callFacts(state, vp, c)));
    tooltip.dataset.kind = "call";
    place(x, y);
  }

  /** The facts of thread `t`: tid, span, duration, calls, lane, names over time. */
  function showThread(t, x, y) {
    const th = state.trace.threads[t];
    const span = th.lastNs - th.firstNs;
    const facts = [
      ["Thread", th.osId ? `tid ${th.osId}` : "tid unknown"],
      ["Span", `${timeText(state, vp, th.firstNs, span)} – ${timeText(state, vp, th.lastNs, span)}`],
      ["Duration", formatDuration(span)],
      ["Calls", formatCount(th.callEnd - th.callStart)],
      ["Lane", String(th.lane)],
      ...processFact(state, t),
    ];
    if (th.names.length > 1) facts.push(["Names", th.names.map((n) => n.name).join(" → ")]);
    tooltip.replaceChildren(makeEl(doc, "div", "fprofile-tooltip-title", th.name), factList(doc, facts));
    tooltip.dataset.kind = "thread";
    place(x, y);
  }

  /** The facts of process `p` (its header row). */
  function showProcess(p, x, y) {
    const title = makeEl(doc, "div", "fprofile-tooltip-title", processLabel(state.processes[p]));
    const hint = makeEl(doc, "div", "fprofile-muted", "click: collapse / expand · double-click: zoom to it · c");
    tooltip.replaceChildren(title, factList(doc, processFacts(state, vp, p)), hint);
    tooltip.dataset.kind = "process";
    place(x, y);
  }

  /** The facts of task band `b`. */
  function showBand(b, x, y) {
    tooltip.replaceChildren(makeEl(doc, "div", "fprofile-tooltip-title", state.bands.label[b]), factList(doc, bandFacts(state, vp, b)));
    tooltip.dataset.kind = "band";
    place(x, y);
  }

  /** Any [label, value] facts under a title (the flame graph's nodes); `kind` goes to data-kind. */
  function showFacts(title, facts, kind, x, y) {
    tooltip.replaceChildren(makeEl(doc, "div", "fprofile-tooltip-title", title), factList(doc, facts));
    tooltip.dataset.kind = kind;
    place(x, y);
  }

  return {
    el: tooltip,
    showFacts,
    showCall,
    showThread,
    showProcess,
    showBand,
    hide() {
      tooltip.hidden = true;
    },
  };
}
