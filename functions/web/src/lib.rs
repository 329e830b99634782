//! The web component: the mobile-first web client. `GET /` answers the
//! page (never cached, so a deploy reaches everyone at once); `GET
//! /web/{asset}` answers scripts and styles under content-hashed names,
//! cached for a year. Everything is embedded at build time (`build.rs`).

use dreamreel_core::ApiError;
use dreamreel_edge::http::HttpResponse;
use dreamreel_edge::s3::Endpoint;
use dreamreel_edge::{RequestLog, config, refuse_method, serve};
use spin_sdk::http::{FullBody, HeaderValue, Method, Request, Response, StatusCode};
use spin_sdk::http_service;

include!(concat!(env!("OUT_DIR"), "/assets.rs"));

/// The page, its asset names already hashed.
const INDEX: &str = include_str!(concat!(env!("OUT_DIR"), "/index.html"));

/// Routes the request and logs one line for it.
#[http_service]
async fn handle(req: Request) -> HttpResponse {
    serve(req, route).await
}

async fn route(req: Request, path: &str, log: &RequestLog) -> Result<HttpResponse, ApiError> {
    if let Some(refused) = refuse_method(&req, path, &[Method::GET]) {
        return Ok(refused);
    }
    if path == "/" {
        let csp = policy(media_origin(log).await.as_deref());
        let mut resp = respond(INDEX.as_bytes(), "text/html; charset=utf-8", "no-cache");
        if let Ok(value) = HeaderValue::from_str(&csp) {
            resp.headers_mut().insert("content-security-policy", value);
        }
        return Ok(resp);
    }
    let name = path.strip_prefix("/web/").unwrap_or_default();
    match ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, kind, body)) => Ok(respond(body, kind, "public, max-age=31536000, immutable")),
        None => Err(ApiError::not_found(format!("no asset {path}"))),
    }
}

/// Where the client fetches clips and thumbnails from: presigned links
/// point at the object store, which is another origin.
async fn media_origin(log: &RequestLog) -> Option<String> {
    for name in ["s3_public_endpoint", "s3_endpoint"] {
        if let Ok(Some(value)) = config::optional(name, log).await
            && let Some(endpoint) = Endpoint::parse(&value)
        {
            return Some(endpoint.base);
        }
    }
    None
}

/// The page's Content Security Policy: only our own scripts and styles,
/// API calls to this origin, media from here and the object store.
fn policy(media: Option<&str>) -> String {
    let media = media.map(|m| format!(" {m}")).unwrap_or_default();
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
         img-src 'self' data:{media}; media-src 'self'{media}; manifest-src 'self'; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

fn respond(body: &'static [u8], content_type: &'static str, cache: &'static str) -> HttpResponse {
    let mut resp = Response::new(FullBody::new(body.into()));
    *resp.status_mut() = StatusCode::OK;
    let headers = resp.headers_mut();
    headers.insert("content-type", HeaderValue::from_static(content_type));
    headers.insert("cache-control", HeaderValue::from_static(cache));
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    headers.insert(
        "permissions-policy",
        HeaderValue::from_static("camera=(), microphone=(), geolocation=()"),
    );
    headers.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    resp
}
