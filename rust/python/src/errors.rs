//! Exception types of the package. `FormatError` (a `ValueError`): a file or buffer that is not a
//! valid trace. `ProfilerError` (a `RuntimeError`): profiling cannot start or stop as asked.
use pyo3::create_exception;
use pyo3::prelude::*;

create_exception!(
    fprofile_jupyter,
    FormatError,
    pyo3::exceptions::PyValueError,
    "A file or buffer is not a valid trace; the message says what is wrong and where."
);
create_exception!(
    fprofile_jupyter,
    ProfilerError,
    pyo3::exceptions::PyRuntimeError,
    "Profiling cannot be started or stopped as asked."
);

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("FormatError", m.py().get_type::<FormatError>())?;
    m.add("ProfilerError", m.py().get_type::<ProfilerError>())?;
    Ok(())
}

// Core error types -> `FormatError` with the error's one-line message (which names the line or byte
// offset). `impl From<core error> for PyErr` is not allowed (both types are foreign: the orphan
// rule), so the conversion is this local trait: `decode(..).map_err(IntoPyErr::into_pyerr)?`.
// Callers that know the path prefix it themselves with `format_error`.

/// Conversion of a core error into the Python exception users see.
pub trait IntoPyErr {
    fn into_pyerr(self) -> PyErr;
}

impl IntoPyErr for fprofile::formats::fpt::FptError {
    fn into_pyerr(self) -> PyErr {
        FormatError::new_err(self.to_string())
    }
}

impl IntoPyErr for fprofile::formats::pyme_text::TextError {
    fn into_pyerr(self) -> PyErr {
        FormatError::new_err(self.to_string())
    }
}

impl IntoPyErr for fprofile::formats::pyme_json::PymeJsonError {
    fn into_pyerr(self) -> PyErr {
        FormatError::new_err(self.to_string())
    }
}

/// `FormatError("<path>: <what>")`.
pub fn format_error(path: &str, what: impl std::fmt::Display) -> PyErr {
    FormatError::new_err(format!("{path}: {what}"))
}
