//! One recording session: start (checks, the tables, the hook, the background thread) and stop
//! (the hook removed, the live file finished, every thread's events collected into a
//! `Recording`). It orchestrates the other modules of the hook and none of them depends on it.
//!
//! (Over 500 lines: start, stop, flush, snapshot and the fork handling all read and replace the one
//! session; `start` is a short sequence of the steps below it.)

use std::cell::UnsafeCell;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use fprofile::privdir::PrivateDirError;
use fprofile::record::{spool::SpoolSink, streamed, text::TextSink, RecordOptions, Sink};
use fprofile::{Recording, ThreadRecord};
use pyo3::ffi;
use pyo3::prelude::*;

use super::join::ChildSession;
use super::names::poll_names;
use super::state::{BUDGET, CAP_NS, GEN, OOM, RECORDING};
use super::sync::{lock, GilCell};
use super::tables::{self, Tables};
use super::thread::{self, ThreadShared};
use super::{filter, writer};
use super::{HookError, HookWarning};

/// A `metadata` entry of `start` that names the process instead (the program `fprofile run` runs).
pub(crate) const PROCESS_NAME_KEY: &str = "process.name";

pub(crate) use fprofile::record::options::DEFAULT_MAX_EVENTS;

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
    /// What to record, and where (checked at start).
    pub options: RecordOptions,
    /// Added to the recording's metadata (the Python layer's: the roots of file names, ...).
    pub metadata: Vec<(String, String)>,
    /// Record as a child process of a recording: into `<pid>.spool` in this session directory
    /// (joined by [`ChildSession::join`]).
    pub child: Option<ChildSession>,
}

/// Free space the disk guard of a streamed outfile keeps (recording stops below it): 64 MiB, or
/// the bytes the environment variable `FPROFILE_MIN_FREE_BYTES` gives.
pub(crate) const DEFAULT_MIN_FREE_BYTES: u64 = 64 << 20;

fn min_free_bytes() -> u64 {
    std::env::var("FPROFILE_MIN_FREE_BYTES").ok().and_then(|v| v.trim().parse().ok()).unwrap_or(DEFAULT_MIN_FREE_BYTES)
}

pub(crate) struct Session {
    mechanism: Mechanism,
    /// The outfile is a streamed `.fpt` (the trace is what the file holds).
    streamed: bool,
    /// The flight recorder's ring (`keep_last`): the trace is its last window.
    ring: Option<Arc<Mutex<fprofile::record::Ring>>>,
    metadata: Vec<(String, String)>,
    start_ns: u64,
    max_events: u64,
    outfile: Option<PathBuf>,
    background: Option<writer::Background>,
    points: Option<super::clock::Points>,
    /// The process that started it (a fork child holds a copy it does not continue).
    pid: u32,
}

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

/// The kernel's `MemAvailable`, read at most once a second (reading `/proc/meminfo` costs about 8
/// µs, a tenth of a start).
fn mem_available() -> Option<u64> {
    static LAST: Mutex<Option<(std::time::Instant, Option<u64>)>> = Mutex::new(None);
    let mut last = lock(&LAST);
    match *last {
        Some((at, v)) if at.elapsed() < std::time::Duration::from_secs(1) => v,
        _ => {
            let v = read_mem_available();
            *last = Some((std::time::Instant::now(), v));
            v
        }
    }
}

fn read_mem_available() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = s.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// In the child of a `fork()`, right after it (before any Python code runs there, such as
/// at-fork handlers registered before ours, which may run recorded code): the hook stops
/// recording at once. The child has no writer thread, and the parent's writer may have held the
/// buffer locks at the moment of the fork; touching them would hang the child.
///
/// A SIGTERM caught for a child recording (see [`super::state::catch_sigterm`]) gets its default
/// action back: nothing acts on it in the new process unless it starts a child recording of its own.
extern "C" fn stop_recording_in_fork_child() {
    RECORDING.store(0, Ordering::Relaxed);
    super::state::release_sigterm();
}

static ATFORK: std::sync::Once = std::sync::Once::new();

/// A new spool file in the session directory: `<pid>.spool`, or `<pid>.<n>.spool` when this
/// process already has one (it replaced itself with `os.exec*`: the spool of its earlier program
/// is kept). Created relative to the open directory, mode 0600, never through a link.
fn create_spool(dir: &ChildSession) -> Result<(std::fs::File, String), HookError> {
    let pid = std::process::id();
    let mut n = 1u32;
    loop {
        let name = if n == 1 { format!("{pid}.spool") } else { format!("{pid}.{n}.spool") };
        match dir.create(&name) {
            Ok(f) => return Ok((f, name)),
            Err(PrivateDirError::Io { source, .. }) if source.kind() == std::io::ErrorKind::AlreadyExists && n < 1000 => n += 1,
            Err(PrivateDirError::Io { source, .. }) => return Err(HookError::Spool { path: dir.path().join(name), source }),
            Err(e) => return Err(HookError::Spool { path: dir.path().join(name), source: std::io::Error::other(e) }),
        }
    }
}

/// Starts recording. Errors leave nothing installed. In order: the interpreter checks, the
/// options' own ([`fprofile::record::RecordOptions::validate`]), the outputs (outfile, spool,
/// ring), the budget, the process-wide resets, the session and its tables, the hook, then the sink
/// and the writer's job.
pub(crate) fn start(py: Python<'_>, opts: StartOptions) -> Result<u32, HookError> {
    check_interpreter(py)?;
    opts.options.validate()?;
    filter::ensure_extra_index()?;
    let StartOptions { options, metadata: extra_metadata, child } = opts;
    let outputs = open_outputs(&options, child)?;
    let max_events = budget(&options, outputs.unbounded());
    let gen = reset_for(max_events, outputs.unbounded());
    let threads: Arc<Mutex<Vec<Arc<ThreadShared>>>> = Arc::default();
    let writer_codes = outputs.has_sink().then(|| Arc::new(Mutex::new(Vec::new())));
    let tabs = Tables {
        gen,
        profiles: options.builtins,
        writer_short: outputs.file.is_some() && !outputs.streamed,
        subs: options.subs,
        exclude: options.exclude,
        include: options.include,
        codes: Vec::new(),
        writer_codes: writer_codes.clone(),
        code_refs: Vec::new(),
        cfuncs: HashMap::new(),
        threads: threads.clone(),
    };
    let sess = Session {
        mechanism: Mechanism::ProfileFunction,
        streamed: outputs.streamed,
        ring: outputs.ring.clone(),
        // (a child's spool carries the Python layer's metadata too: the roots of file names, ...)
        metadata: extra_metadata.clone(),
        start_ns: 0,
        max_events,
        outfile: options.outfile.clone(),
        background: None,
        points: None,
        pid: std::process::id(),
    };
    // SAFETY: GIL held; no borrow of the session or the tables is alive.
    unsafe {
        tables::replace(Some(tabs));
        *SESSION.0.get() = Some(sess);
    }
    let mechanism = match install(py, options.builtins) {
        Ok(m) => m,
        Err(e) => {
            // SAFETY: GIL held.
            unsafe {
                *SESSION.0.get() = None;
                tables::replace(None);
            }
            if let Some(((_, name), dir)) = &outputs.spool {
                dir.remove(name);
            }
            return Err(e);
        }
    };
    let (points, start_ns) = super::clock::reset();
    // SAFETY: GIL held; short borrows.
    let (subs, include) = unsafe { tables::tables() }.map(|t| (t.subs.clone(), t.include.clone())).unwrap_or_default();
    let base = base_metadata(py, mechanism, &subs, &include, max_events);
    let (sink, child) = choose_sink(outputs, options.outfile, base, extra_metadata, start_ns);
    if child.is_some() {
        super::state::catch_sigterm();
    }
    let background = writer::Background::spawn(threads, writer_codes, writer::Output { sink, child, gen }, points.clone());
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

/// Whether this interpreter can record at all, and nothing records now.
fn check_interpreter(py: Python<'_>) -> Result<(), HookError> {
    // The session, the background thread (it attaches to the main interpreter to read thread
    // names) and the held code objects are process-wide: one interpreter only, the main one.
    // SAFETY: GIL held (we have `py`).
    if unsafe { ffi::PyInterpreterState_Get() != ffi::PyInterpreterState_Main() } {
        return Err(HookError::SubInterpreter);
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
        return Err(HookError::NoGil);
    }
    // SAFETY: GIL held (we have `py`).
    if unsafe { session() }.is_some() {
        return Err(HookError::AlreadyOn);
    }
    Ok(())
}

/// What a recording writes to besides memory, opened (nothing installed yet).
struct Outputs {
    /// The outfile (PYME text, or a streamed `.fpt`).
    file: Option<fprofile::fsio::Output>,
    /// The outfile is a streamed `.fpt`.
    streamed: bool,
    /// A child's spool (file, name) in its session directory.
    spool: Option<((std::fs::File, String), ChildSession)>,
    /// The flight recorder's ring.
    ring: Option<Arc<Mutex<fprofile::record::Ring>>>,
}

impl Outputs {
    /// Events are freed once written (streamed, ring): no cap (the disk guard stops a file).
    fn unbounded(&self) -> bool {
        self.streamed || self.ring.is_some()
    }

    fn has_sink(&self) -> bool {
        self.file.is_some() || self.spool.is_some() || self.ring.is_some()
    }
}

fn open_outputs(options: &RecordOptions, child: Option<ChildSession>) -> Result<Outputs, HookError> {
    let ring = match (options.keep_last, &child) {
        (Some(keep), None) => Some(Arc::new(Mutex::new(fprofile::record::Ring::new(keep)))),
        (Some(_), Some(_)) => return Err(HookError::from(fprofile::record::OptionsError::KeepLastWithFile)),
        (None, _) => None,
    };
    let streamed = child.is_none() && options.outfile.as_deref().is_some_and(fprofile::formats::stream::is_stream_path);
    let file = match &options.outfile {
        Some(p) => Some(fprofile::fsio::Output::create(p).map_err(|source| HookError::Outfile { path: p.clone(), source })?),
        None => None,
    };
    let spool = match child {
        Some(dir) => Some((create_spool(&dir)?, dir)),
        None => None,
    };
    Ok(Outputs { file, streamed, spool, ring })
}

/// The cap, never more than a quarter of the available memory (16 B per event while recording,
/// about as much again to build the trace); none when the events are freed once written.
fn budget(options: &RecordOptions, unbounded: bool) -> u64 {
    if unbounded {
        return u64::MAX;
    }
    match mem_available() {
        Some(avail) => options.max_events.min((avail / 64).max(1024)),
        None => options.max_events,
    }
}

/// The process-wide state a new session starts from: its generation (returned), the budget, the
/// stream's backlog, the clock and the at-fork handler.
fn reset_for(max_events: u64, unbounded: bool) -> u32 {
    super::clock::init();
    ATFORK.call_once(|| {
        // SAFETY: the handler only stores to an atomic and calls sigaction (async-signal-safe).
        unsafe { libc::pthread_atfork(None, None, Some(stop_recording_in_fork_child)) };
    });
    let gen = GEN.load(Ordering::Relaxed).wrapping_add(1).max(1);
    GEN.store(gen, Ordering::Relaxed);
    BUDGET.store(max_events, Ordering::Relaxed);
    super::state::STREAM_BACKLOG.store(0, Ordering::Relaxed);
    super::state::STREAM_BACKLOG_LIMIT.store(if unbounded { super::state::DEFAULT_STREAM_BACKLOG } else { 0 }, Ordering::Relaxed);
    CAP_NS.store(0, Ordering::Relaxed);
    OOM.store(false, Ordering::Relaxed);
    gen
}

/// Installs the hook: the profile function (`builtins`), else the eval-frame function (3.9-3.11)
/// or sys.monitoring (3.12+).
fn install(py: Python<'_>, builtins: bool) -> Result<Mechanism, HookError> {
    super::genclose::init(py);
    if builtins {
        super::profile::install(py).map(|()| Mechanism::ProfileFunction)
    } else {
        install_default(py)
    }
}

/// The sink the outputs call for (and a child's session directory): the ring or a streamed
/// outfile, the PYME text outfile, a child's spool, or none.
fn choose_sink(
    outputs: Outputs,
    outfile: Option<PathBuf>,
    base: Vec<(String, String)>,
    extra_metadata: Vec<(String, String)>,
    start_ns: u64,
) -> (Option<Box<dyn Sink>>, Option<ChildSession>) {
    let stream_start = |dest: streamed::Dest| -> Box<dyn Sink> {
        let mut metadata = base.clone();
        metadata.push(("streamed".to_string(), "true".to_string()));
        let mut process = fprofile::process::current();
        for (k, v) in extra_metadata.iter().cloned() {
            if k == PROCESS_NAME_KEY {
                process.name = v;
            } else {
                metadata.push((k, v));
            }
        }
        if let streamed::Dest::File(_, path) = &dest {
            metadata.push(("outfile".to_string(), path.display().to_string()));
        }
        let start = streamed::StreamStart { dest, process, start_ns, metadata, min_free_bytes: min_free_bytes() };
        Box::new(streamed::StreamedSink::new(start))
    };
    match (outputs.file, outputs.spool, outputs.ring) {
        (None, None, Some(r)) => (Some(stream_start(streamed::Dest::Ring(r))), None),
        (Some(out), _, _) if outputs.streamed => {
            (Some(stream_start(streamed::Dest::File(out, outfile.unwrap_or_default()))), None)
        }
        (Some(f), _, _) => (Some(Box::new(TextSink::new(f))), None),
        (None, Some(((file, _), dir)), _) => {
            let mut metadata = base;
            metadata.extend(extra_metadata.iter().cloned());
            let process = fprofile::process::current();
            (Some(Box::new(SpoolSink::new(file, &process, start_ns, &metadata))), Some(dir))
        }
        (None, None, None) => (None, None),
    }
}

#[cfg(not(Py_3_12))]
fn install_default(py: Python<'_>) -> Result<Mechanism, HookError> {
    super::eval::install(py).map(|()| Mechanism::EvalFrame)
}

#[cfg(Py_3_12)]
fn install_default(py: Python<'_>) -> Result<Mechanism, HookError> {
    super::monitoring::install(py).map(Mechanism::Monitoring)
}

fn uninstall(py: Python<'_>, m: Mechanism) -> Vec<HookWarning> {
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
    /// Warnings to show the user (the cap was reached, another tool replaced our hook, ...).
    pub warnings: Vec<HookWarning>,
    /// Writing the outfile failed (the user asked for a file and did not get all of it): raised as
    /// an exception by `profile_off` / `profile()`.
    pub outfile_error: Option<String>,
    /// The outfile was a streamed `.fpt`: the recording is in it (`recording` is empty; load the
    /// file), with this many threads and codes.
    pub streamed: Option<(std::path::PathBuf, usize, usize)>,
    /// The flight recorder's last window (`recording` is empty).
    pub window: Option<fprofile::Trace>,
}

/// In the child of a `fork()` made while recording: the recording is not continued there (the
/// background thread does not exist in the child, and its locks may be held). The hook is removed
/// and the session forgotten without touching its buffers (leaked), so the child records nothing,
/// never blocks, and can start a recording of its own. A session this process started itself
/// (a child recording started by an earlier at-fork handler) stays.
pub(crate) fn after_fork_child(py: Python<'_>) {
    // SAFETY: called with the GIL held; a read of the session's pid.
    if unsafe { session() }.is_some_and(|s| s.pid == std::process::id()) {
        return; // started in this process already (by an earlier at-fork handler)
    }
    RECORDING.store(0, Ordering::Relaxed);
    // SAFETY: called with the GIL held, in the only thread of the new process.
    if let Some(sess) = unsafe { (*SESSION.0.get()).take() } {
        let _ = uninstall(py, sess.mechanism);
        std::mem::forget(sess);
        // SAFETY: as above.
        std::mem::forget(unsafe { tables::replace(None) });
    }
}

pub(crate) fn is_on() -> bool {
    // SAFETY: only a read of the Option's discriminant; callers hold the GIL.
    unsafe { (*SESSION.0.get()).is_some() }
}

/// Stops recording: uninstalls the hook, flushes the live file, collects every thread's events.
/// `metadata`: added to the recording's (to the streamed file's before its end).
pub(crate) fn stop(py: Python<'_>, metadata: Vec<(String, String)>) -> Result<Stopped, HookError> {
    stop_with(py, writer::ChildEnd::default(), metadata)
}

/// Asks the background thread for a round now and waits for it (what was recorded so far reaches
/// a streamed outfile: `os._exit`). Nothing when not recording.
pub(crate) fn flush(py: Python<'_>) {
    // SAFETY: GIL held; the background handle is only read (its channel is shared).
    let stop = unsafe { session() }.and_then(|s| s.background.as_ref().map(|b| b.flusher()));
    if let Some(f) = stop {
        f.flush(py);
    }
}

/// The flight recorder's last window, while recording goes on: a round is written to the ring
/// first (what was recorded until now is in it), then the window is read back (GIL released).
pub(crate) fn snapshot(py: Python<'_>) -> Result<fprofile::Trace, HookError> {
    // SAFETY: GIL held; short borrow (the handles are cloned out of it).
    let (ring, flusher) = match unsafe { session() } {
        Some(s) => (s.ring.clone(), s.background.as_ref().map(|b| b.flusher())),
        None => return Err(HookError::NotOn),
    };
    let Some(ring) = ring else {
        return Err(HookError::NoWindow);
    };
    if let Some(f) = flusher {
        f.flush(py);
    }
    py.detach(move || lock(&ring).snapshot()).map_err(|e| HookError::Snapshot(e.to_string()))
}

/// [`stop`], giving a child process's spool the exit status of its end record and its name.
pub(crate) fn stop_with(
    py: Python<'_>,
    mut end: writer::ChildEnd,
    mut stop_metadata: Vec<(String, String)>,
) -> Result<Stopped, HookError> {
    // SAFETY: GIL held; the session is moved out, nothing borrows it.
    let Some(mut sess) = (unsafe { (*SESSION.0.get()).take() }) else {
        return Err(HookError::NotOn);
    };
    // SAFETY: GIL held; taken with the session (the hook's slow paths find nothing from here on).
    let Some(mut tabs) = (unsafe { tables::replace(None) }) else {
        return Err(HookError::NotOn);
    };
    RECORDING.store(0, Ordering::Release);
    let points = sess.points.take().unwrap_or_default();
    let stop_ns = super::clock::calibrate_into(&points, true);
    // Read before anything below may release the GIL (another thread could start a new session).
    let cap_ns = CAP_NS.swap(0, Ordering::Relaxed);
    let oom = OOM.swap(false, Ordering::Relaxed);
    let mut warnings = uninstall(py, sess.mechanism);
    if sess.streamed || sess.ring.is_some() {
        let mut m = vec![("out_of_memory".to_string(), OOM.load(Ordering::Relaxed).to_string())];
        m.append(&mut stop_metadata);
        end.stream_end = Some((stop_ns, m));
    }
    let finished = sess.background.take().map(|bg| bg.finish(py, end)).unwrap_or_default();
    let outfile_error = finished.error;
    // SAFETY: GIL held.
    unsafe { poll_names(&tabs.threads) };
    let list: Vec<Arc<ThreadShared>> = std::mem::take(&mut *lock(&tabs.threads));
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
        bytes_held += thread::bytes_held(sh) as u64;
        let mut chunks = thread::take_all(sh);
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
    for o in tabs.code_refs.drain(..) {
        // SAFETY: GIL held; each was increfed in `add_code`.
        unsafe { ffi::Py_DecRef(o) };
    }
    let codes = fprofile::calltree::dedupe_codes(std::mem::take(&mut tabs.codes), &mut threads);
    let cap_reached = (cap_ns != 0 && !oom).then_some(sess.max_events);
    if let Some(max_events) = cap_reached {
        warnings.insert(0, HookWarning::CapReached { max_events });
    }
    if oom {
        warnings.push(HookWarning::OutOfMemory { events });
    }
    let mut metadata = base_metadata(py, sess.mechanism, &tabs.subs, &tabs.include, sess.max_events);
    metadata.extend([
        ("events".to_string(), events.to_string()),
        ("cap_reached".to_string(), cap_reached.is_some().to_string()),
        ("out_of_memory".to_string(), oom.to_string()),
    ]);
    if let Some(p) = &sess.outfile {
        metadata.push(("outfile".to_string(), p.display().to_string()));
    }
    metadata.append(&mut sess.metadata);
    metadata.append(&mut stop_metadata);
    if let Some(ring) = sess.ring.take() {
        // the flight recorder: the trace is the last window (its metadata came through the ring)
        let window = py.detach(move || lock(&ring).snapshot()).map_err(|e| HookError::Snapshot(e.to_string()))?;
        return Ok(Stopped {
            recording: Recording::default(),
            events: finished.events_written,
            bytes_held,
            cap_reached: None,
            warnings,
            outfile_error,
            streamed: None,
            window: Some(window),
        });
    }
    if sess.streamed {
        let path = sess.outfile.clone().unwrap_or_default();
        let streamed = Some((path, finished.threads_written, finished.codes_written));
        let recording = Recording { metadata, ..Recording::default() };
        return Ok(Stopped {
            recording,
            events: finished.events_written,
            bytes_held,
            cap_reached: None,
            warnings,
            outfile_error,
            streamed,
            window: None,
        });
    }
    let stop_at = if cap_ns != 0 { cap_ns.min(stop_ns) } else { stop_ns };
    let mut process = fprofile::process::current();
    // the Python layer's name for this process (`fprofile run`: the program it runs), not metadata
    if let Some(i) = metadata.iter().position(|(k, _)| k == PROCESS_NAME_KEY) {
        process.name = metadata.remove(i).1;
    }
    let recording = Recording { codes, threads, start_ns: sess.start_ns, stop_ns: stop_at, metadata, process };
    Ok(Stopped { recording, events, bytes_held, cap_reached, warnings, outfile_error, streamed: None, window: None })
}

/// The metadata a recording starts with (a child's spool carries it too).
fn base_metadata(
    py: Python<'_>,
    mechanism: Mechanism,
    subs: &[String],
    include: &[String],
    max_events: u64,
) -> Vec<(String, String)> {
    let version = py.import("sys").and_then(|s| s.getattr("version")).and_then(|v| v.extract::<String>()).unwrap_or_default();
    vec![
        ("recorder".to_string(), format!("fprofile_jupyter {}", env!("CARGO_PKG_VERSION"))),
        ("python".to_string(), version),
        ("mechanism".to_string(), mechanism.describe()),
        ("clock".to_string(), super::clock::describe().to_string()),
        ("subs".to_string(), serde_json::to_string(subs).unwrap_or_default()),
        ("include".to_string(), serde_json::to_string(include).unwrap_or_default()),
        ("builtins".to_string(), (mechanism == Mechanism::ProfileFunction).to_string()),
        ("max_events".to_string(), max_events.to_string()),
    ]
}
