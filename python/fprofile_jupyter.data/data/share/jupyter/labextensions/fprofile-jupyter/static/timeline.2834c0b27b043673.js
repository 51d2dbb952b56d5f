// fprofile-jupyter 0.1.0 timeline bundle for host "widget": js/units.js + js/decode.js + js/payload.js + js/windowreply.js + js/bandclamp.js + js/lanes.js + js/layout.js + js/keepview.js + js/summaryscope.js + js/filters.js + js/flame.js + js/flamesize.js + js/render.js + js/bandrows.js + js/processrows.js + js/table.js + js/viewport.js + js/state.js + js/windowsource.js + js/panel.js + js/tooltip.js + js/filterbar.js + js/details.js + js/sidepanel.js + js/threads.js + js/search.js + js/overview.js + js/zoomview.js + js/flameview.js + js/diffview.js + js/timeline.js + js/hosts/widget.js

// ---- js/units.js ----
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

// ---- js/decode.js ----
// decode.js: the .fpt binary format (docs/format.md) -> a decoded trace of typed-array columns.
// Layer 1: depends on nothing (no DOM). Every constraint of the spec is checked; every error names
// what is wrong and the byte offset where it was found (in the file for the header, in the
// decompressed body otherwise).

/** The version fprofile writes; version 1 (no process table, no bands) is still read. */
export const FPT_VERSION = 2;
const FPT_VERSION_1 = 1;
const FPT_HEADER_LEN = 16;
/** Deepest call depth (as the Rust core: 2^32 - 2). */
const MAX_DEPTH = 4294967294;
const FPT_MAX_BODY = 2 * 1024 * 1024 * 1024; // 2 GiB, the spec's hard limit

/** What this browser page accepts before refusing a trace as too big (overridable per call). */
export const DECODE_LIMITS = Object.freeze({
  maxBodyBytes: 1024 * 1024 * 1024, // 1 GiB decompressed
  maxCalls: 20_000_000,             // about 35 bytes of columns and indexes per call
});

/** A file that does not follow the format. `offset` is a byte offset (see `where`). */
export class FptError extends Error {
  constructor(message, offset, where = "body") {
    super(offset === undefined ? message : `${message} (at byte ${offset} of the ${where})`);
    this.name = "FptError";
    this.offset = offset;
  }
}

/** A valid trace that is more than this page will hold; the message carries the numbers. */
export class TraceTooLargeError extends Error {
  constructor(message) {
    super(message);
    this.name = "TraceTooLargeError";
  }
}

/** Bytes of an ArrayBuffer, a typed array or a DataView as a Uint8Array (no copy). */
export function asBytes(data) {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new TypeError("trace data must be an ArrayBuffer, a typed array or a DataView");
}

/** The 16-byte header: { version, compressed, bodyLen }. Throws FptError. */
export function readFptHeader(bytes) {
  if (bytes.length < 4 || bytes[0] !== 0x46 || bytes[1] !== 0x50 || bytes[2] !== 0x52 || bytes[3] !== 0x46) {
    throw new FptError("not an fprofile trace: the file does not start with the magic FPRF", 0, "file");
  }
  if (bytes.length < FPT_HEADER_LEN) {
    throw new FptError(`truncated header: ${bytes.length} bytes, the header has ${FPT_HEADER_LEN}`, bytes.length, "file");
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = dv.getUint16(4, true);
  if (version !== FPT_VERSION && version !== FPT_VERSION_1) {
    throw new FptError(`unsupported format version ${version}: this viewer reads versions ${FPT_VERSION_1} and ${FPT_VERSION}` +
      (version > FPT_VERSION ? " (the file was written by a newer fprofile)" : ""), 4, "file");
  }
  const flags = dv.getUint16(6, true);
  if (flags & ~1) throw new FptError(`reserved header flag bits set (flags = 0x${flags.toString(16)})`, 6, "file");
  const lo = dv.getUint32(8, true);
  const hi = dv.getUint32(12, true);
  if (hi > 0 || lo > FPT_MAX_BODY) {
    throw new FptError(`body_len ${hi * 4294967296 + lo} is above the 2 GiB limit`, 8, "file");
  }
  return { version, compressed: (flags & 1) === 1, bodyLen: lo };
}

/**
 * Decode a whole .fpt file. Async because the body is inflated with DecompressionStream.
 * `limits` overrides DECODE_LIMITS. Rejects with FptError or TraceTooLargeError.
 */
export async function decodeFpt(data, limits = {}) {
  const lim = { ...DECODE_LIMITS, ...limits };
  const bytes = asBytes(data);
  const header = readFptHeader(bytes);
  if (header.bodyLen > lim.maxBodyBytes) {
    throw new TraceTooLargeError(`This trace is too large for the browser: ${header.bodyLen.toLocaleString("en")} bytes ` +
      `of decompressed data (${bytes.length.toLocaleString("en")} on disk); this page accepts at most ` +
      `${lim.maxBodyBytes.toLocaleString("en")}. Record fewer functions (subs) or a shorter run.`);
  }
  const rest = bytes.subarray(FPT_HEADER_LEN);
  let body;
  if (header.compressed) {
    body = await inflateZlib(rest, header.bodyLen);
  } else {
    if (rest.length < header.bodyLen) {
      throw new FptError(`truncated body: ${rest.length} bytes, body_len says ${header.bodyLen}`, bytes.length, "file");
    }
    if (rest.length > header.bodyLen) {
      throw new FptError(`${rest.length - header.bodyLen} trailing bytes after the body`, FPT_HEADER_LEN + header.bodyLen, "file");
    }
    body = rest;
  }
  return decodeFptBody(body, lim, header.version);
}

/** Inflate a zlib stream (RFC 1950) with `bodyLen` as a hard output limit. */
export async function inflateZlib(input, bodyLen) {
  if (typeof DecompressionStream !== "function") {
    throw new Error("this browser cannot decompress traces (no DecompressionStream); use a current Chromium, Firefox or Safari");
  }
  const ds = new DecompressionStream("deflate");
  const writer = ds.writable.getWriter();
  // Errors surface on the read side; the write side's promises must not go unhandled.
  writer.write(input).then(() => writer.close()).catch(() => {});
  const reader = ds.readable.getReader();
  const out = new Uint8Array(bodyLen);
  let n = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (n + value.length > bodyLen) {
        reader.cancel().catch(() => {});
        throw new FptError(`the zlib stream inflates to more than body_len (${bodyLen} bytes)`, bodyLen);
      }
      out.set(value, n);
      n += value.length;
    }
  } catch (e) {
    if (e instanceof FptError) throw e;
    throw new FptError(`corrupt or truncated zlib stream (${e && e.message ? e.message : e}); ${n} bytes inflated`, FPT_HEADER_LEN, "file");
  }
  if (n !== bodyLen) throw new FptError(`the zlib stream inflates to ${n} bytes but body_len says ${bodyLen}`, n);
  // A zlib stream ends with the Adler-32 of its data: when the input's last 4 bytes are not that,
  // something follows the stream (not every DecompressionStream reports trailing data itself).
  const a = adler32(out);
  const m = input.length;
  const tail = m >= 4 ? ((input[m - 4] << 24) | (input[m - 3] << 16) | (input[m - 2] << 8) | input[m - 1]) >>> 0 : -1;
  if (tail !== a) throw new FptError("trailing bytes after the zlib stream", FPT_HEADER_LEN + m, "file");
  return out;
}

function adler32(bytes) {
  let a = 1;
  let b = 0;
  const n = bytes.length;
  for (let i = 0; i < n;) {
    const end = Math.min(n, i + 5552);
    for (; i < end; i++) {
      a += bytes[i];
      b += a;
    }
    a %= 65521;
    b %= 65521;
  }
  return ((b << 16) | a) >>> 0;
}

const TWO_POW_53 = 9007199254740992;

/** Reader of the body: LEB128 varints, zigzag, strings. Every read is bounds-checked. */
class BodyReader {
  constructor(bytes) {
    this.b = bytes;
    this.pos = 0;
    this.len = bytes.length;
  }
  left() { return this.len - this.pos; }
  /** Unsigned varint; `what` names the field for errors. Values must be below 2^53 unless `approx`. */
  u(what, approx = false) {
    const b = this.b;
    let p = this.pos;
    if (p >= this.len) throw new FptError(`truncated: the body ends inside ${what}`, p);
    let byte = b[p++];
    if (byte < 128) { this.pos = p; return byte; }
    let value = byte & 127;
    let mult = 128;
    for (let i = 1; ; i++) {
      if (p >= this.len) throw new FptError(`truncated: the body ends inside ${what}`, p);
      byte = b[p++];
      if (i === 9 && byte > 1) throw new FptError(`varint of ${what} does not fit in 64 bits`, this.pos);
      value += (byte & 127) * mult;
      if (byte < 128) break;
      if (i === 9) throw new FptError(`varint of ${what} is longer than 10 bytes`, this.pos);
      mult *= 128;
    }
    if (value >= TWO_POW_53 && !approx) {
      throw new FptError(`${what} = ${value} is beyond what a browser holds exactly (2^53)`, this.pos);
    }
    this.pos = p;
    return value;
  }
  /** Signed (zigzag) varint (nearest double beyond 2^53 when `approx`). */
  s(what, approx = false) {
    const z = this.u(what, approx);
    return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
  }
  /** A count of elements each taking at least `minBytes` bytes: checked against the bytes left. */
  count(what, minBytes) {
    const at = this.pos;
    const n = this.u(what);
    if (n * minBytes > this.left()) {
      throw new FptError(`${what} = ${n} is more than the ${this.left()} bytes left can hold`, at);
    }
    return n;
  }
  str(what, decoder) {
    const at = this.pos;
    const n = this.u(`the length of ${what}`);
    if (n > this.left()) throw new FptError(`truncated: ${what} of ${n} bytes goes past the end of the body`, at);
    let s;
    try {
      s = decoder.decode(this.b.subarray(this.pos, this.pos + n));
    } catch (_e) {
      throw new FptError(`${what} is not valid UTF-8`, this.pos);
    }
    this.pos += n;
    return s;
  }
}

/** Version 1: depth deltas, start deltas and durations, column after column. */
function readTimesV1(r, t, n, firstNs, lastNs) {
  const depth = new Uint32Array(n);
  let maxDepth = -1;
  let prev = -1;
  for (let i = 0; i < n; i++) {
    const at = r.pos;
    const d = prev + r.s("depth delta");
    if (i === 0 && d !== 0) throw new FptError(`the first call of thread ${t} has depth ${d}, expected 0`, at);
    if (d < 0) throw new FptError(`call ${i} of thread ${t} has negative depth ${d}`, at);
    if (d > prev + 1) throw new FptError(`call ${i} of thread ${t} has depth ${d}, more than one below the previous call (${prev})`, at);
    if (d > MAX_DEPTH) throw new FptError(`call ${i} of thread ${t} has depth ${d} (at most ${MAX_DEPTH})`, at);
    depth[i] = d;
    if (d > maxDepth) maxDepth = d;
    prev = d;
  }
  const start = new Float64Array(n);
  let s = firstNs;
  for (let i = 0; i < n; i++) {
    s += r.u("start delta");
    start[i] = s;
  }
  const end = new Float64Array(n);
  const parent = new Int32Array(n);
  const stack = new Int32Array(Math.max(1, maxDepth + 1));
  for (let i = 0; i < n; i++) {
    const at = r.pos;
    const e = start[i] + r.u("duration");
    end[i] = e;
    if (start[i] > lastNs || e > lastNs) {
      throw new FptError(`call ${i} of thread ${t} [${start[i]}, ${e}] ns lies outside its thread's span [${firstNs}, ${lastNs}]`, at);
    }
    const d = depth[i];
    stack[d] = i;
    if (d === 0) {
      parent[i] = -1;
    } else {
      const p = stack[d - 1];
      parent[i] = p;
      if (e > end[p]) {
        throw new FptError(`call ${i} of thread ${t} ends at ${e} ns, after its parent (call ${p}, ending at ${end[p]} ns)`, at);
      }
    }
  }
  return { depth, start, end, parent, maxDepth };
}

/**
 * Version 2: the pops column, the back list and the event gaps (docs/format.md): depth, parent,
 * start and end of a thread's `n` calls.
 */
function readTimes(r, t, n, firstNs, lastNs) {
  const depth = new Uint32Array(n);
  let maxDepth = -1;
  let prev = -1;
  for (let i = 0; i < n; i++) {
    const at = r.pos;
    const pops = r.u("pops");
    const d = prev + 1 - pops;
    if (d < 0) throw new FptError(`call ${i} of thread ${t}: ${pops} calls end before it, ${prev + 1} are open`, at);
    if (d > MAX_DEPTH) throw new FptError(`call ${i} of thread ${t} has depth ${d} (at most ${MAX_DEPTH})`, at);
    depth[i] = d;
    if (d > maxDepth) maxDepth = d;
    prev = d;
  }
  const backCount = r.count(`back_count of thread ${t}`, 2);
  if (backCount > n) throw new FptError(`back_count ${backCount} of thread ${t} is more than its ${n} calls`, r.pos);
  const backIdx = new Float64Array(backCount);
  const backNs = new Float64Array(backCount);
  let idx = -1;
  for (let k = 0; k < backCount; k++) {
    const at = r.pos;
    idx += r.u("back index_delta") + 1;
    if (idx >= n) throw new FptError(`back call index ${idx} of thread ${t} is past its ${n} calls`, at);
    backIdx[k] = idx;
    backNs[k] = r.u("back_ns");
  }
  if (2 * n > r.left()) throw new FptError(`gaps of thread ${t}: ${2 * n} values but only ${r.left()} bytes left`, r.pos);
  // two planes: `first` walks the first bytes (one per value), `rest` the other bytes after them
  const b = r.b;
  let first = r.pos;
  let rest = first + 2 * n;
  const what = `gaps of thread ${t}`;
  const gap = () => {
    const v = b[first++];
    if (v < 128) return v;
    r.pos = rest;
    const g = (v & 127) + r.u(what) * 128;
    if (g >= TWO_POW_53) throw new FptError(`${what}: ${g} is beyond what a browser holds exactly (2^53)`, rest);
    rest = r.pos;
    return g;
  };
  const start = new Float64Array(n);
  const end = new Float64Array(n);
  const parent = new Int32Array(n);
  const open = new Int32Array(maxDepth + 1);     // the open calls
  const kidsEnd = new Float64Array(maxDepth + 1); // the latest end among each one's finished children
  let top = 0;
  let time = firstNs;
  let bk = 0;
  const close = () => {
    const at = first;
    const e = time + gap();
    top--;
    const k = open[top];
    if (e > lastNs) throw new FptError(`call ${k} of thread ${t} ends at ${e} ns, after its thread's last time (${lastNs} ns)`, at);
    if (e < kidsEnd[top]) throw new FptError(`call ${k} of thread ${t} ends at ${e} ns, before a call inside it (ending at ${kidsEnd[top]} ns)`, at);
    end[k] = e;
    if (top > 0 && e > kidsEnd[top - 1]) kidsEnd[top - 1] = e;
    time = e;
  };
  for (let i = 0; i < n; i++) {
    const d = depth[i];
    while (top > d) close();
    const at = first;
    let s = time + gap();
    if (bk < backCount && backIdx[bk] === i) s -= backNs[bk++];
    if (s > lastNs) throw new FptError(`call ${i} of thread ${t} starts at ${s} ns, after its thread's last time (${lastNs} ns)`, at);
    if (s < (i === 0 ? firstNs : start[i - 1])) {
      throw new FptError(`call ${i} of thread ${t} starts at ${s} ns, before the previous call (calls are in start order)`, at);
    }
    start[i] = s;
    parent[i] = top > 0 ? open[top - 1] : -1;
    open[top] = i;
    kidsEnd[top] = s;
    top++;
    time = s;
  }
  while (top > 0) close();
  r.pos = rest;
  return { depth, start, end, parent, maxDepth };
}

/**
 * Decode a decompressed body of format `version` (1 or 2; synchronous; the part node tests drive
 * directly). Returns the decoded trace:
 * {
 *   originNs, strings,
 *   codes: { count, name: string[], file: string[], line: Int32Array },
 *   processes: [{ index, pid, parentPid, name, host, startNs, endNs, exitStatus (number or null),
 *                 clockOffsetNs, clockUncertaintyNs, aligned, incomplete }],
 *   threads: [{ index, process (index in processes), osId, lane, firstNs, lastNs, names: [{ tNs, name }], name,
 *               callStart, callEnd, maxDepth }],
 *   calls: { count, start: Float64Array, end: Float64Array, code: Int32Array, depth: Uint32Array,
 *            parent: Int32Array (global index, -1 for top level), thread: Int32Array, flags: Uint8Array },
 *   bands: [{ thread, startNs, endNs, label }]   (ordered by thread, then start),
 *   startNs, endNs, metadata
 * }
 * Times are ns relative to the trace origin. A version-1 body is one process (pid 0, name and host
 * "") spanning the threads, with no bands.
 */
export function decodeFptBody(body, limits = {}, version = FPT_VERSION) {
  const lim = { ...DECODE_LIMITS, ...limits };
  if (version !== FPT_VERSION && version !== FPT_VERSION_1) throw new FptError(`unsupported format version ${version}`);
  const v2 = version === FPT_VERSION;
  const r = new BodyReader(asBytes(body));
  const utf8 = new TextDecoder("utf-8", { fatal: true });

  const originNs = r.u("origin_ns", true);

  const stringCount = r.count("string_count", 1);
  const strings = new Array(stringCount);
  for (let i = 0; i < stringCount; i++) strings[i] = r.str(`string ${i}`, utf8);

  const sid = (what) => {
    const at = r.pos;
    const v = r.u(what);
    if (v >= stringCount) throw new FptError(`${what} = ${v} is not a string id (the table has ${stringCount})`, at);
    return v;
  };

  const codeCount = r.count("code_count", 3);
  const codeName = new Array(codeCount);
  const codeFile = new Array(codeCount);
  const codeLine = new Int32Array(codeCount);
  for (let i = 0; i < codeCount; i++) {
    codeFile[i] = strings[sid(`file_sid of code ${i}`)];
    codeName[i] = strings[sid(`name_sid of code ${i}`)];
    const at = r.pos;
    const line = r.u(`first_line of code ${i}`);
    if (line > 2147483647) throw new FptError(`first_line of code ${i} = ${line} is out of range`, at);
    codeLine[i] = line;
  }

  const processes = [];
  if (v2) {
    const processCount = r.count("process_count", 9);
    for (let p = 0; p < processCount; p++) processes.push(readProcess(r, p, sid, strings));
  }

  const threadAt = r.pos;
  const threadCount = r.count("thread_count", v2 ? 8 : 7);
  if (v2 && threadCount > 0 && processes.length === 0) {
    throw new FptError(`${threadCount} threads but no process (process_count is 0)`, threadAt);
  }
  const threads = [];
  const parts = [];
  let totalCalls = 0;
  for (let t = 0; t < threadCount; t++) {
    let process = 0;
    if (v2) {
      const at = r.pos;
      process = r.u(`process of thread ${t}`);
      if (process >= processes.length) {
        throw new FptError(`process of thread ${t} = ${process} is not in the process table (${processes.length} processes)`, at);
      }
    }
    const osId = r.u(`os_id of thread ${t}`, true);
    const lane = r.u(`lane of thread ${t}`);
    const firstNs = r.s(`first_ns of thread ${t}`);
    const spanNs = r.u(`span_ns of thread ${t}`);
    const lastNs = firstNs + spanNs;
    if (Math.abs(lastNs) >= TWO_POW_53) throw new FptError(`thread ${t} ends beyond 2^53 ns`, r.pos);
    const nameAt = r.pos;
    const nameCount = r.count(`name_count of thread ${t}`, 2);
    if (nameCount < 1) throw new FptError(`thread ${t} has no name (name_count must be at least 1)`, nameAt);
    const names = [];
    let tn = firstNs;
    for (let k = 0; k < nameCount; k++) {
      const at = r.pos;
      const dt = r.u(`dt_ns of name ${k} of thread ${t}`);
      if (k === 0 && dt !== 0) throw new FptError(`the first name of thread ${t} must hold from first_ns (dt_ns = ${dt}, expected 0)`, at);
      tn += dt;
      names.push({ tNs: tn, name: strings[sid(`name_sid of name ${k} of thread ${t}`)] });
    }

    const n = r.count(`call_count of thread ${t}`, 4);
    totalCalls += n;
    if (totalCalls > lim.maxCalls) {
      throw new TraceTooLargeError(`This trace is too large for the browser: more than ${lim.maxCalls.toLocaleString("en")} calls ` +
        `(${totalCalls.toLocaleString("en")} in its first ${t + 1} of ${threadCount} threads). Record fewer functions (subs) ` +
        `or a shorter run.`);
    }
    const code = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const at = r.pos;
      const c = r.u("code_id");
      if (c >= codeCount) throw new FptError(`code_id ${c} of call ${i} of thread ${t} is not in the code table (${codeCount} codes)`, at);
      code[i] = c;
    }
    const { depth, start, end, parent, maxDepth } = v2 ? readTimes(r, t, n, firstNs, lastNs) : readTimesV1(r, t, n, firstNs, lastNs);
    const flags = new Uint8Array(n);
    const flaggedCount = r.count(`flagged_count of thread ${t}`, 2);
    let idx = -1;
    for (let k = 0; k < flaggedCount; k++) {
      const at = r.pos;
      idx += r.u("index_delta") + 1;
      if (idx >= n) throw new FptError(`flagged call index ${idx} of thread ${t} is past its ${n} calls`, at);
      const fat = r.pos;
      const f = r.u("flags");
      if (f > 3) throw new FptError(`reserved call flag bits set (flags = ${f}) on call ${idx} of thread ${t}`, fat);
      flags[idx] = f;
    }
    threads.push({
      index: t, process, osId, lane, firstNs, lastNs, names, name: names[names.length - 1].name,
      callStart: totalCalls - n, callEnd: totalCalls, maxDepth,
    });
    parts.push({ code, depth, start, end, parent, flags });
  }

  const bands = [];
  if (v2) {
    const bandCount = r.count("band_count", 4);
    for (let b = 0; b < bandCount; b++) {
      const at = r.pos;
      const thread = r.u(`thread of band ${b}`);
      if (thread >= threadCount) throw new FptError(`thread of band ${b} = ${thread} is not in the thread table (${threadCount} threads)`, at);
      const startNs = r.s(`start_ns of band ${b}`);
      const prev = bands[bands.length - 1];
      if (prev && (thread < prev.thread || (thread === prev.thread && startNs < prev.startNs))) {
        throw new FptError(`band ${b} is out of order (bands are ordered by thread, then start)`, at);
      }
      const endNs = startNs + r.u(`dur_ns of band ${b}`);
      if (Math.abs(endNs) >= TWO_POW_53) throw new FptError(`band ${b} ends beyond 2^53 ns`, r.pos);
      bands.push({ thread, startNs, endNs, label: strings[sid(`label_sid of band ${b}`)] });
    }
  }

  const metaAt = r.pos;
  const metaLen = r.u("metadata_len");
  if (metaLen > r.left()) throw new FptError(`truncated: metadata of ${metaLen} bytes goes past the end of the body`, metaAt);
  let metadata = {};
  if (metaLen > 0) {
    let text;
    try {
      text = utf8.decode(r.b.subarray(r.pos, r.pos + metaLen));
      metadata = JSON.parse(text);
    } catch (_e) {
      throw new FptError("metadata is not valid UTF-8 JSON", r.pos);
    }
    if (metadata === null || typeof metadata !== "object" || Array.isArray(metadata)) {
      throw new FptError("metadata is not a JSON object", r.pos);
    }
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== "string") throw new FptError(`metadata value of ${JSON.stringify(k)} is not a string`, r.pos);
    }
  }
  r.pos += metaLen;
  if (r.left() !== 0) throw new FptError(`${r.left()} trailing bytes after the metadata`, r.pos);

  // Global columns (threads' call ranges are consecutive).
  const N = totalCalls;
  const calls = {
    count: N,
    start: new Float64Array(N), end: new Float64Array(N), code: new Int32Array(N),
    depth: new Uint32Array(N), parent: new Int32Array(N), thread: new Int32Array(N), flags: new Uint8Array(N),
  };
  let startNs = Infinity;
  let endNs = -Infinity;
  for (let t = 0; t < threadCount; t++) {
    const p = parts[t];
    const off = threads[t].callStart;
    calls.start.set(p.start, off);
    calls.end.set(p.end, off);
    calls.code.set(p.code, off);
    calls.depth.set(p.depth, off);
    calls.flags.set(p.flags, off);
    calls.thread.fill(t, off, off + p.code.length);
    const par = p.parent;
    for (let i = 0; i < par.length; i++) calls.parent[off + i] = par[i] < 0 ? -1 : par[i] + off;
    if (threads[t].firstNs < startNs) startNs = threads[t].firstNs;
    if (threads[t].lastNs > endNs) endNs = threads[t].lastNs;
  }
  if (threadCount === 0) { startNs = 0; endNs = 0; }
  if (!v2 && threadCount > 0) {
    processes.push({
      index: 0, pid: 0, parentPid: 0, name: "", host: "", startNs, endNs, exitStatus: null,
      clockOffsetNs: 0, clockUncertaintyNs: 0, aligned: true, incomplete: false,
    });
  }
  return {
    originNs, strings,
    codes: { count: codeCount, name: codeName, file: codeFile, line: codeLine },
    processes, threads, calls, bands, startNs, endNs, metadata,
  };
}

const PROCESS_INCOMPLETE = 1;
const PROCESS_EXIT_KNOWN = 2;
const PROCESS_CLOCK_UNALIGNED = 4;

/** One entry of the process table (version 2). */
function readProcess(r, p, sid, strings) {
  const pid = r.u(`pid of process ${p}`, true);
  const parentPid = r.u(`parent_pid of process ${p}`, true);
  const name = strings[sid(`name_sid of process ${p}`)];
  const host = strings[sid(`host_sid of process ${p}`)];
  const startNs = r.s(`start_ns of process ${p}`);
  const endNs = startNs + r.u(`span_ns of process ${p}`);
  if (Math.abs(endNs) >= TWO_POW_53) throw new FptError(`process ${p} ends beyond 2^53 ns`, r.pos);
  const flagsAt = r.pos;
  const flags = r.u(`flags of process ${p}`);
  if (flags > 7) throw new FptError(`reserved process flag bits set (flags = ${flags}) on process ${p}`, flagsAt);
  let exitStatus = null;
  if (flags & PROCESS_EXIT_KNOWN) {
    const at = r.pos;
    exitStatus = r.s(`exit_status of process ${p}`);
    if (exitStatus < -2147483648 || exitStatus > 2147483647) {
      throw new FptError(`exit_status of process ${p} = ${exitStatus} does not fit in 32 bits`, at);
    }
  }
  // Hosts' monotonic clocks may differ by more than 2^53 ns (104 days): shown, never computed with exactly.
  const clockOffsetNs = r.s(`clock_offset_ns of process ${p}`, true);
  const clockUncertaintyNs = r.u(`clock_uncertainty_ns of process ${p}`, true);
  return {
    index: p, pid, parentPid, name, host, startNs, endNs, exitStatus, clockOffsetNs, clockUncertaintyNs,
    aligned: (flags & PROCESS_CLOCK_UNALIGNED) === 0, incomplete: (flags & PROCESS_INCOMPLETE) !== 0,
  };
}

// ---- js/payload.js ----
// @ts-check
// payload.js: a notebook output's trace payload -> the widget's read-only model. One home for the
// payload's format, which python/fprofile_jupyter/_display.py (trace_output) and _windowed.py
// (saved_output) write: {"fpt": "<the .fpt bytes, base64>"}, {"error": "<why not>"} or
// {"windowed": {skeleton, overview, last?, window?, calls, summary, note}}. Read by the JupyterLab
// extension (hosts/lab.js, through the widget bundle) and by the notebook fragment
// (hosts/fragment.js, the output's text/html). Pure: no DOM.

/** @param {string} text */
export function payloadBase64ToBytes(text) {
  const bin = atob(text.replace(/\s+/g, ""));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/**
 * The widget's model interface (hosts/widget.js, TimelineModel) over an output's payload:
 * read-only, nothing to sync (there may be no kernel).
 * @param {unknown} payload
 */
export function payloadModel(payload) {
  /** @type {Record<string, unknown>} */
  const state = { data: new DataView(new ArrayBuffer(0)), summary: "", error: "", height: 0,
                  window_start_ns: null, window_end_ns: null };
  const fields = payload && typeof payload === "object" ? /** @type {any} */ (payload) : {};
  const fpt = fields.fpt;
  const saved = fields.windowed && typeof fields.windowed === "object" ? fields.windowed : null;
  const damaged = (/** @type {unknown} */ e) =>
    `fprofile: this output's trace is damaged (${e instanceof Error ? e.message : String(e)}).`;
  if (saved) {
    // a windowed trace's saved copy (python/fprofile_jupyter/_windowed.py saved_output): the
    // skeleton, the overview and the last window; drawn with no kernel, zooming within them
    try {
      Object.assign(state, {
        windowed: true, offline: String(saved.note || "Zooming needs the kernel."), calls: Number(saved.calls) || 0,
        skeleton: new DataView(payloadBase64ToBytes(saved.skeleton).buffer),
        overview: new DataView(payloadBase64ToBytes(saved.overview).buffer),
        last: typeof saved.last === "string" ? new DataView(payloadBase64ToBytes(saved.last).buffer) : null,
        summary: typeof saved.summary === "string" ? saved.summary : "",
      });
      if (Array.isArray(saved.window)) {
        state.window_start_ns = Number(saved.window[0]);
        state.window_end_ns = Number(saved.window[1]);
      }
    } catch (e) {
      state.error = damaged(e);
    }
  } else if (typeof fields.error === "string" && fields.error) {
    state.error = fields.error; // the trace was too big to put in the notebook: why, with the numbers
  } else if (typeof fpt !== "string" || fpt === "") {
    state.error = "fprofile: this output holds no trace (its \"fpt\" field is missing or empty).";
  } else {
    try {
      state.data = new DataView(payloadBase64ToBytes(fpt).buffer);
    } catch (e) {
      state.error = damaged(e);
    }
  }
  return {
    get: (/** @type {string} */ k) => /** @type {any} */ (state)[k],
    set: (/** @type {string} */ k, /** @type {unknown} */ v) => { state[k] = v; },
    save_changes: () => {},
    on: () => {},
    off: () => {},
    send: () => {},
  };
}

// ---- js/windowreply.js ----
// windowreply.js: window replies (docs/format.md, "Window replies"; rust/core/src/window.rs) ->
// columns, and a reply composed with the trace's skeleton (the .fpt of the trace without its calls)
// into a decoded trace of the shape decode.js gives, so that every view draws a window reply as it
// draws a whole trace. Layer 1 (pure, no DOM).


const WINDOW_MAGIC = [0x46, 0x50, 0x57, 0x4e]; // "FPWN"
const WINDOW_VERSION = 1;
const WINDOW_HEADER_LEN = 16;
/** Item flags: a run of calls narrower than a pixel; its sampled members are of several functions. */
export const ITEM_RUN = 4;
export const ITEM_MIXED = 8;

/** A reply's body, read with the checks of the Rust reader. */
function readWindowBody(b, threadCount, codeCount) {
  let pos = 0;
  const fail = (what) => { throw new FptError(`window reply: ${what}`, pos); };
  const u = () => {
    let v = 0;
    let mul = 1;
    for (;;) {
      if (pos >= b.length) fail("truncated");
      const byte = b[pos++];
      v += (byte & 0x7f) * mul;
      if (!(byte & 0x80)) return v;
      mul *= 128;
      if (mul > 2 ** 56) fail("varint too long");
    }
  };
  const s = () => {
    const z = u();
    return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
  };
  const t0 = s();
  const t1 = s();
  const px = u();
  if (!(t1 > t0) || !(px >= 1 && px <= 65536)) fail("bad window");
  const n = u();
  if (n > (b.length - pos) / 6) fail(`item count ${n} larger than the bytes left`);
  const r = {
    t0, t1, px, count: n,
    thread: new Int32Array(n), depth: new Uint32Array(n), start: new Float64Array(n), end: new Float64Array(n),
    code: new Int32Array(n), runs: new Float64Array(n), flags: new Uint8Array(n), parent: new Int32Array(n), call: new Float64Array(n),
  };
  let thread = -1;
  let depth = 0;
  for (let i = 0; i < n; i++) {
    const mark = u();
    let base;
    if (mark === 1) {
      const t = u();
      const d = u();
      if (t >= threadCount) fail(`thread ${t} of item ${i} is not in the trace`);
      if (t < thread || (t === thread && d <= depth)) fail(`item ${i}: rows out of order`);
      thread = t;
      depth = d;
      base = t0;
    } else if (mark === 0 && i > 0) {
      base = r.end[i - 1];
    } else fail(`item ${i}: bad row mark`);
    r.thread[i] = thread;
    r.depth[i] = depth;
    r.start[i] = base + s();
    r.end[i] = r.start[i] + u();
    const code = u();
    if (code >= codeCount) fail(`code ${code} of item ${i} is not in the trace`);
    r.code[i] = code;
    const flags = u();
    if (flags & ~15) fail(`item ${i}: reserved flags`);
    r.flags[i] = flags;
    if (flags & ITEM_RUN) {
      r.runs[i] = u();
      r.parent[i] = -1;
    } else {
      const p = u();
      if (p > i) fail(`item ${i}: parent is not an earlier item`);
      r.runs[i] = 1;
      r.parent[i] = p - 1;
    }
    r.call[i] = (mark === 0 ? r.call[i - 1] : 0) + s();
    if (!(r.call[i] >= 0)) fail(`item ${i}: call index ${r.call[i]}`);
  }
  if (pos !== b.length) fail(`${b.length - pos} trailing bytes`);
  return r;
}

/**
 * Decode a window reply (bytes: ArrayBuffer, typed array or DataView) against the trace's tables.
 * Async: a compressed one (a saved notebook, the HTML export) is inflated. Rejects with FptError.
 */
export async function decodeWindowReply(data, threadCount, codeCount) {
  const bytes = asBytes(data);
  if (bytes.length < WINDOW_HEADER_LEN || WINDOW_MAGIC.some((m, i) => bytes[i] !== m)) {
    throw new FptError("not a window reply (no FPWN header)", 0, "reply");
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = dv.getUint16(4, true);
  if (version !== WINDOW_VERSION) throw new FptError(`window reply version ${version}: this page reads ${WINDOW_VERSION}`, 4, "reply");
  const flags = dv.getUint16(6, true);
  const bodyLen = dv.getUint32(8, true);
  if (flags & ~1 || dv.getUint32(12, true) !== 0 || bodyLen > 256 * 1024 * 1024) throw new FptError("bad window reply header", 6, "reply");
  const rest = bytes.subarray(WINDOW_HEADER_LEN);
  let body = rest;
  if (flags & 1) body = await inflateZlib(rest, bodyLen);
  else if (rest.length !== bodyLen) throw new FptError(`${rest.length} body bytes, the header says ${bodyLen}`, 8, "reply");
  return readWindowBody(body, threadCount, codeCount);
}

/**
 * The trace the views draw for `reply`: the skeleton's tables (a decoded .fpt with no calls) and
 * the reply's items as calls (`calls.runs[i]`: 1 for a call, the number of calls merged for a run;
 * `calls.call[i]`: the call's index in the whole trace). `depths[t]`: the deepest depth of thread
 * t over the whole run (the overview reply's), so every window lays the lanes out alike.
 */
export function composeWindowTrace(skeleton, reply, depths = null) {
  const n = reply.count;
  const threads = skeleton.threads.map((th) => ({ ...th, callStart: 0, callEnd: 0, maxDepth: depths ? depths[th.index] : 0 }));
  for (let i = 0; i < n;) {
    const t = reply.thread[i];
    let j = i;
    while (j < n && reply.thread[j] === t) j++;
    threads[t].callStart = i;
    threads[t].callEnd = j;
    if (!depths) threads[t].maxDepth = reply.depth[j - 1];
    i = j;
  }
  // threads with no item: an empty range at the right place (ranges stay in thread order)
  let at = 0;
  for (const th of threads) {
    if (th.callEnd > th.callStart) at = th.callEnd;
    else { th.callStart = at; th.callEnd = at; }
  }
  const calls = {
    count: n, start: reply.start, end: reply.end, code: reply.code, depth: reply.depth, parent: reply.parent,
    thread: reply.thread, flags: reply.flags, runs: reply.runs, call: reply.call,
  };
  return { ...skeleton, threads, calls, windowed: { t0: reply.t0, t1: reply.t1, px: reply.px } };
}

/** Per thread, its deepest depth in `reply` (the overview's: the whole run), 0 without calls. */
export function replyDepths(reply, threadCount) {
  const depths = new Uint32Array(threadCount);
  for (let i = 0; i < reply.count; i++) if (reply.depth[i] > depths[reply.thread[i]]) depths[reply.thread[i]] = reply.depth[i];
  return depths;
}

// ---- js/bandclamp.js ----
// bandclamp.js: task bands of one thread placed end to end when their times overlap a little.
// A band's times come from the scheduler's estimate of the worker's clock (Dask's), not from our
// clock readings: two consecutive tasks of one thread can seem to overlap by a few ms, which would
// put the second on a band row of its own. One thread runs one task at a time, so such an overlap
// is the estimate's error: the two bands are cut at one instant in the overlap, chosen from the
// thread's own calls (the edge of the outermost call nearest the overlap's middle, so no call of
// the thread is split between the two tasks). Bands that overlap more (one holding most of the
// other: a task run inside another) are left as they are, on rows of their own (lanes.js
// buildBandIndex). Layer 2: pure (no DOM), tested in node (tests/js/lanes.test.mjs).

/** Two bands overlapping by at most this share of the shorter one are consecutive, their overlap an error. */
export const BAND_OVERLAP_MAX_SHARE = 0.5;

/**
 * The outermost calls of thread `t` of a decoded trace as [starts, ends] in start order (the
 * calls of the least depth the thread has; empty arrays when the trace has no calls).
 */
export function outerCalls(trace, t) {
  const calls = trace.calls;
  const th = trace.threads[t];
  const starts = [];
  const ends = [];
  if (!calls || !th || !(th.callEnd > th.callStart)) return [starts, ends];
  let minDepth = Infinity;
  for (let i = th.callStart; i < th.callEnd; i++) minDepth = Math.min(minDepth, calls.depth[i]);
  for (let i = th.callStart; i < th.callEnd; i++) {
    if (calls.depth[i] === minDepth) {
      starts.push(calls.start[i]);
      ends.push(calls.end[i]);
    }
  }
  return [starts, ends];
}

/**
 * Where to cut two bands overlapping over [a, b] (a < b): the overlap's middle, moved to the
 * nearer edge of the outermost call (`outer`: outerCalls) that contains it, when that edge lies in
 * the overlap.
 */
export function bandCut(a, b, outer) {
  const m = (a + b) / 2;
  const [starts, ends] = outer;
  // the last outermost call starting at or before m (they do not overlap one another)
  let lo = 0;
  let hi = starts.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (starts[mid] <= m) lo = mid + 1;
    else hi = mid;
  }
  const i = lo - 1;
  if (i < 0 || ends[i] <= m) return m;
  const s = starts[i];
  const e = ends[i];
  const near = m - s <= e - m ? [s, e] : [e, s];
  for (const x of near) if (x >= a && x <= b) return x;
  return m;
}

/**
 * Bands `list` ([{ startNs, endNs }] of one thread, in start order; changed in place): each band
 * that starts before the previous one ends, by at most BAND_OVERLAP_MAX_SHARE of the shorter of
 * the two, and ends after it, is cut from it at bandCut. `outerOf()` gives the thread's outermost
 * calls (asked for once, at the first overlap). Returns how many overlaps were cut.
 */
export function clampBands(list, outerOf) {
  let outer = null;
  let cut = 0;
  for (let i = 1; i < list.length; i++) {
    const p = list[i - 1];
    const b = list[i];
    const over = p.endNs - b.startNs;
    if (!(over > 0) || b.endNs <= p.endNs || b.startNs < p.startNs) continue;
    const shorter = Math.min(p.endNs - p.startNs, b.endNs - b.startNs);
    if (over > BAND_OVERLAP_MAX_SHARE * shorter) continue;
    if (!outer) outer = outerOf();
    const x = bandCut(b.startNs, p.endNs, outer);
    p.endNs = x;
    b.startNs = x;
    cut++;
  }
  return cut;
}

// ---- js/lanes.js ----
// lanes.js: the vertical layout shared by the zoomed view and the overview. Threads are grouped
// by process: with more than one process each group starts with a header row, and a collapsed
// process is one compact summary lane (the calls of its first depths, all its threads drawn over
// each other); inside an expanded process, threads share lanes by PYME's rule (the lane numbers of
// the trace). A thread with task bands (Dask tasks) gets band rows between its lane header and its
// calls; a lane without bands takes no extra space. Also: the band index (bands that overlap on
// one thread go to separate rows), hit testing of content y, and the overview's rows.
// Layer 2: pure (no DOM), tested in node (tests/js/lanes.test.mjs).


/** The processes of a decoded trace: its table, or one unnamed process when it has none. */
export function traceProcesses(trace) {
  const p = trace.processes;
  if (Array.isArray(p) && p.length > 0) return p;
  return [{
    index: 0, pid: 0, parentPid: 0, name: "", host: "", startNs: trace.startNs, endNs: trace.endNs, exitStatus: null,
    clockOffsetNs: 0, clockUncertaintyNs: 0, aligned: true, incomplete: false,
  }];
}

/** The process index of thread `th` among `count` processes (0 when it names none or one out of range). */
export function threadProcess(th, count) {
  const p = th.process;
  return Number.isInteger(p) && p >= 0 && p < count ? p : 0;
}

/**
 * The task name of a band label, for its colour: Dask keys "name-<hash>" and "('name-<hash>', 3)"
 * give "name" (every task of one kind gets one colour); any other label is itself.
 */
export function taskPrefix(label) {
  let s = String(label);
  const m = /^\(\s*['"]([^'"]*)['"]/.exec(s);
  if (m) s = m[1];
  const h = /^(.+?)-[0-9a-f]{8,}$/i.exec(s);
  return h ? h[1] : s;
}

/**
 * The bands of a decoded trace (`trace.bands`: [{ thread, startNs, endNs, label }]) as columns
 * and rows: threadRows[t] is a list of rows, each an Int32Array of band indices in start order
 * whose spans do not overlap (a band that overlaps an earlier one of its thread goes to the next
 * row: usually one row per thread), so a row is searched and drawn like a row of calls
 * (layout.js forEachBox). Consecutive bands of a thread that overlap a little (the scheduler's
 * clock estimate) are first cut end to end (bandclamp.js clampBands: the index's times, not the
 * trace's). `key[i]` numbers the band's task name (taskPrefix), `keys` lists them.
 * Bands naming no thread of the trace, or ending before they start, are left out.
 */
export function buildBandIndex(trace) {
  const given = Array.isArray(trace.bands) ? trace.bands : [];
  const nThreads = trace.threads.length;
  const byStart = (a, b) => a.thread - b.thread || a.startNs - b.startNs || a.endNs - b.endNs;
  const src = [];
  for (const b of given) {
    if (Number.isInteger(b.thread) && b.thread >= 0 && b.thread < nThreads && b.endNs >= b.startNs) {
      src.push({ thread: b.thread, startNs: b.startNs, endNs: b.endNs, label: b.label });
    }
  }
  src.sort(byStart);
  for (let i = 0; i < src.length;) {
    let j = i;
    while (j < src.length && src[j].thread === src[i].thread) j++;
    const t = src[i].thread;
    if (j - i > 1 && clampBands(src.slice(i, j), () => outerCalls(trace, t)) > 0) {
      const sorted = src.slice(i, j).sort(byStart);
      for (let k = i; k < j; k++) src[k] = sorted[k - i];
    }
    i = j;
  }
  const order = src.map((_, i) => i);
  const n = order.length;
  const start = new Float64Array(n);
  const end = new Float64Array(n);
  const thread = new Int32Array(n);
  const key = new Int32Array(n);
  const label = new Array(n);
  const keys = [];
  const keyOf = new Map();
  const rows = trace.threads.map(() => []);
  const rowEnds = trace.threads.map(() => []);
  for (let i = 0; i < n; i++) {
    const b = src[order[i]];
    start[i] = b.startNs;
    end[i] = b.endNs;
    thread[i] = b.thread;
    label[i] = String(b.label);
    const prefix = taskPrefix(label[i]);
    let k = keyOf.get(prefix);
    if (k === undefined) { k = keys.length; keys.push(prefix); keyOf.set(prefix, k); }
    key[i] = k;
    const ends = rowEnds[b.thread];
    let r = 0;
    while (r < ends.length && ends[r] > b.startNs) r++;
    if (r === ends.length) { ends.push(0); rows[b.thread].push([]); }
    rows[b.thread][r].push(i);
    ends[r] = b.endNs;
  }
  const threadRows = rows.map((rs) => rs.map((r) => Int32Array.from(r)));
  return { count: n, start, end, thread, key, label, keys, threadRows };
}

/**
 * The lanes of the zoomed view (content y from 0).
 * processes: traceProcesses(trace); visible: per thread 1 when shown; collapsed: per process 1
 * when collapsed; bandRows: per thread its number of band rows; dims: { rowPx, headerPx, gapPx,
 * procHeaderPx, bandPx, summaryRowPx, summaryDepths }.
 * Returns { multi, groups: [{ process, top, headerPx, collapsed, lanes, height (its header row
 * included) }], lanes, height }
 * where each lane is { kind: "threads" | "summary", process, lane, threads, top, headerPx,
 * bandRows, bandPx, callsTop, rows, rowPx, height }: its thread header strip is [top, top +
 * headerPx), its band rows follow (bandRows of bandPx), its call rows start at top + callsTop
 * (rows of rowPx). A one-process trace has no header rows and no summary lanes.
 */
export function layoutGroups(trace, processes, visible, collapsed, bandRows, dims) {
  const multi = processes.length > 1;
  const byProcess = processes.map(() => []);
  for (const th of trace.threads) {
    if (visible[th.index]) byProcess[threadProcess(th, processes.length)].push(th.index);
  }
  const groups = [];
  const lanes = [];
  let y = 0;
  for (let p = 0; p < processes.length; p++) {
    const threads = byProcess[p];
    if (threads.length === 0) continue;
    const g = { process: p, top: y, headerPx: multi ? dims.procHeaderPx : 0, collapsed: multi && !!collapsed[p], lanes: [], height: 0 };
    y += g.headerPx;
    const members = [];
    if (g.collapsed) {
      let depths = 1;
      for (const t of threads) depths = Math.max(depths, trace.threads[t].maxDepth + 1);
      const rows = Math.min(dims.summaryDepths, depths);
      members.push({
        kind: "summary", process: p, lane: -1, threads, top: 0, headerPx: 0, bandRows: 0, bandPx: dims.bandPx,
        callsTop: 0, rows, rowPx: dims.summaryRowPx, height: rows * dims.summaryRowPx,
      });
    } else {
      // threads share a lane when the trace's lane numbers say so (PYME's rule: they do not run at
      // once) and their names differ only by numbers (`Thread-12`, `Thread-13`): a lane never
      // joins the labels of unrelated threads (`loader_0`, then `writer`)
      const byLane = new Map();
      for (const t of threads) {
        const th = trace.threads[t];
        const key = `${th.lane}\u0000${namePattern(th.name)}`;
        let l = byLane.get(key);
        if (!l) {
          l = { kind: "threads", process: p, lane: th.lane, threads: [], top: 0, headerPx: dims.headerPx, bandRows: 0, bandPx: dims.bandPx,
            callsTop: 0, rows: 0, rowPx: dims.rowPx, height: 0 };
          byLane.set(key, l);
        }
        l.threads.push(t);
        l.rows = Math.max(l.rows, th.maxDepth + 1);
        l.bandRows = Math.max(l.bandRows, bandRows[t] || 0);
      }
      for (const l of [...byLane.values()].sort((a, b) => a.lane - b.lane || a.threads[0] - b.threads[0])) {
        l.callsTop = l.headerPx + l.bandRows * l.bandPx;
        l.height = l.callsTop + l.rows * l.rowPx;
        members.push(l);
      }
    }
    for (const l of members) {
      l.top = y;
      y += l.height + dims.gapPx;
      g.lanes.push(l);
      lanes.push(l);
    }
    g.height = y - dims.gapPx - g.top;
    groups.push(g);
  }
  return { multi, groups, lanes, height: Math.max(0, y - dims.gapPx) };
}

/**
 * What is at content y `cy`: { kind: "process", group } (a process header row), { kind: "thread",
 * lane } (a lane's thread header), { kind: "band", lane, row }, { kind: "calls", lane, depth }
 * (a row of calls; in a summary lane too), or null (a gap, or below the lanes).
 */
export function hitLayout(layout, cy) {
  for (const g of layout.groups) {
    if (cy < g.top) break;
    if (cy >= g.top + g.height) continue;
    if (cy < g.top + g.headerPx) return { kind: "process", group: g };
    for (const lane of g.lanes) {
      if (cy < lane.top || cy >= lane.top + lane.height) continue;
      const y = cy - lane.top;
      if (y < lane.headerPx) return { kind: "thread", lane };
      if (y < lane.callsTop) return { kind: "band", lane, row: Math.floor((y - lane.headerPx) / lane.bandPx) };
      return { kind: "calls", lane, depth: Math.floor((y - lane.callsTop) / lane.rowPx) };
    }
  }
  return null;
}

/** The lane showing thread `t` (its process's summary lane when collapsed), or null when hidden. */
export function laneOfThread(layout, t) {
  for (const lane of layout.lanes) if (lane.threads.includes(t)) return lane;
  return null;
}

/**
 * The overview's rows: one band of lanePx per lane (8 to 24 px, as many as fit `maxPx` under the
 * axis) and, with more than one process, a header strip of procPx above each process's lanes.
 * Returns { lanePx, procPx, height, laneY: [y per lane of layout.lanes], groupY: [y per group] }.
 */
export function overviewRows(layout, axisPx, maxPx, procPx) {
  const nLanes = Math.max(1, layout.lanes.length);
  const heads = layout.multi ? layout.groups.length * procPx : 0;
  const lanePx = Math.max(8, Math.min(24, Math.floor((maxPx - axisPx - 4 - heads) / nLanes)));
  const laneY = [];
  const groupY = [];
  let y = axisPx;
  for (const g of layout.groups) {
    groupY.push(y);
    if (layout.multi) y += procPx;
    for (let i = 0; i < g.lanes.length; i++) {
      laneY.push(y);
      y += lanePx;
    }
  }
  if (layout.lanes.length === 0) y += lanePx;
  return { lanePx, procPx: layout.multi ? procPx : 0, height: y + 4, laneY, groupY };
}

/** A process as one line of text: "name (pid 12) on host" (the parts it has). */
export function processLabel(proc) {
  const name = proc.name || "process";
  const pid = proc.pid ? ` (pid ${proc.pid})` : "";
  const host = proc.host ? ` on ${proc.host}` : "";
  return `${name}${pid}${host}`;
}

/**
 * The zoomed view's lanes for one window: `layout` (layoutGroups) with each thread lane cut to the
 * rows that have something in the window and the lanes that have nothing there left out, the
 * others moved up, so zooming into a moment shows the threads busy then, one under the other.
 * `rowsIn(lane)`: how many of the lane's call rows (depths from 0) have a call in the window, or
 * -1 when neither a call nor a band of it is there. Empty lanes collapse to nothing, not to a thin
 * line: with hundreds of threads even 2 px each would push the busy ones apart again; every lane
 * stays in the overview and in the thread list, in the same order. Summary lanes (collapsed
 * processes) and process header rows stay as they are. Returns the shape of layoutGroups plus
 * `idle`: the number of thread lanes left out.
 */
export function windowLayout(layout, rowsIn, gapPx) {
  const groups = [];
  const lanes = [];
  let idle = 0;
  let y = 0;
  for (const g of layout.groups) {
    const kept = [];
    for (const l of g.lanes) {
      if (l.kind !== "threads") {
        kept.push({ ...l });
        continue;
      }
      const r = rowsIn(l);
      if (r < 0) {
        idle++;
        continue;
      }
      const rows = Math.min(l.rows, r);
      kept.push({ ...l, rows, height: l.callsTop + rows * l.rowPx });
    }
    if (kept.length === 0 && g.headerPx === 0) continue;
    const ng = { ...g, top: y, lanes: [], height: 0 };
    y += g.headerPx;
    for (const l of kept) {
      l.top = y;
      y += l.height + gapPx;
      ng.lanes.push(l);
      lanes.push(l);
    }
    if (kept.length === 0) y += gapPx;
    ng.height = y - gapPx - ng.top;
    groups.push(ng);
  }
  return { multi: layout.multi, groups, lanes, height: Math.max(0, y - gapPx), idle };
}

/** The pattern of a thread name: its runs of digits as "#" (`Thread-12 (process_request_thread)` -> `Thread-# (process_request_thread)`). */
export function namePattern(name) {
  return String(name).replace(/[0-9]+/g, "#");
}

/**
 * The name of a group of threads of name pattern `pattern` (namePattern): the part their names
 * share, the numbers and the separators around them dropped (`#-Dask-Default-Threads-#-#` ->
 * `Dask-Default-Threads`, `Thread-# (process_request_thread)` -> `Thread (process_request_thread)`);
 * the pattern itself when nothing else is left.
 */
export function groupName(pattern) {
  const s = String(pattern).replace(/[-_.:,\s]*#(?:[-_.:,\s]*#)*[-_.:,]*/g, " ").replace(/\s+/g, " ").trim();
  return s || String(pattern);
}

/**
 * Threads `indices` (of `threads`, decoded) grouped by name pattern (namePattern of their last
 * name): names that differ only by numbers form one group. Returns [{ pattern, threads }] in the
 * order of each group's first thread; a thread alone in its pattern is a group of one.
 */
export function nameGroups(threads, indices) {
  const byPattern = new Map();
  const out = [];
  for (const t of indices) {
    const pattern = namePattern(threads[t].name);
    let g = byPattern.get(pattern);
    if (!g) {
      g = { pattern, threads: [] };
      byPattern.set(pattern, g);
      out.push(g);
    }
    g.threads.push(t);
  }
  return out;
}

/**
 * Does thread `th` (decoded) match the thread list's filter `q`, ignoring case ("" matches all):
 * one of its names contains it, or its tid is it, or (given `proc`, its process) the process's
 * name or host contains it or its pid is it (`Spawn` finds the threads of SpawnProcess-1)?
 */
export function threadMatches(th, q, proc) {
  const needle = String(q).trim().toLowerCase();
  if (!needle) return true;
  if (th.names.some((n) => n.name.toLowerCase().includes(needle))) return true;
  if (th.osId && String(th.osId) === needle) return true;
  if (!proc) return false;
  return String(proc.name || "").toLowerCase().includes(needle) || String(proc.host || "").toLowerCase().includes(needle) ||
    (!!proc.pid && (String(proc.pid) === needle || `pid ${proc.pid}` === needle));
}

// ---- js/layout.js ----
// layout.js: derived per-call data, the per-depth row index, level of detail, window maths and
// the summary (the Rust summary's rules; the lanes are lanes.js's). Layer 2: depends only on the decoded trace
// shape of decode.js and on lanes.js (no DOM, tested in node).
//
// Coordinate spaces:
//   trace time (ns, relative to the trace origin)  <->  view x (CSS px from the left of a canvas)
//   view x = (t_ns - window.start_ns) * px_per_ns
// Vertical positions are CSS px too; rows are numbered by call depth inside a lane.


/**
 * Build the index of a decoded trace:
 * - rows: per thread, per depth, the global indices of the calls at that depth in start order
 *   (calls at one depth of one thread never overlap, so their ends are sorted too: finding the
 *   calls visible in a window is a binary search);
 * - selfNs and childCount per call.
 */
export function buildIndex(trace) {
  const { calls, threads } = trace;
  const N = calls.count;
  const order = new Int32Array(N);
  const threadRows = [];
  for (const th of threads) {
    const depthCount = th.maxDepth + 1;
    const offsets = new Int32Array(depthCount + 1);
    for (let i = th.callStart; i < th.callEnd; i++) offsets[calls.depth[i] + 1]++;
    offsets[0] = th.callStart;
    for (let d = 0; d < depthCount; d++) offsets[d + 1] += offsets[d];
    const fill = offsets.slice(0, depthCount);
    for (let i = th.callStart; i < th.callEnd; i++) order[fill[calls.depth[i]]++] = i;
    const rows = [];
    for (let d = 0; d < depthCount; d++) rows.push(order.subarray(offsets[d], offsets[d + 1]));
    threadRows.push(rows);
  }
  const selfNs = new Float64Array(N);
  const childCount = new Int32Array(N);
  for (let i = 0; i < N; i++) selfNs[i] = calls.end[i] - calls.start[i];
  for (let i = 0; i < N; i++) {
    const p = calls.parent[i];
    if (p >= 0) {
      selfNs[p] -= calls.end[i] - calls.start[i];
      childCount[p]++;
    }
  }
  return { threadRows, selfNs, childCount };
}

/** First position k in [lo, hi) of `row` with ends[row[k]] >= t (hi when none). */
export function lowerBoundEnd(row, ends, t, lo = 0, hi = row.length) {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ends[row[mid]] < t) lo = mid + 1; else hi = mid;
  }
  return lo;
}

/**
 * Has `row` (call or band indices in start order whose ends are sorted: a row of buildIndex or
 * lanes.js buildBandIndex) an item overlapping [t0, t1]? A binary search.
 */
export function rowHasItemIn(row, starts, ends, t0, t1) {
  if (!row || row.length === 0) return false;
  const k = lowerBoundEnd(row, ends, t0);
  return k < row.length && starts[row[k]] <= t1;
}

/** The call of `row` containing time t (start <= t <= end), or -1. */
export function callAt(row, starts, ends, t) {
  const k = lowerBoundEnd(row, ends, t);
  if (k < row.length && starts[row[k]] <= t) return row[k];
  return -1;
}

/**
 * Level of detail: visit the boxes of one row for the window [t0, t1] at `pxPerNs`.
 * A call at least `minPx` wide is one box. Narrower calls that touch (gaps under a pixel) are
 * merged into one box at least one pixel wide; the calls a merged box covers are skipped by
 * binary search, so the cost is about (boxes drawn) x log(row length), never the whole row.
 * emit(callIndex, x0, x1, count): x in view px relative to t0; count > 1 for a merged box
 * (callIndex is then its first call).
 */
export function forEachBox(row, starts, ends, t0, t1, pxPerNs, minPx, emit) {
  const n = row.length;
  let i = lowerBoundEnd(row, ends, t0);
  let boxes = 0;
  while (i < n) {
    const c = row[i];
    const s = starts[c];
    if (s > t1) break;
    const xa = (s - t0) * pxPerNs;
    const xb = (ends[c] - t0) * pxPerNs;
    if (xb - xa >= minPx) {
      emit(c, xa, xb, 1);
      boxes++;
      i++;
      continue;
    }
    let runEnd = xb;
    let count = 0;
    for (;;) {
      const boundary = t0 + (Math.floor(runEnd) + 1) / pxPerNs;
      const j = lowerBoundEnd(row, ends, boundary, i + 1, n);
      const lastEnd = (ends[row[j - 1]] - t0) * pxPerNs;
      if (lastEnd > runEnd) runEnd = lastEnd;
      count += j - i;
      i = j;
      if (i >= n) break;
      const c2 = row[i];
      if (starts[c2] > t1) break;
      const xa2 = (starts[c2] - t0) * pxPerNs;
      const xb2 = (ends[c2] - t0) * pxPerNs;
      if (xa2 > runEnd + 1 || xb2 - xa2 >= minPx) break;
    }
    emit(c, xa, Math.max(runEnd, xa + 1), count);
    boxes++;
  }
  return boxes;
}

/** The full time range shown by "reset": the whole run (never empty). */
export function fullRange(trace) {
  const a = trace.startNs;
  const b = trace.endNs;
  if (!(b > a)) return [a, a + 1000];
  return [a, b];
}

/**
 * The trace time shown as 0 on the axes and in every text (tooltip, details, window label): the
 * trace origin (the start of the recording, where Python's `Call.start_ns` counts from), or the
 * first event when a trace has events before its origin (a thread's first event a few hundred ns
 * before the recording's start time was taken), so that no time reads negative.
 */
export function displayOrigin(trace) {
  const s = trace.startNs;
  return Number.isFinite(s) && s < 0 ? s : 0;
}

/** The name a thread had at time t (threads can be renamed while they run). */
export function threadNameAt(thread, t) {
  let name = thread.names[0].name;
  for (const n of thread.names) {
    if (n.tNs <= t) name = n.name;
    else break;
  }
  return name;
}

/** Clamp a window [a, b] into [lo, hi] keeping its width when possible, with a minimum width. */
export function clampWindow(a, b, lo, hi, minWidth) {
  let w = Math.max(b - a, minWidth);
  if (w >= hi - lo) return [lo, hi];
  let s = a;
  if (b - a < minWidth) s = (a + b) / 2 - w / 2;
  if (s < lo) s = lo;
  if (s + w > hi) s = hi - w;
  return [s, s + w];
}

/** The window after zooming by `factor` (> 1 zooms in) around time `t`. */
export function zoomWindow(a, b, t, factor) {
  return [t - (t - a) / factor, t + (b - t) / factor];
}

/** 32-bit FNV-1a hash of a string: stable colours per function. */
export function hashString(s) {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * The summary of a decoded trace, by the rules of the Rust summary (rust/core/src/summary.rs,
 * docs/format.md "The summary as JSON"), in its schema: per function `calls`; `total_ns`, the
 * time inside it counted once per outermost call (a recursive call inside another call of the same
 * function is not counted again); `self_ns`, each call's duration minus its children's (never
 * below 0); `mean_ns` and `max_ns` over every call's own duration (mean rounded half up);
 * overall, per process and per thread, rows sorted by total_ns descending, then self_ns
 * descending, then code. One pass over the calls: each thread's figures are added into its
 * process's and the overall ones. Tested equal to `Trace.summary_json()` on real traces
 * (tests/test_timeline_threads.py). Returns { overall, processes: [{ process, pid, name, rows }],
 * threads: [{ thread, process, name, rows }] }.
 * `kept` (filters.js applyFilter: per call 1 when shown, its ancestors kept too) counts only the
 * kept calls: a hidden call's duration stays in its parent's self time.
 */
export function computeSummary(trace, kept = null) {
  const { calls, codes, threads } = trace;
  const K = codes.count;
  const F = 5; // per code: calls, total, self, sum of durations, max
  const acc = new Float64Array(F * K);
  const active = new Int32Array(K);
  const touched = [];
  const processes = traceProcesses(trace);
  const overall = new Float64Array(F * K);
  const perProcess = processes.map(() => null);
  let maxDepth = 0;
  for (const th of threads) maxDepth = Math.max(maxDepth, th.maxDepth + 1);
  const stCode = new Int32Array(maxDepth + 1);
  const stDur = new Float64Array(maxDepth + 1);
  const stChildren = new Float64Array(maxDepth + 1);
  const rowsOf = (a, list) => {
    const rows = [];
    for (const k of list) {
      const n = a[F * k];
      if (n === 0) continue;
      rows.push({
        code: k, function: codes.name[k], file: codes.file[k], line: codes.line[k], calls: n,
        total_ns: a[F * k + 1], self_ns: a[F * k + 2], mean_ns: Math.floor((a[F * k + 3] + Math.floor(n / 2)) / n), max_ns: a[F * k + 4],
      });
    }
    rows.sort((x, y) => y.total_ns - x.total_ns || y.self_ns - x.self_ns || x.code - y.code);
    return rows;
  };
  const addInto = (dst, list) => {
    for (const k of list) {
      const o = F * k;
      dst[o] += acc[o];
      dst[o + 1] += acc[o + 1];
      dst[o + 2] += acc[o + 2];
      dst[o + 3] += acc[o + 3];
      if (acc[o + 4] > dst[o + 4]) dst[o + 4] = acc[o + 4];
    }
  };
  const threadRows = [];
  for (const th of threads) {
    let sp = 0;
    const close = () => {
      sp--;
      const k = stCode[sp];
      const dur = stDur[sp];
      acc[F * k + 2] += Math.max(0, dur - stChildren[sp]);
      active[k]--;
      if (sp > 0) stChildren[sp - 1] += dur;
    };
    for (let i = th.callStart; i < th.callEnd; i++) {
      if (kept && !kept[i]) continue;
      const d = calls.depth[i];
      while (sp > d) close();
      const k = calls.code[i];
      const dur = Math.max(0, calls.end[i] - calls.start[i]);
      const o = F * k;
      if (acc[o] === 0) touched.push(k);
      acc[o]++;
      acc[o + 3] += dur;
      if (dur > acc[o + 4]) acc[o + 4] = dur;
      if (active[k] === 0) acc[o + 1] += dur;
      active[k]++;
      stCode[sp] = k;
      stDur[sp] = dur;
      stChildren[sp] = 0;
      sp++;
    }
    while (sp > 0) close();
    const p = threadProcess(th, processes.length);
    addInto(overall, touched);
    if (!perProcess[p]) perProcess[p] = new Float64Array(F * K);
    addInto(perProcess[p], touched);
    threadRows.push({ thread: th.index, process: p, name: th.name, rows: rowsOf(acc, touched) });
    for (const k of touched) acc.fill(0, F * k, F * k + F);
    touched.length = 0;
  }
  const allCodes = Array.from({ length: K }, (_, k) => k);
  return {
    overall: rowsOf(overall, allCodes),
    processes: processes.map((p, i) => ({ process: i, pid: p.pid, name: p.name, rows: perProcess[i] ? rowsOf(perProcess[i], allCodes) : [] })),
    threads: threadRows,
  };
}

/**
 * The summary the table shows: the host's overall rows when it sent them (the Rust summary's), at
 * once, and the per-process and per-thread rows of computeSummary, computed the first time one is
 * read (about 0.1 s per million calls: spent when a thread or process is first chosen in the
 * table, not before the first drawing). Without overall rows from the host, everything is
 * computed at once. With `kept` (a filter on: filters.js applyFilter) everything is computed
 * over the kept calls and the host's rows (unfiltered) are not used.
 */
export function lazySummary(trace, overall, kept = null) {
  let full = null;
  const get = () => full || (full = computeSummary(trace, kept));
  const processes = traceProcesses(trace);
  return {
    overall: Array.isArray(overall) && !kept ? overall : get().overall,
    processes: processes.map((p, i) => ({ process: i, pid: p.pid, name: p.name, get rows() { return get().processes[i].rows; } })),
    threads: trace.threads.map((th) => ({
      thread: th.index, process: threadProcess(th, processes.length), name: th.name, get rows() { return get().threads[th.index].rows; },
    })),
  };
}

// ---- js/keepview.js ----
// keepview.js: what the user set on a trace, carried to the next version of the same growing trace
// (a live view reads the file again about once a second: hosts/viewer.js, hosts/widget.js). The
// threads hidden, the processes collapsed, the vertical scroll and the selected call and function
// survive the reload. Threads, processes and calls are matched by what they are (the process's
// pid and host, the thread's OS id and first name; the call's thread, start and function's
// file:line:name), never by index: a reload may number them differently. Pure functions over the
// timeline's state; layer 2 (needs lanes.js only).


/** A process's identity across reloads. */
const procKey = (p) => `${p.host || ""}\u0000${p.pid || 0}`;
/** A thread's identity across reloads. */
function threadKey(trace, procs, th) {
  const p = procs[threadProcess(th, procs.length)];
  const first = th.names && th.names.length ? th.names[0].name : th.name;
  return `${procKey(p)}\u0000${th.osId}\u0000${first}`;
}
/** A function's identity across reloads. */
function codeKey(codes, c) {
  return codes && c >= 0 && c < codes.count ? `${codes.file[c]}\u0000${codes.line[c]}\u0000${codes.name[c]}` : null;
}

/**
 * What the user set on the trace shown: { hidden: thread keys, collapsed: process keys, scrollY,
 * call: { thread, start, code } | null, code } (null when no trace is shown).
 */
export function captureView(state, scrollY) {
  const { trace } = state;
  if (!trace) return null;
  const procs = traceProcesses(trace);
  const hidden = [];
  for (const th of trace.threads) if (!state.visible[th.index]) hidden.push(threadKey(trace, procs, th));
  const collapsed = [];
  for (let p = 0; p < procs.length; p++) if (state.collapsed[p]) collapsed.push(procKey(procs[p]));
  const c = state.selectedCall;
  const call = c >= 0 && c < trace.calls.count
    ? { thread: threadKey(trace, procs, trace.threads[trace.calls.thread[c]]), start: trace.calls.start[c], code: codeKey(trace.codes, trace.calls.code[c]) }
    : null;
  return { hidden, collapsed, scrollY, call, code: codeKey(trace.codes, state.selectedCode) };
}

/**
 * Apply `saved` (captureView of the previous version) to the state of the trace now installed:
 * sets state.visible and state.collapsed; returns { call, code } (the call and function to
 * select, -1 where gone) and the scroll to restore.
 */
export function restoreView(state, saved) {
  const { trace } = state;
  const none = { call: -1, code: -1, scrollY: 0 };
  if (!trace || !saved) return none;
  const procs = traceProcesses(trace);
  const hidden = new Set(saved.hidden);
  const keys = trace.threads.map((th) => threadKey(trace, procs, th));
  for (const th of trace.threads) if (hidden.has(keys[th.index])) state.visible[th.index] = 0;
  const collapsed = new Set(saved.collapsed);
  for (let p = 0; p < procs.length && p < state.collapsed.length; p++) if (collapsed.has(procKey(procs[p]))) state.collapsed[p] = 1;
  let code = -1;
  if (saved.code !== null) {
    for (let c = 0; c < trace.codes.count; c++) if (codeKey(trace.codes, c) === saved.code) { code = c; break; }
  }
  let call = -1;
  if (saved.call) {
    const { calls } = trace;
    const t = keys.indexOf(saved.call.thread);
    const th = t >= 0 ? trace.threads[t] : null;
    // a thread's calls are the range [callStart, callEnd) of the columns (decode.js)
    const lo = th && Number.isInteger(th.callStart) ? th.callStart : 0;
    const hi = th && Number.isInteger(th.callEnd) ? th.callEnd : calls.count;
    for (let i = lo; th && i < hi; i++) {
      if (calls.thread[i] === t && calls.start[i] === saved.call.start && codeKey(trace.codes, calls.code[i]) === saved.call.code) { call = i; break; }
    }
  }
  return { call, code, scrollY: saved.scrollY || 0 };
}

// ---- js/summaryscope.js ----
// summaryscope.js: what the summary table counts. It follows the thread list: with threads (or
// whole processes) hidden, the page's summary is computed over the calls of the shown threads
// (and, with a filter on, the kept ones: layout.js lazySummary with that mask), and the table says
// so ("Shown threads (305 of 310)"). A windowed trace (timeline.js "windowed mode") holds one
// window's calls, so its table keeps the host's rows over every thread, and says that plainly.
// Layer 2: pure (no DOM; layout), tested in node (tests/js/panels.test.mjs).


/** How many threads `visible` (per thread 1 when shown) hides. */
export function hiddenThreads(visible) {
  let n = 0;
  for (let t = 0; t < visible.length; t++) if (!visible[t]) n++;
  return n;
}

/**
 * The calls the summary counts: per call 1 when its thread is shown (`visible`) and, given `kept`
 * (the filters' mask), kept; null when every call counts (nothing hidden, nothing filtered), so
 * the host's rows can be shown as they are. The mask is closed under "parent of" (a whole thread
 * goes or stays), as layout.js computeSummary wants.
 */
export function summaryMask(trace, visible, kept) {
  if (hiddenThreads(visible) === 0) return kept || null;
  const { calls } = trace;
  const mask = new Uint8Array(calls.count);
  for (const th of trace.threads) {
    if (!visible[th.index]) continue;
    for (let i = th.callStart; i < th.callEnd; i++) mask[i] = kept ? kept[i] : 1;
  }
  return mask;
}

/**
 * The words of the table for a scope: `all` (its first choice: every thread counted, or the shown
 * ones of `total`), and `note` (what is not counted, or "" when everything is).
 * scope: { hidden (threads hidden), total (threads), windowed (the table has the host's rows over
 * every thread) }.
 */
export function scopeWords(scope) {
  const { hidden, total, windowed } = scope;
  if (!(hidden > 0)) return { all: "All threads", note: "" };
  if (windowed) {
    return { all: "All threads (hidden ones too)", note: `Counts every thread, the ${hidden} hidden too: this page holds one window of the calls, not all of them` };
  }
  return { all: `Shown threads (${total - hidden} of ${total})`, note: `${hidden} hidden thread${hidden === 1 ? " is" : "s are"} not counted` };
}

/**
 * The table's summary and scope for what `state` (state.js) shows: the host's rows
 * (`hostOverall`, the Rust summary's, or null) while every call counts, else the page's over the
 * shown threads' kept calls (lazySummary: the per-thread rows computed when first shown).
 * `windowed`: the page holds one window's calls, so the per-process and per-thread rows cannot be
 * computed here: the host's overall rows (every call, hidden threads too) alone, the scope saying so.
 * Returns { summary, scope } for table.js setSummary.
 */
export function shownSummary(state, hostOverall, windowed) {
  const { trace, visible } = state;
  const scope = { hidden: hiddenThreads(visible), total: visible.length, windowed, visible };
  if (windowed) return { summary: { overall: hostOverall || [], processes: [], threads: [] }, scope };
  const mask = summaryMask(trace, visible, state.kept);
  return { summary: lazySummary(trace, mask ? null : hostOverall, mask), scope };
}

// ---- js/filters.js ----
// filters.js: view filters applied to a decoded trace: which calls are kept and the self time
// the kept ones get. Layer 2 (pure, no DOM; the decoded shape of decode.js). The filter itself
// lives in state.js (`state.filter`); timeline.js applies it and hands the result to the views:
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

// ---- js/flame.js ----
// flame.js: calls merged by call path, computed from the decoded trace (no kernel needed): the
// flame graph (flameMerge), the callers and callees of one function (flameSandwich), the Rust
// core's encodings read back (flameFromBytes, diffFlameFromBytes) and the icicle layout of a
// merged tree (flameLayout). Layer 2: depends only on the decoded trace's shape (decode.js), no DOM.
//
// The rules are rust/core/src/flame.rs's, node for node (docs/format.md, "The flame graph
// encoding"); tests/js/flame.test.mjs checks both on real recordings:
// - a path is the functions from a thread's top-level call down to a call; the calls of the chosen
//   threads with one path merge into one node (calls, total = sum of durations, self = total minus
//   the children's totals); threads merge together;
// - with a window [t0, t1) a call counts the part of it inside; a call that does not overlap it
//   (a zero-length call: that does not start in it) is left out, and so are its descendants;
// - nodes in pre-order, siblings heaviest first: total descending, then calls descending, then code.
//
// A merged tree ("flame") is columns over its nodes in pre-order:
//   { count, depth: Uint32Array, code: Int32Array, parent: Int32Array (-1 at depth 0),
//     total: Float64Array, self: Float64Array, calls: Float64Array }

/** No node (the top level's parent). */
const FLAME_NONE = -1;
/** Children a node keeps in a list before they are indexed by a Map (as the Rust arena). */
const FLAME_LIST_MAX = 8;
/** Numbers per node of the Rust encodings. */
export const FLAME_STRIDE = 5;
export const DIFF_FLAME_STRIDE = 8;

/** Nodes keyed by (parent, code), in creation order; figures per node. A node's children are a
 * list (newest first) while there are at most FLAME_LIST_MAX of them, then also in an open-addressing
 * hash table of node ids (typed arrays: no allocation per node). */
class FlameArena {
  constructor(capacity) {
    this.n = 0;
    this.alloc(Math.max(16, capacity));
    this.first = new Int32Array(this.cap + 1).fill(FLAME_NONE); // per slot (0: top level, node + 1)
    this.count = new Uint32Array(this.cap + 1);
    let size = 1024;
    while (size < this.cap && size < 1 << 22) size *= 2;
    this.table = new Int32Array(size).fill(FLAME_NONE); // node ids by hash of (slot, code)
    this.tableUsed = 0;
  }
  alloc(cap) {
    const old = this.n ? this : null;
    this.cap = cap;
    const grow = (Kind, prev) => {
      const a = new Kind(cap);
      if (prev) a.set(prev.subarray(0, this.n));
      return a;
    };
    this.parent = grow(Int32Array, old && old.parent);
    this.code = grow(Int32Array, old && old.code);
    this.next = grow(Int32Array, old && old.next);
    this.calls = grow(Float64Array, old && old.calls);
    this.total = grow(Float64Array, old && old.total);
    this.self = grow(Float64Array, old && old.self);
  }
  /** The table's first probe for (slot, code). */
  hashOf(slot, code) {
    return (Math.imul(slot, 0x9e3779b1) ^ Math.imul(code + 1, 0x85ebca77)) & (this.table.length - 1);
  }
  /** The node of (slot, code) in the table, or FLAME_NONE. */
  lookup(slot, code) {
    const { table } = this;
    const mask = table.length - 1;
    for (let h = this.hashOf(slot, code); ; h = (h + 1) & mask) {
      const id = table[h];
      if (id === FLAME_NONE) return FLAME_NONE;
      if (this.code[id] === code && this.parent[id] + 1 === slot) return id;
    }
  }
  insert(id) {
    if (2 * (this.tableUsed + 1) > this.table.length) {
      const old = this.table;
      this.table = new Int32Array(old.length * 2).fill(FLAME_NONE);
      for (let h = 0; h < old.length; h++) if (old[h] !== FLAME_NONE) this.place(old[h]);
    }
    this.place(id);
    this.tableUsed++;
  }
  place(id) {
    const { table } = this;
    const mask = table.length - 1;
    let h = this.hashOf(this.parent[id] + 1, this.code[id]);
    while (table[h] !== FLAME_NONE) h = (h + 1) & mask;
    table[h] = id;
  }
  /** The node `code` under `parent` (FLAME_NONE: the top level), made when new. */
  child(parent, code) {
    const slot = parent + 1;
    const count = this.count[slot];
    if (count > FLAME_LIST_MAX) {
      const id = this.lookup(slot, code);
      if (id !== FLAME_NONE) return id;
    } else {
      for (let k = this.first[slot]; k !== FLAME_NONE; k = this.next[k]) if (this.code[k] === code) return k;
    }
    if (this.n === this.cap) {
      this.alloc(this.cap * 2);
      const first = new Int32Array(this.cap + 1).fill(FLAME_NONE);
      first.set(this.first);
      this.first = first;
      const cnt = new Uint32Array(this.cap + 1);
      cnt.set(this.count);
      this.count = cnt;
    }
    const id = this.n++;
    this.parent[id] = parent;
    this.code[id] = code;
    this.calls[id] = 0;
    this.total[id] = 0;
    this.self[id] = 0;
    this.next[id] = this.first[slot];
    this.first[slot] = id;
    this.count[slot] = count + 1;
    if (count + 1 === FLAME_LIST_MAX + 1) {
      for (let k = id; k !== FLAME_NONE; k = this.next[k]) this.insert(k);
    } else if (count + 1 > FLAME_LIST_MAX) {
      this.insert(id);
    }
    return id;
  }
  /** Self time of every node: its total minus its children's totals. */
  deriveSelf() {
    const { n, parent, total, self } = this;
    self.set(total.subarray(0, n));
    for (let i = n - 1; i >= 0; i--) {
      const p = parent[i];
      if (p !== FLAME_NONE) self[p] = Math.max(0, self[p] - total[i]);
    }
  }
  /** The nodes in pre-order, siblings heaviest first (the module's flame columns). */
  finish() {
    const { n, parent, code, total, calls } = this;
    const start = new Int32Array(n + 2); // children of slot s: kids[start[s] .. start[s + 1])
    for (let i = 0; i < n; i++) start[parent[i] + 2]++;
    for (let s = 1; s < n + 2; s++) start[s] += start[s - 1];
    const fill = start.slice(0, n + 1);
    const kids = new Int32Array(n);
    for (let i = 0; i < n; i++) kids[fill[parent[i] + 1]++] = i;
    // siblings heaviest first: total descending, then calls descending, then code
    const before = (a, b) => total[a] > total[b] || (total[a] === total[b] && (calls[a] > calls[b] || (calls[a] === calls[b] && code[a] < code[b])));
    const order = (a, b) => (before(a, b) ? -1 : before(b, a) ? 1 : 0);
    for (let s = 0; s <= n; s++) {
      const lo = start[s];
      const hi = start[s + 1];
      if (hi - lo > 24) {
        kids.subarray(lo, hi).sort(order);
      } else {
        for (let i = lo + 1; i < hi; i++) { // insertion sort: most sibling lists are short
          const v = kids[i];
          let j = i - 1;
          while (j >= lo && before(v, kids[j])) {
            kids[j + 1] = kids[j];
            j--;
          }
          kids[j + 1] = v;
        }
      }
    }
    // positions in pre-order without a walk: nodes are made after their parents, so subtree sizes
    // add up in reverse creation order and positions follow parent by parent in creation order
    const size = new Int32Array(n).fill(1);
    for (let i = n - 1; i >= 0; i--) if (parent[i] !== FLAME_NONE) size[parent[i]] += size[i];
    const pos = new Int32Array(n);
    const depthOf = new Uint32Array(n);
    for (let s = 0; s <= n; s++) {
      let at = s === 0 ? 0 : pos[s - 1] + 1;
      const d = s === 0 ? 0 : depthOf[s - 1] + 1;
      for (let k = start[s]; k < start[s + 1]; k++) {
        const id = kids[k];
        pos[id] = at;
        depthOf[id] = d;
        at += size[id];
      }
    }
    const out = emptyFlame(n);
    const self = this.self;
    for (let id = 0; id < n; id++) {
      const o = pos[id];
      const p = parent[id];
      out.parent[o] = p === FLAME_NONE ? FLAME_NONE : pos[p];
      out.depth[o] = depthOf[id];
      out.code[o] = code[id];
      out.total[o] = total[id];
      out.self[o] = self[id];
      out.calls[o] = calls[id];
    }
    return out;
  }
}

/** A merged tree of `n` nodes, all zero. */
export function emptyFlame(n = 0) {
  return {
    count: n, depth: new Uint32Array(n), code: new Int32Array(n), parent: new Int32Array(n),
    total: new Float64Array(n), self: new Float64Array(n), calls: new Float64Array(n),
  };
}

/** The deepest call of the trace, plus one (the size of a depth stack). */
function flameStackSize(trace) {
  let d = 0;
  for (const th of trace.threads) if (th.maxDepth + 1 > d) d = th.maxDepth + 1;
  return d + 1;
}

/** Per thread 1 when chosen: `threads` is null (every thread) or a list of thread indices. */
function flameChosen(trace, threads) {
  const mask = new Uint8Array(trace.threads.length);
  if (threads === null || threads === undefined) mask.fill(1);
  else for (const t of threads) if (t >= 0 && t < mask.length) mask[t] = 1;
  return mask;
}

/**
 * The flame graph of `threads` (thread indices; null: every thread), over the whole trace or
 * clipped to `win` = [t0, t1) (trace ns, like the calls'). rust/core/src/flame.rs `flame`.
 * `kept` (filters.js applyFilter, or null): only kept calls merge; a hidden call's time stays in
 * its parent node's self.
 */
export function flameMerge(trace, threads = null, win = null, kept = null) {
  if (win && !(win[1] > win[0])) return emptyFlame();
  const { calls } = trace;
  const nCodes = trace.codes.count;
  const chosen = flameChosen(trace, threads);
  let bound = 0; // the calls of the chosen threads: at most one node each
  for (const th of trace.threads) if (chosen[th.index]) bound += th.callEnd - th.callStart;
  const arena = new FlameArena(Math.min(bound, 1 << 20) + 1); // grows beyond: most traces have far fewer paths than calls
  const stack = new Int32Array(flameStackSize(trace));
  const { start, end, depth, code } = calls;
  const clip = !!win;
  const t0 = clip ? win[0] : 0;
  const t1 = clip ? win[1] : 0;
  for (const th of trace.threads) {
    if (!chosen[th.index]) continue;
    let sp = 0;
    for (let i = th.callStart; i < th.callEnd; i++) {
      const d = depth[i];
      if (d > sp) continue; // not in pre-order: no reader produces it
      sp = d;
      if (kept && !kept[i]) continue; // hidden, with its descendants (deeper than sp now)
      const parent = d === 0 ? FLAME_NONE : stack[d - 1];
      const s = start[i];
      const e = Math.max(end[i], s);
      let dur;
      if (!clip) dur = e - s;
      else if (s === e) dur = t0 <= s && s < t1 ? 0 : -1;
      else dur = s < t1 && e > t0 ? Math.min(e, t1) - Math.max(s, t0) : -1;
      const c = code[i];
      if (dur < 0 || (d > 0 && parent === FLAME_NONE) || c < 0 || c >= nCodes) {
        stack[sp++] = FLAME_NONE;
        continue;
      }
      const id = arena.child(parent, c);
      arena.calls[id] += 1;
      arena.total[id] += dur;
      stack[sp++] = id;
    }
  }
  arena.deriveSelf();
  return arena.finish();
}

/**
 * The callers and callees of the function made of `codes` in `threads` (null: all):
 * { callers, callees }, two merged trees with the function as their one depth-0 node.
 * `selfNs`: per call, its self time (layout.js buildIndex). rust/core/src/flame.rs `sandwich`.
 * `kept` (filters.js applyFilter, or null): only kept calls count (`selfNs` then its self times).
 */
export function flameSandwich(trace, selfNs, codes, threads = null, kept = null) {
  const { calls } = trace;
  const nCodes = trace.codes.count;
  const isF = new Uint8Array(nCodes);
  for (const k of codes) if (k >= 0 && k < nCodes) isF[k] = 1;
  const rootCode = codes.length ? codes[0] : 0;
  const chosen = flameChosen(trace, threads);
  const callers = new FlameArena(64);
  const callees = new FlameArena(256);
  const size = flameStackSize(trace);
  const anc = new Int32Array(size); // ancestor calls by depth
  const down = new Int32Array(size); // callee node of the call at each depth, FLAME_NONE outside
  const { start, end, depth, code } = calls;
  for (const th of trace.threads) {
    if (!chosen[th.index]) continue;
    let sp = 0;
    // the outermost active call of the function: its depth (-1: none), its callers chain, its figures
    let outerDepth = -1;
    let outerLeaf = FLAME_NONE;
    let oCalls = 0;
    let oTotal = 0;
    let oSelf = 0;
    const hi = th.callEnd;
    for (let i = th.callStart; i <= hi; i++) {
      const d = i < hi ? depth[i] : 0;
      if (d > sp) continue;
      sp = d;
      if (outerDepth >= 0 && outerDepth >= d) {
        // the outermost call ended: its figures go to every node of its chain
        for (let k = outerLeaf; k !== FLAME_NONE; k = callers.parent[k]) {
          callers.calls[k] += oCalls;
          callers.total[k] += oTotal;
          callers.self[k] += oSelf;
        }
        outerDepth = -1;
      }
      if (i === hi) break;
      if (kept && !kept[i]) continue; // hidden, with its descendants (deeper than sp now)
      const c = code[i];
      const dur = Math.max(0, end[i] - start[i]);
      const ownSelf = Math.max(0, selfNs[i] || 0);
      if (c >= 0 && c < nCodes && isF[c]) {
        if (outerDepth >= 0) {
          oCalls += 1;
          oSelf += ownSelf;
        } else {
          let leaf = callers.child(FLAME_NONE, rootCode);
          for (let a = sp - 1; a >= 0; a--) leaf = callers.child(leaf, code[anc[a]]);
          outerDepth = d;
          outerLeaf = leaf;
          oCalls = 1;
          oTotal = dur;
          oSelf = ownSelf;
        }
      }
      let node = FLAME_NONE;
      if (outerDepth >= 0 && outerDepth === d) node = callees.child(FLAME_NONE, rootCode);
      else if (outerDepth >= 0 && sp > 0 && down[sp - 1] !== FLAME_NONE) node = callees.child(down[sp - 1], c);
      if (node !== FLAME_NONE) {
        callees.calls[node] += 1;
        callees.total[node] += dur;
      }
      down[sp] = node;
      anc[sp] = i;
      sp++;
    }
  }
  callees.deriveSelf();
  return { codes: codes.slice(), callers: callers.finish(), callees: callees.finish() };
}

/** Little-endian f64 of `buf` (an ArrayBuffer, a typed array or a DataView), copied when unaligned. */
function flameF64(buf) {
  const u8 = buf instanceof ArrayBuffer ? new Uint8Array(buf) : new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  const n = Math.floor(u8.byteLength / 8);
  if (u8.byteOffset % 8 === 0) return new Float64Array(u8.buffer, u8.byteOffset, n);
  return new Float64Array(u8.slice(0, n * 8).buffer);
}

/** Parent of each node of a pre-order list of depths (the nearest previous node one less deep). */
function flameParents(depth) {
  const n = depth.length;
  const parent = new Int32Array(n);
  const last = [];
  for (let i = 0; i < n; i++) {
    const d = depth[i];
    parent[i] = d === 0 ? FLAME_NONE : (last[d - 1] === undefined ? FLAME_NONE : last[d - 1]);
    last[d] = i;
    last.length = d + 1;
  }
  return parent;
}

/** The Rust encoding of a flame (`Flame::encode`, `_core.flame_bytes`) as flame columns. */
export function flameFromBytes(buf) {
  const a = flameF64(buf);
  const n = Math.floor(a.length / FLAME_STRIDE);
  const f = emptyFlame(n);
  for (let i = 0; i < n; i++) {
    const o = i * FLAME_STRIDE;
    f.depth[i] = a[o];
    f.code[i] = a[o + 1];
    f.total[i] = a[o + 2];
    f.self[i] = a[o + 3];
    f.calls[i] = a[o + 4];
  }
  f.parent = flameParents(f.depth);
  return f;
}

/**
 * The differential tree of two runs (`Comparison.flame_bytes()`): flame columns of b (`code` is
 * the function's index in the comparison's rows; total, self and calls are b's) with a's figures
 * in totalA, selfA, callsA. A path only in a has calls = 0, one only in b callsA = 0.
 */
export function diffFlameFromBytes(buf) {
  const a = flameF64(buf);
  const n = Math.floor(a.length / DIFF_FLAME_STRIDE);
  const f = emptyFlame(n);
  f.totalA = new Float64Array(n);
  f.selfA = new Float64Array(n);
  f.callsA = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const o = i * DIFF_FLAME_STRIDE;
    f.depth[i] = a[o];
    f.code[i] = a[o + 1];
    f.totalA[i] = a[o + 2];
    f.selfA[i] = a[o + 3];
    f.callsA[i] = a[o + 4];
    f.total[i] = a[o + 5];
    f.self[i] = a[o + 6];
    f.calls[i] = a[o + 7];
  }
  f.parent = flameParents(f.depth);
  return f;
}

/**
 * The icicle layout of a flame whose widths are `width[i]` (default: total): per node its x offset
 * from the left of the whole (same unit as the widths) and the end of its subtree in pre-order
 * (`end[i]`: the first node after it that is not its descendant); `sum` is the top level's width.
 */
export function flameLayout(f, width = f.total) {
  const n = f.count;
  const x = new Float64Array(n);
  const end = new Int32Array(n);
  const cursor = new Float64Array(n); // next child's x per node
  let top = 0;
  const open = new Int32Array(n + 1); // the path of the current node
  let sp = 0;
  for (let i = 0; i < n; i++) {
    const d = f.depth[i];
    while (sp > d) end[open[--sp]] = i;
    const p = f.parent[i];
    if (p < 0) {
      x[i] = top;
      top += width[i];
    } else {
      x[i] = cursor[p];
      cursor[p] += width[i];
    }
    cursor[i] = x[i];
    open[sp++] = i;
  }
  while (sp > 0) end[open[--sp]] = n;
  return { x, end, sum: top };
}

/** The path of node `i` as codes from the top (the node's own code last). */
export function flamePath(f, i) {
  const out = [];
  for (let k = i; k >= 0; k = f.parent[k]) out.push(f.code[k]);
  return out.reverse();
}

/** The node of `f` with path `codes`, or the deepest node along it (-1 when even the top is missing). */
export function flameFind(f, codes) {
  let node = -1;
  let from = 0;
  for (let d = 0; d < codes.length; d++) {
    let found = -1;
    for (let i = from; i < f.count; i++) {
      if (f.depth[i] < d) break; // left node's subtree
      if (f.depth[i] === d && f.parent[i] === node && f.code[i] === codes[d]) {
        found = i;
        break;
      }
    }
    if (found < 0) break;
    node = found;
    from = found + 1;
  }
  return node;
}

// ---- js/flamesize.js ----
// flamesize.js: the height of the flame graph's canvas and, for the callers and callees view,
// where its middle line goes: as tall as what they draw (a flame of 2 rows no longer sits in a
// 420 px pane, the callers no longer get half of it when they are one row), between
// FLAME_MIN_HEIGHT_PX and the zoomed view's most height (beyond it, the flame scrolls as before).
// Layer 2: pure (no DOM), tested in node (tests/js/panels.test.mjs).

/** The flame views are never shorter than this (CSS px): room for the tooltip and a message. */
export const FLAME_MIN_HEIGHT_PX = 96;
/** Room above the callers and below the callees for their labels ("callers ↑", "callees ↓"). */
export const SANDWICH_LABEL_PX = 16;

/** The flame graph's height for `rows` depths of `rowPx`, at most `maxPx`. */
export function flameHeight(rows, rowPx, maxPx) {
  return Math.max(Math.min(FLAME_MIN_HEIGHT_PX, maxPx), Math.min(maxPx, rows * rowPx + 4));
}

/**
 * The callers and callees view for `up` rows of callers (growing upward from the middle line)
 * and `down` rows of callees (downward), rows of `rowPx`, at most `maxPx` tall. Returns { height,
 * mid }: the callers' first row ends 2 px above `mid`, the callees' starts at it. When both do not
 * fit, each side gets at least half of the height or what it needs, whichever is less.
 */
export function sandwichGeometry(up, down, rowPx, maxPx) {
  const upPx = SANDWICH_LABEL_PX + up * rowPx + 2;
  const downPx = down * rowPx + SANDWICH_LABEL_PX;
  const height = Math.max(Math.min(FLAME_MIN_HEIGHT_PX, maxPx), Math.min(maxPx, upPx + downPx));
  let mid = upPx;
  if (upPx + downPx > height) mid = Math.max(Math.min(upPx, Math.round(height / 2)), height - downPx);
  else mid += Math.floor((height - upPx - downPx) / 2);
  return { height, mid };
}

// ---- js/render.js ----
// render.js: canvas 2D drawing primitives and the batching of boxes by colour. Layer 3: depends
// on units.js and layout.js (for the hash); knows nothing of DOM widgets or events. All
// coordinates are view px (CSS pixels); the canvas backing store is scaled by devicePixelRatio in
// sizeCanvas.


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

// ---- js/bandrows.js ----
// bandrows.js: the task bands of the zoomed view (a Dask task a thread ran, drawn as a thin box
// above that thread's calls): colours per task name, drawing (boxes batched by colour, narrow ones
// merged like calls, the task key as canvas text where it fits) and hit testing. lanes.js gives
// the rows (buildBandIndex) and where they go (layoutGroups). Layer 4 (canvas).


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
 * and returns the number of boxes drawn.
 */
export function drawBandRows(ctx, state, vp, lane, ly, charPx, drawnRows) {
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
      const rows = bands.threadRows[t];
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

/** The band of band row `row` of `lane` at trace time `t` (within `tol` ns), or -1. */
export function hitBand(state, lane, row, t, tol) {
  const { bands } = state;
  let best = -1;
  let bestDist = Infinity;
  for (const th of lane.threads) {
    const rows = bands.threadRows[th];
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

// ---- js/processrows.js ----
// processrows.js: the process header rows (a trace of more than one process): what a header says
// (disclosure mark, name, pid, host, threads, "incomplete", "own clock") and its drawing in the
// zoomed view (a full row, its process's span as a line, text that stays at the left edge while
// the window moves) and in the overview (a thin strip). Names are drawn as canvas text.
// Layer 4 (canvas).


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

// ---- js/table.js ----
// table.js: the summary table (rows of the Rust summary JSON), sortable by column, of the whole
// trace, one process (its "processes" entries, when the trace has more than one) or one thread.
// Layer 4 (a view): DOM only, text only (every string from the trace goes through textContent).


const SUMMARY_COLUMNS = [
  { key: "function", label: "Function", numeric: false },
  { key: "file", label: "File:line", numeric: false },
  { key: "calls", label: "Calls", numeric: true },
  { key: "total_ns", label: "Total", numeric: true,
    title: "Time inside the function, summed over threads: with threads running at once it can exceed the length of the run. A recursive function counts once per outermost call." },
  { key: "self_ns", label: "Self", numeric: true,
    title: "Total minus the time in the recorded functions it called: time in code that was not recorded (libraries outside subs, C functions) counts as self time." },
  { key: "mean_ns", label: "Mean", numeric: true, title: "Mean duration of one call." },
  { key: "max_ns", label: "Max", numeric: true, title: "Longest single call." },
];
const SUMMARY_MAX_ROWS = 500;

/**
 * A summary panel: a process selector (`select.fprofile-summary-process`, shown when the summary
 * has more than one process), a thread selector (the threads of the chosen process) and
 * `table.fprofile-summary`.
 * opts: { colourOf(code) -> css colour, onPick(code), onMenu(code, event) (a row's context menu:
 * the timeline shows the hide buttons there), fileText(file) -> the file as shown (units.js
 * shortPath with the trace's roots; the full name stays in the cell's tooltip) }.
 * Returns { el, setSummary(summary, processes), setSelected(code) }; `processes` (lanes.js
 * traceProcesses) adds their hosts to the process names.
 */
export function createSummaryTable(doc, opts) {
  const el = doc.createElement("div");
  el.className = "fprofile-summary-wrap";
  const head = doc.createElement("div");
  head.className = "fprofile-summary-head";
  const title = doc.createElement("span");
  title.className = "fprofile-summary-title";
  title.textContent = "Summary";
  const procSelect = doc.createElement("select");
  procSelect.className = "fprofile-summary-process";
  procSelect.setAttribute("aria-label", "Summary of the process");
  procSelect.hidden = true;
  const select = doc.createElement("select");
  select.className = "fprofile-summary-thread";
  select.setAttribute("aria-label", "Summary of");
  const note = doc.createElement("span");
  note.className = "fprofile-summary-note";
  const scopeNote = doc.createElement("span");
  scopeNote.className = "fprofile-summary-scope fprofile-muted";
  head.append(title, procSelect, select, note, scopeNote);
  const scroller = doc.createElement("div");
  scroller.className = "fprofile-summary-scroll";
  const table = doc.createElement("table");
  table.className = "fprofile-summary";
  const thead = doc.createElement("thead");
  const tbody = doc.createElement("tbody");
  const hr = doc.createElement("tr");
  table.append(thead, tbody);
  thead.append(hr);
  scroller.append(table);
  el.append(head, scroller);

  let summary = null;
  let scope = { hidden: 0, total: 0, windowed: false, visible: null };
  let sortKey = "total_ns";
  let sortDesc = true;
  let selectedCode = -1;
  const ths = [];
  for (const col of SUMMARY_COLUMNS) {
    const th = doc.createElement("th");
    th.textContent = col.label;
    if (col.title) th.title = col.title;
    th.dataset.key = col.key;
    th.scope = "col";
    th.tabIndex = 0;
    if (col.numeric) th.className = "fprofile-num";
    const activate = () => {
      if (sortKey === col.key) sortDesc = !sortDesc;
      else { sortKey = col.key; sortDesc = col.numeric; }
      renderRows();
    };
    th.addEventListener("click", activate);
    th.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); activate(); } });
    hr.append(th);
    ths.push(th);
  }
  select.addEventListener("change", renderRows);
  procSelect.addEventListener("change", () => {
    fillThreads();
    renderRows();
  });

  /** The summary's "processes" entries, when it has more than one. */
  function processEntries() {
    const ps = summary && Array.isArray(summary.processes) ? summary.processes : [];
    return ps.length > 1 ? ps : [];
  }
  /** Is thread `t` counted (shown, or every thread counted: a windowed trace's host rows)? */
  function counted(t) {
    return scope.windowed || !scope.visible || !!scope.visible[t];
  }
  /** The chosen process (its "process" index), or -1 for all. */
  function chosenProcess() {
    return procSelect.hidden || procSelect.value === "all" || procSelect.value === "" ? -1 : Number(procSelect.value);
  }
  /** The thread selector: every thread, or the chosen process's. */
  function fillThreads() {
    const p = chosenProcess();
    const words = scopeWords(scope);
    const threads = (summary && summary.threads) || [];
    const mine = threads.filter((th) => p < 0 || th.process === p);
    const shown = mine.filter((th) => counted(th.thread)).length;
    const opts2 = [["overall", p < 0 ? words.all : shown < mine.length ? `Its shown threads (${shown} of ${mine.length})` : "All its threads"]];
    for (let i = 0; i < threads.length; i++) {
      if ((p < 0 || threads[i].process === p) && counted(threads[i].thread)) opts2.push([String(i), `Thread: ${threads[i].name}`]);
    }
    scopeNote.textContent = words.note;
    el.dataset.hiddenThreads = String(scope.hidden);
    select.replaceChildren(...opts2.map(([v, label]) => option(v, label)));
    select.value = "overall";
  }
  function option(value, label) {
    const o = doc.createElement("option");
    o.value = value;
    o.textContent = label;
    return o;
  }

  function currentRows() {
    if (!summary) return [];
    if (select.value === "overall" || select.value === "") {
      const p = chosenProcess();
      if (p < 0) return summary.overall || [];
      const e = processEntries().find((x) => x.process === p);
      return (e && e.rows) || [];
    }
    const t = (summary.threads || [])[Number(select.value)];
    return (t && t.rows) || [];
  }

  function renderRows() {
    const rows = currentRows().slice();
    const col = SUMMARY_COLUMNS.find((c) => c.key === sortKey);
    rows.sort((a, b) => {
      const x = a[sortKey];
      const y = b[sortKey];
      let r = col.numeric ? x - y : String(x).localeCompare(String(y));
      if (sortKey === "file" && r === 0) r = a.line - b.line;
      return sortDesc ? -r : r;
    });
    for (const th of ths) {
      const on = th.dataset.key === sortKey;
      th.setAttribute("aria-sort", on ? (sortDesc ? "descending" : "ascending") : "none");
    }
    const frag = doc.createDocumentFragment();
    const shown = rows.slice(0, SUMMARY_MAX_ROWS);
    for (const r of shown) {
      const tr = doc.createElement("tr");
      tr.dataset.code = String(r.code);
      if (r.code === selectedCode) tr.className = "fprofile-selected";
      const fn = doc.createElement("td");
      const sw = doc.createElement("span");
      sw.className = "fprofile-swatch";
      sw.style.background = opts.colourOf(r.code);
      const name = doc.createElement("span");
      name.textContent = r.function;
      fn.append(sw, name);
      const file = doc.createElement("td");
      file.className = "fprofile-file";
      const fileText = doc.createElement("span");
      fileText.dir = "ltr";
      fileText.textContent = `${opts.fileText ? opts.fileText(r.file) : r.file}:${r.line}`;
      file.append(fileText);
      file.title = `${r.file}:${r.line}`;
      tr.append(fn, file,
        numCell(doc, formatCount(r.calls), r.calls), numCell(doc, formatDuration(r.total_ns), r.total_ns),
        numCell(doc, formatDuration(r.self_ns), r.self_ns), numCell(doc, formatDuration(r.mean_ns), r.mean_ns),
        numCell(doc, formatDuration(r.max_ns), r.max_ns));
      tr.addEventListener("click", () => opts.onPick(r.code));
      if (opts.onMenu) {
        tr.addEventListener("contextmenu", (e) => {
          e.preventDefault();
          opts.onMenu(r.code, e);
        });
      }
      frag.append(tr);
    }
    tbody.replaceChildren(frag);
    note.textContent = rows.length > shown.length
      ? `${formatCount(shown.length)} of ${formatCount(rows.length)} functions shown`
      : `${formatCount(rows.length)} function${rows.length === 1 ? "" : "s"}`;
  }

  return {
    el,
    /**
     * `scope` (optional): { hidden, total (threads), windowed, visible (per thread 1 when shown) }:
     * hidden threads and the processes of none shown are not offered, and the words say what the
     * rows count (summaryscope.js).
     */
    setSummary(s, processes, sc) {
      scope = sc || { hidden: 0, total: 0, windowed: false, visible: null };
      // the same trace again (a filter changed): keep the process and thread shown
      const keep = summary && s && summary.threads && s.threads && summary.threads.length === s.threads.length
        ? [procSelect.value, select.value] : null;
      summary = s;
      const procInfo = processes || [];
      const entries = processEntries().filter((e) => (summary.threads || []).some((th) => th.process === e.process && counted(th.thread)));
      procSelect.replaceChildren(option("all", "All processes"), ...entries.map((e) => {
        const host = procInfo[e.process] ? procInfo[e.process].host : "";
        return option(String(e.process), `Process: ${processLabel({ name: e.name, pid: e.pid, host })}`);
      }));
      procSelect.value = "all";
      procSelect.hidden = processEntries().length === 0;
      if (keep && [...procSelect.options].some((o) => o.value === keep[0])) procSelect.value = keep[0];
      fillThreads();
      if (keep && [...select.options].some((o) => o.value === keep[1])) select.value = keep[1];
      renderRows();
    },
    setSelected(code) {
      selectedCode = code;
      for (const tr of tbody.children) tr.classList.toggle("fprofile-selected", Number(tr.dataset.code) === code);
    },
  };
}

/** A figure's cell: its text, and the exact number in `data-value` (ns or calls). */
function numCell(doc, text, value) {
  const td = doc.createElement("td");
  td.className = "fprofile-num";
  td.textContent = text;
  td.dataset.value = String(value);
  return td;
}

// ---- js/viewport.js ----
// @ts-check
// viewport.js: the coordinate spaces of the timeline, in one place (speedscope's
// configSpaceToPhysicalViewSpace, here for a time axis). Layer 3: pure (no DOM, no canvas), tested
// in node by tests/js/viewport.test.mjs; depends on layout.js for the window maths.
//
// Spaces, named in every view:
//   trace ns   : time relative to the trace origin, integer nanoseconds held in numbers (exact to
//                2^53); shown in text and axis labels as t - origin (layout.js displayOrigin)
//   zoom x     : CSS px from the left edge of the zoomed canvas
//                x = (t - win[0]) * zoomPxPerNs, zoomPxPerNs = width / (win[1] - win[0])
//   overview x : CSS px from the left edge of the overview canvas, the same over the whole run
//                x = (t - full[0]) * overviewPxPerNs
//   content y  : zoomed-view y before vertical scrolling (lanes stacked from 0)
//   zoom y     : CSS px from the top of the zoomed canvas, under the fixed time axis
//                y = content y - scrollY + ZOOM_AXIS_PX
// The canvas backing stores are scaled by devicePixelRatio (render.js sizeCanvas); nothing here
// sees device pixels.


/** Height of the zoomed view's time axis, CSS px. */
export const ZOOM_AXIS_PX = 22;
/** Height of one call row (one depth) in the zoomed view, CSS px. */
export const ZOOM_ROW_PX = 18;
/** Height of a lane's header (thread names and span lines), CSS px. */
export const ZOOM_HEADER_PX = 20;
/** Gap between lanes, CSS px. */
export const ZOOM_GAP_PX = 6;
/** Height of a process header row (traces of more than one process), CSS px. */
export const ZOOM_PROC_HEADER_PX = 22;
/** Height of one row of task bands above a thread's calls, CSS px. */
export const ZOOM_BAND_PX = 14;
/** A collapsed process: its summary lane shows this many depths, each this high (CSS px). */
export const ZOOM_SUMMARY_DEPTHS = 4;
export const ZOOM_SUMMARY_ROW_PX = 6;
/** The narrowest window, ns. */
export const MIN_WINDOW_NS = 50;
/** A pointer that moved less than this (CSS px) clicked; more, it dragged. */
export const DRAG_THRESHOLD_PX = 3;
/** The lowest zoomed view, CSS px. */
const ZOOM_MIN_HEIGHT_PX = 160;
/** Room kept below the last lane, CSS px. */
const ZOOM_BOTTOM_PX = 8;

/**
 * The viewport of one timeline: the whole run, the zoomed window, the canvas width, the zoomed
 * view's height and vertical scroll, and the conversions between the spaces above.
 */
export class Viewport {
  /** @param {number} [maxZoomHeight] most height of the zoomed view, CSS px (default 420) */
  constructor(maxZoomHeight) {
    /** most height of the zoomed view (it is as tall as its lanes up to this, then scrolls) */
    this.maxZoomHeight = Math.max(ZOOM_MIN_HEIGHT_PX, Number(maxZoomHeight) || 420);
    /** @type {[number, number]} the whole run, trace ns */
    this.full = [0, 1];
    /** @type {[number, number]} the zoomed window, trace ns */
    this.win = [0, 1];
    /** width of both canvases, CSS px (0 until measured) */
    this.width = 0;
    /** height of the zoomed canvas, CSS px */
    this.zoomHeight = Math.min(this.maxZoomHeight, 220);
    /** height of the lanes in content y */
    this.contentHeight = 0;
    /** vertical scroll of the zoomed view: content y at the top of its call area */
    this.scrollY = 0;
  }

  // ---- x: trace ns <-> zoom x / overview x ------------------------------------------------
  zoomPxPerNs() {
    return this.width / (this.win[1] - this.win[0]);
  }
  /** @param {number} t trace ns @returns {number} zoom x */
  nsToZoomX(t) {
    return (t - this.win[0]) * this.zoomPxPerNs();
  }
  /** @param {number} x zoom x @returns {number} trace ns */
  zoomXToNs(x) {
    return this.win[0] + x / this.zoomPxPerNs();
  }
  overviewPxPerNs() {
    return this.width / (this.full[1] - this.full[0]);
  }
  /** @param {number} t trace ns @returns {number} overview x */
  nsToOverviewX(t) {
    return (t - this.full[0]) * this.overviewPxPerNs();
  }
  /** @param {number} x overview x @returns {number} trace ns */
  overviewXToNs(x) {
    return this.full[0] + x / this.overviewPxPerNs();
  }

  // ---- y: content y <-> zoom y --------------------------------------------------------------
  /** @param {number} cy content y @returns {number} zoom y */
  contentYToZoomY(cy) {
    return cy - this.scrollY + ZOOM_AXIS_PX;
  }
  /** @param {number} y zoom y @returns {number} content y */
  zoomYToContentY(y) {
    return y - ZOOM_AXIS_PX + this.scrollY;
  }
  maxScrollY() {
    return Math.max(0, this.contentHeight - (this.zoomHeight - ZOOM_AXIS_PX) + ZOOM_BOTTOM_PX);
  }
  /**
   * The lanes shown are `h` content px tall (the scroll range), and the view is sized for lanes
   * `sizeH` tall (default h): the zoomed view is as tall as them (with a margin), at least
   * ZOOM_MIN_HEIGHT_PX and at most maxZoomHeight; the scroll stays in range. The timeline sizes
   * the view for all the visible threads' lanes, so it keeps its height while lanes empty in the
   * window come and go.
   * @param {number} h @param {number} [sizeH]
   */
  setContentHeight(h, sizeH = h) {
    this.contentHeight = h;
    this.zoomHeight = Math.max(ZOOM_MIN_HEIGHT_PX, Math.min(this.maxZoomHeight, ZOOM_AXIS_PX + sizeH + 12));
    this.scrollY = Math.min(this.scrollY, this.maxScrollY());
  }
  /**
   * Scroll so that content y [top, bottom) is in view: no move when it already is; else its top
   * a row below the top of the view, or its bottom at the bottom when it is nearer below (a span
   * taller than the view shows its top). True when the scroll changed.
   * @param {number} top @param {number} bottom
   */
  scrollIntoView(top, bottom) {
    const viewH = this.zoomHeight - ZOOM_AXIS_PX;
    if (top >= this.scrollY && bottom <= this.scrollY + viewH) return false;
    const margin = Math.min(ZOOM_ROW_PX, Math.max(0, (viewH - (bottom - top)) / 2));
    if (bottom > this.scrollY + viewH && bottom - top + margin <= viewH) return this.scrollTo(bottom + margin - viewH);
    return this.scrollTo(top - margin);
  }
  /**
   * Scroll to content y `y`, clamped to [0, maxScrollY]; true when the scroll changed.
   * @param {number} y
   */
  scrollTo(y) {
    const next = Math.min(this.maxScrollY(), Math.max(0, y));
    if (next === this.scrollY) return false;
    this.scrollY = next;
    return true;
  }

  // ---- the window -----------------------------------------------------------------------------
  /**
   * A new run: the whole run is [a, b]; the window is unset until setWindow.
   * @param {number} a @param {number} b
   */
  setFull(a, b) {
    this.full = [a, b];
    this.win = [NaN, NaN];
  }
  /**
   * Set the window to [a, b] clamped into the run (keeping its width when it can, at least
   * MIN_WINDOW_NS wide); true when it changed.
   * @param {number} a @param {number} b
   */
  setWindow(a, b) {
    const [s, e] = clampWindow(a, b, this.full[0], this.full[1], MIN_WINDOW_NS);
    if (s === this.win[0] && e === this.win[1]) return false;
    this.win = [s, e];
    return true;
  }
  /**
   * The window zoomed by `factor` (> 1 zooms in) around trace time `atNs` (default: its middle);
   * not clamped (setWindow clamps).
   * @param {number} factor @param {number} [atNs]
   * @returns {[number, number]}
   */
  zoomedWindow(factor, atNs) {
    const t = atNs === undefined ? (this.win[0] + this.win[1]) / 2 : atNs;
    const [a, b] = zoomWindow(this.win[0], this.win[1], t, factor);
    return [a, b];
  }
  /**
   * The window moved by `dx` zoom px (> 0: later); not clamped.
   * @param {number} dx
   * @returns {[number, number]}
   */
  pannedWindow(dx) {
    const dt = dx / this.zoomPxPerNs();
    return [this.win[0] + dt, this.win[1] + dt];
  }
  /**
   * The window that shows [start, end] with a 5% margin each side (at least MIN_WINDOW_NS / 2).
   * @param {number} start @param {number} end
   * @returns {[number, number]}
   */
  windowAround(start, end) {
    const m = Math.max((end - start) * 0.05, MIN_WINDOW_NS / 2);
    return [start - m, end + m];
  }
}

// ---- js/state.js ----
// state.js: what the views of one timeline share: the shown trace and what is derived from it,
// the processes, which threads are visible, which processes are collapsed, the lanes (all, and
// those with something in the window), the task bands, the theme's colours, the selection, the search and the
// call under the pointer, the view filters (filters.js applies them). Layer 3 (no DOM). timeline.js owns the one instance and changes it;
// the views read it (the zoomed view also sets hoverCall).

/** The state of a timeline with no trace. */
export function createTimelineState() {
  return {
    trace: null, // the decoded trace (decode.js), or null
    fullIndex: null, // layout.js buildIndex(trace): every call
    overviewTrace: null, // windowed mode (timeline.js setWindowedData): the overview reply composed (windowreply.js), drawn by the overview
    overviewIndex: null, // its buildIndex
    index: null, // what the views draw: fullIndex, or with a filter on filters.js filteredIndex (kept calls, their self times)
    filter: { hidden: [], minNs: 0 }, // the view filters (filters.js): [{ kind: function | file | module, value }], minimum duration
    kept: null, // with a filter on: filters.js applyFilter(trace, filter).kept (per call 1 when shown), else null
    filterGen: 0, // counts filter changes (caches of derived views key on it)
    colours: null, // render.js codeColours(trace.codes, dark)
    roots: [], // units.js pathRoots(trace.metadata): file names shown as users know them
    pal: null, // render.js readPalette(root, dark)
    dark: false,
    visible: new Uint8Array(0), // per thread: 1 when shown
    lanes: { multi: false, groups: [], lanes: [], height: 0 }, // lanes.js layoutGroups of the visible threads (the overview's)
    zoomLanes: { multi: false, groups: [], lanes: [], height: 0, idle: 0 }, // lanes.js windowLayout: the zoomed view's (content y), without the lanes empty in the window
    processes: [], // lanes.js traceProcesses(trace)
    processThreads: [], // per process: its threads' indices
    collapsed: new Uint8Array(0), // per process: 1 when collapsed to its summary lane
    bands: null, // lanes.js buildBandIndex(trace)
    bandColours: [], // bandrows.js bandColours(bands.keys, dark)
    bandBatch: null, // render.js BoxBatch over the band colours (fills, then bottom lines)
    origin: 0, // the trace time shown as 0 everywhere (axes, tooltip, details, window label)
    selectedCall: -1,
    selectedCode: -1, // the function of the selected call: every call of it is highlighted
    searchMask: null, // Uint8Array over codes (1: matches the search), or null
    searchCallRows: null, // windowed: the host's summary rows ({code, calls}) the search counts calls from, or null
    hoverCall: -1,
    batch: null, // render.js BoxBatch over 2 x codes (each colour, then each faded colour)
  };
}

/** Is something highlighted (a selected function or a search)? Then the rest is faded. */
export function highlightActive(state) {
  return state.searchMask !== null || state.selectedCode >= 0;
}

/** Is function `code` highlighted (selected, or matching the search)? */
export function isHighlighted(state, code) {
  return code === state.selectedCode || (state.searchMask !== null && state.searchMask[code] === 1);
}

/** The longest call of a visible thread, not hidden by the filter, whose function `matches(code)`, or -1 (the first of equals). */
export function longestVisibleCall(state, matches) {
  const { calls } = state.trace;
  const { visible, kept } = state;
  let best = -1;
  for (let i = 0; i < calls.count; i++) {
    if (matches(calls.code[i]) && visible[calls.thread[i]] && (!kept || kept[i]) &&
        (best < 0 || calls.end[i] - calls.start[i] > calls.end[best] - calls.start[best])) best = i;
  }
  return best;
}

// ---- js/windowsource.js ----
// windowsource.js: the windowed data source of a timeline whose page does not hold every call
// (a trace above the hosts' threshold): which window to ask the kernel (or the viewer) for, one
// request in flight at a time with only the latest wanted window sent next (latest wins), replies
// to ids no longer awaited dropped, a small cache of replies, and which cached reply covers a view
// best (the page draws it, stretched, until a fresher one arrives: no blank frames). Layer 2 (no
// DOM, no timers of its own: the host's `send` and the timeline's calls drive it).

/** Fetch this much of the view's width more on each side: a pan of up to that needs no request.
 * Measured in JupyterLab on 1M calls: 0.25 gave a 45 ms median round trip, 0.5 (larger replies) 58 ms. */
export const WINDOW_MARGIN = 0.25;
/** Replies kept (the overview is kept apart, for ever). */
export const WINDOW_CACHE = 8;
/** A reply is sharp enough for a view when its pixels per ns are at least this fraction of the view's. */
export const WINDOW_SHARP = 0.9;

/**
 * send(id, t0, t1, px): ask for a window (the host sends it; its reply comes back through
 * receive(id, reply)). Returns { want(t0, t1, widthPx) (the view moved: ask for it unless a
 * cached reply covers it sharply), receive(id, reply) -> boolean (false: stale, dropped), fail(id)
 * (the request failed: the pending view, if any, is asked for), best(t0, t1, widthPx) (the reply
 * to draw, or null), setOverview(reply), add(reply), stats, inFlight() }.
 * A reply: { t0, t1, px, ... } (windowreply.js decodeWindowReply).
 */
export function createWindowSource(send) {
  let nextId = 1;
  let flight = null; // { id, t0, t1, px }: the request awaited
  let pending = null; // [t0, t1, widthPx]: the latest view wanted while one was in flight
  let overview = null;
  const cache = []; // newest last
  const pinned = []; // kept for ever (an HTML export's pyramid tiles): may be undecoded, { t0, t1, px, bytes }
  const stats = { sent: 0, received: 0, stale: 0, failed: 0 };

  const sharpFor = (r, t0, t1, widthPx) => r.px / (r.t1 - r.t0) >= WINDOW_SHARP * widthPx / (t1 - t0);
  const covers = (r, t0, t1) => r.t0 <= t0 && r.t1 >= t1;

  /** The reply to draw for the view [t0, t1] at widthPx: the sharpest one covering it, else the newest overlapping it most, else the overview. */
  function best(t0, t1, widthPx) {
    let pick = null;
    let pickScore = -Infinity;
    const all = [...(overview ? [overview] : []), ...pinned, ...cache];
    all.forEach((r, age) => {
      const overlap = Math.min(r.t1, t1) - Math.max(r.t0, t0);
      if (!(overlap > 0)) return;
      // covering beats not covering; then sharpness (capped at the view's), then newer
      const res = Math.min(1, (r.px / (r.t1 - r.t0)) / (widthPx / (t1 - t0)));
      const score = (covers(r, t0, t1) ? 2 : overlap / (t1 - t0)) + res + age * 1e-6;
      if (score > pickScore) { pick = r; pickScore = score; }
    });
    return pick;
  }

  function covered(t0, t1, widthPx) {
    return cache.some((r) => covers(r, t0, t1) && sharpFor(r, t0, t1, widthPx)) ||
      pinned.some((r) => covers(r, t0, t1) && sharpFor(r, t0, t1, widthPx)) ||
      (overview !== null && covers(overview, t0, t1) && sharpFor(overview, t0, t1, widthPx));
  }

  function sendNow(t0, t1, widthPx) {
    const w = t1 - t0;
    const a = t0 - w * WINDOW_MARGIN;
    const b = t1 + w * WINDOW_MARGIN;
    const px = Math.max(1, Math.min(65536, Math.round(widthPx * (1 + 2 * WINDOW_MARGIN))));
    flight = { id: nextId++, t0: Math.floor(a), t1: Math.ceil(b), px };
    stats.sent++;
    send(flight.id, flight.t0, flight.t1, flight.px);
  }

  return {
    stats,
    inFlight: () => (flight ? flight.id : 0),
    setOverview(r) {
      overview = r;
    },
    /** Keep replies for ever (an HTML export's pyramid): `{ t0, t1, px, ... }`, decoded or not. */
    pin(replies) {
      pinned.push(...replies);
    },
    /** Keep a reply that came another way (a saved notebook's last view). */
    add(r) {
      cache.push(r);
      if (cache.length > WINDOW_CACHE) cache.shift();
    },
    want(t0, t1, widthPx) {
      if (!(t1 > t0) || !(widthPx > 0)) return;
      if (covered(t0, t1, widthPx)) {
        pending = null;
        return;
      }
      if (flight) {
        pending = [t0, t1, widthPx]; // latest wins: replaces any earlier pending view
        return;
      }
      sendNow(t0, t1, widthPx);
    },
    receive(id, reply) {
      if (!flight || id !== flight.id) {
        stats.stale++;
        return false;
      }
      flight = null;
      stats.received++;
      cache.push(reply);
      if (cache.length > WINDOW_CACHE) cache.shift();
      if (pending) {
        const [t0, t1, w] = pending;
        pending = null;
        if (!covered(t0, t1, w)) sendNow(t0, t1, w);
      }
      return true;
    },
    fail(id) {
      if (!flight || id !== flight.id) return;
      flight = null;
      stats.failed++;
      if (pending) {
        const [t0, t1, w] = pending;
        pending = null;
        sendNow(t0, t1, w);
      }
    },
    best,
  };
}

/**
 * The flame graphs a windowed page asks its host for (the host merges every call; the page holds
 * only a window's): one request in flight, the latest wanted flame sent next (latest wins), replies
 * to ids no longer awaited dropped, the last few kept by key. send(id, threads, win) asks for the
 * flame of `threads` (thread indices) over `win` ([t0, t1] in trace ns, or null: the whole run).
 * Returns { want(threads, win) -> the reply held for them (sent for when not), receive(id, reply)
 * -> boolean (false: stale, dropped), fail(id) -> boolean (false: not awaited), failed(threads, win)
 * (that request failed last), inFlight(), stats }. A reply is whatever the host's bytes decode to
 * (flame.js flameFromBytes).
 */
export function createFlameSource(send) {
  let nextId = 1;
  let flight = null; // { id, key }
  let pending = null; // { key, threads, win }: the latest flame wanted while one was in flight
  let failedKey = "";
  const held = new Map(); // key -> reply, oldest first
  const stats = { sent: 0, received: 0, stale: 0, failed: 0 };
  const keyOf = (threads, win) => `${threads.join(",")}|${win ? `${win[0]},${win[1]}` : "all"}`;

  function sendNow(key, threads, win) {
    flight = { id: nextId++, key };
    stats.sent++;
    send(flight.id, threads.slice(), win ? [win[0], win[1]] : null);
  }
  function next() {
    if (!pending) return;
    const p = pending;
    pending = null;
    if (!held.has(p.key)) sendNow(p.key, p.threads, p.win);
  }

  return {
    stats,
    inFlight: () => (flight ? flight.id : 0),
    want(threads, win) {
      const key = keyOf(threads, win);
      const r = held.get(key);
      if (r !== undefined) {
        pending = null;
        return r;
      }
      if (flight) {
        if (flight.key !== key) pending = { key, threads, win };
        else pending = null;
      } else if (key !== failedKey) {
        sendNow(key, threads, win);
      }
      return null;
    },
    receive(id, reply) {
      if (!flight || id !== flight.id) {
        stats.stale++;
        return false;
      }
      const { key } = flight;
      flight = null;
      failedKey = "";
      stats.received++;
      held.delete(key);
      held.set(key, reply);
      if (held.size > WINDOW_CACHE) held.delete(held.keys().next().value);
      next();
      return true;
    },
    fail(id) {
      if (!flight || id !== flight.id) return false;
      failedKey = flight.key; // not asked again until another flame was wanted
      flight = null;
      stats.failed++;
      if (pending && pending.key === failedKey) pending = null;
      next();
      return true;
    },
    failed: (threads, win) => failedKey !== "" && keyOf(threads, win) === failedKey,
  };
}

// ---- js/panel.js ----
// panel.js: what the text views share: the element helper, a call's facts (file, thread, start,
// duration, self, children, notes) and their definition list, as shown by the tooltip and the
// details panel. Layer 4 (DOM, text only: every string from a trace goes through textContent).


/** A new element of `doc`: `<tag class=cls>text</tag>` (class and text optional). */
export function makeEl(doc, tag, cls, text) {
  const e = doc.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

/** `dl.fprofile-facts` of [label, value] pairs. */
export function factList(doc, facts) {
  const dl = makeEl(doc, "dl", "fprofile-facts");
  for (const [k, v] of facts) dl.append(makeEl(doc, "dt", null, k), makeEl(doc, "dd", null, v));
  return dl;
}

/** Thread `t` as text: its name (at `atNs` when given: threads can be renamed) and its tid. */
export function threadLabel(trace, t, atNs) {
  const th = trace.threads[t];
  const name = atNs === undefined ? th.name : threadNameAt(th, atNs);
  return th.osId ? `${name} (tid ${th.osId})` : name;
}

/**
 * Trace time `t` as shown on the axes: from the display origin, precise to a thousandth of the
 * zoomed window (like the window label) or to a tenth of `span_ns` when that is finer.
 */
export function timeText(state, vp, t, span_ns) {
  const res = Math.max(1, Math.min((vp.win[1] - vp.win[0]) / 1000, span_ns / 10));
  return formatTimeAt(t - state.origin, res);
}

/** The facts of call `c`, as [label, value] pairs. */
export function callFacts(state, vp, c) {
  const { calls, codes } = state.trace;
  const code = calls.code[c];
  const facts = [
    ["File", `${shortPath(codes.file[code], state.roots || [])}:${codes.line[code]}`],
    ["Thread", threadLabel(state.trace, calls.thread[c], calls.start[c])],
    ...processFact(state, calls.thread[c]),
    ["Start", timeText(state, vp, calls.start[c], calls.end[c] - calls.start[c])],
    ["Duration", formatDuration(calls.end[c] - calls.start[c])],
  ];
  // a windowed trace (windowreply.js) holds the window's calls only: no self time or child count
  if (!calls.runs) facts.push(["Self", formatDuration(state.index.selfNs[c])], ["Children", formatCount(state.index.childCount[c])]);
  const f = calls.flags[c];
  if (f & 1) facts.push(["Note", "unfinished: still running when recording stopped"]);
  if (f & 2) facts.push(["Note", "started before the recording"]);
  return facts;
}

/** Is item `c` of a windowed trace a run of calls narrower than a pixel (windowreply.js)? */
export function isRun(trace, c) {
  return !!trace.calls.runs && trace.calls.runs[c] !== 1;
}

/** The facts of run `c` of a windowed trace: how many calls, of which function(s), where; zoom in to see them. */
export function runFacts(state, vp, c) {
  const { calls, codes } = state.trace;
  const mixed = (calls.flags[c] & 8) !== 0;
  const span = calls.end[c] - calls.start[c];
  return [
    ["Calls", `${formatCount(calls.runs[c])}, each narrower than a pixel: zoom in to see them`],
    [mixed ? "Functions" : "Function", mixed ? `several (the longest sampled: ${codes.name[calls.code[c]]})` : codes.name[calls.code[c]]],
    ["Thread", threadLabel(state.trace, calls.thread[c], calls.start[c])],
    ...processFact(state, calls.thread[c]),
    ["From", timeText(state, vp, calls.start[c], span)],
    ["Span", formatDuration(span)],
    ["Depth", String(calls.depth[c])],
  ];
}

/** [["Process", its label]] for thread `t` of a trace of more than one process, else []. */
export function processFact(state, t) {
  const { processes } = state;
  if (processes.length < 2) return [];
  return [["Process", processLabel(processes[threadProcess(state.trace.threads[t], processes.length)])]];
}

/** A signed duration: "+1.5 s", "-20 µs", "0 ns". */
export function signedDuration(ns) {
  return ns > 0 ? `+${formatDuration(ns)}` : formatDuration(ns);
}

/** The facts of process `p`: pid and parent, host, span, exit status, clock, threads, calls, notes. */
export function processFacts(state, vp, p) {
  const proc = state.processes[p];
  const threads = state.processThreads[p];
  let calls = 0;
  for (const t of threads) calls += state.trace.threads[t].callEnd - state.trace.threads[t].callStart;
  const span = proc.endNs - proc.startNs;
  const exit = proc.exitStatus === null || proc.exitStatus === undefined ? "unknown"
    : proc.exitStatus < 0 ? `killed by signal ${-proc.exitStatus}` : String(proc.exitStatus);
  const facts = [
    ["Process", `pid ${proc.pid || "unknown"}${proc.parentPid ? `, parent pid ${proc.parentPid}` : ""}`],
    ["Host", proc.host || "unknown"],
    ["Start", timeText(state, vp, proc.startNs, span)],
    ["End", timeText(state, vp, proc.endNs, span)],
    ["Duration", formatDuration(span)],
    ["Exit status", exit],
    ["Clock offset", `${signedDuration(proc.clockOffsetNs || 0)} ± ${formatDuration(proc.clockUncertaintyNs || 0)}`],
  ];
  if (proc.aligned === false) facts.push(["Clock", "on its own clock, not aligned: its times are not comparable with the other processes'"]);
  facts.push(["Threads", formatCount(threads.length)], ["Calls", formatCount(calls)]);
  if (proc.incomplete) facts.push(["Note", "incomplete: killed or still running when the recording stopped; only what it had written out is here"]);
  return facts;
}

/** The facts of band `b` (a task a thread ran): thread, process, start, duration. */
export function bandFacts(state, vp, b) {
  const { bands } = state;
  const dur = bands.end[b] - bands.start[b];
  return [
    ["Task", bands.label[b]],
    ["Thread", threadLabel(state.trace, bands.thread[b], bands.start[b])],
    ...processFact(state, bands.thread[b]),
    ["Start", timeText(state, vp, bands.start[b], dur)],
    ["Duration", formatDuration(dur)],
  ];
}

// ---- js/tooltip.js ----
// tooltip.js: the tooltip over the zoomed view (`.fprofile-tooltip`): the facts of the call, the
// task band, the thread header or the process header under the pointer, placed next to it and
// kept inside the view. Layer 4 (DOM, text only).


/**
 * tl: { doc, state, vp }. Returns { el, showCall(c, x, y), showThread(t, x, y), showProcess(p, x, y),
 * showBand(b, x, y), showFacts(title, facts, kind, x, y), hide() }; x and y are zoom x and zoom y
 * of the pointer (or the same over the flame graph, which takes the zoomed view's place).
 */
export function createTooltip(tl) {
  const { doc, state, vp } = tl;
  const tooltip = makeEl(doc, "div", "fprofile-tooltip");
  tooltip.hidden = true;

  function place(x, y) {
    tooltip.hidden = false;
    const tw = tooltip.offsetWidth;
    const th = tooltip.offsetHeight;
    let left = x + 14;
    let top = y + 14;
    if (left + tw > vp.width) left = Math.max(0, x - tw - 10);
    if (top + th > vp.zoomHeight) top = Math.max(0, y - th - 10);
    tooltip.style.left = `${left}px`;
    tooltip.style.top = `${top}px`;
  }

  /** The facts of call `c` (hidden when c < 0). */
  function showCall(c, x, y) {
    if (c < 0) {
      tooltip.hidden = true;
      return;
    }
    const { trace } = state;
    if (isRun(trace, c)) {
      tooltip.replaceChildren(makeEl(doc, "div", "fprofile-tooltip-title", `${formatCount(trace.calls.runs[c])} calls here`), factList(doc, runFacts(state, vp, c)));
      tooltip.dataset.kind = "run";
      place(x, y);
      return;
    }
    const name = trace.codes.name[trace.calls.code[c]];
    tooltip.replaceChildren(makeEl(doc, "div", "fprofile-tooltip-title", name), factList(doc, callFacts(state, vp, c)));
    tooltip.dataset.kind = "call";
    place(x, y);
  }

  /** The facts of thread `t`: tid, span, duration, calls, lane, names over time. */
  function showThread(t, x, y) {
    const th = state.trace.threads[t];
    const span = th.lastNs - th.firstNs;
    const facts = [
      ["Thread", th.osId ? `tid ${th.osId}` : "tid unknown"],
      ["Span", `${timeText(state, vp, th.firstNs, span)} – ${timeText(state, vp, th.lastNs, span)}`],
      ["Duration", formatDuration(span)],
      ["Calls", formatCount(th.callEnd - th.callStart)],
      ["Lane", String(th.lane)],
      ...processFact(state, t),
    ];
    if (th.names.length > 1) facts.push(["Names", th.names.map((n) => n.name).join(" → ")]);
    tooltip.replaceChildren(makeEl(doc, "div", "fprofile-tooltip-title", th.name), factList(doc, facts));
    tooltip.dataset.kind = "thread";
    place(x, y);
  }

  /** The facts of process `p` (its header row). */
  function showProcess(p, x, y) {
    const title = makeEl(doc, "div", "fprofile-tooltip-title", processLabel(state.processes[p]));
    const hint = makeEl(doc, "div", "fprofile-muted", "click: collapse / expand · double-click: zoom to it · c");
    tooltip.replaceChildren(title, factList(doc, processFacts(state, vp, p)), hint);
    tooltip.dataset.kind = "process";
    place(x, y);
  }

  /** The facts of task band `b`. */
  function showBand(b, x, y) {
    tooltip.replaceChildren(makeEl(doc, "div", "fprofile-tooltip-title", state.bands.label[b]), factList(doc, bandFacts(state, vp, b)));
    tooltip.dataset.kind = "band";
    place(x, y);
  }

  /** Any [label, value] facts under a title (the flame graph's nodes); `kind` goes to data-kind. */
  function showFacts(title, facts, kind, x, y) {
    tooltip.replaceChildren(makeEl(doc, "div", "fprofile-tooltip-title", title), factList(doc, facts));
    tooltip.dataset.kind = kind;
    place(x, y);
  }

  return {
    el: tooltip,
    showFacts,
    showCall,
    showThread,
    showProcess,
    showBand,
    hide() {
      tooltip.hidden = true;
    },
  };
}

// ---- js/filterbar.js ----
// filterbar.js: the filter bar (`.fprofile-filterbar`): the minimum-duration input
// (`input.fprofile-min-duration`, filters.js parseDuration; a bad text is a message, the filter
// unchanged), the active filters as removable chips (`.fprofile-filter-chip`, each with
// `button.fprofile-filter-remove`) and `button.fprofile-filter-clear`; and the "hide" buttons of
// a function, its file and its module (`button.fprofile-hide[data-kind]`) that the details panel
// and the table's row menu (createRowMenu) show. Layer 4 (DOM, text only: names go through textContent). The
// filter is state.filter; the timeline's actions change it (tl.addHidden, tl.removeHidden,
// tl.setMinNs, tl.clearFilters) and call sync().


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
  const min = makeEl(doc, "input", "fprofile-min-duration");
  min.type = "text";
  min.placeholder = "min duration, e.g. 1ms";
  min.title = "Hide calls shorter than this (their time counts as their caller's self time); a bare number is ms";
  min.setAttribute("aria-label", "Minimum call duration");
  min.spellcheck = false;
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

// ---- js/details.js ----
// details.js: the details panel (`.fprofile-details`): under the call's name its actions (a button
// that zooms to it, the buttons that hide its function, file or module: filterbar.js
// hideButtons), then its facts, how many calls its function has, and its call stack (each frame a link that selects and zooms to that
// call). Layer 4 (DOM, text only).


/** tl: { doc, state, vp, selectCall(c), zoomToCall(c), addHidden(kind, value) }. Returns { el, show(c) } (c < 0: nothing selected). */
export function createDetails(tl) {
  const { doc, state, vp } = tl;
  const details = makeEl(doc, "div", "fprofile-details");

  function showEmpty() {
    details.replaceChildren(makeEl(doc, "div", "fprofile-panel-title", "Details"),
      makeEl(doc, "div", "fprofile-muted", "Click a call to see its details; every call of its function is highlighted."));
  }

  function show(c) {
    if (c < 0 || !state.trace) {
      showEmpty();
      return;
    }
    const { calls, codes } = state.trace;
    const code = calls.code[c];
    let same = 0;
    for (let i = 0; i < calls.count; i++) if (calls.code[i] === code) same++;
    const title = makeEl(doc, "div", "fprofile-details-title", codes.name[code]);
    const facts = callFacts(state, vp, c);
    facts.push(["Depth", String(calls.depth[c])], ["Calls of it", `${formatCount(same)} (highlighted)`]);
    const stackTitle = makeEl(doc, "div", "fprofile-panel-title", "Call stack");
    const stack = makeEl(doc, "ol", "fprofile-stack");
    const chain = [];
    for (let p = c; p >= 0; p = calls.parent[p]) chain.push(p);
    chain.reverse();
    for (const p of chain) {
      const li = makeEl(doc, "li", p === c ? "fprofile-current" : null);
      const btn = makeEl(doc, "button", "fprofile-link", codes.name[calls.code[p]]);
      btn.type = "button";
      btn.title = `${codes.file[calls.code[p]]}:${codes.line[calls.code[p]]}`;
      btn.addEventListener("click", () => { tl.selectCall(p); tl.zoomToCall(p); });
      li.append(btn);
      stack.append(li);
    }
    const zoomBtn = makeEl(doc, "button", "fprofile-zoom-to", "Zoom to this call");
    zoomBtn.type = "button";
    zoomBtn.addEventListener("click", () => tl.zoomToCall(c));
    // the actions first, under the name: a long list of facts never pushes them below the fold
    const actions = makeEl(doc, "div", "fprofile-details-actions");
    actions.append(zoomBtn, hideButtons(tl, code));
    details.replaceChildren(makeEl(doc, "div", "fprofile-panel-title", "Details"), title, actions, factList(doc, facts), stackTitle, stack);
  }

  showEmpty();
  return { el: details, show };
}

// ---- js/sidepanel.js ----
// sidepanel.js: the handle between the views and the side panel (`.fprofile-side-resizer`, a
// vertical separator): dragging it, or its arrow keys when focused, sets the side panel's width
// (SIDE_MIN_PX to what leaves the views SIDE_VIEWS_MIN_PX); a double click gives the default back.
// The timeline's ResizeObserver sees the views' new width and redraws. The root's
// `data-side-width` is the width set (absent: the default). Layer 4 (DOM).


export const SIDE_MIN_PX = 200;
const SIDE_VIEWS_MIN_PX = 320;
const SIDE_KEY_STEP_PX = 24;

/** The width to give the side panel for a wish of `px` in a main area `mainPx` wide. */
export function clampSideWidth(px, mainPx) {
  const most = Math.max(SIDE_MIN_PX, mainPx - SIDE_VIEWS_MIN_PX);
  return Math.round(Math.max(SIDE_MIN_PX, Math.min(most, px)));
}

/** tl: { doc, root, listen }; `main` holds the views then `side`. Returns { el }. */
export function createSideResizer(tl, main, side) {
  const { doc, root } = tl;
  const el = makeEl(doc, "div", "fprofile-side-resizer");
  el.tabIndex = 0;
  el.setAttribute("role", "separator");
  el.setAttribute("aria-orientation", "vertical");
  el.setAttribute("aria-label", "Width of the side panel");
  el.title = "Drag (or use the arrow keys) to widen or narrow the side panel; double-click: its default width";
  let drag = null;

  function setWidth(px) {
    const w = clampSideWidth(px, main.clientWidth);
    side.style.flex = `0 0 ${w}px`;
    root.setAttribute("data-side-width", String(w));
    el.setAttribute("aria-valuenow", String(w));
  }
  tl.listen(el, "pointerdown", (e) => {
    if (e.button !== 0) return;
    e.preventDefault();
    drag = { x: e.clientX, w: side.getBoundingClientRect().width };
    if (el.setPointerCapture) el.setPointerCapture(e.pointerId);
    el.classList.add("fprofile-dragging");
  });
  tl.listen(el, "pointermove", (e) => {
    // the side panel is right of the handle: dragging left widens it
    if (drag) setWidth(drag.w + drag.x - e.clientX);
  });
  const end = () => {
    drag = null;
    el.classList.remove("fprofile-dragging");
  };
  tl.listen(el, "pointerup", end);
  tl.listen(el, "pointercancel", end);
  tl.listen(el, "dblclick", () => {
    side.style.flex = "";
    root.removeAttribute("data-side-width");
  });
  tl.listen(el, "keydown", (e) => {
    const w = side.getBoundingClientRect().width;
    if (e.key === "ArrowLeft") setWidth(w + SIDE_KEY_STEP_PX);
    else if (e.key === "ArrowRight") setWidth(w - SIDE_KEY_STEP_PX);
    else return;
    e.preventDefault();
    e.stopPropagation();
  });
  return { el };
}

// ---- js/threads.js ----
// threads.js: the thread list (`.fprofile-threads`): one checkbox per thread (data-thread = its
// index) with its colour, name, calls and duration; unchecking hides the thread's lane, a click on
// the name (a button) brings the thread into the zoomed view (timeline.js revealThread). With more
// than one process the threads are grouped under their process: a checkbox per process
// (data-process = its index; indeterminate when only some of its threads are shown) shows or hides
// all its threads at once, and a button collapses or expands its lanes. Inside a process, threads
// whose names differ only by numbers (lanes.js nameGroups: `Thread-12 (process_request_thread)`)
// form a name group, named by the part their names share (lanes.js groupName:
// `Dask-Default-Threads`) with how many threads it has: one checkbox (data-name-group) shows or hides them all, a button opens or
// closes its list (closed at first when it has more than NAME_GROUP_OPEN_MAX threads). A filter
// box (`input.fprofile-thread-filter`) narrows the list to the threads one of whose names, or
// their process's name or host, contains its text, ignoring case, or whose tid or pid it is
// (lanes.js threadMatches); the groups with matches open. Names wrap and the figures stay whole
// (nothing cut at any panel width). Layer 4 (DOM,
// text only).


/** A name group with more threads than this starts closed. */
const NAME_GROUP_OPEN_MAX = 8;

/**
 * tl: { doc, state, selectCall(c), relayout(), schedule(), toggleProcess(p), revealThread(t) }.
 * Returns { el, build() (for the trace in state), sync() (after visibility or collapse changed
 * elsewhere), clear() }.
 */
export function createThreadList(tl) {
  const { doc, state } = tl;
  const box = makeEl(doc, "div", "fprofile-threads");
  let threadBoxes = [];
  let threadRows = []; // per thread: its row (label)
  let processRows = []; // per process: { cb, toggle }
  let processGroupEls = []; // per process (more than one): { group, threads }
  let nameGroupEls = []; // per name group: { g, block, cb, toggle, members, open }
  const filter = makeEl(doc, "input", "fprofile-thread-filter");
  filter.type = "search";
  filter.placeholder = "Filter threads…";
  filter.title = "Show only the threads whose name, or whose process's name or host, contains this text (any case), or whose tid or pid it is";
  filter.setAttribute("aria-label", "Filter threads by name, process, pid or host");
  filter.spellcheck = false;
  filter.addEventListener("input", () => applyFilter());
  filter.addEventListener("keydown", (e) => {
    if (e.key === "Escape") {
      filter.value = "";
      applyFilter();
    }
    e.stopPropagation();
  });
  const list = makeEl(doc, "div", "fprofile-thread-list");
  const empty = makeEl(doc, "div", "fprofile-muted fprofile-thread-none", "No thread, process or host name contains this text.");

  /** Visibility changed: drop a selection that is now hidden, lay out again, redraw. */
  function changed() {
    if (state.selectedCall >= 0 && !state.visible[state.trace.calls.thread[state.selectedCall]]) tl.selectCall(-1);
    tl.relayout();
    sync();
    tl.schedule();
  }

  function threadRow(th, cls) {
    const label = makeEl(doc, "label", cls);
    const cb = makeEl(doc, "input");
    cb.type = "checkbox";
    cb.checked = !!state.visible[th.index];
    cb.dataset.thread = String(th.index);
    cb.addEventListener("change", () => {
      state.visible[th.index] = cb.checked ? 1 : 0;
      changed();
    });
    threadBoxes[th.index] = cb;
    const sw = makeEl(doc, "span", "fprofile-swatch");
    sw.style.background = threadColour(th.index, state.dark);
    // A button inside the label: clicking it does not toggle the checkbox.
    const name = makeEl(doc, "button", "fprofile-thread-name", th.name);
    name.type = "button";
    name.dataset.thread = String(th.index);
    name.title = `${th.names.map((n) => n.name).join(" → ")}: click to bring it into the zoomed view`;
    name.addEventListener("click", () => tl.revealThread(th.index));
    const stats = `${formatCount(th.callEnd - th.callStart)} call${th.callEnd - th.callStart === 1 ? "" : "s"} · ${formatDuration(th.lastNs - th.firstNs)}`;
    const n = makeEl(doc, "span", "fprofile-muted fprofile-thread-stats", stats);
    label.title = `${th.name}${th.osId ? ` (tid ${th.osId})` : ""}: ${stats}`;
    label.append(cb, sw, textBlock(name, n));
    threadRows[th.index] = label;
    return label;
  }

  /** A name and its figures as one block of text: the name wraps, the figures stay whole (on the next line when they do not fit). */
  function textBlock(name, stats) {
    const t = makeEl(doc, "span", "fprofile-row-text");
    t.append(name, doc.createTextNode(" "), stats);
    return t;
  }

  /** Calls of threads `ts`. */
  function callsOf(ts) {
    let calls = 0;
    for (const t of ts) calls += state.trace.threads[t].callEnd - state.trace.threads[t].callStart;
    return calls;
  }

  /** A name group of more than one thread: its row (open button, checkbox, pattern, figures) and its threads' rows. */
  function nameGroupBlock(g, cls) {
    const gi = nameGroupEls.length;
    const block = makeEl(doc, "div", "fprofile-name-group");
    block.dataset.pattern = g.pattern;
    const row = makeEl(doc, "div", "fprofile-name-group-row");
    const toggle = makeEl(doc, "button", "fprofile-name-group-toggle");
    toggle.type = "button";
    toggle.dataset.nameGroup = String(gi);
    const label = makeEl(doc, "label", "fprofile-name-group-label");
    const cb = makeEl(doc, "input");
    cb.type = "checkbox";
    cb.dataset.nameGroup = String(gi);
    cb.addEventListener("change", () => {
      for (const t of g.threads) state.visible[t] = cb.checked ? 1 : 0;
      changed();
    });
    const calls = callsOf(g.threads);
    const stats = `${formatCount(calls)} call${calls === 1 ? "" : "s"}`;
    const named = `${groupName(g.pattern)} (${formatCount(g.threads.length)})`;
    label.title = `${formatCount(g.threads.length)} threads named ${g.pattern} (# stands for any number): ${stats}`;
    label.append(cb, textBlock(makeEl(doc, "span", "fprofile-name-group-name", named), makeEl(doc, "span", "fprofile-muted fprofile-thread-stats", stats)));
    row.append(toggle, label);
    const members = makeEl(doc, "div", "fprofile-name-group-members");
    for (const t of g.threads) members.append(threadRow(state.trace.threads[t], `${cls} fprofile-thread-in-group`));
    block.append(row, members);
    const entry = { g, block, cb, toggle, members, open: g.threads.length <= NAME_GROUP_OPEN_MAX };
    toggle.addEventListener("click", () => {
      entry.open = !entry.open;
      applyFilter();
    });
    nameGroupEls.push(entry);
    return block;
  }

  /** The rows of threads `indices` (one process's), name groups first where their first thread is. */
  function appendThreads(parent, indices, cls) {
    for (const g of nameGroups(state.trace.threads, indices)) {
      if (g.threads.length === 1) parent.append(threadRow(state.trace.threads[g.threads[0]], cls));
      else parent.append(nameGroupBlock(g, cls));
    }
  }

  /** Show the rows of the threads matching the filter; open the name groups that have some (all of them, as chosen, without a filter). */
  function applyFilter() {
    const q = filter.value;
    const { threads } = state.trace;
    let shown = 0;
    for (let t = 0; t < threadRows.length; t++) {
      const row = threadRows[t];
      if (!row) continue;
      row.hidden = !threadMatches(threads[t], q, state.processes[threadProcess(threads[t], state.processes.length)]);
      if (!row.hidden) shown++;
    }
    const filtering = q.trim() !== "";
    for (const e of nameGroupEls) {
      const matches = e.g.threads.filter((t) => !threadRows[t].hidden).length;
      e.block.hidden = matches === 0;
      const open = filtering || e.open;
      e.members.hidden = !open;
      e.toggle.textContent = open ? "▾" : "▸";
      e.toggle.disabled = filtering;
      e.toggle.setAttribute("aria-expanded", String(open));
      e.toggle.setAttribute("aria-label", `${open ? "Close" : "Open"} the list of the ${e.g.threads.length} threads named ${e.g.pattern}`);
    }
    for (const { group, threads: ts } of processGroupEls) group.hidden = filtering && !ts.some((t) => !threadRows[t].hidden);
    empty.hidden = shown > 0;
    list.dataset.shown = String(shown);
  }

  function processRow(p) {
    const proc = state.processes[p];
    const threads = state.processThreads[p];
    const row = makeEl(doc, "div", "fprofile-process");
    const toggle = makeEl(doc, "button", "fprofile-process-toggle");
    toggle.type = "button";
    toggle.dataset.process = String(p);
    toggle.addEventListener("click", () => tl.toggleProcess(p));
    const label = makeEl(doc, "label", "fprofile-process-label");
    const cb = makeEl(doc, "input");
    cb.type = "checkbox";
    cb.dataset.process = String(p);
    cb.disabled = threads.length === 0;
    cb.addEventListener("change", () => {
      for (const t of threads) state.visible[t] = cb.checked ? 1 : 0;
      changed();
    });
    const name = makeEl(doc, "span", "fprofile-process-name", processLabel(proc));
    const calls = callsOf(threads);
    const stats = `${threads.length} thread${threads.length === 1 ? "" : "s"} · ${formatCount(calls)} call${calls === 1 ? "" : "s"}` +
      (proc.incomplete ? " · incomplete" : "");
    label.title = `${processLabel(proc)}: ${stats}`;
    label.append(cb, textBlock(name, makeEl(doc, "span", "fprofile-muted fprofile-thread-stats", stats)));
    row.append(toggle, label);
    processRows[p] = { cb, toggle };
    return row;
  }

  function build() {
    const { trace } = state;
    const multi = state.processes.length > 1;
    threadBoxes = [];
    threadRows = [];
    processRows = [];
    processGroupEls = [];
    nameGroupEls = [];
    const title = makeEl(doc, "div", "fprofile-panel-title",
      `Threads (${trace.threads.length})${multi ? ` in ${state.processes.length} processes` : ""}`);
    list.replaceChildren();
    if (!multi) {
      appendThreads(list, trace.threads.map((th) => th.index), "fprofile-thread");
    } else {
      for (let p = 0; p < state.processes.length; p++) {
        const group = makeEl(doc, "div", "fprofile-process-group");
        group.append(processRow(p));
        appendThreads(group, state.processThreads[p], "fprofile-thread fprofile-thread-in-process");
        list.append(group);
        processGroupEls.push({ group, threads: state.processThreads[p] });
      }
    }
    box.replaceChildren(title, filter, list, empty);
    applyFilter();
    sync();
  }

  /** The checkboxes and collapse buttons as the state says. */
  function sync() {
    for (let t = 0; t < threadBoxes.length; t++) if (threadBoxes[t]) threadBoxes[t].checked = !!state.visible[t];
    for (let p = 0; p < processRows.length; p++) {
      const { cb, toggle } = processRows[p];
      const threads = state.processThreads[p];
      const shown = threads.filter((t) => state.visible[t]).length;
      cb.checked = threads.length > 0 && shown === threads.length;
      cb.indeterminate = shown > 0 && shown < threads.length;
      const collapsed = !!state.collapsed[p];
      toggle.textContent = collapsed ? "▸" : "▾";
      toggle.title = collapsed ? "Expand this process's threads" : "Collapse this process to one summary lane";
      toggle.setAttribute("aria-expanded", String(!collapsed));
      toggle.setAttribute("aria-label", `${collapsed ? "Expand" : "Collapse"} ${processLabel(state.processes[p])}`);
    }
    for (const { g, cb } of nameGroupEls) {
      const shown = g.threads.filter((t) => state.visible[t]).length;
      cb.checked = shown === g.threads.length;
      cb.indeterminate = shown > 0 && shown < g.threads.length;
    }
  }

  return {
    el: box,
    build,
    sync,
    clear() {
      threadBoxes = [];
      threadRows = [];
      processRows = [];
      processGroupEls = [];
      nameGroupEls = [];
      filter.value = "";
      box.replaceChildren();
    },
  };
}

// ---- js/search.js ----
// search.js: the search box (`input.fprofile-search`), its regex toggle
// (`input.fprofile-search-regex`) and its count: the functions whose name or file contains the
// text (or matches it as a regular expression, case ignored; filters.js compileSearch: an invalid
// one is a message in the count, `.fprofile-search-error`) are highlighted (state.searchMask; the root gets data-search-active while
// it filters), Enter selects the longest matching call and zooms to it, Escape clears. Layer 4
// (DOM).


/**
 * tl: { doc, root, state, listen, selectCall(c), zoomToCall(c), invalidateOverview(), schedule() }.
 * Returns { input, regex (its label, with the toggle), count, apply() (filter again, e.g. for a new trace) }.
 */
export function createSearch(tl) {
  const { doc, root, state } = tl;
  const input = makeEl(doc, "input", "fprofile-search");
  input.type = "search";
  input.placeholder = "Search functions…";
  input.title = "Highlight the functions whose name or file contains this text; Enter zooms to the longest match";
  input.setAttribute("aria-label", "Search functions");
  input.spellcheck = false;
  const regex = makeEl(doc, "label", "fprofile-search-regex-label");
  regex.title = "Search with a regular expression (case ignored)";
  const regexBox = makeEl(doc, "input", "fprofile-search-regex");
  regexBox.type = "checkbox";
  regex.append(regexBox, doc.createTextNode(".*"));
  const count = makeEl(doc, "span", "fprofile-search-count");

  function apply() {
    const { trace } = state;
    const m = trace ? compileSearch(input.value, regexBox.checked) : null;
    count.classList.toggle("fprofile-search-error", !!(m && m.error));
    if (!m || m.error) {
      state.searchMask = null;
      count.textContent = m ? m.error : "";
    } else {
      const { codes, calls } = trace;
      const mask = new Uint8Array(codes.count);
      let fns = 0;
      for (let c = 0; c < codes.count; c++) {
        if (m.test(codes.name[c]) || m.test(codes.file[c])) {
          mask[c] = 1;
          fns++;
        }
      }
      let n = 0;
      const { kept, searchCallRows } = state;
      if (searchCallRows) {
        // windowed: the page holds a window's calls only; the host's rows count every call
        for (const r of searchCallRows) if (mask[r.code] === 1) n += Number(r.calls) || 0;
      } else {
        for (let i = 0; i < calls.count; i++) if (!kept || kept[i]) n += mask[calls.code[i]];
      }
      state.searchMask = mask;
      count.textContent = `${formatCount(fns)} function${fns === 1 ? "" : "s"}, ${formatCount(n)} call${n === 1 ? "" : "s"}`;
    }
    root.toggleAttribute("data-search-active", state.searchMask !== null);
    tl.invalidateOverview();
    tl.schedule();
  }

  tl.listen(input, "input", apply);
  tl.listen(regexBox, "change", apply);
  tl.listen(input, "keydown", (e) => {
    if (e.key === "Escape") {
      input.value = "";
      apply();
    } else if (e.key === "Enter" && state.trace && state.searchMask) {
      // Enter: select the longest matching call and zoom to it.
      const mask = state.searchMask;
      const best = longestVisibleCall(state, (code) => mask[code] === 1);
      if (best >= 0) {
        tl.selectCall(best);
        tl.zoomToCall(best);
      }
    }
    e.stopPropagation();
  });

  return { input, regex, count, apply };
}

// ---- js/overview.js ----
// overview.js: the overview (`canvas.fprofile-overview`): every lane over the whole run (with more
// than one process, under a thin header strip per process; a collapsed process is its summary
// lane), drawn
// once into an offscreen canvas (redrawn only when invalidated: new data, theme, width, lanes,
// selection, search), with the brush (the zoomed window) drawn over it every frame. Dragging
// outside the brush selects a new window, dragging inside moves it, a click centres it, a
// double-click shows the whole run. Layer 4 (canvas and pointer events).
//
// Spaces (viewport.js): overview x <-> trace ns over vp.full; y from the top of the canvas.


const OVERVIEW_AXIS_PX = 16;
const OVERVIEW_MAX_PX = 170;
const OVERVIEW_PROC_PX = 12;

/**
 * tl: { doc, win0, state, vp, listen, localXY(e, target), setWin(a, b), resetView() }.
 * Returns { el, layout() (after the lanes changed), invalidate(), draw() }.
 */
export function createOverview(tl) {
  const { doc, win0, state, vp } = tl;
  const overview = doc.createElement("canvas");
  overview.className = "fprofile-overview";
  overview.setAttribute("aria-label", "Overview of the whole run: drag to choose the zoomed window");
  overview.style.height = "60px";
  let overviewHeight = 60;
  let rowsOf = overviewRows(state.lanes, OVERVIEW_AXIS_PX, OVERVIEW_MAX_PX, OVERVIEW_PROC_PX);
  let cache = null;
  let dirty = true;

  /** One band per lane, as high as fits OVERVIEW_MAX_PX (8 to 24 px), under its process's strip. */
  function layout() {
    rowsOf = overviewRows(state.lanes, OVERVIEW_AXIS_PX, OVERVIEW_MAX_PX, OVERVIEW_PROC_PX);
    overviewHeight = rowsOf.height;
    dirty = true;
  }

  function renderCache() {
    const { width } = vp;
    const { pal, colours, dark } = state;
    // windowed mode: the overview reply (the whole run at the overview's resolution, fetched once)
    const trace = state.overviewTrace || state.trace;
    const index = state.overviewIndex || state.index;
    const dpr = win0.devicePixelRatio || 1;
    if (!cache) cache = doc.createElement("canvas");
    cache.width = Math.max(1, Math.round(width * dpr));
    cache.height = Math.max(1, Math.round(overviewHeight * dpr));
    const ctx = cache.getContext("2d", { alpha: false });
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = pal.bg;
    ctx.fillRect(0, 0, width, overviewHeight);
    if (!trace) return;
    const nsToX = (t) => vp.nsToOverviewX(t);
    drawTimeAxis(ctx, pal, width, OVERVIEW_AXIS_PX, overviewHeight, vp.full[0], vp.full[1], nsToX, 110, state.origin);
    const k = vp.overviewPxPerNs();
    const { calls } = trace;
    const hl = highlightActive(state);
    const nCodes = trace.codes.count;
    const { batch } = state;
    const lanes = state.lanes.lanes;
    const { lanePx } = rowsOf;
    for (let li = 0; li < lanes.length; li++) {
      const lane = lanes[li];
      const y = rowsOf.laneY[li];
      const rowsPx = lanePx - 5;
      const rowPx = Math.max(1, Math.min(3, rowsPx / Math.max(1, lane.rows)));
      const shownRows = Math.min(lane.rows, Math.floor(rowsPx / rowPx));
      for (const t of lane.threads) {
        const th = trace.threads[t];
        ctx.fillStyle = threadColour(t, dark);
        const xa = nsToX(th.firstNs);
        ctx.fillRect(xa, y + 1, Math.max(1, nsToX(th.lastNs) - xa), 1.5);
        const rows = index.threadRows[t];
        for (let d = 0; d < Math.min(shownRows, rows.length); d++) {
          const yy = y + 4 + d * rowPx;
          forEachBox(rows[d], calls.start, calls.end, vp.full[0], vp.full[1], k, 1, (c, x0, x1) => {
            const code = calls.code[c];
            batch.add(hl && !isHighlighted(state, code) ? code + nCodes : code, x0, yy, x1 - x0, rowPx);
          });
        }
      }
    }
    batch.fill(ctx, (key) => (key < nCodes ? colours.fill[key] : colours.faded[key - nCodes]));
    if (!rowsOf.procPx) return;
    ctx.font = pal.smallFont;
    const charPx = ctx.measureText("abcdefghijklmnopqrstuvwxyz_ABCDEFGH0123").width / 40 || 5.6;
    state.lanes.groups.forEach((g, gi) => {
      const proc = state.processes[g.process];
      const parts = processHeaderParts(proc, g.collapsed, state.processThreads[g.process].length);
      drawOverviewProcessHeader(ctx, pal, proc, parts, rowsOf.groupY[gi], rowsOf.procPx, width, nsToX, charPx);
    });
  }

  function draw() {
    const { width } = vp;
    const { trace, pal, dark } = state;
    if (dirty) {
      overview.style.height = `${overviewHeight}px`;
      renderCache();
      dirty = false;
    }
    const ctx = sizeCanvas(overview, width, overviewHeight);
    ctx.drawImage(cache, 0, 0, width, overviewHeight);
    if (!trace) return;
    const xa = Math.max(0, vp.nsToOverviewX(vp.win[0]));
    const xb = Math.min(width, vp.nsToOverviewX(vp.win[1]));
    ctx.fillStyle = dark ? "rgba(0,0,0,0.45)" : "rgba(255,255,255,0.6)";
    ctx.fillRect(0, OVERVIEW_AXIS_PX, xa, overviewHeight - OVERVIEW_AXIS_PX);
    ctx.fillRect(xb, OVERVIEW_AXIS_PX, width - xb, overviewHeight - OVERVIEW_AXIS_PX);
    ctx.fillStyle = pal.brush;
    ctx.fillRect(xa, OVERVIEW_AXIS_PX, Math.max(1, xb - xa), overviewHeight - OVERVIEW_AXIS_PX);
    ctx.strokeStyle = pal.accent;
    ctx.lineWidth = 1.5;
    ctx.strokeRect(xa + 0.75, OVERVIEW_AXIS_PX + 0.75, Math.max(1, xb - xa - 1.5), overviewHeight - OVERVIEW_AXIS_PX - 1.5);
  }

  // ---- the brush ----------------------------------------------------------------------------
  /** Is overview x `x` inside the brush (and the brush narrower than the whole view)? */
  function insideBrush(x) {
    const xa = vp.nsToOverviewX(vp.win[0]);
    const xb = vp.nsToOverviewX(vp.win[1]);
    return x >= xa && x <= xb && xb - xa < vp.width * 0.95;
  }
  let brush = null;
  tl.listen(overview, "pointerdown", (e) => {
    if (!state.trace || e.button !== 0) return;
    const [x] = tl.localXY(e, overview);
    brush = { x0: x, moved: false, mode: insideBrush(x) ? "move" : "select", win0: vp.win.slice() };
    if (overview.setPointerCapture) try { overview.setPointerCapture(e.pointerId); } catch (_e) { /* synthetic */ }
  });
  tl.listen(overview, "pointermove", (e) => {
    const [x] = tl.localXY(e, overview);
    if (!brush) {
      if (!state.trace) return;
      overview.style.cursor = insideBrush(x) ? "grab" : "crosshair";
      return;
    }
    if (!brush.moved && Math.abs(x - brush.x0) < DRAG_THRESHOLD_PX) return;
    brush.moved = true;
    if (brush.mode === "move") {
      const dt = (x - brush.x0) / vp.overviewPxPerNs();
      tl.setWin(brush.win0[0] + dt, brush.win0[1] + dt);
    } else {
      const a = vp.overviewXToNs(Math.min(x, brush.x0));
      const b = vp.overviewXToNs(Math.max(x, brush.x0));
      tl.setWin(a, b);
    }
  });
  const endBrush = (e) => {
    if (!brush) return;
    const b = brush;
    brush = null;
    if (!b.moved && e.type === "pointerup") {
      // A click centres the window on that time, keeping its width.
      const t = vp.overviewXToNs(b.x0);
      const w = vp.win[1] - vp.win[0];
      tl.setWin(t - w / 2, t + w / 2);
    }
  };
  tl.listen(overview, "pointerup", endBrush);
  tl.listen(overview, "pointercancel", endBrush);
  tl.listen(overview, "dblclick", () => tl.resetView());

  return {
    el: overview,
    layout,
    invalidate() {
      dirty = true;
    },
    draw,
  };
}

// ---- js/zoomview.js ----
// zoomview.js: the zoomed view (`canvas.fprofile-zoom`): the calls of the window, lane by lane
// (thread headers, task bands, one row per depth, labels on the boxes wide enough), with more
// than one process a header row per process (processrows.js) and a collapsed process as one
// compact summary lane, the hovered and selected calls outlined, a vertical scroll indicator.
// After each drawing: `data-drawn` = call boxes drawn, `data-bands` = band boxes drawn, and
// `data-process-headers` / `data-band-rows` / `data-lanes` = JSON of the header rows, band rows
// and lanes drawn (their zoom y; tests find them there). The lanes are the window's
// (state.zoomLanes: lanes.js windowLayout, without the threads that have nothing in the window).
// Hit testing (the call, band, thread or process header under a point) and the pointer: wheel
// zooms (pans with shift or a horizontal wheel), drag pans and scrolls, click selects (on a process header: collapses or expands it), double-click zooms
// to a call (to a process's span on its header), hover shows the tooltip. Layer 4 (canvas and
// pointer events).
//
// Spaces (viewport.js): zoom x <-> trace ns over vp.win; zoom y <-> content y (lanes.js
// layoutGroups, scrolled by vp.scrollY under the fixed time axis).


/** Calls at least this wide (CSS px) get a label. */
const LABEL_MIN_PX = 28;
/** `data-calls-drawn` lists the calls drawn as boxes of their own up to this many. */
const CALLS_DRAWN_MAX = 20000;

/**
 * tl: { doc, root, state, vp, tooltip, listen, localXY(e, target), schedule(), selectCall(c),
 *       zoomToCall(c), zoomBy(factor, atNs), panByPx(dx), scrollByPx(dy), setWin(a, b),
 *       toggleProcess(p) }.
 * Returns { el, draw(), refreshHover() (after the view moved under a still pointer), hitCall(x, y),
 *           pointerProcess() (the process under the pointer, or -1) }.
 */
export function createZoomView(tl) {
  const { doc, state, vp, tooltip } = tl;
  const zoom = doc.createElement("canvas");
  zoom.className = "fprofile-zoom";
  zoom.setAttribute("aria-label", "Zoomed view of the calls");
  zoom.style.height = `${vp.zoomHeight}px`;
  let charPx = 6.2; // average glyph width of the label font, measured at each drawing

  // ---- drawing ------------------------------------------------------------------------------
  function draw() {
    const W = vp.width;
    const H = vp.zoomHeight;
    const { trace, pal, colours, dark, batch } = state;
    const ctx = sizeCanvas(zoom, W, H);
    ctx.fillStyle = pal.bg;
    ctx.fillRect(0, 0, W, H);
    if (!trace) {
      zoom.setAttribute("data-drawn", "0");
      return;
    }
    const t0 = vp.win[0];
    const t1 = vp.win[1];
    const k = vp.zoomPxPerNs();
    const nsToX = (t) => vp.nsToZoomX(t);
    drawTimeAxis(ctx, pal, W, ZOOM_AXIS_PX, H, t0, t1, nsToX, 90, state.origin);
    const { calls, codes } = trace;
    const hl = highlightActive(state);
    const nCodes = codes.count;
    ctx.save();
    ctx.beginPath();
    ctx.rect(0, ZOOM_AXIS_PX, W, H - ZOOM_AXIS_PX);
    ctx.clip();
    ctx.font = pal.font;
    ctx.textBaseline = "middle";
    charPx = ctx.measureText("abcdefghijklmnopqrstuvwxyz_ABCDEFGH0123").width / 40 || 6.2;
    let boxes = 0;
    let bandBoxes = 0;
    // windowed mode (windowreply.js): runs of calls narrower than a pixel, hatched over their colour
    const runs = calls.runs || null;
    const runRects = [];
    // the calls drawn as boxes of their own, by their index in the whole trace (tests compare the
    // windowed and the whole-trace drawings with it; left out above CALLS_DRAWN_MAX)
    const drawnIds = [];
    const bandRows = [];
    const labels = [];
    const lanesDrawn = [];
    for (const lane of state.zoomLanes.lanes) {
      const ly = vp.contentYToZoomY(lane.top);
      if (ly > H || ly + lane.height < ZOOM_AXIS_PX) continue;
      lanesDrawn.push({ threads: lane.threads, y: Math.round(ly), h: lane.height });
      if (lane.kind === "summary") {
        boxes += drawSummaryLane(lane, ly, t0, t1, k, hl, nCodes);
        continue;
      }
      ctx.fillStyle = pal.laneBg;
      ctx.fillRect(0, ly, W, lane.headerPx);
      for (const t of lane.threads) {
        const th = trace.threads[t];
        if (th.lastNs < t0 || th.firstNs > t1) continue;
        const xa = Math.max(-2, nsToX(th.firstNs));
        const xb = Math.min(W + 2, nsToX(th.lastNs));
        ctx.fillStyle = threadColour(t, dark);
        ctx.fillRect(xa, ly + lane.headerPx - 5, Math.max(2, xb - xa), 3);
        ctx.fillStyle = pal.fg;
        ctx.font = pal.font;
        // The name may run past the thread's span up to the next thread of the lane (or the edge);
        // when it does not fit with its tid, the tid goes first.
        let next = W;
        for (const o of lane.threads) {
          if (o !== t && trace.threads[o].firstNs >= th.lastNs) next = Math.min(next, nsToX(trace.threads[o].firstNs));
        }
        const lx = Math.max(4, xa + 2);
        // a label cut short before the next thread's keeps two characters from it: two threads'
        // labels never read as one ("loade… writer")
        const room = Math.max(0, Math.max(xb, next) - lx - 4 - (next < W ? 2 * charPx : 0));
        const name = threadNameAt(th, Math.max(t0, th.firstNs));
        const label = th.osId ? `${name}  (tid ${th.osId})` : name;
        const text = label.length * charPx <= room ? label : fitLabel(name, room, charPx);
        if (text) ctx.fillText(text, lx, ly + 7);
      }
      if (lane.bandRows > 0) bandBoxes += drawBandRows(ctx, state, vp, lane, ly, charPx, bandRows);
      const rowPx = lane.rowPx;
      for (let d = 0; d < lane.rows; d++) {
        const y = ly + lane.callsTop + d * rowPx;
        if (y > H || y + rowPx < ZOOM_AXIS_PX) continue;
        for (const t of lane.threads) {
          const rows = state.index.threadRows[t];
          if (d >= rows.length) continue;
          boxes += forEachBox(rows[d], calls.start, calls.end, t0, t1, k, 1, (c, x0, x1, count) => {
            const code = calls.code[c];
            const a = Math.max(-1, x0);
            const b = Math.min(W + 1, x1);
            const w = b - a;
            batch.add(hl && !isHighlighted(state, code) ? code + nCodes : code, a, y, w > 3 ? w - 1 : w, rowPx - 1);
            if (runs && (count > 1 || runs[c] !== 1)) runRects.push(a, y, w > 3 ? w - 1 : w, rowPx - 1, count === 1 ? runs[c] : 0);
            else if (count === 1) {
              if (drawnIds.length <= CALLS_DRAWN_MAX) drawnIds.push(runs ? calls.call[c] : c);
              if (w >= LABEL_MIN_PX) labels.push(c, a, w, y, rowPx);
            }
          });
        }
      }
    }
    batch.fill(ctx, (key) => (key < nCodes ? colours.fill[key] : colours.faded[key - nCodes]));
    if (runRects.length) drawRuns(ctx, runRects);
    // Labels after the boxes: one font, fewer state changes.
    // Each label in the colour that reads best on its box (dark or light text).
    let labelColour = "";
    for (let i = 0; i < labels.length; i += 5) {
      const c = labels[i];
      const code = calls.code[c];
      if (hl && !isHighlighted(state, code)) continue;
      const text = fitLabel(codes.name[code], labels[i + 2] - 6, charPx);
      if (!text) continue;
      if (colours.text[code] !== labelColour) {
        labelColour = colours.text[code];
        ctx.fillStyle = labelColour;
      }
      ctx.fillText(text, labels[i + 1] + 3, labels[i + 3] + (labels[i + 4] - 1) / 2);
    }
    if (hl) {
      ctx.fillStyle = pal.muted;
      for (let i = 0; i < labels.length; i += 5) {
        const code = calls.code[labels[i]];
        if (isHighlighted(state, code)) continue;
        const text = fitLabel(codes.name[code], labels[i + 2] - 6, charPx);
        if (text) ctx.fillText(text, labels[i + 1] + 3, labels[i + 3] + (labels[i + 4] - 1) / 2);
      }
    }
    outlineCall(ctx, state.hoverCall, pal.fg, 1);
    outlineCall(ctx, state.selectedCall, pal.select, 2);
    const headers = drawProcessHeaders(ctx, H);
    ctx.restore();
    // Vertical scroll indicator.
    const ms = vp.maxScrollY();
    if (ms > 0) {
      const viewH = H - ZOOM_AXIS_PX;
      const barH = Math.max(20, viewH * viewH / (state.zoomLanes.height + 8));
      const barY = ZOOM_AXIS_PX + (viewH - barH) * (vp.scrollY / ms);
      ctx.fillStyle = dark ? "rgba(255,255,255,0.25)" : "rgba(0,0,0,0.22)";
      ctx.fillRect(W - 5, barY, 4, barH);
    }
    zoom.setAttribute("data-drawn", String(boxes));
    zoom.setAttribute("data-runs", String(runRects.length / 5));
    zoom.setAttribute("data-calls-drawn", drawnIds.length <= CALLS_DRAWN_MAX ? JSON.stringify(drawnIds) : "");
    zoom.setAttribute("data-bands", String(bandBoxes));
    zoom.setAttribute("data-process-headers", JSON.stringify(headers));
    zoom.setAttribute("data-band-rows", JSON.stringify(bandRows));
    zoom.setAttribute("data-lanes", JSON.stringify(lanesDrawn));
  }

  /** Runs (x, y, w, h, calls: 0 when several items merged) hatched so they read as "many calls here"; the count where it fits. */
  let hatch = null;
  function drawRuns(ctx, rects) {
    const { pal, dark } = state;
    if (!hatch || hatch.dark !== dark) {
      const tile = doc.createElement("canvas");
      tile.width = 6;
      tile.height = 6;
      const t = tile.getContext("2d");
      t.strokeStyle = dark ? "rgba(0,0,0,0.55)" : "rgba(255,255,255,0.7)";
      t.lineWidth = 1.5;
      t.beginPath();
      t.moveTo(-1, 7);
      t.lineTo(7, -1);
      t.stroke();
      hatch = { dark, pattern: ctx.createPattern(tile, "repeat") };
    }
    if (hatch.pattern) {
      ctx.fillStyle = hatch.pattern;
      for (let i = 0; i < rects.length; i += 5) ctx.fillRect(rects[i], rects[i + 1], rects[i + 2], rects[i + 3]);
    }
    ctx.fillStyle = pal.fg;
    for (let i = 0; i < rects.length; i += 5) {
      if (!rects[i + 4] || rects[i + 2] < LABEL_MIN_PX) continue;
      const text = fitLabel(`×${formatCount(rects[i + 4])}`, rects[i + 2] - 6, charPx);
      if (text) ctx.fillText(text, rects[i] + 3, rects[i + 1] + rects[i + 3] / 2);
    }
  }

  /** A collapsed process's summary lane at zoom y `ly`: its threads' first depths, compact, unlabelled. */
  function drawSummaryLane(lane, ly, t0, t1, k, hl, nCodes) {
    const { calls } = state.trace;
    const W = vp.width;
    let boxes = 0;
    for (let d = 0; d < lane.rows; d++) {
      const y = ly + d * lane.rowPx;
      for (const t of lane.threads) {
        const rows = state.index.threadRows[t];
        if (d >= rows.length) continue;
        boxes += forEachBox(rows[d], calls.start, calls.end, t0, t1, k, 1, (c, x0, x1) => {
          const code = calls.code[c];
          const a = Math.max(-1, x0);
          state.batch.add(hl && !isHighlighted(state, code) ? code + nCodes : code, a, y, Math.min(W + 1, x1) - a, lane.rowPx - 1);
        });
      }
    }
    return boxes;
  }

  /** The header rows of the visible processes (over the lanes' area); returns [{ process, y, collapsed }]. */
  function drawProcessHeaders(ctx, H) {
    const out = [];
    const { trace, pal } = state;
    for (const g of state.zoomLanes.groups) {
      if (!g.headerPx) continue;
      const y = vp.contentYToZoomY(g.top);
      if (y > H || y + g.headerPx < ZOOM_AXIS_PX) continue;
      const proc = state.processes[g.process];
      const parts = processHeaderParts(proc, g.collapsed, state.processThreads[g.process].length);
      drawProcessHeader(ctx, pal, proc, parts, y, g.headerPx, vp.width, (t) => vp.nsToZoomX(t), charPx);
      out.push({ process: g.process, y, h: g.headerPx, collapsed: g.collapsed });
    }
    if (trace && out.length) ctx.font = pal.font;
    return out;
  }

  /** Call `c`'s box in zoom x / zoom y, or null (no call, hidden thread). */
  function callRect(c) {
    const { trace } = state;
    if (c < 0 || !trace) return null;
    const t = trace.calls.thread[c];
    if (!state.visible[t]) return null;
    const lane = laneOfThread(state.zoomLanes, t);
    const depth = trace.calls.depth[c];
    if (!lane || depth >= lane.rows) return null;
    const y = vp.contentYToZoomY(lane.top + lane.callsTop + depth * lane.rowPx);
    const x0 = vp.nsToZoomX(trace.calls.start[c]);
    const x1 = Math.max(x0 + 1, vp.nsToZoomX(trace.calls.end[c]));
    return { x0, x1, y, h: lane.rowPx - 1 };
  }
  function outlineCall(ctx, c, colour, lw) {
    const r = callRect(c);
    if (!r || r.x1 < -2 || r.x0 > vp.width + 2) return;
    ctx.strokeStyle = colour;
    ctx.lineWidth = lw;
    const a = Math.max(-2, r.x0);
    const b = Math.min(vp.width + 2, r.x1);
    ctx.strokeRect(a + lw / 2, r.y + lw / 2, Math.max(1, b - a - lw), r.h - lw);
  }

  // ---- hit testing --------------------------------------------------------------------------
  /** What is at zoom y `y` (lanes.js hitLayout), or null. */
  function hitAt(y) {
    if (!state.trace || y < ZOOM_AXIS_PX) return null;
    return hitLayout(state.zoomLanes, vp.zoomYToContentY(y));
  }
  /** The band under zoom (x, y) (within 2 px along x), or -1. */
  function hitBandAt(x, y) {
    const hit = hitAt(y);
    if (!hit || hit.kind !== "band") return -1;
    return hitBand(state, hit.lane, hit.row, vp.zoomXToNs(x), 2 / vp.zoomPxPerNs());
  }
  /** The process whose header row is at zoom y `y`, or -1. */
  function hitProcessHeader(y) {
    const hit = hitAt(y);
    return hit && hit.kind === "process" ? hit.group.process : -1;
  }

  /** The call under zoom (x, y) (within 2 px along x), or -1. */
  function hitCall(x, y) {
    const { trace } = state;
    const hit = hitAt(y);
    if (!hit || hit.kind !== "calls") return -1;
    const { lane } = hit;
    const d = hit.depth;
    if (d < 0 || d >= lane.rows) return -1;
    const t = vp.zoomXToNs(x);
    const tol = 2 / vp.zoomPxPerNs();
    const { start, end } = trace.calls;
    let best = -1;
    let bestDist = Infinity;
    for (const ti of lane.threads) {
      const rows = state.index.threadRows[ti];
      if (d >= rows.length) continue;
      const row = rows[d];
      let kk = lowerBoundEnd(row, end, t - tol);
      for (; kk < row.length && start[row[kk]] <= t + tol; kk++) {
        const c = row[kk];
        const dist = t < start[c] ? start[c] - t : t > end[c] ? t - end[c] : 0;
        if (dist < bestDist) { best = c; bestDist = dist; }
        if (dist === 0) break;
      }
    }
    return best;
  }

  /** The thread whose span line / name is under zoom (x, y) in a lane header (within 40 px), or -1. */
  function hitThreadHeader(x, y) {
    const { trace } = state;
    const hit = hitAt(y);
    if (!hit || hit.kind !== "thread") return -1;
    const { lane } = hit;
    const t = vp.zoomXToNs(x);
    let best = -1;
    let bestDist = Infinity;
    for (const ti of lane.threads) {
      const th = trace.threads[ti];
      const dist = t < th.firstNs ? th.firstNs - t : t > th.lastNs ? t - th.lastNs : 0;
      if (dist < bestDist) { best = ti; bestDist = dist; }
    }
    return bestDist * vp.zoomPxPerNs() <= 40 ? best : -1;
  }

  // ---- pointer ------------------------------------------------------------------------------
  let drag = null;
  let pointer = null; // the pointer over the zoomed view (zoom x / y), null when elsewhere
  tl.listen(zoom, "wheel", (e) => {
    if (!state.trace) return;
    e.preventDefault();
    const unit = e.deltaMode === 1 ? 16 : e.deltaMode === 2 ? vp.zoomHeight : 1;
    const dx = e.deltaX * unit;
    const dy = e.deltaY * unit;
    if (e.shiftKey && Math.abs(dx) < Math.abs(dy)) {
      tl.panByPx(dy);
    } else if (Math.abs(dx) > Math.abs(dy)) {
      tl.panByPx(dx);
    } else {
      const [x] = tl.localXY(e, zoom);
      tl.zoomBy(Math.exp(-dy * 0.0015), vp.zoomXToNs(x));
    }
  }, { passive: false });
  tl.listen(zoom, "pointerdown", (e) => {
    if (!state.trace || e.button !== 0) return;
    const [x, y] = tl.localXY(e, zoom);
    drag = { x, y, lastX: x, lastY: y, moved: false, id: e.pointerId };
    if (zoom.setPointerCapture) try { zoom.setPointerCapture(e.pointerId); } catch (_e) { /* synthetic pointer */ }
  });
  tl.listen(zoom, "pointermove", (e) => {
    if (!state.trace) return;
    const [x, y] = tl.localXY(e, zoom);
    pointer = { x, y };
    if (drag) {
      if (!drag.moved && Math.hypot(x - drag.x, y - drag.y) >= DRAG_THRESHOLD_PX) {
        drag.moved = true;
        tooltip.hide();
        zoom.classList.add("fprofile-dragging");
      }
      if (drag.moved) {
        tl.panByPx(drag.lastX - x);
        tl.scrollByPx(drag.lastY - y);
        drag.lastX = x;
        drag.lastY = y;
      }
      return;
    }
    hoverAt(x, y);
  });
  /** Hover state and tooltip for the pointer at zoom (x, y). */
  function hoverAt(x, y) {
    const c = hitCall(x, y);
    if (c !== state.hoverCall) {
      state.hoverCall = c;
      zoom.style.cursor = c >= 0 ? "pointer" : "";
      tl.schedule();
    }
    if (c < 0) {
      const p = hitProcessHeader(y);
      zoom.style.cursor = p >= 0 ? "pointer" : "";
      if (p >= 0) {
        tooltip.showProcess(p, x, y);
        return;
      }
      const b = hitBandAt(x, y);
      if (b >= 0) {
        tooltip.showBand(b, x, y);
        return;
      }
      const t = hitThreadHeader(x, y);
      if (t >= 0) {
        tooltip.showThread(t, x, y);
        return;
      }
    }
    tooltip.showCall(c, x, y);
  }
  const endDrag = (e) => {
    if (!drag) return;
    const d = drag;
    drag = null;
    zoom.classList.remove("fprofile-dragging");
    if (!d.moved && e.type === "pointerup") {
      const [x, y] = tl.localXY(e, zoom);
      const p = hitProcessHeader(y);
      if (p >= 0) tl.toggleProcess(p);
      else tl.selectCall(hitCall(x, y));
      tl.root.focus({ preventScroll: true });
    }
  };
  tl.listen(zoom, "pointerup", endDrag);
  tl.listen(zoom, "pointercancel", endDrag);
  tl.listen(zoom, "pointerleave", () => {
    pointer = null;
    if (drag) return;
    tooltip.hide();
    if (state.hoverCall >= 0) {
      state.hoverCall = -1;
      tl.schedule();
    }
  });
  tl.listen(zoom, "dblclick", (e) => {
    if (!state.trace) return;
    const [x, y] = tl.localXY(e, zoom);
    const p = hitProcessHeader(y);
    if (p >= 0) {
      // The two clicks of a double-click toggled the process twice: the double-click zooms to its span.
      const proc = state.processes[p];
      if (proc.endNs > proc.startNs) tl.setWin(...vp.windowAround(proc.startNs, proc.endNs));
      return;
    }
    const c = hitCall(x, y);
    if (c >= 0) tl.zoomToCall(c);
    else tl.zoomBy(2, vp.zoomXToNs(x));
  });

  return {
    el: zoom,
    draw,
    hitCall,
    /** The process under the pointer (its header row or one of its lanes), or -1. */
    pointerProcess() {
      if (!pointer) return -1;
      const hit = hitAt(pointer.y);
      if (!hit) return -1;
      return hit.kind === "process" ? hit.group.process : hit.lane.process;
    },
    /** After the view moved under a still pointer (wheel zoom, keys, brush): what is under it now. */
    refreshHover() {
      if (pointer && !drag && state.trace) hoverAt(pointer.x, pointer.y);
    },
  };
}

// ---- js/flameview.js ----
// flameview.js: the flame graph view (`canvas.fprofile-flame`, shown instead of the zoomed view
// by its toggle, `button.fprofile-flame-toggle` or the key f) and the icicle drawing it shares with
// the comparison's differential flame graph (drawIcicle).
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
// A windowed page (timeline.js "windowed mode") does not hold every call: its host merges them
// (setRemote: a windowsource.js createFlameSource whose replies are flame.js columns, the core's
// encoding read back), drawn as a merged one; while the flame of the current scope and window is
// on its way the last one drawn stays, the canvas has `data-pending="1"` and the note says so. The
// callers and callees view is not offered then (the hosts have no encoding of it).


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
  const canvas = doc.createElement("canvas");
  canvas.className = "fprofile-flame";
  canvas.setAttribute("aria-label", "Flame graph: calls merged by call path");
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
    const items = [];
    const all = makeEl(doc, "button", "fprofile-flame-crumb", "All");
    all.type = "button";
    all.disabled = focus < 0;
    all.addEventListener("click", () => setFocus([]));
    items.push(all);
    const path = focus >= 0 ? flamePath(f, focus) : [];
    path.forEach((code, d) => {
      items.push(makeEl(doc, "span", "fprofile-muted", " › "));
      const b = makeEl(doc, "button", "fprofile-flame-crumb", state.trace.codes.name[code]);
      b.type = "button";
      b.disabled = d === path.length - 1;
      b.addEventListener("click", () => setFocus(path.slice(0, d + 1)));
      items.push(b);
    });
    crumbs.replaceChildren(...items);
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

// ---- js/diffview.js ----
// diffview.js: the differential flame graph of two runs (`fprofile_jupyter.compare(a, b)` in a
// notebook): the tree of `Comparison.flame_bytes()` (flame.js diffFlameFromBytes) as an icicle
// (flameview.js drawIcicle), widths by b's total time (or a's: the select), each box coloured by how
// much slower (red) or faster (blue) the path got from a to b, paths only in b ("new") and only in
// a ("gone": visible with a's widths) in their own colours. Hover: both sides' figures and the
// change; click: zoom into a path (the breadcrumb and Escape go back). Drawn from the notebook
// output alone by the JupyterLab / Notebook 7 extension (hosts/lab.js through hosts/widget.js).
// `canvas.fprofile-diff-flame` gets `data-drawn`, `data-nodes`, `data-focus` and, per colour class,
// the boxes drawn: `data-slower`, `data-faster`, `data-same`, `data-only-a`, `data-only-b`.
// Layer 4 (canvas, DOM, text only: names from the runs go through textContent and fillText).


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
  const canvas = doc.createElement("canvas");
  canvas.className = "fprofile-flame fprofile-diff-flame";
  canvas.setAttribute("aria-label", "Differential flame graph");
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
    const all = makeEl(doc, "button", "fprofile-flame-crumb", "All");
    all.type = "button";
    all.disabled = focusPath.length === 0;
    all.addEventListener("click", () => setFocus([]));
    const items = [all];
    focusPath.forEach((func, d) => {
      items.push(makeEl(doc, "span", "fprofile-muted", " › "));
      const b = makeEl(doc, "button", "fprofile-flame-crumb", String((p.functions[func] || ["?"])[0]));
      b.type = "button";
      b.disabled = d === focusPath.length - 1;
      b.addEventListener("click", () => setFocus(focusPath.slice(0, d + 1)));
      items.push(b);
    });
    crumbs.replaceChildren(...items);
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

// ---- js/timeline.js ----
// timeline.js: the timeline component: composes the views (overview.js with the brush,
// zoomview.js, tooltip.js, details.js, threads.js, search.js, table.js) around one shared state
// (state.js) and one viewport (viewport.js: the coordinate spaces), and owns what joins them: the
// toolbar and layout of the DOM, the view filters (filters.js applied to state.filter; the filter
// bar, filterbar.js), the window (setWin and the moves built on it), the selection,
// the theme, the size, the drawing schedule (one requestAnimationFrame), the keyboard, loading a
// trace and the API the hosts use. Layer 5: depends on every module below it. Hosts
// (js/hosts/widget.js, js/hosts/viewer.js, js/hosts/export.js) only call createTimeline.


/** The zoomed view's vertical sizes (lanes.js layoutGroups). */
const LANE_DIMS = Object.freeze({
  rowPx: ZOOM_ROW_PX, headerPx: ZOOM_HEADER_PX, gapPx: ZOOM_GAP_PX, procHeaderPx: ZOOM_PROC_HEADER_PX,
  bandPx: ZOOM_BAND_PX, summaryRowPx: ZOOM_SUMMARY_ROW_PX, summaryDepths: ZOOM_SUMMARY_DEPTHS,
});

/**
 * Create a timeline inside `container`.
 * options: { theme: "auto" | "light" | "dark", height: most height of the zoomed view in CSS px (default
 *            420; it is as tall as its lanes up to that, then scrolls vertically),
 *            limits: decode limits (see decode.js DECODE_LIMITS) }
 * Returns { root, setData(bytes, summary?) (summary: { overall: rows } as the hosts send it, or
 *           null: the page computes it), setWindowedData(args) (a trace the page does not hold
 *           whole: see below), setWindow(start_ns, end_ns), onWindowChange(cb),
 *           captureView() / restoreView(saved) (a live host reloading a growing trace keeps what the
 *           user set: keepview.js), showError(message), describe(), destroy() }.
 * setData never rejects: a bad or too-large trace shows its message in `.fprofile-error`; the
 * promise resolves to true when the trace is shown, false otherwise.
 */
export function createTimeline(container, options = {}) {
  const doc = container.ownerDocument || document;
  const win0 = doc.defaultView || window;
  const themeOpt = options.theme || "auto";
  const state = createTimelineState();
  const vp = new Viewport(options.height);
  let frame = 0;
  let destroyed = false;
  const windowCallbacks = [];
  const cleanups = [];

  const listen = (target, type, fn, opts) => {
    target.addEventListener(type, fn, opts);
    cleanups.push(() => target.removeEventListener(type, fn, opts));
  };
  const localXY = (e, target) => {
    const r = target.getBoundingClientRect();
    return [e.clientX - r.left, e.clientY - r.top];
  };

  // ---- DOM and views -----------------------------------------------------------------------
  const el = (tag, cls, text) => makeEl(doc, tag, cls, text);
  const root = el("div", "fprofile-root");
  root.tabIndex = 0;
  root.setAttribute("role", "application");
  root.setAttribute("aria-label", "fprofile timeline");
  // What the views may use of the timeline (their `tl`).
  const tl = {
    doc, win0, root, state, vp, listen, localXY, schedule, relayout, setWin, resetView, zoomBy, panByPx,
    scrollByPx, zoomToCall, selectCall, selectCode, toggleProcess, revealThread,
    addHidden, removeHidden, setMinNs, clearFilters,
    invalidateOverview: () => overview.invalidate(),
  };
  const tooltip = createTooltip(tl);
  tl.tooltip = tooltip;
  const overview = createOverview(tl);
  const zoomView = createZoomView(tl);
  const details = createDetails(tl);
  const threadList = createThreadList(tl);
  const search = createSearch(tl);
  const flame = createFlameView(tl);
  const filterBar = createFilterBar(tl);
  const table = createSummaryTable(doc, {
    colourOf: (c) => (state.colours && state.colours.fill[c]) || "transparent",
    onPick: (c) => { selectCode(c, true); },
    onMenu: (c, e) => rowMenu.show(c, e),
    fileText: (f) => shortPath(f, state.roots || []),
  });

  const toolbar = el("div", "fprofile-toolbar");
  const resetBtn = el("button", "fprofile-reset", "Reset zoom");
  resetBtn.type = "button";
  resetBtn.title = "Show the whole run (r)";
  const windowLabel = el("span", "fprofile-window-label");
  const idleLabel = el("span", "fprofile-idle-label fprofile-muted");
  idleLabel.title = "Threads with no call in the zoomed window take no room in the zoomed view; the overview and the thread list show them all";
  const help = el("span", "fprofile-help", "wheel: zoom · drag: pan · double-click: zoom to call · r / + / − / arrows · f: flame graph");
  const helpProcesses = " · click a process header or c: collapse / expand";
  toolbar.append(resetBtn, flame.button, search.input, search.regex, search.count, windowLabel, idleLabel, help);
  const windowedNote = el("div", "fprofile-windowed-note fprofile-muted");
  windowedNote.hidden = true;
  const errorBox = el("div", "fprofile-error");
  errorBox.setAttribute("role", "alert");
  errorBox.hidden = true;
  const main = el("div", "fprofile-main");
  const views = el("div", "fprofile-views");
  const zoomWrap = el("div", "fprofile-zoom-wrap");
  const placeholder = el("div", "fprofile-placeholder", "No trace loaded.");
  zoomWrap.append(zoomView.el, flame.el, tooltip.el, placeholder);
  views.append(overview.el, flame.bar, zoomWrap);
  const side = el("div", "fprofile-side");
  side.append(threadList.el, details.el);
  const sideResizer = createSideResizer(tl, main, side);
  main.append(views, sideResizer.el, side);
  const rowMenu = createRowMenu(tl);
  root.append(toolbar, windowedNote, filterBar.el, errorBox, main, table.el, rowMenu.el);
  container.append(root);
  table.el.hidden = true;
  side.hidden = true;

  // ---- theme -------------------------------------------------------------------------------
  function applyTheme() {
    state.dark = resolveDark(doc, themeOpt);
    root.classList.toggle("fprofile-dark", state.dark);
    root.classList.toggle("fprofile-light", !state.dark);
    state.pal = readPalette(root, state.dark);
    if (state.trace) {
      state.colours = codeColours(state.trace.codes, state.dark);
      state.bandColours = bandColours(state.bands.keys, state.dark);
    }
    overview.invalidate();
    schedule();
  }
  if (typeof MutationObserver === "function" && doc.body) {
    const mo = new MutationObserver(applyTheme);
    mo.observe(doc.body, { attributes: true, attributeFilter: ["data-jp-theme-light", "class"] });
    cleanups.push(() => mo.disconnect());
  }
  if (win0.matchMedia) {
    const mq = win0.matchMedia("(prefers-color-scheme: dark)");
    if (mq.addEventListener) {
      mq.addEventListener("change", applyTheme);
      cleanups.push(() => mq.removeEventListener("change", applyTheme));
    }
  }

  // ---- size --------------------------------------------------------------------------------
  function measure() {
    const w = Math.floor(views.clientWidth || container.clientWidth || 800);
    if (w !== vp.width && w > 0) {
      vp.width = w;
      overview.invalidate();
      schedule();
    }
  }
  if (typeof ResizeObserver === "function") {
    const ro = new ResizeObserver(measure);
    ro.observe(views);
    cleanups.push(() => ro.disconnect());
  } else {
    listen(win0, "resize", measure);
  }

  // ---- drawing -----------------------------------------------------------------------------
  function schedule() {
    if (frame || destroyed) return;
    frame = win0.requestAnimationFrame(() => {
      frame = 0;
      draw();
    });
  }
  function draw() {
    if (destroyed) return;
    if (!vp.width) measure();
    if (!vp.width) return;
    if (!state.pal) state.pal = readPalette(root, state.dark);
    overview.draw();
    zoomView.el.hidden = flame.shown();
    if (flame.shown()) flame.draw();
    else zoomView.draw();
  }
  /** The lanes of the visible threads, and the heights that follow from them. */
  function relayout() {
    const bandRows = state.bands.threadRows.map((r) => r.length);
    state.lanes = layoutGroups(state.trace, state.processes, state.visible, state.collapsed, bandRows, LANE_DIMS);
    if (state.visible.join() !== summaryVisible) refreshSummary();
    relayoutZoom();
    overview.layout();
    root.setAttribute("data-collapsed", state.collapsed.reduce((a, c, i) => (c ? a.concat(i) : a), []).join(","));
  }
  /**
   * How many of thread `t`'s depths have a call in the window (a call at depth d lies inside its
   * parent, so that is the deepest such depth + 1); 0 when only a band of it is there, -1 when
   * nothing. A binary search per depth and band row.
   */
  function threadRowsIn(t) {
    const [t0, t1] = vp.win;
    const { calls } = state.trace;
    const rows = state.index.threadRows[t];
    for (let d = rows.length - 1; d >= 0; d--) if (rowHasItemIn(rows[d], calls.start, calls.end, t0, t1)) return d + 1;
    for (const row of state.bands.threadRows[t]) if (rowHasItemIn(row, state.bands.start, state.bands.end, t0, t1)) return 0;
    return -1;
  }
  /**
   * The zoomed view's lanes for the window (lanes.js windowLayout: each lane as deep as its calls
   * in the window, the lanes empty in it left out), after the window or the lanes changed; the
   * lane at the top of the view stays there when it is still shown. Costs a binary search per
   * thread and depth, nothing per call.
   */
  function relayoutZoom() {
    if (!state.trace || !(vp.win[1] > vp.win[0])) {
      // a new trace, before its first window: every lane
      state.zoomLanes = { ...state.lanes, idle: 0 };
      vp.setContentHeight(state.zoomLanes.height, state.lanes.height);
    } else {
      // the lane at the top of the view (none when scrolled to the top: the view stays there)
      let anchor = null;
      for (const l of vp.scrollY > 0 ? state.zoomLanes.lanes : []) {
        if (l.top + l.height > vp.scrollY) { anchor = { thread: l.threads[0], dy: vp.scrollY - l.top }; break; }
      }
      state.zoomLanes = windowLayout(state.lanes, (lane) => lane.threads.reduce((r, t) => Math.max(r, threadRowsIn(t)), -1), LANE_DIMS.gapPx);
      vp.setContentHeight(state.zoomLanes.height, state.lanes.height);
      const lane = anchor && laneOfThread(state.zoomLanes, anchor.thread);
      if (lane) vp.scrollTo(lane.top + anchor.dy);
    }
    const { idle } = state.zoomLanes;
    const total = state.zoomLanes.lanes.length + idle;
    root.setAttribute("data-idle-lanes", String(idle));
    idleLabel.textContent = idle > 0 ? `${formatCount(total - idle)} of ${formatCount(total)} lanes have calls in this window` : "";
  }

  // ---- processes -----------------------------------------------------------------------------
  /** Collapse process `p` to its summary lane, or expand it (`collapse` undefined: toggle). */
  function toggleProcess(p, collapse) {
    if (!state.trace || state.processes.length < 2 || !(p >= 0 && p < state.processes.length)) return;
    state.collapsed[p] = (collapse === undefined ? !state.collapsed[p] : collapse) ? 1 : 0;
    relayout();
    threadList.sync();
    zoomView.refreshHover();
    schedule();
  }
  /** Key c: the process under the pointer, else the selected call's, else every process (all collapsed when any is expanded). */
  function toggleProcessKey() {
    if (state.processes.length < 2) return;
    let p = zoomView.pointerProcess();
    if (p < 0 && state.selectedCall >= 0) p = threadProcess(state.trace.threads[state.trace.calls.thread[state.selectedCall]], state.processes.length);
    if (p >= 0) {
      toggleProcess(p);
      return;
    }
    const collapse = state.collapsed.some((c) => c === 0);
    state.collapsed.fill(collapse ? 1 : 0);
    relayout();
    threadList.sync();
    schedule();
  }

  // ---- window ------------------------------------------------------------------------------
  function setWin(a, b, notify = true) {
    if (!state.trace) return;
    if (!vp.setWindow(a, b)) return;
    if (windowed) windowedView();
    relayoutZoom();
    const [s, e] = vp.win;
    root.setAttribute("data-window-start-ns", String(Math.round(s)));
    root.setAttribute("data-window-end-ns", String(Math.round(e)));
    windowLabel.textContent = formatWindow(s, e, state.origin);
    if (notify) for (const cb of windowCallbacks) cb(Math.round(s), Math.round(e));
    zoomView.refreshHover();
    schedule();
  }
  function resetView() {
    if (!state.trace) return;
    vp.scrollY = 0;
    setWin(vp.full[0], vp.full[1]);
    schedule();
  }
  function zoomBy(factor, atNs) {
    const [a, b] = vp.zoomedWindow(factor, atNs);
    setWin(a, b);
  }
  function panByPx(dx) {
    const [a, b] = vp.pannedWindow(dx);
    setWin(a, b);
  }
  function scrollByPx(dy) {
    if (vp.scrollTo(vp.scrollY + dy)) {
      zoomView.refreshHover();
      schedule();
    }
  }
  /** Zoom to call `c` and scroll its row into view. */
  function zoomToCall(c) {
    const { calls } = state.trace;
    const [a, b] = vp.windowAround(calls.start[c], calls.end[c]);
    setWin(a, b);
    revealCall(c);
  }
  /** Scroll the zoomed view vertically so that call `c`'s row is on screen (its lane's top too when both fit). */
  function revealCall(c) {
    const { calls } = state.trace;
    const lane = laneOfThread(state.zoomLanes, calls.thread[c]);
    if (!lane) return;
    const depth = Math.min(calls.depth[c], Math.max(0, lane.rows - 1));
    const rowTop = lane.top + lane.callsTop + depth * lane.rowPx;
    const viewH = vp.zoomHeight - ZOOM_AXIS_PX;
    const top = rowTop + lane.rowPx - lane.top <= viewH ? lane.top : rowTop;
    if (vp.scrollIntoView(top, rowTop + lane.rowPx)) {
      zoomView.refreshHover();
      schedule();
    }
  }
  /**
   * Bring thread `t` into the zoomed view (a click on its name in the thread list): show it if it
   * was hidden, move the window to its span if it has nothing in the window, and scroll its lane
   * into view.
   */
  function revealThread(t) {
    if (!state.trace || !(t >= 0 && t < state.trace.threads.length)) return;
    if (!state.visible[t]) {
      state.visible[t] = 1;
      relayout();
      threadList.sync();
    }
    if (threadRowsIn(t) < 0) {
      const th = state.trace.threads[t];
      setWin(...vp.windowAround(th.firstNs, th.lastNs));
    }
    const lane = laneOfThread(state.zoomLanes, t);
    if (!lane) return;
    const viewH = vp.zoomHeight - ZOOM_AXIS_PX;
    vp.scrollIntoView(lane.top, lane.top + Math.min(lane.height, viewH));
    root.setAttribute("data-revealed-thread", String(t));
    zoomView.refreshHover();
    schedule();
  }

  // ---- selection ---------------------------------------------------------------------------
  function selectCall(c) {
    if (c >= 0 && isRun(state.trace, c)) {
      // a run of calls narrower than a pixel (windowed mode): zoom to it, where they show one by one
      setWin(...vp.windowAround(state.trace.calls.start[c], state.trace.calls.end[c]));
      return;
    }
    state.selectedCall = c;
    state.selectedCode = c >= 0 ? state.trace.calls.code[c] : -1;
    table.setSelected(state.selectedCode);
    details.show(c);
    overview.invalidate();
    schedule();
  }
  /** Select function `code`: its longest call, so the details show a representative one. */
  function selectCode(code, zoomToFirst) {
    if (!state.trace) return;
    if (code < 0) {
      selectCall(-1);
      return;
    }
    const best = longestVisibleCall(state, (k) => k === code);
    if (best < 0) return;
    if (!zoomToFirst && isRun(state.trace, best)) {
      // windowed: its longest call drawn is a run of narrow calls: the function alone is selected
      // (selecting the run would zoom to it, and move the window of the flame graph clicked)
      selectCall(-1);
      state.selectedCode = code;
      table.setSelected(code);
      return;
    }
    selectCall(best);
    const { calls } = state.trace;
    if (!zoomToFirst) return;
    if (calls.end[best] < vp.win[0] || calls.start[best] > vp.win[1]) zoomToCall(best);
    else revealCall(best);
  }

  // ---- filters -----------------------------------------------------------------------------
  let hostOverall = null; // the summary rows the host sent (the Rust summary's: unfiltered)
  let summaryVisible = ""; // the threads shown when the table was last computed
  /** The table's rows for the threads shown and the calls kept (summaryscope.js shownSummary). */
  function refreshSummary() {
    summaryVisible = state.visible.join();
    const { summary, scope } = shownSummary(state, hostOverall, !!windowed);
    table.setSummary(summary, state.processes, scope);
  }
  /**
   * Apply state.filter: the kept calls and their self times (filters.js), the index every view
   * draws (the full one when nothing is filtered: no cost per call per frame then), the flame
   * graph's and the table's figures (with a filter on, the table is computed in the page over the
   * kept calls). O(calls) per filter change, nothing per frame.
   */
  function applyFilters() {
    const { trace } = state;
    state.filterGen++;
    if (trace) {
      const applied = applyFilter(trace, state.filter);
      state.kept = applied ? applied.kept : null;
      state.index = applied ? filteredIndex(state.fullIndex, applied) : state.fullIndex;
      refreshSummary();
      if (state.selectedCall >= 0 && state.kept && !state.kept[state.selectedCall]) selectCall(-1);
      else {
        table.setSelected(state.selectedCode);
        details.show(state.selectedCall);
      }
      search.apply();
      relayoutZoom();
      zoomView.refreshHover();
    }
    filterBar.sync();
    overview.invalidate();
    schedule();
  }
  /** Hide a function (value: its code), a file or a module (filters.js). */
  function addHidden(kind, value) {
    rowMenu.el.hidden = true;
    if (state.filter.hidden.some((h) => h.kind === kind && h.value === value)) return;
    state.filter.hidden.push({ kind, value });
    applyFilters();
  }
  function removeHidden(i) {
    state.filter.hidden.splice(i, 1);
    applyFilters();
  }
  function setMinNs(ns) {
    state.filter.minNs = ns > 0 ? ns : 0;
    applyFilters();
  }
  function clearFilters() {
    state.filter = { hidden: [], minNs: 0 };
    applyFilters();
  }

  // ---- errors ------------------------------------------------------------------------------
  function showError(message) {
    errorBox.textContent = message;
    errorBox.hidden = !message;
  }
  /** Forget the shown trace (after a failed load, so the page never shows one file's name over another's calls). */
  function clearTrace() {
    leaveWindowed();
    state.trace = null;
    state.index = null;
    state.fullIndex = null;
    state.kept = null;
    state.filter = { hidden: [], minNs: 0 };
    filterBar.sync();
    state.visible = new Uint8Array(0);
    state.lanes = { multi: false, groups: [], lanes: [], height: 0 };
    state.zoomLanes = { ...state.lanes, idle: 0 };
    idleLabel.textContent = "";
    state.processes = [];
    state.processThreads = [];
    state.collapsed = new Uint8Array(0);
    state.bands = null;
    state.origin = 0;
    state.selectedCall = -1;
    state.selectedCode = -1;
    state.hoverCall = -1;
    tooltip.hide();
    threadList.clear();
    flame.build();
    table.setSummary({ overall: [], threads: [] }, []);
    table.el.hidden = true;
    side.hidden = true;
    details.show(-1);
    windowLabel.textContent = "";
    root.removeAttribute("data-window-start-ns");
    root.removeAttribute("data-window-end-ns");
    root.setAttribute("data-calls", "0");
    placeholder.textContent = "No trace shown.";
    placeholder.hidden = false;
    overview.invalidate();
    schedule();
  }

  // ---- toolbar, keyboard -------------------------------------------------------------------
  listen(resetBtn, "click", () => resetView());
  listen(root, "keydown", (e) => {
    if (!state.trace || e.altKey || e.ctrlKey || e.metaKey) return;
    const tag = e.target && e.target.tagName;
    if (tag === "INPUT" || tag === "SELECT" || tag === "TEXTAREA") return;
    if ((!windowed || windowed.flame) && flame.onKey(e.key)) {
      e.preventDefault();
      return;
    }
    let handled = true;
    switch (e.key) {
      case "r": case "R": resetView(); break;
      case "+": case "=": zoomBy(1.5); break;
      case "-": case "_": zoomBy(1 / 1.5); break;
      case "ArrowLeft": panByPx(-vp.width * 0.1); break;
      case "ArrowRight": panByPx(vp.width * 0.1); break;
      case "ArrowUp": scrollByPx(-ZOOM_ROW_PX * 2); break;
      case "ArrowDown": scrollByPx(ZOOM_ROW_PX * 2); break;
      case "Escape": selectCall(-1); break;
      case "c": case "C": toggleProcessKey(); break;
      default: handled = false;
    }
    if (handled) e.preventDefault();
  });

  // ---- data --------------------------------------------------------------------------------
  async function setData(bytes, summary = null) {
    showError("");
    placeholder.textContent = "Loading…";
    placeholder.hidden = false;
    let decoded;
    try {
      decoded = await decodeFpt(bytes, options.limits || {});
    } catch (e) {
      const what = e instanceof FptError ? `This is not a valid fprofile trace: ${e.message}`
        : e instanceof TraceTooLargeError ? e.message
        : `Could not read the trace: ${e && e.message ? e.message : e}`;
      clearTrace();
      let message = what;
      if (e instanceof TraceTooLargeError && summary && Array.isArray(summary.overall)) {
        // The per-function summary (computed where the trace was made) still fits: show it.
        table.el.hidden = false;
        table.setSummary(summary, []);
        message += " The per-function summary below covers the whole trace.";
      }
      showError(message);
      return false;
    }
    if (destroyed) return false;
    leaveWindowed();
    install(decoded, summary, bytes.byteLength !== undefined ? bytes.byteLength : 0);
    return true;
  }

  /** Show `trace` (decoded): every view set up for it. `summary`: the host's overall rows or null. */
  function install(trace, summary, bytesLen) {
    tooltip.hide();
    state.trace = trace;
    state.fullIndex = buildIndex(trace);
    state.index = state.fullIndex;
    state.kept = null;
    state.filter = { hidden: [], minNs: 0 }; // a function's code means nothing in another trace
    state.batch = new BoxBatch(2 * trace.codes.count);
    state.colours = codeColours(trace.codes, state.dark);
    state.roots = pathRoots(trace.metadata);
    state.visible = new Uint8Array(trace.threads.length).fill(1);
    state.processes = traceProcesses(trace);
    state.processThreads = state.processes.map(() => []);
    for (const th of trace.threads) state.processThreads[threadProcess(th, state.processes.length)].push(th.index);
    state.collapsed = new Uint8Array(state.processes.length);
    state.bands = buildBandIndex(trace);
    state.bandBatch = new BoxBatch(Math.max(1, 2 * state.bands.keys.length));
    state.bandColours = bandColours(state.bands.keys, state.dark);
    state.selectedCall = -1;
    state.selectedCode = -1;
    state.hoverCall = -1;
    vp.scrollY = 0;
    const full = fullRange(trace);
    vp.setFull(full[0], full[1]);
    state.origin = displayOrigin(trace);
    relayout();
    setWin(full[0], full[1], false);
    threadList.build();
    flame.build();
    table.el.hidden = false;
    side.hidden = false;
    // Hosts send the overall rows only (also shown for a trace too large to decode, above): the
    // per-process and per-thread ones are the page's (layout.js computeSummary, the Rust
    // summary's rules), computed when first shown.
    hostOverall = summary && Array.isArray(summary.overall) ? summary.overall : null;
    refreshSummary();
    filterBar.sync();
    help.textContent = help.textContent.split(helpProcesses)[0] + (state.processes.length > 1 ? helpProcesses : "");
    search.apply();
    details.show(-1);
    const callCount = windowed ? windowed.calls : trace.calls.count;
    placeholder.textContent = callCount === 0 ? "This trace has no calls." : "";
    placeholder.hidden = callCount !== 0;
    root.setAttribute("data-calls", String(callCount));
    root.setAttribute("data-threads", String(trace.threads.length));
    root.setAttribute("data-processes", String(state.processes.length));
    root.title = "";
    root.dataset.payloadBytes = String(bytesLen);
    applyTheme();
    measure();
    schedule();
  }


  // ---- windowed mode -----------------------------------------------------------------------
  // A trace too large to send whole: the page holds its skeleton (an .fpt without calls), the
  // overview (a window reply over the whole run, computed once) and the window replies the host
  // fetches (windowsource.js decides which); state.trace is the skeleton composed with the reply
  // that covers the view best (windowreply.js), swapped when a better one arrives.
  let windowed = null; // { skeleton, depths, calls, source, reply (drawn), live, flame (the host's flame graphs, or null) }
  /** The view moved: ask for it (when a host can answer) and draw the best reply held. */
  function windowedView() {
    const [a, b] = vp.win;
    const w = vp.width || 800;
    if (windowed.source && windowed.live) windowed.source.want(a, b, w);
    const best = windowed.source.best(a, b, w);
    windowStats();
    if (!best || best === windowed.reply) return;
    if (best.bytes && !best.count && best.count !== 0) {
      // a pinned tile not decoded yet (an HTML export's pyramid): decoded once, then drawn if still the best
      const w0 = windowed;
      if (best.pending) return;
      best.pending = decodeWindowReply(best.bytes, w0.skeleton.threads.length, w0.skeleton.codes.count).then((r) => {
        Object.assign(best, r);
        delete best.bytes;
        if (windowed === w0) windowedView();
      }).catch((e) => showError(`A part of this trace is damaged: ${e && e.message ? e.message : e}`));
      return;
    }
    showReply(best);
  }
  /** Draw `reply` (a decoded window reply): the views' trace and index swapped, the selection kept. */
  function showReply(reply) {
    const prev = state.trace;
    const selected = prev && state.selectedCall >= 0 && prev.calls.call ? prev.calls.call[state.selectedCall] : -1;
    windowed.reply = reply;
    const trace = composeWindowTrace(windowed.skeleton, reply, windowed.depths);
    state.trace = trace;
    state.fullIndex = buildIndex(trace);
    state.index = state.fullIndex;
    state.hoverCall = -1;
    state.selectedCall = selected >= 0 ? trace.calls.call.indexOf(selected) : -1;
    if (state.selectedCall >= 0 && trace.calls.runs[state.selectedCall] !== 1) state.selectedCall = -1;
    root.setAttribute("data-window-reply", `${reply.t0},${reply.t1},${reply.px}`);
    relayoutZoom();
    zoomView.refreshHover();
    schedule();
  }
  /** The source's counts on the root (tests wait on them): requests sent, replies taken, stale ones dropped. */
  function windowStats() {
    const { stats } = windowed.source;
    root.dataset.windowSent = String(stats.sent);
    root.dataset.windowReceived = String(stats.received);
    root.dataset.windowStale = String(stats.stale);
  }
  function leaveWindowed() {
    if (!windowed) return;
    windowed = null;
    state.overviewTrace = null;
    state.overviewIndex = null;
    windowedNote.hidden = true;
    flame.setRemote(null);
    flame.button.hidden = false;
    filterBar.el.hidden = false;
    state.searchCallRows = null;
    search.input.hidden = false;
    search.regex.hidden = false;
    search.count.hidden = false;
    root.removeAttribute("data-windowed");
    root.removeAttribute("data-window-reply");
  }
  /**
   * Show a trace the page does not hold whole. args: { skeleton (.fpt bytes: the trace without its
   * calls), overview (window reply bytes over the whole run), calls (how many calls the trace
   * has), summary ({ overall } or null), last (optional: reply bytes of the last view, drawn
   * first), window ([t0, t1] of that view, optional), request (id, t0, t1, px) => void: ask the
   * host for a window, its answer going to receive(); null: nothing can be fetched (a saved
   * notebook without its kernel), offline (the message saying so), elsewhere (where the views
   * that need every call can be had instead), tiles ([[t0, t1, px, reply bytes], ...]: replies kept
   * for ever and decoded when first drawn: an HTML export's pyramid), requestFlame (optional, live
   * hosts: (id, threads, win) => void: ask the host for the flame graph of those thread indices
   * over win ([t0, t1] or null: the whole run), its answer going to receiveFlame(); without it the
   * flame graph is not offered), host (the host's name in notes, "kernel" or "viewer") }.
   * Resolves to { receive(id, bytes) -> Promise<boolean> (false: stale or bad, dropped), fail(id),
   * receiveFlame(id, bytes) -> boolean (the core's flame encoding; false: stale, dropped),
   * failFlame(id, message), stats, flameStats } or null when it could not be shown (the error is shown).
   */
  async function setWindowedData(args) {
    showError("");
    placeholder.textContent = "Loading…";
    placeholder.hidden = false;
    let skeleton;
    let overview;
    let last = null;
    try {
      skeleton = await decodeFpt(args.skeleton, options.limits || {});
      overview = await decodeWindowReply(args.overview, skeleton.threads.length, skeleton.codes.count);
      if (args.last) last = await decodeWindowReply(args.last, skeleton.threads.length, skeleton.codes.count);
    } catch (e) {
      clearTrace();
      showError(`Could not read the trace: ${e && e.message ? e.message : e}`);
      return null;
    }
    if (destroyed) return null;
    const live = typeof args.request === "function";
    const source = createWindowSource(live ? args.request : () => {});
    source.setOverview(overview);
    if (last) source.add(last);
    if (Array.isArray(args.tiles)) source.pin(args.tiles.map(([t0, t1, px, bytes]) => ({ t0, t1, px, bytes })));
    const flameSource = live && typeof args.requestFlame === "function" ? createFlameSource(args.requestFlame) : null;
    if (flameSource) flameSource.where = args.host || "host";
    windowed = { skeleton, depths: replyDepths(overview, skeleton.threads.length), calls: Number(args.calls) || 0, source, reply: null, live, flame: flameSource };
    const overviewTrace = composeWindowTrace(skeleton, overview, windowed.depths);
    state.overviewTrace = overviewTrace;
    state.overviewIndex = buildIndex(overviewTrace);
    windowed.reply = overview;
    // the search highlights functions (the skeleton has them all); its count of calls comes from
    // the host's summary rows (every call), not from the window held
    const rows = live && args.summary && Array.isArray(args.summary.overall) ? args.summary.overall : null;
    state.searchCallRows = rows;
    install(overviewTrace, args.summary || null, 0);
    root.dataset.payloadBytes = String(args.skeleton.byteLength + args.overview.byteLength);
    flame.setRemote(flameSource);
    if (!flameSource && flame.shown()) flame.toggle(false);
    flame.button.hidden = !flameSource;
    filterBar.el.hidden = true;
    search.input.hidden = !rows;
    search.regex.hidden = !rows;
    search.count.hidden = !rows;
    root.setAttribute("data-windowed", live ? "live" : "offline");
    windowedNote.textContent = live
      ? `${formatCount(windowed.calls)} calls: more than this page holds at once, so it fetches what the view shows at its resolution ` +
        "(narrow calls merged and hatched: hover for their count, zoom in to see them). " +
        (flameSource ? `The flame graph (f) is merged by the ${flameSource.where}${rows ? " and the search counts every call" : ""}; callers and callees, ` +
          `${rows ? "" : "search, "}filters and the ` : `The flame graph, ${rows ? "" : "search, "}filters and the `) +
        `per-thread summary need every call: ${args.elsewhere || (flameSource ? "use trace.callers(), trace.callees(), trace.summary() in Python"
          : "use trace.flame(), trace.summary() in Python")}.`
      : (args.offline || "Zooming needs the kernel: this saved view shows the overview and the last window it had. " +
        "Run the cell again to browse the trace.");
    windowedNote.hidden = false;
    if (Array.isArray(args.window) && args.window[1] > args.window[0]) setWin(args.window[0], args.window[1], false);
    else if (last) setWin(last.t0, last.t1, false);
    windowedView();
    return {
      stats: source.stats,
      /** A reply from the host for request `id`. */
      async receive(id, bytes) {
        if (!windowed || windowed.source !== source) return false;
        let reply;
        try {
          reply = await decodeWindowReply(bytes, skeleton.threads.length, skeleton.codes.count);
        } catch (e) {
          source.fail(id);
          showError(`A window of the trace could not be read: ${e && e.message ? e.message : e}`);
          return false;
        }
        if (!windowed || windowed.source !== source) return false;
        const fresh = source.receive(id, reply);
        if (fresh) windowedView();
        else windowStats();
        return fresh;
      },
      /** The request `id` failed (`message` shown). */
      fail(id, message) {
        if (message) showError(message);
        if (windowed && windowed.source === source) source.fail(id);
      },
      flameStats: flameSource ? flameSource.stats : null,
      /** The host's flame graph for request `id` (the core's encoding). */
      receiveFlame(id, bytes) {
        if (!flameSource || !windowed || windowed.flame !== flameSource) return false;
        if (!flameSource.receive(id, flameFromBytes(bytes))) return false;
        schedule();
        return true;
      },
      /** The flame request `id` failed (`message` shown). */
      failFlame(id, message) {
        if (!flameSource || !windowed || windowed.flame !== flameSource) return;
        if (flameSource.fail(id) && message) showError(message);
        schedule();
      },
    };
  }

  applyTheme();
  measure();
  schedule();

  return {
    root,
    setData,
    setWindowedData,
    setWindow(start_ns, end_ns) {
      if (Number.isFinite(start_ns) && Number.isFinite(end_ns) && end_ns > start_ns) setWin(start_ns, end_ns, false);
    },
    onWindowChange(cb) {
      if (typeof cb === "function") windowCallbacks.push(cb);
    },
    /** What the user set (hidden threads, collapsed processes, scroll, selection): for restoreView. */
    captureView: () => captureView(state, vp.scrollY),
    /** Carry captureView's result to the trace shown now (a new version of the same growing trace). */
    restoreView(saved) {
      if (!state.trace || !saved) return;
      const r = restoreView(state, saved);
      relayout();
      threadList.sync();
      vp.scrollTo(r.scrollY);
      if (r.call >= 0) selectCall(r.call);
      else if (r.code >= 0) {
        state.selectedCode = r.code;
        table.setSelected(r.code);
      }
      schedule();
    },
    showError(message) {
      if (message) clearTrace();
      showError(message);
    },
    /** A short text description of the loaded trace (for hosts' status lines). */
    describe() {
      const { trace } = state;
      if (!trace) return "";
      const np = state.processes.length;
      return `${formatCount(windowed ? windowed.calls : trace.calls.count)} calls${windowed ? " (windowed)" : ""} · ${np > 1 ? `${np} processes · ` : ""}${trace.threads.length} thread${trace.threads.length === 1 ? "" : "s"} · ` +
        `${formatDuration(trace.endNs - trace.startNs)} · ${formatBytes(Number(root.dataset.payloadBytes || 0))}`;
    },
    destroy() {
      destroyed = true;
      if (frame) win0.cancelAnimationFrame(frame);
      for (const f of cleanups) f();
      root.remove();
    },
  };
}

// ---- js/hosts/widget.js ----
// @ts-check
// hosts/widget.js: the anywidget host of the timeline (owner: the notebook part).
//
// Top-level names here are prefixed (widget*) so they cannot clash with the timeline modules'.
// The bundler appends this file to the timeline modules for host "widget" (see js/README and
// rust/core/src/assets.rs) and drops the import below, as for every module. The bundle is handed
// to anywidget as `TimelineWidget._esm`.
//
// The model mirrors the traits of python/fprofile_jupyter/_widget.py (TimelineWidget):
/**
 * @typedef {Object} TimelineModel
 * @property {DataView} data              the trace in the compact .fpt format (a bytes trait)
 * @property {string} summary             the per-function summary, JSON ("" when absent)
 * @property {string} error               when non-empty: shown instead of the timeline
 * @property {number} height              timeline height in CSS px (0: the timeline's default)
 * @property {number|null} window_start_ns  the zoomed window (ns from the trace's origin)
 * @property {number|null} window_end_ns
 * @property {boolean} windowed          a trace too large to send whole: windows are fetched
 * @property {DataView} skeleton          windowed: the trace without its calls (.fpt)
 * @property {DataView} overview          windowed: the whole run as a window reply
 * @property {number} calls               windowed: how many calls the trace holds
 * @property {string} trace_id            windowed: ties the live view to the notebook's saved copy
 * @property {string} [offline]           windowed, no kernel (hosts/lab.js): why zooming is limited
 * @property {DataView | null} [last]     windowed, no kernel (or live): the last window's reply
 * @property {boolean} [live]             live updates pushed from the kernel (python/fprofile_jupyter/_livewidget.py)
 */


/** Debounce of the window sent back to Python (ms): dragging sends one update, not hundreds. */
const WIDGET_WINDOW_SYNC_MS = 250;
/** Windowed mode: a request the kernel has not answered in this long is given up (the kernel is
 * busy running a cell, or gone); the view keeps the replies it has and asks again when it moves. */
const WIDGET_WINDOW_TIMEOUT_MS = 20_000;

/**
 * @param {HTMLElement} el
 * @param {string} message
 */
function widgetShowError(el, message) {
  const wrap = document.createElement("div");
  wrap.className = "fprofile-root fprofile-message"; // the timeline's theme variables apply
  const box = document.createElement("div");
  box.className = "fprofile-error";
  box.setAttribute("role", "alert");
  box.textContent = message; // text only: the message may contain names from the trace
  wrap.appendChild(box);
  el.appendChild(wrap);
  return wrap;
}

/** @param {string} text */
function widgetParseSummary(text) {
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch (_e) {
    return null;
  }
}

/** A bytes trait that may be empty (b"" in Python): null then. */
function widgetNonEmpty(/** @type {DataView | null | undefined} */ v) {
  return v && v.byteLength > 0 ? v : null;
}

/**
 * @param {unknown} value
 * @returns {number | null}
 */
function widgetAsNs(value) {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

/** @type {import("@anywidget/types").Render<TimelineModel>} */
function renderWidget({ model, el }) {
  el.classList.add("fprofile-widget");
  /** @type {ReturnType<typeof createTimeline> | null} */
  let timeline = null;
  /** @type {HTMLElement | null} */
  let errorBox = null;
  /** @type {ReturnType<typeof setTimeout> | null} */
  let syncTimer = null;
  let destroyed = false;
  let generation = 0; // a newer draw() makes older pending setData results stale
  let firstDraw = true;
  /** the window last sent to / received from Python, to not echo it back */
  let syncedStart = widgetAsNs(model.get("window_start_ns"));
  let syncedEnd = widgetAsNs(model.get("window_end_ns"));
  /** windowed mode: the timeline's handle for replies, and the timers of the requests in flight */
  /** @type {{receive: (id: number, bytes: DataView | ArrayBuffer) => Promise<boolean>, fail: (id: number, message?: string) => void,
   *   receiveFlame: (id: number, bytes: DataView | ArrayBuffer) => boolean, failFlame: (id: number, message?: string) => void} | null} */
  let windowHandle = null;
  /** @type {Map<number, ReturnType<typeof setTimeout>>} */
  const windowTimers = new Map();
  /** the flame requests' timers (their ids are counted apart from the windows') */
  /** @type {Map<number, ReturnType<typeof setTimeout>>} */
  const flameTimers = new Map();
  /**
   * A custom message from the kernel: a window reply or a flame graph (its bytes in buffers[0]),
   * or why there is none.
   * @param {any} msg
   * @param {(DataView | ArrayBuffer)[]} [buffers]
   */
  function onCustom(msg, buffers) {
    if (!msg || typeof msg !== "object" || !windowHandle) return;
    const id = Number(msg.id);
    const isFlame = msg.type === "flame" || msg.type === "flame-error";
    const timers = isFlame ? flameTimers : windowTimers;
    const timer = timers.get(id);
    if (timer !== undefined) clearTimeout(timer);
    timers.delete(id);
    if (msg.type === "window" && buffers && buffers[0]) void windowHandle.receive(id, buffers[0]);
    else if (msg.type === "window-error") windowHandle.fail(id, String(msg.message || "the kernel could not answer"));
    else if (msg.type === "flame" && buffers && buffers[0]) windowHandle.receiveFlame(id, buffers[0]);
    else if (msg.type === "flame-error") windowHandle.failFlame(id, String(msg.message || "the kernel could not answer"));
  }

  function teardown() {
    for (const timer of windowTimers.values()) clearTimeout(timer);
    windowTimers.clear();
    for (const timer of flameTimers.values()) clearTimeout(timer);
    flameTimers.clear();
    windowHandle = null;
    if (syncTimer !== null) clearTimeout(syncTimer);
    syncTimer = null;
    if (timeline) timeline.destroy();
    timeline = null;
    if (errorBox) errorBox.remove();
    errorBox = null;
    el.replaceChildren();
  }

  /** @param {number} startNs @param {number} endNs */
  function onWindow(startNs, endNs) {
    if (syncTimer !== null) clearTimeout(syncTimer);
    syncTimer = setTimeout(() => {
      syncTimer = null;
      if (destroyed) return;
      const s = Math.round(startNs);
      const e = Math.round(endNs);
      if (s === syncedStart && e === syncedEnd) return;
      syncedStart = s;
      syncedEnd = e;
      model.set("window_start_ns", s);
      model.set("window_end_ns", e);
      model.save_changes();
    }, WIDGET_WINDOW_SYNC_MS);
  }

  async function draw() {
    const mine = ++generation;
    // a live update redraws the same growing trace: keep what the user set on it (keepview.js)
    const kept = model.get("live") === true && timeline && typeof timeline.captureView === "function" ? timeline.captureView() : null;
    teardown();
    const height = model.get("height");
    /** @type {{theme: "auto", height?: number}} */
    const options = { theme: "auto" };
    if (height > 0) options.height = height;
    const message = model.get("error");
    const data = model.get("data");
    const windowed = model.get("windowed") === true;
    const empty = windowed ? !model.get("skeleton") || !model.get("overview") : !data || data.byteLength === 0;
    if (message || empty) {
      const text = message || ("fprofile: this widget has no trace data (nothing was recorded, or the "
        + "notebook was saved without its widget state).");
      errorBox = widgetShowError(el, text);
      return;
    }
    const t = createTimeline(el, options);
    timeline = t;
    let shown = false;
    if (windowed) {
      const offline = model.get("offline");
      const handle = await t.setWindowedData({
        skeleton: model.get("skeleton"),
        overview: model.get("overview"),
        last: widgetNonEmpty(model.get("last")), // the trait is empty bytes unless live
        calls: model.get("calls"),
        summary: widgetParseSummary(model.get("summary")),
        window: firstDraw ? [widgetAsNs(model.get("window_start_ns")), widgetAsNs(model.get("window_end_ns"))] : null,
        offline: offline || undefined,
        request: offline ? null : (/** @type {number} */ id, /** @type {number} */ t0, /** @type {number} */ t1, /** @type {number} */ px) => {
          model.send({ type: "window", id, t0, t1, px });
          windowTimers.set(id, setTimeout(() => {
            windowTimers.delete(id);
            if (windowHandle) windowHandle.fail(id, "The kernel has not answered for a while (busy running a cell, or stopped): " +
              "the view shows what it has and asks again when you zoom or pan.");
          }, WIDGET_WINDOW_TIMEOUT_MS));
        },
        host: "kernel",
        requestFlame: offline ? undefined : (/** @type {number} */ id, /** @type {number[]} */ threads, /** @type {number[] | null} */ win) => {
          model.send({ type: "flame", id, threads, t0: win ? win[0] : null, t1: win ? win[1] : null });
          flameTimers.set(id, setTimeout(() => {
            flameTimers.delete(id);
            if (windowHandle) windowHandle.failFlame(id, "The kernel has not answered for a while (busy running a cell, or stopped): " +
              "the flame graph is asked for again when you change the window or the threads.");
          }, WIDGET_WINDOW_TIMEOUT_MS));
        },
      });
      if (!handle || destroyed || mine !== generation) return;
      windowHandle = handle;
      shown = true;
      const traceId = model.get("trace_id");
      if (traceId && !offline) t.root.dataset.traceId = traceId;
    } else {
      try {
        // resolves to false (and shows why in the timeline) for a bad or too large trace
        shown = await t.setData(data, widgetParseSummary(model.get("summary")));
      } catch (err) {
        if (destroyed || mine !== generation) return;
        const why = err instanceof Error ? err.message : String(err);
        const text = `fprofile: cannot show this trace (${data.byteLength.toLocaleString("en")} bytes): ${why}`;
        if (typeof t.showError === "function") t.showError(text);
        else errorBox = widgetShowError(el, text);
        return;
      }
    }
    if (!shown || destroyed || mine !== generation) return;
    if (kept) t.restoreView(kept);
    // a one-line description above the toolbar: calls, threads, duration, payload
    if (t.root && typeof t.describe === "function") {
      const status = document.createElement("div");
      status.className = "fprofile-widget-status fprofile-muted";
      status.style.cssText = "font-size: 11px; margin: 0 0 4px 2px;";
      const live = model.get("live") === true;
      status.textContent = `fprofile · ${live ? "● live · " : ""}${t.describe()}`;
      t.root.dataset.live = live ? "live" : "";
      t.root.prepend(status);
    }
    // the saved (or Python-set) window applies to the trace it was made on: the first drawing
    // of this view; new data starts from the whole run
    if (firstDraw && !windowed) {
      const s = widgetAsNs(model.get("window_start_ns"));
      const e = widgetAsNs(model.get("window_end_ns"));
      if (s !== null && e !== null && e > s) t.setWindow(s, e);
    }
    firstDraw = false;
    t.onWindowChange(onWindow);
  }

  let drawQueued = false; // data and summary change together: draw once
  const onData = () => {
    if (drawQueued) return;
    drawQueued = true;
    queueMicrotask(() => {
      drawQueued = false;
      if (!destroyed) void draw();
    });
  };
  const onWindowFromPython = () => {
    const s = widgetAsNs(model.get("window_start_ns"));
    const e = widgetAsNs(model.get("window_end_ns"));
    if (s === syncedStart && e === syncedEnd) return;
    syncedStart = s;
    syncedEnd = e;
    if (timeline && s !== null && e !== null && e > s) timeline.setWindow(s, e);
  };

  model.on("change:data", onData);
  model.on("change:summary", onData);
  model.on("change:error", onData);
  model.on("change:height", onData);
  model.on("change:window_start_ns", onWindowFromPython);
  model.on("change:window_end_ns", onWindowFromPython);
  model.on("change:windowed", onData);
  model.on("change:overview", onData);
  model.on("msg:custom", onCustom);
  void draw();

  return () => {
    destroyed = true;
    model.off("change:data", onData);
    model.off("change:summary", onData);
    model.off("change:error", onData);
    model.off("change:height", onData);
    model.off("change:window_start_ns", onWindowFromPython);
    model.off("change:window_end_ns", onWindowFromPython);
    model.off("change:windowed", onData);
    model.off("change:overview", onData);
    model.off("msg:custom", onCustom);
    teardown();
  };
}

/**
 * The differential flame graph of a comparison output (python/fprofile_jupyter/_display.py,
 * comparison_output), for the JupyterLab / Notebook 7 extension (hosts/lab.js).
 * @param {{payload: unknown, el: HTMLElement}} args
 * @returns {() => void} the cleanup
 */
function renderComparison({ payload, el }) {
  const view = createDiffFlame(el, payload, { theme: "auto" });
  return () => view.destroy();
}

// payloadModel: the read-only model of a notebook output's payload (hosts/lab.js, hosts/fragment.js)
export default { render: renderWidget, renderComparison, payloadModel };
