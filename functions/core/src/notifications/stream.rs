//! The per-member sequence the live stream follows: every inbox change takes
//! the next number and logs the notification as it stood then.

use crate::error::ApiError;
use crate::keys;
use crate::store::{Store, decode_counter};

use super::model::{Notification, NotificationView};

/// Most log entries one [`since`] call reads.
pub const MAX_BATCH: u64 = 100;

/// The member's next sequence number.
pub(crate) async fn next_seq<S: Store>(store: &S, user: &str) -> Result<u64, ApiError> {
    let n = store.increment(&keys::notifications_seq(user), 1).await?;
    Ok(n.max(0) as u64)
}

/// Logs `n` under its sequence number.
pub(crate) async fn log<S: Store>(store: &S, user: &str, n: &Notification) -> Result<(), ApiError> {
    let view = serde_json::to_vec(&n.view()).expect("a view serialises");
    store
        .set(&keys::notifications_log(user, n.seq), &view)
        .await?;
    Ok(())
}

/// Marks a sequence number that carries nothing (a lost race), so the
/// stream does not wait for it.
pub(crate) async fn skip<S: Store>(store: &S, user: &str, seq: u64) -> Result<(), ApiError> {
    store.set(&keys::notifications_log(user, seq), b"").await?;
    Ok(())
}

/// The newest sequence number taken for `user` (0 before any).
pub async fn latest_seq<S: Store>(store: &S, user: &str) -> Result<u64, ApiError> {
    Ok(match store.get(&keys::notifications_seq(user)).await? {
        Some(bytes) => decode_counter(&bytes)
            .map_err(|_| ApiError::internal("the notification sequence is unreadable"))?
            .max(0) as u64,
        None => 0,
    })
}

/// What the stream sends next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamBatch {
    /// Notifications, in sequence order, with their sequence numbers.
    pub events: Vec<(u64, NotificationView)>,
    /// The highest sequence number consumed (resume after it).
    pub last_seq: u64,
    /// A number taken but not logged yet: its writer is mid-way (wait a
    /// little) or stopped (the caller may skip it after a while).
    pub missing: Option<u64>,
}

/// The log after `after`, up to [`MAX_BATCH`] entries and the newest number,
/// stopping at the first entry not written yet (one batched read).
pub async fn since<S: Store>(store: &S, user: &str, after: u64) -> Result<StreamBatch, ApiError> {
    let latest = latest_seq(store, user).await?;
    let end = latest.min(after.saturating_add(MAX_BATCH));
    let seqs: Vec<u64> = (after + 1..=end).collect();
    let keys: Vec<String> = seqs
        .iter()
        .map(|s| keys::notifications_log(user, *s))
        .collect();
    let found = if keys.is_empty() {
        Vec::new()
    } else {
        store.get_many(&keys).await?
    };
    let mut batch = StreamBatch {
        events: Vec::new(),
        last_seq: after,
        missing: None,
    };
    for (seq, raw) in seqs.into_iter().zip(found) {
        match raw {
            None => {
                batch.missing = Some(seq);
                break;
            }
            Some(bytes) if bytes.is_empty() => {}
            Some(bytes) => {
                let view = serde_json::from_slice(&bytes)
                    .map_err(|_| ApiError::internal("a notification log entry is unreadable"))?;
                batch.events.push((seq, view));
            }
        }
        batch.last_seq = seq;
    }
    // The log keeps views as they were sent; a replay shows today's truth.
    let (seqs, mut views): (Vec<u64>, Vec<NotificationView>) = batch.events.drain(..).unzip();
    super::inbox::forget_deleted(store, &mut views).await?;
    batch.events = seqs.into_iter().zip(views).collect();
    Ok(batch)
}
