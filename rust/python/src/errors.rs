//! Exception types of the package. `FormatError` (a `ValueError`): a file or buffer that is not a
//! valid trace. `ProfilerError` (a `RuntimeError`): profiling cannot start or stop as asked.
use pyo3::create_exception;
use pyo3::prelude::*;

create_exception!(_core, FormatError, pyo3::exceptions::PyValueError, "A file or buffer is not a valid trace; the message says what is wrong and where.");
create_exception!(_core, ProfilerError, pyo3::exceptions::PyRuntimeError, "Profiling cannot be started or stopped as asked.");

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("FormatError", m.py().get_type::<FormatError>())?;
    m.add("ProfilerError", m.py().get_type::<ProfilerError>())?;
    Ok(())
}
