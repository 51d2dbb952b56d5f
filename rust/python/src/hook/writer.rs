//! The session's background thread (plain Rust, off the hot path).
//!
//! Every 50 ms it checks the recorded threads for renames (taking the GIL briefly) and, when an
//! outfile was given, drains what every thread has published since the last round and appends it
//! to the file as PYME raw text lines (sorted by time within a round), then flushes: a process that
//! dies leaves what was written up to the last round. At stop it writes everything that is left
//! (nothing is lost) before the events are handed to the tree builder.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use fprofile::formats::pyme_text::write_event_line;
use fprofile::{Code, Event};
use pyo3::prelude::*;

use super::buffer::{lock, ThreadShared};
use super::clock::Points;
use super::session::poll_names;

const PERIOD: Duration = Duration::from_millis(50);

type Threads = Arc<Mutex<Vec<Arc<ThreadShared>>>>;

pub(crate) struct Background {
    stop: Arc<(Mutex<bool>, Condvar)>,
    handle: Option<JoinHandle<Option<String>>>,
    /// An outfile was given (so a writer thread that could not start means a lost file).
    has_file: bool,
}

impl Background {
    pub(crate) fn spawn(threads: Threads, codes: Option<Arc<Mutex<Vec<Code>>>>, file: Option<File>, points: Points) -> Background {
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
            return self.has_file.then(|| "the live writer thread could not be started: nothing was written to the outfile".into());
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

struct Cursor {
    chunk: usize,
    off: usize,
}

struct Writer {
    out: BufWriter<File>,
    codes: Arc<Mutex<Vec<Code>>>,
    local_codes: Vec<Code>,
    cursors: Vec<Cursor>,
    error: Option<String>,
}

fn run(
    threads: Threads,
    codes: Option<Arc<Mutex<Vec<Code>>>>,
    file: Option<File>,
    stop: Arc<(Mutex<bool>, Condvar)>,
    points: Points,
) -> Option<String> {
    let mut writer = match (codes, file) {
        (Some(codes), Some(file)) => Some(Writer {
            out: BufWriter::with_capacity(1 << 20, file),
            codes,
            local_codes: Vec::new(),
            cursors: Vec::new(),
            error: None,
        }),
        _ => None,
    };
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
        if !stopping {
            // SAFETY: `try_attach` gives us the GIL (or nothing when the interpreter is going away).
            let _ = Python::try_attach(|_py| unsafe { poll_names(&threads) });
        }
        super::clock::calibrate_into(&points, false);
        if let Some(w) = writer.as_mut() {
            w.drain(&threads, &points);
        }
        if stopping {
            break;
        }
    }
    writer.and_then(|mut w| {
        if w.error.is_none() {
            if let Err(e) = w.out.flush() {
                w.error = Some(format!("writing the profile outfile failed: {e}"));
            }
        }
        w.error
    })
}

impl Writer {
    fn drain(&mut self, threads: &Threads, points: &Points) {
        if self.error.is_some() {
            return;
        }
        let list: Vec<Arc<ThreadShared>> = lock(threads).clone();
        {
            let c = lock(&self.codes);
            if c.len() > self.local_codes.len() {
                let have = self.local_codes.len();
                self.local_codes.extend_from_slice(&c[have..]);
            }
        }
        let mut batch: Vec<(Event, u32)> = Vec::new();
        let mut names: Vec<Vec<(u64, String)>> = Vec::with_capacity(list.len());
        for (i, sh) in list.iter().enumerate() {
            if self.cursors.len() <= i {
                self.cursors.push(Cursor { chunk: 0, off: 0 });
            }
            let cur = &mut self.cursors[i];
            {
                let c = lock(&sh.chunks);
                while cur.chunk < c.full.len() {
                    let v = &c.full[cur.chunk];
                    if cur.off < v.len() {
                        batch.extend(v[cur.off..].iter().map(|e| (*e, i as u32)));
                    }
                    cur.chunk += 1;
                    cur.off = 0;
                }
                if !c.cur_ptr.is_null() {
                    let n = sh.len.load(Ordering::Acquire).min(c.cur_cap);
                    if n > cur.off {
                        // SAFETY: the first `n` events of the current chunk were written before `n`
                        // was published (Release/Acquire), and are never written again; the chunk
                        // cannot be swapped or freed while we hold its mutex.
                        let s = unsafe { std::slice::from_raw_parts(c.cur_ptr.add(cur.off), n - cur.off) };
                        batch.extend(s.iter().map(|e| (*e, i as u32)));
                        cur.off = n;
                    }
                }
            }
            names.push(lock(&sh.names).clone());
        }
        if batch.is_empty() {
            return;
        }
        batch.sort_by_key(|(e, _)| e.t_ns);
        let mut conv = super::clock::Converter::snapshot(points);
        for (e, ti) in &batch {
            let Some(code) = self.local_codes.get(e.code as usize) else { continue };
            let tn = &names[*ti as usize];
            let t_ns = conv.convert(e.t_ns);
            let name = tn
                .iter()
                .rev()
                .find(|(t, _)| *t <= t_ns)
                .or_else(|| tn.first())
                .map(|(_, n)| n.as_str())
                .unwrap_or("");
            if let Err(err) = write_event_line(&mut self.out, t_ns, name, code, e.kind) {
                self.error = Some(format!("writing the profile outfile failed: {err}"));
                return;
            }
        }
        if let Err(err) = self.out.flush() {
            self.error = Some(format!("writing the profile outfile failed: {err}"));
        }
    }
}
