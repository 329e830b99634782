//! Invite codes: sign-up needs one, and each works once.
//!
//! Minted codes are 10 Crockford base32 characters (50 random bits), shown as
//! `ABCDE-FGHJK` and stored under [`crate::keys::invite`]. Bootstrap codes come
//! from configuration and have no record until they are used. A code is spent
//! by compare-and-swap, so two sign-ups racing for one code cannot both win.
//!
//! Each member is given a few codes at sign-up (listed under
//! [`crate::keys::invites_of_page`]); they see who used each and may revoke
//! an unused one. Revoking and spending race through the same
//! compare-and-swap, so a code is either used or revoked, never both.

use serde::{Deserialize, Serialize};

use crate::accounts::service::load_users;
use crate::accounts::{AccountsConfig, InviteList, InviteView, UserSummary};
use crate::env::{Env, random_bytes};
use crate::error::ApiError;
use crate::ids::CROCKFORD;
use crate::keys;
use crate::pages::{self, PagedList, Position};
use crate::store::Store;
use crate::time::rfc3339_from_ms;

/// Who issued bootstrap invites, as recorded when one is used.
pub const BOOTSTRAP_ISSUER: &str = "bootstrap";
/// The most codes one [`mint`] call creates.
pub const MAX_MINT: u32 = 1000;
/// The longest code accepted (after normalisation).
const MAX_CODE_LEN: usize = 32;

/// An invite's stored state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invite {
    /// User id of the issuer, or [`BOOTSTRAP_ISSUER`] / an operator name.
    pub issued_by: String,
    /// Unix milliseconds.
    pub created_at_ms: u64,
    /// The user who signed up with it; `None` while unused.
    pub used_by: Option<String>,
    /// Unix milliseconds.
    pub used_at_ms: Option<u64>,
    /// Unix milliseconds; a revoked code never works.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at_ms: Option<u64>,
}

/// Canonical form of a code as typed: upper case, without `-` or spaces.
/// `None` when it cannot be a code (empty, too long, other characters).
pub fn normalise(code: &str) -> Option<String> {
    let canonical: String = code
        .chars()
        .filter(|c| *c != '-' && !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let ok = !canonical.is_empty()
        && canonical.len() <= MAX_CODE_LEN
        && canonical.bytes().all(|c| c.is_ascii_alphanumeric());
    ok.then_some(canonical)
}

/// `ABCDEFGHJK` → `ABCDE-FGHJK`, the form handed to people.
pub fn display(normalised: &str) -> String {
    if normalised.len() == 10 {
        format!("{}-{}", &normalised[..5], &normalised[5..])
    } else {
        normalised.to_owned()
    }
}

/// A fresh random code, normalised (10 characters, 50 bits).
pub fn generate(env: &dyn Env) -> String {
    let bits = u64::from_le_bytes(random_bytes::<8>(env));
    (0..10)
        .map(|i| CROCKFORD[((bits >> (5 * i)) & 31) as usize] as char)
        .collect()
}

/// Creates `count` unused invites issued by `issued_by` and returns them in display form.
pub async fn mint<S: Store>(
    store: &S,
    env: &dyn Env,
    issued_by: &str,
    count: u32,
) -> Result<Vec<String>, ApiError> {
    if count == 0 || count > MAX_MINT {
        return Err(ApiError::invalid_request(format!(
            "count must be 1-{MAX_MINT}"
        )));
    }
    let record = serde_json::to_vec(&Invite {
        issued_by: issued_by.to_owned(),
        created_at_ms: env.now_ms(),
        used_by: None,
        used_at_ms: None,
        revoked_at_ms: None,
    })
    .expect("invites serialise");
    let mut codes = Vec::with_capacity(count as usize);
    while codes.len() < count as usize {
        let code = generate(env);
        // A collision in 2^50 is unlikely but must never hand out a used code.
        if store
            .compare_and_swap(&keys::invite(&code), None, &record)
            .await?
        {
            codes.push(display(&code));
        }
    }
    Ok(codes)
}

/// An invite found usable, and the stored bytes a claim must still find.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    /// Normalised code.
    pub code: String,
    /// The record as read; `None` for a bootstrap code not yet used.
    expected: Option<Vec<u8>>,
    issued_by: String,
    created_at_ms: u64,
}

/// 403 `invite_invalid`.
fn invalid() -> ApiError {
    ApiError::forbidden("invite_invalid", "this invite code does not exist")
}

/// 409 `invite_used`.
fn used() -> ApiError {
    ApiError::conflict("invite_used", "this invite code has already been used")
}

/// 403 `invite_revoked`.
fn revoked() -> ApiError {
    ApiError::forbidden("invite_revoked", "this invite code was revoked")
}

/// Looks `code` (as typed) up without writing: 403 `invite_invalid` when
/// unknown, 409 `invite_used` when spent.
pub async fn check<S: Store>(
    store: &S,
    env: &dyn Env,
    cfg: &AccountsConfig,
    code: &str,
) -> Result<Ticket, ApiError> {
    let code = normalise(code).ok_or_else(invalid)?;
    match store.get(&keys::invite(&code)).await? {
        Some(bytes) => {
            let invite: Invite = serde_json::from_slice(&bytes)
                .map_err(|_| ApiError::internal("an invite record is unreadable"))?;
            if invite.used_by.is_some() {
                return Err(used());
            }
            if invite.revoked_at_ms.is_some() {
                return Err(revoked());
            }
            Ok(Ticket {
                code,
                expected: Some(bytes),
                issued_by: invite.issued_by,
                created_at_ms: invite.created_at_ms,
            })
        }
        None if cfg.bootstrap_invites.contains(&code) => Ok(Ticket {
            code,
            expected: None,
            issued_by: BOOTSTRAP_ISSUER.to_owned(),
            created_at_ms: env.now_ms(),
        }),
        None => Err(invalid()),
    }
}

/// Spends the invite for `user_id`; 409 `invite_used` if someone else got there first.
pub async fn claim<S: Store>(
    store: &S,
    env: &dyn Env,
    ticket: &Ticket,
    user_id: &str,
) -> Result<(), ApiError> {
    let spent = serde_json::to_vec(&Invite {
        issued_by: ticket.issued_by.clone(),
        created_at_ms: ticket.created_at_ms,
        used_by: Some(user_id.to_owned()),
        used_at_ms: Some(env.now_ms()),
        revoked_at_ms: None,
    })
    .expect("invites serialise");
    let key = keys::invite(&ticket.code);
    if store
        .compare_and_swap(&key, ticket.expected.as_deref(), &spent)
        .await?
    {
        Ok(())
    } else {
        Err(used())
    }
}

/// Undoes a [`claim`] made for `user_id`, when a later step of sign-up failed.
/// Best effort: it only restores the invite if it is still spent by that user.
pub async fn unclaim<S: Store>(store: &S, ticket: &Ticket, user_id: &str) -> Result<(), ApiError> {
    let key = keys::invite(&ticket.code);
    let Some(current) = store.get(&key).await? else {
        return Ok(());
    };
    let ours = serde_json::from_slice::<Invite>(&current)
        .is_ok_and(|i| i.used_by.as_deref() == Some(user_id));
    if !ours {
        return Ok(());
    }
    match &ticket.expected {
        Some(original) => {
            store
                .compare_and_swap(&key, Some(&current), original)
                .await?;
        }
        // A bootstrap code had no record before; without it, the code is usable again.
        None => store.delete(&key).await?,
    }
    Ok(())
}

pub(crate) fn given_to(user_id: &str) -> PagedList<'_> {
    PagedList::new(user_id, keys::invites_of_head, keys::invites_of_page)
}

/// Mints `count` codes issued by member `user_id` and lists them as theirs.
pub async fn grant<S: Store>(
    store: &S,
    env: &dyn Env,
    user_id: &str,
    count: u32,
) -> Result<Vec<String>, ApiError> {
    let codes = mint(store, env, user_id, count).await?;
    for code in &codes {
        let code = normalise(code).expect("minted codes are codes");
        pages::append(store, &given_to(user_id), &code, true).await?;
    }
    Ok(codes)
}

/// Most invites one listing answers.
const MAX_LIST: usize = 100;

fn decode(bytes: &[u8]) -> Result<Invite, ApiError> {
    serde_json::from_slice(bytes).map_err(|_| ApiError::internal("an invite record is unreadable"))
}

/// The codes `user_id` was given, newest first, with who used each.
pub async fn list<S: Store>(
    store: &S,
    user_id: &str,
    cursor: Option<&str>,
    limit: Option<usize>,
) -> Result<InviteList, ApiError> {
    let limit = limit.unwrap_or(50);
    if limit == 0 || limit > MAX_LIST {
        return Err(ApiError::invalid_request(format!(
            "limit must be between 1 and {MAX_LIST}"
        )));
    }
    let from = cursor.map(Position::decode).transpose()?;
    let (codes, next) = pages::read_newest_first(store, &given_to(user_id), from, limit, 4).await?;
    let keys: Vec<String> = codes.iter().map(|c| keys::invite(c)).collect();
    let mut records = Vec::with_capacity(codes.len());
    for (code, raw) in codes.iter().zip(store.get_many(&keys).await?) {
        if let Some(raw) = raw {
            records.push((code, decode(&raw)?));
        }
    }
    let users: Vec<String> = records
        .iter()
        .filter_map(|(_, i)| i.used_by.clone())
        .collect();
    let found = load_users(store, &users).await?;
    let mut found = found.into_iter();
    let invites = records
        .into_iter()
        .map(|(code, invite)| {
            let used_by = invite.used_by.as_ref().and_then(|_| found.next().flatten());
            // A redeemer whose record is gone deleted their account.
            let used_by_deleted = invite.used_by.is_some() && used_by.is_none();
            InviteView {
                code: display(code),
                status: match (&invite.used_by, invite.revoked_at_ms) {
                    (Some(_), _) => "used",
                    (None, Some(_)) => "revoked",
                    (None, None) => "unused",
                }
                .to_owned(),
                created_at: rfc3339_from_ms(invite.created_at_ms),
                used_by: used_by.map(|u| UserSummary {
                    id: u.id,
                    handle: u.handle,
                    display_name: u.display_name,
                }),
                used_at: invite.used_at_ms.map(rfc3339_from_ms),
                used_by_deleted,
            }
        })
        .collect();
    Ok(InviteList {
        invites,
        next_cursor: next.map(|p| p.encode()),
    })
}

/// `user_id` revokes one of their unused codes (revoking twice is fine):
/// 404 when it is not theirs, 409 `invite_used` when already used.
pub async fn revoke<S: Store>(
    store: &S,
    env: &dyn Env,
    user_id: &str,
    code: &str,
) -> Result<(), ApiError> {
    let not_yours = || ApiError::not_found("you have no such invite code");
    let code = normalise(code).ok_or_else(not_yours)?;
    let key = keys::invite(&code);
    for _ in 0..pages::MAX_CAS_TRIES {
        let raw = store.get(&key).await?.ok_or_else(not_yours)?;
        let mut invite = decode(&raw)?;
        if invite.issued_by != user_id {
            return Err(not_yours());
        }
        if invite.used_by.is_some() {
            return Err(used());
        }
        if invite.revoked_at_ms.is_some() {
            return Ok(());
        }
        invite.revoked_at_ms = Some(env.now_ms());
        let bytes = serde_json::to_vec(&invite).expect("invites serialise");
        if store.compare_and_swap(&key, Some(&raw), &bytes).await? {
            return Ok(());
        }
    }
    Err(pages::busy())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;
    use crate::testing::{FixedEnv, block_on};

    fn cfg(bootstrap: &str) -> AccountsConfig {
        AccountsConfig::from_vars("k".repeat(32).as_str(), "", bootstrap).unwrap()
    }

    #[test]
    fn codes_are_normalised_case_insensitively() {
        assert_eq!(normalise(" abcde-fghjk ").as_deref(), Some("ABCDEFGHJK"));
        assert_eq!(normalise("ALPHA-00001").as_deref(), Some("ALPHA00001"));
        assert_eq!(normalise("no!"), None);
        assert_eq!(normalise("--"), None);
        assert_eq!(normalise(&"A".repeat(33)), None);
        assert_eq!(display("ABCDEFGHJK"), "ABCDE-FGHJK");
    }

    #[test]
    fn generated_codes_use_crockford_and_differ() {
        let env = FixedEnv::default();
        let a = generate(&env);
        assert_eq!(a.len(), 10);
        assert!(a.bytes().all(|c| CROCKFORD.contains(&c)));
        assert_ne!(a, generate(&env));
    }

    #[test]
    fn minted_codes_work_once_in_any_case() {
        let (store, env) = (MemoryStore::new(), FixedEnv::default());
        let codes = block_on(mint(&store, &env, "admin", 3)).unwrap();
        assert_eq!(codes.len(), 3);
        assert!(
            codes
                .iter()
                .all(|c| c.len() == 11 && c.as_bytes()[5] == b'-')
        );

        let typed = codes[0].to_lowercase();
        let ticket = block_on(check(&store, &env, &cfg(""), &typed)).unwrap();
        block_on(claim(&store, &env, &ticket, "U1")).unwrap();
        let again = block_on(check(&store, &env, &cfg(""), &codes[0])).unwrap_err();
        assert_eq!((again.status, again.code), (409, "invite_used"));
        // A stale ticket (read before the claim) cannot spend it a second time.
        let raced = block_on(claim(&store, &env, &ticket, "U2")).unwrap_err();
        assert_eq!(raced.code, "invite_used");
    }

    #[test]
    fn unknown_codes_are_invalid_and_nothing_is_written() {
        let (store, env) = (MemoryStore::new(), FixedEnv::default());
        for code in ["NOPE-NOPE", "", "???"] {
            let e = block_on(check(&store, &env, &cfg("ALPHA-1"), code)).unwrap_err();
            assert_eq!((e.status, e.code), (403, "invite_invalid"));
        }
        assert!(store.is_empty());
    }

    #[test]
    fn bootstrap_codes_work_until_first_use() {
        let (store, env) = (MemoryStore::new(), FixedEnv::default());
        let cfg = cfg("ALPHA-00001");
        let ticket = block_on(check(&store, &env, &cfg, "alpha-00001")).unwrap();
        assert!(store.is_empty(), "checking writes nothing");
        block_on(claim(&store, &env, &ticket, "U1")).unwrap();
        let e = block_on(check(&store, &env, &cfg, "ALPHA-00001")).unwrap_err();
        assert_eq!(e.code, "invite_used");
    }

    #[test]
    fn unclaim_restores_the_previous_state() {
        let (store, env) = (MemoryStore::new(), FixedEnv::default());
        let codes = block_on(mint(&store, &env, "admin", 1)).unwrap();
        let before = store.snapshot();
        let ticket = block_on(check(&store, &env, &cfg(""), &codes[0])).unwrap();
        block_on(claim(&store, &env, &ticket, "U1")).unwrap();
        block_on(unclaim(&store, &ticket, "U1")).unwrap();
        assert_eq!(store.snapshot(), before);

        let boot = cfg("BOOT-1");
        let ticket = block_on(check(&store, &env, &boot, "boot-1")).unwrap();
        block_on(claim(&store, &env, &ticket, "U2")).unwrap();
        block_on(unclaim(&store, &ticket, "U2")).unwrap();
        assert_eq!(store.snapshot(), before);
    }

    #[test]
    fn mint_refuses_silly_counts() {
        let (store, env) = (MemoryStore::new(), FixedEnv::default());
        assert_eq!(
            block_on(mint(&store, &env, "a", 0)).unwrap_err().status,
            400
        );
        assert_eq!(
            block_on(mint(&store, &env, "a", MAX_MINT + 1))
                .unwrap_err()
                .status,
            400
        );
        assert!(store.is_empty());
    }
}
