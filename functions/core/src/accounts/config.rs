//! Accounts settings, parsed from the raw text of Spin variables.

use crate::accounts::invites;
use crate::accounts::policy::AccessPolicy;

/// Sessions last a week unless configured otherwise.
pub const DEFAULT_SESSION_TTL_SECS: u64 = 7 * 24 * 3600;
/// HMAC-SHA256 keys shorter than its output weaken it.
pub const MIN_SESSION_KEY_BYTES: usize = 32;

/// What the accounts rules need from configuration.
#[derive(Clone, PartialEq, Eq)]
pub struct AccountsConfig {
    /// HMAC key for session tokens (the variable's UTF-8 bytes), at least 32 bytes.
    pub session_key: Vec<u8>,
    /// Session lifetime in seconds.
    pub session_ttl_secs: u64,
    /// Operator-seeded invite codes, normalised; each works once.
    pub bootstrap_invites: Vec<String>,
    /// Invites, admins, regions, under-18 defaults and rate limits; the
    /// defaults unless the accounts component sets them ([`Self::with_policy`]).
    pub policy: AccessPolicy,
}

impl std::fmt::Debug for AccountsConfig {
    /// Keeps the key out of logs and panic messages.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountsConfig")
            .field("session_key", &"<redacted>")
            .field("session_ttl_secs", &self.session_ttl_secs)
            .field("bootstrap_invites", &self.bootstrap_invites.len())
            .field("policy", &self.policy)
            .finish()
    }
}

/// A configuration value that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The session key is missing or too short.
    #[error("session_key must be at least {MIN_SESSION_KEY_BYTES} bytes (got {0})")]
    SessionKeyTooShort(usize),
    /// The TTL is not a positive whole number of seconds.
    #[error("session_ttl_seconds must be a positive integer (got {0:?})")]
    BadTtl(String),
    /// A bootstrap invite has characters other than letters, digits, `-` and spaces.
    #[error("bootstrap_invites has an unusable code {0:?}")]
    BadInvite(String),
    /// An access-policy variable cannot be used (name = value).
    #[error("unusable accounts setting {0}")]
    BadPolicy(String),
}

impl AccountsConfig {
    /// Parses the raw variables: the key as-is, the TTL in seconds (empty =
    /// default), and comma-separated invite codes (empty = none).
    pub fn from_vars(
        session_key: &str,
        session_ttl_seconds: &str,
        bootstrap_invites: &str,
    ) -> Result<Self, ConfigError> {
        if session_key.len() < MIN_SESSION_KEY_BYTES {
            return Err(ConfigError::SessionKeyTooShort(session_key.len()));
        }
        let ttl = session_ttl_seconds.trim();
        let session_ttl_secs = if ttl.is_empty() {
            DEFAULT_SESSION_TTL_SECS
        } else {
            ttl.parse::<u64>()
                .ok()
                .filter(|&t| t > 0)
                .ok_or_else(|| ConfigError::BadTtl(ttl.to_owned()))?
        };
        let bootstrap_invites = bootstrap_invites
            .split(',')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(|c| invites::normalise(c).ok_or_else(|| ConfigError::BadInvite(c.to_owned())))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            session_key: session_key.as_bytes().to_vec(),
            session_ttl_secs,
            bootstrap_invites,
            policy: AccessPolicy::default(),
        })
    }

    /// The same settings under `policy`.
    pub fn with_policy(self, policy: AccessPolicy) -> Self {
        Self { policy, ..self }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn defaults_apply_to_empty_values() {
        let cfg = AccountsConfig::from_vars(KEY, "", "").unwrap();
        assert_eq!(cfg.session_ttl_secs, 604_800);
        assert!(cfg.bootstrap_invites.is_empty());
        assert_eq!(cfg.session_key, KEY.as_bytes());
    }

    #[test]
    fn parses_ttl_and_normalises_invites() {
        let cfg = AccountsConfig::from_vars(KEY, " 60 ", "alpha-00001, ALPHA-00002,,").unwrap();
        assert_eq!(cfg.session_ttl_secs, 60);
        assert_eq!(cfg.bootstrap_invites, ["ALPHA00001", "ALPHA00002"]);
    }

    #[test]
    fn refuses_unusable_values() {
        assert_eq!(
            AccountsConfig::from_vars("short", "", ""),
            Err(ConfigError::SessionKeyTooShort(5))
        );
        for ttl in ["0", "-1", "soon"] {
            assert!(matches!(
                AccountsConfig::from_vars(KEY, ttl, ""),
                Err(ConfigError::BadTtl(_))
            ));
        }
        assert!(matches!(
            AccountsConfig::from_vars(KEY, "", "ok-1,no!"),
            Err(ConfigError::BadInvite(_))
        ));
    }

    #[test]
    fn debug_output_hides_the_key() {
        let cfg = AccountsConfig::from_vars(KEY, "", "").unwrap();
        assert!(!format!("{cfg:?}").contains(KEY));
    }
}
