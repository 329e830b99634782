//! The media pipeline for one job: model → H.264 + Opus → MP4, plus a thumbnail.

use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use thiserror::Error;

use crate::frame::YuvFrame;
use crate::media::{self, EncodedFrame, H264Encoder, MediaError};
use crate::model::{FrameSink, JobControl, ModelError, Progress, Stage, VideoModel};
use crate::provenance::Watermark;
use crate::safety::{FrameSampler, SamplingSink};
use crate::spec::{GenerationSpec, SpecError};

// JPEG quality for thumbnails: small files, no visible blocking at half size.
const THUMBNAIL_QUALITY: u8 = 82;

/// A finished clip, ready to upload.
#[derive(Debug, Clone)]
pub struct RenderedClip {
    /// Fast-start MP4: H.264 video and Opus audio.
    pub mp4: Vec<u8>,
    /// JPEG poster frame at half the video's size.
    pub thumbnail: Vec<u8>,
    /// Real length: whole frames at the spec's rate (equals the request for whole seconds).
    pub duration_ms: u32,
    /// Video width in pixels.
    pub width: u32,
    /// Video height in pixels.
    pub height: u32,
    /// Frames in the video track.
    pub frames: u32,
    /// Where the time went.
    pub timings: StageTimings,
}

/// Wall time of each stage of [`render_clip`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StageTimings {
    /// Inside the model, excluding the encoding it streams frames into.
    pub generate: Duration,
    /// H.264 encoding of every frame.
    pub video_encode: Duration,
    /// Opus encoding of the soundtrack.
    pub audio_encode: Duration,
    /// MP4 assembly.
    pub mux: Duration,
    /// Thumbnail encoding.
    pub thumbnail: Duration,
}

/// Why no clip came out.
#[derive(Debug, Error)]
pub enum RenderError {
    /// The spec was refused before any work started.
    #[error("invalid generation spec: {0}")]
    InvalidSpec(#[from] SpecError),
    /// The job's cancel flag was set; the partial work was dropped.
    #[error("rendering was cancelled")]
    Cancelled,
    /// The model failed or broke its contract.
    #[error("model failed: {0}")]
    Model(#[source] ModelError),
    /// Encoding or muxing failed.
    #[error(transparent)]
    Media(#[from] MediaError),
}

/// Renders `spec` with `model` into an MP4 and a thumbnail, blocking until done.
///
/// Frames are encoded as the model produces them, so at most one raw frame
/// (plus the thumbnail's) is held at a time. `progress` is called from this
/// thread (or the model's) with per-stage counts; set `cancel` from another
/// thread to stop within about a frame, which yields [`RenderError::Cancelled`].
pub fn render_clip(
    model: &dyn VideoModel,
    spec: &GenerationSpec,
    progress: &(dyn Fn(Progress) + Sync),
    cancel: &AtomicBool,
) -> Result<RenderedClip, RenderError> {
    render_sampled(model, spec, progress, cancel, None)
}

/// [`render_clip`], also handing every frame the model made to `sampler`
/// (the frame checks' copies; see [`crate::safety`]).
pub fn render_sampled(
    model: &dyn VideoModel,
    spec: &GenerationSpec,
    progress: &(dyn Fn(Progress) + Sync),
    cancel: &AtomicBool,
    sampler: Option<&mut FrameSampler>,
) -> Result<RenderedClip, RenderError> {
    spec.validate()?;
    let control = JobControl::new(cancel, progress);
    let total = spec.frame_count();
    let mut sink = EncodingSink {
        encoder: H264Encoder::new(spec.width, spec.height, spec.fps)?,
        spec,
        control: &control,
        frames: Vec::with_capacity(total as usize),
        // The middle frame: past any fade-in, representative of the motion.
        poster_index: total / 2,
        poster: None,
        watermark: Watermark::new(spec.width, spec.height, spec.fps),
        marked: YuvFrame::new(spec.width, spec.height),
        encode_time: Duration::ZERO,
        failure: None,
    };

    let started = Instant::now();
    let generated = match sampler {
        Some(sampler) => model.generate(spec, &mut SamplingSink::new(&mut sink, sampler), &control),
        None => model.generate(spec, &mut sink, &control),
    };
    let mut timings = StageTimings {
        generate: started.elapsed().saturating_sub(sink.encode_time),
        video_encode: sink.encode_time,
        ..StageTimings::default()
    };
    let soundtrack = match generated {
        Ok(track) => track,
        Err(e) => {
            return Err(match (e, sink.failure.take()) {
                // Whatever the model said, a set flag means the job was cancelled.
                _ if control.is_cancelled() => RenderError::Cancelled,
                // The sink stopped the model: its own error is the real cause.
                (ModelError::SinkClosed, Some(failure)) => failure.into(),
                (ModelError::Cancelled, _) => RenderError::Cancelled,
                (e, _) => RenderError::Model(e),
            });
        }
    };
    let invalid = |msg: String| RenderError::Model(ModelError::InvalidOutput(msg));
    if sink.frames.len() != total as usize {
        return Err(invalid(format!(
            "{} frames, expected {total}",
            sink.frames.len()
        )));
    }
    if soundtrack.samples.len() != spec.audio_samples() * 2 {
        return Err(invalid(format!(
            "{} audio samples per channel, expected {}",
            soundtrack.len_per_channel(),
            spec.audio_samples()
        )));
    }
    let poster = sink
        .poster
        .take()
        .ok_or_else(|| invalid("no poster frame".into()))?;

    let finish = |step: u32| -> Result<(), RenderError> {
        control.report(Stage::Finishing, step, 3);
        control.checkpoint().map_err(|_| RenderError::Cancelled)
    };
    finish(0)?;
    let t = Instant::now();
    let audio = media::encode_opus(&soundtrack)?;
    timings.audio_encode = t.elapsed();
    finish(1)?;
    let t = Instant::now();
    let mp4 = media::mux_mp4(&sink.frames, spec.width, spec.height, spec.fps, &audio)?;
    timings.mux = t.elapsed();
    finish(2)?;
    let t = Instant::now();
    let thumbnail = media::jpeg_thumbnail(&poster, THUMBNAIL_QUALITY)?;
    timings.thumbnail = t.elapsed();
    control.report(Stage::Finishing, 3, 3);

    Ok(RenderedClip {
        mp4,
        thumbnail,
        duration_ms: spec.rendered_duration_ms(),
        width: spec.width,
        height: spec.height,
        frames: total,
        timings,
    })
}

/// Watermarks and encodes frames as the model pushes them, and keeps the
/// (watermarked) poster frame.
struct EncodingSink<'a> {
    encoder: H264Encoder,
    spec: &'a GenerationSpec,
    control: &'a JobControl<'a>,
    frames: Vec<EncodedFrame>,
    poster_index: u32,
    poster: Option<YuvFrame>,
    watermark: Watermark,
    // The model's frame with the mark drawn in; reused so no frame allocates.
    marked: YuvFrame,
    encode_time: Duration,
    failure: Option<MediaError>,
}

impl FrameSink for EncodingSink<'_> {
    fn push(&mut self, frame: &YuvFrame) -> Result<(), ModelError> {
        self.control.checkpoint()?;
        let total = self.spec.frame_count();
        let index = self.frames.len() as u32;
        if index >= total {
            return Err(ModelError::InvalidOutput(format!(
                "more than {total} frames"
            )));
        }
        if (frame.width(), frame.height()) != (self.spec.width, self.spec.height) {
            return Err(ModelError::InvalidOutput(format!(
                "frame is {}x{}, spec asks for {}x{}",
                frame.width(),
                frame.height(),
                self.spec.width,
                self.spec.height
            )));
        }
        // Every frame is marked here, whichever backend made it.
        self.marked.copy_from(frame);
        self.watermark.stamp(&mut self.marked, index);
        if index == self.poster_index {
            self.poster = Some(self.marked.clone());
        }
        let t = Instant::now();
        let encoded = self.encoder.encode(&self.marked);
        self.encode_time += t.elapsed();
        match encoded {
            Ok(encoded) => self.frames.push(encoded),
            Err(e) => {
                self.failure = Some(e);
                return Err(ModelError::SinkClosed);
            }
        }
        self.control.report(Stage::EncodingVideo, index + 1, total);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::Soundtrack;

    /// Fails in a chosen way after one frame.
    struct Failing(fn() -> ModelError);

    impl VideoModel for Failing {
        fn name(&self) -> &str {
            "failing"
        }
        fn generate(
            &self,
            spec: &GenerationSpec,
            sink: &mut dyn FrameSink,
            _: &JobControl<'_>,
        ) -> Result<Soundtrack, ModelError> {
            sink.push(&YuvFrame::new(spec.width, spec.height))?;
            Err((self.0)())
        }
    }

    fn run(model: &dyn VideoModel) -> Result<RenderedClip, RenderError> {
        let spec = GenerationSpec {
            width: 64,
            height: 64,
            ..GenerationSpec::new("x", 1_000, crate::Aspect::Square, 0)
        };
        render_clip(model, &spec, &|_| {}, &AtomicBool::new(false))
    }

    #[test]
    fn model_errors_keep_their_meaning() {
        assert!(matches!(
            run(&Failing(|| ModelError::Cancelled)),
            Err(RenderError::Cancelled)
        ));
        assert!(matches!(
            run(&Failing(|| ModelError::Backend("out of memory".into()))),
            Err(RenderError::Model(ModelError::Backend(_)))
        ));
    }

    #[test]
    fn a_small_clip_renders_with_timings() {
        let spec = GenerationSpec {
            width: 64,
            height: 64,
            ..GenerationSpec::new("tiny", 1_000, crate::Aspect::Square, 0)
        };
        let clip = render_clip(&crate::LocalModel, &spec, &|_| {}, &AtomicBool::new(false))
            .expect("render");
        assert_eq!((clip.frames, clip.duration_ms), (24, 1_000));
        assert!(clip.timings.video_encode > Duration::ZERO);
        assert_eq!(&clip.thumbnail[..2], &[0xFF, 0xD8]);
    }
}
