// Box label colours: readable on every function colour, in both themes (js/render.js).
import { test } from "node:test";
import assert from "node:assert/strict";
import { codeColours, hslLuminance, labelColourOn } from "../../js/render.js";

const contrast = (a, b) => (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
const TEXT_LUMINANCE = { "#111418": 0.0069, "#f0f0f0": 0.871 };

test("hsl luminance: black, white, pure primaries", () => {
  assert.ok(Math.abs(hslLuminance(0, 0, 0)) < 1e-9);
  assert.ok(Math.abs(hslLuminance(0, 0, 100) - 1) < 1e-9);
  assert.ok(Math.abs(hslLuminance(0, 100, 50) - 0.2126) < 1e-6); // red
  assert.ok(Math.abs(hslLuminance(120, 100, 50) - 0.7152) < 1e-6); // green
  assert.ok(Math.abs(hslLuminance(240, 100, 50) - 0.0722) < 1e-6); // blue
});

test("labels are dark on bright fills (greens, yellows) and light on dark ones (blues, purples)", () => {
  assert.equal(labelColourOn(120, 60, 45), "#111418");
  assert.equal(labelColourOn(60, 60, 40), "#111418");
  assert.equal(labelColourOn(240, 60, 40), "#f0f0f0");
  assert.equal(labelColourOn(280, 60, 36), "#f0f0f0");
});

test("every function colour of both themes gets a label with at least 4.5:1 contrast", () => {
  const n = 2000;
  const codes = { count: n, name: [], file: [] };
  for (let i = 0; i < n; i++) { codes.name.push(`fn_${i}`); codes.file.push(`/app/m${i % 7}.py`); }
  for (const dark of [false, true]) {
    const { fill, text } = codeColours(codes, dark);
    let worst = Infinity;
    for (let c = 0; c < n; c++) {
      const [h, s, l] = fill[c].match(/[\d.]+/g).map(Number);
      worst = Math.min(worst, contrast(hslLuminance(h, s, l), TEXT_LUMINANCE[text[c]]));
    }
    assert.ok(worst >= 4.5, `${dark ? "dark" : "light"} theme: worst label contrast ${worst.toFixed(2)}`);
  }
});
