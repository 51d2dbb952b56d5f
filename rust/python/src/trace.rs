//! The `Trace` class: a thin Python view of [`fprofile::Trace`] (per-thread call trees), its
//! `ThreadInfo` and `Call` record classes, and the module-level loaders.
//!
//! Everything here is a read-only wrapper: the trace itself is never mutated after construction,
//! so every class is `frozen` and safe to share between threads.

use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::PyDict;

/// Time span as a short human string: "1.234 s", "12.3 ms", "45.6 us", "789 ns".
pub(crate) fn human_ns(ns: i64) -> String {
    let a = ns.unsigned_abs() as f64;
    let s = ns as f64;
    if a >= 1e9 {
        format!("{:.3} s", s / 1e9)
    } else if a >= 1e6 {
        format!("{:.3} ms", s / 1e6)
    } else if a >= 1e3 {
        format!("{:.1} us", s / 1e3)
    } else {
        format!("{ns} ns")
    }
}

/// Self time of every call: its duration minus the durations of its direct children.
fn self_times(t: &fprofile::Trace) -> Vec<i64> {
    let c = &t.calls;
    let mut self_ns: Vec<i64> = c.start_ns.iter().zip(&c.end_ns).map(|(s, e)| e - s).collect();
    for i in 0..c.len() {
        let p = c.parent[i];
        if p != u32::MAX {
            if let Some(slot) = self_ns.get_mut(p as usize) {
                *slot -= c.end_ns[i] - c.start_ns[i];
            }
        }
    }
    self_ns
}

/// Index of the thread owning call `i` (threads' call ranges are consecutive).
fn thread_of_call(t: &fprofile::Trace, i: u32) -> usize {
    t.threads.partition_point(|th| th.call_range.1 <= i)
}

/// One thread of a trace.
#[pyclass(name = "ThreadInfo", module = "fprofile_jupyter._core", frozen)]
pub struct PyThreadInfo {
    /// Index of this thread in `Trace.threads` (the `thread` of its calls).
    #[pyo3(get)]
    index: usize,
    /// OS thread id (`threading.get_native_id()`), 0 when unknown (PYME text files).
    #[pyo3(get)]
    os_id: u64,
    /// The thread's latest name.
    #[pyo3(get)]
    name: String,
    /// The names over time: `[(t_ns, name), ...]`, t_ns relative to the trace origin.
    #[pyo3(get)]
    names: Vec<(i64, String)>,
    /// First event time of the thread, ns from the trace origin.
    #[pyo3(get)]
    first_ns: i64,
    /// Last event time of the thread, ns from the trace origin.
    #[pyo3(get)]
    last_ns: i64,
    /// Overview lane (PYME's assignment).
    #[pyo3(get)]
    lane: u32,
    /// Number of recorded calls of this thread.
    #[pyo3(get)]
    call_count: usize,
}

#[pymethods]
impl PyThreadInfo {
    fn __repr__(&self) -> String {
        format!(
            "ThreadInfo(index={}, name={:?}, os_id={}, calls={}, first_ns={}, last_ns={}, lane={})",
            self.index, self.name, self.os_id, self.call_count, self.first_ns, self.last_ns, self.lane
        )
    }
}

/// One call of a trace.
#[pyclass(name = "Call", module = "fprofile_jupyter._core", frozen)]
pub struct PyCall {
    /// Global index of the call in `Trace.calls()`.
    #[pyo3(get)]
    index: u32,
    /// Index of its thread in `Trace.threads`.
    #[pyo3(get)]
    thread: usize,
    /// 0 = outermost recorded call of its thread.
    #[pyo3(get)]
    depth: u16,
    #[pyo3(get)]
    start_ns: i64,
    #[pyo3(get)]
    end_ns: i64,
    #[pyo3(get)]
    self_ns: i64,
    /// Function name (`co_name`).
    #[pyo3(get)]
    function: String,
    /// File (`co_filename`).
    #[pyo3(get)]
    file: String,
    /// First line of the function (`co_firstlineno`).
    #[pyo3(get)]
    line: u32,
    /// Global index of the parent call, or None for a top-level call.
    #[pyo3(get)]
    parent: Option<u32>,
    /// Still running when recording stopped (closed at the stop time).
    #[pyo3(get)]
    unfinished: bool,
    /// Began before recording started (opened at the thread's first time).
    #[pyo3(get)]
    started_before: bool,
}

#[pymethods]
impl PyCall {
    #[getter]
    fn duration_ns(&self) -> i64 {
        self.end_ns - self.start_ns
    }

    fn __repr__(&self) -> String {
        let mut flags = String::new();
        if self.unfinished {
            flags.push_str(", unfinished");
        }
        if self.started_before {
            flags.push_str(", started_before");
        }
        format!(
            "Call({} {}:{} thread={} depth={} start_ns={} duration={}{})",
            self.function.escape_debug(),
            self.file.escape_debug(),
            self.line,
            self.thread,
            self.depth,
            self.start_ns,
            human_ns(self.end_ns - self.start_ns),
            flags
        )
    }
}

/// A recorded trace: per-thread call trees.
#[pyclass(name = "Trace", module = "fprofile_jupyter._core", frozen)]
pub struct PyTrace {
    inner: Arc<fprofile::Trace>,
}

impl PyTrace {
    /// Wraps a built trace (used by the recorder and the loaders).
    pub fn from_trace(t: fprofile::Trace) -> Self {
        PyTrace { inner: Arc::new(t) }
    }

    /// The wrapped trace.
    pub fn inner(&self) -> &fprofile::Trace {
        &self.inner
    }

    fn duration(&self) -> i64 {
        let t = &*self.inner;
        let first = t.threads.iter().map(|th| th.first_ns).min();
        let last = t.threads.iter().map(|th| th.last_ns).max();
        match (first, last) {
            (Some(f), Some(l)) => (l - f.min(0)).max(0),
            _ => 0,
        }
    }

    fn thread_info(t: &fprofile::Trace, index: usize) -> PyThreadInfo {
        let th = &t.threads[index];
        PyThreadInfo {
            index,
            os_id: th.os_id,
            name: th.name().to_owned(),
            names: th.names.clone(),
            first_ns: th.first_ns,
            last_ns: th.last_ns,
            lane: th.lane,
            call_count: th.call_range.1.saturating_sub(th.call_range.0) as usize,
        }
    }
}

#[pymethods]
impl PyTrace {
    /// Number of calls.
    fn __len__(&self) -> usize {
        self.inner.calls.len()
    }

    fn __repr__(&self) -> String {
        let t = &*self.inner;
        let names: Vec<String> = t.threads.iter().take(4).map(|th| format!("{:?}", th.name())).collect();
        let more = if t.threads.len() > 4 { format!(", ... {} more", t.threads.len() - 4) } else { String::new() };
        format!(
            "<Trace: {} calls of {} functions in {} thread{} [{}{}] over {}>",
            t.calls.len(),
            t.codes.len(),
            t.threads.len(),
            if t.threads.len() == 1 { "" } else { "s" },
            names.join(", "),
            more,
            human_ns(self.duration())
        )
    }

    /// Absolute monotonic clock time (ns) of t = 0; 0 when unknown.
    #[getter]
    fn origin_ns(&self) -> u64 {
        self.inner.origin_ns
    }

    /// From t = 0 to the last event of any thread, ns.
    #[getter]
    fn duration_ns(&self) -> i64 {
        self.duration()
    }

    /// Free-form metadata recorded with the trace (subs, python version, ...), a new dict each time.
    #[getter]
    fn metadata<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (k, v) in &self.inner.metadata {
            d.set_item(k, v)?;
        }
        Ok(d)
    }

    /// Folded stacks: one line per distinct stack, `"thread;outer;...;inner count"`, where count is
    /// the number of calls ending that stack; sorted. Frames are function names.
    fn folded(&self) -> Vec<String> {
        let t = &*self.inner;
        let c = &t.calls;
        let mut counts: std::collections::BTreeMap<String, u64> = std::collections::BTreeMap::new();
        for th in &t.threads {
            // stack[d] = the frame string prefix up to depth d
            let mut stack: Vec<String> = Vec::new();
            for i in th.call_range.0..th.call_range.1 {
                let k = i as usize;
                let depth = c.depth[k] as usize;
                stack.truncate(depth);
                let name = t.codes.get(c.code[k] as usize).map(|x| x.name.as_str()).unwrap_or("?");
                let prefix = match stack.last() {
                    Some(p) => format!("{p};{name}"),
                    None => format!("{};{name}", th.name()),
                };
                *counts.entry(prefix.clone()).or_insert(0) += 1;
                stack.push(prefix);
            }
        }
        counts.into_iter().map(|(k, n)| format!("{k} {n}")).collect()
    }

    /// Two traces are equal when they hold exactly the same threads, calls, functions and metadata.
    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        match other.cast::<PyTrace>() {
            Ok(o) => *self.inner == *o.get().inner,
            Err(_) => false,
        }
    }

    /// The threads, in order of their first event.
    #[getter]
    fn threads(&self) -> Vec<PyThreadInfo> {
        (0..self.inner.threads.len()).map(|i| Self::thread_info(&self.inner, i)).collect()
    }

    /// The calls, grouped by thread and in pre-order within a thread; only those of `thread`
    /// (an index into `threads`) when given.
    #[pyo3(signature = (thread=None))]
    fn calls(&self, thread: Option<usize>) -> PyResult<Vec<PyCall>> {
        let t = &*self.inner;
        let range = match thread {
            None => 0..t.calls.len() as u32,
            Some(k) => match t.threads.get(k) {
                Some(th) => th.call_range.0..th.call_range.1,
                None => {
                    return Err(pyo3::exceptions::PyIndexError::new_err(format!(
                        "thread index {k} out of range (the trace has {} threads)",
                        t.threads.len()
                    )))
                }
            },
        };
        let self_ns = self_times(t);
        let c = &t.calls;
        let mut out = Vec::with_capacity(range.len());
        let mut th = if range.start < range.end { thread_of_call(t, range.start) } else { 0 };
        for i in range {
            while th < t.threads.len() && t.threads[th].call_range.1 <= i {
                th += 1;
            }
            let k = i as usize;
            let code = t.codes.get(c.code[k] as usize);
            out.push(PyCall {
                index: i,
                thread: th,
                depth: c.depth[k],
                start_ns: c.start_ns[k],
                end_ns: c.end_ns[k],
                self_ns: self_ns[k],
                function: code.map(|x| x.name.clone()).unwrap_or_default(),
                file: code.map(|x| x.file.clone()).unwrap_or_default(),
                line: code.map(|x| x.first_line).unwrap_or(0),
                parent: if c.parent[k] == u32::MAX { None } else { Some(c.parent[k]) },
                unfinished: c.flags[k].unfinished(),
                started_before: c.flags[k].started_before(),
            });
        }
        Ok(out)
    }
}

/// Builds a trace from flat events (for tests and tools): `codes` = [(file, name, first_line)],
/// `threads` = [(os_id, name, [(t_ns, code_id, is_return), ...])] with absolute times.
#[pyfunction]
#[pyo3(signature = (codes, threads, *, start_ns=0, stop_ns=0, metadata=None))]
fn _build_trace(
    py: Python<'_>,
    codes: Vec<(String, String, u32)>,
    threads: Vec<(u64, String, Vec<(u64, u32, bool)>)>,
    start_ns: u64,
    stop_ns: u64,
    metadata: Option<Vec<(String, String)>>,
) -> PyTrace {
    use fprofile::{Code, Event, EventKind, Recording, ThreadRecord};
    let rec = Recording {
        codes: codes.into_iter().map(|(file, name, first_line)| Code { file, name, first_line }).collect(),
        threads: threads
            .into_iter()
            .map(|(os_id, name, events)| ThreadRecord {
                os_id,
                ident: os_id,
                names: vec![(events.first().map(|e| e.0).unwrap_or(0), name)],
                chunks: vec![events
                    .into_iter()
                    .map(|(t_ns, code, ret)| Event { t_ns, code, kind: if ret { EventKind::Return } else { EventKind::Call } })
                    .collect()],
            })
            .collect(),
        start_ns,
        stop_ns,
        metadata: metadata.unwrap_or_default(),
    };
    PyTrace::from_trace(py.detach(move || fprofile::build::build_trace(rec)))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_build_trace, m)?)?;
    m.add_class::<PyTrace>()?;
    m.add_class::<PyThreadInfo>()?;
    m.add_class::<PyCall>()?;
    Ok(())
}
