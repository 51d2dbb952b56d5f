//! The files a recording streams while it runs, as the Python layer needs them: `_read_spool(path)`,
//! a child process's spool (see `fprofile::formats::spool`) as a `Trace`, for the parent's merge at
//! stop (`fprofile_jupyter._processes`); `_is_stream_path` and `_stream_append_trace` for a streamed
//! `.fpt` outfile (`fprofile::formats::stream`). Conversion only.

use std::path::PathBuf;

use pyo3::prelude::*;

use crate::errors::FormatError;
use crate::trace::PyTrace;

/// Reads the spool at `path` and builds its trace (off the GIL). Returns `(trace, pid, parent_pid,
/// calls, end)`, `end` being "exited", "flushed" (still running at the parent's stop) or None (no
/// end record: killed). Raises OSError when the file cannot be read, FormatError when it is not a
/// spool.
#[pyfunction]
fn _read_spool(py: Python<'_>, path: PathBuf) -> PyResult<(PyTrace, u64, u64, usize, Option<&'static str>)> {
    let bytes = std::fs::read(&path).map_err(PyErr::from)?;
    let read = py.detach(move || fprofile::formats::spool::read(&bytes));
    let read = read.map_err(|e| FormatError::new_err(format!("{}: {e}", path.display())))?;
    let end = read.end.map(|e| match e.how {
        fprofile::formats::spool::EndHow::Exited => "exited",
        fprofile::formats::spool::EndHow::FlushedRunning => "flushed",
    });
    let (pid, parent_pid) = (read.recording.process.pid, read.recording.process.parent_pid);
    let trace = py.detach(move || fprofile::calltree::build_process_trace(read.recording));
    let calls = trace.calls.len();
    Ok((PyTrace::from_trace(trace), pid, parent_pid, calls, end))
}

/// Whether a recording's outfile at `path` is streamed as `.fpt` chunks (else PYME raw text).
#[pyfunction]
fn _is_stream_path(path: PathBuf) -> bool {
    fprofile::formats::stream::is_stream_path(&path)
}

/// Appends `trace` (the trace with the child processes merged in) to the streamed file at `path`
/// as its final chunk: loading the file gives that trace.
#[pyfunction]
fn _stream_append_trace(py: Python<'_>, path: PathBuf, trace: PyRef<'_, PyTrace>) -> PyResult<()> {
    let t = trace.whole(py)?;
    py.detach(move || fprofile::formats::stream::append_trace(&path, &t)).map_err(PyErr::from)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_read_spool, m)?)?;
    m.add_function(wrap_pyfunction!(_is_stream_path, m)?)?;
    m.add_function(wrap_pyfunction!(_stream_append_trace, m)?)?;
    Ok(())
}
