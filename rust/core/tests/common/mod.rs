//! Helpers shared by the integration tests.
#![allow(dead_code)]

use fprofile::{CallFlags, Code, Event, EventKind, Recording, ThreadRecord, Trace};

pub fn code(name: &str) -> Code {
    Code { file: format!("/src/{name}.py"), name: name.into(), first_line: 1 }
}

/// A recording from a compact script per thread: `(name, os_id, [(t, "+f" | "-f")])`.
/// Codes are interned by name in order of first appearance.
/// One thread of a test script: (name, os_id, [(t_ns, "+f" | "-f")]).
pub type Script<'a> = (&'a str, u64, &'a [(u64, &'a str)]);

pub fn recording(threads: &[Script], start_ns: u64, stop_ns: u64) -> Recording {
    let mut codes: Vec<Code> = Vec::new();
    let mut out = Vec::new();
    for (name, os_id, evs) in threads {
        let mut events = Vec::new();
        for (t, s) in evs.iter() {
            let (kind, fname) = match s.as_bytes()[0] {
                b'+' => (EventKind::Call, &s[1..]),
                _ => (EventKind::Return, &s[1..]),
            };
            let id = match codes.iter().position(|c| c.name == fname) {
                Some(i) => i,
                None => {
                    codes.push(code(fname));
                    codes.len() - 1
                }
            };
            events.push(Event { t_ns: *t, code: id as u32, kind });
        }
        out.push(ThreadRecord { os_id: *os_id, ident: 0, names: vec![(0, name.to_string())], chunks: vec![events] });
    }
    Recording { codes, threads: out, start_ns, stop_ns, metadata: vec![], process: Default::default() }
}

/// Folded stacks, one line per call in pre-order: `thread;a;b;c start end [flags]`.
pub fn folded(t: &Trace) -> Vec<String> {
    let mut out = Vec::new();
    for th in &t.threads {
        let mut stack: Vec<String> = Vec::new();
        for i in th.call_range.0 as usize..th.call_range.1 as usize {
            let d = t.calls.depth[i] as usize;
            stack.truncate(d);
            stack.push(t.codes[t.calls.code[i] as usize].name.clone());
            let f = t.calls.flags[i];
            let mut line = format!("{};{} {} {}", th.name(), stack.join(";"), t.calls.start_ns[i], t.calls.end_ns[i]);
            if f.0 & CallFlags::UNFINISHED != 0 {
                line.push_str(" U");
            }
            if f.0 & CallFlags::STARTED_BEFORE != 0 {
                line.push_str(" B");
            }
            out.push(line);
        }
    }
    out
}

/// Checks every structural invariant of a trace; returns the first violation.
pub fn check_invariants(t: &Trace) -> Result<(), String> {
    let c = &t.calls;
    let n = c.len();
    for v in [c.end_ns.len(), c.code.len(), c.depth.len(), c.parent.len(), c.flags.len()] {
        if v != n {
            return Err("column lengths differ".into());
        }
    }
    let mut expect_begin = 0u32;
    for (ti, th) in t.threads.iter().enumerate() {
        if th.call_range.0 != expect_begin || th.call_range.1 < th.call_range.0 {
            return Err(format!("thread {ti}: call range {:?}", th.call_range));
        }
        expect_begin = th.call_range.1;
        if th.names.is_empty() || th.names[0].0 != th.first_ns {
            return Err(format!("thread {ti}: names {:?}", th.names));
        }
        if th.last_ns < th.first_ns {
            return Err(format!("thread {ti}: last < first"));
        }
        let mut stack: Vec<usize> = Vec::new();
        for i in th.call_range.0 as usize..th.call_range.1 as usize {
            let d = c.depth[i] as usize;
            if d > stack.len() {
                return Err(format!("call {i}: depth {d} jumps"));
            }
            stack.truncate(d);
            let parent = stack.last().map(|&p| p as u32).unwrap_or(u32::MAX);
            if c.parent[i] != parent {
                return Err(format!("call {i}: parent {} expected {parent}", c.parent[i]));
            }
            if let Some(&p) = stack.last() {
                if c.start_ns[i] < c.start_ns[p] || c.end_ns[i] > c.end_ns[p] || c.depth[p] as usize + 1 != d {
                    return Err(format!("call {i} not inside parent {p}"));
                }
            }
            if i > th.call_range.0 as usize && c.start_ns[i] < c.start_ns[i - 1] {
                return Err(format!("call {i}: not in start order"));
            }
            if c.end_ns[i] < c.start_ns[i] || c.start_ns[i] < th.first_ns || c.end_ns[i] > th.last_ns {
                return Err(format!("call {i}: times outside thread span"));
            }
            if c.code[i] as usize >= t.codes.len() {
                return Err(format!("call {i}: code out of range"));
            }
            stack.push(i);
        }
    }
    if expect_begin as usize != n {
        return Err("calls not covered by threads".into());
    }
    Ok(())
}

/// proptest strategies for recordings with arbitrary (possibly unbalanced) event streams.
pub mod strategies {
    use super::*;
    use proptest::prelude::*;

    /// One thread: (os_id, name index, start offset, [(dt, is_call, code)]).
    pub fn thread() -> impl Strategy<Value = (u64, u8, u64, Vec<(u64, bool, u32)>)> {
        (0u64..5, 0u8..3, 0u64..50, prop::collection::vec((0u64..4, prop::bool::weighted(0.55), 0u32..4), 0..40))
    }

    pub fn recording() -> impl Strategy<Value = Recording> {
        (prop::collection::vec(thread(), 0..4), prop::bool::ANY, 0u64..20).prop_map(|(threads, with_start, extra)| {
            let codes: Vec<Code> = (0..4).map(|i| code(&format!("f{i}"))).collect();
            let mut min_t = u64::MAX;
            let mut max_t = 0;
            let threads: Vec<ThreadRecord> = threads
                .into_iter()
                .map(|(os_id, name, off, evs)| {
                    let mut t = 1000 + off;
                    let events: Vec<Event> = evs
                        .into_iter()
                        .map(|(dt, call, code)| {
                            t += dt;
                            min_t = min_t.min(t);
                            max_t = max_t.max(t);
                            Event { t_ns: t, code, kind: if call { EventKind::Call } else { EventKind::Return } }
                        })
                        .collect();
                    let mid = events.len() / 2;
                    let (a, b) = events.split_at(mid);
                    ThreadRecord {
                        os_id,
                        ident: 0,
                        names: vec![(0, format!("T{name}\t\u{e9}"))],
                        chunks: vec![a.to_vec(), b.to_vec()],
                    }
                })
                .collect();
            let (start_ns, stop_ns) = if with_start && min_t != u64::MAX { (min_t - 1, max_t + extra) } else { (0, 0) };
            Recording {
                codes,
                threads,
                start_ns,
                stop_ns,
                metadata: vec![("k".into(), "v\"".into())],
                process: Default::default(),
            }
        })
    }
}

/// A small PYME raw text file: two threads, nested calls.
#[allow(dead_code)]
pub const PYME: &str = "\
12.000100\tMainThread\t/home/u/PYME/io/x.py\tload\tcall\t42
12.000200\tMainThread\t/home/u/PYME/io/x.py\tparse\tcall\t50
12.000300\tWorker\t/home/u/PYME/io/y.py\trun\tcall\t7
12.000400\tMainThread\t/home/u/PYME/io/x.py\tparse\treturn\t50
12.000900\tWorker\t/home/u/PYME/io/y.py\trun\treturn\t7
12.001000\tMainThread\t/home/u/PYME/io/x.py\tload\treturn\t42
";
