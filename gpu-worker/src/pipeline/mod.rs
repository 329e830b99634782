//! The job shell around [`crate::render_clip`]: lease → spec → start callback →
//! render (progress callbacks, lease heartbeat) → upload → complete callback
//! → ledger. Failures are counted in the ledger; after `max_attempts` the
//! edge gets a `fail` callback (it refunds the quota) and the job ends.
//!
//! Ordering that makes "one video" hold: the ledger is marked completed only
//! after the edge acknowledged `complete`, so a crash in between redoes the
//! job (same keys, same bytes for a deterministic model) and the edge sees a
//! second, identical `complete`; it must treat that as a no-op. Before
//! uploading and before `complete`, the worker renews its lease: a worker
//! whose lease was taken over stops instead of racing the new holder.

mod attempt;

use std::sync::Arc;

use serde_json::{Value, json};

use crate::callback::{Completion, EdgeClient};
use crate::config::{ConfigError, WorkerConfig};
use crate::event::{EventError, Skipped, parse_event};
use crate::ledger::{JobLedger, Lease, lease_token};
use crate::log::{JobLog, worker_event};
use crate::model::VideoModel;
use crate::outcome::{JobError, JobOutcome, JobReport, Report, fail_code};
use crate::semantic::SemanticCheck;
use crate::storage::ObjectStorage;
use attempt::{Attempt, Stop};

/// Extra deliveries allowed, past `max_attempts`, to get the `fail`
/// callback through to an unreachable edge before giving up on telling it.
const FAIL_REPORT_DELIVERIES: u32 = 3;

/// Runs jobs. Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct Worker {
    config: Arc<WorkerConfig>,
    ledger: Arc<dyn JobLedger>,
    storage: Arc<dyn ObjectStorage>,
    model: Arc<dyn VideoModel>,
    edge: EdgeClient,
    semantic: Option<Arc<SemanticCheck>>,
    frames: Option<Arc<crate::safety::FramePolicy>>,
}

impl Worker {
    /// A worker over the given ledger, storage and model.
    pub fn new(
        config: WorkerConfig,
        ledger: Arc<dyn JobLedger>,
        storage: Arc<dyn ObjectStorage>,
        model: Arc<dyn VideoModel>,
    ) -> Result<Self, ConfigError> {
        if config.max_attempts == 0 {
            return Err(ConfigError::Invalid {
                name: "max_attempts",
                detail: "must be 1 or more".into(),
            });
        }
        let edge = EdgeClient::new(
            &config.edge_base_url,
            &config.callback_key,
            config.callback_retry,
        )?;
        let semantic = match &config.embedding_model {
            // Loaded once per process: it embeds every blocked concept.
            Some(dir) => Some(SemanticCheck::shared(dir)?),
            None => {
                worker_event(
                    "warn",
                    "no embedding model configured (DREAMREEL_EMBEDDING_MODEL): the semantic prompt check is off",
                    json!({}),
                );
                None
            }
        };
        let frames = match &config.frame_policy {
            // Compiled once per process; a broken directory stops the worker here.
            Some(dir) => Some(crate::safety::FramePolicy::shared(dir)?),
            None => {
                worker_event(
                    "warn",
                    "no frame policy configured (DREAMREEL_FRAME_POLICY): frame checks are off",
                    json!({}),
                );
                None
            }
        };
        Ok(Worker {
            config: Arc::new(config),
            ledger,
            storage,
            model,
            edge,
            semantic,
            frames,
        })
    }

    /// A worker running the backend named by `config.model`.
    pub fn with_backend(
        config: WorkerConfig,
        ledger: Arc<dyn JobLedger>,
        storage: Arc<dyn ObjectStorage>,
    ) -> Result<Self, ConfigError> {
        let model = crate::backends::build(&config.model, &config.models)?;
        Self::new(config, ledger, storage, Arc::from(model))
    }

    /// The configuration in use.
    pub fn config(&self) -> &WorkerConfig {
        &self.config
    }

    /// The job ledger in use.
    pub fn ledger(&self) -> &Arc<dyn JobLedger> {
        &self.ledger
    }

    /// The object storage in use.
    pub(crate) fn storage(&self) -> &dyn ObjectStorage {
        self.storage.as_ref()
    }

    /// The edge's callback client.
    pub(crate) fn edge(&self) -> &EdgeClient {
        &self.edge
    }

    /// The embedding model, when one is configured.
    pub(crate) fn semantic(&self) -> Option<&Arc<SemanticCheck>> {
        self.semantic.as_ref()
    }

    /// Handles one S3 notification (or SQS batch of them): runs every job it
    /// names, one after another. `Err` means the event itself is unreadable:
    /// log it and drop it, since redelivering cannot help.
    pub async fn handle_event(&self, event: &Value) -> Result<Report, EventError> {
        let parsed = parse_event(event).inspect_err(|e| {
            worker_event(
                "error",
                "unreadable event skipped",
                json!({"error": e.to_string()}),
            );
        })?;
        let mut report = Report {
            test_event: parsed.test_event,
            jobs: Vec::new(),
            skipped: parsed.skipped,
            captions_unsettled: Vec::new(),
        };
        if report.test_event {
            worker_event("info", "s3:TestEvent ignored", json!({}));
        }
        for job in parsed.jobs {
            if job.bucket != self.config.bucket {
                report.skipped.push(Skipped::ForeignBucket {
                    bucket: job.bucket,
                    key: job.key,
                });
                continue;
            }
            let result = self.run_job(&job.job_id).await;
            report.jobs.push(JobReport {
                job_id: job.job_id,
                result,
            });
        }
        for recording in parsed.recordings {
            if recording.bucket != self.config.bucket {
                report.skipped.push(Skipped::ForeignBucket {
                    bucket: recording.bucket,
                    key: recording.key,
                });
                continue;
            }
            if let Err(error) = self.check_recording(&recording).await {
                // The member sees a pending verification and may upload again.
                worker_event(
                    "error",
                    "recording not checked",
                    json!({"key": recording.key, "error": error}),
                );
            }
        }
        for caption in parsed.captions {
            if caption.bucket != self.config.bucket {
                report.skipped.push(Skipped::ForeignBucket {
                    bucket: caption.bucket,
                    key: caption.key,
                });
                continue;
            }
            // Logged inside; an unfinished one stays in the bucket.
            let outcome = self.embed_caption(&caption).await;
            if matches!(outcome, crate::captions::CaptionOutcome::Left(_)) {
                report.captions_unsettled.push(caption.video_id);
            }
        }
        for skipped in &report.skipped {
            // Other keys and event kinds are expected (the worker's own media
            // uploads notify too); only records that look wrong are worth a line.
            if matches!(
                skipped,
                Skipped::Unparseable { .. } | Skipped::ForeignBucket { .. }
            ) {
                worker_event(
                    "warn",
                    "event record skipped",
                    json!({"record": format!("{skipped:?}")}),
                );
            }
        }
        Ok(report)
    }

    /// Runs one job to an outcome. `Err` means "not settled by this
    /// delivery": redeliver later (after `Busy::until_ms` for a busy job).
    pub async fn run_job(&self, job_id: &str) -> Result<JobOutcome, JobError> {
        let holder = lease_token(&self.config.worker_id);
        let log = JobLog::new(job_id);
        let lease = self
            .ledger
            .lease(job_id, &holder, crate::now_ms(), self.config.lease_ms)
            .await
            .inspect_err(|e| log.error("ledger unavailable", json!({"error": e.to_string()})))?;
        let (number, last_error) = match lease {
            Lease::Done => {
                log.info("duplicate delivery of a finished job ignored", json!({}));
                return Ok(JobOutcome::AlreadyDone);
            }
            Lease::Busy { until_ms } => {
                log.info("job is leased elsewhere", json!({"until_ms": until_ms}));
                return Err(JobError::Busy { until_ms });
            }
            Lease::Leased {
                attempt,
                last_error,
            } => (attempt, last_error),
        };
        let mut attempt = Attempt {
            job_id,
            holder,
            number,
            log,
        };
        attempt.log.info(
            "lease taken",
            json!({"attempt": number, "holder": attempt.holder}),
        );

        if number > self.config.max_attempts {
            // Earlier attempts ended without recording anything (a crash or
            // timeout), or the final `fail` callback did not get through.
            let (code, reason) = match last_error {
                Some(last) => split_code(last),
                None => (
                    fail_code::GENERATION_FAILED,
                    format!("the worker stopped before finishing, {} times", number - 1),
                ),
            };
            return self.give_up(&attempt, number - 1, code, reason, true).await;
        }

        let stop = match self.attempt(&mut attempt).await {
            Ok(completion) => return Ok(self.completed(&attempt, completion).await),
            Err(stop) => stop,
        };
        match stop {
            Stop::LeaseLost => {
                attempt.log.warn(
                    "lease taken over by another worker; attempt abandoned",
                    json!({}),
                );
                Err(JobError::LeaseLost)
            }
            Stop::Refused(reason) => {
                attempt
                    .log
                    .info("the edge refused the job", json!({"reason": reason}));
                self.ledger
                    .fail_terminally(job_id, &format!("refused by the edge: {reason}"))
                    .await?;
                Ok(JobOutcome::Refused { reason })
            }
            Stop::Blocked(reason) => {
                self.give_up(
                    &attempt,
                    number,
                    fail_code::CONTENT_BLOCKED_SEMANTIC,
                    reason,
                    true,
                )
                .await
            }
            Stop::FramesBlocked(reason) => {
                self.give_up(
                    &attempt,
                    number,
                    fail_code::CONTENT_BLOCKED_FRAMES,
                    reason,
                    true,
                )
                .await
            }
            Stop::ProviderBlocked(reason) => {
                self.give_up(
                    &attempt,
                    number,
                    fail_code::CONTENT_BLOCKED_PROVIDER,
                    reason,
                    true,
                )
                .await
            }
            Stop::ReferenceUnavailable(reason) => {
                let code = fail_code::CAMEO_REFERENCE_UNAVAILABLE;
                self.give_up(&attempt, number, code, reason, true).await
            }
            Stop::Invalid { reason, report } => {
                self.give_up(&attempt, number, fail_code::INVALID_SPEC, reason, report)
                    .await
            }
            Stop::Retry(reason) if number >= self.config.max_attempts => {
                self.give_up(&attempt, number, fail_code::GENERATION_FAILED, reason, true)
                    .await
            }
            Stop::Retry(reason) => {
                let attempts = self
                    .ledger
                    .record_failure(job_id, &attempt.holder, &reason)
                    .await?;
                attempt.log.warn(
                    "attempt failed; will retry",
                    json!({"attempt": number, "attempts": attempts, "error": reason}),
                );
                Err(JobError::AttemptFailed {
                    attempt: number,
                    reason,
                })
            }
        }
    }

    /// Marks the job completed. The edge already has the video, so a ledger
    /// failure here is logged, not retried: a later duplicate would at worst
    /// redo the job and send an identical `complete`.
    async fn completed(&self, attempt: &Attempt<'_>, completion: Completion) -> JobOutcome {
        if let Err(e) = self.ledger.complete(attempt.job_id).await {
            attempt.log.error(
                "could not mark the job completed",
                json!({"error": e.to_string()}),
            );
        }
        attempt.log.info(
            "job completed",
            json!({"attempt": attempt.number, "video_key": completion.video_key}),
        );
        JobOutcome::Completed {
            attempt: attempt.number,
            video_key: completion.video_key,
            bytes: completion.bytes,
        }
    }

    /// Ends the job as failed, telling the edge first when `report` (it
    /// refunds the quota). An edge that cannot be reached keeps the job
    /// open for a few more deliveries, so the refund is not lost.
    async fn give_up(
        &self,
        attempt: &Attempt<'_>,
        attempts: u32,
        code: &'static str,
        reason: String,
        report: bool,
    ) -> Result<JobOutcome, JobError> {
        let mut reported = false;
        if report {
            match self
                .edge
                .fail(
                    attempt.job_id,
                    code,
                    &reason,
                    attempts,
                    attempt.request_id(),
                )
                .await
            {
                Ok(()) => reported = true,
                Err(e)
                    if e.is_transient()
                        && attempt.number < self.config.max_attempts + FAIL_REPORT_DELIVERIES =>
                {
                    // Keep code and reason for the delivery that reports them.
                    self.ledger
                        .record_failure(
                            attempt.job_id,
                            &attempt.holder,
                            &format!("{code}: {reason}"),
                        )
                        .await?;
                    attempt.log.warn(
                        "fail callback did not get through; will retry",
                        json!({"error": e.to_string()}),
                    );
                    return Err(JobError::AttemptFailed {
                        attempt: attempt.number,
                        reason: e.to_string(),
                    });
                }
                Err(e) => attempt.log.error(
                    "giving up telling the edge the job failed",
                    json!({"error": e.to_string()}),
                ),
            }
        }
        self.ledger
            .fail_terminally(attempt.job_id, &format!("{code}: {reason}"))
            .await?;
        attempt.log.error(
            "job failed",
            json!({"code": code, "reason": reason, "attempts": attempts, "reported": reported}),
        );
        Ok(JobOutcome::Failed {
            attempts,
            code,
            reason,
            reported,
        })
    }
}

/// Splits a recorded `"{code}: {reason}"` (see `give_up`); a plain reason
/// is an attempt's failure.
fn split_code(recorded: String) -> (&'static str, String) {
    for code in [
        fail_code::INVALID_SPEC,
        fail_code::CONTENT_BLOCKED_SEMANTIC,
        fail_code::CONTENT_BLOCKED_FRAMES,
        fail_code::CONTENT_BLOCKED_PROVIDER,
        fail_code::CAMEO_REFERENCE_UNAVAILABLE,
        fail_code::GENERATION_FAILED,
    ] {
        if let Some(reason) = recorded
            .strip_prefix(code)
            .and_then(|r| r.strip_prefix(": "))
        {
            return (code, reason.to_owned());
        }
    }
    (fail_code::GENERATION_FAILED, recorded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_codes_split_back_out() {
        assert_eq!(
            split_code("invalid_spec: duration 11000 ms".into()),
            (fail_code::INVALID_SPEC, "duration 11000 ms".into())
        );
        assert_eq!(
            split_code("model failed: oom".into()),
            (fail_code::GENERATION_FAILED, "model failed: oom".into())
        );
    }
}
