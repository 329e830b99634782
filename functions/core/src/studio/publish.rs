//! Publishing a ready draft as a video, and the remix lineage.
//!
//! The video takes the draft's id and is created by compare-and-swap, so
//! two publishes (a retry, a double tap) make one video. After it exists,
//! the source's remix list gets the id (a unique append) and the draft
//! records the video; a publish that stopped half-way is finished by the
//! next one. A video that cannot be written unmarks the draft again.

use crate::accounts::User;
use crate::env::Env;
use crate::error::ApiError;
use crate::keys;
use crate::notifications::{self, Actor, Kind, NewNotification, Subject};
use crate::pages::{self, PagedList, Position};
use crate::store::Store;
use crate::studio::record::{self, Change};
use crate::studio::validate::{self, is_ulid};
use crate::studio::{DraftStatus, PublishRequest, Video};

/// Remixes per page when the caller names no limit.
const DEFAULT_REMIX_PAGE: usize = 20;
/// Most remixes per page.
const MAX_REMIX_PAGE: usize = 50;

/// The outcome of a publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    /// The video.
    pub video: Video,
    /// `true` the first time (201), `false` when it was already published (200).
    pub created: bool,
}

/// Publishes the caller's ready draft `draft_id` with a caption.
///
/// The draft is marked first (by compare-and-swap, so a concurrent delete
/// or callback is seen), then the video is created; a publish that stopped
/// between the two is finished by the next one.
pub async fn publish<S: Store>(
    store: &S,
    env: &dyn Env,
    user: &User,
    draft_id: &str,
    req: PublishRequest,
) -> Result<Published, ApiError> {
    let caption = validate::caption(req.caption.as_deref())?;
    if !is_ulid(draft_id) {
        return Err(not_found());
    }
    let now = env.now_ms();
    let marked = record::update(store, draft_id, |d| {
        if d.owner != user.id || d.is_deleted() {
            return Err(not_found());
        }
        if d.video_id.is_some() {
            return Ok(Change::Keep(false));
        }
        if d.status != DraftStatus::Ready || d.media.is_none() {
            return Err(ApiError::conflict(
                "draft_not_ready",
                format!(
                    "only a ready draft can be published; this one is {}",
                    d.status.as_str()
                ),
            ));
        }
        let mut next = d.clone();
        next.video_id = Some(d.id.clone());
        next.updated_at_ms = now;
        Ok(Change::Write(Box::new(next), true))
    })
    .await?;
    let Some((draft, marked_now)) = marked else {
        return Err(not_found());
    };
    let (video, created) = match load_video(store, &draft.id).await? {
        Some(video) => (video, false),
        None => {
            let video = Video {
                id: draft.id.clone(),
                owner: user.id.clone(),
                owner_handle: user.handle.clone(),
                caption,
                prompt: draft.prompt.clone(),
                aspect: draft.aspect.clone(),
                seed: draft.seed,
                media: draft
                    .media
                    .clone()
                    .ok_or_else(|| ApiError::internal("a published draft has no media"))?,
                remix_of: draft.remix_of.clone(),
                cameos: draft.cameos.clone(),
                generated_at_ms: draft.created_at_ms,
                published_at_ms: now,
                removed: None,
            };
            let bytes = serde_json::to_vec(&video).expect("videos serialise");
            let written = store
                .compare_and_swap(&keys::video(&video.id), None, &bytes)
                .await;
            if let Err(e) = written {
                // No draft marked published without its video: unmark it.
                if marked_now {
                    let _ = unmark(store, &draft.id).await;
                }
                return Err(e.into());
            }
            if written? {
                (video, true)
            } else {
                // A concurrent publish won; its video is the one.
                let winner = load_video(store, &draft.id).await?;
                (
                    winner.ok_or_else(|| ApiError::internal("a video vanished"))?,
                    false,
                )
            }
        }
    };
    if let Some(source) = &video.remix_of {
        pages::append(store, &PagedList::remixes(source), &video.id, true).await?;
    }
    // The feeds' indexes; a retry finishes them like the remix list.
    crate::feed::on_published(store, &video, created).await?;
    crate::feed::similar::on_published(store, &video).await?;
    if created {
        announce(store, env, user, &video).await?;
    }
    Ok(Published { video, created })
}

/// Clears the video id of draft `id` while no video stands for it.
async fn unmark<S: Store>(store: &S, id: &str) -> Result<(), ApiError> {
    if load_video(store, id).await?.is_some() {
        return Ok(());
    }
    record::update(store, id, |d| {
        if d.video_id.is_none() {
            return Ok(Change::Keep(()));
        }
        let mut next = d.clone();
        next.video_id = None;
        Ok(Change::Write(Box::new(next), ()))
    })
    .await?;
    Ok(())
}

/// Tells the source video's maker about a remix and each cast member that
/// their likeness went public.
async fn announce<S: Store>(
    store: &S,
    env: &dyn Env,
    user: &User,
    video: &Video,
) -> Result<(), ApiError> {
    let actor = Actor::of(user);
    let about = |kind| NewNotification {
        kind,
        actor: Some(actor.clone()),
        subject: Subject {
            video_id: Some(video.id.clone()),
            ..Subject::default()
        },
        text: Some(video.caption.clone()),
    };
    if let Some(source) = &video.remix_of
        && let Some(original) = load_video(store, source).await?
    {
        notifications::notify(store, env, &original.owner, about(Kind::Remix)).await?;
    }
    for cast in &video.cameos {
        notifications::notify(store, env, cast, about(Kind::CameoPublished)).await?;
    }
    Ok(())
}

fn not_found() -> ApiError {
    ApiError::not_found("no such draft")
}

async fn load_video<S: Store>(store: &S, id: &str) -> Result<Option<Video>, ApiError> {
    match store.get(&keys::video(id)).await? {
        Some(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|_| ApiError::internal("a video record is unreadable")),
        None => Ok(None),
    }
}

/// A live video; 404 for unknown, malformed, deleted or taken-down ids.
pub async fn get_video<S: Store>(store: &S, id: &str) -> Result<Video, ApiError> {
    if !is_ulid(id) {
        return Err(ApiError::not_found("no such video"));
    }
    load_video(store, id)
        .await?
        .filter(Video::is_live)
        .ok_or_else(|| ApiError::not_found("no such video"))
}

/// Takes video `id` down for `reason` (`deleted`, `taken_down`,
/// `taken_down_by_cameo`, ...): it stays as a tombstone, so every feed,
/// page and link refuses it from now on. `false` when there was no live video.
pub async fn remove_video<S: Store>(
    store: &S,
    env: &dyn Env,
    id: &str,
    reason: &str,
) -> Result<bool, ApiError> {
    let key = keys::video(id);
    for _ in 0..crate::pages::MAX_CAS_TRIES {
        let Some(bytes) = store.get(&key).await? else {
            return Ok(false);
        };
        let mut video: Video = serde_json::from_slice(&bytes)
            .map_err(|_| ApiError::internal("a video record is unreadable"))?;
        if !video.is_live() {
            return Ok(false);
        }
        video.removed = Some(crate::studio::Removal {
            at_ms: env.now_ms(),
            reason: reason.to_owned(),
        });
        let next = serde_json::to_vec(&video).expect("videos serialise");
        if store.compare_and_swap(&key, Some(&bytes), &next).await? {
            // A takedown may be restored; any other removal is for good.
            if reason != crate::safety::reports::TAKEN_DOWN {
                store.delete(&keys::caption_embedding(id)).await?;
            }
            return Ok(true);
        }
    }
    Err(crate::pages::busy())
}

/// One page of the ids of videos remixing a video, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemixList {
    /// Video ids, newest first.
    pub video_ids: Vec<String>,
    /// Where to go on; `None` at the first remix.
    pub next_cursor: Option<String>,
}

/// The remixes of video `id` (which must exist), newest first.
pub async fn list_remixes<S: Store>(
    store: &S,
    id: &str,
    cursor: Option<&str>,
    limit: Option<usize>,
) -> Result<RemixList, ApiError> {
    get_video(store, id).await?;
    let limit = limit.unwrap_or(DEFAULT_REMIX_PAGE).clamp(1, MAX_REMIX_PAGE);
    let from = cursor.map(Position::decode).transpose()?;
    let (video_ids, next) =
        pages::read_newest_first(store, &PagedList::remixes(id), from, limit, 4).await?;
    Ok(RemixList {
        video_ids,
        next_cursor: next.map(|p| p.encode()),
    })
}
