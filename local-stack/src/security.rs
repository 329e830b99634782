//! Security and CORS headers on what the local stack answers itself (unknown
//! routes, 413, a trapped component) and on the object store's answers.
//! Components add their own (dreamreel-edge's `serve`); nothing here
//! overrides a header a component set.

use http::{HeaderMap, HeaderValue, Method};

/// Request headers a browser may send to the object store (presigned PUTs).
const OBJECT_ALLOW_HEADERS: &str =
    "content-type, content-length, content-md5, x-amz-content-sha256, x-amz-date";

fn set_default(headers: &mut HeaderMap, name: &'static str, value: &'static str) {
    if !headers.contains_key(name) {
        headers.insert(name, HeaderValue::from_static(value));
    }
}

/// No MIME sniffing, no referrer, no framing, HTTPS only (ignored by
/// browsers on plain `http://127.0.0.1`); JSON is never cached or rendered.
pub fn secure_headers(headers: &mut HeaderMap) {
    let json = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    set_default(headers, "x-content-type-options", "nosniff");
    set_default(headers, "referrer-policy", "no-referrer");
    set_default(headers, "x-frame-options", "DENY");
    set_default(
        headers,
        "strict-transport-security",
        "max-age=31536000; includeSubDomains",
    );
    if json {
        set_default(
            headers,
            "content-security-policy",
            "default-src 'none'; frame-ancestors 'none'",
        );
        set_default(headers, "cache-control", "no-store");
    }
}

/// Whether `origin` is in the comma-separated `allowed` list (`*` = any).
pub fn origin_allowed(origin: &str, allowed: &str) -> bool {
    allowed
        .split(',')
        .map(str::trim)
        .any(|a| a == "*" || (!a.is_empty() && a == origin))
}

/// The app's answer: security headers, and CORS for an allowed `origin`
/// when no component already decided.
pub fn harden_app(headers: &mut HeaderMap, origin: Option<&str>, allowed: &str) {
    secure_headers(headers);
    if headers.contains_key("access-control-allow-origin")
        || headers.contains_key(http::header::VARY)
    {
        return;
    }
    headers.insert(http::header::VARY, HeaderValue::from_static("origin"));
    if let Some(value) = origin
        .filter(|o| origin_allowed(o, allowed))
        .and_then(|o| HeaderValue::from_str(o).ok())
    {
        headers.insert("access-control-allow-origin", value);
        headers.insert(
            "access-control-expose-headers",
            HeaderValue::from_static("retry-after, x-request-id"),
        );
    }
}

/// The object store's CORS: any origin may use a presigned URL (the
/// signature is the credential; no cookies are involved), so a browser
/// client can upload a recording or avatar straight to storage.
pub fn object_cors(headers: &mut HeaderMap, method: &Method, has_origin: bool) {
    secure_headers(headers);
    if !has_origin {
        return;
    }
    headers.insert("access-control-allow-origin", HeaderValue::from_static("*"));
    headers.insert(
        "access-control-expose-headers",
        HeaderValue::from_static("etag, x-amz-request-id"),
    );
    if method == Method::OPTIONS {
        headers.insert(
            "access-control-allow-methods",
            HeaderValue::from_static("GET, HEAD, PUT"),
        );
        headers.insert(
            "access-control-allow-headers",
            HeaderValue::from_static(OBJECT_ALLOW_HEADERS),
        );
        headers.insert("access-control-max-age", HeaderValue::from_static("600"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn component_headers_win_and_only_allowed_origins_get_cors() {
        let mut h = HeaderMap::new();
        h.insert("content-type", HeaderValue::from_static("application/json"));
        h.insert("cache-control", HeaderValue::from_static("max-age=5"));
        harden_app(
            &mut h,
            Some("https://evil.example"),
            "http://localhost:3000",
        );
        assert_eq!(h["cache-control"], "max-age=5");
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert!(!h.contains_key("access-control-allow-origin"));
        let mut h = HeaderMap::new();
        harden_app(
            &mut h,
            Some("http://localhost:3000"),
            "http://a, http://localhost:3000",
        );
        assert_eq!(h["access-control-allow-origin"], "http://localhost:3000");
        assert!(origin_allowed("https://x", "*"));
        assert!(!origin_allowed(
            "http://localhost:30000",
            "http://localhost:3000"
        ));
    }
}
