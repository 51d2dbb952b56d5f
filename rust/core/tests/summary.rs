//! Summaries: totals with recursion, self times, per thread and overall, ordering, JSON schema.
mod common;
use common::*;
use fprofile::calltree::build_trace;
use fprofile::summary::{summarize, summary_json};

#[test]
fn recursion_counts_outermost_only() {
    // f(0..100) -> f(10..60) -> g(20..30); g(70..80) under f
    let rec = recording(
        &[("M", 1, &[(0, "+f"), (10, "+f"), (20, "+g"), (30, "-g"), (60, "-f"), (70, "+g"), (80, "-g"), (100, "-f")])],
        0,
        100,
    );
    let s = summarize(&build_trace(rec));
    let f = s.overall.iter().find(|r| r.function == "f").unwrap();
    assert_eq!((f.calls, f.total_ns, f.self_ns, f.max_ns, f.mean_ns), (2, 100, 80, 100, 75));
    let g = s.overall.iter().find(|r| r.function == "g").unwrap();
    assert_eq!((g.calls, g.total_ns, g.self_ns, g.max_ns, g.mean_ns), (2, 20, 20, 10, 10));
    // self times add up to the time inside recorded calls
    assert_eq!(f.self_ns + g.self_ns, 100);
    assert_eq!(s.overall[0].function, "f");
    assert_eq!(f.file, "/src/f.py");
    assert_eq!(f.line, 1);
}

#[test]
fn per_thread_and_overall() {
    let rec =
        recording(&[("A", 1, &[(0, "+x"), (50, "-x")]), ("B", 2, &[(10, "+x"), (20, "+y"), (25, "-y"), (30, "-x")])], 0, 50);
    let s = summarize(&build_trace(rec));
    assert_eq!(s.threads.len(), 2);
    assert_eq!(s.threads[0].name, "A");
    assert_eq!(s.threads[1].thread, 1);
    assert_eq!(
        s.threads[1].rows.iter().map(|r| (r.function.as_str(), r.total_ns, r.self_ns)).collect::<Vec<_>>(),
        vec![("x", 20, 15), ("y", 5, 5)]
    );
    let x = &s.overall[0];
    assert_eq!((x.function.as_str(), x.calls, x.total_ns, x.self_ns, x.max_ns), ("x", 2, 70, 65, 50));
}

#[test]
fn json_schema() {
    let rec = recording(&[("A", 1, &[(0, "+x"), (50, "-x")])], 0, 50);
    let v: serde_json::Value = serde_json::from_str(&summary_json(&build_trace(rec))).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"overall": [{"code": 0, "function": "x", "file": "/src/x.py", "line": 1, "calls": 1,
            "total_ns": 50, "self_ns": 50, "mean_ns": 50, "max_ns": 50}],
            "processes": [{"process": 0, "pid": 0, "name": "", "rows": [{"code": 0, "function": "x", "file": "/src/x.py", "line": 1,
            "calls": 1, "total_ns": 50, "self_ns": 50, "mean_ns": 50, "max_ns": 50}]}],
            "threads": [{"thread": 0, "process": 0, "name": "A", "rows": [{"code": 0, "function": "x", "file": "/src/x.py", "line": 1,
            "calls": 1, "total_ns": 50, "self_ns": 50, "mean_ns": 50, "max_ns": 50}]}]})
    );
}

#[test]
fn empty_trace() {
    let s = summarize(&fprofile::Trace::default());
    assert!(s.overall.is_empty() && s.threads.is_empty() && s.processes.is_empty());
}

#[test]
fn per_process_rows_follow_the_overall_rules() {
    let t = two_process_trace();
    let s = summarize(&t);
    assert_eq!(s.processes.len(), 2);
    let (parent, child) = (&s.processes[0], &s.processes[1]);
    assert_eq!((parent.process, parent.pid, parent.name.as_str()), (0, 100, "python main.py"));
    assert_eq!((child.process, child.pid, child.name.as_str()), (1, 101, "SpawnProcess-1"));
    let figures = |rows: &[fprofile::summary::Row]| -> Vec<(String, u64, u64, u64)> {
        rows.iter().map(|r| (r.function.clone(), r.calls, r.total_ns, r.self_ns)).collect()
    };
    // the child: work 170..210 us containing step 180..200 (MainThread), step 175..185 and 190..230 (Worker)
    assert_eq!(figures(&child.rows), [("step".to_string(), 3, 70_000, 70_000), ("work".to_string(), 1, 40_000, 20_000)]);
    assert_eq!(
        figures(&parent.rows),
        [
            ("main".to_string(), 1, 200_000, 30_000),
            ("wait".to_string(), 1, 130_000, 130_000),
            ("load".to_string(), 1, 40_000, 40_000),
            ("feed".to_string(), 1, 20_000, 20_000)
        ]
    );
    // each thread names its process; overall = the processes together
    for th in &s.threads {
        assert_eq!(th.process, t.threads[th.thread as usize].process);
    }
    let calls: u64 = s.overall.iter().map(|r| r.calls).sum();
    let by_process: u64 = s.processes.iter().flat_map(|p| &p.rows).map(|r| r.calls).sum();
    assert_eq!(calls, by_process);
    let v: serde_json::Value = serde_json::from_str(&summary_json(&t)).unwrap();
    assert_eq!(v["processes"][1]["pid"], 101);
    assert_eq!(v["processes"][1]["rows"][0]["function"], "step");
    assert_eq!(v["threads"].as_array().unwrap().iter().filter(|th| th["process"] == 1).count(), 2);
    // what the widget and the HTML export send: the overall rows alone
    let o: serde_json::Value = serde_json::from_str(&fprofile::summary::overall_json(&t)).unwrap();
    assert_eq!(o, serde_json::json!({ "overall": v["overall"] }));
    // a process with no thread has no rows
    let mut t2 = t.clone();
    t2.processes.push(process(102, "idle", 0, 10));
    assert_eq!(summarize(&t2).processes[2].rows, []);
}

#[test]
fn process_titles() {
    use fprofile::summary::{title, Scope, SortKey};
    let t = two_process_trace();
    assert_eq!(
        title(&Scope::Process(1, t.process_label(1), 2), 2, SortKey::Total),
        "Summary of process 1 \"SpawnProcess-1 (101)\", 2 threads: 2 functions, by total time"
    );
    assert_eq!(
        title(&Scope::Process(0, "a\nb".into(), 1), 1, SortKey::Calls),
        "Summary of process 0 \"a\\nb\", 1 thread: 1 function, by calls"
    );
}
