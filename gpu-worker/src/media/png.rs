//! A minimal PNG writer for 8-bit RGB pictures: what a provider's image
//! conditioning takes (a cameo's reference frame). Lossless, so the picture
//! the model sees is the one the worker made.

use std::io::Write;

use flate2::Compression;
use flate2::write::ZlibEncoder;

const SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];
/// PNG filter type 1: each byte minus the same channel of the pixel to its left.
const FILTER_SUB: u8 = 1;

/// Encodes a row-major RGB picture (three bytes a pixel) as a PNG.
///
/// Panics if `rgb` is not `width * height * 3` bytes or a side is zero:
/// callers build the buffer at the size they pass.
pub fn encode_rgb(width: u32, height: u32, rgb: &[u8]) -> Vec<u8> {
    let row = width as usize * 3;
    assert!(width > 0 && height > 0, "a PNG needs pixels");
    assert_eq!(rgb.len(), row * height as usize, "RGB buffer size");
    let mut header = Vec::with_capacity(13);
    header.extend_from_slice(&width.to_be_bytes());
    header.extend_from_slice(&height.to_be_bytes());
    // 8 bits a sample, colour type 2 (RGB), deflate, adaptive filters, no interlace.
    header.extend_from_slice(&[8, 2, 0, 0, 0]);

    // Sub filtering makes smooth pictures (faces, skies) compress well;
    // the fastest level keeps a 720x1280 frame to tens of milliseconds.
    let mut zlib = ZlibEncoder::new(Vec::with_capacity(rgb.len() / 2), Compression::fast());
    let mut filtered = vec![0u8; row + 1];
    filtered[0] = FILTER_SUB;
    for line in rgb.chunks_exact(row) {
        filtered[1..4].copy_from_slice(&line[..3]);
        for i in 3..row {
            filtered[i + 1] = line[i].wrapping_sub(line[i - 3]);
        }
        zlib.write_all(&filtered).expect("writing to memory");
    }
    let data = zlib.finish().expect("writing to memory");

    let mut png = Vec::with_capacity(data.len() + 64);
    png.extend_from_slice(&SIGNATURE);
    chunk(&mut png, b"IHDR", &header);
    chunk(&mut png, b"IDAT", &data);
    chunk(&mut png, b"IEND", &[]);
    png
}

/// Appends one chunk: length, type, data, CRC-32 of type and data.
fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    let length = u32::try_from(data.len()).expect("a chunk under 4 GiB");
    out.extend_from_slice(&length.to_be_bytes());
    let mut crc = crc32fast::Hasher::new();
    crc.update(kind);
    crc.update(data);
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    out.extend_from_slice(&crc.finalize().to_be_bytes());
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    /// Splits a PNG into chunks, checking each CRC.
    fn chunks(png: &[u8]) -> Vec<([u8; 4], &[u8])> {
        assert_eq!(png[..8], SIGNATURE);
        let mut out = Vec::new();
        let mut at = 8;
        while at < png.len() {
            let len = u32::from_be_bytes(png[at..at + 4].try_into().unwrap()) as usize;
            let kind: [u8; 4] = png[at + 4..at + 8].try_into().unwrap();
            let data = &png[at + 8..at + 8 + len];
            let stored = u32::from_be_bytes(png[at + 8 + len..at + 12 + len].try_into().unwrap());
            assert_eq!(stored, crc32fast::hash(&png[at + 4..at + 8 + len]), "CRC");
            out.push((kind, data));
            at += 12 + len;
        }
        out
    }

    #[test]
    fn a_picture_round_trips_through_inflate_and_unfiltering() {
        let (w, h) = (5u32, 3u32);
        let rgb: Vec<u8> = (0..w * h * 3).map(|i| (i * 37 % 256) as u8).collect();
        let png = encode_rgb(w, h, &rgb);
        let parts = chunks(&png);
        let kinds: Vec<&[u8; 4]> = parts.iter().map(|(k, _)| k).collect();
        assert_eq!(kinds, [b"IHDR", b"IDAT", b"IEND"]);
        assert_eq!(parts[0].1, [0, 0, 0, 5, 0, 0, 0, 3, 8, 2, 0, 0, 0]);

        let mut raw = Vec::new();
        flate2::read::ZlibDecoder::new(parts[1].1)
            .read_to_end(&mut raw)
            .unwrap();
        let row = w as usize * 3;
        assert_eq!(raw.len(), (row + 1) * h as usize);
        let mut back = Vec::new();
        for line in raw.chunks_exact(row + 1) {
            assert_eq!(line[0], FILTER_SUB);
            let start = back.len();
            for (i, &b) in line[1..].iter().enumerate() {
                let left = if i >= 3 { back[start + i - 3] } else { 0u8 };
                back.push(b.wrapping_add(left));
            }
        }
        assert_eq!(back, rgb);
    }

    #[test]
    fn a_flat_frame_compresses() {
        let rgb = [200u8, 30, 40].repeat(720 * 1280);
        let png = encode_rgb(720, 1280, &rgb);
        assert!(png.len() < rgb.len() / 50, "{} bytes", png.len());
    }
}
