// The time axis and the times shown in text: one origin everywhere, no label clipped at an edge,
// no negative window label (js/render.js drawTimeAxis / placeAxisLabels, js/layout.js
// displayOrigin, js/units.js formatWindow).
import { test } from "node:test";
import assert from "node:assert/strict";
import { drawTimeAxis, placeAxisLabels } from "../../js/render.js";
import { displayOrigin, fullRange, clampWindow } from "../../js/layout.js";
import { formatWindow, formatTimeAt, timeTicks } from "../../js/units.js";

const CHAR_PX = 6;

/** A canvas 2D context that records the labels drawn. */
function fakeCtx() {
  const texts = [];
  const noop = () => {};
  return {
    texts,
    fillRect: noop, beginPath: noop, moveTo: noop, lineTo: noop, stroke: noop,
    measureText: (s) => ({ width: s.length * CHAR_PX }),
    fillText: (s, x, y) => texts.push({ s, x, y, w: s.length * CHAR_PX }),
  };
}
const pal = { bg: "#fff", grid: "#eee", muted: "#666", smallFont: "10px sans-serif" };

test("labels go right of their tick, left of it at the right edge, never past either edge", () => {
  assert.deepEqual(placeAxisLabels([0, 100, 200], [30, 30, 30], 400), [3, 103, 203]);
  // The last tick is 20 px from the edge: its 40 px label goes to its left.
  assert.deepEqual(placeAxisLabels([0, 180], [40, 40], 200), [3, 137]);
  // Moved left, it would run into the previous label: left out.
  assert.deepEqual(placeAxisLabels([0, 30], [40, 40], 45), [3, null]);
  // A label that fits nowhere is left out.
  assert.deepEqual(placeAxisLabels([5], [50], 40), [null]);
  // Overlapping neighbours (ticks closer than their labels): the later one is left out.
  assert.deepEqual(placeAxisLabels([0, 20, 80], [40, 40, 40], 400), [3, null, 83]);
});

test("every drawn axis label lies inside the canvas, at any window", () => {
  for (const width of [180, 333, 977, 1400]) {
    for (const [t0, t1] of [[0, 60.87e6], [449_400, 61_310_000], [7_797_959, 7_798_357], [-810, 81_830], [3e9, 3.5e9]]) {
      const ctx = fakeCtx();
      const nsToX = (t) => (t - t0) * width / (t1 - t0);
      drawTimeAxis(ctx, pal, width, 22, 100, t0, t1, nsToX, 90, displayOrigin({ startNs: t0 }));
      assert.ok(ctx.texts.length >= 1, `${width} ${t0}`);
      for (const { s, x, w } of ctx.texts) {
        assert.ok(x >= 0 && x + w <= width, `label ${s} at ${x}..${x + w} outside 0..${width}`);
      }
      for (let i = 1; i < ctx.texts.length; i++) {
        assert.ok(ctx.texts[i].x > ctx.texts[i - 1].x + ctx.texts[i - 1].w, "labels overlap");
      }
    }
  }
});

test("the right-most tick keeps its label (moved left of the tick)", () => {
  // 0..60 ms over 977 px: the 60 ms tick is at the very edge.
  const ctx = fakeCtx();
  drawTimeAxis(ctx, pal, 977, 22, 100, 0, 60e6, (t) => t * 977 / 60e6, 90, 0);
  const last = ctx.texts[ctx.texts.length - 1];
  assert.equal(last.s, "60 ms");
  assert.ok(last.x + last.w <= 977);
});

test("display origin: the trace origin, or the first event when it comes before it", () => {
  assert.equal(displayOrigin({ startNs: 32_000_000 }), 0);
  assert.equal(displayOrigin({ startNs: 0 }), 0);
  assert.equal(displayOrigin({ startNs: -810 }), -810);
  assert.equal(displayOrigin({ startNs: Infinity }), 0);
});

test("axis labels and text times count from the same origin", () => {
  // A run whose first call is 32 ms after the origin: the axis starts at ~32 ms, and so does the
  // start of that first call in the tooltip (formatTimeAt(start - origin)).
  const trace = { startNs: 32_003_655, endNs: 40_000_000 };
  const origin = displayOrigin(trace);
  const [a, b] = fullRange(trace);
  const ctx = fakeCtx();
  drawTimeAxis(ctx, pal, 800, 22, 100, a, b, (t) => (t - a) * 800 / (b - a), 90, origin);
  assert.match(ctx.texts[0].s, /^3[2-9] ms$/);
  assert.equal(formatTimeAt(trace.startNs - origin, 1000), "32.004 ms");
  assert.equal(formatWindow(a, b, origin), "32.004 ms – 40 ms  (7.996 ms)");
});

test("window label never reads negative: a trace with events before its origin", () => {
  // Seen in an export: "-810 ns – 81.83 µs".
  const trace = { startNs: -810, endNs: 81_830 };
  const origin = displayOrigin(trace);
  const [a, b] = fullRange(trace);
  const [s, e] = clampWindow(a - 5000, b, a, b, 50);
  assert.equal(formatWindow(s, e, origin), "0 ns – 82.64 µs  (82.64 µs)");
  const { ticks } = timeTicks(s - origin, e - origin, 8);
  assert.equal(ticks[0].label, "0 µs");
  for (const tk of ticks) assert.ok(!tk.label.startsWith("-"), tk.label);
});
