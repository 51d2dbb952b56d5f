//! Text made safe for HTML: names from the profiled program (functions, files, threads, titles) are
//! text, never markup, wherever a page or table is written (`formats::html`, the tables of
//! `crate::table`, the notebook frame of `crate::evcxr`).

/// Escape text for HTML element content and attribute values.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 16);
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(ch),
        }
    }
    out
}
