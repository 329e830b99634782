//! Who is calling: the signed-in member behind a request's bearer token.

use dreamreel_core::ApiError;
use dreamreel_core::accounts::{self, User};
use spin_sdk::http::Request;

use crate::{KvStore, RequestLog, SpinEnv, config, http};

/// The signed-in member, or 401 with `WWW-Authenticate`.
pub async fn member(req: &Request, store: &KvStore, log: &RequestLog) -> Result<User, ApiError> {
    member_from(http::header(req, "authorization"), store, log).await
}

/// The member an `Authorization` header value (`Bearer <token>`) names.
pub async fn member_from(
    authorization: Option<&str>,
    store: &KvStore,
    log: &RequestLog,
) -> Result<User, ApiError> {
    let cfg = config::accounts(log).await?;
    accounts::authenticate(store, &SpinEnv, &cfg, authorization).await
}
