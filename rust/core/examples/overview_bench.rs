//! The file-backed trace's first frame and a zoom/pan sequence on a real recording
//! (`benchmarks/README.md`, "The file-backed trace"): builds the `.fpt`'s window index afresh
//! (timed: what the stop adds), then opens it and times the overview (the whole run at 2000 px,
//! every thread: what a host asks first) twice, and a sequence of zooms and pans, first and
//! repeated, with the chunks each pass decodes and the resident bytes.
//!
//!     cargo run --release -p fprofile --example overview_bench -- big.fpt [cache MiB]

use fprofile::filetrace::FileTrace;
use std::time::Instant;

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

/// The threads of the trace at `p` (its skeleton).
fn f_threads(p: &std::path::Path) -> Vec<fprofile::ThreadInfo> {
    FileTrace::open(p).map(|f| f.skeleton().threads.clone()).unwrap_or_default()
}

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: overview_bench FILE.fpt");
        std::process::exit(2);
    };
    let _ = std::fs::remove_file(fprofile::winindex::sidecar_path(std::path::Path::new(&path)));
    let t = Instant::now();
    if let Err(e) = fprofile::filetrace::write_index(std::path::Path::new(&path)) {
        eprintln!("{e}");
        std::process::exit(1);
    }
    println!("index build: {:.0} ms", ms(t));
    // what the build's last step does: the overview, a query over the index just written
    let p = std::path::Path::new(&path);
    if let (Ok(stamp), Ok(side)) = (fprofile::winindex::Stamp::of(p), std::fs::File::open(fprofile::winindex::sidecar_path(p))) {
        if let Some(idx) = fprofile::winindex::read::FileIndex::open(side, &stamp) {
            idx.set_cache_bytes(4 << 20);
            let (a, b) = fprofile::window::overview_span(&f_threads(p));
            let t = Instant::now();
            let r = fprofile::window::query_rows(&idx, a, b, fprofile::window::OVERVIEW_PX, None).map(|r| r.items.len());
            println!("of which the overview: {:.0} ms ({r:?} items, {} chunks decoded)", ms(t), idx.chunks_decoded());
        }
    }
    let t = Instant::now();
    let f = match FileTrace::open(&path) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    println!("open: {:.1} ms, {} calls, {} threads", ms(t), f.calls(), f.skeleton().threads.len());
    if let Some(mib) = std::env::args().nth(2).and_then(|v| v.parse::<usize>().ok()) {
        f.set_cache_chunks(mib * (1 << 20) / 29_000);
    }
    let th = &f.skeleton().threads;
    let a = th.iter().map(|t| t.first_ns).min().unwrap_or(0);
    let b = th.iter().map(|t| t.last_ns).max().unwrap_or(1).max(a + 1);
    for k in 0..2 {
        let (t, d) = (Instant::now(), f.chunks_decoded());
        let r = f.window(a, b, 2000, None).map(|r| r.items.len());
        println!("overview #{}: {:.1} ms, {:?} items, {} chunks decoded", k + 1, ms(t), r, f.chunks_decoded() - d);
    }
    // zoom in on the middle (x4 each step), pan right and left, zoom out
    let mut views = Vec::new();
    let (mut lo, mut hi) = (a, b);
    for _ in 0..4 {
        let q = (hi - lo) / 8;
        (lo, hi) = (lo + 3 * q, hi - 3 * q);
        views.push((lo, hi));
    }
    let w = hi - lo;
    for s in [1, 2, 1, 0, -1, 0] {
        views.push((lo + s * w / 2, hi + s * w / 2));
    }
    let back: Vec<(i64, i64)> = views.iter().take(4).rev().copied().collect();
    views.extend(back);
    for pass in ["first", "repeated"] {
        let (t, d) = (Instant::now(), f.chunks_decoded());
        for &(l, h) in &views {
            let _ = f.window(l, h, 1200, None);
        }
        println!(
            "zoom/pan ({} windows at 1200 px), {pass}: {:.1} ms, {} chunks decoded, resident {:.1} MB",
            views.len(),
            ms(t),
            f.chunks_decoded() - d,
            f.resident_bytes() as f64 / 1e6
        );
    }
}
