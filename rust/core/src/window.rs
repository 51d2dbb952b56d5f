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
use crate::model::{CallFlags, Calls, Trace};

/// Widest window a request may ask for, in pixels.
pub const MAX_PX: u32 = 1 << 16;
/// Width in pixels of the overview (the whole run, every thread): what a windowed host asks
/// first (`_windowed.OVERVIEW_PX`, read from here), the widest overview drawn at full resolution
/// (a narrower one merges further in the page); a stored window index keeps it made
/// ([`crate::winindex`]).
pub const OVERVIEW_PX: u64 = 2000;

/// The overview's window over `threads` (a trace's thread table): `(first, last)` ns over the
/// threads, at least 1 ns wide, `(0, 1)` without threads (what `_windowed.span` asks).
pub fn overview_span(threads: &[crate::model::ThreadInfo]) -> (i64, i64) {
    let Some(start) = threads.iter().map(|t| t.first_ns).min() else { return (0, 1) };
    let last = threads.iter().map(|t| t.last_ns).max().unwrap_or(start);
    (start, last.max(start.saturating_add(1)))
}
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
    #[error("the window index {0}")]
    Index(String),
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
    /// Per row and full [`CHUNK`], the largest of its blocks' `block_tight` (a run over a dense
    /// row steps a chunk at a time).
    chunk_tight: Vec<Vec<Vec<i64>>>,
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
        let mut chunk_tight = Vec::with_capacity(n);
        for (r, e, t) in parts {
            rows.push(r);
            block_ends.push(e);
            chunk_tight.push(t.iter().map(|t| chunk_maxima(t)).collect());
            block_tight.push(t);
        }
        let c = &trace.calls;
        let start_ns = trace.threads.iter().map(|t| t.first_ns).min().unwrap_or(0);
        let end_ns = trace.threads.iter().map(|t| t.last_ns).max().unwrap_or(0);
        WindowIndex { rows, block_ends, block_tight, chunk_tight, start_ns, end_ns, calls: c.len() }
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
            + self.chunk_tight.iter().flat_map(|t| t.iter()).map(|r| r.capacity() * 8 + 24).sum::<usize>()
            + self.rows.len() * 48
    }
}

/// Per full [`CHUNK`] of a row, the largest of its blocks' figures (`tight`: one per full block).
pub fn chunk_maxima(tight: &[i64]) -> Vec<i64> {
    tight.chunks_exact(CHUNK / BLOCK).map(|c| c.iter().copied().max().unwrap_or(0)).collect()
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

/// Calls per chunk of a row: the unit a stored index keeps together (decoded at once) and whose
/// longest call or gap ([`Row::chunk_tight`]) lets a run skip it whole. A multiple of [`BLOCK`].
pub const CHUNK: usize = 1024;
const _: () = assert!(CHUNK.is_multiple_of(BLOCK));

/// One row of calls (a thread's calls at one depth, in start order) as [`query_rows`] reads it:
/// by position in the row. Implemented over a [`Trace`] and its [`WindowIndex`] ([`MemRows`]),
/// and over a stored index read from a file (`crate::winindex`), so one algorithm answers both.
/// A row that cannot read its data (a file) answers 0s and reports it in [`Row::error`].
pub trait Row {
    /// Calls in the row.
    fn len(&self) -> usize;
    /// No calls?
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Start and end of the call at position `k`.
    fn start(&mut self, k: usize) -> i64;
    fn end(&mut self, k: usize) -> i64;
    /// Its function, index in the trace, parent's index in the trace (`u32::MAX`: none), flags.
    fn code(&mut self, k: usize) -> u32;
    fn call(&mut self, k: usize) -> u32;
    fn parent(&mut self, k: usize) -> u32;
    fn flags(&mut self, k: usize) -> u8;
    /// The end of the last call of block `b` (`b < len / BLOCK`).
    fn block_end(&mut self, b: usize) -> i64;
    /// The longest call or gap of block `b` (to the next call, the next block's first included).
    fn block_tight(&mut self, b: usize) -> i64;
    /// The end of the last call of chunk `c` (a partial last chunk too).
    fn chunk_last_end(&mut self, c: usize) -> i64;
    /// The start of the first call of chunk `c`.
    fn chunk_first_start(&mut self, c: usize) -> i64;
    /// The largest [`Row::block_tight`] of a full chunk `c` (`(c + 1) * CHUNK <= len`).
    fn chunk_tight(&mut self, c: usize) -> i64;
    /// What went wrong reading the row, if anything.
    fn error(&mut self) -> Option<WindowError> {
        None
    }
}

/// Rows to query: per thread, per depth (see [`Row`]).
pub trait RowSource {
    type Row<'a>: Row
    where
        Self: 'a;
    /// Threads (of the trace: every thread has its rows, maybe none).
    fn threads(&self) -> usize;
    /// Rows (depths) of thread `t`.
    fn depths(&self, t: usize) -> usize;
    /// Row `d` of thread `t`.
    fn row(&self, t: usize, d: usize) -> Self::Row<'_>;
    /// Calls in all.
    fn calls(&self) -> usize;
    /// The span of the threads: `[first, last]` ns.
    fn span(&self) -> (i64, i64);
}

/// A [`Trace`] and its [`WindowIndex`] as rows.
pub struct MemRows<'a> {
    pub trace: &'a Trace,
    pub index: &'a WindowIndex,
}

/// One row of [`MemRows`].
pub struct MemRow<'a> {
    row: &'a [u32],
    ends: &'a [i64],
    tight: &'a [i64],
    chunk_tight: &'a [i64],
    c: &'a Calls,
}

impl Row for MemRow<'_> {
    #[inline]
    fn len(&self) -> usize {
        self.row.len()
    }
    #[inline]
    fn start(&mut self, k: usize) -> i64 {
        self.c.start_ns[self.row[k] as usize]
    }
    #[inline]
    fn end(&mut self, k: usize) -> i64 {
        self.c.end_ns[self.row[k] as usize]
    }
    #[inline]
    fn code(&mut self, k: usize) -> u32 {
        self.c.code[self.row[k] as usize]
    }
    #[inline]
    fn call(&mut self, k: usize) -> u32 {
        self.row[k]
    }
    #[inline]
    fn parent(&mut self, k: usize) -> u32 {
        self.c.parent[self.row[k] as usize]
    }
    #[inline]
    fn flags(&mut self, k: usize) -> u8 {
        self.c.flags[self.row[k] as usize].0
    }
    #[inline]
    fn block_end(&mut self, b: usize) -> i64 {
        self.ends[b]
    }
    #[inline]
    fn block_tight(&mut self, b: usize) -> i64 {
        self.tight[b]
    }
    #[inline]
    fn chunk_last_end(&mut self, c: usize) -> i64 {
        let k = ((c + 1) * CHUNK).min(self.row.len()) - 1;
        self.end(k)
    }
    #[inline]
    fn chunk_first_start(&mut self, c: usize) -> i64 {
        self.start(c * CHUNK)
    }
    #[inline]
    fn chunk_tight(&mut self, c: usize) -> i64 {
        self.chunk_tight[c]
    }
}

impl RowSource for MemRows<'_> {
    type Row<'b>
        = MemRow<'b>
    where
        Self: 'b;
    fn threads(&self) -> usize {
        self.index.rows.len().min(self.trace.threads.len())
    }
    fn depths(&self, t: usize) -> usize {
        self.index.rows[t].len()
    }
    fn row(&self, t: usize, d: usize) -> MemRow<'_> {
        MemRow {
            row: &self.index.rows[t][d],
            ends: &self.index.block_ends[t][d],
            tight: &self.index.block_tight[t][d],
            chunk_tight: &self.index.chunk_tight[t][d],
            c: &self.trace.calls,
        }
    }
    fn calls(&self) -> usize {
        if self.trace.calls.is_empty() {
            0
        } else {
            self.index.calls
        }
    }
    fn span(&self) -> (i64, i64) {
        self.index.span()
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
    query_rows(&MemRows { trace, index }, t0_ns, t1_ns, px, threads)
}

/// [`query`] over any [`RowSource`]: the one level-of-detail algorithm.
pub fn query_rows<S: RowSource>(src: &S, t0_ns: i64, t1_ns: i64, px: u64, threads: Option<&[u64]>) -> Result<WindowReply> {
    if t1_ns <= t0_ns {
        return Err(WindowError::Empty { t0: t0_ns, t1: t1_ns });
    }
    if px == 0 || px > MAX_PX as u64 {
        return Err(WindowError::Width(px));
    }
    if src.calls() == 0 {
        return Err(WindowError::NoCalls);
    }
    let (start, end) = src.span();
    if t1_ns < start || t0_ns > end {
        return Err(WindowError::Outside { t0: t0_ns, t1: t1_ns, start, end });
    }
    let n_threads = src.threads();
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
    let k = px as f64 / (t1_ns - t0_ns) as f64;
    let mut items = Vec::new();
    // Global call index -> index in `items`, for the parents of the calls drawn (a call's parent
    // is one depth up in the same thread, so only the previous depth's calls are needed).
    let mut prev_depth: Vec<(u32, u32)> = Vec::new();
    let mut this_depth: Vec<(u32, u32)> = Vec::new();
    for t in chosen {
        prev_depth.clear();
        for d in 0..src.depths(t) {
            this_depth.clear();
            let mut row = src.row(t, d);
            query_row(&mut row, t as u32, d as u32, t0_ns, t1_ns, k, &prev_depth, &mut this_depth, &mut items);
            if let Some(e) = row.error() {
                return Err(e);
            }
            std::mem::swap(&mut prev_depth, &mut this_depth);
        }
    }
    Ok(WindowReply { t0_ns, t1_ns, px: px as u32, items })
}

/// The first position in `lo..hi` where `before` turns false (`before` true then false).
#[inline]
fn partition(mut lo: usize, mut hi: usize, mut before: impl FnMut(usize) -> bool) -> usize {
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if before(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

/// The row's positions of the calls overlapping `[t0, t1]`: a search over the chunks, then
/// inside one chunk (a stored index reads two chunks, not a path of the row's length).
fn overlapping<R: Row>(row: &mut R, t0: i64, t1: i64) -> (usize, usize) {
    let n = row.len();
    let chunks = n.div_ceil(CHUNK);
    let c = partition(0, chunks, |c| row.chunk_last_end(c) < t0);
    let lo = partition((c * CHUNK).min(n), ((c + 1) * CHUNK).min(n), |k| row.end(k) < t0);
    let c2 = partition(lo / CHUNK, chunks, |c| row.chunk_first_start(c) <= t1);
    if c2 == 0 {
        return (lo, lo);
    }
    let from = ((c2 - 1) * CHUNK).max(lo);
    (lo, partition(from, (c2 * CHUNK).min(n), |k| row.start(k) <= t1))
}

/// The items of one row (thread `t`, depth `d`), appended to `items`.
#[allow(clippy::too_many_arguments)]
fn query_row<R: Row>(
    row: &mut R,
    t: u32,
    d: u32,
    t0_ns: i64,
    t1_ns: i64,
    k: f64,
    prev_depth: &[(u32, u32)],
    this_depth: &mut Vec<(u32, u32)>,
    items: &mut Vec<WindowItem>,
) {
    let (lo, hi) = overlapping(row, t0_ns, t1_ns);
    let x = |ns: i64| (ns - t0_ns) as f64 * k;
    let mut i = lo;
    while i < hi {
        let (s, e) = (row.start(i), row.end(i));
        let xa = x(s);
        let xb = x(e);
        if xb - xa >= 1.0 {
            let ci = row.call(i);
            let parent = row.parent(i);
            let parent_item = if parent == u32::MAX {
                u32::MAX
            } else {
                prev_depth.binary_search_by_key(&parent, |p| p.0).map_or(u32::MAX, |k| prev_depth[k].1)
            };
            this_depth.push((ci, items.len() as u32));
            items.push(WindowItem {
                thread: t,
                depth: d,
                start_ns: s,
                end_ns: e,
                code: row.code(i),
                count: 1,
                call: ci,
                flags: u64::from(row.flags(i) & (CallFlags::UNFINISHED | CallFlags::STARTED_BEFORE)),
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
            let j = next_ending_at(row, i + 1, hi, boundary);
            let last_end = x(row.end(j - 1));
            if last_end > run_end {
                run_end = last_end;
            }
            i = j;
            if i >= hi {
                break;
            }
            let xa2 = x(row.start(i));
            let xb2 = x(row.end(i));
            if xa2 > run_end + 1.0 || xb2 - xa2 >= 1.0 {
                break;
            }
            // row[i] continues the run: so do the rest of its block and the blocks after it
            // whose calls and gaps are all under a pixel (0.99: clear of rounding); a whole
            // chunk at a time where its longest call or gap is (the same steps, fewer reads)
            let mut skipped = false;
            let n_blocks = row.len() / BLOCK;
            loop {
                if i.is_multiple_of(CHUNK) && (i / CHUNK + 1) * CHUNK <= hi && (row.chunk_tight(i / CHUNK) as f64) * k < 0.99 {
                    i += CHUNK;
                    skipped = true;
                    continue;
                }
                let b = i / BLOCK;
                if b >= n_blocks || (b + 1) * BLOCK > hi || row.block_tight(b) as f64 * k >= 0.99 {
                    break;
                }
                i = (b + 1) * BLOCK;
                skipped = true;
            }
            if skipped {
                run_end = run_end.max(x(row.block_end((i - 1) / BLOCK)));
                if i >= hi {
                    break;
                }
                let xa2 = x(row.start(i));
                if xa2 > run_end + 1.0 || x(row.end(i)) - xa2 >= 1.0 {
                    break;
                }
            }
        }
        let (code, mixed) = run_function(row, first, i);
        let s = row.start(first);
        items.push(WindowItem {
            thread: t,
            depth: d,
            start_ns: s,
            end_ns: row.end(i - 1).max(s),
            code,
            count: (i - first) as u64,
            call: row.call(first),
            flags: ITEM_RUN | if mixed { ITEM_MIXED } else { 0 },
            parent: u32::MAX,
        });
    }
}

/// Calls per block of [`WindowIndex`]'s block ends.
pub const BLOCK: usize = 32;

/// The first position in `from..hi` of `row` whose call ends at or after `boundary` (`hi` if
/// none): a gallop over the next calls when it is near, else over the row's block ends, then a
/// search inside the one block (a row's calls do not overlap, so their ends are in order).
fn next_ending_at<R: Row>(row: &mut R, from: usize, hi: usize, boundary: f64) -> usize {
    let near = (from + BLOCK).min(hi);
    if from >= hi || (row.end(near - 1) as f64) >= boundary {
        return gallop(near, from, |k| (row.end(k) as f64) < boundary);
    }
    let n_blocks = row.len() / BLOCK;
    let k = gallop(n_blocks, near / BLOCK, |b| (row.block_end(b) as f64) < boundary);
    let lo = (k * BLOCK).max(near);
    let top = ((k + 1) * BLOCK).min(hi);
    if lo >= top {
        return top.max(lo).min(hi);
    }
    partition(lo, top, |m| (row.end(m) as f64) < boundary)
}

/// The first position `>= from` below `n` where `before` turns false (`before` is true then false),
/// found by galloping from `from`: the next pixel's boundary is usually a few calls away, so this
/// touches a few neighbouring calls where a binary search over the row would jump through memory.
fn gallop(n: usize, from: usize, mut before: impl FnMut(usize) -> bool) -> usize {
    let mut lo = from;
    let mut step = 1;
    while lo < n && before(lo) {
        let probe = lo + step;
        if probe >= n || !before(probe) {
            let hi = probe.min(n);
            return partition(lo + 1, hi, before);
        }
        lo = probe;
        step *= 2;
    }
    lo
}

/// The function of the run of positions `first..end`: its longest member's among the members
/// examined (all of them up to [`RUN_SAMPLE`]; else the first [`RUN_SAMPLE`] and [`RUN_SAMPLE`]
/// more spread evenly over the run, so strides cannot alias with a repeating pattern); and
/// whether those are of more than one function.
fn run_function<R: Row>(row: &mut R, first: usize, end: usize) -> (u32, bool) {
    let n = end - first;
    let step = n.div_ceil(RUN_SAMPLE).max(1);
    let head = (first..end).take(RUN_SAMPLE);
    let spread = (first..end).step_by(step).skip(if n > RUN_SAMPLE { 1 } else { RUN_SAMPLE });
    let mut best_code = row.code(first);
    let mut best_dur = row.end(first) - row.start(first);
    let mut mixed = false;
    for m in head.chain(spread) {
        let code = row.code(m);
        if code != best_code {
            mixed = true;
        }
        let dur = row.end(m) - row.start(m);
        if dur > best_dur {
            best_code = code;
            best_dur = dur;
        }
    }
    (best_code, mixed)
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
