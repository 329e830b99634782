//! Keeps small RGB copies of a clip's frames as the model pushes them:
//! every frame for the motion rules, a few a second for the classifiers.

use serde::Deserialize;

use crate::frame::{YuvFrame, yuv_to_rgb};
use crate::model::{FrameSink, ModelError};

/// Bytes of samples one clip may hold; past it the check fails closed.
pub const MAX_SAMPLE_BYTES: usize = 64 << 20;
/// Largest side the policy may ask for.
const MAX_SIDE: u32 = 1024;

/// policy.json's `sampling` section: what the host keeps for the module.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sampling {
    /// Every frame, at this size (flash rules).
    #[serde(default = "motion_default")]
    pub motion: Size,
    /// A few frames a second, at this size (classifiers).
    #[serde(default = "stills_default")]
    pub stills: Stills,
}

/// A frame size in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Size {
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
}

/// How stills are taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stills {
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
    /// Stills per second of video (at most one per frame).
    pub per_second: u32,
}

fn motion_default() -> Size {
    Size {
        width: 32,
        height: 32,
    }
}

fn stills_default() -> Stills {
    Stills {
        width: 64,
        height: 64,
        per_second: 2,
    }
}

impl Default for Sampling {
    fn default() -> Self {
        Sampling {
            motion: motion_default(),
            stills: stills_default(),
        }
    }
}

impl Sampling {
    /// Sizes within 1..=1024 and at least one still a second, or why not.
    pub fn validate(&self) -> Result<(), String> {
        let sides = [
            self.motion.width,
            self.motion.height,
            self.stills.width,
            self.stills.height,
        ];
        if sides.iter().any(|s| !(1..=MAX_SIDE).contains(s)) {
            return Err(format!("sampling sizes must be within 1..={MAX_SIDE}"));
        }
        if self.stills.per_second == 0 {
            return Err("sampling.stills.per_second must be 1 or more".into());
        }
        Ok(())
    }
}

/// One kept frame: interleaved sRGB bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampledFrame {
    /// Position in the clip.
    pub index: u32,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width * height * 3` bytes, row-major RGB.
    pub rgb: Vec<u8>,
}

/// The frames one clip's check will see, bounded by [`MAX_SAMPLE_BYTES`].
#[derive(Debug, Clone)]
pub struct FrameSampler {
    sampling: Sampling,
    still_every: u32,
    seen: u32,
    bytes: usize,
    overflowed: bool,
    /// Every frame, small.
    pub motion: Vec<SampledFrame>,
    /// Every `fps / per_second`-th frame, larger.
    pub stills: Vec<SampledFrame>,
}

impl FrameSampler {
    /// A sampler for a clip at `fps` frames a second.
    pub fn new(sampling: Sampling, fps: u32) -> Self {
        FrameSampler {
            sampling,
            still_every: (fps / sampling.stills.per_second.max(1)).max(1),
            seen: 0,
            bytes: 0,
            overflowed: false,
            motion: Vec::new(),
            stills: Vec::new(),
        }
    }

    /// Frames observed so far.
    pub fn seen(&self) -> u32 {
        self.seen
    }

    /// True when frames were dropped for the memory bound (the check then fails).
    pub fn overflowed(&self) -> bool {
        self.overflowed
    }

    /// Keeps what the policy wants of the clip's next frame.
    pub fn observe(&mut self, frame: &YuvFrame) {
        let index = self.seen;
        self.seen += 1;
        let motion = self.sampling.motion;
        self.keep(index, frame, motion.width, motion.height, false);
        // Mid-interval, not frame 0: openings are often a fade from black.
        if index % self.still_every == self.still_every / 2 {
            let stills = self.sampling.stills;
            self.keep(index, frame, stills.width, stills.height, true);
        }
    }

    fn keep(&mut self, index: u32, frame: &YuvFrame, width: u32, height: u32, still: bool) {
        let size = width as usize * height as usize * 3;
        if self.overflowed || self.bytes + size > MAX_SAMPLE_BYTES {
            self.overflowed = true;
            return;
        }
        self.bytes += size;
        let sample = SampledFrame {
            index,
            width,
            height,
            rgb: downscale(frame, width, height),
        };
        if still {
            self.stills.push(sample);
        } else {
            self.motion.push(sample);
        }
    }
}

/// Area-averaged RGB at `width`×`height`. Each plane is read on a grid of
/// about 4×4 points per output pixel, not every pixel: a fifth of the work
/// for a 720×1280 frame, and the rules look at large areas.
pub fn downscale(frame: &YuvFrame, width: u32, height: u32) -> Vec<u8> {
    let (w, h) = (width as usize, height as usize);
    let average = |plane: &[u8], pw: usize, ph: usize| -> Vec<f32> {
        let step = ((pw / w).min(ph / h) / 4).max(1);
        let cols: Vec<usize> = (0..pw).map(|x| x * w / pw).collect();
        let mut sum = vec![0u32; w * h];
        let mut count = vec![0u32; w * h];
        for y in (0..ph).step_by(step) {
            let row = &plane[y * pw..(y + 1) * pw];
            let base = (y * h / ph) * w;
            for x in (0..pw).step_by(step) {
                sum[base + cols[x]] += row[x] as u32;
                count[base + cols[x]] += 1;
            }
        }
        // Upscaling (a plane smaller than the output) leaves bins empty:
        // those take the nearest pixel.
        for (i, (s, c)) in sum.iter_mut().zip(&mut count).enumerate() {
            if *c == 0 {
                *s = plane[(i / w) * ph / h * pw + (i % w) * pw / w] as u32;
                *c = 1;
            }
        }
        sum.iter()
            .zip(&count)
            .map(|(s, c)| *s as f32 / (*c).max(1) as f32)
            .collect()
    };
    let (fw, fh) = (frame.width() as usize, frame.height() as usize);
    let luma = average(frame.y(), fw, fh);
    let u = average(frame.u(), fw / 2, fh / 2);
    let v = average(frame.v(), fw / 2, fh / 2);
    let mut rgb = Vec::with_capacity(w * h * 3);
    for i in 0..w * h {
        let px = yuv_to_rgb(
            luma[i].round() as u8,
            u[i].round() as u8,
            v[i].round() as u8,
        );
        rgb.extend_from_slice(&px);
    }
    rgb
}

/// A [`FrameSink`] that hands each frame on, then lets a sampler copy it.
pub struct SamplingSink<'a> {
    inner: &'a mut dyn FrameSink,
    sampler: &'a mut FrameSampler,
}

impl<'a> SamplingSink<'a> {
    /// Wraps `inner`; frames it refuses are not sampled.
    pub fn new(inner: &'a mut dyn FrameSink, sampler: &'a mut FrameSampler) -> Self {
        SamplingSink { inner, sampler }
    }
}

impl FrameSink for SamplingSink<'_> {
    fn push(&mut self, frame: &YuvFrame) -> Result<(), ModelError> {
        self.inner.push(frame)?;
        self.sampler.observe(frame);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grey(width: u32, height: u32, luma: u8) -> YuvFrame {
        let mut frame = YuvFrame::new(width, height);
        let (y, u, v) = frame.planes_mut();
        y.fill(luma);
        u.fill(128);
        v.fill(128);
        frame
    }

    #[test]
    fn keeps_every_frame_small_and_some_frames_larger() {
        let mut sampler = FrameSampler::new(Sampling::default(), 24);
        for i in 0..48 {
            sampler.observe(&grey(128, 96, if i % 2 == 0 { 16 } else { 235 }));
        }
        assert_eq!(sampler.motion.len(), 48);
        assert_eq!(sampler.stills.len(), 4);
        assert_eq!(sampler.stills[0].index, 6);
        let (dark, light) = (&sampler.motion[0], &sampler.motion[1]);
        assert_eq!(
            (dark.width, dark.height, dark.rgb.len()),
            (32, 32, 32 * 32 * 3)
        );
        assert!(dark.rgb.iter().all(|b| *b <= 1), "limited-range black is 0");
        assert!(
            light.rgb.iter().all(|b| *b >= 254),
            "limited-range white is 255"
        );
        assert!(!sampler.overflowed());
    }

    #[test]
    fn small_frames_upscale_without_holes() {
        // 64x64 I420 has 32x32 chroma: a 64x64 still needs every chroma bin filled.
        let mut frame = YuvFrame::new(64, 64);
        let (y, u, v) = frame.planes_mut();
        y.fill(81);
        u.fill(90);
        v.fill(240);
        let rgb = downscale(&frame, 64, 64);
        assert!(rgb.chunks(3).all(|px| px[0] > 200 && px[1] < 60), "all red");
    }

    #[test]
    fn memory_stays_bounded() {
        let sampling = Sampling {
            motion: Size {
                width: 1024,
                height: 1024,
            },
            ..Sampling::default()
        };
        let mut sampler = FrameSampler::new(sampling, 24);
        let frame = grey(64, 64, 100);
        for _ in 0..40 {
            sampler.observe(&frame);
        }
        assert!(sampler.overflowed());
        assert!(sampler.motion.len() * 1024 * 1024 * 3 <= MAX_SAMPLE_BYTES);
    }

    #[test]
    fn sampling_sizes_are_checked() {
        let mut s = Sampling::default();
        assert!(s.validate().is_ok());
        s.stills.per_second = 0;
        assert!(s.validate().is_err());
        s = Sampling::default();
        s.motion.width = 5000;
        assert!(s.validate().is_err());
    }
}
