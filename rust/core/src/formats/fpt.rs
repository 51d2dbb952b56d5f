//! The `.fpt` binary trace format, version 2 (version 1 still read): the specification is
//! `docs/format.md`.
//!
//! [`encode`] writes a [`Trace`] (the body zlib-compressed, always version 2); [`decode`] reads one
//! back (version 1 or 2; a version-1 file is one process with pid 0), checking
//! every constraint of the spec. The decoder never panics, never loops without consuming input and
//! never allocates from a count it has not checked against the bytes left: every error names what is
//! wrong and the byte offset (in the file for the header and the zlib stream, in the decompressed
//! body otherwise).
//!
//! Encoding is deterministic: `encode(&decode(&encode(t))?) == encode(t)`.
//!
//! [`walk_file`] reads a file's calls as events without holding them (four forward cursors over
//! the body, `Walk`): what summaries of files of any length use (`load::outline`).

use crate::model::{Band, CallFlags, Calls, ClockAlignment, Code, ProcessInfo, ThreadInfo, Trace};
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use std::collections::HashMap;

/// File magic: ASCII `FPRF`.
pub const MAGIC: [u8; 4] = *b"FPRF";
/// The version this module writes (it reads this one and [`VERSION_1`]).
pub const VERSION: u16 = 2;
/// The first version: no process table, no bands (read as one process with pid 0).
pub const VERSION_1: u16 = 1;
/// Process flag: its trace is incomplete.
pub const PROCESS_INCOMPLETE: u64 = 1;
/// Process flag: an exit status follows.
pub const PROCESS_EXIT_KNOWN: u64 = 2;
/// Process flag: its clock offset could not be measured (shown on its own clock).
pub const PROCESS_CLOCK_UNALIGNED: u64 = 4;
/// Header size in bytes.
pub const HEADER_LEN: usize = 16;
/// Header flag: the body is a zlib stream.
pub const FLAG_ZLIB: u16 = 1;
/// Largest body a reader accepts (2 GiB).
pub const MAX_BODY_LEN: u64 = 2 << 30;
/// zlib level used by [`encode`] (measured in `benchmarks/results/formats.md`).
pub const ZLIB_LEVEL: u32 = 6;

const _: () = assert!(HEADER_LEN == 4 + 2 + 2 + 8);

/// What is wrong with an `.fpt` input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FptError {
    #[error("not an fprofile trace: the file is empty")]
    Empty,
    #[error("not an fprofile trace: bad magic {0:02x?} at byte 0 (expected \"FPRF\")")]
    BadMagic(Vec<u8>),
    #[error("truncated header: {0} bytes, a .fpt header is 16 bytes")]
    TruncatedHeader(usize),
    #[error("unsupported .fpt version {0} at byte 4: this fprofile reads versions 1 and 2 (a higher one was written by a newer fprofile)")]
    FutureVersion(u16),
    #[error("reserved header flags {0:#06x} set at byte 6")]
    ReservedFlags(u16),
    #[error("body length {0} at byte 8 is above the 2 GiB limit")]
    BodyTooLarge(u64),
    /// The header's body length is above the limit the caller gave ([`decode_limited`]).
    #[error("body length {len} at byte 8 is above the {} this reader accepts", size_text(*.limit))]
    BodyAboveLimit { len: u64, limit: u64 },
    #[error("zlib stream at byte {offset} of the file: {what}")]
    Zlib { offset: u64, what: String },
    #[error("byte {offset} of the body: {what}")]
    Body { offset: u64, what: String },
    /// The file could not be read to its end (an I/O error while it was being decoded).
    #[error("cannot read the file at byte {offset}: {what}")]
    Read { offset: u64, what: String },
}

type Result<T> = std::result::Result<T, FptError>;

// ---------------------------------------------------------------------------------------------
// Encoder

pub(crate) fn put_u(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

pub(crate) fn put_s(out: &mut Vec<u8>, v: i64) {
    put_u(out, ((v << 1) ^ (v >> 63)) as u64);
}

pub(crate) fn put_str(out: &mut Vec<u8>, s: &str) {
    put_u(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

/// String table in order of first use.
struct Strings<'a> {
    ids: HashMap<&'a str, u64>,
    list: Vec<&'a str>,
}

impl<'a> Strings<'a> {
    fn id(&mut self, s: &'a str) -> u64 {
        if let Some(&i) = self.ids.get(s) {
            return i;
        }
        let i = self.list.len() as u64;
        self.ids.insert(s, i);
        self.list.push(s);
        i
    }
}

/// A thread's event gaps (docs/format.md, "column gaps"): its calls' entries and exits in event
/// order, each as the time since the previous event of the thread (the first since `first_ns`).
/// An entry earlier than the previous event (a call starting before its previous sibling ended) is
/// written as a gap of 0 and listed in the first result with how far back it is.
fn event_gaps(c: &Calls, lo: usize, hi: usize, first_ns: i64) -> (Vec<(usize, u64)>, Vec<u64>) {
    let mut gaps = Vec::with_capacity(2 * (hi - lo));
    let mut backs = Vec::new();
    let mut stack: Vec<usize> = Vec::new();
    let mut t = first_ns;
    for i in lo..hi {
        let d = c.depth[i] as usize;
        while stack.len() > d {
            let Some(k) = stack.pop() else { break };
            gaps.push(c.end_ns[k].wrapping_sub(t) as u64);
            t = c.end_ns[k];
        }
        let s = c.start_ns[i];
        if s < t {
            backs.push((i - lo, t.wrapping_sub(s) as u64));
            gaps.push(0);
        } else {
            gaps.push(s.wrapping_sub(t) as u64);
        }
        t = s;
        stack.push(i);
    }
    while let Some(k) = stack.pop() {
        gaps.push(c.end_ns[k].wrapping_sub(t) as u64);
        t = c.end_ns[k];
    }
    (backs, gaps)
}

/// Varints split in two planes: the first byte of every value, then the other bytes of the values
/// that have more, in order (the first plane is nearly uniform low bits, the second small and
/// repetitive: zlib compresses the two apart better than interleaved).
pub(crate) fn put_planes(out: &mut Vec<u8>, values: &[u64]) {
    out.reserve(values.len() * 2);
    for &v in values {
        out.push(if v >= 0x80 { (v as u8) | 0x80 } else { v as u8 });
    }
    for &v in values {
        if v >= 0x80 {
            put_u(out, v >> 7);
        }
    }
}

/// Writes the metadata pairs as a JSON object of strings, in order.
pub(crate) fn metadata_json(pairs: &[(String, String)]) -> String {
    let mut s = String::from("{");
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&serde_json::Value::from(k.as_str()).to_string());
        s.push(':');
        s.push_str(&serde_json::Value::from(v.as_str()).to_string());
    }
    s.push('}');
    s
}

/// The uncompressed body (version 2).
///
/// The encoder always writes a file its decoder accepts: a trace with threads but no process table
/// is written with one process spanning the threads ([`Trace::one_process`]), a thread's process
/// index past the table is written as the last process, and bands are written ordered by thread
/// then start (bands of a thread that does not exist are left out, a negative duration is 0).
pub fn encode_body(t: &Trace) -> Vec<u8> {
    let c = &t.calls;
    let n = c.len().min(c.end_ns.len()).min(c.code.len()).min(c.depth.len()).min(c.flags.len());
    let mut out = Vec::with_capacity(64 + n * 6);
    encode_body_with(t, &mut out, |out, th| thread_calls(out, c, n, th));
    out
}

/// The body of `t` into `out`, each thread's calls (from its call count to its flagged calls)
/// written by `calls(out, thread)`: [`encode_body`] writes them from the call columns, the stop's
/// compaction (`crate::record::compact`) from its spilled columns, with `t` holding no calls.
pub(crate) fn encode_body_with(t: &Trace, out: &mut Vec<u8>, mut calls: impl FnMut(&mut Vec<u8>, &ThreadInfo)) {
    let fallback;
    let processes: &[ProcessInfo] = if t.processes.is_empty() && !t.threads.is_empty() {
        fallback = Trace::one_process(&t.threads);
        &fallback
    } else {
        &t.processes
    };
    let mut bands: Vec<&Band> = t.bands.iter().filter(|b| (b.thread as usize) < t.threads.len()).collect();
    bands.sort_by_key(|b| (b.thread, b.start_ns));
    let mut strings = Strings { ids: HashMap::new(), list: Vec::new() };
    let code_sids: Vec<(u64, u64)> = t.codes.iter().map(|k| (strings.id(&k.file), strings.id(&k.name))).collect();
    let process_sids: Vec<(u64, u64)> = processes.iter().map(|p| (strings.id(&p.name), strings.id(&p.host))).collect();
    let thread_sids: Vec<Vec<u64>> =
        t.threads.iter().map(|th| th.names.iter().map(|(_, name)| strings.id(name)).collect()).collect();
    let band_sids: Vec<u64> = bands.iter().map(|b| strings.id(&b.label)).collect();

    put_u(out, t.origin_ns);
    put_u(out, strings.list.len() as u64);
    for s in &strings.list {
        put_str(out, s);
    }
    put_u(out, t.codes.len() as u64);
    for (k, (f, nm)) in t.codes.iter().zip(&code_sids) {
        put_u(out, *f);
        put_u(out, *nm);
        put_u(out, u64::from(k.first_line));
    }
    put_u(out, processes.len() as u64);
    for (p, (name, host)) in processes.iter().zip(&process_sids) {
        put_u(out, p.pid);
        put_u(out, p.parent_pid);
        put_u(out, *name);
        put_u(out, *host);
        put_s(out, p.start_ns);
        put_u(out, p.end_ns.saturating_sub(p.start_ns).max(0) as u64);
        let mut flags = 0;
        if p.incomplete {
            flags |= PROCESS_INCOMPLETE;
        }
        if p.exit_status.is_some() {
            flags |= PROCESS_EXIT_KNOWN;
        }
        if !p.clock.aligned {
            flags |= PROCESS_CLOCK_UNALIGNED;
        }
        put_u(out, flags);
        if let Some(status) = p.exit_status {
            put_s(out, i64::from(status));
        }
        put_s(out, p.clock.offset_ns);
        put_u(out, p.clock.uncertainty_ns);
    }
    let last_process = processes.len().saturating_sub(1) as u64;
    put_u(out, t.threads.len() as u64);
    for (th, sids) in t.threads.iter().zip(&thread_sids) {
        put_u(out, u64::from(th.process).min(last_process));
        put_u(out, th.os_id);
        put_u(out, u64::from(th.lane));
        put_s(out, th.first_ns);
        put_u(out, th.last_ns.wrapping_sub(th.first_ns) as u64);
        put_u(out, th.names.len() as u64);
        let mut prev = th.first_ns;
        for ((t_ns, _), sid) in th.names.iter().zip(sids) {
            put_u(out, t_ns.wrapping_sub(prev) as u64);
            prev = *t_ns;
            put_u(out, *sid);
        }
        calls(out, th);
    }
    put_u(out, bands.len() as u64);
    for (b, sid) in bands.iter().zip(&band_sids) {
        put_u(out, u64::from(b.thread));
        put_s(out, b.start_ns);
        put_u(out, b.end_ns.saturating_sub(b.start_ns).max(0) as u64);
        put_u(out, *sid);
    }
    let meta = metadata_json(&t.metadata);
    put_str(out, &meta);
}

/// A thread's calls in the body: call count, code and pops columns, back list, gaps, flagged calls.
fn thread_calls(out: &mut Vec<u8>, c: &Calls, n: usize, th: &ThreadInfo) {
    let lo = (th.call_range.0 as usize).min(n);
    let hi = (th.call_range.1 as usize).clamp(lo, n);
    put_u(out, (hi - lo) as u64);
    for &k in &c.code[lo..hi] {
        put_u(out, u64::from(k));
    }
    // pops: calls that end before call i starts (depth[i-1] + 1 - depth[i], depth[-1] = -1)
    let mut prev_depth = -1i64;
    for &d in &c.depth[lo..hi] {
        put_u(out, (prev_depth + 1 - i64::from(d)) as u64);
        prev_depth = i64::from(d);
    }
    let (backs, gaps) = event_gaps(c, lo, hi, th.first_ns);
    put_u(out, backs.len() as u64);
    let mut prev: Option<usize> = None;
    for (i, back) in backs {
        put_u(out, (i - prev.map_or(0, |p| p + 1)) as u64);
        prev = Some(i);
        put_u(out, back);
    }
    put_planes(out, &gaps);
    let flagged: Vec<usize> = (lo..hi).filter(|&i| c.flags[i].0 != 0).collect();
    put_u(out, flagged.len() as u64);
    let mut prev: Option<usize> = None;
    for i in flagged {
        let rel = i - lo;
        put_u(out, (rel - prev.map_or(0, |p| p + 1)) as u64);
        prev = Some(rel);
        put_u(out, u64::from(c.flags[i].0));
    }
}

/// Encodes a trace as `.fpt` (zlib-compressed body).
pub fn encode(t: &Trace) -> Vec<u8> {
    encode_with_level(t, ZLIB_LEVEL)
}

/// Encodes with a given zlib level (0-9); 0 still writes a zlib stream.
pub fn encode_with_level(t: &Trace, level: u32) -> Vec<u8> {
    let body = encode_body(t);
    let mut out = Vec::with_capacity(HEADER_LEN + body.len() / 3 + 64);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&FLAG_ZLIB.to_le_bytes());
    out.extend_from_slice(&(body.len() as u64).to_le_bytes());
    deflate_into(&mut out, &body, level);
    out
}

/// Appends `body` compressed as one zlib stream (RFC 1950) at `level` (0-9) to `out` (the `.fpt`
/// body and each chunk of a streamed file, `formats::stream`).
pub(crate) fn deflate_into(out: &mut Vec<u8>, body: &[u8], level: u32) {
    let mut z = Compress::new(Compression::new(level.min(9)), true);
    loop {
        if out.capacity() - out.len() < 4096 {
            out.reserve(out.capacity().max(4096));
        }
        let consumed = z.total_in() as usize;
        match z.compress_vec(&body[consumed.min(body.len())..], out, FlushCompress::Finish) {
            Ok(Status::StreamEnd) => break,
            Ok(_) => {}
            // Compressing from memory into memory cannot fail; stop rather than loop.
            Err(_) => break,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Decoder
//
// The body is parsed as it is inflated: a [`Reader`] walks a window of the body that its
// [`Source`] refills (the zlib stream of a file or buffer, [`BodyStream`], or a body already in
// memory), so a file is never held whole and neither is its inflated body: loading costs the
// trace plus the window, the input buffer and, per thread, the first plane of its gaps (one byte
// per event). Errors are the same as inflating the whole body first and parsing it after: when the
// parser stops on an error, the rest of the stream is inflated (and dropped), and a fault of the
// stream (corrupt, truncated, longer or shorter than the header says, bytes after it) wins.

/// `n` bytes as "N GiB" or "N MiB" when a whole number of them, else "N bytes".
fn size_text(n: u64) -> String {
    if n >= 1 << 30 && n.trailing_zeros() >= 30 {
        format!("{} GiB", n >> 30)
    } else if n >= 1 << 20 && n.trailing_zeros() >= 20 {
        format!("{} MiB", n >> 20)
    } else {
        format!("{n} bytes")
    }
}

/// Bytes of body the parser's window holds (refilled when used up).
const WINDOW_LEN: usize = 256 << 10;
/// Bytes read from the file at a time.
const INPUT_LEN: usize = 64 << 10;
/// Progress is reported every this many bytes of input.
pub const PROGRESS_STEP: u64 = 4 << 20;

/// Reads the header and inflates the body (bounded by `body_len`, at most [`MAX_BODY_LEN`]).
pub fn decode_body(bytes: &[u8]) -> Result<Vec<u8>> {
    decode_body_limited(bytes, MAX_BODY_LEN)
}

/// [`decode_body`] for input from someone else: a header whose `body_len` is above `max_body_len`
/// is refused ([`FptError::BodyAboveLimit`]) before anything is inflated, and since the zlib stream
/// is inflated with `body_len` as a hard limit, the body buffer never grows past
/// `min(body_len, max_body_len) + 1` bytes, whatever the stream would inflate to.
pub fn decode_body_limited(bytes: &[u8], max_body_len: u64) -> Result<Vec<u8>> {
    let mut input = bytes;
    let mut none = |_: usize, _: usize| {};
    let (_, stream) = BodyStream::open(&mut input, max_body_len, bytes.len(), &mut none)?;
    stream.read_all()
}

/// Inflates the zlib stream `input` that must inflate to exactly `body_len` bytes and end exactly
/// at the end of `input` (each chunk of a streamed file, `formats::stream`), with the checks of an
/// `.fpt` body. Errors give offsets in the file: `base` is the offset of `input` in it.
pub(crate) fn inflate_exact(input: &[u8], body_len: usize, base: u64) -> Result<Vec<u8>> {
    let mut input = input;
    let mut none = |_: usize, _: usize| {};
    let len = input.len();
    BodyStream::zlib(&mut input, body_len as u64, base, len, &mut none).read_all()
}

/// Decodes an `.fpt` file.
pub fn decode(bytes: &[u8]) -> Result<Trace> {
    decode_limited(bytes, MAX_BODY_LEN)
}

/// [`decode`] with a limit on the decompressed body (see [`decode_body_limited`]): what a server
/// reading uploads uses, so that a small file claiming a huge body costs no memory.
pub fn decode_limited(bytes: &[u8], max_body_len: u64) -> Result<Trace> {
    decode_from(&mut &bytes[..], bytes.len(), max_body_len, &mut |_, _| {})
}

/// Decodes an `.fpt` file read from `input` (a file: read in pieces, inflated and parsed as it
/// comes, never held whole), whose size is `input_len` bytes (for `progress` only). `progress(bytes
/// read, input_len)` is called every [`PROGRESS_STEP`] bytes of input. `max_body_len` as in
/// [`decode_limited`].
pub fn decode_from(
    input: &mut dyn std::io::Read,
    input_len: usize,
    max_body_len: u64,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Trace> {
    let (version, stream) = BodyStream::open(input, max_body_len, input_len, progress)?;
    let len = stream.body_len;
    parse_from(Reader::new(stream, len), version)
}

/// Where a [`Reader`] gets the body from.
pub(crate) trait Source {
    /// Appends at most `max` (> 0) more bytes of the body to `out`; appends none at its end.
    fn fill(&mut self, out: &mut Vec<u8>, max: usize) -> Result<()>;
    /// Called once the parser is done (or failed): the fault of the input, if any, that must be
    /// reported rather than the parser's.
    fn finish(&mut self) -> Result<()>;
}

/// A body already in memory.
pub(crate) struct SliceSource<'a>(pub(crate) &'a [u8]);

impl Source for SliceSource<'_> {
    fn fill(&mut self, out: &mut Vec<u8>, max: usize) -> Result<()> {
        let n = max.min(self.0.len());
        out.extend_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(())
    }
    fn finish(&mut self) -> Result<()> {
        Ok(())
    }
}

/// The body of an `.fpt` file, inflated (or, for a raw body, copied) as it is read.
struct BodyStream<'a> {
    input: &'a mut dyn std::io::Read,
    /// None: a raw body.
    z: Option<Decompress>,
    buf: Vec<u8>,
    buf_pos: usize,
    input_done: bool,
    /// Bytes read from `input` (the header included).
    read: u64,
    input_len: usize,
    next_report: u64,
    progress: &'a mut dyn FnMut(usize, usize),
    body_len: u64,
    /// Body bytes produced so far.
    out: u64,
    /// The zlib stream (or the raw body) has ended and was checked.
    ended: bool,
    /// The first fault, returned again by every later call.
    failed: Option<FptError>,
    /// Offset in the file of the stream's first byte (for error offsets).
    base: u64,
}

impl<'a> BodyStream<'a> {
    /// Reads and checks the header: the version and the stream of the body.
    fn open(
        input: &'a mut dyn std::io::Read,
        max_body_len: u64,
        input_len: usize,
        progress: &'a mut dyn FnMut(usize, usize),
    ) -> Result<(u16, BodyStream<'a>)> {
        let mut header = [0u8; HEADER_LEN];
        let mut got = 0;
        while got < HEADER_LEN {
            match input.read(&mut header[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(FptError::Read { offset: got as u64, what: e.to_string() }),
            }
        }
        let bytes = &header[..got];
        if bytes.is_empty() {
            return Err(FptError::Empty);
        }
        if bytes.len() < 4 || bytes[..4] != MAGIC {
            return Err(FptError::BadMagic(bytes[..bytes.len().min(4)].to_vec()));
        }
        if bytes.len() < HEADER_LEN {
            return Err(FptError::TruncatedHeader(bytes.len()));
        }
        let version = u16::from_le_bytes([bytes[4], bytes[5]]);
        if version != VERSION && version != VERSION_1 {
            return Err(FptError::FutureVersion(version));
        }
        let flags = u16::from_le_bytes([bytes[6], bytes[7]]);
        if flags & !FLAG_ZLIB != 0 {
            return Err(FptError::ReservedFlags(flags));
        }
        let mut len8 = [0u8; 8];
        len8.copy_from_slice(&bytes[8..16]);
        let body_len = u64::from_le_bytes(len8);
        if body_len > MAX_BODY_LEN {
            return Err(FptError::BodyTooLarge(body_len));
        }
        if body_len > max_body_len {
            return Err(FptError::BodyAboveLimit { len: body_len, limit: max_body_len });
        }
        let mut stream = BodyStream::zlib(input, body_len, HEADER_LEN as u64, input_len, progress);
        if flags & FLAG_ZLIB == 0 {
            stream.z = None;
        }
        Ok((version, stream))
    }

    /// The zlib stream `input` (after the header, or a chunk of a streamed file at `base` in the
    /// file) that inflates to exactly `body_len` bytes.
    fn zlib(
        input: &'a mut dyn std::io::Read,
        body_len: u64,
        base: u64,
        input_len: usize,
        progress: &'a mut dyn FnMut(usize, usize),
    ) -> BodyStream<'a> {
        BodyStream {
            input,
            z: Some(Decompress::new(true)),
            buf: Vec::new(),
            buf_pos: 0,
            input_done: false,
            read: base,
            input_len,
            next_report: PROGRESS_STEP,
            progress,
            body_len,
            out: 0,
            ended: false,
            failed: None,
            base,
        }
    }

    /// The whole body (then the checks of its end).
    fn read_all(mut self) -> Result<Vec<u8>> {
        let mut body = Vec::new();
        loop {
            let before = body.len();
            self.fill(&mut body, WINDOW_LEN)?;
            if body.len() == before {
                break;
            }
        }
        self.finish()?;
        Ok(body)
    }

    fn fail<T>(&mut self, e: FptError) -> Result<T> {
        self.failed = Some(e.clone());
        Err(e)
    }

    /// Reads more input into `buf` when it is used up; false at the end of the input.
    fn more_input(&mut self) -> Result<bool> {
        if self.buf_pos < self.buf.len() {
            return Ok(true);
        }
        if self.input_done {
            return Ok(false);
        }
        self.buf.resize(INPUT_LEN, 0);
        self.buf_pos = 0;
        let n = loop {
            match self.input.read(&mut self.buf) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let offset = self.read;
                    return self.fail(FptError::Read { offset, what: e.to_string() });
                }
            }
        };
        self.buf.truncate(n);
        self.read += n as u64;
        if self.read >= self.next_report {
            (self.progress)(self.read as usize, self.input_len);
            self.next_report = self.read + PROGRESS_STEP;
        }
        self.input_done = n == 0;
        Ok(n > 0)
    }

    /// Bytes left in the input after the body (read and counted, not kept).
    fn count_trailing(&mut self) -> Result<u64> {
        let mut n = 0;
        while self.more_input()? {
            n += (self.buf.len() - self.buf_pos) as u64;
            self.buf_pos = self.buf.len();
        }
        Ok(n)
    }

    fn fill_raw(&mut self, out: &mut Vec<u8>, max: usize) -> Result<()> {
        let want = (max as u64).min(self.body_len - self.out) as usize;
        if want == 0 || !self.more_input()? {
            // The body is read (or the input ended): check it is exactly body_len bytes.
            if !self.ended {
                self.ended = true;
                let len = self.out + self.count_trailing()?;
                if len != self.body_len {
                    let body_len = self.body_len;
                    return self.fail(FptError::Body {
                        offset: len.min(body_len),
                        what: format!("raw body is {len} bytes, header says {body_len}"),
                    });
                }
            }
            return Ok(());
        }
        let n = want.min(self.buf.len() - self.buf_pos);
        out.extend_from_slice(&self.buf[self.buf_pos..self.buf_pos + n]);
        self.buf_pos += n;
        self.out += n as u64;
        Ok(())
    }

    fn fill_zlib(&mut self, out: &mut Vec<u8>, max: usize) -> Result<()> {
        let Some(mut z) = self.z.take() else { return Ok(()) };
        let r = self.inflate(&mut z, out, max);
        self.z = Some(z);
        r
    }

    fn inflate(&mut self, z: &mut Decompress, out: &mut Vec<u8>, max: usize) -> Result<()> {
        let body_len = self.body_len;
        let base = self.base;
        let zerr = |z: &Decompress, what: String| FptError::Zlib { offset: base + z.total_in(), what };
        let start = out.len();
        while !self.ended && out.len() == start {
            let has_input = self.more_input()?;
            // One byte more than body_len detects an over-long stream.
            let room = (max as u64).min(body_len + 1 - self.out) as usize;
            let (in_before, out_before) = (z.total_in(), z.total_out());
            let at = out.len();
            out.resize(at + room, 0);
            let status = z.decompress(&self.buf[self.buf_pos..], &mut out[at..], FlushDecompress::None);
            let produced = (z.total_out() - out_before) as usize;
            out.truncate(at + produced);
            self.buf_pos += (z.total_in() - in_before) as usize;
            self.out += produced as u64;
            let status = match status {
                Ok(s) => s,
                Err(e) => return self.fail(zerr(z, format!("corrupt ({e})"))),
            };
            if self.out > body_len {
                return self.fail(zerr(z, format!("inflates to more than the {body_len} bytes the header says")));
            }
            if status == Status::StreamEnd {
                self.ended = true;
                let used = z.total_in();
                let trailing = self.count_trailing()?;
                if trailing > 0 {
                    return self.fail(FptError::Zlib {
                        offset: self.base + used,
                        what: format!("{trailing} unexpected bytes after the end of the compressed body"),
                    });
                }
                if self.out != body_len {
                    let got = self.out;
                    return self.fail(FptError::Body {
                        offset: got,
                        what: format!("body inflates to {got} bytes, header says {body_len}"),
                    });
                }
            } else if z.total_in() == in_before && produced == 0 && !has_input {
                return self.fail(zerr(z, "truncated: the file ends inside the compressed body".into()));
            } else if z.total_in() == in_before && produced == 0 && self.buf_pos < self.buf.len() {
                // Input and room for output, yet no progress: never loop on it.
                return self.fail(zerr(z, "corrupt (no progress)".into()));
            }
        }
        Ok(())
    }
}

impl Source for BodyStream<'_> {
    fn fill(&mut self, out: &mut Vec<u8>, max: usize) -> Result<()> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        if self.z.is_some() {
            self.fill_zlib(out, max)
        } else {
            self.fill_raw(out, max)
        }
    }
    /// Reads the rest of the stream (inflated into a scratch buffer and dropped) to find its fault.
    fn finish(&mut self) -> Result<()> {
        let mut scratch = Vec::new();
        loop {
            scratch.clear();
            self.fill(&mut scratch, WINDOW_LEN)?;
            if scratch.is_empty() {
                return Ok(());
            }
        }
    }
}

/// The parser's view of the body: a window of it, refilled from its source, and the offset in the
/// body of the window's first byte.
pub(crate) struct Reader<S> {
    buf: Vec<u8>,
    pos: usize,
    base: u64,
    /// The body's length (as the header says).
    len: u64,
    src: S,
}

impl<S: Source> Reader<S> {
    pub(crate) fn new(src: S, len: u64) -> Self {
        Reader { buf: Vec::new(), pos: 0, base: 0, len, src }
    }
    pub(crate) fn err<T>(&self, at: u64, what: impl Into<String>) -> Result<T> {
        Err(FptError::Body { offset: at, what: what.into() })
    }
    /// The offset in the body of the next byte.
    #[inline]
    pub(crate) fn pos(&self) -> u64 {
        self.base + self.pos as u64
    }
    pub(crate) fn left(&self) -> u64 {
        self.len.saturating_sub(self.pos())
    }
    /// Drops the window (used up) and reads the next one; false at the end of the body.
    #[cold]
    fn refill(&mut self) -> Result<bool> {
        self.base += self.buf.len() as u64;
        self.buf.clear();
        self.pos = 0;
        self.src.fill(&mut self.buf, WINDOW_LEN)?;
        Ok(!self.buf.is_empty())
    }
    #[inline]
    fn byte(&mut self) -> Result<Option<u8>> {
        if self.pos >= self.buf.len() && !self.refill()? {
            return Ok(None);
        }
        let b = self.buf[self.pos];
        self.pos += 1;
        Ok(Some(b))
    }
    /// The next `n` bytes, appended to `out` (fewer at the end of the body). `out` grows with the
    /// bytes read, not with `n`: a count is checked against the length the header claims, which a
    /// cut stream does not have.
    pub(crate) fn take(&mut self, mut n: usize, out: &mut Vec<u8>) -> Result<()> {
        while n > 0 {
            if self.pos >= self.buf.len() && !self.refill()? {
                return Ok(());
            }
            let k = n.min(self.buf.len() - self.pos);
            out.extend_from_slice(&self.buf[self.pos..self.pos + k]);
            self.pos += k;
            n -= k;
        }
        Ok(())
    }
    #[inline]
    pub(crate) fn u(&mut self, what: &str) -> Result<u64> {
        let start = self.pos();
        let mut v: u64 = 0;
        let mut shift = 0u32;
        loop {
            let Some(byte) = self.byte()? else {
                return self.err(start, format!("truncated: the body ends inside {what}"));
            };
            if shift == 63 && byte > 1 {
                return self.err(start, format!("varint of {what} does not fit in 64 bits"));
            }
            v |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(v);
            }
            shift += 7;
            if shift > 63 {
                return self.err(start, format!("varint of {what} longer than 10 bytes"));
            }
        }
    }
    /// Moves forward to the body offset `pos` (never back).
    pub(crate) fn skip_to(&mut self, pos: u64) -> Result<()> {
        let at = self.pos();
        if pos < at {
            return self.err(at, format!("cannot move back to byte {pos}"));
        }
        while pos > self.base + self.buf.len() as u64 {
            if !self.refill()? {
                return self.err(at, "truncated: the body ends before a column");
            }
        }
        self.pos = (pos - self.base) as usize;
        Ok(())
    }
    /// Moves past `n` varints.
    pub(crate) fn skip_varints(&mut self, mut n: usize, what: &str) -> Result<()> {
        let at = self.pos();
        while n > 0 {
            if self.pos >= self.buf.len() && !self.refill()? {
                return self.err(at, format!("truncated: the body ends inside {what}"));
            }
            let window = &self.buf[self.pos..];
            let mut used = window.len();
            for (k, &b) in window.iter().enumerate() {
                if b < 0x80 {
                    n -= 1;
                    if n == 0 {
                        used = k + 1;
                        break;
                    }
                }
            }
            self.pos += used;
        }
        Ok(())
    }
    #[inline]
    pub(crate) fn s(&mut self, what: &str) -> Result<i64> {
        let u = self.u(what)?;
        Ok(((u >> 1) as i64) ^ -((u & 1) as i64))
    }
    /// A count of elements each taking at least `min_bytes` bytes: checked against what is left.
    pub(crate) fn count(&mut self, what: &str, min_bytes: usize) -> Result<usize> {
        let at = self.pos();
        let n = self.u(what)?;
        if n > self.left() / min_bytes.max(1) as u64 {
            return self.err(at, format!("{what} {n} is larger than the {} bytes left", self.left()));
        }
        Ok(n as usize)
    }
    pub(crate) fn str(&mut self, what: &str) -> Result<String> {
        let at = self.pos();
        let len = self.count(what, 1)?;
        let mut bytes = Vec::with_capacity(ahead(len));
        self.take(len, &mut bytes)?;
        if bytes.len() < len {
            return self.err(at, format!("truncated: the body ends inside {what}"));
        }
        String::from_utf8(bytes).or_else(|_| self.err(at, format!("{what} is not valid UTF-8")))
    }
    pub(crate) fn index(&mut self, what: &str, len: usize) -> Result<usize> {
        let at = self.pos();
        let v = self.u(what)?;
        if v >= len as u64 {
            return self.err(at, format!("{what} {v} out of range (table has {len})"));
        }
        Ok(v as usize)
    }
}

/// Elements reserved from a count before they are read: a count is checked against the body length
/// the header claims, which a cut or lying stream does not have, so larger tables and columns grow
/// with what is really read (the columns are trimmed at the end).
const RESERVE_AHEAD: usize = 1 << 20;

fn ahead(n: usize) -> usize {
    n.min(RESERVE_AHEAD)
}

/// Parses a decompressed body of the current version.
pub fn parse_body(body: &[u8]) -> Result<Trace> {
    parse_body_version(body, VERSION)
}

/// Parses a decompressed body of a given version (1 or 2).
pub fn parse_body_version(body: &[u8], version: u16) -> Result<Trace> {
    parse_from(Reader::new(SliceSource(body), body.len() as u64), version)
}

/// Parses the body `r` reads, then lets its source check the input's end; a fault of the input
/// found there wins over the parser's error.
fn parse_from<S: Source>(mut r: Reader<S>, version: u16) -> Result<Trace> {
    match parse(&mut r, version) {
        Ok(t) => r.src.finish().map(|()| t),
        Err(e) => Err(r.src.finish().err().unwrap_or(e)),
    }
}

/// What [`parse_with`] does with each thread's calls: [`Build`] keeps them ([`parse`]), a
/// [`walk_file`] walker turns them into events.
pub(crate) trait CallSink<S: Source> {
    /// Calls read before this thread's.
    fn len(&self) -> usize;
    /// Reads the `n` calls of thread `ti` from `r`: its code column through its gaps (`v2`) or
    /// its depth, start and duration columns (version 1).
    #[allow(clippy::too_many_arguments)]
    fn columns(
        &mut self,
        r: &mut Reader<S>,
        ti: usize,
        n: usize,
        n_codes: usize,
        first_ns: i64,
        last_ns: i64,
        v2: bool,
    ) -> Result<()>;
    /// Call `index` (global) has flags `f`.
    fn flag(&mut self, index: usize, f: u8);
}

/// The calls of a trace as [`parse`] reads them into its columns.
#[derive(Default)]
pub(crate) struct Build {
    calls: Calls,
    stack: Vec<u32>,
}

impl<S: Source> CallSink<S> for Build {
    fn len(&self) -> usize {
        self.calls.len()
    }

    fn columns(
        &mut self,
        r: &mut Reader<S>,
        ti: usize,
        n: usize,
        n_codes: usize,
        first_ns: i64,
        last_ns: i64,
        v2: bool,
    ) -> Result<()> {
        let Build { calls, stack } = self;
        let begin = calls.len();
        calls.code.reserve(ahead(n));
        for _ in 0..n {
            let k = r.index("code_id", n_codes)?;
            calls.code.push(k as u32);
        }
        if v2 {
            read_times(r, calls, stack, ti, n, first_ns, last_ns)?;
        } else {
            calls.depth.reserve(n);
            calls.parent.reserve(n);
            stack.clear();
            let mut prev = -1i64;
            for i in 0..n {
                let at = r.pos();
                let d = prev + r.s("depth delta")?;
                if d < 0 || d > prev + 1 || d > crate::build::MAX_DEPTH as i64 {
                    return r.err(
                        at,
                        format!(
                            "thread {ti} call {i}: depth {d} after depth {prev} (must be 0..=previous + 1, at most {})",
                            crate::build::MAX_DEPTH
                        ),
                    );
                }
                prev = d;
                stack.truncate(d as usize);
                let parent = stack.last().copied().unwrap_or(u32::MAX);
                stack.push((begin + i) as u32);
                calls.depth.push(d as u32);
                calls.parent.push(parent);
            }
            calls.start_ns.reserve(n);
            let mut s = first_ns;
            for i in 0..n {
                let at = r.pos();
                let delta = r.u("start delta")?;
                s = i64::try_from(delta)
                    .ok()
                    .and_then(|d| s.checked_add(d))
                    .filter(|&v| v <= last_ns)
                    .map_or_else(|| r.err(at, format!("thread {ti} call {i}: start after the thread's last time")), Ok)?;
                calls.start_ns.push(s);
            }
            calls.end_ns.reserve(n);
            for i in 0..n {
                let at = r.pos();
                let dur = r.u("duration")?;
                let g = begin + i;
                let e = i64::try_from(dur)
                    .ok()
                    .and_then(|d| calls.start_ns[g].checked_add(d))
                    .filter(|&v| v <= last_ns)
                    .map_or_else(|| r.err(at, format!("thread {ti} call {i}: end after the thread's last time")), Ok)?;
                let p = calls.parent[g];
                if p != u32::MAX && e > calls.end_ns[p as usize] {
                    return r.err(at, format!("thread {ti} call {i}: ends after its parent"));
                }
                calls.end_ns.push(e);
            }
        }
        calls.flags.resize(begin + n, CallFlags(0));
        Ok(())
    }

    fn flag(&mut self, index: usize, f: u8) {
        self.calls.flags[index] = CallFlags(f);
    }
}

fn parse<S: Source>(r: &mut Reader<S>, version: u16) -> Result<Trace> {
    let mut b = Build::default();
    let mut t = parse_with(r, version, &mut b)?;
    b.calls.shrink_to_fit();
    t.calls = b.calls;
    Ok(t)
}

/// Parses a body; `sink` reads each thread's calls. The trace returned has no calls.
pub(crate) fn parse_with<S: Source, K: CallSink<S>>(r: &mut Reader<S>, version: u16, sink: &mut K) -> Result<Trace> {
    if version != VERSION && version != VERSION_1 {
        return Err(FptError::FutureVersion(version));
    }
    let v2 = version >= VERSION;
    let origin_ns = r.u("origin_ns")?;
    let n_strings = r.count("string_count", 1)?;
    let mut strings: Vec<String> = Vec::with_capacity(ahead(n_strings));
    for _ in 0..n_strings {
        strings.push(r.str("string")?);
    }
    let n_codes = r.count("code_count", 3)?;
    let mut codes = Vec::with_capacity(ahead(n_codes));
    for _ in 0..n_codes {
        let f = r.index("file string id", strings.len())?;
        let nm = r.index("name string id", strings.len())?;
        let at = r.pos();
        let line = r.u("first_line")?;
        let first_line = u32::try_from(line).or_else(|_| r.err(at, format!("first_line {line} above 2^32")))?;
        codes.push(Code { file: strings[f].to_string(), name: strings[nm].to_string(), first_line });
    }
    let mut processes = Vec::new();
    if v2 {
        let n_processes = r.count("process_count", 9)?;
        processes.reserve(ahead(n_processes));
        for pi in 0..n_processes {
            processes.push(read_process(r, pi, &strings)?);
        }
    }
    let at = r.pos();
    let n_threads = r.count("thread_count", if v2 { 8 } else { 7 })?;
    if v2 && n_threads > 0 && processes.is_empty() {
        return r.err(at, format!("{n_threads} threads but no process (process_count is 0)"));
    }
    let mut threads: Vec<ThreadInfo> = Vec::with_capacity(ahead(n_threads));
    for ti in 0..n_threads {
        let process = if v2 { r.index(&format!("thread {ti}: process index"), processes.len())? as u32 } else { 0 };
        let os_id = r.u("os_id")?;
        let at = r.pos();
        let lane = r.u("lane")?;
        let lane = u32::try_from(lane).or_else(|_| r.err(at, format!("thread {ti}: lane {lane} above 2^32")))?;
        let first_ns = r.s("first_ns")?;
        let at = r.pos();
        let span = r.u("span_ns")?;
        let last_ns = i64::try_from(span)
            .ok()
            .and_then(|s| first_ns.checked_add(s))
            .map_or_else(|| r.err(at, format!("thread {ti}: span_ns {span} overflows")), Ok)?;
        let at = r.pos();
        let n_names = r.count("name_count", 2)?;
        if n_names == 0 {
            return r.err(at, format!("thread {ti}: name_count is 0 (at least one name)"));
        }
        let mut names = Vec::with_capacity(ahead(n_names));
        let mut t = first_ns;
        for k in 0..n_names {
            let at = r.pos();
            let dt = r.u("name dt_ns")?;
            if k == 0 && dt != 0 {
                return r.err(at, format!("thread {ti}: first name dt_ns is {dt}, must be 0"));
            }
            t = i64::try_from(dt)
                .ok()
                .and_then(|d| t.checked_add(d))
                .map_or_else(|| r.err(at, format!("thread {ti}: name time overflows")), Ok)?;
            let sid = r.index("thread name string id", strings.len())?;
            names.push((t, strings[sid].to_string()));
        }
        let at = r.pos();
        let n = r.count("call_count", 4)?;
        let begin = sink.len();
        if begin + n >= u32::MAX as usize {
            return r.err(at, "more than 2^32 - 2 calls");
        }
        sink.columns(r, ti, n, n_codes, first_ns, last_ns, v2)?;
        let n_flagged = r.count("flagged_count", 2)?;
        if n_flagged > n {
            return r.err(r.pos(), format!("thread {ti}: {n_flagged} flagged calls of {n}"));
        }
        let mut next = 0u64;
        for _ in 0..n_flagged {
            let at = r.pos();
            let idx = next.checked_add(r.u("flag index delta")?).filter(|&v| v < n as u64);
            let Some(idx) = idx else { return r.err(at, format!("thread {ti}: flagged call index past its {n} calls")) };
            next = idx + 1;
            let at = r.pos();
            let f = r.u("flags")?;
            if f == 0 || f > 3 {
                return r.err(at, format!("thread {ti}: flags {f} (must be 1..=3: bit 0 unfinished, bit 1 started before)"));
            }
            sink.flag(begin + idx as usize, f as u8);
        }
        threads.push(ThreadInfo {
            os_id,
            names,
            first_ns,
            last_ns,
            lane,
            process,
            call_range: (begin as u32, (begin + n) as u32),
        });
    }
    let mut bands = Vec::new();
    if v2 {
        let n_bands = r.count("band_count", 4)?;
        bands.reserve(ahead(n_bands));
        for bi in 0..n_bands {
            let at = r.pos();
            let thread = r.index(&format!("band {bi}: thread index"), threads.len())? as u32;
            let start_ns = r.s("band start_ns")?;
            if let Some(prev) = bands.last().map(|b: &Band| (b.thread, b.start_ns)) {
                if (thread, start_ns) < prev {
                    return r.err(at, format!("band {bi} is out of order (bands are ordered by thread, then start)"));
                }
            }
            let at = r.pos();
            let dur = r.u("band dur_ns")?;
            let end_ns = i64::try_from(dur)
                .ok()
                .and_then(|d| start_ns.checked_add(d))
                .map_or_else(|| r.err(at, format!("band {bi}: dur_ns {dur} overflows")), Ok)?;
            let sid = r.index("band label string id", strings.len())?;
            bands.push(Band { thread, start_ns, end_ns, label: strings[sid].to_string() });
        }
    }
    let at = r.pos();
    let meta = r.str("metadata")?;
    let metadata = parse_metadata(&meta).or_else(|e| r.err(at, format!("metadata: {e}")))?;
    if r.pos() != r.len {
        return r.err(r.pos(), format!("{} unexpected bytes after the metadata", r.len.saturating_sub(r.pos())));
    }
    if !v2 {
        processes = Trace::one_process(&threads);
    }
    Ok(Trace { origin_ns, codes, threads, calls: Calls::default(), metadata, processes, bands })
}

/// A thread's pops, back list and event gaps (version 2): depth, parent, start and end of its `n`
/// calls, appended to `calls` (whose code column already holds them).
#[allow(clippy::too_many_arguments)]
fn read_times<S: Source>(
    r: &mut Reader<S>,
    calls: &mut Calls,
    stack: &mut Vec<u32>,
    ti: usize,
    n: usize,
    first_ns: i64,
    last_ns: i64,
) -> Result<()> {
    let begin = calls.start_ns.len();
    calls.depth.reserve(n);
    calls.parent.reserve(n);
    stack.clear();
    let mut prev = -1i64;
    for i in 0..n {
        let at = r.pos();
        let pops = r.u("pops")?;
        let d = i64::try_from(pops).ok().map_or(-1, |p| prev + 1 - p);
        if d < 0 || d > crate::build::MAX_DEPTH as i64 {
            return r.err(
                at,
                format!(
                    "thread {ti} call {i}: {pops} calls end before it, {} are open (depth at most {})",
                    prev + 1,
                    crate::build::MAX_DEPTH
                ),
            );
        }
        prev = d;
        stack.truncate(d as usize);
        let parent = stack.last().copied().unwrap_or(u32::MAX);
        stack.push((begin + i) as u32);
        calls.depth.push(d as u32);
        calls.parent.push(parent);
    }
    let n_backs = r.count("back_count", 2)?;
    if n_backs > n {
        return r.err(r.pos(), format!("thread {ti}: {n_backs} calls starting back of {n}"));
    }
    let mut backs: Vec<(usize, u64)> = Vec::with_capacity(ahead(n_backs));
    let mut next = 0u64;
    for _ in 0..n_backs {
        let at = r.pos();
        let idx = next.checked_add(r.u("back index delta")?).filter(|&v| v < n as u64);
        let Some(idx) = idx else { return r.err(at, format!("thread {ti}: back call index past its {n} calls")) };
        next = idx + 1;
        backs.push((idx as usize, r.u("back_ns")?));
    }
    let mut gaps = Planes::new(r, "gaps", 2 * n)?;
    let mut backs = backs.into_iter().peekable();
    // The open calls (global index) and the latest end among the finished children of each.
    let mut open: Vec<(usize, i64)> = Vec::new();
    calls.start_ns.reserve(n);
    calls.end_ns.resize(begin + n, 0);
    let mut t = first_ns;
    let past = |v: Option<i64>| v.filter(|&v| v <= last_ns);
    for i in 0..n {
        let d = calls.depth[begin + i] as usize;
        while open.len() > d {
            let (at, gap) = gaps.next(r)?;
            let Some((k, kids_end)) = open.pop() else { break };
            let Some(e) = past(i64::try_from(gap).ok().and_then(|g| t.checked_add(g))) else {
                return r.err(at, format!("thread {ti} call {}: end after the thread's last time", k - begin));
            };
            if e < kids_end {
                return r.err(at, format!("thread {ti} call {}: ends before a call inside it", k - begin));
            }
            calls.end_ns[k] = e;
            if let Some(parent) = open.last_mut() {
                parent.1 = parent.1.max(e);
            }
            t = e;
        }
        let (at, gap) = gaps.next(r)?;
        let back = match backs.peek() {
            Some(&(k, b)) if k == i => {
                backs.next();
                b
            }
            _ => 0,
        };
        let s = i64::try_from(gap)
            .ok()
            .and_then(|g| t.checked_add(g))
            .and_then(|v| i64::try_from(back).ok().and_then(|b| v.checked_sub(b)));
        let Some(s) = past(s) else {
            return r.err(at, format!("thread {ti} call {i}: start after the thread's last time"));
        };
        let floor = if i == 0 { first_ns } else { calls.start_ns[begin + i - 1] };
        if s < floor {
            return r.err(at, format!("thread {ti} call {i}: starts before the previous call (calls are in start order)"));
        }
        calls.start_ns.push(s);
        open.push((begin + i, s));
        t = s;
    }
    while let Some((k, kids_end)) = open.pop() {
        let (at, gap) = gaps.next(r)?;
        let Some(e) = past(i64::try_from(gap).ok().and_then(|g| t.checked_add(g))) else {
            return r.err(at, format!("thread {ti} call {}: end after the thread's last time", k - begin));
        };
        if e < kids_end {
            return r.err(at, format!("thread {ti} call {}: ends before a call inside it", k - begin));
        }
        calls.end_ns[k] = e;
        if let Some(parent) = open.last_mut() {
            parent.1 = parent.1.max(e);
        }
        t = e;
    }
    Ok(())
}

/// What [`walk_file`] reports: each thread's calls as the events they are made of, in order.
pub trait EventVisitor {
    /// Thread `ti` (an index into the trace's threads) begins; its first time is `first_ns`.
    fn thread(&mut self, ti: usize, first_ns: i64);
    /// A call of `code` starts at `t_ns`.
    fn enter(&mut self, code: u32, t_ns: i64);
    /// The innermost open call ends at `t_ns`.
    fn exit(&mut self, t_ns: i64);
}

/// The events of a body's threads, read with four cursors over the same zlib stream (one each for
/// the code column, the pops column, the first plane of the gaps, and the main one, which reads
/// the tables and the second plane): the columns of a thread follow one another in the body, and
/// a call needs a value from each, so each cursor inflates the body on its own and moves forward
/// only. Memory: four windows; work: the body inflated four times.
struct Walk<'a, 'v> {
    code: Reader<BodyStream<'a>>,
    pops: Reader<BodyStream<'a>>,
    gaps: Reader<BodyStream<'a>>,
    calls: usize,
    visitor: &'v mut dyn EventVisitor,
}

impl<'a> CallSink<BodyStream<'a>> for Walk<'a, '_> {
    fn len(&self) -> usize {
        self.calls
    }

    fn columns(
        &mut self,
        r: &mut Reader<BodyStream<'a>>,
        ti: usize,
        n: usize,
        n_codes: usize,
        first_ns: i64,
        last_ns: i64,
        v2: bool,
    ) -> Result<()> {
        if !v2 {
            return r.err(r.pos(), "a version-1 file is read whole, not walked");
        }
        let p0 = r.pos();
        self.code.skip_to(p0)?;
        self.pops.skip_to(p0)?;
        self.pops.skip_varints(n, "code")?;
        self.gaps.skip_to(self.pops.pos())?;
        self.gaps.skip_varints(n, "pops")?;
        let g = &mut self.gaps;
        let n_backs = g.count("back_count", 2)?;
        if n_backs > n {
            return g.err(g.pos(), format!("thread {ti}: {n_backs} calls starting back of {n}"));
        }
        let mut backs: Vec<(usize, u64)> = Vec::with_capacity(ahead(n_backs));
        let mut next = 0u64;
        for _ in 0..n_backs {
            let at = g.pos();
            let idx = next.checked_add(g.u("back index delta")?).filter(|&v| v < n as u64);
            let Some(idx) = idx else { return g.err(at, format!("thread {ti}: back call index past its {n} calls")) };
            next = idx + 1;
            backs.push((idx as usize, g.u("back_ns")?));
        }
        let plane1 = g.pos();
        r.skip_to(plane1 + 2 * n as u64)?;
        self.visitor.thread(ti, first_ns);
        let mut backs = backs.into_iter().peekable();
        let mut t = first_ns;
        let mut open = 0usize;
        let gap = |g: &mut Reader<BodyStream<'a>>, r: &mut Reader<BodyStream<'a>>, t: i64| -> Result<i64> {
            let at = g.pos();
            let Some(b) = g.byte()? else { return g.err(at, "truncated: the body ends inside gaps") };
            let v = if b < 0x80 {
                u64::from(b)
            } else {
                let rest_at = r.pos();
                let hi = r.u("gaps")?;
                if hi >> 57 != 0 {
                    return r.err(rest_at, "gaps value does not fit in 64 bits");
                }
                u64::from(b & 0x7f) | (hi << 7)
            };
            match i64::try_from(v).ok().and_then(|v| t.checked_add(v)).filter(|&v| v <= last_ns) {
                Some(e) => Ok(e),
                None => g.err(at, format!("thread {ti}: an event after the thread's last time")),
            }
        };
        for i in 0..n {
            let code = self.code.index("code_id", n_codes)? as u32;
            let at = self.pops.pos();
            let pops = self.pops.u("pops")?;
            if pops > open as u64 {
                return self.pops.err(at, format!("thread {ti} call {i}: {pops} calls end before it, {open} are open"));
            }
            for _ in 0..pops {
                t = gap(&mut self.gaps, r, t)?;
                self.visitor.exit(t);
                open -= 1;
            }
            t = gap(&mut self.gaps, r, t)?;
            if let Some(&(k, b)) = backs.peek() {
                if k == i {
                    backs.next();
                    t = i64::try_from(b).ok().and_then(|b| t.checked_sub(b)).unwrap_or(i64::MIN);
                }
            }
            self.visitor.enter(code, t);
            open += 1;
        }
        while open > 0 {
            t = gap(&mut self.gaps, r, t)?;
            self.visitor.exit(t);
            open -= 1;
        }
        self.calls += n;
        Ok(())
    }

    fn flag(&mut self, _index: usize, _f: u8) {}
}

/// Reads the `.fpt` (version 2) at `path` in one pass without holding its calls: `visitor` gets
/// each thread's calls as events (four cursors, `Walk`). Returns the trace without its calls and their
/// number. The checks are those a thread's events need (code ids, pops, times within the
/// thread); [`decode_from`] checks every rule of the format.
/// `progress(bytes read, file size)` every [`PROGRESS_STEP`] bytes and at the end.
pub fn walk_file(
    path: &std::path::Path,
    visitor: &mut dyn EventVisitor,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<(Trace, u64)> {
    let open = |_: ()| -> Result<std::io::BufReader<std::fs::File>> {
        std::fs::File::open(path)
            .map(|f| std::io::BufReader::with_capacity(INPUT_LEN, f))
            .map_err(|e| FptError::Read { offset: 0, what: e.to_string() })
    };
    let (mut i0, mut i1, mut i2, mut i3) = (open(())?, open(())?, open(())?, open(())?);
    let size = i0.get_ref().metadata().map_or(0, |m| m.len() as usize);
    let (mut p1, mut p2, mut p3) = (|_: usize, _: usize| {}, |_: usize, _: usize| {}, |_: usize, _: usize| {});
    let (version, main) = BodyStream::open(&mut i0, MAX_BODY_LEN, size, progress)?;
    let len = main.body_len;
    let mut walk = Walk {
        code: Reader::new(BodyStream::open(&mut i1, MAX_BODY_LEN, 0, &mut p1)?.1, len),
        pops: Reader::new(BodyStream::open(&mut i2, MAX_BODY_LEN, 0, &mut p2)?.1, len),
        gaps: Reader::new(BodyStream::open(&mut i3, MAX_BODY_LEN, 0, &mut p3)?.1, len),
        calls: 0,
        visitor,
    };
    let mut r = Reader::new(main, len);
    let t = match parse_with(&mut r, version, &mut walk) {
        Ok(t) => r.src.finish().map(|()| t)?,
        Err(e) => return Err(r.src.finish().err().unwrap_or(e)),
    };
    (r.src.progress)(size, size);
    Ok((t, walk.calls as u64))
}

/// Reads a column of varints written in two planes ([`put_planes`]): the first plane (one byte per
/// value) is read whole into `first`, then the continuation bytes are read from the body after it
/// as the values need them.
pub(crate) struct Planes {
    what: &'static str,
    first: Vec<u8>,
    /// Offset in the body of the first plane.
    at: u64,
    next: usize,
}

impl Planes {
    pub(crate) fn new<S: Source>(r: &mut Reader<S>, what: &'static str, len: usize) -> Result<Planes> {
        let at = r.pos();
        if len as u64 > r.left() {
            return r.err(at, format!("{what}: {len} values but only {} bytes left", r.left()));
        }
        let mut first = Vec::with_capacity(ahead(len));
        r.take(len, &mut first)?;
        if first.len() < len {
            return r.err(r.pos(), format!("truncated: the body ends inside {what}"));
        }
        Ok(Planes { what, first, at, next: 0 })
    }
    /// The next value and the offset of its first byte.
    #[inline]
    pub(crate) fn next<S: Source>(&mut self, r: &mut Reader<S>) -> Result<(u64, u64)> {
        let at = self.at + self.next as u64;
        let Some(&b) = self.first.get(self.next) else {
            return r.err(at, format!("{}: more values read than written", self.what));
        };
        self.next += 1;
        if b < 0x80 {
            return Ok((at, u64::from(b)));
        }
        let rest_at = r.pos();
        let hi = r.u(self.what)?;
        if hi >> 57 != 0 {
            return r.err(rest_at, format!("{} value does not fit in 64 bits", self.what));
        }
        Ok((at, u64::from(b & 0x7f) | (hi << 7)))
    }
}

/// One entry of the process table (version 2).
fn read_process<S: Source>(r: &mut Reader<S>, pi: usize, strings: &[String]) -> Result<ProcessInfo> {
    let pid = r.u("pid")?;
    let parent_pid = r.u("parent_pid")?;
    let name = r.index(&format!("process {pi}: name string id"), strings.len())?;
    let host = r.index(&format!("process {pi}: host string id"), strings.len())?;
    let start_ns = r.s("process start_ns")?;
    let at = r.pos();
    let span = r.u("process span_ns")?;
    let end_ns = i64::try_from(span)
        .ok()
        .and_then(|s| start_ns.checked_add(s))
        .map_or_else(|| r.err(at, format!("process {pi}: span_ns {span} overflows")), Ok)?;
    let at = r.pos();
    let flags = r.u("process flags")?;
    if flags & !(PROCESS_INCOMPLETE | PROCESS_EXIT_KNOWN | PROCESS_CLOCK_UNALIGNED) != 0 {
        return r.err(at, format!("process {pi}: reserved flag bits set (flags {flags}; bits 0 to 2 are defined)"));
    }
    let exit_status = if flags & PROCESS_EXIT_KNOWN != 0 {
        let at = r.pos();
        let v = r.s("exit_status")?;
        Some(i32::try_from(v).or_else(|_| r.err(at, format!("process {pi}: exit_status {v} does not fit in 32 bits")))?)
    } else {
        None
    };
    let offset_ns = r.s("clock_offset_ns")?;
    let uncertainty_ns = r.u("clock_uncertainty_ns")?;
    Ok(ProcessInfo {
        pid,
        parent_pid,
        name: strings[name].to_string(),
        host: strings[host].to_string(),
        start_ns,
        end_ns,
        exit_status,
        clock: ClockAlignment { offset_ns, uncertainty_ns, aligned: flags & PROCESS_CLOCK_UNALIGNED == 0 },
        incomplete: flags & PROCESS_INCOMPLETE != 0,
    })
}

/// Parses a JSON object of string values, keeping the order.
pub(crate) fn parse_metadata(s: &str) -> std::result::Result<Vec<(String, String)>, String> {
    use serde::de::{Deserializer, MapAccess, Visitor};
    struct Pairs;
    impl<'de> Visitor<'de> for Pairs {
        type Value = Vec<(String, String)>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a JSON object of string values")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> std::result::Result<Self::Value, A::Error> {
            let mut v = Vec::new();
            while let Some((k, val)) = m.next_entry::<String, String>()? {
                v.push((k, val));
            }
            Ok(v)
        }
    }
    let mut de = serde_json::Deserializer::from_str(s);
    let v = de.deserialize_map(Pairs).map_err(|e| e.to_string())?;
    de.end().map_err(|e| e.to_string())?;
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints() {
        for v in [0u64, 1, 127, 128, 300, u64::MAX / 3, u64::MAX] {
            let mut b = Vec::new();
            put_u(&mut b, v);
            let mut r = Reader::new(SliceSource(&b), b.len() as u64);
            assert_eq!(r.u("x").unwrap(), v);
            assert_eq!(r.pos(), b.len() as u64);
        }
        for v in [0i64, -1, 1, i64::MIN, i64::MAX, -300] {
            let mut b = Vec::new();
            put_s(&mut b, v);
            let mut r = Reader::new(SliceSource(&b), b.len() as u64);
            assert_eq!(r.s("x").unwrap(), v);
        }
        // 11 bytes, and a 10th byte with more than the top bit
        let long = [0x80u8; 10].iter().copied().chain([0]).collect::<Vec<_>>();
        assert!(Reader::new(SliceSource(&long), long.len() as u64).u("x").is_err());
        let over = [0xffu8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02];
        assert!(Reader::new(SliceSource(&over), over.len() as u64).u("x").is_err());
    }

    #[test]
    fn empty_trace_round_trips() {
        let t = Trace::default();
        let b = encode(&t);
        assert_eq!(&b[..4], b"FPRF");
        assert_eq!(decode(&b).unwrap(), t);
    }

    #[test]
    fn metadata_order_kept() {
        let pairs = vec![("z".to_string(), "1".to_string()), ("a".to_string(), "\"q\"\n".to_string())];
        assert_eq!(parse_metadata(&metadata_json(&pairs)).unwrap(), pairs);
        assert!(parse_metadata("[1]").is_err());
        assert!(parse_metadata("{\"a\": 1}").is_err());
        assert!(parse_metadata("{} x").is_err());
    }
}
