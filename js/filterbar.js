// filterbar.js: the filter bar (`.fprofile-filterbar`): the minimum-duration input
// (`input.fprofile-min-duration`, filters.js parseDuration; a bad text is a message, the filter
// unchanged), the active filters as removable chips (`.fprofile-filter-chip`, each with
// `button.fprofile-filter-remove`) and `button.fprofile-filter-clear`; and the "hide" buttons of
// a function, its file and its module (`button.fprofile-hide[data-kind]`) that the details panel
// and the table's row menu (createRowMenu) show. Layer 4 (DOM, text only: names go through textContent). The
// filter is state.filter; the timeline's actions change it (tl.addHidden, tl.removeHidden,
// tl.setMinNs, tl.clearFilters) and call sync().

import { makeEl, makeTextBox } from "./panel.js";
import { parseDuration, moduleOf } from "./filters.js";
import { formatDuration, formatCount, shortPath } from "./units.js";

/** The text of a hidden entry, as its chip shows it. */
function hiddenText(state, h) {
  const roots = state.roots || [];
  if (h.kind === "function") {
    const { codes } = state.trace;
    const c = Number(h.value);
    return `function ${codes.name[c]} (${shortPath(codes.file[c], roots)}:${codes.line[c]})`;
  }
  if (h.kind === "file") return `file ${shortPath(h.value, roots)}`;
  return `module ${shortPath(h.value, roots) || h.value}`;
}

/**
 * How many of the calls shown (`kept`: per call 1, or null: all) hiding the functions of `match`
 * (per code 1) would hide: their calls and the calls those make (a call's parent comes before it).
 * Returns { hides, shown }.
 */
export function hideCount(calls, kept, match) {
  const gone = new Uint8Array(calls.count);
  let hides = 0;
  let shown = 0;
  for (let i = 0; i < calls.count; i++) {
    if (kept && !kept[i]) continue;
    shown++;
    const p = calls.parent[i];
    if (match[calls.code[i]] === 1 || (p >= 0 && gone[p] === 1)) {
      gone[i] = 1;
      hides++;
    }
  }
  return { hides, shown };
}

/** A hide button's text: what it hides and how many calls ("Hide module (all 206 calls)"). */
export function hideText(what, hides, shown) {
  const calls = `${formatCount(hides)} call${hides === 1 ? "" : "s"}`;
  return `Hide ${what} (${hides === shown && shown > 1 ? `all ${calls}` : calls})`;
}

/**
 * The three hide buttons for function `code`: its calls, every call of its file, of its module,
 * each saying how many of the calls shown it hides; one that would hide every call says so in
 * its tooltip and points to the narrower ones. tl: { doc, state, addHidden(kind, value) }.
 */
export function hideButtons(tl, code) {
  const { doc, state } = tl;
  const { codes, calls } = state.trace;
  const file = codes.file[code];
  const mod = moduleOf(file);
  const wrap = makeEl(doc, "div", "fprofile-hide-actions");
  // a windowed trace holds one window's calls: no count
  const counted = !calls.runs;
  const add = (kind, value, what, title, matches) => {
    let text = `Hide ${what}`;
    let all = false;
    if (counted) {
      const match = new Uint8Array(codes.count);
      for (let c = 0; c < codes.count; c++) if (matches(c)) match[c] = 1;
      const { hides, shown } = hideCount(calls, state.kept, match);
      text = hideText(what, hides, shown);
      all = hides === shown && shown > 1;
    }
    const b = makeEl(doc, "button", "fprofile-hide", text);
    b.type = "button";
    b.dataset.kind = kind;
    b.title = all ? `${title}: every call shown is in it, so this hides them all${kind === "function" ? "" : "; hide the function or its file instead"}` : title;
    b.addEventListener("click", () => tl.addHidden(kind, value));
    wrap.append(b);
  };
  add("function", code, "function", "Hide this function's calls (with the calls they make): their time counts as their caller's self time", (c) => c === code);
  add("file", file, "file", `Hide the functions of ${file}`, (c) => codes.file[c] === file);
  if (mod) add("module", mod, "module", `Hide the functions of the files in ${mod}`, (c) => moduleOf(codes.file[c]) === mod);
  return wrap;
}

/**
 * A summary row's context menu (`.fprofile-row-menu`): the hide buttons of its function, at the
 * pointer; a press elsewhere closes it. tl: { doc, root, state, listen, addHidden }.
 * Returns { el, show(code, event) }.
 */
export function createRowMenu(tl) {
  const { doc, root, state } = tl;
  const el = makeEl(doc, "div", "fprofile-row-menu");
  el.hidden = true;
  tl.listen(doc, "pointerdown", (e) => { if (!el.contains(e.target)) el.hidden = true; });
  return {
    el,
    show(code, e) {
      if (!state.trace) return;
      const r = root.getBoundingClientRect();
      el.replaceChildren(hideButtons(tl, code));
      el.style.left = `${Math.round(e.clientX - r.left)}px`;
      el.style.top = `${Math.round(e.clientY - r.top)}px`;
      el.hidden = false;
    },
  };
}

/**
 * tl: { doc, root, state, listen, addHidden, removeHidden(i), setMinNs(ns), clearFilters() }.
 * Returns { el, sync() (after any change of state.filter or a new trace) }.
 */
export function createFilterBar(tl) {
  const { doc, root, state } = tl;
  const el = makeEl(doc, "div", "fprofile-filterbar");
  const label = makeEl(doc, "span", "fprofile-muted", "Filters:");
  const min = makeTextBox(doc, "fprofile-min-duration", "text", "min duration, e.g. 1ms",
    "Hide calls shorter than this (their time counts as their caller's self time); a bare number is ms",
    "Minimum call duration");
  const message = makeEl(doc, "span", "fprofile-filter-message");
  const chips = makeEl(doc, "span", "fprofile-filter-chips");
  const clear = makeEl(doc, "button", "fprofile-filter-clear", "Clear filters");
  clear.type = "button";
  const kept = makeEl(doc, "span", "fprofile-filter-kept fprofile-muted");
  el.append(label, min, message, chips, clear, kept);

  function commitMin() {
    const ns = parseDuration(min.value);
    if (Number.isNaN(ns)) {
      message.textContent = `"${min.value.trim()}" is not a duration (e.g. 500us, 1ms, 0.2s)`;
      return;
    }
    message.textContent = "";
    if (ns !== state.filter.minNs) tl.setMinNs(ns);
  }
  tl.listen(min, "change", commitMin);
  tl.listen(min, "keydown", (e) => {
    if (e.key === "Enter") commitMin();
    e.stopPropagation();
  });
  tl.listen(clear, "click", () => {
    // the typed text goes with the filters, and its message (it said a text no longer there was wrong)
    min.value = "";
    message.textContent = "";
    tl.clearFilters();
  });

  function chip(text, onRemove) {
    const c = makeEl(doc, "span", "fprofile-filter-chip");
    const t = makeEl(doc, "span", null, text);
    const x = makeEl(doc, "button", "fprofile-filter-remove", "×");
    x.type = "button";
    x.title = "Remove this filter";
    x.setAttribute("aria-label", `Remove the filter: ${text}`);
    x.addEventListener("click", onRemove);
    c.append(t, x);
    return c;
  }

  function sync() {
    const { filter, trace } = state;
    const list = [];
    if (trace) {
      filter.hidden.forEach((h, i) => list.push(chip(`hide ${hiddenText(state, h)}`, () => tl.removeHidden(i))));
      if (filter.minNs > 0) list.push(chip(`hide calls shorter than ${formatDuration(filter.minNs)}`, () => tl.setMinNs(0)));
    }
    chips.replaceChildren(...list);
    const active = list.length > 0;
    if (!(filter.minNs > 0) && doc.activeElement !== min) {
      min.value = "";
      message.textContent = "";
    }
    clear.hidden = !active;
    kept.textContent = active && state.kept
      ? `${formatCount(state.kept.reduce((a, k) => a + k, 0))} of ${formatCount(trace.calls.count)} calls shown` : "";
    root.toggleAttribute("data-filter-active", active);
  }

  sync();
  return { el, sync };
}
