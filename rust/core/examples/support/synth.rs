//! Synthetic benchmark recordings: a program doing fib-like recursion and method calls, with
//! realistic per-event timing noise (a deterministic xorshift PRNG, so runs are repeatable).
#![allow(dead_code)]

use fprofile::{Code, Event, EventKind, Recording, ThreadRecord};

pub struct Rng(u64);
impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    /// Cost of one event in ns: a base with jitter, occasionally a cache miss / GC spike.
    pub fn cost(&mut self, base: u64) -> u64 {
        let r = self.next();
        let jitter = r % (base / 2 + 1);
        let spike = if r >> 56 == 0 { (r >> 20) % 20_000 } else { 0 };
        base + jitter + spike
    }
}

struct Gen {
    rng: Rng,
    t: u64,
    events: Vec<Event>,
    calls: usize,
}

impl Gen {
    fn call(&mut self, code: u32, base: u64) {
        self.t += self.rng.cost(base);
        self.events.push(Event { t_ns: self.t, code, kind: EventKind::Call });
        self.calls += 1;
    }
    fn ret(&mut self, code: u32, base: u64) {
        self.t += self.rng.cost(base);
        self.events.push(Event { t_ns: self.t, code, kind: EventKind::Return });
    }
    fn fib(&mut self, n: u32) {
        self.call(0, 60);
        if n >= 2 {
            self.fib(n - 1);
            self.fib(n - 2);
        }
        self.ret(0, 40);
    }
    /// Methods: a loop building points and computing norms.
    fn methods(&mut self, k: usize) {
        self.call(1, 80); // process
        for _ in 0..k {
            self.call(2, 70); // Point.__init__
            self.ret(2, 50);
            self.call(3, 60); // Point.norm
            self.call(4, 40); // helper sqrt
            self.ret(4, 30);
            self.ret(3, 40);
        }
        self.ret(1, 50);
    }
}

pub fn codes() -> Vec<Code> {
    let c = |f: &str, n: &str, l: u32| Code { file: f.into(), name: n.into(), first_line: l };
    vec![
        c("/home/user/project/bench/recursion.py", "fib", 12),
        c("/home/user/project/bench/geometry.py", "process", 40),
        c("/home/user/project/bench/geometry.py", "__init__", 8),
        c("/home/user/project/bench/geometry.py", "norm", 15),
        c("/home/user/project/bench/geometry.py", "_sqrt", 22),
        c("/home/user/project/bench/main.py", "main", 1),
    ]
}

/// About `n_calls` calls on two threads (main: fib + methods; a worker: methods), absolute times
/// starting at 5 s.
pub fn recording(n_calls: usize, seed: u64) -> Recording {
    let start = 5_000_000_000u64;
    let mut main = Gen { rng: Rng::new(seed), t: start + 1000, events: Vec::new(), calls: 0 };
    let mut worker = Gen { rng: Rng::new(seed + 1), t: start + 50_000, events: Vec::new(), calls: 0 };
    main.call(5, 100);
    while main.calls + worker.calls < n_calls {
        main.fib(12); // 465 calls
        main.methods(20); // 61 calls
        worker.methods(40); // 121 calls
    }
    main.ret(5, 100);
    let stop = main.t.max(worker.t) + 1000;
    Recording {
        codes: codes(),
        threads: vec![
            ThreadRecord { os_id: 1001, ident: 1, names: vec![(start, "MainThread".into())], chunks: vec![main.events] },
            ThreadRecord { os_id: 1002, ident: 2, names: vec![(start, "Thread-1 (worker)".into())], chunks: vec![worker.events] },
        ],
        start_ns: start,
        stop_ns: stop,
        metadata: vec![("python".into(), "3.12.1".into())],
        process: Default::default(),
    }
}
