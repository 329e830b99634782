//! The decoded video as the clip's frames: nearest model frame in time,
//! bilinear cover-crop in space, RGB to BT.709 4:2:0. And the way back for
//! a cameo's reference picture: clip-sized RGB to the model's input pixels.

use crate::frame::{YuvFrame, rgb_to_yuv};
use crate::spec::ReferenceImage;

/// Decoded pixels [3, F, H, W] in about -1..1 (the VAE's output, batch dropped).
pub struct Video<'a> {
    /// Frames F.
    pub frames: usize,
    /// Height H.
    pub height: usize,
    /// Width W.
    pub width: usize,
    /// Channel-major values.
    pub values: &'a [f32],
}

/// One axis of the resize: for each output index, two source indices and the second's weight.
fn taps(out: usize, src: usize, scale: f32) -> Vec<(usize, usize, f32)> {
    // Cover-crop: the scaled source overhangs the output equally on both sides.
    let offset = (src as f32 - out as f32 / scale) / 2.0;
    (0..out)
        .map(|i| {
            let s = ((i as f32 + 0.5) / scale + offset - 0.5).clamp(0.0, (src - 1) as f32);
            let lo = s.floor() as usize;
            (lo, (lo + 1).min(src - 1), s - lo as f32)
        })
        .collect()
}

/// Writes model frame `index` into `frame`, resized to cover it.
///
/// Separable bilinear: each source row is resampled to the output width once,
/// then output rows blend two of those. `scratch` is reused between frames.
pub fn render(video: &Video<'_>, index: usize, frame: &mut YuvFrame, scratch: &mut Vec<f32>) {
    let (w, h) = (frame.width() as usize, frame.height() as usize);
    let scale = (w as f32 / video.width as f32).max(h as f32 / video.height as f32);
    let xs = taps(w, video.width, scale);
    let ys = taps(h, video.height, scale);
    let plane = video.frames * video.height * video.width;
    let base = index * video.height * video.width;
    // Layout: three planes of `rows` (source rows at output width), then three
    // planes of output pixels in 0..=255.
    let rows = video.height * w;
    scratch.clear();
    scratch.resize(3 * rows + 3 * w * h, 0.0);
    let (wide, rgb) = scratch.split_at_mut(3 * rows);
    for c in 0..3 {
        let channel = &video.values[c * plane + base..][..video.height * video.width];
        for (src, out) in channel
            .chunks_exact(video.width)
            .zip(wide[c * rows..].chunks_exact_mut(w))
        {
            for (o, &(x0, x1, wx)) in out.iter_mut().zip(&xs) {
                *o = src[x0] + (src[x1] - src[x0]) * wx;
            }
        }
        let wide = &wide[c * rows..(c + 1) * rows];
        for (out, &(y0, y1, wy)) in rgb[c * w * h..].chunks_exact_mut(w).zip(&ys) {
            let (top, bottom) = (&wide[y0 * w..][..w], &wide[y1 * w..][..w]);
            for ((o, t), b) in out.iter_mut().zip(top).zip(bottom) {
                // diffusers' postprocess: [-1, 1] -> [0, 1], clamped.
                let v = t + (b - t) * wy;
                *o = (v / 2.0 + 0.5).clamp(0.0, 1.0) * 255.0;
            }
        }
    }
    let (r, rest) = rgb.split_at(w * h);
    let (g, b) = rest.split_at(w * h);
    let (yp, up, vp) = frame.planes_mut();
    for (i, y) in yp.iter_mut().enumerate() {
        *y = rgb_to_yuv(r[i], g[i], b[i])[0];
    }
    let cw = w / 2;
    for cy in 0..h / 2 {
        for cx in 0..cw {
            let p = 2 * cy * w + 2 * cx;
            let avg = |ch: &[f32]| (ch[p] + ch[p + 1] + ch[p + w] + ch[p + w + 1]) / 4.0;
            let [_, u, v] = rgb_to_yuv(avg(r), avg(g), avg(b));
            up[cy * cw + cx] = u;
            vp[cy * cw + cx] = v;
        }
    }
}

/// One axis of [`reference_pixels`]: for each model pixel, reference pixels and weights.
///
/// The model pixel's centre goes through the inverse of [`taps`]' cover fit
/// (`scale` clip pixels per model pixel, centred) and the clip-to-reference
/// scale, and is filtered with a triangle as wide as its footprint (at least
/// one reference pixel), so shrinking averages rather than aliases. Reads
/// past the edge repeat it: the bands the cover crop cuts off get the
/// reference's border. Equal sizes give each pixel itself, exactly.
fn inverse_taps(model: usize, clip: usize, reference: usize, scale: f64) -> Vec<Vec<(usize, f32)>> {
    let offset = (model as f64 - clip as f64 / scale) / 2.0;
    let to_ref = reference as f64 / clip as f64;
    let support = (scale * to_ref).max(1.0);
    (0..model)
        .map(|m| {
            let at_clip = (m as f64 + 0.5 - offset) * scale - 0.5;
            let centre = (at_clip + 0.5) * to_ref - 0.5;
            let (lo, hi) = ((centre - support).floor(), (centre + support).ceil());
            let mut taps: Vec<(usize, f64)> = (lo as i64..=hi as i64)
                .map(|k| (k, 1.0 - (k as f64 - centre).abs() / support))
                .filter(|&(_, w)| w > 0.0)
                .map(|(k, w)| (k.clamp(0, reference as i64 - 1) as usize, w))
                .collect();
            let total: f64 = taps.iter().map(|t| t.1).sum();
            taps.iter_mut().for_each(|t| t.1 /= total);
            taps.into_iter().map(|(k, w)| (k, w as f32)).collect()
        })
        .collect()
}

/// A cameo's reference picture as the model's first frame: `[3, H, W]` in
/// -1..1 at the model's `model` (width, height), placed where the cover crop
/// to the clip's `clip` size will show it, so the clip's first frame is the
/// reference undistorted. Pixels are diffusers' preprocess, `v / 255 * 2 - 1`.
pub fn reference_pixels(
    reference: &ReferenceImage,
    clip: (usize, usize),
    model: (usize, usize),
) -> Result<Vec<f32>, String> {
    let (rw, rh) = (reference.width as usize, reference.height as usize);
    if rw == 0 || rh == 0 || reference.rgb.len() != rw * rh * 3 {
        return Err(format!(
            "the reference image of @{} is not {rw}x{rh} RGB",
            reference.handle
        ));
    }
    let ((cw, ch), (mw, mh)) = (clip, model);
    let scale = (cw as f64 / mw as f64).max(ch as f64 / mh as f64);
    let xs = inverse_taps(mw, cw, rw, scale);
    let ys = inverse_taps(mh, ch, rh, scale);
    let mut out = vec![0.0f32; 3 * mw * mh];
    let mut row = vec![0.0f32; 3 * mw];
    for (y, y_taps) in ys.iter().enumerate() {
        row.iter_mut().for_each(|v| *v = 0.0);
        for &(ry, wy) in y_taps {
            let line = &reference.rgb[ry * rw * 3..][..rw * 3];
            for (x, x_taps) in xs.iter().enumerate() {
                for c in 0..3 {
                    let v: f32 = x_taps
                        .iter()
                        .map(|&(rx, wx)| wx * f32::from(line[rx * 3 + c]))
                        .sum();
                    row[c * mw + x] += wy * v;
                }
            }
        }
        for c in 0..3 {
            for x in 0..mw {
                out[(c * mh + y) * mw + x] = row[c * mw + x] / 255.0 * 2.0 - 1.0;
            }
        }
    }
    Ok(out)
}

/// The model frame shown at clip frame `i`: nearest in time, clamped to the last.
pub fn source_index(i: u32, fps: u32, model_rate: f32, model_frames: usize) -> usize {
    let t = i as f32 / fps as f32;
    ((t * model_rate).round() as usize).min(model_frames.saturating_sub(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_colour_survives_the_resize() {
        // One 2x4 frame of mid grey (0 in the VAE's range) and one of white.
        let mut values = vec![0.0; 3 * 2 * 2 * 4];
        for c in 0..3 {
            for v in &mut values[c * 16 + 8..c * 16 + 16] {
                *v = 1.0;
            }
        }
        let video = Video {
            frames: 2,
            height: 2,
            width: 4,
            values: &values,
        };
        let mut frame = YuvFrame::new(6, 10);
        let mut rgb = Vec::new();
        render(&video, 0, &mut frame, &mut rgb);
        assert!(
            frame
                .y()
                .iter()
                .all(|&y| y == rgb_to_yuv(127.5, 127.5, 127.5)[0])
        );
        render(&video, 1, &mut frame, &mut rgb);
        assert!(frame.y().iter().all(|&y| y == 235));
        assert!(frame.u().iter().all(|&u| u == 128));
    }

    #[test]
    fn a_wide_source_is_cropped_at_the_sides_and_blended_between() {
        // One 2x4 frame: columns -1, -1, 1, 1 (black, black, white, white).
        let row = [-1.0, -1.0, 1.0, 1.0];
        let values: Vec<f32> = (0..3 * 2).flat_map(|_| row).collect();
        let video = Video {
            frames: 1,
            height: 2,
            width: 4,
            values: &values,
        };
        // Square output: the middle 2 source columns cover it.
        let mut frame = YuvFrame::new(8, 8);
        let mut scratch = Vec::new();
        render(&video, 0, &mut frame, &mut scratch);
        let first_row = &frame.y()[..8];
        assert_eq!((first_row[0], first_row[7]), (16, 235));
        assert!(first_row.windows(2).all(|p| p[0] <= p[1]), "{first_row:?}");
        assert!(first_row[3] > 16 && first_row[4] < 235, "{first_row:?}");
    }

    fn picture(w: u32, h: u32, colour: impl Fn(u32, u32) -> [u8; 3]) -> ReferenceImage {
        ReferenceImage {
            handle: "ana".into(),
            width: w,
            height: h,
            rgb: (0..h)
                .flat_map(|y| (0..w).map(move |x| (x, y)))
                .flat_map(|(x, y)| colour(x, y))
                .collect(),
        }
    }

    #[test]
    fn a_reference_at_the_model_size_is_its_own_pixels() {
        let p = picture(8, 6, |x, y| [(x * 30) as u8, (y * 40) as u8, 255]);
        let px = reference_pixels(&p, (8, 6), (8, 6)).unwrap();
        for (i, &v) in p.rgb.iter().enumerate() {
            let (pixel, c) = (i / 3, i % 3);
            assert_eq!(px[c * 48 + pixel], f32::from(v) / 255.0 * 2.0 - 1.0);
        }
        assert!(reference_pixels(&picture(8, 5, |_, _| [0; 3]), (8, 6), (8, 6)).is_ok());
        let bad = ReferenceImage {
            rgb: vec![0; 10],
            ..picture(8, 6, |_, _| [0; 3])
        };
        assert!(reference_pixels(&bad, (8, 6), (8, 6)).is_err());
    }

    #[test]
    fn a_wide_clip_reference_fills_the_middle_of_a_square_model_frame() {
        // Clip 16x8, model 8x8: the crop shows model rows 2..6 at full width.
        // Left half black, right half white.
        let p = picture(16, 8, |x, _| if x < 8 { [0; 3] } else { [255; 3] });
        let px = reference_pixels(&p, (16, 8), (8, 8)).unwrap();
        for y in 0..8 {
            let row = &px[y * 8..][..8];
            assert!(row[..3].iter().all(|&v| v == -1.0), "{row:?}");
            assert!(row[5..].iter().all(|&v| v == 1.0), "{row:?}");
            assert!(row.windows(2).all(|p| p[0] <= p[1]));
        }
        // Round trip: the clip's frame rendered from these pixels is the reference.
        let video = Video {
            frames: 1,
            height: 8,
            width: 8,
            values: &px,
        };
        let mut frame = YuvFrame::new(16, 8);
        render(&video, 0, &mut frame, &mut Vec::new());
        assert!(frame.y()[..4].iter().all(|&y| y == 16), "{:?}", frame.y());
        assert!(
            frame.y()[12..16].iter().all(|&y| y == 235),
            "{:?}",
            frame.y()
        );
    }

    #[test]
    fn time_maps_to_the_nearest_model_frame() {
        assert_eq!(source_index(0, 24, 25.0, 5), 0);
        assert_eq!(source_index(24, 24, 25.0, 26), 25);
        assert_eq!(source_index(240, 24, 25.0, 9), 8);
    }
}
