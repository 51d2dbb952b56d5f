//! Format benchmarks (run by `benchmarks/bench_formats.py`, which adds the plain-Python reader and
//! writes `benchmarks/results/formats.md`).
//!
//! `cargo run --release -p fprofile --example bench_formats -- DIR [CALLS] [REPEATS]`
//!
//! Generates the synthetic benchmark recording (fib recursion + method calls on two threads, about
//! CALLS calls, default 1,000,000), writes it as PYME text to `DIR/bench.txt`, and prints one JSON
//! object with: median times of reading+splitting the file into lines (plain `split` and `memchr`),
//! of our PYME text reader (`read_file`, and `fs::read` + `read`: read + parse + build trees), of `build_trace`, of fpt
//! encode/decode; sizes in bytes per call of every format; memory per call of the trace.

#[path = "support/synth.rs"]
mod synth;

use fprofile::calltree::build_trace;
use fprofile::formats::{fpt, perfetto, pyme_json, pyme_text, speedscope};
use std::time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn time<T>(repeats: usize, mut f: impl FnMut() -> T) -> (f64, T) {
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..repeats {
        let t0 = Instant::now();
        let r = f();
        times.push(t0.elapsed().as_secs_f64());
        last = Some(r);
    }
    (median(times), last.expect("repeats >= 1"))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let dir = std::path::PathBuf::from(args.get(1).map_or("/tmp", |s| s.as_str()));
    let n_calls: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
    let repeats: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(5).max(1);

    // Tree building from an in-memory recording.
    let rec = synth::recording(n_calls, 42);
    let n_events: usize = rec.threads.iter().flat_map(|t| &t.chunks).map(Vec::len).sum();
    let (t_build, trace) = time(repeats, || build_trace(rec.clone()));
    let calls = trace.calls.len();
    let column_bytes = trace.calls.heap_bytes();

    // The PYME text file.
    let path = dir.join("bench.txt");
    {
        let f = std::fs::File::create(&path)?;
        pyme_text::write(&trace, f)?;
    }
    let (t_split, lines) = time(repeats, || -> std::io::Result<usize> {
        let bytes = std::fs::read(&path)?;
        Ok(bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()).count())
    });
    let (t_memchr, lines2) = time(repeats, || -> std::io::Result<usize> {
        let bytes = std::fs::read(&path)?;
        Ok(memchr::memchr_iter(b'\n', &bytes).count())
    });
    let (t_read_only, _) = time(repeats, || std::fs::read(&path).map(|b| b.len()));
    let (t_reader, from_text) = time(repeats, || -> Result<fprofile::Trace, Box<dyn std::error::Error>> {
        let bytes = std::fs::read(&path)?;
        Ok(pyme_text::read(&bytes)?)
    });
    let from_text = from_text?;
    let (t_read_file, from_file) = time(repeats, || pyme_text::read_file(&path, &mut |_, _| {}));
    let from_file_equal = from_file.map(|t| t == from_text).unwrap_or(false);
    let (t_read_file_1, _) = time(repeats, || pyme_text::read_file_with_threads(&path, 1, &mut |_, _| {}));
    let text_bytes = std::fs::metadata(&path)?.len();
    let (lines, lines2) = (lines?, lines2?);

    // Sizes.
    let (t_encode, fpt_bytes) = time(repeats, || fpt::encode(&trace));
    let (t_decode, decoded) = time(repeats, || fpt::decode(&fpt_bytes));
    let decoded_ok = decoded.map(|d| d == trace).unwrap_or(false);
    let fpt9 = fpt::encode_with_level(&trace, 9).len();
    let fpt1 = fpt::encode_with_level(&trace, 1).len();
    let body = fpt::encode_body(&trace).len();
    let mut pj = Vec::new();
    pyme_json::write(&trace, &mut pj)?;
    let mut pf = Vec::new();
    perfetto::write(&trace, &mut pf)?;
    let mut ss = Vec::new();
    speedscope::write(&trace, &mut ss)?;
    let fpt_text = fpt::encode(&from_text).len();

    let per = |b: usize| b as f64 / calls as f64;
    println!(
        "{}",
        serde_json::json!({
            "calls": calls,
            "events": n_events,
            "threads": trace.threads.len(),
            "repeats": repeats,
            "text_path": path.to_string_lossy(),
            "text_bytes": text_bytes,
            "text_lines": lines,
            "text_lines_memchr": lines2,
            "text_calls_read": from_text.calls.len(),
            "t_read_only_s": t_read_only,
            "t_read_split_s": t_split,
            "t_read_memchr_s": t_memchr,
            "t_reader_s": t_reader,
            "t_read_file_s": t_read_file,
            "t_read_file_1thread_s": t_read_file_1,
            "read_file_equal": from_file_equal,
            "cores": std::thread::available_parallelism().map_or(1, |n| n.get()),
            "t_build_s": t_build,
            "t_fpt_encode_s": t_encode,
            "t_fpt_decode_s": t_decode,
            "fpt_round_trip_equal": decoded_ok,
            "bytes_per_call": {
                "fpt": per(fpt_bytes.len()),
                "fpt_level1": per(fpt1),
                "fpt_level9": per(fpt9),
                "fpt_uncompressed_body": per(body),
                "fpt_from_text_us_times": per(fpt_text),
                "pyme_json": per(pj.len()),
                "perfetto_json": per(pf.len()),
                "speedscope_json": per(ss.len()),
                "pyme_text": per(text_bytes as usize),
            },
            "memory_bytes_per_call": per(column_bytes),
        })
    );
    Ok(())
}
