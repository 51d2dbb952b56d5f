//! The event clock.
//!
//! Times in a recording are `CLOCK_MONOTONIC` nanoseconds: the clock of `time.perf_counter()` on
//! Linux, so PYME raw text times match what PYME writes. Reading it (`clock_gettime`, via the vDSO)
//! costs ~20-28 ns here, twice per call. When the kernel itself derives CLOCK_MONOTONIC from the
//! TSC (clocksource `tsc`, with `constant_tsc` and `nonstop_tsc`), the hook instead stores raw TSC
//! ticks (`rdtsc`, ~8-11 ns) and they are converted to CLOCK_MONOTONIC nanoseconds off the hot path
//! by piecewise-linear interpolation between calibration points (pairs of TSC and CLOCK_MONOTONIC
//! read together) taken at start, every ~50 ms by the background thread, at chunk switches and at
//! stop. Set `FPROFILE_CLOCK=monotonic` to always read CLOCK_MONOTONIC.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

use super::sync::lock;

/// Read CLOCK_MONOTONIC in ns.
#[inline(always)]
pub(crate) fn now_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid out-pointer; CLOCK_MONOTONIC always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64).wrapping_mul(1_000_000_000).wrapping_add(ts.tv_nsec as u64)
}

static USE_TSC: AtomicBool = AtomicBool::new(false);
/// 0 = not decided yet, 1 = monotonic, 2 = tsc.
static DECIDED: AtomicU8 = AtomicU8::new(0);

#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn rdtsc() -> u64 {
    // SAFETY: rdtsc is available on every x86_64 CPU.
    unsafe { core::arch::x86_64::_rdtsc() }
}

#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn rdtsc() -> u64 {
    now_ns()
}

/// What the hook stores as an event time: TSC ticks or CLOCK_MONOTONIC ns (see the module docs).
#[inline(always)]
pub(crate) fn now_raw() -> u64 {
    if USE_TSC.load(Ordering::Relaxed) {
        rdtsc()
    } else {
        now_ns()
    }
}

fn tsc_usable() -> bool {
    if !cfg!(target_arch = "x86_64") {
        return false;
    }
    if std::env::var("FPROFILE_CLOCK").map(|v| v.eq_ignore_ascii_case("monotonic")).unwrap_or(false) {
        return false;
    }
    let src = std::fs::read_to_string("/sys/devices/system/clocksource/clocksource0/current_clocksource").unwrap_or_default();
    if src.trim() != "tsc" {
        return false;
    }
    let cpu = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let flags = cpu.lines().find(|l| l.starts_with("flags")).unwrap_or("");
    let has = |f: &str| flags.split_whitespace().any(|x| x == f);
    has("constant_tsc") && has("nonstop_tsc")
}

/// Decides the clock once per process (the first start).
pub(crate) fn init() {
    if DECIDED.load(Ordering::Relaxed) == 0 {
        let tsc = tsc_usable();
        USE_TSC.store(tsc, Ordering::Relaxed);
        DECIDED.store(if tsc { 2 } else { 1 }, Ordering::Relaxed);
    }
}

pub(crate) fn describe() -> &'static str {
    if USE_TSC.load(Ordering::Relaxed) {
        "TSC, calibrated to CLOCK_MONOTONIC"
    } else {
        "CLOCK_MONOTONIC"
    }
}

/// Calibration points of one session: (tsc, ns), increasing in both. Each session has its own
/// (a session being stopped keeps converting with its points while a new one may start).
pub(crate) type Points = Arc<Mutex<Vec<(u64, u64)>>>;

/// The points of the session that records now.
static CURRENT: Mutex<Option<Points>> = Mutex::new(None);
/// Points closer than this (in ns) to the previous one are not kept (read noise would dominate).
const MIN_SPACING_NS: u64 = 1_000_000;

/// Starts a new session's calibration; returns its points and the CLOCK_MONOTONIC start time.
pub(crate) fn reset() -> (Points, u64) {
    let p: Points = Arc::new(Mutex::new(Vec::new()));
    *lock(&CURRENT) = Some(p.clone());
    let t = calibrate_into(&p, true);
    (p, t)
}

fn read_pair() -> (u64, u64) {
    if !USE_TSC.load(Ordering::Relaxed) {
        let t = now_ns();
        return (t, t);
    }
    // the pair with the tightest bracket of three tries
    let mut best = (u64::MAX, 0u64, 0u64);
    for _ in 0..3 {
        let a = rdtsc();
        let ns = now_ns();
        let b = rdtsc();
        let w = b.wrapping_sub(a);
        if w < best.0 {
            best = (w, a + w / 2, ns);
        }
    }
    (best.1, best.2)
}

/// Adds a calibration point to `points` (unless `force` is false and the last one is recent).
/// Returns the CLOCK_MONOTONIC time read.
pub(crate) fn calibrate_into(points: &Points, force: bool) -> u64 {
    let p = read_pair();
    if USE_TSC.load(Ordering::Relaxed) {
        let mut pts = lock(points);
        match pts.last() {
            Some(&(t, n)) if p.0 <= t || p.1 <= n => {}
            Some(&(_, n)) if !force && p.1 - n < MIN_SPACING_NS => {}
            _ => pts.push(p),
        }
    }
    p.1
}

/// Adds a calibration point to the recording session's points (chunk switches).
pub(crate) fn calibrate() {
    let cur = lock(&CURRENT).clone();
    if let Some(p) = cur {
        calibrate_into(&p, false);
    }
}

/// Converts raw event times (see [`now_raw`]) to CLOCK_MONOTONIC ns.
pub(crate) struct Converter {
    points: Vec<(u64, u64)>,
    /// Per segment (`points[s]` to `points[s + 1]`): its ns per tick as a 0.64 fixed point rounded
    /// up, when below 1 (a TSC of 1 GHz or more), so that converting an event is a multiplication
    /// (no 128-bit division per event): the same result as the division but when the exact value
    /// lies within 2^-30 ns of the next integer. None: divide.
    mults: Vec<Option<u64>>,
    tsc: bool,
    /// Long-baseline slope (ns per tick) used outside the calibrated range, as a 32.32 fixed point.
    slope: f64,
    seg: usize,
}

impl Converter {
    /// A converter from the points taken so far.
    pub(crate) fn snapshot(points: &Points) -> Converter {
        let points = lock(points).clone();
        let tsc = USE_TSC.load(Ordering::Relaxed);
        let slope = match (points.first(), points.last()) {
            (Some(a), Some(b)) if b.0 > a.0 => (b.1 - a.1) as f64 / (b.0 - a.0) as f64,
            _ => 1.0,
        };
        let mults = points
            .windows(2)
            .map(|w| {
                let (dt, dn) = (w[1].0 - w[0].0, w[1].1 - w[0].1);
                (dn < dt).then(|| ((dn as u128) << 64).div_ceil(dt as u128) as u64)
            })
            .collect();
        Converter { points, mults, tsc, slope, seg: 0 }
    }

    #[inline]
    pub(crate) fn convert(&mut self, raw: u64) -> u64 {
        if !self.tsc {
            return raw;
        }
        let p = &self.points;
        match p.len() {
            0 => raw,
            1 => extrapolate(p[0], raw, self.slope),
            n => {
                if raw < p[0].0 {
                    return extrapolate(p[0], raw, self.slope);
                }
                if raw >= p[n - 1].0 {
                    return extrapolate(p[n - 1], raw, self.slope);
                }
                // events come mostly in order: try the last segment first
                let s = self.seg.min(n - 2);
                let s = if p[s].0 <= raw && raw < p[s + 1].0 {
                    s
                } else {
                    p.partition_point(|q| q.0 <= raw).saturating_sub(1).min(n - 2)
                };
                self.seg = s;
                let (t0, n0) = p[s];
                if let Some(m) = self.mults[s] {
                    return n0 + (((raw - t0) as u128 * m as u128) >> 64) as u64;
                }
                let (t1, n1) = p[s + 1];
                let num = (raw - t0) as u128 * (n1 - n0) as u128;
                n0 + (num / (t1 - t0) as u128) as u64
            }
        }
    }
}

fn extrapolate(anchor: (u64, u64), raw: u64, slope: f64) -> u64 {
    let d = raw as f64 - anchor.0 as f64;
    let v = anchor.1 as f64 + d * slope;
    if v <= 0.0 {
        0
    } else {
        v as u64
    }
}

/// The OS id of the calling thread (`threading.get_native_id()`).
pub(crate) fn os_thread_id() -> u64 {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::syscall(libc::SYS_gettid) as u64 }
}
