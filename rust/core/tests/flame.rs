//! Flame graph, callers/callees and comparisons: their totals agree with the summaries on random
//! traces; a trace compared with itself shows no change; known differences on constructed traces.
mod common;
use common::*;
use fprofile::calltree::build_trace;
use fprofile::compare::{compare, diff_flame, sort_rows, text_table, CompareError, CompareSort, Names, Presence};
use fprofile::flame::{flame, sandwich, Figures, Flame, Window};
use fprofile::summary::{summarize, Row};
use fprofile::{Code, Event, EventKind, Recording, ThreadRecord, Trace};
use proptest::prelude::*;

/// Per code: (calls, total with recursion counted once, self), summed from the nodes.
fn per_function(f: &Flame, n_codes: usize) -> Vec<(u64, u64, u64)> {
    let mut out = vec![(0u64, 0u64, 0u64); n_codes];
    for (i, n) in f.nodes.iter().enumerate() {
        let o = &mut out[n.code as usize];
        o.0 += n.figures.calls;
        o.2 += n.figures.self_ns;
        let mut p = n.parent;
        let mut outermost = true;
        while p != u32::MAX {
            if f.nodes[p as usize].code == n.code {
                outermost = false;
            }
            p = f.nodes[p as usize].parent;
        }
        if outermost {
            o.1 += n.figures.total_ns;
        }
        // pre-order, and a parent's total holds its children's
        assert!(n.parent == u32::MAX || (n.parent as usize) < i);
    }
    for (i, n) in f.nodes.iter().enumerate() {
        let kids: u64 = f.children(Some(i)).iter().map(|&k| f.nodes[k].figures.total_ns).sum();
        assert_eq!(n.figures.self_ns + kids, n.figures.total_ns);
    }
    out
}

fn from_rows(rows: &[Row], n_codes: usize) -> Vec<(u64, u64, u64)> {
    let mut out = vec![(0u64, 0u64, 0u64); n_codes];
    for r in rows {
        out[r.code as usize] = (r.calls, r.total_ns, r.self_ns);
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn flame_totals_equal_the_summary(rec in strategies::recording()) {
        let t = build_trace(rec);
        let s = summarize(&t);
        let n = t.codes.len();
        prop_assert_eq!(per_function(&flame(&t, None, None), n), from_rows(&s.overall, n));
        for ts in &s.threads {
            prop_assert_eq!(per_function(&flame(&t, Some(&[ts.thread]), None), n), from_rows(&ts.rows, n));
        }
        // a window holding the whole trace changes nothing
        let lo = t.threads.iter().map(|th| th.first_ns).min().unwrap_or(0);
        let hi = t.threads.iter().map(|th| th.last_ns).max().unwrap_or(0);
        prop_assert_eq!(flame(&t, None, Some(Window { t0_ns: lo, t1_ns: hi + 1 })), flame(&t, None, None));
    }

    #[test]
    fn wide_trees_equal_the_summary(
        threads in prop::collection::vec(prop::collection::vec((1u64..5, prop::bool::weighted(0.6), 0u32..30), 0..300), 1..3)
    ) {
        // 30 functions: nodes with more children than the arena's lists hold
        let codes: Vec<Code> = (0..30).map(|i| code(&format!("w{i}"))).collect();
        let threads = threads
            .into_iter()
            .enumerate()
            .map(|(k, evs)| {
                let mut t = 0;
                let events = evs
                    .into_iter()
                    .map(|(dt, call, code)| {
                        t += dt;
                        Event { t_ns: t, code, kind: if call { EventKind::Call } else { EventKind::Return } }
                    })
                    .collect();
                ThreadRecord { os_id: k as u64, ident: 0, names: vec![(0, format!("T{k}"))], chunks: vec![events] }
            })
            .collect();
        let t = build_trace(Recording { codes, threads, start_ns: 0, stop_ns: 0, metadata: vec![], process: Default::default() });
        let s = summarize(&t);
        prop_assert_eq!(per_function(&flame(&t, None, None), 30), from_rows(&s.overall, 30));
        let c = compare(&t, &t);
        if let Ok(c) = c {
            for n in diff_flame(&t, &t, &c) {
                prop_assert_eq!(n.a, n.b);
            }
        }
    }

    #[test]
    fn windows_split_time_exactly(rec in strategies::recording(), cut in 0i64..200) {
        // the top-level totals of [lo, m) and [m, hi) add up to those of the whole trace
        let t = build_trace(rec);
        let lo = t.threads.iter().map(|th| th.first_ns).min().unwrap_or(0);
        let hi = t.threads.iter().map(|th| th.last_ns).max().unwrap_or(0) + 1;
        let m = lo + cut % (hi - lo).max(1);
        let top = |f: &Flame| f.nodes.iter().filter(|n| n.depth == 0).map(|n| n.figures.total_ns).sum::<u64>();
        let whole = top(&flame(&t, None, None));
        let parts = top(&flame(&t, None, Some(Window { t0_ns: lo, t1_ns: m }))) + top(&flame(&t, None, Some(Window { t0_ns: m, t1_ns: hi })));
        prop_assert_eq!(whole, parts);
    }

    #[test]
    fn callers_and_callees_equal_the_summary(rec in strategies::recording()) {
        let t = build_trace(rec);
        let s = summarize(&t);
        for r in &s.overall {
            let sw = sandwich(&t, &[r.code], None);
            let root = sw.callers.nodes[0];
            prop_assert_eq!((root.code, root.figures), (r.code, Figures { calls: r.calls, total_ns: r.total_ns, self_ns: r.self_ns }));
            // every chain of callers holds what its longer chains hold
            for (i, n) in sw.callers.nodes.iter().enumerate() {
                let mut kids = Figures::default();
                for k in sw.callers.children(Some(i)) {
                    kids.add(&sw.callers.nodes[k].figures);
                }
                prop_assert!(kids.calls <= n.figures.calls && kids.total_ns <= n.figures.total_ns && kids.self_ns <= n.figures.self_ns);
            }
            prop_assert_eq!(sw.callers.children(None), vec![0]);
            prop_assert_eq!(sw.callees.children(None), vec![0]);
            prop_assert_eq!(sw.callees.nodes[0].figures.total_ns, r.total_ns);
            let (calls, self_ns) = sw.callees.nodes.iter().filter(|n| n.code == r.code)
                .fold((0, 0), |(c, s), n| (c + n.figures.calls, s + n.figures.self_ns));
            prop_assert_eq!((calls, self_ns), (r.calls, r.self_ns));
        }
    }

    #[test]
    fn a_trace_compared_with_itself_shows_no_change(rec in strategies::recording()) {
        let t = build_trace(rec);
        match compare(&t, &t) {
            Err(CompareError::Empty { .. }) => prop_assert!(t.calls.is_empty()),
            Ok(c) => {
                for r in &c.rows {
                    prop_assert_eq!(r.presence(), Presence::Both);
                    prop_assert_eq!((r.calls_diff(), r.total_diff_ns(), r.self_diff_ns(), r.mean_diff_ns()), (0, 0, 0, 0));
                    prop_assert_eq!(r.relative(false), 0.0);
                }
                prop_assert_eq!(c.rows.len(), summarize(&t).overall.len());
                for n in diff_flame(&t, &t, &c) {
                    prop_assert_eq!(n.a, n.b);
                }
            }
        }
    }
}

/// One thread of calls from `(t, name, is_call)`; codes as given.
fn trace(codes: &[(&str, &str, u32)], events: &[(u64, usize, bool)]) -> Trace {
    let codes =
        codes.iter().map(|(file, name, line)| Code { file: (*file).into(), name: (*name).into(), first_line: *line }).collect();
    let chunks = vec![events
        .iter()
        .map(|&(t_ns, code, call)| Event {
            t_ns,
            code: code as u32,
            kind: if call { EventKind::Call } else { EventKind::Return },
        })
        .collect()];
    build_trace(Recording {
        codes,
        threads: vec![ThreadRecord { os_id: 1, ident: 1, names: vec![(0, "M".into())], chunks }],
        start_ns: 0,
        stop_ns: 0,
        metadata: vec![],
        process: Default::default(),
    })
}

#[test]
fn known_differences() {
    // a: main [0,100) -> work [10,50), work [60,70)
    let a = build_trace(recording(
        &[("M", 1, &[(0, "+main"), (10, "+work"), (50, "-work"), (60, "+work"), (70, "-work"), (100, "-main")])],
        0,
        100,
    ));
    // b: main [0,200) -> work [10,30), io [40,190) ; main moved to line 7 in b
    let mut b = build_trace(recording(
        &[("M", 1, &[(0, "+main"), (10, "+work"), (30, "-work"), (40, "+io"), (190, "-io"), (200, "-main")])],
        0,
        200,
    ));
    b.codes[0].first_line = 7;
    let c = compare(&a, &b).unwrap();
    let row = |name: &str| c.rows.iter().find(|r| r.function == name).unwrap();
    let main = row("main");
    assert_eq!((main.line_a, main.line_b, main.presence()), (Some(1), Some(7), Presence::Both));
    assert_eq!((main.calls_diff(), main.total_diff_ns(), main.self_diff_ns()), (0, 100, -20));
    let work = row("work");
    assert_eq!((work.a.calls, work.b.calls, work.total_diff_ns(), work.mean_diff_ns()), (2, 1, -30, -5));
    assert_eq!(work.relative(false), -0.6);
    let io = row("io");
    assert_eq!((io.presence(), io.b.total_ns, io.relative(false)), (Presence::OnlyB, 150, f64::INFINITY));
    // canonical order: largest absolute change of total time first
    assert_eq!(c.rows.iter().map(|r| r.function.as_str()).collect::<Vec<_>>(), ["io", "main", "work"]);
    assert!(c.rows.iter().enumerate().all(|(k, r)| r.id == k as u32));
    let mut rows = c.rows.clone();
    sort_rows(&mut rows, CompareSort::Calls, false);
    assert_eq!(rows.iter().map(|r| r.function.as_str()).collect::<Vec<_>>(), ["io", "work", "main"]);
    sort_rows(&mut rows, CompareSort::Rel, true);
    assert_eq!(rows[0].function, "io");
    let table = text_table(&c.rows, "T", None, false, &Default::default(), &Names::new("before", "after"));
    assert!(
        table.lines().nth(2).is_some_and(|l| l.contains("+150 ns") && l.contains("new") && l.ends_with("(only in after)")),
        "{table}"
    );
    assert!(table.lines().nth(1).is_some_and(|l| l.starts_with("calls before calls after Δcalls")), "{table}");
    assert!(table.contains("/src/main.py:1->7"), "{table}");

    // the differential tree: main -> {io only in b, work in both}
    let d = diff_flame(&a, &b, &c);
    let names: Vec<(u32, &str, Presence)> =
        d.iter().map(|n| (n.depth, c.rows[n.func as usize].function.as_str(), n.presence())).collect();
    assert_eq!(names, [(0, "main", Presence::Both), (1, "io", Presence::OnlyB), (1, "work", Presence::Both)]);
    assert_eq!((d[2].a.total_ns, d[2].b.total_ns, d[2].a.calls, d[2].b.calls), (50, 20, 2, 1));
    assert_eq!(d[1].parent, 0);
}

#[test]
fn functions_sharing_a_name_pair_by_line() {
    let codes_a = [("/m.py", "<lambda>", 10), ("/m.py", "<lambda>", 20), ("/m.py", "run", 1)];
    let codes_b = [("/m.py", "<lambda>", 30), ("/m.py", "<lambda>", 10), ("/m.py", "<lambda>", 40), ("/m.py", "run", 2)];
    let ev = |n: usize| -> Vec<(u64, usize, bool)> {
        let mut v = vec![(0, n - 1, true)];
        for k in 0..n - 1 {
            v.push((10 * k as u64 + 1, k, true));
            v.push((10 * k as u64 + 2 + k as u64, k, false));
        }
        v.push((100, n - 1, false));
        v
    };
    let a = trace(&codes_a, &ev(3));
    let b = trace(&codes_b, &ev(4));
    let c = compare(&a, &b).unwrap();
    let mut pairs: Vec<(Option<u32>, Option<u32>)> =
        c.rows.iter().filter(|r| r.function == "<lambda>").map(|r| (r.line_a, r.line_b)).collect();
    pairs.sort();
    // line 10 with line 10; then 20 with the first left (30); 40 only in b
    assert_eq!(pairs, [(None, Some(40)), (Some(10), Some(10)), (Some(20), Some(30))]);
    let run = c.rows.iter().find(|r| r.function == "run").unwrap();
    assert_eq!((run.line_a, run.line_b), (Some(1), Some(2)));
}

#[test]
fn an_empty_trace_is_refused() {
    let a = build_trace(recording(&[("M", 1, &[(0, "+main"), (10, "-main")])], 0, 10));
    assert_eq!(compare(&a, &Trace::default()).unwrap_err().to_string(), "trace b holds no calls: nothing to compare");
    assert_eq!(compare(&Trace::default(), &a).unwrap_err(), CompareError::Empty { side: 'a' });
}
