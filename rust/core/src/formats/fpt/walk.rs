//! The `.fpt` walker: a file's calls as events, read without holding them ([`walk_file`]), for
//! summaries of files of any length.

use super::decode::{open_body, parse_with, read_backs, CallSink};
use super::MAX_BODY_LEN;
use crate::formats::codec::zlib::INPUT_LEN;
use crate::formats::codec::{BodyStream, FptError, Reader, Result, Source};
use crate::Trace;

/// What [`walk_file`] reports: each thread's calls as the events they are made of, in order.
pub trait EventVisitor {
    /// Thread `ti` (an index into the trace's threads) begins; its first time is `first_ns`.
    fn thread(&mut self, ti: usize, first_ns: i64);
    /// A call of `code` starts at `t_ns`.
    fn enter(&mut self, code: u32, t_ns: i64);
    /// The innermost open call ends at `t_ns`.
    fn exit(&mut self, t_ns: i64);
    /// Call `call` (its global index: calls are numbered in file order across threads) has
    /// flags `flags` (`CallFlags`); told after its thread's events, for the calls with flags.
    fn flag(&mut self, _call: usize, _flags: u8) {}
}

/// The events of a body's threads, read with four cursors over the same zlib stream (one each for
/// the code column, the pops column, the first plane of the gaps, and the main one, which reads
/// the tables and the second plane): the columns of a thread follow one another in the body, and
/// a call needs a value from each, so each cursor inflates the body on its own and moves forward
/// only. Memory: four windows; work: the body inflated four times.
struct Walk<'a, 'v> {
    code: Reader<BodyStream<'a>>,
    pops: Reader<BodyStream<'a>>,
    gaps: Reader<BodyStream<'a>>,
    calls: usize,
    visitor: &'v mut dyn EventVisitor,
}

impl<'a> CallSink<BodyStream<'a>> for Walk<'a, '_> {
    fn len(&self) -> usize {
        self.calls
    }

    fn columns(
        &mut self,
        r: &mut Reader<BodyStream<'a>>,
        ti: usize,
        n: usize,
        n_codes: usize,
        first_ns: i64,
        last_ns: i64,
        v2: bool,
    ) -> Result<()> {
        if !v2 {
            return r.err(r.pos(), "a version-1 file is read whole, not walked");
        }
        let p0 = r.pos();
        self.code.skip_to(p0)?;
        self.pops.skip_to(p0)?;
        self.pops.skip_varints(n, "code")?;
        self.gaps.skip_to(self.pops.pos())?;
        self.gaps.skip_varints(n, "pops")?;
        let backs = read_backs(&mut self.gaps, ti, n)?;
        let plane1 = self.gaps.pos();
        r.skip_to(plane1 + 2 * n as u64)?;
        self.visitor.thread(ti, first_ns);
        let mut backs = backs.into_iter().peekable();
        let mut t = first_ns;
        let mut open = 0usize;
        let gap = |g: &mut Reader<BodyStream<'a>>, r: &mut Reader<BodyStream<'a>>, t: i64| -> Result<i64> {
            let at = g.pos();
            let Some(b) = g.byte()? else { return g.err(at, "truncated: the body ends inside gaps") };
            let v = if b < 0x80 {
                u64::from(b)
            } else {
                let rest_at = r.pos();
                let hi = r.u("gaps")?;
                if hi >> 57 != 0 {
                    return r.err(rest_at, "gaps value does not fit in 64 bits");
                }
                u64::from(b & 0x7f) | (hi << 7)
            };
            match i64::try_from(v).ok().and_then(|v| t.checked_add(v)).filter(|&v| v <= last_ns) {
                Some(e) => Ok(e),
                None => g.err(at, format!("thread {ti}: an event after the thread's last time")),
            }
        };
        for i in 0..n {
            let code = self.code.index("code_id", n_codes)? as u32;
            let at = self.pops.pos();
            let pops = self.pops.u("pops")?;
            if pops > open as u64 {
                return self.pops.err(at, format!("thread {ti} call {i}: {pops} calls end before it, {open} are open"));
            }
            for _ in 0..pops {
                t = gap(&mut self.gaps, r, t)?;
                self.visitor.exit(t);
                open -= 1;
            }
            t = gap(&mut self.gaps, r, t)?;
            if let Some(&(k, b)) = backs.peek() {
                if k == i {
                    backs.next();
                    t = i64::try_from(b).ok().and_then(|b| t.checked_sub(b)).unwrap_or(i64::MIN);
                }
            }
            self.visitor.enter(code, t);
            open += 1;
        }
        while open > 0 {
            t = gap(&mut self.gaps, r, t)?;
            self.visitor.exit(t);
            open -= 1;
        }
        self.calls += n;
        Ok(())
    }

    fn flag(&mut self, index: usize, f: u8) {
        self.visitor.flag(index, f);
    }
}

/// Reads the `.fpt` (version 2) at `path` in one pass without holding its calls: `visitor` gets
/// each thread's calls as events (four cursors, `Walk`). Returns the trace without its calls and their
/// number. The checks are those a thread's events need (code ids, pops, times within the
/// thread); [`decode_from`] checks every rule of the format.
/// `progress(bytes read, file size)` every [`PROGRESS_STEP`] bytes and at the end.
pub fn walk_file(
    path: &std::path::Path,
    visitor: &mut dyn EventVisitor,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<(Trace, u64)> {
    let open = |_: ()| -> Result<std::io::BufReader<std::fs::File>> {
        std::fs::File::open(path)
            .map(|f| std::io::BufReader::with_capacity(INPUT_LEN, f))
            .map_err(|e| FptError::Read { offset: 0, what: e.to_string() })
    };
    let (mut i0, mut i1, mut i2, mut i3) = (open(())?, open(())?, open(())?, open(())?);
    let size = i0.get_ref().metadata().map_or(0, |m| m.len() as usize);
    let (mut p1, mut p2, mut p3) = (|_: usize, _: usize| {}, |_: usize, _: usize| {}, |_: usize, _: usize| {});
    let (version, main) = open_body(&mut i0, MAX_BODY_LEN, size, progress)?;
    let len = main.body_len;
    let mut walk = Walk {
        code: Reader::new(open_body(&mut i1, MAX_BODY_LEN, 0, &mut p1)?.1, len),
        pops: Reader::new(open_body(&mut i2, MAX_BODY_LEN, 0, &mut p2)?.1, len),
        gaps: Reader::new(open_body(&mut i3, MAX_BODY_LEN, 0, &mut p3)?.1, len),
        calls: 0,
        visitor,
    };
    let mut r = Reader::new(main, len);
    let t = match parse_with(&mut r, version, &mut walk) {
        Ok(t) => r.src.finish().map(|()| t)?,
        Err(e) => return Err(r.src.finish().err().unwrap_or(e)),
    };
    r.src.report(size, size);
    Ok((t, walk.calls as u64))
}
