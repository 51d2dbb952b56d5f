//! `fprofile_jupyter._core`: the thin pyo3 layer over the `fprofile` crate, plus the CPython hook.
//!
//! - `errors`: the package's exception types, `BindingError` (a variant per core error) and the one
//!   `From<BindingError> for PyErr`.
//! - `trace`: the `Trace` class (wrapping `fprofile::Trace`, or a file's `fprofile::filetrace::
//!   FileTrace`: `backed`); `records`: its `ThreadInfo`,
//!   `ProcessInfo` and `Call`; `summary`: the `Summary` classes (`fprofile::summary`); `functions`:
//!   `load`, `load_bytes`, `formats()`, `format_duration()` and the test helpers: conversion only.
//! - `hook/` + `recorder`: the only code that touches CPython internals: installing the hook,
//!   per-thread buffers, typed failures (`HookError`) and warnings (`HookWarning`), the `Recorder`
//!   class and its `RecorderStats`.
//! - `aggregate`: flame graphs, callers and callees (`fprofile::flame`); `comparison`: the
//!   `_Comparison` class (`fprofile::compare`).
//! - `progress`: a Python progress callback as the core's loaders take one.
//! - `child`: a child process's recording (`processes=True`), started by the `.pth` line without
//!   the package.
//! - `spool`: a child process's spool read into a `Trace` (the parent's merge of child processes).
//! - `assets`: the embedded timeline JS/CSS and the HTML export.
//! - `labext`: the JupyterLab extension's files (`build.rs` writes them into the wheel).
//! - `paths`: `short_path(file, roots)`, file names as users know them.
//! - `merge`: `merge(parts)`, several traces (processes, Dask workers) into one.
//! - `process`: `_process_name()`, `_command_line()`: this process as a trace names it.

use pyo3::prelude::*;

mod aggregate;
mod assets;
mod backed;
mod child;
mod comparison;
mod errors;
mod functions;
mod hook;
mod labext;
mod merge;
mod paths;
mod process;
mod progress;
mod recorder;
mod records;
mod spool;
mod summary;
mod tasks;
mod trace;

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    check_python_version(m.py())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    // the overview's width: one home, the core (a stored window index keeps it made)
    m.add("OVERVIEW_PX", fprofile::window::OVERVIEW_PX)?;
    errors::register(m)?;
    trace::register(m)?;
    records::register(m)?;
    summary::register(m)?;
    functions::register(m)?;
    comparison::register(m)?;
    recorder::register(m)?;
    child::register(m)?;
    spool::register(m)?;
    assets::register(m)?;
    labext::register(m)?;
    paths::register(m)?;
    merge::register(m)?;
    process::register(m)?;
    tasks::register(m)?;
    Ok(())
}

/// The CPython 3.X that `_core` is built for, from the cfgs the hook already uses (`Py_3_Y` is set
/// for every Y up to X). Not a new build-script output: a cargo folder shared with another clone
/// (the Debian root's) kept that clone's older build.rs output and lacked it. A new version needs
/// its line here, as it needs the hook's.
const BUILT_FOR_MINOR: u8 = if cfg!(Py_3_16) {
    16
} else if cfg!(Py_3_15) {
    15
} else if cfg!(Py_3_14) {
    14
} else if cfg!(Py_3_13) {
    13
} else if cfg!(Py_3_12) {
    12
} else if cfg!(Py_3_11) {
    11
} else if cfg!(Py_3_10) {
    10
} else {
    9
};

/// The hook reads interpreter structures whose layout is that of the CPython version `_core` was
/// built for: on any other version (a wheel forced onto it, a copied or renamed file) importing it
/// is one clear ImportError, before anything else runs.
fn check_python_version(py: Python<'_>) -> PyResult<()> {
    let v = py.version_info();
    if (v.major, v.minor) == (3, BUILT_FOR_MINOR) {
        return Ok(());
    }
    let built = format!("3.{BUILT_FOR_MINOR}");
    Err(pyo3::exceptions::PyImportError::new_err(format!(
        "fprofile_jupyter cannot load its compiled part: it was built for CPython {built}, and this is CPython {}.{}.{}. \
         A wheel runs only on the Python it was built for: install the one for this Python (pip install --force-reinstall \
         fprofile-jupyter, or the wheel whose name has cp{}{}), or build from source with a Rust toolchain \
         (pip install --no-binary fprofile-jupyter fprofile-jupyter).",
        v.major, v.minor, v.patch, v.major, v.minor
    )))
}
