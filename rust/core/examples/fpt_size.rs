//! Quick size probe: bytes per call of `.fpt` at each zlib level on the synthetic benchmark trace.
#[path = "support/synth.rs"]
mod synth;
use fprofile::calltree::build_trace;
use fprofile::formats::fpt;

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
    let t = build_trace(synth::recording(n, 42));
    let calls = t.calls.len() as f64;
    let body = fpt::encode_body(&t);
    println!("calls {}  raw body {:.2} B/call", t.calls.len(), body.len() as f64 / calls);
    for level in [1, 6, 9] {
        let t0 = std::time::Instant::now();
        let b = fpt::encode_with_level(&t, level);
        println!("level {level}: {:.3} B/call  ({:.0} ms)", b.len() as f64 / calls, t0.elapsed().as_secs_f64() * 1e3);
    }
}
