// timeline.js: the timeline component: overview + brush, zoomed view, tooltip, details, search,
// thread list, summary table, keyboard, theme. Layer 4 (views): depends on every module below it.
// Hosts (js/widget.js, js/hosts/viewer.js, js/hosts/export.js) only call createTimeline.
//
// Coordinate spaces (names used below):
//   trace ns  : time relative to the trace origin, integer nanoseconds held in numbers
//               (shown in every text and axis label as t - origin, origin = displayOrigin(trace):
//               one origin everywhere, see layout.js)
//   view px   : CSS pixels inside a canvas (x from its left edge, y from its top edge)
//   content px: zoom view y before vertical scrolling (lanes stacked from 0); view y = content y
//               - scrollY + ZOOM_AXIS_PX
//   zoom  : view x = (ns - win[0]) * zoomPxPerNs          (nsToZoomX / zoomXToNs)
//   overview: view x = (ns - full[0]) * overviewPxPerNs   (nsToOverviewX / overviewXToNs)

import { decodeFpt, TraceTooLargeError, FptError } from "./decode.js";
import { buildIndex, layoutLanes, forEachBox, lowerBoundEnd, fullRange, clampWindow, zoomWindow, computeSummary, threadNameAt, displayOrigin } from "./layout.js";
import { sizeCanvas, readPalette, codeColours, threadColour, drawTimeAxis, fitLabel } from "./render.js";
import { formatDuration, formatCount, formatBytes, formatTimeAt, formatWindow } from "./units.js";
import { createSummaryTable } from "./table.js";

const ZOOM_AXIS_PX = 22;
const ZOOM_ROW_PX = 18;
const ZOOM_HEADER_PX = 20;
const ZOOM_GAP_PX = 6;
const OVERVIEW_AXIS_PX = 16;
const OVERVIEW_MAX_PX = 170;
const MIN_WINDOW_NS = 50;
const DRAG_THRESHOLD_PX = 3;
const LABEL_MIN_PX = 28;

/**
 * Create a timeline inside `container`.
 * options: { theme: "auto" | "light" | "dark", height: most height of the zoomed view in CSS px (default
 *            420; it is as tall as its lanes up to that, then scrolls vertically),
 *            limits: decode limits (see decode.js DECODE_LIMITS) }
 * Returns { root, setData(bytes, summary?), setWindow(start_ns, end_ns), onWindowChange(cb),
 *           showError(message), destroy() }.
 * setData never rejects: a bad or too-large trace shows its message in `.fprofile-error`; the
 * promise resolves to true when the trace is shown, false otherwise.
 */
export function createTimeline(container, options = {}) {
  const doc = container.ownerDocument || document;
  const win0 = doc.defaultView || window;
  const maxZoomHeight = Math.max(160, Number(options.height) || 420);
  let zoomHeight = Math.min(maxZoomHeight, 220);
  const themeOpt = options.theme || "auto";

  // ---- DOM -------------------------------------------------------------------------------
  const el = (tag, cls, text) => {
    const e = doc.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const root = el("div", "fprofile-root");
  root.tabIndex = 0;
  root.setAttribute("role", "application");
  root.setAttribute("aria-label", "fprofile timeline");
  const toolbar = el("div", "fprofile-toolbar");
  const resetBtn = el("button", "fprofile-reset", "Reset zoom");
  resetBtn.type = "button";
  resetBtn.title = "Show the whole run (r)";
  const search = el("input", "fprofile-search");
  search.type = "search";
  search.placeholder = "Search functions…";
  search.title = "Highlight the functions whose name or file contains this text; Enter zooms to the longest match";
  search.setAttribute("aria-label", "Search functions");
  search.spellcheck = false;
  const searchCount = el("span", "fprofile-search-count");
  const windowLabel = el("span", "fprofile-window-label");
  const help = el("span", "fprofile-help", "wheel: zoom · drag: pan · double-click: zoom to call · r / + / − / arrows");
  toolbar.append(resetBtn, search, searchCount, windowLabel, help);
  const errorBox = el("div", "fprofile-error");
  errorBox.setAttribute("role", "alert");
  errorBox.hidden = true;
  const main = el("div", "fprofile-main");
  const views = el("div", "fprofile-views");
  const overview = el("canvas", "fprofile-overview");
  overview.setAttribute("aria-label", "Overview of the whole run: drag to choose the zoomed window");
  const zoomWrap = el("div", "fprofile-zoom-wrap");
  const zoom = el("canvas", "fprofile-zoom");
  zoom.setAttribute("aria-label", "Zoomed view of the calls");
  const tooltip = el("div", "fprofile-tooltip");
  tooltip.hidden = true;
  const placeholder = el("div", "fprofile-placeholder", "No trace loaded.");
  zoomWrap.append(zoom, tooltip, placeholder);
  views.append(overview, zoomWrap);
  const side = el("div", "fprofile-side");
  const threadsBox = el("div", "fprofile-threads");
  const details = el("div", "fprofile-details");
  side.append(threadsBox, details);
  main.append(views, side);
  const table = createSummaryTable(doc, {
    colourOf: (c) => (colours && colours.fill[c]) || "transparent",
    onPick: (c) => { selectCode(c, true); },
  });
  root.append(toolbar, errorBox, main, table.el);
  container.append(root);
  overview.style.height = "60px";
  table.el.hidden = true;
  side.hidden = true;
  zoom.style.height = `${zoomHeight}px`;
  setDetailsEmpty();

  // ---- state -----------------------------------------------------------------------------
  let trace = null;
  let index = null;
  let colours = null;
  let pal = null;
  let dark = false;
  let visible = new Uint8Array(0);
  let lanes = { lanes: [], height: 0 };
  let ovLanes = [];
  let ovLanePx = 20;
  let full = [0, 1];
  let win = [0, 1];
  let origin = 0; // the trace time shown as 0 everywhere (axes, tooltip, details, window label)
  let scrollY = 0;
  let width = 0;
  let overviewHeight = 60;
  let selectedCall = -1;
  let selectedCode = -1;
  let searchMask = null; // Uint8Array over codes, or null
  let hoverCall = -1;
  let charPx = 6.2;
  let ovCache = null;
  let buckets = []; // per colour (code, then faded code): x, y, w of the boxes of one frame
  const usedBuckets = [];
  let overviewDirty = true;
  let frame = 0;
  let destroyed = false;
  const windowCallbacks = [];
  const cleanups = [];

  const listen = (target, type, fn, opts) => {
    target.addEventListener(type, fn, opts);
    cleanups.push(() => target.removeEventListener(type, fn, opts));
  };

  // ---- theme -----------------------------------------------------------------------------
  function resolveDark() {
    if (themeOpt === "dark") return true;
    if (themeOpt === "light") return false;
    const body = doc.body;
    if (body && body.hasAttribute("data-jp-theme-light")) return body.getAttribute("data-jp-theme-light") === "false";
    if (body && body.classList.contains("vscode-dark")) return true;
    if (body && body.classList.contains("vscode-light")) return false;
    return !!(win0.matchMedia && win0.matchMedia("(prefers-color-scheme: dark)").matches);
  }
  function applyTheme() {
    dark = resolveDark();
    root.classList.toggle("fprofile-dark", dark);
    root.classList.toggle("fprofile-light", !dark);
    pal = readPalette(root, dark);
    if (trace) colours = codeColours(trace.codes, dark);
    overviewDirty = true;
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

  // ---- size ------------------------------------------------------------------------------
  function measure() {
    const w = Math.floor(views.clientWidth || container.clientWidth || 800);
    if (w !== width && w > 0) {
      width = w;
      overviewDirty = true;
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

  // ---- coordinate spaces ------------------------------------------------------------------
  const zoomPxPerNs = () => width / (win[1] - win[0]);
  const nsToZoomX = (t) => (t - win[0]) * zoomPxPerNs();
  const zoomXToNs = (x) => win[0] + x / zoomPxPerNs();
  const overviewPxPerNs = () => width / (full[1] - full[0]);
  const nsToOverviewX = (t) => (t - full[0]) * overviewPxPerNs();
  const overviewXToNs = (x) => full[0] + x / overviewPxPerNs();
  const maxScrollY = () => Math.max(0, lanes.height - (zoomHeight - ZOOM_AXIS_PX) + 8);

  // ---- drawing ---------------------------------------------------------------------------
  function schedule() {
    if (frame || destroyed) return;
    frame = win0.requestAnimationFrame(() => {
      frame = 0;
      draw();
    });
  }

  function draw() {
    if (destroyed) return;
    if (!width) measure();
    if (!width) return;
    if (!pal) pal = readPalette(root, dark);
    drawOverview();
    drawZoom();
  }

  function relayout() {
    lanes = layoutLanes(trace, visible, ZOOM_ROW_PX, ZOOM_HEADER_PX, ZOOM_GAP_PX);
    // The zoomed view is as tall as its lanes, up to the height asked for (then it scrolls).
    zoomHeight = Math.max(160, Math.min(maxZoomHeight, ZOOM_AXIS_PX + lanes.height + 12));
    ovLanes = lanes.lanes;
    const n = Math.max(1, ovLanes.length);
    ovLanePx = Math.max(8, Math.min(24, Math.floor((OVERVIEW_MAX_PX - OVERVIEW_AXIS_PX - 4) / n)));
    overviewHeight = OVERVIEW_AXIS_PX + n * ovLanePx + 4;
    scrollY = Math.min(scrollY, maxScrollY());
    overviewDirty = true;
  }

  function highlightActive() {
    return searchMask !== null || selectedCode >= 0;
  }
  function isHighlighted(code) {
    return code === selectedCode || (searchMask !== null && searchMask[code] === 1);
  }

  function renderOverviewCache() {
    const dpr = win0.devicePixelRatio || 1;
    if (!ovCache) ovCache = doc.createElement("canvas");
    ovCache.width = Math.max(1, Math.round(width * dpr));
    ovCache.height = Math.max(1, Math.round(overviewHeight * dpr));
    const ctx = ovCache.getContext("2d", { alpha: false });
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = pal.bg;
    ctx.fillRect(0, 0, width, overviewHeight);
    if (!trace) return;
    drawTimeAxis(ctx, pal, width, OVERVIEW_AXIS_PX, overviewHeight, full[0], full[1], nsToOverviewX, 110, origin);
    const k = overviewPxPerNs();
    const { calls } = trace;
    const hl = highlightActive();
    const nCodes = trace.codes.count;
    for (let li = 0; li < ovLanes.length; li++) {
      const lane = ovLanes[li];
      const y = OVERVIEW_AXIS_PX + li * ovLanePx;
      const rowsPx = ovLanePx - 5;
      const rowPx = Math.max(1, Math.min(3, rowsPx / Math.max(1, lane.rows)));
      const shownRows = Math.min(lane.rows, Math.floor(rowsPx / rowPx));
      for (const t of lane.threads) {
        const th = trace.threads[t];
        ctx.fillStyle = threadColour(t, dark);
        const xa = nsToOverviewX(th.firstNs);
        ctx.fillRect(xa, y + 1, Math.max(1, nsToOverviewX(th.lastNs) - xa), 1.5);
        const rows = index.threadRows[t];
        for (let d = 0; d < Math.min(shownRows, rows.length); d++) {
          const yy = y + 4 + d * rowPx;
          forEachBox(rows[d], calls.start, calls.end, full[0], full[1], k, 1, (c, x0, x1) => {
            const code = calls.code[c];
            const key = hl && !isHighlighted(code) ? code + nCodes : code;
            const bucket = buckets[key];
            if (bucket.length === 0) usedBuckets.push(key);
            bucket.push(x0, yy, x1 - x0, rowPx);
          });
        }
      }
    }
    for (const key of usedBuckets) {
      const bucket = buckets[key];
      ctx.fillStyle = key < nCodes ? colours.fill[key] : colours.faded[key - nCodes];
      ctx.beginPath();
      for (let i = 0; i < bucket.length; i += 4) ctx.rect(bucket[i], bucket[i + 1], bucket[i + 2], bucket[i + 3]);
      ctx.fill();
      bucket.length = 0;
    }
    usedBuckets.length = 0;
  }

  function drawOverview() {
    if (overviewDirty) {
      overview.style.height = `${overviewHeight}px`;
      renderOverviewCache();
      overviewDirty = false;
    }
    const ctx = sizeCanvas(overview, width, overviewHeight);
    ctx.drawImage(ovCache, 0, 0, width, overviewHeight);
    if (!trace) return;
    const xa = Math.max(0, nsToOverviewX(win[0]));
    const xb = Math.min(width, nsToOverviewX(win[1]));
    ctx.fillStyle = dark ? "rgba(0,0,0,0.45)" : "rgba(255,255,255,0.6)";
    ctx.fillRect(0, OVERVIEW_AXIS_PX, xa, overviewHeight - OVERVIEW_AXIS_PX);
    ctx.fillRect(xb, OVERVIEW_AXIS_PX, width - xb, overviewHeight - OVERVIEW_AXIS_PX);
    ctx.fillStyle = pal.brush;
    ctx.fillRect(xa, OVERVIEW_AXIS_PX, Math.max(1, xb - xa), overviewHeight - OVERVIEW_AXIS_PX);
    ctx.strokeStyle = pal.accent;
    ctx.lineWidth = 1.5;
    ctx.strokeRect(xa + 0.75, OVERVIEW_AXIS_PX + 0.75, Math.max(1, xb - xa - 1.5), overviewHeight - OVERVIEW_AXIS_PX - 1.5);
  }

  function drawZoom() {
    const W = width;
    const H = zoomHeight;
    const ctx = sizeCanvas(zoom, W, H);
    ctx.fillStyle = pal.bg;
    ctx.fillRect(0, 0, W, H);
    if (!trace) {
      zoom.setAttribute("data-drawn", "0");
      return;
    }
    const t0 = win[0];
    const t1 = win[1];
    const k = zoomPxPerNs();
    drawTimeAxis(ctx, pal, W, ZOOM_AXIS_PX, H, t0, t1, nsToZoomX, 90, origin);
    const { calls, codes } = trace;
    const hl = highlightActive();
    const nCodes = codes.count;
    ctx.save();
    ctx.beginPath();
    ctx.rect(0, ZOOM_AXIS_PX, W, H - ZOOM_AXIS_PX);
    ctx.clip();
    ctx.font = pal.font;
    ctx.textBaseline = "middle";
    charPx = ctx.measureText("abcdefghijklmnopqrstuvwxyz_ABCDEFGH0123").width / 40 || 6.2;
    let boxes = 0;
    const labels = [];
    for (const lane of lanes.lanes) {
      const ly = ZOOM_AXIS_PX + lane.top - scrollY;
      if (ly > H || ly + lane.height < ZOOM_AXIS_PX) continue;
      ctx.fillStyle = pal.laneBg;
      ctx.fillRect(0, ly, W, lane.headerPx);
      for (const t of lane.threads) {
        const th = trace.threads[t];
        if (th.lastNs < t0 || th.firstNs > t1) continue;
        const xa = Math.max(-2, nsToZoomX(th.firstNs));
        const xb = Math.min(W + 2, nsToZoomX(th.lastNs));
        ctx.fillStyle = threadColour(t, dark);
        ctx.fillRect(xa, ly + lane.headerPx - 5, Math.max(2, xb - xa), 3);
        ctx.fillStyle = pal.fg;
        ctx.font = pal.font;
        // The name may run past the thread's span up to the next thread of the lane (or the edge);
        // when it does not fit with its tid, the tid goes first.
        let next = W;
        for (const o of lane.threads) {
          if (o !== t && trace.threads[o].firstNs >= th.lastNs) next = Math.min(next, nsToZoomX(trace.threads[o].firstNs));
        }
        const lx = Math.max(4, xa + 2);
        const room = Math.max(0, Math.max(xb, next) - lx - 4);
        const name = threadNameAt(th, Math.max(t0, th.firstNs));
        const label = th.osId ? `${name}  (tid ${th.osId})` : name;
        const text = label.length * charPx <= room ? label : fitLabel(name, room, charPx);
        if (text) ctx.fillText(text, lx, ly + 7);
      }
      for (let d = 0; d < lane.rows; d++) {
        const y = ly + lane.headerPx + d * ZOOM_ROW_PX;
        if (y > H || y + ZOOM_ROW_PX < ZOOM_AXIS_PX) continue;
        for (const t of lane.threads) {
          const rows = index.threadRows[t];
          if (d >= rows.length) continue;
          boxes += forEachBox(rows[d], calls.start, calls.end, t0, t1, k, 1, (c, x0, x1, count) => {
            const code = calls.code[c];
            const a = Math.max(-1, x0);
            const b = Math.min(W + 1, x1);
            const w = b - a;
            // Batched by colour (one fill per colour per frame, not one style change per box).
            const key = hl && !isHighlighted(code) ? code + nCodes : code;
            const bucket = buckets[key];
            if (bucket.length === 0) usedBuckets.push(key);
            bucket.push(a, y, w > 3 ? w - 1 : w);
            if (count === 1 && w >= LABEL_MIN_PX) labels.push(c, a, w, y);
          });
        }
      }
    }
    for (const key of usedBuckets) {
      const bucket = buckets[key];
      ctx.fillStyle = key < nCodes ? colours.fill[key] : colours.faded[key - nCodes];
      ctx.beginPath();
      for (let i = 0; i < bucket.length; i += 3) ctx.rect(bucket[i], bucket[i + 1], bucket[i + 2], ZOOM_ROW_PX - 1);
      ctx.fill();
      bucket.length = 0;
    }
    usedBuckets.length = 0;
    // Labels after the boxes: one font, fewer state changes.
    // Each label in the colour that reads best on its box (dark or light text).
    let labelColour = "";
    for (let i = 0; i < labels.length; i += 4) {
      const c = labels[i];
      const code = calls.code[c];
      if (hl && !isHighlighted(code)) continue;
      const text = fitLabel(codes.name[code], labels[i + 2] - 6, charPx);
      if (!text) continue;
      if (colours.text[code] !== labelColour) {
        labelColour = colours.text[code];
        ctx.fillStyle = labelColour;
      }
      ctx.fillText(text, labels[i + 1] + 3, labels[i + 3] + (ZOOM_ROW_PX - 1) / 2);
    }
    if (hl) {
      ctx.fillStyle = pal.muted;
      for (let i = 0; i < labels.length; i += 4) {
        const code = calls.code[labels[i]];
        if (isHighlighted(code)) continue;
        const text = fitLabel(codes.name[code], labels[i + 2] - 6, charPx);
        if (text) ctx.fillText(text, labels[i + 1] + 3, labels[i + 3] + (ZOOM_ROW_PX - 1) / 2);
      }
    }
    outlineCall(ctx, hoverCall, pal.fg, 1);
    outlineCall(ctx, selectedCall, pal.select, 2);
    ctx.restore();
    // Vertical scroll indicator.
    const ms = maxScrollY();
    if (ms > 0) {
      const viewH = H - ZOOM_AXIS_PX;
      const barH = Math.max(20, viewH * viewH / (lanes.height + 8));
      const barY = ZOOM_AXIS_PX + (viewH - barH) * (scrollY / ms);
      ctx.fillStyle = dark ? "rgba(255,255,255,0.25)" : "rgba(0,0,0,0.22)";
      ctx.fillRect(W - 5, barY, 4, barH);
    }
    zoom.setAttribute("data-drawn", String(boxes));
  }

  function callRect(c) {
    if (c < 0 || !trace) return null;
    const t = trace.calls.thread[c];
    if (!visible[t]) return null;
    const lane = lanes.lanes.find((l) => l.threads.includes(t));
    if (!lane) return null;
    const y = ZOOM_AXIS_PX + lane.top - scrollY + lane.headerPx + trace.calls.depth[c] * ZOOM_ROW_PX;
    const x0 = nsToZoomX(trace.calls.start[c]);
    const x1 = Math.max(x0 + 1, nsToZoomX(trace.calls.end[c]));
    return { x0, x1, y, h: ZOOM_ROW_PX - 1 };
  }
  function outlineCall(ctx, c, colour, lw) {
    const r = callRect(c);
    if (!r || r.x1 < -2 || r.x0 > width + 2) return;
    ctx.strokeStyle = colour;
    ctx.lineWidth = lw;
    const a = Math.max(-2, r.x0);
    const b = Math.min(width + 2, r.x1);
    ctx.strokeRect(a + lw / 2, r.y + lw / 2, Math.max(1, b - a - lw), r.h - lw);
  }

  // ---- window ----------------------------------------------------------------------------
  function setWin(a, b, notify = true) {
    if (!trace) return;
    const [s, e] = clampWindow(a, b, full[0], full[1], MIN_WINDOW_NS);
    if (s === win[0] && e === win[1]) return;
    win = [s, e];
    root.setAttribute("data-window-start-ns", String(Math.round(s)));
    root.setAttribute("data-window-end-ns", String(Math.round(e)));
    windowLabel.textContent = formatWindow(s, e, origin);
    if (notify) for (const cb of windowCallbacks) cb(Math.round(s), Math.round(e));
    refreshHover();
    schedule();
  }
  function resetView() {
    if (!trace) return;
    scrollY = 0;
    setWin(full[0], full[1]);
    schedule();
  }
  function zoomBy(factor, atNs) {
    const t = atNs === undefined ? (win[0] + win[1]) / 2 : atNs;
    const [a, b] = zoomWindow(win[0], win[1], t, factor);
    setWin(a, b);
  }
  function panByPx(dx) {
    const dt = dx / zoomPxPerNs();
    setWin(win[0] + dt, win[1] + dt);
  }
  function scrollByPx(dy) {
    const next = Math.min(maxScrollY(), Math.max(0, scrollY + dy));
    if (next !== scrollY) {
      scrollY = next;
      refreshHover();
      schedule();
    }
  }
  function zoomToCall(c) {
    const s = trace.calls.start[c];
    const e = trace.calls.end[c];
    const m = Math.max((e - s) * 0.05, MIN_WINDOW_NS / 2);
    setWin(s - m, e + m);
  }

  // ---- hit testing -----------------------------------------------------------------------
  function hitZoom(x, y) {
    if (!trace || y < ZOOM_AXIS_PX) return -1;
    const cy = y - ZOOM_AXIS_PX + scrollY;
    const lane = lanes.lanes.find((l) => cy >= l.top && cy < l.top + l.height);
    if (!lane) return -1;
    const d = Math.floor((cy - lane.top - lane.headerPx) / ZOOM_ROW_PX);
    if (d < 0 || d >= lane.rows) return -1;
    const t = zoomXToNs(x);
    const tol = 2 / zoomPxPerNs();
    const { start, end } = trace.calls;
    let best = -1;
    let bestDist = Infinity;
    for (const ti of lane.threads) {
      const rows = index.threadRows[ti];
      if (d >= rows.length) continue;
      const row = rows[d];
      let kk = lowerBoundEnd(row, end, t - tol);
      for (; kk < row.length && start[row[kk]] <= t + tol; kk++) {
        const c = row[kk];
        const dist = t < start[c] ? start[c] - t : t > end[c] ? t - end[c] : 0;
        if (dist < bestDist) { best = c; bestDist = dist; }
        if (dist === 0) break;
      }
    }
    return best;
  }

  /** The thread whose span line / name is under (x, y) in a lane header, or -1. */
  function hitThreadHeader(x, y) {
    if (!trace || y < ZOOM_AXIS_PX) return -1;
    const cy = y - ZOOM_AXIS_PX + scrollY;
    const lane = lanes.lanes.find((l) => cy >= l.top && cy < l.top + l.headerPx);
    if (!lane) return -1;
    const t = zoomXToNs(x);
    let best = -1;
    let bestDist = Infinity;
    for (const ti of lane.threads) {
      const th = trace.threads[ti];
      const dist = t < th.firstNs ? th.firstNs - t : t > th.lastNs ? t - th.lastNs : 0;
      if (dist < bestDist) { best = ti; bestDist = dist; }
    }
    return bestDist * zoomPxPerNs() <= 40 ? best : -1;
  }

  // ---- text panels -----------------------------------------------------------------------
  function threadLabel(t, atNs) {
    const th = trace.threads[t];
    const name = atNs === undefined ? th.name : threadNameAt(th, atNs);
    return th.osId ? `${name} (tid ${th.osId})` : name;
  }
  /** Trace time `t` as shown on the axes: from the display origin, precise to a thousandth of the
   *  zoomed window (like the window label) or to a tenth of `span_ns` when that is finer. */
  function timeText(t, span_ns) {
    const res = Math.max(1, Math.min((win[1] - win[0]) / 1000, span_ns / 10));
    return formatTimeAt(t - origin, res);
  }
  function callFacts(c) {
    const { calls, codes } = trace;
    const code = calls.code[c];
    const facts = [
      ["File", `${codes.file[code]}:${codes.line[code]}`],
      ["Thread", threadLabel(calls.thread[c], calls.start[c])],
      ["Start", timeText(calls.start[c], calls.end[c] - calls.start[c])],
      ["Duration", formatDuration(calls.end[c] - calls.start[c])],
      ["Self", formatDuration(index.selfNs[c])],
      ["Children", formatCount(index.childCount[c])],
    ];
    const f = calls.flags[c];
    if (f & 1) facts.push(["Note", "unfinished: still running when recording stopped"]);
    if (f & 2) facts.push(["Note", "started before the recording"]);
    return facts;
  }
  function factList(facts) {
    const dl = el("dl", "fprofile-facts");
    for (const [k, v] of facts) dl.append(el("dt", null, k), el("dd", null, v));
    return dl;
  }
  function showTooltip(c, x, y) {
    if (c < 0) {
      tooltip.hidden = true;
      return;
    }
    const name = trace.codes.name[trace.calls.code[c]];
    tooltip.replaceChildren(el("div", "fprofile-tooltip-title", name), factList(callFacts(c)));
    placeTooltip(x, y);
  }
  function placeTooltip(x, y) {
    tooltip.hidden = false;
    const tw = tooltip.offsetWidth;
    const th = tooltip.offsetHeight;
    let left = x + 14;
    let top = y + 14;
    if (left + tw > width) left = Math.max(0, x - tw - 10);
    if (top + th > zoomHeight) top = Math.max(0, y - th - 10);
    tooltip.style.left = `${left}px`;
    tooltip.style.top = `${top}px`;
  }
  function showThreadTooltip(t, x, y) {
    const th = trace.threads[t];
    const facts = [
      ["Thread", th.osId ? `tid ${th.osId}` : "tid unknown"],
      ["Span", `${timeText(th.firstNs, th.lastNs - th.firstNs)} – ${timeText(th.lastNs, th.lastNs - th.firstNs)}`],
      ["Duration", formatDuration(th.lastNs - th.firstNs)],
      ["Calls", formatCount(th.callEnd - th.callStart)],
      ["Lane", String(th.lane)],
    ];
    if (th.names.length > 1) facts.push(["Names", th.names.map((n) => n.name).join(" → ")]);
    tooltip.replaceChildren(el("div", "fprofile-tooltip-title", th.name), factList(facts));
    placeTooltip(x, y);
  }
  function setDetailsEmpty() {
    details.replaceChildren(el("div", "fprofile-panel-title", "Details"),
      el("div", "fprofile-muted", "Click a call to see its details; every call of its function is highlighted."));
  }
  function showDetails(c) {
    if (c < 0 || !trace) {
      setDetailsEmpty();
      return;
    }
    const { calls, codes } = trace;
    const code = calls.code[c];
    let same = 0;
    for (let i = 0; i < calls.count; i++) if (calls.code[i] === code) same++;
    const title = el("div", "fprofile-details-title", codes.name[code]);
    const facts = callFacts(c);
    facts.push(["Depth", String(calls.depth[c])], ["Calls of it", `${formatCount(same)} (highlighted)`]);
    const stackTitle = el("div", "fprofile-panel-title", "Call stack");
    const stack = el("ol", "fprofile-stack");
    const chain = [];
    for (let p = c; p >= 0; p = calls.parent[p]) chain.push(p);
    chain.reverse();
    for (const p of chain) {
      const li = el("li", p === c ? "fprofile-current" : null);
      const btn = el("button", "fprofile-link", codes.name[calls.code[p]]);
      btn.type = "button";
      btn.title = `${codes.file[calls.code[p]]}:${codes.line[calls.code[p]]}`;
      btn.addEventListener("click", () => { selectCall(p); zoomToCall(p); });
      li.append(btn);
      stack.append(li);
    }
    const zoomBtn = el("button", "fprofile-zoom-to", "Zoom to this call");
    zoomBtn.type = "button";
    zoomBtn.addEventListener("click", () => zoomToCall(c));
    details.replaceChildren(el("div", "fprofile-panel-title", "Details"), title, factList(facts), zoomBtn, stackTitle, stack);
  }
  function selectCall(c) {
    selectedCall = c;
    selectedCode = c >= 0 ? trace.calls.code[c] : -1;
    table.setSelected(selectedCode);
    showDetails(c);
    overviewDirty = true;
    schedule();
  }
  function selectCode(code, zoomToFirst) {
    if (!trace) return;
    if (code < 0) {
      selectCall(-1);
      return;
    }
    // Select its longest call, so the details show a representative one.
    let best = -1;
    const { calls } = trace;
    for (let i = 0; i < calls.count; i++) {
      if (calls.code[i] === code && visible[calls.thread[i]] &&
          (best < 0 || calls.end[i] - calls.start[i] > calls.end[best] - calls.start[best])) best = i;
    }
    if (best < 0) return;
    selectCall(best);
    if (zoomToFirst && (calls.end[best] < win[0] || calls.start[best] > win[1])) zoomToCall(best);
  }

  function buildThreadList() {
    const title = el("div", "fprofile-panel-title", `Threads (${trace.threads.length})`);
    const list = el("div", "fprofile-thread-list");
    for (const th of trace.threads) {
      const label = el("label", "fprofile-thread");
      const cb = el("input");
      cb.type = "checkbox";
      cb.checked = !!visible[th.index];
      cb.dataset.thread = String(th.index);
      cb.addEventListener("change", () => {
        visible[th.index] = cb.checked ? 1 : 0;
        if (selectedCall >= 0 && !visible[trace.calls.thread[selectedCall]]) selectCall(-1);
        relayout();
        schedule();
      });
      const sw = el("span", "fprofile-swatch");
      sw.style.background = threadColour(th.index, dark);
      const name = el("span", "fprofile-thread-name", th.name);
      name.title = th.names.map((n) => n.name).join(" → ");
      const stats = `${formatCount(th.callEnd - th.callStart)} call${th.callEnd - th.callStart === 1 ? "" : "s"} · ${formatDuration(th.lastNs - th.firstNs)}`;
      const n = el("span", "fprofile-muted fprofile-thread-stats", stats);
      label.title = `${th.name}${th.osId ? ` (tid ${th.osId})` : ""}: ${stats}`;
      label.append(cb, sw, name, n);
      list.append(label);
    }
    threadsBox.replaceChildren(title, list);
  }

  function applySearch() {
    const q = search.value.trim().toLowerCase();
    if (!trace || !q) {
      searchMask = null;
      searchCount.textContent = "";
    } else {
      const { codes, calls } = trace;
      searchMask = new Uint8Array(codes.count);
      let fns = 0;
      for (let c = 0; c < codes.count; c++) {
        if (codes.name[c].toLowerCase().includes(q) || codes.file[c].toLowerCase().includes(q)) {
          searchMask[c] = 1;
          fns++;
        }
      }
      let n = 0;
      for (let i = 0; i < calls.count; i++) n += searchMask[calls.code[i]];
      searchCount.textContent = `${formatCount(fns)} function${fns === 1 ? "" : "s"}, ${formatCount(n)} call${n === 1 ? "" : "s"}`;
    }
    root.toggleAttribute("data-search-active", searchMask !== null);
    overviewDirty = true;
    schedule();
  }

  // ---- errors ----------------------------------------------------------------------------
  function showError(message) {
    errorBox.textContent = message;
    errorBox.hidden = !message;
  }
  /** Forget the shown trace (after a failed load, so the page never shows one file's name over another's calls). */
  function clearTrace() {
    trace = null;
    index = null;
    visible = new Uint8Array(0);
    lanes = { lanes: [], height: 0 };
    ovLanes = [];
    origin = 0;
    selectedCall = -1;
    selectedCode = -1;
    hoverCall = -1;
    tooltip.hidden = true;
    threadsBox.replaceChildren();
    table.setSummary({ overall: [], threads: [] });
    table.el.hidden = true;
    side.hidden = true;
    setDetailsEmpty();
    windowLabel.textContent = "";
    root.removeAttribute("data-window-start-ns");
    root.removeAttribute("data-window-end-ns");
    root.setAttribute("data-calls", "0");
    placeholder.textContent = "No trace shown.";
    placeholder.hidden = false;
    overviewDirty = true;
    schedule();
  }

  // ---- interaction: zoomed view ----------------------------------------------------------
  let zdrag = null;
  let pointer = null; // the pointer over the zoomed view (view px), null when elsewhere
  const localXY = (e, target) => {
    const r = target.getBoundingClientRect();
    return [e.clientX - r.left, e.clientY - r.top];
  };
  listen(zoom, "wheel", (e) => {
    if (!trace) return;
    e.preventDefault();
    const unit = e.deltaMode === 1 ? 16 : e.deltaMode === 2 ? zoomHeight : 1;
    const dx = e.deltaX * unit;
    const dy = e.deltaY * unit;
    if (e.shiftKey && Math.abs(dx) < Math.abs(dy)) {
      panByPx(dy);
    } else if (Math.abs(dx) > Math.abs(dy)) {
      panByPx(dx);
    } else {
      const [x] = localXY(e, zoom);
      zoomBy(Math.exp(-dy * 0.0015), zoomXToNs(x));
    }
  }, { passive: false });
  listen(zoom, "pointerdown", (e) => {
    if (!trace || e.button !== 0) return;
    const [x, y] = localXY(e, zoom);
    zdrag = { x, y, lastX: x, lastY: y, moved: false, id: e.pointerId };
    if (zoom.setPointerCapture) try { zoom.setPointerCapture(e.pointerId); } catch (_e) { /* synthetic pointer */ }
  });
  listen(zoom, "pointermove", (e) => {
    if (!trace) return;
    const [x, y] = localXY(e, zoom);
    pointer = { x, y };
    if (zdrag) {
      if (!zdrag.moved && Math.hypot(x - zdrag.x, y - zdrag.y) >= DRAG_THRESHOLD_PX) {
        zdrag.moved = true;
        tooltip.hidden = true;
        zoom.classList.add("fprofile-dragging");
      }
      if (zdrag.moved) {
        panByPx(zdrag.lastX - x);
        scrollByPx(zdrag.lastY - y);
        zdrag.lastX = x;
        zdrag.lastY = y;
      }
      return;
    }
    hoverAt(x, y);
  });
  /** Hover state and tooltip for the pointer at (x, y) of the zoomed view. */
  function hoverAt(x, y) {
    const c = hitZoom(x, y);
    if (c !== hoverCall) {
      hoverCall = c;
      zoom.style.cursor = c >= 0 ? "pointer" : "";
      schedule();
    }
    if (c < 0) {
      const t = hitThreadHeader(x, y);
      if (t >= 0) {
        showThreadTooltip(t, x, y);
        return;
      }
    }
    showTooltip(c, x, y);
  }
  /** After the view moved under a still pointer (wheel zoom, keys, brush): what is under it now. */
  function refreshHover() {
    if (pointer && !zdrag && trace) hoverAt(pointer.x, pointer.y);
  }
  const endDrag = (e) => {
    if (!zdrag) return;
    const d = zdrag;
    zdrag = null;
    zoom.classList.remove("fprofile-dragging");
    if (!d.moved && e.type === "pointerup") {
      const [x, y] = localXY(e, zoom);
      const c = hitZoom(x, y);
      selectCall(c);
      root.focus({ preventScroll: true });
    }
  };
  listen(zoom, "pointerup", endDrag);
  listen(zoom, "pointercancel", endDrag);
  listen(zoom, "pointerleave", () => {
    pointer = null;
    if (zdrag) return;
    tooltip.hidden = true;
    if (hoverCall >= 0) {
      hoverCall = -1;
      schedule();
    }
  });
  listen(zoom, "dblclick", (e) => {
    if (!trace) return;
    const [x, y] = localXY(e, zoom);
    const c = hitZoom(x, y);
    if (c >= 0) zoomToCall(c);
    else zoomBy(2, zoomXToNs(x));
  });

  // ---- interaction: overview brush -------------------------------------------------------
  let brush = null;
  listen(overview, "pointerdown", (e) => {
    if (!trace || e.button !== 0) return;
    const [x] = localXY(e, overview);
    const xa = nsToOverviewX(win[0]);
    const xb = nsToOverviewX(win[1]);
    const inside = x >= xa && x <= xb && xb - xa < width * 0.95;
    brush = { x0: x, moved: false, mode: inside ? "move" : "select", win0: win.slice() };
    if (overview.setPointerCapture) try { overview.setPointerCapture(e.pointerId); } catch (_e) { /* synthetic */ }
  });
  listen(overview, "pointermove", (e) => {
    const [x] = localXY(e, overview);
    if (!brush) {
      if (!trace) return;
      const xa = nsToOverviewX(win[0]);
      const xb = nsToOverviewX(win[1]);
      overview.style.cursor = x >= xa && x <= xb && xb - xa < width * 0.95 ? "grab" : "crosshair";
      return;
    }
    if (!brush.moved && Math.abs(x - brush.x0) < DRAG_THRESHOLD_PX) return;
    brush.moved = true;
    if (brush.mode === "move") {
      const dt = (x - brush.x0) / overviewPxPerNs();
      setWin(brush.win0[0] + dt, brush.win0[1] + dt);
    } else {
      const a = overviewXToNs(Math.min(x, brush.x0));
      const b = overviewXToNs(Math.max(x, brush.x0));
      setWin(a, b);
    }
  });
  const endBrush = (e) => {
    if (!brush) return;
    const b = brush;
    brush = null;
    if (!b.moved && e.type === "pointerup") {
      // A click centres the window on that time, keeping its width.
      const t = overviewXToNs(b.x0);
      const w = win[1] - win[0];
      setWin(t - w / 2, t + w / 2);
    }
  };
  listen(overview, "pointerup", endBrush);
  listen(overview, "pointercancel", endBrush);
  listen(overview, "dblclick", () => resetView());

  // ---- toolbar, keyboard -----------------------------------------------------------------
  listen(resetBtn, "click", () => resetView());
  listen(search, "input", applySearch);
  listen(search, "keydown", (e) => {
    if (e.key === "Escape") {
      search.value = "";
      applySearch();
    } else if (e.key === "Enter" && trace && searchMask) {
      // Enter: select the longest matching call and zoom to it.
      const { calls } = trace;
      let best = -1;
      for (let i = 0; i < calls.count; i++) {
        if (searchMask[calls.code[i]] && visible[calls.thread[i]] &&
            (best < 0 || calls.end[i] - calls.start[i] > calls.end[best] - calls.start[best])) best = i;
      }
      if (best >= 0) {
        selectCall(best);
        zoomToCall(best);
      }
    }
    e.stopPropagation();
  });
  listen(root, "keydown", (e) => {
    if (!trace || e.altKey || e.ctrlKey || e.metaKey) return;
    const tag = e.target && e.target.tagName;
    if (tag === "INPUT" || tag === "SELECT" || tag === "TEXTAREA") return;
    let handled = true;
    switch (e.key) {
      case "r": case "R": resetView(); break;
      case "+": case "=": zoomBy(1.5); break;
      case "-": case "_": zoomBy(1 / 1.5); break;
      case "ArrowLeft": panByPx(-width * 0.1); break;
      case "ArrowRight": panByPx(width * 0.1); break;
      case "ArrowUp": scrollByPx(-ZOOM_ROW_PX * 2); break;
      case "ArrowDown": scrollByPx(ZOOM_ROW_PX * 2); break;
      case "Escape": selectCall(-1); break;
      default: handled = false;
    }
    if (handled) e.preventDefault();
  });

  // ---- data ------------------------------------------------------------------------------
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
        table.setSummary(summary);
        message += " The per-function summary below covers the whole trace.";
      }
      showError(message);
      return false;
    }
    if (destroyed) return false;
    tooltip.hidden = true;
    trace = decoded;
    index = buildIndex(trace);
    buckets = Array.from({ length: 2 * trace.codes.count }, () => []);
    colours = codeColours(trace.codes, dark);
    visible = new Uint8Array(trace.threads.length).fill(1);
    selectedCall = -1;
    selectedCode = -1;
    hoverCall = -1;
    scrollY = 0;
    full = fullRange(trace);
    origin = displayOrigin(trace);
    win = [NaN, NaN];
    relayout();
    setWin(full[0], full[1], false);
    buildThreadList();
    table.el.hidden = false;
    side.hidden = false;
    table.setSummary(summary && Array.isArray(summary.overall) ? summary : computeSummary(trace, index));
    applySearch();
    setDetailsEmpty();
    placeholder.textContent = trace.calls.count === 0 ? "This trace has no calls." : "";
    placeholder.hidden = trace.calls.count !== 0;
    root.setAttribute("data-calls", String(trace.calls.count));
    root.setAttribute("data-threads", String(trace.threads.length));
    const bytesLen = bytes.byteLength !== undefined ? bytes.byteLength : 0;
    root.title = "";
    root.dataset.payloadBytes = String(bytesLen);
    applyTheme();
    measure();
    schedule();
    return true;
  }

  applyTheme();
  measure();
  schedule();

  return {
    root,
    setData,
    setWindow(start_ns, end_ns) {
      if (Number.isFinite(start_ns) && Number.isFinite(end_ns) && end_ns > start_ns) setWin(start_ns, end_ns, false);
    },
    onWindowChange(cb) {
      if (typeof cb === "function") windowCallbacks.push(cb);
    },
    showError(message) {
      if (message) clearTrace();
      showError(message);
    },
    /** A short text description of the loaded trace (for hosts' status lines). */
    describe() {
      if (!trace) return "";
      return `${formatCount(trace.calls.count)} calls · ${trace.threads.length} thread${trace.threads.length === 1 ? "" : "s"} · ` +
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
