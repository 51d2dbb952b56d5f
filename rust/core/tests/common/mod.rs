//! Helpers shared by the integration tests.
#![allow(dead_code)]

use fprofile::model::{Band, ClockAlignment, ProcessInfo};
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
    if !t.threads.is_empty() && t.processes.is_empty() {
        return Err("threads but no process".into());
    }
    for (ti, th) in t.threads.iter().enumerate() {
        if th.process as usize >= t.processes.len() {
            return Err(format!("thread {ti}: process {} out of range", th.process));
        }
    }
    for (i, p) in t.processes.iter().enumerate() {
        if p.end_ns < p.start_ns {
            return Err(format!("process {i}: ends before it starts"));
        }
    }
    for (i, b) in t.bands.iter().enumerate() {
        if b.thread as usize >= t.threads.len() || b.end_ns < b.start_ns {
            return Err(format!("band {i}: {b:?}"));
        }
        if i > 0 && (b.thread, b.start_ns) < (t.bands[i - 1].thread, t.bands[i - 1].start_ns) {
            return Err(format!("band {i}: out of order"));
        }
    }
    Ok(())
}

/// A process for tests: everything set, so that a round trip checks every field.
pub fn process(pid: u64, name: &str, start_ns: i64, end_ns: i64) -> ProcessInfo {
    ProcessInfo {
        pid,
        parent_pid: 1,
        name: name.into(),
        host: "node-a".into(),
        start_ns,
        end_ns,
        exit_status: None,
        clock: ClockAlignment::default(),
        incomplete: false,
    }
}

/// Two processes: "parent" (pid 100: threads MainThread and Pool) and "child" (pid 101, started by
/// 100, exit status 0, on another host with a measured clock offset: MainThread and a Worker with
/// two task bands), built from one recording (times in whole microseconds, which PYME text keeps) whose threads are then split between the processes.
pub fn two_process_trace() -> Trace {
    let mut t = fprofile::calltree::build_trace(recording(
        &[
            (
                "MainThread",
                11,
                &[
                    (100000, "+main"),
                    (110000, "+load"),
                    (150000, "-load"),
                    (160000, "+wait"),
                    (290000, "-wait"),
                    (300000, "-main"),
                ],
            ),
            ("Pool", 12, &[(120000, "+feed"), (140000, "-feed")]),
            ("MainThread", 21, &[(170000, "+work"), (180000, "+step"), (200000, "-step"), (210000, "-work")]),
            ("Worker", 22, &[(175000, "+step"), (185000, "-step"), (190000, "+step"), (230000, "-step")]),
        ],
        90_000,
        310_000,
    ));
    let child = |os_id: u64| os_id > 20;
    for th in &mut t.threads {
        th.process = u32::from(child(th.os_id));
    }
    let mut parent = process(100, "python main.py", 0, 220_000);
    parent.parent_pid = 7;
    let mut kid = process(101, "SpawnProcess-1", 70_000, 150_000);
    kid.parent_pid = 100;
    kid.host = "node-b".into();
    kid.exit_status = Some(0);
    kid.clock = ClockAlignment { offset_ns: -2_500_000_000, uncertainty_ns: 1500, aligned: true };
    t.processes = vec![parent, kid];
    let worker = t.threads.iter().position(|th| th.os_id == 22).expect("worker thread") as u32;
    t.bands = vec![
        Band { thread: worker, start_ns: 84_000, end_ns: 96_000, label: "inc-1f2e".into() },
        Band { thread: worker, start_ns: 99_000, end_ns: 141_000, label: "<b>sum</b>-9".into() },
    ];
    t
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

    /// One process: (pid, parent, name, host, start, span, exit status, incomplete, offset, uncertainty, aligned).
    #[allow(clippy::type_complexity)]
    pub fn process_fields() -> impl Strategy<Value = (u64, u64, u8, bool, i64, u64, Option<i32>, bool, i64, u64, bool)> {
        (
            any::<u64>(),
            0u64..5,
            0u8..3,
            any::<bool>(),
            -1000i64..1000,
            0u64..2000,
            prop::option::of(any::<i32>()),
            any::<bool>(),
            any::<i64>(),
            any::<u64>(),
            any::<bool>(),
        )
    }

    /// A built trace whose threads are spread over 1 to 3 processes, with bands.
    pub fn multi_process_trace() -> impl Strategy<Value = Trace> {
        (
            recording(),
            prop::collection::vec(process_fields(), 1..4),
            prop::collection::vec(any::<u8>(), 0..8),
            prop::collection::vec((any::<u8>(), -100i64..400, 0i64..200, 0u8..3), 0..6),
        )
            .prop_map(|(rec, procs, assign, bands)| {
                let mut t = fprofile::calltree::build_trace(rec);
                t.processes = procs
                    .into_iter()
                    .map(|(pid, ppid, name, host, start, span, exit, incomplete, off, unc, aligned)| ProcessInfo {
                        pid,
                        parent_pid: ppid,
                        name: ["", "python -c 'x'", "worker <1> \u{e9}"][name as usize].into(),
                        host: if host { "h\u{f6}st".into() } else { String::new() },
                        start_ns: start,
                        end_ns: start + span as i64,
                        exit_status: exit,
                        clock: ClockAlignment { offset_ns: off, uncertainty_ns: unc, aligned },
                        incomplete,
                    })
                    .collect();
                let np = t.processes.len();
                for (i, th) in t.threads.iter_mut().enumerate() {
                    th.process = u32::from(assign.get(i).copied().unwrap_or(0)) % np as u32;
                }
                if !t.threads.is_empty() {
                    let nt = t.threads.len() as u32;
                    let mut bs: Vec<Band> = bands
                        .into_iter()
                        .map(|(th, start, dur, label)| Band {
                            thread: u32::from(th) % nt,
                            start_ns: start,
                            end_ns: start + dur,
                            label: ["a-1", "", "t\u{e4}sk"][label as usize].into(),
                        })
                        .collect();
                    bs.sort_by_key(|b| (b.thread, b.start_ns));
                    t.bands = bs;
                }
                t
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

/// Two threads: Main a(100..150) with b and c, d unfinished from 160; Worker: z seen ending only, b.
#[allow(dead_code)]
pub fn sample() -> fprofile::Trace {
    fprofile::calltree::build_trace(recording(
        &[
            ("Main", 11, &[(100, "+a"), (110, "+b"), (120, "-b"), (130, "+c"), (140, "-c"), (150, "-a"), (160, "+d")]),
            ("Worker", 12, &[(105, "-z"), (115, "+b"), (125, "-b")]),
        ],
        90,
        200,
    ))
}
