//! Reading comments: a video's top-level comments newest-first or
//! top-first, a thread's replies, and the views a viewer gets (counts,
//! their own like, blocked people left out) in batched reads.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::ApiError;
use crate::keys;
use crate::pages::{self, PAGE_CAPACITY, Position};
use crate::store::Store;
use crate::time::rfc3339_from_ms;

use super::model::{Comment, CommentPage, CommentView, Sort};
use super::{comments_list, load, no_comment, replies_list};
use crate::social::counts::count;
use crate::social::likes::{MAX_PAGE_SIZE, reachable_video};
use crate::social::{edge, ordered_unique};

/// Recent top-level comments "top" ranks.
pub const TOP_WINDOW: usize = 4 * PAGE_CAPACITY;
const DEFAULT_PAGE_SIZE: usize = 20;
const MAX_INDEX_PAGES: usize = 4;

/// A page of video `video_id`'s top-level comments as `viewer` sees them.
pub async fn list_comments<S: Store>(
    store: &S,
    viewer: &str,
    video_id: &str,
    sort: Sort,
    cursor: Option<&str>,
    limit: Option<usize>,
) -> Result<CommentPage, ApiError> {
    reachable_video(store, viewer, video_id).await?;
    let limit = page_size(limit)?;
    let list = comments_list(video_id);
    match sort {
        Sort::New => {
            let from = cursor.map(Position::decode).transpose()?;
            let (ids, next) =
                pages::read_newest_first(store, &list, from, limit, MAX_INDEX_PAGES).await?;
            Ok(CommentPage {
                comments: views(store, viewer, &ordered_unique(ids)).await?,
                next_cursor: next.map(|p| p.encode()),
            })
        }
        Sort::Top => {
            let offset = cursor.map(decode_top_cursor).transpose()?.unwrap_or(0);
            let (ids, _) =
                pages::read_newest_first(store, &list, None, TOP_WINDOW, MAX_INDEX_PAGES).await?;
            let mut all = views(store, viewer, &ordered_unique(ids)).await?;
            // Stable sort: equal likes keep newest first.
            all.sort_by_key(|c| std::cmp::Reverse(c.like_count));
            let end = (offset + limit).min(all.len());
            let comments = all.get(offset..end).map(<[_]>::to_vec).unwrap_or_default();
            Ok(CommentPage {
                comments,
                next_cursor: (end < all.len()).then(|| encode_top_cursor(end)),
            })
        }
    }
}

/// A page of the replies to top-level comment `id`, newest first.
pub async fn list_replies<S: Store>(
    store: &S,
    viewer: &str,
    id: &str,
    cursor: Option<&str>,
    limit: Option<usize>,
) -> Result<CommentPage, ApiError> {
    let Some((_, root)) = load(store, id).await? else {
        return Err(no_comment());
    };
    if root.parent_id.is_some() {
        return Err(ApiError::invalid_request(
            "replies have no replies of their own; ask for the thread's top-level comment",
        ));
    }
    reachable_video(store, viewer, &root.video_id).await?;
    let limit = page_size(limit)?;
    let from = cursor.map(Position::decode).transpose()?;
    let (ids, next) =
        pages::read_newest_first(store, &replies_list(id), from, limit, MAX_INDEX_PAGES).await?;
    Ok(CommentPage {
        comments: views(store, viewer, &ordered_unique(ids)).await?,
        next_cursor: next.map(|p| p.encode()),
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

fn encode_top_cursor(offset: usize) -> String {
    URL_SAFE_NO_PAD.encode(format!("top.{offset}"))
}

fn decode_top_cursor(cursor: &str) -> Result<usize, ApiError> {
    let bad = || ApiError::invalid_request("cursor is not valid; start again without it");
    let text = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    let text = String::from_utf8(text).map_err(|_| bad())?;
    let offset: usize = text
        .strip_prefix("top.")
        .and_then(|n| n.parse().ok())
        .ok_or_else(bad)?;
    if offset > TOP_WINDOW || encode_top_cursor(offset) != cursor {
        return Err(bad());
    }
    Ok(offset)
}

pub(super) async fn view_one<S: Store>(
    store: &S,
    viewer: &str,
    comment: Comment,
) -> Result<CommentView, ApiError> {
    let found = store
        .get_many(&[
            keys::comment_like_count(&comment.id),
            keys::reply_count(&comment.id),
            keys::comment_like(&comment.id, viewer),
        ])
        .await?;
    Ok(view(comment, &found))
}

fn view(c: Comment, found: &[Option<Vec<u8>>]) -> CommentView {
    CommentView {
        video_id: c.video_id,
        parent_id: c.parent_id,
        author_id: c.author,
        author_handle: c.author_handle,
        deleted: c.deleted_at_ms.is_some(),
        text: c.text,
        like_count: count(found[0].as_deref()),
        reply_count: count(found[1].as_deref()),
        liked: edge::decode(found[2].as_deref()).is_ok_and(|e| e.on),
        created_at: rfc3339_from_ms(c.created_at_ms),
        id: c.id,
    }
}

/// The views of comments `ids` (in order) for `viewer`: records, counts and
/// blocks in three batched reads. Missing records, deleted comments without
/// replies and comments of people blocked either way are left out.
async fn views<S: Store>(
    store: &S,
    viewer: &str,
    ids: &[String],
) -> Result<Vec<CommentView>, ApiError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let record_keys: Vec<String> = ids.iter().map(|id| keys::comment(id)).collect();
    let comments: Vec<Comment> = store
        .get_many(&record_keys)
        .await?
        .into_iter()
        .flatten()
        .filter_map(|raw| serde_json::from_slice(&raw).ok())
        .collect();
    let authors: Vec<String> = comments.iter().map(|c| c.author.clone()).collect();
    let hidden = crate::graph::blocked_among(store, viewer, &authors).await?;
    let gone = crate::accounts::deletion::deleted_among(store, &authors).await?;
    let extra: Vec<String> = comments
        .iter()
        .flat_map(|c| {
            [
                keys::comment_like_count(&c.id),
                keys::reply_count(&c.id),
                keys::comment_like(&c.id, viewer),
            ]
        })
        .collect();
    let found = store.get_many(&extra).await?;
    Ok(comments
        .into_iter()
        .zip(found.chunks(3))
        .filter(|(c, _)| !hidden.contains(&c.author))
        .map(|(c, f)| {
            // A deleted member's comments read as deleted, with no handle.
            let mut v = view(c, f);
            if gone.contains(&v.author_id) {
                (v.deleted, v.text, v.author_handle) = (true, String::new(), String::new());
            }
            v
        })
        .filter(|v| !v.deleted || v.reply_count > 0)
        .collect())
}
