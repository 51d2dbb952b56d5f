//! Where a `Trace` (trace.rs) keeps its calls: in memory (an [`fprofile::Trace`]) or in its `.fpt`
//! file ([`fprofile::filetrace::FileTrace`], issue 22: a long run's trace that does not have to fit
//! in memory).
//!
//! [`Source`] answers what every method of `Trace` needs, from whichever it holds:
//! - the tables ([`Source::tables`]: threads, processes, functions, bands, metadata; a file's
//!   skeleton), the number of calls, each thread's calls, the summary, the overall summary's JSON,
//!   the flame graph and window replies: a file-backed trace answers them from the `FileTrace`,
//!   never loading its calls;
//! - every call ([`Source::whole`]: the calls themselves, exports to other formats, callers and
//!   callees, equality, pickling): a file-backed trace loads the whole trace once, on first use
//!   (`FileTrace::load`), and keeps it.
//!
//! A compact `.fpt` file's bytes are the trace's `.fpt` bytes ([`Source::file_bytes`]): saving or
//! sending them copies the file, with no decoding.

use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

use fprofile::filetrace::FileTrace;
use fprofile::flame::{Flame, Window};
use fprofile::summary::Summary;
use fprofile::{LoadError, Trace};

/// A trace answered from its file, and the whole trace once something needed every call.
pub(crate) struct FileSource {
    file: FileTrace,
    /// The file is a compact `.fpt` (magic `FPRF`): its bytes are the trace's `.fpt` bytes.
    compact: bool,
    whole: Mutex<Option<Arc<Trace>>>,
    summary: OnceLock<Arc<Summary>>,
    overall: OnceLock<String>,
}

/// The calls of a trace: in memory, or in its file.
pub(crate) enum Source {
    Memory(Arc<Trace>),
    File(Box<FileSource>),
}

/// Does the file at `path` begin as a compact `.fpt` of the version written today does (its bytes
/// are then what `fpt::encode` would write, give or take the zlib level)?
fn is_compact_fpt(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 6];
    let read = std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut head)).is_ok();
    read && head[..4] == fprofile::formats::fpt::MAGIC
        && u16::from_le_bytes([head[4], head[5]]) == fprofile::formats::fpt::VERSION
}

impl Source {
    /// The trace in the file at `path`, answered from the file (named by its absolute path: the
    /// trace reads it again later, whatever the working directory is then).
    pub(crate) fn open(path: &Path) -> Result<Source, LoadError> {
        let path = &std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        let file = FileTrace::open(path)?;
        Ok(Source::File(Box::new(FileSource {
            compact: is_compact_fpt(path),
            file,
            whole: Mutex::new(None),
            summary: OnceLock::new(),
            overall: OnceLock::new(),
        })))
    }

    /// The file it is answered from (None: in memory).
    pub(crate) fn file(&self) -> Option<&Path> {
        match self {
            Source::Memory(_) => None,
            Source::File(f) => Some(f.file.path()),
        }
    }

    /// Every call is in memory (a trace made in memory, or a file-backed one that loaded them).
    pub(crate) fn in_memory(&self) -> bool {
        match self {
            Source::Memory(_) => true,
            Source::File(f) => f.loaded().is_some(),
        }
    }

    /// Bytes of memory the calls take: the loaded trace's columns, or what the `FileTrace` holds
    /// (plus the loaded trace, once something needed it).
    pub(crate) fn resident_bytes(&self) -> usize {
        match self {
            Source::Memory(t) => t.calls.heap_bytes(),
            Source::File(f) => f.file.resident_bytes() + f.loaded().map_or(0, |t| t.calls.heap_bytes()),
        }
    }

    /// Chunks of the stored window index decoded since opened (0 in memory).
    pub(crate) fn chunks_decoded(&self) -> u64 {
        match self {
            Source::Memory(_) => 0,
            Source::File(f) => f.file.chunks_decoded(),
        }
    }

    /// Threads, processes, functions, bands and metadata (a file-backed trace's skeleton: its
    /// threads' `call_range` are (0, 0); their calls are [`Source::thread_calls`]).
    pub(crate) fn tables(&self) -> &Trace {
        match self {
            Source::Memory(t) => t,
            Source::File(f) => f.file.skeleton(),
        }
    }

    /// Number of calls.
    pub(crate) fn calls(&self) -> u64 {
        match self {
            Source::Memory(t) => t.calls.len() as u64,
            Source::File(f) => f.file.calls(),
        }
    }

    /// Number of calls of each thread (a file-backed trace: from its index's directory).
    pub(crate) fn thread_calls(&self) -> Result<Vec<usize>, LoadError> {
        match self {
            Source::Memory(t) => {
                Ok(t.threads.iter().map(|th| th.call_range.1.saturating_sub(th.call_range.0) as usize).collect())
            }
            Source::File(f) => Ok(f.file.thread_calls().into_iter().map(|n| n as usize).collect()),
        }
    }

    /// Every call: the trace itself, loaded from the file the first time (and kept).
    pub(crate) fn whole(&self) -> Result<Arc<Trace>, LoadError> {
        match self {
            Source::Memory(t) => Ok(t.clone()),
            Source::File(f) => {
                let mut g = f.whole.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(t) = &*g {
                    return Ok(t.clone());
                }
                let t = Arc::new(f.file.load()?);
                *g = Some(t.clone());
                Ok(t)
            }
        }
    }

    /// `fprofile::summary::summarize` of the trace.
    pub(crate) fn summary(&self) -> Result<Arc<Summary>, LoadError> {
        match self {
            Source::Memory(t) => Ok(Arc::new(fprofile::summary::summarize(t))),
            Source::File(f) => {
                if let Some(s) = f.summary.get() {
                    return Ok(s.clone());
                }
                let s = Arc::new(f.file.summary()?);
                Ok(f.summary.get_or_init(|| s).clone())
            }
        }
    }

    /// `fprofile::summary::overall_json` of the trace (a file-backed trace's is kept).
    pub(crate) fn overall_json(&self) -> Result<String, LoadError> {
        match self {
            Source::Memory(t) => Ok(fprofile::summary::overall_json(t)),
            Source::File(f) => {
                if let Some(s) = f.overall.get() {
                    return Ok(s.clone());
                }
                let s = f.file.overall_json()?;
                Ok(f.overall.get_or_init(|| s).clone())
            }
        }
    }

    /// `fprofile::flame::flame` of the trace.
    pub(crate) fn flame(&self, threads: Option<&[u32]>, window: Option<Window>) -> Result<Flame, LoadError> {
        match self {
            Source::Memory(t) => Ok(fprofile::flame::flame(t, threads, window)),
            Source::File(f) => f.file.flame(threads, window),
        }
    }

    /// A file-backed trace's window reply (`FileTrace::window`); None for a trace in memory (the
    /// caller queries its own index).
    pub(crate) fn file_window(
        &self,
        t0_ns: i64,
        t1_ns: i64,
        px: u64,
        threads: Option<&[u64]>,
    ) -> Option<Result<fprofile::window::WindowReply, fprofile::window::WindowError>> {
        match self {
            Source::Memory(_) => None,
            Source::File(f) => Some(f.file.window(t0_ns, t1_ns, px, threads)),
        }
    }

    /// The `.fpt` bytes of a compact `.fpt` file, read as they are (None: not such a file, or in
    /// memory). `Err` when the file can no longer be read.
    pub(crate) fn file_bytes(&self) -> Option<std::io::Result<Vec<u8>>> {
        match self {
            Source::File(f) if f.compact => Some(std::fs::read(f.file.read_path())),
            _ => None,
        }
    }

    /// Writes the trace as `.fpt` to `path` by copying a compact file (true), with no decoding;
    /// false when it is not one (the caller encodes). Copying a file onto itself does nothing.
    pub(crate) fn copy_fpt_to(&self, path: &Path) -> std::io::Result<bool> {
        let Source::File(f) = self else { return Ok(false) };
        if !f.compact {
            return Ok(false);
        }
        let from = f.file.read_path();
        let same = match (std::fs::canonicalize(&from), std::fs::canonicalize(path)) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        };
        if !same {
            std::fs::copy(&from, path)?;
        }
        Ok(true)
    }
}

impl FileSource {
    fn loaded(&self) -> Option<Arc<Trace>> {
        self.whole.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}
