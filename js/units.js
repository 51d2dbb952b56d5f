// units.js: time units and axis ticks. Pure functions, no DOM (tested in node).
// Times are integer nanoseconds held in JS numbers (exact up to 2^53 ns, about 104 days).

const UNIT_STEPS = [
  { unit: "s", ns: 1e9 },
  { unit: "ms", ns: 1e6 },
  { unit: "µs", ns: 1e3 },
  { unit: "ns", ns: 1 },
];

/** The unit a duration reads best in: the largest unit in which it is at least 1. */
export function unitFor(ns) {
  const a = Math.abs(ns);
  for (const u of UNIT_STEPS) if (a >= u.ns) return u;
  return UNIT_STEPS[UNIT_STEPS.length - 1];
}

/**
 * A duration as short text: "1.23 s", "45.6 ms", "789 µs", "12 ns". The project's one rule (the
 * table tests/fixtures/durations.json; the Rust core's units::format_duration is the same rule):
 * the largest unit in which the value is at least 1; 3 decimals under 10, 2 under 100, 1 under
 * 1000, trailing zeros dropped; rounded on the integer nanoseconds, half away from zero; a value
 * that rounds to 1000 reads in the next unit (999.96 µs reads "1 ms", not "1000 µs").
 */
export function formatDuration(ns) {
  if (!Number.isFinite(ns)) return String(ns);
  const n = Math.round(ns);
  const sign = n < 0 ? "-" : "";
  const a = Math.abs(n);
  const u = unitFor(a);
  const i = UNIT_STEPS.indexOf(u);
  const text = magnitudeIn(a, u.ns);
  if (i > 0 && text.split(".")[0].length >= 4) return `${sign}${magnitudeIn(a, UNIT_STEPS[i - 1].ns)} ${UNIT_STEPS[i - 1].unit}`;
  return `${sign}${text} ${u.unit}`;
}

/** `a` (whole, non-negative ns) in units of `size` ns, at the rule's decimals, zeros trimmed. */
function magnitudeIn(a, size) {
  if (size === 1) return String(a);
  const decimals = a >= 100 * size ? 1 : a >= 10 * size ? 2 : 3;
  const scale = 10 ** decimals;
  const step = size / scale; // a whole number of ns: size is 10^3 or more
  const q = Math.floor((2 * a + step) / (2 * step)); // a / step rounded, half away from zero
  const int = Math.floor(q / scale);
  const frac = q % scale;
  if (frac === 0) return String(int);
  return `${int}.${String(frac).padStart(decimals, "0").replace(/0+$/, "")}`;
}

function trimZeros(s) {
  return s.includes(".") ? s.replace(/\.?0+$/, "") : s;
}

/**
 * Axis ticks for the time window [start_ns, end_ns] with at most about `maxTicks` ticks.
 * The step is 1, 2 or 5 times a power of ten nanoseconds. Labels use one unit: the step's, or the
 * times' own when that would need more than 4 integer digits (a deep zoom reads "7.80205 ms", not
 * "7802050 ns"), with as many decimals as the step needs, so neighbouring labels always differ.
 * Returns { step_ns, unit, ticks: [{ t_ns, label }] }.
 */
export function timeTicks(start_ns, end_ns, maxTicks) {
  const span = end_ns - start_ns;
  if (!(span > 0) || !(maxTicks >= 1)) return { step_ns: 0, unit: "ns", ticks: [] };
  const raw = span / maxTicks;
  let pow = Math.pow(10, Math.floor(Math.log10(raw)));
  let step = pow;
  for (const m of [1, 2, 5, 10]) {
    if (m * pow >= raw) { step = m * pow; break; }
  }
  step = Math.max(1, step);
  // The step's unit, unless the labels would need more than 4 integer digits (a deep zoom far from
  // 0): then the unit of the times' magnitude.
  const magnitude = Math.max(Math.abs(start_ns), Math.abs(end_ns));
  let u = unitFor(step);
  if (magnitude / u.ns >= 1e4) u = unitFor(magnitude);
  const decimals = Math.max(0, Math.ceil(-Math.log10(step / u.ns) - 1e-9));
  const first = Math.ceil(start_ns / step) * step;
  const ticks = [];
  for (let t = first; t <= end_ns && ticks.length < 10 * maxTicks + 2; t += step) {
    const v = t / u.ns;
    ticks.push({ t_ns: t, label: `${fixedLabel(v, decimals)} ${u.unit}` });
  }
  return { step_ns: step, unit: u.unit, ticks };
}

/**
 * A time point as text precise enough to tell apart points `resolution_ns` apart: the unit from
 * the magnitude of t, at least 4 significant digits ("7.802123 ms" in a 400 ns window).
 */
export function formatTimeAt(t_ns, resolution_ns) {
  const u = unitFor(Math.max(Math.abs(t_ns), 1));
  if (u.ns === 1) return `${Math.round(t_ns)} ns`;
  const res = Math.max(1, resolution_ns) / u.ns;
  const decimals = Math.min(9, Math.max(0, Math.ceil(-Math.log10(res))));
  const v = t_ns / u.ns;
  const minDecimals = Math.abs(v) >= 100 ? 1 : Math.abs(v) >= 10 ? 2 : 3;
  return `${trimZeros(v.toFixed(Math.max(decimals, minDecimals)))} ${u.unit}`;
}

/**
 * The zoomed window as text, "12.5 ms – 14 ms  (1.5 ms)": its ends as times from `originNs` (the
 * time shown as 0, see layout.js displayOrigin) precise to a thousandth of its width, then its width.
 */
export function formatWindow(start_ns, end_ns, originNs = 0) {
  const res = (end_ns - start_ns) / 1000;
  return `${formatTimeAt(start_ns - originNs, res)} – ${formatTimeAt(end_ns - originNs, res)}  (${formatDuration(end_ns - start_ns)})`;
}

function fixedLabel(v, decimals) {
  const s = v.toFixed(Math.min(decimals, 9));
  return s === "-0" || /^-0\.0*$/.test(s) ? s.slice(1) : s;
}

/** A byte count as text: "3.2 MB". */
export function formatBytes(n) {
  if (n < 1024) return `${n} B`;
  const units = ["kB", "MB", "GB", "TB"];
  let v = n;
  let i = -1;
  do { v /= 1024; i++; } while (v >= 1024 && i < units.length - 1);
  return `${trimZeros(v.toFixed(v >= 100 ? 0 : 1))} ${units[i]}`;
}

/** An integer with thousands separators: 1234567 -> "1,234,567". */
export function formatCount(n) {
  return String(Math.round(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/**
 * Roots of a trace for `shortPath`: its metadata entries "paths.roots" and "paths.cells" (JSON lists of [prefix or file, label]
 * pairs: a prefix ends with a separator, a file does not), parsed; entries that are not pairs of strings are left out.
 * @param {Record<string, string>} metadata
 * @returns {Array<[string, string]>}
 */
export function pathRoots(metadata) {
  const out = [];
  for (const key of ["paths.roots", "paths.cells"]) {
    let parsed;
    try {
      parsed = JSON.parse((metadata && metadata[key]) || "[]");
    } catch (_e) {
      continue;
    }
    if (!Array.isArray(parsed)) continue;
    for (const e of parsed) {
      if (Array.isArray(e) && e.length === 2 && typeof e[0] === "string" && e[0] !== "" && typeof e[1] === "string") {
        out.push(/** @type {[string, string]} */ (e));
      }
    }
  }
  return out;
}

/**
 * A file name as the user knows it: under a root, the root's label and the rest of the path (the
 * longest matching root wins); else unchanged. The rule of rust/core/src/paths.rs, checked against
 * the same cases (tests/fixtures/paths.json).
 * @param {string} file
 * @param {Array<[string, string]>} roots
 */
export function shortPath(file, roots) {
  let best = null;
  for (const r of roots) {
    if (!/[/\\]$/.test(r[0])) {  // one file exactly (a notebook cell): its label
      if (r[0] === file) return r[1];
      continue;
    }
    if (file.length > r[0].length && file.startsWith(r[0]) && (best === null || r[0].length > best[0].length)) best = r;
  }
  return best === null ? file : best[1] + file.slice(best[0].length);
}
