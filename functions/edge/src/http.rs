//! Reading requests and writing JSON responses, errors included, in the
//! shape every route shares.

use bytes::Bytes;
use dreamreel_core::ApiError;
use dreamreel_core::accounts::ratelimit::retry_after_of;
use dreamreel_core::request::MAX_JSON_BODY;
use http_body_util::{BodyExt, Limited};
use serde::Serialize;
use spin_sdk::http::{FullBody, HeaderMap, HeaderValue, Request, Response, StatusCode};

/// A complete response with an in-memory body.
pub type HttpResponse = Response<FullBody<Bytes>>;

/// The value of header `name`, if present and text.
pub fn header<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// The raw value of query parameter `name` (cursors and limits need no
/// decoding); `Some("")` for a bare `?name`.
pub fn query_param<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.uri()
        .query()?
        .split('&')
        .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Reads the body, refusing more than [`MAX_JSON_BODY`] bytes without buffering them.
pub async fn read_body(req: Request) -> Result<Bytes, ApiError> {
    let declared = header(&req, "content-length").and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_JSON_BODY) {
        return Err(ApiError::payload_too_large(MAX_JSON_BODY));
    }
    let kind = header(&req, "content-type").map(str::to_owned);
    match Limited::new(req.into_body(), MAX_JSON_BODY).collect().await {
        Ok(collected) => {
            let bytes = collected.to_bytes();
            // Only a body has a type to refuse (an empty DELETE may carry any).
            if !bytes.is_empty() {
                dreamreel_core::request::check_content_type(kind.as_deref())?;
            }
            Ok(bytes)
        }
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            Err(ApiError::payload_too_large(MAX_JSON_BODY))
        }
        Err(_) => Err(ApiError::invalid_request(
            "the request body could not be read",
        )),
    }
}

/// A response whose body is already JSON text.
pub fn json_text(status: u16, body: impl Into<Bytes>) -> HttpResponse {
    let mut resp = Response::new(FullBody::new(body.into()));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = resp.headers_mut();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    // Responses carry tokens and personal data; no cache should keep them.
    headers.insert("cache-control", HeaderValue::from_static("no-store"));
    resp
}

/// `body` serialised as JSON with `status`.
pub fn json<T: Serialize + ?Sized>(status: u16, body: &T) -> HttpResponse {
    match serde_json::to_vec(body) {
        Ok(bytes) => json_text(status, bytes),
        Err(_) => error(&ApiError::internal("the response could not be encoded")),
    }
}

/// The error envelope `{"error":{"code","message"}}` with the error's status.
pub fn error(err: &ApiError) -> HttpResponse {
    let mut resp = json_text(err.status, err.to_json());
    if err.status == 401 {
        // RFC 6750: tell the client which scheme to use.
        resp.headers_mut()
            .insert("www-authenticate", HeaderValue::from_static("Bearer"));
    }
    if let Some(secs) = retry_after_of(err) {
        resp.headers_mut()
            .insert("retry-after", HeaderValue::from(secs));
    }
    resp
}

/// Security headers every response carries, added where the handler did not
/// set its own (the web page's CSP wins): no MIME sniffing, no referrer, no
/// framing, HTTPS only (browsers ignore HSTS over plain `http://`, so local
/// runs are unaffected), and nothing cached from an API answer.
pub fn secure_headers(headers: &mut HeaderMap) {
    let kind = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let (json, html) = (
        kind.starts_with("application/json"),
        kind.starts_with("text/html"),
    );
    let mut default = |name: &'static str, value: &'static str| {
        if !headers.contains_key(name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    };
    default("x-content-type-options", "nosniff");
    default("referrer-policy", "no-referrer");
    default("x-frame-options", "DENY");
    default(
        "strict-transport-security",
        "max-age=31536000; includeSubDomains",
    );
    if json {
        // JSON is data, never a document: nothing may load or frame it.
        default(
            "content-security-policy",
            "default-src 'none'; frame-ancestors 'none'",
        );
        default("cache-control", "no-store");
    } else if html {
        default("content-security-policy", "frame-ancestors 'none'");
    }
}

/// 405 `method_not_allowed` with the `Allow` header naming what the path accepts.
pub fn method_not_allowed(method: &str, path: &str, allow: &str) -> HttpResponse {
    let mut resp = error(&ApiError::method_not_allowed(method, path));
    if let Ok(value) = HeaderValue::from_str(allow) {
        resp.headers_mut().insert("allow", value);
    }
    resp
}

/// The signing headers of a worker callback (timestamp, nonce, signature),
/// in the order `dreamreel_core::jobs::CallbackAuth::verify` takes them.
pub fn callback_headers(req: &Request) -> (Option<String>, Option<String>, Option<String>) {
    use dreamreel_core::jobs::callback::{NONCE_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER};
    let get = |name| header(req, name).map(str::to_owned);
    (
        get(TIMESTAMP_HEADER),
        get(NONCE_HEADER),
        get(SIGNATURE_HEADER),
    )
}

/// An empty response, e.g. 204 after a delete.
pub fn empty(status: u16) -> HttpResponse {
    let mut resp = Response::new(FullBody::new(Bytes::new()));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::NO_CONTENT);
    resp.headers_mut()
        .insert("cache-control", HeaderValue::from_static("no-store"));
    resp
}
