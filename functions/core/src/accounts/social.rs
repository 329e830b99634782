//! Follows and blocks by handle, and the people lists, over [`crate::graph`].
//!
//! Someone who blocked the viewer does not exist for them (404); someone the
//! viewer blocked is still found, so they can be unblocked.

use crate::accounts::profile::{no_such_user, profile_view, user_by_handle, visible_user};
use crate::accounts::service::load_users;
use crate::accounts::{ProfileView, User, UserPage, UserSummary};
use crate::env::Env;
use crate::error::ApiError;
use crate::graph::{self, IdPage};
use crate::notifications::{self, Actor, Kind, NewNotification, Subject};
use crate::store::Store;

fn unprocessable(code: &'static str, message: &str) -> ApiError {
    ApiError::new(422, code, message)
}

/// `me` follows the holder of `handle`; following twice is one follow. The
/// followee is told about a follow that is new. Answers their profile.
pub async fn follow<S: Store>(
    store: &S,
    env: &dyn Env,
    me: &User,
    handle: &str,
) -> Result<ProfileView, ApiError> {
    let (target, _) = visible_user(store, Some(me), handle).await?;
    if target.id == me.id {
        return Err(unprocessable(
            "cannot_follow_self",
            "you cannot follow yourself",
        ));
    }
    if graph::follow(store, env, &me.id, &target.id).await? {
        let new = NewNotification {
            kind: Kind::NewFollower,
            actor: Some(Actor::of(me)),
            subject: Subject::default(),
            text: None,
        };
        // The follow stands either way; a lost notice is not worth failing it.
        let _ = notifications::notify(store, env, &target.id, new).await;
    }
    let relation = graph::relation(store, &me.id, &target.id).await?;
    profile_view(store, &target, Some(relation)).await
}

/// `me` stops following the holder of `handle` (idempotent). Answers their profile.
pub async fn unfollow<S: Store>(
    store: &S,
    me: &User,
    handle: &str,
) -> Result<ProfileView, ApiError> {
    let (target, _) = visible_user(store, Some(me), handle).await?;
    if target.id == me.id {
        return Err(unprocessable(
            "cannot_follow_self",
            "you cannot follow yourself",
        ));
    }
    graph::unfollow(store, &me.id, &target.id).await?;
    let relation = graph::relation(store, &me.id, &target.id).await?;
    profile_view(store, &target, Some(relation)).await
}

async fn block_target<S: Store>(store: &S, me: &User, handle: &str) -> Result<User, ApiError> {
    let target = user_by_handle(store, handle)
        .await?
        .ok_or_else(no_such_user)?;
    if target.id == me.id {
        return Err(unprocessable(
            "cannot_block_self",
            "you cannot block yourself",
        ));
    }
    Ok(target)
}

/// `me` blocks the holder of `handle` (idempotent); follows end both ways.
pub async fn block<S: Store>(
    store: &S,
    env: &dyn Env,
    me: &User,
    handle: &str,
) -> Result<(), ApiError> {
    let target = block_target(store, me, handle).await?;
    graph::block(store, env, &me.id, &target.id).await?;
    Ok(())
}

/// `me` lifts a block (idempotent).
pub async fn unblock<S: Store>(store: &S, me: &User, handle: &str) -> Result<(), ApiError> {
    let target = block_target(store, me, handle).await?;
    graph::unblock(store, &me.id, &target.id).await?;
    Ok(())
}

/// Which list of a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum List {
    /// People following them.
    Followers,
    /// People they follow.
    Following,
}

/// A page of `handle`'s followers or following, as `viewer` may see it:
/// people either side blocked are left out.
pub async fn list<S: Store>(
    store: &S,
    viewer: Option<&User>,
    handle: &str,
    which: List,
    cursor: Option<&str>,
    limit: Option<usize>,
) -> Result<UserPage, ApiError> {
    let (owner, _) = visible_user(store, viewer, handle).await?;
    let page = match which {
        List::Followers => graph::followers_page(store, &owner.id, cursor, limit).await?,
        List::Following => graph::following_page(store, &owner.id, cursor, limit).await?,
    };
    let hidden = match viewer {
        Some(v) => graph::blocked_among(store, &v.id, &page.user_ids).await?,
        None => Default::default(),
    };
    let ids: Vec<String> = page
        .user_ids
        .into_iter()
        .filter(|id| !hidden.contains(id))
        .collect();
    summaries(store, ids, page.next_cursor).await
}

/// A page of the people `me` blocked.
pub async fn blocks<S: Store>(
    store: &S,
    me: &User,
    cursor: Option<&str>,
    limit: Option<usize>,
) -> Result<UserPage, ApiError> {
    let IdPage {
        user_ids,
        next_cursor,
    } = graph::blocks_page(store, &me.id, cursor, limit).await?;
    summaries(store, user_ids, next_cursor).await
}

async fn summaries<S: Store>(
    store: &S,
    ids: Vec<String>,
    next_cursor: Option<String>,
) -> Result<UserPage, ApiError> {
    let users = load_users(store, &ids)
        .await?
        .into_iter()
        .flatten()
        .map(|u| UserSummary {
            id: u.id,
            handle: u.handle,
            display_name: u.display_name,
        })
        .collect();
    Ok(UserPage { users, next_cursor })
}
