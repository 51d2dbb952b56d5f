//! zlib (RFC 1950) both ways: [`deflate_into`] compresses a body held in memory; [`BodyStream`]
//! inflates one as it is read from a file or a buffer (a window at a time, never past the length
//! its header claims, its end checked: over-long, short, corrupt, bytes after it), which is what
//! lets a reader parse a large file without holding it or its inflated body. [`read_full`] fills a
//! buffer from a reader.

use super::varint::{Source, WINDOW_LEN};
use super::{FptError, Result};
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// Bytes read from the file at a time.
pub(crate) const INPUT_LEN: usize = 64 << 10;
/// Progress is reported every this many bytes of input.
pub const PROGRESS_STEP: u64 = 4 << 20;

/// Appends `body` compressed as one zlib stream (RFC 1950) at `level` (0-9) to `out` (the `.fpt`
/// body, each chunk of a streamed file, a window reply).
pub(crate) fn deflate_into(out: &mut Vec<u8>, body: &[u8], level: u32) {
    let mut z = Compress::new(Compression::new(level.min(9)), true);
    loop {
        if out.capacity() - out.len() < 4096 {
            out.reserve(out.capacity().max(4096));
        }
        let consumed = z.total_in() as usize;
        match z.compress_vec(&body[consumed.min(body.len())..], out, FlushCompress::Finish) {
            Ok(Status::StreamEnd) => break,
            Ok(_) => {}
            // Compressing from memory into memory cannot fail; stop rather than loop.
            Err(_) => break,
        }
    }
}

/// Inflates the zlib stream `input` that must inflate to exactly `body_len` bytes and end exactly
/// at the end of `input` (each chunk of a streamed file, `formats::stream`), with the checks of an
/// `.fpt` body. Errors give offsets in the file: `base` is the offset of `input` in it.
pub(crate) fn inflate_exact(input: &[u8], body_len: usize, base: u64) -> Result<Vec<u8>> {
    let mut input = input;
    let mut none = |_: usize, _: usize| {};
    let len = input.len();
    BodyStream::zlib(&mut input, body_len as u64, base, len, &mut none).read_all()
}

/// A body read from `input`: a zlib stream inflated (or, for a raw body, copied) as it is read,
/// never past the length its header claims, then checked to end exactly there.
pub(crate) struct BodyStream<'a> {
    input: &'a mut dyn std::io::Read,
    /// None: a raw body.
    z: Option<Decompress>,
    buf: Vec<u8>,
    buf_pos: usize,
    input_done: bool,
    /// Bytes read from `input` (the header included).
    read: u64,
    input_len: usize,
    next_report: u64,
    progress: &'a mut dyn FnMut(usize, usize),
    pub(crate) body_len: u64,
    /// Body bytes produced so far.
    out: u64,
    /// The zlib stream (or the raw body) has ended and was checked.
    ended: bool,
    /// The first fault, returned again by every later call.
    failed: Option<FptError>,
    /// Offset in the file of the stream's first byte (for error offsets).
    base: u64,
}

impl<'a> BodyStream<'a> {
    /// The zlib stream `input` (after the header, or a chunk of a streamed file at `base` in the
    /// file) that inflates to exactly `body_len` bytes.
    pub(crate) fn zlib(
        input: &'a mut dyn std::io::Read,
        body_len: u64,
        base: u64,
        input_len: usize,
        progress: &'a mut dyn FnMut(usize, usize),
    ) -> BodyStream<'a> {
        BodyStream {
            input,
            z: Some(Decompress::new(true)),
            buf: Vec::new(),
            buf_pos: 0,
            input_done: false,
            read: base,
            input_len,
            next_report: PROGRESS_STEP,
            progress,
            body_len,
            out: 0,
            ended: false,
            failed: None,
            base,
        }
    }

    /// The same input read as a raw body (copied, not inflated).
    pub(crate) fn raw(mut self) -> Self {
        self.z = None;
        self
    }

    /// Reports `done` of `total` bytes read to the progress callback.
    pub(crate) fn report(&mut self, done: usize, total: usize) {
        (self.progress)(done, total);
    }

    /// The whole body (then the checks of its end).
    pub(crate) fn read_all(mut self) -> Result<Vec<u8>> {
        let mut body = Vec::new();
        loop {
            let before = body.len();
            self.fill(&mut body, WINDOW_LEN)?;
            if body.len() == before {
                break;
            }
        }
        self.finish()?;
        Ok(body)
    }

    fn fail<T>(&mut self, e: FptError) -> Result<T> {
        self.failed = Some(e.clone());
        Err(e)
    }

    /// Reads more input into `buf` when it is used up; false at the end of the input.
    fn more_input(&mut self) -> Result<bool> {
        if self.buf_pos < self.buf.len() {
            return Ok(true);
        }
        if self.input_done {
            return Ok(false);
        }
        self.buf.resize(INPUT_LEN, 0);
        self.buf_pos = 0;
        let n = loop {
            match self.input.read(&mut self.buf) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let offset = self.read;
                    return self.fail(FptError::Read { offset, what: e.to_string() });
                }
            }
        };
        self.buf.truncate(n);
        self.read += n as u64;
        if self.read >= self.next_report {
            (self.progress)(self.read as usize, self.input_len);
            self.next_report = self.read + PROGRESS_STEP;
        }
        self.input_done = n == 0;
        Ok(n > 0)
    }

    /// Bytes left in the input after the body (read and counted, not kept).
    fn count_trailing(&mut self) -> Result<u64> {
        let mut n = 0;
        while self.more_input()? {
            n += (self.buf.len() - self.buf_pos) as u64;
            self.buf_pos = self.buf.len();
        }
        Ok(n)
    }

    fn fill_raw(&mut self, out: &mut Vec<u8>, max: usize) -> Result<()> {
        let want = (max as u64).min(self.body_len - self.out) as usize;
        if want == 0 || !self.more_input()? {
            // The body is read (or the input ended): check it is exactly body_len bytes.
            if !self.ended {
                self.ended = true;
                let len = self.out + self.count_trailing()?;
                if len != self.body_len {
                    let body_len = self.body_len;
                    return self.fail(FptError::Body {
                        offset: len.min(body_len),
                        what: format!("raw body is {len} bytes, header says {body_len}"),
                    });
                }
            }
            return Ok(());
        }
        let n = want.min(self.buf.len() - self.buf_pos);
        out.extend_from_slice(&self.buf[self.buf_pos..self.buf_pos + n]);
        self.buf_pos += n;
        self.out += n as u64;
        Ok(())
    }

    fn fill_zlib(&mut self, out: &mut Vec<u8>, max: usize) -> Result<()> {
        let Some(mut z) = self.z.take() else { return Ok(()) };
        let r = self.inflate(&mut z, out, max);
        self.z = Some(z);
        r
    }

    fn inflate(&mut self, z: &mut Decompress, out: &mut Vec<u8>, max: usize) -> Result<()> {
        let body_len = self.body_len;
        let base = self.base;
        let zerr = |z: &Decompress, what: String| FptError::Zlib { offset: base + z.total_in(), what };
        let start = out.len();
        while !self.ended && out.len() == start {
            let has_input = self.more_input()?;
            // One byte more than body_len detects an over-long stream.
            let room = (max as u64).min(body_len + 1 - self.out) as usize;
            let (in_before, out_before) = (z.total_in(), z.total_out());
            let at = out.len();
            out.resize(at + room, 0);
            let status = z.decompress(&self.buf[self.buf_pos..], &mut out[at..], FlushDecompress::None);
            let produced = (z.total_out() - out_before) as usize;
            out.truncate(at + produced);
            self.buf_pos += (z.total_in() - in_before) as usize;
            self.out += produced as u64;
            let status = match status {
                Ok(s) => s,
                Err(e) => return self.fail(zerr(z, format!("corrupt ({e})"))),
            };
            if self.out > body_len {
                return self.fail(zerr(z, format!("inflates to more than the {body_len} bytes the header says")));
            }
            if status == Status::StreamEnd {
                self.ended = true;
                let used = z.total_in();
                let trailing = self.count_trailing()?;
                if trailing > 0 {
                    return self.fail(FptError::Zlib {
                        offset: self.base + used,
                        what: format!("{trailing} unexpected bytes after the end of the compressed body"),
                    });
                }
                if self.out != body_len {
                    let got = self.out;
                    return self.fail(FptError::Body {
                        offset: got,
                        what: format!("body inflates to {got} bytes, header says {body_len}"),
                    });
                }
            } else if z.total_in() == in_before && produced == 0 && !has_input {
                return self.fail(zerr(z, "truncated: the file ends inside the compressed body".into()));
            } else if z.total_in() == in_before && produced == 0 && self.buf_pos < self.buf.len() {
                // Input and room for output, yet no progress: never loop on it.
                return self.fail(zerr(z, "corrupt (no progress)".into()));
            }
        }
        Ok(())
    }
}

impl Source for BodyStream<'_> {
    fn fill(&mut self, out: &mut Vec<u8>, max: usize) -> Result<()> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        if self.z.is_some() {
            self.fill_zlib(out, max)
        } else {
            self.fill_raw(out, max)
        }
    }
    /// Reads the rest of the stream (inflated into a scratch buffer and dropped) to find its fault.
    fn finish(&mut self) -> Result<()> {
        let mut scratch = Vec::new();
        loop {
            scratch.clear();
            self.fill(&mut scratch, WINDOW_LEN)?;
            if scratch.is_empty() {
                return Ok(());
            }
        }
    }
}

/// Reads into `buf` until it is full or the input ends; the bytes read.
pub(crate) fn read_full(r: &mut impl std::io::Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}
