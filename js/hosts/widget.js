// @ts-check
// hosts/widget.js: the anywidget host of the timeline (owner: the notebook part).
//
// Top-level names here are prefixed (widget*) so they cannot clash with the timeline modules'.
// The bundler appends this file to the timeline modules for host "widget" (see js/README and
// rust/core/src/assets.rs) and drops the import below, as for every module. The bundle is handed
// to anywidget as `TimelineWidget._esm`.
//
// The model mirrors the traits of python/fprofile_jupyter/_widget.py (TimelineWidget):
/**
 * @typedef {Object} TimelineModel
 * @property {DataView} data              the trace in the compact .fpt format (a bytes trait)
 * @property {string} summary             the per-function summary, JSON ("" when absent)
 * @property {string} error               when non-empty: shown instead of the timeline
 * @property {number} height              timeline height in CSS px (0: the timeline's default)
 * @property {number|null} window_start_ns  the zoomed window (ns from the trace's origin)
 * @property {number|null} window_end_ns
 */

import { createTimeline } from "../timeline.js";
import { createDiffFlame } from "../diffview.js";

/** Debounce of the window sent back to Python (ms): dragging sends one update, not hundreds. */
const WIDGET_WINDOW_SYNC_MS = 250;

/**
 * @param {HTMLElement} el
 * @param {string} message
 */
function widgetShowError(el, message) {
  const wrap = document.createElement("div");
  wrap.className = "fprofile-root fprofile-message"; // the timeline's theme variables apply
  const box = document.createElement("div");
  box.className = "fprofile-error";
  box.setAttribute("role", "alert");
  box.textContent = message; // text only: the message may contain names from the trace
  wrap.appendChild(box);
  el.appendChild(wrap);
  return wrap;
}

/** @param {string} text */
function widgetParseSummary(text) {
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch (_e) {
    return null;
  }
}

/**
 * @param {unknown} value
 * @returns {number | null}
 */
function widgetAsNs(value) {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

/** @type {import("@anywidget/types").Render<TimelineModel>} */
function renderWidget({ model, el }) {
  el.classList.add("fprofile-widget");
  /** @type {ReturnType<typeof createTimeline> | null} */
  let timeline = null;
  /** @type {HTMLElement | null} */
  let errorBox = null;
  /** @type {ReturnType<typeof setTimeout> | null} */
  let syncTimer = null;
  let destroyed = false;
  let generation = 0; // a newer draw() makes older pending setData results stale
  let firstDraw = true;
  /** the window last sent to / received from Python, to not echo it back */
  let syncedStart = widgetAsNs(model.get("window_start_ns"));
  let syncedEnd = widgetAsNs(model.get("window_end_ns"));

  function teardown() {
    if (syncTimer !== null) clearTimeout(syncTimer);
    syncTimer = null;
    if (timeline) timeline.destroy();
    timeline = null;
    if (errorBox) errorBox.remove();
    errorBox = null;
    el.replaceChildren();
  }

  /** @param {number} startNs @param {number} endNs */
  function onWindow(startNs, endNs) {
    if (syncTimer !== null) clearTimeout(syncTimer);
    syncTimer = setTimeout(() => {
      syncTimer = null;
      if (destroyed) return;
      const s = Math.round(startNs);
      const e = Math.round(endNs);
      if (s === syncedStart && e === syncedEnd) return;
      syncedStart = s;
      syncedEnd = e;
      model.set("window_start_ns", s);
      model.set("window_end_ns", e);
      model.save_changes();
    }, WIDGET_WINDOW_SYNC_MS);
  }

  async function draw() {
    const mine = ++generation;
    teardown();
    const height = model.get("height");
    /** @type {{theme: "auto", height?: number}} */
    const options = { theme: "auto" };
    if (height > 0) options.height = height;
    const message = model.get("error");
    const data = model.get("data");
    const empty = !data || data.byteLength === 0;
    if (message || empty) {
      const text = message || ("fprofile: this widget has no trace data (nothing was recorded, or the "
        + "notebook was saved without its widget state).");
      errorBox = widgetShowError(el, text);
      return;
    }
    const t = createTimeline(el, options);
    timeline = t;
    let shown = false;
    try {
      // resolves to false (and shows why in the timeline) for a bad or too large trace
      shown = await t.setData(data, widgetParseSummary(model.get("summary")));
    } catch (err) {
      if (destroyed || mine !== generation) return;
      const why = err instanceof Error ? err.message : String(err);
      const text = `fprofile: cannot show this trace (${data.byteLength.toLocaleString("en")} bytes): ${why}`;
      if (typeof t.showError === "function") t.showError(text);
      else errorBox = widgetShowError(el, text);
      return;
    }
    if (!shown || destroyed || mine !== generation) return;
    // a one-line description above the toolbar: calls, threads, duration, payload
    if (t.root && typeof t.describe === "function") {
      const status = document.createElement("div");
      status.className = "fprofile-widget-status fprofile-muted";
      status.style.cssText = "font-size: 11px; margin: 0 0 4px 2px;";
      status.textContent = `fprofile · ${t.describe()}`;
      t.root.prepend(status);
    }
    // the saved (or Python-set) window applies to the trace it was made on: the first drawing
    // of this view; new data starts from the whole run
    if (firstDraw) {
      const s = widgetAsNs(model.get("window_start_ns"));
      const e = widgetAsNs(model.get("window_end_ns"));
      if (s !== null && e !== null && e > s) t.setWindow(s, e);
    }
    firstDraw = false;
    t.onWindowChange(onWindow);
  }

  let drawQueued = false; // data and summary change together: draw once
  const onData = () => {
    if (drawQueued) return;
    drawQueued = true;
    queueMicrotask(() => {
      drawQueued = false;
      if (!destroyed) void draw();
    });
  };
  const onWindowFromPython = () => {
    const s = widgetAsNs(model.get("window_start_ns"));
    const e = widgetAsNs(model.get("window_end_ns"));
    if (s === syncedStart && e === syncedEnd) return;
    syncedStart = s;
    syncedEnd = e;
    if (timeline && s !== null && e !== null && e > s) timeline.setWindow(s, e);
  };

  model.on("change:data", onData);
  model.on("change:summary", onData);
  model.on("change:error", onData);
  model.on("change:height", onData);
  model.on("change:window_start_ns", onWindowFromPython);
  model.on("change:window_end_ns", onWindowFromPython);
  void draw();

  return () => {
    destroyed = true;
    model.off("change:data", onData);
    model.off("change:summary", onData);
    model.off("change:error", onData);
    model.off("change:height", onData);
    model.off("change:window_start_ns", onWindowFromPython);
    model.off("change:window_end_ns", onWindowFromPython);
    teardown();
  };
}

/**
 * The differential flame graph of a comparison output (python/fprofile_jupyter/_display.py,
 * comparison_output), for the JupyterLab / Notebook 7 extension (hosts/lab.js).
 * @param {{payload: unknown, el: HTMLElement}} args
 * @returns {() => void} the cleanup
 */
function renderComparison({ payload, el }) {
  const view = createDiffFlame(el, payload, { theme: "auto" });
  return () => view.destroy();
}

export default { render: renderWidget, renderComparison };
