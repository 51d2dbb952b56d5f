// The imports of js/: no circle among the modules (every .js file under js/, hosts included), and
// js/bundle.json lists each module after every module it imports (the bundles are the modules
// concatenated in that order, so a module's top-level code may use what it imports). The walk
// reads every static import (`import ... from "./x.js"`, also over several lines) and dynamic
// `import("./x.js")` of a relative path.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";
import { fileURLToPath } from "node:url";

const JS = fileURLToPath(new URL("../../js/", import.meta.url));

/** Every .js file under `dir`, relative to js/ (dist/, the generated one, left out). */
function jsFiles(dir = JS) {
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== "dist") out.push(...jsFiles(p));
    } else if (e.name.endsWith(".js")) out.push(relative(JS, p));
  }
  return out.sort();
}

/** The relative imports of `src` (a module in js/ at path `file`), as paths relative to js/. */
export function importsOf(file, src) {
  const found = [];
  const re = /\bimport\s*(?:[^"'();]*?\sfrom\s*)?["'](\.{1,2}\/[^"']+)["']|\bimport\(\s*["'](\.{1,2}\/[^"']+)["']\s*\)/g;
  for (const m of src.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "").matchAll(re)) {
    found.push(normalize(join(dirname(file), m[1] || m[2])));
  }
  return found;
}

/** The import graph of js/: { file: [imported files] }. */
export function importGraph() {
  const graph = {};
  for (const f of jsFiles()) graph[f] = importsOf(f, readFileSync(join(JS, f), "utf8"));
  return graph;
}

/** A circle of `graph` as a list of files (the first repeated at the end), or null. */
export function findCycle(graph) {
  const state = new Map(); // file -> 1 on the path, 2 done
  const path = [];
  function visit(f) {
    state.set(f, 1);
    path.push(f);
    for (const g of graph[f] || []) {
      if (state.get(g) === 1) return [...path.slice(path.indexOf(g)), g];
      if (!state.has(g)) {
        const c = visit(g);
        if (c) return c;
      }
    }
    path.pop();
    state.set(f, 2);
    return null;
  }
  for (const f of Object.keys(graph).sort()) {
    if (!state.has(f)) {
      const c = visit(f);
      if (c) return c;
    }
  }
  return null;
}

test("the walk reads the imports there are", () => {
  const graph = importGraph();
  assert.ok(Object.keys(graph).length > 30);
  assert.ok(graph["timeline.js"].includes("actions.js"));
  assert.deepEqual(graph["hosts/widget.js"].includes("timeline.js"), true);
  for (const [f, deps] of Object.entries(graph)) {
    for (const d of deps) assert.ok(d in graph, `${f} imports ${d}, which is not a file of js/`);
  }
  // the cases the walk must see: several lines, dynamic, comments ignored
  assert.deepEqual(importsOf("a.js", 'import {\n  x,\n  y,\n} from "./b.js";\nconst m = await import("../c.js");'), ["b.js", "../c.js"]);
  assert.deepEqual(importsOf("hosts/a.js", '// import { x } from "./b.js";\n/* import "./c.js"; */\nimport "../d.js";'), ["d.js"]);
});

test("findCycle finds a circle and only one", () => {
  assert.equal(findCycle({ a: ["b"], b: ["c"], c: [] }), null);
  assert.deepEqual(findCycle({ a: ["b"], b: ["c"], c: ["a"] }), ["a", "b", "c", "a"]);
  assert.deepEqual(findCycle({ a: ["a"] }), ["a", "a"]);
});

test("no import circle in js/", () => {
  const cycle = findCycle(importGraph());
  assert.equal(cycle, null, `import circle: ${cycle && cycle.join(" -> ")}`);
});

test("js/bundle.json lists every module after the modules it imports", () => {
  const manifest = JSON.parse(readFileSync(join(JS, "bundle.json"), "utf8"));
  const graph = importGraph();
  const order = new Map(manifest.modules.map((m, i) => [m, i]));
  for (const [i, m] of manifest.modules.entries()) {
    for (const d of graph[m]) {
      assert.ok(order.has(d), `${m} imports ${d}, which js/bundle.json does not list`);
      assert.ok(order.get(d) < i, `${m} imports ${d}, listed after it in js/bundle.json`);
    }
  }
  for (const host of Object.values(manifest.hosts)) {
    for (const d of graph[host]) assert.ok(order.has(d), `${host} imports ${d}, which js/bundle.json does not list`);
  }
});

test("every name imported from a module of js/ is exported by it", () => {
  const exported = (src) => new Set([...src.matchAll(/^export\s+(?:default\s+)?(?:async\s+)?(?:function\*?|class|const|let|var)\s+([A-Za-z_$][\w$]*)/gm)].map((m) => m[1]));
  for (const f of jsFiles()) {
    const src = readFileSync(join(JS, f), "utf8");
    for (const m of src.matchAll(/^import\s*\{([^}]*)\}\s*from\s*"(\.{1,2}\/[^"]+)";/gm)) {
      const target = normalize(join(dirname(f), m[2]));
      const names = exported(readFileSync(join(JS, target), "utf8"));
      for (const spec of m[1].split(",").map((s) => s.trim()).filter(Boolean)) {
        const name = spec.split(/\s+as\s+/)[0];
        assert.ok(names.has(name), `${f} imports ${name} from ${target}, which does not export it`);
      }
    }
  }
});
