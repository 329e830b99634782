//! A like (of a video or a comment) as an edge record flipped by
//! compare-and-swap: only the request that flips it moves counters and
//! lists, so liking twice is one like and unliking twice is none.

use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::pages::{MAX_CAS_TRIES, busy};
use crate::store::Store;

/// The stored state of a like.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Edge {
    /// Whether the like stands.
    pub on: bool,
    /// Unix ms it was last switched on.
    #[serde(default)]
    pub since_ms: u64,
    /// Pages its list entries landed in, so switching off blanks them directly.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pages: Vec<u64>,
}

/// Decodes an edge; absent means off, unreadable is an error (never a silent reset).
pub(crate) fn decode(raw: Option<&[u8]>) -> Result<Edge, ApiError> {
    match raw {
        None => Ok(Edge::default()),
        Some(bytes) => {
            serde_json::from_slice(bytes).map_err(|_| ApiError::internal("a like is unreadable"))
        }
    }
}

/// Switches the edge at `key` to `on`, recording `pages` (where its list
/// entries went) in the same write; returns the previous state when this
/// call flipped it, `None` when it already stood that way.
pub(crate) async fn flip<S: Store>(
    store: &S,
    key: &str,
    on: bool,
    pages: &[u64],
    now_ms: u64,
) -> Result<Option<Edge>, ApiError> {
    for _ in 0..MAX_CAS_TRIES {
        let raw = store.get(key).await?;
        let current = decode(raw.as_deref())?;
        if current.on == on {
            return Ok(None);
        }
        let next = Edge {
            on,
            since_ms: if on { now_ms } else { current.since_ms },
            pages: pages.to_vec(),
        };
        let bytes = serde_json::to_vec(&next).expect("an edge serialises");
        if store.compare_and_swap(key, raw.as_deref(), &bytes).await? {
            return Ok(Some(current));
        }
    }
    Err(busy())
}

/// Puts the edge at `key` back to `previous` while it still stands `on`:
/// undoes a flip whose counter could not move, so a failed request leaves
/// no like without its count. Best effort: the caller is failing already.
pub(crate) async fn revert<S: Store>(store: &S, key: &str, on: bool, previous: &Edge) {
    let bytes = serde_json::to_vec(previous).expect("an edge serialises");
    for _ in 0..MAX_CAS_TRIES {
        let Ok(raw) = store.get(key).await else {
            return;
        };
        if !matches!(decode(raw.as_deref()), Ok(current) if current.on == on) {
            return;
        }
        if !matches!(
            store.compare_and_swap(key, raw.as_deref(), &bytes).await,
            Ok(false)
        ) {
            return;
        }
    }
}
