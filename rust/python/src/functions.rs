//! The module-level functions around `Trace`: those that make one (`load`, `load_bytes`,
//! `open_file`, `_build_trace`, `_synthetic_trace`), the format table (`formats()`), `format_duration()`, and
//! `_html_export` (the HTML export with its limits given, for tests). Conversion only.

use fprofile::formats::registry;
use fprofile::units::format_duration;
use pyo3::prelude::*;

use crate::errors::BindingError;
use crate::paths::path_string;
use crate::progress::PyProgress;
use crate::trace::PyTrace;

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
    PyTrace::from_trace(py.detach(move || fprofile::calltree::build_trace(rec)))
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

/// Opens the trace in the file at `path` as a file-backed trace (`backed.rs`, the core's
/// `FileTrace`): its tables and what answers windows, summaries and flame graphs; its calls are
/// read from the file as asked, and loaded whole only for what needs every call.
#[pyfunction]
fn open_file(py: Python<'_>, path: &Bound<'_, PyAny>) -> Result<PyTrace, BindingError> {
    let path = path_string(path)?;
    let src = py.detach(|| crate::backed::Source::open(std::path::Path::new(&path)))?;
    Ok(PyTrace::from_source(src))
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
fn _html_export(
    py: Python<'_>,
    trace: &PyTrace,
    title: &str,
    pyramid_calls: usize,
    max_bytes: usize,
) -> Result<String, BindingError> {
    let inner = trace.whole(py)?;
    let title = title.to_owned();
    Ok(py.detach(move || fprofile::formats::html::to_html_limited(&inner, &title, pyramid_calls, max_bytes)))
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
    m.add_function(wrap_pyfunction!(open_file, m)?)?;
    m.add_function(wrap_pyfunction!(_synthetic_trace, m)?)?;
    m.add_function(wrap_pyfunction!(_html_export, m)?)?;
    m.add_function(wrap_pyfunction!(load_bytes, m)?)?;
    m.add_function(wrap_pyfunction!(_build_trace, m)?)?;
    m.add_function(wrap_pyfunction!(formats, m)?)?;
    m.add_function(wrap_pyfunction!(py_format_duration, m)?)?;
    Ok(())
}
