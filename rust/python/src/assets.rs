//! The embedded timeline assets and the HTML export, for Python: `asset_bundle(host)`,
//! `asset_css()`, `asset_source(path)`, `export_html(trace, title)` (thin wrappers over `fprofile::assets` and
//! `fprofile::formats::html`).

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::trace::PyTrace;

/// The timeline as one self-contained ES module (no imports) for a host: "widget", "viewer" or
/// "export". ValueError for another host.
#[pyfunction]
fn asset_bundle(host: &str) -> PyResult<String> {
    fprofile::assets::bundle(host).ok_or_else(|| {
        PyValueError::new_err(format!("unknown asset host {host:?}: expected one of {}", fprofile::assets::HOSTS.join(", ")))
    })
}

/// The timeline's stylesheet.
#[pyfunction]
fn asset_css() -> String {
    fprofile::assets::css()
}

/// One embedded file of `js/` as it is in the source (e.g. "hosts/lab.js", the JupyterLab
/// extension's container). ValueError for a path that is not there.
#[pyfunction]
fn asset_source(path: &str) -> PyResult<String> {
    fprofile::assets::source(path).ok_or_else(|| PyValueError::new_err(format!("no embedded file js/{path}")))
}

/// The self-contained HTML page of `trace` (the viewer and the data in one file; no network).
/// `encoded` / `summary`: `trace.to_bytes()` / `trace.summary_json(overall_only=True)` when the caller has them
/// already (they are not computed again). The GIL is released while the page is built.
#[pyfunction]
#[pyo3(signature = (trace, title, *, encoded=None, summary=None))]
fn export_html(
    py: Python<'_>,
    trace: &PyTrace,
    title: &str,
    encoded: Option<Vec<u8>>,
    summary: Option<String>,
) -> Result<String, crate::errors::BindingError> {
    use fprofile::formats::{fpt, html};
    let (encoded, summary) = match (encoded, summary) {
        (Some(e), Some(s)) => (e, s),
        (e, s) => {
            let t = trace.whole(py)?;
            py.detach(|| (e.unwrap_or_else(|| fpt::encode(&t)), s.unwrap_or_else(|| fprofile::summary::overall_json(&t))))
        }
    };
    Ok(py.detach(|| html::page(&encoded, &summary, title)))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(asset_bundle, m)?)?;
    m.add_function(wrap_pyfunction!(asset_css, m)?)?;
    m.add_function(wrap_pyfunction!(asset_source, m)?)?;
    m.add_function(wrap_pyfunction!(export_html, m)?)?;
    Ok(())
}
