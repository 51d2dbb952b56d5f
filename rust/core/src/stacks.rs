//! Per-call figures and stacks of a [`Trace`]: self times ([`self_times`]) and folded stacks
//! ([`folded`], the `thread;outer;...;inner count` lines of flame graph tools).

use std::collections::BTreeMap;

use crate::model::{Calls, Trace};

/// Number of complete call records: the shortest column (they are all equal in any trace the
/// core builds or decodes; taking the minimum keeps every index in bounds regardless).
pub fn call_count(c: &Calls) -> usize {
    c.start_ns.len().min(c.end_ns.len()).min(c.code.len()).min(c.depth.len()).min(c.parent.len()).min(c.flags.len())
}

/// Self time of every call (indexed like the calls): its duration minus the durations of its
/// direct children.
pub fn self_times(t: &Trace) -> Vec<i64> {
    let c = &t.calls;
    let n = call_count(c);
    // saturating: the readers keep durations within i64, but no input may make this overflow
    let mut self_ns: Vec<i64> = c.start_ns[..n].iter().zip(&c.end_ns[..n]).map(|(s, e)| e.saturating_sub(*s)).collect();
    for i in 0..n {
        let p = c.parent[i];
        if p != u32::MAX {
            if let Some(slot) = self_ns.get_mut(p as usize) {
                *slot = slot.saturating_sub(c.end_ns[i].saturating_sub(c.start_ns[i]));
            }
        }
    }
    self_ns
}

/// Index of the thread owning call `i` (threads' call ranges are consecutive).
pub fn thread_of_call(t: &Trace, i: u32) -> usize {
    t.threads.partition_point(|th| th.call_range.1 <= i)
}

/// Folded stacks: one line per distinct stack, `"thread;outer;...;inner count"`, where count is
/// the number of calls ending that stack; sorted. Frames are function names.
pub fn folded(t: &Trace) -> Vec<String> {
    let c = &t.calls;
    let n = call_count(c) as u32;
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    for th in &t.threads {
        // stack[d] = the frame string prefix up to depth d
        let mut stack: Vec<String> = Vec::new();
        for i in th.call_range.0..th.call_range.1.min(n) {
            let k = i as usize;
            stack.truncate(c.depth[k] as usize);
            let name = t.codes.get(c.code[k] as usize).map_or("?", |x| x.name.as_str());
            let prefix = match stack.last() {
                Some(p) => format!("{p};{name}"),
                None => format!("{};{name}", th.name()),
            };
            *counts.entry(prefix.clone()).or_insert(0) += 1;
            stack.push(prefix);
        }
    }
    counts.into_iter().map(|(k, n)| format!("{k} {n}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calltree::build_trace;
    use crate::{Code, Event, EventKind, Recording, ThreadRecord};

    /// main: f [0, 100) calls g [10, 30) and g [40, 90); g calls nothing.
    fn trace() -> Trace {
        let ev = |t_ns, code, kind| Event { t_ns, code, kind };
        let (c, r) = (EventKind::Call, EventKind::Return);
        build_trace(Recording {
            codes: vec![
                Code { file: "/a.py".into(), name: "f".into(), first_line: 1 },
                Code { file: "/a.py".into(), name: "g".into(), first_line: 5 },
            ],
            threads: vec![ThreadRecord {
                os_id: 1,
                ident: 1,
                names: vec![(0, "Main".into())],
                chunks: vec![vec![ev(0, 0, c), ev(10, 1, c), ev(30, 1, r), ev(40, 1, c), ev(90, 1, r), ev(100, 0, r)]],
            }],
            start_ns: 0,
            stop_ns: 100,
            metadata: vec![],
            process: Default::default(),
        })
    }

    #[test]
    fn self_times_subtract_direct_children() {
        let t = trace();
        assert_eq!(self_times(&t), [30, 20, 50]);
        assert_eq!(thread_of_call(&t, 2), 0);
    }

    #[test]
    fn folded_counts_each_stack() {
        assert_eq!(folded(&trace()), ["Main;f 1", "Main;f;g 2"]);
    }
}
