//! The compaction against the in-memory build (file bodies compared byte for byte).

use super::*;
use crate::formats::stream::{Encoder, NewThread};

/// Segments of every kind (incompressible, repetitive, empty-ish, long), each compressed from
/// an empty buffer as the pool's threads do, concatenated as `write` does: one valid stream.
#[test]
fn segments_concatenate_into_one_zlib_stream() {
    let mut rng = Rng(77);
    let mut z = Compress::new(Compression::new(fpt::ZLIB_LEVEL), false);
    let mut stream = vec![0x78, 0x9c];
    let (mut whole, mut adler) = (Vec::new(), 1u32);
    for k in 0..40 {
        let n = [1, 100, 70_000, 262_144, 600_000][k % 5] + rng.next(5000) as usize;
        let data: Vec<u8> = match k % 3 {
            0 => (0..n).map(|_| rng.next(256) as u8).collect(),
            1 => (0..n).map(|i| (i % 7) as u8 | if rng.next(50) == 0 { 0x80 } else { 0 }).collect(),
            _ => (0..n).map(|_| (rng.next(4) * 60) as u8).collect(),
        };
        let mut out = Vec::new();
        deflate_segment(&mut z, &data, &mut out);
        stream.extend_from_slice(&out);
        adler = adler32_combine(adler, adler32(1, &data), data.len() as u64);
        whole.extend_from_slice(&data);
    }
    stream.extend_from_slice(&[0x03, 0x00]);
    stream.extend_from_slice(&adler.to_be_bytes());
    let mut back = Vec::new();
    flate2::read::ZlibDecoder::new(&stream[..]).read_to_end(&mut back).unwrap();
    assert!(back == whole, "{} of {} bytes back", back.len(), whole.len());
}

#[test]
fn adler_combines() {
    let (x, y) = (b"the quick brown fox ".repeat(300), b"jumps over".repeat(7000));
    let whole = adler32(1, &[x.clone(), y.clone()].concat());
    assert_eq!(adler32_combine(adler32(1, &x), adler32(1, &y), y.len() as u64), whole);
    assert_eq!(adler32_combine(1, adler32(1, &y), y.len() as u64), adler32(1, &y));
    assert_eq!(adler32(adler32(1, &x), &y), whole);
}

struct Rng(u64);
impl Rng {
    fn next(&mut self, m: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % m.max(1)
    }
}

/// Random events of `threads` threads over `codes` codes: nested calls, returns of calls
/// begun before (no matching call), returns closing several calls, calls left open.
fn random_threads(rng: &mut Rng, threads: usize, codes: u32, events: usize, t0: u64) -> Vec<Vec<Event>> {
    (0..threads)
        .map(|_| {
            let mut t = t0 + rng.next(5_000);
            let mut open: Vec<u32> = Vec::new();
            let mut out = Vec::new();
            for _ in 0..rng.next(events as u64) + 1 {
                t += rng.next(3) * rng.next(400);
                let r = rng.next(100);
                if r < 50 || open.is_empty() && r < 80 {
                    let c = rng.next(u64::from(codes)) as u32;
                    open.push(c);
                    out.push(Event { t_ns: t, code: c, kind: EventKind::Call });
                } else if r < 95 && !open.is_empty() {
                    let c = open.pop().unwrap_or(0);
                    out.push(Event { t_ns: t, code: c, kind: EventKind::Return });
                } else {
                    // a code maybe deeper in the stack, or none (begun before)
                    let c = rng.next(u64::from(codes)) as u32;
                    if let Some(p) = open.iter().rposition(|&o| o == c) {
                        open.truncate(p);
                    }
                    out.push(Event { t_ns: t, code: c, kind: EventKind::Return });
                }
            }
            out
        })
        .collect()
}

fn codes(n: u32, tag: &str) -> Vec<Code> {
    (0..n).map(|i| Code { file: format!("/app/{}.py", i % 3), name: format!("{tag}{}", i % 5), first_line: i % 4 }).collect()
}

/// A streamed file of these threads, in rounds, codes and threads declared as first used.
fn stream_file(codes: &[Code], threads: &[Vec<Event>], start: u64, end: Option<u64>, rounds: usize) -> Vec<u8> {
    let mut e = Encoder::default();
    e.header();
    let p = ProcessInfo { pid: 100, parent_pid: 1, name: "python prog.py".into(), host: "h".into(), ..ProcessInfo::default() };
    e.process(&p, start);
    e.metadata(&[("subs".to_string(), "[\"app\"]".to_string())]);
    let mut declared_codes = 0usize;
    let mut declared_threads = 0usize;
    for r in 0..rounds {
        let mut batch: Vec<(u32, Vec<Event>)> = Vec::new();
        for (ti, evs) in threads.iter().enumerate() {
            let lo = evs.len() * r / rounds;
            let hi = evs.len() * (r + 1) / rounds;
            if lo < hi {
                batch.push((ti as u32, evs[lo..hi].to_vec()));
            }
        }
        let need = batch.iter().flat_map(|(_, e)| e.iter()).map(|e| e.code as usize + 1).max().unwrap_or(0);
        if need > declared_codes {
            e.codes(declared_codes as u32, &codes[declared_codes..need]);
            declared_codes = need;
        }
        let need_t = batch.iter().map(|(t, _)| *t as usize + 1).max().unwrap_or(0);
        if need_t > declared_threads {
            let new: Vec<NewThread> =
                (declared_threads..need_t).map(|t| NewThread { id: t as u32, os_id: 1000 + t as u64, ident: 7 }).collect();
            let names: Vec<(u32, u64, &str)> = (declared_threads..need_t)
                .filter(|t| t % 3 != 2)
                .map(|t| (t as u32, start, if t == 0 { "MainThread" } else { "worker" }))
                .collect();
            e.threads(&new, &names);
            declared_threads = need_t;
        }
        for (t, evs) in &batch {
            e.events(*t, evs, |t| t);
        }
        let until = batch.iter().flat_map(|(_, e)| e.last()).map(|e| e.t_ns).max().unwrap_or(start);
        e.flush_events(until);
    }
    if let Some(stop) = end {
        e.end(stop);
    }
    e.out
}

fn spool_file(pid: u64, codes: &[Code], threads: &[Vec<Event>], start: u64, end: Option<u64>) -> Vec<u8> {
    let mut e = spool::Encoder::default();
    e.header();
    e.process(&ProcessInfo { pid, parent_pid: 100, name: format!("child {pid}"), ..ProcessInfo::default() }, start);
    for c in codes {
        e.code(c);
    }
    for (t, evs) in threads.iter().enumerate() {
        e.thread(t as u32, 2000 + t as u64, 9);
        e.thread_name(t as u32, start, "MainThread");
        for piece in evs.chunks(50) {
            e.events(t as u32, piece, |t| t);
        }
    }
    if let Some(stop) = end {
        e.end(spool::End { t_ns: stop, how: spool::EndHow::Exited, exit_status: Some(0) });
    }
    e.buf
}

struct Case {
    dir: PathBuf,
}
impl Case {
    fn new(name: &str) -> Case {
        let dir = std::env::temp_dir().join(format!("fprofile-compact-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Case { dir }
    }
    fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }
}
impl Drop for Case {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Compacts the stream and spools; checks the body and the summary against the in-memory path.
fn check(case: &Case, stream_bytes: &[u8], spools: &[Vec<u8>], keep: &[usize], limits: (usize, usize)) -> Outline {
    let sp = case.file("rec.fpt", stream_bytes);
    let mut parts = vec![crate::formats::stream::decode(stream_bytes).unwrap()];
    parts.extend(spools.iter().map(|s| crate::calltree::build_process_trace(spool::read(s).unwrap().recording)));
    // the index's chunks kept raw for the first half of the calls, then written as they fill
    let half = keep.iter().map(|&k| parts[k].calls.len() as u64).sum::<u64>() / 2;
    let mut c = Compactor::new(&case.dir).unwrap().with_limits(limits.0, limits.1).with_index_min_calls(half);
    c.add_stream(&sp).unwrap();
    for (i, s) in spools.iter().enumerate() {
        let p = case.file(&format!("{i}.spool"), s);
        let info = c.add_spool(&p).unwrap();
        assert_eq!(info.calls as usize, parts[i + 1].calls.len());
    }
    let out = case.dir.join("out.fpt");
    let outline = c.write(&out, keep).unwrap();
    let kept: Vec<Trace> = keep.iter().map(|&k| parts[k].clone()).collect();
    let want = if kept.len() > 1 { crate::merge::merge(kept).unwrap() } else { kept.into_iter().next().unwrap() };
    let bytes = std::fs::read(&out).unwrap();
    let got = fpt::decode(&bytes).unwrap();
    assert_eq!(fpt::decode_body(&bytes).unwrap(), fpt::encode_body(&want), "bodies differ");
    assert_eq!(got, fpt::decode(&fpt::encode(&want)).unwrap());
    assert_eq!(outline.calls as usize, want.calls.len());
    assert_eq!(outline.summary, crate::summary::summarize(&want), "summaries differ");
    assert_eq!(outline.trace.threads, want.threads);
    assert_eq!(outline.trace.processes, want.processes);
    assert_eq!(outline.trace.metadata, want.metadata);
    // the outline of both files, read in one pass, is the same
    let walked = crate::load::outline(&out, &mut |_, _| {}).unwrap().unwrap();
    assert_eq!(walked.summary, outline.summary);
    assert_eq!((walked.calls, &walked.trace.threads, &walked.trace.metadata), (outline.calls, &want.threads, &want.metadata));
    if keep.len() == 1 {
        let streamed = crate::load::outline(&sp, &mut |_, _| {}).unwrap().unwrap();
        assert_eq!(streamed.summary, outline.summary);
        assert_eq!(streamed.trace.threads, want.threads);
    }
    // the window index written beside it, made from the events as they were read, holds what
    // the index built by a walk of the file holds (chunk for chunk, byte for byte)
    let side = crate::winindex::sidecar_path(&out);
    let made = index_content(&out).expect("the rewrite writes the index beside the file");
    std::fs::remove_file(&side).unwrap();
    crate::winindex::build::build(&out, std::slice::from_ref(&side)).unwrap();
    assert!(index_content(&out).unwrap() == made, "the rewrite's index differs from the walk's");
    // no spill file is left, nor the index's chunks
    let left: Vec<_> = std::fs::read_dir(&case.dir).unwrap().flatten().map(|e| e.file_name()).collect();
    assert!(left.iter().all(|n| !n.to_string_lossy().contains("spill") && !n.to_string_lossy().contains("index")), "{left:?}");
    std::fs::remove_file(&side).unwrap();
    outline
}

/// What the sidecar of `fpt` holds, but where its chunks lie (`FileIndex::content`).
fn index_content(fpt: &Path) -> Option<Vec<u8>> {
    let stamp = crate::winindex::Stamp::of(fpt).ok()?;
    let f = File::open(crate::winindex::sidecar_path(fpt)).ok()?;
    crate::winindex::read::FileIndex::open(f, &stamp).map(|i| i.content().unwrap())
}

/// A thread that runs long (rows of several chunks) before it returns from calls begun before
/// the recording (`begun` of them, each after a stretch of calls under it), with calls under
/// each, and leaves `open` calls unfinished.
fn long_thread(rng: &mut Rng, t0: u64, begun: u32, open: u32, stretch: usize) -> Vec<Event> {
    let ev = |t, c, k| Event { t_ns: t, code: c, kind: k };
    let mut out = Vec::new();
    let mut t = t0;
    let leaf = |rng: &mut Rng, out: &mut Vec<Event>, t: &mut u64, depth: u32| {
        // a little tree: depth levels of calls, each with a few leaves
        let mut stack = Vec::new();
        for d in 0..depth {
            let c = 10 + d % 4;
            *t += 1 + rng.next(30);
            out.push(ev(*t, c, EventKind::Call));
            stack.push(c);
        }
        for _ in 0..1 + rng.next(3) {
            *t += rng.next(5);
            out.push(ev(*t, 20, EventKind::Call));
            *t += rng.next(50);
            out.push(ev(*t, 20, EventKind::Return));
        }
        while let Some(c) = stack.pop() {
            *t += rng.next(20);
            out.push(ev(*t, c, EventKind::Return));
        }
    };
    for b in 0..begun {
        for _ in 0..stretch {
            let depth = 1 + rng.next(3) as u32;
            leaf(rng, &mut out, &mut t, depth);
        }
        t += 7;
        out.push(ev(t, b % 3, EventKind::Return)); // no call of it is open: begun before
    }
    for _ in 0..stretch / 2 {
        let depth = rng.next(3) as u32;
        leaf(rng, &mut out, &mut t, depth);
    }
    for k in 0..open {
        t += 3;
        out.push(ev(t, 5 + k % 2, EventKind::Call));
    }
    out
}

#[test]
fn the_index_of_calls_begun_before_in_several_threads_and_children() {
    let case = Case::new("begun");
    let mut rng = Rng(5);
    let cs = codes(24, "f");
    // rows of thousands of calls (several chunks) made before each call begun before is found
    let threads: Vec<Vec<Event>> =
        (0..3).map(|k| long_thread(&mut rng, 1_000_000 + 50 * k, [3, 0, 1][k as usize], [2, 0, 3][k as usize], 1500)).collect();
    let bytes = stream_file(&cs, &threads, 1_000_000, Some(900_000_000), 4);
    let spools: Vec<Vec<u8>> = (0..2)
        .map(|k| {
            let th: Vec<Vec<Event>> =
                (0..2).map(|j| long_thread(&mut rng, 2_000_000 + 10 * j, 2 - j as u32, j as u32, 900)).collect();
            spool_file(300 + k, &cs, &th, 1_500_000 + k, Some(800_000_000))
        })
        .collect();
    let o = check(&case, &bytes, &spools, &[0, 1, 2], (SEGMENT, BUDGET));
    assert!(o.calls > 20_000, "{}", o.calls);
}

#[test]
fn the_index_of_many_threads() {
    let case = Case::new("many");
    let mut rng = Rng(9);
    let cs = codes(24, "f");
    // (first times apart: two threads starting at the same nanosecond are ordered as first seen
    // in the stream by the rewrite, as declared by the in-memory build)
    let threads: Vec<Vec<Event>> = (0..300u64)
        .map(|k| {
            let t0 = 1_000_000 + 6_000 * k;
            if k % 7 == 0 {
                long_thread(&mut rng, t0, 1, 1, 40)
            } else {
                random_threads(&mut rng, 1, 24, 60, t0).remove(0)
            }
        })
        .collect();
    let bytes = stream_file(&cs, &threads, 1_000_000, Some(900_000_000), 3);
    check(&case, &bytes, &[], &[0], (256, 1 << 16));
}

#[test]
fn random_recordings_compact_to_the_file_of_the_built_trace() {
    let case = Case::new("random");
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for round in 0..60 {
        let n_threads = 1 + rng.next(4) as usize;
        let cs = codes(1 + rng.next(12) as u32, "f");
        let threads = random_threads(&mut rng, n_threads, cs.len() as u32, 400, 1_000_000);
        let last = threads.iter().flat_map(|t| t.last()).map(|e| e.t_ns).max().unwrap_or(0);
        let end = if round % 4 == 3 { None } else { Some(last + rng.next(1000)) };
        let bytes = stream_file(&cs, &threads, 999_000 + rng.next(2) * 2_000, end, 1 + rng.next(5) as usize);
        let limits = if round % 2 == 0 { (64, 1 << 20) } else { (SEGMENT, 300) };
        check(&case, &bytes, &[], &[0], limits);
    }
}

#[test]
fn children_merge_on_the_common_clock() {
    let case = Case::new("children");
    let mut rng = Rng(42);
    for round in 0..20 {
        let cs = codes(6, "f");
        let threads = random_threads(&mut rng, 2, 6, 300, 1_000_000);
        let bytes = stream_file(&cs, &threads, 1_000_000, Some(9_000_000), 3);
        let child_codes = codes(8, if round % 2 == 0 { "f" } else { "g" });
        let spools: Vec<Vec<u8>> = (0..3)
            .map(|k| {
                let th = if k == 1 { Vec::new() } else { random_threads(&mut rng, 1 + k, 8, 300, 1_200_000 + 1000 * k as u64) };
                let end = if k == 2 { None } else { Some(8_000_000) };
                spool_file(200 + k as u64, if th.is_empty() { &[] } else { &child_codes }, &th, 1_100_000 + k as u64, end)
            })
            .collect();
        check(&case, &bytes, &spools, &[0, 1, 2, 3], (128, 1 << 20));
        // the child that recorded nothing left out
        check(&case, &bytes, &spools, &[0, 1, 3], (SEGMENT, BUDGET));
    }
}

#[test]
fn a_cut_stream_compacts_what_is_whole() {
    let case = Case::new("cut");
    let mut rng = Rng(7);
    let cs = codes(5, "f");
    let threads = random_threads(&mut rng, 3, 5, 2000, 1_000_000);
    let bytes = stream_file(&cs, &threads, 1_000_000, None, 6);
    for cut in [bytes.len() - 1, bytes.len() - 40, bytes.len() * 2 / 3, bytes.len() / 2 + 3] {
        let o = check(&case, &bytes[..cut], &[], &[0], (256, 1 << 20));
        assert!(o.trace.metadata.iter().any(|(k, _)| k == crate::formats::stream::END_MISSING_WARNING));
    }
    // a damaged chunk that is not the last is an error naming it
    let mut bad = bytes.clone();
    bad[stream::HEADER_LEN + 20] ^= 0xff;
    let p = case.file("bad.fpt", &bad);
    let mut c = Compactor::new(&case.dir).unwrap();
    let e = c.add_stream(&p).unwrap_err().to_string();
    assert!(e.contains("chunk 0 at byte 8"), "{e}");
}

#[test]
fn a_spool_that_cannot_be_read_adds_nothing() {
    let case = Case::new("badspool");
    let mut rng = Rng(11);
    let cs = codes(4, "f");
    let threads = random_threads(&mut rng, 2, 4, 300, 1_000_000);
    let bytes = stream_file(&cs, &threads, 1_000_000, Some(5_000_000), 2);
    let sp = case.file("rec.fpt", &bytes);
    let good = spool_file(7, &codes(4, "f"), &random_threads(&mut rng, 1, 4, 200, 1_100_000), 1_050_000, Some(4_000_000));
    let mut bad = spool_file(8, &codes(6, "zz"), &random_threads(&mut rng, 1, 6, 200, 1_100_000), 1_050_000, Some(4_000_000));
    // a malformed events record (not a multiple of 12 bytes) after the codes
    bad.extend_from_slice(&[6, 5, 0, 0, 0, 0, 0, 0, 0, 1]);
    bad.extend_from_slice(&[9, 1, 0, 0, 0, 0]);
    let mut c = Compactor::new(&case.dir).unwrap();
    c.add_stream(&sp).unwrap();
    assert!(c.add_spool(&case.file("bad.spool", &bad)).is_err());
    assert!(c.add_spool(&case.dir.join("missing.spool")).is_err());
    c.add_spool(&case.file("good.spool", &good)).unwrap();
    let out = case.dir.join("out.fpt");
    c.write(&out, &[0, 1]).unwrap();
    let want = crate::merge::merge(vec![
        crate::formats::stream::decode(&bytes).unwrap(),
        crate::calltree::build_process_trace(spool::read(&good).unwrap().recording),
    ])
    .unwrap();
    assert_eq!(fpt::decode_body(&std::fs::read(&out).unwrap()).unwrap(), fpt::encode_body(&want));
}

#[test]
fn a_walk_gives_the_summary_of_any_fpt() {
    let case = Case::new("walk");
    for (i, seed) in [1u64, 2, 3, 99].into_iter().enumerate() {
        let t = crate::synthetic::synthetic_trace(5_000 * (i + 1), 1 + i, seed);
        let p = case.file("s.fpt", &fpt::encode(&t));
        let o = crate::load::outline(&p, &mut |_, _| {}).unwrap().unwrap();
        assert_eq!(o.summary, crate::summary::summarize(&t));
        assert_eq!(o.calls as usize, t.calls.len());
    }
    // a call starting before its previous sibling ended (the back list), a thread with none
    let mut t = crate::synthetic::synthetic_trace(3, 1, 5);
    t.calls.start_ns = vec![0, 5, 30];
    t.calls.end_ns = vec![10, 20, 40];
    t.calls.depth = vec![0, 0, 0];
    t.calls.parent = vec![u32::MAX; 3];
    t.threads[0].first_ns = 0;
    t.threads[0].last_ns = 40;
    t.threads[0].names.truncate(1);
    t.threads[0].names[0].0 = 0;
    t.threads[0].call_range = (0, 3);
    t.calls.code.truncate(3);
    t.calls.flags.truncate(3);
    let mut empty = t.threads[0].clone();
    empty.call_range = (3, 3);
    t.threads.push(empty);
    let p = case.file("b.fpt", &fpt::encode(&t));
    let o = crate::load::outline(&p, &mut |_, _| {}).unwrap().unwrap();
    assert_eq!(o.summary, crate::summary::summarize(&fpt::decode(&fpt::encode(&t)).unwrap()));
    // other files: none; a damaged one: the error
    assert!(crate::load::outline(case.file("x.txt", b"0.1\t1\ta.py\tf\tcall\t1\n"), &mut |_, _| {}).unwrap().is_none());
    let mut bad = fpt::encode(&crate::synthetic::synthetic_trace(2_000, 2, 4));
    let k = bad.len() / 2;
    bad[k] ^= 0x55;
    assert!(crate::load::outline(case.file("bad.fpt", &bad), &mut |_, _| {}).is_err());
}

#[test]
fn what_needs_the_in_memory_build_says_so() {
    let case = Case::new("needs");
    let cs = codes(2, "f");
    let ev = |t, c, k| Event { t_ns: t, code: c, kind: k };
    let threads = vec![vec![ev(10, 0, EventKind::Call), ev(5, 1, EventKind::Call)]];
    let p = case.file("r.fpt", &stream_file(&cs, &threads, 1, Some(100), 1));
    let mut c = Compactor::new(&case.dir).unwrap();
    assert!(matches!(c.add_stream(&p), Err(CompactError::NeedsBuild(_))));
}

#[test]
fn a_recording_under_the_bound_gets_no_index() {
    let case = Case::new("small");
    let mut rng = Rng(3);
    let cs = codes(24, "f");
    let threads: Vec<Vec<Event>> = (0..2).map(|k| long_thread(&mut rng, 1_000_000 + 9_000_000 * k, 1, 1, 900)).collect();
    let sp = case.file("rec.fpt", &stream_file(&cs, &threads, 1_000_000, Some(900_000_000), 3));
    let total = crate::formats::stream::decode(&std::fs::read(&sp).unwrap()).unwrap().calls.len() as u64;
    for (min, indexed) in [(total + 1, false), (total, true), (u64::MAX, false)] {
        let mut c = Compactor::new(&case.dir).unwrap().with_index_min_calls(min);
        c.add_stream(&sp).unwrap();
        let out = case.dir.join("out.fpt");
        assert_eq!(c.write(&out, &[0]).unwrap().calls, total);
        let side = crate::winindex::sidecar_path(&out);
        assert_eq!(side.exists(), indexed, "{min} for {total} calls");
        let _ = std::fs::remove_file(&side);
        let left: Vec<_> = std::fs::read_dir(&case.dir).unwrap().flatten().map(|e| e.file_name()).collect();
        assert_eq!(left.len(), 2, "{left:?}");
    }
}
