//! The stored window index of an `.fpt` file (issue 22, items 3 and 4): what a file-backed trace
//! ([`crate::filetrace::FileTrace`]) keeps beside the file so that window queries, its skeleton
//! and its overall summary need neither the calls in memory nor a pass over the file.
//!
//! It lives in a sidecar, `big.fpt.fpx` next to the file, or, when that folder cannot be written,
//! under `$XDG_CACHE_HOME/fprofile/index/` (`~/.cache/...`), or last in an unlinked temporary
//! file that lasts as long as the trace is open (also the place of a small file's index, under
//! [`open_min_bytes`]: nothing is left beside it): the `.fpt` stays as it is (every reader and
//! the JavaScript decoder read it unchanged). Layout: `docs/format.md`, "The window index".
//!
//! - Per thread and depth (a *row*), the row's calls in start order, in chunks of
//!   [`crate::window::CHUNK`] calls (start, end, function, index in the trace, parent's index,
//!   as differences only), each chunk deflated on its own; a resident directory per chunk: file
//!   offset, length, CRC-32, first call, first start, last end and longest call or gap (what
//!   lets a run skip the chunk whole).
//!   The directory holds 0.05 bytes per call, the cache at most 64 MiB of decoded chunks
//!   ([`read::CACHE_BYTES`]);
//!   a window decodes a few chunks per row
//!   (through a bounded cache, [`read::FileIndex`]). `crate::window::query_rows` runs over it,
//!   the same algorithm as over a loaded trace, so the replies are the same.
//! - The trace's skeleton (`.fpt` without calls), the overall summary's JSON
//!   (`crate::summary::overall_json`), the calls' flags, the span, and the overview (the whole
//!   run at `crate::window::OVERVIEW_PX`, every thread), made by every build as its last step
//!   (a query over the index just written) so the first drawing decodes no chunk.
//!
//! Trust: the header names the `.fpt` it indexes (size, mtime, first 16 and last 8 bytes: the
//! header and the body's Adler-32) and the directory's CRC-32; a sidecar that does not match, is
//! cut, garbled, not a regular file (no symlink followed) or not owned by this user or the
//! `.fpt`'s owner is not used but rebuilt ([`build::build`]: one walk of the file, memory bounded
//! by the rows' open chunks, not the calls), written to a temporary name (0600) and renamed.
//! A chunk whose CRC does not match when it is read makes the query an error, and the trace
//! rebuilds the index (`FileTrace::window`).
//!
//! The stop writes the index with the compact file (`crate::record::compact`, for files of at
//! least [`write_min_calls`] calls), built from the events as its rewrite reads them
//! ([`onepass`]: no second pass over the file), so a file `fprofile run -o` or
//! `profile(outfile=...)` leaves opens at once; `formats::save` of such an `.fpt` writes it too,
//! made from the trace in memory ([`build::build_from_trace`]). Every build pushes its calls
//! through one encoder of rows ([`build::RowBuild`]); the chunks' bytes are the same whichever
//! made them (`read::FileIndex::content`, what the tests compare).

pub mod build;
pub(crate) mod onepass;
pub mod read;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Sidecar magic: ASCII `FPXI`.
pub const MAGIC: [u8; 4] = *b"FPXI";
/// Sidecar version.
pub const VERSION: u16 = 1;
/// Header size in bytes; the chunks follow.
pub const HEADER_LEN: usize = 72;
/// Files with at least this many calls get their index when they are written (the stop's
/// rewrite); smaller ones get it when first opened as a file-backed trace. The environment
/// variable `FPROFILE_INDEX_MIN_CALLS` changes it ([`write_min_calls`]).
pub const WRITE_MIN_CALLS: u64 = 1_000_000;

/// [`WRITE_MIN_CALLS`], or `FPROFILE_INDEX_MIN_CALLS` when set to a number.
pub fn write_min_calls() -> u64 {
    std::env::var("FPROFILE_INDEX_MIN_CALLS").ok().and_then(|v| v.trim().parse().ok()).unwrap_or(WRITE_MIN_CALLS)
}
/// Opening a compact `.fpt` of at least this many bytes without an index writes its index
/// beside it (or in the cache); a smaller file's index is made in an unlinked temporary file
/// each time (it takes well under a second). `FPROFILE_INDEX_MIN_BYTES` changes it
/// ([`open_min_bytes`]).
pub const OPEN_MIN_BYTES: u64 = 1 << 20;

/// [`OPEN_MIN_BYTES`], or `FPROFILE_INDEX_MIN_BYTES` when set to a number.
pub fn open_min_bytes() -> u64 {
    std::env::var("FPROFILE_INDEX_MIN_BYTES").ok().and_then(|v| v.trim().parse().ok()).unwrap_or(OPEN_MIN_BYTES)
}

/// Largest directory a reader accepts (1 GiB).
const MAX_DIR: u64 = 1 << 30;

/// What names the `.fpt` an index was built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    pub len: u64,
    pub mtime_ns: i64,
    pub head: [u8; 16],
    pub tail: [u8; 8],
    pub uid: u32,
}

impl Stamp {
    /// The stamp of the file at `path` (a regular file), read now.
    pub fn of(path: &Path) -> std::io::Result<Stamp> {
        use std::os::unix::fs::FileExt;
        let f = std::fs::File::open(path)?;
        let m = f.metadata()?;
        let mut head = [0u8; 16];
        let mut tail = [0u8; 8];
        if m.len() >= 24 {
            f.read_exact_at(&mut head, 0)?;
            f.read_exact_at(&mut tail, m.len() - 8)?;
        }
        Ok(Stamp { len: m.len(), mtime_ns: m.mtime() * 1_000_000_000 + m.mtime_nsec(), head, tail, uid: m.uid() })
    }
}

/// The header: the stamp of the `.fpt`, where the directory is and its CRC-32.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Header {
    pub stamp: Stamp,
    pub dir_offset: u64,
    pub dir_len: u64,
    pub dir_crc: u32,
}

impl Header {
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[0..4].copy_from_slice(&MAGIC);
        b[4..6].copy_from_slice(&VERSION.to_le_bytes());
        b[8..16].copy_from_slice(&self.stamp.len.to_le_bytes());
        b[16..24].copy_from_slice(&self.stamp.mtime_ns.to_le_bytes());
        b[24..40].copy_from_slice(&self.stamp.head);
        b[40..48].copy_from_slice(&self.stamp.tail);
        b[48..56].copy_from_slice(&self.dir_offset.to_le_bytes());
        b[56..64].copy_from_slice(&self.dir_len.to_le_bytes());
        b[64..68].copy_from_slice(&self.dir_crc.to_le_bytes());
        let crc = crc32(&b[..68]);
        b[68..72].copy_from_slice(&crc.to_le_bytes());
        b
    }

    pub fn decode(b: &[u8; HEADER_LEN], uid: u32) -> Option<Header> {
        let u64_at = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().unwrap_or([0; 8]));
        if b[0..4] != MAGIC || b[4..6] != VERSION.to_le_bytes() || crc32(&b[..68]).to_le_bytes() != b[68..72] {
            return None;
        }
        let mut head = [0u8; 16];
        head.copy_from_slice(&b[24..40]);
        let mut tail = [0u8; 8];
        tail.copy_from_slice(&b[40..48]);
        Some(Header {
            stamp: Stamp { len: u64_at(8), mtime_ns: u64_at(16) as i64, head, tail, uid },
            dir_offset: u64_at(48),
            dir_len: u64_at(56),
            dir_crc: u32::from_le_bytes(b[64..68].try_into().unwrap_or([0; 4])),
        })
    }
}

/// CRC-32 (zlib's) of `bytes`.
pub(crate) fn crc32(bytes: &[u8]) -> u32 {
    let mut c = flate2::Crc::new();
    c.update(bytes);
    c.sum()
}

/// The sidecar next to the file: `path` + `.fpx`.
pub fn sidecar_path(fpt: &Path) -> PathBuf {
    let mut s = fpt.as_os_str().to_owned();
    s.push(".fpx");
    PathBuf::from(s)
}

/// The index's place in the user's cache (`$XDG_CACHE_HOME/fprofile/index/`, else
/// `~/.cache/fprofile/index/`), named by a hash of the file's absolute path.
pub fn cache_path(fpt: &Path) -> Option<PathBuf> {
    use sha2::Digest;
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").filter(|v| !v.is_empty()).map(|h| PathBuf::from(h).join(".cache")))?;
    let abs = std::fs::canonicalize(fpt).ok()?;
    let digest = sha2::Sha256::digest(abs.as_os_str().as_encoded_bytes());
    let name: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    Some(base.join("fprofile").join("index").join(format!("{name}.fpx")))
}

/// Opens `path` to read without following a symlink, when it is a regular file owned by this
/// user or by `owner`.
pub(crate) fn open_private(path: &Path, owner: u32) -> Option<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let f = std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK).open(path).ok()?;
    let m = f.metadata().ok()?;
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    (m.file_type().is_file() && (m.uid() == me || m.uid() == owner)).then_some(f)
}

/// Reads the header at the start of `f`.
pub(crate) fn read_header(f: &std::fs::File, uid: u32) -> Option<Header> {
    use std::os::unix::fs::FileExt;
    let mut b = [0u8; HEADER_LEN];
    f.read_exact_at(&mut b, 0).ok()?;
    Header::decode(&b, uid)
}

/// LEB128 varints over a slice (the index's own reader: short, checked, never panics).
pub(crate) struct Cursor<'a> {
    pub b: &'a [u8],
    pub at: usize,
}

impl<'a> Cursor<'a> {
    pub fn u(&mut self) -> Option<u64> {
        let mut v = 0u64;
        let mut shift = 0;
        loop {
            let byte = *self.b.get(self.at)?;
            self.at += 1;
            if shift == 63 && byte > 1 {
                return None;
            }
            v |= u64::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                return Some(v);
            }
            shift += 7;
            if shift > 63 {
                return None;
            }
        }
    }
    pub fn s(&mut self) -> Option<i64> {
        let z = self.u()?;
        Some((z >> 1) as i64 ^ -((z & 1) as i64))
    }
    pub fn bytes(&mut self, n: u64) -> Option<&'a [u8]> {
        let n = usize::try_from(n).ok()?;
        let end = self.at.checked_add(n)?;
        let s = self.b.get(self.at..end)?;
        self.at = end;
        Some(s)
    }
}

pub(crate) fn put_s(out: &mut Vec<u8>, v: i64) {
    crate::formats::codec::varint::put_s(out, v);
}

pub(crate) fn put_u(out: &mut Vec<u8>, v: u64) {
    crate::formats::codec::varint::put_u(out, v);
}

/// A walk's error as the loader reports it (`crate::load`: a read error is an I/O error).
pub(crate) fn fpt_error(path: &Path, e: crate::formats::fpt::FptError) -> crate::load::LoadError {
    use crate::load::Problem;
    let problem = match e {
        crate::formats::fpt::FptError::Read { offset, what } => {
            Problem::Io(std::io::Error::other(format!("{what} (at byte {offset})")))
        }
        e => e.into(),
    };
    crate::load::LoadError { path: Some(path.to_path_buf()), problem }
}
