//! The spool: what a child process records, streamed to a file while it runs (internal to a
//! recording session; `docs/processes.md` describes it byte by byte).
//!
//! A child process of a recording (a fork, a `multiprocessing` worker, a `subprocess` of Python)
//! writes its events to `<pid>.spool` in the session directory, a round of whole records at a time
//! (the hook's writer thread, every 50 ms). The parent reads every spool at stop ([`read`]) into a
//! [`Recording`] with its process, builds each one's trace and merges them; with a streamed
//! outfile it reads each a record at a time instead ([`Scanner`], for `crate::record::compact`). A process killed in the
//! middle of a write leaves a last record cut short: [`read`] drops it and marks the process
//! incomplete, so everything written before its last round loads.
//!
//! # Layout
//! Little-endian. The file starts with the magic `FPSP` and a `u16` version (2; version 1, read
//! too, had no tag 10 and wrote its events as tag 6). Then records, each `tag: u8`, `len: u32`
//! (bytes of payload), payload. Strings are a `u32` byte count and UTF-8. Records of unknown tags
//! are skipped (a newer writer may add some).
//!
//! | tag | record | payload |
//! |---|---|---|
//! | 1 | process | pid `u64`, parent pid `u64`, start `u64` (CLOCK_MONOTONIC ns), host string, name string |
//! | 2 | metadata | key string, value string |
//! | 3 | code | file string, function string, first line `u32`; codes are numbered 0, 1, ... in file order |
//! | 4 | thread | thread `u32` (numbered 0, 1, ... in file order), OS thread id `u64`, Python ident `u64` |
//! | 5 | thread name | thread `u32`, from `u64` (ns), name string |
//! | 6 | events (version 1) | thread `u32`, then events of 12 bytes: time `u64` (CLOCK_MONOTONIC ns), code `u32` with the top bit set for a return |
//! | 7 | process name | name string (replaces the one of the process record) |
//! | 8 | flush | time `u64`: everything recorded before it is in the file |
//! | 9 | end | time `u64`, how `u8` (0: the process exited; 1: flushed at the parent's stop, still running), has status `u8`, exit status `i32` |
//! | 10 | packed events | thread `u32`, base time `u64` (CLOCK_MONOTONIC ns), then per event two LEB128 varints: the time since the previous event (the first: since the base), and code × 2 + 1 for a return (+ 0 for a call) |
//!
//! Packed events take about 3 bytes an event against 12 (a recursive workload's: gaps under 8 µs
//! and codes under 64 take one or two bytes each), for a few ns of the child's writer thread per
//! event and less to read. A thread's times in a spool never go back (the writer moves a time
//! a few ns before the previous one, across a clock calibration, up to it), so a gap is unsigned.
//!
//! The process record comes first. A thread record comes before that thread's names and events,
//! a code record before any event of that code (within a round, codes and threads first).
//!
//! (Over 500 lines with its unit tests of cut and damaged spools; the code is about 490.)

use crate::formats::codec::{put_u, read_full};
use crate::model::{Code, Event, EventKind, ProcessInfo, Recording, ThreadRecord};

/// The first bytes of a spool.
pub const MAGIC: [u8; 4] = *b"FPSP";
/// The version this module writes (it reads this one and [`VERSION_1`]).
pub const VERSION: u16 = 2;
/// The first version: events of 12 bytes (tag 6) only.
pub const VERSION_1: u16 = 1;

const TAG_PROCESS: u8 = 1;
const TAG_META: u8 = 2;
const TAG_CODE: u8 = 3;
const TAG_THREAD: u8 = 4;
const TAG_THREAD_NAME: u8 = 5;
const TAG_EVENTS: u8 = 6;
const TAG_PROCESS_NAME: u8 = 7;
const TAG_FLUSH: u8 = 8;
const TAG_END: u8 = 9;
const TAG_PACKED: u8 = 10;

/// The top bit of an event's code word: a return.
const RETURN_BIT: u32 = 1 << 31;
/// Bytes of one event in an events record.
const EVENT_BYTES: usize = 12;
/// Events per events record at most (keeps a record's length far below `u32::MAX`).
pub const MAX_EVENTS_PER_RECORD: usize = 1 << 16;

/// How a spool ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndHow {
    /// The process exited (interpreter exit, `os._exit`, SIGTERM).
    Exited,
    /// The parent stopped recording while this process still ran: what it had recorded was
    /// flushed, and it records no more.
    FlushedRunning,
}

/// The end record of a spool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct End {
    pub t_ns: u64,
    pub how: EndHow,
    pub exit_status: Option<i32>,
}

/// Why a spool could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("not a spool file (no \"FPSP\" magic)")]
    NotSpool,
    #[error("spool version {0} is not supported (this reader reads versions {VERSION_1} and {VERSION})")]
    Version(u16),
    #[error("the spool has no process record")]
    NoProcess,
    #[error("spool record {index} (tag {tag}) is malformed: {what}")]
    Malformed { index: usize, tag: u8, what: &'static str },
}

/// Appends records to a buffer (the hook's writer thread writes the buffer out, whole, each round).
#[derive(Debug, Default)]
pub struct Encoder {
    pub buf: Vec<u8>,
}

fn put_str(buf: &mut Vec<u8>, s: &str) {
    buf.extend_from_slice(&(s.len() as u32).to_le_bytes());
    buf.extend_from_slice(s.as_bytes());
}

impl Encoder {
    /// The file's first bytes (magic and version).
    pub fn header(&mut self) {
        self.buf.extend_from_slice(&MAGIC);
        self.buf.extend_from_slice(&VERSION.to_le_bytes());
    }

    /// Writes a record: tag, length, then what `body` appends.
    fn record(&mut self, tag: u8, body: impl FnOnce(&mut Vec<u8>)) {
        self.buf.push(tag);
        let at = self.buf.len();
        self.buf.extend_from_slice(&[0; 4]);
        body(&mut self.buf);
        let len = (self.buf.len() - at - 4) as u32;
        self.buf[at..at + 4].copy_from_slice(&len.to_le_bytes());
    }

    /// The process record (pid, parent pid, host, name; `start_ns`: when its recording started).
    pub fn process(&mut self, p: &ProcessInfo, start_ns: u64) {
        self.record(TAG_PROCESS, |b| {
            b.extend_from_slice(&p.pid.to_le_bytes());
            b.extend_from_slice(&p.parent_pid.to_le_bytes());
            b.extend_from_slice(&start_ns.to_le_bytes());
            put_str(b, &p.host);
            put_str(b, &p.name);
        });
    }

    pub fn metadata(&mut self, key: &str, value: &str) {
        self.record(TAG_META, |b| {
            put_str(b, key);
            put_str(b, value);
        });
    }

    pub fn code(&mut self, c: &Code) {
        self.record(TAG_CODE, |b| {
            put_str(b, &c.file);
            put_str(b, &c.name);
            b.extend_from_slice(&c.first_line.to_le_bytes());
        });
    }

    pub fn thread(&mut self, thread: u32, os_id: u64, ident: u64) {
        self.record(TAG_THREAD, |b| {
            b.extend_from_slice(&thread.to_le_bytes());
            b.extend_from_slice(&os_id.to_le_bytes());
            b.extend_from_slice(&ident.to_le_bytes());
        });
    }

    pub fn thread_name(&mut self, thread: u32, t_ns: u64, name: &str) {
        self.record(TAG_THREAD_NAME, |b| {
            b.extend_from_slice(&thread.to_le_bytes());
            b.extend_from_slice(&t_ns.to_le_bytes());
            put_str(b, name);
        });
    }

    /// Events of one thread as packed events records of at most [`MAX_EVENTS_PER_RECORD`] events.
    /// `convert` maps each event's stored time to CLOCK_MONOTONIC ns; the times it gives must not
    /// go back (a time before the previous one is written as the previous one).
    pub fn events(&mut self, thread: u32, events: &[Event], mut convert: impl FnMut(u64) -> u64) {
        for part in events.chunks(MAX_EVENTS_PER_RECORD) {
            let Some(first) = part.first() else { continue };
            self.buf.push(TAG_PACKED);
            let at = self.buf.len();
            self.buf.extend_from_slice(&[0; 4]);
            self.buf.extend_from_slice(&thread.to_le_bytes());
            let mut prev = convert(first.t_ns);
            self.buf.extend_from_slice(&prev.to_le_bytes());
            // (at most 10 + 5 bytes an event: one reservation, then plain pushes)
            self.buf.reserve(part.len() * 15);
            let mut first = true;
            for e in part {
                let t = if first { prev } else { convert(e.t_ns).max(prev) };
                first = false;
                put_u(&mut self.buf, t - prev);
                prev = t;
                let word = u64::from(e.code & !RETURN_BIT) << 1 | u64::from(e.kind == EventKind::Return);
                put_u(&mut self.buf, word);
            }
            let len = (self.buf.len() - at - 4) as u32;
            self.buf[at..at + 4].copy_from_slice(&len.to_le_bytes());
        }
    }

    /// Events of one thread as version 1 wrote them (12 bytes each; tests of the reader).
    #[cfg(test)]
    pub fn events_v1(&mut self, thread: u32, events: &[Event]) {
        for part in events.chunks(MAX_EVENTS_PER_RECORD) {
            self.record(TAG_EVENTS, |b| {
                b.extend_from_slice(&thread.to_le_bytes());
                for e in part {
                    let word = (e.code & !RETURN_BIT) | if e.kind == EventKind::Return { RETURN_BIT } else { 0 };
                    b.extend_from_slice(&e.t_ns.to_le_bytes());
                    b.extend_from_slice(&word.to_le_bytes());
                }
            });
        }
    }

    pub fn process_name(&mut self, name: &str) {
        self.record(TAG_PROCESS_NAME, |b| put_str(b, name));
    }

    pub fn flush_mark(&mut self, t_ns: u64) {
        self.record(TAG_FLUSH, |b| b.extend_from_slice(&t_ns.to_le_bytes()));
    }

    pub fn end(&mut self, end: End) {
        self.record(TAG_END, |b| {
            b.extend_from_slice(&end.t_ns.to_le_bytes());
            b.push(match end.how {
                EndHow::Exited => 0,
                EndHow::FlushedRunning => 1,
            });
            b.push(u8::from(end.exit_status.is_some()));
            b.extend_from_slice(&end.exit_status.unwrap_or(0).to_le_bytes());
        });
    }
}

/// What [`read`] found.
#[derive(Debug)]
pub struct SpoolRead {
    /// The recording, with its process (`incomplete` unless the process exited cleanly).
    pub recording: Recording,
    /// The end record, if the spool has one.
    pub end: Option<End>,
    /// The last record was cut short (the process was killed while writing it) and was dropped.
    pub cut: bool,
}

/// Reads a payload field by field.
struct Fields<'a> {
    b: &'a [u8],
    index: usize,
    tag: u8,
}

impl<'a> Fields<'a> {
    fn bad(&self, what: &'static str) -> SpoolError {
        SpoolError::Malformed { index: self.index, tag: self.tag, what }
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8], SpoolError> {
        if self.b.len() < n {
            return Err(self.bad("shorter than its fields"));
        }
        let (a, rest) = self.b.split_at(n);
        self.b = rest;
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8, SpoolError> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, SpoolError> {
        let mut a = [0u8; 4];
        a.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(a))
    }
    fn u64(&mut self) -> Result<u64, SpoolError> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(a))
    }
    /// A LEB128 varint of at most `max_bits` bits (64 or less).
    fn varint(&mut self, max_bits: u32) -> Result<u64, SpoolError> {
        let bytes = self.b;
        if let Some(&b) = bytes.first().filter(|&&b| b < 0x80) {
            self.b = &bytes[1..]; // (most: one byte)
            return Ok(u64::from(b));
        }
        let mut v = 0u64;
        for (i, &b) in bytes.iter().enumerate() {
            let shift = 7 * i as u32;
            let room = max_bits.saturating_sub(shift);
            if room == 0 || (room < 7 && u32::from(b & 0x7f) >> room != 0) {
                return Err(self.bad("a varint is too long"));
            }
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                self.b = &bytes[i + 1..];
                return Ok(v);
            }
        }
        Err(self.bad("a varint is cut short"))
    }
    fn string(&mut self) -> Result<String, SpoolError> {
        let n = self.u32()? as usize;
        Ok(String::from_utf8_lossy(self.take(n)?).into_owned())
    }
}

/// What a spool holds so far, record by record ([`read`] and [`Scanner`]).
#[derive(Default)]
struct State {
    process: Option<(ProcessInfo, u64)>,
    metadata: Vec<(String, String)>,
    codes: Vec<Code>,
    threads: Vec<ThreadRecord>,
    end: Option<End>,
    last_flush: u64,
    index: usize,
    /// A [`Scanner`]'s: the events records go here (thread, events) instead of into the threads.
    pending: Option<Vec<(usize, Vec<Event>)>>,
    /// The latest event time seen.
    last_seen: u64,
}

impl State {
    fn record(&mut self, tag: u8, payload: &[u8]) -> Result<(), SpoolError> {
        let mut f = Fields { b: payload, index: self.index, tag };
        self.index += 1;
        match tag {
            TAG_PROCESS => {
                let pid = f.u64()?;
                let parent_pid = f.u64()?;
                let start = f.u64()?;
                let host = f.string()?;
                let name = f.string()?;
                self.process = Some((ProcessInfo { pid, parent_pid, host, name, ..ProcessInfo::default() }, start));
            }
            TAG_META => {
                let k = f.string()?;
                let v = f.string()?;
                self.metadata.push((k, v));
            }
            TAG_CODE => {
                let file = f.string()?;
                let name = f.string()?;
                let first_line = f.u32()?;
                self.codes.push(Code { file, name, first_line });
            }
            TAG_THREAD => {
                let t = f.u32()? as usize;
                if t != self.threads.len() {
                    return Err(f.bad("threads must be numbered in order"));
                }
                let os_id = f.u64()?;
                let ident = f.u64()?;
                self.threads.push(ThreadRecord { os_id, ident, names: Vec::new(), chunks: Vec::new() });
            }
            TAG_THREAD_NAME => {
                let t = f.u32()? as usize;
                let at = f.u64()?;
                let name = f.string()?;
                let th = self.threads.get_mut(t).ok_or_else(|| f.bad("names a thread not declared before"))?;
                th.names.push((at, name));
            }
            TAG_EVENTS => {
                let t = f.u32()? as usize;
                let events = f.b.chunks_exact(EVENT_BYTES);
                if !events.remainder().is_empty() {
                    return Err(f.bad("events are 12 bytes each"));
                }
                let chunk: Vec<Event> = events
                    .map(|e| {
                        let mut t = [0u8; 8];
                        t.copy_from_slice(&e[..8]);
                        let word = u32::from_le_bytes([e[8], e[9], e[10], e[11]]);
                        let kind = if word & RETURN_BIT != 0 { EventKind::Return } else { EventKind::Call };
                        Event { t_ns: u64::from_le_bytes(t), code: word & !RETURN_BIT, kind }
                    })
                    .collect();
                self.add_events(t, chunk, &f)?;
            }
            TAG_PACKED => {
                let t = f.u32()? as usize;
                let mut prev = f.u64()?;
                // (each event takes at least 2 bytes)
                let mut chunk = Vec::with_capacity(f.b.len() / 2);
                while !f.b.is_empty() {
                    prev = prev.wrapping_add(f.varint(64)?);
                    let word = f.varint(32)?;
                    let kind = if word & 1 != 0 { EventKind::Return } else { EventKind::Call };
                    chunk.push(Event { t_ns: prev, code: (word >> 1) as u32, kind });
                }
                self.add_events(t, chunk, &f)?;
            }
            TAG_PROCESS_NAME => {
                let name = f.string()?;
                if let Some((p, _)) = self.process.as_mut() {
                    p.name = name;
                }
            }
            TAG_FLUSH => self.last_flush = f.u64()?,
            TAG_END => {
                let t_ns = f.u64()?;
                let how = match f.u8()? {
                    0 => EndHow::Exited,
                    1 => EndHow::FlushedRunning,
                    _ => return Err(f.bad("unknown end kind")),
                };
                let has = f.u8()? != 0;
                let status = f.u32()? as i32;
                self.end = Some(End { t_ns, how, exit_status: has.then_some(status) });
            }
            _ => {}
        }
        Ok(())
    }

    /// An events record's events, of thread `t`.
    fn add_events(&mut self, t: usize, chunk: Vec<Event>, f: &Fields<'_>) -> Result<(), SpoolError> {
        if t >= self.threads.len() {
            return Err(f.bad("names a thread not declared before"));
        }
        if let Some(last) = chunk.last() {
            self.last_seen = self.last_seen.max(last.t_ns);
        }
        match self.pending.as_mut() {
            Some(p) => p.push((t, chunk)),
            None => self.threads[t].chunks.push(chunk),
        }
        Ok(())
    }

    fn finish(self, cut: bool) -> Result<SpoolRead, SpoolError> {
        let State { process, metadata, codes, mut threads, end, last_flush, pending, last_seen, .. } = self;
        let (mut process, start_ns) = process.ok_or(SpoolError::NoProcess)?;
        for th in threads.iter_mut() {
            if th.names.is_empty() {
                th.names.push((start_ns, format!("thread-{}", th.os_id)));
            }
        }
        let last_event = if pending.is_some() {
            last_seen
        } else {
            threads.iter().flat_map(|t| t.chunks.iter().flat_map(|c| c.last())).map(|e| e.t_ns).max().unwrap_or(0)
        };
        let stop_ns = match end {
            Some(e) => e.t_ns,
            None => last_flush.max(last_event),
        }
        .max(start_ns);
        process.exit_status = end.and_then(|e| e.exit_status);
        process.incomplete = cut || !matches!(end, Some(End { how: EndHow::Exited, .. }));
        let codes = crate::calltree::dedupe_codes(codes, &mut threads);
        let recording = Recording { codes, threads, start_ns, stop_ns, metadata, process };
        Ok(SpoolRead { recording, end, cut })
    }
}

fn check_header(head: &[u8]) -> Result<(), SpoolError> {
    if head.len() < 6 || head[..4] != MAGIC {
        return Err(SpoolError::NotSpool);
    }
    let version = u16::from_le_bytes([head[4], head[5]]);
    if version != VERSION && version != VERSION_1 {
        return Err(SpoolError::Version(version));
    }
    Ok(())
}

/// Reads a spool (see the module docs). The process is `incomplete` when the spool has no end
/// record of a process that exited (killed, or still running at the parent's stop) or a cut
/// record; its `exit_status` is the end record's. `stop_ns` is the end's time, else the last flush
/// mark's, else the last event's. Codes are interned ([`crate::calltree::dedupe_codes`]).
pub fn read(bytes: &[u8]) -> Result<SpoolRead, SpoolError> {
    check_header(bytes)?;
    let mut rest = &bytes[6..];
    let mut st = State::default();
    let mut cut = false;
    while !rest.is_empty() {
        if rest.len() < 5 {
            cut = true;
            break;
        }
        let tag = rest[0];
        let len = u32::from_le_bytes([rest[1], rest[2], rest[3], rest[4]]) as usize;
        if rest.len() - 5 < len {
            cut = true;
            break;
        }
        let payload = &rest[5..5 + len];
        rest = &rest[5 + len..];
        st.record(tag, payload)?;
    }
    st.finish(cut)
}

/// Reads a spool one record at a time from `R` (a file of `len` bytes), never holding it whole:
/// what the stop's compaction reads (`crate::record::compact`). Each record's events are taken with
/// [`Scanner::take_events`]; [`Scanner::finish`] gives what [`read`] gives, with no events in its
/// threads.
pub struct Scanner<R> {
    r: R,
    left: u64,
    st: State,
    cut: bool,
    buf: Vec<u8>,
}

impl<R: std::io::Read> Scanner<R> {
    /// Checks the magic and version of the spool `r` (`len` bytes long). An I/O error is an
    /// `Err` of the outer result.
    pub fn new(mut r: R, len: u64) -> std::io::Result<Result<Scanner<R>, SpoolError>> {
        let mut head = [0u8; 6];
        let n = read_full(&mut r, &mut head)?;
        if let Err(e) = check_header(&head[..n]) {
            return Ok(Err(e));
        }
        Ok(Ok(Scanner {
            r,
            left: len.saturating_sub(6),
            st: State { pending: Some(Vec::new()), ..State::default() },
            cut: false,
            buf: Vec::new(),
        }))
    }

    /// Reads the next record; false at the end (or at a record cut short).
    pub fn next_record(&mut self) -> std::io::Result<Result<bool, SpoolError>> {
        if self.left == 0 || self.cut {
            return Ok(Ok(false));
        }
        let mut h = [0u8; 5];
        if self.left < 5 || read_full(&mut self.r, &mut h)? < 5 {
            self.cut = true;
            return Ok(Ok(false));
        }
        self.left -= 5;
        let len = u32::from_le_bytes([h[1], h[2], h[3], h[4]]) as u64;
        if len > self.left {
            self.cut = true;
            return Ok(Ok(false));
        }
        self.buf.resize(len as usize, 0);
        if read_full(&mut self.r, &mut self.buf)? < len as usize {
            self.cut = true;
            return Ok(Ok(false));
        }
        self.left -= len;
        Ok(self.st.record(h[0], &self.buf).map(|()| true))
    }

    /// The events of the records read since the last call: (thread, events), in file order.
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

    /// What the spool held besides the events (see [`read`]).
    pub fn finish(self) -> Result<SpoolRead, SpoolError> {
        self.st.finish(self.cut)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(end: Option<End>) -> Vec<u8> {
        let mut e = Encoder::default();
        e.header();
        let p = ProcessInfo { pid: 42, parent_pid: 7, name: "python -c x".into(), host: "h".into(), ..ProcessInfo::default() };
        e.process(&p, 1000);
        e.metadata("python", "3.11");
        e.code(&Code { file: "a.py".into(), name: "f".into(), first_line: 3 });
        e.code(&Code { file: "a.py".into(), name: "f".into(), first_line: 3 });
        e.thread(0, 99, 5);
        e.thread_name(0, 1000, "MainThread");
        let ev = [
            Event { t_ns: 1100, code: 0, kind: EventKind::Call },
            Event { t_ns: 1200, code: 1, kind: EventKind::Call },
            Event { t_ns: 1300, code: 1, kind: EventKind::Return },
        ];
        e.events(0, &ev, |t| t);
        e.flush_mark(1400);
        e.process_name("Worker-1");
        if let Some(end) = end {
            e.end(end);
        }
        e.buf
    }

    #[test]
    fn round_trip_complete() {
        let end = End { t_ns: 2000, how: EndHow::Exited, exit_status: Some(3) };
        let r = read(&sample(Some(end))).unwrap();
        assert_eq!(r.end, Some(end));
        assert!(!r.cut);
        let rec = r.recording;
        assert_eq!((rec.process.pid, rec.process.parent_pid), (42, 7));
        assert_eq!(rec.process.name, "Worker-1");
        assert_eq!(rec.process.exit_status, Some(3));
        assert!(!rec.process.incomplete);
        assert_eq!((rec.start_ns, rec.stop_ns), (1000, 2000));
        assert_eq!(rec.codes.len(), 1, "duplicate codes interned");
        let evs: Vec<Event> = rec.threads[0].chunks.concat();
        assert_eq!(
            evs.iter().map(|e| (e.t_ns, e.code, e.kind)).collect::<Vec<_>>(),
            vec![(1100, 0, EventKind::Call), (1200, 0, EventKind::Call), (1300, 0, EventKind::Return)]
        );
        assert_eq!(rec.threads[0].names, vec![(1000, "MainThread".to_string())]);
        assert_eq!(rec.metadata, vec![("python".to_string(), "3.11".to_string())]);
    }

    #[test]
    fn every_cut_loads_the_whole_records_before_it() {
        let full = sample(None);
        let events_end = {
            // the offset just after the events record: the flush mark follows it
            let mut e = Encoder::default();
            e.flush_mark(1400);
            e.process_name("Worker-1");
            full.len() - e.buf.len()
        };
        for n in 6..full.len() {
            match read(&full[..n]) {
                Ok(r) => {
                    assert!(r.recording.process.incomplete);
                    let events: usize = r.recording.threads.iter().map(|t| t.chunks.iter().map(Vec::len).sum::<usize>()).sum();
                    assert_eq!(events, if n >= events_end { 3 } else { 0 }, "cut at {n}");
                }
                Err(SpoolError::NoProcess) => {}
                Err(e) => panic!("cut at {n}: {e}"),
            }
        }
    }

    #[test]
    fn flushed_running_is_incomplete_and_not_a_spool_is_an_error() {
        let r = read(&sample(Some(End { t_ns: 1500, how: EndHow::FlushedRunning, exit_status: None }))).unwrap();
        assert!(r.recording.process.incomplete);
        assert_eq!(r.recording.stop_ns, 1500);
        let no_end = read(&sample(None)).unwrap();
        assert_eq!(no_end.recording.stop_ns, 1400, "the last flush mark");
        assert!(matches!(read(b"FPRF\x01\x00"), Err(SpoolError::NotSpool)));
        assert!(matches!(read(b"FPSP\x09\x00"), Err(SpoolError::Version(9))));
    }

    #[test]
    fn a_process_with_no_call_keeps_its_process() {
        let mut e = Encoder::default();
        e.header();
        e.process(&ProcessInfo { pid: 5, parent_pid: 1, ..ProcessInfo::default() }, 1_000);
        e.end(End { t_ns: 4_000, how: EndHow::Exited, exit_status: Some(0) });
        let t = crate::calltree::build_process_trace(read(&e.buf).unwrap().recording);
        assert!(t.threads.is_empty());
        assert_eq!(t.origin_ns, 1_000);
        assert_eq!((t.processes[0].pid, t.processes[0].start_ns, t.processes[0].end_ns), (5, 0, 3_000));
    }

    #[test]
    fn packed_events_round_trip_and_are_small() {
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let mut t = 1_000_000_000u64;
        let mut evs = Vec::new();
        for i in 0..200_000u32 {
            // gaps of every size, a clock that steps back a little now and then, codes up to the top
            let r = next();
            let gap = match r % 7 {
                0 => r >> 40,
                1 => 0,
                _ => r % 200,
            };
            let t_ns = if r % 97 == 0 { t.saturating_sub(5) } else { t + gap };
            t = t.max(t_ns);
            let code = if i % 1000 == 0 { (RETURN_BIT - 1) - (r as u32 % 3) } else { (r >> 8) as u32 % 40 };
            evs.push(Event { t_ns, code, kind: if r & 1 == 0 { EventKind::Call } else { EventKind::Return } });
        }
        let mut e = Encoder::default();
        e.header();
        e.process(&ProcessInfo { pid: 1, ..ProcessInfo::default() }, 1);
        e.thread(0, 9, 9);
        let head = e.buf.len();
        e.events(0, &evs, |t| t);
        let bytes = e.buf.len() - head;
        let r = read(&e.buf).unwrap();
        let got: Vec<Event> = r.recording.threads[0].chunks.concat();
        assert_eq!(got.len(), evs.len());
        let mut prev = 0;
        for (g, w) in got.iter().zip(&evs) {
            // a time before the previous one is written as the previous one; the rest is exact
            prev = w.t_ns.max(prev);
            assert_eq!((g.t_ns, g.code, g.kind), (prev, w.code, w.kind));
        }
        assert!(bytes < evs.len() * 5, "{bytes} bytes for {} events", evs.len());
    }

    #[test]
    fn version_1_spools_still_read() {
        let mut e = Encoder::default();
        e.buf.extend_from_slice(&MAGIC);
        e.buf.extend_from_slice(&VERSION_1.to_le_bytes());
        e.process(&ProcessInfo { pid: 3, ..ProcessInfo::default() }, 10);
        e.code(&Code { file: "a.py".into(), name: "f".into(), first_line: 1 });
        e.thread(0, 1, 1);
        let ev = [Event { t_ns: 20, code: 0, kind: EventKind::Call }, Event { t_ns: 30, code: 0, kind: EventKind::Return }];
        e.events_v1(0, &ev);
        let r = read(&e.buf).unwrap();
        let got: Vec<(u64, EventKind)> = r.recording.threads[0].chunks.concat().iter().map(|e| (e.t_ns, e.kind)).collect();
        assert_eq!(got, vec![(20, EventKind::Call), (30, EventKind::Return)]);
    }

    #[test]
    fn a_damaged_packed_record_is_an_error_not_a_panic() {
        let mut e = Encoder::default();
        e.header();
        e.process(&ProcessInfo { pid: 3, ..ProcessInfo::default() }, 10);
        e.thread(0, 1, 1);
        let at = e.buf.len();
        e.events(0, &[Event { t_ns: 20, code: 5, kind: EventKind::Call }], |t| t);
        // a varint that never ends, one too long for its field, a thread never declared
        for (i, patch) in [(at + 5 + 12 + 1, 0x80u8), (at + 5 + 12, 0xff), (at + 5, 7)] {
            let mut b = e.buf.clone();
            b[i] = patch;
            if i == at + 5 + 12 {
                b.truncate(at + 5 + 12);
                b.extend_from_slice(&[0, 0xff, 0xff, 0xff, 0xff, 0x7f]);
                let len = (b.len() - at - 5) as u32;
                b[at + 1..at + 5].copy_from_slice(&len.to_le_bytes());
            }
            assert!(matches!(read(&b), Err(SpoolError::Malformed { tag: TAG_PACKED, .. })), "patch at {i}");
        }
    }
}
