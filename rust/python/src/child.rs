//! A child process's recording (`processes=True`, docs/processes.md): joined, started and ended
//! here, so that the `.pth` line starts it at interpreter start by loading this extension module
//! alone (`_pth_child`), without importing the `fprofile_jupyter` package (about 20 ms of
//! imports in every child otherwise). `fprofile_jupyter._processes` calls the same functions.
//!
//! - `_child_start(key)`: joins the session `key` (`<directory>:<token>`) names when it is its
//!   parent's live session (`hook::join`), starts recording into its spool with the filter of its
//!   `session.json`, and ends the spool at interpreter exit (atexit), at `os._exit` and before
//!   `os.execv`/`os.execve` (wrapped while it records; a failed exec records on into a new spool),
//!   and in the child of a fork starts a fresh child recording (at-fork handler). A session it
//!   cannot join: nothing happens (one line on stderr with `FPROFILE_JUPYTER_DEBUG=1`).
//! - `_child_finish(exit_status)`: ends the spool (the exit status and the process's
//!   `multiprocessing` name in its end record).
//! - `_child_key()`: the session this process records into, if it does.

use std::sync::Mutex;

use pyo3::prelude::*;
use pyo3::types::{PyCFunction, PyDict, PyTuple};

use crate::errors::BindingError;
use crate::hook::{self, HookError, StartOptions};
use fprofile::record::RecordOptions;

/// The environment variable that names the session (`<directory>:<token>`).
const ENV: &str = "FPROFILE_JUPYTER_SESSION";
const DEBUG_ENV: &str = "FPROFILE_JUPYTER_DEBUG";

/// This process's child recording: the session key and the pid that recorded (a fork child
/// inherits the value but not the recording).
static CHILD: Mutex<Option<(u32, String)>> = Mutex::new(None);
/// The functions our wrappers replaced (os._exit, os.execv, os.execve), once per process.
static REAL: Mutex<Option<[Py<PyAny>; 3]>> = Mutex::new(None);
/// The `.pth` line ran in this process already (some interpreters process site-packages twice).
static PTH_DONE: Mutex<bool> = Mutex::new(false);

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn debug(why: &str) {
    if std::env::var(DEBUG_ENV).as_deref() == Ok("1") {
        eprintln!("fprofile: pid {} is not recorded as a child process: {why}", std::process::id());
    }
}

fn say(e: &dyn std::fmt::Display) {
    eprintln!("fprofile: this child process is not recorded: {e}");
}

/// The session key this process records into as a child, if it does.
#[pyfunction]
pub(crate) fn _child_key() -> Option<String> {
    match &*lock(&CHILD) {
        Some((pid, key)) if *pid == std::process::id() => Some(key.clone()),
        _ => None,
    }
}

/// What `session.json` says to record: the recording's options (the core reads them) and the
/// metadata pairs the child's spool carries.
fn parse_config(text: &str) -> Result<(RecordOptions, Vec<(String, String)>), String> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let metadata = match v.get("metadata") {
        None => Vec::new(),
        Some(serde_json::Value::Array(a)) => a
            .iter()
            .map(|m| match m.as_array().map(|p| p.as_slice()) {
                Some([serde_json::Value::String(k), serde_json::Value::String(v)]) => Ok((k.clone(), v.clone())),
                _ => Err("\"metadata\" holds something else than (key, value) pairs".to_string()),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err("\"metadata\" is not a list".into()),
    };
    let options = RecordOptions::from_json(&v).map_err(|e| e.to_string())?;
    Ok((options, metadata))
}

/// Starts recording this process as a child of the session `key` names, when it is its parent's
/// live session; otherwise nothing happens (a line on stderr with `FPROFILE_JUPYTER_DEBUG=1`).
/// `ProfilerError` when the session was joined but recording could not start.
#[pyfunction]
pub(crate) fn _child_start(py: Python<'_>, key: &str) -> Result<(), BindingError> {
    if _child_key().is_some() {
        return Ok(());
    }
    let Some((path, token)) = key.rsplit_once(':').filter(|(p, _)| !p.is_empty()) else {
        debug(&format!("{ENV} names no session token (set by another version of fprofile-jupyter?)"));
        return Ok(());
    };
    let (path, token) = (std::path::PathBuf::from(path), token.to_string());
    let shown = path.clone();
    let joined = match py.detach(move || hook::join::ChildSession::join(&path, &token)) {
        Ok(j) => j,
        Err(e) => {
            debug(&HookError::from(e).to_string());
            return Ok(());
        }
    };
    let (session, text) = joined;
    let (mut options, metadata) = match parse_config(&text) {
        Ok(c) => c,
        Err(e) => {
            debug(&format!("{}/{} is not valid: {e}", shown.display(), hook::join::CONFIG));
            return Ok(());
        }
    };
    // (a child records into its spool: never the parent's outfile nor a window of its own)
    options.outfile = None;
    options.keep_last = None;
    let opts = StartOptions { options, metadata, child: Some(session) };
    hook::start(py, opts)?;
    *lock(&CHILD) = Some((std::process::id(), key.to_string()));
    install_exit_hooks(py)?;
    Ok(())
}

/// Ends this process's child recording (its spool's end record), if it records.
#[pyfunction]
#[pyo3(signature = (exit_status = None))]
pub(crate) fn _child_finish(py: Python<'_>, exit_status: Option<i32>) {
    let mine = {
        let mut c = lock(&CHILD);
        let mine = matches!(&*c, Some((pid, _)) if *pid == std::process::id());
        *c = None;
        mine
    };
    if !mine {
        return;
    }
    let end = hook::writer::ChildEnd { exit_status, process_name: multiprocessing_name(py), stream_end: None };
    let _ = hook::stop_with(py, end, Vec::new());
}

/// This process's `multiprocessing` name, unless it is the main process of its program.
fn multiprocessing_name(py: Python<'_>) -> Option<String> {
    let mp = py.import("sys").ok()?.getattr("modules").ok()?.get_item("multiprocessing.process").ok()?;
    let name: String = mp.call_method0("current_process").ok()?.getattr("name").ok()?.extract().ok()?;
    (name != "MainProcess").then_some(name)
}

/// In the child of a fork: the parent's recording is forgotten (its buffers belong to the parent)
/// and, when the parent recorded as a child or with processes followed (`key`: its session), this
/// process starts a child recording of its own. Once per new process (the package's at-fork
/// handler and ours may both call it).
#[pyfunction]
#[pyo3(signature = (key = None))]
pub(crate) fn _child_after_fork(py: Python<'_>, key: Option<String>) {
    hook::session::after_fork_child(py);
    let inherited = {
        let c = lock(&CHILD);
        match &*c {
            Some((pid, _)) if *pid == std::process::id() => return,
            Some((_, k)) => Some(k.clone()),
            None => None,
        }
    };
    *lock(&CHILD) = None;
    if let Some(key) = key.or(inherited) {
        if let Err(e) = _child_start(py, &key) {
            say(&e);
        }
    }
}

/// The `.pth` line's entry, at interpreter start: a child recording when the variable names a
/// session (once per process).
#[pyfunction]
pub(crate) fn _pth_child(py: Python<'_>) {
    let Ok(key) = std::env::var(ENV) else { return };
    if key.is_empty() || std::mem::replace(&mut *lock(&PTH_DONE), true) {
        return;
    }
    if let Err(e) = _child_start(py, &key) {
        say(&e);
    }
}

fn install_exit_hooks(py: Python<'_>) -> PyResult<()> {
    let mut real = lock(&REAL);
    if real.is_some() {
        return Ok(());
    }
    let os = py.import("os")?;
    let saved = [os.getattr("_exit")?.unbind(), os.getattr("execv")?.unbind(), os.getattr("execve")?.unbind()];
    let exit = PyCFunction::new_closure(
        py,
        Some(c"_exit"),
        Some(c"Exit to the system with the given status (the child recording's spool is ended first)."),
        |args: &Bound<'_, PyTuple>, _kw: Option<&Bound<'_, PyDict>>| -> PyResult<()> {
            let py = args.py();
            let status: i32 = args.get_item(0)?.extract()?;
            _child_finish(py, Some(status));
            let f = lock(&REAL).as_ref().map(|r| r[0].clone_ref(py));
            match f {
                Some(f) => f.call1(py, args.clone()).map(|_| ()),
                None => Ok(()),
            }
        },
    )?;
    let execv = PyCFunction::new_closure(
        py,
        Some(c"execv"),
        Some(
            c"Execute an executable path with arguments, replacing current process (the child recording's spool is ended first).",
        ),
        |args: &Bound<'_, PyTuple>, _kw: Option<&Bound<'_, PyDict>>| exec(args, 1),
    )?;
    let execve = PyCFunction::new_closure(
        py,
        Some(c"execve"),
        Some(
            c"Execute an executable path with arguments, replacing current process (the child recording's spool is ended first).",
        ),
        |args: &Bound<'_, PyTuple>, _kw: Option<&Bound<'_, PyDict>>| exec(args, 2),
    )?;
    let atexit = py.import("atexit")?;
    atexit.call_method1("register", (wrap_pyfunction!(_child_at_exit, py)?,))?;
    os.setattr("_exit", exit)?;
    os.setattr("execv", execv)?;
    os.setattr("execve", execve)?;
    let kwargs = PyDict::new(py);
    kwargs.set_item("after_in_child", wrap_pyfunction!(_child_after_fork, py)?)?;
    os.call_method("register_at_fork", (), Some(&kwargs))?;
    *real = Some(saved);
    Ok(())
}

/// `os.exec*` while a child records: its spool ends (the new program, a Python one, starts a spool
/// of its own); if the exec fails, this process records on into a new spool.
fn exec(args: &Bound<'_, PyTuple>, which: usize) -> PyResult<()> {
    let py = args.py();
    let key = _child_key();
    _child_finish(py, None);
    let f = lock(&REAL).as_ref().map(|r| r[which].clone_ref(py));
    let Some(f) = f else { return Ok(()) };
    let r = f.call1(py, args.clone());
    if let (Err(_), Some(key)) = (&r, key) {
        if let Err(e) = _child_start(py, &key) {
            say(&e);
        }
    }
    r.map(|_| ())
}

/// atexit: the exit status of an interpreter exit is not known to Python.
#[pyfunction]
fn _child_at_exit(py: Python<'_>) {
    _child_finish(py, None);
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_child_start, m)?)?;
    m.add_function(wrap_pyfunction!(_child_finish, m)?)?;
    m.add_function(wrap_pyfunction!(_child_key, m)?)?;
    m.add_function(wrap_pyfunction!(_child_after_fork, m)?)?;
    m.add_function(wrap_pyfunction!(_pth_child, m)?)?;
    Ok(())
}
