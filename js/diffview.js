// diffview.js: the differential flame graph of two runs (`fprofile_jupyter.compare(a, b)` in a
// notebook): the tree of `Comparison.flame_bytes()` (flame.js diffFlameFromBytes) as an icicle
// (icicle.js drawIcicle), widths by b's total time (or a's: the select), each box coloured by how
// much slower (red) or faster (blue) the path got from a to b, paths only in b ("new") and only in
// a ("gone": visible with a's widths) in their own colours. Hover: both sides' figures and the
// change; click: zoom into a path (the breadcrumb and Escape go back). Drawn from the notebook
// output alone by the JupyterLab / Notebook 7 extension (hosts/lab.js through hosts/widget.js).
// `canvas.fprofile-diff-flame` gets `data-drawn`, `data-nodes`, `data-focus` and, per colour class,
// the boxes drawn: `data-slower`, `data-faster`, `data-same`, `data-only-a`, `data-only-b`.
// Layer 4 (canvas, DOM, text only: names from the runs go through textContent and fillText).

import { diffFlameFromBytes, flameLayout, flamePath, flameFind } from "./flame.js";
import { drawIcicle, hitIcicle, shareText, FLAME_ROW_PX } from "./icicle.js";
import { sizeCanvas, readPalette, resolveDark, labelColourOn, BoxBatch, viewCanvas } from "./render.js";
import { makeEl, signedDuration, crumbItems } from "./panel.js";
import { createTooltip } from "./tooltip.js";
import { formatDuration, formatCount } from "./units.js";

/** Shades each way (slower, faster) of the diverging scale; a path 4x slower or faster is the strongest. */
const DIFF_STEPS = 5;
const DIFF_SAME = DIFF_STEPS;
const DIFF_ONLY_B = 2 * DIFF_STEPS + 1;
const DIFF_ONLY_A = 2 * DIFF_STEPS + 2;
const DIFF_KEYS = 2 * DIFF_STEPS + 3;
/** The most rows drawn before the view scrolls (CSS px of canvas). */
const DIFF_MAX_HEIGHT = 480;

/**
 * The colour class of a path with a's and b's figures: DIFF_ONLY_A / DIFF_ONLY_B for a path one
 * side lacks, else DIFF_SAME + k, k in [-DIFF_STEPS, DIFF_STEPS] by log2(b / a) (k < 0: faster).
 */
export function diffKey(totalA, totalB, callsA, callsB) {
  if (callsA === 0) return DIFF_ONLY_B;
  if (callsB === 0) return DIFF_ONLY_A;
  const r = Math.log2(Math.max(totalB, 1) / Math.max(totalA, 1));
  const k = Math.round((Math.max(-2, Math.min(2, r)) / 2) * DIFF_STEPS);
  return DIFF_SAME + k;
}

/** Fill and label colours per colour class: [{ fill, text }]. */
export function diffColours(dark) {
  const out = [];
  for (let key = 0; key < DIFF_KEYS; key++) {
    let h = 0;
    let s = 0;
    let l = dark ? 40 : 80;
    if (key === DIFF_ONLY_B) [h, s, l] = [285, 55, dark ? 45 : 62];
    else if (key === DIFF_ONLY_A) [h, s, l] = [40, 12, dark ? 30 : 86];
    else if (key !== DIFF_SAME) {
      const k = Math.abs(key - DIFF_SAME) / DIFF_STEPS; // 0.2 .. 1
      h = key > DIFF_SAME ? 4 : 214;
      s = 75;
      l = dark ? 30 + 16 * k : 88 - 38 * k;
    }
    out.push({ fill: `hsl(${h} ${s}% ${l}%)`, text: labelColourOn(h, s, l) });
  }
  return out;
}

/**
 * Draw the comparison `payload` ({ flame: base64, functions: [[name, file, line_a, line_b]],
 * name_a, name_b } or { error }) into `container`. options: { theme: "auto" | "light" | "dark" }.
 * Returns { root, destroy() }.
 */
export function createDiffFlame(container, payload, options = {}) {
  const doc = container.ownerDocument || document;
  const root = makeEl(doc, "div", "fprofile-root fprofile-diff");
  root.tabIndex = 0;
  const dark = resolveDark(doc, options.theme || "auto");
  root.classList.add(dark ? "fprofile-dark" : "fprofile-light");
  container.append(root);
  const p = payload && typeof payload === "object" ? payload : {};
  const fail = (message) => {
    const box = makeEl(doc, "div", "fprofile-error", message); // text: it may quote names
    box.setAttribute("role", "alert");
    root.append(box);
    return { root, destroy: () => root.remove() };
  };
  if (typeof p.error === "string" && p.error) return fail(p.error);
  if (typeof p.flame !== "string" || !Array.isArray(p.functions)) {
    return fail("fprofile: this output holds no comparison (its \"flame\" or \"functions\" field is missing).");
  }
  let f;
  try {
    const bin = atob(p.flame);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    f = diffFlameFromBytes(bytes);
  } catch (e) {
    return fail(`fprofile: this output's comparison is damaged (${e && e.message ? e.message : e}).`);
  }
  const fn = (i) => p.functions[f.code[i]] || ["?", "", null, null];
  const nameA = String(p.name_a || "a");
  const nameB = String(p.name_b || "b");

  // ---- DOM ---------------------------------------------------------------------------------
  const head = makeEl(doc, "div", "fprofile-diff-head");
  const title = makeEl(doc, "span", "fprofile-diff-title", `Differential flame graph: ${nameB} against ${nameA}`);
  const widths = makeEl(doc, "select", "fprofile-diff-widths");
  widths.setAttribute("aria-label", "Widths by the total time of");
  for (const [value, text] of [["b", `widths: ${nameB}`], ["a", `widths: ${nameA} (shows the paths gone in ${nameB})`]]) {
    const o = makeEl(doc, "option", null, text);
    o.value = value;
    widths.append(o);
  }
  const colours = diffColours(dark);
  const legend = makeEl(doc, "span", "fprofile-diff-legend");
  const swatch = (key, text) => {
    const s = makeEl(doc, "span", "fprofile-diff-key", text);
    s.style.background = colours[key].fill;
    s.style.color = colours[key].text;
    return s;
  };
  legend.append(swatch(DIFF_SAME + DIFF_STEPS, "slower"), swatch(DIFF_SAME - DIFF_STEPS, "faster"), swatch(DIFF_SAME, "same"),
    swatch(DIFF_ONLY_B, `only in ${nameB}`), swatch(DIFF_ONLY_A, `only in ${nameA}`));
  head.append(title, widths, legend);
  const crumbs = makeEl(doc, "div", "fprofile-flame-crumbs");
  const wrap = makeEl(doc, "div", "fprofile-zoom-wrap fprofile-diff-wrap");
  const canvas = viewCanvas(doc, "fprofile-flame fprofile-diff-flame", "Differential flame graph");
  const vp = { width: 0, zoomHeight: 0 }; // what the tooltip needs to stay inside the view
  const tooltip = createTooltip({ doc, state: {}, vp });
  wrap.append(canvas, tooltip.el);
  root.append(head, crumbs, wrap);

  let focusPath = [];
  let lay = null;
  let hits = { count: 0, node: [], x: [], y: [], w: [] };
  const batch = new BoxBatch(DIFF_KEYS);
  let depthMax = 0;
  for (let i = 0; i < f.count; i++) if (f.depth[i] > depthMax) depthMax = f.depth[i];
  const keys = new Uint8Array(f.count);
  for (let i = 0; i < f.count; i++) keys[i] = diffKey(f.totalA[i], f.total[i], f.callsA[i], f.calls[i]);

  function draw() {
    const W = Math.floor(wrap.clientWidth || container.clientWidth || 800);
    const H = Math.min(DIFF_MAX_HEIGHT, (depthMax + 1) * FLAME_ROW_PX + 2);
    vp.width = W;
    vp.zoomHeight = H;
    const pal = readPalette(root, dark);
    const ctx = sizeCanvas(canvas, W, H);
    ctx.fillStyle = pal.bg;
    ctx.fillRect(0, 0, W, H);
    ctx.font = pal.font;
    const charPx = ctx.measureText("abcdefghijklmnopqrstuvwxyz_ABCDEFGH0123").width / 40 || 6.2;
    const byA = widths.value === "a";
    lay = flameLayout(f, byA ? f.totalA : f.total);
    let focus = focusPath.length ? flameFind(f, focusPath) : -1;
    const fw = byA ? f.totalA : f.total;
    if (focus >= 0 && !(fw[focus] > 0)) focus = -1; // no width on this side
    focusPath = focus >= 0 ? flamePath(f, focus) : [];
    hits = drawIcicle(ctx, f, lay, {
      W, u0: focus >= 0 ? lay.x[focus] : 0, u1: focus >= 0 ? lay.x[focus] + fw[focus] : lay.sum, focus, top: 0,
      yMin: 0, yMax: H, batch, keyOf: (i) => keys[i], styleOf: (k) => colours[k].fill, charPx, widths: fw,
      labelOf: (i) => String(fn(i)[0]), textOf: (i) => colours[keys[i]].text,
    });
    const counts = new Array(DIFF_KEYS).fill(0);
    for (let j = 0; j < hits.count; j++) counts[keys[hits.node[j]]]++;
    const sum = (a, b) => counts.slice(a, b).reduce((x, y) => x + y, 0);
    canvas.setAttribute("data-drawn", String(hits.count));
    canvas.setAttribute("data-nodes", String(f.count));
    canvas.setAttribute("data-focus", String(focusPath.length));
    canvas.setAttribute("data-slower", String(sum(DIFF_SAME + 1, DIFF_SAME + DIFF_STEPS + 1)));
    canvas.setAttribute("data-faster", String(sum(0, DIFF_SAME)));
    canvas.setAttribute("data-same", String(counts[DIFF_SAME]));
    canvas.setAttribute("data-only-a", String(counts[DIFF_ONLY_A]));
    canvas.setAttribute("data-only-b", String(counts[DIFF_ONLY_B]));
    renderCrumbs();
  }

  function renderCrumbs() {
    crumbs.replaceChildren(...crumbItems(doc, focusPath, (func) => String((p.functions[func] || ["?"])[0]), setFocus));
  }

  function setFocus(path) {
    focusPath = path;
    tooltip.hide();
    draw();
  }

  const side = (calls, total, self) => `${formatCount(calls)} call${calls === 1 ? "" : "s"} · ${formatDuration(total)} (self ${formatDuration(self)})`;
  function hover(x, y) {
    const j = hitIcicle(hits, x, y);
    if (j < 0) {
      tooltip.hide();
      return;
    }
    const i = hits.node[j];
    const [name, file, lineA, lineB] = fn(i);
    const line = lineB !== null && lineB !== undefined ? lineB : lineA;
    const facts = [["File", `${file}:${line}`]];
    if (f.callsA[i] > 0) facts.push([nameA, side(f.callsA[i], f.totalA[i], f.selfA[i])]);
    if (f.calls[i] > 0) facts.push([nameB, side(f.calls[i], f.total[i], f.self[i])]);
    if (f.callsA[i] === 0) facts.push(["Change", `new in ${nameB}`]);
    else if (f.calls[i] === 0) facts.push(["Change", `gone in ${nameB}`]);
    else {
      const d = f.total[i] - f.totalA[i];
      facts.push(["Change", `${signedDuration(d)} (${d >= 0 ? "+" : "−"}${shareText(Math.abs(d), f.totalA[i])})`]);
    }
    tooltip.showFacts(String(name), facts, "diff", x, y);
  }

  const cleanups = [];
  const listen = (target, type, fn2) => {
    target.addEventListener(type, fn2);
    cleanups.push(() => target.removeEventListener(type, fn2));
  };
  const local = (e) => {
    const r = canvas.getBoundingClientRect();
    return [e.clientX - r.left, e.clientY - r.top];
  };
  listen(canvas, "pointermove", (e) => hover(...local(e)));
  listen(canvas, "pointerleave", () => tooltip.hide());
  listen(canvas, "click", (e) => {
    const j = hitIcicle(hits, ...local(e));
    if (j >= 0) setFocus(flamePath(f, hits.node[j]));
  });
  listen(widths, "change", () => setFocus(focusPath));
  listen(root, "keydown", (e) => {
    if (e.key === "Escape" && focusPath.length) {
      setFocus(focusPath.slice(0, -1));
      e.preventDefault();
    }
  });
  let lastWidth = 0;
  const win = doc.defaultView;
  if (win && typeof win.ResizeObserver === "function") {
    const ro = new win.ResizeObserver(() => {
      const w = Math.floor(wrap.clientWidth);
      if (w > 0 && w !== lastWidth) {
        lastWidth = w;
        draw();
      }
    });
    ro.observe(wrap);
    cleanups.push(() => ro.disconnect());
  }
  draw();
  return {
    root,
    destroy() {
      for (const c of cleanups) c();
      root.remove();
    },
  };
}
