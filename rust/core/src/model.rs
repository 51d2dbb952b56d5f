//! The core types. Times are integer nanoseconds; in a [`Trace`] they are relative to
//! `Trace::origin_ns` (the absolute monotonic time of t = 0).

/// Index into `Trace::codes` / `Recording::codes`.
pub type CodeId = u32;

/// A function: what a call record points at (interned: one per distinct (file, name, first line)).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Code {
    pub file: String,
    pub name: String,
    pub first_line: u32,
}

/// Kind of a flat event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum EventKind {
    /// A call starts (function entry, or a generator/coroutine resume).
    Call = 0,
    /// A call ends (return, exception unwinding the frame, or a generator/coroutine suspension).
    Return = 1,
}

/// One flat event as the hook records it: 16 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C)]
pub struct Event {
    /// Absolute monotonic clock (CLOCK_MONOTONIC, the clock of `time.perf_counter`), ns.
    pub t_ns: u64,
    pub code: CodeId,
    pub kind: EventKind,
}

/// The flat events of one thread, in the order that thread produced them.
#[derive(Debug, Clone, Default)]
pub struct ThreadRecord {
    /// OS thread id (`threading.get_native_id()`), or 0 when unknown (PYME text files).
    pub os_id: u64,
    /// Python thread ident (`threading.get_ident()`), or 0 when unknown.
    pub ident: u64,
    /// The thread's names over time: (absolute t_ns from which the name holds, name). At least one.
    pub names: Vec<(u64, String)>,
    /// Events in chunks (the hook's buffers, handed over without copying); read in order.
    pub chunks: Vec<Vec<Event>>,
}

/// A finished recording, before tree building.
#[derive(Debug, Clone, Default)]
pub struct Recording {
    pub codes: Vec<Code>,
    pub threads: Vec<ThreadRecord>,
    /// Absolute monotonic times of the start and stop of recording, ns.
    pub start_ns: u64,
    pub stop_ns: u64,
    /// Free-form metadata kept with the trace (subs, python version, whether the cap was hit, ...).
    pub metadata: Vec<(String, String)>,
    /// The process that made the recording (its `start_ns`/`end_ns` are set by the builder from
    /// `start_ns`/`stop_ns`).
    pub process: ProcessInfo,
}

/// How a process's clock was placed on the trace's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockAlignment {
    /// Added to this process's clock readings to get the trace's clock (ns).
    pub offset_ns: i64,
    /// The offset is right to within this many ns (0: exact, same clock).
    pub uncertainty_ns: u64,
    /// The offset was measured (or the clock is shared). `false`: it could not be measured, so the
    /// process is shown on its own clock (started at the trace's start) and its times cannot be
    /// compared with other processes'.
    pub aligned: bool,
}

impl Default for ClockAlignment {
    fn default() -> Self {
        ClockAlignment { offset_ns: 0, uncertainty_ns: 0, aligned: true }
    }
}

/// One process of a trace. Times are relative to `Trace::origin_ns`, on the trace's clock.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProcessInfo {
    /// OS process id (0 when unknown: PYME files, `.fpt` version 1).
    pub pid: u64,
    /// Parent's process id (0 when unknown).
    pub parent_pid: u64,
    /// A Dask worker's name, a multiprocessing process's name, or the program and its arguments.
    pub name: String,
    /// Host name (empty when unknown).
    pub host: String,
    /// When its recording started and ended.
    pub start_ns: i64,
    pub end_ns: i64,
    /// Exit status where known (negative: killed by that signal).
    pub exit_status: Option<i32>,
    pub clock: ClockAlignment,
    /// Its trace is incomplete: the process was killed or still running when the recording stopped,
    /// so only what it had written out is here.
    pub incomplete: bool,
}

/// A labelled span shown above a thread's calls (a Dask task the thread ran).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Band {
    /// Index in `Trace::threads`.
    pub thread: u32,
    pub start_ns: i64,
    pub end_ns: i64,
    pub label: String,
}

/// Flags of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CallFlags(pub u8);
impl CallFlags {
    /// Still running when recording stopped: closed at the stop time.
    pub const UNFINISHED: u8 = 1;
    /// Began before recording started (a return with no open call): opened at the thread's first time.
    pub const STARTED_BEFORE: u8 = 2;
    pub fn unfinished(self) -> bool {
        self.0 & Self::UNFINISHED != 0
    }
    pub fn started_before(self) -> bool {
        self.0 & Self::STARTED_BEFORE != 0
    }
}

/// One thread of a trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadInfo {
    pub os_id: u64,
    /// Names over time: (t_ns relative to origin, name); at least one; the first at `first_ns`.
    pub names: Vec<(i64, String)>,
    /// First and last event time, relative to origin.
    pub first_ns: i64,
    pub last_ns: i64,
    /// Overview lane, assigned as PYME assigns them.
    pub lane: u32,
    /// Index of its process in `Trace::processes`.
    pub process: u32,
    /// This thread's calls are `calls[call_range.0 .. call_range.1]`.
    pub call_range: (u32, u32),
}

impl ThreadInfo {
    /// The thread's latest name.
    pub fn name(&self) -> &str {
        self.names.last().map(|(_, n)| n.as_str()).unwrap_or("")
    }
}

/// Calls as columns (struct of arrays), grouped by thread (see `ThreadInfo::call_range`), and
/// within a thread in pre-order: by start time, a parent before its children.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Calls {
    pub start_ns: Vec<i64>,
    pub end_ns: Vec<i64>,
    pub code: Vec<CodeId>,
    /// 0 = outermost recorded call of its thread.
    pub depth: Vec<u32>,
    /// Index of the parent call, or `u32::MAX` for a top-level call.
    pub parent: Vec<u32>,
    pub flags: Vec<CallFlags>,
}

impl Calls {
    /// Empty columns with room for `n` calls.
    pub fn with_capacity(n: usize) -> Self {
        Calls {
            start_ns: Vec::with_capacity(n),
            end_ns: Vec::with_capacity(n),
            code: Vec::with_capacity(n),
            depth: Vec::with_capacity(n),
            parent: Vec::with_capacity(n),
            flags: Vec::with_capacity(n),
        }
    }
    pub fn len(&self) -> usize {
        self.start_ns.len()
    }
    pub fn is_empty(&self) -> bool {
        self.start_ns.is_empty()
    }
    /// Drops spare capacity, so the columns take 29 bytes per call.
    pub fn shrink_to_fit(&mut self) {
        self.start_ns.shrink_to_fit();
        self.end_ns.shrink_to_fit();
        self.code.shrink_to_fit();
        self.depth.shrink_to_fit();
        self.parent.shrink_to_fit();
        self.flags.shrink_to_fit();
    }
    /// Bytes held by the columns (capacity, not length).
    pub fn heap_bytes(&self) -> usize {
        self.start_ns.capacity() * 8
            + self.end_ns.capacity() * 8
            + self.code.capacity() * 4
            + self.depth.capacity() * 4
            + self.parent.capacity() * 4
            + self.flags.capacity()
    }
}

/// A trace: per-thread call trees. The one core type every format reads or writes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trace {
    /// Absolute monotonic time of t = 0, ns (0 when unknown).
    pub origin_ns: u64,
    pub codes: Vec<Code>,
    pub threads: Vec<ThreadInfo>,
    pub calls: Calls,
    pub metadata: Vec<(String, String)>,
    /// The processes; every thread's `process` indexes this. One for a one-process trace (with
    /// pid 0 when the file did not say), empty only for a trace with no threads.
    pub processes: Vec<ProcessInfo>,
    /// Labelled spans above threads' calls (Dask tasks), ordered by thread then start.
    pub bands: Vec<Band>,
}

impl Trace {
    /// From t = 0 (or the first event, when one comes before it) to the last event of any thread,
    /// ns; 0 for a trace without threads (`Trace.duration_ns` in Python, every caption).
    pub fn duration_ns(&self) -> i64 {
        let first = self.threads.iter().map(|th| th.first_ns).min();
        let last = self.threads.iter().map(|th| th.last_ns).max();
        match (first, last) {
            (Some(f), Some(l)) => l.saturating_sub(f.min(0)).max(0),
            _ => 0,
        }
    }
    /// The process a thread belongs to.
    pub fn process_of(&self, thread: usize) -> Option<&ProcessInfo> {
        self.threads.get(thread).and_then(|t| self.processes.get(t.process as usize))
    }
    /// How exports name process `p`: "name (pid)", or "pid N" without a name, the name without a
    /// pid, "process N" (1-based) with neither.
    pub fn process_label(&self, p: usize) -> String {
        let (name, pid) = self.processes.get(p).map_or(("", 0), |pr| (pr.name.as_str(), pr.pid));
        match (name.is_empty(), pid) {
            (false, 0) => name.to_string(),
            (false, pid) => format!("{name} ({pid})"),
            (true, 0) => format!("process {}", p + 1),
            (true, pid) => format!("pid {pid}"),
        }
    }
    /// How exports that have no process level (PYME JSON and text, speedscope) name a thread whose
    /// name is `name`: the name itself in a one-process trace (as before processes existed), else
    /// "process label / name", so that threads of different processes stay apart.
    pub fn thread_key(&self, thread: usize, name: &str) -> String {
        if self.processes.len() <= 1 {
            return name.to_string();
        }
        let p = self.threads.get(thread).map_or(0, |t| t.process as usize);
        format!("{} / {name}", self.process_label(p))
    }
    /// One process spanning the threads (for formats that do not name processes): pid 0, start and
    /// end from the threads.
    pub fn one_process(threads: &[ThreadInfo]) -> Vec<ProcessInfo> {
        if threads.is_empty() {
            return Vec::new();
        }
        let start_ns = threads.iter().map(|t| t.first_ns).min().unwrap_or(0);
        let end_ns = threads.iter().map(|t| t.last_ns).max().unwrap_or(0);
        vec![ProcessInfo { start_ns, end_ns, ..ProcessInfo::default() }]
    }
}
