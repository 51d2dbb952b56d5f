//! The bytes the binary formats are made of, shared by all of them (`.fpt`, the streamed `.fpt`,
//! window replies, the stop's compaction): no format's magic, header or table layout lives here.
//!
//! - [`varint`]: LEB128 varints (zigzag for signed ones), strings, varints split in two planes, and
//!   the [`Reader`] that parses a body through a window its [`Source`] refills, checking every count
//!   against the bytes left.
//! - [`zlib`]: a body deflated as one zlib stream, or inflated as it is read ([`BodyStream`]: never
//!   past the length its header claims, its end checked), and [`read_full`].
//! - [`metadata_json`] / [`parse_metadata`]: a trace's metadata pairs as a JSON object of strings.
//! - [`FptError`]: what is wrong with an input, and where (byte offsets).

pub mod varint;
pub mod zlib;

pub(crate) use varint::{put_planes, put_s, put_str, put_u, Planes, Reader, SliceSource, Source};
pub use zlib::PROGRESS_STEP;
pub(crate) use zlib::{deflate_into, inflate_exact, read_full, BodyStream};

/// What is wrong with a binary input: an `.fpt` file's header (the first six variants, [`crate::formats::fpt`]),
/// or, for every format built on this codec, its zlib stream, its body or reading it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FptError {
    #[error("not an fprofile trace: the file is empty")]
    Empty,
    #[error("not an fprofile trace: bad magic {0:02x?} at byte 0 (expected \"FPRF\")")]
    BadMagic(Vec<u8>),
    #[error("truncated header: {0} bytes, a .fpt header is 16 bytes")]
    TruncatedHeader(usize),
    #[error("unsupported .fpt version {0} at byte 4: this fprofile reads versions 1 and 2 (a higher one was written by a newer fprofile)")]
    FutureVersion(u16),
    #[error("reserved header flags {0:#06x} set at byte 6")]
    ReservedFlags(u16),
    #[error("body length {0} at byte 8 is above the 2 GiB limit")]
    BodyTooLarge(u64),
    /// The header's body length is above the limit the caller gave (`fpt::decode_limited`).
    #[error("body length {len} at byte 8 is above the {} this reader accepts", size_text(*.limit))]
    BodyAboveLimit { len: u64, limit: u64 },
    #[error("zlib stream at byte {offset} of the file: {what}")]
    Zlib { offset: u64, what: String },
    #[error("byte {offset} of the body: {what}")]
    Body { offset: u64, what: String },
    /// The file could not be read to its end (an I/O error while it was being decoded).
    #[error("cannot read the file at byte {offset}: {what}")]
    Read { offset: u64, what: String },
}

/// What the codec and the formats built on it return.
pub type Result<T> = std::result::Result<T, FptError>;

/// `n` bytes as "N GiB" or "N MiB" when a whole number of them, else "N bytes".
fn size_text(n: u64) -> String {
    if n >= 1 << 30 && n.trailing_zeros() >= 30 {
        format!("{} GiB", n >> 30)
    } else if n >= 1 << 20 && n.trailing_zeros() >= 20 {
        format!("{} MiB", n >> 20)
    } else {
        format!("{n} bytes")
    }
}

/// Writes the metadata pairs as a JSON object of strings, in order.
pub(crate) fn metadata_json(pairs: &[(String, String)]) -> String {
    let mut s = String::from("{");
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&serde_json::Value::from(k.as_str()).to_string());
        s.push(':');
        s.push_str(&serde_json::Value::from(v.as_str()).to_string());
    }
    s.push('}');
    s
}

/// Parses a JSON object of string values, keeping the order.
pub(crate) fn parse_metadata(s: &str) -> std::result::Result<Vec<(String, String)>, String> {
    use serde::de::{Deserializer, MapAccess, Visitor};
    struct Pairs;
    impl<'de> Visitor<'de> for Pairs {
        type Value = Vec<(String, String)>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a JSON object of string values")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> std::result::Result<Self::Value, A::Error> {
            let mut v = Vec::new();
            while let Some((k, val)) = m.next_entry::<String, String>()? {
                v.push((k, val));
            }
            Ok(v)
        }
    }
    let mut de = serde_json::Deserializer::from_str(s);
    let v = de.deserialize_map(Pairs).map_err(|e| e.to_string())?;
    de.end().map_err(|e| e.to_string())?;
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_order_kept() {
        let pairs = vec![("z".to_string(), "1".to_string()), ("a".to_string(), "\"q\"\n".to_string())];
        assert_eq!(parse_metadata(&metadata_json(&pairs)).unwrap(), pairs);
        assert!(parse_metadata("[1]").is_err());
        assert!(parse_metadata("{\"a\": 1}").is_err());
        assert!(parse_metadata("{} x").is_err());
    }
}
