//! Tree building: every rule of `fprofile::calltree` (see its module docs).
mod common;
use common::*;
use fprofile::calltree::build_trace;
use fprofile::{CallFlags, Event, EventKind, ThreadRecord};

fn lines(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn nesting_and_rebase_to_start() {
    let rec = recording(&[("Main", 1, &[(100, "+a"), (110, "+b"), (120, "-b"), (130, "+c"), (140, "-c"), (150, "-a")])], 90, 200);
    let t = build_trace(rec);
    check_invariants(&t).unwrap();
    assert_eq!(t.origin_ns, 90);
    assert_eq!(folded(&t), lines(&["Main;a 10 60", "Main;a;b 20 30", "Main;a;c 40 50"]));
    assert_eq!(t.calls.parent, vec![u32::MAX, 0, 0]);
}

#[test]
fn origin_is_first_event_without_start() {
    let rec = recording(&[("T", 1, &[(500, "+a"), (510, "-a")]), ("U", 2, &[(400, "+b"), (600, "-b")])], 0, 0);
    let t = build_trace(rec);
    check_invariants(&t).unwrap();
    assert_eq!(t.origin_ns, 400);
    // threads ordered by first event
    assert_eq!(folded(&t), lines(&["U;b 0 200", "T;a 100 110"]));
}

#[test]
fn return_without_call_is_started_before_and_adopts_children() {
    let rec =
        recording(&[("Main", 1, &[(10, "+b"), (20, "-b"), (25, "+c"), (28, "-c"), (30, "-a"), (40, "+d"), (50, "-d")])], 5, 60);
    let t = build_trace(rec);
    check_invariants(&t).unwrap();
    // the started-before call opens at the thread's first event (10 -> 5 after rebasing to start 5)
    assert_eq!(folded(&t), lines(&["Main;a 5 25 B", "Main;a;b 5 15", "Main;a;c 20 23", "Main;d 35 45"]));
}

#[test]
fn nested_started_before_calls_first_seen_is_innermost() {
    let rec = recording(&[("Main", 1, &[(10, "+c"), (11, "-c"), (12, "-b"), (13, "+x"), (14, "-x"), (15, "-a")])], 10, 20);
    let t = build_trace(rec);
    check_invariants(&t).unwrap();
    assert_eq!(folded(&t), lines(&["Main;a 0 5 B", "Main;a;b 0 2 B", "Main;a;b;c 0 1", "Main;a;x 3 4"]));
}

#[test]
fn unfinished_calls_close_at_stop() {
    let rec = recording(&[("Main", 1, &[(10, "+a"), (20, "+b"), (30, "-b"), (40, "+c")])], 10, 100);
    let t = build_trace(rec);
    check_invariants(&t).unwrap();
    assert_eq!(folded(&t), lines(&["Main;a 0 90 U", "Main;a;b 10 20", "Main;a;c 30 90 U"]));
    assert_eq!(t.threads[0].last_ns, 90);
}

#[test]
fn unfinished_without_stop_closes_at_last_event_of_recording() {
    let rec = recording(&[("A", 1, &[(10, "+a")]), ("B", 2, &[(12, "+b"), (50, "-b")])], 0, 0);
    let t = build_trace(rec);
    check_invariants(&t).unwrap();
    assert_eq!(folded(&t), lines(&["A;a 0 40 U", "B;b 2 40"]));
}

#[test]
fn mismatched_return_unwinds_to_matching_call() {
    // c and b never return: the return of a closes them at its time.
    let rec = recording(&[("Main", 1, &[(0, "+a"), (1, "+b"), (2, "+c"), (5, "-a"), (6, "+d"), (7, "-d")])], 0, 10);
    let t = build_trace(rec);
    check_invariants(&t).unwrap();
    assert_eq!(folded(&t), lines(&["Main;a 0 5", "Main;a;b 1 5", "Main;a;b;c 2 5", "Main;d 6 7"]));
}

#[test]
fn return_matching_nothing_while_calls_open_closes_them_and_starts_before() {
    let rec = recording(&[("Main", 1, &[(0, "+b"), (1, "+c"), (5, "-a"), (6, "+d"), (7, "-d")])], 0, 10);
    let t = build_trace(rec);
    check_invariants(&t).unwrap();
    assert_eq!(folded(&t), lines(&["Main;a 0 5 B", "Main;a;b 0 5", "Main;a;b;c 1 5", "Main;d 6 7"]));
}

#[test]
fn recursion_matches_innermost() {
    let rec = recording(&[("M", 1, &[(0, "+f"), (1, "+f"), (2, "+f"), (3, "-f"), (4, "-f"), (5, "-f")])], 0, 5);
    let t = build_trace(rec);
    check_invariants(&t).unwrap();
    assert_eq!(folded(&t), lines(&["M;f 0 5", "M;f;f 1 4", "M;f;f;f 2 3"]));
}

#[test]
fn equal_timestamps() {
    let rec = recording(&[("M", 1, &[(5, "+a"), (5, "+b"), (5, "-b"), (5, "+c"), (5, "-c"), (5, "-a")])], 5, 5);
    let t = build_trace(rec);
    check_invariants(&t).unwrap();
    assert_eq!(folded(&t), lines(&["M;a 0 0", "M;a;b 0 0", "M;a;c 0 0"]));
}

#[test]
fn out_of_order_events_are_sorted_stably() {
    // lines written out of order (a text file): sorted by time, ties keep their order
    let rec = recording(&[("M", 1, &[(0, "+a"), (3, "-b"), (1, "+b"), (4, "-a"), (3, "+c"), (3, "-c")])], 0, 4);
    let t = build_trace(rec);
    check_invariants(&t).unwrap();
    // sorted: +a0 +b1 -b3 +c3 -c3 -a4
    assert_eq!(folded(&t), lines(&["M;a 0 4", "M;a;b 1 3", "M;a;c 3 3"]));
}

#[test]
fn same_name_threads_stay_distinct_and_lanes() {
    let rec = recording(
        &[
            ("Worker", 1, &[(0, "+a"), (10, "-a")]),
            ("Main", 2, &[(0, "+m"), (100, "-m")]),
            ("Worker", 3, &[(20, "+a"), (30, "-a")]),
            ("Other", 4, &[(25, "+o"), (40, "-o")]),
            ("Late", 5, &[(200, "+l"), (210, "-l")]),
        ],
        0,
        210,
    );
    let t = build_trace(rec);
    check_invariants(&t).unwrap();
    let names: Vec<_> = t.threads.iter().map(|th| (th.name().to_string(), th.os_id, th.lane)).collect();
    assert_eq!(
        names,
        vec![
            ("Worker".into(), 1, 0),
            ("Main".into(), 2, 1),
            ("Worker".into(), 3, 2), // overlaps Main (1), not Worker#1
            ("Other".into(), 4, 3),  // overlaps Main (1) and Worker#3 (2)
            ("Late".into(), 5, 0),
        ]
    );
}

#[test]
fn interleaving_across_threads_does_not_matter() {
    let a = recording(&[("A", 1, &[(0, "+x"), (5, "+y"), (6, "-y"), (9, "-x")]), ("B", 2, &[(1, "+z"), (7, "-z")])], 0, 10);
    let mut b = a.clone();
    b.threads.reverse();
    let (ta, tb) = (build_trace(a), build_trace(b));
    assert_eq!(folded(&ta), folded(&tb));
    assert_eq!(ta, tb);
}

#[test]
fn empty_threads_dropped_and_names_over_time() {
    let mut rec = recording(&[("A", 1, &[(10, "+x"), (20, "-x")])], 0, 30);
    rec.threads[0].names = vec![(0, "first".into()), (5, "second".into()), (15, "third".into()), (16, "third".into())];
    rec.threads.push(ThreadRecord { os_id: 9, ident: 0, names: vec![(0, "idle".into())], chunks: vec![vec![], vec![]] });
    let t = build_trace(rec);
    check_invariants(&t).unwrap();
    assert_eq!(t.threads.len(), 1);
    assert_eq!(t.threads[0].names, vec![(0, "second".to_string()), (5, "third".to_string())]);
}

#[test]
fn invalid_code_ids_dropped_and_counted() {
    let mut rec = recording(&[("A", 1, &[(10, "+x"), (20, "-x")])], 0, 30);
    rec.threads[0].chunks[0].insert(1, Event { t_ns: 12, code: 99, kind: EventKind::Call });
    let t = build_trace(rec);
    check_invariants(&t).unwrap();
    assert_eq!(t.calls.len(), 1);
    assert!(t.metadata.contains(&("build.dropped_events".to_string(), "1".to_string())));
}

#[test]
fn calls_deeper_than_u16_are_kept() {
    // 100,000 nested calls (a 3.11 program with a raised recursion limit gets there): every one is
    // recorded with its depth; nothing is dropped (depths were u16 once, capped at 65,535).
    let n = 100_000usize;
    let mut evs = Vec::new();
    for i in 0..n {
        evs.push(Event { t_ns: i as u64, code: 0, kind: EventKind::Call });
    }
    for i in 0..n {
        evs.push(Event { t_ns: (n + i) as u64, code: 0, kind: EventKind::Return });
    }
    let mut rec = recording(&[("A", 1, &[(0, "+f"), (1, "-f")])], 0, 0);
    rec.threads[0].chunks = vec![evs];
    let t = build_trace(rec);
    check_invariants(&t).unwrap();
    assert_eq!(t.calls.len(), n);
    assert_eq!(t.calls.depth[n - 1], (n - 1) as u32);
    assert_eq!(t.calls.end_ns[n - 1] - t.calls.start_ns[n - 1], 1);
    assert!(!t.metadata.iter().any(|(k, _)| k.starts_with("build.dropped")));
    // and it survives the compact format
    let back = fprofile::formats::fpt::decode(&fprofile::formats::fpt::encode(&t)).unwrap();
    assert_eq!(back.calls.depth, t.calls.depth);
}

#[test]
fn flags_accessors() {
    let rec = recording(&[("M", 1, &[(1, "-a"), (2, "+b")])], 0, 3);
    let t = build_trace(rec);
    assert!(t.calls.flags[0].started_before());
    assert!(t.calls.flags[1].unfinished());
    assert_eq!(t.calls.flags[1].0, CallFlags::UNFINISHED);
}
