//! `_process_name()` and `_command_line()`: this process's name as the recorder gives it (the
//! core's one rule, `fprofile::process::name_of`) and its whole command line, for the Python
//! layer (the trace's metadata "command", a Dask run's client process).

use pyo3::prelude::*;

/// _process_name() -> str
///
/// This process's name in a trace: "kernel" (with the notebook's name) for a Jupyter kernel, the
/// script and its arguments for a Python program.
#[pyfunction]
fn _process_name() -> String {
    fprofile::process::current_name().unwrap_or_default()
}

/// _command_line() -> str
///
/// This process's command line, arguments joined by spaces (cut to 200 characters).
#[pyfunction]
fn _command_line() -> String {
    fprofile::process::command_line().unwrap_or_default()
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_process_name, m)?)?;
    m.add_function(wrap_pyfunction!(_command_line, m)?)?;
    Ok(())
}
