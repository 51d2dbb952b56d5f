//! A child process's spool ([`crate::formats::spool`]): each round, the new codes, threads, names
//! and events (times converted to CLOCK_MONOTONIC ns, packed: about 3 bytes an event) as whole
//! records in one write, then a flush
//! mark; the process's name when it gets one; at the last round the end record (the exit status,
//! or "flushed, still running" when the parent stopped first). A full chunk, once spooled, is
//! freed. (The loop makes the `<pid>.done` acknowledgement once the end is written.)

use std::io::Write;

use super::{Clock, End, Report, Round, Sink, Status};
use crate::formats::spool::{self, Encoder, EndHow};
use crate::ProcessInfo;

/// The spool sink.
pub struct SpoolSink<W: Write + Send = std::fs::File> {
    file: W,
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

impl<W: Write + Send> SpoolSink<W> {
    /// The sink; its header, process and metadata records go out with the first round.
    pub fn new(file: W, process: &ProcessInfo, start_ns: u64, metadata: &[(String, String)]) -> Self {
        let mut enc = Encoder::default();
        enc.header();
        enc.process(process, start_ns);
        for (k, v) in metadata {
            enc.metadata(k, v);
        }
        SpoolSink {
            file,
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

    /// The output (tests read it back).
    pub fn into_inner(self) -> W {
        self.file
    }
}

impl<W: Write + Send> Sink for SpoolSink<W> {
    fn writing(&self) -> bool {
        !self.failed && !self.ended
    }

    fn process_name(&mut self, name: String) {
        self.process_name = Some(name);
    }

    fn report(&self) -> Report {
        Report::default()
    }

    /// Writes what every thread recorded since the last round, as whole records in one write;
    /// `end`: then the end record.
    fn round(&mut self, r: &mut dyn Round, clock: &mut dyn Clock, end: Option<End>) -> Status {
        if self.failed {
            return Status::Failed;
        }
        if self.ended {
            return Status::Ended;
        }
        self.events.buf.clear();
        for i in 0..r.threads() {
            let (os_id, ident, cur) = r.thread(i);
            let id = cur.id_or_declare(&mut self.next_thread, |id| self.enc.thread(id, os_id, ident));
            let from = cur.names_written;
            let enc = &mut self.enc;
            let n = r.names(i, from, &mut |t, name| enc.thread_name(id, t, name));
            let cur = r.thread(i).2;
            cur.names_written = n;
            // A full chunk, once in the spool, is not needed here any more: its memory goes
            // (a long-running worker holds only what it has not spooled yet). A thread's times
            // never go back (the packed events' gaps are unsigned; the stop's compaction reads
            // a thread's events in time order without building its trace).
            let mut cursor = std::mem::take(cur);
            let events = &mut self.events;
            r.take_events(i, true, &mut |evs| events.events(id, evs, |t| cursor.in_order(clock.convert(t))));
            *r.thread(i).2 = cursor;
        }
        // The codes after the events were taken (every code an event refers to is in the table by
        // then), written before them.
        let enc = &mut self.enc;
        self.codes_written = r.codes(self.codes_written, &mut |c| c.iter().for_each(|code| enc.code(code)));
        self.enc.buf.extend_from_slice(&self.events.buf);
        if self.process_name != self.process_name_written {
            if let Some(n) = &self.process_name {
                self.enc.process_name(n);
            }
            self.process_name_written = self.process_name.clone();
        }
        let now = clock.now_ns();
        match &end {
            Some(End::Stop { exit_status, .. }) => {
                self.enc.end(spool::End { t_ns: now, how: EndHow::Exited, exit_status: *exit_status })
            }
            Some(End::FlushedRunning) => self.enc.end(spool::End { t_ns: now, how: EndHow::FlushedRunning, exit_status: None }),
            None => self.enc.flush_mark(now),
        }
        if self.file.write_all(&self.enc.buf).is_err() {
            self.failed = true;
        }
        self.enc.buf.clear();
        match (self.failed, end.is_some()) {
            (true, _) => Status::Failed,
            (false, true) => {
                self.ended = true;
                Status::Ended
            }
            (false, false) => Status::Writing,
        }
    }
}
