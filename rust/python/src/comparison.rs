//! The `_Comparison` class (wrapped by `fprofile_jupyter.compare.Comparison`) and
//! `compare_traces(a, b)`: two traces compared per function, their rows, tables and differential
//! flame tree. Conversion only: the matching, orders and tables are `fprofile::compare`, from the
//! two sides' summaries and flame graphs (`compare_parts`, `diff_flames`): a file-backed trace's
//! come from its file, its calls never loaded.

use std::sync::OnceLock;

use fprofile::compare::{self, CompareSort, Comparison, DiffNode, DiffRow};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString};

use crate::aggregate::{nest_preorder, without_gc};
use crate::errors::BindingError;
use crate::trace::PyTrace;

/// Two traces compared per function (`fprofile::compare`); the Python `Comparison` wraps it.
#[pyclass(name = "_Comparison", module = "fprofile_jupyter._core", frozen)]
pub struct PyComparison {
    a: Py<PyTrace>,
    b: Py<PyTrace>,
    cmp: Comparison,
    /// The differential flame tree, built by the first ask.
    tree: OnceLock<Vec<DiffNode>>,
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
        let meta = |t: &Py<PyTrace>| fprofile::paths::Roots::from_metadata(&t.get().source().tables().metadata);
        let b = meta(&self.b);
        if b.0.is_empty() {
            meta(&self.a)
        } else {
            b
        }
    }

    /// The differential flame tree (`fprofile::compare::diff_flames` of both sides' flame graphs),
    /// built once; the GIL is released meanwhile.
    fn tree(&self, py: Python<'_>) -> Result<&[DiffNode], BindingError> {
        if let Some(t) = self.tree.get() {
            return Ok(t);
        }
        let (a, b) = (self.a.get().source(), self.b.get().source());
        let nodes = py.detach(|| -> Result<Vec<DiffNode>, fprofile::LoadError> {
            Ok(compare::diff_flames(&a.flame(None, None)?, &b.flame(None, None)?, &self.cmp))
        })?;
        Ok(self.tree.get_or_init(|| nodes))
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
        let nodes = self.tree(py)?;
        without_gc(py, || self.nested(py, nodes))
    }

    /// The differential flame tree in its compact encoding (`docs/format.md`).
    fn flame_bytes<'py>(&self, py: Python<'py>) -> Result<Bound<'py, PyBytes>, BindingError> {
        let nodes = self.tree(py)?;
        let bytes = py.detach(|| compare::encode_diff_flame(nodes));
        Ok(PyBytes::new(py, &bytes))
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
        nest_preorder(
            py,
            nodes,
            |n| n.depth as usize,
            |d, n| {
                let k = n.func as usize;
                let r = rows.get(k);
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
                Ok(())
            },
        )
    }
}

/// Compares two traces per function (`fprofile::compare::compare_parts` of their summaries: a
/// file-backed trace's from its file); ValueError when one has no calls.
#[pyfunction]
fn compare_traces<'py>(py: Python<'py>, a: &Bound<'py, PyTrace>, b: &Bound<'py, PyTrace>) -> Result<PyComparison, BindingError> {
    let (sa, sb) = (a.get().source(), b.get().source());
    let cmp = py.detach(|| -> Result<Comparison, BindingError> {
        let (xa, xb) = (sa.summary()?, sb.summary()?);
        let part =
            |s: &crate::backed::Source, rows| compare::Part { overall: rows, codes: s.tables().codes.len(), calls: s.calls() };
        Ok(compare::compare_parts(part(sa, &xa.overall), part(sb, &xb.overall))?)
    })?;
    Ok(PyComparison { a: a.clone().unbind(), b: b.clone().unbind(), cmp, tree: OnceLock::new() })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(compare_traces, m)?)?;
    m.add_class::<PyComparison>()?;
    Ok(())
}
