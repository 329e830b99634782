//! The push outbox: each inbox change for a member with devices, whose
//! settings let its kind buzz their phone, is queued for the push
//! dispatcher (a native service; `push/` in the repository). The outbox is
//! sharded by member so a burst for one person never serialises everyone.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::keys;
use crate::pages::{self, PAGE_CAPACITY, PagedList};
use crate::store::Store;

use super::devices::{Device, device_count, list_devices};
use super::model::{Kind, NotificationView};
use super::settings::get_settings;

/// Outbox shards; one dispatcher task follows each.
pub const PUSH_SHARDS: u32 = 8;

/// One queued push: the member and the sequence number of the change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushIntent {
    /// Recipient.
    pub user: String,
    /// The change (`notif_log:{user}:{seq}` holds what to show).
    pub seq: u64,
}

impl PushIntent {
    fn encode(&self) -> String {
        format!("{}:{}", self.user, self.seq)
    }

    fn decode(entry: &str) -> Option<PushIntent> {
        let (user, seq) = entry.rsplit_once(':')?;
        Some(PushIntent {
            user: user.to_owned(),
            seq: seq.parse().ok()?,
        })
    }
}

/// The shard a member's pushes queue on.
pub fn shard_of(user: &str) -> u32 {
    let digest = Sha256::digest(user.as_bytes());
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]) % PUSH_SHARDS
}

fn shard_name(shard: u32) -> String {
    shard.to_string()
}

/// Queues a push for change `seq` of `user` when they have a device and
/// their settings push `kind` (two keys read).
pub(crate) async fn enqueue<S: Store>(
    store: &S,
    user: &str,
    kind: Kind,
    seq: u64,
) -> Result<(), ApiError> {
    if device_count(store, user).await? == 0 || !get_settings(store, user).await?.pushes(kind) {
        return Ok(());
    }
    let shard = shard_name(shard_of(user));
    let list = PagedList::new(&shard, keys::push_outbox_head, keys::push_outbox_page);
    let entry = PushIntent {
        user: user.to_owned(),
        seq,
    };
    pages::append(store, &list, &entry.encode(), true).await?;
    Ok(())
}

/// How far a dispatcher has read one shard: the next entry is `index` of
/// page `page`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxCursor {
    /// Page number.
    pub page: u64,
    /// Entries before this index are done.
    pub index: usize,
}

/// The next intents of `shard` after its saved cursor (at most `max`), each
/// with the cursor to save once it (and those before it) are handled.
pub async fn pending<S: Store>(
    store: &S,
    shard: u32,
    max: usize,
) -> Result<Vec<(PushIntent, OutboxCursor)>, ApiError> {
    let name = shard_name(shard);
    let mut at: OutboxCursor = match store.get(&keys::push_cursor(&name)).await? {
        Some(bytes) => serde_json::from_slice(&bytes)
            .map_err(|_| ApiError::internal("a push cursor is unreadable"))?,
        None => OutboxCursor::default(),
    };
    let mut out = Vec::new();
    while out.len() < max {
        let Some(bytes) = store.get(&keys::push_outbox_page(&name, at.page)).await? else {
            break;
        };
        let items: Vec<String> = serde_json::from_slice(&bytes)
            .map_err(|_| ApiError::internal("a push outbox page is unreadable"))?;
        let page = at.page;
        while at.page == page && at.index < items.len() && out.len() < max {
            let entry = &items[at.index];
            at.index += 1;
            if at.index == PAGE_CAPACITY {
                at = OutboxCursor {
                    page: page + 1,
                    index: 0,
                };
            }
            // An entry that is not ours is skipped (its cursor still moves on).
            if let Some(intent) = PushIntent::decode(entry) {
                out.push((intent, at));
            }
        }
        if at.page == page {
            break; // The page may still grow, or the batch is full.
        }
    }
    Ok(out)
}

/// Saves how far the dispatcher of `shard` got (after sending).
pub async fn commit<S: Store>(store: &S, shard: u32, cursor: OutboxCursor) -> Result<(), ApiError> {
    let bytes = serde_json::to_vec(&cursor).expect("a cursor serialises");
    store
        .set(&keys::push_cursor(&shard_name(shard)), &bytes)
        .await?;
    Ok(())
}

/// What to push for an intent at `now_ms`: the notification as it stood,
/// and the devices to send it to. `None` when there is nothing to send any
/// more (muted since, no devices left, a number that carried nothing, or an
/// under-18 whose devices are all in their nightly quiet hours: the
/// notification waits in the inbox, the phone stays silent).
pub async fn prepare<S: Store>(
    store: &S,
    intent: &PushIntent,
    now_ms: u64,
) -> Result<Option<(NotificationView, Vec<Device>)>, ApiError> {
    let Some(bytes) = store
        .get(&keys::notifications_log(&intent.user, intent.seq))
        .await?
        .filter(|b| !b.is_empty())
    else {
        return Ok(None);
    };
    let view: NotificationView = serde_json::from_slice(&bytes)
        .map_err(|_| ApiError::internal("a notification log entry is unreadable"))?;
    let settings = get_settings(store, &intent.user).await?;
    if !Kind::parse(&view.kind).is_some_and(|k| settings.pushes(k)) {
        return Ok(None);
    }
    let mut devices = list_devices(store, &intent.user).await?;
    let profile = crate::accounts::profile::load_profile(store, &intent.user).await?;
    if let Some(limits) = profile.protections_at(now_ms) {
        devices.retain(|d| {
            !in_quiet_hours(
                &limits.quiet_hours_start,
                &limits.quiet_hours_end,
                now_ms,
                d.utc_offset_minutes,
            )
        });
    }
    if devices.is_empty() {
        return Ok(None);
    }
    Ok(Some((view, devices)))
}

/// Whether `now_ms`, on a clock `offset` minutes from UTC, falls in
/// `start`-`end` (`HH:MM`, end exclusive; a range may wrap past midnight).
/// Unreadable hours count as quiet: a minor's phone errs on silence.
pub fn in_quiet_hours(start: &str, end: &str, now_ms: u64, offset: i32) -> bool {
    let minutes = |t: &str| {
        let (h, m) = t.split_once(':')?;
        let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
        ((0..24).contains(&h) && (0..60).contains(&m)).then_some(h * 60 + m)
    };
    let (Some(start), Some(end)) = (minutes(start), minutes(end)) else {
        return true;
    };
    let local = ((now_ms / 60_000) as i64 + i64::from(offset)).rem_euclid(24 * 60);
    if start <= end {
        (start..end).contains(&local)
    } else {
        local >= start || local < end
    }
}
