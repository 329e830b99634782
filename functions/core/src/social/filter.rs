//! The comment filter hook: the checks every comment passes before it is
//! stored. Safety rules (issue 9) extend [`check_comment`].

use crate::error::ApiError;

/// Most characters (Unicode scalar values) in a comment.
pub const MAX_COMMENT_CHARS: usize = 500;

/// Characters that show nothing; a comment of only these is blank.
fn invisible(c: char) -> bool {
    c.is_whitespace()
        || matches!(c, '\u{200B}'..='\u{200F}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}' | '\u{00AD}' | '\u{034F}')
}

/// Whether `text` (already trimmed) may be posted: 1..=[`MAX_COMMENT_CHARS`]
/// characters, no control characters but newlines, not only invisible ones.
/// 400 `invalid_request` otherwise.
pub fn check_comment(text: &str) -> Result<(), ApiError> {
    let chars = text.chars().count();
    if chars == 0 || text.chars().all(invisible) {
        return Err(ApiError::invalid_request("comment text must not be blank"));
    }
    if chars > MAX_COMMENT_CHARS {
        return Err(ApiError::invalid_request(format!(
            "comment text must be at most {MAX_COMMENT_CHARS} characters (got {chars})"
        )));
    }
    if text.chars().any(|c| c.is_control() && c != '\n') {
        return Err(ApiError::invalid_request(
            "comment text must not contain control characters",
        ));
    }
    // Then what it says: the safety filter, as for prompts (more lenient
    // about talking of violence, as comments do).
    crate::safety::check_comment(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_is_counted_in_characters() {
        assert!(check_comment("hi").is_ok());
        assert!(check_comment(&"é".repeat(MAX_COMMENT_CHARS)).is_ok());
        let e = check_comment(&"é".repeat(MAX_COMMENT_CHARS + 1)).unwrap_err();
        assert_eq!((e.status, e.code), (400, "invalid_request"));
    }

    #[test]
    fn blank_control_and_invisible_only_text_is_refused() {
        for bad in [
            "",
            "\u{200B}\u{200D}",
            "\u{FEFF} \u{2060}",
            "a\u{0007}b",
            "tab\there",
        ] {
            assert!(check_comment(bad).is_err(), "{bad:?}");
        }
        assert!(check_comment("two\nlines").is_ok());
        assert!(check_comment("zero\u{200D}width inside").is_ok());
    }
}
