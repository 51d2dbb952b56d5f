// js/render.js BoxBatch: the boxes of a frame, one path and one fill per colour, colours in
// first-use order, empty again after each fill.
import { test } from "node:test";
import assert from "node:assert/strict";
import { BoxBatch } from "../../js/render.js";

/** A canvas 2D context that records fills: [style, rects]. */
function fakeCtx() {
  const fills = [];
  let rects = [];
  return {
    fills,
    fillStyle: "",
    beginPath() { rects = []; },
    rect(x, y, w, h) { rects.push([x, y, w, h]); },
    fill() { fills.push([this.fillStyle, rects]); },
  };
}

test("one fill per colour, in first-use order, with every box of that colour", () => {
  const b = new BoxBatch(4);
  b.add(2, 0, 0, 5, 1);
  b.add(0, 10, 0, 5, 1);
  b.add(2, 20, 3, 5, 1);
  const ctx = fakeCtx();
  b.fill(ctx, (k) => `c${k}`);
  assert.deepEqual(ctx.fills, [
    ["c2", [[0, 0, 5, 1], [20, 3, 5, 1]]],
    ["c0", [[10, 0, 5, 1]]],
  ]);
  // empty again: the next frame starts afresh
  const ctx2 = fakeCtx();
  b.fill(ctx2, (k) => `c${k}`);
  assert.deepEqual(ctx2.fills, []);
  b.add(3, 1, 2, 3, 4);
  b.fill(ctx2, (k) => `c${k}`);
  assert.deepEqual(ctx2.fills, [["c3", [[1, 2, 3, 4]]]]);
});
