//! Who is calling: the signed-in member behind a request's bearer token,
//! the per-member budget of write requests, and the worker's signed calls.

use bytes::Bytes;
use dreamreel_core::ApiError;
use dreamreel_core::accounts::ratelimit::{WriteLimit, hit_write, write_family};
use dreamreel_core::accounts::{self, User};
use spin_sdk::http::{Method, Request};

use crate::{KvStore, RequestLog, SpinEnv, config, http};

/// The signed-in member, or 401 with `WWW-Authenticate`. A write (POST,
/// PUT, PATCH, DELETE) is also counted against the member's budget for its
/// route family: 429 `rate_limited` with `Retry-After` once it is spent.
pub async fn member(req: &Request, store: &KvStore, log: &RequestLog) -> Result<User, ApiError> {
    let user = member_from(http::header(req, "authorization"), store, log).await?;
    if is_write(req.method()) {
        let limit = write_limit(log).await?;
        let family = write_family(req.uri().path());
        if let Err(e) = hit_write(store, &SpinEnv, &limit, &user.id, &family).await {
            if e.status == 429 {
                log.log(
                    "warn",
                    "write_rate_limited",
                    serde_json::json!({ "family": family }),
                );
            }
            return Err(e);
        }
    }
    Ok(user)
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

fn is_write(method: &Method) -> bool {
    [Method::POST, Method::PUT, Method::PATCH, Method::DELETE].contains(method)
}

/// The `write_rate_limit` variable (`COUNT/SECONDS`; undefined or empty = 300/60).
async fn write_limit(log: &RequestLog) -> Result<WriteLimit, ApiError> {
    let text = config::optional("write_rate_limit", log)
        .await?
        .unwrap_or_default();
    WriteLimit::parse(&text).map_err(|detail| config::misconfigured(&detail, log))
}

/// The body of a worker's signed `POST` to `path`, once its signature,
/// timestamp and nonce check out (401 otherwise; a replayed nonce too).
pub async fn worker_call(
    req: Request,
    path: &str,
    store: &KvStore,
    log: &RequestLog,
) -> Result<Bytes, ApiError> {
    let (timestamp, nonce, signature) = http::callback_headers(&req);
    let body = http::read_body(req).await?;
    let key = config::callback_key(log).await?;
    dreamreel_core::studio::callbacks::authenticate(
        store,
        &SpinEnv,
        &key,
        "POST",
        path,
        &body,
        (timestamp.as_deref(), nonce.as_deref(), signature.as_deref()),
    )
    .await?;
    Ok(body)
}
