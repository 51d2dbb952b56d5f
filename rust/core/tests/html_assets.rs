//! The embedded timeline assets, the HTML export and the evcxr display.

use fprofile::assets::{bundle, css, HOSTS};
use fprofile::escape::html_escape;
use fprofile::formats::{fpt, html};
use fprofile::model::{Band, ClockAlignment, ProcessInfo};
use fprofile::{CallFlags, Calls, Code, ThreadInfo, Trace};

const EVIL: &str = "<img src=x onerror=alert(1)></script><script>alert(2)</script>";

/// Two threads in two processes (the second incomplete, killed, on a clock that could not be
/// aligned, with a task band); a function, a thread, a process and a band named with markup; a
/// unicode name.
fn sample() -> Trace {
    let codes = vec![
        Code { file: "/app/main.py".into(), name: "main".into(), first_line: 1 },
        Code { file: "/app/work.py".into(), name: EVIL.into(), first_line: 10 },
        Code { file: "/app/ünï.py".into(), name: "step_λ".into(), first_line: 20 },
    ];
    let threads = vec![
        ThreadInfo {
            os_id: 1001,
            names: vec![(0, "MainThread".into())],
            first_ns: 0,
            last_ns: 1000,
            lane: 0,
            process: 0,
            call_range: (0, 4),
        },
        ThreadInfo {
            os_id: 1002,
            names: vec![(200, format!("worker {EVIL}"))],
            first_ns: 200,
            last_ns: 800,
            lane: 1,
            process: 1,
            call_range: (4, 5),
        },
    ];
    let calls = Calls {
        start_ns: vec![0, 10, 20, 600, 200],
        end_ns: vec![1000, 500, 100, 990, 800],
        code: vec![0, 1, 2, 1, 2],
        depth: vec![0, 1, 2, 1, 0],
        parent: vec![u32::MAX, 0, 1, 0, u32::MAX],
        flags: vec![CallFlags(0), CallFlags(0), CallFlags(0), CallFlags(CallFlags::UNFINISHED), CallFlags(0)],
    };
    let processes = vec![
        ProcessInfo {
            pid: 4000,
            parent_pid: 1,
            name: "python main.py".into(),
            host: "lab-1".into(),
            start_ns: 0,
            end_ns: 1000,
            exit_status: Some(0),
            clock: ClockAlignment::default(),
            incomplete: false,
        },
        ProcessInfo {
            pid: 4001,
            parent_pid: 4000,
            name: format!("worker {EVIL}"),
            host: "lab-2".into(),
            start_ns: 150,
            end_ns: 850,
            exit_status: Some(-9),
            clock: ClockAlignment { offset_ns: -1500, uncertainty_ns: 20, aligned: false },
            incomplete: true,
        },
    ];
    let bands = vec![Band { thread: 1, start_ns: 190, end_ns: 810, label: format!("task {EVIL}") }];
    let metadata = vec![("subs".into(), "app/".into())];
    Trace { origin_ns: 5_000_000_000, codes, threads, calls, metadata, processes, bands }
}

#[test]
fn bundles_are_single_modules_without_imports() {
    for host in HOSTS {
        let js = bundle(host).unwrap_or_else(|| panic!("no bundle for {host}"));
        assert!(js.contains("function createTimeline("), "{host}");
        assert!(js.contains("function decodeFpt("), "{host}");
        for (n, line) in js.lines().enumerate() {
            assert!(!line.trim_start().starts_with("import "), "{host}: import left at line {n}: {line}");
        }
        assert!(!js.to_ascii_lowercase().contains("</script"), "{host}: the bundle must not contain </script");
    }
    assert!(bundle("widget").unwrap().contains("export default"));
    // every host lives in js/hosts/ and comes last, after the timeline's modules
    for host in HOSTS {
        let js = bundle(host).unwrap();
        let host_at =
            js.find(&format!("// ---- js/hosts/{host}.js ----")).unwrap_or_else(|| panic!("{host}: no js/hosts/{host}.js"));
        assert!(js.find("// ---- js/timeline.js ----").unwrap() < host_at, "{host}");
        assert!(js.contains("class Viewport"), "{host}");
    }
    assert!(bundle("viewer").unwrap().contains("startViewerPage()"));
    assert!(bundle("export").unwrap().contains("startExportPage()"));
    assert!(bundle("nope").is_none());
    assert!(bundle("").is_none());
}

#[test]
fn css_is_the_timeline_stylesheet() {
    let c = css();
    assert!(c.contains(".fprofile-root"));
    assert!(c.contains("--jp-layout-color0"));
}

#[test]
fn html_export_is_self_contained_and_escaped() {
    let t = sample();
    let page = html::to_html(&t, "My <b>trace</b> & \"more\"");
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.contains("<title>My &lt;b&gt;trace&lt;/b&gt; &amp; &quot;more&quot;</title>"));
    assert!(!page.contains("<b>trace"));
    // No markup from the trace: names only appear inside the JSON summary, escaped.
    assert!(!page.contains("<img"));
    assert!(!page.contains("onerror=alert(1)></script>"));
    assert!(page.contains("\\u003cimg src=x onerror=alert(1)\\u003e"));
    // Exactly our three scripts open and close.
    assert_eq!(page.matches("<script").count(), 3);
    assert_eq!(page.matches("</script>").count(), 3);
    // No network: no URL to fetch anything from, and a CSP that forbids it.
    assert!(page.contains("default-src 'none'"));
    for bad in ["http://", "https://", "src=\"", "href=\""] {
        assert!(!page.contains(bad), "{bad}");
    }
    // The data is the fpt encoding, and decodes back to the trace.
    let start = page.find("id=\"fprofile-data\">").unwrap() + "id=\"fprofile-data\">".len();
    let end = start + page[start..].find("</script>").unwrap();
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD.decode(&page[start..end]).unwrap();
    assert_eq!(bytes, fpt::encode(&t));
    assert_eq!(fpt::decode(&bytes).unwrap(), t);
    // The summary JSON is the Rust summary's overall rows, and only them (the page computes the
    // per-process and per-thread rows from the trace).
    let s0 = page.find("id=\"fprofile-summary\">").unwrap() + "id=\"fprofile-summary\">".len();
    let s1 = s0 + page[s0..].find("</script>").unwrap();
    let parsed: serde_json::Value = serde_json::from_str(&page[s0..s1]).unwrap();
    let full: serde_json::Value = serde_json::from_str(&fprofile::summary::summary_json(&t)).unwrap();
    assert_eq!(parsed, serde_json::json!({ "overall": full["overall"] }));
    assert!(!full["overall"].as_array().unwrap().is_empty());
}

#[test]
fn json_for_script_keeps_the_value() {
    let j = r#"{"a":"</script><!-- & > \u2028"}"#;
    let e = html::json_for_script(j);
    assert!(!e.contains('<') && !e.contains('>') && !e.contains('&'));
    let a: serde_json::Value = serde_json::from_str(j).unwrap();
    let b: serde_json::Value = serde_json::from_str(&e).unwrap();
    assert_eq!(a, b);
}

#[test]
fn evcxr_mime_bundle_is_exact() {
    let t = sample();
    let out = t.evcxr_content();
    let expected_html = format!(
        "<iframe class=\"fprofile-frame\" title=\"fprofile timeline\" style=\"width:100%;height:760px;border:0\" srcdoc=\"{}\"></iframe>",
        html_escape(&html::to_html(&t, "fprofile trace"))
    );
    // the timeline, then the static picture (evcxr gathers both into one output's mime bundle)
    use base64::Engine;
    let png = fprofile::formats::png::to_png(&t, "fprofile trace", 960).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&png);
    assert_eq!(
        out,
        format!(
            "EVCXR_BEGIN_CONTENT text/html\n{expected_html}\nEVCXR_END_CONTENT\nEVCXR_BEGIN_CONTENT image/png\n{b64}\nEVCXR_END_CONTENT\n"
        )
    );
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
    // evcxr reads the content between the markers line by line: the protocol lines must be alone.
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.first(), Some(&"EVCXR_BEGIN_CONTENT text/html"));
    assert_eq!(lines.iter().filter(|l| l.starts_with("EVCXR_BEGIN_CONTENT")).count(), 2);
    assert_eq!(lines.last(), Some(&"EVCXR_END_CONTENT"));
    assert_eq!(out.matches("EVCXR_END_CONTENT").count(), 2);
    // The frame's srcdoc holds no raw quote or markup that could end the attribute.
    let inner = &expected_html["<iframe ".len()..];
    let srcdoc = &inner[inner.find("srcdoc=\"").unwrap() + 8..inner.rfind("\"></iframe>").unwrap()];
    assert!(!srcdoc.contains('"') && !srcdoc.contains('<'));
}

/// The fixture `tests/js/fixtures/rust_sample.fpt`, decoded by the JS decoder in
/// `tests/js/crosscheck.test.mjs`: written by this encoder. Regenerate with
/// `FPROFILE_REGEN_FIXTURES=1 cargo test -p fprofile --test html_assets`.
#[test]
fn js_crosscheck_fixture_is_current() {
    let bytes = fpt::encode(&sample());
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/js/fixtures/rust_sample.fpt");
    if std::env::var_os("FPROFILE_REGEN_FIXTURES").is_some() {
        std::fs::write(path, &bytes).unwrap();
    }
    let on_disk = std::fs::read(path).expect("fixture missing: run with FPROFILE_REGEN_FIXTURES=1");
    assert_eq!(on_disk, bytes, "the Rust encoder changed: regenerate the fixture (FPROFILE_REGEN_FIXTURES=1)");
}
