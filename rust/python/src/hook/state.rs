//! The recording's process-wide flags, read by the hook's hot path and written by `session`:
//! which session records (`RECORDING`), the event budget (the cap), why recording stopped early.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use super::clock::now_ns;

/// The current session's generation while it records, 0 otherwise (stopped, or cap reached).
pub(crate) static RECORDING: AtomicU32 = AtomicU32::new(0);
/// Events that may still be reserved by threads taking a chunk (the cap).
pub(crate) static BUDGET: AtomicU64 = AtomicU64::new(0);

/// Generation of the latest session (0 = none yet). Tags the `co_extra` decisions.
pub(crate) static GEN: AtomicU32 = AtomicU32::new(0);
/// Absolute time at which the cap was reached (0: not reached).
pub(crate) static CAP_NS: AtomicU64 = AtomicU64::new(0);
/// Recording stopped because a chunk could not be allocated (CAP_NS is set too).
pub(crate) static OOM: AtomicBool = AtomicBool::new(false);

/// A streamed recording: bytes of full event chunks the writer has not encoded yet (added by a
/// thread handing a chunk over, subtracted by the writer taking it).
pub(crate) static STREAM_BACKLOG: AtomicU64 = AtomicU64::new(0);
/// A streamed recording: above this backlog, a thread that hands a chunk over waits for the
/// writer (GIL released) before recording on, so memory stays bounded even when the program makes
/// events faster than the writer encodes them. 0: not streamed (no wait).
pub(crate) static STREAM_BACKLOG_LIMIT: AtomicU64 = AtomicU64::new(0);
/// The backlog limit of a streamed recording: 16 MiB of events (1M events).
pub(crate) const DEFAULT_STREAM_BACKLOG: u64 = 16 << 20;

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

/// A child process of a recording got SIGTERM (see [`catch_sigterm`]): its writer thread writes
/// the spool's end and then lets the signal kill the process.
pub(crate) static TERM: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigterm(_: libc::c_int) {
    TERM.store(true, Ordering::Relaxed);
}

fn sigterm_handler() -> libc::sighandler_t {
    on_sigterm as extern "C" fn(libc::c_int) as libc::sighandler_t
}

/// In a child process of a recording, when SIGTERM has its default action (it kills), catches it
/// instead (`multiprocessing.Pool.terminate()` ends its workers so): the writer thread then writes
/// what the process recorded and its end, and ends it with SIGTERM as before ([`die_of_sigterm`]),
/// within 5 ms. A program's own SIGTERM handler is left alone.
pub(crate) fn catch_sigterm() {
    TERM.store(false, Ordering::Relaxed);
    // SAFETY: plain sigaction calls with valid structures; the handler only stores to an atomic.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        if libc::sigaction(libc::SIGTERM, std::ptr::null(), &mut old) != 0 || old.sa_sigaction != libc::SIG_DFL {
            return;
        }
        let mut act: libc::sigaction = std::mem::zeroed();
        act.sa_sigaction = sigterm_handler();
        act.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut act.sa_mask);
        libc::sigaction(libc::SIGTERM, &act, std::ptr::null_mut());
    }
}

/// Gives SIGTERM back its default action, if [`catch_sigterm`]'s handler is still in place (the
/// child stops recording: nobody would act on the flag any more).
pub(crate) fn release_sigterm() {
    // SAFETY: as in `catch_sigterm`.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        if libc::sigaction(libc::SIGTERM, std::ptr::null(), &mut old) == 0 && old.sa_sigaction == sigterm_handler() {
            let mut act: libc::sigaction = std::mem::zeroed();
            act.sa_sigaction = libc::SIG_DFL;
            libc::sigemptyset(&mut act.sa_mask);
            libc::sigaction(libc::SIGTERM, &act, std::ptr::null_mut());
        }
    }
}

/// The caught SIGTERM, once the spool is written: the default action again, and the signal (the
/// process ends as it would have).
pub(crate) fn die_of_sigterm() {
    release_sigterm();
    // SAFETY: kill and getpid have no preconditions.
    unsafe { libc::kill(libc::getpid(), libc::SIGTERM) };
}
