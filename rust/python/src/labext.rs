//! The JupyterLab / Notebook 7 extension's files for Python: `lab_extension_files()` (a thin
//! wrapper over `fprofile::labext`, the files `build.rs` writes into the wheel's data folder).

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

/// Every file of the extension, as {path relative to its folder: bytes}, for this package's version.
#[pyfunction]
fn lab_extension_files(py: Python<'_>) -> PyResult<Vec<(String, Py<PyBytes>)>> {
    let files = fprofile::labext::files(env!("CARGO_PKG_VERSION")).map_err(PyRuntimeError::new_err)?;
    Ok(files.into_iter().map(|(rel, data)| (rel, PyBytes::new(py, &data).unbind())).collect())
}

/// Where the extension sits under the prefix.
pub const INSTALL_PATH: &str = fprofile::labext::INSTALL_PATH;

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(lab_extension_files, m)?)?;
    m.add("LAB_EXTENSION_PATH", INSTALL_PATH)?;
    Ok(())
}
