//! PYME's raw event text format (docs: shared pyme-formats section 1):
//! `time\tthread\tfile\tfunction\tcall|return\tfirst_line\n`, time = seconds with 6 decimals.
//!
//! Names come from the profiled program and may hold tabs or newlines, which would break a line:
//! they are written as the two-character escapes `\t`, `\n`, `\r`, and the reader turns them back.

use crate::model::{Code, EventKind};
use std::io::{self, Write};

/// Writes `s` with tab, newline and carriage return escaped.
pub fn write_escaped<W: Write>(w: &mut W, s: &str) -> io::Result<()> {
    if !s.bytes().any(|b| b == b'\t' || b == b'\n' || b == b'\r') {
        return w.write_all(s.as_bytes());
    }
    for ch in s.chars() {
        match ch {
            '\t' => w.write_all(b"\\t")?,
            '\n' => w.write_all(b"\\n")?,
            '\r' => w.write_all(b"\\r")?,
            c => {
                let mut buf = [0u8; 4];
                w.write_all(c.encode_utf8(&mut buf).as_bytes())?
            }
        }
    }
    Ok(())
}

/// Writes absolute nanoseconds as seconds with 6 decimals, rounded as `%f` rounds.
pub fn write_seconds<W: Write>(w: &mut W, t_ns: u64) -> io::Result<()> {
    let us = t_ns / 1000 + u64::from(t_ns % 1000 >= 500);
    write!(w, "{}.{:06}", us / 1_000_000, us % 1_000_000)
}

/// Writes one event line exactly as PYME's profiler does.
pub fn write_event_line<W: Write>(w: &mut W, t_ns: u64, thread: &str, code: &Code, kind: EventKind) -> io::Result<()> {
    write_seconds(w, t_ns)?;
    w.write_all(b"\t")?;
    write_escaped(w, thread)?;
    w.write_all(b"\t")?;
    write_escaped(w, &code.file)?;
    w.write_all(b"\t")?;
    write_escaped(w, &code.name)?;
    w.write_all(match kind {
        EventKind::Call => b"\tcall\t",
        EventKind::Return => b"\treturn\t",
    })?;
    writeln!(w, "{}", code.first_line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_matches_pyme() {
        let code = Code { file: "/home/u/PYME/io/x.py".into(), name: "load".into(), first_line: 42 };
        let mut out = Vec::new();
        write_event_line(&mut out, 12_345_678_400, "MainThread", &code, EventKind::Call).unwrap();
        assert_eq!(out, b"12.345678\tMainThread\t/home/u/PYME/io/x.py\tload\tcall\t42\n");
        out.clear();
        write_event_line(&mut out, 999_999_500, "a\tb\nc", &code, EventKind::Return).unwrap();
        assert_eq!(out, b"1.000000\ta\\tb\\nc\t/home/u/PYME/io/x.py\tload\treturn\t42\n");
    }
}
