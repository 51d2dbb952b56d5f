// icicle.js: the icicle drawing the flame graph view (flameview.js) and the comparison's
// differential flame graph (diffview.js) share: flame.js columns laid out by flameLayout drawn
// into a canvas row by row (boxes batched by colour, labels where wide enough, nodes narrower
// than a fraction of a pixel left out with their subtrees), the hit testing of what was drawn,
// and a share as text. Layer 4 (canvas; render).

import { fitLabel } from "./render.js";

export const FLAME_ROW_PX = 18;
/** Nodes at least this wide (CSS px) get a label. */
const FLAME_LABEL_MIN_PX = 28;
/** Nodes narrower than this (CSS px) are not drawn, nor their subtrees. */
const FLAME_MIN_PX = 0.4;

/**
 * Draw an icicle of flame `f` (flame.js columns) laid out by `lay` (flame.js flameLayout) into
 * `ctx`, showing the layout's range [u0, u1) over the width `W`.
 * o: { u0, u1, W, focus (a node: its ancestors are drawn full width; -1: none), top (y of depth
 *      0), upward (depth d at top - d * rowPx instead of top + d * rowPx), yMin, yMax (what is
 *      visible), batch (render.js BoxBatch), keyOf(i) (its batch key), styleOf(key),
 *      labelOf(i), textOf(i) (label colour), charPx, widths (of the layout; default f.total) }.
 * Returns the boxes drawn as { node, x, y, w } columns for hit testing: { count, node, x, y, w }.
 */
export function drawIcicle(ctx, f, lay, o) {
  const widths = o.widths || f.total;
  const row = FLAME_ROW_PX;
  const span = o.u1 - o.u0;
  const k = span > 0 ? o.W / span : 0;
  const hits = { count: 0, node: [], x: [], y: [], w: [] };
  const labels = [];
  const yOf = (d) => (o.upward ? o.top - d * row : o.top + d * row);
  const box = (i, x, w) => {
    const y = yOf(f.depth[i]);
    o.batch.add(o.keyOf(i), x, y, Math.max(w - 1, 0.5), row - 1);
    hits.node.push(i);
    hits.x.push(x);
    hits.y.push(y);
    hits.w.push(w);
    hits.count++;
    if (w >= FLAME_LABEL_MIN_PX) labels.push(i, x, y, w);
  };
  for (let a = o.focus >= 0 ? f.parent[o.focus] : -1; a >= 0; a = f.parent[a]) box(a, 0, o.W);
  const from = o.focus >= 0 ? o.focus : 0;
  const to = o.focus >= 0 ? lay.end[o.focus] : f.count;
  for (let i = from; i < to;) {
    const w = widths[i] * k;
    const x = (lay.x[i] - o.u0) * k;
    const y = yOf(f.depth[i]);
    const below = o.upward ? y + row < o.yMin : y > o.yMax; // deeper rows are further out
    if (w < FLAME_MIN_PX || below || x >= o.W || x + w <= 0) {
      i = lay.end[i];
      continue;
    }
    if ((o.upward ? y <= o.yMax : y + row >= o.yMin)) box(i, x, w);
    i++;
  }
  o.batch.fill(ctx, o.styleOf);
  ctx.textBaseline = "middle";
  for (let j = 0; j < labels.length; j += 4) {
    const i = labels[j];
    const x = Math.max(0, labels[j + 1]);
    const w = Math.min(o.W, labels[j + 1] + labels[j + 3]) - x;
    const text = fitLabel(o.labelOf(i), w - 6, o.charPx);
    if (!text) continue;
    ctx.fillStyle = o.textOf(i);
    ctx.fillText(text, x + 3, labels[j + 2] + row / 2);
  }
  return hits;
}

/** The box of `hits` (drawIcicle) under (x, y), or -1: its index in hits. */
export function hitIcicle(hits, x, y) {
  for (let j = hits.count - 1; j >= 0; j--) {
    if (x >= hits.x[j] && x < hits.x[j] + hits.w[j] && y >= hits.y[j] && y < hits.y[j] + FLAME_ROW_PX) return j;
  }
  return -1;
}

/** The share `part / whole` as text ("12.5 %"; "–" when whole is 0). */
export function shareText(part, whole) {
  if (!(whole > 0)) return "–";
  const p = (100 * part) / whole;
  return `${p >= 10 || p === 0 ? p.toFixed(1) : p.toPrecision(2)} %`;
}
