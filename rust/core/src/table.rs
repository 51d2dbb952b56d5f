//! The one renderer of the tables of functions: a summary's ([`crate::summary::text_table`],
//! [`crate::summary::html_table`], the notebook's static copy [`crate::summary::static_table`]) and a
//! comparison's ([`crate::compare::text_table`], [`crate::compare::html_table`]). A table is its
//! columns and the rows shown; this module lays them out as fixed-width text or as HTML.
//!
//! Rules:
//! - Text: the title line, the header, a line per row, then `... N more rows` when rows were left
//!   out, or the `empty` line when there are none. Right-aligned columns are separated by one
//!   space, a left-aligned one by two; the last column is not padded; lines carry no trailing
//!   blanks. Every cell is shown on one line ([`one_line`]); widths are terminal columns.
//! - HTML: every text and attribute value is escaped here ([`html_escape`]): names from the profiled
//!   program are text, never markup. Only [`Column::th_after`], a caller's constant markup, is not.

use crate::escape::html_escape;
use crate::units::{display_width, one_line, pad_left_to_width, pad_to_width};

/// Where a column's text lines up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

/// How wide a column is in the text table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Width {
    /// Each cell padded to this many columns (a wider cell takes more, the others stay).
    Fixed(usize),
    /// The widest of the label and the cells, kept within `min..=max` (a longer cell is cut, `~`).
    Fit { min: usize, max: usize },
}

/// An attribute of an HTML element: its name and its value (escaped when written).
pub type Attr = (&'static str, String);

/// One column: its label, its layout in text, its attributes in HTML.
#[derive(Debug, Clone)]
pub struct Column {
    pub label: String,
    pub align: Align,
    pub width: Width,
    /// Attributes of the header cell.
    pub th_attrs: Vec<Attr>,
    /// Markup after the label in the header cell (constant markup of the caller, not escaped).
    pub th_after: &'static str,
    /// Attributes of every cell of the column (before the cell's own).
    pub td_attrs: Vec<Attr>,
}

impl Column {
    /// A column with no HTML attributes.
    pub fn new(label: impl Into<String>, align: Align, width: Width) -> Column {
        Column { label: label.into(), align, width, th_attrs: Vec::new(), th_after: "", td_attrs: Vec::new() }
    }
}

/// One cell: its text (the same in text and HTML) and its own HTML attributes.
#[derive(Debug, Clone, Default)]
pub struct Cell {
    pub text: String,
    pub attrs: Vec<Attr>,
}

impl Cell {
    pub fn new(text: impl Into<String>) -> Cell {
        Cell { text: text.into(), attrs: Vec::new() }
    }
    pub fn with(text: impl Into<String>, attrs: Vec<Attr>) -> Cell {
        Cell { text: text.into(), attrs }
    }
}

/// A part of an HTML caption: text, or text in a `<span>` of a class (that a script may rewrite).
#[derive(Debug, Clone)]
pub enum Caption {
    Text(String),
    Span(&'static str, String),
}

/// The columns, the rows shown, and how many rows there are in all.
#[derive(Debug, Clone)]
pub struct Table {
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Cell>>,
    pub total: usize,
}

impl Table {
    /// The fixed-width text table under `title`; `empty`: the line shown when there is no row.
    pub fn text(&self, title: &str, empty: &str) -> String {
        let cells: Vec<Vec<String>> = self.rows.iter().map(|r| r.iter().map(|c| one_line(&c.text)).collect()).collect();
        let widths: Vec<usize> = self
            .columns
            .iter()
            .enumerate()
            .map(|(k, col)| match col.width {
                Width::Fixed(n) => n,
                Width::Fit { min, max } => cells
                    .iter()
                    .filter_map(|r| r.get(k))
                    .map(|c| display_width(c))
                    .chain([display_width(&col.label)])
                    .max()
                    .unwrap_or(0)
                    .clamp(min, max),
            })
            .collect();
        let last = self.columns.len().saturating_sub(1);
        let line = |texts: &mut dyn Iterator<Item = &str>| {
            let mut s = String::new();
            for (k, (col, text)) in self.columns.iter().zip(texts).enumerate() {
                if k > 0 {
                    let both_right = col.align == Align::Right && self.columns[k - 1].align == Align::Right;
                    s.push_str(if both_right { " " } else { "  " });
                }
                match col.align {
                    Align::Right => s.push_str(&pad_left_to_width(text, widths[k])),
                    Align::Left if k == last => s.push_str(text),
                    Align::Left => s.push_str(&pad_to_width(text, widths[k])),
                }
            }
            s.truncate(s.trim_end().len());
            s.push('\n');
            s
        };
        let mut out = String::from(title);
        out.push('\n');
        out.push_str(&line(&mut self.columns.iter().map(|c| c.label.as_str())));
        for row in &cells {
            out.push_str(&line(&mut row.iter().map(String::as_str)));
        }
        if self.rows.len() < self.total {
            out.push_str(&format!("... {} more rows\n", self.total - self.rows.len()));
        }
        if self.total == 0 {
            out.push_str(empty);
            out.push('\n');
        }
        out.pop();
        out
    }

    /// The HTML table: a `<table>` with `attrs`, its `caption` (none when empty), a header row,
    /// the rows, then `<p>... N more rows</p>` when rows were left out.
    pub fn html(&self, attrs: &[Attr], caption: &[Caption]) -> String {
        let mut out = format!("<table{}>\n", attributes(attrs));
        if !caption.is_empty() {
            out.push_str("<caption>");
            for part in caption {
                match part {
                    Caption::Text(t) => out.push_str(&html_escape(t)),
                    Caption::Span(class, t) => out.push_str(&format!("<span class=\"{class}\">{}</span>", html_escape(t))),
                }
            }
            out.push_str("</caption>\n");
        }
        out.push_str("<thead><tr>");
        for col in &self.columns {
            out.push_str(&format!("<th{}>{}{}</th>", attributes(&col.th_attrs), html_escape(&col.label), col.th_after));
        }
        out.push_str("</tr></thead>\n<tbody>\n");
        for row in &self.rows {
            out.push_str("<tr>");
            for (col, cell) in self.columns.iter().zip(row) {
                out.push_str(&format!(
                    "<td{}{}>{}</td>",
                    attributes(&col.td_attrs),
                    attributes(&cell.attrs),
                    html_escape(&cell.text)
                ));
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</tbody>\n</table>");
        if self.rows.len() < self.total {
            out.push_str(&format!("<p>... {} more rows</p>", self.total - self.rows.len()));
        }
        out
    }
}

fn attributes(attrs: &[Attr]) -> String {
    attrs.iter().map(|(k, v)| format!(" {k}=\"{}\"", html_escape(v))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(rows: &[(&str, &str)], total: usize) -> Table {
        Table {
            columns: vec![
                Column::new("n", Align::Right, Width::Fixed(3)),
                Column::new("name", Align::Left, Width::Fit { min: 4, max: 6 }),
                Column::new("where", Align::Left, Width::Fit { min: 0, max: usize::MAX }),
            ],
            rows: rows.iter().map(|(a, b)| vec![Cell::new("1"), Cell::new(*a), Cell::new(*b)]).collect(),
            total,
        }
    }

    #[test]
    fn text_lines_up_cuts_and_counts() {
        let t = table(&[("a\tb", "x"), ("longer name", "")], 3);
        assert_eq!(t.text("T", "(none)"), "T\n  n  name    where\n  1  a\\tb    x\n  1  longe~\n... 1 more rows");
        assert_eq!(table(&[], 0).text("T", "(none)"), "T\n  n  name  where\n(none)");
    }

    #[test]
    fn html_escapes_text_and_attributes() {
        let mut t = table(&[("<f>", "\"q\"")], 1);
        t.rows[0][2].attrs.push(("title", "a&b".into()));
        let h = t.html(&[("class", "c".into())], &[Caption::Text("x<y".into()), Caption::Span("by", "&".into())]);
        assert!(h.starts_with("<table class=\"c\">\n<caption>x&lt;y<span class=\"by\">&amp;</span></caption>\n"), "{h}");
        assert!(h.contains("<td>&lt;f&gt;</td><td title=\"a&amp;b\">&quot;q&quot;</td>"), "{h}");
        assert!(!table(&[], 0).html(&[], &[]).contains("<caption>"));
    }
}
