//! Liking and unliking a video, who liked it, and what a member liked.
//!
//! Entries go into the lists before the like flips: an entry whose like
//! does not stand is skipped by readers, so a request that stops half-way
//! leaves nothing wrong, and a busy list refuses the like (503, retry)
//! before anything counted changed. A count that cannot move takes the
//! flip back, so a failed request is one that did not happen.

use crate::accounts::User;
use crate::env::Env;
use crate::error::ApiError;
use crate::keys;
use crate::notifications::{Kind, Subject};
use crate::pages::{self, PagedList, Position};
use crate::store::Store;
use crate::studio::{Video, get_video};

use super::counts::{self, Counter, LIKE_SHARDS, shard_of};
use super::{blocked, edge, notify_of, ordered_unique};

/// Most entries one listing answers.
pub const MAX_PAGE_SIZE: usize = 100;
const DEFAULT_PAGE_SIZE: usize = 30;
/// Index pages one listing reads per list (unliked entries are blanks).
const MAX_INDEX_PAGES: usize = 4;

/// A video's like state after a like or unlike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LikeState {
    /// Whether the member now likes it.
    pub liked: bool,
    /// The video's like count.
    pub likes: u64,
    /// Whether this request changed anything (false for a retry).
    pub changed: bool,
}

/// One member who liked a video.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Liker {
    /// User id.
    pub user_id: String,
    /// Their current handle.
    pub handle: String,
    /// Unix ms of the like.
    pub liked_at_ms: u64,
}

/// One page of a video's likers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LikerPage {
    /// Likers (newest first within each of the video's list shards).
    pub likers: Vec<Liker>,
    /// Opaque cursor; `None` at the end.
    pub next_cursor: Option<String>,
}

/// One video a member liked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LikedVideo {
    /// The video.
    pub video_id: String,
    /// Unix ms of the like.
    pub liked_at_ms: u64,
}

/// One page of the videos a member liked, newest like first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LikedPage {
    /// Liked videos that are still live.
    pub videos: Vec<LikedVideo>,
    /// Opaque cursor; `None` at the end.
    pub next_cursor: Option<String>,
}

/// The likers list is sharded like the count (owner `{video}:{shard}`), so
/// a viral video's appends spread over [`LIKE_SHARDS`] lists.
fn likers_owner(video_id: &str, shard: u32) -> String {
    format!("{video_id}:{shard}")
}

fn likers(owner: &str) -> PagedList<'_> {
    PagedList::new(owner, keys::likers_head, keys::likers_page)
}

fn my_likes(user_id: &str) -> PagedList<'_> {
    PagedList::new(user_id, keys::my_likes_head, keys::my_likes_page)
}

/// A live video `user` may interact with: 404 unknown or removed, 403 `blocked`.
pub(crate) async fn reachable_video<S: Store>(
    store: &S,
    user_id: &str,
    video_id: &str,
) -> Result<Video, ApiError> {
    let video = get_video(store, video_id).await?;
    if crate::graph::is_blocked_either(store, user_id, &video.owner).await? {
        return Err(blocked());
    }
    Ok(video)
}

/// `user` likes video `video_id`. Liking twice is one like.
pub async fn like<S: Store>(
    store: &S,
    env: &dyn Env,
    user: &User,
    video_id: &str,
) -> Result<LikeState, ApiError> {
    let video = reachable_video(store, &user.id, video_id).await?;
    let key = keys::like(video_id, &user.id);
    if edge::decode(store.get(&key).await?.as_deref())?.on {
        return state(store, video_id, true, false).await;
    }
    let owner = likers_owner(video_id, shard_of(&user.id, LIKE_SHARDS));
    let a = pages::append(store, &likers(&owner), &user.id, true).await?;
    let b = pages::append(store, &my_likes(&user.id), video_id, true).await?;
    let flipped = edge::flip(store, &key, true, &[a, b], env.now_ms()).await?;
    let changed = flipped.is_some();
    if let Some(before) = flipped {
        if let Err(e) = counts::add(store, env, Counter::Likes, video_id, &user.id, 1).await {
            // No like without its count: the request did not happen; a retry starts over.
            edge::revert(store, &key, true, &before).await;
            return Err(e);
        }
        let subject = Subject {
            video_id: Some(video_id.to_owned()),
            ..Subject::default()
        };
        if let Err(e) = notify_of(store, env, &video.owner, Kind::Like, user, subject, None).await
            && counts::add(store, env, Counter::Likes, video_id, &user.id, -1)
                .await
                .is_ok()
        {
            // No like without its notice: the retry likes and notifies again.
            // (Had the count not moved back, the like would stand whole.)
            edge::revert(store, &key, true, &before).await;
            return Err(e);
        }
        // A like teaches the viewer's For You; it stands even if that fails.
        let _ = crate::feed::record_like(store, env, &user.id, &video).await;
    }
    state(store, video_id, true, changed).await
}

/// `user` stops liking video `video_id`; unliking what one does not like is
/// a no-op. Works on removed videos too, so members can tidy their list.
pub async fn unlike<S: Store>(
    store: &S,
    env: &dyn Env,
    user: &User,
    video_id: &str,
) -> Result<LikeState, ApiError> {
    if !crate::studio::validate::is_ulid(video_id)
        || store.get(&keys::video(video_id)).await?.is_none()
    {
        return Err(ApiError::not_found("no such video"));
    }
    let key = keys::like(video_id, &user.id);
    let changed = match edge::flip(store, &key, false, &[], env.now_ms()).await? {
        Some(before) => {
            if let Err(e) = counts::add(store, env, Counter::Likes, video_id, &user.id, -1).await {
                edge::revert(store, &key, false, &before).await;
                return Err(e);
            }
            if let [a, b] = before.pages[..] {
                let owner = likers_owner(video_id, shard_of(&user.id, LIKE_SHARDS));
                // Tidying only: readers skip entries whose like is off.
                let _ = pages::remove(store, &likers(&owner), a, &user.id).await;
                let _ = pages::remove(store, &my_likes(&user.id), b, video_id).await;
            }
            true
        }
        None => false,
    };
    state(store, video_id, false, changed).await
}

async fn state<S: Store>(
    store: &S,
    video_id: &str,
    liked: bool,
    changed: bool,
) -> Result<LikeState, ApiError> {
    let counts = counts::video_counts(store, &[video_id.to_owned()]).await?;
    Ok(LikeState {
        liked,
        likes: counts[0].likes,
        changed,
    })
}

fn page_size(limit: Option<usize>) -> Result<usize, ApiError> {
    let limit = limit.unwrap_or(DEFAULT_PAGE_SIZE);
    if limit == 0 || limit > MAX_PAGE_SIZE {
        return Err(ApiError::invalid_request(format!(
            "limit must be between 1 and {MAX_PAGE_SIZE}"
        )));
    }
    Ok(limit)
}

fn bad_cursor() -> ApiError {
    ApiError::invalid_request("cursor is not valid; start again without it")
}

/// Reads a likers cursor: `{shard}~{position}` (position empty = the shard's newest).
fn decode_likers_cursor(cursor: &str) -> Result<(u32, Option<Position>), ApiError> {
    let (raw, pos) = cursor.split_once('~').ok_or_else(bad_cursor)?;
    let shard: u32 = raw.parse().map_err(|_| bad_cursor())?;
    // The shard as we write it ("01" or "+1" are not ours).
    if shard >= LIKE_SHARDS || shard.to_string() != raw {
        return Err(bad_cursor());
    }
    let pos = (!pos.is_empty())
        .then(|| Position::decode(pos))
        .transpose()?;
    Ok((shard, pos))
}

/// Who likes video `video_id` (live), as `viewer` may see them (blocked
/// people left out). Shard by shard, newest first within a shard.
pub async fn likers_page<S: Store>(
    store: &S,
    viewer: &str,
    video_id: &str,
    cursor: Option<&str>,
    limit: Option<usize>,
) -> Result<LikerPage, ApiError> {
    let video = get_video(store, video_id).await?;
    // Hidden from people its maker blocked (and vice versa), as its page is.
    if crate::graph::is_blocked_either(store, viewer, &video.owner).await? {
        return Err(ApiError::not_found("no such video"));
    }
    let limit = page_size(limit)?;
    let (mut shard, mut from) = match cursor {
        Some(c) => decode_likers_cursor(c)?,
        None => (0, None),
    };
    let mut ids = Vec::new();
    let next = loop {
        let owner = likers_owner(video_id, shard);
        let (got, next) = pages::read_newest_first(
            store,
            &likers(&owner),
            from,
            limit - ids.len(),
            MAX_INDEX_PAGES,
        )
        .await?;
        ids.extend(got);
        match next {
            Some(p) => break Some(format!("{shard}~{}", p.encode())),
            None if shard + 1 == LIKE_SHARDS => break None,
            None => {
                shard += 1;
                from = None;
                if ids.len() >= limit {
                    break Some(format!("{shard}~"));
                }
            }
        }
    };
    let ids = ordered_unique(ids);
    let mut lookup: Vec<String> = ids.iter().map(|u| keys::like(video_id, u)).collect();
    lookup.extend(ids.iter().map(|u| keys::user(u)));
    let found = store.get_many(&lookup).await?;
    let hidden = crate::graph::blocked_among(store, viewer, &ids).await?;
    let mut out = Vec::with_capacity(ids.len());
    for (i, id) in ids.iter().enumerate() {
        let like = edge::decode(found[i].as_deref())?;
        let user: Option<User> = found[ids.len() + i]
            .as_deref()
            .and_then(|b| serde_json::from_slice(b).ok());
        if let (true, Some(user), false) = (like.on, user, hidden.contains(id)) {
            out.push(Liker {
                user_id: id.clone(),
                handle: user.handle,
                liked_at_ms: like.since_ms,
            });
        }
    }
    Ok(LikerPage {
        likers: out,
        next_cursor: next,
    })
}

/// The live videos `user_id` likes, newest like first.
pub async fn liked_videos<S: Store>(
    store: &S,
    user_id: &str,
    cursor: Option<&str>,
    limit: Option<usize>,
) -> Result<LikedPage, ApiError> {
    let limit = page_size(limit)?;
    let from = cursor.map(Position::decode).transpose()?;
    let (ids, next) =
        pages::read_newest_first(store, &my_likes(user_id), from, limit, MAX_INDEX_PAGES).await?;
    let ids = ordered_unique(ids);
    let mut lookup: Vec<String> = ids.iter().map(|v| keys::like(v, user_id)).collect();
    lookup.extend(ids.iter().map(|v| keys::video(v)));
    let found = store.get_many(&lookup).await?;
    let mut videos = Vec::with_capacity(ids.len());
    for (i, id) in ids.iter().enumerate() {
        let like = edge::decode(found[i].as_deref())?;
        let live = found[ids.len() + i]
            .as_deref()
            .and_then(|b| serde_json::from_slice::<Video>(b).ok())
            .is_some_and(|v| v.is_live());
        if like.on && live {
            videos.push(LikedVideo {
                video_id: id.clone(),
                liked_at_ms: like.since_ms,
            });
        }
    }
    Ok(LikedPage {
        videos,
        next_cursor: next.map(|p| p.encode()),
    })
}
