//! The session's background thread: the recording loop (plain Rust, off the hot path). One thread
//! per process, kept across recordings: a stop leaves it parked for the next start ([`Parked`]).
//!
//! Every 50 ms a round: it checks the recorded threads for renames (taking the GIL briefly), takes
//! what every thread published since the last round, and hands the round to the recording's sink
//! ([`fprofile::record::Sink`]: the live PYME text outfile, a streamed `.fpt` outfile or the flight
//! recorder's ring, a child process's spool; the sinks live in the core). At stop it hands over
//! everything that is left (nothing is lost) before the events go to the tree builder.
//!
//! In a child process of a recording (`processes=True`) the sink is the spool, and the loop also
//! watches the parent: when the parent's stop marker appears in the session directory, or the
//! parent's lock is free (it died without stopping: one `flock` attempt per round), it stops the
//! recording, hands the last round over ("flushed, still running"), writes the `<pid>.done`
//! acknowledgement, and ends. At the child's own stop the end carries the exit status, then
//! `<pid>.done`. Every file is made relative to the open session directory
//! ([`super::join::ChildSession`]). A child's writer never waits for the GIL: the names are read
//! by a helper thread ([`NamePoll`]), so a program holding the GIL in C code still has its events
//! written every round.
//!
//! Threads that ended ([`ThreadShared::has_ended`]) are dropped from the rounds once their last
//! name is read and their last events handed over, so a program that has made 100,000 short
//! threads costs each round only the threads alive now.
//!
//! (Over 500 lines: the parked thread, the loop and the child's name helper share the stop request
//! and the followed threads; what the sinks write lives in the core, `fprofile::record`.)

use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use fprofile::record::{self, End, Report, Sink, Status, ThreadCursor};
use fprofile::{Code, Event};
use pyo3::prelude::*;

use super::clock::{now_ns, Converter, Points};
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

type Threads = Arc<Mutex<Vec<Arc<ThreadShared>>>>;

/// Where a recording's events go besides memory, and for a child process its session.
pub(crate) struct Output {
    /// None: the events stay in memory only.
    pub sink: Option<Box<dyn Sink>>,
    /// A child process's session directory (its sink is the spool).
    pub child: Option<ChildSession>,
    /// The session's generation (recording is stopped when the sink or the parent says so).
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

/// What the background thread reports when it ends (the sink's report).
pub(crate) type Finished = Report;

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
    pub(crate) fn spawn(threads: Threads, codes: Option<Arc<Mutex<Vec<Code>>>>, out: Output, points: Points) -> Background {
        let stop = Arc::new((Mutex::new(StopReq::default()), Condvar::new()));
        let stop2 = stop.clone();
        let has_file = out.sink.is_some();
        let done: Arc<(Mutex<Option<Finished>>, Condvar)> = Arc::default();
        let done2 = done.clone();
        let thread = on_writer_thread(Box::new(move || {
            let f = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(threads, codes, out, stop2, points)))
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
    /// Next event to hand over: chunk index, offset in it.
    chunk: usize,
    off: usize,
    /// The thread ended and its name was read once more after that.
    final_name: bool,
    /// What the sink wrote of it so far.
    cursor: ThreadCursor,
}

impl Followed {
    /// Hands the events this thread published since the last call to `each`, in order (one piece
    /// per chunk). `free`: a full chunk, once handed over, is freed (the spool and the stream:
    /// nothing else needs it, so memory holds only what was not written yet).
    fn take_new(&mut self, free: bool, each: &mut dyn FnMut(&[Event])) {
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

/// A round as the sink sees it: the followed threads and the code table.
struct LoopRound<'a> {
    followed: &'a mut [Followed],
    codes: Option<&'a Mutex<Vec<Code>>>,
}

impl record::Round for LoopRound<'_> {
    fn threads(&self) -> usize {
        self.followed.len()
    }

    fn thread(&mut self, i: usize) -> (u64, u64, &mut ThreadCursor) {
        let f = &mut self.followed[i];
        (f.sh.os_id, f.sh.ident, &mut f.cursor)
    }

    fn names(&self, i: usize, from: usize, each: &mut dyn FnMut(u64, &str)) -> usize {
        let names = lock(&self.followed[i].sh.names);
        for (t, n) in names.iter().skip(from) {
            each(*t, n);
        }
        names.len()
    }

    fn take_events(&mut self, i: usize, free: bool, each: &mut dyn FnMut(&[Event])) {
        self.followed[i].take_new(free, each);
    }

    fn codes(&self, from: usize, each: &mut dyn FnMut(&[Code])) -> usize {
        let Some(codes) = self.codes else { return 0 };
        let c = lock(codes);
        if from < c.len() {
            each(&c[from..]);
        }
        c.len()
    }
}

/// The recording's clock as of this round.
struct RoundClock(Converter);

impl record::Clock for RoundClock {
    fn convert(&mut self, raw: u64) -> u64 {
        self.0.convert(raw)
    }

    fn now_ns(&self) -> u64 {
        now_ns()
    }
}

/// The loop: a round every [`PERIOD`] (a child's: also as soon as the parent stops), the last one
/// at stop.
fn run(
    threads: Threads,
    codes: Option<Arc<Mutex<Vec<Code>>>>,
    out: Output,
    stop: Arc<(Mutex<StopReq>, Condvar)>,
    points: Points,
) -> Finished {
    let Output { mut sink, child, gen } = out;
    let pid = std::process::id();
    // A child's sink wrote its end (then the parent's stop marker means nothing more).
    let mut child_ended = false;
    // Every thread of the session seen so far (the session's list only grows), and those still followed.
    let mut seen = 0usize;
    let mut followed: Vec<Followed> = Vec::new();
    let mut name_poll = NamePoll::default();
    loop {
        let parent_stopped_now = |d: &ChildSession| !child_ended && d.stopped();
        let (stopping, exit_status, final_name, stream_end) = {
            let (m, c) = &*stop;
            let mut g = lock(m);
            match child.as_ref() {
                None => {
                    if !g.stop && !g.flush_wanted {
                        g = c.wait_timeout(g, PERIOD).unwrap_or_else(|e| e.into_inner()).0;
                    }
                    g.flush_wanted = false;
                    g.in_round = true;
                }
                Some(d) => {
                    let until = std::time::Instant::now() + PERIOD;
                    while !g.stop && !TERM.load(Ordering::Relaxed) && !parent_stopped_now(d) {
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
        if let (Some(s), Some(name), true) = (sink.as_mut(), final_name, child.is_some()) {
            s.process_name(name);
        }
        // A child that got SIGTERM (caught while it records): write everything and end it.
        let term = !stopping && child.is_some() && TERM.load(Ordering::Relaxed);
        // A child whose parent stopped recording, or died without stopping (its lock is free):
        // stop too, after this round (what was recorded stays in the spool).
        let parent_stopped =
            !stopping && !term && child.as_ref().is_some_and(|d| parent_stopped_now(d) || (!child_ended && !d.alive()));
        if parent_stopped || term {
            let _ = RECORDING.compare_exchange(gen, 0, Ordering::AcqRel, Ordering::Relaxed);
        }
        {
            let list = lock(&threads);
            for sh in list.iter().skip(seen) {
                followed.push(Followed { sh: sh.clone(), chunk: 0, off: 0, final_name: false, cursor: ThreadCursor::default() });
            }
            seen = list.len();
        }
        // (on SIGTERM and at the parent's stop too: a worker ended so soon after its start that no
        // round read its name yet gets it here, unless its program holds the GIL for LAST_NAMES_WAIT)
        if let (false, Some(_)) = (stopping, child.as_ref()) {
            // (a child never waits for the GIL long: see `NamePoll`)
            let name = if parent_stopped || term {
                name_poll.last(&mut followed, LAST_NAMES_WAIT)
            } else {
                name_poll.round(&mut followed)
            };
            if let (Some(s), Some(name)) = (sink.as_mut(), name) {
                s.process_name(name);
            }
        } else if !stopping {
            // SAFETY: `try_attach` gives us the GIL (or nothing when the interpreter is going away).
            Python::try_attach(|_py| unsafe {
                for f in followed.iter_mut().filter(|f| !f.final_name) {
                    let ended = f.sh.has_ended();
                    poll_one_name(&f.sh);
                    f.final_name = ended;
                }
            });
        }
        super::clock::calibrate_into(&points, false);
        let end = if stopping {
            let (stop_ns, metadata) = stream_end.unwrap_or_default();
            Some(End::Stop { stop_ns, metadata, exit_status })
        } else if term {
            Some(End::Stop { stop_ns: now_ns(), metadata: Vec::new(), exit_status: Some(-libc::SIGTERM) })
        } else if parent_stopped {
            Some(End::FlushedRunning)
        } else {
            None
        };
        let hand_over = |sink: &mut Box<dyn Sink>, followed: &mut [Followed], end: Option<End>| {
            let mut round = LoopRound { followed, codes: codes.as_deref() };
            let mut clock = RoundClock(Converter::snapshot(&points));
            sink.round(&mut round, &mut clock, end)
        };
        // (a child's round comes after the flush's notice; it is never flushed: see `Flusher`)
        let status = match (sink.as_mut(), child.is_some()) {
            (Some(s), false) => Some(hand_over(s, &mut followed, end.clone())),
            _ => None,
        };
        {
            let (m, c) = &*stop;
            let mut g = lock(m);
            g.rounds += 1;
            g.in_round = false;
            c.notify_all();
        }
        let status = match (sink.as_mut(), child.is_some()) {
            (Some(s), true) if !child_ended => Some(hand_over(s, &mut followed, end)),
            _ => status,
        };
        match (status, child.as_ref()) {
            (Some(Status::Stop), None) => {
                // the sink gave up (a write failed, the disk is nearly full): recording stops
                let _ = RECORDING.compare_exchange(gen, 0, Ordering::AcqRel, Ordering::Relaxed);
            }
            (Some(Status::Ended), Some(d)) if !child_ended => {
                child_ended = true;
                // (relative to the open directory, 0600, never through a link nor over a file)
                let _ = d.create(&format!("{pid}.done"));
            }
            _ => {}
        }
        if child.is_some() {
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
        let writing = sink.as_ref().is_some_and(|s| s.writing());
        followed.retain(|f| !f.done(writing));
    }
    if child.is_some() {
        state::release_sigterm();
        // (the child's own stop: the GIL is released while it waits for us, the poll ends)
        name_poll.join();
    }
    match (sink, child) {
        (Some(s), None) => s.report(),
        _ => Finished::default(),
    }
}
