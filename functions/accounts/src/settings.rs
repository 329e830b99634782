//! This component's configuration and what the edge says about the caller.

use dreamreel_core::ApiError;
use dreamreel_core::accounts::policy::PolicyVars;
use dreamreel_core::accounts::{AccessPolicy, AccountsConfig, Client};
use dreamreel_edge::config::{self, misconfigured};
use dreamreel_edge::{RequestLog, http};
use spin_sdk::http::Request;

async fn text(name: &str, log: &RequestLog) -> Result<String, ApiError> {
    Ok(config::optional(name, log).await?.unwrap_or_default())
}

/// Sessions (shared with every component) plus the accounts access policy:
/// `invites_per_member`, `admin_handles`, `signup_countries`,
/// `trusted_country_header`, `minor_feed_minutes`, `minor_quiet_hours`,
/// `auth_rate_limits`. Read on every request, so a change to
/// `admin_handles` takes effect at once.
pub async fn load(log: &RequestLog) -> Result<AccountsConfig, ApiError> {
    let vars = PolicyVars {
        invites_per_member: text("invites_per_member", log).await?,
        admin_handles: text("admin_handles", log).await?,
        signup_countries: text("signup_countries", log).await?,
        trusted_country_header: text("trusted_country_header", log).await?,
        minor_feed_minutes: text("minor_feed_minutes", log).await?,
        minor_quiet_hours: text("minor_quiet_hours", log).await?,
        auth_rate_limits: text("auth_rate_limits", log).await?,
    };
    let policy = AccessPolicy::from_vars(&vars).map_err(|e| misconfigured(&e.to_string(), log))?;
    Ok(config::accounts(log).await?.with_policy(policy))
}

/// The caller's address (Spin's `spin-client-addr`, port dropped) and the
/// country of the trusted edge header, when one is configured.
pub fn client(req: &Request, cfg: &AccountsConfig) -> Client {
    let address = http::header(req, "spin-client-addr").map(strip_port);
    let edge_country = cfg
        .policy
        .trusted_country_header
        .as_deref()
        .and_then(|name| http::header(req, name))
        .map(str::to_owned);
    Client {
        address,
        edge_country,
    }
}

/// `1.2.3.4:5678` → `1.2.3.4`, `[::1]:5678` → `::1`.
fn strip_port(addr: &str) -> String {
    if let Some(rest) = addr.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest).to_owned();
    }
    match addr.rsplit_once(':') {
        Some((host, _)) if !host.contains(':') => host.to_owned(),
        _ => addr.to_owned(),
    }
}
