//! Every use of a likeness: the drafts and videos that cast a member, listed
//! for them (published or not), and their power to take any of them down.

use serde::{Deserialize, Serialize};

use crate::accounts::User;
use crate::env::Env;
use crate::error::ApiError;
use crate::keys;
use crate::notifications::{self, Actor, Kind, NewNotification, Subject};
use crate::pages::{self, PagedList, Position};
use crate::store::Store;
use crate::studio::{self, Draft, Video};
use crate::time::rfc3339_from_ms;

/// Why a video a cast member took down is gone.
pub const TAKEN_DOWN_BY_CAMEO: &str = "taken_down_by_cameo";

fn list_of(owner: &str) -> PagedList<'_> {
    PagedList::new(owner, keys::appearances_head, keys::appearances_page)
}

/// Lists draft `draft_id` among the appearances of each of `cast`.
pub async fn record<S: Store>(store: &S, cast: &[String], draft_id: &str) -> Result<(), ApiError> {
    for owner in cast {
        pages::append(store, &list_of(owner), draft_id, true).await?;
    }
    Ok(())
}

/// One use of a member's likeness.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Appearance {
    /// The draft (and, once published, the video) id.
    pub id: String,
    /// Who made it.
    pub maker_id: String,
    /// Their handle.
    pub maker_handle: String,
    /// The prompt (empty once the maker deleted the draft).
    pub prompt: String,
    /// `queued`, `running`, `ready`, `failed`, `refused`, `published`,
    /// `deleted` (by its maker or by you) or `taken_down`.
    pub state: String,
    /// The video, once published.
    pub video_id: Option<String>,
    /// When it was asked for (RFC 3339).
    pub created_at: String,
}

/// A page of appearances, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppearancePage {
    /// Newest first.
    pub items: Vec<Appearance>,
    /// Where to go on.
    pub next_cursor: Option<String>,
}

fn unreadable(what: &str) -> ApiError {
    ApiError::internal(format!("a {what} record is unreadable"))
}

/// The drafts and videos casting `owner`, newest first.
pub async fn list<S: Store>(
    store: &S,
    owner: &str,
    cursor: Option<&str>,
    limit: usize,
) -> Result<AppearancePage, ApiError> {
    let from = cursor.map(Position::decode).transpose()?;
    let (ids, next) = pages::read_newest_first(store, &list_of(owner), from, limit, 4).await?;
    let draft_keys: Vec<String> = ids.iter().map(|id| keys::draft(id)).collect();
    let drafts: Vec<Draft> = store
        .get_many(&draft_keys)
        .await?
        .into_iter()
        .flatten()
        .map(|b| serde_json::from_slice(&b).map_err(|_| unreadable("draft")))
        .collect::<Result<_, _>>()?;
    let video_keys: Vec<String> = drafts.iter().map(|d| keys::video(&d.id)).collect();
    let maker_keys: Vec<String> = drafts.iter().map(|d| keys::user(&d.owner)).collect();
    let videos = store.get_many(&video_keys).await?;
    let makers = store.get_many(&maker_keys).await?;
    let mut items = Vec::with_capacity(drafts.len());
    for ((draft, video), maker) in drafts.into_iter().zip(videos).zip(makers) {
        items.push(describe(draft, decode_video(video)?, maker));
    }
    Ok(AppearancePage {
        items,
        next_cursor: next.map(|p| p.encode()),
    })
}

/// `owner` takes down appearance `id`: a published video is removed
/// everywhere (feeds, links, its page), a draft is deleted from its maker's
/// drafts. The maker is told. 404 unless the draft casts `owner`.
pub async fn take_down<S: Store>(
    store: &S,
    env: &dyn Env,
    owner: &User,
    id: &str,
) -> Result<Appearance, ApiError> {
    let not_found = || ApiError::not_found("no such appearance");
    if !studio::validate::is_ulid(id) {
        return Err(not_found());
    }
    let draft: Draft = match store.get(&keys::draft(id)).await? {
        Some(b) => serde_json::from_slice(&b).map_err(|_| unreadable("draft"))?,
        None => return Err(not_found()),
    };
    if !draft.cameos.contains(&owner.id) {
        return Err(not_found());
    }
    let removed_video = studio::remove_video(store, env, id, TAKEN_DOWN_BY_CAMEO).await?;
    let removed_draft = if draft.video_id.is_none() && !draft.is_deleted() {
        match studio::delete_draft(store, env, &draft.owner, id).await {
            Ok(()) => true,
            Err(e) if e.status == 404 => false,
            Err(e) => return Err(e),
        }
    } else {
        false
    };
    if removed_video || removed_draft {
        let what = if removed_video { "video" } else { "draft" };
        let new = NewNotification {
            kind: Kind::Moderation,
            actor: Some(Actor::of(owner)),
            subject: Subject {
                video_id: removed_video.then(|| id.to_owned()),
                draft_id: removed_draft.then(|| id.to_owned()),
                ..Subject::default()
            },
            text: Some(format!(
                "@{} took down your {what} that cast them",
                owner.handle
            )),
        };
        notifications::notify(store, env, &draft.owner, new).await?;
    }
    let keys = [keys::draft(id), keys::video(id), keys::user(&draft.owner)];
    let [draft, video, maker]: [Option<Vec<u8>>; 3] = store
        .get_many(&keys)
        .await?
        .try_into()
        .map_err(|_| ApiError::internal("a batched read came back short"))?;
    let draft = draft.ok_or_else(not_found)?;
    let draft: Draft = serde_json::from_slice(&draft).map_err(|_| unreadable("draft"))?;
    Ok(describe(draft, decode_video(video)?, maker))
}

fn decode_video(bytes: Option<Vec<u8>>) -> Result<Option<Video>, ApiError> {
    bytes
        .map(|b| serde_json::from_slice(&b).map_err(|_| unreadable("video")))
        .transpose()
}

/// An appearance from its draft, its video (if published) and its maker's record.
fn describe(draft: Draft, video: Option<Video>, maker: Option<Vec<u8>>) -> Appearance {
    let maker_handle = maker
        .and_then(|b| serde_json::from_slice::<User>(&b).ok())
        .map(|u| u.handle)
        .unwrap_or_default();
    let state = match &video {
        Some(v) if v.is_live() => "published",
        Some(v) if v.removed.as_ref().is_some_and(|r| r.reason == "deleted") => "deleted",
        Some(_) => "taken_down",
        None if draft.is_deleted() => "deleted",
        None => draft.status.as_str(),
    };
    Appearance {
        id: draft.id.clone(),
        maker_id: draft.owner.clone(),
        maker_handle,
        prompt: video.map_or(draft.prompt.clone(), |v| v.prompt),
        state: state.to_owned(),
        video_id: draft.video_id.clone(),
        created_at: rfc3339_from_ms(draft.created_at_ms),
    }
}
