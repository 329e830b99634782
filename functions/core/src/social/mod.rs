//! Likes, comments and shares of published videos, and their counts.
//!
//! A like is an edge record (`like:{video}:{user}`) flipped by
//! compare-and-swap; only the flip moves the video's like count: one
//! counter while the video is quiet, [`LIKE_SHARDS`] (shard = hash of the
//! liker) once it gets hot, so one viral video spreads its writes; read back
//! summed in one batched read ([`video_counts`]). Comments are records with
//! one level of replies (a reply to a reply joins its root's thread); shares
//! hand out one short link per member and video and count each member once.
//!
//! Like, comment, reply, comment-like and share each notify the person it
//! reaches. A notification is a side effect: a busy inbox never refuses the
//! like that caused it.

mod comments;
mod counts;
mod edge;
mod filter;
mod likes;
mod shares;

#[cfg(test)]
mod tests;

pub use comments::{
    Comment, CommentLikeState, CommentPage, CommentView, NewComment, Sort, TOP_WINDOW,
    create_comment, delete_comment, like_comment, list_comments, list_replies, unlike_comment,
};
pub use counts::{
    COMMENT_SHARDS, HEAT_WINDOW_MS, HOT_WRITES, LIKE_SHARDS, SHARE_SHARDS, VideoCounts, liked_by,
    video_counts,
};
pub(crate) use counts::{
    FIRST_KEYS as FIRST_COUNT_KEYS, finish as finish_counts, first_keys as first_count_keys,
    liked_from,
};
pub use filter::{MAX_COMMENT_CHARS, check_comment};
pub use likes::{
    LikeState, LikedPage, LikedVideo, Liker, LikerPage, MAX_PAGE_SIZE, like, liked_videos,
    likers_page, unlike,
};
pub use shares::{CODE_LEN, Shared, resolve_share, share, share_page};

use crate::accounts::User;
use crate::env::Env;
use crate::error::ApiError;
use crate::notifications::{Actor, Kind, NewNotification, Subject, notify};
use crate::store::Store;

/// 403 `blocked`: the member and the other person blocked one another.
pub(crate) fn blocked() -> ApiError {
    ApiError::forbidden("blocked", "you can't interact with this person")
}

/// Tells `recipient` that `actor` did `kind`. An action and its notice stand
/// together: when this fails, the caller takes its action back (so the
/// client's retry notifies) unless undoing would itself leave a half state.
pub(crate) async fn notify_of<S: Store>(
    store: &S,
    env: &dyn Env,
    recipient: &str,
    kind: Kind,
    actor: &User,
    subject: Subject,
    text: Option<String>,
) -> Result<(), ApiError> {
    let new = NewNotification {
        kind,
        actor: Some(Actor::of(actor)),
        subject,
        text,
    };
    notify(store, env, recipient, new).await.map(|_| ())
}

/// `ids` without repeats, first occurrence kept.
pub(crate) fn ordered_unique(ids: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    ids.into_iter()
        .filter(|id| seen.insert(id.clone()))
        .collect()
}
