//! Two traces compared: per function ([`compare`]) and per call path ([`diff_flame`]); both from
//! the sides' summaries and flame graphs ([`compare_parts`], [`diff_flames`]), so that a trace
//! answered from its file (`crate::filetrace`) compares by the same rule without loading its calls.
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
//!
//! Titles and tables are in [`tables`] (re-exported here).

use crate::flame::{Arena, Figures, Flame, NONE};
use crate::model::Trace;
use crate::summary::{summarize, Row};

pub mod tables;
pub use tables::*;

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
pub(crate) fn view_times(r: &DiffRow, per_call: bool) -> ((u64, u64), (u64, u64)) {
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
pub(crate) fn diff(a: u64, b: u64) -> i64 {
    let d = i128::from(b) - i128::from(a);
    d.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

/// `(b - a) / a`: infinite when only `b` is non-zero, 0 when both are 0.
pub(crate) fn relative(a: u64, b: u64) -> f64 {
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

/// One side of a comparison as [`compare_parts`] takes it: its summary's overall rows, its number
/// of functions (codes) and of calls. What a loaded trace gives ([`Part::of`]) and what a trace
/// answered from its file gives (`crate::filetrace::FileTrace::summary`), so that both compare by
/// the one rule.
#[derive(Debug, Clone, Copy)]
pub struct Part<'a> {
    pub overall: &'a [Row],
    pub codes: usize,
    pub calls: u64,
}

impl<'a> Part<'a> {
    /// The side of a loaded trace, `overall` its summary's overall rows.
    pub fn of(t: &Trace, overall: &'a [Row]) -> Part<'a> {
        Part { overall, codes: t.codes.len(), calls: t.calls.len() as u64 }
    }
}

/// Compares two traces per function (see the module docs for the matching rule): [`compare_parts`]
/// of their summaries.
pub fn compare(a: &Trace, b: &Trace) -> Result<Comparison, CompareError> {
    let (sa, sb) = (summarize(a).overall, summarize(b).overall);
    compare_parts(Part::of(a, &sa), Part::of(b, &sb))
}

/// Compares two sides given by their summaries (see the module docs for the matching rule); memory
/// and time bounded by the number of functions, whatever the number of calls.
pub fn compare_parts(a: Part<'_>, b: Part<'_>) -> Result<Comparison, CompareError> {
    if a.calls == 0 {
        return Err(CompareError::Empty { side: 'a' });
    }
    if b.calls == 0 {
        return Err(CompareError::Empty { side: 'b' });
    }
    let (sa, sb) = (a.overall, b.overall);
    // (file, name) -> the rows of each side, by first line
    type Group<'r> = (Vec<&'r Row>, Vec<&'r Row>);
    let mut groups: std::collections::BTreeMap<(&str, &str), Group> = Default::default();
    for r in sa {
        groups.entry((r.file.as_str(), r.function.as_str())).or_default().0.push(r);
    }
    for r in sb {
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
    let mut row_of_a = vec![NONE; a.codes];
    let mut row_of_b = vec![NONE; b.codes];
    for (k, r) in rows.iter_mut().enumerate() {
        r.id = k as u32;
        if let Some(slot) = r.code_a.and_then(|c| row_of_a.get_mut(c as usize)) {
            *slot = k as u32;
        }
        if let Some(slot) = r.code_b.and_then(|c| row_of_b.get_mut(c as usize)) {
            *slot = k as u32;
        }
    }
    Ok(Comparison { rows, row_of_a, row_of_b, calls_a: a.calls, calls_b: b.calls })
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
    diff_flames(&crate::flame::flame(a, None, None), &crate::flame::flame(b, None, None), cmp)
}

/// [`diff_flame`] from the two sides' flame graphs (all threads, whole run: `crate::flame::flame`
/// with no threads and no window, or a file's `FileTrace::flame(None, None)`); memory bounded by
/// the number of paths.
pub fn diff_flames(fa: &Flame, fb: &Flame, cmp: &Comparison) -> Vec<DiffNode> {
    let mut arena: Arena<(Figures, Figures)> = Arena::new();
    for (side, f, row_of) in [(0, fa, &cmp.row_of_a), (1, fb, &cmp.row_of_b)] {
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
}
