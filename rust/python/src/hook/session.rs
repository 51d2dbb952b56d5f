//! One recording session: start/stop, the code table, the filter decision cached per code object.
//!
//! The filter decision for a code object is stored in its `co_extra` slot as one machine word:
//! `gen` (low 32 bits: the session that decided) | `MATCHED` (bit 32) | `GENERATOR` (bit 33) |
//! code id (bits 34..63).
//! The hot path does one `co_extra` read and one compare; an older generation means "not decided
//! under this session's `subs` yet". Each matched code object is held (strong reference) until
//! stop, so its id always names the same object; rejected ones need no reference (their decision
//! dies with them).

use std::cell::UnsafeCell;
use std::collections::HashMap;
use std::ffi::c_void;
use std::path::PathBuf;
use std::sync::atomic::{AtomicIsize, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use fprofile::{Code, Recording, ThreadRecord};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyString;

use super::buffer::{self, lock, ThreadShared, BUDGET, RECORDING};
use super::clock::now_ns;
use super::writer;
use crate::errors::ProfilerError;

/// Generation of the latest session (0 = none yet). Tags the `co_extra` decisions.
pub(crate) static GEN: AtomicU32 = AtomicU32::new(0);
/// Our `co_extra` index (requested once per process), -1 until then.
pub(crate) static EXTRA_IDX: AtomicIsize = AtomicIsize::new(-1);
/// Absolute time at which the cap was reached (0: not reached).
static CAP_NS: AtomicU64 = AtomicU64::new(0);
/// Recording stopped because a chunk could not be allocated (CAP_NS is set too).
static OOM: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

pub(crate) const MATCHED: u64 = 1 << 32;
/// The code is a generator, coroutine or async generator (its creation is not a call on 3.11).
pub(crate) const GENERATOR: u64 = 1 << 33;
/// The code id lives in bits 34..63.
pub(crate) const ID_SHIFT: u32 = 34;
const MAX_CODES: usize = 1 << 30;

/// Default cap: 20 million events (10 million calls, 320 MB of event buffers).
pub(crate) const DEFAULT_MAX_EVENTS: u64 = 20_000_000;

/// How the interpreter is hooked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mechanism {
    /// PEP 523 eval-frame function (3.9-3.11).
    #[cfg_attr(Py_3_12, allow(dead_code))]
    EvalFrame,
    /// sys.monitoring under this tool id (3.12+).
    #[cfg_attr(not(Py_3_12), allow(dead_code))]
    Monitoring(i32),
    /// C profile function on every thread (`builtins=True`).
    ProfileFunction,
}

impl Mechanism {
    fn describe(self) -> String {
        match self {
            Mechanism::EvalFrame => "PEP 523 eval-frame function".into(),
            Mechanism::Monitoring(id) => format!("sys.monitoring (tool id {id})"),
            Mechanism::ProfileFunction => "profile function (builtins=True)".into(),
        }
    }
}

pub(crate) struct StartOptions {
    pub subs: Vec<String>,
    pub exclude: Vec<String>,
    pub builtins: bool,
    pub max_events: u64,
    pub outfile: Option<PathBuf>,
}

pub(crate) struct Session {
    pub gen: u32,
    mechanism: Mechanism,
    subs: Vec<String>,
    exclude: Vec<String>,
    /// Code table of the trace (function name = `co_qualname` where the Python has it).
    codes: Vec<Code>,
    /// The same codes with `co_name`, for the live PYME raw text file (PYME writes `co_name`).
    writer_codes: Option<Arc<Mutex<Vec<Code>>>>,
    /// Strong references to the matched code objects (released at stop).
    code_refs: Vec<*mut ffi::PyObject>,
    /// builtins=True: C function (its `PyMethodDef` address) -> code id.
    pub cfuncs: HashMap<usize, u32>,
    pub threads: Arc<Mutex<Vec<Arc<ThreadShared>>>>,
    start_ns: u64,
    max_events: u64,
    outfile: Option<PathBuf>,
    background: Option<writer::Background>,
    points: Option<super::clock::Points>,
}

/// State only touched with the GIL held.
struct GilCell<T>(UnsafeCell<T>);
// SAFETY: every access happens with the GIL held (hook entry points, Recorder methods).
unsafe impl<T> Sync for GilCell<T> {}

static SESSION: GilCell<Option<Session>> = GilCell(UnsafeCell::new(None));

/// The session, if one is on. Callers keep the borrow short and never hold it across a call
/// into Python (which could re-enter the hook).
///
/// # Safety
/// GIL held; no other borrow of the session alive.
#[allow(clippy::mut_from_ref)]
pub(crate) unsafe fn session() -> Option<&'static mut Session> {
    (*SESSION.0.get()).as_mut()
}

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

impl Session {
    /// This session records through the profile function (`builtins=True`).
    pub(crate) fn profiles(&self) -> bool {
        self.mechanism == Mechanism::ProfileFunction
    }

    fn matches(&self, file: &str) -> bool {
        !self.exclude.iter().any(|e| !e.is_empty() && file.contains(e.as_str()))
            && self.subs.iter().any(|s| file.contains(s.as_str()))
    }
}

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
        let matched = match session() {
            Some(s) => s.gen == gen && s.matches(&file),
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

/// Adds a code to the session's table (holding `obj` if given). None if no such session or the
/// table is full (2^30 codes).
pub(crate) unsafe fn add_code(gen: u32, obj: Option<*mut ffi::PyObject>, code: Code, short: String) -> Option<u32> {
    let s = session()?;
    // (not while recording is off for it: the cap was reached, or this is the child of a fork,
    // where the writer's locks may be held by a thread that does not exist here)
    if s.gen != gen || RECORDING.load(Ordering::Relaxed) != gen || s.codes.len() >= MAX_CODES - 1 {
        return None;
    }
    let id = s.codes.len() as u32;
    if let Some(w) = &s.writer_codes {
        lock(w).push(Code { file: code.file.clone(), name: short, first_line: code.first_line });
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
    match session() {
        Some(s) if s.gen == gen => {
            lock(&s.threads).push(sh);
            true
        }
        _ => false,
    }
}

/// The event budget is exhausted (or memory for a chunk could not be had): recording stops on
/// every thread; what was recorded is kept. The warning is issued by the Python API at stop.
pub(crate) fn cap_reached() {
    RECORDING.store(0, Ordering::Relaxed);
    let _ = CAP_NS.compare_exchange(0, now_ns(), Ordering::Relaxed, Ordering::Relaxed);
}

/// Memory for an event chunk could not be had: recording stops as at the cap, and `stop` says
/// why (not as a reached cap).
pub(crate) fn out_of_memory() {
    OOM.store(true, Ordering::Relaxed);
    cap_reached();
}

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

unsafe extern "C" fn free_extra(_: *mut c_void) {}

fn mem_available() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = s.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// In the child of a `fork()`, right after it (before any Python code runs there, such as
/// at-fork handlers registered before ours, which may run recorded code): the hook stops
/// recording at once. The child has no writer thread, and the parent's writer may have held the
/// buffer locks at the moment of the fork; touching them would hang the child.
extern "C" fn stop_recording_in_fork_child() {
    RECORDING.store(0, Ordering::Relaxed);
}

static ATFORK: std::sync::Once = std::sync::Once::new();

/// Starts recording. Errors leave nothing installed.
pub(crate) fn start(py: Python<'_>, opts: StartOptions) -> PyResult<u32> {
    // The session, the background thread (it attaches to the main interpreter to read thread
    // names) and the held code objects are process-wide: one interpreter only, the main one.
    // SAFETY: GIL held (we have `py`).
    if unsafe { ffi::PyInterpreterState_Get() != ffi::PyInterpreterState_Main() } {
        return Err(ProfilerError::new_err(
            "profiling from a sub-interpreter is not supported: start it from the main interpreter",
        ));
    }
    // Every hook entry point relies on the GIL. Free-threaded builds (3.13t, 3.14t, ...) are refused
    // even when the GIL is re-enabled on them: nothing here has been run on one (docs/recording.md).
    let free_threaded_build = cfg!(Py_GIL_DISABLED)
        || py
            .import("sysconfig")
            .and_then(|s| s.call_method1("get_config_var", ("Py_GIL_DISABLED",)))
            .and_then(|v| v.is_truthy())
            .unwrap_or(false);
    let gil_off = py
        .import("sys")
        .and_then(|s| s.getattr("_is_gil_enabled"))
        .and_then(|f| f.call0())
        .map(|v| !v.is_truthy().unwrap_or(true))
        .unwrap_or(false);
    if free_threaded_build || gil_off {
        return Err(ProfilerError::new_err(
            "profiling needs the GIL: free-threaded builds of CPython (python3.13t, python3.14t, ...) are not supported, \
             even with the GIL re-enabled (PYTHON_GIL=1); use a regular build of CPython",
        ));
    }
    // SAFETY: GIL held (we have `py`).
    if unsafe { session() }.is_some() {
        return Err(ProfilerError::new_err(
            "profiling is already on (one profile()/ThreadProfiler at a time): stop the running one first",
        ));
    }
    if EXTRA_IDX.load(Ordering::Relaxed) < 0 {
        // SAFETY: GIL held; the slot holds a plain integer, so its free function does nothing.
        let idx = unsafe { ffi::PyUnstable_Eval_RequestCodeExtraIndex(free_extra) };
        if idx < 0 {
            return Err(ProfilerError::new_err("cannot get a co_extra slot from the interpreter (all in use)"));
        }
        EXTRA_IDX.store(idx, Ordering::Relaxed);
    }
    let file = match &opts.outfile {
        Some(p) => Some(fprofile::fsio::Output::create(p).map_err(|e| {
            let hint = if e.kind() == std::io::ErrorKind::NotConnected { "" } else { "; pass a path in a writable directory" };
            ProfilerError::new_err(format!("cannot write the outfile {}: {e}{hint}", p.display()))
        })?),
        None => None,
    };
    // The cap, never more than a quarter of the available memory (16 B per event while recording,
    // about as much again to build the trace).
    let mut max_events = opts.max_events;
    if let Some(avail) = mem_available() {
        max_events = max_events.min((avail / 64).max(1024));
    }
    super::clock::init();
    super::genclose::init(py);
    ATFORK.call_once(|| {
        // SAFETY: the handler only stores to an atomic (async-signal-safe).
        unsafe { libc::pthread_atfork(None, None, Some(stop_recording_in_fork_child)) };
    });
    let gen = GEN.load(Ordering::Relaxed).wrapping_add(1).max(1);
    GEN.store(gen, Ordering::Relaxed);
    BUDGET.store(max_events, Ordering::Relaxed);
    CAP_NS.store(0, Ordering::Relaxed);
    OOM.store(false, Ordering::Relaxed);
    let threads: Arc<Mutex<Vec<Arc<ThreadShared>>>> = Arc::default();
    let writer_codes = file.as_ref().map(|_| Arc::new(Mutex::new(Vec::new())));
    let sess = Session {
        gen,
        mechanism: Mechanism::ProfileFunction,
        subs: opts.subs,
        exclude: opts.exclude,
        codes: Vec::new(),
        writer_codes: writer_codes.clone(),
        code_refs: Vec::new(),
        cfuncs: HashMap::new(),
        threads: threads.clone(),
        start_ns: 0,
        max_events,
        outfile: opts.outfile,
        background: None,
        points: None,
    };
    // SAFETY: GIL held; no borrow of the session is alive.
    unsafe { *SESSION.0.get() = Some(sess) };
    let installed =
        if opts.builtins { super::profile::install(py).map(|()| Mechanism::ProfileFunction) } else { install_default(py) };
    let mechanism = match installed {
        Ok(m) => m,
        Err(e) => {
            // SAFETY: GIL held.
            unsafe { *SESSION.0.get() = None };
            return Err(e);
        }
    };
    let (points, start_ns) = super::clock::reset();
    let background = writer::Background::spawn(threads, writer_codes, file, points.clone());
    // SAFETY: GIL held; short borrow.
    if let Some(s) = unsafe { session() } {
        s.mechanism = mechanism;
        s.start_ns = start_ns;
        s.background = Some(background);
        s.points = Some(points);
    }
    RECORDING.store(gen, Ordering::Release);
    Ok(gen)
}

#[cfg(not(Py_3_12))]
fn install_default(py: Python<'_>) -> PyResult<Mechanism> {
    super::eval::install(py).map(|()| Mechanism::EvalFrame)
}

#[cfg(Py_3_12)]
fn install_default(py: Python<'_>) -> PyResult<Mechanism> {
    super::monitoring::install(py).map(Mechanism::Monitoring)
}

fn uninstall(py: Python<'_>, m: Mechanism) -> Vec<String> {
    match m {
        Mechanism::ProfileFunction => super::profile::uninstall(py),
        #[cfg(not(Py_3_12))]
        Mechanism::EvalFrame => super::eval::uninstall(py),
        #[cfg(Py_3_12)]
        Mechanism::Monitoring(id) => super::monitoring::uninstall(py, id),
        #[allow(unreachable_patterns)]
        _ => Vec::new(),
    }
}

/// What `stop` hands back.
pub(crate) struct Stopped {
    pub recording: Recording,
    /// Events recorded (all threads).
    pub events: u64,
    /// Bytes the event buffers held (capacity of every chunk).
    pub bytes_held: u64,
    /// The cap, when it was reached.
    pub cap_reached: Option<u64>,
    /// Warnings to show the user (another tool replaced our hook, ...).
    pub warnings: Vec<String>,
    /// Writing the outfile failed (the user asked for a file and did not get all of it): raised as
    /// an exception by `profile_off` / `profile()`.
    pub outfile_error: Option<String>,
}

/// In the child of a `fork()` made while recording: the recording is not continued there (the
/// background thread does not exist in the child, and its locks may be held). The hook is removed
/// and the session forgotten without touching its buffers (leaked), so the child records nothing,
/// never blocks, and can start a recording of its own.
pub(crate) fn after_fork_child(py: Python<'_>) {
    RECORDING.store(0, Ordering::Relaxed);
    // SAFETY: called with the GIL held, in the only thread of the new process.
    if let Some(sess) = unsafe { (*SESSION.0.get()).take() } {
        let _ = uninstall(py, sess.mechanism);
        std::mem::forget(sess);
    }
}

pub(crate) fn is_on() -> bool {
    // SAFETY: only a read of the Option's discriminant; callers hold the GIL.
    unsafe { (*SESSION.0.get()).is_some() }
}

/// Stops recording: uninstalls the hook, flushes the live file, collects every thread's events.
pub(crate) fn stop(py: Python<'_>) -> PyResult<Stopped> {
    // SAFETY: GIL held; the session is moved out, nothing borrows it.
    let Some(mut sess) = (unsafe { (*SESSION.0.get()).take() }) else {
        return Err(ProfilerError::new_err("profiling is not on: nothing to stop"));
    };
    RECORDING.store(0, Ordering::Release);
    let points = sess.points.take().unwrap_or_default();
    let stop_ns = super::clock::calibrate_into(&points, true);
    // Read before anything below may release the GIL (another thread could start a new session).
    let cap_ns = CAP_NS.swap(0, Ordering::Relaxed);
    let oom = OOM.swap(false, Ordering::Relaxed);
    let mut warnings = uninstall(py, sess.mechanism);
    let outfile_error = sess.background.take().and_then(|bg| bg.finish(py));
    // SAFETY: GIL held.
    unsafe { poll_names(&sess.threads) };
    let list: Vec<Arc<ThreadShared>> = std::mem::take(&mut *lock(&sess.threads));
    for sh in &list {
        sh.released.store(true, Ordering::Relaxed);
        if let Some(th) = lock(&sh.thread_obj).take() {
            // SAFETY: GIL held; the reference was taken in `register_thread`.
            unsafe { ffi::Py_DecRef(th as *mut ffi::PyObject) };
        }
    }
    let mut events = 0u64;
    let mut bytes_held = 0u64;
    let mut threads = Vec::with_capacity(list.len());
    let mut conv = super::clock::Converter::snapshot(&points);
    for sh in &list {
        bytes_held += buffer::bytes_held(sh) as u64;
        let mut chunks = buffer::take_all(sh);
        for c in chunks.iter_mut() {
            for e in c.iter_mut() {
                e.t_ns = conv.convert(e.t_ns);
            }
        }
        events += chunks.iter().map(|c| c.len() as u64).sum::<u64>();
        let mut names = std::mem::take(&mut *lock(&sh.names));
        if names.is_empty() {
            names.push((sess.start_ns, format!("thread-{}", sh.os_id)));
        }
        threads.push(ThreadRecord { os_id: sh.os_id, ident: sh.ident, names, chunks });
    }
    for o in sess.code_refs.drain(..) {
        // SAFETY: GIL held; each was increfed in `add_code`.
        unsafe { ffi::Py_DecRef(o) };
    }
    let codes = dedupe_codes(std::mem::take(&mut sess.codes), &mut threads);
    let cap_reached = (cap_ns != 0 && !oom).then_some(sess.max_events);
    if oom {
        warnings.push(format!(
            "memory for the event buffers could not be allocated: recording stopped early, after {events} events \
             (the trace keeps them); pass a smaller max_events= or narrow subs="
        ));
    }
    let version = py.import("sys").and_then(|s| s.getattr("version")).and_then(|v| v.extract::<String>()).unwrap_or_default();
    let mut metadata = vec![
        ("recorder".to_string(), format!("fprofile_jupyter {}", env!("CARGO_PKG_VERSION"))),
        ("python".to_string(), version),
        ("mechanism".to_string(), sess.mechanism.describe()),
        ("clock".to_string(), super::clock::describe().to_string()),
        ("subs".to_string(), format!("{:?}", sess.subs)),
        ("builtins".to_string(), (sess.mechanism == Mechanism::ProfileFunction).to_string()),
        ("max_events".to_string(), sess.max_events.to_string()),
        ("events".to_string(), events.to_string()),
        ("cap_reached".to_string(), cap_reached.is_some().to_string()),
        ("out_of_memory".to_string(), oom.to_string()),
    ];
    if let Some(p) = &sess.outfile {
        metadata.push(("outfile".to_string(), p.display().to_string()));
    }
    let stop_at = if cap_ns != 0 { cap_ns.min(stop_ns) } else { stop_ns };
    let recording = Recording { codes, threads, start_ns: sess.start_ns, stop_ns: stop_at, metadata };
    Ok(Stopped { recording, events, bytes_held, cap_reached, warnings, outfile_error })
}

/// Distinct code objects with the same (file, name, first line) become one code (the model
/// interns codes); events are renumbered only when there was a duplicate.
fn dedupe_codes(codes: Vec<Code>, threads: &mut [ThreadRecord]) -> Vec<Code> {
    let mut index: HashMap<Code, u32> = HashMap::with_capacity(codes.len());
    let mut remap: Vec<u32> = Vec::with_capacity(codes.len());
    let mut out: Vec<Code> = Vec::with_capacity(codes.len());
    let mut dup = false;
    for c in codes {
        if let Some(&i) = index.get(&c) {
            remap.push(i);
            dup = true;
        } else {
            let i = out.len() as u32;
            index.insert(c.clone(), i);
            out.push(c);
            remap.push(i);
        }
    }
    if dup {
        for t in threads.iter_mut() {
            for chunk in t.chunks.iter_mut() {
                for e in chunk.iter_mut() {
                    if let Some(&r) = remap.get(e.code as usize) {
                        e.code = r;
                    }
                }
            }
        }
    }
    out
}
