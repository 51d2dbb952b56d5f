//! The filter decision cached per code object.
//!
//! The decision for a code object is stored in its `co_extra` slot as one machine word: `gen`
//! (low 32 bits: the session that decided) | `MATCHED` (bit 32) | `GENERATOR` (bit 33) | code id
//! (bits 34..63). The hot path does one `co_extra` read and one compare; an older generation means
//! "not decided under this session's `subs` yet". Each matched code object is held (strong
//! reference) until stop, so its id always names the same object; rejected ones need no reference
//! (their decision dies with them).

use std::ffi::c_void;
use std::sync::atomic::{AtomicIsize, Ordering};

use fprofile::Code;
use pyo3::ffi;
use pyo3::prelude::*;

use super::sync::SavedErr;
use super::tables::{add_code, tables};
use super::HookError;

/// Our `co_extra` index (requested once per process), -1 until then.
pub(crate) static EXTRA_IDX: AtomicIsize = AtomicIsize::new(-1);
pub(crate) const MATCHED: u64 = 1 << 32;
/// The code is a generator, coroutine or async generator (its creation is not a call on 3.11).
pub(crate) const GENERATOR: u64 = 1 << 33;
/// The code id lives in bits 34..63.
pub(crate) const ID_SHIFT: u32 = 34;

fn str_attr(obj: &Bound<'_, PyAny>, name: &str) -> Option<String> {
    obj.getattr(name).ok()?.extract::<String>().ok()
}

/// Reads the cached decision of a code object (the hot path).
///
/// # Safety
/// GIL held, `code` a live code object.
#[inline(always)]
pub(crate) unsafe fn decision(code: *mut ffi::PyObject, gen: u32) -> u64 {
    let mut x: *mut c_void = std::ptr::null_mut();
    ffi::PyUnstable_Code_GetExtra(code, EXTRA_IDX.load(Ordering::Relaxed), &mut x);
    let x = x as u64;
    if x as u32 == gen {
        x
    } else {
        classify(code, gen)
    }
}

/// First sight of a code object under session `gen`: decides, caches, and for a match adds it to
/// the code table.
#[cold]
#[inline(never)]
unsafe fn classify(code: *mut ffi::PyObject, gen: u32) -> u64 {
    let py = Python::assume_attached();
    let _saved = SavedErr::new();
    let obj = Bound::from_borrowed_ptr(py, code);
    let mut x = gen as u64;
    if let Some(file) = str_attr(&obj, "co_filename") {
        let matched = match tables() {
            Some(t) => t.gen == gen && t.matches(&file),
            None => false,
        };
        if matched {
            let short = str_attr(&obj, "co_name").unwrap_or_default();
            let qual = str_attr(&obj, "co_qualname").unwrap_or_else(|| short.clone());
            let line = obj.getattr("co_firstlineno").ok().and_then(|l| l.extract::<u32>().ok()).unwrap_or(0);
            let flags = obj.getattr("co_flags").ok().and_then(|l| l.extract::<u32>().ok()).unwrap_or(0);
            if let Some(id) = add_code(gen, Some(code), Code { file, name: qual, first_line: line }, short) {
                x |= MATCHED | ((id as u64) << ID_SHIFT);
                // CO_GENERATOR | CO_COROUTINE | CO_ITERABLE_COROUTINE | CO_ASYNC_GENERATOR
                if flags & (0x20 | 0x80 | 0x100 | 0x200) != 0 {
                    x |= GENERATOR;
                }
            }
        }
    }
    if ffi::PyUnstable_Code_SetExtra(code, EXTRA_IDX.load(Ordering::Relaxed), x as *mut c_void) != 0 {
        ffi::PyErr_Clear();
    }
    x
}

unsafe extern "C" fn free_extra(_: *mut c_void) {}

/// Our `co_extra` slot, requested from the interpreter the first time (once per process).
pub(crate) fn ensure_extra_index() -> Result<(), HookError> {
    if EXTRA_IDX.load(Ordering::Relaxed) < 0 {
        // SAFETY: GIL held by the caller (start); the slot holds a plain integer, so its free
        // function does nothing.
        let idx = unsafe { ffi::PyUnstable_Eval_RequestCodeExtraIndex(free_extra) };
        if idx < 0 {
            return Err(HookError::NoCodeExtraSlot);
        }
        EXTRA_IDX.store(idx, Ordering::Relaxed);
    }
    Ok(())
}
