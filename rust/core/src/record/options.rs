//! What one recording records, and where: the one options object (issue 21), the Rust side of
//! `fprofile_jupyter._options.RecordOptions` (same field names; they are also the keys of a child
//! process's `session.json`). Its checks live here and nowhere else.

use std::path::PathBuf;

use super::Keep;

/// Default cap: 20 million events (10 million calls, 320 MB of event buffers).
pub const DEFAULT_MAX_EVENTS: u64 = 20_000_000;

/// What a recording records, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordOptions {
    /// Record code whose file name contains one of these ...
    pub subs: Vec<String>,
    /// ... and none of these ...
    pub exclude: Vec<String>,
    /// ... or one of these (recorded even when excluded).
    pub include: Vec<String>,
    /// Record calls of built-in functions too.
    pub builtins: bool,
    /// The cap on recorded events.
    pub max_events: u64,
    /// A file the events stream to while recording (None: kept in memory).
    pub outfile: Option<PathBuf>,
    /// The flight recorder: only the last window is kept.
    pub keep_last: Option<Keep>,
    /// Child processes are recorded into the same trace.
    pub processes: bool,
    /// A Dask cluster's workers are recorded into the same trace.
    pub dask: bool,
}

impl Default for RecordOptions {
    fn default() -> Self {
        RecordOptions {
            subs: Vec::new(),
            exclude: Vec::new(),
            include: Vec::new(),
            builtins: false,
            max_events: DEFAULT_MAX_EVENTS,
            outfile: None,
            keep_last: None,
            processes: false,
            dask: false,
        }
    }
}

/// Options that cannot record: one message each, naming the option as users give it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OptionsError {
    #[error("max_events must be at least 1")]
    MaxEventsZero,
    #[error("keep_last keeps the last window in memory and cannot be combined with an outfile (save the window with snapshot().save(path), or stream everything to an .fpt outfile)")]
    KeepLastWithFile,
    #[error("keep_last must be a positive duration or event count, and only one of them")]
    KeepLastBad,
    /// A child's `session.json` (or another JSON form) that does not hold valid options.
    #[error("recording options are not valid: {0}")]
    Json(String),
}

impl RecordOptions {
    /// The checks every recording's options pass.
    pub fn validate(&self) -> Result<(), OptionsError> {
        if self.max_events == 0 {
            return Err(OptionsError::MaxEventsZero);
        }
        match self.keep_last {
            Some(Keep::Duration(0) | Keep::Events(0)) => Err(OptionsError::KeepLastBad),
            Some(_) if self.outfile.is_some() => Err(OptionsError::KeepLastWithFile),
            _ => Ok(()),
        }
    }

    /// The flight recorder's window from its two-part form (`("ns", n)` or `("events", n)`).
    pub fn keep_from(unit: &str, n: i128) -> Result<Keep, OptionsError> {
        let n = u64::try_from(n).ok().filter(|&n| n > 0).ok_or(OptionsError::KeepLastBad)?;
        match unit {
            "ns" => Ok(Keep::Duration(n)),
            "events" => Ok(Keep::Events(n)),
            _ => Err(OptionsError::KeepLastBad),
        }
    }

    /// The options from their JSON form (`RecordOptions.to_json` in Python, a child's
    /// `session.json`): `subs` and `max_events` required, the rest optional; checked.
    pub fn from_json(v: &serde_json::Value) -> Result<RecordOptions, OptionsError> {
        let bad = |what: &str| OptionsError::Json(what.to_string());
        let strings = |key: &str, required: bool| -> Result<Vec<String>, OptionsError> {
            match v.get(key) {
                None | Some(serde_json::Value::Null) if !required => Ok(Vec::new()),
                None => Err(bad(&format!("no {key:?}"))),
                Some(serde_json::Value::Array(a)) => Ok(a
                    .iter()
                    .map(|x| match x {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    })
                    .collect()),
                Some(_) => Err(bad(&format!("{key:?} is not a list"))),
            }
        };
        let flag = |key: &str| -> Result<bool, OptionsError> {
            match v.get(key) {
                None | Some(serde_json::Value::Null) => Ok(false),
                Some(b) => b.as_bool().ok_or_else(|| bad(&format!("{key:?} is not true or false"))),
            }
        };
        let keep_last = match v.get("keep_last") {
            None | Some(serde_json::Value::Null) => None,
            Some(k) => match k.as_array().map(|a| a.as_slice()) {
                Some([serde_json::Value::String(unit), n]) => {
                    Some(Self::keep_from(unit, n.as_i64().map(i128::from).ok_or(OptionsError::KeepLastBad)?)?)
                }
                _ => return Err(bad("\"keep_last\" is not a (unit, count) pair")),
            },
        };
        let outfile = match v.get("outfile") {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(s)) => Some(PathBuf::from(s)),
            Some(_) => return Err(bad("\"outfile\" is not a path")),
        };
        let o = RecordOptions {
            subs: strings("subs", true)?,
            exclude: strings("exclude", false)?,
            include: strings("include", false)?,
            builtins: flag("builtins")?,
            max_events: v.get("max_events").and_then(|n| n.as_u64()).ok_or_else(|| bad("\"max_events\" is not a count"))?,
            outfile,
            keep_last,
            processes: flag("processes")?,
            dask: flag("dask")?,
        };
        o.validate()?;
        Ok(o)
    }
}
