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
//!
//! Files: this one (the parts, the public entry points), `pool` (segments compressed beside the
//! reader, Adler-32), `columns` (each part's events into the threads' columns), `write` (the
//! skeleton and the file).

mod columns;
mod pool;
mod write;

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use flate2::{Compress, Compression, FlushCompress};

use crate::calltree::assign_lanes_any_order;
use crate::formats::codec::put_u;
use crate::formats::fpt;
use crate::formats::{spool, stream};
use crate::merge::UNALIGNED_WARNING;
use crate::model::{CallFlags, Code, Event, EventKind, ProcessInfo, ThreadInfo, ThreadRecord, Trace};
use crate::summary::{EventAcc, Summary};
use crate::winindex::onepass::{Ended, Levels, OnePass};

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

use pool::{adler32, adler32_combine, deflate_segment, Pool, Segment};

/// A thread as its events go by.
struct Thread {
    /// Its number in its part's file.
    local: usize,
    os_id: u64,
    first_abs: u64,
    prev_abs: u64,
    /// Calls seen (not counting those begun before the recording).
    calls: u64,
    /// Open calls: (code, index among the calls seen, start).
    stack: Vec<(u32, u64, u64)>,
    /// Codes of the calls begun before the recording, innermost first.
    started_before: Vec<u32>,
    pending_pops: u64,
    cols: [Vec<u8>; 4],
    segs: [Vec<Segment>; 4],
    acc: EventAcc,
    /// After the part's end: the unfinished calls' indices, and the thread's last time.
    unfinished: Vec<u64>,
    last_abs: u64,
    /// Its rows of the window index, when one is built.
    levels: Levels,
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

    /// The innermost open call ends at `end_abs`: to its row of the window index.
    fn end_call(&mut self, index: Option<&mut OnePass>, end_abs: u64) {
        let Some((code, call, start)) = self.stack.pop() else { return };
        if let Some(ix) = index {
            ix.ended(
                &mut self.levels,
                Ended {
                    call,
                    start: start.wrapping_sub(self.first_abs) as i64,
                    end: end_abs.wrapping_sub(self.first_abs) as i64,
                    code,
                    open: self.stack.len(),
                    parent: self.stack.last().map(|x| x.1),
                    begun_before: self.started_before.len(),
                },
            );
        }
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
    /// The window index, built from the events as they are read (None: not built), for files
    /// of at least `index_min` calls.
    index: Option<OnePass>,
    index_min: u64,
    dir: PathBuf,
}

impl Compactor {
    /// A compactor spilling into a new unnamed file in `dir` (the output's directory: the spill
    /// takes about what the output will).
    pub fn new(dir: &Path) -> Result<Compactor> {
        let spill = crate::fsio::unlinked_temp(dir, "spill")?;
        Ok(Compactor {
            spill: Some(spill),
            columns: true,
            pool: Pool::start(),
            index: OnePass::new(dir, crate::winindex::write_min_calls()),
            dir: dir.to_path_buf(),
            ..Compactor::for_summary()
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
            index: None,
            index_min: crate::winindex::write_min_calls(),
            dir: PathBuf::new(),
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

    /// Writes the window index beside files of at least `n` calls (instead of
    /// [`crate::winindex::write_min_calls`]; above the most calls a trace holds: never, and
    /// none is built). Call it before adding parts.
    pub fn with_index_min_calls(mut self, n: u64) -> Compactor {
        self.index_min = n;
        self.index = if self.columns { OnePass::new(&self.dir, n) } else { None };
        self
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
}

#[cfg(test)]
mod tests;
