//! Two traces compared: per function ([`compare`]) and per call path ([`diff_flame`]).
//!
//! **Matching.** A function of trace `a` and one of trace `b` are the same when they have the same
//! file and name (the qualified name where Python records it); their first lines may differ (the
//! file was edited). When several functions of one file share a name in a trace (two `<lambda>`s,
//! a name defined twice, or two classes' `__init__` on a Python that records bare names), they are
//! paired first by equal first line, then the rest in order of their first lines (the first left
//! in `a` with the first left in `b`, ...); what is left over on one side is that side's alone.
//!
//! **Figures.** Each side's calls, total, self and mean time are its summary's
//! ([`crate::summary`], all threads): recursion counted once, integer ns. A function a side never
//! called has zeros there. The differences are `b - a`; the relative change is the difference over
//! `a`'s figure (infinite when `a`'s is 0 and `b`'s is not). Two views: *total* (total time) and
//! *per call* (mean time of one call), so that runs of different lengths compare fairly.
//!
//! **Orders** ([`CompareSort`]): by absolute change (largest `|b - a|` first), by relative change
//! (largest `|b - a| / a` first, functions of one side only first), or by the change in calls.
//!
//! **Differential flame tree** ([`diff_flame`]): the union of both traces' call paths (all threads
//! merged, as [`crate::flame::flame`]), each node with both sides' figures; a path only one side
//! has shows zeros (`calls == 0`) on the other.

use crate::flame::{Arena, Figures, NONE};
use crate::model::Trace;
use crate::summary::{summarize, Row};
use crate::units::{format_duration, one_line};

/// One side's figures of a function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Side {
    pub calls: u64,
    pub total_ns: u64,
    pub self_ns: u64,
    /// Mean duration of one call (the summary's `mean_ns`), 0 without calls.
    pub mean_ns: u64,
}

impl Side {
    fn of(r: &Row) -> Side {
        Side { calls: r.calls, total_ns: r.total_ns, self_ns: r.self_ns, mean_ns: r.mean_ns }
    }

    /// Self time per call (rounded), 0 without calls.
    pub fn self_per_call_ns(&self) -> u64 {
        self.self_ns.saturating_add(self.calls / 2).checked_div(self.calls).unwrap_or(0)
    }
}

/// The times a view shows of a row: ((time a, time b), (self a, self b)); total and self time,
/// or mean and self time per call.
fn view_times(r: &DiffRow, per_call: bool) -> ((u64, u64), (u64, u64)) {
    if per_call {
        ((r.a.mean_ns, r.b.mean_ns), (r.a.self_per_call_ns(), r.b.self_per_call_ns()))
    } else {
        ((r.a.total_ns, r.b.total_ns), (r.a.self_ns, r.b.self_ns))
    }
}

/// Which side(s) a function or path was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    Both,
    OnlyA,
    OnlyB,
}

impl Presence {
    pub fn name(self) -> &'static str {
        match self {
            Presence::Both => "both",
            Presence::OnlyA => "only_a",
            Presence::OnlyB => "only_b",
        }
    }
}

/// One function of a comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffRow {
    /// Index of this function in [`Comparison::rows`] as `compare` made them (the `func` of the
    /// differential flame tree); kept when rows are sorted.
    pub id: u32,
    pub function: String,
    pub file: String,
    /// First line on each side (`None` where the side does not have the function).
    pub line_a: Option<u32>,
    pub line_b: Option<u32>,
    /// Code ids on each side.
    pub code_a: Option<u32>,
    pub code_b: Option<u32>,
    pub a: Side,
    pub b: Side,
}

/// `b - a` as a signed number (saturating).
fn diff(a: u64, b: u64) -> i64 {
    let d = i128::from(b) - i128::from(a);
    d.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

/// `(b - a) / a`: infinite when only `b` is non-zero, 0 when both are 0.
fn relative(a: u64, b: u64) -> f64 {
    if a == 0 {
        return if b == 0 { 0.0 } else { f64::INFINITY };
    }
    diff(a, b) as f64 / a as f64
}

impl DiffRow {
    pub fn presence(&self) -> Presence {
        match (self.code_a, self.code_b) {
            (Some(_), None) => Presence::OnlyA,
            (None, Some(_)) => Presence::OnlyB,
            _ => Presence::Both,
        }
    }
    pub fn calls_diff(&self) -> i64 {
        diff(self.a.calls, self.b.calls)
    }
    pub fn total_diff_ns(&self) -> i64 {
        diff(self.a.total_ns, self.b.total_ns)
    }
    pub fn self_diff_ns(&self) -> i64 {
        diff(self.a.self_ns, self.b.self_ns)
    }
    pub fn mean_diff_ns(&self) -> i64 {
        diff(self.a.mean_ns, self.b.mean_ns)
    }
    /// The change in the view's time (total, or mean per call).
    pub fn time_diff_ns(&self, per_call: bool) -> i64 {
        if per_call {
            self.mean_diff_ns()
        } else {
            self.total_diff_ns()
        }
    }
    /// The relative change of the view's time: `(b - a) / a`.
    pub fn relative(&self, per_call: bool) -> f64 {
        if per_call {
            relative(self.a.mean_ns, self.b.mean_ns)
        } else {
            relative(self.a.total_ns, self.b.total_ns)
        }
    }
}

/// Orders of comparison rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareSort {
    /// Largest absolute change of the view's time first.
    Abs,
    /// Largest relative change of the view's time first.
    Rel,
    /// Largest change in the number of calls first.
    Calls,
}

/// A sort name that is not one of [`CompareSort::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown comparison order {name:?} (choose from abs, rel, calls)")]
pub struct UnknownCompareSort {
    pub name: String,
}

impl CompareSort {
    pub const ALL: [CompareSort; 3] = [CompareSort::Abs, CompareSort::Rel, CompareSort::Calls];

    pub fn name(self) -> &'static str {
        match self {
            CompareSort::Abs => "abs",
            CompareSort::Rel => "rel",
            CompareSort::Calls => "calls",
        }
    }

    pub fn from_name(name: &str) -> Result<CompareSort, UnknownCompareSort> {
        CompareSort::ALL.into_iter().find(|k| k.name() == name).ok_or_else(|| UnknownCompareSort { name: name.to_owned() })
    }
}

/// Orders `rows` by `by` in the total or the per-call view (ties: the other measures, then
/// function, file and id, so the order is always the same).
pub fn sort_rows(rows: &mut [DiffRow], by: CompareSort, per_call: bool) {
    let abs = |r: &DiffRow| r.time_diff_ns(per_call).unsigned_abs();
    let rel = |r: &DiffRow| r.relative(per_call).abs();
    let calls = |r: &DiffRow| r.calls_diff().unsigned_abs();
    let names = |x: &DiffRow, y: &DiffRow| x.function.cmp(&y.function).then(x.file.cmp(&y.file)).then(x.id.cmp(&y.id));
    match by {
        CompareSort::Abs => rows.sort_by(|x, y| abs(y).cmp(&abs(x)).then(rel(y).total_cmp(&rel(x))).then(names(x, y))),
        CompareSort::Rel => rows.sort_by(|x, y| rel(y).total_cmp(&rel(x)).then(abs(y).cmp(&abs(x))).then(names(x, y))),
        CompareSort::Calls => rows.sort_by(|x, y| calls(y).cmp(&calls(x)).then(abs(y).cmp(&abs(x))).then(names(x, y))),
    }
}

/// Why two traces cannot be compared.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompareError {
    /// One side has no calls: there is nothing to compare it with.
    #[error("trace {side} holds no calls: nothing to compare")]
    Empty { side: char },
}

/// Two traces compared per function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comparison {
    /// Every function of either side, by absolute change of total time (see [`sort_rows`]);
    /// `rows[k].id == k`.
    pub rows: Vec<DiffRow>,
    /// Row id of each code of `a` and of `b` (`NONE` for a code without calls).
    pub row_of_a: Vec<u32>,
    pub row_of_b: Vec<u32>,
    /// Number of calls of each trace.
    pub calls_a: u64,
    pub calls_b: u64,
}

/// Compares two traces per function (see the module docs for the matching rule).
pub fn compare(a: &Trace, b: &Trace) -> Result<Comparison, CompareError> {
    if a.calls.is_empty() {
        return Err(CompareError::Empty { side: 'a' });
    }
    if b.calls.is_empty() {
        return Err(CompareError::Empty { side: 'b' });
    }
    let (sa, sb) = (summarize(a).overall, summarize(b).overall);
    // (file, name) -> the rows of each side, by first line
    type Group<'r> = (Vec<&'r Row>, Vec<&'r Row>);
    let mut groups: std::collections::BTreeMap<(&str, &str), Group> = Default::default();
    for r in &sa {
        groups.entry((r.file.as_str(), r.function.as_str())).or_default().0.push(r);
    }
    for r in &sb {
        groups.entry((r.file.as_str(), r.function.as_str())).or_default().1.push(r);
    }
    let mut rows: Vec<DiffRow> = Vec::with_capacity(groups.len());
    let new_row = |ra: Option<&Row>, rb: Option<&Row>| {
        let any = ra.or(rb);
        DiffRow {
            id: 0,
            function: any.map(|r| r.function.clone()).unwrap_or_default(),
            file: any.map(|r| r.file.clone()).unwrap_or_default(),
            line_a: ra.map(|r| r.line),
            line_b: rb.map(|r| r.line),
            code_a: ra.map(|r| r.code),
            code_b: rb.map(|r| r.code),
            a: ra.map(Side::of).unwrap_or_default(),
            b: rb.map(Side::of).unwrap_or_default(),
        }
    };
    for (_, (mut ga, mut gb)) in groups {
        let by_line = |x: &&Row, y: &&Row| x.line.cmp(&y.line).then(x.code.cmp(&y.code));
        ga.sort_by(by_line);
        gb.sort_by(by_line);
        if ga.len() > 1 || gb.len() > 1 {
            // equal first lines first
            let mut k = 0;
            while k < ga.len() {
                match gb.iter().position(|r| r.line == ga[k].line) {
                    Some(j) => {
                        rows.push(new_row(Some(ga.remove(k)), Some(gb.remove(j))));
                    }
                    None => k += 1,
                }
            }
        }
        let (la, lb) = (ga.len(), gb.len());
        for k in 0..la.max(lb) {
            rows.push(new_row(ga.get(k).copied(), gb.get(k).copied()));
        }
    }
    sort_rows(&mut rows, CompareSort::Abs, false);
    let mut row_of_a = vec![NONE; a.codes.len()];
    let mut row_of_b = vec![NONE; b.codes.len()];
    for (k, r) in rows.iter_mut().enumerate() {
        r.id = k as u32;
        if let Some(slot) = r.code_a.and_then(|c| row_of_a.get_mut(c as usize)) {
            *slot = k as u32;
        }
        if let Some(slot) = r.code_b.and_then(|c| row_of_b.get_mut(c as usize)) {
            *slot = k as u32;
        }
    }
    Ok(Comparison { rows, row_of_a, row_of_b, calls_a: a.calls.len() as u64, calls_b: b.calls.len() as u64 })
}

/// One path of the differential flame tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiffNode {
    pub depth: u32,
    /// The function: its row id in [`Comparison::rows`].
    pub func: u32,
    /// Index of the parent node, `u32::MAX` at depth 0.
    pub parent: u32,
    pub a: Figures,
    pub b: Figures,
}

impl DiffNode {
    pub fn presence(&self) -> Presence {
        match (self.a.calls, self.b.calls) {
            (_, 0) => Presence::OnlyA,
            (0, _) => Presence::OnlyB,
            _ => Presence::Both,
        }
    }
}

/// Numbers per node in [`encode_diff_flame`].
pub const DIFF_FLAME_STRIDE: usize = 8;

/// The differential flame tree: both traces' paths (all threads merged) in pre-order, siblings by
/// `b`'s total time, then `a`'s, descending.
pub fn diff_flame(a: &Trace, b: &Trace, cmp: &Comparison) -> Vec<DiffNode> {
    let mut arena: Arena<(Figures, Figures)> = Arena::new();
    for (side, t, row_of) in [(0, a, &cmp.row_of_a), (1, b, &cmp.row_of_b)] {
        let f = crate::flame::flame(t, None, None);
        let mut at: Vec<u32> = Vec::new(); // merged node at each depth
        for n in &f.nodes {
            at.truncate(n.depth as usize);
            let parent = at.last().copied().unwrap_or(NONE);
            let func = row_of.get(n.code as usize).copied().unwrap_or(NONE);
            let id = arena.child(parent, func);
            let slot = &mut arena.payload[id as usize];
            if side == 0 {
                slot.0.add(&n.figures);
            } else {
                slot.1.add(&n.figures);
            }
            at.push(id);
        }
    }
    let p = &arena.payload;
    let order = arena.preorder(|x, y| {
        let (x, y) = (&p[x as usize], &p[y as usize]);
        y.1.total_ns.cmp(&x.1.total_ns).then(y.0.total_ns.cmp(&x.0.total_ns))
    });
    let mut pos = vec![NONE; p.len()];
    let mut out = Vec::with_capacity(order.len());
    for (k, (id, depth)) in order.into_iter().enumerate() {
        pos[id as usize] = k as u32;
        let par = arena.parent[id as usize];
        let (fa, fb) = p[id as usize];
        out.push(DiffNode {
            depth,
            func: arena.code[id as usize],
            parent: if par == NONE { NONE } else { pos[par as usize] },
            a: fa,
            b: fb,
        });
    }
    out
}

/// The compact encoding of a differential tree: [`DIFF_FLAME_STRIDE`] little-endian f64 per node
/// in pre-order: depth, func (row id), total_ns a, self_ns a, calls a, total_ns b, self_ns b,
/// calls b (`docs/format.md`).
pub fn encode_diff_flame(nodes: &[DiffNode]) -> Vec<u8> {
    let mut out = Vec::with_capacity(nodes.len() * DIFF_FLAME_STRIDE * 8);
    for n in nodes {
        for v in [n.depth, n.func]
            .map(f64::from)
            .into_iter()
            .chain([n.a.total_ns, n.a.self_ns, n.a.calls, n.b.total_ns, n.b.self_ns, n.b.calls].map(|x| x as f64))
        {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    out
}

// ------------------------------------------------------------------------------------------------
// Tables

/// The title line: `Comparison of a (1,000 calls) and b (1,200 calls): 12 functions, by absolute change of total time`.
pub fn title(name_a: &str, name_b: &str, cmp: &Comparison, rows: usize, by: CompareSort, per_call: bool) -> String {
    format!("{}, {}", title_head(name_a, name_b, cmp, rows), order_text(by, per_call))
}

/// What an order is called in a title: `by absolute change of total time`.
pub fn order_text(by: CompareSort, per_call: bool) -> String {
    let what = if per_call { "time per call" } else { "total time" };
    match by {
        CompareSort::Abs => format!("by absolute change of {what}"),
        CompareSort::Rel => format!("by relative change of {what}"),
        CompareSort::Calls => "by change in calls".to_owned(),
    }
}

/// The title without its order: `Comparison of a (1,000 calls) and b (1,200 calls): 12 functions`.
fn title_head(name_a: &str, name_b: &str, cmp: &Comparison, rows: usize) -> String {
    use crate::units::format_count;
    format!(
        "Comparison of {} ({} calls) and {} ({} calls): {rows} function{}",
        one_line(name_a),
        format_count(cmp.calls_a),
        one_line(name_b),
        format_count(cmp.calls_b),
        if rows == 1 { "" } else { "s" }
    )
}

/// A relative change as text: `+12.5%`, `-100%` (gone), `new` (only in b), `0%`.
pub fn format_relative(r: f64) -> String {
    if r.is_infinite() {
        return "new".into();
    }
    let pct = r * 100.0;
    if pct == 0.0 {
        return "0%".into();
    }
    let text = if pct.abs() >= 100.0 { format!("{pct:+.0}%") } else { format!("{pct:+.1}%") };
    text.replace(".0%", "%")
}

fn signed_duration(ns: i64) -> String {
    if ns > 0 {
        format!("+{}", format_duration(ns))
    } else {
        format_duration(ns)
    }
}

fn signed_count(n: i64) -> String {
    if n > 0 {
        format!("+{n}")
    } else {
        n.to_string()
    }
}

/// The cells of one row: (calls a, calls b, Δcalls, time a, time b, Δtime, Δ%, self a, self b, Δself).
fn cells(r: &DiffRow, per_call: bool) -> [String; 10] {
    let d = |ns: u64| format_duration(i64::try_from(ns).unwrap_or(i64::MAX));
    let ((ta, tb), (sa, sb)) = view_times(r, per_call);
    [
        r.a.calls.to_string(),
        r.b.calls.to_string(),
        signed_count(r.calls_diff()),
        d(ta),
        d(tb),
        signed_duration(diff(ta, tb)),
        format_relative(r.relative(per_call)),
        d(sa),
        d(sb),
        signed_duration(diff(sa, sb)),
    ]
}

/// What the columns of the two runs call them: their names on one line, at most [`MAX_COLUMN_NAME`]
/// characters (the middle elided: names that differ at their end, `chunk_0001.fpt` and
/// `chunk_0020.fpt`, stay apart).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    pub a: String,
    pub b: String,
}

/// Longest run name in a column header (characters).
pub const MAX_COLUMN_NAME: usize = 24;

impl Names {
    pub fn new(name_a: &str, name_b: &str) -> Names {
        Names { a: column_name(name_a), b: column_name(name_b) }
    }
}

fn column_name(name: &str) -> String {
    let s = one_line(name);
    let chars: Vec<char> = s.chars().collect();
    if chars.len() <= MAX_COLUMN_NAME {
        return s;
    }
    let tail = (MAX_COLUMN_NAME - 1) * 2 / 3; // (the end tells runs apart more often than the start)
    let head = MAX_COLUMN_NAME - 1 - tail;
    chars[..head].iter().chain(['…'].iter()).chain(chars[chars.len() - tail..].iter()).collect()
}

fn headers(per_call: bool, n: &Names) -> [String; 10] {
    let (a, b) = (&n.a, &n.b);
    let (time, own) = if per_call { ("mean", "self/call") } else { ("total", "self") };
    [
        format!("calls {a}"),
        format!("calls {b}"),
        "Δcalls".to_owned(),
        format!("{time} {a}"),
        format!("{time} {b}"),
        format!("Δ{time}"),
        "Δ%".to_owned(),
        format!("{own} {a}"),
        format!("{own} {b}"),
        format!("Δ{own}"),
    ]
}

/// The column an order sorts by (an index into [`headers`]).
fn sort_column(by: CompareSort) -> usize {
    match by {
        CompareSort::Abs => 5,
        CompareSort::Rel => 6,
        CompareSort::Calls => 2,
    }
}

fn only_mark(r: &DiffRow, n: &Names) -> String {
    match r.presence() {
        Presence::Both => String::new(),
        Presence::OnlyA => format!(" (only in {})", n.a),
        Presence::OnlyB => format!(" (only in {})", n.b),
    }
}

fn line_text(r: &DiffRow) -> String {
    match (r.line_a, r.line_b) {
        (Some(x), Some(y)) if x != y => format!("{x}->{y}"),
        (Some(x), _) | (None, Some(x)) => x.to_string(),
        (None, None) => String::new(),
    }
}

/// The rows as a fixed-width text table under `title` (the first `limit` rows when given); the
/// columns are named by the runs' `names` (`calls chunk 1`), functions of one side only are marked
/// `(only in chunk 1)`. File names are shown relative to `roots` ([`crate::paths`]).
pub fn text_table(
    rows: &[DiffRow],
    title: &str,
    limit: Option<usize>,
    per_call: bool,
    roots: &crate::paths::Roots,
    names: &Names,
) -> String {
    use crate::table::{Align, Cell, Column, Table, Width};
    let n = limit.map_or(rows.len(), |l| l.min(rows.len()));
    let mut columns: Vec<Column> = headers(per_call, names)
        .into_iter()
        .map(|h| Column::new(h, Align::Right, Width::Fit { min: 0, max: usize::MAX }))
        .collect();
    columns.push(Column::new("function", Align::Left, Width::Fit { min: 8, max: 40 }));
    columns.push(Column::new("file:line", Align::Left, Width::Fit { min: 0, max: usize::MAX }));
    let rows_shown = rows[..n]
        .iter()
        .map(|r| {
            let mut c: Vec<Cell> = cells(r, per_call).into_iter().map(Cell::new).collect();
            c.push(Cell::new(r.function.as_str()));
            c.push(Cell::new(format!("{}:{}{}", roots.short(&r.file), line_text(r), only_mark(r, names))));
            c
        })
        .collect();
    Table { columns, rows: rows_shown, total: rows.len() }.text(title, "(no functions)")
}

/// Most rows [`html_table`] shows.
pub const HTML_MAX_ROWS: usize = 500;

/// The click handler of a header cell: orders the body's rows by that column's `data-v` values
/// (numbers, or text for the name columns), descending first, ascending on a second click; moves
/// the arrow to that header (▼ descending, ▲ ascending) and says the order in the caption.
const SORT_JS: &str = "var t=this.closest('table'),b=t.tBodies[0],k=this.cellIndex,d=this.dataset.d!=='1';\
for(var h of this.parentNode.cells){delete h.dataset.d;h.removeAttribute('aria-sort');\
var a=h.querySelector('.fprofile-sort-arrow');if(a)a.textContent='';}\
this.dataset.d=d?'1':'0';this.setAttribute('aria-sort',d?'descending':'ascending');\
this.querySelector('.fprofile-sort-arrow').textContent=d?' ▼':' ▲';\
var r=Array.from(b.rows),n=this.dataset.n==='1',o=t.querySelector('.fprofile-compare-by');\
if(o)o.textContent='by '+this.dataset.label+(n?(d?', largest first':', smallest first'):(d?', Z to A':', A to Z'));\
r.sort(function(x,y){var p=x.cells[k].dataset.v,q=y.cells[k].dataset.v;\
var c=n?(parseFloat(p)-parseFloat(q)):(p<q?-1:p>q?1:0);return d?-c:c;});\
r.forEach(function(e){b.appendChild(e);});";

/// The rows as an HTML table with `title` as its caption, the columns named by the runs' `names`;
/// the column of the order `by` has a ▼ and the caption says the order; clicking a header orders
/// by it, moving the arrow and saying the new order in the caption (plain inline JS). Names are
/// escaped ([`crate::table`]); at most [`HTML_MAX_ROWS`] rows. File names are shown relative to
/// `roots` ([`crate::paths`]), the full name in the cell's tooltip; `file.py:4` does not break.
pub fn html_table(
    rows: &[DiffRow],
    title: &str,
    by: CompareSort,
    per_call: bool,
    roots: &crate::paths::Roots,
    names: &Names,
) -> String {
    use crate::table::{Align, Caption, Cell, Column, Table, Width};
    let order = order_text(by, per_call);
    let caption = match title.strip_suffix(order.as_str()) {
        Some(head) => vec![Caption::Text(head.to_owned()), Caption::Span("fprofile-compare-by", order.clone())],
        None => vec![Caption::Text(title.to_owned())],
    };
    let sorted = sort_column(by) + 1;
    let th = |k: usize, label: String, numeric: bool| {
        let mut c =
            Column::new(label.clone(), if numeric { Align::Right } else { Align::Left }, Width::Fit { min: 0, max: usize::MAX });
        c.th_attrs = vec![
            ("style", "cursor:pointer;white-space:nowrap".into()),
            ("title", "click to sort".into()),
            ("data-n", u8::from(numeric).to_string()),
            ("data-label", label),
        ];
        if k == sorted {
            c.th_attrs.extend([("aria-sort", "descending".into()), ("data-d", "1".into())]);
        }
        c.th_attrs.push(("onclick", SORT_JS.into()));
        c.th_after = if k == sorted {
            "<span class=\"fprofile-sort-arrow\"> ▼</span>"
        } else {
            "<span class=\"fprofile-sort-arrow\"></span>"
        };
        if numeric {
            c.td_attrs = vec![("style", "text-align:right;white-space:nowrap".into())];
        }
        c
    };
    let mut columns = vec![th(0, "function".into(), false)];
    for (k, h) in headers(per_call, names).into_iter().enumerate() {
        columns.push(th(k + 1, h, true));
    }
    columns.push(th(11, "file:line".into(), false));
    let shown = rows
        .iter()
        .take(HTML_MAX_ROWS)
        .map(|r| {
            let ((ta, tb), (sa, sb)) = view_times(r, per_call);
            let rel = r.relative(per_call);
            let rel_v = if rel.is_infinite() { "1e300".to_owned() } else { format!("{rel}") };
            let values = [
                r.a.calls.to_string(),
                r.b.calls.to_string(),
                r.calls_diff().to_string(),
                ta.to_string(),
                tb.to_string(),
                diff(ta, tb).to_string(),
                rel_v,
                sa.to_string(),
                sb.to_string(),
                diff(sa, sb).to_string(),
            ];
            let mut c = vec![Cell::with(r.function.as_str(), vec![("data-v", r.function.clone())])];
            c.extend(cells(r, per_call).into_iter().zip(values).map(|(text, v)| Cell::with(text, vec![("data-v", v)])));
            let place = format!("{}:{}", r.file, line_text(r));
            let shown = format!("{}:{}{}", roots.short(&r.file), line_text(r), only_mark(r, names));
            c.push(Cell::with(shown, vec![("data-v", place.clone()), ("title", place), ("style", "white-space:nowrap".into())]));
            c
        })
        .collect();
    Table { columns, rows: shown, total: rows.len() }.html(&[("class", "fprofile-compare".into())], &caption)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_changes_read_well() {
        assert_eq!(format_relative(0.125), "+12.5%");
        assert_eq!(format_relative(-1.0), "-100%");
        assert_eq!(format_relative(f64::INFINITY), "new");
        assert_eq!(format_relative(0.0), "0%");
        assert_eq!(format_relative(0.5), "+50%");
        assert_eq!(relative(0, 0), 0.0);
        assert_eq!(
            CompareSort::from_name("x").unwrap_err().to_string(),
            "unknown comparison order \"x\" (choose from abs, rel, calls)"
        );
    }

    #[test]
    fn column_names_keep_their_ends() {
        let n = Names::new("chunk 1", "run_2026-12-07_chunk_0020.fpt");
        assert_eq!(n.a, "chunk 1");
        assert_eq!(n.b.chars().count(), MAX_COLUMN_NAME);
        assert!(n.b.ends_with("chunk_0020.fpt") && n.b.starts_with("run_2026") && n.b.contains('…'));
        assert_eq!(headers(false, &n)[0], "calls chunk 1");
        assert_eq!(headers(true, &n)[7], "self/call chunk 1");
        assert_eq!(Names::new("a\nb", "b").a, "a\\nb");
    }
}
