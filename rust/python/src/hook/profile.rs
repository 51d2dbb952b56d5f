//! `builtins=True`: a C profile function on every thread (the only mechanism that reports calls of
//! C functions). Python calls are filtered as usual; a C function call (PyTrace_C_CALL ..
//! C_RETURN / C_EXCEPTION) is recorded when the Python frame that makes it is recorded, as a call of
//! a code whose file is the C function's module (`<built-in>` for builtins and methods of built-in
//! types) and whose name is its `__qualname__` (first line 0).
//!
//! Threads: 3.12+ `PyEval_SetProfileAllThreads`; 3.9-3.11 every existing thread state (as yappi
//! does). Threads started later get it through `threading.setprofile` (a trampoline that installs
//! the C function on the new thread's first event). A profile function that is already set
//! (cProfile, another profiler) is never replaced: starting fails with a clear error.

use std::ffi::c_int;
use std::sync::atomic::Ordering;

use fprofile::{Code, EventKind};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyString;

use super::buffer::record;
use super::filter::{decision, ID_SHIFT, MATCHED};
use super::state::{GEN, RECORDING};
use super::sync::SavedErr;
use super::tables::{add_code, tables};
use super::{HookError, HookWarning};

#[cfg(not(Py_3_12))]
extern "C" {
    fn _PyEval_SetProfile(tstate: *mut ffi::PyThreadState, func: Option<ffi::Py_tracefunc>, arg: *mut ffi::PyObject) -> c_int;
}

unsafe extern "C" fn profile_fn(
    _obj: *mut ffi::PyObject,
    frame: *mut ffi::PyFrameObject,
    what: c_int,
    arg: *mut ffi::PyObject,
) -> c_int {
    let kind = match what {
        ffi::PyTrace_CALL | ffi::PyTrace_C_CALL => EventKind::Call,
        ffi::PyTrace_RETURN | ffi::PyTrace_C_RETURN | ffi::PyTrace_C_EXCEPTION => EventKind::Return,
        _ => return 0,
    };
    if frame.is_null() {
        return 0;
    }
    let gen = GEN.load(Ordering::Relaxed);
    let code = ffi::PyFrame_GetCode(frame).cast::<ffi::PyObject>();
    if code.is_null() {
        ffi::PyErr_Clear();
        return 0;
    }
    let x = decision(code, gen);
    ffi::Py_DecRef(code);
    if x & MATCHED == 0 {
        return 0;
    }
    if what == ffi::PyTrace_CALL || what == ffi::PyTrace_RETURN {
        record(gen, (x >> ID_SHIFT) as u32, kind);
    } else if !arg.is_null() && ffi::PyCFunction_Check(arg) != 0 {
        if let Some(id) = cfunc_id(arg, gen) {
            record(gen, id, kind);
        }
    }
    0
}

/// The code id of a C function, keyed by its `PyMethodDef` (stable, unlike bound-method objects
/// that are made per call).
unsafe fn cfunc_id(f: *mut ffi::PyObject, gen: u32) -> Option<u32> {
    let key = (*f.cast::<ffi::PyCFunctionObject>()).m_ml as usize;
    {
        let s = tables()?;
        if s.gen != gen {
            return None;
        }
        if let Some(&id) = s.cfuncs.get(&key) {
            return Some(id);
        }
    }
    let py = Python::assume_attached();
    let _saved = SavedErr::new();
    let obj = Bound::from_borrowed_ptr(py, f);
    let text = |name: &str| -> Option<String> {
        let v = obj.getattr(name).ok()?;
        let s = v.cast::<PyString>().ok()?;
        Some(s.to_string_lossy().into_owned())
    };
    let qual = text("__qualname__").or_else(|| text("__name__")).unwrap_or_else(|| "<C function>".into());
    let short = text("__name__").unwrap_or_else(|| qual.clone());
    let module = match text("__module__") {
        Some(m) if m != "builtins" => m,
        _ => "<built-in>".to_string(),
    };
    let id = add_code(gen, None, Code { file: module, name: qual, first_line: 0 }, short)?;
    if let Some(s) = tables() {
        s.cfuncs.insert(key, id);
    }
    Some(id)
}

/// `threading.setprofile` trampoline: on a new thread's first event, installs the C function.
unsafe extern "C" fn trampoline(_s: *mut ffi::PyObject, _args: *mut ffi::PyObject) -> *mut ffi::PyObject {
    // A thread that picked up `threading`'s hook just before the recording stopped runs this
    // afterwards: it must not be left with the profile function (it would record C calls into a
    // later recording made without builtins=True, and slow that thread down for good).
    let on = tables().map(|s| s.profiles).unwrap_or(false) && RECORDING.load(Ordering::Relaxed) != 0;
    ffi::PyEval_SetProfile(if on { Some(profile_fn) } else { None }, std::ptr::null_mut());
    let n = ffi::Py_None();
    ffi::Py_IncRef(n);
    n
}

fn trampoline_obj(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    let def = Box::leak(Box::new(ffi::PyMethodDef {
        ml_name: c"fprofile_thread_profile".as_ptr(),
        ml_meth: ffi::PyMethodDefPointer { PyCFunction: trampoline },
        ml_flags: ffi::METH_VARARGS,
        ml_doc: std::ptr::null(),
    }));
    // SAFETY: GIL held; `def` is leaked.
    unsafe { Bound::from_owned_ptr_or_err(py, ffi::PyCFunction_NewEx(def, std::ptr::null_mut(), std::ptr::null_mut())) }
}

/// Refuses when a profile function is already set (cProfile, yappi, another profiler).
fn check_free(py: Python<'_>) -> Result<(), HookError> {
    let sys = py.import("sys")?;
    let current = sys.call_method0("getprofile")?;
    let threading = py.import("threading")?;
    let hook = threading.getattr("_profile_hook").unwrap_or_else(|_| py.None().into_bound(py));
    for (what, obj) in [("sys.setprofile", current), ("threading.setprofile", hook)] {
        if !obj.is_none() {
            return Err(HookError::OtherProfiler { what, repr: obj.repr()?.to_string_lossy().into_owned() });
        }
    }
    Ok(())
}

pub(crate) fn install(py: Python<'_>) -> Result<(), HookError> {
    check_free(py)?;
    let threading = py.import("threading")?;
    threading.call_method1("setprofile", (trampoline_obj(py)?,))?;
    // SAFETY: GIL held.
    unsafe { set_all(Some(profile_fn)) };
    Ok(())
}

pub(crate) fn uninstall(py: Python<'_>) -> Vec<HookWarning> {
    // SAFETY: GIL held.
    unsafe { set_all(None) };
    let mut w = Vec::new();
    if let Err(e) = py.import("threading").and_then(|t| t.call_method1("setprofile", (py.None(),))) {
        w.push(HookWarning::RemovalFailed { what: "resetting threading.setprofile", error: e.to_string() });
    }
    w
}

#[cfg(Py_3_12)]
unsafe fn set_all(f: Option<ffi::Py_tracefunc>) {
    ffi::PyEval_SetProfileAllThreads(f, std::ptr::null_mut());
}

#[cfg(not(Py_3_12))]
unsafe fn set_all(f: Option<ffi::Py_tracefunc>) {
    let interp = ffi::PyInterpreterState_Get();
    let mut ts = ffi::PyInterpreterState_ThreadHead(interp);
    while !ts.is_null() {
        if _PyEval_SetProfile(ts, f, std::ptr::null_mut()) < 0 {
            ffi::PyErr_Clear();
        }
        ts = ffi::PyThreadState_Next(ts);
    }
}
