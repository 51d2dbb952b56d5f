// The minified assets of js/ (js/bundle.json "minified", built by scripts/build_js.mjs with
// esbuild) are committed: they must be what the build makes from js/ today, parse as a classic
// script, stay under the size the notebook can afford per output, and reach nothing outside.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import vm from "node:vm";
import { buildMinified } from "../../scripts/build_js.mjs";

const JS = new URL("../../js/", import.meta.url);

test("the committed minified assets are up to date (npm run build)", async () => {
  const built = await buildMinified();
  assert.ok(Object.keys(built).length > 0);
  for (const [path, text] of Object.entries(built)) {
    const committed = readFileSync(new URL(path, JS), "utf8");
    assert.ok(committed === text, `js/${path} is out of date: run npm run build`);
  }
});

test("the fragment's script parses, is under 150 kB and names no host to fetch from", () => {
  const text = readFileSync(new URL("dist/fragment.min.js", JS), "utf8");
  new vm.Script(text); // a SyntaxError fails the test
  assert.ok(Buffer.byteLength(text) < 150 * 1024, `${Buffer.byteLength(text)} bytes`);
  assert.ok(!/<\/script/i.test(text), "a </script would end the fragment's script early");
  assert.ok(!/\bfetch\(|XMLHttpRequest|https?:\/\/(?!www\.w3\.org)/.test(text), "the fragment must not request anything");
  assert.ok(!/\bimport\(/.test(text), "no dynamic import");
});
