//! Configuration from Spin variables, parsed by the core's rules.

use dreamreel_core::ApiError;
use dreamreel_core::accounts::AccountsConfig;
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
fn misconfigured(detail: &str, log: &RequestLog) -> ApiError {
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
