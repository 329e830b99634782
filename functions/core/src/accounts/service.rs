//! Sign-up, log-in and authentication over a [`Store`].
//!
//! Sign-up writes nothing when it refuses: fields are checked first, then the
//! invite and handle are read, then the handle is claimed by compare-and-swap,
//! then the invite; if the invite claim loses, the handle is released before
//! the user record is ever written.

use crate::accounts::{
    AccountsConfig, LoginRequest, Session, SignupRequest, User, UserView, invites, password, token,
    validate,
};
use crate::env::Env;
use crate::error::ApiError;
use crate::ids::{new_ulid, ulid_time_ms};
use crate::keys;
use crate::store::Store;
use crate::time::rfc3339_from_ms;

/// A handle claim whose user record is still missing after this long was
/// abandoned mid-sign-up (crash, timeout) and may be taken over.
const ABANDONED_CLAIM_MS: u64 = 60_000;

/// Creates an account with an unused invite and signs it in.
pub async fn signup<S: Store>(
    store: &S,
    env: &dyn Env,
    cfg: &AccountsConfig,
    req: SignupRequest,
) -> Result<Session, ApiError> {
    if req.invite_code.trim().is_empty() {
        return Err(ApiError::invalid_request("invite_code is required"));
    }
    let handle_key = keys::handle(&validate::handle(&req.handle)?);
    validate::password(&req.password)?;
    let display_name = validate::display_name(req.display_name.as_deref(), &req.handle)?;

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
    let record = serde_json::to_vec(&user).expect("users serialise");
    if let Err(e) = store.set(&keys::user(&user.id), &record).await {
        // Best effort: leave the handle and invite usable again.
        let _ = invites::unclaim(store, &ticket, &user.id).await;
        release_handle(store, &handle_key, &user.id).await;
        return Err(e.into());
    }
    Ok(issue_session(env, cfg, &user))
}

/// Signs in with handle (any case) and password. Unknown handles and wrong
/// passwords get the same answer, after the same amount of work.
pub async fn login<S: Store>(
    store: &S,
    env: &dyn Env,
    cfg: &AccountsConfig,
    req: LoginRequest,
) -> Result<Session, ApiError> {
    let user = match validate::handle(&req.handle) {
        Ok(lower) => match store.get(&keys::handle(&lower)).await? {
            Some(id) => load_user(store, &String::from_utf8_lossy(&id)).await?,
            None => None,
        },
        Err(_) => None,
    };
    match user {
        Some(user) if password::verify(&req.password, &user.password_hash) => {
            Ok(issue_session(env, cfg, &user))
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
    load_user(store, &claims.sub)
        .await?
        .ok_or_else(token::invalid_token)
}

/// The signed-in member, as clients see them.
pub async fn me<S: Store>(
    store: &S,
    env: &dyn Env,
    cfg: &AccountsConfig,
    authorization: Option<&str>,
) -> Result<UserView, ApiError> {
    Ok(authenticate(store, env, cfg, authorization).await?.view())
}

fn issue_session(env: &dyn Env, cfg: &AccountsConfig, user: &User) -> Session {
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
    };
    Session {
        token: token::issue(&cfg.session_key, &claims),
        expires_at: rfc3339_from_ms(exp.saturating_mul(1000)),
        user: user.view(),
    }
}

async fn load_user<S: Store>(store: &S, id: &str) -> Result<Option<User>, ApiError> {
    match store.get(&keys::user(id)).await? {
        Some(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|_| ApiError::internal("a user record is unreadable")),
        None => Ok(None),
    }
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
