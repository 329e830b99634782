//! What handling an event or a job came to.

use thiserror::Error;

use crate::event::Skipped;
use crate::ledger::LedgerError;

/// Codes sent in the `fail` callback.
pub mod fail_code {
    /// The spec is missing fields or asks for something the pipeline cannot make.
    pub const INVALID_SPEC: &str = "invalid_spec";
    /// Every attempt failed (model, encoder, storage or edge trouble, or crashes).
    pub const GENERATION_FAILED: &str = "generation_failed";
    /// The semantic prompt check refused the prompt (the edge ends the draft `refused`).
    pub const CONTENT_BLOCKED_SEMANTIC: &str = "content_blocked_semantic";
    /// The frame policy refused the rendered clip (the reason starts with its category).
    pub const CONTENT_BLOCKED_FRAMES: &str = "content_blocked_frames";
    /// A remote model's service refused the prompt (its moderation), not our checks.
    pub const CONTENT_BLOCKED_PROVIDER: &str = "content_blocked_provider";
    /// A cast member's verified recording (the model's reference frame) is
    /// gone or does not decode; they must verify their cameo again.
    pub const CAMEO_REFERENCE_UNAVAILABLE: &str = "cameo_reference_unavailable";
}

/// How a job ended (for this delivery). Nothing here wants a redelivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobOutcome {
    /// Media uploaded and the edge told.
    Completed {
        /// The attempt that made it.
        attempt: u32,
        /// MP4 key.
        video_key: String,
        /// MP4 size.
        bytes: u64,
    },
    /// The ledger says it is finished: a duplicate delivery, nothing done.
    AlreadyDone,
    /// The edge said no (consent revoked, draft deleted): ended without a video.
    Refused {
        /// The edge's reason.
        reason: String,
    },
    /// Ended as failed; never retried.
    Failed {
        /// Attempts made.
        attempts: u32,
        /// One of [`fail_code`].
        code: &'static str,
        /// What went wrong.
        reason: String,
        /// Whether the edge got the `fail` callback.
        reported: bool,
    },
}

/// This delivery did not settle the job; deliver it again later.
#[derive(Debug, Error)]
pub enum JobError {
    /// Another worker holds a live lease.
    #[error("another worker holds the job's lease until {until_ms}")]
    Busy {
        /// When that lease runs out (Unix ms): a good time to try again.
        until_ms: u64,
    },
    /// This attempt failed; attempts remain.
    #[error("attempt {attempt} failed: {reason}")]
    AttemptFailed {
        /// The attempt that failed.
        attempt: u32,
        /// Why.
        reason: String,
    },
    /// The lease expired and another worker took the job over mid-attempt.
    #[error("lost the job's lease to another worker")]
    LeaseLost,
    /// The ledger could not be reached.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

/// One job's result within a [`Report`].
#[derive(Debug)]
pub struct JobReport {
    /// The job.
    pub job_id: String,
    /// `Err` means: redeliver.
    pub result: Result<JobOutcome, JobError>,
}

/// What one event came to.
#[derive(Debug, Default)]
pub struct Report {
    /// It was S3's `s3:TestEvent` (or contained one).
    pub test_event: bool,
    /// Each job the event named, in order.
    pub jobs: Vec<JobReport>,
    /// Records that named no job for this worker.
    pub skipped: Vec<Skipped>,
    /// Videos whose caption job could not be finished for a reason a
    /// redelivery may cure (storage or the edge unreachable).
    pub captions_unsettled: Vec<String>,
}

impl Report {
    /// Jobs (and caption jobs, by video id) this delivery did not settle,
    /// to be delivered again.
    pub fn retry_ids(&self) -> impl Iterator<Item = &str> {
        self.jobs
            .iter()
            .filter(|j| j.result.is_err())
            .map(|j| j.job_id.as_str())
            .chain(self.captions_unsettled.iter().map(String::as_str))
    }

    /// True if any job needs a redelivery.
    pub fn needs_retry(&self) -> bool {
        self.retry_ids().next().is_some()
    }
}
