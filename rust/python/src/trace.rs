//! The `Trace` class: a thin Python view of [`fprofile::Trace`] (per-thread call trees), its
//! `ThreadInfo` and `Call` record classes, and the module-level loaders.
//!
//! Everything here is a read-only wrapper: the trace itself is never mutated after construction,
//! so every class is `frozen` and safe to share between threads.

use std::sync::Arc;

use std::io::{BufWriter, Write};

use pyo3::exceptions::{PyIsADirectoryError, PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString, PyType};

use crate::errors::{format_error, FormatError, IntoPyErr};

/// Time span as a short human string: "1.234 s", "12.3 ms", "45.6 us", "789 ns".
pub(crate) fn human_ns(ns: i64) -> String {
    let a = ns.unsigned_abs() as f64;
    let s = ns as f64;
    // thresholds where the rounding of the smaller unit would print 1000 (999.96 us -> "1.000 ms")
    if a >= 999_999_500.0 {
        format!("{:.3} s", s / 1e9)
    } else if a >= 999_950.0 {
        format!("{:.3} ms", s / 1e6)
    } else if a >= 1e3 {
        format!("{:.1} us", s / 1e3)
    } else {
        format!("{ns} ns")
    }
}

/// Number of complete call records: the shortest column (they are all equal in any trace the core
/// builds or decodes; taking the minimum keeps every index below in bounds regardless).
fn call_count(c: &fprofile::Calls) -> usize {
    c.start_ns.len().min(c.end_ns.len()).min(c.code.len()).min(c.depth.len()).min(c.parent.len()).min(c.flags.len())
}

/// Self time of every call: its duration minus the durations of its direct children.
fn self_times(t: &fprofile::Trace) -> Vec<i64> {
    let c = &t.calls;
    let n = call_count(c);
    // saturating: the readers keep durations within i64, but no input may make this overflow
    let mut self_ns: Vec<i64> = c.start_ns[..n].iter().zip(&c.end_ns[..n]).map(|(s, e)| e.saturating_sub(*s)).collect();
    for i in 0..n {
        let p = c.parent[i];
        if p != u32::MAX {
            if let Some(slot) = self_ns.get_mut(p as usize) {
                *slot = slot.saturating_sub(c.end_ns[i].saturating_sub(c.start_ns[i]));
            }
        }
    }
    self_ns
}

/// Index of the thread owning call `i` (threads' call ranges are consecutive).
fn thread_of_call(t: &fprofile::Trace, i: u32) -> usize {
    t.threads.partition_point(|th| th.call_range.1 <= i)
}

// ------------------------------------------------------------------------------------------------
// Formats: names, detection, reading and writing. Errors are formatted here with the path.

/// A format `load` reads (by name; reading is `fprofile::load`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum InFormat {
    Fpt,
    PymeText,
    PymeJson,
}

impl InFormat {
    const ALL: &'static [(&'static str, InFormat)] =
        &[("fpt", InFormat::Fpt), ("pyme-text", InFormat::PymeText), ("pyme-json", InFormat::PymeJson)];

    fn core(self) -> fprofile::formats::Format {
        use fprofile::formats::Format;
        match self {
            InFormat::Fpt => Format::Fpt,
            InFormat::PymeText => Format::PymeText,
            InFormat::PymeJson => Format::PymeJson,
        }
    }
}

/// A format `save` writes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum OutFormat {
    Fpt,
    PymeText,
    PymeJson,
    Perfetto,
    Speedscope,
    Html,
}

impl OutFormat {
    const ALL: &'static [(&'static str, OutFormat)] = &[
        ("fpt", OutFormat::Fpt),
        ("pyme-json", OutFormat::PymeJson),
        ("pyme-text", OutFormat::PymeText),
        ("perfetto", OutFormat::Perfetto),
        ("speedscope", OutFormat::Speedscope),
        ("html", OutFormat::Html),
    ];
    /// File name endings and their formats, most specific first (".perfetto.json" before ".json").
    const EXTENSIONS: &'static [(&'static str, OutFormat)] = &[
        (".fpt", OutFormat::Fpt),
        (".perfetto.json", OutFormat::Perfetto),
        (".trace.json", OutFormat::Perfetto),
        (".speedscope.json", OutFormat::Speedscope),
        (".json", OutFormat::PymeJson),
        (".txt", OutFormat::PymeText),
        (".html", OutFormat::Html),
        (".htm", OutFormat::Html),
    ];
}

fn names<T>(all: &[(&str, T)]) -> String {
    all.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
}

fn in_format_from_name(name: &str) -> PyResult<InFormat> {
    InFormat::ALL
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, f)| *f)
        .ok_or_else(|| PyValueError::new_err(format!("unknown input format {name:?} (choose from {})", names(InFormat::ALL))))
}

fn out_format_from_name(name: &str) -> PyResult<OutFormat> {
    OutFormat::ALL
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, f)| *f)
        .ok_or_else(|| PyValueError::new_err(format!("unknown output format {name:?} (choose from {})", names(OutFormat::ALL))))
}

/// The output format from a path's extension.
fn out_format_from_path(path: &str) -> PyResult<OutFormat> {
    let lower = path.to_ascii_lowercase();
    if let Some((_, f)) = OutFormat::EXTENSIONS.iter().find(|(ext, _)| lower.ends_with(ext)) {
        return Ok(*f);
    }
    Err(PyValueError::new_err(format!(
        "{path}: cannot tell the format from the file name (known endings: {}); pass format= one of {}",
        names(OutFormat::EXTENSIONS),
        names(OutFormat::ALL)
    )))
}

/// Encodes `t` in `format` into `w`; `title` names the page of the HTML export.
fn encode_to<W: Write + ?Sized>(t: &fprofile::Trace, format: OutFormat, title: &str, w: &mut W) -> std::io::Result<()> {
    use fprofile::formats::{fpt, html, perfetto, pyme_json, pyme_text, speedscope};
    match format {
        OutFormat::Fpt => w.write_all(&fpt::encode(t)),
        OutFormat::PymeText => pyme_text::write(t, w),
        OutFormat::PymeJson => pyme_json::write(t, w),
        OutFormat::Perfetto => perfetto::write(t, w),
        OutFormat::Speedscope => speedscope::write(t, w),
        OutFormat::Html => w.write_all(html::to_html(t, title).as_bytes()),
    }
}

/// A progress callback for the Rust side: calls the Python callable `cb(done, total)` (taking the
/// GIL for the call); after the first exception from it, stops calling and keeps the exception.
struct PyProgress {
    cb: Option<Py<PyAny>>,
    error: Option<PyErr>,
}

impl PyProgress {
    fn new(cb: Option<Bound<'_, PyAny>>) -> Self {
        PyProgress { cb: cb.map(Bound::unbind), error: None }
    }

    fn call(&mut self, done: usize, total: usize) {
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

/// An `OSError` (the right subclass: `FileNotFoundError`, `PermissionError`, ...) naming `path`.
pub(crate) fn os_error(e: &std::io::Error, path: &str) -> PyErr {
    match e.raw_os_error() {
        Some(errno) => {
            let msg = std::io::Error::from_raw_os_error(errno).to_string();
            // Rust appends " (os error N)"; Python's strerror does not.
            let msg = msg.split(" (os error").next().unwrap_or(&msg).to_owned();
            PyOSError::new_err((errno, msg, path.to_owned()))
        }
        None => {
            let msg = format!("{path}: {e}");
            match e.kind() {
                std::io::ErrorKind::TimedOut => pyo3::exceptions::PyTimeoutError::new_err(msg),
                _ => PyOSError::new_err(msg),
            }
        }
    }
}

/// Writes through a sibling temporary file renamed into place, so a failed write never leaves a
/// truncated trace under `path`.
fn write_file(path: &str, f: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> PyResult<()> {
    let given = std::path::Path::new(path);
    // Only a regular file (or a new one) is replaced atomically through a temporary file. A device,
    // a FIFO or a terminal (`/dev/stdout`, `/dev/null`, a named pipe) is written in place: renaming
    // over it would replace the device node with a plain file (and hide a write error such as
    // ENOSPC). A symlink is followed, so the link stays and its target gets the new content.
    match std::fs::metadata(given) {
        Ok(m) if !m.is_file() && !m.is_dir() => {
            let result = (|| {
                // (a FIFO with no reader is refused at once; a stalled reader times out)
                let mut w = BufWriter::with_capacity(1 << 20, fprofile::fsio::Output::create(given)?);
                f(&mut w)?;
                w.into_inner().map_err(|e| e.into_error()).map(drop)
            })();
            return result.map_err(|e| os_error(&e, path));
        }
        _ => {}
    }
    let resolved = std::fs::canonicalize(given).ok().filter(|_| given.is_symlink());
    let target = resolved.as_deref().unwrap_or(given);
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = target.with_file_name(format!(".{name}.{}.part", std::process::id()));
    let result = (|| {
        let file = std::fs::File::create(&tmp)?;
        let mut w = BufWriter::with_capacity(1 << 20, file);
        f(&mut w)?;
        let file = w.into_inner().map_err(|e| e.into_error())?;
        file.sync_all().ok();
        drop(file);
        std::fs::rename(&tmp, target)
    })();
    match result {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            // Report the user's path, not the temporary one.
            Err(os_error(&e, path))
        }
    }
}

fn path_string(path: &Bound<'_, PyAny>) -> PyResult<String> {
    let p: std::path::PathBuf = path.extract()?;
    Ok(p.to_string_lossy().into_owned())
}

/// Loads a trace from `path` (see `load`): `fprofile::load::load_with`, errors as Python exceptions.
fn load_path(py: Python<'_>, path: &str, format: Option<&str>, progress: Option<Bound<'_, PyAny>>) -> PyResult<PyTrace> {
    let format = format.map(in_format_from_name).transpose()?.map(InFormat::core);
    let mut prog = PyProgress::new(progress);
    let result = py.detach(|| fprofile::load::load_with(path, format, &mut |d, t| prog.call(d, t)));
    if let Some(e) = prog.error.take() {
        return Err(e);
    }
    match result {
        Ok(t) => Ok(PyTrace::from_trace(t)),
        Err(fprofile::LoadError { problem: fprofile::load::Problem::Io(e), .. }) => {
            if std::fs::metadata(path).map(|m| m.is_dir()).unwrap_or(false) {
                return Err(PyIsADirectoryError::new_err((21, "Is a directory", path.to_owned())));
            }
            Err(os_error(&e, path))
        }
        Err(e) => Err(format_error(path, e.problem)),
    }
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
}

#[pymethods]
impl PyThreadInfo {
    fn __repr__(&self) -> String {
        format!(
            "ThreadInfo(index={}, name={:?}, os_id={}, calls={}, first_ns={}, last_ns={}, lane={})",
            self.index, self.name, self.os_id, self.call_count, self.first_ns, self.last_ns, self.lane
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
            human_ns(self.end_ns - self.start_ns),
            flags
        )
    }
}

// ------------------------------------------------------------------------------------------------
// Summary

use fprofile::assets::html_escape;

/// A name shown in a one-line cell: control characters escaped (`\t`, `\n`, ...).
fn one_line(s: &str) -> String {
    if s.chars().any(|c| c.is_control()) {
        s.chars().map(|c| if c.is_control() { c.escape_debug().to_string() } else { c.to_string() }).collect()
    } else {
        s.to_owned()
    }
}

/// One function's figures in a summary.
#[pyclass(name = "SummaryRow", module = "fprofile_jupyter._core", frozen)]
#[derive(Clone)]
pub struct PySummaryRow {
    /// Code (function) id within the trace.
    #[pyo3(get)]
    code: u32,
    #[pyo3(get)]
    function: String,
    #[pyo3(get)]
    file: String,
    #[pyo3(get)]
    line: u32,
    #[pyo3(get)]
    calls: u64,
    #[pyo3(get)]
    total_ns: u64,
    #[pyo3(get)]
    self_ns: u64,
    #[pyo3(get)]
    mean_ns: u64,
    #[pyo3(get)]
    max_ns: u64,
}

impl From<&fprofile::summary::Row> for PySummaryRow {
    fn from(r: &fprofile::summary::Row) -> Self {
        PySummaryRow {
            code: r.code,
            function: r.function.clone(),
            file: r.file.clone(),
            line: r.line,
            calls: r.calls,
            total_ns: r.total_ns,
            self_ns: r.self_ns,
            mean_ns: r.mean_ns,
            max_ns: r.max_ns,
        }
    }
}

#[pymethods]
impl PySummaryRow {
    fn __repr__(&self) -> String {
        format!(
            "SummaryRow(function={:?}, file={:?}, line={}, calls={}, total_ns={}, self_ns={}, mean_ns={}, max_ns={})",
            self.function, self.file, self.line, self.calls, self.total_ns, self.self_ns, self.mean_ns, self.max_ns
        )
    }

    /// The row as a dict (e.g. for `pandas.DataFrame(summary.to_dicts())`).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("code", self.code)?;
        d.set_item("function", &self.function)?;
        d.set_item("file", &self.file)?;
        d.set_item("line", self.line)?;
        d.set_item("calls", self.calls)?;
        d.set_item("total_ns", self.total_ns)?;
        d.set_item("self_ns", self.self_ns)?;
        d.set_item("mean_ns", self.mean_ns)?;
        d.set_item("max_ns", self.max_ns)?;
        Ok(d)
    }
}

/// Sort keys of `Summary.sorted`.
const SORT_KEYS: &str = "total, self, calls, mean, max, function, file";

/// Per-function figures (calls, total, self, mean and max time), overall or for one thread.
#[pyclass(name = "Summary", module = "fprofile_jupyter._core", frozen, sequence)]
pub struct PySummary {
    rows: Vec<PySummaryRow>,
    /// None for the summary over all threads.
    thread: Option<u32>,
    thread_name: Option<String>,
    /// Per-thread summaries (empty for a per-thread summary).
    threads: Vec<fprofile::summary::ThreadSummary>,
    /// How the rows are ordered (for the title).
    order: &'static str,
}

impl PySummary {
    fn from_core(s: &fprofile::summary::Summary) -> Self {
        PySummary {
            rows: s.overall.iter().map(PySummaryRow::from).collect(),
            thread: None,
            thread_name: None,
            threads: s.threads.clone(),
            order: "total",
        }
    }

    fn title(&self) -> String {
        let scope = match (&self.thread, &self.thread_name) {
            (Some(i), Some(n)) => format!("thread {i} {}", one_line(&format!("{n:?}"))),
            _ => format!("all threads ({})", self.threads.len()),
        };
        let n = self.rows.len();
        format!("Summary of {scope}: {n} function{}, by {} time", if n == 1 { "" } else { "s" }, self.order)
            .replace("by calls time", "by calls")
            .replace("by function time", "by function")
            .replace("by file time", "by file")
    }

    fn table(&self, limit: Option<usize>) -> String {
        let n = limit.map(|l| l.min(self.rows.len())).unwrap_or(self.rows.len());
        let rows = &self.rows[..n];
        let funcs: Vec<String> = rows.iter().map(|r| one_line(&r.function)).collect();
        let fw = funcs.iter().map(|f| display_width(f)).max().unwrap_or(0).clamp(8, 40);
        let mut out = self.title();
        out.push('\n');
        out.push_str(&format!(
            "{:>9} {:>11} {:>11} {:>11} {:>11}  {}  {}\n",
            "calls",
            "total",
            "self",
            "mean",
            "max",
            pad_to_width("function", fw),
            "file:line"
        ));
        for (r, f) in rows.iter().zip(&funcs) {
            let f = pad_to_width(f, fw);
            out.push_str(&format!(
                "{:>9} {:>11} {:>11} {:>11} {:>11}  {}  {}:{}\n",
                r.calls,
                human_ns(r.total_ns as i64),
                human_ns(r.self_ns as i64),
                human_ns(r.mean_ns as i64),
                human_ns(r.max_ns as i64),
                f,
                one_line(&r.file),
                r.line
            ));
        }
        if n < self.rows.len() {
            out.push_str(&format!("... {} more rows\n", self.rows.len() - n));
        }
        if self.rows.is_empty() {
            out.push_str("(no calls)\n");
        }
        out.pop();
        out
    }
}

#[pymethods]
impl PySummary {
    fn __len__(&self) -> usize {
        self.rows.len()
    }

    /// A row (`summary[0]`), or a summary of some rows (`summary[:10]`, shown as a table too).
    fn __getitem__<'py>(&self, index: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let py = index.py();
        if let Ok(slice) = index.cast::<pyo3::types::PySlice>() {
            let ind = slice.indices(self.rows.len() as isize)?;
            let mut rows = Vec::with_capacity(ind.slicelength);
            let mut i = ind.start;
            for _ in 0..ind.slicelength {
                rows.push(self.rows[i as usize].clone());
                i += ind.step;
            }
            let sub = PySummary {
                rows,
                thread: self.thread,
                thread_name: self.thread_name.clone(),
                threads: self.threads.clone(),
                order: self.order,
            };
            return Ok(Bound::new(py, sub)?.into_any());
        }
        let index: isize = index.extract()?;
        let n = self.rows.len() as isize;
        let i = if index < 0 { index + n } else { index };
        if i < 0 || i >= n {
            return Err(pyo3::exceptions::PyIndexError::new_err("summary row index out of range"));
        }
        Ok(Bound::new(py, self.rows[i as usize].clone())?.into_any())
    }

    fn __iter__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, pyo3::types::PyIterator>> {
        pyo3::types::PyList::new(py, self.rows.iter().cloned())?.try_iter()
    }

    /// The rows, as a list.
    #[getter]
    fn rows(&self) -> Vec<PySummaryRow> {
        self.rows.clone()
    }

    /// Index of the thread this summary covers, or None for the summary of all threads.
    #[getter]
    fn thread(&self) -> Option<u32> {
        self.thread
    }

    /// Name of the thread this summary covers, or None for the summary of all threads.
    #[getter]
    fn thread_name(&self) -> Option<String> {
        self.thread_name.clone()
    }

    /// One summary per thread (in the trace's thread order); empty for a per-thread summary.
    #[getter]
    fn per_thread(&self) -> Vec<PySummary> {
        self.threads
            .iter()
            .map(|t| PySummary {
                rows: t.rows.iter().map(PySummaryRow::from).collect(),
                thread: Some(t.thread),
                thread_name: Some(t.name.clone()),
                threads: Vec::new(),
                order: "total",
            })
            .collect()
    }

    /// The same summary with its rows ordered by `by` (descending for figures, ascending for
    /// names): one of "total", "self", "calls", "mean", "max", "function", "file".
    #[pyo3(signature = (by="total"))]
    fn sorted(&self, by: &str) -> PyResult<PySummary> {
        let mut rows = self.rows.clone();
        let order: &'static str = match by {
            "total" => {
                rows.sort_by(|a, b| b.total_ns.cmp(&a.total_ns).then(b.self_ns.cmp(&a.self_ns)).then(a.code.cmp(&b.code)));
                "total"
            }
            "self" => {
                rows.sort_by(|a, b| b.self_ns.cmp(&a.self_ns).then(b.total_ns.cmp(&a.total_ns)).then(a.code.cmp(&b.code)));
                "self"
            }
            "calls" => {
                rows.sort_by(|a, b| b.calls.cmp(&a.calls).then(b.total_ns.cmp(&a.total_ns)).then(a.code.cmp(&b.code)));
                "calls"
            }
            "mean" => {
                rows.sort_by(|a, b| b.mean_ns.cmp(&a.mean_ns).then(a.code.cmp(&b.code)));
                "mean"
            }
            "max" => {
                rows.sort_by(|a, b| b.max_ns.cmp(&a.max_ns).then(a.code.cmp(&b.code)));
                "max"
            }
            "function" => {
                rows.sort_by(|a, b| a.function.cmp(&b.function).then(a.file.cmp(&b.file)).then(a.line.cmp(&b.line)));
                "function"
            }
            "file" => {
                rows.sort_by(|a, b| a.file.cmp(&b.file).then(a.line.cmp(&b.line)));
                "file"
            }
            other => return Err(PyValueError::new_err(format!("unknown sort key {other:?} (choose from {SORT_KEYS})"))),
        };
        Ok(PySummary { rows, thread: self.thread, thread_name: self.thread_name.clone(), threads: self.threads.clone(), order })
    }

    /// The rows as a fixed-width text table (the first `limit` rows when given).
    #[pyo3(signature = (limit=None))]
    fn format_table(&self, limit: Option<usize>) -> String {
        self.table(limit)
    }

    /// The rows as a list of dicts (e.g. for `pandas.DataFrame(summary.to_dicts())`).
    fn to_dicts<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyDict>>> {
        self.rows.iter().map(|r| r.to_dict(py)).collect()
    }

    fn __repr__(&self) -> String {
        self.table(Some(25))
    }

    fn __str__(&self) -> String {
        self.table(None)
    }

    /// An HTML table (names escaped); at most 500 rows.
    fn _repr_html_(&self) -> String {
        const MAX_ROWS: usize = 500;
        let mut out = String::new();
        out.push_str("<table class=\"fprofile-summary\">\n<caption>");
        out.push_str(&html_escape(&self.title()));
        out.push_str("</caption>\n<thead><tr><th>function</th><th>calls</th><th>total</th><th>self</th><th>mean</th><th>max</th><th>file:line</th></tr></thead>\n<tbody>\n");
        for r in self.rows.iter().take(MAX_ROWS) {
            out.push_str(&format!(
                "<tr><td>{}</td><td style=\"text-align:right\">{}</td><td style=\"text-align:right\">{}</td><td style=\"text-align:right\">{}</td><td style=\"text-align:right\">{}</td><td style=\"text-align:right\">{}</td><td>{}:{}</td></tr>\n",
                html_escape(&r.function),
                r.calls,
                human_ns(r.total_ns as i64),
                human_ns(r.self_ns as i64),
                human_ns(r.mean_ns as i64),
                human_ns(r.max_ns as i64),
                html_escape(&r.file),
                r.line
            ));
        }
        out.push_str("</tbody>\n</table>");
        if self.rows.len() > MAX_ROWS {
            out.push_str(&format!("<p>... {} more rows</p>", self.rows.len() - MAX_ROWS));
        }
        out
    }
}

/// A recorded trace: per-thread call trees.
#[pyclass(name = "Trace", module = "fprofile_jupyter._core", frozen)]
pub struct PyTrace {
    inner: Arc<fprofile::Trace>,
}

impl PyTrace {
    /// Wraps a built trace (used by the recorder and the loaders).
    pub fn from_trace(t: fprofile::Trace) -> Self {
        PyTrace { inner: Arc::new(t) }
    }

    /// The wrapped trace.
    pub fn inner(&self) -> &fprofile::Trace {
        &self.inner
    }

    fn duration(&self) -> i64 {
        let t = &*self.inner;
        let first = t.threads.iter().map(|th| th.first_ns).min();
        let last = t.threads.iter().map(|th| th.last_ns).max();
        match (first, last) {
            (Some(f), Some(l)) => l.saturating_sub(f.min(0)).max(0),
            _ => 0,
        }
    }

    fn thread_info(t: &fprofile::Trace, index: usize) -> PyThreadInfo {
        let th = &t.threads[index];
        PyThreadInfo {
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
        format!(
            "<Trace: {} call{} of {} function{} in {} thread{} [{}{}] over {}>",
            t.calls.len(),
            if t.calls.len() == 1 { "" } else { "s" },
            t.codes.len(),
            if t.codes.len() == 1 { "" } else { "s" },
            t.threads.len(),
            if t.threads.len() == 1 { "" } else { "s" },
            names.join(", "),
            more,
            human_ns(self.duration())
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
        let t = &*self.inner;
        let c = &t.calls;
        let mut counts: std::collections::BTreeMap<String, u64> = std::collections::BTreeMap::new();
        for th in &t.threads {
            // stack[d] = the frame string prefix up to depth d
            let mut stack: Vec<String> = Vec::new();
            let n = call_count(c) as u32;
            for i in th.call_range.0..th.call_range.1.min(n) {
                let k = i as usize;
                let depth = c.depth[k] as usize;
                stack.truncate(depth);
                let name = t.codes.get(c.code[k] as usize).map(|x| x.name.as_str()).unwrap_or("?");
                let prefix = match stack.last() {
                    Some(p) => format!("{p};{name}"),
                    None => format!("{};{name}", th.name()),
                };
                *counts.entry(prefix.clone()).or_insert(0) += 1;
                stack.push(prefix);
            }
        }
        counts.into_iter().map(|(k, n)| format!("{k} {n}")).collect()
    }

    /// The trace in the compact binary `.fpt` format (what the widget and viewer load).
    fn to_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        let inner = self.inner.clone();
        let bytes = py.detach(move || fprofile::formats::fpt::encode(&inner));
        PyBytes::new(py, &bytes)
    }

    /// A trace from `.fpt` bytes (as written by `to_bytes` or `save(..., "fpt")`).
    #[classmethod]
    fn from_bytes(_cls: &Bound<'_, PyType>, py: Python<'_>, data: &[u8]) -> PyResult<PyTrace> {
        let data = data.to_vec();
        let t = py.detach(move || fprofile::formats::fpt::decode(&data)).map_err(IntoPyErr::into_pyerr)?;
        Ok(PyTrace::from_trace(t))
    }

    /// Writes the trace to `path`, in `format` or the format its extension names; `title` is the
    /// page title of the HTML export (default: the file name).
    #[pyo3(signature = (path, format=None, *, title=None))]
    fn save(&self, py: Python<'_>, path: &Bound<'_, PyAny>, format: Option<&str>, title: Option<String>) -> PyResult<()> {
        let path = path_string(path)?;
        let format = match format {
            Some(f) => out_format_from_name(f)?,
            None => out_format_from_path(&path)?,
        };
        let inner = self.inner.clone();
        let title = title.unwrap_or_else(|| {
            std::path::Path::new(&path)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "trace".to_owned())
        });
        py.detach(move || write_file(&path, |w| encode_to(&inner, format, &title, w)))
    }

    /// Per-function figures (calls, total, self, mean, max), overall and per thread (`per_thread`).
    fn summary(&self, py: Python<'_>) -> PySummary {
        let inner = self.inner.clone();
        let s = py.detach(move || fprofile::summary::summarize(&inner));
        PySummary::from_core(&s)
    }

    /// The summary as JSON (the schema the timeline's summary table reads).
    fn summary_json(&self, py: Python<'_>) -> String {
        let inner = self.inner.clone();
        py.detach(move || fprofile::summary::summary_json(&inner))
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
        Ok((ctor, (slf.get().to_bytes(py),)))
    }

    /// Two traces are equal when they hold exactly the same threads, calls, functions and metadata.
    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        match other.cast::<PyTrace>() {
            Ok(o) => *self.inner == *o.get().inner,
            Err(_) => false,
        }
    }

    /// The threads, in order of their first event.
    #[getter]
    fn threads(&self) -> Vec<PyThreadInfo> {
        (0..self.inner.threads.len()).map(|i| Self::thread_info(&self.inner, i)).collect()
    }

    /// The calls, grouped by thread and in pre-order within a thread; only those of `thread`
    /// (an index into `threads`) when given.
    #[pyo3(signature = (thread=None))]
    fn calls(&self, py: Python<'_>, thread: Option<usize>) -> PyResult<Vec<PyCall>> {
        let t = &*self.inner;
        let n = call_count(&t.calls) as u32;
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
        let self_ns = self_times(t);
        let c = &t.calls;
        let empty = PyString::new(py, "").unbind();
        let names: Vec<Py<PyString>> = t.codes.iter().map(|x| PyString::new(py, &x.name).unbind()).collect();
        let files: Vec<Py<PyString>> = t.codes.iter().map(|x| PyString::new(py, &x.file).unbind()).collect();
        let mut out = Vec::with_capacity(range.len());
        let mut th = if range.start < range.end { thread_of_call(t, range.start) } else { 0 };
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

/// One thread for `_build_trace`: (os_id, name, [(t_ns, code_id, is_return)]).
type ThreadEvents = (u64, String, Vec<(u64, u32, bool)>);

/// Builds a trace from flat events (for tests and tools): `codes` = [(file, name, first_line)],
/// `threads` = [(os_id, name, [(t_ns, code_id, is_return), ...])] with absolute times.
#[pyfunction]
#[pyo3(signature = (codes, threads, *, start_ns=0, stop_ns=0, metadata=None))]
fn _build_trace(
    py: Python<'_>,
    codes: Vec<(String, String, u32)>,
    threads: Vec<ThreadEvents>,
    start_ns: u64,
    stop_ns: u64,
    metadata: Option<Vec<(String, String)>>,
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
    };
    PyTrace::from_trace(py.detach(move || fprofile::build::build_trace(rec)))
}

/// Loads a trace from a file; the format is detected from the content unless given.
/// `progress(bytes_done, bytes_total)`, when given, is called now and then while parsing.
#[pyfunction]
#[pyo3(signature = (path, format=None, *, progress=None))]
fn load(py: Python<'_>, path: &Bound<'_, PyAny>, format: Option<&str>, progress: Option<Bound<'_, PyAny>>) -> PyResult<PyTrace> {
    let path = path_string(path)?;
    load_path(py, &path, format, progress)
}

/// Loads a trace from bytes; the format is detected from the content unless given.
/// `max_inflated`: the largest body a compressed `.fpt` may inflate to (bytes; default the
/// format's 2 GiB), for bytes from someone else: `fprofile::load::load_bytes_limited`.
#[pyfunction]
#[pyo3(signature = (data, format=None, *, max_inflated=None))]
fn load_bytes(py: Python<'_>, data: &[u8], format: Option<&str>, max_inflated: Option<u64>) -> PyResult<PyTrace> {
    let format = format.map(in_format_from_name).transpose()?.map(InFormat::core);
    let data = data.to_vec();
    match py.detach(move || fprofile::load::load_bytes_limited(&data, format, max_inflated, &mut |_, _| {})) {
        Ok(t) => Ok(PyTrace::from_trace(t)),
        Err(e) => Err(FormatError::new_err(e.problem.to_string())),
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(load, m)?)?;
    m.add_function(wrap_pyfunction!(load_bytes, m)?)?;
    m.add_function(wrap_pyfunction!(_build_trace, m)?)?;
    m.add_class::<PyTrace>()?;
    m.add_class::<PyThreadInfo>()?;
    m.add_class::<PyCall>()?;
    m.add_class::<PySummary>()?;
    m.add_class::<PySummaryRow>()?;
    Ok(())
}

/// Terminal columns a character takes: 0 for combining marks, 2 for East Asian wide and
/// fullwidth characters and emoji, else 1 (enough to keep the summary table's columns straight
/// with CJK or accented names).
fn char_width(c: char) -> usize {
    let u = c as u32;
    match u {
        0x0300..=0x036F
        | 0x1AB0..=0x1AFF
        | 0x1DC0..=0x1DFF
        | 0x200B..=0x200F
        | 0x20D0..=0x20FF
        | 0xFE00..=0xFE0F
        | 0xFE20..=0xFE2F => 0,
        0x1100..=0x115F
        | 0x2E80..=0x303E
        | 0x3041..=0x33FF
        | 0x3400..=0x4DBF
        | 0x4E00..=0x9FFF
        | 0xA000..=0xA4CF
        | 0xA960..=0xA97F
        | 0xAC00..=0xD7A3
        | 0xF900..=0xFAFF
        | 0xFE30..=0xFE4F
        | 0xFF00..=0xFF60
        | 0xFFE0..=0xFFE6
        | 0x1F300..=0x1F64F
        | 0x1F900..=0x1F9FF
        | 0x20000..=0x3FFFD => 2,
        _ => 1,
    }
}

fn display_width(s: &str) -> usize {
    s.chars().map(char_width).sum()
}

/// `s` cut to `width` terminal columns (ending in `~` when cut) and padded with spaces to it.
fn pad_to_width(s: &str, width: usize) -> String {
    let mut out = String::new();
    let mut w = 0;
    if display_width(s) > width {
        for c in s.chars() {
            let cw = char_width(c);
            if w + cw > width.saturating_sub(1) {
                break;
            }
            out.push(c);
            w += cw;
        }
        out.push('~');
        w += 1;
    } else {
        out.push_str(s);
        w = display_width(s);
    }
    out.extend(std::iter::repeat_n(' ', width.saturating_sub(w)));
    out
}
