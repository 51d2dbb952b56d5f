//! PYME text reader: never panics; a trace it returns encodes and decodes to itself.
#![no_main]
use fprofile::formats::{fpt, pyme_text};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(t) = pyme_text::read(data) {
        let back = fpt::decode(&fpt::encode(&t)).expect("valid trace");
        assert_eq!(back, t);
        let mut out = Vec::new();
        pyme_text::write(&t, &mut out).expect("write to memory");
    }
});
