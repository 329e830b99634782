//! Following and unfollowing, and how two people stand.

use crate::env::Env;
use crate::error::ApiError;
use crate::keys;
use crate::pages::{self, MAX_CAS_TRIES, busy};
use crate::store::Store;

use super::edge::{self, Edge};
use super::lists;
use super::{Relation, block};

/// `follower` follows `followee`; true when this call made it so, false when
/// it already stood. 400 for following oneself, 403 `blocked` when either
/// blocked the other.
pub async fn follow<S: Store>(
    store: &S,
    env: &dyn Env,
    follower: &str,
    followee: &str,
) -> Result<bool, ApiError> {
    if follower == followee {
        return Err(ApiError::invalid_request("you cannot follow yourself"));
    }
    if block::is_blocked_either(store, follower, followee).await? {
        return Err(blocked());
    }
    let key = keys::follow(follower, followee);
    if edge::read(store, &key).await?.edge.on {
        return Ok(false);
    }
    // List entries first: readers skip an entry whose edge is off, so a
    // request that stops before the flip leaves nothing wrong, and a retry
    // finds them (unique appends).
    let a = pages::append(store, &lists::following(follower), followee, true).await?;
    let b = pages::append(store, &lists::followers(followee), follower, true).await?;
    for _ in 0..MAX_CAS_TRIES {
        let read = edge::read(store, &key).await?;
        if read.edge.on {
            return Ok(false);
        }
        let on = Edge {
            on: true,
            since_ms: env.now_ms(),
            pages: vec![a, b],
        };
        if edge::swap(store, &key, &read, &on).await? {
            if let Err(e) = count(store, follower, followee, 1).await {
                // No follow without its counts: the request did not happen.
                edge::revert(store, &key, &on, &read.edge).await;
                return Err(e);
            }
            return Ok(true);
        }
    }
    Err(busy())
}

/// Moves both follow counts by `delta`, both or neither.
async fn count<S: Store>(
    store: &S,
    follower: &str,
    followee: &str,
    delta: i64,
) -> Result<(), ApiError> {
    store
        .increment(&keys::following_count(follower), delta)
        .await?;
    if let Err(e) = store
        .increment(&keys::followers_count(followee), delta)
        .await
    {
        let _ = store
            .increment(&keys::following_count(follower), -delta)
            .await;
        return Err(e.into());
    }
    Ok(())
}

/// `follower` stops following `followee`; true when this call ended it.
pub async fn unfollow<S: Store>(
    store: &S,
    follower: &str,
    followee: &str,
) -> Result<bool, ApiError> {
    let key = keys::follow(follower, followee);
    for _ in 0..MAX_CAS_TRIES {
        let read = edge::read(store, &key).await?;
        if !read.edge.on {
            return Ok(false);
        }
        let off = Edge {
            on: false,
            since_ms: read.edge.since_ms,
            pages: Vec::new(),
        };
        if edge::swap(store, &key, &read, &off).await? {
            if let Err(e) = count(store, follower, followee, -1).await {
                edge::revert(store, &key, &off, &read.edge).await;
                return Err(e);
            }
            if let [a, b] = read.edge.pages[..] {
                // Tidying only: readers skip entries whose edge is off.
                let _ = pages::remove(store, &lists::following(follower), a, followee).await;
                let _ = pages::remove(store, &lists::followers(followee), b, follower).await;
            }
            return Ok(true);
        }
    }
    Err(busy())
}

/// How `viewer` stands to `other`, in one batched read.
pub async fn relation<S: Store>(
    store: &S,
    viewer: &str,
    other: &str,
) -> Result<Relation, ApiError> {
    let keys = [
        keys::follow(viewer, other),
        keys::follow(other, viewer),
        keys::block(viewer, other),
        keys::block(other, viewer),
    ];
    let found = store.get_many(&keys).await?;
    let on = |i: usize| -> Result<bool, ApiError> { Ok(edge::decode(found[i].as_deref())?.on) };
    Ok(Relation {
        following: on(0)?,
        followed_by: on(1)?,
        blocking: on(2)?,
        blocked_by: on(3)?,
    })
}

/// 403 `blocked`: one of the two blocked the other.
pub(crate) fn blocked() -> ApiError {
    ApiError::forbidden("blocked", "you can't interact with this person")
}
