//! Who may join and act, from the accounts component's own variables:
//! invites per member, admins, sign-up countries, the under-18 defaults and
//! the log-in / sign-up rate limits.

use crate::accounts::ConfigError;

/// Invite codes each new member is given.
pub const DEFAULT_INVITES_PER_MEMBER: u32 = 4;
/// Countries sign-up is open to.
pub const DEFAULT_SIGNUP_COUNTRIES: &str = "US,CA";
/// Daily feed minutes of an under-18.
pub const DEFAULT_MINOR_FEED_MINUTES: u32 = 60;
/// Night hours in which an under-18 gets no pushes (local time, end exclusive).
pub const DEFAULT_MINOR_QUIET_HOURS: &str = "22:00-07:00";

/// Fixed-window attempt limits (attempts per window, per subject).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// Window length in seconds.
    pub window_secs: u64,
    /// Log-ins per handle.
    pub login_per_handle: u64,
    /// Log-ins per client address.
    pub login_per_address: u64,
    /// Sign-ups per handle.
    pub signup_per_handle: u64,
    /// Sign-ups per client address.
    pub signup_per_address: u64,
}

impl Default for RateLimits {
    /// 15-minute windows; addresses get more room than handles because many
    /// phones share one carrier address.
    fn default() -> Self {
        Self {
            window_secs: 900,
            login_per_handle: 10,
            login_per_address: 300,
            signup_per_handle: 10,
            signup_per_address: 100,
        }
    }
}

/// The accounts component's access rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessPolicy {
    /// Codes minted for each new member.
    pub invites_per_member: u32,
    /// Lowercase handles holding the admin role.
    pub admin_handles: Vec<String>,
    /// Upper-case ISO 3166-1 alpha-2 codes sign-up accepts.
    pub signup_countries: Vec<String>,
    /// Lowercase name of the edge header whose country is trusted; `None` = trust none.
    pub trusted_country_header: Option<String>,
    /// Daily feed budget of an under-18, minutes.
    pub minor_feed_minutes: u32,
    /// Push quiet hours of an under-18, `HH:MM-HH:MM` local time.
    pub minor_quiet_hours: (String, String),
    /// Log-in and sign-up limits.
    pub rate: RateLimits,
}

impl Default for AccessPolicy {
    fn default() -> Self {
        Self::from_vars(&PolicyVars::default()).expect("the defaults parse")
    }
}

/// The raw variable texts; empty = default.
#[derive(Debug, Clone, Default)]
pub struct PolicyVars {
    /// `invites_per_member`.
    pub invites_per_member: String,
    /// `admin_handles`, comma-separated.
    pub admin_handles: String,
    /// `signup_countries`, comma-separated.
    pub signup_countries: String,
    /// `trusted_country_header`.
    pub trusted_country_header: String,
    /// `minor_feed_minutes`.
    pub minor_feed_minutes: String,
    /// `minor_quiet_hours`, `HH:MM-HH:MM`.
    pub minor_quiet_hours: String,
    /// `auth_rate_limits`: `window=900,login_handle=10,login_address=300,signup_handle=10,signup_address=100`
    /// (any subset).
    pub auth_rate_limits: String,
}

fn bad(name: &str, value: &str) -> ConfigError {
    ConfigError::BadPolicy(format!("{name} = {value:?}"))
}

fn number(name: &str, value: &str, default: u64) -> Result<u64, ConfigError> {
    match value.trim() {
        "" => Ok(default),
        v => v.parse().map_err(|_| bad(name, value)),
    }
}

fn list(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(str::trim).filter(|v| !v.is_empty())
}

/// `HH:MM` → minutes after midnight.
pub fn parse_clock(text: &str) -> Option<u32> {
    let (h, m) = text.trim().split_once(':')?;
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60 && text.trim().len() == 5).then_some(h * 60 + m)
}

impl AccessPolicy {
    /// Parses the raw variables.
    pub fn from_vars(vars: &PolicyVars) -> Result<Self, ConfigError> {
        let invites_per_member = number(
            "invites_per_member",
            &vars.invites_per_member,
            DEFAULT_INVITES_PER_MEMBER.into(),
        )?;
        let invites_per_member = u32::try_from(invites_per_member)
            .ok()
            .filter(|n| *n <= 100)
            .ok_or_else(|| bad("invites_per_member", &vars.invites_per_member))?;
        let admin_handles = list(&vars.admin_handles)
            .map(|h| h.trim_start_matches('@').to_ascii_lowercase())
            .collect();
        let countries = match vars.signup_countries.trim() {
            "" => DEFAULT_SIGNUP_COUNTRIES,
            c => c,
        };
        let signup_countries = list(countries)
            .map(|c| country(c).ok_or_else(|| bad("signup_countries", c)))
            .collect::<Result<_, _>>()?;
        let header = vars.trusted_country_header.trim().to_ascii_lowercase();
        let trusted_country_header = (!header.is_empty()).then_some(header);
        let minutes = number(
            "minor_feed_minutes",
            &vars.minor_feed_minutes,
            DEFAULT_MINOR_FEED_MINUTES.into(),
        )?;
        let minor_feed_minutes = u32::try_from(minutes)
            .ok()
            .filter(|m| *m <= 24 * 60)
            .ok_or_else(|| bad("minor_feed_minutes", &vars.minor_feed_minutes))?;
        let quiet = match vars.minor_quiet_hours.trim() {
            "" => DEFAULT_MINOR_QUIET_HOURS,
            q => q,
        };
        let minor_quiet_hours = quiet
            .split_once('-')
            .filter(|(a, b)| parse_clock(a).is_some() && parse_clock(b).is_some())
            .map(|(a, b)| (a.trim().to_owned(), b.trim().to_owned()))
            .ok_or_else(|| bad("minor_quiet_hours", quiet))?;
        Ok(Self {
            invites_per_member,
            admin_handles,
            signup_countries,
            trusted_country_header,
            minor_feed_minutes,
            minor_quiet_hours,
            rate: rate_limits(&vars.auth_rate_limits)?,
        })
    }

    /// Whether the member with this handle holds the admin role.
    pub fn is_admin(&self, handle: &str) -> bool {
        let lower = handle.to_ascii_lowercase();
        self.admin_handles.contains(&lower)
    }
}

/// A two-letter country code, upper-cased; `None` when it is not one.
pub fn country(text: &str) -> Option<String> {
    let t = text.trim();
    (t.len() == 2 && t.bytes().all(|b| b.is_ascii_alphabetic())).then(|| t.to_ascii_uppercase())
}

fn rate_limits(text: &str) -> Result<RateLimits, ConfigError> {
    let mut limits = RateLimits::default();
    for pair in list(text) {
        let (name, value) = pair
            .split_once('=')
            .ok_or_else(|| bad("auth_rate_limits", pair))?;
        let value: u64 = value
            .trim()
            .parse()
            .ok()
            .filter(|v| *v > 0)
            .ok_or_else(|| bad("auth_rate_limits", pair))?;
        let slot = match name.trim() {
            "window" => &mut limits.window_secs,
            "login_handle" => &mut limits.login_per_handle,
            "login_address" => &mut limits.login_per_address,
            "signup_handle" => &mut limits.signup_per_handle,
            "signup_address" => &mut limits.signup_per_address,
            _ => return Err(bad("auth_rate_limits", pair)),
        };
        *slot = value;
    }
    Ok(limits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply_to_empty_values() {
        let p = AccessPolicy::default();
        assert_eq!(p.invites_per_member, 4);
        assert_eq!(p.signup_countries, ["US", "CA"]);
        assert!(p.admin_handles.is_empty() && p.trusted_country_header.is_none());
        assert_eq!(p.minor_feed_minutes, 60);
        assert_eq!(p.minor_quiet_hours, ("22:00".into(), "07:00".into()));
        assert_eq!(p.rate, RateLimits::default());
    }

    #[test]
    fn parses_every_variable() {
        let p = AccessPolicy::from_vars(&PolicyVars {
            invites_per_member: "2".into(),
            admin_handles: " @Root_Ops, mia ".into(),
            signup_countries: "us, mx".into(),
            trusted_country_header: "CloudFront-Viewer-Country".into(),
            minor_feed_minutes: "45".into(),
            minor_quiet_hours: "21:30-06:00".into(),
            auth_rate_limits: "window=60, login_handle=3".into(),
        })
        .unwrap();
        assert_eq!(p.invites_per_member, 2);
        assert!(p.is_admin("ROOT_OPS") && p.is_admin("mia") && !p.is_admin("ana"));
        assert_eq!(p.signup_countries, ["US", "MX"]);
        assert_eq!(
            p.trusted_country_header.as_deref(),
            Some("cloudfront-viewer-country")
        );
        assert_eq!(p.minor_feed_minutes, 45);
        assert_eq!((p.rate.window_secs, p.rate.login_per_handle), (60, 3));
        assert_eq!(p.rate.signup_per_address, 100);
    }

    #[test]
    fn refuses_unusable_values() {
        let cases = [
            PolicyVars {
                invites_per_member: "many".into(),
                ..Default::default()
            },
            PolicyVars {
                signup_countries: "USA".into(),
                ..Default::default()
            },
            PolicyVars {
                minor_quiet_hours: "25:00-07:00".into(),
                ..Default::default()
            },
            PolicyVars {
                auth_rate_limits: "login_handle=0".into(),
                ..Default::default()
            },
            PolicyVars {
                auth_rate_limits: "burst=3".into(),
                ..Default::default()
            },
        ];
        for vars in cases {
            assert!(AccessPolicy::from_vars(&vars).is_err(), "{vars:?}");
        }
    }
}
