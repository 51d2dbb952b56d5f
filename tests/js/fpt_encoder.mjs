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
 * Version 2 (docs/format.md): the pops column, the back list, then the event gaps (entries and
 * exits in event order, each from the previous event of the thread) as LEB128 in two planes.
 * A call with `depth` more than one below the previous one, or an exit before the previous event,
 * cannot be written: an Error.
 */
function writeTimes(w, firstNs, calls) {
  let pd = -1;
  for (const c of calls) {
    if (c.depth > pd + 1) throw new Error(`depth ${c.depth} after ${pd} cannot be written in version 2`);
    w.u(pd + 1 - c.depth);
    pd = c.depth;
  }
  const gaps = [];
  const backs = [];
  const open = [];
  let time = firstNs;
  const exit = () => {
    const c = open.pop();
    if (c.end < time) throw new Error(`an exit at ${c.end} before the previous event at ${time} cannot be written`);
    gaps.push(c.end - time);
    time = c.end;
  };
  calls.forEach((c, i) => {
    while (open.length > c.depth) exit();
    if (c.start < time) { backs.push([i, time - c.start]); gaps.push(0); } else gaps.push(c.start - time);
    time = c.start;
    open.push(c);
  });
  while (open.length) exit();
  w.u(backs.length);
  let pi = -1;
  for (const [i, back] of backs) { w.u(i - pi - 1).u(back); pi = i; }
  const rest = new BodyWriter();
  for (const g of gaps) {
    const one = new BodyWriter().u(g).bytes;
    w.raw([one[0]]);
    rest.raw(one.slice(1));
  }
  w.raw(rest.bytes);
}

/**
 * trace = { originNs, codes: [{file, name, line}],
 *   processes: [{pid, parentPid, name, host, startNs, endNs, exitStatus, clockOffsetNs,
 *     clockUncertaintyNs, aligned, incomplete}]   (version 2; default: one process with pid 0
 *     spanning the threads),
 *   threads: [{process, osId, lane, firstNs, lastNs, names: [[tNs, name]], calls: [{code, depth, start, end, flags}]}],
 *   bands: [{thread, startNs, endNs, label}]   (version 2),
 *   metadata: {} }
 * `version` 1 leaves out the process table, the threads' process and the bands.
 */
export function encodeBody(trace, version = 2) {
  const strings = [];
  const sids = new Map();
  const sid = (s) => {
    if (!sids.has(s)) { sids.set(s, strings.length); strings.push(s); }
    return sids.get(s);
  };
  for (const c of trace.codes) { sid(c.file); sid(c.name); }
  const v2 = version >= 2;
  let processes = trace.processes;
  if (!processes) {
    const ths = trace.threads;
    processes = ths.length === 0 ? [] : [{
      pid: 0, parentPid: 0, name: "", host: "",
      startNs: Math.min(...ths.map((t) => t.firstNs)), endNs: Math.max(...ths.map((t) => t.lastNs)),
    }];
  }
  const bands = trace.bands ?? [];
  if (v2) for (const p of processes) { sid(p.name ?? ""); sid(p.host ?? ""); }
  for (const t of trace.threads) for (const [, n] of t.names) sid(n);
  if (v2) for (const b of bands) sid(b.label);
  const w = new BodyWriter();
  w.u(trace.originNs ?? 0);
  w.u(strings.length);
  for (const s of strings) w.str(s);
  w.u(trace.codes.length);
  for (const c of trace.codes) w.u(sid(c.file)).u(sid(c.name)).u(c.line);
  if (v2) {
    w.u(processes.length);
    for (const p of processes) {
      const exitKnown = p.exitStatus !== undefined && p.exitStatus !== null;
      const flags = (p.incomplete ? 1 : 0) | (exitKnown ? 2 : 0) | (p.aligned === false ? 4 : 0) | (p.flags ?? 0);
      w.u(p.pid ?? 0).u(p.parentPid ?? 0).u(sid(p.name ?? "")).u(sid(p.host ?? ""));
      w.s(p.startNs ?? 0).u((p.endNs ?? 0) - (p.startNs ?? 0)).u(flags);
      if (exitKnown) w.s(p.exitStatus);
      w.s(p.clockOffsetNs ?? 0).u(p.clockUncertaintyNs ?? 0);
    }
  }
  w.u(trace.threads.length);
  for (const t of trace.threads) {
    if (v2) w.u(t.process ?? 0);
    w.u(t.osId ?? 0).u(t.lane ?? 0).s(t.firstNs).u(t.lastNs - t.firstNs);
    w.u(t.names.length);
    let prevT = t.firstNs;
    for (const [tn, n] of t.names) { w.u(tn - prevT).u(sid(n)); prevT = tn; }
    const calls = t.calls;
    w.u(calls.length);
    for (const c of calls) w.u(c.code);
    if (v2) writeTimes(w, t.firstNs, calls);
    else {
      let pd = -1;
      for (const c of calls) { w.s(c.depth - pd); pd = c.depth; }
      let ps = t.firstNs;
      for (const c of calls) { w.u(c.start - ps); ps = c.start; }
      for (const c of calls) w.u(c.end - c.start);
    }
    const flagged = calls.map((c, i) => [i, c.flags || 0]).filter(([, f]) => f);
    w.u(flagged.length);
    let pi = -1;
    for (const [i, f] of flagged) { w.u(i - pi - 1).u(f); pi = i; }
  }
  if (v2) {
    w.u(bands.length);
    for (const b of bands) w.u(b.thread).s(b.startNs).u(b.endNs - b.startNs).u(sid(b.label));
  }
  const meta = Buffer.from(JSON.stringify(trace.metadata ?? {}), "utf8");
  w.u(meta.length).raw(meta);
  return w.toBytes();
}

export function wrapBody(body, { compress = true, version = 2, flags = null, bodyLen = null } = {}) {
  const payload = compress ? zlib.deflateSync(body) : Buffer.from(body);
  const header = Buffer.alloc(16);
  header.write("FPRF", 0, "ascii");
  header.writeUInt16LE(version, 4);
  header.writeUInt16LE(flags ?? (compress ? 1 : 0), 6);
  header.writeBigUInt64LE(BigInt(bodyLen ?? body.length), 8);
  return new Uint8Array(Buffer.concat([header, payload]));
}

export function encodeFpt(trace, opts = {}) {
  return wrapBody(encodeBody(trace, opts.version ?? 2), opts);
}

/** The sample trace split over two processes (the second on another host, killed, its clock not
 * aligned), with two task bands on its thread. */
export function twoProcessTrace() {
  const t = sampleTrace();
  t.processes = [
    { pid: 3100, parentPid: 1, name: "python main.py", host: "lab-1", startNs: 0, endNs: 1000, exitStatus: 0 },
    { pid: 3101, parentPid: 3100, name: "SpawnProcess-1 <b>", host: "lab-2", startNs: 150, endNs: 900, exitStatus: -9,
      clockOffsetNs: -2500000000, clockUncertaintyNs: 1500, aligned: false, incomplete: true },
  ];
  t.threads[0].process = 0;
  t.threads[1].process = 1;
  t.bands = [
    { thread: 1, startNs: 190, endNs: 240, label: "inc-1f2e" },
    { thread: 1, startNs: 245, endNs: 810, label: "<i>sum</i>-9" },
  ];
  return t;
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
