//! `fprofile_jupyter._core`: the thin pyo3 layer over the `fprofile` crate, plus the CPython hook.
//!
//! - `errors`: the package's exception types, `BindingError` (a variant per core error) and the one
//!   `From<BindingError> for PyErr`.
//! - `trace`: the `Trace`, `Summary` and record classes (wrapping `fprofile::Trace` and
//!   `fprofile::summary`), `load`, `load_bytes`, `formats()`, `format_duration()`: conversion only.
//! - `hook/` + `recorder`: the only code that touches CPython internals: installing the hook,
//!   per-thread buffers, typed failures (`HookError`) and warnings (`HookWarning`), the `Recorder`
//!   class and its `RecorderStats`.
//! - `assets`: the embedded timeline JS/CSS and the HTML export.

use pyo3::prelude::*;

mod assets;
mod errors;
mod hook;
mod recorder;
mod summary;
mod trace;

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    errors::register(m)?;
    trace::register(m)?;
    recorder::register(m)?;
    assets::register(m)?;
    Ok(())
}
