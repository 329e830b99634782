//! The key schema: every key the edge stores, built only through these
//! functions, so the layout lives in one place (DynamoDB single-table style).
//!
//! | key                 | value                                                  |
//! | ------------------- | ------------------------------------------------------ |
//! | `user:{user_id}`    | JSON [`crate::accounts::User`] (incl. password hash)   |
//! | `handle:{lowercase}`| the owning user id (UTF-8); claimed by compare-and-swap |
//! | `invite:{code}`     | JSON [`crate::accounts::invites::Invite`]; `code` is normalised (upper case, no separators) |
//! | `health:probe`      | never written; the health check reads it to prove the store answers |
//!
//! Ids are ULIDs; handles and invite codes are normalised before they reach a key.

/// `user:{id}` — the user record.
pub fn user(user_id: &str) -> String {
    format!("user:{user_id}")
}

/// `handle:{lowercase}` — which user owns a handle; `handle` must already be lowercase.
pub fn handle(handle_lowercase: &str) -> String {
    format!("handle:{handle_lowercase}")
}

/// `invite:{code}` — an invite's state; `code` must already be normalised.
pub fn invite(normalised_code: &str) -> String {
    format!("invite:{normalised_code}")
}

/// `health:probe` — read (never written) by the health check to prove the store answers.
pub fn health_probe() -> String {
    "health:probe".to_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn keys_follow_the_documented_prefixes() {
        assert_eq!(super::user("01ABC"), "user:01ABC");
        assert_eq!(super::handle("ana_lima"), "handle:ana_lima");
        assert_eq!(super::invite("ABCDEFGHJK"), "invite:ABCDEFGHJK");
        assert_eq!(super::health_probe(), "health:probe");
    }
}
