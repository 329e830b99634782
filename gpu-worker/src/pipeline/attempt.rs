//! One leased attempt: spec → start → render (throttled progress, lease
//! heartbeat) → upload → complete. Every early exit is a [`Stop`] saying
//! what the job shell should do about it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dreamreel_core::cameo::verify::MAX_RECORDING_BYTES;
use dreamreel_core::jobs::{JobSpec, Quantized, WireEmbedding, job_key, media_keys};
use serde_json::{Value, json};
use tokio::sync::watch;

use super::Worker;
use crate::callback::{CallbackStage, Completion, Decision, EdgeClient};
use crate::log::JobLog;
use crate::model::{ModelError, Progress};
use crate::progress::{ProgressMap, UPLOAD_START};
use crate::render::{RenderError, RenderedClip, render_sampled};
use crate::safety::FrameSampler;
use crate::spec::{Aspect, GenerationSpec, ReferenceImage};
use crate::storage::{MAX_SPEC_BYTES, StorageError};

/// Why an attempt stopped short of a completed job.
pub(super) enum Stop {
    /// Worth another attempt.
    Retry(String),
    /// Will never work; `report` when the spec names the job, so the edge may be told.
    Invalid { reason: String, report: bool },
    /// The edge said stop.
    Refused(String),
    /// The semantic check refused the prompt (the reason names the category).
    Blocked(String),
    /// The frame policy refused the rendered clip (the reason starts with the category).
    FramesBlocked(String),
    /// A remote model's service refused the prompt on content grounds.
    ProviderBlocked(String),
    /// A cast member's reference recording is gone or unreadable.
    ReferenceUnavailable(String),
    /// Someone else holds the lease now.
    LeaseLost,
}

/// One leased attempt at a job.
pub(super) struct Attempt<'a> {
    pub(super) job_id: &'a str,
    pub(super) holder: String,
    pub(super) number: u32,
    pub(super) log: JobLog,
}

impl Attempt<'_> {
    pub(super) fn request_id(&self) -> Option<&str> {
        self.log.request_id()
    }
}

impl Worker {
    /// The happy path; every early return says why it stopped.
    pub(super) async fn attempt(&self, attempt: &mut Attempt<'_>) -> Result<Completion, Stop> {
        let job_id = attempt.job_id;
        let spec = self.fetch_spec(job_id).await?;
        attempt.log.set_request_id(&spec.request_id);
        attempt.log.info(
            "spec read",
            json!({"owner": spec.owner, "duration_ms": spec.duration_ms, "aspect": spec.aspect}),
        );
        let mut generation = generation_spec(&spec)?;
        // Before the start callback and any model time: a refusal here costs nothing.
        let embedding = self
            .screen_prompt(attempt, &generation.prompt, &spec.prompt)
            .await?;

        match self
            .edge
            .start(job_id, attempt.number, attempt.request_id())
            .await
        {
            Ok(Decision::Proceed) => {}
            Ok(Decision::Refuse { reason }) => return Err(Stop::Refused(reason)),
            Err(e) => return Err(Stop::Retry(e.to_string())),
        }

        // After the edge's consent recheck: only a cast still allowed is fetched.
        generation.reference = self.reference(attempt, &spec, &generation).await?;
        let started = Instant::now();
        let (clip, samples) = self.render(attempt, generation.clone()).await?;
        attempt.log.info(
            "clip rendered",
            json!({
                "frames": clip.frames,
                "bytes": clip.mp4.len(),
                "render_ms": started.elapsed().as_millis() as u64,
                "generate_ms": clip.timings.generate.as_millis() as u64,
                "video_encode_ms": clip.timings.video_encode.as_millis() as u64,
            }),
        );
        // Frame checks: a refused clip never leaves the worker.
        self.check_frames(attempt, generation, samples).await?;
        // Provenance: the signed C2PA manifest goes in before anything leaves.
        let job = crate::provenance::JobAssertion {
            job_id: job_id.to_owned(),
            model: self.model.name().to_owned(),
        };
        let clip = crate::provenance::sign_clip(self.config.c2pa.as_ref(), job, clip, &attempt.log)
            .await
            .map_err(|e| Stop::Retry(e.to_string()))?;

        self.keep_lease(attempt).await?;
        match self
            .edge
            .progress(
                job_id,
                UPLOAD_START,
                CallbackStage::Uploading,
                attempt.request_id(),
            )
            .await
        {
            Ok(Decision::Refuse { reason }) => return Err(Stop::Refused(reason)),
            Ok(Decision::Proceed) => {}
            // Progress is advisory; the upload does not wait on it.
            Err(e) => attempt
                .log
                .warn("progress callback failed", json!({"error": e.to_string()})),
        }
        let mut completion = self.upload(job_id, clip).await?;
        completion.prompt_embedding = embedding;
        attempt.log.info(
            "media uploaded",
            json!({"video_key": completion.video_key, "bytes": completion.bytes}),
        );

        self.keep_lease(attempt).await?;
        match self
            .edge
            .complete(job_id, &completion, attempt.request_id())
            .await
        {
            Ok(Decision::Proceed) => Ok(completion),
            Ok(Decision::Refuse { reason }) => Err(Stop::Refused(reason)),
            Err(e) => Err(Stop::Retry(e.to_string())),
        }
    }

    /// The semantic prompt check, on the blocking pool (it is CPU work).
    /// Passing, it gives the embedding of the member's own words
    /// (`own_prompt`: the check's whole-prompt vector when no cast wishes
    /// were appended) for the feed's "similar" source.
    async fn screen_prompt(
        &self,
        attempt: &Attempt<'_>,
        prompt: &str,
        own_prompt: &str,
    ) -> Result<Option<WireEmbedding>, Stop> {
        let Some(check) = self.semantic.clone() else {
            return Ok(None);
        };
        let started = Instant::now();
        let (prompt, own) = (prompt.to_owned(), own_prompt.trim().to_owned());
        let (found, vector) = tokio::task::spawn_blocking(move || {
            let (found, whole) = check.check_and_embed(&prompt);
            let vector = if own == prompt.trim() {
                whole
            } else {
                check.embedder().embed(&own)
            };
            (found, vector)
        })
        .await
        .map_err(|e| Stop::Retry(format!("the semantic check died: {e}")))?;
        let check_ms = started.elapsed().as_millis() as u64;
        match found {
            None => {
                attempt.log.info(
                    "prompt passed the semantic check",
                    json!({"check_ms": check_ms}),
                );
                Ok(Quantized::from_f32(&vector).map(|q| q.to_wire()))
            }
            Some(found) => {
                // The concept stays in the log for moderators, out of the reason.
                attempt.log.info(
                    "prompt refused by the semantic check",
                    json!({
                        "category": found.category.as_str(),
                        "concept": found.concept,
                        "score": found.score,
                        "check_ms": check_ms,
                    }),
                );
                Err(Stop::Blocked(crate::semantic::refusal_reason(&found)))
            }
        }
    }

    /// Runs the frame policy on the clip's samples, on the blocking pool.
    /// Any failure to check is a retry: nothing is uploaded unchecked.
    async fn check_frames(
        &self,
        attempt: &Attempt<'_>,
        spec: GenerationSpec,
        samples: Option<FrameSampler>,
    ) -> Result<(), Stop> {
        let (Some(policy), Some(samples)) = (self.frames.clone(), samples) else {
            return Ok(());
        };
        let started = Instant::now();
        let verdict = tokio::task::spawn_blocking(move || policy.check(&spec, &samples))
            .await
            .map_err(|e| Stop::Retry(format!("the frame check died: {e}")))?
            .map_err(|e| Stop::Retry(e.to_string()))?;
        let scores: serde_json::Map<String, Value> = verdict
            .scores
            .iter()
            .map(|(name, value)| (name.clone(), json!(value)))
            .collect();
        let fields = json!({
            "check_ms": started.elapsed().as_millis() as u64,
            "fuel": verdict.fuel_used,
            "scores": scores,
        });
        match verdict.blocked {
            None => {
                attempt.log.info("clip passed the frame checks", fields);
                Ok(())
            }
            Some(blocked) => {
                attempt.log.info(
                    "clip refused by the frame checks",
                    json!({"category": blocked.category, "reason": blocked.reason, "check": fields}),
                );
                Err(Stop::FramesBlocked(format!(
                    "category {}: {}",
                    blocked.category, blocked.reason
                )))
            }
        }
    }

    /// The reference frame of the first cast member (in cast order) with a
    /// verified recording. A recording that is gone or does not decode ends
    /// the job rather than dropping the likeness; storage trouble retries.
    async fn reference(
        &self,
        attempt: &Attempt<'_>,
        spec: &JobSpec,
        generation: &GenerationSpec,
    ) -> Result<Option<ReferenceImage>, Stop> {
        let Some((member, key)) = spec
            .cast
            .iter()
            .find_map(|m| m.reference_key.as_deref().map(|key| (m, key)))
        else {
            return Ok(None);
        };
        let handle = member.handle.clone();
        let gone = |problem: String| {
            attempt.log.warn(
                "cameo reference unavailable",
                json!({"handle": handle, "key": key, "problem": problem}),
            );
            Stop::ReferenceUnavailable(format!(
                "the verified recording of @{handle} is no longer available; \
                 @{handle} must verify their cameo again"
            ))
        };
        let started = Instant::now();
        let bytes = match self.storage.get(key, MAX_RECORDING_BYTES).await {
            Ok(Some(bytes)) => bytes,
            Ok(None) => return Err(gone("not in storage".into())),
            Err(e @ StorageError::TooLarge { .. }) => return Err(gone(e.to_string())),
            Err(e) => return Err(Stop::Retry(e.to_string())),
        };
        let (who, width, height) = (handle.clone(), generation.width, generation.height);
        let decoded = tokio::task::spawn_blocking(move || {
            crate::media::reference::from_recording(&who, &bytes, width, height)
        })
        .await
        .map_err(|e| Stop::Retry(format!("the reference decode died: {e}")))?;
        match decoded {
            Ok(image) => {
                // The handle and key only: the picture is someone's face.
                attempt.log.info(
                    "cameo reference frame",
                    json!({
                        "handle": handle,
                        "key": key,
                        "decode_ms": started.elapsed().as_millis() as u64,
                    }),
                );
                Ok(Some(image))
            }
            Err(problem) => Err(gone(problem)),
        }
    }

    /// Reads and checks `jobs/{id}.json`.
    async fn fetch_spec(&self, job_id: &str) -> Result<JobSpec, Stop> {
        let key = job_key(job_id);
        let bytes = match self.storage.get(&key, MAX_SPEC_BYTES).await {
            Ok(Some(bytes)) => bytes,
            Ok(None) => {
                return Err(Stop::Invalid {
                    reason: format!("no job spec at {key}"),
                    report: false,
                });
            }
            Err(e @ StorageError::TooLarge { .. }) => {
                return Err(Stop::Invalid {
                    reason: e.to_string(),
                    report: false,
                });
            }
            Err(e) => return Err(Stop::Retry(e.to_string())),
        };
        match serde_json::from_slice::<JobSpec>(&bytes) {
            Ok(spec) if spec.job_id == job_id => Ok(spec),
            // A spec under one id naming another must not touch either job.
            Ok(spec) => Err(Stop::Invalid {
                reason: format!("the spec at {key} names job {:?}", spec.job_id),
                report: false,
            }),
            Err(e) => {
                let names_job = serde_json::from_slice::<Value>(&bytes)
                    .ok()
                    .is_some_and(|v| v.get("job_id").and_then(Value::as_str) == Some(job_id));
                Err(Stop::Invalid {
                    reason: format!("malformed job spec: {e}"),
                    report: names_job,
                })
            }
        }
    }

    /// Renders on the blocking pool while this task posts throttled
    /// progress and keeps the lease alive.
    async fn render(
        &self,
        attempt: &Attempt<'_>,
        spec: GenerationSpec,
    ) -> Result<(RenderedClip, Option<FrameSampler>), Stop> {
        let cancel = Arc::new(AtomicBool::new(false));
        let refused = Arc::new(Mutex::new(None::<String>));
        let (tx, rx) = watch::channel(None);
        let progress = tokio::spawn(progress_loop(
            self.edge.clone(),
            attempt.job_id.to_owned(),
            attempt.log.clone(),
            rx,
            self.config.progress_interval,
            cancel.clone(),
            refused.clone(),
        ));
        let mut render = tokio::task::spawn_blocking({
            let (model, cancel) = (self.model.clone(), cancel.clone());
            let mut sampler = self.frames.as_ref().map(|policy| policy.sampler(&spec));
            move || {
                let map = Mutex::new(ProgressMap::new());
                let report = |p: Progress| {
                    let value = map.lock().unwrap_or_else(|e| e.into_inner()).update(p);
                    tx.send_replace(Some(value));
                };
                render_sampled(&*model, &spec, &report, &cancel, sampler.as_mut())
                    .map(|clip| (clip, sampler))
            }
        });

        let period = Duration::from_millis((self.config.lease_ms / 3).max(50));
        let mut heartbeat = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut lost = false;
        let joined = loop {
            tokio::select! {
                joined = &mut render => break joined,
                _ = heartbeat.tick(), if !lost => {
                    match self.renew(attempt).await {
                        Ok(true) => {}
                        Ok(false) => {
                            lost = true;
                            cancel.store(true, Ordering::Relaxed);
                        }
                        // Keep going: the lease is checked again before upload.
                        Err(e) => attempt.log.warn("lease renewal failed", json!({"error": e})),
                    }
                }
            }
        };
        // The last progress post lands before anything later is sent.
        let _ = progress.await;
        if lost {
            return Err(Stop::LeaseLost);
        }
        if let Some(reason) = refused.lock().unwrap_or_else(|e| e.into_inner()).take() {
            return Err(Stop::Refused(reason));
        }
        match joined {
            Ok(Ok(rendered)) => Ok(rendered),
            Ok(Err(e)) => Err(render_stop(e)),
            Err(e) => Err(Stop::Retry(format!("the render task died: {e}"))),
        }
    }

    async fn renew(&self, attempt: &Attempt<'_>) -> Result<bool, String> {
        self.ledger
            .renew(
                attempt.job_id,
                &attempt.holder,
                crate::now_ms(),
                self.config.lease_ms,
            )
            .await
            .map_err(|e| e.to_string())
    }

    /// Renews the lease before a step with outside effects.
    async fn keep_lease(&self, attempt: &Attempt<'_>) -> Result<(), Stop> {
        match self.renew(attempt).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(Stop::LeaseLost),
            Err(e) => Err(Stop::Retry(e)),
        }
    }

    async fn upload(&self, job_id: &str, clip: RenderedClip) -> Result<Completion, Stop> {
        let (video_key, thumbnail_key) = media_keys(job_id);
        let bytes = clip.mp4.len() as u64;
        let retry = |e: StorageError| Stop::Retry(e.to_string());
        self.storage
            .put(&video_key, clip.mp4, "video/mp4")
            .await
            .map_err(retry)?;
        self.storage
            .put(&thumbnail_key, clip.thumbnail, "image/jpeg")
            .await
            .map_err(retry)?;
        Ok(Completion {
            video_key,
            thumbnail_key,
            duration_ms: clip.duration_ms,
            width: clip.width,
            height: clip.height,
            bytes,
            prompt_embedding: None,
        })
    }
}

/// What a failed render means for the job: a refused spec or a model that
/// will refuse again ends it; anything else is worth another attempt.
fn render_stop(e: RenderError) -> Stop {
    match e {
        RenderError::InvalidSpec(_) => Stop::Invalid {
            reason: e.to_string(),
            report: true,
        },
        RenderError::Model(ModelError::ContentRefused(reason)) => Stop::ProviderBlocked(reason),
        RenderError::Model(ref model) if !model.is_retryable() => Stop::Invalid {
            reason: e.to_string(),
            report: true,
        },
        e => Stop::Retry(e.to_string()),
    }
}

/// The model's spec from the edge's.
fn generation_spec(spec: &JobSpec) -> Result<GenerationSpec, Stop> {
    let aspect = Aspect::parse(&spec.aspect).ok_or_else(|| Stop::Invalid {
        reason: format!("unknown aspect {:?}", spec.aspect),
        report: true,
    })?;
    let generation = GenerationSpec::new(model_prompt(spec), spec.duration_ms, aspect, spec.seed);
    generation.validate().map_err(|e| Stop::Invalid {
        reason: e.to_string(),
        report: true,
    })?;
    Ok(generation)
}

/// The prompt as the model gets it: the member's words, then what each cast
/// person asked of every clip they appear in ("@ana: always wearing glasses").
fn model_prompt(spec: &JobSpec) -> String {
    let mut prompt = spec.prompt.clone();
    for member in spec.cast.iter().filter(|m| !m.preferences.is_empty()) {
        let line = format!("\n@{}: {}", member.handle, member.preferences.join("; "));
        // Past the model's limit a wish is dropped rather than the job.
        if prompt.len() + line.len() <= crate::spec::MAX_PROMPT_BYTES {
            prompt.push_str(&line);
        }
    }
    prompt
}

/// Posts the latest progress at most once per `interval` until the render
/// ends. A 409 answer stops the job (the edge no longer wants it).
async fn progress_loop(
    edge: EdgeClient,
    job_id: String,
    log: JobLog,
    mut rx: watch::Receiver<Option<(CallbackStage, f32)>>,
    interval: Duration,
    cancel: Arc<AtomicBool>,
    refused: Arc<Mutex<Option<String>>>,
) {
    let mut last_sent: Option<Instant> = None;
    while rx.changed().await.is_ok() {
        if let Some(wait) = last_sent.map(|t| interval.saturating_sub(t.elapsed())) {
            tokio::time::sleep(wait).await;
        }
        // The render finished meanwhile: the pipeline posts the next stage itself.
        if rx.has_changed().is_err() {
            return;
        }
        let Some((stage, value)) = *rx.borrow_and_update() else {
            continue;
        };
        match edge.progress(&job_id, value, stage, log.request_id()).await {
            Ok(Decision::Proceed) => {}
            Ok(Decision::Refuse { reason }) => {
                *refused.lock().unwrap_or_else(|e| e.into_inner()) = Some(reason);
                cancel.store(true, Ordering::Relaxed);
                return;
            }
            Err(e) => log.warn("progress callback failed", json!({"error": e.to_string()})),
        }
        last_sent = Some(Instant::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_errors_map_to_retry_or_invalid() {
        use crate::model::ModelError;
        let stop = |e: ModelError| render_stop(RenderError::Model(e));
        assert!(matches!(
            stop(ModelError::Rejected("invalid_value".into())),
            Stop::Invalid { report: true, .. }
        ));
        assert!(matches!(
            stop(ModelError::ContentRefused("moderation_blocked".into())),
            Stop::ProviderBlocked(reason) if reason == "moderation_blocked"
        ));
        for retryable in [
            ModelError::Transient("429".into()),
            ModelError::Backend("gpu".into()),
            ModelError::InvalidOutput("truncated mp4".into()),
        ] {
            assert!(matches!(stop(retryable), Stop::Retry(_)));
        }
        assert!(matches!(
            render_stop(RenderError::InvalidSpec(
                crate::spec::SpecError::EmptyPrompt
            )),
            Stop::Invalid { report: true, .. }
        ));
    }

    #[test]
    fn job_specs_map_to_generation_specs() {
        let mut spec = JobSpec {
            job_id: "01JD0000000000000000000000".into(),
            owner: "u".into(),
            prompt: "a lighthouse in a storm".into(),
            duration_ms: 10_000,
            aspect: "9:16".into(),
            seed: 3,
            remix_of: None,
            cameos: Vec::new(),
            cast: Vec::new(),
            request_id: "r".into(),
            created_at: "2024-11-01T12:00:00Z".into(),
        };
        spec.cast = vec![dreamreel_core::cameo::cast::CastMember {
            user_id: "01ANA".into(),
            handle: "ana".into(),
            preferences: vec!["Always wearing glasses".into(), "curly hair".into()],
            reference_key: None,
        }];
        assert_eq!(
            model_prompt(&spec),
            "a lighthouse in a storm\n@ana: Always wearing glasses; curly hair"
        );
        spec.cast.clear();
        let g = generation_spec(&spec).ok().unwrap();
        assert_eq!(
            (g.width, g.height, g.fps, g.frame_count()),
            (720, 1280, 24, 240)
        );
        spec.aspect = "4:3".into();
        assert!(matches!(
            generation_spec(&spec),
            Err(Stop::Invalid { report: true, .. })
        ));
    }
}
