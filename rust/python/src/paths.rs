//! `short_path(file, roots)`: a file name as the user knows it (the core's one rule,
//! `fprofile::paths`), for the Python layer's own tables.

use pyo3::prelude::*;

/// short_path(file, roots) -> str
///
/// ``file`` relative to the folder of ``roots`` it lies in (a trace's metadata "paths.roots": a JSON
/// list of [prefix, label] pairs; the longest matching prefix wins), else unchanged.
#[pyfunction]
fn short_path(file: &str, roots: &str) -> String {
    fprofile::paths::Roots::from_json(roots).short(file).into_owned()
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(short_path, m)?)?;
    Ok(())
}
