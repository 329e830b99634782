//! A cast member's reference image as the provider's `input_reference`: a
//! PNG at exactly the requested size, which the API requires.
//!
//! The clip is the provider's frame cover-fitted to the spec (a centre
//! crop; `media::decode`), so the reference goes where that crop will be:
//! scaled by the inverse factor into the middle of the provider's frame,
//! its edge pixels repeated outwards over what the crop removes (a square
//! clip's reference fills rows 280..1000 of a 720x1280 frame). What the
//! viewer sees of the first frame is then the reference itself, undistorted.

use crate::media::decode::resample_plane;
use crate::media::png;
use crate::model::ModelError;
use crate::spec::ReferenceImage;

/// `reference` placed into a `size` frame (see the module doc), as a PNG.
pub fn input_reference(
    reference: &ReferenceImage,
    size: (u32, u32),
) -> Result<Vec<u8>, ModelError> {
    let (w, h) = (reference.width as usize, reference.height as usize);
    if w == 0 || h == 0 || reference.rgb.len() != w * h * 3 {
        return Err(ModelError::Rejected(format!(
            "the reference image of @{} is not {w}x{h} RGB",
            reference.handle
        )));
    }
    let (pw, ph) = (size.0 as usize, size.1 as usize);
    // The decoder's cover fit shrinks the provider's frame by `scale`.
    let scale = (w as f64 / pw as f64).max(h as f64 / ph as f64);
    let offset = (
        -(pw as f64 - w as f64 / scale) / 2.0 * scale,
        -(ph as f64 - h as f64 / scale) / 2.0 * scale,
    );
    let planes: Vec<Vec<u8>> = (0..3)
        .map(|c| {
            let channel: Vec<u8> = reference.rgb.iter().skip(c).step_by(3).copied().collect();
            resample_plane(&channel, (w, h), (pw, ph), 1.0 / scale, offset)
        })
        .collect();
    let mut rgb = Vec::with_capacity(pw * ph * 3);
    for ((&r, &g), &b) in planes[0].iter().zip(&planes[1]).zip(&planes[2]) {
        rgb.extend_from_slice(&[r, g, b]);
    }
    Ok(png::encode_rgb(size.0, size.1, &rgb))
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    /// The RGB pixels of a PNG this module wrote (Sub-filtered, one IDAT).
    fn pixels(png: &[u8]) -> (u32, u32, Vec<u8>) {
        let be = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap());
        let (w, h) = (be(16), be(20));
        let idat_len = be(33) as usize;
        assert_eq!(&png[37..41], b"IDAT");
        let mut raw = Vec::new();
        flate2::read::ZlibDecoder::new(&png[41..41 + idat_len])
            .read_to_end(&mut raw)
            .unwrap();
        let row = w as usize * 3;
        let mut rgb: Vec<u8> = Vec::new();
        for line in raw.chunks_exact(row + 1) {
            let start = rgb.len();
            for (i, &b) in line[1..].iter().enumerate() {
                let left = if i >= 3 { rgb[start + i - 3] } else { 0 };
                rgb.push(b.wrapping_add(left));
            }
        }
        (w, h, rgb)
    }

    fn image(w: u32, h: u32, colour: impl Fn(u32, u32) -> [u8; 3]) -> ReferenceImage {
        let rgb = (0..h)
            .flat_map(|y| (0..w).map(move |x| (x, y)))
            .flat_map(|(x, y)| colour(x, y))
            .collect();
        ReferenceImage {
            handle: "ana".into(),
            width: w,
            height: h,
            rgb,
        }
    }

    #[test]
    fn a_square_reference_sits_where_the_crop_will_be_with_its_edges_repeated() {
        const TOP: [u8; 3] = [0, 255, 0];
        const RED: [u8; 3] = [255, 0, 0];
        const BLUE: [u8; 3] = [0, 0, 255];
        // 36x36 into a 36x64 portrait frame: rows 14..50 are the reference.
        let reference = image(36, 36, |_, y| match y {
            0 => TOP,
            1..18 => RED,
            _ => BLUE,
        });
        let (w, h, rgb) = pixels(&input_reference(&reference, (36, 64)).unwrap());
        assert_eq!((w, h), (36, 64));
        let row = |y: usize| &rgb[y * 36 * 3..(y + 1) * 36 * 3];
        let all = |y: usize, c: [u8; 3]| row(y).chunks(3).all(|p| p == c);
        for y in 0..=14 {
            assert!(all(y, TOP), "row {y}: the top edge repeats upwards");
        }
        for y in 15..32 {
            assert!(all(y, RED), "row {y}");
        }
        for y in 32..64 {
            assert!(all(y, BLUE), "row {y}: the bottom edge repeats downwards");
        }
    }

    #[test]
    fn a_reference_at_half_the_provider_size_is_doubled() {
        let reference = image(18, 32, |x, _| if x < 9 { [200, 0, 0] } else { [0, 0, 200] });
        let (w, h, rgb) = pixels(&input_reference(&reference, (36, 64)).unwrap());
        assert_eq!((w, h), (36, 64));
        for y in [0usize, 31, 63] {
            let px = |x: usize| &rgb[(y * 36 + x) * 3..][..3];
            assert_eq!(px(0), [200, 0, 0]);
            assert_eq!(px(16), [200, 0, 0]);
            assert_eq!(px(19), [0, 0, 200]);
            assert_eq!(px(35), [0, 0, 200]);
        }
    }

    #[test]
    fn a_buffer_of_the_wrong_size_is_refused() {
        let mut reference = image(4, 4, |_, _| [1, 2, 3]);
        reference.rgb.pop();
        assert!(matches!(
            input_reference(&reference, (36, 64)),
            Err(ModelError::Rejected(_))
        ));
    }
}
