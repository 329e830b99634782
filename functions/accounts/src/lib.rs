//! The accounts component: health, the OpenAPI document, invite-only
//! sign-up, log-in and sessions, profiles, follows, blocks and invites. A
//! thin shell: parse the request, call `dreamreel_core::accounts`, write the
//! response.

mod account;
mod invites;
mod people;
mod routes;
mod sessions;
mod settings;

use dreamreel_core::{ApiError, Store, keys};
use dreamreel_edge::http::{self, HttpResponse};
use dreamreel_edge::{KvStore, RequestLog};
use spin_sdk::http::Request;
use spin_sdk::http_service;

use routes::Route;

/// The API description, served as-is so it cannot drift from the file.
const OPENAPI: &str = include_str!("../../../docs/openapi.json");

/// Routes the request and logs one line for it.
#[http_service]
async fn handle(req: Request) -> HttpResponse {
    dreamreel_edge::serve(req, route).await
}

async fn route(req: Request, path: &str, log: &RequestLog) -> Result<HttpResponse, ApiError> {
    let route =
        Route::parse(path).ok_or_else(|| ApiError::not_found(format!("no route for {path}")))?;
    let allowed = route.methods();
    if !allowed.contains(req.method()) {
        let allow: Vec<&str> = allowed.iter().map(|m| m.as_str()).collect();
        return Ok(http::method_not_allowed(
            req.method().as_str(),
            path,
            &allow.join(", "),
        ));
    }
    match route {
        Route::Health => health(log).await,
        Route::OpenApi => Ok(http::json_text(200, OPENAPI)),
        Route::Signup | Route::Login | Route::Logout | Route::LogoutAll | Route::Refresh => {
            sessions::handle(req, route, log).await
        }
        Route::Invites | Route::Invite(_) | Route::AdminInvites | Route::AdminGrant(_) => {
            invites::handle(req, route, log).await
        }
        Route::MyAvatar => account::avatar(req, log).await,
        Route::Me if req.method() == spin_sdk::http::Method::DELETE => {
            account::delete(req, log).await
        }
        _ => people::handle(req, route, log).await,
    }
}

pub(crate) async fn open_store(log: &RequestLog) -> Result<KvStore, ApiError> {
    Ok(KvStore::open_default(log).await?)
}

/// `limit` and `cursor` query parameters of a paged list.
pub(crate) fn paging(req: &Request) -> Result<(Option<&str>, Option<usize>), ApiError> {
    let limit = http::query_param(req, "limit")
        .map(|l| {
            l.parse()
                .map_err(|_| ApiError::invalid_request("limit must be a number"))
        })
        .transpose()?;
    Ok((http::query_param(req, "cursor"), limit))
}

/// Proves the store answers with a read; 503 when it does not.
async fn health(log: &RequestLog) -> Result<HttpResponse, ApiError> {
    let unavailable = |_| ApiError::unavailable("storage_unavailable", "the store does not answer");
    let store = KvStore::open_default(log).await.map_err(unavailable)?;
    store
        .get(&keys::health_probe())
        .await
        .map_err(unavailable)?;
    Ok(http::json(
        200,
        &serde_json::json!({ "status": "ok", "store": "ok" }),
    ))
}
