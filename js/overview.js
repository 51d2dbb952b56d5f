// overview.js: the overview (`canvas.fprofile-overview`): every lane over the whole run (with more
// than one process, under a thin header strip per process; a collapsed process is its summary
// lane), drawn
// once into an offscreen canvas (redrawn only when invalidated: new data, theme, width, lanes,
// selection, search), with the brush (the zoomed window) drawn over it every frame. Dragging
// outside the brush selects a new window, dragging inside moves it, a click centres it, a
// double-click shows the whole run. Layer 4 (canvas and pointer events).
//
// Spaces (viewport.js): overview x <-> trace ns over vp.full; y from the top of the canvas.

import { forEachBox } from "./layout.js";
import { overviewRows } from "./lanes.js";
import { sizeCanvas, threadColour, drawTimeAxis, viewCanvas } from "./render.js";
import { processHeaderParts, drawOverviewProcessHeader } from "./processrows.js";
import { highlightActive, isHighlighted } from "./state.js";
import { DRAG_THRESHOLD_PX } from "./viewport.js";

const OVERVIEW_AXIS_PX = 16;
const OVERVIEW_MAX_PX = 170;
const OVERVIEW_PROC_PX = 12;

/**
 * tl: { doc, win0, state, vp, listen, localXY(e, target), setWin(a, b), resetView() }.
 * Returns { el, layout() (after the lanes changed), invalidate(), draw() }.
 */
export function createOverview(tl) {
  const { doc, win0, state, vp } = tl;
  const overview = viewCanvas(doc, "fprofile-overview", "Overview of the whole run: drag to choose the zoomed window");
  overview.style.height = "60px";
  let overviewHeight = 60;
  let rowsOf = overviewRows(state.lanes, OVERVIEW_AXIS_PX, OVERVIEW_MAX_PX, OVERVIEW_PROC_PX);
  let cache = null;
  let dirty = true;

  /** One band per lane, as high as fits OVERVIEW_MAX_PX (8 to 24 px), under its process's strip. */
  function layout() {
    rowsOf = overviewRows(state.lanes, OVERVIEW_AXIS_PX, OVERVIEW_MAX_PX, OVERVIEW_PROC_PX);
    overviewHeight = rowsOf.height;
    dirty = true;
  }

  function renderCache() {
    const { width } = vp;
    const { pal, colours, dark } = state;
    // windowed mode: the overview reply (the whole run at the overview's resolution, fetched once)
    const trace = state.overviewTrace || state.trace;
    const index = state.overviewIndex || state.index;
    const dpr = win0.devicePixelRatio || 1;
    if (!cache) cache = doc.createElement("canvas");
    cache.width = Math.max(1, Math.round(width * dpr));
    cache.height = Math.max(1, Math.round(overviewHeight * dpr));
    const ctx = cache.getContext("2d", { alpha: false });
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = pal.bg;
    ctx.fillRect(0, 0, width, overviewHeight);
    if (!trace) return;
    const nsToX = (t) => vp.nsToOverviewX(t);
    drawTimeAxis(ctx, pal, width, OVERVIEW_AXIS_PX, overviewHeight, vp.full[0], vp.full[1], nsToX, 110, state.origin);
    const k = vp.overviewPxPerNs();
    const { calls } = trace;
    const hl = highlightActive(state);
    const nCodes = trace.codes.count;
    const { batch } = state;
    const lanes = state.lanes.lanes;
    const { lanePx } = rowsOf;
    for (let li = 0; li < lanes.length; li++) {
      const lane = lanes[li];
      const y = rowsOf.laneY[li];
      const rowsPx = lanePx - 5;
      const rowPx = Math.max(1, Math.min(3, rowsPx / Math.max(1, lane.rows)));
      const shownRows = Math.min(lane.rows, Math.floor(rowsPx / rowPx));
      for (const t of lane.threads) {
        const th = trace.threads[t];
        ctx.fillStyle = threadColour(t, dark);
        const xa = nsToX(th.firstNs);
        ctx.fillRect(xa, y + 1, Math.max(1, nsToX(th.lastNs) - xa), 1.5);
        const rows = index.threadRows[t];
        for (let d = 0; d < Math.min(shownRows, rows.length); d++) {
          const yy = y + 4 + d * rowPx;
          forEachBox(rows[d], calls.start, calls.end, vp.full[0], vp.full[1], k, 1, (c, x0, x1) => {
            const code = calls.code[c];
            batch.add(hl && !isHighlighted(state, code) ? code + nCodes : code, x0, yy, x1 - x0, rowPx);
          });
        }
      }
    }
    batch.fill(ctx, (key) => (key < nCodes ? colours.fill[key] : colours.faded[key - nCodes]));
    if (!rowsOf.procPx) return;
    ctx.font = pal.smallFont;
    const charPx = ctx.measureText("abcdefghijklmnopqrstuvwxyz_ABCDEFGH0123").width / 40 || 5.6;
    state.lanes.groups.forEach((g, gi) => {
      const proc = state.processes[g.process];
      const parts = processHeaderParts(proc, g.collapsed, state.processThreads[g.process].length);
      drawOverviewProcessHeader(ctx, pal, proc, parts, rowsOf.groupY[gi], rowsOf.procPx, width, nsToX, charPx);
    });
  }

  function draw() {
    const { width } = vp;
    const { trace, pal, dark } = state;
    if (dirty) {
      overview.style.height = `${overviewHeight}px`;
      renderCache();
      dirty = false;
    }
    const ctx = sizeCanvas(overview, width, overviewHeight);
    ctx.drawImage(cache, 0, 0, width, overviewHeight);
    if (!trace) return;
    const xa = Math.max(0, vp.nsToOverviewX(vp.win[0]));
    const xb = Math.min(width, vp.nsToOverviewX(vp.win[1]));
    ctx.fillStyle = dark ? "rgba(0,0,0,0.45)" : "rgba(255,255,255,0.6)";
    ctx.fillRect(0, OVERVIEW_AXIS_PX, xa, overviewHeight - OVERVIEW_AXIS_PX);
    ctx.fillRect(xb, OVERVIEW_AXIS_PX, width - xb, overviewHeight - OVERVIEW_AXIS_PX);
    ctx.fillStyle = pal.brush;
    ctx.fillRect(xa, OVERVIEW_AXIS_PX, Math.max(1, xb - xa), overviewHeight - OVERVIEW_AXIS_PX);
    ctx.strokeStyle = pal.accent;
    ctx.lineWidth = 1.5;
    ctx.strokeRect(xa + 0.75, OVERVIEW_AXIS_PX + 0.75, Math.max(1, xb - xa - 1.5), overviewHeight - OVERVIEW_AXIS_PX - 1.5);
  }

  // ---- the brush ----------------------------------------------------------------------------
  /** Is overview x `x` inside the brush (and the brush narrower than the whole view)? */
  function insideBrush(x) {
    const xa = vp.nsToOverviewX(vp.win[0]);
    const xb = vp.nsToOverviewX(vp.win[1]);
    return x >= xa && x <= xb && xb - xa < vp.width * 0.95;
  }
  let brush = null;
  tl.listen(overview, "pointerdown", (e) => {
    if (!state.trace || e.button !== 0) return;
    const [x] = tl.localXY(e, overview);
    brush = { x0: x, moved: false, mode: insideBrush(x) ? "move" : "select", win0: vp.win.slice() };
    if (overview.setPointerCapture) try { overview.setPointerCapture(e.pointerId); } catch (_e) { /* synthetic */ }
  });
  tl.listen(overview, "pointermove", (e) => {
    const [x] = tl.localXY(e, overview);
    if (!brush) {
      if (!state.trace) return;
      overview.style.cursor = insideBrush(x) ? "grab" : "crosshair";
      return;
    }
    if (!brush.moved && Math.abs(x - brush.x0) < DRAG_THRESHOLD_PX) return;
    brush.moved = true;
    if (brush.mode === "move") {
      const dt = (x - brush.x0) / vp.overviewPxPerNs();
      tl.setWin(brush.win0[0] + dt, brush.win0[1] + dt);
    } else {
      const a = vp.overviewXToNs(Math.min(x, brush.x0));
      const b = vp.overviewXToNs(Math.max(x, brush.x0));
      tl.setWin(a, b);
    }
  });
  const endBrush = (e) => {
    if (!brush) return;
    const b = brush;
    brush = null;
    if (!b.moved && e.type === "pointerup") {
      // A click centres the window on that time, keeping its width.
      const t = vp.overviewXToNs(b.x0);
      const w = vp.win[1] - vp.win[0];
      tl.setWin(t - w / 2, t + w / 2);
    }
  };
  tl.listen(overview, "pointerup", endBrush);
  tl.listen(overview, "pointercancel", endBrush);
  tl.listen(overview, "dblclick", () => tl.resetView());

  return {
    el: overview,
    layout,
    invalidate() {
      dirty = true;
    },
    draw,
  };
}
