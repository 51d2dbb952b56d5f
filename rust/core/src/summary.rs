//! Per-function summaries, per thread and overall.
//!
//! For each function (code): `calls` = number of calls, `total_ns` = time spent inside it,
//! `self_ns` = time inside it minus time in its callees, `mean_ns` / `max_ns` = mean and largest
//! duration of one call. Rows are sorted by `total_ns`, descending (ties: `self_ns` descending, then
//! code id).
//!
//! **Recursion**: `total_ns` counts only the outermost active call of a function, so time is never
//! counted twice: for `fib` calling itself, `total_ns` is the time from the outermost `fib` entering
//! to it returning. `mean_ns` and `max_ns` are over every call's own duration (inner recursive calls
//! included), so `mean_ns` may be smaller than `total_ns / calls`. Self times add up to the thread's
//! time inside recorded calls.
//!
//! Unfinished calls (closed at the stop time) and calls that began before recording count with the
//! part that was recorded.

use crate::model::Trace;
use serde::Serialize;

/// One function's figures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    pub code: u32,
    pub function: String,
    pub file: String,
    pub line: u32,
    pub calls: u64,
    pub total_ns: u64,
    pub self_ns: u64,
    pub mean_ns: u64,
    pub max_ns: u64,
}

/// The rows of one thread.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ThreadSummary {
    /// Index into `Trace::threads`.
    pub thread: u32,
    pub name: String,
    pub rows: Vec<Row>,
}

/// Per-function figures over all threads (`overall`) and per thread.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub overall: Vec<Row>,
    pub threads: Vec<ThreadSummary>,
}

#[derive(Clone, Copy, Default)]
struct Acc {
    calls: u64,
    total: u64,
    self_: u64,
    sum: u64,
    max: u64,
}

impl Acc {
    fn add(&mut self, o: &Acc) {
        self.calls += o.calls;
        self.total = self.total.saturating_add(o.total);
        self.self_ = self.self_.saturating_add(o.self_);
        self.sum = self.sum.saturating_add(o.sum);
        self.max = self.max.max(o.max);
    }
}

fn rows(t: &Trace, acc: &[Acc]) -> Vec<Row> {
    let mut out: Vec<Row> = acc
        .iter()
        .enumerate()
        .filter(|(_, a)| a.calls > 0)
        .map(|(k, a)| {
            let code = t.codes.get(k);
            Row {
                code: k as u32,
                function: code.map(|c| c.name.clone()).unwrap_or_default(),
                file: code.map(|c| c.file.clone()).unwrap_or_default(),
                line: code.map_or(0, |c| c.first_line),
                calls: a.calls,
                total_ns: a.total,
                self_ns: a.self_,
                mean_ns: a.sum.saturating_add(a.calls / 2) / a.calls,
                max_ns: a.max,
            }
        })
        .collect();
    out.sort_by(|a, b| b.total_ns.cmp(&a.total_ns).then(b.self_ns.cmp(&a.self_ns)).then(a.code.cmp(&b.code)));
    out
}

struct Open {
    code: usize,
    dur: u64,
    children: u64,
}

/// Summarizes a trace (see the module docs for the definitions).
pub fn summarize(t: &Trace) -> Summary {
    let c = &t.calls;
    let n = c.len().min(c.end_ns.len()).min(c.code.len()).min(c.depth.len());
    let n_codes = t.codes.len();
    let mut overall = vec![Acc::default(); n_codes];
    let mut threads = Vec::with_capacity(t.threads.len());
    let mut active = vec![0u32; n_codes];
    let mut stack: Vec<Open> = Vec::new();
    for (ti, th) in t.threads.iter().enumerate() {
        let mut acc = vec![Acc::default(); n_codes];
        let lo = (th.call_range.0 as usize).min(n);
        let hi = (th.call_range.1 as usize).clamp(lo, n);
        let close = |o: Open, acc: &mut Vec<Acc>, active: &mut Vec<u32>, stack: &mut Vec<Open>| {
            acc[o.code].self_ += o.dur.saturating_sub(o.children);
            active[o.code] -= 1;
            if let Some(p) = stack.last_mut() {
                p.children += o.dur;
            }
        };
        for i in lo..hi {
            let k = c.code[i] as usize;
            if k >= n_codes {
                continue;
            }
            let d = c.depth[i] as usize;
            while stack.len() > d {
                if let Some(o) = stack.pop() {
                    close(o, &mut acc, &mut active, &mut stack);
                }
            }
            let dur = c.end_ns[i].saturating_sub(c.start_ns[i]).max(0) as u64;
            let a = &mut acc[k];
            a.calls += 1;
            a.sum = a.sum.saturating_add(dur);
            a.max = a.max.max(dur);
            if active[k] == 0 {
                a.total = a.total.saturating_add(dur);
            }
            active[k] += 1;
            stack.push(Open { code: k, dur, children: 0 });
        }
        while let Some(o) = stack.pop() {
            close(o, &mut acc, &mut active, &mut stack);
        }
        for (o, a) in overall.iter_mut().zip(&acc) {
            o.add(a);
        }
        threads.push(ThreadSummary { thread: ti as u32, name: th.name().to_string(), rows: rows(t, &acc) });
    }
    Summary { overall: rows(t, &overall), threads }
}

/// The summary as JSON (schema in `docs/format.md`, "The summary as JSON").
pub fn summary_json(t: &Trace) -> String {
    // Serializing plain structs of strings and integers cannot fail.
    serde_json::to_string(&summarize(t)).unwrap_or_else(|_| "{\"overall\":[],\"threads\":[]}".into())
}
