//! Drawing straight into YUV 4:2:0 planes: spans with soft ends, alpha blended.
//!
//! Shapes are described once in luma pixel units and drawn into each plane at
//! that plane's scale (chroma planes are half size), so there is no RGB
//! buffer and no colour conversion per pixel.

/// A colour as the three YUV samples it writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Yuv(pub [u8; 3]);

/// A filled outline, in luma pixel coordinates.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Shape {
    /// A disc.
    Disc { cx: f32, cy: f32, r: f32 },
    /// A ring: a disc with a hole of radius `inner`.
    Ring {
        cx: f32,
        cy: f32,
        r: f32,
        inner: f32,
    },
    /// An axis-aligned rectangle given by its centre and half sizes.
    Rect { cx: f32, cy: f32, hw: f32, hh: f32 },
}

impl Shape {
    fn scaled(self, s: f32) -> Shape {
        match self {
            Shape::Disc { cx, cy, r } => Shape::Disc {
                cx: cx * s,
                cy: cy * s,
                r: r * s,
            },
            Shape::Ring { cx, cy, r, inner } => Shape::Ring {
                cx: cx * s,
                cy: cy * s,
                r: r * s,
                inner: inner * s,
            },
            Shape::Rect { cx, cy, hw, hh } => Shape::Rect {
                cx: cx * s,
                cy: cy * s,
                hw: hw * s,
                hh: hh * s,
            },
        }
    }

    /// Rows the shape touches: (first, last) centre offsets.
    fn vertical_extent(self) -> (f32, f32) {
        match self {
            Shape::Disc { cy, r, .. } | Shape::Ring { cy, r, .. } => (cy - r, cy + r),
            Shape::Rect { cy, hh, .. } => (cy - hh, cy + hh),
        }
    }

    /// Horizontal spans covered on the row whose centre is at `y`.
    fn spans(self, y: f32) -> ([(f32, f32); 2], usize) {
        let none = ([(0.0, 0.0); 2], 0);
        match self {
            Shape::Disc { cx, cy, r } => {
                let dy = y - cy;
                if dy.abs() >= r {
                    return none;
                }
                let half = (r * r - dy * dy).sqrt();
                ([(cx - half, cx + half), (0.0, 0.0)], 1)
            }
            Shape::Ring { cx, cy, r, inner } => {
                let dy = y - cy;
                if dy.abs() >= r {
                    return none;
                }
                let outer = (r * r - dy * dy).sqrt();
                if dy.abs() >= inner {
                    return ([(cx - outer, cx + outer), (0.0, 0.0)], 1);
                }
                let hole = (inner * inner - dy * dy).sqrt();
                ([(cx - outer, cx - hole), (cx + hole, cx + outer)], 2)
            }
            Shape::Rect { cx, cy, hw, hh } => {
                if (y - cy).abs() >= hh {
                    return none;
                }
                ([(cx - hw, cx + hw), (0.0, 0.0)], 1)
            }
        }
    }
}

/// Mutable view of one frame's planes.
pub(crate) struct Canvas<'a> {
    pub width: usize,
    pub height: usize,
    pub y: &'a mut [u8],
    pub u: &'a mut [u8],
    pub v: &'a mut [u8],
}

impl Canvas<'_> {
    /// Blends `shape` in `colour` with opacity `alpha` (0..=256).
    pub(crate) fn fill(&mut self, shape: Shape, colour: Yuv, alpha: u32) {
        let (w, h) = (self.width, self.height);
        fill_plane(self.y, w, h, shape, colour.0[0], alpha);
        let half = shape.scaled(0.5);
        fill_plane(self.u, w / 2, h / 2, half, colour.0[1], alpha);
        fill_plane(self.v, w / 2, h / 2, half, colour.0[2], alpha);
    }
}

fn fill_plane(plane: &mut [u8], w: usize, h: usize, shape: Shape, value: u8, alpha: u32) {
    let (top, bottom) = shape.vertical_extent();
    let first = top.floor().max(0.0) as usize;
    let last = (bottom.ceil().max(0.0) as usize).min(h);
    for row in first..last {
        let (spans, n) = shape.spans(row as f32 + 0.5);
        let line = &mut plane[row * w..(row + 1) * w];
        for &(x0, x1) in &spans[..n] {
            blend_span(line, x0, x1, value, alpha);
        }
    }
}

/// Blends `value` over `line` from x0 to x1 (fractional), with partial
/// coverage at both ends so edges do not stair-step.
fn blend_span(line: &mut [u8], x0: f32, x1: f32, value: u8, alpha: u32) {
    let w = line.len() as f32;
    let (x0, x1) = (x0.clamp(0.0, w), x1.clamp(0.0, w));
    if x1 <= x0 {
        return;
    }
    let (i0, i1) = (x0 as usize, x1 as usize);
    let cover = |c: f32| (alpha as f32 * c) as u32;
    if i0 == i1 {
        blend(&mut line[i0], value, cover(x1 - x0));
        return;
    }
    blend(&mut line[i0], value, cover(i0 as f32 + 1.0 - x0));
    let v = u32::from(value) * alpha;
    let keep = 256 - alpha;
    // The hot loop: a constant blend the compiler vectorises.
    for p in &mut line[i0 + 1..i1] {
        *p = ((u32::from(*p) * keep + v) >> 8) as u8;
    }
    if i1 < line.len() {
        blend(&mut line[i1], value, cover(x1 - i1 as f32));
    }
}

fn blend(p: &mut u8, value: u8, alpha: u32) {
    let alpha = alpha.min(256);
    *p = ((u32::from(*p) * (256 - alpha) + u32::from(value) * alpha) >> 8) as u8;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canvas_data(w: usize, h: usize) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
        (vec![16; w * h], vec![128; w * h / 4], vec![128; w * h / 4])
    }

    #[test]
    fn opaque_disc_covers_its_centre_not_its_corners() {
        let (w, h) = (64, 64);
        let (mut y, mut u, mut v) = canvas_data(w, h);
        let mut c = Canvas {
            width: w,
            height: h,
            y: &mut y,
            u: &mut u,
            v: &mut v,
        };
        let red = Yuv([63, 102, 240]);
        c.fill(
            Shape::Disc {
                cx: 32.0,
                cy: 32.0,
                r: 20.0,
            },
            red,
            256,
        );
        assert_eq!(y[32 * w + 32], 63);
        assert_eq!(u[16 * (w / 2) + 16], 102);
        assert_eq!(v[16 * (w / 2) + 16], 240);
        assert_eq!(y[0], 16);
        assert_eq!(y[2 * w + 60], 16);
    }

    #[test]
    fn ring_leaves_its_hole_and_clips_at_edges() {
        let (w, h) = (32, 32);
        let (mut y, mut u, mut v) = canvas_data(w, h);
        let mut c = Canvas {
            width: w,
            height: h,
            y: &mut y,
            u: &mut u,
            v: &mut v,
        };
        let ring = Shape::Ring {
            cx: 0.0,
            cy: 16.0,
            r: 40.0,
            inner: 8.0,
        };
        c.fill(ring, Yuv([235, 128, 128]), 256);
        assert_eq!(y[16 * w], 16, "hole stays untouched");
        assert_eq!(y[16 * w + 20], 235);
    }

    #[test]
    fn half_alpha_blends_halfway_and_soft_edges_blend_partially() {
        let mut line = vec![0u8; 8];
        blend_span(&mut line, 1.5, 6.0, 200, 128);
        assert_eq!(line[0], 0);
        assert_eq!(line[1], 50, "half-covered pixel gets a quarter");
        assert_eq!(line[3], 100);
        assert_eq!(line[6], 0);
    }
}
