//! The streamed `.fpt` container (magic `FPST`): a recording written to disk while it runs, in
//! self-contained compressed chunks (specification: `docs/format.md`, "Streamed files").
//!
//! The hook's writer thread builds chunks with an [`Encoder`] (no I/O here: it appends framed
//! chunks to a buffer the caller writes) every round; [`read`] turns the chunks back into a
//! [`Recording`] and [`decode`] into a [`Trace`] ([`crate::calltree::build_trace`]); a [`Scanner`]
//! reads a file one chunk at a time, handing each chunk's events over (the stop's compaction,
//! `crate::compact`, which never holds the run). A file whose end
//! chunk is missing (the process was killed, called `os._exit`, the disk filled up) loads with
//! every whole chunk and a `warning.stream_end_missing` entry in its metadata; a last chunk cut
//! short or damaged (its checksum does not match) is dropped with `warning.stream_last_chunk`;
//! anything wrong before the last chunk is an error that names the chunk and its byte offset.
//!
//! The flight recorder keeps the same chunks in memory (`keep_last`): [`read_window`] reads them
//! keeping only the events at or after a time, so that calls begun before it come out as begun
//! before the recording ([`crate::CallFlags::STARTED_BEFORE`]).

use crate::formats::codec::{self, put_planes, put_str, put_u, read_full, FptError, Planes, Reader, SliceSource};
use crate::formats::fpt;
use crate::model::{Code, Event, EventKind, ProcessInfo, Recording, ThreadRecord, Trace};

/// File magic: ASCII `FPST` ("fprofile stream").
pub const MAGIC: [u8; 4] = *b"FPST";
/// The version this module writes and reads.
pub const VERSION: u16 = 1;
/// File header: magic, version, flags (reserved, 0).
pub const HEADER_LEN: usize = 8;
/// Chunk header: kind `u8`, flags `u8`, reserved `u16`, stored length `u32`, raw length `u32`,
/// CRC-32 `u32` of the header's first 12 bytes and the stored payload.
pub const CHUNK_HEADER_LEN: usize = 16;
/// Largest payload a compressed chunk may inflate to (a stored chunk is as large as it is).
pub const MAX_CHUNK_RAW: usize = 64 << 20;
/// Chunk flag: the payload is a zlib stream.
pub const CHUNK_ZLIB: u8 = 1;
/// zlib level of the chunks (a round's chunk is compressed by the writer thread, off the hot path).
pub const ZLIB_LEVEL: u32 = 1;

const _: () = assert!(HEADER_LEN == 4 + 2 + 2);
const _: () = assert!(CHUNK_HEADER_LEN == 1 + 1 + 2 + 4 + 4 + 4);

/// Chunk kinds.
pub mod kind {
    /// The recording process: pid, parent pid, start time, host, name.
    pub const PROCESS: u8 = 1;
    /// Metadata pairs (appended to those before).
    pub const METADATA: u8 = 2;
    /// Codes added since the last chunk.
    pub const CODES: u8 = 3;
    /// Threads and thread names added since the last chunk.
    pub const THREADS: u8 = 4;
    /// Events of one round, per thread.
    pub const EVENTS: u8 = 5;
    /// The process's name (replaces the one of the process chunk).
    pub const PROCESS_NAME: u8 = 6;
    /// Written at a clean stop: the stop time.
    pub const END: u8 = 7;
    /// A whole `.fpt` (version 2) trace that replaces what the chunks before it hold: the trace
    /// with the child processes merged in, written after the end chunk.
    pub const TRACE: u8 = 8;
}

/// Metadata key of the warning left in a trace whose file has no end chunk.
pub const END_MISSING_WARNING: &str = "warning.stream_end_missing";
/// Metadata key of the warning left in a trace whose file's last chunk was cut or damaged.
pub const LAST_CHUNK_WARNING: &str = "warning.stream_last_chunk";

/// What is wrong with a streamed file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StreamError {
    #[error("truncated header: {0} bytes, a streamed .fpt header is 8 bytes")]
    TruncatedHeader(usize),
    #[error("not a streamed fprofile trace (no \"FPST\" magic at byte 0)")]
    BadMagic,
    #[error("unsupported streamed .fpt version {0} at byte 4: this fprofile reads version 1 (a higher one was written by a newer fprofile)")]
    FutureVersion(u16),
    #[error("reserved header flags {0:#06x} set at byte 6")]
    ReservedFlags(u16),
    #[error("chunk {index} at byte {offset}: {what}")]
    Chunk { index: usize, offset: u64, what: String },
    /// The chunks' payloads add up to more than the caller accepts ([`decode_limited`]).
    #[error("the chunks' payloads add up to {len} bytes, above the {limit} bytes this reader accepts")]
    AboveLimit { len: u64, limit: u64 },
    /// The file could not be read ([`Scanner`]).
    #[error("cannot read the file at byte {offset}: {what}")]
    Read { offset: u64, what: String },
}

type Result<T> = std::result::Result<T, StreamError>;

/// Whether a recording's outfile at `path` is streamed in this container: its name ends in
/// `.fpt` (any case); any other name gets PYME's raw text.
pub fn is_stream_path(path: &std::path::Path) -> bool {
    path.extension().is_some_and(|e| e.eq_ignore_ascii_case("fpt"))
}

// ---------------------------------------------------------------------------------------------
// Encoder

/// A thread first seen in a round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewThread {
    /// Its number in the file (0, 1, ... in order of appearance).
    pub id: u32,
    pub os_id: u64,
    pub ident: u64,
}

/// One chunk framed in [`Encoder::out`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Frame {
    pub kind: u8,
    /// Its bytes are `out[start..end]`.
    pub start: usize,
    pub end: usize,
    /// An events chunk: its until time and its number of events (0 for other chunks).
    pub until_ns: u64,
    pub events: u64,
    /// An events chunk: the calls open after it (code ids, outermost first) on each thread that
    /// has events in it (what the flight recorder needs to show calls begun before its window).
    pub stacks: Vec<(u32, Vec<u32>)>,
}

/// A thread's open calls as its events go by, by the builder's matching rule: a return closes the
/// innermost open call of its code (and those above it); one that matches none is ignored (a call
/// begun before the recording).
fn apply(stack: &mut Vec<u32>, code: u32, is_return: bool) {
    if !is_return {
        stack.push(code);
    } else if let Some(pos) = stack.iter().rposition(|&c| c == code) {
        stack.truncate(pos);
    }
}

/// Appends framed chunks to [`Encoder::out`] (the caller writes it out, whole, and clears it
/// with [`Encoder::clear`]); [`Encoder::frames`] says where each is.
#[derive(Debug, Default)]
pub struct Encoder {
    /// Framed chunks, ready to write.
    pub out: Vec<u8>,
    /// The chunks in `out`.
    pub frames: Vec<Frame>,
    raw: Vec<u8>,
    /// Events of the round being built ([`Encoder::events`]), and how many threads it holds.
    events: Vec<u8>,
    event_threads: u64,
    event_count: u64,
    times: Vec<u64>,
    words: Vec<u64>,
    /// Open calls per thread (see [`Frame::stacks`]), and the threads with events since the last
    /// events chunk.
    stacks: Vec<Vec<u32>>,
    touched: Vec<u32>,
}

impl Encoder {
    /// The file's first bytes.
    pub fn header(&mut self) {
        self.out.extend_from_slice(&header_bytes());
    }

    /// Forgets what was framed (once written).
    pub fn clear(&mut self) {
        self.out.clear();
        self.frames.clear();
    }

    /// Frames `raw` as a chunk of `kind` (compressed) onto `out`.
    fn frame(out: &mut Vec<u8>, frames: &mut Vec<Frame>, kind: u8, raw: &[u8]) {
        Self::frame_with(out, frames, kind, raw, true);
    }

    /// Frames `raw` as a chunk of `kind`, compressed or stored as it is, onto `out`.
    fn frame_with(out: &mut Vec<u8>, frames: &mut Vec<Frame>, kind: u8, raw: &[u8], compress: bool) {
        let at = out.len();
        out.extend_from_slice(&[0u8; CHUNK_HEADER_LEN]);
        if compress {
            codec::deflate_into(out, raw, ZLIB_LEVEL);
        } else {
            out.extend_from_slice(raw);
        }
        let stored_len = (out.len() - at - CHUNK_HEADER_LEN) as u32;
        let h = &mut out[at..at + CHUNK_HEADER_LEN];
        h[0] = kind;
        h[1] = if compress { CHUNK_ZLIB } else { 0 };
        h[4..8].copy_from_slice(&stored_len.to_le_bytes());
        h[8..12].copy_from_slice(&(raw.len() as u32).to_le_bytes());
        let crc = checksum(&out[at..at + 12], &out[at + CHUNK_HEADER_LEN..]);
        out[at + 12..at + 16].copy_from_slice(&crc.to_le_bytes());
        frames.push(Frame { kind, start: at, end: out.len(), ..Frame::default() });
    }

    fn chunk(&mut self, kind: u8, body: impl FnOnce(&mut Vec<u8>)) {
        self.raw.clear();
        body(&mut self.raw);
        Self::frame(&mut self.out, &mut self.frames, kind, &self.raw);
    }

    /// The process chunk (`start_ns`: when recording started, absolute monotonic ns).
    pub fn process(&mut self, p: &ProcessInfo, start_ns: u64) {
        self.chunk(kind::PROCESS, |b| {
            put_u(b, p.pid);
            put_u(b, p.parent_pid);
            put_u(b, start_ns);
            put_str(b, &p.host);
            put_str(b, &p.name);
        });
    }

    pub fn metadata(&mut self, pairs: &[(String, String)]) {
        if pairs.is_empty() {
            return;
        }
        self.chunk(kind::METADATA, |b| {
            put_u(b, pairs.len() as u64);
            for (k, v) in pairs {
                put_str(b, k);
                put_str(b, v);
            }
        });
    }

    /// Codes numbered `first`, `first + 1`, ... (nothing when `codes` is empty).
    pub fn codes(&mut self, first: u32, codes: &[Code]) {
        if codes.is_empty() {
            return;
        }
        self.chunk(kind::CODES, |b| {
            put_u(b, u64::from(first));
            put_u(b, codes.len() as u64);
            for c in codes {
                put_str(b, &c.file);
                put_str(b, &c.name);
                put_u(b, u64::from(c.first_line));
            }
        });
    }

    /// New threads, then new names `(thread, from absolute ns, name)` (nothing when both are empty).
    pub fn threads(&mut self, threads: &[NewThread], names: &[(u32, u64, &str)]) {
        if threads.is_empty() && names.is_empty() {
            return;
        }
        self.chunk(kind::THREADS, |b| {
            put_u(b, threads.len() as u64);
            for t in threads {
                put_u(b, u64::from(t.id));
                put_u(b, t.os_id);
                put_u(b, t.ident);
            }
            put_u(b, names.len() as u64);
            for (t, at, name) in names {
                put_u(b, u64::from(*t));
                put_u(b, *at);
                put_str(b, name);
            }
        });
    }

    /// Adds one thread's events to the round's events chunk; `convert` maps each event's stored
    /// time to absolute monotonic ns.
    pub fn events(&mut self, thread: u32, events: &[Event], mut convert: impl FnMut(u64) -> u64) {
        if events.is_empty() {
            return;
        }
        self.times.clear();
        self.words.clear();
        self.times.extend(events.iter().map(|e| convert(e.t_ns)));
        self.words.extend(events.iter().map(|e| (u64::from(e.code) << 1) | u64::from(e.kind == EventKind::Return)));
        let b = &mut self.events;
        put_u(b, u64::from(thread));
        put_u(b, events.len() as u64);
        let t0 = self.times[0];
        put_u(b, t0);
        // A time before the previous one (the clock conversion can step back a few ns between two
        // calibrations) is written as a gap of 0 and listed with how far back it is.
        let mut gaps = Vec::with_capacity(self.times.len());
        let mut backs: Vec<(usize, u64)> = Vec::new();
        let mut prev = t0;
        for (i, &t) in self.times.iter().enumerate() {
            if t < prev {
                backs.push((i, prev - t));
                gaps.push(0);
            } else {
                gaps.push(t - prev);
            }
            prev = t;
        }
        put_u(b, backs.len() as u64);
        let mut last = 0usize;
        for (k, (i, back)) in backs.iter().enumerate() {
            put_u(b, (if k == 0 { *i } else { i - last - 1 }) as u64);
            put_u(b, *back);
            last = *i;
        }
        for &w in &self.words {
            put_u(b, w);
        }
        put_planes(b, &gaps);
        let t = thread as usize;
        if self.stacks.len() <= t {
            self.stacks.resize_with(t + 1, Vec::new);
        }
        if !self.touched.contains(&thread) {
            self.touched.push(thread);
        }
        for e in events {
            apply(&mut self.stacks[t], e.code, e.kind == EventKind::Return);
        }
        self.event_threads += 1;
        self.event_count += events.len() as u64;
    }

    /// Bytes of events waiting for [`Encoder::flush_events`].
    pub fn pending_event_bytes(&self) -> usize {
        self.events.len()
    }

    /// Frames the events added since the last flush as one chunk (`until_ns`: everything recorded
    /// before this absolute time is in the file once it is written). Returns the number of events.
    pub fn flush_events(&mut self, until_ns: u64) -> u64 {
        let n = self.event_count;
        self.raw.clear();
        put_u(&mut self.raw, until_ns);
        put_u(&mut self.raw, self.event_threads);
        self.raw.extend_from_slice(&self.events);
        Self::frame(&mut self.out, &mut self.frames, kind::EVENTS, &self.raw);
        let stacks = self.touched.drain(..).map(|t| (t, self.stacks[t as usize].clone())).collect();
        if let Some(f) = self.frames.last_mut() {
            f.until_ns = until_ns;
            f.events = n;
            f.stacks = stacks;
        }
        self.events.clear();
        self.event_threads = 0;
        self.event_count = 0;
        n
    }

    pub fn process_name(&mut self, name: &str) {
        self.chunk(kind::PROCESS_NAME, |b| put_str(b, name));
    }

    /// The end chunk: recording stopped cleanly at `stop_ns` (absolute monotonic ns).
    pub fn end(&mut self, stop_ns: u64) {
        self.chunk(kind::END, |b| put_u(b, stop_ns));
    }

    /// A whole trace that replaces the chunks before it (see [`kind::TRACE`]).
    pub fn trace(&mut self, t: &Trace) {
        // compressed already: stored as it is (any size up to 4 GiB)
        Self::frame_with(&mut self.out, &mut self.frames, kind::TRACE, &fpt::encode(t), false);
    }
}

/// The file header (magic, version, flags).
pub fn header_bytes() -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..4].copy_from_slice(&MAGIC);
    h[4..6].copy_from_slice(&VERSION.to_le_bytes());
    h
}

// ---------------------------------------------------------------------------------------------
// The flight recorder's ring

/// What a flight recorder keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// The events of the last this many ns.
    Duration(u64),
    /// The last this many events (all threads).
    Events(u64),
}

/// An events chunk in the ring: until_ns, events, framed bytes, the open calls after it
/// ([`Frame::stacks`]).
type RingChunk = (u64, u64, Vec<u8>, Vec<(u32, Vec<u32>)>);

/// The flight recorder (`keep_last`): the chunks of a streamed recording kept in memory, the
/// tables whole (process, metadata, codes, threads and names) and the events chunks of the last
/// window only (compressed, as written). [`Ring::snapshot`] reads the window back.
#[derive(Debug)]
pub struct Ring {
    keep: Keep,
    /// The file header and every chunk but the events chunks, in order.
    tables: Vec<u8>,
    /// Events chunks, oldest first.
    events: std::collections::VecDeque<RingChunk>,
    /// The calls open on each thread (by id) before the oldest kept events chunk.
    base: Vec<Vec<u32>>,
    /// Events in `events`.
    held: u64,
    /// The latest until time seen.
    until_ns: u64,
}

impl Ring {
    pub fn new(keep: Keep) -> Ring {
        Ring { keep, tables: header_bytes().to_vec(), events: Default::default(), base: Vec::new(), held: 0, until_ns: 0 }
    }

    /// Takes the chunks an [`Encoder`] framed (then drops the events chunks the window no longer
    /// needs).
    pub fn push(&mut self, out: &[u8], frames: &[Frame]) {
        for f in frames {
            let bytes = &out[f.start..f.end];
            if f.kind == kind::EVENTS {
                self.events.push_back((f.until_ns, f.events, bytes.to_vec(), f.stacks.clone()));
                self.held += f.events;
                self.until_ns = self.until_ns.max(f.until_ns);
            } else {
                self.tables.extend_from_slice(bytes);
            }
        }
        self.trim();
    }

    fn trim(&mut self) {
        while let Some(&(until, n, _, _)) = self.events.front() {
            let drop = match self.keep {
                // every event of the chunk is before the window's start
                Keep::Duration(d) => until < self.until_ns.saturating_sub(d),
                Keep::Events(k) => self.held - n >= k,
            };
            if !drop {
                break;
            }
            self.held -= n;
            if let Some((_, _, _, stacks)) = self.events.pop_front() {
                for (t, st) in stacks {
                    let t = t as usize;
                    if self.base.len() <= t {
                        self.base.resize_with(t + 1, Vec::new);
                    }
                    self.base[t] = st;
                }
            }
        }
    }

    /// Bytes held (the compressed chunks).
    pub fn bytes_held(&self) -> usize {
        self.tables.len() + self.events.iter().map(|(_, _, b, _)| b.len()).sum::<usize>()
    }

    /// The latest until time of the chunks pushed (absolute ns).
    pub fn until_ns(&self) -> u64 {
        self.until_ns
    }

    /// The kept chunks as a streamed file (the tables, then the events chunks).
    pub fn file_bytes(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(self.bytes_held());
        b.extend_from_slice(&self.tables);
        for (_, _, c, _) in &self.events {
            b.extend_from_slice(c);
        }
        b
    }

    /// The last window as a trace: exactly the events at or after its start (`Duration`: the
    /// latest until time minus the duration; `Events`: the time of the k-th latest event, so
    /// events at that very nanosecond are all kept). The calls open at the window's start (begun
    /// before it, running into it or through it) open at its start, flagged
    /// [`crate::CallFlags::STARTED_BEFORE`], with their children as recorded. Its metadata says
    /// the window (`keep_last`, `window.start_ns`).
    pub fn snapshot(&self) -> Result<Trace> {
        let bytes = self.file_bytes();
        let from_ns = match self.keep {
            Keep::Duration(d) => self.until_ns.saturating_sub(d),
            Keep::Events(k) => {
                let all = read_window(&bytes, 0)?;
                let mut times: Vec<u64> =
                    all.recording.threads.iter().flat_map(|t| t.chunks.iter().flatten()).map(|e| e.t_ns).collect();
                if (times.len() as u64) <= k || k == 0 {
                    0
                } else {
                    let i = times.len() - k as usize;
                    *times.select_nth_unstable(i).1
                }
            }
        };
        let mut read = read_window_from(&bytes, from_ns, Some(self.base.clone()))?;
        let rec = &mut read.recording;
        rec.metadata.retain(|(k, _)| k != END_MISSING_WARNING);
        rec.process.incomplete = false;
        rec.metadata.push((
            "keep_last".into(),
            match self.keep {
                Keep::Duration(d) => format!("{d} ns"),
                Keep::Events(k) => format!("{k} events"),
            },
        ));
        rec.metadata.push(("window.start_ns".into(), rec.start_ns.to_string()));
        // The builder orders threads by first event time (ties: recording order) and drops those
        // with none: the same order here says which trace thread got which opened calls.
        let mut order: Vec<(u64, usize)> = rec
            .threads
            .iter()
            .enumerate()
            .filter_map(|(i, t)| t.chunks.iter().flatten().map(|e| e.t_ns).min().map(|first| (first, i)))
            .collect();
        order.sort_by_key(|&(first, _)| first);
        let opened = std::mem::take(&mut read.opened);
        let mut t = crate::calltree::build_trace(read.recording);
        for (info, &(_, i)) in t.threads.iter().zip(&order) {
            let k = opened.get(i).copied().unwrap_or(0);
            let (lo, hi) = (info.call_range.0 as usize, info.call_range.1 as usize);
            // calls begun before the recording itself (returns with no call) come first, then ours
            let before = (lo..hi).take_while(|&c| t.calls.flags[c].started_before()).count();
            for c in (lo..hi).skip(before).take(k) {
                t.calls.flags[c].0 |= crate::CallFlags::STARTED_BEFORE;
            }
        }
        Ok(t)
    }
}

/// Appends `t` as a [`kind::TRACE`] chunk to the streamed file at `path` (after its end chunk).
pub fn append_trace(path: &std::path::Path, t: &Trace) -> std::io::Result<()> {
    use std::io::Write;
    let mut e = Encoder::default();
    e.trace(t);
    let mut f = std::fs::OpenOptions::new().append(true).open(path)?;
    f.write_all(&e.out)?;
    f.sync_data().or(Ok(()))
}

// ---------------------------------------------------------------------------------------------
// Reader

/// One chunk as found in a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkInfo {
    pub kind: u8,
    /// Offset of its header in the file.
    pub offset: usize,
    /// Header plus stored payload.
    pub len: usize,
}

/// Why a chunk is not whole: cut short (the file ends inside it) or damaged.
enum Broken {
    Cut(String),
    Damaged(String),
}

/// CRC-32 of a chunk: its header's first 12 bytes, then its stored payload.
fn checksum(head: &[u8], payload: &[u8]) -> u32 {
    let mut c = flate2::Crc::new();
    c.update(head);
    c.update(payload);
    c.sum()
}

/// The framing of the chunk at `offset`, checked (not inflated).
fn chunk_at(bytes: &[u8], offset: usize) -> std::result::Result<(ChunkInfo, usize), Broken> {
    let left = bytes.len() - offset;
    let h = &bytes[offset..offset + left.min(CHUNK_HEADER_LEN)];
    let end = offset + declared_len(bytes, offset);
    let payload = bytes.get(offset + CHUNK_HEADER_LEN..end);
    check_frame(h, offset, left, payload)
}

/// Checks a chunk's framing: `h` its header (shorter when the file ends inside it), `left` the
/// bytes from its start to the end of the file, `payload` its stored payload (None when the file
/// ends inside it).
fn check_frame(h: &[u8], offset: usize, left: usize, payload: Option<&[u8]>) -> std::result::Result<(ChunkInfo, usize), Broken> {
    if h.len() < CHUNK_HEADER_LEN {
        return Err(Broken::Cut(format!("the file ends inside its header ({left} of {CHUNK_HEADER_LEN} bytes)")));
    }
    let le32 = |i: usize| u32::from_le_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]) as usize;
    let (kind, flags, reserved) = (h[0], h[1], u16::from_le_bytes([h[2], h[3]]));
    let (stored, raw, crc) = (le32(4), le32(8), le32(12) as u32);
    let len = CHUNK_HEADER_LEN + stored;
    let info = ChunkInfo { kind, offset, len };
    if kind == 0 || flags & !CHUNK_ZLIB != 0 || reserved != 0 {
        let what = format!("bad chunk header (kind {kind}, flags {flags:#04x}, reserved {reserved:#06x})");
        return Err(if len >= left { Broken::Cut(what) } else { Broken::Damaged(what) });
    }
    if flags & CHUNK_ZLIB == 0 && raw != stored {
        return Err(Broken::Damaged(format!("stored payload of {stored} bytes, {raw} declared")));
    }
    if flags & CHUNK_ZLIB != 0 && raw > MAX_CHUNK_RAW {
        return Err(Broken::Damaged(format!("payload of {raw} bytes is above the {MAX_CHUNK_RAW} a chunk may hold")));
    }
    let payload = match payload {
        Some(p) if len <= left => p,
        _ => return Err(Broken::Cut(format!("the file ends inside it ({left} of {len} bytes)"))),
    };
    let sum = checksum(&h[..12], payload);
    if sum != crc {
        return Err(Broken::Damaged(format!("checksum mismatch (stored {crc:#010x}, computed {sum:#010x})")));
    }
    Ok((info, raw))
}

/// The chunks of a file, framing checked: whole chunks, then what is wrong with the last one when
/// it is cut or damaged (an error when a bad chunk is not the last).
pub fn chunks(bytes: &[u8]) -> Result<(Vec<ChunkInfo>, Option<String>)> {
    check_header(bytes)?;
    let mut out = Vec::new();
    let mut at = HEADER_LEN;
    while at < bytes.len() {
        match chunk_at(bytes, at) {
            Ok((info, _)) => {
                at += info.len;
                out.push(info);
            }
            Err(Broken::Cut(what)) => return Ok((out, Some(format!("the last chunk (byte {at}) was cut short: {what}")))),
            Err(Broken::Damaged(what)) => {
                // Damaged but whole: dropped when nothing follows it, else the file is broken.
                let len = declared_len(bytes, at);
                if at + len == bytes.len() {
                    return Ok((out, Some(format!("the last chunk (byte {at}) is damaged: {what}"))));
                }
                return Err(StreamError::Chunk { index: out.len(), offset: at as u64, what });
            }
        }
    }
    Ok((out, None))
}

fn declared_len(bytes: &[u8], at: usize) -> usize {
    let h = &bytes[at..];
    if h.len() < CHUNK_HEADER_LEN {
        return h.len();
    }
    CHUNK_HEADER_LEN + u32::from_le_bytes([h[4], h[5], h[6], h[7]]) as usize
}

/// The payload bytes a chunk header declares.
fn stored_len(h: &[u8]) -> usize {
    if h.len() < CHUNK_HEADER_LEN {
        return 0;
    }
    u32::from_le_bytes([h[4], h[5], h[6], h[7]]) as usize
}

fn check_header(bytes: &[u8]) -> Result<()> {
    if bytes.len() < MAGIC.len() || bytes[..MAGIC.len()] != MAGIC {
        return Err(StreamError::BadMagic);
    }
    if bytes.len() < HEADER_LEN {
        return Err(StreamError::TruncatedHeader(bytes.len()));
    }
    let version = u16::from_le_bytes([bytes[4], bytes[5]]);
    if version != VERSION {
        return Err(StreamError::FutureVersion(version));
    }
    let flags = u16::from_le_bytes([bytes[6], bytes[7]]);
    if flags != 0 {
        return Err(StreamError::ReservedFlags(flags));
    }
    Ok(())
}

/// What [`read`] found.
#[derive(Debug)]
pub struct StreamRead {
    /// The recording (its process `incomplete` when the end chunk is missing).
    pub recording: Recording,
    /// The trace of a [`kind::TRACE`] chunk (it replaces the recording).
    pub trace: Option<Trace>,
    /// The end chunk was found.
    pub ended: bool,
    /// What was wrong with the last chunk, which was dropped.
    pub dropped_last: Option<String>,
    /// Whole chunks read.
    pub chunks: usize,
    /// Per thread, the calls opened at the window's start (see [`read_window`]).
    pub opened: Vec<usize>,
}

/// Reads a streamed file into a [`Recording`] (see the module docs).
pub fn read(bytes: &[u8]) -> Result<StreamRead> {
    read_window(bytes, 0)
}

/// [`read`], keeping only the events at or after `from_ns` (absolute; 0: all). The recording then
/// starts at `from_ns`.
pub fn read_window(bytes: &[u8], from_ns: u64) -> Result<StreamRead> {
    read_window_from(bytes, from_ns, None)
}

/// [`read_window`]; with `stacks` (the calls open on each thread before the first events chunk,
/// as [`Frame::stacks`]), the calls open at `from_ns` are opened at `from_ns` (a call event each,
/// outermost first, counted in [`StreamRead::opened`]).
fn read_window_from(bytes: &[u8], from_ns: u64, stacks: Option<Vec<Vec<u32>>>) -> Result<StreamRead> {
    let (list, dropped_last) = chunks(bytes)?;
    let mut st = State { stacks, ..State::default() };
    for (index, c) in list.iter().enumerate() {
        let payload = &bytes[c.offset + CHUNK_HEADER_LEN..c.offset + c.len];
        let raw = u32::from_le_bytes([bytes[c.offset + 8], bytes[c.offset + 9], bytes[c.offset + 10], bytes[c.offset + 11]]);
        let bad = |e: FptError| StreamError::Chunk { index, offset: c.offset as u64, what: e.to_string() };
        let inflated;
        let body = if bytes[c.offset + 1] & CHUNK_ZLIB != 0 {
            inflated = codec::inflate_exact(payload, raw as usize, (c.offset + CHUNK_HEADER_LEN) as u64).map_err(bad)?;
            &inflated[..]
        } else {
            payload
        };
        st.chunk(c.kind, body, from_ns).map_err(|e| match e {
            FptError::Body { offset, what } => {
                StreamError::Chunk { index, offset: c.offset as u64, what: format!("byte {offset} of its payload: {what}") }
            }
            e => bad(e),
        })?;
    }
    Ok(st.finish(from_ns, dropped_last, list.len()))
}

/// Reads a streamed file one chunk at a time from `R` (a file of `len` bytes), never holding it
/// whole: what the stop's compaction reads (`crate::compact`). Each chunk's events are taken with
/// [`Scanner::take_events`] rather than kept; the codes and threads declared so far are at hand;
/// [`Scanner::finish`] gives what [`read`] gives, with no events in its threads. Framing, cut and
/// damaged chunks are judged as [`chunks`] judges them.
pub struct Scanner<R> {
    r: R,
    len: u64,
    at: u64,
    index: usize,
    st: State,
    dropped_last: Option<String>,
    done: bool,
    chunk: Vec<u8>,
}

impl<R: std::io::Read> Scanner<R> {
    /// Checks the header of the file `r` (`len` bytes long).
    pub fn new(mut r: R, len: u64) -> Result<Scanner<R>> {
        let mut head = [0u8; HEADER_LEN];
        let n = read_full(&mut r, &mut head).map_err(|e| StreamError::Read { offset: 0, what: e.to_string() })?;
        check_header(&head[..n])?;
        let st = State { pending: Some(Vec::new()), ..State::default() };
        Ok(Scanner { r, len, at: HEADER_LEN as u64, index: 0, st, dropped_last: None, done: false, chunk: Vec::new() })
    }

    /// Reads the next chunk; false at the end of the file (or after a cut or damaged last chunk).
    pub fn next_chunk(&mut self) -> Result<bool> {
        if self.done || self.at >= self.len {
            self.done = true;
            return Ok(false);
        }
        let (at, index) = (self.at, self.index);
        let left = usize::try_from(self.len - at).unwrap_or(usize::MAX);
        let io = |e: std::io::Error| StreamError::Read { offset: at, what: e.to_string() };
        self.chunk.resize(CHUNK_HEADER_LEN.min(left), 0);
        let got = read_full(&mut self.r, &mut self.chunk).map_err(io)?;
        self.chunk.truncate(got);
        let stored = stored_len(&self.chunk);
        let whole = CHUNK_HEADER_LEN.saturating_add(stored);
        if self.chunk.len() == CHUNK_HEADER_LEN && whole <= left {
            self.chunk.resize(whole, 0);
            let got = read_full(&mut self.r, &mut self.chunk[CHUNK_HEADER_LEN..]).map_err(io)?;
            self.chunk.truncate(CHUNK_HEADER_LEN + got);
        }
        let h = &self.chunk[..self.chunk.len().min(CHUNK_HEADER_LEN)];
        let payload = (self.chunk.len() == whole).then(|| &self.chunk[CHUNK_HEADER_LEN..]);
        match check_frame(h, at as usize, left, payload) {
            Ok((info, raw)) => {
                let bad = |e: FptError| StreamError::Chunk { index, offset: at, what: e.to_string() };
                let payload = &self.chunk[CHUNK_HEADER_LEN..];
                let inflated;
                let body = if self.chunk[1] & CHUNK_ZLIB != 0 {
                    inflated = codec::inflate_exact(payload, raw, at + CHUNK_HEADER_LEN as u64).map_err(bad)?;
                    &inflated[..]
                } else {
                    payload
                };
                self.st.chunk(info.kind, body, 0).map_err(|e| match e {
                    FptError::Body { offset, what } => {
                        StreamError::Chunk { index, offset: at, what: format!("byte {offset} of its payload: {what}") }
                    }
                    e => bad(e),
                })?;
                self.at += info.len as u64;
                self.index += 1;
                Ok(true)
            }
            Err(Broken::Cut(what)) => {
                self.dropped_last = Some(format!("the last chunk (byte {at}) was cut short: {what}"));
                self.done = true;
                Ok(false)
            }
            Err(Broken::Damaged(what)) => {
                if whole == left {
                    self.dropped_last = Some(format!("the last chunk (byte {at}) is damaged: {what}"));
                    self.done = true;
                    return Ok(false);
                }
                Err(StreamError::Chunk { index, offset: at, what })
            }
        }
    }

    /// The events of the chunks read since the last call: (thread, events), in file order.
    pub fn take_events(&mut self) -> Vec<(usize, Vec<Event>)> {
        self.st.pending.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// The codes declared so far (ids as the events use them, before interning).
    pub fn codes(&self) -> &[Code] {
        &self.st.codes
    }

    /// The threads declared so far (no events: those are taken).
    pub fn threads(&self) -> &[ThreadRecord] {
        &self.st.threads
    }

    /// What the file held besides the events (see [`read`]).
    pub fn finish(self) -> StreamRead {
        let chunks = self.index;
        self.st.finish(0, self.dropped_last, chunks)
    }
}

#[derive(Default)]
struct State {
    process: Option<(ProcessInfo, u64)>,
    metadata: Vec<(String, String)>,
    codes: Vec<Code>,
    threads: Vec<ThreadRecord>,
    until_ns: u64,
    end_ns: Option<u64>,
    trace: Option<Trace>,
    /// A window: the calls open on each thread, kept up to date with the events before it.
    stacks: Option<Vec<Vec<u32>>>,
    /// A [`Scanner`]'s: each chunk's events go here (thread, events), for the caller to take,
    /// instead of into the threads.
    pending: Option<Vec<(usize, Vec<Event>)>>,
    /// The latest time among the last events of each batch (a [`Scanner`]'s stop time).
    last_seen: u64,
}

impl State {
    fn chunk(&mut self, kind: u8, body: &[u8], from_ns: u64) -> std::result::Result<(), FptError> {
        let mut r = Reader::new(SliceSource(body), body.len() as u64);
        match kind {
            kind::PROCESS => {
                let pid = r.u("pid")?;
                let parent_pid = r.u("parent_pid")?;
                let start = r.u("start_ns")?;
                let host = r.str("host")?.to_string();
                let name = r.str("name")?.to_string();
                self.process = Some((ProcessInfo { pid, parent_pid, host, name, ..ProcessInfo::default() }, start));
            }
            kind::METADATA => {
                let n = r.count("metadata count", 2)?;
                for _ in 0..n {
                    let k = r.str("metadata key")?.to_string();
                    let v = r.str("metadata value")?.to_string();
                    self.metadata.push((k, v));
                }
            }
            kind::CODES => {
                let at = r.pos();
                let first = r.u("first code id")?;
                if first != self.codes.len() as u64 {
                    return r.err(at, format!("codes start at id {first}, expected {}", self.codes.len()));
                }
                let n = r.count("code count", 3)?;
                for _ in 0..n {
                    let file = r.str("code file")?.to_string();
                    let name = r.str("code name")?.to_string();
                    let line = r.u("first line")?;
                    self.codes.push(Code { file, name, first_line: u32::try_from(line).unwrap_or(u32::MAX) });
                }
            }
            kind::THREADS => {
                let n = r.count("thread count", 3)?;
                for _ in 0..n {
                    let at = r.pos();
                    let id = r.u("thread id")?;
                    if id != self.threads.len() as u64 {
                        return r.err(at, format!("thread {id} declared out of order (expected {})", self.threads.len()));
                    }
                    let os_id = r.u("os id")?;
                    let ident = r.u("ident")?;
                    self.threads.push(ThreadRecord { os_id, ident, names: Vec::new(), chunks: Vec::new() });
                }
                let n = r.count("name count", 3)?;
                for _ in 0..n {
                    let t = r.index("thread of a name", self.threads.len())?;
                    let at = r.u("name time")?;
                    let name = r.str("thread name")?.to_string();
                    self.threads[t].names.push((at, name));
                }
            }
            kind::EVENTS => self.events(&mut r, from_ns)?,
            kind::PROCESS_NAME => {
                let name = r.str("process name")?.to_string();
                if let Some((p, _)) = self.process.as_mut() {
                    p.name = name;
                }
            }
            kind::END => self.end_ns = Some(r.u("stop time")?),
            kind::TRACE => self.trace = Some(fpt::decode(body)?),
            _ => return Ok(()), // a kind a newer writer added: skipped
        }
        if kind != kind::TRACE && r.left() != 0 {
            return r.err(r.pos(), format!("{} unexpected bytes after the chunk's fields", r.left()));
        }
        Ok(())
    }

    fn events(&mut self, r: &mut Reader<SliceSource<'_>>, from_ns: u64) -> std::result::Result<(), FptError> {
        let until = r.u("until time")?;
        self.until_ns = self.until_ns.max(until);
        let n_threads = r.count("thread count", 4)?;
        for _ in 0..n_threads {
            let t = r.index("thread", self.threads.len())?;
            let n = r.count("event count", 2)?;
            let t0 = r.u("first time")?;
            let n_back = r.count("back count", 2)?;
            let mut backs = Vec::with_capacity(n_back);
            let mut next = 0u64;
            for k in 0..n_back {
                let at = r.pos();
                let d = r.u("back index")?;
                let i = if k == 0 { d } else { next.saturating_add(d) };
                if i >= n as u64 {
                    return r.err(at, format!("back index {i} beyond the {n} events"));
                }
                backs.push((i as usize, r.u("back ns")?));
                next = i + 1;
            }
            let mut words = Vec::with_capacity(n);
            for _ in 0..n {
                let at = r.pos();
                let w = r.u("code word")?;
                if w >> 33 != 0 {
                    return r.err(at, format!("code word {w} out of range"));
                }
                words.push(w);
            }
            let mut gaps = Planes::new(r, "gaps", n)?;
            let mut out = Vec::with_capacity(n);
            let mut t_ns = t0;
            let mut bi = 0usize;
            for (i, w) in words.into_iter().enumerate() {
                let (at, g) = gaps.next(r)?;
                t_ns = t_ns.checked_add(g).ok_or(FptError::Body { offset: at, what: "time overflows".into() })?;
                if backs.get(bi).is_some_and(|b| b.0 == i) {
                    t_ns = t_ns.saturating_sub(backs[bi].1);
                    bi += 1;
                }
                if t_ns < from_ns {
                    if let Some(stacks) = self.stacks.as_mut() {
                        if stacks.len() <= t {
                            stacks.resize_with(t + 1, Vec::new);
                        }
                        apply(&mut stacks[t], (w >> 1) as u32, w & 1 != 0);
                    }
                    continue;
                }
                let kind = if w & 1 != 0 { EventKind::Return } else { EventKind::Call };
                out.push(Event { t_ns, code: (w >> 1) as u32, kind });
            }

            if let Some(last) = out.last() {
                self.last_seen = self.last_seen.max(last.t_ns);
                match self.pending.as_mut() {
                    Some(p) => p.push((t, out)),
                    None => self.threads[t].chunks.push(out),
                }
            }
        }
        Ok(())
    }

    fn finish(self, from_ns: u64, dropped_last: Option<String>, chunks: usize) -> StreamRead {
        let State { process, mut metadata, codes, mut threads, until_ns, end_ns, trace, stacks, pending, last_seen } = self;
        let mut opened = vec![0usize; threads.len()];
        for (i, stack) in stacks.unwrap_or_default().into_iter().enumerate() {
            if let (Some(th), false) = (threads.get_mut(i), stack.is_empty()) {
                opened[i] = stack.len();
                let open = stack.into_iter().map(|code| Event { t_ns: from_ns, code, kind: EventKind::Call }).collect();
                th.chunks.insert(0, open);
            }
        }
        let (mut process, start_ns) = process.unwrap_or_default();
        let start_ns = start_ns.max(from_ns);
        for th in threads.iter_mut() {
            if th.names.is_empty() {
                th.names.push((start_ns, format!("thread-{}", th.os_id)));
            }
        }
        let last_event = if pending.is_some() {
            last_seen
        } else {
            threads.iter().flat_map(|t| t.chunks.last().and_then(|c| c.last())).map(|e| e.t_ns).max().unwrap_or(0)
        };
        let stop_ns = end_ns.unwrap_or(until_ns.max(last_event)).max(start_ns).max(last_event);
        let ended = end_ns.is_some();
        process.incomplete = !ended;
        if !ended {
            metadata.push((
                END_MISSING_WARNING.into(),
                format!(
                    "the end of the recording is missing (the process was killed, called os._exit, or the file was cut): \
                     this trace holds the {chunks} chunks that reached the file"
                ),
            ));
        }
        if let Some(why) = &dropped_last {
            metadata.push((LAST_CHUNK_WARNING.into(), format!("{why}; it was dropped")));
        }
        let codes = crate::calltree::dedupe_codes(codes, &mut threads);
        let recording = Recording { codes, threads, start_ns, stop_ns, metadata, process };
        StreamRead { recording, trace, ended, dropped_last, chunks, opened }
    }
}

/// Builds the trace of a read file: the [`kind::TRACE`] chunk's when there is one, else the
/// recording's (keeping its process even when it recorded no call). The read's warnings are in the
/// trace's metadata either way.
pub fn build(read: StreamRead) -> Trace {
    let warnings: Vec<(String, String)> =
        read.recording.metadata.iter().filter(|(k, _)| k.starts_with("warning.stream_")).cloned().collect();
    match read.trace {
        Some(mut t) => {
            t.metadata.extend(warnings);
            t
        }
        None => crate::calltree::build_process_trace(read.recording),
    }
}

/// Decodes a streamed file into its trace ([`read`] then [`calltree`]).
pub fn decode(bytes: &[u8]) -> Result<Trace> {
    Ok(build(read(bytes)?))
}

/// [`decode`] for bytes from someone else (an upload): refused before anything is inflated when
/// the payloads of its chunks, once inflated (as their headers say), add up to more than
/// `max_raw_len` bytes (each chunk is inflated with its header's length as a hard limit).
pub fn decode_limited(bytes: &[u8], max_raw_len: u64) -> Result<Trace> {
    let (list, _) = chunks(bytes)?;
    let raw: u64 = list
        .iter()
        .map(|c| {
            u64::from(u32::from_le_bytes([bytes[c.offset + 8], bytes[c.offset + 9], bytes[c.offset + 10], bytes[c.offset + 11]]))
        })
        .sum();
    if raw > max_raw_len {
        return Err(StreamError::AboveLimit { len: raw, limit: max_raw_len });
    }
    decode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_checked() {
        assert_eq!(read(b"FPS").unwrap_err(), StreamError::BadMagic);
        assert_eq!(read(b"FPST\x01\x00").unwrap_err(), StreamError::TruncatedHeader(6));
        assert_eq!(read(b"FPST\x02\x00\x00\x00").unwrap_err(), StreamError::FutureVersion(2));
        assert_eq!(read(b"FPST\x01\x00\x01\x00").unwrap_err(), StreamError::ReservedFlags(1));
        let r = read(b"FPST\x01\x00\x00\x00").unwrap();
        assert!(!r.ended && r.chunks == 0 && r.recording.threads.is_empty());
    }
}
