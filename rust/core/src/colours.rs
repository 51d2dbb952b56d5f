//! The timeline's colours, for what the core draws itself (the static picture,
//! [`crate::formats::png`]): a function's colour from a hash of its name and file, a thread's from
//! its index, in the light or the dark theme.
//!
//! The rule is `js/render.js` (`codeColours`, `threadColour`, `readableLightness`) and
//! `js/layout.js` (`hashString`: 32-bit FNV-1a over UTF-16 code units), ported as it is; both are
//! checked against the one table `tests/fixtures/colours.json` (made from the JS,
//! `tests/js/picture_rules.test.mjs`), as CSS text and as the 8-bit sRGB a browser draws it in,
//! so the picture and the timeline cannot drift apart.

/// An 8-bit sRGB colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rgb(pub u8, pub u8, pub u8);

impl Rgb {
    /// `#rrggbb`.
    pub fn hex(self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.0, self.1, self.2)
    }
}

/// A colour as the timeline writes it: hue in degrees, saturation and lightness in percent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hsl {
    pub h: f64,
    pub s: f64,
    pub l: f64,
}

impl Hsl {
    /// CSS Color 4's hsl -> sRGB, each channel rounded to 8 bits (what a browser fills with).
    pub fn rgb(self) -> Rgb {
        let (sat, lig) = (self.s / 100.0, self.l / 100.0);
        let f = |n: f64| {
            let k = (n + self.h / 30.0) % 12.0;
            let a = sat * lig.min(1.0 - lig);
            lig - a * (k - 3.0).min(9.0 - k).clamp(-1.0, 1.0)
        };
        let byte = |v: f64| (v * 255.0).round().clamp(0.0, 255.0) as u8;
        Rgb(byte(f(0.0)), byte(f(8.0)), byte(f(4.0)))
    }
}

/// 32-bit FNV-1a over the UTF-16 code units of `s` (`js/layout.js` `hashString`: JS strings are
/// UTF-16, so a character outside the BMP counts as its two surrogates).
pub fn hash_string(s: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for unit in s.encode_utf16() {
        h ^= u32::from(unit);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// Relative luminance (WCAG) of an hsl colour (`js/render.js` `hslLuminance`).
pub fn hsl_luminance(h: f64, s: f64, l: f64) -> f64 {
    let (sat, lig) = (s / 100.0, l / 100.0);
    let k = |n: f64| (n + h / 30.0) % 12.0;
    let a = sat * lig.min(1.0 - lig);
    let f = |n: f64| lig - a * (k(n) - 3.0).min(9.0 - k(n)).clamp(-1.0, 1.0);
    let lin = |v: f64| if v <= 0.04045 { v / 12.92 } else { ((v + 0.055) / 1.055).powf(2.4) };
    0.2126 * lin(f(0.0)) + 0.7152 * lin(f(8.0)) + 0.0722 * lin(f(4.0))
}

/// Contrast ratio of the best label colour on an hsl fill (`labelContrastOn`).
fn label_contrast_on(h: f64, s: f64, l: f64) -> f64 {
    let y = hsl_luminance(h, s, l);
    ((y + 0.05) / (0.0069 + 0.05)).max((0.871 + 0.05) / (y + 0.05))
}

/// The lightness nearest `l` at which a label reads on the fill with 4.5:1 contrast
/// (`readableLightness`).
fn readable_lightness(h: f64, s: f64, l: f64) -> f64 {
    for d in 0..=30 {
        let d = f64::from(d);
        if l + d <= 100.0 && label_contrast_on(h, s, l + d) >= 4.5 {
            return l + d;
        }
        if l - d >= 0.0 && label_contrast_on(h, s, l - d) >= 4.5 {
            return l - d;
        }
    }
    l
}

/// The colour of a function called `name` in `file` (`codeColours`' fill).
pub fn code_colour(name: &str, file: &str, dark: bool) -> Hsl {
    let mut key = String::with_capacity(name.len() + file.len() + 1);
    key.push_str(name);
    key.push('\0');
    key.push_str(file);
    let h = hash_string(&key);
    let hue = f64::from(h % 360);
    let sat = f64::from(45 + ((h >> 9) % 25));
    let base = if dark { 34 + ((h >> 17) % 12) } else { 68 + ((h >> 17) % 12) };
    Hsl { h: hue, s: sat, l: readable_lightness(hue, sat, f64::from(base)) }
}

/// The colour of thread `index`'s span line (`threadColour`; its hue written with one decimal).
pub fn thread_colour(index: usize, dark: bool) -> Hsl {
    let hue = (index as f64 * 137.508 + 200.0) % 360.0;
    let hue = (hue * 10.0).round() / 10.0; // toFixed(1), as the CSS text carries it
    Hsl { h: hue, s: if dark { 65.0 } else { 60.0 }, l: if dark { 62.0 } else { 42.0 } }
}

/// `hsl(h s% l%)` as the timeline writes it (`decimals`: of the hue).
pub fn css(c: Hsl, decimals: usize) -> String {
    format!("hsl({:.*} {}% {}%)", decimals, c.h, c.s, c.l)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> serde_json::Value {
        serde_json::from_str(include_str!("../../../tests/fixtures/colours.json")).unwrap()
    }

    /// Every function of the shared table: the same CSS as the timeline, the same pixels.
    #[test]
    fn function_colours_follow_the_shared_table() {
        let t = table();
        let rows = t["codes"].as_array().unwrap();
        assert!(rows.len() > 60);
        let mut wrong = Vec::new();
        for r in rows {
            let (name, file) = (r[0].as_str().unwrap(), r[1].as_str().unwrap());
            for (dark, css_col, hex_col) in [(false, 2, 3), (true, 4, 5)] {
                let c = code_colour(name, file, dark);
                let got = (css(c, 0), c.rgb().hex());
                let want = (r[css_col].as_str().unwrap().to_owned(), r[hex_col].as_str().unwrap().to_owned());
                if got != want {
                    wrong.push(format!("{name:?} {file:?} dark={dark}: got {got:?}, want {want:?}"));
                }
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    #[test]
    fn thread_colours_follow_the_shared_table() {
        let t = table();
        for r in t["threads"].as_array().unwrap() {
            let i = r[0].as_u64().unwrap() as usize;
            for (dark, css_col, hex_col) in [(false, 1, 2), (true, 3, 4)] {
                let c = thread_colour(i, dark);
                assert_eq!(css(c, 1), r[css_col].as_str().unwrap(), "thread {i} dark={dark}");
                assert_eq!(c.rgb().hex(), r[hex_col].as_str().unwrap(), "thread {i} dark={dark}");
            }
        }
    }

    #[test]
    fn the_hash_counts_utf16_units() {
        assert_eq!(hash_string(""), 0x811c_9dc5);
        // "😀" is two UTF-16 units in JS: hashing its surrogates, not its UTF-8 bytes or its scalar
        let mut h: u32 = 0x811c_9dc5;
        for u in [0xd83du32, 0xde00] {
            h ^= u;
            h = h.wrapping_mul(0x0100_0193);
        }
        assert_eq!(hash_string("😀"), h);
        assert_eq!(Hsl { h: 0.0, s: 100.0, l: 50.0 }.rgb(), Rgb(255, 0, 0));
    }
}
