// timeline.js: the timeline component: composes the views (overview.js with the brush,
// zoomview.js, tooltip.js, details.js, threads.js, search.js, table.js) around one shared state
// (state.js) and one viewport (viewport.js: the coordinate spaces), and owns what joins them: the
// toolbar and layout of the DOM, the view filters (filters.js applied to state.filter; the filter
// bar, filterbar.js), the window (setWin and the moves built on it), the selection,
// the theme, the size, the drawing schedule (one requestAnimationFrame), the keyboard, loading a
// trace and the API the hosts use. Layer 5: depends on every module below it. Hosts
// (js/hosts/widget.js, js/hosts/viewer.js, js/hosts/export.js) only call createTimeline.

import { decodeFpt, TraceTooLargeError, FptError } from "./decode.js";
import { buildIndex, fullRange, displayOrigin, rowHasItemIn } from "./layout.js";
import { traceProcesses, threadProcess, buildBandIndex, layoutGroups, windowLayout, laneOfThread } from "./lanes.js";
import { readPalette, codeColours, BoxBatch, resolveDark } from "./render.js";
import { formatDuration, formatCount, formatBytes, formatWindow, pathRoots, shortPath } from "./units.js";
import { createSummaryTable } from "./table.js";
import { Viewport, ZOOM_AXIS_PX, ZOOM_ROW_PX, ZOOM_HEADER_PX, ZOOM_GAP_PX, ZOOM_PROC_HEADER_PX, ZOOM_BAND_PX, ZOOM_SUMMARY_DEPTHS, ZOOM_SUMMARY_ROW_PX } from "./viewport.js";
import { createTimelineState, longestVisibleCall } from "./state.js";
import { makeEl, isRun } from "./panel.js";
import { createTooltip } from "./tooltip.js";
import { createDetails } from "./details.js";
import { createThreadList } from "./threads.js";
import { createSideResizer } from "./sidepanel.js";
import { createSearch } from "./search.js";
import { createOverview } from "./overview.js";
import { createZoomView } from "./zoomview.js";
import { bandColours } from "./bandrows.js";
import { createFlameView } from "./flameview.js";
import { applyFilter, filteredIndex } from "./filters.js";
import { shownSummary } from "./summaryscope.js";
import { createFilterBar, createRowMenu } from "./filterbar.js";
import { decodeWindowReply, composeWindowTrace, replyDepths } from "./windowreply.js";
import { createWindowSource, createFlameSource } from "./windowsource.js";
import { flameFromBytes } from "./flame.js";
import { captureView, restoreView } from "./keepview.js";

/** The zoomed view's vertical sizes (lanes.js layoutGroups). */
const LANE_DIMS = Object.freeze({
  rowPx: ZOOM_ROW_PX, headerPx: ZOOM_HEADER_PX, gapPx: ZOOM_GAP_PX, procHeaderPx: ZOOM_PROC_HEADER_PX,
  bandPx: ZOOM_BAND_PX, summaryRowPx: ZOOM_SUMMARY_ROW_PX, summaryDepths: ZOOM_SUMMARY_DEPTHS,
});

/**
 * Create a timeline inside `container`.
 * options: { theme: "auto" | "light" | "dark", height: most height of the zoomed view in CSS px (default
 *            420; it is as tall as its lanes up to that, then scrolls vertically),
 *            limits: decode limits (see decode.js DECODE_LIMITS) }
 * Returns { root, setData(bytes, summary?) (summary: { overall: rows } as the hosts send it, or
 *           null: the page computes it), setWindowedData(args) (a trace the page does not hold
 *           whole: see below), setWindow(start_ns, end_ns), onWindowChange(cb),
 *           captureView() / restoreView(saved) (a live host reloading a growing trace keeps what the
 *           user set: keepview.js), showError(message), describe(), destroy() }.
 * setData never rejects: a bad or too-large trace shows its message in `.fprofile-error`; the
 * promise resolves to true when the trace is shown, false otherwise.
 */
export function createTimeline(container, options = {}) {
  const doc = container.ownerDocument || document;
  const win0 = doc.defaultView || window;
  const themeOpt = options.theme || "auto";
  const state = createTimelineState();
  const vp = new Viewport(options.height);
  let frame = 0;
  let destroyed = false;
  const windowCallbacks = [];
  const cleanups = [];

  const listen = (target, type, fn, opts) => {
    target.addEventListener(type, fn, opts);
    cleanups.push(() => target.removeEventListener(type, fn, opts));
  };
  const localXY = (e, target) => {
    const r = target.getBoundingClientRect();
    return [e.clientX - r.left, e.clientY - r.top];
  };

  // ---- DOM and views -----------------------------------------------------------------------
  const el = (tag, cls, text) => makeEl(doc, tag, cls, text);
  const root = el("div", "fprofile-root");
  root.tabIndex = 0;
  root.setAttribute("role", "application");
  root.setAttribute("aria-label", "fprofile timeline");
  // What the views may use of the timeline (their `tl`).
  const tl = {
    doc, win0, root, state, vp, listen, localXY, schedule, relayout, setWin, resetView, zoomBy, panByPx,
    scrollByPx, zoomToCall, selectCall, selectCode, toggleProcess, revealThread,
    addHidden, removeHidden, setMinNs, clearFilters,
    invalidateOverview: () => overview.invalidate(),
  };
  const tooltip = createTooltip(tl);
  tl.tooltip = tooltip;
  const overview = createOverview(tl);
  const zoomView = createZoomView(tl);
  const details = createDetails(tl);
  const threadList = createThreadList(tl);
  const search = createSearch(tl);
  const flame = createFlameView(tl);
  const filterBar = createFilterBar(tl);
  const table = createSummaryTable(doc, {
    colourOf: (c) => (state.colours && state.colours.fill[c]) || "transparent",
    onPick: (c) => { selectCode(c, true); },
    onMenu: (c, e) => rowMenu.show(c, e),
    fileText: (f) => shortPath(f, state.roots || []),
  });

  const toolbar = el("div", "fprofile-toolbar");
  const resetBtn = el("button", "fprofile-reset", "Reset zoom");
  resetBtn.type = "button";
  resetBtn.title = "Show the whole run (r)";
  const windowLabel = el("span", "fprofile-window-label");
  const idleLabel = el("span", "fprofile-idle-label fprofile-muted");
  idleLabel.title = "Threads with no call in the zoomed window take no room in the zoomed view; the overview and the thread list show them all";
  const help = el("span", "fprofile-help", "wheel: zoom · drag: pan · double-click: zoom to call · r / + / − / arrows · f: flame graph");
  const helpProcesses = " · click a process header or c: collapse / expand";
  toolbar.append(resetBtn, flame.button, search.input, search.regex, search.count, windowLabel, idleLabel, help);
  const windowedNote = el("div", "fprofile-windowed-note fprofile-muted");
  windowedNote.hidden = true;
  const errorBox = el("div", "fprofile-error");
  errorBox.setAttribute("role", "alert");
  errorBox.hidden = true;
  const main = el("div", "fprofile-main");
  const views = el("div", "fprofile-views");
  const zoomWrap = el("div", "fprofile-zoom-wrap");
  const placeholder = el("div", "fprofile-placeholder", "No trace loaded.");
  zoomWrap.append(zoomView.el, flame.el, tooltip.el, placeholder);
  views.append(overview.el, flame.bar, zoomWrap);
  const side = el("div", "fprofile-side");
  side.append(threadList.el, details.el);
  const sideResizer = createSideResizer(tl, main, side);
  main.append(views, sideResizer.el, side);
  const rowMenu = createRowMenu(tl);
  root.append(toolbar, windowedNote, filterBar.el, errorBox, main, table.el, rowMenu.el);
  container.append(root);
  table.el.hidden = true;
  side.hidden = true;

  // ---- theme -------------------------------------------------------------------------------
  function applyTheme() {
    state.dark = resolveDark(doc, themeOpt);
    root.classList.toggle("fprofile-dark", state.dark);
    root.classList.toggle("fprofile-light", !state.dark);
    state.pal = readPalette(root, state.dark);
    if (state.trace) {
      state.colours = codeColours(state.trace.codes, state.dark);
      state.bandColours = bandColours(state.bands.keys, state.dark);
    }
    overview.invalidate();
    schedule();
  }
  if (typeof MutationObserver === "function" && doc.body) {
    const mo = new MutationObserver(applyTheme);
    mo.observe(doc.body, { attributes: true, attributeFilter: ["data-jp-theme-light", "class"] });
    cleanups.push(() => mo.disconnect());
  }
  if (win0.matchMedia) {
    const mq = win0.matchMedia("(prefers-color-scheme: dark)");
    if (mq.addEventListener) {
      mq.addEventListener("change", applyTheme);
      cleanups.push(() => mq.removeEventListener("change", applyTheme));
    }
  }

  // ---- size --------------------------------------------------------------------------------
  function measure() {
    const w = Math.floor(views.clientWidth || container.clientWidth || 800);
    if (w !== vp.width && w > 0) {
      vp.width = w;
      overview.invalidate();
      schedule();
    }
  }
  if (typeof ResizeObserver === "function") {
    const ro = new ResizeObserver(measure);
    ro.observe(views);
    cleanups.push(() => ro.disconnect());
  } else {
    listen(win0, "resize", measure);
  }

  // ---- drawing -----------------------------------------------------------------------------
  function schedule() {
    if (frame || destroyed) return;
    frame = win0.requestAnimationFrame(() => {
      frame = 0;
      draw();
    });
  }
  function draw() {
    if (destroyed) return;
    if (!vp.width) measure();
    if (!vp.width) return;
    if (!state.pal) state.pal = readPalette(root, state.dark);
    overview.draw();
    zoomView.el.hidden = flame.shown();
    if (flame.shown()) flame.draw();
    else zoomView.draw();
  }
  /** The lanes of the visible threads, and the heights that follow from them. */
  function relayout() {
    const bandRows = state.bands.threadRows.map((r) => r.length);
    state.lanes = layoutGroups(state.trace, state.processes, state.visible, state.collapsed, bandRows, LANE_DIMS);
    if (state.visible.join() !== summaryVisible) refreshSummary();
    relayoutZoom();
    overview.layout();
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
    if (!state.trace || !(vp.win[1] > vp.win[0])) {
      // a new trace, before its first window: every lane
      state.zoomLanes = { ...state.lanes, idle: 0 };
      vp.setContentHeight(state.zoomLanes.height, state.lanes.height);
    } else {
      // the lane at the top of the view (none when scrolled to the top: the view stays there)
      let anchor = null;
      for (const l of vp.scrollY > 0 ? state.zoomLanes.lanes : []) {
        if (l.top + l.height > vp.scrollY) { anchor = { thread: l.threads[0], dy: vp.scrollY - l.top }; break; }
      }
      state.zoomLanes = windowLayout(state.lanes, (lane) => lane.threads.reduce((r, t) => Math.max(r, threadRowsIn(t)), -1), LANE_DIMS.gapPx);
      vp.setContentHeight(state.zoomLanes.height, state.lanes.height);
      const lane = anchor && laneOfThread(state.zoomLanes, anchor.thread);
      if (lane) vp.scrollTo(lane.top + anchor.dy);
    }
    const { idle } = state.zoomLanes;
    const total = state.zoomLanes.lanes.length + idle;
    root.setAttribute("data-idle-lanes", String(idle));
    idleLabel.textContent = idle > 0 ? `${formatCount(total - idle)} of ${formatCount(total)} lanes have calls in this window` : "";
  }

  // ---- processes -----------------------------------------------------------------------------
  /** Collapse process `p` to its summary lane, or expand it (`collapse` undefined: toggle). */
  function toggleProcess(p, collapse) {
    if (!state.trace || state.processes.length < 2 || !(p >= 0 && p < state.processes.length)) return;
    state.collapsed[p] = (collapse === undefined ? !state.collapsed[p] : collapse) ? 1 : 0;
    relayout();
    threadList.sync();
    zoomView.refreshHover();
    schedule();
  }
  /** Key c: the process under the pointer, else the selected call's, else every process (all collapsed when any is expanded). */
  function toggleProcessKey() {
    if (state.processes.length < 2) return;
    let p = zoomView.pointerProcess();
    if (p < 0 && state.selectedCall >= 0) p = threadProcess(state.trace.threads[state.trace.calls.thread[state.selectedCall]], state.processes.length);
    if (p >= 0) {
      toggleProcess(p);
      return;
    }
    const collapse = state.collapsed.some((c) => c === 0);
    state.collapsed.fill(collapse ? 1 : 0);
    relayout();
    threadList.sync();
    schedule();
  }

  // ---- window ------------------------------------------------------------------------------
  function setWin(a, b, notify = true) {
    if (!state.trace) return;
    if (!vp.setWindow(a, b)) return;
    if (windowed) windowedView();
    relayoutZoom();
    const [s, e] = vp.win;
    root.setAttribute("data-window-start-ns", String(Math.round(s)));
    root.setAttribute("data-window-end-ns", String(Math.round(e)));
    windowLabel.textContent = formatWindow(s, e, state.origin);
    if (notify) for (const cb of windowCallbacks) cb(Math.round(s), Math.round(e));
    zoomView.refreshHover();
    schedule();
  }
  function resetView() {
    if (!state.trace) return;
    vp.scrollY = 0;
    setWin(vp.full[0], vp.full[1]);
    schedule();
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
      zoomView.refreshHover();
      schedule();
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
      zoomView.refreshHover();
      schedule();
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
      threadList.sync();
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
    zoomView.refreshHover();
    schedule();
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
    table.setSelected(state.selectedCode);
    details.show(c);
    overview.invalidate();
    schedule();
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
      table.setSelected(code);
      return;
    }
    selectCall(best);
    const { calls } = state.trace;
    if (!zoomToFirst) return;
    if (calls.end[best] < vp.win[0] || calls.start[best] > vp.win[1]) zoomToCall(best);
    else revealCall(best);
  }

  // ---- filters -----------------------------------------------------------------------------
  let hostOverall = null; // the summary rows the host sent (the Rust summary's: unfiltered)
  let summaryVisible = ""; // the threads shown when the table was last computed
  /** The table's rows for the threads shown and the calls kept (summaryscope.js shownSummary). */
  function refreshSummary() {
    summaryVisible = state.visible.join();
    const { summary, scope } = shownSummary(state, hostOverall, !!windowed);
    table.setSummary(summary, state.processes, scope);
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
        table.setSelected(state.selectedCode);
        details.show(state.selectedCall);
      }
      search.apply();
      relayoutZoom();
      zoomView.refreshHover();
    }
    filterBar.sync();
    overview.invalidate();
    schedule();
  }
  /** Hide a function (value: its code), a file or a module (filters.js). */
  function addHidden(kind, value) {
    rowMenu.el.hidden = true;
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

  // ---- errors ------------------------------------------------------------------------------
  function showError(message) {
    errorBox.textContent = message;
    errorBox.hidden = !message;
  }
  /** Forget the shown trace (after a failed load, so the page never shows one file's name over another's calls). */
  function clearTrace() {
    leaveWindowed();
    state.trace = null;
    state.index = null;
    state.fullIndex = null;
    state.kept = null;
    state.filter = { hidden: [], minNs: 0 };
    filterBar.sync();
    state.visible = new Uint8Array(0);
    state.lanes = { multi: false, groups: [], lanes: [], height: 0 };
    state.zoomLanes = { ...state.lanes, idle: 0 };
    idleLabel.textContent = "";
    state.processes = [];
    state.processThreads = [];
    state.collapsed = new Uint8Array(0);
    state.bands = null;
    state.origin = 0;
    state.selectedCall = -1;
    state.selectedCode = -1;
    state.hoverCall = -1;
    tooltip.hide();
    threadList.clear();
    flame.build();
    table.setSummary({ overall: [], threads: [] }, []);
    table.el.hidden = true;
    side.hidden = true;
    details.show(-1);
    windowLabel.textContent = "";
    root.removeAttribute("data-window-start-ns");
    root.removeAttribute("data-window-end-ns");
    root.setAttribute("data-calls", "0");
    placeholder.textContent = "No trace shown.";
    placeholder.hidden = false;
    overview.invalidate();
    schedule();
  }

  // ---- toolbar, keyboard -------------------------------------------------------------------
  listen(resetBtn, "click", () => resetView());
  listen(root, "keydown", (e) => {
    if (!state.trace || e.altKey || e.ctrlKey || e.metaKey) return;
    const tag = e.target && e.target.tagName;
    if (tag === "INPUT" || tag === "SELECT" || tag === "TEXTAREA") return;
    if ((!windowed || windowed.flame) && flame.onKey(e.key)) {
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
      default: handled = false;
    }
    if (handled) e.preventDefault();
  });

  // ---- data --------------------------------------------------------------------------------
  async function setData(bytes, summary = null) {
    showError("");
    placeholder.textContent = "Loading…";
    placeholder.hidden = false;
    let decoded;
    try {
      decoded = await decodeFpt(bytes, options.limits || {});
    } catch (e) {
      const what = e instanceof FptError ? `This is not a valid fprofile trace: ${e.message}`
        : e instanceof TraceTooLargeError ? e.message
        : `Could not read the trace: ${e && e.message ? e.message : e}`;
      clearTrace();
      let message = what;
      if (e instanceof TraceTooLargeError && summary && Array.isArray(summary.overall)) {
        // The per-function summary (computed where the trace was made) still fits: show it.
        table.el.hidden = false;
        table.setSummary(summary, []);
        message += " The per-function summary below covers the whole trace.";
      }
      showError(message);
      return false;
    }
    if (destroyed) return false;
    leaveWindowed();
    install(decoded, summary, bytes.byteLength !== undefined ? bytes.byteLength : 0);
    return true;
  }

  /** Show `trace` (decoded): every view set up for it. `summary`: the host's overall rows or null. */
  function install(trace, summary, bytesLen) {
    tooltip.hide();
    state.trace = trace;
    state.fullIndex = buildIndex(trace);
    state.index = state.fullIndex;
    state.kept = null;
    state.filter = { hidden: [], minNs: 0 }; // a function's code means nothing in another trace
    state.batch = new BoxBatch(2 * trace.codes.count);
    state.colours = codeColours(trace.codes, state.dark);
    state.roots = pathRoots(trace.metadata);
    state.visible = new Uint8Array(trace.threads.length).fill(1);
    state.processes = traceProcesses(trace);
    state.processThreads = state.processes.map(() => []);
    for (const th of trace.threads) state.processThreads[threadProcess(th, state.processes.length)].push(th.index);
    state.collapsed = new Uint8Array(state.processes.length);
    state.bands = buildBandIndex(trace);
    state.bandBatch = new BoxBatch(Math.max(1, 2 * state.bands.keys.length));
    state.bandColours = bandColours(state.bands.keys, state.dark);
    state.selectedCall = -1;
    state.selectedCode = -1;
    state.hoverCall = -1;
    vp.scrollY = 0;
    const full = fullRange(trace);
    vp.setFull(full[0], full[1]);
    state.origin = displayOrigin(trace);
    relayout();
    setWin(full[0], full[1], false);
    threadList.build();
    flame.build();
    table.el.hidden = false;
    side.hidden = false;
    // Hosts send the overall rows only (also shown for a trace too large to decode, above): the
    // per-process and per-thread ones are the page's (layout.js computeSummary, the Rust
    // summary's rules), computed when first shown.
    hostOverall = summary && Array.isArray(summary.overall) ? summary.overall : null;
    refreshSummary();
    filterBar.sync();
    help.textContent = help.textContent.split(helpProcesses)[0] + (state.processes.length > 1 ? helpProcesses : "");
    search.apply();
    details.show(-1);
    const callCount = windowed ? windowed.calls : trace.calls.count;
    placeholder.textContent = callCount === 0 ? "This trace has no calls." : "";
    placeholder.hidden = callCount !== 0;
    root.setAttribute("data-calls", String(callCount));
    root.setAttribute("data-threads", String(trace.threads.length));
    root.setAttribute("data-processes", String(state.processes.length));
    root.title = "";
    root.dataset.payloadBytes = String(bytesLen);
    applyTheme();
    measure();
    schedule();
  }


  // ---- windowed mode -----------------------------------------------------------------------
  // A trace too large to send whole: the page holds its skeleton (an .fpt without calls), the
  // overview (a window reply over the whole run, computed once) and the window replies the host
  // fetches (windowsource.js decides which); state.trace is the skeleton composed with the reply
  // that covers the view best (windowreply.js), swapped when a better one arrives.
  let windowed = null; // { skeleton, depths, calls, source, reply (drawn), live, flame (the host's flame graphs, or null) }
  /** The view moved: ask for it (when a host can answer) and draw the best reply held. */
  function windowedView() {
    const [a, b] = vp.win;
    const w = vp.width || 800;
    if (windowed.source && windowed.live) windowed.source.want(a, b, w);
    const best = windowed.source.best(a, b, w);
    windowStats();
    if (!best || best === windowed.reply) return;
    if (best.bytes && !best.count && best.count !== 0) {
      // a pinned tile not decoded yet (an HTML export's pyramid): decoded once, then drawn if still the best
      const w0 = windowed;
      if (best.pending) return;
      best.pending = decodeWindowReply(best.bytes, w0.skeleton.threads.length, w0.skeleton.codes.count).then((r) => {
        Object.assign(best, r);
        delete best.bytes;
        if (windowed === w0) windowedView();
      }).catch((e) => showError(`A part of this trace is damaged: ${e && e.message ? e.message : e}`));
      return;
    }
    showReply(best);
  }
  /** Draw `reply` (a decoded window reply): the views' trace and index swapped, the selection kept. */
  function showReply(reply) {
    const prev = state.trace;
    const selected = prev && state.selectedCall >= 0 && prev.calls.call ? prev.calls.call[state.selectedCall] : -1;
    windowed.reply = reply;
    const trace = composeWindowTrace(windowed.skeleton, reply, windowed.depths);
    state.trace = trace;
    state.fullIndex = buildIndex(trace);
    state.index = state.fullIndex;
    state.hoverCall = -1;
    state.selectedCall = selected >= 0 ? trace.calls.call.indexOf(selected) : -1;
    if (state.selectedCall >= 0 && trace.calls.runs[state.selectedCall] !== 1) state.selectedCall = -1;
    root.setAttribute("data-window-reply", `${reply.t0},${reply.t1},${reply.px}`);
    relayoutZoom();
    zoomView.refreshHover();
    schedule();
  }
  /** The source's counts on the root (tests wait on them): requests sent, replies taken, stale ones dropped. */
  function windowStats() {
    const { stats } = windowed.source;
    root.dataset.windowSent = String(stats.sent);
    root.dataset.windowReceived = String(stats.received);
    root.dataset.windowStale = String(stats.stale);
  }
  function leaveWindowed() {
    if (!windowed) return;
    windowed = null;
    state.overviewTrace = null;
    state.overviewIndex = null;
    windowedNote.hidden = true;
    flame.setRemote(null);
    flame.button.hidden = false;
    filterBar.el.hidden = false;
    state.searchCallRows = null;
    search.input.hidden = false;
    search.regex.hidden = false;
    search.count.hidden = false;
    root.removeAttribute("data-windowed");
    root.removeAttribute("data-window-reply");
  }
  /**
   * Show a trace the page does not hold whole. args: { skeleton (.fpt bytes: the trace without its
   * calls), overview (window reply bytes over the whole run), calls (how many calls the trace
   * has), summary ({ overall } or null), last (optional: reply bytes of the last view, drawn
   * first), window ([t0, t1] of that view, optional), request (id, t0, t1, px) => void: ask the
   * host for a window, its answer going to receive(); null: nothing can be fetched (a saved
   * notebook without its kernel), offline (the message saying so), elsewhere (where the views
   * that need every call can be had instead), tiles ([[t0, t1, px, reply bytes], ...]: replies kept
   * for ever and decoded when first drawn: an HTML export's pyramid), requestFlame (optional, live
   * hosts: (id, threads, win) => void: ask the host for the flame graph of those thread indices
   * over win ([t0, t1] or null: the whole run), its answer going to receiveFlame(); without it the
   * flame graph is not offered), host (the host's name in notes, "kernel" or "viewer") }.
   * Resolves to { receive(id, bytes) -> Promise<boolean> (false: stale or bad, dropped), fail(id),
   * receiveFlame(id, bytes) -> boolean (the core's flame encoding; false: stale, dropped),
   * failFlame(id, message), stats, flameStats } or null when it could not be shown (the error is shown).
   */
  async function setWindowedData(args) {
    showError("");
    placeholder.textContent = "Loading…";
    placeholder.hidden = false;
    let skeleton;
    let overview;
    let last = null;
    try {
      skeleton = await decodeFpt(args.skeleton, options.limits || {});
      overview = await decodeWindowReply(args.overview, skeleton.threads.length, skeleton.codes.count);
      if (args.last) last = await decodeWindowReply(args.last, skeleton.threads.length, skeleton.codes.count);
    } catch (e) {
      clearTrace();
      showError(`Could not read the trace: ${e && e.message ? e.message : e}`);
      return null;
    }
    if (destroyed) return null;
    const live = typeof args.request === "function";
    const source = createWindowSource(live ? args.request : () => {});
    source.setOverview(overview);
    if (last) source.add(last);
    if (Array.isArray(args.tiles)) source.pin(args.tiles.map(([t0, t1, px, bytes]) => ({ t0, t1, px, bytes })));
    const flameSource = live && typeof args.requestFlame === "function" ? createFlameSource(args.requestFlame) : null;
    if (flameSource) flameSource.where = args.host || "host";
    windowed = { skeleton, depths: replyDepths(overview, skeleton.threads.length), calls: Number(args.calls) || 0, source, reply: null, live, flame: flameSource };
    const overviewTrace = composeWindowTrace(skeleton, overview, windowed.depths);
    state.overviewTrace = overviewTrace;
    state.overviewIndex = buildIndex(overviewTrace);
    windowed.reply = overview;
    // the search highlights functions (the skeleton has them all); its count of calls comes from
    // the host's summary rows (every call), not from the window held
    const rows = live && args.summary && Array.isArray(args.summary.overall) ? args.summary.overall : null;
    state.searchCallRows = rows;
    install(overviewTrace, args.summary || null, 0);
    root.dataset.payloadBytes = String(args.skeleton.byteLength + args.overview.byteLength);
    flame.setRemote(flameSource);
    if (!flameSource && flame.shown()) flame.toggle(false);
    flame.button.hidden = !flameSource;
    filterBar.el.hidden = true;
    search.input.hidden = !rows;
    search.regex.hidden = !rows;
    search.count.hidden = !rows;
    root.setAttribute("data-windowed", live ? "live" : "offline");
    windowedNote.textContent = live
      ? `${formatCount(windowed.calls)} calls: more than this page holds at once, so it fetches what the view shows at its resolution ` +
        "(narrow calls merged and hatched: hover for their count, zoom in to see them). " +
        (flameSource ? `The flame graph (f) is merged by the ${flameSource.where}${rows ? " and the search counts every call" : ""}; callers and callees, ` +
          `${rows ? "" : "search, "}filters and the ` : `The flame graph, ${rows ? "" : "search, "}filters and the `) +
        `per-thread summary need every call: ${args.elsewhere || (flameSource ? "use trace.callers(), trace.callees(), trace.summary() in Python"
          : "use trace.flame(), trace.summary() in Python")}.`
      : (args.offline || "Zooming needs the kernel: this saved view shows the overview and the last window it had. " +
        "Run the cell again to browse the trace.");
    windowedNote.hidden = false;
    if (Array.isArray(args.window) && args.window[1] > args.window[0]) setWin(args.window[0], args.window[1], false);
    else if (last) setWin(last.t0, last.t1, false);
    windowedView();
    return {
      stats: source.stats,
      /** A reply from the host for request `id`. */
      async receive(id, bytes) {
        if (!windowed || windowed.source !== source) return false;
        let reply;
        try {
          reply = await decodeWindowReply(bytes, skeleton.threads.length, skeleton.codes.count);
        } catch (e) {
          source.fail(id);
          showError(`A window of the trace could not be read: ${e && e.message ? e.message : e}`);
          return false;
        }
        if (!windowed || windowed.source !== source) return false;
        const fresh = source.receive(id, reply);
        if (fresh) windowedView();
        else windowStats();
        return fresh;
      },
      /** The request `id` failed (`message` shown). */
      fail(id, message) {
        if (message) showError(message);
        if (windowed && windowed.source === source) source.fail(id);
      },
      flameStats: flameSource ? flameSource.stats : null,
      /** The host's flame graph for request `id` (the core's encoding). */
      receiveFlame(id, bytes) {
        if (!flameSource || !windowed || windowed.flame !== flameSource) return false;
        if (!flameSource.receive(id, flameFromBytes(bytes))) return false;
        schedule();
        return true;
      },
      /** The flame request `id` failed (`message` shown). */
      failFlame(id, message) {
        if (!flameSource || !windowed || windowed.flame !== flameSource) return;
        if (flameSource.fail(id) && message) showError(message);
        schedule();
      },
    };
  }

  applyTheme();
  measure();
  schedule();

  return {
    root,
    setData,
    setWindowedData,
    setWindow(start_ns, end_ns) {
      if (Number.isFinite(start_ns) && Number.isFinite(end_ns) && end_ns > start_ns) setWin(start_ns, end_ns, false);
    },
    onWindowChange(cb) {
      if (typeof cb === "function") windowCallbacks.push(cb);
    },
    /** What the user set (hidden threads, collapsed processes, scroll, selection): for restoreView. */
    captureView: () => captureView(state, vp.scrollY),
    /** Carry captureView's result to the trace shown now (a new version of the same growing trace). */
    restoreView(saved) {
      if (!state.trace || !saved) return;
      const r = restoreView(state, saved);
      relayout();
      threadList.sync();
      vp.scrollTo(r.scrollY);
      if (r.call >= 0) selectCall(r.call);
      else if (r.code >= 0) {
        state.selectedCode = r.code;
        table.setSelected(r.code);
      }
      schedule();
    },
    showError(message) {
      if (message) clearTrace();
      showError(message);
    },
    /** A short text description of the loaded trace (for hosts' status lines). */
    describe() {
      const { trace } = state;
      if (!trace) return "";
      const np = state.processes.length;
      return `${formatCount(windowed ? windowed.calls : trace.calls.count)} calls${windowed ? " (windowed)" : ""} · ${np > 1 ? `${np} processes · ` : ""}${trace.threads.length} thread${trace.threads.length === 1 ? "" : "s"} · ` +
        `${formatDuration(trace.endNs - trace.startNs)} · ${formatBytes(Number(root.dataset.payloadBytes || 0))}`;
    },
    destroy() {
      destroyed = true;
      if (frame) win0.cancelAnimationFrame(frame);
      for (const f of cleanups) f();
      root.remove();
    },
  };
}
