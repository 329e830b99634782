//! The local backend's picture: a palette, a drifting gradient with soft
//! diagonal waves, shapes on looping paths and a field of twinkling motes,
//! all chosen once from the prompt's hash and then animated over time.

use super::mood::Mood;
use super::paint::{Canvas, Shape, Yuv};
use super::rng::{Rng, sin_turns};
use crate::frame::{YuvFrame, rgb_to_yuv};

// Hue offsets (degrees) of the five palette entries for each colour scheme.
const SCHEMES: [[f32; 5]; 4] = [
    [0.0, 25.0, -25.0, 50.0, -50.0],  // analogous
    [0.0, 180.0, 20.0, 200.0, -20.0], // complementary
    [0.0, 120.0, 240.0, 20.0, 140.0], // triadic
    [0.0, 150.0, 210.0, 30.0, 180.0], // split complementary
];

#[derive(Debug, Clone, Copy)]
enum Kind {
    Disc,
    Ring,
    Rect { aspect: f32 },
}

/// A shape on a looping (Lissajous) path that breathes in size.
#[derive(Debug, Clone)]
struct Actor {
    kind: Kind,
    colour: Yuv,
    alpha: u32,
    size: f32,
    centre: (f32, f32),
    reach: (f32, f32),
    hz: (f32, f32),
    phase: (f32, f32),
    pulse: f32,
    pulse_hz: f32,
}

/// A small square drifting across the frame and wrapping around.
#[derive(Debug, Clone)]
struct Mote {
    start: (f32, f32),
    velocity: (f32, f32),
    size: f32,
    twinkle_hz: f32,
    phase: f32,
    colour: Yuv,
}

/// Everything needed to paint any frame of one clip.
#[derive(Debug, Clone)]
pub(crate) struct Scene {
    width: usize,
    height: usize,
    top: [f32; 3],
    bottom: [f32; 3],
    sway: f32,
    sway_hz: f32,
    wave_amp: f32,
    wave_period: f32,
    wave_slope: f32,
    wave_speed: f32,
    actors: Vec<Actor>,
    motes: Vec<Mote>,
}

impl Scene {
    /// Chooses the look for a `width`×`height` clip.
    pub(crate) fn new(rng: &mut Rng, mood: &Mood, width: u32, height: u32) -> Scene {
        let (w, h) = (width as f32, height as f32);
        let side = w.min(h);
        let pace = 0.4 + 1.2 * mood.energy;
        let hue = match mood.hue {
            Some(hue) => hue + rng.range(-12.0, 12.0),
            None => rng.range(0.0, 360.0),
        };
        let scheme = SCHEMES[rng.below(SCHEMES.len())];
        let sat = rng.range(0.45, 0.9);
        let (bg_top, bg_bottom) = if mood.dark {
            (rng.range(0.05, 0.12), rng.range(0.15, 0.3))
        } else {
            (rng.range(0.2, 0.4), rng.range(0.35, 0.6))
        };
        let hue_at = |i: usize| hue + scheme[i % 5];
        let top = yuv_f32(hsl(hue_at(0), sat * 0.8, bg_top));
        let bottom = yuv_f32(hsl(hue_at(1), sat, bg_bottom));

        let mut shape_rng = rng.fork(1);
        let count = 4 + shape_rng.below(5);
        let mut actors: Vec<Actor> = (0..count)
            .map(|i| {
                let r = &mut shape_rng;
                let light = r.range(0.45, 0.75);
                let kind = match r.below(3) {
                    0 => Kind::Disc,
                    1 => Kind::Ring,
                    _ => Kind::Rect {
                        aspect: r.range(0.3, 1.6),
                    },
                };
                Actor {
                    kind,
                    colour: Yuv(rgb_to_yuv_arr(hsl(hue_at(i + 1), sat, light))),
                    alpha: r.range(150.0, 256.0) as u32,
                    size: side * r.range(0.05, 0.2),
                    centre: (w * r.range(0.2, 0.8), h * r.range(0.2, 0.8)),
                    reach: (w * r.range(0.05, 0.35), h * r.range(0.05, 0.3)),
                    hz: (pace * r.range(0.05, 0.35), pace * r.range(0.05, 0.35)),
                    phase: (r.unit(), r.unit()),
                    pulse: r.range(0.0, 0.25),
                    pulse_hz: pace * r.range(0.2, 1.0),
                }
            })
            .collect();
        // Big shapes behind, small ones in front.
        actors.sort_by(|a, b| b.size.total_cmp(&a.size));

        let mut mote_rng = rng.fork(2);
        let motes = (0..12 + mote_rng.below(48))
            .map(|i| {
                let r = &mut mote_rng;
                let drift = pace * side / h.max(w);
                Mote {
                    start: (r.unit(), r.unit()),
                    velocity: (r.range(-0.03, 0.03) * drift, r.range(-0.12, 0.04) * drift),
                    size: r.range(1.5, 4.5),
                    twinkle_hz: r.range(0.3, 2.0),
                    phase: r.unit(),
                    colour: Yuv(rgb_to_yuv_arr(hsl(hue_at(i), sat * 0.4, 0.88))),
                }
            })
            .collect();

        let mut bg_rng = rng.fork(3);
        Scene {
            width: width as usize,
            height: height as usize,
            top,
            bottom,
            sway: bg_rng.range(0.05, 0.2),
            sway_hz: pace * bg_rng.range(0.05, 0.2),
            wave_amp: bg_rng.range(5.0, 16.0),
            wave_period: side * bg_rng.range(0.15, 0.6),
            wave_slope: bg_rng.range(-1.5, 1.5),
            wave_speed: pace * side * bg_rng.range(0.05, 0.2) * bg_rng.sign(),
            actors,
            motes,
        }
    }

    /// Paints the scene as it is `t` seconds into the clip.
    pub(crate) fn paint(&self, frame: &mut YuvFrame, t: f32) {
        debug_assert_eq!(frame.width() as usize, self.width);
        let (y, u, v) = frame.planes_mut();
        let mut canvas = Canvas {
            width: self.width,
            height: self.height,
            y,
            u,
            v,
        };
        self.background(&mut canvas, t);
        for actor in &self.actors {
            let (shape, alpha) = actor.at(t);
            canvas.fill(shape, actor.colour, alpha);
        }
        let (w, h) = (self.width as f32, self.height as f32);
        for mote in &self.motes {
            let x = (mote.start.0 + mote.velocity.0 * t).rem_euclid(1.0) * w;
            let y = (mote.start.1 + mote.velocity.1 * t).rem_euclid(1.0) * h;
            let glow = 0.5 + 0.5 * sin_turns(mote.twinkle_hz * t + mote.phase);
            let shape = Shape::Rect {
                cx: x,
                cy: y,
                hw: mote.size,
                hh: mote.size,
            };
            canvas.fill(shape, mote.colour, 40 + (glow * 200.0) as u32);
        }
    }

    fn background(&self, canvas: &mut Canvas<'_>, t: f32) {
        let (w, h) = (self.width, self.height);
        let shift = self.sway * sin_turns(self.sway_hz * t);
        let mix = |row_centre: f32| (row_centre / h as f32 + shift).clamp(0.0, 1.0);
        let lerp = |c: usize, m: f32| self.top[c] + (self.bottom[c] - self.top[c]) * m;

        // One period of the wave, long enough to read `w` samples from any offset.
        let period = self.wave_period.max(8.0);
        let table: Vec<i16> = (0..w + period.ceil() as usize)
            .map(|x| (self.wave_amp * sin_turns(x as f32 / period)) as i16)
            .collect();
        for (row, line) in canvas.y.chunks_exact_mut(w).enumerate() {
            let base = lerp(0, mix(row as f32 + 0.5)) as i16;
            let offset = (row as f32 * self.wave_slope + t * self.wave_speed).rem_euclid(period);
            let waves = &table[offset as usize..offset as usize + w];
            for (p, &d) in line.iter_mut().zip(waves) {
                *p = (base + d).clamp(16, 235) as u8;
            }
        }
        let cw = w / 2;
        for row in 0..h / 2 {
            let m = mix(row as f32 * 2.0 + 1.0);
            canvas.u[row * cw..(row + 1) * cw].fill(lerp(1, m) as u8);
            canvas.v[row * cw..(row + 1) * cw].fill(lerp(2, m) as u8);
        }
    }
}

impl Actor {
    fn at(&self, t: f32) -> (Shape, u32) {
        let cx = self.centre.0 + self.reach.0 * sin_turns(self.hz.0 * t + self.phase.0);
        let cy = self.centre.1 + self.reach.1 * sin_turns(self.hz.1 * t + self.phase.1);
        let r = self.size * (1.0 + self.pulse * sin_turns(self.pulse_hz * t));
        let shape = match self.kind {
            Kind::Disc => Shape::Disc { cx, cy, r },
            Kind::Ring => Shape::Ring {
                cx,
                cy,
                r,
                inner: r * 0.62,
            },
            Kind::Rect { aspect } => Shape::Rect {
                cx,
                cy,
                hw: r,
                hh: r * aspect,
            },
        };
        (shape, self.alpha)
    }
}

/// HSL (hue in degrees, saturation and lightness 0..1) to RGB 0..255.
fn hsl(hue: f32, sat: f32, light: f32) -> [f32; 3] {
    let h = hue.rem_euclid(360.0) / 60.0;
    let c = (1.0 - (2.0 * light - 1.0).abs()) * sat;
    let x = c * (1.0 - (h % 2.0 - 1.0).abs());
    let (r, g, b) = match h as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let m = light - c / 2.0;
    [(r + m) * 255.0, (g + m) * 255.0, (b + m) * 255.0]
}

fn rgb_to_yuv_arr(rgb: [f32; 3]) -> [u8; 3] {
    rgb_to_yuv(rgb[0], rgb[1], rgb[2])
}

fn yuv_f32(rgb: [f32; 3]) -> [f32; 3] {
    rgb_to_yuv_arr(rgb).map(f32::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scene(prompt: &str) -> Scene {
        let mut rng = Rng::from_prompt(prompt, 3);
        Scene::new(&mut rng, &Mood::from_prompt(prompt), 72, 128)
    }

    #[test]
    fn hsl_primaries() {
        assert_eq!(hsl(0.0, 1.0, 0.5), [255.0, 0.0, 0.0]);
        assert_eq!(hsl(120.0, 1.0, 0.5), [0.0, 255.0, 0.0]);
        assert_eq!(hsl(240.0, 1.0, 0.5), [0.0, 0.0, 255.0]);
    }

    #[test]
    fn the_scene_moves_over_time() {
        let s = scene("kites over a hill");
        let (mut a, mut b) = (YuvFrame::new(72, 128), YuvFrame::new(72, 128));
        s.paint(&mut a, 0.0);
        s.paint(&mut b, 1.0);
        assert_ne!(a.y(), b.y());
    }

    #[test]
    fn painting_is_repeatable() {
        let (mut a, mut b) = (YuvFrame::new(72, 128), YuvFrame::new(72, 128));
        scene("kites over a hill").paint(&mut a, 2.5);
        scene("kites over a hill").paint(&mut b, 2.5);
        assert_eq!(a, b);
        let mut c = YuvFrame::new(72, 128);
        scene("a submarine in jelly").paint(&mut c, 2.5);
        assert_ne!(a, c);
    }

    #[test]
    fn luma_stays_in_limited_range() {
        let mut f = YuvFrame::new(72, 128);
        scene("neon party").paint(&mut f, 4.0);
        assert!(f.y().iter().all(|&p| (16..=235).contains(&p)));
    }
}
