//! Stored records ([`Draft`], [`Video`]) and what clients see of them
//! ([`DraftView`], [`VideoView`]), kept apart so bookkeeping (quota day,
//! index page, idempotency hash) never reaches a response.

use serde::{Deserialize, Serialize};

use crate::cameo::cast::CastMember;

use crate::error::ApiError;
use crate::jobs::JobSpec;
use crate::time::rfc3339_from_ms;

/// `POST /v1/generations` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerationRequest {
    /// What to make: 1–1000 characters once trimmed.
    pub prompt: String,
    /// Clip length in whole seconds, 1–10; 5 when absent.
    #[serde(default)]
    pub duration_seconds: Option<u32>,
    /// `9:16` (default), `16:9` or `1:1`.
    #[serde(default)]
    pub aspect: Option<String>,
    /// Seed for a reproducible result, 0..=2^53-1; random when absent.
    #[serde(default)]
    pub seed: Option<u64>,
    /// Handles of the members to cast.
    #[serde(default)]
    pub cameos: Vec<String>,
    /// Id of the published video this remixes.
    #[serde(default)]
    pub remix_of: Option<String>,
}

/// `POST /v1/drafts/{id}/publish` body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishRequest {
    /// At most 300 characters; empty when absent.
    #[serde(default)]
    pub caption: Option<String>,
}

/// Where a draft is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DraftStatus {
    /// Accepted; the job is waiting for a worker.
    Queued,
    /// A worker is generating it.
    Running,
    /// Media uploaded; it can be watched and published.
    Ready,
    /// Generation failed; the quota was refunded.
    Failed,
    /// The edge refused to let it run (e.g. consent withdrawn); refunded.
    Refused,
}

impl DraftStatus {
    /// Whether the draft will not change any more (publishing aside).
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Ready | Self::Failed | Self::Refused)
    }

    /// The status as its JSON text.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Ready => "ready",
            Self::Failed => "failed",
            Self::Refused => "refused",
        }
    }
}

/// The finished media of a ready draft, as the worker reported it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DraftMedia {
    /// `media/{id}/video.mp4`.
    pub video_key: String,
    /// `media/{id}/thumb.jpg`.
    pub thumbnail_key: String,
    /// Real clip length.
    pub duration_ms: u32,
    /// Pixels.
    pub width: u32,
    /// Pixels.
    pub height: u32,
    /// MP4 size.
    pub bytes: u64,
}

/// Why a draft ended without media.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// Stable code (`generation_failed`, `invalid_spec`, `draft_deleted`, ...).
    pub code: String,
    /// For people.
    pub reason: String,
}

/// A generation and its outcome, stored under [`crate::keys::draft`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Draft {
    /// ULID; also the job id and, once published, the video id.
    pub id: String,
    /// The maker's user id.
    pub owner: String,
    /// Trimmed prompt (erased when the draft is deleted).
    pub prompt: String,
    /// Requested length.
    pub duration_ms: u32,
    /// `9:16`, `16:9` or `1:1`.
    pub aspect: String,
    /// The seed the worker uses.
    pub seed: u64,
    /// User ids of cast members.
    #[serde(default)]
    pub cameos: Vec<String>,
    /// The cast as the model gets them (handles, preferences, references).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cast: Vec<CastMember>,
    /// The published video this remixes.
    #[serde(default)]
    pub remix_of: Option<String>,
    /// Where it is.
    pub status: DraftStatus,
    /// 0..=1 while running; 1 when ready.
    pub progress: f64,
    /// The worker's current stage while running.
    #[serde(default)]
    pub stage: Option<String>,
    /// Highest worker attempt seen by `start`.
    #[serde(default)]
    pub attempt: u32,
    /// Set when ready.
    #[serde(default)]
    pub media: Option<DraftMedia>,
    /// Set when failed or refused.
    #[serde(default)]
    pub failure: Option<Failure>,
    /// Set once published.
    #[serde(default)]
    pub video_id: Option<String>,
    /// The request that created it, carried into the job and the logs.
    pub request_id: String,
    /// Hash of the `Idempotency-Key` that created it, if any.
    #[serde(default)]
    pub idempotency_hash: Option<String>,
    /// UTC day (`YYYY-MM-DD`) whose quota it was counted against.
    pub quota_day: String,
    /// Whether that quota was given back (claimed once, in the swap that ends the draft).
    #[serde(default)]
    pub quota_refunded: bool,
    /// Page of the maker's draft index holding its id.
    pub index_page: u64,
    /// Unix ms.
    pub created_at_ms: u64,
    /// Unix ms.
    pub updated_at_ms: u64,
    /// Unix ms; a deleted draft is a tombstone nobody can see.
    #[serde(default)]
    pub deleted_at_ms: Option<u64>,
}

impl Draft {
    /// The job spec for this draft. Deterministic, so writing it again
    /// (an idempotent retry) writes the same bytes.
    pub fn job_spec(&self) -> JobSpec {
        JobSpec {
            job_id: self.id.clone(),
            owner: self.owner.clone(),
            prompt: self.prompt.clone(),
            duration_ms: self.duration_ms,
            aspect: self.aspect.clone(),
            seed: self.seed,
            remix_of: self.remix_of.clone(),
            cameos: self.cameos.clone(),
            cast: self.cast.clone(),
            request_id: self.request_id.clone(),
            created_at: rfc3339_from_ms(self.created_at_ms),
        }
    }

    /// Whether the draft was deleted.
    pub fn is_deleted(&self) -> bool {
        self.deleted_at_ms.is_some()
    }

    /// What the maker sees; media links (when ready) come from `signer`.
    pub fn view(&self, signer: &dyn MediaSigner) -> Result<DraftView, ApiError> {
        let media = match (&self.media, self.status) {
            (Some(m), DraftStatus::Ready) => Some(MediaView::of(m, signer)?),
            _ => None,
        };
        Ok(DraftView {
            id: self.id.clone(),
            status: self.status,
            prompt: self.prompt.clone(),
            duration_seconds: self.duration_ms.div_ceil(1000),
            aspect: self.aspect.clone(),
            seed: self.seed,
            cameos: self.cameos.clone(),
            remix_of: self.remix_of.clone(),
            progress: self.progress,
            stage: self.stage.clone(),
            failure: self.failure.clone(),
            media,
            video_id: self.video_id.clone(),
            created_at: rfc3339_from_ms(self.created_at_ms),
            updated_at: rfc3339_from_ms(self.updated_at_ms),
        })
    }
}

/// Makes short-lived links to stored media (presigned GET URLs in the edge).
pub trait MediaSigner {
    /// A URL that fetches object `key` until [`MediaSigner::expires_at_ms`].
    fn url(&self, key: &str) -> Result<String, ApiError>;
    /// When the links this signer makes stop working, Unix ms.
    fn expires_at_ms(&self) -> u64;
}

/// Media links and facts, as clients see them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MediaView {
    /// Short-lived GET URL of the MP4 (supports Range requests).
    pub video_url: String,
    /// Short-lived GET URL of the JPEG thumbnail.
    pub thumbnail_url: String,
    /// When both URLs stop working (RFC 3339); fetch the draft again for new ones.
    pub expires_at: String,
    /// Real clip length.
    pub duration_ms: u32,
    /// Pixels.
    pub width: u32,
    /// Pixels.
    pub height: u32,
    /// MP4 size.
    pub bytes: u64,
}

impl MediaView {
    fn of(media: &DraftMedia, signer: &dyn MediaSigner) -> Result<Self, ApiError> {
        Ok(MediaView {
            video_url: signer.url(&media.video_key)?,
            thumbnail_url: signer.url(&media.thumbnail_key)?,
            expires_at: rfc3339_from_ms(signer.expires_at_ms()),
            duration_ms: media.duration_ms,
            width: media.width,
            height: media.height,
            bytes: media.bytes,
        })
    }
}

/// A draft as its maker sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DraftView {
    /// ULID.
    pub id: String,
    /// `queued`, `running`, `ready`, `failed` or `refused`.
    pub status: DraftStatus,
    /// The prompt.
    pub prompt: String,
    /// Requested length.
    pub duration_seconds: u32,
    /// Aspect ratio.
    pub aspect: String,
    /// Seed used.
    pub seed: u64,
    /// User ids of cast members.
    pub cameos: Vec<String>,
    /// Source video of a remix.
    pub remix_of: Option<String>,
    /// 0..=1.
    pub progress: f64,
    /// Worker stage while running.
    pub stage: Option<String>,
    /// Why it failed or was refused.
    pub failure: Option<Failure>,
    /// Links and facts once ready.
    pub media: Option<MediaView>,
    /// The video, once published.
    pub video_id: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
}

/// A published video, stored under [`crate::keys::video`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Video {
    /// The draft's id.
    pub id: String,
    /// The maker's user id.
    pub owner: String,
    /// The maker's handle at publishing.
    pub owner_handle: String,
    /// Up to 300 characters.
    pub caption: String,
    /// The prompt it was made from.
    pub prompt: String,
    /// Aspect ratio.
    pub aspect: String,
    /// Seed used.
    pub seed: u64,
    /// The media.
    pub media: DraftMedia,
    /// Source video of a remix.
    #[serde(default)]
    pub remix_of: Option<String>,
    /// User ids of cast members.
    #[serde(default)]
    pub cameos: Vec<String>,
    /// Unix ms the draft was asked for.
    pub generated_at_ms: u64,
    /// Unix ms of publishing.
    pub published_at_ms: u64,
    /// Set once the video is deleted by its maker or taken down; a removed
    /// video stays as a tombstone so likes, comments and feeds can refuse it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removed: Option<Removal>,
}

/// Why and when a video stopped being visible.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Removal {
    /// Unix ms of the removal.
    pub at_ms: u64,
    /// `deleted` (by its maker), `taken_down` (safety or a cameo owner) or
    /// `account_deleted`.
    pub reason: String,
}

impl Video {
    /// Whether anyone but its maker may still see it.
    pub fn is_live(&self) -> bool {
        self.removed.is_none()
    }

    /// What anyone may see; media links come from `signer`.
    pub fn view(&self, signer: &dyn MediaSigner) -> Result<VideoView, ApiError> {
        Ok(VideoView {
            id: self.id.clone(),
            owner_id: self.owner.clone(),
            owner_handle: self.owner_handle.clone(),
            caption: self.caption.clone(),
            prompt: self.prompt.clone(),
            aspect: self.aspect.clone(),
            remix_of: self.remix_of.clone(),
            media: MediaView::of(&self.media, signer)?,
            created_at: rfc3339_from_ms(self.published_at_ms),
        })
    }
}

/// A published video as clients see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VideoView {
    /// ULID (the draft's id).
    pub id: String,
    /// The maker.
    pub owner_id: String,
    /// The maker's handle.
    pub owner_handle: String,
    /// Caption.
    pub caption: String,
    /// The prompt.
    pub prompt: String,
    /// Aspect ratio.
    pub aspect: String,
    /// Source video of a remix.
    pub remix_of: Option<String>,
    /// Links and facts.
    pub media: MediaView,
    /// When it was published (RFC 3339).
    pub created_at: String,
}

/// What an `Idempotency-Key` produced, under [`crate::keys::generation_idempotency`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    /// The draft the first request created (or is creating).
    pub draft_id: String,
    /// Hash of the normalised request, to refuse the key with another body.
    pub fingerprint: String,
    /// Unix ms of the claim.
    pub created_at_ms: u64,
}
