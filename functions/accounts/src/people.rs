//! The signed-in member, profiles, follows and blocks.

use dreamreel_core::accounts::social::{self, List};
use dreamreel_core::accounts::{ProfileUpdate, profile};
use dreamreel_core::request::parse_json;
use dreamreel_core::{ApiError, Env};
use dreamreel_edge::http::{self, HttpResponse};
use dreamreel_edge::{KvStore, RequestLog, SpinEnv, auth};
use spin_sdk::http::{Method, Request};

use crate::routes::Route;
use crate::{account, open_store, paging};

/// Answers `/v1/me`, `/v1/me/blocks` and `/v1/users/...`.
pub async fn handle(
    req: Request,
    route: Route<'_>,
    log: &RequestLog,
) -> Result<HttpResponse, ApiError> {
    let store = open_store(log).await?;
    if let Route::User(_) | Route::Followers(_) | Route::Following(_) = route {
        return public(req, route, &store, log).await;
    }
    let me = auth::member(&req, &store, log).await?;
    let delete = req.method() == Method::DELETE;
    match route {
        Route::Me if req.method() == Method::PATCH => {
            let body: ProfileUpdate = parse_json(&http::read_body(req).await?)?;
            let mut view = profile::update_me(&store, &SpinEnv, &me, body).await?;
            account::sign_me(&mut view, log).await?;
            Ok(http::json(200, &view))
        }
        Route::Me => {
            let profile = profile::load_profile(&store, &me.id).await?;
            let mut view = profile::me_view(&me, &profile, SpinEnv.now_ms());
            account::sign_me(&mut view, log).await?;
            Ok(http::json(200, &view))
        }
        Route::MyBlocks => {
            let (cursor, limit) = paging(&req)?;
            let page = social::blocks(&store, &me, cursor, limit).await?;
            Ok(http::json(200, &page))
        }
        Route::Follow(handle) => {
            let mut view = if delete {
                social::unfollow(&store, &me, handle).await?
            } else {
                social::follow(&store, &SpinEnv, &me, handle).await?
            };
            account::sign_profile(&mut view, log).await?;
            Ok(http::json(200, &view))
        }
        Route::Block(handle) => {
            if delete {
                social::unblock(&store, &me, handle).await?;
            } else {
                social::block(&store, &SpinEnv, &me, handle).await?;
                log.log("info", "blocked", serde_json::json!({ "user_id": me.id }));
            }
            Ok(http::empty(204))
        }
        _ => Err(ApiError::not_found("no such route")),
    }
}

/// Profiles and people lists: open to all; a token, when sent, must be
/// valid and brings the viewer's relation and block filtering.
async fn public(
    req: Request,
    route: Route<'_>,
    store: &KvStore,
    log: &RequestLog,
) -> Result<HttpResponse, ApiError> {
    let viewer = match http::header(&req, "authorization") {
        Some(_) => Some(auth::member(&req, store, log).await?),
        None => None,
    };
    let (handle, which) = match route {
        Route::User(handle) => {
            let mut view = profile::view(store, viewer.as_ref(), handle).await?;
            account::sign_profile(&mut view, log).await?;
            return Ok(http::json(200, &view));
        }
        Route::Followers(handle) => (handle, List::Followers),
        Route::Following(handle) => (handle, List::Following),
        _ => return Err(ApiError::not_found("no such route")),
    };
    let (cursor, limit) = paging(&req)?;
    let page = social::list(store, viewer.as_ref(), handle, which, cursor, limit).await?;
    Ok(http::json(200, &page))
}
