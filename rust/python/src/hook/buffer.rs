//! Per-thread event buffers.
//!
//! Each thread that records owns a [`ThreadShared`] (registered in the session on its first event)
//! and a thread-local [`Local`] with raw copies of its hot fields. An event is written into the
//! current chunk (a `Vec<Event>`'s spare capacity, pre-touched so no page fault lands on the hot
//! path), then the new length is published with a `Release` store: the background writer reads it
//! with `Acquire` (single producer, single consumer per thread, no lock on the hot path).
//! When a chunk is full the thread takes a new one (the only lock and allocation: once per chunk),
//! reserving its size from the global event budget first, so the cap costs no shared atomic per
//! event: when the budget is exhausted, recording stops everywhere.
//!
//! When a thread ends (its thread-local exit guard is dropped), [`retire`] gives the unused part of
//! its reservation back to the budget and shrinks its last chunk to the events it holds: the cap
//! counts events recorded, not reserved, and a program that starts and ends many short threads
//! (a thread-per-request server, a pool made anew) keeps recording, in memory proportional to
//! what it recorded.

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use fprofile::{Event, EventKind};

use super::clock::{now_ns, now_raw};
use super::names;
use super::state::{self, BUDGET, RECORDING};
use super::sync::lock;
use super::tables;
use super::thread::{Chunks, ThreadShared};

/// First chunk of a thread: 256 events (4 KiB: a short thread, one request of a thread-per-request
/// server, reserves little of the budget); each next one is eight times the last, up to 262144
/// (4 MiB, large enough to hold aligned 2 MiB huge pages): a busy thread reaches full chunks after
/// 4 switches (each one reads the thread's name and calibrates the clock: doubling took 10).
const FIRST_CHUNK: usize = 256;
const MAX_CHUNK: usize = 262144;

/// Thread-local copy of the hot fields of this thread's `ThreadShared` (valid while `gen` equals
/// the recording session's generation: the session keeps the `ThreadShared` alive).
pub(crate) struct Local {
    gen: Cell<u32>,
    shared: Cell<*const ThreadShared>,
    base: Cell<*mut Event>,
    cap: Cell<usize>,
}

thread_local! {
    static LOCAL: Local = const {
        Local {
            gen: Cell::new(0),
            shared: Cell::new(std::ptr::null()),
            base: Cell::new(std::ptr::null_mut()),
            cap: Cell::new(0),
        }
    };
}

/// Dropped when its thread ends (a thread-local destructor; none runs for the main thread at
/// process exit, which needs none): retires the thread's buffers in the session it recorded in.
/// Holds its own reference, so the buffers stay valid whatever `stop` did meanwhile.
struct ExitGuard(RefCell<Option<(u32, Arc<ThreadShared>)>>);

impl Drop for ExitGuard {
    fn drop(&mut self) {
        if let Some((gen, sh)) = self.0.get_mut().take() {
            retire(gen, &sh);
        }
    }
}

thread_local! {
    static EXIT: ExitGuard = const { ExitGuard(RefCell::new(None)) };
}

/// The calling thread ends: its current chunk is cut to the events it holds (memory given back)
/// and handed over as a full one, and the rest of its reservation returns to the budget (when the
/// session it recorded in still records). The thread-local handle is emptied, so an event recorded
/// later on this thread (none is expected) takes a new chunk instead of writing into the old one.
fn retire(gen: u32, sh: &ThreadShared) {
    let _ = LOCAL.try_with(|l| {
        if std::ptr::eq(l.shared.get(), sh) {
            l.base.set(std::ptr::null_mut());
            l.cap.set(0);
        }
    });
    let unused = {
        let mut c = lock(&sh.chunks);
        let n = sh.len.load(Ordering::Acquire).min(c.cur_cap);
        let unused = c.cur_cap - n;
        if let Some(mut cur) = c.take_current(n) {
            cur.shrink_to_fit();
            add_backlog(&cur);
            c.full.push(cur);
        }
        sh.len.store(0, Ordering::Release);
        sh.ended.store(true, Ordering::Release);
        unused
    };
    // (A stop and a new start between this check and the add could give these events to the new
    // session's budget: at most one chunk, and only in that window.)
    if unused > 0 && RECORDING.load(Ordering::Relaxed) == gen {
        BUDGET.fetch_add(unused as u64, Ordering::Relaxed);
    }
}

/// This thread's buffer handle (valid for the thread's lifetime); None during thread teardown.
#[inline(always)]
pub(crate) fn local() -> Option<*const Local> {
    LOCAL.try_with(|l| l as *const Local).ok()
}

/// Records one event of code `code` (an id of session `gen`) on the calling thread.
///
/// # Safety
/// Must be called with the GIL held (every hook entry point is).
#[inline(always)]
pub(crate) unsafe fn record(gen: u32, code: u32, kind: EventKind) {
    if let Some(l) = local() {
        record_on(l, gen, code, kind);
    }
}

/// [`record`] with this thread's handle already in hand (saves a thread-local lookup when a hook
/// records both ends of a call).
///
/// # Safety
/// GIL held; `l` from [`local`] on this thread.
#[inline(always)]
pub(crate) unsafe fn record_on(l: *const Local, gen: u32, code: u32, kind: EventKind) {
    if gen != RECORDING.load(Ordering::Relaxed) {
        return;
    }
    let l = &*l;
    if l.gen.get() != gen && !register_thread(l, gen) {
        return;
    }
    // SAFETY: the session (generation `gen`, still recording) holds an Arc of it.
    let sh = &*l.shared.get();
    let mut n = sh.len.load(Ordering::Relaxed);
    while n >= l.cap.get() {
        if !next_chunk(l, sh, gen) {
            return;
        }
        // Not 0: taking the chunk runs Python code (the rename check), which may itself have
        // recorded events on this thread into the new chunk.
        n = sh.len.load(Ordering::Relaxed);
    }
    let t_ns = now_raw();
    // SAFETY: n < cap of the current chunk, which only this thread writes.
    l.base.get().add(n).write(Event { t_ns, code, kind });
    sh.len.store(n + 1, Ordering::Release);
}

/// Takes up to `want` events from the budget; 0 when it is exhausted. Near the end of the budget
/// a thread takes at most an eighth of what is left (at least 16 events), so that the threads alive
/// at once hold little of it as unused reservations when the cap stops the recording.
fn reserve(want: usize) -> usize {
    let mut cur = BUDGET.load(Ordering::Relaxed);
    loop {
        let take = cur.min((want as u64).min((cur / 8).max(16)));
        if take == 0 {
            return 0;
        }
        match BUDGET.compare_exchange_weak(cur, cur - take, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return take as usize,
            Err(now) => cur = now,
        }
    }
}

/// Allocates a chunk of `n` events and touches its pages (so no page fault hits the hot path).
fn alloc_chunk(n: usize) -> Option<(*mut Event, usize)> {
    let mut v: Vec<Event> = Vec::new();
    v.try_reserve_exact(n).ok()?;
    let cap = v.capacity();
    let ptr = v.as_mut_ptr();
    std::mem::forget(v);
    prefault(ptr.cast::<u8>(), cap * std::mem::size_of::<Event>());
    Some((ptr, cap))
}

/// Touches every page of `[p, p + len)`: one `madvise(MADV_POPULATE_WRITE)` for the whole
/// page-aligned middle (one system call instead of one fault per page), writes for the rest.
fn prefault(p: *mut u8, len: usize) {
    const PAGE: usize = 4096;
    const MADV_POPULATE_WRITE: libc::c_int = 23;
    const HUGE: usize = 2 << 20;
    if len == 0 {
        return;
    }
    let start = p as usize;
    let end = start + len;
    let a = (start + PAGE - 1) & !(PAGE - 1);
    let b = end & !(PAGE - 1);
    // SAFETY: the range lies inside the allocation; the bytes are uninitialised spare capacity.
    unsafe {
        // Transparent huge pages where the range allows (one fault per 2 MiB instead of 512).
        let ha = (start + HUGE - 1) & !(HUGE - 1);
        let hb = end & !(HUGE - 1);
        if hb > ha {
            libc::madvise(ha as *mut libc::c_void, hb - ha, libc::MADV_HUGEPAGE);
        }
        let populated = b > a && libc::madvise(a as *mut libc::c_void, b - a, MADV_POPULATE_WRITE) == 0;
        let mut q = start;
        while q < end {
            if !(populated && q >= a && q < b) {
                std::ptr::write_volatile(q as *mut u8, 0);
            }
            q = (q & !(PAGE - 1)) + PAGE;
        }
    }
}

fn chunk_size(k: usize) -> usize {
    (FIRST_CHUNK << (3 * k).min(10)).min(MAX_CHUNK)
}

/// First event of this thread in session `gen`: registers it. Returns false if not recording.
/// Reserves up to `want` events of the budget and allocates a chunk for them; when the budget is
/// spent or the memory cannot be had, tells the session (which stops recording) and returns None.
fn take_budgeted_chunk(want: usize) -> Option<(*mut Event, usize)> {
    let got = reserve(want);
    if got == 0 {
        state::cap_reached();
        return None;
    }
    let chunk = alloc_chunk(got);
    if chunk.is_none() {
        state::out_of_memory();
    }
    chunk
}

#[cold]
#[inline(never)]
unsafe fn register_thread(l: &Local, gen: u32) -> bool {
    if RECORDING.load(Ordering::Relaxed) != gen {
        return false;
    }
    let Some((ptr, cap)) = take_budgeted_chunk(chunk_size(0)) else {
        return false;
    };
    let ident = pyo3::ffi::PyThread_get_thread_ident() as u64;
    let os_id = super::clock::os_thread_id();
    let sh = Arc::new(ThreadShared {
        os_id,
        ident,
        names: Mutex::new(Vec::new()),
        len: AtomicUsize::new(0),
        chunks: Mutex::new(Chunks { full: Vec::new(), cur_ptr: ptr, cur_cap: cap }),
        nchunks: AtomicUsize::new(1),
        thread_obj: Mutex::new(None),
        released: AtomicBool::new(false),
        ended: AtomicBool::new(false),
    });
    let t = now_ns();
    if !tables::add_thread(gen, sh.clone()) {
        return false; // dropping `sh` frees the chunk
    }
    l.gen.set(gen);
    l.shared.set(Arc::as_ptr(&sh));
    l.base.set(ptr);
    l.cap.set(cap);
    // Retired when this thread ends (replacing the guard of an earlier session, long stopped).
    let _ = EXIT.try_with(|g| *g.0.borrow_mut() = Some((gen, sh.clone())));
    // The name needs Python calls (which may themselves record: the thread is registered now).
    let obj = names::thread_object(ident);
    let name = obj.and_then(|o| names::object_name(o)).unwrap_or_else(|| format!("thread-{os_id}"));
    if let Some(o) = obj {
        if RECORDING.load(Ordering::Relaxed) == gen {
            *lock(&sh.thread_obj) = Some(o as usize);
        } else {
            // stopped meanwhile: `stop` already released the thread objects it knew of
            pyo3::ffi::Py_DecRef(o);
        }
    }
    {
        let mut names = lock(&sh.names);
        if names.is_empty() {
            names.push((t, name));
        } else {
            names.insert(0, (t, name));
        }
    }
    // The Python calls above may have let another thread run (a finalizer releasing the GIL), and
    // that thread may have stopped the recording and taken this thread's chunk: check again.
    RECORDING.load(Ordering::Relaxed) == gen
}

/// A full chunk handed over in a streamed recording: counted in the writer's backlog.
fn add_backlog(chunk: &Vec<Event>) {
    if state::STREAM_BACKLOG_LIMIT.load(Ordering::Relaxed) != 0 {
        state::STREAM_BACKLOG.fetch_add((chunk.capacity() * std::mem::size_of::<Event>()) as u64, Ordering::Relaxed);
    }
}

/// A streamed recording whose writer lags more than the backlog limit behind: waits (GIL
/// released, as any blocking call) until it has caught up, the recording stopped, or 5 s passed
/// (a writer that cannot go on must not hang the program).
///
/// # Safety
/// GIL held (it is released and taken back).
unsafe fn wait_for_writer(gen: u32) {
    let limit = state::STREAM_BACKLOG_LIMIT.load(Ordering::Relaxed);
    if limit == 0 || state::STREAM_BACKLOG.load(Ordering::Relaxed) <= limit {
        return;
    }
    let ts = pyo3::ffi::PyEval_SaveThread();
    let until = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while state::STREAM_BACKLOG.load(Ordering::Relaxed) > limit / 2
        && RECORDING.load(Ordering::Relaxed) == gen
        && std::time::Instant::now() < until
    {
        std::thread::sleep(std::time::Duration::from_micros(200));
    }
    pyo3::ffi::PyEval_RestoreThread(ts);
}

/// The current chunk is full: hands it over and takes the next (budget permitting).
#[cold]
#[inline(never)]
unsafe fn next_chunk(l: &Local, sh: &ThreadShared, gen: u32) -> bool {
    if RECORDING.load(Ordering::Relaxed) != gen {
        return false;
    }
    let k = sh.nchunks.load(Ordering::Relaxed);
    let Some((ptr, cap)) = take_budgeted_chunk(chunk_size(k)) else {
        return false;
    };
    {
        let mut c = lock(&sh.chunks);
        let n = sh.len.load(Ordering::Relaxed);
        if let Some(full) = c.take_current(n) {
            add_backlog(&full);
            c.full.push(full);
        }
        c.cur_ptr = ptr;
        c.cur_cap = cap;
        sh.len.store(0, Ordering::Release);
    }
    sh.nchunks.store(k + 1, Ordering::Relaxed);
    l.base.set(ptr);
    l.cap.set(cap);
    super::clock::calibrate();
    // A rename is seen here too (besides the writer's polling), at most one chunk late. That runs
    // Python code (a `Thread` subclass may define `__getattribute__`), which may switch threads and
    // let another one stop the recording and drop the session's reference to `sh`: hold one of
    // our own across it (the session holds one now: RECORDING == gen was checked under the GIL).
    let p: *const ThreadShared = sh;
    Arc::increment_strong_count(p);
    let keep = Arc::from_raw(p);
    names::poll_one_name(&keep);
    wait_for_writer(gen);
    drop(keep);
    // (as in `register_thread`: the recording may have been stopped meanwhile)
    RECORDING.load(Ordering::Relaxed) == gen
}
