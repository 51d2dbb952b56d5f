//! PYME raw text: reading ours and PYME's files, every error path, writing, round trips.
mod common;
use common::*;
use fprofile::calltree::build_trace;
use fprofile::formats::pyme_text::{read, read_with_progress, write, TextError};
use proptest::prelude::*;

fn err(s: &str) -> String {
    read(s.as_bytes()).unwrap_err().to_string()
}

#[test]
fn reads_pyme_file() {
    let t = read(PYME.as_bytes()).unwrap();
    check_invariants(&t).unwrap();
    assert_eq!(t.origin_ns, 12_000_100_000);
    assert_eq!(folded(&t), vec!["MainThread;load 0 900000", "MainThread;load;parse 100000 300000", "Worker;run 200000 800000"]);
    assert_eq!(t.codes[0].file, "/home/u/PYME/io/x.py");
    assert_eq!(t.codes[0].first_line, 42);
    assert_eq!(t.threads[1].lane, 1);
    assert_eq!(t.threads[0].os_id, 0);
}

#[test]
fn crlf_blank_lines_and_unterminated_last_line() {
    let s = "1.5\tT\tf.py\ta\tcall\t1\r\n\n1.75\tT\tf.py\ta\treturn\t1";
    let t = read(s.as_bytes()).unwrap();
    assert_eq!(folded(&t), vec!["T;a 0 250000000"]);
    // a last line cut short (no newline, does not parse: a process killed while writing) is left
    // out: the rest loads, and the trace says what was left out
    for (s, what) in [
        ("1.5\tT\tf.py\ta\tcall\t1\n1.7\tT\tf.p", "expected 6 tab-separated fields, found 3"),
        ("1.5\tT\tf.py\ta\tcall\t1\n1.7\tT\tf.py\ta\tret", "expected 6 tab-separated fields, found 5"),
        ("1.5\tT\tf.py\ta\tcall\t1\n1.7\tT\tf.py\ta\treturn\t", "first line number \"\" is not a non-negative integer"),
        ("1.5\tT\tf.py\ta\tcall\t1\n1.", "expected 6 tab-separated fields, found 1"),
    ] {
        let t = read(s.as_bytes()).unwrap_or_else(|e| panic!("{s:?}: {e}"));
        assert_eq!(folded(&t), vec!["T;a 0 0 U"], "{s:?}");
        let warning = t.metadata.iter().find(|(k, _)| k == fprofile::formats::pyme_text::CUT_WARNING).map(|(_, v)| v.clone());
        let warning = warning.unwrap_or_else(|| panic!("{s:?}: no warning"));
        assert!(warning.starts_with(&format!("the file ends inside line 2 ({what})")), "{warning}");
    }
    // the same in a file read in pieces and segments
    let mut big = String::new();
    for i in 0..300_000u64 {
        big.push_str(&format!(
            "{}.{:06}\tT\tf.py\ta\t{}\t1\n",
            1 + i / 1_000_000,
            i % 1_000_000,
            if i % 2 == 0 { "call" } else { "return" }
        ));
    }
    big.push_str("2.5\tT\tf.py\ta\tca");
    let dir = std::env::temp_dir().join(format!("fprofile-cut-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("cut.txt");
    std::fs::write(&p, &big).unwrap();
    for threads in [1, 4] {
        let t = fprofile::formats::pyme_text::read_file_with_threads(&p, threads, &mut |_, _| {}).unwrap();
        assert_eq!(t.calls.len(), 150_000);
        let w = t.metadata.iter().find(|(k, _)| k == fprofile::formats::pyme_text::CUT_WARNING).unwrap();
        assert!(w.1.starts_with("the file ends inside line 300001 "), "{}", w.1);
    }
    // a file holding nothing but one broken line is an error naming it (nothing to keep)
    assert_eq!(err("1.7\tT\tf.p"), "line 1: expected 6 tab-separated fields, found 3");
}

#[test]
fn errors_name_the_line() {
    assert_eq!(read(b""), Err(TextError::Empty));
    assert_eq!(err("\n\n  \n"), "empty file: no events");
    assert_eq!(err("1.0\tT\tf\ta\tcall\t1\n1.0\tT\tf\tcall\t1\n"), "line 2: expected 6 tab-separated fields, found 5");
    assert_eq!(err("1.0\tT\tf\ta\tcall\t1\t9\n"), "line 1: expected 6 tab-separated fields, found 7");
    assert_eq!(err("x1.0\tT\tf\ta\tcall\t1\n"), "line 1: time \"x1.0\" is not a number of seconds");
    assert_eq!(err("1.0\tT\tf\ta\tcall\t1\n.\tT\tf\ta\tcall\t1\n"), "line 2: time \".\" is not a number of seconds");
    assert_eq!(err("99999999999999.0\tT\tf\ta\tcall\t1\n"), "line 1: time \"99999999999999.0\" is not a number of seconds");
    assert_eq!(err("1.0\tT\tf\ta\tcall\t-1\n"), "line 1: first line number \"-1\" is not a non-negative integer");
    assert_eq!(
        err("1.0\tT\tf\ta\tcall\t99999999999\n"),
        "line 1: first line number \"99999999999\" is not a non-negative integer"
    );
    assert_eq!(err("1.0\tT\tf\ta\tc_call\t1\n"), "line 1: event \"c_call\" is neither \"call\" nor \"return\"");
    // binary garbage
    let e = read(b"\x00\x01\x02\xff\n").unwrap_err().to_string();
    assert_eq!(e, "line 1: expected 6 tab-separated fields, found 1");
}

#[test]
fn times_parse_exactly() {
    let t = read(b"3\tT\tf\ta\tcall\t1\n3.1234567891\tT\tf\ta\treturn\t1\n").unwrap();
    assert_eq!(t.origin_ns, 3_000_000_000);
    assert_eq!(t.calls.end_ns[0], 123_456_789);
}

#[test]
fn escapes_in_names_not_in_paths() {
    let s = "1.0\tmy\\tthread\tC:\\new\\tools.py\tf\\nx\tcall\t1\n2.0\tmy\\tthread\tC:\\new\\tools.py\tf\\nx\treturn\t1\n";
    let t = read(s.as_bytes()).unwrap();
    assert_eq!(t.threads[0].name(), "my\tthread");
    assert_eq!(t.codes[0].name, "f\nx");
    assert_eq!(t.codes[0].file, "C:\\new\\tools.py");
}

#[test]
fn same_name_is_one_thread_out_of_order_sorted() {
    let s =
        "1.000003\tT\tf\tb\treturn\t1\n1.000001\tT\tf\ta\tcall\t1\n1.000002\tT\tf\tb\tcall\t1\n1.000004\tT\tf\ta\treturn\t1\n";
    let t = read(s.as_bytes()).unwrap();
    assert_eq!(t.threads.len(), 1);
    assert_eq!(folded(&t), vec!["T;a 0 3000", "T;a;b 1000 2000"]);
}

#[test]
fn progress_reaches_total() {
    let mut calls = Vec::new();
    read_with_progress(PYME.as_bytes(), &mut |d, t| calls.push((d, t))).unwrap();
    assert_eq!(calls.last(), Some(&(PYME.len(), PYME.len())));
}

#[test]
fn write_matches_input_and_keeps_flags() {
    let t = read(PYME.as_bytes()).unwrap();
    let mut out = Vec::new();
    write(&t, &mut out).unwrap();
    assert_eq!(String::from_utf8(out).unwrap(), PYME);

    // started-before and unfinished calls survive a text round trip
    let rec = recording(&[("M", 1, &[(1000, "+b"), (2000, "-b"), (3000, "-a"), (4000, "+c")])], 1000, 4000);
    let t = build_trace(rec);
    let mut out = Vec::new();
    write(&t, &mut out).unwrap();
    let back = read(&out).unwrap();
    assert_eq!(folded(&back), folded(&t));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, .. ProptestConfig::default() })]

    /// Trace -> text -> trace keeps the trees (µs times, distinct thread names).
    #[test]
    fn text_round_trip(rec in strategies::recording()) {
        let mut rec = rec;
        for (i, th) in rec.threads.iter_mut().enumerate() {
            th.names = vec![(0, format!("T{i}\tx"))];
            for c in th.chunks.iter_mut() {
                for e in c.iter_mut() { e.t_ns *= 1000; }
            }
        }
        rec.start_ns = 0;
        rec.stop_ns = 0;
        let t = build_trace(rec);
        let mut out = Vec::new();
        write(&t, &mut out).unwrap();
        if t.calls.is_empty() {
            // threads with only unmatched returns at one instant still write lines
            return Ok(());
        }
        let back = read(&out).unwrap();
        prop_assert_eq!(folded(&back), folded(&t));
        prop_assert_eq!(back.origin_ns, t.origin_ns);
    }

    /// Lines of different threads interleaved in any order (each thread's own order kept) give
    /// the same trees.
    #[test]
    fn interleaving_of_thread_lines_does_not_matter(rec in strategies::recording(), seed in any::<u64>()) {
        let mut rec = rec;
        for (i, th) in rec.threads.iter_mut().enumerate() {
            th.names = vec![(0, format!("T{i}"))];
        }
        let t = build_trace(rec);
        let mut out = Vec::new();
        write(&t, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        if lines.is_empty() {
            return Ok(());
        }
        // per-thread queues, then a random merge
        let mut queues: std::collections::BTreeMap<&str, std::collections::VecDeque<&str>> = Default::default();
        for l in &lines {
            queues.entry(l.split('\t').nth(1).unwrap()).or_default().push_back(l);
        }
        let mut x = seed | 1;
        let mut shuffled = String::new();
        while queues.values().any(|q| !q.is_empty()) {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            let live: Vec<_> = queues.keys().copied().filter(|k| !queues[k].is_empty()).collect();
            let k = live[(x % live.len() as u64) as usize];
            shuffled.push_str(queues.get_mut(k).unwrap().pop_front().unwrap());
            shuffled.push('\n');
        }
        let a = read(text.as_bytes()).unwrap();
        let b = read(shuffled.as_bytes()).unwrap();
        let (mut fa, mut fb) = (folded(&a), folded(&b));
        fa.sort();
        fb.sort();
        prop_assert_eq!(fa, fb);
    }

    #[test]
    fn arbitrary_text_never_panics(s in "[0-9a-z.\t\n\\\\ ]{0,200}") {
        let _ = read(s.as_bytes());
    }
}

#[test]
fn read_file_matches_read_and_reports_io_errors() {
    let dir = std::env::temp_dir().join(format!("fprofile-b1-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("t.txt");
    // many lines so that the 4 MiB pieces split lines, plus a final line without a newline
    let mut s = String::new();
    for i in 0..120_000u64 {
        s.push_str(&format!("{}.{:06}\tMainThread\t/home/u/PYME/io/x.py\tload\tcall\t42\n", 10 + i / 1_000_000, i % 1_000_000));
        s.push_str(&format!("{}.{:06}\tMainThread\t/home/u/PYME/io/x.py\tload\treturn\t42\n", 10 + i / 1_000_000, i % 1_000_000));
    }
    s.push_str("11.000000\tW\tf\tg\tcall\t1");
    std::fs::write(&path, &s).unwrap();
    let mut last = (0, 0);
    let a = fprofile::formats::pyme_text::read_file(&path, &mut |d, t| last = (d, t)).unwrap();
    assert_eq!(last, (s.len(), s.len()));
    assert_eq!(a, read(s.as_bytes()).unwrap());
    assert_eq!(a.calls.len(), 120_001);
    // an error far into the file names its line
    s.push_str("\nbad line\n");
    std::fs::write(&path, &s).unwrap();
    let e = fprofile::formats::pyme_text::read_file(&path, &mut |_, _| {}).unwrap_err().to_string();
    assert_eq!(e, "line 240002: expected 6 tab-separated fields, found 1");
    let e = fprofile::formats::pyme_text::read_file(&dir.join("missing.txt"), &mut |_, _| {}).unwrap_err().to_string();
    assert!(e.starts_with("cannot read ") && e.contains("missing.txt"), "{e}");
    std::fs::remove_dir_all(&dir).ok();
}
