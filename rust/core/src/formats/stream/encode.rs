//! The streamed container's encoder: framed, compressed chunks appended to a buffer the caller
//! writes (no I/O here).

use super::*;
use crate::formats::codec::{self, put_planes, put_str, put_u};
use crate::formats::fpt;
use crate::model::{Code, Event, EventKind, ProcessInfo};

/// A thread's open calls as its events go by, by the builder's matching rule: a return closes the
/// innermost open call of its code (and those above it); one that matches none is ignored (a call
/// begun before the recording).
pub(crate) fn apply(stack: &mut Vec<u32>, code: u32, is_return: bool) {
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
