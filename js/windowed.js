// windowed.js: the windowed mode of a timeline: a trace too large to send whole. The page holds its
// skeleton (an .fpt without calls), the overview (a window reply over the whole run, computed once)
// and the window replies the host fetches (windowsource.js decides which); state.trace is the
// skeleton composed with the reply that covers the view best (windowreply.js), swapped when a
// better one arrives; the flame graph is the host's (createFlameSource) when it offers one.
// state.windowed is this mode's hold, null for a trace held whole. Layer 5: it installs through
// the data side (`ui.data`, data.js) and moves the window through the actions (`tl`).

import { decodeFpt } from "./decode.js";
import { buildIndex } from "./layout.js";
import { formatCount } from "./units.js";
import { decodeWindowReply, composeWindowTrace, replyDepths } from "./windowreply.js";
import { createWindowSource, createFlameSource } from "./windowsource.js";
import { flameFromBytes } from "./flame.js";

/** The windowed mode of one timeline (`tl`, `ui`: as for createActions; `options.limits`: decode limits). */
export function createWindowedMode(tl, ui, options) {
  const { state, vp, root } = tl;
  const { chrome } = ui;

  /** The view moved: ask for it (when a host can answer) and draw the best reply held. */
  function view() {
    const windowed = state.windowed;
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
        if (state.windowed === w0) view();
      }).catch((e) => chrome.showError(`A part of this trace is damaged: ${e && e.message ? e.message : e}`));
      return;
    }
    showReply(best);
  }
  /** Draw `reply` (a decoded window reply): the views' trace and index swapped, the selection kept. */
  function showReply(reply) {
    const windowed = state.windowed;
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
    tl.relayoutZoom();
    ui.zoomView.refreshHover();
    tl.schedule();
  }
  /** The source's counts on the root (tests wait on them): requests sent, replies taken, stale ones dropped. */
  function windowStats() {
    const { stats } = state.windowed.source;
    root.dataset.windowSent = String(stats.sent);
    root.dataset.windowReceived = String(stats.received);
    root.dataset.windowStale = String(stats.stale);
  }
  /** Back to a trace held whole (or none): the views the windowed mode hid offered again. */
  function leave() {
    if (!state.windowed) return;
    state.windowed = null;
    state.overviewTrace = null;
    state.overviewIndex = null;
    chrome.windowedNote.hidden = true;
    ui.flame.setRemote(null);
    ui.flame.button.hidden = false;
    ui.filterBar.el.hidden = false;
    state.searchCallRows = null;
    ui.search.input.hidden = false;
    ui.search.regex.hidden = false;
    ui.search.count.hidden = false;
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
    chrome.showError("");
    chrome.placeholder.textContent = "Loading…";
    chrome.placeholder.hidden = false;
    let skeleton;
    let overview;
    let last = null;
    try {
      skeleton = await decodeFpt(args.skeleton, options.limits || {});
      overview = await decodeWindowReply(args.overview, skeleton.threads.length, skeleton.codes.count);
      if (args.last) last = await decodeWindowReply(args.last, skeleton.threads.length, skeleton.codes.count);
    } catch (e) {
      ui.data.clearTrace();
      chrome.showError(`Could not read the trace: ${e && e.message ? e.message : e}`);
      return null;
    }
    if (tl.destroyed()) return null;
    const live = typeof args.request === "function";
    const source = createWindowSource(live ? args.request : () => {});
    source.setOverview(overview);
    if (last) source.add(last);
    if (Array.isArray(args.tiles)) source.pin(args.tiles.map(([t0, t1, px, bytes]) => ({ t0, t1, px, bytes })));
    const flameSource = live && typeof args.requestFlame === "function" ? createFlameSource(args.requestFlame) : null;
    if (flameSource) flameSource.where = args.host || "host";
    const windowed = { skeleton, depths: replyDepths(overview, skeleton.threads.length), calls: Number(args.calls) || 0, source, reply: null, live, flame: flameSource };
    state.windowed = windowed;
    const overviewTrace = composeWindowTrace(skeleton, overview, windowed.depths);
    state.overviewTrace = overviewTrace;
    state.overviewIndex = buildIndex(overviewTrace);
    windowed.reply = overview;
    // the search highlights functions (the skeleton has them all); its count of calls comes from
    // the host's summary rows (every call), not from the window held
    const rows = live && args.summary && Array.isArray(args.summary.overall) ? args.summary.overall : null;
    state.searchCallRows = rows;
    ui.data.install(overviewTrace, args.summary || null, 0);
    root.dataset.payloadBytes = String(args.skeleton.byteLength + args.overview.byteLength);
    const { flame, search } = ui;
    flame.setRemote(flameSource);
    if (!flameSource && flame.shown()) flame.toggle(false);
    flame.button.hidden = !flameSource;
    ui.filterBar.el.hidden = true;
    search.input.hidden = !rows;
    search.regex.hidden = !rows;
    search.count.hidden = !rows;
    root.setAttribute("data-windowed", live ? "live" : "offline");
    chrome.windowedNote.textContent = live
      ? `${formatCount(windowed.calls)} calls: more than this page holds at once, so it fetches what the view shows at its resolution ` +
        "(narrow calls merged and hatched: hover for their count, zoom in to see them). " +
        (flameSource ? `The flame graph (f) is merged by the ${flameSource.where}${rows ? " and the search counts every call" : ""}; callers and callees, ` +
          `${rows ? "" : "search, "}filters and the ` : `The flame graph, ${rows ? "" : "search, "}filters and the `) +
        `per-thread summary need every call: ${args.elsewhere || (flameSource ? "use trace.callers(), trace.callees(), trace.summary() in Python"
          : "use trace.flame(), trace.summary() in Python")}.`
      : (args.offline || "Zooming needs the kernel: this saved view shows the overview and the last window it had. " +
        "Run the cell again to browse the trace.");
    chrome.windowedNote.hidden = false;
    if (Array.isArray(args.window) && args.window[1] > args.window[0]) tl.setWin(args.window[0], args.window[1], false);
    else if (last) tl.setWin(last.t0, last.t1, false);
    view();
    return {
      stats: source.stats,
      /** A reply from the host for request `id`. */
      async receive(id, bytes) {
        if (!state.windowed || state.windowed.source !== source) return false;
        let reply;
        try {
          reply = await decodeWindowReply(bytes, skeleton.threads.length, skeleton.codes.count);
        } catch (e) {
          source.fail(id);
          chrome.showError(`A window of the trace could not be read: ${e && e.message ? e.message : e}`);
          return false;
        }
        if (!state.windowed || state.windowed.source !== source) return false;
        const fresh = source.receive(id, reply);
        if (fresh) view();
        else windowStats();
        return fresh;
      },
      /** The request `id` failed (`message` shown). */
      fail(id, message) {
        if (message) chrome.showError(message);
        if (state.windowed && state.windowed.source === source) source.fail(id);
      },
      flameStats: flameSource ? flameSource.stats : null,
      /** The host's flame graph for request `id` (the core's encoding). */
      receiveFlame(id, bytes) {
        if (!flameSource || !state.windowed || state.windowed.flame !== flameSource) return false;
        if (!flameSource.receive(id, flameFromBytes(bytes))) return false;
        tl.schedule();
        return true;
      },
      /** The flame request `id` failed (`message` shown). */
      failFlame(id, message) {
        if (!flameSource || !state.windowed || state.windowed.flame !== flameSource) return;
        if (flameSource.fail(id) && message) chrome.showError(message);
        tl.schedule();
      },
    };
  }

  return { view, leave, setWindowedData };
}
