//! The feeds' opaque cursors. Each is base64url text with a version tag,
//! checked strictly on the way in: anything else is 400 `invalid_request`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::ApiError;
use crate::studio::validate::is_ulid;

/// Most pages one For You session counts before the number stops growing.
const MAX_PAGE_NUMBER: u64 = 1_000_000;

fn bad() -> ApiError {
    ApiError::invalid_request("cursor is not valid; start again without it")
}

fn open(cursor: &str, tag: &str) -> Result<String, ApiError> {
    let text = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    let text = String::from_utf8(text).map_err(|_| bad())?;
    text.strip_prefix(tag)
        .and_then(|rest| rest.strip_prefix('.'))
        .map(str::to_owned)
        .ok_or_else(bad)
}

/// For You: which page of the session comes next (the seen set does the
/// rest, so the cursor stays small and cannot skip anything).
pub fn for_you(page: u64) -> String {
    URL_SAFE_NO_PAD.encode(format!("fy1.{}", page.min(MAX_PAGE_NUMBER)))
}

/// Reads a For You cursor.
pub fn parse_for_you(cursor: &str) -> Result<u64, ApiError> {
    let page: u64 = open(cursor, "fy1")?.parse().map_err(|_| bad())?;
    // Only the exact text we issue: no "+1", "01" or other spellings.
    if page == 0 || page > MAX_PAGE_NUMBER || for_you(page) != cursor {
        return Err(bad());
    }
    Ok(page)
}

/// Following: go on with videos older than `last_id`.
pub fn following(last_id: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("fo1.{last_id}"))
}

/// Reads a Following cursor: the id the previous page ended on.
pub fn parse_following(cursor: &str) -> Result<String, ApiError> {
    let id = open(cursor, "fo1")?;
    // A lower-case id would name other keys than the one we issued.
    if !is_ulid(&id) || following(&id) != cursor || id.bytes().any(|b| b.is_ascii_lowercase()) {
        return Err(bad());
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_anything_else() {
        assert_eq!(parse_for_you(&for_you(3)).unwrap(), 3);
        let id = "01JD0000000000000000000000";
        assert_eq!(parse_following(&following(id)).unwrap(), id);
        let forged = [
            URL_SAFE_NO_PAD.encode("fy1.0"),
            URL_SAFE_NO_PAD.encode("fy1.-1"),
            URL_SAFE_NO_PAD.encode("fy2.1"),
            URL_SAFE_NO_PAD.encode("fo1.1"),
            "!!".to_owned(),
            String::new(),
        ];
        for bad in &forged {
            assert!(parse_for_you(bad).is_err(), "{bad}");
            assert!(parse_following(bad).is_err(), "{bad}");
        }
        assert!(parse_for_you(&following(id)).is_err());
    }
}
