//! One-call loading: [`load`] a trace file or [`load_bytes`] a buffer in any format fprofile reads
//! (`.fpt`, PYME raw text, PYME JSON), told apart by content with [`formats::detect`].
//!
//! ```no_run
//! let trace = fprofile::load("run.fpt")?;
//! println!("{} calls on {} threads", trace.calls.len(), trace.threads.len());
//! # Ok::<(), fprofile::LoadError>(())
//! ```

use std::io::{self, Read};
use std::path::{Path, PathBuf};

use crate::formats::{self, fpt, pyme_json, pyme_text, stream, Format};
use crate::fsio;
use crate::Trace;

/// Why a trace could not be loaded: [`LoadError::problem`], in the file [`LoadError::path`] (none
/// for [`load_bytes`]). Displays as one line, `"<path>: <problem>"`.
#[derive(Debug, thiserror::Error)]
#[error("{}{problem}", path.as_ref().map(|p| format!("{}: ", p.display())).unwrap_or_default())]
pub struct LoadError {
    /// The file, when loading from a path.
    pub path: Option<PathBuf>,
    /// What is wrong.
    pub problem: Problem,
}

/// What is wrong with a file or buffer given to [`load`] / [`load_bytes`].
#[derive(Debug, thiserror::Error)]
pub enum Problem {
    /// The file cannot be read (missing, a directory, no permission, ...).
    #[error("{0}")]
    Io(io::Error),
    /// Zero bytes.
    #[error("empty file: not a trace")]
    Empty,
    /// A format fprofile writes but does not read.
    #[error("a {} file: fprofile writes this format but does not read it back (load the .fpt or PYME file it came from)", .0.name())]
    WriteOnly(Format),
    /// JSON, but not PYME JSON.
    #[error("JSON that is not a trace: expected PYME JSON (an object with \"callstack\" and \"threadNames\"), the only JSON format fprofile reads")]
    UnknownJson,
    /// Not a trace format at all.
    #[error("not a trace: neither an .fpt file (magic \"FPRF\" or \"FPST\"), PYME raw event text (six tab-separated fields per line) nor PYME JSON (an object with \"callstack\")")]
    Unknown,
    /// A broken `.fpt` file.
    #[error(transparent)]
    Fpt(#[from] fpt::FptError),
    /// A broken streamed `.fpt` file (one whose last chunk is cut or damaged still loads).
    #[error(transparent)]
    Stream(#[from] stream::StreamError),
    /// A broken PYME text file.
    #[error(transparent)]
    PymeText(#[from] pyme_text::TextError),
    /// A broken PYME JSON file.
    #[error(transparent)]
    PymeJson(#[from] pyme_json::PymeJsonError),
}

impl LoadError {
    fn at(path: &Path, problem: Problem) -> Self {
        LoadError { path: Some(path.to_path_buf()), problem }
    }
}

/// The format of `bytes` (the start of a file is enough: 64 KiB), or why it is not one we read.
pub fn detect_readable(bytes: &[u8]) -> Result<Format, Problem> {
    if bytes.is_empty() {
        return Err(Problem::Empty);
    }
    if bytes.len() < fpt::MAGIC.len() && (fpt::MAGIC.starts_with(bytes) || stream::MAGIC.starts_with(bytes)) {
        return Ok(Format::Fpt); // an .fpt file cut inside its magic: the decoder says so
    }
    match formats::detect(bytes) {
        Some(f @ (Format::Fpt | Format::PymeText | Format::PymeJson)) => Ok(f),
        Some(f @ (Format::Perfetto | Format::Speedscope | Format::Html | Format::Png)) => Err(Problem::WriteOnly(f)),
        None if bytes.iter().find(|b| !b.is_ascii_whitespace()).is_some_and(|b| *b == b'{' || *b == b'[') => {
            Err(Problem::UnknownJson)
        }
        None => Err(Problem::Unknown),
    }
}

/// Loads the trace in the file at `path`, whatever its format (detected from the content).
/// PYME text is parsed straight from the file in pieces (on several cores for large files).
pub fn load(path: impl AsRef<Path>) -> Result<Trace, LoadError> {
    load_with(path, None, &mut |_, _| {})
}

/// Loads a trace from the bytes of a file, whatever its format (detected from the content).
pub fn load_bytes(bytes: &[u8]) -> Result<Trace, LoadError> {
    load_bytes_with(bytes, None, &mut |_, _| {})
}

/// [`load`] with the format given (`None`: detected) and a progress callback
/// `progress(bytes_done, bytes_total)`, called now and then and once at the end.
pub fn load_with(
    path: impl AsRef<Path>,
    format: Option<Format>,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Trace, LoadError> {
    let path = path.as_ref();
    let io = |e: io::Error| LoadError::at(path, Problem::Io(e));
    if fsio::kind(path).map_err(io)? == fsio::Kind::Stream {
        // A FIFO, `/dev/stdin`, a device: read whole (bounded in size and waiting time), no seeking.
        let mut f = fsio::open_read(path).map_err(io)?;
        let bytes = fsio::read_stream(&mut f, fsio::MAX_STREAM_BYTES).map_err(io)?;
        return load_bytes_with(&bytes, format, progress).map_err(|e| LoadError::at(path, e.problem));
    }
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut bytes = Vec::new();
    (&mut file).take(64 << 10).read_to_end(&mut bytes).map_err(io)?;
    let text_name = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("txt"));
    if let Some(t) = empty_text(&bytes, format.or(text_name.then_some(Format::PymeText))) {
        return Ok(t);
    }
    let format = match format {
        Some(f) => f,
        None => detect_readable(&bytes).map_err(|p| LoadError::at(path, p))?,
    };
    if format == Format::PymeText {
        // Parsed in pieces straight from the file: the text is never held whole in memory.
        drop(file);
        return pyme_text::read_file(path, progress).map_err(|e| LoadError::at(path, e.into()));
    }
    if format == Format::Fpt && !bytes.starts_with(&stream::MAGIC) {
        // Inflated and parsed as it is read: neither the file nor its inflated body is held whole.
        let len = file.metadata().map_err(io)?.len() as usize;
        let mut input = (&bytes[..]).chain(file);
        let t = fpt::decode_from(&mut input, len, fpt::MAX_BODY_LEN, progress).map_err(|e| match e {
            // The file, not its content: an I/O error (OSError in Python), as for any file that cannot be read.
            fpt::FptError::Read { offset, what } => {
                LoadError::at(path, Problem::Io(io::Error::other(format!("{what} (at byte {offset})"))))
            }
            e => LoadError::at(path, e.into()),
        })?;
        progress(len, len);
        return Ok(t);
    }
    file.read_to_end(&mut bytes).map_err(io)?;
    decode(&bytes, format, fpt::MAX_BODY_LEN, progress).map_err(|p| LoadError::at(path, p))
}

/// The outline of the trace file at `path` (its tables, number of calls and summary; no calls),
/// read in one pass with memory bounded by its threads and functions, not its calls: for `.fpt`
/// files (compact, version 2: walked, [`fpt::walk_file`]; streamed: read chunk by chunk,
/// [`crate::record::compact::Compactor::for_summary`]). `Ok(None)` for every other file (load it).
/// `progress(bytes_done, bytes_total)` as [`load_with`]'s.
pub fn outline(
    path: impl AsRef<Path>,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Option<crate::record::compact::Outline>, LoadError> {
    let path = path.as_ref();
    let io = |e: io::Error| LoadError::at(path, Problem::Io(e));
    if fsio::kind(path).map_err(io)? != fsio::Kind::Regular {
        return Ok(None);
    }
    let mut head = Vec::new();
    std::fs::File::open(path).map_err(io)?.take(fpt::HEADER_LEN as u64).read_to_end(&mut head).map_err(io)?;
    if head.starts_with(&stream::MAGIC) {
        let mut c = crate::record::compact::Compactor::for_summary();
        let read = c.add_stream(path).and_then(|_| c.outline(&[0]));
        if let Ok(m) = std::fs::metadata(path) {
            progress(m.len() as usize, m.len() as usize);
        }
        return match read {
            Ok(o) => Ok(Some(o)),
            Err(crate::record::compact::CompactError::Io(e)) => Err(io(e)),
            Err(crate::record::compact::CompactError::Stream { error, .. }) => Err(LoadError::at(path, error.into())),
            Err(_) => Ok(None),
        };
    }
    let v2 = head.len() == fpt::HEADER_LEN && head.starts_with(&fpt::MAGIC) && head[4..6] == fpt::VERSION.to_le_bytes();
    if !v2 {
        return Ok(None);
    }
    let mut acc = crate::summary::WalkAcc::default();
    let (trace, calls) = fpt::walk_file(path, &mut acc, progress).map_err(|e| match e {
        fpt::FptError::Read { offset, what } => {
            LoadError::at(path, Problem::Io(io::Error::other(format!("{what} (at byte {offset})"))))
        }
        e => LoadError::at(path, e.into()),
    })?;
    let summary = crate::summary::from_threads(&trace, acc.accs);
    Ok(Some(crate::record::compact::Outline { trace, calls, summary }))
}

/// [`load_bytes`] with the format given (`None`: detected) and a progress callback.
pub fn load_bytes_with(bytes: &[u8], format: Option<Format>, progress: &mut dyn FnMut(usize, usize)) -> Result<Trace, LoadError> {
    load_bytes_limited(bytes, format, None, progress)
}

/// [`load_bytes_with`] for bytes from someone else (an upload): `max_body_len` (`None`: the
/// format's own 2 GiB) bounds what a compressed `.fpt` body may inflate to, checked against the
/// header before inflating and enforced while inflating ([`fpt::decode_body_limited`]), so a small
/// file claiming a huge body is refused without the memory. The other formats are not compressed:
/// their size is the size of `bytes`.
pub fn load_bytes_limited(
    bytes: &[u8],
    format: Option<Format>,
    max_body_len: Option<u64>,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Trace, LoadError> {
    if let Some(t) = empty_text(bytes, format) {
        return Ok(t);
    }
    let format = match format {
        Some(f) => Ok(f),
        None => detect_readable(bytes),
    };
    let max_body_len = max_body_len.unwrap_or(fpt::MAX_BODY_LEN);
    format.and_then(|f| decode(bytes, f, max_body_len, progress)).map_err(|problem| LoadError { path: None, problem })
}

/// PYME raw text with no events (a recording of nothing, saved as `.txt`) is an empty trace: the
/// one case where zero bytes are a trace (`format`: given, or told by a `.txt` name).
fn empty_text(bytes: &[u8], format: Option<Format>) -> Option<Trace> {
    (bytes.is_empty() && format == Some(Format::PymeText)).then(Trace::default)
}

fn decode(bytes: &[u8], format: Format, max_body_len: u64, progress: &mut dyn FnMut(usize, usize)) -> Result<Trace, Problem> {
    let t = match format {
        Format::Fpt if bytes.starts_with(&stream::MAGIC) => stream::decode_limited(bytes, max_body_len)?,
        Format::Fpt => fpt::decode_from(&mut &bytes[..], bytes.len(), max_body_len, progress)?,
        Format::PymeText => return Ok(pyme_text::read_with_progress(bytes, progress)?),
        Format::PymeJson => pyme_json::read(bytes)?,
        f @ (Format::Perfetto | Format::Speedscope | Format::Html | Format::Png) => return Err(Problem::WriteOnly(f)),
    };
    progress(bytes.len(), bytes.len());
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calltree::build_trace;
    use crate::{Code, Event, EventKind, Recording, ThreadRecord};

    fn trace() -> Trace {
        let ev = |t_ns, kind| Event { t_ns, code: 0, kind };
        build_trace(Recording {
            codes: vec![Code { file: "/a.py".into(), name: "f".into(), first_line: 3 }],
            threads: vec![ThreadRecord {
                os_id: 1,
                ident: 1,
                names: vec![(0, "MainThread".into())],
                chunks: vec![vec![ev(1_000, EventKind::Call), ev(5_000, EventKind::Return)]],
            }],
            start_ns: 0,
            stop_ns: 10_000,
            metadata: vec![],
            process: Default::default(),
        })
    }

    fn tmp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("fprofile-load-{}", std::process::id()));
        std::fs::create_dir_all(&dir).ok();
        dir.join(name)
    }

    #[test]
    fn every_readable_format_by_path_and_bytes() {
        let t = trace();
        let mut text = Vec::new();
        pyme_text::write(&t, &mut text).unwrap();
        let mut json = Vec::new();
        pyme_json::write(&t, &mut json).unwrap();
        for (name, bytes) in [("t.fpt", fpt::encode(&t)), ("t.txt", text), ("t.json", json)] {
            let p = tmp(name);
            std::fs::write(&p, &bytes).unwrap();
            let a = load(&p).unwrap();
            let b = load_bytes(&bytes).unwrap();
            assert_eq!(a.calls.len(), 1, "{name}");
            assert_eq!(a.calls.end_ns[0] - a.calls.start_ns[0], 4_000, "{name}");
            assert_eq!(a.calls.start_ns, b.calls.start_ns, "{name}");
            assert_eq!(a.codes[0].name, "f");
        }
    }

    #[test]
    fn progress_reaches_the_total() {
        let t = trace();
        let mut text = Vec::new();
        pyme_text::write(&t, &mut text).unwrap();
        let p = tmp("progress.txt");
        std::fs::write(&p, &text).unwrap();
        let mut last = (0, 0);
        load_with(&p, None, &mut |d, n| last = (d, n)).unwrap();
        assert_eq!(last, (text.len(), text.len()));
    }

    #[test]
    fn errors_name_the_path_and_the_problem() {
        let p = tmp("missing.fpt");
        let e = load(&p).unwrap_err();
        assert!(matches!(e.problem, Problem::Io(ref io) if io.kind() == io::ErrorKind::NotFound));
        assert!(e.to_string().starts_with(&format!("{}: ", p.display())), "{e}");

        let cases: [(&str, &[u8], &str); 5] = [
            ("empty.fpt", b"", "empty file: not a trace"),
            ("x.perfetto.json", br#"{"traceEvents": [{"ph": "X"}]}"#, "a perfetto file: fprofile writes this format"),
            ("x.speedscope.json", br#"{"$schema": "https://www.speedscope.app/file-format-schema.json"}"#, "a speedscope file"),
            ("other.json", br#"{"a": 1}"#, "JSON that is not a trace"),
            ("garbage.bin", b"\x00\x01hello", "not a trace: neither"),
        ];
        for (name, bytes, msg) in cases {
            let p = tmp(name);
            std::fs::write(&p, bytes).unwrap();
            let e = load(&p).unwrap_err();
            assert_eq!(e.to_string(), format!("{}: {}", p.display(), e.problem), "{name}");
            assert!(e.problem.to_string().starts_with(msg), "{name}: {e}");
            let e = load_bytes(bytes).unwrap_err();
            assert!(e.path.is_none() && e.to_string().starts_with(msg), "{name}: {e}");
        }
    }

    #[test]
    fn broken_files_say_where() {
        let mut b = fpt::encode(&trace());
        b.truncate(10);
        let e = load_bytes(&b).unwrap_err();
        assert!(matches!(e.problem, Problem::Fpt(_)), "{e}");
        let p = tmp("bad.txt");
        std::fs::write(&p, "1.0\tMain\t/a.py\tf\tcall\t1\n2.0\tMain\t/a.py\tf\tbogus\t1\n").unwrap();
        let e = load(&p).unwrap_err();
        assert!(e.to_string().starts_with(&format!("{}: line 2", p.display())), "{e}");
        let e = load_with(&p, Some(Format::Perfetto), &mut |_, _| {}).unwrap_err();
        assert!(matches!(e.problem, Problem::WriteOnly(Format::Perfetto)));
    }
}
