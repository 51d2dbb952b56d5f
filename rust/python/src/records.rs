//! The record classes of a trace for Python: `ThreadInfo`, `ProcessInfo` and `Call` (read-only
//! copies of `fprofile::model`'s, `frozen`), and [`process_list`].

use fprofile::units::format_duration;
use pyo3::prelude::*;
use pyo3::types::PyString;

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
    /// Index of its process in `Trace.processes`.
    #[pyo3(get)]
    process: u32,
    /// OS id of its process (0 when unknown: PYME files, `.fpt` version 1).
    #[pyo3(get)]
    pid: u64,
    /// The trace has more than one process (the repr then names this thread's).
    several_processes: bool,
}

impl PyThreadInfo {
    /// Thread `index` of `t`, which made `call_count` calls (`t` may be a skeleton: its threads'
    /// `call_range` are then empty).
    pub(crate) fn of(t: &fprofile::Trace, index: usize, call_count: usize) -> PyThreadInfo {
        let th = &t.threads[index];
        PyThreadInfo {
            process: th.process,
            pid: t.process_of(index).map_or(0, |p| p.pid),
            several_processes: t.processes.len() > 1,
            index,
            os_id: th.os_id,
            name: th.name().to_owned(),
            names: th.names.clone(),
            first_ns: th.first_ns,
            last_ns: th.last_ns,
            lane: th.lane,
            call_count,
        }
    }
}

#[pymethods]
impl PyThreadInfo {
    fn __repr__(&self) -> String {
        let process =
            if self.several_processes { format!(", process={}, pid={}", self.process, self.pid) } else { String::new() };
        format!(
            "ThreadInfo(index={}, name={:?}, os_id={}, calls={}, first_ns={}, last_ns={}, lane={}{process})",
            self.index, self.name, self.os_id, self.call_count, self.first_ns, self.last_ns, self.lane
        )
    }
}

/// One process of a trace: the program that made it, a child process, a Dask worker.
#[pyclass(name = "ProcessInfo", module = "fprofile_jupyter._core", frozen)]
pub struct PyProcessInfo {
    /// Index of this process in `Trace.processes` (the `process` of its threads).
    #[pyo3(get)]
    index: usize,
    /// OS process id, 0 when unknown (PYME files, `.fpt` version 1).
    #[pyo3(get)]
    pid: u64,
    /// Its parent's process id, 0 when unknown.
    #[pyo3(get)]
    parent_pid: u64,
    /// A Dask worker's name, a multiprocessing process's name, or the program and its arguments.
    #[pyo3(get)]
    name: String,
    /// Host name ("" when unknown).
    #[pyo3(get)]
    host: String,
    /// When its recording started, ns from the trace origin (on the trace's clock).
    #[pyo3(get)]
    start_ns: i64,
    /// When its recording ended, ns from the trace origin.
    #[pyo3(get)]
    end_ns: i64,
    /// Its exit status where known (negative: killed by that signal), else None.
    #[pyo3(get)]
    exit_status: Option<i32>,
    /// Added to its own clock's readings to place them on the trace's clock (ns).
    #[pyo3(get)]
    clock_offset_ns: i64,
    /// The offset is right to within this many ns (0: the same clock, exact).
    #[pyo3(get)]
    clock_uncertainty_ns: u64,
    /// False when its clock offset could not be measured: its times are on its own clock, placed
    /// from the trace's start, and cannot be compared with other processes'.
    #[pyo3(get)]
    aligned: bool,
    /// Its trace is incomplete: killed or still running when recording stopped, so only what it
    /// had written out is here.
    #[pyo3(get)]
    incomplete: bool,
    /// Indices in `Trace.threads` of its threads.
    #[pyo3(get)]
    threads: Vec<usize>,
}

#[pymethods]
impl PyProcessInfo {
    fn __repr__(&self) -> String {
        let mut extra = String::new();
        if !self.host.is_empty() {
            extra.push_str(&format!(", host={:?}", self.host));
        }
        if let Some(status) = self.exit_status {
            extra.push_str(&format!(", exit_status={status}"));
        }
        if self.incomplete {
            extra.push_str(", incomplete");
        }
        if !self.aligned {
            extra.push_str(", clock not aligned");
        } else if self.clock_offset_ns != 0 || self.clock_uncertainty_ns != 0 {
            let sign = if self.clock_offset_ns < 0 { "-" } else { "+" };
            extra.push_str(&format!(
                ", clock {sign}{} ± {}",
                format_duration(self.clock_offset_ns.saturating_abs()),
                format_duration(i64::try_from(self.clock_uncertainty_ns).unwrap_or(i64::MAX))
            ));
        }
        format!(
            "ProcessInfo(index={}, pid={}, parent_pid={}, name={:?}, threads={}{extra})",
            self.index,
            self.pid,
            self.parent_pid,
            self.name,
            self.threads.len()
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
    depth: u32,
    #[pyo3(get)]
    start_ns: i64,
    #[pyo3(get)]
    end_ns: i64,
    #[pyo3(get)]
    self_ns: i64,
    /// Function name as recorded (`co_qualname` where the Python has it, else `co_name`).
    /// Shared per function: one str object per code.
    #[pyo3(get)]
    function: Py<PyString>,
    /// File (`co_filename`).
    #[pyo3(get)]
    file: Py<PyString>,
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
        self.end_ns.saturating_sub(self.start_ns)
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        let mut flags = String::new();
        if self.unfinished {
            flags.push_str(", unfinished");
        }
        if self.started_before {
            flags.push_str(", started_before");
        }
        let function = self.function.bind(py).to_string_lossy().into_owned();
        let file = self.file.bind(py).to_string_lossy().into_owned();
        format!(
            "Call({} {}:{} thread={} depth={} start_ns={} duration={}{})",
            function.escape_debug(),
            file.escape_debug(),
            self.line,
            self.thread,
            self.depth,
            self.start_ns,
            format_duration(self.end_ns.saturating_sub(self.start_ns)),
            flags
        )
    }
}

impl PyCall {
    /// The calls of `t` (of thread `thread` when given) as `Trace.calls()` gives them.
    pub(crate) fn all_of(py: Python<'_>, t: &fprofile::Trace, thread: Option<usize>) -> PyResult<Vec<PyCall>> {
        let n = fprofile::stacks::call_count(&t.calls) as u32;
        let range = match thread {
            None => 0..n,
            Some(k) => match t.threads.get(k) {
                Some(th) => th.call_range.0.min(n)..th.call_range.1.min(n),
                None => {
                    return Err(pyo3::exceptions::PyIndexError::new_err(format!(
                        "thread index {k} out of range (the trace has {} threads)",
                        t.threads.len()
                    )))
                }
            },
        };
        let self_ns = fprofile::stacks::self_times(t);
        let c = &t.calls;
        let empty = PyString::new(py, "").unbind();
        let names: Vec<Py<PyString>> = t.codes.iter().map(|x| PyString::new(py, &x.name).unbind()).collect();
        let files: Vec<Py<PyString>> = t.codes.iter().map(|x| PyString::new(py, &x.file).unbind()).collect();
        let mut out = Vec::with_capacity(range.len());
        let mut th = if range.start < range.end { fprofile::stacks::thread_of_call(t, range.start) } else { 0 };
        for i in range {
            while th < t.threads.len() && t.threads[th].call_range.1 <= i {
                th += 1;
            }
            let k = i as usize;
            let ci = c.code[k] as usize;
            let code = t.codes.get(ci);
            out.push(PyCall {
                index: i,
                thread: th,
                depth: c.depth[k],
                start_ns: c.start_ns[k],
                end_ns: c.end_ns[k],
                self_ns: self_ns[k],
                function: names.get(ci).unwrap_or(&empty).clone_ref(py),
                file: files.get(ci).unwrap_or(&empty).clone_ref(py),
                line: code.map(|x| x.first_line).unwrap_or(0),
                parent: if c.parent[k] == u32::MAX { None } else { Some(c.parent[k]) },
                unfinished: c.flags[k].unfinished(),
                started_before: c.flags[k].started_before(),
            });
        }
        Ok(out)
    }
}

/// The processes of `t` as `Trace.processes` gives them.
pub(crate) fn process_list(t: &fprofile::Trace) -> Vec<PyProcessInfo> {
    t.processes
        .iter()
        .enumerate()
        .map(|(index, p)| PyProcessInfo {
            index,
            pid: p.pid,
            parent_pid: p.parent_pid,
            name: p.name.clone(),
            host: p.host.clone(),
            start_ns: p.start_ns,
            end_ns: p.end_ns,
            exit_status: p.exit_status,
            clock_offset_ns: p.clock.offset_ns,
            clock_uncertainty_ns: p.clock.uncertainty_ns,
            aligned: p.clock.aligned,
            incomplete: p.incomplete,
            threads: t.threads.iter().enumerate().filter(|(_, th)| th.process as usize == index).map(|(i, _)| i).collect(),
        })
        .collect()
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyThreadInfo>()?;
    m.add_class::<PyProcessInfo>()?;
    m.add_class::<PyCall>()?;
    Ok(())
}
