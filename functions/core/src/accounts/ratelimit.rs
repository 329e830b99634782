//! Fixed-window attempt counters for log-in and sign-up, per handle and per
//! client address. One atomic increment per check: no read-modify-write.

use crate::accounts::policy::RateLimits;
use crate::env::Env;
use crate::error::ApiError;
use crate::keys;
use crate::store::Store;

/// What is being attempted, and by which subject it is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// A log-in, counted per handle.
    LoginHandle,
    /// A log-in, counted per client address.
    LoginAddress,
    /// A sign-up, counted per handle.
    SignupHandle,
    /// A sign-up, counted per client address.
    SignupAddress,
}

impl Action {
    fn name(self) -> &'static str {
        match self {
            Action::LoginHandle => "login_handle",
            Action::LoginAddress => "login_addr",
            Action::SignupHandle => "signup_handle",
            Action::SignupAddress => "signup_addr",
        }
    }

    fn limit(self, limits: &RateLimits) -> u64 {
        match self {
            Action::LoginHandle => limits.login_per_handle,
            Action::LoginAddress => limits.login_per_address,
            Action::SignupHandle => limits.signup_per_handle,
            Action::SignupAddress => limits.signup_per_address,
        }
    }
}

/// Seconds until the current window ends: the `Retry-After` of a 429.
pub fn retry_after_secs(env: &dyn Env, limits: &RateLimits) -> u64 {
    let now = env.now_ms() / 1000;
    let window = limits.window_secs.max(1);
    (now / window + 1) * window - now
}

/// 429 `rate_limited`.
pub fn rate_limited(retry_after: u64) -> ApiError {
    ApiError::new(
        429,
        "rate_limited",
        format!("too many attempts; try again in {retry_after} seconds"),
    )
}

/// Counts one attempt of `action` by `subject`; 429 once the window's limit is passed.
pub async fn hit<S: Store>(
    store: &S,
    env: &dyn Env,
    limits: &RateLimits,
    action: Action,
    subject: &str,
) -> Result<(), ApiError> {
    let window = env.now_ms() / 1000 / limits.window_secs.max(1);
    let count = store
        .increment(&keys::rate(action.name(), subject, window), 1)
        .await?;
    if count > 0 && count as u64 > action.limit(limits) {
        return Err(rate_limited(retry_after_secs(env, limits)));
    }
    Ok(())
}

/// Counts an attempt against the handle and, when known, the address.
pub async fn hit_both<S: Store>(
    store: &S,
    env: &dyn Env,
    limits: &RateLimits,
    (by_handle, by_address): (Action, Action),
    handle: &str,
    address: Option<&str>,
) -> Result<(), ApiError> {
    if let Some(address) = address.filter(|a| !a.is_empty()) {
        hit(store, env, limits, by_address, address).await?;
    }
    hit(store, env, limits, by_handle, handle).await
}

/// Per-member limit on write requests (POST, PUT, PATCH, DELETE), counted
/// per route family in fixed windows: one atomic increment per write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteLimit {
    /// Writes one member may make to one route family per window; 0 = no limit.
    pub per_window: u64,
    /// Window length in seconds.
    pub window_secs: u64,
}

impl Default for WriteLimit {
    /// 300 writes a minute per family: far above a person tapping, far below a script.
    fn default() -> Self {
        Self {
            per_window: 300,
            window_secs: 60,
        }
    }
}

impl WriteLimit {
    /// Parses the `write_rate_limit` variable, `{count}/{seconds}` (`0` turns
    /// the limit off); empty = the default.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(Self::default());
        }
        if text == "0" {
            return Ok(Self {
                per_window: 0,
                ..Self::default()
            });
        }
        let bad = || format!("write_rate_limit = {text:?}: expected COUNT/SECONDS, e.g. 300/60");
        let (count, secs) = text.split_once('/').ok_or_else(bad)?;
        let per_window = count.trim().parse().map_err(|_| bad())?;
        let window_secs: u64 = secs.trim().parse().map_err(|_| bad())?;
        if window_secs == 0 || window_secs > 86_400 {
            return Err(bad());
        }
        Ok(Self {
            per_window,
            window_secs,
        })
    }

    /// Seconds until the current window ends.
    pub fn retry_after_secs(&self, env: &dyn Env) -> u64 {
        let now = env.now_ms() / 1000;
        (now / self.window_secs + 1) * self.window_secs - now
    }
}

/// The family a write path counts under: the collection and, for
/// `/v1/{collection}/{id}/{action}...`, the action, so liking and commenting
/// on videos have separate budgets while every video shares one.
pub fn write_family(path: &str) -> String {
    let segments: Vec<&str> = path
        .trim_start_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let pick = |i: usize| segments.get(i).copied().unwrap_or("");
    let family = match pick(3) {
        "" => pick(1).to_owned(),
        action => format!("{}.{action}", pick(1)),
    };
    // Only route words reach a key: anything odd collapses to one bucket.
    if family
        .chars()
        .all(|c| c.is_ascii_lowercase() || c == '-' || c == '.')
    {
        family
    } else {
        "other".to_owned()
    }
}

/// Counts one write by `member_id` to `family`; 429 `rate_limited` once the
/// window's budget is spent.
pub async fn hit_write<S: Store>(
    store: &S,
    env: &dyn Env,
    limit: &WriteLimit,
    member_id: &str,
    family: &str,
) -> Result<(), ApiError> {
    if limit.per_window == 0 {
        return Ok(());
    }
    let window = env.now_ms() / 1000 / limit.window_secs;
    let subject = format!("{member_id}:{family}");
    let count = store
        .increment(&keys::rate("write", &subject, window), 1)
        .await?;
    if count > 0 && count as u64 > limit.per_window {
        return Err(rate_limited(limit.retry_after_secs(env)));
    }
    Ok(())
}

/// The seconds a 429 from [`rate_limited`] asks the client to wait, read
/// back from its message, for the `Retry-After` header.
pub fn retry_after_of(e: &ApiError) -> Option<u64> {
    if e.status != 429 {
        return None;
    }
    let rest = e.message.split("try again in ").nth(1)?;
    rest.split(' ').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;
    use crate::testing::{FixedEnv, block_on};

    #[test]
    fn a_window_admits_its_limit_then_refuses_until_it_ends() {
        let (store, env) = (MemoryStore::new(), FixedEnv::new(1_000_000_000, 1));
        let limits = RateLimits {
            window_secs: 60,
            login_per_handle: 3,
            ..RateLimits::default()
        };
        for _ in 0..3 {
            block_on(hit(&store, &env, &limits, Action::LoginHandle, "ana")).unwrap();
        }
        let e = block_on(hit(&store, &env, &limits, Action::LoginHandle, "ana")).unwrap_err();
        assert_eq!((e.status, e.code), (429, "rate_limited"));
        assert_eq!(retry_after_secs(&env, &limits), 20);
        // Others are not affected; the next window starts afresh.
        block_on(hit(&store, &env, &limits, Action::LoginHandle, "bo")).unwrap();
        env.advance_ms(20_000);
        block_on(hit(&store, &env, &limits, Action::LoginHandle, "ana")).unwrap();
    }

    #[test]
    fn addresses_count_separately_and_only_when_known() {
        let (store, env) = (MemoryStore::new(), FixedEnv::default());
        let limits = RateLimits {
            signup_per_address: 2,
            ..RateLimits::default()
        };
        let pair = (Action::SignupHandle, Action::SignupAddress);
        for h in ["a1", "a2"] {
            block_on(hit_both(&store, &env, &limits, pair, h, Some("10.0.0.1"))).unwrap();
        }
        let e = block_on(hit_both(
            &store,
            &env,
            &limits,
            pair,
            "a3",
            Some("10.0.0.1"),
        ));
        assert_eq!(e.unwrap_err().code, "rate_limited");
        block_on(hit_both(
            &store,
            &env,
            &limits,
            pair,
            "a3",
            Some("10.0.0.2"),
        ))
        .unwrap();
        block_on(hit_both(&store, &env, &limits, pair, "a4", None)).unwrap();
    }

    #[test]
    fn writes_are_counted_per_member_and_family_until_the_window_ends() {
        let (store, env) = (MemoryStore::new(), FixedEnv::new(1_000_000_000, 1));
        let limit = WriteLimit::parse("2/10").unwrap();
        let like = write_family("/v1/videos/01ABC/like");
        assert_eq!(like, "videos.like");
        for _ in 0..2 {
            block_on(hit_write(&store, &env, &limit, "u1", &like)).unwrap();
        }
        let e = block_on(hit_write(&store, &env, &limit, "u1", &like)).unwrap_err();
        assert_eq!((e.status, e.code), (429, "rate_limited"));
        assert_eq!(retry_after_of(&e), Some(limit.retry_after_secs(&env)));
        // Another family or member has its own budget; a new window starts afresh.
        let comment = write_family("/v1/videos/01ABC/comments");
        block_on(hit_write(&store, &env, &limit, "u1", &comment)).unwrap();
        block_on(hit_write(&store, &env, &limit, "u2", &like)).unwrap();
        env.advance_ms(limit.retry_after_secs(&env) * 1000);
        block_on(hit_write(&store, &env, &limit, "u1", &like)).unwrap();
    }

    #[test]
    fn write_limits_parse_and_families_stay_route_words() {
        assert_eq!(WriteLimit::parse("").unwrap(), WriteLimit::default());
        assert_eq!(WriteLimit::parse("0").unwrap().per_window, 0);
        assert_eq!(
            WriteLimit::parse(" 5 / 2 ").unwrap(),
            WriteLimit {
                per_window: 5,
                window_secs: 2
            }
        );
        for bad in ["5", "a/2", "5/0", "5/x", "-1/2"] {
            assert!(WriteLimit::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(write_family("/v1/events"), "events");
        assert_eq!(write_family("/v1/users/ana/follow"), "users.follow");
        assert_eq!(write_family("/v1/users/A:B/x:y"), "other");
        let off = WriteLimit::parse("0").unwrap();
        let (store, env) = (MemoryStore::new(), FixedEnv::default());
        for _ in 0..1000 {
            block_on(hit_write(&store, &env, &off, "u", "events")).unwrap();
        }
    }
}
