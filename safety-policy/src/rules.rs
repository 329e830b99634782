//! The decisions, over numbers the graphs computed.

/// Direction of a frame-to-frame transition that counts toward a flash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Too small or too local to count.
    None,
    /// A large area got brighter.
    Rise,
    /// A large area got darker.
    Fall,
}

/// Classifies each transition from the graph's `rise` / `fall` outputs
/// (the fraction of the frame whose luminance rose / fell enough).
pub fn transitions(rise: &[f32], fall: &[f32], min_area: f32) -> Vec<Change> {
    rise.iter()
        .zip(fall)
        .map(|(&r, &f)| match (r >= min_area, f >= min_area) {
            (false, false) => Change::None,
            // Both halves of the frame moving at once: the larger area decides.
            (true, true) if f > r => Change::Fall,
            (true, _) => Change::Rise,
            (false, true) => Change::Fall,
        })
        .collect()
}

/// Most flashes in any one second. A flash is a pair of opposing changes
/// (WCAG 2.3.1), so an alternating run of n changes holds n / 2 flashes;
/// a slow ramp in one direction is one change however many frames it spans.
pub fn max_flashes_per_second(changes: &[Change], fps: u32) -> u32 {
    if changes.is_empty() {
        return 0;
    }
    let window = (fps.max(1) as usize).min(changes.len());
    (0..=changes.len() - window)
        .map(|start| flashes(&changes[start..start + window]))
        .max()
        .unwrap_or(0)
}

fn flashes(changes: &[Change]) -> u32 {
    let mut runs = 0u32;
    let mut last = Change::None;
    for &c in changes.iter().filter(|c| **c != Change::None) {
        if c != last {
            runs += 1;
            last = c;
        }
    }
    runs / 2
}

/// Resamples interleaved RGB8 frames to `width`×`height` (nearest pixel
/// centre) into one N×3×H×W tensor, normalised as `(v / 255 - mean) / std`.
pub fn to_nchw(
    frames: &[(u32, u32, &[u8])],
    width: u32,
    height: u32,
    mean: [f32; 3],
    std: [f32; 3],
) -> Result<Vec<f32>, String> {
    let (w, h) = (width as usize, height as usize);
    let mut out = vec![0f32; frames.len() * 3 * w * h];
    for (n, &(fw, fh, rgb)) in frames.iter().enumerate() {
        let (fw, fh) = (fw as usize, fh as usize);
        if fw == 0 || fh == 0 || rgb.len() != fw * fh * 3 {
            return Err(format!("frame {n} is {fw}x{fh} with {} bytes", rgb.len()));
        }
        let image = &mut out[n * 3 * w * h..(n + 1) * 3 * w * h];
        for y in 0..h {
            let sy = (y * 2 + 1) * fh / (h * 2);
            for x in 0..w {
                let sx = (x * 2 + 1) * fw / (w * 2);
                let px = &rgb[(sy * fw + sx) * 3..][..3];
                for c in 0..3 {
                    image[c * w * h + y * w + x] = (px[c] as f32 / 255.0 - mean[c]) / std[c];
                }
            }
        }
    }
    Ok(out)
}

/// The highest score of each label over all rows of an N×labels output.
pub fn worst_scores(scores: &[f32], labels: usize) -> Result<Vec<f32>, String> {
    if labels == 0 || !scores.len().is_multiple_of(labels) {
        return Err(format!(
            "{} scores do not split into rows of {labels} labels",
            scores.len()
        ));
    }
    let mut worst = vec![f32::NEG_INFINITY; labels];
    for row in scores.chunks(labels) {
        for (w, s) in worst.iter_mut().zip(row) {
            *w = w.max(*s);
        }
    }
    Ok(worst)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_strobe_is_many_flashes_and_a_fade_is_none() {
        // Black/white every frame at 24 fps: 24 changes a second, 12 flashes.
        let strobe: Vec<f32> = (0..47).map(|i| (i % 2) as f32).collect();
        let fall: Vec<f32> = strobe.iter().map(|r| 1.0 - r).collect();
        let changes = transitions(&strobe, &fall, 0.25);
        assert_eq!(max_flashes_per_second(&changes, 24), 12);
        // A fade: every frame a little brighter over the whole frame, one direction.
        let fade = transitions(&[1.0; 47], &[0.0; 47], 0.25);
        assert_eq!(max_flashes_per_second(&fade, 24), 0);
        // Three blinks a second is allowed by WCAG and counts as three.
        let mut blink = vec![Change::None; 48];
        for i in 0..6 {
            blink[i * 4] = if i % 2 == 0 {
                Change::Rise
            } else {
                Change::Fall
            };
        }
        assert_eq!(max_flashes_per_second(&blink, 24), 3);
    }

    #[test]
    fn small_areas_do_not_count() {
        let changes = transitions(&[0.1, 0.0, 0.1], &[0.0, 0.1, 0.0], 0.25);
        assert!(changes.iter().all(|c| *c == Change::None));
        assert_eq!(max_flashes_per_second(&[], 24), 0);
    }

    #[test]
    fn frames_become_normalised_planes() {
        // 2x1 frame: red then blue, resampled to 1x1 and 2x1.
        let rgb = [255, 0, 0, 0, 0, 255];
        let t = to_nchw(&[(2, 1, &rgb)], 2, 1, [0.0; 3], [1.0; 3]).unwrap();
        assert_eq!(t, vec![1.0, 0.0, 0.0, 0.0, 0.0, 1.0]);
        let t = to_nchw(&[(2, 1, &rgb)], 1, 1, [0.5; 3], [0.5; 3]).unwrap();
        assert_eq!(t.len(), 3);
        assert!(to_nchw(&[(2, 2, &rgb)], 1, 1, [0.0; 3], [1.0; 3]).is_err());
    }

    #[test]
    fn worst_score_per_label() {
        let w = worst_scores(&[0.1, 0.9, 0.7, 0.2], 2).unwrap();
        assert_eq!(w, vec![0.7, 0.9]);
        assert!(worst_scores(&[0.1, 0.2, 0.3], 2).is_err());
    }
}
