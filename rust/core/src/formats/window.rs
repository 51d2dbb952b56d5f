//! Window replies as bytes (`docs/format.md`, "Window replies"): what [`crate::window::query`]
//! answers, encoded for the timeline ([`encode`]) and read back with every field checked
//! ([`decode`]), over the shared codec.

use crate::formats::codec::{put_s, put_u, FptError, Reader, SliceSource};
use crate::window::{WindowError, WindowItem, WindowReply, ITEM_MIXED, ITEM_RUN, MAX_PX};

/// Reply magic: ASCII `FPWN`.
pub const MAGIC: [u8; 4] = *b"FPWN";
/// The window reply version this module writes and reads.
pub const VERSION: u16 = 1;
/// Header size in bytes (magic, version, flags, body length).
pub const HEADER_LEN: usize = 16;
/// Header flag: the body is a zlib stream.
pub const FLAG_ZLIB: u16 = 1;
/// Largest reply body a reader accepts (256 MiB).
pub const MAX_BODY_LEN: u64 = 256 << 20;

const _: () = assert!(HEADER_LEN == 4 + 2 + 2 + 8);

type Result<T> = std::result::Result<T, WindowError>;

/// The reply's body (uncompressed).
pub fn encode_body(reply: &WindowReply) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + reply.items.len() * 8);
    put_s(&mut out, reply.t0_ns);
    put_s(&mut out, reply.t1_ns);
    put_u(&mut out, reply.px as u64);
    put_u(&mut out, reply.items.len() as u64);
    let mut prev: Option<&WindowItem> = None;
    for it in &reply.items {
        // A new row (thread, depth) starts: its key; else the item follows the previous one.
        let same_row = prev.is_some_and(|p| p.thread == it.thread && p.depth == it.depth);
        if same_row {
            put_u(&mut out, 0);
        } else {
            put_u(&mut out, 1);
            put_u(&mut out, it.thread as u64);
            put_u(&mut out, it.depth as u64);
        }
        let base = match prev {
            Some(p) if same_row => p.end_ns,
            _ => reply.t0_ns,
        };
        put_s(&mut out, it.start_ns.wrapping_sub(base));
        put_u(&mut out, it.end_ns.wrapping_sub(it.start_ns) as u64);
        put_u(&mut out, it.code as u64);
        put_u(&mut out, it.flags);
        if it.is_run() {
            put_u(&mut out, it.count);
        } else {
            put_u(&mut out, if it.parent == u32::MAX { 0 } else { it.parent as u64 + 1 });
        }
        // a row's items are in call order: the first call index as it is, then the steps
        let call_base = match prev {
            Some(p) if same_row => p.call as i64,
            _ => 0,
        };
        put_s(&mut out, it.call as i64 - call_base);
        prev = Some(it);
    }
    out
}

/// The whole reply: header then body (zlib-compressed at `level` when given: the HTML export and
/// a saved notebook; a kernel's live replies go uncompressed, a local channel being faster than
/// zlib).
pub fn encode(reply: &WindowReply, zlib_level: Option<u32>) -> Vec<u8> {
    let body = encode_body(reply);
    let mut out = Vec::with_capacity(HEADER_LEN + body.len());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&(if zlib_level.is_some() { FLAG_ZLIB } else { 0 }).to_le_bytes());
    out.extend_from_slice(&(body.len() as u64).to_le_bytes());
    match zlib_level {
        Some(level) => crate::formats::codec::deflate_into(&mut out, &body, level),
        None => out.extend_from_slice(&body),
    }
    out
}

/// Reads a reply back, checking every field against `trace_threads` / `trace_codes` (the sizes
/// of the trace's tables) and the rules of the format.
pub fn decode(bytes: &[u8], trace_threads: usize, trace_codes: usize) -> Result<WindowReply> {
    if bytes.len() < HEADER_LEN || bytes[..4] != MAGIC {
        return Err(WindowError::Reply("it does not start with the 16-byte header and the magic FPWN".into()));
    }
    let version = u16::from_le_bytes([bytes[4], bytes[5]]);
    if version != VERSION {
        return Err(WindowError::Reply(format!("version {version}; this fprofile reads version {VERSION}")));
    }
    let flags = u16::from_le_bytes([bytes[6], bytes[7]]);
    if flags & !FLAG_ZLIB != 0 {
        return Err(WindowError::Reply(format!("reserved header flags {flags:#06x}")));
    }
    let mut len8 = [0u8; 8];
    len8.copy_from_slice(&bytes[8..16]);
    let body_len = u64::from_le_bytes(len8);
    if body_len > MAX_BODY_LEN {
        return Err(WindowError::Reply(format!("body length {body_len} is above the 256 MiB limit")));
    }
    let rest = &bytes[HEADER_LEN..];
    let body: std::borrow::Cow<[u8]> = if flags & FLAG_ZLIB != 0 {
        crate::formats::codec::inflate_exact(rest, body_len as usize, HEADER_LEN as u64)?.into()
    } else if rest.len() as u64 != body_len {
        return Err(WindowError::Reply(format!("{} body bytes, the header says {body_len}", rest.len())));
    } else {
        rest.into()
    };
    let mut r = Reader::new(SliceSource(&body), body.len() as u64);
    let t0_ns = r.s("t0_ns")?;
    let t1_ns = r.s("t1_ns")?;
    if t1_ns <= t0_ns {
        return Err(WindowError::Reply(format!("t1_ns {t1_ns} is not after t0_ns {t0_ns}")));
    }
    let px = r.u("px")?;
    if px == 0 || px > MAX_PX as u64 {
        return Err(WindowError::Width(px));
    }
    let n = r.count("item_count", 6)?;
    let mut items: Vec<WindowItem> = Vec::with_capacity(n);
    for i in 0..n {
        let at = r.pos();
        let new_row = r.u("row mark")?;
        let prev = items.last().copied();
        let (thread, depth) = match (new_row, prev) {
            (0, Some(p)) => (p.thread, p.depth),
            (1, _) => {
                let thread = r.index("thread", trace_threads)? as u32;
                let depth = r.u("depth")?;
                if depth > u32::MAX as u64 - 1 {
                    return Err(FptError::Body { offset: at, what: format!("depth {depth} of item {i}") }.into());
                }
                if let Some(p) = prev {
                    if (thread, depth as u32) <= (p.thread, p.depth) {
                        return Err(FptError::Body { offset: at, what: format!("item {i}: rows out of order") }.into());
                    }
                }
                (thread, depth as u32)
            }
            _ => return Err(FptError::Body { offset: at, what: format!("item {i}: bad row mark {new_row}") }.into()),
        };
        let base = match prev {
            Some(p) if new_row == 0 => p.end_ns,
            _ => t0_ns,
        };
        let start_ns = base.checked_add(r.s("start")?).ok_or_else(|| WindowError::Reply(format!("item {i}: start overflows")))?;
        let dur = r.u("duration")?;
        let end_ns = i64::try_from(dur)
            .ok()
            .and_then(|d| start_ns.checked_add(d))
            .ok_or_else(|| WindowError::Reply(format!("item {i}: end overflows")))?;
        let code = r.index("code", trace_codes)? as u32;
        let flags = r.u("flags")?;
        if flags & !(ITEM_RUN | ITEM_MIXED | 3) != 0 {
            return Err(FptError::Body { offset: at, what: format!("item {i}: reserved flags {flags}") }.into());
        }
        let (count, parent) = if flags & ITEM_RUN != 0 {
            let count = r.u("count")?;
            if count == 0 {
                return Err(FptError::Body { offset: at, what: format!("item {i}: a run of 0 calls") }.into());
            }
            (count, u32::MAX)
        } else {
            let p = r.u("parent")?;
            if p > i as u64 {
                return Err(FptError::Body { offset: at, what: format!("item {i}: parent {p} is not an earlier item") }.into());
            }
            (1, if p == 0 { u32::MAX } else { (p - 1) as u32 })
        };
        let call_base = match prev {
            Some(p) if new_row == 0 => p.call as i64,
            _ => 0,
        };
        let call = call_base.checked_add(r.s("call")?).unwrap_or(-1);
        let call = u32::try_from(call).map_err(|_| WindowError::Reply(format!("item {i}: call index {call}")))?;
        items.push(WindowItem { thread, depth, start_ns, end_ns, code, count, call, flags, parent });
    }
    if r.left() != 0 {
        return Err(WindowError::Reply(format!("{} trailing bytes after the items", r.left())));
    }
    Ok(WindowReply { t0_ns, t1_ns, px: px as u32, items })
}
