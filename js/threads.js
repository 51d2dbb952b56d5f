// threads.js: the thread list (`.fprofile-threads`): one checkbox per thread (data-thread = its
// index) with its colour, name, calls and duration; unchecking hides the thread's lane. With more
// than one process the threads are grouped under their process: a checkbox per process
// (data-process = its index; indeterminate when only some of its threads are shown) shows or hides
// all its threads at once, and a button collapses or expands its lanes. Layer 4 (DOM, text only).

import { makeEl } from "./panel.js";
import { processLabel } from "./lanes.js";
import { threadColour } from "./render.js";
import { formatDuration, formatCount } from "./units.js";

/**
 * tl: { doc, state, selectCall(c), relayout(), schedule(), toggleProcess(p) }.
 * Returns { el, build() (for the trace in state), sync() (after visibility or collapse changed
 * elsewhere), clear() }.
 */
export function createThreadList(tl) {
  const { doc, state } = tl;
  const box = makeEl(doc, "div", "fprofile-threads");
  let threadBoxes = [];
  let processRows = []; // per process: { cb, toggle }

  /** Visibility changed: drop a selection that is now hidden, lay out again, redraw. */
  function changed() {
    if (state.selectedCall >= 0 && !state.visible[state.trace.calls.thread[state.selectedCall]]) tl.selectCall(-1);
    tl.relayout();
    sync();
    tl.schedule();
  }

  function threadRow(th, cls) {
    const label = makeEl(doc, "label", cls);
    const cb = makeEl(doc, "input");
    cb.type = "checkbox";
    cb.checked = !!state.visible[th.index];
    cb.dataset.thread = String(th.index);
    cb.addEventListener("change", () => {
      state.visible[th.index] = cb.checked ? 1 : 0;
      changed();
    });
    threadBoxes[th.index] = cb;
    const sw = makeEl(doc, "span", "fprofile-swatch");
    sw.style.background = threadColour(th.index, state.dark);
    const name = makeEl(doc, "span", "fprofile-thread-name", th.name);
    name.title = th.names.map((n) => n.name).join(" → ");
    const stats = `${formatCount(th.callEnd - th.callStart)} call${th.callEnd - th.callStart === 1 ? "" : "s"} · ${formatDuration(th.lastNs - th.firstNs)}`;
    const n = makeEl(doc, "span", "fprofile-muted fprofile-thread-stats", stats);
    label.title = `${th.name}${th.osId ? ` (tid ${th.osId})` : ""}: ${stats}`;
    label.append(cb, sw, name, n);
    return label;
  }

  function processRow(p) {
    const proc = state.processes[p];
    const threads = state.processThreads[p];
    const row = makeEl(doc, "div", "fprofile-process");
    const toggle = makeEl(doc, "button", "fprofile-process-toggle");
    toggle.type = "button";
    toggle.dataset.process = String(p);
    toggle.addEventListener("click", () => tl.toggleProcess(p));
    const label = makeEl(doc, "label", "fprofile-process-label");
    const cb = makeEl(doc, "input");
    cb.type = "checkbox";
    cb.dataset.process = String(p);
    cb.disabled = threads.length === 0;
    cb.addEventListener("change", () => {
      for (const t of threads) state.visible[t] = cb.checked ? 1 : 0;
      changed();
    });
    const name = makeEl(doc, "span", "fprofile-process-name", processLabel(proc));
    let calls = 0;
    for (const t of threads) calls += state.trace.threads[t].callEnd - state.trace.threads[t].callStart;
    const stats = `${threads.length} thread${threads.length === 1 ? "" : "s"} · ${formatCount(calls)} call${calls === 1 ? "" : "s"}` +
      (proc.incomplete ? " · incomplete" : "");
    label.title = `${processLabel(proc)}: ${stats}`;
    label.append(cb, name, makeEl(doc, "span", "fprofile-muted fprofile-thread-stats", stats));
    row.append(toggle, label);
    processRows[p] = { cb, toggle };
    return row;
  }

  function build() {
    const { trace } = state;
    const multi = state.processes.length > 1;
    threadBoxes = [];
    processRows = [];
    const title = makeEl(doc, "div", "fprofile-panel-title",
      `Threads (${trace.threads.length})${multi ? ` in ${state.processes.length} processes` : ""}`);
    const list = makeEl(doc, "div", "fprofile-thread-list");
    if (!multi) {
      for (const th of trace.threads) list.append(threadRow(th, "fprofile-thread"));
    } else {
      for (let p = 0; p < state.processes.length; p++) {
        const group = makeEl(doc, "div", "fprofile-process-group");
        group.append(processRow(p));
        for (const t of state.processThreads[p]) group.append(threadRow(trace.threads[t], "fprofile-thread fprofile-thread-in-process"));
        list.append(group);
      }
    }
    box.replaceChildren(title, list);
    sync();
  }

  /** The checkboxes and collapse buttons as the state says. */
  function sync() {
    for (let t = 0; t < threadBoxes.length; t++) if (threadBoxes[t]) threadBoxes[t].checked = !!state.visible[t];
    for (let p = 0; p < processRows.length; p++) {
      const { cb, toggle } = processRows[p];
      const threads = state.processThreads[p];
      const shown = threads.filter((t) => state.visible[t]).length;
      cb.checked = threads.length > 0 && shown === threads.length;
      cb.indeterminate = shown > 0 && shown < threads.length;
      const collapsed = !!state.collapsed[p];
      toggle.textContent = collapsed ? "▸" : "▾";
      toggle.title = collapsed ? "Expand this process's threads" : "Collapse this process to one summary lane";
      toggle.setAttribute("aria-expanded", String(!collapsed));
      toggle.setAttribute("aria-label", `${collapsed ? "Expand" : "Collapse"} ${processLabel(state.processes[p])}`);
    }
  }

  return {
    el: box,
    build,
    sync,
    clear() {
      threadBoxes = [];
      processRows = [];
      box.replaceChildren();
    },
  };
}
