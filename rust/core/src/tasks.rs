//! Tasks as a scope of the calls: the calls of a task are those that begin inside one of the bands
//! labelled with its name, on that band's thread (the bands of asyncio task steps, of Dask tasks).
//! A band holds every call made during the slice it covers, on its thread, so this is exact for
//! the recorded bands; a call that began before a band and runs across it (the frame that runs the
//! event loop) is not the task's.
//!
//! [`restrict`] makes the trace of one task's calls: the same functions, threads and processes,
//! its calls only, each call whose parent is not the task's becoming a top-level call (depth 0),
//! and the task's bands only. Its summary ([`crate::summary::summarize`]) is the task's summary
//! (`Trace.summary(task=...)`).

use crate::model::{Calls, Trace};

/// The band labels of the trace, each once, in the order of their first band.
pub fn labels(t: &Trace) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    t.bands.iter().filter(|b| seen.insert(b.label.as_str())).map(|b| b.label.clone()).collect()
}

/// The trace of the calls that begin inside a band labelled `label` (see the module docs); None
/// when no band has that label.
pub fn restrict(t: &Trace, label: &str) -> Option<Trace> {
    let mut spans: Vec<Vec<(i64, i64)>> = vec![Vec::new(); t.threads.len()];
    let mut any = false;
    for b in t.bands.iter().filter(|b| b.label == label) {
        if let Some(s) = spans.get_mut(b.thread as usize) {
            s.push((b.start_ns, b.end_ns));
            any = true;
        }
    }
    if !any {
        return None;
    }
    for s in spans.iter_mut() {
        s.sort_unstable();
    }
    let c = &t.calls;
    let n = c.len().min(c.end_ns.len()).min(c.code.len()).min(c.depth.len()).min(c.parent.len()).min(c.flags.len());
    let mut out = Calls::default();
    let mut threads = t.threads.clone();
    // new index of each kept call (u32::MAX: not the task's), over the whole column
    let mut new_index = vec![u32::MAX; n];
    for (ti, th) in threads.iter_mut().enumerate() {
        let lo = (th.call_range.0 as usize).min(n);
        let hi = (th.call_range.1 as usize).clamp(lo, n);
        let first = out.len() as u32;
        let s = &spans[ti];
        for i in lo..hi {
            let start = c.start_ns[i];
            // the last band starting at or before this call
            let k = s.partition_point(|&(b0, _)| b0 <= start);
            if k == 0 || start > s[k - 1].1 {
                continue;
            }
            let parent = c.parent[i];
            let (depth, parent) = match new_index.get(parent as usize) {
                Some(&p) if p != u32::MAX => (out.depth[p as usize] + 1, p),
                _ => (0, u32::MAX),
            };
            new_index[i] = out.len() as u32;
            out.start_ns.push(start);
            out.end_ns.push(c.end_ns[i]);
            out.code.push(c.code[i]);
            out.depth.push(depth);
            out.parent.push(parent);
            out.flags.push(c.flags[i]);
        }
        th.call_range = (first, out.len() as u32);
    }
    Some(Trace {
        origin_ns: t.origin_ns,
        codes: t.codes.clone(),
        threads,
        calls: out,
        metadata: t.metadata.clone(),
        processes: t.processes.clone(),
        bands: t.bands.iter().filter(|b| b.label == label).cloned().collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Band, CallFlags, Code, ThreadInfo};

    fn code(name: &str) -> Code {
        Code { name: name.into(), file: "f.py".into(), first_line: 1 }
    }

    /// One thread: `loop` (0..100) running two task steps of "a" (10..20, 50..60) and one of "b"
    /// (30..40); in each step a resumption of the task's coroutine calling one leaf.
    fn trace() -> Trace {
        let mut t = Trace { codes: vec![code("loop"), code("coro_a"), code("coro_b"), code("leaf")], ..Trace::default() };
        let rows: &[(i64, i64, u32, u32, u32)] = &[
            (0, 100, 0, 0, u32::MAX),
            (11, 19, 1, 1, 0),
            (12, 13, 3, 2, 1),
            (31, 39, 2, 1, 0),
            (32, 33, 3, 2, 3),
            (34, 35, 3, 2, 3),
            (51, 59, 1, 1, 0),
            (52, 53, 3, 2, 6),
        ];
        for &(s, e, k, d, p) in rows {
            t.calls.start_ns.push(s);
            t.calls.end_ns.push(e);
            t.calls.code.push(k);
            t.calls.depth.push(d);
            t.calls.parent.push(p);
            t.calls.flags.push(CallFlags::default());
        }
        t.threads.push(ThreadInfo {
            os_id: 7,
            names: vec![(0, "MainThread".into())],
            first_ns: 0,
            last_ns: 100,
            lane: 0,
            process: 0,
            call_range: (0, rows.len() as u32),
        });
        t.processes = Trace::one_process(&t.threads);
        for (s, e, l) in [(10, 20, "a"), (30, 40, "b"), (50, 60, "a")] {
            t.bands.push(Band { thread: 0, start_ns: s, end_ns: e, label: l.into() });
        }
        t
    }

    #[test]
    fn a_task_has_the_calls_of_its_steps_only() {
        let t = trace();
        let a = restrict(&t, "a").unwrap();
        assert_eq!(a.calls.code, vec![1, 3, 1, 3]);
        assert_eq!(a.calls.depth, vec![0, 1, 0, 1]);
        assert_eq!(a.calls.parent, vec![u32::MAX, 0, u32::MAX, 2]);
        assert_eq!(a.threads[0].call_range, (0, 4));
        assert_eq!(a.bands.len(), 2);
        let s = crate::summary::summarize(&a);
        let leaf = s.overall.iter().find(|r| r.function == "leaf").unwrap();
        assert_eq!(leaf.calls, 2);
        let b = crate::summary::summarize(&restrict(&t, "b").unwrap());
        assert_eq!(b.overall.iter().find(|r| r.function == "leaf").unwrap().calls, 2);
        assert!(b.overall.iter().all(|r| r.function != "loop" && r.function != "coro_a"));
        assert!(restrict(&t, "c").is_none());
        assert_eq!(labels(&t), vec!["a".to_string(), "b".to_string()]);
    }
}
