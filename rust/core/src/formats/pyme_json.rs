//! PYME's converted JSON (`convertProfile in.txt out.json`; `docs/pyme-formats.md` section 2).
//!
//! # Writing ([`write()`])
//! Exactly the original converter's schema and ordering, so PYME's viewer opens our output:
//! `{"callstack": [...], "threadNames": [...], "threadLines": [...], "maxConcurrentThreads": n}`.
//! - `callstack` entries `{"ts", "tf", "f", "n", "l", "td", "tl", "ns"}`, grouped by thread (thread
//!   order = order of first event), within a thread in the order the calls returned (children
//!   before parents). `l` = depth + 1, `ns` the first line as a string, `tl` the lane as a float.
//! - Times are float seconds. As the original does, they are rebased to the first event when the
//!   first event's absolute time is above 10 s, and absolute otherwise. They are computed as
//!   `abs_ns / 1e9 - first_ns / 1e9`, the same float operations the original performs on the
//!   parsed text, so the numbers are identical.
//! - Calls that began before recording and unfinished calls are left out, as the original drops
//!   them (its viewer knows neither); `l` of the calls inside a started-before call counts from the
//!   first recorded level, as in the original. The `.fpt` format keeps them.
//! - `threadLines[i]` = `{"ts": first, "tf": last, "tl": lane}` of thread i; `maxConcurrentThreads`
//!   = highest lane + 1.
//! - `threadNames[i]` is thread i's latest name; with more than one process it is
//!   "process name (pid) / thread name" ([`Trace::thread_key`]), so that the `MainThread`s of two
//!   processes stay apart. The process table itself (pids, hosts, clocks) and task bands are not
//!   written: PYME's schema has no place for them.
//!
//! # Reading ([`read`])
//! Opens old PYME JSON files: the call tree of each thread is rebuilt from the order the calls
//! returned, as the original writes them (a call adopts the calls just before it that have a
//! larger `l` and lie within its interval; a file in another order is first sorted by end time,
//! inner levels first), so zero-length calls sharing a microsecond keep their place; times become
//! integer ns (`origin_ns` = 0: the file has no absolute clock). Thread spans and lanes come from
//! `threadLines` when present (widened to cover the calls), else from the calls and PYME's rule.

use crate::calltree::assign_lanes;
use crate::model::{CallFlags, Calls, Code, ThreadInfo, Trace};
use serde::Deserialize;
use std::collections::HashMap;
use std::io::{self, Write};

/// What is wrong with a PYME JSON file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PymeJsonError {
    #[error("not a PYME JSON trace: {0}")]
    Json(String),
    #[error("PYME JSON: {0}")]
    Invalid(String),
}

/// A time as written: seconds, clamped (monotonically, so order is kept) to what [`read`] accepts:
/// whatever is written loads back.
fn seconds(abs_ns: i128, base_ns: i128, rebase: bool) -> f64 {
    let t = abs_ns as f64 / 1e9;
    let t = if rebase { t - base_ns as f64 / 1e9 } else { t };
    let max_s = MAX_ABS_NS / 1e9 * 0.999;
    t.clamp(-max_s, max_s)
}

fn put_f64<W: Write>(w: &mut W, v: f64) -> io::Result<()> {
    if v.is_finite() {
        let mut b = ryu_like(v);
        if !b.contains('.') && !b.contains('e') {
            b.push_str(".0");
        }
        w.write_all(b.as_bytes())
    } else {
        w.write_all(b"0.0")
    }
}

/// Shortest round-trip float text (serde_json's formatting).
fn ryu_like(v: f64) -> String {
    serde_json::Number::from_f64(v).map(|n| n.to_string()).unwrap_or_else(|| "0.0".into())
}

/// Writes the trace as PYME JSON (see the module docs).
pub fn write<W: Write>(t: &Trace, w: W) -> io::Result<()> {
    let mut w = io::BufWriter::with_capacity(1 << 16, w);
    let c = &t.calls;
    let n = c.len().min(c.end_ns.len()).min(c.code.len()).min(c.depth.len()).min(c.flags.len());
    let origin = i128::from(t.origin_ns);
    let first_abs = t.threads.iter().map(|th| origin + i128::from(th.first_ns)).min().unwrap_or(0);
    let rebase = first_abs > 10_000_000_000;
    let sec = |rel: i64| seconds(origin + i128::from(rel), first_abs, rebase);
    // Pre-serialized `"f":...,"n":...` and `"ns":"..."` per code.
    let code_frag: Vec<(String, String)> = t
        .codes
        .iter()
        .map(|k| {
            let f = serde_json::Value::from(k.file.as_str()).to_string();
            let nm = serde_json::Value::from(k.name.as_str()).to_string();
            (format!(",\"f\":{f},\"n\":{nm},\"l\":"), format!(",\"ns\":\"{}\"}}", k.first_line))
        })
        .collect();
    let missing = (",\"f\":\"\",\"n\":\"\",\"l\":".to_string(), ",\"ns\":\"0\"}".to_string());

    w.write_all(b"{\"callstack\": [")?;
    let mut first_entry = true;
    let mut stack: Vec<(usize, u32)> = Vec::new(); // (call, started-before ancestors incl. itself)
    for (ti, th) in t.threads.iter().enumerate() {
        let lo = (th.call_range.0 as usize).min(n);
        let hi = (th.call_range.1 as usize).clamp(lo, n);
        let tl = {
            let mut s = ryu_like(f64::from(th.lane));
            if !s.contains('.') {
                s.push_str(".0");
            }
            s
        };
        stack.clear();
        let mut emit = |i: usize, sb: u32, w: &mut io::BufWriter<W>| -> io::Result<()> {
            let f = c.flags[i];
            if f.unfinished() || f.started_before() {
                return Ok(());
            }
            if !first_entry {
                w.write_all(b", ")?;
            }
            first_entry = false;
            w.write_all(b"{\"ts\":")?;
            put_f64(w, sec(c.start_ns[i]))?;
            w.write_all(b",\"tf\":")?;
            put_f64(w, sec(c.end_ns[i]))?;
            let (a, b) = code_frag.get(c.code[i] as usize).unwrap_or(&missing);
            w.write_all(a.as_bytes())?;
            write!(w, "{},\"td\":{ti},\"tl\":{tl}", c.depth[i].saturating_add(1).saturating_sub(sb))?;
            w.write_all(b.as_bytes())
        };
        for i in lo..hi {
            while stack.len() > c.depth[i] as usize {
                if let Some((j, sb)) = stack.pop() {
                    emit(j, sb, &mut w)?;
                }
            }
            let sb = stack.last().map_or(0, |s| s.1) + u32::from(c.flags[i].started_before());
            stack.push((i, sb));
        }
        while let Some((j, sb)) = stack.pop() {
            emit(j, sb, &mut w)?;
        }
    }
    w.write_all(b"], \"threadNames\": [")?;
    for (i, th) in t.threads.iter().enumerate() {
        if i > 0 {
            w.write_all(b", ")?;
        }
        w.write_all(serde_json::Value::from(t.thread_key(i, th.name())).to_string().as_bytes())?;
    }
    w.write_all(b"], \"threadLines\": [")?;
    for (i, th) in t.threads.iter().enumerate() {
        if i > 0 {
            w.write_all(b", ")?;
        }
        w.write_all(b"{\"ts\":")?;
        put_f64(&mut w, sec(th.first_ns))?;
        w.write_all(b",\"tf\":")?;
        put_f64(&mut w, sec(th.last_ns))?;
        w.write_all(b",\"tl\":")?;
        put_f64(&mut w, f64::from(th.lane))?;
        w.write_all(b"}")?;
    }
    let max_lane = t.threads.iter().map(|th| th.lane + 1).max().unwrap_or(0);
    write!(w, "], \"maxConcurrentThreads\": {max_lane}}}")?;
    w.flush()
}

#[derive(Deserialize)]
#[serde(untagged)]
enum NumOrStr {
    Num(f64),
    Str(String),
}

#[derive(Deserialize)]
struct Entry {
    ts: f64,
    tf: f64,
    f: String,
    n: String,
    l: f64,
    td: f64,
    #[serde(default)]
    ns: Option<NumOrStr>,
}

#[derive(Deserialize)]
struct Line {
    ts: f64,
    tf: f64,
    #[serde(default)]
    tl: Option<f64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct File {
    callstack: Vec<Entry>,
    thread_names: Vec<String>,
    #[serde(default)]
    thread_lines: Option<Vec<Line>>,
}

/// Largest |time| accepted, in ns (about 126 years): the difference of any two accepted times
/// (a duration, a thread's span) then fits in an `i64`, so every trace read here encodes to an
/// `.fpt` its decoder accepts.
const MAX_ABS_NS: f64 = 4.0e18;

fn to_ns(s: f64) -> Option<i64> {
    let v = (s * 1e9).round();
    (v.is_finite() && v.abs() < MAX_ABS_NS).then_some(v as i64)
}

/// Reads a PYME JSON file (see the module docs).
pub fn read(bytes: &[u8]) -> Result<Trace, PymeJsonError> {
    let file: File = serde_json::from_slice(bytes).map_err(|e| PymeJsonError::Json(e.to_string()))?;
    let n_threads = file.thread_names.len();
    let bad = |what: String| PymeJsonError::Invalid(what);
    // Per thread: (start, end, l, code), with codes interned by (file, name, first line).
    let mut per: Vec<Vec<(i64, i64, f64, u32)>> = vec![Vec::new(); n_threads];
    let mut codes: Vec<Code> = Vec::new();
    let mut ids: HashMap<(String, String, u32), u32> = HashMap::new();
    for (k, e) in file.callstack.into_iter().enumerate() {
        let td = e.td;
        if !(td >= 0.0 && td.fract() == 0.0 && (td as usize) < n_threads) {
            return Err(bad(format!("callstack[{k}]: thread index td={td} is not one of the {n_threads} threadNames")));
        }
        let (Some(ts), Some(tf)) = (to_ns(e.ts), to_ns(e.tf)) else {
            return Err(bad(format!("callstack[{k}]: times ts={} tf={} out of range", e.ts, e.tf)));
        };
        if tf < ts {
            return Err(bad(format!("callstack[{k}]: ends (tf={}) before it starts (ts={})", e.tf, e.ts)));
        }
        if !e.l.is_finite() {
            return Err(bad(format!("callstack[{k}]: level l is not a number")));
        }
        let line = match &e.ns {
            Some(NumOrStr::Num(v)) if *v >= 0.0 && *v <= f64::from(u32::MAX) => *v as u32,
            Some(NumOrStr::Str(s)) => s.trim().parse::<u32>().unwrap_or(0),
            _ => 0,
        };
        let key = (e.f, e.n, line);
        let id = match ids.get(&key) {
            Some(&id) => id,
            None => {
                let id = codes.len() as u32;
                codes.push(Code { file: key.0.clone(), name: key.1.clone(), first_line: line });
                ids.insert(key, id);
                id
            }
        };
        per[td as usize].push((ts, tf, e.l, id));
    }
    let mut calls = Calls::default();
    let mut threads = Vec::with_capacity(n_threads);
    for (ti, (mut evs, name)) in per.into_iter().zip(file.thread_names).enumerate() {
        // The original writes a thread's calls in the order they returned (children before
        // parents): the tree is rebuilt from that order, which also places zero-length calls
        // that share a microsecond with their neighbours. A file in another order is first put
        // in return order (by end, inner levels first).
        if evs.windows(2).any(|w| w[1].1 < w[0].1) {
            evs.sort_by(|a, b| a.1.cmp(&b.1).then(b.2.total_cmp(&a.2)));
        }
        // children[i]: the calls directly inside evs[i], in order; `pending`: finished subtrees
        // whose parent has not returned yet.
        let mut children: Vec<Vec<usize>> = vec![Vec::new(); evs.len()];
        let mut pending: Vec<usize> = Vec::new();
        for (i, &(ts, tf, l, _)) in evs.iter().enumerate() {
            let from = pending.iter().rposition(|&k| !(evs[k].2 > l && evs[k].0 >= ts && evs[k].1 <= tf)).map_or(0, |p| p + 1);
            children[i] = pending.split_off(from);
            pending.push(i);
        }
        let begin = calls.len();
        // Pre-order walk; the stack holds (call index in `calls`, remaining children reversed).
        let mut stack: Vec<(usize, Vec<usize>)> = Vec::new();
        let mut roots: Vec<usize> = pending;
        roots.reverse();
        loop {
            let next = match stack.last_mut() {
                Some((_, kids)) => kids.pop(),
                None => roots.pop(),
            };
            let Some(k) = next else {
                if stack.pop().is_none() {
                    break;
                }
                continue;
            };
            if stack.len() > crate::calltree::MAX_DEPTH {
                return Err(bad(format!("thread {ti}: calls nested deeper than {}", crate::calltree::MAX_DEPTH)));
            }
            let (ts, tf, _, code) = evs[k];
            calls.start_ns.push(ts);
            calls.end_ns.push(tf);
            calls.code.push(code);
            calls.depth.push(stack.len() as u32);
            calls.parent.push(stack.last().map_or(u32::MAX, |(p, _)| *p as u32));
            calls.flags.push(CallFlags(0));
            let mut kids = std::mem::take(&mut children[k]);
            kids.reverse();
            stack.push((calls.len() - 1, kids));
        }
        let end = calls.len();
        if end >= u32::MAX as usize {
            return Err(bad("more than 2^32 - 2 calls".into()));
        }
        let cmin = calls.start_ns[begin..end].iter().min().copied();
        let cmax = calls.end_ns[begin..end].iter().max().copied();
        let line = file.thread_lines.as_ref().and_then(|ls| ls.get(ti));
        let lfirst = line.and_then(|l| to_ns(l.ts));
        let llast = line.and_then(|l| to_ns(l.tf));
        let first_ns = [cmin, lfirst].into_iter().flatten().min().unwrap_or(0);
        let last_ns = [cmax, llast].into_iter().flatten().max().unwrap_or(first_ns).max(first_ns);
        let lane = line.and_then(|l| l.tl).filter(|v| *v >= 0.0 && *v < 1e9).map_or(0, |v| v as u32);
        threads.push(ThreadInfo {
            os_id: 0,
            names: vec![(first_ns, name)],
            first_ns,
            last_ns,
            lane,
            process: 0,
            call_range: (begin as u32, end as u32),
        });
    }
    calls.shrink_to_fit();
    let has_lanes = file.thread_lines.as_ref().is_some_and(|ls| ls.len() == n_threads && ls.iter().all(|l| l.tl.is_some()));
    if !has_lanes {
        assign_lanes(&mut threads);
    }
    let processes = Trace::one_process(&threads);
    let metadata = vec![("source".into(), "pyme-json".into())];
    Ok(Trace { origin_ns: 0, codes, threads, calls, metadata, processes, bands: Vec::new() })
}
