//! The session's background thread (plain Rust, off the hot path).
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
//! Threads that ended ([`ThreadShared::has_ended`]) are dropped from the rounds once their last
//! name is read and their last events written, so a program that has made 100,000 short threads
//! costs each round only the threads alive now.

use fprofile::fsio::Output;
use std::io::Write;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use fprofile::formats::pyme_text::{escaped, push_event_line, CodeLine};
use fprofile::{Code, Event};
use pyo3::prelude::*;

use super::clock::Points;
use super::names::poll_one_name;
use super::sync::lock;
use super::thread::ThreadShared;

const PERIOD: Duration = Duration::from_millis(50);
/// Events formatted at a time (then written): bounds the text held in memory to a few MiB.
const BATCH_EVENTS: usize = 1 << 16;
/// Largest piece handed to one `write` (cut at a line's end).
const PIECE: usize = 1 << 20;

type Threads = Arc<Mutex<Vec<Arc<ThreadShared>>>>;

pub(crate) struct Background {
    stop: Arc<(Mutex<bool>, Condvar)>,
    handle: Option<JoinHandle<Option<String>>>,
    /// An outfile was given (so a writer thread that could not start means a lost file).
    has_file: bool,
}

impl Background {
    pub(crate) fn spawn(
        threads: Threads,
        codes: Option<Arc<Mutex<Vec<Code>>>>,
        file: Option<Output>,
        points: Points,
    ) -> Background {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let stop2 = stop.clone();
        let has_file = file.is_some();
        let handle = std::thread::Builder::new()
            .name("fprofile-writer".into())
            .spawn(move || run(threads, codes, file, stop2, points))
            .ok();
        Background { stop, handle, has_file }
    }

    /// Final round and join (GIL released meanwhile). Returns an I/O error message, if any.
    pub(crate) fn finish(mut self, py: Python<'_>) -> Option<String> {
        {
            let (m, c) = &*self.stop;
            *lock(m) = true;
            c.notify_all();
        }
        let Some(h) = self.handle.take() else {
            return self
                .has_file
                .then(|| "the live writer thread could not be started: nothing was written to the outfile".into());
        };
        if h.thread().id() == std::thread::current().id() {
            // Stopped by Python code run on this very thread (a `Thread` subclass's
            // `__getattribute__` run while reading a name, a finalizer): it cannot wait for itself
            // (joining it panicked). It ends on its own after this round.
            return self.has_file.then(|| {
                "the recording was stopped from fprofile's own background thread (by Python code run there), \
                 so the last events may be missing from the outfile"
                    .into()
            });
        }
        py.detach(move || h.join().unwrap_or_else(|_| Some("the live writer thread failed".into())))
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
}

impl Followed {
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
    file: Option<Output>,
    stop: Arc<(Mutex<bool>, Condvar)>,
    points: Points,
) -> Option<String> {
    let mut writer = match (codes, file) {
        (Some(codes), Some(file)) => {
            Some(Writer { out: file, codes, lines: Vec::new(), text: Vec::with_capacity(8 << 20), error: None })
        }
        _ => None,
    };
    // Every thread of the session seen so far (the session's list only grows), and those still followed.
    let mut seen = 0usize;
    let mut followed: Vec<Followed> = Vec::new();
    loop {
        let stopping = {
            let (m, c) = &*stop;
            let g = lock(m);
            if *g {
                true
            } else {
                let (g, _) = c.wait_timeout(g, PERIOD).unwrap_or_else(|e| e.into_inner());
                *g
            }
        };
        {
            let list = lock(&threads);
            for sh in list.iter().skip(seen) {
                followed.push(Followed { sh: sh.clone(), chunk: 0, off: 0, names: Vec::new(), final_name: false });
            }
            seen = list.len();
        }
        if !stopping {
            // SAFETY: `try_attach` gives us the GIL (or nothing when the interpreter is going away).
            let _ = Python::try_attach(|_py| unsafe {
                for f in followed.iter_mut().filter(|f| !f.final_name) {
                    let ended = f.sh.has_ended();
                    poll_one_name(&f.sh);
                    f.final_name = ended;
                }
            });
        }
        super::clock::calibrate_into(&points, false);
        if let Some(w) = writer.as_mut() {
            w.drain(&mut followed, &points);
        }
        if stopping {
            break;
        }
        let writing = writer.as_ref().is_some_and(|w| w.error.is_none());
        followed.retain(|f| !f.done(writing));
    }
    writer.and_then(|w| w.error)
}

impl Writer {
    fn fail(&mut self, err: std::io::Error) {
        self.error = Some(format!("writing the profile outfile failed: {err}"));
    }

    fn drain(&mut self, followed: &mut [Followed], points: &Points) {
        if self.error.is_some() {
            return;
        }
        {
            let c = lock(&self.codes);
            let have = self.lines.len();
            self.lines.extend(c[have.min(c.len())..].iter().map(CodeLine::new));
        }
        let mut batch: Vec<(Event, u32)> = Vec::new();
        for (i, f) in followed.iter_mut().enumerate() {
            let before = batch.len();
            {
                let c = lock(&f.sh.chunks);
                while f.chunk < c.full.len() {
                    let v = &c.full[f.chunk];
                    if f.off < v.len() {
                        batch.extend(v[f.off..].iter().map(|e| (*e, i as u32)));
                    }
                    f.chunk += 1;
                    f.off = 0;
                }
                if !c.cur_ptr.is_null() {
                    let n = f.sh.len.load(Ordering::Acquire).min(c.cur_cap);
                    if n > f.off {
                        // SAFETY: the first `n` events of the current chunk were written before `n`
                        // was published (Release/Acquire), and are never written again; the chunk
                        // cannot be swapped or freed while we hold its mutex.
                        let s = unsafe { std::slice::from_raw_parts(c.cur_ptr.add(f.off), n - f.off) };
                        batch.extend(s.iter().map(|e| (*e, i as u32)));
                        f.off = n;
                    }
                }
            }
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
