//! The `.fpt` binary trace format, version 2 (version 1 still read): the specification is
//! `docs/format.md`.
//!
//! [`encode`] writes a [`Trace`] (the body zlib-compressed, always version 2); [`decode`] reads one
//! back (version 1 or 2; a version-1 file is one process with pid 0), checking
//! every constraint of the spec. The decoder never panics, never loops without consuming input and
//! never allocates from a count it has not checked against the bytes left: every error names what is
//! wrong and the byte offset (in the file for the header and the zlib stream, in the decompressed
//! body otherwise).
//!
//! Encoding is deterministic: `encode(&decode(&encode(t))?) == encode(t)`.
//!
//! [`walk_file`] reads a file's calls as events without holding them (four forward cursors over
//! the body, `Walk`): what summaries of files of any length use (`load::outline`).
//!
//! [`encode`] (the writer), [`decode`] (the reader, parsing the body as it is inflated) and
//! [`walk`] (the walker) stand on the shared codec ([`crate::formats::codec`]: varints, planes,
//! zlib); this module holds the header's constants and what the three share.

mod decode;
mod encode;
pub mod walk;

pub use crate::formats::codec::{FptError, PROGRESS_STEP};
pub use decode::{decode, decode_body, decode_body_limited, decode_from, decode_limited, parse_body, parse_body_version};
pub(crate) use encode::encode_body_with;
pub use encode::{encode, encode_body, encode_with_level};
pub use walk::{walk_file, EventVisitor};

/// File magic: ASCII `FPRF`.
pub const MAGIC: [u8; 4] = *b"FPRF";
/// The version this module writes (it reads this one and [`VERSION_1`]).
pub const VERSION: u16 = 2;
/// The first version: no process table, no bands (read as one process with pid 0).
pub const VERSION_1: u16 = 1;
/// Process flag: its trace is incomplete.
pub const PROCESS_INCOMPLETE: u64 = 1;
/// Process flag: an exit status follows.
pub const PROCESS_EXIT_KNOWN: u64 = 2;
/// Process flag: its clock offset could not be measured (shown on its own clock).
pub const PROCESS_CLOCK_UNALIGNED: u64 = 4;
/// Header size in bytes.
pub const HEADER_LEN: usize = 16;
/// Header flag: the body is a zlib stream.
pub const FLAG_ZLIB: u16 = 1;
/// Largest body a reader accepts (2 GiB).
pub const MAX_BODY_LEN: u64 = 2 << 30;
/// zlib level used by [`encode`] (measured in `benchmarks/results/formats.md`).
pub const ZLIB_LEVEL: u32 = 6;

const _: () = assert!(HEADER_LEN == 4 + 2 + 2 + 8);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Trace;

    #[test]
    fn empty_trace_round_trips() {
        let t = Trace::default();
        let b = encode(&t);
        assert_eq!(&b[..4], b"FPRF");
        assert_eq!(decode(&b).unwrap(), t);
    }
}
