// zoomview.js: the zoomed view (`canvas.fprofile-zoom`): the calls of the window, lane by lane
// (thread headers, task bands, one row per depth, labels on the boxes wide enough), with more
// than one process a header row per process (processrows.js) and a collapsed process as one
// compact summary lane, the hovered and selected calls outlined, a vertical scroll indicator.
// After each drawing: `data-drawn` = call boxes drawn, `data-bands` = band boxes drawn, and
// `data-process-headers` / `data-band-rows` / `data-lanes` = JSON of the header rows, band rows
// and lanes drawn (their zoom y; tests find them there), `data-task-lanes` = JSON of the task
// lanes drawn (tasklaneview.js: a lane per task under its thread, with the toggle on). The lanes are the window's
// (state.zoomLanes: lanes.js windowLayout, without the threads that have nothing in the window).
// Hit testing (the call, band, thread or process header under a point) and the pointer: wheel
// zooms (pans with shift or a horizontal wheel), drag pans and scrolls, click selects (on a process header: collapses or expands it), double-click zooms
// to a call (to a process's span on its header), hover shows the tooltip. Layer 4 (canvas and
// pointer events).
//
// Spaces (viewport.js): zoom x <-> trace ns over vp.win; zoom y <-> content y (lanes.js
// layoutGroups, scrolled by vp.scrollY under the fixed time axis).

import { forEachBox, lowerBoundEnd, threadNameAt } from "./layout.js";
import { hitLayout, laneOfThread } from "./lanes.js";
import { sizeCanvas, threadColour, drawTimeAxis, fitLabel, viewCanvas } from "./render.js";
import { highlightActive, isHighlighted } from "./state.js";
import { ZOOM_AXIS_PX, DRAG_THRESHOLD_PX } from "./viewport.js";
import { formatCount } from "./units.js";
import { drawBandRows, hitBand } from "./bandrows.js";
import { processHeaderParts, drawProcessHeader } from "./processrows.js";
import { drawTaskLaneHeader, taskLaneFacts } from "./tasklaneview.js";

/** Calls at least this wide (CSS px) get a label. */
const LABEL_MIN_PX = 28;
/** `data-calls-drawn` lists the calls drawn as boxes of their own up to this many. */
const CALLS_DRAWN_MAX = 20000;

/**
 * tl: { doc, root, state, vp, tooltip, listen, localXY(e, target), schedule(), selectCall(c),
 *       zoomToCall(c), zoomBy(factor, atNs), panByPx(dx), scrollByPx(dy), setWin(a, b),
 *       toggleProcess(p) }.
 * Returns { el, draw(), refreshHover() (after the view moved under a still pointer), hitCall(x, y),
 *           pointerProcess() (the process under the pointer, or -1) }.
 */
export function createZoomView(tl) {
  const { doc, state, vp, tooltip } = tl;
  const zoom = viewCanvas(doc, "fprofile-zoom", "Zoomed view of the calls");
  zoom.style.height = `${vp.zoomHeight}px`;
  let charPx = 6.2; // average glyph width of the label font, measured at each drawing

  // ---- drawing ------------------------------------------------------------------------------
  function draw() {
    const W = vp.width;
    const H = vp.zoomHeight;
    const { trace, pal, colours, dark, batch } = state;
    const ctx = sizeCanvas(zoom, W, H);
    ctx.fillStyle = pal.bg;
    ctx.fillRect(0, 0, W, H);
    if (!trace) {
      zoom.setAttribute("data-drawn", "0");
      return;
    }
    const t0 = vp.win[0];
    const t1 = vp.win[1];
    const k = vp.zoomPxPerNs();
    const nsToX = (t) => vp.nsToZoomX(t);
    drawTimeAxis(ctx, pal, W, ZOOM_AXIS_PX, H, t0, t1, nsToX, 90, state.origin);
    const { calls, codes } = trace;
    const hl = highlightActive(state);
    const nCodes = codes.count;
    ctx.save();
    ctx.beginPath();
    ctx.rect(0, ZOOM_AXIS_PX, W, H - ZOOM_AXIS_PX);
    ctx.clip();
    ctx.font = pal.font;
    ctx.textBaseline = "middle";
    charPx = ctx.measureText("abcdefghijklmnopqrstuvwxyz_ABCDEFGH0123").width / 40 || 6.2;
    let boxes = 0;
    let bandBoxes = 0;
    // windowed mode (windowreply.js): runs of calls narrower than a pixel, hatched over their colour
    const runs = calls.runs || null;
    const runRects = [];
    // the calls drawn as boxes of their own, by their index in the whole trace (tests compare the
    // windowed and the whole-trace drawings with it; left out above CALLS_DRAWN_MAX)
    const drawnIds = [];
    const bandRows = [];
    const labels = [];
    const lanesDrawn = [];
    const taskLanesDrawn = [];
    for (const lane of state.zoomLanes.lanes) {
      const ly = vp.contentYToZoomY(lane.top);
      if (ly > H || ly + lane.height < ZOOM_AXIS_PX) continue;
      lanesDrawn.push({ threads: lane.threads, y: Math.round(ly), h: lane.height });
      if (lane.kind === "summary") {
        boxes += drawSummaryLane(lane, ly, t0, t1, k, hl, nCodes);
        continue;
      }
      const task = lane.kind === "task" ? lane.task : null;
      if (task) drawTaskLaneHeader(ctx, state, vp, lane, ly, charPx, taskLanesDrawn);
      else {
        ctx.fillStyle = pal.laneBg;
        ctx.fillRect(0, ly, W, lane.headerPx);
        for (const t of lane.threads) {
          const th = trace.threads[t];
          if (th.lastNs < t0 || th.firstNs > t1) continue;
          const xa = Math.max(-2, nsToX(th.firstNs));
          const xb = Math.min(W + 2, nsToX(th.lastNs));
          ctx.fillStyle = threadColour(t, dark);
          ctx.fillRect(xa, ly + lane.headerPx - 5, Math.max(2, xb - xa), 3);
          ctx.fillStyle = pal.fg;
          ctx.font = pal.font;
          // The name may run past the thread's span up to the next thread of the lane (or the edge);
          // when it does not fit with its tid, the tid goes first.
          let next = W;
          for (const o of lane.threads) {
            if (o !== t && trace.threads[o].firstNs >= th.lastNs) next = Math.min(next, nsToX(trace.threads[o].firstNs));
          }
          const lx = Math.max(4, xa + 2);
          // a label cut short before the next thread's keeps two characters from it: two threads'
          // labels never read as one ("loade… writer")
          const room = Math.max(0, Math.max(xb, next) - lx - 4 - (next < W ? 2 * charPx : 0));
          const name = threadNameAt(th, Math.max(t0, th.firstNs));
          const label = th.osId ? `${name}  (tid ${th.osId})` : name;
          const text = label.length * charPx <= room ? label : fitLabel(name, room, charPx);
          if (text) ctx.fillText(text, lx, ly + 7);
        }
      }
      if (task) bandBoxes += drawBandRows(ctx, state, vp, lane, ly, charPx, [], () => [task.bands]);
      else if (lane.bandRows > 0) bandBoxes += drawBandRows(ctx, state, vp, lane, ly, charPx, bandRows);
      const rowPx = lane.rowPx;
      for (let d = 0; d < lane.rows; d++) {
        const y = ly + lane.callsTop + d * rowPx;
        if (y > H || y + rowPx < ZOOM_AXIS_PX) continue;
        for (const t of lane.threads) {
          const rows = task ? task.rows : state.index.threadRows[t];
          if (d >= rows.length) continue;
          boxes += forEachBox(rows[d], calls.start, calls.end, t0, t1, k, 1, (c, x0, x1, count) => {
            const code = calls.code[c];
            const a = Math.max(-1, x0);
            const b = Math.min(W + 1, x1);
            const w = b - a;
            batch.add(hl && !isHighlighted(state, code) ? code + nCodes : code, a, y, w > 3 ? w - 1 : w, rowPx - 1);
            if (runs && (count > 1 || runs[c] !== 1)) runRects.push(a, y, w > 3 ? w - 1 : w, rowPx - 1, count === 1 ? runs[c] : 0);
            else if (count === 1) {
              if (drawnIds.length <= CALLS_DRAWN_MAX) drawnIds.push(runs ? calls.call[c] : c);
              if (w >= LABEL_MIN_PX) labels.push(c, a, w, y, rowPx);
            }
          });
        }
      }
    }
    batch.fill(ctx, (key) => (key < nCodes ? colours.fill[key] : colours.faded[key - nCodes]));
    if (runRects.length) drawRuns(ctx, runRects);
    // Labels after the boxes: one font, fewer state changes.
    // Each label in the colour that reads best on its box (dark or light text).
    let labelColour = "";
    for (let i = 0; i < labels.length; i += 5) {
      const c = labels[i];
      const code = calls.code[c];
      if (hl && !isHighlighted(state, code)) continue;
      const text = fitLabel(codes.name[code], labels[i + 2] - 6, charPx);
      if (!text) continue;
      if (colours.text[code] !== labelColour) {
        labelColour = colours.text[code];
        ctx.fillStyle = labelColour;
      }
      ctx.fillText(text, labels[i + 1] + 3, labels[i + 3] + (labels[i + 4] - 1) / 2);
    }
    if (hl) {
      ctx.fillStyle = pal.muted;
      for (let i = 0; i < labels.length; i += 5) {
        const code = calls.code[labels[i]];
        if (isHighlighted(state, code)) continue;
        const text = fitLabel(codes.name[code], labels[i + 2] - 6, charPx);
        if (text) ctx.fillText(text, labels[i + 1] + 3, labels[i + 3] + (labels[i + 4] - 1) / 2);
      }
    }
    outlineCall(ctx, state.hoverCall, pal.fg, 1);
    outlineCall(ctx, state.selectedCall, pal.select, 2);
    const headers = drawProcessHeaders(ctx, H);
    ctx.restore();
    // Vertical scroll indicator.
    const ms = vp.maxScrollY();
    if (ms > 0) {
      const viewH = H - ZOOM_AXIS_PX;
      const barH = Math.max(20, viewH * viewH / (state.zoomLanes.height + 8));
      const barY = ZOOM_AXIS_PX + (viewH - barH) * (vp.scrollY / ms);
      ctx.fillStyle = dark ? "rgba(255,255,255,0.25)" : "rgba(0,0,0,0.22)";
      ctx.fillRect(W - 5, barY, 4, barH);
    }
    zoom.setAttribute("data-drawn", String(boxes));
    zoom.setAttribute("data-runs", String(runRects.length / 5));
    zoom.setAttribute("data-calls-drawn", drawnIds.length <= CALLS_DRAWN_MAX ? JSON.stringify(drawnIds) : "");
    zoom.setAttribute("data-bands", String(bandBoxes));
    zoom.setAttribute("data-process-headers", JSON.stringify(headers));
    zoom.setAttribute("data-band-rows", JSON.stringify(bandRows));
    zoom.setAttribute("data-lanes", JSON.stringify(lanesDrawn));
    zoom.setAttribute("data-task-lanes", JSON.stringify(taskLanesDrawn));
  }

  /** Runs (x, y, w, h, calls: 0 when several items merged) hatched so they read as "many calls here"; the count where it fits. */
  let hatch = null;
  function drawRuns(ctx, rects) {
    const { pal, dark } = state;
    if (!hatch || hatch.dark !== dark) {
      const tile = doc.createElement("canvas");
      tile.width = 6;
      tile.height = 6;
      const t = tile.getContext("2d");
      t.strokeStyle = dark ? "rgba(0,0,0,0.55)" : "rgba(255,255,255,0.7)";
      t.lineWidth = 1.5;
      t.beginPath();
      t.moveTo(-1, 7);
      t.lineTo(7, -1);
      t.stroke();
      hatch = { dark, pattern: ctx.createPattern(tile, "repeat") };
    }
    if (hatch.pattern) {
      ctx.fillStyle = hatch.pattern;
      for (let i = 0; i < rects.length; i += 5) ctx.fillRect(rects[i], rects[i + 1], rects[i + 2], rects[i + 3]);
    }
    ctx.fillStyle = pal.fg;
    for (let i = 0; i < rects.length; i += 5) {
      if (!rects[i + 4] || rects[i + 2] < LABEL_MIN_PX) continue;
      const text = fitLabel(`×${formatCount(rects[i + 4])}`, rects[i + 2] - 6, charPx);
      if (text) ctx.fillText(text, rects[i] + 3, rects[i + 1] + rects[i + 3] / 2);
    }
  }

  /** A collapsed process's summary lane at zoom y `ly`: its threads' first depths, compact, unlabelled. */
  function drawSummaryLane(lane, ly, t0, t1, k, hl, nCodes) {
    const { calls } = state.trace;
    const W = vp.width;
    let boxes = 0;
    for (let d = 0; d < lane.rows; d++) {
      const y = ly + d * lane.rowPx;
      for (const t of lane.threads) {
        const rows = state.index.threadRows[t];
        if (d >= rows.length) continue;
        boxes += forEachBox(rows[d], calls.start, calls.end, t0, t1, k, 1, (c, x0, x1) => {
          const code = calls.code[c];
          const a = Math.max(-1, x0);
          state.batch.add(hl && !isHighlighted(state, code) ? code + nCodes : code, a, y, Math.min(W + 1, x1) - a, lane.rowPx - 1);
        });
      }
    }
    return boxes;
  }

  /** The header rows of the visible processes (over the lanes' area); returns [{ process, y, collapsed }]. */
  function drawProcessHeaders(ctx, H) {
    const out = [];
    const { trace, pal } = state;
    for (const g of state.zoomLanes.groups) {
      if (!g.headerPx) continue;
      const y = vp.contentYToZoomY(g.top);
      if (y > H || y + g.headerPx < ZOOM_AXIS_PX) continue;
      const proc = state.processes[g.process];
      const parts = processHeaderParts(proc, g.collapsed, state.processThreads[g.process].length);
      drawProcessHeader(ctx, pal, proc, parts, y, g.headerPx, vp.width, (t) => vp.nsToZoomX(t), charPx);
      out.push({ process: g.process, y, h: g.headerPx, collapsed: g.collapsed });
    }
    if (trace && out.length) ctx.font = pal.font;
    return out;
  }

  /** Call `c`'s box in zoom x / zoom y, or null (no call, hidden thread); `inTask`: its box in its task lane. */
  function callRect(c, inTask = false) {
    const { trace } = state;
    if (c < 0 || !trace) return null;
    const t = trace.calls.thread[c];
    if (!state.visible[t]) return null;
    let lane = laneOfThread(state.zoomLanes, t);
    let depth = trace.calls.depth[c];
    if (inTask) {
      const ti = state.taskIndex;
      const owner = ti && ti.trace === trace ? ti.owner[c] : -1;
      lane = owner >= 0 ? state.zoomLanes.lanes.find((l) => l.task === ti.lanes[owner]) : null;
      depth = lane ? ti.depth[c] : 0;
    }
    if (!lane || depth >= lane.rows) return null;
    const y = vp.contentYToZoomY(lane.top + lane.callsTop + depth * lane.rowPx);
    const x0 = vp.nsToZoomX(trace.calls.start[c]);
    const x1 = Math.max(x0 + 1, vp.nsToZoomX(trace.calls.end[c]));
    return { x0, x1, y, h: lane.rowPx - 1 };
  }
  function outlineCall(ctx, c, colour, lw, inTask = false) {
    if (!inTask && state.taskLanes) outlineCall(ctx, c, colour, lw, true);
    const r = callRect(c, inTask);
    if (!r || r.x1 < -2 || r.x0 > vp.width + 2) return;
    ctx.strokeStyle = colour;
    ctx.lineWidth = lw;
    const a = Math.max(-2, r.x0);
    const b = Math.min(vp.width + 2, r.x1);
    ctx.strokeRect(a + lw / 2, r.y + lw / 2, Math.max(1, b - a - lw), r.h - lw);
  }

  // ---- hit testing --------------------------------------------------------------------------
  /** What is at zoom y `y` (lanes.js hitLayout), or null. */
  function hitAt(y) {
    if (!state.trace || y < ZOOM_AXIS_PX) return null;
    return hitLayout(state.zoomLanes, vp.zoomYToContentY(y));
  }
  /** The band under zoom (x, y) (within 2 px along x), or -1. */
  function hitBandAt(x, y) {
    const hit = hitAt(y);
    if (!hit || hit.kind !== "band") return -1;
    const { task } = hit.lane;
    return hitBand(state, hit.lane, hit.row, vp.zoomXToNs(x), 2 / vp.zoomPxPerNs(), task ? () => [task.bands] : undefined);
  }
  /** The task lane at zoom y `y` (anywhere in it), or null. */
  function hitTaskLane(y) {
    const hit = hitAt(y);
    return hit && hit.lane && hit.lane.kind === "task" ? hit.lane : null;
  }
  /** The process whose header row is at zoom y `y`, or -1. */
  function hitProcessHeader(y) {
    const hit = hitAt(y);
    return hit && hit.kind === "process" ? hit.group.process : -1;
  }

  /** The call under zoom (x, y) (within 2 px along x), or -1. */
  function hitCall(x, y) {
    const { trace } = state;
    const hit = hitAt(y);
    if (!hit || hit.kind !== "calls") return -1;
    const { lane } = hit;
    const d = hit.depth;
    if (d < 0 || d >= lane.rows) return -1;
    const t = vp.zoomXToNs(x);
    const tol = 2 / vp.zoomPxPerNs();
    const { start, end } = trace.calls;
    let best = -1;
    let bestDist = Infinity;
    for (const ti of lane.threads) {
      const rows = lane.task ? lane.task.rows : state.index.threadRows[ti];
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

  /** The thread whose span line / name is under zoom (x, y) in a lane header (within 40 px), or -1. */
  function hitThreadHeader(x, y) {
    const { trace } = state;
    const hit = hitAt(y);
    if (!hit || hit.kind !== "thread") return -1;
    const { lane } = hit;
    const t = vp.zoomXToNs(x);
    let best = -1;
    let bestDist = Infinity;
    for (const ti of lane.threads) {
      const th = trace.threads[ti];
      const dist = t < th.firstNs ? th.firstNs - t : t > th.lastNs ? t - th.lastNs : 0;
      if (dist < bestDist) { best = ti; bestDist = dist; }
    }
    return bestDist * vp.zoomPxPerNs() <= 40 ? best : -1;
  }

  // ---- pointer ------------------------------------------------------------------------------
  let drag = null;
  let pointer = null; // the pointer over the zoomed view (zoom x / y), null when elsewhere
  tl.listen(zoom, "wheel", (e) => {
    if (!state.trace) return;
    e.preventDefault();
    const unit = e.deltaMode === 1 ? 16 : e.deltaMode === 2 ? vp.zoomHeight : 1;
    const dx = e.deltaX * unit;
    const dy = e.deltaY * unit;
    if (e.shiftKey && Math.abs(dx) < Math.abs(dy)) {
      tl.panByPx(dy);
    } else if (Math.abs(dx) > Math.abs(dy)) {
      tl.panByPx(dx);
    } else {
      const [x] = tl.localXY(e, zoom);
      tl.zoomBy(Math.exp(-dy * 0.0015), vp.zoomXToNs(x));
    }
  }, { passive: false });
  tl.listen(zoom, "pointerdown", (e) => {
    if (!state.trace || e.button !== 0) return;
    const [x, y] = tl.localXY(e, zoom);
    drag = { x, y, lastX: x, lastY: y, moved: false, id: e.pointerId };
    if (zoom.setPointerCapture) try { zoom.setPointerCapture(e.pointerId); } catch (_e) { /* synthetic pointer */ }
  });
  tl.listen(zoom, "pointermove", (e) => {
    if (!state.trace) return;
    const [x, y] = tl.localXY(e, zoom);
    pointer = { x, y };
    if (drag) {
      if (!drag.moved && Math.hypot(x - drag.x, y - drag.y) >= DRAG_THRESHOLD_PX) {
        drag.moved = true;
        tooltip.hide();
        zoom.classList.add("fprofile-dragging");
      }
      if (drag.moved) {
        tl.panByPx(drag.lastX - x);
        tl.scrollByPx(drag.lastY - y);
        drag.lastX = x;
        drag.lastY = y;
      }
      return;
    }
    hoverAt(x, y);
  });
  /** Hover state and tooltip for the pointer at zoom (x, y). */
  function hoverAt(x, y) {
    const c = hitCall(x, y);
    if (c !== state.hoverCall) {
      state.hoverCall = c;
      zoom.style.cursor = c >= 0 ? "pointer" : "";
      tl.schedule();
    }
    if (c < 0) {
      const p = hitProcessHeader(y);
      zoom.style.cursor = p >= 0 ? "pointer" : "";
      if (p >= 0) {
        tooltip.showProcess(p, x, y);
        return;
      }
      const b = hitBandAt(x, y);
      if (b >= 0) {
        tooltip.showBand(b, x, y);
        return;
      }
      const t = hitThreadHeader(x, y);
      if (t >= 0) {
        tooltip.showThread(t, x, y);
        return;
      }
      const taskLane = hitTaskLane(y);
      if (taskLane) {
        tooltip.showFacts(taskLane.task.label, taskLaneFacts(state, vp, taskLane), "task", x, y);
        return;
      }
    }
    tooltip.showCall(c, x, y);
  }
  const endDrag = (e) => {
    if (!drag) return;
    const d = drag;
    drag = null;
    zoom.classList.remove("fprofile-dragging");
    if (!d.moved && e.type === "pointerup") {
      const [x, y] = tl.localXY(e, zoom);
      const p = hitProcessHeader(y);
      if (p >= 0) tl.toggleProcess(p);
      else tl.selectCall(hitCall(x, y));
      tl.root.focus({ preventScroll: true });
    }
  };
  tl.listen(zoom, "pointerup", endDrag);
  tl.listen(zoom, "pointercancel", endDrag);
  tl.listen(zoom, "pointerleave", () => {
    pointer = null;
    if (drag) return;
    tooltip.hide();
    if (state.hoverCall >= 0) {
      state.hoverCall = -1;
      tl.schedule();
    }
  });
  tl.listen(zoom, "dblclick", (e) => {
    if (!state.trace) return;
    const [x, y] = tl.localXY(e, zoom);
    const p = hitProcessHeader(y);
    if (p >= 0) {
      // The two clicks of a double-click toggled the process twice: the double-click zooms to its span.
      const proc = state.processes[p];
      if (proc.endNs > proc.startNs) tl.setWin(...vp.windowAround(proc.startNs, proc.endNs));
      return;
    }
    const c = hitCall(x, y);
    const taskLane = c < 0 ? hitTaskLane(y) : null;
    if (c >= 0) tl.zoomToCall(c);
    else if (taskLane) tl.setWin(...vp.windowAround(taskLane.task.firstNs, taskLane.task.lastNs)); // to the task's span
    else tl.zoomBy(2, vp.zoomXToNs(x));
  });

  return {
    el: zoom,
    draw,
    hitCall,
    /** The process under the pointer (its header row or one of its lanes), or -1. */
    pointerProcess() {
      if (!pointer) return -1;
      const hit = hitAt(pointer.y);
      if (!hit) return -1;
      return hit.kind === "process" ? hit.group.process : hit.lane.process;
    },
    /** After the view moved under a still pointer (wheel zoom, keys, brush): what is under it now. */
    refreshHover() {
      if (pointer && !drag && state.trace) hoverAt(pointer.x, pointer.y);
    },
  };
}
