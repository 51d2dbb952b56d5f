//! `short_path(file, roots)`: a file name as the user knows it (the core's one rule,
//! `fprofile::paths`), for the Python layer's own tables; [`path_string`]: a path argument as text.

use pyo3::prelude::*;

/// short_path(file, roots) -> str
///
/// ``file`` relative to the folder of ``roots`` it lies in (a trace's metadata "paths.roots": a JSON
/// list of [prefix, label] pairs; the longest matching prefix wins), else unchanged.
#[pyfunction]
fn short_path(file: &str, roots: &str) -> String {
    fprofile::paths::Roots::from_json(roots).short(file).into_owned()
}

/// A path argument (`str` or `os.PathLike`) as a string.
pub(crate) fn path_string(path: &Bound<'_, PyAny>) -> PyResult<String> {
    let p: std::path::PathBuf = path.extract()?;
    Ok(p.to_string_lossy().into_owned())
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(short_path, m)?)?;
    Ok(())
}
