//! CPython 3.12+: `sys.monitoring` (PEP 669) with C callables (METH_FASTCALL), under a tool id of
//! our own (4, else 3, else 5; never PROFILER_ID 2, which cProfile takes).
//!
//! PY_START, PY_RESUME and PY_THROW open a call; PY_RETURN, PY_YIELD and PY_UNWIND end it. A code
//! object the filter rejects gets `sys.monitoring.DISABLE` (CPython then stops calling us for that
//! location, so rejected code costs nothing after its first call) except for the events that cannot
//! be disabled (PY_THROW, PY_UNWIND). Monitoring is interpreter-wide: threads already running are
//! covered, and a frame already running when recording starts delivers a return with no start
//! (the tree builder marks such calls "started before"). A `GeneratorExit` thrown into a generator
//! where nothing of it runs (see `genclose`) is not recorded: neither its PY_THROW nor the
//! PY_UNWIND that follows.

use std::cell::Cell;
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::OnceLock;

use fprofile::EventKind;
use pyo3::ffi;
use pyo3::prelude::*;

use super::buffer::record;
use super::filter::{decision, GENERATOR, ID_SHIFT, MATCHED};
use super::genclose;
use super::state::GEN;
use super::{HookError, HookWarning};

static DISABLE: AtomicPtr<ffi::PyObject> = AtomicPtr::new(std::ptr::null_mut());

#[inline(always)]
unsafe fn none() -> *mut ffi::PyObject {
    let n = ffi::Py_None();
    ffi::Py_IncRef(n);
    n
}

#[inline(always)]
unsafe fn on_event(
    args: *mut *mut ffi::PyObject,
    nargs: ffi::Py_ssize_t,
    kind: EventKind,
    can_disable: bool,
) -> *mut ffi::PyObject {
    if nargs < 1 {
        return none();
    }
    let code = *args;
    let gen = GEN.load(Ordering::Relaxed);
    let x = decision(code, gen);
    if x & MATCHED == 0 {
        if can_disable {
            let d = DISABLE.load(Ordering::Relaxed);
            if !d.is_null() {
                ffi::Py_IncRef(d);
                return d;
            }
        }
        return none();
    }
    record(gen, (x >> ID_SHIFT) as u32, kind);
    none()
}

unsafe extern "C" fn cb_start(_s: *mut ffi::PyObject, a: *mut *mut ffi::PyObject, n: ffi::Py_ssize_t) -> *mut ffi::PyObject {
    on_event(a, n, EventKind::Call, true)
}
unsafe extern "C" fn cb_resume(_s: *mut ffi::PyObject, a: *mut *mut ffi::PyObject, n: ffi::Py_ssize_t) -> *mut ffi::PyObject {
    on_event(a, n, EventKind::Call, true)
}
thread_local! {
    /// The code object whose PY_THROW was not recorded (a close that runs nothing of the
    /// generator): its PY_UNWIND, which follows at once, is not recorded either.
    static SKIP_UNWIND: Cell<usize> = const { Cell::new(0) };
}

unsafe extern "C" fn cb_throw(_s: *mut ffi::PyObject, a: *mut *mut ffi::PyObject, n: ffi::Py_ssize_t) -> *mut ffi::PyObject {
    // (code, instruction offset, exception)
    if n >= 3 {
        let code = *a;
        let x = decision(code, GEN.load(Ordering::Relaxed));
        if x & (MATCHED | GENERATOR) == MATCHED | GENERATOR && genclose::is_generator_exit(*a.add(2)) {
            let offset = ffi::PyLong_AsSsize_t(*a.add(1));
            if offset == -1 && !ffi::PyErr_Occurred().is_null() {
                ffi::PyErr_Clear();
            } else if genclose::close_runs_nothing_at(code, offset) {
                // GeneratorExit thrown where nothing of the generator runs (docs/recording.md)
                let _ = SKIP_UNWIND.try_with(|c| c.set(code as usize));
                return none();
            }
        }
    }
    on_event(a, n, EventKind::Call, false)
}
unsafe extern "C" fn cb_return(_s: *mut ffi::PyObject, a: *mut *mut ffi::PyObject, n: ffi::Py_ssize_t) -> *mut ffi::PyObject {
    on_event(a, n, EventKind::Return, true)
}
unsafe extern "C" fn cb_yield(_s: *mut ffi::PyObject, a: *mut *mut ffi::PyObject, n: ffi::Py_ssize_t) -> *mut ffi::PyObject {
    on_event(a, n, EventKind::Return, true)
}
unsafe extern "C" fn cb_unwind(_s: *mut ffi::PyObject, a: *mut *mut ffi::PyObject, n: ffi::Py_ssize_t) -> *mut ffi::PyObject {
    let skip = |c: &Cell<usize>| {
        let hit = n >= 1 && c.get() == *a as usize;
        if hit {
            c.set(0);
        }
        hit
    };
    if SKIP_UNWIND.try_with(skip).unwrap_or(false) {
        return none();
    }
    on_event(a, n, EventKind::Return, false)
}

type Fast = unsafe extern "C" fn(*mut ffi::PyObject, *mut *mut ffi::PyObject, ffi::Py_ssize_t) -> *mut ffi::PyObject;

const EVENTS: [(&str, Fast); 6] = [
    ("PY_START", cb_start),
    ("PY_RESUME", cb_resume),
    ("PY_THROW", cb_throw),
    ("PY_RETURN", cb_return),
    ("PY_YIELD", cb_yield),
    ("PY_UNWIND", cb_unwind),
];

/// The callables, made once per process (leaked: they live as long as the interpreter).
struct Callbacks(Vec<Py<PyAny>>);
static CALLBACKS: OnceLock<Callbacks> = OnceLock::new();

fn callbacks(py: Python<'_>) -> Result<&'static Callbacks, HookError> {
    if let Some(c) = CALLBACKS.get() {
        return Ok(c);
    }
    let mut v = Vec::new();
    for (name, f) in EVENTS {
        let def = Box::leak(Box::new(ffi::PyMethodDef {
            ml_name: Box::leak(format!("fprofile_on_{}\0", name.to_lowercase()).into_boxed_str()).as_ptr().cast(),
            ml_meth: ffi::PyMethodDefPointer { PyCFunctionFast: f },
            ml_flags: ffi::METH_FASTCALL,
            ml_doc: std::ptr::null(),
        }));
        // SAFETY: GIL held; `def` is leaked so it outlives the function object.
        let obj = unsafe { ffi::PyCFunction_NewEx(def, std::ptr::null_mut(), std::ptr::null_mut()) };
        // SAFETY: a new reference or NULL with an exception set.
        let obj = unsafe { Bound::from_owned_ptr_or_err(py, obj) }?;
        v.push(obj.unbind());
    }
    let _ = CALLBACKS.set(Callbacks(v));
    CALLBACKS.get().ok_or(HookError::CallbacksNotSet)
}

const TOOL_IDS: [i32; 3] = [4, 3, 5];
const TOOL_NAME: &str = "fprofile_jupyter";

/// Installs the callbacks; returns the tool id used.
pub(crate) fn install(py: Python<'_>) -> Result<i32, HookError> {
    let mon = py.import("sys")?.getattr("monitoring")?;
    let mut tool = None;
    let mut holders = Vec::new();
    for id in TOOL_IDS {
        let holder = mon.call_method1("get_tool", (id,))?;
        if holder.is_none() {
            tool = Some(id);
            break;
        }
        holders.push(format!("{id}: {}", holder.str()?.to_string_lossy()));
    }
    let Some(tool) = tool else {
        return Err(HookError::ToolIdsTaken { holders: holders.join(", ") });
    };
    let disable = mon.getattr("DISABLE")?;
    DISABLE.store(disable.into_ptr(), Ordering::Relaxed); // kept for the process lifetime
    let cbs = callbacks(py)?;
    mon.call_method1("use_tool_id", (tool, TOOL_NAME))?;
    let r = (|| -> PyResult<()> {
        let events = mon.getattr("events")?;
        let mut mask: i64 = 0;
        for ((name, _), cb) in EVENTS.iter().zip(&cbs.0) {
            let bit: i64 = events.getattr(*name)?.extract()?;
            mask |= bit;
            mon.call_method1("register_callback", (tool, bit, cb.bind(py)))?;
        }
        // Re-arm locations an earlier session disabled (this affects every tool; they re-disable).
        mon.call_method0("restart_events")?;
        mon.call_method1("set_events", (tool, mask))?;
        Ok(())
    })();
    if let Err(e) = r {
        let _ = uninstall(py, tool);
        return Err(e.into());
    }
    Ok(tool)
}

pub(crate) fn uninstall(py: Python<'_>, tool: i32) -> Vec<HookWarning> {
    let mut warnings = Vec::new();
    let r = (|| -> PyResult<()> {
        let mon = py.import("sys")?.getattr("monitoring")?;
        let holder = mon.call_method1("get_tool", (tool,))?;
        if holder.is_none() || holder.extract::<String>().ok().as_deref() != Some(TOOL_NAME) {
            return Ok(()); // not ours (any more)
        }
        mon.call_method1("set_events", (tool, 0))?;
        let events = mon.getattr("events")?;
        for (name, _) in EVENTS {
            let bit: i64 = events.getattr(name)?.extract()?;
            mon.call_method1("register_callback", (tool, bit, py.None()))?;
        }
        mon.call_method1("free_tool_id", (tool,))?;
        Ok(())
    })();
    if let Err(e) = r {
        warnings.push(HookWarning::RemovalFailed { what: "removing the sys.monitoring callbacks", error: e.to_string() });
    }
    warnings
}
