//! The shares component: `POST /v1/videos/{id}/share` hands the member
//! their short link and counts the share; `GET /s/{code}` answers a small
//! HTML page whose Open Graph tags preview the clip and that deep-links
//! into the app. A thin shell over `dreamreel_core::social`.

use dreamreel_core::studio::MediaSigner;
use dreamreel_core::{ApiError, Env, social};
use dreamreel_edge::http::{self, HttpResponse};
use dreamreel_edge::s3::S3Config;
use dreamreel_edge::{KvStore, RequestLog, SpinEnv, auth, refuse_method, serve};
use serde_json::json;
use spin_sdk::http::{FullBody, HeaderValue, Method, Request, Response, StatusCode};
use spin_sdk::http_service;

/// Life of the media links in a share page: previews are fetched long
/// after the link is posted, so this is SigV4's longest (7 days).
const PREVIEW_URL_TTL_SECS: u64 = 7 * 24 * 3600;

/// Routes the request and logs one line for it.
#[http_service]
async fn handle(req: Request) -> HttpResponse {
    serve(req, route_or_page).await
}

const NOT_FOUND_PAGE: &str = "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Dreamreel</title></head>\n<body><p>This video is not available.</p></body></html>\n";

fn html(status: u16, body: String) -> HttpResponse {
    let mut resp = Response::new(FullBody::new(body.into()));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let headers = resp.headers_mut();
    headers.insert(
        "content-type",
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    // The page embeds presigned links; let crawlers keep it only briefly.
    headers.insert(
        "cache-control",
        HeaderValue::from_static("public, max-age=300"),
    );
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    resp
}

/// A share page that is not there (unknown, taken down) is a small HTML
/// page, since people open these links in browsers; the API errors stay JSON.
async fn route_or_page(
    req: Request,
    path: &str,
    log: &RequestLog,
) -> Result<HttpResponse, ApiError> {
    match route(req, path, log).await {
        Err(e) if path.starts_with("/s/") && e.status == 404 => {
            Ok(html(404, NOT_FOUND_PAGE.to_owned()))
        }
        outcome => outcome,
    }
}

async fn route(req: Request, path: &str, log: &RequestLog) -> Result<HttpResponse, ApiError> {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let method = match segments.as_slice() {
        ["v1", "videos", _, "share"] => Method::POST,
        ["s", _] => Method::GET,
        _ => return Err(ApiError::not_found(format!("no route for {path}"))),
    };
    if let Some(refused) = refuse_method(&req, path, &[method]) {
        return Ok(refused);
    }
    let store = KvStore::open_default(log).await?;
    match segments.as_slice() {
        ["s", code] => {
            let video = social::resolve_share(&store, code).await?;
            let s3 = S3Config::from_variables(log).await?;
            let signer = Preview {
                s3: &s3,
                now_secs: SpinEnv.now_ms() / 1000,
            };
            let page_url = format!("{}/s/{code}", origin(&req));
            Ok(html(200, social::share_page(&video, &signer, &page_url)?))
        }
        [_, _, id, _] => {
            let user = auth::member(&req, &store, log).await?;
            let shared = social::share(&store, &SpinEnv, &user, id).await?;
            if shared.created {
                log.log("info", "shared", json!({ "video_id": id }));
            }
            let url = format!("{}/s/{}", origin(&req), shared.code);
            Ok(http::json(
                if shared.created { 201 } else { 200 },
                &json!({
                    "video_id": id,
                    "code": shared.code,
                    "url": url,
                    "share_count": shared.shares,
                }),
            ))
        }
        _ => Err(ApiError::not_found(format!("no route for {path}"))),
    }
}

/// `scheme://host` the client reached us at (Spin hands components an absolute URI).
fn origin(req: &Request) -> String {
    let scheme = req.uri().scheme_str().unwrap_or("https");
    let host = req
        .uri()
        .authority()
        .map(|a| a.as_str().to_owned())
        .or_else(|| http::header(req, "host").map(str::to_owned))
        .unwrap_or_else(|| "localhost".to_owned());
    format!("{scheme}://{host}")
}

/// Presigns the preview's media with [`PREVIEW_URL_TTL_SECS`].
struct Preview<'a> {
    s3: &'a S3Config,
    now_secs: u64,
}

impl MediaSigner for Preview<'_> {
    fn url(&self, key: &str) -> Result<String, ApiError> {
        self.s3
            .presigned_get(key, PREVIEW_URL_TTL_SECS, self.now_secs)
            .map_err(|_| ApiError::internal("a media link could not be made"))
    }

    fn expires_at_ms(&self) -> u64 {
        (self.now_secs + PREVIEW_URL_TTL_SECS) * 1000
    }
}
