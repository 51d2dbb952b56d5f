// A test-only .fpt encoder (docs/format.md), written from the spec independently of js/decode.js.
// It does not validate: tests use it to build invalid files too.
import zlib from "node:zlib";

export class BodyWriter {
  constructor() { this.bytes = []; }
  u(v) {
    let n = BigInt(v);
    if (n < 0n) throw new Error("u of a negative number");
    do {
      let b = Number(n & 0x7fn);
      n >>= 7n;
      if (n > 0n) b |= 0x80;
      this.bytes.push(b);
    } while (n > 0n);
    return this;
  }
  s(v) {
    const n = BigInt(v);
    const z = n >= 0n ? n << 1n : ((-n) << 1n) - 1n;
    return this.u(z);
  }
  str(text) {
    const b = Buffer.from(text, "utf8");
    this.u(b.length);
    for (const x of b) this.bytes.push(x);
    return this;
  }
  raw(arr) { for (const x of arr) this.bytes.push(x); return this; }
  toBytes() { return Uint8Array.from(this.bytes); }
}

/**
 * trace = { originNs, codes: [{file, name, line}], threads: [{osId, lane, firstNs, lastNs,
 *   names: [[tNs, name]], calls: [{code, depth, start, end, flags}]}], metadata: {} }
 */
export function encodeBody(trace) {
  const strings = [];
  const sids = new Map();
  const sid = (s) => {
    if (!sids.has(s)) { sids.set(s, strings.length); strings.push(s); }
    return sids.get(s);
  };
  for (const c of trace.codes) { sid(c.file); sid(c.name); }
  for (const t of trace.threads) for (const [, n] of t.names) sid(n);
  const w = new BodyWriter();
  w.u(trace.originNs ?? 0);
  w.u(strings.length);
  for (const s of strings) w.str(s);
  w.u(trace.codes.length);
  for (const c of trace.codes) w.u(sid(c.file)).u(sid(c.name)).u(c.line);
  w.u(trace.threads.length);
  for (const t of trace.threads) {
    w.u(t.osId ?? 0).u(t.lane ?? 0).s(t.firstNs).u(t.lastNs - t.firstNs);
    w.u(t.names.length);
    let prevT = t.firstNs;
    for (const [tn, n] of t.names) { w.u(tn - prevT).u(sid(n)); prevT = tn; }
    const calls = t.calls;
    w.u(calls.length);
    for (const c of calls) w.u(c.code);
    let pd = -1;
    for (const c of calls) { w.s(c.depth - pd); pd = c.depth; }
    let ps = t.firstNs;
    for (const c of calls) { w.u(c.start - ps); ps = c.start; }
    for (const c of calls) w.u(c.end - c.start);
    const flagged = calls.map((c, i) => [i, c.flags || 0]).filter(([, f]) => f);
    w.u(flagged.length);
    let pi = -1;
    for (const [i, f] of flagged) { w.u(i - pi - 1).u(f); pi = i; }
  }
  const meta = Buffer.from(JSON.stringify(trace.metadata ?? {}), "utf8");
  w.u(meta.length).raw(meta);
  return w.toBytes();
}

export function wrapBody(body, { compress = true, version = 1, flags = null, bodyLen = null } = {}) {
  const payload = compress ? zlib.deflateSync(body) : Buffer.from(body);
  const header = Buffer.alloc(16);
  header.write("FPRF", 0, "ascii");
  header.writeUInt16LE(version, 4);
  header.writeUInt16LE(flags ?? (compress ? 1 : 0), 6);
  header.writeBigUInt64LE(BigInt(bodyLen ?? body.length), 8);
  return new Uint8Array(Buffer.concat([header, payload]));
}

export function encodeFpt(trace, opts = {}) {
  return wrapBody(encodeBody(trace), opts);
}

/** A small valid trace: two threads, nested calls. */
export function sampleTrace() {
  return {
    originNs: 123456789,
    codes: [
      { file: "/app/main.py", name: "main", line: 1 },
      { file: "/app/work.py", name: "work", line: 10 },
      { file: "/app/work.py", name: "step", line: 20 },
    ],
    threads: [
      {
        osId: 1001, lane: 0, firstNs: 0, lastNs: 1000, names: [[0, "MainThread"]],
        calls: [
          { code: 0, depth: 0, start: 0, end: 1000 },
          { code: 1, depth: 1, start: 10, end: 500 },
          { code: 2, depth: 2, start: 20, end: 100 },
          { code: 2, depth: 2, start: 100, end: 400 },
          { code: 1, depth: 1, start: 600, end: 990, flags: 1 },
        ],
      },
      {
        osId: 1002, lane: 1, firstNs: 200, lastNs: 800, names: [[200, "Thread-1"], [300, "worker"]],
        calls: [
          { code: 1, depth: 0, start: 200, end: 800, flags: 2 },
          { code: 2, depth: 1, start: 250, end: 260 },
        ],
      },
    ],
    metadata: { subs: "app/", python: "3.11" },
  };
}

/** A synthetic trace of about `n` calls in `threads` threads (regular nesting, deterministic). */
export function bigTrace(n, threads = 2) {
  const codes = [];
  for (let i = 0; i < 50; i++) codes.push({ file: `/app/mod${i % 7}.py`, name: `func_${i}`, line: i + 1 });
  const ths = [];
  const per = Math.floor(n / threads);
  for (let t = 0; t < threads; t++) {
    const calls = [];
    let time = t * 10;
    const first = time;
    // blocks of: a depth-0 call containing 3 children each containing 2 grandchildren: 10 calls
    while (calls.length + 10 <= per) {
      const top = { code: (calls.length / 10) % 50 | 0, depth: 0, start: time, end: 0 };
      calls.push(top);
      time += 5;
      for (let a = 0; a < 3; a++) {
        const mid = { code: (a * 7 + calls.length) % 50, depth: 1, start: time, end: 0 };
        calls.push(mid);
        time += 3;
        for (let b = 0; b < 2; b++) {
          const len = 20 + (calls.length % 17);
          calls.push({ code: (b * 13 + calls.length) % 50, depth: 2, start: time, end: time + len });
          time += len + 5;
        }
        mid.end = time;
        time += 2;
      }
      top.end = time;
      time += 7;
    }
    ths.push({ osId: 5000 + t, lane: t, firstNs: first, lastNs: time, names: [[first, `T${t}`]], calls });
  }
  return { originNs: 0, codes, threads: ths, metadata: {} };
}
