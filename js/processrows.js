// processrows.js: the process header rows (a trace of more than one process): what a header says
// (disclosure mark, name, pid, host, threads, "incomplete", "own clock") and its drawing in the
// zoomed view (a full row, its process's span as a line, text that stays at the left edge while
// the window moves) and in the overview (a thin strip). Names are drawn as canvas text.
// Layer 4 (canvas).

import { fitLabel } from "./render.js";

/**
 * The parts of a header's text, drawn one after the other: [{ text, role: "name" | "muted" |
 * "warn" }]. `threads`: how many threads the process has.
 */
export function processHeaderParts(proc, collapsed, threads) {
  const facts = [];
  if (proc.pid) facts.push(`pid ${proc.pid}`);
  if (proc.host) facts.push(proc.host);
  facts.push(`${threads} thread${threads === 1 ? "" : "s"}`);
  if (collapsed) facts.push("collapsed");
  const parts = [
    { text: `${collapsed ? "▸" : "▾"} ${proc.name || "process"}`, role: "name" },
    { text: `   ${facts.join(" · ")}`, role: "muted" },
  ];
  if (proc.incomplete) parts.push({ text: "   incomplete", role: "warn" });
  if (proc.aligned === false) parts.push({ text: "   on its own clock, not aligned", role: "warn" });
  return parts;
}

function partColour(pal, role) {
  return role === "warn" ? pal.warn : role === "muted" ? pal.muted : pal.fg;
}

/** Text parts left to right from x, each cut to what is left of `right` (canvas text). */
function drawParts(ctx, pal, parts, x, y, right, charPx) {
  for (const part of parts) {
    const text = fitLabel(part.text, right - x, charPx);
    if (!text) break;
    ctx.fillStyle = partColour(pal, part.role);
    ctx.fillText(text, x, y);
    x += ctx.measureText(text).width;
    if (text !== part.text) break;
  }
}

/**
 * A header row of the zoomed view at zoom y `y`, `h` high and `W` wide: background, the
 * process's span [startNs, endNs] as a line along its bottom (`nsToX`: trace ns to zoom x), text.
 */
export function drawProcessHeader(ctx, pal, proc, parts, y, h, W, nsToX, charPx) {
  ctx.fillStyle = pal.procBg;
  ctx.fillRect(0, y, W, h);
  ctx.fillStyle = pal.grid;
  ctx.fillRect(0, y, W, 1);
  drawSpan(ctx, pal, proc, y + h - 3, 2, W, nsToX);
  ctx.font = pal.font;
  drawParts(ctx, pal, parts, 6, y + h / 2, W - 8, charPx);
}

/** The overview's strip for a process at y, `h` high (`charPx`: of the small font). */
export function drawOverviewProcessHeader(ctx, pal, proc, parts, y, h, W, nsToX, charPx) {
  ctx.fillStyle = pal.procBg;
  ctx.fillRect(0, y, W, h);
  drawSpan(ctx, pal, proc, y + h - 2, 1.5, W, nsToX);
  ctx.font = pal.smallFont;
  ctx.textBaseline = "middle";
  drawParts(ctx, pal, parts.slice(0, 2), 4, y + h / 2 - 1, W - 6, charPx);
}

function drawSpan(ctx, pal, proc, y, h, W, nsToX) {
  if (!(proc.endNs > proc.startNs)) return;
  const xa = Math.max(-2, nsToX(proc.startNs));
  const xb = Math.min(W + 2, nsToX(proc.endNs));
  if (xb < 0 || xa > W) return;
  ctx.fillStyle = pal.accent;
  ctx.fillRect(xa, y, Math.max(2, xb - xa), h);
}
