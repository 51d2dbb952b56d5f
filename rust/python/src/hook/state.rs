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
