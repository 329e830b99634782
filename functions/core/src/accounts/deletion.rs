//! Account deletion: `DELETE /v1/me` with the password removes the person.
//!
//! The first call (re-authenticated) writes the tombstone
//! [`crate::keys::deleted_user`] and swaps the handle key to
//! [`RESERVED_HANDLE`]: from then on the profile is 404, the handle resolves
//! to nobody yet stays reserved (nobody can sign up as them and impersonate
//! them), and every token of theirs is refused except to finish this job.
//! The erasure then runs in steps, at most [`ITEMS_PER_CALL`] items a call,
//! its progress kept on the tombstone: published videos become tombstones
//! (`account_deleted`), drafts are deleted, follows end both ways, their
//! blocks are lifted, their unused invite codes revoked; last the cameo,
//! profile (bio, birth date, country, avatar), pending avatar upload and the
//! user record (display name, password hash) are erased and the session
//! epoch moves on. A call that runs out of budget answers `in_progress`; the
//! same `DELETE` again goes on where it stopped (every step is idempotent).
//!
//! What stays: the tombstone (no personal data), invites they redeemed
//! (the inviter's list shows "a deleted member", see
//! [`crate::accounts::InviteView::used_by_deleted`]), likes as counts,
//! their comments, which listings show as deleted, and others' notifications
//! of what they did, which show "a deleted member" with neither handle nor
//! words (checked against the tombstone when an inbox is listed).

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::accounts::ratelimit::{self, Action};
use crate::accounts::service::authenticate_any;
use crate::accounts::{AccountsConfig, Client, invites, password, validate};
use crate::env::Env;
use crate::error::ApiError;
use crate::keys;
use crate::pages::{self, Position};
use crate::request::parse_json;
use crate::store::Store;
use crate::{feed, graph, studio};

/// What a deleted member's handle key holds: not a user id, so the handle
/// resolves to nobody, and no sign-up can claim it.
pub const RESERVED_HANDLE: &str = "~deleted";
/// Items (videos, drafts, follows, blocks, invite codes) one call processes.
pub const ITEMS_PER_CALL: usize = 200;
/// Items one step reads at a time.
const BATCH: usize = 50;
/// The reason deleted members' videos are removed with.
pub const VIDEO_REMOVAL_REASON: &str = "account_deleted";

/// Where an erasure stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// Published videos become tombstones.
    Videos,
    /// Drafts are deleted.
    Drafts,
    /// People they follow are unfollowed.
    Following,
    /// Their followers stop following them.
    Followers,
    /// Blocks they made are lifted.
    Blocks,
    /// Unused invite codes they hold are revoked.
    Invites,
    /// Cameo, profile, user record and sessions are erased.
    Erase,
    /// Nothing is left to do.
    Done,
}

/// A deleted account's tombstone, under [`crate::keys::deleted_user`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deletion {
    /// Unix ms of the first call.
    pub started_at_ms: u64,
    /// The step to do next.
    pub step: Step,
    /// Where that step goes on (an opaque list cursor).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// Unix ms the erasure finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at_ms: Option<u64>,
}

/// `DELETE /v1/me` body.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteAccountRequest {
    /// The member's password, again.
    pub password: String,
}

/// `DELETE /v1/me` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeletionView {
    /// `deleted` (200) or `in_progress` (202: call again).
    pub status: &'static str,
}

impl DeletionView {
    /// Whether the erasure finished.
    pub fn finished(&self) -> bool {
        self.status == "deleted"
    }
}

/// Deletes the token's member after checking the password in `body` (a
/// [`DeleteAccountRequest`]; 403 `wrong_password`, attempts counted like
/// log-ins). Answers `in_progress` when the work did not fit in one call.
pub async fn delete_account<S: Store>(
    store: &S,
    env: &dyn Env,
    cfg: &AccountsConfig,
    client: &Client,
    authorization: Option<&str>,
    body: &[u8],
) -> Result<DeletionView, ApiError> {
    let (user, _, _) = authenticate_any(store, env, cfg, authorization).await?;
    let req: DeleteAccountRequest = parse_json(body)?;
    let lower = validate::handle(&user.handle).unwrap_or_else(|_| user.handle.to_lowercase());
    ratelimit::hit_both(
        store,
        env,
        &cfg.policy.rate,
        (Action::LoginHandle, Action::LoginAddress),
        &lower,
        client.address.as_deref(),
    )
    .await?;
    if !password::verify(&req.password, &user.password_hash) {
        return Err(ApiError::forbidden(
            "wrong_password",
            "the password is not right; nothing was deleted",
        ));
    }
    let (mut state, mut raw) = begin(store, env, &user.id, &lower).await?;
    let mut budget = ITEMS_PER_CALL;
    while state.step != Step::Done && budget > 0 {
        let (next, used) = advance(store, env, &user.id, &state, budget.min(BATCH)).await?;
        let bytes = serde_json::to_vec(&next).expect("tombstones serialise");
        let key = keys::deleted_user(&user.id);
        if !store.compare_and_swap(&key, Some(&raw), &bytes).await? {
            // Another call is at work on this account; it carries on.
            break;
        }
        (state, raw) = (next, bytes);
        budget = budget.saturating_sub(used.max(1));
    }
    Ok(DeletionView {
        status: if state.step == Step::Done {
            "deleted"
        } else {
            "in_progress"
        },
    })
}

/// The tombstone (written now if this is the first call) and its bytes; the
/// handle is swapped to [`RESERVED_HANDLE`] on the way.
async fn begin<S: Store>(
    store: &S,
    env: &dyn Env,
    user_id: &str,
    handle_lower: &str,
) -> Result<(Deletion, Vec<u8>), ApiError> {
    let key = keys::deleted_user(user_id);
    let fresh = Deletion {
        started_at_ms: env.now_ms(),
        step: Step::Videos,
        cursor: None,
        finished_at_ms: None,
    };
    let fresh_bytes = serde_json::to_vec(&fresh).expect("tombstones serialise");
    let (state, raw) = if store.compare_and_swap(&key, None, &fresh_bytes).await? {
        (fresh, fresh_bytes)
    } else {
        let raw = store
            .get(&key)
            .await?
            .ok_or_else(|| ApiError::internal("a deletion tombstone vanished"))?;
        let state = serde_json::from_slice(&raw)
            .map_err(|_| ApiError::internal("a deletion tombstone is unreadable"))?;
        (state, raw)
    };
    // Idempotent: a retry finds the handle already swapped and leaves it.
    store
        .compare_and_swap(
            &keys::handle(handle_lower),
            Some(user_id.as_bytes()),
            RESERVED_HANDLE.as_bytes(),
        )
        .await?;
    Ok((state, raw))
}

/// Does up to `n` items of `state`'s step; answers the next state and how
/// many items it looked at.
async fn advance<S: Store>(
    store: &S,
    env: &dyn Env,
    uid: &str,
    state: &Deletion,
    n: usize,
) -> Result<(Deletion, usize), ApiError> {
    let cursor = state.cursor.as_deref();
    let (ids, next) = match state.step {
        Step::Videos => {
            let (ids, next) = feed::creator_videos(store, uid, cursor, n).await?;
            for id in &ids {
                studio::remove_video(store, env, id, VIDEO_REMOVAL_REASON).await?;
            }
            (ids, next)
        }
        Step::Drafts => {
            let page = studio::list_drafts(store, uid, cursor, Some(&n.to_string())).await?;
            for draft in &page.drafts {
                match studio::delete_draft(store, env, uid, &draft.id).await {
                    Err(e) if e.status != 404 => return Err(e),
                    _ => {}
                }
            }
            let ids = page.drafts.into_iter().map(|d| d.id).collect();
            (ids, page.next_cursor)
        }
        Step::Following => {
            let page = graph::following_page(store, uid, cursor, Some(n)).await?;
            for other in &page.user_ids {
                graph::unfollow(store, uid, other).await?;
            }
            (page.user_ids, page.next_cursor)
        }
        Step::Followers => {
            let page = graph::followers_page(store, uid, cursor, Some(n)).await?;
            for other in &page.user_ids {
                graph::unfollow(store, other, uid).await?;
            }
            (page.user_ids, page.next_cursor)
        }
        Step::Blocks => {
            let page = graph::blocks_page(store, uid, cursor, Some(n)).await?;
            for other in &page.user_ids {
                graph::unblock(store, uid, other).await?;
            }
            (page.user_ids, page.next_cursor)
        }
        Step::Invites => {
            let from = cursor.map(Position::decode).transpose()?;
            let (codes, next) =
                pages::read_newest_first(store, &invites::given_to(uid), from, n, 4).await?;
            for code in &codes {
                // Used codes stay used (their redeemers stay); the rest end here.
                match invites::revoke(store, env, uid, code).await {
                    Err(e) if e.status >= 500 => return Err(e),
                    _ => {}
                }
            }
            (codes, next.map(|p| p.encode()))
        }
        Step::Erase => {
            erase(store, uid).await?;
            let done = Deletion {
                step: Step::Done,
                cursor: None,
                finished_at_ms: Some(env.now_ms()),
                ..state.clone()
            };
            return Ok((done, 1));
        }
        Step::Done => return Ok((state.clone(), 0)),
    };
    let used = ids.len();
    let state = match next {
        Some(cursor) => Deletion {
            cursor: Some(cursor),
            ..state.clone()
        },
        None => Deletion {
            step: following_step(state.step),
            cursor: None,
            ..state.clone()
        },
    };
    Ok((state, used))
}

fn following_step(step: Step) -> Step {
    match step {
        Step::Videos => Step::Drafts,
        Step::Drafts => Step::Following,
        Step::Following => Step::Followers,
        Step::Followers => Step::Blocks,
        Step::Blocks => Step::Invites,
        Step::Invites => Step::Erase,
        Step::Erase | Step::Done => Step::Done,
    }
}

/// Erases the personal records; the user record goes last, so a crash
/// before it leaves a token that can still finish the job.
async fn erase<S: Store>(store: &S, uid: &str) -> Result<(), ApiError> {
    store.delete(&keys::cameo(uid)).await?;
    store.delete(&keys::avatar_upload(uid)).await?;
    store.delete(&keys::profile(uid)).await?;
    store.increment(&keys::session_epoch(uid), 1).await?;
    store.delete(&keys::user(uid)).await?;
    Ok(())
}

/// Which of `user_ids` belong to deleted (or deleting) accounts, in one
/// batched read: listings show their content as deleted.
pub async fn deleted_among<S: Store>(
    store: &S,
    user_ids: &[String],
) -> Result<HashSet<String>, ApiError> {
    if user_ids.is_empty() {
        return Ok(HashSet::new());
    }
    let keys: Vec<String> = user_ids.iter().map(|id| keys::deleted_user(id)).collect();
    let found = store.get_many(&keys).await?;
    Ok(user_ids
        .iter()
        .zip(found)
        .filter(|(_, raw)| raw.is_some())
        .map(|(id, _)| id.clone())
        .collect())
}

#[cfg(test)]
mod tests;
