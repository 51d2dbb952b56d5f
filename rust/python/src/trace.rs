//! The `Trace` class: a thin Python view of [`fprofile::Trace`] (per-thread call trees), its
//! `ThreadInfo` and `Call` record classes, and the module-level loaders, `formats()` and
//! `format_duration()` (the `Summary` classes are in `summary.rs`).
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
use pyo3::types::{PyBytes, PyDict, PyString, PyType};

use crate::errors::BindingError;
use crate::summary::{PySummary, PySummaryRow};

/// A progress callback for the Rust side: calls the Python callable `cb(done, total)` (taking the
/// GIL for the call); after the first exception from it, stops calling and keeps the exception.
pub(crate) struct PyProgress {
    cb: Option<Py<PyAny>>,
    pub(crate) error: Option<PyErr>,
}

impl PyProgress {
    pub(crate) fn new(cb: Option<Bound<'_, PyAny>>) -> Self {
        PyProgress { cb: cb.map(Bound::unbind), error: None }
    }

    pub(crate) fn call(&mut self, done: usize, total: usize) {
        if self.error.is_some() {
            return;
        }
        if let Some(cb) = &self.cb {
            if let Err(e) = Python::attach(|py| cb.call1(py, (done, total)).map(drop)) {
                self.error = Some(e);
            }
        }
    }
}

fn path_string(path: &Bound<'_, PyAny>) -> PyResult<String> {
    let p: std::path::PathBuf = path.extract()?;
    Ok(p.to_string_lossy().into_owned())
}

/// One thread of a trace.
#[pyclass(name = "ThreadInfo", module = "fprofile_jupyter._core", frozen)]
pub struct PyThreadInfo {
    /// Index of this thread in `Trace.threads` (the `thread` of its calls).
    #[pyo3(get)]
    index: usize,
    /// OS thread id (`threading.get_native_id()`), 0 when unknown (PYME text files).
    #[pyo3(get)]
    os_id: u64,
    /// The thread's latest name.
    #[pyo3(get)]
    name: String,
    /// The names over time: `[(t_ns, name), ...]`, t_ns relative to the trace origin.
    #[pyo3(get)]
    names: Vec<(i64, String)>,
    /// First event time of the thread, ns from the trace origin.
    #[pyo3(get)]
    first_ns: i64,
    /// Last event time of the thread, ns from the trace origin.
    #[pyo3(get)]
    last_ns: i64,
    /// Overview lane (PYME's assignment).
    #[pyo3(get)]
    lane: u32,
    /// Number of recorded calls of this thread.
    #[pyo3(get)]
    call_count: usize,
    /// Index of its process in `Trace.processes`.
    #[pyo3(get)]
    process: u32,
    /// OS id of its process (0 when unknown: PYME files, `.fpt` version 1).
    #[pyo3(get)]
    pid: u64,
    /// The trace has more than one process (the repr then names this thread's).
    several_processes: bool,
}

#[pymethods]
impl PyThreadInfo {
    fn __repr__(&self) -> String {
        let process =
            if self.several_processes { format!(", process={}, pid={}", self.process, self.pid) } else { String::new() };
        format!(
            "ThreadInfo(index={}, name={:?}, os_id={}, calls={}, first_ns={}, last_ns={}, lane={}{process})",
            self.index, self.name, self.os_id, self.call_count, self.first_ns, self.last_ns, self.lane
        )
    }
}

/// One process of a trace: the program that made it, a child process, a Dask worker.
#[pyclass(name = "ProcessInfo", module = "fprofile_jupyter._core", frozen)]
pub struct PyProcessInfo {
    /// Index of this process in `Trace.processes` (the `process` of its threads).
    #[pyo3(get)]
    index: usize,
    /// OS process id, 0 when unknown (PYME files, `.fpt` version 1).
    #[pyo3(get)]
    pid: u64,
    /// Its parent's process id, 0 when unknown.
    #[pyo3(get)]
    parent_pid: u64,
    /// A Dask worker's name, a multiprocessing process's name, or the program and its arguments.
    #[pyo3(get)]
    name: String,
    /// Host name ("" when unknown).
    #[pyo3(get)]
    host: String,
    /// When its recording started, ns from the trace origin (on the trace's clock).
    #[pyo3(get)]
    start_ns: i64,
    /// When its recording ended, ns from the trace origin.
    #[pyo3(get)]
    end_ns: i64,
    /// Its exit status where known (negative: killed by that signal), else None.
    #[pyo3(get)]
    exit_status: Option<i32>,
    /// Added to its own clock's readings to place them on the trace's clock (ns).
    #[pyo3(get)]
    clock_offset_ns: i64,
    /// The offset is right to within this many ns (0: the same clock, exact).
    #[pyo3(get)]
    clock_uncertainty_ns: u64,
    /// False when its clock offset could not be measured: its times are on its own clock, placed
    /// from the trace's start, and cannot be compared with other processes'.
    #[pyo3(get)]
    aligned: bool,
    /// Its trace is incomplete: killed or still running when recording stopped, so only what it
    /// had written out is here.
    #[pyo3(get)]
    incomplete: bool,
    /// Indices in `Trace.threads` of its threads.
    #[pyo3(get)]
    threads: Vec<usize>,
}

#[pymethods]
impl PyProcessInfo {
    fn __repr__(&self) -> String {
        let mut extra = String::new();
        if !self.host.is_empty() {
            extra.push_str(&format!(", host={:?}", self.host));
        }
        if let Some(status) = self.exit_status {
            extra.push_str(&format!(", exit_status={status}"));
        }
        if self.incomplete {
            extra.push_str(", incomplete");
        }
        if !self.aligned {
            extra.push_str(", clock not aligned");
        } else if self.clock_offset_ns != 0 || self.clock_uncertainty_ns != 0 {
            let sign = if self.clock_offset_ns < 0 { "-" } else { "+" };
            extra.push_str(&format!(
                ", clock {sign}{} ± {}",
                format_duration(self.clock_offset_ns.saturating_abs()),
                format_duration(i64::try_from(self.clock_uncertainty_ns).unwrap_or(i64::MAX))
            ));
        }
        format!(
            "ProcessInfo(index={}, pid={}, parent_pid={}, name={:?}, threads={}{extra})",
            self.index,
            self.pid,
            self.parent_pid,
            self.name,
            self.threads.len()
        )
    }
}

/// One call of a trace.
#[pyclass(name = "Call", module = "fprofile_jupyter._core", frozen)]
pub struct PyCall {
    /// Global index of the call in `Trace.calls()`.
    #[pyo3(get)]
    index: u32,
    /// Index of its thread in `Trace.threads`.
    #[pyo3(get)]
    thread: usize,
    /// 0 = outermost recorded call of its thread.
    #[pyo3(get)]
    depth: u32,
    #[pyo3(get)]
    start_ns: i64,
    #[pyo3(get)]
    end_ns: i64,
    #[pyo3(get)]
    self_ns: i64,
    /// Function name as recorded (`co_qualname` where the Python has it, else `co_name`).
    /// Shared per function: one str object per code.
    #[pyo3(get)]
    function: Py<PyString>,
    /// File (`co_filename`).
    #[pyo3(get)]
    file: Py<PyString>,
    /// First line of the function (`co_firstlineno`).
    #[pyo3(get)]
    line: u32,
    /// Global index of the parent call, or None for a top-level call.
    #[pyo3(get)]
    parent: Option<u32>,
    /// Still running when recording stopped (closed at the stop time).
    #[pyo3(get)]
    unfinished: bool,
    /// Began before recording started (opened at the thread's first time).
    #[pyo3(get)]
    started_before: bool,
}

#[pymethods]
impl PyCall {
    #[getter]
    fn duration_ns(&self) -> i64 {
        self.end_ns.saturating_sub(self.start_ns)
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        let mut flags = String::new();
        if self.unfinished {
            flags.push_str(", unfinished");
        }
        if self.started_before {
            flags.push_str(", started_before");
        }
        let function = self.function.bind(py).to_string_lossy().into_owned();
        let file = self.file.bind(py).to_string_lossy().into_owned();
        format!(
            "Call({} {}:{} thread={} depth={} start_ns={} duration={}{})",
            function.escape_debug(),
            file.escape_debug(),
            self.line,
            self.thread,
            self.depth,
            self.start_ns,
            format_duration(self.end_ns.saturating_sub(self.start_ns)),
            flags
        )
    }
}

/// A recorded trace: per-thread call trees.
#[pyclass(name = "Trace", module = "fprofile_jupyter._core", frozen)]
pub struct PyTrace {
    inner: Arc<fprofile::Trace>,
    /// The calls indexed for window queries, built by the first one (`fprofile::window`).
    window_index: std::sync::OnceLock<Arc<fprofile::window::WindowIndex>>,
    /// `summary_json(overall_only=True)`, computed once (what every host sends with the trace).
    overall_summary: std::sync::OnceLock<String>,
}

impl PyTrace {
    /// Wraps a built trace (used by the recorder and the loaders).
    pub fn from_trace(t: fprofile::Trace) -> Self {
        PyTrace { inner: Arc::new(t), window_index: std::sync::OnceLock::new(), overall_summary: std::sync::OnceLock::new() }
    }

    /// The wrapped trace.
    pub fn inner(&self) -> &fprofile::Trace {
        &self.inner
    }

    /// The wrapped trace, shared (for objects that outlive this call, e.g. a comparison).
    pub fn shared(&self) -> Arc<fprofile::Trace> {
        self.inner.clone()
    }

    fn duration(&self) -> i64 {
        self.inner.duration_ns()
    }

    pub(crate) fn thread_info(t: &fprofile::Trace, index: usize) -> PyThreadInfo {
        let th = &t.threads[index];
        PyThreadInfo {
            process: th.process,
            pid: t.process_of(index).map_or(0, |p| p.pid),
            several_processes: t.processes.len() > 1,
            index,
            os_id: th.os_id,
            name: th.name().to_owned(),
            names: th.names.clone(),
            first_ns: th.first_ns,
            last_ns: th.last_ns,
            lane: th.lane,
            call_count: th.call_range.1.saturating_sub(th.call_range.0) as usize,
        }
    }
}

/// The processes of `t` as `Trace.processes` gives them.
pub(crate) fn process_list(t: &fprofile::Trace) -> Vec<PyProcessInfo> {
    t.processes
        .iter()
        .enumerate()
        .map(|(index, p)| PyProcessInfo {
            index,
            pid: p.pid,
            parent_pid: p.parent_pid,
            name: p.name.clone(),
            host: p.host.clone(),
            start_ns: p.start_ns,
            end_ns: p.end_ns,
            exit_status: p.exit_status,
            clock_offset_ns: p.clock.offset_ns,
            clock_uncertainty_ns: p.clock.uncertainty_ns,
            aligned: p.clock.aligned,
            incomplete: p.incomplete,
            threads: t.threads.iter().enumerate().filter(|(_, th)| th.process as usize == index).map(|(i, _)| i).collect(),
        })
        .collect()
}

#[pymethods]
impl PyTrace {
    /// Number of calls.
    fn __len__(&self) -> usize {
        self.inner.calls.len()
    }

    fn __repr__(&self) -> String {
        let t = &*self.inner;
        let names: Vec<String> = t.threads.iter().take(4).map(|th| format!("{:?}", th.name())).collect();
        let more = if t.threads.len() > 4 { format!(", ... {} more", t.threads.len() - 4) } else { String::new() };
        let processes = if t.processes.len() > 1 { format!(" of {} processes", t.processes.len()) } else { String::new() };
        format!(
            "<Trace: {} call{} of {} function{} in {} thread{}{processes} [{}{}] over {}>",
            t.calls.len(),
            if t.calls.len() == 1 { "" } else { "s" },
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
        self.inner.origin_ns
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
        for (k, v) in &self.inner.metadata {
            d.set_item(k, v)?;
        }
        Ok(d)
    }

    /// Folded stacks: one line per distinct stack, `"thread;outer;...;inner count"`, where count is
    /// the number of calls ending that stack; sorted. Frames are function names.
    fn folded(&self) -> Vec<String> {
        fprofile::stacks::folded(&self.inner)
    }

    /// The trace in the compact binary `.fpt` format (what the widget and viewer load). `level`:
    /// zlib level 0-9 (default 6; 1 is about 6x faster to write and 40% larger, for bytes that
    /// only cross a local link, such as a Dask worker's trace on its way to the client).
    #[pyo3(signature = (level = fprofile::formats::fpt::ZLIB_LEVEL))]
    fn to_bytes<'py>(&self, py: Python<'py>, level: u32) -> Result<Bound<'py, PyBytes>, BindingError> {
        if level > 9 {
            return Err(PyValueError::new_err(format!("level must be 0 to 9 (got {level})")).into());
        }
        let inner = &self.inner;
        let bytes = py.detach(|| fprofile::formats::fpt::encode_with_level(inner, level));
        Ok(PyBytes::new(py, &bytes))
    }

    /// What the timeline draws of the window `[t0_ns, t1_ns]` at `px` pixels (calls narrower than
    /// a pixel merged into counted runs), as a window reply (`docs/format.md`, "Window replies");
    /// `threads`: thread indices (default all). The calls are indexed by the first call (4 bytes
    /// per call, kept with the trace). The GIL is released while it runs.
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
        let inner = self.inner.clone();
        let index = self.window_index.get().cloned();
        let (bytes, index) = py.detach(move || {
            let index = index.unwrap_or_else(|| Arc::new(fprofile::window::WindowIndex::build(&inner)));
            let reply = fprofile::window::query(&inner, &index, t0_ns, t1_ns, px, threads.as_deref());
            (reply.map(|r| fprofile::window::encode(&r, zlib_level)), index)
        });
        let _ = self.window_index.set(index);
        Ok(PyBytes::new(py, &bytes?))
    }

    /// The trace without its calls (threads, processes, functions, bands, metadata) as `.fpt`
    /// bytes: what the timeline gets first in windowed mode, the calls coming as window replies.
    fn skeleton_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        let inner = self.inner.clone();
        let bytes = py.detach(move || fprofile::formats::fpt::encode(&fprofile::window::skeleton(&inner)));
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
    /// `width_px` the picture's width (PNG only).
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
        let inner = self.inner.clone();
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
        let inner = self.inner.clone();
        let bytes = py.detach(move || {
            let title = fprofile::formats::png::title_of(&inner);
            fprofile::formats::png::to_png(&inner, &title, width)
        })?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// Per-function figures (calls, total, self, mean, max), overall, per process (`per_process`)
    /// and per thread (`per_thread`). `task`: of the calls made inside that task's bands only (an
    /// asyncio task's name, a Dask task's key: `fprofile::tasks`); ValueError naming the tasks
    /// there are when none has that name.
    #[pyo3(signature = (*, task=None))]
    fn summary(&self, py: Python<'_>, task: Option<String>) -> PyResult<PySummary> {
        let inner = match task {
            None => self.inner.clone(),
            Some(name) => match fprofile::tasks::restrict(&self.inner, &name) {
                Some(t) => Arc::new(t),
                None => {
                    let known = fprofile::tasks::labels(&self.inner);
                    let shown: Vec<String> = known.iter().take(10).map(|l| format!("{l:?}")).collect();
                    let more = if known.len() > 10 { format!(" and {} more", known.len() - 10) } else { String::new() };
                    return Err(PyValueError::new_err(if known.is_empty() {
                        format!("summary(task={name:?}): this trace has no tasks (no bands)")
                    } else {
                        format!("summary(task={name:?}): no task of that name; the tasks are {}{more}", shown.join(", "))
                    }));
                }
            },
        };
        let t = &*inner;
        let processes = (0..t.processes.len())
            .map(|p| (t.process_label(p), t.threads.iter().filter(|th| th.process as usize == p).count()))
            .collect();
        let roots = fprofile::paths::Roots::from_metadata(&t.metadata);
        let inner2 = inner.clone();
        Ok(PySummary::from_core(py.detach(move || fprofile::summary::summarize(&inner2)), processes, roots))
    }

    /// The summary as JSON (docs/format.md); `overall_only`: only `{"overall": [...]}`, what the
    /// widget and the HTML export send (the timeline computes the rest from the trace).
    #[pyo3(signature = (*, overall_only=false))]
    fn summary_json(&self, py: Python<'_>, overall_only: bool) -> String {
        if overall_only {
            if let Some(s) = self.overall_summary.get() {
                return s.clone();
            }
        }
        let inner = self.inner.clone();
        let json: fn(&fprofile::model::Trace) -> String =
            if overall_only { fprofile::summary::overall_json } else { fprofile::summary::summary_json };
        let s = py.detach(move || json(&inner));
        if overall_only {
            let _ = self.overall_summary.set(s.clone());
        }
        s
    }

    /// Prepares a windowed showing: the window index and the overall summary, built side by side
    /// (each a pass over the calls; both kept with the trace). The GIL is released.
    fn _prepare_windowed(&self, py: Python<'_>) {
        let inner = self.inner.clone();
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
        py.import("fprofile_jupyter._display")?.getattr("show")?.call1((slf,))?;
        Ok(())
    }

    /// Pickling (and `copy`): through the `.fpt` bytes.
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<(Bound<'py, PyAny>, (Bound<'py, PyBytes>,))> {
        let py = slf.py();
        let ctor = py.get_type::<PyTrace>().getattr("from_bytes")?;
        Ok((ctor, (slf.get().to_bytes(py, fprofile::formats::fpt::ZLIB_LEVEL)?,)))
    }

    /// Two traces are equal when they hold exactly the same threads, calls, functions and metadata.
    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        match other.cast::<PyTrace>() {
            Ok(o) => *self.inner == *o.get().inner,
            Err(_) => false,
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
        crate::aggregate::flame(py, &self.inner, threads.as_ref(), window)
    }

    /// The callers of `function` (a name or a code id) merged upward, as a nested dict.
    #[pyo3(signature = (function, file=None, threads=None))]
    fn callers<'py>(
        &self,
        function: &Bound<'py, PyAny>,
        file: Option<&str>,
        threads: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        crate::aggregate::sandwich(function.py(), &self.inner, function, file, threads.as_ref(), true)
    }

    /// The callees of `function` (a name or a code id) merged downward, as a nested dict.
    #[pyo3(signature = (function, file=None, threads=None))]
    fn callees<'py>(
        &self,
        function: &Bound<'py, PyAny>,
        file: Option<&str>,
        threads: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        crate::aggregate::sandwich(function.py(), &self.inner, function, file, threads.as_ref(), false)
    }

    /// The threads, in order of their first event.
    #[getter]
    fn threads(&self) -> Vec<PyThreadInfo> {
        (0..self.inner.threads.len()).map(|i| Self::thread_info(&self.inner, i)).collect()
    }

    /// The processes (one for a one-process trace, with pid 0 when the file did not say; none for
    /// a trace with no threads).
    #[getter]
    fn processes(&self) -> Vec<PyProcessInfo> {
        process_list(&self.inner)
    }

    /// Labelled spans above threads' calls (the Dask task a worker thread ran), as tuples
    /// `(thread, start_ns, end_ns, label)`: `thread` an index into `threads`, times from the trace
    /// origin; ordered by thread, then start.
    #[getter]
    fn bands(&self) -> Vec<(u32, i64, i64, String)> {
        self.inner.bands.iter().map(|b| (b.thread, b.start_ns, b.end_ns, b.label.clone())).collect()
    }

    /// The calls, grouped by thread and in pre-order within a thread; only those of `thread`
    /// (an index into `threads`) when given.
    #[pyo3(signature = (thread=None))]
    fn calls(&self, py: Python<'_>, thread: Option<usize>) -> PyResult<Vec<PyCall>> {
        let t = &*self.inner;
        let n = fprofile::stacks::call_count(&t.calls) as u32;
        let range = match thread {
            None => 0..n,
            Some(k) => match t.threads.get(k) {
                Some(th) => th.call_range.0.min(n)..th.call_range.1.min(n),
                None => {
                    return Err(pyo3::exceptions::PyIndexError::new_err(format!(
                        "thread index {k} out of range (the trace has {} threads)",
                        t.threads.len()
                    )))
                }
            },
        };
        let self_ns = fprofile::stacks::self_times(t);
        let c = &t.calls;
        let empty = PyString::new(py, "").unbind();
        let names: Vec<Py<PyString>> = t.codes.iter().map(|x| PyString::new(py, &x.name).unbind()).collect();
        let files: Vec<Py<PyString>> = t.codes.iter().map(|x| PyString::new(py, &x.file).unbind()).collect();
        let mut out = Vec::with_capacity(range.len());
        let mut th = if range.start < range.end { fprofile::stacks::thread_of_call(t, range.start) } else { 0 };
        for i in range {
            while th < t.threads.len() && t.threads[th].call_range.1 <= i {
                th += 1;
            }
            let k = i as usize;
            let ci = c.code[k] as usize;
            let code = t.codes.get(ci);
            out.push(PyCall {
                index: i,
                thread: th,
                depth: c.depth[k],
                start_ns: c.start_ns[k],
                end_ns: c.end_ns[k],
                self_ns: self_ns[k],
                function: names.get(ci).unwrap_or(&empty).clone_ref(py),
                file: files.get(ci).unwrap_or(&empty).clone_ref(py),
                line: code.map(|x| x.first_line).unwrap_or(0),
                parent: if c.parent[k] == u32::MAX { None } else { Some(c.parent[k]) },
                unfinished: c.flags[k].unfinished(),
                started_before: c.flags[k].started_before(),
            });
        }
        Ok(out)
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

/// One thread for `_build_trace`: (os_id, name, [(t_ns, code_id, is_return)]).
type ThreadEvents = (u64, String, Vec<(u64, u32, bool)>);

/// Builds a trace from flat events (for tests and tools): `codes` = [(file, name, first_line)],
/// `threads` = [(os_id, name, [(t_ns, code_id, is_return), ...])] with absolute times;
/// `process` = (pid, parent_pid, name, host) of the process that made them (default all unknown).
#[pyfunction]
#[pyo3(signature = (codes, threads, *, start_ns=0, stop_ns=0, metadata=None, process=None))]
fn _build_trace(
    py: Python<'_>,
    codes: Vec<(String, String, u32)>,
    threads: Vec<ThreadEvents>,
    start_ns: u64,
    stop_ns: u64,
    metadata: Option<Vec<(String, String)>>,
    process: Option<(u64, u64, String, String)>,
) -> PyTrace {
    use fprofile::{Code, Event, EventKind, Recording, ThreadRecord};
    let rec = Recording {
        codes: codes.into_iter().map(|(file, name, first_line)| Code { file, name, first_line }).collect(),
        threads: threads
            .into_iter()
            .map(|(os_id, name, events)| ThreadRecord {
                os_id,
                ident: os_id,
                names: vec![(events.first().map(|e| e.0).unwrap_or(0), name)],
                chunks: vec![events
                    .into_iter()
                    .map(|(t_ns, code, ret)| Event { t_ns, code, kind: if ret { EventKind::Return } else { EventKind::Call } })
                    .collect()],
            })
            .collect(),
        start_ns,
        stop_ns,
        metadata: metadata.unwrap_or_default(),
        process: process.map_or_else(Default::default, |(pid, parent_pid, name, host)| fprofile::model::ProcessInfo {
            pid,
            parent_pid,
            name,
            host,
            ..Default::default()
        }),
    };
    PyTrace::from_trace(py.detach(move || fprofile::build::build_trace(rec)))
}

/// Loads a trace from a file; the format is detected from the content unless given.
/// `progress(bytes_done, bytes_total)`, when given, is called now and then while parsing.
#[pyfunction]
#[pyo3(signature = (path, format=None, *, progress=None))]
fn load(
    py: Python<'_>,
    path: &Bound<'_, PyAny>,
    format: Option<&str>,
    progress: Option<Bound<'_, PyAny>>,
) -> Result<PyTrace, BindingError> {
    let path = path_string(path)?;
    let format = format.map(registry::input_format).transpose()?;
    let mut prog = PyProgress::new(progress);
    let result = py.detach(|| fprofile::load::load_with(&path, format, &mut |d, t| prog.call(d, t)));
    if let Some(e) = prog.error.take() {
        return Err(e.into());
    }
    Ok(PyTrace::from_trace(result?))
}

/// Loads a trace from bytes; the format is detected from the content unless given.
/// `max_inflated`: the largest body a compressed `.fpt` may inflate to (bytes; default the
/// format's 2 GiB), for bytes from someone else: `fprofile::load::load_bytes_limited`.
#[pyfunction]
#[pyo3(signature = (data, format=None, *, max_inflated=None))]
fn load_bytes(py: Python<'_>, data: &[u8], format: Option<&str>, max_inflated: Option<u64>) -> Result<PyTrace, BindingError> {
    let format = format.map(registry::input_format).transpose()?;
    // Read in place (bytes are immutable and the argument keeps them alive), not copied first.
    let t = py.detach(|| fprofile::load::load_bytes_limited(data, format, max_inflated, &mut |_, _| {}))?;
    Ok(PyTrace::from_trace(t))
}

/// The format table: `(name, endings, reads, writes)` per format, in the order names are listed
/// to users (`fprofile::formats::registry::FORMATS`).
#[pyfunction]
fn formats() -> Vec<(&'static str, Vec<&'static str>, bool, bool)> {
    registry::FORMATS.iter().map(|s| (s.name, s.endings.to_vec(), s.reads, s.writes)).collect()
}

/// A duration as short text ("12.35 ms", "1 µs"): `fprofile::units::format_duration`, the rule
/// of `tests/fixtures/durations.json`.
#[pyfunction(name = "format_duration")]
fn py_format_duration(ns: i64) -> String {
    format_duration(ns)
}

/// The HTML export of `trace` with its limits given (`fprofile::formats::html::to_html_limited`):
/// above `pyramid_calls` calls, a pyramid of at most `max_bytes` (tests of the pyramid page).
#[pyfunction]
fn _html_export(py: Python<'_>, trace: &PyTrace, title: &str, pyramid_calls: usize, max_bytes: usize) -> String {
    let inner = trace.shared();
    let title = title.to_owned();
    py.detach(move || fprofile::formats::html::to_html_limited(&inner, &title, pyramid_calls, max_bytes))
}

/// A synthetic trace of about `calls` calls in `threads` threads (`fprofile::synthetic`; for
/// benchmarks and tests: built in Rust, seconds for a hundred million calls).
#[pyfunction]
#[pyo3(signature = (calls, threads=8, seed=1))]
fn _synthetic_trace(py: Python<'_>, calls: usize, threads: usize, seed: u64) -> PyTrace {
    PyTrace::from_trace(py.detach(move || fprofile::synthetic::synthetic_trace(calls, threads, seed)))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(load, m)?)?;
    m.add_function(wrap_pyfunction!(_synthetic_trace, m)?)?;
    m.add_function(wrap_pyfunction!(_html_export, m)?)?;
    m.add_function(wrap_pyfunction!(load_bytes, m)?)?;
    m.add_function(wrap_pyfunction!(_build_trace, m)?)?;
    m.add_function(wrap_pyfunction!(formats, m)?)?;
    m.add_function(wrap_pyfunction!(py_format_duration, m)?)?;
    m.add_class::<PyTrace>()?;
    m.add_class::<PyThreadInfo>()?;
    m.add_class::<PyProcessInfo>()?;
    m.add_class::<PyCall>()?;
    m.add_class::<PySummary>()?;
    m.add_class::<PySummaryRow>()?;
    Ok(())
}
