//! File names as users know them: relative to the folders they recognise.
//!
//! The recorder stores the roots of the run in the metadata entry [`ROOTS_KEY`]: a JSON list of
//! `[prefix, label]` pairs (the working directory, the installed-packages folders, the standard
//! library), each prefix ending with a path separator. A file under a root is shown as the label
//! followed by the rest of its path (the longest matching prefix wins, so a virtual environment
//! inside the project shows its packages as packages); any other file is shown as it is. A pair
//! whose first item does not end with a separator names one file exactly and is shown as its label:
//! the notebook cells the kernel compiled to temporary files are shown as `In [3]` (stored at stop
//! in the entry [`CELLS_KEY`], read together with the roots). Labels are
//! empty for the working directory and the packages (`app/io.py`, `numpy/core/numeric.py`) and
//! `stdlib/` for the standard library (`stdlib/json/decoder.py`), so a project folder named like a
//! standard module is never mistaken for it.
//!
//! The one rule of every view: the CLI's tables here, the timeline's `shortPath` (js/units.js),
//! checked against the same cases (`tests/fixtures/paths.json`).

use std::borrow::Cow;

/// Metadata key of the roots.
pub const ROOTS_KEY: &str = "paths.roots";
/// Metadata key of the exact files (notebook cells) and their labels: the same pairs.
pub const CELLS_KEY: &str = "paths.cells";

/// The roots of a trace: `(prefix, label)` pairs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Roots(pub Vec<(String, String)>);

impl Roots {
    /// The roots stored in a trace's metadata (none when absent or not valid).
    pub fn from_metadata(metadata: &[(String, String)]) -> Roots {
        let mut out = Roots::default();
        for key in [ROOTS_KEY, CELLS_KEY] {
            if let Some((_, v)) = metadata.iter().find(|(k, _)| k == key) {
                out.0.extend(Roots::from_json(v).0);
            }
        }
        out
    }

    /// Parses `[[prefix or file, label], ...]`; entries that are not two strings, or whose first
    /// item is empty, are left out.
    pub fn from_json(text: &str) -> Roots {
        let parsed: Vec<serde_json::Value> = serde_json::from_str(text).unwrap_or_default();
        Roots(
            parsed
                .iter()
                .filter_map(|e| {
                    let pair = e.as_array()?;
                    let (p, l) = (pair.first()?.as_str()?, pair.get(1)?.as_str()?);
                    (pair.len() == 2 && !p.is_empty()).then(|| (p.to_string(), l.to_string()))
                })
                .collect(),
        )
    }

    /// As JSON, for the metadata.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.0).unwrap_or_else(|_| "[]".into())
    }

    /// `file` as the user knows it (see the module docs).
    pub fn short<'a>(&self, file: &'a str) -> Cow<'a, str> {
        if let Some((_, label)) = self.0.iter().find(|(p, _)| !p.ends_with(['/', '\\']) && p == file) {
            return Cow::Owned(label.clone());
        }
        let best = self
            .0
            .iter()
            .filter(|(p, _)| p.ends_with(['/', '\\']) && file.len() > p.len() && file.starts_with(p.as_str()))
            .max_by_key(|(p, _)| p.len());
        match best {
            Some((p, label)) => Cow::Owned(format!("{label}{}", &file[p.len()..])),
            None => Cow::Borrowed(file),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cases shared with the timeline (js/units.js) and Python.
    #[test]
    fn shared_cases() {
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/paths.json")).unwrap();
        let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
        let roots = Roots::from_json(&doc["roots"].to_string());
        assert!(!roots.0.is_empty());
        let cases = doc["cases"].as_array().unwrap();
        assert!(cases.len() >= 8);
        for c in cases {
            let (file, want) = (c[0].as_str().unwrap(), c[1].as_str().unwrap());
            assert_eq!(roots.short(file), want, "file {file}");
        }
    }

    #[test]
    fn roots_from_metadata_and_bad_entries() {
        let meta = vec![
            (ROOTS_KEY.to_string(), r#"[["/p/", ""], [1, "y"], ["/s/", "stdlib/", 3], ["", "z"]]"#.into()),
            (CELLS_KEY.to_string(), r#"[["/tmp/ipykernel_1/abc.py", "In [3]"]]"#.into()),
        ];
        let roots = Roots::from_metadata(&meta);
        assert_eq!(roots.0, vec![("/p/".to_string(), String::new()), ("/tmp/ipykernel_1/abc.py".into(), "In [3]".into())]);
        assert_eq!(roots.short("/tmp/ipykernel_1/abc.py"), "In [3]");
        assert_eq!(roots.short("/tmp/ipykernel_1/abc.pyc"), "/tmp/ipykernel_1/abc.pyc");
        assert_eq!(Roots::from_metadata(&[]).short("/p/a.py"), "/p/a.py");
        assert_eq!(Roots::from_json("not json"), Roots::default());
        assert_eq!(Roots::from_json(&roots.to_json()), roots);
    }
}
