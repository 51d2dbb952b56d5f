//! The parent's notice that a child process is about to start (`processes=True`): the session
//! directory children join is made only then (docs/processes.md "When the session directory is
//! made"), so a recording that starts no process pays nothing for it.
//!
//! A C audit hook (PEP 578), installed once per process and armed by `_arm_child_notice(callback)`,
//! calls `callback` (with the GIL, as every audit hook) the first time after arming that the
//! program is about to start a process through Python: `subprocess.Popen` (also behind
//! `os.popen`), `os.posix_spawn[p]`, `os.system`, `os.exec*`, `os.fork`/`os.forkpty`. It disarms
//! itself first. Unarmed, it costs a load and a compare per audited event. (`os.fork` also runs
//! the at-fork handlers, and `multiprocessing`'s spawn and forkserver start their processes with
//! `_posixsubprocess.fork_exec`, which audits nothing: `_processes` covers both in Python.)

use std::ffi::{c_char, c_int, c_void, CStr};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Mutex;

use pyo3::ffi;
use pyo3::prelude::*;

type AuditHook = unsafe extern "C" fn(*const c_char, *mut ffi::PyObject, *mut c_void) -> c_int;

extern "C" {
    // (cpython/sysmodule.h, 3.8+; not in pyo3-ffi)
    fn PySys_AddAuditHook(hook: AuditHook, data: *mut c_void) -> c_int;
}

static ARMED: AtomicBool = AtomicBool::new(false);
/// 0: not installed yet, 1: installed, 2: the interpreter refused it (another audit hook did).
static INSTALLED: AtomicU8 = AtomicU8::new(0);
static CALLBACK: Mutex<Option<Py<PyAny>>> = Mutex::new(None);

/// The audited events that start a process (or replace this one with a new program).
fn starts_a_process(event: &[u8]) -> bool {
    matches!(
        event,
        b"subprocess.Popen" | b"os.posix_spawn" | b"os.spawn" | b"os.system" | b"os.exec" | b"os.fork" | b"os.forkpty"
    )
}

unsafe extern "C" fn audit(event: *const c_char, _args: *mut ffi::PyObject, _data: *mut c_void) -> c_int {
    if !ARMED.load(Ordering::Relaxed) || event.is_null() || !starts_a_process(CStr::from_ptr(event).to_bytes()) {
        return 0;
    }
    ARMED.store(false, Ordering::Relaxed);
    // SAFETY: audit hooks run with the GIL held.
    let py = Python::assume_attached();
    let cb = super::sync::lock(&CALLBACK).as_ref().map(|c| c.clone_ref(py));
    if let Some(cb) = cb {
        if let Err(e) = cb.call0(py) {
            // never fails the program's own call: the callback says what went wrong itself
            e.write_unraisable(py, None);
        }
    }
    0
}

/// Arms the notice: `callback()` is called (once) before the next process the program starts
/// through Python. False when the interpreter refused the audit hook (the caller then makes the
/// session directory at once).
#[pyfunction]
pub(crate) fn _arm_child_notice(callback: Py<PyAny>) -> bool {
    *super::sync::lock(&CALLBACK) = Some(callback);
    if INSTALLED.load(Ordering::Relaxed) == 0 {
        // SAFETY: GIL held; the hook is a plain function that lives as long as the process.
        let ok = unsafe { PySys_AddAuditHook(audit, std::ptr::null_mut()) } == 0;
        if !ok {
            // (an existing audit hook refused "sys.addaudithook": its exception is not ours to raise)
            // SAFETY: GIL held.
            unsafe { ffi::PyErr_Clear() };
        }
        INSTALLED.store(if ok { 1 } else { 2 }, Ordering::Relaxed);
    }
    let ok = INSTALLED.load(Ordering::Relaxed) == 1;
    ARMED.store(ok, Ordering::Relaxed);
    ok
}

/// Disarms the notice (the session directory was made, or the recording stopped).
#[pyfunction]
pub(crate) fn _disarm_child_notice() {
    ARMED.store(false, Ordering::Relaxed);
}
