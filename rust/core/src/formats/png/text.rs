//! Text in the picture: one embedded font (DejaVu Sans cut to Latin, Greek, Cyrillic, punctuation,
//! arrows and shapes by `scripts/subset_font.sh`: 92 KB; its license, Bitstream Vera with the
//! DejaVu changes in the public domain, is [`FONT_LICENSE`], embedded with it), laid out left to
//! right with its advances and rasterized by `ab_glyph` (anti-aliased coverage, blended into the
//! canvas). A character the font lacks is drawn as the replacement character. Names from the
//! profiled program are drawn as glyphs and nothing else.

use super::canvas::Canvas;
use crate::colours::Rgb;
use ab_glyph::{Font, FontRef, Glyph, PxScale, ScaleFont};

/// The font file (TrueType).
pub const FONT: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans-subset.ttf");
/// The font's license and notice (it must travel with every copy of the font).
pub const FONT_LICENSE: &str = include_str!("../../../assets/fonts/LICENSE-DejaVu.txt");

/// The parsed font, or `None` if the embedded file were unreadable (then text is left out, never
/// a panic; `font_parses` tests it is not).
pub(crate) fn font() -> Option<FontRef<'static>> {
    FontRef::try_from_slice(FONT).ok()
}

/// Text of one size: `px` is the CSS font size (the em), as the timeline's `11px` means.
pub(crate) struct Face<'f> {
    font: &'f FontRef<'static>,
    scale: PxScale,
    ascent: f32,
    descent: f32,
}

impl<'f> Face<'f> {
    pub fn new(font: &'f FontRef<'static>, px: f32) -> Self {
        let em = font.units_per_em().unwrap_or(2048.0);
        let scale = PxScale::from(px * font.height_unscaled() / em);
        let scaled = font.as_scaled(scale);
        Face { font, scale, ascent: scaled.ascent(), descent: scaled.descent() }
    }

    fn glyph_of(&self, c: char) -> ab_glyph::GlyphId {
        let id = self.font.glyph_id(c);
        if id.0 == 0 && !c.is_control() {
            return self.font.glyph_id('\u{fffd}');
        }
        id
    }

    /// Width of `text` in px.
    pub fn width(&self, text: &str) -> f32 {
        let scaled = self.font.as_scaled(self.scale);
        text.chars().map(|c| scaled.h_advance(self.glyph_of(c))).sum()
    }

    /// Height of a line (ascent + descent).
    pub fn line_px(&self) -> f32 {
        self.ascent - self.descent
    }

    /// `text` cut with an ellipsis to fit `max_px` ("" when not even two characters fit).
    pub fn fit(&self, text: &str, max_px: f32) -> String {
        if self.width(text) <= max_px {
            return text.to_owned();
        }
        let ell = self.width("…");
        let scaled = self.font.as_scaled(self.scale);
        let mut out = String::new();
        let mut w = 0.0;
        for c in text.chars() {
            let a = scaled.h_advance(self.glyph_of(c));
            if w + a + ell > max_px {
                break;
            }
            out.push(c);
            w += a;
        }
        if out.chars().count() < 2 {
            return String::new();
        }
        out.push('…');
        out
    }

    /// Draws `text` with its top-left corner at (x, top) in `colour`, clipped to [0, clip_right)
    /// horizontally; returns its width.
    pub fn draw(&self, pm: &mut Canvas, text: &str, x: f32, top: f32, colour: Rgb, clip_right: f32) -> f32 {
        let scaled = self.font.as_scaled(self.scale);
        let baseline = (top + self.ascent).round();
        let right = clip_right.min(pm.width() as f32) as i32;
        let mut pen = x;
        for c in text.chars() {
            if c.is_control() {
                continue;
            }
            let id = self.glyph_of(c);
            let glyph: Glyph = id.with_scale_and_position(self.scale, ab_glyph::point(pen, baseline));
            pen += scaled.h_advance(id);
            let Some(outlined) = self.font.outline_glyph(glyph) else { continue };
            let b = outlined.px_bounds();
            outlined.draw(|gx, gy, cov| {
                let px = b.min.x as i32 + gx as i32;
                let py = b.min.y as i32 + gy as i32;
                if px >= right || cov <= 0.0 {
                    return;
                }
                // coverage in 16 steps: text adds few distinct colours, so the picture keeps
                // to a palette (mod.rs `encode`)
                pm.blend(px, py, colour, (cov.min(1.0) * 16.0).round() / 16.0);
            });
        }
        pen - x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn font_parses_and_has_what_the_picture_writes() {
        let font = font().expect("the embedded font parses");
        for c in "fprofile trace · 1,205 calls µs … ▾ Thread-1 λ Ωж ü".chars().filter(|c| *c != ' ') {
            assert_ne!(font.glyph_id(c).0, 0, "{c:?} missing from the subset");
        }
        assert!(FONT_LICENSE.contains("Bitstream Vera") && FONT_LICENSE.contains("public domain"));
        let face = Face::new(&font, 11.0);
        assert!((5.0..7.0).contains(&(face.width("abcdefghij") / 10.0)), "{}", face.width("abcdefghij"));
        assert_eq!(face.fit("short", 100.0), "short");
        let cut = face.fit("a_rather_long_function_name_indeed", 60.0);
        assert!(cut.ends_with('…') && face.width(&cut) <= 60.0, "{cut}");
        assert_eq!(face.fit("abcdef", 3.0), "");
    }
}
