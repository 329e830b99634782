//! Operator actions through the API. The admin role is the `admin_handles`
//! variable: it is checked on every call, so removing a handle from it takes
//! the role away at once.

use serde::{Deserialize, Serialize};

use crate::accounts::profile::{no_such_user, user_by_handle};
use crate::accounts::{AccountsConfig, User, invites};
use crate::env::Env;
use crate::error::ApiError;
use crate::store::Store;

/// `POST /v1/admin/invites` and `POST /v1/admin/users/{handle}/invites` body.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MintRequest {
    /// How many codes, 1–1000.
    pub count: u32,
}

/// The codes minted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Minted {
    /// `ABCDE-FGHJK` each.
    pub codes: Vec<String>,
}

/// 403 `admin_only` unless `user` holds the admin role.
pub fn require_admin(cfg: &AccountsConfig, user: &User) -> Result<(), ApiError> {
    if cfg.policy.is_admin(&user.handle) {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "admin_only",
            "this needs the admin role",
        ))
    }
}

/// The issuer recorded on codes an admin mints: `admin:{user_id}`.
pub fn issuer(admin: &User) -> String {
    format!("admin:{}", admin.id)
}

/// An admin mints free-standing codes (not listed as anyone's).
pub async fn mint<S: Store>(
    store: &S,
    env: &dyn Env,
    cfg: &AccountsConfig,
    admin: &User,
    req: MintRequest,
) -> Result<Minted, ApiError> {
    require_admin(cfg, admin)?;
    let codes = invites::mint(store, env, &issuer(admin), req.count).await?;
    Ok(Minted { codes })
}

/// An admin gives the holder of `handle` more codes, listed as theirs.
pub async fn grant<S: Store>(
    store: &S,
    env: &dyn Env,
    cfg: &AccountsConfig,
    admin: &User,
    handle: &str,
    req: MintRequest,
) -> Result<Minted, ApiError> {
    require_admin(cfg, admin)?;
    let member = user_by_handle(store, handle)
        .await?
        .ok_or_else(no_such_user)?;
    let codes = invites::grant(store, env, &member.id, req.count).await?;
    Ok(Minted { codes })
}
