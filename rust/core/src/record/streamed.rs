//! A streamed `.fpt` outfile ([`crate::formats::stream`]), or the flight recorder's ring in memory
//! ([`super::ring`]): each round, the new codes, threads and names, then the round's events, as
//! compressed chunks in one write; the end chunk at the last round. Events are freed once encoded
//! (memory stays bounded whatever the run's length). A disk guard stops the recording while the
//! outfile's file system still has room for the end chunk.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::{Clock, End, Report, Ring, Round, Sink, Status};
use crate::formats::stream::{self, NewThread};
use crate::fsio::Output;
use crate::{Code, ProcessInfo};

/// Raw events of a round above this are framed as a chunk at once (chunks stay far below
/// [`crate::formats::stream::MAX_CHUNK_RAW`]).
const STREAM_CHUNK_BYTES: usize = 8 << 20;

/// Where a streamed recording's chunks go.
pub enum Dest {
    /// A streamed `.fpt` outfile (and its path).
    File(Output, PathBuf),
    /// The flight recorder's ring (`keep_last`), in memory.
    Ring(Arc<Mutex<Ring>>),
    /// Anything else that takes bytes (tests).
    Writer(Box<dyn std::io::Write + Send>),
}

/// A streamed recording and what it starts with.
pub struct StreamStart {
    pub dest: Dest,
    pub process: ProcessInfo,
    pub start_ns: u64,
    pub metadata: Vec<(String, String)>,
    /// Recording stops when the free space of the outfile's file system falls below this.
    pub min_free_bytes: u64,
}

/// The streamed sink.
pub struct StreamedSink {
    dest: Dest,
    min_free_bytes: u64,
    codes_written: usize,
    next_thread: u32,
    enc: stream::Encoder,
    new_threads: Vec<NewThread>,
    new_names: Vec<(u32, u64, String)>,
    process_name: Option<String>,
    events_written: u64,
    /// Writing failed or the disk guard stopped the recording: what to tell the user.
    error: Option<String>,
    /// The end chunk was written (or writing is given up): nothing more is written.
    ended: bool,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Free bytes (for an unprivileged user) of the file system holding `path`, if it can be told.
fn free_bytes(path: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: a valid NUL-terminated path and a zeroed out-structure statvfs fills.
    unsafe {
        let mut v: libc::statvfs = std::mem::zeroed();
        (libc::statvfs(c.as_ptr(), &mut v) == 0).then(|| (v.f_bavail as u64).saturating_mul(v.f_frsize as u64))
    }
}

impl StreamedSink {
    /// The sink, its header, process and metadata chunks written.
    pub fn new(o: StreamStart) -> StreamedSink {
        let mut enc = stream::Encoder::default();
        enc.header();
        enc.process(&o.process, o.start_ns);
        enc.metadata(&o.metadata);
        let mut s = StreamedSink {
            dest: o.dest,
            min_free_bytes: o.min_free_bytes,
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
    fn frame_pending(&mut self, codes: &[Code], until_ns: u64) {
        if !codes.is_empty() {
            self.enc.codes(self.codes_written as u32, codes);
            self.codes_written += codes.len();
        }
        let names: Vec<(u32, u64, &str)> = self.new_names.iter().map(|(t, at, n)| (*t, *at, n.as_str())).collect();
        self.enc.threads(&self.new_threads, &names);
        self.new_threads.clear();
        self.new_names.clear();
        if self.enc.pending_event_bytes() > 0 {
            self.events_written += self.enc.flush_events(until_ns);
        }
    }

    fn new_codes(&self, r: &dyn Round) -> Vec<Code> {
        let mut v = Vec::new();
        r.codes(self.codes_written, &mut |c| v.extend_from_slice(c));
        v
    }

    /// Writes what is framed; a failure ends the recording (and the file where it is).
    fn write(&mut self) {
        if !self.ended {
            let failed = match &mut self.dest {
                Dest::File(out, path) => {
                    use std::io::Write;
                    out.write_all(&self.enc.out).err().map(|e| format!("writing the outfile {} failed: {e}", path.display()))
                }
                Dest::Writer(w) => w.write_all(&self.enc.out).err().map(|e| format!("writing the outfile failed: {e}")),
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
    }

    /// The outfile's file system is nearly full: its free bytes and the path. What is framed and
    /// about to be written counts, so that a slow round with a backlog stops before it eats into
    /// the margin the end chunk needs.
    fn disk_low(&self) -> Option<(u64, PathBuf)> {
        let needed = self.min_free_bytes.saturating_add(self.enc.out.len() as u64);
        match &self.dest {
            Dest::File(_, path) => free_bytes(path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")))
                .filter(|&free| free < needed)
                .map(|free| (free, path.clone())),
            Dest::Ring(_) | Dest::Writer(_) => None,
        }
    }
}

impl Sink for StreamedSink {
    fn writing(&self) -> bool {
        !self.ended
    }

    fn process_name(&mut self, name: String) {
        self.process_name = Some(name);
    }

    fn report(&self) -> Report {
        Report {
            error: self.error.clone(),
            events_written: self.events_written,
            threads_written: self.next_thread as usize,
            codes_written: self.codes_written,
        }
    }

    fn round(&mut self, r: &mut dyn Round, clock: &mut dyn Clock, end: Option<End>) -> Status {
        if self.ended {
            return if self.error.is_some() { Status::Stop } else { Status::Ended };
        }
        for i in 0..r.threads() {
            let (os_id, ident, cur) = r.thread(i);
            let id = cur.id_or_declare(&mut self.next_thread, |id| self.new_threads.push(NewThread { id, os_id, ident }));
            let from = cur.names_written;
            let new_names = &mut self.new_names;
            let n = r.names(i, from, &mut |t, name| new_names.push((id, t, name.to_string())));
            let (_, _, cur) = r.thread(i);
            cur.names_written = n;
            // Encoded, a full chunk is not needed any more: its memory goes.
            let mut cursor = std::mem::take(cur);
            let enc = &mut self.enc;
            r.take_events(i, true, &mut |evs| enc.events(id, evs, |t| cursor.in_order(clock.convert(t))));
            *r.thread(i).2 = cursor;
            // (a thread holds at most the backlog limit and its current chunk: about 1.3M events)
            if self.enc.pending_event_bytes() > STREAM_CHUNK_BYTES {
                let codes = self.new_codes(r);
                self.frame_pending(&codes, clock.now_ns());
                if self.disk_low().is_none() {
                    self.write();
                } // (else the end of the round stops the recording, the margin holding the end)
            }
        }
        let now = clock.now_ns();
        let codes = self.new_codes(r);
        self.frame_pending(&codes, now);
        if let Some(name) = self.process_name.take() {
            self.enc.process_name(&name);
        }
        let low = self.disk_low();
        match (end, low) {
            (Some(end), _) => {
                let (stop_ns, mut metadata) = match end {
                    End::Stop { stop_ns, metadata, .. } => (stop_ns, metadata),
                    End::FlushedRunning => (now, Vec::new()),
                };
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
        match (&self.error, self.ended) {
            (Some(_), _) => Status::Stop,
            (None, true) => Status::Ended,
            (None, false) => Status::Writing,
        }
    }
}
