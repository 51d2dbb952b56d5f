// tooltip.js: the tooltip over the zoomed view (`.fprofile-tooltip`): the facts of the call or of
// the thread header under the pointer, placed next to it and kept inside the view. Layer 4 (DOM).

import { makeEl, factList, callFacts, timeText } from "./panel.js";
import { formatDuration, formatCount } from "./units.js";

/**
 * tl: { doc, state, vp }. Returns { el, showCall(c, x, y), showThread(t, x, y), hide() }; x and y
 * are zoom x and zoom y of the pointer.
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
    const name = trace.codes.name[trace.calls.code[c]];
    tooltip.replaceChildren(makeEl(doc, "div", "fprofile-tooltip-title", name), factList(doc, callFacts(state, vp, c)));
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
    ];
    if (th.names.length > 1) facts.push(["Names", th.names.map((n) => n.name).join(" → ")]);
    tooltip.replaceChildren(makeEl(doc, "div", "fprofile-tooltip-title", th.name), factList(doc, facts));
    place(x, y);
  }

  return {
    el: tooltip,
    showCall,
    showThread,
    hide() {
      tooltip.hidden = true;
    },
  };
}
