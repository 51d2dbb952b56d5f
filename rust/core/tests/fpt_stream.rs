//! `.fpt` decoded as it is read (`fpt::decode_from`, what `load` does for a file) against the
//! body inflated whole and parsed after (`fpt::decode_body` + `fpt::parse_body_version`): the same
//! trace, byte for byte once encoded again, and the same error for every broken file.
mod common;
use common::*;
use fprofile::calltree::build_trace;
use fprofile::formats::fpt::{self, FptError};
use fprofile::{Code, Event, EventKind, Recording, ThreadRecord, Trace};
use proptest::prelude::*;
use std::io::Read;

/// A reader that hands out at most `step` bytes per `read` (pieces that end anywhere).
struct Pieces<'a> {
    bytes: &'a [u8],
    step: usize,
}

impl Read for Pieces<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(self.step).min(self.bytes.len());
        buf[..n].copy_from_slice(&self.bytes[..n]);
        self.bytes = &self.bytes[n..];
        Ok(n)
    }
}

fn streamed(bytes: &[u8], step: usize) -> Result<Trace, FptError> {
    fpt::decode_from(&mut Pieces { bytes, step }, bytes.len(), fpt::MAX_BODY_LEN, &mut |_, _| {})
}

/// The whole body first, then the parse: the order of the decoder before streaming.
fn whole(bytes: &[u8]) -> Result<Trace, FptError> {
    let body = fpt::decode_body(bytes)?;
    fpt::parse_body_version(&body, u16::from_le_bytes([bytes[4], bytes[5]]))
}

/// A trace of `calls` calls on `threads` threads: random trees up to depth 12, random code ids
/// among 80 functions, random gaps from 1 ns to 100 µs (poorly compressible: the file is large).
fn random_trace(calls: usize, threads: usize, seed: u64) -> Trace {
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    let mut next = move |n: u64| {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (s >> 33) % n
    };
    let codes = (0..80).map(|i| Code { file: format!("/src/m{}.py", i % 7), name: format!("f{i}"), first_line: i }).collect();
    let mut recs = Vec::new();
    for th in 0..threads {
        let mut t = 1_000u64;
        let mut events = Vec::with_capacity(2 * calls / threads + 32);
        let mut open: Vec<u32> = Vec::new();
        for _ in 0..calls / threads {
            while !open.is_empty() && (open.len() >= 12 || next(100) < 45) {
                t += 1 + next(100_000);
                events.push(Event { t_ns: t, code: open.pop().unwrap_or(0), kind: EventKind::Return });
            }
            let code = next(80) as u32;
            t += 1 + next(100_000);
            events.push(Event { t_ns: t, code, kind: EventKind::Call });
            open.push(code);
        }
        // the last calls stay open: unfinished
        recs.push(ThreadRecord {
            os_id: 100 + th as u64,
            ident: 0,
            names: vec![(0, format!("thread-{th}"))],
            chunks: vec![events],
        });
    }
    let stop = 1_000 + 100_001 * 2 * calls as u64;
    build_trace(Recording { codes, threads: recs, start_ns: 0, stop_ns: stop, metadata: vec![], process: Default::default() })
}

fn fixture(rel: &str) -> Vec<u8> {
    std::fs::read(format!("{}/../../{rel}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

#[test]
fn streamed_decode_equals_whole_body_decode_on_the_fixtures() {
    for rel in ["tests/fixtures/v1_sample.fpt", "tests/fixtures/two_processes.fpt", "tests/js/fixtures/rust_overlap.fpt"] {
        let bytes = fixture(rel);
        let expected = whole(&bytes).unwrap();
        for step in [1, 7, 4096, usize::MAX] {
            let t = streamed(&bytes, step).unwrap();
            assert_eq!(t, expected, "{rel}, pieces of {step}");
            assert_eq!(fpt::encode(&t), fpt::encode(&expected), "{rel}");
        }
        if bytes[4] == 2 {
            assert_eq!(fpt::encode(&expected), bytes, "{rel}: encode after decode gives the file back");
        }
    }
}

#[test]
fn streamed_decode_of_a_large_file_from_disk() {
    // 400k calls: the body is several windows long, the input many reads long
    let t = random_trace(400_000, 3, 7);
    let bytes = fpt::encode(&t);
    assert!(bytes.len() > 1 << 20, "{} bytes", bytes.len());
    let path = std::env::temp_dir().join(format!("fprofile-stream-{}.fpt", std::process::id()));
    std::fs::write(&path, &bytes).unwrap();
    let mut reports = Vec::new();
    let loaded = fprofile::load::load_with(&path, None, &mut |done, total| reports.push((done, total))).unwrap();
    std::fs::remove_file(&path).ok();
    assert_eq!(loaded, t);
    assert_eq!(fpt::encode(&loaded), bytes);
    assert_eq!(loaded, whole(&bytes).unwrap());
    // progress: every few MB of input, rising, and once at the end with the file's size
    assert_eq!(reports.last(), Some(&(bytes.len(), bytes.len())));
    assert!(reports.windows(2).all(|w| w[0].0 <= w[1].0 && w[0].1 == bytes.len()), "{reports:?}");
    let expected_reports = (bytes.len() as u64 / fpt::PROGRESS_STEP) as usize;
    assert!(reports.len() > expected_reports / 2, "{} reports for {} bytes", reports.len(), bytes.len());
}

#[test]
fn cut_and_damaged_files_give_the_errors_of_the_whole_body_decode() {
    let t = random_trace(40_000, 2, 11);
    let bytes = fpt::encode(&t);
    let raw = {
        let body = fpt::encode_body(&t);
        let mut b = bytes[..8].to_vec();
        b[6] = 0; // no zlib
        b.extend_from_slice(&(body.len() as u64).to_le_bytes());
        b.extend_from_slice(&body);
        b
    };
    let mut checked = 0;
    for file in [&bytes, &raw] {
        let n = file.len();
        // cut at every byte of the header and the start, then at many points up to the end
        let cuts = (0..64.min(n)).chain((64..n).step_by(n / 100 + 1)).chain([n - 1]);
        for cut in cuts {
            let b = &file[..cut];
            let (a, w) =
                (streamed(b, 4096).unwrap_err(), if cut < 16 { fpt::decode(b).unwrap_err() } else { whole(b).unwrap_err() });
            assert_eq!(a, w, "cut at {cut} of {n}");
            checked += 1;
        }
        // a damaged byte anywhere: the same outcome both ways
        for k in (16..n).step_by(n / 60 + 1) {
            for v in [0x01u8, 0x80] {
                let mut b = file.clone();
                b[k] ^= v;
                assert_eq!(streamed(&b, 4096), whole(&b), "byte {k} ^ {v:#x}");
                checked += 1;
            }
        }
        // bytes after the end, a body shorter or longer than the header says
        let mut b = file.clone();
        b.extend_from_slice(b"xyz");
        assert_eq!(streamed(&b, 4096), whole(&b));
        assert!(streamed(&b, 4096).is_err());
        for delta in [-1i64, 1] {
            let mut b = file.clone();
            let len = u64::from_le_bytes(b[8..16].try_into().unwrap()) as i64 + delta;
            b[8..16].copy_from_slice(&(len as u64).to_le_bytes());
            let e = streamed(&b, 4096).unwrap_err();
            assert_eq!(Err(e.clone()), whole(&b), "body_len {delta:+}");
        }
    }
    assert!(checked > 400, "{checked}");
    // a truncated compressed file says where, as before
    let e = streamed(&bytes[..bytes.len() / 2], 4096).unwrap_err().to_string();
    assert!(e.starts_with("zlib stream at byte") && e.contains("truncated"), "{e}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, .. ProptestConfig::default() })]

    /// Random recordings, read in pieces of any size: the trace of the whole-body decode.
    #[test]
    fn streamed_equals_whole_on_random_traces(rec in strategies::recording(), step in 1usize..300) {
        let t = build_trace(rec);
        let bytes = fpt::encode(&t);
        let d = streamed(&bytes, step).unwrap();
        prop_assert_eq!(&d, &t);
        prop_assert_eq!(&d, &whole(&bytes).unwrap());
        prop_assert_eq!(fpt::encode(&d), bytes);
    }

    /// Random bytes after a valid header: the same error (or trace) both ways.
    #[test]
    fn streamed_equals_whole_on_random_bodies(body in prop::collection::vec(any::<u8>(), 0..300), zlib in any::<bool>(), step in 1usize..64) {
        let mut b = b"FPRF\x02\x00".to_vec();
        b.extend_from_slice(&u16::from(zlib).to_le_bytes());
        b.extend_from_slice(&(body.len() as u64).to_le_bytes());
        b.extend_from_slice(&body);
        prop_assert_eq!(streamed(&b, step), whole(&b));
    }
}

/// A reader that fails (an I/O error, as from a disk) after `ok` bytes.
struct FailsAfter<'a> {
    bytes: &'a [u8],
    ok: usize,
}

impl Read for FailsAfter<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.ok == 0 {
            return Err(std::io::Error::other("input/output error"));
        }
        let n = buf.len().min(self.ok).min(self.bytes.len());
        buf[..n].copy_from_slice(&self.bytes[..n]);
        self.bytes = &self.bytes[n..];
        self.ok -= n;
        Ok(n)
    }
}

#[test]
fn a_read_error_is_reported_as_one_not_as_a_broken_file() {
    let bytes = fpt::encode(&random_trace(20_000, 1, 3));
    for ok in [0, 10, 16, 100, bytes.len() / 2] {
        let e =
            fpt::decode_from(&mut FailsAfter { bytes: &bytes, ok }, bytes.len(), fpt::MAX_BODY_LEN, &mut |_, _| {}).unwrap_err();
        assert_eq!(e, FptError::Read { offset: ok as u64, what: "input/output error".into() }, "after {ok} bytes");
        assert_eq!(e.to_string(), format!("cannot read the file at byte {ok}: input/output error"));
    }
}

/// A few bytes whose header claims a 2 GiB body and whose counts claim as much as that allows:
/// a clean error (the body ends), never memory reserved for the claim (which would abort).
#[test]
fn counts_that_only_the_header_backs_reserve_nothing_big() {
    fn varint(mut v: u64, out: &mut Vec<u8>) {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }
    let claimed = fpt::MAX_BODY_LEN;
    let mut bodies = Vec::new();
    let mut strings = vec![0];
    varint(claimed - 8, &mut strings); // string_count: 2^31 Strings would be 48 GiB
    bodies.push(strings);
    let mut long_string = vec![0, 1];
    varint(claimed - 8, &mut long_string); // one string of 2 GiB
    bodies.push(long_string);
    let mut codes = vec![0, 0];
    varint(claimed / 3 - 8, &mut codes); // code_count
    bodies.push(codes);
    let mut calls = vec![0, 2, 1, b'f', 0, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0];
    varint(claimed / 4 - 64, &mut calls); // call_count of the one thread
    bodies.push(calls);
    for body in bodies {
        for zlib in [false, true] {
            let mut b = b"FPRF\x02\x00".to_vec();
            b.extend_from_slice(&u16::from(zlib).to_le_bytes());
            b.extend_from_slice(&claimed.to_le_bytes());
            if zlib {
                use flate2::{write::ZlibEncoder, Compression};
                use std::io::Write;
                let mut z = ZlibEncoder::new(Vec::new(), Compression::new(6));
                z.write_all(&body).unwrap();
                b.extend_from_slice(&z.finish().unwrap());
            } else {
                b.extend_from_slice(&body);
            }
            let e = streamed(&b, 4096).unwrap_err().to_string();
            let expected = if zlib { "body inflates to" } else { "raw body is" };
            assert!(e.contains(expected) && e.contains("header says 2147483648"), "{e}");
            assert_eq!(streamed(&b, 4096), whole(&b));
        }
    }
}
