//! PYME JSON reader: never panics; a trace it returns encodes and decodes to itself.
#![no_main]
use fprofile::formats::{fpt, pyme_json};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(t) = pyme_json::read(data) {
        let back = fpt::decode(&fpt::encode(&t)).expect("valid trace");
        assert_eq!(back, t);
    }
});
