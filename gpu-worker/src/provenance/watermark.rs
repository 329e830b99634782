//! The visible watermark: "DREAMREEL AI" drawn into every frame in a bitmap
//! font, hopping between the corners every two seconds so that cropping or
//! blurring one corner does not remove it.
//!
//! The mark is pure arithmetic on the frame index, so a reader that knows the
//! clip's size and frame rate can tell where it must be in any decoded frame.

use crate::frame::YuvFrame;

/// The words drawn.
pub const TEXT: &str = "DREAMREEL AI";
/// Seconds the mark stays in one corner before it moves.
pub const HOLD_SECONDS: u32 = 2;

const GLYPH_W: u32 = 5;
const GLYPH_H: u32 = 7;
// A glyph plus one empty column.
const ADVANCE: u32 = GLYPH_W + 1;
// Luma the letters are pulled towards (limited-range white) and how far (of 4).
const INK_LUMA: u32 = 235;
const INK_WEIGHT: u32 = 3;

/// What the mark paints at a pixel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ink {
    /// Part of a letter: brightened towards white.
    Glyph,
    /// The letter's drop shadow: darkened, so the mark reads on bright scenes too.
    Shadow,
}

/// Rows of a 5×7 glyph, most significant of the low five bits leftmost.
fn glyph(c: char) -> [u8; 7] {
    match c {
        'A' => [0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11],
        'D' => [0x1E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x1E],
        'E' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F],
        'I' => [0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E],
        'L' => [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F],
        'M' => [0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11],
        'R' => [0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11],
        _ => [0; 7],
    }
}

/// Where and how large the mark is for clips of one size and frame rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Watermark {
    width: u32,
    height: u32,
    fps: u32,
    scale: u32,
    shadow: u32,
    margin: u32,
}

impl Watermark {
    /// The mark for `width`×`height` frames at `fps`: about 30% of the width.
    pub fn new(width: u32, height: u32, fps: u32) -> Self {
        let cells = TEXT.chars().count() as u32 * ADVANCE;
        let scale = (width * 3 / 10 / cells).max(1);
        Watermark {
            width,
            height,
            fps: fps.max(1),
            scale,
            shadow: (scale / 2).max(1),
            margin: width.min(height) / 25,
        }
    }

    /// Pixel size of one font cell.
    pub fn scale(&self) -> u32 {
        self.scale
    }

    /// Width and height of the lettering, without its shadow.
    pub fn size(&self) -> (u32, u32) {
        let chars = TEXT.chars().count() as u32;
        ((chars * ADVANCE - 1) * self.scale, GLYPH_H * self.scale)
    }

    /// Which corner the mark sits in during frame `index`: 0..4, in the
    /// order top-left, bottom-right, top-right, bottom-left.
    pub fn corner(&self, index: u32) -> u32 {
        (index / (HOLD_SECONDS * self.fps)) % 4
    }

    /// Top-left pixel of the lettering in frame `index`.
    pub fn origin(&self, index: u32) -> (u32, u32) {
        let (w, h) = self.size();
        // Room for the shadow too; a frame narrower than the mark clips it.
        let right = self.width.saturating_sub(w + self.shadow + self.margin);
        let bottom = self.height.saturating_sub(h + self.shadow + self.margin);
        let (left, top) = (self.margin.min(right), self.margin.min(bottom));
        match self.corner(index) {
            0 => (left, top),
            1 => (right, bottom),
            2 => (right, top),
            _ => (left, bottom),
        }
    }

    /// What the mark paints at pixel (`x`, `y`) of frame `index`, if anything.
    pub fn ink_at(&self, index: u32, x: u32, y: u32) -> Option<Ink> {
        let origin = self.origin(index);
        if self.letter_at(origin, x, y) {
            return Some(Ink::Glyph);
        }
        let (sx, sy) = (x.checked_sub(self.shadow)?, y.checked_sub(self.shadow)?);
        self.letter_at(origin, sx, sy).then_some(Ink::Shadow)
    }

    fn letter_at(&self, (ox, oy): (u32, u32), x: u32, y: u32) -> bool {
        let (Some(dx), Some(dy)) = (x.checked_sub(ox), y.checked_sub(oy)) else {
            return false;
        };
        let (col, row) = (dx / self.scale, dy / self.scale);
        let (index, within) = (col / ADVANCE, col % ADVANCE);
        if row >= GLYPH_H || within >= GLYPH_W {
            return false;
        }
        let Some(c) = TEXT.chars().nth(index as usize) else {
            return false;
        };
        glyph(c)[row as usize] & (0x10 >> within) != 0
    }

    /// Draws the mark into `frame`, which is frame number `index` of the clip.
    pub fn stamp(&self, frame: &mut YuvFrame, index: u32) {
        let (width, height) = (frame.width(), frame.height());
        let (ox, oy) = self.origin(index);
        let (w, h) = self.size();
        let x_end = (ox + w + self.shadow).min(width);
        let y_end = (oy + h + self.shadow).min(height);
        let (luma, u, v) = frame.planes_mut();
        let chroma_width = (width / 2) as usize;
        for y in oy..y_end {
            for x in ox..x_end {
                let Some(ink) = self.ink_at(index, x, y) else {
                    continue;
                };
                let at = (y * width + x) as usize;
                let c = (y / 2) as usize * chroma_width + (x / 2) as usize;
                let p = u32::from(luma[at]);
                luma[at] = match ink {
                    Ink::Glyph => p + (INK_LUMA.saturating_sub(p)) * INK_WEIGHT / 4,
                    Ink::Shadow => 16 + p.saturating_sub(16) / 3,
                } as u8;
                // Neutral chroma: white letters, grey shadow, whatever the scene's colour.
                u[c] = ((u32::from(u[c]) + 128) / 2) as u8;
                v[c] = ((u32::from(v[c]) + 128) / 2) as u8;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grey(width: u32, height: u32) -> YuvFrame {
        let mut frame = YuvFrame::new(width, height);
        frame.planes_mut().0.fill(120);
        frame
    }

    #[test]
    fn letters_brighten_shadows_darken_and_the_rest_is_untouched() {
        let mark = Watermark::new(720, 1280, 24);
        let mut frame = grey(720, 1280);
        mark.stamp(&mut frame, 5);
        let (mut glyphs, mut shadows) = (0, 0);
        for y in 0..1280 {
            for x in 0..720 {
                let p = frame.y()[(y * 720 + x) as usize];
                match mark.ink_at(5, x, y) {
                    Some(Ink::Glyph) => {
                        glyphs += 1;
                        assert!(p >= 200, "letter pixel {x},{y} is {p}");
                    }
                    Some(Ink::Shadow) => {
                        shadows += 1;
                        assert!(p <= 60, "shadow pixel {x},{y} is {p}");
                    }
                    None => assert_eq!(p, 120, "pixel {x},{y} outside the mark changed"),
                }
            }
        }
        // Every letter of the text is drawn, at a readable size.
        assert!(mark.scale() >= 3, "scale {}", mark.scale());
        assert!(glyphs > 500 && shadows > 100, "{glyphs} / {shadows}");
    }

    #[test]
    fn the_mark_holds_two_seconds_then_visits_all_four_corners() {
        let mark = Watermark::new(720, 1280, 24);
        let hold = HOLD_SECONDS * 24;
        assert_eq!(mark.origin(0), mark.origin(hold - 1));
        let corners: Vec<_> = (0..4).map(|i| mark.origin(i * hold)).collect();
        for (i, a) in corners.iter().enumerate() {
            for b in &corners[i + 1..] {
                assert_ne!(a, b, "two corners coincide: {corners:?}");
            }
        }
        assert_eq!(mark.origin(4 * hold), corners[0]);
    }

    #[test]
    fn the_mark_and_its_shadow_fit_every_preset_and_clip_on_tiny_frames() {
        for (w, h) in [(720, 1280), (1280, 720), (720, 720), (64, 64)] {
            let mark = Watermark::new(w, h, 30);
            for i in (0..8 * 60).step_by(60) {
                let mut frame = grey(w, h);
                // Drawing never writes outside the frame, however small.
                mark.stamp(&mut frame, i);
                if w >= 720 {
                    let (ox, oy) = mark.origin(i);
                    let (mw, mh) = mark.size();
                    assert!(ox + mw + mark.shadow <= w && oy + mh + mark.shadow <= h);
                }
            }
        }
    }
}
