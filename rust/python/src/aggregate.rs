//! Aggregates of a trace and comparisons, for Python: `Trace.flame()`, `Trace.callers()`,
//! `Trace.callees()` (nested dicts), `flame_bytes()` (the timeline's encoding) and the
//! `_Comparison` class under `fprofile_jupyter.compare`. Conversion only: the merging, matching,
//! orders and tables are `fprofile::flame` and `fprofile::compare`.

use std::sync::Arc;

use fprofile::compare::{self, CompareSort, Comparison, DiffRow};
use fprofile::flame::{self, Flame, Window};
use fprofile::Trace;
use pyo3::exceptions::PyValueError;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString};

use crate::errors::BindingError;
use crate::trace::PyTrace;

/// The thread indices `threads` names: None (all), an index, a thread name (every thread with
/// it), or a list of those.
fn thread_set(t: &Trace, threads: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Vec<u32>>> {
    let Some(threads) = threads else { return Ok(None) };
    if threads.is_none() {
        return Ok(None);
    }
    let items: Vec<Bound<'_, PyAny>> = if threads.extract::<i64>().is_ok() || threads.extract::<String>().is_ok() {
        vec![threads.clone()]
    } else {
        threads.try_iter()?.collect::<PyResult<_>>()?
    };
    let mut out = Vec::new();
    for item in items {
        if let Ok(k) = item.extract::<i64>() {
            if k < 0 || k as usize >= t.threads.len() {
                return Err(pyo3::exceptions::PyIndexError::new_err(format!(
                    "thread index {k} out of range (the trace has {} threads)",
                    t.threads.len()
                )));
            }
            out.push(k as u32);
        } else if let Ok(name) = item.extract::<String>() {
            let found: Vec<u32> =
                t.threads.iter().enumerate().filter(|(_, th)| th.name() == name).map(|(i, _)| i as u32).collect();
            if found.is_empty() {
                return Err(PyValueError::new_err(format!("no thread named {name:?} in the trace")));
            }
            out.extend(found);
        } else {
            return Err(pyo3::exceptions::PyTypeError::new_err("threads: a thread index, a thread name or a list of them"));
        }
    }
    Ok(Some(out))
}

/// The codes of the function `function` (a name, or a code id) in `file` (its path, or the end
/// of it) when given: every code with that file and name (one function whose first line changed
/// counts once). A name found in several files needs `file`.
fn function_codes(t: &Trace, function: &Bound<'_, PyAny>, file: Option<&str>) -> PyResult<Vec<u32>> {
    if let Ok(code) = function.extract::<u32>() {
        return match t.codes.get(code as usize) {
            Some(_) => Ok(vec![code]),
            None => {
                Err(PyValueError::new_err(format!("no function with code {code} (the trace has {} functions)", t.codes.len())))
            }
        };
    }
    let name: String = function.extract()?;
    let matches: Vec<u32> = t
        .codes
        .iter()
        .enumerate()
        .filter(|(_, c)| c.name == name && file.is_none_or(|f| c.file == f || c.file.ends_with(&format!("/{f}"))))
        .map(|(k, _)| k as u32)
        .collect();
    let mut files: Vec<&str> = matches.iter().map(|&k| t.codes[k as usize].file.as_str()).collect();
    files.sort_unstable();
    files.dedup();
    match files.len() {
        0 => Err(PyValueError::new_err(match file {
            Some(f) => format!("no function named {name:?} in a file {f:?} in the trace"),
            None => format!("no function named {name:?} in the trace"),
        })),
        1 => Ok(matches),
        _ => Err(PyValueError::new_err(format!(
            "{} files have a function named {name:?} ({}): pass file= to choose one",
            files.len(),
            files.iter().take(5).map(|f| format!("{f:?}")).collect::<Vec<_>>().join(", ")
        ))),
    }
}

/// Runs `f` with Python's cyclic garbage collector paused (when it was running). The trees built
/// here are millions of containers without cycles: the collector would walk them again and again
/// as they grow (measured: 7 s instead of under 1 s for a 1M-node tree). No Python code runs in
/// between (dicts of str keys, ints and lists only), so nothing else sees the pause.
fn without_gc<'py, T>(py: Python<'py>, f: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    let gc = py.import(intern!(py, "gc"))?;
    let running = gc.call_method0(intern!(py, "isenabled"))?.is_truthy()?;
    if running {
        gc.call_method0(intern!(py, "disable"))?;
    }
    let result = f();
    if running {
        gc.call_method0(intern!(py, "enable"))?;
    }
    result
}

/// A flame (pre-order nodes) as nested dicts: `{"function", "file", "line", "code", "calls",
/// "total_ns", "self_ns", "children": [...]}`; the list of top-level nodes.
fn nested<'py>(py: Python<'py>, t: &Trace, f: &Flame) -> PyResult<Bound<'py, PyList>> {
    without_gc(py, || nested_dicts(py, t, f))
}

fn nested_dicts<'py>(py: Python<'py>, t: &Trace, f: &Flame) -> PyResult<Bound<'py, PyList>> {
    // one str per function and per key, shared by every node
    let names: Vec<Bound<'py, PyString>> = t.codes.iter().map(|c| PyString::new(py, &c.name)).collect();
    let files: Vec<Bound<'py, PyString>> = t.codes.iter().map(|c| PyString::new(py, &c.file)).collect();
    let empty = PyString::new(py, "");
    let top = PyList::empty(py);
    let mut lists: Vec<Bound<'py, PyList>> = vec![top.clone()];
    for n in &f.nodes {
        lists.truncate(n.depth as usize + 1);
        let k = n.code as usize;
        let d = PyDict::new(py);
        d.set_item(intern!(py, "function"), names.get(k).unwrap_or(&empty))?;
        d.set_item(intern!(py, "file"), files.get(k).unwrap_or(&empty))?;
        d.set_item(intern!(py, "line"), t.codes.get(k).map_or(0, |c| c.first_line))?;
        d.set_item(intern!(py, "code"), n.code)?;
        d.set_item(intern!(py, "calls"), n.figures.calls)?;
        d.set_item(intern!(py, "total_ns"), n.figures.total_ns)?;
        d.set_item(intern!(py, "self_ns"), n.figures.self_ns)?;
        let kids = PyList::empty(py);
        d.set_item(intern!(py, "children"), &kids)?;
        if let Some(parent) = lists.last() {
            parent.append(d)?;
        }
        lists.push(kids);
    }
    Ok(top)
}

fn window_of(window: Option<(i64, i64)>) -> PyResult<Option<Window>> {
    match window {
        Some((t0, t1)) if t1 < t0 => Err(PyValueError::new_err(format!("window ({t0}, {t1}) ends before it starts"))),
        w => Ok(w.map(|(t0_ns, t1_ns)| Window { t0_ns, t1_ns })),
    }
}

/// `Trace.flame()`: the top-level nodes of the flame graph as nested dicts.
pub(crate) fn flame<'py>(
    py: Python<'py>,
    t: &Trace,
    threads: Option<&Bound<'py, PyAny>>,
    window: Option<(i64, i64)>,
) -> PyResult<Bound<'py, PyList>> {
    let threads = thread_set(t, threads)?;
    let window = window_of(window)?;
    let f = py.detach(|| flame::flame(t, threads.as_deref(), window));
    nested(py, t, &f)
}

/// `Trace.callers()` (`callers` true) or `Trace.callees()`: the function's node with its callers
/// (or callees) as children.
pub(crate) fn sandwich<'py>(
    py: Python<'py>,
    t: &Trace,
    function: &Bound<'py, PyAny>,
    file: Option<&str>,
    threads: Option<&Bound<'py, PyAny>>,
    callers: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let codes = function_codes(t, function, file)?;
    let threads = thread_set(t, threads)?;
    let s = py.detach(|| flame::sandwich(t, &codes, threads.as_deref()));
    let tree = nested(py, t, if callers { &s.callers } else { &s.callees })?;
    match tree.len() {
        0 => {
            // not called in these threads: the function with zeros
            let empty =
                Flame { nodes: vec![flame::Node { depth: 0, code: codes[0], parent: u32::MAX, figures: Default::default() }] };
            nested(py, t, &empty)?.get_item(0)
        }
        _ => tree.get_item(0),
    }
}

/// The flame graph in the timeline's encoding (`docs/format.md`, "The flame graph encoding").
#[pyfunction]
#[pyo3(signature = (trace, threads=None, window=None))]
fn flame_bytes<'py>(
    py: Python<'py>,
    trace: &Bound<'py, PyTrace>,
    threads: Option<Bound<'py, PyAny>>,
    window: Option<(i64, i64)>,
) -> PyResult<Bound<'py, PyBytes>> {
    let t = trace.get().inner();
    let threads = thread_set(t, threads.as_ref())?;
    let window = window_of(window)?;
    let bytes = py.detach(|| flame::flame(t, threads.as_deref(), window).encode());
    Ok(PyBytes::new(py, &bytes))
}

/// Two traces compared per function (`fprofile::compare`); the Python `Comparison` wraps it.
#[pyclass(name = "_Comparison", module = "fprofile_jupyter._core", frozen)]
pub struct PyComparison {
    a: Arc<Trace>,
    b: Arc<Trace>,
    cmp: Comparison,
}

/// One row as a tuple: (id, function, file, line_a, line_b, presence, calls_a, calls_b,
/// total_ns_a, total_ns_b, self_ns_a, self_ns_b, mean_ns_a, mean_ns_b, relative total,
/// relative mean).
type RowTuple = (u32, String, String, Option<u32>, Option<u32>, &'static str, [u64; 8], f64, f64);

fn row_tuple(r: &DiffRow) -> RowTuple {
    (
        r.id,
        r.function.clone(),
        r.file.clone(),
        r.line_a,
        r.line_b,
        r.presence().name(),
        [r.a.calls, r.b.calls, r.a.total_ns, r.b.total_ns, r.a.self_ns, r.b.self_ns, r.a.mean_ns, r.b.mean_ns],
        r.relative(false),
        r.relative(true),
    )
}

impl PyComparison {
    /// The roots file names are shown against: b's (the newer run), else a's.
    fn roots(&self) -> fprofile::paths::Roots {
        let b = fprofile::paths::Roots::from_metadata(&self.b.metadata);
        if b.0.is_empty() {
            fprofile::paths::Roots::from_metadata(&self.a.metadata)
        } else {
            b
        }
    }

    fn sorted(&self, by: Option<&str>, per_call: bool) -> Result<(Vec<DiffRow>, CompareSort), BindingError> {
        let by = by.map(CompareSort::from_name).transpose()?;
        let mut rows = self.cmp.rows.clone();
        if let Some(by) = by {
            compare::sort_rows(&mut rows, by, per_call);
        }
        Ok((rows, by.unwrap_or(CompareSort::Abs)))
    }
}

#[pymethods]
impl PyComparison {
    /// The rows as tuples (see `RowTuple`), ordered by `by` ("abs", "rel", "calls") in the total
    /// or per-call view; None: by absolute change of total time (the rows' ids in order).
    #[pyo3(signature = (by=None, per_call=false))]
    fn rows(&self, by: Option<&str>, per_call: bool) -> Result<Vec<RowTuple>, BindingError> {
        Ok(self.sorted(by, per_call)?.0.iter().map(row_tuple).collect())
    }

    /// The text table (the first `limit` rows when given).
    #[pyo3(signature = (name_a, name_b, by=None, per_call=false, limit=None))]
    fn table(
        &self,
        name_a: &str,
        name_b: &str,
        by: Option<&str>,
        per_call: bool,
        limit: Option<usize>,
    ) -> Result<String, BindingError> {
        let (rows, by) = self.sorted(by, per_call)?;
        let title = compare::title(name_a, name_b, &self.cmp, rows.len(), by, per_call);
        Ok(compare::text_table(&rows, &title, limit, per_call, &self.roots(), &compare::Names::new(name_a, name_b)))
    }

    /// The HTML table (names escaped, sortable by clicking a header).
    #[pyo3(signature = (name_a, name_b, by=None, per_call=false))]
    fn html(&self, name_a: &str, name_b: &str, by: Option<&str>, per_call: bool) -> Result<String, BindingError> {
        let (rows, by) = self.sorted(by, per_call)?;
        let title = compare::title(name_a, name_b, &self.cmp, rows.len(), by, per_call);
        Ok(compare::html_table(&rows, &title, by, per_call, &self.roots(), &compare::Names::new(name_a, name_b)))
    }

    /// The differential flame tree as nested dicts: `{"function", "file", "line_a", "line_b",
    /// "status" ("both", "only_a", "only_b"), "calls_a", "total_ns_a", "self_ns_a", "calls_b",
    /// "total_ns_b", "self_ns_b", "children"}`; the list of top-level nodes.
    fn flame<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let nodes = py.detach(|| compare::diff_flame(&self.a, &self.b, &self.cmp));
        without_gc(py, || self.nested(py, &nodes))
    }

    /// The differential flame tree in its compact encoding (`docs/format.md`).
    fn flame_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        let bytes = py.detach(|| compare::encode_diff_flame(&compare::diff_flame(&self.a, &self.b, &self.cmp)));
        PyBytes::new(py, &bytes)
    }
}

impl PyComparison {
    fn nested<'py>(&self, py: Python<'py>, nodes: &[compare::DiffNode]) -> PyResult<Bound<'py, PyList>> {
        let rows = &self.cmp.rows;
        let names: Vec<Bound<'py, PyString>> = rows.iter().map(|r| PyString::new(py, &r.function)).collect();
        let files: Vec<Bound<'py, PyString>> = rows.iter().map(|r| PyString::new(py, &r.file)).collect();
        let empty = PyString::new(py, "");
        let keys = [
            [intern!(py, "calls_a"), intern!(py, "total_ns_a"), intern!(py, "self_ns_a")],
            [intern!(py, "calls_b"), intern!(py, "total_ns_b"), intern!(py, "self_ns_b")],
        ];
        let top = PyList::empty(py);
        let mut lists: Vec<Bound<'py, PyList>> = vec![top.clone()];
        for n in nodes {
            lists.truncate(n.depth as usize + 1);
            let k = n.func as usize;
            let r = rows.get(k);
            let d = PyDict::new(py);
            d.set_item(intern!(py, "function"), names.get(k).unwrap_or(&empty))?;
            d.set_item(intern!(py, "file"), files.get(k).unwrap_or(&empty))?;
            d.set_item(intern!(py, "line_a"), r.and_then(|r| r.line_a))?;
            d.set_item(intern!(py, "line_b"), r.and_then(|r| r.line_b))?;
            d.set_item(intern!(py, "status"), n.presence().name())?;
            for (keys, f) in keys.iter().zip([&n.a, &n.b]) {
                d.set_item(keys[0], f.calls)?;
                d.set_item(keys[1], f.total_ns)?;
                d.set_item(keys[2], f.self_ns)?;
            }
            let kids = PyList::empty(py);
            d.set_item(intern!(py, "children"), &kids)?;
            if let Some(parent) = lists.last() {
                parent.append(d)?;
            }
            lists.push(kids);
        }
        Ok(top)
    }
}

/// Compares two traces per function (`fprofile::compare::compare`); ValueError when one has no calls.
#[pyfunction]
fn compare_traces<'py>(py: Python<'py>, a: &Bound<'py, PyTrace>, b: &Bound<'py, PyTrace>) -> Result<PyComparison, BindingError> {
    let (a, b) = (a.get().shared(), b.get().shared());
    let cmp = py.detach(|| compare::compare(&a, &b))?;
    Ok(PyComparison { a, b, cmp })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(flame_bytes, m)?)?;
    m.add_function(wrap_pyfunction!(compare_traces, m)?)?;
    m.add_class::<PyComparison>()?;
    Ok(())
}
