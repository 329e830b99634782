//! Cross-origin access for browser clients on other origins: the allowed
//! origins come from the `cors_allowed_origins` variable; any other origin
//! gets no CORS headers, so the browser keeps the response from its script.

use spin_sdk::http::{HeaderMap, HeaderValue, Method, Request};

use crate::http::{self, HttpResponse};
use crate::{RequestLog, config};

/// Origins allowed when the component does not define `cors_allowed_origins`:
/// the local stack's web client.
pub const DEFAULT_ORIGINS: &str = "http://127.0.0.1:3000,http://localhost:3000";
/// Methods a preflight may ask for (the route still refuses what it does not serve).
pub const ALLOW_METHODS: &str = "GET, POST, PUT, PATCH, DELETE, OPTIONS";
/// Request headers a cross-origin client may send.
pub const ALLOW_HEADERS: &str = "authorization, content-type, idempotency-key, x-request-id";
/// Response headers a cross-origin script may read.
pub const EXPOSE_HEADERS: &str = "location, retry-after, x-request-id, www-authenticate";
/// How long a browser may cache a preflight answer, in seconds.
pub const MAX_AGE_SECS: &str = "600";

/// Whether `origin` is in the comma-separated `allowed` list (`*` allows any).
/// Compared exactly: scheme, host and port must all match.
pub fn is_allowed(origin: &str, allowed: &str) -> bool {
    allowed
        .split(',')
        .map(str::trim)
        .any(|a| a == "*" || (!a.is_empty() && a == origin))
}

/// The request's `Origin` when the configured list allows it.
pub async fn allowed_origin(req: &Request, log: &RequestLog) -> Option<String> {
    let origin = http::header(req, "origin")?;
    let allowed = config::optional("cors_allowed_origins", log)
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| DEFAULT_ORIGINS.to_owned());
    is_allowed(origin, &allowed).then(|| origin.to_owned())
}

/// Adds the CORS headers for an allowed `origin` (none when `None`).
pub fn apply(headers: &mut HeaderMap, origin: Option<&str>) {
    // Caches must keep answers for different origins apart.
    headers.append("vary", HeaderValue::from_static("origin"));
    let Some(value) = origin.and_then(|o| HeaderValue::from_str(o).ok()) else {
        return;
    };
    headers.insert("access-control-allow-origin", value);
    headers.insert(
        "access-control-expose-headers",
        HeaderValue::from_static(EXPOSE_HEADERS),
    );
}

/// The answer to an `OPTIONS` preflight: 204 with the methods, headers and
/// cache time; the allow-origin header is added by [`apply`] when allowed.
pub fn preflight(origin: Option<&str>) -> HttpResponse {
    let mut resp = http::empty(204);
    let headers = resp.headers_mut();
    headers.insert("allow", HeaderValue::from_static(ALLOW_METHODS));
    if origin.is_some() {
        headers.insert(
            "access-control-allow-methods",
            HeaderValue::from_static(ALLOW_METHODS),
        );
        headers.insert(
            "access-control-allow-headers",
            HeaderValue::from_static(ALLOW_HEADERS),
        );
        headers.insert(
            "access-control-max-age",
            HeaderValue::from_static(MAX_AGE_SECS),
        );
    }
    resp
}

/// Whether `method` is a CORS preflight (or plain `OPTIONS`) request.
pub fn is_preflight(method: &Method) -> bool {
    *method == Method::OPTIONS
}
