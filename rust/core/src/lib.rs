//! fprofile: per-thread call-tree traces.
//!
//! Pure Rust, no Python: the trace model ([`model`]), the tree builder that turns flat entry/exit
//! events into per-thread call trees ([`build`]), the formats ([`formats`]), per-function summaries
//! ([`summary`]) and the embedded timeline assets ([`assets`]). The `fprofile-jupyter-python` crate
//! is the thin pyo3 binding (and the CPython hook) on top of it. See `rust/README.md`.

pub mod model;
pub mod build;
pub mod formats;
pub mod summary;
pub mod assets;

pub use model::{Code, CodeId, Event, EventKind, Recording, ThreadRecord, ThreadInfo, Trace, Calls, CallFlags};
