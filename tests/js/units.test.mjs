import { test } from "node:test";
import assert from "node:assert/strict";
import { formatDuration, timeTicks, unitFor, formatBytes, formatCount, formatTimeAt } from "../../js/units.js";

test("durations read in the largest fitting unit", () => {
  assert.equal(formatDuration(0), "0 ns");
  assert.equal(formatDuration(999), "999 ns");
  assert.equal(formatDuration(1000), "1 µs");
  assert.equal(formatDuration(1234), "1.234 µs");
  assert.equal(formatDuration(45600000), "45.6 ms");
  assert.equal(formatDuration(123456789), "123.5 ms");
  assert.equal(formatDuration(2.5e9), "2.5 s");
  assert.equal(formatDuration(-1500), "-1.5 µs");
  assert.equal(unitFor(5e9).unit, "s");
});

test("ticks: 1-2-5 steps, units from the step (or the magnitude when deep), distinct labels", () => {
  const a = timeTicks(0, 1e9, 10);
  assert.equal(a.step_ns, 1e8);
  assert.equal(a.unit, "ms");
  assert.deepEqual(a.ticks.slice(0, 3).map((t) => t.label), ["0 ms", "100 ms", "200 ms"]);
  const b = timeTicks(1000, 1600, 4);
  assert.equal(b.step_ns, 200);
  assert.equal(b.unit, "ns");
  assert.deepEqual(b.ticks.map((t) => t.label), ["1000 ns", "1200 ns", "1400 ns", "1600 ns"]);
  const c = timeTicks(1.2e9, 1.21e9, 5);
  assert.equal(c.step_ns, 2e6);
  assert.deepEqual(c.ticks.slice(0, 2).map((t) => t.label), ["1200 ms", "1202 ms"]);
  // a deep zoom far from 0: the unit of the magnitude, decimals of the step
  const z = timeTicks(7802000, 7802400, 8);
  assert.equal(z.step_ns, 50);
  assert.deepEqual(z.ticks.slice(0, 2).map((t) => t.label), ["7.80200 ms", "7.80205 ms"]);
  const small = timeTicks(0, 600, 6);
  assert.equal(small.unit, "ns");
  assert.deepEqual(small.ticks.slice(0, 3).map((t) => t.label), ["0 ns", "100 ns", "200 ns"]);
  const d = timeTicks(3e9, 8e9, 5);
  assert.equal(d.unit, "s");
  assert.deepEqual(d.ticks.map((t) => t.label), ["3 s", "4 s", "5 s", "6 s", "7 s", "8 s"]);
  const e = timeTicks(0, 5000, 2);
  assert.equal(e.unit, "µs");
  for (const ticks of [a, b, c, d, e, z]) {
    const labels = ticks.ticks.map((t) => t.label);
    assert.equal(new Set(labels).size, labels.length);
  }
  const f = timeTicks(1500, 1510, 5);
  assert.equal(f.step_ns, 2);
  assert.deepEqual(timeTicks(5, 5, 10).ticks, []);
});

test("time points precise enough for the window", () => {
  assert.equal(formatTimeAt(7802123, 1), "7.802123 ms");
  assert.equal(formatTimeAt(7802123, 398), "7.8021 ms");
  assert.equal(formatTimeAt(7802123, 1e6), "7.802 ms");
  assert.equal(formatTimeAt(0, 1000), "0 ns");
  assert.equal(formatTimeAt(512, 10), "512 ns");
  assert.equal(formatTimeAt(1.5e9, 1e8), "1.5 s");
});

test("bytes and counts", () => {
  assert.equal(formatBytes(512), "512 B");
  assert.equal(formatBytes(3.5 * 1024 * 1024), "3.5 MB");
  assert.equal(formatCount(1234567), "1,234,567");
});

test("formatDuration: rounding up to 1000 moves to the next unit", () => {
  assert.equal(formatDuration(999_960), "1 ms");
  assert.equal(formatDuration(-999_960), "-1 ms");
  assert.equal(formatDuration(999.6), "1 µs");
  assert.equal(formatDuration(999_999_600), "1 s");
  assert.equal(formatDuration(999_940), "999.9 µs");
  assert.equal(formatDuration(2_000e9), "2000 s");
});
