//! One recorded thread's shared record: its chunks of events, names and thread object, shared by
//! its hook (the producer), the background writer (the consumer) and `stop`.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use fprofile::Event;

use super::sync::lock;

/// Chunks of one thread: the full ones, then the current one (raw parts of a `Vec<Event>` whose
/// length lives in [`ThreadShared::len`]).
pub(crate) struct Chunks {
    pub full: Vec<Vec<Event>>,
    pub cur_ptr: *mut Event,
    pub cur_cap: usize,
}

// SAFETY: the raw chunk is only written by its thread (under the GIL) and read under the mutex.
unsafe impl Send for Chunks {}

impl Chunks {
    /// Moves the current chunk (with `len` events) out as a `Vec`, leaving none.
    pub(crate) fn take_current(&mut self, len: usize) -> Option<Vec<Event>> {
        if self.cur_ptr.is_null() {
            return None;
        }
        let len = len.min(self.cur_cap);
        // SAFETY: cur_ptr/cur_cap come from a Vec<Event> with that capacity (see `alloc_chunk`),
        // and its first `len` elements were written by the hook before publishing `len`.
        let v = unsafe { Vec::from_raw_parts(self.cur_ptr, len, self.cur_cap) };
        self.cur_ptr = std::ptr::null_mut();
        self.cur_cap = 0;
        Some(v)
    }
}

impl Drop for Chunks {
    fn drop(&mut self) {
        drop(self.take_current(0));
    }
}

/// One recorded thread, shared between its hook (producer), the writer (consumer) and `stop`.
pub(crate) struct ThreadShared {
    pub os_id: u64,
    pub ident: u64,
    /// Names over time: (absolute ns, name). Empty only during registration.
    pub names: Mutex<Vec<(u64, String)>>,
    /// Events published in the current chunk (written by the hook with Release).
    pub len: AtomicUsize,
    pub chunks: Mutex<Chunks>,
    /// Chunks taken so far (sizes grow with it).
    pub nchunks: AtomicUsize,
    /// The `threading.Thread` object (a strong reference, as an address; released by `stop` with
    /// the GIL held), read for renames.
    pub thread_obj: Mutex<Option<usize>>,
    /// `stop` released the thread object (none may be taken any more).
    pub released: AtomicBool,
    /// The thread has ended ([`retire`] ran): it records no more events.
    pub ended: AtomicBool,
}

impl ThreadShared {
    pub(crate) fn has_ended(&self) -> bool {
        self.ended.load(Ordering::Acquire)
    }
}

/// Moves every event of a thread out (called by `stop`, with recording off).
pub(crate) fn take_all(sh: &ThreadShared) -> Vec<Vec<Event>> {
    let mut c = lock(&sh.chunks);
    let n = sh.len.swap(0, Ordering::Acquire);
    let mut out = std::mem::take(&mut c.full);
    if let Some(cur) = c.take_current(n) {
        if !cur.is_empty() {
            out.push(cur);
        }
    }
    out
}

/// Bytes held in memory by a thread's chunks (capacity, not just events).
pub(crate) fn bytes_held(sh: &ThreadShared) -> usize {
    let c = lock(&sh.chunks);
    let ev = std::mem::size_of::<Event>();
    c.full.iter().map(|v| v.capacity() * ev).sum::<usize>() + c.cur_cap * ev
}
