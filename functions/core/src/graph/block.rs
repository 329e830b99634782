//! Blocking: hides two people from each other everywhere and ends follows
//! both ways.

use std::collections::HashSet;

use crate::env::Env;
use crate::error::ApiError;
use crate::keys;
use crate::pages::{self, MAX_CAS_TRIES, busy};
use crate::store::Store;

use super::edge::{self, Edge};
use super::{follow, lists};

/// `blocker` blocks `blocked`; true when this call made it so. Follows
/// between the two end both ways.
pub async fn block<S: Store>(
    store: &S,
    env: &dyn Env,
    blocker: &str,
    blocked: &str,
) -> Result<bool, ApiError> {
    if blocker == blocked {
        return Err(ApiError::invalid_request("you cannot block yourself"));
    }
    let key = keys::block(blocker, blocked);
    for _ in 0..MAX_CAS_TRIES {
        let read = edge::read(store, &key).await?;
        if read.edge.on {
            // Retried after a crash mid-block: make sure the follows are gone.
            end_follows(store, blocker, blocked).await?;
            return Ok(false);
        }
        let on = Edge {
            on: true,
            since_ms: env.now_ms(),
            pages: Vec::new(),
        };
        if edge::swap(store, &key, &read, &on).await? {
            end_follows(store, blocker, blocked).await?;
            let page = pages::append(store, &lists::blocks(blocker), blocked, true).await?;
            edge::record_pages(store, &key, vec![page]).await?;
            return Ok(true);
        }
    }
    Err(busy())
}

/// `blocker` lifts the block on `blocked`; true when this call lifted it.
/// Follows that the block ended stay ended.
pub async fn unblock<S: Store>(store: &S, blocker: &str, blocked: &str) -> Result<bool, ApiError> {
    let key = keys::block(blocker, blocked);
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
            if let [page] = read.edge.pages[..] {
                pages::remove(store, &lists::blocks(blocker), page, blocked).await?;
            }
            return Ok(true);
        }
    }
    Err(busy())
}

async fn end_follows<S: Store>(store: &S, a: &str, b: &str) -> Result<(), ApiError> {
    follow::unfollow(store, a, b).await?;
    follow::unfollow(store, b, a).await?;
    Ok(())
}

/// Whether either of `a` and `b` blocked the other (one batched read).
pub async fn is_blocked_either<S: Store>(store: &S, a: &str, b: &str) -> Result<bool, ApiError> {
    let others = [b.to_owned()];
    Ok(!blocked_among(store, a, &others).await?.is_empty())
}

/// Those of `others` who blocked `viewer` or whom `viewer` blocked, in one
/// batched read: feeds and comment lists drop them.
pub async fn blocked_among<S: Store>(
    store: &S,
    viewer: &str,
    others: &[String],
) -> Result<HashSet<String>, ApiError> {
    let mut unique: Vec<&String> = others.iter().filter(|o| o.as_str() != viewer).collect();
    unique.sort();
    unique.dedup();
    let keys: Vec<String> = unique
        .iter()
        .flat_map(|o| [keys::block(viewer, o), keys::block(o, viewer)])
        .collect();
    let found = store.get_many(&keys).await?;
    let mut out = HashSet::new();
    for (i, other) in unique.iter().enumerate() {
        if edge::decode(found[2 * i].as_deref())?.on
            || edge::decode(found[2 * i + 1].as_deref())?.on
        {
            out.insert((*other).clone());
        }
    }
    Ok(out)
}
