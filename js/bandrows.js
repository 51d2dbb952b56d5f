// bandrows.js: the task bands of the zoomed view (a Dask task a thread ran, drawn as a thin box
// above that thread's calls): colours per task name, drawing (boxes batched by colour, narrow ones
// merged like calls, the task key as canvas text where it fits) and hit testing. lanes.js gives
// the rows (buildBandIndex) and where they go (layoutGroups). Layer 4 (canvas).

import { forEachBox, lowerBoundEnd, hashString } from "./layout.js";
import { fitLabel } from "./render.js";

/** Bands at least this wide (CSS px) get their label. */
const BAND_LABEL_MIN_PX = 24;

/**
 * Colours per task name (`keys` of the band index), for the theme: colour key k < keys.length is
 * the band's pale fill, k + keys.length the strong line along its bottom edge (what tells a band
 * from a call at a glance).
 */
export function bandColours(keys, dark) {
  const hues = keys.map((k) => hashString(k) % 360);
  return [
    ...hues.map((h) => (dark ? `hsl(${h} 28% 27%)` : `hsl(${h} 45% 88%)`)),
    ...hues.map((h) => (dark ? `hsl(${h} 70% 62%)` : `hsl(${h} 70% 38%)`)),
  ];
}

/**
 * Draw the band rows of `lane` (its top at zoom y `ly`) for the window; `charPx`: the average
 * glyph width of the label font. Appends { thread, row, y } per band row drawn to `drawnRows`
 * and returns the number of boxes drawn. `rowsOf(t)`: thread t's band rows (a task lane's: its
 * own, tasklaneview.js).
 */
export function drawBandRows(ctx, state, vp, lane, ly, charPx, drawnRows, rowsOf = (t) => state.bands.threadRows[t]) {
  const { bands, pal } = state;
  const t0 = vp.win[0];
  const t1 = vp.win[1];
  const k = vp.zoomPxPerNs();
  const W = vp.width;
  const h = lane.bandPx - 2;
  const nKeys = bands.keys.length;
  const labels = [];
  let boxes = 0;
  for (let r = 0; r < lane.bandRows; r++) {
    const y = ly + lane.headerPx + r * lane.bandPx + 1;
    for (const t of lane.threads) {
      const rows = rowsOf(t);
      if (r >= rows.length) continue;
      drawnRows.push({ thread: t, row: r, y });
      boxes += forEachBox(rows[r], bands.start, bands.end, t0, t1, k, 1, (b, x0, x1, count) => {
        const a = Math.max(-1, x0);
        const w = Math.min(W + 1, x1) - a;
        const bw = w > 3 ? w - 1 : w;
        state.bandBatch.add(bands.key[b], a, y, bw, h - 2);
        state.bandBatch.add(bands.key[b] + nKeys, a, y + h - 2, bw, 2);
        if (count === 1 && w >= BAND_LABEL_MIN_PX) labels.push(b, a, w, y);
      });
    }
  }
  state.bandBatch.fill(ctx, (key) => state.bandColours[key]);
  if (labels.length) {
    ctx.font = pal.smallFont;
    ctx.fillStyle = pal.fg;
    const smallPx = charPx * 0.92;
    for (let i = 0; i < labels.length; i += 4) {
      const text = bandText(bands, labels[i], labels[i + 2] - 6, smallPx);
      if (text) ctx.fillText(text, labels[i + 1] + 3, labels[i + 3] + (h - 2) / 2);
    }
    ctx.font = pal.font;
  }
  return boxes;
}

/**
 * The text of band `b` in `maxPx`: its task key when it fits, else its task name (the key without
 * its hash and index: "inc" for "('inc-4c8a…', 3)"), cut short if need be.
 */
export function bandText(bands, b, maxPx, charPx) {
  const label = bands.label[b];
  if (label.length * charPx <= maxPx) return label;
  return fitLabel(bands.keys[bands.key[b]], maxPx, charPx);
}

/** The band of band row `row` of `lane` at trace time `t` (within `tol` ns), or -1 (`rowsOf`: as for drawBandRows). */
export function hitBand(state, lane, row, t, tol, rowsOf = (th) => state.bands.threadRows[th]) {
  const { bands } = state;
  let best = -1;
  let bestDist = Infinity;
  for (const th of lane.threads) {
    const rows = rowsOf(th);
    if (row >= rows.length) continue;
    const r = rows[row];
    for (let i = lowerBoundEnd(r, bands.end, t - tol); i < r.length && bands.start[r[i]] <= t + tol; i++) {
      const b = r[i];
      const dist = t < bands.start[b] ? bands.start[b] - t : t > bands.end[b] ? t - bands.end[b] : 0;
      if (dist < bestDist) { best = b; bestDist = dist; }
      if (dist === 0) break;
    }
  }
  return best;
}
