//! Closing a generator: one rule on every Python version.
//!
//! `gen.close()` (and a generator being garbage-collected while suspended, and
//! `gen.throw(GeneratorExit)`) throws `GeneratorExit` into the generator at the point where it is
//! suspended. When no `try`, `with` or `except` of the generator surrounds that point, and when the
//! generator has not started yet, none of its code runs: the exception leaves it at once. CPython
//! 3.13 then does not even resume the frame (it reports nothing); 3.9-3.12, 3.14 and 3.15 resume it
//! (with monitoring on) and report a call that runs nothing of the body. The recorder follows 3.13
//! everywhere: such a close is not a call; a close that runs a `finally`, an `except` or a `with`
//! exit of the generator, or that is delegated through `yield from` / `await`, is one.
//!
//! Detection, per version (all on the slow path: only when `GeneratorExit` is thrown into a
//! recorded generator or coroutine):
//! - 3.13+: the `RESUME` after the `yield` carries the compiler's "exception depth 1" bit (only
//!   the implicit handler that turns `StopIteration` into `RuntimeError` surrounds it; which bit
//!   it is changed in 3.15, so it is read from a generator compiled at start);
//! - 3.12: the `YIELD_VALUE`'s argument is that exception depth (1: only the implicit handler);
//! - 3.11: the frame's last instruction is a `YIELD_VALUE` followed by `RESUME 1` (a plain yield)
//!   that no entry of the exception table covers, or the `RETURN_GENERATOR` of a generator that
//!   has not started;
//! - 3.9, 3.10: the frame's block stack is empty and the frame is not suspended in `YIELD_FROM`.
//!
//! Whatever cannot be read (an unexpected instruction, a debugger that moved the frame) falls back
//! to recording the call, as CPython reports it.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use super::sync::SavedErr;

/// Opcode numbers of this interpreter (from `opcode.opmap`; -1 when unknown: the rule is off).
#[cfg_attr(Py_3_13, allow(dead_code))]
static YIELD_VALUE: AtomicI32 = AtomicI32::new(-1);
#[cfg_attr(not(Py_3_13), allow(dead_code))]
static RESUME: AtomicI32 = AtomicI32::new(-1);
#[cfg_attr(not(all(Py_3_11, not(Py_3_12))), allow(dead_code))]
static RETURN_GENERATOR: AtomicI32 = AtomicI32::new(-1);
#[cfg_attr(Py_3_11, allow(dead_code))]
static YIELD_FROM: AtomicI32 = AtomicI32::new(-1);

/// 3.13+: the argument of the `RESUME` after a plain `yield` that only the implicit handler
/// surrounds (after-yield | `RESUME_OPARG_DEPTH1_MASK`: 5 on 3.13 and 3.14, 9 on 3.15), read from
/// bytecode compiled at start, since the bits move between versions; -1: the rule is off.
#[cfg_attr(not(Py_3_13), allow(dead_code))]
static PLAIN_RESUME_ARG: AtomicI32 = AtomicI32::new(-1);

/// The opcodes were read (a flag, not a `Once`: reading runs Python code, which may let another
/// thread in to start a recording too; both then read the same values).
static READ: AtomicBool = AtomicBool::new(false);

/// Reads the opcode numbers (at the first start of a recording, before the hook is installed).
pub(crate) fn init(py: Python<'_>) {
    if !READ.load(Ordering::Acquire) {
        read_opcodes(py);
        READ.store(true, Ordering::Release);
    }
}

fn read_opcodes(py: Python<'_>) {
    let Ok(opmap) = py.import("opcode").and_then(|m| m.getattr("opmap")) else { return };
    for (name, slot) in
        [("YIELD_VALUE", &YIELD_VALUE), ("RESUME", &RESUME), ("RETURN_GENERATOR", &RETURN_GENERATOR), ("YIELD_FROM", &YIELD_FROM)]
    {
        let v = opmap.get_item(name).ok().and_then(|v| v.extract::<i32>().ok()).unwrap_or(-1);
        slot.store(v, Ordering::Relaxed);
    }
    #[cfg(Py_3_13)]
    PLAIN_RESUME_ARG.store(plain_resume_arg(py).unwrap_or(-1), Ordering::Relaxed);
}

/// 3.13+: compiles a plain generator and a guarded one; the argument of the `RESUME` after the
/// plain one's `yield`, when it differs from the guarded one's (else None: the rule is off).
#[cfg(Py_3_13)]
fn plain_resume_arg(py: Python<'_>) -> Option<i32> {
    let src = "def plain():\n    yield\ndef guarded():\n    try:\n        yield\n    finally:\n        pass\n";
    let ns = pyo3::types::PyDict::new(py);
    py.import("builtins").ok()?.getattr("exec").ok()?.call1((src, &ns)).ok()?;
    let (yield_value, resume) = (op(&YIELD_VALUE)?, op(&RESUME)?);
    let arg_after_yield = |name: &str| -> Option<u8> {
        let code = ns.get_item(name).ok()??.getattr("__code__").ok()?;
        let b = code.getattr("co_code").ok()?;
        let b = b.cast::<PyBytes>().ok()?.as_bytes();
        let i = (0..b.len()).step_by(2).find(|&i| b[i] == yield_value)?;
        (*b.get(i + 2)? == resume).then(|| b.get(i + 3).copied())?
    };
    let (plain, guarded) = (arg_after_yield("plain")?, arg_after_yield("guarded")?);
    (plain != guarded).then_some(plain as i32)
}

fn op(slot: &AtomicI32) -> Option<u8> {
    u8::try_from(slot.load(Ordering::Relaxed)).ok()
}

/// The exception is a `GeneratorExit`.
///
/// # Safety
/// GIL held; `exc` a live object.
#[cfg(Py_3_12)]
pub(crate) unsafe fn is_generator_exit(exc: *mut ffi::PyObject) -> bool {
    ffi::PyErr_GivenExceptionMatches(exc, ffi::PyExc_GeneratorExit) != 0
}

/// The code's bytecode (`co_code`: without the interpreter's specialisations and instrumentation).
unsafe fn co_code(code: *mut ffi::PyObject) -> Option<Vec<u8>> {
    let py = Python::assume_attached();
    let obj = Bound::from_borrowed_ptr(py, code);
    let b = obj.getattr("co_code").ok()?;
    let b = b.cast::<PyBytes>().ok()?;
    Some(b.as_bytes().to_vec())
}

/// 3.12+: `GeneratorExit` thrown into `code` suspended at byte `offset` (the offset sys.monitoring
/// reports with PY_THROW: the `YIELD_VALUE` on 3.12, the `RESUME` after it on 3.13+) runs nothing.
///
/// # Safety
/// GIL held; `code` a live code object.
#[cfg(Py_3_12)]
pub(crate) unsafe fn close_runs_nothing_at(code: *mut ffi::PyObject, offset: isize) -> bool {
    let _saved = SavedErr::new();
    let Some(bytes) = co_code(code) else { return false };
    let Ok(i) = usize::try_from(offset) else { return false };
    let (Some(&opcode), Some(&oparg)) = (bytes.get(i), bytes.get(i + 1)) else { return false };
    #[cfg(Py_3_13)]
    {
        Some(opcode) == op(&RESUME) && oparg as i32 == PLAIN_RESUME_ARG.load(Ordering::Relaxed)
    }
    #[cfg(not(Py_3_13))]
    {
        Some(opcode) == op(&YIELD_VALUE) && oparg == 1
    }
}

/// 3.9-3.11: the frame about to be evaluated with `throwflag` set has `GeneratorExit` pending and
/// closing it runs nothing of its code.
///
/// # Safety
/// GIL held; `frame` the frame passed to the eval-frame function, `code` its code object.
#[cfg(not(Py_3_12))]
pub(crate) unsafe fn close_runs_nothing(frame: *mut u8, code: *mut ffi::PyObject) -> bool {
    if ffi::PyErr_ExceptionMatches(ffi::PyExc_GeneratorExit) == 0 {
        return false;
    }
    let _saved = SavedErr::new();
    let Some(bytes) = co_code(code) else { return false };
    frame_runs_nothing(frame, code, &bytes).unwrap_or(false)
}

/// 3.11: `_PyInterpreterFrame.prev_instr` (after f_func, f_globals, f_builtins, f_locals, f_code,
/// frame_obj, previous: 7 pointers), into the code object's own bytecode, which starts at
/// `PyCode_Type.tp_basicsize` (`offsetof(PyCodeObject, co_code_adaptive)`).
#[cfg(all(Py_3_11, not(Py_3_12)))]
unsafe fn frame_runs_nothing(frame: *mut u8, code: *mut ffi::PyObject, bytes: &[u8]) -> Option<bool> {
    let prev_instr = *frame.add(7 * std::mem::size_of::<usize>()).cast::<*const u8>();
    let base = (code as *const u8).add(usize::try_from((*std::ptr::addr_of!(ffi::PyCode_Type)).tp_basicsize).ok()?);
    let offset = usize::try_from((prev_instr as isize).checked_sub(base as isize)?).ok()?;
    if offset % 2 != 0 {
        return None;
    }
    let opcode = *bytes.get(offset)?;
    if Some(opcode) == op(&RETURN_GENERATOR) {
        return Some(true); // created, never started
    }
    if Some(opcode) != op(&YIELD_VALUE) || *bytes.get(offset + 3)? != 1 {
        return Some(false); // not a plain `yield` (`yield from` / `await` resume with 2 / 3)
    }
    let py = Python::assume_attached();
    let table = Bound::from_borrowed_ptr(py, code).getattr("co_exceptiontable").ok()?;
    let table = table.cast::<PyBytes>().ok()?.as_bytes().to_vec();
    let unit = offset / 2;
    let covered = exception_table(&table).any(|(start, end)| start <= unit && unit < end);
    Some(!covered)
}

/// 3.11: the (start, end) ranges, in code units, of the exception table's entries
/// (Objects/exception_handling_notes.txt: start, length, target, depth-and-lasti, each a varint of
/// 6-bit chunks, most significant first, 0x40 = more to come; 0x80 marks an entry's first byte).
#[cfg(all(Py_3_11, not(Py_3_12)))]
fn exception_table(table: &[u8]) -> impl Iterator<Item = (usize, usize)> + '_ {
    let mut i = 0usize;
    std::iter::from_fn(move || {
        let mut varint = || -> Option<usize> {
            let mut b = *table.get(i)?;
            i += 1;
            let mut v = (b & 63) as usize;
            while b & 64 != 0 {
                b = *table.get(i)?;
                i += 1;
                v = (v << 6) | (b & 63) as usize;
            }
            Some(v)
        };
        let start = varint()?;
        let len = varint()?;
        let _target = varint()?;
        let _depth_lasti = varint()?;
        Some((start, start + len))
    })
}

/// 3.9/3.10: `PyFrameObject.f_lasti` and `f_iblock` (Include/cpython/frameobject.h, 64-bit):
/// 3.9 f_lasti at 104 (a byte offset), f_iblock at 112; 3.10 f_lasti at 96 (in code units),
/// f_iblock at 104. A frame suspended in `yield from` / `await` has `YIELD_FROM` as its next
/// instruction (CPython's own `_PyGen_yf` test).
#[cfg(not(Py_3_11))]
unsafe fn frame_runs_nothing(frame: *mut u8, _code: *mut ffi::PyObject, bytes: &[u8]) -> Option<bool> {
    #[cfg(not(Py_3_10))]
    let (lasti_at, iblock_at, unit) = (104usize, 112usize, 1isize);
    #[cfg(Py_3_10)]
    let (lasti_at, iblock_at, unit) = (96usize, 104usize, 2isize);
    let lasti = *frame.add(lasti_at).cast::<i32>() as isize;
    let iblock = *frame.add(iblock_at).cast::<i32>();
    if iblock != 0 {
        return Some(false);
    }
    if lasti < 0 {
        return Some(true); // created, never started
    }
    let next = usize::try_from(lasti * unit + 2).ok()?;
    Some(bytes.get(next).copied() != op(&YIELD_FROM) || op(&YIELD_FROM).is_none())
}
