// threads.js: the thread list (`.fprofile-threads`): one checkbox per thread (data-thread = its
// index) with its colour, name, calls and duration; unchecking hides the thread's lane. Layer 4
// (DOM, text only).

import { makeEl } from "./panel.js";
import { threadColour } from "./render.js";
import { formatDuration, formatCount } from "./units.js";

/**
 * tl: { doc, state, selectCall(c), relayout(), schedule() }.
 * Returns { el, build() (for the trace in state), clear() }.
 */
export function createThreadList(tl) {
  const { doc, state } = tl;
  const box = makeEl(doc, "div", "fprofile-threads");

  function build() {
    const { trace, visible } = state;
    const title = makeEl(doc, "div", "fprofile-panel-title", `Threads (${trace.threads.length})`);
    const list = makeEl(doc, "div", "fprofile-thread-list");
    for (const th of trace.threads) {
      const label = makeEl(doc, "label", "fprofile-thread");
      const cb = makeEl(doc, "input");
      cb.type = "checkbox";
      cb.checked = !!visible[th.index];
      cb.dataset.thread = String(th.index);
      cb.addEventListener("change", () => {
        state.visible[th.index] = cb.checked ? 1 : 0;
        if (state.selectedCall >= 0 && !state.visible[state.trace.calls.thread[state.selectedCall]]) tl.selectCall(-1);
        tl.relayout();
        tl.schedule();
      });
      const sw = makeEl(doc, "span", "fprofile-swatch");
      sw.style.background = threadColour(th.index, state.dark);
      const name = makeEl(doc, "span", "fprofile-thread-name", th.name);
      name.title = th.names.map((n) => n.name).join(" → ");
      const stats = `${formatCount(th.callEnd - th.callStart)} call${th.callEnd - th.callStart === 1 ? "" : "s"} · ${formatDuration(th.lastNs - th.firstNs)}`;
      const n = makeEl(doc, "span", "fprofile-muted fprofile-thread-stats", stats);
      label.title = `${th.name}${th.osId ? ` (tid ${th.osId})` : ""}: ${stats}`;
      label.append(cb, sw, name, n);
      list.append(label);
    }
    box.replaceChildren(title, list);
  }

  return {
    el: box,
    build,
    clear() {
      box.replaceChildren();
    },
  };
}
