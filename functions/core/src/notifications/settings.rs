//! Per-member notification settings: which kinds are muted for push.

use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::keys;
use crate::store::Store;

use super::model::Kind;

/// A member's settings. Muted kinds still reach the inbox and the stream
/// (nothing is hidden from the member), but never buzz their phone.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// Kinds not pushed, by wire name, sorted.
    pub muted: Vec<String>,
    /// Whether push is on at all.
    #[serde(default = "yes")]
    pub push: bool,
}

fn yes() -> bool {
    true
}

impl Settings {
    /// Whether `kind` may be pushed.
    pub fn pushes(&self, kind: Kind) -> bool {
        self.push && !self.muted.iter().any(|m| m == kind.as_str())
    }
}

/// `PUT /v1/notifications/settings` body; absent fields stay as they are.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsUpdate {
    /// The full list of muted kinds.
    pub muted: Option<Vec<String>>,
    /// Push on or off.
    pub push: Option<bool>,
}

/// The member's settings (defaults when never set).
pub async fn get_settings<S: Store>(store: &S, user: &str) -> Result<Settings, ApiError> {
    match store.get(&keys::notification_settings(user)).await? {
        Some(bytes) => serde_json::from_slice(&bytes)
            .map_err(|_| ApiError::internal("notification settings are unreadable")),
        None => Ok(Settings {
            muted: Vec::new(),
            push: true,
        }),
    }
}

/// Applies `update`; 400 naming any unknown kind, and then nothing changes.
pub async fn update_settings<S: Store>(
    store: &S,
    user: &str,
    update: SettingsUpdate,
) -> Result<Settings, ApiError> {
    let mut settings = get_settings(store, user).await?;
    if let Some(muted) = update.muted {
        if let Some(bad) = muted.iter().find(|m| Kind::parse(m).is_none()) {
            return Err(ApiError::invalid_request(format!(
                "unknown notification kind {bad:?}"
            )));
        }
        let mut muted = muted;
        muted.sort();
        muted.dedup();
        settings.muted = muted;
    }
    if let Some(push) = update.push {
        settings.push = push;
    }
    let bytes = serde_json::to_vec(&settings).expect("settings serialise");
    store
        .set(&keys::notification_settings(user), &bytes)
        .await?;
    Ok(settings)
}
