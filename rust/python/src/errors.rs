//! Exception types of the package, and the one conversion of every Rust error into them.
//!
//! `FormatError` (a `ValueError`): a file or buffer that is not a valid trace. `ProfilerError` (a
//! `RuntimeError`): profiling cannot start or stop as asked. Every function of the binding that
//! can fail returns [`BindingError`] (a variant per core error, `#[from]` each), turned into the
//! Python exception users see by the single `From<BindingError> for PyErr` below.

use pyo3::create_exception;
use pyo3::exceptions::{PyIsADirectoryError, PyOSError, PyTimeoutError, PyValueError};
use pyo3::prelude::*;

use fprofile::load::Problem;

use crate::hook::HookError;

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

/// Every failure of the binding.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BindingError {
    /// Loading a file or buffer: `OSError` (the right subclass) when it cannot be read,
    /// `FormatError` when it is not a valid trace.
    #[error(transparent)]
    Load(#[from] fprofile::LoadError),
    /// Writing a file: `OSError` naming the file.
    #[error(transparent)]
    Save(#[from] fprofile::formats::SaveError),
    /// An unknown format name or file name ending: `ValueError`.
    #[error(transparent)]
    FormatChoice(#[from] fprofile::formats::registry::ChoiceError),
    /// An unknown summary sort key: `ValueError`.
    #[error(transparent)]
    SortKey(#[from] fprofile::summary::UnknownSortKey),
    /// Two traces that cannot be compared (one has no calls): `ValueError`.
    #[error(transparent)]
    Compare(#[from] fprofile::compare::CompareError),
    /// An unknown comparison order: `ValueError`.
    #[error(transparent)]
    CompareSort(#[from] fprofile::compare::UnknownCompareSort),
    /// `.fpt` bytes that are not valid: `FormatError`.
    #[error(transparent)]
    Fpt(#[from] fprofile::formats::fpt::FptError),
    /// A window request the trace cannot answer (empty, outside the trace, bad width or thread),
    /// or a window reply that is not valid: `ValueError`.
    #[error(transparent)]
    Window(#[from] fprofile::window::WindowError),
    /// The static picture cannot be made (a width out of range): `ValueError`.
    #[error(transparent)]
    Picture(#[from] fprofile::formats::png::PictureError),
    /// Recording cannot start or stop: `ProfilerError` (see [`HookError`]).
    #[error(transparent)]
    Hook(#[from] HookError),
    /// An exception raised by Python code (a progress callback, an argument conversion).
    #[error(transparent)]
    Python(#[from] PyErr),
}

impl From<BindingError> for PyErr {
    fn from(e: BindingError) -> PyErr {
        match e {
            BindingError::Load(fprofile::LoadError { path, problem: Problem::Io(io) }) => {
                let path = path.map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
                if std::fs::metadata(&path).is_ok_and(|m| m.is_dir()) {
                    return PyIsADirectoryError::new_err((21, "Is a directory", path));
                }
                os_error(&io, &path)
            }
            BindingError::Load(e) => FormatError::new_err(e.to_string()),
            BindingError::Save(e) => os_error(&e.source, &e.path.to_string_lossy()),
            BindingError::FormatChoice(e) => PyValueError::new_err(e.to_string()),
            BindingError::SortKey(e) => PyValueError::new_err(e.to_string()),
            BindingError::Compare(e) => PyValueError::new_err(e.to_string()),
            BindingError::CompareSort(e) => PyValueError::new_err(e.to_string()),
            BindingError::Fpt(e) => FormatError::new_err(e.to_string()),
            BindingError::Window(e) => PyValueError::new_err(e.to_string()),
            BindingError::Picture(e) => PyValueError::new_err(e.to_string()),
            BindingError::Hook(HookError::Python(e)) | BindingError::Python(e) => e,
            BindingError::Hook(e @ HookError::Options(_)) => PyValueError::new_err(e.to_string()),
            BindingError::Hook(e) => ProfilerError::new_err(e.to_string()),
        }
    }
}

/// An `OSError` (the right subclass: `FileNotFoundError`, `PermissionError`, ...) naming `path`.
fn os_error(e: &std::io::Error, path: &str) -> PyErr {
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
                std::io::ErrorKind::TimedOut => PyTimeoutError::new_err(msg),
                _ => PyOSError::new_err(msg),
            }
        }
    }
}
