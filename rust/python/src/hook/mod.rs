//! The CPython hook: the only code that touches interpreter internals.
//!
//! - `buffer`: per-thread event buffers (thread-locals, chunks of 16-byte [`fprofile::Event`]),
//!   the event budget (the cap), thread registration.
//! - `eval` (3.9-3.11): a PEP 523 eval-frame function, chained to the one installed before.
//! - `monitoring` (3.12+): `sys.monitoring` callbacks (C callables) under a tool id of our own.
//! - `genclose`: whether closing a suspended generator runs any of its code (one rule on every
//!   version: a close that runs nothing is not a call).
//! - `profile`: a C profile function (`builtins=True`): Python calls plus C functions.
//! - `writer`: the background thread: thread-name polling, and the live PYME raw text file.
//! - `session`: start/stop, the code table, the filter decision cached in `co_extra`.
//!
//! Every hook entry point runs with the GIL held (GIL builds of CPython only), so the session state
//! they touch on their slow paths is protected by the GIL; the background writer only ever reads
//! what the hook publishes through atomics and short mutexes.

pub(crate) mod buffer;
pub(crate) mod clock;
#[cfg(not(Py_3_12))]
pub(crate) mod eval;
pub(crate) mod genclose;
#[cfg(Py_3_12)]
pub(crate) mod monitoring;
pub(crate) mod profile;
pub(crate) mod session;
pub(crate) mod writer;

pub(crate) use session::{start, stop, StartOptions, Stopped};
