//! The overview a stored window index keeps (the whole run at `window::OVERVIEW_PX`, every
//! thread, made when the index is built): it equals `window::query_rows` over the index and the
//! loaded trace's `window::query` at that window, on recursive traces (rows of thread x depth,
//! as a real recording's) and random ones; a file-backed trace returns it without decoding a
//! chunk; a stale, garbled or inconsistent one is not trusted.
mod common;
use common::*;
use fprofile::filetrace::FileTrace;
use fprofile::synthetic::synthetic_trace;
use fprofile::window::{overview_span, query, query_rows, WindowIndex, OVERVIEW_PX};
use fprofile::winindex::read::FileIndex;
use fprofile::Trace;
use std::path::{Path, PathBuf};

fn dir(name: &str) -> PathBuf {
    // SAFETY (of the test): every test of this binary sets the same value.
    std::env::set_var("FPROFILE_INDEX_MIN_BYTES", "0");
    let d = std::env::temp_dir().join(format!("fprofile-ov-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write(t: &Trace, path: &Path) {
    std::fs::write(path, fprofile::formats::fpt::encode(t)).unwrap();
}

/// `threads` threads each running `rounds` x fib(`n`) recursively (a real recording's shape:
/// rows of thread x depth, each full of calls).
fn fib_trace(threads: usize, rounds: usize, n: u32) -> Trace {
    fn fib(n: u32, t: &mut u64, ev: &mut Vec<(u64, &'static str)>) {
        ev.push((*t, "+fib"));
        *t += 3 + u64::from(n % 3);
        if n >= 2 {
            fib(n - 1, t, ev);
            fib(n - 2, t, ev);
        }
        *t += 2;
        ev.push((*t, "-fib"));
    }
    let mut all = Vec::new();
    let mut end = 0;
    for k in 0..threads {
        let mut t = 10 + k as u64 * 7;
        let mut ev = Vec::new();
        for _ in 0..rounds {
            ev.push((t, "+run"));
            t += 5;
            fib(n, &mut t, &mut ev);
            t += 11;
            ev.push((t, "-run"));
        }
        end = end.max(t);
        all.push(ev);
    }
    let names: Vec<String> = (0..threads).map(|k| format!("T{k}")).collect();
    let th: Vec<Script> = all.iter().enumerate().map(|(k, ev)| (names[k].as_str(), k as u64 + 1, ev.as_slice())).collect();
    fprofile::calltree::build_trace(recording(&th, 1, end + 50))
}

fn open_index(fpt: &Path) -> FileIndex {
    let stamp = fprofile::winindex::Stamp::of(fpt).unwrap();
    FileIndex::open(std::fs::File::open(fprofile::winindex::sidecar_path(fpt)).unwrap(), &stamp).unwrap()
}

/// The stored overview of `t`'s file equals the query over its index and over the loaded trace,
/// and the file-backed trace gives it (all threads or none named) without decoding a chunk.
fn check(t: &Trace, p: &Path) {
    write(t, p);
    let f = FileTrace::open(p).unwrap();
    assert!(f.is_indexed());
    let (t0, t1) = overview_span(&t.threads);
    let loaded = query(t, &WindowIndex::build(t), t0, t1, OVERVIEW_PX, None).unwrap();
    let idx = open_index(p);
    let stored = idx.overview().expect("the index stores the overview");
    assert!(stored == loaded, "the stored overview is the loaded trace's query");
    assert!(query_rows(&idx, t0, t1, OVERVIEW_PX, None).unwrap() == stored, "and the query over the index");
    assert!(f.overview().unwrap() == stored);
    let all: Vec<u64> = (0..t.threads.len() as u64).collect();
    assert!(f.window(t0, t1, OVERVIEW_PX, None).unwrap() == stored);
    assert!(f.window(t0, t1, OVERVIEW_PX, Some(&all)).unwrap() == stored);
    assert_eq!(f.chunks_decoded(), 0, "the overview comes from the directory, no chunk decoded");
    // any other window is asked of the chunks, and answers as the loaded trace
    let other = f.window(t0, t1, OVERVIEW_PX - 1, None).unwrap();
    assert!(other == query(t, &WindowIndex::build(t), t0, t1, OVERVIEW_PX - 1, None).unwrap());
    assert!(f.chunks_decoded() > 0);
}

#[test]
fn the_stored_overview_is_the_query_over_the_index_and_the_loaded_trace() {
    let d = dir("same");
    check(&fib_trace(4, 6, 14), &d.join("fib.fpt"));
    check(&synthetic_trace(120_000, 3, 5), &d.join("syn.fpt"));
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn a_trace_without_calls_stores_none_and_says_so() {
    let d = dir("empty");
    let p = d.join("e.fpt");
    write(&fib_trace(0, 0, 0), &p);
    let f = FileTrace::open(&p).unwrap();
    assert!(open_index(&p).overview().is_none());
    assert!(f.overview().is_err(), "no calls: the query's error, not a made-up reply");
    let _ = std::fs::remove_dir_all(&d);
}

/// Header fields of the sidecar (`docs/format.md`, "The window index").
fn dir_at(side: &[u8]) -> (usize, usize) {
    let u = |i: usize| u64::from_le_bytes(side[i..i + 8].try_into().unwrap()) as usize;
    (u(48), u(56))
}

#[test]
fn a_stale_garbled_or_inconsistent_overview_is_not_trusted() {
    use std::io::{Read, Write};
    let d = dir("trust");
    let p = d.join("x.fpt");
    let side = fprofile::winindex::sidecar_path(&p);
    let a = fib_trace(2, 4, 13);
    let b = fib_trace(3, 5, 12);
    let ov = |t: &Trace| {
        let (t0, t1) = overview_span(&t.threads);
        query(t, &WindowIndex::build(t), t0, t1, OVERVIEW_PX, None).unwrap()
    };
    write(&a, &p);
    drop(FileTrace::open(&p).unwrap());
    // stale: the file changes, the index (and its overview) is rebuilt for the new one
    write(&b, &p);
    assert!(FileTrace::open(&p).unwrap().overview().unwrap() == ov(&b));
    // garbled: a byte of the directory (its end: the overview) changed; the CRC refuses it
    let mut bytes = std::fs::read(&side).unwrap();
    let n = bytes.len();
    bytes[n - 3] ^= 0x5a;
    std::fs::write(&side, &bytes).unwrap();
    let f = FileTrace::open(&p).unwrap();
    assert!(f.overview().unwrap() == ov(&b));
    assert_ne!(std::fs::read(&side).unwrap(), bytes, "rebuilt");
    drop(f);
    // the directory (inflated) changed by `edit`, deflated again and written back with the
    // header's CRC right and the directory's CRC made right only when `fix_crc`
    let rewrite = |edit: &dyn Fn(&mut Vec<u8>), fix_crc: bool| {
        let mut bytes = std::fs::read(&side).unwrap();
        let (off, len) = dir_at(&bytes);
        let mut raw = Vec::new();
        flate2::read::ZlibDecoder::new(&bytes[off..off + len]).read_to_end(&mut raw).unwrap();
        edit(&mut raw);
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(6));
        z.write_all(&raw).unwrap();
        let packed = z.finish().unwrap();
        bytes.truncate(off);
        bytes.extend_from_slice(&packed);
        bytes[56..64].copy_from_slice(&(packed.len() as u64).to_le_bytes());
        let crc = |b: &[u8]| {
            let mut c = flate2::Crc::new();
            c.update(b);
            c.sum()
        };
        if fix_crc {
            let dcrc = crc(&packed);
            bytes[64..68].copy_from_slice(&dcrc.to_le_bytes());
        }
        let hcrc = crc(&bytes[..68]);
        bytes[68..72].copy_from_slice(&hcrc.to_le_bytes());
        std::fs::write(&side, &bytes).unwrap();
    };
    // garbled so that it still decodes (the last item's call index: the directory's last byte)
    // but the directory's CRC is the old one: refused, rebuilt, right
    rewrite(&|raw| *raw.last_mut().unwrap() ^= 2, false);
    let f = FileTrace::open(&p).unwrap();
    assert!(f.overview().unwrap() == ov(&b));
    assert_eq!(f.chunks_decoded(), 0, "the rebuilt index's overview");
    drop(f);
    // inconsistent under a valid CRC: the stored reply's body cut by one byte (its header says
    // more); the reply does not decode, so the overview is asked of the chunks and still right
    rewrite(
        &|raw| {
            let at = raw.windows(4).rposition(|w| w == b"FPWN").expect("the stored reply");
            let body_len = u64::from_le_bytes(raw[at + 8..at + 16].try_into().unwrap());
            raw[at + 8..at + 16].copy_from_slice(&(body_len + 1).to_le_bytes());
        },
        true,
    );
    let f = FileTrace::open(&p).unwrap();
    assert!(open_index(&p).overview().is_none(), "the index opens, its overview is refused");
    assert!(f.overview().unwrap() == ov(&b));
    assert!(f.chunks_decoded() > 0, "asked of the chunks");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn the_cache_keeps_what_a_view_asks_again_within_its_bytes() {
    let d = dir("cache");
    let p = d.join("c.fpt");
    let t = fib_trace(4, 8, 15);
    write(&t, &p);
    let f = FileTrace::open(&p).unwrap();
    let (a, b) = overview_span(&t.threads);
    let idx = WindowIndex::build(&t);
    let views: Vec<(i64, i64)> = (1..6).map(|k| (a + (b - a) * k / 10, a + (b - a) * (k + 1) / 10)).collect();
    for &(t0, t1) in &views {
        assert!(f.window(t0, t1, 1500, None).unwrap() == query(&t, &idx, t0, t1, 1500, None).unwrap());
    }
    let first = f.chunks_decoded();
    assert!(first > 0);
    let held = f.resident_bytes();
    for &(t0, t1) in views.iter().rev() {
        assert!(f.window(t0, t1, 1500, None).unwrap() == query(&t, &idx, t0, t1, 1500, None).unwrap());
    }
    assert_eq!(f.chunks_decoded(), first, "panning back decodes nothing again");
    assert!(held >= first as usize * 10_000, "resident_bytes counts the decoded chunks: {held}");
    // a cache of a few chunks' bytes decodes them again, and holds less
    f.set_cache_bytes(3 * fprofile::winindex::read::CHUNK_BYTES);
    assert!(f.resident_bytes() < held);
    for &(t0, t1) in &views {
        assert!(f.window(t0, t1, 1500, None).unwrap() == query(&t, &idx, t0, t1, 1500, None).unwrap());
    }
    assert!(f.chunks_decoded() > first);
    let _ = std::fs::remove_dir_all(&d);
}
