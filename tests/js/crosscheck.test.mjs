// The Rust encoder's output (fixture written by rust/core/tests/html_assets.rs) decoded by js/decode.js.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { decodeFpt } from "../../js/decode.js";
import { buildIndex } from "../../js/layout.js";

test("a Rust-written .fpt decodes in JS to the same trace", async () => {
  const bytes = readFileSync(new URL("./fixtures/rust_sample.fpt", import.meta.url));
  assert.equal(bytes[6] & 1, 1, "the Rust encoder compresses");
  const t = await decodeFpt(bytes);
  assert.equal(t.originNs, 5_000_000_000);
  assert.deepEqual(t.codes.name, ["main", "<img src=x onerror=alert(1)></script><script>alert(2)</script>", "step_λ"]);
  assert.deepEqual(t.codes.file, ["/app/main.py", "/app/work.py", "/app/ünï.py"]);
  assert.deepEqual(Array.from(t.codes.line), [1, 10, 20]);
  assert.deepEqual(t.threads.map((th) => [th.osId, th.lane, th.firstNs, th.lastNs, th.callStart, th.callEnd]),
    [[1001, 0, 0, 1000, 0, 4], [1002, 1, 200, 800, 4, 5]]);
  assert.equal(t.threads[1].name, "worker <img src=x onerror=alert(1)></script><script>alert(2)</script>");
  assert.deepEqual(Array.from(t.calls.start), [0, 10, 20, 600, 200]);
  assert.deepEqual(Array.from(t.calls.end), [1000, 500, 100, 990, 800]);
  assert.deepEqual(Array.from(t.calls.code), [0, 1, 2, 1, 2]);
  assert.deepEqual(Array.from(t.calls.depth), [0, 1, 2, 1, 0]);
  assert.deepEqual(Array.from(t.calls.parent), [-1, 0, 1, 0, -1]);
  assert.deepEqual(Array.from(t.calls.flags), [0, 0, 0, 1, 0]);
  assert.deepEqual(t.metadata, { subs: "app/" });
  const evil = "<img src=x onerror=alert(1)></script><script>alert(2)</script>";
  assert.deepEqual(t.processes, [
    { index: 0, pid: 4000, parentPid: 1, name: "python main.py", host: "lab-1", startNs: 0, endNs: 1000, exitStatus: 0,
      clockOffsetNs: 0, clockUncertaintyNs: 0, aligned: true, incomplete: false },
    { index: 1, pid: 4001, parentPid: 4000, name: `worker ${evil}`, host: "lab-2", startNs: 150, endNs: 850, exitStatus: -9,
      clockOffsetNs: -1500, clockUncertaintyNs: 20, aligned: false, incomplete: true },
  ]);
  assert.deepEqual(t.threads.map((th) => th.process), [0, 1]);
  assert.deepEqual(t.bands, [{ thread: 1, startNs: 190, endNs: 810, label: `task ${evil}` }]);
  assert.deepEqual(Array.from(buildIndex(t).selfNs), [120, 410, 80, 390, 600]);
});

test("a Rust-written .fpt with the back list (a call starting before its sibling ended) decodes the same in JS", async () => {
  // rust_overlap.fpt: `overlapping_sample` of rust/core/tests/fpt.rs (b stretched past c's start)
  const t = await decodeFpt(readFileSync(new URL("./fixtures/rust_overlap.fpt", import.meta.url)));
  assert.deepEqual(t.codes.name.slice(0, 3), ["a", "b", "c"]);
  assert.deepEqual(Array.from(t.calls.start).slice(0, 3), [10, 20, 40]);
  assert.deepEqual(Array.from(t.calls.end).slice(0, 3), [60, 41, 50]);
  assert.deepEqual(Array.from(t.calls.parent).slice(0, 3), [-1, 0, 0]);
  assert.deepEqual(Array.from(t.calls.depth).slice(0, 3), [0, 1, 1]);
});
