//! A cast member's reference frame: one picture of their verified
//! recording, at the clip's size and in RGB, for a model's image
//! conditioning.
//!
//! The picture is the first one the recording decodes to. The verification
//! challenge shows the member the digits to say and the head turns to make
//! before they record, so the recording opens on them facing the camera:
//! the first frame is the frontal face, with no face model needed to find it.

use crate::frame::{YuvFrame, yuv_to_rgb};
use crate::spec::ReferenceImage;

/// The first picture of `recording` (an MP4 with an H.264 track), scaled
/// with a cover fit and a centre crop to `width`×`height` (even sides), as
/// the reference image of `handle`. `Err` says why it cannot be read.
pub fn from_recording(
    handle: &str,
    recording: &[u8],
    width: u32,
    height: u32,
) -> Result<ReferenceImage, String> {
    let frame = super::decode::first_picture(recording, width, height)?;
    Ok(ReferenceImage {
        handle: handle.to_owned(),
        width,
        height,
        rgb: to_rgb(&frame),
    })
}

/// Row-major RGB of a frame (BT.709 limited range, as every picture in the
/// worker); each chroma sample colours its 2×2 block of pixels.
pub fn to_rgb(frame: &YuvFrame) -> Vec<u8> {
    let (w, h) = (frame.width() as usize, frame.height() as usize);
    let mut rgb = Vec::with_capacity(w * h * 3);
    for (row, luma) in frame.y().chunks_exact(w).enumerate() {
        let chroma = (row / 2) * (w / 2);
        let (u, v) = (&frame.u()[chroma..], &frame.v()[chroma..]);
        for (x, &y) in luma.iter().enumerate() {
            rgb.extend_from_slice(&yuv_to_rgb(y, u[x / 2], v[x / 2]));
        }
    }
    rgb
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;

    use openh264::formats::YUVSlices;

    use super::*;
    use crate::frame::{Soundtrack, rgb_to_yuv};
    use crate::model::{FrameSink, JobControl, ModelError, VideoModel};
    use crate::spec::{Aspect, GenerationSpec};

    const RED: [u8; 3] = [220, 30, 30];
    const GREEN: [u8; 3] = [30, 200, 60];
    const BLUE: [u8; 3] = [30, 40, 220];
    const WHITE: [u8; 3] = [235, 235, 235];

    /// Within `tolerance` of `want` in every channel.
    fn near(got: &[u8], want: [u8; 3], tolerance: u8) -> bool {
        got.iter()
            .zip(want)
            .all(|(&g, w)| g.abs_diff(w) <= tolerance)
    }

    /// Conversion and scaling round off a little.
    fn close(got: &[u8], want: [u8; 3]) -> bool {
        near(got, want, 6)
    }

    /// I420 planes of a picture whose columns are `colour(x)`.
    fn columns(w: usize, h: usize, colour: impl Fn(usize) -> [u8; 3]) -> [Vec<u8>; 3] {
        let yuv = |x: usize| {
            let [r, g, b] = colour(x).map(f32::from);
            rgb_to_yuv(r, g, b)
        };
        let y = (0..w * h).map(|i| yuv(i % w)[0]).collect();
        let u = (0..w * h / 4).map(|i| yuv(i % (w / 2) * 2)[1]).collect();
        let v = (0..w * h / 4).map(|i| yuv(i % (w / 2) * 2)[2]).collect();
        [y, u, v]
    }

    #[test]
    fn a_wide_picture_is_centre_cropped_to_a_square_in_true_colours() {
        // Four 16-column stripes; a square keeps the middle two.
        let stripes = [RED, GREEN, BLUE, WHITE];
        let [y, u, v] = columns(64, 32, |x| stripes[x / 16]);
        let source = YUVSlices::new((&y, &u, &v), (64, 32), (64, 32, 32));
        let frame = crate::media::decode::fit(&source, 16, 16);
        let rgb = to_rgb(&frame);
        assert_eq!(rgb.len(), 16 * 16 * 3);
        let px = |x: usize, y: usize| &rgb[(y * 16 + x) * 3..][..3];
        for row in [0, 7, 15] {
            for x in 0..7 {
                assert!(close(px(x, row), GREEN), "({x},{row}) {:?}", px(x, row));
            }
            for x in 9..16 {
                assert!(close(px(x, row), BLUE), "({x},{row}) {:?}", px(x, row));
            }
        }
        // Nothing of the cropped stripes survives.
        assert!(rgb.chunks(3).all(|p| !close(p, RED) && !close(p, WHITE)));
    }

    /// Paints every frame half red (left), half blue (right).
    struct Split;

    impl VideoModel for Split {
        fn name(&self) -> &str {
            "split"
        }

        fn generate(
            &self,
            spec: &GenerationSpec,
            sink: &mut dyn FrameSink,
            _: &JobControl<'_>,
        ) -> Result<Soundtrack, ModelError> {
            let (w, h) = (spec.width as usize, spec.height as usize);
            let [y, u, v] = columns(w, h, |x| if x < w / 2 { RED } else { BLUE });
            let mut frame = YuvFrame::new(spec.width, spec.height);
            let planes = frame.planes_mut();
            planes.0.copy_from_slice(&y);
            planes.1.copy_from_slice(&u);
            planes.2.copy_from_slice(&v);
            for _ in 0..spec.frame_count() {
                sink.push(&frame)?;
            }
            Ok(crate::backends::local::soundtrack(spec))
        }
    }

    #[test]
    fn a_recording_made_by_the_worker_gives_its_first_picture() {
        let spec = GenerationSpec {
            width: 320,
            height: 180,
            ..GenerationSpec::new("a split screen", 1_000, Aspect::Landscape, 1)
        };
        let clip =
            crate::render_clip(&Split, &spec, &|_| {}, &AtomicBool::new(false)).expect("render");
        let image = from_recording("ana", &clip.mp4, 64, 64).expect("a reference");
        assert_eq!(
            (image.handle.as_str(), image.width, image.height),
            ("ana", 64, 64)
        );
        // The middle 180 columns of 320 fill the square: red left, blue right.
        let px = |x: usize| &image.rgb[(32 * 64 + x) * 3..][..3];
        for x in [4, 20, 28] {
            assert!(near(px(x), RED, 20), "{x}: {:?}", px(x));
        }
        for x in [36, 44, 60] {
            assert!(near(px(x), BLUE, 20), "{x}: {:?}", px(x));
        }
    }

    #[test]
    fn what_does_not_decode_is_an_error() {
        for junk in [
            &b""[..],
            b"not a video at all",
            &[0, 0, 0, 8, b'f', b't', b'y', b'p'],
        ] {
            assert!(from_recording("ana", junk, 64, 64).is_err(), "{junk:?}");
        }
    }
}
