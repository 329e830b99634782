//! A half-size JPEG poster frame, encoded straight from the YUV planes.

use jpeg_encoder::{Encoder, ImageBuffer, JpegColorType, rgb_to_ycbcr};

use super::MediaError;
use crate::frame::{YuvFrame, yuv_to_rgb};

/// Encodes `frame` at half its size (360×640 for a 9:16 clip) as a JPEG.
pub fn jpeg_thumbnail(frame: &YuvFrame, quality: u8) -> Result<Vec<u8>, MediaError> {
    let mut out = Vec::new();
    Encoder::new(&mut out, quality)
        .encode_image(HalfSize(frame))
        .map_err(|e| MediaError::Thumbnail(e.to_string()))?;
    Ok(out)
}

/// Feeds the encoder rows of a 2×2-averaged frame; chroma is already that size.
struct HalfSize<'a>(&'a YuvFrame);

impl ImageBuffer for HalfSize<'_> {
    fn get_jpeg_color_type(&self) -> JpegColorType {
        JpegColorType::Ycbcr
    }

    fn width(&self) -> u16 {
        (self.0.width() / 2) as u16
    }

    fn height(&self) -> u16 {
        (self.0.height() / 2) as u16
    }

    fn fill_buffers(&self, row: u16, buffers: &mut [Vec<u8>; 4]) {
        let w = self.0.width() as usize;
        let cw = w / 2;
        let row = usize::from(row);
        let (y0, y1) = (&self.0.y()[2 * row * w..], &self.0.y()[(2 * row + 1) * w..]);
        let (u, v) = (&self.0.u()[row * cw..], &self.0.v()[row * cw..]);
        for x in 0..cw {
            let sum = u32::from(y0[2 * x])
                + u32::from(y0[2 * x + 1])
                + u32::from(y1[2 * x])
                + u32::from(y1[2 * x + 1]);
            // Video is BT.709 limited range, JPEG is BT.601 full range: go via RGB.
            let [r, g, b] = yuv_to_rgb(((sum + 2) / 4) as u8, u[x], v[x]);
            let (yy, cb, cr) = rgb_to_ycbcr(r, g, b);
            buffers[0].push(yy);
            buffers[1].push(cb);
            buffers[2].push(cr);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn produces_a_half_size_jpeg() {
        let jpeg = jpeg_thumbnail(&YuvFrame::new(64, 32), 80).unwrap();
        assert_eq!(&jpeg[..2], &[0xFF, 0xD8], "SOI marker");
        assert_eq!(&jpeg[jpeg.len() - 2..], &[0xFF, 0xD9], "EOI marker");
        // SOF0 carries height then width.
        let sof = jpeg.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        assert_eq!(&jpeg[sof + 5..sof + 9], &[0, 16, 0, 32]);
    }
}
