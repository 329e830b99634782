//! The worker's callbacks: `start`, `progress`, `complete`, `fail`.
//!
//! Each is HMAC-signed ([`crate::jobs::CallbackAuth`]) and carries a nonce
//! that works once ([`authenticate`]). Each is idempotent and tolerant of
//! order: a `progress` after `complete` is ignored, a second `complete`
//! changes nothing, a `fail` refunds the quota once however often it comes.
//!
//! Every answer is a [`Decision`]: `200 {"proceed": true}` to carry on, or
//! `409 {"proceed": false, "reason": ...}` when the edge no longer wants the
//! job (draft deleted, already ended, unknown). A `fail` is acknowledged
//! with `200 {"proceed": false}`.
//!
//! Bodies are read leniently (unknown fields are ignored) so a newer worker
//! can add fields without breaking an older edge.

use serde::{Deserialize, Serialize};

use crate::env::Env;
use crate::error::ApiError;
use crate::jobs::callback::MAX_SKEW_SECS;
use crate::jobs::{CallbackAuth, Quantized, WireEmbedding, media_keys};
use crate::keys;
use crate::notifications::{self, Actor, Kind, NewNotification, Subject};
use crate::store::Store;
use crate::studio::record::{self, Change};
use crate::studio::validate::is_ulid;
use crate::studio::{Draft, DraftMedia, DraftStatus, Failure};

/// A nonce must be remembered while its timestamp could still pass the skew check.
pub const NONCE_MEMORY_MS: u64 = 2 * MAX_SKEW_SECS * 1000;
/// Longest failure reason kept; longer ones are cut.
pub const MAX_REASON_CHARS: usize = 500;
/// Longest clip the worker may report (ten seconds, and a frame's slack).
const MAX_REPORTED_DURATION_MS: u32 = 10_100;
/// Largest frame side the worker may report.
const MAX_SIDE: u32 = 4096;

/// Checks a callback's signature and freshness, then claims its nonce so
/// the same call cannot be played again. 401 with `callback_unsigned`,
/// `callback_bad_signature`, `callback_stale` or `callback_replayed`.
pub async fn authenticate<S: Store>(
    store: &S,
    env: &dyn Env,
    key: &[u8],
    method: &str,
    path: &str,
    body: &[u8],
    headers: (Option<&str>, Option<&str>, Option<&str>),
) -> Result<(), ApiError> {
    let now = env.now_ms();
    CallbackAuth::new(key).verify(method, path, body, headers, now / 1000)?;
    let nonce = headers.1.unwrap_or_default().to_ascii_lowercase();
    let forget_after = now.saturating_add(NONCE_MEMORY_MS).to_string();
    if !store
        .compare_and_swap(&keys::callback_nonce(&nonce), None, forget_after.as_bytes())
        .await?
    {
        return Err(ApiError::unauthorized(
            "callback_replayed",
            "this callback's nonce was already used; sign every call afresh",
        ));
    }
    Ok(())
}

/// Go on, or stop and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// Whether the worker should carry on.
    pub proceed: bool,
    /// Why not, when it should stop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A callback's answer: status (200 or 409) and decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// The body.
    pub decision: Decision,
}

impl Answer {
    fn proceed() -> Self {
        Self {
            status: 200,
            decision: Decision {
                proceed: true,
                reason: None,
            },
        }
    }

    fn stop(reason: &str) -> Self {
        Self {
            status: 409,
            decision: Decision {
                proceed: false,
                reason: Some(reason.to_owned()),
            },
        }
    }

    fn acknowledged() -> Self {
        Self {
            status: 200,
            decision: Decision {
                proceed: false,
                reason: None,
            },
        }
    }
}

/// `start` body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct StartRequest {
    /// Which try this is, from 1.
    #[serde(default)]
    pub attempt: u32,
}

/// `progress` body.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ProgressRequest {
    /// 0..=1.
    pub progress: f64,
    /// `generating`, `encoding`, `uploading`...: up to 32 of `[a-z_]`.
    #[serde(default)]
    pub stage: Option<String>,
}

/// `complete` body: the uploaded media.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct CompleteRequest {
    /// Must be `media/{id}/video.mp4`.
    pub video_key: String,
    /// Must be `media/{id}/thumb.jpg`.
    pub thumbnail_key: String,
    /// Real clip length.
    pub duration_ms: u32,
    /// Pixels.
    pub width: u32,
    /// Pixels.
    pub height: u32,
    /// MP4 size.
    pub bytes: u64,
    /// The prompt's text embedding, when the worker runs the model; the
    /// feed's "similar" source uses it ([`crate::feed::similar`]).
    #[serde(default)]
    pub prompt_embedding: Option<WireEmbedding>,
}

/// `fail` body.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct FailRequest {
    /// Stable code, up to 64 of `[a-z0-9_]` (`generation_failed`, `invalid_spec`...).
    pub code: String,
    /// For people; cut to [`MAX_REASON_CHARS`].
    #[serde(default)]
    pub reason: String,
    /// Tries made.
    #[serde(default)]
    pub attempts: Option<u32>,
}

fn stop_for(d: &Draft) -> Option<Answer> {
    if d.is_deleted() {
        return Some(Answer::stop("draft_deleted"));
    }
    match d.status {
        DraftStatus::Failed => Some(Answer::stop("draft_failed")),
        DraftStatus::Refused => Some(Answer::stop("draft_refused")),
        _ => None,
    }
}

fn unknown() -> Answer {
    Answer::stop("unknown_job")
}

/// `start`: may attempt `attempt` run? Marks the draft running. Refused
/// (409) for a deleted, ended or unknown draft, and for a remix whose source
/// video is gone (the draft then ends `refused`, refunded).
pub async fn start<S: Store>(
    store: &S,
    env: &dyn Env,
    job_id: &str,
    req: StartRequest,
) -> Result<Answer, ApiError> {
    if !is_ulid(job_id) {
        return Ok(unknown());
    }
    // Rules that may refuse a job before it runs are re-checked here, since
    // the world may have changed since it was queued.
    let refusal = match record::load(store, job_id).await? {
        Some(draft) => refusal_at_start(store, env.now_ms(), &draft).await?,
        None => None,
    };
    let now = env.now_ms();
    let mut before = None;
    let outcome = record::update(store, job_id, |d| {
        before = Some(d.status);
        if let Some(answer) = stop_for(d) {
            return Ok(Change::Keep((answer, false)));
        }
        let mut next = d.clone();
        next.updated_at_ms = now;
        match d.status {
            DraftStatus::Ready => Ok(Change::Keep((Answer::stop("draft_ready"), false))),
            DraftStatus::Queued | DraftStatus::Running if refusal.is_some() => {
                let failure = refusal.clone().unwrap_or_default();
                let answer = Answer::stop(&failure.code);
                next.status = DraftStatus::Refused;
                next.stage = None;
                next.failure = Some(failure);
                let refund = !d.quota_refunded;
                next.quota_refunded = true;
                Ok(Change::Write(Box::new(next), (answer, refund)))
            }
            DraftStatus::Queued => {
                next.status = DraftStatus::Running;
                next.attempt = req.attempt.max(1);
                next.progress = 0.0;
                next.stage = Some("starting".into());
                Ok(Change::Write(Box::new(next), (Answer::proceed(), false)))
            }
            DraftStatus::Running if req.attempt > d.attempt => {
                // A new attempt after a crash starts over.
                next.attempt = req.attempt;
                next.progress = 0.0;
                next.stage = Some("starting".into());
                Ok(Change::Write(Box::new(next), (Answer::proceed(), false)))
            }
            _ => Ok(Change::Keep((Answer::proceed(), false))),
        }
    })
    .await?;
    settle(store, env, outcome, before).await
}

/// Why a queued job may no longer run: its remix source is gone, or someone
/// it casts no longer lets its maker (consent revoked, settings changed,
/// a block, a new instruction the prompt breaks).
async fn refusal_at_start<S: Store>(
    store: &S,
    now_ms: u64,
    draft: &Draft,
) -> Result<Option<Failure>, ApiError> {
    if let Some(source) = &draft.remix_of
        && store.get(&keys::video(source)).await?.is_none()
    {
        return Ok(Some(Failure {
            code: "remix_source_removed".into(),
            reason: "the video this remixes is no longer published".into(),
        }));
    }
    let consent =
        crate::cameo::cast::recheck(store, now_ms, &draft.owner, &draft.prompt, &draft.cameos)
            .await?;
    Ok(consent.map(|(_, reason)| Failure {
        code: "cameo_consent_withdrawn".into(),
        reason,
    }))
}

/// `progress`: how far along the job is. Ignored once ready; never moves
/// backwards within an attempt.
pub async fn progress<S: Store>(
    store: &S,
    env: &dyn Env,
    job_id: &str,
    req: ProgressRequest,
) -> Result<Answer, ApiError> {
    if !req.progress.is_finite() || !(0.0..=1.0).contains(&req.progress) {
        return Err(ApiError::invalid_request("progress must be a number 0-1"));
    }
    if let Some(stage) = &req.stage {
        let ok = (1..=32).contains(&stage.len())
            && stage.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
        if !ok {
            return Err(ApiError::invalid_request(
                "stage must be 1-32 characters of a-z and '_'",
            ));
        }
    }
    if !is_ulid(job_id) {
        return Ok(unknown());
    }
    update_in_flight(store, env, job_id, |d| {
        let mut next = d.clone();
        next.status = DraftStatus::Running;
        next.progress = if d.status == DraftStatus::Running {
            d.progress.max(req.progress)
        } else {
            req.progress
        };
        if req.stage.is_some() {
            next.stage = req.stage.clone();
        }
        let changed =
            next.status != d.status || next.progress != d.progress || next.stage != d.stage;
        changed.then_some(next)
    })
    .await
}

/// `complete`: the media is uploaded; the draft becomes ready (once).
pub async fn complete<S: Store>(
    store: &S,
    env: &dyn Env,
    job_id: &str,
    req: CompleteRequest,
) -> Result<Answer, ApiError> {
    if !is_ulid(job_id) {
        return Ok(unknown());
    }
    let (video_key, thumbnail_key) = media_keys(job_id);
    if req.video_key != video_key || req.thumbnail_key != thumbnail_key {
        return Err(ApiError::invalid_request(format!(
            "media must be at {video_key} and {thumbnail_key}"
        )));
    }
    if !(1..=MAX_REPORTED_DURATION_MS).contains(&req.duration_ms)
        || !(1..=MAX_SIDE).contains(&req.width)
        || !(1..=MAX_SIDE).contains(&req.height)
        || req.bytes == 0
    {
        return Err(ApiError::invalid_request(
            "duration_ms, width, height and bytes must describe a real clip",
        ));
    }
    let embedding = req
        .prompt_embedding
        .as_ref()
        .map(Quantized::from_wire)
        .transpose()?;
    // Stored under the draft's id (the video's too) before the draft turns
    // ready, so a ready draft always has it; only while the job is in flight,
    // so a repeated complete changes nothing.
    if let Some(e) = &embedding
        && let Some(d) = record::load(store, job_id).await?
        && !d.is_deleted()
        && matches!(d.status, DraftStatus::Queued | DraftStatus::Running)
    {
        store
            .set(&keys::prompt_embedding(job_id), &e.to_stored())
            .await?;
    }
    // Complete twice is complete once: a ready draft is not in flight.
    update_in_flight(store, env, job_id, |d| {
        let mut next = d.clone();
        next.status = DraftStatus::Ready;
        next.progress = 1.0;
        next.stage = None;
        next.media = Some(DraftMedia {
            video_key: req.video_key.clone(),
            thumbnail_key: req.thumbnail_key.clone(),
            duration_ms: req.duration_ms,
            width: req.width,
            height: req.height,
            bytes: req.bytes,
        });
        Some(next)
    })
    .await
}

/// `fail`: the job ended without a video. The draft becomes failed and the
/// quota is refunded, once; a deleted draft is refunded too.
pub async fn fail<S: Store>(
    store: &S,
    env: &dyn Env,
    job_id: &str,
    req: FailRequest,
) -> Result<Answer, ApiError> {
    let ok_code = (1..=64).contains(&req.code.len())
        && req
            .code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !ok_code {
        return Err(ApiError::invalid_request(
            "code must be 1-64 characters of a-z, 0-9 and '_'",
        ));
    }
    if !is_ulid(job_id) {
        return Ok(unknown());
    }
    let reason = match req.reason.trim() {
        "" => "the generation failed".to_owned(),
        r => r.chars().take(MAX_REASON_CHARS).collect(),
    };
    let now = env.now_ms();
    let mut before = None;
    let outcome = record::update(store, job_id, |d| {
        before = Some(d.status);
        let mut next = d.clone();
        next.updated_at_ms = now;
        if d.is_deleted() {
            if d.quota_refunded {
                return Ok(Change::Keep((Answer::acknowledged(), false)));
            }
            next.quota_refunded = true;
            return Ok(Change::Write(
                Box::new(next),
                (Answer::acknowledged(), true),
            ));
        }
        match d.status {
            DraftStatus::Queued | DraftStatus::Running => {
                // The worker's safety checks refuse with `content_blocked_*`.
                next.status = if req.code.starts_with("content_blocked_") {
                    DraftStatus::Refused
                } else {
                    DraftStatus::Failed
                };
                next.stage = None;
                next.failure = Some(Failure {
                    code: req.code.clone(),
                    reason: reason.clone(),
                });
                next.quota_refunded = true;
                Ok(Change::Write(
                    Box::new(next),
                    (Answer::acknowledged(), !d.quota_refunded),
                ))
            }
            // The video exists; a stray failure report does not undo it.
            DraftStatus::Ready => Ok(Change::Keep((Answer::stop("draft_ready"), false))),
            DraftStatus::Failed | DraftStatus::Refused => {
                Ok(Change::Keep((Answer::acknowledged(), false)))
            }
        }
    })
    .await?;
    settle(store, env, outcome, before).await
}

/// Applies `change` to a queued or running draft (`None` = nothing to
/// write). A stopped job gets its stop answer; news of a finished one is
/// late or repeated, and answered "proceed" without a write.
async fn update_in_flight<S: Store>(
    store: &S,
    env: &dyn Env,
    job_id: &str,
    change: impl Fn(&Draft) -> Option<Draft>,
) -> Result<Answer, ApiError> {
    let mut before = None;
    let outcome = record::update(store, job_id, |d| {
        before = Some(d.status);
        if let Some(answer) = stop_for(d) {
            return Ok(Change::Keep((answer, false)));
        }
        let next = match d.status {
            DraftStatus::Queued | DraftStatus::Running => change(d),
            _ => None,
        };
        Ok(match next {
            Some(mut next) => {
                next.updated_at_ms = env.now_ms();
                Change::Write(Box::new(next), (Answer::proceed(), false))
            }
            None => Change::Keep((Answer::proceed(), false)),
        })
    })
    .await?;
    settle(store, env, outcome, before).await
}

/// Pays a refund the winning swap claimed, and turns "no record" into 409.
/// `before` is the status the deciding read saw: a draft that left
/// queued/running in this call is announced to its maker, once.
async fn settle<S: Store>(
    store: &S,
    env: &dyn Env,
    outcome: Option<(Draft, (Answer, bool))>,
    before: Option<DraftStatus>,
) -> Result<Answer, ApiError> {
    let Some((draft, (answer, refund))) = outcome else {
        return Ok(unknown());
    };
    if refund {
        record::refund(store, &draft).await?;
    }
    let was_in_flight = matches!(before, Some(DraftStatus::Queued | DraftStatus::Running));
    if was_in_flight && draft.status.is_terminal() && !draft.is_deleted() {
        announce(store, env, &draft).await?;
    }
    Ok(answer)
}

/// Tells the maker their generation is ready, failed or was refused.
async fn announce<S: Store>(store: &S, env: &dyn Env, draft: &Draft) -> Result<(), ApiError> {
    let (kind, text) = match draft.status {
        DraftStatus::Ready => (Kind::GenerationReady, None),
        _ => (
            Kind::GenerationFailed,
            draft.failure.as_ref().map(|f| f.reason.clone()),
        ),
    };
    let new = NewNotification {
        kind,
        actor: None,
        subject: Subject {
            draft_id: Some(draft.id.clone()),
            ..Subject::default()
        },
        text,
    };
    notifications::notify(store, env, &draft.owner, new).await?;
    if draft.status == DraftStatus::Ready {
        for member in draft.cameos.iter().filter(|c| **c != draft.owner) {
            let new = NewNotification {
                kind: Kind::CameoDraftReady,
                actor: maker(store, &draft.owner).await?,
                subject: Subject {
                    draft_id: Some(draft.id.clone()),
                    ..Subject::default()
                },
                text: None,
            };
            notifications::notify(store, env, member, new).await?;
        }
    }
    Ok(())
}

/// The maker as a notification's actor.
async fn maker<S: Store>(store: &S, id: &str) -> Result<Option<Actor>, ApiError> {
    let Some(bytes) = store.get(&keys::user(id)).await? else {
        return Ok(None);
    };
    let user: crate::accounts::User = serde_json::from_slice(&bytes)
        .map_err(|_| ApiError::internal("a user record is unreadable"))?;
    Ok(Some(Actor::of(&user)))
}
