//! The static picture of a trace (issue 20, item 2): a PNG of its overview, for where no script
//! runs (GitHub, nbviewer, nbconvert to PDF, an untrusted notebook) and for `trace.save("run.png")`
//! / `fprofile export run.fpt -o run.png`.
//!
//! What it shows, top to bottom, on the timeline's light palette (`js/render.js` `readPalette`):
//! the caption (title; calls, threads, processes, duration); the time axis of the whole run (ticks
//! and labels by [`crate::units::time_ticks`], the timeline's rule, from the same origin); with more
//! than one process, a header strip per process (name, pid, host, threads, "incomplete", "on its
//! own clock"; its span as a line); a lane per PYME lane number of each process, in the timeline's
//! order (`js/lanes.js` `layoutGroups`), with its thread's span line in the thread's colour and its
//! calls by depth, each function in its timeline colour ([`crate::colours`]); thread names to the
//! left of their lanes. An empty trace is its caption.
//!
//! Rules:
//! - Calls are never drawn one by one: each lane's calls go once into a grid of depth rows by
//!   pixel columns, where each cell keeps the function covering most of that column (a call
//!   narrower than a pixel still marks its column), then each row is drawn as runs of equal cells.
//!   Cost: one pass over the calls and a fill per run; the picture's size does not grow with the
//!   trace (benchmarks/README.md, "Static picture").
//! - Heights adapt: rows of 6 px and up to 12 depths per lane while the lanes fit
//!   [`LANES_MAX_PX`], fewer and thinner rows when they do not, one thin row per lane for hundreds
//!   of threads; a lane's name is left out where it would overlap the one above.
//! - The width is [`MIN_WIDTH_PX`] to [`MAX_WIDTH_PX`]; anything else is a [`PictureError`], never a
//!   panic. No input makes this module panic.
//!
//! (Over 500 lines: one drawing pass (caption, axis, process strips, lanes) sharing its layout and
//! grid; the canvas (pixels, PNG encoding) and the font are modules of their own.)

mod canvas;
mod text;

pub use text::{FONT, FONT_LICENSE};

use crate::colours::{code_colour, thread_colour, Rgb};
use crate::model::Trace;
use crate::units::{format_count, format_duration, one_line, time_ticks};
pub use canvas::Canvas;
use text::Face;

/// The width a picture has unless asked otherwise (a notebook output's width).
pub const DEFAULT_WIDTH_PX: u32 = 960;
/// The narrowest picture.
pub const MIN_WIDTH_PX: u32 = 320;
/// The widest picture.
pub const MAX_WIDTH_PX: u32 = 4096;
/// The height the lanes take at most before rows get thinner (a long list of threads may still
/// need more: each lane keeps at least 2 px).
pub const LANES_MAX_PX: u32 = 560;
/// The title when the trace's metadata has none (as the notebook's caption).
pub const DEFAULT_TITLE: &str = "fprofile trace";

/// What cannot be drawn. Displays as one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PictureError {
    /// The width asked for, as written (a binding's integer may not fit 128 bits).
    #[error("width of {0} px: a picture is {MIN_WIDTH_PX} to {MAX_WIDTH_PX} pixels wide")]
    Width(String),
    #[error("could not encode the picture: {0}")]
    Encode(String),
}

// The timeline's light palette (js/render.js readPalette, the fallbacks of the light theme).
const BG: Rgb = Rgb(0xff, 0xff, 0xff);
const FG: Rgb = Rgb(0x1f, 0x23, 0x28);
const MUTED: Rgb = Rgb(0x6a, 0x73, 0x7d);
const GRID: Rgb = Rgb(0xe6, 0xe8, 0xeb);
const LANE_BG: Rgb = Rgb(0xf6, 0xf8, 0xfa);
const ACCENT: Rgb = Rgb(0x09, 0x69, 0xda);
const PROC_BG: Rgb = Rgb(0xe8, 0xed, 0xf3);
const WARN: Rgb = Rgb(0xa0, 0x41, 0x00);

const PAD_PX: f32 = 10.0;
const TITLE_PX: f32 = 15.0;
const FACTS_PX: f32 = 12.0;
const LABEL_PX: f32 = 11.0;
const AXIS_FONT_PX: f32 = 10.0;
const AXIS_PX: u32 = 18;
const PROC_PX: u32 = 18;
const RIGHT_PX: u32 = 12;
/// A lane is at least this high while rows are 3 px or more (its name fits beside it).
const MIN_LANE_PX: u32 = 16;
/// Axis labels at least this far apart (the overview's spacing).
const TICK_SPACING_PX: f64 = 110.0;

/// The title of a trace's picture: its metadata's `title`, else [`DEFAULT_TITLE`].
pub fn title_of(trace: &Trace) -> String {
    trace.metadata.iter().find(|(k, _)| k == "title").map_or_else(|| DEFAULT_TITLE.to_owned(), |(_, v)| v.clone())
}

/// `width_px` as a picture's width, or [`PictureError::Width`] when it is out of range.
pub fn check_width(width_px: i128) -> Result<u32, PictureError> {
    if width_px < i128::from(MIN_WIDTH_PX) || width_px > i128::from(MAX_WIDTH_PX) {
        return Err(PictureError::Width(width_px.to_string()));
    }
    Ok(width_px as u32)
}

/// The picture of `trace` as PNG bytes, `width_px` wide, captioned `title`.
pub fn to_png(trace: &Trace, title: &str, width_px: i128) -> Result<Vec<u8>, PictureError> {
    let pm = render(trace, title, width_px)?;
    encode(&pm)
}

/// One lane of the picture: threads of one process sharing a PYME lane number.
struct Lane {
    threads: Vec<usize>,
    /// Depths the trace has in it (the deepest call's depth + 1).
    depths: u32,
    top: u32,
    rows: u32,
}

/// A process and its lanes.
struct Group {
    process: usize,
    top: u32,
    lanes: Vec<Lane>,
}

/// Vertical sizes chosen for the lanes.
#[derive(Clone, Copy)]
struct Dims {
    span_px: u32,
    row_px: u32,
    max_rows: u32,
    gap_px: u32,
}

/// A lane's height: its span line and rows, and in the roomy layouts at least a name's line.
fn lane_height(depths: u32, d: Dims) -> u32 {
    let h = d.span_px + depths.min(d.max_rows) * d.row_px;
    if d.span_px > 0 && d.row_px >= 3 {
        h.max(MIN_LANE_PX)
    } else {
        h
    }
}

fn lanes_height(groups: &[Group], multi: bool, d: Dims) -> u32 {
    groups
        .iter()
        .map(|g| if multi { PROC_PX } else { 0 } + g.lanes.iter().map(|l| lane_height(l.depths, d) + d.gap_px).sum::<u32>())
        .sum()
}

/// The largest sizes under [`LANES_MAX_PX`]: rows of 4 px, up to 12 depths; then fewer depths,
/// thinner rows; for hundreds of lanes one row of 1 to 3 px without the span line.
fn choose_dims(groups: &[Group], multi: bool, n_lanes: usize) -> Dims {
    let mut d = Dims { span_px: 4, row_px: 6, max_rows: 12, gap_px: 3 };
    while lanes_height(groups, multi, d) > LANES_MAX_PX {
        if d.row_px > 4 {
            d.row_px -= 1;
        } else if d.max_rows > 4 {
            d.max_rows -= 2;
        } else if d.row_px > 2 {
            d.row_px -= 1;
        } else if d.max_rows > 1 {
            d.max_rows -= 1;
        } else {
            let heads = if multi { groups.len() as u32 * PROC_PX } else { 0 };
            let per = LANES_MAX_PX.saturating_sub(heads) / (n_lanes.max(1) as u32);
            return Dims { span_px: 0, row_px: per.saturating_sub(1).clamp(1, 3), max_rows: 1, gap_px: 1 };
        }
    }
    d
}

/// The groups and lanes of `trace` in the timeline's order, and each thread's depth count.
fn layout(trace: &Trace) -> Vec<Group> {
    let c = &trace.calls;
    let n_proc = trace.processes.len().max(1);
    let mut groups: Vec<Group> = (0..n_proc).map(|p| Group { process: p, top: 0, lanes: Vec::new() }).collect();
    for (t, th) in trace.threads.iter().enumerate() {
        let (lo, hi) = (th.call_range.0 as usize, (th.call_range.1 as usize).min(c.len()));
        let depths = c.depth.get(lo..hi).map_or(0, |d| d.iter().max().map_or(0, |m| m + 1));
        let p = (th.process as usize).min(n_proc - 1);
        let g = &mut groups[p];
        match g.lanes.iter_mut().find(|l| trace.threads[l.threads[0]].lane == th.lane) {
            Some(l) => {
                l.threads.push(t);
                l.depths = l.depths.max(depths);
            }
            None => g.lanes.push(Lane { threads: vec![t], depths, top: 0, rows: 0 }),
        }
    }
    groups.retain(|g| !g.lanes.is_empty());
    for g in &mut groups {
        g.lanes.sort_by_key(|l| trace.threads[l.threads[0]].lane);
    }
    groups
}

/// The picture as pixels (see the module docs).
pub fn render(trace: &Trace, title: &str, width_px: i128) -> Result<Canvas, PictureError> {
    let width = check_width(width_px)?;
    let font = text::font();
    let faces = font
        .as_ref()
        .map(|f| (Face::new(f, TITLE_PX), Face::new(f, FACTS_PX), Face::new(f, LABEL_PX), Face::new(f, AXIS_FONT_PX)));

    let mut groups = layout(trace);
    let multi = trace.processes.len() > 1;
    let n_lanes: usize = groups.iter().map(|g| g.lanes.len()).sum();
    let dims = choose_dims(&groups, multi, n_lanes);
    let has_calls = !trace.calls.is_empty();

    // vertical layout
    let caption_px = (PAD_PX + TITLE_PX * 1.25 + 4.0 + FACTS_PX * 1.25 + 8.0).ceil() as u32;
    let mut y = caption_px;
    let axis_top = y;
    if n_lanes > 0 {
        y += AXIS_PX + 2;
        for g in &mut groups {
            g.top = y;
            if multi {
                y += PROC_PX;
            }
            for l in &mut g.lanes {
                l.top = y;
                l.rows = l.depths.min(dims.max_rows);
                y += lane_height(l.depths, dims) + dims.gap_px;
            }
        }
        y += 6;
    }
    let height = y.max(caption_px);
    let mut pm = Canvas::new(width, height, BG);

    // the caption
    if let Some((title_face, facts_face, _, _)) = &faces {
        let right = width as f32 - PAD_PX;
        let t = title_face.fit(&one_line(title), right - PAD_PX);
        title_face.draw(&mut pm, &t, PAD_PX, PAD_PX, FG, right);
        let facts = caption_facts(trace);
        let f = facts_face.fit(&facts, right - PAD_PX);
        facts_face.draw(&mut pm, &f, PAD_PX, PAD_PX + TITLE_PX * 1.25 + 4.0, MUTED, right);
    }
    if n_lanes == 0 {
        return Ok(pm);
    }

    // horizontal layout: names on the left, the run over the rest
    let gutter = ((width as f32 * 0.16).round() as u32).clamp(90, 200);
    let plot_w = width - gutter - RIGHT_PX;
    let (t0, t1) = full_range(trace);
    let k = f64::from(plot_w) / (t1 as f64 - t0 as f64);
    let x_of = |t: i64| gutter as f32 + ((t as f64 - t0 as f64) * k) as f32;
    let lanes_bottom = height - 6;

    // lane backgrounds, then the axis and its grid lines over them
    for g in &groups {
        for l in &g.lanes {
            pm.fill(gutter as f32, l.top as f32, plot_w as f32, lane_height(l.depths, dims) as f32, LANE_BG);
        }
    }
    draw_axis(&mut pm, trace, faces.as_ref().map(|f| &f.3), gutter, plot_w, axis_top, lanes_bottom, t0, t1);

    let mut colours: Vec<Option<Rgb>> = vec![None; trace.codes.len()];
    let mut last_label_bottom = 0f32;
    let lanes: Vec<&Lane> = groups.iter().flat_map(|g| &g.lanes).collect();
    let mut grids = if has_calls { bin_lanes(trace, &lanes, plot_w as usize, t0, k) } else { Vec::new() }.into_iter();
    for g in &groups {
        if multi {
            let plot = (gutter as f32, (gutter + plot_w) as f32);
            draw_process_header(&mut pm, trace, g, faces.as_ref().map(|f| &f.2), width, plot, &x_of);
        }
        for l in &g.lanes {
            for &t in &l.threads {
                let th = &trace.threads[t];
                if dims.span_px > 0 {
                    let xa = x_of(th.first_ns);
                    let xb = x_of(th.last_ns);
                    pm.fill(xa, l.top as f32 + 1.0, (xb - xa).max(1.0), 2.0, thread_colour(t, false).rgb());
                }
            }
            if let Some(grid) = grids.next() {
                draw_grid(&mut pm, trace, l, &grid, dims, gutter, plot_w, &mut colours);
            }
            if let Some((_, _, label_face, _)) = &faces {
                let h = lane_height(l.depths, dims) as f32;
                let line = label_face.line_px();
                let top = (l.top as f32 + (h - line) / 2.0).max(l.top as f32 - 2.0);
                if top >= last_label_bottom {
                    let name = lane_label(trace, l);
                    let text = label_face.fit(&name, gutter as f32 - 14.0);
                    label_face.draw(&mut pm, &text, 6.0, top, FG, gutter as f32 - 6.0);
                    last_label_bottom = top + line;
                }
            }
        }
    }
    Ok(pm)
}

/// "1,205 calls · 7 threads · 2 processes · 65.9 ms".
fn caption_facts(trace: &Trace) -> String {
    let plural = |n: usize, one: &str, many: &str| format!("{} {}", format_count(n as u64), if n == 1 { one } else { many });
    let mut parts = vec![plural(trace.calls.len(), "call", "calls"), plural(trace.threads.len(), "thread", "threads")];
    if trace.processes.len() > 1 {
        parts.push(plural(trace.processes.len(), "process", "processes"));
    }
    parts.push(format_duration(trace.duration_ns()));
    parts.join(" · ")
}

/// The whole run (`js/layout.js` `fullRange`): the threads' first to last event; 1 µs when empty.
fn full_range(trace: &Trace) -> (i64, i64) {
    let a = trace.threads.iter().map(|t| t.first_ns).min().unwrap_or(0);
    let b = trace.threads.iter().map(|t| t.last_ns).max().unwrap_or(0);
    if b > a {
        (a, b)
    } else {
        (a, a.saturating_add(1000))
    }
}

/// A lane's name: its thread's, or the first's and how many more share the lane.
fn lane_label(trace: &Trace, l: &Lane) -> String {
    let first = one_line(trace.threads[l.threads[0]].name());
    if l.threads.len() > 1 {
        format!("{first} +{}", l.threads.len() - 1)
    } else {
        first
    }
}

/// The axis strip over the plot: ticks (the timeline's rule and origin), grid lines down to
/// `bottom`, labels right of their tick (left of it at the right edge), none overlapping.
#[allow(clippy::too_many_arguments)]
fn draw_axis(
    pm: &mut Canvas,
    trace: &Trace,
    face: Option<&Face<'_>>,
    gutter: u32,
    plot_w: u32,
    top: u32,
    bottom: u32,
    t0: i64,
    t1: i64,
) {
    // js/layout.js displayOrigin: the trace origin, or the first event when it comes before it
    let origin = trace.threads.iter().map(|t| t.first_ns).min().filter(|&s| s < 0).unwrap_or(0);
    let max_ticks = ((f64::from(plot_w) / TICK_SPACING_PX).floor() as usize).max(1);
    let ticks = time_ticks(t0 as f64 - origin as f64, t1 as f64 - origin as f64, max_ticks);
    let axis_bottom = (top + AXIS_PX) as f32;
    pm.fill(gutter as f32, axis_bottom - 1.0, plot_w as f32, 1.0, GRID);
    let k = f64::from(plot_w) / (t1 as f64 - t0 as f64);
    // ticks inside the plot (the first one may fall just left of the run's first event)
    let placed: Vec<(f32, &str)> = ticks
        .ticks
        .iter()
        .map(|(t, label)| ((f64::from(gutter) + ((t + origin as f64) - t0 as f64) * k).round() as f32, label.as_str()))
        .filter(|&(x, _)| x >= gutter as f32 && x <= (gutter + plot_w) as f32)
        .collect();
    for &(x, _) in &placed {
        pm.fill(x, axis_bottom - 5.0, 1.0, bottom as f32 - axis_bottom + 5.0, GRID);
    }
    let Some(face) = face else { return };
    let right = (gutter + plot_w + RIGHT_PX) as f32;
    let mut prev_end = f32::NEG_INFINITY;
    for &(x, label) in &placed {
        let w = face.width(label);
        let mut left = x + 3.0;
        if left + w > right - 1.0 {
            left = x - 3.0 - w;
        }
        if left < gutter as f32 || left < prev_end + 6.0 {
            continue;
        }
        face.draw(pm, label, left, top as f32 + (AXIS_PX as f32 - 4.0 - face.line_px()) / 2.0, MUTED, right);
        prev_end = left + w;
    }
}

/// A process's header strip (`js/processrows.js`): name, then pid, host, threads; warnings; its
/// span as a line along the bottom.
#[allow(clippy::too_many_arguments)]
fn draw_process_header(
    pm: &mut Canvas,
    trace: &Trace,
    g: &Group,
    face: Option<&Face<'_>>,
    width: u32,
    plot: (f32, f32),
    x_of: &dyn Fn(i64) -> f32,
) {
    let y = g.top as f32;
    pm.fill(0.0, y, width as f32, PROC_PX as f32, PROC_BG);
    let Some(proc) = trace.processes.get(g.process) else { return };
    if proc.end_ns > proc.start_ns {
        let xa = x_of(proc.start_ns).max(plot.0);
        let xb = x_of(proc.end_ns).min(plot.1);
        pm.fill(xa, y + PROC_PX as f32 - 2.0, (xb - xa).max(2.0), 2.0, ACCENT);
    }
    let Some(face) = face else { return };
    let threads = trace.threads.iter().filter(|t| t.process as usize == g.process).count();
    let mut facts = Vec::new();
    if proc.pid != 0 {
        facts.push(format!("pid {}", proc.pid));
    }
    if !proc.host.is_empty() {
        facts.push(one_line(&proc.host));
    }
    facts.push(format!("{threads} thread{}", if threads == 1 { "" } else { "s" }));
    let name = if proc.name.is_empty() { "process".to_owned() } else { one_line(&proc.name) };
    let mut parts = vec![(name, FG), (format!("   {}", facts.join(" · ")), MUTED)];
    if proc.incomplete {
        parts.push(("   incomplete".to_owned(), WARN));
    }
    if !proc.clock.aligned {
        parts.push(("   on its own clock, not aligned".to_owned(), WARN));
    }
    let right = width as f32 - 8.0;
    let mut x = 6.0;
    let top = y + (PROC_PX as f32 - 2.0 - face.line_px()) / 2.0;
    for (text, colour) in parts {
        let fitted = face.fit(&text, right - x);
        if fitted.is_empty() {
            break;
        }
        x += face.draw(pm, &fitted, x, top, colour, right);
        if fitted != text {
            break;
        }
    }
}

/// A cell of the grid no call touches.
const EMPTY: u32 = u32::MAX;

/// The grids of `lanes` (each lane's [`bin_lane`]), computed on up to 4 threads.
fn bin_lanes(trace: &Trace, lanes: &[&Lane], cols: usize, t0: i64, k: f64) -> Vec<Vec<u32>> {
    let n = lanes.len();
    let workers = std::thread::available_parallelism().map_or(1, |p| p.get()).clamp(1, 4).min(n.max(1));
    if workers <= 1 {
        return lanes.iter().map(|l| bin_lane(trace, l, cols, t0, k)).collect();
    }
    let mut out: Vec<Option<Vec<u32>>> = vec![None; n];
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|w| {
                scope.spawn(move || {
                    (w..n).step_by(workers).map(|i| (i, bin_lane(trace, lanes[i], cols, t0, k))).collect::<Vec<_>>()
                })
            })
            .collect();
        for h in handles {
            // a worker cannot panic (slices are bounds-checked against the trace's own ranges);
            // were it to, its lanes are binned below instead
            if let Ok(v) = h.join() {
                for (i, grid) in v {
                    out[i] = Some(grid);
                }
            }
        }
    });
    out.into_iter().enumerate().map(|(i, g)| g.unwrap_or_else(|| bin_lane(trace, lanes[i], cols, t0, k))).collect()
}

/// A lane's calls binned into a grid of depth rows by pixel columns: each cell the function
/// covering most of that column ([`EMPTY`] where none does). One pass over the lane's calls.
fn bin_lane(trace: &Trace, l: &Lane, cols: usize, t0: i64, k: f64) -> Vec<u32> {
    let c = &trace.calls;
    let rows = l.rows as usize;
    let mut code = vec![EMPTY; rows * cols];
    if rows == 0 || cols == 0 {
        return code;
    }
    let mut cover = vec![-1f32; rows * cols];
    let max_x = cols as f64;
    for &t in &l.threads {
        let th = &trace.threads[t];
        let (lo, hi) = (th.call_range.0 as usize, (th.call_range.1 as usize).min(c.len()));
        let (Some(depth), Some(start), Some(end), Some(codes)) =
            (c.depth.get(lo..hi), c.start_ns.get(lo..hi), c.end_ns.get(lo..hi), c.code.get(lo..hi))
        else {
            continue;
        };
        for i in 0..depth.len() {
            let d = depth[i] as usize;
            if d >= rows {
                continue;
            }
            let x0 = ((start[i] as f64 - t0 as f64) * k).clamp(0.0, max_x);
            let x1 = ((end[i] as f64 - t0 as f64) * k).clamp(x0, max_x);
            let first = (x0 as usize).min(cols - 1);
            let row = d * cols;
            if x1 <= (first + 1) as f64 {
                // within one column: most calls of a large trace
                let cov = (x1 - x0) as f32;
                let cell = row + first;
                if cov > cover[cell] {
                    cover[cell] = cov;
                    code[cell] = codes[i];
                }
                continue;
            }
            let last = ((x1.ceil() as usize).saturating_sub(1)).clamp(first, cols - 1);
            for col in first..=last {
                let cov = (x1.min(col as f64 + 1.0) - x0.max(col as f64)) as f32;
                let cell = row + col;
                if cov > cover[cell] {
                    cover[cell] = cov;
                    code[cell] = codes[i];
                }
            }
        }
    }
    code
}

/// A lane's grid drawn: each row as runs of equal cells, in the functions' timeline colours.
#[allow(clippy::too_many_arguments)]
fn draw_grid(
    pm: &mut Canvas,
    trace: &Trace,
    l: &Lane,
    code: &[u32],
    dims: Dims,
    gutter: u32,
    plot_w: u32,
    colours: &mut [Option<Rgb>],
) {
    let cols = plot_w as usize;
    let rows = l.rows as usize;
    if code.len() < rows * cols {
        return;
    }
    let box_px = if dims.row_px >= 4 { dims.row_px - 1 } else { dims.row_px };
    for d in 0..rows {
        let y = (l.top + dims.span_px + d as u32 * dims.row_px) as f32;
        let row = &code[d * cols..(d + 1) * cols];
        let mut col = 0;
        while col < cols {
            let cc = row[col];
            let start = col;
            while col < cols && row[col] == cc {
                col += 1;
            }
            if cc == EMPTY {
                continue;
            }
            let rgb = match colours.get_mut(cc as usize) {
                Some(slot) => *slot.get_or_insert_with(|| {
                    let code = &trace.codes[cc as usize];
                    code_colour(&code.name, &code.file, false).rgb()
                }),
                None => MUTED,
            };
            pm.fill((gutter as usize + start) as f32, y, (col - start) as f32, box_px as f32, rgb);
        }
    }
}

/// The canvas as PNG, adaptive filters, best deflate: indexed (8-bit palette) when it has at most
/// 256 colours, as it does unless hundreds of functions show (text is blended in 16 steps for
/// that), else 8-bit RGB.
pub fn encode(pm: &Canvas) -> Result<Vec<u8>, PictureError> {
    let err = |e: png::EncodingError| PictureError::Encode(e.to_string());
    let (w, h) = (pm.width(), pm.height());
    let mut palette: Vec<[u8; 3]> = Vec::new();
    let mut index_of: std::collections::HashMap<[u8; 3], u8> = std::collections::HashMap::new();
    let mut indexed: Vec<u8> = Vec::with_capacity(w as usize * h as usize);
    let mut last: Option<([u8; 3], u8)> = None;
    for p in pm.rgb().chunks_exact(3) {
        let c = [p[0], p[1], p[2]];
        let i = match last {
            Some((lc, li)) if lc == c => li,
            _ => match index_of.get(&c) {
                Some(&i) => i,
                None if palette.len() < 256 => {
                    let i = palette.len() as u8;
                    palette.push(c);
                    index_of.insert(c, i);
                    i
                }
                None => {
                    indexed.clear();
                    break;
                }
            },
        };
        last = Some((c, i));
        indexed.push(i);
    }
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_compression(png::Compression::High);
        let whole = indexed.len() == w as usize * h as usize;
        if whole {
            enc.set_color(png::ColorType::Indexed);
            enc.set_palette(palette.concat());
        } else {
            enc.set_color(png::ColorType::Rgb);
        }
        let mut writer = enc.write_header().map_err(err)?;
        writer.write_image_data(if whole { &indexed } else { pm.rgb() }).map_err(err)?;
        writer.finish().map_err(err)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
