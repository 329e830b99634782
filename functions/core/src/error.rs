//! The one error type the domain returns to clients: an HTTP status, a stable
//! machine-readable code, and a human message, rendered as
//! `{"error":{"code":"...","message":"..."}}`.

use crate::store::StoreError;

/// An error a client sees: status, stable code, and a message safe to show.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {code}: {message}")]
pub struct ApiError {
    /// HTTP status code.
    pub status: u16,
    /// Stable, machine-readable code (`snake_case`); clients branch on this.
    pub code: &'static str,
    /// Human-readable explanation; never contains secrets or internals.
    pub message: String,
}

impl ApiError {
    /// An error with any status and code.
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    /// 400 with a specific code.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(400, code, message)
    }

    /// 400 `invalid_request`: well-formed JSON with a wrong, missing or unknown field.
    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::bad_request("invalid_request", message)
    }

    /// 400 `invalid_json`: the body is not JSON at all.
    pub fn invalid_json(message: impl Into<String>) -> Self {
        Self::bad_request("invalid_json", message)
    }

    /// 401 with a specific code.
    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(401, code, message)
    }

    /// 403 with a specific code.
    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(403, code, message)
    }

    /// 404 `not_found`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, "not_found", message)
    }

    /// 405 `method_not_allowed`.
    pub fn method_not_allowed(method: &str, path: &str) -> Self {
        Self::new(
            405,
            "method_not_allowed",
            format!("{method} is not allowed on {path}"),
        )
    }

    /// 409 with a specific code.
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(409, code, message)
    }

    /// 413 `payload_too_large`.
    pub fn payload_too_large(limit_bytes: usize) -> Self {
        Self::new(
            413,
            "payload_too_large",
            format!("request body exceeds {limit_bytes} bytes"),
        )
    }

    /// 500 `internal`; the message must already be safe to show.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "internal", message)
    }

    /// 503 with a specific code: a dependency is down, retrying may help.
    pub fn unavailable(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(503, code, message)
    }

    /// The JSON body: `{"error":{"code":"...","message":"..."}}`.
    pub fn to_json(&self) -> String {
        serde_json::json!({ "error": { "code": self.code, "message": self.message } }).to_string()
    }
}

impl From<StoreError> for ApiError {
    /// The backend's own text stays out of the response: it may name keys or hosts.
    fn from(_: StoreError) -> Self {
        Self::new(
            500,
            "storage_unavailable",
            "storage is unavailable; try again",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_documented_envelope() {
        let e = ApiError::conflict("handle_taken", "say \"hi\"");
        assert_eq!(
            e.to_json(),
            r#"{"error":{"code":"handle_taken","message":"say \"hi\""}}"#
        );
        assert_eq!(e.status, 409);
    }

    #[test]
    fn storage_failures_do_not_leak_internals() {
        let e: ApiError = StoreError("sqlite at /var/secret/kv.db: disk I/O".into()).into();
        assert_eq!((e.status, e.code), (500, "storage_unavailable"));
        assert!(!e.message.contains("sqlite") && !e.message.contains("/var"));
    }

    #[test]
    fn constructors_pick_the_right_status() {
        assert_eq!(ApiError::invalid_request("x").status, 400);
        assert_eq!(ApiError::invalid_json("x").code, "invalid_json");
        assert_eq!(ApiError::unauthorized("unauthorized", "x").status, 401);
        assert_eq!(ApiError::forbidden("invite_invalid", "x").status, 403);
        assert_eq!(ApiError::not_found("x").code, "not_found");
        assert_eq!(ApiError::method_not_allowed("PUT", "/v1/me").status, 405);
        assert_eq!(ApiError::payload_too_large(10).status, 413);
        assert_eq!(ApiError::internal("x").status, 500);
        assert_eq!(
            ApiError::unavailable("storage_unavailable", "x").status,
            503
        );
    }
}
