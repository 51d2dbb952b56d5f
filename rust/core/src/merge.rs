//! Several traces (one per process, or per group of processes sharing a clock) into one.
//!
//! Each part's times are absolute on its own clock (`origin_ns + t`). A process's
//! [`ClockAlignment::offset_ns`](crate::ClockAlignment) moves its readings onto the common clock;
//! the merged trace's origin is the earliest start among aligned processes. A process whose clock
//! could not be aligned (`aligned == false`) is never silently compared with the others: it is
//! placed starting at the merged start, on its own clock, and named in the metadata entry
//! [`UNALIGNED_WARNING`].
//!
//! Codes are interned again across parts; threads keep their part's order, grouped by part (and so
//! by process when each part is one process); lanes are reassigned over all threads by PYME's rule;
//! bands follow their threads. Metadata is the first part's, plus `processes` (the count).

use std::collections::HashMap;

use crate::calltree::assign_lanes_any_order;
use crate::model::{Band, Calls, Code, ProcessInfo, ThreadInfo, Trace};

/// Metadata key of the warning naming processes left on their own clock.
pub const UNALIGNED_WARNING: &str = "warning.clock_unaligned";

/// Why traces cannot be merged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MergeError {
    #[error("nothing to merge: no traces were given")]
    NoParts,
    #[error("the merged trace would hold {calls} calls, more than a trace can (2^32 - 2)")]
    TooManyCalls { calls: u64 },
    #[error("part {part}: thread {thread} names process {process}, but the part has {processes} processes")]
    BadProcess { part: usize, thread: usize, process: u32, processes: usize },
    #[error("part {part}: its times cannot be placed on the common clock (offset {offset_ns} ns is out of range)")]
    OutOfRange { part: usize, offset_ns: i64 },
}

/// Merges the parts into one trace (see the module docs).
pub fn merge(parts: Vec<Trace>) -> Result<Trace, MergeError> {
    if parts.is_empty() {
        return Err(MergeError::NoParts);
    }
    let total: u64 = parts.iter().map(|p| p.calls.len() as u64).sum();
    if total >= u64::from(u32::MAX) {
        return Err(MergeError::TooManyCalls { calls: total });
    }
    // Every part gets at least one process (formats that do not name processes), and every
    // thread's process index is checked.
    let mut parts = parts;
    for (pi, p) in parts.iter_mut().enumerate() {
        if p.processes.is_empty() && !p.threads.is_empty() {
            p.processes = Trace::one_process(&p.threads);
        }
        for (ti, t) in p.threads.iter().enumerate() {
            if t.process as usize >= p.processes.len() {
                return Err(MergeError::BadProcess { part: pi, thread: ti, process: t.process, processes: p.processes.len() });
            }
        }
    }

    // Absolute start of each process on the common clock (aligned ones) or on its own clock.
    let abs = |p: &Trace, pr: &ProcessInfo, with_offset: bool| -> i128 {
        i128::from(p.origin_ns) + i128::from(pr.start_ns) + if with_offset { i128::from(pr.clock.offset_ns) } else { 0 }
    };
    let aligned_start =
        parts.iter().flat_map(|p| p.processes.iter().filter(|pr| pr.clock.aligned).map(move |pr| abs(p, pr, true))).min();
    let any_start = parts.iter().flat_map(|p| p.processes.iter().map(move |pr| abs(p, pr, false))).min();
    let origin = aligned_start.or(any_start).unwrap_or(0).max(0);

    // Per part, per process: the shift from the part's relative times to the merged ones.
    let mut shifts: Vec<Vec<i64>> = Vec::with_capacity(parts.len());
    for (pi, p) in parts.iter().enumerate() {
        let mut v = Vec::with_capacity(p.processes.len());
        for pr in &p.processes {
            let offset = if pr.clock.aligned {
                i128::from(pr.clock.offset_ns)
            } else {
                // On its own clock: its start lands on the merged start.
                origin - (i128::from(p.origin_ns) + i128::from(pr.start_ns))
            };
            let shift = i128::from(p.origin_ns) + offset - origin;
            let shift = i64::try_from(shift).map_err(|_| MergeError::OutOfRange { part: pi, offset_ns: pr.clock.offset_ns })?;
            v.push(shift);
        }
        shifts.push(v);
    }

    let mut codes: Vec<Code> = Vec::new();
    let mut code_index: HashMap<Code, u32> = HashMap::new();
    let mut processes: Vec<ProcessInfo> = Vec::new();
    let mut threads: Vec<ThreadInfo> = Vec::new();
    let mut bands: Vec<Band> = Vec::new();
    let total = total as usize;
    let mut calls = Calls::with_capacity(total);
    let mut metadata: Vec<(String, String)> = Vec::new();
    let mut unaligned: Vec<String> = Vec::new();

    for (pi, p) in parts.into_iter().enumerate() {
        let Trace { codes: pcodes, threads: pthreads, calls: pcalls, metadata: pmeta, processes: pprocs, bands: pbands, .. } = p;
        if pi == 0 {
            metadata = pmeta;
        }
        let remap: Vec<u32> = pcodes
            .into_iter()
            .map(|c| {
                *code_index.entry(c).or_insert_with_key(|c| {
                    codes.push(c.clone());
                    (codes.len() - 1) as u32
                })
            })
            .collect();
        let proc_base = processes.len() as u32;
        let thread_base = threads.len() as u32;
        let call_base = calls.len() as u32;
        let sh = &shifts[pi];
        for (k, mut pr) in pprocs.into_iter().enumerate() {
            pr.start_ns = pr.start_ns.saturating_add(sh[k]);
            pr.end_ns = pr.end_ns.saturating_add(sh[k]);
            if !pr.clock.aligned {
                unaligned.push(if pr.name.is_empty() {
                    format!("pid {}", pr.pid)
                } else {
                    format!("{} (pid {})", pr.name, pr.pid)
                });
            }
            processes.push(pr);
        }
        for mut t in pthreads {
            let s = sh[t.process as usize];
            let (a, b) = (t.call_range.0 as usize, t.call_range.1 as usize);
            for i in a..b {
                calls.start_ns.push(pcalls.start_ns[i].saturating_add(s));
                calls.end_ns.push(pcalls.end_ns[i].saturating_add(s));
                calls.code.push(remap.get(pcalls.code[i] as usize).copied().unwrap_or(0));
                calls.depth.push(pcalls.depth[i]);
                let par = pcalls.parent[i];
                calls.parent.push(if par == u32::MAX { u32::MAX } else { par + call_base });
                calls.flags.push(pcalls.flags[i]);
            }
            t.call_range = (t.call_range.0 + call_base, t.call_range.1 + call_base);
            t.first_ns = t.first_ns.saturating_add(s);
            t.last_ns = t.last_ns.saturating_add(s);
            for (tn, _) in t.names.iter_mut() {
                *tn = tn.saturating_add(s);
            }
            t.process += proc_base;
            threads.push(t);
        }
        for mut b in pbands {
            let Some(t) = threads.get((b.thread + thread_base) as usize) else { continue };
            let s = sh[(t.process - proc_base) as usize];
            b.thread += thread_base;
            b.start_ns = b.start_ns.saturating_add(s);
            b.end_ns = b.end_ns.saturating_add(s);
            bands.push(b);
        }
    }
    bands.sort_by_key(|b| (b.thread, b.start_ns));

    // Lanes by PYME's rule, which wants threads in order of first time; the threads keep their order.
    assign_lanes_any_order(&mut threads);

    metadata.retain(|(k, _)| k != "processes" && k != UNALIGNED_WARNING);
    metadata.push(("processes".into(), processes.len().to_string()));
    if !unaligned.is_empty() {
        metadata.push((
            UNALIGNED_WARNING.into(),
            format!(
                "the clock of {} could not be aligned with the others: shown on its own clock, starting at the trace's \
                 start; its times cannot be compared with other processes'",
                unaligned.join(", ")
            ),
        ));
    }
    Ok(Trace { origin_ns: origin as u64, codes, threads, calls, metadata, processes, bands })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calltree::build_trace;
    use crate::model::{ClockAlignment, Event, EventKind, Recording, ThreadRecord};

    /// A one-process trace: `f` calling `g` on one thread, at absolute times from `t0`.
    fn part(pid: u64, t0: u64, os_id: u64, names: (&str, &str)) -> Trace {
        let ev = |t_ns, code, kind| Event { t_ns, code, kind };
        let (c, r) = (EventKind::Call, EventKind::Return);
        build_trace(Recording {
            codes: vec![
                Code { file: "/a.py".into(), name: names.0.into(), first_line: 1 },
                Code { file: "/a.py".into(), name: names.1.into(), first_line: 5 },
            ],
            threads: vec![ThreadRecord {
                os_id,
                ident: os_id,
                names: vec![(t0, "MainThread".into())],
                chunks: vec![vec![ev(t0 + 10, 0, c), ev(t0 + 20, 1, c), ev(t0 + 30, 1, r), ev(t0 + 100, 0, r)]],
            }],
            start_ns: t0,
            stop_ns: t0 + 200,
            metadata: vec![("subs".into(), format!("[\"{pid}\"]"))],
            process: ProcessInfo { pid, parent_pid: 1, name: format!("p{pid}"), ..ProcessInfo::default() },
        })
    }

    #[test]
    fn same_clock_parts_keep_their_absolute_times() {
        let a = part(10, 1_000, 1, ("f", "g"));
        let b = part(11, 1_050, 2, ("f", "h"));
        let m = merge(vec![a, b]).unwrap();
        assert_eq!(m.origin_ns, 1_000);
        assert_eq!(m.processes.len(), 2);
        assert_eq!(m.processes[1].start_ns, 50);
        assert_eq!(m.processes[1].end_ns, 250);
        assert_eq!(m.threads.len(), 2);
        assert_eq!(m.threads[1].process, 1);
        assert_eq!(m.threads[1].call_range, (2, 4));
        // Codes interned across parts: f, g, h.
        let names: Vec<&str> = m.codes.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["f", "g", "h"]);
        // Part b's calls: f at 1060..1150, h at 1070..1080; parent indices moved.
        assert_eq!(m.calls.start_ns[2..], [60, 70]);
        assert_eq!(m.calls.end_ns[2..], [150, 80]);
        assert_eq!(m.calls.code[2], 0);
        assert_eq!(m.codes[m.calls.code[3] as usize].name, "h");
        assert_eq!(m.calls.parent[3], 2);
        assert_eq!(m.calls.parent[2], u32::MAX);
        // Overlapping threads of different processes get different lanes.
        assert_eq!((m.threads[0].lane, m.threads[1].lane), (0, 1));
        assert!(m.metadata.contains(&("processes".into(), "2".into())));
        assert!(m.metadata.contains(&("subs".into(), "[\"10\"]".into())));
        assert!(!m.metadata.iter().any(|(k, _)| k == UNALIGNED_WARNING));
    }

    #[test]
    fn offsets_move_a_part_onto_the_common_clock() {
        let a = part(10, 1_000, 1, ("f", "g"));
        // b's clock reads 5_000 ahead: its 6_500 is the common clock's 1_500.
        let mut b = part(11, 6_500, 2, ("f", "g"));
        b.processes[0].clock = ClockAlignment { offset_ns: -5_000, uncertainty_ns: 40, aligned: true };
        let m = merge(vec![a, b]).unwrap();
        assert_eq!(m.origin_ns, 1_000);
        assert_eq!(m.processes[1].start_ns, 500);
        assert_eq!(m.calls.start_ns[2], 510);
        assert_eq!(m.processes[1].clock.uncertainty_ns, 40);
        // An offset that moves b before a moves the origin.
        let a = part(10, 1_000, 1, ("f", "g"));
        let mut b = part(11, 6_500, 2, ("f", "g"));
        b.processes[0].clock.offset_ns = -5_900;
        let m = merge(vec![a, b]).unwrap();
        assert_eq!(m.origin_ns, 600);
        assert_eq!(m.processes[1].start_ns, 0);
        assert_eq!(m.processes[0].start_ns, 400);
    }

    #[test]
    fn an_unaligned_process_starts_at_the_merged_start_and_is_named() {
        let a = part(10, 1_000, 1, ("f", "g"));
        let mut b = part(11, 99_000, 2, ("f", "g"));
        b.processes[0].clock = ClockAlignment { offset_ns: 0, uncertainty_ns: 0, aligned: false };
        let m = merge(vec![a, b]).unwrap();
        assert_eq!(m.origin_ns, 1_000);
        assert_eq!(m.processes[1].start_ns, 0);
        assert_eq!(m.calls.start_ns[2], 10);
        assert!(!m.processes[1].clock.aligned);
        let w = &m.metadata.iter().find(|(k, _)| k == UNALIGNED_WARNING).unwrap().1;
        assert!(w.contains("p11 (pid 11)"), "{w}");
    }

    #[test]
    fn bands_follow_their_thread_and_errors_are_clear() {
        let a = part(10, 1_000, 1, ("f", "g"));
        let mut b = part(11, 1_500, 2, ("f", "g"));
        b.bands.push(Band { thread: 0, start_ns: 5, end_ns: 150, label: "task-1".into() });
        let m = merge(vec![a, b]).unwrap();
        assert_eq!(m.bands, vec![Band { thread: 1, start_ns: 505, end_ns: 650, label: "task-1".into() }]);
        assert_eq!(merge(vec![]), Err(MergeError::NoParts));
        let mut bad = part(10, 1_000, 1, ("f", "g"));
        bad.threads[0].process = 3;
        assert!(matches!(merge(vec![bad]), Err(MergeError::BadProcess { process: 3, .. })));
    }

    #[test]
    fn merging_one_trace_keeps_it() {
        let a = part(10, 1_000, 1, ("f", "g"));
        let m = merge(vec![a.clone()]).unwrap();
        assert_eq!(m.calls, a.calls);
        assert_eq!(m.codes, a.codes);
        assert_eq!(m.threads, a.threads);
        assert_eq!(m.processes, a.processes);
        assert_eq!(m.origin_ns, a.origin_ns);
    }
}
