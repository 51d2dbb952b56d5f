//! The `Recorder` class: a thin handle on the hook (`hook/` holds all the logic). One recording at
//! a time per interpreter; `fprofile_jupyter._recording` builds `profile()` and `ThreadProfiler` on it.

use std::path::PathBuf;
use std::sync::Mutex;

use fprofile::{EventKind, Recording};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::errors::ProfilerError;
use crate::hook::{self, StartOptions, Stopped};
use crate::trace::PyTrace;

#[derive(Default)]
struct State {
    /// Generation of the session this recorder started (while it runs).
    running: Option<u32>,
    /// Figures of the last stop.
    stats: Option<Stats>,
}

#[derive(Clone)]
struct Stats {
    events: u64,
    bytes_held: u64,
    cap_reached: Option<u64>,
    warnings: Vec<String>,
    outfile_error: Option<String>,
    threads: usize,
    codes: usize,
}

/// Records Python calls (see `fprofile_jupyter.profile` for the user-level API).
///
/// `start(subs, *, exclude=(), builtins=False, max_events=20_000_000, outfile=None)` installs the
/// hook: calls of code whose `co_filename` contains one of `subs` (and none of `exclude`) are
/// recorded on every thread. `stop()` removes it and returns the `Trace`.
#[pyclass(name = "Recorder", module = "fprofile_jupyter._core")]
pub struct Recorder {
    state: Mutex<State>,
}

fn lock(m: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Recorder {
    fn stop_inner(&self, py: Python<'_>) -> PyResult<Recording> {
        let mut st = lock(&self.state);
        if st.running.is_none() {
            return Err(ProfilerError::new_err("this recorder is not recording: call start() first"));
        }
        let Stopped { recording, events, bytes_held, cap_reached, warnings, outfile_error } = hook::stop(py)?;
        st.running = None;
        st.stats = Some(Stats {
            events,
            bytes_held,
            cap_reached,
            warnings,
            outfile_error,
            threads: recording.threads.len(),
            codes: recording.codes.len(),
        });
        Ok(recording)
    }
}

#[pymethods]
impl Recorder {
    #[new]
    fn new() -> Self {
        Recorder { state: Mutex::new(State::default()) }
    }

    #[pyo3(signature = (subs, *, exclude = Vec::new(), builtins = false, max_events = hook::session::DEFAULT_MAX_EVENTS, outfile = None))]
    fn start(
        &self,
        py: Python<'_>,
        subs: Vec<String>,
        exclude: Vec<String>,
        builtins: bool,
        max_events: u64,
        outfile: Option<PathBuf>,
    ) -> PyResult<()> {
        let mut st = lock(&self.state);
        if st.running.is_some() {
            return Err(ProfilerError::new_err("this recorder is already recording: call stop() first"));
        }
        if max_events == 0 {
            return Err(pyo3::exceptions::PyValueError::new_err("max_events must be at least 1"));
        }
        let gen = hook::start(py, StartOptions { subs, exclude, builtins, max_events, outfile })?;
        st.running = Some(gen);
        st.stats = None;
        Ok(())
    }

    /// Stops recording and returns the `Trace` (call trees built off the GIL).
    fn stop(&self, py: Python<'_>) -> PyResult<PyTrace> {
        let rec = self.stop_inner(py)?;
        Ok(PyTrace::from_trace(py.detach(move || fprofile::build::build_trace(rec))))
    }

    /// Stops recording and returns the flat events, unbuilt (for tests and diagnostics).
    fn stop_raw(&self, py: Python<'_>) -> PyResult<RawRecording> {
        let rec = self.stop_inner(py)?;
        Ok(RawRecording { rec: Mutex::new(Some(rec)) })
    }

    /// True while this recorder records.
    #[getter]
    fn active(&self) -> bool {
        lock(&self.state).running.is_some()
    }

    /// Figures of the last stop: `events`, `bytes_held` (event buffer capacity), `cap_reached`
    /// (the cap, or None), `warnings` (list of str), `outfile_error` (str: writing the outfile failed,
    /// or None), `threads`, `codes`; None before any stop.
    #[getter]
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        let Some(s) = lock(&self.state).stats.clone() else { return Ok(None) };
        let d = PyDict::new(py);
        d.set_item("events", s.events)?;
        d.set_item("bytes_held", s.bytes_held)?;
        d.set_item("cap_reached", s.cap_reached)?;
        d.set_item("warnings", s.warnings)?;
        d.set_item("outfile_error", s.outfile_error)?;
        d.set_item("threads", s.threads)?;
        d.set_item("codes", s.codes)?;
        Ok(Some(d))
    }

    /// True while any recorder of this interpreter records.
    #[staticmethod]
    fn is_profiling() -> bool {
        hook::session::is_on()
    }

    /// The interpreter mechanism a recording uses on this Python with these options.
    #[staticmethod]
    #[pyo3(signature = (builtins = false))]
    fn mechanism(builtins: bool) -> &'static str {
        if builtins {
            "profile function"
        } else if cfg!(Py_3_12) {
            "sys.monitoring"
        } else {
            "PEP 523 eval-frame function"
        }
    }

    /// Called in the child after `os.fork()` (registered by `fprofile_jupyter._recording`): the
    /// child does not continue a recording of its parent.
    #[staticmethod]
    fn _after_fork_child(py: Python<'_>) {
        hook::session::after_fork_child(py);
    }

    /// The default cap on recorded events.
    #[classattr]
    const DEFAULT_MAX_EVENTS: u64 = hook::session::DEFAULT_MAX_EVENTS;
}

/// (os_id, ident, names over time) of a raw recording's thread.
type RawThread = (u64, u64, Vec<(u64, String)>);

/// A stopped recording before tree building: flat events per thread, as the hook wrote them.
#[pyclass(name = "RawRecording", module = "fprofile_jupyter._core")]
pub struct RawRecording {
    rec: Mutex<Option<Recording>>,
}

impl RawRecording {
    fn with<R>(&self, f: impl FnOnce(&Recording) -> R) -> PyResult<R> {
        let g = self.rec.lock().unwrap_or_else(|e| e.into_inner());
        g.as_ref().map(f).ok_or_else(|| ProfilerError::new_err("this recording was turned into a Trace already"))
    }
}

#[pymethods]
impl RawRecording {
    /// `[(thread_index, t_ns, code_index, "call" | "return")]`, each thread's events in order.
    fn events(&self) -> PyResult<Vec<(usize, u64, u32, &'static str)>> {
        self.with(|r| {
            let mut out = Vec::new();
            for (i, t) in r.threads.iter().enumerate() {
                for e in t.chunks.iter().flatten() {
                    out.push((i, e.t_ns, e.code, if e.kind == EventKind::Call { "call" } else { "return" }));
                }
            }
            out
        })
    }

    /// `[(file, name, first_line)]` indexed by code index.
    fn codes(&self) -> PyResult<Vec<(String, String, u32)>> {
        self.with(|r| r.codes.iter().map(|c| (c.file.clone(), c.name.clone(), c.first_line)).collect())
    }

    /// `[(os_id, ident, [(t_ns, name)])]` indexed by thread index.
    fn threads(&self) -> PyResult<Vec<RawThread>> {
        self.with(|r| r.threads.iter().map(|t| (t.os_id, t.ident, t.names.clone())).collect())
    }

    /// Chunk sizes per thread (how the buffers were handed over).
    fn chunk_lengths(&self) -> PyResult<Vec<Vec<usize>>> {
        self.with(|r| r.threads.iter().map(|t| t.chunks.iter().map(Vec::len).collect()).collect())
    }

    #[getter]
    fn start_ns(&self) -> PyResult<u64> {
        self.with(|r| r.start_ns)
    }

    #[getter]
    fn stop_ns(&self) -> PyResult<u64> {
        self.with(|r| r.stop_ns)
    }

    #[getter]
    fn metadata(&self) -> PyResult<Vec<(String, String)>> {
        self.with(|r| r.metadata.clone())
    }

    /// Builds the `Trace` (once).
    fn to_trace(&self, py: Python<'_>) -> PyResult<PyTrace> {
        let rec = self
            .rec
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .ok_or_else(|| ProfilerError::new_err("this recording was turned into a Trace already"))?;
        Ok(PyTrace::from_trace(py.detach(move || fprofile::build::build_trace(rec))))
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Recorder>()?;
    m.add_class::<RawRecording>()?;
    Ok(())
}
