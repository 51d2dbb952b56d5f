//! A comparison's titles ([`title`], [`order_text`]) and tables, laid out by the one renderer
//! ([`crate::table`]): text ([`text_table`]) and sortable HTML ([`html_table`]), the columns named
//! by the runs ([`Names`]).

use super::{diff, view_times, CompareSort, Comparison, DiffRow, Presence};
use crate::units::{format_duration, one_line};

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
