//! The `.fpt` writer: a [`Trace`] into the body of `docs/format.md` (tables, then each thread's
//! columns: codes, pops, the calls starting back, the gaps in two planes, the flagged calls), then
//! the header and the body deflated. Deterministic: the same trace gives the same bytes.

use super::{FLAG_ZLIB, HEADER_LEN, MAGIC, PROCESS_CLOCK_UNALIGNED, PROCESS_EXIT_KNOWN, PROCESS_INCOMPLETE, VERSION, ZLIB_LEVEL};
use crate::formats::codec::{deflate_into, metadata_json, put_planes, put_s, put_str, put_u};
use crate::model::{Band, Calls, ProcessInfo, ThreadInfo, Trace};
use std::collections::HashMap;

/// String table in order of first use.
struct Strings<'a> {
    ids: HashMap<&'a str, u64>,
    list: Vec<&'a str>,
}

impl<'a> Strings<'a> {
    fn id(&mut self, s: &'a str) -> u64 {
        if let Some(&i) = self.ids.get(s) {
            return i;
        }
        let i = self.list.len() as u64;
        self.ids.insert(s, i);
        self.list.push(s);
        i
    }
}

/// A thread's event gaps (docs/format.md, "column gaps"): its calls' entries and exits in event
/// order, each as the time since the previous event of the thread (the first since `first_ns`).
/// An entry earlier than the previous event (a call starting before its previous sibling ended) is
/// written as a gap of 0 and listed in the first result with how far back it is.
fn event_gaps(c: &Calls, lo: usize, hi: usize, first_ns: i64) -> (Vec<(usize, u64)>, Vec<u64>) {
    let mut gaps = Vec::with_capacity(2 * (hi - lo));
    let mut backs = Vec::new();
    let mut stack: Vec<usize> = Vec::new();
    let mut t = first_ns;
    for i in lo..hi {
        let d = c.depth[i] as usize;
        while stack.len() > d {
            let Some(k) = stack.pop() else { break };
            gaps.push(c.end_ns[k].wrapping_sub(t) as u64);
            t = c.end_ns[k];
        }
        let s = c.start_ns[i];
        if s < t {
            backs.push((i - lo, t.wrapping_sub(s) as u64));
            gaps.push(0);
        } else {
            gaps.push(s.wrapping_sub(t) as u64);
        }
        t = s;
        stack.push(i);
    }
    while let Some(k) = stack.pop() {
        gaps.push(c.end_ns[k].wrapping_sub(t) as u64);
        t = c.end_ns[k];
    }
    (backs, gaps)
}

/// The uncompressed body (version 2).
///
/// The encoder always writes a file its decoder accepts: a trace with threads but no process table
/// is written with one process spanning the threads ([`Trace::one_process`]), a thread's process
/// index past the table is written as the last process, and bands are written ordered by thread
/// then start (bands of a thread that does not exist are left out, a negative duration is 0).
pub fn encode_body(t: &Trace) -> Vec<u8> {
    let c = &t.calls;
    let n = c.len().min(c.end_ns.len()).min(c.code.len()).min(c.depth.len()).min(c.flags.len());
    let mut out = Vec::with_capacity(64 + n * 6);
    encode_body_with(t, &mut out, |out, th| thread_calls(out, c, n, th));
    out
}

/// The body of `t` into `out`, each thread's calls (from its call count to its flagged calls)
/// written by `calls(out, thread)`: [`encode_body`] writes them from the call columns, the stop's
/// compaction (`crate::record::compact`) from its spilled columns, with `t` holding no calls.
pub(crate) fn encode_body_with(t: &Trace, out: &mut Vec<u8>, mut calls: impl FnMut(&mut Vec<u8>, &ThreadInfo)) {
    let fallback;
    let processes: &[ProcessInfo] = if t.processes.is_empty() && !t.threads.is_empty() {
        fallback = Trace::one_process(&t.threads);
        &fallback
    } else {
        &t.processes
    };
    let mut bands: Vec<&Band> = t.bands.iter().filter(|b| (b.thread as usize) < t.threads.len()).collect();
    bands.sort_by_key(|b| (b.thread, b.start_ns));
    let mut strings = Strings { ids: HashMap::new(), list: Vec::new() };
    let code_sids: Vec<(u64, u64)> = t.codes.iter().map(|k| (strings.id(&k.file), strings.id(&k.name))).collect();
    let process_sids: Vec<(u64, u64)> = processes.iter().map(|p| (strings.id(&p.name), strings.id(&p.host))).collect();
    let thread_sids: Vec<Vec<u64>> =
        t.threads.iter().map(|th| th.names.iter().map(|(_, name)| strings.id(name)).collect()).collect();
    let band_sids: Vec<u64> = bands.iter().map(|b| strings.id(&b.label)).collect();

    put_u(out, t.origin_ns);
    put_u(out, strings.list.len() as u64);
    for s in &strings.list {
        put_str(out, s);
    }
    put_u(out, t.codes.len() as u64);
    for (k, (f, nm)) in t.codes.iter().zip(&code_sids) {
        put_u(out, *f);
        put_u(out, *nm);
        put_u(out, u64::from(k.first_line));
    }
    put_u(out, processes.len() as u64);
    for (p, (name, host)) in processes.iter().zip(&process_sids) {
        put_u(out, p.pid);
        put_u(out, p.parent_pid);
        put_u(out, *name);
        put_u(out, *host);
        put_s(out, p.start_ns);
        put_u(out, p.end_ns.saturating_sub(p.start_ns).max(0) as u64);
        let mut flags = 0;
        if p.incomplete {
            flags |= PROCESS_INCOMPLETE;
        }
        if p.exit_status.is_some() {
            flags |= PROCESS_EXIT_KNOWN;
        }
        if !p.clock.aligned {
            flags |= PROCESS_CLOCK_UNALIGNED;
        }
        put_u(out, flags);
        if let Some(status) = p.exit_status {
            put_s(out, i64::from(status));
        }
        put_s(out, p.clock.offset_ns);
        put_u(out, p.clock.uncertainty_ns);
    }
    let last_process = processes.len().saturating_sub(1) as u64;
    put_u(out, t.threads.len() as u64);
    for (th, sids) in t.threads.iter().zip(&thread_sids) {
        put_u(out, u64::from(th.process).min(last_process));
        put_u(out, th.os_id);
        put_u(out, u64::from(th.lane));
        put_s(out, th.first_ns);
        put_u(out, th.last_ns.wrapping_sub(th.first_ns) as u64);
        put_u(out, th.names.len() as u64);
        let mut prev = th.first_ns;
        for ((t_ns, _), sid) in th.names.iter().zip(sids) {
            put_u(out, t_ns.wrapping_sub(prev) as u64);
            prev = *t_ns;
            put_u(out, *sid);
        }
        calls(out, th);
    }
    put_u(out, bands.len() as u64);
    for (b, sid) in bands.iter().zip(&band_sids) {
        put_u(out, u64::from(b.thread));
        put_s(out, b.start_ns);
        put_u(out, b.end_ns.saturating_sub(b.start_ns).max(0) as u64);
        put_u(out, *sid);
    }
    let meta = metadata_json(&t.metadata);
    put_str(out, &meta);
}

/// A thread's calls in the body: call count, code and pops columns, back list, gaps, flagged calls.
fn thread_calls(out: &mut Vec<u8>, c: &Calls, n: usize, th: &ThreadInfo) {
    let lo = (th.call_range.0 as usize).min(n);
    let hi = (th.call_range.1 as usize).clamp(lo, n);
    put_u(out, (hi - lo) as u64);
    for &k in &c.code[lo..hi] {
        put_u(out, u64::from(k));
    }
    // pops: calls that end before call i starts (depth[i-1] + 1 - depth[i], depth[-1] = -1)
    let mut prev_depth = -1i64;
    for &d in &c.depth[lo..hi] {
        put_u(out, (prev_depth + 1 - i64::from(d)) as u64);
        prev_depth = i64::from(d);
    }
    let (backs, gaps) = event_gaps(c, lo, hi, th.first_ns);
    put_u(out, backs.len() as u64);
    let mut prev: Option<usize> = None;
    for (i, back) in backs {
        put_u(out, (i - prev.map_or(0, |p| p + 1)) as u64);
        prev = Some(i);
        put_u(out, back);
    }
    put_planes(out, &gaps);
    let flagged: Vec<usize> = (lo..hi).filter(|&i| c.flags[i].0 != 0).collect();
    put_u(out, flagged.len() as u64);
    let mut prev: Option<usize> = None;
    for i in flagged {
        let rel = i - lo;
        put_u(out, (rel - prev.map_or(0, |p| p + 1)) as u64);
        prev = Some(rel);
        put_u(out, u64::from(c.flags[i].0));
    }
}

/// Encodes a trace as `.fpt` (zlib-compressed body).
pub fn encode(t: &Trace) -> Vec<u8> {
    encode_with_level(t, ZLIB_LEVEL)
}

/// Encodes with a given zlib level (0-9); 0 still writes a zlib stream.
pub fn encode_with_level(t: &Trace, level: u32) -> Vec<u8> {
    let body = encode_body(t);
    let mut out = Vec::with_capacity(HEADER_LEN + body.len() / 3 + 64);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&FLAG_ZLIB.to_le_bytes());
    out.extend_from_slice(&(body.len() as u64).to_le_bytes());
    deflate_into(&mut out, &body, level);
    out
}
