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
}
