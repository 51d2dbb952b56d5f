// js/flame.js: the merge rules of rust/core/src/flame.rs (the same cases as its unit tests), window
// clipping, callers and callees, the Rust encodings read back, the icicle layout. The cross-check
// against the Rust core on real recordings is tests/test_flame_js.py (it runs flame_crosscheck.mjs).
import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeFpt } from "../../js/decode.js";
import { buildIndex } from "../../js/layout.js";
import { flameMerge, flameSandwich, flameFromBytes, diffFlameFromBytes, flameLayout, flamePath, flameFind } from "../../js/flame.js";
import { encodeFpt } from "./fpt_encoder.mjs";

/** One thread of calls [code, depth, start, end]; codes: 0 main, 1 f, 2 g. */
async function oneThread(calls) {
  return decodeFpt(encodeFpt({
    originNs: 0,
    codes: ["main", "f", "g"].map((name, i) => ({ file: "/a.py", name, line: i + 1 })),
    threads: [{ osId: 1, lane: 0, firstNs: 0, lastNs: 100, names: [[0, "M"]],
      calls: calls.map(([code, depth, start, end]) => ({ code, depth, start, end })) }],
    metadata: {},
  }));
}

/** main [0,100): f [10,30) -> g [15,25); g [40,90) -> f [50,60) (flame.rs `sample`). */
const SAMPLE = [[0, 0, 0, 100], [1, 1, 10, 30], [2, 2, 15, 25], [2, 1, 40, 90], [1, 2, 50, 60]];

const rows = (f) => Array.from({ length: f.count }, (_, i) => [f.depth[i], f.code[i], f.calls[i], f.total[i], f.self[i]]);

test("merges paths, heaviest first (flame.rs merges_paths_heaviest_first)", async () => {
  const f = flameMerge(await oneThread(SAMPLE));
  assert.deepEqual(rows(f), [[0, 0, 1, 100, 30], [1, 2, 1, 50, 40], [2, 1, 1, 10, 10], [1, 1, 1, 20, 10], [2, 2, 1, 10, 10]]);
  assert.deepEqual(Array.from(f.parent), [-1, 0, 1, 0, 3]);
});

test("a window clips calls; empty windows and no threads hold nothing (flame.rs window_clips_calls)", async () => {
  const t = await oneThread(SAMPLE);
  assert.deepEqual(rows(flameMerge(t, null, [20, 55])),
    [[0, 0, 1, 35, 10], [1, 2, 1, 15, 10], [2, 1, 1, 5, 5], [1, 1, 1, 10, 5], [2, 2, 1, 5, 5]]);
  assert.equal(flameMerge(t, null, [100, 200]).count, 0);
  assert.equal(flameMerge(t, [], null).count, 0);
  assert.equal(flameMerge(t, null, [50, 50]).count, 0);
  // a call outside the window leaves out its descendants even where they would overlap: none here,
  // but a window inside f [10,30) only keeps main -> f -> g
  assert.deepEqual(rows(flameMerge(t, null, [16, 24])), [[0, 0, 1, 8, 0], [1, 1, 1, 8, 0], [2, 2, 1, 8, 8]]);
});

test("threads merge together, same paths add up", async () => {
  const t = await decodeFpt(encodeFpt({
    originNs: 0,
    codes: ["main", "f"].map((name) => ({ file: "/a.py", name, line: 1 })),
    threads: [0, 1].map((k) => ({ osId: k + 1, lane: k, firstNs: 0, lastNs: 100, names: [[0, `T${k}`]],
      calls: [{ code: 0, depth: 0, start: 0, end: 50 + k * 10 }, { code: 1, depth: 1, start: 5, end: 15 + k }] })),
    metadata: {},
  }));
  assert.deepEqual(rows(flameMerge(t)), [[0, 0, 2, 110, 89], [1, 1, 2, 21, 21]]);
  assert.deepEqual(rows(flameMerge(t, [1])), [[0, 0, 1, 60, 49], [1, 1, 1, 11, 11]]);
});

test("callers and callees of a recursive function (flame.rs sandwich_of_a_recursive_function)", async () => {
  // main [0,100): f [0,60) -> f [10,50) -> g [20,30); g [70,90) -> f [75,85)
  const t = await oneThread([[0, 0, 0, 100], [1, 1, 0, 60], [1, 2, 10, 50], [2, 3, 20, 30], [2, 1, 70, 90], [1, 2, 75, 85]]);
  const s = flameSandwich(t, buildIndex(t).selfNs, [1]);
  assert.deepEqual(rows(s.callers), [[0, 1, 3, 70, 60], [1, 0, 2, 60, 50], [1, 2, 1, 10, 10], [2, 0, 1, 10, 10]]);
  assert.deepEqual(rows(s.callees), [[0, 1, 2, 70, 30], [1, 1, 1, 40, 30], [2, 2, 1, 10, 10]]);
  const none = flameSandwich(t, buildIndex(t).selfNs, [1], []);
  assert.equal(none.callers.count, 0);
});

test("the Rust encodings read back; layout, paths", async () => {
  const f = flameMerge(await oneThread(SAMPLE));
  const enc = new Float64Array(f.count * 5);
  for (let i = 0; i < f.count; i++) enc.set([f.depth[i], f.code[i], f.total[i], f.self[i], f.calls[i]], i * 5);
  const back = flameFromBytes(new Uint8Array(enc.buffer));
  assert.deepEqual(rows(back), rows(f));
  assert.deepEqual(Array.from(back.parent), Array.from(f.parent));
  // unaligned bytes are copied, not misread
  const shifted = new Uint8Array(enc.byteLength + 1);
  shifted.set(new Uint8Array(enc.buffer), 1);
  assert.deepEqual(rows(flameFromBytes(shifted.subarray(1))), rows(f));
  const lay = flameLayout(f);
  assert.equal(lay.sum, 100);
  assert.deepEqual(Array.from(lay.x), [0, 0, 0, 50, 50]);
  assert.deepEqual(Array.from(lay.end), [5, 3, 3, 5, 5]);
  assert.deepEqual(flamePath(f, 4), [0, 1, 2]);
  assert.equal(flameFind(f, [0, 1, 2]), 4);
  assert.equal(flameFind(f, [0, 2, 2]), 1, "the deepest node along a path that is gone");
  assert.equal(flameFind(f, [7]), -1);
  const d = diffFlameFromBytes(new Float64Array([0, 3, 10, 4, 1, 20, 5, 2, 1, 4, 6, 6, 1, 0, 0, 0]).buffer);
  assert.deepEqual([d.count, d.code[1], d.totalA[0], d.total[0], d.calls[1], d.callsA[1], d.parent[1]], [2, 4, 10, 20, 0, 1, 0]);
});
