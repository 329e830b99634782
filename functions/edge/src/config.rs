//! Configuration from Spin variables, parsed by the core's rules.

use dreamreel_core::ApiError;
use dreamreel_core::accounts::AccountsConfig;
use dreamreel_core::studio::{StudioConfig, config as studio_config};
use spin_sdk::variables::{self, Error};

use crate::RequestLog;

/// A variable's value; `None` when the component does not define it.
pub async fn optional(name: &str, log: &RequestLog) -> Result<Option<String>, ApiError> {
    match variables::get(name).await {
        Ok(value) => Ok(Some(value)),
        Err(Error::Undefined(_)) => Ok(None),
        Err(e) => Err(misconfigured(&format!("variable {name}: {e:?}"), log)),
    }
}

/// 500 `internal`; the detail goes to the log, never to the client.
pub fn misconfigured(detail: &str, log: &RequestLog) -> ApiError {
    log.log(
        "error",
        "misconfigured",
        serde_json::json!({ "detail": detail }),
    );
    ApiError::internal("the service is misconfigured")
}

/// Accounts settings from `session_key` (required), `session_ttl_seconds`
/// and `bootstrap_invites`.
pub async fn accounts(log: &RequestLog) -> Result<AccountsConfig, ApiError> {
    let key = optional("session_key", log)
        .await?
        .ok_or_else(|| misconfigured("session_key is not set", log))?;
    let ttl = optional("session_ttl_seconds", log)
        .await?
        .unwrap_or_default();
    let invites = optional("bootstrap_invites", log)
        .await?
        .unwrap_or_default();
    AccountsConfig::from_vars(&key, &ttl, &invites).map_err(|e| misconfigured(&e.to_string(), log))
}

/// Studio settings from `daily_generation_quota` (empty or undefined = 20).
pub async fn studio(log: &RequestLog) -> Result<StudioConfig, ApiError> {
    let quota = optional("daily_generation_quota", log)
        .await?
        .unwrap_or_default();
    StudioConfig::from_vars(&quota).map_err(|e| misconfigured(&e.to_string(), log))
}

/// The worker callback key from `callback_key` (required, at least 32 bytes).
pub async fn callback_key(log: &RequestLog) -> Result<Vec<u8>, ApiError> {
    let key = optional("callback_key", log)
        .await?
        .ok_or_else(|| misconfigured("callback_key is not set", log))?;
    studio_config::callback_key(&key).map_err(|e| misconfigured(&e.to_string(), log))
}
