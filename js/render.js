// render.js: canvas 2D drawing primitives. Layer 3: depends on units.js and layout.js (for the
// hash); knows nothing of DOM widgets or events. All coordinates are view px (CSS pixels); the
// canvas backing store is scaled by devicePixelRatio in sizeCanvas.

import { timeTicks } from "./units.js";
import { hashString } from "./layout.js";

/** Size a canvas to w x h CSS px with a devicePixelRatio backing store; returns its 2D context. */
export function sizeCanvas(canvas, w, h) {
  const dpr = (typeof window !== "undefined" && window.devicePixelRatio) || 1;
  const bw = Math.max(1, Math.round(w * dpr));
  const bh = Math.max(1, Math.round(h * dpr));
  if (canvas.width !== bw || canvas.height !== bh) {
    canvas.width = bw;
    canvas.height = bh;
  }
  canvas.style.width = `${w}px`;
  canvas.style.height = `${h}px`;
  const ctx = canvas.getContext("2d", { alpha: false });
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  return ctx;
}

/** The palette of one theme, read from the CSS variables of the root element. */
export function readPalette(root, dark) {
  const cs = getComputedStyle(root);
  const v = (name, fallback) => (cs.getPropertyValue(name) || "").trim() || fallback;
  return {
    dark,
    bg: v("--fp-bg", dark ? "#1e1e1e" : "#ffffff"),
    fg: v("--fp-fg", dark ? "#e6e6e6" : "#1f2328"),
    muted: v("--fp-muted", dark ? "#9aa0a6" : "#6a737d"),
    grid: v("--fp-grid", dark ? "#333a40" : "#e6e8eb"),
    laneBg: v("--fp-lane-bg", dark ? "#24282c" : "#f6f8fa"),
    accent: v("--fp-accent", dark ? "#6cb6ff" : "#0969da"),
    brush: v("--fp-brush", dark ? "rgba(108,182,255,0.22)" : "rgba(9,105,218,0.16)"),
    select: v("--fp-select", dark ? "#ffd33d" : "#bf4b00"),
    boxText: dark ? "#f0f0f0" : "#111418",
    font: "11px system-ui, -apple-system, 'Segoe UI', sans-serif",
    smallFont: "10px system-ui, -apple-system, 'Segoe UI', sans-serif",
  };
}

/**
 * Colours per function: a hue from a hash of (name, file), tuned for the theme. Returns
 * { fill: string[], faded: string[] } indexed by code id.
 */
export function codeColours(codes, dark) {
  const fill = new Array(codes.count);
  const faded = new Array(codes.count);
  for (let c = 0; c < codes.count; c++) {
    const h = hashString(codes.name[c] + "\u0000" + codes.file[c]);
    const hue = h % 360;
    const sat = 45 + ((h >>> 9) % 25);
    const light = dark ? 34 + ((h >>> 17) % 12) : 68 + ((h >>> 17) % 12);
    fill[c] = `hsl(${hue} ${sat}% ${light}%)`;
    faded[c] = dark ? `hsl(${hue} 12% 22%)` : `hsl(${hue} 18% 91%)`;
  }
  return { fill, faded };
}

/** Colour of a thread's span line. */
export function threadColour(index, dark) {
  const hue = (index * 137.508 + 200) % 360;
  return `hsl(${hue.toFixed(1)} ${dark ? 65 : 60}% ${dark ? 62 : 42}%)`;
}

/**
 * A time axis along the top of a canvas: tick lines over [y, y + h] and labels in the strip
 * [0, axisPx]. `nsToX` maps trace time to view x.
 */
export function drawTimeAxis(ctx, pal, width, axisPx, gridBottom, t0, t1, nsToX, minSpacingPx = 90) {
  const maxTicks = Math.max(1, Math.floor(width / minSpacingPx));
  const { ticks } = timeTicks(t0, t1, maxTicks);
  ctx.fillStyle = pal.bg;
  ctx.fillRect(0, 0, width, axisPx);
  ctx.strokeStyle = pal.grid;
  ctx.lineWidth = 1;
  ctx.beginPath();
  for (const tk of ticks) {
    const x = Math.round(nsToX(tk.t_ns)) + 0.5;
    ctx.moveTo(x, axisPx - 5);
    ctx.lineTo(x, gridBottom);
  }
  ctx.moveTo(0, axisPx - 0.5);
  ctx.lineTo(width, axisPx - 0.5);
  ctx.stroke();
  ctx.fillStyle = pal.muted;
  ctx.font = pal.smallFont;
  ctx.textBaseline = "middle";
  for (const tk of ticks) {
    const x = Math.round(nsToX(tk.t_ns));
    ctx.fillText(tk.label, x + 3, (axisPx - 4) / 2);
  }
}

/** Text truncated with an ellipsis to fit `maxPx` (average glyph width `charPx`); "" if nothing fits. */
export function fitLabel(text, maxPx, charPx) {
  const n = Math.floor(maxPx / charPx);
  if (n < 2) return "";
  if (text.length <= n) return text;
  return text.slice(0, n - 1) + "…";
}
