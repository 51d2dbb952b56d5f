//! A small compact file opened as a file-backed trace leaves nothing beside it: its index lives in
//! an unlinked temporary file (`fprofile::winindex::OPEN_MIN_BYTES`). Its own test binary: the
//! other file-backed tests lower the bound through the environment.
use fprofile::filetrace::FileTrace;
use fprofile::synthetic::synthetic_trace;
use fprofile::window::{query, WindowIndex};

#[test]
fn a_small_file_leaves_nothing_beside_it() {
    assert!(std::env::var_os("FPROFILE_INDEX_MIN_BYTES").is_none());
    let d = std::env::temp_dir().join(format!("fprofile-ft-small-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    let p = d.join("small.fpt");
    let t = synthetic_trace(5_000, 2, 61);
    std::fs::write(&p, fprofile::formats::fpt::encode(&t)).unwrap();
    let f = FileTrace::open(&p).unwrap();
    assert!(f.is_indexed());
    assert_eq!(f.index_path(), None);
    let left: Vec<_> = std::fs::read_dir(&d).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left, vec![std::ffi::OsString::from("small.fpt")]);
    let idx = WindowIndex::build(&t);
    let (a, b) = idx.span();
    for px in [1, 300, 1200] {
        assert_eq!(f.window(a, b, px, None), query(&t, &idx, a, b, px, None));
    }
    assert_eq!(f.overall_json().unwrap(), fprofile::summary::overall_json(&t));
    let _ = std::fs::remove_dir_all(&d);
}
