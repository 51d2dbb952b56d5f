//! Chrome Trace Event JSON, for ui.perfetto.dev and chrome://tracing.
//!
//! `{"traceEvents": [...], "displayTimeUnit": "ns", "otherData": {metadata}}` with:
//! - per thread, metadata events `thread_name` (its latest name) and `thread_sort_index` (its
//!   order), and one `process_name` event (`python`);
//! - one complete event (`"ph": "X"`) per call, in pre-order, `name` = function,
//!   `ts`/`dur` in microseconds as floats (ns precision) relative to the trace origin,
//!   `pid` 1 and `tid` = thread index + 1 (small sequential ids; the OS id is in the thread's
//!   `args`), `args` = `{"file", "line"}` plus `"unfinished": true` / `"started_before": true`.

use crate::formats::fpt::metadata_json;
use crate::model::Trace;
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

/// Writes the trace as Chrome Trace Event JSON (see the module docs).
pub fn write<W: Write>(t: &Trace, w: W) -> io::Result<()> {
    let mut w = io::BufWriter::with_capacity(1 << 16, w);
    let c = &t.calls;
    let n = c.len().min(c.end_ns.len()).min(c.code.len()).min(c.flags.len());
    w.write_all(
        b"{\"traceEvents\":[\n{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":1,\"tid\":0,\"args\":{\"name\":\"python\"}}",
    )?;
    for (i, th) in t.threads.iter().enumerate() {
        let tid = i + 1;
        write!(
            w,
            ",\n{{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":{tid},\"args\":{{\"name\":{},\"os_id\":{}}}}}",
            json_str(th.name()),
            th.os_id
        )?;
        write!(w, ",\n{{\"name\":\"thread_sort_index\",\"ph\":\"M\",\"pid\":1,\"tid\":{tid},\"args\":{{\"sort_index\":{i}}}}}")?;
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
        for i in lo..hi {
            let (name, args) = frags.get(c.code[i] as usize).unwrap_or(&missing);
            write!(w, ",\n{{\"name\":{name},\"ph\":\"X\",\"pid\":1,\"tid\":{},\"ts\":", ti + 1)?;
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
