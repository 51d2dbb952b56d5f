// render.js: canvas 2D drawing primitives and the batching of boxes by colour. Layer 3: depends
// on units.js and layout.js (for the hash); knows nothing of DOM widgets or events. All
// coordinates are view px (CSS pixels); the canvas backing store is scaled by devicePixelRatio in
// sizeCanvas.

import { timeTicks } from "./units.js";
import { hashString } from "./layout.js";

/** A view's canvas: `<canvas class=cls aria-label=label>` of `doc` (sized later by sizeCanvas). */
export function viewCanvas(doc, cls, label) {
  const canvas = doc.createElement("canvas");
  canvas.className = cls;
  canvas.setAttribute("aria-label", label);
  return canvas;
}

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

/**
 * Boxes batched by colour: the views add every box of a frame under its colour key, then `fill`
 * draws one path and one fill per colour (not a style change per box: this halved the frame
 * times, js/README.md). Colours are filled in the order they were first used; the batch is empty
 * again afterwards, ready for the next frame.
 */
export class BoxBatch {
  /** @param {number} nKeys the number of colour keys (0 .. nKeys - 1) */
  constructor(nKeys) {
    this.buckets = Array.from({ length: nKeys }, () => []); // per key: x, y, w, h of its boxes
    this.used = []; // the keys with boxes, in first-use order
  }
  /** Add a box of colour `key` at (x, y), w x h. */
  add(key, x, y, w, h) {
    const bucket = this.buckets[key];
    if (bucket.length === 0) this.used.push(key);
    bucket.push(x, y, w, h);
  }
  /** Fill every box added since the last fill, one path per colour (`styleOf(key)`). */
  fill(ctx, styleOf) {
    for (const key of this.used) {
      const bucket = this.buckets[key];
      ctx.fillStyle = styleOf(key);
      ctx.beginPath();
      for (let i = 0; i < bucket.length; i += 4) ctx.rect(bucket[i], bucket[i + 1], bucket[i + 2], bucket[i + 3]);
      ctx.fill();
      bucket.length = 0;
    }
    this.used.length = 0;
  }
}

/**
 * Dark or light for theme option `theme` ("auto" | "light" | "dark") in document `doc`: with
 * "auto", JupyterLab's theme (body data-jp-theme-light), VS Code's (body class), else the system's.
 */
export function resolveDark(doc, theme) {
  if (theme === "dark") return true;
  if (theme === "light") return false;
  const body = doc.body;
  if (body && body.hasAttribute("data-jp-theme-light")) return body.getAttribute("data-jp-theme-light") === "false";
  if (body && (body.classList.contains("vscode-dark") || body.classList.contains("vscode-high-contrast"))) {
    return !body.classList.contains("vscode-high-contrast-light");
  }
  if (body && body.classList.contains("vscode-light")) return false;
  const win = doc.defaultView;
  return !!(win && win.matchMedia && win.matchMedia("(prefers-color-scheme: dark)").matches);
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
    procBg: v("--fp-proc-bg", dark ? "#2a3038" : "#e8edf3"),
    warn: v("--fp-warn", dark ? "#ffb86b" : "#a04100"),
    font: "11px system-ui, -apple-system, 'Segoe UI', sans-serif",
    smallFont: "10px system-ui, -apple-system, 'Segoe UI', sans-serif",
  };
}

/**
 * Colours per function: a hue from a hash of (name, file), tuned for the theme. Returns
 * { fill: string[], faded: string[], text: string[] } indexed by code id; `text` is the label
 * colour that reads best on `fill` (dark on light fills, light on dark ones).
 */
export function codeColours(codes, dark) {
  const fill = new Array(codes.count);
  const faded = new Array(codes.count);
  const text = new Array(codes.count);
  for (let c = 0; c < codes.count; c++) {
    const h = hashString(codes.name[c] + "\u0000" + codes.file[c]);
    const hue = h % 360;
    const sat = 45 + ((h >>> 9) % 25);
    const light = readableLightness(hue, sat, dark ? 34 + ((h >>> 17) % 12) : 68 + ((h >>> 17) % 12));
    fill[c] = `hsl(${hue} ${sat}% ${light}%)`;
    faded[c] = dark ? `hsl(${hue} 12% 22%)` : `hsl(${hue} 18% 91%)`;
    text[c] = labelColourOn(hue, sat, light);
  }
  return { fill, faded, text };
}

const DARK_TEXT = "#111418";
const LIGHT_TEXT = "#f0f0f0";

/** Relative luminance (WCAG) of an hsl colour (h in degrees, s and l in percent). */
export function hslLuminance(h, s, l) {
  const sat = s / 100;
  const lig = l / 100;
  const k = (n) => (n + h / 30) % 12;
  const a = sat * Math.min(lig, 1 - lig);
  const f = (n) => lig - a * Math.max(-1, Math.min(k(n) - 3, 9 - k(n), 1));
  const lin = (v) => (v <= 0.04045 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4));
  return 0.2126 * lin(f(0)) + 0.7152 * lin(f(8)) + 0.0722 * lin(f(4));
}

/** Contrast ratio (WCAG) of the best label colour on an hsl fill. */
export function labelContrastOn(h, s, l) {
  const y = hslLuminance(h, s, l);
  return Math.max((y + 0.05) / (0.0069 + 0.05), (0.871 + 0.05) / (y + 0.05));
}

/**
 * The lightness nearest `l` at which a label reads on the fill with at least 4.5:1 contrast
 * (mid-luminance fills, about 0.15 to 0.2, have less with black and with white text).
 */
export function readableLightness(h, s, l) {
  for (let d = 0; d <= 30; d++) {
    if (l + d <= 100 && labelContrastOn(h, s, l + d) >= 4.5) return l + d;
    if (l - d >= 0 && labelContrastOn(h, s, l - d) >= 4.5) return l - d;
  }
  return l;
}

/** The label colour (near-black or near-white) with the higher contrast on an hsl fill. */
export function labelColourOn(h, s, l) {
  const y = hslLuminance(h, s, l);
  const contrastDark = (y + 0.05) / (0.0069 + 0.05); // DARK_TEXT's luminance is about 0.0069
  const contrastLight = (0.871 + 0.05) / (y + 0.05); // LIGHT_TEXT's about 0.871
  return contrastDark >= contrastLight ? DARK_TEXT : LIGHT_TEXT;
}

/** Colour of a thread's span line. */
export function threadColour(index, dark) {
  const hue = (index * 137.508 + 200) % 360;
  return `hsl(${hue.toFixed(1)} ${dark ? 65 : 60}% ${dark ? 62 : 42}%)`;
}

/**
 * A time axis along the top of a canvas: tick lines over [y, y + h] and labels in the strip
 * [0, axisPx]. `nsToX` maps trace time to view x; labels read the time from `originNs` (see
 * layout.js displayOrigin), so every view shows the same times.
 */
export function drawTimeAxis(ctx, pal, width, axisPx, gridBottom, t0, t1, nsToX, minSpacingPx = 90, originNs = 0) {
  const maxTicks = Math.max(1, Math.floor(width / minSpacingPx));
  const { ticks } = timeTicks(t0 - originNs, t1 - originNs, maxTicks);
  const xs = ticks.map((tk) => Math.round(nsToX(tk.t_ns + originNs)));
  ctx.fillStyle = pal.bg;
  ctx.fillRect(0, 0, width, axisPx);
  ctx.strokeStyle = pal.grid;
  ctx.lineWidth = 1;
  ctx.beginPath();
  for (const x of xs) {
    ctx.moveTo(x + 0.5, axisPx - 5);
    ctx.lineTo(x + 0.5, gridBottom);
  }
  ctx.moveTo(0, axisPx - 0.5);
  ctx.lineTo(width, axisPx - 0.5);
  ctx.stroke();
  ctx.fillStyle = pal.muted;
  ctx.font = pal.smallFont;
  ctx.textBaseline = "middle";
  const widths = ticks.map((tk) => ctx.measureText(tk.label).width);
  const lefts = placeAxisLabels(xs, widths, width);
  for (let i = 0; i < ticks.length; i++) {
    if (lefts[i] !== null) ctx.fillText(ticks[i].label, lefts[i], (axisPx - 4) / 2);
  }
}

/**
 * Where each axis label goes (its left x), or null to leave it out: just right of its tick, or
 * just left of it when it would run past the right edge (never clipped); left out when it would
 * start before 0 or come closer than 2 * pad to the previous label. `xs` ascending.
 */
export function placeAxisLabels(xs, widths, width, pad = 3) {
  const out = [];
  let prevEnd = -Infinity;
  for (let i = 0; i < xs.length; i++) {
    let left = xs[i] + pad;
    if (left + widths[i] > width - 1) left = xs[i] - pad - widths[i];
    if (left < 0 || left < prevEnd + 2 * pad) {
      out.push(null);
      continue;
    }
    out.push(left);
    prevEnd = left + widths[i];
  }
  return out;
}

/** Text truncated with an ellipsis to fit `maxPx` (average glyph width `charPx`); "" if nothing fits. */
export function fitLabel(text, maxPx, charPx) {
  const n = Math.floor(maxPx / charPx);
  if (n < 2) return "";
  if (text.length <= n) return text;
  return text.slice(0, n - 1) + "…";
}
