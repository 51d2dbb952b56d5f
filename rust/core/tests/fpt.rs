//! `.fpt`: round trips, determinism, and every malformed-input error path.
mod common;
use common::*;
use fprofile::calltree::build_trace;
use fprofile::formats::fpt::{self, decode, encode, FptError};
use proptest::prelude::*;

#[test]
fn round_trip_sample() {
    let t = sample();
    let b = encode(&t);
    let d = decode(&b).unwrap();
    assert_eq!(d, t);
    assert_eq!(encode(&d), b);
    check_invariants(&d).unwrap();
}

#[test]
fn uncompressed_body_is_accepted() {
    let t = sample();
    let body = fpt::encode_body(&t);
    let mut b = b"FPRF\x02\x00\x00\x00".to_vec();
    b.extend_from_slice(&(body.len() as u64).to_le_bytes());
    b.extend_from_slice(&body);
    assert_eq!(decode(&b).unwrap(), t);
}

fn err(b: &[u8]) -> String {
    decode(b).unwrap_err().to_string()
}

#[test]
fn header_errors() {
    assert_eq!(decode(b""), Err(FptError::Empty));
    assert!(err(b"PK\x03\x04").contains("bad magic"));
    assert!(err(b"FPRF\x01\x00").contains("truncated header: 6 bytes"));
    let mut b = encode(&sample());
    assert_eq!(b[4], 2, "the encoder writes version 2");
    b[4] = 3;
    assert_eq!(err(&b), "unsupported .fpt version 3 at byte 4: this fprofile reads versions 1 and 2 (a higher one was written by a newer fprofile)");
    b[4] = 0;
    assert!(err(&b).contains("version 0"), "{}", err(&b));
    let mut b = encode(&sample());
    b[6] = 3;
    assert!(err(&b).contains("reserved header flags"));
    let mut b = encode(&sample());
    b[8..16].copy_from_slice(&(3u64 << 30).to_le_bytes());
    assert!(err(&b).contains("above the 2 GiB limit"));
}

#[test]
fn zlib_errors() {
    let good = encode(&sample());
    // truncated stream
    let e = err(&good[..good.len() - 5]);
    assert!(e.contains("truncated") && e.contains("zlib"), "{e}");
    // trailing bytes
    let mut b = good.clone();
    b.extend_from_slice(b"xx");
    assert!(err(&b).contains("2 unexpected bytes after the end"), "{}", err(&b));
    // body_len smaller than the stream
    let mut b = good.clone();
    let n = u64::from_le_bytes(b[8..16].try_into().unwrap());
    b[8..16].copy_from_slice(&(n - 1).to_le_bytes());
    assert!(err(&b).contains("more than"), "{}", err(&b));
    // body_len larger than the stream
    let mut b = good.clone();
    b[8..16].copy_from_slice(&(n + 1).to_le_bytes());
    assert!(err(&b).contains("header says"), "{}", err(&b));
    // garbage
    let mut b = good[..16].to_vec();
    b.extend_from_slice(&[0xff; 40]);
    assert!(err(&b).contains("corrupt"), "{}", err(&b));
}

/// An `.fpt` whose header claims `claimed` body bytes and whose zlib stream inflates to `zeros`
/// zero bytes (a "zip bomb" when `claimed` is large: a few KiB of file).
fn bomb(claimed: u64, zeros: usize) -> Vec<u8> {
    use flate2::{write::ZlibEncoder, Compression};
    use std::io::Write;
    let mut z = ZlibEncoder::new(Vec::new(), Compression::new(9));
    let block = vec![0u8; 1 << 20];
    let mut left = zeros;
    while left > 0 {
        let n = left.min(block.len());
        z.write_all(&block[..n]).unwrap();
        left -= n;
    }
    let mut b = b"FPRF\x02\x00\x01\x00".to_vec();
    b.extend_from_slice(&claimed.to_le_bytes());
    b.extend_from_slice(&z.finish().unwrap());
    b
}

#[test]
fn limit_refuses_a_huge_claimed_body_before_inflating() {
    const LIMIT: u64 = 64 << 20;
    // 2 GiB claimed (the format's own maximum), 4 MiB of zeros in a few KiB of file
    let b = bomb(2 << 30, 4 << 20);
    assert!(b.len() < 16 << 10, "{}", b.len());
    let e = fpt::decode_limited(&b, LIMIT).unwrap_err();
    assert_eq!(e, FptError::BodyAboveLimit { len: 2 << 30, limit: LIMIT });
    assert_eq!(e.to_string(), "body length 2147483648 at byte 8 is above the 64 MiB this reader accepts");
    assert_eq!(fpt::decode_body_limited(&b, LIMIT).unwrap_err(), e);
    // the same through the one-call loader, as the Python binding and the viewer use it
    let e = fprofile::load::load_bytes_limited(&b, None, Some(LIMIT), &mut |_, _| {}).unwrap_err();
    assert_eq!(e.to_string(), "body length 2147483648 at byte 8 is above the 64 MiB this reader accepts");
    // an odd limit is written in bytes; a raw (uncompressed) body is checked the same way
    let mut r = raw(&[0u8; 100]);
    assert_eq!(err_limited(&r, 99), "body length 100 at byte 8 is above the 99 bytes this reader accepts");
    r[8..16].copy_from_slice(&(5u64 << 30).to_le_bytes());
    assert!(err_limited(&r, 99).contains("above the 2 GiB limit"), "{}", err_limited(&r, 99));
}

fn err_limited(b: &[u8], limit: u64) -> String {
    fpt::decode_limited(b, limit).unwrap_err().to_string()
}

#[test]
fn limit_holds_while_inflating_a_stream_longer_than_claimed() {
    // the header claims 1 MiB (under the limit) but the stream inflates to 16 MiB: inflating stops
    // one byte past the claim, so the body buffer never grows to the stream's size
    let b = bomb(1 << 20, 16 << 20);
    let e = err_limited(&b, 2 << 20);
    assert!(e.starts_with("zlib stream at byte") && e.contains("inflates to more than the 1048576 bytes the header says"), "{e}");
    // the same stream with its true length claimed is inflated whole when the limit allows it,
    // and is then not a valid body (all zeros): the limit is not what refuses it
    let b = bomb(16 << 20, 16 << 20);
    let e = err_limited(&b, 16 << 20);
    assert!(e.starts_with("byte ") && !e.contains("accepts"), "{e}");
}

#[test]
fn limit_at_or_above_the_body_length_loads() {
    let t = sample();
    let b = encode(&t);
    let body_len = u64::from_le_bytes(b[8..16].try_into().unwrap());
    assert_eq!(fpt::decode_limited(&b, body_len).unwrap(), t);
    assert_eq!(fpt::decode_limited(&b, body_len + 1).unwrap(), t);
    let loaded = fprofile::load::load_bytes_limited(&b, None, Some(body_len), &mut |_, _| {}).unwrap();
    assert_eq!(loaded, t);
    assert_eq!(
        fpt::decode_limited(&b, body_len - 1).unwrap_err(),
        FptError::BodyAboveLimit { len: body_len, limit: body_len - 1 }
    );
    // the limit is about .fpt bodies only: PYME text of any size loads as before
    let mut text = Vec::new();
    fprofile::formats::pyme_text::write(&t, &mut text).unwrap();
    assert!(fprofile::load::load_bytes_limited(&text, None, Some(1), &mut |_, _| {}).is_ok());
}

/// An uncompressed version-2 file of a body.
fn raw(body: &[u8]) -> Vec<u8> {
    raw_version(2, body)
}

/// An uncompressed file of a given version.
fn raw_version(version: u8, body: &[u8]) -> Vec<u8> {
    let mut b = vec![b'F', b'P', b'R', b'F', version, 0, 0, 0];
    b.extend_from_slice(&(body.len() as u64).to_le_bytes());
    b.extend_from_slice(body);
    b
}

/// Version-1 bodies are checked as before (the tables shared with version 2 are read by one code).
#[test]
fn body_errors_name_offsets() {
    let raw = |body: &[u8]| raw_version(1, body);
    // string_count far beyond the bytes left
    let e = err(&raw(&[0, 0xff, 0xff, 0x03]));
    assert_eq!(e, "byte 1 of the body: string_count 65535 is larger than the 0 bytes left");
    // invalid UTF-8 string
    let e = err(&raw(&[0, 1, 1, 0xff, 0, 0, 2, b'{', b'}']));
    assert!(e.contains("byte 2 of the body: string is not valid UTF-8"), "{e}");
    // code referencing a missing string
    let e = err(&raw(&[0, 0, 1, 5, 0, 0]));
    assert!(e.contains("file string id 5 out of range"), "{e}");
    // truncated varint
    let e = err(&raw(&[0x80]));
    assert!(e.contains("byte 0 of the body: truncated"), "{e}");
    // trailing bytes after metadata
    let e = err(&raw(&[0, 0, 0, 0, 2, b'{', b'}', 9]));
    assert_eq!(e, "byte 7 of the body: 1 unexpected bytes after the metadata");
    // metadata not an object of strings
    let e = err(&raw(&[0, 0, 0, 0, 2, b'[', b']']));
    assert!(e.contains("byte 4 of the body: metadata"), "{e}");
}

/// A one-thread body with given call columns (`backs`: count then pairs; `gaps`: both planes), to
/// exercise the tree checks.
fn one_thread(codes: &[u8], pops: &[u8], backs: &[u8], gaps: &[u8], flags: &[u8], span: u16) -> Vec<u8> {
    let span: Vec<u8> = if span < 128 { vec![span as u8] } else { vec![(span as u8) | 0x80, (span >> 7) as u8] };
    let mut b = vec![0, 2, 1, b'f', 1, b'n', 1, 0, 1, 7];
    // one process: pid 9, parent 1, name "f", host "n", start 0, span, flags 0, offset 0, uncertainty 0
    b.extend_from_slice(&[&[1, 9, 1, 0, 1, 0][..], &span, &[0, 0, 0]].concat());
    // thread: process 0, os 5, lane 0, first 0, span, 1 name
    b.extend_from_slice(&[&[1, 0, 5, 0, 0][..], &span, &[1, 0, 1]].concat());
    b.push(codes.len() as u8);
    b.extend_from_slice(codes);
    b.extend_from_slice(pops);
    b.extend_from_slice(backs);
    b.extend_from_slice(gaps);
    b.extend_from_slice(flags);
    b.extend_from_slice(&[0, 2, b'{', b'}']); // no bands, metadata {}
    raw(&b)
}

#[test]
fn tree_checks() {
    // valid: two calls, child [1, 3] inside parent [0, 5]: events 0, 1, 3, 5
    let ok = one_thread(&[0, 0], &[0, 0], &[0], &[0, 1, 2, 2], &[0], 10);
    let t = decode(&ok).unwrap();
    assert_eq!(t.calls.parent, vec![u32::MAX, 0]);
    assert_eq!((t.calls.start_ns.clone(), t.calls.end_ns.clone()), (vec![0, 1], vec![5, 3]));
    check_invariants(&t).unwrap();
    // code id out of range
    assert!(err(&one_thread(&[0, 1], &[0, 0], &[0], &[0, 1, 2, 2], &[0], 10)).contains("code_id 1 out of range"));
    // the first call after a call that ended (none is open)
    let e = err(&one_thread(&[0, 0], &[1, 0], &[0], &[0, 1, 2, 2], &[0], 10));
    assert!(e.contains("thread 0 call 0: 1 calls end before it, 0 are open"), "{e}");
    let e = err(&one_thread(&[0, 0], &[0, 2], &[0], &[0, 1, 2, 2], &[0], 10));
    assert!(e.contains("thread 0 call 1: 2 calls end before it, 1 are open"), "{e}");
    // siblings A [1, 8] and B [2, 3] (B starts 6 back from A's end) in P [0, 4]: P ends before A
    let e = err(&one_thread(&[0, 0, 0], &[0, 0, 1], &[1, 2, 6], &[0, 1, 7, 0, 1, 1], &[0], 10));
    assert!(e.contains("thread 0 call 0: ends before a call inside it"), "{e}");
    // the same with P ending at 9: valid, B starts before A ended
    let t = decode(&one_thread(&[0, 0, 0], &[0, 0, 1], &[1, 2, 6], &[0, 1, 7, 0, 1, 6], &[0], 10)).unwrap();
    assert_eq!((t.calls.start_ns.clone(), t.calls.end_ns.clone()), (vec![0, 1, 2], vec![9, 8, 3]));
    check_invariants(&t).unwrap();
    // B 8 back: it would start before A
    let e = err(&one_thread(&[0, 0, 0], &[0, 0, 1], &[1, 2, 8], &[0, 1, 7, 0, 1, 6], &[0], 10));
    assert!(e.contains("thread 0 call 2: starts before the previous call"), "{e}");
    // a back entry past the calls
    assert!(err(&one_thread(&[0, 0], &[0, 0], &[1, 2, 1], &[0, 1, 2, 2], &[0], 10)).contains("back call index past"));
    // end after thread span
    assert!(
        err(&one_thread(&[0, 0], &[0, 0], &[0], &[0, 1, 2, 9], &[0], 10)).contains("call 0: end after the thread's last time")
    );
    // start after span
    assert!(err(&one_thread(&[0, 0], &[0, 0], &[0], &[0, 11, 0, 0], &[0], 10)).contains("call 1: start after"));
    // a gap whose other bytes (in the second plane) make it wider than 64 bits
    let wide = [0u8, 1, 2, 0x82, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
    assert_eq!(
        err(&one_thread(&[0, 0], &[0, 0], &[0], &wide, &[0], 10)),
        "byte 39 of the body: gaps value does not fit in 64 bits"
    );
    // a gap of two bytes: 0x82 then 1 = 130; span 200
    let t = decode(&one_thread(&[0, 0], &[0, 0], &[0], &[0, 1, 2, 0x82, 1], &[0], 200)).unwrap();
    assert_eq!(t.calls.end_ns, vec![133, 3]);
    // flags: index past the calls, zero flags, reserved bits
    let ok_gaps = [0u8, 1, 2, 2];
    assert!(err(&one_thread(&[0, 0], &[0, 0], &[0], &ok_gaps, &[1, 2, 1], 10)).contains("flagged call index past"));
    assert!(err(&one_thread(&[0, 0], &[0, 0], &[0], &ok_gaps, &[1, 0, 0], 10)).contains("flags 0"));
    assert!(err(&one_thread(&[0, 0], &[0, 0], &[0], &ok_gaps, &[1, 0, 4], 10)).contains("flags 4"));
    let t = decode(&one_thread(&[0, 0], &[0, 0], &[0], &ok_gaps, &[1, 1, 3], 10)).unwrap();
    assert_eq!(t.calls.flags[1].0, 3);
}

/// [`sample`] with call 1 (`b`, [20, 30] from the origin) stretched to end at 41, after its next
/// sibling (`c`, [40, 50]) starts: a valid trace no recording gives, written with the back list.
fn overlapping_sample() -> fprofile::Trace {
    let mut t = sample();
    let c = &t.calls;
    // find a call with a next sibling and stretch its end past the sibling's start (within the parent)
    let i = (0..c.len() - 1).find(|&i| c.depth[i + 1] == c.depth[i] && c.parent[i] != u32::MAX).expect("sample has siblings");
    let p = t.calls.parent[i] as usize;
    let new_end = (t.calls.start_ns[i + 1] + 1).min(t.calls.end_ns[p]);
    t.calls.end_ns[i] = new_end.max(t.calls.end_ns[i]);
    assert!(t.calls.end_ns[i] > t.calls.start_ns[i + 1], "the sample's siblings should overlap now");
    t
}

/// A call that starts before its previous sibling ended reads back the same.
#[test]
fn overlapping_siblings_round_trip() {
    let t = overlapping_sample();
    assert_eq!((&t.calls.start_ns[..3], &t.calls.end_ns[..3]), (&[10, 20, 40][..], &[60, 41, 50][..]));
    let b = encode(&t);
    let d = decode(&b).unwrap();
    assert_eq!(d, t);
    assert_eq!(encode(&d), b);
}

#[test]
fn zero_names_rejected() {
    let b = raw_version(1, &[0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, b'{', b'}']);
    assert!(err(&b).contains("name_count is 0"), "{}", err(&b));
    // one string "", one process, one thread with name_count 0
    let b = raw(&[0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, b'{', b'}']);
    assert!(err(&b).contains("name_count is 0"), "{}", err(&b));
}

/// `t` encoded decodes to `t`, which encodes to the same bytes.
fn round_trips(t: &fprofile::Trace) -> Result<(), TestCaseError> {
    let b = encode(t);
    let d = decode(&b).unwrap();
    prop_assert_eq!(&d, t);
    prop_assert_eq!(encode(&d), b);
    Ok(())
}

/// `t`'s body with the bytes `flips` (position, value) written into it decodes to an error or to a
/// trace that satisfies every invariant.
fn mutated_fails_cleanly(t: &fprofile::Trace, flips: Vec<(prop::sample::Index, u8)>) -> Result<(), TestCaseError> {
    let mut body = fpt::encode_body(t);
    for (i, v) in flips {
        let k = i.index(body.len());
        body[k] = v;
    }
    if let Ok(d) = decode(&raw(&body)) {
        prop_assert_eq!(check_invariants(&d), Ok(()));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, .. ProptestConfig::default() })]

    #[test]
    fn built_traces_are_valid_and_round_trip(rec in strategies::recording()) {
        let t = build_trace(rec);
        prop_assert_eq!(check_invariants(&t), Ok(()));
        round_trips(&t)?;
    }

    #[test]
    fn shuffled_thread_order_gives_same_trees(rec in strategies::recording()) {
        let mut rev = rec.clone();
        rev.threads.reverse();
        let (a, b) = (build_trace(rec), build_trace(rev));
        // threads with equal first times may swap; compare as sorted folded lines
        let (mut fa, mut fb) = (folded(&a), folded(&b));
        fa.sort();
        fb.sort();
        prop_assert_eq!(fa, fb);
    }

    /// Fuzzing in `cargo test`: arbitrary bytes never panic.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = decode(&bytes);
        let _ = decode(&raw(&bytes));
        let _ = decode(&raw_version(1, &bytes));
        for v in [1u8, 2] {
            let mut b = vec![b'F', b'P', b'R', b'F', v, 0, 1, 0];
            b.extend_from_slice(&bytes);
            let _ = decode(&b);
        }
    }

    /// Several processes, bands: round trip, deterministic.
    #[test]
    fn multi_process_traces_round_trip(t in strategies::multi_process_trace()) {
        prop_assert_eq!(check_invariants(&t), Ok(()));
        round_trips(&t)?;
    }

    /// Mutated multi-process files: an error, or a trace that satisfies every invariant.
    #[test]
    fn mutated_multi_process_bodies_fail_cleanly(t in strategies::multi_process_trace(), flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4)) {
        mutated_fails_cleanly(&t, flips)?;
    }

    /// Calls whose end is moved later (within their parent): siblings that overlap, written with
    /// the back list, read back the same; mutated, they fail cleanly or satisfy every invariant.
    #[test]
    fn overlapping_siblings_round_trip_and_mutate_cleanly(
        rec in strategies::recording(),
        stretch in prop::collection::vec((any::<prop::sample::Index>(), 0i64..50), 1..6),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..3),
    ) {
        let mut t = build_trace(rec);
        if !t.calls.is_empty() {
            for (i, by) in stretch {
                let i = i.index(t.calls.len());
                let p = t.calls.parent[i];
                let limit = if p == u32::MAX {
                    let th = t.threads.iter().find(|th| (th.call_range.0 as usize..th.call_range.1 as usize).contains(&i));
                    th.map_or(t.calls.end_ns[i], |th| th.last_ns)
                } else {
                    t.calls.end_ns[p as usize]
                };
                t.calls.end_ns[i] = (t.calls.end_ns[i] + by).min(limit).max(t.calls.end_ns[i]);
            }
        }
        prop_assert_eq!(check_invariants(&t), Ok(()));
        round_trips(&t)?;
        mutated_fails_cleanly(&t, flips)?;
    }

    /// Mutated valid files: an error, or a trace that satisfies every invariant.
    #[test]
    fn mutated_bodies_fail_cleanly(rec in strategies::recording(), flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4)) {
        let t = build_trace(rec);
        mutated_fails_cleanly(&t, flips)?;
    }
}

#[test]
fn memory_per_call_after_conversion() {
    // many threads and calls: build, decode and the PYME JSON reader all hold 29 bytes per call
    let mut threads = Vec::new();
    let evs: Vec<(u64, &str)> =
        (0..2000u64).flat_map(|i| [(i * 10, "+f"), (i * 10 + 5, "+g"), (i * 10 + 6, "-g"), (i * 10 + 9, "-f")]).collect();
    for k in 0..5 {
        threads.push((["A", "B", "C", "D", "E"][k], k as u64, evs.as_slice()));
    }
    let t = build_trace(recording(&threads, 0, 0));
    let n = t.calls.len();
    assert_eq!(n, 20_000);
    assert_eq!(t.calls.heap_bytes(), 29 * n);
    let d = decode(&encode(&t)).unwrap();
    assert_eq!(d.calls.heap_bytes(), 29 * n);
    let mut js = Vec::new();
    fprofile::formats::pyme_json::write(&t, &mut js).unwrap();
    let back = fprofile::formats::pyme_json::read(&js).unwrap();
    assert_eq!(back.calls.heap_bytes(), 29 * n);
}

#[test]
fn two_processes_and_bands_round_trip() {
    let t = two_process_trace();
    check_invariants(&t).unwrap();
    let b = encode(&t);
    let d = decode(&b).unwrap();
    assert_eq!(d, t);
    assert_eq!(encode(&d), b);
    assert_eq!(d.processes.len(), 2);
    assert_eq!(d.processes[1].exit_status, Some(0));
    assert_eq!(d.processes[1].clock.offset_ns, -2_500_000_000);
    assert_eq!(d.bands[1].label, "<b>sum</b>-9");
    let pids: Vec<u64> = (0..d.threads.len()).map(|i| d.process_of(i).unwrap().pid).collect();
    let os: Vec<u64> = d.threads.iter().map(|th| th.os_id).collect();
    for (pid, os) in pids.iter().zip(&os) {
        assert_eq!(*pid, if *os > 20 { 101 } else { 100 });
    }
    // an unknown exit status, an incomplete process, an unaligned clock
    let mut t2 = t.clone();
    t2.processes[0].incomplete = true;
    t2.processes[1].exit_status = None;
    t2.processes[1].clock.aligned = false;
    t2.processes[1].exit_status = Some(-9);
    assert_eq!(decode(&encode(&t2)).unwrap(), t2);
}

#[test]
fn encoder_writes_only_valid_files() {
    // threads without a process table: written with one process spanning them
    let mut t = sample();
    t.processes.clear();
    let d = decode(&encode(&t)).unwrap();
    assert_eq!(d.processes, fprofile::Trace::one_process(&t.threads));
    // unordered bands are written in order; a band of a missing thread is left out
    let mut t = two_process_trace();
    t.bands.reverse();
    t.bands.push(fprofile::model::Band { thread: 99, start_ns: 0, end_ns: 1, label: "x".into() });
    let d = decode(&encode(&t)).unwrap();
    assert_eq!(d.bands, two_process_trace().bands);
}

/// A version-2 body: strings "" and "p", no codes, then `rest` (process table onwards).
fn v2(rest: &[u8]) -> Vec<u8> {
    let mut b = vec![0, 2, 0, 1, b'p', 0];
    b.extend_from_slice(rest);
    raw(&b)
}

#[test]
fn version_2_tables_are_checked() {
    // one process: pid 5, parent 1, name 1, host 0, start 0, span 10, then flags.. ; one thread with no calls
    let proc_ok = [1u8, 5, 1, 1, 0, 0, 10, 0, 0, 0];
    let thread = |process: u8| vec![1u8, process, 7, 0, 0, 10, 1, 0, 1, 0, 0, 0]; // 0 calls, 0 backs, 0 flagged
    let tail = [0u8, 2, b'{', b'}'];
    let ok: Vec<u8> = [&proc_ok[..], &thread(0), &tail].concat();
    let t = decode(&v2(&ok)).unwrap();
    assert_eq!((t.processes[0].pid, t.processes[0].parent_pid, t.processes[0].name.as_str()), (5, 1, "p"));
    assert_eq!(t.threads[0].process, 0);
    check_invariants(&t).unwrap();

    // threads but no process
    let e = err(&v2(&[&[0u8][..], &thread(0), &tail].concat()));
    assert_eq!(e, "byte 7 of the body: 1 threads but no process (process_count is 0)");
    // a thread's process index past the table
    let e = err(&v2(&[&proc_ok[..], &thread(1), &tail].concat()));
    assert_eq!(e, "byte 17 of the body: thread 0: process index 1 out of range (table has 1)");
    // a name past the string table
    let e = err(&v2(&[&[1u8, 5, 1, 2, 0, 0, 10, 0, 0, 0][..], &thread(0), &tail].concat()));
    assert!(e.contains("process 0: name string id 2 out of range"), "{e}");
    // reserved process flags
    let e = err(&v2(&[&[1u8, 5, 1, 1, 0, 0, 10, 8, 0, 0][..], &thread(0), &tail].concat()));
    assert_eq!(e, "byte 13 of the body: process 0: reserved flag bits set (flags 8; bits 0 to 2 are defined)");
    // an exit status that does not fit in 32 bits (zigzag 2^33)
    let e = err(&v2(&[&[1u8, 5, 1, 1, 0, 0, 10, 2, 0x80, 0x80, 0x80, 0x80, 0x20, 0, 0][..], &thread(0), &tail].concat()));
    assert!(e.contains("exit_status 4294967296 does not fit in 32 bits"), "{e}");
    // a process span that overflows (start i64::MAX, span 1)
    let e = err(&v2(&[
        &[1u8, 5, 1, 1, 0, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 1, 0, 0, 0][..],
        &thread(0),
        &tail,
    ]
    .concat()));
    assert!(e.contains("process 0: span_ns") && e.contains("overflows"), "{e}");
    // process_count beyond the bytes left
    let e = err(&v2(&[0xff, 0x01]));
    assert_eq!(e, "byte 6 of the body: process_count 255 is larger than the 0 bytes left");
    // bands: thread out of range, out of order, flags on the exit status
    let band = |th: u8, start: u8| [th, start, 3, 1];
    let with_bands = |bands: &[[u8; 4]]| {
        let mut b: Vec<u8> = [&proc_ok[..], &thread(0)].concat();
        b.push(bands.len() as u8);
        for x in bands {
            b.extend_from_slice(x);
        }
        b.extend_from_slice(&[2, b'{', b'}']);
        v2(&b)
    };
    let t = decode(&with_bands(&[band(0, 2), band(0, 4)])).unwrap();
    assert_eq!(t.bands.iter().map(|b| (b.start_ns, b.end_ns, b.label.as_str())).collect::<Vec<_>>(), [(1, 4, "p"), (2, 5, "p")]);
    let e = err(&with_bands(&[band(1, 2)]));
    assert_eq!(e, "byte 29 of the body: band 0: thread index 1 out of range (table has 1)");
    let e = err(&with_bands(&[band(0, 4), band(0, 2)]));
    assert_eq!(e, "byte 33 of the body: band 1 is out of order (bands are ordered by thread, then start)");
    // a version-2 body read as version 1 (and the other way round) fails cleanly
    assert!(decode(&raw_version(1, &fpt::encode_body(&two_process_trace()))).is_err());
}

/// `tests/fixtures/v1_sample.fpt` was written by the encoder at commit b805d86 (version 1; how:
/// `tests/fixtures/README.md`). It still loads: one process with pid 0 spanning its threads.
#[test]
fn version_1_file_still_loads() {
    let bytes = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/v1_sample.fpt")).unwrap();
    assert_eq!(u16::from_le_bytes([bytes[4], bytes[5]]), 1);
    let t = decode(&bytes).unwrap();
    check_invariants(&t).unwrap();
    assert_eq!(t.origin_ns, 900);
    assert_eq!(
        folded(&t),
        [
            "MainThread;main 100 1100",
            "MainThread;main;load 200 500",
            "MainThread;main;work 600 1000",
            "MainThread;main;work;step 700 800",
            "MainThread;step 1200 1300 U",
            "Worker-1;work 300 900",
            "Worker-1;work;step 400 450",
        ]
    );
    assert_eq!(t.threads.iter().map(|th| (th.os_id, th.process)).collect::<Vec<_>>(), [(4101, 0), (4102, 0)]);
    assert_eq!(t.processes, fprofile::Trace::one_process(&t.threads));
    assert_eq!((t.processes[0].pid, t.processes[0].start_ns, t.processes[0].end_ns), (0, 100, 1300));
    assert!(t.bands.is_empty());
    assert_eq!(t.metadata[0], ("subs".to_string(), "app".to_string()));
    // re-encoded, it is a version-2 file of the same trace
    let again = encode(&t);
    assert_eq!(again[4], 2);
    assert_eq!(decode(&again).unwrap(), t);
}

/// The fixture at `path` holds `t` as this encoder writes it; with `FPROFILE_REGEN_FIXTURES` set,
/// (re)writes it first.
fn assert_fixture_current(path: &str, t: &fprofile::Trace) {
    let bytes = encode(t);
    if std::env::var_os("FPROFILE_REGEN_FIXTURES").is_some() {
        std::fs::write(path, &bytes).unwrap();
    }
    let on_disk = std::fs::read(path).expect("fixture missing: run with FPROFILE_REGEN_FIXTURES=1");
    assert_eq!(on_disk, bytes, "the Rust encoder or the sample changed: regenerate the fixture (FPROFILE_REGEN_FIXTURES=1)");
}

/// `tests/fixtures/two_processes.fpt`, which the Python tests load (`tests/test_trace_processes.py`):
/// [`two_process_trace`] as this encoder writes it. Regenerate with
/// `FPROFILE_REGEN_FIXTURES=1 cargo test -p fprofile --test fpt`.
#[test]
fn two_processes_fixture_is_current() {
    assert_fixture_current(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/two_processes.fpt"), &two_process_trace());
}

/// `tests/js/fixtures/rust_overlap.fpt`, [`overlapping_sample`] as this encoder writes it, decoded
/// by js/decode.js in `tests/js/crosscheck.test.mjs` (the back list read by both decoders).
/// Regenerate with `FPROFILE_REGEN_FIXTURES=1 cargo test -p fprofile --test fpt`.
#[test]
fn overlap_fixture_is_current() {
    assert_fixture_current(
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/js/fixtures/rust_overlap.fpt"),
        &overlapping_sample(),
    );
}

/// What the merge of two recordings gives (processes, remapped threads, bands) is what `.fpt`
/// stores: it round-trips exactly.
#[test]
fn merged_traces_round_trip() {
    let part = |pid: u64, os: u64, t0: u64, offset: i64, aligned: bool| {
        let mut rec =
            recording(&[("MainThread", os, &[(t0 + 10, "+f"), (t0 + 20, "+g"), (t0 + 30, "-g"), (t0 + 90, "-f")])], t0, t0 + 100);
        rec.process = process(pid, &format!("p{pid}"), 0, 0);
        rec.process.clock = fprofile::model::ClockAlignment { offset_ns: offset, uncertainty_ns: 7, aligned };
        fprofile::calltree::build_trace(rec)
    };
    let mut b = part(11, 2, 5_000, -4_000, true);
    b.bands.push(fprofile::model::Band { thread: 0, start_ns: 12, end_ns: 80, label: "task-1".into() });
    let m = fprofile::merge::merge(vec![part(10, 1, 1_000, 0, true), b, part(12, 3, 70_000, 0, false)]).unwrap();
    check_invariants(&m).unwrap();
    assert_eq!(m.processes.iter().map(|p| p.pid).collect::<Vec<_>>(), [10, 11, 12]);
    let d = decode(&encode(&m)).unwrap();
    assert_eq!(d, m);
    assert!(!d.processes[2].clock.aligned);
    assert_eq!(d.bands.len(), 1);
}
