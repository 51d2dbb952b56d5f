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
//! This first version holds the whole trace (opened by loading it): the contract is what it
//! answers, not how. The index stored in the file replaces that (see `docs/format.md`).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::flame::{Flame, Window};
use crate::load::LoadError;
use crate::summary::Summary;
use crate::window::{WindowError, WindowIndex, WindowReply};
use crate::Trace;

/// A trace read from its file on demand (see the module docs).
pub struct FileTrace {
    path: PathBuf,
    skeleton: Trace,
    calls: u64,
    whole: Trace,
    index: OnceLock<WindowIndex>,
}

impl std::fmt::Debug for FileTrace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileTrace").field("path", &self.path).field("calls", &self.calls).finish()
    }
}

impl FileTrace {
    /// Opens the trace file at `path` (an `.fpt` file, compact or streamed; any other format the
    /// loader reads is loaded whole).
    pub fn open(path: impl AsRef<Path>) -> Result<FileTrace, LoadError> {
        let path = path.as_ref();
        let whole = crate::load::load(path)?;
        Ok(FileTrace {
            path: path.to_path_buf(),
            skeleton: crate::window::skeleton(&whole),
            calls: whole.calls.len() as u64,
            whole,
            index: OnceLock::new(),
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
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

    /// `crate::window::query` of the loaded trace.
    pub fn window(&self, t0_ns: i64, t1_ns: i64, px: u64, threads: Option<&[u64]>) -> Result<WindowReply, WindowError> {
        let index = self.index.get_or_init(|| WindowIndex::build(&self.whole));
        crate::window::query(&self.whole, index, t0_ns, t1_ns, px, threads)
    }

    /// `crate::summary::summarize` of the loaded trace.
    pub fn summary(&self) -> Result<Summary, LoadError> {
        Ok(crate::summary::summarize(&self.whole))
    }

    /// `crate::summary::overall_json` of the loaded trace (the first showing's summary).
    pub fn overall_json(&self) -> Result<String, LoadError> {
        Ok(crate::summary::overall_json(&self.whole))
    }

    /// `crate::flame::flame` of the loaded trace.
    pub fn flame(&self, threads: Option<&[u32]>, window: Option<Window>) -> Result<Flame, LoadError> {
        Ok(crate::flame::flame(&self.whole, threads, window))
    }

    /// The whole trace, every call in memory.
    pub fn load(&self) -> Result<Trace, LoadError> {
        Ok(self.whole.clone())
    }

    /// Bytes of memory this holds (tables, index, caches).
    pub fn resident_bytes(&self) -> usize {
        self.whole.calls.heap_bytes() + self.index.get().map_or(0, WindowIndex::heap_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }
}
