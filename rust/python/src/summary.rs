//! The `Summary` and `SummaryRow` classes: a thin Python view of [`fprofile::summary::Summary`]
//! (per-function figures, overall and per thread). Sorting, the text and HTML tables are
//! `fprofile::summary`'s.

use fprofile::summary::{Scope, SortKey};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::errors::BindingError;

/// One function's figures in a summary.
#[pyclass(name = "SummaryRow", module = "fprofile_jupyter._core", frozen)]
#[derive(Clone)]
pub struct PySummaryRow {
    row: fprofile::summary::Row,
}

#[pymethods]
impl PySummaryRow {
    /// Code (function) id within the trace.
    #[getter]
    fn code(&self) -> u32 {
        self.row.code
    }
    #[getter]
    fn function(&self) -> &str {
        &self.row.function
    }
    #[getter]
    fn file(&self) -> &str {
        &self.row.file
    }
    #[getter]
    fn line(&self) -> u32 {
        self.row.line
    }
    #[getter]
    fn calls(&self) -> u64 {
        self.row.calls
    }
    #[getter]
    fn total_ns(&self) -> u64 {
        self.row.total_ns
    }
    #[getter]
    fn self_ns(&self) -> u64 {
        self.row.self_ns
    }
    #[getter]
    fn mean_ns(&self) -> u64 {
        self.row.mean_ns
    }
    #[getter]
    fn max_ns(&self) -> u64 {
        self.row.max_ns
    }

    fn __repr__(&self) -> String {
        let r = &self.row;
        format!(
            "SummaryRow(function={:?}, file={:?}, line={}, calls={}, total_ns={}, self_ns={}, mean_ns={}, max_ns={})",
            r.function, r.file, r.line, r.calls, r.total_ns, r.self_ns, r.mean_ns, r.max_ns
        )
    }

    /// The row as a dict (e.g. for `pandas.DataFrame(summary.to_dicts())`).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let r = &self.row;
        let d = PyDict::new(py);
        d.set_item("code", r.code)?;
        d.set_item("function", &r.function)?;
        d.set_item("file", &r.file)?;
        d.set_item("line", r.line)?;
        d.set_item("calls", r.calls)?;
        d.set_item("total_ns", r.total_ns)?;
        d.set_item("self_ns", r.self_ns)?;
        d.set_item("mean_ns", r.mean_ns)?;
        d.set_item("max_ns", r.max_ns)?;
        Ok(d)
    }
}

/// Per-function figures (calls, total, self, mean and max time), overall, for one process or for
/// one thread.
#[pyclass(name = "Summary", module = "fprofile_jupyter._core", frozen, sequence)]
pub struct PySummary {
    rows: Vec<fprofile::summary::Row>,
    /// What the rows cover: every thread, one process, or one thread.
    scope: Scope,
    /// Per-thread summaries (empty for a per-thread or per-process summary).
    threads: Vec<fprofile::summary::ThreadSummary>,
    /// Per-process summaries with each process's label and thread count (empty for a per-thread or
    /// per-process summary).
    processes: Vec<(fprofile::summary::ProcessSummary, String, usize)>,
    /// How the rows are ordered (for the title).
    order: SortKey,
    /// The trace's roots: file names in the tables as users know them.
    roots: std::sync::Arc<fprofile::paths::Roots>,
}

impl PySummary {
    /// The summary of a whole trace; `processes` = (label, thread count) of each of its processes.
    pub(crate) fn from_core(
        s: fprofile::summary::Summary,
        processes: Vec<(String, usize)>,
        roots: fprofile::paths::Roots,
    ) -> Self {
        let processes = s.processes.into_iter().zip(processes).map(|(p, (label, n))| (p, label, n)).collect();
        PySummary {
            rows: s.overall,
            scope: Scope::AllThreads(s.threads.len()),
            threads: s.threads,
            processes,
            order: SortKey::Total,
            roots: std::sync::Arc::new(roots),
        }
    }

    fn part(&self, rows: Vec<fprofile::summary::Row>, scope: Scope) -> Self {
        PySummary { rows, scope, threads: Vec::new(), processes: Vec::new(), order: SortKey::Total, roots: self.roots.clone() }
    }

    fn with_rows(&self, rows: Vec<fprofile::summary::Row>, order: SortKey) -> Self {
        PySummary {
            rows,
            scope: self.scope.clone(),
            threads: self.threads.clone(),
            processes: self.processes.clone(),
            order,
            roots: self.roots.clone(),
        }
    }

    fn table(&self, limit: Option<usize>) -> String {
        fprofile::summary::text_table(&self.rows, &self.title(), limit, &self.roots)
    }

    fn title(&self) -> String {
        fprofile::summary::title(&self.scope, self.rows.len(), self.order)
    }
}

#[pymethods]
impl PySummary {
    fn __len__(&self) -> usize {
        self.rows.len()
    }

    /// A row (`summary[0]`), or a summary of some rows (`summary[:10]`, shown as a table too).
    fn __getitem__<'py>(&self, index: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let py = index.py();
        if let Ok(slice) = index.cast::<pyo3::types::PySlice>() {
            let ind = slice.indices(self.rows.len() as isize)?;
            let mut rows = Vec::with_capacity(ind.slicelength);
            let mut i = ind.start;
            for _ in 0..ind.slicelength {
                rows.push(self.rows[i as usize].clone());
                i += ind.step;
            }
            return Ok(Bound::new(py, self.with_rows(rows, self.order))?.into_any());
        }
        let index: isize = index.extract()?;
        let n = self.rows.len() as isize;
        let i = if index < 0 { index + n } else { index };
        if i < 0 || i >= n {
            return Err(pyo3::exceptions::PyIndexError::new_err("summary row index out of range"));
        }
        Ok(Bound::new(py, PySummaryRow { row: self.rows[i as usize].clone() })?.into_any())
    }

    fn __iter__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, pyo3::types::PyIterator>> {
        pyo3::types::PyList::new(py, self.rows())?.try_iter()
    }

    /// The rows, as a list.
    #[getter]
    fn rows(&self) -> Vec<PySummaryRow> {
        self.rows.iter().map(|r| PySummaryRow { row: r.clone() }).collect()
    }

    /// Index of the thread this summary covers, or None for the summary of all threads or of a
    /// process.
    #[getter]
    fn thread(&self) -> Option<u32> {
        match self.scope {
            Scope::Thread(i, _) => Some(i),
            _ => None,
        }
    }

    /// Name of the thread this summary covers, or None for the summary of all threads or of a
    /// process.
    #[getter]
    fn thread_name(&self) -> Option<String> {
        match &self.scope {
            Scope::Thread(_, n) => Some(n.clone()),
            _ => None,
        }
    }

    /// Index (in `Trace.processes`) of the process this summary covers, or None for the summary of
    /// all threads or of a thread.
    #[getter]
    fn process(&self) -> Option<u32> {
        match self.scope {
            Scope::Process(i, _, _) => Some(i),
            _ => None,
        }
    }

    /// One summary per thread (in the trace's thread order); empty for a per-thread or per-process
    /// summary.
    #[getter]
    fn per_thread(&self) -> Vec<PySummary> {
        self.threads.iter().map(|t| self.part(t.rows.clone(), Scope::Thread(t.thread, t.name.clone()))).collect()
    }

    /// One summary per process (in the trace's process order: all of a process's threads, by the
    /// rules of the overall summary); empty for a per-thread or per-process summary.
    #[getter]
    fn per_process(&self) -> Vec<PySummary> {
        self.processes
            .iter()
            .map(|(p, label, n)| self.part(p.rows.clone(), Scope::Process(p.process, label.clone(), *n)))
            .collect()
    }

    /// The same summary with its rows ordered by `by` (descending for figures, ascending for
    /// names): one of "total", "self", "calls", "mean", "max", "function", "file".
    #[pyo3(signature = (by="total"))]
    fn sorted(&self, by: &str) -> Result<PySummary, BindingError> {
        let order = SortKey::from_name(by)?;
        let mut rows = self.rows.clone();
        fprofile::summary::sort_rows(&mut rows, order);
        Ok(self.with_rows(rows, order))
    }

    /// The rows as a fixed-width text table (the first `limit` rows when given).
    #[pyo3(signature = (limit=None))]
    fn format_table(&self, limit: Option<usize>) -> String {
        self.table(limit)
    }

    /// The rows as a list of dicts (e.g. for `pandas.DataFrame(summary.to_dicts())`).
    fn to_dicts<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyDict>>> {
        self.rows().iter().map(|r| r.to_dict(py)).collect()
    }

    fn __repr__(&self) -> String {
        self.table(Some(25))
    }

    fn __str__(&self) -> String {
        self.table(None)
    }

    /// An HTML table (names escaped); at most 500 rows.
    fn _repr_html_(&self) -> String {
        fprofile::summary::html_table(&self.rows, &self.title(), &self.roots)
    }
}

/// summary_static_table(summary_json, roots, limit) -> str
///
/// The table of a notebook's static copy (`fprofile::summary::static_table`): the first `limit`
/// rows of ``summary_json``'s "overall" (``Trace.summary_json(overall_only=True)``), file names
/// relative to ``roots`` (a trace's metadata "paths.roots"). ValueError for JSON that is not a summary.
#[pyfunction]
fn summary_static_table(summary_json: &str, roots: &str, limit: usize) -> PyResult<String> {
    let bad = |e: serde_json::Error| pyo3::exceptions::PyValueError::new_err(format!("not a summary's JSON: {e}"));
    let mut v: serde_json::Value = serde_json::from_str(summary_json).map_err(bad)?;
    let rows: Vec<fprofile::summary::Row> = match v.get_mut("overall") {
        Some(rows) => serde_json::from_value(rows.take()).map_err(bad)?,
        None => Vec::new(),
    };
    Ok(fprofile::summary::static_table(&rows, limit, &fprofile::paths::Roots::from_json(roots)))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(summary_static_table, m)?)?;
    m.add_class::<PySummary>()?;
    m.add_class::<PySummaryRow>()?;
    Ok(())
}
