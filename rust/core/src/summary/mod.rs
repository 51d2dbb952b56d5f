//! Per-function summaries: overall, per process and per thread.
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
//!
//! [`summarize`] reads a trace's call columns; [`EventAcc`] computes the same figures from a
//! thread's events as they go by (the stop's compaction, walking an `.fpt` file), in memory
//! bounded by the functions and the open calls, and [`from_threads`] makes the summary of them.
//! Their orders and tables are in [`tables`] (re-exported here).

use crate::model::Trace;
use serde::Serialize;

pub mod tables;
pub use tables::*;

/// One function's figures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
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
    /// Index into `Trace::processes` of its process.
    pub process: u32,
    pub name: String,
    pub rows: Vec<Row>,
}

/// The rows of one process: all its threads, by the same rules as `overall`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProcessSummary {
    /// Index into `Trace::processes`.
    pub process: u32,
    /// OS process id (0 when unknown).
    pub pid: u64,
    pub name: String,
    pub rows: Vec<Row>,
}

/// Per-function figures over all threads (`overall`), per process and per thread.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub overall: Vec<Row>,
    pub processes: Vec<ProcessSummary>,
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
    let mut gather = Gather::new(t, vec![Vec::new(); t.processes.len()]);
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
        gather.add(t, ti, &acc);
    }
    gather.finish(t)
}

/// The figures of a trace's threads as they are added ([`Gather::add`]), summed per process and
/// overall: the [`Summary`] ([`Gather::finish`]) of [`summarize`] and of [`from_threads`].
struct Gather {
    overall: Vec<Acc>,
    /// A process's figures, grown to the trace's codes when a thread of it is added.
    per_process: Vec<Vec<Acc>>,
    threads: Vec<ThreadSummary>,
}

impl Gather {
    fn new(t: &Trace, per_process: Vec<Vec<Acc>>) -> Gather {
        Gather { overall: vec![Acc::default(); t.codes.len()], per_process, threads: Vec::with_capacity(t.threads.len()) }
    }

    /// Thread `ti`'s figures, one per code of `t`.
    fn add(&mut self, t: &Trace, ti: usize, acc: &[Acc]) {
        let th = &t.threads[ti];
        for (o, a) in self.overall.iter_mut().zip(acc) {
            o.add(a);
        }
        if let Some(pacc) = self.per_process.get_mut(th.process as usize) {
            pacc.resize(t.codes.len(), Acc::default());
            for (o, a) in pacc.iter_mut().zip(acc) {
                o.add(a);
            }
        }
        self.threads.push(ThreadSummary {
            thread: ti as u32,
            process: th.process,
            name: th.name().to_string(),
            rows: rows(t, acc),
        });
    }

    fn finish(self, t: &Trace) -> Summary {
        let processes = t
            .processes
            .iter()
            .zip(&self.per_process)
            .enumerate()
            .map(|(pi, (p, acc))| ProcessSummary { process: pi as u32, pid: p.pid, name: p.name.clone(), rows: rows(t, acc) })
            .collect();
        Summary { overall: rows(t, &self.overall), processes, threads: self.threads }
    }
}

/// A thread's figures computed from its events as they go by, by the rules of [`summarize`] (the
/// stop's compaction, `crate::record::compact`, which never holds the calls): [`EventAcc::enter`] at a
/// call, [`EventAcc::exit`] when the innermost open call ends, and
/// [`EventAcc::started_before_return`] for a call begun before the recording (it encloses
/// everything the thread did before its return: calls of its function counted in `total_ns`
/// until then were inside it and are taken back).
pub struct EventAcc {
    /// Per code: its slot, or `u32::MAX` (4 bytes per code and thread; the figures only for the
    /// codes the thread called).
    slot_of: Vec<u32>,
    slots: Vec<Slot>,
    stack: Vec<EventOpen>,
    /// Time of the calls at the bottom of the stack (and of the last call begun before), since
    /// the last call begun before the recording ended: its children.
    bottom: u64,
    first: u64,
}

/// A code's figures in one thread.
struct Slot {
    code: u32,
    acc: Acc,
    /// Its calls open now.
    active: u32,
    /// What its calls counted as outermost added to `total` so far.
    added: u64,
}

struct EventOpen {
    slot: usize,
    start: u64,
    children: u64,
    outer: bool,
}

impl EventAcc {
    /// A thread whose first event is at `first_ns`.
    pub fn new(first_ns: u64) -> EventAcc {
        EventAcc { slot_of: Vec::new(), slots: Vec::new(), stack: Vec::new(), bottom: 0, first: first_ns }
    }

    fn slot(&mut self, code: usize) -> usize {
        if self.slot_of.len() <= code {
            self.slot_of.resize(code + 1, u32::MAX);
        }
        let s = self.slot_of[code];
        if s != u32::MAX {
            return s as usize;
        }
        self.slot_of[code] = self.slots.len() as u32;
        self.slots.push(Slot { code: code as u32, acc: Acc::default(), active: 0, added: 0 });
        self.slots.len() - 1
    }

    /// A call of `code` at `t_ns`.
    pub fn enter(&mut self, code: usize, t_ns: u64) {
        let slot = self.slot(code);
        let s = &mut self.slots[slot];
        s.acc.calls += 1;
        let outer = s.active == 0;
        s.active += 1;
        self.stack.push(EventOpen { slot, start: t_ns, children: 0, outer });
    }

    /// The innermost open call ends at `t_ns`.
    pub fn exit(&mut self, t_ns: u64) {
        let Some(o) = self.stack.pop() else { return };
        let dur = t_ns.saturating_sub(o.start);
        let s = &mut self.slots[o.slot];
        s.acc.sum = s.acc.sum.saturating_add(dur);
        s.acc.max = s.acc.max.max(dur);
        if o.outer {
            s.acc.total = s.acc.total.saturating_add(dur);
            s.added = s.added.saturating_add(dur);
        }
        s.acc.self_ = s.acc.self_.saturating_add(dur.saturating_sub(o.children));
        s.active -= 1;
        match self.stack.last_mut() {
            Some(p) => p.children = p.children.saturating_add(dur),
            None => self.bottom = self.bottom.saturating_add(dur),
        }
    }

    /// A call of `code` begun before the recording ends at `t_ns` (the open calls were closed).
    pub fn started_before_return(&mut self, code: usize, t_ns: u64) {
        while !self.stack.is_empty() {
            self.exit(t_ns);
        }
        let slot = self.slot(code);
        let dur = t_ns.saturating_sub(self.first);
        let bottom = self.bottom;
        let s = &mut self.slots[slot];
        s.acc.calls += 1;
        s.acc.sum = s.acc.sum.saturating_add(dur);
        s.acc.max = s.acc.max.max(dur);
        s.acc.total = s.acc.total.saturating_sub(s.added).saturating_add(dur);
        s.added = dur;
        s.acc.self_ = s.acc.self_.saturating_add(dur.saturating_sub(bottom));
        self.bottom = dur;
    }

    /// The figures by code (`n_codes` of them).
    fn dense(self, n_codes: usize) -> Vec<Acc> {
        let mut acc = vec![Acc::default(); n_codes];
        for s in self.slots {
            if let Some(a) = acc.get_mut(s.code as usize) {
                *a = s.acc;
            }
        }
        acc
    }
}

/// The threads' [`EventAcc`]s fed by a walk of an `.fpt` file ([`crate::formats::fpt::walk_file`]).
#[derive(Default)]
pub struct WalkAcc {
    pub accs: Vec<EventAcc>,
}

/// A time as an unsigned number in the same order (the accumulators take unsigned times).
fn ordered(t: i64) -> u64 {
    (t as u64) ^ (1 << 63)
}

impl crate::formats::fpt::EventVisitor for WalkAcc {
    fn thread(&mut self, ti: usize, first_ns: i64) {
        while self.accs.len() <= ti {
            self.accs.push(EventAcc::new(ordered(first_ns)));
        }
    }
    fn enter(&mut self, code: u32, t_ns: i64) {
        if let Some(a) = self.accs.last_mut() {
            a.enter(code as usize, ordered(t_ns));
        }
    }
    fn exit(&mut self, t_ns: i64) {
        if let Some(a) = self.accs.last_mut() {
            a.exit(ordered(t_ns));
        }
    }
}

/// The summary of a trace whose threads' figures were accumulated from their events
/// ([`EventAcc`], one per thread of `t` in order); `t` needs no calls.
pub fn from_threads(t: &Trace, accs: Vec<EventAcc>) -> Summary {
    let n_codes = t.codes.len();
    let mut gather = Gather::new(t, vec![vec![Acc::default(); n_codes]; t.processes.len()]);
    for (ti, e) in accs.into_iter().take(t.threads.len()).enumerate() {
        gather.add(t, ti, &e.dense(n_codes));
    }
    gather.finish(t)
}

/// The summary as JSON (schema in `docs/format.md`, "The summary as JSON").
pub fn summary_json(t: &Trace) -> String {
    // Serializing plain structs of strings and integers cannot fail.
    serde_json::to_string(&summarize(t)).unwrap_or_else(|_| "{\"overall\":[],\"processes\":[],\"threads\":[]}".into())
}

/// The overall rows alone, as JSON (`{"overall": [ROW, ...]}`): what the HTML export and the
/// notebook widget send with the trace. The timeline computes the per-process and per-thread
/// figures from the trace itself, by the same rules (js/layout.js `computeSummary`), so they cost
/// no bytes (a 310-thread trace's per-thread rows were 12 times its `.fpt`); the overall rows
/// are what it shows when a trace is too large to decode in the browser.
pub fn overall_json(t: &Trace) -> String {
    #[derive(Serialize)]
    struct Overall {
        overall: Vec<Row>,
    }
    serde_json::to_string(&Overall { overall: summarize(t).overall }).unwrap_or_else(|_| "{\"overall\":[]}".into())
}
