// filters.js: view filters applied to a decoded trace: which calls are kept and the self time
// the kept ones get. Layer 2 (pure, no DOM; the decoded shape of decode.js). The filter itself
// lives in state.js (`state.filter`); actions.js applies it and hands the result to the views:
// the zoomed view and the overview draw the rows of `filteredIndex`, flame.js merges only kept
// calls, layout.js computeSummary counts only kept calls.
//
// The rules:
// - hidden: functions (by code), files (a code's file) and modules (the folder of a code's file:
//   its package). A hidden call is hidden WITH its descendants, and its whole duration becomes
//   its parent's self time. (Showing its children one level up would count their time twice:
//   once in the parent's self, which the brief's rule makes grow by the hidden call's whole
//   duration, and once in the children's own totals; it would also change depths, so the row
//   index, the flame paths and the Rust summary's nesting rules would all need a second kind of
//   tree. Hiding the subtree keeps every kept call's depth and parent as recorded.)
// - minimum duration: calls shorter than `minNs` are not kept (nor are their descendants, which
//   are shorter still), and their time is their parent's self time.
// So the kept calls are closed under "parent of": a kept call's parent is kept.
//
// The filter: { hidden: [{ kind: "function" | "file" | "module", value }], minNs }
// (value: a code index for "function", a file name for "file", a folder for "module").

/** The module (package) of a file: its folder ("" for a name without one). */
export function moduleOf(file) {
  const s = String(file);
  const i = Math.max(s.lastIndexOf("/"), s.lastIndexOf("\\"));
  return i > 0 ? s.slice(0, i) : "";
}

/** Does `filter` hide anything? */
export function filterActive(filter) {
  return !!filter && (filter.hidden.length > 0 || filter.minNs > 0);
}

/** Per code 1 when the filter's function, file or module entries hide it. */
export function hiddenCodes(codes, filter) {
  const mask = new Uint8Array(codes.count);
  const fns = new Set();
  const files = new Set();
  const modules = new Set();
  for (const h of filter.hidden) {
    if (h.kind === "function") fns.add(Number(h.value));
    else if (h.kind === "file") files.add(String(h.value));
    else if (h.kind === "module") modules.add(String(h.value));
  }
  for (let c = 0; c < codes.count; c++) {
    if (fns.has(c) || files.has(codes.file[c]) || (modules.size > 0 && modules.has(moduleOf(codes.file[c])))) mask[c] = 1;
  }
  return mask;
}

/**
 * Apply `filter` to `trace`: null when it hides nothing, else
 * { kept: Uint8Array per call (1: shown), keptCount, selfNs: Float64Array per call (a kept call's
 *   duration minus its kept children's, never below 0: the durations of its hidden children stay
 *   in it), childCount: Int32Array per call (its kept children) }.
 * One pass over the calls (a parent comes before its children in the decoded order).
 */
export function applyFilter(trace, filter) {
  if (!filterActive(filter)) return null;
  const { calls, codes } = trace;
  const N = calls.count;
  const hide = hiddenCodes(codes, filter);
  const minNs = filter.minNs > 0 ? filter.minNs : 0;
  const kept = new Uint8Array(N);
  const selfNs = new Float64Array(N);
  const childCount = new Int32Array(N);
  let keptCount = 0;
  for (let i = 0; i < N; i++) {
    const p = calls.parent[i];
    const dur = Math.max(0, calls.end[i] - calls.start[i]);
    if ((p >= 0 && !kept[p]) || hide[calls.code[i]] || dur < minNs) continue;
    kept[i] = 1;
    keptCount++;
    selfNs[i] += dur;
    if (p >= 0) {
      selfNs[p] -= dur;
      childCount[p]++;
    }
  }
  for (let i = 0; i < N; i++) if (selfNs[i] < 0) selfNs[i] = 0;
  return { kept, keptCount, selfNs, childCount };
}

/**
 * The row index (layout.js buildIndex's shape) of the kept calls: each row keeps its kept calls in
 * order (depths do not change: a kept call's ancestors are kept), with the filtered self times and
 * child counts. Built once per filter change; the views draw it as they draw the full index.
 */
export function filteredIndex(index, applied) {
  const { kept } = applied;
  const threadRows = index.threadRows.map((rows) => {
    const out = [];
    for (const row of rows) {
      let n = 0;
      for (let k = 0; k < row.length; k++) n += kept[row[k]];
      if (n === 0) break; // deeper rows have no kept call either
      const r = new Int32Array(n);
      let j = 0;
      for (let k = 0; k < row.length; k++) if (kept[row[k]]) r[j++] = row[k];
      out.push(r);
    }
    return out;
  });
  return { threadRows, selfNs: applied.selfNs, childCount: applied.childCount };
}

/**
 * The search box's text as a test of a function's name or file: { test(s) -> bool } (case
 * ignored), null for an empty text, or { error: message } for a regex that does not compile
 * (never an exception). Plain text: "contains"; regex: RegExp.test.
 */
export function compileSearch(text, regex) {
  const q = String(text).trim();
  if (!q) return null;
  if (!regex) {
    const low = q.toLowerCase();
    return { test: (s) => s.toLowerCase().includes(low) };
  }
  let re;
  try {
    re = new RegExp(q, "i");
  } catch (e) {
    // the engine's message already starts with "Invalid regular expression" (V8's does, with the
    // pattern): said once
    const why = e && e.message ? String(e.message) : String(e);
    return { error: /^invalid regular expression/i.test(why) ? why : `Invalid regular expression: ${why}` };
  }
  return { test: (s) => re.test(s) };
}

const DURATION_UNITS = { ns: 1, us: 1e3, "µs": 1e3, ms: 1e6, s: 1e9 };

/**
 * A minimum duration as typed: "1ms", "250 us", "0.5s", "800ns"; a bare number is milliseconds.
 * Returns ns (0 for an empty text), or NaN when the text is not a duration.
 */
export function parseDuration(text) {
  const m = /^\s*(\d+(?:\.\d*)?|\.\d+)\s*(ns|us|µs|ms|s)?\s*$/i.exec(String(text));
  if (!String(text).trim()) return 0;
  if (!m) return NaN;
  return Math.round(Number(m[1]) * DURATION_UNITS[(m[2] || "ms").toLowerCase().replace("μ", "µ")]);
}
