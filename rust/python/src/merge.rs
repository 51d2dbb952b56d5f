//! `_core.merge(parts)`: several traces (processes, Dask workers) into one, over
//! [`fprofile::merge::merge`]. Conversion only: each part's process fields may be overridden (the
//! caller knows a worker's name, its clock offset), bands given by OS thread id and absolute
//! times are attached to the part's threads, and functions may be given their file (a notebook's
//! functions that Dask sent to a worker by value, named `<dynamic-code>` there).
//!
//! `_core._Compactor`: the stop of a streamed recording, the parent's streamed file and its
//! children's spools merged into one compact `.fpt` without building the trace
//! ([`fprofile::record::compact`]); its `write` returns a `_Outline` (the trace's tables, call count and
//! summary, no calls).

use pyo3::exceptions::PyValueError;
use std::path::PathBuf;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use fprofile::{Band, ProcessInfo, ThreadInfo, Trace};

use crate::trace::PyTrace;

/// The keys a part's "process" dict may hold.
const PROCESS_KEYS: &[&str] =
    &["pid", "parent_pid", "name", "host", "exit_status", "incomplete", "clock_offset_ns", "clock_uncertainty_ns", "aligned"];

fn bad(msg: String) -> PyErr {
    PyValueError::new_err(msg)
}

/// Applies the overrides in `d` to every process of a part.
fn apply_overrides(i: usize, d: &Bound<'_, PyDict>, processes: &mut [ProcessInfo]) -> PyResult<()> {
    for (k, v) in d.iter() {
        let key: String = k.extract().map_err(|_| bad(format!("merge: part {i}: process keys must be strings")))?;
        let err = |what: &str| {
            bad(format!(
                "merge: part {i}: process[{key:?}] must be {what}, not {}",
                v.repr().map_or_else(|_| "?".into(), |r| r.to_string())
            ))
        };
        for p in processes.iter_mut() {
            match key.as_str() {
                "pid" => p.pid = v.extract().map_err(|_| err("a non-negative int"))?,
                "parent_pid" => p.parent_pid = v.extract().map_err(|_| err("a non-negative int"))?,
                "name" => p.name = v.extract().map_err(|_| err("a str"))?,
                "host" => p.host = v.extract().map_err(|_| err("a str"))?,
                "exit_status" => p.exit_status = v.extract().map_err(|_| err("an int or None"))?,
                "incomplete" => p.incomplete = v.extract().map_err(|_| err("a bool"))?,
                "clock_offset_ns" => p.clock.offset_ns = v.extract().map_err(|_| err("an int (ns)"))?,
                "clock_uncertainty_ns" => p.clock.uncertainty_ns = v.extract().map_err(|_| err("a non-negative int (ns)"))?,
                "aligned" => p.clock.aligned = v.extract().map_err(|_| err("a bool"))?,
                _ => {
                    return Err(bad(format!(
                        "merge: part {i}: unknown process key {key:?} (known: {})",
                        PROCESS_KEYS.join(", ")
                    )));
                }
            }
        }
    }
    Ok(())
}

/// Attaches bands `(thread_os_id, start_abs_ns, end_abs_ns, label)` to the part's threads; a band
/// on a thread that recorded no call gets that thread, with no calls, so the task still shows.
fn attach_bands(i: usize, list: &Bound<'_, PyList>, t: &mut Trace) -> PyResult<()> {
    for (j, item) in list.iter().enumerate() {
        let (os_id, start, end, label): (u64, u64, u64, String) = item.extract().map_err(|_| {
            bad(format!("merge: part {i}: band {j} must be (thread_os_id, start_ns, end_ns, label), with times in ns"))
        })?;
        if end < start {
            return Err(bad(format!("merge: part {i}: band {j} ({label:?}) ends before it starts")));
        }
        let rel = |abs: u64| -> PyResult<i64> {
            i64::try_from(i128::from(abs) - i128::from(t.origin_ns))
                .map_err(|_| bad(format!("merge: part {i}: band {j} time {abs} is out of range")))
        };
        let (start_ns, end_ns) = (rel(start)?, rel(end)?);
        let thread = match t.threads.iter().position(|th| th.os_id == os_id) {
            Some(k) => k,
            None => {
                if t.processes.is_empty() {
                    t.processes = vec![ProcessInfo { start_ns, end_ns, ..ProcessInfo::default() }];
                }
                let at = t.calls.len() as u32;
                t.threads.push(ThreadInfo {
                    os_id,
                    names: vec![(start_ns, format!("thread {os_id}"))],
                    first_ns: start_ns,
                    last_ns: end_ns,
                    lane: 0,
                    process: 0,
                    call_range: (at, at),
                });
                t.threads.len() - 1
            }
        };
        let th = &mut t.threads[thread];
        th.first_ns = th.first_ns.min(start_ns);
        th.last_ns = th.last_ns.max(end_ns);
        // The first name holds from the thread's first time (the format's rule).
        if let Some(first) = th.names.first_mut() {
            first.0 = first.0.min(th.first_ns);
        }
        if let Some(p) = t.processes.get_mut(th.process as usize) {
            p.start_ns = p.start_ns.min(start_ns);
            p.end_ns = p.end_ns.max(end_ns);
        }
        t.bands.push(Band { thread: thread as u32, start_ns, end_ns, label });
    }
    Ok(())
}

/// Gives functions their file: each `(file, name, first_line, new_file)` renames the part's
/// functions with that file, name and first line.
fn rename_files(i: usize, list: &Bound<'_, PyList>, t: &mut Trace) -> PyResult<()> {
    let mut to: std::collections::HashMap<(String, String, u32), String> = std::collections::HashMap::new();
    for (j, item) in list.iter().enumerate() {
        let (file, name, line, new_file): (String, String, u32, String) = item
            .extract()
            .map_err(|_| bad(format!("merge: part {i}: code_files[{j}] must be (file, name, first_line, new_file)")))?;
        to.insert((file, name, line), new_file);
    }
    for c in t.codes.iter_mut() {
        if let Some(f) = to.get(&(c.file.clone(), c.name.clone(), c.first_line)) {
            c.file.clone_from(f);
        }
    }
    Ok(())
}

/// merge(parts) -> Trace
///
/// Merges traces (one per process or per group of processes sharing a clock) into one. Each part
/// is a dict: {"trace": Trace, "process": {overrides for its processes: pid, parent_pid, name, host,
/// exit_status, incomplete, clock_offset_ns (added to its clock to reach the common one),
/// clock_uncertainty_ns, aligned}, "processes": {pid: {the same overrides, for the processes with
/// that pid only}}, "bands": [(thread_os_id, start_ns, end_ns, label), ...] with
/// absolute times on that part's own clock, "code_files": [(file, name, first_line, new_file), ...]
/// giving those functions of the part that file}. Processes with aligned=False are shown on their own
/// clock, starting at the merged start, and named in the metadata's "warning.clock_unaligned".
#[pyfunction]
pub fn merge(parts: &Bound<'_, PyList>) -> PyResult<PyTrace> {
    let mut traces: Vec<Trace> = Vec::with_capacity(parts.len());
    for (i, part) in parts.iter().enumerate() {
        let d = part.cast::<PyDict>().map_err(|_| bad(format!("merge: part {i} must be a dict with a \"trace\" key")))?;
        for k in d.keys() {
            let k: String = k.extract().unwrap_or_default();
            if !matches!(k.as_str(), "trace" | "process" | "processes" | "bands" | "code_files") {
                return Err(bad(format!(
                    "merge: part {i}: unknown key {k:?} (known: trace, process, processes, bands, code_files)"
                )));
            }
        }
        let tr = d.get_item("trace")?.ok_or_else(|| bad(format!("merge: part {i} has no \"trace\"")))?;
        let tr = tr.cast::<PyTrace>().map_err(|_| bad(format!("merge: part {i}: \"trace\" must be a Trace")))?;
        let mut t: Trace = Trace::clone(&*tr.get().whole(part.py())?);
        if t.processes.is_empty() && !t.threads.is_empty() {
            t.processes = Trace::one_process(&t.threads);
        }
        if let Some(p) = d.get_item("process")? {
            let p = p.cast::<PyDict>().map_err(|_| bad(format!("merge: part {i}: \"process\" must be a dict")))?;
            if t.processes.is_empty() {
                t.processes.push(ProcessInfo::default());
            }
            apply_overrides(i, p, &mut t.processes)?;
        }
        if let Some(by_pid) = d.get_item("processes")? {
            let by_pid = by_pid
                .cast::<PyDict>()
                .map_err(|_| bad(format!("merge: part {i}: \"processes\" must be a dict of pid -> overrides")))?;
            for (pid, o) in by_pid.iter() {
                let pid: u64 = pid.extract().map_err(|_| bad(format!("merge: part {i}: \"processes\" keys must be pids")))?;
                let o = o.cast::<PyDict>().map_err(|_| bad(format!("merge: part {i}: processes[{pid}] must be a dict")))?;
                for p in t.processes.iter_mut().filter(|p| p.pid == pid) {
                    apply_overrides(i, o, std::slice::from_mut(p))?;
                }
            }
        }
        if let Some(b) = d.get_item("bands")? {
            let b = b.cast::<PyList>().map_err(|_| bad(format!("merge: part {i}: \"bands\" must be a list")))?;
            attach_bands(i, b, &mut t)?;
        }
        if let Some(c) = d.get_item("code_files")? {
            let c = c.cast::<PyList>().map_err(|_| bad(format!("merge: part {i}: \"code_files\" must be a list")))?;
            rename_files(i, c, &mut t)?;
        }
        traces.push(t);
    }
    let py = parts.py();
    let merged = py.detach(move || fprofile::merge::merge(traces)).map_err(|e| bad(format!("merge: {e}")))?;
    Ok(PyTrace::from_trace(merged))
}

/// _Compactor(directory): see the module docs. `add_stream(path)` / `add_spool(path)` read a file
/// chunk by chunk (off the GIL) and return `(pid, parent_pid, calls, end)` (`end`: "exited",
/// "flushed" or None, as `_read_spool`); `write(path, keep)` writes the parts numbered in `keep`
/// (in the order added) and returns the `_Outline`; the compactor is spent then. Raises OSError
/// (reading, writing: the file at `path` is then unchanged), FormatError (a file that is not a
/// valid stream or spool), `NotImplementedError` for a recording the compaction does not rewrite
/// (the caller builds the trace in memory instead).
#[pyclass(name = "_Compactor", module = "fprofile_jupyter._core")]
pub struct PyCompactor {
    inner: std::sync::Mutex<Option<fprofile::record::compact::Compactor>>,
}

fn compact_err(e: fprofile::record::compact::CompactError) -> PyErr {
    use fprofile::record::compact::CompactError as E;
    match e {
        E::Io(e) => PyErr::from(e),
        E::NeedsBuild(why) => pyo3::exceptions::PyNotImplementedError::new_err(why),
        e @ (E::Stream { .. } | E::Spool { .. }) => crate::errors::FormatError::new_err(e.to_string()),
        e @ E::TooManyCalls(_) => PyValueError::new_err(e.to_string()),
    }
}

type PartTuple = (u64, u64, u64, Option<&'static str>);

impl PyCompactor {
    fn with<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut fprofile::record::compact::Compactor) -> Result<T, fprofile::record::compact::CompactError> + Send,
    ) -> PyResult<T> {
        let mut c = self
            .inner
            .lock()
            .map_err(|_| bad("the compactor failed earlier".into()))?
            .take()
            .ok_or_else(|| bad("the compactor was used up by write()".into()))?;
        let (c, r) = py.detach(move || {
            let r = f(&mut c);
            (c, r)
        });
        if let Ok(mut g) = self.inner.lock() {
            *g = Some(c);
        }
        r.map_err(compact_err)
    }
}

#[pymethods]
impl PyCompactor {
    #[new]
    fn new(directory: PathBuf) -> PyResult<Self> {
        let c = fprofile::record::compact::Compactor::new(&directory).map_err(compact_err)?;
        Ok(PyCompactor { inner: std::sync::Mutex::new(Some(c)) })
    }

    fn add_stream(&self, py: Python<'_>, path: PathBuf) -> PyResult<PartTuple> {
        let i = self.with(py, move |c| c.add_stream(&path))?;
        Ok((i.pid, i.parent_pid, i.calls, i.end))
    }

    fn add_spool(&self, py: Python<'_>, path: PathBuf) -> PyResult<PartTuple> {
        let i = self.with(py, move |c| c.add_spool(&path))?;
        Ok((i.pid, i.parent_pid, i.calls, i.end))
    }

    fn write(&self, py: Python<'_>, path: PathBuf, keep: Vec<usize>) -> PyResult<PyOutline> {
        let c = self
            .inner
            .lock()
            .map_err(|_| bad("the compactor failed earlier".into()))?
            .take()
            .ok_or_else(|| bad("the compactor was used up by write()".into()))?;
        let o = py.detach(move || c.write(&path, &keep)).map_err(compact_err)?;
        Ok(PyOutline { outline: std::sync::Arc::new(o) })
    }
}

/// What a trace file holds, without its calls (`_Compactor.write`, `_outline`): `len()` its
/// calls; `threads`, `processes`, `duration_ns`, `metadata`, `summary()`, `summary_json()` as a
/// `Trace` gives them.
#[pyclass(name = "_Outline", module = "fprofile_jupyter._core", frozen)]
pub struct PyOutline {
    outline: std::sync::Arc<fprofile::record::compact::Outline>,
}

#[pymethods]
impl PyOutline {
    fn __len__(&self) -> usize {
        self.outline.calls as usize
    }
    #[getter]
    fn threads(&self) -> Vec<crate::records::PyThreadInfo> {
        let t = &self.outline.trace;
        (0..t.threads.len())
            .map(|i| {
                crate::records::PyThreadInfo::of(
                    t,
                    i,
                    t.threads[i].call_range.1.saturating_sub(t.threads[i].call_range.0) as usize,
                )
            })
            .collect()
    }
    #[getter]
    fn processes(&self) -> Vec<crate::records::PyProcessInfo> {
        crate::records::process_list(&self.outline.trace)
    }
    fn summary_json(&self) -> String {
        serde_json::to_string(&self.outline.summary).unwrap_or_else(|_| "{\"overall\":[],\"processes\":[],\"threads\":[]}".into())
    }
    #[getter]
    fn duration_ns(&self) -> i64 {
        self.outline.trace.duration_ns()
    }
    #[getter]
    fn metadata<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (k, v) in &self.outline.trace.metadata {
            d.set_item(k, v)?;
        }
        Ok(d)
    }
    fn summary(&self) -> crate::summary::PySummary {
        let t = &self.outline.trace;
        let processes = (0..t.processes.len())
            .map(|p| (t.process_label(p), t.threads.iter().filter(|th| th.process as usize == p).count()))
            .collect();
        let roots = fprofile::paths::Roots::from_metadata(&t.metadata);
        crate::summary::PySummary::from_core(self.outline.summary.clone(), processes, roots)
    }
    fn __repr__(&self) -> String {
        format!("<_Outline {} calls in {} threads>", self.outline.calls, self.outline.trace.threads.len())
    }
}

/// _outline(path) -> _Outline | None: the tables, call count and summary of the `.fpt` file at
/// `path` (compact or streamed), read in one pass with memory bounded by its threads and
/// functions (off the GIL); None for a file of another format (load it). Raises OSError /
/// FormatError as `load` does. `progress(bytes_done, bytes_total)` as `load`'s.
#[pyfunction]
#[pyo3(signature = (path, *, progress=None))]
fn _outline(py: Python<'_>, path: PathBuf, progress: Option<Bound<'_, PyAny>>) -> PyResult<Option<PyOutline>> {
    let mut prog = crate::progress::PyProgress::new(progress);
    let o = py.detach(|| fprofile::load::outline(&path, &mut |d, t| prog.call(d, t)));
    if let Some(e) = prog.error.take() {
        return Err(e);
    }
    let o = o.map_err(crate::errors::BindingError::from)?;
    Ok(o.map(|o| PyOutline { outline: std::sync::Arc::new(o) }))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(merge, m)?)?;
    m.add_function(wrap_pyfunction!(_outline, m)?)?;
    m.add_class::<PyCompactor>()?;
    m.add_class::<PyOutline>()?;
    Ok(())
}
