//! The orders of a summary's rows ([`SortKey`], [`sort_rows`]), the title of a table ([`title`])
//! and the tables themselves, laid out by the one renderer ([`crate::table`]): text
//! ([`text_table`]), HTML ([`html_table`]) and the notebook's static copy ([`static_table`]).

use super::Row;

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

/// The summary table's columns: the figures, the function, the place. `html_right`: the attributes
/// of a figure's HTML cell.
fn columns(html_right: &[crate::table::Attr]) -> Vec<crate::table::Column> {
    use crate::table::{Align, Column, Width};
    let mut cols = vec![Column::new("function", Align::Left, Width::Fit { min: 8, max: 40 })];
    for (label, width) in [("calls", 9), ("total", 11), ("self", 11), ("mean", 11), ("max", 11)] {
        let mut c = Column::new(label, Align::Right, Width::Fixed(width));
        c.td_attrs = html_right.to_vec();
        cols.push(c);
    }
    cols.push(Column::new("file:line", Align::Left, Width::Fit { min: 0, max: usize::MAX }));
    cols
}

/// The cells of a row, in the order of [`columns`] (figures as [`crate::units::format_duration`]).
fn cells(r: &Row, roots: &crate::paths::Roots) -> Vec<crate::table::Cell> {
    use crate::table::Cell;
    let dur = |ns: u64| Cell::new(crate::units::format_duration(i64::try_from(ns).unwrap_or(i64::MAX)));
    vec![
        Cell::new(r.function.as_str()),
        Cell::new(r.calls.to_string()),
        dur(r.total_ns),
        dur(r.self_ns),
        dur(r.mean_ns),
        dur(r.max_ns),
        Cell::with(format!("{}:{}", roots.short(&r.file), r.line), vec![("title", r.file.clone())]),
    ]
}

/// The table of the first `limit` rows (all when None), the figures' HTML cells with
/// `html_right`; `figures_first`: the text table's order (figures, function, place), else the
/// HTML's (function, figures, place).
fn table(
    rows: &[Row],
    limit: Option<usize>,
    html_right: &[crate::table::Attr],
    roots: &crate::paths::Roots,
    figures_first: bool,
) -> crate::table::Table {
    let order: [usize; 7] = if figures_first { [1, 2, 3, 4, 5, 0, 6] } else { [0, 1, 2, 3, 4, 5, 6] };
    let n = limit.map_or(rows.len(), |l| l.min(rows.len()));
    crate::table::Table {
        columns: reorder(columns(html_right), &order),
        rows: rows[..n].iter().map(|r| reorder(cells(r, roots), &order)).collect(),
        total: rows.len(),
    }
}

/// `v` in the `order` of its indices.
fn reorder<T>(v: Vec<T>, order: &[usize]) -> Vec<T> {
    let mut v: Vec<Option<T>> = v.into_iter().map(Some).collect();
    order.iter().filter_map(|&k| v.get_mut(k).and_then(Option::take)).collect()
}

/// The rows as a fixed-width text table under `title` (the first `limit` rows when given), in the
/// order figures, function, place ([`crate::table`]). Durations as
/// [`crate::units::format_duration`]; names cut to 40 terminal columns.
pub fn text_table(rows: &[Row], title: &str, limit: Option<usize>, roots: &crate::paths::Roots) -> String {
    table(rows, limit, &[], roots, true).text(title, "(no calls)")
}

/// Most rows [`html_table`] shows.
pub const HTML_MAX_ROWS: usize = 500;

/// The rows as an HTML table with `title` as its caption (names escaped; at most
/// [`HTML_MAX_ROWS`] rows), in the order function, figures, place.
pub fn html_table(rows: &[Row], title: &str, roots: &crate::paths::Roots) -> String {
    use crate::table::Caption;
    table(rows, Some(HTML_MAX_ROWS), &[("style", "text-align:right".into())], roots, false)
        .html(&[("class", "fprofile-summary".into())], &[Caption::Text(title.to_owned())])
}

/// The table of a notebook's static copy (what shows where the timeline's script does not run):
/// the first `limit` rows as [`html_table`] has them, without a caption.
pub fn static_table(rows: &[Row], limit: usize, roots: &crate::paths::Roots) -> String {
    let attrs = [("class", "fprofile-summary-static".into()), ("style", "border-collapse:collapse".into())];
    table(rows, Some(limit), &[("style", "text-align:right".into())], roots, false).html(&attrs, &[])
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
