//! Recording in the core: where a recording's events go while it runs.
//!
//! The binding's writer thread (`rust/python/src/hook/writer.rs`) is a loop: every round it takes
//! the events each recorded thread published, polls the threads' names, and hands the round to one
//! [`Sink`]: the live PYME raw text outfile ([`text`]), a streamed `.fpt` outfile or the flight
//! recorder's ring in memory ([`streamed`], [`ring`]), or a child process's spool ([`spool`]). The
//! sinks are plain Rust (no Python), so `cargo test -p fprofile` covers them (`tests/record.rs`)
//! with a [`Round`] of its own.
//!
//! Rules: a sink never blocks on the recording (it only reads what the round hands it); after a
//! failure (a write that failed, a disk nearly full) it writes nothing more and says so
//! ([`Status::Failed`], or [`Status::Stop`] when the recording cannot go on without it); every
//! event time a sink writes is converted by the round's [`Clock`] (raw ticks to CLOCK_MONOTONIC
//! ns).

pub mod compact;
pub mod options;
pub mod ring;
pub mod spool;
pub mod streamed;
pub mod text;

pub use options::{OptionsError, RecordOptions};
pub use ring::{Keep, Ring};

use crate::{Code, Event};

/// One recorded thread as a sink follows it across rounds (the loop keeps one per thread and hands
/// it back with the thread every round).
#[derive(Debug, Default, Clone)]
pub struct ThreadCursor {
    /// The thread's number in the sink's output, once declared there.
    pub id: Option<u32>,
    /// How many of the thread's names were written.
    pub names_written: usize,
    /// The time of the thread's last event written (converted): a converted time a few ns before
    /// it, across a clock calibration, is moved up to it (a thread's times are written in order).
    pub last_ns: u64,
}

impl ThreadCursor {
    /// `t`, or the thread's previous time when `t` is before it (then the new previous time).
    pub fn in_order(&mut self, t: u64) -> u64 {
        self.last_ns = self.last_ns.max(t);
        self.last_ns
    }

    /// The thread's number in the sink's output; a thread not declared yet gets `*next` (and
    /// `*next` moves on), which `declare` announces to the output first.
    pub fn id_or_declare(&mut self, next: &mut u32, declare: impl FnOnce(u32)) -> u32 {
        if let Some(id) = self.id {
            return id;
        }
        let id = *next;
        *next += 1;
        declare(id);
        self.id = Some(id);
        id
    }
}

/// What a round hands a sink: the recorded threads, their names and new events, and the codes.
pub trait Round {
    /// Threads in this round (index `0..threads()`).
    fn threads(&self) -> usize;
    /// Thread `i`'s OS id and `threading` ident, and its cursor.
    fn thread(&mut self, i: usize) -> (u64, u64, &mut ThreadCursor);
    /// Thread `i`'s names from the `from`-th on, each (time in ns, name); returns how many names
    /// it has in all.
    fn names(&self, i: usize, from: usize, each: &mut dyn FnMut(u64, &str)) -> usize;
    /// Hands the events thread `i` published since the last call, in order, one piece per chunk;
    /// `free`: a full chunk, once handed over, is freed (nothing else needs it).
    fn take_events(&mut self, i: usize, free: bool, each: &mut dyn FnMut(&[Event]));
    /// The code table from the `from`-th code on; returns how many codes there are in all. Read
    /// after the events were taken, it holds every code they refer to.
    fn codes(&self, from: usize, each: &mut dyn FnMut(&[Code])) -> usize;
}

/// The recording's clock as a round sees it.
pub trait Clock {
    /// An event's raw time as absolute ns (CLOCK_MONOTONIC).
    fn convert(&mut self, raw: u64) -> u64;
    /// Now, absolute ns (CLOCK_MONOTONIC).
    fn now_ns(&self) -> u64;
}

/// How a sink's last round ends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// The recording stopped: its stop time (absolute ns), the metadata known only then, and (a
    /// child process's spool) its exit status.
    Stop { stop_ns: u64, metadata: Vec<(String, String)>, exit_status: Option<i32> },
    /// A child process whose parent stopped (or died): everything so far is written, the process
    /// runs on unrecorded.
    FlushedRunning,
}

/// What a round left a sink in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Writing goes on.
    Writing,
    /// The end was written: nothing more will be.
    Ended,
    /// Writing failed: nothing more is written, the recording goes on in memory (the text
    /// outfile: the trace is built from memory at stop; a spool: the child's events are lost).
    Failed,
    /// Writing failed or the disk guard stopped it, and the recording must stop (a streamed
    /// outfile, whose trace is the file; [`Report::error`] says why).
    Stop,
}

/// What a sink reports at the recording's stop.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    /// Writing the outfile failed, or the disk guard stopped the recording: what happened.
    pub error: Option<String>,
    /// A streamed outfile: the events, threads and codes written to it.
    pub events_written: u64,
    pub threads_written: usize,
    pub codes_written: usize,
}

/// Where a recording's events go while it runs, besides memory.
pub trait Sink: Send {
    /// A round: the new codes, threads, names and events; `end`: the last round, which ends it.
    fn round(&mut self, round: &mut dyn Round, clock: &mut dyn Clock, end: Option<End>) -> Status;
    /// The process's name as it is known now (a child's `multiprocessing` name): written with the
    /// next round, where the sink has a place for it.
    fn process_name(&mut self, _name: String) {}
    /// Still writing (neither ended nor failed).
    fn writing(&self) -> bool;
    /// What the recording's stop reports.
    fn report(&self) -> Report;
}
