// timeline.js: the timeline component, a short composition: one shared state (state.js), one
// viewport (viewport.js: the coordinate spaces), the views (overview.js with the brush,
// zoomview.js, tooltip.js, details.js, threads.js, search.js, flameview.js, filterbar.js,
// table.js) placed in the chrome (chrome.js: toolbar, layout, theme, size), the actions they and
// the hosts call (actions.js: window, scroll, selection, processes, filters, keyboard), the data
// side (data.js: loading and installing a trace; windowed.js: a trace not held whole), the drawing
// schedule (one requestAnimationFrame) and the API the hosts use. Layer 5: depends on every module
// below it. Hosts (js/hosts/widget.js, js/hosts/viewer.js, js/hosts/export.js) only call
// createTimeline.

import { readPalette } from "./render.js";
import { shortPath } from "./units.js";
import { createSummaryTable } from "./table.js";
import { Viewport } from "./viewport.js";
import { createTimelineState } from "./state.js";
import { createTooltip } from "./tooltip.js";
import { createDetails } from "./details.js";
import { createThreadList } from "./threads.js";
import { createSearch } from "./search.js";
import { createOverview } from "./overview.js";
import { createZoomView } from "./zoomview.js";
import { createFlameView } from "./flameview.js";
import { createFilterBar, createRowMenu } from "./filterbar.js";
import { createChrome } from "./chrome.js";
import { createActions } from "./actions.js";
import { createTraceData } from "./data.js";
import { createWindowedMode } from "./windowed.js";

/**
 * Create a timeline inside `container`.
 * options: { theme: "auto" | "light" | "dark", height: most height of the zoomed view in CSS px (default
 *            420; it is as tall as its lanes up to that, then scrolls vertically),
 *            limits: decode limits (see decode.js DECODE_LIMITS) }
 * Returns { root, setData(bytes, summary?) (summary: { overall: rows } as the hosts send it, or
 *           null: the page computes it), setWindowedData(args) (a trace the page does not hold
 *           whole: windowed.js), setWindow(start_ns, end_ns), onWindowChange(cb),
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
  const cleanups = [];

  const listen = (target, type, fn, opts) => {
    target.addEventListener(type, fn, opts);
    cleanups.push(() => target.removeEventListener(type, fn, opts));
  };
  const localXY = (e, target) => {
    const r = target.getBoundingClientRect();
    return [e.clientX - r.left, e.clientY - r.top];
  };

  // ---- the parts -----------------------------------------------------------------------------
  const chrome = createChrome(doc);
  const { root } = chrome;
  // What the views may use of the timeline (their `tl`); the actions join it below, before any
  // event can reach a view.
  const tl = {
    doc, win0, root, state, vp, listen, localXY, schedule,
    destroyed: () => destroyed,
    invalidateOverview: () => ui.overview.invalidate(),
  };
  /** The views and the chrome: what the actions and the data side tell about a change. */
  const ui = { chrome, applyTheme, measure };
  ui.tooltip = tl.tooltip = createTooltip(tl);
  ui.overview = createOverview(tl);
  ui.zoomView = createZoomView(tl);
  ui.details = createDetails(tl);
  ui.threadList = createThreadList(tl);
  ui.search = createSearch(tl);
  ui.flame = createFlameView(tl);
  ui.filterBar = createFilterBar(tl);
  ui.table = createSummaryTable(doc, {
    colourOf: (c) => (state.colours && state.colours.fill[c]) || "transparent",
    onPick: (c) => { tl.selectCode(c, true); },
    onMenu: (c, e) => ui.rowMenu.show(c, e),
    fileText: (f) => shortPath(f, state.roots || []),
  });
  ui.rowMenu = chrome.assemble(tl, ui, container, () => createRowMenu(tl));
  const actions = createActions(tl, ui);
  Object.assign(tl, actions);
  ui.data = createTraceData(tl, ui, options);
  ui.windowed = createWindowedMode(tl, ui, options);

  // ---- theme, size, drawing ------------------------------------------------------------------
  function applyTheme() {
    chrome.applyTheme(state, themeOpt);
    ui.overview.invalidate();
    schedule();
  }
  function measure() {
    const w = Math.floor(chrome.viewsWidth() || container.clientWidth || 800);
    if (w !== vp.width && w > 0) {
      vp.width = w;
      ui.overview.invalidate();
      schedule();
    }
  }
  chrome.watch(win0, applyTheme, measure, listen, cleanups);
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
    ui.overview.draw();
    ui.zoomView.el.hidden = ui.flame.shown();
    if (ui.flame.shown()) ui.flame.draw();
    else ui.zoomView.draw();
  }
  listen(chrome.resetBtn, "click", () => actions.resetView());
  listen(chrome.taskLanesBtn, "click", () => actions.toggleTaskLanes());
  listen(root, "keydown", actions.onKey);

  applyTheme();
  measure();
  schedule();

  const { data, windowed } = ui;
  return {
    root,
    setData: data.setData,
    setWindowedData: windowed.setWindowedData,
    setWindow(start_ns, end_ns) {
      if (Number.isFinite(start_ns) && Number.isFinite(end_ns) && end_ns > start_ns) actions.setWin(start_ns, end_ns, false);
    },
    onWindowChange: actions.onWindowChange,
    /** What the user set (hidden threads, collapsed processes, scroll, selection): for restoreView. */
    captureView: data.capture,
    /** Carry captureView's result to the trace shown now (a new version of the same growing trace). */
    restoreView: data.restore,
    showError(message) {
      if (message) data.clearTrace();
      data.showError(message);
    },
    /** A short text description of the loaded trace (for hosts' status lines). */
    describe: data.describe,
    destroy() {
      destroyed = true;
      if (frame) win0.cancelAnimationFrame(frame);
      for (const f of cleanups) f();
      root.remove();
    },
  };
}
