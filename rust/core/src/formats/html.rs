//! The self-contained HTML export: one file holding the timeline (the "export" bundle of
//! [`crate::assets`]), its stylesheet, the trace as base64 `.fpt` and the overall summary rows
//! ([`crate::summary::overall_json`]; the page computes the per-thread ones from the trace). It opens
//! from disk (`file://`) with no server and no network; a Content-Security-Policy forbids any
//! remote load. Every string from the trace is data (base64 or JSON read by the page's script and
//! shown as text), never markup.

use base64::Engine;

use crate::assets::{bundle, css};
use crate::escape::html_escape;
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

/// Above this many calls the export does not embed the trace whole but a pyramid of window
/// replies ([`pyramid`]): a page that must decode tens of millions of calls freezes the tab.
pub const PYRAMID_CALLS: usize = 4_000_000;
/// The pyramid's cap: compressed replies up to this many bytes (levels are added while they fit).
pub const PYRAMID_MAX_BYTES: usize = 24 << 20;
/// Width of each tile of the pyramid, in pixels.
pub const TILE_PX: u64 = 2000;
/// Deepest level of the pyramid (tiles of 1/2^20 of the run).
pub const PYRAMID_MAX_LEVEL: u32 = 20;

/// The whole HTML page for `trace`, titled `title` (escaped): the trace whole, or above
/// [`PYRAMID_CALLS`] calls its pyramid.
pub fn to_html(trace: &Trace, title: &str) -> String {
    to_html_limited(trace, title, PYRAMID_CALLS, PYRAMID_MAX_BYTES)
}

/// [`to_html`] with the limits given: a pyramid of at most `max_bytes` above `pyramid_calls` calls.
pub fn to_html_limited(trace: &Trace, title: &str, pyramid_calls: usize, max_bytes: usize) -> String {
    if trace.calls.len() > pyramid_calls {
        if let Some(p) = pyramid(trace, max_bytes) {
            return pyramid_page(trace, &p, title);
        }
    }
    page(&fpt::encode(trace), &overall_json(trace), title)
}

/// A multi-resolution pyramid of a trace: at level L, tiles of 1/2^L of the run, half-overlapping
/// (a view narrower than half a tile lies inside one), each a window reply at [`TILE_PX`] pixels,
/// compressed; levels are added while the total stays under `max_bytes` and a pixel is wider than
/// a nanosecond.
pub struct Pyramid {
    /// (t0_ns, t1_ns, px, reply bytes), level by level; the first is the whole run.
    pub tiles: Vec<(i64, i64, u32, Vec<u8>)>,
    /// Levels kept (1: the whole run only).
    pub levels: u32,
    /// Nanoseconds per pixel of the finest level.
    pub finest_ns_per_px: f64,
}

/// The pyramid of `trace` (`None` for a trace with no calls).
pub fn pyramid(trace: &Trace, max_bytes: usize) -> Option<Pyramid> {
    let index = crate::window::WindowIndex::build(trace);
    let (a, b) = index.span();
    let span = (b - a).max(1);
    let mut tiles = Vec::new();
    let mut total = 0usize;
    let mut levels = 0;
    let mut finest = span as f64 / TILE_PX as f64;
    for level in 0..=PYRAMID_MAX_LEVEL {
        let parts = 1i64 << level;
        let width = (span + parts - 1) / parts;
        if level > 0 && (width as f64) < TILE_PX as f64 {
            break; // a pixel would be under a nanosecond: the level above shows every call
        }
        let count = if level == 0 { 1 } else { 2 * parts - 1 };
        let mut level_tiles = Vec::with_capacity(count as usize);
        let mut level_bytes = 0usize;
        for k in 0..count {
            let t0 = a + k * width / 2;
            let t1 = (t0 + width).min(b.max(t0 + 1));
            let Ok(reply) = crate::window::query(trace, &index, t0, t1, TILE_PX, None) else { continue };
            let bytes = crate::formats::window::encode(&reply, Some(fpt::ZLIB_LEVEL));
            level_bytes += bytes.len();
            if total + level_bytes > max_bytes && level > 0 {
                break;
            }
            level_tiles.push((t0, t1, TILE_PX as u32, bytes));
        }
        if level > 0 && total + level_bytes > max_bytes {
            break;
        }
        total += level_bytes;
        tiles.extend(level_tiles);
        levels = level + 1;
        finest = width as f64 / TILE_PX as f64;
    }
    if tiles.is_empty() {
        return None;
    }
    Some(Pyramid { tiles, levels, finest_ns_per_px: finest })
}

/// The page of a trace too large to embed whole: its skeleton, its pyramid and what was decimated.
fn pyramid_page(trace: &Trace, p: &Pyramid, title: &str) -> String {
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let tiles: Vec<serde_json::Value> =
        p.tiles.iter().map(|(t0, t1, px, bytes)| serde_json::json!([t0, t1, px, b64(bytes)])).collect();
    let note = format!(
        "This export holds {} calls, too many to embed whole: it holds a multi-resolution summary instead ({} levels, {} \
         tiles, down to {} per pixel). Calls narrower than a pixel at the finest level stay merged (hatched, with their \
         count); the flame graph, search, filters and per-thread summary need every call. The whole trace: fprofile view FILE.",
        crate::units::format_count(trace.calls.len() as u64),
        p.levels,
        crate::units::format_count(p.tiles.len() as u64),
        crate::units::format_duration(p.finest_ns_per_px.round() as i64),
    );
    let json = serde_json::json!({
        "calls": trace.calls.len(),
        "skeleton": b64(&fpt::encode(&crate::window::skeleton(trace))),
        "tiles": tiles,
        "levels": p.levels,
        "note": note,
    });
    page_with(&[], &overall_json(trace), title, Some(&json.to_string()))
}

/// The page from a trace already encoded (`fpt::encode`) and summarised (`overall_json`; a whole
/// `summary_json` works too, but its per-thread rows are dead weight: the page computes them): a
/// host that also sends them elsewhere (the notebook's widget) encodes and summarises once.
pub fn page(encoded: &[u8], summary_json: &str, title: &str) -> String {
    page_with(encoded, summary_json, title, None)
}

/// The page, with the trace whole (`encoded`) or, given `pyramid_json`, its pyramid.
fn page_with(encoded: &[u8], summary_json: &str, title: &str, pyramid_json: Option<&str>) -> String {
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
    if let Some(json) = pyramid_json {
        out.push_str("</script>\n<script type=\"application/json\" id=\"fprofile-pyramid\">");
        out.push_str(&json_for_script(json));
    }
    out.push_str("</script>\n<script type=\"application/json\" id=\"fprofile-summary\">");
    out.push_str(&summary);
    out.push_str("</script>\n<script type=\"module\">\n");
    out.push_str(&js);
    out.push_str("</script>\n</body>\n</html>\n");
    out
}
