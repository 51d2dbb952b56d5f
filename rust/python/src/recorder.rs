//! The `Recorder` class: a thin handle on the hook (`hook/` holds all the logic). One recording at
//! a time per interpreter; `fprofile_jupyter._recording` builds `profile()` and `ThreadProfiler` on it.

use std::path::PathBuf;
use std::sync::Mutex;

use fprofile::{EventKind, Recording};
use pyo3::prelude::*;

use crate::errors::BindingError;
use crate::hook::{self, HookError, HookWarning, StartOptions, Stopped};
use crate::trace::PyTrace;

#[derive(Default)]
struct State {
    /// Generation of the session this recorder started (while it runs).
    running: Option<u32>,
    /// Figures of the last stop.
    stats: Option<Py<RecorderStats>>,
}

/// Figures of a stopped recording (`Recorder.stats`).
#[pyclass(name = "RecorderStats", module = "fprofile_jupyter._core", frozen)]
pub struct RecorderStats {
    /// Events recorded (all threads; a call is two).
    #[pyo3(get)]
    events: u64,
    /// Bytes the event buffers held (capacity of every chunk).
    #[pyo3(get)]
    bytes_held: u64,
    /// The cap on events, when it was reached; None otherwise.
    #[pyo3(get)]
    cap_reached: Option<u64>,
    /// Threads recorded.
    #[pyo3(get)]
    threads: usize,
    /// Distinct functions recorded.
    #[pyo3(get)]
    codes: usize,
    /// Writing the outfile failed (what went wrong), or None.
    #[pyo3(get)]
    outfile_error: Option<String>,
    /// What the user should know (the cap was reached, another tool replaced the hook, ...).
    #[pyo3(get)]
    warnings: Vec<RecorderWarning>,
}

#[pymethods]
impl RecorderStats {
    fn __repr__(&self) -> String {
        format!(
            "RecorderStats(events={}, bytes_held={}, cap_reached={}, threads={}, codes={}, outfile_error={}, warnings=[{}])",
            self.events,
            self.bytes_held,
            self.cap_reached.map_or("None".to_owned(), |c| c.to_string()),
            self.threads,
            self.codes,
            self.outfile_error.as_ref().map_or("None".to_owned(), |e| format!("{e:?}")),
            self.warnings.iter().map(RecorderWarning::__repr__).collect::<Vec<_>>().join(", ")
        )
    }
}

/// One thing the user should know about a recording that still worked.
#[pyclass(name = "RecorderWarning", module = "fprofile_jupyter._core", frozen)]
#[derive(Clone)]
pub struct RecorderWarning {
    /// What happened: "cap_reached", "out_of_memory", "hook_replaced" or "removal_failed".
    #[pyo3(get)]
    kind: &'static str,
    /// The message, one line, naming the Python API's options (`max_events=`, `subs=`).
    #[pyo3(get)]
    message: String,
}

impl From<&HookWarning> for RecorderWarning {
    fn from(w: &HookWarning) -> Self {
        RecorderWarning { kind: w.kind(), message: w.to_string() }
    }
}

#[pymethods]
impl RecorderWarning {
    fn __repr__(&self) -> String {
        format!("RecorderWarning(kind={:?}, message={:?})", self.kind, self.message)
    }
}

/// `fprofile_jupyter.RecordOptions` as the binding reads it: its attributes, by name.
#[derive(FromPyObject)]
pub(crate) struct PyRecordOptions {
    #[pyo3(attribute)]
    subs: Vec<String>,
    #[pyo3(attribute)]
    exclude: Vec<String>,
    #[pyo3(attribute)]
    include: Vec<String>,
    #[pyo3(attribute)]
    builtins: bool,
    #[pyo3(attribute)]
    max_events: u64,
    #[pyo3(attribute)]
    outfile: Option<PathBuf>,
    #[pyo3(attribute)]
    keep_last: Option<(String, i64)>,
    #[pyo3(attribute)]
    processes: bool,
    #[pyo3(attribute)]
    dask: bool,
}

impl PyRecordOptions {
    /// The core's options (checked by the start).
    fn into_options(self) -> Result<fprofile::record::RecordOptions, fprofile::record::OptionsError> {
        let keep_last = match self.keep_last {
            Some((unit, n)) => Some(fprofile::record::RecordOptions::keep_from(&unit, i128::from(n))?),
            None => None,
        };
        Ok(fprofile::record::RecordOptions {
            subs: self.subs,
            exclude: self.exclude,
            include: self.include,
            builtins: self.builtins,
            max_events: self.max_events,
            outfile: self.outfile,
            keep_last,
            processes: self.processes,
            dask: self.dask,
        })
    }
}

/// Records Python calls (see `fprofile_jupyter.profile` for the user-level API).
///
/// `start(options, *, metadata=(), child=None)` installs the hook: calls of code whose `co_filename`
/// contains one of `options.include`, or one of `options.subs` and none of `options.exclude`, are
/// recorded on every thread. `metadata`: (key, value) pairs added to the trace's metadata (but
/// "process.name", which names the recording process instead of its command line). `stop()`
/// removes it and returns the `Trace`.
#[pyclass(name = "Recorder", module = "fprofile_jupyter._core")]
pub struct Recorder {
    state: Mutex<State>,
}

fn lock(m: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What a stopped recording left: its events, or the streamed file that holds them.
enum Left {
    Recording(Recording),
    Streamed(PathBuf),
    /// The flight recorder's last window.
    Window(fprofile::Trace),
}

impl Recorder {
    fn stop_inner(&self, py: Python<'_>, metadata: Vec<(String, String)>) -> Result<Left, BindingError> {
        let mut st = lock(&self.state);
        if st.running.is_none() {
            return Err(HookError::RecorderIdle.into());
        }
        let Stopped { recording, events, bytes_held, cap_reached, warnings, outfile_error, streamed, window } =
            hook::stop(py, metadata)?;
        st.running = None;
        let (threads, codes) = match (&streamed, &window) {
            (Some((_, threads, codes)), _) => (*threads, *codes),
            (None, Some(t)) => (t.threads.len(), t.codes.len()),
            (None, None) => (recording.threads.len(), recording.codes.len()),
        };
        let stats = RecorderStats {
            events,
            bytes_held,
            cap_reached,
            threads,
            codes,
            outfile_error,
            warnings: warnings.iter().map(RecorderWarning::from).collect(),
        };
        st.stats = Some(Py::new(py, stats)?);
        Ok(match (streamed, window) {
            (Some((path, _, _)), _) => Left::Streamed(path),
            (None, Some(t)) => Left::Window(t),
            (None, None) => Left::Recording(recording),
        })
    }
}

#[pymethods]
impl Recorder {
    #[new]
    fn new() -> Self {
        Recorder { state: Mutex::new(State::default()) }
    }

    /// `options`: a `fprofile_jupyter.RecordOptions` (any object with its attributes: `subs`,
    /// `exclude`, `include`, `builtins`, `max_events`, `outfile`, `keep_last`, `processes`,
    /// `dask`), taken whole and checked (`ValueError` naming the option).
    ///
    /// `child`: record as a child process of a recording (`processes=True`), into `<pid>.spool` in
    /// that session directory, as joined by `_join_session` (see docs/processes.md); stop it with
    /// `finish_child`.
    ///
    /// `options.keep_last` (`("ns", n)` or `("events", n)`, not with an outfile): the flight
    /// recorder: only the events of the last that many ns, or the last that many events, are
    /// kept (compressed chunks in memory); `snapshot()` reads them while recording goes on, and
    /// `stop()` returns that window.
    #[pyo3(signature = (options, *, metadata = Vec::new(), child = None))]
    fn start(
        &self,
        py: Python<'_>,
        options: PyRecordOptions,
        metadata: Vec<(String, String)>,
        child: Option<PyRef<'_, JoinedSession>>,
    ) -> Result<(), BindingError> {
        let mut st = lock(&self.state);
        if st.running.is_some() {
            return Err(HookError::RecorderRecording.into());
        }
        let options = options.into_options().map_err(HookError::from)?;
        let child = match child {
            Some(j) => Some(j.session.lock().unwrap_or_else(|e| e.into_inner()).take().ok_or(HookError::SessionUsed)?),
            None => None,
        };
        let gen = hook::start(py, StartOptions { options, metadata, child })?;
        st.running = Some(gen);
        st.stats = None;
        Ok(())
    }

    /// Stops recording and returns the `Trace` (call trees built off the GIL). `metadata`: (key,
    /// value) pairs added to the trace's (what is known only at the end: the notebook cells run).
    ///
    /// With a streamed outfile (`.fpt`) the trace is loaded back from the file (it is what the file
    /// holds); `load=False` skips that and returns None (the file is complete either way).
    #[pyo3(signature = (metadata = Vec::new(), *, load = true))]
    fn stop(&self, py: Python<'_>, metadata: Vec<(String, String)>, load: bool) -> Result<Option<PyTrace>, BindingError> {
        match self.stop_inner(py, metadata)? {
            Left::Recording(rec) => Ok(Some(PyTrace::from_trace(py.detach(move || fprofile::calltree::build_trace(rec))))),
            Left::Window(t) => Ok(Some(PyTrace::from_trace(t))),
            Left::Streamed(_) if !load => Ok(None),
            Left::Streamed(path) => {
                let t = py.detach(move || fprofile::load(path))?;
                Ok(Some(PyTrace::from_trace(t)))
            }
        }
    }

    /// The flight recorder's last window as a `Trace` while recording goes on (`keep_last_*` given
    /// at start); `ProfilerError` otherwise.
    fn snapshot(&self, py: Python<'_>) -> Result<PyTrace, BindingError> {
        if lock(&self.state).running.is_none() {
            return Err(HookError::RecorderIdle.into());
        }
        Ok(PyTrace::from_trace(hook::session::snapshot(py)?))
    }

    /// While recording to a streamed outfile: writes what was recorded so far to it now (waits
    /// for the writer's round, at most 2 s). What `os._exit` does before the process ends.
    fn flush(&self, py: Python<'_>) {
        if lock(&self.state).running.is_some() {
            hook::session::flush(py);
        }
    }

    /// Stops a child process's recording (started with `child=`): the last events and the end
    /// record, with `exit_status` (and the process's `name` when given), go to its spool; nothing
    /// is kept in memory.
    #[pyo3(signature = (exit_status = None, name = None))]
    fn finish_child(&self, py: Python<'_>, exit_status: Option<i32>, name: Option<String>) -> Result<(), BindingError> {
        let mut st = lock(&self.state);
        if st.running.is_none() {
            return Err(HookError::RecorderIdle.into());
        }
        let end = hook::writer::ChildEnd { exit_status, process_name: name, stream_end: None };
        let stopped = hook::stop_with(py, end, Vec::new());
        st.running = None;
        drop(stopped?);
        Ok(())
    }

    /// Stops recording and returns the flat events, unbuilt (for tests and diagnostics).
    fn stop_raw(&self, py: Python<'_>) -> Result<RawRecording, BindingError> {
        let rec = match self.stop_inner(py, Vec::new())? {
            Left::Recording(rec) => rec,
            Left::Window(_) => return Err(HookError::WindowRaw.into()),
            Left::Streamed(path) => {
                let bytes = std::fs::read(&path).map_err(|e| HookError::Outfile { path: path.clone(), source: e })?;
                let read = fprofile::formats::stream::read(&bytes)
                    .map_err(|e| fprofile::LoadError { path: Some(path), problem: e.into() })?;
                read.recording
            }
        };
        Ok(RawRecording { rec: Mutex::new(Some(rec)) })
    }

    /// True while this recorder records.
    #[getter]
    fn active(&self) -> bool {
        lock(&self.state).running.is_some()
    }

    /// Figures of the last stop (a `RecorderStats`), None before any stop.
    #[getter]
    fn stats(&self, py: Python<'_>) -> Option<Py<RecorderStats>> {
        lock(&self.state).stats.as_ref().map(|s| s.clone_ref(py))
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
    fn with<R>(&self, f: impl FnOnce(&Recording) -> R) -> Result<R, BindingError> {
        let g = self.rec.lock().unwrap_or_else(|e| e.into_inner());
        g.as_ref().map(f).ok_or(HookError::RecordingTaken.into())
    }
}

#[pymethods]
impl RawRecording {
    /// `[(thread_index, t_ns, code_index, "call" | "return")]`, each thread's events in order.
    fn events(&self) -> Result<Vec<(usize, u64, u32, &'static str)>, BindingError> {
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
    fn codes(&self) -> Result<Vec<(String, String, u32)>, BindingError> {
        self.with(|r| r.codes.iter().map(|c| (c.file.clone(), c.name.clone(), c.first_line)).collect())
    }

    /// `[(os_id, ident, [(t_ns, name)])]` indexed by thread index.
    fn threads(&self) -> Result<Vec<RawThread>, BindingError> {
        self.with(|r| r.threads.iter().map(|t| (t.os_id, t.ident, t.names.clone())).collect())
    }

    /// Chunk sizes per thread (how the buffers were handed over).
    fn chunk_lengths(&self) -> Result<Vec<Vec<usize>>, BindingError> {
        self.with(|r| r.threads.iter().map(|t| t.chunks.iter().map(Vec::len).collect()).collect())
    }

    #[getter]
    fn start_ns(&self) -> Result<u64, BindingError> {
        self.with(|r| r.start_ns)
    }

    #[getter]
    fn stop_ns(&self) -> Result<u64, BindingError> {
        self.with(|r| r.stop_ns)
    }

    #[getter]
    fn metadata(&self) -> Result<Vec<(String, String)>, BindingError> {
        self.with(|r| r.metadata.clone())
    }

    /// Builds the `Trace` (once).
    fn to_trace(&self, py: Python<'_>) -> Result<PyTrace, BindingError> {
        let rec = self.rec.lock().unwrap_or_else(|e| e.into_inner()).take().ok_or(HookError::RecordingTaken)?;
        Ok(PyTrace::from_trace(py.detach(move || fprofile::calltree::build_trace(rec))))
    }
}

/// A session directory of a recording this process joined as a child (`_join_session`): handed
/// to `Recorder.start(child=...)`, once.
#[pyclass(name = "JoinedSession", module = "fprofile_jupyter._core", frozen)]
pub struct JoinedSession {
    session: Mutex<Option<hook::join::ChildSession>>,
}

/// Joins the session directory `path` of a recording as a child process, when it is really the
/// live session `token` names (docs/processes.md "Threat model"): returns the joined session and
/// the text of its `session.json`. `ProfilerError` saying why otherwise.
#[pyfunction]
fn _join_session(py: Python<'_>, path: PathBuf, token: String) -> Result<(JoinedSession, String), BindingError> {
    let (s, config) = py.detach(move || hook::join::ChildSession::join(&path, &token)).map_err(HookError::from)?;
    Ok((JoinedSession { session: Mutex::new(Some(s)) }, config))
}

/// Whether the recording that runs now records calls of code in `file` (its filter: `subs`,
/// `exclude`, `include`; the hook's one rule, `Tables::matches`). False when nothing records.
#[pyfunction]
fn _records_file(_py: Python<'_>, file: &str) -> bool {
    // SAFETY: GIL held (we have `_py`); the borrow ends here, no call into Python meanwhile.
    unsafe { hook::tables::tables() }.is_some_and(|t| t.matches(file))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Recorder>()?;
    m.add_function(wrap_pyfunction!(_records_file, m)?)?;
    m.add_class::<JoinedSession>()?;
    m.add_function(wrap_pyfunction!(_join_session, m)?)?;
    m.add_function(wrap_pyfunction!(hook::spawn::_arm_child_notice, m)?)?;
    m.add_function(wrap_pyfunction!(hook::spawn::_disarm_child_notice, m)?)?;
    m.add_class::<RawRecording>()?;
    m.add_class::<RecorderStats>()?;
    m.add_class::<RecorderWarning>()?;
    Ok(())
}
