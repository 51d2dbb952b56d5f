//! Building the window index: one walk of the `.fpt` ([`crate::formats::fpt::walk_file`]) with
//! the overall summary accumulated in the same pass. A call is complete at its exit, and within
//! one thread the calls of a depth end in start order, so each row's calls arrive in row order:
//! each row encodes its open chunk as it fills (about 10 bytes a call before deflating, never
//! more than one chunk a row) and hands it, when it has [`CHUNK`] calls, to up to three threads
//! that deflate it; chunks are written as they come back. Memory: the rows' open chunks, a few
//! chunks in flight and the directory (40 bytes a chunk), not the calls.

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
    pub first_start: i64,
    pub last_end: i64,
    /// The longest call or gap of its blocks (the last block's gap to the next chunk included);
    /// meaningful for full chunks only.
    pub tight: i64,
}

/// A row being built.
#[derive(Default)]
struct RowBuild {
    len: u64,
    chunks: Vec<ChunkDir>,
    /// The open chunk's columns: call index deltas, start gaps, durations, codes, parent deltas.
    cols: [Vec<u8>; 5],
    n: usize,
    first_start: i64,
    prev_end: i64,
    prev_call: u32,
    block_max: i64,
    chunk_max: i64,
}

struct Frame {
    call: u32,
    start: i64,
    code: u32,
    parent: u32,
}

/// Where the chunks go: the compressing threads, then the file.
struct Sink<W: Write> {
    out: W,
    offset: u64,
    error: Option<io::Error>,
    /// Chunks to compress, to the compressing threads, and what they made.
    jobs: Option<std::sync::mpsc::SyncSender<(usize, Vec<u8>)>>,
    results: std::sync::mpsc::Receiver<(usize, Vec<u8>)>,
    workers: Vec<std::thread::JoinHandle<()>>,
    /// Per chunk made: its offset, length and CRC-32 once written.
    placed: Vec<(u64, u32, u32)>,
}

/// The rows being built, and what the directory will say.
pub(crate) struct Builder<W: Write> {
    sink: Sink<W>,
    threads: Vec<Vec<RowBuild>>,
    stack: Vec<Frame>,
    next_call: u64,
    pub flags: Vec<(u32, u8)>,
    pub summary: crate::summary::WalkAcc,
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

impl<W: Write> Builder<W> {
    pub fn new(out: W, offset: u64) -> Self {
        // Deflating the chunks is half the building: it runs on up to three threads beside the
        // walk (a bounded queue: at most two chunks a thread wait).
        let n = std::thread::available_parallelism().map_or(1, |p| p.get()).clamp(2, 4) - 1;
        let (jobs, queue) = std::sync::mpsc::sync_channel::<(usize, Vec<u8>)>(2 * n);
        let (done, results) = std::sync::mpsc::channel();
        let queue = std::sync::Arc::new(std::sync::Mutex::new(queue));
        let workers = (0..n)
            .map(|_| {
                let (queue, done) = (queue.clone(), done.clone());
                std::thread::spawn(move || {
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
            })
            .collect();
        Builder {
            sink: Sink { out, offset, error: None, jobs: Some(jobs), results, workers, placed: Vec::new() },
            threads: Vec::new(),
            stack: Vec::new(),
            next_call: 0,
            flags: Vec::new(),
            summary: Default::default(),
        }
    }

    fn finish_thread(&mut self) {
        let Some(rows) = self.threads.last_mut() else { return };
        for r in rows.iter_mut() {
            if r.len > 0 && r.len.is_multiple_of(BLOCK as u64) {
                r.chunk_max = r.chunk_max.max(r.block_max);
            }
            if r.len > 0 && r.len.is_multiple_of(CHUNK as u64) {
                if let Some(c) = r.chunks.last_mut() {
                    c.tight = r.chunk_max;
                }
            }
            if r.n > 0 {
                self.sink.flush(r);
            }
            for c in &mut r.cols {
                *c = Vec::new();
            }
        }
    }

    /// Waits for the compressing threads, writes what they made, and gives each chunk of the
    /// directory its place.
    fn finish(&mut self) {
        self.finish_thread();
        let sink = &mut self.sink;
        sink.jobs = None;
        for h in std::mem::take(&mut sink.workers) {
            let _ = h.join();
        }
        while let Ok((id, packed)) = sink.results.try_recv() {
            sink.place(id, &packed);
        }
        for t in &mut self.threads {
            for r in t {
                for c in &mut r.chunks {
                    let (offset, clen, crc) = sink.placed.get(c.offset as usize).copied().unwrap_or_default();
                    if clen == 0 {
                        sink.error.get_or_insert(io::Error::other("a chunk of the index was not compressed"));
                    }
                    (c.offset, c.clen, c.crc) = (offset, clen, crc);
                }
            }
        }
    }
}

impl<W: Write> Sink<W> {
    /// Hands the open chunk of `r` to the compressing threads; its directory entry's `offset` is
    /// its number until [`Builder::finish`] places it.
    fn flush(&mut self, r: &mut RowBuild) {
        let mut raw = Vec::with_capacity(r.cols.iter().map(Vec::len).sum::<usize>() + 16);
        for c in &r.cols {
            put_u(&mut raw, c.len() as u64);
        }
        for c in &mut r.cols {
            raw.extend_from_slice(c);
            c.clear();
        }
        let id = self.placed.len();
        self.placed.push((0, 0, 0));
        r.chunks.push(ChunkDir {
            offset: id as u64,
            clen: 0,
            crc: 0,
            first_start: r.first_start,
            last_end: r.prev_end,
            tight: 0,
        });
        r.n = 0;
        if let Some(tx) = &self.jobs {
            if tx.send((id, raw)).is_err() {
                self.error.get_or_insert(io::Error::other("the index's compressing thread stopped"));
            }
        }
        while let Ok((id, packed)) = self.results.try_recv() {
            self.place(id, &packed);
        }
    }

    /// Writes a compressed chunk.
    fn place(&mut self, id: usize, packed: &[u8]) {
        if self.error.is_none() {
            if let Err(e) = self.out.write_all(packed) {
                self.error = Some(e);
            }
        }
        self.placed[id] = (self.offset, packed.len() as u32, crc32(packed));
        self.offset += packed.len() as u64;
    }
}

impl<W: Write> Builder<W> {
    fn add(&mut self, d: usize, f: Frame, end: i64) {
        let Some(rows) = self.threads.last_mut() else { return };
        if rows.len() <= d {
            rows.resize_with(d + 1, RowBuild::default);
        }
        let r = &mut rows[d];
        if r.len > 0 {
            // the gap after the previous call belongs to its block (window::index_thread)
            r.block_max = r.block_max.max(f.start.saturating_sub(r.prev_end));
            if r.len.is_multiple_of(BLOCK as u64) {
                r.chunk_max = r.chunk_max.max(r.block_max);
                r.block_max = 0;
            }
            if r.len.is_multiple_of(CHUNK as u64) {
                if let Some(c) = r.chunks.last_mut() {
                    c.tight = r.chunk_max;
                }
                r.chunk_max = 0;
            }
        }
        if r.n == 0 {
            r.first_start = f.start;
            put_u(&mut r.cols[0], u64::from(f.call));
            put_s(&mut r.cols[1], f.start);
        } else {
            put_u(&mut r.cols[0], u64::from(f.call.wrapping_sub(r.prev_call)));
            put_s(&mut r.cols[1], f.start.wrapping_sub(r.prev_end));
        }
        put_u(&mut r.cols[2], end.wrapping_sub(f.start) as u64);
        put_u(&mut r.cols[3], u64::from(f.code));
        put_u(&mut r.cols[4], if f.parent == u32::MAX { 0 } else { u64::from(f.call.saturating_sub(f.parent)) });
        r.block_max = r.block_max.max(end.saturating_sub(f.start));
        r.prev_end = end;
        r.prev_call = f.call;
        r.len += 1;
        r.n += 1;
        if r.n == CHUNK {
            self.sink.flush(r);
        }
    }
}

impl<W: Write> EventVisitor for Builder<W> {
    fn thread(&mut self, ti: usize, first_ns: i64) {
        self.summary.thread(ti, first_ns);
        self.finish_thread();
        while self.threads.len() <= ti {
            self.threads.push(Vec::new());
        }
        self.stack.clear();
    }
    fn enter(&mut self, code: u32, t_ns: i64) {
        self.summary.enter(code, t_ns);
        let parent = self.stack.last().map_or(u32::MAX, |f| f.call);
        self.stack.push(Frame { call: self.next_call as u32, start: t_ns, code, parent });
        self.next_call += 1;
    }
    fn exit(&mut self, t_ns: i64) {
        self.summary.exit(t_ns);
        if let Some(f) = self.stack.pop() {
            let d = self.stack.len();
            self.add(d, f, t_ns);
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
    pub rows: Vec<Vec<(u64, Vec<ChunkDir>)>>,
    pub flags: Vec<(u32, u8)>,
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
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(6));
        // writing to a Vec cannot fail
        let _ = z.write_all(&b);
        z.finish().unwrap_or_default()
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

fn build_with(fpt: &Path, places: &[PathBuf], from: Source<'_>) -> Result<Place, LoadError> {
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
    let mut f = match temp_file() {
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

/// A new file in the temporary folder, unlinked at once (0600).
fn temp_file() -> io::Result<File> {
    let dir = std::env::temp_dir();
    for k in 0..16u32 {
        let p = dir.join(format!(".fprofile-index-{}-{}-{k}", std::process::id(), nanos()));
        match std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&p)
        {
            Ok(f) => {
                let _ = std::fs::remove_file(&p);
                return Ok(f);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other("no temporary file could be made"))
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

/// What the index is made from: a walk of the file, or the trace it was written from.
#[derive(Clone, Copy)]
enum Source<'a> {
    Walk,
    Trace(&'a Trace),
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
    f.seek(SeekFrom::Start(0)).map_err(BuildError::Io)?;
    f.write_all(&[0u8; HEADER_LEN]).map_err(BuildError::Io)?;
    let mut b = Builder::new(io::BufWriter::with_capacity(1 << 20, f.try_clone().map_err(BuildError::Io)?), HEADER_LEN as u64);
    let walked;
    let (trace, calls) = match from {
        Source::Walk => {
            walked = fpt::walk_file(fpt, &mut b, &mut |_, _| {}).map_err(|e| BuildError::Fpt(super::fpt_error(fpt, e)))?;
            (&walked.0, walked.1)
        }
        Source::Trace(t) => {
            replay(t, &mut b);
            (t, t.calls.len() as u64)
        }
    };
    b.finish();
    if let Some(e) = b.sink.error.take() {
        return Err(BuildError::Io(e));
    }
    let dir_offset = b.sink.offset;
    let summary = crate::summary::from_threads(trace, std::mem::take(&mut b.summary.accs));
    #[derive(serde::Serialize)]
    struct Overall<'a> {
        overall: &'a [crate::summary::Row],
    }
    // the form of `crate::summary::overall_json`
    let overall_json =
        serde_json::to_string(&Overall { overall: &summary.overall }).unwrap_or_else(|_| "{\"overall\":[]}".into());
    let start = trace.threads.iter().map(|t| t.first_ns).min().unwrap_or(0);
    let end = trace.threads.iter().map(|t| t.last_ns).max().unwrap_or(0);
    let mut rows: Vec<Vec<(u64, Vec<ChunkDir>)>> =
        b.threads.drain(..).map(|t| t.into_iter().map(|r| (r.len, r.chunks)).collect()).collect();
    rows.resize_with(trace.threads.len(), Vec::new);
    let mut flags = std::mem::take(&mut b.flags);
    flags.sort_unstable();
    let dir = Directory { skeleton: crate::window::skeleton(trace), overall_json, calls, span: (start, end), rows, flags };
    let bytes = dir.encode();
    let mut w = b.sink.out;
    w.write_all(&bytes).map_err(BuildError::Io)?;
    w.flush().map_err(BuildError::Io)?;
    drop(w);
    let h = Header { stamp: stamp.clone(), dir_offset, dir_len: bytes.len() as u64, dir_crc: crc32(&bytes) };
    f.seek(SeekFrom::Start(0)).map_err(BuildError::Io)?;
    f.write_all(&h.encode()).map_err(BuildError::Io)?;
    f.flush().map_err(BuildError::Io)
}
