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
    let mut overall = vec![Acc::default(); n_codes];
    let mut per_process: Vec<Vec<Acc>> = vec![Vec::new(); t.processes.len()];
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
        if let Some(pacc) = per_process.get_mut(th.process as usize) {
            pacc.resize(n_codes, Acc::default());
            for (o, a) in pacc.iter_mut().zip(&acc) {
                o.add(a);
            }
        }
        threads.push(ThreadSummary { thread: ti as u32, process: th.process, name: th.name().to_string(), rows: rows(t, &acc) });
    }
    let processes = t
        .processes
        .iter()
        .zip(&per_process)
        .enumerate()
        .map(|(pi, (p, acc))| ProcessSummary { process: pi as u32, pid: p.pid, name: p.name.clone(), rows: rows(t, acc) })
        .collect();
    Summary { overall: rows(t, &overall), processes, threads }
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
    let mut overall = vec![Acc::default(); n_codes];
    let mut per_process: Vec<Vec<Acc>> = vec![vec![Acc::default(); n_codes]; t.processes.len()];
    let mut threads = Vec::with_capacity(t.threads.len());
    for (ti, (th, e)) in t.threads.iter().zip(accs).enumerate() {
        let acc = e.dense(n_codes);
        for (o, a) in overall.iter_mut().zip(&acc) {
            o.add(a);
        }
        if let Some(pacc) = per_process.get_mut(th.process as usize) {
            for (o, a) in pacc.iter_mut().zip(&acc) {
                o.add(a);
            }
        }
        threads.push(ThreadSummary { thread: ti as u32, process: th.process, name: th.name().to_string(), rows: rows(t, &acc) });
    }
    let processes = t
        .processes
        .iter()
        .zip(&per_process)
        .enumerate()
        .map(|(pi, (p, acc))| ProcessSummary { process: pi as u32, pid: p.pid, name: p.name.clone(), rows: rows(t, acc) })
        .collect();
    Summary { overall: rows(t, &overall), processes, threads }
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

// ------------------------------------------------------------------------------------------------
// Orders and tables

/// What summary rows can be ordered by: figures descending, names ascending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    Total,
    SelfTime,
    Calls,
    Mean,
    Max,
    Function,
    File,
}

/// A sort key name that is not one of [`SortKey::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown sort key {name:?} (choose from {})", SortKey::ALL.iter().map(|k| k.name()).collect::<Vec<_>>().join(", "))]
pub struct UnknownSortKey {
    pub name: String,
}

impl SortKey {
    pub const ALL: [SortKey; 7] =
        [SortKey::Total, SortKey::SelfTime, SortKey::Calls, SortKey::Mean, SortKey::Max, SortKey::Function, SortKey::File];

    /// The name users type ("total", "self", ...).
    pub fn name(self) -> &'static str {
        match self {
            SortKey::Total => "total",
            SortKey::SelfTime => "self",
            SortKey::Calls => "calls",
            SortKey::Mean => "mean",
            SortKey::Max => "max",
            SortKey::Function => "function",
            SortKey::File => "file",
        }
    }

    /// The key called `name`.
    pub fn from_name(name: &str) -> Result<SortKey, UnknownSortKey> {
        SortKey::ALL.into_iter().find(|k| k.name() == name).ok_or_else(|| UnknownSortKey { name: name.to_owned() })
    }
}

/// Orders `rows` by `by` (stable; ties as documented on each key: by total then code id).
pub fn sort_rows(rows: &mut [Row], by: SortKey) {
    match by {
        SortKey::Total => {
            rows.sort_by(|a, b| b.total_ns.cmp(&a.total_ns).then(b.self_ns.cmp(&a.self_ns)).then(a.code.cmp(&b.code)))
        }
        SortKey::SelfTime => {
            rows.sort_by(|a, b| b.self_ns.cmp(&a.self_ns).then(b.total_ns.cmp(&a.total_ns)).then(a.code.cmp(&b.code)))
        }
        SortKey::Calls => rows.sort_by(|a, b| b.calls.cmp(&a.calls).then(b.total_ns.cmp(&a.total_ns)).then(a.code.cmp(&b.code))),
        SortKey::Mean => rows.sort_by(|a, b| b.mean_ns.cmp(&a.mean_ns).then(a.code.cmp(&b.code))),
        SortKey::Max => rows.sort_by(|a, b| b.max_ns.cmp(&a.max_ns).then(a.code.cmp(&b.code))),
        SortKey::Function => rows.sort_by(|a, b| a.function.cmp(&b.function).then(a.file.cmp(&b.file)).then(a.line.cmp(&b.line))),
        SortKey::File => rows.sort_by(|a, b| a.file.cmp(&b.file).then(a.line.cmp(&b.line))),
    }
}

/// What a table covers, for its title.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every thread (how many there are).
    AllThreads(usize),
    /// One thread: its index and name.
    Thread(u32, String),
    /// One process: its index, its label ([`Trace::process_label`]) and how many threads it has.
    Process(u32, String, usize),
}

/// The title line of a table: `Summary of all threads (3): 12 functions, by total time`,
/// `Summary of process 1 "worker-1 (4242)", 2 threads: ...`.
pub fn title(scope: &Scope, rows: usize, order: SortKey) -> String {
    use crate::units::one_line;
    let scope = match scope {
        Scope::Thread(i, n) => format!("thread {i} {}", one_line(&format!("{n:?}"))),
        Scope::AllThreads(n) => format!("all threads ({n})"),
        Scope::Process(i, label, n) => {
            format!("process {i} {}, {n} thread{}", one_line(&format!("{label:?}")), if *n == 1 { "" } else { "s" })
        }
    };
    let by = match order {
        SortKey::Calls | SortKey::Function | SortKey::File => order.name().to_owned(),
        _ => format!("{} time", order.name()),
    };
    format!("Summary of {scope}: {rows} function{}, by {by}", if rows == 1 { "" } else { "s" })
}

/// The rows as a fixed-width text table under `title` (the first `limit` rows when given).
/// Durations as [`crate::units::format_duration`]; names cut to 40 terminal columns.
pub fn text_table(rows: &[Row], title: &str, limit: Option<usize>, roots: &crate::paths::Roots) -> String {
    use crate::units::{display_width, format_duration, one_line, pad_left_to_width, pad_to_width};
    let n = limit.map_or(rows.len(), |l| l.min(rows.len()));
    let shown = &rows[..n];
    let funcs: Vec<String> = shown.iter().map(|r| one_line(&r.function)).collect();
    let fw = funcs.iter().map(|f| display_width(f)).max().unwrap_or(0).clamp(8, 40);
    let dur = |ns: u64| pad_left_to_width(&format_duration(i64::try_from(ns).unwrap_or(i64::MAX)), 11);
    let mut out = String::from(title);
    out.push('\n');
    out.push_str(&format!(
        "{:>9} {:>11} {:>11} {:>11} {:>11}  {}  {}\n",
        "calls",
        "total",
        "self",
        "mean",
        "max",
        pad_to_width("function", fw),
        "file:line"
    ));
    for (r, f) in shown.iter().zip(&funcs) {
        out.push_str(&format!(
            "{:>9} {} {} {} {}  {}  {}:{}\n",
            r.calls,
            dur(r.total_ns),
            dur(r.self_ns),
            dur(r.mean_ns),
            dur(r.max_ns),
            pad_to_width(f, fw),
            one_line(&roots.short(&r.file)),
            r.line
        ));
    }
    if n < rows.len() {
        out.push_str(&format!("... {} more rows\n", rows.len() - n));
    }
    if rows.is_empty() {
        out.push_str("(no calls)\n");
    }
    out.pop();
    out
}

/// Most rows [`html_table`] shows.
pub const HTML_MAX_ROWS: usize = 500;

/// The rows as an HTML table with `title` as its caption (names escaped; at most
/// [`HTML_MAX_ROWS`] rows).
pub fn html_table(rows: &[Row], title: &str, roots: &crate::paths::Roots) -> String {
    use crate::assets::html_escape;
    use crate::units::format_duration;
    let dur = |ns: u64| format_duration(i64::try_from(ns).unwrap_or(i64::MAX));
    let mut out = String::new();
    out.push_str("<table class=\"fprofile-summary\">\n<caption>");
    out.push_str(&html_escape(title));
    out.push_str("</caption>\n<thead><tr><th>function</th><th>calls</th><th>total</th><th>self</th><th>mean</th><th>max</th><th>file:line</th></tr></thead>\n<tbody>\n");
    let right = "<td style=\"text-align:right\">";
    for r in rows.iter().take(HTML_MAX_ROWS) {
        out.push_str(&format!(
            "<tr><td>{}</td>{right}{}</td>{right}{}</td>{right}{}</td>{right}{}</td>{right}{}</td><td title=\"{}\">{}:{}</td></tr>\n",
            html_escape(&r.function),
            r.calls,
            dur(r.total_ns),
            dur(r.self_ns),
            dur(r.mean_ns),
            dur(r.max_ns),
            html_escape(&r.file),
            html_escape(&roots.short(&r.file)),
            r.line
        ));
    }
    out.push_str("</tbody>\n</table>");
    if rows.len() > HTML_MAX_ROWS {
        out.push_str(&format!("<p>... {} more rows</p>", rows.len() - HTML_MAX_ROWS));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(code: u32, function: &str, calls: u64, total_ns: u64, self_ns: u64) -> Row {
        Row {
            code,
            function: function.into(),
            file: "/a.py".into(),
            line: code,
            calls,
            total_ns,
            self_ns,
            mean_ns: total_ns / calls,
            max_ns: total_ns,
        }
    }

    #[test]
    fn sort_keys_by_name_and_order() {
        assert_eq!(SortKey::from_name("self"), Ok(SortKey::SelfTime));
        assert_eq!(
            SortKey::from_name("x").unwrap_err().to_string(),
            "unknown sort key \"x\" (choose from total, self, calls, mean, max, function, file)"
        );
        let mut rows = vec![row(0, "b", 1, 10, 10), row(1, "a", 5, 30, 1), row(2, "c", 2, 20, 20)];
        sort_rows(&mut rows, SortKey::SelfTime);
        assert_eq!(rows.iter().map(|r| r.code).collect::<Vec<_>>(), [2, 0, 1]);
        sort_rows(&mut rows, SortKey::Function);
        assert_eq!(rows.iter().map(|r| r.code).collect::<Vec<_>>(), [1, 0, 2]);
        sort_rows(&mut rows, SortKey::Calls);
        assert_eq!(rows.iter().map(|r| r.code).collect::<Vec<_>>(), [1, 2, 0]);
    }

    #[test]
    fn titles_name_the_scope_and_order() {
        assert_eq!(title(&Scope::AllThreads(3), 1, SortKey::Total), "Summary of all threads (3): 1 function, by total time");
        assert_eq!(
            title(&Scope::Thread(0, "Main\n".into()), 2, SortKey::Calls),
            "Summary of thread 0 \"Main\\n\": 2 functions, by calls"
        );
    }

    #[test]
    fn text_columns_line_up_with_micro_signs_and_wide_names() {
        let rows = vec![row(0, "函数", 3, 12_345_678, 1_500), row(1, "f", 1, 999, 999)];
        let t = text_table(&rows, "T", None, &Default::default());
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[0], "T");
        assert!(lines[2].contains("12.35 ms") && lines[2].contains("1.5 µs"), "{t}");
        let col = |l: &str| crate::units::display_width(&l[..l.find("/a.py").unwrap_or(l.len())]);
        assert_eq!(col(lines[2]), col(lines[3]), "{t}");
        assert_eq!(
            text_table(&[], "T", None, &Default::default()),
            "T\n    calls       total        self        mean         max  function  file:line\n(no calls)"
        );
        assert!(text_table(&rows, "T", Some(1), &Default::default()).ends_with("... 1 more rows"));
    }

    #[test]
    fn html_escapes_names() {
        let h = html_table(&[row(0, "<f>", 1, 1_000, 1_000)], "a & b", &Default::default());
        assert!(h.contains("<caption>a &amp; b</caption>") && h.contains("<td>&lt;f&gt;</td>") && h.contains(">1 µs<"), "{h}");
    }
}
