import { test } from "node:test";
import assert from "node:assert/strict";
import zlib from "node:zlib";
import { decodeFpt, decodeFptBody, TraceTooLargeError } from "../../js/decode.js";
import { FptError } from "../../js/fptcodec.js";
import { readFileSync } from "node:fs";
import { BodyWriter, encodeBody, encodeFpt, wrapBody, sampleTrace, bigTrace, twoProcessTrace } from "./fpt_encoder.mjs";

const clone = (x) => JSON.parse(JSON.stringify(x));

async function rejectsFpt(bytes, pattern) {
  await assert.rejects(decodeFpt(bytes), (e) => {
    assert.ok(e instanceof FptError, `expected FptError, got ${e && e.name}: ${e && e.message}`);
    assert.match(e.message, pattern);
    assert.match(e.message, /at byte \d+/);
    return true;
  });
}

test("decodes a valid compressed trace", async () => {
  const t = await decodeFpt(encodeFpt(sampleTrace()));
  assert.equal(t.originNs, 123456789);
  assert.equal(t.codes.count, 3);
  assert.deepEqual(t.codes.name, ["main", "work", "step"]);
  assert.equal(t.codes.line[1], 10);
  assert.equal(t.threads.length, 2);
  assert.equal(t.threads[1].name, "worker");
  assert.deepEqual(t.threads[1].names, [{ tNs: 200, name: "Thread-1" }, { tNs: 300, name: "worker" }]);
  assert.equal(t.threads[1].callStart, 5);
  assert.equal(t.threads[1].osId, 1002);
  assert.equal(t.calls.count, 7);
  assert.deepEqual(Array.from(t.calls.depth), [0, 1, 2, 2, 1, 0, 1]);
  assert.deepEqual(Array.from(t.calls.start), [0, 10, 20, 100, 600, 200, 250]);
  assert.deepEqual(Array.from(t.calls.end), [1000, 500, 100, 400, 990, 800, 260]);
  assert.deepEqual(Array.from(t.calls.parent), [-1, 0, 1, 1, 0, -1, 5]);
  assert.deepEqual(Array.from(t.calls.thread), [0, 0, 0, 0, 0, 1, 1]);
  assert.deepEqual(Array.from(t.calls.flags), [0, 0, 0, 0, 1, 2, 0]);
  assert.equal(t.startNs, 0);
  assert.equal(t.endNs, 1000);
  assert.deepEqual(t.metadata, { subs: "app/", python: "3.11" });
});

test("decodes an uncompressed body, and all input types", async () => {
  const bytes = encodeFpt(sampleTrace(), { compress: false });
  for (const input of [bytes, bytes.buffer.slice(0), new DataView(bytes.buffer)]) {
    const t = await decodeFpt(input);
    assert.equal(t.calls.count, 7);
  }
});

test("negative first_ns and an empty trace", async () => {
  const tr = sampleTrace();
  tr.threads[0].firstNs = -50;
  tr.threads[0].calls[0].start = -50;
  tr.threads[0].names[0][0] = -50;
  const t = await decodeFpt(encodeFpt(tr));
  assert.equal(t.calls.start[0], -50);
  const empty = await decodeFpt(encodeFpt({ codes: [], threads: [], metadata: {} }));
  assert.equal(empty.calls.count, 0);
  assert.equal(empty.threads.length, 0);
});

test("header errors: bad magic, future version, reserved flags, huge body_len", async () => {
  const good = encodeFpt(sampleTrace());
  const bad = good.slice();
  bad[0] = 0x7b;
  await rejectsFpt(bad, /magic FPRF/);
  await rejectsFpt(new TextEncoder().encode('{"callstack": []}'), /magic FPRF/);
  await rejectsFpt(wrapBody(encodeBody(sampleTrace()), { version: 3 }), /version 3: this viewer reads versions 1 and 2 .*newer fprofile/);
  await rejectsFpt(wrapBody(encodeBody(sampleTrace()), { version: 0 }), /unsupported format version 0/);
  await rejectsFpt(wrapBody(encodeBody(sampleTrace()), { flags: 3 }), /reserved header flag/);
  await rejectsFpt(wrapBody(encodeBody(sampleTrace()), { bodyLen: 2 ** 31 + 1 }), /2 GiB/);
  await rejectsFpt(good.slice(0, 10), /truncated header/);
  await rejectsFpt(new Uint8Array(0), /magic/);
});

test("truncation at every byte is an error, never a hang", async () => {
  const raw = encodeFpt(sampleTrace(), { compress: false });
  for (let n = 0; n < raw.length; n++) {
    await assert.rejects(decodeFpt(raw.slice(0, n)), FptError);
  }
  const z = encodeFpt(sampleTrace());
  for (let n = 16; n < z.length; n++) {
    await assert.rejects(decodeFpt(z.slice(0, n)), FptError, `compressed, cut at ${n}`);
  }
  // body_len smaller than the body, for a raw body -> trailing bytes
  await rejectsFpt(wrapBody(encodeBody(sampleTrace()), { compress: false, bodyLen: 20 }), /trailing bytes/);
});

test("a body cut short (body_len too small / too large for the zlib stream)", async () => {
  const body = encodeBody(sampleTrace());
  await rejectsFpt(wrapBody(body, { bodyLen: body.length - 3 }), /more than body_len/);
  await rejectsFpt(wrapBody(body, { bodyLen: body.length + 3 }), /inflates to \d+ bytes but body_len/);
  const trailing = decodeFptBody.bind(null, Uint8Array.from([...body, 0]));
  assert.throws(trailing, /trailing bytes after the metadata/);
});

test("trailing bytes after the zlib stream are rejected", async () => {
  const bytes = encodeFpt(sampleTrace());
  const extra = new Uint8Array(bytes.length + 4);
  extra.set(bytes);
  extra.set([1, 2, 3, 4], bytes.length);
  await assert.rejects(decodeFpt(extra), FptError);
});

function violate(mutate, pattern, version = 2) {
  const tr = clone(sampleTrace());
  mutate(tr);
  assert.throws(() => decodeFptBody(encodeBody(tr, version), {}, version), (e) => {
    assert.ok(e instanceof FptError, String(e));
    assert.match(e.message, pattern);
    assert.match(e.message, /at byte \d+ of the body/);
    return true;
  });
}

test("each constraint violation is an error naming it", () => {
  // version 1 columns: depth deltas, start deltas, durations
  violate((t) => { t.threads[0].calls[0].depth = 1; }, /first call of thread 0 has depth 1, expected 0/, 1);
  violate((t) => { t.threads[0].calls[2].depth = 3; }, /depth 3, more than one below/, 1);
  violate((t) => { t.threads[0].calls[2].end = 600; }, /after its parent/, 1);
  violate((t) => { t.threads[0].calls[0].end = 1200; }, /outside its thread's span/, 1);
  // version 2 event gaps: call 2 [20, 600] overlaps its sibling (written with the back list) and
  // ends after its parent (call 1, ending at 500)
  violate((t) => { t.threads[0].calls[2].end = 600; }, /call 1 of thread 0 ends at 500 ns, before a call inside it \(ending at 600 ns\)/);
  violate((t) => { t.threads[0].calls[0].end = 1200; }, /call 0 of thread 0 ends at 1200 ns, after its thread's last time/);
  violate((t) => { t.threads[0].calls[1].start = 1100; t.threads[0].calls[1].end = 1100; }, /starts at 1100 ns, after its thread's last time/);
  violate((t) => { t.threads[0].calls[3].start = 15; }, /call 3 of thread 0 starts at 15 ns, before the previous call/);
  violate((t) => { t.threads[0].calls[1].code = 3; }, /code_id 3 .* not in the code table/);
  violate((t) => { t.threads[0].calls[1].flags = 4; }, /reserved call flag bits/);
  violate((t) => { t.threads[1].names[0][0] = 210; }, /first name of thread 1 must hold from first_ns/);
  violate((t) => { t.metadata = { n: 1 }; }, /metadata value of "n" is not a string/);
  violate((t) => { t.metadata = ["x"]; }, /metadata is not a JSON object/);
});

test("a call starting before its previous sibling ended (the back list) decodes as written", () => {
  const tr = clone(sampleTrace());
  tr.threads[0].calls[2].end = 450; // call 3 starts at 100
  const t = decodeFptBody(encodeBody(tr));
  assert.deepEqual(Array.from(t.calls.start).slice(0, 5), [0, 10, 20, 100, 600]);
  assert.deepEqual(Array.from(t.calls.end).slice(0, 5), [1000, 500, 450, 400, 990]);
  assert.deepEqual(Array.from(t.calls.parent).slice(0, 5), [-1, 0, 1, 1, 0]);
});

test("hand-built bodies: sid out of range, no names, negative depth, counts past the end, bad UTF-8, long varint", () => {
  const base = () => new BodyWriter().u(0).u(1).str("x");
  // code table pointing at sid 5
  assert.throws(() => decodeFptBody(base().u(1).u(5).u(0).u(1).toBytes()), /file_sid of code 0 = 5 is not a string id/);
  // thread with name_count 0
  const noName = base().u(0).u(1).u(0).u(0).s(0).u(0).u(0).u(0).u(0).u(0).u(0).u(2).raw([123, 125]).toBytes();
  assert.throws(() => decodeFptBody(noName, {}, 1), /has no name/);
  // negative depth: first call depth 0, then -1
  const negDepth = base().u(1).u(0).u(0).u(1).u(1).u(0).u(0).s(0).u(100).u(1).u(0).u(0)
    .u(2).u(0).u(0).s(1).s(-2).u(0).u(1).u(10).u(10).u(0).u(2).raw([123, 125]).toBytes();
  assert.throws(() => decodeFptBody(negDepth, {}, 1), /negative depth/);
  // a string count larger than the bytes left
  assert.throws(() => decodeFptBody(new BodyWriter().u(0).u(1000000).toBytes()), /string_count = 1000000 is more than/);
  // invalid UTF-8 string
  assert.throws(() => decodeFptBody(new BodyWriter().u(0).u(1).u(2).raw([0xff, 0xfe]).toBytes()), /not valid UTF-8/);
  // an 11-byte varint
  assert.throws(() => decodeFptBody(Uint8Array.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x81, 0x00])),
    /does not fit in 64 bits|longer than 10 bytes/);
  // a value beyond 2^53 for a count
  assert.throws(() => decodeFptBody(new BodyWriter().u(0).u(2n ** 60n).toBytes()), /2\^53/);
  // origin_ns may be any u64
  const big = new BodyWriter().u(2n ** 63n).u(0).u(0).u(0).u(2).raw([123, 125]).toBytes();
  assert.equal(decodeFptBody(big, {}, 1).originNs, 2 ** 63);
  // version 2: process and band tables in between
  const big2 = new BodyWriter().u(2n ** 63n).u(0).u(0).u(0).u(0).u(0).u(2).raw([123, 125]).toBytes();
  assert.equal(decodeFptBody(big2).originNs, 2 ** 63);
  assert.deepEqual(decodeFptBody(big2).processes, []);
});

test("two processes and task bands", async () => {
  const t = await decodeFpt(encodeFpt(twoProcessTrace()));
  assert.deepEqual(t.processes, [
    { index: 0, pid: 3100, parentPid: 1, name: "python main.py", host: "lab-1", startNs: 0, endNs: 1000, exitStatus: 0,
      clockOffsetNs: 0, clockUncertaintyNs: 0, aligned: true, incomplete: false },
    { index: 1, pid: 3101, parentPid: 3100, name: "SpawnProcess-1 <b>", host: "lab-2", startNs: 150, endNs: 900, exitStatus: -9,
      clockOffsetNs: -2500000000, clockUncertaintyNs: 1500, aligned: false, incomplete: true },
  ]);
  assert.deepEqual(t.threads.map((th) => th.process), [0, 1]);
  assert.deepEqual(t.bands, [
    { thread: 1, startNs: 190, endNs: 240, label: "inc-1f2e" },
    { thread: 1, startNs: 245, endNs: 810, label: "<i>sum</i>-9" },
  ]);
  // the calls are as in one process
  const one = await decodeFpt(encodeFpt(sampleTrace()));
  assert.deepEqual(Array.from(t.calls.start), Array.from(one.calls.start));
  assert.deepEqual(Array.from(t.calls.parent), Array.from(one.calls.parent));
  // an unknown exit status is null
  const tr = twoProcessTrace();
  delete tr.processes[0].exitStatus;
  assert.equal((await decodeFpt(encodeFpt(tr))).processes[0].exitStatus, null);
});

test("version 1 still decodes: one process with pid 0 spanning the threads, no bands", async () => {
  const bytes = encodeFpt(sampleTrace(), { version: 1 });
  assert.equal(bytes[4], 1);
  const t = await decodeFpt(bytes);
  assert.deepEqual(t.processes, [{ index: 0, pid: 0, parentPid: 0, name: "", host: "", startNs: 0, endNs: 1000,
    exitStatus: null, clockOffsetNs: 0, clockUncertaintyNs: 0, aligned: true, incomplete: false }]);
  assert.deepEqual(t.threads.map((th) => th.process), [0, 0]);
  assert.deepEqual(t.bands, []);
  const v2 = await decodeFpt(encodeFpt(sampleTrace()));
  assert.deepEqual(Array.from(t.calls.end), Array.from(v2.calls.end));
  assert.deepEqual(t.processes, v2.processes);
  // no threads: no process
  assert.deepEqual((await decodeFpt(encodeFpt({ codes: [], threads: [], metadata: {} }, { version: 1 }))).processes, []);
});

test("the committed version-1 file (written by fprofile at b805d86) decodes with its calls", async () => {
  const bytes = readFileSync(new URL("../fixtures/v1_sample.fpt", import.meta.url));
  assert.equal(bytes[4], 1);
  const t = await decodeFpt(bytes);
  assert.equal(t.originNs, 900);
  assert.deepEqual(t.codes.name, ["main", "load", "work", "step"]);
  assert.deepEqual(t.threads.map((th) => [th.name, th.osId, th.process, th.firstNs, th.lastNs]),
    [["MainThread", 4101, 0, 100, 1300], ["Worker-1", 4102, 0, 300, 900]]);
  assert.deepEqual(Array.from(t.calls.code), [0, 1, 2, 3, 3, 2, 3]);
  assert.deepEqual(Array.from(t.calls.start), [100, 200, 600, 700, 1200, 300, 400]);
  assert.deepEqual(Array.from(t.calls.end), [1100, 500, 1000, 800, 1300, 900, 450]);
  assert.deepEqual(Array.from(t.calls.depth), [0, 1, 1, 2, 0, 0, 1]);
  assert.deepEqual(Array.from(t.calls.flags), [0, 0, 0, 0, 1, 0, 0]);
  assert.deepEqual(t.processes.map((p) => [p.pid, p.startNs, p.endNs]), [[0, 100, 1300]]);
  assert.deepEqual(t.bands, []);
  assert.equal(t.metadata.subs, "app");
});

function violate2(mutate, pattern) {
  const tr = clone(twoProcessTrace());
  mutate(tr);
  assert.throws(() => decodeFptBody(encodeBody(tr)), (e) => {
    assert.ok(e instanceof FptError, String(e));
    assert.match(e.message, pattern);
    assert.match(e.message, /at byte \d+ of the body/);
    return true;
  });
}

test("version 2 tables: each violation is an error naming it", () => {
  violate2((t) => { t.threads[1].process = 2; }, /process of thread 1 = 2 is not in the process table \(2 processes\)/);
  violate2((t) => { t.processes = []; }, /2 threads but no process/);
  violate2((t) => { t.processes[1].flags = 8; }, /reserved process flag bits set \(flags = 15\) on process 1/);
  violate2((t) => { t.processes[0].exitStatus = 2 ** 31; }, /exit_status of process 0 = 2147483648 does not fit in 32 bits/);
  violate2((t) => { t.bands[0].thread = 2; }, /thread of band 0 = 2 is not in the thread table/);
  violate2((t) => { t.bands[1].startNs = 100; t.bands[1].endNs = 120; }, /band 1 is out of order/);
  violate2((t) => { t.bands.push({ thread: 0, startNs: 0, endNs: 1, label: "x" }); }, /band 2 is out of order/);
  // a process table count past the end
  assert.throws(() => decodeFptBody(new BodyWriter().u(0).u(0).u(0).u(100).toBytes()), /process_count = 100 is more than/);
});

test("fuzz: random byte flips never hang and only throw FptError/TraceTooLargeError", async () => {
  let seed = 12345;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  for (const [raw, version] of [[encodeBody(sampleTrace()), 2], [encodeBody(twoProcessTrace()), 2], [encodeBody(sampleTrace(), 1), 1]]) {
    for (let k = 0; k < 2000; k++) {
      const b = raw.slice();
      const flips = 1 + Math.floor(rnd() * 3);
      for (let f = 0; f < flips; f++) b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256);
      try {
        decodeFptBody(b, {}, version);
      } catch (e) {
        assert.ok(e instanceof FptError || e instanceof TraceTooLargeError, `${e && e.name}: ${e && e.message}`);
      }
    }
  }
});

test("too large for the browser: a clear message with the numbers", async () => {
  const bytes = encodeFpt(bigTrace(2000, 2));
  await assert.rejects(decodeFpt(bytes, { maxCalls: 1500 }), (e) => {
    assert.ok(e instanceof TraceTooLargeError);
    assert.match(e.message, /too large for the browser: more than 1,500 calls \(2,000 in its first 2 of 2 threads\)/);
    return true;
  });
  await assert.rejects(decodeFpt(bytes, { maxBodyBytes: 100 }), /too large for the browser: [\d,]+ bytes of decompressed data/);
});

test("a big trace decodes with its structure intact", async () => {
  const tr = bigTrace(100000, 3);
  const t = await decodeFpt(encodeFpt(tr));
  const n = tr.threads.reduce((a, th) => a + th.calls.length, 0);
  assert.equal(t.calls.count, n);
  let k = 0;
  for (const th of tr.threads) for (const c of th.calls) {
    if (t.calls.start[k] !== c.start || t.calls.end[k] !== c.end || t.calls.code[k] !== c.code) assert.fail(`call ${k} differs`);
    k++;
  }
  const bytesPerCall = encodeFpt(tr).length / n;
  assert.ok(bytesPerCall < 4, `bytes per call ${bytesPerCall}`);
});

test("zlib helper sanity: node's deflate is RFC 1950", () => {
  const z = zlib.deflateSync(Buffer.from("abc"));
  assert.equal(z[0] & 0x0f, 8);
});
