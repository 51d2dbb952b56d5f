//! The self-contained HTML export: one file holding the timeline (the "export" bundle of
//! [`crate::assets`]), its stylesheet, the trace as base64 `.fpt` and the overall summary rows
//! ([`crate::summary::overall_json`]; the page computes the per-thread ones from the trace). It opens
//! from disk (`file://`) with no server and no network; a Content-Security-Policy forbids any
//! remote load. Every string from the trace is data (base64 or JSON read by the page's script and
//! shown as text), never markup.

use base64::Engine;

use crate::assets::{bundle, css, html_escape};
use crate::formats::fpt;
use crate::model::Trace;
use crate::summary::overall_json;

const CSP: &str = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; \
img-src data: blob:; base-uri 'none'; form-action 'none'";

/// JSON to embed in a `<script type="application/json">` element: `<` (so `</script>` and `<!--`
/// cannot appear), `>` and `&` become `\u` escapes, which leave the JSON value unchanged (they can
/// only occur inside JSON strings).
pub fn json_for_script(json: &str) -> String {
    let mut out = String::with_capacity(json.len() + 16);
    for ch in json.chars() {
        match ch {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            _ => out.push(ch),
        }
    }
    out
}

/// Our own script inside a `<script>` element: no `</script` can close it early.
fn script_text(js: &str) -> String {
    js.replace("</script", "<\\/script").replace("</SCRIPT", "<\\/SCRIPT")
}

/// The whole HTML page for `trace`, titled `title` (escaped).
pub fn to_html(trace: &Trace, title: &str) -> String {
    page(&fpt::encode(trace), &overall_json(trace), title)
}

/// The page from a trace already encoded (`fpt::encode`) and summarised (`overall_json`; a whole
/// `summary_json` works too, but its per-thread rows are dead weight: the page computes them): a
/// host that also sends them elsewhere (the notebook's widget) encodes and summarises once.
pub fn page(encoded: &[u8], summary_json: &str, title: &str) -> String {
    let data = base64::engine::general_purpose::STANDARD.encode(encoded);
    let summary = json_for_script(summary_json);
    let js = match bundle("export") {
        Some(js) => script_text(&js),
        None => {
            "document.getElementById('fprofile-app').textContent = 'This build of fprofile has no timeline assets.';".to_string()
        }
    };
    let title = html_escape(title);
    let style = css();
    let version = env!("CARGO_PKG_VERSION");
    let mut out = String::with_capacity(data.len() + summary.len() + js.len() + style.len() + 2048);
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    out.push_str(&format!("<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\n"));
    out.push_str(&format!("<meta name=\"generator\" content=\"fprofile-jupyter {version}\">\n"));
    out.push_str(&format!("<title>{title}</title>\n<style>\n{style}</style>\n</head>\n"));
    out.push_str("<body class=\"fprofile-page\">\n<header class=\"fprofile-page-header\">");
    out.push_str(&format!("<h1>{title}</h1><span class=\"fprofile-page-status\"></span></header>\n"));
    out.push_str("<main class=\"fprofile-page-main\" id=\"fprofile-app\"></main>\n");
    out.push_str("<noscript>This profile needs JavaScript to show its timeline.</noscript>\n");
    out.push_str("<script type=\"application/octet-stream\" id=\"fprofile-data\">");
    out.push_str(&data);
    out.push_str("</script>\n<script type=\"application/json\" id=\"fprofile-summary\">");
    out.push_str(&summary);
    out.push_str("</script>\n<script type=\"module\">\n");
    out.push_str(&js);
    out.push_str("</script>\n</body>\n</html>\n");
    out
}
