//! The handler shell every component shares: one log line per request,
//! errors rendered as the JSON envelope (server faults logged), signed
//! internal routes answered without a bearer challenge, 405s that name
//! what a path allows, CORS preflights, and security headers on every answer.

use dreamreel_core::ApiError;
use serde_json::json;
use spin_sdk::http::{Method, Request, Response};

use crate::http::{self, HttpResponse};
use crate::{RequestLog, cors};

/// Runs `route` for `req` (with its path and log) and renders the outcome.
pub async fn serve(
    req: Request,
    route: impl AsyncFnOnce(Request, &str, &RequestLog) -> Result<HttpResponse, ApiError>,
) -> HttpResponse {
    let path = req.uri().path().to_owned();
    let log = RequestLog::new(&req, &path);
    let origin = cors::allowed_origin(&req, &log).await;
    let query = req.uri().query().map(dreamreel_core::request::check_query);
    let response = if cors::is_preflight(req.method()) {
        cors::preflight(origin.as_deref())
    } else if let Some(Err(e)) = query {
        render(&path, &log, &e)
    } else {
        match route(req, &path, &log).await {
            Ok(response) => response,
            Err(e) => render(&path, &log, &e),
        }
    };
    let response = harden(response, origin.as_deref());
    log.finish(response.status().as_u16());
    response
}

/// Adds the security headers and, for an allowed origin (see
/// [`cors::allowed_origin`]), the CORS headers to any response.
pub fn harden<B>(mut response: Response<B>, origin: Option<&str>) -> Response<B> {
    http::secure_headers(response.headers_mut());
    cors::apply(response.headers_mut(), origin);
    response
}

/// An error as the client gets it, logged when it is ours or a refused callback.
pub fn render(path: &str, log: &RequestLog, e: &ApiError) -> HttpResponse {
    let internal = path.starts_with("/internal/");
    if e.status >= 500 {
        log.log("error", "failed", json!({ "code": e.code }));
    } else if internal {
        log.log("warn", "callback_refused", json!({ "code": e.code }));
    }
    let mut resp = http::error(e);
    if internal {
        // Callbacks are signed with HMAC headers, not bearer tokens.
        resp.headers_mut().remove("www-authenticate");
    }
    resp
}

/// `None` when `req`'s method is one of `allowed`; otherwise the 405 to
/// answer, with `Allow` listing them.
pub fn refuse_method(req: &Request, path: &str, allowed: &[Method]) -> Option<HttpResponse> {
    if allowed.contains(req.method()) {
        return None;
    }
    let allow: Vec<&str> = allowed.iter().map(Method::as_str).collect();
    Some(http::method_not_allowed(
        req.method().as_str(),
        path,
        &allow.join(", "),
    ))
}
