//! Calls merged by call path: the flame graph (icicle) of a trace ([`flame`]) and the callers and
//! callees of one function ([`sandwich`]).
//!
//! A *path* is the sequence of functions (codes) from a top-level call down to a call; all calls
//! with the same path, in the chosen threads, merge into one [`Node`] with their number (`calls`),
//! the sum of their durations (`total_ns`) and of their self times (`self_ns` = `total_ns` minus
//! the children's `total_ns`). Threads merge together: a path starts at a thread's top-level call,
//! whichever thread it is. Two calls with one path are never nested (they have the same depth), so
//! no time is counted twice within a node; a recursive function has one node per recursion depth.
//!
//! The result is a flat pre-order array ([`Flame::nodes`]): a parent before its children, siblings
//! heaviest first (`total_ns` descending, then `calls` descending, then code), each node with its
//! depth. [`Flame::encode`] is the compact form sent to the timeline (`docs/format.md`, "The flame
//! graph encoding").
//!
//! Per function, the nodes add up to the summary ([`crate::summary`]): `calls` and `self_ns` are
//! the sums over the function's nodes, `total_ns` the sum over its nodes that have no ancestor of
//! the same function (recursion counted once); `tests/flame.rs` checks it on random traces.
//!
//! [`FlameWalk`] makes the same graph from a file's events as they are read (a file-backed trace,
//! `crate::filetrace`), in memory bounded by the call paths.
//!
//! (Over 500 lines with its unit tests, which need the private path merging; the code is about 560.)

use std::collections::HashMap;

use serde::Serialize;

use crate::model::Trace;
use crate::stacks::call_count;

/// Calls, total and self time of a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Figures {
    pub calls: u64,
    pub total_ns: u64,
    pub self_ns: u64,
}

impl Figures {
    pub fn add(&mut self, o: &Figures) {
        self.calls += o.calls;
        self.total_ns = self.total_ns.saturating_add(o.total_ns);
        self.self_ns = self.self_ns.saturating_add(o.self_ns);
    }
}

/// One merged path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Node {
    /// 0 for a top-level path (the root of a callers or callees tree).
    pub depth: u32,
    /// The function at the end of the path (index into `Trace::codes`).
    pub code: u32,
    /// Index of the parent node in [`Flame::nodes`], `u32::MAX` for depth 0.
    pub parent: u32,
    #[serde(flatten)]
    pub figures: Figures,
}

/// Merged paths in pre-order, siblings heaviest first (see the module docs).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Flame {
    pub nodes: Vec<Node>,
}

/// Numbers per node in [`Flame::encode`]: depth, code, total_ns, self_ns, calls.
pub const FLAME_STRIDE: usize = 5;

impl Flame {
    /// The compact encoding: `FLAME_STRIDE` little-endian f64 per node, in pre-order (depth, code,
    /// total_ns, self_ns, calls); a `Float64Array` in JavaScript. Exact below 2^53 (104 days of ns).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.nodes.len() * FLAME_STRIDE * 8);
        for n in &self.nodes {
            for v in [n.depth as f64, n.code as f64, n.figures.total_ns as f64, n.figures.self_ns as f64, n.figures.calls as f64]
            {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        out
    }

    /// Indices of the children of node `i` (of the top-level nodes for `None`), heaviest first.
    pub fn children(&self, i: Option<usize>) -> Vec<usize> {
        let parent = i.map_or(u32::MAX, |i| i as u32);
        let (from, depth) = match i {
            Some(i) => (i + 1, self.nodes.get(i).map_or(0, |n| n.depth + 1)),
            None => (0, 0),
        };
        self.nodes[from.min(self.nodes.len())..]
            .iter()
            .enumerate()
            .take_while(|(_, n)| n.depth >= depth)
            .filter(|(_, n)| n.parent == parent)
            .map(|(k, _)| from + k)
            .collect()
    }
}

/// The part of the timeline to merge: calls are clipped to `[t0_ns, t1_ns)` (times relative to
/// the trace origin, like the calls'); calls that do not overlap it are left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub t0_ns: i64,
    pub t1_ns: i64,
}

// ------------------------------------------------------------------------------------------------
// The arena: nodes keyed by (parent, code), shared with `compare` (the differential tree).

/// No parent: a top-level node.
pub(crate) const NONE: u32 = u32::MAX;

/// Children a node keeps in a list before they are indexed by hash.
const LIST_MAX: u32 = 8;

/// Nodes keyed by (parent, code), in creation order (a parent before its children).
///
/// A node's children are a linked list (newest first), searched in order while there are at most
/// [`LIST_MAX`] of them, and looked up in a hash index beyond: most nodes of real and random
/// traces have few children, and a short list walk costs less than a hash lookup's cache misses
/// (measured: a 1M-path random trace merges in a third of the time of a hash per call), while a node with thousands of
/// children still costs one lookup per call.
pub(crate) struct Arena<P> {
    pub parent: Vec<u32>,
    pub code: Vec<u32>,
    pub payload: Vec<P>,
    /// Per node: the next sibling (`NONE`: last).
    next_sibling: Vec<u32>,
    /// Per parent slot (0 for the top level, node + 1 for a node): first child and child count.
    first_child: Vec<u32>,
    child_count: Vec<u32>,
    /// (parent, code) -> node, for the children of parents with more than `LIST_MAX` children.
    index: HashMap<(u32, u32), u32>,
}

impl<P: Default> Arena<P> {
    pub fn new() -> Self {
        Arena {
            parent: Vec::new(),
            code: Vec::new(),
            payload: Vec::new(),
            next_sibling: Vec::new(),
            first_child: vec![NONE],
            child_count: vec![0],
            index: HashMap::new(),
        }
    }

    /// The node `code` under `parent` (`NONE`: top level), made when new.
    pub fn child(&mut self, parent: u32, code: u32) -> u32 {
        let slot = parent.wrapping_add(1) as usize; // NONE + 1 = 0: the top level
        let count = self.child_count[slot];
        if count > LIST_MAX {
            if let Some(&id) = self.index.get(&(parent, code)) {
                return id;
            }
        } else {
            let mut k = self.first_child[slot];
            while k != NONE {
                if self.code[k as usize] == code {
                    return k;
                }
                k = self.next_sibling[k as usize];
            }
        }
        let id = self.parent.len() as u32;
        self.parent.push(parent);
        self.code.push(code);
        self.payload.push(P::default());
        self.next_sibling.push(self.first_child[slot]);
        self.first_child.push(NONE);
        self.child_count.push(0);
        self.first_child[slot] = id;
        self.child_count[slot] = count + 1;
        if count + 1 == LIST_MAX + 1 {
            let mut k = id;
            while k != NONE {
                self.index.insert((parent, self.code[k as usize]), k);
                k = self.next_sibling[k as usize];
            }
        } else if count + 1 > LIST_MAX {
            self.index.insert((parent, code), id);
        }
        id
    }

    /// Node ids in pre-order with their depths, siblings ordered by `order`.
    pub fn preorder(&self, order: impl Fn(u32, u32) -> std::cmp::Ordering) -> Vec<(u32, u32)> {
        let n = self.parent.len();
        // children lists as one array (CSR): counts, offsets, fill
        let mut start = vec![0u32; n + 2];
        for &p in &self.parent {
            let slot = if p == NONE { 0 } else { p as usize + 1 };
            start[slot + 1] += 1;
        }
        for i in 1..start.len() {
            start[i] += start[i - 1];
        }
        let mut fill = start.clone();
        let mut kids = vec![0u32; n];
        for (i, &p) in self.parent.iter().enumerate() {
            let slot = if p == NONE { 0 } else { p as usize + 1 };
            kids[fill[slot] as usize] = i as u32;
            fill[slot] += 1;
        }
        for s in 0..n + 1 {
            kids[start[s] as usize..start[s + 1] as usize].sort_by(|&a, &b| order(a, b));
        }
        let mut out = Vec::with_capacity(n);
        let mut stack: Vec<(u32, u32)> = kids[start[0] as usize..start[1] as usize].iter().rev().map(|&k| (k, 0)).collect();
        while let Some((k, d)) = stack.pop() {
            out.push((k, d));
            let s = k as usize + 1;
            stack.extend(kids[start[s] as usize..start[s + 1] as usize].iter().rev().map(|&c| (c, d + 1)));
        }
        out
    }
}

impl Arena<Figures> {
    /// Self time of every node: its total minus its children's totals.
    fn derive_self(&mut self) {
        for i in 0..self.payload.len() {
            self.payload[i].self_ns = self.payload[i].total_ns;
        }
        for i in (0..self.payload.len()).rev() {
            let p = self.parent[i];
            if p != NONE {
                let t = self.payload[i].total_ns;
                let slot = &mut self.payload[p as usize].self_ns;
                *slot = slot.saturating_sub(t);
            }
        }
    }

    fn finish(&self) -> Flame {
        let f = &self.payload;
        let order = self.preorder(|a, b| {
            let (x, y) = (&f[a as usize], &f[b as usize]);
            y.total_ns.cmp(&x.total_ns).then(y.calls.cmp(&x.calls)).then(self.code[a as usize].cmp(&self.code[b as usize]))
        });
        let mut pos = vec![NONE; f.len()];
        let mut nodes = Vec::with_capacity(order.len());
        for (k, (id, depth)) in order.into_iter().enumerate() {
            pos[id as usize] = k as u32;
            let p = self.parent[id as usize];
            nodes.push(Node {
                depth,
                code: self.code[id as usize],
                parent: if p == NONE { NONE } else { pos[p as usize] },
                figures: f[id as usize],
            });
        }
        Flame { nodes }
    }
}

/// Whether thread `ti` is chosen (`None`: every thread).
fn chosen(threads: Option<&[u32]>, ti: usize) -> bool {
    match threads {
        None => true,
        Some(s) => s.contains(&(ti as u32)),
    }
}

/// The flame graph of `threads` (indices into `Trace::threads`; `None` = all, merged together),
/// over the whole trace or clipped to `window` (see the module docs). A call is in the window
/// when it overlaps it (start < t1 and end > t0), or has no duration and starts in it; a call
/// whose parent is not in the window is not either. An empty window (`t1 <= t0`) holds nothing.
pub fn flame(t: &Trace, threads: Option<&[u32]>, window: Option<Window>) -> Flame {
    if window.is_some_and(|w| w.t1_ns <= w.t0_ns) {
        return Flame::default();
    }
    let c = &t.calls;
    let n = call_count(c);
    let n_codes = t.codes.len();
    let mut arena: Arena<Figures> = Arena::new();
    let mut stack: Vec<u32> = Vec::new(); // node of the call at each depth, NONE when left out
    for (ti, th) in t.threads.iter().enumerate() {
        if !chosen(threads, ti) {
            continue;
        }
        stack.clear();
        let lo = (th.call_range.0 as usize).min(n);
        let hi = (th.call_range.1 as usize).clamp(lo, n);
        for i in lo..hi {
            let d = c.depth[i] as usize;
            if d > stack.len() {
                continue; // not in pre-order: no reader produces it
            }
            stack.truncate(d);
            let parent = if d == 0 { NONE } else { stack[d - 1] };
            let (s, e) = (c.start_ns[i], c.end_ns[i].max(c.start_ns[i]));
            let dur = match window {
                None => Some(e.saturating_sub(s)),
                Some(w) if s == e => (w.t0_ns <= s && s < w.t1_ns).then_some(0),
                Some(w) => (s < w.t1_ns && e > w.t0_ns).then(|| e.min(w.t1_ns).saturating_sub(s.max(w.t0_ns))),
            };
            let code = c.code[i];
            let left_out = (d > 0 && parent == NONE) || code as usize >= n_codes;
            match dur {
                Some(dur) if !left_out => {
                    let id = arena.child(parent, code);
                    let f = &mut arena.payload[id as usize];
                    f.calls += 1;
                    f.total_ns = f.total_ns.saturating_add(dur.max(0) as u64);
                    stack.push(id);
                }
                _ => stack.push(NONE),
            }
        }
    }
    arena.derive_self();
    arena.finish()
}

/// The callers and callees of one function.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Sandwich {
    /// The codes taken as the function (usually one).
    pub codes: Vec<u32>,
    /// Its callers merged upward: node 0 is the function itself, with its summary figures (all its
    /// calls; total time with recursion counted once; self time); a node at depth k is a chain
    /// of k callers (its parent's chain plus the caller of the outermost one), with the function's
    /// figures restricted to the calls made through that chain. A recursive call belongs to the
    /// chain of its outermost call of the function.
    pub callers: Flame,
    /// Its callees merged downward: node 0 is the function (its outermost calls: recursion counted
    /// once, so `total_ns` is the summary's), the rest its calls' subtrees merged by path as in
    /// [`flame`] (a recursive call appears at its path below).
    pub callees: Flame,
}

/// Callers and callees of the function made of `codes` in `threads` (`None` = all).
pub fn sandwich(t: &Trace, codes: &[u32], threads: Option<&[u32]>) -> Sandwich {
    let c = &t.calls;
    let n = call_count(c);
    let is_f = |k: u32| codes.contains(&k);
    let root_code = codes.first().copied().unwrap_or(0);
    let self_ns = crate::stacks::self_times(t);
    let mut callers: Arena<Figures> = Arena::new();
    let mut callees: Arena<Figures> = Arena::new();
    let mut anc: Vec<usize> = Vec::new(); // ancestor calls by depth
    let mut down: Vec<u32> = Vec::new(); // callee node of the call at each depth, NONE outside
    for (ti, th) in t.threads.iter().enumerate() {
        if !chosen(threads, ti) {
            continue;
        }
        anc.clear();
        down.clear();
        // the outermost active call of the function: its depth, its callers chain, its figures
        let mut outer: Option<(usize, u32, Figures)> = None;
        let lo = (th.call_range.0 as usize).min(n);
        let hi = (th.call_range.1 as usize).clamp(lo, n);
        for i in lo..=hi {
            let d = if i < hi { c.depth[i] as usize } else { 0 };
            if d > anc.len() {
                continue;
            }
            anc.truncate(d);
            down.truncate(d);
            if let Some((od, leaf, fig)) = outer {
                if od >= d {
                    // the outermost call ended: its figures go to every node of its chain
                    let mut k = leaf;
                    while k != NONE {
                        callers.payload[k as usize].add(&fig);
                        k = callers.parent[k as usize];
                    }
                    outer = None;
                }
            }
            if i == hi {
                break;
            }
            let code = c.code[i];
            let dur = c.end_ns[i].saturating_sub(c.start_ns[i]).max(0) as u64;
            let own_self = self_ns.get(i).copied().unwrap_or(0).max(0) as u64;
            if is_f(code) {
                match &mut outer {
                    Some((_, _, fig)) => {
                        fig.calls += 1;
                        fig.self_ns = fig.self_ns.saturating_add(own_self);
                    }
                    None => {
                        let mut leaf = callers.child(NONE, root_code);
                        for &a in anc.iter().rev() {
                            leaf = callers.child(leaf, c.code[a]);
                        }
                        outer = Some((d, leaf, Figures { calls: 1, total_ns: dur, self_ns: own_self }));
                    }
                }
            }
            let node = match (outer, down.last()) {
                (Some((od, _, _)), _) if od == d => Some(callees.child(NONE, root_code)),
                (Some(_), Some(&p)) if p != NONE => Some(callees.child(p, code)),
                _ => None,
            };
            match node {
                Some(id) => {
                    let f = &mut callees.payload[id as usize];
                    f.calls += 1;
                    f.total_ns = f.total_ns.saturating_add(dur);
                    down.push(id);
                }
                None => down.push(NONE),
            }
            anc.push(i);
        }
    }
    callees.derive_self();
    Sandwich { codes: codes.to_vec(), callers: callers.finish(), callees: callees.finish() }
}

// ------------------------------------------------------------------------------------------------
// The flame graph of a file's events (`crate::formats::fpt::walk_file`), without its calls.

/// A call open in [`FlameWalk`]: whether it is in the flame graph is known at its entry, or only
/// at its exit (a call begun before the window is in it when it ends after the window's start).
enum Open {
    /// Left out, with everything inside it.
    Out,
    /// In: its node (figures added at its exit).
    In(u32),
    /// Began before the window's start: in when it ends after it.
    Before,
    /// Began at the window's start inside a call not known to be in yet: in when that one is.
    AtStart,
}

struct WalkFrame {
    code: u32,
    start: i64,
    open: Open,
    /// Calls of no duration at the window's start, inside it, waiting for it to be known in:
    /// (path of codes below it, calls).
    pending: Vec<(Vec<u32>, u64)>,
}

/// [`flame`] computed from a trace's events as [`crate::formats::fpt::walk_file`] reads them (one
/// pass; memory bounded by the call paths and the open calls, not the calls): the same graph.
pub struct FlameWalk<'a> {
    threads: Option<&'a [u32]>,
    window: Option<Window>,
    arena: Arena<Figures>,
    stack: Vec<WalkFrame>,
    on: bool,
}

impl<'a> FlameWalk<'a> {
    /// The flame graph of `threads` over `window`, as [`flame`]'s arguments.
    pub fn new(threads: Option<&'a [u32]>, window: Option<Window>) -> Self {
        FlameWalk { threads, window, arena: Arena::new(), stack: Vec::new(), on: false }
    }

    /// The graph of the events seen.
    pub fn finish(mut self) -> Flame {
        if self.window.is_some_and(|w| w.t1_ns <= w.t0_ns) {
            return Flame::default();
        }
        self.arena.derive_self();
        self.arena.finish()
    }

    /// Makes the frames from the innermost known-in one up to `top` (exclusive) in, with their
    /// nodes, and adds what waited inside them.
    fn resolve(&mut self, top: usize) -> u32 {
        let mut k = top;
        while k > 0 && !matches!(self.stack[k - 1].open, Open::In(_)) {
            k -= 1;
        }
        let mut parent = if k == 0 {
            NONE
        } else if let Open::In(n) = self.stack[k - 1].open {
            n
        } else {
            NONE
        };
        for f in k..top {
            let id = self.arena.child(parent, self.stack[f].code);
            self.stack[f].open = Open::In(id);
            self.flush(f, id);
            parent = id;
        }
        parent
    }

    /// Adds what waited inside frame `f` under its node `id`.
    fn flush(&mut self, f: usize, id: u32) {
        for (path, calls) in std::mem::take(&mut self.stack[f].pending) {
            let mut n = id;
            for c in path {
                n = self.arena.child(n, c);
            }
            self.arena.payload[n as usize].calls += calls;
        }
    }
}

impl crate::formats::fpt::EventVisitor for FlameWalk<'_> {
    fn thread(&mut self, ti: usize, _first_ns: i64) {
        self.stack.clear();
        self.on = chosen(self.threads, ti);
    }

    fn enter(&mut self, code: u32, t_ns: i64) {
        if !self.on {
            return;
        }
        // the call around it: 0 none, 1 left out, 2 in, 3 not known yet
        let around = self.stack.last().map_or(0, |f| match f.open {
            Open::Out => 1,
            Open::In(_) => 2,
            Open::Before | Open::AtStart => 3,
        });
        let top = self.stack.len();
        let open = match self.window {
            _ if around == 1 => Open::Out,
            None => Open::In(self.resolve(top)),
            Some(w) if t_ns >= w.t1_ns => Open::Out,
            Some(w) if t_ns > w.t0_ns || (t_ns == w.t0_ns && around != 3) => Open::In(self.resolve(top)),
            Some(w) if t_ns == w.t0_ns => Open::AtStart,
            Some(_) => Open::Before,
        };
        let open = match open {
            Open::In(parent) => Open::In(self.arena.child(parent, code)),
            o => o,
        };
        self.stack.push(WalkFrame { code, start: t_ns, open, pending: Vec::new() });
    }

    fn exit(&mut self, t_ns: i64) {
        if !self.on {
            return;
        }
        let Some(f) = self.stack.last() else { return };
        let (s, e) = (f.start, t_ns.max(f.start));
        let dur = match self.window {
            None => e.saturating_sub(s),
            Some(_) if s == e => 0,
            Some(w) => e.min(w.t1_ns).saturating_sub(s.max(w.t0_ns)),
        };
        let t0 = self.window.map_or(i64::MIN, |w| w.t0_ns);
        let top = self.stack.len() - 1;
        let id = match f.open {
            Open::Out => None,
            Open::In(id) => Some(id),
            // in after all: so are the calls around it, and what waited inside it
            Open::Before | Open::AtStart if e > t0 => Some(self.resolve(top + 1)),
            Open::Before => None,
            Open::AtStart => {
                // of no duration at the window's start: in when the call around it is
                let Some(f) = self.stack.pop() else { return };
                let mut waiting = vec![(vec![f.code], 1)];
                waiting.extend(f.pending.into_iter().map(|(mut path, n)| {
                    path.insert(0, f.code);
                    (path, n)
                }));
                if let Some(p) = self.stack.last_mut() {
                    p.pending.extend(waiting);
                    if let Open::In(id) = p.open {
                        self.flush(self.stack.len() - 1, id);
                    }
                }
                return;
            }
        };
        if let Some(id) = id {
            let fig = &mut self.arena.payload[id as usize];
            fig.calls += 1;
            fig.total_ns = fig.total_ns.saturating_add(dur.max(0) as u64);
        }
        self.stack.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calltree::build_trace;
    use crate::{Code, Event, EventKind, Recording, ThreadRecord};

    /// One thread from `(t, code, is_call)`; codes: 0 main, 1 f, 2 g.
    fn trace(events: &[(u64, u32, bool)]) -> Trace {
        let codes = ["main", "f", "g"].iter().map(|n| Code { file: "/a.py".into(), name: (*n).into(), first_line: 1 }).collect();
        let chunks = vec![events
            .iter()
            .map(|&(t_ns, code, call)| Event { t_ns, code, kind: if call { EventKind::Call } else { EventKind::Return } })
            .collect()];
        build_trace(Recording {
            codes,
            threads: vec![ThreadRecord { os_id: 1, ident: 1, names: vec![(0, "M".into())], chunks }],
            start_ns: 0,
            stop_ns: 100,
            metadata: vec![],
            process: Default::default(),
        })
    }

    /// `t`'s events as a walk of its file gives them, fed to a [`FlameWalk`].
    fn walked(t: &Trace, threads: Option<&[u32]>, window: Option<Window>) -> Flame {
        use crate::formats::fpt::EventVisitor;
        let mut w = FlameWalk::new(threads, window);
        let c = &t.calls;
        for (ti, th) in t.threads.iter().enumerate() {
            w.thread(ti, th.first_ns);
            let mut ends: Vec<i64> = Vec::new();
            for i in th.call_range.0 as usize..th.call_range.1 as usize {
                while ends.len() > c.depth[i] as usize {
                    w.exit(ends.pop().unwrap());
                }
                w.enter(c.code[i], c.start_ns[i]);
                ends.push(c.end_ns[i]);
            }
            while let Some(e) = ends.pop() {
                w.exit(e);
            }
        }
        w.finish()
    }

    /// Every window with ends in 0..=17 over calls of no duration at a window's start, inside calls
    /// begun before it or ending at it: the walk's graph is `flame`'s.
    #[test]
    fn the_walk_makes_the_same_graph_for_every_window() {
        // main [0,10): f [5,5], g [5,7) -> f [5,5], f [7,10) ; g [10,10] ; f [12,15) -> g [15,15]
        let t = trace(&[
            (0, 0, true),
            (5, 1, true),
            (5, 1, false),
            (5, 2, true),
            (5, 1, true),
            (5, 1, false),
            (7, 2, false),
            (7, 1, true),
            (10, 1, false),
            (10, 0, false),
            (10, 2, true),
            (10, 2, false),
            (12, 1, true),
            (15, 2, true),
            (15, 2, false),
            (15, 1, false),
        ]);
        assert_eq!(walked(&t, None, None), flame(&t, None, None));
        for t0 in 0..=17 {
            for t1 in 0..=17 {
                let w = Some(Window { t0_ns: t0, t1_ns: t1 });
                assert_eq!(walked(&t, None, w), flame(&t, None, w), "window [{t0}, {t1})");
            }
        }
        let s = crate::synthetic::synthetic_trace(3000, 3, 5);
        let (a, b) = (s.calls.start_ns[0], s.threads.iter().map(|t| t.last_ns).max().unwrap());
        for k in 0..60 {
            // windows starting and ending exactly at calls' starts and ends
            let i = (k * 7919) % s.calls.len();
            let j = (k * 104_729 + 13) % s.calls.len();
            let (t0, t1) = (s.calls.start_ns[i], if k % 2 == 0 { s.calls.end_ns[j] } else { b - (b - a) * k as i64 / 120 });
            let w = Some(Window { t0_ns: t0, t1_ns: t1 });
            let th: Option<&[u32]> = if k % 3 == 0 { Some(&[0, 2]) } else { None };
            assert_eq!(walked(&s, th, w), flame(&s, th, w), "window [{t0}, {t1})");
        }
    }

    fn rows(f: &Flame) -> Vec<(u32, u32, u64, u64, u64)> {
        f.nodes.iter().map(|n| (n.depth, n.code, n.figures.calls, n.figures.total_ns, n.figures.self_ns)).collect()
    }

    /// main [0,100): f [10,30) -> g [15,25); g [40,90) -> f [50,60)
    fn sample() -> Trace {
        trace(&[
            (0, 0, true),
            (10, 1, true),
            (15, 2, true),
            (25, 2, false),
            (30, 1, false),
            (40, 2, true),
            (50, 1, true),
            (60, 1, false),
            (90, 2, false),
            (100, 0, false),
        ])
    }

    #[test]
    fn merges_paths_heaviest_first() {
        let f = flame(&sample(), None, None);
        assert_eq!(rows(&f), [(0, 0, 1, 100, 30), (1, 2, 1, 50, 40), (2, 1, 1, 10, 10), (1, 1, 1, 20, 10), (2, 2, 1, 10, 10)]);
        assert_eq!(f.nodes[2].parent, 1);
        assert_eq!(f.children(None), [0]);
        assert_eq!(f.children(Some(0)), [1, 3]);
        assert_eq!(f.encode().len(), 5 * FLAME_STRIDE * 8);
        assert_eq!(f64::from_le_bytes(f.encode()[16..24].try_into().unwrap_or_default()), 100.0);
    }

    #[test]
    fn wide_nodes_merge_through_the_index() {
        // 20 functions called in turn, twice, under one parent and at the top level: more children
        // than the lists hold, so lookups go through the hash index
        let mut arena: Arena<Figures> = Arena::new();
        for parent in [NONE, 0] {
            for round in 0..2u64 {
                for code in 0..20 {
                    let id = arena.child(parent, code);
                    arena.payload[id as usize].calls += 1;
                    arena.payload[id as usize].total_ns += 1 + round;
                }
            }
        }
        assert_eq!(arena.parent.len(), 40);
        assert!(arena.payload.iter().all(|f| f.calls == 2 && f.total_ns == 3));
        assert_eq!(arena.child(0, 19), 39);
        assert_eq!(arena.child(NONE, 7), 7);
        let order = arena.preorder(|a, b| a.cmp(&b));
        assert_eq!(order.len(), 40);
        assert_eq!(&order[..3], &[(0, 0), (20, 1), (21, 1)]);
    }

    #[test]
    fn window_clips_calls() {
        let f = flame(&sample(), None, Some(Window { t0_ns: 20, t1_ns: 55 }));
        // main 35, f [20,30) -> g [20,25); g [40,55) -> f [50,55)
        assert_eq!(rows(&f), [(0, 0, 1, 35, 10), (1, 2, 1, 15, 10), (2, 1, 1, 5, 5), (1, 1, 1, 10, 5), (2, 2, 1, 5, 5)]);
        assert!(flame(&sample(), None, Some(Window { t0_ns: 100, t1_ns: 200 })).nodes.is_empty());
        assert!(flame(&sample(), Some(&[]), None).nodes.is_empty());
        assert!(flame(&sample(), None, Some(Window { t0_ns: 50, t1_ns: 50 })).nodes.is_empty());
    }

    #[test]
    fn sandwich_of_a_recursive_function() {
        // main [0,100): f [0,60) -> f [10,50) -> g [20,30); g [70,90) -> f [75,85)
        let t = trace(&[
            (0, 0, true),
            (0, 1, true),
            (10, 1, true),
            (20, 2, true),
            (30, 2, false),
            (50, 1, false),
            (60, 1, false),
            (70, 2, true),
            (75, 1, true),
            (85, 1, false),
            (90, 2, false),
            (100, 0, false),
        ]);
        let s = sandwich(&t, &[1], None);
        // f: 3 calls, total 60 + 10, self 20 + 30 + 10
        assert_eq!(rows(&s.callers), [(0, 1, 3, 70, 60), (1, 0, 2, 60, 50), (1, 2, 1, 10, 10), (2, 0, 1, 10, 10)]);
        assert_eq!(rows(&s.callees), [(0, 1, 2, 70, 30), (1, 1, 1, 40, 30), (2, 2, 1, 10, 10)]);
    }
}
