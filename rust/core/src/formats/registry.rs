//! The one table of trace formats: name, file name endings, whether fprofile reads and writes it.
//! The binding, the Python layer (`LOAD_FORMATS`, `SAVE_FORMATS`) and the CLI (`--format`
//! choices, the endings `run -o` accepts) all read it from here.

use super::Format;

/// One format of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FormatSpec {
    pub format: Format,
    /// The name `format=` / `--format` takes.
    pub name: &'static str,
    /// File name endings that choose this format when saving (lower case, with the dot).
    pub endings: &'static [&'static str],
    /// [`crate::load()`] reads it.
    pub reads: bool,
    /// [`super::save`] writes it.
    pub writes: bool,
}

/// Every format, in the order names are listed to users.
pub const FORMATS: &[FormatSpec] = &[
    FormatSpec { format: Format::Fpt, name: "fpt", endings: &[".fpt"], reads: true, writes: true },
    FormatSpec { format: Format::PymeJson, name: "pyme-json", endings: &[".json"], reads: true, writes: true },
    FormatSpec { format: Format::PymeText, name: "pyme-text", endings: &[".txt"], reads: true, writes: true },
    FormatSpec {
        format: Format::Perfetto,
        name: "perfetto",
        endings: &[".perfetto.json", ".trace.json"],
        reads: false,
        writes: true,
    },
    FormatSpec { format: Format::Speedscope, name: "speedscope", endings: &[".speedscope.json"], reads: false, writes: true },
    FormatSpec { format: Format::Html, name: "html", endings: &[".html", ".htm"], reads: false, writes: true },
    FormatSpec { format: Format::Png, name: "png", endings: &[".png"], reads: false, writes: true },
];

/// A format name or file name that does not choose a format. Displays as one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChoiceError {
    #[error("unknown input format {name:?} (choose from {})", readable_names().join(", "))]
    UnknownInput { name: String },
    #[error("unknown output format {name:?} (choose from {})", writable_names().join(", "))]
    UnknownOutput { name: String },
    #[error(
        "{path}: cannot tell the format from the file name (known endings: {}); pass format= one of {}",
        endings().join(", "),
        writable_names().join(", ")
    )]
    UnknownEnding { path: String },
}

/// The entry of `format`.
pub fn spec(format: Format) -> &'static FormatSpec {
    // Every variant has a row (checked by the tests); the first row is a harmless fallback.
    FORMATS.iter().find(|s| s.format == format).unwrap_or(&FORMATS[0])
}

/// Names of the formats [`crate::load()`] reads, in table order.
pub fn readable_names() -> Vec<&'static str> {
    FORMATS.iter().filter(|s| s.reads).map(|s| s.name).collect()
}

/// Names of the formats [`super::save`] writes, in table order.
pub fn writable_names() -> Vec<&'static str> {
    FORMATS.iter().filter(|s| s.writes).map(|s| s.name).collect()
}

/// Every file name ending that chooses a format to write, in table order.
pub fn endings() -> Vec<&'static str> {
    FORMATS.iter().filter(|s| s.writes).flat_map(|s| s.endings.iter().copied()).collect()
}

/// The readable format called `name`.
pub fn input_format(name: &str) -> Result<Format, ChoiceError> {
    FORMATS
        .iter()
        .find(|s| s.reads && s.name == name)
        .map(|s| s.format)
        .ok_or_else(|| ChoiceError::UnknownInput { name: name.to_owned() })
}

/// The writable format called `name`.
pub fn output_format(name: &str) -> Result<Format, ChoiceError> {
    FORMATS
        .iter()
        .find(|s| s.writes && s.name == name)
        .map(|s| s.format)
        .ok_or_else(|| ChoiceError::UnknownOutput { name: name.to_owned() })
}

/// The format to write `path` in, from its ending (case-insensitive; the longest ending that
/// matches wins: `x.perfetto.json` is Perfetto, `x.json` PYME JSON).
pub fn format_of_path(path: &str) -> Result<Format, ChoiceError> {
    let lower = path.to_ascii_lowercase();
    FORMATS
        .iter()
        .filter(|s| s.writes)
        .flat_map(|s| s.endings.iter().map(move |e| (*e, s.format)))
        .filter(|(e, _)| lower.ends_with(e))
        .max_by_key(|(e, _)| e.len())
        .map(|(_, f)| f)
        .ok_or_else(|| ChoiceError::UnknownEnding { path: path.to_owned() })
}

/// The format to write `path` in: `name` when given, else from the path's ending.
pub fn save_format(name: Option<&str>, path: &str) -> Result<Format, ChoiceError> {
    match name {
        Some(n) => output_format(n),
        None => format_of_path(path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_format_has_one_row_and_its_name() {
        for f in
            [Format::Fpt, Format::PymeText, Format::PymeJson, Format::Perfetto, Format::Speedscope, Format::Html, Format::Png]
        {
            assert_eq!(FORMATS.iter().filter(|s| s.format == f).count(), 1, "{f:?}");
            assert_eq!(spec(f).name, f.name());
        }
        assert_eq!(readable_names(), ["fpt", "pyme-json", "pyme-text"]);
        assert_eq!(writable_names(), ["fpt", "pyme-json", "pyme-text", "perfetto", "speedscope", "html", "png"]);
    }

    #[test]
    fn the_longest_ending_wins() {
        let cases = [
            ("a.fpt", Format::Fpt),
            ("a.JSON", Format::PymeJson),
            ("a.perfetto.json", Format::Perfetto),
            ("a.trace.json", Format::Perfetto),
            ("dir.json/a.speedscope.json", Format::Speedscope),
            ("a.txt", Format::PymeText),
            ("a.htm", Format::Html),
            ("a.html", Format::Html),
            ("run.PNG", Format::Png),
        ];
        for (p, f) in cases {
            assert_eq!(format_of_path(p), Ok(f), "{p}");
        }
        let e = format_of_path("x.csv").unwrap_err().to_string();
        assert!(e.starts_with("x.csv: cannot tell the format from the file name (known endings: .fpt, .json"), "{e}");
        assert!(e.ends_with("pass format= one of fpt, pyme-json, pyme-text, perfetto, speedscope, html, png"), "{e}");
    }

    #[test]
    fn names_are_checked_against_what_is_read_or_written() {
        assert_eq!(input_format("pyme-text"), Ok(Format::PymeText));
        assert_eq!(
            input_format("html").unwrap_err().to_string(),
            "unknown input format \"html\" (choose from fpt, pyme-json, pyme-text)"
        );
        assert_eq!(output_format("html"), Ok(Format::Html));
        assert!(output_format("csv").unwrap_err().to_string().starts_with("unknown output format \"csv\" (choose from fpt,"));
        assert_eq!(save_format(Some("fpt"), "x.json"), Ok(Format::Fpt));
        assert_eq!(save_format(None, "x.json"), Ok(Format::PymeJson));
    }
}
