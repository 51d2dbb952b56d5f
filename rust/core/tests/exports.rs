//! PYME JSON (write exactly as the original converter, read back), Perfetto and speedscope exports.
mod common;
use common::*;
use fprofile::calltree::build_trace;
use fprofile::formats::{detect, fpt, perfetto, pyme_json, pyme_text, speedscope, Format};
use proptest::prelude::*;
use serde_json::{json, Value};

fn to_json(t: &fprofile::Trace) -> Value {
    let mut out = Vec::new();
    pyme_json::write(t, &mut out).unwrap();
    serde_json::from_slice(&out).unwrap()
}

#[test]
fn pyme_json_matches_original_converter() {
    let t = pyme_text::read(PYME.as_bytes()).unwrap();
    // What the original computes: float seconds parsed from the text, minus the first time.
    let r = |x: f64| x - 12.0001;
    let expected = json!({
        "callstack": [
            {"ts": r(12.0002), "tf": r(12.0004), "f": "/home/u/PYME/io/x.py", "n": "parse", "l": 2, "td": 0, "tl": 0.0, "ns": "50"},
            {"ts": r(12.0001), "tf": r(12.001), "f": "/home/u/PYME/io/x.py", "n": "load", "l": 1, "td": 0, "tl": 0.0, "ns": "42"},
            {"ts": r(12.0003), "tf": r(12.0009), "f": "/home/u/PYME/io/y.py", "n": "run", "l": 1, "td": 1, "tl": 1.0, "ns": "7"},
        ],
        "threadNames": ["MainThread", "Worker"],
        "threadLines": [{"ts": 0.0, "tf": r(12.001), "tl": 0.0}, {"ts": r(12.0003), "tf": r(12.0009), "tl": 1.0}],
        "maxConcurrentThreads": 2
    });
    assert_eq!(to_json(&t), expected);
    // key order of an entry as the original writes it
    let mut out = Vec::new();
    pyme_json::write(&t, &mut out).unwrap();
    let s = String::from_utf8(out).unwrap();
    assert!(s.starts_with("{\"callstack\": [{\"ts\":"), "{s}");
    assert!(s.contains("\"ns\":\"50\"}"));
    assert_eq!(detect(s.as_bytes()), Some(Format::PymeJson));
}

#[test]
fn pyme_json_small_times_not_rebased_and_flagged_calls_dropped() {
    // first time 1.0 s (below 10): absolute times; started-before `a` and unfinished `c` dropped,
    // `b` inside the started-before call is level 1 as in the original.
    let s =
        "1.000000\tT\tf\tb\tcall\t1\n1.000002\tT\tf\tb\treturn\t1\n1.000003\tT\tf\ta\treturn\t1\n1.000004\tT\tf\tc\tcall\t1\n";
    let t = pyme_text::read(s.as_bytes()).unwrap();
    let v = to_json(&t);
    assert_eq!(v["callstack"], json!([{"ts": 1.0, "tf": 1.000002, "f": "f", "n": "b", "l": 1, "td": 0, "tl": 0.0, "ns": "1"}]));
}

#[test]
fn pyme_json_reads_back() {
    let t = pyme_text::read(PYME.as_bytes()).unwrap();
    let mut out = Vec::new();
    pyme_json::write(&t, &mut out).unwrap();
    let back = pyme_json::read(&out).unwrap();
    check_invariants(&back).unwrap();
    assert_eq!(folded(&back), folded(&t));
    assert_eq!(back.threads.iter().map(|t| t.lane).collect::<Vec<_>>(), vec![0, 1]);
    assert_eq!(back.codes.iter().map(|c| c.first_line).collect::<Vec<_>>(), vec![50, 42, 7]);
}

#[test]
fn pyme_json_reads_old_files_without_thread_lines() {
    // hand-written in the original's shape; numbers for l and ns, zero-length siblings at one time
    let s = r#"{"callstack": [{"ts": 0.5, "tf": 0.5, "f": "a.py", "n": "z", "l": 2, "td": 0, "tl": 0, "ns": 3},
                              {"ts": 0.5, "tf": 0.5, "f": "a.py", "n": "y", "l": 2, "td": 0, "tl": 0, "ns": "2"},
                              {"ts": 0.0, "tf": 1.0, "f": "a.py", "n": "x", "l": 1.0, "td": 0, "tl": 0, "ns": "1"}],
               "threadNames": ["Main"], "maxConcurrentThreads": 1}"#;
    let t = pyme_json::read(s.as_bytes()).unwrap();
    check_invariants(&t).unwrap();
    assert_eq!(folded(&t), vec!["Main;x 0 1000000000", "Main;x;z 500000000 500000000", "Main;x;y 500000000 500000000"]);
}

#[test]
fn pyme_json_zero_length_calls_sharing_a_microsecond_keep_their_parents() {
    // x calls a (which calls m) and then b (which calls c); a, m and b's start share one time, as
    // PYME's microsecond text often makes them. Written in return order, as the original does.
    let e = |n: &str, ts: f64, tf: f64, l: u32| {
        format!(r#"{{"ts": {ts}, "tf": {tf}, "f": "a.py", "n": "{n}", "l": {l}, "td": 0, "tl": 0, "ns": "1"}}"#)
    };
    let body = [e("m", 2e-6, 2e-6, 3), e("a", 2e-6, 2e-6, 2), e("c", 3e-6, 3e-6, 3), e("b", 2e-6, 8e-6, 2), e("x", 0.0, 1e-5, 1)];
    let s = format!(r#"{{"callstack": [{}], "threadNames": ["Main"]}}"#, body.join(","));
    let t = pyme_json::read(s.as_bytes()).unwrap();
    check_invariants(&t).unwrap();
    let want = vec!["Main;x 0 10000", "Main;x;a 2000 2000", "Main;x;a;m 2000 2000", "Main;x;b 2000 8000", "Main;x;b;c 3000 3000"];
    assert_eq!(folded(&t), want);
    // the same calls in another order (by start) give the same tree
    let shuffled = [&body[4], &body[1], &body[0], &body[3], &body[2]].map(|s| s.as_str()).join(",");
    let s = format!(r#"{{"callstack": [{shuffled}], "threadNames": ["Main"]}}"#);
    assert_eq!(folded(&pyme_json::read(s.as_bytes()).unwrap()), want);
}

#[test]
fn pyme_json_errors() {
    let e = |s: &str| pyme_json::read(s.as_bytes()).unwrap_err().to_string();
    assert!(e("").starts_with("not a PYME JSON trace: EOF while parsing"), "{}", e(""));
    assert!(e("{\"traceEvents\": []}").contains("missing field `callstack`"), "{}", e("{\"traceEvents\": []}"));
    assert!(e("[1,2]").starts_with("not a PYME JSON trace"));
    let bad_td =
        r#"{"callstack": [{"ts": 0, "tf": 1, "f": "a", "n": "b", "l": 1, "td": 3, "tl": 0, "ns": "1"}], "threadNames": ["M"]}"#;
    assert_eq!(e(bad_td), "PYME JSON: callstack[0]: thread index td=3 is not one of the 1 threadNames");
    let back =
        r#"{"callstack": [{"ts": 2, "tf": 1, "f": "a", "n": "b", "l": 1, "td": 0, "tl": 0, "ns": "1"}], "threadNames": ["M"]}"#;
    assert!(e(back).contains("ends (tf=1) before it starts (ts=2)"));
    let huge = r#"{"callstack": [{"ts": 1e300, "tf": 1e301, "f": "a", "n": "b", "l": 1, "td": 0, "tl": 0, "ns": "1"}], "threadNames": ["M"]}"#;
    assert!(e(huge).contains("out of range"));
    // Each time fits in an i64 of ns, but the span between them does not: refused, rather than
    // read into a trace with negative durations that its own .fpt decoder rejects.
    let wide = r#"{"callstack": [{"ts": -8999999999, "tf": 8999999999, "f": "a", "n": "b", "l": 0, "td": 0, "ns": 1}], "threadNames": ["M"]}"#;
    assert!(e(wide).contains("out of range"), "{}", e(wide));
    let ok = r#"{"callstack": [{"ts": -3999999999, "tf": 3999999999, "f": "a", "n": "b", "l": 0, "td": 0, "ns": 1}], "threadNames": ["M"]}"#;
    let t = pyme_json::read(ok.as_bytes()).unwrap();
    assert_eq!(t.calls.end_ns[0] - t.calls.start_ns[0], 7_999_999_998_000_000_000);
    assert_eq!(fpt::decode(&fpt::encode(&t)).unwrap(), t);
}

#[test]
fn perfetto_export() {
    let t = build_trace(recording(
        &[("Main", 11, &[(100, "+a"), (1100, "+b"), (1350, "-b"), (2000, "-a"), (2500, "+c")]), ("W\"k", 12, &[(150, "-z")])],
        100,
        3000,
    ));
    let mut out = Vec::new();
    perfetto::write(&t, &mut out).unwrap();
    assert_eq!(detect(&out), Some(Format::Perfetto));
    let v: Value = serde_json::from_slice(&out).unwrap();
    let evs = v["traceEvents"].as_array().unwrap();
    let names: Vec<_> =
        evs.iter().filter(|e| e["name"] == "thread_name").map(|e| (e["tid"].clone(), e["args"]["name"].clone())).collect();
    assert_eq!(names, vec![(json!(1), json!("Main")), (json!(2), json!("W\"k"))]);
    let xs: Vec<_> = evs.iter().filter(|e| e["ph"] == "X").collect();
    assert_eq!(xs.len(), 4);
    assert_eq!(xs[0]["name"], "a");
    assert_eq!(xs[0]["ts"], json!(0));
    assert_eq!(xs[0]["dur"], json!(1.9));
    assert_eq!(xs[1]["ts"], json!(1));
    assert_eq!(xs[1]["dur"], json!(0.25));
    assert_eq!(xs[1]["args"], json!({"file": "/src/b.py", "line": 1}));
    assert_eq!(xs[2]["args"]["unfinished"], json!(true));
    assert_eq!(xs[3]["tid"], json!(2));
    assert_eq!(xs[3]["args"]["started_before"], json!(true));
    assert_eq!(v["displayTimeUnit"], "ns");
}

#[test]
fn speedscope_export() {
    let t = build_trace(recording(
        &[("Main", 11, &[(0, "+a"), (10, "+b"), (20, "-b"), (30, "-a")]), ("W", 2, &[(5, "+b"), (6, "-b")])],
        0,
        30,
    ));
    let mut out = Vec::new();
    speedscope::write(&t, &mut out).unwrap();
    assert_eq!(detect(&out), Some(Format::Speedscope));
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(
        v["shared"]["frames"],
        json!([{"name": "a", "file": "/src/a.py", "line": 1}, {"name": "b", "file": "/src/b.py", "line": 1}])
    );
    assert_eq!(v["profiles"][0]["name"], "Main");
    assert_eq!(v["profiles"][0]["unit"], "nanoseconds");
    assert_eq!(
        v["profiles"][0]["events"],
        json!([{"type": "O", "frame": 0, "at": 0}, {"type": "O", "frame": 1, "at": 10}, {"type": "C", "frame": 1, "at": 20}, {"type": "C", "frame": 0, "at": 30}])
    );
    assert_eq!(v["profiles"][1]["events"].as_array().unwrap().len(), 2);
}

#[test]
fn detect_formats() {
    let t = pyme_text::read(PYME.as_bytes()).unwrap();
    assert_eq!(detect(&fpt::encode(&t)), Some(Format::Fpt));
    assert_eq!(detect(PYME.as_bytes()), Some(Format::PymeText));
    assert_eq!(detect(format!("\n\r\n{PYME}").as_bytes()), Some(Format::PymeText));
    assert_eq!(detect(b"1.0\tT\tf\ta\tcall"), None);
    assert_eq!(detect(b"hello world"), None);
    assert_eq!(detect(b""), None);
    assert_eq!(detect(b"{\"a\": 1}"), None);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 150, .. ProptestConfig::default() })]

    /// Every export of every built trace is valid JSON; speedscope events nest; PYME JSON reads back
    /// to the finished calls.
    #[test]
    fn exports_are_well_formed(rec in strategies::recording()) {
        let t = build_trace(rec);
        let mut out = Vec::new();
        perfetto::write(&t, &mut out).unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        let xs = v["traceEvents"].as_array().unwrap().iter().filter(|e| e["ph"] == "X").count();
        prop_assert_eq!(xs, t.calls.len());

        let mut out = Vec::new();
        speedscope::write(&t, &mut out).unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        for p in v["profiles"].as_array().unwrap() {
            let mut stack = Vec::new();
            let mut last = i64::MIN;
            for e in p["events"].as_array().unwrap() {
                let at = e["at"].as_i64().unwrap();
                prop_assert!(at >= last);
                last = at;
                if e["type"] == "O" { stack.push(e["frame"].clone()); } else { prop_assert_eq!(stack.pop(), Some(e["frame"].clone())); }
            }
            prop_assert!(stack.is_empty());
        }

        let mut out = Vec::new();
        pyme_json::write(&t, &mut out).unwrap();
        let back = pyme_json::read(&out).unwrap();
        prop_assert_eq!(check_invariants(&back), Ok(()));
        let kept = t.calls.flags.iter().filter(|f| f.0 == 0).count();
        prop_assert_eq!(back.calls.len(), kept);
    }

    #[test]
    fn pyme_json_arbitrary_input_never_panics(s in "[{}\\[\\]\":,0-9a-z. -]{0,120}") {
        let _ = pyme_json::read(s.as_bytes());
    }
}

/// The threads of `two_process_trace`, in trace order, as exports without a process level name them.
fn keyed_thread_names(t: &fprofile::Trace) -> Vec<String> {
    t.threads.iter().enumerate().map(|(i, th)| t.thread_key(i, th.name())).collect()
}

#[test]
fn thread_keys_name_the_process_only_with_several_processes() {
    let t = two_process_trace();
    let mut names = keyed_thread_names(&t);
    names.sort();
    assert_eq!(
        names,
        [
            "SpawnProcess-1 (101) / MainThread",
            "SpawnProcess-1 (101) / Worker",
            "python main.py (100) / MainThread",
            "python main.py (100) / Pool"
        ]
    );
    let mut t2 = t.clone();
    t2.processes[0].name.clear();
    t2.processes[1].pid = 0;
    assert_eq!(t2.process_label(0), "pid 100");
    assert_eq!(t2.process_label(1), "SpawnProcess-1");
    t2.processes[1].name.clear();
    assert_eq!(t2.process_label(1), "process 2");
    // one process: the thread's own name, as before processes existed
    let one = pyme_text::read(PYME.as_bytes()).unwrap();
    assert_eq!(one.thread_key(0, "MainThread"), "MainThread");
}

#[test]
fn pyme_json_keeps_processes_threads_apart() {
    let t = two_process_trace();
    let v = to_json(&t);
    assert_eq!(v["threadNames"], json!(keyed_thread_names(&t)));
    // every finished call is written with its thread's index; reading back keeps four threads
    let back = pyme_json::read(serde_json::to_vec(&v).unwrap().as_slice()).unwrap();
    check_invariants(&back).unwrap();
    assert_eq!(back.threads.len(), 4);
    let names: Vec<&str> = back.threads.iter().map(|th| th.name()).collect();
    assert_eq!(names, keyed_thread_names(&t));
    for (a, b) in t.threads.iter().zip(&back.threads) {
        assert_eq!(a.call_range.1 - a.call_range.0, b.call_range.1 - b.call_range.0);
    }
}

#[test]
fn pyme_text_keeps_processes_threads_apart() {
    let t = two_process_trace();
    let mut out = Vec::new();
    pyme_text::write(&t, &mut out).unwrap();
    let text = String::from_utf8(out.clone()).unwrap();
    assert!(text.contains("\tSpawnProcess-1 (101) / MainThread\t/src/work.py\twork\tcall\t1\n"), "{text}");
    let back = pyme_text::read(&out).unwrap();
    assert_eq!(back.threads.len(), 4, "the two MainThreads are not merged");
    // the same calls, each on its thread (named by its key), at the same absolute times
    let calls = |t: &fprofile::Trace, keyed: bool| {
        let mut v = Vec::new();
        for (ti, th) in t.threads.iter().enumerate() {
            let name = if keyed { t.thread_key(ti, th.name()) } else { th.name().to_string() };
            for i in th.call_range.0 as usize..th.call_range.1 as usize {
                let abs = |x: i64| t.origin_ns as i64 + x;
                let code = &t.codes[t.calls.code[i] as usize].name;
                v.push((
                    name.clone(),
                    code.clone(),
                    t.calls.depth[i],
                    abs(t.calls.start_ns[i]),
                    abs(t.calls.end_ns[i]),
                    t.calls.flags[i],
                ));
            }
        }
        v.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
        v
    };
    assert_eq!(calls(&back, false), calls(&t, true));
}

#[test]
fn perfetto_has_a_track_per_process() {
    let t = two_process_trace();
    let mut out = Vec::new();
    perfetto::write(&t, &mut out).unwrap();
    let v: Value = serde_json::from_slice(&out).unwrap();
    let evs = v["traceEvents"].as_array().unwrap();
    let procs: Vec<_> = evs.iter().filter(|e| e["name"] == "process_name").collect();
    assert_eq!(procs.len(), 2);
    assert_eq!(procs[0]["pid"], json!(100));
    assert_eq!(procs[0]["args"]["name"], json!("python main.py"));
    assert_eq!(procs[0]["args"]["parent_pid"], json!(7));
    assert_eq!(procs[1]["pid"], json!(101));
    assert_eq!(procs[1]["args"]["name"], json!("SpawnProcess-1"));
    assert_eq!(procs[1]["args"]["host"], json!("node-b"));
    assert_eq!(procs[1]["args"]["exit_status"], json!(0));
    assert_eq!(procs[1]["args"]["clock_offset_ns"], json!(-2_500_000_000i64));
    assert_eq!(procs[1]["args"]["clock_uncertainty_ns"], json!(1500));
    let labels: Vec<_> =
        evs.iter().filter(|e| e["name"] == "process_labels").map(|e| (e["pid"].clone(), e["args"]["labels"].clone())).collect();
    assert_eq!(labels, [(json!(100), json!("node-a")), (json!(101), json!("node-b"))]);
    // each thread under its process, tids unique over the trace
    let threads: Vec<_> = evs
        .iter()
        .filter(|e| e["name"] == "thread_name")
        .map(|e| (e["pid"].as_u64().unwrap(), e["tid"].as_u64().unwrap(), e["args"]["os_id"].as_u64().unwrap()))
        .collect();
    assert_eq!(threads.len(), 4);
    for (pid, tid, os) in &threads {
        assert_eq!(*pid, if *os > 20 { 101 } else { 100 });
        assert_eq!(t.threads[*tid as usize - 1].os_id, *os);
    }
    // every call on its thread's process track
    let xs: Vec<_> = evs.iter().filter(|e| e["ph"] == "X").collect();
    assert_eq!(xs.len(), t.calls.len());
    for x in &xs {
        let tid = x["tid"].as_u64().unwrap() as usize;
        let os = t.threads[tid - 1].os_id;
        assert_eq!(x["pid"], json!(if os > 20 { 101 } else { 100 }));
    }
    assert_eq!(xs.iter().filter(|x| x["pid"] == json!(101) && x["name"] == "step").count(), 3);
    // pids unknown or repeated: tracks numbered 1, 2 (never two processes on one track)
    let mut t2 = t.clone();
    t2.processes[1].pid = 100;
    let mut out = Vec::new();
    perfetto::write(&t2, &mut out).unwrap();
    let v: Value = serde_json::from_slice(&out).unwrap();
    let pids: Vec<_> =
        v["traceEvents"].as_array().unwrap().iter().filter(|e| e["name"] == "process_name").map(|e| e["pid"].clone()).collect();
    assert_eq!(pids, [json!(1), json!(2)]);
    // and an unaligned, incomplete process says so in its labels
    t2.processes[1].incomplete = true;
    t2.processes[1].clock.aligned = false;
    let mut out = Vec::new();
    perfetto::write(&t2, &mut out).unwrap();
    let v: Value = serde_json::from_slice(&out).unwrap();
    let l: Vec<_> = v["traceEvents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["name"] == "process_labels")
        .map(|e| e["args"]["labels"].clone())
        .collect();
    assert_eq!(l[1], json!("node-b,incomplete,clock not aligned"));
}

#[test]
fn speedscope_names_profiles_by_process() {
    let t = two_process_trace();
    let mut out = Vec::new();
    speedscope::write(&t, &mut out).unwrap();
    let v: Value = serde_json::from_slice(&out).unwrap();
    let names: Vec<String> = v["profiles"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap().to_string()).collect();
    assert_eq!(names, keyed_thread_names(&t));
    assert!(names.contains(&"SpawnProcess-1 (101) / Worker".to_string()));
    let worker = names.iter().position(|n| n == "SpawnProcess-1 (101) / Worker").unwrap();
    assert_eq!(v["profiles"][worker]["events"].as_array().unwrap().len(), 4);
}
