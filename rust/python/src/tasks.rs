//! `_core._TaskSteps`: the coroutine of an asyncio task made while recording, timing each step of
//! the task (`fprofile_jupyter._asyncio` makes one per task). The task steps it as it would its
//! coroutine (`__next__` for `send(None)`, `send`, `throw`, `close`); each step reads
//! CLOCK_MONOTONIC (the clock of the recorded calls, `hook::clock::now_ns`) just before and just
//! after the coroutine runs, kept in the object's own list (an odd count while a step runs). Native
//! so that a step costs two clock readings and a push, not a Python frame: what
//! `benchmarks/bench_asyncio.py` measures. At its last step (the coroutine returned or raised) it
//! calls `on_end()` (the task's record reads the task's name then). Its other attributes are the
//! coroutine's (`cr_frame`, `__name__`, ...). `stop()` ends the timing (the task runs on, untimed).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use pyo3::prelude::*;
use pyo3::types::{PyString, PyTuple};

use crate::hook::clock::now_ns;

#[pyclass(name = "_TaskSteps", module = "fprofile_jupyter._core", frozen, weakref)]
pub struct TaskSteps {
    coro: Py<PyAny>,
    on_end: Py<PyAny>,
    on: AtomicBool,
    steps: Mutex<Vec<u64>>,
}

impl TaskSteps {
    fn push(&self, t: u64) {
        if let Ok(mut s) = self.steps.lock() {
            s.push(t);
        }
    }

    /// One step: `run` runs the coroutine; timed while on. At the coroutine's end (an error,
    /// StopIteration included) `on_end()` is called, then the error goes on.
    fn step<'py>(
        &self,
        py: Python<'py>,
        run: impl FnOnce(Python<'py>) -> PyResult<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        if !self.on.load(Ordering::Relaxed) {
            return run(py);
        }
        self.push(now_ns());
        let out = run(py);
        self.push(now_ns());
        if out.is_err() {
            // (a failure of on_end is not the task's: it must not replace the coroutine's outcome)
            if let Err(e) = self.on_end.call0(py) {
                e.write_unraisable(py, Some(self.on_end.bind(py)));
            }
        }
        out
    }

    /// `coro.send(value)`, through `PyIter_Send` where there is one (a coroutine's own `am_send`).
    fn send_inner<'py>(&self, py: Python<'py>, value: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        #[cfg(all(Py_3_10, not(PyPy)))]
        {
            use pyo3::exceptions::PyStopIteration;
            use pyo3::ffi;

            let mut result: *mut ffi::PyObject = std::ptr::null_mut();
            // SAFETY: the GIL is held (`py`), both objects are alive for the call, and `result` is a
            // valid out-pointer; PyIter_Send gives a new reference in it (or NULL on error).
            let status = unsafe { ffi::PyIter_Send(self.coro.as_ptr(), value.as_ptr(), &mut result) };
            match status {
                ffi::PySendResult::PYGEN_NEXT => {
                    // SAFETY: a new reference on PYGEN_NEXT
                    Ok(unsafe { Bound::from_owned_ptr(py, result) })
                }
                ffi::PySendResult::PYGEN_RETURN => {
                    // SAFETY: a new reference (the return value) on PYGEN_RETURN
                    let value = unsafe { Bound::from_owned_ptr(py, result) };
                    Err(PyStopIteration::new_err((value.unbind(),)))
                }
                ffi::PySendResult::PYGEN_ERROR => Err(PyErr::fetch(py)),
            }
        }
        #[cfg(not(all(Py_3_10, not(PyPy))))]
        {
            self.coro.bind(py).call_method1("send", (value,))
        }
    }
}

#[pymethods]
impl TaskSteps {
    #[new]
    fn new(coro: Py<PyAny>, on_end: Py<PyAny>) -> Self {
        TaskSteps { coro, on_end, on: AtomicBool::new(true), steps: Mutex::new(Vec::new()) }
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let none = py.None().into_bound(py);
        self.step(py, |py| self.send_inner(py, &none))
    }

    fn send<'py>(&self, py: Python<'py>, value: Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        self.step(py, |py| self.send_inner(py, &value))
    }

    #[pyo3(signature = (*args))]
    fn throw<'py>(&self, py: Python<'py>, args: Bound<'py, PyTuple>) -> PyResult<Bound<'py, PyAny>> {
        self.step(py, |py| self.coro.bind(py).call_method1("throw", args))
    }

    fn close<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.coro.bind(py).call_method0("close")
    }

    fn __iter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    fn __await__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    /// The coroutine's attribute (`cr_frame`, `cr_code`, `__name__`, `__qualname__`, ...).
    fn __getattr__<'py>(&self, py: Python<'py>, name: Bound<'py, PyString>) -> PyResult<Bound<'py, PyAny>> {
        self.coro.bind(py).getattr(name)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(self.coro.bind(py).repr()?.to_string())
    }

    /// The coroutine it runs.
    #[getter]
    fn _coro(&self, py: Python<'_>) -> Py<PyAny> {
        self.coro.clone_ref(py)
    }

    /// Timing on (until `stop()`).
    #[getter]
    fn timing(&self) -> bool {
        self.on.load(Ordering::Relaxed)
    }

    /// The readings so far: start, end, start, end, ... (CLOCK_MONOTONIC ns; an odd count while a
    /// step runs).
    fn steps(&self) -> Vec<u64> {
        self.steps.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// No more timing (nor readings kept); the coroutine runs on.
    fn stop(&self) {
        self.on.store(false, Ordering::Relaxed);
        if let Ok(mut s) = self.steps.lock() {
            *s = Vec::new();
        }
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<TaskSteps>()
}
