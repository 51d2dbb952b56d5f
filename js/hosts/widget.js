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
 * @property {boolean} windowed          a trace too large to send whole: windows are fetched
 * @property {DataView} skeleton          windowed: the trace without its calls (.fpt)
 * @property {DataView} overview          windowed: the whole run as a window reply
 * @property {number} calls               windowed: how many calls the trace holds
 * @property {string} trace_id            windowed: ties the live view to the notebook's saved copy
 * @property {string} [offline]           windowed, no kernel (hosts/lab.js): why zooming is limited
 * @property {DataView | null} [last]     windowed, no kernel (or live): the last window's reply
 * @property {boolean} [live]             live updates pushed from the kernel (python/fprofile_jupyter/_livewidget.py)
 */

import { createTimeline } from "../timeline.js";
import { createDiffFlame } from "../diffview.js";
import { payloadModel } from "../payload.js";

/** Debounce of the window sent back to Python (ms): dragging sends one update, not hundreds. */
const WIDGET_WINDOW_SYNC_MS = 250;
/** Windowed mode: a request the kernel has not answered in this long is given up (the kernel is
 * busy running a cell, or gone); the view keeps the replies it has and asks again when it moves. */
const WIDGET_WINDOW_TIMEOUT_MS = 20_000;

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

/** A bytes trait that may be empty (b"" in Python): null then. */
function widgetNonEmpty(/** @type {DataView | null | undefined} */ v) {
  return v && v.byteLength > 0 ? v : null;
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
  /** windowed mode: the timeline's handle for replies, and the timers of the requests in flight */
  /** @type {{receive: (id: number, bytes: DataView | ArrayBuffer) => Promise<boolean>, fail: (id: number, message?: string) => void,
   *   receiveFlame: (id: number, bytes: DataView | ArrayBuffer) => boolean, failFlame: (id: number, message?: string) => void} | null} */
  let windowHandle = null;
  /** @type {Map<number, ReturnType<typeof setTimeout>>} */
  const windowTimers = new Map();
  /** the flame requests' timers (their ids are counted apart from the windows') */
  /** @type {Map<number, ReturnType<typeof setTimeout>>} */
  const flameTimers = new Map();
  /**
   * A custom message from the kernel: a window reply or a flame graph (its bytes in buffers[0]),
   * or why there is none.
   * @param {any} msg
   * @param {(DataView | ArrayBuffer)[]} [buffers]
   */
  function onCustom(msg, buffers) {
    if (!msg || typeof msg !== "object" || !windowHandle) return;
    const id = Number(msg.id);
    const isFlame = msg.type === "flame" || msg.type === "flame-error";
    const timers = isFlame ? flameTimers : windowTimers;
    const timer = timers.get(id);
    if (timer !== undefined) clearTimeout(timer);
    timers.delete(id);
    if (msg.type === "window" && buffers && buffers[0]) void windowHandle.receive(id, buffers[0]);
    else if (msg.type === "window-error") windowHandle.fail(id, String(msg.message || "the kernel could not answer"));
    else if (msg.type === "flame" && buffers && buffers[0]) windowHandle.receiveFlame(id, buffers[0]);
    else if (msg.type === "flame-error") windowHandle.failFlame(id, String(msg.message || "the kernel could not answer"));
  }

  function teardown() {
    for (const timer of windowTimers.values()) clearTimeout(timer);
    windowTimers.clear();
    for (const timer of flameTimers.values()) clearTimeout(timer);
    flameTimers.clear();
    windowHandle = null;
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
    // a live update redraws the same growing trace: keep what the user set on it (keepview.js)
    const kept = model.get("live") === true && timeline && typeof timeline.captureView === "function" ? timeline.captureView() : null;
    teardown();
    const height = model.get("height");
    /** @type {{theme: "auto", height?: number}} */
    const options = { theme: "auto" };
    if (height > 0) options.height = height;
    const message = model.get("error");
    const data = model.get("data");
    const windowed = model.get("windowed") === true;
    const empty = windowed ? !model.get("skeleton") || !model.get("overview") : !data || data.byteLength === 0;
    if (message || empty) {
      const text = message || ("fprofile: this widget has no trace data (nothing was recorded, or the "
        + "notebook was saved without its widget state).");
      errorBox = widgetShowError(el, text);
      return;
    }
    const t = createTimeline(el, options);
    timeline = t;
    let shown = false;
    if (windowed) {
      const offline = model.get("offline");
      const handle = await t.setWindowedData({
        skeleton: model.get("skeleton"),
        overview: model.get("overview"),
        last: widgetNonEmpty(model.get("last")), // the trait is empty bytes unless live
        calls: model.get("calls"),
        summary: widgetParseSummary(model.get("summary")),
        window: firstDraw ? [widgetAsNs(model.get("window_start_ns")), widgetAsNs(model.get("window_end_ns"))] : null,
        offline: offline || undefined,
        request: offline ? null : (/** @type {number} */ id, /** @type {number} */ t0, /** @type {number} */ t1, /** @type {number} */ px) => {
          model.send({ type: "window", id, t0, t1, px });
          windowTimers.set(id, setTimeout(() => {
            windowTimers.delete(id);
            if (windowHandle) windowHandle.fail(id, "The kernel has not answered for a while (busy running a cell, or stopped): " +
              "the view shows what it has and asks again when you zoom or pan.");
          }, WIDGET_WINDOW_TIMEOUT_MS));
        },
        host: "kernel",
        requestFlame: offline ? undefined : (/** @type {number} */ id, /** @type {number[]} */ threads, /** @type {number[] | null} */ win) => {
          model.send({ type: "flame", id, threads, t0: win ? win[0] : null, t1: win ? win[1] : null });
          flameTimers.set(id, setTimeout(() => {
            flameTimers.delete(id);
            if (windowHandle) windowHandle.failFlame(id, "The kernel has not answered for a while (busy running a cell, or stopped): " +
              "the flame graph is asked for again when you change the window or the threads.");
          }, WIDGET_WINDOW_TIMEOUT_MS));
        },
      });
      if (!handle || destroyed || mine !== generation) return;
      windowHandle = handle;
      shown = true;
      const traceId = model.get("trace_id");
      if (traceId && !offline) t.root.dataset.traceId = traceId;
    } else {
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
    }
    if (!shown || destroyed || mine !== generation) return;
    if (kept) t.restoreView(kept);
    // a one-line description above the toolbar: calls, threads, duration, payload
    if (t.root && typeof t.describe === "function") {
      const status = document.createElement("div");
      status.className = "fprofile-widget-status fprofile-muted";
      status.style.cssText = "font-size: 11px; margin: 0 0 4px 2px;";
      const live = model.get("live") === true;
      status.textContent = `fprofile · ${live ? "● live · " : ""}${t.describe()}`;
      t.root.dataset.live = live ? "live" : "";
      t.root.prepend(status);
    }
    // the saved (or Python-set) window applies to the trace it was made on: the first drawing
    // of this view; new data starts from the whole run
    if (firstDraw && !windowed) {
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

  /** @type {[string, (...args: any[]) => void][]} what the model says, and who listens */
  const listeners = [
    ["change:data", onData],
    ["change:summary", onData],
    ["change:error", onData],
    ["change:height", onData],
    ["change:window_start_ns", onWindowFromPython],
    ["change:window_end_ns", onWindowFromPython],
    ["change:windowed", onData],
    ["change:overview", onData],
    ["msg:custom", onCustom],
  ];
  for (const [name, handler] of listeners) model.on(name, handler);
  void draw();

  return () => {
    destroyed = true;
    for (const [name, handler] of listeners) model.off(name, handler);
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

// payloadModel: the read-only model of a notebook output's payload (hosts/lab.js, hosts/fragment.js)
export default { render: renderWidget, renderComparison, payloadModel };
