//! A PYME text input parsed in segments on several cores: the input (bytes, or a file read a range
//! at a time) cut at line ends, each segment parsed on its own, the parsers merged in order; the
//! result is that of one pass (tested).

use super::{Parser, TextError};
use crate::calltree::build_trace;
use crate::model::{Recording, Trace};
use std::io;

/// Inputs at least this large are parsed in segments on several cores.
pub(super) const PARALLEL_MIN_BYTES: usize = 16 << 20;

/// How many segments to parse in parallel (the cores available, at most 8).
pub(super) fn parallelism(len: usize) -> usize {
    if len < PARALLEL_MIN_BYTES {
        return 1;
    }
    std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 8)
}

/// Splits `0..len` into `n` ranges that start at line starts; `newline_at_or_after(p)` finds the
/// first `\n` at or after `p`.
pub(super) fn split_points(
    len: usize,
    n: usize,
    mut newline_at_or_after: impl FnMut(usize) -> Option<usize>,
) -> Vec<(usize, usize)> {
    let mut cuts = vec![0usize];
    for k in 1..n {
        let p = len / n * k;
        let cut = newline_at_or_after(p.max(*cuts.last().unwrap_or(&0))).map_or(len, |i| i + 1);
        if cut > *cuts.last().unwrap_or(&0) && cut < len {
            cuts.push(cut);
        }
    }
    cuts.push(len);
    cuts.windows(2).map(|w| (w[0], w[1])).collect()
}

/// Merges segment results in order; the first failing segment's error, with its line number
/// counted from the start of the input.
pub(super) fn merge_segments(results: Vec<Result<Parser, TextError>>) -> Result<Parser, TextError> {
    let mut acc: Option<Parser> = None;
    for r in results {
        let lines_before = acc.as_ref().map_or(0, |p| p.line_no);
        match r {
            Ok(p) => match acc.as_mut() {
                Some(a) => a.merge(p),
                None => acc = Some(p),
            },
            Err(TextError::Line { line, what }) => return Err(TextError::Line { line: line + lines_before, what }),
            Err(e) => return Err(e),
        }
    }
    Ok(acc.unwrap_or_else(Parser::new))
}

/// Parses the segments `ranges` (one per core) with `parse`, the first on this thread (it reports
/// progress for all: they advance at about the same rate), the others on scoped threads.
pub(super) fn parse_segments<F>(
    ranges: &[(usize, usize)],
    progress: &mut dyn FnMut(usize, usize),
    parse: F,
) -> Vec<Result<Parser, TextError>>
where
    F: Fn((usize, usize), &mut dyn FnMut(usize, usize)) -> Result<Parser, TextError> + Sync,
{
    let Some((&first, rest)) = ranges.split_first() else {
        return Vec::new();
    };
    if rest.is_empty() {
        return vec![parse(first, progress)];
    }
    let scale = ranges.len();
    let parse = &parse;
    std::thread::scope(|s| {
        let handles: Vec<_> = rest.iter().map(|&r| s.spawn(move || parse(r, &mut |_, _| {}))).collect();
        let mut out = vec![parse(first, &mut |d, t| progress((d * scale).min(t), t))];
        for h in handles {
            out.push(h.join().unwrap_or_else(|_| Err(TextError::Io("a parsing thread failed".into()))));
        }
        out
    })
}

/// Parses the lines into a [`Recording`] (flat events per thread; no tree building).
///
/// One pass over the bytes finding tabs and newlines 8 bytes at a time; numbers parsed by hand;
/// threads and codes interned (a one-entry cache for the thread, a small direct-mapped cache in
/// front of the hash table for codes); no allocation per line. Inputs of 16 MiB or more are cut
/// into segments at line starts, parsed on the available cores and merged, with the same result.
pub fn read_recording(bytes: &[u8], progress: &mut dyn FnMut(usize, usize)) -> Result<Recording, TextError> {
    read_recording_in(bytes, parallelism(bytes.len()), progress)
}

pub(super) fn read_recording_in(bytes: &[u8], n: usize, progress: &mut dyn FnMut(usize, usize)) -> Result<Recording, TextError> {
    let total = bytes.len();
    let ranges = split_points(total, n, |p| memchr::memchr(b'\n', bytes.get(p..).unwrap_or(&[])).map(|i| p + i));
    let parse = |(a, b): (usize, usize), progress: &mut dyn FnMut(usize, usize)| {
        let mut p = Parser::new();
        p.feed(&bytes[a..b], true, a, progress, total).map(|_| p)
    };
    let results = parse_segments(&ranges, progress, parse);
    let p = merge_segments(results)?;
    progress(total, total);
    p.finish()
}

/// Parses `start..end` of a file in 4 MiB pieces.
pub(super) fn parse_file_range(
    path: &std::path::Path,
    start: usize,
    end: usize,
    total: usize,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Parser, TextError> {
    use std::io::{Read, Seek, SeekFrom};
    let io_err = |e: io::Error| TextError::Io(format!("{}: {e}", path.display()));
    let mut f = std::fs::File::open(path).map_err(io_err)?;
    f.seek(SeekFrom::Start(start as u64)).map_err(io_err)?;
    let mut f = f.take((end - start) as u64);
    let mut buf = vec![0u8; (4usize << 20).min(end - start + 1)];
    let mut filled = 0usize;
    let mut offset = start;
    let mut p = Parser::new();
    loop {
        let mut eof = false;
        while filled < buf.len() {
            match f.read(&mut buf[filled..]) {
                Ok(0) => {
                    eof = true;
                    break;
                }
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(io_err(e)),
            }
        }
        let used = p.feed(&buf[..filled], eof, offset, progress, total)?;
        if eof {
            return Ok(p);
        }
        buf.copy_within(used..filled, 0);
        filled -= used;
        offset += used;
        if filled == buf.len() {
            // One line longer than the buffer: grow it.
            buf.resize(buf.len() * 2, 0);
        }
    }
}

/// Reads a PYME raw text file from disk in 4 MiB pieces (the whole file is never held in memory),
/// calling `progress(bytes_done, bytes_total)` as it goes; files of 16 MiB or more are parsed in
/// segments on the available cores. Same result as [`read`] on the file's bytes.
pub fn read_file(path: &std::path::Path, progress: &mut dyn FnMut(usize, usize)) -> Result<Trace, TextError> {
    let io_err = |e: io::Error| TextError::Io(format!("{}: {e}", path.display()));
    let total = std::fs::metadata(path).map_err(io_err)?.len() as usize;
    read_file_in(path, parallelism(total), progress)
}

/// [`read_file`] with an explicit number of parsing threads (1 = one pass on the calling thread;
/// files under 16 MiB always use one).
pub fn read_file_with_threads(
    path: &std::path::Path,
    threads: usize,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Trace, TextError> {
    let io_err = |e: io::Error| TextError::Io(format!("{}: {e}", path.display()));
    let total = std::fs::metadata(path).map_err(io_err)?.len() as usize;
    read_file_in(path, threads.clamp(1, parallelism(total).max(1)), progress)
}

pub(super) fn read_file_in(path: &std::path::Path, n: usize, progress: &mut dyn FnMut(usize, usize)) -> Result<Trace, TextError> {
    use std::io::{Read, Seek, SeekFrom};
    let io_err = |e: io::Error| TextError::Io(format!("{}: {e}", path.display()));
    let total = std::fs::metadata(path).map_err(io_err)?.len() as usize;
    let mut probe = std::fs::File::open(path).map_err(io_err)?;
    let ranges = split_points(total, n, |p| {
        // Find the next newline by reading from p.
        let mut buf = [0u8; 1 << 16];
        let mut at = p;
        probe.seek(SeekFrom::Start(p as u64)).ok()?;
        loop {
            let n = probe.read(&mut buf).ok()?;
            if n == 0 {
                return None;
            }
            if let Some(i) = memchr::memchr(b'\n', &buf[..n]) {
                return Some(at + i);
            }
            at += n;
        }
    });
    let results =
        parse_segments(&ranges, progress, |(a, b), prog: &mut dyn FnMut(usize, usize)| parse_file_range(path, a, b, total, prog));
    let p = merge_segments(results)?;
    progress(total, total);
    p.finish().map(build_trace)
}
