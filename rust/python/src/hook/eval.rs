//! CPython 3.9-3.11: a PEP 523 eval-frame function.
//!
//! It sees every Python frame evaluation in every thread of the interpreter (calls, and each
//! generator/coroutine resume or throw), keeps the specialising interpreter on, and returns through
//! the same C function, so an entry and its exit always pair up: a normal return, a yield (the
//! frame's evaluation ends) and an exception unwinding the frame (a NULL result) all end the call.
//! Frames already running when it is installed are not seen. It chains to the eval function that
//! was installed before (the default, or a debugger's / torch.compile's) and restores it on stop.

use std::ffi::c_int;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use fprofile::EventKind;
use pyo3::ffi;
use pyo3::prelude::*;

use super::buffer::{local, record_on};
use super::filter::{decision, GENERATOR, ID_SHIFT, MATCHED};
use super::state::GEN;
use super::{HookError, HookWarning};

#[cfg(Py_3_11)]
type Frame = *mut ffi::_PyInterpreterFrame;
#[cfg(not(Py_3_11))]
type Frame = *mut ffi::PyFrameObject;

/// Offset of the code object in the frame: `_PyInterpreterFrame.f_code` on 3.11 (after f_func,
/// f_globals, f_builtins, f_locals), `PyFrameObject.f_code` on 3.9/3.10 (after PyObject_VAR_HEAD
/// and f_back): 32 bytes on 64-bit builds in both cases (checked against the headers).
const CODE_OFFSET: usize = 4 * std::mem::size_of::<usize>();

/// The eval function we chain to.
static PREV: AtomicUsize = AtomicUsize::new(0);
/// A stop found another tool's function installed over ours and left it there: that tool may
/// call ours (as the function it chains to), which passes calls on to PREV, so PREV must not
/// change while ours can still be reached that way.
static ORPHANED: AtomicBool = AtomicBool::new(false);

#[inline(always)]
unsafe fn frame_code(f: Frame) -> *mut ffi::PyObject {
    *(f as *const u8).add(CODE_OFFSET).cast::<*mut ffi::PyObject>()
}

/// 3.11: `_PyInterpreterFrame.owner` (after prev_instr at 56, stacktop at 64, is_entry at 68) is
/// FRAME_OWNED_BY_THREAD (0) while a generator function's frame runs to create the generator,
/// FRAME_OWNED_BY_GENERATOR (1) when the generator is resumed.
#[cfg(Py_3_11)]
const OWNER_OFFSET: usize = 69;

#[cfg(Py_3_11)]
#[inline(always)]
unsafe fn is_creation(f: Frame) -> bool {
    *(f as *const u8).add(OWNER_OFFSET) == 0
}

unsafe extern "C" fn eval_frame(ts: *mut ffi::PyThreadState, f: Frame, throwflag: c_int) -> *mut ffi::PyObject {
    let gen = GEN.load(Ordering::Relaxed);
    let x = decision(frame_code(f), gen);
    if x & MATCHED == 0 {
        // rejected: straight on (kept small so this path costs a slot read and a compare)
        return prev()(ts, f, throwflag);
    }
    eval_recorded(ts, f, throwflag, x, gen)
}

#[inline(always)]
unsafe fn prev() -> ffi::_PyFrameEvalFunction {
    // SAFETY: PREV holds the function pointer stored by `install` before ours was installed.
    std::mem::transmute::<usize, ffi::_PyFrameEvalFunction>(PREV.load(Ordering::Relaxed))
}

#[inline(never)]
unsafe fn eval_recorded(ts: *mut ffi::PyThreadState, f: Frame, throwflag: c_int, x: u64, gen: u32) -> *mut ffi::PyObject {
    let prev = prev();
    #[cfg(Py_3_11)]
    if x & GENERATOR != 0 && is_creation(f) {
        // 3.11 evaluates a generator function's frame once to create the generator
        // (RETURN_GENERATOR): not a call of its body; each later resume is.
        return prev(ts, f, throwflag);
    }
    if throwflag != 0 && x & GENERATOR != 0 && super::genclose::close_runs_nothing(f.cast(), frame_code(f)) {
        // GeneratorExit thrown where nothing of the generator runs (docs/recording.md): not a call
        return prev(ts, f, throwflag);
    }
    let id = (x >> ID_SHIFT) as u32;
    let Some(l) = local() else { return prev(ts, f, throwflag) };
    record_on(l, gen, id, EventKind::Call);
    let r = prev(ts, f, throwflag);
    record_on(l, gen, id, EventKind::Return);
    r
}

#[cfg(Py_3_11)]
unsafe fn current(interp: *mut ffi::PyInterpreterState) -> usize {
    ffi::_PyInterpreterState_GetEvalFrameFunc(interp) as usize
}

#[cfg(not(Py_3_11))]
unsafe fn current(interp: *mut ffi::PyInterpreterState) -> usize {
    ffi::_PyInterpreterState_GetEvalFrameFunc(interp).map(|f| f as usize).unwrap_or(0)
}

fn ours() -> usize {
    eval_frame as ffi::_PyFrameEvalFunction as usize
}

pub(crate) fn install(_py: Python<'_>) -> Result<(), HookError> {
    // SAFETY: GIL held.
    unsafe {
        let interp = ffi::PyInterpreterState_Get();
        let cur = current(interp);
        if ORPHANED.load(Ordering::Relaxed) {
            if cur == ours() {
                // The tool that replaced ours put it back: ours is installed again, still chained to
                // the function underneath (PREV).
                ORPHANED.store(false, Ordering::Relaxed);
                return Ok(());
            }
            if cur != PREV.load(Ordering::Relaxed) {
                // Chaining to that tool's function while it may chain to ours would recurse forever.
                return Err(HookError::EvalFrameTaken);
            }
            // That tool is gone (the function we chained to is back): start afresh.
            ORPHANED.store(false, Ordering::Relaxed);
        }
        if cur == 0 || cur == ours() {
            return Err(HookError::EvalFrameUnexpected);
        }
        PREV.store(cur, Ordering::Relaxed);
        ffi::_PyInterpreterState_SetEvalFrameFunc(interp, Some(eval_frame));
    }
    Ok(())
}

/// Restores the eval function we chained to, unless someone replaced ours meanwhile: then theirs
/// stays (it may chain to ours, which keeps passing through) and the user is told.
pub(crate) fn uninstall(_py: Python<'_>) -> Vec<HookWarning> {
    // SAFETY: GIL held; PREV holds a valid eval function.
    unsafe {
        let interp = ffi::PyInterpreterState_Get();
        if current(interp) == ours() {
            let prev: ffi::_PyFrameEvalFunction =
                std::mem::transmute::<usize, ffi::_PyFrameEvalFunction>(PREV.load(Ordering::Relaxed));
            ffi::_PyInterpreterState_SetEvalFrameFunc(interp, Some(prev));
            Vec::new()
        } else {
            ORPHANED.store(true, Ordering::Relaxed);
            vec![HookWarning::HookReplaced]
        }
    }
}
