//! The streamed container's reader: chunks checked and read back into a recording or a trace,
//! whole ([`read`], [`decode`]), from a time on ([`read_window`]), or one chunk at a time ([`Scanner`]).
//!
//! (Over 500 lines: the chunk checks, the three ways of reading and the one decoding `State` they
//! share; split further, each piece would reach into the others' internals.)

use super::*;
use crate::formats::codec::{self, read_full, FptError, Planes, Reader, SliceSource};
use crate::formats::fpt;
use crate::model::{Code, Event, EventKind, ProcessInfo, Recording, ThreadRecord, Trace};

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
pub(crate) fn read_window_from(bytes: &[u8], from_ns: u64, stacks: Option<Vec<Vec<u32>>>) -> Result<StreamRead> {
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
/// whole: what the stop's compaction reads (`crate::record::compact`). Each chunk's events are taken with
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
                    "the end of the recording is missing (it is still being recorded, or its process was killed, called os._exit, or the file was cut): \
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

/// Decodes a streamed file into its trace ([`read`] then [`build`]).
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
