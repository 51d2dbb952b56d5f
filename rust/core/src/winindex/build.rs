//! Building the window index: the one encoder of rows ([`RowBuild`]: a row's calls into chunks)
//! and the sink that deflates and writes them ([`Sink`]), used by every build: one walk of the
//! `.fpt` ([`crate::formats::fpt::walk_file`], the overall summary accumulated in the same pass),
//! a trace in memory replayed as that walk would see it, and the stop's rewrite
//! (`super::onepass`). A call is complete at its exit, and within one thread the calls of a depth
//! end in start order, so each row's calls arrive in row order: each row encodes its open chunk
//! as it fills (about 10 bytes a call before deflating, never more than one chunk a row) and
//! hands it, when it has [`CHUNK`] calls, to up to three threads that deflate it; chunks are
//! written in the order they were handed over. Memory: the rows' open chunks, a few chunks in
//! flight and the directory (48 bytes a chunk), not the calls.

use std::fs::File;
use std::io::{self, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::{crc32, put_s, put_u, Header, Stamp, HEADER_LEN};
use crate::formats::fpt::{self, EventVisitor};
use crate::load::{LoadError, Problem};
use crate::window::{BLOCK, CHUNK};
use crate::Trace;

/// Deflate level of the chunks (1: on a 10M-call synthetic trace, 2% larger than 6 and built in
/// 20% less time; `examples/filetrace_bench.rs`).
const LEVEL: u32 = 1;

/// One chunk in the directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChunkDir {
    pub offset: u64,
    pub clen: u32,
    pub crc: u32,
    /// Its first call's index in the trace.
    pub first_call: i64,
    pub first_start: i64,
    pub last_end: i64,
    /// The longest call or gap of its blocks (the last block's gap to the next chunk included);
    /// meaningful for full chunks only.
    pub tight: i64,
}

/// Per thread, per depth: a row's length and its chunks' directory.
pub(crate) type Rows = Vec<Vec<(u64, Vec<ChunkDir>)>>;
/// Per chunk made (by number): its offset, length and CRC-32 in the file.
pub(crate) type Placed = Vec<(u64, u32, u32)>;

/// A call as a row takes it. Its index and its parent's share an origin (the trace's, or any
/// other of the thread: a chunk stores only their differences), a top-level call's parent being
/// the place just before the thread's first call; its start and end share an origin likewise.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CallRec {
    pub call: i64,
    pub parent: i64,
    pub start: i64,
    pub end: i64,
    pub code: u32,
}

/// A row being built: the one encoder of chunks (the walk of a file, a trace in memory and the
/// stop's rewrite all push their calls here). A chunk holds differences only (the first call's
/// index and start go in the directory), so it does not depend on where the thread's calls land
/// in the trace or on its clock's origin, which the rewrite learns only at its end.
#[derive(Default)]
pub(crate) struct RowBuild {
    pub len: u64,
    pub chunks: Vec<ChunkDir>,
    /// The open chunk's columns: call index deltas, start gaps, durations, codes, each call's
    /// index minus its parent's.
    cols: [Vec<u8>; 5],
    n: usize,
    first_call: i64,
    first_start: i64,
    prev_end: i64,
    prev_call: i64,
    block_max: i64,
    chunk_max: i64,
}

impl RowBuild {
    /// Adds the row's next call (calls come in start order); true when the open chunk is full:
    /// hand it to [`RowBuild::flush`] before the next call.
    pub fn push(&mut self, c: &CallRec) -> bool {
        if self.len > 0 {
            // the gap after the previous call belongs to its block (window::index_thread)
            self.block_max = self.block_max.max(c.start.saturating_sub(self.prev_end));
            if self.len.is_multiple_of(BLOCK as u64) {
                self.chunk_max = self.chunk_max.max(self.block_max);
                self.block_max = 0;
            }
            if self.len.is_multiple_of(CHUNK as u64) {
                if let Some(d) = self.chunks.last_mut() {
                    d.tight = self.chunk_max;
                }
                self.chunk_max = 0;
            }
        }
        let cols = &mut self.cols;
        if self.n == 0 {
            self.first_start = c.start;
            self.first_call = c.call;
        } else {
            put_u(&mut cols[0], c.call.wrapping_sub(self.prev_call) as u64);
            put_s(&mut cols[1], c.start.wrapping_sub(self.prev_end));
        }
        put_u(&mut cols[4], c.call.wrapping_sub(c.parent) as u64);
        put_u(&mut cols[2], c.end.wrapping_sub(c.start) as u64);
        put_u(&mut cols[3], u64::from(c.code));
        self.block_max = self.block_max.max(c.end.saturating_sub(c.start));
        self.prev_end = c.end;
        self.prev_call = c.call;
        self.len += 1;
        self.n += 1;
        self.n == CHUNK
    }

    /// Hands the open chunk (when it holds calls) to `sink`; its directory entry's `offset` is
    /// its number until [`resolve`] places it.
    pub fn flush(&mut self, sink: &mut Sink) {
        if self.n == 0 {
            return;
        }
        let mut raw = Vec::with_capacity(self.cols.iter().map(Vec::len).sum::<usize>() + 16);
        for c in &self.cols {
            put_u(&mut raw, c.len() as u64);
        }
        for c in &mut self.cols {
            raw.extend_from_slice(c);
            c.clear();
        }
        let id = sink.send(raw);
        self.chunks.push(ChunkDir {
            offset: id as u64,
            clen: 0,
            crc: 0,
            first_call: self.first_call,
            first_start: self.first_start,
            last_end: self.prev_end,
            tight: 0,
        });
        self.n = 0;
    }

    /// Ends the row: its last full chunk's longest call or gap, its open chunk to `sink`, its
    /// buffers freed.
    pub fn close(&mut self, sink: &mut Sink) {
        if self.len > 0 && self.len.is_multiple_of(BLOCK as u64) {
            self.chunk_max = self.chunk_max.max(self.block_max);
        }
        if self.len > 0 && self.len.is_multiple_of(CHUNK as u64) {
            if let Some(d) = self.chunks.last_mut() {
                d.tight = self.chunk_max;
            }
        }
        self.flush(sink);
        self.cols = Default::default();
    }
}

/// Where the chunks go: deflated on up to three threads beside the one making them, then
/// written to the file in the order they were made (the same bytes whatever the threads do).
pub(crate) struct Sink {
    /// (None once finished.)
    out: Option<io::BufWriter<File>>,
    pub offset: u64,
    pub error: Option<io::Error>,
    jobs: Option<std::sync::mpsc::SyncSender<(usize, Vec<u8>)>>,
    results: std::sync::mpsc::Receiver<(usize, Vec<u8>)>,
    workers: Vec<std::thread::JoinHandle<()>>,
    /// Per chunk made: its offset, length and CRC-32 once written.
    placed: Vec<(u64, u32, u32)>,
    /// Chunks deflated before their turn to be written.
    waiting: std::collections::BTreeMap<usize, Vec<u8>>,
    next: usize,
}

/// Deflates `raw` (raw deflate, no header) with `c`, reset first.
fn deflate(c: &mut flate2::Compress, raw: &[u8]) -> Vec<u8> {
    c.reset();
    let mut packed = Vec::with_capacity(raw.len() / 2 + 64);
    loop {
        let at = (c.total_in() as usize).min(raw.len());
        match c.compress_vec(&raw[at..], &mut packed, flate2::FlushCompress::Finish) {
            Ok(flate2::Status::StreamEnd) => return packed,
            Ok(_) => packed.reserve(packed.capacity().max(1024)),
            Err(_) => return Vec::new(),
        }
    }
}

impl Sink {
    /// Chunks written into `out` from `offset` on.
    pub fn new(out: File, offset: u64) -> Sink {
        // Deflating the chunks is half the building: it runs on up to three threads beside the
        // walk (a bounded queue: at most two chunks a thread wait).
        let n = std::thread::available_parallelism().map_or(1, |p| p.get()).clamp(2, 4) - 1;
        let (jobs, queue) = std::sync::mpsc::sync_channel::<(usize, Vec<u8>)>(2 * n);
        let (done, results) = std::sync::mpsc::channel();
        let queue = std::sync::Arc::new(std::sync::Mutex::new(queue));
        let workers = (0..n)
            .filter_map(|_| {
                let (queue, done) = (queue.clone(), done.clone());
                std::thread::Builder::new()
                    .name("fprofile-index".into())
                    .spawn(move || {
                        // one compressor a thread, reset for each chunk (a new one zeroes its tables)
                        let mut c = flate2::Compress::new(flate2::Compression::new(LEVEL), false);
                        loop {
                            let job = match queue.lock() {
                                Ok(q) => q.recv(),
                                Err(_) => return,
                            };
                            let Ok((id, raw)) = job else { return };
                            if done.send((id, deflate(&mut c, &raw))).is_err() {
                                return;
                            }
                        }
                    })
                    .ok()
            })
            .collect::<Vec<_>>();
        let error = workers.is_empty().then(|| io::Error::other("no thread could be started to build the index"));
        Sink {
            out: Some(io::BufWriter::with_capacity(1 << 20, out)),
            offset,
            error,
            jobs: Some(jobs),
            results,
            workers,
            placed: Vec::new(),
            waiting: Default::default(),
            next: 0,
        }
    }

    /// A sink that keeps the chunks it is sent, raw, until [`Sink::start`] (the stop's rewrite
    /// of a recording too small to get an index deflates nothing).
    pub fn deferred() -> Sink {
        let (_, results) = std::sync::mpsc::channel();
        Sink {
            out: None,
            offset: 0,
            error: None,
            jobs: None,
            results,
            workers: Vec::new(),
            placed: Vec::new(),
            waiting: Default::default(),
            next: 0,
        }
    }

    /// Has it started writing?
    pub fn started(&self) -> bool {
        self.out.is_some()
    }

    /// A [`Sink::deferred`] starts: the chunks kept, then every next one, written into `out` from
    /// `offset` on.
    pub fn start(&mut self, out: File, offset: u64) {
        let kept = std::mem::take(&mut self.waiting);
        *self = Sink::new(out, offset);
        for (_, raw) in kept {
            self.send(raw);
        }
    }

    /// Sends a chunk to be deflated; returns its number.
    fn send(&mut self, raw: Vec<u8>) -> usize {
        let id = self.placed.len();
        self.placed.push((0, 0, 0));
        if self.out.is_none() {
            // deferred: kept raw until started
            self.waiting.insert(id, raw);
            return id;
        }
        if let Some(tx) = &self.jobs {
            if tx.send((id, raw)).is_err() {
                self.error.get_or_insert(io::Error::other("the index's compressing thread stopped"));
            }
        }
        while let Ok((id, packed)) = self.results.try_recv() {
            self.land(id, packed);
        }
        id
    }

    /// A deflated chunk back: written with those before it, in the order made.
    fn land(&mut self, id: usize, packed: Vec<u8>) {
        self.waiting.insert(id, packed);
        while let Some(packed) = self.waiting.remove(&self.next) {
            if self.error.is_none() {
                if let Some(Err(e)) = self.out.as_mut().map(|o| o.write_all(&packed)) {
                    self.error = Some(e);
                }
            }
            self.placed[self.next] = (self.offset, packed.len() as u32, crc32(&packed));
            self.offset += packed.len() as u64;
            self.next += 1;
        }
    }

    /// Waits for the compressing threads and writes what they made; returns the file, where the
    /// chunks end, and each chunk's place (offset, length, CRC-32) by number.
    pub fn finish(mut self) -> io::Result<(File, u64, Placed)> {
        self.jobs = None;
        for h in std::mem::take(&mut self.workers) {
            let _ = h.join();
        }
        while let Ok((id, packed)) = self.results.try_recv() {
            self.land(id, packed);
        }
        if self.next != self.placed.len() {
            self.error.get_or_insert(io::Error::other("a chunk of the index was not compressed"));
        }
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        let out = self.out.take().ok_or_else(|| io::Error::other("the index's file was already finished"))?;
        let f = out.into_inner().map_err(|e| e.into_error())?;
        Ok((f, self.offset, std::mem::take(&mut self.placed)))
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.jobs = None; // the workers see the end of their jobs and return
        for h in self.workers.drain(..) {
            let _ = h.join();
        }
    }
}

/// The rows' directory: each chunk's number replaced by its place (`placed`), each thread's
/// calls' indices and times moved by its `(calls, times)` shift.
pub(crate) fn resolve(threads: Vec<(Vec<RowBuild>, i64, i64)>, placed: &[(u64, u32, u32)]) -> io::Result<Rows> {
    let mut out = Vec::with_capacity(threads.len());
    for (rows, dcall, dtime) in threads {
        let mut t = Vec::with_capacity(rows.len());
        for r in rows {
            let mut chunks = r.chunks;
            for c in &mut chunks {
                let &(offset, clen, crc) =
                    placed.get(c.offset as usize).ok_or_else(|| io::Error::other("a chunk of the index was not made"))?;
                (c.offset, c.clen, c.crc) = (offset, clen, crc);
                c.first_call = c.first_call.wrapping_add(dcall);
                c.first_start = c.first_start.wrapping_add(dtime);
                c.last_end = c.last_end.wrapping_add(dtime);
            }
            t.push((r.len, chunks));
        }
        out.push(t);
    }
    Ok(out)
}

/// The overall summary's JSON as the directory holds it (`crate::summary::overall_json`'s form).
pub(crate) fn overall_json(summary: &crate::summary::Summary) -> String {
    #[derive(serde::Serialize)]
    struct Overall<'a> {
        overall: &'a [crate::summary::Row],
    }
    serde_json::to_string(&Overall { overall: &summary.overall }).unwrap_or_else(|_| "{\"overall\":[]}".into())
}

struct Frame {
    call: i64,
    start: i64,
    code: u32,
    parent: i64,
}

/// The index of a file's events ([`crate::formats::fpt::walk_file`], or a trace's replayed):
/// depths known, a thread at a time.
pub(crate) struct Builder {
    sink: Sink,
    threads: Vec<Vec<RowBuild>>,
    stack: Vec<Frame>,
    next_call: u64,
    /// The current thread's first call.
    base: i64,
    pub flags: Vec<(u32, u8)>,
    pub summary: crate::summary::WalkAcc,
}

impl Builder {
    fn new(sink: Sink) -> Self {
        Builder {
            sink,
            threads: Vec::new(),
            stack: Vec::new(),
            next_call: 0,
            base: 0,
            flags: Vec::new(),
            summary: Default::default(),
        }
    }

    fn finish_thread(&mut self) {
        let Some(rows) = self.threads.last_mut() else { return };
        for r in rows.iter_mut() {
            r.close(&mut self.sink);
        }
    }
}

impl EventVisitor for Builder {
    fn thread(&mut self, ti: usize, first_ns: i64) {
        self.summary.thread(ti, first_ns);
        self.finish_thread();
        while self.threads.len() <= ti {
            self.threads.push(Vec::new());
        }
        self.stack.clear();
        self.base = self.next_call as i64;
    }
    fn enter(&mut self, code: u32, t_ns: i64) {
        self.summary.enter(code, t_ns);
        let parent = self.stack.last().map_or(self.base - 1, |f| f.call);
        self.stack.push(Frame { call: self.next_call as i64, start: t_ns, code, parent });
        self.next_call += 1;
    }
    fn exit(&mut self, t_ns: i64) {
        self.summary.exit(t_ns);
        let Some(f) = self.stack.pop() else { return };
        let d = self.stack.len();
        let Some(rows) = self.threads.last_mut() else { return };
        if rows.len() <= d {
            rows.resize_with(d + 1, RowBuild::default);
        }
        let c = CallRec { call: f.call, parent: f.parent, start: f.start, end: t_ns, code: f.code };
        if rows[d].push(&c) {
            rows[d].flush(&mut self.sink);
        }
    }
    fn flag(&mut self, call: usize, flags: u8) {
        self.flags.push((call as u32, flags));
    }
}

/// The directory, as written (zlib) after the chunks.
pub(crate) struct Directory {
    pub skeleton: Trace,
    pub overall_json: String,
    pub calls: u64,
    pub span: (i64, i64),
    /// Per thread, per depth: the row's length and its chunks' directory.
    pub rows: Rows,
    pub flags: Vec<(u32, u8)>,
    /// The overview, made from the finished index ([`store_overview`]; `None` until then).
    pub overview: Option<StoredOverview>,
}

/// The overview as the directory's last field stores it: its window and its reply's bytes
/// (`crate::formats::window::encode`, uncompressed: the directory is deflated whole).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoredOverview {
    pub t0_ns: i64,
    pub t1_ns: i64,
    pub px: u32,
    pub bytes: Vec<u8>,
}

/// Appends the directory's last field: 0 (no overview), or 1, t0, t1, px, length, bytes.
fn put_overview(b: &mut Vec<u8>, ov: Option<&StoredOverview>) {
    match ov {
        None => put_u(b, 0),
        Some(o) => {
            put_u(b, 1);
            put_s(b, o.t0_ns);
            put_s(b, o.t1_ns);
            put_u(b, u64::from(o.px));
            put_u(b, o.bytes.len() as u64);
            b.extend_from_slice(&o.bytes);
        }
    }
}

fn deflate_directory(raw: &[u8]) -> Vec<u8> {
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(6));
    // writing to a Vec cannot fail
    let _ = z.write_all(raw);
    z.finish().unwrap_or_default()
}

impl Directory {
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::new();
        let sk = fpt::encode(&self.skeleton);
        put_u(&mut b, sk.len() as u64);
        b.extend_from_slice(&sk);
        put_u(&mut b, self.overall_json.len() as u64);
        b.extend_from_slice(self.overall_json.as_bytes());
        put_u(&mut b, self.calls);
        put_s(&mut b, self.span.0);
        put_s(&mut b, self.span.1);
        put_u(&mut b, self.rows.len() as u64);
        for t in &self.rows {
            put_u(&mut b, t.len() as u64);
            for (len, chunks) in t {
                put_u(&mut b, *len);
                for c in chunks {
                    put_u(&mut b, c.offset);
                    put_u(&mut b, u64::from(c.clen));
                    put_u(&mut b, u64::from(c.crc));
                    put_u(&mut b, c.first_call as u64);
                    put_s(&mut b, c.first_start);
                    put_s(&mut b, c.last_end.wrapping_sub(c.first_start));
                    put_s(&mut b, c.tight);
                }
            }
        }
        put_u(&mut b, self.flags.len() as u64);
        let mut prev = 0u32;
        for &(c, f) in &self.flags {
            put_u(&mut b, u64::from(c.wrapping_sub(prev)));
            put_u(&mut b, u64::from(f));
            prev = c;
        }
        put_overview(&mut b, self.overview.as_ref());
        deflate_directory(&b)
    }
}

/// Where an index was put.
pub enum Place {
    /// A file at this path (the sidecar or the cache's).
    Path(PathBuf),
    /// An unlinked temporary file, open.
    Temp(File),
}

/// Builds the index of the `.fpt` (version 2) at `fpt` and writes it: to `places` in order (the
/// first that can be written: a temporary name there, renamed), else to an unlinked temporary
/// file. `Err` when the `.fpt` cannot be read (its error), or nothing at all can be written.
pub fn build(fpt: &Path, places: &[PathBuf]) -> Result<Place, LoadError> {
    build_with(fpt, places, Source::Walk)
}

pub(crate) fn build_with(fpt: &Path, places: &[PathBuf], from: Source<'_>) -> Result<Place, LoadError> {
    let io_err = |e: io::Error| LoadError { path: Some(fpt.to_path_buf()), problem: Problem::Io(e) };
    let stamp = Stamp::of(fpt).map_err(io_err)?;
    let mut last = None;
    for p in places {
        match build_at(fpt, &stamp, p, from) {
            Ok(()) => return Ok(Place::Path(p.clone())),
            Err(BuildError::Fpt(e)) => return Err(e),
            Err(BuildError::Io(e)) => last = Some(e),
        }
    }
    let mut f = match temp_file(&std::env::temp_dir()) {
        Ok(f) => f,
        Err(e) => return Err(io_err(last.unwrap_or(e))),
    };
    match write_index(fpt, &stamp, &mut f, from) {
        Ok(()) => Ok(Place::Temp(f)),
        Err(BuildError::Fpt(e)) => Err(e),
        Err(BuildError::Io(e)) => Err(io_err(e)),
    }
}

enum BuildError {
    Fpt(LoadError),
    Io(io::Error),
}

/// A new file in `dir`, unlinked at once (0600).
pub(crate) fn temp_file(dir: &Path) -> io::Result<File> {
    crate::fsio::unlinked_temp(dir, "index")
}

fn nanos() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos())
}

/// Writes the index of `fpt` at `dest` through a temporary sibling (0600, never through a link).
fn build_at(fpt: &Path, stamp: &Stamp, dest: &Path, from: Source<'_>) -> Result<(), BuildError> {
    let dir = dest.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if !dir.is_dir() {
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(BuildError::Io)?;
    }
    let name = dest.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.{}.part", std::process::id(), nanos()));
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&tmp)
        .map_err(BuildError::Io)?;
    let r = write_index(fpt, stamp, &mut f, from).and_then(|()| {
        f.sync_all().ok();
        std::fs::rename(&tmp, dest).map_err(BuildError::Io)
    });
    if r.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    r
}

use std::os::unix::fs::DirBuilderExt;

/// What the index is made from: a walk of the file, the trace it was written from, or chunks
/// and a directory already made (the stop's rewrite, `super::onepass`).
#[derive(Clone, Copy)]
pub(crate) enum Source<'a> {
    Walk,
    Trace(&'a Trace),
    /// The chunks in `chunks` (bytes `HEADER_LEN..end`, as they will be in the index) and the
    /// directory's bytes.
    Made {
        chunks: &'a File,
        end: u64,
        directory: &'a [u8],
    },
}

/// Feeds `t`'s calls to `v` as a walk of its file would (threads in order, each call's entry,
/// exits innermost first, then the flags).
fn replay(t: &Trace, v: &mut dyn EventVisitor) {
    let c = &t.calls;
    let mut ends: Vec<i64> = Vec::new();
    for (ti, th) in t.threads.iter().enumerate() {
        v.thread(ti, th.first_ns);
        let (lo, hi) = (th.call_range.0 as usize, (th.call_range.1 as usize).min(c.len()));
        for i in lo..hi.max(lo) {
            while ends.len() > c.depth[i] as usize {
                v.exit(ends.pop().unwrap_or(0));
            }
            v.enter(c.code[i], c.start_ns[i]);
            ends.push(c.end_ns[i]);
        }
        while let Some(e) = ends.pop() {
            v.exit(e);
        }
        for i in lo..hi.max(lo) {
            if c.flags[i].0 != 0 {
                v.flag(i, c.flags[i].0);
            }
        }
    }
}

/// Writes the index of the `.fpt` at `fpt`, just written from `t`, without reading the file back
/// (`formats::save`): to `places` in order, else an unlinked temporary file, as [`build`].
pub fn build_from_trace(fpt: &Path, t: &Trace, places: &[PathBuf]) -> Result<Place, LoadError> {
    build_with(fpt, places, Source::Trace(t))
}

/// Makes the index of `fpt` from `from` and writes it into `f` (from its start).
fn write_index(fpt: &Path, stamp: &Stamp, f: &mut File, from: Source<'_>) -> Result<(), BuildError> {
    f.set_len(0).map_err(BuildError::Io)?;
    f.seek(SeekFrom::Start(0)).map_err(BuildError::Io)?;
    let (dir_offset, dir_len, dir_crc) = match from {
        Source::Made { chunks, end, directory } => {
            // the chunks as made (the header's place included), then the directory
            let mut src = chunks.try_clone().map_err(BuildError::Io)?;
            src.seek(SeekFrom::Start(0)).map_err(BuildError::Io)?;
            let copied = io::copy(&mut io::Read::take(&mut src, end), f).map_err(BuildError::Io)?;
            if copied != end {
                return Err(BuildError::Io(io::Error::other("the index's chunks were cut")));
            }
            f.write_all(directory).map_err(BuildError::Io)?;
            (end, directory.len() as u64, crc32(directory))
        }
        Source::Walk | Source::Trace(_) => {
            f.write_all(&[0u8; HEADER_LEN]).map_err(BuildError::Io)?;
            let mut b = Builder::new(Sink::new(f.try_clone().map_err(BuildError::Io)?, HEADER_LEN as u64));
            let walked;
            let (trace, calls) = match from {
                Source::Trace(t) => {
                    replay(t, &mut b);
                    (t, t.calls.len() as u64)
                }
                _ => {
                    walked =
                        fpt::walk_file(fpt, &mut b, &mut |_, _| {}).map_err(|e| BuildError::Fpt(super::fpt_error(fpt, e)))?;
                    (&walked.0, walked.1)
                }
            };
            b.finish_thread();
            let (mut w, dir_offset, placed) = b.sink.finish().map_err(BuildError::Io)?;
            let summary = crate::summary::from_threads(trace, std::mem::take(&mut b.summary.accs));
            let mut threads: Vec<(Vec<RowBuild>, i64, i64)> = b.threads.drain(..).map(|t| (t, 0, 0)).collect();
            threads.resize_with(trace.threads.len(), || (Vec::new(), 0, 0));
            let mut flags = std::mem::take(&mut b.flags);
            flags.sort_unstable();
            let dir = Directory {
                skeleton: crate::window::skeleton(trace),
                overall_json: overall_json(&summary),
                calls,
                span: span(trace),
                rows: resolve(threads, &placed).map_err(BuildError::Io)?,
                flags,
                overview: None,
            };
            let bytes = dir.encode();
            w.seek(SeekFrom::Start(dir_offset)).map_err(BuildError::Io)?;
            w.write_all(&bytes).map_err(BuildError::Io)?;
            (dir_offset, bytes.len() as u64, crc32(&bytes))
        }
    };
    let h = Header { stamp: stamp.clone(), dir_offset, dir_len, dir_crc };
    f.seek(SeekFrom::Start(0)).map_err(BuildError::Io)?;
    f.write_all(&h.encode()).map_err(BuildError::Io)?;
    // every build ends here: the overview, made from the index just written, joins its directory
    let (dir_len, dir_crc) = store_overview(f, stamp, dir_offset).map_err(BuildError::Io)?;
    let h = Header { stamp: stamp.clone(), dir_offset, dir_len, dir_crc };
    f.seek(SeekFrom::Start(0)).map_err(BuildError::Io)?;
    f.write_all(&h.encode()).map_err(BuildError::Io)?;
    f.flush().map_err(BuildError::Io)
}

/// Decoded chunks the build's overview keeps (it reads each row once, in order).
const BUILD_CACHE_BYTES: usize = 4 << 20;

/// `crate::window::query_rows(idx, t0, t1, px, None)`, its threads asked side by side (up to
/// four at once): a reply's items come thread after thread, and a parent is always in its
/// call's thread, so the threads' replies put end to end (their parents moved by the items
/// before them) are the whole reply.
fn overview_reply(
    idx: &super::read::FileIndex,
    t0: i64,
    t1: i64,
    px: u64,
) -> Result<crate::window::WindowReply, crate::window::WindowError> {
    use crate::window::RowSource;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let n = idx.threads();
    let workers = std::thread::available_parallelism().map_or(1, |p| p.get()).min(4).min(n);
    if workers <= 1 {
        return crate::window::query_rows(idx, t0, t1, px, None);
    }
    let next = AtomicUsize::new(0);
    let parts = std::sync::Mutex::new(Vec::with_capacity(n));
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let t = next.fetch_add(1, Ordering::Relaxed);
                if t >= n {
                    break;
                }
                let r = crate::window::query_rows(idx, t0, t1, px, Some(&[t as u64]));
                if let Ok(mut p) = parts.lock() {
                    p.push((t, r));
                }
            });
        }
    });
    let mut parts = parts.into_inner().map_err(|_| crate::window::WindowError::Index("overview: a worker panicked".into()))?;
    if parts.len() != n {
        return Err(crate::window::WindowError::Index("overview: a thread was not asked".into()));
    }
    parts.sort_unstable_by_key(|p| p.0);
    let mut items = Vec::new();
    for (_, r) in parts {
        let base = items.len() as u32;
        items.extend(r?.items.into_iter().map(|mut it| {
            if it.parent != u32::MAX {
                it.parent += base;
            }
            it
        }));
    }
    Ok(crate::window::WindowReply { t0_ns: t0, t1_ns: t1, px: px as u32, items })
}

/// The finishing step of every build: opens the index just written in `f` (its directory at
/// `dir_offset`, the file's end), makes the overview (`crate::window::query_rows` over the
/// whole span at [`crate::window::OVERVIEW_PX`], every thread: the reply a window query over
/// the index gives) and rewrites the directory with it as its last field. Returns the new
/// directory's length and CRC-32. A trace without calls has no overview.
fn store_overview(f: &mut File, stamp: &Stamp, dir_offset: u64) -> io::Result<(u64, u32)> {
    use std::io::Read;
    let again = || io::Error::other("the window index just written does not read back");
    let idx = super::read::FileIndex::open(f.try_clone()?, stamp).ok_or_else(again)?;
    idx.set_cache_bytes(BUILD_CACHE_BYTES);
    let (t0, t1) = crate::window::overview_span(&idx.skeleton.threads);
    let px = crate::window::OVERVIEW_PX;
    let ov = match overview_reply(&idx, t0, t1, px) {
        Ok(r) => Some(StoredOverview { t0_ns: t0, t1_ns: t1, px: px as u32, bytes: crate::formats::window::encode(&r, None) }),
        Err(crate::window::WindowError::Index(why)) => return Err(io::Error::other(format!("the index {why}"))),
        Err(_) => None, // no calls, or nothing in the span
    };
    drop(idx);
    let mut packed = Vec::new();
    f.seek(SeekFrom::Start(dir_offset))?;
    f.read_to_end(&mut packed)?;
    let mut raw = Vec::new();
    flate2::read::ZlibDecoder::new(&packed[..]).read_to_end(&mut raw)?;
    // the directory as made ends with its empty overview field (one 0)
    if raw.pop() != Some(0) {
        return Err(again());
    }
    put_overview(&mut raw, ov.as_ref());
    let bytes = deflate_directory(&raw);
    f.seek(SeekFrom::Start(dir_offset))?;
    f.write_all(&bytes)?;
    f.set_len(dir_offset + bytes.len() as u64)?;
    Ok((bytes.len() as u64, crc32(&bytes)))
}

/// First and last time of any thread.
pub(crate) fn span(t: &Trace) -> (i64, i64) {
    let start = t.threads.iter().map(|t| t.first_ns).min().unwrap_or(0);
    let end = t.threads.iter().map(|t| t.last_ns).max().unwrap_or(0);
    (start, end)
}
