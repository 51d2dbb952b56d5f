//! speedscope's file format (<https://www.speedscope.app/file-format-schema.json>).
//!
//! One `evented` profile per thread (named after the thread, "process name (pid) / thread" when the
//! trace has more than one process ([`Trace::thread_key`]), unit nanoseconds, `startValue` /
//! `endValue` = the thread's first and last time relative to the trace origin) with open (`O`) and
//! close (`C`) events in time order, properly nested; one shared frame per code
//! (`{"name", "file", "line"}`, frame index = code id).

use crate::model::Trace;
use std::io::{self, Write};

fn json_str(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

/// Writes the trace as a speedscope file (see the module docs).
pub fn write<W: Write>(t: &Trace, w: W) -> io::Result<()> {
    let mut w = io::BufWriter::with_capacity(1 << 16, w);
    let c = &t.calls;
    let n = c.len().min(c.end_ns.len()).min(c.code.len()).min(c.depth.len());
    w.write_all(b"{\"$schema\":\"https://www.speedscope.app/file-format-schema.json\",\"shared\":{\"frames\":[")?;
    for (i, k) in t.codes.iter().enumerate() {
        if i > 0 {
            w.write_all(b",")?;
        }
        write!(w, "{{\"name\":{},\"file\":{},\"line\":{}}}", json_str(&k.name), json_str(&k.file), k.first_line)?;
    }
    w.write_all(b"]},\"profiles\":[")?;
    let n_codes = t.codes.len() as u32;
    let mut stack: Vec<usize> = Vec::new();
    for (ti, th) in t.threads.iter().enumerate() {
        if ti > 0 {
            w.write_all(b",")?;
        }
        write!(
            w,
            "\n{{\"type\":\"evented\",\"name\":{},\"unit\":\"nanoseconds\",\"startValue\":{},\"endValue\":{},\"events\":[",
            json_str(&t.thread_key(ti, th.name())),
            th.first_ns,
            th.last_ns
        )?;
        let lo = (th.call_range.0 as usize).min(n);
        let hi = (th.call_range.1 as usize).clamp(lo, n);
        let mut first = true;
        let mut ev = |w: &mut io::BufWriter<W>, kind: &str, i: usize, at: i64| -> io::Result<()> {
            if !first {
                w.write_all(b",")?;
            }
            first = false;
            write!(w, "{{\"type\":\"{kind}\",\"frame\":{},\"at\":{at}}}", c.code[i])
        };
        stack.clear();
        for i in lo..hi {
            if c.code[i] >= n_codes {
                continue;
            }
            while stack.len() > c.depth[i] as usize {
                if let Some(j) = stack.pop() {
                    ev(&mut w, "C", j, c.end_ns[j])?;
                }
            }
            ev(&mut w, "O", i, c.start_ns[i])?;
            stack.push(i);
        }
        while let Some(j) = stack.pop() {
            ev(&mut w, "C", j, c.end_ns[j])?;
        }
        w.write_all(b"]}")?;
    }
    let name = t.metadata.iter().find(|(k, _)| k == "name").map_or("fprofile trace", |(_, v)| v.as_str());
    writeln!(w, "],\"name\":{},\"activeProfileIndex\":0,\"exporter\":\"fprofile\"}}", json_str(name))?;
    w.flush()
}
