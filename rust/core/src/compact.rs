//! The stop of a streamed recording without loading it: the parent's streamed `.fpt` (`FPST`) and
//! its child processes' spools rewritten as one compact `.fpt` (`FPRF` version 2) chunk by chunk,
//! never building the [`Trace`]. Memory is bounded by the number of threads, codes and processes
//! (and the open calls of each thread), not by the calls.
//!
//! The result is the file `fpt::encode(merge([build(stream), build(spool), ...]))` would be: the
//! same trace (the tests compare the bodies byte for byte), the same rules (`crate::calltree`: return
//! matching, calls begun before the recording, unfinished calls, thread order, lanes, names;
//! `crate::merge`: the common clock, processes, codes interned across parts, metadata).
//!
//! How: every event of a thread, in the order the thread made them, is already in the order the
//! `.fpt` body lists a thread's events (a call's entry, its children, its exit), so each event adds
//! to the thread's columns as it is read: `code` and `pops` at an entry, `gaps` (two planes) at
//! every event. Calls begun before the recording (a return with no open call) enclose everything
//! before their return: they are opened at the thread's first time, which in the body is a prefix
//! of `k` entries with gap 0, written when the file is written. Columns fill buffers that are
//! compressed, when full, into raw deflate segments ended by a sync flush (byte-aligned, no final
//! block), on up to four threads beside the one reading (`Pool`), and appended to a spill file
//! next to the output (unlinked as soon as it is made). Writing the file is then copying: the
//! zlib header, every piece of the body in body order (the small tables compressed then, the
//! columns' segments copied from the spill file), an empty final block and the Adler-32 of the
//! whole body, combined from the pieces'. Each segment starts with an empty dictionary, so it is
//! valid wherever it lands; compression is a little worse than one stream (a few per mille).
//!
//! A per-function summary ([`crate::summary`], same definitions) is computed from the same events.
//!
//! What is not rewritten this way ([`CompactError::NeedsBuild`]): a thread's events out of time
//! order, an event of a code not declared before it, a stream holding a whole trace chunk (an
//! earlier stop's children). The caller then builds the trace in memory as before.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use flate2::{Compress, Compression, FlushCompress};

use crate::calltree::assign_lanes;
use crate::formats::codec::put_u;
use crate::formats::fpt;
use crate::formats::{spool, stream};
use crate::merge::UNALIGNED_WARNING;
use crate::model::{CallFlags, Code, Event, EventKind, ProcessInfo, ThreadInfo, ThreadRecord, Trace};
use crate::summary::{EventAcc, Summary};

/// A column buffer is compressed into a segment of the spill file when it holds this many bytes.
const SEGMENT: usize = 256 << 10;
/// All column buffers together: past this, every buffer is compressed out.
const BUDGET: usize = 32 << 20;

/// Why a compaction failed.
#[derive(Debug, thiserror::Error)]
pub enum CompactError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{path}: {error}")]
    Stream { path: String, error: stream::StreamError },
    #[error("{path}: {error}")]
    Spool { path: String, error: spool::SpoolError },
    /// The input needs the in-memory build (see the module docs).
    #[error("{0}")]
    NeedsBuild(String),
    #[error("the trace would hold {0} calls, more than a trace can (2^32 - 2)")]
    TooManyCalls(u64),
}

type Result<T> = std::result::Result<T, CompactError>;

/// Columns of a thread's calls, in body order.
const CODE: usize = 0;
const POPS: usize = 1;
const GAPS1: usize = 2;
const GAPS2: usize = 3;

/// A compressed piece of a column in the spill file.
#[derive(Debug, Clone, Copy)]
struct Segment {
    /// Its number among all segments (compressed on several threads, they arrive in any order).
    seq: u64,
    offset: u64,
    len: u64,
    raw: u64,
    adler: u32,
}

/// Threads compressing column buffers into segments beside the one reading the events: jobs
/// (number, bytes) in, (number, compressed, raw length, Adler-32) out, in any order.
struct Pool {
    jobs: Option<std::sync::mpsc::SyncSender<(u64, Vec<u8>)>>,
    results: std::sync::mpsc::Receiver<(u64, Vec<u8>, u64, u32)>,
    workers: Vec<std::thread::JoinHandle<()>>,
    /// Jobs sent and not yet received back, and the column each is for: (part, thread, column).
    pending: HashMap<u64, (usize, usize, usize)>,
}

impl Pool {
    /// Up to 4 threads (fewer cores, fewer threads); None when none can be started.
    fn start() -> Option<Pool> {
        let n = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 4);
        let (jobs, job_rx) = std::sync::mpsc::sync_channel::<(u64, Vec<u8>)>(2 * n);
        let (done_tx, results) = std::sync::mpsc::channel();
        let job_rx = std::sync::Arc::new(std::sync::Mutex::new(job_rx));
        let mut workers = Vec::with_capacity(n);
        for _ in 0..n {
            let (rx, tx) = (job_rx.clone(), done_tx.clone());
            let spawned = std::thread::Builder::new().name("fprofile-compact".into()).spawn(move || {
                let mut z = Compress::new(Compression::new(fpt::ZLIB_LEVEL), false);
                loop {
                    let job = match rx.lock() {
                        Ok(rx) => rx.recv(),
                        Err(_) => return,
                    };
                    let Ok((seq, data)) = job else { return };
                    let mut out = Vec::new();
                    deflate_segment(&mut z, &data, &mut out);
                    if tx.send((seq, out, data.len() as u64, adler32(1, &data))).is_err() {
                        return;
                    }
                }
            });
            match spawned {
                Ok(h) => workers.push(h),
                Err(_) => break,
            }
        }
        if workers.is_empty() {
            return None;
        }
        Some(Pool { jobs: Some(jobs), results, workers, pending: HashMap::new() })
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.jobs = None; // the workers see the end of their jobs and return
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

/// Compresses `data` as a raw deflate segment ended by a sync flush (byte-aligned, no final
/// block) into `out`.
fn deflate_segment(z: &mut Compress, data: &[u8], out: &mut Vec<u8>) {
    z.reset();
    out.clear();
    let base = z.total_in();
    // Room for the worst case (stored blocks) up front, so that one call does it all.
    out.reserve(data.len() + data.len() / 16 + 4096);
    let mut idle = 0;
    loop {
        out.reserve(data.len() / 2 + 4096);
        let (done, len) = ((z.total_in() - base) as usize, out.len());
        // (compressing from memory into memory cannot fail)
        let _ = z.compress_vec(&data[done.min(data.len())..], out, FlushCompress::Sync);
        // The flush is whole when every byte went in and the output ends with the empty stored
        // block a sync flush ends with (its lengths 0000 ffff) with room to spare: a flush cut
        // short by a full buffer is not always resumed whole otherwise (seen at 100M calls).
        let all_in = (z.total_in() - base) as usize >= data.len();
        if all_in && out.len() < out.capacity() && out.ends_with(&[0, 0, 0xff, 0xff]) {
            break;
        }
        idle = if out.len() == len && (z.total_in() - base) as usize == done { idle + 1 } else { 0 };
        if idle > 2 {
            break; // (never seen: no progress at all)
        }
    }
}

/// A thread as its events go by.
struct Thread {
    /// Its number in its part's file.
    local: usize,
    os_id: u64,
    first_abs: u64,
    prev_abs: u64,
    /// Calls seen (not counting those begun before the recording).
    calls: u64,
    /// Open calls: (code, index among the calls seen).
    stack: Vec<(u32, u64)>,
    /// Codes of the calls begun before the recording, innermost first.
    started_before: Vec<u32>,
    pending_pops: u64,
    cols: [Vec<u8>; 4],
    segs: [Vec<Segment>; 4],
    acc: EventAcc,
    /// After the part's end: the unfinished calls' indices, and the thread's last time.
    unfinished: Vec<u64>,
    last_abs: u64,
}

impl Thread {
    fn gap(&mut self, g: u64) {
        self.cols[GAPS1].push(if g >= 0x80 { (g as u8) | 0x80 } else { g as u8 });
        if g >= 0x80 {
            put_u(&mut self.cols[GAPS2], g >> 7);
        }
    }

    fn buffered(&self) -> usize {
        self.cols.iter().map(Vec::len).sum()
    }
}

/// One input: the parent's stream or a child's spool.
struct Part {
    process: ProcessInfo,
    start_ns: u64,
    stop_ns: u64,
    metadata: Vec<(String, String)>,
    threads: Vec<Thread>,
    names: Vec<Vec<(u64, String)>>,
    /// Global codes this part interned first.
    new_codes: std::ops::Range<usize>,
}

/// What an added part holds: its process, its calls, how its spool ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartInfo {
    pub pid: u64,
    pub parent_pid: u64,
    pub calls: u64,
    /// A spool's end: "exited", "flushed", or None (no end record).
    pub end: Option<&'static str>,
}

/// What the written file holds, without its calls: the trace's tables (codes, threads, processes,
/// metadata; no calls), its number of calls and its summary.
#[derive(Debug)]
pub struct Outline {
    pub trace: Trace,
    pub calls: u64,
    pub summary: Summary,
}

/// The stop's compaction (see the module docs): [`Compactor::add_stream`] the parent's file, then
/// [`Compactor::add_spool`] each child's, then [`Compactor::write`] the parts to keep.
pub struct Compactor {
    /// None: a compactor for summaries ([`Compactor::for_summary`]).
    spill: Option<File>,
    /// The columns are kept (false: only the tables and the summary).
    columns: bool,
    spill_len: u64,
    codes: Vec<Code>,
    code_index: HashMap<Code, u32>,
    parts: Vec<Part>,
    buffered: usize,
    /// [`SEGMENT`] and [`BUDGET`] (smaller in tests).
    segment: usize,
    budget: usize,
    z: Compress,
    zbuf: Vec<u8>,
    /// Threads compressing segments (None: compressed on this thread).
    pool: Option<Pool>,
    next_seq: u64,
}

/// Adler-32 of `data`, continuing from `adler` (1 for nothing).
fn adler32(adler: u32, data: &[u8]) -> u32 {
    const BASE: u32 = 65521;
    let (mut a, mut b) = (adler & 0xffff, adler >> 16);
    for chunk in data.chunks(5552) {
        for &x in chunk {
            a += u32::from(x);
            b += a;
        }
        a %= BASE;
        b %= BASE;
    }
    a | (b << 16)
}

/// Adler-32 of `x` followed by `y`, from the Adler-32 of each and the length of `y`.
fn adler32_combine(ax: u32, ay: u32, len_y: u64) -> u32 {
    const BASE: u64 = 65521;
    // A(xy) = A(x) + A(y) - 1; B(xy) = B(x) + B(y) + len(y) * (A(x) - 1), all mod BASE.
    let (a1, b1) = (u64::from(ax & 0xffff), u64::from(ax >> 16));
    let (a2, b2) = (u64::from(ay & 0xffff), u64::from(ay >> 16));
    let a = (a1 + a2 + BASE - 1) % BASE;
    let b = (b1 + b2 + (len_y % BASE) * ((a1 + BASE - 1) % BASE)) % BASE;
    (a | (b << 16)) as u32
}

impl Compactor {
    /// A compactor spilling into a new unnamed file in `dir` (the output's directory: the spill
    /// takes about what the output will).
    pub fn new(dir: &Path) -> Result<Compactor> {
        use std::os::unix::fs::OpenOptionsExt;
        let mut n = 0u32;
        let spill = loop {
            let path: PathBuf = dir.join(format!(".fprofile-spill.{}.{n}", std::process::id()));
            match std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .mode(0o600)
                .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
                .open(&path)
            {
                Ok(f) => {
                    let _ = std::fs::remove_file(&path);
                    break f;
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && n < 1000 => n += 1,
                Err(e) => return Err(e.into()),
            }
        };
        Ok(Compactor {
            spill: Some(spill),
            columns: true,
            spill_len: 0,
            codes: Vec::new(),
            code_index: HashMap::new(),
            parts: Vec::new(),
            buffered: 0,
            segment: SEGMENT,
            budget: BUDGET,
            z: Compress::new(Compression::new(fpt::ZLIB_LEVEL), false),
            zbuf: Vec::new(),
            pool: Pool::start(),
            next_seq: 0,
        })
    }

    /// A compactor that writes nothing: what [`Compactor::outline`] needs (the tables and the
    /// summary of streamed files, `fprofile stats`), in memory bounded as for a compaction.
    pub fn for_summary() -> Compactor {
        Compactor {
            spill: None,
            columns: false,
            spill_len: 0,
            codes: Vec::new(),
            code_index: HashMap::new(),
            parts: Vec::new(),
            buffered: 0,
            segment: SEGMENT,
            budget: BUDGET,
            z: Compress::new(Compression::new(fpt::ZLIB_LEVEL), false),
            zbuf: Vec::new(),
            pool: None,
            next_seq: 0,
        }
    }

    /// What [`Compactor::write`] would return, without writing.
    pub fn outline(mut self, keep: &[usize]) -> Result<Outline> {
        let (keep, skeleton, total) = self.skeleton(keep)?;
        let mut accs = Vec::with_capacity(skeleton.threads.len());
        for &k in &keep {
            accs.extend(self.parts[k].threads.iter_mut().map(|t| std::mem::replace(&mut t.acc, EventAcc::new(0))));
        }
        let summary = crate::summary::from_threads(&skeleton, accs);
        Ok(Outline { trace: skeleton, calls: total, summary })
    }

    /// Spills column buffers at `segment` bytes, all of them past `budget` bytes together (tests
    /// use small ones to exercise the spill).
    pub fn with_limits(mut self, segment: usize, budget: usize) -> Compactor {
        self.segment = segment.max(1);
        self.budget = budget;
        self
    }

    /// Compresses `data` as a raw deflate segment ended by a sync flush into `self.zbuf`.
    fn deflate(&mut self, data: &[u8]) {
        deflate_segment(&mut self.z, data, &mut self.zbuf);
    }

    /// Compresses a thread's column buffer into a segment of the spill file (on the pool's
    /// threads when there are some: the segment is written when it comes back).
    fn spill_column(&mut self, part: usize, thread: usize, col: usize) -> Result<()> {
        let data = std::mem::take(&mut self.parts[part].threads[thread].cols[col]);
        if data.is_empty() {
            return Ok(());
        }
        self.buffered -= data.len();
        let seq = self.next_seq;
        self.next_seq += 1;
        if let Some(pool) = self.pool.as_mut() {
            if let Some(jobs) = pool.jobs.as_ref() {
                pool.pending.insert(seq, (part, thread, col));
                if jobs.send((seq, data)).is_ok() {
                    // (at most a few jobs wait: the sender blocks when the queue is full)
                    while let Ok(r) =
                        self.pool.as_ref().map_or(Err(std::sync::mpsc::TryRecvError::Disconnected), |p| p.results.try_recv())
                    {
                        self.land(r)?;
                    }
                    return Ok(());
                }
                return Err(std::io::Error::other("the compression threads ended").into());
            }
        }
        self.deflate(&data);
        let (compressed, raw, adler) = (std::mem::take(&mut self.zbuf), data.len() as u64, adler32(1, &data));
        self.put_segment(part, thread, col, seq, &compressed, raw, adler)?;
        self.zbuf = compressed;
        Ok(())
    }

    /// A segment back from the pool: written to the spill file, given to its column.
    fn land(&mut self, (seq, compressed, raw, adler): (u64, Vec<u8>, u64, u32)) -> Result<()> {
        let Some((part, thread, col)) = self.pool.as_mut().and_then(|p| p.pending.remove(&seq)) else {
            return Ok(());
        };
        self.put_segment(part, thread, col, seq, &compressed, raw, adler)
    }

    #[allow(clippy::too_many_arguments)]
    fn put_segment(
        &mut self,
        part: usize,
        thread: usize,
        col: usize,
        seq: u64,
        compressed: &[u8],
        raw: u64,
        adler: u32,
    ) -> Result<()> {
        if let Some(f) = self.spill.as_mut() {
            f.write_all(compressed)?;
        }
        let seg = Segment { seq, offset: self.spill_len, len: compressed.len() as u64, raw, adler };
        self.spill_len += seg.len;
        if let Some(th) = self.parts.get_mut(part).and_then(|p| p.threads.get_mut(thread)) {
            th.segs[col].push(seg);
        }
        Ok(())
    }

    /// Waits for every segment sent to the pool.
    fn drain(&mut self) -> Result<()> {
        while self.pool.as_ref().is_some_and(|p| !p.pending.is_empty()) {
            let r = match self.pool.as_ref().map(|p| p.results.recv()) {
                Some(Ok(r)) => r,
                _ => return Err(std::io::Error::other("the compression threads ended").into()),
            };
            self.land(r)?;
        }
        Ok(())
    }

    fn spill_full(&mut self, part: usize, thread: usize) -> Result<()> {
        for col in 0..4 {
            if self.parts[part].threads[thread].cols[col].len() >= self.segment {
                self.spill_column(part, thread, col)?;
            }
        }
        if self.buffered > self.budget {
            for p in 0..self.parts.len() {
                for t in 0..self.parts[p].threads.len() {
                    for col in 0..4 {
                        self.spill_column(p, t, col)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Interns the codes the part's file declared since the last call; `remap` maps its ids.
    fn intern(&mut self, codes: &[Code], remap: &mut Vec<u32>) {
        for c in &codes[remap.len()..] {
            let id = match self.code_index.get(c) {
                Some(&id) => id,
                None => {
                    let id = self.codes.len() as u32;
                    self.codes.push(c.clone());
                    self.code_index.insert(c.clone(), id);
                    id
                }
            };
            remap.push(id);
        }
    }

    /// Adds a batch of a thread's events to its columns.
    fn events(
        &mut self,
        part: usize,
        local: usize,
        os_id: u64,
        events: &[Event],
        remap: &[u32],
        index: &mut Vec<usize>,
    ) -> Result<()> {
        if index.len() <= local {
            index.resize(local + 1, usize::MAX);
        }
        if index[local] == usize::MAX {
            let Some(first) = events.first() else { return Ok(()) };
            let p = &mut self.parts[part];
            index[local] = p.threads.len();
            p.threads.push(Thread {
                local,
                os_id,
                first_abs: first.t_ns,
                prev_abs: first.t_ns,
                calls: 0,
                stack: Vec::new(),
                started_before: Vec::new(),
                pending_pops: 0,
                cols: Default::default(),
                segs: Default::default(),
                acc: EventAcc::new(first.t_ns),
                unfinished: Vec::new(),
                last_abs: first.t_ns,
            });
        }
        let ti = index[local];
        let cols = self.columns;
        let th = &mut self.parts[part].threads[ti];
        let before = th.buffered();
        let mut problem = None;
        for e in events {
            if e.t_ns < th.prev_abs {
                problem = Some("a thread's events are out of time order".to_string());
                break;
            }
            let Some(&code) = remap.get(e.code as usize) else {
                problem = Some(format!("an event of code {} before its declaration", e.code));
                break;
            };
            let g = e.t_ns - th.prev_abs;
            th.prev_abs = e.t_ns;
            match e.kind {
                EventKind::Call => {
                    let pops = std::mem::take(&mut th.pending_pops);
                    if cols {
                        th.gap(g);
                        put_u(&mut th.cols[CODE], u64::from(code));
                        put_u(&mut th.cols[POPS], pops);
                    }
                    th.stack.push((code, th.calls));
                    th.calls += 1;
                    th.acc.enter(code as usize, e.t_ns);
                }
                EventKind::Return => {
                    let pos = match th.stack.last() {
                        Some(&(top, _)) if top == code => Some(th.stack.len() - 1),
                        _ => th.stack.iter().rposition(|&(c, _)| c == code),
                    };
                    let closed = th.stack.len() - pos.unwrap_or(0);
                    for _ in 0..closed {
                        th.stack.pop();
                        th.acc.exit(e.t_ns);
                    }
                    let exits = if pos.is_none() {
                        th.started_before.push(code);
                        th.acc.started_before_return(code as usize, e.t_ns);
                        closed + 1
                    } else {
                        closed
                    };
                    th.pending_pops += exits as u64;
                    if cols {
                        th.gap(g);
                        for _ in 1..exits {
                            th.gap(0);
                        }
                    }
                }
            }
        }
        self.buffered += th.buffered() - before;
        if let Some(why) = problem {
            return Err(CompactError::NeedsBuild(why));
        }
        self.spill_full(part, ti)
    }

    fn begin_part(&mut self) -> usize {
        let at = self.codes.len();
        self.parts.push(Part {
            process: ProcessInfo::default(),
            start_ns: 0,
            stop_ns: 0,
            metadata: Vec::new(),
            threads: Vec::new(),
            names: Vec::new(),
            new_codes: at..at,
        });
        self.parts.len() - 1
    }

    /// Ends a part once its file is read: stop time, unfinished calls, names.
    fn end_part(&mut self, part: usize, rec: crate::model::Recording, threads: &[ThreadRecord]) {
        let at = self.codes.len();
        let p = &mut self.parts[part];
        p.new_codes.end = at;
        p.process = rec.process;
        p.start_ns = rec.start_ns;
        p.stop_ns = rec.stop_ns;
        p.metadata = rec.metadata;
        p.names = threads.iter().map(|t| t.names.clone()).collect();
        let max_abs = p.threads.iter().map(|t| t.prev_abs).max().unwrap_or(0);
        let stop_abs = if p.stop_ns != 0 && p.stop_ns >= max_abs { p.stop_ns } else { max_abs };
        for th in p.threads.iter_mut() {
            th.last_abs = th.prev_abs;
            if th.stack.is_empty() {
                continue;
            }
            let g = stop_abs - th.prev_abs;
            let open = std::mem::take(&mut th.stack);
            for (k, &(_, index)) in open.iter().rev().enumerate() {
                th.gap(if k == 0 { g } else { 0 });
                th.unfinished.push(index);
                th.acc.exit(stop_abs);
            }
            th.last_abs = th.last_abs.max(stop_abs);
        }
    }

    /// Drops the last part (its file could not be read): its codes are forgotten; what it spilled
    /// stays unused in the spill file.
    fn abandon_part(&mut self) {
        // (its segments under way land first, so that none lands in a later part of its number)
        let _ = self.drain();
        if let Some(p) = self.parts.pop() {
            let from = p.new_codes.start.min(self.codes.len());
            for c in self.codes.drain(from..) {
                self.code_index.remove(&c);
            }
            self.buffered -= p.threads.iter().map(Thread::buffered).sum::<usize>();
        }
    }

    /// Adds the parent's streamed file (read chunk by chunk). A file that cannot be read adds
    /// nothing.
    pub fn add_stream(&mut self, path: &Path) -> Result<PartInfo> {
        let part = self.begin_part();
        let r = self.read_stream(path, part);
        if r.is_err() {
            self.abandon_part();
        }
        r
    }

    /// Adds a child's spool (read record by record). A file that cannot be read adds nothing.
    pub fn add_spool(&mut self, path: &Path) -> Result<PartInfo> {
        let part = self.begin_part();
        let r = self.read_spool(path, part);
        if r.is_err() {
            self.abandon_part();
        }
        r
    }

    fn read_stream(&mut self, path: &Path, part: usize) -> Result<PartInfo> {
        let f = File::open(path)?;
        let len = f.metadata()?.len();
        let name = path.display().to_string();
        let serr = |error| CompactError::Stream { path: name.clone(), error };
        let mut sc = stream::Scanner::new(BufReader::with_capacity(1 << 20, f), len).map_err(serr)?;
        let mut remap = Vec::new();
        let mut index = Vec::new();
        while sc.next_chunk().map_err(serr)? {
            self.intern(sc.codes(), &mut remap);
            for (t, evs) in sc.take_events() {
                let os_id = sc.threads()[t].os_id;
                self.events(part, t, os_id, &evs, &remap, &mut index)?;
            }
        }
        let threads: Vec<ThreadRecord> = sc.threads().to_vec();
        let read = sc.finish();
        if read.trace.is_some() {
            return Err(CompactError::NeedsBuild("the file holds a whole trace chunk".into()));
        }
        let info = PartInfo {
            pid: read.recording.process.pid,
            parent_pid: read.recording.process.parent_pid,
            calls: self.parts[part].threads.iter().map(|t| t.calls + t.started_before.len() as u64).sum(),
            end: None,
        };
        self.end_part(part, read.recording, &threads);
        Ok(info)
    }

    fn read_spool(&mut self, path: &Path, part: usize) -> Result<PartInfo> {
        let f = File::open(path)?;
        let len = f.metadata()?.len();
        let name = path.display().to_string();
        let serr = |error| CompactError::Spool { path: name.clone(), error };
        let mut sc = spool::Scanner::new(BufReader::with_capacity(1 << 20, f), len)?.map_err(serr)?;
        let mut remap = Vec::new();
        let mut index = Vec::new();
        while sc.next_record()?.map_err(serr)? {
            self.intern(sc.codes(), &mut remap);
            for (t, evs) in sc.take_events() {
                let os_id = sc.threads()[t].os_id;
                self.events(part, t, os_id, &evs, &remap, &mut index)?;
            }
        }
        let threads: Vec<ThreadRecord> = sc.threads().to_vec();
        let read = sc.finish().map_err(serr)?;
        let end = read.end.map(|e| match e.how {
            spool::EndHow::Exited => "exited",
            spool::EndHow::FlushedRunning => "flushed",
        });
        let info = PartInfo {
            pid: read.recording.process.pid,
            parent_pid: read.recording.process.parent_pid,
            calls: self.parts[part].threads.iter().map(|t| t.calls + t.started_before.len() as u64).sum(),
            end,
        };
        self.end_part(part, read.recording, &threads);
        Ok(info)
    }

    /// The trace of the parts `keep` without its calls (see [`Compactor::write`]); `keep` as
    /// checked, and the number of calls.
    fn skeleton(&mut self, keep: &[usize]) -> Result<(Vec<usize>, Trace, u64)> {
        self.drain()?;
        self.pool = None;
        let keep: Vec<usize> = keep.iter().copied().filter(|&k| k < self.parts.len()).collect();
        let Some(&first) = keep.first() else {
            return Err(CompactError::NeedsBuild("nothing to write: no part was kept".into()));
        };
        for (k, p) in self.parts.iter().enumerate() {
            if !keep.contains(&k) && !p.new_codes.is_empty() {
                return Err(CompactError::NeedsBuild("a process left out declared codes".into()));
            }
        }
        let total: u64 =
            keep.iter().flat_map(|&k| self.parts[k].threads.iter()).map(|t| t.calls + t.started_before.len() as u64).sum();
        if total >= u64::from(u32::MAX) - 1 {
            return Err(CompactError::TooManyCalls(total));
        }
        let merged = keep.len() > 1;

        // Each part's threads by first time (ties: recording order), its process's span (absolute).
        struct Placed {
            start_abs: i128,
            end_abs: i128,
            origin_abs: i128,
        }
        let mut placed: Vec<Placed> = Vec::with_capacity(keep.len());
        for &k in &keep {
            let p = &mut self.parts[k];
            p.threads.sort_by_key(|t| t.first_abs);
            let min_abs = p.threads.iter().map(|t| t.first_abs).min().unwrap_or(0);
            let origin = if p.threads.is_empty() || p.start_ns != 0 { p.start_ns } else { min_abs };
            let max_abs = p.threads.iter().map(|t| t.prev_abs).max().unwrap_or(0);
            let stop_abs = if p.stop_ns != 0 && p.stop_ns >= max_abs { p.stop_ns } else { max_abs };
            let (start_abs, end_abs) = if p.threads.is_empty() {
                (i128::from(p.start_ns), i128::from(p.start_ns.max(p.stop_ns)))
            } else {
                let last = p.threads.iter().map(|t| t.last_abs).max().unwrap_or(0);
                (i128::from(origin.min(min_abs)), i128::from(stop_abs.max(last)))
            };
            placed.push(Placed { start_abs, end_abs, origin_abs: i128::from(origin) });
        }
        let origin: i128 =
            if merged { placed.iter().map(|p| p.start_abs).min().unwrap_or(0).max(0) } else { placed[0].origin_abs };
        let rel = |abs: i128| -> i64 { (abs - origin).clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64 };

        // The trace's tables (no calls).
        let mut processes = Vec::with_capacity(keep.len());
        let mut threads: Vec<ThreadInfo> = Vec::new();
        let mut call_base = 0u32;
        for (pi, &k) in keep.iter().enumerate() {
            let p = &self.parts[k];
            let mut pr = p.process.clone();
            pr.start_ns = rel(placed[pi].start_abs);
            pr.end_ns = rel(placed[pi].end_abs);
            processes.push(pr);
            for th in &p.threads {
                let first_ns = rel(i128::from(th.first_abs));
                let names = p.names.get(th.local).cloned().unwrap_or_default();
                let calls = (th.calls + th.started_before.len() as u64) as u32;
                threads.push(ThreadInfo {
                    os_id: th.os_id,
                    names: crate::calltree::rebase_names(names, th.first_abs, first_ns, th.os_id, &|t| rel(i128::from(t))),
                    first_ns,
                    last_ns: rel(i128::from(th.last_abs)),
                    lane: 0,
                    process: pi as u32,
                    call_range: (call_base, call_base + calls),
                });
                call_base += calls;
            }
        }
        let mut order: Vec<usize> = (0..threads.len()).collect();
        order.sort_by_key(|&i| threads[i].first_ns);
        let mut sorted: Vec<ThreadInfo> = order.iter().map(|&i| threads[i].clone()).collect();
        assign_lanes(&mut sorted);
        for (k, &i) in order.iter().enumerate() {
            threads[i].lane = sorted[k].lane;
        }
        let mut metadata = std::mem::take(&mut self.parts[first].metadata);
        if merged {
            metadata.retain(|(k, _)| k != "processes" && k != UNALIGNED_WARNING);
            metadata.push(("processes".into(), processes.len().to_string()));
        }
        let skeleton = Trace {
            origin_ns: origin as u64,
            codes: std::mem::take(&mut self.codes),
            threads,
            calls: Default::default(),
            metadata,
            processes,
            bands: Vec::new(),
        };
        Ok((keep, skeleton, total))
    }

    /// Writes the parts `keep` (indices in the order they were added; the first is the trace's
    /// metadata) as one `.fpt` at `out` (atomically: a sibling file renamed over it). Returns what
    /// it holds.
    pub fn write(mut self, out_path: &Path, keep: &[usize]) -> Result<Outline> {
        if !self.columns {
            return Err(CompactError::NeedsBuild("a compactor for summaries writes no file".into()));
        }
        let (keep, skeleton, total) = self.skeleton(keep)?;
        // The body's pieces, in order: bytes to compress now, or a column's segments.
        enum Piece {
            Bytes(Vec<u8>),
            Spilled(Vec<Segment>),
        }
        let mut pieces: Vec<Piece> = Vec::new();
        let mut summaries = Vec::with_capacity(skeleton.threads.len());
        let mut placed_threads: Vec<(usize, usize)> = Vec::with_capacity(skeleton.threads.len());
        for &k in &keep {
            placed_threads.extend((0..self.parts[k].threads.len()).map(|t| (k, t)));
        }
        let mut next = placed_threads.into_iter();
        let mut out = Vec::new();
        let parts = &mut self.parts;
        fpt::encode_body_with(&skeleton, &mut out, |out, _info| {
            let Some((k, t)) = next.next() else { return };
            let th = &mut parts[k].threads[t];
            let kb = th.started_before.len();
            put_u(out, th.calls + kb as u64);
            // calls begun before the recording: outermost first, at the thread's first time
            for &c in th.started_before.iter().rev() {
                put_u(out, u64::from(c));
            }
            for segs in th.segs.iter_mut() {
                segs.sort_unstable_by_key(|s| s.seq);
            }
            let [s_code, s_pops, s_g1, s_g2] = std::mem::take(&mut th.segs);
            let [c_code, c_pops, c_g1, c_g2] = std::mem::take(&mut th.cols);
            let mut flush = |out: &mut Vec<u8>, segs: Vec<Segment>, tail: Vec<u8>| {
                pieces.push(Piece::Bytes(std::mem::take(out)));
                pieces.push(Piece::Spilled(segs));
                *out = tail;
            };
            flush(out, s_code, c_code);
            out.resize(out.len() + kb, 0); // their pops
            flush(out, s_pops, c_pops);
            put_u(out, 0); // no call starts before the previous event: an empty back list
            out.resize(out.len() + kb, 0); // their gaps
            flush(out, s_g1, c_g1);
            flush(out, s_g2, c_g2);
            // flagged calls: those begun before (0..k), then the unfinished ones
            let mut flagged: Vec<(u64, u8)> = (0..kb as u64).map(|i| (i, CallFlags::STARTED_BEFORE)).collect();
            let mut unf: Vec<u64> = th.unfinished.iter().map(|&i| i + kb as u64).collect();
            unf.sort_unstable();
            flagged.extend(unf.into_iter().map(|i| (i, CallFlags::UNFINISHED)));
            put_u(out, flagged.len() as u64);
            let mut prev: Option<u64> = None;
            for (i, fl) in flagged {
                put_u(out, i - prev.map_or(0, |p| p + 1));
                prev = Some(i);
                put_u(out, u64::from(fl));
            }
            summaries.push(std::mem::replace(&mut th.acc, EventAcc::new(0)));
        });
        pieces.push(Piece::Bytes(out));

        let body_len: u64 = pieces
            .iter()
            .map(|p| match p {
                Piece::Bytes(b) => b.len() as u64,
                Piece::Spilled(s) => s.iter().map(|s| s.raw).sum(),
            })
            .sum();
        let Some(mut spill) = self.spill.take() else {
            return Err(CompactError::NeedsBuild("a compactor for summaries writes no file".into()));
        };
        spill.flush()?;
        let mut copy = Vec::new();
        crate::fsio::write_atomic(out_path, |w| {
            w.write_all(&fpt::MAGIC)?;
            w.write_all(&fpt::VERSION.to_le_bytes())?;
            w.write_all(&fpt::FLAG_ZLIB.to_le_bytes())?;
            w.write_all(&body_len.to_le_bytes())?;
            w.write_all(&[0x78, 0x9c])?;
            let mut adler = 1u32;
            for p in &pieces {
                match p {
                    Piece::Bytes(b) => {
                        if b.is_empty() {
                            continue;
                        }
                        self.deflate(b);
                        w.write_all(&self.zbuf)?;
                        adler = adler32_combine(adler, adler32(1, b), b.len() as u64);
                    }
                    Piece::Spilled(segs) => {
                        for s in segs {
                            copy.resize(s.len as usize, 0);
                            spill.seek(SeekFrom::Start(s.offset))?;
                            spill.read_exact(&mut copy)?;
                            w.write_all(&copy)?;
                            adler = adler32_combine(adler, s.adler, s.raw);
                        }
                    }
                }
            }
            // an empty final block (fixed Huffman codes), then the Adler-32 of the whole body
            w.write_all(&[0x03, 0x00])?;
            w.write_all(&adler.to_be_bytes())?;
            Ok(())
        })?;
        let summary = crate::summary::from_threads(&skeleton, summaries);
        Ok(Outline { trace: skeleton, calls: total, summary })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::stream::{Encoder, NewThread};

    /// Segments of every kind (incompressible, repetitive, empty-ish, long), each compressed from
    /// an empty buffer as the pool's threads do, concatenated as `write` does: one valid stream.
    #[test]
    fn segments_concatenate_into_one_zlib_stream() {
        let mut rng = Rng(77);
        let mut z = Compress::new(Compression::new(fpt::ZLIB_LEVEL), false);
        let mut stream = vec![0x78, 0x9c];
        let (mut whole, mut adler) = (Vec::new(), 1u32);
        for k in 0..40 {
            let n = [1, 100, 70_000, 262_144, 600_000][k % 5] + rng.next(5000) as usize;
            let data: Vec<u8> = match k % 3 {
                0 => (0..n).map(|_| rng.next(256) as u8).collect(),
                1 => (0..n).map(|i| (i % 7) as u8 | if rng.next(50) == 0 { 0x80 } else { 0 }).collect(),
                _ => (0..n).map(|_| (rng.next(4) * 60) as u8).collect(),
            };
            let mut out = Vec::new();
            deflate_segment(&mut z, &data, &mut out);
            stream.extend_from_slice(&out);
            adler = adler32_combine(adler, adler32(1, &data), data.len() as u64);
            whole.extend_from_slice(&data);
        }
        stream.extend_from_slice(&[0x03, 0x00]);
        stream.extend_from_slice(&adler.to_be_bytes());
        let mut back = Vec::new();
        flate2::read::ZlibDecoder::new(&stream[..]).read_to_end(&mut back).unwrap();
        assert!(back == whole, "{} of {} bytes back", back.len(), whole.len());
    }

    #[test]
    fn adler_combines() {
        let (x, y) = (b"the quick brown fox ".repeat(300), b"jumps over".repeat(7000));
        let whole = adler32(1, &[x.clone(), y.clone()].concat());
        assert_eq!(adler32_combine(adler32(1, &x), adler32(1, &y), y.len() as u64), whole);
        assert_eq!(adler32_combine(1, adler32(1, &y), y.len() as u64), adler32(1, &y));
        assert_eq!(adler32(adler32(1, &x), &y), whole);
    }

    struct Rng(u64);
    impl Rng {
        fn next(&mut self, m: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % m.max(1)
        }
    }

    /// Random events of `threads` threads over `codes` codes: nested calls, returns of calls
    /// begun before (no matching call), returns closing several calls, calls left open.
    fn random_threads(rng: &mut Rng, threads: usize, codes: u32, events: usize, t0: u64) -> Vec<Vec<Event>> {
        (0..threads)
            .map(|_| {
                let mut t = t0 + rng.next(5_000);
                let mut open: Vec<u32> = Vec::new();
                let mut out = Vec::new();
                for _ in 0..rng.next(events as u64) + 1 {
                    t += rng.next(3) * rng.next(400);
                    let r = rng.next(100);
                    if r < 50 || open.is_empty() && r < 80 {
                        let c = rng.next(u64::from(codes)) as u32;
                        open.push(c);
                        out.push(Event { t_ns: t, code: c, kind: EventKind::Call });
                    } else if r < 95 && !open.is_empty() {
                        let c = open.pop().unwrap_or(0);
                        out.push(Event { t_ns: t, code: c, kind: EventKind::Return });
                    } else {
                        // a code maybe deeper in the stack, or none (begun before)
                        let c = rng.next(u64::from(codes)) as u32;
                        if let Some(p) = open.iter().rposition(|&o| o == c) {
                            open.truncate(p);
                        }
                        out.push(Event { t_ns: t, code: c, kind: EventKind::Return });
                    }
                }
                out
            })
            .collect()
    }

    fn codes(n: u32, tag: &str) -> Vec<Code> {
        (0..n).map(|i| Code { file: format!("/app/{}.py", i % 3), name: format!("{tag}{}", i % 5), first_line: i % 4 }).collect()
    }

    /// A streamed file of these threads, in rounds, codes and threads declared as first used.
    fn stream_file(codes: &[Code], threads: &[Vec<Event>], start: u64, end: Option<u64>, rounds: usize) -> Vec<u8> {
        let mut e = Encoder::default();
        e.header();
        let p =
            ProcessInfo { pid: 100, parent_pid: 1, name: "python prog.py".into(), host: "h".into(), ..ProcessInfo::default() };
        e.process(&p, start);
        e.metadata(&[("subs".to_string(), "[\"app\"]".to_string())]);
        let mut declared_codes = 0usize;
        let mut declared_threads = 0usize;
        for r in 0..rounds {
            let mut batch: Vec<(u32, Vec<Event>)> = Vec::new();
            for (ti, evs) in threads.iter().enumerate() {
                let lo = evs.len() * r / rounds;
                let hi = evs.len() * (r + 1) / rounds;
                if lo < hi {
                    batch.push((ti as u32, evs[lo..hi].to_vec()));
                }
            }
            let need = batch.iter().flat_map(|(_, e)| e.iter()).map(|e| e.code as usize + 1).max().unwrap_or(0);
            if need > declared_codes {
                e.codes(declared_codes as u32, &codes[declared_codes..need]);
                declared_codes = need;
            }
            let need_t = batch.iter().map(|(t, _)| *t as usize + 1).max().unwrap_or(0);
            if need_t > declared_threads {
                let new: Vec<NewThread> =
                    (declared_threads..need_t).map(|t| NewThread { id: t as u32, os_id: 1000 + t as u64, ident: 7 }).collect();
                let names: Vec<(u32, u64, &str)> = (declared_threads..need_t)
                    .filter(|t| t % 3 != 2)
                    .map(|t| (t as u32, start, if t == 0 { "MainThread" } else { "worker" }))
                    .collect();
                e.threads(&new, &names);
                declared_threads = need_t;
            }
            for (t, evs) in &batch {
                e.events(*t, evs, |t| t);
            }
            let until = batch.iter().flat_map(|(_, e)| e.last()).map(|e| e.t_ns).max().unwrap_or(start);
            e.flush_events(until);
        }
        if let Some(stop) = end {
            e.end(stop);
        }
        e.out
    }

    fn spool_file(pid: u64, codes: &[Code], threads: &[Vec<Event>], start: u64, end: Option<u64>) -> Vec<u8> {
        let mut e = spool::Encoder::default();
        e.header();
        e.process(&ProcessInfo { pid, parent_pid: 100, name: format!("child {pid}"), ..ProcessInfo::default() }, start);
        for c in codes {
            e.code(c);
        }
        for (t, evs) in threads.iter().enumerate() {
            e.thread(t as u32, 2000 + t as u64, 9);
            e.thread_name(t as u32, start, "MainThread");
            for piece in evs.chunks(50) {
                e.events(t as u32, piece, |t| t);
            }
        }
        if let Some(stop) = end {
            e.end(spool::End { t_ns: stop, how: spool::EndHow::Exited, exit_status: Some(0) });
        }
        e.buf
    }

    struct Case {
        dir: PathBuf,
    }
    impl Case {
        fn new(name: &str) -> Case {
            let dir = std::env::temp_dir().join(format!("fprofile-compact-{}-{name}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            Case { dir }
        }
        fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
            let p = self.dir.join(name);
            std::fs::write(&p, bytes).unwrap();
            p
        }
    }
    impl Drop for Case {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    /// Compacts the stream and spools; checks the body and the summary against the in-memory path.
    fn check(case: &Case, stream_bytes: &[u8], spools: &[Vec<u8>], keep: &[usize], limits: (usize, usize)) -> Outline {
        let sp = case.file("rec.fpt", stream_bytes);
        let mut c = Compactor::new(&case.dir).unwrap().with_limits(limits.0, limits.1);
        let mut parts = vec![crate::formats::stream::decode(stream_bytes).unwrap()];
        c.add_stream(&sp).unwrap();
        for (i, s) in spools.iter().enumerate() {
            let p = case.file(&format!("{i}.spool"), s);
            let info = c.add_spool(&p).unwrap();
            let t = crate::calltree::build_process_trace(spool::read(s).unwrap().recording);
            assert_eq!(info.calls as usize, t.calls.len());
            parts.push(t);
        }
        let out = case.dir.join("out.fpt");
        let outline = c.write(&out, keep).unwrap();
        let kept: Vec<Trace> = keep.iter().map(|&k| parts[k].clone()).collect();
        let want = if kept.len() > 1 { crate::merge::merge(kept).unwrap() } else { kept.into_iter().next().unwrap() };
        let bytes = std::fs::read(&out).unwrap();
        let got = fpt::decode(&bytes).unwrap();
        assert_eq!(fpt::decode_body(&bytes).unwrap(), fpt::encode_body(&want), "bodies differ");
        assert_eq!(got, fpt::decode(&fpt::encode(&want)).unwrap());
        assert_eq!(outline.calls as usize, want.calls.len());
        assert_eq!(outline.summary, crate::summary::summarize(&want), "summaries differ");
        assert_eq!(outline.trace.threads, want.threads);
        assert_eq!(outline.trace.processes, want.processes);
        assert_eq!(outline.trace.metadata, want.metadata);
        // the outline of both files, read in one pass, is the same
        let walked = crate::load::outline(&out, &mut |_, _| {}).unwrap().unwrap();
        assert_eq!(walked.summary, outline.summary);
        assert_eq!((walked.calls, &walked.trace.threads, &walked.trace.metadata), (outline.calls, &want.threads, &want.metadata));
        if keep.len() == 1 {
            let streamed = crate::load::outline(&sp, &mut |_, _| {}).unwrap().unwrap();
            assert_eq!(streamed.summary, outline.summary);
            assert_eq!(streamed.trace.threads, want.threads);
        }
        // no spill file is left
        let left: Vec<_> = std::fs::read_dir(&case.dir).unwrap().flatten().map(|e| e.file_name()).collect();
        assert!(left.iter().all(|n| !n.to_string_lossy().contains("spill")), "{left:?}");
        outline
    }

    #[test]
    fn random_recordings_compact_to_the_file_of_the_built_trace() {
        let case = Case::new("random");
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for round in 0..60 {
            let n_threads = 1 + rng.next(4) as usize;
            let cs = codes(1 + rng.next(12) as u32, "f");
            let threads = random_threads(&mut rng, n_threads, cs.len() as u32, 400, 1_000_000);
            let last = threads.iter().flat_map(|t| t.last()).map(|e| e.t_ns).max().unwrap_or(0);
            let end = if round % 4 == 3 { None } else { Some(last + rng.next(1000)) };
            let bytes = stream_file(&cs, &threads, 999_000 + rng.next(2) * 2_000, end, 1 + rng.next(5) as usize);
            let limits = if round % 2 == 0 { (64, 1 << 20) } else { (SEGMENT, 300) };
            check(&case, &bytes, &[], &[0], limits);
        }
    }

    #[test]
    fn children_merge_on_the_common_clock() {
        let case = Case::new("children");
        let mut rng = Rng(42);
        for round in 0..20 {
            let cs = codes(6, "f");
            let threads = random_threads(&mut rng, 2, 6, 300, 1_000_000);
            let bytes = stream_file(&cs, &threads, 1_000_000, Some(9_000_000), 3);
            let child_codes = codes(8, if round % 2 == 0 { "f" } else { "g" });
            let spools: Vec<Vec<u8>> = (0..3)
                .map(|k| {
                    let th =
                        if k == 1 { Vec::new() } else { random_threads(&mut rng, 1 + k, 8, 300, 1_200_000 + 1000 * k as u64) };
                    let end = if k == 2 { None } else { Some(8_000_000) };
                    spool_file(200 + k as u64, if th.is_empty() { &[] } else { &child_codes }, &th, 1_100_000 + k as u64, end)
                })
                .collect();
            check(&case, &bytes, &spools, &[0, 1, 2, 3], (128, 1 << 20));
            // the child that recorded nothing left out
            check(&case, &bytes, &spools, &[0, 1, 3], (SEGMENT, BUDGET));
        }
    }

    #[test]
    fn a_cut_stream_compacts_what_is_whole() {
        let case = Case::new("cut");
        let mut rng = Rng(7);
        let cs = codes(5, "f");
        let threads = random_threads(&mut rng, 3, 5, 2000, 1_000_000);
        let bytes = stream_file(&cs, &threads, 1_000_000, None, 6);
        for cut in [bytes.len() - 1, bytes.len() - 40, bytes.len() * 2 / 3, bytes.len() / 2 + 3] {
            let o = check(&case, &bytes[..cut], &[], &[0], (256, 1 << 20));
            assert!(o.trace.metadata.iter().any(|(k, _)| k == crate::formats::stream::END_MISSING_WARNING));
        }
        // a damaged chunk that is not the last is an error naming it
        let mut bad = bytes.clone();
        bad[stream::HEADER_LEN + 20] ^= 0xff;
        let p = case.file("bad.fpt", &bad);
        let mut c = Compactor::new(&case.dir).unwrap();
        let e = c.add_stream(&p).unwrap_err().to_string();
        assert!(e.contains("chunk 0 at byte 8"), "{e}");
    }

    #[test]
    fn a_spool_that_cannot_be_read_adds_nothing() {
        let case = Case::new("badspool");
        let mut rng = Rng(11);
        let cs = codes(4, "f");
        let threads = random_threads(&mut rng, 2, 4, 300, 1_000_000);
        let bytes = stream_file(&cs, &threads, 1_000_000, Some(5_000_000), 2);
        let sp = case.file("rec.fpt", &bytes);
        let good = spool_file(7, &codes(4, "f"), &random_threads(&mut rng, 1, 4, 200, 1_100_000), 1_050_000, Some(4_000_000));
        let mut bad = spool_file(8, &codes(6, "zz"), &random_threads(&mut rng, 1, 6, 200, 1_100_000), 1_050_000, Some(4_000_000));
        // a malformed events record (not a multiple of 12 bytes) after the codes
        bad.extend_from_slice(&[6, 5, 0, 0, 0, 0, 0, 0, 0, 1]);
        bad.extend_from_slice(&[9, 1, 0, 0, 0, 0]);
        let mut c = Compactor::new(&case.dir).unwrap();
        c.add_stream(&sp).unwrap();
        assert!(c.add_spool(&case.file("bad.spool", &bad)).is_err());
        assert!(c.add_spool(&case.dir.join("missing.spool")).is_err());
        c.add_spool(&case.file("good.spool", &good)).unwrap();
        let out = case.dir.join("out.fpt");
        c.write(&out, &[0, 1]).unwrap();
        let want = crate::merge::merge(vec![
            crate::formats::stream::decode(&bytes).unwrap(),
            crate::calltree::build_process_trace(spool::read(&good).unwrap().recording),
        ])
        .unwrap();
        assert_eq!(fpt::decode_body(&std::fs::read(&out).unwrap()).unwrap(), fpt::encode_body(&want));
    }

    #[test]
    fn a_walk_gives_the_summary_of_any_fpt() {
        let case = Case::new("walk");
        for (i, seed) in [1u64, 2, 3, 99].into_iter().enumerate() {
            let t = crate::synthetic::synthetic_trace(5_000 * (i + 1), 1 + i, seed);
            let p = case.file("s.fpt", &fpt::encode(&t));
            let o = crate::load::outline(&p, &mut |_, _| {}).unwrap().unwrap();
            assert_eq!(o.summary, crate::summary::summarize(&t));
            assert_eq!(o.calls as usize, t.calls.len());
        }
        // a call starting before its previous sibling ended (the back list), a thread with none
        let mut t = crate::synthetic::synthetic_trace(3, 1, 5);
        t.calls.start_ns = vec![0, 5, 30];
        t.calls.end_ns = vec![10, 20, 40];
        t.calls.depth = vec![0, 0, 0];
        t.calls.parent = vec![u32::MAX; 3];
        t.threads[0].first_ns = 0;
        t.threads[0].last_ns = 40;
        t.threads[0].names.truncate(1);
        t.threads[0].names[0].0 = 0;
        t.threads[0].call_range = (0, 3);
        t.calls.code.truncate(3);
        t.calls.flags.truncate(3);
        let mut empty = t.threads[0].clone();
        empty.call_range = (3, 3);
        t.threads.push(empty);
        let p = case.file("b.fpt", &fpt::encode(&t));
        let o = crate::load::outline(&p, &mut |_, _| {}).unwrap().unwrap();
        assert_eq!(o.summary, crate::summary::summarize(&fpt::decode(&fpt::encode(&t)).unwrap()));
        // other files: none; a damaged one: the error
        assert!(crate::load::outline(case.file("x.txt", b"0.1\t1\ta.py\tf\tcall\t1\n"), &mut |_, _| {}).unwrap().is_none());
        let mut bad = fpt::encode(&crate::synthetic::synthetic_trace(2_000, 2, 4));
        let k = bad.len() / 2;
        bad[k] ^= 0x55;
        assert!(crate::load::outline(case.file("bad.fpt", &bad), &mut |_, _| {}).is_err());
    }

    #[test]
    fn what_needs_the_in_memory_build_says_so() {
        let case = Case::new("needs");
        let cs = codes(2, "f");
        let ev = |t, c, k| Event { t_ns: t, code: c, kind: k };
        let threads = vec![vec![ev(10, 0, EventKind::Call), ev(5, 1, EventKind::Call)]];
        let p = case.file("r.fpt", &stream_file(&cs, &threads, 1, Some(100), 1));
        let mut c = Compactor::new(&case.dir).unwrap();
        assert!(matches!(c.add_stream(&p), Err(CompactError::NeedsBuild(_))));
    }
}
