// Builds the minified assets of js/ listed in js/bundle.json "minified" (today the notebook
// fragment, js/hosts/fragment.js -> js/dist/fragment.min.js) with esbuild, from the ES modules.
// The outputs are committed (a clone and a wheel build need no Node); after a change in js/, run
//   npm run build
// tests/js/minified.test.mjs fails while they are out of date, and rust/core/src/assets.rs includes
// them at compile time, so a missing or truncated file fails the build, not a notebook.
// Usage: node scripts/build_js.mjs [--check]   (--check: exit 1 if a file would change)
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { createHash } from "node:crypto";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const JS = new URL("../js/", import.meta.url);

/** The text of every minified asset: { out path (under js/): text }. */
export async function buildMinified() {
  const manifest = JSON.parse(readFileSync(new URL("bundle.json", JS), "utf8"));
  const css = (await esbuild.transform(manifest.css.map((f) => readFileSync(new URL(f, JS), "utf8")).join("\n"),
    { loader: "css", minify: true })).code;
  const cssId = "fprofile-css-" + createHash("sha256").update(css).digest("hex").slice(0, 12);
  const out = {};
  for (const [name, spec] of Object.entries(manifest.minified)) {
    if (name === "comment") continue;
    const r = await esbuild.build({
      entryPoints: [fileURLToPath(new URL(spec.entry, JS))],
      bundle: true, minify: true, format: "iife", target: "es2020", write: false, legalComments: "none",
      define: { FPROFILE_CSS: JSON.stringify(css), FPROFILE_CSS_ID: JSON.stringify(cssId) },
      logLevel: "silent",
    });
    // a script inside an HTML <script> element: "</script" must not appear
    const text = r.outputFiles[0].text.replace(/<\/(script)/gi, "<\\/$1");
    out[spec.out] = text;
  }
  return out;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const check = process.argv.includes("--check");
  let stale = 0;
  for (const [path, text] of Object.entries(await buildMinified())) {
    const url = new URL(path, JS);
    let old = null;
    try { old = readFileSync(url, "utf8"); } catch { /* missing */ }
    if (old === text) continue;
    if (check) { console.error(`js/${path} is out of date: run npm run build`); stale++; continue; }
    mkdirSync(dirname(fileURLToPath(url)), { recursive: true });
    writeFileSync(url, text);
    console.error(`wrote js/${path} (${text.length.toLocaleString("en")} bytes)`);
  }
  process.exit(stale ? 1 : 0);
}
