//! Varints (LEB128; signed ones zigzag), strings (a varint byte count, UTF-8), varints split in two
//! planes, and their reader: [`Reader`] parses a body through a window that its [`Source`] refills
//! (a body in memory, [`SliceSource`], or a zlib stream inflated as it is read,
//! [`super::BodyStream`]). A count is checked against the bytes left before anything is allocated
//! from it; every error names what was read and its offset in the body.

use super::{FptError, Result};

/// Bytes of body the parser's window holds (refilled when used up).
pub(crate) const WINDOW_LEN: usize = 256 << 10;

pub(crate) fn put_u(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

pub(crate) fn put_s(out: &mut Vec<u8>, v: i64) {
    put_u(out, ((v << 1) ^ (v >> 63)) as u64);
}

pub(crate) fn put_str(out: &mut Vec<u8>, s: &str) {
    put_u(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

/// Varints split in two planes: the first byte of every value, then the other bytes of the values
/// that have more, in order (the first plane is nearly uniform low bits, the second small and
/// repetitive: zlib compresses the two apart better than interleaved).
pub(crate) fn put_planes(out: &mut Vec<u8>, values: &[u64]) {
    out.reserve(values.len() * 2);
    for &v in values {
        out.push(if v >= 0x80 { (v as u8) | 0x80 } else { v as u8 });
    }
    for &v in values {
        if v >= 0x80 {
            put_u(out, v >> 7);
        }
    }
}

/// Where a [`Reader`] gets the body from.
pub(crate) trait Source {
    /// Appends at most `max` (> 0) more bytes of the body to `out`; appends none at its end.
    fn fill(&mut self, out: &mut Vec<u8>, max: usize) -> Result<()>;
    /// Called once the parser is done (or failed): the fault of the input, if any, that must be
    /// reported rather than the parser's.
    fn finish(&mut self) -> Result<()>;
}

/// A body already in memory.
pub(crate) struct SliceSource<'a>(pub(crate) &'a [u8]);

impl Source for SliceSource<'_> {
    fn fill(&mut self, out: &mut Vec<u8>, max: usize) -> Result<()> {
        let n = max.min(self.0.len());
        out.extend_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(())
    }
    fn finish(&mut self) -> Result<()> {
        Ok(())
    }
}

/// The parser's view of the body: a window of it, refilled from its source, and the offset in the
/// body of the window's first byte.
pub(crate) struct Reader<S> {
    buf: Vec<u8>,
    pos: usize,
    base: u64,
    /// The body's length (as the header says).
    pub(crate) len: u64,
    pub(crate) src: S,
}

impl<S: Source> Reader<S> {
    pub(crate) fn new(src: S, len: u64) -> Self {
        Reader { buf: Vec::new(), pos: 0, base: 0, len, src }
    }
    pub(crate) fn err<T>(&self, at: u64, what: impl Into<String>) -> Result<T> {
        Err(FptError::Body { offset: at, what: what.into() })
    }
    /// The offset in the body of the next byte.
    #[inline]
    pub(crate) fn pos(&self) -> u64 {
        self.base + self.pos as u64
    }
    pub(crate) fn left(&self) -> u64 {
        self.len.saturating_sub(self.pos())
    }
    /// Drops the window (used up) and reads the next one; false at the end of the body.
    #[cold]
    fn refill(&mut self) -> Result<bool> {
        self.base += self.buf.len() as u64;
        self.buf.clear();
        self.pos = 0;
        self.src.fill(&mut self.buf, WINDOW_LEN)?;
        Ok(!self.buf.is_empty())
    }
    #[inline]
    pub(crate) fn byte(&mut self) -> Result<Option<u8>> {
        if self.pos >= self.buf.len() && !self.refill()? {
            return Ok(None);
        }
        let b = self.buf[self.pos];
        self.pos += 1;
        Ok(Some(b))
    }
    /// The next `n` bytes, appended to `out` (fewer at the end of the body). `out` grows with the
    /// bytes read, not with `n`: a count is checked against the length the header claims, which a
    /// cut stream does not have.
    pub(crate) fn take(&mut self, mut n: usize, out: &mut Vec<u8>) -> Result<()> {
        while n > 0 {
            if self.pos >= self.buf.len() && !self.refill()? {
                return Ok(());
            }
            let k = n.min(self.buf.len() - self.pos);
            out.extend_from_slice(&self.buf[self.pos..self.pos + k]);
            self.pos += k;
            n -= k;
        }
        Ok(())
    }
    #[inline]
    pub(crate) fn u(&mut self, what: &str) -> Result<u64> {
        let start = self.pos();
        let mut v: u64 = 0;
        let mut shift = 0u32;
        loop {
            let Some(byte) = self.byte()? else {
                return self.err(start, format!("truncated: the body ends inside {what}"));
            };
            if shift == 63 && byte > 1 {
                return self.err(start, format!("varint of {what} does not fit in 64 bits"));
            }
            v |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(v);
            }
            shift += 7;
            if shift > 63 {
                return self.err(start, format!("varint of {what} longer than 10 bytes"));
            }
        }
    }
    /// Moves forward to the body offset `pos` (never back).
    pub(crate) fn skip_to(&mut self, pos: u64) -> Result<()> {
        let at = self.pos();
        if pos < at {
            return self.err(at, format!("cannot move back to byte {pos}"));
        }
        while pos > self.base + self.buf.len() as u64 {
            if !self.refill()? {
                return self.err(at, "truncated: the body ends before a column");
            }
        }
        self.pos = (pos - self.base) as usize;
        Ok(())
    }
    /// Moves past `n` varints.
    pub(crate) fn skip_varints(&mut self, mut n: usize, what: &str) -> Result<()> {
        let at = self.pos();
        while n > 0 {
            if self.pos >= self.buf.len() && !self.refill()? {
                return self.err(at, format!("truncated: the body ends inside {what}"));
            }
            let window = &self.buf[self.pos..];
            let mut used = window.len();
            for (k, &b) in window.iter().enumerate() {
                if b < 0x80 {
                    n -= 1;
                    if n == 0 {
                        used = k + 1;
                        break;
                    }
                }
            }
            self.pos += used;
        }
        Ok(())
    }
    #[inline]
    pub(crate) fn s(&mut self, what: &str) -> Result<i64> {
        let u = self.u(what)?;
        Ok(((u >> 1) as i64) ^ -((u & 1) as i64))
    }
    /// A count of elements each taking at least `min_bytes` bytes: checked against what is left.
    pub(crate) fn count(&mut self, what: &str, min_bytes: usize) -> Result<usize> {
        let at = self.pos();
        let n = self.u(what)?;
        if n > self.left() / min_bytes.max(1) as u64 {
            return self.err(at, format!("{what} {n} is larger than the {} bytes left", self.left()));
        }
        Ok(n as usize)
    }
    pub(crate) fn str(&mut self, what: &str) -> Result<String> {
        let at = self.pos();
        let len = self.count(what, 1)?;
        let mut bytes = Vec::with_capacity(ahead(len));
        self.take(len, &mut bytes)?;
        if bytes.len() < len {
            return self.err(at, format!("truncated: the body ends inside {what}"));
        }
        String::from_utf8(bytes).or_else(|_| self.err(at, format!("{what} is not valid UTF-8")))
    }
    pub(crate) fn index(&mut self, what: &str, len: usize) -> Result<usize> {
        let at = self.pos();
        let v = self.u(what)?;
        if v >= len as u64 {
            return self.err(at, format!("{what} {v} out of range (table has {len})"));
        }
        Ok(v as usize)
    }
}

/// Elements reserved from a count before they are read: a count is checked against the body length
/// the header claims, which a cut or lying stream does not have, so larger tables and columns grow
/// with what is really read (the columns are trimmed at the end).
const RESERVE_AHEAD: usize = 1 << 20;

pub(crate) fn ahead(n: usize) -> usize {
    n.min(RESERVE_AHEAD)
}

/// Reads a column of varints written in two planes ([`put_planes`]): the first plane (one byte per
/// value) is read whole into `first`, then the continuation bytes are read from the body after it
/// as the values need them.
pub(crate) struct Planes {
    what: &'static str,
    first: Vec<u8>,
    /// Offset in the body of the first plane.
    at: u64,
    next: usize,
}

impl Planes {
    pub(crate) fn new<S: Source>(r: &mut Reader<S>, what: &'static str, len: usize) -> Result<Planes> {
        let at = r.pos();
        if len as u64 > r.left() {
            return r.err(at, format!("{what}: {len} values but only {} bytes left", r.left()));
        }
        let mut first = Vec::with_capacity(ahead(len));
        r.take(len, &mut first)?;
        if first.len() < len {
            return r.err(r.pos(), format!("truncated: the body ends inside {what}"));
        }
        Ok(Planes { what, first, at, next: 0 })
    }
    /// The next value and the offset of its first byte.
    #[inline]
    pub(crate) fn next<S: Source>(&mut self, r: &mut Reader<S>) -> Result<(u64, u64)> {
        let at = self.at + self.next as u64;
        let Some(&b) = self.first.get(self.next) else {
            return r.err(at, format!("{}: more values read than written", self.what));
        };
        self.next += 1;
        if b < 0x80 {
            return Ok((at, u64::from(b)));
        }
        let rest_at = r.pos();
        let hi = r.u(self.what)?;
        if hi >> 57 != 0 {
            return r.err(rest_at, format!("{} value does not fit in 64 bits", self.what));
        }
        Ok((at, u64::from(b & 0x7f) | (hi << 7)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints() {
        for v in [0u64, 1, 127, 128, 300, u64::MAX / 3, u64::MAX] {
            let mut b = Vec::new();
            put_u(&mut b, v);
            let mut r = Reader::new(SliceSource(&b), b.len() as u64);
            assert_eq!(r.u("x").unwrap(), v);
            assert_eq!(r.pos(), b.len() as u64);
        }
        for v in [0i64, -1, 1, i64::MIN, i64::MAX, -300] {
            let mut b = Vec::new();
            put_s(&mut b, v);
            let mut r = Reader::new(SliceSource(&b), b.len() as u64);
            assert_eq!(r.s("x").unwrap(), v);
        }
        // 11 bytes, and a 10th byte with more than the top bit
        let long = [0x80u8; 10].iter().copied().chain([0]).collect::<Vec<_>>();
        assert!(Reader::new(SliceSource(&long), long.len() as u64).u("x").is_err());
        let over = [0xffu8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02];
        assert!(Reader::new(SliceSource(&over), over.len() as u64).u("x").is_err());
    }
}
