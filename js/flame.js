// flame.js: calls merged by call path, computed from the decoded trace (no kernel needed): the
// flame graph (flameMerge), the callers and callees of one function (flameSandwich), the Rust
// core's encodings read back (flameFromBytes, diffFlameFromBytes) and the icicle layout of a
// merged tree (flameLayout). Layer 2: depends only on the decoded trace's shape (decode.js), no DOM.
//
// The rules are rust/core/src/flame.rs's, node for node (docs/format.md, "The flame graph
// encoding"); tests/js/flame.test.mjs checks both on real recordings:
// - a path is the functions from a thread's top-level call down to a call; the calls of the chosen
//   threads with one path merge into one node (calls, total = sum of durations, self = total minus
//   the children's totals); threads merge together;
// - with a window [t0, t1) a call counts the part of it inside; a call that does not overlap it
//   (a zero-length call: that does not start in it) is left out, and so are its descendants;
// - nodes in pre-order, siblings heaviest first: total descending, then calls descending, then code.
//
// A merged tree ("flame") is columns over its nodes in pre-order:
//   { count, depth: Uint32Array, code: Int32Array, parent: Int32Array (-1 at depth 0),
//     total: Float64Array, self: Float64Array, calls: Float64Array }

/** No node (the top level's parent). */
const FLAME_NONE = -1;
/** Children a node keeps in a list before they are indexed by a Map (as the Rust arena). */
const FLAME_LIST_MAX = 8;
/** The numbers per node of the Rust encodings, in order (their count: the strides). */
const FLAME_FIELDS = ["depth", "code", "total", "self", "calls"];
const DIFF_FLAME_FIELDS = ["depth", "code", "totalA", "selfA", "callsA", "total", "self", "calls"];
export const FLAME_STRIDE = FLAME_FIELDS.length;
export const DIFF_FLAME_STRIDE = DIFF_FLAME_FIELDS.length;

/** Nodes keyed by (parent, code), in creation order; figures per node. A node's children are a
 * list (newest first) while there are at most FLAME_LIST_MAX of them, then also in an open-addressing
 * hash table of node ids (typed arrays: no allocation per node). */
class FlameArena {
  constructor(capacity) {
    this.n = 0;
    this.alloc(Math.max(16, capacity));
    this.first = new Int32Array(this.cap + 1).fill(FLAME_NONE); // per slot (0: top level, node + 1)
    this.count = new Uint32Array(this.cap + 1);
    let size = 1024;
    while (size < this.cap && size < 1 << 22) size *= 2;
    this.table = new Int32Array(size).fill(FLAME_NONE); // node ids by hash of (slot, code)
    this.tableUsed = 0;
  }
  alloc(cap) {
    const old = this.n ? this : null;
    this.cap = cap;
    const grow = (Kind, prev) => {
      const a = new Kind(cap);
      if (prev) a.set(prev.subarray(0, this.n));
      return a;
    };
    this.parent = grow(Int32Array, old && old.parent);
    this.code = grow(Int32Array, old && old.code);
    this.next = grow(Int32Array, old && old.next);
    this.calls = grow(Float64Array, old && old.calls);
    this.total = grow(Float64Array, old && old.total);
    this.self = grow(Float64Array, old && old.self);
  }
  /** The table's first probe for (slot, code). */
  hashOf(slot, code) {
    return (Math.imul(slot, 0x9e3779b1) ^ Math.imul(code + 1, 0x85ebca77)) & (this.table.length - 1);
  }
  /** The node of (slot, code) in the table, or FLAME_NONE. */
  lookup(slot, code) {
    const { table } = this;
    const mask = table.length - 1;
    for (let h = this.hashOf(slot, code); ; h = (h + 1) & mask) {
      const id = table[h];
      if (id === FLAME_NONE) return FLAME_NONE;
      if (this.code[id] === code && this.parent[id] + 1 === slot) return id;
    }
  }
  insert(id) {
    if (2 * (this.tableUsed + 1) > this.table.length) {
      const old = this.table;
      this.table = new Int32Array(old.length * 2).fill(FLAME_NONE);
      for (let h = 0; h < old.length; h++) if (old[h] !== FLAME_NONE) this.place(old[h]);
    }
    this.place(id);
    this.tableUsed++;
  }
  place(id) {
    const { table } = this;
    const mask = table.length - 1;
    let h = this.hashOf(this.parent[id] + 1, this.code[id]);
    while (table[h] !== FLAME_NONE) h = (h + 1) & mask;
    table[h] = id;
  }
  /** The node `code` under `parent` (FLAME_NONE: the top level), made when new. */
  child(parent, code) {
    const slot = parent + 1;
    const count = this.count[slot];
    if (count > FLAME_LIST_MAX) {
      const id = this.lookup(slot, code);
      if (id !== FLAME_NONE) return id;
    } else {
      for (let k = this.first[slot]; k !== FLAME_NONE; k = this.next[k]) if (this.code[k] === code) return k;
    }
    if (this.n === this.cap) {
      this.alloc(this.cap * 2);
      const first = new Int32Array(this.cap + 1).fill(FLAME_NONE);
      first.set(this.first);
      this.first = first;
      const cnt = new Uint32Array(this.cap + 1);
      cnt.set(this.count);
      this.count = cnt;
    }
    const id = this.n++;
    this.parent[id] = parent;
    this.code[id] = code;
    this.calls[id] = 0;
    this.total[id] = 0;
    this.self[id] = 0;
    this.next[id] = this.first[slot];
    this.first[slot] = id;
    this.count[slot] = count + 1;
    if (count + 1 === FLAME_LIST_MAX + 1) {
      for (let k = id; k !== FLAME_NONE; k = this.next[k]) this.insert(k);
    } else if (count + 1 > FLAME_LIST_MAX) {
      this.insert(id);
    }
    return id;
  }
  /** Self time of every node: its total minus its children's totals. */
  deriveSelf() {
    const { n, parent, total, self } = this;
    self.set(total.subarray(0, n));
    for (let i = n - 1; i >= 0; i--) {
      const p = parent[i];
      if (p !== FLAME_NONE) self[p] = Math.max(0, self[p] - total[i]);
    }
  }
  /** The nodes in pre-order, siblings heaviest first (the module's flame columns). */
  finish() {
    const { n, parent, code, total, calls } = this;
    const start = new Int32Array(n + 2); // children of slot s: kids[start[s] .. start[s + 1])
    for (let i = 0; i < n; i++) start[parent[i] + 2]++;
    for (let s = 1; s < n + 2; s++) start[s] += start[s - 1];
    const fill = start.slice(0, n + 1);
    const kids = new Int32Array(n);
    for (let i = 0; i < n; i++) kids[fill[parent[i] + 1]++] = i;
    // siblings heaviest first: total descending, then calls descending, then code
    const before = (a, b) => total[a] > total[b] || (total[a] === total[b] && (calls[a] > calls[b] || (calls[a] === calls[b] && code[a] < code[b])));
    const order = (a, b) => (before(a, b) ? -1 : before(b, a) ? 1 : 0);
    for (let s = 0; s <= n; s++) {
      const lo = start[s];
      const hi = start[s + 1];
      if (hi - lo > 24) {
        kids.subarray(lo, hi).sort(order);
      } else {
        for (let i = lo + 1; i < hi; i++) { // insertion sort: most sibling lists are short
          const v = kids[i];
          let j = i - 1;
          while (j >= lo && before(v, kids[j])) {
            kids[j + 1] = kids[j];
            j--;
          }
          kids[j + 1] = v;
        }
      }
    }
    // positions in pre-order without a walk: nodes are made after their parents, so subtree sizes
    // add up in reverse creation order and positions follow parent by parent in creation order
    const size = new Int32Array(n).fill(1);
    for (let i = n - 1; i >= 0; i--) if (parent[i] !== FLAME_NONE) size[parent[i]] += size[i];
    const pos = new Int32Array(n);
    const depthOf = new Uint32Array(n);
    for (let s = 0; s <= n; s++) {
      let at = s === 0 ? 0 : pos[s - 1] + 1;
      const d = s === 0 ? 0 : depthOf[s - 1] + 1;
      for (let k = start[s]; k < start[s + 1]; k++) {
        const id = kids[k];
        pos[id] = at;
        depthOf[id] = d;
        at += size[id];
      }
    }
    const out = emptyFlame(n);
    const self = this.self;
    for (let id = 0; id < n; id++) {
      const o = pos[id];
      const p = parent[id];
      out.parent[o] = p === FLAME_NONE ? FLAME_NONE : pos[p];
      out.depth[o] = depthOf[id];
      out.code[o] = code[id];
      out.total[o] = total[id];
      out.self[o] = self[id];
      out.calls[o] = calls[id];
    }
    return out;
  }
}

/** A merged tree of `n` nodes, all zero. */
export function emptyFlame(n = 0) {
  return {
    count: n, depth: new Uint32Array(n), code: new Int32Array(n), parent: new Int32Array(n),
    total: new Float64Array(n), self: new Float64Array(n), calls: new Float64Array(n),
  };
}

/** The deepest call of the trace, plus one (the size of a depth stack). */
function flameStackSize(trace) {
  let d = 0;
  for (const th of trace.threads) if (th.maxDepth + 1 > d) d = th.maxDepth + 1;
  return d + 1;
}

/** Per thread 1 when chosen: `threads` is null (every thread) or a list of thread indices. */
function flameChosen(trace, threads) {
  const mask = new Uint8Array(trace.threads.length);
  if (threads === null || threads === undefined) mask.fill(1);
  else for (const t of threads) if (t >= 0 && t < mask.length) mask[t] = 1;
  return mask;
}

/**
 * The flame graph of `threads` (thread indices; null: every thread), over the whole trace or
 * clipped to `win` = [t0, t1) (trace ns, like the calls'). rust/core/src/flame.rs `flame`.
 * `kept` (filters.js applyFilter, or null): only kept calls merge; a hidden call's time stays in
 * its parent node's self.
 */
export function flameMerge(trace, threads = null, win = null, kept = null) {
  if (win && !(win[1] > win[0])) return emptyFlame();
  const { calls } = trace;
  const nCodes = trace.codes.count;
  const chosen = flameChosen(trace, threads);
  let bound = 0; // the calls of the chosen threads: at most one node each
  for (const th of trace.threads) if (chosen[th.index]) bound += th.callEnd - th.callStart;
  const arena = new FlameArena(Math.min(bound, 1 << 20) + 1); // grows beyond: most traces have far fewer paths than calls
  const stack = new Int32Array(flameStackSize(trace));
  const { start, end, depth, code } = calls;
  const clip = !!win;
  const t0 = clip ? win[0] : 0;
  const t1 = clip ? win[1] : 0;
  for (const th of trace.threads) {
    if (!chosen[th.index]) continue;
    let sp = 0;
    for (let i = th.callStart; i < th.callEnd; i++) {
      const d = depth[i];
      if (d > sp) continue; // not in pre-order: no reader produces it
      sp = d;
      if (kept && !kept[i]) continue; // hidden, with its descendants (deeper than sp now)
      const parent = d === 0 ? FLAME_NONE : stack[d - 1];
      const s = start[i];
      const e = Math.max(end[i], s);
      let dur;
      if (!clip) dur = e - s;
      else if (s === e) dur = t0 <= s && s < t1 ? 0 : -1;
      else dur = s < t1 && e > t0 ? Math.min(e, t1) - Math.max(s, t0) : -1;
      const c = code[i];
      if (dur < 0 || (d > 0 && parent === FLAME_NONE) || c < 0 || c >= nCodes) {
        stack[sp++] = FLAME_NONE;
        continue;
      }
      const id = arena.child(parent, c);
      arena.calls[id] += 1;
      arena.total[id] += dur;
      stack[sp++] = id;
    }
  }
  arena.deriveSelf();
  return arena.finish();
}

/**
 * The callers and callees of the function made of `codes` in `threads` (null: all):
 * { callers, callees }, two merged trees with the function as their one depth-0 node.
 * `selfNs`: per call, its self time (layout.js buildIndex). rust/core/src/flame.rs `sandwich`.
 * `kept` (filters.js applyFilter, or null): only kept calls count (`selfNs` then its self times).
 */
export function flameSandwich(trace, selfNs, codes, threads = null, kept = null) {
  const { calls } = trace;
  const nCodes = trace.codes.count;
  const isF = new Uint8Array(nCodes);
  for (const k of codes) if (k >= 0 && k < nCodes) isF[k] = 1;
  const rootCode = codes.length ? codes[0] : 0;
  const chosen = flameChosen(trace, threads);
  const callers = new FlameArena(64);
  const callees = new FlameArena(256);
  const size = flameStackSize(trace);
  const anc = new Int32Array(size); // ancestor calls by depth
  const down = new Int32Array(size); // callee node of the call at each depth, FLAME_NONE outside
  const { start, end, depth, code } = calls;
  for (const th of trace.threads) {
    if (!chosen[th.index]) continue;
    let sp = 0;
    // the outermost active call of the function: its depth (-1: none), its callers chain, its figures
    let outerDepth = -1;
    let outerLeaf = FLAME_NONE;
    let oCalls = 0;
    let oTotal = 0;
    let oSelf = 0;
    const hi = th.callEnd;
    for (let i = th.callStart; i <= hi; i++) {
      const d = i < hi ? depth[i] : 0;
      if (d > sp) continue;
      sp = d;
      if (outerDepth >= 0 && outerDepth >= d) {
        // the outermost call ended: its figures go to every node of its chain
        for (let k = outerLeaf; k !== FLAME_NONE; k = callers.parent[k]) {
          callers.calls[k] += oCalls;
          callers.total[k] += oTotal;
          callers.self[k] += oSelf;
        }
        outerDepth = -1;
      }
      if (i === hi) break;
      if (kept && !kept[i]) continue; // hidden, with its descendants (deeper than sp now)
      const c = code[i];
      const dur = Math.max(0, end[i] - start[i]);
      const ownSelf = Math.max(0, selfNs[i] || 0);
      if (c >= 0 && c < nCodes && isF[c]) {
        if (outerDepth >= 0) {
          oCalls += 1;
          oSelf += ownSelf;
        } else {
          let leaf = callers.child(FLAME_NONE, rootCode);
          for (let a = sp - 1; a >= 0; a--) leaf = callers.child(leaf, code[anc[a]]);
          outerDepth = d;
          outerLeaf = leaf;
          oCalls = 1;
          oTotal = dur;
          oSelf = ownSelf;
        }
      }
      let node = FLAME_NONE;
      if (outerDepth >= 0 && outerDepth === d) node = callees.child(FLAME_NONE, rootCode);
      else if (outerDepth >= 0 && sp > 0 && down[sp - 1] !== FLAME_NONE) node = callees.child(down[sp - 1], c);
      if (node !== FLAME_NONE) {
        callees.calls[node] += 1;
        callees.total[node] += dur;
      }
      down[sp] = node;
      anc[sp] = i;
      sp++;
    }
  }
  callees.deriveSelf();
  return { codes: codes.slice(), callers: callers.finish(), callees: callees.finish() };
}

/** Little-endian f64 of `buf` (an ArrayBuffer, a typed array or a DataView), copied when unaligned. */
function flameF64(buf) {
  const u8 = buf instanceof ArrayBuffer ? new Uint8Array(buf) : new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  const n = Math.floor(u8.byteLength / 8);
  if (u8.byteOffset % 8 === 0) return new Float64Array(u8.buffer, u8.byteOffset, n);
  return new Float64Array(u8.slice(0, n * 8).buffer);
}

/** Parent of each node of a pre-order list of depths (the nearest previous node one less deep). */
function flameParents(depth) {
  const n = depth.length;
  const parent = new Int32Array(n);
  const last = [];
  for (let i = 0; i < n; i++) {
    const d = depth[i];
    parent[i] = d === 0 ? FLAME_NONE : (last[d - 1] === undefined ? FLAME_NONE : last[d - 1]);
    last[d] = i;
    last.length = d + 1;
  }
  return parent;
}

/**
 * Records of f64s (the Rust encodings, one field after the other) as flame columns: `fields` names
 * the column of each field in record order; a column `emptyFlame` has not is made (Float64Array).
 */
function flameFromRecords(buf, fields) {
  const a = flameF64(buf);
  const stride = fields.length;
  const n = Math.floor(a.length / stride);
  const f = emptyFlame(n);
  fields.forEach((name, k) => {
    const column = f[name] ?? (f[name] = new Float64Array(n));
    for (let i = 0; i < n; i++) column[i] = a[i * stride + k];
  });
  f.parent = flameParents(f.depth);
  return f;
}

/** The Rust encoding of a flame (`Flame::encode`, `_core.flame_bytes`) as flame columns. */
export function flameFromBytes(buf) {
  return flameFromRecords(buf, FLAME_FIELDS);
}

/**
 * The differential tree of two runs (`Comparison.flame_bytes()`): flame columns of b (`code` is
 * the function's index in the comparison's rows; total, self and calls are b's) with a's figures
 * in totalA, selfA, callsA. A path only in a has calls = 0, one only in b callsA = 0.
 */
export function diffFlameFromBytes(buf) {
  return flameFromRecords(buf, DIFF_FLAME_FIELDS);
}

/**
 * The icicle layout of a flame whose widths are `width[i]` (default: total): per node its x offset
 * from the left of the whole (same unit as the widths) and the end of its subtree in pre-order
 * (`end[i]`: the first node after it that is not its descendant); `sum` is the top level's width.
 */
export function flameLayout(f, width = f.total) {
  const n = f.count;
  const x = new Float64Array(n);
  const end = new Int32Array(n);
  const cursor = new Float64Array(n); // next child's x per node
  let top = 0;
  const open = new Int32Array(n + 1); // the path of the current node
  let sp = 0;
  for (let i = 0; i < n; i++) {
    const d = f.depth[i];
    while (sp > d) end[open[--sp]] = i;
    const p = f.parent[i];
    if (p < 0) {
      x[i] = top;
      top += width[i];
    } else {
      x[i] = cursor[p];
      cursor[p] += width[i];
    }
    cursor[i] = x[i];
    open[sp++] = i;
  }
  while (sp > 0) end[open[--sp]] = n;
  return { x, end, sum: top };
}

/** The path of node `i` as codes from the top (the node's own code last). */
export function flamePath(f, i) {
  const out = [];
  for (let k = i; k >= 0; k = f.parent[k]) out.push(f.code[k]);
  return out.reverse();
}

/** The node of `f` with path `codes`, or the deepest node along it (-1 when even the top is missing). */
export function flameFind(f, codes) {
  let node = -1;
  let from = 0;
  for (let d = 0; d < codes.length; d++) {
    let found = -1;
    for (let i = from; i < f.count; i++) {
      if (f.depth[i] < d) break; // left node's subtree
      if (f.depth[i] === d && f.parent[i] === node && f.code[i] === codes[d]) {
        found = i;
        break;
      }
    }
    if (found < 0) break;
    node = found;
    from = found + 1;
  }
  return node;
}
