// The single-module bundles, built the way rust/core/src/assets.rs builds them (js/bundle.json,
// one-line sibling imports stripped), parse as ES modules with no import left and no name clash.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";

const JS = new URL("../../js/", import.meta.url);
const manifest = JSON.parse(readFileSync(new URL("bundle.json", JS), "utf8"));
const isImportLine = (l) => l.startsWith("import ") && (l.includes(' from "./') || l.includes(' from "../'));

function build(host) {
  const files = [...manifest.modules, manifest.hosts[host]];
  return files.map((f) => readFileSync(new URL(f, JS), "utf8").split("\n").filter((l) => !isImportLine(l)).join("\n")).join("\n");
}

test("every module keeps its imports on single lines at the top", () => {
  for (const f of [...manifest.modules, ...Object.values(manifest.hosts)]) {
    const src = readFileSync(new URL(f, JS), "utf8");
    const lines = src.split("\n");
    for (const [n, l] of lines.entries()) {
      if (/^\s*import\b/.test(l) && !l.startsWith("import(")) {
        assert.ok(isImportLine(l) && l.trimEnd().endsWith(";"), `${f}:${n + 1}: imports must be one line: ${l}`);
      }
      assert.ok(!/^\s*export\s+\*/.test(l) && !/^\s*export\s*\{/.test(l), `${f}:${n + 1}: no re-exports`);
    }
    if (f !== manifest.hosts.widget) assert.ok(!/export default/.test(src), `${f}: only the widget has a default export`);
  }
});

test("each host bundle parses as one module", () => {
  const dir = mkdtempSync(join(tmpdir(), "fprofile-bundle-"));
  try {
    for (const host of Object.keys(manifest.hosts)) {
      const js = build(host);
      assert.ok(!/^import /m.test(js), `${host}: an import is left`);
      const p = join(dir, `${host}.mjs`);
      writeFileSync(p, js);
      // --check parses the module: duplicate top-level declarations are a SyntaxError.
      execFileSync(process.execPath, ["--check", p], { stdio: "pipe" });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
