//! H.264 in an MP4 → frames at a spec's size: OpenH264 decoding, cover-fit
//! scaling with a centre crop, and (for a provider's clip) resampling to the
//! spec's rate; or just the first picture (a cameo's reference frame).

use openh264::OpenH264API;
use openh264::decoder::{Decoder, DecoderConfig, Flush};
use openh264::formats::YUVSource;

use super::mp4::{self, AudioTrack, Movie, Mp4Error, VideoTrack};
use crate::frame::YuvFrame;
use crate::model::{FrameSink, JobControl, ModelError};
use crate::spec::GenerationSpec;

/// Largest coded picture decoded (a 4K frame); bigger ones are refused.
const MAX_SOURCE_PIXELS: u64 = 3840 * 2160;

/// Decodes `file` and pushes exactly `spec.frame_count()` frames into `sink`.
/// Returns the file's sound track, as the reader found it.
pub fn push_frames(
    file: &[u8],
    spec: &GenerationSpec,
    sink: &mut dyn FrameSink,
    control: &JobControl<'_>,
) -> Result<Option<Result<AudioTrack, Mp4Error>>, ModelError> {
    let invalid = |msg: String| ModelError::InvalidOutput(format!("provider video: {msg}"));
    let Movie { video, audio } = mp4::read(file).map_err(|e| invalid(e.to_string()))?;
    check_size(&video).map_err(invalid)?;
    // Frames come out in display order; a clip without B-frames has the same
    // times in either order, and with them the sorted decode times are the
    // display times shifted by a constant, which does not move any frame.
    let times = video.times.clone();
    let mut decoder = decoder().map_err(|e| ModelError::Backend(e.into()))?;
    let mut out = Output::new(spec, times, video.duration);
    for (i, range) in video.samples.iter().enumerate() {
        control.checkpoint()?;
        let packet = mp4::annex_b(&video, &file[range.clone()], i == 0)
            .map_err(|e| invalid(e.to_string()))?;
        let decoded = decoder
            .decode(&packet)
            .map_err(|e| invalid(format!("H.264 sample {i}: {e}")))?;
        if let Some(picture) = decoded {
            out.take(&picture, sink)?;
        }
    }
    let rest = decoder
        .flush_remaining()
        .map_err(|e| invalid(format!("H.264 flush: {e}")))?;
    for picture in rest {
        out.take(&picture, sink)?;
    }
    out.finish(sink)
        .map_err(|e| match e {
            None => invalid("no picture decoded".into()),
            Some(e) => e,
        })
        .map(|()| audio)
}

/// The first picture `file`'s video track decodes to, scaled to
/// `width`×`height` (even sides) with a cover fit and a centre crop. A
/// sample that does not decode is skipped: a later one may.
pub fn first_picture(file: &[u8], width: u32, height: u32) -> Result<YuvFrame, String> {
    let Movie { video, .. } = mp4::read(file).map_err(|e| e.to_string())?;
    check_size(&video)?;
    let mut decoder = decoder()?;
    let mut last_error = None;
    for (i, range) in video.samples.iter().enumerate() {
        let packet =
            mp4::annex_b(&video, &file[range.clone()], i == 0).map_err(|e| e.to_string())?;
        match decoder.decode(&packet) {
            Ok(Some(picture)) => return Ok(fit(&picture, width, height)),
            Ok(None) => {}
            Err(e) => last_error = Some(format!("H.264 sample {i}: {e}")),
        }
    }
    let rest = decoder
        .flush_remaining()
        .map_err(|e| format!("H.264 flush: {e}"))?;
    match rest.first() {
        Some(picture) => Ok(fit(picture, width, height)),
        None => Err(last_error.unwrap_or_else(|| "no picture decoded".into())),
    }
}

/// `picture` scaled to `width`×`height`, cover fit, centre crop.
pub(crate) fn fit(picture: &impl YUVSource, width: u32, height: u32) -> YuvFrame {
    let mut frame = YuvFrame::new(width, height);
    Scaler::new(picture.dimensions(), (width, height)).scale(picture, &mut frame);
    frame
}

/// Refuses pictures larger than the worker decodes.
fn check_size(video: &VideoTrack) -> Result<(), String> {
    if u64::from(video.width) * u64::from(video.height) > MAX_SOURCE_PIXELS {
        return Err(format!(
            "{}x{} is larger than the worker decodes",
            video.width, video.height
        ));
    }
    Ok(())
}

/// An OpenH264 decoder that hands pictures out as soon as they are due.
fn decoder() -> Result<Decoder, String> {
    let config = DecoderConfig::new().flush_after_decode(Flush::NoFlush);
    Decoder::with_api_config(OpenH264API::from_source(), config).map_err(|e| e.to_string())
}

/// Places decoded pictures on the spec's timeline.
struct Output {
    fps: f64,
    total: u32,
    /// Output frames pushed so far.
    next: u32,
    /// Display times of source pictures, sorted.
    times: Vec<f64>,
    end: f64,
    /// Source pictures seen so far.
    seen: usize,
    frame: YuvFrame,
    scaler: Option<Scaler>,
}

impl Output {
    fn new(spec: &GenerationSpec, mut times: Vec<f64>, end: f64) -> Self {
        times.sort_by(f64::total_cmp);
        Output {
            fps: f64::from(spec.fps),
            total: spec.frame_count(),
            next: 0,
            times,
            end,
            seen: 0,
            frame: YuvFrame::new(spec.width, spec.height),
            scaler: None,
        }
    }

    /// Pushes every output frame whose time falls before the next source picture.
    fn take(
        &mut self,
        picture: &impl YUVSource,
        sink: &mut dyn FrameSink,
    ) -> Result<(), ModelError> {
        let k = self.seen;
        self.seen += 1;
        let until = self.times.get(k + 1).copied().unwrap_or(self.end);
        let mut due = 0;
        while self.next + due < self.total && f64::from(self.next + due) / self.fps < until {
            due += 1;
        }
        // A picture between two output instants is dropped without scaling.
        if due == 0 && self.seen < self.times.len() {
            return Ok(());
        }
        let (w, h) = picture.dimensions();
        if self.scaler.as_ref().map(|s| s.source) != Some((w, h)) {
            let target = (self.frame.width(), self.frame.height());
            self.scaler = Some(Scaler::new((w, h), target));
        }
        let scaler = self.scaler.as_ref().expect("set above");
        scaler.scale(picture, &mut self.frame);
        for _ in 0..due {
            sink.push(&self.frame)?;
            self.next += 1;
        }
        Ok(())
    }

    /// Holds the last picture to the end of the spec if the source was short.
    fn finish(mut self, sink: &mut dyn FrameSink) -> Result<(), Option<ModelError>> {
        if self.scaler.is_none() {
            return Err(None);
        }
        while self.next < self.total {
            sink.push(&self.frame)?;
            self.next += 1;
        }
        Ok(())
    }
}

/// Cover-fit bilinear scaling with a centre crop, planes scaled independently.
struct Scaler {
    source: (usize, usize),
    luma: Axes,
    chroma: Axes,
}

/// Source positions for every output column and row of one plane.
struct Axes {
    xs: Vec<Tap>,
    ys: Vec<Tap>,
}

/// Two neighbouring source samples and the second one's weight (0..=256).
#[derive(Clone, Copy)]
struct Tap {
    at: usize,
    next: usize,
    weight: u32,
}

impl Scaler {
    fn new(source: (usize, usize), target: (u32, u32)) -> Self {
        let (sw, sh) = (source.0 as f64, source.1 as f64);
        let (tw, th) = (f64::from(target.0), f64::from(target.1));
        // Cover: the larger scale fills the target; the overflow is cropped evenly.
        let scale = (tw / sw).max(th / sh);
        let crop = ((sw - tw / scale) / 2.0, (sh - th / scale) / 2.0);
        let axes = |div: f64| Axes {
            xs: taps(
                (target.0 as f64 / div) as usize,
                crop.0 / div,
                scale,
                (source.0 as f64 / div).ceil() as usize,
            ),
            ys: taps(
                (target.1 as f64 / div) as usize,
                crop.1 / div,
                scale,
                (source.1 as f64 / div).ceil() as usize,
            ),
        };
        Scaler {
            source,
            luma: axes(1.0),
            chroma: axes(2.0),
        }
    }

    fn scale(&self, picture: &impl YUVSource, frame: &mut YuvFrame) {
        let (ys, us, vs) = picture.strides();
        let (y, u, v) = frame.planes_mut();
        resize(picture.y(), ys, &self.luma, y);
        resize(picture.u(), us, &self.chroma, u);
        resize(picture.v(), vs, &self.chroma, v);
    }
}

/// Bilinear resampling of one 8-bit plane of `size` to `target`: output
/// sample `i` reads the source at `offset + (i + 0.5) / scale - 0.5`,
/// clamped, so the source's edge repeats wherever the output reaches past it.
pub(crate) fn resample_plane(
    src: &[u8],
    size: (usize, usize),
    target: (usize, usize),
    scale: f64,
    offset: (f64, f64),
) -> Vec<u8> {
    let axes = Axes {
        xs: taps(target.0, offset.0, scale, size.0),
        ys: taps(target.1, offset.1, scale, size.1),
    };
    let mut dst = vec![0; target.0 * target.1];
    resize(src, size.0, &axes, &mut dst);
    dst
}

fn taps(count: usize, offset: f64, scale: f64, limit: usize) -> Vec<Tap> {
    let last = limit.saturating_sub(1);
    (0..count)
        .map(|i| {
            let pos = (offset + (i as f64 + 0.5) / scale - 0.5).clamp(0.0, last as f64);
            let at = pos.floor() as usize;
            Tap {
                at,
                next: (at + 1).min(last),
                weight: ((pos - at as f64) * 256.0).round() as u32,
            }
        })
        .collect()
}

fn resize(src: &[u8], stride: usize, axes: &Axes, dst: &mut [u8]) {
    let width = axes.xs.len();
    let px = |row: usize, col: usize| u32::from(src.get(row * stride + col).copied().unwrap_or(16));
    for (row, ty) in dst.chunks_exact_mut(width).zip(&axes.ys) {
        for (out, tx) in row.iter_mut().zip(&axes.xs) {
            let top = px(ty.at, tx.at) * (256 - tx.weight) + px(ty.at, tx.next) * tx.weight;
            let bottom = px(ty.next, tx.at) * (256 - tx.weight) + px(ty.next, tx.next) * tx.weight;
            let value = top * (256 - ty.weight) + bottom * ty.weight;
            *out = ((value + (1 << 15)) >> 16) as u8;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cover_fit_crops_the_long_side_evenly() {
        // 1280x720 into a square: scale 1, 280 columns cropped from each side.
        let s = Scaler::new((1280, 720), (720, 720));
        assert_eq!(s.luma.xs[0].at, 280);
        assert_eq!(s.luma.xs[719].at, 999);
        assert_eq!(s.luma.ys[0].at, 0);
        assert_eq!(s.chroma.xs.len(), 360);
        // Halving: each output pixel sits between two source pixels.
        let s = Scaler::new((256, 256), (128, 128));
        assert_eq!((s.luma.xs[0].at, s.luma.xs[0].weight), (0, 128));
    }

    #[test]
    fn a_flat_picture_stays_flat() {
        let axes = Axes {
            xs: taps(4, 0.0, 0.5, 8),
            ys: taps(2, 0.0, 0.5, 4),
        };
        let src = vec![77u8; 8 * 4];
        let mut dst = vec![0u8; 8];
        resize(&src, 8, &axes, &mut dst);
        assert!(dst.iter().all(|&p| p == 77));
    }
}
