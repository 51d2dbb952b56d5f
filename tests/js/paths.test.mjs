// shortPath (js/units.js) against the project's one table of file-name cases,
// tests/fixtures/paths.json, which the Rust core (rust/core/src/paths.rs) is checked against too.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { pathRoots, shortPath } from "../../js/units.js";

const table = JSON.parse(readFileSync(new URL("../fixtures/paths.json", import.meta.url), "utf8"));

test("shortPath follows every case of tests/fixtures/paths.json", () => {
  const roots = pathRoots({ "paths.roots": JSON.stringify(table.roots) });
  assert.equal(roots.length, table.roots.length);
  assert.ok(table.cases.length >= 8);
  const wrong = [];
  for (const [file, shown] of table.cases) {
    const got = shortPath(file, roots);
    if (got !== shown) wrong.push(`${file}: ${JSON.stringify(got)}, the table says ${JSON.stringify(shown)}`);
  }
  assert.deepEqual(wrong, []);
});

test("pathRoots leaves out what is not a [prefix/, label] pair and survives bad JSON", () => {
  const meta = { "paths.roots": JSON.stringify([["/p/", ""], [1, "y"], ["/s/", "stdlib/", 3], ["", "z"]]),
    "paths.cells": JSON.stringify([["/tmp/ipykernel_1/abc.py", "In [3]"]]) };
  assert.deepEqual(pathRoots(meta), [["/p/", ""], ["/tmp/ipykernel_1/abc.py", "In [3]"]]);
  assert.equal(shortPath("/tmp/ipykernel_1/abc.py", pathRoots(meta)), "In [3]");
  assert.deepEqual(pathRoots({ "paths.roots": "not json" }), []);
  assert.deepEqual(pathRoots({}), []);
  assert.equal(shortPath("/p/a.py", []), "/p/a.py");
});
