//! The file-backed trace at scale (`benchmarks/README.md`, "A long run, end to end: the
//! file-backed trace"): writes a synthetic `.fpt` of N calls, builds its window index, then in a
//! fresh process opens it and times the first window (whole span, 1200 px, all threads), a
//! zoomed window, the summary and the flame graph, with resident bytes and peak RSS.
//!
//!     cargo run --release -p fprofile --example filetrace_bench -- 100000000 [threads] [dir]
//!     cargo run --release -p fprofile --example filetrace_bench -- --stop 10000000 [dir] [rounds]
//!
//! (`--stop`: the stop's rewrite of a streamed file of that many calls, without and with the
//! index written beside it, alternately for `rounds` rounds: wall and CPU time.)
//!
//! (The fresh processes are this program again, with `--build PATH CALLS` and `--open PATH`: their
//! peak RSS are the builder's and the reader's.)

use std::time::Instant;

fn peak_rss_mb() -> f64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// CPU time of this process so far (every thread), in seconds.
fn cpu_s() -> f64 {
    // SAFETY: getrusage fills the struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(u.ru_utime) + tv(u.ru_stime)
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

fn open_and_query(path: &str) {
    let t = Instant::now();
    let f = fprofile::filetrace::FileTrace::open(path).expect("opens");
    let open_ms = ms(t);
    assert!(f.is_indexed(), "the index beside the file is used");
    let calls = f.calls() as f64;
    let sk = f.skeleton();
    let a = sk.threads.iter().map(|t| t.first_ns).min().unwrap_or(0);
    let b = sk.threads.iter().map(|t| t.last_ns).max().unwrap_or(1);
    let t = Instant::now();
    let first = f.window(a, b, 1200, None).expect("first window");
    let first_ms = ms(t);
    let first_chunks = f.chunks_decoded();
    let mid = a + (b - a) / 2;
    let t = Instant::now();
    let zoom = f.window(mid, mid + (b - a) / 2000, 1200, None).expect("zoomed window");
    let zoom_ms = ms(t);
    let t = Instant::now();
    let again = f.window(a, b, 1200, None).expect("first window again");
    let again_ms = ms(t);
    assert_eq!(again, first);
    let resident = f.resident_bytes() as f64;
    let rss_windows = peak_rss_mb();
    let t = Instant::now();
    let s = f.summary().expect("summary");
    let summary_ms = ms(t);
    let t = Instant::now();
    let fl = f.flame(None, None).expect("flame");
    let flame_ms = ms(t);
    println!("open (directory, skeleton, overall summary): {open_ms:.1} ms");
    println!(
        "first window, whole span, 1200 px, all threads: {first_ms:.1} ms ({} items, {first_chunks} chunks decoded)",
        first.items.len()
    );
    println!("open + first window: {:.1} ms", open_ms + first_ms);
    println!("zoomed window (1/2000 of the span): {zoom_ms:.1} ms ({} items)", zoom.items.len());
    println!("first window again (cached chunks): {again_ms:.1} ms");
    println!("resident after the windows: {:.0} KB, {:.4} B/call", resident / 1e3, resident / calls);
    println!("peak RSS of this reader after the windows: {rss_windows:.1} MB");
    println!("summary (one walk of the file): {:.1} s ({} functions)", summary_ms / 1e3, s.overall.len());
    println!("flame graph (one walk of the file): {:.1} s ({} nodes)", flame_ms / 1e3, fl.nodes.len());
    println!("peak RSS of this reader at the end: {:.1} MB", peak_rss_mb());
}

/// The stop's rewrite of a streamed file of `calls` synthetic calls, timed without and with the
/// index it writes beside the compact file (`--stop CALLS DIR`).
fn stop_cost(calls: usize, dir: &std::path::Path, rounds: usize) {
    use fprofile::formats::stream::{Encoder, NewThread};
    use fprofile::{Event, EventKind};
    let t = fprofile::synthetic::synthetic_trace(calls, 4, 2);
    let c = &t.calls;
    let mut e = Encoder::default();
    e.header();
    e.process(&fprofile::model::ProcessInfo { pid: 7, name: "prog".into(), ..Default::default() }, 0);
    e.codes(0, &t.codes);
    let new: Vec<NewThread> = (0..t.threads.len()).map(|i| NewThread { id: i as u32, os_id: 100 + i as u64, ident: 1 }).collect();
    let names: Vec<(u32, u64, &str)> = (0..t.threads.len()).map(|i| (i as u32, 0, "worker")).collect();
    e.threads(&new, &names);
    let stream = dir.join("fprofile-stop-bench-stream.fpt");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&stream).expect("stream file"));
    use std::io::Write;
    for (ti, th) in t.threads.iter().enumerate() {
        let mut evs = Vec::new();
        let mut open: Vec<usize> = Vec::new();
        for i in th.call_range.0 as usize..th.call_range.1 as usize {
            while open.len() > c.depth[i] as usize {
                let j = open.pop().unwrap_or(0);
                evs.push(Event { t_ns: c.end_ns[j] as u64, code: c.code[j], kind: EventKind::Return });
            }
            evs.push(Event { t_ns: c.start_ns[i] as u64, code: c.code[i], kind: EventKind::Call });
            open.push(i);
            if evs.len() >= 1 << 16 {
                e.events(ti as u32, &evs, |t| t);
                let until = evs.last().map_or(0, |x| x.t_ns);
                e.flush_events(until);
                file.write_all(&e.out).expect("writes");
                e.out.clear();
                evs.clear();
            }
        }
        while let Some(j) = open.pop() {
            evs.push(Event { t_ns: c.end_ns[j] as u64, code: c.code[j], kind: EventKind::Return });
        }
        e.events(ti as u32, &evs, |t| t);
        e.flush_events(evs.last().map_or(0, |x| x.t_ns));
        file.write_all(&e.out).expect("writes");
        e.out.clear();
    }
    e.end(t.threads.iter().map(|x| x.last_ns).max().unwrap_or(0) as u64 + 10);
    file.write_all(&e.out).expect("writes");
    drop(file);
    drop(t);
    let out = dir.join("fprofile-stop-bench.fpt");
    for round in 0..rounds {
        for (label, min) in [("without the index", u64::MAX), ("with the index", 0)] {
            std::env::set_var("FPROFILE_INDEX_MIN_CALLS", min.to_string());
            let _ = std::fs::remove_file(fprofile::winindex::sidecar_path(&out));
            let (t0, c0) = (Instant::now(), cpu_s());
            let mut comp = fprofile::record::compact::Compactor::new(dir).expect("compactor");
            comp.add_stream(&stream).expect("reads the stream");
            comp.write(&out, &[0]).expect("writes");
            let side = std::fs::metadata(fprofile::winindex::sidecar_path(&out)).map_or(0, |m| m.len());
            println!(
                "round {round}: the stop's rewrite of {calls} calls, {label}: {:.2} s wall, {:.2} s CPU (all threads){}",
                t0.elapsed().as_secs_f64(),
                cpu_s() - c0,
                if side > 0 { format!(", index {:.2} B/call", side as f64 / calls as f64) } else { String::new() }
            );
        }
    }
    let _ = std::fs::remove_file(fprofile::winindex::sidecar_path(&out));
    let _ = std::fs::remove_file(&out);
    let _ = std::fs::remove_file(&stream);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--stop") {
        let calls = args.get(2).and_then(|v| v.parse().ok()).unwrap_or(10_000_000);
        let rounds = args.get(4).and_then(|v| v.parse().ok()).unwrap_or(1);
        stop_cost(calls, &args.get(3).map_or_else(std::env::temp_dir, std::path::PathBuf::from), rounds);
        return;
    }
    if args.get(1).map(String::as_str) == Some("--open") {
        open_and_query(&args[2]);
        return;
    }
    if args.get(1).map(String::as_str) == Some("--build") {
        let path = std::path::Path::new(&args[2]);
        let side = fprofile::winindex::sidecar_path(path);
        let calls: f64 = args[3].parse().unwrap_or(1.0);
        let t = Instant::now();
        fprofile::filetrace::write_index(path).expect("writes the index");
        let side_len = std::fs::metadata(&side).map_or(0, |m| m.len()) as f64;
        println!(
            "index build (one walk of the file): {:.1} s; on disk {:.1} MB, {:.3} B/call; builder's peak RSS {:.0} MB",
            t.elapsed().as_secs_f64(),
            side_len / 1e6,
            side_len / calls,
            peak_rss_mb()
        );
        return;
    }
    let calls: usize = args.get(1).and_then(|v| v.parse().ok()).unwrap_or(100_000_000);
    let threads: usize = args.get(2).and_then(|v| v.parse().ok()).unwrap_or(4);
    let dir = args.get(3).map_or_else(std::env::temp_dir, std::path::PathBuf::from);
    let path = dir.join(format!("fprofile-filetrace-bench-{calls}.fpt"));
    let side = fprofile::winindex::sidecar_path(&path);
    let t = Instant::now();
    let trace = fprofile::synthetic::synthetic_trace(calls, threads, 1);
    let n = trace.calls.len() as f64;
    println!("{} calls, {threads} threads: made in {:.1} s", trace.calls.len(), t.elapsed().as_secs_f64());
    let t = Instant::now();
    let bytes = fprofile::formats::fpt::encode(&trace);
    drop(trace);
    std::fs::write(&path, &bytes).expect("writes the .fpt");
    println!(
        ".fpt: {:.1} MB, {:.3} B/call, written in {:.1} s",
        bytes.len() as f64 / 1e6,
        bytes.len() as f64 / n,
        t.elapsed().as_secs_f64()
    );
    drop(bytes);
    let _ = std::fs::remove_file(&side);
    println!("peak RSS of the writer (the synthetic trace in memory): {:.0} MB", peak_rss_mb());
    let me = std::env::current_exe().expect("this program");
    let status = std::process::Command::new(&me).arg("--build").arg(&path).arg(n.to_string()).status().expect("runs the builder");
    assert!(status.success());
    let status = std::process::Command::new(me).arg("--open").arg(&path).status().expect("runs the reader");
    assert!(status.success());
    let _ = std::fs::remove_file(&side);
    let _ = std::fs::remove_file(&path);
}
