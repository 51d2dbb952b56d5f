//! Chrome Trace Event JSON, for ui.perfetto.dev and chrome://tracing.
//!
//! `{"traceEvents": [...], "displayTimeUnit": "ns", "otherData": {metadata}}` with:
//! - per process, metadata events `process_name` (its name, `python` when it has none; args also
//!   hold its OS pid, parent pid, host, exit status, clock offset and uncertainty, and whether it
//!   is incomplete or its clock unaligned), `process_sort_index` (its order) and, when there is
//!   something to say, `process_labels` (host, "incomplete", "clock not aligned");
//! - per thread, metadata events `thread_name` (its latest name) and `thread_sort_index` (its
//!   order);
//! - one complete event (`"ph": "X"`) per call, in pre-order, `name` = function,
//!   `ts`/`dur` in microseconds as floats (ns precision) relative to the trace origin,
//!   `pid` = its process's OS pid when every process's pid is known and distinct, else the process
//!   index + 1; `tid` = thread index + 1 (small sequential ids, unique over the trace; the OS id is
//!   in the thread's `args`), `args` = `{"file", "line"}` plus `"unfinished": true` /
//!   `"started_before": true`.
//! - Task bands are not written (a band need not nest with the calls, which Perfetto requires).

use crate::formats::codec::metadata_json;
use crate::model::Trace;
use std::collections::HashSet;
use std::io::{self, Write};

fn us(w: &mut impl Write, ns: i64) -> io::Result<()> {
    let sign = if ns < 0 { "-" } else { "" };
    let a = ns.unsigned_abs();
    let (whole, frac) = (a / 1000, a % 1000);
    if frac == 0 {
        write!(w, "{sign}{whole}")
    } else {
        let mut s = format!("{frac:03}");
        while s.ends_with('0') {
            s.pop();
        }
        write!(w, "{sign}{whole}.{s}")
    }
}

fn json_str(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

/// The `pid` of each process's track: the OS pids when all are known and distinct, else 1, 2, ...
fn track_pids(t: &Trace) -> Vec<u64> {
    let mut seen = HashSet::new();
    if t.processes.iter().all(|p| p.pid != 0 && seen.insert(p.pid)) {
        t.processes.iter().map(|p| p.pid).collect()
    } else {
        (1..=t.processes.len() as u64).collect()
    }
}

/// Writes the trace as Chrome Trace Event JSON (see the module docs).
pub fn write<W: Write>(t: &Trace, w: W) -> io::Result<()> {
    let mut w = io::BufWriter::with_capacity(1 << 16, w);
    let c = &t.calls;
    let n = c.len().min(c.end_ns.len()).min(c.code.len()).min(c.flags.len());
    let pids = track_pids(t);
    let pid_of = |thread: usize| -> u64 {
        let p = t.threads.get(thread).map_or(0, |th| th.process as usize);
        pids.get(p).copied().unwrap_or(1)
    };
    w.write_all(b"{\"traceEvents\":[")?;
    if t.processes.is_empty() {
        w.write_all(b"\n{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":1,\"tid\":0,\"args\":{\"name\":\"python\"}}")?;
    }
    for (i, (p, pid)) in t.processes.iter().zip(&pids).enumerate() {
        let sep = if i > 0 { "," } else { "" };
        let name = if p.name.is_empty() { "python" } else { p.name.as_str() };
        let exit = p.exit_status.map_or("null".to_string(), |s| s.to_string());
        write!(
            w,
            "{sep}\n{{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":{pid},\"tid\":0,\"args\":{{\"name\":{},\"os_pid\":{},\"parent_pid\":{},\"host\":{},\"exit_status\":{exit},\"clock_offset_ns\":{},\"clock_uncertainty_ns\":{},\"clock_aligned\":{},\"incomplete\":{}}}}}",
            json_str(name),
            p.pid,
            p.parent_pid,
            json_str(&p.host),
            p.clock.offset_ns,
            p.clock.uncertainty_ns,
            p.clock.aligned,
            p.incomplete
        )?;
        write!(w, ",\n{{\"name\":\"process_sort_index\",\"ph\":\"M\",\"pid\":{pid},\"tid\":0,\"args\":{{\"sort_index\":{i}}}}}")?;
        let mut labels: Vec<&str> = Vec::new();
        if !p.host.is_empty() {
            labels.push(&p.host);
        }
        if p.incomplete {
            labels.push("incomplete");
        }
        if !p.clock.aligned {
            labels.push("clock not aligned");
        }
        if !labels.is_empty() {
            write!(
                w,
                ",\n{{\"name\":\"process_labels\",\"ph\":\"M\",\"pid\":{pid},\"tid\":0,\"args\":{{\"labels\":{}}}}}",
                json_str(&labels.join(","))
            )?;
        }
    }
    for (i, th) in t.threads.iter().enumerate() {
        let tid = i + 1;
        let pid = pid_of(i);
        write!(
            w,
            ",\n{{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":{pid},\"tid\":{tid},\"args\":{{\"name\":{},\"os_id\":{}}}}}",
            json_str(th.name()),
            th.os_id
        )?;
        write!(
            w,
            ",\n{{\"name\":\"thread_sort_index\",\"ph\":\"M\",\"pid\":{pid},\"tid\":{tid},\"args\":{{\"sort_index\":{i}}}}}"
        )?;
    }
    // Pre-serialized `"name":...,` and args per code.
    let frags: Vec<(String, String)> = t
        .codes
        .iter()
        .map(|k| (json_str(&k.name), format!("\"file\":{},\"line\":{}", json_str(&k.file), k.first_line)))
        .collect();
    let missing = ("\"\"".to_string(), "\"file\":\"\",\"line\":0".to_string());
    for (ti, th) in t.threads.iter().enumerate() {
        let lo = (th.call_range.0 as usize).min(n);
        let hi = (th.call_range.1 as usize).clamp(lo, n);
        let pid = pid_of(ti);
        for i in lo..hi {
            let (name, args) = frags.get(c.code[i] as usize).unwrap_or(&missing);
            write!(w, ",\n{{\"name\":{name},\"ph\":\"X\",\"pid\":{pid},\"tid\":{},\"ts\":", ti + 1)?;
            us(&mut w, c.start_ns[i])?;
            w.write_all(b",\"dur\":")?;
            us(&mut w, c.end_ns[i].saturating_sub(c.start_ns[i]))?;
            write!(w, ",\"args\":{{{args}")?;
            if c.flags[i].unfinished() {
                w.write_all(b",\"unfinished\":true")?;
            }
            if c.flags[i].started_before() {
                w.write_all(b",\"started_before\":true")?;
            }
            w.write_all(b"}}")?;
        }
    }
    write!(w, "\n],\"displayTimeUnit\":\"ns\",\"otherData\":{}}}\n", metadata_json(&t.metadata))?;
    w.flush()
}
