//! The comments component: `POST`/`GET /v1/videos/{id}/comments`,
//! `GET /v1/comments/{id}/replies`, `DELETE /v1/comments/{id}` and
//! `PUT`/`DELETE /v1/comments/{id}/like`. A thin shell over
//! `dreamreel_core::social`.

use dreamreel_core::ApiError;
use dreamreel_core::request::parse_json;
use dreamreel_core::social::{self, CommentPage, NewComment, Sort};
use dreamreel_core::studio::validate::idempotency_key;
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
    VideoComments(&'a str),
    Comment(&'a str),
    Replies(&'a str),
    Like(&'a str),
}

impl Route<'_> {
    fn allowed(&self) -> &'static [Method] {
        match self {
            Route::VideoComments(_) => &[Method::GET, Method::POST],
            Route::Comment(_) => &[Method::DELETE],
            Route::Replies(_) => &[Method::GET],
            Route::Like(_) => &[Method::PUT, Method::DELETE],
        }
    }
}

fn parse_route(path: &str) -> Option<Route<'_>> {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    Some(match segments.as_slice() {
        ["v1", "videos", id, "comments"] => Route::VideoComments(id),
        ["v1", "comments", id] => Route::Comment(id),
        ["v1", "comments", id, "replies"] => Route::Replies(id),
        ["v1", "comments", id, "like"] => Route::Like(id),
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

fn page_view(page: &CommentPage) -> serde_json::Value {
    json!({ "comments": page.comments, "next_cursor": page.next_cursor })
}

async fn route(req: Request, path: &str, log: &RequestLog) -> Result<HttpResponse, ApiError> {
    let Some(route) = parse_route(path) else {
        return Err(ApiError::not_found(format!("no route for {path}")));
    };
    if let Some(refused) = refuse_method(&req, path, route.allowed()) {
        return Ok(refused);
    }
    let store = KvStore::open_default(log).await?;
    let user = auth::member(&req, &store, log).await?;
    let cursor = http::query_param(&req, "cursor").map(str::to_owned);
    match route {
        Route::VideoComments(id) if req.method() == Method::POST => {
            let hash = http::header(&req, "idempotency-key")
                .map(idempotency_key)
                .transpose()?;
            let body: NewComment = parse_json(&http::read_body(req).await?)?;
            let (comment, created) =
                social::create_comment(&store, &SpinEnv, &user, id, body, hash).await?;
            if created {
                log.log(
                    "info",
                    "commented",
                    json!({ "video_id": id, "comment_id": comment.id }),
                );
            }
            Ok(http::json(if created { 201 } else { 200 }, &comment))
        }
        Route::VideoComments(id) => {
            let sort = http::query_param(&req, "sort")
                .map(Sort::parse)
                .transpose()?
                .unwrap_or(Sort::New);
            let page =
                social::list_comments(&store, &user.id, id, sort, cursor.as_deref(), limit(&req)?)
                    .await?;
            Ok(http::json(200, &page_view(&page)))
        }
        Route::Replies(id) => {
            let page =
                social::list_replies(&store, &user.id, id, cursor.as_deref(), limit(&req)?).await?;
            Ok(http::json(200, &page_view(&page)))
        }
        Route::Comment(id) => {
            social::delete_comment(&store, &SpinEnv, &user.id, id).await?;
            log.log("info", "comment_deleted", json!({ "comment_id": id }));
            Ok(http::empty(204))
        }
        Route::Like(id) => {
            let state = if req.method() == Method::PUT {
                social::like_comment(&store, &SpinEnv, &user, id).await?
            } else {
                social::unlike_comment(&store, &SpinEnv, &user, id).await?
            };
            Ok(http::json(
                200,
                &json!({ "comment_id": id, "liked": state.liked, "like_count": state.like_count }),
            ))
        }
    }
}
