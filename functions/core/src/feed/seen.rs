//! What a viewer's For You already showed, so a session never repeats a
//! video, and how far into the catalogue it has read. Bounded: the oldest
//! ids fall out past [`MAX_SEEN`]. A reset deletes it.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::keys;
use crate::pages::{MAX_CAS_TRIES, busy};
use crate::store::Store;

/// Most ids remembered (about 56 KiB of JSON).
pub const MAX_SEEN: usize = 2000;

/// Stored under [`keys::feed_seen`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seen {
    /// Shown video ids, oldest first.
    #[serde(default)]
    pub ids: Vec<String>,
    /// Where the catalogue walk goes on (an encoded [`crate::pages::Position`]).
    #[serde(default)]
    pub deep: Option<String>,
    /// The catalogue walk reached the oldest video.
    #[serde(default)]
    pub deep_done: bool,
    /// Pages served since the last reset.
    #[serde(default)]
    pub pages: u64,
}

impl Seen {
    /// The shown ids as a set.
    pub fn set(&self) -> HashSet<&str> {
        self.ids.iter().map(String::as_str).collect()
    }

    /// Adds `shown` (skipping ids already there) and drops the oldest past the bound.
    pub fn add(&mut self, shown: &[String]) {
        let known: HashSet<&str> = self.ids.iter().map(String::as_str).collect();
        let mut fresh: Vec<String> = Vec::with_capacity(shown.len());
        for id in shown {
            if !known.contains(id.as_str()) && !fresh.contains(id) {
                fresh.push(id.clone());
            }
        }
        self.ids.extend(fresh);
        if self.ids.len() > MAX_SEEN {
            let extra = self.ids.len() - MAX_SEEN;
            self.ids.drain(..extra);
        }
    }
}

fn decode(raw: Option<&[u8]>) -> Result<Seen, ApiError> {
    match raw {
        None => Ok(Seen::default()),
        Some(bytes) => serde_json::from_slice(bytes)
            .map_err(|_| ApiError::internal("a seen set is unreadable")),
    }
}

/// The viewer's seen set (empty after a reset).
pub async fn load<S: Store>(store: &S, user_id: &str) -> Result<Seen, ApiError> {
    Ok(load_raw(store, user_id).await?.1)
}

/// The stored bytes and the seen set they hold, for [`update_from`].
pub async fn load_raw<S: Store>(
    store: &S,
    user_id: &str,
) -> Result<(Option<Vec<u8>>, Seen), ApiError> {
    let raw = store.get(&keys::feed_seen(user_id)).await?;
    let seen = decode(raw.as_deref())?;
    Ok((raw, seen))
}

/// Applies `change` to the stored seen set by compare-and-swap.
pub async fn update<S: Store>(
    store: &S,
    user_id: &str,
    change: impl Fn(&mut Seen),
) -> Result<(), ApiError> {
    let (raw, seen) = load_raw(store, user_id).await?;
    update_from(store, user_id, raw, seen, change).await
}

/// [`update`] from a set already read (`raw` as stored, `seen` decoded from
/// it): the first swap expects those bytes, so an unchanged set is not read
/// again; a lost race reads afresh and retries.
pub async fn update_from<S: Store>(
    store: &S,
    user_id: &str,
    mut raw: Option<Vec<u8>>,
    mut seen: Seen,
    change: impl Fn(&mut Seen),
) -> Result<(), ApiError> {
    let key = keys::feed_seen(user_id);
    for _ in 0..MAX_CAS_TRIES {
        change(&mut seen);
        let bytes = serde_json::to_vec(&seen).expect("seen sets serialise");
        if store.compare_and_swap(&key, raw.as_deref(), &bytes).await? {
            return Ok(());
        }
        raw = store.get(&key).await?;
        seen = decode(raw.as_deref())?;
    }
    Err(busy())
}
