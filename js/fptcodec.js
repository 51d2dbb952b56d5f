// fptcodec.js: the encoding the .fpt format (docs/format.md) and the window replies
// (windowreply.js) share: the error every reader throws (FptError, with the byte offset), bytes of
// any buffer, the zlib body inflated with its length as a hard limit (DecompressionStream and the
// Adler-32 check), the body reader (LEB128 varints, zigzag, strings, counts checked against the
// bytes left) and a thread's time planes (version 1 and 2). decode.js reads the file's structure
// with it. Layer 1: depends on nothing (no DOM).

/** The .fpt header's length (bytes before the body). */
export const FPT_HEADER_LEN = 16;
/** Deepest call depth (as the Rust core: 2^32 - 2). */
const MAX_DEPTH = 4294967294;

/** A file that does not follow the format. `offset` is a byte offset (see `where`). */
export class FptError extends Error {
  constructor(message, offset, where = "body") {
    super(offset === undefined ? message : `${message} (at byte ${offset} of the ${where})`);
    this.name = "FptError";
    this.offset = offset;
  }
}

/** Bytes of an ArrayBuffer, a typed array or a DataView as a Uint8Array (no copy). */
export function asBytes(data) {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new TypeError("trace data must be an ArrayBuffer, a typed array or a DataView");
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

export const TWO_POW_53 = 9007199254740992;

/** Reader of the body: LEB128 varints, zigzag, strings. Every read is bounds-checked. */
export class BodyReader {
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
export function readTimesV1(r, t, n, firstNs, lastNs) {
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
export function readTimes(r, t, n, firstNs, lastNs) {
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
