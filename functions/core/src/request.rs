//! Turning a request body into a typed request, with the errors clients see:
//! 413 `payload_too_large`, 400 `invalid_json` (not JSON), 400
//! `invalid_request` (JSON, but a field is wrong, missing or unknown).

use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// The largest body any JSON route accepts.
pub const MAX_JSON_BODY: usize = 64 * 1024;

/// Parses `body` as `T`. Request types use `#[serde(deny_unknown_fields)]`,
/// so a misspelt or unexpected field is refused rather than silently ignored.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    if body.len() > MAX_JSON_BODY {
        return Err(ApiError::payload_too_large(MAX_JSON_BODY));
    }
    serde_json::from_slice(body).map_err(|e| {
        use serde_json::error::Category;
        let text = without_position(&e.to_string());
        match e.classify() {
            Category::Data => ApiError::invalid_request(text),
            Category::Syntax | Category::Eof | Category::Io => {
                ApiError::invalid_json(format!("body is not valid JSON: {text}"))
            }
        }
    })
}

/// Checks a JSON body's `Content-Type`: absent or JSON (`application/json`,
/// `application/*+json`, any parameters). Anything else is 415
/// `unsupported_media_type`, which also keeps cross-site "simple" form and
/// text posts (sent by browsers without a CORS preflight) from any write.
pub fn check_content_type(value: Option<&str>) -> Result<(), ApiError> {
    let Some(value) = value else { return Ok(()) };
    let essence = value.split(';').next().unwrap_or_default().trim();
    let essence = essence.to_ascii_lowercase();
    let json = essence == "application/json"
        || essence
            .strip_prefix("application/")
            .is_some_and(|sub| sub.ends_with("+json"));
    if json {
        Ok(())
    } else {
        Err(ApiError::new(
            415,
            "unsupported_media_type",
            "request bodies must be JSON (Content-Type: application/json)",
        ))
    }
}

/// Checks a raw query string: a parameter named twice ("?limit=1&limit=500")
/// is 400 `invalid_request` rather than one silently winning.
pub fn check_query(query: &str) -> Result<(), ApiError> {
    let mut seen = std::collections::HashSet::new();
    for name in query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').map_or(p, |(k, _)| k))
    {
        if !seen.insert(name) {
            let shown: String = name.chars().take(32).collect();
            return Err(ApiError::invalid_request(format!(
                "query parameter `{shown}` is given more than once"
            )));
        }
    }
    Ok(())
}

/// serde_json ends messages with " at line L column C"; one-line bodies make that noise.
fn without_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

#[cfg(test)]
pub(crate) mod proptests;

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Req {
        name: String,
        age: Option<u8>,
    }

    fn code(body: &str) -> &'static str {
        parse_json::<Req>(body.as_bytes()).unwrap_err().code
    }

    #[test]
    fn accepts_a_well_formed_request() {
        let r: Req = parse_json(br#"{"name":"ana"}"#).unwrap();
        assert_eq!(r.name, "ana");
    }

    #[test]
    fn not_json_is_invalid_json() {
        for body in ["", "{", "{\"name\": ", "nope", "{\"name\":\"a\"} trailing"] {
            assert_eq!(code(body), "invalid_json", "{body:?}");
        }
        assert_eq!(
            parse_json::<Req>(&[0xFF, 0xFE]).unwrap_err().code,
            "invalid_json"
        );
    }

    #[test]
    fn wrong_fields_are_invalid_request_and_named() {
        let missing = parse_json::<Req>(b"{}").unwrap_err();
        assert_eq!((missing.status, missing.code), (400, "invalid_request"));
        assert_eq!(missing.message, "missing field `name`");

        let unknown = parse_json::<Req>(br#"{"name":"a","admin":true}"#).unwrap_err();
        assert!(unknown.message.contains("`admin`"), "{}", unknown.message);

        assert_eq!(code(r#"{"name":1}"#), "invalid_request");
        assert_eq!(code("[]"), "invalid_request");
        assert_eq!(code("null"), "invalid_request");
    }

    #[test]
    fn only_json_content_types_are_accepted() {
        for ok in [
            None,
            Some("application/json"),
            Some("Application/JSON; charset=utf-8"),
            Some("application/merge-patch+json"),
        ] {
            assert!(check_content_type(ok).is_ok(), "{ok:?}");
        }
        for bad in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "",
            "json",
        ] {
            let e = check_content_type(Some(bad)).unwrap_err();
            assert_eq!((e.status, e.code), (415, "unsupported_media_type"), "{bad}");
        }
    }

    #[test]
    fn repeated_query_parameters_are_refused() {
        assert!(check_query("limit=5&cursor=abc&explain").is_ok());
        assert!(check_query("").is_ok());
        for bad in ["limit=1&limit=2", "a&a", "cursor=&x=1&cursor=z"] {
            assert_eq!(
                check_query(bad).unwrap_err().code,
                "invalid_request",
                "{bad}"
            );
        }
    }

    #[test]
    fn oversized_bodies_are_refused_before_parsing() {
        let body = vec![b' '; MAX_JSON_BODY + 1];
        let e = parse_json::<Req>(&body).unwrap_err();
        assert_eq!((e.status, e.code), (413, "payload_too_large"));
    }
}
