//! Sign-up, log-in and authentication over a [`Store`].
//!
//! Sign-up writes nothing when it refuses: fields, age and region are
//! checked first, then the attempt is counted (rate limits), then the invite
//! and handle are read, then the handle is claimed by compare-and-swap, then
//! the invite; if the invite claim loses, the handle is released before the
//! user record is ever written.

use crate::accounts::profile::{Profile, load_profile, me_view};
use crate::accounts::ratelimit::{self, Action};
use crate::accounts::{
    AccountsConfig, Client, LoginRequest, MeView, MinorProtections, Session, SignupRequest, User,
    age, invites, password, policy, token, validate,
};
use crate::env::Env;
use crate::error::ApiError;
use crate::ids::{new_ulid, ulid_time_ms};
use crate::keys;
use crate::store::{Store, decode_counter};
use crate::time::rfc3339_from_ms;

/// A handle claim whose user record is still missing after this long was
/// abandoned mid-sign-up (crash, timeout) and may be taken over.
const ABANDONED_CLAIM_MS: u64 = 60_000;

/// 403 `region_unavailable`.
fn region_unavailable() -> ApiError {
    ApiError::forbidden(
        "region_unavailable",
        "Dreamreel is not available in your country yet",
    )
}

/// The sign-up country: the trusted edge header's when present, else the
/// client's declaration. 400 when neither names a country, 403 when it is
/// not open.
fn signup_country(
    cfg: &AccountsConfig,
    client: &Client,
    declared: Option<&str>,
) -> Result<String, ApiError> {
    let country = match client
        .edge_country
        .as_deref()
        .filter(|c| !c.trim().is_empty())
    {
        Some(edge) => policy::country(edge).ok_or_else(region_unavailable)?,
        None => declared.and_then(policy::country).ok_or_else(|| {
            ApiError::invalid_request("country must be a two-letter country code")
        })?,
    };
    if !cfg.policy.signup_countries.contains(&country) {
        return Err(region_unavailable());
    }
    Ok(country)
}

/// Creates an account with an unused invite and signs it in. Under-13s are
/// refused (422 `too_young`), so are countries not open (403
/// `region_unavailable`); under-18s get the protective defaults.
pub async fn signup<S: Store>(
    store: &S,
    env: &dyn Env,
    cfg: &AccountsConfig,
    client: &Client,
    req: SignupRequest,
) -> Result<Session, ApiError> {
    if req.invite_code.trim().is_empty() {
        return Err(ApiError::invalid_request("invite_code is required"));
    }
    let lower = validate::new_handle(&req.handle)?;
    let handle_key = keys::handle(&lower);
    validate::password(&req.password)?;
    let display_name = validate::display_name(req.display_name.as_deref(), &req.handle)?;
    let born = age::birth_date(&req.birth_date, env.now_ms())?;
    let years = born.age_on(age::Date::at_ms(env.now_ms()));
    if years < age::MIN_SIGNUP_AGE {
        return Err(age::too_young());
    }
    let country = signup_country(cfg, client, req.country.as_deref())?;
    ratelimit::hit_both(
        store,
        env,
        &cfg.policy.rate,
        (Action::SignupHandle, Action::SignupAddress),
        &lower,
        client.address.as_deref(),
    )
    .await?;

    // Reads first, so the common refusals cost no hashing and write nothing.
    let ticket = invites::check(store, env, cfg, &req.invite_code).await?;
    let claim = handle_claim(store, env, &handle_key).await?;
    if claim == HandleClaim::Held {
        return Err(handle_taken());
    }

    let user = User {
        id: new_ulid(env),
        handle: req.handle,
        display_name,
        password_hash: password::hash(env, &req.password)?,
        created_at_ms: env.now_ms(),
        invite_code: ticket.code.clone(),
    };
    let expected = match &claim {
        HandleClaim::Abandoned(previous) => Some(previous.as_slice()),
        _ => None,
    };
    if !store
        .compare_and_swap(&handle_key, expected, user.id.as_bytes())
        .await?
    {
        return Err(handle_taken());
    }
    if let Err(e) = invites::claim(store, env, &ticket, &user.id).await {
        release_handle(store, &handle_key, &user.id).await;
        return Err(e);
    }
    let minor = years < age::ADULT_AGE;
    let profile = Profile {
        bio: String::new(),
        birth_date: Some(born.to_iso()),
        country: Some(country),
        protections: minor.then(|| MinorProtections {
            feed_minutes_per_day: cfg.policy.minor_feed_minutes,
            quiet_hours_start: cfg.policy.minor_quiet_hours.0.clone(),
            quiet_hours_end: cfg.policy.minor_quiet_hours.1.clone(),
            cameo: "only_me".to_owned(),
        }),
        avatar_key: None,
    };
    // The profile lands before the user, so no member is ever seen without
    // their age (an under-18 without protections).
    let profile_key = keys::profile(&user.id);
    let profile_bytes = serde_json::to_vec(&profile).expect("profiles serialise");
    let record = serde_json::to_vec(&user).expect("users serialise");
    let written = match store.set(&profile_key, &profile_bytes).await {
        Ok(()) => store.set(&keys::user(&user.id), &record).await,
        Err(e) => Err(e),
    };
    if let Err(e) = written {
        // Best effort: leave the handle and invite usable again.
        let _ = store.delete(&profile_key).await;
        let _ = invites::unclaim(store, &ticket, &user.id).await;
        release_handle(store, &handle_key, &user.id).await;
        return Err(e.into());
    }
    if cfg.policy.invites_per_member > 0 {
        // The account stands either way; an admin can grant codes that failed here.
        let _ = invites::grant(store, env, &user.id, cfg.policy.invites_per_member).await;
    }
    Ok(issue_session(env, cfg, &user, 0))
}

/// Signs in with handle (any case) and password. Unknown handles and wrong
/// passwords get the same answer, after the same amount of work.
/// Attempts count per handle and per client address, before any hashing.
pub async fn login<S: Store>(
    store: &S,
    env: &dyn Env,
    cfg: &AccountsConfig,
    client: &Client,
    req: LoginRequest,
) -> Result<Session, ApiError> {
    let lower = validate::handle(&req.handle);
    ratelimit::hit_both(
        store,
        env,
        &cfg.policy.rate,
        (Action::LoginHandle, Action::LoginAddress),
        lower.as_deref().unwrap_or("-"),
        client.address.as_deref(),
    )
    .await?;
    let user = match lower {
        Ok(lower) => match store.get(&keys::handle(&lower)).await? {
            Some(id) => load_user(store, &String::from_utf8_lossy(&id)).await?,
            None => None,
        },
        Err(_) => None,
    };
    match user {
        Some(user) if password::verify(&req.password, &user.password_hash) => {
            let epoch = session_epoch(store, &user.id).await?;
            Ok(issue_session(env, cfg, &user, epoch))
        }
        Some(_) => Err(invalid_credentials()),
        None => {
            password::verify_dummy(&req.password);
            Err(invalid_credentials())
        }
    }
}

/// The user an `Authorization: Bearer <token>` header belongs to.
/// 401 `unauthorized` when absent, `invalid_token` when forged, malformed or
/// the user is gone, `token_expired` when expired.
pub async fn authenticate<S: Store>(
    store: &S,
    env: &dyn Env,
    cfg: &AccountsConfig,
    authorization: Option<&str>,
) -> Result<User, ApiError> {
    Ok(authenticate_session(store, env, cfg, authorization)
        .await?
        .0)
}

/// [`authenticate`], also answering the token's claims (to end or refresh
/// the session). A session ended by log-out, refresh or log-out-everywhere,
/// or of an account being deleted, is `invalid_token`.
pub async fn authenticate_session<S: Store>(
    store: &S,
    env: &dyn Env,
    cfg: &AccountsConfig,
    authorization: Option<&str>,
) -> Result<(User, token::TokenClaims), ApiError> {
    let (user, claims, deleting) = authenticate_any(store, env, cfg, authorization).await?;
    if deleting {
        return Err(ApiError::unauthorized(
            "invalid_token",
            "this account is being deleted",
        ));
    }
    Ok((user, claims))
}

/// The token's member and claims, and whether their account's deletion has
/// begun (only finishing the deletion may go on then).
pub(crate) async fn authenticate_any<S: Store>(
    store: &S,
    env: &dyn Env,
    cfg: &AccountsConfig,
    authorization: Option<&str>,
) -> Result<(User, token::TokenClaims, bool), ApiError> {
    let header = authorization.map(str::trim).unwrap_or_default();
    let token = match header.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        _ => {
            return Err(ApiError::unauthorized(
                "unauthorized",
                "sign in and send Authorization: Bearer <token>",
            ));
        }
    };
    let claims = token::verify(&cfg.session_key, token, env.now_ms())?;
    // One batch: the user, their session epoch, whether this session ended,
    // and whether their account is being deleted.
    let keys = [
        keys::user(&claims.sub),
        keys::session_epoch(&claims.sub),
        keys::session_end(&claims.sid),
        keys::deleted_user(&claims.sub),
    ];
    let found = store.get_many(&keys).await?;
    let user = decode_user(found[0].as_deref())?.ok_or_else(token::invalid_token)?;
    let epoch = epoch_of(found[1].as_deref());
    if claims.epoch < epoch || found[2].is_some() {
        return Err(ApiError::unauthorized(
            "invalid_token",
            "this session has ended; log in again",
        ));
    }
    Ok((user, claims, found[3].is_some()))
}

/// The signed-in member as they see themselves (bio, age flag, protections).
pub async fn me<S: Store>(
    store: &S,
    env: &dyn Env,
    cfg: &AccountsConfig,
    authorization: Option<&str>,
) -> Result<MeView, ApiError> {
    let user = authenticate(store, env, cfg, authorization).await?;
    let profile = load_profile(store, &user.id).await?;
    Ok(me_view(&user, &profile, env.now_ms()))
}

fn epoch_of(raw: Option<&[u8]>) -> u64 {
    raw.and_then(|b| decode_counter(b).ok())
        .map_or(0, |n| n.max(0) as u64)
}

/// The member's current session epoch.
pub(crate) async fn session_epoch<S: Store>(store: &S, user_id: &str) -> Result<u64, ApiError> {
    Ok(epoch_of(
        store.get(&keys::session_epoch(user_id)).await?.as_deref(),
    ))
}

/// A new session for `user` under session epoch `epoch`.
pub(crate) fn issue_session(
    env: &dyn Env,
    cfg: &AccountsConfig,
    user: &User,
    epoch: u64,
) -> Session {
    let now_ms = env.now_ms();
    let iat = now_ms / 1000;
    // Round up, so a session lasts at least the configured TTL.
    let exp = now_ms
        .saturating_add(cfg.session_ttl_secs.saturating_mul(1000))
        .div_ceil(1000);
    let claims = token::TokenClaims {
        sub: user.id.clone(),
        sid: new_ulid(env),
        iat,
        exp,
        epoch,
    };
    Session {
        token: token::issue(&cfg.session_key, &claims),
        expires_at: rfc3339_from_ms(exp.saturating_mul(1000)),
        user: user.view(),
    }
}

fn decode_user(raw: Option<&[u8]>) -> Result<Option<User>, ApiError> {
    match raw {
        Some(bytes) => serde_json::from_slice(bytes)
            .map(Some)
            .map_err(|_| ApiError::internal("a user record is unreadable")),
        None => Ok(None),
    }
}

/// The user with this id, if any.
pub(crate) async fn load_user<S: Store>(store: &S, id: &str) -> Result<Option<User>, ApiError> {
    decode_user(store.get(&keys::user(id)).await?.as_deref())
}

/// The users with these ids (one batched read), `None` where gone.
pub(crate) async fn load_users<S: Store>(
    store: &S,
    ids: &[String],
) -> Result<Vec<Option<User>>, ApiError> {
    let keys: Vec<String> = ids.iter().map(|id| keys::user(id)).collect();
    store
        .get_many(&keys)
        .await?
        .iter()
        .map(|raw| decode_user(raw.as_deref()))
        .collect()
}

/// Who holds a handle key, as far as sign-up is concerned.
#[derive(Debug, PartialEq, Eq)]
enum HandleClaim {
    Free,
    Held,
    /// Claimed long ago by a sign-up that never wrote its user; the bytes seen.
    Abandoned(Vec<u8>),
}

async fn handle_claim<S: Store>(
    store: &S,
    env: &dyn Env,
    handle_key: &str,
) -> Result<HandleClaim, ApiError> {
    let Some(owner) = store.get(handle_key).await? else {
        return Ok(HandleClaim::Free);
    };
    let owner_id = String::from_utf8_lossy(&owner);
    let old = ulid_time_ms(&owner_id)
        .is_some_and(|t| env.now_ms().saturating_sub(t) > ABANDONED_CLAIM_MS);
    if old && store.get(&keys::user(&owner_id)).await?.is_none() {
        return Ok(HandleClaim::Abandoned(owner));
    }
    Ok(HandleClaim::Held)
}

/// Gives a handle back if `user_id` still holds it. Failure leaves an
/// abandoned claim, which a later sign-up takes over after a minute.
async fn release_handle<S: Store>(store: &S, handle_key: &str, user_id: &str) {
    if let Ok(Some(owner)) = store.get(handle_key).await
        && owner == user_id.as_bytes()
    {
        let _ = store.delete(handle_key).await;
    }
}

fn handle_taken() -> ApiError {
    ApiError::conflict("handle_taken", "this handle is already taken")
}

fn invalid_credentials() -> ApiError {
    ApiError::unauthorized("invalid_credentials", "wrong handle or password")
}

#[cfg(test)]
mod tests;
