// actions.js: what can be done to a shown trace, by the user through the views (their `tl`) or by
// a host through the API: the lanes laid out again (all, and those with something in the window),
// the window and the moves built on it, scrolling, bringing a call or a thread into view,
// collapsing processes, task lanes (tasklaneview.js: the toggle), the selection, the view filters (filters.js applied to state.filter) and
// the summary table's rows, and the keyboard. Layer 5: it changes the shared state and tells the
// views (`ui`: timeline.js's parts) what changed; it reaches the windowed mode (windowed.js)
// through `ui.windowed` only, so neither module imports the other.

import { rowHasItemIn } from "./layout.js";
import { threadProcess, windowLayout, laneOfThread, layoutGroups } from "./lanes.js";
import { formatCount, formatWindow } from "./units.js";
import { ZOOM_AXIS_PX, ZOOM_ROW_PX, ZOOM_HEADER_PX, ZOOM_GAP_PX, ZOOM_PROC_HEADER_PX, ZOOM_BAND_PX, ZOOM_SUMMARY_DEPTHS, ZOOM_SUMMARY_ROW_PX } from "./viewport.js";
import { longestVisibleCall } from "./state.js";
import { isRun } from "./panel.js";
import { applyFilter, filteredIndex } from "./filters.js";
import { shownSummary } from "./summaryscope.js";
import { taskLaneIndex, withTaskLanes, taskRowsIn } from "./tasklaneview.js";

/** The zoomed view's vertical sizes (lanes.js layoutGroups). */
const LANE_DIMS = Object.freeze({
  rowPx: ZOOM_ROW_PX, headerPx: ZOOM_HEADER_PX, gapPx: ZOOM_GAP_PX, procHeaderPx: ZOOM_PROC_HEADER_PX,
  bandPx: ZOOM_BAND_PX, summaryRowPx: ZOOM_SUMMARY_ROW_PX, summaryDepths: ZOOM_SUMMARY_DEPTHS,
});

/**
 * The actions of one timeline. `tl`: the views' context (state, viewport, root, schedule);
 * `ui`: the views and the chrome (read when an action runs: they may be made after this).
 */
export function createActions(tl, ui) {
  const { state, vp, root } = tl;
  const windowCallbacks = [];
  let hostOverall = null; // the summary rows the host sent (the Rust summary's: unfiltered)
  let summaryVisible = ""; // the threads shown when the table was last computed
  let taskBase = null; // with task lanes on: { lanes (state.lanes it was made from), index, layout }

  // ---- lanes -------------------------------------------------------------------------------
  /** The lanes of the visible threads, and the heights that follow from them. */
  function relayout() {
    const bandRows = state.bands.threadRows.map((r) => r.length);
    state.lanes = layoutGroups(state.trace, state.processes, state.visible, state.collapsed, bandRows, LANE_DIMS);
    if (state.visible.join() !== summaryVisible) refreshSummary();
    relayoutZoom();
    ui.overview.layout();
    root.setAttribute("data-collapsed", state.collapsed.reduce((a, c, i) => (c ? a.concat(i) : a), []).join(","));
  }
  /**
   * How many of thread `t`'s depths have a call in the window (a call at depth d lies inside its
   * parent, so that is the deepest such depth + 1); 0 when only a band of it is there, -1 when
   * nothing. A binary search per depth and band row.
   */
  function threadRowsIn(t) {
    const [t0, t1] = vp.win;
    const { calls } = state.trace;
    const rows = state.index.threadRows[t];
    for (let d = rows.length - 1; d >= 0; d--) if (rowHasItemIn(rows[d], calls.start, calls.end, t0, t1)) return d + 1;
    for (const row of state.bands.threadRows[t]) if (rowHasItemIn(row, state.bands.start, state.bands.end, t0, t1)) return 0;
    return -1;
  }
  /**
   * The zoomed view's lanes for the window (lanes.js windowLayout: each lane as deep as its calls
   * in the window, the lanes empty in it left out), after the window or the lanes changed; the
   * lane at the top of the view stays there when it is still shown. Costs a binary search per
   * thread and depth, nothing per call.
   */
  function relayoutZoom() {
    const base = zoomBase();
    if (!state.trace || !(vp.win[1] > vp.win[0])) {
      // a new trace, before its first window: every lane
      state.zoomLanes = { ...base, idle: 0 };
      vp.setContentHeight(state.zoomLanes.height, base.height);
    } else {
      // the lane at the top of the view (none when scrolled to the top: the view stays there)
      let anchor = null;
      for (const l of vp.scrollY > 0 ? state.zoomLanes.lanes : []) {
        if (l.top + l.height > vp.scrollY) { anchor = { thread: l.threads[0], task: l.task, dy: vp.scrollY - l.top }; break; }
      }
      const { calls } = state.trace;
      const [t0, t1] = vp.win;
      state.zoomLanes = windowLayout(base, (lane) => (lane.kind === "task" ? taskRowsIn(lane, calls, t0, t1)
        : lane.threads.reduce((r, t) => Math.max(r, threadRowsIn(t)), -1)), LANE_DIMS.gapPx);
      vp.setContentHeight(state.zoomLanes.height, base.height);
      const lane = anchor && (anchor.task ? state.zoomLanes.lanes.find((l) => l.task === anchor.task) : laneOfThread(state.zoomLanes, anchor.thread));
      if (lane) vp.scrollTo(lane.top + anchor.dy);
    }
    const { idle } = state.zoomLanes;
    const total = state.zoomLanes.lanes.length + idle;
    root.setAttribute("data-idle-lanes", String(idle));
    ui.chrome.idleLabel.textContent = idle > 0 ? `${formatCount(total - idle)} of ${formatCount(total)} lanes have calls in this window` : "";
  }

  // ---- task lanes ----------------------------------------------------------------------------
  /**
   * The lanes the zoomed view lays out for a window: state.lanes, and with task lanes on the task
   * lanes under their threads (tasklaneview.js; their index made again when the trace or the
   * filters change: one pass over the calls of the threads with bands).
   */
  function zoomBase() {
    if (!state.taskLanes || !state.trace || state.windowed || !state.bands || state.bands.count === 0) {
      taskBase = null;
      state.taskIndex = null;
      return state.lanes;
    }
    let index = state.taskIndex;
    if (!index || index.trace !== state.trace || index.kept !== state.kept) index = state.taskIndex = taskLaneIndex(state.trace, state.bands, state.kept);
    if (!taskBase || taskBase.lanes !== state.lanes || taskBase.index !== index) {
      taskBase = { lanes: state.lanes, index, layout: withTaskLanes(state.lanes, index, LANE_DIMS) };
    }
    return taskBase.layout;
  }
  /** Show each thread's tasks as lanes of their own under it, or not (`on` undefined: toggle); key t. */
  function toggleTaskLanes(on) {
    const btn = ui.chrome.taskLanesBtn;
    if (!state.trace || btn.hidden || btn.disabled) return;
    state.taskLanes = on === undefined ? !state.taskLanes : !!on;
    ui.chrome.syncTaskLanes(state.taskLanes);
    root.setAttribute("data-task-lanes", state.taskLanes ? "on" : "off");
    relayoutZoom();
    ui.zoomView.refreshHover();
    tl.schedule();
  }

  // ---- processes -----------------------------------------------------------------------------
  /** Collapse process `p` to its summary lane, or expand it (`collapse` undefined: toggle). */
  function toggleProcess(p, collapse) {
    if (!state.trace || state.processes.length < 2 || !(p >= 0 && p < state.processes.length)) return;
    state.collapsed[p] = (collapse === undefined ? !state.collapsed[p] : collapse) ? 1 : 0;
    relayout();
    ui.threadList.sync();
    ui.zoomView.refreshHover();
    tl.schedule();
  }
  /** Key c: the process under the pointer, else the selected call's, else every process (all collapsed when any is expanded). */
  function toggleProcessKey() {
    if (state.processes.length < 2) return;
    let p = ui.zoomView.pointerProcess();
    if (p < 0 && state.selectedCall >= 0) p = threadProcess(state.trace.threads[state.trace.calls.thread[state.selectedCall]], state.processes.length);
    if (p >= 0) {
      toggleProcess(p);
      return;
    }
    const collapse = state.collapsed.some((c) => c === 0);
    state.collapsed.fill(collapse ? 1 : 0);
    relayout();
    ui.threadList.sync();
    tl.schedule();
  }

  // ---- window ------------------------------------------------------------------------------
  function setWin(a, b, notify = true) {
    if (!state.trace) return;
    if (!vp.setWindow(a, b)) return;
    if (state.windowed) ui.windowed.view();
    relayoutZoom();
    const [s, e] = vp.win;
    root.setAttribute("data-window-start-ns", String(Math.round(s)));
    root.setAttribute("data-window-end-ns", String(Math.round(e)));
    ui.chrome.windowLabel.textContent = formatWindow(s, e, state.origin);
    if (notify) for (const cb of windowCallbacks) cb(Math.round(s), Math.round(e));
    ui.zoomView.refreshHover();
    tl.schedule();
  }
  function resetView() {
    if (!state.trace) return;
    vp.scrollY = 0;
    setWin(vp.full[0], vp.full[1]);
    tl.schedule();
  }
  function zoomBy(factor, atNs) {
    const [a, b] = vp.zoomedWindow(factor, atNs);
    setWin(a, b);
  }
  function panByPx(dx) {
    const [a, b] = vp.pannedWindow(dx);
    setWin(a, b);
  }
  function scrollByPx(dy) {
    if (vp.scrollTo(vp.scrollY + dy)) {
      ui.zoomView.refreshHover();
      tl.schedule();
    }
  }
  /** Zoom to call `c` and scroll its row into view. */
  function zoomToCall(c) {
    const { calls } = state.trace;
    const [a, b] = vp.windowAround(calls.start[c], calls.end[c]);
    setWin(a, b);
    revealCall(c);
  }
  /** Scroll the zoomed view vertically so that call `c`'s row is on screen (its lane's top too when both fit). */
  function revealCall(c) {
    const { calls } = state.trace;
    const lane = laneOfThread(state.zoomLanes, calls.thread[c]);
    if (!lane) return;
    const depth = Math.min(calls.depth[c], Math.max(0, lane.rows - 1));
    const rowTop = lane.top + lane.callsTop + depth * lane.rowPx;
    const viewH = vp.zoomHeight - ZOOM_AXIS_PX;
    const top = rowTop + lane.rowPx - lane.top <= viewH ? lane.top : rowTop;
    if (vp.scrollIntoView(top, rowTop + lane.rowPx)) {
      ui.zoomView.refreshHover();
      tl.schedule();
    }
  }
  /**
   * Bring thread `t` into the zoomed view (a click on its name in the thread list): show it if it
   * was hidden, move the window to its span if it has nothing in the window, and scroll its lane
   * into view.
   */
  function revealThread(t) {
    if (!state.trace || !(t >= 0 && t < state.trace.threads.length)) return;
    if (!state.visible[t]) {
      state.visible[t] = 1;
      relayout();
      ui.threadList.sync();
    }
    if (threadRowsIn(t) < 0) {
      const th = state.trace.threads[t];
      setWin(...vp.windowAround(th.firstNs, th.lastNs));
    }
    const lane = laneOfThread(state.zoomLanes, t);
    if (!lane) return;
    const viewH = vp.zoomHeight - ZOOM_AXIS_PX;
    vp.scrollIntoView(lane.top, lane.top + Math.min(lane.height, viewH));
    root.setAttribute("data-revealed-thread", String(t));
    ui.zoomView.refreshHover();
    tl.schedule();
  }

  // ---- selection ---------------------------------------------------------------------------
  function selectCall(c) {
    if (c >= 0 && isRun(state.trace, c)) {
      // a run of calls narrower than a pixel (windowed mode): zoom to it, where they show one by one
      setWin(...vp.windowAround(state.trace.calls.start[c], state.trace.calls.end[c]));
      return;
    }
    state.selectedCall = c;
    state.selectedCode = c >= 0 ? state.trace.calls.code[c] : -1;
    ui.table.setSelected(state.selectedCode);
    ui.details.show(c);
    ui.overview.invalidate();
    tl.schedule();
  }
  /** Select function `code`: its longest call, so the details show a representative one. */
  function selectCode(code, zoomToFirst) {
    if (!state.trace) return;
    if (code < 0) {
      selectCall(-1);
      return;
    }
    const best = longestVisibleCall(state, (k) => k === code);
    if (best < 0) return;
    if (!zoomToFirst && isRun(state.trace, best)) {
      // windowed: its longest call drawn is a run of narrow calls: the function alone is selected
      // (selecting the run would zoom to it, and move the window of the flame graph clicked)
      selectCall(-1);
      state.selectedCode = code;
      ui.table.setSelected(code);
      return;
    }
    selectCall(best);
    const { calls } = state.trace;
    if (!zoomToFirst) return;
    if (calls.end[best] < vp.win[0] || calls.start[best] > vp.win[1]) zoomToCall(best);
    else revealCall(best);
  }

  // ---- filters and the summary -------------------------------------------------------------
  /** The table's rows for the threads shown and the calls kept (summaryscope.js shownSummary). */
  function refreshSummary() {
    summaryVisible = state.visible.join();
    const { summary, scope } = shownSummary(state, hostOverall, !!state.windowed);
    ui.table.setSummary(summary, state.processes, scope);
  }
  /** The summary rows a host sent with the trace (its overall rows, or null), shown by refreshSummary. */
  function setHostSummary(overall) {
    hostOverall = overall;
  }
  /**
   * Apply state.filter: the kept calls and their self times (filters.js), the index every view
   * draws (the full one when nothing is filtered: no cost per call per frame then), the flame
   * graph's and the table's figures (with a filter on, the table is computed in the page over the
   * kept calls). O(calls) per filter change, nothing per frame.
   */
  function applyFilters() {
    const { trace } = state;
    state.filterGen++;
    if (trace) {
      const applied = applyFilter(trace, state.filter);
      state.kept = applied ? applied.kept : null;
      state.index = applied ? filteredIndex(state.fullIndex, applied) : state.fullIndex;
      refreshSummary();
      if (state.selectedCall >= 0 && state.kept && !state.kept[state.selectedCall]) selectCall(-1);
      else {
        ui.table.setSelected(state.selectedCode);
        ui.details.show(state.selectedCall);
      }
      ui.search.apply();
      relayoutZoom();
      ui.zoomView.refreshHover();
    }
    ui.filterBar.sync();
    ui.overview.invalidate();
    tl.schedule();
  }
  /** Hide a function (value: its code), a file or a module (filters.js). */
  function addHidden(kind, value) {
    ui.rowMenu.el.hidden = true;
    if (state.filter.hidden.some((h) => h.kind === kind && h.value === value)) return;
    state.filter.hidden.push({ kind, value });
    applyFilters();
  }
  function removeHidden(i) {
    state.filter.hidden.splice(i, 1);
    applyFilters();
  }
  function setMinNs(ns) {
    state.filter.minNs = ns > 0 ? ns : 0;
    applyFilters();
  }
  function clearFilters() {
    state.filter = { hidden: [], minNs: 0 };
    applyFilters();
  }

  // ---- keyboard ----------------------------------------------------------------------------
  /** The root's keydown: the flame graph's keys first when it is offered, then the timeline's. */
  function onKey(e) {
    if (!state.trace || e.altKey || e.ctrlKey || e.metaKey) return;
    const tag = e.target && e.target.tagName;
    if (tag === "INPUT" || tag === "SELECT" || tag === "TEXTAREA") return;
    if ((!state.windowed || state.windowed.flame) && ui.flame.onKey(e.key)) {
      e.preventDefault();
      return;
    }
    let handled = true;
    switch (e.key) {
      case "r": case "R": resetView(); break;
      case "+": case "=": zoomBy(1.5); break;
      case "-": case "_": zoomBy(1 / 1.5); break;
      case "ArrowLeft": panByPx(-vp.width * 0.1); break;
      case "ArrowRight": panByPx(vp.width * 0.1); break;
      case "ArrowUp": scrollByPx(-ZOOM_ROW_PX * 2); break;
      case "ArrowDown": scrollByPx(ZOOM_ROW_PX * 2); break;
      case "Escape": selectCall(-1); break;
      case "c": case "C": toggleProcessKey(); break;
      case "t": case "T": toggleTaskLanes(); break;
      default: handled = false;
    }
    if (handled) e.preventDefault();
  }

  return {
    relayout, relayoutZoom, setWin, resetView, zoomBy, panByPx, scrollByPx, zoomToCall, revealThread,
    toggleProcess, toggleTaskLanes, selectCall, selectCode, addHidden, removeHidden, setMinNs, clearFilters,
    refreshSummary, setHostSummary, onKey,
    /** Call `cb(start_ns, end_ns)` when the user moves the window. */
    onWindowChange(cb) {
      if (typeof cb === "function") windowCallbacks.push(cb);
    },
  };
}
