//! The model seam: every backend, CPU or GPU, turns a spec into frames and sound.

use std::sync::atomic::{AtomicBool, Ordering};

use thiserror::Error;

use crate::frame::{Soundtrack, YuvFrame};
use crate::spec::GenerationSpec;

/// A video generator. Which implementation runs is configuration.
///
/// Contract: `generate` pushes exactly `spec.frame_count()` frames of
/// `spec.width`×`spec.height`, in display order, into `sink`, and returns a
/// soundtrack of exactly `spec.audio_samples()` samples per channel. The same
/// spec must give the same output where the backend can promise it.
pub trait VideoModel: Send + Sync {
    /// Short, stable name for logs and job records (e.g. "local-cpu").
    fn name(&self) -> &str;

    /// Generates the clip, streaming frames into `sink` as they are ready.
    ///
    /// Backends call [`JobControl::checkpoint`] between units of work and
    /// return [`ModelError::Cancelled`] (what it yields) once the job is
    /// cancelled, and report their own progress through [`JobControl::report`].
    fn generate(
        &self,
        spec: &GenerationSpec,
        sink: &mut dyn FrameSink,
        control: &JobControl<'_>,
    ) -> Result<Soundtrack, ModelError>;
}

/// Where a model delivers frames; the pipeline encodes them as they arrive.
pub trait FrameSink {
    /// Takes the next frame; an error means "stop generating" and must be returned as is.
    fn push(&mut self, frame: &YuvFrame) -> Result<(), ModelError>;
}

/// A pipeline stage, as reported to the progress callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    /// The model is working; units are the model's own (steps or frames).
    Generating,
    /// Frames encoded to H.264 so far, out of the clip's frames.
    EncodingVideo,
    /// Soundtrack encoding, muxing and thumbnail (three steps).
    Finishing,
}

/// One progress report: `done` of `total` units of `stage`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Which stage is moving.
    pub stage: Stage,
    /// Units completed.
    pub done: u32,
    /// Units in the stage.
    pub total: u32,
}

impl Progress {
    /// Completed fraction of the stage, 0.0..=1.0.
    pub fn fraction(&self) -> f32 {
        if self.total == 0 {
            1.0
        } else {
            self.done as f32 / self.total as f32
        }
    }
}

/// Cancellation and progress reporting for one job, shared by model and pipeline.
pub struct JobControl<'a> {
    cancel: &'a AtomicBool,
    progress: &'a (dyn Fn(Progress) + Sync),
}

impl<'a> JobControl<'a> {
    /// Wraps a cancel flag (set it to stop the job) and a progress callback.
    pub fn new(cancel: &'a AtomicBool, progress: &'a (dyn Fn(Progress) + Sync)) -> Self {
        JobControl { cancel, progress }
    }

    /// True once someone asked the job to stop.
    pub fn is_cancelled(&self) -> bool {
        // Relaxed is enough: the flag carries no data, only "stop soon".
        self.cancel.load(Ordering::Relaxed)
    }

    /// `Err(ModelError::Cancelled)` once the job is cancelled; use with `?`.
    pub fn checkpoint(&self) -> Result<(), ModelError> {
        if self.is_cancelled() {
            Err(ModelError::Cancelled)
        } else {
            Ok(())
        }
    }

    /// Reports progress of `stage`.
    pub fn report(&self, stage: Stage, done: u32, total: u32) {
        (self.progress)(Progress { stage, done, total });
    }
}

/// Why a model stopped without a clip.
#[derive(Debug, Error)]
pub enum ModelError {
    /// The job was cancelled.
    #[error("generation was cancelled")]
    Cancelled,
    /// The sink refused a frame; the pipeline holds the real cause.
    #[error("the frame consumer stopped accepting frames")]
    SinkClosed,
    /// The model broke its contract (wrong frame size or count, bad soundtrack).
    #[error("model output is invalid: {0}")]
    InvalidOutput(String),
    /// The backend itself failed (device, weights, runtime).
    #[error("model backend failed: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A remote model failed in a way a later attempt may not: an outage,
    /// a rate limit, a timeout, a dropped connection.
    #[error("model service unavailable: {0}")]
    Transient(String),
    /// The model refused the job and will refuse it again: a bad request,
    /// bad credentials, a content-policy refusal.
    #[error("model refused the job: {0}")]
    Rejected(String),
    /// The model's service refused the prompt on content grounds (its own
    /// moderation): the same prompt is refused again.
    #[error("the video service refused the prompt: {0}")]
    ContentRefused(String),
}

impl ModelError {
    /// False when another attempt at the same spec cannot succeed.
    pub fn is_retryable(&self) -> bool {
        !matches!(
            self,
            ModelError::Rejected(_) | ModelError::ContentRefused(_)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn checkpoint_follows_the_cancel_flag() {
        let cancel = AtomicBool::new(false);
        let seen = Mutex::new(Vec::new());
        let report = |p: Progress| seen.lock().unwrap().push(p);
        let control = JobControl::new(&cancel, &report);
        assert!(control.checkpoint().is_ok());
        control.report(Stage::Generating, 1, 4);
        cancel.store(true, Ordering::Relaxed);
        assert!(matches!(control.checkpoint(), Err(ModelError::Cancelled)));
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].fraction(), 0.25);
    }
}
