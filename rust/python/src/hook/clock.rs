//! The event clock: `CLOCK_MONOTONIC` in integer nanoseconds, the clock of `time.perf_counter()`
//! on Linux (so the PYME raw text times match what PYME itself writes). Read through the vDSO.

#[inline(always)]
pub(crate) fn now_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid out-pointer; CLOCK_MONOTONIC always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64).wrapping_mul(1_000_000_000).wrapping_add(ts.tv_nsec as u64)
}

/// The OS id of the calling thread (`threading.get_native_id()`).
pub(crate) fn os_thread_id() -> u64 {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::syscall(libc::SYS_gettid) as u64 }
}
