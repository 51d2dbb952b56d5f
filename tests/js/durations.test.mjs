// formatDuration (js/units.js) against the project's one table of duration-as-text cases,
// tests/fixtures/durations.json, which the Rust core and the Python layer are checked against too.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { formatDuration } from "../../js/units.js";

const table = JSON.parse(readFileSync(new URL("../fixtures/durations.json", import.meta.url), "utf8"));

test("formatDuration follows every case of tests/fixtures/durations.json", () => {
  assert.ok(Array.isArray(table.cases) && table.cases.length > 0, "the table has cases");
  const wrong = [];
  for (const [ns, text] of table.cases) {
    const got = formatDuration(ns);
    if (got !== text) wrong.push(`${ns} ns: ${JSON.stringify(got)}, the table says ${JSON.stringify(text)}`);
  }
  assert.deepEqual(wrong, [], `formatDuration disagrees with ${wrong.length} of ${table.cases.length} cases`);
});
