// Cross-check of js/flame.js against the Rust core (rust/core/src/flame.rs) on real recordings:
// run by tests/test_flame_js.py, which writes, per recording, the .fpt and what the core computes
// (`_core.flame_bytes` for several thread sets and windows, `Trace.callers` / `Trace.callees`
// flattened in pre-order) into one JSON file. Usage: node flame_crosscheck.mjs case.json...
// Prints one line per comparison; exits 1 at the first difference, naming it.
import { readFileSync } from "node:fs";
import { decodeFpt } from "../../js/decode.js";
import { buildIndex } from "../../js/layout.js";
import { flameMerge, flameSandwich, flameFromBytes } from "../../js/flame.js";

const rows = (f) => Array.from({ length: f.count }, (_, i) => [f.depth[i], f.code[i], f.calls[i], f.total[i], f.self[i]]);

function same(what, js, rust) {
  const a = JSON.stringify(js);
  const b = JSON.stringify(rust);
  if (a !== b) {
    const n = Math.min(js.length, rust.length);
    let k = 0;
    while (k < n && JSON.stringify(js[k]) === JSON.stringify(rust[k])) k++;
    console.error(`${what}: JS and Rust differ at node ${k} of ${js.length} / ${rust.length}: ` +
      `${JSON.stringify(js[k])} vs ${JSON.stringify(rust[k])}`);
    process.exit(1);
  }
  console.log(`${what}: ${js.length} nodes equal`);
}

for (const path of process.argv.slice(2)) {
  const c = JSON.parse(readFileSync(path, "utf8"));
  const trace = await decodeFpt(readFileSync(c.fpt));
  for (const f of c.flames) {
    const js = flameMerge(trace, f.threads, f.window);
    same(`${c.name} flame threads=${JSON.stringify(f.threads)} window=${JSON.stringify(f.window)}`,
      rows(js), rows(flameFromBytes(Buffer.from(f.bytes, "base64"))));
  }
  const { selfNs } = buildIndex(trace);
  for (const s of c.sandwiches) {
    const js = flameSandwich(trace, selfNs, [s.code], s.threads);
    same(`${c.name} callers of ${s.code} threads=${JSON.stringify(s.threads)}`, rows(js.callers), s.callers);
    same(`${c.name} callees of ${s.code} threads=${JSON.stringify(s.threads)}`, rows(js.callees), s.callees);
  }
}
