//! The feed component: `GET /v1/feed/for-you`, `GET /v1/feed/following`,
//! `POST /v1/feed/reset`, `POST /v1/events`, `GET /v1/videos/{id}`,
//! `GET /v1/videos/{id}/remixes` and `GET /v1/users/{handle}/videos`.
//! A thin shell over `dreamreel_core::feed`.

use dreamreel_core::feed::{self, EventBatch, PreferencesRequest};
use dreamreel_core::request::parse_json;
use dreamreel_core::{ApiError, Env};
use dreamreel_edge::http::{self, HttpResponse};
use dreamreel_edge::s3::S3Config;
use dreamreel_edge::{KvStore, RequestLog, SpinEnv, auth, refuse_method, serve};
use serde_json::json;
use spin_sdk::http::{Method, Request};
use spin_sdk::http_service;

/// Routes the request and logs one line for it.
#[http_service]
async fn handle(req: Request) -> HttpResponse {
    serve(req, route).await
}

/// What a path is, before its method is checked.
enum Route<'a> {
    ForYou,
    Following,
    Reset,
    Preferences,
    Events,
    Video(&'a str),
    Remixes(&'a str),
    UserVideos(&'a str),
}

fn parse_route(path: &str) -> Option<Route<'_>> {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    Some(match segments.as_slice() {
        ["v1", "feed", "for-you"] => Route::ForYou,
        ["v1", "feed", "following"] => Route::Following,
        ["v1", "feed", "reset"] => Route::Reset,
        ["v1", "feed", "preferences"] => Route::Preferences,
        ["v1", "events"] => Route::Events,
        ["v1", "videos", id] => Route::Video(id),
        ["v1", "videos", id, "remixes"] => Route::Remixes(id),
        ["v1", "users", handle, "videos"] => Route::UserVideos(handle),
        _ => return None,
    })
}

async fn route(req: Request, path: &str, log: &RequestLog) -> Result<HttpResponse, ApiError> {
    let Some(route) = parse_route(path) else {
        return Err(ApiError::not_found(format!("no route for {path}")));
    };
    let allowed: &[Method] = match route {
        Route::Reset | Route::Events => &[Method::POST],
        Route::Preferences => &[Method::GET, Method::PUT],
        _ => &[Method::GET],
    };
    if let Some(refused) = refuse_method(&req, path, allowed) {
        return Ok(refused);
    }
    let store = KvStore::open_default(log).await?;
    let user = auth::member(&req, &store, log).await?;
    let viewer = user.id.as_str();
    if let Route::Events = route {
        let batch: EventBatch = parse_json(&http::read_body(req).await?)?;
        let outcome = feed::record_events(&store, &SpinEnv, viewer, batch).await?;
        return Ok(http::json(200, &outcome));
    }
    if let Route::Preferences = route {
        let steering = if req.method() == Method::PUT {
            let body: PreferencesRequest = parse_json(&http::read_body(req).await?)?;
            feed::set_preferences(&store, viewer, body).await?
        } else {
            feed::preferences(&store, viewer).await?
        };
        return Ok(http::json(200, &steering));
    }
    if let Route::Reset = route {
        feed::reset(&store, viewer).await?;
        log.log("info", "feed_reset", json!({ "user_id": viewer }));
        return Ok(http::empty(204));
    }
    let cursor = http::query_param(&req, "cursor");
    let limit = feed::page_size(http::query_param(&req, "limit"))?;
    let s3 = S3Config::from_variables(log).await?;
    let signer = s3.media_signer(SpinEnv.now_ms());
    match route {
        Route::ForYou => {
            let explain = matches!(http::query_param(&req, "explain"), Some("1" | "true"));
            let page =
                feed::for_you(&store, &SpinEnv, viewer, cursor, limit, explain, &signer).await?;
            Ok(http::json(200, &page))
        }
        Route::Following => {
            let page = feed::following(&store, &SpinEnv, viewer, cursor, limit, &signer).await?;
            Ok(http::json(200, &page))
        }
        Route::Video(id) => Ok(http::json(
            200,
            &feed::video(&store, viewer, id, &signer).await?,
        )),
        Route::Remixes(id) => {
            let tree = feed::remix_tree(&store, viewer, id, cursor, limit, &signer).await?;
            Ok(http::json(200, &tree))
        }
        Route::UserVideos(handle) => {
            let page = feed::user_videos(&store, viewer, handle, cursor, limit, &signer).await?;
            Ok(http::json(200, &page))
        }
        Route::Events | Route::Reset | Route::Preferences => unreachable!("answered above"),
    }
}
