//! Comments on videos: one level of replies, newest-first and top-first
//! listings, deletion by the author or the video's maker, comment likes.
//!
//! A reply to a reply joins the thread of its root (the reply's author is
//! still the one notified). "Top" ranks the [`TOP_WINDOW`] most recent
//! top-level comments by likes (newest first among equals): bounded work
//! per request, at the price of older comments never ranking.
//!
//! A comment's id enters its list before its record is written; readers
//! skip ids without a record, so a request that stops half-way shows
//! nothing and a retry with the same `Idempotency-Key` finishes it. A
//! record whose counts could not move is taken back (and a tombstone
//! restored), so counts always match the comments that stand.

mod list;
mod model;

pub use list::{TOP_WINDOW, list_comments, list_replies};
pub use model::{Comment, CommentLikeState, CommentPage, CommentView, NewComment, Sort};

use crate::accounts::User;
use crate::env::Env;
use crate::error::ApiError;
use crate::ids::new_ulid;
use crate::keys;
use crate::notifications::{Kind, Subject};
use crate::pages::{self, MAX_CAS_TRIES, PagedList, busy};
use crate::store::Store;
use crate::studio::{Video, get_video, validate::is_ulid};

use super::counts::{self, Counter, count};
use super::likes::reachable_video;
use super::{blocked, check_comment, edge, notify_of};
use list::view_one;

fn comments_list(video_id: &str) -> PagedList<'_> {
    PagedList::new(video_id, keys::comments_head, keys::comments_page)
}

fn replies_list(comment_id: &str) -> PagedList<'_> {
    PagedList::new(comment_id, keys::replies_head, keys::replies_page)
}

fn no_comment() -> ApiError {
    ApiError::not_found("no such comment")
}

async fn load<S: Store>(store: &S, id: &str) -> Result<Option<(Vec<u8>, Comment)>, ApiError> {
    if !is_ulid(id) {
        return Ok(None);
    }
    match store.get(&keys::comment(id)).await? {
        None => Ok(None),
        Some(raw) => {
            let c = serde_json::from_slice(&raw)
                .map_err(|_| ApiError::internal("a comment is unreadable"))?;
            Ok(Some((raw, c)))
        }
    }
}

/// A live comment on a live video; 404 otherwise.
async fn live_comment<S: Store>(store: &S, id: &str) -> Result<(Comment, Video), ApiError> {
    let Some((_, comment)) = load(store, id).await? else {
        return Err(no_comment());
    };
    if comment.deleted_at_ms.is_some() {
        return Err(no_comment());
    }
    let video = get_video(store, &comment.video_id).await?;
    Ok((comment, video))
}

/// `user` comments on video `video_id` (or replies, with `reply_to`).
/// `idempotency_hash` (see [`crate::studio::validate::idempotency_key`])
/// makes a retried post return the first one. Returns the comment and
/// whether this call created it.
pub async fn create_comment<S: Store>(
    store: &S,
    env: &dyn Env,
    user: &User,
    video_id: &str,
    req: NewComment,
    idempotency_hash: Option<String>,
) -> Result<(CommentView, bool), ApiError> {
    let video = reachable_video(store, &user.id, video_id).await?;
    let text = req.text.trim().to_owned();
    check_comment(&text)?;
    let target = match req.reply_to.as_deref() {
        None => None,
        Some(id) => {
            let (target, _) = live_comment(store, id).await?;
            if target.video_id != video_id {
                return Err(no_comment());
            }
            if crate::graph::is_blocked_either(store, &user.id, &target.author).await? {
                return Err(blocked());
            }
            Some(target)
        }
    };
    let root = target
        .as_ref()
        .map(|t| t.parent_id.clone().unwrap_or_else(|| t.id.clone()));
    let id = match &idempotency_hash {
        None => new_ulid(env),
        Some(hash) => {
            let key = keys::comment_idempotency(&user.id, hash);
            let fresh = new_ulid(env);
            if store.compare_and_swap(&key, None, fresh.as_bytes()).await? {
                fresh
            } else {
                let claimed = store.get(&key).await?.ok_or_else(busy)?;
                String::from_utf8_lossy(&claimed).into_owned()
            }
        }
    };
    if let Some((_, existing)) = load(store, &id).await? {
        if existing.author != user.id || existing.video_id != video_id || existing.text != text {
            return Err(ApiError::conflict(
                "idempotency_key_reused",
                "this Idempotency-Key was used for another comment",
            ));
        }
        return Ok((view_one(store, &user.id, existing).await?, false));
    }
    let page = match &root {
        None => pages::append(store, &comments_list(video_id), &id, true).await?,
        Some(root) => pages::append(store, &replies_list(root), &id, true).await?,
    };
    let comment = Comment {
        id: id.clone(),
        video_id: video_id.to_owned(),
        author: user.id.clone(),
        author_handle: user.handle.clone(),
        text: text.clone(),
        parent_id: root.clone(),
        idempotency_hash,
        page,
        created_at_ms: env.now_ms(),
        deleted_at_ms: None,
    };
    let bytes = serde_json::to_vec(&comment).expect("a comment serialises");
    if !store
        .compare_and_swap(&keys::comment(&id), None, &bytes)
        .await?
    {
        // A concurrent retry with the same key got there first.
        let (_, existing) = load(store, &id).await?.ok_or_else(busy)?;
        return Ok((view_one(store, &user.id, existing).await?, false));
    }
    if let Err(e) = count_comment(store, env, video_id, &user.id, root.as_deref(), 1).await {
        // A comment stands only with its counts: take it back; a retry with
        // the same Idempotency-Key writes it again under the same id.
        let _ = store.delete(&keys::comment(&id)).await;
        return Err(e);
    }
    let subject = Subject {
        video_id: Some(video_id.to_owned()),
        comment_id: Some(id.clone()),
        draft_id: None,
    };
    let (recipient, kind) = match &target {
        None => (video.owner.as_str(), Kind::Comment),
        Some(t) => (t.author.as_str(), Kind::Reply),
    };
    if let Err(e) = notify_of(store, env, recipient, kind, user, subject, Some(text)).await {
        // No comment without its notice: take it back (record, then counts);
        // the retry with the same Idempotency-Key posts and notifies again.
        if store.delete(&keys::comment(&id)).await.is_ok() {
            let _ = count_comment(store, env, video_id, &user.id, root.as_deref(), -1).await;
            return Err(e);
        }
    }
    Ok((view_one(store, &user.id, comment).await?, true))
}

/// Moves a comment's counts by `delta` (+1 posted, -1 taken back): the
/// video's comment count and, for a reply, its thread's; both or neither.
async fn count_comment<S: Store>(
    store: &S,
    env: &dyn Env,
    video_id: &str,
    author: &str,
    root: Option<&str>,
    delta: i64,
) -> Result<(), ApiError> {
    counts::add(store, env, Counter::Comments, video_id, author, delta).await?;
    if let Some(root) = root
        && let Err(e) = store.increment(&keys::reply_count(root), delta).await
    {
        let _ = counts::add(store, env, Counter::Comments, video_id, author, -delta).await;
        return Err(e.into());
    }
    Ok(())
}

/// Deletes comment `id`: its author or the video's maker may (403
/// `not_allowed` otherwise). Deleting again is a no-op.
pub async fn delete_comment<S: Store>(
    store: &S,
    env: &dyn Env,
    user_id: &str,
    id: &str,
) -> Result<(), ApiError> {
    for _ in 0..MAX_CAS_TRIES {
        let Some((raw, comment)) = load(store, id).await? else {
            return Err(no_comment());
        };
        if comment.author != user_id {
            let video_owner = match store.get(&keys::video(&comment.video_id)).await? {
                Some(b) => serde_json::from_slice::<Video>(&b).ok().map(|v| v.owner),
                None => None,
            };
            if video_owner.as_deref() != Some(user_id) {
                return Err(ApiError::forbidden(
                    "not_allowed",
                    "only the comment's author or the video's maker can delete it",
                ));
            }
        }
        if comment.deleted_at_ms.is_some() {
            return Ok(());
        }
        let tombstone = Comment {
            text: String::new(),
            deleted_at_ms: Some(env.now_ms()),
            ..comment.clone()
        };
        let bytes = serde_json::to_vec(&tombstone).expect("a comment serialises");
        if !store
            .compare_and_swap(&keys::comment(id), Some(&raw), &bytes)
            .await?
        {
            continue;
        }
        let uncounted = count_comment(
            store,
            env,
            &comment.video_id,
            &comment.author,
            comment.parent_id.as_deref(),
            -1,
        );
        if let Err(e) = uncounted.await {
            // The counts did not move: the comment stands again, as before.
            let _ = store
                .compare_and_swap(&keys::comment(id), Some(&bytes), &raw)
                .await;
            return Err(e);
        }
        // Tidying the lists only: readers skip deleted comments without
        // replies, so the deletion stands even if this fails.
        let _ = async {
            match &comment.parent_id {
                Some(root) => pages::remove(store, &replies_list(root), comment.page, id).await,
                // A top-level comment with replies stays listed as a tombstone
                // until they go; readers decide by its reply count.
                None => {
                    let replies = count(store.get(&keys::reply_count(id)).await?.as_deref());
                    if replies == 0 {
                        pages::remove(store, &comments_list(&comment.video_id), comment.page, id)
                            .await?;
                    }
                    Ok(())
                }
            }
        }
        .await;
        return Ok(());
    }
    Err(busy())
}

/// `user` likes comment `id`; liking twice is one like.
pub async fn like_comment<S: Store>(
    store: &S,
    env: &dyn Env,
    user: &User,
    id: &str,
) -> Result<CommentLikeState, ApiError> {
    let (comment, video) = live_comment(store, id).await?;
    let people = [video.owner.clone(), comment.author.clone()];
    if !crate::graph::blocked_among(store, &user.id, &people)
        .await?
        .is_empty()
    {
        return Err(blocked());
    }
    let key = keys::comment_like(id, &user.id);
    if let Some(before) = edge::flip(store, &key, true, &[], env.now_ms()).await? {
        if let Err(e) = store.increment(&keys::comment_like_count(id), 1).await {
            edge::revert(store, &key, true, &before).await;
            return Err(e.into());
        }
        let subject = Subject {
            video_id: Some(comment.video_id.clone()),
            comment_id: Some(id.to_owned()),
            draft_id: None,
        };
        let noticed = notify_of(
            store,
            env,
            &comment.author,
            Kind::CommentLike,
            user,
            subject,
            None,
        )
        .await;
        if let Err(e) = noticed
            && store
                .increment(&keys::comment_like_count(id), -1)
                .await
                .is_ok()
        {
            // No comment like without its notice: the retry does both again.
            edge::revert(store, &key, true, &before).await;
            return Err(e);
        }
    }
    comment_like_state(store, id, true).await
}

/// `user` stops liking comment `id`; a no-op when they did not.
pub async fn unlike_comment<S: Store>(
    store: &S,
    env: &dyn Env,
    user: &User,
    id: &str,
) -> Result<CommentLikeState, ApiError> {
    if load(store, id).await?.is_none() {
        return Err(no_comment());
    }
    let key = keys::comment_like(id, &user.id);
    if let Some(before) = edge::flip(store, &key, false, &[], env.now_ms()).await?
        && let Err(e) = store.increment(&keys::comment_like_count(id), -1).await
    {
        edge::revert(store, &key, false, &before).await;
        return Err(e.into());
    }
    comment_like_state(store, id, false).await
}

async fn comment_like_state<S: Store>(
    store: &S,
    id: &str,
    liked: bool,
) -> Result<CommentLikeState, ApiError> {
    let raw = store.get(&keys::comment_like_count(id)).await?;
    Ok(CommentLikeState {
        liked,
        like_count: count(raw.as_deref()),
    })
}
