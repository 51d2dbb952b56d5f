// decode.js: the .fpt binary format (docs/format.md) -> a decoded trace of typed-array columns.
// Layer 1: reads with fptcodec.js (no DOM). Every constraint of the spec is checked; every error names
// what is wrong and the byte offset where it was found (in the file for the header, in the
// decompressed body otherwise).

import { FPT_HEADER_LEN, FptError, asBytes, inflateZlib, TWO_POW_53, BodyReader, readTimesV1, readTimes } from "./fptcodec.js";

/** The version fprofile writes; version 1 (no process table, no bands) is still read. */
export const FPT_VERSION = 2;
const FPT_VERSION_1 = 1;
const FPT_MAX_BODY = 2 * 1024 * 1024 * 1024; // 2 GiB, the spec's hard limit

/** What this browser page accepts before refusing a trace as too big (overridable per call). */
export const DECODE_LIMITS = Object.freeze({
  maxBodyBytes: 1024 * 1024 * 1024, // 1 GiB decompressed
  maxCalls: 20_000_000,             // about 35 bytes of columns and indexes per call
});

/** A valid trace that is more than this page will hold; the message carries the numbers. */
export class TraceTooLargeError extends Error {
  constructor(message) {
    super(message);
    this.name = "TraceTooLargeError";
  }
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
