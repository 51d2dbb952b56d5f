//! The compaction's segments: column buffers compressed into raw deflate segments (on up to
//! four threads beside the reader) and the Adler-32 arithmetic that joins them.

use super::*;

/// A compressed piece of a column in the spill file.
#[derive(Debug, Clone, Copy)]
pub(super) struct Segment {
    /// Its number among all segments (compressed on several threads, they arrive in any order).
    pub(super) seq: u64,
    pub(super) offset: u64,
    pub(super) len: u64,
    pub(super) raw: u64,
    pub(super) adler: u32,
}

/// Threads compressing column buffers into segments beside the one reading the events: jobs
/// (number, bytes) in, (number, compressed, raw length, Adler-32) out, in any order.
pub(super) struct Pool {
    pub(super) jobs: Option<std::sync::mpsc::SyncSender<(u64, Vec<u8>)>>,
    pub(super) results: std::sync::mpsc::Receiver<(u64, Vec<u8>, u64, u32)>,
    pub(super) workers: Vec<std::thread::JoinHandle<()>>,
    /// Jobs sent and not yet received back, and the column each is for: (part, thread, column).
    pub(super) pending: HashMap<u64, (usize, usize, usize)>,
}

impl Pool {
    /// Up to 4 threads (fewer cores, fewer threads); None when none can be started.
    pub(super) fn start() -> Option<Pool> {
        let n = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 4);
        let (jobs, job_rx) = std::sync::mpsc::sync_channel::<(u64, Vec<u8>)>(2 * n);
        let (done_tx, results) = std::sync::mpsc::channel();
        let job_rx = std::sync::Arc::new(std::sync::Mutex::new(job_rx));
        let mut workers = Vec::with_capacity(n);
        for _ in 0..n {
            let (rx, tx) = (job_rx.clone(), done_tx.clone());
            let spawned = std::thread::Builder::new().name("fprofile-compact".into()).spawn(move || {
                let mut z = Compress::new(Compression::new(fpt::ZLIB_LEVEL), false);
                loop {
                    let job = match rx.lock() {
                        Ok(rx) => rx.recv(),
                        Err(_) => return,
                    };
                    let Ok((seq, data)) = job else { return };
                    let mut out = Vec::new();
                    deflate_segment(&mut z, &data, &mut out);
                    if tx.send((seq, out, data.len() as u64, adler32(1, &data))).is_err() {
                        return;
                    }
                }
            });
            match spawned {
                Ok(h) => workers.push(h),
                Err(_) => break,
            }
        }
        if workers.is_empty() {
            return None;
        }
        Some(Pool { jobs: Some(jobs), results, workers, pending: HashMap::new() })
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.jobs = None; // the workers see the end of their jobs and return
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

/// Compresses `data` as a raw deflate segment ended by a sync flush (byte-aligned, no final
/// block) into `out`.
pub(super) fn deflate_segment(z: &mut Compress, data: &[u8], out: &mut Vec<u8>) {
    z.reset();
    out.clear();
    let base = z.total_in();
    // Room for the worst case (stored blocks) up front, so that one call does it all.
    out.reserve(data.len() + data.len() / 16 + 4096);
    let mut idle = 0;
    loop {
        out.reserve(data.len() / 2 + 4096);
        let (done, len) = ((z.total_in() - base) as usize, out.len());
        // (compressing from memory into memory cannot fail)
        let _ = z.compress_vec(&data[done.min(data.len())..], out, FlushCompress::Sync);
        // The flush is whole when every byte went in and the output ends with the empty stored
        // block a sync flush ends with (its lengths 0000 ffff) with room to spare: a flush cut
        // short by a full buffer is not always resumed whole otherwise (seen at 100M calls).
        let all_in = (z.total_in() - base) as usize >= data.len();
        if all_in && out.len() < out.capacity() && out.ends_with(&[0, 0, 0xff, 0xff]) {
            break;
        }
        idle = if out.len() == len && (z.total_in() - base) as usize == done { idle + 1 } else { 0 };
        if idle > 2 {
            break; // (never seen: no progress at all)
        }
    }
}

/// Adler-32 of `data`, continuing from `adler` (1 for nothing).
pub(super) fn adler32(adler: u32, data: &[u8]) -> u32 {
    const BASE: u32 = 65521;
    let (mut a, mut b) = (adler & 0xffff, adler >> 16);
    for chunk in data.chunks(5552) {
        for &x in chunk {
            a += u32::from(x);
            b += a;
        }
        a %= BASE;
        b %= BASE;
    }
    a | (b << 16)
}

/// Adler-32 of `x` followed by `y`, from the Adler-32 of each and the length of `y`.
pub(super) fn adler32_combine(ax: u32, ay: u32, len_y: u64) -> u32 {
    const BASE: u64 = 65521;
    // A(xy) = A(x) + A(y) - 1; B(xy) = B(x) + B(y) + len(y) * (A(x) - 1), all mod BASE.
    let (a1, b1) = (u64::from(ax & 0xffff), u64::from(ax >> 16));
    let (a2, b2) = (u64::from(ay & 0xffff), u64::from(ay >> 16));
    let a = (a1 + a2 + BASE - 1) % BASE;
    let b = (b1 + b2 + (len_y % BASE) * ((a1 + BASE - 1) % BASE)) % BASE;
    (a | (b << 16)) as u32
}
