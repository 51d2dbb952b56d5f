//! `.fpt` decoder: never panics; whatever decodes is a valid trace that re-encodes and decodes
//! to itself. Inputs are tried both as whole files and as raw (uncompressed) bodies.
#![no_main]
use fprofile::formats::fpt;
use libfuzzer_sys::fuzz_target;

fn check(t: fprofile::Trace) {
    let again = fpt::encode(&t);
    let back = fpt::decode(&again).expect("a decoded trace re-encodes to a valid file");
    assert_eq!(back, t);
    let _ = fprofile::summary::summarize(&t);
}

fuzz_target!(|data: &[u8]| {
    if let Ok(t) = fpt::decode(data) {
        check(t);
    }
    if let Ok(t) = fpt::parse_body(data) {
        check(t);
    }
});
