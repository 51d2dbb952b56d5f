//! The streamed `.fpt` container (magic `FPST`): a recording written to disk while it runs, in
//! self-contained compressed chunks (specification: `docs/format.md`, "Streamed files").
//!
//! The hook's writer thread builds chunks with an [`Encoder`] (no I/O here: it appends framed
//! chunks to a buffer the caller writes) every round; [`read`] turns the chunks back into a
//! [`Recording`] and [`decode`] into a [`Trace`] ([`crate::calltree::build_trace`]); a [`Scanner`]
//! reads a file one chunk at a time, handing each chunk's events over (the stop's compaction,
//! `crate::record::compact`, which never holds the run). A file whose end
//! chunk is missing (the process was killed, called `os._exit`, the disk filled up) loads with
//! every whole chunk and a `warning.stream_end_missing` entry in its metadata; a last chunk cut
//! short or damaged (its checksum does not match) is dropped with `warning.stream_last_chunk`;
//! anything wrong before the last chunk is an error that names the chunk and its byte offset.
//!
//! The flight recorder keeps the same chunks in memory (`keep_last`): [`read_window`] reads them
//! keeping only the events at or after a time, so that calls begun before it come out as begun
//! before the recording ([`crate::CallFlags::STARTED_BEFORE`]).

use crate::model::Trace;

mod encode;
mod read;

pub(crate) use encode::apply;
pub use encode::Encoder;
pub(crate) use read::read_window_from;
pub use read::{build, chunks, decode, decode_limited, read, read_window, ChunkInfo, Scanner, StreamRead};

/// File magic: ASCII `FPST` ("fprofile stream").
pub const MAGIC: [u8; 4] = *b"FPST";
/// The version this module writes and reads.
pub const VERSION: u16 = 1;
/// File header: magic, version, flags (reserved, 0).
pub const HEADER_LEN: usize = 8;
/// Chunk header: kind `u8`, flags `u8`, reserved `u16`, stored length `u32`, raw length `u32`,
/// CRC-32 `u32` of the header's first 12 bytes and the stored payload.
pub const CHUNK_HEADER_LEN: usize = 16;
/// Largest payload a compressed chunk may inflate to (a stored chunk is as large as it is).
pub const MAX_CHUNK_RAW: usize = 64 << 20;
/// Chunk flag: the payload is a zlib stream.
pub const CHUNK_ZLIB: u8 = 1;
/// zlib level of the chunks (a round's chunk is compressed by the writer thread, off the hot path).
pub const ZLIB_LEVEL: u32 = 1;

const _: () = assert!(HEADER_LEN == 4 + 2 + 2);
const _: () = assert!(CHUNK_HEADER_LEN == 1 + 1 + 2 + 4 + 4 + 4);

/// Chunk kinds.
pub mod kind {
    /// The recording process: pid, parent pid, start time, host, name.
    pub const PROCESS: u8 = 1;
    /// Metadata pairs (appended to those before).
    pub const METADATA: u8 = 2;
    /// Codes added since the last chunk.
    pub const CODES: u8 = 3;
    /// Threads and thread names added since the last chunk.
    pub const THREADS: u8 = 4;
    /// Events of one round, per thread.
    pub const EVENTS: u8 = 5;
    /// The process's name (replaces the one of the process chunk).
    pub const PROCESS_NAME: u8 = 6;
    /// Written at a clean stop: the stop time.
    pub const END: u8 = 7;
    /// A whole `.fpt` (version 2) trace that replaces what the chunks before it hold: the trace
    /// with the child processes merged in, written after the end chunk.
    pub const TRACE: u8 = 8;
}

/// Metadata key of the warning left in a trace whose file has no end chunk.
pub const END_MISSING_WARNING: &str = "warning.stream_end_missing";
/// Metadata key of the warning left in a trace whose file's last chunk was cut or damaged.
pub const LAST_CHUNK_WARNING: &str = "warning.stream_last_chunk";

/// What is wrong with a streamed file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StreamError {
    #[error("truncated header: {0} bytes, a streamed .fpt header is 8 bytes")]
    TruncatedHeader(usize),
    #[error("not a streamed fprofile trace (no \"FPST\" magic at byte 0)")]
    BadMagic,
    #[error("unsupported streamed .fpt version {0} at byte 4: this fprofile reads version 1 (a higher one was written by a newer fprofile)")]
    FutureVersion(u16),
    #[error("reserved header flags {0:#06x} set at byte 6")]
    ReservedFlags(u16),
    #[error("chunk {index} at byte {offset}: {what}")]
    Chunk { index: usize, offset: u64, what: String },
    /// The chunks' payloads add up to more than the caller accepts ([`decode_limited`]).
    #[error("the chunks' payloads add up to {len} bytes, above the {limit} bytes this reader accepts")]
    AboveLimit { len: u64, limit: u64 },
    /// The file could not be read ([`Scanner`]).
    #[error("cannot read the file at byte {offset}: {what}")]
    Read { offset: u64, what: String },
}

pub(crate) type Result<T> = std::result::Result<T, StreamError>;

/// Whether a recording's outfile at `path` is streamed in this container: its name ends in
/// `.fpt` (any case); any other name gets PYME's raw text.
pub fn is_stream_path(path: &std::path::Path) -> bool {
    path.extension().is_some_and(|e| e.eq_ignore_ascii_case("fpt"))
}

// ---------------------------------------------------------------------------------------------
// What the encoder and the reader share

/// A thread first seen in a round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewThread {
    /// Its number in the file (0, 1, ... in order of appearance).
    pub id: u32,
    pub os_id: u64,
    pub ident: u64,
}

/// One chunk framed in [`Encoder::out`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Frame {
    pub kind: u8,
    /// Its bytes are `out[start..end]`.
    pub start: usize,
    pub end: usize,
    /// An events chunk: its until time and its number of events (0 for other chunks).
    pub until_ns: u64,
    pub events: u64,
    /// An events chunk: the calls open after it (code ids, outermost first) on each thread that
    /// has events in it (what the flight recorder needs to show calls begun before its window).
    pub stacks: Vec<(u32, Vec<u32>)>,
}

/// The file header (magic, version, flags).
pub fn header_bytes() -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..4].copy_from_slice(&MAGIC);
    h[4..6].copy_from_slice(&VERSION.to_le_bytes());
    h
}

/// Appends `t` as a [`kind::TRACE`] chunk to the streamed file at `path` (after its end chunk).
pub fn append_trace(path: &std::path::Path, t: &Trace) -> std::io::Result<()> {
    use std::io::Write;
    let mut e = Encoder::default();
    e.trace(t);
    let mut f = std::fs::OpenOptions::new().append(true).open(path)?;
    f.write_all(&e.out)?;
    f.sync_data().or(Ok(()))
}

/// CRC-32 of a chunk: its header's first 12 bytes, then its stored payload.
pub(crate) fn checksum(head: &[u8], payload: &[u8]) -> u32 {
    let mut c = flate2::Crc::new();
    c.update(head);
    c.update(payload);
    c.sum()
}
