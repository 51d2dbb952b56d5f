// data.js: the trace a timeline shows: loading .fpt bytes (decode.js; a bad or too-large trace is
// a message, with the host's summary when it still fits), installing a decoded trace (everything
// the state derives from it, every view set up for it), forgetting it after a failed load, carrying
// what the user set to the next version of a growing trace (keepview.js) and the one-line
// description hosts show. Layer 5: it changes the shared state, then calls the actions and the
// views (`ui`: timeline.js's parts); the windowed mode (windowed.js) installs through it.

import { decodeFpt, TraceTooLargeError } from "./decode.js";
import { FptError } from "./fptcodec.js";
import { buildIndex, fullRange, displayOrigin } from "./layout.js";
import { traceProcesses, threadProcess, buildBandIndex } from "./lanes.js";
import { codeColours, BoxBatch } from "./render.js";
import { formatDuration, formatCount, formatBytes, pathRoots } from "./units.js";
import { bandColours } from "./bandrows.js";
import { captureView, restoreView } from "./keepview.js";
import { countTaskLanes, TASK_LANES_MAX } from "./tasklaneview.js";

/**
 * The data side of one timeline. `tl`: the views' context with the actions (timeline.js);
 * `ui`: the views and the chrome; `options.limits`: decode limits (decode.js DECODE_LIMITS).
 */
export function createTraceData(tl, ui, options) {
  const { state, vp, root } = tl;
  const { chrome } = ui;

  /** Show `message` in `.fprofile-error` ("" hides it). */
  function showError(message) {
    chrome.showError(message);
  }

  /** Decode and show `bytes` (an .fpt); see createTimeline. Never rejects. */
  async function setData(bytes, summary = null) {
    showError("");
    chrome.placeholder.textContent = "Loading…";
    chrome.placeholder.hidden = false;
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
        ui.table.el.hidden = false;
        ui.table.setSummary(summary, []);
        message += " The per-function summary below covers the whole trace.";
      }
      showError(message);
      return false;
    }
    if (tl.destroyed()) return false;
    ui.windowed.leave();
    install(decoded, summary, bytes.byteLength !== undefined ? bytes.byteLength : 0);
    return true;
  }

  /** Show `trace` (decoded): every view set up for it. `summary`: the host's overall rows or null. */
  function install(trace, summary, bytesLen) {
    ui.tooltip.hide();
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
    // task lanes (the user's choice kept from one trace to the next: a live view's versions)
    const taskLanes = countTaskLanes(state.bands);
    chrome.offerTaskLanes(!state.windowed, taskLanes, TASK_LANES_MAX);
    if (state.windowed || taskLanes === 0 || taskLanes > TASK_LANES_MAX) state.taskLanes = false;
    root.setAttribute("data-task-lanes", state.taskLanes ? "on" : "off");
    chrome.syncTaskLanes(state.taskLanes);
    state.selectedCall = -1;
    state.selectedCode = -1;
    state.hoverCall = -1;
    vp.scrollY = 0;
    const full = fullRange(trace);
    vp.setFull(full[0], full[1]);
    state.origin = displayOrigin(trace);
    tl.relayout();
    tl.setWin(full[0], full[1], false);
    ui.threadList.build();
    ui.flame.build();
    ui.table.el.hidden = false;
    chrome.side.hidden = false;
    // Hosts send the overall rows only (also shown for a trace too large to decode, above): the
    // per-process and per-thread ones are the page's (layout.js computeSummary, the Rust
    // summary's rules), computed when first shown.
    tl.setHostSummary(summary && Array.isArray(summary.overall) ? summary.overall : null);
    tl.refreshSummary();
    ui.filterBar.sync();
    chrome.setHelpProcesses(state.processes.length > 1);
    ui.search.apply();
    ui.details.show(-1);
    const callCount = state.windowed ? state.windowed.calls : trace.calls.count;
    chrome.placeholder.textContent = callCount === 0 ? "This trace has no calls." : "";
    chrome.placeholder.hidden = callCount !== 0;
    root.setAttribute("data-calls", String(callCount));
    root.setAttribute("data-threads", String(trace.threads.length));
    root.setAttribute("data-processes", String(state.processes.length));
    root.title = "";
    root.dataset.payloadBytes = String(bytesLen);
    ui.applyTheme();
    ui.measure();
    tl.schedule();
  }

  /** Forget the shown trace (after a failed load, so the page never shows one file's name over another's calls). */
  function clearTrace() {
    ui.windowed.leave();
    state.trace = null;
    state.index = null;
    state.fullIndex = null;
    state.kept = null;
    state.filter = { hidden: [], minNs: 0 };
    ui.filterBar.sync();
    state.visible = new Uint8Array(0);
    state.lanes = { multi: false, groups: [], lanes: [], height: 0 };
    state.zoomLanes = { ...state.lanes, idle: 0 };
    chrome.idleLabel.textContent = "";
    state.processes = [];
    state.processThreads = [];
    state.collapsed = new Uint8Array(0);
    state.bands = null;
    state.taskIndex = null;
    chrome.offerTaskLanes(false, 0, 0);
    state.origin = 0;
    state.selectedCall = -1;
    state.selectedCode = -1;
    state.hoverCall = -1;
    ui.tooltip.hide();
    ui.threadList.clear();
    ui.flame.build();
    ui.table.setSummary({ overall: [], threads: [] }, []);
    ui.table.el.hidden = true;
    chrome.side.hidden = true;
    ui.details.show(-1);
    chrome.windowLabel.textContent = "";
    root.removeAttribute("data-window-start-ns");
    root.removeAttribute("data-window-end-ns");
    root.setAttribute("data-calls", "0");
    chrome.placeholder.textContent = "No trace shown.";
    chrome.placeholder.hidden = false;
    ui.overview.invalidate();
    tl.schedule();
  }

  return {
    setData, install, clearTrace, showError,
    /** What the user set (hidden threads, collapsed processes, scroll, selection): for restore. */
    capture: () => captureView(state, vp.scrollY),
    /** Carry capture's result to the trace shown now (a new version of the same growing trace). */
    restore(saved) {
      if (!state.trace || !saved) return;
      const r = restoreView(state, saved);
      tl.relayout();
      ui.threadList.sync();
      vp.scrollTo(r.scrollY);
      if (r.call >= 0) tl.selectCall(r.call);
      else if (r.code >= 0) {
        state.selectedCode = r.code;
        ui.table.setSelected(r.code);
      }
      tl.schedule();
    },
    /** A short text description of the loaded trace (for hosts' status lines). */
    describe() {
      const { trace, windowed } = state;
      if (!trace) return "";
      const np = state.processes.length;
      return `${formatCount(windowed ? windowed.calls : trace.calls.count)} calls${windowed ? " (windowed)" : ""} · ${np > 1 ? `${np} processes · ` : ""}${trace.threads.length} thread${trace.threads.length === 1 ? "" : "s"} · ` +
        `${formatDuration(trace.endNs - trace.startNs)} · ${formatBytes(Number(root.dataset.payloadBytes || 0))}`;
    },
  };
}
