//! The session's background thread (plain Rust, off the hot path). One thread per process, kept
//! across recordings: a stop leaves it parked for the next start ([`Parked`]).
//!
//! Every 50 ms it checks the recorded threads for renames (taking the GIL briefly) and, when an
//! outfile was given, drains what every thread has published since the last round and appends it
//! to the file as PYME raw text lines (sorted by time within a round). Lines are formatted from
//! parts precomputed per code and thread, and written in pieces that end at a line's end (no
//! buffering across rounds): a process that dies leaves whole lines up to the last round (only a
//! kill in the middle of a write can cut the last line, which the reader then drops with a
//! warning). At stop it writes everything that is left (nothing is lost) before the events are
//! handed to the tree builder.
//!
//! In a child process of a recording (`processes=True`) it writes the spool instead
//! ([`fprofile::formats::spool`]): each round, the new codes, threads, names and events (times
//! converted to CLOCK_MONOTONIC ns) as whole records in one write, then a flush mark; the
//! `multiprocessing` name of the process when it gets one. A full chunk, once spooled, is freed.
//! When the parent's stop marker appears in the session directory, or the parent's lock is free
//! (it died without stopping: one `flock` attempt per round), it stops the recording, writes what
//! is left, an end record ("flushed, still running") and the `<pid>.done` acknowledgement, and
//! ends. At the child's own stop it writes the end record with the exit status, then
//! `<pid>.done`. Every file is made relative to the open session directory
//! ([`super::join::ChildSession`]). A child's writer never waits for the GIL: the names are read
//! by a helper thread ([`NamePoll`]), so a program holding the GIL in C code still has its events
//! written every round.
//!
//! Threads that ended ([`ThreadShared::has_ended`]) are dropped from the rounds once their last
//! name is read and their last events written, so a program that has made 100,000 short threads
//! costs each round only the threads alive now.

use fprofile::formats::spool::{self, Encoder, EndHow};
use fprofile::formats::stream;
use fprofile::fsio::Output;
use fprofile::ProcessInfo;
use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use fprofile::formats::pyme_text::{escaped, push_event_line, CodeLine};
use fprofile::{Code, Event};
use pyo3::prelude::*;

use super::clock::{now_ns, Points};
use super::join::ChildSession;
use super::names::{multiprocessing_name, poll_one_name};
use super::state::{self, RECORDING, STREAM_BACKLOG, TERM};
use super::sync::lock;
use super::thread::ThreadShared;

const PERIOD: Duration = Duration::from_millis(50);
/// A child's writer looks for the parent's stop marker (one `stat`) and for SIGTERM this often
/// between rounds, so that the parent's stop waits little for its acknowledgement.
const CHILD_POLL: Duration = Duration::from_millis(5);
/// A child's last round (the parent stopped, SIGTERM) waits this long at most for the names
/// (they need the GIL, which the program may hold).
const LAST_NAMES_WAIT: Duration = Duration::from_millis(200);
/// Events formatted at a time (then written): bounds the text held in memory to a few MiB.
const BATCH_EVENTS: usize = 1 << 16;
/// Largest piece handed to one `write` (cut at a line's end).
const PIECE: usize = 1 << 20;

type Threads = Arc<Mutex<Vec<Arc<ThreadShared>>>>;

/// Where the events go while recording, besides memory.
pub(crate) enum Sink {
    /// Nowhere (a recording without outfile).
    None,
    /// The live PYME raw text outfile.
    Text(Output),
    /// A child process's spool.
    Spool(SpoolOut),
    /// A streamed `.fpt` outfile ([`fprofile::formats::stream`]).
    Stream(StreamOut),
}

/// Where a streamed recording's chunks go.
pub(crate) enum Dest {
    /// A streamed `.fpt` outfile (and its path).
    File(Output, PathBuf),
    /// The flight recorder's ring (`keep_last`), in memory.
    Ring(Arc<Mutex<stream::Ring>>),
}

/// A streamed recording (to a file or the flight recorder's ring) and what it starts with.
pub(crate) struct StreamOut {
    pub dest: Dest,
    pub process: ProcessInfo,
    pub start_ns: u64,
    pub metadata: Vec<(String, String)>,
    /// The session's generation (recording is stopped when the disk fills up).
    pub gen: u32,
    /// Recording stops when the free space of the outfile's file system falls below this.
    pub min_free_bytes: u64,
}

/// A child process's spool file and what it starts with.
pub(crate) struct SpoolOut {
    pub file: File,
    /// The session directory, open (the parent's stop marker `stop` and lock; our
    /// acknowledgement `<pid>.done`).
    pub dir: ChildSession,
    pub process: ProcessInfo,
    pub start_ns: u64,
    pub metadata: Vec<(String, String)>,
    /// The session's generation (recording is stopped when the parent's stop marker appears).
    pub gen: u32,
}

/// How a child process ends its spool, or a streamed outfile its file (see [`Background::finish`]).
#[derive(Default)]
pub(crate) struct ChildEnd {
    pub exit_status: Option<i32>,
    pub process_name: Option<String>,
    /// A streamed outfile: the stop time (absolute ns) and the recording's last metadata.
    pub stream_end: Option<(u64, Vec<(String, String)>)>,
}

/// What the background thread reports when it ends.
#[derive(Default)]
pub(crate) struct Finished {
    /// Writing the outfile failed, or the disk guard stopped the recording: what happened.
    pub error: Option<String>,
    /// A streamed outfile: the events, threads and codes written to it.
    pub events_written: u64,
    pub threads_written: usize,
    pub codes_written: usize,
}

/// What `finish` asks of the background thread.
#[derive(Default)]
struct StopReq {
    stop: bool,
    /// The exit status for the spool's end record.
    exit_status: Option<i32>,
    /// The process's name as the child knows it at its end (`multiprocessing`'s).
    process_name: Option<String>,
    /// A streamed outfile's stop time and last metadata.
    stream_end: Option<(u64, Vec<(String, String)>)>,
    /// Someone asks for a round now and waits for it (`os._exit`): the rounds done so far.
    flush_wanted: bool,
    rounds: u64,
    /// A round is under way (it may have taken the threads' events already).
    in_round: bool,
}

pub(crate) struct Background {
    stop: Arc<(Mutex<StopReq>, Condvar)>,
    /// The writer thread's job: its result once `run` returned.
    done: Option<Arc<(Mutex<Option<Finished>>, Condvar)>>,
    /// The thread running it (a parked one: see [`Parked`]).
    thread: Option<std::thread::ThreadId>,
    /// An outfile was given (so a writer thread that could not start means a lost file).
    has_file: bool,
}

type Job = Box<dyn FnOnce() + Send>;

/// The writer thread, kept across recordings: a stop leaves it parked (waiting for the next
/// recording's job) instead of ending it, so a start and a stop cost no thread creation and join
/// (about 50 µs of CPU, most of a start+stop without children). One per process: a fork child,
/// which has no copy of the thread, makes its own; a job that arrives while the parked thread is
/// still busy (a stop made from the writer thread itself returns before the round ends) gets a
/// thread of its own, which ends with it.
struct Parked {
    jobs: std::sync::mpsc::Sender<Job>,
    busy: Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::ThreadId,
    pid: u32,
}

static PARKED: Mutex<Option<Parked>> = Mutex::new(None);

/// Runs `job` on the parked writer thread (made the first time, and again in a new process or
/// when it is busy): the thread's id, or None when no thread could be started.
fn on_writer_thread(job: Job) -> Option<std::thread::ThreadId> {
    let pid = std::process::id();
    let mut parked = lock(&PARKED);
    let job = match parked.as_ref() {
        Some(p) if p.pid == pid && !p.busy.swap(true, Ordering::AcqRel) => match p.jobs.send(job) {
            Ok(()) => return Some(p.thread),
            Err(e) => e.0, // (the thread is gone: a new one below)
        },
        Some(p) if p.pid == pid => {
            // busy: this job gets a thread of its own
            let h = std::thread::Builder::new().name("fprofile-writer".into()).spawn(job).ok()?;
            return Some(h.thread().id());
        }
        _ => job,
    };
    let (tx, rx) = std::sync::mpsc::channel::<Job>();
    let busy = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let busy2 = busy.clone();
    let h = std::thread::Builder::new()
        .name("fprofile-writer".into())
        .spawn(move || {
            while let Ok(job) = rx.recv() {
                job();
                busy2.store(false, Ordering::Release);
            }
        })
        .ok()?;
    let thread = h.thread().id();
    tx.send(job).ok()?;
    *parked = Some(Parked { jobs: tx, busy, thread, pid });
    Some(thread)
}

impl Background {
    /// Starts the writer's job on the parked writer thread; `codes` (the codes as the sink writes
    /// them) is needed for a sink.
    pub(crate) fn spawn(threads: Threads, codes: Option<Arc<Mutex<Vec<Code>>>>, sink: Sink, points: Points) -> Background {
        let stop = Arc::new((Mutex::new(StopReq::default()), Condvar::new()));
        let stop2 = stop.clone();
        let has_file = !matches!(sink, Sink::None);
        let done: Arc<(Mutex<Option<Finished>>, Condvar)> = Arc::default();
        let done2 = done.clone();
        let thread = on_writer_thread(Box::new(move || {
            let f = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(threads, codes, sink, stop2, points)))
                .unwrap_or_else(|_| Finished { error: Some("the live writer thread failed".into()), ..Finished::default() });
            let (m, c) = &*done2;
            *lock(m) = Some(f);
            c.notify_all();
        }));
        Background { stop, done: thread.is_some().then_some(done), thread, has_file }
    }

    /// Final round and wait for it (GIL released meanwhile). Returns an I/O error message, if any.
    /// `end`: for a child's spool, the exit status its end record gives and the process's name.
    pub(crate) fn finish(mut self, py: Python<'_>, end: ChildEnd) -> Finished {
        {
            let (m, c) = &*self.stop;
            let mut g = lock(m);
            g.stop = true;
            g.exit_status = end.exit_status;
            g.process_name = end.process_name;
            g.stream_end = end.stream_end;
            c.notify_all();
        }
        let error = |e: &str| Finished { error: self.has_file.then(|| e.to_string()), ..Finished::default() };
        let (Some(done), Some(thread)) = (self.done.take(), self.thread) else {
            return error("the live writer thread could not be started: nothing was written to the outfile");
        };
        if thread == std::thread::current().id() {
            // Stopped by Python code run on this very thread (a `Thread` subclass's
            // `__getattribute__` run while reading a name, a finalizer): it cannot wait for itself.
            // It ends its job on its own after this round.
            return error(
                "the recording was stopped from fprofile's own background thread (by Python code run there), \
                 so the last events may be missing from the outfile",
            );
        }
        py.detach(move || {
            let (m, c) = &*done;
            let mut g = lock(m);
            loop {
                if let Some(f) = g.take() {
                    return f;
                }
                g = c.wait(g).unwrap_or_else(|e| e.into_inner());
            }
        })
    }

    /// A handle to ask for a round now ([`Flusher::flush`]), usable without the session borrowed.
    pub(crate) fn flusher(&self) -> Flusher {
        Flusher { stop: self.stop.clone(), thread: self.thread }
    }
}

/// Asks the background thread for a round now (see [`Background::flusher`]).
pub(crate) struct Flusher {
    stop: Arc<(Mutex<StopReq>, Condvar)>,
    thread: Option<std::thread::ThreadId>,
}

impl Flusher {
    /// Asks for a round now and waits for it to be written (GIL released meanwhile): what was
    /// recorded so far reaches the outfile (`os._exit` with a streamed outfile). Waits at most 2 s.
    pub(crate) fn flush(self, py: Python<'_>) {
        match self.thread {
            Some(t) if t != std::thread::current().id() => {}
            _ => return,
        }
        let stop = self.stop;
        py.detach(move || {
            let (m, c) = &*stop;
            let mut g = lock(m);
            // a round under way may have taken the threads' events already: then the next one
            let target = g.rounds + if g.in_round { 2 } else { 1 };
            g.flush_wanted = true;
            c.notify_all();
            let until = std::time::Instant::now() + Duration::from_secs(2);
            while g.rounds < target && !g.stop {
                let left = until.saturating_duration_since(std::time::Instant::now());
                if left.is_zero() {
                    break;
                }
                g = c.wait_timeout(g, left).unwrap_or_else(|e| e.into_inner()).0;
            }
        });
    }
}

/// A child's GIL work (its threads' renames, its `multiprocessing` name) runs on a helper thread
/// of its own (`fprofile-names`), asked for a poll each round when the last one is done: so a
/// child whose program holds the GIL in a long C call still writes its events every round (they
/// are in our buffers, no GIL needed) and still answers the parent's stop and notices a dead
/// session. The names a poll reads reach the spool at the round after.
#[derive(Default)]
struct NamePoll {
    shared: Arc<(Mutex<PollShared>, Condvar)>,
    handle: Option<JoinHandle<()>>,
    /// A poll was asked for and its result not taken yet.
    pending: bool,
}

/// Between the writer and its name helper.
#[derive(Default)]
struct PollShared {
    /// The threads to poll (asked for, not taken by the helper yet).
    want: Option<Vec<Arc<ThreadShared>>>,
    /// The last poll's result, until the writer takes it.
    done: Option<Polled>,
    /// The helper ends (after the poll under way, if any).
    quit: bool,
}

/// What one name poll found.
#[derive(Default)]
struct Polled {
    /// The threads that had ended when their name was read (their last name is in).
    ended: Vec<Arc<ThreadShared>>,
    process_name: Option<String>,
}

impl NamePoll {
    /// Takes the last poll's result when it is done (then the `multiprocessing` name it read),
    /// and asks for the next poll; nothing while the last one still waits for the GIL.
    fn round(&mut self, followed: &mut [Followed]) -> Option<String> {
        let name = self.collect(followed);
        if !self.pending {
            self.ask(followed);
        }
        name
    }

    /// The last round of a child (the parent stopped, SIGTERM): a poll, waited for at most
    /// `wait` (a worker ended right after its start has its names read here, unless its program
    /// holds the GIL all that time).
    fn last(&mut self, followed: &mut [Followed], wait: Duration) -> Option<String> {
        let mut name = self.collect(followed);
        if !self.pending {
            self.ask(followed);
        }
        if self.pending {
            let (m, c) = &*self.shared;
            let until = std::time::Instant::now() + wait;
            let mut g = lock(m);
            while g.done.is_none() {
                let left = until.saturating_duration_since(std::time::Instant::now());
                if left.is_zero() {
                    break;
                }
                g = c.wait_timeout(g, left).unwrap_or_else(|e| e.into_inner()).0;
            }
        }
        if let Some(n) = self.collect(followed) {
            name = Some(n);
        }
        name
    }

    /// The finished poll's result (then its `multiprocessing` name), if one finished.
    fn collect(&mut self, followed: &mut [Followed]) -> Option<String> {
        let p = lock(&self.shared.0).done.take()?;
        self.pending = false;
        for f in followed.iter_mut() {
            if p.ended.iter().any(|e| Arc::ptr_eq(e, &f.sh)) {
                f.final_name = true;
            }
        }
        p.process_name
    }

    fn ask(&mut self, followed: &[Followed]) {
        if self.handle.is_none() {
            let shared = self.shared.clone();
            self.handle = std::thread::Builder::new().name("fprofile-names".into()).spawn(move || poll_loop(&shared)).ok();
            if self.handle.is_none() {
                return; // (no thread: no names this round; asked again at the next)
            }
        }
        let list: Vec<Arc<ThreadShared>> = followed.iter().filter(|f| !f.final_name).map(|f| f.sh.clone()).collect();
        let (m, c) = &*self.shared;
        lock(m).want = Some(list);
        c.notify_all();
        self.pending = true;
    }

    /// Ends the helper and waits for it (the GIL must be free for a poll under way).
    fn join(&mut self) {
        self.quit();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }

    fn quit(&self) {
        let (m, c) = &*self.shared;
        lock(m).quit = true;
        c.notify_all();
    }
}

impl Drop for NamePoll {
    /// (the writer ended without [`NamePoll::join`]: the helper ends after its poll, on its own)
    fn drop(&mut self) {
        self.quit();
    }
}

/// The name helper's loop: a poll each time one is asked for, until told to quit.
fn poll_loop(shared: &(Mutex<PollShared>, Condvar)) {
    let (m, c) = shared;
    loop {
        let list = {
            let mut g = lock(m);
            loop {
                if g.quit {
                    return;
                }
                if let Some(list) = g.want.take() {
                    break list;
                }
                g = c.wait(g).unwrap_or_else(|e| e.into_inner());
            }
        };
        // SAFETY: `try_attach` gives us the GIL (or nothing when the interpreter is going away).
        let polled = Python::try_attach(|_py| unsafe {
            let mut ended = Vec::new();
            for sh in list {
                let has_ended = sh.has_ended();
                poll_one_name(&sh);
                if has_ended {
                    ended.push(sh);
                }
            }
            Polled { ended, process_name: multiprocessing_name() }
        })
        .unwrap_or_default();
        lock(m).done = Some(polled);
        c.notify_all();
    }
}

/// One recorded thread as the background thread follows it.
struct Followed {
    sh: Arc<ThreadShared>,
    /// Next event to write: chunk index, offset in it.
    chunk: usize,
    off: usize,
    /// Names seen so far (how many of `sh.names`), escaped for the file.
    names: Vec<(u64, Vec<u8>)>,
    /// The thread ended and its name was read once more after that.
    final_name: bool,
    /// Spool or stream: the thread's number in the file (once declared), names written.
    spool_id: Option<u32>,
    spool_names: usize,
    /// Stream: the time of the thread's last event written (its times are written in order: a
    /// converted time a few ns before the previous one, across a clock calibration, is moved up).
    stream_last_ns: u64,
}

impl Followed {
    /// Hands the events this thread published since the last call to `each`, in order (one piece
    /// per chunk). `free`: a full chunk, once handed over, is freed (the spool and the stream:
    /// nothing else needs it, so memory holds only what was not written yet).
    fn take_new(&mut self, free: bool, mut each: impl FnMut(&[Event])) {
        let mut c = lock(&self.sh.chunks);
        while self.chunk < c.full.len() {
            if free {
                let v = std::mem::take(&mut c.full[self.chunk]);
                let bytes = (v.capacity() * std::mem::size_of::<Event>()) as u64;
                let _ = STREAM_BACKLOG.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| Some(b.saturating_sub(bytes)));
                if self.off < v.len() {
                    each(&v[self.off..]);
                }
            } else if let Some(v) = c.full.get(self.chunk).filter(|v| self.off < v.len()) {
                each(&v[self.off..]);
            }
            self.chunk += 1;
            self.off = 0;
        }
        if !c.cur_ptr.is_null() {
            let n = self.sh.len.load(Ordering::Acquire).min(c.cur_cap);
            if n > self.off {
                // SAFETY: the first `n` events of the current chunk were written before `n` was
                // published (Release/Acquire), and are never written again; the chunk cannot be
                // swapped or freed while we hold its mutex.
                let s = unsafe { std::slice::from_raw_parts(c.cur_ptr.add(self.off), n - self.off) };
                each(s);
                self.off = n;
            }
        }
    }

    /// The thread ended, its last name was read, and everything it recorded was written (or
    /// there is no file): nothing more to do for it.
    fn done(&self, writing: bool) -> bool {
        if !self.final_name {
            return false;
        }
        if !writing {
            return true;
        }
        let c = lock(&self.sh.chunks);
        c.cur_ptr.is_null() && self.chunk >= c.full.len()
    }
}

struct Writer {
    out: Output,
    codes: Arc<Mutex<Vec<Code>>>,
    lines: Vec<CodeLine>,
    text: Vec<u8>,
    error: Option<String>,
}

fn run(
    threads: Threads,
    codes: Option<Arc<Mutex<Vec<Code>>>>,
    sink: Sink,
    stop: Arc<(Mutex<StopReq>, Condvar)>,
    points: Points,
) -> Finished {
    let mut writer = None;
    let mut spooler = None;
    let mut streamer = None;
    match (codes, sink) {
        (Some(codes), Sink::Text(file)) => {
            writer = Some(Writer { out: file, codes, lines: Vec::new(), text: Vec::with_capacity(8 << 20), error: None })
        }
        (Some(codes), Sink::Spool(out)) => spooler = Some(Spooler::new(out, codes)),
        (Some(codes), Sink::Stream(out)) => streamer = Some(Streamer::new(out, codes)),
        _ => {}
    }
    // Every thread of the session seen so far (the session's list only grows), and those still followed.
    let mut seen = 0usize;
    let mut followed: Vec<Followed> = Vec::new();
    let mut name_poll = NamePoll::default();
    loop {
        let (stopping, exit_status, final_name, stream_end) = {
            let (m, c) = &*stop;
            let mut g = lock(m);
            match spooler.as_ref() {
                None => {
                    if !g.stop && !g.flush_wanted {
                        g = c.wait_timeout(g, PERIOD).unwrap_or_else(|e| e.into_inner()).0;
                    }
                    g.flush_wanted = false;
                    g.in_round = true;
                }
                Some(sp) => {
                    let until = std::time::Instant::now() + PERIOD;
                    while !g.stop && !TERM.load(Ordering::Relaxed) && !sp.parent_stopped() {
                        let left = until.saturating_duration_since(std::time::Instant::now());
                        if left.is_zero() {
                            break;
                        }
                        g = c.wait_timeout(g, left.min(CHILD_POLL)).unwrap_or_else(|e| e.into_inner()).0;
                    }
                }
            }
            (g.stop, g.exit_status, g.process_name.take(), g.stream_end.take())
        };
        if let (Some(sp), Some(name)) = (spooler.as_mut(), final_name) {
            sp.process_name = Some(name);
        }
        // A child that got SIGTERM (caught while it records): write everything and end it.
        let term = !stopping && spooler.is_some() && TERM.load(Ordering::Relaxed);
        // A child whose parent stopped recording, or died without stopping (its lock is free):
        // stop too, after this round (what was recorded stays in the spool).
        let parent_stopped = !stopping && !term && spooler.as_ref().is_some_and(|sp| sp.parent_stopped() || sp.parent_gone());
        if parent_stopped || term {
            if let Some(sp) = spooler.as_ref() {
                let _ = RECORDING.compare_exchange(sp.gen, 0, Ordering::AcqRel, Ordering::Relaxed);
            }
        }
        {
            let list = lock(&threads);
            for sh in list.iter().skip(seen) {
                followed.push(Followed {
                    sh: sh.clone(),
                    chunk: 0,
                    off: 0,
                    names: Vec::new(),
                    final_name: false,
                    spool_id: None,
                    spool_names: 0,
                    stream_last_ns: 0,
                });
            }
            seen = list.len();
        }
        // (on SIGTERM and at the parent's stop too: a worker ended so soon after its start that no
        // round read its name yet gets it here, unless its program holds the GIL for LAST_NAMES_WAIT)
        if let (false, Some(sp)) = (stopping, spooler.as_mut()) {
            // (a child never waits for the GIL long: see `NamePoll`)
            let name = if parent_stopped || term {
                name_poll.last(&mut followed, LAST_NAMES_WAIT)
            } else {
                name_poll.round(&mut followed)
            };
            if let Some(name) = name {
                sp.process_name = Some(name);
            }
        } else if !stopping {
            let want_process_name = spooler.is_some();
            // SAFETY: `try_attach` gives us the GIL (or nothing when the interpreter is going away).
            let name = Python::try_attach(|_py| unsafe {
                for f in followed.iter_mut().filter(|f| !f.final_name) {
                    let ended = f.sh.has_ended();
                    poll_one_name(&f.sh);
                    f.final_name = ended;
                }
                if want_process_name {
                    multiprocessing_name()
                } else {
                    None
                }
            });
            if let (Some(sp), Some(Some(name))) = (spooler.as_mut(), name) {
                sp.process_name = Some(name);
            }
        }
        super::clock::calibrate_into(&points, false);
        if let Some(w) = writer.as_mut() {
            w.drain(&mut followed, &points);
        }
        if let Some(st) = streamer.as_mut() {
            st.round(&mut followed, &points, if stopping { Some(stream_end.unwrap_or_default()) } else { None });
        }
        {
            let (m, c) = &*stop;
            let mut g = lock(m);
            g.rounds += 1;
            g.in_round = false;
            c.notify_all();
        }
        if let Some(sp) = spooler.as_mut() {
            let end = if stopping {
                Some((EndHow::Exited, exit_status))
            } else if term {
                Some((EndHow::Exited, Some(-libc::SIGTERM)))
            } else if parent_stopped {
                Some((EndHow::FlushedRunning, None))
            } else {
                None
            };
            sp.round(&mut followed, &points, end);
            if term {
                state::die_of_sigterm();
            }
            if parent_stopped || term {
                state::release_sigterm();
                return Finished::default();
            }
        }
        if stopping {
            break;
        }
        let writing = writer.as_ref().is_some_and(|w| w.error.is_none())
            || spooler.as_ref().is_some_and(|s| !s.failed)
            || streamer.as_ref().is_some_and(|s| !s.ended);
        followed.retain(|f| !f.done(writing));
    }
    if spooler.is_some() {
        state::release_sigterm();
        // (the child's own stop: the GIL is released while it waits for us, the poll ends)
        name_poll.join();
    }
    match (writer, streamer) {
        (Some(w), _) => Finished { error: w.error, ..Finished::default() },
        (None, Some(st)) => Finished {
            error: st.error,
            events_written: st.events_written,
            threads_written: st.next_thread as usize,
            codes_written: st.codes_written,
        },
        (None, None) => Finished::default(),
    }
}

/// `t`, or the thread's previous time when `t` is before it (then the new previous time).
fn in_order(last: &mut u64, t: u64) -> u64 {
    *last = (*last).max(t);
    *last
}

/// Free bytes (for an unprivileged user) of the file system holding `path`, if it can be told.
fn free_bytes(path: &std::path::Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: a valid NUL-terminated path and a zeroed out-structure statvfs fills.
    unsafe {
        let mut v: libc::statvfs = std::mem::zeroed();
        (libc::statvfs(c.as_ptr(), &mut v) == 0).then(|| (v.f_bavail as u64).saturating_mul(v.f_frsize as u64))
    }
}

/// Raw events of a round above this are framed as a chunk at once (chunks stay far below
/// [`fprofile::formats::stream::MAX_CHUNK_RAW`]).
const STREAM_CHUNK_BYTES: usize = 8 << 20;

/// A streamed `.fpt` outfile as the background thread writes it: each round, the new codes,
/// threads and names, then the round's events, as compressed chunks in one write; the end chunk at
/// stop. Events are freed once encoded (memory stays bounded whatever the run's length).
struct Streamer {
    dest: Dest,
    gen: u32,
    min_free_bytes: u64,
    codes: Arc<Mutex<Vec<Code>>>,
    codes_written: usize,
    next_thread: u32,
    enc: stream::Encoder,
    new_threads: Vec<stream::NewThread>,
    new_names: Vec<(u32, u64, String)>,
    process_name: Option<String>,
    events_written: u64,
    /// Writing failed or the disk guard stopped the recording: what to tell the user.
    error: Option<String>,
    /// The end chunk was written (or writing is given up): nothing more is written.
    ended: bool,
}

impl Streamer {
    fn new(o: StreamOut, codes: Arc<Mutex<Vec<Code>>>) -> Streamer {
        let mut enc = stream::Encoder::default();
        enc.header();
        enc.process(&o.process, o.start_ns);
        enc.metadata(&o.metadata);
        let mut s = Streamer {
            dest: o.dest,
            gen: o.gen,
            min_free_bytes: o.min_free_bytes,
            codes,
            codes_written: 0,
            next_thread: 0,
            enc,
            new_threads: Vec::new(),
            new_names: Vec::new(),
            process_name: None,
            events_written: 0,
            error: None,
            ended: false,
        };
        s.write();
        s
    }

    /// The new codes, threads and names, then the events taken so far, framed as chunks.
    fn frame_pending(&mut self, until_ns: u64) {
        {
            let c = lock(&self.codes);
            if c.len() > self.codes_written {
                self.enc.codes(self.codes_written as u32, &c[self.codes_written..]);
                self.codes_written = c.len();
            }
        }
        let names: Vec<(u32, u64, &str)> = self.new_names.iter().map(|(t, at, n)| (*t, *at, n.as_str())).collect();
        self.enc.threads(&self.new_threads, &names);
        self.new_threads.clear();
        self.new_names.clear();
        if self.enc.pending_event_bytes() > 0 {
            self.events_written += self.enc.flush_events(until_ns);
        }
    }

    /// Writes what is framed; a failure ends the recording (and the file where it is).
    fn write(&mut self) {
        if !self.ended {
            let failed = match &mut self.dest {
                Dest::File(out, path) => {
                    out.write_all(&self.enc.out).err().map(|e| format!("writing the outfile {} failed: {e}", path.display()))
                }
                Dest::Ring(ring) => {
                    lock(ring).push(&self.enc.out, &self.enc.frames);
                    None
                }
            };
            if let Some(msg) = failed {
                self.fail(msg);
            }
        }
        self.enc.clear();
    }

    fn fail(&mut self, msg: String) {
        if self.error.is_none() {
            self.error = Some(msg);
        }
        self.ended = true;
        let _ = RECORDING.compare_exchange(self.gen, 0, Ordering::AcqRel, Ordering::Relaxed);
    }

    /// The outfile's file system is nearly full: its free bytes and the path. What is framed and
    /// about to be written counts, so that a slow round with a backlog stops before it eats into
    /// the margin the end chunk needs.
    fn disk_low(&self) -> Option<(u64, std::path::PathBuf)> {
        let needed = self.min_free_bytes.saturating_add(self.enc.out.len() as u64);
        match &self.dest {
            Dest::File(_, path) => {
                free_bytes(path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(std::path::Path::new(".")))
                    .filter(|&free| free < needed)
                    .map(|free| (free, path.clone()))
            }
            Dest::Ring(_) => None,
        }
    }

    fn round(&mut self, followed: &mut [Followed], points: &Points, end: Option<(u64, Vec<(String, String)>)>) {
        if self.ended {
            return;
        }
        let mut conv = super::clock::Converter::snapshot(points);
        for f in followed.iter_mut() {
            let id = match f.spool_id {
                Some(id) => id,
                None => {
                    let id = self.next_thread;
                    self.next_thread += 1;
                    self.new_threads.push(stream::NewThread { id, os_id: f.sh.os_id, ident: f.sh.ident });
                    f.spool_id = Some(id);
                    id
                }
            };
            {
                let names = lock(&f.sh.names);
                for (t, n) in names.iter().skip(f.spool_names) {
                    self.new_names.push((id, *t, n.clone()));
                }
                f.spool_names = names.len();
            }
            // Encoded, a full chunk is not needed any more: its memory goes.
            let mut last = f.stream_last_ns;
            let enc = &mut self.enc;
            f.take_new(true, |evs| enc.events(id, evs, |t| in_order(&mut last, conv.convert(t))));
            f.stream_last_ns = last;
            // (a thread holds at most the backlog limit and its current chunk: about 1.3M events)
            if self.enc.pending_event_bytes() > STREAM_CHUNK_BYTES {
                self.frame_pending(now_ns());
                if self.disk_low().is_none() {
                    self.write();
                } // (else the end of the round stops the recording, the margin holding the end)
            }
        }
        let now = now_ns();
        self.frame_pending(now);
        if let Some(name) = self.process_name.take() {
            self.enc.process_name(&name);
        }
        let low = self.disk_low();
        match (end, low) {
            (Some((stop_ns, mut metadata)), _) => {
                metadata.push(("events".to_string(), self.events_written.to_string()));
                self.enc.metadata(&metadata);
                self.enc.end(stop_ns);
                self.write();
                self.ended = true;
            }
            (None, Some((free, path))) => {
                // The disk is nearly full: recording stops here; the margin holds the end chunk.
                self.enc.metadata(&[(
                    "warning.disk_full".to_string(),
                    format!("recording stopped early: the outfile's file system had {} MiB left", free >> 20),
                )]);
                self.enc.end(now);
                self.write();
                self.fail(format!(
                    "recording stopped early: the file system of the outfile {} has {} MiB free, below the {} MiB \
                     fprofile keeps free; the file holds everything recorded until then",
                    path.display(),
                    free >> 20,
                    self.min_free_bytes >> 20
                ));
            }
            (None, None) => self.write(),
        }
    }
}

/// A child process's spool as the background thread writes it.
struct Spooler {
    file: File,
    dir: ChildSession,
    pid: u64,
    gen: u32,
    codes: Arc<Mutex<Vec<Code>>>,
    codes_written: usize,
    next_thread: u32,
    enc: Encoder,
    events: Encoder,
    process_name: Option<String>,
    process_name_written: Option<String>,
    /// Writing failed (the directory was removed, the disk is full): the spool is given up.
    failed: bool,
    /// The end record was written.
    ended: bool,
}

impl Spooler {
    fn new(out: SpoolOut, codes: Arc<Mutex<Vec<Code>>>) -> Spooler {
        let mut enc = Encoder::default();
        enc.header();
        enc.process(&out.process, out.start_ns);
        for (k, v) in &out.metadata {
            enc.metadata(k, v);
        }
        Spooler {
            file: out.file,
            dir: out.dir,
            pid: out.process.pid,
            gen: out.gen,
            codes,
            codes_written: 0,
            next_thread: 0,
            enc,
            events: Encoder::default(),
            process_name: None,
            process_name_written: None,
            failed: false,
            ended: false,
        }
    }

    /// The parent's stop marker is in the session directory (one `fstatat`).
    fn parent_stopped(&self) -> bool {
        !self.ended && self.dir.stopped()
    }

    /// The parent no longer holds the session's lock: it died without stopping (one `flock`
    /// attempt per round).
    fn parent_gone(&self) -> bool {
        !self.ended && !self.dir.alive()
    }

    /// Writes what every thread recorded since the last round, as whole records in one write;
    /// `end`: then the end record and the acknowledgement.
    fn round(&mut self, followed: &mut [Followed], points: &Points, end: Option<(EndHow, Option<i32>)>) {
        if self.failed || self.ended {
            return;
        }
        let mut conv = super::clock::Converter::snapshot(points);
        self.events.buf.clear();
        for f in followed.iter_mut() {
            let id = *f.spool_id.get_or_insert_with(|| {
                let id = self.next_thread;
                self.next_thread += 1;
                self.enc.thread(id, f.sh.os_id, f.sh.ident);
                id
            });
            {
                let names = lock(&f.sh.names);
                for (t, n) in names.iter().skip(f.spool_names) {
                    self.enc.thread_name(id, *t, n);
                }
                f.spool_names = names.len();
            }
            // A full chunk, once in the spool, is not needed here any more: its memory goes
            // (a long-running worker holds only what it has not spooled yet).
            let events = &mut self.events;
            f.take_new(true, |evs| events.events(id, evs, |t| conv.convert(t)));
        }
        // The codes after the events were taken (every code an event refers to is in the table by
        // then), written before them.
        {
            let c = lock(&self.codes);
            for code in c.iter().skip(self.codes_written) {
                self.enc.code(code);
            }
            self.codes_written = c.len();
        }
        self.enc.buf.extend_from_slice(&self.events.buf);
        if self.process_name != self.process_name_written {
            if let Some(n) = &self.process_name {
                self.enc.process_name(n);
            }
            self.process_name_written = self.process_name.clone();
        }
        let now = now_ns();
        match end {
            Some((how, exit_status)) => self.enc.end(spool::End { t_ns: now, how, exit_status }),
            None => self.enc.flush_mark(now),
        }
        if self.file.write_all(&self.enc.buf).is_err() {
            self.failed = true;
        }
        self.enc.buf.clear();
        if end.is_some() && !self.failed {
            self.ended = true;
            // (relative to the open directory, 0600, never through a link nor over a file)
            let _ = self.dir.create(&format!("{}.done", self.pid));
        }
    }
}

impl Writer {
    fn fail(&mut self, err: std::io::Error) {
        self.error = Some(format!("writing the profile outfile failed: {err}"));
    }

    fn drain(&mut self, followed: &mut [Followed], points: &Points) {
        if self.error.is_some() {
            return;
        }
        let mut batch: Vec<(Event, u32)> = Vec::new();
        for (i, f) in followed.iter_mut().enumerate() {
            let before = batch.len();
            // (the events stay in memory: the trace is built from them at stop)
            f.take_new(false, |evs| batch.extend(evs.iter().map(|e| (*e, i as u32))));
            if batch.len() > before {
                let names = lock(&f.sh.names);
                if names.len() != f.names.len() {
                    f.names = names.iter().map(|(t, n)| (*t, escaped(n))).collect();
                }
            }
        }
        if batch.is_empty() {
            return;
        }
        // The codes after the events were taken: every code an event refers to is in the table by
        // then (taken before, a code added in between would have had its events skipped).
        {
            let c = lock(&self.codes);
            let have = self.lines.len();
            self.lines.extend(c[have.min(c.len())..].iter().map(CodeLine::new));
        }
        // Each thread's events are in time order already: the sort merges runs.
        batch.sort_by_key(|(e, _)| e.t_ns);
        let mut conv = super::clock::Converter::snapshot(points);
        for part in batch.chunks(BATCH_EVENTS) {
            self.text.clear();
            for (e, fi) in part {
                let Some(code) = self.lines.get(e.code as usize) else { continue };
                let t_ns = conv.convert(e.t_ns);
                let tn = &followed[*fi as usize].names;
                let name =
                    tn.iter().rev().find(|(t, _)| *t <= t_ns).or_else(|| tn.first()).map_or(&[][..], |(_, n)| n.as_slice());
                push_event_line(&mut self.text, t_ns, name, code, e.kind);
            }
            if let Err(err) = write_lines(&mut self.out, &self.text) {
                self.fail(err);
                return;
            }
        }
    }
}

/// Writes `text` (whole lines) in pieces of at most [`PIECE`] bytes that each end at a line's end.
fn write_lines(out: &mut Output, text: &[u8]) -> std::io::Result<()> {
    let mut rest = text;
    while !rest.is_empty() {
        let cut = if rest.len() <= PIECE {
            rest.len()
        } else {
            rest[..PIECE].iter().rposition(|&b| b == b'\n').map_or(rest.len(), |i| i + 1)
        };
        out.write_all(&rest[..cut])?;
        rest = &rest[cut..];
    }
    Ok(())
}
