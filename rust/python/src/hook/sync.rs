//! Small shared pieces of the hook: the lock helper, the GIL-guarded cell, the saved error
//! indicator. No module of the hook is below this one.

use std::cell::UnsafeCell;
use std::sync::{Mutex, MutexGuard};

use pyo3::ffi;

/// Locks a mutex, ignoring poisoning (no code holding these locks can panic by design; if one
/// ever did, the data is still a valid list of events).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// State only touched with the GIL held.
pub(crate) struct GilCell<T>(pub(crate) UnsafeCell<T>);
// SAFETY: every access happens with the GIL held (hook entry points, Recorder methods).
unsafe impl<T> Sync for GilCell<T> {}

/// Saves and restores the error indicator around slow-path Python calls made from inside the hook
/// (a frame may be entered with an exception pending: generator `throw`, unwinding).
pub(crate) struct SavedErr(*mut ffi::PyObject, *mut ffi::PyObject, *mut ffi::PyObject);

impl SavedErr {
    #[allow(deprecated)]
    pub(crate) unsafe fn new() -> SavedErr {
        let mut s = SavedErr(std::ptr::null_mut(), std::ptr::null_mut(), std::ptr::null_mut());
        ffi::PyErr_Fetch(&mut s.0, &mut s.1, &mut s.2);
        s
    }
}

impl Drop for SavedErr {
    #[allow(deprecated)]
    fn drop(&mut self) {
        // SAFETY: GIL held by whoever made us; restores exactly what was fetched.
        unsafe {
            ffi::PyErr_Clear();
            ffi::PyErr_Restore(self.0, self.1, self.2);
        }
    }
}
