//! The flight recorder's ring (`keep_last`): the streamed sink's chunks kept in memory, the last
//! window only ([`crate::record::streamed`] writes to it as it writes to a file). [`Ring::snapshot`]
//! reads the window back as a trace while recording goes on.

use crate::formats::stream::{header_bytes, kind, read_window, read_window_from, Frame, Result, END_MISSING_WARNING};
use crate::Trace;

/// What a flight recorder keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// The events of the last this many ns.
    Duration(u64),
    /// The last this many events (all threads).
    Events(u64),
}

/// An events chunk in the ring: until_ns, events, framed bytes, the open calls after it
/// ([`Frame::stacks`]).
type RingChunk = (u64, u64, Vec<u8>, Vec<(u32, Vec<u32>)>);

/// The flight recorder (`keep_last`): the chunks of a streamed recording kept in memory, the
/// tables whole (process, metadata, codes, threads and names) and the events chunks of the last
/// window only (compressed, as written). [`Ring::snapshot`] reads the window back.
#[derive(Debug)]
pub struct Ring {
    keep: Keep,
    /// The file header and every chunk but the events chunks, in order.
    tables: Vec<u8>,
    /// Events chunks, oldest first.
    events: std::collections::VecDeque<RingChunk>,
    /// The calls open on each thread (by id) before the oldest kept events chunk.
    base: Vec<Vec<u32>>,
    /// Events in `events`.
    held: u64,
    /// The latest until time seen.
    until_ns: u64,
}

impl Ring {
    pub fn new(keep: Keep) -> Ring {
        Ring { keep, tables: header_bytes().to_vec(), events: Default::default(), base: Vec::new(), held: 0, until_ns: 0 }
    }

    /// Takes the chunks an [`Encoder`] framed (then drops the events chunks the window no longer
    /// needs).
    pub fn push(&mut self, out: &[u8], frames: &[Frame]) {
        for f in frames {
            let bytes = &out[f.start..f.end];
            if f.kind == kind::EVENTS {
                self.events.push_back((f.until_ns, f.events, bytes.to_vec(), f.stacks.clone()));
                self.held += f.events;
                self.until_ns = self.until_ns.max(f.until_ns);
            } else {
                self.tables.extend_from_slice(bytes);
            }
        }
        self.trim();
    }

    fn trim(&mut self) {
        while let Some(&(until, n, _, _)) = self.events.front() {
            let drop = match self.keep {
                // every event of the chunk is before the window's start
                Keep::Duration(d) => until < self.until_ns.saturating_sub(d),
                Keep::Events(k) => self.held - n >= k,
            };
            if !drop {
                break;
            }
            self.held -= n;
            if let Some((_, _, _, stacks)) = self.events.pop_front() {
                for (t, st) in stacks {
                    let t = t as usize;
                    if self.base.len() <= t {
                        self.base.resize_with(t + 1, Vec::new);
                    }
                    self.base[t] = st;
                }
            }
        }
    }

    /// Bytes held (the compressed chunks).
    pub fn bytes_held(&self) -> usize {
        self.tables.len() + self.events.iter().map(|(_, _, b, _)| b.len()).sum::<usize>()
    }

    /// The latest until time of the chunks pushed (absolute ns).
    pub fn until_ns(&self) -> u64 {
        self.until_ns
    }

    /// The kept chunks as a streamed file (the tables, then the events chunks).
    pub fn file_bytes(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(self.bytes_held());
        b.extend_from_slice(&self.tables);
        for (_, _, c, _) in &self.events {
            b.extend_from_slice(c);
        }
        b
    }

    /// The last window as a trace: exactly the events at or after its start (`Duration`: the
    /// latest until time minus the duration; `Events`: the time of the k-th latest event, so
    /// events at that very nanosecond are all kept). The calls open at the window's start (begun
    /// before it, running into it or through it) open at its start, flagged
    /// [`crate::CallFlags::STARTED_BEFORE`], with their children as recorded. Its metadata says
    /// the window (`keep_last`, `window.start_ns`).
    pub fn snapshot(&self) -> Result<Trace> {
        let bytes = self.file_bytes();
        let from_ns = match self.keep {
            Keep::Duration(d) => self.until_ns.saturating_sub(d),
            Keep::Events(k) => {
                let all = read_window(&bytes, 0)?;
                let mut times: Vec<u64> =
                    all.recording.threads.iter().flat_map(|t| t.chunks.iter().flatten()).map(|e| e.t_ns).collect();
                if (times.len() as u64) <= k || k == 0 {
                    0
                } else {
                    let i = times.len() - k as usize;
                    *times.select_nth_unstable(i).1
                }
            }
        };
        let mut read = read_window_from(&bytes, from_ns, Some(self.base.clone()))?;
        let rec = &mut read.recording;
        rec.metadata.retain(|(k, _)| k != END_MISSING_WARNING);
        rec.process.incomplete = false;
        rec.metadata.push((
            "keep_last".into(),
            match self.keep {
                Keep::Duration(d) => format!("{d} ns"),
                Keep::Events(k) => format!("{k} events"),
            },
        ));
        rec.metadata.push(("window.start_ns".into(), rec.start_ns.to_string()));
        // The builder orders threads by first event time (ties: recording order) and drops those
        // with none: the same order here says which trace thread got which opened calls.
        let mut order: Vec<(u64, usize)> = rec
            .threads
            .iter()
            .enumerate()
            .filter_map(|(i, t)| t.chunks.iter().flatten().map(|e| e.t_ns).min().map(|first| (first, i)))
            .collect();
        order.sort_by_key(|&(first, _)| first);
        let opened = std::mem::take(&mut read.opened);
        let mut t = crate::calltree::build_trace(read.recording);
        for (info, &(_, i)) in t.threads.iter().zip(&order) {
            let k = opened.get(i).copied().unwrap_or(0);
            let (lo, hi) = (info.call_range.0 as usize, info.call_range.1 as usize);
            // calls begun before the recording itself (returns with no call) come first, then ours
            let before = (lo..hi).take_while(|&c| t.calls.flags[c].started_before()).count();
            for c in (lo..hi).skip(before).take(k) {
                t.calls.flags[c].0 |= crate::CallFlags::STARTED_BEFORE;
            }
        }
        Ok(t)
    }
}
