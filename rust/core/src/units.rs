//! Text for people: durations ([`format_duration`]), terminal widths ([`display_width`],
//! [`pad_to_width`]) and time axis ticks ([`time_ticks`]), the one rule every table, repr, picture
//! and front end uses.
//!
//! The axis rule is `js/units.js` `timeTicks`, ported as it is (in f64, as JS computes it) and
//! checked against the table `tests/fixtures/ticks.json` made from the JS
//! (`tests/js/picture_rules.test.mjs`): the static picture's axis reads as the timeline's.
//!
//! The duration rule is the table `tests/fixtures/durations.json`, shared with the JS timeline
//! (`js/units.js` `formatDuration`, the same rule) and the Python layer (which calls this one):
//! units ns, µs, ms, s (the largest in which the value is at least 1); 3 decimals under 10, 2
//! under 100, 1 under 1000; trailing zeros dropped; a value that rounds to 1000 reads in the next
//! unit ("1 ms", not "1000 µs"). Rounding is done on the integer nanoseconds, half away from zero
//! (99.945 µs reads "99.95 µs"; no binary floating point is involved in either language).

/// The units, largest first: (name, nanoseconds in one).
const UNITS: [(&str, u128); 4] = [("s", 1_000_000_000), ("ms", 1_000_000), ("µs", 1_000), ("ns", 1)];

/// A duration as short text: "1.5 s", "12.35 ms", "999.9 µs", "12 ns" (see the module docs).
pub fn format_duration(ns: i64) -> String {
    let sign = if ns < 0 { "-" } else { "" };
    let a = u128::from(ns.unsigned_abs());
    let i = UNITS.iter().position(|&(_, size)| a >= size).unwrap_or(UNITS.len() - 1);
    let text = magnitude_in(a, UNITS[i].1);
    // Rounding can carry into the next unit: 999.96 µs reads "1 ms", not "1000 µs".
    if i > 0 && text.split('.').next().is_some_and(|int| int.len() >= 4) {
        let (unit, size) = UNITS[i - 1];
        return format!("{sign}{} {unit}", magnitude_in(a, size));
    }
    format!("{sign}{text} {}", UNITS[i].0)
}

/// `a` nanoseconds in units of `size` nanoseconds, rounded to the rule's decimals, zeros trimmed.
fn magnitude_in(a: u128, size: u128) -> String {
    if size == 1 {
        return a.to_string();
    }
    let decimals: u32 = if a >= 100 * size {
        1
    } else if a >= 10 * size {
        2
    } else {
        3
    };
    let scale = 10u128.pow(decimals);
    // a / size * scale, rounded half up: `size` is a multiple of `scale` (10^3 and up, 10^3 at most).
    let step = size / scale;
    let n = (2 * a + step) / (2 * step);
    let (int, frac) = (n / scale, n % scale);
    if frac == 0 {
        return int.to_string();
    }
    let frac = format!("{frac:0width$}", width = decimals as usize);
    format!("{int}.{}", frac.trim_end_matches('0'))
}

/// Axis ticks of a time window: the step (1, 2 or 5 times a power of ten ns), the unit of the
/// labels, and each tick's time and label.
#[derive(Debug, Clone, PartialEq)]
pub struct Ticks {
    pub step_ns: f64,
    pub unit: &'static str,
    pub ticks: Vec<(f64, String)>,
}

/// The unit a duration reads best in (`unitFor`): the largest in which it is at least 1.
fn unit_for(ns: f64) -> (&'static str, f64) {
    let a = ns.abs();
    UNITS.iter().map(|&(u, size)| (u, size as f64)).find(|&(_, size)| a >= size).unwrap_or(("ns", 1.0))
}

/// Axis ticks for the window `[start_ns, end_ns]`, at most about `max_ticks` of them (`js/units.js`
/// `timeTicks`): the step is 1, 2 or 5 times a power of ten ns; labels use one unit, the step's,
/// or the times' own when the step's would need more than 4 integer digits, with as many decimals
/// as the step needs.
pub fn time_ticks(start_ns: f64, end_ns: f64, max_ticks: usize) -> Ticks {
    let span = end_ns - start_ns;
    if span.is_nan() || span <= 0.0 || max_ticks < 1 {
        return Ticks { step_ns: 0.0, unit: "ns", ticks: Vec::new() };
    }
    let raw = span / max_ticks as f64;
    let pow = 10f64.powf(raw.log10().floor());
    let mut step = pow;
    for m in [1.0, 2.0, 5.0, 10.0] {
        if m * pow >= raw {
            step = m * pow;
            break;
        }
    }
    let step = step.max(1.0);
    let magnitude = start_ns.abs().max(end_ns.abs());
    let mut unit = unit_for(step);
    if magnitude / unit.1 >= 1e4 {
        unit = unit_for(magnitude);
    }
    let decimals = (-(step / unit.1).log10() - 1e-9).ceil().max(0.0) as usize;
    let first = (start_ns / step).ceil() * step;
    let mut ticks = Vec::new();
    let mut t = first;
    while t <= end_ns && ticks.len() < 10 * max_ticks + 2 {
        let text = format!("{:.*}", decimals.min(9), t / unit.1);
        // "-0" and "-0.00" read without their sign, as in JS
        let text =
            if text.starts_with('-') && text[1..].chars().all(|c| c == '0' || c == '.') { text[1..].to_owned() } else { text };
        ticks.push((t + 0.0, format!("{text} {}", unit.0)));
        t += step;
    }
    Ticks { step_ns: step, unit: unit.0, ticks }
}

/// Terminal columns a character takes: 0 for combining marks, 2 for East Asian wide and
/// fullwidth characters and emoji, else 1 (enough to keep a table's columns straight with CJK
/// or accented names; "µ" is one column).
pub fn char_width(c: char) -> usize {
    match c as u32 {
        0x0300..=0x036F
        | 0x1AB0..=0x1AFF
        | 0x1DC0..=0x1DFF
        | 0x200B..=0x200F
        | 0x20D0..=0x20FF
        | 0xFE00..=0xFE0F
        | 0xFE20..=0xFE2F => 0,
        0x1100..=0x115F
        | 0x2E80..=0x303E
        | 0x3041..=0x33FF
        | 0x3400..=0x4DBF
        | 0x4E00..=0x9FFF
        | 0xA000..=0xA4CF
        | 0xA960..=0xA97F
        | 0xAC00..=0xD7A3
        | 0xF900..=0xFAFF
        | 0xFE30..=0xFE4F
        | 0xFF00..=0xFF60
        | 0xFFE0..=0xFFE6
        | 0x1F300..=0x1F64F
        | 0x1F900..=0x1F9FF
        | 0x20000..=0x3FFFD => 2,
        _ => 1,
    }
}

/// Terminal columns `s` takes (the sum of [`char_width`]).
pub fn display_width(s: &str) -> usize {
    s.chars().map(char_width).sum()
}

/// `s` cut to `width` terminal columns (ending in `~` when cut) and padded with spaces to it.
pub fn pad_to_width(s: &str, width: usize) -> String {
    let mut out = String::new();
    let mut w = 0;
    if display_width(s) > width {
        for c in s.chars() {
            let cw = char_width(c);
            if w + cw > width.saturating_sub(1) {
                break;
            }
            out.push(c);
            w += cw;
        }
        out.push('~');
        w += 1;
    } else {
        out.push_str(s);
        w = display_width(s);
    }
    out.extend(std::iter::repeat_n(' ', width.saturating_sub(w)));
    out
}

/// `s` right-aligned in `width` terminal columns (never cut).
pub fn pad_left_to_width(s: &str, width: usize) -> String {
    let mut out: String = std::iter::repeat_n(' ', width.saturating_sub(display_width(s))).collect();
    out.push_str(s);
    out
}

/// An integer with thousands separators: 1234567 -> "1,234,567".
pub fn format_count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A name shown in a one-line cell: control characters escaped (`\t`, `\n`, ...).
pub fn one_line(s: &str) -> String {
    if s.chars().any(|c| c.is_control()) {
        s.chars().map(|c| if c.is_control() { c.escape_debug().to_string() } else { c.to_string() }).collect()
    } else {
        s.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every case of the shared table (`tests/fixtures/durations.json`, made from `js/units.js`).
    #[test]
    fn durations_follow_the_shared_table() {
        let table: serde_json::Value = serde_json::from_str(include_str!("../../../tests/fixtures/durations.json")).unwrap();
        let cases = table["cases"].as_array().unwrap();
        assert!(cases.len() > 30);
        let mut wrong = Vec::new();
        for case in cases {
            let ns = case[0].as_i64().unwrap();
            let want = case[1].as_str().unwrap();
            let got = format_duration(ns);
            if got != want {
                wrong.push(format!("{ns}: got {got:?}, want {want:?}"));
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    /// Every case of the shared axis table (`tests/fixtures/ticks.json`, made from `js/units.js`).
    #[test]
    fn ticks_follow_the_shared_table() {
        let table: serde_json::Value = serde_json::from_str(include_str!("../../../tests/fixtures/ticks.json")).unwrap();
        let cases = table["cases"].as_array().unwrap();
        assert!(cases.len() >= 20);
        for case in cases {
            let (a, b, m) = (case[0].as_f64().unwrap(), case[1].as_f64().unwrap(), case[2].as_u64().unwrap() as usize);
            let got = time_ticks(a, b, m);
            let want: Vec<(f64, String)> =
                case[5].as_array().unwrap().iter().map(|t| (t[0].as_f64().unwrap(), t[1].as_str().unwrap().to_owned())).collect();
            assert_eq!(got.step_ns, case[3].as_f64().unwrap(), "{case}");
            assert_eq!(got.unit, case[4].as_str().unwrap(), "{case}");
            assert_eq!(got.ticks, want, "{case}");
        }
    }

    #[test]
    fn extremes_do_not_overflow() {
        assert_eq!(format_duration(i64::MIN), "-9223372036.9 s");
        assert_eq!(format_duration(i64::MAX), "9223372036.9 s");
        assert_eq!(format_duration(999_999_999_999), "1000 s");
    }

    #[test]
    fn widths_count_columns_not_bytes() {
        assert_eq!(display_width("12.35 µs"), 8);
        assert_eq!(display_width("函数"), 4);
        assert_eq!(display_width("e\u{301}"), 1);
        assert_eq!(pad_left_to_width("1 µs", 6), "  1 µs");
        assert_eq!(pad_to_width("函数函数", 5), "函数~");
        assert_eq!(pad_to_width("ab", 4), "ab  ");
        assert_eq!(one_line("a\tb"), "a\\tb");
        assert_eq!(format_count(0), "0");
        assert_eq!(format_count(999), "999");
        assert_eq!(format_count(1_234_567), "1,234,567");
    }
}
