//! The picture decoded back with the `png` crate and checked pixel by pixel.

use super::*;
use crate::calltree::build_trace;
use crate::model::{Code, Event, EventKind, ProcessInfo, Recording, ThreadRecord};

/// A decoded picture: width, height, RGB rows.
struct Decoded {
    w: usize,
    h: usize,
    rgb: Vec<u8>,
}

impl Decoded {
    fn at(&self, x: usize, y: usize) -> Rgb {
        let i = (y * self.w + x) * 3;
        Rgb(self.rgb[i], self.rgb[i + 1], self.rgb[i + 2])
    }
    /// The runs of rows of column `x` whose pixel is `c`: [(first row, last row)].
    fn bands(&self, x: usize, c: Rgb) -> Vec<(usize, usize)> {
        let mut out: Vec<(usize, usize)> = Vec::new();
        for y in 0..self.h {
            if self.at(x, y) == c {
                match out.last_mut() {
                    Some(last) if last.1 + 1 == y => last.1 = y,
                    _ => out.push((y, y)),
                }
            }
        }
        out
    }
    fn count(&self, c: Rgb) -> usize {
        (0..self.h).flat_map(|y| (0..self.w).map(move |x| (x, y))).filter(|&(x, y)| self.at(x, y) == c).count()
    }
}

fn decode(bytes: &[u8]) -> Decoded {
    let dec = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut dec = dec;
    dec.set_transformations(png::Transformations::EXPAND); // a palette read back as RGB
    let mut reader = dec.read_info().expect("a PNG header");
    let mut buf = vec![0; reader.output_buffer_size().expect("a size")];
    let info = reader.next_frame(&mut buf).expect("a frame");
    assert_eq!(info.color_type, png::ColorType::Rgb);
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    buf.truncate(info.buffer_size());
    Decoded { w: info.width as usize, h: info.height as usize, rgb: buf }
}

fn code(name: &str, file: &str) -> Code {
    Code { file: file.into(), name: name.into(), first_line: 1 }
}

fn ev(t_ns: u64, code: u32, call: bool) -> Event {
    Event { t_ns, code, kind: if call { EventKind::Call } else { EventKind::Return } }
}

fn thread(os_id: u64, name: &str, events: Vec<Event>) -> ThreadRecord {
    ThreadRecord { os_id, ident: os_id, names: vec![(0, name.into())], chunks: vec![events] }
}

/// Two threads, each one long call of its own function with a child, overlapping in time (two lanes).
fn two_threads() -> Trace {
    build_trace(Recording {
        codes: vec![code("main_loop", "/app/main.py"), code("worker_job", "/app/work.py"), code("step", "/app/work.py")],
        threads: vec![
            thread(11, "MainThread", vec![ev(1_000, 0, true), ev(2_000, 2, true), ev(3_000, 2, false), ev(90_000, 0, false)]),
            thread(12, "Worker-1", vec![ev(5_000, 1, true), ev(95_000, 1, false)]),
        ],
        start_ns: 0,
        stop_ns: 100_000,
        metadata: vec![("title".into(), "two threads".into())],
        process: ProcessInfo { pid: 42, name: "python demo.py".into(), ..Default::default() },
    })
}

fn colour_of(t: &Trace, c: usize) -> Rgb {
    code_colour(&t.codes[c].name, &t.codes[c].file, false).rgb()
}

#[test]
fn two_threads_are_two_bands_of_their_functions_colours_with_background_between() {
    let t = two_threads();
    let p = decode(&to_png(&t, &title_of(&t), 800).unwrap());
    assert_eq!(p.w, 800);
    let (main, worker) = (colour_of(&t, 0), colour_of(&t, 1));
    assert_ne!(main, worker);
    // a column in the middle of the run: both calls cover it
    let x = 800 / 2;
    let a = p.bands(x, main);
    let b = p.bands(x, worker);
    assert_eq!(a.len(), 1, "one band of main_loop at x={x}: {a:?}");
    assert_eq!(b.len(), 1, "one band of worker_job at x={x}: {b:?}");
    assert!(a[0].1 < b[0].0, "MainThread's lane above Worker-1's: {a:?} {b:?}");
    // between the lanes: no call colour (lane background, gap, span line)
    for y in a[0].1 + 1..b[0].0 {
        let c = p.at(x, y);
        assert!(c != main && c != worker, "row {y} between the lanes is {c:?}");
    }
    assert!((a[0].1 + 1..b[0].0).any(|y| p.at(x, y) == BG || p.at(x, y) == LANE_BG));
    // the child `step` (depth 1) is drawn right under main_loop near the start, in its own colour
    let step = colour_of(&t, 2);
    assert!(p.count(step) > 0, "step drawn");
    // the picture's left gutter has the lane names (dark text pixels), the plot starts after it
    assert!((0..p.h).any(|y| (0..60).any(|x| p.at(x, y).0 < 0x80)), "thread names drawn");
    // thread span lines in the threads' colours
    assert!(p.count(thread_colour(0, false).rgb()) > 100 && p.count(thread_colour(1, false).rgb()) > 100);
}

#[test]
fn calls_narrower_than_a_pixel_still_show() {
    // 20,000 calls of 3 ns each spread over 20 ms: every one far under a pixel
    let mut ev_list = Vec::new();
    for i in 0..20_000u64 {
        ev_list.push(ev(i * 1_000, 0, true));
        ev_list.push(ev(i * 1_000 + 3, 0, false));
    }
    let t = build_trace(Recording {
        codes: vec![code("tiny", "/app/t.py")],
        threads: vec![thread(1, "MainThread", ev_list)],
        start_ns: 0,
        stop_ns: 20_000_000,
        ..Default::default()
    });
    let p = decode(&to_png(&t, "tiny", 600).unwrap());
    let tiny = colour_of(&t, 0);
    let row = (0..p.h).find(|&y| (0..p.w).any(|x| p.at(x, y) == tiny)).expect("a row of tiny calls");
    let cols = (0..p.w).filter(|&x| p.at(x, row) == tiny).count();
    assert!(cols > 400, "the calls mark nearly every column of the plot: {cols}");
}

#[test]
fn an_empty_trace_is_its_caption() {
    let t = Trace::default();
    let bytes = to_png(&t, &title_of(&t), 640).unwrap();
    let p = decode(&bytes);
    assert_eq!(p.w, 640);
    assert!(p.h < 70, "caption only: {} px high", p.h);
    assert!(p.count(FG) + p.count(MUTED) > 0 || (0..p.h).any(|y| (0..p.w).any(|x| p.at(x, y).0 < 0x90)), "caption text drawn");
    assert_eq!(title_of(&t), DEFAULT_TITLE);
    assert_eq!(caption_facts(&t), "0 calls · 0 threads · 0 ns");
}

#[test]
fn widths_out_of_range_are_an_error_not_a_panic() {
    let t = two_threads();
    for w in [0i128, -5, 319, 4097, i128::from(u64::MAX)] {
        let e = to_png(&t, "x", w).unwrap_err();
        assert_eq!(e, PictureError::Width(w.to_string()));
        assert!(e.to_string().contains("a picture is 320 to 4096 pixels wide"), "{e}");
    }
    assert_eq!(decode(&to_png(&t, "x", 320).unwrap()).w, 320);
    assert_eq!(decode(&to_png(&t, "x", 4096).unwrap()).w, 4096);
}

#[test]
fn several_processes_get_header_strips() {
    let mut t = two_threads();
    t.processes.push(ProcessInfo { pid: 43, name: "worker".into(), start_ns: 5_000, end_ns: 95_000, ..Default::default() });
    t.threads[1].process = 1;
    let p = decode(&to_png(&t, "two processes", 800).unwrap());
    let x = 3; // left of the plot: the strips run the whole width, the gutter is background
    let strips = p.bands(x, PROC_BG);
    assert_eq!(strips.len(), 2, "{strips:?}");
    assert!(strips.iter().all(|(a, b)| b - a + 1 >= PROC_PX as usize - 4));
    // each process's lane lies under its own strip, never under or over the next one
    let xm = p.w / 2;
    let (a, b) = (p.bands(xm, colour_of(&t, 0)), p.bands(xm, colour_of(&t, 1)));
    assert!(a.len() == 1 && b.len() == 1, "{a:?} {b:?}");
    assert!(strips[0].1 < a[0].0 && a[0].1 < strips[1].0 && strips[1].1 < b[0].0, "strips {strips:?}, lanes {a:?} {b:?}");
    assert_eq!(caption_facts(&t), "3 calls · 2 threads · 2 processes · 94 µs");
}

#[test]
fn a_large_synthetic_trace_makes_a_small_picture_of_every_lane() {
    let t = crate::synthetic::synthetic_trace(200_000, 8, 7);
    let bytes = to_png(&t, "synthetic", i128::from(DEFAULT_WIDTH_PX)).unwrap();
    assert!(bytes.len() < 60 << 10, "{} bytes", bytes.len());
    let p = decode(&bytes);
    // every lane: each thread's span line in its colour, and calls of many functions
    for th in 0..8 {
        assert!(p.count(thread_colour(th, false).rgb()) > 300, "thread {th}'s span line");
    }
    let functions = (0..t.codes.len()).filter(|&c| p.count(colour_of(&t, c)) > 0).count();
    assert!(functions > 40, "{functions} functions' colours drawn");
}

#[test]
fn hundreds_of_threads_fit() {
    let t = crate::synthetic::synthetic_trace(30_000, 300, 3);
    let p = decode(&to_png(&t, "many", 800).unwrap());
    assert!(p.h < 900, "{} px high", p.h);
}

#[test]
fn save_writes_a_png_and_a_bad_width_leaves_the_file_alone() {
    let dir = std::env::temp_dir().join(format!("fprofile-png-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("run.png");
    let t = two_threads();
    crate::formats::save(&t, &path, crate::formats::Format::Png, None).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(decode(&bytes).w, DEFAULT_WIDTH_PX as usize);
    let e = crate::formats::save_with(&t, &path, crate::formats::Format::Png, None, Some(5)).unwrap_err();
    assert!(e.to_string().ends_with("run.png: width of 5 px: a picture is 320 to 4096 pixels wide"), "{e}");
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn extreme_times_and_odd_shapes_do_not_panic() {
    // times at the ends of i64 (a damaged or hand-made trace), a call ending before it starts,
    // a thread whose call range runs past the calls, a process index out of range
    let mut t = two_threads();
    t.threads[0].first_ns = i64::MIN;
    t.threads[1].last_ns = i64::MAX;
    t.calls.start_ns[0] = i64::MIN;
    t.calls.end_ns[0] = i64::MAX;
    t.calls.end_ns[1] = t.calls.start_ns[1] - 10;
    t.threads[1].call_range.1 = 1_000;
    t.threads[1].process = 7;
    t.processes[0].end_ns = i64::MIN;
    for w in [MIN_WIDTH_PX, DEFAULT_WIDTH_PX] {
        let p = decode(&to_png(&t, "odd", i128::from(w)).unwrap());
        assert_eq!(p.w, w as usize);
    }
}
