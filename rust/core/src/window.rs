//! Window queries: what the timeline draws of a time window at a given width in pixels, without
//! sending every call (issue 13, item 4; the reply as bytes is [`crate::formats::window`], "Window
//! replies" in `docs/format.md`).
//!
//! [`WindowIndex::build`] indexes a trace's calls once (per thread, per depth: the calls in start
//! order, 4 bytes per call). [`query`] then answers a window `[t0_ns, t1_ns]` at `px` pixels: every
//! call of the window at least one pixel wide as it is, the narrower ones merged per thread and
//! depth into runs (first start, last end, how many calls, the function of the longest member),
//! by the level-of-detail rule of the timeline (js/layout.js `forEachBox`), so the page draws a
//! reply exactly as it draws the whole trace. A reply holds at most about `px` items per thread
//! and depth, whatever the number of calls; a query costs a binary search per item drawn.
//!
//! A call is in the window when it overlaps it: `end_ns >= t0_ns` and `start_ns <= t1_ns` (the
//! timeline's rule). Every such call is either an item of the reply or counted in exactly one run
//! (tested: `rust/core/tests/window.rs`).

use crate::formats::codec::FptError;
use crate::model::{CallFlags, Trace};

/// Widest window a request may ask for, in pixels.
pub const MAX_PX: u32 = 1 << 16;
/// A run's members examined for its function: all of them up to this many, else the first this
/// many and this many more spread evenly over the run (a query's cost never grows with the calls
/// a run merges).
pub const RUN_SAMPLE: usize = 16;
/// Item flag (in the reply, with the call's own flags): a run of calls, not one call.
pub const ITEM_RUN: u64 = 4;
/// Item flag: the run's sampled members are not all of one function.
pub const ITEM_MIXED: u64 = 8;

/// What is wrong with a window request or a reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WindowError {
    #[error("empty window: t1_ns ({t1}) must be greater than t0_ns ({t0})")]
    Empty { t0: i64, t1: i64 },
    #[error("the window [{t0}, {t1}] ns is outside the trace, which spans [{start}, {end}] ns")]
    Outside { t0: i64, t1: i64, start: i64, end: i64 },
    #[error("the trace has no calls: there is no window to show")]
    NoCalls,
    #[error("width of {0} px: a window is 1 to {MAX_PX} pixels wide")]
    Width(u64),
    #[error("thread {thread} is not in the trace ({count} threads)")]
    Thread { thread: u64, count: usize },
    #[error("not a window reply: {0}")]
    Reply(String),
    #[error("window reply: {0}")]
    Body(#[from] FptError),
}

type Result<T> = std::result::Result<T, WindowError>;

/// The calls of a trace indexed for window queries: per thread, per depth, the global indices of
/// its calls in start order (built once per trace: 4 bytes per call).
#[derive(Debug, Clone, Default)]
pub struct WindowIndex {
    rows: Vec<Vec<Vec<u32>>>,
    /// Per row, the end of every [`BLOCK`]-th call (of calls `BLOCK - 1`, `2 BLOCK - 1`, ...): the
    /// searches skip through these, contiguous, before touching the calls (0.25 bytes per call).
    block_ends: Vec<Vec<Vec<i64>>>,
    /// Per row and block, the longest call or gap (to the next call, the next block's first
    /// included) in it: a block whose figure is under a pixel lies inside a run whole, so a run
    /// over a dense row steps a block at a time, not a pixel at a time (0.25 bytes per call).
    block_tight: Vec<Vec<Vec<i64>>>,
    start_ns: i64,
    end_ns: i64,
    calls: usize,
}

impl WindowIndex {
    /// Indexes `trace`: per thread, a counting sort of its calls by depth and one pass in call order
    /// for the block figures; threads are indexed in parallel (up to 4 at once).
    pub fn build(trace: &Trace) -> Self {
        type ThreadIndex = (Vec<Vec<u32>>, Vec<Vec<i64>>, Vec<Vec<i64>>);
        let n = trace.threads.len();
        let workers = std::thread::available_parallelism().map_or(1, |p| p.get()).clamp(1, 4).min(n.max(1));
        let mut parts: Vec<ThreadIndex> = Vec::with_capacity(n);
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..workers)
                .map(|w| scope.spawn(move || (w..n).step_by(workers).map(|t| (t, index_thread(trace, t))).collect::<Vec<_>>()))
                .collect();
            let mut all: Vec<(usize, ThreadIndex)> = Vec::with_capacity(n);
            for h in handles {
                // a worker cannot panic (no indexing past checked bounds); were it to, its threads
                // are indexed here instead
                if let Ok(v) = h.join() {
                    all.extend(v);
                }
            }
            let done: std::collections::HashSet<usize> = all.iter().map(|(t, _)| *t).collect();
            for t in (0..n).filter(|t| !done.contains(t)) {
                all.push((t, index_thread(trace, t)));
            }
            all.sort_by_key(|(t, _)| *t);
            parts.extend(all.into_iter().map(|(_, p)| p));
        });
        let mut rows = Vec::with_capacity(n);
        let mut block_ends = Vec::with_capacity(n);
        let mut block_tight = Vec::with_capacity(n);
        for (r, e, t) in parts {
            rows.push(r);
            block_ends.push(e);
            block_tight.push(t);
        }
        let c = &trace.calls;
        let start_ns = trace.threads.iter().map(|t| t.first_ns).min().unwrap_or(0);
        let end_ns = trace.threads.iter().map(|t| t.last_ns).max().unwrap_or(0);
        WindowIndex { rows, block_ends, block_tight, start_ns, end_ns, calls: c.len() }
    }

    /// The span of the trace's threads: `[first, last]` ns (what the timeline calls the whole run).
    pub fn span(&self) -> (i64, i64) {
        (self.start_ns, self.end_ns)
    }

    /// Bytes held by the index.
    pub fn heap_bytes(&self) -> usize {
        self.rows.iter().flat_map(|t| t.iter()).map(|r| r.capacity() * 4 + 24).sum::<usize>()
            + self.block_ends.iter().flat_map(|t| t.iter()).map(|r| r.capacity() * 8 + 24).sum::<usize>()
            + self.block_tight.iter().flat_map(|t| t.iter()).map(|r| r.capacity() * 8 + 24).sum::<usize>()
            + self.rows.len() * 48
    }
}

/// The rows of thread `t` (per depth, its calls in start order), and their block ends and figures.
#[allow(clippy::type_complexity)]
fn index_thread(trace: &Trace, t: usize) -> (Vec<Vec<u32>>, Vec<Vec<i64>>, Vec<Vec<i64>>) {
    let c = &trace.calls;
    let th = &trace.threads[t];
    let (lo, hi) = (th.call_range.0 as usize, (th.call_range.1 as usize).min(c.len()));
    let mut counts: Vec<usize> = Vec::new();
    for &d in c.depth.get(lo..hi).unwrap_or(&[]) {
        let d = d as usize;
        if d >= counts.len() {
            counts.resize(d + 1, 0);
        }
        counts[d] += 1;
    }
    let mut thread_rows: Vec<Vec<u32>> = counts.iter().map(|&n| Vec::with_capacity(n)).collect();
    let mut ends: Vec<Vec<i64>> = counts.iter().map(|&n| Vec::with_capacity(n / BLOCK)).collect();
    let mut tight: Vec<Vec<i64>> = counts.iter().map(|&n| Vec::with_capacity(n / BLOCK)).collect();
    // one pass in call order (sequential reads): each row's open block's longest call or gap
    let mut open = vec![0i64; counts.len()];
    for i in lo..hi.max(lo) {
        let d = c.depth[i] as usize;
        let row = &mut thread_rows[d];
        if let Some(&prev) = row.last() {
            // the gap after the previous call of the row belongs to that call's block
            open[d] = open[d].max(c.start_ns[i] - c.end_ns[prev as usize]);
            if row.len().is_multiple_of(BLOCK) {
                tight[d].push(open[d]);
                open[d] = 0;
            }
        }
        row.push(i as u32);
        open[d] = open[d].max(c.end_ns[i] - c.start_ns[i]);
        if row.len().is_multiple_of(BLOCK) {
            ends[d].push(c.end_ns[i]);
        }
    }
    for (d, row) in thread_rows.iter().enumerate() {
        if !row.is_empty() && row.len().is_multiple_of(BLOCK) {
            tight[d].push(open[d]);
        }
    }
    (thread_rows, ends, tight)
}

/// One thing the view draws: a call, or a run of calls narrower than a pixel merged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowItem {
    pub thread: u32,
    pub depth: u32,
    pub start_ns: i64,
    pub end_ns: i64,
    /// The call's function; for a run, the function of its longest (sampled) member.
    pub code: u32,
    /// 1 for a call; the number of calls merged for a run (>= 1).
    pub count: u64,
    /// A call: its index in the trace. A run: the index of its first member.
    pub call: u32,
    /// A call: its `CallFlags`. A run: [`ITEM_RUN`], plus [`ITEM_MIXED`] when its sampled members
    /// are of more than one function.
    pub flags: u64,
    /// A call: the index in `items` of its parent call, when the parent is in the reply (it is
    /// whenever the call is: a parent is at least as wide). `u32::MAX` otherwise.
    pub parent: u32,
}

impl WindowItem {
    /// Is this a run of merged calls (even of one call narrower than a pixel)?
    pub fn is_run(&self) -> bool {
        self.flags & ITEM_RUN != 0
    }
}

/// A window reply: the window asked for and what is drawn of it, grouped by thread then depth,
/// each row in start order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WindowReply {
    pub t0_ns: i64,
    pub t1_ns: i64,
    pub px: u32,
    pub items: Vec<WindowItem>,
}

impl WindowReply {
    /// Calls the reply accounts for: its calls plus the members of its runs.
    pub fn calls_covered(&self) -> u64 {
        self.items.iter().map(|i| i.count).sum()
    }
}

/// The window `[t0_ns, t1_ns]` at `px` pixels, over `threads` (indices; `None`: all).
///
/// Errors: `t1_ns <= t0_ns`, a window that does not overlap the trace's span, a width of 0 or
/// above [`MAX_PX`], a thread index past the table, a trace with no calls.
pub fn query(
    trace: &Trace,
    index: &WindowIndex,
    t0_ns: i64,
    t1_ns: i64,
    px: u64,
    threads: Option<&[u64]>,
) -> Result<WindowReply> {
    if t1_ns <= t0_ns {
        return Err(WindowError::Empty { t0: t0_ns, t1: t1_ns });
    }
    if px == 0 || px > MAX_PX as u64 {
        return Err(WindowError::Width(px));
    }
    if index.calls == 0 || trace.calls.is_empty() {
        return Err(WindowError::NoCalls);
    }
    let (start, end) = index.span();
    if t1_ns < start || t0_ns > end {
        return Err(WindowError::Outside { t0: t0_ns, t1: t1_ns, start, end });
    }
    let n_threads = index.rows.len().min(trace.threads.len());
    let chosen: Vec<usize> = match threads {
        None => (0..n_threads).collect(),
        Some(list) => {
            let mut v = Vec::with_capacity(list.len());
            for &t in list {
                if t >= n_threads as u64 {
                    return Err(WindowError::Thread { thread: t, count: n_threads });
                }
                v.push(t as usize);
            }
            v.sort_unstable();
            v.dedup();
            v
        }
    };
    let c = &trace.calls;
    let k = px as f64 / (t1_ns - t0_ns) as f64;
    let mut items = Vec::new();
    // Global call index -> index in `items`, for the parents of the calls drawn (a call's parent
    // is one depth up in the same thread, so only the previous depth's calls are needed).
    let mut prev_depth: Vec<(u32, u32)> = Vec::new();
    let mut this_depth: Vec<(u32, u32)> = Vec::new();
    for t in chosen {
        prev_depth.clear();
        for (d, ((row, blocks), tight)) in index.rows[t].iter().zip(&index.block_ends[t]).zip(&index.block_tight[t]).enumerate() {
            this_depth.clear();
            let lo = row.partition_point(|&i| c.end_ns[i as usize] < t0_ns);
            let hi = lo + row[lo..].partition_point(|&i| c.start_ns[i as usize] <= t1_ns);
            let row = &row[..hi];
            let x = |ns: i64| (ns - t0_ns) as f64 * k;
            let mut i = lo;
            while i < hi {
                let ci = row[i] as usize;
                let xa = x(c.start_ns[ci]);
                let xb = x(c.end_ns[ci]);
                if xb - xa >= 1.0 {
                    let parent = c.parent[ci];
                    let parent_item = if parent == u32::MAX {
                        u32::MAX
                    } else {
                        prev_depth.binary_search_by_key(&parent, |p| p.0).map_or(u32::MAX, |k| prev_depth[k].1)
                    };
                    this_depth.push((ci as u32, items.len() as u32));
                    items.push(WindowItem {
                        thread: t as u32,
                        depth: d as u32,
                        start_ns: c.start_ns[ci],
                        end_ns: c.end_ns[ci],
                        code: c.code[ci],
                        count: 1,
                        call: ci as u32,
                        flags: u64::from(c.flags[ci].0 & (CallFlags::UNFINISHED | CallFlags::STARTED_BEFORE)),
                        parent: parent_item,
                    });
                    i += 1;
                    continue;
                }
                // A run: absorb, a pixel at a time, every call that ends before the next pixel
                // boundary (js/layout.js forEachBox).
                let first = i;
                let mut run_end = xb;
                loop {
                    let boundary = t0_ns as f64 + (run_end.floor() + 1.0) / k;
                    let j = next_ending_at(row, blocks, i + 1, hi, boundary, &c.end_ns);
                    let last_end = x(c.end_ns[row[j - 1] as usize]);
                    if last_end > run_end {
                        run_end = last_end;
                    }
                    i = j;
                    if i >= hi {
                        break;
                    }
                    let c2 = row[i] as usize;
                    let xa2 = x(c.start_ns[c2]);
                    let xb2 = x(c.end_ns[c2]);
                    if xa2 > run_end + 1.0 || xb2 - xa2 >= 1.0 {
                        break;
                    }
                    // row[i] continues the run: so do the rest of its block and the blocks after
                    // it whose calls and gaps are all under a pixel (0.99: clear of rounding)
                    let mut skipped = false;
                    while let Some(&tb) = tight.get(i / BLOCK) {
                        if (i / BLOCK + 1) * BLOCK > hi || tb as f64 * k >= 0.99 {
                            break;
                        }
                        i = (i / BLOCK + 1) * BLOCK;
                        skipped = true;
                    }
                    if skipped {
                        run_end = run_end.max(x(c.end_ns[row[i - 1] as usize]));
                        if i >= hi {
                            break;
                        }
                        let c2 = row[i] as usize;
                        let xa2 = x(c.start_ns[c2]);
                        if xa2 > run_end + 1.0 || x(c.end_ns[c2]) - xa2 >= 1.0 {
                            break;
                        }
                    }
                }
                let members = &row[first..i];
                let (code, mixed) = run_function(trace, members);
                let last = members[members.len() - 1] as usize;
                items.push(WindowItem {
                    thread: t as u32,
                    depth: d as u32,
                    start_ns: c.start_ns[ci],
                    end_ns: c.end_ns[last].max(c.start_ns[ci]),
                    code,
                    count: members.len() as u64,
                    call: ci as u32,
                    flags: ITEM_RUN | if mixed { ITEM_MIXED } else { 0 },
                    parent: u32::MAX,
                });
            }
            std::mem::swap(&mut prev_depth, &mut this_depth);
        }
    }
    Ok(WindowReply { t0_ns, t1_ns, px: px as u32, items })
}

/// Calls per block of [`WindowIndex`]'s block ends.
pub const BLOCK: usize = 32;

/// The first index in `from..hi` of `row` whose call ends at or after `boundary` (`hi` if none):
/// a gallop over the next calls when it is near, else over the row's block ends, then a search
/// inside the one block (a row's calls do not overlap, so their ends are in order).
fn next_ending_at(row: &[u32], blocks: &[i64], from: usize, hi: usize, boundary: f64, ends: &[i64]) -> usize {
    let before = |m: u32| (ends[m as usize] as f64) < boundary;
    let near = (from + BLOCK).min(hi);
    if from >= hi || !before(row[near - 1]) {
        return gallop(&row[..near], from, before);
    }
    let k = gallop(blocks, near / BLOCK, |e: i64| (e as f64) < boundary);
    let lo = (k * BLOCK).max(near);
    let top = ((k + 1) * BLOCK).min(hi);
    if lo >= top {
        return top.max(lo).min(hi);
    }
    lo + row[lo..top].partition_point(|&m| before(m))
}

/// The first index `>= from` of `row` where `before` turns false (`before` is true then false along
/// the row), found by galloping from `from`: the next pixel's boundary is usually a few calls
/// away, so this touches a few neighbouring calls where a binary search over the row would jump
/// through memory.
fn gallop<T: Copy>(row: &[T], from: usize, before: impl Fn(T) -> bool) -> usize {
    let n = row.len();
    let mut lo = from;
    let mut step = 1;
    while lo < n && before(row[lo]) {
        let probe = lo + step;
        if probe >= n || !before(row[probe]) {
            let hi = probe.min(n);
            return lo + 1 + row[lo + 1..hi].partition_point(|&m| before(m));
        }
        lo = probe;
        step *= 2;
    }
    lo
}

/// The function of a run: its longest member's among the members examined (all of them up to
/// [`RUN_SAMPLE`]; else the first [`RUN_SAMPLE`] and [`RUN_SAMPLE`] more spread evenly over the run,
/// so strides cannot alias with a repeating pattern); and whether those are of more than one function.
fn run_function(trace: &Trace, members: &[u32]) -> (u32, bool) {
    let c = &trace.calls;
    let n = members.len();
    let step = n.div_ceil(RUN_SAMPLE).max(1);
    let head = members.iter().take(RUN_SAMPLE);
    let spread = members.iter().step_by(step).skip(if n > RUN_SAMPLE { 1 } else { RUN_SAMPLE });
    let mut best = members[0] as usize;
    let mut mixed = false;
    for &m in head.chain(spread) {
        let m = m as usize;
        if c.code[m] != c.code[best] {
            mixed = true;
        }
        if c.end_ns[m] - c.start_ns[m] > c.end_ns[best] - c.start_ns[best] {
            best = m;
        }
    }
    (c.code[best], mixed)
}

/// The trace without its calls: threads (with no calls), processes, codes, bands and metadata.
/// What the page gets first in windowed mode, as an `.fpt`; the calls come as window replies.
pub fn skeleton(trace: &Trace) -> Trace {
    let mut threads = trace.threads.clone();
    for th in &mut threads {
        th.call_range = (0, 0);
    }
    Trace {
        origin_ns: trace.origin_ns,
        codes: trace.codes.clone(),
        threads,
        calls: Default::default(),
        metadata: trace.metadata.clone(),
        processes: trace.processes.clone(),
        bands: trace.bands.clone(),
    }
}
