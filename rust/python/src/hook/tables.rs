//! What the hook's slow paths read and add to while a session records (always with the GIL held):
//! the filter (`subs`, excludes), the code table, the C functions seen (`builtins=True`) and the
//! recorded threads. `session` creates them at start and takes them at stop.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use fprofile::Code;
use pyo3::ffi;

use super::state::RECORDING;
use super::sync::{lock, GilCell};
use super::thread::ThreadShared;

const MAX_CODES: usize = 1 << 30;

pub(crate) struct Tables {
    pub gen: u32,
    /// The session records through the profile function (`builtins=True`).
    pub profiles: bool,
    pub subs: Vec<String>,
    pub exclude: Vec<String>,
    /// Recorded even when they match `exclude` (`+urllib`: the defaults, which exclude the standard
    /// library, plus urllib).
    pub include: Vec<String>,
    /// Code table of the trace (function name = `co_qualname` where the Python has it).
    pub codes: Vec<Code>,
    /// The same codes for the background writer: for the live PYME raw text file with `co_name`
    /// (PYME writes `co_name`, `writer_short`), for a child's spool as they are.
    pub writer_codes: Option<Arc<Mutex<Vec<Code>>>>,
    pub writer_short: bool,
    /// Strong references to the matched code objects (released at stop).
    pub code_refs: Vec<*mut ffi::PyObject>,
    /// builtins=True: C function (its `PyMethodDef` address) -> code id.
    pub cfuncs: HashMap<usize, u32>,
    pub threads: Arc<Mutex<Vec<Arc<ThreadShared>>>>,
}

static TABLES: GilCell<Option<Tables>> = GilCell(std::cell::UnsafeCell::new(None));

/// The tables of the session that records, if any. Callers keep the borrow short and never hold
/// it across a call into Python (which could re-enter the hook).
///
/// # Safety
/// GIL held; no other borrow alive.
#[allow(clippy::mut_from_ref)]
pub(crate) unsafe fn tables() -> Option<&'static mut Tables> {
    (*TABLES.0.get()).as_mut()
}

/// Puts in place (`Some`) or takes out (`None`) the tables.
///
/// # Safety
/// GIL held; no borrow alive.
pub(crate) unsafe fn replace(t: Option<Tables>) -> Option<Tables> {
    std::mem::replace(&mut *TABLES.0.get(), t)
}

impl Tables {
    /// Whether calls of code in `file` are recorded: it contains one of `include`, or one of
    /// `subs` and none of `exclude`.
    pub(crate) fn matches(&self, file: &str) -> bool {
        let contains_any = |list: &[String]| list.iter().any(|s| !s.is_empty() && file.contains(s.as_str()));
        contains_any(&self.include) || (contains_any(&self.subs) && !contains_any(&self.exclude))
    }
}

/// Adds a code to the table (holding `obj` if given). None if no such session or the
/// table is full (2^30 codes).
pub(crate) unsafe fn add_code(gen: u32, obj: Option<*mut ffi::PyObject>, code: Code, short: String) -> Option<u32> {
    let s = tables()?;
    // (not while recording is off for it: the cap was reached, or this is the child of a fork,
    // where the writer's locks may be held by a thread that does not exist here)
    if s.gen != gen || RECORDING.load(Ordering::Relaxed) != gen || s.codes.len() >= MAX_CODES - 1 {
        return None;
    }
    let id = s.codes.len() as u32;
    if let Some(w) = &s.writer_codes {
        let name = if s.writer_short { short } else { code.name.clone() };
        lock(w).push(Code { file: code.file.clone(), name, first_line: code.first_line });
    }
    s.codes.push(code);
    if let Some(o) = obj {
        ffi::Py_IncRef(o);
        s.code_refs.push(o);
    }
    Some(id)
}

/// Registers a thread's buffers in session `gen`.
pub(crate) unsafe fn add_thread(gen: u32, sh: Arc<ThreadShared>) -> bool {
    match tables() {
        Some(s) if s.gen == gen => {
            lock(&s.threads).push(sh);
            true
        }
        _ => false,
    }
}
