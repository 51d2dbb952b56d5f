//! fprofile: per-thread call-tree traces.
//!
//! Pure Rust, no Python: the trace model ([`model`]), the tree builder that turns flat entry/exit
//! events into per-thread call trees ([`calltree`]), the formats ([`formats`]), per-function summaries
//! ([`summary`]), the tables they are shown in ([`table`]), the embedded timeline assets ([`assets`]) and
//! a trace's display in the evcxr Rust kernel ([`evcxr`]). The `fprofile-jupyter-python` crate
//! is the thin pyo3 binding (and the CPython hook) on top of it. See `rust/README.md`.
//!
//! Entry points:
//! - [`load()`] / [`load_bytes()`]: read a trace in any format fprofile reads (detected from the content).
//! - [`calltree::build_trace`]: `Recording` (flat events per thread) -> [`Trace`] (call trees).
//! - [`formats::fpt::encode`] / [`formats::fpt::decode`]: the `.fpt` binary format (`docs/format.md`).
//! - [`formats::pyme_text::read`] / [`formats::pyme_text::read_file`] / [`formats::pyme_text::write()`]:
//!   PYME raw event text; [`formats::pyme_json::read`] / [`formats::pyme_json::write()`]: PYME JSON.
//! - [`formats::perfetto::write()`], [`formats::speedscope::write()`]: exports.
//! - [`formats::detect`]: sniff a file's format.
//! - [`fsio`]: FIFOs, devices and other streams read and written without waiting forever;
//!   [`privdir`]: a private directory in a shared place, used without following links.
//! - [`summary::summarize`] / [`summary::summary_json`]: per-function figures; [`summary::sort_rows`],
//!   [`summary::text_table`], [`summary::html_table`], [`summary::static_table`]: their orders and
//!   tables, laid out by [`table`] (also the comparison's); [`escape::html_escape`]: names as text in HTML.
//! - [`filetrace::FileTrace`]: a trace answered from its file (windows, summary, flame) without
//!   holding its calls.
//! - [`window::query`]: what the timeline draws of a time window; [`formats::window`]: the reply as bytes.
//! - [`formats::registry`]: the one table of formats (names, endings, read/write); [`formats::save`]:
//!   write a trace to a file atomically ([`fsio::write_atomic`]).
//! - [`paths`]: file names relative to the folders users know (the one rule of every view).
//! - [`merge::merge`]: several traces (processes) into one, clocks aligned.
//! - [`flame::flame`] / [`flame::sandwich`]: calls merged by call path (flame graph), callers and callees
//!   of a function; [`compare::compare`] / [`compare::diff_flame`]: two traces compared per function and per path.
//! - [`stacks`]: self times and folded stacks; [`units`]: durations as text, terminal widths.

pub mod assets;
pub mod calltree;
pub mod colours;
pub mod compare;
pub mod escape;
pub mod evcxr;
pub mod filetrace;
pub mod flame;
pub mod formats;
pub mod fsio;
pub mod labext;
pub mod load;
pub mod merge;
pub mod model;
pub mod paths;
pub mod privdir;
pub mod process;
pub mod record;
pub mod stacks;
pub mod summary;
pub mod synthetic;
pub mod table;
pub mod tasks;
pub mod units;
pub mod window;
pub mod winindex;

pub use load::{load, load_bytes, LoadError};
pub use model::{
    Band, CallFlags, Calls, ClockAlignment, Code, CodeId, Event, EventKind, ProcessInfo, Recording, ThreadInfo, ThreadRecord,
    Trace,
};
