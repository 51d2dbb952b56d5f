// threads.js: the thread list (`.fprofile-threads`): one checkbox per thread (data-thread = its
// index) with its colour, name, calls and duration; unchecking hides the thread's lane, a click on
// the name (a button) brings the thread into the zoomed view (actions.js revealThread). With more
// than one process the threads are grouped under their process: a checkbox per process
// (data-process = its index; indeterminate when only some of its threads are shown) shows or hides
// all its threads at once, and a button collapses or expands its lanes. Inside a process, threads
// whose names differ only by numbers (lanes.js nameGroups: `Thread-12 (process_request_thread)`)
// form a name group, named by the part their names share (lanes.js groupName:
// `Dask-Default-Threads`) with how many threads it has: one checkbox (data-name-group) shows or hides them all, a button opens or
// closes its list (closed at first when it has more than NAME_GROUP_OPEN_MAX threads). A filter
// box (`input.fprofile-thread-filter`) narrows the list to the threads one of whose names, or
// their process's name or host, contains its text, ignoring case, or whose tid or pid it is
// (lanes.js threadMatches); the groups with matches open. Names wrap and the figures stay whole
// (nothing cut at any panel width). Layer 4 (DOM,
// text only).

import { makeEl, makeTextBox } from "./panel.js";
import { processLabel, nameGroups, threadMatches, groupName, threadProcess } from "./lanes.js";
import { threadColour } from "./render.js";
import { formatDuration, formatCount } from "./units.js";

/** A name group with more threads than this starts closed. */
const NAME_GROUP_OPEN_MAX = 8;

/**
 * tl: { doc, state, selectCall(c), relayout(), schedule(), toggleProcess(p), revealThread(t) }.
 * Returns { el, build() (for the trace in state), sync() (after visibility or collapse changed
 * elsewhere), clear() }.
 */
export function createThreadList(tl) {
  const { doc, state } = tl;
  const box = makeEl(doc, "div", "fprofile-threads");
  let threadBoxes = [];
  let threadRows = []; // per thread: its row (label)
  let processRows = []; // per process: { cb, toggle }
  let processGroupEls = []; // per process (more than one): { group, threads }
  let nameGroupEls = []; // per name group: { g, block, cb, toggle, members, open }
  const filter = makeTextBox(doc, "fprofile-thread-filter", "search", "Filter threads…",
    "Show only the threads whose name, or whose process's name or host, contains this text (any case), or whose tid or pid it is",
    "Filter threads by name, process, pid or host");
  filter.addEventListener("input", () => applyFilter());
  filter.addEventListener("keydown", (e) => {
    if (e.key === "Escape") {
      filter.value = "";
      applyFilter();
    }
    e.stopPropagation();
  });
  const list = makeEl(doc, "div", "fprofile-thread-list");
  const empty = makeEl(doc, "div", "fprofile-muted fprofile-thread-none", "No thread, process or host name contains this text.");

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
    // A button inside the label: clicking it does not toggle the checkbox.
    const name = makeEl(doc, "button", "fprofile-thread-name", th.name);
    name.type = "button";
    name.dataset.thread = String(th.index);
    name.title = `${th.names.map((n) => n.name).join(" → ")}: click to bring it into the zoomed view`;
    name.addEventListener("click", () => tl.revealThread(th.index));
    const stats = `${formatCount(th.callEnd - th.callStart)} call${th.callEnd - th.callStart === 1 ? "" : "s"} · ${formatDuration(th.lastNs - th.firstNs)}`;
    const n = makeEl(doc, "span", "fprofile-muted fprofile-thread-stats", stats);
    label.title = `${th.name}${th.osId ? ` (tid ${th.osId})` : ""}: ${stats}`;
    label.append(cb, sw, textBlock(name, n));
    threadRows[th.index] = label;
    return label;
  }

  /** A name and its figures as one block of text: the name wraps, the figures stay whole (on the next line when they do not fit). */
  function textBlock(name, stats) {
    const t = makeEl(doc, "span", "fprofile-row-text");
    t.append(name, doc.createTextNode(" "), stats);
    return t;
  }

  /** Calls of threads `ts`. */
  function callsOf(ts) {
    let calls = 0;
    for (const t of ts) calls += state.trace.threads[t].callEnd - state.trace.threads[t].callStart;
    return calls;
  }

  /** A name group of more than one thread: its row (open button, checkbox, pattern, figures) and its threads' rows. */
  function nameGroupBlock(g, cls) {
    const gi = nameGroupEls.length;
    const block = makeEl(doc, "div", "fprofile-name-group");
    block.dataset.pattern = g.pattern;
    const row = makeEl(doc, "div", "fprofile-name-group-row");
    const toggle = makeEl(doc, "button", "fprofile-name-group-toggle");
    toggle.type = "button";
    toggle.dataset.nameGroup = String(gi);
    const label = makeEl(doc, "label", "fprofile-name-group-label");
    const cb = makeEl(doc, "input");
    cb.type = "checkbox";
    cb.dataset.nameGroup = String(gi);
    cb.addEventListener("change", () => {
      for (const t of g.threads) state.visible[t] = cb.checked ? 1 : 0;
      changed();
    });
    const calls = callsOf(g.threads);
    const stats = `${formatCount(calls)} call${calls === 1 ? "" : "s"}`;
    const named = `${groupName(g.pattern)} (${formatCount(g.threads.length)})`;
    label.title = `${formatCount(g.threads.length)} threads named ${g.pattern} (# stands for any number): ${stats}`;
    label.append(cb, textBlock(makeEl(doc, "span", "fprofile-name-group-name", named), makeEl(doc, "span", "fprofile-muted fprofile-thread-stats", stats)));
    row.append(toggle, label);
    const members = makeEl(doc, "div", "fprofile-name-group-members");
    for (const t of g.threads) members.append(threadRow(state.trace.threads[t], `${cls} fprofile-thread-in-group`));
    block.append(row, members);
    const entry = { g, block, cb, toggle, members, open: g.threads.length <= NAME_GROUP_OPEN_MAX };
    toggle.addEventListener("click", () => {
      entry.open = !entry.open;
      applyFilter();
    });
    nameGroupEls.push(entry);
    return block;
  }

  /** The rows of threads `indices` (one process's), name groups first where their first thread is. */
  function appendThreads(parent, indices, cls) {
    for (const g of nameGroups(state.trace.threads, indices)) {
      if (g.threads.length === 1) parent.append(threadRow(state.trace.threads[g.threads[0]], cls));
      else parent.append(nameGroupBlock(g, cls));
    }
  }

  /** Show the rows of the threads matching the filter; open the name groups that have some (all of them, as chosen, without a filter). */
  function applyFilter() {
    const q = filter.value;
    const { threads } = state.trace;
    let shown = 0;
    for (let t = 0; t < threadRows.length; t++) {
      const row = threadRows[t];
      if (!row) continue;
      row.hidden = !threadMatches(threads[t], q, state.processes[threadProcess(threads[t], state.processes.length)]);
      if (!row.hidden) shown++;
    }
    const filtering = q.trim() !== "";
    for (const e of nameGroupEls) {
      const matches = e.g.threads.filter((t) => !threadRows[t].hidden).length;
      e.block.hidden = matches === 0;
      const open = filtering || e.open;
      e.members.hidden = !open;
      e.toggle.textContent = open ? "▾" : "▸";
      e.toggle.disabled = filtering;
      e.toggle.setAttribute("aria-expanded", String(open));
      e.toggle.setAttribute("aria-label", `${open ? "Close" : "Open"} the list of the ${e.g.threads.length} threads named ${e.g.pattern}`);
    }
    for (const { group, threads: ts } of processGroupEls) group.hidden = filtering && !ts.some((t) => !threadRows[t].hidden);
    empty.hidden = shown > 0;
    list.dataset.shown = String(shown);
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
    const calls = callsOf(threads);
    const stats = `${threads.length} thread${threads.length === 1 ? "" : "s"} · ${formatCount(calls)} call${calls === 1 ? "" : "s"}` +
      (proc.incomplete ? " · incomplete" : "");
    label.title = `${processLabel(proc)}: ${stats}`;
    label.append(cb, textBlock(name, makeEl(doc, "span", "fprofile-muted fprofile-thread-stats", stats)));
    row.append(toggle, label);
    processRows[p] = { cb, toggle };
    return row;
  }

  function build() {
    const { trace } = state;
    const multi = state.processes.length > 1;
    threadBoxes = [];
    threadRows = [];
    processRows = [];
    processGroupEls = [];
    nameGroupEls = [];
    const title = makeEl(doc, "div", "fprofile-panel-title",
      `Threads (${trace.threads.length})${multi ? ` in ${state.processes.length} processes` : ""}`);
    list.replaceChildren();
    if (!multi) {
      appendThreads(list, trace.threads.map((th) => th.index), "fprofile-thread");
    } else {
      for (let p = 0; p < state.processes.length; p++) {
        const group = makeEl(doc, "div", "fprofile-process-group");
        group.append(processRow(p));
        appendThreads(group, state.processThreads[p], "fprofile-thread fprofile-thread-in-process");
        list.append(group);
        processGroupEls.push({ group, threads: state.processThreads[p] });
      }
    }
    box.replaceChildren(title, filter, list, empty);
    applyFilter();
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
    for (const { g, cb } of nameGroupEls) {
      const shown = g.threads.filter((t) => state.visible[t]).length;
      cb.checked = shown === g.threads.length;
      cb.indeterminate = shown > 0 && shown < g.threads.length;
    }
  }

  return {
    el: box,
    build,
    sync,
    clear() {
      threadBoxes = [];
      threadRows = [];
      processRows = [];
      processGroupEls = [];
      nameGroupEls = [];
      filter.value = "";
      box.replaceChildren();
    },
  };
}
