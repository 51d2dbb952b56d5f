// js/filters.js: hiding a function, a file or a module folds its calls (with their descendants)
// into their parent's self time; a minimum duration; the kept rows; the regex search (an invalid
// regex is a message, not an exception); the summary and the flame graph over the kept calls.
import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeFpt } from "../../js/decode.js";
import { buildIndex, computeSummary } from "../../js/layout.js";
import { flameMerge, flameSandwich } from "../../js/flame.js";
import { applyFilter, filteredIndex, filterActive, hiddenCodes, moduleOf, compileSearch, parseDuration } from "../../js/filters.js";
import { encodeFpt } from "./fpt_encoder.mjs";

/** codes: 0 main (/app/main.py), 1 f (/app/lib/f.py), 2 g (/app/lib/g.py), 3 h (/app/main.py). */
const CODES = [["main", "/app/main.py"], ["f", "/app/lib/f.py"], ["g", "/app/lib/g.py"], ["h", "/app/main.py"]];

/** main [0,100): f [10,30) -> g [15,25); h [40,90) -> f [50,52); g [95,99) */
const SAMPLE = [[0, 0, 0, 100], [1, 1, 10, 30], [2, 2, 15, 25], [3, 1, 40, 90], [1, 2, 50, 52], [2, 1, 95, 99]];

async function oneThread(calls) {
  return decodeFpt(encodeFpt({
    originNs: 0,
    codes: CODES.map(([name, file], i) => ({ file, name, line: i + 1 })),
    threads: [{ osId: 1, lane: 0, firstNs: 0, lastNs: 100, names: [[0, "M"]],
      calls: calls.map(([code, depth, start, end]) => ({ code, depth, start, end })) }],
    metadata: {},
  }));
}

const filter = (hidden = [], minNs = 0) => ({ hidden, minNs });
const row = (s, name) => s.overall.find((r) => r.function === name);

test("no filter: nothing applied", async () => {
  const t = await oneThread(SAMPLE);
  assert.equal(filterActive(filter()), false);
  assert.equal(applyFilter(t, filter()), null);
});

test("hiding a function hides its calls with their descendants; their time is the parent's self", async () => {
  const t = await oneThread(SAMPLE);
  const a = applyFilter(t, filter([{ kind: "function", value: 1 }]));
  // f [10,30) and its g [15,25) hidden; f [50,52) under h hidden
  assert.deepEqual(Array.from(a.kept), [1, 0, 0, 1, 0, 1]);
  assert.equal(a.keptCount, 3);
  const full = buildIndex(t);
  assert.equal(full.selfNs[0], 100 - 20 - 50 - 4);
  assert.equal(a.selfNs[0], 100 - 50 - 4); // main: f's whole 20 ns folded in (g's 10 ns with it)
  assert.equal(a.selfNs[3], 50); // h: f's 2 ns folded in
  assert.equal(a.childCount[0], 2);
  assert.equal(a.childCount[3], 0);
  const s = computeSummary(t, a.kept);
  assert.equal(row(s, "main").self_ns, 46);
  assert.equal(row(s, "h").self_ns, 50);
  assert.equal(row(s, "f"), undefined);
  assert.equal(row(s, "g").calls, 1); // only the one not under f
  assert.equal(row(s, "main").total_ns, 100);
});

test("hiding a file, a module", async () => {
  const t = await oneThread(SAMPLE);
  assert.equal(moduleOf("/app/lib/g.py"), "/app/lib");
  assert.equal(moduleOf("g.py"), "");
  assert.deepEqual(Array.from(hiddenCodes(t.codes, filter([{ kind: "file", value: "/app/main.py" }]))), [1, 0, 0, 1]);
  const byFile = applyFilter(t, filter([{ kind: "file", value: "/app/lib/g.py" }]));
  assert.deepEqual(Array.from(byFile.kept), [1, 1, 0, 1, 1, 0]);
  assert.equal(byFile.selfNs[1], 20); // f: g's 10 ns folded in
  assert.equal(byFile.selfNs[0], 100 - 20 - 50);
  const byModule = applyFilter(t, filter([{ kind: "module", value: "/app/lib" }]));
  assert.deepEqual(Array.from(byModule.kept), [1, 0, 0, 1, 0, 0]);
  assert.equal(byModule.selfNs[0], 50);
  assert.equal(byModule.selfNs[3], 50);
});

test("a minimum duration hides shorter calls; their time is the parent's self", async () => {
  const t = await oneThread(SAMPLE);
  const a = applyFilter(t, filter([], 5));
  assert.deepEqual(Array.from(a.kept), [1, 1, 1, 1, 0, 0]); // f [50,52) and g [95,99) are shorter
  assert.equal(a.selfNs[3], 50);
  assert.equal(a.selfNs[0], 100 - 20 - 50);
  const s = computeSummary(t, a.kept);
  assert.equal(row(s, "f").calls, 1);
  assert.equal(row(s, "g").calls, 1);
  assert.equal(row(s, "h").self_ns, 50);
});

test("the kept rows: same depths, only kept calls; empty deeper rows dropped", async () => {
  const t = await oneThread(SAMPLE);
  const idx = buildIndex(t);
  const f = filteredIndex(idx, applyFilter(t, filter([{ kind: "function", value: 1 }])));
  assert.deepEqual(f.threadRows[0].map((r) => Array.from(r)), [[0], [3, 5]]);
  assert.deepEqual(idx.threadRows[0].map((r) => Array.from(r)), [[0], [1, 3, 5], [2, 4]]);
});

test("the flame graph and the callers and callees merge only kept calls", async () => {
  const t = await oneThread(SAMPLE);
  const a = applyFilter(t, filter([{ kind: "function", value: 1 }]));
  const f = flameMerge(t, null, null, a.kept);
  const nodes = Array.from({ length: f.count }, (_, i) => [f.depth[i], f.code[i], f.total[i], f.self[i]]);
  assert.deepEqual(nodes, [[0, 0, 100, 46], [1, 3, 50, 50], [1, 2, 4, 4]]);
  assert.equal(flameMerge(t).count, 6);
  const s = flameSandwich(t, a.selfNs, [3], null, a.kept);
  assert.equal(s.callees.count, 1); // h without its f
  assert.equal(s.callees.self[0], 50);
});

test("search: text, regex, invalid regex gives a message", () => {
  assert.equal(compileSearch("  ", false), null);
  const plain = compileSearch("Ma", false);
  assert.equal(plain.test("main"), true);
  assert.equal(plain.test("m.a"), false);
  const re = compileSearch("^(f|g)$", true);
  assert.equal(re.test("f"), true);
  assert.equal(re.test("G"), true);
  assert.equal(re.test("fg"), false);
  assert.equal(compileSearch("^(f|g)$", false).test("f"), false); // not a regex unless asked
  const bad = compileSearch("(unclosed", true);
  assert.equal(bad.test, undefined);
  assert.match(bad.error, /^Invalid regular expression/);
});

test("minimum durations as typed", () => {
  assert.equal(parseDuration("1ms"), 1e6);
  assert.equal(parseDuration(" 250 us"), 250e3);
  assert.equal(parseDuration("0.5s"), 5e8);
  assert.equal(parseDuration("800ns"), 800);
  assert.equal(parseDuration("2"), 2e6);
  assert.equal(parseDuration(""), 0);
  assert.ok(Number.isNaN(parseDuration("fast")));
  assert.ok(Number.isNaN(parseDuration("1 min")));
});
