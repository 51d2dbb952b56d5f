//! Synthetic traces for benchmarks and tests: deterministic (a seed), built straight into the
//! columns (no events), so that a hundred million calls take seconds, not the minutes a
//! recording of them would. Shaped like `benchmarks/bench_widget.py`'s: busy threads, call trees
//! up to depth 10, 60 functions in 6 files, gaps of 20 to 400 ns between events.

use crate::model::{CallFlags, Calls, Code, ThreadInfo, Trace};

/// Functions of a synthetic trace.
pub const FUNCTIONS: u32 = 60;
/// Deepest call of a synthetic trace.
pub const MAX_DEPTH: u32 = 10;

/// A small, fast, deterministic generator (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// About `calls` calls (exactly, when `threads` divides it) in `threads` threads of one process.
pub fn synthetic_trace(calls: usize, threads: usize, seed: u64) -> Trace {
    let threads = threads.max(1);
    let per_thread = calls / threads;
    let mut rng = Rng(seed);
    let codes = (0..FUNCTIONS)
        .map(|i| Code {
            file: format!("/home/user/project/module_{}.py", i % 6),
            name: format!("function_{i:02}"),
            first_line: 10 + 7 * i,
        })
        .collect();
    let mut c = Calls::with_capacity(per_thread * threads);
    let mut infos = Vec::with_capacity(threads);
    for t in 0..threads {
        let lo = c.len();
        let first_ns = 1_000 + 37 * t as i64;
        let mut now = first_ns;
        // (index of the open call, children it still makes)
        let mut stack: Vec<(usize, u64)> = Vec::with_capacity(MAX_DEPTH as usize + 1);
        while c.len() - lo < per_thread || !stack.is_empty() {
            let opening = match stack.last_mut() {
                Some((_, left)) if *left > 0 && c.len() - lo < per_thread => {
                    *left -= 1;
                    true
                }
                Some(_) => false,
                None => true,
            };
            now += 20 + rng.below(380) as i64;
            if opening {
                let depth = stack.len() as u32;
                let parent = stack.last().map_or(u32::MAX, |&(p, _)| p as u32);
                let children = if depth < MAX_DEPTH { rng.below(if depth < 3 { 5 } else { 3 }) } else { 0 };
                c.start_ns.push(now);
                c.end_ns.push(now);
                c.code.push((depth * 7 + rng.below(6) as u32 * 11) % FUNCTIONS);
                c.depth.push(depth);
                c.parent.push(parent);
                c.flags.push(CallFlags::default());
                stack.push((c.len() - 1, children));
            } else if let Some((i, _)) = stack.pop() {
                c.end_ns[i] = now;
            }
        }
        infos.push(ThreadInfo {
            os_id: 1000 + t as u64,
            names: vec![(first_ns, if t == 0 { "MainThread".to_string() } else { format!("worker-{t}") })],
            first_ns,
            last_ns: now,
            lane: t as u32,
            process: 0,
            call_range: (lo as u32, c.len() as u32),
        });
    }
    let processes = Trace::one_process(&infos);
    Trace {
        origin_ns: 0,
        codes,
        threads: infos,
        calls: c,
        metadata: vec![("synthetic".into(), format!("seed {seed}"))],
        processes,
        bands: vec![],
    }
}
