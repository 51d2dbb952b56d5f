//! What a writer writes, its reader loads: traces with no calls and with extreme times, through
//! every format that is both written and read (.fpt, PYME raw text, PYME JSON).
mod common;
use common::*;
use fprofile::formats::{fpt, pyme_json, pyme_text};
use fprofile::{calltree::build_trace, load::load_bytes_with, Trace};

fn written(t: &Trace) -> Vec<(&'static str, Vec<u8>)> {
    let mut text = Vec::new();
    pyme_text::write(t, &mut text).unwrap();
    let mut json = Vec::new();
    pyme_json::write(t, &mut json).unwrap();
    vec![("fpt", fpt::encode(t)), ("pyme-text", text), ("pyme-json", json)]
}

fn format(name: &str) -> fprofile::formats::Format {
    match name {
        "fpt" => fprofile::formats::Format::Fpt,
        "pyme-text" => fprofile::formats::Format::PymeText,
        _ => fprofile::formats::Format::PymeJson,
    }
}

#[test]
fn a_trace_with_no_calls_loads_back_from_every_format() {
    let t = Trace::default();
    for (name, bytes) in written(&t) {
        let back = load_bytes_with(&bytes, Some(format(name)), &mut |_, _| {}).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(back.calls.len(), 0, "{name}");
    }
    // and from a file named .txt, whose format is told by its name when it is empty
    let dir = std::env::temp_dir().join(format!("fprofile-extremes-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("nothing.txt");
    let mut text = Vec::new();
    pyme_text::write(&t, &mut text).unwrap();
    std::fs::write(&p, &text).unwrap();
    assert_eq!(fprofile::load(&p).unwrap().calls.len(), 0);
}

#[test]
fn traces_with_extreme_times_load_back_from_every_format() {
    let m = u64::MAX;
    let cases: Vec<(u64, u64, u64, u64)> = vec![
        // (call, return, start_ns, stop_ns)
        (1, m - 1, 0, 0),
        (m - 10, m - 1, 0, 0),
        (0, m, 0, 0),
        (5, 10, m, 0),
        (m / 2, m / 2 + 1, 1, m),
        (9_999_999_999_000_000_000, 9_999_999_999_999_999_999, 0, 0),
    ];
    for (a, b, start, stop) in cases {
        let t = build_trace(recording(&[("T", 1, &[(a, "+f"), (b, "-f")]), ("U", 2, &[(b, "+g"), (b, "-g")])], start, stop));
        check_invariants(&t).unwrap();
        for (name, bytes) in written(&t) {
            let back = load_bytes_with(&bytes, Some(format(name)), &mut |_, _| {})
                .unwrap_or_else(|e| panic!("{name} of times {a}..{b} (start {start}, stop {stop}): {e}"));
            check_invariants(&back).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(back.calls.len(), t.calls.len(), "{name}");
        }
    }
}
