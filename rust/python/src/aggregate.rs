//! Aggregates of a trace for Python: `Trace.flame()`, `Trace.callers()`, `Trace.callees()` (nested
//! dicts) and `flame_bytes()` (the timeline's encoding), as functions of a core trace that
//! `trace.rs` calls. Conversion only: the merging is `fprofile::flame` (or a file-backed trace's
//! `FileTrace::flame`, through `backed.rs`).

use fprofile::flame::{self, Flame, Window};
use fprofile::Trace;
use pyo3::exceptions::PyValueError;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString};

use crate::backed::Source;
use crate::errors::BindingError;

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
pub(crate) fn without_gc<'py, T>(py: Python<'py>, f: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
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
    nest_preorder(
        py,
        &f.nodes,
        |n| n.depth as usize,
        |d, n| {
            let k = n.code as usize;
            d.set_item(intern!(py, "function"), names.get(k).unwrap_or(&empty))?;
            d.set_item(intern!(py, "file"), files.get(k).unwrap_or(&empty))?;
            d.set_item(intern!(py, "line"), t.codes.get(k).map_or(0, |c| c.first_line))?;
            d.set_item(intern!(py, "code"), n.code)?;
            d.set_item(intern!(py, "calls"), n.figures.calls)?;
            d.set_item(intern!(py, "total_ns"), n.figures.total_ns)?;
            d.set_item(intern!(py, "self_ns"), n.figures.self_ns)
        },
    )
}

/// Pre-order nodes (each with its depth) as nested dicts, for the flame and the differential flame:
/// `fill` sets a node's keys, then its dict gets `"children"`, the list of the nodes below it.
/// Returns the list of top-level nodes.
pub(crate) fn nest_preorder<'py, N>(
    py: Python<'py>,
    nodes: &[N],
    depth: impl Fn(&N) -> usize,
    mut fill: impl FnMut(&Bound<'py, PyDict>, &N) -> PyResult<()>,
) -> PyResult<Bound<'py, PyList>> {
    let top = PyList::empty(py);
    let mut lists: Vec<Bound<'py, PyList>> = vec![top.clone()];
    for n in nodes {
        lists.truncate(depth(n) + 1);
        let d = PyDict::new(py);
        fill(&d, n)?;
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

/// `Trace.flame()`: the top-level nodes of the flame graph as nested dicts (a file-backed trace's
/// from its file: `backed.rs`).
pub(crate) fn flame<'py>(
    py: Python<'py>,
    src: &Source,
    threads: Option<&Bound<'py, PyAny>>,
    window: Option<(i64, i64)>,
) -> PyResult<Bound<'py, PyList>> {
    let t = src.tables();
    let threads = thread_set(t, threads)?;
    let window = window_of(window)?;
    let f = py.detach(|| src.flame(threads.as_deref(), window)).map_err(BindingError::from)?;
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

/// `flame_bytes(trace)`: the flame graph in the timeline's encoding (`docs/format.md`, "The flame
/// graph encoding").
pub(crate) fn flame_bytes<'py>(
    py: Python<'py>,
    src: &Source,
    threads: Option<&Bound<'py, PyAny>>,
    window: Option<(i64, i64)>,
) -> PyResult<Bound<'py, PyBytes>> {
    let threads = thread_set(src.tables(), threads)?;
    let window = window_of(window)?;
    let bytes = py.detach(|| src.flame(threads.as_deref(), window).map(|f| f.encode())).map_err(BindingError::from)?;
    Ok(PyBytes::new(py, &bytes))
}
