// windowreply.js: window replies (docs/format.md, "Window replies"; rust/core/src/window.rs) ->
// columns, and a reply composed with the trace's skeleton (the .fpt of the trace without its calls)
// into a decoded trace of the shape decode.js gives, so that every view draws a window reply as it
// draws a whole trace. Layer 1 (pure, no DOM).

import { asBytes, inflateZlib, FptError } from "./fptcodec.js";

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
