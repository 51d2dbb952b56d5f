// The timeline's colour and axis rules against the shared tables the Rust core's picture
// (rust/core/src/colours.rs, units.rs `time_ticks`; rust/core/src/formats/png/) is checked
// against too: tests/fixtures/colours.json (function and thread colours, as the CSS the timeline
// sets and as the 8-bit sRGB a browser draws them in) and tests/fixtures/ticks.json (axis ticks
// and labels). So the static picture cannot drift from the timeline: a change to
// js/render.js codeColours / threadColour or js/units.js timeTicks fails here until the tables
// are regenerated (FPROFILE_REGEN_FIXTURES=1 node --test tests/js/picture_rules.test.mjs), and then
// fails the Rust tests until the core follows.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { codeColours, threadColour } from "../../js/render.js";
import { timeTicks } from "../../js/units.js";

const COLOURS = new URL("../fixtures/colours.json", import.meta.url);
const TICKS = new URL("../fixtures/ticks.json", import.meta.url);

/** An `hsl(h s% l%)` colour as a browser draws it: CSS Color 4's hsl -> sRGB, 8 bits per channel, "#rrggbb". */
function cssHslToHex(css) {
  const [h, s, l] = css.match(/[\d.]+/g).map(Number);
  const sat = s / 100;
  const lig = l / 100;
  const f = (n) => {
    const k = (n + h / 30) % 12;
    const a = sat * Math.min(lig, 1 - lig);
    return lig - a * Math.max(-1, Math.min(k - 3, 9 - k, 1));
  };
  return "#" + [f(0), f(8), f(4)].map((v) => Math.round(v * 255).toString(16).padStart(2, "0")).join("");
}

// Names that exercise the hash (non-ASCII, astral characters: UTF-16 code units), and many plain ones.
function codeNames() {
  const names = [["main", "/app/main.py"], ["load", "/app/io.py"], ["work", "/app/work.py"], ["step_λ", "/app/ünï.py"],
    ["<module>", "<ipython-input-3>"], ["函数", "/srv/cjk.py"], ["emoji_😀", "/x/e.py"], ["", ""],
    ["function_00", "/home/user/project/module_0.py"], ["run_pipeline", "/home/u/threads_demo.py"], ["sleep", "<built-in>"]];
  for (let i = 0; i < 60; i++) names.push([`fn_${i}`, `/app/m${i % 7}.py`]);
  return names;
}

const TICK_CASES = [[0, 60.87e6, 8], [449400, 61310000, 10], [7797959, 7798357, 6], [-810, 81830, 8], [3e9, 3.5e9, 5],
  [0, 1000, 8], [0, 7, 10], [0, 1, 3], [12, 5e9, 9], [0, 123456789, 12], [5e12, 5.002e12, 7], [0, 999, 4], [100, 100, 4],
  [0, 65.9e6, 11], [0, 2.5e9, 10], [1000003, 1000017, 5], [0, 36e11, 8], [-5e6, 5e6, 6], [250, 1750, 3], [0, 86399e9, 9]];

function makeColours() {
  const names = codeNames();
  const codes = { count: names.length, name: names.map((n) => n[0]), file: names.map((n) => n[1]) };
  const light = codeColours(codes, false).fill;
  const dark = codeColours(codes, true).fill;
  return {
    about: "Function colours (js/render.js codeColours: [name, file, light css, light sRGB, dark css, dark sRGB]) and thread " +
      "colours (threadColour: [index, light css, light sRGB, dark css, dark sRGB]). The sRGB is CSS Color 4's hsl " +
      "conversion at 8 bits. Checked by tests/js/picture_rules.test.mjs and rust/core/src/colours.rs.",
    codes: names.map(([n, f], i) => [n, f, light[i], cssHslToHex(light[i]), dark[i], cssHslToHex(dark[i])]),
    threads: Array.from({ length: 24 }, (_, i) => [i, threadColour(i, false), cssHslToHex(threadColour(i, false)),
      threadColour(i, true), cssHslToHex(threadColour(i, true))]),
  };
}

function makeTicks() {
  return {
    about: "Axis ticks (js/units.js timeTicks): [start_ns, end_ns, max_ticks, step_ns, unit, [[t_ns, label], ...]]. " +
      "Checked by tests/js/picture_rules.test.mjs and rust/core/src/units.rs time_ticks.",
    cases: TICK_CASES.map(([a, b, m]) => {
      const r = timeTicks(a, b, m);
      return [a, b, m, r.step_ns, r.unit, r.ticks.map((t) => [t.t_ns + 0, t.label])  /* + 0: -0 reads 0 in JSON */];
    }),
  };
}

/** A table as JSON with one row per line. */
function tableJson(table) {
  const parts = Object.entries(table).map(([k, v]) =>
    Array.isArray(v) ? ` ${JSON.stringify(k)}: [\n${v.map((r) => "  " + JSON.stringify(r)).join(",\n")}\n ]` : ` ${JSON.stringify(k)}: ${JSON.stringify(v)}`);
  return `{\n${parts.join(",\n")}\n}\n`;
}

if (process.env.FPROFILE_REGEN_FIXTURES) {
  writeFileSync(COLOURS, tableJson(makeColours()));
  writeFileSync(TICKS, tableJson(makeTicks()));
}

test("function and thread colours are those of tests/fixtures/colours.json (what the Rust picture draws)", () => {
  const table = JSON.parse(readFileSync(COLOURS, "utf8"));
  assert.ok(table.codes.length > 60 && table.threads.length > 20);
  assert.deepEqual(makeColours(), table);
  // the table's sRGB is what the css reads as: spot-check the conversion on known colours
  assert.equal(cssHslToHex("hsl(0 100% 50%)"), "#ff0000");
  assert.equal(cssHslToHex("hsl(120 100% 25%)"), "#008000");
  assert.equal(cssHslToHex("hsl(200.0 60% 42%)"), "#2b81ab");
});

test("axis ticks are those of tests/fixtures/ticks.json (what the Rust picture draws)", () => {
  const table = JSON.parse(readFileSync(TICKS, "utf8"));
  assert.ok(table.cases.length >= 20);
  assert.deepEqual(makeTicks(), table);
});
