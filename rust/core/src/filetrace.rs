//! A trace backed by its `.fpt` file (issue 22, items 3 and 4): what `load()` of a long run, the
//! stop of a streamed recording (`prof.trace`) and the notebook's windowed timeline hold, instead of
//! the whole [`Trace`] in memory.
//!
//! The contract (what the binding and the Python layer use; they need nothing else):
//! - [`FileTrace::open`] reads the file's tables (functions, threads, processes, bands, metadata)
//!   and what it needs to answer the questions below; [`FileTrace::skeleton`] is that trace without
//!   calls (`crate::window::skeleton`'s form), [`FileTrace::calls`] the number of calls.
//! - [`FileTrace::window`] answers a window request exactly as `crate::window::query` does on the
//!   loaded trace (the same reply, byte for byte once encoded).
//! - [`FileTrace::summary`], [`FileTrace::overall_json`] and [`FileTrace::flame`] give what
//!   `crate::summary::summarize`, `crate::summary::overall_json` and `crate::flame::flame` give on
//!   the loaded trace.
//! - [`FileTrace::load`] is the whole trace (what `crate::load::load` returns), for the questions
//!   that need every call.
//! - [`FileTrace::resident_bytes`] is the memory it holds (what the benchmarks and the RSS tests
//!   compare with the calls).
//!
//! How: a compact `.fpt` (version 2) is answered from its stored window index
//! ([`crate::winindex`]: a sidecar `big.fpt.fpx`, checked against the file and rebuilt in one
//! bounded pass when missing, stale or damaged): the skeleton, the overall summary and the
//! directory of the index's chunks are resident (0.05 bytes per call), the overview (the whole
//! run at `crate::window::OVERVIEW_PX`, every thread: what a host draws first) is stored in the
//! index's directory ([`FileTrace::overview`]; [`FileTrace::window`] returns it when asked
//! for exactly that window, without decoding a chunk), other windows decode a few chunks per row
//! through a cache bounded by bytes (64 MiB; [`FileTrace::set_cache_bytes`]), and the summary and the flame graph are one walk
//! of the file each ([`crate::formats::fpt::walk_file`], memory bounded by functions and call
//! paths). Every other file (streamed `FPST`, `.fpt` version 1, PYME text or JSON, a pipe) is
//! loaded whole, as `load()` does, and answered from memory.
//!
//! Why a stored index rather than the loaded columns made smaller: the columns in memory take
//! 29 bytes a call (16 at best with the planned packing, 1.6 GB at 100M calls), the index's
//! directory 0.05, and a window reads only the chunks it draws (100M calls: open and first
//! window in 0.1 s, 14 MB peak RSS) (see `benchmarks/README.md`,
//! "A long run, end to end: the file-backed trace").

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock, RwLock};

use crate::flame::{Flame, Window};
use crate::load::LoadError;
use crate::summary::Summary;
use crate::window::{WindowError, WindowIndex, WindowReply};
use crate::winindex::read::FileIndex;
use crate::Trace;

enum Backing {
    /// Loaded whole (not a compact `.fpt`).
    Whole { trace: Box<Trace>, index: OnceLock<WindowIndex> },
    /// Answered from the stored index (replaced when found damaged).
    /// `file`: the `.fpt` as it was opened, read through its descriptor (a file replaced or
    /// removed under the name meanwhile still answers as it was).
    Indexed { index: RwLock<Arc<FileIndex>>, place: RwLock<Option<PathBuf>>, file: Option<std::fs::File> },
}

/// A trace read from its file on demand (see the module docs).
pub struct FileTrace {
    path: PathBuf,
    skeleton: Trace,
    calls: u64,
    backing: Backing,
}

impl std::fmt::Debug for FileTrace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileTrace")
            .field("path", &self.path)
            .field("calls", &self.calls)
            .field("indexed", &self.is_indexed())
            .finish()
    }
}

/// Where the index of `path` may be kept, in order: the sidecar, the user's cache.
pub(crate) fn index_places(path: &Path) -> Vec<PathBuf> {
    places(path)
}

fn places(path: &Path) -> Vec<PathBuf> {
    let mut v = vec![crate::winindex::sidecar_path(path)];
    v.extend(crate::winindex::cache_path(path));
    v
}

/// Is `path` a regular file holding a compact `.fpt` (version 2)?
fn compact_fpt(path: &Path) -> bool {
    use std::io::Read;
    if !matches!(crate::fsio::kind(path), Ok(crate::fsio::Kind::Regular)) {
        return false;
    }
    let mut head = Vec::new();
    let read = std::fs::File::open(path).and_then(|f| f.take(crate::formats::fpt::HEADER_LEN as u64).read_to_end(&mut head));
    read.is_ok()
        && head.len() == crate::formats::fpt::HEADER_LEN
        && head.starts_with(&crate::formats::fpt::MAGIC)
        && head[4..6] == crate::formats::fpt::VERSION.to_le_bytes()
}

/// The stored index of the compact `.fpt` at `path`, when a valid one exists (no building).
fn find_index(path: &Path) -> Option<(FileIndex, PathBuf)> {
    let stamp = crate::winindex::Stamp::of(path).ok()?;
    places(path).into_iter().find_map(|p| {
        let f = crate::winindex::open_private(&p, stamp.uid)?;
        FileIndex::open(f, &stamp).map(|i| (i, p))
    })
}

/// Where opening the file may write its index: [`places`], for a file of at least
/// [`crate::winindex::open_min_bytes`] bytes; none for a smaller one (its index, made in well
/// under a second, lives in an unlinked temporary file while it is open: no file left beside it).
fn write_places(path: &Path) -> Vec<PathBuf> {
    let big = std::fs::metadata(path).is_ok_and(|m| m.len() >= crate::winindex::open_min_bytes());
    if big {
        places(path)
    } else {
        Vec::new()
    }
}

/// Builds the index of the compact `.fpt` at `path` (the sidecar, else the cache, else an
/// unlinked temporary file: [`write_places`]) and opens it.
fn build_index(path: &Path) -> Result<(FileIndex, Option<PathBuf>), LoadError> {
    let place = crate::winindex::build::build(path, &write_places(path))?;
    let stamp = crate::winindex::Stamp::of(path)
        .map_err(|e| LoadError { path: Some(path.to_path_buf()), problem: crate::load::Problem::Io(e) })?;
    let again = || LoadError {
        path: Some(path.to_path_buf()),
        problem: crate::load::Problem::Io(std::io::Error::other(
            "the window index just written does not read back (the file changed meanwhile?)",
        )),
    };
    match place {
        crate::winindex::build::Place::Path(p) => {
            let f = crate::winindex::open_private(&p, stamp.uid).ok_or_else(again)?;
            Ok((FileIndex::open(f, &stamp).ok_or_else(again)?, Some(p)))
        }
        crate::winindex::build::Place::Temp(f) => Ok((FileIndex::open(f, &stamp).ok_or_else(again)?, None)),
    }
}

/// Writes the window index of the compact `.fpt` at `path` (the sidecar, else the user's
/// cache), so that opening it later is immediate; returns where. What the stop's rewrite and
/// `formats::save` call after writing a file.
pub fn write_index(path: &Path) -> Result<PathBuf, LoadError> {
    match crate::winindex::build::build(path, &places(path))? {
        crate::winindex::build::Place::Path(p) => Ok(p),
        crate::winindex::build::Place::Temp(_) => Err(LoadError {
            path: Some(path.to_path_buf()),
            problem: crate::load::Problem::Io(std::io::Error::other("no folder could hold the window index")),
        }),
    }
}

/// [`write_index`] of the `.fpt` at `path` just written from `t` (`formats::save`): made from
/// `t`, without reading the file back.
pub fn write_index_of(path: &Path, t: &Trace) -> Result<PathBuf, LoadError> {
    match crate::winindex::build::build_from_trace(path, t, &places(path))? {
        crate::winindex::build::Place::Path(p) => Ok(p),
        crate::winindex::build::Place::Temp(_) => Err(LoadError {
            path: Some(path.to_path_buf()),
            problem: crate::load::Problem::Io(std::io::Error::other("no folder could hold the window index")),
        }),
    }
}

impl FileTrace {
    /// Opens the trace file at `path`: a compact `.fpt` through its stored window index (built
    /// now when missing or stale), any other file the loader reads by loading it whole.
    pub fn open(path: impl AsRef<Path>) -> Result<FileTrace, LoadError> {
        let path = path.as_ref();
        if compact_fpt(path) {
            let file = std::fs::File::open(path).ok();
            let found = find_index(path).map(|(i, p)| (i, Some(p))).map(Ok).unwrap_or_else(|| build_index(path));
            if let Ok((mut index, place)) = found {
                let skeleton = std::mem::take(&mut index.skeleton);
                return Ok(FileTrace {
                    path: path.to_path_buf(),
                    calls: index.calls(),
                    skeleton,
                    backing: Backing::Indexed { index: RwLock::new(Arc::new(index)), place: RwLock::new(place), file },
                });
            }
            // a file the walk refuses: loaded as `load()` loads it (its error, or what is whole)
        }
        let whole = crate::load::load(path)?;
        Ok(FileTrace {
            path: path.to_path_buf(),
            skeleton: crate::window::skeleton(&whole),
            calls: whole.calls.len() as u64,
            backing: Backing::Whole { trace: Box::new(whole), index: OnceLock::new() },
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where the calls are read: the `.fpt` opened at [`FileTrace::open`], through its descriptor
    /// (`/proc/self/fd/N`), so that a file replaced or removed under its name meanwhile (a cell run
    /// again with the same outfile) answers as the trace it was; the name where that is not
    /// available.
    pub fn read_path(&self) -> PathBuf {
        use std::os::fd::AsRawFd;
        match &self.backing {
            Backing::Indexed { file: Some(f), .. } => {
                let p = PathBuf::from(format!("/proc/self/fd/{}", f.as_raw_fd()));
                if p.exists() {
                    p
                } else {
                    self.path.clone()
                }
            }
            _ => self.path.clone(),
        }
    }

    /// The trace without its calls: threads (`call_range` (0, 0)), processes, functions, bands,
    /// metadata.
    pub fn skeleton(&self) -> &Trace {
        &self.skeleton
    }

    /// Number of calls.
    pub fn calls(&self) -> u64 {
        self.calls
    }

    /// Calls of each thread, in thread order (from the index's directory: no pass over the calls).
    pub fn thread_calls(&self) -> Vec<u64> {
        match &self.backing {
            Backing::Whole { trace, .. } => {
                trace.threads.iter().map(|th| u64::from(th.call_range.1.saturating_sub(th.call_range.0))).collect()
            }
            Backing::Indexed { .. } => self.file_index().map_or_else(Vec::new, |i| i.thread_calls()),
        }
    }

    /// Is it answered from a stored index (a compact `.fpt`), not from the trace loaded whole?
    pub fn is_indexed(&self) -> bool {
        matches!(self.backing, Backing::Indexed { .. })
    }

    /// Where its stored index is (`None`: loaded whole, or an unlinked temporary file).
    pub fn index_path(&self) -> Option<PathBuf> {
        match &self.backing {
            Backing::Indexed { place, .. } => place.read().ok().and_then(|p| p.clone()),
            Backing::Whole { .. } => None,
        }
    }

    /// Decoded chunks of the index kept at most, counted in full chunks (about 30 KB each:
    /// [`FileTrace::set_cache_bytes`] of `n * crate::winindex::read::CHUNK_BYTES`).
    pub fn set_cache_chunks(&self, n: usize) {
        if let Some(i) = self.file_index() {
            i.set_cache_chunks(n);
        }
    }

    /// Bytes of decoded chunks of the index kept at most (default
    /// `crate::winindex::read::CACHE_BYTES`, 64 MiB; counted in [`FileTrace::resident_bytes`]).
    pub fn set_cache_bytes(&self, bytes: usize) {
        if let Some(i) = self.file_index() {
            i.set_cache_bytes(bytes);
        }
    }

    /// The overview: the whole run (`crate::window::overview_span` of the skeleton's threads) at
    /// `crate::window::OVERVIEW_PX` pixels, every thread; what [`FileTrace::window`] returns for
    /// that window. From the index's directory when stored there (no chunk decoded), else asked.
    pub fn overview(&self) -> Result<WindowReply, WindowError> {
        let (t0, t1) = crate::window::overview_span(&self.skeleton.threads);
        self.window(t0, t1, crate::window::OVERVIEW_PX, None)
    }

    /// Chunks of the index decoded since opened (0 when loaded whole).
    pub fn chunks_decoded(&self) -> u64 {
        self.file_index().map_or(0, |i| i.chunks_decoded())
    }

    fn file_index(&self) -> Option<Arc<FileIndex>> {
        match &self.backing {
            Backing::Indexed { index, .. } => index.read().ok().map(|i| i.clone()),
            Backing::Whole { .. } => None,
        }
    }

    /// `crate::window::query` of the loaded trace.
    pub fn window(&self, t0_ns: i64, t1_ns: i64, px: u64, threads: Option<&[u64]>) -> Result<WindowReply, WindowError> {
        let (index, place) = match &self.backing {
            Backing::Whole { trace, index } => {
                let index = index.get_or_init(|| WindowIndex::build(trace));
                return crate::window::query(trace, index, t0_ns, t1_ns, px, threads);
            }
            Backing::Indexed { index, place, .. } => (index, place),
        };
        let current = index.read().map_err(|_| WindowError::Index("is unusable (a query panicked)".into()))?.clone();
        if current.is_overview(t0_ns, t1_ns, px, threads) {
            if let Some(r) = current.overview() {
                return Ok(r);
            }
        }
        match crate::window::query_rows(&*current, t0_ns, t1_ns, px, threads) {
            Err(WindowError::Index(why)) => {
                // damaged or unreadable: not trusted, rebuilt from the file, asked again
                let (mut fresh, p) =
                    build_index(&self.path).map_err(|e| WindowError::Index(format!("{why}; rebuilding it failed: {e}")))?;
                let _ = std::mem::take(&mut fresh.skeleton);
                let fresh = Arc::new(fresh);
                if let (Ok(mut i), Ok(mut pl)) = (index.write(), place.write()) {
                    *i = fresh.clone();
                    *pl = p;
                }
                crate::window::query_rows(&*fresh, t0_ns, t1_ns, px, threads)
            }
            r => r,
        }
    }

    /// `crate::summary::summarize` of the loaded trace.
    pub fn summary(&self) -> Result<Summary, LoadError> {
        match &self.backing {
            Backing::Whole { trace, .. } => Ok(crate::summary::summarize(trace)),
            Backing::Indexed { .. } => {
                let mut acc = crate::summary::WalkAcc::default();
                let (trace, _) = crate::formats::fpt::walk_file(&self.read_path(), &mut acc, &mut |_, _| {})
                    .map_err(|e| crate::winindex::fpt_error(&self.path, e))?;
                Ok(crate::summary::from_threads(&trace, acc.accs))
            }
        }
    }

    /// `crate::summary::overall_json` of the loaded trace (the first showing's summary).
    pub fn overall_json(&self) -> Result<String, LoadError> {
        match &self.backing {
            Backing::Whole { trace, .. } => Ok(crate::summary::overall_json(trace)),
            Backing::Indexed { index, .. } => Ok(index.read().map(|i| i.overall_json.clone()).unwrap_or_default()),
        }
    }

    /// `crate::flame::flame` of the loaded trace.
    pub fn flame(&self, threads: Option<&[u32]>, window: Option<Window>) -> Result<Flame, LoadError> {
        match &self.backing {
            Backing::Whole { trace, .. } => Ok(crate::flame::flame(trace, threads, window)),
            Backing::Indexed { .. } => {
                if window.is_some_and(|w| w.t1_ns <= w.t0_ns) {
                    return Ok(Flame::default());
                }
                let mut walk = crate::flame::FlameWalk::new(threads, window);
                crate::formats::fpt::walk_file(&self.read_path(), &mut walk, &mut |_, _| {})
                    .map_err(|e| crate::winindex::fpt_error(&self.path, e))?;
                Ok(walk.finish())
            }
        }
    }

    /// The whole trace, every call in memory.
    pub fn load(&self) -> Result<Trace, LoadError> {
        match &self.backing {
            Backing::Whole { trace, .. } => Ok((**trace).clone()),
            Backing::Indexed { .. } => crate::load::load(self.read_path()).map_err(|mut e| {
                e.path = Some(self.path.clone());
                e
            }),
        }
    }

    /// Bytes of memory this holds (tables, index, caches).
    pub fn resident_bytes(&self) -> usize {
        match &self.backing {
            Backing::Whole { trace, index } => trace.calls.heap_bytes() + index.get().map_or(0, WindowIndex::heap_bytes),
            Backing::Indexed { .. } => self.file_index().map_or(0, |i| i.resident_bytes()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_replaced_or_removed_under_its_name_answers_as_it_was_opened() {
        let (a, b) = (crate::synthetic::synthetic_trace(3000, 2, 1), crate::synthetic::synthetic_trace(2000, 3, 2));
        let dir = std::env::temp_dir().join(format!("fprofile-filetrace-fd-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("t.fpt");
        std::fs::write(&p, crate::formats::fpt::encode(&a)).unwrap();
        let f = FileTrace::open(&p).unwrap();
        assert!(f.is_indexed());
        // the same name, another trace (a cell run again with the same outfile)
        let q = dir.join("t.fpt.new");
        std::fs::write(&q, crate::formats::fpt::encode(&b)).unwrap();
        std::fs::rename(&q, &p).unwrap();
        assert_eq!(f.load().unwrap(), a);
        assert_eq!(f.summary().unwrap(), crate::summary::summarize(&a));
        assert_eq!(f.flame(None, None).unwrap().encode(), crate::flame::flame(&a, None, None).encode());
        // and gone
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(f.load().unwrap(), a);
        assert_eq!(f.summary().unwrap(), crate::summary::summarize(&a));
    }

    #[test]
    fn answers_as_the_loaded_trace() {
        let t = crate::synthetic::synthetic_trace(1500, 3, 7);
        let p = std::env::temp_dir().join(format!("fprofile-filetrace-{}.fpt", std::process::id()));
        std::fs::write(&p, crate::formats::fpt::encode(&t)).unwrap();
        let f = FileTrace::open(&p).unwrap();
        assert_eq!(f.calls(), t.calls.len() as u64);
        assert_eq!(f.skeleton(), &crate::window::skeleton(&t));
        let (a, b) = (t.threads.iter().map(|x| x.first_ns).min().unwrap(), t.duration_ns());
        let index = WindowIndex::build(&t);
        assert_eq!(f.window(a, b, 800, None).unwrap(), crate::window::query(&t, &index, a, b, 800, None).unwrap());
        assert_eq!(f.overall_json().unwrap(), crate::summary::overall_json(&t));
        assert_eq!(f.flame(None, None).unwrap().encode(), crate::flame::flame(&t, None, None).encode());
        assert_eq!(f.load().unwrap(), t);
        let _ = std::fs::remove_file(&p);
        let _ = std::fs::remove_file(crate::winindex::sidecar_path(&p));
    }

    #[test]
    fn can_be_shared_between_threads() {
        fn shared<T: Send + Sync>() {}
        shared::<FileTrace>();
    }
}
