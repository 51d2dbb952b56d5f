//! The CPython hook: the only code that touches interpreter internals.
//!
//! Data flows one way through these modules (each uses only the ones listed after it):
//! - `session`: start/stop; orchestrates everything below, and nothing depends on it.
//! - `eval` (3.9-3.11): a PEP 523 eval-frame function, chained to the one installed before;
//!   `monitoring` (3.12+): `sys.monitoring` callbacks under a tool id of our own; `profile`: a C
//!   profile function (`builtins=True`): Python calls plus C functions; `genclose`: whether
//!   closing a suspended generator runs any of its code (a close that runs nothing is not a call).
//! - `writer`: the background thread (one per process, parked between recordings): the recording
//!   loop that polls thread names and hands each round to the core's sink
//!   ([`fprofile::record::Sink`]: live PYME text, streamed `.fpt` or the ring, a child's spool).
//! - `spawn`: the parent's notice that a child process is about to start (an audit hook): the
//!   session directory is made then.
//! - `join`: a child process's side of its parent's session directory (joined only when it is the
//!   parent's live session; files created relative to it).
//! - `buffer`: per-thread event buffers (thread-locals, chunks of 16-byte [`fprofile::Event`]),
//!   the hot path, the event budget taken a chunk at a time, thread registration and retirement.
//! - `filter`: the filter decision cached per code object in `co_extra`.
//! - `tables`: what the slow paths read and add to while recording (subs, code table, threads).
//! - `names`: thread names, read from the `threading.Thread` objects.
//! - `thread`: one recorded thread's shared record (chunks, names).
//! - `state`: the process-wide flags (which session records, the budget, why it stopped).
//! - `clock`: the event clock (TSC or CLOCK_MONOTONIC) and its conversion.
//! - `sync`: the lock helper, the GIL-guarded cell, the saved error indicator.
//!
//! Every hook entry point runs with the GIL held (GIL builds of CPython only), so the session state
//! they touch on their slow paths is protected by the GIL; the background writer only ever reads
//! what the hook publishes through atomics and short mutexes.

pub(crate) mod buffer;
pub(crate) mod clock;
#[cfg(not(Py_3_12))]
pub(crate) mod eval;
pub(crate) mod filter;
pub(crate) mod genclose;
pub(crate) mod join;
#[cfg(Py_3_12)]
pub(crate) mod monitoring;
pub(crate) mod names;
pub(crate) mod profile;
pub(crate) mod session;
pub(crate) mod spawn;
pub(crate) mod state;
pub(crate) mod sync;
pub(crate) mod tables;
pub(crate) mod thread;
pub(crate) mod writer;

pub(crate) use session::{start, stop, stop_with, StartOptions, Stopped};

use pyo3::PyErr;

/// Why recording cannot start or stop as asked: one variant per failure, turned into a Python
/// exception in one place (`crate::errors`): `ProfilerError`, except `Options`
/// (`ValueError`) and `Python` (the interpreter's own exception, passed through).
#[derive(Debug, thiserror::Error)]
pub(crate) enum HookError {
    #[error("profiling from a sub-interpreter is not supported: start it from the main interpreter")]
    SubInterpreter,
    #[error(
        "profiling needs the GIL: free-threaded builds of CPython (python3.13t, python3.14t, ...) are not supported, \
         even with the GIL re-enabled (PYTHON_GIL=1); use a regular build of CPython"
    )]
    NoGil,
    #[error("profiling is already on (one profile()/ThreadProfiler at a time): stop the running one first")]
    AlreadyOn,
    #[error("profiling is not on: nothing to stop")]
    NotOn,
    #[error("cannot get a co_extra slot from the interpreter (all in use)")]
    NoCodeExtraSlot,
    #[error("cannot write the outfile {}: {source}{}", path.display(), outfile_hint(source))]
    Outfile { path: std::path::PathBuf, source: std::io::Error },
    /// (said only with FPROFILE_JUPYTER_DEBUG=1, after "not recorded as a child process")
    #[error(transparent)]
    Join(#[from] join::JoinError),
    #[error("this joined session was used by a recording already: join it again")]
    SessionUsed,
    #[error("cannot write this child process's spool {}: {source}", path.display())]
    Spool { path: std::path::PathBuf, source: std::io::Error },
    #[cfg(not(Py_3_12))]
    #[error(
        "cannot start profiling: another tool (a debugger or JIT) installed its eval-frame function over fprofile's \
         during an earlier recording and is still installed; stop that tool first (or restart the interpreter)"
    )]
    EvalFrameTaken,
    #[cfg(not(Py_3_12))]
    #[error(
        "the interpreter's eval-frame function is in an unexpected state (fprofile's own hook is still installed); \
         restart the interpreter"
    )]
    EvalFrameUnexpected,
    #[cfg(Py_3_12)]
    #[error(
        "cannot start profiling: the sys.monitoring tool ids fprofile can use are all taken ({holders}); stop one of \
         those tools first"
    )]
    ToolIdsTaken { holders: String },
    #[cfg(Py_3_12)]
    #[error("internal error: callbacks not set")]
    CallbacksNotSet,
    #[error(
        "cannot profile with builtins=True: another profiler is active ({what}: {repr}); stop it first, or profile \
         without builtins (that hook coexists with other tools)"
    )]
    OtherProfiler { what: &'static str, repr: String },
    #[error("this recorder is already recording: call stop() first")]
    RecorderRecording,
    #[error("this recorder is not recording: call start() first")]
    RecorderIdle,
    #[error("this recording was turned into a Trace already")]
    RecordingTaken,
    /// Options that cannot record (`ValueError`).
    #[error(transparent)]
    Options(#[from] fprofile::record::OptionsError),
    #[error(
        "snapshot() needs a recording with keep_last (the flight recorder): this one keeps everything; its trace comes at stop"
    )]
    NoWindow,
    #[error("the flight recorder's window could not be read: {0}")]
    Snapshot(String),
    #[error("stop_raw() has no flat events of a flight recorder's window: use stop()")]
    WindowRaw,
    #[error(transparent)]
    Python(#[from] PyErr),
}

fn outfile_hint(e: &std::io::Error) -> &'static str {
    if e.kind() == std::io::ErrorKind::NotConnected {
        ""
    } else {
        "; pass a path in a writable directory"
    }
}

/// Something the user should know about a recording that still worked: one variant per case,
/// shown by `Recorder.stats.warnings` as a `kind` and a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum HookWarning {
    #[error(
        "the event cap was reached ({} events, a call is two): recording stopped early; the trace keeps everything \
         recorded until then. Pass a larger max_events= to record more, or narrow subs=.",
        fprofile::units::format_count(*max_events)
    )]
    CapReached { max_events: u64 },
    #[error(
        "memory for the event buffers could not be allocated: recording stopped early, after {events} events (the \
         trace keeps them); pass a smaller max_events= or narrow subs="
    )]
    OutOfMemory { events: u64 },
    #[cfg(not(Py_3_12))]
    #[error(
        "another tool (a debugger or JIT) replaced fprofile's eval-frame function while profiling; its function was \
         left in place (fprofile's now only passes calls through)"
    )]
    HookReplaced,
    #[error("{what} failed: {error}")]
    RemovalFailed { what: &'static str, error: String },
}

impl HookWarning {
    /// A short stable name for the case: "cap_reached", "out_of_memory", "hook_replaced",
    /// "removal_failed".
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            HookWarning::CapReached { .. } => "cap_reached",
            HookWarning::OutOfMemory { .. } => "out_of_memory",
            #[cfg(not(Py_3_12))]
            HookWarning::HookReplaced => "hook_replaced",
            HookWarning::RemovalFailed { .. } => "removal_failed",
        }
    }
}
