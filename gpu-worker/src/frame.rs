//! Picture and sound buffers that models hand to the encoders.

/// One picture in planar YUV 4:2:0 (I420), BT.709 limited range, no padding.
///
/// Models write this layout directly because it is what H.264 encodes: no
/// colour conversion sits between a model and the encoder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YuvFrame {
    width: usize,
    height: usize,
    y: Vec<u8>,
    u: Vec<u8>,
    v: Vec<u8>,
}

impl YuvFrame {
    /// A black frame of the given even size.
    pub fn new(width: u32, height: u32) -> Self {
        assert!(
            width.is_multiple_of(2) && height.is_multiple_of(2),
            "4:2:0 frames need even sides"
        );
        let (w, h) = (width as usize, height as usize);
        YuvFrame {
            width: w,
            height: h,
            y: vec![16; w * h],
            u: vec![128; w * h / 4],
            v: vec![128; w * h / 4],
        }
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width as u32
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height as u32
    }

    /// Luma plane, `width` bytes per row.
    pub fn y(&self) -> &[u8] {
        &self.y
    }

    /// Blue-difference chroma plane, `width / 2` bytes per row.
    pub fn u(&self) -> &[u8] {
        &self.u
    }

    /// Red-difference chroma plane, `width / 2` bytes per row.
    pub fn v(&self) -> &[u8] {
        &self.v
    }

    /// Copies `other`'s pixels into this frame without allocating.
    ///
    /// Panics if the sizes differ: callers reuse a frame of a clip's one size.
    pub fn copy_from(&mut self, other: &YuvFrame) {
        assert_eq!(
            (self.width, self.height),
            (other.width, other.height),
            "frames of different sizes"
        );
        self.y.copy_from_slice(&other.y);
        self.u.copy_from_slice(&other.u);
        self.v.copy_from_slice(&other.v);
    }

    /// All three planes, writable, for a renderer to fill in place.
    pub fn planes_mut(&mut self) -> (&mut [u8], &mut [u8], &mut [u8]) {
        (&mut self.y, &mut self.u, &mut self.v)
    }
}

/// A clip's soundtrack: interleaved stereo `f32` samples in -1.0..=1.0 at 48 kHz.
#[derive(Debug, Clone, PartialEq)]
pub struct Soundtrack {
    /// Interleaved samples, left then right.
    pub samples: Vec<f32>,
}

impl Soundtrack {
    /// Samples per channel.
    pub fn len_per_channel(&self) -> usize {
        self.samples.len() / usize::from(crate::spec::AUDIO_CHANNELS)
    }
}

/// Converts one BT.709 limited-range YUV sample to full-range sRGB-ish RGB.
pub(crate) fn yuv_to_rgb(y: u8, u: u8, v: u8) -> [u8; 3] {
    // Fixed-point BT.709 inverse matrix, scaled by 2^16.
    let c = (i32::from(y) - 16) * 76_309;
    let d = i32::from(u) - 128;
    let e = i32::from(v) - 128;
    let clamp = |x: i32| ((x + 32_768) >> 16).clamp(0, 255) as u8;
    [
        clamp(c + 117_489 * e),
        clamp(c - 13_975 * d - 34_925 * e),
        clamp(c + 138_438 * d),
    ]
}

/// Converts full-range RGB to one BT.709 limited-range YUV sample.
pub(crate) fn rgb_to_yuv(r: f32, g: f32, b: f32) -> [u8; 3] {
    let y = 0.2126 * r + 0.7152 * g + 0.0722 * b;
    let u = (b - y) / 1.8556;
    let v = (r - y) / 1.5748;
    let q = |x: f32| x.round().clamp(0.0, 255.0) as u8;
    [
        q(16.0 + 219.0 * y / 255.0),
        q(128.0 + 224.0 * u / 255.0),
        q(128.0 + 224.0 * v / 255.0),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_frame_is_black_and_sized_for_420() {
        let f = YuvFrame::new(8, 4);
        assert_eq!((f.y().len(), f.u().len(), f.v().len()), (32, 8, 8));
        assert!(f.y().iter().all(|&p| p == 16));
        assert_eq!(yuv_to_rgb(16, 128, 128), [0, 0, 0]);
    }

    #[test]
    fn colour_conversion_round_trips_closely() {
        for rgb in [
            [255.0, 0.0, 0.0],
            [20.0, 200.0, 90.0],
            [255.0, 255.0, 255.0],
        ] {
            let [y, u, v] = rgb_to_yuv(rgb[0], rgb[1], rgb[2]);
            let back = yuv_to_rgb(y, u, v);
            for (a, b) in rgb.iter().zip(back) {
                assert!((a - f32::from(b)).abs() <= 3.0, "{rgb:?} -> {back:?}");
            }
        }
    }

    #[test]
    #[should_panic(expected = "even sides")]
    fn odd_frames_are_refused() {
        let _ = YuvFrame::new(7, 4);
    }
}
