//! Field rules for sign-up. Each refusal is a 400 `invalid_request` that
//! names the field, so a client can point at the right input.

use crate::error::ApiError;

/// Handles are 3–24 characters.
pub const HANDLE_LEN: std::ops::RangeInclusive<usize> = 3..=24;
/// Passwords are 10–128 characters.
pub const PASSWORD_LEN: std::ops::RangeInclusive<usize> = 10..=128;
/// Display names are at most 50 characters.
pub const DISPLAY_NAME_MAX: usize = 50;
/// Bios are at most 160 characters.
pub const BIO_MAX: usize = 160;
/// Handles nobody may sign up with: they name the service, its staff or its
/// routes, or would confuse people.
pub const RESERVED_HANDLES: &[&str] = &[
    "about",
    "admin",
    "administrator",
    "api",
    "app",
    "dreamreel",
    "help",
    "home",
    "invite",
    "invites",
    "login",
    "logout",
    "me",
    "mod",
    "moderator",
    "news",
    "null",
    "official",
    "root",
    "security",
    "settings",
    "signup",
    "staff",
    "support",
    "system",
    "team",
    "undefined",
    "users",
    "www",
];

/// Checks a handle and returns its lowercase form, the one uniqueness uses.
pub fn handle(handle: &str) -> Result<String, ApiError> {
    let lower = handle.to_ascii_lowercase();
    let ok = HANDLE_LEN.contains(&lower.len())
        && lower.starts_with(|c: char| c.is_ascii_lowercase())
        && lower
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_' || c == b'.');
    if ok {
        Ok(lower)
    } else {
        Err(ApiError::invalid_request(
            "handle must be 3-24 characters of letters, digits, '_' or '.', starting with a letter",
        ))
    }
}

/// Checks a handle for sign-up: [`handle`]'s rules, and not a reserved word.
pub fn new_handle(handle_text: &str) -> Result<String, ApiError> {
    let lower = handle(handle_text)?;
    if RESERVED_HANDLES.contains(&lower.as_str()) {
        return Err(ApiError::invalid_request(format!(
            "handle {lower:?} is reserved; choose another"
        )));
    }
    Ok(lower)
}

/// Checks a bio (trimmed): at most 160 characters, line breaks allowed but
/// no other control characters. Empty clears it.
pub fn bio(bio: &str) -> Result<String, ApiError> {
    let bio = bio.trim();
    if bio.chars().count() > BIO_MAX || bio.chars().any(|c| c.is_control() && c != '\n') {
        return Err(ApiError::invalid_request(
            "bio must be at most 160 characters without control characters",
        ));
    }
    Ok(bio.to_owned())
}

/// Checks a password's length (in characters, not bytes).
pub fn password(password: &str) -> Result<(), ApiError> {
    if PASSWORD_LEN.contains(&password.chars().count()) {
        Ok(())
    } else {
        Err(ApiError::invalid_request(
            "password must be 10-128 characters",
        ))
    }
}

/// Checks a display name (trimmed), falling back to the handle when absent.
pub fn display_name(display_name: Option<&str>, handle: &str) -> Result<String, ApiError> {
    let Some(name) = display_name else {
        return Ok(handle.to_owned());
    };
    let name = name.trim();
    let count = name.chars().count();
    if count == 0 || count > DISPLAY_NAME_MAX || name.chars().any(char::is_control) {
        return Err(ApiError::invalid_request(
            "display_name must be 1-50 characters without control characters",
        ));
    }
    Ok(name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_in_message(e: ApiError, field: &str) {
        assert_eq!((e.status, e.code), (400, "invalid_request"));
        assert!(e.message.starts_with(field), "{}", e.message);
    }

    #[test]
    fn handles_are_lowercased_for_uniqueness() {
        assert_eq!(handle("Ana_Lima").unwrap(), "ana_lima");
        assert_eq!(handle("bo.b9").unwrap(), "bo.b9");
        assert_eq!(handle(&"a".repeat(24)).unwrap().len(), 24);
    }

    #[test]
    fn bad_handles_are_refused_by_name() {
        for bad in [
            "ab",
            "1vo",
            "_ana",
            "ana lima",
            "ana-lima",
            "ánä",
            "",
            &"a".repeat(25),
        ] {
            field_in_message(handle(bad).unwrap_err(), "handle");
        }
    }

    #[test]
    fn reserved_handles_are_refused_in_any_case() {
        field_in_message(new_handle("Admin").unwrap_err(), "handle");
        field_in_message(new_handle("dreamreel").unwrap_err(), "handle");
        assert_eq!(new_handle("Ana").unwrap(), "ana");
        // Looking someone up does not care.
        assert_eq!(handle("admin").unwrap(), "admin");
    }

    #[test]
    fn bios_are_bounded_and_trimmed() {
        assert_eq!(bio("  hi\nthere ").unwrap(), "hi\nthere");
        assert_eq!(bio("").unwrap(), "");
        assert_eq!(bio(&"é".repeat(160)).unwrap().chars().count(), 160);
        field_in_message(bio(&"x".repeat(161)).unwrap_err(), "bio");
        field_in_message(bio("a\u{0}b").unwrap_err(), "bio");
    }

    #[test]
    fn password_length_counts_characters() {
        assert!(password("0123456789").is_ok());
        assert!(password(&"é".repeat(128)).is_ok());
        field_in_message(password("short").unwrap_err(), "password");
        field_in_message(password(&"x".repeat(129)).unwrap_err(), "password");
    }

    #[test]
    fn display_name_defaults_to_the_handle_and_is_bounded() {
        assert_eq!(display_name(None, "Ana").unwrap(), "Ana");
        assert_eq!(
            display_name(Some("  Ana Lima "), "ana").unwrap(),
            "Ana Lima"
        );
        assert_eq!(
            display_name(Some(&"é".repeat(50)), "x")
                .unwrap()
                .chars()
                .count(),
            50
        );
        for bad in ["", "   ", "a\nb", &"x".repeat(51)] {
            field_in_message(display_name(Some(bad), "ana").unwrap_err(), "display_name");
        }
    }
}
