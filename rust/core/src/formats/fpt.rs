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

fn put_str(out: &mut Vec<u8>, s: &str) {
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
fn put_planes(out: &mut Vec<u8>, values: &[u64]) {
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

    let mut out = Vec::with_capacity(64 + n * 6);
    put_u(&mut out, t.origin_ns);
    put_u(&mut out, strings.list.len() as u64);
    for s in &strings.list {
        put_str(&mut out, s);
    }
    put_u(&mut out, t.codes.len() as u64);
    for (k, (f, nm)) in t.codes.iter().zip(&code_sids) {
        put_u(&mut out, *f);
        put_u(&mut out, *nm);
        put_u(&mut out, u64::from(k.first_line));
    }
    put_u(&mut out, processes.len() as u64);
    for (p, (name, host)) in processes.iter().zip(&process_sids) {
        put_u(&mut out, p.pid);
        put_u(&mut out, p.parent_pid);
        put_u(&mut out, *name);
        put_u(&mut out, *host);
        put_s(&mut out, p.start_ns);
        put_u(&mut out, p.end_ns.saturating_sub(p.start_ns).max(0) as u64);
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
        put_u(&mut out, flags);
        if let Some(status) = p.exit_status {
            put_s(&mut out, i64::from(status));
        }
        put_s(&mut out, p.clock.offset_ns);
        put_u(&mut out, p.clock.uncertainty_ns);
    }
    let last_process = processes.len().saturating_sub(1) as u64;
    put_u(&mut out, t.threads.len() as u64);
    for (th, sids) in t.threads.iter().zip(&thread_sids) {
        put_u(&mut out, u64::from(th.process).min(last_process));
        put_u(&mut out, th.os_id);
        put_u(&mut out, u64::from(th.lane));
        put_s(&mut out, th.first_ns);
        put_u(&mut out, th.last_ns.wrapping_sub(th.first_ns) as u64);
        put_u(&mut out, th.names.len() as u64);
        let mut prev = th.first_ns;
        for ((t_ns, _), sid) in th.names.iter().zip(sids) {
            put_u(&mut out, t_ns.wrapping_sub(prev) as u64);
            prev = *t_ns;
            put_u(&mut out, *sid);
        }
        let lo = (th.call_range.0 as usize).min(n);
        let hi = (th.call_range.1 as usize).clamp(lo, n);
        put_u(&mut out, (hi - lo) as u64);
        for &k in &c.code[lo..hi] {
            put_u(&mut out, u64::from(k));
        }
        // pops: calls that end before call i starts (depth[i-1] + 1 - depth[i], depth[-1] = -1)
        let mut prev_depth = -1i64;
        for &d in &c.depth[lo..hi] {
            put_u(&mut out, (prev_depth + 1 - i64::from(d)) as u64);
            prev_depth = i64::from(d);
        }
        let (backs, gaps) = event_gaps(c, lo, hi, th.first_ns);
        put_u(&mut out, backs.len() as u64);
        let mut prev: Option<usize> = None;
        for (i, back) in backs {
            put_u(&mut out, (i - prev.map_or(0, |p| p + 1)) as u64);
            prev = Some(i);
            put_u(&mut out, back);
        }
        put_planes(&mut out, &gaps);
        let flagged: Vec<usize> = (lo..hi).filter(|&i| c.flags[i].0 != 0).collect();
        put_u(&mut out, flagged.len() as u64);
        let mut prev: Option<usize> = None;
        for i in flagged {
            let rel = i - lo;
            put_u(&mut out, (rel - prev.map_or(0, |p| p + 1)) as u64);
            prev = Some(rel);
            put_u(&mut out, u64::from(c.flags[i].0));
        }
    }
    put_u(&mut out, bands.len() as u64);
    for (b, sid) in bands.iter().zip(&band_sids) {
        put_u(&mut out, u64::from(b.thread));
        put_s(&mut out, b.start_ns);
        put_u(&mut out, b.end_ns.saturating_sub(b.start_ns).max(0) as u64);
        put_u(&mut out, *sid);
    }
    let meta = metadata_json(&t.metadata);
    put_str(&mut out, &meta);
    out
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
    zlib_into(&body, level, &mut out);
    out
}

/// Appends `body` as a zlib stream (level 0-9) to `out` (also the window replies' compression).
pub(crate) fn zlib_into(body: &[u8], level: u32, out: &mut Vec<u8>) {
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

/// Reads the header and inflates the body (bounded by `body_len`, at most [`MAX_BODY_LEN`]).
pub fn decode_body(bytes: &[u8]) -> Result<Vec<u8>> {
    decode_body_limited(bytes, MAX_BODY_LEN)
}

/// [`decode_body`] for input from someone else: a header whose `body_len` is above `max_body_len`
/// is refused ([`FptError::BodyAboveLimit`]) before anything is inflated, and since the zlib stream
/// is inflated with `body_len` as a hard limit, the body buffer never grows past
/// `min(body_len, max_body_len) + 1` bytes, whatever the stream would inflate to.
pub fn decode_body_limited(bytes: &[u8], max_body_len: u64) -> Result<Vec<u8>> {
    read_file(bytes, max_body_len).map(|(_, body)| body)
}

/// The header's version and the inflated body.
fn read_file(bytes: &[u8], max_body_len: u64) -> Result<(u16, Vec<u8>)> {
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
    let input = &bytes[HEADER_LEN..];
    if flags & FLAG_ZLIB == 0 {
        if input.len() as u64 != body_len {
            return Err(FptError::Body {
                offset: input.len().min(body_len as usize) as u64,
                what: format!("raw body is {} bytes, header says {body_len}", input.len()),
            });
        }
        return Ok((version, input.to_vec()));
    }
    Ok((version, inflate_exact(input, body_len, HEADER_LEN)?))
}

/// Inflates the zlib stream `input` into exactly `body_len` bytes (a hard limit: a longer stream is
/// an error, never a larger buffer); offsets in errors are counted from `at` (the stream's offset in
/// the file). Also the window replies' (`crate::window`).
pub(crate) fn inflate_exact(input: &[u8], body_len: u64, at: usize) -> Result<Vec<u8>> {
    let body_len = body_len as usize;
    // Never trust body_len for the allocation: zlib expands at most ~1032x.
    let mut out: Vec<u8> = Vec::with_capacity(body_len.min(input.len().saturating_mul(8)).min(64 << 20) + 1);
    let mut z = Decompress::new(true);
    let zerr = |z: &Decompress, what: String| FptError::Zlib { offset: at as u64 + z.total_in(), what };
    let too_long = |z: &Decompress| zerr(z, format!("inflates to more than the {body_len} bytes the header says"));
    loop {
        if out.len() == out.capacity() {
            // Grow by doubling, never past body_len + 1 (one byte more detects an over-long stream).
            let target = (out.capacity().max(4096) * 2).min(body_len + 1);
            if target <= out.len() {
                return Err(too_long(&z));
            }
            out.reserve_exact(target - out.len());
        }
        let (in_before, out_before) = (z.total_in(), z.total_out());
        let pos = (in_before as usize).min(input.len());
        let status =
            z.decompress_vec(&input[pos..], &mut out, FlushDecompress::None).map_err(|e| zerr(&z, format!("corrupt ({e})")))?;
        if out.len() > body_len {
            return Err(too_long(&z));
        }
        if status == Status::StreamEnd {
            break;
        }
        if z.total_in() == in_before && z.total_out() == out_before {
            // There was room for output, so the input ran out.
            return Err(zerr(&z, "truncated: the file ends inside the compressed body".into()));
        }
    }
    let used = z.total_in() as usize;
    if used < input.len() {
        return Err(FptError::Zlib {
            offset: (at + used) as u64,
            what: format!("{} unexpected bytes after the end of the compressed body", input.len() - used),
        });
    }
    if out.len() != body_len {
        return Err(FptError::Body {
            offset: out.len() as u64,
            what: format!("body inflates to {} bytes, header says {body_len}", out.len()),
        });
    }
    Ok(out)
}

pub(crate) struct Reader<'a> {
    b: &'a [u8],
    pub(crate) pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(b: &'a [u8]) -> Self {
        Reader { b, pos: 0 }
    }
    fn err<T>(&self, at: usize, what: impl Into<String>) -> Result<T> {
        Err(FptError::Body { offset: at as u64, what: what.into() })
    }
    pub(crate) fn left(&self) -> usize {
        self.b.len() - self.pos
    }
    #[inline]
    pub(crate) fn u(&mut self, what: &str) -> Result<u64> {
        let start = self.pos;
        let mut v: u64 = 0;
        let mut shift = 0u32;
        loop {
            let Some(&byte) = self.b.get(self.pos) else {
                return self.err(start, format!("truncated: the body ends inside {what}"));
            };
            self.pos += 1;
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
    #[inline]
    pub(crate) fn s(&mut self, what: &str) -> Result<i64> {
        let u = self.u(what)?;
        Ok(((u >> 1) as i64) ^ -((u & 1) as i64))
    }
    /// A count of elements each taking at least `min_bytes` bytes: checked against what is left.
    pub(crate) fn count(&mut self, what: &str, min_bytes: usize) -> Result<usize> {
        let at = self.pos;
        let n = self.u(what)?;
        if n > (self.left() / min_bytes.max(1)) as u64 {
            return self.err(at, format!("{what} {n} is larger than the {} bytes left", self.left()));
        }
        Ok(n as usize)
    }
    fn str(&mut self, what: &str) -> Result<&'a str> {
        let at = self.pos;
        let len = self.count(what, 1)?;
        let bytes = &self.b[self.pos..self.pos + len];
        let s = std::str::from_utf8(bytes).or_else(|_| self.err(at, format!("{what} is not valid UTF-8")))?;
        self.pos += len;
        Ok(s)
    }
    pub(crate) fn index(&mut self, what: &str, len: usize) -> Result<usize> {
        let at = self.pos;
        let v = self.u(what)?;
        if v >= len as u64 {
            return self.err(at, format!("{what} {v} out of range (table has {len})"));
        }
        Ok(v as usize)
    }
}

/// Decodes an `.fpt` file.
pub fn decode(bytes: &[u8]) -> Result<Trace> {
    decode_limited(bytes, MAX_BODY_LEN)
}

/// [`decode`] with a limit on the decompressed body (see [`decode_body_limited`]): what a server
/// reading uploads uses, so that a small file claiming a huge body costs no memory.
pub fn decode_limited(bytes: &[u8], max_body_len: u64) -> Result<Trace> {
    let (version, body) = read_file(bytes, max_body_len)?;
    parse_body_version(&body, version)
}

/// Parses a decompressed body of the current version.
pub fn parse_body(body: &[u8]) -> Result<Trace> {
    parse_body_version(body, VERSION)
}

/// Parses a decompressed body of a given version (1 or 2).
pub fn parse_body_version(body: &[u8], version: u16) -> Result<Trace> {
    if version != VERSION && version != VERSION_1 {
        return Err(FptError::FutureVersion(version));
    }
    let v2 = version >= VERSION;
    let mut r = Reader { b: body, pos: 0 };
    let origin_ns = r.u("origin_ns")?;
    let n_strings = r.count("string_count", 1)?;
    let mut strings: Vec<&str> = Vec::with_capacity(n_strings);
    for _ in 0..n_strings {
        strings.push(r.str("string")?);
    }
    let n_codes = r.count("code_count", 3)?;
    let mut codes = Vec::with_capacity(n_codes);
    for _ in 0..n_codes {
        let f = r.index("file string id", strings.len())?;
        let nm = r.index("name string id", strings.len())?;
        let at = r.pos;
        let line = r.u("first_line")?;
        let first_line = u32::try_from(line).or_else(|_| r.err(at, format!("first_line {line} above 2^32")))?;
        codes.push(Code { file: strings[f].to_string(), name: strings[nm].to_string(), first_line });
    }
    let mut processes = Vec::new();
    if v2 {
        let n_processes = r.count("process_count", 9)?;
        processes.reserve(n_processes);
        for pi in 0..n_processes {
            processes.push(read_process(&mut r, pi, &strings)?);
        }
    }
    let at = r.pos;
    let n_threads = r.count("thread_count", if v2 { 8 } else { 7 })?;
    if v2 && n_threads > 0 && processes.is_empty() {
        return r.err(at, format!("{n_threads} threads but no process (process_count is 0)"));
    }
    let mut threads: Vec<ThreadInfo> = Vec::with_capacity(n_threads);
    let mut calls = Calls::default();
    let mut stack: Vec<u32> = Vec::new();
    for ti in 0..n_threads {
        let process = if v2 { r.index(&format!("thread {ti}: process index"), processes.len())? as u32 } else { 0 };
        let os_id = r.u("os_id")?;
        let at = r.pos;
        let lane = r.u("lane")?;
        let lane = u32::try_from(lane).or_else(|_| r.err(at, format!("thread {ti}: lane {lane} above 2^32")))?;
        let first_ns = r.s("first_ns")?;
        let at = r.pos;
        let span = r.u("span_ns")?;
        let last_ns = i64::try_from(span)
            .ok()
            .and_then(|s| first_ns.checked_add(s))
            .map_or_else(|| r.err(at, format!("thread {ti}: span_ns {span} overflows")), Ok)?;
        let at = r.pos;
        let n_names = r.count("name_count", 2)?;
        if n_names == 0 {
            return r.err(at, format!("thread {ti}: name_count is 0 (at least one name)"));
        }
        let mut names = Vec::with_capacity(n_names);
        let mut t = first_ns;
        for k in 0..n_names {
            let at = r.pos;
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
        let at = r.pos;
        let n = r.count("call_count", 4)?;
        let begin = calls.len();
        if begin + n >= u32::MAX as usize {
            return r.err(at, "more than 2^32 - 2 calls");
        }
        calls.code.reserve(n);
        for _ in 0..n {
            let k = r.index("code_id", n_codes)?;
            calls.code.push(k as u32);
        }
        if v2 {
            read_times(&mut r, &mut calls, &mut stack, ti, n, first_ns, last_ns)?;
        } else {
            calls.depth.reserve(n);
            calls.parent.reserve(n);
            stack.clear();
            let mut prev = -1i64;
            for i in 0..n {
                let at = r.pos;
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
                let at = r.pos;
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
                let at = r.pos;
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
        let n_flagged = r.count("flagged_count", 2)?;
        if n_flagged > n {
            return r.err(r.pos, format!("thread {ti}: {n_flagged} flagged calls of {n}"));
        }
        let mut next = 0u64;
        for _ in 0..n_flagged {
            let at = r.pos;
            let idx = next.checked_add(r.u("flag index delta")?).filter(|&v| v < n as u64);
            let Some(idx) = idx else { return r.err(at, format!("thread {ti}: flagged call index past its {n} calls")) };
            next = idx + 1;
            let at = r.pos;
            let f = r.u("flags")?;
            if f == 0 || f > 3 {
                return r.err(at, format!("thread {ti}: flags {f} (must be 1..=3: bit 0 unfinished, bit 1 started before)"));
            }
            calls.flags[begin + idx as usize] = CallFlags(f as u8);
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
        bands.reserve(n_bands);
        for bi in 0..n_bands {
            let at = r.pos;
            let thread = r.index(&format!("band {bi}: thread index"), threads.len())? as u32;
            let start_ns = r.s("band start_ns")?;
            if let Some(prev) = bands.last().map(|b: &Band| (b.thread, b.start_ns)) {
                if (thread, start_ns) < prev {
                    return r.err(at, format!("band {bi} is out of order (bands are ordered by thread, then start)"));
                }
            }
            let at = r.pos;
            let dur = r.u("band dur_ns")?;
            let end_ns = i64::try_from(dur)
                .ok()
                .and_then(|d| start_ns.checked_add(d))
                .map_or_else(|| r.err(at, format!("band {bi}: dur_ns {dur} overflows")), Ok)?;
            let sid = r.index("band label string id", strings.len())?;
            bands.push(Band { thread, start_ns, end_ns, label: strings[sid].to_string() });
        }
    }
    let at = r.pos;
    let meta = r.str("metadata")?;
    let metadata = parse_metadata(meta).or_else(|e| r.err(at, format!("metadata: {e}")))?;
    if r.pos != body.len() {
        return r.err(r.pos, format!("{} unexpected bytes after the metadata", body.len() - r.pos));
    }
    calls.shrink_to_fit();
    if !v2 {
        processes = Trace::one_process(&threads);
    }
    Ok(Trace { origin_ns, codes, threads, calls, metadata, processes, bands })
}

/// A thread's pops, back list and event gaps (version 2): depth, parent, start and end of its `n`
/// calls, appended to `calls` (whose code column already holds them).
#[allow(clippy::too_many_arguments)]
fn read_times(
    r: &mut Reader,
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
        let at = r.pos;
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
        return r.err(r.pos, format!("thread {ti}: {n_backs} calls starting back of {n}"));
    }
    let mut backs: Vec<(usize, u64)> = Vec::with_capacity(n_backs);
    let mut next = 0u64;
    for _ in 0..n_backs {
        let at = r.pos;
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
    gaps.finish(r);
    Ok(())
}

/// Reads a column of varints written in two planes ([`put_planes`]): `first` walks the first
/// plane (one byte per value), `rest` the continuation bytes after it; both only move forward.
struct Planes {
    what: &'static str,
    first: usize,
    end_first: usize,
    rest: usize,
}

impl Planes {
    fn new(r: &mut Reader, what: &'static str, len: usize) -> Result<Planes> {
        if len > r.left() {
            return r.err(r.pos, format!("{what}: {len} values but only {} bytes left", r.left()));
        }
        Ok(Planes { what, first: r.pos, end_first: r.pos + len, rest: r.pos + len })
    }
    /// The next value and the offset of its first byte.
    #[inline]
    fn next(&mut self, r: &Reader) -> Result<(usize, u64)> {
        let at = self.first;
        if at >= self.end_first {
            return r.err(at, format!("{}: more values read than written", self.what));
        }
        let b = r.b[at];
        self.first += 1;
        if b < 0x80 {
            return Ok((at, u64::from(b)));
        }
        let rest_at = self.rest;
        let mut sub = Reader { b: r.b, pos: rest_at };
        let hi = sub.u(self.what)?;
        self.rest = sub.pos;
        if hi >> 57 != 0 {
            return r.err(rest_at, format!("{} value does not fit in 64 bits", self.what));
        }
        Ok((at, u64::from(b & 0x7f) | (hi << 7)))
    }
    fn finish(self, r: &mut Reader) {
        r.pos = self.rest;
    }
}

/// One entry of the process table (version 2).
fn read_process(r: &mut Reader, pi: usize, strings: &[&str]) -> Result<ProcessInfo> {
    let pid = r.u("pid")?;
    let parent_pid = r.u("parent_pid")?;
    let name = r.index(&format!("process {pi}: name string id"), strings.len())?;
    let host = r.index(&format!("process {pi}: host string id"), strings.len())?;
    let start_ns = r.s("process start_ns")?;
    let at = r.pos;
    let span = r.u("process span_ns")?;
    let end_ns = i64::try_from(span)
        .ok()
        .and_then(|s| start_ns.checked_add(s))
        .map_or_else(|| r.err(at, format!("process {pi}: span_ns {span} overflows")), Ok)?;
    let at = r.pos;
    let flags = r.u("process flags")?;
    if flags & !(PROCESS_INCOMPLETE | PROCESS_EXIT_KNOWN | PROCESS_CLOCK_UNALIGNED) != 0 {
        return r.err(at, format!("process {pi}: reserved flag bits set (flags {flags}; bits 0 to 2 are defined)"));
    }
    let exit_status = if flags & PROCESS_EXIT_KNOWN != 0 {
        let at = r.pos;
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
            let mut r = Reader { b: &b, pos: 0 };
            assert_eq!(r.u("x").unwrap(), v);
            assert_eq!(r.pos, b.len());
        }
        for v in [0i64, -1, 1, i64::MIN, i64::MAX, -300] {
            let mut b = Vec::new();
            put_s(&mut b, v);
            let mut r = Reader { b: &b, pos: 0 };
            assert_eq!(r.s("x").unwrap(), v);
        }
        // 11 bytes, and a 10th byte with more than the top bit
        let long = [0x80u8; 10].iter().copied().chain([0]).collect::<Vec<_>>();
        assert!(Reader { b: &long, pos: 0 }.u("x").is_err());
        let over = [0xffu8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02];
        assert!(Reader { b: &over, pos: 0 }.u("x").is_err());
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
