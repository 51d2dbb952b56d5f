//! Window queries (`fprofile::window`): every call of a window accounted for, runs never over a
//! drawn call of their row, the reply's size bounded by pixels not calls, the encoding round trip,
//! and every bad request a clear error.
mod common;
use common::*;
use fprofile::calltree::build_trace;
use fprofile::synthetic::synthetic_trace;
use fprofile::window::{self, query, WindowError, WindowIndex, WindowReply};
use fprofile::Trace;
use proptest::prelude::*;
use std::collections::BTreeMap;

/// Per (thread, depth): the calls overlapping [t0, t1] (end >= t0 and start <= t1).
fn overlapping(t: &Trace, t0: i64, t1: i64) -> BTreeMap<(u32, u32), u64> {
    let mut m = BTreeMap::new();
    for (ti, th) in t.threads.iter().enumerate() {
        for i in th.call_range.0 as usize..th.call_range.1 as usize {
            if t.calls.end_ns[i] >= t0 && t.calls.start_ns[i] <= t1 {
                *m.entry((ti as u32, t.calls.depth[i])).or_insert(0) += 1;
            }
        }
    }
    m
}

/// The invariants of a reply: accounting per row, rows in order, items of a row in order and not
/// overlapping (so a run never covers a drawn call of its row), calls at least a pixel wide and
/// runs' members narrower, parents right.
fn check_reply(t: &Trace, r: &WindowReply) -> Result<(), String> {
    let mut got: BTreeMap<(u32, u32), u64> = BTreeMap::new();
    for it in &r.items {
        *got.entry((it.thread, it.depth)).or_insert(0) += it.count;
    }
    let want = overlapping(t, r.t0_ns, r.t1_ns);
    if got != want {
        return Err(format!("accounting: reply {got:?} != overlapping calls {want:?}"));
    }
    let k = r.px as f64 / (r.t1_ns - r.t0_ns) as f64;
    for (n, w) in r.items.windows(2).enumerate() {
        let (a, b) = (&w[0], &w[1]);
        if (a.thread, a.depth) > (b.thread, b.depth) {
            return Err(format!("rows out of order at item {n}"));
        }
        if (a.thread, a.depth) == (b.thread, b.depth) && b.start_ns < a.end_ns {
            return Err(format!("items {n} and {} overlap in their row: {a:?} {b:?}", n + 1));
        }
    }
    // the calls of each row in start order, and the item of each drawn call
    let mut rows: BTreeMap<(u32, u32), Vec<usize>> = BTreeMap::new();
    for (ti, th) in t.threads.iter().enumerate() {
        for i in th.call_range.0 as usize..th.call_range.1 as usize {
            rows.entry((ti as u32, t.calls.depth[i])).or_default().push(i);
        }
    }
    let item_of: std::collections::HashMap<u32, u32> =
        r.items.iter().enumerate().filter(|(_, x)| !x.is_run()).map(|(n, x)| (x.call, n as u32)).collect();
    for (n, it) in r.items.iter().enumerate() {
        let c = it.call as usize;
        if it.is_run() {
            // the calls of its row inside its span: as many as it counts, each narrower than a pixel
            let row = &rows[&(it.thread, it.depth)];
            let lo = row.partition_point(|&i| t.calls.start_ns[i] < it.start_ns);
            let members: Vec<usize> = row[lo..]
                .iter()
                .copied()
                .take_while(|&i| t.calls.start_ns[i] <= it.end_ns)
                .filter(|&i| t.calls.end_ns[i] <= it.end_ns && t.calls.end_ns[i] >= r.t0_ns && t.calls.start_ns[i] <= r.t1_ns)
                .collect();
            if members.len() as u64 != it.count {
                return Err(format!("run {n}: {} calls of its row lie in its span, count says {}", members.len(), it.count));
            }
            for &m in &members {
                if (t.calls.end_ns[m] - t.calls.start_ns[m]) as f64 * k >= 1.0 {
                    return Err(format!("run {n} holds call {m}, which is a pixel wide or more"));
                }
            }
        } else {
            if it.count != 1 || t.calls.start_ns[c] != it.start_ns || t.calls.end_ns[c] != it.end_ns || t.calls.code[c] != it.code
            {
                return Err(format!("item {n} is not call {c} as it is"));
            }
            if ((it.end_ns - it.start_ns) as f64 * k) < 1.0 {
                return Err(format!("item {n}: call {c} narrower than a pixel drawn as a call"));
            }
            let p = t.calls.parent[c];
            let want_parent = if p == u32::MAX { u32::MAX } else { item_of.get(&p).copied().unwrap_or(u32::MAX) };
            if p != u32::MAX && want_parent == u32::MAX {
                return Err(format!("item {n}: the parent of a drawn call is not drawn"));
            }
            if it.parent != want_parent {
                return Err(format!("item {n}: parent {} != {want_parent}", it.parent));
            }
        }
    }
    Ok(())
}

#[test]
fn wide_window_keeps_every_call_as_it_is() {
    let t = sample();
    let idx = WindowIndex::build(&t);
    let r = query(&t, &idx, 0, 300, 3000, None).unwrap();
    // every call with a duration is drawn as it is (z, seen ending only, has none: a run of one)
    let with_duration = (0..t.calls.len()).filter(|&i| t.calls.end_ns[i] > t.calls.start_ns[i]).count();
    assert_eq!(r.items.iter().filter(|i| !i.is_run()).count(), with_duration);
    check_reply(&t, &r).unwrap();
}

#[test]
fn narrow_calls_merge_into_runs_with_counts() {
    // 1000 calls of 10 ns each, 10 ns apart, under one parent: at 100 px over 20 us every call is a
    // fifth of a pixel, so the row is a few runs and the counts add up to 1000.
    let mut ev: Vec<(u64, String)> = vec![(0, "+p".into())];
    for i in 0..1000u64 {
        ev.push((10 + 20 * i, format!("+f{}", i % 3)));
        ev.push((20 + 20 * i, format!("-f{}", i % 3)));
    }
    ev.push((20_010, "-p".into()));
    let evs: Vec<(u64, &str)> = ev.iter().map(|(t, s)| (*t, s.as_str())).collect();
    let t = build_trace(recording(&[("Main", 1, &evs)], 0, 20_010));
    let idx = WindowIndex::build(&t);
    let r = query(&t, &idx, 0, 20_010, 100, None).unwrap();
    check_reply(&t, &r).unwrap();
    let runs: Vec<_> = r.items.iter().filter(|i| i.is_run()).collect();
    assert_eq!(runs.iter().map(|i| i.count).sum::<u64>(), 1000);
    assert!(runs.len() <= 100, "{} runs for 100 px", runs.len());
    assert!(runs.iter().all(|i| i.flags & window::ITEM_MIXED != 0), "three functions alternate: runs are mixed");
    // zoomed on 200 ns at 1000 px: the calls are 50 px wide, none merged
    let z = query(&t, &idx, 5_000, 5_200, 1000, None).unwrap();
    check_reply(&t, &z).unwrap();
    assert!(z.items.iter().all(|i| !i.is_run()));
    assert_eq!(z.items.len(), 1 + 11);
}

#[test]
fn a_thread_subset_returns_only_those_threads() {
    let t = sample();
    let idx = WindowIndex::build(&t);
    let r = query(&t, &idx, 0, 300, 500, Some(&[1])).unwrap();
    assert!(!r.items.is_empty() && r.items.iter().all(|i| i.thread == 1));
}

#[test]
fn bad_requests_are_clear_errors() {
    let t = sample();
    let idx = WindowIndex::build(&t);
    let e = |r: Result<WindowReply, WindowError>| r.unwrap_err().to_string();
    assert_eq!(e(query(&t, &idx, 50, 50, 100, None)), "empty window: t1_ns (50) must be greater than t0_ns (50)");
    assert!(e(query(&t, &idx, 60, 10, 100, None)).starts_with("empty window"));
    assert_eq!(e(query(&t, &idx, 0, 100, 0, None)), "width of 0 px: a window is 1 to 65536 pixels wide");
    assert!(e(query(&t, &idx, 0, 100, 1 << 40, None)).starts_with("width of 1099511627776 px"));
    assert!(e(query(&t, &idx, 10_000, 20_000, 100, None)).contains("is outside the trace, which spans ["));
    assert!(e(query(&t, &idx, i64::MIN, -5, 100, None)).contains("outside the trace"));
    assert_eq!(e(query(&t, &idx, 0, 100, 100, Some(&[7]))), "thread 7 is not in the trace (2 threads)");
    let empty = Trace::default();
    assert!(e(query(&empty, &WindowIndex::build(&empty), 0, 100, 100, None)).contains("no calls"));
    // extreme but valid: the whole i64 range at one pixel
    let r = query(&t, &idx, i64::MIN / 2, i64::MAX / 2, 1, None).unwrap();
    check_reply(&t, &r).unwrap();
}

#[test]
fn replies_round_trip_and_bad_bytes_are_errors() {
    let t = synthetic_trace(20_000, 3, 7);
    let idx = WindowIndex::build(&t);
    let (a, b) = idx.span();
    let r = query(&t, &idx, a, b, 800, None).unwrap();
    check_reply(&t, &r).unwrap();
    for level in [None, Some(1)] {
        let bytes = fprofile::formats::window::encode(&r, level);
        assert_eq!(fprofile::formats::window::decode(&bytes, t.threads.len(), t.codes.len()).unwrap(), r);
        for cut in (0..64).chain((64..bytes.len()).step_by(97)) {
            assert!(fprofile::formats::window::decode(&bytes[..cut], t.threads.len(), t.codes.len()).is_err());
        }
    }
    let raw = fprofile::formats::window::encode(&r, None);
    assert!(fprofile::formats::window::decode(&raw, 2, t.codes.len()).unwrap_err().to_string().contains("thread"));
    assert!(fprofile::formats::window::decode(b"FPRF\x02\0\0\0\0\0\0\0\0\0\0\0", 1, 1)
        .unwrap_err()
        .to_string()
        .contains("magic FPWN"));
}

#[test]
fn reply_size_is_bounded_by_pixels_not_calls() {
    let small = synthetic_trace(40_000, 4, 1);
    let big = synthetic_trace(400_000, 4, 1);
    for t in [&small, &big] {
        let idx = WindowIndex::build(t);
        let (a, b) = idx.span();
        let r = query(t, &idx, a, b, 1000, None).unwrap();
        check_reply(t, &r).unwrap();
        let rows = t.threads.len() * (fprofile::synthetic::MAX_DEPTH as usize + 1);
        assert!(r.items.len() <= rows * 1001, "{} items", r.items.len());
    }
    let items = |t: &Trace| {
        let idx = WindowIndex::build(t);
        let (a, b) = idx.span();
        query(t, &idx, a, b, 1000, None).unwrap().items.len()
    };
    // ten times the calls over the same pixels: far fewer than ten times the items
    assert!(items(&big) < 3 * items(&small), "{} vs {}", items(&big), items(&small));
}

#[test]
fn skeleton_has_no_calls_and_encodes() {
    let t = sample();
    let s = window::skeleton(&t);
    assert!(s.calls.is_empty());
    assert_eq!(s.threads.len(), t.threads.len());
    let back = fprofile::formats::fpt::decode(&fprofile::formats::fpt::encode(&s)).unwrap();
    assert_eq!(back.threads.len(), 2);
    assert_eq!(back.codes, t.codes);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, .. ProptestConfig::default() })]

    #[test]
    fn every_call_of_a_window_is_accounted_for(rec in strategies::recording(), a in 0i64..200, w in 1i64..200, px in 1u64..60) {
        let t = build_trace(rec);
        let idx = WindowIndex::build(&t);
        let (t0, t1) = (900 + a, 900 + a + w);
        match query(&t, &idx, t0, t1, px, None) {
            Ok(r) => {
                prop_assert_eq!(check_reply(&t, &r), Ok(()));
                let bytes = fprofile::formats::window::encode(&r, None);
                prop_assert_eq!(fprofile::formats::window::decode(&bytes, t.threads.len(), t.codes.len()).unwrap(), r);
            }
            Err(WindowError::NoCalls) => prop_assert!(t.calls.is_empty()),
            Err(WindowError::Outside { .. }) => prop_assert!(overlapping(&t, t0, t1).is_empty()),
            Err(e) => prop_assert!(false, "unexpected error {}", e),
        }
    }

    /// Dense rows (thousands of calls a row): the block skips and block searches, checked the same way.
    #[test]
    fn dense_rows_are_accounted_for(seed in 0u64..1000, a in 0.0f64..1.0, w in 0.0001f64..1.0, px in 1u64..3000) {
        let t = synthetic_trace(30_000, 2, seed);
        let idx = WindowIndex::build(&t);
        let (s, e) = idx.span();
        let t0 = s + ((e - s) as f64 * a) as i64;
        let t1 = t0 + ((e - s) as f64 * w) as i64 + 1;
        let r = query(&t, &idx, t0, t1, px, None).unwrap();
        prop_assert_eq!(check_reply(&t, &r), Ok(()));
    }

    #[test]
    fn arbitrary_reply_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let mut b = b"FPWN\x01\0\0\0".to_vec();
        b.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        b.extend_from_slice(&bytes);
        let _ = fprofile::formats::window::decode(&b, 3, 5);
        let _ = fprofile::formats::window::decode(&bytes, 3, 5);
    }
}

/// Not a timed assertion: prints how long queries take on a synthetic trace in a release build
/// (`cargo test --release -p fprofile --test window -- --ignored --nocapture query_cost`).
#[test]
#[ignore]
fn query_cost() {
    let calls: usize = std::env::var("FPROFILE_WINDOW_CALLS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let t = synthetic_trace(calls, 8, 1);
    let at = std::time::Instant::now();
    let idx = WindowIndex::build(&t);
    println!("index: {:?}, {} bytes", at.elapsed(), idx.heap_bytes());
    let (a, b) = idx.span();
    for (name, t0, t1) in [("whole run", a, b), ("1/1000", a + (b - a) / 2, a + (b - a) / 2 + (b - a) / 1000)] {
        let mut times = Vec::new();
        let mut items = 0;
        for _ in 0..11 {
            let at = std::time::Instant::now();
            let r = query(&t, &idx, t0, t1, 2000, None).unwrap();
            let bytes = fprofile::formats::window::encode(&r, None);
            times.push(at.elapsed());
            items = r.items.len();
            std::hint::black_box(bytes);
        }
        times.sort();
        println!("{name}: median {:?}, {items} items", times[5]);
    }
}

/// The fixtures `tests/js/fixtures/window_skeleton.fpt`, `window_overview.fpwn` (whole run, 200 px,
/// uncompressed), `window_zoom.fpwn` (a tenth of the run, 400 px, compressed) and `window.json`
/// (what they hold, per item), read back by `tests/js/windowreply.test.mjs`: written by this
/// encoder. Regenerate with `FPROFILE_REGEN_FIXTURES=1 cargo test -p fprofile --test window`.
#[test]
fn js_window_fixtures_are_current() {
    let t = synthetic_trace(6_000, 3, 5);
    let idx = WindowIndex::build(&t);
    let (a, b) = idx.span();
    let overview = query(&t, &idx, a, b, 200, None).unwrap();
    let zoom = query(&t, &idx, a + (b - a) / 2, a + (b - a) / 2 + (b - a) / 10, 400, None).unwrap();
    let items = |r: &WindowReply| -> serde_json::Value {
        serde_json::json!({
            "t0": r.t0_ns, "t1": r.t1_ns, "px": r.px,
            "covered": r.calls_covered(),
            "items": r.items.iter().map(|i| serde_json::json!([i.thread, i.depth, i.start_ns, i.end_ns, i.code, i.count, i.flags, if i.parent == u32::MAX { -1 } else { i.parent as i64 }, i.call])).collect::<Vec<_>>(),
        })
    };
    let files: [(&str, Vec<u8>); 4] = [
        ("window_skeleton.fpt", fprofile::formats::fpt::encode(&window::skeleton(&t))),
        ("window_overview.fpwn", fprofile::formats::window::encode(&overview, None)),
        ("window_zoom.fpwn", fprofile::formats::window::encode(&zoom, Some(6))),
        (
            "window.json",
            serde_json::to_vec(&serde_json::json!({"calls": t.calls.len(), "overview": items(&overview), "zoom": items(&zoom)}))
                .unwrap(),
        ),
    ];
    for (name, bytes) in files {
        let path = format!("{}/../../tests/js/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        if std::env::var_os("FPROFILE_REGEN_FIXTURES").is_some() {
            std::fs::write(&path, &bytes).unwrap();
        }
        let on_disk = std::fs::read(&path).expect("fixture missing: run with FPROFILE_REGEN_FIXTURES=1");
        assert!(on_disk == bytes, "{name}: the Rust encoder changed: regenerate the fixtures (FPROFILE_REGEN_FIXTURES=1)");
    }
}

#[test]
fn html_pyramid_levels_fit_the_cap_and_cover_the_run() {
    use fprofile::formats::html;
    let t = synthetic_trace(200_000, 4, 3);
    let (a, b) = WindowIndex::build(&t).span();
    for cap in [50_000usize, 400_000, 4_000_000] {
        let p = html::pyramid(&t, cap).unwrap();
        let total: usize = p.tiles.iter().map(|x| x.3.len()).sum();
        assert!(total <= cap || p.levels == 1, "{total} bytes over the cap {cap}");
        let first = &p.tiles[0];
        assert_eq!((first.0, first.1), (a, b));
        // every tile decodes; each level's tiles cover the run, half-overlapping
        let mut count = 0;
        for level in 0..p.levels {
            let n = if level == 0 { 1 } else { (2usize << level) - 1 };
            let tiles = &p.tiles[count..count + n];
            count += n;
            assert_eq!(tiles[0].0, a);
            assert!(tiles[n - 1].1 >= b);
            for x in tiles {
                fprofile::formats::window::decode(&x.3, t.threads.len(), t.codes.len()).unwrap();
            }
        }
        assert_eq!(count, p.tiles.len());
    }
    // more room, more levels, finer
    let (small, big) = (html::pyramid(&t, 200_000).unwrap(), html::pyramid(&t, 4_000_000).unwrap());
    assert!(big.levels > small.levels && big.finest_ns_per_px < small.finest_ns_per_px);
    let page = html::to_html_limited(&t, "big <run>", 1000, 400_000);
    assert!(page.contains("id=\"fprofile-pyramid\"") && page.contains("too many to embed whole"));
    assert!(!page.contains("big <run>"));
    let whole = html::to_html_limited(&t, "t", 10_000_000, 400_000);
    assert!(!whole.contains("id=\"fprofile-pyramid\""));
}
