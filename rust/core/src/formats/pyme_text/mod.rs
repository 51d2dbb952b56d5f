//! PYME's raw event text format (`docs/pyme-formats.md` section 1):
//! `time\tthread\tfile\tfunction\tcall|return\tfirst_line\n`, time = seconds with 6 decimals.
//!
//! Names come from the profiled program and may hold tabs or newlines, which would break a line:
//! they are written as the two-character escapes `\t`, `\n`, `\r`. The reader turns them back in
//! thread and function names. File paths are read verbatim (Windows paths such as `C:\new\tools.py`
//! hold such sequences; PYME's own files never escape), so a path that really held a tab or newline
//! reads back with the two-character escape.
//!
//! # Reading ([`read`], [`read_with_progress`])
//! - Same format for our files and PYME's. One line per event; blank lines are skipped; a `\r`
//!   before the `\n` is ignored (CRLF files). A last line without `\n` is kept when it parses;
//!   when it does not, the file was cut inside it (a process killed while its live file was being
//!   written): the rest loads, and the trace's metadata says so under [`CUT_WARNING`]. A file
//!   with no events is an error ([`TextError::Empty`]).
//! - Time: decimal seconds (`12.345678`, any number of decimals; more than 9 are truncated) to
//!   integer ns. Event: `call` or `return`. First line: a non-negative integer.
//! - Threads are keyed by name (the only identity the format has): two threads with the same name
//!   are one thread here. Codes are interned by (file, function, first line).
//! - Events are grouped per thread and turned into call trees by [`crate::calltree::build_trace`]
//!   (out-of-order lines are sorted per thread by time, stably; returns with no call become calls
//!   that began before recording; calls never returned are unfinished, closed at the last event of
//!   the file). `origin_ns` is the first event's absolute time.
//! - Every error names the line: `line 17: expected 6 tab-separated fields, found 4`.
//!
//! # Writing ([`write()`])
//! The events of every thread merged in time order, as PYME's profiler writes them; times are
//! absolute (`origin_ns` + t) with 6 decimals. A call that began before recording gets no `call`
//! line and an unfinished call no `return` line, so reading the file back restores both flags.
//! A thread's name on each line is the name it had at that time; with more than one process it is
//! "process name (pid) / thread name" ([`crate::model::Trace::thread_key`]), so that the threads of
//! different processes stay apart when read back. One file holds every process; what it loses:
//! the process table (pids, parents, hosts, exit status, clock offsets, incomplete flags), which
//! thread is in which process (read back, the trace is one process), and task bands.

//!
//! The reader is this file (its byte-level scanning in `scan.rs`; a large input parsed in segments
//! on several cores in `segments.rs`); the writer is `write.rs`.

mod scan;
mod segments;
mod write;

use scan::{parse_seconds, parse_u32, same, show, unescape, FxHasher, FxMap, Separators};

pub use segments::{read_file, read_file_with_threads, read_recording};
pub use write::{escaped, push_event_line, push_seconds, write, write_escaped, write_event_line, write_seconds, CodeLine};

use crate::calltree::build_trace;
use crate::model::{Code, Event, EventKind, Recording, ThreadRecord, Trace};
use std::hash::Hasher;

/// Metadata key of the warning a reader leaves in a trace it loaded from a file cut short.
pub const CUT_WARNING: &str = "warning.cut_short";

/// What is wrong with a PYME text file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    #[error("empty file: no events")]
    Empty,
    #[error("line {line}: {what}")]
    Line { line: u64, what: String },
    #[error("cannot read {0}")]
    Io(String),
}

const NONE: u32 = u32::MAX;
const CODE_CACHE: usize = 512;

/// Parser state across the chunks of a file: interning tables, events per thread, line number.
struct Parser {
    thread_ids: FxMap<Vec<u8>, u32>,
    thread_raw: Vec<Vec<u8>>,
    records: Vec<ThreadRecord>,
    events: Vec<Vec<Event>>,
    /// Per thread, event chunks of earlier segments (merged without copying).
    earlier: Vec<Vec<Vec<Event>>>,
    last_thread: u32,
    /// hash of (file\tfunction, line) -> first code with it; `code_next` chains equal hashes.
    code_heads: FxMap<u64, u32>,
    code_next: Vec<u32>,
    code_raw: Vec<(Box<[u8]>, u32)>,
    code_cache: Vec<u32>,
    codes: Vec<Code>,
    line_no: u64,
    n_events: u64,
    /// The last line has no `\n` and does not parse: (its line number, what is wrong); left out.
    cut_last: Option<(u64, String)>,
}

fn code_hash(file_fn: &[u8], line: u32) -> u64 {
    let mut h = FxHasher::default();
    h.write(file_fn);
    h.write_u32(line);
    h.finish()
}

/// The time, event and first line of a line with its 5 tabs at `tabs` (positions in the buffer
/// the line starts at `start` of), or what is wrong with them.
#[inline]
fn parse_fields(line: &[u8], tabs: &[usize; 5], start: usize) -> Result<(u64, EventKind, u32), String> {
    let at = |i: usize| tabs[i] - start;
    let time = &line[..at(0)];
    let event = &line[at(3) + 1..at(4)];
    let first_line = &line[(at(4) + 1).min(line.len())..];
    let Some(t_ns) = parse_seconds(time) else {
        return Err(format!("time {} is not a number of seconds", show(time)));
    };
    let kind = match *event {
        [b'c', b'a', b'l', b'l'] => EventKind::Call,
        [b'r', b'e', b't', b'u', b'r', b'n'] => EventKind::Return,
        _ => return Err(format!("event {} is neither \"call\" nor \"return\"", show(event))),
    };
    let Some(first) = parse_u32(first_line) else {
        return Err(format!("first line number {} is not a non-negative integer", show(first_line)));
    };
    Ok((t_ns, kind, first))
}

impl Parser {
    fn new() -> Parser {
        Parser {
            thread_ids: FxMap::default(),
            thread_raw: Vec::new(),
            records: Vec::new(),
            events: Vec::new(),
            earlier: Vec::new(),
            last_thread: NONE,
            code_heads: FxMap::default(),
            code_next: Vec::new(),
            code_raw: Vec::new(),
            code_cache: vec![NONE; CODE_CACHE],
            codes: Vec::new(),
            line_no: 0,
            n_events: 0,
            cut_last: None,
        }
    }

    #[inline]
    fn thread(&mut self, raw: &[u8], t_ns: u64) -> usize {
        let last = self.last_thread as usize;
        if self.last_thread != NONE && same(&self.thread_raw[last], raw) {
            return last;
        }
        // Few threads: a linear scan of their names beats hashing.
        if self.thread_raw.len() <= 8 {
            if let Some(i) = self.thread_raw.iter().position(|t| same(t, raw)) {
                self.last_thread = i as u32;
                return i;
            }
        }
        let ti = match self.thread_ids.get(raw) {
            Some(&i) => i as usize,
            None => {
                let i = self.records.len();
                self.thread_ids.insert(raw.to_vec(), i as u32);
                self.thread_raw.push(raw.to_vec());
                self.records.push(ThreadRecord { os_id: 0, ident: 0, names: vec![(t_ns, unescape(raw))], chunks: Vec::new() });
                // (No room reserved: a file may hold 200,000 short threads.)
                self.events.push(Vec::new());
                self.earlier.push(Vec::new());
                i
            }
        };
        self.last_thread = ti as u32;
        ti
    }

    #[inline]
    fn code(&mut self, file_fn: &[u8], file_len: usize, line: u32) -> u32 {
        let last = file_fn.last().copied().unwrap_or(0) as usize;
        let slot = (line as usize).wrapping_mul(31).wrapping_add(file_fn.len() * 7).wrapping_add(last * 131) % CODE_CACHE;
        let c = self.code_cache[slot];
        if c != NONE {
            let (raw, l) = &self.code_raw[c as usize];
            if *l == line && same(raw, file_fn) {
                return c;
            }
        }
        let h = code_hash(file_fn, line);
        let mut id = self.code_heads.get(&h).copied().unwrap_or(NONE);
        let head = id;
        while id != NONE {
            let (raw, l) = &self.code_raw[id as usize];
            if *l == line && **raw == *file_fn {
                break;
            }
            id = self.code_next[id as usize];
        }
        if id == NONE {
            id = self.codes.len() as u32;
            self.codes.push(Code {
                file: String::from_utf8_lossy(&file_fn[..file_len]).into_owned(),
                name: unescape(&file_fn[(file_len + 1).min(file_fn.len())..]),
                first_line: line,
            });
            self.code_raw.push((file_fn.into(), line));
            self.code_next.push(head);
            self.code_heads.insert(h, id);
        }
        self.code_cache[slot] = id;
        id
    }

    /// Parses the complete lines of `buf` (and, when `last`, a final line without `\n`);
    /// returns the number of bytes consumed. `offset` = position of `buf` in the file.
    fn feed(
        &mut self,
        buf: &[u8],
        last: bool,
        offset: usize,
        progress: &mut dyn FnMut(usize, usize),
        total: usize,
    ) -> Result<usize, TextError> {
        const STEP: usize = 4 << 20;
        let mut seps = Separators::new(buf, 0);
        let mut line_start = 0usize;
        let mut next_report = STEP;
        while line_start < buf.len() {
            let mut tabs = [0usize; 5];
            let mut n_tabs = 0usize;
            let line_end = loop {
                match seps.next() {
                    Some(p) if buf[p] == b'\t' => {
                        if n_tabs < 5 {
                            tabs[n_tabs] = p;
                        }
                        n_tabs += 1;
                    }
                    Some(p) => break p,
                    None if last => break buf.len(),
                    None => return Ok(line_start),
                }
            };
            self.line_no += 1;
            let start = line_start;
            line_start = line_end + 1;
            if line_start >= next_report {
                progress((offset + line_start).min(total), total);
                next_report = line_start + STEP;
            }
            let mut end = line_end;
            if end > start && buf[end - 1] == b'\r' {
                end -= 1;
            }
            let line_no = self.line_no;
            let fields = if n_tabs == 5 {
                parse_fields(&buf[start..end], &tabs, start)
            } else if n_tabs == 0 && buf[start..end].iter().all(|b| b.is_ascii_whitespace()) {
                continue;
            } else {
                Err(format!("expected 6 tab-separated fields, found {}", n_tabs + 1))
            };
            let (t_ns, kind, first) = match fields {
                Ok(f) => f,
                // A last line with no `\n` that does not parse: the file ends inside it (cut short).
                Err(what) if last && line_end == buf.len() && self.n_events > 0 => {
                    self.cut_last = Some((line_no, what));
                    return Ok(buf.len());
                }
                Err(what) => return Err(TextError::Line { line: line_no, what }),
            };
            let thread = &buf[tabs[0] + 1..tabs[1]];
            let file_fn = &buf[tabs[1] + 1..tabs[3]];
            let ti = self.thread(thread, t_ns);
            let code = self.code(file_fn, tabs[2] - (tabs[1] + 1), first);
            if let Some(evs) = self.events.get_mut(ti) {
                evs.push(Event { t_ns, code, kind });
            }
            self.n_events += 1;
        }
        Ok(buf.len())
    }

    /// Appends the result of parsing the next segment of the same file: same ids and order as
    /// one pass over both segments would give.
    fn merge(&mut self, other: Parser) {
        let code_map: Vec<u32> = other
            .code_raw
            .iter()
            .map(|(raw, line)| {
                let file_len = memchr::memchr(b'\t', raw).unwrap_or(raw.len());
                self.code(raw, file_len, *line)
            })
            .collect();
        let first_times = other.records.iter().map(|r| r.names.first().map_or(0, |n| n.0));
        let thread_map: Vec<usize> = other.thread_raw.iter().zip(first_times).map(|(raw, t)| self.thread(raw, t)).collect();
        let identity = code_map.iter().enumerate().all(|(i, &c)| c as usize == i);
        for (i, (earlier, cur)) in other.earlier.into_iter().zip(other.events).enumerate() {
            let Some(&t) = thread_map.get(i) else { continue };
            for mut chunk in earlier.into_iter().chain(std::iter::once(cur)) {
                if chunk.is_empty() {
                    continue;
                }
                if !identity {
                    for e in chunk.iter_mut() {
                        e.code = code_map.get(e.code as usize).copied().unwrap_or(e.code);
                    }
                }
                // Keep order: the current chunk of `self` goes before the merged ones.
                if let (Some(dst), Some(done)) = (self.events.get_mut(t), self.earlier.get_mut(t)) {
                    if !dst.is_empty() {
                        done.push(std::mem::take(dst));
                    }
                    *dst = chunk;
                }
            }
        }
        self.n_events += other.n_events;
        if let Some((line, what)) = other.cut_last {
            self.cut_last = Some((line + self.line_no, what));
        }
        self.line_no += other.line_no;
        self.last_thread = NONE;
    }

    fn finish(self) -> Result<Recording, TextError> {
        if self.n_events == 0 {
            return Err(TextError::Empty);
        }
        let mut records = self.records;
        // (The single name's time is the first line's; `build_trace` puts it at the thread's
        // first event.)
        for ((r, mut chunks), cur) in records.iter_mut().zip(self.earlier).zip(self.events) {
            chunks.push(cur);
            r.chunks = chunks;
        }
        let mut metadata = Vec::new();
        if let Some((line, what)) = self.cut_last {
            metadata.push((
                CUT_WARNING.to_string(),
                format!(
                    "the file ends inside line {line} ({what}): it was cut short, perhaps by a process killed while \
                         writing it; that line was left out, every line before it was loaded"
                ),
            ));
        }
        Ok(Recording { codes: self.codes, threads: records, start_ns: 0, stop_ns: 0, metadata, process: Default::default() })
    }
}

/// Reads a PYME raw text file (ours or PYME's) into a trace. See the module docs.
pub fn read(bytes: &[u8]) -> Result<Trace, TextError> {
    read_with_progress(bytes, &mut |_, _| {})
}

/// [`read`], calling `progress(bytes_done, bytes_total)` about every 4 MiB and at the end.
pub fn read_with_progress(bytes: &[u8], progress: &mut dyn FnMut(usize, usize)) -> Result<Trace, TextError> {
    read_recording(bytes, progress).map(build_trace)
}

#[cfg(test)]
mod tests {
    use super::scan::{block_mask, block_mask_swar};
    use super::segments::*;
    use super::*;

    #[test]
    fn segments_give_the_same_result_as_one_pass() {
        let mut text = String::new();
        for i in 0..300u64 {
            let th = ["Main", "W1", "W2"][(i % 3) as usize];
            let f = ["a", "b", "c", "d"][(i % 4) as usize];
            text.push_str(&format!("1.{:06}\t{th}\t/x/{f}.py\t{f}\tcall\t{}\n", i, i % 4));
            text.push_str(&format!("1.{:06}\t{th}\t/x/{f}.py\t{f}\treturn\t{}\n", i, i % 4));
            if i == 150 {
                text.push('\n');
            }
        }
        let one = read_recording_in(text.as_bytes(), 1, &mut |_, _| {}).unwrap();
        for n in 2..6 {
            let many = read_recording_in(text.as_bytes(), n, &mut |_, _| {}).unwrap();
            assert_eq!(build_trace(many), build_trace(one.clone()), "{n} segments");
        }
        // an error in a later segment is numbered from the start of the input
        let bad = format!("{text}oops\n{text}");
        for n in 1..5 {
            let e = read_recording_in(bad.as_bytes(), n, &mut |_, _| {}).unwrap_err();
            assert_eq!(e.to_string(), "line 602: expected 6 tab-separated fields, found 1", "{n} segments");
        }
        // the same from a file, read in ranges
        let dir = std::env::temp_dir().join(format!("fprofile-b1-seg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.txt");
        std::fs::write(&path, &text).unwrap();
        let want = build_trace(one);
        for n in 1..5 {
            assert_eq!(read_file_in(&path, n, &mut |_, _| {}).unwrap(), want, "{n} file segments");
        }
        std::fs::write(&path, &bad).unwrap();
        for n in 1..5 {
            let e = read_file_in(&path, n, &mut |_, _| {}).unwrap_err();
            assert_eq!(e.to_string(), "line 602: expected 6 tab-separated fields, found 1", "{n} file segments");
        }
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn seconds() {
        assert_eq!(parse_seconds(b"12.345678"), Some(12_345_678_000));
        assert_eq!(parse_seconds(b"0.000001"), Some(1_000));
        assert_eq!(parse_seconds(b"9999999999.999999"), Some(9_999_999_999_999_999_000));
        assert_eq!(parse_seconds(b"12.34567"), Some(12_345_670_000));
        assert_eq!(parse_seconds(b"12.3456789"), Some(12_345_678_900));
        assert_eq!(parse_seconds(b"12"), Some(12_000_000_000));
        assert_eq!(parse_seconds(b".5"), Some(500_000_000));
        assert_eq!(parse_seconds(b"12."), Some(12_000_000_000));
        assert_eq!(parse_seconds(b"12.34567x"), None);
        assert_eq!(parse_seconds(b"1a.345678"), None);
        assert_eq!(parse_seconds(b"-1.000000"), None);
        assert_eq!(parse_seconds(b""), None);
        assert_eq!(parse_seconds(b"."), None);
        assert_eq!(parse_seconds(b"99999999999999999999.0"), None);
    }

    #[test]
    fn separators_match_a_plain_scan() {
        let mut x: u64 = 7;
        for len in 0..70 {
            let b: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    [b'\t', b'\n', b'a', 0x89, 0x8a, 0, 0xff, b'9'][(x % 8) as usize]
                })
                .collect();
            let want: Vec<usize> = (0..len).filter(|&i| b[i] == b'\t' || b[i] == b'\n').collect();
            assert_eq!(Separators::new(&b, 0).collect::<Vec<_>>(), want, "{b:?}");
        }
        // both block scanners agree with a plain scan on every byte value
        for round in 0..200u64 {
            let mut block = [0u8; 64];
            for (i, v) in block.iter_mut().enumerate() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *v = if round < 4 { (i as u8).wrapping_add(round as u8 * 64) } else { [b'\t', b'\n', x as u8][(x % 3) as usize] };
            }
            let want = block.iter().enumerate().filter(|(_, &b)| b == b'\t' || b == b'\n').fold(0u64, |m, (i, _)| m | 1 << i);
            assert_eq!(block_mask(&block), want);
            assert_eq!(block_mask_swar(&block), want);
        }
    }

    #[test]
    fn line_matches_pyme() {
        let code = Code { file: "/home/u/PYME/io/x.py".into(), name: "load".into(), first_line: 42 };
        let mut out = Vec::new();
        write_event_line(&mut out, 12_345_678_400, "MainThread", &code, EventKind::Call).unwrap();
        assert_eq!(out, b"12.345678\tMainThread\t/home/u/PYME/io/x.py\tload\tcall\t42\n");
        out.clear();
        write_event_line(&mut out, 999_999_500, "a\tb\nc", &code, EventKind::Return).unwrap();
        assert_eq!(out, b"1.000000\ta\\tb\\nc\t/home/u/PYME/io/x.py\tload\treturn\t42\n");
        // the precomputed parts give the same bytes, also for escapes, UTF-8 and extreme times
        let odd = Code { file: "C:\\dir\\é\tx.py".into(), name: "f\r\n€".into(), first_line: u32::MAX };
        for (t, name) in [(0u64, "T"), (499, "é\t"), (500, ""), (u64::MAX, "x"), (1_000_000_000_000, "ü")] {
            for kind in [EventKind::Call, EventKind::Return] {
                let mut a = Vec::new();
                push_event_line(&mut a, t, &escaped(name), &CodeLine::new(&odd), kind);
                let us = (t / 1000 + u64::from(t % 1000 >= 500)).min(u64::MAX / 1000);
                let ev = if kind == EventKind::Call { "call" } else { "return" };
                let want = format!(
                    "{}.{:06}\t{}\t{}\t{}\t{ev}\t{}\n",
                    us / 1_000_000,
                    us % 1_000_000,
                    name.replace('\t', "\\t"),
                    "C:\\dir\\é\\tx.py",
                    "f\\r\\n€",
                    u32::MAX
                );
                assert_eq!(String::from_utf8(a).unwrap(), want);
            }
        }
    }
}
