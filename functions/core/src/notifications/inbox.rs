//! The inbox: newest first, an exact unread count, marking read.

use std::collections::{BTreeSet, HashSet};

use serde::Deserialize;

use crate::error::ApiError;
use crate::keys;
use crate::pages::{self, MAX_CAS_TRIES, PagedList, Position, busy};
use crate::store::{Store, decode_counter};

use super::model::NotificationView;
use super::notify::{decode, encode};

/// Most notifications one page answers.
pub const MAX_PAGE_SIZE: usize = 50;
const DEFAULT_PAGE_SIZE: usize = 20;
/// Index pages one listing reads (moved notifications leave blanks).
const MAX_INDEX_PAGES: usize = 4;
/// Most ids one mark-read request names.
pub const MAX_MARK_IDS: usize = 100;
/// Most notifications one "read up to" walks (newest first).
const MAX_MARK_WALK: usize = 500;

pub(crate) fn list_of(user: &str) -> PagedList<'_> {
    PagedList::new(user, keys::notifications_head, keys::notifications_page)
}

/// One page of the inbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inbox {
    /// Newest (latest activity) first.
    pub items: Vec<NotificationView>,
    /// Where to go on; `None` at the oldest.
    pub next_cursor: Option<String>,
    /// Unread notifications in the whole inbox.
    pub unread: u64,
}

/// A page of `user`'s inbox.
pub async fn list<S: Store>(
    store: &S,
    user: &str,
    cursor: Option<&str>,
    limit: Option<usize>,
) -> Result<Inbox, ApiError> {
    let limit = limit.unwrap_or(DEFAULT_PAGE_SIZE);
    if limit == 0 || limit > MAX_PAGE_SIZE {
        return Err(ApiError::invalid_request(format!(
            "limit must be between 1 and {MAX_PAGE_SIZE}"
        )));
    }
    let from = cursor.map(Position::decode).transpose()?;
    let (mut ids, next) =
        pages::read_newest_first(store, &list_of(user), from, limit, MAX_INDEX_PAGES).await?;
    // A notification moved to the top and stopped half-way is listed twice.
    let mut seen = std::collections::HashSet::new();
    ids.retain(|id| seen.insert(id.clone()));
    let keys: Vec<String> = ids.iter().map(|id| keys::notification(user, id)).collect();
    let found = if keys.is_empty() {
        Vec::new()
    } else {
        store.get_many(&keys).await?
    };
    let mut items = found
        .into_iter()
        .flatten()
        .map(|bytes| decode(&bytes).map(|n| n.view()))
        .collect::<Result<Vec<_>, _>>()?;
    forget_deleted(store, &mut items).await?;
    Ok(Inbox {
        items,
        next_cursor: next.map(|p| p.encode()),
        unread: unread_count(store, user).await?,
    })
}

/// Shows the actors of `views` who have since deleted their account as
/// deleted members: one batched read of their tombstones (at most three
/// actors a notification, so bounded by the page).
pub(crate) async fn forget_deleted<S: Store>(
    store: &S,
    views: &mut [NotificationView],
) -> Result<(), ApiError> {
    let ids: Vec<String> = views
        .iter()
        .flat_map(|n| n.actors.iter().map(|a| a.id.clone()))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if ids.is_empty() {
        return Ok(());
    }
    let tombstones: Vec<String> = ids.iter().map(|id| keys::deleted_user(id)).collect();
    let found = store.get_many(&tombstones).await?;
    let gone: HashSet<String> = ids
        .into_iter()
        .zip(found)
        .filter_map(|(id, t)| t.map(|_| id))
        .collect();
    if !gone.is_empty() {
        views.iter_mut().for_each(|v| v.forget(&gone));
    }
    Ok(())
}

/// How many notifications `user` has not read.
pub async fn unread_count<S: Store>(store: &S, user: &str) -> Result<u64, ApiError> {
    Ok(match store.get(&keys::notifications_unread(user)).await? {
        Some(bytes) => decode_counter(&bytes)
            .map_err(|_| ApiError::internal("the unread count is unreadable"))?
            .max(0) as u64,
        None => 0,
    })
}

/// `POST /v1/notifications/read` body: name notifications, or read
/// everything whose latest change is at or before a sequence number (the
/// `seq` of the newest notification the member saw).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarkRead {
    /// Notification ids.
    pub ids: Option<Vec<String>>,
    /// Everything up to this sequence number.
    pub up_to_seq: Option<u64>,
}

/// Marks notifications read and returns the unread count after.
pub async fn mark_read<S: Store>(store: &S, user: &str, req: MarkRead) -> Result<u64, ApiError> {
    match (req.ids, req.up_to_seq) {
        (Some(ids), None) => {
            if ids.is_empty() || ids.len() > MAX_MARK_IDS {
                return Err(ApiError::invalid_request(format!(
                    "ids must name 1 to {MAX_MARK_IDS} notifications"
                )));
            }
            if ids.iter().any(|id| !crate::studio::validate::is_ulid(id)) {
                return Err(ApiError::invalid_request("ids must be notification ids"));
            }
            for id in &ids {
                mark_one(store, user, id, u64::MAX).await?;
            }
        }
        (None, Some(up_to)) => {
            let mut from = None;
            let mut walked = 0;
            while walked < MAX_MARK_WALK {
                let (ids, next) =
                    pages::read_newest_first(store, &list_of(user), from, 50, MAX_INDEX_PAGES)
                        .await?;
                walked += ids.len().max(1);
                let keys: Vec<String> = ids.iter().map(|id| keys::notification(user, id)).collect();
                let found = if keys.is_empty() {
                    Vec::new()
                } else {
                    store.get_many(&keys).await?
                };
                for (id, raw) in ids.iter().zip(found) {
                    let unread = match raw {
                        Some(bytes) => {
                            let n = decode(&bytes)?;
                            !n.read && n.seq <= up_to
                        }
                        None => false,
                    };
                    if unread {
                        mark_one(store, user, id, up_to).await?;
                    }
                }
                match next {
                    Some(p) => from = Some(p),
                    None => break,
                }
            }
        }
        _ => {
            return Err(ApiError::invalid_request(
                "send either ids or up_to_seq, not both",
            ));
        }
    }
    unread_count(store, user).await
}

/// Marks one notification read if it is unread and its latest change is at
/// or before `up_to`; the unread count follows the one writer that flips it.
async fn mark_one<S: Store>(store: &S, user: &str, id: &str, up_to: u64) -> Result<(), ApiError> {
    let key = keys::notification(user, id);
    for _ in 0..MAX_CAS_TRIES {
        let Some(bytes) = store.get(&key).await? else {
            return Ok(());
        };
        let mut n = decode(&bytes)?;
        if n.read || n.seq > up_to {
            return Ok(());
        }
        n.read = true;
        let read = encode(&n);
        if store.compare_and_swap(&key, Some(&bytes), &read).await? {
            if let Err(e) = store.increment(&keys::notifications_unread(user), -1).await {
                // The count did not move: the notification stays unread.
                let _ = store.compare_and_swap(&key, Some(&read), &bytes).await;
                return Err(e.into());
            }
            return Ok(());
        }
    }
    Err(busy())
}
