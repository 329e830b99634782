//! What a comment is, what a viewer sees of it, and the requests about it.

use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// `POST /v1/videos/{id}/comments` body.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewComment {
    /// 1..=500 characters once trimmed.
    pub text: String,
    /// The comment this replies to, if any.
    #[serde(default)]
    pub reply_to: Option<String>,
}

/// A stored comment (`comment:{id}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comment {
    /// ULID.
    pub id: String,
    /// The video it is on.
    pub video_id: String,
    /// Author's user id.
    pub author: String,
    /// Author's handle when posting.
    pub author_handle: String,
    /// Trimmed text (erased once deleted).
    pub text: String,
    /// The top-level comment whose thread it is in; `None` for top-level.
    #[serde(default)]
    pub parent_id: Option<String>,
    /// Hash of the `Idempotency-Key` that created it, if any.
    #[serde(default)]
    pub idempotency_hash: Option<String>,
    /// Page of its list holding its id.
    pub page: u64,
    /// Unix ms.
    pub created_at_ms: u64,
    /// Unix ms; a deleted comment is a tombstone.
    #[serde(default)]
    pub deleted_at_ms: Option<u64>,
}

/// A comment as a viewer sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommentView {
    /// ULID.
    pub id: String,
    /// The video.
    pub video_id: String,
    /// The thread's top-level comment, for replies.
    pub parent_id: Option<String>,
    /// Author's user id.
    pub author_id: String,
    /// Author's handle.
    pub author_handle: String,
    /// The text; empty for a deleted comment still shown for its replies.
    pub text: String,
    /// Deleted, shown only because replies hang off it.
    pub deleted: bool,
    /// Likes.
    pub like_count: u64,
    /// Live replies (top-level comments only).
    pub reply_count: u64,
    /// Whether the viewer likes it.
    pub liked: bool,
    /// RFC 3339.
    pub created_at: String,
}

/// One page of comments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentPage {
    /// Comments in the asked order.
    pub comments: Vec<CommentView>,
    /// Opaque cursor; `None` at the end.
    pub next_cursor: Option<String>,
}

/// Listing order of a video's comments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    /// Newest first.
    New,
    /// Most liked first, among the recent [`TOP_WINDOW`].
    Top,
}

impl Sort {
    /// Reads `new` or `top`; 400 otherwise.
    pub fn parse(text: &str) -> Result<Sort, ApiError> {
        match text {
            "new" => Ok(Sort::New),
            "top" => Ok(Sort::Top),
            _ => Err(ApiError::invalid_request("sort must be new or top")),
        }
    }
}

/// A comment's like state after a like or unlike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommentLikeState {
    /// Whether the member now likes it.
    pub liked: bool,
    /// Its like count.
    pub like_count: u64,
}
