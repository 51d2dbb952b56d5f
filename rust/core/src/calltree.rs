//! Tree building: flat events -> per-thread call trees.
//!
//! [`build_trace`] turns a [`Recording`] (flat `call`/`return` events per thread) into a [`Trace`]:
//! per-thread call trees stored as columns in pre-order, times rebased to `origin_ns`, PYME lanes.
//!
//! # Rules (each has a test)
//! - **Origin**: `origin_ns = rec.start_ns` when non-zero, else the earliest event of the recording.
//!   Every time in the trace is `absolute - origin_ns`.
//! - **Order**: a thread's events are taken in the order the thread produced them. When they are not
//!   sorted by time (lines of a text file written out of order), they are first sorted by time with a
//!   stable sort, so events with equal times keep their order.
//! - **Return matching**: a `return` closes the innermost open call with the same code. Calls opened
//!   above it (their own returns were never seen) are closed at the same time. Equal times are fine:
//!   a child may start and end at its parent's start or end.
//! - **Started before** ([`CallFlags::STARTED_BEFORE`]): a `return` that matches no open call belongs
//!   to a call that began before recording (the thread was already inside it). It becomes a call that
//!   opens at the thread's first event time and encloses everything the thread recorded before that
//!   return (those calls become its children, depth + 1). Several such returns give nested calls:
//!   the first one seen is the innermost. Calls still open when such a return arrives are closed at
//!   its time, as for any return.
//! - **Unfinished** ([`CallFlags::UNFINISHED`]): a call still open after the thread's last event was
//!   running when recording stopped. It is closed at the stop time: `rec.stop_ns`, or, when that is 0
//!   or earlier than some event, the latest event time of the whole recording.
//! - **Threads**: each [`ThreadRecord`] is its own thread, even when two share a name (a thread that
//!   ended and a new one named the same). Threads with no events are dropped. Threads are ordered by
//!   their first event time (ties: recording order). `first_ns` is the first event time, `last_ns` the
//!   last event time, or the close time of its unfinished calls when later.
//! - **Lanes** (PYME's rule): thread 0 gets lane 0; each later thread gets 1 + the highest lane among
//!   earlier threads whose `[first_ns, last_ns]` interval overlaps its own (closed intervals), or 0.
//! - **Names**: the name in force at the thread's first event is its first name, at `first_ns`; later
//!   renames keep their (rebased) time; consecutive repeats are merged. A thread with no name is named
//!   `thread-<os_id>`.
//! - **Limits**: calls nested deeper than [`MAX_DEPTH`] and events whose code id is not in the code
//!   table are dropped (never seen from the hook); their count is put in the metadata as
//!   `build.dropped_calls` / `build.dropped_events`.
//!
//! Memory: the call columns are allocated once with the exact number of calls (29 bytes per call);
//! each thread's events are freed once its tree is built. One pass per thread to find the calls that
//! started before recording, one to build.

use std::collections::HashMap;

use crate::model::{CallFlags, Calls, Code, CodeId, Event, EventKind, ProcessInfo, Recording, ThreadInfo, ThreadRecord, Trace};

/// Deepest depth a call may have (depth is a `u32`; 0 = outermost): far beyond any recursion an
/// interpreter allows (a 3.11 program with a raised recursion limit records calls 100,000 deep).
pub const MAX_DEPTH: usize = u32::MAX as usize - 1;

/// No parent.
pub const NO_PARENT: u32 = u32::MAX;

/// A thread's events, either borrowed in place from its chunks or, when out of order, sorted.
enum Events {
    Chunks(Vec<Vec<Event>>),
    Sorted(Vec<Event>),
}

impl Events {
    fn from_chunks(chunks: Vec<Vec<Event>>) -> Events {
        let mut prev = 0u64;
        let mut sorted = true;
        'outer: for c in &chunks {
            for e in c {
                if e.t_ns < prev {
                    sorted = false;
                    break 'outer;
                }
                prev = e.t_ns;
            }
        }
        if sorted {
            Events::Chunks(chunks)
        } else {
            let n = chunks.iter().map(Vec::len).sum();
            let mut all = Vec::with_capacity(n);
            for c in chunks {
                all.extend_from_slice(&c);
            }
            all.sort_by_key(|e| e.t_ns); // stable
            Events::Sorted(all)
        }
    }

    fn for_each(&self, mut f: impl FnMut(&Event)) {
        match self {
            Events::Chunks(chunks) => chunks.iter().flatten().for_each(&mut f),
            Events::Sorted(all) => all.iter().for_each(f),
        }
    }

    fn first(&self) -> Option<u64> {
        match self {
            Events::Chunks(chunks) => chunks.iter().flatten().next().map(|e| e.t_ns),
            Events::Sorted(all) => all.first().map(|e| e.t_ns),
        }
    }

    fn last(&self) -> Option<u64> {
        match self {
            Events::Chunks(chunks) => chunks.iter().rev().flat_map(|c| c.last()).next().map(|e| e.t_ns),
            Events::Sorted(all) => all.last().map(|e| e.t_ns),
        }
    }
}

/// A thread being built.
struct Pending {
    os_id: u64,
    names: Vec<(u64, String)>,
    events: Events,
    first_abs: u64,
    last_abs: u64,
    /// Codes of the calls that began before recording, innermost first (pass 1).
    started_before: Vec<CodeId>,
    /// Number of calls pass 2 will record (within MAX_DEPTH).
    call_count: usize,
}

/// Pass 1 over a thread: finds the calls that began before recording (returns matching no open
/// call) and counts the calls. Follows exactly the matching rules
/// of pass 2, with the started-before calls conceptually below the bottom of the stack.
fn scan(events: &Events, n_codes: usize, dropped_events: &mut u64) -> (Vec<CodeId>, usize) {
    let mut stack: Vec<CodeId> = Vec::new();
    let mut started_before: Vec<CodeId> = Vec::new();
    let mut calls = 0usize;
    events.for_each(|e| {
        if e.code as usize >= n_codes {
            *dropped_events += 1;
            return;
        }
        match e.kind {
            EventKind::Call => {
                stack.push(e.code);
                calls += 1;
            }
            EventKind::Return => {
                if stack.last() == Some(&e.code) {
                    stack.pop();
                } else if let Some(pos) = stack.iter().rposition(|&c| c == e.code) {
                    stack.truncate(pos);
                } else {
                    stack.clear();
                    started_before.push(e.code);
                }
            }
        }
    });
    (started_before, calls)
}

/// One open call on the build stack.
#[derive(Clone, Copy)]
struct Open {
    code: CodeId,
    /// Global call index, or `NO_PARENT` when the call is deeper than MAX_DEPTH (not recorded).
    index: u32,
}

/// Turns flat per-thread events into per-thread call trees. See the module docs for the rules.
pub fn build_trace(rec: Recording) -> Trace {
    let Recording { codes, threads, start_ns, stop_ns, mut metadata, mut process } = rec;
    let n_codes = codes.len();
    let mut dropped_events = 0u64;

    // Gather threads with events, their spans, and pass 1.
    let mut pending: Vec<Pending> = Vec::with_capacity(threads.len());
    for ThreadRecord { os_id, names, chunks, .. } in threads {
        let events = Events::from_chunks(chunks);
        let (Some(first_abs), Some(last_abs)) = (events.first(), events.last()) else { continue };
        let (started_before, calls) = scan(&events, n_codes, &mut dropped_events);
        pending.push(Pending {
            os_id,
            names,
            events,
            first_abs,
            last_abs,
            call_count: calls + started_before.len(),
            started_before,
        });
    }
    // Stable: ties keep recording order.
    pending.sort_by_key(|p| p.first_abs);

    let min_abs = pending.iter().map(|p| p.first_abs).min().unwrap_or(0);
    let max_abs = pending.iter().map(|p| p.last_abs).max().unwrap_or(0);
    let origin_ns = if start_ns != 0 { start_ns } else { min_abs };
    let rel = |t: u64| -> i64 { (t as i128 - origin_ns as i128).clamp(i64::MIN as i128, i64::MAX as i128) as i64 };
    let stop_abs = if stop_ns != 0 && stop_ns >= max_abs { stop_ns } else { max_abs };
    let stop_rel = rel(stop_abs);

    let total: usize = pending.iter().map(|p| p.call_count).sum();
    // Call indices are u32 with u32::MAX reserved; a recording above that is cut (never from the hook).
    let total = total.min(u32::MAX as usize - 1);
    let mut calls = Calls::with_capacity(total);
    let mut dropped_calls = 0u64;
    let mut infos: Vec<ThreadInfo> = Vec::with_capacity(pending.len());
    let mut stack: Vec<Open> = Vec::new();

    for p in pending {
        let first_ns = rel(p.first_abs);
        let begin = calls.len() as u32;
        stack.clear();
        // Calls that began before recording: outermost first, all open at the thread's first time.
        for &code in p.started_before.iter().rev() {
            let index = push_call(&mut calls, &stack, code, first_ns, CallFlags::STARTED_BEFORE, &mut dropped_calls);
            stack.push(Open { code, index });
        }
        p.events.for_each(|e| {
            if e.code as usize >= n_codes {
                return;
            }
            let t = rel(e.t_ns);
            match e.kind {
                EventKind::Call => {
                    let index = push_call(&mut calls, &stack, e.code, t, 0, &mut dropped_calls);
                    stack.push(Open { code: e.code, index });
                }
                EventKind::Return => {
                    // Innermost open call with this code; pass 1 guarantees that when none is among
                    // the calls opened by events, the top started-before call has this code.
                    let pos = match stack.last() {
                        Some(top) if top.code == e.code => Some(stack.len() - 1),
                        _ => stack.iter().rposition(|o| o.code == e.code),
                    };
                    if let Some(pos) = pos {
                        for o in stack.drain(pos..) {
                            if o.index != NO_PARENT {
                                calls.end_ns[o.index as usize] = t;
                            }
                        }
                    }
                    // (No match is impossible: pass 1 made every unmatched return a started-before
                    // call. Ignore defensively.)
                }
            }
        });
        let mut last_ns = rel(p.last_abs);
        if !stack.is_empty() {
            for o in stack.drain(..) {
                if o.index != NO_PARENT {
                    let i = o.index as usize;
                    calls.end_ns[i] = stop_rel;
                    calls.flags[i].0 |= CallFlags::UNFINISHED;
                }
            }
            last_ns = last_ns.max(stop_rel);
        }
        let end = calls.len() as u32;
        infos.push(ThreadInfo {
            os_id: p.os_id,
            names: rebase_names(p.names, p.first_abs, first_ns, p.os_id, &rel),
            first_ns,
            last_ns,
            lane: 0,
            process: 0,
            call_range: (begin, end),
        });
    }
    assign_lanes(&mut infos);
    if dropped_calls > 0 {
        metadata.push(("build.dropped_calls".into(), dropped_calls.to_string()));
    }
    if dropped_events > 0 {
        metadata.push(("build.dropped_events".into(), dropped_events.to_string()));
    }
    let processes = if infos.is_empty() {
        Vec::new()
    } else {
        // The process spans its threads (a start given after the first event, as a bad clock or
        // a hand-made recording may give, must not leave it ending before it starts).
        let first = infos.iter().map(|t| t.first_ns).min().unwrap_or(0);
        let last = infos.iter().map(|t| t.last_ns).max().unwrap_or(0);
        process.start_ns = rel(if start_ns != 0 { start_ns } else { min_abs }).min(first);
        process.end_ns = stop_rel.max(last);
        vec![process]
    };
    Trace { origin_ns, codes, threads: infos, calls, metadata, processes, bands: Vec::new() }
}

/// Appends a call opened at `t` under the top of `stack`; returns its index, or `NO_PARENT` when it
/// is too deep (or the call table is full) and is not recorded.
fn push_call(calls: &mut Calls, stack: &[Open], code: CodeId, t: i64, flags: u8, dropped: &mut u64) -> u32 {
    let depth = stack.len();
    let parent = stack.last().map(|o| o.index).unwrap_or(NO_PARENT);
    if depth > MAX_DEPTH || (depth > 0 && parent == NO_PARENT) || calls.len() >= u32::MAX as usize - 1 {
        *dropped += 1;
        return NO_PARENT;
    }
    let index = calls.len() as u32;
    calls.start_ns.push(t);
    calls.end_ns.push(t);
    calls.code.push(code);
    calls.depth.push(depth as u32);
    calls.parent.push(parent);
    calls.flags.push(CallFlags(flags));
    index
}

pub(crate) fn rebase_names(
    mut names: Vec<(u64, String)>,
    first_abs: u64,
    first_ns: i64,
    os_id: u64,
    rel: &impl Fn(u64) -> i64,
) -> Vec<(i64, String)> {
    names.sort_by_key(|(t, _)| *t);
    // The name in force at the first event: the last one given at or before it, else the first.
    let k = names.iter().rposition(|(t, _)| *t <= first_abs).unwrap_or(0);
    let mut out: Vec<(i64, String)> = Vec::with_capacity(names.len() - k.min(names.len()));
    for (i, (t, name)) in names.into_iter().enumerate().skip(k) {
        let t = if i == k { first_ns } else { rel(t).max(first_ns) };
        if out.last().map(|(_, n)| *n == name).unwrap_or(false) {
            continue;
        }
        out.push((t, name));
    }
    if out.is_empty() {
        out.push((first_ns, format!("thread-{os_id}")));
    }
    out
}

/// The trace of one process's recording (a spool's, a streamed file's; [`build_trace`]), keeping its
/// process even when it recorded no call (a fork server, a process whose children did the work): it spans its
/// recording.
pub fn build_process_trace(rec: Recording) -> Trace {
    let (process, start_ns, stop_ns) = (rec.process.clone(), rec.start_ns, rec.stop_ns);
    let mut t = build_trace(rec);
    if t.processes.is_empty() {
        t.origin_ns = start_ns;
        let end_ns = i64::try_from(stop_ns.saturating_sub(start_ns)).unwrap_or(i64::MAX);
        t.processes.push(ProcessInfo { start_ns: 0, end_ns, ..process });
    }
    t
}

/// PYME's lane rule; threads must be ordered by first time.
///
/// Each thread gets 1 + the highest lane among earlier threads whose `[first_ns, last_ns]`
/// overlaps its own, or 0. As threads come in order of first time, an earlier thread overlaps
/// thread `i` exactly when it has not ended before `i` began, and once it has ended before one
/// thread began it has ended before every later one: earlier threads leave a min-heap (by end)
/// for good, and a count per lane gives the highest lane still open. O(n log n) for n threads
/// (the all-pairs scan took 15 s for 200,000 threads).
pub fn assign_lanes(threads: &mut [ThreadInfo]) {
    use std::cmp::Reverse;
    use std::collections::{BTreeMap, BinaryHeap};
    let mut open: BinaryHeap<Reverse<(i64, u32)>> = BinaryHeap::new(); // (last_ns, lane)
    let mut lanes: BTreeMap<u32, usize> = BTreeMap::new(); // lane -> open threads on it
    for th in threads.iter_mut() {
        while let Some(&Reverse((end, lane))) = open.peek() {
            if end >= th.first_ns {
                break;
            }
            open.pop();
            if let Some(n) = lanes.get_mut(&lane) {
                *n -= 1;
                if *n == 0 {
                    lanes.remove(&lane);
                }
            }
        }
        th.lane = lanes.last_key_value().map_or(0, |(&l, _)| l.saturating_add(1));
        open.push(Reverse((th.last_ns, th.lane)));
        *lanes.entry(th.lane).or_insert(0) += 1;
    }
}

/// [`assign_lanes`] for threads in any order (a merge, a compaction of several processes): the
/// rule is applied in order of first time (ties in their order), the threads keep their order.
pub fn assign_lanes_any_order(threads: &mut [ThreadInfo]) {
    let mut order: Vec<usize> = (0..threads.len()).collect();
    order.sort_by_key(|&i| threads[i].first_ns);
    let mut sorted: Vec<ThreadInfo> = order.iter().map(|&i| threads[i].clone()).collect();
    assign_lanes(&mut sorted);
    for (k, &i) in order.iter().enumerate() {
        threads[i].lane = sorted[k].lane;
    }
}

/// Distinct code objects with the same (file, name, first line) become one code (the model
/// interns codes); events are renumbered only when there was a duplicate. Used by the hook at stop
/// and by the spool reader.
pub fn dedupe_codes(codes: Vec<Code>, threads: &mut [ThreadRecord]) -> Vec<Code> {
    let mut index: HashMap<Code, u32> = HashMap::with_capacity(codes.len());
    let mut remap: Vec<u32> = Vec::with_capacity(codes.len());
    let mut out: Vec<Code> = Vec::with_capacity(codes.len());
    let mut dup = false;
    for c in codes {
        if let Some(&i) = index.get(&c) {
            remap.push(i);
            dup = true;
        } else {
            let i = out.len() as u32;
            index.insert(c.clone(), i);
            out.push(c);
            remap.push(i);
        }
    }
    if dup {
        for t in threads.iter_mut() {
            for chunk in t.chunks.iter_mut() {
                for e in chunk.iter_mut() {
                    if let Some(&r) = remap.get(e.code as usize) {
                        e.code = r;
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Code;

    fn code(name: &str) -> Code {
        Code { file: "f.py".into(), name: name.into(), first_line: 1 }
    }

    fn ev(t_ns: u64, code: CodeId, kind: EventKind) -> Event {
        Event { t_ns, code, kind }
    }

    /// The rule as PYME states it: all pairs.
    fn lanes_all_pairs(threads: &[(i64, i64)]) -> Vec<u32> {
        let mut lanes: Vec<u32> = Vec::new();
        for (i, &(a, b)) in threads.iter().enumerate() {
            let mut lane: Option<u32> = None;
            for (j, &(c, d)) in threads[..i].iter().enumerate() {
                if c <= b && a <= d {
                    lane = Some(lane.map_or(lanes[j], |l| l.max(lanes[j])));
                }
            }
            lanes.push(lane.map_or(0, |l| l + 1));
        }
        lanes
    }

    #[test]
    fn lanes_match_the_all_pairs_rule() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut rnd = |m: i64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % m as u64) as i64
        };
        for round in 0..300 {
            let n = 1 + rnd(60) as usize;
            let span = 1 + rnd(if round % 2 == 0 { 50 } else { 5_000 });
            let mut spans: Vec<(i64, i64)> = (0..n)
                .map(|_| {
                    let a = rnd(span);
                    (a, a + rnd(span / 2 + 1))
                })
                .collect();
            spans.sort_by_key(|s| s.0);
            let mut infos: Vec<ThreadInfo> = spans
                .iter()
                .map(|&(a, b)| ThreadInfo {
                    os_id: 0,
                    names: vec![],
                    first_ns: a,
                    last_ns: b,
                    lane: 0,
                    process: 0,
                    call_range: (0, 0),
                })
                .collect();
            assign_lanes(&mut infos);
            let got: Vec<u32> = infos.iter().map(|t| t.lane).collect();
            assert_eq!(got, lanes_all_pairs(&spans), "spans {spans:?}");
        }
    }

    #[test]
    fn simple_nesting() {
        use EventKind::*;
        let rec = Recording {
            codes: vec![code("a"), code("b")],
            threads: vec![ThreadRecord {
                os_id: 7,
                ident: 0,
                names: vec![(0, "Main".into())],
                chunks: vec![vec![ev(100, 0, Call), ev(110, 1, Call)], vec![ev(120, 1, Return), ev(150, 0, Return)]],
            }],
            start_ns: 90,
            stop_ns: 200,
            metadata: vec![],
            process: Default::default(),
        };
        let t = build_trace(rec);
        assert_eq!(t.origin_ns, 90);
        assert_eq!(t.calls.start_ns, vec![10, 20]);
        assert_eq!(t.calls.end_ns, vec![60, 30]);
        assert_eq!(t.calls.depth, vec![0, 1]);
        assert_eq!(t.calls.parent, vec![NO_PARENT, 0]);
        assert_eq!(t.threads[0].first_ns, 10);
        assert_eq!(t.threads[0].last_ns, 60);
        assert_eq!(t.threads[0].names, vec![(10, "Main".to_string())]);
        assert_eq!(t.threads[0].call_range, (0, 2));
    }
}
