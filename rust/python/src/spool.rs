//! `_read_spool(path)`: a child process's spool (see `fprofile::formats::spool`) as a `Trace`, for
//! the parent's merge at stop (`fprofile_jupyter._processes`). Conversion only.

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
    let trace = py.detach(move || fprofile::formats::spool::build(read.recording));
    let calls = trace.calls.len();
    Ok((PyTrace::from_trace(trace), pid, parent_pid, calls, end))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_read_spool, m)?)?;
    Ok(())
}
