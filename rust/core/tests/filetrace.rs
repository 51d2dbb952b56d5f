//! The file-backed trace (`fprofile::filetrace::FileTrace`) answers as the loaded trace: windows
//! (random windows, widths, thread subsets, runs, windows partly outside), summary, overall
//! summary and flame graphs (thread subsets, windows), on random and synthetic traces with many
//! threads, deep recursion, calls begun before and unfinished, several processes and bands; its
//! stored index is rebuilt, never trusted, when the file changed or the index is cut or garbled;
//! it stays a small fraction of the calls in memory.
mod common;
use common::*;
use fprofile::filetrace::FileTrace;
use fprofile::flame::Window;
use fprofile::synthetic::synthetic_trace;
use fprofile::window::{query, WindowIndex};
use fprofile::Trace;
use proptest::prelude::*;
use std::path::PathBuf;

/// A fresh private folder for one test. (Every file opened here writes its index beside it,
/// however small: the tests look at it.)
fn dir(name: &str) -> PathBuf {
    // SAFETY (of the test): every test of this binary sets the same value.
    std::env::set_var("FPROFILE_INDEX_MIN_BYTES", "0");
    let d = std::env::temp_dir().join(format!("fprofile-ft-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write(t: &Trace, path: &std::path::Path) {
    std::fs::write(path, fprofile::formats::fpt::encode(t)).unwrap();
}

/// A tiny deterministic generator.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 11
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// Everything the file-backed trace answers, compared with the loaded trace; `windows` random
/// windows (some partly or wholly outside, some with a thread subset).
fn check_same(t: &Trace, f: &FileTrace, windows: usize, seed: u64) -> Result<(), String> {
    if f.calls() != t.calls.len() as u64 {
        return Err(format!("calls {} != {}", f.calls(), t.calls.len()));
    }
    if f.skeleton() != &fprofile::window::skeleton(t) {
        return Err("skeleton differs".into());
    }
    if f.overall_json().unwrap() != fprofile::summary::overall_json(t) {
        return Err("overall_json differs".into());
    }
    if f.summary().unwrap() != fprofile::summary::summarize(t) {
        return Err("summary differs".into());
    }
    let idx = WindowIndex::build(t);
    let (a, b) = idx.span();
    let span = (b - a).max(1);
    let mut r = Lcg(seed);
    let n_threads = t.threads.len() as u64;
    for k in 0..windows {
        let t0 = a - span / 10 + (r.below(span as u64 * 12 / 10) as i64);
        let w = 1 + (span as f64 * (r.below(1000) as f64 / 1000.0).powi(3)) as i64;
        let px = [1, 7, 300, 1200, 4000][k % 5] as u64;
        let subset: Option<Vec<u64>> =
            (k % 3 == 2 && n_threads > 0).then(|| (0..n_threads).filter(|_| r.below(2) == 0).collect());
        let want = query(t, &idx, t0, t0 + w, px, subset.as_deref());
        let got = f.window(t0, t0 + w, px, subset.as_deref());
        if want != got {
            return Err(format!("window [{t0}, {}] at {px} px, threads {subset:?}: {got:?} != {want:?}", t0 + w));
        }
        let th: Option<Vec<u32>> = subset.map(|s| s.into_iter().map(|x| x as u32).collect());
        let win = (k % 2 == 0).then_some(Window { t0_ns: t0, t1_ns: t0 + w });
        if k < 12 || k % 25 == 0 {
            let want = fprofile::flame::flame(t, th.as_deref(), win);
            let got = f.flame(th.as_deref(), win).unwrap();
            if want != got {
                return Err(format!("flame, threads {th:?}, window {win:?}: {got:?} != {want:?}"));
            }
        }
    }
    // the whole run, and the flame graph of everything
    let want = query(t, &idx, a, b.max(a + 1), 1200, None);
    if f.window(a, b.max(a + 1), 1200, None) != want {
        return Err("the whole window differs".into());
    }
    if f.flame(None, None).unwrap() != fprofile::flame::flame(t, None, None) {
        return Err("the whole flame graph differs".into());
    }
    Ok(())
}

fn open_indexed(t: &Trace, path: &std::path::Path) -> FileTrace {
    write(t, path);
    let f = FileTrace::open(path).unwrap();
    assert!(f.is_indexed(), "a compact .fpt is answered from its index");
    f
}

#[test]
fn synthetic_traces_answer_as_loaded() {
    let d = dir("synthetic");
    for (calls, threads, seed) in [(40_000, 3, 1), (5_000, 40, 2), (100_000, 1, 3), (3, 1, 4)] {
        let t = synthetic_trace(calls, threads, seed);
        let p = d.join(format!("s{seed}.fpt"));
        let f = open_indexed(&t, &p);
        assert!(p.with_extension("fpt.fpx").exists(), "the sidecar is written next to the file");
        check_same(&t, &f, 80, seed).unwrap();
        // opened again: the sidecar is used as it is (not rebuilt)
        let before = std::fs::metadata(p.with_extension("fpt.fpx")).unwrap().modified().unwrap();
        let g = FileTrace::open(&p).unwrap();
        assert_eq!(std::fs::metadata(p.with_extension("fpt.fpx")).unwrap().modified().unwrap(), before);
        check_same(&t, &g, 20, seed + 100).unwrap();
    }
    let _ = std::fs::remove_dir_all(&d);
}

/// One thread recursing 3000 deep, then 5000 calls at depth 2999 (a deep, dense row), an
/// unfinished call and a call begun before the recording.
fn deep_trace() -> Trace {
    let mut ev: Vec<(u64, String)> = vec![(5, "-early".into())];
    let mut t = 10u64;
    for _ in 0..3000 {
        ev.push((t, "+rec".into()));
        t += 1;
    }
    for i in 0..5000 {
        ev.push((t, format!("+leaf{}", i % 3)));
        t += 1 + (i % 7);
        ev.push((t, format!("-leaf{}", i % 3)));
        t += (i % 5) * 40;
    }
    for _ in 0..2990 {
        ev.push((t, "-rec".into()));
        t += 2;
    }
    ev.push((t, "+open".into()));
    let evs: Vec<(u64, &str)> = ev.iter().map(|(t, s)| (*t, s.as_str())).collect();
    fprofile::calltree::build_trace(recording(&[("Main", 1, &evs), ("Other", 2, &[(20, "+x"), (30, "-x")])], 1, t + 50))
}

#[test]
fn deep_recursion_unfinished_and_started_before() {
    let d = dir("deep");
    let t = deep_trace();
    assert!(t.calls.flags.iter().any(|f| f.unfinished()) && t.calls.flags.iter().any(|f| f.started_before()));
    let f = open_indexed(&t, &d.join("deep.fpt"));
    check_same(&t, &f, 60, 9).unwrap();
    let _ = std::fs::remove_dir_all(&d);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 60, .. ProptestConfig::default() })]

    /// Random traces: threads, calls begun before and unfinished, processes, bands.
    #[test]
    fn random_traces_answer_as_loaded(t in strategies::multi_process_trace(), seed in 0u64..1000) {
        let d = std::env::temp_dir().join(format!("fprofile-ft-{}-prop", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        std::env::set_var("FPROFILE_INDEX_MIN_BYTES", "0");
        let p = d.join(format!("r{seed}-{}.fpt", t.calls.len()));
        write(&t, &p);
        let f = FileTrace::open(&p).unwrap();
        prop_assert!(f.is_indexed());
        prop_assert_eq!(check_same(&t, &f, 30, seed), Ok(()));
        let _ = std::fs::remove_file(&p);
        let _ = std::fs::remove_file(fprofile::winindex::sidecar_path(&p));
    }
}

#[test]
fn a_changed_file_or_a_damaged_index_is_rebuilt_not_trusted() {
    let d = dir("stale");
    let p = d.join("x.fpt");
    let side = fprofile::winindex::sidecar_path(&p);
    let a = synthetic_trace(20_000, 2, 11);
    let b = synthetic_trace(30_000, 3, 12);
    open_indexed(&a, &p);
    // the file changes after indexing: the old index is not used
    write(&b, &p);
    let f = FileTrace::open(&p).unwrap();
    check_same(&b, &f, 30, 1).unwrap();
    drop(f);
    // the sidecar cut short
    let len = std::fs::metadata(&side).unwrap().len();
    let bytes = std::fs::read(&side).unwrap();
    std::fs::write(&side, &bytes[..len as usize / 2]).unwrap();
    check_same(&b, &FileTrace::open(&p).unwrap(), 30, 2).unwrap();
    // its directory garbled (a byte near the end)
    let mut bytes = std::fs::read(&side).unwrap();
    let n = bytes.len();
    bytes[n - 10] ^= 0x55;
    std::fs::write(&side, &bytes).unwrap();
    check_same(&b, &FileTrace::open(&p).unwrap(), 30, 3).unwrap();
    // a chunk garbled after opening: the query notices, rebuilds and answers right
    let f = FileTrace::open(&p).unwrap();
    let mut bytes = std::fs::read(&side).unwrap();
    for k in (200..bytes.len() / 2).step_by(97) {
        bytes[k] ^= 0xa5;
    }
    std::fs::write(&side, &bytes).unwrap();
    check_same(&b, &f, 30, 4).unwrap();
    // a symlink in the sidecar's place is not followed: a real index replaces it
    let elsewhere = d.join("elsewhere.fpx");
    std::fs::copy(&side, &elsewhere).unwrap();
    std::fs::remove_file(&side).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &side).unwrap();
    check_same(&b, &FileTrace::open(&p).unwrap(), 10, 5).unwrap();
    assert!(!std::fs::symlink_metadata(&side).unwrap().file_type().is_symlink());
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&side).unwrap().permissions().mode() & 0o777, 0o600);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn a_folder_that_cannot_hold_the_index_puts_it_in_the_cache_or_a_temporary_file() {
    let d = dir("ro");
    let p = d.join("ro.fpt");
    let t = synthetic_trace(10_000, 2, 21);
    write(&t, &p);
    // the sidecar's place is taken (a folder): the index goes to the user's cache
    std::fs::create_dir(fprofile::winindex::sidecar_path(&p)).unwrap();
    // SAFETY (of the test): the other tests of this binary never need the cache.
    std::env::set_var("XDG_CACHE_HOME", d.join("cache"));
    let f = FileTrace::open(&p).unwrap();
    assert!(f.is_indexed());
    let at = f.index_path().expect("an index file");
    assert!(at.starts_with(d.join("cache").join("fprofile").join("index")), "{at:?}");
    check_same(&t, &f, 20, 7).unwrap();
    // nor can the cache (a file where its folder would be): an unlinked temporary file
    std::fs::write(d.join("nocache"), b"").unwrap();
    std::env::set_var("XDG_CACHE_HOME", d.join("nocache"));
    std::fs::remove_dir_all(d.join("cache")).unwrap();
    let f = FileTrace::open(&p).unwrap();
    assert!(f.is_indexed());
    assert_eq!(f.index_path(), None);
    check_same(&t, &f, 20, 8).unwrap();
    std::env::remove_var("XDG_CACHE_HOME");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn other_files_are_loaded_whole_and_answer_the_same() {
    let d = dir("other");
    let t = synthetic_trace(3_000, 2, 5);
    let p = d.join("t.json");
    let mut json = Vec::new();
    fprofile::formats::pyme_json::write(&t, &mut json).unwrap();
    std::fs::write(&p, json).unwrap();
    let f = FileTrace::open(&p).unwrap();
    assert!(!f.is_indexed());
    let loaded = fprofile::load(&p).unwrap();
    check_same(&loaded, &f, 20, 3).unwrap();
    // a cut compact file: the error loading it gives, no index
    let q = d.join("cut.fpt");
    let bytes = fprofile::formats::fpt::encode(&t);
    std::fs::write(&q, &bytes[..bytes.len() / 2]).unwrap();
    let e = FileTrace::open(&q).unwrap_err().to_string();
    assert_eq!(e, fprofile::load(&q).unwrap_err().to_string());
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn resident_memory_is_a_small_fraction_of_the_calls() {
    let d = dir("resident");
    let t = synthetic_trace(2_000_000, 4, 31);
    let p = d.join("big.fpt");
    let f = open_indexed(&t, &p);
    f.set_cache_chunks(8);
    let idx = WindowIndex::build(&t);
    let (a, b) = idx.span();
    for k in 0..20 {
        let t0 = a + (b - a) / 20 * k;
        assert_eq!(
            f.window(t0, t0 + (b - a) / (1 + k * 50), 1200, None),
            query(&t, &idx, t0, t0 + (b - a) / (1 + k * 50), 1200, None)
        );
    }
    let per_call = f.resident_bytes() as f64 / t.calls.len() as f64;
    assert!(per_call < 1.0, "{per_call} bytes per call resident");
    let _ = std::fs::remove_dir_all(&d);
}

/// The events of a trace's threads (what the hook records), codes as they are.
fn events(t: &Trace) -> Vec<Vec<fprofile::Event>> {
    use fprofile::{Event, EventKind};
    let c = &t.calls;
    t.threads
        .iter()
        .map(|th| {
            let mut out = Vec::new();
            let mut open: Vec<usize> = Vec::new();
            for i in th.call_range.0 as usize..th.call_range.1 as usize {
                while open.len() > c.depth[i] as usize {
                    let j = open.pop().unwrap();
                    out.push(Event { t_ns: c.end_ns[j] as u64, code: c.code[j], kind: EventKind::Return });
                }
                out.push(Event { t_ns: c.start_ns[i] as u64, code: c.code[i], kind: EventKind::Call });
                open.push(i);
            }
            while let Some(j) = open.pop() {
                out.push(Event { t_ns: c.end_ns[j] as u64, code: c.code[j], kind: EventKind::Return });
            }
            out
        })
        .collect()
}

/// What the sidecar of `fpt` holds (`FileIndex::content`: everything but where its chunks lie),
/// when it is there and names the file.
fn index_content(fpt: &std::path::Path) -> Option<Vec<u8>> {
    let stamp = fprofile::winindex::Stamp::of(fpt).unwrap();
    let f = std::fs::File::open(fprofile::winindex::sidecar_path(fpt)).ok()?;
    fprofile::winindex::read::FileIndex::open(f, &stamp).map(|i| i.content().unwrap())
}

#[test]
fn the_stops_rewrite_writes_the_index_a_rebuild_would() {
    use fprofile::formats::stream::{Encoder, NewThread};
    let d = dir("compact");
    let t = synthetic_trace(60_000, 3, 41);
    let evs = events(&t);
    let mut e = Encoder::default();
    e.header();
    e.process(&fprofile::model::ProcessInfo { pid: 7, name: "prog".into(), ..Default::default() }, 0);
    e.codes(0, &t.codes);
    let new: Vec<NewThread> = (0..evs.len()).map(|i| NewThread { id: i as u32, os_id: 100 + i as u64, ident: 1 }).collect();
    let names: Vec<(u32, u64, &str)> = (0..evs.len()).map(|i| (i as u32, 0, "worker")).collect();
    e.threads(&new, &names);
    let rounds = 7;
    let mut until = 0;
    for r in 0..rounds {
        for (ti, ev) in evs.iter().enumerate() {
            let piece = &ev[ev.len() * r / rounds..ev.len() * (r + 1) / rounds];
            e.events(ti as u32, piece, |t| t);
            until = until.max(piece.last().map_or(0, |x| x.t_ns));
        }
        e.flush_events(until);
    }
    e.end(until + 10);
    let stream = d.join("rec.fpt");
    std::fs::write(&stream, &e.out).unwrap();
    // SAFETY (of the test): no other test of this binary reads the variable.
    std::env::set_var("FPROFILE_INDEX_MIN_CALLS", "1000");
    let mut c = fprofile::record::compact::Compactor::new(&d).unwrap();
    c.add_stream(&stream).unwrap();
    let out = d.join("out.fpt");
    c.write(&out, &[0]).unwrap();
    let written = index_content(&out).expect("the stop's rewrite writes the index");
    std::fs::remove_file(fprofile::winindex::sidecar_path(&out)).unwrap();
    fprofile::filetrace::write_index(&out).unwrap();
    assert!(index_content(&out).unwrap() == written, "the index a walk of the file writes is the same");
    let loaded = fprofile::load(&out).unwrap();
    let f = FileTrace::open(&out).unwrap();
    check_same(&loaded, &f, 40, 8).unwrap();
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn saving_an_fpt_writes_the_index_a_walk_of_the_file_would() {
    let d = dir("save");
    // SAFETY (of the test): the variable is only read when writing files, to the same value.
    std::env::set_var("FPROFILE_INDEX_MIN_CALLS", "1000");
    for (k, t) in [synthetic_trace(50_000, 3, 51), deep_trace()].into_iter().enumerate() {
        let p = d.join(format!("saved{k}.fpt"));
        fprofile::formats::save(&t, &p, fprofile::formats::Format::Fpt, None).unwrap();
        let side = fprofile::winindex::sidecar_path(&p);
        let from_trace = std::fs::read(&side).expect("saving writes the index");
        std::fs::remove_file(&side).unwrap();
        fprofile::filetrace::write_index(&p).unwrap();
        assert_eq!(std::fs::read(&side).unwrap(), from_trace, "made from the trace = made from the file");
    }
    let _ = std::fs::remove_dir_all(&d);
}
