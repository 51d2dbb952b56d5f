//! Readers and writers of [`Trace`](crate::Trace): one module per format, over one shared
//! [`codec`] (varints, planes, zlib, the metadata JSON) that every binary format uses.
//!
//! The rule: a format reaches into no other format's internals; what two need is in [`codec`]. A
//! format uses another only through its public API where its bytes hold the other's: a streamed
//! `.fpt` ([`stream`]) carries a whole `.fpt` trace frame and the HTML page ([`html`]) embeds the
//! `.fpt` and window replies ([`window`]), through their `encode`.
//! Turning a recording into call trees is `crate::calltree`'s, whichever format read it.

pub mod codec;
pub mod fpt;
pub mod html;
pub mod perfetto;
pub mod png;
pub mod pyme_json;
pub mod pyme_text;
pub mod registry;
pub mod speedscope;
pub mod spool;
pub mod stream;
pub mod window;

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::Trace;

/// A trace file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `.fpt` binary (magic `FPRF`), or a streamed `.fpt` (magic `FPST`, written while recording).
    Fpt,
    /// PYME raw event text (`time\tthread\tfile\tfunction\tcall|return\tline`).
    PymeText,
    /// PYME converted JSON (`{"callstack": ...}`).
    PymeJson,
    /// Chrome Trace Event JSON (Perfetto, chrome://tracing).
    Perfetto,
    /// speedscope JSON.
    Speedscope,
    /// The self-contained HTML page (the timeline and the data).
    Html,
    /// The static picture of the run (PNG; [`png`]).
    Png,
}

impl Format {
    /// Short name as the CLI spells it.
    pub fn name(self) -> &'static str {
        match self {
            Format::Fpt => "fpt",
            Format::PymeText => "pyme-text",
            Format::PymeJson => "pyme-json",
            Format::Perfetto => "perfetto",
            Format::Speedscope => "speedscope",
            Format::Html => "html",
            Format::Png => "png",
        }
    }
}

/// Encodes `t` in `format` into `w`; `title` names the page of the HTML export and captions the
/// picture.
pub fn write<W: Write + ?Sized>(t: &Trace, format: Format, title: &str, w: &mut W) -> std::io::Result<()> {
    write_with(t, format, title, None, w)
}

/// [`write`] with the picture's width (`width_px`, default [`png::DEFAULT_WIDTH_PX`]; the other
/// formats have none).
pub fn write_with<W: Write + ?Sized>(
    t: &Trace,
    format: Format,
    title: &str,
    width_px: Option<i128>,
    w: &mut W,
) -> std::io::Result<()> {
    match format {
        Format::Fpt => w.write_all(&fpt::encode(t)),
        Format::PymeText => pyme_text::write(t, w),
        Format::PymeJson => pyme_json::write(t, w),
        Format::Perfetto => perfetto::write(t, w),
        Format::Speedscope => speedscope::write(t, w),
        Format::Html => w.write_all(html::to_html(t, title).as_bytes()),
        Format::Png => {
            let width = width_px.unwrap_or(i128::from(png::DEFAULT_WIDTH_PX));
            let bytes = png::to_png(t, title, width).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
            w.write_all(&bytes)
        }
    }
}

/// Why [`save`] failed: the file and the I/O error. Displays as one line, `"<path>: <error>"`.
#[derive(Debug, thiserror::Error)]
#[error("{}: {source}", path.display())]
pub struct SaveError {
    pub path: PathBuf,
    pub source: std::io::Error,
}

/// The page title [`save`] gives an HTML export by default: the file name without its extension.
pub fn default_title(path: &Path) -> String {
    path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "trace".to_owned())
}

/// Writes `t` to `path` in `format` ([`crate::fsio::write_atomic`]: a regular file is replaced
/// whole or not at all; a FIFO or device is written in place). `title`: the HTML page's title
/// (default [`default_title`]). An `.fpt` of at least [`crate::winindex::write_min_calls`] calls
/// gets its window index beside it (`crate::winindex`).
pub fn save(t: &Trace, path: impl AsRef<Path>, format: Format, title: Option<&str>) -> Result<(), SaveError> {
    save_with(t, path, format, title, None)
}

/// [`save`] with the picture's width ([`write_with`]). A width out of range fails before the
/// file is touched.
pub fn save_with(
    t: &Trace,
    path: impl AsRef<Path>,
    format: Format,
    title: Option<&str>,
    width_px: Option<i128>,
) -> Result<(), SaveError> {
    let path = path.as_ref();
    let title = title.map_or_else(|| default_title(path), str::to_owned);
    if format == Format::Png {
        // the picture is made first: a bad width (or any failure) leaves the file untouched
        let width = width_px.unwrap_or(i128::from(png::DEFAULT_WIDTH_PX));
        let bytes = png::to_png(t, &title, width).map_err(|e| SaveError {
            path: path.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, e),
        })?;
        return crate::fsio::write_atomic(path, |w| w.write_all(&bytes))
            .map_err(|source| SaveError { path: path.to_path_buf(), source });
    }
    crate::fsio::write_atomic(path, |w| write_with(t, format, &title, width_px, w))
        .map_err(|source| SaveError { path: path.to_path_buf(), source })?;
    if format == Format::Fpt && t.calls.len() as u64 >= crate::winindex::write_min_calls() && path.is_file() {
        // its window index beside it (`crate::winindex`): opening the file later is immediate;
        // a folder that cannot hold it costs nothing here (the reader builds it where it can)
        let _ = crate::filetrace::write_index_of(path, t);
    }
    Ok(())
}

/// Sniffs the format of a file from its first bytes: an `.fpt` magic (`FPRF` or `FPST`), a JSON object (told apart
/// by its first keys, looked for in the first 64 KiB), or PYME text (a first line of six
/// tab-separated fields). `None` when it is none of them.
pub fn detect(bytes: &[u8]) -> Option<Format> {
    if bytes.starts_with(&fpt::MAGIC) || bytes.starts_with(&stream::MAGIC) {
        return Some(Format::Fpt);
    }
    let head = &bytes[..bytes.len().min(64 << 10)];
    let trimmed = head.iter().position(|b| !b.is_ascii_whitespace()).map(|i| &head[i..]).unwrap_or(&[]);
    let trimmed = trimmed.strip_prefix(b"\xef\xbb\xbf".as_slice()).unwrap_or(trimmed);
    if trimmed.first() == Some(&b'{') || trimmed.first() == Some(&b'[') {
        let has = |k: &[u8]| trimmed.windows(k.len()).any(|w| w == k);
        if has(b"\"callstack\"") || has(b"\"threadNames\"") {
            return Some(Format::PymeJson);
        }
        if has(b"speedscope") || has(b"\"$schema\"") {
            return Some(Format::Speedscope);
        }
        if has(b"\"traceEvents\"") || has(b"\"ph\"") {
            return Some(Format::Perfetto);
        }
        return None;
    }
    // The first non-blank line.
    let line = head.split(|&b| b == b'\n').find(|l| !l.iter().all(|b| b.is_ascii_whitespace())).unwrap_or(&[]);
    let fields = line.split(|&b| b == b'\t').count();
    if fields == 6 && line.first().is_some_and(|b| b.is_ascii_digit() || *b == b'-' || *b == b'.') {
        return Some(Format::PymeText);
    }
    None
}
