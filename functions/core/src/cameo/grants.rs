//! Asking to cast someone, and their answer: approve, deny, or later revoke.
//!
//! One record per (owner, asker) pair, changed by compare-and-swap; the
//! ask is listed once on each side. Revoking takes effect at once: every
//! cast is checked against the record when asked for and again when the
//! worker starts the job.

use serde::{Deserialize, Serialize};

use crate::accounts::User;
use crate::env::Env;
use crate::error::ApiError;
use crate::keys;
use crate::notifications::{self, Actor, Kind, NewNotification, Subject};
use crate::pages::{self, MAX_CAS_TRIES, PagedList, Position, busy};
use crate::store::Store;
use crate::time::rfc3339_from_ms;

use super::store::get_cameo;

/// A denied or revoked asker may ask again after this long.
pub const ASK_AGAIN_AFTER_MS: u64 = 7 * 24 * 60 * 60 * 1000;
/// Longest note with an ask.
pub const MAX_NOTE_CHARS: usize = 200;

/// Where an ask stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantState {
    /// Waiting for the owner.
    Requested,
    /// The asker may cast the owner.
    Approved,
    /// The owner said no.
    Denied,
    /// The owner took an approval back.
    Revoked,
}

/// One ask, under [`crate::keys::cameo_grant`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    /// Where it stands.
    pub state: GrantState,
    /// Unix ms of the (latest) ask.
    pub requested_at_ms: u64,
    /// Unix ms of the latest answer or revocation.
    #[serde(default)]
    pub answered_at_ms: Option<u64>,
    /// The asker's note.
    #[serde(default)]
    pub note: Option<String>,
}

/// An ask as either side sees it: the other person and the state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantView {
    /// The other person's id.
    pub user_id: String,
    /// The other person's handle.
    pub handle: String,
    /// `requested`, `approved`, `denied` or `revoked`.
    pub state: GrantState,
    /// The asker's note.
    pub note: Option<String>,
    /// RFC 3339.
    pub requested_at: String,
    /// RFC 3339.
    pub answered_at: Option<String>,
}

impl GrantView {
    /// `grant` as seen with `other` on the far side.
    pub fn new(other: &User, grant: &Grant) -> Self {
        Self {
            user_id: other.id.clone(),
            handle: other.handle.clone(),
            state: grant.state,
            note: grant.note.clone(),
            requested_at: rfc3339_from_ms(grant.requested_at_ms),
            answered_at: grant.answered_at_ms.map(rfc3339_from_ms),
        }
    }
}

/// A page of asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantPage {
    /// Newest first.
    pub items: Vec<GrantView>,
    /// Where to go on.
    pub next_cursor: Option<String>,
}

fn asks_in(owner: &str) -> PagedList<'_> {
    PagedList::new(owner, keys::cameo_asks_in_head, keys::cameo_asks_in_page)
}

fn asks_out(grantee: &str) -> PagedList<'_> {
    PagedList::new(
        grantee,
        keys::cameo_asks_out_head,
        keys::cameo_asks_out_page,
    )
}

fn decode(bytes: &[u8]) -> Result<Grant, ApiError> {
    serde_json::from_slice(bytes).map_err(|_| ApiError::internal("a cameo grant is unreadable"))
}

/// Reads the grant, lets `change` decide its next state (`None`: leave it),
/// and writes it by compare-and-swap. Returns the grant as it now stands
/// and whether it changed.
async fn change<S, F>(
    store: &S,
    owner: &str,
    grantee: &str,
    mut decide: F,
) -> Result<(Option<Grant>, bool), ApiError>
where
    S: Store,
    F: FnMut(Option<&Grant>) -> Result<Option<Grant>, ApiError>,
{
    let key = keys::cameo_grant(owner, grantee);
    for _ in 0..MAX_CAS_TRIES {
        let raw = store.get(&key).await?;
        let current = raw.as_deref().map(decode).transpose()?;
        let Some(next) = decide(current.as_ref())? else {
            return Ok((current, false));
        };
        let bytes = serde_json::to_vec(&next).expect("grants serialise");
        if store.compare_and_swap(&key, raw.as_deref(), &bytes).await? {
            return Ok((Some(next), true));
        }
    }
    Err(busy())
}

/// Whether `grantee` holds an approval from `owner` right now.
pub async fn is_approved<S: Store>(
    store: &S,
    owner: &str,
    grantee: &str,
) -> Result<bool, ApiError> {
    Ok(match store.get(&keys::cameo_grant(owner, grantee)).await? {
        Some(bytes) => decode(&bytes)?.state == GrantState::Approved,
        None => false,
    })
}

/// `asker` asks `owner` for permission to cast them. Asking again while an
/// ask is open, or once approved, changes nothing (`false`).
pub async fn ask<S: Store>(
    store: &S,
    env: &dyn Env,
    asker: &User,
    owner: &User,
    note: Option<&str>,
) -> Result<(Grant, bool), ApiError> {
    if asker.id == owner.id {
        return Err(ApiError::bad_request(
            "cameo_self",
            "your own cameo needs no permission",
        ));
    }
    if crate::graph::is_blocked_either(store, &asker.id, &owner.id).await? {
        return Err(ApiError::not_found("no such member"));
    }
    if !get_cameo(store, &owner.id)
        .await?
        .is_verified_at(env.now_ms())
    {
        return Err(ApiError::conflict(
            "cameo_not_verified",
            format!("@{} has no verified cameo to lend", owner.handle),
        ));
    }
    let note = note.map(str::trim).filter(|n| !n.is_empty());
    if note.is_some_and(|n| n.chars().count() > MAX_NOTE_CHARS) {
        return Err(ApiError::invalid_request(format!(
            "note: at most {MAX_NOTE_CHARS} characters"
        )));
    }
    let now = env.now_ms();
    let (grant, changed) = change(store, &owner.id, &asker.id, |current| match current {
        Some(g) if matches!(g.state, GrantState::Requested | GrantState::Approved) => Ok(None),
        Some(g) if now < g.answered_at_ms.unwrap_or(0) + ASK_AGAIN_AFTER_MS => {
            Err(ApiError::conflict(
                "cameo_ask_too_soon",
                "they answered no recently; you may ask again a week after their answer",
            ))
        }
        _ => Ok(Some(Grant {
            state: GrantState::Requested,
            requested_at_ms: now,
            answered_at_ms: None,
            note: note.map(str::to_owned),
        })),
    })
    .await?;
    let grant = grant.ok_or_else(busy)?;
    if changed {
        pages::append(store, &asks_in(&owner.id), &asker.id, true).await?;
        pages::append(store, &asks_out(&asker.id), &owner.id, true).await?;
        let new = NewNotification {
            kind: Kind::CameoPermissionRequested,
            actor: Some(actor(asker)),
            subject: Subject::default(),
            text: grant.note.clone(),
        };
        notifications::notify(store, env, &owner.id, new).await?;
    }
    Ok((grant, changed))
}

fn actor(user: &User) -> Actor {
    Actor::of(user)
}

/// `owner` approves or denies `asker`'s open ask (or denies an approval,
/// which revokes it). 404 when there is no ask.
pub async fn answer<S: Store>(
    store: &S,
    env: &dyn Env,
    owner: &User,
    asker: &User,
    approve: bool,
) -> Result<Grant, ApiError> {
    let now = env.now_ms();
    let (grant, changed) = change(store, &owner.id, &asker.id, |current| {
        let Some(g) = current else {
            return Err(ApiError::not_found("no such cameo request"));
        };
        let next = match (g.state, approve) {
            (GrantState::Approved, true) | (GrantState::Denied, false) => return Ok(None),
            (GrantState::Approved, false) => GrantState::Revoked,
            (GrantState::Requested, true) => GrantState::Approved,
            (GrantState::Requested, false) => GrantState::Denied,
            (GrantState::Denied | GrantState::Revoked, true) => GrantState::Approved,
            (GrantState::Revoked, false) => return Ok(None),
        };
        Ok(Some(Grant {
            state: next,
            answered_at_ms: Some(now),
            ..g.clone()
        }))
    })
    .await?;
    let grant = grant.ok_or_else(busy)?;
    if changed && grant.state != GrantState::Revoked {
        let new = NewNotification {
            kind: Kind::CameoPermissionAnswered,
            actor: Some(actor(owner)),
            subject: Subject::default(),
            text: Some(if approve { "approved" } else { "declined" }.to_owned()),
        };
        notifications::notify(store, env, &asker.id, new).await?;
    }
    Ok(grant)
}

/// `owner` takes back `grantee`'s approval; new generations casting the
/// owner are refused at once. Revoking what is not approved changes nothing.
pub async fn revoke<S: Store>(
    store: &S,
    env: &dyn Env,
    owner: &str,
    grantee: &str,
) -> Result<Option<Grant>, ApiError> {
    let now = env.now_ms();
    let (grant, _) = change(store, owner, grantee, |current| match current {
        Some(g) if g.state == GrantState::Approved => Ok(Some(Grant {
            state: GrantState::Revoked,
            answered_at_ms: Some(now),
            ..g.clone()
        })),
        _ => Ok(None),
    })
    .await?;
    Ok(grant)
}

/// Asks to cast `user_id` (`incoming`) or asks `user_id` made (`!incoming`),
/// newest first.
pub async fn list<S: Store>(
    store: &S,
    user_id: &str,
    incoming: bool,
    cursor: Option<&str>,
    limit: usize,
) -> Result<GrantPage, ApiError> {
    let from = cursor.map(Position::decode).transpose()?;
    let list = if incoming {
        asks_in(user_id)
    } else {
        asks_out(user_id)
    };
    let (others, next) = pages::read_newest_first(store, &list, from, limit, 4).await?;
    let grant_keys: Vec<String> = others
        .iter()
        .map(|o| {
            if incoming {
                keys::cameo_grant(user_id, o)
            } else {
                keys::cameo_grant(o, user_id)
            }
        })
        .collect();
    let user_keys: Vec<String> = others.iter().map(|o| keys::user(o)).collect();
    let grants = store.get_many(&grant_keys).await?;
    let users = store.get_many(&user_keys).await?;
    let mut items = Vec::with_capacity(others.len());
    for (grant, user) in grants.into_iter().zip(users) {
        let (Some(grant), Some(user)) = (grant, user) else {
            continue;
        };
        let user: User = serde_json::from_slice(&user)
            .map_err(|_| ApiError::internal("a user record is unreadable"))?;
        items.push(GrantView::new(&user, &decode(&grant)?));
    }
    Ok(GrantPage {
        items,
        next_cursor: next.map(|p| p.encode()),
    })
}
