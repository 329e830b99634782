//! One directed edge (a follow or a block) stored as a small JSON record and
//! flipped by compare-and-swap.

use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::store::Store;

/// The stored state of an edge.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Edge {
    /// Whether the edge stands.
    pub on: bool,
    /// Unix ms it was last switched on.
    #[serde(default)]
    pub since_ms: u64,
    /// Where its entries sit in the lists (page numbers), once written, so
    /// switching it off can blank them without searching.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pages: Vec<u64>,
}

/// An edge as read, with the raw bytes a compare-and-swap needs.
pub(crate) struct Read {
    /// The decoded state (`Edge::default()` when absent: off).
    pub edge: Edge,
    /// The stored bytes, `None` when the key is absent.
    pub raw: Option<Vec<u8>>,
}

/// Decodes an edge record; absent or unreadable bytes read as "off" only
/// when absent: an unreadable record is an error, not a silent reset.
pub(crate) fn decode(raw: Option<&[u8]>) -> Result<Edge, ApiError> {
    match raw {
        None => Ok(Edge::default()),
        Some(bytes) => serde_json::from_slice(bytes)
            .map_err(|_| ApiError::internal("a graph edge is unreadable")),
    }
}

/// Reads the edge at `key`.
pub(crate) async fn read<S: Store>(store: &S, key: &str) -> Result<Read, ApiError> {
    let raw = store.get(key).await?;
    let edge = decode(raw.as_deref())?;
    Ok(Read { edge, raw })
}

/// Writes `edge` at `key` if it still holds `read.raw`; false when another
/// writer got there first.
pub(crate) async fn swap<S: Store>(
    store: &S,
    key: &str,
    read: &Read,
    edge: &Edge,
) -> Result<bool, ApiError> {
    let bytes = serde_json::to_vec(edge).expect("an edge serialises");
    Ok(store
        .compare_and_swap(key, read.raw.as_deref(), &bytes)
        .await?)
}

/// Records where the edge's list entries landed; a lost race only means a
/// later switch-off has no pages to blank (the lists skip blanks and
/// readers re-check the edge anyway).
pub(crate) async fn record_pages<S: Store>(
    store: &S,
    key: &str,
    pages: Vec<u64>,
) -> Result<(), ApiError> {
    for _ in 0..4 {
        let read = read(store, key).await?;
        if !read.edge.on {
            return Ok(());
        }
        let edge = Edge {
            pages: pages.clone(),
            ..read.edge.clone()
        };
        if swap(store, key, &read, &edge).await? {
            return Ok(());
        }
    }
    Ok(())
}

/// Puts the edge at `key` back to `previous` if it still holds `written`:
/// undoes a flip whose counts could not move. Best effort: the caller is
/// failing already.
pub(crate) async fn revert<S: Store>(store: &S, key: &str, written: &Edge, previous: &Edge) {
    let from = serde_json::to_vec(written).expect("an edge serialises");
    let to = serde_json::to_vec(previous).expect("an edge serialises");
    let _ = store.compare_and_swap(key, Some(&from), &to).await;
}
