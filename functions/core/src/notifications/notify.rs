//! The fan-out every feature calls: record what happened in the
//! recipient's inbox, folding bursts, and log it for the live stream.

use crate::env::Env;
use crate::error::ApiError;
use crate::ids::new_ulid;
use crate::keys;
use crate::pages::{self, MAX_CAS_TRIES, busy};
use crate::store::Store;

use super::model::{MAX_ACTORS, MAX_TEXT_CHARS, NewNotification, Notification};
use super::{inbox, push, stream};

/// A burst folds into the notification it continues while that was last
/// touched within this window; after it, a new notification starts.
const AGGREGATION_WINDOW_MS: u64 = 24 * 60 * 60 * 1000;

/// Tells `recipient` what happened. Nothing is recorded when the actor is
/// the recipient or when either blocked the other; otherwise returns the
/// notification as it now stands (aggregated bursts included).
pub async fn notify<S: Store>(
    store: &S,
    env: &dyn Env,
    recipient: &str,
    mut new: NewNotification,
) -> Result<Option<Notification>, ApiError> {
    if let Some(actor) = &new.actor
        && (actor.id == recipient
            || crate::graph::is_blocked_either(store, recipient, &actor.id).await?)
    {
        return Ok(None);
    }
    new.text = new
        .text
        .map(|t| t.trim().chars().take(MAX_TEXT_CHARS).collect::<String>())
        .filter(|t| !t.is_empty());
    let now = env.now_ms();
    let group = new
        .kind
        .aggregates()
        .then(|| keys::notification_group(recipient, new.kind.as_str(), new.subject.group_id()));
    if let Some(group) = &group
        && let Some(current) = store.get(group).await?
    {
        let id = String::from_utf8_lossy(&current).into_owned();
        if let Some(n) = fold(store, recipient, &id, &new, now).await? {
            return Ok(Some(n));
        }
    }
    create(store, env, recipient, new, group.as_deref(), now)
        .await
        .map(Some)
}

/// Starts a new notification.
async fn create<S: Store>(
    store: &S,
    env: &dyn Env,
    recipient: &str,
    new: NewNotification,
    group: Option<&str>,
    now: u64,
) -> Result<Notification, ApiError> {
    let id = new_ulid(env);
    let page = pages::append(store, &inbox::list_of(recipient), &id, false).await?;
    let seq = stream::next_seq(store, recipient).await?;
    let n = Notification {
        id: id.clone(),
        kind: new.kind,
        actors: new.actor.into_iter().collect(),
        count: 1,
        subject: new.subject,
        text: new.text,
        read: false,
        seq,
        page,
        created_at_ms: now,
        updated_at_ms: now,
    };
    let key = keys::notification(recipient, &id);
    store.set(&key, &encode(&n)).await?;
    if let Err(e) = store
        .increment(&keys::notifications_unread(recipient), 1)
        .await
    {
        // No unread notification the count does not include: take it back.
        let _ = store.delete(&key).await;
        return Err(e.into());
    }
    if let Some(group) = group {
        if let Some(actor) = &n.actors.first() {
            let marker = keys::notification_actor(recipient, &id, &actor.id);
            store.set(&marker, b"1").await?;
        }
        store.set(group, id.as_bytes()).await?;
    }
    stream::log(store, recipient, &n).await?;
    push::enqueue(store, recipient, n.kind, n.seq).await?;
    Ok(n)
}

/// Folds `new` into notification `id` if it is recent enough; `None` when a
/// new one must start instead.
async fn fold<S: Store>(
    store: &S,
    recipient: &str,
    id: &str,
    new: &NewNotification,
    now: u64,
) -> Result<Option<Notification>, ApiError> {
    let key = keys::notification(recipient, id);
    // Each person counts once per burst (unlike and like again is not news).
    if let Some(actor) = &new.actor {
        let marker = keys::notification_actor(recipient, id, &actor.id);
        if !store.compare_and_swap(&marker, None, b"1").await? {
            return match store.get(&key).await? {
                Some(bytes) => decode(&bytes).map(Some),
                None => Ok(None),
            };
        }
    }
    // Move it to the top of the inbox first: a stop before the record is
    // updated leaves a duplicate entry (listings skip it), never a lost one.
    let mut appended: Option<u64> = None;
    for _ in 0..MAX_CAS_TRIES {
        let Some(bytes) = store.get(&key).await? else {
            return Ok(None);
        };
        let current = decode(&bytes)?;
        if now.saturating_sub(current.updated_at_ms) > AGGREGATION_WINDOW_MS {
            return Ok(None);
        }
        let page = match appended {
            Some(p) => p,
            None => {
                let p = pages::append(store, &inbox::list_of(recipient), id, false).await?;
                appended = Some(p);
                p
            }
        };
        let mut next = current.clone();
        next.count += 1;
        if let Some(actor) = &new.actor {
            next.actors.retain(|a| a.id != actor.id);
            next.actors.insert(0, actor.clone());
            next.actors.truncate(MAX_ACTORS);
        }
        if new.text.is_some() {
            next.text = new.text.clone();
        }
        next.read = false;
        next.page = page;
        next.updated_at_ms = now;
        next.seq = stream::next_seq(store, recipient).await?;
        if store
            .compare_and_swap(&key, Some(&bytes), &encode(&next))
            .await?
        {
            if current.read
                && let Err(e) = store
                    .increment(&keys::notifications_unread(recipient), 1)
                    .await
            {
                // The count did not move: the notification stays as it was.
                let _ = store
                    .compare_and_swap(&key, Some(&encode(&next)), &bytes)
                    .await;
                if let Some(actor) = &new.actor {
                    let marker = keys::notification_actor(recipient, id, &actor.id);
                    let _ = store.delete(&marker).await;
                }
                return Err(e.into());
            }
            pages::remove(store, &inbox::list_of(recipient), current.page, id).await?;
            stream::log(store, recipient, &next).await?;
            push::enqueue(store, recipient, next.kind, next.seq).await?;
            return Ok(Some(next));
        }
        // Lost a race: the sequence number taken is a gap the stream skips.
        stream::skip(store, recipient, next.seq).await?;
    }
    Err(busy())
}

pub(crate) fn encode(n: &Notification) -> Vec<u8> {
    serde_json::to_vec(n).expect("a notification serialises")
}

pub(crate) fn decode(bytes: &[u8]) -> Result<Notification, ApiError> {
    serde_json::from_slice(bytes).map_err(|_| ApiError::internal("a notification is unreadable"))
}
