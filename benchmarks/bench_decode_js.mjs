// Time js/decode.js (or another copy of it) on an .fpt file in node: median of 7 decodes.
// Usage: node benchmarks/bench_decode_js.mjs FILE.fpt [PATH/TO/decode.js]
// The figures in benchmarks/README.md compare this tree's decoder on a file it wrote with the
// decoder of commit 86fa025 (`git show 86fa025:js/decode.js > /tmp/decode_old.mjs`) on the same
// trace written by that commit's build.
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const [file, mod = new URL("../js/decode.js", import.meta.url).href] = process.argv.slice(2);
if (!file) {
  console.error("usage: node benchmarks/bench_decode_js.mjs FILE.fpt [decode.js]");
  process.exit(2);
}
const { decodeFpt } = await import(mod.startsWith("file:") ? mod : pathToFileURL(mod).href);
const bytes = readFileSync(file);
const times = [];
let t;
for (let i = 0; i < 7; i++) {
  const t0 = performance.now();
  t = await decodeFpt(bytes);
  times.push(performance.now() - t0);
}
times.sort((a, b) => a - b);
console.log(JSON.stringify({ file, calls: t.calls.count, bytes: bytes.length, median_ms: Math.round(times[3] * 10) / 10 }));
