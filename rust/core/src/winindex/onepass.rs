//! The window index built while the stop's rewrite (`crate::record::compact`) reads the events, so
//! that the stop writes the index without a second pass over the file it wrote.
//!
//! The rewrite sees each thread's calls end in the thread's order, and within a thread the calls
//! of a depth end in start order, so each call goes to its row ([`super::build::RowBuild`], the
//! one encoder of chunks) when it returns. What it does not know until the end: how many calls
//! of a thread began before the recording (`k`: each is found at its unmatched return, and it
//! encloses everything before it), where the thread's calls land in the trace, and the clock's
//! origin (the processes' common clock). So rows are keyed by *level*, the depth relative to the
//! thread's first stack (a call begun before closes level -1, the next -2, ...; a call opened
//! when `j` of them have returned, with `n` of the recording's calls open, is at level `n - j`),
//! and its final depth is `level + k`. Calls are numbered from the thread's first call seen (the
//! calls begun before, first in the thread's pre-order, are -1, -2, ...) and timed from the
//! thread's first time; chunks hold only differences of these, so they are final as made, and
//! the directory, written at the end, places each chunk (first call, first start) in the trace.
//! The parent of a call opened at level `-j` with none of the recording's calls open is the call
//! begun before at level `-(j + 1)`: number `-(j + 1)`, or, when there is none, the place before
//! the thread's first call, as a walk of the file numbers a top-level call's parent.
//!
//! Memory: each row's open chunk (at most [`crate::window::CHUNK`] calls, about 10 bytes a
//! call), chunks in flight to the deflating threads, and the directory (48 bytes a chunk). The
//! chunks are kept raw until the recording has as many calls as a file needs to get its index
//! (1M by default: about 10 MB), so the stop of a smaller one deflates nothing; from then on they
//! go, deflated, to an unlinked file beside the output, copied into the sidecar at the end.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use super::build::{overall_json, resolve, span, temp_file, CallRec, Directory, RowBuild, Sink, Source};
use super::HEADER_LEN;
use crate::record::compact::Outline;

/// One thread's rows, by level.
#[derive(Default)]
pub(crate) struct Levels {
    /// Levels -1, -2, ...
    below: Vec<RowBuild>,
    /// Levels 0, 1, ...
    rows: Vec<RowBuild>,
}

impl Levels {
    fn row(&mut self, level: i64) -> &mut RowBuild {
        let (v, i) = if level < 0 { (&mut self.below, (-level - 1) as usize) } else { (&mut self.rows, level as usize) };
        if v.len() <= i {
            v.resize_with(i + 1, RowBuild::default);
        }
        &mut v[i]
    }

    /// The rows by depth: the lowest level first.
    fn into_depths(self) -> Vec<RowBuild> {
        let mut out = self.below;
        out.reverse();
        out.extend(self.rows);
        out
    }
}

/// A thread of the rewrite, as the index sees it at a call's return.
pub(crate) struct Ended {
    /// The call's number among the thread's calls seen (0: the first), its start and end
    /// (nanoseconds from the thread's first time) and its function.
    pub call: u64,
    pub start: i64,
    pub end: i64,
    pub code: u32,
    /// The calls of the recording still open in the thread (the call's own level when none
    /// has returned unmatched), and the one just below it (its parent) when there is one.
    pub open: usize,
    pub parent: Option<u64>,
    /// The calls begun before the recording found so far in the thread.
    pub begun_before: usize,
}

/// The index being built by a rewrite.
pub(crate) struct OnePass {
    dir: PathBuf,
    /// Chunks are kept raw (about 10 bytes a call) until `min_calls` calls are seen, then
    /// deflated into a file as they fill.
    sink: Sink,
    min_calls: u64,
    calls: u64,
    error: Option<io::Error>,
}

impl OnePass {
    /// A builder whose chunks go to an unlinked file in `dir` once the recording has at least
    /// `min_calls` calls (the fewest a file gets its index with, [`super::write_min_calls`]);
    /// None when the index is off: `min_calls` above the most calls a trace can hold.
    pub fn new(dir: &Path, min_calls: u64) -> Option<OnePass> {
        (min_calls <= u64::from(u32::MAX)).then(|| OnePass {
            dir: dir.to_path_buf(),
            sink: Sink::deferred(),
            min_calls,
            calls: 0,
            error: None,
        })
    }

    /// Starts writing the chunks (into a new unlinked file beside the output).
    fn start(&mut self) {
        if self.sink.started() || self.error.is_some() {
            return;
        }
        let made = temp_file(&self.dir).and_then(|mut f| {
            // the header's place, written at the end
            std::io::Write::write_all(&mut f, &[0u8; HEADER_LEN]).map(|()| f)
        });
        match made {
            Ok(f) => self.sink.start(f, HEADER_LEN as u64),
            Err(e) => self.error = Some(e),
        }
    }

    fn put(&mut self, levels: &mut Levels, level: i64, c: CallRec) {
        self.calls += 1;
        if self.calls >= self.min_calls && !self.sink.started() {
            self.start();
        }
        let row = levels.row(level);
        if row.push(&c) {
            row.flush(&mut self.sink);
        }
    }

    /// A call of the recording returned (or is closed at the end, unfinished).
    pub fn ended(&mut self, levels: &mut Levels, e: Ended) {
        let j = e.begun_before as i64;
        let parent = e.parent.map_or(-(j + 1), |p| p as i64);
        let c = CallRec { call: e.call as i64, parent, start: e.start, end: e.end, code: e.code };
        self.put(levels, e.open as i64 - j, c);
    }

    /// A call begun before the recording returned: the `begun_before`-th found (from 1), at
    /// `end` (nanoseconds from the thread's first time).
    pub fn begun_before(&mut self, levels: &mut Levels, begun_before: usize, end: i64, code: u32) {
        let m = begun_before as i64;
        self.put(levels, -m, CallRec { call: -m, parent: -m - 1, start: 0, end, code });
    }

    /// Writes the index of the `.fpt` at `fpt`, just written: `threads` in the trace's order,
    /// each its rows and the calls begun before the recording in it (`k`); `outline` the trace
    /// without calls (its threads' call ranges and first times as in the file), its calls and
    /// summary; `flags` its flagged calls in order. Returns where it went.
    pub fn finish(
        mut self,
        fpt: &Path,
        places: &[PathBuf],
        threads: Vec<(Levels, usize)>,
        outline: &Outline,
        flags: Vec<(u32, u8)>,
    ) -> io::Result<PathBuf> {
        let (skeleton, calls, summary) = (&outline.trace, outline.calls, &outline.summary);
        self.start();
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        let mut shifted = Vec::with_capacity(threads.len());
        for ((levels, k), th) in threads.into_iter().zip(&skeleton.threads) {
            let mut rows = levels.into_depths();
            for r in &mut rows {
                r.close(&mut self.sink);
            }
            shifted.push((rows, i64::from(th.call_range.0) + k as i64, th.first_ns));
        }
        let (chunks, end, placed): (File, u64, _) = self.sink.finish()?;
        let dir = Directory {
            skeleton: crate::window::skeleton(skeleton),
            overall_json: overall_json(summary),
            calls,
            span: span(skeleton),
            rows: resolve(shifted, &placed)?,
            flags,
            overview: None,
        };
        let directory = dir.encode();
        match super::build::build_with(fpt, places, Source::Made { chunks: &chunks, end, directory: &directory }) {
            Ok(super::build::Place::Path(p)) => Ok(p),
            Ok(super::build::Place::Temp(_)) => Err(io::Error::other("no folder could hold the window index")),
            Err(e) => Err(io::Error::other(e.to_string())),
        }
    }
}
