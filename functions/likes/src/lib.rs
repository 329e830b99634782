//! The likes component: `PUT`/`DELETE /v1/videos/{id}/like`,
//! `GET /v1/videos/{id}/likes` and `GET /v1/me/likes`. A thin shell over
//! `dreamreel_core::social`.

use dreamreel_core::ApiError;
use dreamreel_core::social::{self, LikeState};
use dreamreel_core::time::rfc3339_from_ms;
use dreamreel_edge::http::{self, HttpResponse};
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
    Like(&'a str),
    Likers(&'a str),
    Mine,
}

fn parse_route(path: &str) -> Option<Route<'_>> {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    Some(match segments.as_slice() {
        ["v1", "videos", id, "like"] => Route::Like(id),
        ["v1", "videos", id, "likes"] => Route::Likers(id),
        ["v1", "me", "likes"] => Route::Mine,
        _ => return None,
    })
}

fn limit(req: &Request) -> Result<Option<usize>, ApiError> {
    http::query_param(req, "limit")
        .map(|l| {
            l.parse()
                .map_err(|_| ApiError::invalid_request("limit must be a number"))
        })
        .transpose()
}

async fn route(req: Request, path: &str, log: &RequestLog) -> Result<HttpResponse, ApiError> {
    let Some(route) = parse_route(path) else {
        return Err(ApiError::not_found(format!("no route for {path}")));
    };
    let allowed: &[Method] = match route {
        Route::Like(_) => &[Method::PUT, Method::DELETE],
        Route::Likers(_) | Route::Mine => &[Method::GET],
    };
    if let Some(refused) = refuse_method(&req, path, allowed) {
        return Ok(refused);
    }
    let store = KvStore::open_default(log).await?;
    let user = auth::member(&req, &store, log).await?;
    let cursor = http::query_param(&req, "cursor");
    match route {
        Route::Like(id) => {
            let state = if req.method() == Method::PUT {
                social::like(&store, &SpinEnv, &user, id).await?
            } else {
                social::unlike(&store, &SpinEnv, &user, id).await?
            };
            if state.changed {
                let event = if state.liked { "liked" } else { "unliked" };
                log.log("info", event, json!({ "video_id": id }));
            }
            Ok(http::json(200, &like_view(id, &state)))
        }
        Route::Likers(id) => {
            let page = social::likers_page(&store, &user.id, id, cursor, limit(&req)?).await?;
            let likes: Vec<_> = page
                .likers
                .iter()
                .map(|l| {
                    json!({
                        "user_id": l.user_id,
                        "handle": l.handle,
                        "liked_at": rfc3339_from_ms(l.liked_at_ms),
                    })
                })
                .collect();
            Ok(http::json(
                200,
                &json!({ "likes": likes, "next_cursor": page.next_cursor }),
            ))
        }
        Route::Mine => {
            let page = social::liked_videos(&store, &user.id, cursor, limit(&req)?).await?;
            let videos: Vec<_> = page
                .videos
                .iter()
                .map(|v| json!({ "video_id": v.video_id, "liked_at": rfc3339_from_ms(v.liked_at_ms) }))
                .collect();
            Ok(http::json(
                200,
                &json!({ "videos": videos, "next_cursor": page.next_cursor }),
            ))
        }
    }
}

fn like_view(video_id: &str, state: &LikeState) -> serde_json::Value {
    json!({ "video_id": video_id, "liked": state.liked, "like_count": state.likes })
}
