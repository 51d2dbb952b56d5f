//! The streamed `.fpt` container (`formats::stream`): what a writer's rounds give back, files cut
//! at every byte, damaged chunks, the flight recorder's window.

use fprofile::calltree::build_trace;
use fprofile::formats::stream::{self, Encoder, NewThread, StreamError, END_MISSING_WARNING, LAST_CHUNK_WARNING};
use fprofile::{load_bytes, CallFlags, Code, Event, EventKind, ProcessInfo, Recording, ThreadRecord, Trace};

fn ev(t_ns: u64, code: u32, kind: EventKind) -> Event {
    Event { t_ns, code, kind }
}

/// Two threads, three rounds: thread 0 a loop of f(g()), thread 1 starting in round 2 with a call
/// still open at the end; one time steps back (clock recalibration) when `step_back`.
fn rounds_with(step_back: bool) -> (Vec<Code>, Vec<Vec<Vec<Event>>>) {
    let codes = vec![
        Code { file: "/app/a.py".into(), name: "f".into(), first_line: 1 },
        Code { file: "/app/a.py".into(), name: "g".into(), first_line: 5 },
        Code { file: "/app/b.py".into(), name: "h".into(), first_line: 9 },
    ];
    let mut t0 = Vec::new();
    let mut t = 1_000u64;
    for _ in 0..3 {
        let mut r = Vec::new();
        for _ in 0..40 {
            r.push(ev(t, 0, EventKind::Call));
            r.push(ev(t + 10, 1, EventKind::Call));
            r.push(ev(t + 300, 1, EventKind::Return));
            r.push(ev(t + 1_000, 0, EventKind::Return));
            t += 1_500;
        }
        t0.push(r);
    }
    // a step back of 3 ns inside round 2 of thread 1
    let t1 = [
        vec![],
        vec![
            ev(70_000, 2, EventKind::Call),
            ev(70_500, 0, EventKind::Call),
            ev(70_800, 0, EventKind::Return),
            ev(if step_back { 70_797 } else { 70_803 }, 1, EventKind::Call),
        ],
        vec![ev(150_000, 0, EventKind::Call)],
    ];
    let per_round = (0..3).map(|i| vec![t0[i].clone(), t1[i].clone()]).collect();
    (codes, per_round)
}

fn process() -> ProcessInfo {
    ProcessInfo { pid: 4242, parent_pid: 1, name: "python prog.py".into(), host: "h".into(), ..ProcessInfo::default() }
}

fn rounds() -> (Vec<Code>, Vec<Vec<Vec<Event>>>) {
    rounds_with(true)
}

/// The file a writer makes of [`rounds`]: codes and threads announced when first used.
fn file(end: bool) -> Vec<u8> {
    encode(end, true).out
}

/// [`file`] as the encoder left it (with its frames); the writer never steps back in time (it
/// keeps each thread's times in order: what the ring's windows rely on).
fn encode(end: bool, step_back: bool) -> Encoder {
    let (codes, rounds) = rounds_with(step_back);
    let mut e = Encoder::default();
    e.header();
    e.process(&process(), 500);
    e.metadata(&[("python".into(), "3.11".into())]);
    let mut codes_written = 0usize;
    let mut threads_written = 0usize;
    let mut until = 0;
    for (ri, r) in rounds.iter().enumerate() {
        let ncodes = if ri == 0 { 2 } else { 3 };
        e.codes(codes_written as u32, &codes[codes_written..ncodes]);
        codes_written = ncodes;
        let mut new = Vec::new();
        let mut names = Vec::new();
        for (ti, evs) in r.iter().enumerate() {
            if !evs.is_empty() && ti >= threads_written {
                new.push(NewThread { id: ti as u32, os_id: 100 + ti as u64, ident: 7 + ti as u64 });
                names.push((ti as u32, evs[0].t_ns, if ti == 0 { "MainThread" } else { "worker" }));
                threads_written = ti + 1;
            }
        }
        e.threads(&new, &names);
        for (ti, evs) in r.iter().enumerate() {
            e.events(ti as u32, evs, |t| t);
        }
        until = r.iter().flat_map(|evs| evs.last()).map(|x| x.t_ns).max().unwrap_or(0) + 100;
        e.flush_events(until);
    }
    e.process_name("renamed");
    if end {
        e.metadata(&[("events".into(), "486".into())]);
        e.end(until + 1_000);
    }
    e
}

/// The same recording, in memory.
fn in_memory() -> Trace {
    let (codes, rounds) = rounds();
    let mut threads = vec![
        ThreadRecord { os_id: 100, ident: 7, names: vec![(1_000, "MainThread".into())], chunks: vec![] },
        ThreadRecord { os_id: 101, ident: 8, names: vec![(70_000, "worker".into())], chunks: vec![] },
    ];
    let mut until = 0;
    for r in rounds {
        until = r.iter().flat_map(|evs| evs.last()).map(|x| x.t_ns).max().unwrap_or(0) + 100;
        for (ti, evs) in r.into_iter().enumerate() {
            if !evs.is_empty() {
                threads[ti].chunks.push(evs);
            }
        }
    }
    let process = ProcessInfo { name: "renamed".into(), ..process() };
    let metadata = vec![("python".into(), "3.11".into()), ("events".into(), "486".into())];
    build_trace(Recording { codes, threads, start_ns: 500, stop_ns: until + 1_000, metadata, process })
}

#[test]
fn a_clean_file_gives_the_in_memory_trace() {
    let bytes = file(true);
    let t = load_bytes(&bytes).unwrap();
    assert_eq!(t, in_memory());
    assert_eq!(t.calls.len(), 3 * 40 * 2 + 4);
    assert!(!t.processes[0].incomplete);
    assert!(t.metadata.iter().all(|(k, _)| !k.starts_with("warning.")));
    // the step back is kept exactly
    let i = t.calls.code.iter().rposition(|&c| c == 0).unwrap();
    assert!(t.calls.flags[i].unfinished());
}

#[test]
fn a_file_with_no_end_loads_with_a_warning() {
    let bytes = file(false);
    let t = load_bytes(&bytes).unwrap();
    assert_eq!(t.calls.len(), 3 * 40 * 2 + 4);
    assert!(t.processes[0].incomplete);
    let w = t.metadata.iter().find(|(k, _)| k == END_MISSING_WARNING).unwrap();
    assert!(w.1.contains("end of the recording is missing"), "{}", w.1);
}

fn event_count(r: &stream::StreamRead) -> usize {
    r.recording.threads.iter().map(|t| t.chunks.iter().map(Vec::len).sum::<usize>()).sum()
}

#[test]
fn every_cut_point_loads_the_whole_chunks_before_it_or_fails_clearly() {
    let full = file(true);
    let (chunks, none) = stream::chunks(&full).unwrap();
    assert!(none.is_none());
    let ends: Vec<usize> = chunks.iter().map(|c| c.offset + c.len).collect();
    let mut loaded = 0;
    for n in 0..full.len() {
        let cut = &full[..n];
        match load_bytes(cut) {
            Ok(t) => {
                loaded += 1;
                // exactly the events of the whole chunks before the cut
                let r = stream::read(cut).unwrap();
                let whole = ends.iter().filter(|&&e| e <= n).count();
                assert_eq!(r.chunks, whole, "cut at {n}");
                assert_eq!(r.dropped_last.is_some(), !ends.contains(&n) && n > stream::HEADER_LEN, "cut at {n}");
                assert!(t.metadata.iter().any(|(k, _)| k == END_MISSING_WARNING), "cut at {n}");
                if r.dropped_last.is_some() {
                    assert!(t.metadata.iter().any(|(k, _)| k == LAST_CHUNK_WARNING), "cut at {n}");
                }
                let expect: usize = chunks
                    .iter()
                    .filter(|c| c.offset + c.len <= n && c.kind == stream::kind::EVENTS)
                    .map(|c| {
                        let one = {
                            let mut b = full[..stream::HEADER_LEN].to_vec();
                            b.extend_from_slice(&full[chunks[0].offset..c.offset]);
                            b.extend_from_slice(&full[c.offset..c.offset + c.len]);
                            event_count(&stream::read(&b).unwrap())
                        };
                        let before = {
                            let mut b = full[..stream::HEADER_LEN].to_vec();
                            b.extend_from_slice(&full[chunks[0].offset..c.offset]);
                            event_count(&stream::read(&b).unwrap())
                        };
                        one - before
                    })
                    .sum();
                assert_eq!(event_count(&r), expect, "cut at {n}");
            }
            Err(e) => {
                // only a file cut inside its 8-byte header (or empty) is refused
                assert!(n < stream::HEADER_LEN, "cut at {n}: {e}");
                assert!(!e.to_string().is_empty());
            }
        }
    }
    assert_eq!(loaded, full.len() - stream::HEADER_LEN);
}

#[test]
fn a_damaged_last_chunk_is_dropped_and_damage_elsewhere_is_an_error() {
    let full = file(true);
    let (chunks, _) = stream::chunks(&full).unwrap();
    let last = *chunks.last().unwrap();
    let mut b = full.clone();
    b[last.offset + last.len - 1] ^= 0x55;
    let t = load_bytes(&b).unwrap();
    let w = &t.metadata.iter().find(|(k, _)| k == LAST_CHUNK_WARNING).unwrap().1;
    assert!(w.contains("damaged") && w.contains("checksum"), "{w}");
    assert!(t.metadata.iter().any(|(k, _)| k == END_MISSING_WARNING), "the end chunk was the damaged one");

    // every byte of every chunk but the last, flipped: an error naming the chunk, never a panic
    for c in &chunks[..chunks.len() - 1] {
        for at in c.offset..c.offset + c.len {
            let mut b = full.clone();
            b[at] ^= 0xff;
            match stream::read(&b) {
                Err(StreamError::Chunk { offset, what, .. }) => {
                    assert!(offset as usize <= at, "{at}: {what}");
                }
                Err(e) => panic!("byte {at}: {e}"),
                // a flipped length can make the chunk swallow the rest of the file: then it is cut
                Ok(r) => assert!(r.dropped_last.is_some(), "byte {at}"),
            }
        }
    }
    // garbage after a whole file is a damaged (or cut) last chunk, dropped
    let mut b = full.clone();
    b.extend_from_slice(b"garbage!garbage!garbage!");
    assert!(stream::read(&b).unwrap().dropped_last.is_some());
}

#[test]
fn a_trace_chunk_replaces_the_recording() {
    let mut bytes = file(true);
    let mut merged = in_memory();
    merged.processes.push(ProcessInfo { pid: 9, name: "child".into(), ..ProcessInfo::default() });
    let mut e = Encoder::default();
    e.trace(&merged);
    bytes.extend_from_slice(&e.out);
    assert_eq!(load_bytes(&bytes).unwrap(), merged);
    // cut inside it: the recording without the children, and the warnings
    let t = load_bytes(&bytes[..bytes.len() - 3]).unwrap();
    assert_eq!(t.processes.len(), 1);
    assert!(t.metadata.iter().any(|(k, _)| k == LAST_CHUNK_WARNING));
}

#[test]
fn a_window_keeps_the_events_from_its_start_and_marks_calls_begun_before() {
    let bytes = file(true);
    // from the middle of the first round's 11th f call (f at 16_000, g at 16_010 .. 16_300)
    let from = 16_100;
    let r = stream::read_window(&bytes, from).unwrap();
    let all = stream::read(&bytes).unwrap();
    let kept: Vec<Event> = r.recording.threads[0].chunks.concat();
    let expect: Vec<Event> = all.recording.threads[0].chunks.concat().into_iter().filter(|e| e.t_ns >= from).collect();
    assert_eq!(kept, expect);
    assert_eq!(r.recording.start_ns, from);
    let t = build_trace(r.recording);
    // f and g began before the window: both marked, g inside f
    assert_eq!(t.calls.flags[0], CallFlags(CallFlags::STARTED_BEFORE));
    assert_eq!(t.calls.flags[1], CallFlags(CallFlags::STARTED_BEFORE));
    assert_eq!((t.calls.depth[0], t.calls.depth[1], t.calls.parent[1]), (0, 1, 0));
    assert_eq!(t.calls.end_ns[1] + t.origin_ns as i64, 16_300);
    assert_eq!(t.calls.end_ns[0] + t.origin_ns as i64, 17_000);
    assert_eq!(t.calls.depth[2], 0, "the next f is a sibling");
}

/// A call of a trace as absolute times: (thread os id, function, start, end, depth, flags).
type AbsCall = (u64, String, i64, i64, u32, u8);

fn abs_calls(t: &Trace) -> Vec<AbsCall> {
    let mut v = Vec::new();
    for th in &t.threads {
        for i in th.call_range.0 as usize..th.call_range.1 as usize {
            let c = &t.calls;
            let o = t.origin_ns as i64;
            v.push((
                th.os_id,
                t.codes[c.code[i] as usize].name.clone(),
                c.start_ns[i] + o,
                c.end_ns[i] + o,
                c.depth[i],
                c.flags[i].0,
            ));
        }
    }
    v.sort();
    v
}

/// The full trace restricted to `[from, ...)`: the calls that end at or after it, a call begun
/// before it opened at it and flagged as begun before.
fn clipped(full: &Trace, from: i64) -> Vec<AbsCall> {
    let mut v: Vec<AbsCall> = abs_calls(full)
        .into_iter()
        .filter(|c| c.3 >= from)
        .map(
            |(os, f, s, e, d, fl)| {
                if s < from {
                    (os, f, from, e, d, fl | CallFlags::STARTED_BEFORE)
                } else {
                    (os, f, s, e, d, fl)
                }
            },
        )
        .collect();
    v.sort();
    v
}

fn ring_of(e: &Encoder, keep: fprofile::record::Keep) -> fprofile::record::Ring {
    let mut ring = fprofile::record::Ring::new(keep);
    // pushed a chunk at a time, as the writer's rounds do
    for f in &e.frames {
        let one = stream::Frame { start: 0, end: f.end - f.start, ..f.clone() };
        ring.push(&e.out[f.start..f.end], &[one]);
    }
    ring
}

#[test]
fn the_ring_holds_exactly_the_calls_of_the_window() {
    let e = encode(false, false);
    let full = load_bytes(&e.out).unwrap();
    let last = e.frames.iter().map(|f| f.until_ns).max().unwrap();
    // windows starting inside calls of thread 0 (f at 1_000 + 1_500 k, g 10 ns later, 290 long),
    // between them, at an event's very nanosecond, and before everything
    for d in [1u64, 90, 500, 5_000, 50_000, 100_000, 179_000, 1 << 40] {
        let from = last.saturating_sub(d);
        let ring = ring_of(&e, fprofile::record::Keep::Duration(d));
        let t = ring.snapshot().unwrap();
        assert!(t.metadata.iter().all(|(k, _)| !k.starts_with("warning.")), "{d}");
        assert_eq!(abs_calls(&t), clipped(&full, from as i64), "window of {d} ns (from {from})");
        if d <= 50_000 {
            assert!(ring.bytes_held() < e.out.len(), "old chunks dropped for window {d}");
        }
    }
}

#[test]
fn a_window_inside_nested_calls_shows_them_begun_before_it() {
    let e = encode(false, false);
    // round 1 ends at 61_100; round 2's events start at 61_000: a window from 16_100 keeps every
    // chunk but the trees are cut inside f (16_000..17_000) and g (16_010..16_300)
    let full = load_bytes(&e.out).unwrap();
    let last = e.frames.iter().map(|f| f.until_ns).max().unwrap();
    let from = 16_100u64;
    let t = ring_of(&e, fprofile::record::Keep::Duration(last - from)).snapshot().unwrap();
    let main = t.threads.iter().find(|th| th.os_id == 100).unwrap();
    let lo = main.call_range.0 as usize;
    assert_eq!((t.calls.depth[lo], t.calls.depth[lo + 1], t.calls.parent[lo + 1]), (0, 1, lo as u32));
    assert!(t.calls.flags[lo].started_before() && t.calls.flags[lo + 1].started_before());
    assert_eq!(t.calls.start_ns[lo] + t.origin_ns as i64, 16_100);
    assert_eq!(t.calls.end_ns[lo + 1] + t.origin_ns as i64, 16_300);
    assert_eq!(t.calls.depth[lo + 2], 0, "the next f is a sibling");
    assert_eq!(abs_calls(&t), clipped(&full, from as i64));
}

#[test]
fn the_ring_keeps_the_last_n_events() {
    let e = encode(false, false);
    let full = stream::read(&e.out).unwrap();
    let mut times: Vec<u64> = full.recording.threads.iter().flat_map(|t| t.chunks.iter().flatten()).map(|x| x.t_ns).collect();
    times.sort_unstable();
    let full_trace = load_bytes(&e.out).unwrap();
    for k in [1u64, 7, 100, 300, 10_000] {
        let t = ring_of(&e, fprofile::record::Keep::Events(k)).snapshot().unwrap();
        // from the k-th latest event's time (events at that very nanosecond all kept: two threads
        // may record at the same time, 70,000 ns here)
        let at = times[times.len().saturating_sub(k as usize)];
        let from = if (k as usize) < times.len() { at as i64 } else { i64::MIN };
        assert_eq!(abs_calls(&t), clipped(&full_trace, from), "k = {k}");
    }
}

#[test]
fn a_reader_of_uploads_refuses_what_would_inflate_past_its_limit() {
    let bytes = file(true);
    let raw: u64 = stream::chunks(&bytes)
        .unwrap()
        .0
        .iter()
        .map(|c| {
            u64::from(u32::from_le_bytes([bytes[c.offset + 8], bytes[c.offset + 9], bytes[c.offset + 10], bytes[c.offset + 11]]))
        })
        .sum();
    assert!(stream::decode_limited(&bytes, raw).is_ok());
    let e = stream::decode_limited(&bytes, raw - 1).unwrap_err();
    assert_eq!(e, StreamError::AboveLimit { len: raw, limit: raw - 1 });
    let e = fprofile::load::load_bytes_limited(&bytes, None, Some(raw - 1), &mut |_, _| {}).unwrap_err();
    assert!(e.to_string().contains("above the"), "{e}");
}
