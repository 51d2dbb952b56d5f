//! The `Trace` class: a thin Python view of [`fprofile::Trace`] (per-thread call trees), held in
//! memory or answered from its `.fpt` file (`backed.rs`: the questions that need every call load it
//! once), and the `flame_bytes(trace)` function. Its records are in `records.rs`, the functions that make one
//! (`load`, `load_bytes`, ...) in `functions.rs`, the `Summary` classes in `summary.rs` (the binding's), flame
//! graphs in `aggregate.rs`.
//!
//! Conversion only: formats, saving, summaries, tables, durations and stacks are `fprofile`'s
//! (`formats::registry`, `formats::save`, `summary`, `units`, `stacks`). Everything here is a
//! read-only wrapper: the trace itself is never mutated after construction, so every class is
//! `frozen` and safe to share between threads.

use std::sync::Arc;

use fprofile::formats::registry;
use fprofile::units::format_duration;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyType};

use crate::aggregate;
use crate::backed::Source;
use crate::errors::BindingError;
use crate::paths::path_string;
use crate::records::{process_list, PyCall, PyProcessInfo, PyThreadInfo};
use crate::summary::PySummary;

/// A recorded trace: per-thread call trees.
#[pyclass(name = "Trace", module = "fprofile_jupyter._core", frozen)]
pub struct PyTrace {
    src: Source,
    /// The calls indexed for window queries, built by the first one (`fprofile::window`; a trace
    /// in memory only: a file-backed one's is the `FileTrace`'s).
    window_index: std::sync::OnceLock<Arc<fprofile::window::WindowIndex>>,
    /// `summary_json(overall_only=True)`, computed once (what every host sends with the trace).
    overall_summary: std::sync::OnceLock<String>,
}

impl PyTrace {
    /// Wraps a built trace (used by the recorder and the loaders).
    pub fn from_trace(t: fprofile::Trace) -> Self {
        PyTrace::of(Source::Memory(Arc::new(t)))
    }

    /// Wraps a trace answered from its file (`backed.rs`).
    pub(crate) fn from_source(src: Source) -> Self {
        PyTrace::of(src)
    }

    fn of(src: Source) -> Self {
        PyTrace { src, window_index: std::sync::OnceLock::new(), overall_summary: std::sync::OnceLock::new() }
    }

    /// Where the calls are (`backed.rs`).
    pub(crate) fn source(&self) -> &Source {
        &self.src
    }

    /// The whole trace, every call (a file-backed trace loads it the first time, the GIL released,
    /// and keeps it).
    pub(crate) fn whole(&self, py: Python<'_>) -> Result<Arc<fprofile::Trace>, BindingError> {
        Ok(py.detach(|| self.src.whole())?)
    }

    /// Threads, processes, functions, bands, metadata (not the calls: see `backed.rs`).
    fn tables(&self) -> &fprofile::Trace {
        self.src.tables()
    }

    fn duration(&self) -> i64 {
        self.tables().duration_ns()
    }
}

#[pymethods]
impl PyTrace {
    /// Number of calls.
    fn __len__(&self) -> usize {
        self.src.calls() as usize
    }

    fn __repr__(&self) -> String {
        let t = self.tables();
        let calls = self.src.calls();
        let names: Vec<String> = t.threads.iter().take(4).map(|th| format!("{:?}", th.name())).collect();
        let more = if t.threads.len() > 4 { format!(", ... {} more", t.threads.len() - 4) } else { String::new() };
        let processes = if t.processes.len() > 1 { format!(" of {} processes", t.processes.len()) } else { String::new() };
        let file = match self.src.file() {
            Some(p) => format!(", backed by {:?}", p.to_string_lossy()),
            None => String::new(),
        };
        format!(
            "<Trace: {} call{} of {} function{} in {} thread{}{processes} [{}{}] over {}{file}>",
            calls,
            if calls == 1 { "" } else { "s" },
            t.codes.len(),
            if t.codes.len() == 1 { "" } else { "s" },
            t.threads.len(),
            if t.threads.len() == 1 { "" } else { "s" },
            names.join(", "),
            more,
            format_duration(self.duration())
        )
    }

    /// Absolute monotonic clock time (ns) of t = 0; 0 when unknown.
    #[getter]
    fn origin_ns(&self) -> u64 {
        self.tables().origin_ns
    }

    /// The file this trace is answered from, its absolute path (a file-backed trace: `load()` of a large `.fpt`,
    /// `prof.trace` of a recording streamed to an `.fpt` outfile), else None: its calls are in
    /// memory. A file-backed trace holds a small index, reads the rest from the file as asked, and
    /// loads every call only for what needs them all (`calls()`, callers/callees, exports to other
    /// formats, the picture, `==`, pickling). The file must stay where it is while the trace is used.
    #[getter]
    fn file(&self) -> Option<String> {
        self.src.file().map(|p| p.to_string_lossy().into_owned())
    }

    /// Whether every call is in memory: always for a trace made in memory; for a file-backed one
    /// (`file`), once something that needs every call loaded them.
    #[getter]
    fn in_memory(&self) -> bool {
        self.src.in_memory()
    }

    /// Bytes of memory the calls take (the columns in memory; a file-backed trace's index, plus
    /// the loaded calls once loaded): what the benchmarks and the RSS tests compare.
    fn _resident_bytes(&self) -> usize {
        self.src.resident_bytes() + self.window_index.get().map_or(0, |i| i.heap_bytes())
    }

    /// Chunks of a file-backed trace's stored window index decoded since opened (0 in memory):
    /// what the tests of the stored overview look at.
    fn _chunks_decoded(&self) -> u64 {
        self.src.chunks_decoded()
    }

    /// From t = 0 to the last event of any thread, ns.
    #[getter]
    fn duration_ns(&self) -> i64 {
        self.duration()
    }

    /// Free-form metadata recorded with the trace (subs, python version, ...), a new dict each time.
    #[getter]
    fn metadata<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (k, v) in &self.tables().metadata {
            d.set_item(k, v)?;
        }
        Ok(d)
    }

    /// Folded stacks: one line per distinct stack, `"thread;outer;...;inner count"`, where count is
    /// the number of calls ending that stack; sorted. Frames are function names.
    fn folded(&self, py: Python<'_>) -> Result<Vec<String>, BindingError> {
        Ok(fprofile::stacks::folded(&*self.whole(py)?))
    }

    /// The trace in the compact binary `.fpt` format (what the widget and viewer load). `level`:
    /// zlib level 0-9 (default 6; 1 is about 6x faster to write and 40% larger, for bytes that
    /// only cross a local link, such as a Dask worker's trace on its way to the client). A trace
    /// backed by a compact `.fpt` file gives the file's bytes as they are (no decoding; `level`
    /// is the file's).
    #[pyo3(signature = (level = fprofile::formats::fpt::ZLIB_LEVEL))]
    fn to_bytes<'py>(&self, py: Python<'py>, level: u32) -> Result<Bound<'py, PyBytes>, BindingError> {
        if level > 9 {
            return Err(PyValueError::new_err(format!("level must be 0 to 9 (got {level})")).into());
        }
        if let Some(read) = py.detach(|| self.src.file_bytes()) {
            let path = self.src.file().map(|p| p.to_path_buf()).unwrap_or_default();
            let bytes = read.map_err(|e| fprofile::LoadError { path: Some(path), problem: fprofile::load::Problem::Io(e) })?;
            return Ok(PyBytes::new(py, &bytes));
        }
        let inner = self.whole(py)?;
        let bytes = py.detach(|| fprofile::formats::fpt::encode_with_level(&inner, level));
        Ok(PyBytes::new(py, &bytes))
    }

    /// What the timeline draws of the window `[t0_ns, t1_ns]` at `px` pixels (calls narrower than
    /// a pixel merged into counted runs), as a window reply (`docs/format.md`, "Window replies");
    /// `threads`: thread indices (default all). The calls are indexed by the first call (4 bytes
    /// per call, kept with the trace; a file-backed trace answers from its file). The GIL is
    /// released while it runs.
    #[pyo3(signature = (t0_ns, t1_ns, px, threads=None, *, zlib_level=None))]
    fn window_bytes<'py>(
        &self,
        py: Python<'py>,
        t0_ns: i64,
        t1_ns: i64,
        px: u64,
        threads: Option<Vec<u64>>,
        zlib_level: Option<u32>,
    ) -> Result<Bound<'py, PyBytes>, BindingError> {
        if let Some(reply) = py.detach(|| self.src.file_window(t0_ns, t1_ns, px, threads.as_deref())) {
            let bytes = py.detach(|| reply.map(|r| fprofile::formats::window::encode(&r, zlib_level)))?;
            return Ok(PyBytes::new(py, &bytes));
        }
        let inner = self.whole(py)?;
        let index = self.window_index.get().cloned();
        let (bytes, index) = py.detach(move || {
            let index = index.unwrap_or_else(|| Arc::new(fprofile::window::WindowIndex::build(&inner)));
            let reply = fprofile::window::query(&inner, &index, t0_ns, t1_ns, px, threads.as_deref());
            (reply.map(|r| fprofile::formats::window::encode(&r, zlib_level)), index)
        });
        let _ = self.window_index.set(index);
        Ok(PyBytes::new(py, &bytes?))
    }

    /// The trace without its calls (threads, processes, functions, bands, metadata) as `.fpt`
    /// bytes: what the timeline gets first in windowed mode, the calls coming as window replies.
    fn skeleton_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        let bytes = py.detach(|| match &self.src {
            Source::Memory(t) => fprofile::formats::fpt::encode(&fprofile::window::skeleton(t)),
            Source::File(_) => fprofile::formats::fpt::encode(self.tables()),
        });
        PyBytes::new(py, &bytes)
    }

    /// A trace from `.fpt` bytes (as written by `to_bytes` or `save(..., "fpt")`).
    #[classmethod]
    fn from_bytes(_cls: &Bound<'_, PyType>, py: Python<'_>, data: &[u8]) -> Result<PyTrace, BindingError> {
        // Read in place (bytes are immutable and the argument keeps them alive), not copied first.
        let t = py.detach(|| fprofile::formats::fpt::decode(data))?;
        Ok(PyTrace::from_trace(t))
    }

    /// Writes the trace to `path`, in `format` or the format its extension names; `title` is the
    /// page title of the HTML export and the picture's caption (default: the file name);
    /// `width_px` the picture's width (PNG only). A trace backed by a compact `.fpt` file saved as
    /// `.fpt` is the file copied (no decoding); other formats load every call first.
    #[pyo3(signature = (path, format=None, *, title=None, width_px=None))]
    fn save(
        &self,
        py: Python<'_>,
        path: &Bound<'_, PyAny>,
        format: Option<&str>,
        title: Option<String>,
        width_px: Option<&Bound<'_, PyAny>>,
    ) -> Result<(), BindingError> {
        let path = path_string(path)?;
        let format = registry::save_format(format, &path)?;
        let width = width_px.map(picture_width).transpose()?;
        if let Some(w) = width {
            if format != fprofile::formats::Format::Png {
                let msg = format!("width_px is the width of a png picture; {path} is written as {}", format.name());
                return Err(PyValueError::new_err(msg).into());
            }
            fprofile::formats::png::check_width(w)?; // a ValueError, before the file is touched
        }
        if format == fprofile::formats::Format::Fpt {
            let to = std::path::PathBuf::from(&path);
            let copied = py.detach(|| self.src.copy_fpt_to(&to));
            match copied {
                Ok(true) => return Ok(()),
                Ok(false) => {}
                Err(source) => return Err(fprofile::formats::SaveError { path: to, source }.into()),
            }
        }
        let inner = self.whole(py)?;
        py.detach(move || fprofile::formats::save_with(&inner, &path, format, title.as_deref(), width))?;
        Ok(())
    }

    /// The static picture of the run as PNG bytes (`fprofile::formats::png`): every process and
    /// thread as lanes, calls in their timeline colours, the time axis, the caption (the
    /// metadata's `title`, else "fprofile trace"). `width_px`: 320 to 4096. The GIL is released.
    #[pyo3(signature = (*, width_px=None))]
    fn picture_png<'py>(
        &self,
        py: Python<'py>,
        width_px: Option<&Bound<'py, PyAny>>,
    ) -> Result<Bound<'py, PyBytes>, BindingError> {
        let width = match width_px {
            Some(w) => picture_width(w)?,
            None => i128::from(fprofile::formats::png::DEFAULT_WIDTH_PX),
        };
        let inner = self.whole(py)?;
        let bytes = py.detach(move || {
            let title = fprofile::formats::png::title_of(&inner);
            fprofile::formats::png::to_png(&inner, &title, width)
        })?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// Per-function figures (calls, total, self, mean, max), overall, per process (`per_process`)
    /// and per thread (`per_thread`). `task`: of the calls made inside that task's bands only (an
    /// asyncio task's name, a Dask task's key: `fprofile::tasks`); ValueError naming the tasks
    /// there are when none has that name. A file-backed trace's is computed from the file (one
    /// pass, memory bounded by the functions and threads; with `task`, every call is loaded).
    #[pyo3(signature = (*, task=None))]
    fn summary(&self, py: Python<'_>, task: Option<String>) -> PyResult<PySummary> {
        let t = self.tables();
        let processes: Vec<(String, usize)> = (0..t.processes.len())
            .map(|p| (t.process_label(p), t.threads.iter().filter(|th| th.process as usize == p).count()))
            .collect();
        let roots = fprofile::paths::Roots::from_metadata(&t.metadata);
        let Some(name) = task else {
            let s = py.detach(|| self.src.summary()).map_err(BindingError::from)?;
            return Ok(PySummary::from_core(Arc::unwrap_or_clone(s), processes, roots));
        };
        let whole = self.whole(py)?;
        let inner = match fprofile::tasks::restrict(&whole, &name) {
            Some(t) => Arc::new(t),
            None => {
                let known = fprofile::tasks::labels(&whole);
                let shown: Vec<String> = known.iter().take(10).map(|l| format!("{l:?}")).collect();
                let more = if known.len() > 10 { format!(" and {} more", known.len() - 10) } else { String::new() };
                return Err(PyValueError::new_err(if known.is_empty() {
                    format!("summary(task={name:?}): this trace has no tasks (no bands)")
                } else {
                    format!("summary(task={name:?}): no task of that name; the tasks are {}{more}", shown.join(", "))
                }));
            }
        };
        Ok(PySummary::from_core(py.detach(move || fprofile::summary::summarize(&inner)), processes, roots))
    }

    /// The summary as JSON (docs/format.md); `overall_only`: only `{"overall": [...]}`, what the
    /// widget and the HTML export send (the timeline computes the rest from the trace).
    #[pyo3(signature = (*, overall_only=false))]
    fn summary_json(&self, py: Python<'_>, overall_only: bool) -> Result<String, BindingError> {
        if overall_only {
            if let Some(s) = self.overall_summary.get() {
                return Ok(s.clone());
            }
            let s = py.detach(|| self.src.overall_json())?;
            let _ = self.overall_summary.set(s.clone());
            return Ok(s);
        }
        let s = py.detach(|| self.src.summary())?;
        // Serializing plain structs of strings and integers cannot fail.
        Ok(serde_json::to_string(&*s).unwrap_or_else(|_| "{\"overall\":[],\"processes\":[],\"threads\":[]}".into()))
    }

    /// Prepares a windowed showing: the window index and the overall summary, built side by side
    /// (each a pass over the calls; both kept with the trace). The GIL is released. A file-backed
    /// trace has nothing to build (its `FileTrace` answers windows and the summary).
    fn _prepare_windowed(&self, py: Python<'_>) {
        let Source::Memory(inner) = &self.src else { return };
        let inner = inner.clone();
        let need_index = self.window_index.get().is_none();
        let need_summary = self.overall_summary.get().is_none();
        let (index, summary) = py.detach(move || {
            std::thread::scope(|scope| {
                let summary = need_summary.then(|| scope.spawn(|| fprofile::summary::overall_json(&inner)));
                let index = need_index.then(|| Arc::new(fprofile::window::WindowIndex::build(&inner)));
                (index, summary.and_then(|h| h.join().ok()))
            })
        });
        if let Some(index) = index {
            let _ = self.window_index.set(index);
        }
        if let Some(summary) = summary {
            let _ = self.overall_summary.set(summary);
        }
    }

    /// Rich display (Jupyter): the timeline widget, a static HTML fallback and the text repr;
    /// built by `fprofile_jupyter._display.mimebundle`.
    #[pyo3(signature = (include=None, exclude=None))]
    fn _repr_mimebundle_<'py>(
        slf: &Bound<'py, Self>,
        include: Option<Bound<'py, PyAny>>,
        exclude: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        py.import("fprofile_jupyter._display")?.getattr("mimebundle")?.call1((slf, include, exclude))
    }

    /// Displays the trace: the timeline widget in a notebook, the text repr elsewhere.
    fn show(slf: &Bound<'_, Self>) -> PyResult<()> {
        let py = slf.py();
        py.import("fprofile_jupyter._show")?.getattr("show")?.call1((slf,))?;
        Ok(())
    }

    /// Pickling (and `copy`): through the `.fpt` bytes.
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<(Bound<'py, PyAny>, (Bound<'py, PyBytes>,))> {
        let py = slf.py();
        let ctor = py.get_type::<PyTrace>().getattr("from_bytes")?;
        Ok((ctor, (slf.get().to_bytes(py, fprofile::formats::fpt::ZLIB_LEVEL)?,)))
    }

    /// Two traces are equal when they hold exactly the same threads, calls, functions and metadata
    /// (a file-backed trace loads its calls to tell).
    fn __eq__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> Result<bool, BindingError> {
        match other.cast::<PyTrace>() {
            Ok(o) => {
                if self.src.calls() != o.get().src.calls() || self.tables().codes != o.get().tables().codes {
                    return Ok(false);
                }
                Ok(*self.whole(py)? == *o.get().whole(py)?)
            }
            Err(_) => Ok(false),
        }
    }

    /// The flame graph: calls merged by call path (`fprofile::flame`), as nested dicts (the
    /// top-level nodes); `threads`: an index, a name or a list of them (default all, merged);
    /// `window`: `(t0_ns, t1_ns)`, calls clipped to it. Built in `aggregate.rs`.
    #[pyo3(signature = (threads=None, window=None))]
    fn flame<'py>(
        &self,
        py: Python<'py>,
        threads: Option<Bound<'py, PyAny>>,
        window: Option<(i64, i64)>,
    ) -> PyResult<Bound<'py, pyo3::types::PyList>> {
        crate::aggregate::flame(py, &self.src, threads.as_ref(), window)
    }

    /// The callers of `function` (a name or a code id) merged upward, as a nested dict.
    #[pyo3(signature = (function, file=None, threads=None))]
    fn callers<'py>(
        &self,
        function: &Bound<'py, PyAny>,
        file: Option<&str>,
        threads: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let t = self.whole(function.py())?;
        crate::aggregate::sandwich(function.py(), &t, function, file, threads.as_ref(), true)
    }

    /// The callees of `function` (a name or a code id) merged downward, as a nested dict.
    #[pyo3(signature = (function, file=None, threads=None))]
    fn callees<'py>(
        &self,
        function: &Bound<'py, PyAny>,
        file: Option<&str>,
        threads: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let t = self.whole(function.py())?;
        crate::aggregate::sandwich(function.py(), &t, function, file, threads.as_ref(), false)
    }

    /// The threads, in order of their first event (a file-backed trace counts each thread's calls
    /// from its summary, one pass over the file the first time).
    #[getter]
    fn threads(&self, py: Python<'_>) -> Result<Vec<PyThreadInfo>, BindingError> {
        let t = self.tables();
        let counts = py.detach(|| self.src.thread_calls())?;
        Ok((0..t.threads.len()).map(|i| PyThreadInfo::of(t, i, counts.get(i).copied().unwrap_or(0))).collect())
    }

    /// The processes (one for a one-process trace, with pid 0 when the file did not say; none for
    /// a trace with no threads).
    #[getter]
    fn processes(&self) -> Vec<PyProcessInfo> {
        process_list(self.tables())
    }

    /// Labelled spans above threads' calls (the Dask task a worker thread ran), as tuples
    /// `(thread, start_ns, end_ns, label)`: `thread` an index into `threads`, times from the trace
    /// origin; ordered by thread, then start.
    #[getter]
    fn bands(&self) -> Vec<(u32, i64, i64, String)> {
        self.tables().bands.iter().map(|b| (b.thread, b.start_ns, b.end_ns, b.label.clone())).collect()
    }

    /// The calls, grouped by thread and in pre-order within a thread; only those of `thread`
    /// (an index into `threads`) when given.
    #[pyo3(signature = (thread=None))]
    fn calls(&self, py: Python<'_>, thread: Option<usize>) -> PyResult<Vec<PyCall>> {
        let t = self.whole(py)?;
        PyCall::all_of(py, &t, thread)
    }
}

/// A picture width from Python: an int (any size: one too large for 128 bits is out of range,
/// with the picture's message).
fn picture_width(w: &Bound<'_, PyAny>) -> Result<i128, BindingError> {
    if w.is_instance_of::<pyo3::types::PyBool>() || !w.is_instance_of::<pyo3::types::PyInt>() {
        let kind = w.get_type().name().map(|n| n.to_string()).unwrap_or_default();
        return Err(pyo3::exceptions::PyTypeError::new_err(format!("width_px must be an int (got {kind})")).into());
    }
    match w.extract::<i128>() {
        Ok(v) => Ok(v),
        Err(_) => Err(fprofile::formats::png::PictureError::Width(w.str().map(|s| s.to_string()).unwrap_or_default()).into()),
    }
}

/// The flame graph in the timeline's encoding (`docs/format.md`, "The flame graph encoding").
#[pyfunction]
#[pyo3(signature = (trace, threads=None, window=None))]
fn flame_bytes<'py>(
    py: Python<'py>,
    trace: &Bound<'py, PyTrace>,
    threads: Option<Bound<'py, PyAny>>,
    window: Option<(i64, i64)>,
) -> PyResult<Bound<'py, PyBytes>> {
    aggregate::flame_bytes(py, trace.get().source(), threads.as_ref(), window)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(flame_bytes, m)?)?;
    m.add_class::<PyTrace>()?;
    Ok(())
}
