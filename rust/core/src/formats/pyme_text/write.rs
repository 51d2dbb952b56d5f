//! Writing PYME raw text: one event line ([`push_event_line`], from parts precomputed per code and
//! thread, for the live file's millions of lines a second) and a whole trace ([`write()`]).

use std::io::{self, Write};

use crate::model::{Code, EventKind, Trace};

/// `s` with tab, newline and carriage return escaped (as the two characters `\t`, `\n`, `\r`).
pub fn escaped(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    push_escaped(&mut out, s);
    out
}

fn push_escaped(out: &mut Vec<u8>, s: &str) {
    if !s.bytes().any(|b| b == b'\t' || b == b'\n' || b == b'\r') {
        out.extend_from_slice(s.as_bytes());
        return;
    }
    for b in s.bytes() {
        match b {
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b => out.push(b),
        }
    }
}

/// Writes `s` with tab, newline and carriage return escaped.
pub fn write_escaped<W: Write>(w: &mut W, s: &str) -> io::Result<()> {
    w.write_all(&escaped(s))
}

/// Appends the decimal digits of `v`.
fn push_u64(out: &mut Vec<u8>, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

/// Appends absolute nanoseconds as seconds with 6 decimals, rounded as `%f` rounds.
pub fn push_seconds(out: &mut Vec<u8>, t_ns: u64) {
    // (at most u64::MAX ns once read back: the reader turns the microseconds back into ns)
    let us = (t_ns / 1000 + u64::from(t_ns % 1000 >= 500)).min(u64::MAX / 1000);
    push_u64(out, us / 1_000_000);
    let mut frac = us % 1_000_000;
    let mut digits = [b'0'; 7];
    digits[0] = b'.';
    for d in digits[1..].iter_mut().rev() {
        *d = b'0' + (frac % 10) as u8;
        frac /= 10;
    }
    out.extend_from_slice(&digits);
}

/// Writes absolute nanoseconds as seconds with 6 decimals, rounded as `%f` rounds.
pub fn write_seconds<W: Write>(w: &mut W, t_ns: u64) -> io::Result<()> {
    let mut out = Vec::with_capacity(24);
    push_seconds(&mut out, t_ns);
    w.write_all(&out)
}

/// The parts of an event line that depend on its code only, escaped once: a writer of many lines
/// (the live file writes millions a second) copies them instead of formatting each line.
#[derive(Debug, Clone)]
pub struct CodeLine {
    /// `\t<file>\t<function>`
    head: Vec<u8>,
    /// `\tcall\t<first line>\n`
    call: Vec<u8>,
    /// `\treturn\t<first line>\n`
    ret: Vec<u8>,
}

impl CodeLine {
    pub fn new(code: &Code) -> CodeLine {
        let mut head = Vec::with_capacity(code.file.len() + code.name.len() + 2);
        head.push(b'\t');
        push_escaped(&mut head, &code.file);
        head.push(b'\t');
        push_escaped(&mut head, &code.name);
        let mut line = Vec::with_capacity(12);
        push_u64(&mut line, u64::from(code.first_line));
        line.push(b'\n');
        let call = [b"\tcall\t".as_slice(), &line].concat();
        let ret = [b"\treturn\t".as_slice(), &line].concat();
        CodeLine { head, call, ret }
    }
}

/// Appends one event line exactly as PYME's profiler writes it; `thread` is the thread's name
/// already escaped ([`escaped`]).
#[inline]
pub fn push_event_line(out: &mut Vec<u8>, t_ns: u64, thread: &[u8], code: &CodeLine, kind: EventKind) {
    push_seconds(out, t_ns);
    out.push(b'\t');
    out.extend_from_slice(thread);
    out.extend_from_slice(&code.head);
    out.extend_from_slice(match kind {
        EventKind::Call => &code.call,
        EventKind::Return => &code.ret,
    });
}

/// Writes one event line exactly as PYME's profiler does.
pub fn write_event_line<W: Write>(w: &mut W, t_ns: u64, thread: &str, code: &Code, kind: EventKind) -> io::Result<()> {
    let mut out = Vec::with_capacity(128);
    push_event_line(&mut out, t_ns, &escaped(thread), &CodeLine::new(code), kind);
    w.write_all(&out)
}

/// Writes a whole trace as PYME raw text (see the module docs).
pub fn write<W: Write>(t: &Trace, mut w: W) -> io::Result<()> {
    let c = &t.calls;
    let n = c.len().min(c.end_ns.len()).min(c.code.len()).min(c.depth.len()).min(c.flags.len());
    // Per thread: its events in order, as (t_ns relative, call index, is_return).
    let mut per_thread: Vec<Vec<(i64, u32, bool)>> = Vec::with_capacity(t.threads.len());
    for th in &t.threads {
        let lo = (th.call_range.0 as usize).min(n);
        let hi = (th.call_range.1 as usize).clamp(lo, n);
        let mut evs = Vec::with_capacity(2 * (hi - lo));
        let mut stack: Vec<u32> = Vec::new();
        let close = |i: u32, evs: &mut Vec<(i64, u32, bool)>| {
            if !c.flags[i as usize].unfinished() {
                evs.push((c.end_ns[i as usize], i, true));
            }
        };
        for i in lo..hi {
            while stack.len() > c.depth[i] as usize {
                if let Some(j) = stack.pop() {
                    close(j, &mut evs);
                }
            }
            if !c.flags[i].started_before() {
                evs.push((c.start_ns[i], i as u32, false));
            }
            stack.push(i as u32);
        }
        while let Some(j) = stack.pop() {
            close(j, &mut evs);
        }
        per_thread.push(evs);
    }
    // Merge threads by time (ties: thread order).
    let mut heap = std::collections::BinaryHeap::new();
    let mut cursor = vec![0usize; per_thread.len()];
    for (ti, evs) in per_thread.iter().enumerate() {
        if let Some(e) = evs.first() {
            heap.push(std::cmp::Reverse((e.0, ti)));
        }
    }
    let mut name_cursor = vec![0usize; t.threads.len()];
    let lines: Vec<CodeLine> = t.codes.iter().map(CodeLine::new).collect();
    let unknown = CodeLine::new(&Code { file: String::new(), name: String::new(), first_line: 0 });
    let names: Vec<Vec<Vec<u8>>> = t
        .threads
        .iter()
        .enumerate()
        .map(|(ti, th)| th.names.iter().map(|(_, n)| escaped(&t.thread_key(ti, n))).collect())
        .collect();
    let mut buf: Vec<u8> = Vec::with_capacity(1 << 16);
    while let Some(std::cmp::Reverse((_, ti))) = heap.pop() {
        let evs = &per_thread[ti];
        let (t_rel, i, is_ret) = evs[cursor[ti]];
        cursor[ti] += 1;
        if let Some(e) = evs.get(cursor[ti]) {
            heap.push(std::cmp::Reverse((e.0, ti)));
        }
        let th = &t.threads[ti];
        let nc = &mut name_cursor[ti];
        while *nc + 1 < th.names.len() && th.names[*nc + 1].0 <= t_rel {
            *nc += 1;
        }
        let name = names[ti].get(*nc).map_or(&[][..], |n| n.as_slice());
        let abs = (i128::from(t.origin_ns) + i128::from(t_rel)).clamp(0, i128::from(u64::MAX)) as u64;
        let code = lines.get(c.code[i as usize] as usize).unwrap_or(&unknown);
        push_event_line(&mut buf, abs, name, code, if is_ret { EventKind::Return } else { EventKind::Call });
        if buf.len() >= 1 << 16 {
            w.write_all(&buf)?;
            buf.clear();
        }
    }
    w.write_all(&buf)?;
    w.flush()
}
