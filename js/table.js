// table.js: the summary table (rows of the Rust summary JSON), sortable by column, of the whole
// trace, one process (its "processes" entries, when the trace has more than one) or one thread.
// Layer 4 (a view): DOM only, text only (every string from the trace goes through textContent).

import { formatDuration, formatCount } from "./units.js";
import { processLabel } from "./lanes.js";
import { scopeWords } from "./summaryscope.js";

const SUMMARY_COLUMNS = [
  { key: "function", label: "Function", numeric: false },
  { key: "file", label: "File:line", numeric: false },
  { key: "calls", label: "Calls", numeric: true },
  { key: "total_ns", label: "Total", numeric: true,
    title: "Time inside the function, summed over threads: with threads running at once it can exceed the length of the run. A recursive function counts once per outermost call." },
  { key: "self_ns", label: "Self", numeric: true,
    title: "Total minus the time in the recorded functions it called: time in code that was not recorded (libraries outside subs, C functions) counts as self time." },
  { key: "mean_ns", label: "Mean", numeric: true, title: "Mean duration of one call." },
  { key: "max_ns", label: "Max", numeric: true, title: "Longest single call." },
];
const SUMMARY_MAX_ROWS = 500;

/**
 * A summary panel: a process selector (`select.fprofile-summary-process`, shown when the summary
 * has more than one process), a thread selector (the threads of the chosen process), a task
 * selector (`select.fprofile-summary-task`, shown when the summary has `tasks`: one task's rows,
 * tasklanes.js withTasks) and `table.fprofile-summary`.
 * opts: { colourOf(code) -> css colour, onPick(code), onMenu(code, event) (a row's context menu:
 * the timeline shows the hide buttons there), fileText(file) -> the file as shown (units.js
 * shortPath with the trace's roots; the full name stays in the cell's tooltip) }.
 * Returns { el, setSummary(summary, processes), setSelected(code) }; `processes` (lanes.js
 * traceProcesses) adds their hosts to the process names.
 */
export function createSummaryTable(doc, opts) {
  const el = doc.createElement("div");
  el.className = "fprofile-summary-wrap";
  const head = doc.createElement("div");
  head.className = "fprofile-summary-head";
  const title = doc.createElement("span");
  title.className = "fprofile-summary-title";
  title.textContent = "Summary";
  const selector = (cls, label) => {
    const s = doc.createElement("select");
    s.className = cls;
    s.setAttribute("aria-label", label);
    return s;
  };
  const procSelect = selector("fprofile-summary-process", "Summary of the process");
  procSelect.hidden = true;
  const select = selector("fprofile-summary-thread", "Summary of");
  // the tasks of the trace's bands (summary.tasks, tasklanes.js withTasks): one task's rows
  const taskSelect = selector("fprofile-summary-task", "Summary of the task");
  taskSelect.hidden = true;
  const note = doc.createElement("span");
  note.className = "fprofile-summary-note";
  const scopeNote = doc.createElement("span");
  scopeNote.className = "fprofile-summary-scope fprofile-muted";
  head.append(title, procSelect, select, taskSelect, note, scopeNote);
  const scroller = doc.createElement("div");
  scroller.className = "fprofile-summary-scroll";
  const table = doc.createElement("table");
  table.className = "fprofile-summary";
  const thead = doc.createElement("thead");
  const tbody = doc.createElement("tbody");
  const hr = doc.createElement("tr");
  table.append(thead, tbody);
  thead.append(hr);
  scroller.append(table);
  el.append(head, scroller);

  let summary = null;
  let scope = { hidden: 0, total: 0, windowed: false, visible: null };
  let sortKey = "total_ns";
  let sortDesc = true;
  let selectedCode = -1;
  const ths = [];
  for (const col of SUMMARY_COLUMNS) {
    const th = doc.createElement("th");
    th.textContent = col.label;
    if (col.title) th.title = col.title;
    th.dataset.key = col.key;
    th.scope = "col";
    th.tabIndex = 0;
    if (col.numeric) th.className = "fprofile-num";
    const activate = () => {
      if (sortKey === col.key) sortDesc = !sortDesc;
      else { sortKey = col.key; sortDesc = col.numeric; }
      renderRows();
    };
    th.addEventListener("click", activate);
    th.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); activate(); } });
    hr.append(th);
    ths.push(th);
  }
  select.addEventListener("change", renderRows);
  taskSelect.addEventListener("change", () => {
    select.disabled = procSelect.disabled = taskSelect.value !== "all";
    renderRows();
  });
  procSelect.addEventListener("change", () => {
    fillThreads();
    renderRows();
  });

  /** The summary's "processes" entries, when it has more than one. */
  function processEntries() {
    const ps = summary && Array.isArray(summary.processes) ? summary.processes : [];
    return ps.length > 1 ? ps : [];
  }
  /** Is thread `t` counted (shown, or every thread counted: a windowed trace's host rows)? */
  function counted(t) {
    return scope.windowed || !scope.visible || !!scope.visible[t];
  }
  /** The chosen process (its "process" index), or -1 for all. */
  function chosenProcess() {
    return procSelect.hidden || procSelect.value === "all" || procSelect.value === "" ? -1 : Number(procSelect.value);
  }
  /** The thread selector: every thread, or the chosen process's. */
  function fillThreads() {
    const p = chosenProcess();
    const words = scopeWords(scope);
    const threads = (summary && summary.threads) || [];
    const mine = threads.filter((th) => p < 0 || th.process === p);
    const shown = mine.filter((th) => counted(th.thread)).length;
    const opts2 = [["overall", p < 0 ? words.all : shown < mine.length ? `Its shown threads (${shown} of ${mine.length})` : "All its threads"]];
    for (let i = 0; i < threads.length; i++) {
      if ((p < 0 || threads[i].process === p) && counted(threads[i].thread)) opts2.push([String(i), `Thread: ${threads[i].name}`]);
    }
    scopeNote.textContent = words.note;
    el.dataset.hiddenThreads = String(scope.hidden);
    select.replaceChildren(...opts2.map(([v, label]) => option(v, label)));
    select.value = "overall";
  }
  function option(value, label) {
    const o = doc.createElement("option");
    o.value = value;
    o.textContent = label;
    return o;
  }

  function currentRows() {
    if (!summary) return [];
    if (!taskSelect.hidden && taskSelect.value !== "all" && taskSelect.value !== "") {
      const task = (summary.tasks || [])[Number(taskSelect.value)];
      return (task && task.rows) || [];
    }
    if (select.value === "overall" || select.value === "") {
      const p = chosenProcess();
      if (p < 0) return summary.overall || [];
      const e = processEntries().find((x) => x.process === p);
      return (e && e.rows) || [];
    }
    const t = (summary.threads || [])[Number(select.value)];
    return (t && t.rows) || [];
  }

  function renderRows() {
    const rows = currentRows().slice();
    const col = SUMMARY_COLUMNS.find((c) => c.key === sortKey);
    rows.sort((a, b) => {
      const x = a[sortKey];
      const y = b[sortKey];
      let r = col.numeric ? x - y : String(x).localeCompare(String(y));
      if (sortKey === "file" && r === 0) r = a.line - b.line;
      return sortDesc ? -r : r;
    });
    for (const th of ths) {
      const on = th.dataset.key === sortKey;
      th.setAttribute("aria-sort", on ? (sortDesc ? "descending" : "ascending") : "none");
    }
    const frag = doc.createDocumentFragment();
    const shown = rows.slice(0, SUMMARY_MAX_ROWS);
    for (const r of shown) {
      const tr = doc.createElement("tr");
      tr.dataset.code = String(r.code);
      if (r.code === selectedCode) tr.className = "fprofile-selected";
      const fn = doc.createElement("td");
      const sw = doc.createElement("span");
      sw.className = "fprofile-swatch";
      sw.style.background = opts.colourOf(r.code);
      const name = doc.createElement("span");
      name.textContent = r.function;
      fn.append(sw, name);
      const file = doc.createElement("td");
      file.className = "fprofile-file";
      const fileText = doc.createElement("span");
      fileText.dir = "ltr";
      fileText.textContent = `${opts.fileText ? opts.fileText(r.file) : r.file}:${r.line}`;
      file.append(fileText);
      file.title = `${r.file}:${r.line}`;
      tr.append(fn, file,
        numCell(doc, formatCount(r.calls), r.calls), numCell(doc, formatDuration(r.total_ns), r.total_ns),
        numCell(doc, formatDuration(r.self_ns), r.self_ns), numCell(doc, formatDuration(r.mean_ns), r.mean_ns),
        numCell(doc, formatDuration(r.max_ns), r.max_ns));
      tr.addEventListener("click", () => opts.onPick(r.code));
      if (opts.onMenu) {
        tr.addEventListener("contextmenu", (e) => {
          e.preventDefault();
          opts.onMenu(r.code, e);
        });
      }
      frag.append(tr);
    }
    tbody.replaceChildren(frag);
    note.textContent = rows.length > shown.length
      ? `${formatCount(shown.length)} of ${formatCount(rows.length)} functions shown`
      : `${formatCount(rows.length)} function${rows.length === 1 ? "" : "s"}`;
  }

  return {
    el,
    /**
     * `scope` (optional): { hidden, total (threads), windowed, visible (per thread 1 when shown) }:
     * hidden threads and the processes of none shown are not offered, and the words say what the
     * rows count (summaryscope.js).
     */
    setSummary(s, processes, sc) {
      scope = sc || { hidden: 0, total: 0, windowed: false, visible: null };
      // the same trace again (a filter changed): keep the process and thread shown
      const keep = summary && s && summary.threads && s.threads && summary.threads.length === s.threads.length
        ? [procSelect.value, select.value, taskSelect.value] : null;
      summary = s;
      const procInfo = processes || [];
      const entries = processEntries().filter((e) => (summary.threads || []).some((th) => th.process === e.process && counted(th.thread)));
      procSelect.replaceChildren(option("all", "All processes"), ...entries.map((e) => {
        const host = procInfo[e.process] ? procInfo[e.process].host : "";
        return option(String(e.process), `Process: ${processLabel({ name: e.name, pid: e.pid, host })}`);
      }));
      procSelect.value = "all";
      procSelect.hidden = processEntries().length === 0;
      if (keep && [...procSelect.options].some((o) => o.value === keep[0])) procSelect.value = keep[0];
      fillThreads();
      if (keep && [...select.options].some((o) => o.value === keep[1])) select.value = keep[1];
      const tasks = summary.tasks || [];
      taskSelect.replaceChildren(option("all", "All tasks"), ...tasks.map((t, i) => option(String(i), `Task: ${t.label}`)));
      taskSelect.hidden = tasks.length === 0;
      taskSelect.value = keep && [...taskSelect.options].some((o) => o.value === keep[2]) ? keep[2] : "all";
      select.disabled = procSelect.disabled = taskSelect.value !== "all";
      renderRows();
    },
    setSelected(code) {
      selectedCode = code;
      for (const tr of tbody.children) tr.classList.toggle("fprofile-selected", Number(tr.dataset.code) === code);
    },
  };
}

/** A figure's cell: its text, and the exact number in `data-value` (ns or calls). */
function numCell(doc, text, value) {
  const td = doc.createElement("td");
  td.className = "fprofile-num";
  td.textContent = text;
  td.dataset.value = String(value);
  return td;
}
