//! [`PyProgress`]: a Python progress callback `cb(done, total)` as the core's loaders take one.

use pyo3::prelude::*;

/// A progress callback for the Rust side: calls the Python callable `cb(done, total)` (taking the
/// GIL for the call); after the first exception from it, stops calling and keeps the exception.
pub(crate) struct PyProgress {
    cb: Option<Py<PyAny>>,
    pub(crate) error: Option<PyErr>,
}

impl PyProgress {
    pub(crate) fn new(cb: Option<Bound<'_, PyAny>>) -> Self {
        PyProgress { cb: cb.map(Bound::unbind), error: None }
    }

    pub(crate) fn call(&mut self, done: usize, total: usize) {
        if self.error.is_some() {
            return;
        }
        if let Some(cb) = &self.cb {
            if let Err(e) = Python::attach(|py| cb.call1(py, (done, total)).map(drop)) {
                self.error = Some(e);
            }
        }
    }
}
