//! Reading a stored window index: [`FileIndex::open`] checks the sidecar against its `.fpt` and
//! reads the directory (nothing else); [`FileIndex`] is then a [`RowSource`] whose rows decode
//! their chunks on demand (positional reads through the OS page cache, one CRC-32 check and one
//! inflate per chunk) through a bounded LRU cache of decoded chunks.

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::sync::{Arc, Mutex};

use super::build::{ChunkDir, Directory, StoredOverview};
use super::{crc32, read_header, Cursor, Stamp, HEADER_LEN, MAX_DIR};
use crate::window::{Row, RowSource, WindowError, BLOCK, CHUNK};
use crate::Trace;

/// Bytes of decoded chunks kept by default (64 MiB: about 2,200 chunks of 30 KB, so a view
/// zoomed and panned back over a region finds its chunks decoded).
pub const CACHE_BYTES: usize = 64 << 20;
/// Bytes a full decoded chunk takes (what [`FileIndex::set_cache_chunks`] counts in).
pub const CHUNK_BYTES: usize = CHUNK * 28 + (CHUNK / BLOCK) * 8 + 160;
/// Largest inflated chunk accepted.
const MAX_CHUNK_BYTES: u64 = 1 << 20;

/// One row's place in the directory.
#[derive(Debug, Clone, Copy)]
struct RowDir {
    len: usize,
    /// Its first chunk in `FileIndex::chunks`.
    first: usize,
    /// Its thread's first call in the trace (a parent before it: none).
    base: i64,
}

/// A chunk's calls, decoded.
#[derive(Debug, Default)]
pub struct Chunk {
    call: Vec<u32>,
    start: Vec<i64>,
    end: Vec<i64>,
    code: Vec<u32>,
    parent: Vec<u32>,
    /// Per full block of the chunk, its longest call or gap.
    tight: Vec<i64>,
}

impl Chunk {
    fn bytes(&self) -> usize {
        self.call.capacity() * 4
            + self.start.capacity() * 8
            + self.end.capacity() * 8
            + self.code.capacity() * 4
            + self.parent.capacity() * 4
            + self.tight.capacity() * 8
            + 160
    }
}

struct Cache {
    map: HashMap<usize, (Arc<Chunk>, u64)>,
    tick: u64,
    /// Bytes of decoded chunks kept at most (the last chunk decoded is kept whatever its size).
    cap: usize,
    bytes: usize,
}

/// A window index opened from its file: the directory resident, the chunks read on demand.
pub struct FileIndex {
    file: File,
    pub(crate) skeleton: Trace,
    pub(crate) overall_json: String,
    calls: u64,
    span: (i64, i64),
    rows: Vec<Vec<RowDir>>,
    chunks: Vec<ChunkDir>,
    flags: Vec<(u32, u8)>,
    /// The overview made when the index was built (`None`: a trace without calls).
    overview: Option<StoredOverview>,
    /// Functions in the skeleton (what a stored reply is checked against).
    codes: usize,
    cache: Mutex<Cache>,
    /// Chunks decoded since opened (what the benchmarks report).
    decoded: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for FileIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileIndex").field("calls", &self.calls).field("chunks", &self.chunks.len()).finish()
    }
}

impl FileIndex {
    /// The index in `file` when it is one and names the `.fpt` of `stamp`; `None` otherwise (a
    /// stale, cut or garbled index is not used).
    pub fn open(file: File, stamp: &Stamp) -> Option<FileIndex> {
        let len = file.metadata().ok()?.len();
        let h = read_header(&file, stamp.uid)?;
        if h.stamp != *stamp
            || h.dir_len > MAX_DIR
            || h.dir_offset < HEADER_LEN as u64
            || h.dir_offset.checked_add(h.dir_len)? != len
        {
            return None;
        }
        let mut packed = vec![0u8; h.dir_len as usize];
        file.read_exact_at(&mut packed, h.dir_offset).ok()?;
        if crc32(&packed) != h.dir_crc {
            return None;
        }
        let mut raw = Vec::new();
        flate2::read::ZlibDecoder::new(&packed[..]).take(MAX_DIR).read_to_end(&mut raw).ok()?;
        drop(packed);
        let dir = parse_directory(&raw, h.dir_offset)?;
        let mut rows = Vec::with_capacity(dir.rows.len());
        let mut chunks = Vec::new();
        let mut total = 0u64;
        for t in dir.rows {
            let mut tr = Vec::with_capacity(t.len());
            let base = total as i64;
            for (len, cs) in t {
                tr.push(RowDir { len: len as usize, first: chunks.len(), base });
                chunks.extend(cs);
                total += len;
            }
            rows.push(tr);
        }
        if total != dir.calls || rows.len() != dir.skeleton.threads.len() {
            return None;
        }
        chunks.shrink_to_fit();
        let codes = dir.skeleton.codes.len();
        Some(FileIndex {
            file,
            skeleton: dir.skeleton,
            overall_json: dir.overall_json,
            calls: dir.calls,
            span: dir.span,
            rows,
            chunks,
            flags: dir.flags,
            overview: dir.overview,
            codes,
            cache: Mutex::new(Cache { map: HashMap::new(), tick: 0, cap: CACHE_BYTES, bytes: 0 }),
            decoded: 0.into(),
        })
    }

    /// Calls of each thread (the lengths of its rows).
    pub fn thread_calls(&self) -> Vec<u64> {
        self.rows.iter().map(|t| t.iter().map(|r| r.len as u64).sum()).collect()
    }

    /// What the index holds, without where its chunks lie in its file: every row's length and
    /// its chunks' figures and bytes, the skeleton, the overall summary, the span, the flags and
    /// the stored overview.
    /// Two builds of one file give the same whatever order their chunks were written in (what
    /// the tests compare between the stop's rewrite and a walk of the file).
    pub fn content(&self) -> std::io::Result<Vec<u8>> {
        let mut out = crate::formats::fpt::encode(&self.skeleton);
        out.extend_from_slice(format!("{}|{}|{:?}|{:?}\n", self.overall_json, self.calls, self.span, self.flags).as_bytes());
        if let Some(o) = &self.overview {
            out.extend_from_slice(format!("overview {} {} {}\n", o.t0_ns, o.t1_ns, o.px).as_bytes());
            out.extend_from_slice(&o.bytes);
        }
        for (t, rows) in self.rows.iter().enumerate() {
            for (d, r) in rows.iter().enumerate() {
                out.extend_from_slice(format!("row {t} {d} {} {}\n", r.len, r.base).as_bytes());
                for c in &self.chunks[r.first..r.first + r.len.div_ceil(CHUNK)] {
                    out.extend_from_slice(
                        format!("{} {} {} {} {} {}\n", c.clen, c.crc, c.first_call, c.first_start, c.last_end, c.tight)
                            .as_bytes(),
                    );
                    let mut packed = vec![0u8; c.clen as usize];
                    self.file.read_exact_at(&mut packed, c.offset)?;
                    out.extend_from_slice(&packed);
                }
            }
        }
        Ok(out)
    }

    /// Calls in the trace.
    pub fn calls(&self) -> u64 {
        self.calls
    }

    /// Decoded chunks kept at most: [`FileIndex::set_cache_bytes`] of `n` full chunks.
    pub fn set_cache_chunks(&self, n: usize) {
        self.set_cache_bytes(n.saturating_mul(CHUNK_BYTES));
    }

    /// Bytes of decoded chunks kept at most (default [`CACHE_BYTES`]; at least the last chunk
    /// decoded is kept).
    pub fn set_cache_bytes(&self, bytes: usize) {
        if let Ok(mut c) = self.cache.lock() {
            c.cap = bytes;
            evict(&mut c);
        }
    }

    /// The overview made when the index was built: the reply of `crate::window::query_rows`
    /// over the index at its window (`crate::window::overview_span`, `OVERVIEW_PX`, every
    /// thread), read from the directory without decoding a chunk. `None`: none stored (a trace
    /// without calls) or it does not decode (then not trusted: the caller asks the chunks).
    pub fn overview(&self) -> Option<crate::window::WindowReply> {
        let o = self.overview.as_ref()?;
        let r = crate::formats::window::decode(&o.bytes, self.rows.len(), self.codes).ok()?;
        (r.t0_ns == o.t0_ns && r.t1_ns == o.t1_ns && r.px == o.px).then_some(r)
    }

    /// Is `(t0, t1, px, threads)` the stored overview's window (`threads` `None`, or every
    /// thread in order)?
    pub fn is_overview(&self, t0_ns: i64, t1_ns: i64, px: u64, threads: Option<&[u64]>) -> bool {
        let Some(o) = &self.overview else { return false };
        let all = threads.is_none_or(|t| t.len() == self.rows.len() && t.iter().enumerate().all(|(i, &x)| x == i as u64));
        o.t0_ns == t0_ns && o.t1_ns == t1_ns && u64::from(o.px) == px && all
    }

    /// Chunks decoded since opened.
    pub fn chunks_decoded(&self) -> u64 {
        self.decoded.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Bytes held: the directory, the flags, the skeleton's strings, the cache.
    pub fn resident_bytes(&self) -> usize {
        let sk = &self.skeleton;
        let strings: usize = sk.codes.iter().map(|c| c.file.len() + c.name.len() + 64).sum::<usize>()
            + sk.threads.iter().map(|t| t.names.iter().map(|n| n.1.len() + 40).sum::<usize>() + 96).sum::<usize>()
            + sk.bands.iter().map(|b| b.label.len() + 48).sum::<usize>()
            + sk.metadata.iter().map(|(k, v)| k.len() + v.len() + 48).sum::<usize>()
            + sk.processes.len() * 160;
        let cache = self.cache.lock().map_or(0, |c| c.bytes + c.map.len() * 48);
        self.chunks.capacity() * std::mem::size_of::<ChunkDir>()
            + self.rows.iter().map(|r| r.capacity() * std::mem::size_of::<RowDir>() + 24).sum::<usize>()
            + self.flags.capacity() * 8
            + self.overall_json.capacity()
            + self.overview.as_ref().map_or(0, |o| o.bytes.capacity() + 48)
            + strings
            + cache
    }

    /// Chunk `id` (of `n` calls, of a thread whose first call is `base`), from the cache or
    /// decoded.
    fn chunk(&self, id: usize, n: usize, base: i64, next_start: Option<i64>) -> Result<Arc<Chunk>, WindowError> {
        if let Ok(mut c) = self.cache.lock() {
            c.tick += 1;
            let tick = c.tick;
            if let Some(e) = c.map.get_mut(&id) {
                e.1 = tick;
                return Ok(e.0.clone());
            }
        }
        let d = self.chunks.get(id).ok_or_else(|| damaged("a chunk past the directory"))?;
        let mut packed = vec![0u8; d.clen as usize];
        self.file.read_exact_at(&mut packed, d.offset).map_err(|e| WindowError::Index(format!("cannot be read: {e}")))?;
        if crc32(&packed) != d.crc {
            return Err(damaged("a chunk's CRC-32 does not match"));
        }
        let chunk = Arc::new(decode_chunk(&packed, n, d, base, next_start).ok_or_else(|| damaged("a chunk does not decode"))?);
        self.decoded.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if let Ok(mut c) = self.cache.lock() {
            let tick = c.tick;
            c.bytes += chunk.bytes();
            if let Some(old) = c.map.insert(id, (chunk.clone(), tick)) {
                c.bytes -= old.0.bytes();
            }
            evict(&mut c);
        }
        Ok(chunk)
    }
}

fn evict(c: &mut Cache) {
    while c.bytes > c.cap && c.map.len() > 1 {
        let Some((&oldest, _)) = c.map.iter().min_by_key(|(_, v)| v.1) else { break };
        if let Some(v) = c.map.remove(&oldest) {
            c.bytes -= v.0.bytes();
        }
    }
}

fn damaged(what: &str) -> WindowError {
    WindowError::Index(format!("is damaged: {what}"))
}

/// Parses the directory; every chunk must lie before `chunks_end`.
fn parse_directory(b: &[u8], chunks_end: u64) -> Option<Directory> {
    let mut r = Cursor { b, at: 0 };
    let n = r.u()?;
    let skeleton = crate::formats::fpt::decode(r.bytes(n)?).ok()?;
    let n = r.u()?;
    let overall_json = String::from_utf8(r.bytes(n)?.to_vec()).ok()?;
    let calls = r.u()?;
    let span = (r.s()?, r.s()?);
    let n_threads = r.u()?;
    if n_threads > b.len() as u64 {
        return None;
    }
    let mut rows = Vec::with_capacity((n_threads as usize).min(1 << 16));
    for _ in 0..n_threads {
        let n_rows = r.u()?;
        if n_rows > b.len() as u64 {
            return None;
        }
        let mut t = Vec::with_capacity((n_rows as usize).min(1 << 16));
        for _ in 0..n_rows {
            let len = r.u()?;
            let n_chunks = len.div_ceil(CHUNK as u64);
            if n_chunks > b.len() as u64 {
                return None;
            }
            let mut cs = Vec::with_capacity((n_chunks as usize).min(1 << 16));
            for _ in 0..n_chunks {
                let offset = r.u()?;
                let clen = u32::try_from(r.u()?).ok()?;
                let crc = u32::try_from(r.u()?).ok()?;
                let first_call = i64::from(u32::try_from(r.u()?).ok()?);
                let first_start = r.s()?;
                let last_end = first_start.checked_add(r.s()?)?;
                let tight = r.s()?;
                if offset < HEADER_LEN as u64 || offset.checked_add(u64::from(clen))? > chunks_end {
                    return None;
                }
                cs.push(ChunkDir { offset, clen, crc, first_call, first_start, last_end, tight });
            }
            t.push((len, cs));
        }
        rows.push(t);
    }
    let n_flags = r.u()?;
    if n_flags > b.len() as u64 {
        return None;
    }
    let mut flags = Vec::with_capacity((n_flags as usize).min(1 << 16));
    let mut prev = 0u64;
    for _ in 0..n_flags {
        prev = prev.checked_add(r.u()?)?;
        flags.push((u32::try_from(prev).ok()?, u8::try_from(r.u()?).ok()?));
    }
    let overview = match r.u()? {
        0 => None,
        1 => {
            let (t0_ns, t1_ns) = (r.s()?, r.s()?);
            let px = u32::try_from(r.u()?).ok()?;
            let n = r.u()?;
            Some(StoredOverview { t0_ns, t1_ns, px, bytes: r.bytes(n)?.to_vec() })
        }
        _ => return None,
    };
    (r.at == b.len()).then_some(Directory { skeleton, overall_json, calls, span, rows, flags, overview })
}

/// Decodes a chunk of `n` calls whose directory entry is `d`, of a thread whose first call is
/// `base`; `next_start`: the start of the row's next call (the gap after the chunk's last call
/// belongs to its last block).
fn decode_chunk(packed: &[u8], n: usize, d: &ChunkDir, base: i64, next_start: Option<i64>) -> Option<Chunk> {
    let mut raw = Vec::with_capacity(n * 10);
    flate2::read::DeflateDecoder::new(packed).take(MAX_CHUNK_BYTES).read_to_end(&mut raw).ok()?;
    let mut r = Cursor { b: &raw, at: 0 };
    let lens: Vec<u64> = (0..5).map(|_| r.u()).collect::<Option<_>>()?;
    let mut cols = Vec::with_capacity(5);
    for &l in &lens {
        cols.push(Cursor { b: r.bytes(l)?, at: 0 });
    }
    let mut ch = Chunk {
        call: Vec::with_capacity(n),
        start: Vec::with_capacity(n),
        end: Vec::with_capacity(n),
        code: Vec::with_capacity(n),
        parent: Vec::with_capacity(n),
        tight: Vec::with_capacity(n / BLOCK),
    };
    let (mut call, mut start) = (d.first_call, d.first_start);
    let mut prev_end = 0i64;
    for k in 0..n {
        if k > 0 {
            call = call.checked_add(i64::try_from(cols[0].u()?).ok()?)?;
            start = prev_end.checked_add(cols[1].s()?)?;
        }
        let parent = call.checked_sub(i64::try_from(cols[4].u()?).ok()?)?;
        let dur = i64::try_from(cols[2].u()?).ok()?;
        let code = u32::try_from(cols[3].u()?).ok()?;
        let e = start.checked_add(dur)?;
        ch.call.push(u32::try_from(call).ok()?);
        ch.start.push(start);
        ch.end.push(e);
        ch.code.push(code);
        ch.parent.push(if parent < base { u32::MAX } else { u32::try_from(parent).ok()? });
        prev_end = e;
    }
    if cols.iter().any(|c| c.at != c.b.len()) || r.at != raw.len() {
        return None;
    }
    for b in 0..n / BLOCK {
        let mut m = 0i64;
        for k in b * BLOCK..(b + 1) * BLOCK {
            m = m.max(ch.end[k].saturating_sub(ch.start[k]));
            let next = if k + 1 < n { Some(ch.start[k + 1]) } else { next_start };
            if let Some(ns) = next {
                m = m.max(ns.saturating_sub(ch.end[k]));
            }
        }
        ch.tight.push(m);
    }
    Some(ch)
}

/// One row of a [`FileIndex`].
pub struct FileRow<'a> {
    idx: &'a FileIndex,
    row: RowDir,
    cur_c: usize,
    cur: Arc<Chunk>,
    err: Option<WindowError>,
}

impl FileRow<'_> {
    #[inline]
    fn at(&mut self, k: usize) -> (&Chunk, usize) {
        let c = k / CHUNK;
        if c != self.cur_c {
            self.load(c);
        }
        (&self.cur, k % CHUNK)
    }

    #[cold]
    fn load(&mut self, c: usize) {
        let n = (self.row.len - (c * CHUNK).min(self.row.len)).min(CHUNK);
        let next = ((c + 1) * CHUNK < self.row.len).then(|| self.dir(c + 1).first_start);
        match self.idx.chunk(self.row.first + c, n, self.row.base, next) {
            Ok(ch) => self.cur = ch,
            Err(e) => {
                self.err.get_or_insert(e);
                self.cur = Arc::new(Chunk::default());
            }
        }
        self.cur_c = c;
    }

    #[inline]
    fn dir(&self, c: usize) -> ChunkDir {
        self.idx.chunks.get(self.row.first + c).copied().unwrap_or_default()
    }
}

impl Row for FileRow<'_> {
    #[inline]
    fn len(&self) -> usize {
        self.row.len
    }
    #[inline]
    fn start(&mut self, k: usize) -> i64 {
        let (ch, i) = self.at(k);
        ch.start.get(i).copied().unwrap_or(0)
    }
    #[inline]
    fn end(&mut self, k: usize) -> i64 {
        let (ch, i) = self.at(k);
        ch.end.get(i).copied().unwrap_or(0)
    }
    fn code(&mut self, k: usize) -> u32 {
        let (ch, i) = self.at(k);
        ch.code.get(i).copied().unwrap_or(0)
    }
    fn call(&mut self, k: usize) -> u32 {
        let (ch, i) = self.at(k);
        ch.call.get(i).copied().unwrap_or(0)
    }
    fn parent(&mut self, k: usize) -> u32 {
        let (ch, i) = self.at(k);
        ch.parent.get(i).copied().unwrap_or(u32::MAX)
    }
    fn flags(&mut self, k: usize) -> u8 {
        let call = self.call(k);
        let f = &self.idx.flags;
        f.binary_search_by_key(&call, |x| x.0).map_or(0, |i| f[i].1)
    }
    fn block_end(&mut self, b: usize) -> i64 {
        self.end(b * BLOCK + BLOCK - 1)
    }
    fn block_tight(&mut self, b: usize) -> i64 {
        let (ch, _) = self.at(b * BLOCK);
        ch.tight.get((b * BLOCK % CHUNK) / BLOCK).copied().unwrap_or(0)
    }
    fn chunk_last_end(&mut self, c: usize) -> i64 {
        self.dir(c).last_end
    }
    fn chunk_first_start(&mut self, c: usize) -> i64 {
        self.dir(c).first_start
    }
    fn chunk_tight(&mut self, c: usize) -> i64 {
        self.dir(c).tight
    }
    fn error(&mut self) -> Option<WindowError> {
        self.err.take()
    }
}

impl RowSource for FileIndex {
    type Row<'a>
        = FileRow<'a>
    where
        Self: 'a;
    fn threads(&self) -> usize {
        self.rows.len()
    }
    fn depths(&self, t: usize) -> usize {
        self.rows[t].len()
    }
    fn row(&self, t: usize, d: usize) -> FileRow<'_> {
        FileRow { idx: self, row: self.rows[t][d], cur_c: usize::MAX, cur: Arc::new(Chunk::default()), err: None }
    }
    fn calls(&self) -> usize {
        self.calls as usize
    }
    fn span(&self) -> (i64, i64) {
        self.span
    }
}
