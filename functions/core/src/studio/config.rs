//! Studio settings, parsed from the raw text of Spin variables.

/// Generations a member may ask for per UTC day unless configured otherwise.
pub const DEFAULT_DAILY_GENERATION_QUOTA: u32 = 20;
/// The largest quota accepted, so a typo cannot open the gates.
pub const MAX_DAILY_GENERATION_QUOTA: u32 = 10_000;
/// HMAC keys shorter than SHA-256's output weaken it.
pub const MIN_CALLBACK_KEY_BYTES: usize = 32;

/// What the studio rules need from configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StudioConfig {
    /// Generations per member and UTC day; 0 turns generation off.
    pub daily_generation_quota: u32,
}

impl Default for StudioConfig {
    fn default() -> Self {
        Self {
            daily_generation_quota: DEFAULT_DAILY_GENERATION_QUOTA,
        }
    }
}

/// A configuration value that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The quota is not a whole number in range.
    #[error("daily_generation_quota must be an integer 0-{MAX_DAILY_GENERATION_QUOTA} (got {0:?})")]
    BadQuota(String),
    /// The callback key is missing or too short.
    #[error("callback_key must be at least {MIN_CALLBACK_KEY_BYTES} bytes (got {0})")]
    CallbackKeyTooShort(usize),
}

impl StudioConfig {
    /// Parses `daily_generation_quota` (empty = default).
    pub fn from_vars(daily_generation_quota: &str) -> Result<Self, ConfigError> {
        let raw = daily_generation_quota.trim();
        if raw.is_empty() {
            return Ok(Self::default());
        }
        let quota = raw
            .parse::<u32>()
            .ok()
            .filter(|q| *q <= MAX_DAILY_GENERATION_QUOTA)
            .ok_or_else(|| ConfigError::BadQuota(raw.to_owned()))?;
        Ok(Self {
            daily_generation_quota: quota,
        })
    }
}

/// Checks the shared worker callback key (the variable's UTF-8 bytes).
pub fn callback_key(raw: &str) -> Result<Vec<u8>, ConfigError> {
    if raw.len() < MIN_CALLBACK_KEY_BYTES {
        return Err(ConfigError::CallbackKeyTooShort(raw.len()));
    }
    Ok(raw.as_bytes().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quota_defaults_and_parses() {
        assert_eq!(
            StudioConfig::from_vars("").unwrap().daily_generation_quota,
            20
        );
        assert_eq!(
            StudioConfig::from_vars(" 1 ")
                .unwrap()
                .daily_generation_quota,
            1
        );
        assert_eq!(
            StudioConfig::from_vars("0").unwrap().daily_generation_quota,
            0
        );
        for bad in ["-1", "many", "10001", "1.5"] {
            assert!(matches!(
                StudioConfig::from_vars(bad),
                Err(ConfigError::BadQuota(_))
            ));
        }
    }

    #[test]
    fn callback_keys_must_be_long_enough() {
        assert_eq!(
            callback_key("short"),
            Err(ConfigError::CallbackKeyTooShort(5))
        );
        assert_eq!(callback_key(&"k".repeat(32)).unwrap().len(), 32);
    }
}
