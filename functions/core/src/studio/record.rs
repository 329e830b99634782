//! Reading draft records and changing them by compare-and-swap.

use crate::error::ApiError;
use crate::keys;
use crate::pages::{MAX_CAS_TRIES, busy};
use crate::store::Store;
use crate::studio::Draft;

/// What an update decided, with a value for the caller.
pub(crate) enum Change<T> {
    /// Leave the record as it is.
    Keep(T),
    /// Replace it with this draft.
    Write(Box<Draft>, T),
}

pub(crate) fn unreadable() -> ApiError {
    ApiError::internal("a draft record is unreadable")
}

/// The draft, or `None` when there is no record (tombstones included).
pub(crate) async fn load<S: Store>(store: &S, id: &str) -> Result<Option<Draft>, ApiError> {
    match store.get(&keys::draft(id)).await? {
        Some(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|_| unreadable()),
        None => Ok(None),
    }
}

pub(crate) fn encode(draft: &Draft) -> Vec<u8> {
    serde_json::to_vec(draft).expect("drafts serialise")
}

/// Reads the draft, lets `decide` look at it, and writes its replacement
/// only if nobody changed the record in between; otherwise decides again.
/// `Ok(None)` when there is no record. 503 `busy` after many lost races.
pub(crate) async fn update<S, T, F>(
    store: &S,
    id: &str,
    mut decide: F,
) -> Result<Option<(Draft, T)>, ApiError>
where
    S: Store,
    F: FnMut(&Draft) -> Result<Change<T>, ApiError>,
{
    let key = keys::draft(id);
    for _ in 0..MAX_CAS_TRIES {
        let Some(bytes) = store.get(&key).await? else {
            return Ok(None);
        };
        let current: Draft = serde_json::from_slice(&bytes).map_err(|_| unreadable())?;
        match decide(&current)? {
            Change::Keep(value) => return Ok(Some((current, value))),
            Change::Write(next, value) => {
                if store
                    .compare_and_swap(&key, Some(&bytes), &encode(&next))
                    .await?
                {
                    return Ok(Some((*next, value)));
                }
            }
        }
    }
    Err(busy())
}

/// Gives back one generation to the day the draft was counted against.
pub(crate) async fn refund<S: Store>(store: &S, draft: &Draft) -> Result<(), ApiError> {
    store
        .increment(&keys::generation_quota(&draft.owner, &draft.quota_day), -1)
        .await?;
    Ok(())
}
