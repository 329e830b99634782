//! Ending and rotating sessions: log-out (this token), log-out everywhere
//! (every token: the member's session epoch moves on) and refresh (a new
//! token; the old one ends, and only one refresh of it can win).

use crate::accounts::service::{authenticate_session, issue_session};
use crate::accounts::{AccountsConfig, Session, token};
use crate::env::Env;
use crate::error::ApiError;
use crate::keys;
use crate::store::Store;

/// Ends the session `claims` names; false when it had already ended.
async fn end<S: Store>(store: &S, claims: &token::TokenClaims) -> Result<bool, ApiError> {
    let until = claims.exp.saturating_mul(1000).to_string();
    Ok(store
        .compare_and_swap(&keys::session_end(&claims.sid), None, until.as_bytes())
        .await?)
}

/// Ends the session of this bearer token.
pub async fn logout<S: Store>(
    store: &S,
    env: &dyn Env,
    cfg: &AccountsConfig,
    authorization: Option<&str>,
) -> Result<(), ApiError> {
    let (_, claims) = authenticate_session(store, env, cfg, authorization).await?;
    end(store, &claims).await?;
    Ok(())
}

/// Ends every session of the token's member, this one included.
pub async fn logout_all<S: Store>(
    store: &S,
    env: &dyn Env,
    cfg: &AccountsConfig,
    authorization: Option<&str>,
) -> Result<(), ApiError> {
    let (user, _) = authenticate_session(store, env, cfg, authorization).await?;
    store.increment(&keys::session_epoch(&user.id), 1).await?;
    Ok(())
}

/// A new session for the token's member; the presented token stops working.
/// Two refreshes of one token race for its end record: the loser gets 401.
pub async fn refresh<S: Store>(
    store: &S,
    env: &dyn Env,
    cfg: &AccountsConfig,
    authorization: Option<&str>,
) -> Result<Session, ApiError> {
    let (user, claims) = authenticate_session(store, env, cfg, authorization).await?;
    if !end(store, &claims).await? {
        return Err(ApiError::unauthorized(
            "invalid_token",
            "this session has ended; log in again",
        ));
    }
    Ok(issue_session(env, cfg, &user, claims.epoch))
}
