// flameview.js: the flame graph view (`canvas.fprofile-flame`, shown instead of the zoomed view
// by its toggle, `button.fprofile-flame-toggle` or the key f), drawn with icicle.js.
//
// The flame view merges the calls of the chosen threads (`select.fprofile-flame-scope`: the
// visible threads of the thread list, those of one process, or one thread) over the window of the
// overview's brush (the whole run when the window is), with flame.js; widths by total time,
// heaviest left, one row per depth. Hover: the tooltip (function, file:line, calls, total, self,
// share); click: zoom into that path (the breadcrumb `.fprofile-flame-crumbs` and Escape go back)
// and select its function; the timeline's highlight (search, selected function) fades the rest.
// With a function selected, the key s or `button.fprofile-sandwich-toggle` shows its callers
// merged upward over its callees merged downward (flame.js flameSandwich; the whole run), and
// back. After each drawing the canvas gets `data-drawn` (boxes), `data-nodes` (merged paths),
// `data-mode` ("flame" or "sandwich"), `data-focus` (the depth of the zoomed path, 0: none),
// `data-window` ("all", or "t0,t1" in trace ns); the callers and callees view: `data-mid` (the y of
// the line between them: the callers' rows above, the callees' from it). Both views are as tall as
// their rows (flamesize.js). Layer 4 (canvas, pointer events, text only).
//
// A windowed page (windowed.js) does not hold every call: its host merges them
// (setRemote: a windowsource.js createFlameSource whose replies are flame.js columns, the core's
// encoding read back), drawn as a merged one; while the flame of the current scope and window is
// on its way the last one drawn stays, the canvas has `data-pending="1"` and the note says so. The
// callers and callees view is not offered then (the hosts have no encoding of it).

import { flameMerge, flameSandwich, flameLayout, flamePath, flameFind, emptyFlame } from "./flame.js";
import { sizeCanvas, viewCanvas } from "./render.js";
import { drawIcicle, hitIcicle, shareText, FLAME_ROW_PX } from "./icicle.js";
import { flameHeight, sandwichGeometry } from "./flamesize.js";
import { highlightActive, isHighlighted } from "./state.js";
import { processLabel } from "./lanes.js";
import { makeEl, crumbItems } from "./panel.js";
import { formatDuration, formatCount, formatWindow, shortPath } from "./units.js";

/**
 * tl: { doc, root, state, vp, tooltip, listen, localXY, schedule(), selectCode(code) }.
 * Returns { button, bar, el, shown(), toggle(on?), build() (for the trace in state), draw(),
 *           onKey(key) -> true when handled }.
 */
export function createFlameView(tl) {
  const { doc, state, vp, tooltip } = tl;
  const button = makeEl(doc, "button", "fprofile-flame-toggle", "Flame graph");
  button.type = "button";
  button.title = "Show the calls merged by call path over the window (f)";
  const bar = makeEl(doc, "div", "fprofile-flame-bar");
  bar.hidden = true;
  const scope = makeEl(doc, "select", "fprofile-flame-scope");
  scope.setAttribute("aria-label", "Threads merged in the flame graph");
  const crumbs = makeEl(doc, "span", "fprofile-flame-crumbs");
  const sandwichBtn = makeEl(doc, "button", "fprofile-sandwich-toggle", "Callers & callees");
  sandwichBtn.type = "button";
  sandwichBtn.title = "The selected function's callers merged upward and its callees merged downward (s)";
  const note = makeEl(doc, "span", "fprofile-flame-note fprofile-muted");
  bar.append(scope, sandwichBtn, crumbs, note);
  const canvas = viewCanvas(doc, "fprofile-flame", "Flame graph: calls merged by call path");
  canvas.hidden = true;

  let shown = false;
  let mode = "flame"; // or "sandwich"
  let focusPath = []; // codes from the top to the zoomed node
  let scrollY = 0;
  let charPx = 6.2;
  let cache = { key: "", f: null, lay: null, win: null, threads: [] };
  let sw = { key: "", code: -1, callers: null, callees: null, layC: null, layE: null };
  let hits = { count: 0, node: [], x: [], y: [], w: [] };
  let hitTree = []; // per box: the tree it belongs to ("flame", "callers" or "callees")
  let pointer = null;
  /** windowed: the host's flame graphs (windowsource.js createFlameSource), or null (merged here) */
  let remote = null;
  let pending = false; // remote: the flame drawn is not the one of the current scope and window

  // ---- what is merged ---------------------------------------------------------------------
  /** The scope's threads that the thread list shows. */
  function chosenThreads() {
    const { trace, visible } = state;
    const v = scope.value || "all";
    let threads;
    if (v.startsWith("p:")) threads = state.processThreads[Number(v.slice(2))] || [];
    else if (v.startsWith("t:")) threads = [Number(v.slice(2))];
    else threads = trace.threads.map((th) => th.index);
    return threads.filter((t) => visible[t]);
  }

  function build() {
    focusPath = [];
    scrollY = 0;
    mode = "flame";
    cache = { key: "", f: null, lay: null, win: null, threads: [] };
    sw = { key: "", code: -1, callers: null, callees: null, layC: null, layE: null };
    const { trace } = state;
    const options = [["all", "Visible threads"]];
    if (trace) {
      if (state.processes.length > 1) state.processes.forEach((p, i) => options.push([`p:${i}`, `Process ${processLabel(p)}`]));
      for (const th of trace.threads) options.push([`t:${th.index}`, `Thread ${th.name}${th.osId ? ` (tid ${th.osId})` : ""}`]);
    }
    scope.replaceChildren(...options.map(([value, text]) => {
      const opt = makeEl(doc, "option", null, text); // text only: names come from the trace
      opt.value = value;
      return opt;
    }));
    scope.value = "all";
  }

  /** The window merged: null (the whole run) or [t0, t1] in trace ns, as the root's data-window-*-ns. */
  function currentWin() {
    const whole = vp.win[0] <= vp.full[0] && vp.win[1] >= vp.full[1];
    return whole ? null : [Math.round(vp.win[0]), Math.round(vp.win[1])];
  }

  /** The flame of the current scope and window (recomputed when either changed). */
  function currentFlame() {
    const threads = chosenThreads();
    const win = currentWin();
    const key = `${threads.join(",")}|${win ? win.join(",") : "all"}|${state.filterGen}`;
    if (remote) {
      const f = remote.want(threads, win);
      pending = f === null;
      if (f !== null && key !== cache.key) cache = { key, f, lay: flameLayout(f), win, threads };
      if (!cache.f) {
        const empty = emptyFlame();
        cache = { key: "", f: empty, lay: flameLayout(empty), win, threads };
      }
      return cache;
    }
    pending = false;
    if (key !== cache.key) {
      const f = flameMerge(state.trace, threads, win, state.kept);
      cache = { key, f, lay: flameLayout(f), win, threads };
    }
    return cache;
  }

  function currentSandwich() {
    const threads = chosenThreads();
    const code = state.selectedCode;
    const key = `${threads.join(",")}|${code}|${state.filterGen}`;
    if (key !== sw.key) {
      const s = flameSandwich(state.trace, state.index.selfNs, [code], threads, state.kept);
      sw = { key, code, callers: s.callers, callees: s.callees, layC: flameLayout(s.callers), layE: flameLayout(s.callees) };
    }
    return sw;
  }

  // ---- drawing -----------------------------------------------------------------------------
  /** Batch keys: faded where the timeline's highlight leaves the function out (in the callers and
   * callees view, only the search's: the selected function is every tree's root). */
  function keyOf(f) {
    const nCodes = state.trace.codes.count;
    const search = mode === "sandwich";
    const hl = search ? state.searchMask !== null : highlightActive(state);
    return (i) => {
      const code = f.code[i];
      if (!hl) return code;
      const lit = search ? state.searchMask[code] === 1 : isHighlighted(state, code);
      return lit ? code : code + nCodes;
    };
  }

  function icicleOptions(f, W, H) {
    const { colours } = state;
    const nCodes = state.trace.codes.count;
    return {
      W, yMin: 0, yMax: H, batch: state.batch, keyOf: keyOf(f), charPx,
      styleOf: (key) => (key < nCodes ? colours.fill[key] : colours.faded[key - nCodes]),
      labelOf: (i) => state.trace.codes.name[f.code[i]],
      textOf: (i) => colours.text[f.code[i]],
    };
  }

  /** The canvas's height for what it shows (flamesize.js), and the sandwich's middle line. */
  function contentSize() {
    const maxH = vp.zoomHeight;
    if (!state.trace) return { H: maxH, mid: 0 };
    if (mode === "sandwich" && (state.selectedCode < 0 || remote)) mode = "flame";
    if (mode === "sandwich") {
      const s = currentSandwich();
      const rows = (f) => (f.count ? maxDepth(f) + 1 : 0);
      const g = sandwichGeometry(rows(s.callers), rows(s.callees), FLAME_ROW_PX, maxH);
      return { H: g.height, mid: g.mid };
    }
    const { f } = currentFlame();
    return { H: flameHeight(f.count ? maxDepth(f) + 1 : 1, FLAME_ROW_PX, maxH), mid: 0 };
  }

  function draw() {
    const W = vp.width;
    const { H, mid } = contentSize();
    const { trace, pal } = state;
    const ctx = sizeCanvas(canvas, W, H);
    ctx.fillStyle = pal.bg;
    ctx.fillRect(0, 0, W, H);
    hits = { count: 0, node: [], x: [], y: [], w: [] };
    hitTree = [];
    if (!trace) {
      canvas.setAttribute("data-drawn", "0");
      return;
    }
    ctx.font = pal.font;
    charPx = ctx.measureText("abcdefghijklmnopqrstuvwxyz_ABCDEFGH0123").width / 40 || 6.2;
    sandwichBtn.hidden = remote !== null;
    sandwichBtn.disabled = state.selectedCode < 0 && mode !== "sandwich";
    sandwichBtn.textContent = mode === "sandwich" ? "Flame graph" : "Callers & callees";
    if (mode === "sandwich") drawSandwich(ctx, W, H, mid);
    else drawFlame(ctx, W, H);
    canvas.setAttribute("data-drawn", String(hits.count));
    canvas.setAttribute("data-mode", mode);
    if (pointer) hoverAt(pointer.x, pointer.y);
  }

  function drawFlame(ctx, W, H) {
    const { f, lay, win } = currentFlame();
    let focus = focusPath.length ? flameFind(f, focusPath) : -1;
    if (focus >= 0 && f.depth[focus] + 1 < focusPath.length) focusPath = flamePath(f, focus); // gone in this window: its deepest ancestor
    if (focus < 0) focusPath = [];
    const maxScroll = Math.max(0, (maxDepth(f) + 1) * FLAME_ROW_PX - H);
    scrollY = Math.min(Math.max(0, scrollY), maxScroll);
    const o = icicleOptions(f, W, H);
    o.u0 = focus >= 0 ? lay.x[focus] : 0;
    o.u1 = focus >= 0 ? lay.x[focus] + f.total[focus] : lay.sum;
    o.focus = focus;
    o.top = -scrollY;
    hits = drawIcicle(ctx, f, lay, o);
    hitTree = null;
    canvas.setAttribute("data-nodes", String(f.count));
    canvas.setAttribute("data-focus", String(focusPath.length));
    canvas.setAttribute("data-window", win ? `${Math.round(win[0])},${Math.round(win[1])}` : "all");
    renderCrumbs(f, focus);
    canvas.setAttribute("data-pending", pending ? "1" : "0");
    const calls = sumTop(f, f.calls);
    const figures = f.count === 0 ? "No calls in this window for these threads."
      : `${win ? formatWindow(win[0], win[1], state.origin) : "whole run"} · ${formatCount(calls)} top-level call${calls === 1 ? "" : "s"}` +
        ` · ${formatCount(f.count)} path${f.count === 1 ? "" : "s"} · ${formatDuration(lay.sum)}`;
    const failed = remote !== null && pending && remote.failed(chosenThreads(), currentWin());
    note.textContent = !pending ? figures
      : failed ? "The flame graph of this window could not be merged (see the message above)."
      : `Merging the calls of this window (every call, by the ${remote && remote.where ? remote.where : "host"})…` +
        (cache.key ? ` Shown meanwhile: ${figures}` : "");
  }

  function drawSandwich(ctx, W, H, mid) {
    const s = currentSandwich();
    const trees = [];
    // the callers grow upward from the middle, the callees downward
    for (const [f, lay, upward, name] of [[s.callers, s.layC, true, "callers"], [s.callees, s.layE, false, "callees"]]) {
      if (f.count === 0) continue;
      const o = icicleOptions(f, W, H);
      o.u0 = 0;
      o.u1 = lay.sum;
      o.focus = -1;
      o.upward = upward;
      o.top = upward ? mid - FLAME_ROW_PX - 2 : mid;
      const h = drawIcicle(ctx, f, lay, o);
      for (let j = 0; j < h.count; j++) {
        hits.node.push(h.node[j]);
        hits.x.push(h.x[j]);
        hits.y.push(h.y[j]);
        hits.w.push(h.w[j]);
        hits.count++;
        trees.push(name);
      }
    }
    hitTree = trees;
    ctx.fillStyle = state.pal.muted;
    ctx.fillText("callers ↑", 4, 8);
    ctx.fillText("callees ↓", 4, H - 8);
    canvas.setAttribute("data-nodes", String(s.callers.count + s.callees.count));
    canvas.setAttribute("data-mid", String(mid));
    canvas.setAttribute("data-focus", "0");
    canvas.setAttribute("data-window", "all");
    const name = state.trace.codes.name[s.code];
    crumbs.replaceChildren(makeEl(doc, "span", "fprofile-flame-crumb-current", `Callers and callees of ${name}`));
    note.textContent = "whole run · click a function to take its callers and callees · Escape: back to the flame graph";
  }

  function maxDepth(f) {
    let d = 0;
    for (let i = 0; i < f.count; i++) if (f.depth[i] > d) d = f.depth[i];
    return d;
  }
  function sumTop(f, col) {
    let s = 0;
    for (let i = 0; i < f.count; i++) if (f.depth[i] === 0) s += col[i];
    return s;
  }

  /** The breadcrumb: "All" and the zoomed path, each a button back to it. */
  function renderCrumbs(f, focus) {
    const path = focus >= 0 ? flamePath(f, focus) : [];
    crumbs.replaceChildren(...crumbItems(doc, path, (code) => state.trace.codes.name[code], setFocus));
  }

  function setFocus(path) {
    focusPath = path;
    scrollY = 0;
    tooltip.hide();
    tl.schedule();
  }

  // ---- pointer -----------------------------------------------------------------------------
  /** The tree, node and figures under (x, y), or null. */
  function nodeAt(x, y) {
    const j = hitIcicle(hits, x, y);
    if (j < 0) return null;
    const tree = hitTree ? hitTree[j] : "flame";
    const f = tree === "callers" ? sw.callers : tree === "callees" ? sw.callees : cache.f;
    return { tree, f, i: hits.node[j] };
  }

  function hoverAt(x, y) {
    const hit = nodeAt(x, y);
    if (!hit) {
      tooltip.hide();
      return;
    }
    const { tree, f, i } = hit;
    const { codes } = state.trace;
    const code = f.code[i];
    let whole;
    let wholeText;
    if (tree === "flame") {
      whole = cache.lay.sum;
      wholeText = cache.win ? "of the window's merged time" : "of the merged time";
    } else {
      whole = f.total[0];
      wholeText = `of ${codes.name[sw.code]}`;
    }
    const facts = [
      ["File", `${shortPath(codes.file[code], state.roots || [])}:${codes.line[code]}`],
      ["Calls", formatCount(f.calls[i])],
      ["Total", formatDuration(f.total[i])],
      ["Self", formatDuration(f.self[i])],
      ["Share", `${shareText(f.total[i], whole)} ${wholeText}`],
    ];
    if (tree === "flame" && f.parent[i] >= 0) facts.push(["Of its caller", shareText(f.total[i], f.total[f.parent[i]])]);
    if (tree === "callers" && f.depth[i] > 0) facts.push(["Caller", `depth ${f.depth[i]} above ${codes.name[sw.code]}`]);
    tooltip.showFacts(codes.name[code], facts, tree === "flame" ? "flame" : "sandwich", x, y);
  }

  tl.listen(canvas, "pointermove", (e) => {
    const [x, y] = tl.localXY(e, canvas);
    pointer = { x, y };
    if (state.trace) hoverAt(x, y);
  });
  tl.listen(canvas, "pointerleave", () => {
    pointer = null;
    tooltip.hide();
  });
  tl.listen(canvas, "click", (e) => {
    if (!state.trace) return;
    const [x, y] = tl.localXY(e, canvas);
    const hit = nodeAt(x, y);
    if (!hit) return;
    if (hit.tree === "flame") {
      setFocus(flamePath(hit.f, hit.i));
      tl.selectCode(hit.f.code[hit.i]);
    } else {
      tl.selectCode(hit.f.code[hit.i]); // the sandwich of that function
      tooltip.hide();
    }
  });
  tl.listen(canvas, "wheel", (e) => {
    if (!state.trace || mode !== "flame") return;
    e.preventDefault();
    scrollY += e.deltaY;
    tl.schedule();
  }, { passive: false });
  tl.listen(scope, "change", () => {
    tl.schedule();
  });
  tl.listen(sandwichBtn, "click", () => toggleSandwich());

  function toggleSandwich() {
    if (remote) return false;
    if (mode === "sandwich") mode = "flame";
    else if (state.selectedCode >= 0) mode = "sandwich";
    else return false;
    tooltip.hide();
    tl.schedule();
    return true;
  }

  function toggle(on) {
    shown = on === undefined ? !shown : !!on;
    canvas.hidden = !shown;
    bar.hidden = !shown;
    button.textContent = shown ? "Timeline" : "Flame graph";
    button.title = shown ? "Back to the timeline (f)" : "Show the calls merged by call path over the window (f)";
    tl.root.setAttribute("data-view", shown ? "flame" : "timeline");
    tooltip.hide();
    tl.schedule();
  }
  tl.listen(button, "click", () => toggle());

  return {
    button,
    bar,
    el: canvas,
    shown: () => shown,
    toggle,
    build,
    draw,
    /** Windowed: the host merges (`source`: windowsource.js createFlameSource, its replies flame
     * columns; `source.where` names the host in the note); null: merged here. */
    setRemote(source) {
      remote = source;
      cache = { key: "", f: null, lay: null, win: null, threads: [] };
      pending = false;
      if (remote) mode = "flame";
    },
    /** Keys of the flame view: f (toggle), and while shown s (callers and callees), Escape (back). */
    onKey(key) {
      if (key === "f" || key === "F") {
        toggle();
        return true;
      }
      if (!shown) return false;
      if (key === "s" || key === "S") return toggleSandwich();
      if (key === "Escape") {
        if (mode === "sandwich") return toggleSandwich();
        if (focusPath.length) {
          setFocus(focusPath.slice(0, -1));
          return true;
        }
      }
      return false;
    },
  };
}
