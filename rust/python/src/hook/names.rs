//! Thread names: the `threading.Thread` object of a recorded thread, read without running Python
//! code where possible, and renames noticed by the background thread, at chunk switches and at
//! stop.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyString;

use super::clock::now_ns;
use super::sync::{lock, SavedErr};
use super::thread::ThreadShared;

/// The `threading.Thread` object of the Python thread `ident` (a new reference), found without
/// running Python code: `threading._active[ident]` (not `current_thread()`, which would create
/// dummy threads). None for threads `threading` does not know.
pub(crate) unsafe fn thread_object(ident: u64) -> Option<*mut ffi::PyObject> {
    let py = Python::assume_attached();
    let _saved = SavedErr::new();
    let modules = py.import("sys").ok()?.getattr("modules").ok()?;
    let threading = modules.get_item("threading").ok()?;
    let active = threading.getattr("_active").ok()?;
    let th = active.get_item(ident).ok()?;
    Some(th.into_ptr())
}

/// The name of a `threading.Thread` object (its `_name`: a plain attribute, no Python code runs).
pub(crate) unsafe fn object_name(th: *mut ffi::PyObject) -> Option<String> {
    let py = Python::assume_attached();
    let _saved = SavedErr::new();
    let th = Bound::from_borrowed_ptr(py, th);
    let name = th.getattr("_name").ok()?;
    let name = name.cast::<PyString>().ok()?;
    Some(name.to_string_lossy().into_owned())
}

/// Checks one thread for a rename (GIL held). The thread object is held by the session, so a
/// thread that already ended is still read correctly.
pub(crate) unsafe fn poll_one_name(sh: &ThreadShared) {
    let th = *lock(&sh.thread_obj);
    let mut adopted = false;
    let th = match th {
        Some(th) => {
            let th = th as *mut ffi::PyObject;
            // Our own reference while reading: reading the name may run Python code (a `Thread`
            // subclass's `__getattribute__`), during which `stop` may release the session's one.
            ffi::Py_IncRef(th);
            th
        }
        None => {
            // The thread recorded its first event before `threading` listed it in `_active` (its
            // first recorded code was threading's own bootstrap, as when `subs` matches the
            // standard library): look again now. Its ident may have been reused by a newer thread
            // once it ended: the native id must match too.
            let Some(o) = thread_object(sh.ident) else { return };
            if native_id(o) != Some(sh.os_id) || sh.released.load(Ordering::Relaxed) {
                ffi::Py_DecRef(o);
                return;
            }
            {
                let mut g = lock(&sh.thread_obj);
                if g.is_some() {
                    drop(g);
                    ffi::Py_DecRef(o);
                    return;
                }
                *g = Some(o as usize); // the session's reference (released by `stop`)
            }
            ffi::Py_IncRef(o);
            adopted = true;
            o
        }
    };
    let name = object_name(th);
    ffi::Py_DecRef(th);
    if let Some(name) = name {
        let mut names = lock(&sh.names);
        if adopted && names.len() == 1 {
            // the placeholder name given at registration ("thread-<os id>"): the real one
            // applies from the start
            names[0].1 = name;
        } else if names.last().map(|(_, n)| n != &name).unwrap_or(false) {
            names.push((now_ns(), name));
        }
    }
}

/// The `_native_id` of a `threading.Thread` object.
unsafe fn native_id(th: *mut ffi::PyObject) -> Option<u64> {
    let py = Python::assume_attached();
    let _saved = SavedErr::new();
    let th = Bound::from_borrowed_ptr(py, th);
    th.getattr("_native_id").ok()?.extract::<u64>().ok()
}

/// Checks every thread of the session for a rename (GIL held).
pub(crate) unsafe fn poll_names(threads: &Mutex<Vec<Arc<ThreadShared>>>) {
    let list: Vec<Arc<ThreadShared>> = lock(threads).clone();
    for sh in &list {
        poll_one_name(sh);
    }
}

/// The name `multiprocessing` gives this process (`current_process()._name`: a plain attribute,
/// no Python code runs), when it is not the main process of its program; None otherwise or when
/// `multiprocessing` is not imported. GIL held.
pub(crate) unsafe fn multiprocessing_name() -> Option<String> {
    let py = Python::assume_attached();
    let _saved = SavedErr::new();
    let modules = py.import("sys").ok()?.getattr("modules").ok()?;
    let process = modules.get_item("multiprocessing.process").ok()?;
    let current = process.getattr("_current_process").ok()?;
    let name = current.getattr("_name").ok()?;
    let name = name.cast::<PyString>().ok()?.to_string_lossy().into_owned();
    (name != "MainProcess").then_some(name)
}
