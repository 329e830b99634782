//! The daily feed-time budget of an under-18: watch time their app reports
//! through viewing events counts against `feed_minutes_per_day` (60 by
//! default) per UTC day, and once it is spent the feeds answer 429
//! `feed_time_limit` until midnight UTC. Adults have no budget and pay no
//! extra read or write for it.

use crate::accounts::protections;
use crate::env::Env;
use crate::error::ApiError;
use crate::keys;
use crate::store::{Store, decode_counter};
use crate::time::rfc3339_from_ms;

const DAY_MS: u64 = 24 * 60 * 60 * 1000;

/// `YYYY-MM-DD` (UTC) of `now_ms`.
fn day(now_ms: u64) -> String {
    rfc3339_from_ms(now_ms)[..10].to_owned()
}

/// Counts `watch_ms` of `viewer`'s viewing today, if they have a budget.
pub async fn spend<S: Store>(
    store: &S,
    env: &dyn Env,
    viewer: &str,
    watch_ms: u64,
) -> Result<(), ApiError> {
    if watch_ms == 0 || protections(store, env, viewer).await?.is_none() {
        return Ok(());
    }
    let delta = i64::try_from(watch_ms).unwrap_or(i64::MAX);
    store
        .increment(&keys::feed_time(viewer, &day(env.now_ms())), delta)
        .await?;
    Ok(())
}

/// 429 `feed_time_limit` when `viewer` has a budget and spent it today.
pub async fn check<S: Store>(store: &S, env: &dyn Env, viewer: &str) -> Result<(), ApiError> {
    let Some(limits) = protections(store, env, viewer).await? else {
        return Ok(());
    };
    let now = env.now_ms();
    let spent = match store.get(&keys::feed_time(viewer, &day(now))).await? {
        Some(bytes) => decode_counter(&bytes)?.max(0) as u64,
        None => 0,
    };
    let allowed = u64::from(limits.feed_minutes_per_day) * 60_000;
    if spent < allowed {
        return Ok(());
    }
    let reopens = rfc3339_from_ms((now / DAY_MS + 1) * DAY_MS);
    Err(ApiError::new(
        429,
        "feed_time_limit",
        format!(
            "today's {} minutes of feed are used up; the feed opens again at {reopens}",
            limits.feed_minutes_per_day
        ),
    ))
}
