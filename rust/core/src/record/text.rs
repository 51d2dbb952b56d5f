//! The live PYME raw text outfile: each round, what every thread published since the last one as
//! PYME raw text lines, sorted by time within the round. Lines are formatted from parts precomputed
//! per code and thread, and written in pieces that end at a line's end (no buffering across
//! rounds): a process that dies leaves whole lines up to the last round (only a kill in the middle
//! of a write can cut the last line, which the reader then drops with a warning). The events stay
//! in memory: the trace is built from them at stop.

use std::io::Write;

use super::{Clock, End, Report, Round, Sink, Status};
use crate::formats::pyme_text::{escaped, push_event_line, CodeLine};
use crate::fsio::Output;
use crate::Event;

/// Events formatted at a time (then written): bounds the text held in memory to a few MiB.
const BATCH_EVENTS: usize = 1 << 16;
/// Largest piece handed to one `write` (cut at a line's end).
const PIECE: usize = 1 << 20;

/// The PYME raw text sink.
pub struct TextSink<W: Write + Send = Output> {
    out: W,
    lines: Vec<CodeLine>,
    /// Per thread (by its cursor's id), its names so far, escaped for the file.
    names: Vec<Vec<(u64, Vec<u8>)>>,
    text: Vec<u8>,
    error: Option<String>,
}

impl<W: Write + Send> TextSink<W> {
    pub fn new(out: W) -> Self {
        TextSink { out, lines: Vec::new(), names: Vec::new(), text: Vec::with_capacity(8 << 20), error: None }
    }

    /// The output (tests read it back).
    pub fn into_inner(self) -> W {
        self.out
    }
}

impl<W: Write + Send> Sink for TextSink<W> {
    fn writing(&self) -> bool {
        self.error.is_none()
    }

    fn report(&self) -> Report {
        Report { error: self.error.clone(), ..Report::default() }
    }

    fn round(&mut self, r: &mut dyn Round, clock: &mut dyn Clock, _end: Option<End>) -> Status {
        if self.error.is_some() {
            return Status::Failed;
        }
        let mut batch: Vec<(Event, u32)> = Vec::new();
        for i in 0..r.threads() {
            let before = batch.len();
            let (_, _, cur) = r.thread(i);
            let id = *cur.id.get_or_insert(self.names.len() as u32);
            if id as usize == self.names.len() {
                self.names.push(Vec::new());
            }
            r.take_events(i, false, &mut |evs| batch.extend(evs.iter().map(|e| (*e, id))));
            if batch.len() > before {
                let from = r.thread(i).2.names_written;
                let names = &mut self.names[id as usize];
                let n = r.names(i, from, &mut |t, name| names.push((t, escaped(name))));
                r.thread(i).2.names_written = n;
            }
        }
        if batch.is_empty() {
            return Status::Writing;
        }
        // The codes after the events were taken: every code an event refers to is in the table by
        // then (taken before, a code added in between would have had its events skipped).
        let have = self.lines.len();
        let lines = &mut self.lines;
        r.codes(have, &mut |c| lines.extend(c.iter().map(CodeLine::new)));
        // Each thread's events are in time order already: the sort merges runs.
        batch.sort_by_key(|(e, _)| e.t_ns);
        for part in batch.chunks(BATCH_EVENTS) {
            self.text.clear();
            for (e, id) in part {
                let Some(code) = self.lines.get(e.code as usize) else { continue };
                let t_ns = clock.convert(e.t_ns);
                let tn = &self.names[*id as usize];
                let name =
                    tn.iter().rev().find(|(t, _)| *t <= t_ns).or_else(|| tn.first()).map_or(&[][..], |(_, n)| n.as_slice());
                push_event_line(&mut self.text, t_ns, name, code, e.kind);
            }
            if let Err(err) = write_lines(&mut self.out, &self.text) {
                self.error = Some(format!("writing the profile outfile failed: {err}"));
                return Status::Failed;
            }
        }
        Status::Writing
    }
}

/// Writes `text` (whole lines) in pieces of at most [`PIECE`] bytes that each end at a line's end.
fn write_lines(out: &mut impl Write, text: &[u8]) -> std::io::Result<()> {
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
