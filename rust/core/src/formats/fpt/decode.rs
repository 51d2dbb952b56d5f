//! The `.fpt` reader: the header checked ([`open_body`]), the body parsed as it is inflated
//! ([`decode_from`]) into a [`Trace`], checking every constraint of the spec (`docs/format.md`).
//! Over 500 lines: the body's grammar (tables, each thread's columns in two versions) read in one place.
//!
//! The body is parsed as it is inflated: a [`Reader`] walks a window of the body that its
//! [`Source`] refills (the zlib stream of a file or buffer, [`BodyStream`], or a body already in
//! memory), so a file is never held whole and neither is its inflated body: loading costs the
//! trace plus the window, the input buffer and, per thread, the first plane of its gaps (one byte
//! per event). Errors are the same as inflating the whole body first and parsing it after: when the
//! parser stops on an error, the rest of the stream is inflated (and dropped), and a fault of the
//! stream (corrupt, truncated, longer or shorter than the header says, bytes after it) wins.

use super::{
    FLAG_ZLIB, HEADER_LEN, MAGIC, MAX_BODY_LEN, PROCESS_CLOCK_UNALIGNED, PROCESS_EXIT_KNOWN, PROCESS_INCOMPLETE, VERSION,
    VERSION_1,
};
use crate::formats::codec::varint::ahead;
use crate::formats::codec::{parse_metadata, BodyStream, FptError, Planes, Reader, Result, SliceSource, Source};
use crate::model::{Band, CallFlags, Calls, ClockAlignment, Code, ProcessInfo, ThreadInfo, Trace};

/// Reads and checks the header of an `.fpt` file: its version and the stream of its body.
pub(super) fn open_body<'a>(
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
    let stream = BodyStream::zlib(input, body_len, HEADER_LEN as u64, input_len, progress);
    Ok((version, if flags & FLAG_ZLIB == 0 { stream.raw() } else { stream }))
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
    let mut input = bytes;
    let mut none = |_: usize, _: usize| {};
    let (_, stream) = open_body(&mut input, max_body_len, bytes.len(), &mut none)?;
    stream.read_all()
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
    let (version, stream) = open_body(input, max_body_len, input_len, progress)?;
    let len = stream.body_len;
    parse_from(Reader::new(stream, len), version)
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
            read_depths(r, calls, stack, begin, n, |r, i, prev| {
                let at = r.pos();
                let d = prev + r.s("depth delta")?;
                if d < 0 || d > prev + 1 || d > crate::calltree::MAX_DEPTH as i64 {
                    return r.err(
                        at,
                        format!(
                            "thread {ti} call {i}: depth {d} after depth {prev} (must be 0..=previous + 1, at most {})",
                            crate::calltree::MAX_DEPTH
                        ),
                    );
                }
                Ok(d)
            })?;
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
    read_depths(r, calls, stack, begin, n, |r, i, prev| {
        let at = r.pos();
        let pops = r.u("pops")?;
        let d = i64::try_from(pops).ok().map_or(-1, |p| prev + 1 - p);
        if d < 0 || d > crate::calltree::MAX_DEPTH as i64 {
            return r.err(
                at,
                format!(
                    "thread {ti} call {i}: {pops} calls end before it, {} are open (depth at most {})",
                    prev + 1,
                    crate::calltree::MAX_DEPTH
                ),
            );
        }
        Ok(d)
    })?;
    let backs = read_backs(r, ti, n)?;
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
            t = end_innermost(r, &mut gaps, &mut open, &mut calls.end_ns, t, ti, begin, last_ns)?;
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
    while !open.is_empty() {
        t = end_innermost(r, &mut gaps, &mut open, &mut calls.end_ns, t, ti, begin, last_ns)?;
    }
    Ok(())
}

/// Ends the innermost of the `open` calls (global index, latest end of its finished children) at
/// `t` plus the next gap, checked against the thread's last time and its children; stores the end
/// in `end_ns`, raises its parent's latest child end and returns it. `begin`: the thread's first
/// global index (for the messages). `open` is not empty.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn end_innermost<S: Source>(
    r: &mut Reader<S>,
    gaps: &mut Planes,
    open: &mut Vec<(usize, i64)>,
    end_ns: &mut [i64],
    t: i64,
    ti: usize,
    begin: usize,
    last_ns: i64,
) -> Result<i64> {
    let (at, gap) = gaps.next(r)?;
    let Some((k, kids_end)) = open.pop() else { return Ok(t) };
    let Some(e) = i64::try_from(gap).ok().and_then(|g| t.checked_add(g)).filter(|&v| v <= last_ns) else {
        return r.err(at, format!("thread {ti} call {}: end after the thread's last time", k - begin));
    };
    if e < kids_end {
        return r.err(at, format!("thread {ti} call {}: ends before a call inside it", k - begin));
    }
    end_ns[k] = e;
    if let Some(parent) = open.last_mut() {
        parent.1 = parent.1.max(e);
    }
    Ok(e)
}

/// A thread's depth column (both versions): call `i`'s depth from `depth(r, i, previous depth)`,
/// which reads and checks it (the previous depth is -1 before the first call); its parent is the
/// innermost open call (`stack`, cleared first; global indices from `begin`). Appended to
/// `calls.depth` and `calls.parent`.
#[inline(always)]
fn read_depths<S: Source>(
    r: &mut Reader<S>,
    calls: &mut Calls,
    stack: &mut Vec<u32>,
    begin: usize,
    n: usize,
    mut depth: impl FnMut(&mut Reader<S>, usize, i64) -> Result<i64>,
) -> Result<()> {
    calls.depth.reserve(n);
    calls.parent.reserve(n);
    stack.clear();
    let mut prev = -1i64;
    for i in 0..n {
        let d = depth(r, i, prev)?;
        prev = d;
        stack.truncate(d as usize);
        let parent = stack.last().copied().unwrap_or(u32::MAX);
        stack.push((begin + i) as u32);
        calls.depth.push(d as u32);
        calls.parent.push(parent);
    }
    Ok(())
}

/// A thread's back list (version 2): (call index, nanoseconds its start lies back), in call order,
/// each index within the thread's `n` calls. Read by [`read_times`] and by the walker.
pub(super) fn read_backs<S: Source>(r: &mut Reader<S>, ti: usize, n: usize) -> Result<Vec<(usize, u64)>> {
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
    Ok(backs)
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
